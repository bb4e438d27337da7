"""What a run's ComfyUI build can do, from the versions its log prints: flags advice may name only
where the build has them, and behaviour that changed between releases.

Dates and releases are from ComfyUI's own history: dynamic VRAM (comfy-aimdo) became the default on
NVIDIA GPUs with 0.15 (PR #12658, February 2026); the RAM-pressure cache (``--cache-ram``) became
the default cache after 0.22 (ComfyUI#14618: 0.22 does not reload), which is when
``--cache-classic`` ("the old style (aggressive) caching") appeared.
"""

from __future__ import annotations

import re

from ..events import Event, EventKind
from ..model import Run
from .facts import Facts

#: The first release that loads through dynamic VRAM by default on NVIDIA.
DYNAMIC_VRAM_DEFAULT = (0, 15)
#: The last release whose default cache is the classic one (no ``--cache-classic`` flag yet).
LAST_CLASSIC_CACHE = (0, 22)
#: PyTorch that dynamic VRAM needs (main.py: "DynamicVRAM support requires Pytorch version 2.8 or later").
DYNAMIC_VRAM_TORCH = (2, 8)


def version_tuple(text: str | None) -> tuple[int, ...] | None:
    """``0.20.1`` -> (0, 20, 1); ``2.9.1+cu128`` -> (2, 9, 1); None when the text has no version."""
    if not text:
        return None
    found = re.match(r"v?(\d+)\.(\d+)(?:\.(\d+))?", text.strip())
    if found is None:
        return None
    return tuple(int(part) for part in found.groups() if part is not None)


def on_nvidia(run: Run) -> bool:
    """A CUDA build of PyTorch on an NVIDIA GPU (not ROCm, MPS, XPU or the CPU)."""
    torch = run.pytorch_version or ""
    device = (run.device or run.gpu or "").lower()
    return "+cu" in torch and device.startswith("cuda") and "nvidia" in device


def dynamic_vram_by_default(run: Run) -> bool:
    """The build loads through dynamic VRAM unless a flag or a missing piece stops it: ComfyUI 0.15 or
    later, PyTorch 2.8 or later, an NVIDIA GPU."""
    comfy, torch = version_tuple(run.comfyui_version), version_tuple(run.pytorch_version)
    return (comfy is not None and comfy[:2] >= DYNAMIC_VRAM_DEFAULT and torch is not None
            and torch[:2] >= DYNAMIC_VRAM_TORCH and on_nvidia(run))


def ram_cache_default(run: Run | None) -> bool | None:
    """Is the RAM-pressure cache the build's default (so ``--cache-classic`` exists)? None: unknown."""
    comfy = version_tuple(run.comfyui_version) if run is not None else None
    if comfy is None:
        return None
    return comfy[:2] > LAST_CLASSIC_CACHE


def setting_lines(facts: Facts, run: Run, key: str) -> list[Event]:
    """The run's start-up lines that stated ``key`` of its set-up (``pinned_memory_mb``...)."""
    return [ev for ev in facts.run_events(EventKind.RUN_SETTING, run) if key in ev.fields]
