"""Where a restarted ComfyUI's run begins: at the first line the new process printed, which may come before
the start-up marker that shows the restart (Manager's ``** ComfyUI startup time``)."""

from __future__ import annotations

from comfylog.api import analyze, analyze_text

from .conftest import FIXTURES, corpus_log

RESTART = FIXTURES / "pod-script-restart-extra-paths-before-marker.log"


def test_a_restarted_process_begins_at_its_extra_search_paths_not_at_managers_marker(each_segmenter: str) -> None:
    """field4 03 (a pod's start script restarts ComfyUI): main.py prints `Adding extra search path` (line 23 of the
    excerpt, 04:08:48.26) before Manager's `** ComfyUI startup time` (line 43, 04:08:50.51). Run 2 used to begin at
    the marker, its start-up 34.9 s where the process took 37.1 s to `To see the GUI go to` (line 100, 04:09:25.37);
    run 1 now ends at the script's `Waiting for ComfyUI to respond` (line 22), not at the new process's lines."""
    lines = RESTART.read_text("utf-8").splitlines()
    first_path = next(i for i, line in enumerate(lines, 1) if "Adding extra search path" in line)
    assert first_path == 23 and "** ComfyUI startup time" in lines[42]
    report = analyze(RESTART)
    one, two = report.runs
    assert two.restart and two.first_line == first_path and one.last_line == first_path - 1
    assert two.started_at is not None and two.started_at.isoformat() == "2026-04-03T04:08:48.259591"
    assert two.startup_s == 37.11
    assert one.ended_at is not None and one.ended_at.isoformat() == "2026-04-03T04:08:45.575938"


def test_extra_search_paths_with_work_after_them_stay_in_their_run(each_segmenter: str) -> None:
    """The same lines, but a prompt between the extra search paths and the marker: work of the old process came
    after them (a custom node may load paths), so the new run begins at its marker as before."""
    lines = RESTART.read_text("utf-8").splitlines(keepends=True)
    stamp = lines[35][:31]  # the stamp of the line after `Setting output directory to:`
    text = "".join(lines[:35]) + f"{stamp}got prompt\n{stamp}Prompt executed in 0.01 seconds\n" + "".join(lines[35:])
    one, two = analyze_text(text).runs
    assert two.first_line == 45 and one.last_line == 44  # the marker, two lines further down


def test_a_restart_with_no_marker_before_starting_server_begins_at_total_vram(each_segmenter: str) -> None:
    """Corpus 024 is a `server.log` of a ComfyUI with no Manager, no extra paths and no container banner: a server
    log appended to across a restart holds it twice, the second process's only marker its `Starting server`. The new
    run began there, so its start-up (devices, versions, custom nodes) went to the run before and it had no GPU, VRAM
    or PyTorch of its own. comfy/model_management.py prints `Total VRAM` once per process, at import, in every version:
    the new run begins there."""
    text = corpus_log("024").read_text("utf-8")
    lines = text.splitlines()
    vram = next(i for i, line in enumerate(lines, 1) if "Total VRAM" in line)
    report = analyze_text(text + text)
    one, two = report.runs
    assert two.restart and two.first_line == len(lines) + vram and one.last_line < len(lines) + vram
    assert one.gpu is not None
    for run in (one, two):
        assert (run.gpu, run.total_vram_mb, run.pytorch_version) == (one.gpu, 49136, "2.13.0+rocm7.2")
    # a custom node importing model_management again mid-start-up prints it twice: no restart (corpus 040's three)
    assert len(analyze(corpus_log("040")).runs) == 1
