"""Sampling on the CPU."""

from __future__ import annotations

from ...events import EventKind, Phase
from ...model import ErrorRecord, Finding
from ...text import dur
from ..engine import Advice, finding, rule
from ..facts import Facts, on_cpu, platform_of
from ..pytorch import reached_a_gpu

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
        # ComfyUI's model_management sets the CPU only for `--cpu`; on a GPU build without it, it takes the GPU (and
        # stops at start when there is none): `Device: cpu` beside a GPU build is the flag, not a fallback.
        started = "`--cpu`" + (" (the portable build's `run_cpu.bat`)" if platform == "windows" else "")
        why += (f"; PyTorch {version} is a GPU build, which ComfyUI runs on the CPU only when told to: it was started "
                f"with {started}")
    seen = _gpu_seen(facts) if gpu_build else None
    if seen is not None:
        why += (f". PyTorch does see a CUDA GPU here: the CUDA error on {facts.lines_ref(seen.source, seen.line)} "
                "came from code that ran on it")
    why += "." + (f" Sampling took {dur(inference)} in all." if inference else "")
    return [finding(
        "cpu-only", "Sampling on the CPU: no GPU in use", "high", why,
        _advice(platform, gpu_seen=seen is not None),
        evidence, {"pytorch_version": version, "inference_s": round(inference, 3)}, inference,
        (p.index for p in prompts))]


def _gpu_seen(facts: Facts) -> ErrorRecord | None:
    """The first failure in a run on the CPU whose CUDA error says code ran on a CUDA GPU (008: Impact-Pack's
    detector)."""
    for e in facts.errors_in("exception", "crash"):
        if reached_a_gpu(e.message) and (run := facts.run_at(e.source, e.line)) is not None and on_cpu(run):
            return e
    return None


def _advice(platform: str | None, gpu_seen: bool = False) -> list[str]:
    """What to do on this platform: no Windows batch file on a Mac, no MPS on Windows; no other PyTorch or machine
    where the log shows this one's GPU at work."""
    if platform == "mac":
        return [ADVICE_MAC_MPS()]
    advice = [ADVICE_NO_CPU_FLAG()]
    if platform in ("windows", None):
        advice.append(ADVICE_PORTABLE_BAT())
    return advice if gpu_seen else [*advice, ADVICE_GPU_BUILD()]
