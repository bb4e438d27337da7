"""Log inputs as clean, numbered text lines: the one entry point of every reader.

``read_lines(path)`` opens a file, ``-`` (stdin) or a ``.gz`` (streams.py), decodes and cleans each
line (clean.py), for markdown keeps only the fenced log (markdown.py) and puts a RunPod console copy
in time order (runpod.py). ``open_input`` does the same, or, for a plain log read by the native
scanner (which decodes, cleans and redacts itself), hands over the input's blocks of whole lines
instead. ``lines_at`` reads a few lines back by number (a finding's evidence).
"""

from __future__ import annotations

import io
import itertools
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, BinaryIO

from ..dataclass import dataclass
from .clean import decode, finish_line
from .markdown import MARKDOWN_PEEK_LINES, markdown_lines, may_be_markdown, peek_markdown
from .prefixes import COMPOSE_PEEK_LINES, compose_prefixed, without_compose
from .runpod import console_lines, console_order, sse_data_lines, sse_framed
from .source import RawLine, Source, UnusableInput, new_source
from .streams import open_binary, physical_blocks

if TYPE_CHECKING:  # a run without redaction never imports redact.py's rules
    from .redact import Redactor

#: Told how many bytes of an input have been read so far (for a progress display).
OnRead = Callable[[int], None]


def _physical_lines(stream: BinaryIO, source: Source, on_read: OnRead | None = None) -> Iterator[tuple[int, str]]:
    """Yield (line number, decoded text without its line ending) for every line of ``stream``."""
    blocks = physical_blocks(stream, source)
    if on_read is not None:
        blocks = _reporting(blocks, stream, on_read)
    return lines_of_blocks(blocks, source)


def _reporting(blocks: Iterator[bytes], stream: BinaryIO, on_read: OnRead) -> Iterator[bytes]:
    """The blocks, telling ``on_read`` the input's bytes read after each: the file's position (for a
    .gz, the compressed bytes), else the bytes handed on."""
    raw = getattr(stream, "_raw", stream)  # a decoding stream (.gz, UTF-16) reads from _raw
    handed = 0
    for block in blocks:
        handed += len(block)
        try:
            on_read(raw.tell())
        except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
            on_read(handed)
        yield block


def lines_of_blocks(blocks: Iterable[bytes], source: Source, number: int = 0) -> Iterator[tuple[int, str]]:
    """Decode blocks of whole lines (see physical_blocks) into numbered lines after line ``number``."""
    for block in blocks:
        text = decode(block, source)
        lines = text.split("\n")
        if block.endswith(b"\n"):
            lines.pop()
        for line in lines:
            number += 1
            yield number, line



def read_lines(
    path: str, source: Source | None = None, redactor: Redactor | None = None, on_read: OnRead | None = None
) -> tuple[Source, Iterator[RawLine]]:
    """Open ``path`` and return its Source record and an iterator of its cleaned lines.

    With a ``redactor``, every line and the source's name come out redacted; ``on_read`` is told the
    bytes read so far as reading goes on. Raises UnusableInput before any line is produced when the
    input cannot be a log.
    """
    stream, name = open_binary(path)
    opened = _opened(stream, source or new_source(name, redactor), blocks=False, on_read=on_read)
    assert opened.lines is not None
    return opened.source, opened.lines


#: Picks numbered lines out of a block of whole lines: (block, lines before it, ascending numbers
#: wanted) -> ((number, clean text) of those in it, lines in the block). The native scanner has one.
Picker = Callable[[bytes, int, list[int]], tuple[list[tuple[int, str]], int]]


def lines_at(
    path: str, numbers: set[int], redactor: Redactor | None = None, picker: Picker | None = None,
    compose: bool | None = None,
) -> dict[int, str]:
    """The cleaned text of the physical lines ``numbers`` of the log at ``path`` (evidence read back).

    With ``picker`` (the native scanner's), a plain log has the lines before the wanted ones counted
    without being decoded; the picked lines are cleaned there and redacted here (redaction is the last
    step of cleaning), not every line before them decoded in Python (a 1 MB block of a log with emoji
    is a 4 MB string: 24 MB at the peak of reading a long log back).

    Only these lines are cleaned (and redacted): the rest are split and counted, no more, and
    reading stops after the last one wanted. Raises OSError if the file cannot be opened; a file
    that turns out damaged further on gives the lines found before the damage.

    ``compose`` is whether the lines were read as docker compose output (``Source.compose_prefixed``): the
    prefix comes off as it did then. None decides from the file's first lines, as the reader does (``watch``
    decides on the first lines it read, and its copy of them starts with blank lines where it began mid-file).
    """
    found: dict[int, str] = {}
    if not numbers:
        return found
    last = max(numbers)
    stream, name = open_binary(path)
    src = new_source(name, redactor)
    try:
        if picker is not None:
            log = _opened(stream, src, blocks=True)
            if log.blocks is not None:
                if compose is not None:
                    src.compose_prefixed = compose
                wanted = sorted(numbers)
                number = 0
                for block in log.blocks:
                    picked, count = picker(block, number, [n for n in wanted if n > number])
                    if redactor is not None:
                        picked = [(n, redactor.redact(text, src.redactions)) for n, text in picked]
                    if src.compose_prefixed:
                        picked = [(n, without_compose(text)) for n, text in picked]
                    found.update(picked)
                    number += count
                    if number >= last:
                        break
                return found
            stream.close()  # not plain: read again below, as the Python reader reads it
            stream, name = open_binary(path)
            src = new_source(name, redactor)
        phys = _physical_lines(stream, src)
        peeked, markdown = peek_markdown(phys)
        if markdown:  # a pasted report: only fenced lines are log
            for raw in _decomposed(markdown_lines(_chain_many(peeked, phys), src), src, compose):
                if raw.number in numbers:
                    found[raw.number] = raw.text
                if raw.number >= last:
                    break
            return found
        order = console_order(peeked)
        if order is not None:  # numbers count the console's lines in time order
            for raw in _decomposed(console_lines(_chain_many(peeked, phys), src, order == "newest-first"), src,
                                   compose):
                if raw.number in numbers:
                    found[raw.number] = raw.text
                    if len(found) == len(numbers):
                        break
            return found
        plain = (finish_line(number, text, src) for number, text in _chain_many(peeked, phys))
        for raw in _decomposed(plain, src, compose):
            if raw.number in numbers:
                found[raw.number] = raw.text
            if raw.number >= last:
                break
    except (OSError, UnusableInput):
        pass
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()
    return found




def read_text(
    text: str, name: str = "<text>", redactor: Redactor | None = None
) -> tuple[Source, Iterator[RawLine]]:
    """Like read_lines, for a log already in memory (tests, notebooks, pasted logs)."""
    opened = open_text(text, name, redactor)
    assert opened.lines is not None
    return opened.source, opened.lines


def _decomposed(lines: Iterator[RawLine], src: Source, compose: bool | None = None) -> Iterator[RawLine]:
    """``lines``, with docker compose's ``name  | `` taken off each when their first lines say the input
    is compose output (prefixes.compose_prefixed; ``src.compose_prefixed`` is set then), or when ``compose``
    (decided before: None decides here)."""
    head = list(itertools.islice(lines, COMPOSE_PEEK_LINES))
    if not (compose_prefixed(raw.text for raw in head) if compose is None else compose):
        yield from head
        yield from lines
        return
    src.compose_prefixed = True
    for raw in itertools.chain(head, lines):
        raw.text = without_compose(raw.text)
        yield raw


def _clean_lines(
    head: tuple[int, str] | None, phys: Iterator[tuple[int, str]], src: Source, stream: BinaryIO
) -> Iterator[RawLine]:
    return _decomposed(_read_lines(head, phys, src, stream), src)


def _read_lines(
    head: tuple[int, str] | None, phys: Iterator[tuple[int, str]], src: Source, stream: BinaryIO
) -> Iterator[RawLine]:
    try:
        if head is None:
            return
        lines = _chain(head, phys)
        peeked, markdown = peek_markdown(lines)
        if markdown:
            src.markdown = True
            yield from markdown_lines(_chain_many(peeked, lines), src)
            return
        order = console_order(peeked)
        if order is not None:
            src.newest_first = order == "newest-first"
            yield from console_lines(_chain_many(peeked, lines), src, src.newest_first)
            return
        if sse_framed(peeked):
            yield from sse_data_lines(_chain_many(peeked, lines), src)
            return
        for number, text in _chain_many(peeked, lines):
            yield finish_line(number, text, src)
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()




def _chain(head: tuple[int, str], rest: Iterator[tuple[int, str]]) -> Iterator[tuple[int, str]]:
    yield head
    yield from rest


def _chain_many(items: list[tuple[int, str]], rest: Iterator[tuple[int, str]]) -> Iterator[tuple[int, str]]:
    yield from items
    yield from rest



@dataclass
class LogInput:
    """An opened input: its Source, and its content as clean lines or as blocks of whole lines.

    Exactly one of ``lines`` and ``blocks`` is set. ``blocks`` (the bytes of whole lines, as
    streams.py cuts them: gzip and UTF-16 already undone) is given only for a plain log (not
    markdown, a RunPod console copy or a saved log stream, whose lines the Python reader picks or
    reorders), to a scanner that decodes, cleans and redacts lines itself (with the Source's
    redactor); the Source's line counters are then the scanner's to fill in.
    """

    source: Source
    lines: Iterator[RawLine] | None = None
    blocks: Iterator[bytes] | None = None
    #: Opens the input again from its start (a regular file; None for stdin or text): a reader that
    #: gives up mid-input (the native segmenter's NotPorted) starts over without keeping what it read.
    reopen: Callable[[], LogInput] | None = None


def open_input(
    path: str, redactor: Redactor | None = None, blocks: bool = False, on_read: OnRead | None = None
) -> LogInput:
    """Open ``path`` like read_lines; with ``blocks``, a plain log comes as blocks.
    Raises UnusableInput before any line is produced when the input cannot be a log."""
    stream, name = open_binary(path)
    log = _opened(stream, new_source(name, redactor), blocks, on_read)
    if path != "-" and os.path.isfile(path):
        log.reopen = lambda: open_input(path, redactor, blocks, on_read)
    return log


def open_text(text: str, name: str = "<text>", redactor: Redactor | None = None, blocks: bool = False) -> LogInput:
    """Like open_input, for a log already in memory."""
    stream = io.BytesIO(text.encode("utf-8", errors="surrogatepass"))
    return _opened(stream, new_source(name, redactor), blocks)


def _opened(stream: BinaryIO, src: Source, blocks: bool, on_read: OnRead | None = None) -> LogInput:
    raw = physical_blocks(stream, src)
    if on_read is not None:
        raw = _reporting(raw, stream, on_read)
    peeked: list[bytes] = []
    seen = 0
    try:  # the first block now: a missing or binary input fails here, not mid-analysis
        while seen < MARKDOWN_PEEK_LINES:
            block = next(raw, None)
            if block is None:
                break
            peeked.append(block)
            seen += _newlines(block, MARKDOWN_PEEK_LINES - seen)
            if not blocks:
                break
    except UnusableInput:
        stream.close()
        raise
    everything = itertools.chain(peeked, raw)
    if blocks:
        first_lines = _plain_head(peeked)
        if first_lines is not None:
            # the native scanner takes the prefix off each line itself, told so by the Source
            scratch = Source(name="", redactor=src.redactor)
            src.compose_prefixed = compose_prefixed(finish_line(n, t, scratch).text for n, t in first_lines)
            return LogInput(src, blocks=_closing(everything, stream))
    phys = lines_of_blocks(everything, src)
    head = next(phys, None)
    return LogInput(src, lines=_clean_lines(head, phys, src, stream))


#: Bytes _plain_head decodes when they hold its lines (400 lines of 160 bytes on average).
PLAIN_PEEK_BYTES = 64_000


def _newlines(block: bytes, wanted: int) -> int:
    """The newlines in ``block``, or some number of them that is at least ``wanted``: counting a whole
    block of 1 MB (CPython counts a byte at a time) to learn it holds 400 lines cost more than reading
    a small log."""
    found = block.count(b"\n", 0, PLAIN_PEEK_BYTES)
    return found if found >= wanted else block.count(b"\n")


def _plain_head(blocks: list[bytes]) -> list[tuple[int, str]] | None:
    """The first lines of ``blocks`` (numbered, decoded as the reader decodes them, nothing counted) when
    they are not markdown, a console copy or a saved log stream (the tests _read_lines makes); else None."""
    data = b"".join(blocks)
    # the first lines are all there is to test: no need to decode a whole block when its first bytes
    # hold them (a character cut at the end of those lies past the lines tested)
    for part in (data[:PLAIN_PEEK_BYTES], data) if len(data) > PLAIN_PEEK_BYTES else (data,):
        head = decode(part, Source(name="")).split("\n", MARKDOWN_PEEK_LINES)
        if len(head) > MARKDOWN_PEEK_LINES:
            break
    head = head[:MARKDOWN_PEEK_LINES]
    lines = list(enumerate(head, start=1))
    if may_be_markdown("\n".join(head)):  # most logs have no fence or quote: one search says so
        _, markdown = peek_markdown(iter(lines))
        if markdown:
            return None
    return lines if console_order(lines) is None and not sse_framed(lines) else None


def _closing(blocks: Iterator[bytes], stream: BinaryIO) -> Iterator[bytes]:
    try:
        yield from blocks
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()
