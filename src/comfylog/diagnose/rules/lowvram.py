"""Weights loaded partially (lowvram): whether the GPU could have held them, and what it cost."""

from __future__ import annotations

from collections.abc import Iterable

from ...events import Event, EventKind, Phase
from ...model import Evidence, Finding, Load, Run
from ...text import dur, gb, plural, with_article
from ..dynamic_vram import gguf_legacy_lines
from ..engine import MAX_EVIDENCE, Advice, finding, rule
from ..facts import SMALL_GPU_MB, Facts, gpu_phrase, gpu_vram_mb, is_timed

#: A partial load offered less than this share of the GPU's VRAM was starved, not too big.
STARVED_SHARE = 0.10
#: A model whose size is known is "too big" beyond this share of the GPU's VRAM.
TOO_BIG_SHARE = 0.8
#: ComfyUI's floor for the VRAM a partial load is offered (model_management.load_models_gpu: 64 MB in
#: 2024 builds, ``max(64 * (1024 * 1024), ...)``; 128 MB later).
FLOORS_MB = (64, 128)
#: A later load offered at least this share of the GPU's VRAM shows the GPU was free again by then.
ROOMY_SHARE = 0.5
#: ``usable`` figures this large stand for "no limit" (ComfyUI prints 1e32 bytes as 9.5e25 MB).
UNLIMITED_MB = 1e9

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


@rule(
    "lowvram", "warning", Phase.LOAD,
    trigger="`loaded partially`, `loading in lowvram mode` or `lowvram: loaded module` lines: weights "
    "that stay partly in RAM. A warning when the GPU could hold them (only a sliver of a 12 GB+ GPU was "
    "offered, or the models just did not fit the free VRAM); information on GPUs under 8 GB or models "
    "larger than the GPU, where it is expected. What the log rules out (the vram state, a later load "
    "offered most of the GPU) narrows the cause.",
    advice=(ADVICE_LOADER, ADVICE_DROP_FLAGS, ADVICE_RESERVE, ADVICE_OTHER_PROCESS, ADVICE_FREE_MODELS,
            ADVICE_COMPARE, ADVICE_SMALLER_WEIGHTS, ADVICE_EXPECTED, ADVICE_BIGGER_GPU),
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
    partial_events = {(ev.source, ev.line): ev for ev in facts.events[EventKind.LOADED_PARTIALLY]}
    model_sizes = []
    for ld in partial:
        ev = partial_events.get((ld.source, ld.line))
        if ev is not None and ev.fields.get("offloaded_mb") is not None:
            model_sizes.append(float(ev.fields.get("loaded_mb", 0.0)) + float(ev.fields["offloaded_mb"]))
    offered = [ld.usable_mb for ld in partial if ld.usable_mb is not None]
    least = min(offered) if offered else None

    affected = {ld.prompt for ld in partial if ld.prompt is not None}
    affected |= {p.index for p in facts.prompts_in("lowvram_modules")}
    timed = 0  # summed one prompt at a time: there may be thousands
    load_s: float = 0  # an int 0 when nothing is timed, as sum([]) gave
    total_s: float = 0
    for prompt in facts.prompts_at(sorted(affected)):
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
    if vram < SMALL_GPU_MB or (model_sizes and max(model_sizes) > TOO_BIG_SHARE * vram):
        too_big = bool(model_sizes) and max(model_sizes) > TOO_BIG_SHARE * vram
        reason = (f"the model needs {max(model_sizes):.0f} MB" if too_big
                  else with_article(f"{gb(vram)} GPU is too small for models of this kind"))
        return [finding(
            "lowvram", f"The {gb(vram)} GPU cannot hold the models in full: ComfyUI loads them partially "
            "(expected, and slow)", "high",
            f"{what} on {where}: {reason}, so ComfyUI keeps part of the weights in RAM. This is the expected "
            f"way to run on this GPU, not a misconfiguration. {cost_text}",
            [ADVICE_EXPECTED(), ADVICE_BIGGER_GPU()],
            evidence, figures, load_s, affected, severity="info", total=lines_total)]
    if least is not None and least < STARVED_SHARE * vram:
        ruled_out, ruled_evidence = _ruled_out(facts, runs.values(), partial, vram, forced)
        evidence = evidence[:3] + ruled_evidence + evidence[3:]
        floor = (f" {round(least)} MB is the floor ComfyUI falls back to (64 MB in older versions, 128 MB in newer "
                 "ones) when the free VRAM, less what it keeps for the job's own computation, leaves nothing for the "
                 "weights." if round(least) in FLOORS_MB else "")
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
            f"of their weights piece by piece.{floor} {with_article(gb(vram), capital=True)} GPU holds models "
            f"like these in full, so the VRAM was taken or withheld: {', '.join(suspects[:-1])} or {suspects[-1]}."
            + "".join(f" {text}" for text in ruled_out.values()) + f" {cost_text}",
            advice, evidence, figures, load_s, affected, total=lines_total + len(ruled_evidence))]
    return [finding(
        "lowvram", f"Models did not fit in the free VRAM of {where} and were loaded partially", "medium",
        f"{what}, with {least:.0f} MB and more offered: the workflow's models together need more than the "
        f"free VRAM, so ComfyUI keeps part of their weights in RAM. {cost_text}"
        if least is not None else f"{what}: part of the weights stayed in RAM. {cost_text}",
        [ADVICE_SMALLER_WEIGHTS(), ADVICE_FREE_MODELS(), ADVICE_BIGGER_GPU()],
        evidence, figures, load_s, affected, total=lines_total)]


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
