"""A LoRA that does not fit the model it patches: `lora key not loaded` lines, one per weight skipped."""

from __future__ import annotations

from ...events import EventKind, Phase
from ...model import Finding
from ...text import plural
from ..engine import Advice, finding, rule
from ..facts import Facts

ADVICE_MATCHING_LORA = Advice("Use a LoRA trained for the base model this workflow loads (SD 1.5, SDXL, Flux, "
                              "Wan...): one made for another model changes nothing")
ADVICE_BASE_NOT_REFINER = Advice("Apply the LoRA to the base model it was trained for, not to the refiner: wire "
                                 "the LoRA loader between the base checkpoint and its sampler")


@rule(
    "lora-mismatch", "warning", Phase.OTHER,
    trigger="`lora key not loaded` lines (comfy/lora.py): weights of a LoRA that match no layer of the model it "
    "was applied to, skipped one line each while the prompt goes on.",
    advice=(ADVICE_MATCHING_LORA, ADVICE_BASE_NOT_REFINER),
)
def _lora_mismatch(facts: Facts) -> list[Finding]:
    events = facts.events[EventKind.LORA_KEY_MISSED]
    if not events:
        return []
    keys = sum(int(ev.fields.get("count", 1)) for ev in events)
    prompts: list[int] = []
    next_model: str | None = None
    for prompt in facts.prompts_of_runs({r.index for r in (facts.run_at(ev.source, ev.line) for ev in events)
                                         if r is not None}):
        own = facts.prompt_events(EventKind.LORA_KEY_MISSED, prompt)
        if not own:
            continue
        prompts.append(prompt.index)
        if next_model is None:
            after = facts.between(EventKind.LOAD_REQUESTED, prompt.source, own[0].line, prompt.last_line)
            next_model = str(after[0].fields.get("model")) if after else None
    where = f"in {plural(len(prompts), 'prompt')}" if prompts else "with no prompt running"
    why = (f"ComfyUI skipped {plural(keys, 'weight')} of a LoRA {where}, one `lora key not loaded` line each: "
           "it maps every weight of a LoRA to a layer of the model it patches, and these matched none. The "
           "prompt goes on and can succeed, but the LoRA (or those parts of it) did nothing: a LoRA made for "
           "another base model misses its layers like this.")
    advice = [ADVICE_MATCHING_LORA()]
    if next_model is not None and "refiner" in next_model.lower():
        why += (f" The model the prompt loads right after these lines is `{next_model}`: a LoRA for a base "
                "model, applied to a refiner, misses exactly the layers the refiner lacks.")
        advice.insert(0, ADVICE_BASE_NOT_REFINER())
    return [finding(
        "lora-mismatch", f"A LoRA did not fit its model: {plural(keys, 'weight')} not applied", "high", why,
        advice, [facts.cite_event(ev) for ev in events], {"lora_keys_not_loaded": keys}, prompts=prompts,
        total=keys)]
