"""The Python API: ``comfylog.analyze(path_or_paths)`` -> Report.

Paths and text are never guessed apart: ``analyze`` takes paths, ``analyze_text`` takes the log
itself. ``analyze_fleet`` summarises many logs, each on its own; ``log_tables`` is the pure
per-file step behind ``comfylog export`` (a map step for Dask or Spark).
"""

from __future__ import annotations

from collections.abc import Sequence
from os import PathLike
from typing import TYPE_CHECKING, Any

from .analyze import analyze_paths
from .analyze import analyze_text as _analyze_text
from .diagnose import diagnose
from .model import Report
from .redact import Redactor

if TYPE_CHECKING:
    from .fleet import FleetSummary


def analyze(
    logs: str | PathLike[str] | Sequence[str | PathLike[str]], jobs: int = 1, redact: bool | Redactor = False
) -> Report:
    """Analyse one log path, several paths (read in order as one report), or ``-`` for stdin.

    ``jobs`` > 1 scans big inputs (16 MB and more) in that many worker processes; same report.
    ``redact`` (True, or a ``comfylog.redact.Redactor``) takes secrets, e-mail addresses and user
    names out of every text of the report as the log is read; the numbers stay the same.
    """
    if isinstance(logs, str) and "\n" in logs:
        raise ValueError("analyze() takes paths; to analyse log text use comfylog.analyze_text(text)")
    paths = [str(logs)] if isinstance(logs, (str, PathLike)) else [str(p) for p in logs]
    redactor = _redactor(redact)
    report = analyze_paths(paths, jobs, redactor)
    report.findings = diagnose(report, reread=True, paths=paths, redactor=redactor)
    return report


def analyze_text(text: str, name: str = "<text>", redact: bool | Redactor = False) -> Report:
    """Analyse a log given as a string (tests, notebooks, pasted logs), findings included."""
    report = _analyze_text(text, name, _redactor(redact))
    report.findings = diagnose(report)
    return report


def _redactor(redact: bool | Redactor) -> Redactor | None:
    if isinstance(redact, Redactor):
        return redact
    return Redactor() if redact else None


def analyze_fleet(
    inputs: str | PathLike[str] | Sequence[str | PathLike[str]], workers: int = 2
) -> FleetSummary:
    """Analyse every log under ``inputs`` (files, directories, globs) on its own, ``workers`` at a time."""
    from .fleet import analyze_fleet as run_fleet

    return run_fleet([inputs] if isinstance(inputs, (str, PathLike)) else inputs, workers)


def log_tables(path: str) -> dict[str, list[dict[str, Any]]]:
    """One log analysed on its own, as the flat export tables (rows with ``source`` = ``path``)."""
    from .render.tables import log_tables as tables_of

    return tables_of(path)


__all__ = ["analyze", "analyze_text", "analyze_fleet", "log_tables", "Report"]
