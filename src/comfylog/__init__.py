"""comfylog: where the time went in a ComfyUI run, and why it died.

    >>> import comfylog
    >>> report = comfylog.analyze("comfyui.log")
    >>> report.prompts[0].phases.load
    >>> comfylog.to_frames(report)["prompts"]  # pandas, imported only here
    >>> comfylog.analyze_fleet("workers/")      # many logs, each on its own
"""

from .api import analyze, analyze_fleet, analyze_text, log_tables, to_frames
from .model import Report

__version__ = "0.1.0"
__all__ = ["analyze", "analyze_text", "analyze_fleet", "log_tables", "to_frames", "Report", "__version__"]
