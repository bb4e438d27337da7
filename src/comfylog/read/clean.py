"""Text out of bytes, one line at a time: UTF-8 that never fails (bad bytes replaced and counted), ANSI
colour codes and NULs removed, tqdm blocks mangled by cp1252 (``â–ˆ``) or cp437 (``Γûê``) repaired, over-long lines cut,
secrets redacted. The one decode step every reader (and a native scanner's differential test) uses."""

from __future__ import annotations

import re

from ..lazyre import lazy_re
from .source import RawLine, Source
from .streams import MAX_LINE_CHARS

ANSI_RE = lazy_re(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")
#: Windows' console without VT processing draws ESC as ``←`` (code page 437's glyph for 0x1B), and a copy of the
#: window keeps the arrow: ``←[32m[INFO]←[0m got prompt`` (Comfy-Org/ComfyUI #14618, a portable build's console).
#: Only colour codes (SGR, ``m``): the ones ComfyUI's log tags carry.
ARROW_SGR = "\u2190["
ARROW_SGR_RE = lazy_re(r"\u2190\[[0-9;]*m")


def _cp1252_mojibake(ch: str) -> str:
    """How ``ch`` looks after its UTF-8 bytes were decoded as cp1252 (undefined bytes kept as-is)."""
    out = []
    for b in ch.encode("utf-8"):
        try:
            out.append(bytes([b]).decode("cp1252"))
        except UnicodeDecodeError:
            out.append(chr(b))
    return "".join(out)


# Only the block elements tqdm draws: their mojibake ("â–ˆ") can never be meant literally. The same bytes read as
# code page 437 ("Γûê" for "█"): a Windows program reading a child's output with the console's OEM code page, as
# .NET's Process does by default (SwarmUI's log of ComfyUI-Zluda's bars, patientx/ComfyUI-Zluda #39).
MOJIBAKE_REPAIRS = {_cp1252_mojibake(chr(c)): chr(c) for c in range(0x2580, 0x25A0)} | {
    chr(c).encode("utf-8").decode("cp437"): chr(c) for c in range(0x2580, 0x25A0)
}
#: Every cp437 mojibake of a block element starts with these two characters (UTF-8's E2 96).
CP437_BLOCK = "\u0393\u00fb"
MOJIBAKE_RE = lazy_re("|".join(re.escape(k) for k in sorted(MOJIBAKE_REPAIRS, key=len, reverse=True)))
#: A byte that is no UTF-8, as ``surrogateescape`` decodes it: each becomes U+FFFD, counted.
ESCAPED_BYTE_RE = lazy_re("[\udc80-\udcff]")


def clean_text(text: str, source: Source) -> str:
    """Remove ANSI codes and NULs, repair tqdm mojibake; cheap when there is nothing to do."""
    if "\x1b" in text:
        text = ANSI_RE.sub("", text)
    if ARROW_SGR in text:
        text = ARROW_SGR_RE.sub("", text)
    if "\x00" in text:
        text = text.replace("\x00", "")
    if "â–" in text or CP437_BLOCK in text:
        text, n = MOJIBAKE_RE.subn(lambda m: MOJIBAKE_REPAIRS[m.group(0)], text)
        source.repaired_mojibake += n
    if source.redactor is not None:
        text = source.redactor.redact(text, source.redactions)
    return text



def decode(chunk: bytes, source: Source) -> str:
    """UTF-8 text of ``chunk`` (whole lines); invalid bytes become U+FFFD and are counted on ``source``."""
    try:
        return chunk.decode("utf-8")
    except UnicodeDecodeError:
        text, bad = ESCAPED_BYTE_RE.subn("\ufffd", chunk.decode("utf-8", errors="surrogateescape"))
        source.replaced_bytes += bad
        return text


def finish_line(number: int, text: str, src: Source) -> RawLine:
    """Line ``number`` as the parser sees it: line ending dropped, cut to MAX_LINE_CHARS, cleaned."""
    src.total_lines = number
    if text.endswith("\r"):
        text = text[:-1]
    if len(text) > MAX_LINE_CHARS and "\x00" in text:
        text = text.replace("\x00", "")  # NUL padding (a file's tail after a crash) is no text to cut
    if len(text) > MAX_LINE_CHARS:
        text = text[:MAX_LINE_CHARS]
        src.truncated_lines += 1
    return RawLine(number, clean_text(text, src))

