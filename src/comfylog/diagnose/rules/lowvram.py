"""Weights loaded partially (lowvram): whether the GPU could have held them, and what it cost."""

from __future__ import annotations

from ...events import EventKind, Phase
from ...model import Finding
from ...text import dur, gb, plural
from ..engine import MAX_EVIDENCE, finding, rule
from ..facts import SMALL_GPU_MB, Facts, gpu_phrase, gpu_vram_mb, is_timed

#: A partial load offered less than this share of the GPU's VRAM was starved, not too big.
STARVED_SHARE = 0.10
#: A model whose size is known is "too big" beyond this share of the GPU's VRAM.
TOO_BIG_SHARE = 0.8


@rule(
    "lowvram", "warning", Phase.LOAD,
    trigger="`loaded partially`, `loading in lowvram mode` or `lowvram: loaded module` lines: weights "
    "that stay partly in RAM. A warning when the GPU could hold them (only a sliver of a 12 GB+ GPU was "
    "offered, or the models just did not fit the free VRAM); information on GPUs under 8 GB or models "
    "larger than the GPU, where it is expected.",
    advice="Load on the main GPU: check the loader's device / offload option, drop `--lowvram`, "
    "`--novram`, `--reserve-vram`, and free VRAM held by other models or processes.",
)
def _lowvram(facts: Facts) -> list[Finding]:
    report = facts.report
    partial = [ld for ld in report.loads if ld.kind in ("partial", "lowvram")]
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

    if vram is None:
        return [finding(
            "lowvram", "Models loaded partially (lowvram): part of their weights stayed in RAM", "medium",
            f"{what}. The log does not give this device's own VRAM size, so whether it could hold the models "
            f"is unknown. {cost_text}",
            ["Load on the main device: check the loader's device / offload option and `--lowvram` / `--novram`",
             "Smaller weights (fp8, GGUF) need less VRAM"],
            evidence, figures, load_s, affected, severity="warning", total=lines_total)]
    if vram < SMALL_GPU_MB or (model_sizes and max(model_sizes) > TOO_BIG_SHARE * vram):
        too_big = bool(model_sizes) and max(model_sizes) > TOO_BIG_SHARE * vram
        reason = (f"the model needs {max(model_sizes):.0f} MB" if too_big
                  else f"a {gb(vram)} GPU is too small for models of this kind")
        return [finding(
            "lowvram", f"The {gb(vram)} GPU cannot hold the models in full: ComfyUI loads them partially "
            "(expected, and slow)", "high",
            f"{what} on {where}: {reason}, so ComfyUI keeps part of the weights in RAM. This is the expected "
            f"way to run on this GPU, not a misconfiguration. {cost_text}",
            ["Expected on this GPU; quantized weights (fp8, GGUF Q4-Q5) or a smaller model reduce the offloading",
             "A GPU with more VRAM removes it"],
            evidence, figures, load_s, affected, severity="info", total=lines_total)]
    if least is not None and least < STARVED_SHARE * vram:
        return [finding(
            "lowvram", f"Models loaded partially (lowvram) on {where}: only {least:.0f} MB of VRAM was offered "
            "to them", "high" if share >= 0.3 or not timed else "medium",
            f"{what}: ComfyUI gave the models at most {least:.0f} MB of the GPU's {vram} MB and moved the rest "
            f"of their weights piece by piece. A {gb(vram)} GPU holds models like these in full, so the VRAM was "
            "taken or withheld: other models still loaded, another process, a memory reservation "
            f"(`--reserve-vram`) or a loader told to offload. {cost_text}",
            ["Load the models on the main GPU: check the loader node's device / offload option (UNet, GGUF, "
             "VAE and text-encoder loaders)",
             "Drop `--lowvram` / `--novram` / `--reserve-vram` from the start command and make sure no other "
             "process holds VRAM (nvidia-smi)",
             "Compare with a run that loads completely: `comfylog compare THIS.log BASELINE.log`"],
            evidence, figures, load_s, affected, total=lines_total)]
    return [finding(
        "lowvram", f"Models did not fit in the free VRAM of {where} and were loaded partially", "medium",
        f"{what}, with {least:.0f} MB and more offered: the workflow's models together need more than the "
        f"free VRAM, so ComfyUI keeps part of their weights in RAM. {cost_text}"
        if least is not None else f"{what}: part of the weights stayed in RAM. {cost_text}",
        ["Use smaller weights (fp8, GGUF) or a smaller text encoder so everything fits",
         "Unload what the next step does not need (models held from earlier steps or prompts)",
         "A GPU with more VRAM"],
        evidence, figures, load_s, affected, total=lines_total)]
