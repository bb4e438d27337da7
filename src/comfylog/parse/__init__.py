"""Lines -> events: the message table (messages.toml, read by table.py), tqdm progress states
(progress.py), tracebacks (traceback.py), and the streaming parser that combines them (parser.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .parser import Item, Parser, parse

__all__ = ["Item", "Parser", "parse"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        # loaded on first use: a log the native scanner reads never needs the Python parser (~5 ms of a start-up)
        from . import parser

        return getattr(parser, name)
    raise AttributeError(f"module 'comfylog.parse' has no attribute {name!r}")
