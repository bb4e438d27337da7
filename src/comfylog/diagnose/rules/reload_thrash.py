"""The same model moved onto the GPU again prompt after prompt."""

from __future__ import annotations

from array import array

from ...events import EventKind, Phase
from ...model import Finding, Load, Prompt
from ...text import dur, gb, mib_text
from ..builds import ram_cache_default
from ..engine import MAX_EVIDENCE, Advice, finding, rule
from ..facts import SMALL_GPU_MB, Facts, gpu_phrase, gpu_vram_mb, is_timed, prompt_fold

#: A model reloaded in this many prompts in a row is reload thrash.
RELOAD_STREAK = 3

ADVICE_SMALL_GPU = Advice("Expected on this GPU: fewer or smaller models per workflow reduce it")
ADVICE_HIGHVRAM = Advice("Keep models loaded between prompts (`--highvram`) when the VRAM allows")
ADVICE_GROUP = Advice("Group prompts by checkpoint and LoRA instead of alternating them")
ADVICE_LOAD_LESS = Advice("One prompt needs more than the GPU holds ({needs} on {vram}), so they cannot "
                          "stay loaded together: load less per prompt (fp8 or GGUF weights, a smaller text encoder) "
                          "or split the workflow so that each part's models fit", {"needs": "X GB", "vram": "the GPU"})
ADVICE_SAME_MODEL = Advice("The models are small for this GPU, so nothing unloaded them for room: a node hands "
                           "ComfyUI a new or re-patched model each prompt (changed loader inputs, a LoRA or patch "
                           "node, a custom loader): keep those inputs fixed between prompts")

#: A prompt's models that take more than this share of the VRAM cannot stay loaded together.
CROWDED_SHARE = 0.9
#: A prompt's models within this share of the VRAM were not unloaded for room.
ROOMY_SHARE = 0.5
#: The streak's prompts whose loads are summed.
NEEDS_SAMPLE = 16


ADVICE_CACHE_CLASSIC = Advice("Under dynamic VRAM, start ComfyUI with `--cache-classic`, the old caching that keeps "
                              "the loaded models between prompts (`--high-ram` implies it); it stopped the reloads "
                              "for users with this symptom (ComfyUI#14618)")
ADVICE_CACHE_CLASSIC_IF = Advice("If `python main.py --help` lists `--cache-classic` (ComfyUI after 0.22, whose "
                                 "default cache is the RAM-pressure cache), start ComfyUI with it: the old caching "
                                 "keeps the loaded models between prompts (ComfyUI#14618)")
ADVICE_CACHE_RAM = Advice("Short of RAM, tune when the RAM-pressure cache evicts instead: `--cache-ram ACTIVE "
                          "INACTIVE` (GB of RAM to keep free)")


@prompt_fold
class ModelStreaks:
    """Each model's longest streak of prompts in a row that loaded it (within a run; invalid and dropped
    prompts skipped), as prompt indexes: what reload-thrash asks, folded in the index's one pass."""

    def __init__(self) -> None:
        self._longest: dict[str, array[int]] = {}
        self._current: dict[str, array[int]] = {}
        self._run: int | None = None

    def feed(self, position: int, prompt: Prompt) -> None:
        current = self._current
        if prompt.run != self._run:
            self._close()
            current = self._current = {}
            self._run = prompt.run
        if prompt.status in ("invalid", "dropped"):
            return
        models, index = prompt.models, prompt.index
        for model in list(current):
            if model not in models:
                self._keep(model, current.pop(model))
        for model in models:  # no new array per model per prompt (setdefault's default): a fifth of the index's pass
            streak = current.get(model)
            if streak is None:
                current[model] = array("q", (index,))
            else:
                streak.append(index)

    def _close(self) -> None:
        for model, streak in self._current.items():
            self._keep(model, streak)

    def _keep(self, model: str, streak: array[int]) -> None:
        if len(streak) > len(self._longest.get(model, ())):
            self._longest[model] = streak

    def longest(self) -> dict[str, array[int]]:
        """model -> the indexes of the prompts of its longest streak."""
        self._close()
        self._current = {}
        self._run = None
        return self._longest


@rule(
    "reload-thrash", "info", Phase.LOAD,
    trigger=f"The same model is `Requested to load` (moved onto the GPU again) in {RELOAD_STREAK} or more prompts "
    "in a row: it was unloaded or re-patched in between. A warning when the reloads measurably cost 10% "
    "of the prompt time.",
    advice=(ADVICE_SMALL_GPU, ADVICE_LOAD_LESS, ADVICE_SAME_MODEL, ADVICE_HIGHVRAM, ADVICE_GROUP,
            ADVICE_CACHE_CLASSIC, ADVICE_CACHE_CLASSIC_IF, ADVICE_CACHE_RAM),
)
def _reload_thrash(facts: Facts) -> list[Finding]:
    streaks = facts.fold(ModelStreaks).longest()
    thrash = {m: s for m, s in streaks.items() if len(s) >= RELOAD_STREAK}
    requests = [ev for ev in facts.events[EventKind.LOAD_REQUESTED] if ev.fields.get("model") in thrash]
    if not thrash or not requests:
        return []
    models = sorted(thrash, key=lambda m: -len(thrash[m]))
    prompts = sorted({i for s in thrash.values() for i in s})
    dynamic = _dynamic_reloads(facts, thrash)
    cost = dynamic[2] if dynamic is not None else _reload_seconds(facts, thrash)
    timed_total = sum(p.total_s or 0.0 for p in facts.prompts_at(prompts) if is_timed(p))
    severity = "warning" if timed_total and cost >= 0.1 * timed_total else "info"
    first = next(facts.prompts_at(thrash[models[0]][:1]))
    run = facts.run_of(first)
    high = run is not None and "HIGH_VRAM" in run.vram_states
    shared = run is not None and "SHARED" in run.vram_states  # Apple's unified memory: no VRAM of its own
    small = gpu_vram_mb(run) is not None and (gpu_vram_mb(run) or 0) < SMALL_GPU_MB
    listed = ", ".join(f"{m} in {len(thrash[m])}" for m in models[:3])
    vram = gpu_vram_mb(run)
    needs = _prompt_needs_mb(facts, prompts) if dynamic is None and vram else None
    crowded = needs is not None and vram is not None and needs > CROWDED_SHARE * vram
    roomy = needs is not None and vram is not None and needs < ROOMY_SHARE * vram
    if dynamic is not None:
        reason, advice, _ = dynamic
    elif high:
        reason = ("ComfyUI runs with HIGH_VRAM, so the reloads come from models re-patched (LoRAs, model "
                  "patches) or different checkpoints between prompts")
    elif shared:
        reason = ("the GPU shares the machine's memory (SHARED), so a model moved onto it is not copied into VRAM of "
                  "its own: the reloads are re-patches (LoRAs) or a model freed between prompts, and cost little")
    elif crowded and needs is not None:
        reason = (f"one prompt loads {_needs_text(needs)} on {gpu_phrase(run)}, so ComfyUI unloads one to make room "
                  "for the next and loads it again in the next prompt")
    elif small:
        reason = f"on {gpu_phrase(run)} ComfyUI unloads one model to make room for the next, which is expected"
    elif roomy and needs is not None:
        reason = (f"a prompt's models take {mib_text(needs)} of {gpu_phrase(run)}, so ComfyUI had no need to unload "
                  "them for room: they were handed over anew or re-patched between prompts")
    else:
        reason = "ComfyUI unloaded them to make room, or they were re-patched (LoRAs) between prompts"
    cost_text = (f" The reloads took {dur(cost)} in all." if cost else
                 " Their cost cannot be timed from this log (or is negligible).")
    if dynamic is not None and cost:
        cost_text = f" The prompts that loaded them again spent {dur(cost)} loading."
    if dynamic is not None:
        pass  # its own advice
    elif crowded and needs is not None:
        advice = [ADVICE_LOAD_LESS(needs=_needs_text(needs), vram=gb(vram or 0.0))]
    elif small:
        advice = [ADVICE_SMALL_GPU()]
    elif roomy:
        advice = [ADVICE_SAME_MODEL(), ADVICE_GROUP()]
    elif high or shared:  # HIGH_VRAM keeps models loaded already; SHARED has no VRAM of its own to keep them in
        advice = [ADVICE_GROUP()]
    else:
        advice = [ADVICE_HIGHVRAM(), ADVICE_GROUP()]
    return [finding(
        "reload-thrash", f"Models moved onto the GPU again prompt after prompt ({listed} prompts in a row)", "high",
        f"`Requested to load` is printed only for a model that is not on the GPU: {reason}.{cost_text}",
        advice, [facts.cite_event(ev) for ev in requests[:MAX_EVIDENCE]],
        {"streaks": {m: len(thrash[m]) for m in models}, "reload_s": round(cost, 3)}, cost, prompts,
        severity=severity, total=len(requests))]


def _prompt_needs_mb(facts: Facts, prompts: list[int]) -> float | None:
    """The most megabytes of models one of the first of ``prompts`` loaded (each model's largest load counted
    once; a streak repeats one workflow, so its first prompts tell); None when a load's size is unknown. A partial
    load counts as more than the GPU holds: the model did not fit."""
    most: float | None = None
    for prompt in facts.prompts_at(prompts[:NEEDS_SAMPLE]):
        models: dict[str, float] = {}
        for ld in facts.loads_of(prompt):
            if ld.kind == "dynamic":
                continue
            if ld.kind != "complete":
                return float("inf")
            if ld.loaded_mb is None:
                return None
            name = ld.model or f"line {ld.line}"
            models[name] = max(models.get(name, 0.0), ld.loaded_mb)
        if models:
            most = max(most or 0.0, sum(models.values()))
    return most


def _needs_text(needs: float) -> str:
    """``20.32 GiB of models``, or what a partial load says when the sizes cannot be summed."""
    return f"{mib_text(needs)} of models" if needs != float("inf") else "more models than fit (some loaded partly)"


def _reload_seconds(facts: Facts, thrash: dict[str, array[int]]) -> float:
    """Seconds from each repeated ``Requested to load`` to the load line that followed it (timed logs).

    Which load followed each request was found in the index's one pass over the loads (FollowingLoads);
    that load is read back from the table.
    """
    table = facts.report.loads
    total = 0.0
    for model, streak in thrash.items():
        for prompt in facts.prompts_at(streak[1:]):  # the first load of a streak is no reload
            if prompt.estimated:
                continue
            for ev in facts.prompt_events(EventKind.LOAD_REQUESTED, prompt):
                if ev.fields.get("model") != model or ev.ts is None:
                    continue
                position = facts.following_loads.after(ev.source, ev.line)
                after: Load | None = table[position] if position is not None else None
                if after is not None and after.ts is not None and after.line <= (prompt.last_line or after.line):
                    total += max(0.0, (after.ts - ev.ts).total_seconds())
    return total


def _dynamic_reloads(facts: Facts, thrash: dict[str, array[int]]) -> tuple[str, list[str], float] | None:
    """Reloads of models that load through dynamic VRAM: why, what to do, and the load time of the prompts
    that loaded them again. None when the repeated models load the legacy way.

    Dynamic VRAM does not unload a model to make room for another (it streams weights on demand), so
    a model requested again was dropped between prompts: the RAM-pressure cache freed the loader's
    output and the file was read and staged again. (``prepared for dynamic VRAM loading`` repeats
    on every use even when nothing is read again; ``Requested to load`` does not.)
    """
    models = set(thrash)
    dynamic = {ld.model for ld in facts.loads_in("dynamic") if ld.model in models}
    if not dynamic or len(dynamic) < len(models) / 2:
        return None
    again = sorted({i for streak in thrash.values() for i in streak[1:]})
    cost = sum(p.phases.seconds(Phase.LOAD) for p in facts.prompts_at(again) if is_timed(p))
    run = next((facts.run_of(p) for p in facts.prompts_at(again[:1])), None)
    reason = (f"{', '.join(sorted(dynamic))} load through dynamic VRAM, which streams weights on demand and does not "
              "unload one dynamic model to make room for another: requested again, the model was dropped between "
              "prompts, and its file was read and staged again")
    default = ram_cache_default(run)
    if default is False:
        reason += (f" (ComfyUI {run.comfyui_text() if run else ''} caches the classic way, so something else freed "
                   "it: another workflow's models, or a custom node that frees memory)")
        return reason, [ADVICE_GROUP()], cost  # --highvram would switch dynamic VRAM off
    reason += "; the RAM-pressure cache, the default cache of this build, frees a loader's output under pressure"
    first = ADVICE_CACHE_CLASSIC() if default else ADVICE_CACHE_CLASSIC_IF()
    return reason, [first, ADVICE_CACHE_RAM()], cost
