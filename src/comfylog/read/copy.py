"""``comfylog redact``: a copy of a log with its secrets taken out and every other byte as it was."""

from __future__ import annotations

import zlib
from collections import Counter
from typing import BinaryIO

from .redact import Redactor
from .source import UnusableInput
from .streams import looks_binary, open_binary

#: Bytes read at a time; a line longer than PIECE_BYTES is cut at a space, tab or CR to bound memory
#: (a secret never holds one, so none is split).
READ_BYTES = 1 << 20
PIECE_BYTES = 4 << 20


def open_log_bytes(path: str) -> tuple[BinaryIO, bytes, str]:
    """Open ``path`` (``-``: stdin; .gz decompressed with the usual bounds) for a redacted copy.

    Returns the stream, its first chunk and the input's name. Raises sources.UnusableInput for a
    missing file, a directory or binary data, before anything is written.
    """
    stream, name = open_binary(path)
    try:
        first = stream.read(READ_BYTES)
    except (OSError, EOFError, zlib.error) as exc:
        stream.close()
        raise UnusableInput(f"{name}: cannot read ({exc})") from None
    if looks_binary(first):
        stream.close()
        raise UnusableInput(f"{name}: looks like a binary file, not a text log")
    return stream, first, name


def copy_redacted(stream: BinaryIO, first: bytes, out: BinaryIO, redactor: Redactor, counts: Counter[str]) -> None:
    """Write ``first`` and the rest of ``stream`` to ``out``, redacted, every other byte unchanged.

    Invalid UTF-8 survives as it was (decoded and encoded with surrogateescape), and so do line
    endings, ANSI codes and NUL bytes. A read that fails midway (a damaged .gz) ends the copy.
    """
    carry = b""
    chunk = first
    while chunk:
        data = carry + chunk
        cut = data.rfind(b"\n") + 1
        if cut == 0 and len(data) > PIECE_BYTES:
            cut = max(data.rfind(b" "), data.rfind(b"\t"), data.rfind(b"\r")) + 1 or len(data)
        out.write(_redact_bytes(data[:cut], redactor, counts))
        carry = data[cut:]
        try:
            chunk = stream.read(READ_BYTES)
        except (OSError, EOFError, zlib.error):
            chunk = b""
    if carry:
        out.write(_redact_bytes(carry, redactor, counts))


def _redact_bytes(data: bytes, redactor: Redactor, counts: Counter[str]) -> bytes:
    text = data.decode("utf-8", errors="surrogateescape")
    return redactor.redact(text, counts).encode("utf-8", errors="surrogateescape")
