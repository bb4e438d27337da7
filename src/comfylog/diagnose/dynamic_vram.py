"""What the dynamic VRAM rules share: staging more than the GPU holds before a failed allocation, and
GGUF weights left on the legacy loader beside models that load dynamically.

Under dynamic VRAM (comfy-aimdo) ``Model X prepared for dynamic VRAM loading. NMB Staged.`` sets a
model up to stream its weights on demand, so staging more than the VRAM is how it works. When a
prompt's staged models together exceed the VRAM *and* the prompt fails allocating (an ``aimdo:
...:ERROR:`` line, ``CUDA error: out of memory``), the streaming left too little room for everything
else. ``staging-overcommit`` tells that story; the plain ``oom`` rule leaves those errors to it.
"""

from __future__ import annotations

from ..dataclass import dataclass
from ..model import ErrorRecord, Load, Prompt, Run
from .facts import Facts, gpu_vram_mb


@dataclass(frozen=True, slots=True)
class Overcommit:
    """A prompt that staged more than its GPU's VRAM and then failed allocating: what staging-overcommit tells."""

    prompt: Prompt
    run: Run
    vram_mb: int
    staged: list[Load]  # the latest prepare line of each model before the failure
    failures: list[ErrorRecord]

    @property
    def staged_mb(self) -> float:
        return sum(ld.staged_mb or 0.0 for ld in self.staged)


def overcommits(facts: Facts) -> dict[int, Overcommit]:
    """Prompts (by index) that staged more than the GPU's VRAM and then failed to allocate.

    Found once per report (two rules ask, and on a long log the loads table is on disk)."""
    return facts.once("overcommits", lambda: _overcommits(facts))


def _overcommits(facts: Facts) -> dict[int, Overcommit]:
    found: dict[int, Overcommit] = {}
    asked = list(dict.fromkeys(ld.prompt for ld in facts.loads_in("dynamic") if ld.prompt is not None))
    by_index = {p.index: p for p in facts.prompts_by_index(asked)}  # read in table order, each block once
    for index in asked:
        prompt = by_index.get(index)
        run = facts.run_of(prompt) if prompt is not None else None
        vram = gpu_vram_mb(run)
        if prompt is None or run is None or vram is None:
            continue
        failures = [e for e in facts.walk_errors_of(prompt) if e.kind in ("oom", "aimdo")]
        if not failures:
            continue
        first_failure = min(e.line for e in failures)
        latest: dict[str | None, Load] = {}
        for ld in facts.loads_of(prompt):
            if ld.kind == "dynamic" and ld.line < first_failure:
                latest[ld.model] = ld
        staged = list(latest.values())
        if staged and sum(ld.staged_mb or 0.0 for ld in staged) > vram:
            found[prompt.index] = Overcommit(prompt, run, vram, staged, failures)
    return found


@dataclass(frozen=True, slots=True)
class LegacyBeside:
    """A prompt where GGUF weights loaded the legacy way while its other models loaded dynamically."""

    prompt: Prompt
    legacy: list[Load]
    dynamic: list[Load]


def gguf_legacy(facts: Facts) -> list[LegacyBeside]:
    """Prompts with quantized GGUF weights (``gguf qtypes``) whose legacy loads (``loaded partially``,
    ``loaded completely``) sit beside dynamic loads: ComfyUI-GGUF's models bypass dynamic VRAM.

    Found once per report (two rules ask)."""
    return facts.once("gguf_legacy", lambda: _gguf_legacy(facts))


def _gguf_legacy(facts: Facts) -> list[LegacyBeside]:
    found = []
    for prompt in facts.prompts_in("quantized"):
        loads = facts.loads_of(prompt)
        dynamic = [ld for ld in loads if ld.kind == "dynamic"]
        legacy = [ld for ld in loads if ld.kind in ("partial", "complete", "lowvram")]
        if dynamic and legacy:
            found.append(LegacyBeside(prompt, legacy, dynamic))
    return found


def gguf_legacy_lines(facts: Facts) -> set[tuple[int, int]]:
    """(source, line) of the legacy loads ``gguf`` explains (lowvram leaves them alone)."""
    return {(ld.source, ld.line) for case in gguf_legacy(facts) for ld in case.legacy}
