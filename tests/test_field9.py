"""The ninth field round's real logs (research/field9): what comfylog told wrongly, each on an excerpt of the
log that showed it (tests/fixtures/README.md names the source of each)."""

from __future__ import annotations

import pytest

from comfylog.api import analyze

from .cli import run_cli
from .conftest import FIXTURES, found, ids


@pytest.mark.parametrize(
    "name",
    [
        # pollockjj/ComfyUI-MultiGPU#13: no clock, ComfyUI's `Starting server` and `To see the GUI go to`
        "multigpu-unstamped-starting-server-to-see-the-gui.log",
        # pollockjj/ComfyUI-MultiGPU#119: only a custom node's tables, each line in ComfyUI's own log stamp
        "distorch2-tables-in-comfyui-logger-stamps.log",
    ],
)
def test_comfyui_s_lines_without_a_clock_or_its_logger_stamps_are_a_comfyui_log(name: str,
                                                                               each_segmenter: str) -> None:
    """Both were refused as "not a ComfyUI log" (check exited 2): the ready line counted only with a time stamp,
    and the `<isoformat> - ` stamp of ComfyUI's own log buffer (app/logger.py) counted for nothing."""
    done = run_cli("check", str(FIXTURES / name), text=True)
    assert done.returncode == 0, done.stdout
    assert analyze(FIXTURES / name).runs


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("error-report-triton-gcc-cuda-utils-failed.log", "triton could not build its C helper (`cuda_utils`) "
                                                          "with the C compiler (`gcc` failed)"),
        ("error-report-inductor-backend-compiler-failed.log", "`torch.compile` failed (`BackendCompilerFailed`, "
                                                              "backend `inductor`)"),
        ("error-report-no-module-triton-ksampler.log", "`triton` is not installed in the Python ComfyUI runs with"),
    ],
)
def test_an_error_report_s_node_failure_is_a_failed_prompt_with_triton_s_cause(name: str, says: str,
                                                                               each_segmenter: str) -> None:
    """blepping/ComfyUI-bleh#23, woct0rdho/triton-windows#30, kijai/ComfyUI-WanVideoWrapper#783: a "ComfyUI Error
    Report" naming the node (SamplerCustom, SamplerCustomAdvanced, KSampler) was told "No prompt was running: ... so
    no prompt failed with it", with advice to fix the workflow's inputs; the causes are triton's (its C helper's
    compiler, torch.compile, triton missing)."""
    finding = found(analyze(FIXTURES / name), "exception")
    assert finding.title.startswith("1 prompt failed: ")
    assert "No prompt was running" not in finding.why
    assert finding.advice[0].startswith(says)
    assert not any(a.startswith("Missing files and wrong inputs") for a in finding.advice)


def test_worker_comfyui_giving_up_on_comfyui_fails_the_job(each_segmenter: str) -> None:
    """runpod-workers/worker-comfyui#127: `Failed to connect to server at http://127.0.0.1:8188/ after 500 attempts`
    alone was only a row of the errors table, and check passed: the job had failed before its workflow was sent."""
    path = FIXTURES / "worker-comfyui-failed-to-connect-only.log"
    report = analyze(path)
    finding = found(report, "startup-failed")
    assert ids(report) == {"startup-failed"}
    assert finding.title == "ComfyUI never answered worker-comfyui: the job failed before it ran"
    assert "after 500 attempts" in finding.why and "ComfyUI's start-up lines" not in finding.why
    assert any("COMFY_API_AVAILABLE_MAX_RETRIES" in a for a in finding.advice)
    assert [ev.line for ev in finding.evidence] == [1]
    assert run_cli("check", str(path), text=True).returncode == 1


def test_a_start_up_cut_after_lines_comfylog_does_not_read_ends_at_the_log_s_last_line(each_segmenter: str) -> None:
    """pollockjj/ComfyUI-MultiGPU#34: ComfyUI's start-up to `ComfyUI version: 0.3.24` (line 7), then nine of
    MultiGPU's own lines: "the log ends during start-up (line 7)" named a line in its middle."""
    finding = found(analyze(FIXTURES / "startup-cut-after-custom-node-lines.log"), "startup-failed")
    assert "The log ends during start-up (line 16) with no error." in finding.why
    assert [ev.line for ev in finding.evidence] == [16]
