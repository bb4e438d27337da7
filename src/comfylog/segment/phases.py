"""Phases of one prompt: every second between its start and end given to exactly one phase.

Rule 1 paints the gap before each timestamped line with that line's phase (``wait`` at most the
10 s worker-comfyui waits per timeout; the rest of such a gap is ``other``). Rule 2 lets progress
bars claim their own span, placed from tqdm's elapsed time and the line(s) they were printed on;
loading bars are ``load``, other work's bars ``other``, sampling bars ``inference`` (painted last:
it wins). Without a usable clock the log's own durations are used, and the prompt is marked
``estimated``.

A phase the log cannot time is None, never 0.0, with its reason in ``Prompt.not_timed`` (model.UNTIMED
says why): with or without a clock, a prompt that loaded models and drew no sampling bar (or one
that stopped before its first step) sampled for an unknown time, and one that printed no load line
in a run whose models a library loads itself (a loading bar, not ComfyUI's model management) may
have moved them for an unknown time. Its ``other`` is then None too: it held those seconds.
"""

from __future__ import annotations

import bisect
import itertools
from array import array
from datetime import datetime, timedelta

from ..dataclass import dataclass
from ..events import Activity, Event, Phase
from ..model import PHASES, Phases, ProgressBar, Prompt, Span

#: worker-comfyui waits this long on the websocket before it logs a timeout line.
WS_TIMEOUT_S = 10.0
WS_TIMEOUT = timedelta(seconds=WS_TIMEOUT_S)
#: The phases as module names: reading a member off its Enum class costs ~80 ns in Python 3.11, and
#: painting compares a phase per activity.
LOAD, INFERENCE, WAIT, OTHER = Phase.LOAD, Phase.INFERENCE, Phase.WAIT, Phase.OTHER
#: Tolerance when checking a bar's placement against its neighbour lines.
PLACEMENT_SLACK = timedelta(seconds=1)
#: ``other`` seconds below this cannot hold an untimed phase worth naming: every report shows them as 0.0s
#: (durations to the tenth), and "whether and how long it sampled is not in the log" of a time the log
#: bounds to a few milliseconds is false (044: 0.013 s between the CLIP load and a CLIPTextEncode
#: failure). The phases stay timed (0.0).
UNTIMED_MIN_S = 0.05


def secs(delta: timedelta) -> float:
    return round(delta.total_seconds(), 3)


@dataclass(slots=True)
class SettledBars:
    """What painting reads of a prompt's first bars that were handed to the table before it ended (a prompt of
    400,000 bars held each until then: ~265 MB), in their order. Only a bar that no reading can place is settled
    (no stamp of its own, none before it: ``bar_span`` gives nothing whatever comes after it), so none of them
    is painted and their records are final; the sums are Python's ``sum()`` of them, one bar at a time."""

    #: Their sampling bars' and loading bars' elapsed seconds summed (None: there were none).
    sampling_s: float | None = None
    loading_s: float | None = None
    #: A sampling bar that stopped before its first step (``done == 0 < total``), and one that did a step.
    sampling_not_advanced: bool = False
    sampling_advanced: bool = False
    #: A bar of a library loading weights itself (library_loader).
    library_loader: bool = False

    def add(self, bar: ProgressBar) -> None:
        if bar.is_sampling:
            self.sampling_s = bar.elapsed_s if self.sampling_s is None else self.sampling_s + bar.elapsed_s
            self.sampling_not_advanced = self.sampling_not_advanced or bar.done == 0 < bar.total
            self.sampling_advanced = self.sampling_advanced or bar.done > 0
        elif bar.is_loading:
            self.loading_s = bar.elapsed_s if self.loading_s is None else self.loading_s + bar.elapsed_s
        self.library_loader = self.library_loader or library_loader(bar)


def unplaceable(ev: Event) -> bool:
    """A bar ``bar_span`` cannot place, whatever line comes after it: no stamp of its own, none before it."""
    return ev.ts is None and ev.end_ts is None and ev.fields.get("ts_before") is None


@dataclass(slots=True)
class Painted:
    """A prompt's seconds painted from ``start`` up to ``cut`` and summed (``fold``), before it ends: the segments
    and spans ``paint_timed`` makes of its time before ``cut`` (where one of them ends), in their order, with their
    sums so far. Painting the rest goes on from there (``paint_timed(painted=...)``) and gives the same floats, as
    long as no bar it has not placed yet reaches back before ``cut`` and the prompt ends at or after it
    (``paints_after``)."""

    start: datetime
    cut: datetime
    #: Where rule 1's segment that goes on past the cut begins (a time of an activity, or ``start``).
    seg_from: datetime
    #: The bars left to paint that it placed (the first ones): they may cross the cut, their pieces before it painted.
    placed: int
    seconds: dict[Phase, float]
    spans: list[Span]
    #: The latest time of an activity it read: a prompt ending before it is painted all again (painting clips each
    #: activity at the end, and a wait's WS_TIMEOUT before a clipped time begins earlier).
    seen: datetime


#: How long before the last lines read ``fold`` paints up to: a bar drawn later whose end reading does not fit
#: (its elapsed longer than its lines show: ``bar_span``'s other readings) may reach back further, and then the
#: prompt is painted all again when it ends.
FOLD_KEEP_S = 10.0


def fold(
    painted: Painted | None, start: datetime, activities: list[Activity], bars: list[tuple[ProgressBar, Event]],
    safe: int,
) -> tuple[Painted, int, int] | None:
    """Paint a running prompt's time up to a cut with its bars as ``paint_timed`` would paint it once it ends:
    (what is painted, leading bars no longer needed, leading activities no longer needed), None when nothing more
    is painted. The bars no longer needed are placed (``bar.start``, ``bar.end``).

    Only ``activities[:safe]`` are read as final (the segmenter takes the last few back at a restart), and the
    last bar is not placed (it runs to the prompt's end if the prompt ends unfinished). Bars placed win over each
    other as in ``_overlaid``, so a piece of time is painted for good once no bar still to be placed can reach it:
    the cut is the end of the last segment painting makes that ends FOLD_KEEP_S before the last activity read, and
    before where the bars not placed start by the lines read. A bar placed later that reaches back before the cut
    makes ``paints_after`` false, and the prompt is painted all again from its start."""
    if len(bars) < 2 or safe <= 0:
        return None
    lo = start if painted is None else painted.cut
    seg_from = start if painted is None else painted.seg_from
    known = 0 if painted is None else painted.placed
    keep = timedelta(seconds=FOLD_KEEP_S)
    placed: list[tuple[datetime, datetime]] = []
    for bar, ev in bars[:-1]:
        k = bisect.bisect_right(activities, ev.end_line, key=_first_line)
        if k >= safe:
            break
        b0, b1 = bar_span(bar, ev, activities[k].first_ts)
        if b0 is None or b1 is None:
            return None  # a bar no reading places: not for this (settled ones come first)
        placed.append((b0, b1))
    if len(placed) < known or any(b1 > max(b0, start) and max(b0, start) < lo for b0, b1 in placed[known:]):
        return None  # it reaches back over what is painted: the prompt is painted all again when it ends
    # where the bars not placed may start, by what is read now: a bar placed from its end starts no earlier than
    # PLACEMENT_SLACK before the line before its own, and that is after the last bar's end line
    bound = activities[safe - 1].last_ts - keep
    for bar, ev in bars[len(placed):]:
        k = bisect.bisect_right(activities, ev.end_line, key=_first_line)
        b0, _ = bar_span(bar, ev, activities[k].first_ts if k < len(activities) else None)
        if b0 is not None:
            bound = min(bound, b0 - keep)
    if bound <= lo:
        return None
    # rule 1 from the segment going on past the cut, each segment with where its step began (paint_timed's prev)
    segs: list[tuple[datetime, datetime, Phase]] = []
    steps: list[datetime] = []
    prev = seg_from
    for act in activities[:safe]:
        first, phase = act.first_ts, act.phase
        for t in (first,) if first == act.last_ts else (first, act.last_ts):
            if t <= prev:
                continue
            if phase is WAIT:
                w0 = max(prev, t - WS_TIMEOUT)
                if w0 > prev:
                    segs.append((prev, w0, OTHER))
                    steps.append(prev)
                segs.append((w0, t, WAIT))
            else:
                segs.append((prev, t, phase))
            steps.append(prev)
            prev = t
    window = [(max(a, lo), b, phase) for a, b, phase in segs if b > lo]
    steps = steps[len(segs) - len(window):]
    overlays = [(max(b0, start, lo), b1, bar.phase) for (b0, b1), (bar, _) in zip(placed, bars, strict=False)
                if b1 > max(b0, start, lo)]
    overlays.sort(key=_painted_after)
    out = _overlaid(window, overlays)
    done = 0
    while done < len(out) and out[done][1] <= bound:
        done += 1
    if not done:
        return None
    cut = out[done - 1][1]
    if painted is None:
        painted = Painted(start, cut, start, 0, dict.fromkeys(PHASES, 0.0), [], prev)
    _add_segs(painted.seconds, painted.spans, out[:done])
    painted.cut = cut
    painted.seen = max(painted.seen, prev)
    # the cut is a time of an activity where no segment goes on past it: the next step begins there
    painted.seg_from = next((steps[i] for i, seg in enumerate(window) if seg[1] > cut), cut)
    gone = 0  # leading bars whose time is all painted
    while gone < len(placed) and placed[gone][1] <= max(max(placed[gone][0], start), cut):
        bar = bars[gone][0]
        bar.start, bar.end = placed[gone]
        gone += 1
    painted.placed = len(placed) - gone
    last_needed = min(ev.end_line for _, ev in bars[gone:])  # the bars left look up the line after their end
    dropped = 0
    while (dropped < safe and activities[dropped].last_ts <= painted.seg_from
           and activities[dropped].first_line <= last_needed):
        dropped += 1
    return painted, gone, dropped


def paints_after(
    painted: Painted, start: datetime, end: datetime, activities: list[Activity],
    bars: list[tuple[ProgressBar, Event]], unfinished: bool,
) -> bool:
    """``paint_timed(painted=painted)`` paints the prompt as painting it all from its start would: it began at
    the same time, ends at or after every activity time ``fold`` read (so after the cut), and no bar ``fold`` did not
    place reaches back before the cut."""
    if painted.start != start or max(end, start) < painted.seen:
        return False
    end = max(end, start)
    last_index = len(bars) - 1
    for i, (bar, ev) in enumerate(bars[painted.placed:], painted.placed):
        k = bisect.bisect_right(activities, ev.end_line, key=_first_line)
        b0, b1 = bar_span(bar, ev, activities[k].first_ts if k < len(activities) else None)
        if b0 is None or b1 is None:
            continue
        if unfinished and i == last_index and bar.done < bar.total:
            b1 = max(b1, end)
        o0, o1 = max(b0, start), min(b1, end)
        if o1 > o0 and o0 < painted.cut:
            return False
    return True


def bar_span(bar: ProgressBar, ev: Event, ts_after: datetime | None) -> tuple[datetime | None, datetime | None]:
    """Place a bar in time from tqdm's elapsed and the time of the line(s) it was printed on.

    Real logs stamp a bar line when it is flushed, i.e. at the bar's end; some writers stamp it
    when it starts. The end reading is taken unless it would put the bar's start before the line
    printed just before it; then the start reading is tried against the line just after it.
    """
    elapsed = timedelta(seconds=bar.elapsed_s)
    ts_before: datetime | None = ev.fields.get("ts_before")
    end_reading = (ev.end_ts - elapsed, ev.end_ts) if ev.end_ts is not None else None
    if end_reading and (ts_before is None or end_reading[0] >= ts_before - PLACEMENT_SLACK):
        return end_reading
    if ev.ts is not None:
        start = ev.ts - timedelta(seconds=ev.fields["first_elapsed_s"])
        start_reading = (start, start + elapsed)
        if ts_after is None or start_reading[1] <= ts_after + PLACEMENT_SLACK:
            return start_reading
    if end_reading:
        return end_reading
    if ts_before is not None:
        # No stamp of its own (a stamped log pasted from a console, whose bars the stamping missed): it
        # ran after the line before it and, where the gap to the line after holds it, starts there; where
        # that gap is too short, the line before's stamp was its own flush (Comfy-Org/ComfyUI#12762).
        after_start = (ts_before, ts_before + elapsed)
        if ts_after is None or after_start[1] <= ts_after + PLACEMENT_SLACK:
            return after_start
        return (ts_before - elapsed, ts_before)
    return (None, None)


def paint_timed(
    prompt: Prompt, start: datetime, end: datetime, activities: list[Activity],
    bars: list[tuple[ProgressBar, Event]], unfinished: bool, loaded: bool = False, library_loads: bool = False,
    hidden_bar: bool = False, before_log: bool = False, settled: SettledBars | None = None,
    library_loaded: bool = False,
    painted: Painted | None = None,
) -> None:
    """Give every second from ``start`` to ``end`` one phase: rule 1 from the activities, rule 2 from the bars.

    ``loaded``: it printed a load line; ``library_loads``: its run's models are loaded by a library
    (untimed_reasons). Seconds rule 1 left to ``other`` may hide a phase the log cannot time: that
    phase and ``other`` are then None, the seconds known only as theirs together. ``before_log``: it
    began before the log's first line (``activities[0]``): no line shows what it did until then, so
    those seconds are ``other`` (not the first line's phase) and hide its loading. ``settled``: its bars handed
    on before it ended (SettledBars), before ``bars``. ``painted``: its time up to a cut, painted before it ended
    (``fold``; ``paints_after`` holds): painting goes on from the cut, with ``activities`` and ``bars`` those left."""
    if end < start:
        end = start
    # Rule 1: base segments from the activity points, in order and end to end from start to end.
    segs: list[tuple[datetime, datetime, Phase]] = []
    prev = start if painted is None else painted.seg_from
    unseen = min(activities[0].first_ts, end) if before_log and activities and painted is None else start
    if unseen > start:
        segs.append((start, unseen, OTHER))
        prev = unseen
    for act in activities:
        first, phase = act.first_ts, act.phase
        for t in (first,) if first == act.last_ts else (first, act.last_ts):
            if t <= prev:
                continue
            t2 = min(t, end)
            if phase is WAIT:
                w0 = max(prev, t2 - WS_TIMEOUT)
                if w0 > prev:
                    segs.append((prev, w0, OTHER))
                segs.append((w0, t2, WAIT))
            else:
                segs.append((prev, t2, phase))
            prev = t2
            if prev >= end:
                break
        if prev >= end:
            break
    if prev < end:
        segs.append((prev, end, OTHER))
    if painted is not None:  # painted up to its cut already
        segs = [(max(a, painted.cut), b, phase) for a, b, phase in segs if b > painted.cut]

    # Rule 2: bars claim their spans.
    if bars:
        # after a cut (painted) no bar reaches back before it (paints_after): a live reader's look clips them there
        segs = _paint_bars(segs, start if painted is None else max(start, painted.cut), end, activities, bars,
                           unfinished)

    if painted is None:
        seconds, spans = dict.fromkeys(PHASES, 0.0), []
    else:  # copies: a live reader paints the running prompt again and again
        seconds, spans = dict(painted.seconds), list(painted.spans)
        if spans:
            spans[-1] = Span(spans[-1].start, spans[-1].end, spans[-1].phase)
    _add_segs(seconds, spans, segs)
    prompt.total_s = secs(end - start)
    phases = _rounded(seconds, prompt.total_s)
    left = phases.other or 0.0
    why = (untimed_reasons(bars, loaded, library_loads, clock=True, interrupted=prompt.status == "interrupted",
                           hidden_bar=hidden_bar, before_log=before_log, settled=settled,
                           library_loaded=library_loaded)
           if left >= UNTIMED_MIN_S else {})
    if (unseen - start).total_seconds() >= UNTIMED_MIN_S and left >= UNTIMED_MIN_S:
        why.setdefault("load", "before_log")
    for name in why:
        setattr(phases, name, None)
    if why:
        phases.other = None
        why["other"] = next(iter(why.values()))
    prompt.phases = phases
    prompt.not_timed = why or None
    prompt.spans = spans
    prompt.estimated = False


def _add_segs(seconds: dict[Phase, float], spans: list[Span], segs: list[tuple[datetime, datetime, Phase]]) -> None:
    """Add painted segments, in order, to the phases' seconds and the spans (a phase's touching ones joined)."""
    for a, b, phase in segs:
        if b <= a:
            continue
        seconds[phase] += (b - a).total_seconds()
        if spans and spans[-1].phase is phase and spans[-1].end == a:
            spans[-1].end = b
        else:
            spans.append(Span(a, b, phase))


def library_loader(bar: ProgressBar) -> bool:
    """A bar of a library loading weights itself (``Loading checkpoint shards``, ``Loading pipeline
    components``): ComfyUI's model management draws no loading bar, and downloads are no loader."""
    label = (bar.label or "").lower()
    return bar.is_loading and "load" in label and "download" not in label


def untimed_reasons(
    bars: list[tuple[ProgressBar, Event]], loaded: bool, library_loads: bool, clock: bool, interrupted: bool = False,
    hidden_bar: bool = False, before_log: bool = False, settled: SettledBars | None = None,
    library_loaded: bool = False,
) -> dict[str, str]:
    """The phases a prompt's lines cannot time, with their UNTIMED reason.

    Inference: it loaded models (``loaded``, or ``library_loaded``: a library's own loading bar of the prompt, as the
    segmenter says when it ends) and no sampling bar shows it (bars not captured, or a sampler without one: a
    diffusers pipeline samples with its own loop, whose bar the log may not hold: field4 14's prompt 4 showed
    `infer 0.0s`); or, without a ``clock``, its sampling bar stopped before its first step (a failure in that step:
    tqdm's elapsed says nothing of it; with a clock the stamps time the step) and no sampling bar of it did a step:
    bars that did are its sampling as printed (a 40-step bar done in 29 s, then a second pass stopped at 0/16 where a
    paste ends: Acly/krita-ai-diffusion#2470 showed `infer —`).
    Load: it printed no load line and drew no loading bar, but ``library_loads``: a library
    (transformers' ``Loading checkpoint shards``, diffusers') loaded the run's models outside
    ComfyUI's model management, which moves them between devices without a line. An ``interrupted`` prompt
    with no sampling bar may have sampled too: ComfyUI-Manager's log file keeps a bar only once it reaches 100%
    (014: `Processing interrupted` after a blank line, 23.6 s with no line of what ran). A ``hidden_bar`` (tqdm's
    `` ... (more hidden) ...``) with no sampling bar seen ran unseen: its sampling is unknown too (039 line 734).
    One that began ``before_log`` and drew no sampling bar in it may have sampled before its first line,
    whether or not the log shows it loading (a paste whose first line is its ``Prompt executed in 307.88
    seconds``: j955229/ComfyUI-MiniMax-H3-Motion-Director#33 showed `infer 0.0s`).
    """
    settled = settled or SettledBars()
    why: dict[str, str] = {}
    if (not loaded and library_loads and settled.loading_s is None
            and not any(bar.is_loading for bar, _ in bars)):
        why["load"] = "unlogged_loads"
    sampling = [bar for bar, _ in bars if bar.is_sampling]
    sampling_seen = settled.sampling_s is not None or bool(sampling)
    if (loaded or library_loaded or before_log) and not sampling_seen:
        why["inference"] = "before_log" if before_log else "no_sampling_bar"
    elif (not clock and (settled.sampling_not_advanced or any(bar.done == 0 < bar.total for bar in sampling))
          and not (settled.sampling_advanced or any(bar.done > 0 for bar in sampling))):
        why["inference"] = "bar_not_advanced"
    elif interrupted and not sampling_seen:
        why["inference"] = "interrupted_no_bar"
    elif hidden_bar and not sampling_seen:
        why["inference"] = "hidden_bar"
    return why


def _paint_bars(
    segs: list[tuple[datetime, datetime, Phase]], start: datetime, end: datetime, activities: list[Activity],
    bars: list[tuple[ProgressBar, Event]], unfinished: bool,
) -> list[tuple[datetime, datetime, Phase]]:
    """Rule 2: each bar placed in time (``bar.start``, ``bar.end``) and painted over ``segs`` with its
    phase, sampling bars last (they win). A still open bar of an unfinished prompt runs to its end."""
    overlays: list[tuple[datetime, datetime, Phase]] = []
    last_index = len(bars) - 1
    for i, (bar, ev) in enumerate(bars):
        k = bisect.bisect_right(activities, ev.end_line, key=_first_line)  # the first line after the bar's
        ts_after = activities[k].first_ts if k < len(activities) else None
        b0, b1 = bar_span(bar, ev, ts_after)
        if b0 is None or b1 is None:
            continue
        if unfinished and i == last_index and bar.done < bar.total:
            b1 = max(b1, end)
        bar.start, bar.end = b0, b1
        overlays.append((b0, b1, bar.phase))
    overlays.sort(key=_painted_after)  # other work, then loading, then sampling: it wins
    clipped = [(max(o0, start), min(o1, end), phase) for o0, o1, phase in overlays]
    return _overlaid(segs, [overlay for overlay in clipped if overlay[1] > overlay[0]])


#: The order bars are painted in where they overlap (placement is to a second or so): the sampler's
#: steps are what a prompt is for, so they win; a loading bar is more specific than other work.
_PAINT_ORDER = {OTHER: 0, LOAD: 1, INFERENCE: 2}


def _painted_after(overlay: tuple[datetime, datetime, Phase]) -> int:
    return _PAINT_ORDER[overlay[2]]


def _first_line(act: Activity) -> int:
    return act.first_line


def _overlaid(
    segs: list[tuple[datetime, datetime, Phase]], overlays: list[tuple[datetime, datetime, Phase]]
) -> list[tuple[datetime, datetime, Phase]]:
    """``segs`` (in order, end to end) with each overlay painted over them in turn, a later one winning.

    Painting one at a time (drop the segments an overlay covers, cut back the ones it covers in part, insert
    it) copied the segments once per overlay: 400,000 stamped bars in one prompt did not finish in 10 minutes
    (issue 14). This gives the same segments, so the same sums: each piece between two consecutive times of
    ``segs`` and the overlays goes to the last overlay over it (found last to first, skipping the pieces a
    later one took), else to its segment, and each run of pieces of one overlay or one segment is a segment,
    as painting one at a time leaves it. Empty segments (none of the phases' seconds) are left out."""
    if not overlays or not segs:
        return segs
    points = [seg[0] for seg in segs]
    points.append(segs[-1][1])
    for o0, o1, _ in overlays:
        points += (o0, o1)
    points.sort()
    cuts = [t for t, _ in itertools.groupby(points)]
    del points
    pieces = len(cuts) - 1
    painter = array("q", [-1]) * pieces  # the overlay each piece shows (-1: its segment)
    # the first piece at or after each that no later overlay took (union-find, halved paths)
    free = array("q", range(pieces + 1))
    for j in range(len(overlays) - 1, -1, -1):
        o0, o1, _ = overlays[j]
        i = bisect.bisect_left(cuts, o0)
        stop = bisect.bisect_left(cuts, o1, i)
        while True:
            while free[i] != i:
                free[i] = free[free[i]]
                i = free[i]
            if i >= stop:
                break
            painter[i] = j
            free[i] = i + 1
    out: list[tuple[datetime, datetime, Phase]] = []
    piece, run_key = 0, 0
    for k, (_, b, phase) in enumerate(segs):
        while piece < pieces and cuts[piece] < b:
            j = painter[piece]
            key = j if j >= 0 else -1 - k  # one overlay, or one segment
            if out and key == run_key:
                out[-1] = (out[-1][0], cuts[piece + 1], out[-1][2])
            else:
                out.append((cuts[piece], cuts[piece + 1], overlays[j][2] if j >= 0 else phase))
                run_key = key
            piece += 1
    return out


def paint_estimated(
    prompt: Prompt, bars: list[tuple[ProgressBar, Event]], loaded: bool, library_loads: bool = False,
    hidden_bar: bool = False, before_log: bool = False, settled: SettledBars | None = None,
    library_loaded: bool = False,
) -> None:
    """No usable clock: the log's own durations (printed total, bar elapsed, 10 s a timeout) make the phases.

    Sampling and download bars time themselves and each websocket timeout is 10 s; bars of other
    work are part of the rest (other). A prompt that ``loaded`` (load lines, not only bars) loaded
    for an unknown time, so its load and the rest (other) are None, and so are the phases
    untimed_reasons names. A prompt that loaded nothing and drew no bar (outputs cached, a quick
    node) did no sampling: 0. Without ``Prompt executed in`` the total is unknown too, and so is other; and a
    prompt still running where the log ends may yet load or sample: a phase it drew no bar of is unknown.
    One that began ``before_log`` may have loaded before the log's first line: its load is unknown too
    (unless its printed total leaves no time for it). ``settled``: its bars handed on before it ended, before
    ``bars``.
    """
    settled = settled or SettledBars()
    sampling: list[float] = []
    loading: list[float] = []
    for bar, _ in bars:
        if bar.is_sampling:
            sampling.append(bar.elapsed_s)
        elif bar.is_loading:
            loading.append(bar.elapsed_s)
    # sum() goes on from the settled bars' sum, in the bars' order
    inference = sum(sampling) if settled.sampling_s is None else sum(sampling, settled.sampling_s)
    load_bars = sum(loading) if settled.loading_s is None else sum(loading, settled.loading_s)
    sampled_any = bool(sampling) or settled.sampling_s is not None
    loaded_any = bool(loading) or settled.loading_s is not None
    wait = prompt.ws_timeouts * WS_TIMEOUT_S
    total = prompt.executed_s
    if total is not None:  # durations beyond the printed total cannot be: the earlier claim wins
        inference = min(inference, total)
        load_bars = min(load_bars, total - inference)
        wait = min(wait, total - inference - load_bars)
    why = {"load": "no_clock"} if loaded else {}
    for name, reason in untimed_reasons(bars, loaded, library_loads, clock=False,
                                        interrupted=prompt.status == "interrupted", hidden_bar=hidden_bar,
                                        before_log=before_log, settled=settled,
                                        library_loaded=library_loaded).items():
        why.setdefault(name, reason)
    if before_log and (total is None or total - inference - load_bars - wait >= UNTIMED_MIN_S):
        why.setdefault("load", "before_log")
    if total is None and prompt.status == "unfinished":
        # the log ends inside it: a phase it showed nothing of may come after its last line, so it is not 0
        # (a paste cut after `got prompt`: Comfy-Org/ComfyUI#14378 showed `load 0.0s  inference 0.0s`)
        if not sampled_any:
            why.setdefault("inference", "no_total")
        if not loaded_any:
            why.setdefault("load", "no_total")
    load = None if "load" in why else load_bars
    sampled = None if "inference" in why else inference
    if total is None:
        why["other"] = "no_total"
    elif why:
        why["other"] = next(iter(why.values()))
    other = None if "other" in why else max(0.0, (total or 0.0) - inference - load_bars - wait)
    prompt.total_s = None if total is None else round(total, 3)
    prompt.phases = Phases(load=None if load is None else round(load, 3),
                           inference=None if sampled is None else round(sampled, 3),
                           wait=round(wait, 3), other=None if other is None else round(other, 3))
    prompt.not_timed = why or None
    prompt.estimated = True
    prompt.spans = []


def _rounded(seconds: dict[Phase, float], total: float) -> Phases:
    """Round to ms and put the rounding remainder in ``other`` so the phases add up exactly."""
    load = round(seconds[LOAD], 3)
    inference, wait = round(seconds[INFERENCE], 3), round(seconds[WAIT], 3)
    other = round(total - load - inference - wait, 3)
    return Phases(load=load, inference=inference, wait=wait, other=max(other, 0.0))

