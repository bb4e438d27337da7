"""The Python API: ``comfylog.analyze(path_or_paths)`` -> Report.

Paths and text are never guessed apart: ``analyze`` takes paths, ``analyze_text`` takes the log
itself. ``analyze_fleet`` summarises many logs, each on its own; ``log_tables`` is the pure
per-file step behind ``comfylog export`` (a map step for Dask or Spark), and ``to_frames`` gives
one report's tables as pandas DataFrames.
"""

from __future__ import annotations

from collections.abc import Sequence
from os import PathLike
from typing import TYPE_CHECKING, Any

from .model import Report
from .pipeline import Progress, analyze_paths
from .pipeline import analyze_text as _analyze_text

if TYPE_CHECKING:
    import pandas as pd

    from .export import log_tables
    from .fleet import FleetSummary
    from .read.redact import Redactor


def analyze(
    logs: str | PathLike[str] | Sequence[str | PathLike[str]], redact: bool | Redactor = False,
    progress: Progress | None = None, json_rows: bool = False,
) -> Report:
    """Analyse one log path, several paths (read in order as one report), or ``-`` for stdin.

    ``redact`` (True, or a ``comfylog.read.redact.Redactor``) takes secrets, e-mail addresses and user
    names out of every text of the report as the log is read; the numbers stay the same. ``progress``,
    if given, is called as ``progress(what, done, total)`` while the work goes on. ``json_rows``: the
    report will be written as JSON (render.json), which is then faster on a long log.
    """
    if isinstance(logs, str) and "\n" in logs:
        raise ValueError("analyze() takes paths; to analyse log text use comfylog.analyze_text(text)")
    paths = [str(logs)] if isinstance(logs, (str, PathLike)) else [str(p) for p in logs]
    return analyze_paths(paths, _redactor(redact), progress, json_rows=json_rows)


def analyze_text(text: str, name: str = "<text>", redact: bool | Redactor = False) -> Report:
    """Analyse a log given as a string (tests, notebooks, pasted logs), findings included."""
    return _analyze_text(text, name, _redactor(redact))


def _redactor(redact: bool | Redactor) -> Redactor | None:
    if redact is False:
        return None
    from .read.redact import Redactor  # here: a run without redaction never imports its rules

    if isinstance(redact, Redactor):
        return redact
    return Redactor() if redact else None


def analyze_fleet(
    inputs: str | PathLike[str] | Sequence[str | PathLike[str]], workers: int = 2
) -> FleetSummary:
    """Analyse every log under ``inputs`` (files, directories, globs) on its own, ``workers`` at a time."""
    from .fleet import analyze_fleet as run_fleet

    return run_fleet([inputs] if isinstance(inputs, (str, PathLike)) else inputs, workers)


def to_frames(report: Report) -> dict[str, pd.DataFrame]:
    """The JSON tables of ``report`` as pandas DataFrames (pandas is imported only here)."""
    from .export import report_frames

    return report_frames(report)


def __getattr__(name: str) -> Any:
    """``log_tables`` from export.py, imported when asked for: an analysis needs none of export.py (nor its
    csv module)."""
    if name == "log_tables":
        from .export import log_tables

        return log_tables
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["analyze", "analyze_text", "analyze_fleet", "log_tables", "to_frames", "Report"]
