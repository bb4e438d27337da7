"""Open log inputs and turn their bytes into clean text lines.

Everything that is about bytes and characters lives here, so the parser only ever sees text:
files, ``-``/stdin and ``.gz``; UTF-8 with a fallback that never fails (invalid bytes are replaced
and counted); CRLF and LF (bare CRs inside a line are kept: they separate tqdm states); ANSI colour
codes removed; tqdm blocks that went through cp1252 (``â–ˆ``) repaired; and markdown (issue
bodies, "ComfyUI Error Report") reduced to the log in its fenced blocks plus the report's header
fields.

Input is read in chunks cut at newline bytes, so memory stays bounded whatever the file size.
"""

from __future__ import annotations

import gzip
import io
import os
import re
import stat
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

CHUNK_BYTES = 1 << 20
#: Lines longer than this are cut; the cut is counted in ``Source.truncated_lines``.
MAX_LINE_CHARS = 1 << 20
#: Share of control bytes in the first chunk above which an input is called binary.
BINARY_CONTROL_SHARE = 0.10

GZIP_MAGIC = b"\x1f\x8b"


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
    #: Fields of a "ComfyUI Error Report" header (``exception_type``, ``node_type``, ``device``...),
    #: each a (line number, value) pair.
    report_fields: dict[str, tuple[int, str]] = field(default_factory=dict)


ANSI_RE = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")
FENCE_RE = re.compile(r"^\s{0,3}(`{3,}|~{3,})")


def _cp1252_mojibake(ch: str) -> str:
    """How ``ch`` looks after its UTF-8 bytes were decoded as cp1252 (undefined bytes kept as-is)."""
    out = []
    for b in ch.encode("utf-8"):
        try:
            out.append(bytes([b]).decode("cp1252"))
        except UnicodeDecodeError:
            out.append(chr(b))
    return "".join(out)


# Only the block elements tqdm draws: their mojibake ("â–ˆ") can never be meant literally.
MOJIBAKE_REPAIRS = {_cp1252_mojibake(chr(c)): chr(c) for c in range(0x2580, 0x25A0)}
MOJIBAKE_RE = re.compile("|".join(re.escape(k) for k in sorted(MOJIBAKE_REPAIRS, key=len, reverse=True)))


def clean_text(text: str, source: Source) -> str:
    """Remove ANSI codes and NULs, repair tqdm mojibake; cheap when there is nothing to do."""
    if "\x1b" in text:
        text = ANSI_RE.sub("", text)
    if "\x00" in text:
        text = text.replace("\x00", "")
    if "â–" in text:
        text, n = MOJIBAKE_RE.subn(lambda m: MOJIBAKE_REPAIRS[m.group(0)], text)
        source.repaired_mojibake += n
    return text


def _decode(chunk: bytes, source: Source) -> str:
    try:
        return chunk.decode("utf-8")
    except UnicodeDecodeError:
        text = chunk.decode("utf-8", errors="surrogateescape")
        bad = sum(1 for c in text if "\udc80" <= c <= "\udcff")
        source.replaced_bytes += bad
        return re.sub("[\udc80-\udcff]", "\ufffd", text)


def _looks_binary(head: bytes) -> bool:
    if not head:
        return False
    sample = head[:65536]
    control = sum(1 for b in sample if b < 32 and b not in (9, 10, 13, 27)) + sample.count(b"\x7f")
    return control / len(sample) > BINARY_CONTROL_SHARE


def open_binary(path: str) -> tuple[BinaryIO, str]:
    """Open ``path`` (or stdin for ``-``) for reading bytes; gzip is detected by its magic bytes."""
    if path == "-":
        raw: BinaryIO = sys.stdin.buffer
        name = "<stdin>"
    else:
        try:
            st = os.stat(path)
        except FileNotFoundError:
            raise UnusableInput(f"{path}: no such file") from None
        except OSError as exc:
            raise UnusableInput(f"{path}: cannot read ({exc.strerror})") from None
        if stat.S_ISDIR(st.st_mode):
            raise UnusableInput(f"{path}: is a directory, not a log file")
        try:
            raw = open(path, "rb")  # noqa: SIM115 - closed by the caller
        except OSError as exc:
            raise UnusableInput(f"{path}: cannot read ({exc.strerror})") from None
        name = path
    buffered: io.BufferedReader = raw if isinstance(raw, io.BufferedReader) else io.BufferedReader(raw)  # type: ignore[arg-type,type-var,unused-ignore]
    magic = buffered.peek(2)[:2]
    if magic == GZIP_MAGIC:
        return gzip.GzipFile(fileobj=buffered), name  # type: ignore[return-value]
    return buffered, name


def _physical_lines(stream: BinaryIO, source: Source) -> Iterator[tuple[int, str]]:
    """Yield (line number, decoded text without its line ending) for every line of ``stream``."""
    return lines_of_blocks(physical_blocks(stream, source), source)


def lines_of_blocks(blocks: Iterable[bytes], source: Source, number: int = 0) -> Iterator[tuple[int, str]]:
    """Decode blocks of whole lines (see physical_blocks) into numbered lines after line ``number``."""
    for block in blocks:
        text = _decode(block, source)
        lines = text.split("\n")
        if block.endswith(b"\n"):
            lines.pop()
        for line in lines:
            number += 1
            yield number, line


def physical_blocks(stream: BinaryIO, source: Source) -> Iterator[bytes]:
    """Yield ``stream`` as blocks of whole lines, each ending with a newline byte but the last.

    Cutting only at newline bytes means a block decodes the same on its own, in any process
    (parallel.py sends blocks to worker processes).
    """
    carry = b""
    first = True
    while True:
        try:
            chunk = stream.read(CHUNK_BYTES)
        except (OSError, EOFError) as exc:  # damaged gzip, closed pipe: keep what was read
            source.skipped_lines += 1 if carry else 0
            if first:
                raise UnusableInput(f"{source.name}: cannot read ({exc})") from None
            carry = b""
            chunk = b""
        if first:
            first = False
            if _looks_binary(chunk):
                raise UnusableInput(f"{source.name}: looks like a binary file, not a text log")
        if not chunk:
            break
        data = carry + chunk
        cut = data.rfind(b"\n")
        if cut < 0:
            carry = data
            if len(carry) > 4 * MAX_LINE_CHARS:
                # A line with no end in sight: keep its head, drop the rest of it.
                carry = carry[: 4 * MAX_LINE_CHARS]
            continue
        carry = data[cut + 1 :]
        yield data[: cut + 1]
    if carry:
        yield carry


def read_lines(path: str, source: Source | None = None) -> tuple[Source, Iterator[RawLine]]:
    """Open ``path`` and return its Source record and an iterator of its cleaned lines.

    Raises UnusableInput before any line is produced when the input cannot be a log.
    """
    stream, name = open_binary(path)
    src = source or Source(name=name)
    phys = _physical_lines(stream, src)
    # Read the first line now so missing/binary input fails here, not mid-analysis.
    try:
        head = next(phys)
    except StopIteration:
        head = None
    except UnusableInput:
        stream.close()
        raise
    return src, _clean_lines(head, phys, src, stream)


def read_text(text: str, name: str = "<text>") -> tuple[Source, Iterator[RawLine]]:
    """Like read_lines, for a log already in memory (tests, notebooks, pasted logs)."""
    stream = io.BytesIO(text.encode("utf-8", errors="surrogatepass"))
    src = Source(name=name)
    phys = _physical_lines(stream, src)
    head = next(phys, None)
    return src, _clean_lines(head, phys, src, stream)


def _clean_lines(
    head: tuple[int, str] | None, phys: Iterator[tuple[int, str]], src: Source, stream: BinaryIO
) -> Iterator[RawLine]:
    try:
        if head is None:
            return
        lines = _chain(head, phys)
        peeked: list[tuple[int, str]] = []
        for item in lines:
            peeked.append(item)
            if len(peeked) >= 400:
                break
        if any(FENCE_RE.match(t) for _, t in peeked):
            src.markdown = True
            yield from _markdown_lines(_chain_many(peeked, lines), src)
            return
        for number, text in _chain_many(peeked, lines):
            yield _finish(number, text, src)
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()


def _finish(number: int, text: str, src: Source) -> RawLine:
    src.total_lines = number
    if text.endswith("\r"):
        text = text[:-1]
    if len(text) > MAX_LINE_CHARS:
        text = text[:MAX_LINE_CHARS]
        src.truncated_lines += 1
    return RawLine(number, clean_text(text, src))


def _chain(head: tuple[int, str], rest: Iterator[tuple[int, str]]) -> Iterator[tuple[int, str]]:
    yield head
    yield from rest


def _chain_many(items: list[tuple[int, str]], rest: Iterator[tuple[int, str]]) -> Iterator[tuple[int, str]]:
    yield from items
    yield from rest


# "ComfyUI Error Report" header fields: ``- **Exception Type:** torch.OutOfMemoryError``.
REPORT_FIELD_RE = re.compile(r"^\s*-\s+\*\*(?P<key>[^*:]+):\*\*\s*(?P<value>.*)$")
REPORT_FIELDS = {
    "Node ID": "node_id",
    "Node Type": "node_type",
    "Exception Type": "exception_type",
    "Exception Message": "exception_message",
    "ComfyUI Version": "comfyui_version",
    "PyTorch Version": "pytorch_version",
    "Arguments": "arguments",
    "Name": "device",
    "VRAM Total": "vram_total_bytes",
}
# Fenced blocks under these headings hold no log lines (stack trace repeats the log; workflow is JSON).
NON_LOG_SECTIONS = ("stack trace", "attached workflow", "additional context", "workflow")


def _markdown_lines(lines: Iterator[tuple[int, str]], src: Source) -> Iterator[RawLine]:
    """Yield the log lines inside fenced blocks; record error-report fields; count the rest."""
    fence: str | None = None
    section = ""
    for number, raw in lines:
        text = raw[:-1] if raw.endswith("\r") else raw
        m = FENCE_RE.match(text)
        if fence is None:
            if m:
                fence = m.group(1)[0] * 3
                continue
            stripped = text.strip()
            if stripped.startswith("#"):
                section = stripped.lstrip("#").strip().lower()
            fm = REPORT_FIELD_RE.match(text)
            if fm and fm.group("key").strip() in REPORT_FIELDS:
                key = REPORT_FIELDS[fm.group("key").strip()]
                src.report_fields.setdefault(key, (number, clean_text(fm.group("value").strip(), src)))
            src.total_lines = number
            continue
        if m and text.strip().startswith(fence):
            fence = None
            continue
        if section.startswith(NON_LOG_SECTIONS):
            src.total_lines = number
            continue
        yield _finish(number, text, src)
