"""The segmenter in Rust (native/src/segment/, issue 14): segmenter.py's work done on the native
scanner's own items, so that no Python Event or Activity is made for them; only the records (and
the notable events the report keeps) cross into Python, in batches as they become final.

Which segmenter runs: the Rust one (unset, or ``COMFYLOG_SEGMENTER=native``) for the inputs the
native scanner reads; Python's (segmenter.py, the reference) with ``COMFYLOG_SEGMENTER=python``, and
always for what the Python parser reads (``COMFYLOG_SCANNER=python``, an install without the native
scanner, markdown, console copies, saved streams) and for ``comfylog watch``. An input the port
cannot segment exactly as Python does (NotPorted, native/SEGMENTER.md), or any error of the Rust
path, is segmented by Python's instead, from its start; its SourceInfo says so (``segmenter``,
``fell_back``).
"""

from __future__ import annotations

from typing import Any

from ..engines import SEGMENTER_ENV, SEGMENTERS, SegmenterUnavailable, segmenter, segmenter_in_use
from ..events import Event
from ..model import ErrorRecord, Load, ProgressBar, Prompt, Run, Summary
from ..parse.native import NativeParser, Records
from ..spool import Spool
from . import segmenter as reference


class NativeSegmenter:
    """The Rust segmenter's results for one input, as add_input reads a Segmenter's: the tables
    (spools filled with the records as they become final), the notable events and the summary."""

    def __init__(self, source: int) -> None:
        self.source = source
        self.runs: Spool[Run] = Spool(block=reference.RUN_BLOCK)
        self.prompts: Spool[Prompt] = Spool()
        self.bars: Spool[ProgressBar] = Spool()
        self.loads: Spool[Load] = Spool()
        self.errors: Spool[ErrorRecord] = Spool()
        self.notable: list[Event] = []
        self.notable_dropped = 0
        self.summary = Summary()

    @property
    def blocks(self) -> tuple[int, int, int, int, int]:
        """Records per block of the runs', prompts', bars', loads' and errors' spools (the Rust side
        pickles whole blocks of that size)."""
        return (self.runs.block, self.prompts.block, self.bars.block, self.loads.block, self.errors.block)

    def take(self, records: Records) -> None:
        """Records made final, per table, oldest first: whole blocks pickled, or records."""
        spools: tuple[Spool[Any], ...] = (self.runs, self.prompts, self.bars, self.loads, self.errors)
        for spool, parts in zip(spools, records, strict=True):
            for part in parts:
                if isinstance(part, tuple):
                    spool.add_pickled(*part)
                else:
                    spool.extend(part)

    def finish(self, parser: NativeParser) -> None:
        """The input ended (``parser.close_records()`` taken): the summary and the notable events."""
        counters, notable, dropped = parser.segmented()
        summary: Any = self.summary
        for name, value in counters.items():
            setattr(summary, name, value)
        self.notable = notable
        self.notable_dropped = dropped


__all__ = ["SEGMENTERS", "SEGMENTER_ENV", "NativeSegmenter", "SegmenterUnavailable", "segmenter", "segmenter_in_use"]
