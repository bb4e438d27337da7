"""comfylog: where the time went in a ComfyUI run, and why it died.

    >>> import comfylog
    >>> report = comfylog.analyze("comfyui.log")
    >>> report.prompts[0].phases.load
    >>> comfylog.to_frames(report)["prompts"]  # pandas, imported only here
    >>> comfylog.analyze_fleet("workers/")      # many logs, each on its own

The names are loaded on first use: importing one part of comfylog (the reader, a renderer) does
not load the rest.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .version import __version__

__all__ = ["analyze", "analyze_text", "analyze_fleet", "log_tables", "to_frames", "Report", "__version__"]

if TYPE_CHECKING:
    from .api import analyze, analyze_fleet, analyze_text, log_tables, to_frames
    from .model import Report


def __getattr__(name: str) -> Any:
    if name == "Report":
        from .model import Report

        return Report
    if name in __all__:
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'comfylog' has no attribute {name!r}")
