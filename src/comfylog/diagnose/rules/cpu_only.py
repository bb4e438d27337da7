"""Sampling on the CPU."""

from __future__ import annotations

from ...events import EventKind, Phase
from ...model import Finding
from ...text import dur
from ..engine import Advice, finding, rule
from ..facts import Facts, platform_of

ADVICE_NO_CPU_FLAG = Advice("If the machine has an NVIDIA GPU, start ComfyUI without `--cpu`")
ADVICE_PORTABLE_BAT = Advice("Windows portable build: start it with `run_nvidia_gpu.bat`, not `run_cpu.bat`")
ADVICE_GPU_BUILD = Advice("Otherwise install a GPU build of PyTorch for the GPU (CUDA, ROCm, XPU) or use a GPU machine")
ADVICE_MAC_MPS = Advice("On a Mac, start ComfyUI without `--cpu` and with a PyTorch that has MPS (Apple silicon, "
                        "macOS 12.3 or later), so it runs on `Device: mps`")


@rule(
    "cpu-only", "warning", Phase.INFERENCE,
    trigger="`Device: cpu` (vram state DISABLED): every step runs on the CPU, many times slower than on a GPU.",
    advice=(ADVICE_NO_CPU_FLAG, ADVICE_PORTABLE_BAT, ADVICE_GPU_BUILD, ADVICE_MAC_MPS),
)
def _cpu_only(facts: Facts) -> list[Finding]:
    runs = list(facts.runs_in("on_cpu"))
    if not runs:
        return []
    evidence = [facts.cite_event(ev) for run in runs for ev in facts.run_events(EventKind.VRAM_STATE, run)]
    if not evidence:
        return []
    prompts = list(facts.prompts_in("on_cpu"))  # the prompts of these runs, filed in the index's one pass
    inference = sum(p.phases.seconds(Phase.INFERENCE) for p in prompts)
    version = next((r.pytorch_version for r in runs if r.pytorch_version), None)
    gpu_build = version is not None and ("+cu" in version or "+rocm" in version)
    platform = platform_of(facts, runs[0])
    why = "ComfyUI runs on the CPU (`Device: cpu`), so every sampling step is computed there"
    if gpu_build:
        started = "`--cpu`" + (" (the portable build's `run_cpu.bat`)" if platform == "windows" else "")
        why += f"; PyTorch {version} is a GPU build, so ComfyUI was started with {started} or found no usable GPU"
    why += "." + (f" Sampling took {dur(inference)} in all." if inference else "")
    return [finding(
        "cpu-only", "Sampling on the CPU: no GPU in use", "high", why,
        _advice(platform),
        evidence, {"pytorch_version": version, "inference_s": round(inference, 3)}, inference,
        (p.index for p in prompts))]


def _advice(platform: str | None) -> list[str]:
    """What to do on this platform: no Windows batch file on a Mac, no MPS on Windows."""
    if platform == "mac":
        return [ADVICE_MAC_MPS()]
    advice = [ADVICE_NO_CPU_FLAG()]
    if platform in ("windows", None):
        advice.append(ADVICE_PORTABLE_BAT())
    return [*advice, ADVICE_GPU_BUILD()]
