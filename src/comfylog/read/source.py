"""What every reader shares: one input (``Source``), its lines (``RawLine``), and the one error
that says an input cannot be a log (``UnusableInput``)."""

from __future__ import annotations

from collections import Counter
from dataclasses import field
from typing import TYPE_CHECKING

from ..dataclass import dataclass

if TYPE_CHECKING:  # a run without redaction never imports redact.py's rules
    from .redact import Redactor


class UnusableInput(Exception):
    """The input cannot be read as a log at all (missing, a directory, binary...).

    The message is one line meant for the user; the CLI prints it and exits with status 2.
    """


@dataclass(slots=True)
class RawLine:
    """One physical line of the input, decoded and cleaned, with its 1-based line number."""

    number: int
    text: str


@dataclass
class Source:
    """One input and what reading it cost: replaced bytes, skipped lines, markdown facts."""

    name: str
    replaced_bytes: int = 0
    skipped_lines: int = 0
    truncated_lines: int = 0
    repaired_mojibake: int = 0
    total_lines: int = 0
    markdown: bool = False
    #: A RunPod console copy written newest row first: read in time order, lines numbered that way.
    newest_first: bool = False
    #: docker compose output (``comfyui  | `` before every line, prefixes.compose_prefixed): the reader
    #: takes the prefix off each line after cleaning it (the native scanner, told so, does the same).
    compose_prefixed: bool = False
    #: Fields of a "ComfyUI Error Report" header (``exception_type``, ``node_type``, ``device``...),
    #: each a (line number, value) pair.
    report_fields: dict[str, tuple[int, str]] = field(default_factory=dict)
    #: Bytes of the input never read: the compressed rest of a .gz past the decompression cap or
    #: after damage (GzipStream).
    dropped_bytes: int = 0
    #: Why reading stopped early (a .gz cut short, damaged, or past the cap); None if it did not.
    stopped: str | None = None
    #: Applied to every line (and the name) as it is read, so nothing downstream sees a secret.
    redactor: Redactor | None = None
    #: Replacements made by ``redactor``, by kind.
    redactions: Counter[str] = field(default_factory=Counter)



def new_source(name: str, redactor: Redactor | None = None) -> Source:
    """The Source record of an input called ``name``; with a ``redactor``, its name is redacted too."""
    if redactor is None:
        return Source(name=name)
    redactions: Counter[str] = Counter()
    return Source(name=redactor.redact(name, redactions), redactor=redactor, redactions=redactions)
