"""Quantized GGUF weights: slower per step than fp16 or fp8 where the VRAM would hold those."""

from __future__ import annotations

from ...events import EventKind, Phase
from ...model import Finding
from ...text import plural
from ..engine import Advice, finding, rule
from ..facts import LARGE_GPU_MB, QUANTIZED_PREFIXES, Facts, gpu_phrase, gpu_vram_mb

ADVICE_TRY_FP8 = Advice("Where the VRAM allows, try the fp8 or fp16 weights of the same model and compare the s/it")
ADVICE_KEEP_GGUF = Advice("Keep GGUF where it is what makes the model fit: a partially loaded fp16 model is slower "
                          "still")


@rule(
    "gguf", "info", Phase.INFERENCE,
    trigger="`gguf qtypes` lines naming quantized tensor types (Q4_K, Q5_K, Q8_0, ...): ComfyUI-GGUF weights.",
    advice=(ADVICE_TRY_FP8, ADVICE_KEEP_GGUF),
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
    return [finding(
        "gguf", f"Quantized GGUF weights ({types})", "high",
        f"{plural(len(events), '`gguf qtypes` line')} name quantized tensors ({types}): ComfyUI-GGUF "
        f"dequantizes them during every step, which is slower per step than fp16 or fp8 weights.{context}",
        [ADVICE_TRY_FP8(), ADVICE_KEEP_GGUF()],
        [facts.cite_event(ev) for ev in events],
        {"qtypes": quantized, "total_vram_mb": vram}, 0.0, prompts)]
