"""Phases of one prompt: every second between its start and end given to exactly one phase.

Rule 1 paints the gap before each timestamped line with that line's phase (``wait`` at most the
10 s worker-comfyui waits per timeout; the rest of such a gap is ``other``). Rule 2 lets progress
bars claim their own span, placed from tqdm's elapsed time and the line(s) they were printed on;
loading bars are ``load``, sampling bars ``inference`` (painted last: it wins). Without a usable
clock the log's own durations are used, and the prompt is marked ``estimated``.
"""

from __future__ import annotations

import bisect
from datetime import datetime, timedelta

from ..events import Activity, Event, Phase
from ..model import Phases, ProgressBar, Prompt, Span

#: worker-comfyui waits this long on the websocket before it logs a timeout line.
WS_TIMEOUT_S = 10.0
#: Tolerance when checking a bar's placement against its neighbour lines.
PLACEMENT_SLACK = timedelta(seconds=1)


def secs(delta: timedelta) -> float:
    return round(delta.total_seconds(), 3)



def bar_span(bar: ProgressBar, ev: Event, ts_after: datetime | None) -> tuple[datetime | None, datetime | None]:
    """Place a bar in time from tqdm's elapsed and the time of the line(s) it was printed on.

    Real logs stamp a bar line when it is flushed, i.e. at the bar's end; some writers stamp it
    when it starts. The end reading is taken unless it would put the bar's start before the line
    printed just before it; then the start reading is tried against the line just after it.
    """
    elapsed = timedelta(seconds=bar.elapsed_s)
    first_elapsed = timedelta(seconds=ev.fields["first_elapsed_s"])
    ts_before: datetime | None = ev.fields.get("ts_before")
    end_reading = (ev.end_ts - elapsed, ev.end_ts) if ev.end_ts is not None else None
    if end_reading and (ts_before is None or end_reading[0] >= ts_before - PLACEMENT_SLACK):
        return end_reading
    if ev.ts is not None:
        start = ev.ts - first_elapsed
        start_reading = (start, start + elapsed)
        if ts_after is None or start_reading[1] <= ts_after + PLACEMENT_SLACK:
            return start_reading
    if end_reading:
        return end_reading
    return (None, None)


def paint_timed(
    prompt: Prompt, start: datetime, end: datetime, activities: list[Activity],
    bars: list[tuple[ProgressBar, Event]], unfinished: bool,
) -> None:
    """Give every second from ``start`` to ``end`` one phase: rule 1 from the activities, rule 2 from the bars."""
    if end < start:
        end = start
    # Rule 1: base segments from the activity points.
    segs: list[tuple[datetime, datetime, Phase]] = []
    prev = start
    for act in activities:
        points = (act.first_ts,) if act.first_ts == act.last_ts else (act.first_ts, act.last_ts)
        for t in points:
            if t <= prev:
                continue
            t2 = min(t, end)
            if act.phase is Phase.WAIT:
                w0 = max(prev, t2 - timedelta(seconds=WS_TIMEOUT_S))
                if w0 > prev:
                    segs.append((prev, w0, Phase.OTHER))
                segs.append((w0, t2, Phase.WAIT))
            else:
                segs.append((prev, t2, act.phase))
            prev = t2
            if prev >= end:
                break
        if prev >= end:
            break
    if prev < end:
        segs.append((prev, end, Phase.OTHER))

    # Rule 2: bars claim their spans.
    line_ts = [(a.first_line, a.first_ts) for a in activities]
    lines = [ln for ln, _ in line_ts]
    overlays: list[tuple[datetime, datetime, Phase]] = []
    last_index = len(bars) - 1
    for i, (bar, ev) in enumerate(bars):
        k = bisect.bisect_right(lines, ev.end_line)
        ts_after = line_ts[k][1] if k < len(line_ts) else None
        b0, b1 = bar_span(bar, ev, ts_after)
        if b0 is None or b1 is None:
            continue
        if unfinished and i == last_index and bar.done < bar.total:
            b1 = max(b1, end)
        bar.start, bar.end = b0, b1
        overlays.append((b0, b1, Phase.LOAD if bar.is_loading else Phase.INFERENCE))
    overlays.sort(key=lambda o: o[2] is Phase.INFERENCE)  # inference painted last: it wins
    for o0, o1, phase in overlays:
        o0, o1 = max(o0, start), min(o1, end)
        if o1 > o0:
            segs = _overlay(segs, o0, o1, phase)

    phases = Phases()
    spans: list[Span] = []
    for a, b, phase in segs:
        if b <= a:
            continue
        phases.add(phase, (b - a).total_seconds())
        if spans and spans[-1].phase is phase and spans[-1].end == a:
            spans[-1].end = b
        else:
            spans.append(Span(a, b, phase))
    prompt.total_s = secs(end - start)
    prompt.phases = _rounded(phases, prompt.total_s)
    prompt.spans = spans
    prompt.estimated = False


def _overlay(
    segs: list[tuple[datetime, datetime, Phase]], o0: datetime, o1: datetime, phase: Phase
) -> list[tuple[datetime, datetime, Phase]]:
    out: list[tuple[datetime, datetime, Phase]] = []
    placed = False
    for a, b, ph in segs:
        if b <= o0 or a >= o1:
            if a >= o1 and not placed:
                out.append((o0, o1, phase))
                placed = True
            out.append((a, b, ph))
            continue
        if a < o0:
            out.append((a, o0, ph))
        if not placed:
            out.append((o0, o1, phase))
            placed = True
        if b > o1:
            out.append((o1, b, ph))
    if not placed:
        out.append((o0, o1, phase))
    return out


def paint_estimated(prompt: Prompt, bars: list[tuple[ProgressBar, Event]], loaded: bool) -> None:
    """No usable clock: the log's own durations (printed total, bar elapsed, 10 s a timeout) make the phases.

    Sampling and download bars time themselves and each websocket timeout is 10 s; a prompt that
    ``loaded`` (load lines, not only bars) loaded for an unknown time, so its load and the rest
    (other) are None, and its inference too when no sampling bar shows it. Without ``Prompt
    executed in`` the total is unknown too.
    """
    inference = sum(bar.elapsed_s for bar, _ in bars if not bar.is_loading)
    load_bars = sum(bar.elapsed_s for bar, _ in bars if bar.is_loading)
    wait = prompt.ws_timeouts * WS_TIMEOUT_S
    total = prompt.executed_s
    if total is not None:  # durations beyond the printed total cannot be: the earlier claim wins
        inference = min(inference, total)
        load_bars = min(load_bars, total - inference)
        wait = min(wait, total - inference - load_bars)
    load = None if loaded else load_bars
    # Loaded models and no sampling bar: whether and how long it sampled is not in the log (bars not
    # captured, or a sampler without one), so inference is not timed either. A prompt that loaded
    # nothing and drew no bar (outputs cached, a quick node) did no sampling: 0.
    sampled: float | None = inference if not loaded or any(not bar.is_loading for bar, _ in bars) else None
    other = None if load is None or total is None or sampled is None else max(0.0, total - inference - load - wait)
    prompt.total_s = None if total is None else round(total, 3)
    prompt.phases = Phases(load=None if load is None else round(load, 3),
                           inference=None if sampled is None else round(sampled, 3),
                           wait=round(wait, 3), other=None if other is None else round(other, 3))
    prompt.estimated = True
    prompt.spans = []


def _rounded(phases: Phases, total: float) -> Phases:
    """Round to ms and put the rounding remainder in ``other`` so the phases add up exactly."""
    load = round(phases.seconds(Phase.LOAD), 3)
    inference, wait = round(phases.seconds(Phase.INFERENCE), 3), round(phases.seconds(Phase.WAIT), 3)
    other = round(total - load - inference - wait, 3)
    return Phases(load=load, inference=inference, wait=wait, other=max(other, 0.0))

