"""Bytes -> clean, numbered text lines: files, stdin and .gz (streams.py), decoding and cleaning
(clean.py), markdown fences (markdown.py), line prefixes -> timestamps (prefixes.py), and the
redaction rules applied as text enters (redact.py; copy.py writes redacted copies)."""

from .lines import lines_at, read_lines, read_text
from .source import RawLine, Source, UnusableInput

__all__ = ["RawLine", "Source", "UnusableInput", "lines_at", "read_lines", "read_text"]
