"""The prompt after an out-of-memory error starts cold: ComfyUI unloaded every model and loads them again."""

from __future__ import annotations

from ...events import EventKind, Phase
from ...model import Evidence, Finding, Prompt
from ...text import dur, plural
from ..engine import Advice, finding, rule
from ..facts import Facts, is_timed
from ..load_speed import timed_loads

ADVICE_FIX_OOM = Advice("Fix the out-of-memory error (the oom finding says how): every OOM costs the next prompt a "
                        "full reload as well")
ADVICE_NOT_DISK = Advice("Judge the storage by the loads of warm prompts, not this one: it reloads what the OOM "
                         "unloaded, with the GPU's memory in whatever state the failure left it")


@rule(
    "cold-after-oom", "info", Phase.LOAD,
    trigger="`Got an OOM, unloading all loaded models.`: ComfyUI's out-of-memory handler unloaded every model, so "
    "the next prompt starts cold and loads them all again (its load time is the OOM's cost, not the disk's).",
    advice=(ADVICE_FIX_OOM, ADVICE_NOT_DISK),
)
def _cold_after_oom(facts: Facts) -> list[Finding]:
    cold = [p for p in facts.prompts_in("cold") if facts.has_loads(p)]
    if not cold:
        return []
    unloads = [ev for ev in facts.events[EventKind.OOM] if "unloading all loaded models" in str(ev.fields.get("text"))]
    evidence: list[Evidence] = []
    for prompt in cold[:2]:
        before = [ev for ev in unloads if ev.source == prompt.source and ev.line < prompt.line]
        evidence += [facts.cite_event(ev) for ev in before[-1:]]
        evidence += [facts.cite_event(ev) for ev in facts.prompt_events(EventKind.LOAD_REQUESTED, prompt)[:2]]
    if not evidence:
        return []
    timed = [p for p in cold if is_timed(p)]
    load_s = sum(p.phases.seconds(Phase.LOAD) for p in timed)
    first = cold[0]
    models = list(dict.fromkeys(ld.model for ld in facts.loads_of(first) if ld.model))
    earlier = _earlier_loads(facts, first)
    cost_text = f" It spent {dur(first.phases.seconds(Phase.LOAD))} loading" if is_timed(first) else ""
    if cost_text and earlier is not None:
        cost_text += (f"; the models it had loaded before the OOM took {dur(earlier[0])} now against "
                      f"{dur(earlier[1])} then")
    why = (f"ComfyUI's out-of-memory handler printed `Got an OOM, unloading all loaded models.`, so prompt "
           f"{first.index + 1} started with nothing loaded and loaded {', '.join(models) or 'its models'} from scratch."
           + (cost_text + "." if cost_text else "")
           + (f" {plural(len(cold), 'prompt')} started cold this way." if len(cold) > 1 else "")
           + " That time is the OOM's price and says nothing about the disk's speed.")
    return [finding(
        "cold-after-oom", f"{plural(len(cold), 'prompt')} started cold after an out-of-memory error: its models "
        "loaded from scratch", "high", why, [ADVICE_FIX_OOM(), ADVICE_NOT_DISK()], evidence,
        {"cold_prompts": len(cold), "load_s": round(load_s, 3)}, load_s, (p.index for p in cold))]


def _earlier_loads(facts: Facts, cold: Prompt) -> tuple[float, float] | None:
    """Seconds the cold prompt took to load the models a warm prompt of its run had loaded before,
    and what those loads took then (``Requested to load`` to ``loaded completely``); None if untimed."""
    timed = [t for t in timed_loads(facts) if t.prompt.run == cold.run]
    now = {t.load.model: t.seconds for t in timed if t.prompt.index == cold.index}
    then: dict[str | None, float] = {}
    for t in timed:
        if t.prompt.index < cold.index and not t.prompt.cold and t.load.model in now:
            then[t.load.model] = t.seconds  # the latest warm load of each
    if not then:
        return None
    return sum(now[m] for m in then), sum(then.values())
