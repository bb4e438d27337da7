"""Weights loaded partially (lowvram): whether the GPU could have held them, and what it cost."""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Iterable, Iterator
from dataclasses import field

from ...dataclass import dataclass
from ...events import Event, EventKind, Phase
from ...model import Evidence, Finding, Load, Prompt, Run
from ...text import dur, gb, plural, with_article
from ..dynamic_vram import gguf_legacy_lines
from ..engine import MAX_EVIDENCE, Advice, finding, rule
from ..facts import SMALL_GPU_MB, UNLIMITED_MB, Facts, gpu_phrase, gpu_vram_mb, is_timed, prompt_fold
from ..holders import (
    ADVICE_FREE_HOLDER,
    FREE_BETWEEN,
    FREE_WITHIN,
    STARVED_SHARE,
    Before,
    Holder,
    before,
    find_holder,
)

#: A model whose size is known is "too big" beyond this share of the GPU's VRAM.
TOO_BIG_SHARE = 0.8
#: ComfyUI's floor for the VRAM a partial load is offered (model_management.load_models_gpu: 64 MB in
#: 2024 builds, ``max(64 * (1024 * 1024), ...)``; 128 MB later).
FLOORS_MB = (64, 128)
#: A later load offered at least this share of the GPU's VRAM shows the GPU was free again by then.
ROOMY_SHARE = 0.5
#: A partial load that left at most this share of the model's weights in RAM costs nothing measurable:
#: moving 5% of the weights per step is a few percent of a step even over a slow PCIe link.
NEGLIGIBLE_SHARE = 0.05

ADVICE_LOADER = Advice("Load the models on the main GPU: check the loader node's device / offload option (UNet, "
                       "GGUF, VAE and text-encoder loaders)")
ADVICE_DROP_FLAGS = Advice("Drop `{flags}` from the start command", {"flags": "--lowvram` / `--novram"})
ADVICE_RESERVE = Advice("Check the start command for `--reserve-vram`, which withholds VRAM from the models")
ADVICE_OTHER_PROCESS = Advice("Make sure no other process holds VRAM (nvidia-smi)")
ADVICE_FREE_MODELS = Advice("Unload what the next step does not need (models held from earlier steps or prompts)")
ADVICE_COMPARE = Advice("Compare with a run that loads completely: `comfylog compare THIS.log BASELINE.log`")
ADVICE_SMALLER_WEIGHTS = Advice("Use smaller weights (fp8, GGUF) or a smaller text encoder so everything fits")
ADVICE_EXPECTED = Advice("Expected on this GPU; quantized weights (fp8, GGUF Q4-Q5) or a smaller model reduce the "
                         "offloading")
ADVICE_BIGGER_GPU = Advice("A GPU with more VRAM removes it")
ADVICE_SMALLER_JOB = Advice("Make the job smaller so its computation leaves VRAM for the weights: fewer frames (or "
                            "a shorter context window), a lower resolution or a smaller batch")
ADVICE_NOTHING = Advice("Nothing to change for these loads: the share of the weights left in RAM is too small to "
                        "slow the run")


@prompt_fold
class TimedSeconds:
    """Each timed prompt's load and total seconds by its position, folded in the index's one pass: what lowvram sums
    over the prompts with offloaded loads, thousands scattered over a long log's prompts table (reading them back
    decoded most of its blocks: 0.3 s of the 256 MB corpus file's diagnosis). 24 bytes a timed prompt."""

    def __init__(self) -> None:
        self.positions: array[int] = array("q")
        self.load: array[float] = array("d")
        self.total: array[float] = array("d")

    def feed(self, position: int, prompt: Prompt) -> None:
        if is_timed(prompt):
            self.positions.append(position)
            self.load.append(prompt.phases.seconds(Phase.LOAD))
            self.total.append(prompt.total_s or 0.0)

    def at(self, position: int) -> int | None:
        """Where the timed prompt at ``position`` of the table is in the arrays (None: it is not timed)."""
        i = bisect_left(self.positions, position)
        return i if i < len(self.positions) and self.positions[i] == position else None


def _inside_untold_prompt(facts: Facts, loads: Iterable[Load]) -> bool:
    """A load came before the end of a prompt whose start the log lacks (05 of the field test: the paste of
    city96/ComfyUI-GGUF#427 starts with `Requested to load`, ends it with `Prompt executed in 164.28
    seconds`): it ran in that prompt, though the segmenter gives such a prompt no load records."""
    ends: dict[int, int] = {}
    for prompt in facts.prompts_in("before_log"):
        ends.setdefault(prompt.source, prompt.line)
    return bool(ends) and any(ld.line < ends.get(ld.source, 0) for ld in loads)


@rule(
    "lowvram", "warning", Phase.LOAD,
    trigger="`loaded partially`, `loading in lowvram mode` or `lowvram: loaded module` lines: weights "
    "that stay partly in RAM. A warning when VRAM was taken or withheld (only a sliver of the GPU offered, "
    "down to ComfyUI's floor or `0.00 MB usable`), naming what the log shows holding it: a model a custom "
    "node loaded itself (`[Node] Loading … model`, a diffusers pipeline, transformers' checkpoint shards), "
    "or on a GPU under 8 GB the job's own computation; a warning too when the models just did not fit the "
    "free VRAM. Information where it is expected (a GPU under 8 GB, a model larger than the GPU) or costs "
    "nothing (at most 5% of the weights left in RAM). What the log rules out (the vram state, a later load "
    "offered most of the GPU) narrows the cause.",
    advice=(ADVICE_LOADER, ADVICE_DROP_FLAGS, ADVICE_RESERVE, ADVICE_OTHER_PROCESS, ADVICE_FREE_MODELS,
            ADVICE_COMPARE, ADVICE_SMALLER_WEIGHTS, ADVICE_EXPECTED, ADVICE_BIGGER_GPU, ADVICE_FREE_HOLDER,
            ADVICE_SMALLER_JOB, ADVICE_NOTHING),
)
def _lowvram(facts: Facts) -> list[Finding]:
    report = facts.report
    gguf = gguf_legacy_lines(facts)  # GGUF beside dynamic loads: the gguf finding tells those

    def partial() -> Iterator[Load]:  # read twice, never held: a long log has tens of thousands
        return (ld for ld in facts.loads_in("offloaded") if (ld.source, ld.line) not in gguf)

    modules = facts.events[EventKind.LOWVRAM_MODULES]
    module_lines = max(report.summary.lowvram_module_loads, sum(int(ev.fields.get("count", 1)) for ev in modules))
    runs = RunsSeen(facts)
    loads = Offloaded.fold(facts, partial(), runs)
    if not loads.count and not module_lines:
        return []
    for ev in modules:
        runs.see(facts.run_at(ev.source, ev.line))
    vram = runs.vram
    sized = Sized.fold(facts, partial(), vram)
    least = loads.least

    affected = loads.prompts
    affected |= {p.index for p in facts.prompts_in("lowvram_modules")}
    timed = 0  # summed one prompt at a time, in index order: there may be thousands
    load_s: float = 0  # an int 0 when nothing is timed, as sum([]) gave
    total_s: float = 0
    seconds, position = facts.fold(TimedSeconds), facts.prompts.position
    for index in sorted(affected):  # the untimed add nothing
        at = position(index)
        i = None if at is None else seconds.at(at)
        if i is not None:
            timed += 1
            load_s += seconds.load[i]
            total_s += seconds.total[i]
    share = load_s / total_s if total_s else 0.0

    kinds = []
    if loads.partial_lines:
        kinds.append(plural(loads.partial_lines, "`loaded partially` line"))
    if loads.lowvram_lines:
        kinds.append(plural(loads.lowvram_lines, "`loading in lowvram mode` line"))
    if module_lines:
        kinds.append(plural(module_lines, "`lowvram: loaded module` line"))
    what = ", ".join(kinds)
    if timed and load_s:
        cost_text = (f"Loading took {dur(load_s)} of {dur(total_s)} of prompt time ({share:.0%}), and weights "
                     "left in RAM also slow every sampling step.")
    elif not affected and _inside_untold_prompt(facts, partial()):
        cost_text = ("The loads ran inside a prompt whose `got prompt` is before the log (it starts mid-prompt), "
                     "so the log does not time them.")
    elif not affected:
        cost_text = "The loads ran with no prompt running, so no prompt's time measures their cost."
    else:
        cost_text = "The log's timestamps cannot time the loads (minute stamps or none), so the cost is not measured."

    figures: dict[str, object] = {
        "partial_loads": loads.partial_lines,
        "lowvram_mode_loads": loads.lowvram_lines,
        "lowvram_module_lines": module_lines,
        "total_vram_mb": vram,
        "least_offered_mb": round(least, 1) if least is not None else None,
        "largest_model_mb": round(sized.largest, 1) if sized.largest is not None else None,
        "load_s": round(load_s, 3),
        "prompt_s": round(total_s, 3),
        "load_share": round(share, 3),
    }
    evidence = [facts.cite_event(ev) for ev in facts.events[EventKind.LOADED_PARTIALLY][:MAX_EVIDENCE]]
    evidence += [facts.cite_event(ev) for ev in facts.events[EventKind.LOWVRAM_MODE][:MAX_EVIDENCE]]
    evidence += [facts.cite_event(ev) for ev in modules[:MAX_EVIDENCE]]
    if not evidence:  # the report kept no events for them (a huge log): cite the load records
        evidence = [facts.cite(ld.source, ld.line, f"loaded partially {ld.usable_mb} {ld.loaded_mb}")
                    for ld in loads.firsts]
    if not evidence:
        return []
    lines_total = loads.count + module_lines
    where = runs.where

    forced = _forced_flags(runs.states)
    # the floor is nothing offered too: 128 MB usable for a 2.4 GB VAE (Comfy-Org/ComfyUI#10855, HunyuanVideo 1.5's
    # VAE before its decode ran out of memory) is no device or loader question
    if vram is None and least is not None and (least < 1 or round(least) in FLOORS_MB):
        return [_unsized_nothing_offered(loads, least, forced, Said(what, where, cost_text, evidence, figures,
                                                                    load_s, affected, lines_total))]
    if vram is None:
        return [finding(
            "lowvram", "Models loaded partially (lowvram): part of their weights stayed in RAM", "medium",
            f"{what}. The log does not give this device's own VRAM size, so whether it could hold the models "
            f"is unknown. {cost_text}",
            [ADVICE_LOADER(), *([ADVICE_DROP_FLAGS(flags=forced)] if forced else []), ADVICE_SMALLER_WEIGHTS()],
            evidence, figures, load_s, affected, severity="warning", total=lines_total)]
    starved = sized.starved
    # On a small GPU a few starved loads among many fair offers are not the story: the offloading is.
    telling = bool(starved.count) and (vram >= SMALL_GPU_MB or 2 * starved.count >= loads.count)
    said = Said(what, where, cost_text, evidence, figures, load_s, affected, lines_total)
    first = starved.first
    first_run = facts.run_at(first.source, first.line) if first is not None else None
    found = Before() if first is None or first_run is None else before(
        facts, first_run, (first.source, first.line), vram)
    holder = (find_holder(facts, first_run, (first.source, first.line), found)
              if telling and first is not None and first_run is not None else None)
    if holder is not None:
        return [_held_finding(facts, holder, starved, vram, said)]
    if sized.too_big and starved.biggest is None or (vram < SMALL_GPU_MB and not telling):
        reason = (f"the model needs {sized.largest:.0f} MB" if sized.too_big
                  else with_article(f"{gb(vram)} GPU is too small for models of this kind"))
        return [finding(
            "lowvram", f"The {gb(vram)} GPU cannot hold the models in full: ComfyUI loads them partially "
            "(expected, and slow)", "high",
            f"{what} on {where}: {reason}, so ComfyUI keeps part of the weights in RAM. This is the expected "
            f"way to run on this GPU, not a misconfiguration. {cost_text}",
            [ADVICE_EXPECTED(), ADVICE_BIGGER_GPU()],
            evidence, figures, load_s, affected, severity="info", total=lines_total)]
    if vram < SMALL_GPU_MB:
        return [_job_finding(facts, starved, vram, found.last_fair, said)]
    if least is not None and least < STARVED_SHARE * vram:
        ruled_out, ruled_evidence = _ruled_out(facts, runs.state_set, loads.first, vram, forced)
        evidence = evidence[:3] + ruled_evidence + evidence[3:]
        # The run's first load: no model of this ComfyUI held the GPU yet, so another process is the likelier
        # holder, and is checked first (032: 856 MB offered to SDXL's refiner CLIP on a 16 GB laptop GPU).
        first_load = first is not None and first_run is not None and _first_load_of_run(
            facts, first_run, (first.source, first.line))
        if first is not None and first_load and not ruled_out.get("other process"):
            where_first = facts.lines_ref(first.source, first.line)
            ruled_out["first load"] = (f"It was the run's first model load ({where_first}): no model of this "
                                       "ComfyUI held the GPU yet.")
        suspects = ([] if first_load else ["other models still loaded"]) + [
            "a memory reservation (`--reserve-vram`)", "a loader told to offload"]
        if not ruled_out.get("other process"):
            suspects.insert(0 if first_load else 1, "another process")
        if forced:
            suspects.insert(0, f"`{forced}` in the start command")
        advice = [ADVICE_OTHER_PROCESS()] if first_load and not ruled_out.get("other process") else []
        advice.append(ADVICE_LOADER())
        if forced:
            advice.append(ADVICE_DROP_FLAGS(flags=forced))
        advice.append(ADVICE_RESERVE())
        if not first_load:
            advice.append(ADVICE_FREE_MODELS() if ruled_out.get("other process") else ADVICE_OTHER_PROCESS())
        advice.append(ADVICE_COMPARE())
        return [finding(
            "lowvram", f"Models loaded partially (lowvram) on {where}: only {least:.0f} MB of VRAM was offered "
            "to them", "high" if share >= 0.3 or not timed else "medium",
            f"{what}: ComfyUI gave the models at most {least:.0f} MB of the GPU's {vram} MB and moved the rest "
            f"of their weights piece by piece.{_floor_text(least)} {with_article(gb(vram), capital=True)} GPU "
            f"holds models like these in full, so the VRAM was taken or withheld: {', '.join(suspects[:-1])} or "
            f"{suspects[-1]}." + "".join(f" {text}" for text in ruled_out.values()) + f" {cost_text}",
            advice, evidence, figures, load_s, affected, total=lines_total + len(ruled_evidence))]
    worst = sized.worst
    if not module_lines and worst is not None:
        worst_load, most, full, known_from = worst
        origin = facts.lines_ref(known_from.source, known_from.line) if known_from else "the same line"
        return [finding(
            "lowvram", f"Models loaded partially on {where}, with a negligible share of their weights left in RAM",
            "medium",
            f"{what}, each leaving at most {most:.1%} of the model's weights in RAM "
            f"({facts.lines_ref(worst_load.source, worst_load.line)}: {worst_load.loaded_mb or 0.0:.0f} of "
            f"{full:.0f} MB on the GPU; the model's full size from {origin}). Moving that little per step has no "
            "measurable cost.",
            [ADVICE_NOTHING()], evidence, figures, 0.0, affected, severity="info", total=lines_total)]
    return [finding(
        "lowvram", f"Models did not fit in the free VRAM of {where} and were loaded partially", "medium",
        f"{what}, with {least:.0f} MB and more offered: the workflow's models together need more than the "
        f"free VRAM, so ComfyUI keeps part of their weights in RAM. {cost_text}"
        if least is not None else f"{what}: part of the weights stayed in RAM. {cost_text}",
        [ADVICE_SMALLER_WEIGHTS(), ADVICE_FREE_MODELS(), ADVICE_BIGGER_GPU()],
        evidence, figures, load_s, affected, total=lines_total)]


def _unsized_nothing_offered(loads: Offloaded, least: float, forced: str | None, said: Said) -> Finding:
    """``0.00 MB usable`` (or ComfyUI's floor) where the log does not give the GPU's VRAM (an excerpt without its
    start-up): the models were offered nothing, which "part of the weights stayed in RAM" and smaller weights do not
    describe (Comfy-Org/ComfyUI pull request #12227, its log before the fix: WAN21 `loaded partially; 0.00 MB usable,
    0.00 MB loaded, 14825.46 MB offloaded` after dynamic models that were never unloaded)."""
    none_loaded = (f" {plural(loads.nothing_loaded, 'load')} put none of the model's weights on the GPU "
                   "(`0.00 MB loaded`)." if loads.nothing_loaded else "")
    suspects = "models still loaded from earlier steps or prompts, another process, a `--reserve-vram` reservation"
    suspects = f"`{forced}` in the start command, {suspects}" if forced else suspects
    advice = [ADVICE_FREE_MODELS(), ADVICE_OTHER_PROCESS(), ADVICE_RESERVE()]
    if forced:
        advice.insert(0, ADVICE_DROP_FLAGS(flags=forced))
    offered = "`0.00 MB usable`" if least < 1 else f"only ComfyUI's floor, {round(least)} MB"
    return finding(
        "lowvram", f"Models loaded partially (lowvram) with no VRAM free for their weights ({offered})",
        "medium",
        f"{said.what}, the least of them offered {least:.0f} MB: ComfyUI had no VRAM to give those weights and "
        f"moves them to the GPU piece by piece.{none_loaded}"
        f"{_floor_text(least)} The log does not give the GPU's VRAM size, so it cannot tell what took the VRAM: "
        f"{suspects}, or on a small GPU the job's own computation. {said.cost_text}",
        advice, said.evidence, said.figures, said.load_s, said.affected, severity="warning", total=said.total)


def _floor_text(least: float) -> str:
    """What ComfyUI's floor offers mean, where ``least`` is one (load_models_gpu in comfy/model_management.py)."""
    if least < 1:
        return (" `0.00 MB usable` is what ComfyUI prints when the free VRAM, less what it keeps back for the "
                "job's own computation, leaves nothing for the weights (it then offers them 0.1 byte).")
    if round(least) in FLOORS_MB:
        return (f" {round(least)} MB is the floor ComfyUI falls back to (64 MB in older versions, 128 MB in newer "
                "ones) when the free VRAM, less what it keeps for the job's own computation, leaves nothing for the "
                "weights.")
    return ""


class RunsSeen:
    """What lowvram reads of the runs its lines ran in, folded one run at a time as their lines come (a long
    log's partial loads are spread over thousands of runs of ~7 kB each): the GPU's VRAM (the smallest
    known), the phrase naming the first GPU of that size, the vram states and the first state set by hand."""

    def __init__(self, facts: Facts) -> None:
        self._facts = facts
        self._seen: set[int] = set()
        #: The smallest VRAM a run's GPU has (gpu_vram_mb), None where no run's is known.
        self.vram: int | None = None
        self._smallest = ""
        self._first: str | None = None
        #: Every vram state of the runs.
        self.states: set[str] = set()
        #: The first ``Set vram state to`` line that is not ComfyUI's automatic choice, runs in the order seen.
        self.state_set: Event | None = None

    def see(self, run: Run | None) -> None:
        if run is None or run.index in self._seen:
            return
        self._seen.add(run.index)
        if self._first is None:
            self._first = gpu_phrase(run)
        vram = gpu_vram_mb(run)
        if vram is not None and (self.vram is None or vram < self.vram):
            self.vram, self._smallest = vram, gpu_phrase(run)
        self.states.update(run.vram_states)
        if self.state_set is None:
            self.state_set = next((ev for ev in self._facts.run_events(EventKind.VRAM_STATE, run)
                                   if not ev.fields.get("automatic")), None)

    @property
    def where(self) -> str:
        """``a 24 GB NVIDIA GeForce RTX 4090``: the first run's GPU of the smallest VRAM, else the first run's."""
        return self._smallest if self.vram is not None else gpu_phrase(None) if self._first is None else self._first


@dataclass
class Offloaded:
    """The partial loads counted, folded in one pass (never held: a long log has tens of thousands)."""

    count: int = 0
    #: ``loaded partially`` and ``loading in lowvram mode`` lines.
    partial_lines: int = 0
    lowvram_lines: int = 0
    #: The least VRAM offered to one (MB), None where no line says.
    least: float | None = None
    #: Loads that put none of the model's weights on the GPU (``0.00 MB loaded``).
    nothing_loaded: int = 0
    #: The prompts they ran in.
    prompts: set[int] = field(default_factory=set)
    #: The first in the log (by input and line), and the first few in report order (to cite).
    first: Load | None = None
    firsts: list[Load] = field(default_factory=list)

    @classmethod
    def fold(cls, facts: Facts, loads: Iterable[Load], runs: RunsSeen) -> Offloaded:
        """Count ``loads``; each one's run goes to ``runs``."""
        found = cls()
        run_at = facts.run_at
        for ld in loads:
            found.count += 1
            found.partial_lines += ld.kind == "partial"
            found.lowvram_lines += ld.kind == "lowvram"
            if ld.usable_mb is not None and (found.least is None or ld.usable_mb < found.least):
                found.least = ld.usable_mb
            found.nothing_loaded += ld.loaded_mb is not None and ld.loaded_mb < 0.005
            if ld.prompt is not None:
                found.prompts.add(ld.prompt)
            if found.first is None or (ld.source, ld.line) < (found.first.source, found.first.line):
                found.first = ld
            if len(found.firsts) < MAX_EVIDENCE:
                found.firsts.append(ld)
            runs.see(run_at(ld.source, ld.line))
        return found


@dataclass
class Starved:
    """The partial loads offered less than STARVED_SHARE of the GPU, folded."""

    count: int = 0
    #: The least offered to one (MB; an unknown offer counts as 0).
    least: float = 0.0
    #: The first in the log (by input and line).
    first: Load | None = None
    #: Their models, ```Lumina2```, once each in the order of the loads.
    models: dict[str, None] = field(default_factory=dict)
    #: The largest full size among them beyond TOO_BIG_SHARE of the GPU (MB), None where none is that big.
    biggest: float | None = None

    def add(self, ld: Load, size: float | None, vram: int) -> None:
        usable = ld.usable_mb or 0.0
        self.least = usable if not self.count else min(self.least, usable)
        self.count += 1
        if self.first is None or (ld.source, ld.line) < (self.first.source, self.first.line):
            self.first = ld
        if ld.model:
            self.models.setdefault(f"`{ld.model}`", None)
        if size is not None and size > TOO_BIG_SHARE * vram and (self.biggest is None or size > self.biggest):
            self.biggest = size

    @property
    def names(self) -> str:
        """```Lumina2``` or ```ControlNet`, `BaseModel``` (the models, once each), or ``the models``."""
        return ", ".join(self.models) if self.models else "the models"


@dataclass
class Sized:
    """What the partial loads' full model sizes (_full_size) and their offers against the GPU's VRAM say,
    folded in one pass: the largest model, whether any is too big for the GPU, the starved loads, and the
    load that left the largest share of its weights in RAM while every load left a negligible one."""

    largest: float | None = None
    too_big: bool = False
    starved: Starved = field(default_factory=Starved)
    #: (the load, the share it left in RAM, the model's full size, the complete load the size is known from)
    #: where every load left at most NEGLIGIBLE_SHARE of its weights in RAM; else None.
    worst: tuple[Load, float, float, Load | None] | None = None

    @classmethod
    def fold(cls, facts: Facts, loads: Iterable[Load], vram: int | None) -> Sized:
        events = {(ev.source, ev.line): ev for ev in facts.events[EventKind.LOADED_PARTIALLY]}
        found = cls()
        negligible = True
        for ld in loads:
            full = _full_size(facts, ld, events)
            size = full[0] if full is not None else None
            if size is not None and (found.largest is None or size > found.largest):
                found.largest = size
            if vram is None:
                continue
            found.too_big = found.too_big or (size or 0.0) > TOO_BIG_SHARE * vram
            if ld.usable_mb is not None and ld.usable_mb < STARVED_SHARE * vram:
                found.starved.add(ld, size, vram)
            if not negligible:
                continue
            share = _offloaded_share(ld, full)
            if share is None or share > NEGLIGIBLE_SHARE:
                negligible, found.worst = False, None
            elif full is not None and (found.worst is None or share > found.worst[1]):
                found.worst = (ld, share, full[0], full[1])
        return found


def _full_size(facts: Facts, ld: Load, events: dict[tuple[int, int], Event]) -> tuple[float, Load | None] | None:
    """A partial load's full model size (MB), and the complete load it is known from (None: from its own
    ``loaded partially`` line, which prints what stayed in RAM since 2025); None where the log does not say.

    Older lines print only the offer and what was loaded; the model's size is then what a complete load of
    the same model loaded elsewhere in the log, or, where the line names no model, the smallest complete load
    larger than the offer (a model that fit its offer would have loaded completely).
    """
    ev = events.get((ld.source, ld.line))
    if ev is not None and ev.fields.get("offloaded_mb") is not None:
        return float(ev.fields.get("loaded_mb", 0.0)) + float(ev.fields["offloaded_mb"]), None
    if ld.loaded_mb is None:
        return None
    # A model no larger than its offer would have loaded completely: the size exceeds the offer too.
    least = max(ld.loaded_mb or 0.0, ld.usable_mb or 0.0)
    best = (facts.load_sizes.largest(ld.source, ld.model) if ld.model
            else facts.load_sizes.next_above(ld.source, least))
    if best is not None and (best.loaded_mb or 0.0) > least:
        return best.loaded_mb or 0.0, best
    return None


def _offloaded_share(ld: Load, full: tuple[float, Load | None] | None) -> float | None:
    """The share of the model's weights ``ld`` left in RAM; None where the model's size is not known."""
    if full is None or not full[0] or ld.loaded_mb is None:
        return None
    return max(0.0, 1.0 - ld.loaded_mb / full[0])


@dataclass(frozen=True)
class Said:
    """What every variant of the finding says and cites alike."""

    what: str
    where: str
    cost_text: str
    evidence: list[Evidence]
    figures: dict[str, object]
    load_s: float
    affected: set[int]
    total: int


def _at_most(least: float) -> str:
    """``at most 128`` (the least of several offers), or ``0`` for nothing at all."""
    return "0" if least < 1 else f"at most {least:.0f}"


def _held_finding(facts: Facts, holder: Holder, starved: Starved, vram: int, said: Said) -> Finding:
    """Starved loads after a model loaded outside ComfyUI's model management: name it as the holder."""
    least = starved.least
    names = starved.names
    too_big = (f" The model ({starved.biggest:.0f} MB) would not fit whole even on a free GPU, but ComfyUI would "
               "then have placed part of it there, not none of it." if starved.biggest is not None else "")
    first = starved.first
    assert first is not None
    prompt = facts.prompts_by_index([first.prompt]) if first.prompt is not None else []
    same_prompt = bool(prompt) and (holder.source, holder.line) > (prompt[0].source, prompt[0].line)
    return finding(
        "lowvram", f"{names[0].upper() + names[1:]} offered only {least:.0f} MB of VRAM: {holder.name}, loaded "
        "outside ComfyUI's model management, likely held the GPU", "medium",
        f"{said.what} on {said.where}: ComfyUI offered {names} {_at_most(least)} MB of the GPU's {vram} MB."
        f"{_floor_text(least)} Before {'it' if starved.count == 1 else 'them'}"
        f"{' in the same prompt' if same_prompt else ''}, a custom node loaded "
        f"{holder.name} ({facts.lines_ref(holder.source, holder.line)}{holder.quote}) itself, outside ComfyUI's "
        "model management: "
        f"ComfyUI neither counts nor unloads its VRAM, so it is the likely holder.{too_big} {said.cost_text}",
        [ADVICE_FREE_HOLDER(holder=holder.name, how=FREE_WITHIN if same_prompt else FREE_BETWEEN),
         ADVICE_OTHER_PROCESS()],
        [holder.evidence, *said.evidence], {**said.figures, "holder_line": holder.line}, said.load_s, said.affected,
        total=said.total + 1)


def _job_finding(facts: Facts, starved: Starved, vram: int, roomy: Load | None, said: Said) -> Finding:
    """Starved loads on a small GPU with no outside holder in the log: the job's own computation, where an
    earlier load of the run (``roomy``, the last fairly offered) shows the VRAM was free shortly before."""
    least = starved.least
    kept = "what ComfyUI keeps back for the job's own computation (it grows with frames × resolution × batch)"
    if roomy is not None:
        title = (f"Models loaded partially on {said.where} with only {least:.0f} MB of VRAM offered: the job's own "
                 "computation likely took the rest")
        cause = (f"Just before, {f'`{roomy.model}`' if roomy.model else 'a model'} was offered {roomy.usable_mb:.0f} "
                 f"MB ({facts.lines_ref(roomy.source, roomy.line)}) and the log shows nothing loaded outside ComfyUI, "
                 f"so {kept} most likely took the VRAM.")
        evidence = [facts.cite(roomy.source, roomy.line, f"loaded {roomy.usable_mb} {roomy.loaded_mb}"),
                    *said.evidence]
        advice = [ADVICE_SMALLER_JOB()]
    else:
        evidence = said.evidence
        title = (f"Models loaded partially on {said.where} with only {least:.0f} MB of VRAM offered: the job's "
                 "computation or something outside ComfyUI took the rest")
        cause = (f"Either {kept} took the VRAM, or something ComfyUI cannot unload held it (another process, a "
                 "model a custom node loaded itself); the log shows neither.")
        advice = [ADVICE_SMALLER_JOB(), ADVICE_OTHER_PROCESS(),
                  ADVICE_FREE_HOLDER(holder="a custom node's own model", how=FREE_BETWEEN)]
    return finding(
        "lowvram", title, "medium",
        f"{said.what} on {said.where}: ComfyUI offered {starved.names} {_at_most(least)} MB of the GPU's {vram} "
        f"MB.{_floor_text(least)} {cause} With so little offered, the weights are streamed from RAM on every step, "
        f"whatever their size. {said.cost_text}",
        advice, evidence, said.figures, said.load_s, said.affected, total=said.total + (1 if roomy is not None else 0))


def _forced_flags(states: set[str]) -> str | None:
    """The flags a LOW_VRAM / NO_VRAM state comes from, when a run of these loads has one."""
    flags = [flag for state, flag in (("LOW_VRAM", "--lowvram"), ("NO_VRAM", "--novram")) if state in states]
    return "` / `".join(flags) or None


def _ruled_out(
    facts: Facts, state_set: Event | None, first: Load | None, vram: int, forced: str | None
) -> tuple[dict[str, str], list[Evidence]]:
    """What the log's own lines rule out, in words, with the lines that say so.

    A vram state other than LOW_VRAM / NO_VRAM (``state_set``, the first set by hand in the runs of these
    loads) rules out `--lowvram` and `--novram`; a later load in the same run as the first partial one
    (``first``) offered most of the GPU shows the VRAM was free again, so no other process held it throughout.
    """
    said: dict[str, str] = {}
    evidence: list[Evidence] = []
    if not forced and state_set is not None:
        ev = state_set
        said["flags"] = (f"`Set vram state to: {ev.fields.get('state')}` ({facts.lines_ref(ev.source, ev.line)}) "
                         "rules out `--lowvram` and `--novram`.")
        evidence.append(facts.cite_event(ev))
    run = facts.run_at(first.source, first.line) if first is not None else None
    if first is not None:
        after = (first.source, first.line)
        roomy = next((ld for ld in facts.report.loads
                      if (ld.source, ld.line) > after and ld.usable_mb is not None
                      and ROOMY_SHARE * vram <= ld.usable_mb < UNLIMITED_MB
                      and _same_run(facts.run_at(ld.source, ld.line), run)), None)
        if roomy is not None:
            said["other process"] = (
                f"A later load in the same run was offered {roomy.usable_mb:.0f} MB "
                f"({facts.lines_ref(roomy.source, roomy.line)}): the GPU was free again by then, so no other "
                "process held its VRAM throughout; what held it during the partial loads was in this ComfyUI "
                "process (models or tensors of the workflow) or released in between.")
            evidence.append(facts.cite(roomy.source, roomy.line, f"loaded completely {roomy.usable_mb} "
                                                                 f"{roomy.loaded_mb}"))
    return said, evidence


def _first_load_of_run(facts: Facts, run: Run, at: tuple[int, int]) -> bool:
    """No load of ``run``'s prompts comes before ``at``: read prompt by prompt up to it, not the whole table."""
    for prompt in facts.prompts_of_runs((run.index,)):
        if (prompt.source, prompt.line) > at:
            break
        if any((ld.source, ld.line) < at for ld in facts.loads_of(prompt)):
            return False
    return True


def _same_run(run: Run | None, other: Run | None) -> bool:
    """The same run, or both outside any (a record read back from disk is a copy: compared by index)."""
    return run is other if run is None or other is None else run.index == other.index
