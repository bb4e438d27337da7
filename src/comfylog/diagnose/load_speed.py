"""How fast each model loaded, from the log's own timestamps: what the load rules compare.

A legacy load is timed from its ``Requested to load X`` line to the ``loaded completely`` line
that answers it; that is the copy of the weights (read from disk or the page cache, pinned, moved
to the GPU). Dynamic-VRAM loads are not timed: their ``prepared ... Staged`` line comes at once and
the weights stream in during sampling.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..events import EventKind
from ..model import Load, Prompt, Run
from .facts import Facts

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


def _timed_loads(facts: Facts) -> list[TimedLoad]:
    found: list[TimedLoad] = []
    for prompt in facts.prompts_in("timed"):
        requests = facts.prompt_events(EventKind.LOAD_REQUESTED, prompt)
        for load in facts.loads_of(prompt):
            if load.kind != "complete" or load.ts is None or not load.loaded_mb or load.loaded_mb >= 1e9:
                continue
            asked = [ev for ev in requests if ev.line < load.line and ev.fields.get("model") == load.model]
            if asked and asked[-1].ts is not None:
                found.append(TimedLoad(load, prompt, (load.ts - asked[-1].ts).total_seconds(), asked[-1].line))
    return found


@dataclass(frozen=True, slots=True)
class SlowReloads:
    """A run with pinned memory whose models came back no faster than their first read."""

    run: Run
    pinned_mb: float
    first: dict[str, TimedLoad]
    slow: list[TimedLoad]


def pinned_slow_reloads(facts: Facts) -> list[SlowReloads]:
    """Runs with ``Enabled pinned memory`` where a model of at least MIN_MB, loaded before in the same
    run, loaded again slower than SLOW_MB_S and no faster than its first load, though the machine's
    RAM could hold the file: the page cache did not help, so the disk is not what limited it."""
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
