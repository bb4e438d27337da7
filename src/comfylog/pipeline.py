"""The pipeline in one call: inputs -> lines -> events -> runs, prompts and phases -> findings.

``build_report`` reads, parses and segments (a Report without findings); ``analyze_paths`` and
``analyze_text`` add the diagnosis. Everything above (api, fleet, export, check, the CLI) calls these.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from typing import IO, TYPE_CHECKING, NamedTuple

from .diagnose import diagnose
from .gcpolicy import fewer_collections
from .model import Report, SourceInfo, Summary
from .parse.native import NativeParser, native_module, scanner
from .read.lines import LogInput, open_input, open_text
from .read.source import Source, UnusableInput
from .segment import pending, phases
from .segment import segmenter as reference
from .segment.native import NativeSegmenter, segmenter
from .segment.segmenter import Segmenter
from .spool import Spool

if TYPE_CHECKING:
    from .parse.parser import Parser
    from .read.redact import Redactor

#: Told what the analysis is doing: ``(what, done, total)``, total None when unknown (a progress display).
Progress = Callable[[str, float, float | None], None]


def analyze_paths(
    paths: Sequence[str], redactor: Redactor | None = None, progress: Progress | None = None, evidence: bool = True,
    json_rows: bool = False,
) -> Report:
    """Analyse the logs at ``paths`` (``-`` is stdin) in order, as one report, findings included.

    Each input is read, parsed and segmented as a stream; runs never span two inputs. With a
    ``redactor``, lines are redacted as they are read (read/redact.py): every text in the report is
    clean, every number the same. ``progress`` is told the bytes read of all inputs, then the
    diagnosis. ``evidence=False`` leaves the findings' evidence lines as the report holds them,
    without reading the files again (a fleet row keeps only each finding's id, title and cost).
    ``json_rows``: the report is for ``--format json``, whose rows the Rust segmenter then writes
    beside the blocks it spills (build_report). Raises UnusableInput for an input that cannot be a log.
    """
    on_read = None
    if progress is not None:
        on_read = _reading_progress(paths, progress)
    native = scanner() == "native"
    opened = [open_input(path, redactor, blocks=native, on_read=on_read(i) if on_read else None)
              for i, path in enumerate(paths)]  # fail fast, before any work
    report = build_report(opened, json_rows)
    if progress is not None:
        progress("finding causes", 0, None)
    report.findings = diagnose(report, reread=evidence, paths=paths, redactor=redactor)
    return report


def let_go(report: Report) -> None:
    """Give back what the report's tables keep decoded (spool.py, Spool.let_go) before another report is
    analysed beside it (compare, a page with a baseline): the next analysis gets the budgets, and the
    first report reads its tables from disk as it is used again (two 1 GB logs: 11 MB less at the peak)."""
    for table in (report.runs, report.prompts, report.progress_bars, report.loads, report.errors):
        if isinstance(table, Spool):
            table.let_go()


def _reading_progress(paths: Sequence[str], progress: Progress) -> Callable[[int], Callable[[int], None]]:
    """Per input, a callback that reports the bytes read of all inputs against their sizes (when known)."""
    sizes = [os.path.getsize(p) if p != "-" and os.path.isfile(p) else None for p in paths]
    total = None if None in sizes else float(sum(s or 0 for s in sizes))
    before = [sum(s or 0 for s in sizes[:i]) for i in range(len(paths))]

    def for_input(i: int) -> Callable[[int], None]:
        what = "reading " + (os.path.basename(paths[i]) if paths[i] != "-" else "standard input")
        return lambda read: progress(what, float(before[i] + read), total)

    return for_input


def analyze_text(text: str, name: str = "<text>", redactor: Redactor | None = None) -> Report:
    """Analyse a log given as a string (tests, notebooks, pasted logs), findings included."""
    report = build_report([open_text(text, name, redactor, blocks=scanner() == "native")])
    report.findings = diagnose(report)
    return report


#: The earliest and latest prefix times of the inputs added so far, with their nanoseconds.
Span = tuple[tuple[datetime, int] | None, tuple[datetime, int] | None]


@fewer_collections()
def build_report(opened: Iterable[LogInput], json_rows: bool = False) -> Report:
    """Read, parse and segment each opened input in order: the Report, before diagnosis.

    An input opened as blocks goes through the native scanner, one opened as lines through the
    Python parser (read/lines.py decides: markdown, RunPod console copies and saved log streams
    are lines). The native scanner's inputs are segmented in Rust unless ``COMFYLOG_SEGMENTER=python``
    (segment/native.py); the Python parser's always by segmenter.py. With ``json_rows``, the Rust
    segmenter also writes the JSON rows of the blocks it spills (Spool.json_rows), which
    render/json.py copies: only for a report written as JSON.
    """
    report = empty_report()
    span: Span = (None, None)
    native_segmenter = segmenter() == "native"
    for index, log in enumerate(opened):
        fell_back = None
        if log.blocks is not None and native_segmenter and not log.source.markdown:
            natively = _segment_natively(index, log, report, json_rows)
            if isinstance(natively, Fallback):
                log, fell_back = natively  # the input again from its start, for Python's segmenter
            else:
                span = add_input(report, index, log.source, natively[0], natively[1], span)
                continue
        source = log.source
        blocks = log.blocks
        seg = Segmenter(index, first_run_index=len(report.runs), first_prompt_index=len(report.prompts),
                        reading=source)
        parser: Parser | NativeParser
        if blocks is not None:
            parser = NativeParser(index, source)
            for block in blocks:
                seg.feed_all(parser.feed(block))
        else:
            assert log.lines is not None
            from .parse.parser import Parser  # here: a log the native scanner reads never needs it

            parser = Parser(index)
            for raw in log.lines:
                seg.feed_all(parser.feed(raw))
        seg.feed_all(parser.close())
        seg.finish()
        span = add_input(report, index, source, parser, seg, span)
        report.sources[-1].fell_back = fell_back
    return report


class Fallback(NamedTuple):
    """An input the Rust segmenter gave back: the input again from its start, and why."""

    log: LogInput
    why: str


def _segment_natively(
    index: int, log: LogInput, report: Report, json_rows: bool,
) -> tuple[NativeParser, NativeSegmenter] | Fallback:
    """Input ``index`` (read as blocks) through the Rust segmenter (segment/native.py): its parser and
    results; or, where the port cannot segment it as Python does, the input again from its start for
    Python's segmenter, with why. A file is opened again; stdin and text keep the blocks read until the
    input ends, to hand them over (the port is not complete: native/SEGMENTER.md)."""
    module = native_module()
    assert module is not None and log.blocks is not None
    source = log.source
    seen = Replay() if log.reopen is None else None
    redactions = dict(source.redactions)
    seg = NativeSegmenter(index)
    # as Python's segmenter paints a running prompt's bars as they come (_fold_bars)
    fold = (reference.FOLD_BARS, phases.FOLD_KEEP_S, pending.SHELF_BLOCK, reference.TAIL_ACTIVITIES)
    parser = NativeParser(index, source, segment=(len(report.runs), len(report.prompts), reference.RELEASE_EVERY,
                                                  seg.blocks, json_rows, fold))
    try:
        for block in log.blocks:
            if seen is not None:
                seen.append(block)
            seg.take(parser.feed_records(block))
            for records in parser.more_records():
                seg.take(records)
        seg.take(parser.close_records())
        for records in parser.more_records():
            seg.take(records)
    except (module.NotPorted, UnusableInput) as exc:
        # A scanner or segmenter failure (a panic becomes the scanner's error) also goes to Python's
        # segmenter: where the scanner itself fails, that path says so as it always did.
        why = str(exc) if isinstance(exc, module.NotPorted) else f"failed: {exc}"
        if log.reopen is not None:
            return Fallback(log.reopen(), why)
        assert seen is not None
        source.redactions.clear()
        source.redactions.update(redactions)
        return Fallback(LogInput(source, blocks=itertools.chain(seen.blocks(), log.blocks)), why)
    if seen is not None:
        seen.close()
    seg.finish(parser)
    return parser, seg


#: Bytes of an unreopenable input kept in memory for a replay; the rest goes to a temporary file.
REPLAY_MEMORY = 8 << 20


class Replay:
    """The blocks of an input that cannot be opened again (stdin, text), kept while the Rust segmenter
    reads them in case Python's must read them again: in memory up to REPLAY_MEMORY bytes, then in a
    temporary file, so that a long piped log costs disk, not memory."""

    def __init__(self) -> None:
        self._memory: list[bytes] = []
        self._kept = 0
        self._file: IO[bytes] | None = None

    def append(self, block: bytes) -> None:
        if self._file is None and self._kept + len(block) <= REPLAY_MEMORY:
            self._memory.append(block)
            self._kept += len(block)
            return
        if self._file is None:
            import tempfile  # here: only a long input spills, and tempfile imports random (~2 ms of a start-up)

            self._file = tempfile.TemporaryFile(prefix="comfylog-replay-")
        self._file.write(len(block).to_bytes(8, "little"))
        self._file.write(block)

    def blocks(self) -> Iterator[bytes]:
        """The blocks kept, in order (once)."""
        yield from self._memory
        self._memory = []
        file = self._file
        if file is None:
            return
        file.seek(0)
        while head := file.read(8):
            yield file.read(int.from_bytes(head, "little"))
        self.close()

    def close(self) -> None:
        """Drop what was kept: the input was segmented without needing it."""
        self._memory = []
        if self._file is not None:
            self._file.close()
            self._file = None


def empty_report() -> Report:
    """A Report with no input yet: ``add_input`` adds each one."""
    return Report(sources=[], summary=Summary(), runs=Spool(block=reference.RUN_BLOCK), prompts=Spool(),
                  progress_bars=Spool(), loads=Spool(), errors=Spool())


def add_input(
    report: Report, index: int, source: Source, parser: Parser | NativeParser, seg: Segmenter | NativeSegmenter,
    span: Span,
) -> Span:
    """Add input ``index``, read to its end (``seg.finish()`` done), to ``report``; the span so far.

    ``build_report`` does this for each input it reads, and ``comfylog watch`` for the stream it
    followed, so both make the same report of the same bytes.
    """
    summary = report.summary
    first, last = span
    if index == 0:  # one input (the usual case): take its records as they are, spilled or not
        report.runs, report.prompts, report.progress_bars = seg.runs, seg.prompts, seg.bars
        report.loads, report.errors = seg.loads, seg.errors
    else:
        for mine, theirs in ((report.runs, seg.runs), (report.prompts, seg.prompts),
                             (report.progress_bars, seg.bars), (report.loads, seg.loads),
                             (report.errors, seg.errors)):
            mine.extend(theirs)  # type: ignore[arg-type]
    report.notable += seg.notable
    report.notable_dropped += seg.notable_dropped
    s = seg.summary
    for name in ("got_prompt", "executed", "partial_loads", "lowvram_module_loads", "ws_timeouts", "restarts",
                 "models_not_listed"):
        setattr(summary, name, getattr(summary, name) + getattr(s, name))
    summary.lowvram = summary.lowvram or s.lowvram
    summary.skipped_lines += source.skipped_lines + parser.skipped_lines
    summary.replaced_bytes += source.replaced_bytes
    own_span: float | None = None
    if parser.first_ts is not None and parser.last_ts is not None:
        here = ((parser.first_ts, parser.first_nanos), (parser.last_ts, parser.last_nanos))
        own_span = _seconds_between(here[0], here[1])
        before = next((src for src in reversed(report.sources) if src.last_at is not None), None)
        if before is not None and before.last_at is not None and parser.first_ts < before.last_at:
            summary.inputs_in_time_order = False
        first = here[0] if first is None else min(first, here[0])
        last = here[1] if last is None else max(last, here[1])
    report.sources.append(
        SourceInfo(
            name=source.name,
            lines=source.total_lines,
            timestamp_styles={k: v for k, v in parser.styles.items() if k != "none"},
            markdown=source.markdown,
            newest_first=source.newest_first,
            compose_prefixed=source.compose_prefixed,
            first_at=parser.first_ts,
            last_at=parser.last_ts,
            span_s=own_span,
            clock_back_line=parser.clock_back_line,
            replaced_bytes=source.replaced_bytes,
            skipped_lines=source.skipped_lines + parser.skipped_lines,
            truncated_lines=source.truncated_lines,
            repaired_mojibake=source.repaired_mojibake,
            dropped_bytes=source.dropped_bytes,
            stopped=source.stopped,
            report_fields={k: v[1] for k, v in source.report_fields.items()},
            segmenter="native" if isinstance(seg, NativeSegmenter) else "python",
        )
    )
    summary.errors = len(report.errors)
    if first is not None and last is not None:
        summary.span_s = _seconds_between(first, last)
    return first, last


def _seconds_between(first: tuple[datetime, int], last: tuple[datetime, int]) -> float:
    """Seconds from one (time, nanoseconds past its microsecond) to another, exact to the nanosecond."""
    return round((last[0] - first[0]).total_seconds() + (last[1] - first[1]) / 1e9, 9)
