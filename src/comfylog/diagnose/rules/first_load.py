"""A run's first prompt pays for loading the models the later ones reuse: said from the log's own durations
where it has no clock (004, 024: `Prompt executed in 53.88 seconds`, then 8.1-8.5 s each, and the load lines
only in the first), since the load phase itself is not timed there."""

from __future__ import annotations

from ...events import EventKind, Phase
from ...lazyre import lazy_re
from ...model import Finding, Prompt
from ...text import dur, plural
from ..engine import Advice, finding, rule
from ..facts import Facts
from ..load_speed import ESTIMATE_MIN_S, EstimatedLoad, estimated_loads

ADVICE_ONCE = Advice("Paid once per start: the prompts after it reuse the loaded models. Keep ComfyUI running between "
                     "jobs (a restart reads them again); model files on a faster local disk shorten the first load")
#: The first prompt's estimated load must be this long (seconds), and its time outside sampling this many times the
#: later prompts'.
MIN_EXTRA_S = ESTIMATE_MIN_S
MIN_RATIO = 2.0
#: The custom node pack a path lies in: ``F:\ComfyUI\custom_nodes\comfyui_controlnet_aux\ckpts\…``.
CUSTOM_NODE_RE = lazy_re(r"custom_nodes[\\/]([^\\/]{1,100})[\\/]")
#: Load lines cited.
MAX_LOADS_CITED = 3


@rule(
    "first-load", "info", Phase.LOAD,
    trigger="A log whose stamps cannot time loads (none, or minutes), where a run's first prompt that loads models "
    f"spends at least twice as long (and {MIN_EXTRA_S:.0f} s more) outside its sampling bars as the prompts of the "
    "run that loaded nothing and sampled about as long: the difference is the first load (slow-load's when it is "
    "slow storage).",
    advice=(ADVICE_ONCE,),
)
def _first_load(facts: Facts) -> list[Finding]:
    firsts: dict[int, EstimatedLoad] = {}
    for estimate in estimated_loads(facts):
        firsts.setdefault(estimate.prompt.run, estimate)
    for estimate in firsts.values():
        outside = estimate.seconds + estimate.usual
        if (estimate.slow or estimate.seconds < MIN_EXTRA_S or outside < MIN_RATIO * estimate.usual
                or not _first_with_loads(facts, estimate.prompt)):
            continue
        return [_said(facts, estimate)]
    return []


def _first_with_loads(facts: Facts, prompt: Prompt) -> bool:
    """No prompt of its run before it loaded a model (read up to it, not the whole table)."""
    for earlier in facts.prompts_of_runs((prompt.run,)):
        if earlier.index >= prompt.index:
            return True
        if facts.has_loads(earlier):
            return False
    return True


def _rocm(facts: Facts, prompt: Prompt) -> bool:
    """The prompt's run uses a ROCm build of PyTorch, which compiles (MIOpen) kernels the first time it uses them."""
    run = facts.run_at(prompt.source, prompt.line)
    return run is not None and "+rocm" in (run.pytorch_version or "")


def _annotators(facts: Facts, prompt: Prompt) -> str:
    """The annotator checkpoints a preprocessor pack read in this prompt, as words for the finding (039: six
    `model_path is …` lines of comfyui_controlnet_aux among prompt 1's loads); "" when none."""
    found = facts.prompt_events(EventKind.NODE_CHECKPOINT, prompt)
    if not found:
        return ""
    packs = list(dict.fromkeys(m.group(1) for ev in found
                               if (m := CUSTOM_NODE_RE.search(str(ev.fields.get("path") or ""))) is not None))
    who = f"`{packs[0]}`" if len(packs) == 1 else "its preprocessor nodes"
    where = facts.lines_ref(found[0].source, found[0].line, found[-1].line)
    return (f"; and {who} read {plural(len(found), 'annotator checkpoint')} for its preprocessors (`model_path is`, "
            f"{where}), which load and run {'it' if len(found) == 1 else 'them'} in that prompt")


def _said(facts: Facts, estimate: EstimatedLoad) -> Finding:
    first = estimate.prompt
    loads = facts.loads_of(first)
    annotators = _annotators(facts, first)
    models = list(dict.fromkeys(
        f"{ld.model or 'a model'}" + (f" ({ld.loaded_mb:.0f} MB)" if ld.loaded_mb and ld.loaded_mb < 1e9 else "")
        for ld in loads))
    named = ", ".join(models[:4]) + (f" and {len(models) - 4} more" if len(models) > 4 else "")
    where = facts.lines_ref(loads[0].source, loads[0].line, loads[-1].line)
    number = first.index + 1
    outside = estimate.seconds + estimate.usual
    why = (f"No stamps here time the loads, but the lines show prompt {number} loading {named}"
           + (f", {estimate.mb / 1024:.1f} GB in all" if estimate.mb else "") + f" ({where}){annotators}. Beside its "
           "sampling "
           f"(its bars: {dur(first.phases.inference or 0.0)}) it took {dur(outside)}, while "
           f"{plural(estimate.compared, 'prompt')} of its run that sampled about as long and loaded nothing took "
           f"{dur(estimate.usual)} beside {'theirs (the median; ' if estimate.compared > 1 else 'its ('}"
           "`Prompt executed in` less the bars). The "
           f"{dur(estimate.seconds)} more are mostly that first load (reading the weights from disk and moving them "
           "to the GPU)" + (", and running the preprocessors, which later prompts skip while their input image stays "
                            "the same (ComfyUI reruns a node only when its inputs change)" if annotators else "")
           + ", with whatever else only a first prompt does"
           + (" (on ROCm, compiling kernels on first use)" if _rocm(facts, first) else "") + ".")
    evidence = [facts.cite(ld.source, ld.line, f"{ld.model or 'model'} loaded") for ld in loads[:MAX_LOADS_CITED]]
    return finding(
        "first-load",
        f"Prompt {number} spent {dur(estimate.seconds)} more outside sampling than the prompts after it: it loaded "
        "the models they reuse",
        "medium", why, [ADVICE_ONCE()], evidence,
        {"prompt": first.index, "outside_sampling_s": round(outside, 3), "compared_median_s": round(estimate.usual, 3),
         "compared": estimate.compared, "loaded_mb": round(estimate.mb, 1)},
        estimate.seconds, [first.index], total=len(loads))
