"""Dynamic VRAM staged more than the GPU holds, and the prompt ran out of memory."""

from __future__ import annotations

from ...events import EventKind
from ...model import Evidence, Finding
from ...text import gb, plural, with_article
from ..builds import version_tuple
from ..dynamic_vram import overcommits
from ..engine import MAX_EVIDENCE, Advice, finding, rule
from ..evidence import clip
from ..facts import Facts, gpu_phrase, prompt_seconds

#: comfy-aimdo release that came with ``--vram-headroom`` (ComfyUI PR #14480, June 2026).
HEADROOM_AIMDO = (0, 4, 10)
ADVICE_HEADROOM = Advice("Start ComfyUI with `--vram-headroom 1` (GB; raise it if the error stays): dynamic VRAM "
                         "then keeps that much VRAM free at all times, counting other programs' use")
ADVICE_HEADROOM_IF = Advice("With comfy-aimdo 0.4.10 or later (ComfyUI from June 2026; `python main.py --help` lists "
                            "it), start ComfyUI with `--vram-headroom 1` (GB): dynamic VRAM then keeps that much "
                            "VRAM free at all times, counting other programs' use")
ADVICE_SMALLER = Advice("Smaller weights for the largest staged model (an fp8 or int8 text encoder or diffusion "
                        "model) leave more room")
ADVICE_OTHERS = Advice("Close other programs that hold VRAM on this GPU (nvidia-smi lists them)")


@rule(
    "staging-overcommit", "error", None,
    trigger="Under dynamic VRAM, a prompt whose models' `prepared for dynamic VRAM loading. NMB Staged.` add up to "
    "more than the GPU's VRAM, then an `aimdo: ...:ERROR:` line or a CUDA out-of-memory error: the streamed "
    "weights left too little room for the rest.",
    advice=(ADVICE_HEADROOM, ADVICE_HEADROOM_IF, ADVICE_SMALLER, ADVICE_OTHERS),
)
def _staging_overcommit(facts: Facts) -> list[Finding]:
    found = overcommits(facts)
    if not found:
        return []
    cases = list(found.values())
    case = cases[0]
    staged = ", ".join(f"{ld.model} {ld.staged_mb:.0f} MB" for ld in case.staged)
    failure = next((e for e in case.failures if e.kind == "aimdo"), case.failures[0])
    evidence: list[Evidence] = []
    for ld in case.staged:
        evidence += [facts.cite_event(ev) for ev in facts.between(EventKind.DYNAMIC_LOAD, ld.source, ld.line, ld.line)]
    evidence += [facts.cite(e.source, e.line, e.message) for e in case.failures[:2]]
    aimdo = version_tuple(str(case.run.setup.get("aimdo_version") or ""))
    headroom = ADVICE_HEADROOM if aimdo is not None and aimdo >= HEADROOM_AIMDO else ADVICE_HEADROOM_IF
    more = f" {plural(len(cases), 'prompt')} failed this way." if len(cases) > 1 else ""
    why = (f"Prompt {case.prompt.index + 1} staged {staged} for dynamic VRAM: {case.staged_mb:.0f} MB on "
           f"{gpu_phrase(case.run)} ({case.vram_mb} MB). Dynamic VRAM streams what does not fit, so staging more than "
           f"the VRAM is normal, but then an allocation failed: `{clip(failure.message, 160)}` "
           f"({facts.lines_ref(failure.source, failure.line)})"
           + (", and ComfyUI reported the prompt out of memory" if any(e.kind == "oom" for e in case.failures) else "")
           + ". The streamed weights and their buffers left too little VRAM for the rest of the work (activations, "
           f"other programs).{more}")
    return [finding(
        "staging-overcommit",
        f"Dynamic VRAM staged {gb(case.staged_mb)} on {with_article(gb(case.vram_mb))} GPU and ran out of memory",
        "high", why, [headroom(), ADVICE_SMALLER(), ADVICE_OTHERS()], evidence[:MAX_EVIDENCE + 1],
        {"staged_mb": round(case.staged_mb, 1), "total_vram_mb": case.vram_mb, "prompts": len(cases)},
        sum(prompt_seconds(c.prompt) for c in cases), found)]
