"""Quantized GGUF weights: slower per step than fp16 or fp8 where the VRAM would hold those."""

from __future__ import annotations

from ...events import Event, EventKind, Phase
from ...model import Finding
from ...text import plural
from ..dynamic_vram import LegacyBeside, gguf_legacy
from ..engine import Advice, finding, rule
from ..evidence import clip, event_line
from ..facts import LARGE_GPU_MB, QUANTIZED_PREFIXES, Facts, gpu_phrase, gpu_vram_mb, is_timed

#: ComfyUI's own words (main.py, the warning for --disable-dynamic-vram).
COMFY_SAYS = ("If you use gguf we recommend keeping dynamic vram enabled and using native ComfyUI model formats "
              "instead. ComfyUI native formats like fp8, int8 and w4a8 will be faster even if they are larger than "
              "your memory.")
ADVICE_NATIVE = Advice("Use the model's native ComfyUI weights (fp8, int8) instead of GGUF: they load through "
                       "dynamic VRAM, which streams what does not fit")
ADVICE_GGUF_ONLY = Advice("Keep GGUF only where no fp8 or int8 weights of the model exist")

ADVICE_TRY_FP8 = Advice("Where the VRAM allows, try the fp8 or fp16 weights of the same model and compare the s/it")
ADVICE_KEEP_GGUF = Advice("Keep GGUF where it is what makes the model fit: a partially loaded fp16 model is slower "
                          "still")


@rule(
    "gguf", "info", Phase.INFERENCE,
    trigger="`gguf qtypes` lines naming quantized tensor types (Q4_K, Q5_K, Q8_0, ...): ComfyUI-GGUF weights. A "
    "warning when they load the legacy way (`loaded partially`) while the prompt's other models load through "
    "dynamic VRAM (`prepared for dynamic VRAM loading`).",
    advice=(ADVICE_TRY_FP8, ADVICE_KEEP_GGUF, ADVICE_NATIVE, ADVICE_GGUF_ONLY),
)
def _gguf(facts: Facts) -> list[Finding]:
    events = [ev for ev in facts.events[EventKind.GGUF_QTYPES]
              if any(name.startswith(QUANTIZED_PREFIXES) for name in ev.fields.get("qtypes", {}))]
    if not events:
        return []
    quantized: dict[str, int] = {}
    for ev in events:
        for name, count in ev.fields["qtypes"].items():
            if name.startswith(QUANTIZED_PREFIXES):
                quantized[name] = max(quantized.get(name, 0), count)
    prompts = [p.index for p in facts.prompts_in("quantized")]
    run = facts.run_at(events[0].source, events[0].line)
    vram = gpu_vram_mb(run)
    types = ", ".join(sorted(quantized))
    if vram is not None and vram >= LARGE_GPU_MB:
        context = (f" On {gpu_phrase(run)}, the fp8 or fp16 weights of the same model may fit and sample "
                   "faster; a baseline with them shows the difference in s/it.")
    else:
        context = " On a smaller GPU quantized weights are often what makes the model fit: a trade-off, not a fault."
    beside = gguf_legacy(facts)
    if beside:
        return [_legacy_beside_dynamic(facts, beside, events, quantized, types)]
    return [finding(
        "gguf", f"Quantized GGUF weights ({types})", "high",
        f"{plural(len(events), '`gguf qtypes` line')} {'names' if len(events) == 1 else 'name'} quantized tensors "
        f"({types}): ComfyUI-GGUF dequantizes them as they are used, a diffusion model's at every sampling step, "
        f"which is slower per step than fp16 or fp8 weights (a text encoder's once a prompt).{context}",
        [ADVICE_TRY_FP8(), ADVICE_KEEP_GGUF()],
        [facts.cite_event(ev) for ev in events],
        {"qtypes": quantized, "total_vram_mb": vram}, 0.0, prompts)]


def _legacy_beside_dynamic(facts: Facts, beside: list[LegacyBeside], events: list[Event], quantized: dict[str, int],
                           types: str) -> Finding:
    """GGUF weights on the legacy loader (with lowvram patches when partial) beside dynamic loads."""
    case = beside[0]
    legacy = case.legacy[0]
    legacy_events = [ev for kind in (EventKind.LOADED_PARTIALLY, EventKind.LOADED_COMPLETELY, EventKind.LOWVRAM_MODE)
                     for ev in facts.between(kind, legacy.source, legacy.line, legacy.line)]
    said = event_line(legacy_events[0])[1] if legacy_events else f"{legacy.kind} load"
    dynamic = ", ".join(dict.fromkeys(ld.model or "a model" for ld in case.dynamic))
    prompts = [c.prompt for c in beside]
    load_s = sum(p.phases.seconds(Phase.LOAD) for p in prompts if is_timed(p))
    partial = any(ld.kind in ("partial", "lowvram") for c in beside for ld in c.legacy)
    lines = "The `gguf qtypes` line names" if len(events) == 1 else f"{len(events)} `gguf qtypes` lines name"
    why = (f"{lines} quantized tensors ({types}). Dynamic VRAM is on, and "
           f"{dynamic} loaded through it, but {legacy.model or 'the GGUF model'} loaded the legacy way: "
           f"`{clip(said, 140)}` "
           f"({facts.lines_ref(legacy.source, legacy.line)}). ComfyUI-GGUF's models bypass dynamic VRAM"
           + (", so what does not fit is patched in piece by piece (lowvram) instead of streamed" if partial else "")
           + f". ComfyUI itself says: \"{COMFY_SAYS}\"")
    advice = [ADVICE_NATIVE(), ADVICE_GGUF_ONLY()]
    evidence = [facts.cite_event(ev) for ev in events[:2]] + [facts.cite_event(ev) for ev in legacy_events[:1]]
    evidence += [facts.cite_event(ev) for ld in case.dynamic[:2]
                 for ev in facts.between(EventKind.DYNAMIC_LOAD, ld.source, ld.line, ld.line)]
    return finding(
        "gguf", f"GGUF weights ({types}) bypass dynamic VRAM: {legacy.model or 'the model'} loaded the legacy way",
        "high", why, advice, evidence,
        {"qtypes": quantized, "legacy_loads": sum(len(c.legacy) for c in beside), "load_s": round(load_s, 3)},
        load_s, (p.index for p in prompts), severity="warning" if partial else "info")
