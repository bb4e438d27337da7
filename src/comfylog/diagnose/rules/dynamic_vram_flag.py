"""Start-up flags that fight dynamic VRAM: one that switched it off, or `--lowvram`, which it ignores."""

from __future__ import annotations

from ...events import EventKind, Phase
from ...model import Evidence, Finding, Run
from ...text import gb, with_article
from ..builds import dynamic_vram_by_default, setting_lines
from ..engine import Advice, finding, rule
from ..facts import LARGE_GPU_MB, Facts, gpu_phrase, gpu_vram_mb

#: vram states that only a flag sets, and the flags that set them (comfy/model_management.py).
STATE_FLAGS = {"HIGH_VRAM": "`--highvram` or `--gpu-only`", "NO_VRAM": "`--novram`"}
ADVICE_DROP = Advice("Remove {flags} from the start command (or the template's extra arguments): dynamic VRAM then "
                     "loads the models, streaming what does not fit", {"flags": "the flag"})
ADVICE_DROP_LOWVRAM = Advice("Remove `--lowvram`: under dynamic VRAM it does nothing (ComfyUI's help: \"Doesn't do "
                             "anything if dynamic vram is enabled\")")
ADVICE_HEADROOM = Advice("To leave VRAM for other programs, use `--reserve-vram GB` (or `--vram-headroom GB` with "
                         "comfy-aimdo 0.4.10 and later) instead")


@rule(
    "dynamic-vram-flag", "warning", Phase.LOAD,
    trigger="On a build that loads through dynamic VRAM by default (ComfyUI 0.15+, PyTorch 2.8+, NVIDIA), a "
    "start-up with `Set vram state to: HIGH_VRAM` (information) or `NO_VRAM` and no dynamic VRAM line "
    "(`--highvram`, `--gpu-only` and `--novram` switch it off), or `LOW_VRAM` beside `DynamicVRAM support "
    "detected and enabled` (`--lowvram` does nothing there).",
    advice=(ADVICE_DROP, ADVICE_DROP_LOWVRAM, ADVICE_HEADROOM),
)
def _dynamic_vram_flag(facts: Facts) -> list[Finding]:
    findings = []
    for run in facts.runs_in("vram_flags"):  # the others are neither
        found = _switched_off(facts, run) or _lowvram_ignored(facts, run)
        if found is not None:
            findings.append(found)
            break  # one finding: a log's runs share their start command
    return findings


def _state_lines(facts: Facts, run: Run, state: str) -> list[Evidence]:
    return [facts.cite_event(ev) for ev in facts.run_events(EventKind.VRAM_STATE, run)
            if ev.fields.get("state") == state and not ev.fields.get("automatic")]


def _switched_off(facts: Facts, run: Run) -> Finding | None:
    state = next((s for s in run.vram_states if s in STATE_FLAGS), None)
    if state is None or "dynamic_vram" in run.setup or not dynamic_vram_by_default(run):
        return None
    vram = gpu_vram_mb(run)
    if state == "NO_VRAM" and vram is not None and vram >= LARGE_GPU_MB:
        return None  # lowvram-forced tells a forced NO_VRAM on a large GPU
    evidence = _state_lines(facts, run, state)
    legacy = [ld for p in facts.prompts_of_run(run.index) for ld in facts.loads_of(p) if ld.kind != "dynamic"]
    evidence += [facts.cite(ld.source, ld.line, f"loaded {ld.kind}") for ld in legacy[:2]]
    evidence += [facts.cite_event(ev) for ev in setting_lines(facts, run, "aimdo_version")[:1]]
    if not evidence:
        return None
    flags = STATE_FLAGS[state]
    loads = (f"; its models loaded the legacy way ({len(legacy)} `loaded ...` lines)" if legacy else "")
    aimdo = f", comfy-aimdo {run.setup['aimdo_version']}" if run.setup.get("aimdo_version") else ""
    why = (f"ComfyUI {run.comfyui_text()} with PyTorch {run.pytorch_version}{aimdo} on {gpu_phrase(run)} loads "
           f"through dynamic VRAM by default, but this start-up set `{state}` and printed no dynamic VRAM line "
           f"(neither `DynamicVRAM support detected and enabled` nor a reason it was not){loads}. {flags} set "
           f"{state}, and ComfyUI switches dynamic VRAM off for them without a word (`enables_dynamic_vram()` in "
           "comfy/cli_args.py).")
    advice = [ADVICE_DROP(flags=flags.replace("` or `", "` / `"))]
    if state == "NO_VRAM":
        advice.append(ADVICE_HEADROOM())
    return finding(
        "dynamic-vram-flag", f"{state}: {flags} switched dynamic VRAM off", "high", why, advice, evidence,
        {"vram_state": state, "comfyui_version": run.comfyui_version, "legacy_loads": len(legacy)},
        severity="info" if state == "HIGH_VRAM" else "warning")


def _lowvram_ignored(facts: Facts, run: Run) -> Finding | None:
    if "LOW_VRAM" not in run.vram_states or run.setup.get("dynamic_vram") is not True:
        return None
    evidence = _state_lines(facts, run, "LOW_VRAM")
    if not evidence:
        return None  # chosen by ComfyUI itself on a small GPU, not asked for
    evidence += [facts.cite_event(ev) for ev in setting_lines(facts, run, "dynamic_vram")[:1]]
    vram = gpu_vram_mb(run)  # not DirectML's placeholder
    on = f" on {with_article(gb(vram))} GPU" if vram else ""
    why = (f"This start-up set `LOW_VRAM`{on}, which only `--lowvram` does, and "
           "then enabled dynamic VRAM (`DynamicVRAM support detected and enabled`). Under dynamic VRAM `--lowvram` "
           "does nothing (its help text: \"Doesn't do anything if dynamic vram is enabled\"): dynamic VRAM already "
           "streams what does not fit, so the flag neither saves VRAM nor costs speed; it is no cure for an "
           "out-of-memory error or a slow load.")
    return finding(
        "dynamic-vram-flag", "`--lowvram` does nothing under dynamic VRAM", "high", why,
        [ADVICE_DROP_LOWVRAM(), ADVICE_HEADROOM()], evidence, {"vram_state": "LOW_VRAM"}, severity="info")
