"""The Python API: ``comfylog.analyze(path_or_paths)`` -> Report."""

from __future__ import annotations

from collections.abc import Sequence
from os import PathLike

from .analyze import analyze_paths, analyze_text
from .model import Report


def analyze(logs: str | PathLike[str] | Sequence[str | PathLike[str]]) -> Report:
    """Analyse one log path, several paths (read in order as one report), or ``-`` for stdin."""
    paths = [str(logs)] if isinstance(logs, (str, PathLike)) else [str(p) for p in logs]
    return analyze_paths(paths)


__all__ = ["analyze", "analyze_text", "Report"]
