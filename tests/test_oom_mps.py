"""An MPS out-of-memory error: Apple silicon's unified memory, or an Intel Mac's discrete GPU.

PyTorch's message names the allocator's limit (``max allowed: 6.77 GB``), 1.7 times the device's working
set (MPSAllocator's default high watermark); corpus log 007 (an x86_64 Python 3.8 build with PyTorch 2.2.2 on
a 16 GB Mac) is allowed 6.77 GB: a ~4 GB discrete GPU, where closing apps or more unified memory does not help.
"""

from __future__ import annotations

from pathlib import Path

from comfylog.api import analyze
from comfylog.model import Finding

from .conftest import corpus_log


def _oom(path: Path) -> Finding:
    return next(f for f in analyze(path).findings if f.id == "oom")


def test_an_intel_macs_discrete_gpu_is_not_called_unified_memory() -> None:
    finding = _oom(corpus_log("007"))
    advice = " ".join(finding.advice)
    assert "discrete GPU" in finding.why and "about 4.0 GB" in finding.why
    assert "unified memory, 16 GB" not in finding.why
    assert "close other apps" not in advice and "more unified memory" not in advice
    assert "own ~4.0 GB of memory" in advice


def test_a_limit_that_fits_unified_memory_keeps_the_apple_silicon_advice(tmp_path: Path) -> None:
    # 16 GB of Apple silicon: a working set of ~10.7 GB, 18.13 GB allowed
    text = corpus_log("007").read_bytes().replace(b"max allowed: 6.77 GB", b"max allowed: 18.13 GB")
    log = tmp_path / "apple-silicon.log"
    log.write_bytes(text)
    finding = _oom(log)
    assert "unified memory, 16 GB" in finding.why and "discrete" not in finding.why
    assert any("close other apps" in a for a in finding.advice)
