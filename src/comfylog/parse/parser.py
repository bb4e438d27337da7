"""Lines -> events, streaming.

Per physical line: strip the prefix (time), split the rest at bare CRs (tqdm states), read tqdm
states into progress bars, run the message table on the rest, and keep multi-line tracebacks
together. Consecutive ``lowvram: loaded module regularly`` lines become one counted event.

Besides events, the parser emits Activity runs: which phase each stretch of timestamped lines
belongs to. Every Activity is emitted before the events of its last line, so a consumer that
reacts to an event has already seen all the time up to that event's line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import field
from datetime import datetime
from typing import Any

from ..dataclass import dataclass
from ..events import CLOCK_RESET, Activity, Event, EventKind, Phase
from ..lazyre import lazy_re
from ..read.prefixes import PrefixReader, may_start_with_prefix, report_end
from ..read.source import RawLine
from .progress import bar_seconds, find_state, si_number
from .table import Pattern, find_message, is_oom, match_fields
from .traceback import MAX_HELD_CHARS, MAX_HELD_LINES, TracebackReader, is_cut_traceback, may_hold_at_start

Item = Event | Activity

#: Events before which an open progress bar is closed: the bar cannot continue past them.
CLOSES_BAR = frozenset(
    {
        EventKind.PROMPT_EXECUTED,
        EventKind.EXCEPTION,
        EventKind.INTERRUPTED,
        EventKind.CUDA_BANNER,
        EventKind.MANAGER_STARTUP,
        EventKind.SERVER_STARTING,
        EventKind.WORKER_STARTING,
    }
)
#: Start-up markers, ``Adding extra search path`` (a restarted process's first lines: the segmenter's
#: _on_extra_search_path) and ``Total VRAM`` (a new process where the run has worked: the segmenter's
#: _new_process): their lines get an Activity of their own so a run ends exactly before them.
START_MARKERS = frozenset(
    {EventKind.CUDA_BANNER, EventKind.MANAGER_STARTUP, EventKind.SERVER_STARTING, EventKind.WORKER_STARTING,
     EventKind.EXTRA_SEARCH_PATH, EventKind.TOTAL_VRAM}
)
#: The ``==========`` line printed just before ``== CUDA ==``.
BANNER_RULE_RE = lazy_re(r"^={10,}\s*$")
#: Messages read from one line glued together (``got promptLoading 1 new model``); real logs glue two.
MAX_GLUED_MESSAGES = 100
#: A completed bar redrawn on the very next line with the same count (tqdm's close() written as a
#: separate line, as docker does) is the same bar if it comes within this many seconds.
CLOSE_REDRAW_S = 2.0
#: A redraw at the same count whose elapsed adds more than this share to the steps' (a close 2:13 after the last
#: 18:30 step) averages the time after the steps in: the bar's rate is the one drawn at its last step. A close a
#: second or two after (`20/20 [5:57:20<00:00, 882.97s/it]`, then `[5:57:22<00:00, 1072.14s/it]`: corpus 030) keeps
#: its own, the steps' average (tqdm's rate at a step is smoothed).
CLOSE_AFTER_STEPS_SHARE = 0.05


def _elapsed_seconds(text: str) -> float:
    total = 0.0
    for part in text.split(":"):
        total = total * 60 + int(part)
    return total


@dataclass
class _State:
    line: int
    ts: datetime | None
    label: str | None
    n: float
    total: float
    elapsed_s: float
    rate: float | None
    unit: str


@dataclass
class _Bar:
    states: list[_State] = field(default_factory=list)
    ts_before: datetime | None = None

    @property
    def last(self) -> _State:
        return self.states[-1]

    @property
    def complete(self) -> bool:
        return self.last.total > 0 and self.last.n >= self.last.total


class Parser:
    """Feed it RawLines in order; it yields Events and Activities. Call ``close()`` at the end."""

    def __init__(self, source: int = 0) -> None:
        self.source = source
        self.prefixes = PrefixReader()
        self._report_end: datetime | None = None  # the error report's stamp that ended the last line (report_end)
        self.skipped_lines = 0
        self.styles: dict[str, int] = {}
        #: The earliest and latest time stamps (the first and last but where the clock goes back).
        self.first_ts: datetime | None = None
        self.last_ts: datetime | None = None
        #: Nanoseconds past first_ts and last_ts (docker's nine digits): spans exact to the nanosecond.
        self.first_nanos = self.last_nanos = 0
        #: The first line whose stamp goes back by more than CLOCK_RESET from the latest before it.
        self.clock_back_line: int | None = None
        self._bar: _Bar | None = None
        self._activity: Activity | None = None
        self._lowvram: Event | None = None
        self._tracebacks = TracebackReader()
        #: Indented lines at the input's start, held until a line says whether they are a traceback
        #: whose head is cut (traceback.py); None once it has said.
        self._held: list[tuple[int, datetime | None, float, str]] | None = []
        self._held_chars = 0
        self._last_ts: datetime | None = None
        self._closed: list[Activity] = []
        self._isolate_next = False
        self._line_states = 0  # tqdm states read on the line being parsed: it gets an activity of its own
        self._line_messages = 0  # messages of the line being parsed that make events
        self._line_background = False  # it holds another thread's message (EventKind.BACKGROUND)

    # ---- public -------------------------------------------------------------------------------
    def feed(self, raw: RawLine) -> Iterator[Item]:
        """Parse one line: the events it makes, after the activity runs up to it."""
        pre = self.prefixes.read(raw.text)
        ts = pre.ts
        if pre.cut and self._report_end is not None:  # written at the stamp ending the line before (prefixes.py)
            ts = self._report_end
        self._report_end = report_end(raw.text)
        self.styles[pre.style] = self.styles.get(pre.style, 0) + 1
        if ts is not None:
            if self.last_ts is not None and ts > self.last_ts:  # most lines: the clock goes on, no call
                self.last_ts, self.last_nanos = ts, pre.nanos
            else:
                self._stamped(raw.number, ts, pre.nanos)
        if self._held is not None:
            return iter(self._hold(raw.number, ts, pre.resolution, pre.text))
        return iter(self._parse(raw.number, ts, pre.resolution, pre.text))

    def _stamped(self, line: int, ts: datetime, nanos: int) -> None:
        """Keep the earliest and latest stamps, and where the clock first goes back."""
        if self.first_ts is None or self.last_ts is None:
            self.first_ts, self.first_nanos = self.last_ts, self.last_nanos = ts, nanos
            return
        if (ts, nanos) > (self.last_ts, self.last_nanos):
            self.last_ts, self.last_nanos = ts, nanos
            return
        if ts < self.last_ts - CLOCK_RESET and self.clock_back_line is None:
            self.clock_back_line = line
        if (ts, nanos) < (self.first_ts, self.first_nanos):
            self.first_ts, self.first_nanos = ts, nanos

    def close(self) -> Iterator[Item]:
        out = self._release(self._held or [])
        out.extend(self._tracebacks.close())
        out.extend(self._close_bar())
        out.extend(self._close_lowvram())
        out.extend(self._flush_activity())
        return iter(out)

    # ---- a traceback whose head is cut --------------------------------------------------------
    def _hold(self, line: int, ts: datetime | None, resolution: float, text: str) -> list[Item]:
        """A line while the input's first indented lines are held: hold it too, or decide."""
        held = self._held
        assert held is not None
        if not held and not text.strip():
            return self._parse(line, ts, resolution, text)  # blank lines before anything: nothing to hold
        if (may_hold_at_start(text) and len(held) < MAX_HELD_LINES
                and self._held_chars + len(text) <= MAX_HELD_CHARS):
            held.append((line, ts, resolution, text))
            self._held_chars += len(text)
            return []
        if held and text[:1] not in (" ", "\t") and is_cut_traceback([h[3] for h in held], text):
            # Read as if its header came just before: every held line and this one are the traceback's.
            first = held[0]
            self._tracebacks.open = Event(EventKind.TRACEBACK, first[0], first[1],
                                          {"lines": 0, "pattern": "traceback", "text": first[3].strip()[:500]},
                                          self.source)
        out = self._release(held)
        out.extend(self._parse(line, ts, resolution, text))
        return out

    def _release(self, held: list[tuple[int, datetime | None, float, str]]) -> list[Item]:
        """Read the held lines, in order, as they would have been read had none been held."""
        self._held = None
        out: list[Item] = []
        for line in held:
            out.extend(self._parse(*line))
        return out

    # ---- a line ---------------------------------------------------------------------------------
    def _parse(self, number: int, ts: datetime | None, resolution: float, text: str) -> list[Item]:
        """A line whose prefix is read: its items, after the activity runs up to it."""
        out: list[Item] = []

        if self._tracebacks.active:
            taken, done = self._tracebacks.feed(number, ts, text)
            if taken:
                self._mark(number, ts, resolution, Phase.OTHER)
                return self._take_closed()
            if done is not None:
                out.append(done)

        # A completed bar not redrawn on this line is finished.
        if self._bar is not None and self._bar.complete and self._bar.last.line < number:
            if not self._is_close_redraw(text, ts, number):
                out.extend(self._close_bar())

        events: list[Event] = []
        phase = Phase.OTHER
        self._line_states = 0
        self._line_messages = 0
        self._line_background = False
        segments = text.split("\r") if "\r" in text else (text,)
        for i, segment in enumerate(segments):
            if i > 0 and may_start_with_prefix(segment):
                segment = self.prefixes.read(segment).text
            phase = self._segment(segment, number, ts, events, out, phase)

        if not (self._line_background and not self._line_messages and not self._line_states):
            isolated = (self._line_states > 0 or any(e.kind in START_MARKERS for e in events)
                        or BANNER_RULE_RE.match(text))
            self._mark(number, ts, resolution, phase, isolated=bool(isolated))
        if events:
            out.extend(self._flush_activity())
            out.extend(events)
        elif self._closed:
            out.extend(self._take_closed())
        return out

    # ---- messages -----------------------------------------------------------------------------
    def _segment(
        self, text: str, line: int, ts: datetime | None, events: list[Event], out: list[Item], phase: Phase
    ) -> Phase:
        while text:
            m = find_state(text)
            if m is None:
                return self._messages(text, line, ts, events, out, phase)
            before = text[: m.start("label")]
            if before.strip():
                phase = self._messages(before, line, ts, events, out, phase)
            out.extend(self._progress(m, line, ts))
            text = text[m.end() :]
            if may_start_with_prefix(text):
                text = self.prefixes.read(text).text
        return phase

    def _messages(
        self, text: str, line: int, ts: datetime | None, events: list[Event], out: list[Item], phase: Phase
    ) -> Phase:
        for _ in range(MAX_GLUED_MESSAGES):
            matched = find_message(text)
            if matched is None:
                return phase
            pattern, pm = matched
            if pattern.kind is EventKind.BACKGROUND:
                self._line_background = True  # another thread's line: no event, and alone no activity (feed)
            else:
                self._line_messages += 1
                if phase is Phase.OTHER:
                    phase = pattern.phase
                self._emit(pattern, pm, line, ts, events, out)
            if not (pattern.glued and pm.end() < len(text)):
                return phase
            text = text[pm.end() :]
        self.skipped_lines += 1  # a hostile line of glued messages: the rest of it is not read
        return phase

    def _emit(
        self, pattern: Pattern, m: re.Match[str], line: int, ts: datetime | None, events: list[Event],
        out: list[Item],
    ) -> None:
        kind = pattern.kind
        if kind is EventKind.LOWVRAM_MODULES:
            if self._lowvram is None:
                fields0: dict[str, Any] = {"count": 0, "pattern": pattern.name, "text": m.string[:500]}
                self._lowvram = Event(kind, line, ts, fields0, self.source)
            self._lowvram.fields["count"] += 1
            self._lowvram.end_line = line
            self._lowvram.end_ts = ts
            return
        out.extend(self._close_lowvram())
        if kind is EventKind.TRACEBACK:
            self._tracebacks.start(Event(kind, line, ts, {"lines": 1, "pattern": pattern.name, "text": m.string[:500]},
                                         self.source))
            return
        if kind in CLOSES_BAR:
            out.extend(self._close_bar())
        fields: dict[str, Any] = match_fields(pattern, m)
        fields["pattern"] = pattern.name
        fields["text"] = m.string[:500]
        if kind is EventKind.EXCEPTION and is_oom(fields.get("message", "")):
            fields["oom"] = True
        events.append(Event(kind, line, ts, fields, self.source))

    # ---- progress bars ------------------------------------------------------------------------
    def _progress(self, m: re.Match[str], line: int, ts: datetime | None) -> list[Item]:
        self._line_states += 1
        label = m.group("label").strip().rstrip(":").strip() or None
        try:
            n = si_number(m.group("n"))
            total = si_number(m.group("total"))
            elapsed = _elapsed_seconds(m.group("elapsed"))
        except ValueError:
            self.skipped_lines += 1
            return []
        rate_text = m.group("rate")
        rate = None if rate_text == "?" else float(rate_text)
        unit = m.group("unit") or "it/s"
        state = _State(line, ts, label, n, total, elapsed, rate, unit)
        out: list[Item] = []
        bar = self._bar
        if bar is not None:
            last = bar.last
            new_bar = (
                last.total != total
                or last.label != label
                or n < last.n
                or (bar.complete and line > last.line and not self._continues(bar, state))
            )
            if new_bar:
                out.extend(self._close_bar())
                bar = None
        if bar is None:
            bar = self._bar = _Bar(ts_before=self._last_ts)
        bar.states.append(state)
        return out

    def _continues(self, bar: _Bar, state: _State) -> bool:
        """Is ``state`` (on a later line) tqdm's close() redraw of the completed ``bar``?

        Only when the bar's last line held a single completed state: a line that already holds
        the update and the close (``100%... 2.53it/s\r100%... 2.47it/s``) ended its bar.
        """
        last = bar.last
        on_last_line = sum(1 for s in bar.states[-3:] if s.line == last.line and s.n >= s.total)
        if on_last_line != 1 or state.line != last.line + 1 or state.n != last.n:
            return False
        if state.elapsed_s == last.elapsed_s:
            return self._same_close(last, state, 0.0)
        # close() redraws with the elapsed time at closing, later than the last update's when the
        # sampler worked on after its last step (a paste: `4/4 [03:50<00:00, 57.68s/it]` then `4/4
        # [04:19<00:00, 64.88s/it]`, robertvoy/ComfyUI-Distributed#66). Only for a bar drawn a state a
        # line, whose last state is its first complete one: a new bar would draw its 0% state first.
        before = bar.states[-2] if len(bar.states) > 1 else None
        return (state.elapsed_s > last.elapsed_s and before is not None and before.line < last.line
                and before.n < before.total and self._same_close(last, state, state.elapsed_s - last.elapsed_s))

    @staticmethod
    def _same_close(last: _State, state: _State, later_s: float) -> bool:
        """Stamps, where both lines have them, agree: the redraw came ``later_s`` after the update."""
        if state.ts is not None and last.ts is not None:
            return abs((state.ts - last.ts).total_seconds() - later_s) <= CLOSE_REDRAW_S
        return True

    def _is_close_redraw(self, text: str, ts: datetime | None, line: int) -> bool:
        assert self._bar is not None
        m = find_state(text.lstrip("\r"))
        if m is None:
            return False
        label = m.group("label").strip().rstrip(":").strip() or None
        last = self._bar.last
        try:
            n, total = si_number(m.group("n")), si_number(m.group("total"))
            elapsed = _elapsed_seconds(m.group("elapsed"))
        except ValueError:
            return False
        probe = _State(line, ts, label, n, total, elapsed, None, "")
        return label == last.label and total == last.total and self._continues(self._bar, probe)

    def _close_bar(self) -> list[Item]:
        bar = self._bar
        if bar is None:
            return []
        self._bar = None
        first, last = bar.states[0], bar.states[-1]
        rate, elapsed = last.rate, last.elapsed_s
        if len(bar.states) > 1:
            # A redraw at the same count and a later elapsed (tqdm's close() 2:13 after the last step: `4/4
            # [18:30<00:00, 272.19s/it]` then `4/4 [20:43<00:00, 310.90s/it]`, Zehong-Ma/ComfyUI-MagCache#45; or an
            # interrupt's redraw) gives the average with the time after the steps in it: the steps' rate is the
            # one drawn at the last step (CLOSE_AFTER_STEPS_SHARE).
            before = bar.states[-2]
            if (before.n == last.n and before.rate is not None and before.unit == last.unit
                    and last.elapsed_s - before.elapsed_s > CLOSE_AFTER_STEPS_SHARE * before.elapsed_s):
                rate = before.rate
                elapsed = bar_seconds(elapsed, last.n, last.rate, last.unit)  # the close's rate: finer than seconds
        fields: dict[str, Any] = {
            "label": last.label,
            "total": int(last.total) if last.total.is_integer() else last.total,
            "done": int(last.n) if last.n.is_integer() else last.n,
            "final_rate": rate,
            "rate_unit": last.unit,
            "elapsed_s": elapsed,
            "first_elapsed_s": first.elapsed_s,
            "states": len(bar.states),
            "ts_before": bar.ts_before,
        }
        event = Event(EventKind.PROGRESS_BAR, first.line, first.ts, fields, self.source, last.line, last.ts)
        return [*self._flush_activity(), event]

    # ---- lowvram and activity -----------------------------------------------------------------
    def _close_lowvram(self) -> list[Item]:
        if self._lowvram is None:
            return []
        event, self._lowvram = self._lowvram, None
        return [*self._flush_activity(), event]

    def _mark(
        self, line: int, ts: datetime | None, resolution: float, phase: Phase, isolated: bool = False
    ) -> None:
        """Add a timestamped line to the activity runs.

        ``isolated`` lines (those holding progress states) get a run of their own, so the times of
        the lines just before and after a bar stay known: the segmenter needs them to place the bar.
        """
        if ts is None:
            return
        if self._last_ts is not None and self._last_ts - CLOCK_RESET <= ts < self._last_ts:
            ts = self._last_ts  # a moment back is two writers, not time running backwards: keep order
        self._last_ts = ts
        act = self._activity
        if isolated:
            if act is not None:
                self._closed.append(act)
            self._closed.append(Activity(phase, ts, ts, line, line, self.source, resolution))
            self._activity = None
            self._isolate_next = True
            return
        if act is not None and act.phase is phase and phase is not Phase.WAIT and not self._isolate_next:
            act.last_ts = ts
            act.last_line = line
            act.resolution = max(act.resolution, resolution)
            return
        if act is not None:
            self._closed.append(act)
        self._activity = Activity(phase, ts, ts, line, line, self.source, resolution)
        self._isolate_next = False

    def _take_closed(self) -> list[Item]:
        closed: list[Item] = list(self._closed)
        self._closed.clear()
        return closed

    def _flush_activity(self) -> list[Item]:
        flushed = self._take_closed()
        if self._activity is not None:
            flushed.append(self._activity)
            self._activity = None
        return flushed

    # ---- for a live reader (comfylog watch) ---------------------------------------------------
    @property
    def open_bar(self) -> OpenBar | None:
        """The progress bar being drawn now, as its last state shows it (None between bars)."""
        if self._bar is None:
            return None
        last = self._bar.last
        return OpenBar(last.label, last.n, last.total, last.rate, last.unit, last.elapsed_s, last.line, last.ts)


@dataclass(frozen=True)
class OpenBar:
    """The last state of the progress bar being drawn (Parser.open_bar)."""

    label: str | None
    n: float
    total: float
    rate: float | None
    unit: str
    elapsed_s: float
    line: int
    ts: datetime | None


def parse(lines: Iterable[RawLine], source: int = 0) -> Iterator[Item]:
    """Parse ``lines`` into Events and Activities, in order."""
    parser = Parser(source)
    for raw in lines:
        yield from parser.feed(raw)
    yield from parser.close()


__all__ = ["Item", "OpenBar", "Parser", "parse"]
