"""LOW_VRAM or NO_VRAM asked for on a GPU that does not need it."""

from __future__ import annotations

from ...events import EventKind, Phase
from ...model import Evidence, Finding, Run
from ...text import dur, gb, with_article
from ..engine import Advice, finding, rule
from ..facts import LARGE_GPU_MB, Facts, gpu_phrase, gpu_vram_mb, timed

ADVICE_REMOVE_FLAG = Advice("Remove `{flag}` from the start command (or the template's / endpoint's extra arguments)",
                            {"flag": "--lowvram` / `--novram"})
ADVICE_KEEP_FOR_BIG = Advice("Keep it only for a workflow that does not fit otherwise")


@rule(
    "lowvram-forced", "warning", Phase.LOAD,
    trigger="`Set vram state to: LOW_VRAM` or `NO_VRAM` on a GPU of 12 GB or more: ComfyUI chooses "
    "these by itself only on 4 GB cards, so the start command asked for them.",
    advice=(ADVICE_REMOVE_FLAG, ADVICE_KEEP_FOR_BIG),
)
def _lowvram_forced(facts: Facts) -> list[Finding]:
    evidence: list[Evidence] = []
    runs: list[Run] = []
    for run in facts.runs_in("vram_flags"):
        vram = gpu_vram_mb(run)
        states = [s for s in run.vram_states if s in ("LOW_VRAM", "NO_VRAM")]
        if not states or vram is None or vram < LARGE_GPU_MB or run.setup.get("dynamic_vram") is True:
            continue  # under dynamic VRAM --lowvram does nothing: dynamic-vram-flag says so
        lines = [ev for ev in facts.run_events(EventKind.VRAM_STATE, run)
                 if ev.fields.get("state") in states and not ev.fields.get("automatic")]
        if lines:
            runs.append(run)
            evidence += [facts.cite_event(ev) for ev in lines]
    if not runs:
        return []
    run = runs[0]
    state = next(s for s in run.vram_states if s in ("LOW_VRAM", "NO_VRAM"))
    flag = "--lowvram" if state == "LOW_VRAM" else "--novram"
    indexes = {r.index for r in runs}
    prompts = list(facts.prompts_of_runs(indexes))
    offloaded = {ld.prompt for ld in facts.loads_in("offloaded")}
    load_s = sum(p.phases.seconds(Phase.LOAD) for p in timed(prompts) if p.index in offloaded or p.lowvram_module_loads)
    return [finding(
        "lowvram-forced", f"{state} on {gpu_phrase(run)}: ComfyUI was started with `{flag}`", "high",
        f"ComfyUI picks LOW_VRAM by itself only for GPUs of 4 GB or less; on "
        f"{with_article(gb(run.total_vram_mb or 0))} GPU "
        f"{state} comes from `{flag}` in the start command, which keeps weights off the GPU."
        + (f" Prompts that loaded partially spent {dur(load_s)} loading." if load_s else ""),
        [ADVICE_REMOVE_FLAG(flag=flag), ADVICE_KEEP_FOR_BIG()],
        evidence, {"vram_state": state, "total_vram_mb": run.total_vram_mb, "load_s": round(load_s, 3)},
        load_s, (p.index for p in prompts))]
