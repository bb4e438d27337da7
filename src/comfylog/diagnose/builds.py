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


#: git describe's form, which ComfyUI-Manager's `### ComfyUI Version:` line gives: a release's tag, then the commits
#: on top of it and the commit (``v0.14.1-15-gb254cecd``: 0.14.1 and 15 commits, corpus 020).
_PAST_RELEASE = re.compile(r"^v?\d+(?:\.\d+)+-(\d+)-g[0-9a-f]+")


def at_least(text: str | None, release: tuple[int, int]) -> bool | None:
    """Is the ComfyUI build ``text`` names ``release`` (major, minor) or later? None where it cannot be told: no
    version, or a build some commits past the release just before it (``v0.14.1-15-g…`` for 0.15): those commits
    may hold the change ``release`` shipped. ComfyUI's own `ComfyUI version: 0.14.1` says the release alone, for such
    a build too; only Manager's line shows the commits."""
    version = version_tuple(text)
    if version is None:
        return None
    if version[:2] >= release:
        return True
    past = _PAST_RELEASE.match(text.strip()) if text else None
    if past is not None and int(past.group(1)) > 0 and version[:2] == (release[0], release[1] - 1):
        return None
    return False


def on_nvidia(run: Run) -> bool:
    """A CUDA build of PyTorch on an NVIDIA GPU (not ROCm, MPS, XPU or the CPU)."""
    torch = run.pytorch_version or ""
    device = (run.device or run.gpu or "").lower()
    return "+cu" in torch and device.startswith("cuda") and "nvidia" in device


def dynamic_vram_by_default(run: Run) -> bool:
    """The build loads through dynamic VRAM unless a flag or a missing piece stops it: ComfyUI 0.15 or
    later, PyTorch 2.8 or later, an NVIDIA GPU."""
    torch = version_tuple(run.pytorch_version)
    return (at_least(run.comfyui_version, DYNAMIC_VRAM_DEFAULT) is True and torch is not None
            and torch[:2] >= DYNAMIC_VRAM_TORCH and on_nvidia(run))


def ram_cache_default(run: Run | None) -> bool | None:
    """Is the RAM-pressure cache the build's default (so ``--cache-classic`` exists)? None: unknown (no version, or
    a build some commits past 0.22: at_least)."""
    if run is None:
        return None
    return at_least(run.comfyui_version, (LAST_CLASSIC_CACHE[0], LAST_CLASSIC_CACHE[1] + 1))


def setting_lines(facts: Facts, run: Run, key: str) -> list[Event]:
    """The run's start-up lines that stated ``key`` of its set-up (``pinned_memory_mb``...)."""
    return [ev for ev in facts.run_events(EventKind.RUN_SETTING, run) if key in ev.fields]
