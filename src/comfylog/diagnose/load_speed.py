"""How fast each model loaded, from the log's own timestamps: what the load rules compare.

A legacy load is timed from its ``Requested to load X`` line to the ``loaded completely`` line
that answers it; that is the copy of the weights (read from disk or the page cache, pinned, moved
to the GPU). Dynamic-VRAM loads are not timed: their ``prepared ... Staged`` line comes at once and
the weights stream in during sampling.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from datetime import datetime

from ..dataclass import dataclass
from ..events import Event, EventKind, Phase
from ..model import Load, Prompt, Run
from .facts import BARS_READ_OF, LOADS_READ_OF, LONG_LOAD_S, PROMPT_GROUPS, Facts, prompt_fold, run_group

#: Below this rate (MB/s) a load is far slower than a local disk (slow-load's threshold).
SLOW_MB_S = 200.0
#: What a local SSD reads (MB/s).
DISK_MB_S = 500.0
#: Loads this small or this short say nothing about speed.
MIN_MB = 1_000.0
MIN_S = 10.0
#: A reload this close to its first read's rate (or slower) did not come from the page cache.
NO_FASTER = 1.5


@dataclass(frozen=True, slots=True)
class TimedLoad:
    """One legacy load with its duration."""

    load: Load
    prompt: Prompt
    seconds: float
    requested_line: int

    @property
    def mb(self) -> float:
        return self.load.loaded_mb or 0.0

    @property
    def rate(self) -> float:
        return self.mb / self.seconds if self.seconds > 0 else float("inf")


def timed_loads(facts: Facts) -> list[TimedLoad]:
    """The complete loads of timed prompts that a ``Requested to load`` of the same model announced.

    Found once per report (three rules ask, and on a long log the loads table is on disk)."""
    return facts.once("timed_loads", lambda: _timed_loads(facts))


#: A model no ``Requested to load`` named: no line, no request.
_NO_REQUESTS: tuple[list[int], list[Event]] = ([], [])


def _timed_loads(facts: Facts) -> list[TimedLoad]:
    found: list[TimedLoad] = []
    for prompt in facts.prompts_in("timed"):
        requests: dict[object, tuple[list[int], list[Event]]] = {}  # by model: its requests' lines, and them
        for load in facts.loads_of(prompt):
            if load.kind != "complete" or load.ts is None or not load.loaded_mb or load.loaded_mb >= 1e9:
                continue
            if not requests:  # filed once a prompt, by model, in line order (prompt_events' order)
                for ev in facts.prompt_events(EventKind.LOAD_REQUESTED, prompt):
                    lines, events = requests.setdefault(ev.fields.get("model"), ([], []))
                    lines.append(ev.line)
                    events.append(ev)
                if not requests:
                    break
            # the last request of the load's model before its line (not a search of all the prompt's requests
            # per load: a prompt of the corpus loads 850 times, and each was a pass over its requests)
            lines, events = requests.get(load.model, _NO_REQUESTS)
            before = bisect_left(lines, load.line)
            asked = events[before - 1] if before else None
            if asked is not None and asked.ts is not None:
                found.append(TimedLoad(load, prompt, (load.ts - asked.ts).total_seconds(), asked.line))
    return found


@dataclass(frozen=True, slots=True)
class SlowReloads:
    """A run with pinned memory whose models came back no faster than their first read."""

    run: Run
    pinned_mb: float
    first: dict[str, TimedLoad]
    slow: list[TimedLoad]


@run_group("pinned_memory")
def _pinned_memory(run: Run) -> bool:
    return run.setup.get("pinned_memory_mb") is not None


def pinned_slow_reloads(facts: Facts) -> list[SlowReloads]:
    """Runs with ``Enabled pinned memory`` where a model of at least MIN_MB, loaded before in the same
    run, loaded again slower than SLOW_MB_S and no faster than its first load, though the machine's
    RAM could hold the file: the page cache did not help, so the disk is not what limited it.

    Found once per report (slow-load leaves these prompts to pinned-memory-slow), and not looked for
    where no run pins memory (timed_loads walks every timed prompt's loads)."""
    return facts.once("pinned_slow_reloads", lambda: _pinned_slow_reloads(facts))


def _pinned_slow_reloads(facts: Facts) -> list[SlowReloads]:
    if next(facts.runs_in("pinned_memory"), None) is None:
        return []
    by_run: dict[int, list[TimedLoad]] = {}
    for timed in timed_loads(facts):
        by_run.setdefault(timed.prompt.run, []).append(timed)
    found = []
    for run_index, loads in by_run.items():
        run = facts.runs.get(run_index)
        pinned = run.setup.get("pinned_memory_mb") if run is not None else None
        if run is None or pinned is None:
            continue
        first: dict[str, TimedLoad] = {}
        slow = []
        for timed in loads:
            model = timed.load.model or ""
            if timed.prompt.cold:
                continue  # reloads what an OOM unloaded: cold-after-oom's
            if model not in first:
                first[model] = timed
                continue
            fits = run.total_ram_mb is None or run.total_ram_mb >= 1.5 * timed.mb
            if (timed.mb >= MIN_MB and timed.seconds >= MIN_S and timed.rate < SLOW_MB_S and fits
                    and timed.rate <= NO_FASTER * first[model].rate):
                slow.append(timed)
        if slow:
            found.append(SlowReloads(run, float(pinned), first, slow))
    return found


def pinned_prompts(facts: Facts) -> set[int]:
    """Prompts whose slow loads ``pinned-memory-slow`` explains (slow-load leaves them alone)."""
    claimed = set()
    for found in pinned_slow_reloads(facts):
        for timed in found.slow:
            claimed.add(timed.prompt.index)
            first = found.first[timed.load.model or ""]
            if first.rate < SLOW_MB_S:  # as slow as the reloads: the same cause, not the disk
                claimed.add(first.prompt.index)
    return claimed


#: An untimed prompt is compared only with prompts whose sampling took this close to its own (ratio).
SAME_WORK_RATIO = 1.5
#: Estimated loads shorter than this (seconds) are judged by no rule (first-load's least; slow-load's is LONG_LOAD_S).
ESTIMATE_MIN_S = 10.0
#: Prompts of a log without usable timestamps that loaded (no load time) and sampled, with at least ESTIMATE_MIN_S
#: outside sampling: the only ones an estimate can judge, filed in the index's one pass over the prompts (a group,
#: as facts.PROMPT_GROUPS' own), so the estimate never reads the whole table.
PROMPT_GROUPS["load_estimable"] = lambda p: (
    p.estimated and p.status == "ok" and p.total_s is not None and p.phases.load is None
    and bool(p.phases.inference) and not p.lowvram_module_loads
    and p.total_s - (p.phases.inference or 0.0) - p.phases.seconds(Phase.WAIT) >= ESTIMATE_MIN_S)
# Their loads and bars are read one prompt at a time (_estimated_loads): filed in the index's pass, not walked from a
# long log's tables, whose every block they are scattered over (0.3 s of the 256 MB corpus file's diagnosis).
LOADS_READ_OF.append("load_estimable")
BARS_READ_OF.append("load_estimable")
#: Each is compared with the prompts this near it (by index, either side) in its run.
NEIGHBOURS = 12


@dataclass(frozen=True, slots=True)
class EstimatedLoad:
    """A prompt of a log without usable timestamps that loaded (complete loads only) and sampled, against the
    prompts of its run that loaded nothing and sampled about as long: its time beyond theirs outside sampling is
    taken as its load time (an estimate, said as one)."""

    prompt: Prompt
    #: MB of its ``loaded completely`` lines (0.0 where they give no size: ComfyUI before 2024 printed none).
    mb: float
    seconds: float
    #: How many prompts it was compared with, and their median seconds outside sampling.
    compared: int
    usual: float

    @property
    def slow(self) -> bool:
        """Slow storage by slow-load's measure (its thresholds: MIN_MB, LONG_LOAD_S, SLOW_MB_S): slow-load's."""
        return self.mb >= MIN_MB and self.seconds >= LONG_LOAD_S and self.mb / self.seconds < SLOW_MB_S


def estimated_loads(facts: Facts) -> list[EstimatedLoad]:
    """The load times of a log without usable timestamps, estimated (EstimatedLoad); once per report (slow-load and
    first-load ask)."""
    return facts.once("estimated_loads", lambda: _estimated_loads(facts))


@prompt_fold
class QuietPrompts:
    """The prompts of a log without usable timestamps that loaded nothing and sampled: their index, run, sampling
    seconds and seconds outside sampling, what an estimate compares a loading prompt with, folded in the index's one
    pass (reading each estimable prompt's neighbours back decoded a long log's whole prompts table: 1.7 s of the
    1 GB bench's diagnosis)."""

    def __init__(self) -> None:
        self.indexes: array[int] = array("q")
        self.runs: array[int] = array("q")
        self.inference: array[float] = array("d")
        self.other: array[float] = array("d")

    def feed(self, position: int, prompt: Prompt) -> None:
        if not prompt.estimated:
            return
        phases = prompt.phases
        if (prompt.status == "ok" and prompt.total_s is not None and phases.load == 0.0 and phases.other is not None
                and phases.inference):
            self.indexes.append(prompt.index)
            self.runs.append(prompt.run)
            self.inference.append(phases.inference)
            self.other.append(phases.other)

    def alike(self, prompt: Prompt, low: int, high: int) -> list[float]:
        """Seconds outside sampling of those with indexes ``low`` to ``high`` in the prompt's run whose sampling
        took about as long as its own (SAME_WORK_RATIO), in index order."""
        inference = prompt.phases.inference or 0.0
        start, stop = bisect_left(self.indexes, low), bisect_right(self.indexes, high)
        return [self.other[i] for i in range(start, stop) if self.runs[i] == prompt.run
                and 1 / SAME_WORK_RATIO <= self.inference[i] / inference <= SAME_WORK_RATIO]


def _estimated_loads(facts: Facts) -> list[EstimatedLoad]:
    """Each prompt of the ``load_estimable`` group against its neighbours (NEIGHBOURS either side, same run) that
    loaded nothing and sampled about as long (QuietPrompts), then its loads and bars: a long log's tables are on
    disk, and a pass over all its prompts would cost as much as the index's."""
    found = []
    quiet = facts.fold(QuietPrompts)
    for prompt in facts.prompts_in("load_estimable"):
        alike = quiet.alike(prompt, max(0, prompt.index - NEIGHBOURS), prompt.index + NEIGHBOURS)
        if not alike:
            continue
        from statistics import median  # here: statistics and what it imports are ~4 ms of every start-up

        usual = median(alike)
        load_s = (prompt.total_s or 0.0) - (prompt.phases.inference or 0.0) - prompt.phases.seconds(Phase.WAIT) - usual
        if load_s < ESTIMATE_MIN_S:
            continue
        loads = facts.loads_of(prompt)
        if loads and all(ld.kind == "complete" for ld in loads) and not any(
                b.is_loading for b in facts.bars_of(prompt)):
            found.append(EstimatedLoad(prompt, weights_mb(loads), load_s, len(alike), usual))
    return found


#: The lines the report keeps (notable events) that show a model being loaded with the legacy loader: a stretch of
#: load time before one of them, back to the one before it, is time the log gives to loading without showing any.
LOAD_LINE_KINDS = (EventKind.LOAD_REQUESTED, EventKind.LOADED_COMPLETELY, EventKind.GGUF_QTYPES)


@dataclass(frozen=True, slots=True)
class LoadSilence:
    """The longest stretch of a prompt's load time that ends at a load line, with no other load request or loaded
    model line in it.

    Rule 2 of the phases gives the time before a load line to loading, because ComfyUI reads a model's file before
    it logs the load (checked in ComfyUI's comfy/sd.py: a loader node's ``load_diffusion_model`` reads the file with
    ``comfy.utils.load_torch_file``; ``Requested to load`` comes later, from comfy/model_management.py's
    ``load_models_gpu`` when a node needs the model). A slow network volume shows as such a gap (the scenarios'
    ground truth counts it as load), but so does a node that logs nothing (a VAE or text encoder): slow-load says
    how much of the load time it is."""

    prompt: Prompt
    #: The load line it ends at.
    event: Event
    seconds: float
    #: Where it starts: the load line before it, or the start of its stretch of load time (a line the report
    #: does not keep, the prompt's start); ``since_line`` is that line's number where the report knows it.
    since: datetime
    since_line: int | None

    @property
    def unbroken(self) -> bool:
        """No line at all between its two ends: the log is silent for all of it."""
        return self.since_line is not None and self.since_line == self.event.line - 1


def longest_load_silence(facts: Facts, prompt: Prompt) -> LoadSilence | None:
    """The prompt's longest LoadSilence, from its load lines and its spans of load time (a stretch starts no
    earlier than the load span it ends in: a line of other work, or a bar, ends the silence before it)."""
    events = sorted((ev for kind in LOAD_LINE_KINDS for ev in facts.prompt_events(kind, prompt) if ev.ts is not None),
                    key=lambda ev: ev.line)
    spans = [s for s in prompt.spans if s.phase is Phase.LOAD]
    best: LoadSilence | None = None
    before: Event | None = None
    for ev in events:
        assert ev.ts is not None
        span = next((s for s in spans if s.start < ev.ts <= s.end), None)
        if span is not None:
            since = span.start
            since_line = prompt.line if prompt.got_at == since == prompt.started_at else None  # `got prompt`
            if before is not None and before.ts is not None and since <= before.ts <= ev.ts:
                since, since_line = before.ts, before.line
            seconds = (ev.ts - since).total_seconds()
            if best is None or seconds > best.seconds:
                best = LoadSilence(prompt, ev, seconds, since, since_line)
        before = ev
    return best


def weights_mb(loads: Iterable[Load]) -> float:
    """MB of weights the loads moved; old builds' ``loaded completely 9.5367431640625e+25`` (no size) left out."""
    return sum(ld.loaded_mb or 0.0 for ld in loads if (ld.loaded_mb or 0) < 1e9)
