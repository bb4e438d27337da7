"""Events -> runs, prompts and phases: the segmenter (segmenter.py) and the attribution of every
second of a prompt to one phase (phases.py)."""

from .segmenter import Segmenter

__all__ = ["Segmenter"]
