"""Dynamic VRAM (comfy-aimdo) that did not work: refused at start-up, or weights found on the CPU.

ComfyUI 0.15+ loads models through comfy-aimdo on NVIDIA: the weights stay in RAM and are streamed
to the GPU as ComfyUI's own layers run. At start-up it falls back to the legacy loader when PyTorch
is older than 2.8 or comfy-aimdo does not work, with a warning (main.py). And code that calls a
model's layers itself, outside ComfyUI's ops (a forward hook, a custom node's own forward), finds
their weights still on the CPU: `Expected all tensors to be on the same device`.
"""

from __future__ import annotations

from ...events import EventKind
from ...model import ErrorRecord, Evidence, Finding, Prompt, Run
from ..builds import setting_lines
from ..engine import Advice, finding, rule
from ..evidence import clip, event_line
from ..facts import Facts

ADVICE_NEWER_TORCH = Advice("Install PyTorch 2.8 or later (ComfyUI recommends 2.12+) into the Python ComfyUI runs "
                            "with, built for your driver's CUDA: dynamic VRAM then loads the models")
ADVICE_INSTALL_AIMDO = Advice("Install comfy-aimdo into the Python ComfyUI runs with (`python -m pip install "
                              "comfy-aimdo`; ComfyUI's requirements list it)")
ADVICE_LEGACY_OK = Advice("Or keep the legacy loader: it works, but ComfyUI warns its VRAM estimates may be "
                          "unreliable, so watch for partial loads and out-of-memory errors")
ADVICE_DISABLE = Advice("Start ComfyUI with `--disable-dynamic-vram` to check: the legacy loader moves the weights "
                        "to the GPU before sampling, where code that calls the layers itself finds them")
ADVICE_HOOK = Advice("{code} calls the model's layers outside ComfyUI's own ops: update the node that installs it, "
                     "or report this traceback to its author (dynamic VRAM leaves weights in RAM until ComfyUI's "
                     "layers ask for them)", {"code": "A hook or custom node"})

#: What the fallback warnings say, by the reason the message table gives (parse/messages.toml).
FALLBACKS = {"PyTorch older than 2.8": "PyTorch {torch} is older than 2.8",
             "no working comfy-aimdo install": "comfy-aimdo is not installed or does not work"}
DEVICE_MISMATCH = "Expected all tensors to be on the same device"


@rule(
    "dynamic-vram-failed", "warning", None,
    trigger="Dynamic VRAM (comfy-aimdo) that did not work: ComfyUI's start-up fallback `Unsupported Pytorch "
    "detected. DynamicVRAM support requires Pytorch version 2.8 or later. Falling back to legacy ModelPatcher` or "
    "`No working comfy-aimdo install detected`, or a prompt that loaded through dynamic VRAM (`prepared for "
    "dynamic VRAM loading`) and failed with `Expected all tensors to be on the same device` (a CPU weight).",
    advice=(ADVICE_DISABLE, ADVICE_HOOK, ADVICE_NEWER_TORCH, ADVICE_INSTALL_AIMDO, ADVICE_LEGACY_OK),
)
def _dynamic_vram_failed(facts: Facts) -> list[Finding]:
    found = [f for f in (_weights_on_cpu(facts, prompt) for prompt in facts.prompts_in("error")) if f is not None][:1]
    for run in facts.runs_in("dynamic_vram_off"):  # the others are no fallback
        fallback = _fallback(facts, run)
        if fallback is not None:
            found.append(fallback)
            break  # one finding: a log's runs share their install
    return found


def _fallback(facts: Facts, run: Run) -> Finding | None:
    reason = run.setup.get("dynamic_vram_off")
    if run.setup.get("dynamic_vram") is not False or reason not in FALLBACKS:
        return None
    lines = setting_lines(facts, run, "dynamic_vram_off")
    if not lines:
        return None
    evidence = [facts.cite_event(ev) for ev in (lines[0], *setting_lines(facts, run, "aimdo_version")[:1])]
    what = FALLBACKS[str(reason)].format(torch=run.pytorch_version or "here")
    aimdo = run.setup.get("aimdo_version")
    installed = f" (comfy-aimdo {aimdo} is installed, unused)" if aimdo and "PyTorch" in str(reason) else ""
    comfy = f"ComfyUI {run.comfyui_text()}" if run.comfyui_version else "ComfyUI"
    where = facts.lines_ref(lines[0].source, lines[0].line)
    why = (f"{comfy} loads models through dynamic VRAM on NVIDIA GPUs, but this start-up refused it: {what}"
           f"{installed}, and ComfyUI fell back to the legacy loader ({where}: "
           f"`{clip(event_line(lines[0])[1], 120)}`). Models load whole or in part by ComfyUI's VRAM estimate "
           "instead of being streamed.")
    advice = [ADVICE_NEWER_TORCH() if "PyTorch" in str(reason) else ADVICE_INSTALL_AIMDO(), ADVICE_LEGACY_OK()]
    return finding("dynamic-vram-failed", f"Dynamic VRAM is off: {what}", "high", why, advice, evidence,
                   {"reason": reason, "aimdo_version": aimdo, "pytorch_version": run.pytorch_version},
                   severity="info")


def _weights_on_cpu(facts: Facts, prompt: Prompt) -> Finding | None:
    failure = next((e for e in facts.walk_errors_of(prompt) if DEVICE_MISMATCH in e.message and "cpu" in e.message),
                   None)
    if failure is None:
        return None
    loads = facts.between(EventKind.DYNAMIC_LOAD, prompt.source, prompt.line, failure.line)
    if not loads:
        return None
    hook = _hook_frame(facts, failure)
    evidence: list[Evidence] = [facts.cite_event(ev) for ev in loads[:2]]
    evidence.insert(0, facts.cite(failure.source, failure.line, failure.message))
    code = f"`{hook}`" if hook else "Code in the traceback"
    why = (f"Prompt {prompt.index + 1} loaded its models through dynamic VRAM ({len(loads)} `prepared for dynamic "
           f"VRAM loading` lines), then failed with `{clip(failure.message, 160)}`. Under dynamic VRAM the weights "
           "stay in RAM until ComfyUI's own layers stream them to the GPU; code that calls a layer itself "
           + (f"(here {code}, a forward hook) " if hook else "")
           + "finds its weight still on the CPU. Likely, not certain: a node that never moved its own weights to "
           "the GPU fails the same way.")
    return finding(
        "dynamic-vram-failed", "A layer's weights were on the CPU under dynamic VRAM: "
        f"`{clip(failure.message, 70)}`", "medium", why, [ADVICE_DISABLE(), ADVICE_HOOK(code=code)], evidence,
        {"dynamic_loads": len(loads), "hook": hook}, 0.0, [prompt.index])


def _hook_frame(facts: Facts, failure: ErrorRecord) -> str | None:
    """The hook in the failure's traceback: its file (``<frozen kqube_hook>``), else its frame."""
    end = failure.end_line or failure.line
    for ev in reversed(facts.between(EventKind.TRACEBACK, failure.source, failure.line, end)):
        for frame in reversed([str(f) for f in ev.fields.get("frames", [])]):
            where, _, function = frame.rpartition(":")
            if "hook" in where.lower():
                return where
            if "hook" in function.lower() and where != "module.py":  # torch's own hook-calling frames
                return frame
    return None

