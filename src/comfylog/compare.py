"""Run against baseline: the same workflow in two places, side by side, and what explains the gap.

``compare_reports(report, baseline)`` matches prompts by order (or takes the ones asked for),
compares totals, phases, the per-step rate of matching sampling bars and the model loads, names
the phase that explains most of the difference and the findings behind it. Several prompts on a
side are summarised by their median. The result is a plain typed ``Comparison`` that every
renderer (terminal, JSON, HTML) reads.

A long log has hundreds of thousands of prompts, a record each of about 1 kB: the prompts compared
are read from both reports' tables once, side by side, and kept as their figures, never as records.
Even the figures of two 1 GB logs (297,000 pairs, six a side, and the bars') would hold ~40 MB beside
the two reports: each figure goes into a spool (spool.py: on disk past a block), read back once for
its median. The prompts paired are kept as ``PromptIndexes`` (about a byte each), and the bars that
could not be paired (a line per prompt pair whose bar counts differ) in a spool.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import field, replace
from itertools import chain, islice, zip_longest
from operator import attrgetter
from typing import overload

from .dataclass import dataclass
from .diagnose import rule_phase
from .diagnose.builds import dynamic_vram_by_default
from .diagnose.rules.lowvram import ADVICE_COMPARE
from .events import Phase
from .index import index_of
from .model import PHASES, Finding, Prompt, Report, Run
from .spool import Spool

#: Ratios within this much of 1 are "the same".
SAME_WITHIN = 0.005

#: Sizes within this share of each other are the same (24564 and 24217 MB: both a 24 GB card).
SAME_SIZE_WITHIN = 0.05

#: Loads whose model the log does not name (a reload with no "Requested to load" before it).
UNNAMED_MODEL = "(not named in the log)"


class CompareError(ValueError):
    """The prompts asked for cannot be compared (out of range, never timed); the message says why."""


@dataclass
class Fact:
    """One machine fact on both sides (GPU, VRAM, vram state, versions), as text."""

    name: str
    run: str | None
    baseline: str | None

    @property
    def same(self) -> bool:
        """Equal, or for a size (``24564 MB`` / ``24217 MB``) within SAME_SIZE_WITHIN: the same card
        reports a little more or less free of the driver's share."""
        if self.run == self.baseline:
            return True
        a, b = _megabytes(self.run), _megabytes(self.baseline)
        return a is not None and b is not None and abs(a - b) <= SAME_SIZE_WITHIN * max(a, b)


@dataclass
class Delta:
    """One quantity on both sides (seconds, or seconds per step), and how they relate.

    ``ratio`` is run / baseline (above 1: the run is slower); None when a side is missing or zero
    (a phase either side may not have spent any time on, or could not time).
    """

    name: str
    run: float | None
    baseline: float | None
    unit: str = "s"

    @property
    def ratio(self) -> float | None:
        if self.run is None or self.baseline is None or self.baseline <= 0 or self.run <= 0:
            return None
        return self.run / self.baseline

    @property
    def difference(self) -> float | None:
        if self.run is None or self.baseline is None:
            return None
        return self.run - self.baseline


@dataclass
class StepRate:
    """A sampling bar matched by its position in the prompt and its step count: seconds per step."""

    position: int  # 1-based, among the prompt's sampling bars
    steps: float
    rate: Delta  # unit "s/it"
    run_line: int
    baseline_line: int


@dataclass
class ModelLoads:
    """How one model was loaded on each side: load lines by kind, and the most MB put on the GPU."""

    model: str
    run: dict[str, int]
    baseline: dict[str, int]
    run_loaded_mb: float | None
    baseline_loaded_mb: float | None


class PromptIndexes(Sequence[int]):
    """Prompt indexes (0-based) in pairing order, as the differences between neighbours in LEB128
    bytes (zigzag: any order): about a byte an index, where a list of ints costs 36 bytes and two
    1 GB logs pair 297,000 prompts."""

    __slots__ = ("_bytes", "_count", "_last")

    def __init__(self, indexes: Iterable[int] = ()) -> None:
        self._bytes = bytearray()
        self._count = 0
        self._last = -1
        for index in indexes:
            self.append(index)

    def append(self, index: int) -> None:
        delta = index - self._last
        code = delta << 1 if delta >= 0 else (-delta << 1) - 1
        out = self._bytes
        while code > 0x7F:
            out.append(code & 0x7F | 0x80)
            code >>= 7
        out.append(code)
        self._last = index
        self._count += 1

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[int]:
        last, code, shift = -1, 0, 0
        for byte in self._bytes:
            code |= (byte & 0x7F) << shift
            if byte & 0x80:
                shift += 7
                continue
            last += code >> 1 if not code & 1 else -((code + 1) >> 1)
            yield last
            code = shift = 0

    @overload
    def __getitem__(self, index: int) -> int: ...

    @overload
    def __getitem__(self, index: slice) -> list[int]: ...

    def __getitem__(self, index: int | slice) -> int | list[int]:
        """By position, reading from the start (the first few are what is asked for: a page shows 12)."""
        if isinstance(index, slice):
            start, stop, step = index.indices(self._count)
            if step > 0:
                return list(islice(self, start, stop, step))
            return list(self)[index]
        if index < 0:
            index += self._count
        if not 0 <= index < self._count:
            raise IndexError("prompt index out of range")
        return next(islice(self, index, None))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (PromptIndexes, list, tuple)):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        shown = ", ".join(map(str, self[:8]))
        return f"PromptIndexes([{shown}{', ...' if self._count > 8 else ''}], {self._count} indexes)"


@dataclass
class Comparison:
    """A run compared with a baseline.

    Fields:
        run_name, baseline_name: the logs (source names).
        run_prompts, baseline_prompts: the prompts compared (0-based indexes), pair by pair
            (``PromptIndexes``: a sequence of ints, about a byte each).
        machine: GPU, VRAM, vram state and versions of both sides (``Fact``).
        total: the prompts' duration (median over the pairs); ``total_source`` says whether it is
            ``executed`` (as ComfyUI printed it, used when every compared prompt printed one) or
            ``measured`` (from the log's timestamps).
        phases: load, inference, wait and other (medians), as ``Delta`` rows.
        gap_s: run total minus baseline total; ``main_phase`` is the phase whose difference is the
            largest share of it (``main_phase_gap_s`` seconds), or None when the two are the same.
        steps: per-step rates of sampling bars with the same position and step count (medians);
            ``unmatched_steps`` describes the bars that could not be paired (a sequence of lines, in
            a spool: a line per prompt pair whose bar counts differ).
        loads: per model, how it was loaded on each side; ``lowvram_module_lines`` (run, baseline).
        setup_differences: the set-up facts (dynamic VRAM, pinned memory, attention...) that differ
            between the two machines and can explain a gap in ``main_phase``, each said in words.
        only_in_run, only_in_baseline: findings present on one side only (by id).
        explaining: the findings of the slower side, absent on the other, whose time belongs to
            ``main_phase`` (e.g. partial loads behind a load gap).
        run_findings: the run's findings as they read beside this baseline: what the baseline
            shows is said (it loaded the same models completely), advice to run a comparison is gone.
        verdict_notes: what the two sides share and so does not explain the gap (GGUF on both).
        notes: what the reader should know about how the prompts were chosen.
        estimated: some compared prompt has no usable timestamps (its phases are estimated).
        waits: a RunPod worker handles either side's prompts (Report.wait_applies): the reports show
            wait only then (``phases`` always holds it, 0.0 where nothing waits).
    """

    run_name: str
    baseline_name: str
    run_prompts: PromptIndexes
    baseline_prompts: PromptIndexes
    machine: list[Fact]
    total: Delta
    total_source: str
    phases: list[Delta]
    gap_s: float | None
    main_phase: str | None
    main_phase_gap_s: float | None
    steps: list[StepRate]
    unmatched_steps: Sequence[str]
    loads: list[ModelLoads]
    lowvram_module_lines: tuple[int, int]
    only_in_run: list[Finding]
    only_in_baseline: list[Finding]
    explaining: list[Finding]
    notes: list[str] = field(default_factory=list)
    run_findings: list[Finding] = field(default_factory=list)
    verdict_notes: list[str] = field(default_factory=list)
    setup_differences: list[str] = field(default_factory=list)
    estimated: bool = False
    waits: bool = True

    def phase(self, name: str) -> Delta:
        return next(d for d in self.phases if d.name == name)

    @property
    def shown_phases(self) -> list[Delta]:
        """The phases the reports show: wait only where it applies (``waits``)."""
        return [d for d in self.phases if d.name != "wait" or self.waits]


def compare_reports(
    report: Report, baseline: Report, prompt: int | None = None, baseline_prompt: int | None = None
) -> Comparison:
    """Compare ``report`` (the run) with ``baseline``; ``prompt`` / ``baseline_prompt`` are 1-based.

    Without them, finished prompts are paired in order; ``prompt`` alone pairs that prompt with the
    baseline's prompt of the same number. Raises CompareError when nothing comparable is left.
    """
    if prompt is not None or baseline_prompt is not None:
        run_prompts = iter([_pick(report, prompt or baseline_prompt or 1, "run", "--prompt")])
        base_prompts = iter([_pick(baseline, baseline_prompt or prompt or 1, "baseline", "--baseline-prompt")])
    else:
        run_prompts, base_prompts = _comparable(report, "run"), _comparable(baseline, "baseline")
    # Both tables are read once, side by side: the pairs' figures are kept, never the prompts.
    run_sel, base_sel = _Side(), _Side()
    pairs = _StepPairs()
    for run_prompt, base_prompt in zip_longest(run_prompts, base_prompts):
        if run_prompt is None or base_prompt is None:  # past the shorter side: counted only
            run_sel.unpaired += run_prompt is not None
            base_sel.unpaired += base_prompt is not None
            continue
        run_sel.add(run_prompt)
        base_sel.add(base_prompt)
        pairs.add(report, run_prompt, baseline, base_prompt)
    notes: list[str] = []
    n = len(run_sel.prompts)
    if run_sel.unpaired or base_sel.unpaired:
        notes.append(f"the run has {n + run_sel.unpaired} comparable prompts and the baseline "
                     f"{n + base_sel.unpaired}: the first {n} of each are paired in order")
    if n > 1:
        notes.append(f"{n} prompt pairs: each figure is the median over them")

    executed = run_sel.executed.complete and base_sel.executed.complete
    total = Delta("total", (run_sel.executed if executed else run_sel.total).median(),
                  (base_sel.executed if executed else base_sel.total).median())
    phases = [Delta(ph.value, run_sel.phases[i].median(), base_sel.phases[i].median()) for i, ph in enumerate(PHASES)]
    estimated = run_sel.estimated or base_sel.estimated
    if estimated:
        notes.append("some prompts have no usable timestamps: their phases are estimated from printed durations")

    gap = total.difference
    main_phase, main_gap = _main_phase(phases, gap)
    run_ids = {f.id for f in report.findings}
    base_ids = {f.id for f in baseline.findings}
    only_run = [f for f in report.findings if f.id not in base_ids]
    only_base = [f for f in baseline.findings if f.id not in run_ids]
    slower = only_run if (gap or 0) >= 0 else only_base
    loads = _loads(report, baseline, run_sel.chosen, base_sel.chosen)
    inference = phases[PHASES.index(Phase.INFERENCE)]
    different = _different_models(loads) or _one_side_idle(loads, inference)
    if different is not None:
        notes.insert(0, different)
    run_findings, verdict_notes = _in_context(report, baseline, loads)
    in_context = {f.id: f for f in run_findings}
    explaining = [in_context.get(f.id, f) for f in slower if main_phase is not None and _phase_name(f) == main_phase]
    machine = _machine(index_of(report).runs.get(run_sel.first_run), index_of(baseline).runs.get(base_sel.first_run))
    return Comparison(
        run_name=_name(report),
        baseline_name=_name(baseline),
        run_prompts=run_sel.prompts,
        baseline_prompts=base_sel.prompts,
        machine=machine,
        total=total,
        total_source="executed" if executed else "measured",
        phases=phases,
        gap_s=gap,
        main_phase=main_phase,
        main_phase_gap_s=main_gap,
        steps=pairs.rates(),
        unmatched_steps=pairs.unmatched,
        loads=loads,
        lowvram_module_lines=(run_sel.lowvram_module_loads, base_sel.lowvram_module_loads),
        only_in_run=only_run,
        only_in_baseline=only_base,
        explaining=explaining,
        notes=notes,
        run_findings=run_findings,
        verdict_notes=verdict_notes,
        setup_differences=setup_differences(machine, main_phase),
        estimated=estimated,
        waits=report.wait_applies or baseline.wait_applies,
    )


def ratio_text(delta: Delta) -> str:
    """``7.19x slower``, ``1.50x faster``, ``same``, ``none in the baseline`` or ``none in the run``
    (no ratio to zero), ``—`` when a side is unknown."""
    ratio = delta.ratio
    if ratio is None:
        diff = delta.difference
        if diff is None:
            return "—"
        if abs(diff) < 1e-9:
            return "same"
        return "none in the baseline" if diff > 0 else "none in the run"
    if abs(ratio - 1) <= SAME_WITHIN:
        return "same"
    return f"{ratio:.2f}x slower" if ratio > 1 else f"{1 / ratio:.2f}x faster"


# ---- choosing prompts ---------------------------------------------------------------------------


class _Column:
    """One figure of each paired prompt (or bar), in pairing order, as recorded (an int stays an int:
    a phase that summed nothing is ``0``, not ``0.0``, in the JSON). The figures are in a spool, on
    disk past a block; ``median`` reads them back once and lets them go."""

    __slots__ = ("values", "missing")

    def __init__(self) -> None:
        self.values: Spool[float] = Spool()
        self.missing = False  # some prompt has no such figure (None: a phase the log could not time)

    def add(self, value: float | None) -> None:
        if self.missing:
            return  # the median is None whatever else comes
        if value is None:
            self.missing = True
            self.values = Spool()
            return
        self.values.append(value)

    @property
    def complete(self) -> bool:
        """Every paired prompt has the figure."""
        return not self.missing

    def median(self) -> float | None:
        """statistics.median of the figures, or None when a prompt lacks one (or there are none);
        the figures are gone afterwards (each median is taken once)."""
        values, self.values = self.values, Spool()
        if not values or self.missing:
            return None
        middle: float = statistics.median(values)  # the middle record itself for an odd count
        return middle


#: A prompt's phases' seconds in PHASES order (Phases.get goes through the enum: 4x slower).
_PHASE_SECONDS = attrgetter(*(phase.value for phase in PHASES))


class _Side:
    """The prompts paired on one side, as the figures the comparison reads, in pairing order.

    Records would cost ~1 kB a prompt and a long log has hundreds of thousands (spool.py keeps them
    on disk); the figures go to spools too (``_Column``). The loads are counted afterwards for the
    prompts in ``chosen``.
    """

    def __init__(self) -> None:
        self.prompts = PromptIndexes()  # their indexes, about a byte each
        self.first_run = 0  # the first prompt's run: the machine compared
        self.total = _Column()  # total_s, 0.0 when unknown
        self.executed = _Column()  # executed_s, as ComfyUI printed it
        self.phases = [_Column() for _ in PHASES]
        self.estimated = False
        self.lowvram_module_loads = 0
        # a byte per prompt index up to the largest paired (indexes count from 0), 1 for a paired
        # prompt: a set of them costs some 60 bytes an index
        self.chosen = bytearray()
        self.unpaired = 0  # comparable prompts past the shorter side's last

    def add(self, prompt: Prompt) -> None:
        if not self.prompts:
            self.first_run = prompt.run
        self.prompts.append(prompt.index)
        self.total.add(prompt.total_s or 0.0)
        self.executed.add(prompt.executed_s)
        for column, seconds in zip(self.phases, _PHASE_SECONDS(prompt.phases), strict=True):
            column.add(seconds)
        self.estimated = self.estimated or prompt.estimated
        self.lowvram_module_loads += prompt.lowvram_module_loads
        if prompt.index >= len(self.chosen):
            self.chosen.extend(bytes(prompt.index + 1 - len(self.chosen)))
        self.chosen[prompt.index] = 1


def _comparable(report: Report, side: str) -> Iterator[Prompt]:
    """The finished prompts, or failing that every timed prompt that ran, one at a time from the
    table (a first pass stops at the first finished prompt)."""

    def finished(p: Prompt) -> bool:
        return p.status == "ok" and p.total_s is not None

    def timed(p: Prompt) -> bool:
        return bool(p.total_s) and p.status not in ("invalid", "dropped")

    wanted = finished if any(finished(p) for p in report.prompts) else timed
    chosen = (p for p in report.prompts if wanted(p))
    first = next(chosen, None)
    if first is None:
        raise CompareError(f"the {side} ({_name(report)}) has no timed prompt to compare")
    return chain([first], chosen)


def _pick(report: Report, number: int, side: str, option: str) -> Prompt:
    if not 1 <= number <= len(report.prompts):
        raise CompareError(
            f"the {side} ({_name(report)}) has {len(report.prompts)} prompt{'s' if len(report.prompts) != 1 else ''}: "
            f"there is no prompt {number} (choose one with {option})"
        )
    chosen = report.prompts[number - 1]
    if not chosen.total_s:
        raise CompareError(f"prompt {number} of the {side} was never timed (status {chosen.status}): "
                           f"choose another with {option}")
    return chosen


def _megabytes(text: str | None) -> float | None:
    if text is None or not text.endswith(" MB"):
        return None
    try:
        return float(text[:-3])
    except ValueError:
        return None


def _name(report: Report) -> str:
    return " + ".join(src.name for src in report.sources) or "<empty>"


def _phase_name(finding: Finding) -> str | None:
    phase = rule_phase(finding.id)
    return phase.value if phase is not None else None


# ---- the parts of a comparison ------------------------------------------------------------------


def _in_context(report: Report, baseline: Report, loads: list[ModelLoads]) -> tuple[list[Finding], list[str]]:
    """The run's findings beside the baseline, and what both sides share (so it explains no gap).

    A baseline that loaded every model completely is said in the lowvram finding (the same models
    fit there); with the baseline at hand, advice to compare with one is dropped; GGUF weights on both
    sides are no reason for a gap.
    """
    base_ids = {f.id for f in baseline.findings}
    notes: list[str] = []
    adjusted: list[Finding] = []
    complete = [m for m in loads if m.baseline and set(m.baseline) == {"complete"} and m.model != UNNAMED_MODEL]
    for f in report.findings:
        advice = [a for a in f.advice if not ADVICE_COMPARE.matches(a)]
        why = f.why
        if f.id == "lowvram" and complete and not any("complete" not in m.baseline for m in loads if m.baseline):
            named = ", ".join(f"{m.model} {m.baseline_loaded_mb:.0f} MB" if m.baseline_loaded_mb else m.model
                              for m in complete[:4])
            why += (f" The baseline loaded every model completely ({named}): the same models fit in the baseline's "
                    "GPU, so this is a matter of what was offered to them here, not of their size.")
            notes.append(f"The baseline loaded every model completely ({named}): the same models fit there.")
        if f.id == "gguf" and "gguf" in base_ids:
            why += " The baseline loads GGUF weights too, so they do not explain the difference between the two."
            notes.append("Both sides load GGUF weights (`gguf qtypes` on both), so GGUF does not explain the gap.")
        adjusted.append(replace(f, advice=advice, why=why) if (advice != f.advice or why != f.why) else f)
    return adjusted, notes


def _machine(run: Run | None, base: Run | None) -> list[Fact]:
    def facts(r: Run | None) -> dict[str, str | None]:
        if r is None:
            return {}
        return {
            "GPU": r.gpu,
            "VRAM": None if r.total_vram_mb is None or r.vram_placeholder() else f"{r.total_vram_mb} MB",
            "vram state": ", ".join(r.vram_states) or None,
            "ComfyUI": r.comfyui_text(),
            "PyTorch": r.pytorch_version,
            "CUDA image": r.cuda_version,
            "RunPod serverless": "yes" if r.serverless else "no",
            **setup_facts(r),
        }

    a, b = facts(run), facts(base)
    names = list(dict.fromkeys([*a, *b]))
    return [Fact(n, a.get(n), b.get(n)) for n in names if a.get(n) is not None or b.get(n) is not None]


def _main_phase(phases: Sequence[Delta], gap: float | None) -> tuple[str | None, float | None]:
    if gap is None or abs(gap) < 1e-9:
        return None, None
    diffs = [(d.difference or 0.0, d.name) for d in phases]
    diff, name = max(diffs) if gap > 0 else min(diffs)
    if (diff > 0) != (gap > 0):
        return None, None
    return name, diff


def _sampling_bars(report: Report, prompt: Prompt) -> list[tuple[int, float, float, int]]:
    """(position, steps, seconds per step, line) of the prompt's sampling bars, in order."""
    bars = index_of(report).sampling_bars(prompt)
    return [(i + 1, b.total, b.seconds_per_step, b.line) for i, b in enumerate(bars)
            if b.seconds_per_step is not None]


class _StepPairs:
    """The sampling bars of each prompt pair, matched by position and step count, as they are paired."""

    def __init__(self) -> None:
        # per (position, steps): the run's and the baseline's rates, and the lines of the first pair
        self.pairs: dict[tuple[int, float], tuple[_Column, _Column, int, int]] = {}
        # What could not be paired, in order, each once: a line per prompt pair whose bar counts differ
        # (129,000 of two different 1 GB logs' 297,000 pairs), so in a spool; each such line is new (a
        # prompt is paired once), the bars' lines are remembered to be said once.
        self.unmatched: Spool[str] = Spool()
        self._unmatched_bars: set[str] = set()

    def add(self, report: Report, run_prompt: Prompt, baseline: Report, base_prompt: Prompt) -> None:
        run_bars = _sampling_bars(report, run_prompt)
        base_bars = _sampling_bars(baseline, base_prompt)
        for (pos, steps, rate, line), (_, b_steps, b_rate, b_line) in zip(run_bars, base_bars, strict=False):
            if steps == b_steps:
                got = self.pairs.get((pos, steps))
                if got is None:
                    got = self.pairs[(pos, steps)] = (_Column(), _Column(), line, b_line)
                got[0].add(rate)
                got[1].add(b_rate)
            else:
                text = f"bar {pos}: {steps:g} steps in the run, {b_steps:g} in the baseline"
                if text not in self._unmatched_bars:
                    self._unmatched_bars.add(text)
                    self.unmatched.append(text)
        if len(run_bars) != len(base_bars):
            self.unmatched.append(f"prompt {run_prompt.index + 1} has {len(run_bars)} sampling bars with a step "
                                  f"rate, baseline prompt {base_prompt.index + 1} has {len(base_bars)}")

    def rates(self) -> list[StepRate]:
        """Per (position, steps), the median rate on each side."""
        return [StepRate(pos, steps, Delta(f"bar {pos}", run.median(), base.median(), "s/it"), line, b_line)
                for (pos, steps), (run, base, line, b_line) in self.pairs.items()]


def _loads(report: Report, baseline: Report, run_chosen: bytearray, base_chosen: bytearray) -> list[ModelLoads]:
    """Per model, the loads of the paired prompts (``chosen``: 1 at each one's index) on each side."""

    def per_model(r: Report, chosen: bytearray) -> dict[str, tuple[dict[str, int], float | None]]:
        out: dict[str, tuple[dict[str, int], float | None]] = {}
        for ld in r.loads:
            if ld.prompt is None or not 0 <= ld.prompt < len(chosen) or not chosen[ld.prompt]:
                continue
            kinds, most = out.get(ld.model or UNNAMED_MODEL, ({}, None))
            kinds[ld.kind] = kinds.get(ld.kind, 0) + 1
            mb = ld.loaded_mb if ld.loaded_mb is not None and ld.loaded_mb < 1e9 else None
            if mb is not None:
                most = mb if most is None else max(most, mb)
            out[ld.model or UNNAMED_MODEL] = (kinds, most)
        return out

    a, b = per_model(report, run_chosen), per_model(baseline, base_chosen)
    return [ModelLoads(m, a.get(m, ({}, None))[0], b.get(m, ({}, None))[0], a.get(m, ({}, None))[1],
                       b.get(m, ({}, None))[1]) for m in dict.fromkeys([*a, *b])]


def _different_models(loads: list[ModelLoads]) -> str | None:
    """A warning when the paired prompts of the two sides load no model in common: pairing by position then
    set different workflows side by side, and their times compare different work."""
    run = [m.model for m in loads if m.run and m.model != UNNAMED_MODEL]
    base = [m.model for m in loads if m.baseline and m.model != UNNAMED_MODEL]
    if not run or not base or set(run) & set(base):
        return None
    return (f"not the same work: the run's paired prompts load {', '.join(run[:3])} and the baseline's "
            f"{', '.join(base[:3])}, no model in common; pick prompts of one workflow with --prompt and "
            "--baseline-prompt")


def _one_side_idle(loads: list[ModelLoads], inference: Delta) -> str | None:
    """A warning when one side's paired prompts loaded no model and sampled nothing while the other's
    sampled: not two runs of one workflow (a warm prompt of the same workflow still samples)."""
    for side, other, loaded, sampled, other_sampled in (
            ("run", "baseline", any(m.run for m in loads), inference.run, inference.baseline),
            ("baseline", "run", any(m.baseline for m in loads), inference.baseline, inference.run)):
        if not loaded and sampled == 0 and other_sampled:
            return (f"not the same work: the {side}'s paired prompts loaded no model and sampled nothing, the "
                    f"{other}'s sampled; pick prompts of one workflow with --prompt and --baseline-prompt")
    return None


# ---- the memory set-up of both machines ----------------------------------------------------------

#: Set-up facts by the phases a difference in them can slow, and why, in a few words.
SETUP_EFFECTS: dict[str, tuple[tuple[str, ...], str]] = {
    "dynamic VRAM": (("load", "inference"), "the two load models differently: dynamic VRAM streams weights during "
                     "sampling, the legacy loader moves or offloads them before"),
    "pinned memory": (("load",), "pinned memory changes how fast weights load (much slower on some systems, "
                      "ComfyUI#10555)"),
    "async offload": (("load", "inference"), "async offload overlaps weight transfers with sampling"),
    "attention": (("inference",), "the attention kernels set much of the per-step speed"),
    "fp16 accumulation": (("inference",), "fp16 accumulation speeds up matrix multiplies where it is on"),
    "allocator": (("inference", "load"), "the CUDA allocator (cudaMallocAsync or native) changes speed and "
                  "fragmentation"),
    "smart memory": (("load",), "with smart memory off every prompt unloads and reloads its models"),
    "RAM limit": (("load",), "a container limit bounds what stays cached in RAM"),
    "PyTorch": (("inference",), "kernels change between PyTorch releases"),
    "ComfyUI": (("load", "inference"), "loading and sampling code change between ComfyUI releases"),
    "comfy-aimdo": (("load",), "comfy-aimdo does dynamic VRAM's streaming"),
}


def setup_facts(run: Run) -> dict[str, str | None]:
    """The run's memory set-up as comparable text (rows of the machine table)."""
    setup = run.setup
    dynamic = setup.get("dynamic_vram")
    if dynamic is True:
        dynamic_text: str | None = "on"
    elif dynamic is False:
        dynamic_text = f"off ({setup.get('dynamic_vram_off') or 'refused'})"
    elif dynamic_vram_by_default(run) and run.comfyui_version:
        dynamic_text = "off (no dynamic VRAM line: a flag such as --highvram)"
    else:
        dynamic_text = None
    allocator = run.device.rsplit(" : ", 1)[1].strip() if run.device and " : " in run.device else None
    pinned = setup.get("pinned_memory_mb")
    streams = setup.get("async_offload_streams")
    limit = setup.get("ram_limit_mb")
    return {
        "dynamic VRAM": dynamic_text,
        "comfy-aimdo": setup.get("aimdo_version"),
        "pinned memory": f"{float(pinned):.0f} MB" if pinned is not None else None,
        "async offload": f"{streams} streams" if streams is not None else None,
        "allocator": allocator or None,
        "attention": setup.get("attention"),
        "fp16 accumulation": "on" if setup.get("fp16_accumulation") else None,
        "smart memory": "off" if setup.get("smart_memory") is False else None,
        "RAM limit": f"{limit} MB (cgroup)" if limit is not None else None,
    }


def setup_differences(machine: Sequence[Fact], main_phase: str | None) -> list[str]:
    """The facts that differ and can explain a gap in ``main_phase`` (every differing one without it)."""
    found = []
    for fact in machine:
        effect = SETUP_EFFECTS.get(fact.name)
        if effect is None or fact.same or (main_phase is not None and main_phase not in effect[0]):
            continue
        found.append(f"{fact.name}: {fact.run or 'not stated'} in the run, {fact.baseline or 'not stated'} in the "
                     f"baseline ({effect[1]})")
    return found
