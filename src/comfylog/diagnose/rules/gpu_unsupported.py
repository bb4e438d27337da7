"""A GPU the installed PyTorch was not built for (PyTorch's warning when CUDA initialises).

PyTorch (torch/cuda/__init__.py, ``_check_cubins``) warns when none of the architectures it was compiled
for shares the GPU's major version: ``NVIDIA GeForce RTX 5090 with CUDA capability sm_120 is not
compatible with the current PyTorch installation.``, then ``The current PyTorch install supports CUDA
capabilities sm_50 ... sm_90.``. The first CUDA call then fails with ``no kernel image is available``; on
RunPod, runpod-python's ``_cuda_init_check`` fails and the worker exits. Blackwell GPUs (sm_100, sm_120:
RTX 50xx, RTX PRO 6000, B200) need a CUDA 12.8 or later build. A ``compute_NN`` entry in the list is
PTX the driver can compile for a newer GPU: it may still run, slowly at first.

Beside it, PyTorch 2.8 and later print which of its CUDA builds carry kernels for the GPU (``... supports one
of these CUDA versions: 12.8, 13.0``; from 2.13 ``For CUDA 12.9 use pip install torch==2.13.0 --index-url
...``), or that no published build of the release does. The advice quotes that answer: which builds exist
changes from release to release (2.13 has no CUDA 12.8 build).
"""

from __future__ import annotations

from ...events import Event, EventKind
from ...lazyre import lazy_re
from ...model import Finding
from ...text import clip
from ..engine import MAX_EVIDENCE, Advice, finding, rule
from ..facts import Facts
from ..pytorch import NO_KERNEL_IMAGE

#: Error records that show the GPU could not be used (runpod-python's fitness check, worker-comfyui, a CUDA call).
FAILURE_KINDS = ("unhealthy", "gpu_unavailable")
#: The first architecture PyTorch builds for CUDA 12.8 that runs Blackwell (sm_100 and up).
BLACKWELL = 100
ARCH_RE = lazy_re(r"(sm|compute)_(\d+)")
CUDA_RE = lazy_re(r"(?<!\d)\d+\.\d+")  # not from inside a number: linear on a run of digits
#: How far from the warning PyTorch's list of builds may be: its list of the build's CCs comes between.
NEAR_LINES = 20
#: PyTorch's install commands quoted in the advice, at most.
MAX_COMMANDS = 3
MAX_COMMAND_CHARS = 160

ADVICE_NEWER_BUILD = Advice(
    "Install a PyTorch built for this GPU ({arch}): {build}; on a rented GPU, use a worker image with such a "
    "PyTorch", {"arch": "its architecture", "build": "a build whose CUDA version supports it"})
ADVICE_PICK_GPU = Advice(
    "Or run the image only on GPUs it was built for: on RunPod, limit the endpoint's GPU types (or its allowed "
    "CUDA versions), so that workers are not placed on this GPU")
ADVICE_OLDER_BUILD = Advice(
    "This PyTorch no longer builds for this GPU ({arch}; its oldest is {oldest}): install an older PyTorch "
    "that still supports it, or use a newer GPU", {"arch": "its architecture", "oldest": "the oldest it lists"})


@rule(
    "gpu-unsupported", "error", None,
    trigger="PyTorch's `... with CUDA capability sm_N is not compatible with the current PyTorch installation`: "
    "the installed PyTorch has no kernels for the GPU (a warning when it has PTX a newer GPU can compile).",
    advice=(ADVICE_NEWER_BUILD, ADVICE_PICK_GPU, ADVICE_OLDER_BUILD),
)
def _gpu_unsupported(facts: Facts) -> list[Finding]:
    warned = [ev for ev in facts.events[EventKind.GPU_UNSUPPORTED] if "capability" in ev.fields]
    if not warned:
        return []
    ev = warned[0]
    gpu, capability = str(ev.fields["gpu"]), int(ev.fields["capability"])
    listed = next((e for e in facts.events[EventKind.GPU_UNSUPPORTED]
                   if "archs" in e.fields and e.source == ev.source and abs(e.line - ev.line) <= 3), None)
    answer = [e for e in facts.events[EventKind.GPU_UNSUPPORTED]
              if ("cuda_builds" in e.fields or "torch" in e.fields)
              and e.source == ev.source and abs(e.line - ev.line) <= NEAR_LINES]
    archs = [(kind, int(n)) for kind, n in ARCH_RE.findall(str(listed.fields["archs"]))] if listed else []
    built = sorted(n for kind, n in archs if kind == "sm")
    ptx = sorted(n for kind, n in archs if kind == "compute")
    failures = [e for e in facts.report.errors
                if e.kind in FAILURE_KINDS or NO_KERNEL_IMAGE in e.message][:MAX_EVIDENCE]
    too_old = bool(built) and capability < built[0]
    why = f"PyTorch warned that the {gpu} (CUDA capability sm_{capability}) is not compatible with it"
    if built:
        why += f": it was built for {_span(built)}"
    why += "."
    if too_old:
        advice = [ADVICE_OLDER_BUILD(arch=f"sm_{capability}", oldest=f"sm_{built[0]}")]
    else:
        build = _named_builds(answer) or (
            "a CUDA 12.8 or later build (`pip install torch --index-url "
            "https://download.pytorch.org/whl/cu128`, or cu130)" if capability >= BLACKWELL else
            "a newer release whose CUDA build lists it (pytorch.org/get-started/locally)")
        advice = [ADVICE_NEWER_BUILD(arch=f"sm_{capability}", build=build), ADVICE_PICK_GPU()]
    if failures:
        why += (" The GPU could not be used: " + "; ".join(f"`{e.message}`" for e in failures[:2]) + ".")
    elif ptx and not too_old:
        why += (f" It also carries PTX for {_span(ptx, 'compute')}, which the driver can compile for this GPU when "
                "it starts: it may run, slowly at first; a `no kernel image is available` error means it did not.")
    evidence = [facts.cite_event(ev)] + ([facts.cite_event(listed)] if listed else [])
    evidence += [facts.cite_event(e) for e in answer[:MAX_COMMANDS]]
    evidence += [facts.cite(e.source, e.line, e.message) for e in failures]
    confidence = "medium" if ptx and not failures and not too_old else "high"
    title = f"PyTorch cannot use the {gpu} (sm_{capability})" + (": it has no kernels for it" if built else "")
    return [finding(
        "gpu-unsupported", title, confidence, why, advice, evidence,
        {"gpu": gpu, "capability": capability, "built_for": [f"sm_{n}" for n in built],
         "ptx": [f"compute_{n}" for n in ptx], "failures": len(failures)},
        severity="error" if failures or not ptx else "warning")]


def _span(numbers: list[int], kind: str = "sm") -> str:
    """``sm_50 to sm_90`` (or the one)."""
    return f"{kind}_{numbers[0]}" if len(numbers) == 1 else f"{kind}_{numbers[0]} to {kind}_{numbers[-1]}"


def _named_builds(answer: list[Event]) -> str | None:
    """PyTorch's own list of the builds that run the GPU, as advice; None when it printed none."""
    commands = [str(e.fields["command"]) for e in answer if "command" in e.fields]
    if commands:
        shown = "; ".join(f"`{clip(c, MAX_COMMAND_CHARS)}`" for c in commands[:MAX_COMMANDS])
        return f"one of the builds PyTorch itself names for it, {shown}"
    versions = [v for e in answer if "cuda_builds" in e.fields for v in CUDA_RE.findall(str(e.fields["cuda_builds"]))]
    if versions:
        tag = versions[0].replace(".", "")
        return (f"a build for CUDA {_or(versions)}, the ones PyTorch names for it (e.g. `pip install torch "
                f"--index-url https://download.pytorch.org/whl/cu{tag}`)")
    release = next((str(e.fields["torch"]) for e in answer if "torch" in e.fields), None)
    if release:
        return (f"PyTorch says no published CUDA build of {clip(release, MAX_COMMAND_CHARS)} supports it: another "
                "release whose CUDA build lists it (pytorch.org/get-started/locally)")
    return None


def _or(items: list[str]) -> str:
    """``12.8 or 13.0`` / ``12.6, 12.8 or 13.0``."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]
