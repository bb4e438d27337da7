"""Sampling on the CPU."""

from __future__ import annotations

from ...events import EventKind, Phase
from ...model import Finding
from ...text import dur
from ..engine import finding, rule
from ..facts import Facts


@rule(
    "cpu-only", "warning", Phase.INFERENCE,
    trigger="`Device: cpu` (vram state DISABLED): every step runs on the CPU, many times slower than on a GPU.",
    advice="Start ComfyUI without `--cpu` (portable build: `run_nvidia_gpu.bat`), with a GPU build of PyTorch.",
)
def _cpu_only(facts: Facts) -> list[Finding]:
    runs = [r for r in facts.report.runs if (r.gpu or "").strip().lower() == "cpu"]
    if not runs:
        return []
    evidence = [facts.cite_event(ev) for run in runs for ev in facts.run_events(EventKind.VRAM_STATE, run)]
    if not evidence:
        return []
    indexes = {r.index for r in runs}
    prompts = list(facts.prompts_of_runs(indexes))
    inference = sum(p.phases.seconds(Phase.INFERENCE) for p in prompts)
    version = next((r.pytorch_version for r in runs if r.pytorch_version), None)
    gpu_build = version is not None and ("+cu" in version or "+rocm" in version)
    why = "ComfyUI runs on the CPU (`Device: cpu`), so every sampling step is computed there"
    if gpu_build:
        why += (f"; PyTorch {version} is a GPU build, so ComfyUI was started with `--cpu` (the portable "
                "build's `run_cpu.bat`) or found no usable GPU")
    why += "." + (f" Sampling took {dur(inference)} in all." if inference else "")
    return [finding(
        "cpu-only", "Sampling on the CPU: no GPU in use", "high", why,
        ["If the machine has an NVIDIA GPU, start ComfyUI without `--cpu` (portable build: `run_nvidia_gpu.bat`)",
         "Otherwise install a GPU build of PyTorch for the GPU (CUDA, ROCm, XPU) or use a GPU machine"],
        evidence, {"pytorch_version": version, "inference_s": round(inference, 3)}, inference,
        (p.index for p in prompts))]
