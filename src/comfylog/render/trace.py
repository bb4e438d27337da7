"""``comfylog export LOG --format trace``: the Trace Event Format (JSON) that Perfetto and chrome://tracing open.

One process per run (or, for several logs, one per log, so a fleet opens as one timeline). Its
threads: the run with its start-up; the prompts, each a complete event with its phases nested in
it (``Prompt.spans``); model loads as slices with their MB; sampling bars as slices, their step
rate as a counter; errors, restarts, websocket timeouts, unfinished prompts and findings as
instant events with their log lines in ``args``.

Timestamps are integer microseconds from the log's first run. The format's rules are kept by
construction: slices that would overlap on one thread go to a second lane (Perfetto draws only
slices that nest strictly), children are clipped to their parent, events of a thread are written in
time order. Prompts that have no timed spans (minute stamps, no timestamps) are laid out back to
back from their durations (at their minute where the log has one), as the HTML timeline does, and
are marked estimated; so are logs with time-only or minute stamps (``otherData`` and the process
labels say which).

Memory stays flat on long logs: each run is laid out and written before the next is read (its
slices are dropped once written), and lines that instants wait for (findings, errors without a
time) are known before the layout, so only their nearest placed line is kept, not every line.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import weakref
from array import array
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableSequence, Sequence
from dataclasses import field
from datetime import datetime
from functools import partial
from itertools import islice
from json.encoder import encode_basestring
from operator import attrgetter, itemgetter
from typing import Any, TextIO

from ..dataclass import dataclass
from ..events import Event as LogEvent
from ..events import EventKind
from ..index import ReportIndex, evidence_in_line_order, index_of, main_bar_of, main_bar_text_of
from ..model import PHASES, ErrorRecord, Finding, Load, ProgressBar, Prompt, Report, Run, span_kind
from ..read.redact import Redactor
from ..spool import walk
from ..text import TIME_ONLY_BASE, basename, clip, clock, fmt_s, is_time_only, plural, when
from ..version import __version__
from .external_sort import ExternalSort

#: Log text carried in ``args`` is cut to this many characters, and findings carry at most this many lines.
MAX_TEXT = 300
MAX_EVIDENCE = 25
#: Threads of a process, in display order (``tid`` = order * LANES_PER_TRACK + lane).
TRACKS = ("run", "prompts", "model loads", "progress bars", "events")
LANES_PER_TRACK = 100
#: The ``tid`` of each track's first lane.
_TRACK_TIDS = {track: order * LANES_PER_TRACK + 1 for order, track in enumerate(TRACKS)}
#: Events a process gathers before it hands them on (``_Process.flush``).
FLUSH_BATCH = 512
#: Name of the step-rate counter (a track per process in Perfetto).
RATE_COUNTER = "step rate"
#: Websocket lines shown as instants, with their names.
WEBSOCKET_INSTANTS = ((EventKind.WS_TIMEOUT, "websocket receive timed out"),
                      (EventKind.WS_RECONNECT, "websocket reconnect"))

#: A trace event as the JSON text it is written as, in pieces: ``head``, ``ts``, ``mid``, ``pid``, ``tail``
#: (``head + ts + mid + pid + tail``; ``head + pid + tail`` for metadata, whose ``ts`` is None), so that a
#: fleet's ``write_trace`` can move the times and renumber the processes without decoding an event. The
#: text is made as each record is laid out: json's encoder, called per event on a dict, cost a third of
#: the export (5 µs an event, 700,000 events per 256 MB of log).
Event = tuple[str, int | None, str, int, str]

#: A string as json writes it with ensure_ascii=False (the C function its encoder calls).
_str = encode_basestring


def _opt_str(value: str | None) -> str:
    return "null" if value is None else _str(value)


def _num(value: float | None) -> str:
    """A number or None as json writes it: ``repr``, ``null``; ``NaN`` and ``Infinity`` (and anything else) by json."""
    if value is None:
        return "null"
    kind = type(value)
    if kind is float:
        text = float.__repr__(value)
        if text[-1] not in "nf":  # nan, inf: json spells them NaN, Infinity
            return text
    elif kind is int:
        return int.__repr__(value)
    return _ENCODE(value)


def _metadata(name: str, pid: int, key: str, value: str | int, tid: int | None = None) -> Event:
    """A metadata event (no time): a process's or a thread's name or order, its one argument ``key``."""
    tail = "" if tid is None else f', "tid": {tid}'
    text = _str(value) if isinstance(value, str) else _num(value)
    return f'{{"ph": "M", "name": {_str(name)}, "pid": ', None, "", pid, f'{tail}, "args": {{{_str(key)}: {text}}}}}'


def _clip(text: str) -> str:
    return clip(text, MAX_TEXT)


def _seconds(value: object) -> float | None:
    """A phase's seconds, None when it could not be timed (another stream makes such phases None)."""
    return float(value) if isinstance(value, (int, float)) else None


@dataclass(slots=True)
class _Slice:
    start: int
    end: int
    name: str
    cat: str
    #: its ``args`` as JSON text
    args: str = "{}"
    children: list[_Slice] = field(default_factory=list)

    def __reduce__(self) -> tuple[type[_Slice], tuple[Any, ...]]:
        """Pickled as its fields (a long run's slices wait on disk to be sorted): a fifth faster than a dataclass's
        state dict."""
        return _Slice, (self.start, self.end, self.name, self.cat, self.args, self.children)


@dataclass(slots=True)
class _Instant:
    at: int
    name: str
    cat: str
    #: its ``args`` as JSON text
    args: str

    def __reduce__(self) -> tuple[type[_Instant], tuple[Any, ...]]:
        return _Instant, (self.at, self.name, self.cat, self.args)


def _slice_order(s: _Slice) -> tuple[int, int]:
    """Slices in time order, a longer one before those it holds."""
    return s.start, -s.end


#: An instant as its process keeps it until written: (µs, name, cat, args as JSON text); a tuple pickles
#: in C where a long run's instants wait on disk (external_sort.py).
_Placed = tuple[int, str, str, str]


class _StepRates:
    """The start, end and it/s of every process's sampling bars, kept to the end for the step-rate counters:
    as points (pid, time, 0 end / 1 start, bar, it/s) in an external sort, so that one long run's bars are
    not all in memory (a list of them per process grew with the run: 20,000 prompts' bars)."""

    #: Points held in memory before they go to disk (a point is a small tuple, ~150 bytes).
    HOLD = 16384

    def __init__(self) -> None:
        self._points: ExternalSort[tuple[int, int, int, int, float]] = ExternalSort(hold=self.HOLD)
        self._sorted: Iterator[tuple[int, int, int, int, float]] | None = None
        self._next: tuple[int, int, int, int, float] | None = None

    def add(self, pid: int, bar: int, start: int, end: int, rate: float) -> None:
        self._points.append((pid, start, 1, bar, rate))
        self._points.append((pid, end, 0, bar, rate))

    def of(self, pid: int) -> Iterator[tuple[int, int, int, float]]:
        """The points of process ``pid`` in time order, as (time, 0 end / 1 start, bar, it/s); asked for
        processes in pid order, once each, after the last point was added."""
        if self._sorted is None:
            self._sorted = self._points.drain()
            self._next = next(self._sorted, None)
        while self._next is not None and self._next[0] < pid:
            self._next = next(self._sorted, None)
        while self._next is not None and self._next[0] == pid:
            yield self._next[1:]
            self._next = next(self._sorted, None)


class _Process:
    """One trace process: its slices and instants are written as each run is laid out (``flush``), its
    labels and step-rate counter once the whole report is (``finish``)."""

    def __init__(self, pid: int, name: str, sort_index: int, rates: _StepRates) -> None:
        self.pid = pid
        self.name = name
        self.labels: list[str] = []
        self.sort_index = sort_index
        #: Per track, the slices and the instants gathered since the last flush, sorted as they come, on disk past
        #: external_sort.HOLD: one run of 20,000 prompts is laid out whole before it is written.
        self.slices: dict[str, ExternalSort[_Slice]] = {}
        self.instants: ExternalSort[_Placed] | None = None
        self.rates = rates
        self.rate_bars = 0
        self._named = False
        #: Per track, where each lane's last slice (or instant) ends: a slice goes to the first lane free
        #: by its start, so each thread's events are written in time order and never overlap.
        self._lane_ends: dict[str, list[int]] = defaultdict(list)

    def flush(self) -> Iterator[Event]:
        """The slices and instants gathered since the last flush, in time order, lanes opened as needed."""
        pid = self.pid
        if not self._named:
            self._named = True
            yield _metadata("process_name", pid, "name", self.name)
            yield _metadata("process_sort_index", pid, "sort_index", self.sort_index)
        # events gathered in lists of some FLUSH_BATCH and handed over a list at a time
        out: list[Event] = []
        for track in TRACKS:
            slices = self.slices.pop(track, None)
            if slices is None:
                continue
            ends, base = self._lane_ends[track], _TRACK_TIDS[track]
            for s in slices.drain():
                if ends and ends[0] <= s.start:  # the first lane is free (nearly always): _lane's first answer
                    ends[0] = s.end
                    tid = base
                else:
                    tid, named = self._lane(track, s.start, s.end)
                    out += named
                out += _slice_events(s, pid, tid)
                if len(out) >= FLUSH_BATCH:
                    yield from out
                    out = []
        if self.instants is not None:
            instants, self.instants = self.instants, None
            ends, base = self._lane_ends["events"], _TRACK_TIDS["events"]
            for at, name, cat, args in instants.drain():
                if ends and ends[0] <= at:
                    ends[0] = at
                    tid = base
                else:
                    tid, named = self._lane("events", at, at)
                    out += named
                out.append((f'{{"ph": "i", "s": "t", "name": {_str(name)}, "cat": {_str(cat)}, "ts": ', at,
                            ', "pid": ', pid, f', "tid": {tid}, "args": {args}}}'))
                if len(out) >= FLUSH_BATCH:
                    yield from out
                    out = []
        yield from out

    def add_slice(self, track: str, s: _Slice) -> None:
        slices = self.slices.get(track)
        if slices is None:
            slices = self.slices[track] = ExternalSort(_slice_order)
        slices.append(s)

    def add_instant(self, instant: _Instant) -> None:
        self.add_instant_at(instant.at, instant.name, instant.cat, instant.args)

    def add_instant_at(self, at: int, name: str, cat: str, args: str) -> None:
        """An instant at ``at`` (µs), its ``args`` as JSON text."""
        instants = self.instants
        if instants is None:
            instants = self.instants = ExternalSort(itemgetter(0))
        instants.append((at, name, cat, args))

    def add_rate(self, start: int, end: int, rate: float) -> None:
        """A sampling bar's step rate from ``start`` to ``end``, for the counter (``finish``)."""
        self.rates.add(self.pid, self.rate_bars, start, end, rate)
        self.rate_bars += 1

    def _lane(self, track: str, start: int, end: int) -> tuple[int, tuple[Event, ...]]:
        """The thread of the first lane of ``track`` free at ``start`` (now busy to ``end``), with the
        metadata that names it if it is a new lane."""
        ends = self._lane_ends[track]
        base = _TRACK_TIDS[track]
        for lane, last in enumerate(ends):
            if last <= start:
                ends[lane] = end
                return base + lane, ()
        lane = len(ends)
        ends.append(end)
        tid = base + lane
        return tid, _thread_names(self.pid, tid, track if lane == 0 else f"{track} ({lane + 1})")

    def finish(self) -> Iterator[Event]:
        """What is left once the whole report is laid out: its last instants, labels, the step rate."""
        yield from self.flush()
        if self.labels:
            yield _metadata("process_labels", self.pid, "labels", ", ".join(self.labels))
        yield from self._rate_counter()

    def _rate_counter(self) -> Iterator[Event]:
        """The step rate as a step function: a bar's rate while it runs (the latest started), 0 between."""
        points = self.rates.of(self.pid)
        pid = self.pid
        head = f'{{"ph": "C", "name": {_str(RATE_COUNTER)}, "ts": '
        active: list[int] = []
        rates: dict[int, float] = {}  # of the active bars
        last: float | None = None
        point = next(points, None)
        while point is not None:
            at, kind, number, rate = point
            if kind:
                active.append(number)
                rates[number] = rate
            elif number in active:
                active.remove(number)
                del rates[number]
            point = next(points, None)
            if point is not None and point[0] == at:
                continue  # one value per instant: the state after every change at that time
            value = round(rates[active[-1]], 4) if active else 0
            if last is not None and last == value:
                continue
            last = value
            yield head, at, ', "pid": ', pid, f', "args": {{"it/s": {_num(value)}}}}}'


def _thread_names(pid: int, tid: int, name: str) -> tuple[Event, Event]:
    return (_metadata("thread_name", pid, "name", name, tid),
            _metadata("thread_sort_index", pid, "sort_index", tid, tid))


def _slice_events(top: _Slice, pid: int, tid: int) -> list[Event]:
    """A slice and its children (nested, clipped to it and to each other), as complete events."""
    if not top.children:
        return [(f'{{"ph": "X", "name": {_str(top.name)}, "cat": {_str(top.cat)}, "ts": ', top.start,
                 f', "dur": {top.end - top.start}, "pid": ', pid, f', "tid": {tid}, "args": {top.args}}}')]
    out: list[_Slice] = []
    stack = [top]
    while stack:
        s = stack.pop()
        out.append(s)  # its start and end are final: only its children are clipped from here
        if not s.children:
            continue
        cursor = s.start
        kept: list[_Slice] = []
        for child in sorted(s.children, key=_slice_order):
            child.start = min(max(child.start, cursor), s.end)
            child.end = min(max(child.end, child.start), s.end)
            if child.end == child.start and child.start >= s.end and s.end > s.start:
                continue  # squeezed out of its parent: nothing left to show
            kept.append(child)
            cursor = child.end
        stack += reversed(kept)
    out.sort(key=_slice_order)  # by time, a longer one first: (ts, -dur)
    after = f', "tid": {tid}, "args": '
    return [(f'{{"ph": "X", "name": {_str(s.name)}, "cat": {_str(s.cat)}, "ts": ', s.start,
             f', "dur": {s.end - s.start}, "pid": ', pid, f'{after}{s.args}}}') for s in out]


class _Clock:
    """Microseconds on the trace's time axis for the times of one log."""

    def __init__(self, origin: datetime | None) -> None:
        self.origin = origin
        self._time_only = origin is not None and is_time_only(origin)

    def us(self, ts: datetime) -> int:
        assert self.origin is not None
        return round((ts - self.origin).total_seconds() * 1_000_000)

    def at(self, ts: datetime | None) -> int | None:
        """``us(ts)`` where ``ts`` is on this log's clock, else None (a dated time is not comparable with a
        time-only one)."""
        origin = self.origin
        if ts is None or origin is None or (ts.year == TIME_ONLY_BASE.year) != self._time_only:
            return None
        return round((ts - origin).total_seconds() * 1_000_000)


def _us(seconds: float) -> int:
    return round(seconds * 1_000_000)


def _secs(us: int) -> float:
    return round(us / 1_000_000, 3)


@dataclass
class TracePart:
    """One log's share of a trace: its events (times from ``origin``, pids from 1) and what its clock was.

    ``origin`` is the wall time of ts 0 for a dated log, None otherwise (time-only and clockless
    logs start at 0); ``write_trace`` shifts the dated parts of a fleet onto one axis. ``events`` may
    be a generator that lays the log out as it is written: ``clock`` and ``estimated`` are known once
    it has run to its end (``settled``), which ``to_disk`` does at once (to send a part between
    processes).
    """

    name: str
    origin: datetime | None
    processes: int
    events: Iterable[Event]
    clock: str = "no runs"
    estimated: bool = False

    def to_disk(self) -> TracePart:
        """Lay the log out to its end, its events written to a temporary file that the part reads back
        once: a fleet's parts are all made before the first is written, and one long run's events held
        as a list were hundreds of MB (a 40 MB log of one run: 233 MB)."""
        self.events = _EventsOnDisk(self.events)
        return self


class _EventsOnDisk:
    """Trace events as JSON lines in a temporary file, read back once, the file removed then (or when the
    part is dropped unread, or at exit). Sent to another process, the part is its path: the file is that
    process's to remove."""

    def __init__(self, events: Iterable[Event]) -> None:
        descriptor, self.path = tempfile.mkstemp(prefix="comfylog-trace-", suffix=".jsonl")
        try:
            with os.fdopen(descriptor, "w", encoding="ascii") as out:  # ASCII: log text's lone surrogates kept
                for event in events:
                    out.write(_ENCODE_ASCII(event) + "\n")
        except BaseException:
            _remove(self.path)
            raise
        self._remover = weakref.finalize(self, _remove, self.path)

    def __getstate__(self) -> dict[str, str]:
        self._remover.detach()  # sent: the receiver removes it
        return {"path": self.path}

    def __setstate__(self, state: dict[str, str]) -> None:
        self.path = state["path"]
        self._remover = weakref.finalize(self, _remove, self.path)

    def __iter__(self) -> Iterator[Event]:
        try:
            with open(self.path, encoding="ascii") as lines:
                for line in lines:
                    head, ts, mid, pid, tail = json.loads(line)
                    yield head, ts, mid, pid, tail
        finally:
            self._remover()


def _remove(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


def report_trace(report: Report, per_run: bool = True, name: str | None = None) -> TracePart:
    """The trace of one analysed log: a process per run, or one for the whole log (``per_run=False``).

    Runs are laid out and written one at a time as the part's events are read; each run's errors and
    websocket lines with it, and the instants that wait for a line's time (findings, lines without a
    time of their own) as soon as the runs up to their line are.
    """
    index = index_of(report)
    source_names = [src.name for src in report.sources]
    name = name or " + ".join(source_names) or "log"
    origins = [r.started_at for r in report.runs if r.started_at is not None]
    origin = min(origins) if origins else None
    layout = _Layout(report, index, _Clock(origin))
    processes: dict[int, _Process] = {}
    rates = _StepRates()
    gpu = next((r.gpu for r in report.runs if r.gpu), None)

    def process_of(run: Run | None) -> _Process:
        key = run.index if per_run and run is not None else -1
        found = processes.get(key)
        if found is None:
            pid = len(processes) + 1
            if key == -1:
                title = " · ".join(bit for bit in (basename(name), gpu) if bit)
            else:
                assert run is not None
                title = " · ".join(bit for bit in (f"run {run.index + 1}", run.gpu) if bit)
                title += " (after a restart)" if run.restart else ""
            found = processes[key] = _Process(pid, title, pid, rates)
        return found

    for run in report.runs:
        process_of(run)
    if not report.runs:
        process_of(None)
    layout.plan_instants(process_of)
    part = TracePart(name=name, origin=origin if origin is not None and not is_time_only(origin) else None,
                     processes=len(processes), events=())
    runs = report.runs

    def events() -> Iterator[Event]:
        for position, run in enumerate(runs):
            process = process_of(run)
            layout.add_run(process, run)
            after = runs[position + 1] if position + 1 < len(runs) else None
            layout.place_waiting(run.source, after.first_line if after and after.source == run.source else None)
            yield from process.flush()
        layout.place_waiting(None, None)
        kinds = layout.clock_kinds()
        for key, process in processes.items():
            run_kinds = layout.run_clock.get(key) if per_run else None
            own = [run_kinds] if run_kinds else kinds
            process.labels = [k if k == "wall clock" else f"{k} (estimated)" for k in own]
            yield from process.finish()
        part.clock = ", ".join(kinds) or "no runs"
        part.estimated = any(kind != "wall clock" for kind in kinds)

    part.events = events()
    return part


class _Anchors:
    """For each line an instant waits for, the latest placed line at or before it (by line, then time).

    The waiting lines are known before the layout, so of the hundreds of thousands of placed lines of
    a long log only one per waiting line is kept: a placed line improves the first waiting line at or
    after it, and ``resolve`` carries the best forward. A waiting line with no placed line before it
    takes the source's first placed line.
    """

    def __init__(self, waiting: Iterable[tuple[int, int]]) -> None:
        by_source: dict[int, set[int]] = defaultdict(set)
        for source, line in waiting:
            by_source[source].add(line)
        self._waiting = {source: sorted(lines) for source, lines in by_source.items()}
        self._best: dict[int, list[tuple[int, int] | None]] = {s: [None] * len(w) for s, w in self._waiting.items()}
        self._first: dict[int, tuple[int, int]] = {}  # source -> its least (line, µs)
        self._resolved = dict.fromkeys(self._waiting, 0)  # waiting lines resolved so far, per source
        self._carry: dict[int, tuple[int, int] | None] = {}  # the best of those

    def add(self, source: int, line: int, at: int) -> None:
        point = (line, at)
        first = self._first.get(source)
        if first is None or point < first:
            self._first[source] = point
        waiting = self._waiting.get(source)
        if waiting:
            i = bisect_left(waiting, line)
            if i < len(waiting):
                bests = self._best[source]
                best = bests[i]
                if best is None or point > best:
                    bests[i] = point

    def resolve(self, source: int, before: int | None) -> list[tuple[int, int | None]]:
        """(line, µs) of the waiting lines of ``source`` below ``before`` (all if None) not resolved
        yet, once every line placed before them is in; µs is None where the source has no placed line at
        the end (``before`` None)."""
        waiting = self._waiting.get(source)
        if not waiting:
            return []
        first = self._first.get(source)
        if first is None and before is not None:
            return []  # nothing of the source placed yet: a waiting line there may still take its first
        best, i, carry = self._best[source], self._resolved[source], self._carry.get(source)
        out: list[tuple[int, int | None]] = []
        while i < len(waiting) and (before is None or waiting[i] < before):
            here = best[i]
            if carry is not None and (here is None or carry > here):
                here = carry
            carry = here
            point = here or first
            out.append((waiting[i], None if point is None else point[1]))
            i += 1
        self._resolved[source], self._carry[source] = i, carry
        return out

    @property
    def sources(self) -> list[int]:
        return list(self._waiting)


class _Layout:
    """Places one report's records on the time axis and remembers where the lines instants wait for landed.

    Records that carry no time of their own (errors and websocket lines of a log without a clock,
    findings) are placed last, at the time of the nearest placed line before theirs.
    """

    def __init__(self, report: Report, index: ReportIndex, clock: _Clock) -> None:
        self.report = report
        self.index = index
        self.clock = clock
        self.cursor = 0  # end of what was placed so far, where a run without a clock goes next
        self.anchors = _Anchors(())
        #: Where a line landed (``_Anchors.add`` of the current anchors: a call fewer for every line placed).
        self.anchor: Callable[[int, int, int], None] = self.anchors.add
        #: Instants that wait for their line's time: source -> line -> (process, instant).
        self.waiting: dict[int, dict[int, list[tuple[_Process, _Instant]]]] = defaultdict(lambda: defaultdict(list))
        self.at_start: list[tuple[_Process, _Instant]] = []  # placed where the first run starts
        #: Errors and websocket lines with a time, placed with their run (errors as positions in their table).
        self.run_errors: dict[int, array[int]] = defaultdict(lambda: array("q"))
        self.run_websocket: dict[int, list[tuple[str, LogEvent]]] = defaultdict(list)
        self.run_clock: dict[int, str] = {}
        self.first_run_start: int | None = None
        self._sources_json: dict[int, str] = {}
        #: Each prompt's loads and bars, asked for once each, run after run: the tables read in one pass.
        self._loads_of = index.loads_in_order()
        self._bars_of = index.bars_in_order()
        #: A time's µs on the trace's axis, None where it has none there (``_Clock.at``).
        self._at: Callable[[datetime | None], int | None] = clock.at

    # ---- where lines are
    def plan_instants(self, process_of: Callable[[Run | None], _Process]) -> None:
        """Before the layout: which run places each error and websocket line that has a time; which lines
        the others and the findings wait for. Lines outside every run are placed now."""
        outside: list[tuple[_Process, int, int, int, _Instant]] = []

        def plan(source: int, line: int, ts: datetime | None, per_run: Mapping[int, MutableSequence[Any]], ref: Any,
                 make: Callable[[], _Instant]) -> None:
            run = self.index.run_at(source, line)
            at = self._at(ts)
            if at is not None and run is not None:
                per_run[run.index].append(ref)  # placed with its run (add_run_instants)
            elif at is None:
                self.waiting[source][line].append((process_of(run), make()))
            else:
                outside.append((process_of(run), source, line, at, make()))

        for position, error in enumerate(self.report.errors):
            plan(error.source, error.line, error.ts, self.run_errors, position, partial(self._error_instant, error))
        for kind, what in WEBSOCKET_INSTANTS:
            for ev in self.index.events.get(kind, ()):
                plan(ev.source, ev.line, ev.ts, self.run_websocket, (what, ev),
                     partial(self._websocket_instant, what, ev))
        for finding in self.report.findings:
            self.add_finding(process_of(self.run_of_finding(finding)), finding)
        self.anchors = _Anchors((source, line) for source, lines in self.waiting.items() for line in lines)
        self.anchor = self.anchors.add
        for ev in self.report.notable:  # ``Sampling 121 frames``, ``Requested to load``, ...: placed lines too
            at = self._at(ev.ts)
            if at is not None:
                self.anchor(ev.source, ev.line, at)
        for process, source, line, at, instant in outside:
            instant.at = at
            process.add_instant(instant)
            self.anchor(source, line, at)

    def place_waiting(self, source: int | None, before: int | None) -> None:
        """Give the instants waiting for lines of ``source`` below ``before`` (every source and line if
        None) the time of the last placed line at or before theirs: every line up to there is placed."""
        for src in self.anchors.sources if source is None else [source]:
            lines = self.waiting.get(src)
            if not lines:
                continue
            for line, at in self.anchors.resolve(src, before):
                for process, instant in lines.pop(line, ()):
                    instant.at = at if at is not None else self.first_run_start or 0
                    process.add_instant(instant)
        if source is None:
            for process, instant in self.at_start:
                instant.at = self.first_run_start or 0
                process.add_instant(instant)
            self.at_start.clear()

    def clock_kinds(self) -> list[str]:
        return list(dict.fromkeys(self.run_clock.values()))

    # ---- runs
    def add_run(self, process: _Process, run: Run) -> None:
        start_at = self._at(run.started_at)
        start = self.cursor if start_at is None else start_at
        end = max(start, self._at(run.ended_at) or start)
        ready = self._at(run.ready_at)
        if start_at is None and run.startup_s:
            ready = start + _us(run.startup_s)
        cursor = max(start, ready or start)
        estimated = False
        for prompt in self.index.run_prompts(run.index):
            cursor = self.add_prompt(process, prompt, cursor, clocked=start_at is not None)
            end = max(end, cursor)
            estimated = estimated or prompt.estimated
        end = max(end, ready or end)
        if start_at is None:
            kind = "no timestamps: laid out from the durations the log prints"
        elif run.ended_at is None:  # only the start time ComfyUI-Manager printed
            kind = "no timestamps: laid out from the durations the log prints, after its printed start time"
        elif run.started_at is not None and is_time_only(run.started_at):
            kind = "time of day only (no date)"
        elif run.resolution >= 60:
            kind = "minute timestamps: prompts laid out from their printed durations"
        elif estimated:
            kind = "wall clock, some prompts laid out from their printed durations"
        else:
            kind = "wall clock"
        self.run_clock[run.index] = kind
        self.anchor(run.source, run.first_line, start)
        self.anchor(run.source, run.last_line, end)
        args: dict[str, Any] = {"gpu": run.gpu, "total_vram_mb": run.total_vram_mb, "vram_states": run.vram_states,
                                "versions": run.versions(), "started": when(run.started_at),
                                "first_line": run.first_line, "last_line": run.last_line,
                                "source": self._source_name(run.source), "clock": kind}
        top = _Slice(start, end, f"run {run.index + 1}", "run", _ENCODE(args))
        if ready is not None and ready > start:
            top.children.append(_Slice(start, ready, "start-up", "startup", _seconds_args(_secs(ready - start))))
        if start_at is not None:
            for first, last in run.install_spans:
                a, b = self._at(first), self._at(last)
                if a is not None and b is not None and b > a:
                    top.children.append(_Slice(a, b, "installing", "install", _seconds_args(_secs(b - a))))
        process.add_slice("run", top)
        if run.restart:
            process.add_instant_at(start, "restart", "restart", _ENCODE({
                "what": "ComfyUI started again", "line": run.first_line, "source": self._source_name(run.source)}))
        self.cursor = max(self.cursor, end)
        if self.first_run_start is None:
            self.first_run_start = start
        self.add_run_instants(process, run)

    # ---- prompts
    def add_prompt(self, process: _Process, prompt: Prompt, cursor: int, clocked: bool) -> int:
        """Place one prompt (from its spans, or estimated after ``cursor``); return where the next may start."""
        bars = self._bars_of(prompt)  # read once: its main bar's steps, then its bars' slices
        name = f"prompt {prompt.index + 1}"
        if prompt.spans and clocked:
            args = self._prompt_args(prompt, bars, "}")
            bounds = [self.clock.us(prompt.spans[0].start), self.clock.us(prompt.spans[-1].end)]
            bounds += [at for at in (self._at(prompt.started_at), self._at(prompt.ended_at)) if at is not None]
            top = _Slice(min(bounds), max(bounds), name, "prompt", args)
            for span in prompt.spans:
                a, b = self.clock.us(span.start), self.clock.us(span.end)
                kind = span_kind(prompt, span)
                top.children.append(_Slice(a, b, "not timed" if kind == "untimed" else kind, "phase",
                                           _seconds_args(_secs(b - a))))
            self._timed_records(process, prompt, bars, [(c.start, c.end) for c in top.children if c.name == "load"])
        else:
            args = self._prompt_args(prompt, bars, _ESTIMATED_PROMPT)
            anchor = self._at(prompt.started_at or prompt.got_at) if clocked else None
            top = _Slice(max(cursor, anchor or cursor), 0, name, "prompt", args)
            at = top.start
            blocks: dict[str, tuple[int, int]] = {}
            phases = prompt.phases
            for phase in _PHASE_NAMES:
                seconds = _seconds(getattr(phases, phase, None))
                if seconds is None or seconds <= 0:
                    continue
                blocks[phase] = (at, at + _us(seconds))
                top.children.append(_Slice(at, at + _us(seconds), phase, "phase",
                                           f'{{"seconds": {_num(round(seconds, 3))}, "estimated": true}}'))
                at += _us(seconds)
            total = _seconds(prompt.total_s)
            if total is not None and top.start + _us(total) > at:
                if top.children:  # phases that could not be timed (None)
                    top.children.append(_Slice(at, top.start + _us(total), "not timed", "phase",
                                               '{"estimated": true}'))
                at = top.start + _us(total)
            top.end = at
            self._estimated_records(process, prompt, bars, top, blocks)
        if top.end > top.start:
            process.add_slice("prompts", top)
            if prompt.status == "unfinished":
                process.add_instant_at(top.end, f"{name} did not finish", "unfinished", _ENCODE({
                    "what": "the log ends, or ComfyUI starts again, before the prompt finished",
                    "last_line": prompt.last_line, "source": self._source_name(prompt.source)}))
        else:
            process.add_instant_at(top.start, f"{name} ({prompt.status})", "prompt", args)
        self.anchor(prompt.source, prompt.line, top.start)
        self.anchor(prompt.source, prompt.last_line or prompt.line, top.end)
        return top.end

    def _prompt_args(self, prompt: Prompt, bars: list[ProgressBar], end: str) -> str:
        """The prompt's ``args`` as JSON text, ``end`` closing it (``}``, or the estimate's note and ``}``):
        status, times, phases, why some are not timed, its main bar's steps and rate, its lines."""
        steps, rate = main_bar_text_of(main_bar_of([b for b in bars if b.is_sampling]))
        load, inference, wait, other = map(_seconds_text, _PHASE_SECONDS(prompt.phases))
        received = clock(prompt.got_at) if prompt.received else "(before log)"
        return (f'{{"status": {_str(prompt.status)}, "received": {_str(received)}, '
                f'"total": {_str(fmt_s(prompt.total_s, prompt.estimated))}, "total_s": {_num(prompt.total_s)}, '
                f'"phases_s": {{"load": {load}, "inference": {inference}, "wait": {wait}, "other": {other}}}, '
                f'"not_timed": {_not_timed(prompt.not_timed)}, "steps": {_str(steps)}, "rate": {_str(rate)}, '
                f'"line": {prompt.line:d}, "last_line": {prompt.last_line:d}, '
                f'"source": {self._source_json(prompt.source)}{end}')

    # ---- loads and bars
    def _timed_records(self, process: _Process, prompt: Prompt, bars: list[ProgressBar],
                       load_spans: list[tuple[int, int]]) -> None:
        """Loads from their ``Requested to load`` line to the end of their load phase (or the next load)."""
        loads = [(load, at) for load in self._loads_of(prompt) if (at := self._at(load.ts)) is not None]
        requests = [(ev.line, at) for ev in self.index.prompt_events(EventKind.LOAD_REQUESTED, prompt)
                    if (at := self._at(ev.ts)) is not None]
        request_lines = [line for line, _ in requests]  # in line order (ReportIndex.between)
        starts: list[int] = []
        previous_line, previous_at = prompt.line, 0
        for load, at in loads:
            # the last request between the previous load's line and this one's
            asked = bisect_left(request_lines, load.line) - 1
            if asked >= 0 and request_lines[asked] > previous_line:
                starts.append(max(previous_at, min(at, requests[asked][1])))
            else:
                starts.append(at)
            previous_line, previous_at = load.line, at
        for i, (load, at) in enumerate(loads):
            end = next((b for a, b in load_spans if a <= at <= b), at)
            if i + 1 < len(loads):
                end = max(at, min(end, starts[i + 1]))
            process.add_slice("model loads", _Slice(starts[i], end, _load_name(load), "load",
                                                        self._load_args(load, "}")))
            self.anchor(load.source, load.line, at)
        for bar in bars:
            a, b = self._at(bar.start), self._at(bar.end)
            if a is not None and b is not None:
                self._bar(process, bar, a, max(a, b), estimated=False)

    def _estimated_records(self, process: _Process, prompt: Prompt, bars: list[ProgressBar], top: _Slice,
                           blocks: dict[str, tuple[int, int]]) -> None:
        """Loads as instants where the prompt's load time begins; sampling bars in its inference time."""
        start, _end = blocks.get("load", (top.start, top.start))
        for load in self._loads_of(prompt):
            process.add_instant_at(start, _load_name(load), "load", self._load_args(load, _ESTIMATED_LOAD))
            self.anchor(load.source, load.line, start)
        at, stop = blocks.get("inference", (top.start, top.end))
        for bar in bars:
            if not bar.is_sampling:
                continue
            b = min(stop, at + _us(bar.elapsed_s))
            self._bar(process, bar, at, b, estimated=True)
            at = b

    def _bar(self, process: _Process, bar: ProgressBar, a: int, b: int, estimated: bool) -> None:
        steps = f"{bar.done:g}/{bar.total:g}"
        label = f', "label": {_str(_clip(bar.label))}' if bar.label else ""
        args = (f'{{"steps": {_str(steps)}, "rate": {_opt_str(bar.rate_text)}, "elapsed_s": {_num(bar.elapsed_s)}, '
                f'"line": {bar.line:d}, "source": {self._source_json(bar.source)}{label}'
                f'{_ESTIMATED_BAR if estimated else "}"}')
        name = f"{bar.kind._value_} {steps}"
        process.add_slice("progress bars", _Slice(a, b, name, "bar", args))
        per_step = bar.seconds_per_step
        if per_step and bar.is_sampling and b > a:
            process.add_rate(a, b, 1.0 / per_step)
        self.anchor(bar.source, bar.line, a)
        self.anchor(bar.source, bar.end_line, b)

    def _load_args(self, load: Load, end: str) -> str:
        """A load's ``args`` as JSON text, ``end`` closing it."""
        return (f'{{"model": {_opt_str(load.model)}, "kind": {_str(load.kind)}, "loaded_mb": {_num(load.loaded_mb)}, '
                f'"usable_mb": {_num(load.usable_mb)}, "line": {load.line:d}, '
                f'"source": {self._source_json(load.source)}{end}')

    # ---- instants
    def _error_instant(self, error: ErrorRecord) -> _Instant:
        return _Instant(0, error.kind, "error", _ENCODE({
            "message": _clip(error.message), "prompt": None if error.prompt is None else error.prompt + 1,
            "line": error.line, "source": self._source_name(error.source)}))

    def _websocket_instant(self, what: str, ev: LogEvent) -> _Instant:
        return _Instant(0, what, "websocket", _ENCODE({"line": ev.line, "source": self._source_name(ev.source)}))

    def add_run_instants(self, process: _Process, run: Run) -> None:
        """The run's errors and websocket lines that have a time, at that time."""
        # walked, not looked up one by one: a spool keeps a copy of each record looked up by position
        for error in walk(self.report.errors, self.run_errors.pop(run.index, ())):
            self._place_at(process, error.source, error.line, self._at(error.ts), self._error_instant(error))
        for what, ev in self.run_websocket.pop(run.index, ()):
            self._place_at(process, ev.source, ev.line, self._at(ev.ts), self._websocket_instant(what, ev))

    def _place_at(self, process: _Process, source: int, line: int, at: int | None, instant: _Instant) -> None:
        assert at is not None  # planned only with a time
        instant.at = at
        process.add_instant(instant)
        self.anchor(source, line, at)

    def run_of_finding(self, finding: Finding) -> Run | None:
        """The run of a finding's first evidence line that has one (or of its first prompt)."""
        for ev in finding.evidence:
            run = self.index.run_at(ev.source, ev.line)
            if run is not None:
                return run
        for number in finding.prompts:
            prompt = self.index.prompts.get(number)
            if prompt is not None:
                return self.index.run_of(prompt)
        return self.report.runs[0] if len(self.report.runs) else None

    def add_finding(self, process: _Process, finding: Finding) -> None:
        """A finding as an instant at its first evidence line (the one the rule puts first: the most telling),
        with its title, cost, advice and lines (in line order)."""
        evidence = evidence_in_line_order(finding)
        several = len(self.report.sources) > 1
        lines = [f"{self._source_name(ev.source) + ':' if several else ''}{ev.line}: {_clip(ev.text)}"
                 for ev in evidence[:MAX_EVIDENCE]]
        more = max(finding.evidence_total, len(finding.evidence)) - len(lines)
        if more > 0:
            lines.append(f"… {plural(more, 'more line')}")
        instant = _Instant(0, f"finding: {finding.id}", "finding", _ENCODE({
            "title": finding.title, "severity": finding.severity, "confidence": finding.confidence,
            "explains": fmt_s(finding.cost_s) if finding.cost_s else None, "why": finding.why,
            "advice": list(finding.advice), "evidence": lines}))
        if finding.evidence:
            self.waiting[finding.evidence[0].source][finding.evidence[0].line].append((process, instant))
        else:
            self.at_start.append((process, instant))

    def _source_name(self, source: int) -> str:
        sources = self.report.sources
        return sources[source].name if 0 <= source < len(sources) else str(source)

    def _source_json(self, source: int) -> str:
        """``_source_name`` as JSON text, encoded once per source."""
        text = self._sources_json.get(source)
        if text is None:
            text = self._sources_json[source] = _str(self._source_name(source))
        return text


#: The phases' names, in PHASES's order (an enum's ``value`` is a descriptor: slow on every prompt).
_PHASE_NAMES = tuple(phase._value_ for phase in PHASES)
_PHASE_SECONDS = attrgetter(*_PHASE_NAMES)
#: The closing notes of estimated records' ``args`` (JSON text), and a bar's label's key.
_ESTIMATED_PROMPT = ', "estimated": ' + _str("no timed spans: phases laid out back to back from the durations "
                                              "the log prints") + "}"
_ESTIMATED_LOAD = ', "estimated": ' + _str("the log gives no time for this load") + "}"
_ESTIMATED_BAR = ', "estimated": ' + _str("placed from tqdm's elapsed time") + "}"


def _seconds_text(value: object) -> str:
    """``_num(_seconds(value))``, a float's text at once (a prompt's four phases)."""
    if type(value) is float:
        text = float.__repr__(value)
        if text[-1] not in "nf":
            return text
    return _num(_seconds(value))


def _seconds_args(seconds: float) -> str:
    return f'{{"seconds": {_num(seconds)}}}'


#: ``not_timed`` as JSON text by its items: a log has a few combinations of phases and reasons.
_NOT_TIMED_TEXT: dict[tuple[tuple[str, str], ...], str] = {}


def _not_timed(reasons: dict[str, str] | None) -> str:
    """A prompt's ``not_timed`` as JSON text, each combination encoded once."""
    if reasons is None:
        return "null"
    key = tuple(reasons.items())
    text = _NOT_TIMED_TEXT.get(key)
    if text is None:
        text = _ENCODE(reasons)
        if len(_NOT_TIMED_TEXT) < 256:
            _NOT_TIMED_TEXT[key] = text
    return text


def _load_name(load: Load) -> str:
    mb = f" {load.loaded_mb:.0f} MB" if load.loaded_mb is not None else ""
    return f"load {load.model or 'model'} ({load.kind}{mb})"


def log_trace(path: str, redactor: Redactor | None = None) -> TracePart:
    """Analyse one log on its own and make its part of a fleet trace (one process): the pure map step."""
    from ..pipeline import analyze_paths

    report = analyze_paths([path], redactor)
    part = report_trace(report, per_run=False, name=report.sources[0].name if report.sources else path)
    return part.to_disk()


_ENCODE = json.JSONEncoder(ensure_ascii=False).encode
_ENCODE_ASCII = json.JSONEncoder().encode
#: Events joined and written at once by ``write_trace``.
WRITE_BATCH = 1024


def write_trace(parts: Sequence[TracePart], out: TextIO) -> None:
    """Write the parts as one trace: pids renumbered, dated logs on one wall-clock axis, one event a line."""
    dated = [part.origin for part in parts if part.origin is not None]
    base = min(dated) if dated else None
    out.write('{"traceEvents": [\n')
    separator = ""
    pid_offset = 0
    for part in parts:
        shift = round((part.origin - base).total_seconds() * 1_000_000) if part.origin and base else 0
        events = iter(part.events)
        # written WRITE_BATCH events at a time: one write, one join
        while batch := list(islice(events, WRITE_BATCH)):
            out.write(separator + ",\n".join([
                f"{head}{pid + pid_offset}{tail}" if ts is None else f"{head}{ts + shift}{mid}{pid + pid_offset}{tail}"
                for head, ts, mid, pid, tail in batch]))
            separator = ",\n"
        pid_offset += part.processes
    other = {
        "generator": f"comfylog {__version__}",
        "logs": " | ".join(part.name for part in parts),
        "clock": " | ".join(f"{part.name}: {part.clock}" for part in parts),
        "estimated": "yes" if any(part.estimated for part in parts) else "no",
        "time_zero": "the first run of the earliest dated log" if base else "each log's first run",
    }
    out.write('\n],\n"displayTimeUnit": "ms",\n"otherData": ' + json.dumps(other, ensure_ascii=False) + "}")


def render_trace(report: Report) -> str:
    """One report's trace as text, a process per run (what ``export --format trace`` writes for one log)."""
    import io

    out = io.StringIO()
    write_trace([report_trace(report)], out)
    return out.getvalue() + "\n"
