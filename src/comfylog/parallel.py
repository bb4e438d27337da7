"""Read big logs on several cores, with results identical to reading them line by line.

The expensive part of parsing is per line and needs no state: decoding, cleaning, stripping the
prefix and looking for a message. Worker processes do that for blocks of whole lines. Most lines of
a long log turn out to say nothing comfylog counts (or only add one to a lowvram module count);
a worker sends such runs of lines back summed up (parse.QuietRun) and every other line whole. The
stateful part (progress bars, tracebacks, runs, prompts) stays in this process, in file order,
fed by the same Parser and Segmenter as the sequential path.

What keeps the results identical:

* Parser.feed_run does for a quiet run what feed does line by line (close a finished bar, start or
  extend the activity); the first line of a lowvram run is sent whole, so the parser's own code opens
  the count with its text;
* a traceback swallows following lines by their shape (indented, blank, ``Type: message``): the
  worker follows every traceback state the parser may be in (any, at a block's start; an opened
  one, after a ``Traceback`` line) by the parser's rules, and sends lines whole until none is left;
* a block with time-only prefixes is sent whole: their midnight rollover needs every line in order;
* markdown input (issue bodies) and small inputs take the sequential path.
"""

from __future__ import annotations

import os
import sys
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from typing import TYPE_CHECKING, BinaryIO

from .parse import BANNER_RULE_RE, CHAINED_RE, EXCEPTION_LINE_RE, QuietRun
from .patterns import find_message
from .prefixes import Prefixed, PrefixReader
from .redact import Redactor
from .sources import (
    FENCE_RE,
    MARKDOWN_PEEK_LINES,
    RawLine,
    Source,
    _clean_lines,
    _decode,
    _finish,
    lines_of_blocks,
    new_source,
    open_binary,
    physical_blocks,
)

#: Bytes of log per task sent to a worker. Results in flight are Python objects ~5x their bytes:
#: 1 MB tasks keep that under 30 MB with two workers (4 MB tasks held 70 MB; no faster).
JOB_BYTES = 1 << 20
#: Inputs smaller than this are read sequentially: starting workers would cost more than it saves.
MIN_PARALLEL_BYTES = 16 << 20
TRACEBACK_NEEDLE = "Traceback (most recent call last)"
LOWVRAM_PATTERN = "lowvram_module"

if TYPE_CHECKING:
    from concurrent.futures import Future, ProcessPoolExecutor

#: A line sent whole: (number, text), or with the prefix the worker read:
#: (number, text, text after the prefix, time, resolution, style).
Line = tuple[int, str] | tuple[int, str, str, datetime | None, float, str]
#: What the parser is fed: a line, a line with its prefix already read, or a quiet run.
Fed = RawLine | tuple[RawLine, Prefixed] | QuietRun


@dataclass
class BlockResult:
    """What a worker makes of one block: whole lines and quiet runs in order, and reading counts."""

    items: list[Line | QuietRun] = field(default_factory=list)
    replaced_bytes: int = 0
    truncated_lines: int = 0
    repaired_mojibake: int = 0
    last_line: int = 0


def default_jobs() -> int:
    """Processes to use when the user did not say: every core this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _traceback_states(states: frozenset[str], text: str) -> frozenset[str]:
    """Where each traceback state the parser may be in goes on ``text`` (the parser's own rules).

    ``tb1``: a traceback opened on the line before; ``tb2``: one with more lines; ``pending``: one
    that ended but may still be chained. A state that the line ends is dropped. Keep in step with
    Parser.feed and Parser._traceback_line.
    """
    stripped = text.strip()
    continues = text[:1] in (" ", "\t") or not stripped
    after: set[str] = set()
    for state in states:
        if state == "pending":
            if not stripped or CHAINED_RE.match(stripped):
                after.add("pending")
            elif stripped.startswith(TRACEBACK_NEEDLE):
                after.add("tb2")
        elif continues:
            after.add("tb2")
            if state == "tb2":
                after.add("pending")  # past MAX_TRACEBACK_LINES the parser closes it
        elif state == "tb2" and EXCEPTION_LINE_RE.match(stripped):
            after.add("pending")
    return frozenset(after)


#: Before a block's first line the parser may be in any traceback state.
ANY_TRACEBACK = frozenset({"tb1", "tb2", "pending"})
NO_TRACEBACK: frozenset[str] = frozenset()
OPENED = frozenset({"tb1"})


def _first_pattern(text: str) -> str | None:
    """The name of the pattern Parser._messages would match first in ``text`` (None: no message)."""
    found = find_message(text)
    return None if found is None else found[0].name


QUIET, LOWVRAM, WHOLE = 0, 1, 2


def scan_block(data: bytes, number: int, redactor: Redactor | None = None) -> BlockResult:
    """Decode and classify the lines of ``data`` (whole lines; the first is line ``number + 1``)."""
    src = Source(name="", redactor=redactor)
    result = BlockResult()
    text = _decode(data, src)
    lines = text.split("\n")
    if data.endswith(b"\n"):
        lines.pop()
    prefixes = PrefixReader()
    cleaned: list[RawLine] = []
    prefixed: list[Prefixed] = []
    time_only = False
    for raw_text in lines:
        number += 1
        raw = _finish(number, raw_text, src)
        pre = prefixes.read(raw.text)
        time_only = time_only or pre.style == "time-only"
        cleaned.append(raw)
        prefixed.append(pre)
    if time_only:  # their midnight rollover needs every line in order: the parser reads them all
        result.items.extend((raw.number, raw.text) for raw in cleaned)
    else:
        _classify(cleaned, prefixed, result.items)
    result.replaced_bytes = src.replaced_bytes
    result.truncated_lines = src.truncated_lines
    result.repaired_mojibake = src.repaired_mojibake
    result.last_line = number
    return result


def _classify(cleaned: list[RawLine], prefixed: list[Prefixed], items: list[Line | QuietRun]) -> None:
    # The traceback states the parser may be in: while there are any, lines are sent whole.
    tracebacks = ANY_TRACEBACK
    run: QuietRun | None = None
    run_kind = WHOLE
    for raw, pre in zip(cleaned, prefixed, strict=True):
        text = pre.text
        if tracebacks:
            kind = WHOLE
            tracebacks = _traceback_states(tracebacks, text)
        elif "\r" in text or "%|" in text or BANNER_RULE_RE.match(text):
            kind = WHOLE
        else:
            name = _first_pattern(text)
            kind = QUIET if name is None else LOWVRAM if name == LOWVRAM_PATTERN else WHOLE
        if kind != WHOLE and TRACEBACK_NEEDLE in text:
            kind = WHOLE
        if kind == WHOLE:
            if TRACEBACK_NEEDLE in text:  # it may open a traceback
                tracebacks = tracebacks | OPENED
            if run is not None:
                if run.lines:
                    items.append(run)
                run = None
            items.append((raw.number, raw.text, text, pre.ts, pre.resolution, pre.style))
            continue
        if run is None or kind != run_kind:
            if run is not None and run.lines:
                items.append(run)
            run = QuietRun(last_line=raw.number, lines=0, styles={}, lowvram=kind == LOWVRAM)
            run_kind = kind
            if kind == LOWVRAM:  # the first line goes through the parser itself: it opens the count
                items.append((raw.number, raw.text, text, pre.ts, pre.resolution, pre.style))
                continue
        run.lines += 1
        run.last_line = raw.number
        run.styles[pre.style] = run.styles.get(pre.style, 0) + 1
        ts = pre.ts
        run.end_ts = ts
        if ts is None:
            continue
        run.last_ts = ts
        if run.first_ts is None:
            run.first_ts, run.first_ts_line, run.first_resolution = ts, raw.number, pre.resolution
        else:
            if run.rest_max_ts is None or ts > run.rest_max_ts:
                run.rest_max_ts = ts
            run.rest_max_resolution = max(run.rest_max_resolution, pre.resolution)
            run.rest_last_line = raw.number
    if run is not None and run.lines:
        items.append(run)


def _jobs_of(blocks: Iterable[bytes], job_bytes: int) -> Iterator[bytes]:
    """Regroup blocks of whole lines into tasks of about ``job_bytes``, still cut after a newline."""
    buffer = b""
    for block in blocks:
        buffer += block
        while len(buffer) >= job_bytes:
            cut = buffer.rfind(b"\n", 0, job_bytes)
            if cut < 0:
                cut = buffer.find(b"\n", job_bytes)
                if cut < 0:
                    break
            yield buffer[: cut + 1]
            buffer = buffer[cut + 1 :]
    if buffer:
        yield buffer


def _start_worker() -> None:
    """A worker only ever analyses: the analysis GC thresholds for its whole life (gcpolicy.py).

    It also runs at a lower priority: on a log dense with messages this process (the parser) is
    the bottleneck, and workers that run ahead should not take its core."""
    from .gcpolicy import use_analysis_thresholds

    use_analysis_thresholds()
    try:
        os.nice(10)
    except (AttributeError, OSError):  # no nice() on Windows
        pass


class Workers:
    """``jobs`` worker processes, started only when an input turns out to be big.

    This process runs the parser and segmenter on what they send. On logs dense with messages it
    is the bottleneck and the workers wait (at most ``2 * jobs + 1`` blocks are in flight); on
    quiet ones (DEBUG lowvram floods) the workers are, and every core helps.
    """

    def __init__(self, jobs: int, job_bytes: int = JOB_BYTES, min_bytes: int = MIN_PARALLEL_BYTES) -> None:
        self.jobs = max(1, jobs)
        self.job_bytes = job_bytes
        self.min_bytes = min_bytes
        self._executor: ProcessPoolExecutor | None = None

    def submit(self, data: bytes, number: int, redactor: Redactor | None = None) -> Future[BlockResult]:
        if self._executor is None:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            methods = multiprocessing.get_all_start_methods()
            context = multiprocessing.get_context("fork" if "fork" in methods else None)
            self._executor = ProcessPoolExecutor(self.jobs, mp_context=context, initializer=_start_worker)
        return self._executor.submit(scan_block, data, number, redactor)

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None


def read_parallel(
    path: str, workers: Workers, redactor: Redactor | None = None
) -> tuple[Source, Iterator[Fed]]:
    """Open ``path`` like sources.read_lines; if it is a big plain log, ``workers`` scan it.

    Raises UnusableInput before any line is produced when the input cannot be a log.
    """
    stream, name = open_binary(path)
    src = new_source(name, redactor)
    blocks = physical_blocks(stream, src)
    try:
        first = next(blocks, None)  # the first read checks for binary input
    except BaseException:
        stream.close()
        raise
    return src, _read(src, stream, ([] if first is None else [first]), blocks, workers)


def _read(
    src: Source, stream: BinaryIO, head: list[bytes], blocks: Iterator[bytes], workers: Workers
) -> Iterator[Fed]:
    size = sum(len(b) for b in head)
    lines = sum(b.count(b"\n") for b in head)
    if size < workers.min_bytes or lines < MARKDOWN_PEEK_LINES:
        for block in blocks:
            head.append(block)
            size += len(block)
            lines += block.count(b"\n")
            if size >= workers.min_bytes and lines >= MARKDOWN_PEEK_LINES:
                break
    peek = Source(name=src.name)
    first_lines = [t for _, t in islice(lines_of_blocks(head, peek), MARKDOWN_PEEK_LINES)]
    markdown = any(FENCE_RE.match(t) for t in first_lines)
    chained = _chain(head, blocks)
    if markdown or size < workers.min_bytes:
        phys = lines_of_blocks(chained, src)
        yield from _clean_lines(next(phys, None), phys, src, stream)
        return
    yield from _from_workers(workers, _jobs_of(chained, workers.job_bytes), src, stream)


def _chain(head: list[bytes], rest: Iterator[bytes]) -> Iterator[bytes]:
    yield from head
    yield from rest


def _from_workers(
    workers: Workers, tasks: Iterator[bytes], src: Source, stream: BinaryIO
) -> Iterator[Fed]:
    pending: deque[Future[BlockResult]] = deque()
    number = 0
    try:
        for data in tasks:
            pending.append(workers.submit(data, number, src.redactor))
            number += data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
            while len(pending) > 2 * workers.jobs:  # bounded: never more than this in memory
                yield from _take(pending.popleft().result(), src)
        while pending:
            yield from _take(pending.popleft().result(), src)
    finally:
        for future in pending:
            future.cancel()
        if stream is not sys.stdin.buffer:
            stream.close()


def _take(result: BlockResult, src: Source) -> Iterator[Fed]:
    src.replaced_bytes += result.replaced_bytes
    src.truncated_lines += result.truncated_lines
    src.repaired_mojibake += result.repaired_mojibake
    if result.last_line:
        src.total_lines = result.last_line
    for item in result.items:
        if isinstance(item, QuietRun):
            yield item
        elif len(item) == 2:
            yield RawLine(item[0], item[1])
        else:  # the prefix the worker read: the parser need not read it again
            yield RawLine(item[0], item[1]), Prefixed(item[2], item[3], item[4], item[5])
