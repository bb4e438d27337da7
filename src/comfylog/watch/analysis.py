"""The analysis of a log that is still being written: the same stages as ``analyze``, fed as lines arrive.

Blocks of whole lines go through the reading step (decode, clean), the Parser and the Segmenter one
line at a time. Whether the input is docker compose output (``name  | `` before every line) is decided
as ``analyze`` decides it on an input's first 400 lines, but on the first lines read: those of the first
block that holds two lines that are not blank (lines before are held until then), at most 400; a notice
says so. The segmenter hands records to its tables once they are final (spool.py: memory stays flat),
and this module reports what happened as it happens: a run began (a restart), a run became ready, a
prompt's record became final. ``finish`` ends the input and makes the report
``analyze`` makes of the same bytes; to quote evidence lines as ``analyze`` does (it reads them back
from the file), every byte read is also written to a temporary copy, deleted at ``close``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections import deque
from datetime import datetime

from ..dataclass import dataclass
from ..diagnose import diagnose
from ..events import Activity, Event, EventKind
from ..model import ErrorRecord, Prompt, Report, Run
from ..parse import Parser
from ..pipeline import add_input, empty_report
from ..read.clean import finish_line
from ..read.lines import lines_of_blocks
from ..read.prefixes import COMPOSE_PEEK_LINES, compose_prefixed, without_compose
from ..read.redact import Redactor
from ..read.runpod import SSE_FRAMING
from ..read.source import RawLine, UnusableInput, new_source
from ..read.streams import UTF8_BOM, looks_binary
from ..segment.segmenter import NOTABLE_KINDS, START_STAGE, Segmenter

#: Notable events kept for the live findings (the report's own list stops at MAX_NOTABLE).
RECENT_EVENTS = 5000
#: Lines not blank that decide whether the input is docker compose output: prefixes.compose_prefixed's least
#: (one line with a service's prefix never makes a log compose output).
COMPOSE_DECIDING_LINES = 2


@dataclass(frozen=True)
class RunStarted:
    """A new run began: ComfyUI started (again, when ``run.restart``)."""

    run: Run
    line: int


@dataclass(frozen=True)
class RunReady:
    """The run's server is up (``To see the GUI go to``): its machine is known by now."""

    run: Run


@dataclass(frozen=True)
class PromptFinal:
    """A prompt's record is final: it finished, failed, was dropped or cut off."""

    prompt: Prompt


@dataclass(frozen=True)
class ErrorFinal:
    """An error's record is final."""

    error: ErrorRecord


Happening = RunStarted | RunReady | PromptFinal | ErrorFinal


class LiveAnalysis:
    """One growing input, analysed as it arrives. ``feed`` blocks of whole lines; ``take`` what happened."""

    def __init__(self, name: str, first_line: int = 0, redactor: Redactor | None = None) -> None:
        self.source = new_source(name, redactor)
        self.redactor = redactor
        self.parser = Parser(0)
        self.seg = Segmenter(0, reading=self.source)
        #: Number of the last line read.
        self.line = first_line
        #: The latest time the log gave (the live view's "now": a replayed log has its own clock).
        self.now: datetime | None = None
        #: Notable events of the recent past, for the live findings.
        self.recent: deque[Event] = deque(maxlen=RECENT_EVENTS)
        #: The kind of the last event read (what the prompt in progress is doing, live.phase_now).
        self.last_kind: EventKind | None = None
        #: VRAM (MB) ComfyUI offered the last model it loaded, and what that load put on the GPU.
        self.offered_mb: float | None = None
        self.loaded_mb: float | None = None
        #: Bumped whenever something was read: the live findings are looked for again only then.
        self.version = 0
        self._happened: list[Happening] = []
        self._prompts_out = 0
        self._errors_out = 0
        self._run: Run | None = None
        self._started = False
        self._sse = False  # the input is RunPod's log stream: its SSE framing is no log
        #: The first lines read, held until they decide whether the input is compose output (None: decided).
        self._held: list[RawLine] | None = []
        self._notices: list[str] = []
        self._dir = tempfile.mkdtemp(prefix="comfylog-watch-")
        #: Every byte read, in order, so the final report can quote evidence lines as analyze does.
        self.copy_path = os.path.join(self._dir, "read.log")
        self._copy = open(self.copy_path, "wb")  # noqa: SIM115 - closed in close()
        for _ in range(first_line // 65536):
            self._copy.write(b"\n" * 65536)  # the lines before the first one read keep their numbers
        self._copy.write(b"\n" * (first_line % 65536))

    # ---- feeding ------------------------------------------------------------------------------
    def feed(self, block: bytes) -> None:
        """Read a block of whole lines (the last one may lack its newline only at the end)."""
        if not block:
            return
        if not self._started:
            self._started = True
            if block.startswith(UTF8_BOM):
                block = block[len(UTF8_BOM) :]
            if looks_binary(block):
                raise UnusableInput(f"{self.source.name}: looks like a binary file, not a text log")
        self._copy.write(block)
        for number, text in lines_of_blocks((block,), self.source, self.line):
            self.line = number
            if not self._sse and text.startswith("data: {") and '"line"' in text:
                self._sse = True  # RunPod's log stream piped in (curl -N ... | comfylog watch -)
            if self._sse and (not text.strip() or text.startswith(SSE_FRAMING)):
                continue
            raw = finish_line(number, text, self.source)
            if self._held is None:
                self._read(raw)
                continue
            self._held.append(raw)
            if len(self._held) >= COMPOSE_PEEK_LINES:
                self._decide()
        if self._held is not None and sum(1 for raw in self._held if raw.text.strip()) >= COMPOSE_DECIDING_LINES:
            self._decide()
        self.version += 1

    def _decide(self) -> None:
        """Decide on the lines held whether the input is docker compose output, then read them."""
        held, self._held = self._held or [], None
        if compose_prefixed(raw.text for raw in held):
            self.source.compose_prefixed = True
            prefix = next(raw.text[: len(raw.text) - len(without_compose(raw.text))] for raw in held
                          if without_compose(raw.text) != raw.text)
            self._notices.append(f"docker compose output (`{prefix.rstrip()}` before the lines, decided on the "
                                 f"first {len(held)} lines read): reading each line without it")
        for raw in held:
            self._read(raw)

    def _read(self, raw: RawLine) -> None:
        if self.source.compose_prefixed:
            raw.text = without_compose(raw.text)
        for item in self.parser.feed(raw):
            self._item(item)

    def notices(self) -> list[str]:
        """What the analysis has to say about the input since the last call (it is compose output)."""
        out, self._notices = self._notices, []
        return out

    def _item(self, item: Event | Activity) -> None:
        seg = self.seg
        if isinstance(item, Activity):
            seg.activity(item)
            self.now = item.last_ts
            return
        seg.event(item)
        kind = self.last_kind = item.kind
        if item.ts is not None:
            self.now = max(self.now, item.ts) if self.now else item.ts
        if kind in NOTABLE_KINDS:
            self.recent.append(item)
        if kind in (EventKind.LOADED_COMPLETELY, EventKind.LOADED_PARTIALLY):
            self.offered_mb, self.loaded_mb = item.fields.get("usable_mb"), item.fields.get("loaded_mb")
        if kind in START_STAGE or self._run is None:
            run = seg.live().run
            if run is not None and run is not self._run:
                self._run = run
                self._happened.append(RunStarted(run, run.first_line))
        if kind is EventKind.SERVER_READY and self._run is not None:
            self._happened.append(RunReady(self._run))
        if kind in (EventKind.PROMPT_EXECUTED, EventKind.PROMPT_INVALID) or kind in START_STAGE:
            seg.release_final()
        self._collect()

    def _collect(self) -> None:
        """Report the records the segmenter made final since the last look."""
        prompts, errors = self.seg.prompts, self.seg.errors
        while self._prompts_out < len(prompts):
            self._happened.append(PromptFinal(prompts[self._prompts_out]))
            self._prompts_out += 1
        while self._errors_out < len(errors):
            self._happened.append(ErrorFinal(errors[self._errors_out]))
            self._errors_out += 1

    def take(self) -> list[Happening]:
        """What happened since the last call, in order."""
        out, self._happened = self._happened, []
        return out

    # ---- the end ------------------------------------------------------------------------------
    def finish(self, rest: bytes = b"") -> Report:
        """The input ended (``rest``: its unfinished last line): the report ``analyze`` makes of it."""
        if rest:
            self.feed(rest)
        if self._held is not None:
            self._decide()
        for item in self.parser.close():
            self._item(item)
        self.seg.finish()
        self._collect()
        self._copy.close()
        report = empty_report()
        add_input(report, 0, self.source, self.parser, self.seg, (None, None))
        report.findings = diagnose(report, reread=True, paths=[self.copy_path], redactor=self.redactor)
        return report

    def close(self) -> None:
        """Delete the copy of what was read."""
        if not self._copy.closed:
            self._copy.close()
        shutil.rmtree(self._dir, ignore_errors=True)
