"""comfylog: where the time went in a ComfyUI run, and why it died.

    >>> import comfylog
    >>> report = comfylog.analyze("comfyui.log")
    >>> report.prompts[0].phases.load
"""

from .api import analyze, analyze_text
from .model import Report

__version__ = "0.1.0"
__all__ = ["analyze", "analyze_text", "Report", "__version__"]
