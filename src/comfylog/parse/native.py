"""The native scanner (``comfylog._native``, Rust, in native/): the reader's and the parser's work on
blocks of bytes, item for item what read/clean.py, read/prefixes.py and parser.py make of them.

Which scanner reads logs: ``COMFYLOG_SCANNER=python`` the Python parser (the reference, always
there); ``COMFYLOG_SCANNER=native`` the native one, and a clear error where it is not installed;
unset, the native one when installed. The native scanner compiles the same messages.toml text
(table.py's TABLE_TEXT) and returns each row's fields as matched text, typed here by table.py's
converters: a new row works in both without Rust. A redacted read hands the scanner the
redactor's needles: a line holding one goes through read/redact.py's Redactor, in Python, before
the scanner reads it. Markdown inputs stay with the Python reader.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from datetime import datetime
from types import ModuleType
from typing import Any

from ..events import Activity, Event, EventKind, Phase
from ..read.lines import Picker
from ..read.source import Source, UnusableInput
from .parser import Item
from .table import FIELD_TYPES, PATTERNS, TABLE_TEXT, is_oom

SCANNER_ENV = "COMFYLOG_SCANNER"
SCANNERS = ("native", "python")


class ScannerUnavailable(UnusableInput):
    """``COMFYLOG_SCANNER`` asks for a scanner this installation does not have (or names none)."""


_loaded: dict[str, ModuleType | None] = {}


def native_module() -> ModuleType | None:
    """``comfylog._native`` if it is installed and imports, else None (imported once)."""
    if "module" not in _loaded:
        try:
            _loaded["module"] = importlib.import_module("comfylog._native")
        except ImportError as exc:
            _loaded["module"] = None
            _loaded_error["error"] = str(exc)
    return _loaded["module"]


_loaded_error: dict[str, str] = {}


def scanner() -> str:
    """``native`` or ``python``: the scanner that reads logs now (``COMFYLOG_SCANNER``, else the
    native one when installed). Raises ScannerUnavailable for a choice that cannot be had."""
    choice = os.environ.get(SCANNER_ENV, "").strip().lower()
    if choice == "python":
        return "python"
    if choice not in ("", "native"):
        raise ScannerUnavailable(f"{SCANNER_ENV}={choice}: the scanner is native or python")
    if native_module() is not None:
        return "native"
    if choice == "native":
        raise ScannerUnavailable(
            f"{SCANNER_ENV}=native, but this comfylog has no native scanner ({_loaded_error.get('error')}): "
            "it was installed without a Rust toolchain; reinstall with cargo on PATH "
            "(pip install --force-reinstall --no-cache-dir --no-binary comfylog comfylog), or unset "
            f"{SCANNER_ENV}"
        )
    return "python"


def line_picker() -> Picker | None:
    """The native scanner's way to pick lines out of a block (evidence read back), if it is in use."""
    if scanner() != "native":
        return None
    module = native_module()
    return None if module is None else module.pick_lines


_PHASES = (Phase.LOAD, Phase.INFERENCE, Phase.WAIT, Phase.OTHER)  # the order of native/src/table.rs


def _number(value: float) -> float | int:
    return int(value) if value.is_integer() else value


#: Per table row: its pattern, its constants as the dict each event's fields start from (copied),
#: (field, converter, group position) in the order the Python parser adds fields
#: (table.match_fields; the scanner gives groups in regex order), its kind, and whether its message
#: is looked at for an OOM (exceptions).
_Row = tuple[Any, dict[str, Any], tuple[tuple[str, Callable[[str], Any], int], ...], EventKind, bool]
_ROWS: tuple[_Row, ...] = tuple(
    (
        p,
        dict(p.constants),
        tuple(
            (f.name, FIELD_TYPES[f.type], p.group_names.index(f.name))
            for f in p.fields
        ),
        p.kind,
        p.kind is EventKind.EXCEPTION,
    )
    for p in PATTERNS
)


class NativeParser:
    """The Python Parser's interface over the native scanner: feed blocks, get Events and Activities."""

    def __init__(self, source: int = 0, reading: Source | None = None) -> None:
        module = native_module()
        if module is None:
            raise ScannerUnavailable("the native scanner is not installed")
        redaction = None
        redactor = reading.redactor if reading is not None else None
        if reading is not None and redactor is not None:
            counts = reading.redactions
            plain = [n for rule in redactor.rules if not rule.folded for n in rule.needles]
            folded = [n for rule in redactor.rules if rule.folded for n in rule.needles]
            redaction = (plain, folded, lambda text: redactor.redact(text, counts))
        try:
            self._scanner = module.Scanner(TABLE_TEXT, redaction)
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

    def feed(self, block: bytes) -> list[Item]:
        """The items of a block of whole lines (streams.py's blocks), in the parser's order."""
        try:
            return self._items(self._scanner.feed(block))
        except RuntimeError as exc:
            raise self._failed(exc) from None

    def close(self) -> list[Item]:
        """The end of the input: what is still open, and the reading counters onto the Source."""
        try:
            items = self._items(self._scanner.close())
        except RuntimeError as exc:
            raise self._failed(exc) from None
        scanner = self._scanner
        self.skipped_lines = scanner.skipped_lines
        self.styles = dict(scanner.styles)
        self.first_ts, self.last_ts = scanner.first_ts, scanner.last_ts
        self.first_nanos, self.last_nanos = scanner.nanos
        if self.reading is not None:
            self.reading.total_lines = scanner.total_lines
            self.reading.replaced_bytes += scanner.replaced_bytes
            self.reading.truncated_lines += scanner.truncated_lines
            self.reading.repaired_mojibake += scanner.repaired_mojibake
        return items

    def _failed(self, exc: RuntimeError) -> UnusableInput:
        name = self.reading.name if self.reading is not None else "input"
        return UnusableInput(f"{name}: {exc}; {SCANNER_ENV}=python reads it with the Python parser")

    def _items(self, raw: list[tuple[Any, ...]]) -> list[Item]:
        source = self.source
        out: list[Item] = []
        append = out.append
        rows = _ROWS
        phases = _PHASES
        for t in raw:
            tag = t[0]
            if tag == 0:
                _, phase, first, last, first_line, last_line, resolution = t
                append(Activity(phases[phase], first, last, first_line, last_line, source, resolution))
            elif tag == 1:
                _, row, line, ts, text, groups = t
                pattern, constants, fields_of, kind, exception = rows[row]
                fields: dict[str, Any] = constants.copy()
                for name, convert, position in fields_of:
                    value = groups[position]
                    if value is not None:
                        fields[name] = convert(value)
                fields["pattern"] = pattern.name
                fields["text"] = text
                if exception and is_oom(fields.get("message", "")):
                    fields["oom"] = True
                append(Event(kind, line, ts, fields, source, line))
            elif tag == 2:
                (_, line, ts, end_line, end_ts, label, total, done, rate, unit, elapsed, first_elapsed, states,
                 ts_before) = t
                bar = {"label": label, "total": _number(total), "done": _number(done), "final_rate": rate,
                       "rate_unit": unit, "elapsed_s": elapsed, "first_elapsed_s": first_elapsed, "states": states,
                       "ts_before": ts_before}
                append(Event(EventKind.PROGRESS_BAR, line, ts, bar, source, end_line, end_ts))
            elif tag == 3:
                _, row, line, ts, end_line, end_ts, count, text = t
                pattern = _ROWS[row][0]
                append(Event(pattern.kind, line, ts, {"count": count, "pattern": pattern.name, "text": text},
                             source, end_line, end_ts))
            else:
                _, row, line, ts, end_line, end_ts, tb_fields = t
                append(Event(_ROWS[row][0].kind, line, ts, tb_fields, source, end_line, end_ts))
        return out


__all__ = ["SCANNERS", "SCANNER_ENV", "NativeParser", "ScannerUnavailable", "line_picker", "native_module",
           "scanner"]
