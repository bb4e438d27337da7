"""Weights loaded partially (lowvram): whether the GPU could have held them, and what it cost."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ...events import Event, EventKind, Phase
from ...model import Evidence, Finding, Load, Run
from ...text import dur, gb, plural, with_article
from ..dynamic_vram import gguf_legacy_lines
from ..engine import MAX_EVIDENCE, Advice, finding, rule
from ..facts import SMALL_GPU_MB, UNLIMITED_MB, Facts, gpu_phrase, gpu_vram_mb, is_timed
from ..holders import ADVICE_FREE_HOLDER, FREE_BETWEEN, FREE_WITHIN, STARVED_SHARE, Holder, before, find_holder

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
    partial = [ld for ld in facts.loads_in("offloaded") if (ld.source, ld.line) not in gguf]
    modules = facts.events[EventKind.LOWVRAM_MODULES]
    module_lines = max(report.summary.lowvram_module_loads, sum(int(ev.fields.get("count", 1)) for ev in modules))
    if not partial and not module_lines:
        return []
    places = [(ld.source, ld.line) for ld in partial] + [(ev.source, ev.line) for ev in modules]
    runs = {r.index: r for r in (facts.run_at(s, n) for s, n in places) if r is not None}
    sizes = {r.index: gpu_vram_mb(r) for r in runs.values()}
    known = [v for v in sizes.values() if v is not None]
    vram = min(known) if known else None
    run = next((r for r in runs.values() if gpu_vram_mb(r) == vram), next(iter(runs.values()), None))
    full_sizes = _full_sizes(facts, partial)
    model_sizes = [size for size, _ in full_sizes.values()]
    offered = [ld.usable_mb for ld in partial if ld.usable_mb is not None]
    least = min(offered) if offered else None

    affected = {ld.prompt for ld in partial if ld.prompt is not None}
    affected |= {p.index for p in facts.prompts_in("lowvram_modules")}
    timed = 0  # summed one prompt at a time: there may be thousands
    load_s: float = 0  # an int 0 when nothing is timed, as sum([]) gave
    total_s: float = 0
    for prompt in facts.prompts_in_at("timed", sorted(affected)):  # the others add nothing
        if is_timed(prompt):
            timed += 1
            load_s += prompt.phases.seconds(Phase.LOAD)
            total_s += prompt.total_s or 0.0
    share = load_s / total_s if total_s else 0.0

    kinds = []
    if any(ld.kind == "partial" for ld in partial):
        kinds.append(plural(sum(ld.kind == "partial" for ld in partial), "`loaded partially` line"))
    if any(ld.kind == "lowvram" for ld in partial):
        kinds.append(plural(sum(ld.kind == "lowvram" for ld in partial), "`loading in lowvram mode` line"))
    if module_lines:
        kinds.append(plural(module_lines, "`lowvram: loaded module` line"))
    what = ", ".join(kinds)
    if timed and load_s:
        cost_text = (f"Loading took {dur(load_s)} of {dur(total_s)} of prompt time ({share:.0%}), and weights "
                     "left in RAM also slow every sampling step.")
    elif not affected:
        cost_text = "The loads ran with no prompt running, so no prompt's time measures their cost."
    else:
        cost_text = "The log's timestamps cannot time the loads (minute stamps or none), so the cost is not measured."

    figures: dict[str, object] = {
        "partial_loads": sum(ld.kind == "partial" for ld in partial),
        "lowvram_mode_loads": sum(ld.kind == "lowvram" for ld in partial),
        "lowvram_module_lines": module_lines,
        "total_vram_mb": vram,
        "least_offered_mb": round(least, 1) if least is not None else None,
        "largest_model_mb": round(max(model_sizes), 1) if model_sizes else None,
        "load_s": round(load_s, 3),
        "prompt_s": round(total_s, 3),
        "load_share": round(share, 3),
    }
    evidence = [facts.cite_event(ev) for ev in facts.events[EventKind.LOADED_PARTIALLY][:MAX_EVIDENCE]]
    evidence += [facts.cite_event(ev) for ev in facts.events[EventKind.LOWVRAM_MODE][:MAX_EVIDENCE]]
    evidence += [facts.cite_event(ev) for ev in modules[:MAX_EVIDENCE]]
    if not evidence:  # the report kept no events for them (a huge log): cite the load records
        evidence = [facts.cite(ld.source, ld.line, f"loaded partially {ld.usable_mb} {ld.loaded_mb}")
                    for ld in partial[:MAX_EVIDENCE]]
    if not evidence:
        return []
    lines_total = len(partial) + module_lines
    where = gpu_phrase(run)

    forced = _forced_flags(runs.values())
    if vram is None:
        return [finding(
            "lowvram", "Models loaded partially (lowvram): part of their weights stayed in RAM", "medium",
            f"{what}. The log does not give this device's own VRAM size, so whether it could hold the models "
            f"is unknown. {cost_text}",
            [ADVICE_LOADER(), *([ADVICE_DROP_FLAGS(flags=forced)] if forced else []), ADVICE_SMALLER_WEIGHTS()],
            evidence, figures, load_s, affected, severity="warning", total=lines_total)]
    starved = [ld for ld in partial if ld.usable_mb is not None and ld.usable_mb < STARVED_SHARE * vram]
    # On a small GPU a few starved loads among many fair offers are not the story: the offloading is.
    telling = bool(starved) and (vram >= SMALL_GPU_MB or 2 * len(starved) >= len(partial))
    too_big = [ld for ld in partial if full_sizes.get((ld.source, ld.line), (0.0, None))[0] > TOO_BIG_SHARE * vram]
    said = Said(what, where, cost_text, evidence, figures, load_s, affected, lines_total)
    first = min(starved, key=lambda ld: (ld.source, ld.line)) if starved else None
    first_run = facts.run_at(first.source, first.line) if first is not None else None
    bars, fair = ([], []) if first is None or first_run is None else before(
        facts, first_run, (first.source, first.line), vram)
    holder = (find_holder(facts, first_run, (first.source, first.line), bars, fair)
              if telling and first is not None and first_run is not None else None)
    if holder is not None:
        return [_held_finding(facts, holder, starved, full_sizes, vram, said)]
    starved_big = {(ld.source, ld.line) for ld in starved} & {(ld.source, ld.line) for ld in too_big}
    if too_big and not starved_big or (vram < SMALL_GPU_MB and not telling):
        reason = (f"the model needs {max(model_sizes):.0f} MB" if too_big
                  else with_article(f"{gb(vram)} GPU is too small for models of this kind"))
        return [finding(
            "lowvram", f"The {gb(vram)} GPU cannot hold the models in full: ComfyUI loads them partially "
            "(expected, and slow)", "high",
            f"{what} on {where}: {reason}, so ComfyUI keeps part of the weights in RAM. This is the expected "
            f"way to run on this GPU, not a misconfiguration. {cost_text}",
            [ADVICE_EXPECTED(), ADVICE_BIGGER_GPU()],
            evidence, figures, load_s, affected, severity="info", total=lines_total)]
    if vram < SMALL_GPU_MB:
        return [_job_finding(facts, starved, vram, fair, said)]
    if least is not None and least < STARVED_SHARE * vram:
        ruled_out, ruled_evidence = _ruled_out(facts, runs.values(), partial, vram, forced)
        evidence = evidence[:3] + ruled_evidence + evidence[3:]
        suspects = ["other models still loaded", "a memory reservation (`--reserve-vram`)",
                    "a loader told to offload"]
        if not ruled_out.get("other process"):
            suspects.insert(1, "another process")
        if forced:
            suspects.insert(0, f"`{forced}` in the start command")
        advice = [ADVICE_LOADER()]
        if forced:
            advice.append(ADVICE_DROP_FLAGS(flags=forced))
        advice.append(ADVICE_RESERVE())
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
    shares = [_offloaded_share(ld, full_sizes) for ld in partial]
    if not module_lines and shares and all(v is not None and v <= NEGLIGIBLE_SHARE for v in shares):
        most = max(v for v in shares if v is not None)
        worst = partial[shares.index(most)]
        full, known_from = full_sizes[(worst.source, worst.line)]
        origin = facts.lines_ref(known_from.source, known_from.line) if known_from else "the same line"
        return [finding(
            "lowvram", f"Models loaded partially on {where}, with a negligible share of their weights left in RAM",
            "medium",
            f"{what}, each leaving at most {most:.1%} of the model's weights in RAM "
            f"({facts.lines_ref(worst.source, worst.line)}: {worst.loaded_mb or 0.0:.0f} of {full:.0f} MB on the "
            f"GPU; the model's full size from {origin}). Moving that little per step has no measurable cost.",
            [ADVICE_NOTHING()], evidence, figures, 0.0, affected, severity="info", total=lines_total)]
    return [finding(
        "lowvram", f"Models did not fit in the free VRAM of {where} and were loaded partially", "medium",
        f"{what}, with {least:.0f} MB and more offered: the workflow's models together need more than the "
        f"free VRAM, so ComfyUI keeps part of their weights in RAM. {cost_text}"
        if least is not None else f"{what}: part of the weights stayed in RAM. {cost_text}",
        [ADVICE_SMALLER_WEIGHTS(), ADVICE_FREE_MODELS(), ADVICE_BIGGER_GPU()],
        evidence, figures, load_s, affected, total=lines_total)]


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


def _full_sizes(facts: Facts, partial: list[Load]) -> Sizes:
    """Each partial load's full model size (MB), and the complete load it is known from (None: from its own
    ``loaded partially`` line, which prints what stayed in RAM since 2025).

    Older lines print only the offer and what was loaded; the model's size is then what a complete load of
    the same model loaded elsewhere in the log, or, where the line names no model, the smallest complete load
    larger than the offer (a model that fit its offer would have loaded completely).
    """
    events = {(ev.source, ev.line): ev for ev in facts.events[EventKind.LOADED_PARTIALLY]}
    sizes: Sizes = {}
    unsized = []
    for ld in partial:
        ev = events.get((ld.source, ld.line))
        if ev is not None and ev.fields.get("offloaded_mb") is not None:
            sizes[(ld.source, ld.line)] = (float(ev.fields.get("loaded_mb", 0.0)) + float(ev.fields["offloaded_mb"]),
                                           None)
        elif ld.loaded_mb is not None:
            unsized.append(ld)
    if not unsized:
        return sizes
    for ld in unsized:
        # A model no larger than its offer would have loaded completely: the size exceeds the offer too.
        least = max(ld.loaded_mb or 0.0, ld.usable_mb or 0.0)
        best = (facts.load_sizes.largest(ld.source, ld.model) if ld.model
                else facts.load_sizes.next_above(ld.source, least))
        if best is not None and (best.loaded_mb or 0.0) > least:
            sizes[(ld.source, ld.line)] = (best.loaded_mb or 0.0, best)
    return sizes


def _offloaded_share(ld: Load, sizes: Sizes) -> float | None:
    """The share of the model's weights ``ld`` left in RAM; None where the model's size is not known."""
    full = sizes.get((ld.source, ld.line))
    if full is None or not full[0] or ld.loaded_mb is None:
        return None
    return max(0.0, 1.0 - ld.loaded_mb / full[0])


#: Each partial load's full model size (MB), by (source, line), and the complete load it is known from.
Sizes = dict[tuple[int, int], tuple[float, Load | None]]


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


def _names(loads: list[Load]) -> str:
    """```Lumina2``` or ```ControlNet`, `BaseModel``` (the loads' models, once each), or ``the models``."""
    names = list(dict.fromkeys(f"`{ld.model}`" for ld in loads if ld.model))
    return ", ".join(names) if names else "the models"


def _held_finding(facts: Facts, holder: Holder, starved: list[Load], sizes: Sizes, vram: int, said: Said) -> Finding:
    """Starved loads after a model loaded outside ComfyUI's model management: name it as the holder."""
    least = min(ld.usable_mb or 0.0 for ld in starved)
    names = _names(starved)
    big = [sizes[(ld.source, ld.line)][0] for ld in starved if (ld.source, ld.line) in sizes
           and sizes[(ld.source, ld.line)][0] > TOO_BIG_SHARE * vram]
    too_big = (f" The model ({max(big):.0f} MB) would not fit whole even on a free GPU, but ComfyUI would then have "
               "placed part of it there, not none of it." if big else "")
    first = min(starved, key=lambda ld: (ld.source, ld.line))
    prompt = facts.prompts_by_index([first.prompt]) if first.prompt is not None else []
    same_prompt = bool(prompt) and (holder.source, holder.line) > (prompt[0].source, prompt[0].line)
    return finding(
        "lowvram", f"{names[0].upper() + names[1:]} offered only {least:.0f} MB of VRAM: {holder.name}, loaded "
        "outside ComfyUI's model management, likely held the GPU", "medium",
        f"{said.what} on {said.where}: ComfyUI offered {names} {_at_most(least)} MB of the GPU's {vram} MB."
        f"{_floor_text(least)} Before {'it' if len(starved) == 1 else 'them'}"
        f"{' in the same prompt' if same_prompt else ''}, a custom node loaded "
        f"{holder.name} ({facts.lines_ref(holder.source, holder.line)}{holder.quote}) itself, outside ComfyUI's "
        "model management: "
        f"ComfyUI neither counts nor unloads its VRAM, so it is the likely holder.{too_big} {said.cost_text}",
        [ADVICE_FREE_HOLDER(holder=holder.name, how=FREE_WITHIN if same_prompt else FREE_BETWEEN),
         ADVICE_OTHER_PROCESS()],
        [holder.evidence, *said.evidence], {**said.figures, "holder_line": holder.line}, said.load_s, said.affected,
        total=said.total + 1)


def _job_finding(facts: Facts, starved: list[Load], vram: int, earlier: list[Load], said: Said) -> Finding:
    """Starved loads on a small GPU with no outside holder in the log: the job's own computation, where an
    earlier load of the run shows the VRAM was free shortly before."""
    least = min(ld.usable_mb or 0.0 for ld in starved)
    kept = "what ComfyUI keeps back for the job's own computation (it grows with frames × resolution × batch)"
    if earlier:
        roomy = earlier[-1]
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
        f"{said.what} on {said.where}: ComfyUI offered {_names(starved)} {_at_most(least)} MB of the GPU's {vram} "
        f"MB.{_floor_text(least)} {cause} With so little offered, the weights are streamed from RAM on every step, "
        f"whatever their size. {said.cost_text}",
        advice, evidence, said.figures, said.load_s, said.affected, total=said.total + (1 if earlier else 0))


def _forced_flags(runs: Iterable[Run]) -> str | None:
    """The flags a LOW_VRAM / NO_VRAM state comes from, when a run of these loads has one."""
    states = {s for run in runs for s in run.vram_states}
    flags = [flag for state, flag in (("LOW_VRAM", "--lowvram"), ("NO_VRAM", "--novram")) if state in states]
    return "` / `".join(flags) or None


def _ruled_out(
    facts: Facts, runs: Iterable[Run], partial: list[Load], vram: int, forced: str | None
) -> tuple[dict[str, str], list[Evidence]]:
    """What the log's own lines rule out, in words, with the lines that say so.

    A vram state other than LOW_VRAM / NO_VRAM rules out `--lowvram` and `--novram`; a later load
    in the same run offered most of the GPU shows the VRAM was free again, so no other process held
    it throughout.
    """
    said: dict[str, str] = {}
    evidence: list[Evidence] = []
    listed = list(runs)
    if not forced:
        states: list[Event] = [ev for run in listed for ev in facts.run_events(EventKind.VRAM_STATE, run)
                               if not ev.fields.get("automatic")]
        if states:
            ev = states[0]
            said["flags"] = (f"`Set vram state to: {ev.fields.get('state')}` ({facts.lines_ref(ev.source, ev.line)}) "
                             "rules out `--lowvram` and `--novram`.")
            evidence.append(facts.cite_event(ev))
    first = min(partial, key=lambda ld: (ld.source, ld.line)) if partial else None
    if first is not None:
        later = [ld for ld in facts.report.loads
                 if (ld.source, ld.line) > (first.source, first.line) and ld.usable_mb is not None
                 and ROOMY_SHARE * vram <= ld.usable_mb < UNLIMITED_MB
                 and facts.run_at(ld.source, ld.line) is facts.run_at(first.source, first.line)]
        if later:
            roomy = later[0]
            said["other process"] = (
                f"A later load in the same run was offered {roomy.usable_mb:.0f} MB "
                f"({facts.lines_ref(roomy.source, roomy.line)}): the GPU was free again by then, so no other "
                "process held its VRAM throughout; what held it during the partial loads was in this ComfyUI "
                "process (models or tensors of the workflow) or released in between.")
            evidence.append(facts.cite(roomy.source, roomy.line, f"loaded completely {roomy.usable_mb} "
                                                                 f"{roomy.loaded_mb}"))
    return said, evidence
