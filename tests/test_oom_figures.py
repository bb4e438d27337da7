"""What PyTorch's out-of-memory messages say about the GPU's memory, and what the oom finding makes of it.

The message forms are PyTorch's own (tests/fixtures/upstream-messages.txt quotes them with their source);
corpus 006 and 019 hold the cudaMallocAsync form, one figure a line.
"""

from __future__ import annotations

import pytest

from comfylog.api import analyze, analyze_text
from comfylog.diagnose.oom_figures import mib

from .conftest import FIXTURES, corpus_log


def upstream(prefix: str) -> str:
    """The line of upstream-messages.txt that starts with ``prefix``."""
    text = (FIXTURES / "upstream-messages.txt").read_text(encoding="utf-8")
    return next(line for line in text.splitlines() if line.startswith(prefix))


def comfyui_log(message: str) -> str:
    """A ComfyUI run whose one prompt fails with ``message`` while sampling."""
    return ("Total VRAM 32607 MB, total RAM 65298 MB\nSet vram state to: NORMAL_VRAM\n"
            "Device: cuda:0 NVIDIA GeForce RTX 5090 : cudaMallocAsync\nTo see the GUI go to: http://127.0.0.1:8188\n"
            "got prompt\n"
            f"!!! Exception during processing !!! {message.split(': ', 1)[1]}\n"
            "Traceback (most recent call last):\n"
            '  File "/ComfyUI/comfy/samplers.py", line 1000, in sample\n'
            "    return sample(self.model, noise, positive, negative, cfg, self.device, sampler, sigmas)\n"
            f"{message}\n\nGot an OOM, unloading all loaded models.\nPrompt executed in 3.21 seconds\n")


def test_sizes_as_pytorch_formats_them() -> None:
    assert mib("7.71 GiB") == pytest.approx(7895.04) and mib("0 bytes") == 0.0 and mib("25.06 MiB") == 25.06


def test_another_process_holding_the_gpu_is_named_first() -> None:
    report = analyze_text(comfyui_log(upstream("torch.OutOfMemoryError: CUDA out of memory.")))
    finding = next(f for f in report.findings if f.id == "oom")
    assert "PyTorch asked for 1.16 GiB and 472 MiB of 31.36 GiB were free" in finding.why
    assert "ComfyUI's process held 16.63 GiB and other processes 14.26 GiB (process 19239)" in finding.why
    assert finding.advice[0].startswith("Free the GPU of the other processes (14.26 GiB)")
    # 1.00 GiB reserved and unused, less than the 1.16 GiB asked for: not fragmentation, no setting against it.
    assert "fragmentation" not in finding.why and not any("expandable_segments" in a for a in finding.advice)


def test_reserved_but_unused_beyond_the_request_is_fragmentation() -> None:
    finding = next(f for f in analyze_text(comfyui_log(upstream("torch.cuda.OutOfMemoryError: CUDA out of memory. "
                                                                "Tried to allocate 472.00 MiB"))).findings
                   if f.id == "oom")
    assert "PyTorch had 3.69 GiB reserved and unused, more than it asked for" in finding.why
    assert finding.advice[0] == "Set `PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True` to reduce fragmentation"
    assert "other processes" not in finding.why  # this process held 23.58 of 23.70 GiB


def test_the_form_before_pytorch_2_1() -> None:
    # 7.93 GiB in all, 47 MiB free, PyTorch had reserved 188 MiB: 7.7 GiB were held by something else.
    finding = next(f for f in analyze_text(comfyui_log(upstream("torch.cuda.OutOfMemoryError: CUDA out of memory. "
                                                                "Tried to allocate 36.00 MiB"))).findings
                   if f.id == "oom")
    assert ("PyTorch asked for 36 MiB and 47 MiB of 7.93 GiB were free; PyTorch had reserved 188 MiB in all: about "
            "7.70 GiB were in use outside PyTorch") in finding.why
    assert finding.advice[0].startswith("Find what held the other 7.70 GiB")
    assert "fragmentation" not in finding.why  # 58 MiB reserved and unused: too little to matter


def test_cuda_malloc_async_figures_on_real_logs() -> None:
    # 006 (A4000): PyTorch's tensors held 7.71 GiB of 15.72 and CUDA had 25 MiB free (lines 87-91): 8 GiB elsewhere.
    finding = next(f for f in analyze(corpus_log("006")).findings if f.id == "oom")
    assert "PyTorch's tensors held 7.71 GiB of 15.72 GiB and CUDA reported 25 MiB free" in finding.why
    assert "about 7.99 GiB were in use outside PyTorch's tensors" in finding.why
    assert finding.advice[0].startswith("Find what held the other 7.99 GiB")
    assert [e.line for e in finding.evidence[:4]] == [87, 88, 90, 91]
    assert not any("expandable_segments" in a for a in finding.advice)  # cudaMallocAsync's pool, not the setting's
    assert finding.figures["errors"] == 8  # the figure lines are part of each incident, not incidents of their own
    # 019 (GTX 1660 Ti): 4.68 of 6.00 GiB in tensors, 0 free: 1.3 GiB is the CUDA context and workspaces, not named.
    small = next(f for f in analyze(corpus_log("019")).findings if f.id == "oom")
    assert "PyTorch's tensors held 4.68 GiB of 6.00 GiB" in small.why and "outside PyTorch" not in small.why


def test_in_a_container_the_listed_process_may_be_comfyui_itself() -> None:
    # PyTorch writes "this process has" only for the driver's process id that is its own; in a container
    # (RunPod, Docker) the driver reports host ids, so ComfyUI itself is listed as "Process N" (CUDACachingAllocator's
    # proc_info), and nothing tells it from another process.
    message = ("torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of "
               "23.55 GiB of which 120.00 MiB is free. Process 48213 has 23.42 GiB memory in use. Of the allocated "
               "memory 22.90 GiB is allocated by PyTorch, and 150.00 MiB is reserved by PyTorch but unallocated.")
    finding = next(f for f in analyze_text(comfyui_log(message)).findings if f.id == "oom")
    assert "other processes" not in finding.why
    assert not any(a.startswith("Free the GPU of the other processes") for a in finding.advice)
    assert ("PyTorch asked for 2.00 GiB and 120 MiB of 23.55 GiB were free; PyTorch's tensors held 22.90 GiB"
            in finding.why)
