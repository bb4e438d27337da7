"""Prompts whose sampler ran far slower per step than the same sampler in the log's other prompts.

ComfyUI logs neither the image size nor the batch, which set a step's work, nor the CFG and sampler, which set how
many times a step runs the model, so the finding says the readings: a larger job, a step that does more, or a GPU
that ran slower (memory spilled out of VRAM, another program on it). Read on 003 (one Flux prompt at 6.0 s/step
among 1.3), 005 (four Flux prompts at 6.2-7.8 among 1.44, each after the text encoder was reloaded beside a
partially loaded Flux on Windows, and two at 3.0), 010 (DirectML), 017 (five SD1.5 prompts at 3.7 among 0.92 on a
T4, the same 3.7 each time: a larger image, most likely) and 020. Video wrappers do print the job (``Sampling 61
frames in 16 latents at 720x480 with 30 inference steps``, 015; Prompt.video): where every prompt compared printed
it, the finding says whether the slow ones sampled a larger job or the same one.
"""

from __future__ import annotations

import bisect
from array import array
from bisect import bisect_left
from dataclasses import field

from ...dataclass import dataclass
from ...events import EventKind, Phase
from ...model import Finding, ProgressBar, Prompt
from ...text import dur, listing, plural
from ..engine import MAX_EVIDENCE, Advice, finding, rule
from ..facts import Facts, bar_fold, platform_of, prompt_fold
from ..memory import job_text, pixels
from ..model_kinds import samples

#: A bar is slow at this many times its group's median seconds per step, and this many seconds more per step.
SLOW_RATIO = 2.0
SLOW_EXTRA_S = 0.5
#: Groups of fewer bars give no usual rate to judge by.
MIN_GROUP = 4
#: Bars shorter than this (steps, seconds) time a step too coarsely (tqdm's elapsed is whole seconds).
MIN_STEPS = 4
MIN_ELAPSED_S = 4.0
#: Prompt numbers named in the text.
MAX_NAMED = 6
#: Below this many seconds lost in all the finding is not worth a reader's time (020: one prompt, 16.5 s).
MIN_COST_S = 60.0
#: Slow bars whose rates are within this ratio of each other ran at one steady rate: a steady difference (017).
STEADY_RATIO = 1.05
#: A video job this many times the others' frames × pixels is a larger job; within SAME_JOB of them, the same.
LARGER_JOB = 1.2
SAME_JOB = 0.95
#: Above this many times the usual time a step that runs the model twice (CFG, a two-call sampler) is not enough.
TWICE = 2.2
#: The other prompts whose video job is compared.
MAX_COMPARED = 200

ADVICE_LARGER_JOB = Advice("Nothing is wrong with the machine if the larger job was meant ({job} against {usual}); "
                           "if not, check the size in {these} workflow", {"job": "the job", "usual": "the others'",
                                                                         "these": "these prompts'"})
ADVICE_SIZE = Advice("Compare {these} image size and batch with the others' (in the workflow, or the images' "
                     "metadata): a larger job takes longer per step (twice the width and height: about four times)",
                     {"these": "these prompts'"})
ADVICE_SYSMEM = Advice("If the size and batch were the same: in the NVIDIA Control Panel (Manage 3D settings, Program "
                       "Settings, ComfyUI's python.exe) set `CUDA - Sysmem Fallback Policy` to `Prefer No Sysmem "
                       "Fallback`, so that running out of VRAM fails with an out-of-memory error instead of sampling "
                       "from system RAM several times slower (NVIDIA driver 546.01 or later)")
ADVICE_GPU_BUSY = Advice("If the size and batch were the same, check what else used the GPU then (other programs, a "
                         "second ComfyUI: `nvidia-smi` lists them on NVIDIA) and whether it was throttling "
                         "(temperature, power)")


@rule(
    "slow-steps", "info", Phase.INFERENCE,
    trigger=f"A sampling bar ({MIN_STEPS}+ steps, done) taking {SLOW_RATIO:.0f}x the median seconds per step, and "
    f"{SLOW_EXTRA_S} s more, of the same sampler (same log, sampling model, place in the prompt and step count; "
    f"{MIN_GROUP}+ bars): a larger image or batch (ComfyUI logs neither; where a video wrapper's `Sampling N frames "
    "... at WxH` line gives every prompt's job, it says whether the job was larger), a step that runs the model "
    "twice, or a GPU that ran slower.",
    advice=(ADVICE_SIZE, ADVICE_LARGER_JOB, ADVICE_SYSMEM, ADVICE_GPU_BUSY),
)
def _slow_steps(facts: Facts) -> list[Finding]:
    rough = [g for g in _gather(facts) if g.slow() is not None]
    models_of = _models_of(facts, rough)  # a few groups at most: split by model, in one pass over their prompts
    found = [(g, slow) for group in rough for g in _by_model(group, models_of)
             if len(g.per_step) >= MIN_GROUP and (slow := g.slow()) is not None]
    if sum(s.cost for _, s in found) < MIN_COST_S:
        return []
    found.sort(key=lambda item: -item[1].cost)
    group, slow = found[0]
    more = found[1:]
    return [_said(facts, group, slow, more)]


@dataclass
class _Group:
    """One sampler's done bars: seconds per step, and where each bar is (prompt index, source, line, steps)."""

    source: int
    model: str
    place: int
    steps: int
    per_step: array[float] = field(default_factory=lambda: array("d"))
    prompts: array[int] = field(default_factory=lambda: array("q"))
    sources: array[int] = field(default_factory=lambda: array("q"))
    lines: array[int] = field(default_factory=lambda: array("q"))

    def add(self, per_step: float, prompt: int, source: int, line: int) -> None:
        self.per_step.append(per_step)
        self.prompts.append(prompt)
        self.sources.append(source)
        self.lines.append(line)

    def slow(self) -> _Slow | None:
        """Each bar against the median of the group's other bars, and the usual rate the median of the bars not
        picked: the finding says "took X s per step in the log's N other prompts (the median)". The median of all
        of them counted the slow bars in: of 4 bars at 120.3, 13.8, 17.5 and 70.1 s a step it was 43.8, so the
        first was "2.7x" and the last not slow at all (OrsoEric/HOWTO-ComfyUI, Qwen Image Edit on a 7900 XTX)."""
        from statistics import median  # here: statistics and what it imports are ~4 ms of every start-up

        ranked = sorted(self.per_step)
        if len(ranked) < 2:
            return None
        picked = []
        for i, s in enumerate(self.per_step):
            others = _median_without(ranked, s)
            if s >= SLOW_RATIO * others and s - others >= SLOW_EXTRA_S:
                picked.append(i)
        if not picked or len(picked) == len(ranked):
            return None
        chosen = set(picked)
        usual = median(s for i, s in enumerate(self.per_step) if i not in chosen)
        return _Slow(usual, picked, sum((self.per_step[i] - usual) * self.steps for i in picked))


def _median_without(ranked: list[float], value: float) -> float:
    """The median of ``ranked`` (sorted, 2+ values) with one copy of ``value`` taken out, as ``statistics.median``
    gives it, without building the shorter list (a group can hold thousands of bars)."""
    cut = bisect.bisect_left(ranked, value)
    count = len(ranked) - 1

    def at(k: int) -> float:
        return ranked[k if k < cut else k + 1]

    if count % 2:
        return at(count // 2)
    return (at(count // 2 - 1) + at(count // 2)) / 2


@dataclass
class _Slow:
    """A group's usual seconds a step, the bars well above it, and the seconds those lost."""

    usual: float
    picked: list[int]
    cost: float


@prompt_fold
class SamplingModels:
    """Each prompt's sampling models (those of its own loads that sample, else the last such before it in its run:
    a warm prompt samples with what is loaded), by position, as ids into ``names``: what slow-steps groups its bars
    by, folded in the index's one pass (a walk over a long log's prompts for it took ~2 s of the 1 GB bench)."""

    def __init__(self) -> None:
        self.names: list[str] = [""]
        self._ids: dict[str, int] = {"": 0}
        self._ids_of: array[int] = array("I")
        self._samples: dict[str, bool] = {}
        self._run: int | None = None
        self._current = 0

    def feed(self, position: int, prompt: Prompt) -> None:
        if prompt.run != self._run:
            self._run, self._current = prompt.run, 0
        if prompt.models:
            sampling = [name for name in prompt.models if self._sampling(name)]
            if sampling:
                joined = ", ".join(sampling)
                self._current = self._ids.setdefault(joined, len(self.names))
                if self._current == len(self.names):
                    self.names.append(joined)
        ids = self._ids_of
        if position > len(ids):
            ids.extend([0] * (position - len(ids)))
        if position == len(ids):
            ids.append(self._current)
        else:
            ids[position] = self._current

    def _sampling(self, name: str) -> bool:
        known = self._samples.get(name)
        if known is None:
            known = self._samples[name] = samples(name)
        return known

    def at(self, position: int) -> str:
        """The sampling models of the prompt at ``position`` ("" where none is known)."""
        return self.names[self._ids_of[position]] if 0 <= position < len(self._ids_of) else ""


@bar_fold
class SamplingBars:
    """Every done sampling bar filed under the log it is in, its place among its prompt's sampling bars and its
    steps, folded in the index's one pass over the bars, in log order (a pass of its own decoded a long log's bars
    from disk again). A bar is kept as its group's number and its figures in flat arrays until the groups' sizes
    are known: a prompt drawing 200,000 bars makes as many groups of one bar, whose arrays held ~80 MB."""

    def __init__(self) -> None:
        self.numbers: dict[tuple[int, int, int], int] = {}
        self.sizes: list[int] = []
        self.ids, self.per_step, self.prompts, self.lines = array("q"), array("d"), array("q"), array("q")
        self._prompt, self._place = -1, 0

    def feed(self, position: int, bar: ProgressBar) -> None:
        if not bar.is_sampling or bar.prompt is None:
            return
        self._place = self._place + 1 if bar.prompt == self._prompt else 1
        self._prompt = bar.prompt
        if not _timed_whole(bar):
            return
        sizes = self.sizes
        number = self.numbers.setdefault((bar.source, self._place, int(bar.total)), len(sizes))
        if number == len(sizes):
            sizes.append(0)
        sizes[number] += 1
        self.ids.append(number)
        self.per_step.append(bar.elapsed_s / bar.total)
        self.prompts.append(bar.prompt)
        self.lines.append(bar.line)


def _gather(facts: Facts) -> list[_Group]:
    """The groups of MIN_GROUP+ done sampling bars (SamplingBars), in the order of their first bar. The model comes
    after, for the few groups with a slow bar (_by_model)."""
    bars = facts.fold(SamplingBars)
    sizes, per_step, prompts, lines = bars.sizes, bars.per_step, bars.prompts, bars.lines
    groups = {number: _Group(source, "", place, steps) for number, (source, place, steps) in enumerate(bars.numbers)
              if sizes[number] >= MIN_GROUP}
    for i, number in enumerate(bars.ids):
        group = groups.get(number)
        if group is not None:
            group.add(per_step[i], prompts[i], group.source, lines[i])
    return list(groups.values())


def _models_of(facts: Facts, groups: list[_Group]) -> dict[int, str]:
    """The sampling models each prompt of ``groups`` ran with (SamplingModels, filed in the index's pass)."""
    models, position = facts.fold(SamplingModels), facts.prompts.position
    return {index: "" if (at := position(index)) is None else models.at(at)
            for group in groups for index in group.prompts}


def _by_model(rough: _Group, models_of: dict[int, str]) -> list[_Group]:
    """The group split by the sampling models its prompts ran with (_models_of)."""
    split: dict[str, _Group] = {}
    for i, index in enumerate(rough.prompts):
        name = models_of.get(index, "")
        group = split.get(name)
        if group is None:
            group = split[name] = _Group(rough.source, name, rough.place, rough.steps)
        group.add(rough.per_step[i], index, rough.sources[i], rough.lines[i])
    return list(split.values())


@dataclass
class _Jobs:
    """The job the slow prompts' video sampler printed and the others' (job_text), and how much larger it is."""

    slow: str
    usual: str
    ratio: float
    source: int
    line: int


@prompt_fold
class SizedVideos:
    """The positions of the prompts whose video sampler's line gave frames, width and height (_sized), folded in the
    index's one pass: _video_jobs needs every prompt it compares to have one, and where one has not (nearly always)
    it reads none of them back (up to MAX_COMPARED picked from a long log's table on disk, each block decoded)."""

    def __init__(self) -> None:
        self.positions: array[int] = array("q")

    def feed(self, position: int, prompt: Prompt) -> None:
        if _sized(prompt.video):
            self.positions.append(position)

    def has(self, position: int) -> bool:
        i = bisect_left(self.positions, position)
        return i < len(self.positions) and self.positions[i] == position


def _video_jobs(facts: Facts, group: _Group, picked: list[int]) -> _Jobs | None:
    """The jobs of the slow prompts and of (up to MAX_COMPARED of) the others, when each printed its video
    sampler's line and the slow ones share one job and the others another (or the same); else None."""
    slow_at = set(picked)
    slow_indexes = [group.prompts[i] for i in picked]
    usual_indexes = [group.prompts[i] for i in range(len(group.prompts)) if i not in slow_at][:MAX_COMPARED]
    sized, position = facts.fold(SizedVideos), facts.prompts.position
    if any(at is not None and not sized.has(at) for at in map(position, (*slow_indexes, *usual_indexes))):
        return None  # a prompt without a sized video: the same None as below, nothing read back
    slow = facts.prompts_by_index(slow_indexes)
    usual = facts.prompts_by_index(usual_indexes)
    if not slow or not usual or any(not _sized(p.video) for p in (*slow, *usual)):
        return None
    slow_jobs = {(v["frames"], v["width"], v["height"]) for p in slow if (v := p.video)}
    usual_jobs = {(v["frames"], v["width"], v["height"]) for p in usual if (v := p.video)}
    if len(slow_jobs) != 1 or len(usual_jobs) != 1:
        return None
    first, other = slow[0].video, usual[0].video
    assert first is not None and other is not None
    return _Jobs(job_text(first), job_text(other), pixels(first) / pixels(other), slow[0].source,
                 next((ev.line for ev in facts.prompt_events(EventKind.VIDEO_SAMPLING, slow[0])), slow[0].line))


def _sized(video: dict[str, int] | None) -> bool:
    return bool(video) and all((video or {}).get(k) for k in ("frames", "width", "height"))


def _timed_whole(bar: ProgressBar) -> bool:
    return bar.total >= MIN_STEPS and bar.done >= bar.total and bar.elapsed_s >= MIN_ELAPSED_S


def _said(facts: Facts, group: _Group, slow: _Slow, more: list[tuple[_Group, _Slow]]) -> Finding:
    picked = slow.picked
    numbers = list(dict.fromkeys(group.prompts[i] + 1 for i in picked))
    rates = [group.per_step[i] for i in picked]
    low, high = min(rates), max(rates)
    shown = f"{low:.2f}" if f"{low:.2f}" == f"{high:.2f}" else f"{low:.2f}-{high:.2f}"
    times = f"{low / slow.usual:.1f}x" if f"{low / slow.usual:.1f}" == f"{high / slow.usual:.1f}" else \
        f"{low / slow.usual:.1f}-{high / slow.usual:.1f}x"
    others = len(group.per_step) - len(picked)
    models = ", ".join(f"`{name}`" for name in group.model.split(", ")) if group.model else ""
    sampler = (f"the {group.steps}-step sampler" + (f" of {models}" if models else "")
               + (f" (the prompt's sampling bar {group.place})" if group.place > 1 else ""))
    named = listing((str(n) for n in numbers[:MAX_NAMED]), len(numbers))
    run = facts.run_at(group.sources[picked[0]], group.lines[picked[0]])
    windows_nvidia = (run is not None and platform_of(facts, run) == "windows"
                      and "nvidia" in (run.gpu or "").lower())
    steady = len(rates) > 1 and high <= STEADY_RATIO * low
    these = "this prompt" if len(numbers) == 1 else "these prompts"
    whose = "this prompt's" if len(numbers) == 1 else "these prompts'"
    jobs = _video_jobs(facts, group, picked)
    gpu = (" the GPU ran slower then: memory spilled out of VRAM, another program on the GPU, or throttling."
           + (" On Windows, NVIDIA's driver moves what does not fit in VRAM to system RAM (its sysmem fallback) and "
              "goes on several times slower instead of failing." if windows_nvidia else ""))
    why = (f"{'Prompt' if len(numbers) == 1 else 'Prompts'} {named} took {shown} s per step where {sampler} took "
           f"{slow.usual:.2f} s per step in the log's {plural(others, 'other prompt')} (the median): {times} as long, "
           f"{dur(slow.cost)} more in all. ")
    if jobs is not None and jobs.ratio >= LARGER_JOB:
        why += (f"The video sampler's own lines show a larger job: {jobs.slow} in {these} "
                f"({facts.lines_ref(jobs.source, jobs.line)}) against {jobs.usual} in the others, "
                f"{jobs.ratio:.1f}x the frames × pixels, so each step has at least that much more to do.")
        advice = [ADVICE_LARGER_JOB(job=jobs.slow, usual=jobs.usual, these=whose)]
    elif jobs is not None:
        why += (f"The video sampler's own lines show {'the same job' if jobs.ratio >= SAME_JOB else 'a smaller job'} "
                f"in {these} ({jobs.slow}, {facts.lines_ref(jobs.source, jobs.line)}) as in the others "
                f"({jobs.usual}): not a larger job. "
                + ("A step that runs the model twice (a CFG above 1 where the others used 1, a sampler such as "
                   f"`heun` or `dpmpp_sde`) would take at most twice as long, not {times}: so" if low / slow.usual
                   > TWICE else "Either each step did more (a CFG above 1 where the others used 1, or a sampler that "
                   "runs the model twice a step: up to twice the time), or") + gpu)
        advice = [ADVICE_SYSMEM() if windows_nvidia else ADVICE_GPU_BUSY()]
    else:
        why += (f"The log shows neither the image size nor the batch of {these}: a larger image or batch would "
                "explain it (twice the width and height is about four times the work per step), and so, up to "
                "twice the time, would a step that runs the model twice (a CFG above 1 where the others used 1, a "
                "sampler such as `heun` or `dpmpp_sde`); if size, batch and sampler settings were the same," + gpu
                + (" They ran at one steady rate, which points to a steady difference such as a larger image rather "
                   "than a passing slowdown." if steady else ""))
        advice = [ADVICE_SIZE(these=whose), ADVICE_SYSMEM() if windows_nvidia else ADVICE_GPU_BUSY()]
    if more:
        extra = sum(len(s.picked) for _, s in more)
        why += f" {plural(extra, 'more bar')} of other samplers {'was' if extra == 1 else 'were'} slow the same way."
    evidence = [facts.cite(group.sources[i], group.lines[i],
                           f"{group.steps} steps in {dur(group.per_step[i] * group.steps)}")
                for i in picked[:MAX_EVIDENCE]]
    cost = slow.cost + sum(s.cost for _, s in more)
    prompts = numbers + [group_.prompts[i] + 1 for group_, s in more for i in s.picked]
    larger = f": a {jobs.ratio:.1f}x larger job" if jobs is not None and jobs.ratio >= LARGER_JOB else ""
    return finding(
        "slow-steps",
        f"{plural(len(numbers), 'prompt')} sampled {times} slower per step than the same sampler in "
        f"{plural(others, 'other prompt')}{larger}",
        "medium", why, advice, evidence,
        {"usual_s_per_step": round(slow.usual, 3), "slow_s_per_step": [round(r, 3) for r in rates[:20]],
         "prompts": numbers[:50], "steps": group.steps, "model": group.model or None},
        cost, sorted({n - 1 for n in prompts}), total=len(picked))
