"""ComfyUI-Manager installing custom nodes on a running server is install time, not idle (Run.install_s).

On corpus log 046 Manager installs comfyui-impact-pack five minutes into the second run: its zip's
download bar (line 559), `Extracted zip file to` (560), pip installs behind `[!]`, its install.py with
a model download bar (776-790), `After restarting ComfyUI, please refresh the browser.` (793).
"""

from __future__ import annotations

import re
from datetime import datetime

from comfylog.api import analyze, analyze_text
from comfylog.events import EventKind
from comfylog.index import comfyui_sources
from comfylog.rows import report_to_dict

from .cli import run_cli
from .conftest import FIXTURES, corpus_log

EXCERPT = FIXTURES / "manager-install-running-server.log"


def _excerpt_lines() -> list[str]:
    """The excerpt's lines as written: a bar line holds tqdm states split by bare CRs (kept)."""
    return EXCERPT.read_bytes().decode("utf-8").split("\n")


def _ts(text: str) -> datetime:
    """A docker stamp of the log, to the microsecond (how the reader keeps them: naive)."""
    return datetime.fromisoformat(text)


def test_046_install_on_the_running_server_is_not_idle() -> None:
    report = analyze(corpus_log("046"))
    first, second = report.runs
    assert first.install_s is None and first.install_spans == []  # Manager's start-up installs are start-up
    # from the zip's download bar (37.1MB/s for 2.64M: 0.07 s before line 559) to line 792
    (start, end), = second.install_spans
    assert abs((start - _ts("2026-04-03T05:25:33.198923")).total_seconds() + 0.071) < 0.01
    assert end == _ts("2026-04-03T05:31:05.488190")
    assert second.install_s is not None and abs(second.install_s - (end - start).total_seconds()) < 0.002
    assert second.outside_s is None  # both download bars are the install's
    assert second.span_s is not None and second.startup_s is not None and second.idle_s is not None
    assert abs(second.span_s - second.startup_s - second.install_s - second.idle_s) < 0.002  # counted once
    rows = dict(report.time_breakdown())
    assert rows["install"] == second.install_s and "outside" not in rows


def test_046_json_carries_install_s() -> None:
    runs = report_to_dict(analyze(corpus_log("046")))["runs"]
    assert [r["install_s"] for r in runs][0] is None and runs[1]["install_s"] > 330
    assert runs[1]["outside_s"] is None


def test_excerpt_install_starts_at_the_zip_download_and_the_gap_before_stays_idle() -> None:
    report = analyze(EXCERPT)
    (run,) = report.runs
    (start, end), = run.install_spans
    assert end == _ts("2026-04-03T05:25:48.299973")  # the excerpt's last line, mid-install
    assert start < _ts("2026-04-03T05:25:33.198923")  # the bar's line: the bar ran before it
    # ready at 05:16:19; Manager's last start-up task at 05:17:57, then nothing until the install
    assert run.idle_s is not None and 553.5 < run.idle_s < 554.5
    assert run.outside_s is None


def test_subprocess_output_alone_is_no_install() -> None:
    """`[!]` lines only extend an install begun by a Manager line: alone they stay idle."""
    lines = _excerpt_lines()
    kept = [ln for ln in lines if "[!]" in ln or "Z [" in ln or "Z **" in ln or not any(
        k in ln for k in ("EXECUTE", "Install:", "Extracted zip", "'pip', 'install'", "/s]"))]
    report = analyze_text("\n".join(kept))
    (run,) = report.runs
    assert run.install_s is None and run.outside_s is None


def test_a_prompt_ends_the_install() -> None:
    """Install lines while a prompt runs are the prompt's time; the install before it ends there."""
    lines = _excerpt_lines()
    cut = next(i for i, ln in enumerate(lines) if "segment-anything']" in ln)
    prompt = ["2026-04-03T05:25:34.200000000Z got prompt"]
    done = ["2026-04-03T05:25:50.000000000Z Prompt executed in 15.80 seconds"]
    report = analyze_text("\n".join(lines[: cut + 1] + prompt + lines[cut + 1 :] + done))
    (run,) = report.runs
    (start, end), = run.install_spans
    assert end == _ts("2026-04-03T05:25:34.193750")  # the EXECUTE line, the last install line before the prompt
    assert run.span_s is not None and run.startup_s is not None and run.idle_s is not None
    (p,) = report.prompts
    assert p.total_s is not None and run.install_s is not None
    assert abs(run.span_s - run.startup_s - run.install_s - p.total_s - run.idle_s) < 0.002


MODEL_EXCERPT = FIXTURES / "manager-model-install-idle.log"


def test_manager_model_downloads_with_no_prompt_are_install_time_not_outside() -> None:
    """036's three `Install model '…' from '…' into '…'` (ComfyUI-Manager's Model Manager) with no
    prompt running: from the first to the last, their download bars included, is install time;
    only the last download, drawn after the last install line, stays work outside prompts."""
    report = analyze(MODEL_EXCERPT)
    (run,) = report.runs
    (start, end), = run.install_spans
    assert start == _ts("2026-01-18 10:53:32.214") and end == _ts("2026-01-18 10:53:44.719")
    assert run.install_s is not None and abs(run.install_s - 12.505) < 0.002
    # the last model's bar (0.74 s at 90.8MB/s for 66.9M) ends after the last install line
    assert run.outside_s is not None and run.outside_s < 1.0
    rows = dict(report.time_breakdown())
    assert rows["install"] == run.install_s


def test_both_forms_of_the_install_model_line_start_an_install() -> None:
    """Manager's older line has no `from '<url>'` (upstream-messages.txt quotes both)."""
    from comfylog.api import analyze_text

    lines = MODEL_EXCERPT.read_bytes().decode("utf-8").split("\n")
    older = [re.sub(r"(Install model '[^']*') from '[^']*'", r"\1", ln) for ln in lines]
    (run,) = analyze_text("\n".join(older)).runs
    assert run.install_s is not None and abs(run.install_s - 12.505) < 0.002


def test_watch_shows_and_exports_the_install_time_analyze_counts() -> None:
    """046 fed to watch's analysis: the live view's run line names the install time, and the
    Prometheus counter comfylog_install_seconds holds the seconds analyze gives (Run.install_s)."""
    import socket

    from rich.console import Console

    from comfylog.text import dur
    from comfylog.watch.analysis import LiveAnalysis
    from comfylog.watch.findings import live_findings
    from comfylog.watch.live import render_live, snapshot
    from comfylog.watch.metrics import Metrics

    data = corpus_log("046").read_bytes()
    install_s = analyze(corpus_log("046")).runs[1].install_s
    assert install_s is not None
    analysis = LiveAnalysis("046.log")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    metrics = Metrics("046.log", f"127.0.0.1:{port}")
    try:
        analysis.feed(data)
        window, _ = live_findings(analysis)
        snap = snapshot(analysis, window, [])
        metrics.update(snap)
        console = Console(width=200, record=True)
        console.print(render_live(snap))
        view = console.export_text()
        assert snap.run is not None and snap.run.install_s is not None
        assert f"installing {dur(snap.run.install_s)}" in view, view
        value = metrics.registry.get_sample_value("comfylog_install_seconds_total", {"source": "046.log"})
        assert value is not None and abs(value - snap.run.install_s) < 1e-6
        assert abs(snap.run.install_s - install_s) < 0.002  # the whole log fed: the seconds analyze counts
    finally:
        metrics.close()
        analysis.close()


def test_a_failed_git_install_is_an_error_of_a_comfyui_manager_log(each_segmenter: str) -> None:
    """A console holding only ComfyUI-Manager's failed install (Comfy-Org/ComfyUI #12505: `Download: git clone`,
    its git helper's traceback behind `[!]`, `[ComfyUI-Manager] Installation failed:` then the reason) is a
    ComfyUI-Manager log with one error, not "not a ComfyUI log"."""
    fixture = FIXTURES / "manager-install-failed-clone.log"
    report = analyze(fixture)
    (error,) = report.errors
    assert (error.kind, error.line) == ("node_install", 8)
    lines = fixture.read_text().splitlines()
    assert lines[error.line - 1] == "[ComfyUI-Manager] Installation failed:"
    assert lines[error.line].startswith("Failed to clone repo: ")  # the reason the record points to
    result = run_cli("analyze", str(fixture), text=True, columns=200)
    assert result.returncode == 0 and "ComfyUI-Manager could not install a custom node" in str(result.stdout)


def test_a_manager_update_all_pasted_alone_is_a_comfyui_log(each_segmenter: str) -> None:
    """Comfy-Org/ComfyUI-Manager#1548 (tests/fixtures/manager-update-all-log.log): ComfyUI-Manager's "Update All",
    `Install: pip packages` to `[ComfyUI-Manager] Queued works are completed.` and its stats. comfylog refused it
    ("not a ComfyUI log"): the install lines were read but kept nowhere that says whose the log is."""
    fixture = FIXTURES / "manager-update-all-log.log"
    report = analyze(fixture)
    assert comfyui_sources(report) == {0}
    assert [ev.line for ev in report.notable if ev.kind is EventKind.NODE_INSTALL] == [2, 6]
    result = run_cli("analyze", str(fixture), text=True, columns=200)
    assert result.returncode == 0 and "not a ComfyUI log" not in str(result.stderr)
