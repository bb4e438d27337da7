"""The native scanner (``comfylog._native``, Rust, in native/): the reader's and the parser's work on
blocks of bytes, item for item what read/clean.py, read/prefixes.py and parser.py make of them.

Which scanner reads logs: ``COMFYLOG_SCANNER=python`` the Python parser (the reference, always
there); ``COMFYLOG_SCANNER=native`` the native one, and a clear error where it is not installed;
unset, the native one when installed. The native scanner compiles the same messages.toml text
(table.py's TABLE_TEXT) and hands back finished Events and Activities, each row's fields typed by
table.py's converters (ITEM_BUILDER tells it the classes, kinds and converters): a new row works in
both without Rust. A redacted read hands the scanner the
redactor's needles: a line holding one is redacted before the scanner reads it, by the scanner
itself (native/src/redact.rs, on its threads) where the redactor is ``Redactor()`` and the line ASCII,
else by read/redact.py's Redactor, in Python. Markdown inputs stay with the Python reader.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from functools import cache
from types import ModuleType
from typing import TYPE_CHECKING, Any

from ..engines import SCANNER_ENV, SCANNERS, ScannerUnavailable, native_module, scanner
from ..events import Activity, Event, EventKind, Phase
from ..model import BarKind, ErrorRecord, Load, Phases, ProgressBar, Prompt, Run, Span
from ..read.lines import Picker
from ..read.source import Source, UnusableInput
from . import bars as bar_table
from .table import FIELD_TYPES, PATTERNS, TABLE_TEXT, is_oom

if TYPE_CHECKING:
    from .parser import Item

def line_picker() -> Picker | None:
    """The native scanner's way to pick lines out of a block (evidence read back), if it is in use."""
    if scanner() != "native":
        return None
    module = native_module()
    return None if module is None else module.pick_lines


def scan_serially(on: bool = True) -> None:
    """The native scanner of this process scans on its calling thread alone (``on``), or on its threads again:
    a fleet's worker, one process per core, scans most logs so (fleet.py, SERIAL_SCAN_BYTES). Nothing without
    the native scanner."""
    module = native_module()
    if module is not None:
        module.scan_serially(on)


_PHASES = (Phase.LOAD, Phase.INFERENCE, Phase.WAIT, Phase.OTHER)  # the order of native/src/table.rs


@cache
def _item_builder(module: ModuleType) -> Any:
    """The native scanner's maker of Events and Activities (native/src/pyitems.rs), made once per
    process (a fleet reads thousands of logs). It is told the classes, the phases, and per table row
    its name, kind, constants (the dict each event's fields start from), its fields as (name,
    converter, group position) in the order the Python parser adds them (table.match_fields; the
    scanner gives groups in regex order), and whether its message is looked at for an OOM
    (exceptions)."""
    rows = tuple(
        (
            p.name,
            p.kind,
            dict(p.constants),
            [(f.name, FIELD_TYPES[f.type], p.group_names.index(f.name)) for f in p.fields],
            p.kind is EventKind.EXCEPTION,
        )
        for p in PATTERNS
    )
    return module.ItemBuilder(Event, Activity, _PHASES, EventKind.PROGRESS_BAR, is_oom, rows)


@cache
def _record_builder(module: ModuleType) -> Any:
    """The native segmenter's maker of model.py's records (native/src/segment/topy.rs), made once."""
    return module.RecordBuilder(Run, Prompt, ProgressBar, Load, ErrorRecord, Phases, Span, _PHASES,
                                (BarKind.SAMPLING, BarKind.LOADING, BarKind.OTHER))


@cache
def _segmenter_tables(module: ModuleType) -> Any:
    """The native segmenter's rows and bar table (native/src/lib.rs SegmenterTables), made once per
    process: per table row its constants and its fields as (name, FIELD_TYPES name, group position)
    in the order the Python parser adds them; the bar table (parse/bars.py's rows, in order) as
    (kind, pattern), compiled once (a fleet segments thousands of inputs)."""
    rows = [(dict(p.constants), [(f.name, f.type, p.group_names.index(f.name)) for f in p.fields])
            for p in PATTERNS]
    bars = [(row.kind.value, row.regex.pattern) for row in bar_table.BAR_ROWS]
    return module.SegmenterTables(TABLE_TEXT, rows, bars)


#: A whole spool block the Rust segmenter pickled and compressed as spool.py does (native/src/segment/
#: pickle.rs): (its bytes, the estimated bytes of the records it decodes to, the text of their JSON rows
#: or None: native/src/segment/jsonrows.rs).
PickledBlock = tuple[bytes, int, str | None]
#: What the native segmenter's scanner hands over per block: the records made final, per table
#: (runs, prompts, progress bars, loads, errors), oldest first, as parts: whole blocks pickled, or
#: lists of records (a block pickle could not write, the input's last records).
Records = tuple[list[PickledBlock | list[Any]], ...]


class NativeParser:
    """The Python Parser's interface over the native scanner: feed blocks, get Events and Activities."""

    def __init__(
        self, source: int = 0, reading: Source | None = None,
        segment: tuple[int, int, int, tuple[int, int, int, int, int], bool, tuple[int, float, int, int]] | None = None,
    ) -> None:
        """``segment``: (the input's first run index, its first prompt index, segmenter.py's
        RELEASE_EVERY, the records per block of the spools of runs, prompts, bars, loads and errors,
        whether to write the JSON rows of the blocks, and segmenter.py's FOLD_BARS, phases.py's FOLD_KEEP_S,
        pending.py's SHELF_BLOCK and segmenter.py's TAIL_ACTIVITIES) to segment in Rust (segment/native.py):
        ``feed_records`` and ``close_records`` then replace ``feed`` and ``close``."""
        module = native_module()
        if module is None:
            raise ScannerUnavailable("the native scanner is not installed")
        redaction = None
        redactor = reading.redactor if reading is not None else None
        if reading is not None and redactor is not None:
            from ..read.redact import Redactor  # here: a run without redaction never imports its rules

            counts = reading.redactions
            plain = [n for rule in redactor.rules for n in (rule.also if rule.folded else rule.needles)]
            folded = [n for rule in redactor.rules if rule.folded for n in rule.needles]
            # redact.rs has redact.py's rules without IP addresses: another redactor is Python's alone
            native = type(redactor) is Redactor and not redactor.ips
            redaction = (plain, folded, lambda text: redactor.redact(text, counts), native)
        try:
            segmenting = None
            if segment is not None:
                segmenting = (_record_builder(module), _segmenter_tables(module), *segment)
            compose = reading is not None and reading.compose_prefixed  # read/lines.py decided from the first lines
            self._scanner = module.Scanner(TABLE_TEXT, _item_builder(module), source, redaction, segmenting, compose)
        except ValueError as exc:  # the table holds a row Rust's regex cannot run
            raise UnusableInput(f"the message table cannot be read by the native scanner: {exc}") from None
        self.source = source
        self.reading = reading
        self.skipped_lines = 0
        self.styles: dict[str, int] = {}
        self.first_ts: datetime | None = None
        self.last_ts: datetime | None = None
        #: Nanoseconds past first_ts and last_ts (docker's nine digits), as the Python parser keeps them.
        self.first_nanos = self.last_nanos = 0
        self.clock_back_line: int | None = None

    def feed(self, block: bytes) -> list[Item]:
        """The items of a block of whole lines (streams.py's blocks), in the parser's order."""
        try:
            items: list[Item] = self._scanner.feed(block)
        except RuntimeError as exc:
            raise self._failed(exc) from None
        return items

    def feed_records(self, block: bytes) -> Records:
        """With the native segmenter: the records made final so far. Raises the module's NotPorted
        where the segmenter cannot segment the input as Python's does."""
        try:
            records: Records = self._scanner.feed(block)
        except RuntimeError as exc:
            raise self._failed(exc) from None
        return records

    def close_records(self) -> Records:
        """With the native segmenter: the input's last records (the reading counters as close)."""
        try:
            records: Records = self._scanner.close()
        except RuntimeError as exc:
            raise self._failed(exc) from None
        self._closed()
        return records

    def more_records(self) -> Iterator[Records]:
        """With the native segmenter, after ``feed_records`` or ``close_records``: the records they left to hand,
        a few blocks at a time (a queue of 1,000,000 prompts left at the input's end, handed at once, took
        390 MB)."""
        while True:
            try:
                records: Records | None = self._scanner.more()
            except RuntimeError as exc:
                raise self._failed(exc) from None
            if records is None:
                return
            yield records

    def segmented(self) -> tuple[dict[str, Any], list[Event], int]:
        """After close_records: the segmenter's summary counters, notable events and how many it dropped."""
        done: tuple[dict[str, Any], list[Event], int] = self._scanner.segmented()
        return done

    def close(self) -> list[Item]:
        """The end of the input: what is still open, and the reading counters onto the Source."""
        try:
            items: list[Item] = self._scanner.close()
        except RuntimeError as exc:
            raise self._failed(exc) from None
        self._closed()
        return items

    def _closed(self) -> None:
        """The reading counters onto the Source, once the input ended."""
        scanner = self._scanner
        self.skipped_lines = scanner.skipped_lines
        self.styles = dict(scanner.styles)
        self.first_ts, self.last_ts = scanner.first_ts, scanner.last_ts
        self.first_nanos, self.last_nanos = scanner.nanos
        self.clock_back_line = scanner.clock_back_line
        if self.reading is not None:
            self.reading.total_lines = scanner.total_lines
            self.reading.replaced_bytes += scanner.replaced_bytes
            self.reading.truncated_lines += scanner.truncated_lines
            self.reading.repaired_mojibake += scanner.repaired_mojibake
            self.reading.redactions.update(dict(scanner.redactions))

    def _failed(self, exc: RuntimeError) -> UnusableInput:
        name = self.reading.name if self.reading is not None else "input"
        return UnusableInput(f"{name}: {exc}; {SCANNER_ENV}=python reads it with the Python parser")


__all__ = ["SCANNERS", "SCANNER_ENV", "NativeParser", "ScannerUnavailable", "line_picker", "native_module",
           "scan_serially", "scanner"]
