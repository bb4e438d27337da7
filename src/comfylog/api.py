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

if TYPE_CHECKING:
    from .fleet import FleetSummary


def analyze(logs: str | PathLike[str] | Sequence[str | PathLike[str]], jobs: int = 1) -> Report:
    """Analyse one log path, several paths (read in order as one report), or ``-`` for stdin.

    ``jobs`` > 1 scans big inputs (16 MB and more) in that many worker processes; same report.
    """
    if isinstance(logs, str) and "\n" in logs:
        raise ValueError("analyze() takes paths; to analyse log text use comfylog.analyze_text(text)")
    paths = [str(logs)] if isinstance(logs, (str, PathLike)) else [str(p) for p in logs]
    report = analyze_paths(paths, jobs)
    report.findings = diagnose(report, reread=True)
    return report


def analyze_text(text: str, name: str = "<text>") -> Report:
    """Analyse a log given as a string (tests, notebooks, pasted logs), findings included."""
    report = _analyze_text(text, name)
    report.findings = diagnose(report)
    return report


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
