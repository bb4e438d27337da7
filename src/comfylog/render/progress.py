"""A progress line on stderr for work that lasts: only on a terminal, and only after about a second.

Short runs (the usual log) print nothing extra; a long log, a fleet or an export shows what is being
read and how far, so the terminal is never silent for minutes. The line is transient: it is gone
before the report is printed.
"""

from __future__ import annotations

import sys
import threading
from types import TracebackType
from typing import Any

#: Seconds of work before the display appears.
SHOW_AFTER_S = 1.0


class ProgressDisplay:
    """``with ProgressDisplay() as progress: work(progress=progress)``; ``progress(what, done, total)``.

    The line appears ``after`` seconds into the work (a timer, so a single long step shows too) with
    the last state it was told, and is kept up to date from then on.
    """

    def __init__(self, console: Any = None, after: float = SHOW_AFTER_S) -> None:
        """``console``: a rich Console to draw on (default: stderr, when it is a terminal)."""
        self._console = console
        self.enabled = console is not None or (sys.stderr.isatty() and not _dumb_terminal())
        self._after = after
        self._progress: Any = None
        self._task: Any = None
        self._state: tuple[str, float, float | None] = ("working", 0.0, None)
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None
        self._closed = False

    def __enter__(self) -> ProgressDisplay:
        if self.enabled:
            self._timer = threading.Timer(self._after, self._show)
            self._timer.daemon = True
            self._timer.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __call__(self, what: str, done: float, total: float | None = None) -> None:
        if not self.enabled:
            return
        with self._lock:
            self._state = (what, done, total)
            if self._progress is not None:
                self._progress.update(self._task, description=what, completed=done, total=total)

    @property
    def shown(self) -> bool:
        return self._progress is not None

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._timer is not None:
                self._timer.cancel()
            if self._progress is not None:
                self._progress.stop()
                self._progress = None

    def _show(self) -> None:
        with self._lock:
            if self._closed or self._progress is not None:
                return
            progress = self._open()
            what, done, total = self._state
            progress.update(self._task, description=what, completed=done, total=total)

    def _open(self) -> Any:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, SpinnerColumn, TaskProgressColumn, TextColumn

        console = self._console or Console(stderr=True)
        self._progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                                  TaskProgressColumn(), console=console, transient=True)
        self._task = self._progress.add_task("", total=None)
        self._progress.start()
        return self._progress


def _dumb_terminal() -> bool:
    import os

    return os.environ.get("TERM") == "dumb"
