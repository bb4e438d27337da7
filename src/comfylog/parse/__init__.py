"""Lines -> events: the message table (messages.toml, read by table.py), tqdm progress states
(progress.py), tracebacks (traceback.py), and the streaming parser that combines them (parser.py)."""

from .parser import Item, Parser, parse

__all__ = ["Item", "Parser", "parse"]
