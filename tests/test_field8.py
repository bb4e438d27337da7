"""The eighth field round's real logs (research/field8): what comfylog told wrongly, each on an excerpt of the
log that showed it (tests/fixtures/README.md names the source of each)."""

from __future__ import annotations

from pathlib import Path

from comfylog.api import analyze

from .cli import run_cli
from .conftest import FIXTURES, found, ids


def test_a_port_another_process_holds_is_told_as_such(each_segmenter: str) -> None:
    """Comfy-Org/ComfyUI#2384: ComfyUI's server could not bind 127.0.0.1:8188 (`[Errno 10048]`, Windows'
    EADDRINUSE) and the advice was to reinstall the requirements, for "a package that does not fit PyTorch"."""
    report = analyze(FIXTURES / "port-8188-in-use-errno-10048.log")
    finding = found(report, "startup-failed")
    assert finding.title == "ComfyUI never became ready: port 8188 is already in use"
    assert "`netstat -ano | findstr :8188`" in finding.advice[0]
    assert finding.advice[1] == "Or start this ComfyUI on another port: `--port 8189`"
    assert "requirements.txt" not in " ".join(finding.advice)
    assert [ev.line for ev in finding.evidence] == [12]


def test_a_segfault_the_shell_reports_at_start_up_is_the_cause(each_segmenter: str) -> None:
    """Comfy-Org/ComfyUI#5387: a ROCm start-up that ends in the shell's `Segmentation fault (core dumped)` was told
    as a log that "ends during start-up with no error" (low confidence) and the crash as not there."""
    path = FIXTURES / "rocm-startup-segfault-core-dumped.log"
    report = analyze(path)
    startup = found(report, "startup-failed")
    assert startup.title == "ComfyUI never became ready: it crashed (Segmentation fault (core dumped))"
    assert startup.confidence == "high" and "no error" not in startup.why
    crash = found(report, "crash")
    assert crash.title == "ComfyUI crashed: Segmentation fault (core dumped)"
    assert "the log shows no prompt running then" in crash.why
    assert "`python -X faulthandler main.py`" in crash.advice[0]
    assert not any("Run the prompt again" in item for item in crash.advice)  # no prompt ran (review stop32)
    assert [ev.line for ev in crash.evidence] == [10]
    assert run_cli("check", str(path), text=True).returncode == 1


def test_zshs_segfault_line_is_a_comfyui_crash_not_a_refusal(each_segmenter: str) -> None:
    """Comfy-Org/ComfyUI#1052: zsh's `segmentation fault (core dumped)  python main.py` (its `zsh: ` dropped) was
    refused as "not a ComfyUI log"."""
    report = analyze(FIXTURES / "zsh-segfault-python-main.log")
    crash = found(report, "crash")
    assert crash.title == "ComfyUI crashed: segmentation fault (core dumped)"
    assert [e.kind for e in report.errors] == ["crash"]


def test_an_intel_gpus_out_of_memory_is_an_oom(each_segmenter: str) -> None:
    """Comfy-Org/ComfyUI#6379: `XPU out of memory. Tried to allocate 2.00 GiB` (an Intel GPU, IPEX) was told as an
    unknown exception with advice to read the traceback for a custom node and fix the workflow's inputs."""
    report = analyze(FIXTURES / "xpu-out-of-memory-vae-novram.log")
    oom = found(report, "oom")
    assert "XPU out of memory" in oom.why
    assert "exception" not in ids(report)
    assert [e.kind for e in report.errors] == ["oom"]


def test_comfy_aimdos_own_errors_get_dynamic_vram_advice(each_segmenter: str) -> None:
    """comfy-aimdo#25 and Comfy-Org/ComfyUI#15269: `VBAR allocation failed` and `Fault failed: 2`, raised by
    comfy-aimdo's ModelVBAR, got the advice for an error in a workflow or a custom node."""
    for name, error in (("aimdo-vbar-allocation-failed-vgpu.log", "VBAR allocation failed"),
                        ("aimdo-fault-failed-2.log", "Fault failed: 2")):
        finding = found(analyze(FIXTURES / name), "exception")
        advice = " ".join(finding.advice)
        assert f"`{error}` comes from comfy-aimdo" in finding.advice[0]
        assert "`--disable-dynamic-vram`" in advice
        assert "Missing files and wrong inputs" not in advice


def test_an_intel_gpus_4gb_block_limit_is_told_as_such(each_segmenter: str) -> None:
    """Comfy-Org/ComfyUI#7004: intel-extension-for-pytorch's `Current platform can NOT allocate memory block with size
    larger than 4GB!` (a VAE at 5.46 GiB) got the advice for a workflow's or a custom node's error."""
    finding = found(analyze(FIXTURES / "xpu-block-over-4gb-vae.log"), "exception")
    assert "cannot allocate one block over 4 GB" in finding.advice[0]
    assert "VAE Decode (Tiled)" in finding.advice[0]
    assert "Missing files and wrong inputs" not in " ".join(finding.advice)


def test_an_intel_gpus_oom_gets_no_cuda_allocator_setting(each_segmenter: str) -> None:
    """Comfy-Org/ComfyUI#6379: `PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True` is a setting of PyTorch's CUDA
    allocator; an Intel GPU's `XPU out of memory` is not helped by it."""
    oom = found(analyze(FIXTURES / "xpu-out-of-memory-vae-novram.log"), "oom")
    assert oom.advice and "PYTORCH_CUDA_ALLOC_CONF" not in " ".join(oom.advice)


def test_comfyuis_own_port_in_use_line_is_a_start_up_that_failed(each_segmenter: str, tmp_path: Path) -> None:
    """ComfyUI's server since 2026 (Comfy-Org/ComfyUI#13001) logs `Port 8188 is already in use on address
    127.0.0.1. Please close …` and exits, with no traceback: all a user may copy. The line as server.py prints it is
    quoted in tests/fixtures/upstream-messages.txt; alone, it was refused as not a ComfyUI log."""
    line = next(t for t in (FIXTURES / "upstream-messages.txt").read_text(encoding="utf-8").splitlines()
                if t.startswith("Port 8188 is already in use on address"))
    log = tmp_path / "port.log"
    log.write_text(line + "\n", encoding="utf-8")
    finding = found(analyze(log), "startup-failed")
    assert finding.title == "ComfyUI never became ready: port 8188 is already in use"
    assert finding.advice[1] == "Or start this ComfyUI on another port: `--port 8189`"
    assert [ev.line for ev in finding.evidence] == [1]
