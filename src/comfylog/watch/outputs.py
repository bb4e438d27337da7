"""What watch feeds as it goes: the live view (a terminal), plain lines (no terminal), and the outputs
built from callbacks (JSON Lines, ``--on-finding``, metrics). At the end each gets the final report."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Protocol, TextIO

from rich.console import Console

from ..model import ErrorRecord, Finding, Report, Run
from ..model import Prompt as PromptRecord
from ..render.terminal import render_terminal
from ..text import dur
from .analysis import ErrorFinal, Happening, LiveAnalysis, PromptFinal, RunReady, RunStarted
from .live import Snapshot, finding_line, happening_line, prompt_started_line, render_live
from .server import NODES_KEPT, NodeTiming


class Output(Protocol):
    """One thing watch feeds: the live view, plain lines, JSON Lines, a command, metrics."""

    def happened(self, happening: Happening) -> None: ...

    def noticed(self, notice: str) -> None: ...

    def found(self, finding: Finding, snap: Snapshot | None) -> None: ...

    def update(self, snap: Snapshot) -> None: ...

    def finish(self, report: Report) -> None: ...


class Quiet:
    """An output that ignores everything: the base of the others."""

    def happened(self, happening: Happening) -> None:
        return

    def noticed(self, notice: str) -> None:
        return

    def found(self, finding: Finding, snap: Snapshot | None) -> None:
        return

    def update(self, snap: Snapshot) -> None:
        return

    def finish(self, report: Report) -> None:
        return


class LiveView(Quiet):
    """The rich Live view on a terminal; at the end it gives way to the report ``analyze`` prints."""

    def __init__(self, console: Console, limit: int) -> None:
        from rich.live import Live

        self.console = console
        self.limit = limit
        self._live = Live(console=console, auto_refresh=False, transient=True, redirect_stdout=False,
                          redirect_stderr=False)
        self._live.start()

    def update(self, snap: Snapshot) -> None:
        self._live.update(render_live(snap), refresh=True)

    def finish(self, report: Report) -> None:
        self.stop()
        render_terminal(report, self.console, self.limit)

    def stop(self) -> None:
        """Take the view off the screen (again: harmless)."""
        self._live.stop()


class PlainLines(Quiet):
    """One line per event that matters, for a log file or a pipe; then the report ``analyze`` prints."""

    def __init__(self, out: TextIO, console: Console, analysis: LiveAnalysis, limit: int) -> None:
        self.out = out
        self.console = console
        self.analysis = analysis
        self.limit = limit
        self._running: int | None = None
        #: A RunPod worker was seen (Report.wait_applies): from then on the lines name wait.
        self._waits = False

    def _line(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def happened(self, happening: Happening) -> None:
        if not self._waits:
            seg = self.analysis.seg
            run = seg.current_run
            self._waits = seg.summary.ws_timeouts > 0 or (run is not None and run.serverless)
        line = happening_line(happening, self._waits)
        if line is not None:
            self._line(line)

    def noticed(self, notice: str) -> None:
        self._line(notice)

    def found(self, finding: Finding, snap: Snapshot | None) -> None:
        self._line(finding_line(finding, self.analysis.now))

    def update(self, snap: Snapshot) -> None:
        prompt = snap.prompt
        if prompt is not None and prompt.index != self._running:
            self._line(prompt_started_line(prompt))
        self._running = prompt.index if prompt is not None else None

    def finish(self, report: Report) -> None:
        render_terminal(report, self.console, self.limit)


class Dispatch(Quiet):
    """Hands each kind of happening to the callback it names: outputs that care about records only."""

    def __init__(
        self, prompt: Callable[[PromptRecord], None] | None = None, restart: Callable[[Run], None] | None = None,
        ready: Callable[[Run], None] | None = None, error: Callable[[ErrorRecord], None] | None = None,
        finding: Callable[[Finding], None] | None = None, update: Callable[[Snapshot], None] | None = None,
    ) -> None:
        self._prompt, self._restart, self._ready, self._error = prompt, restart, ready, error
        self._finding, self._update = finding, update

    def happened(self, happening: Happening) -> None:
        if isinstance(happening, PromptFinal) and self._prompt:
            self._prompt(happening.prompt)
        elif isinstance(happening, RunStarted) and happening.run.restart and self._restart:
            self._restart(happening.run)
        elif isinstance(happening, RunReady) and self._ready:
            self._ready(happening.run)
        elif isinstance(happening, ErrorFinal) and self._error:
            self._error(happening.error)

    def found(self, finding: Finding, snap: Snapshot | None) -> None:
        if self._finding:
            self._finding(finding)

    def update(self, snap: Snapshot) -> None:
        if self._update:
            self._update(snap)


class NodeLines(Quiet):
    """A running ComfyUI's node timings: JSON Lines ``{"type": "node", ...}`` or plain lines as they come,
    and a table of the slowest nodes after the final report."""

    def __init__(self, take: Callable[[], list[NodeTiming]], out: TextIO, jsonl: bool, log: str, plain: bool) -> None:
        self._take = take
        self.out = out
        self.jsonl = jsonl
        self.plain = plain
        self.log = log
        self.timed: list[NodeTiming] = []

    def update(self, snap: Snapshot) -> None:
        self._drain()

    def _drain(self) -> None:
        """Write the timings that came since the last look."""
        for timing in self._take():
            self.timed.append(timing)
            if self.jsonl:
                self.out.write(json.dumps({"type": "node", "log": self.log, **timing.row()}) + "\n")
            elif self.plain:
                self.out.write(node_line(timing) + "\n")
            self.out.flush()
        del self.timed[:-NODES_KEPT]

    def finish(self, report: Report) -> None:
        self._drain()
        if self.jsonl or not self.timed:
            return
        self.out.write("Nodes timed from ComfyUI's websocket (on receipt), slowest first:\n")
        for timing in sorted(self.timed, key=lambda t: -(t.seconds or 0.0))[:20]:
            self.out.write("  " + node_line(timing) + "\n")
        self.out.flush()

def node_line(timing: NodeTiming) -> str:
    what = "cached" if timing.cached else dur(timing.seconds or 0.0)
    shown = timing.display_node or timing.node
    return f"prompt {timing.prompt_id[:8]} node {shown}: {what}"
