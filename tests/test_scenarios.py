"""The three field-report scenarios: facts and phases as ../shared/corpus/scenarios/README.md states them."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from comfylog.api import analyze
from comfylog.rows import report_to_dict

from .cli import run_cli
from .conftest import CORPUS, corpus_or_skip, expected_scenarios


@pytest.mark.parametrize("entry", expected_scenarios(), ids=lambda e: e["file"])
def test_scenario_facts_and_phases(entry: dict[str, Any]) -> None:
    corpus_or_skip()
    data = report_to_dict(analyze(CORPUS / "scenarios" / entry["file"]))
    summary, run = data["summary"], data["runs"][0]
    assert summary["got_prompt"] == entry["prompts"]
    assert [p["executed_s"] for p in data["prompts"] if p["executed_s"] is not None] == entry["executed_s"]
    assert (run["gpu"], run["total_vram_mb"], run["vram_state"]) == (
        entry["gpu"], entry["total_vram_mb"], entry["vram_state"])
    assert summary["partial_loads"] == entry["partial_loads"]
    assert summary["lowvram"] == entry["lowvram"]
    assert summary["ws_timeouts"] == entry["ws_timeouts"]
    assert summary["restarts"] == entry["restarts"]
    bars = [(b["total"], None if b["final_rate"] is None else f"{b['final_rate']:.2f}{b['rate_unit']}")
            for b in data["progress_bars"]]
    assert bars == [(b["total"], b["final_rate"]) for b in entry["progress_bars"]]
    for phase, (low, high) in entry.get("phases", {}).items():
        got = data["prompts"][0]["phases"][phase]
        assert low <= got <= high, (phase, got, (low, high))
    for prompt in data["prompts"]:
        assert sum(prompt["phases"].values()) == pytest.approx(prompt["total_s"], abs=0.01)


def test_lowvram_gguf_prompt_is_timed_from_docker_timestamps() -> None:
    corpus_or_skip()
    report = analyze(CORPUS / "scenarios" / "runpod-wan-lowvram-gguf.log")
    (prompt,) = report.prompts
    assert prompt.status == "ok" and not prompt.estimated
    assert prompt.got_at == datetime(2025, 10, 22, 20, 46, 8, 45690)
    assert prompt.executed_s == 650.0  # printed as 00:10:50
    assert prompt.total_s == pytest.approx(651.0, abs=0.1)
    assert prompt.phases.inference == pytest.approx(223.0, abs=0.5)  # the bar's 03:43
    assert prompt.gguf_qtypes == {"F32": 2, "F16": 693, "Q5_K": 400, "Q6_K": 20}
    assert report.summary.lowvram_module_loads >= 110
    (run,) = report.runs
    assert run.started_at == datetime(2025, 10, 22, 20, 45, 31, 168208)
    assert run.ready_at == datetime(2025, 10, 22, 20, 45, 51, 60800)
    assert [ld.kind for ld in report.loads] == ["complete", "partial", "partial", "partial", "complete"]
    assert [ld.model for ld in report.loads][:4] == ["WanTEModel", "WanVAE", "WAN21", "WanVAE"]


def test_baseline_bar_stamped_at_its_start_is_placed_forward() -> None:
    """The baseline's bar line carries the time the bar began; placing it backwards would overlap loads."""
    corpus_or_skip()
    report = analyze(CORPUS / "scenarios" / "local-wan-rtx4090-baseline.log")
    (bar,) = report.progress_bars
    assert bar.final_rate == 38.15 and bar.elapsed_s == 76.3  # 2 steps at 38.15 s/it; tqdm printed 01:16
    assert bar.start == datetime(2025, 10, 22, 18, 4, 40, 932000)
    assert report.prompts[0].phases.load == pytest.approx(10.8, abs=0.5)


def test_oom_restart_leaves_the_prompt_unfinished_in_the_first_run() -> None:
    corpus_or_skip()
    report = analyze(CORPUS / "scenarios" / "runpod-wan-oom-restart.log")
    assert len(report.runs) == 2 and report.runs[1].restart and not report.runs[0].restart
    (prompt,) = report.prompts
    assert prompt.status == "unfinished" and prompt.run == 0
    assert prompt.video == {"frames": 121, "width": 704, "height": 704, "steps": 3}
    # The output stops at the blank line 11 s after sampling began; the banner belongs to run 2.
    assert prompt.ended_at == datetime(2025, 10, 23, 16, 28, 13, 144201)
    assert report.runs[0].ended_at == prompt.ended_at
    assert report.runs[1].started_at == datetime(2025, 10, 23, 16, 28, 14, 113683)
    sampling = report.progress_bars[-1]
    assert (sampling.total, sampling.done, sampling.final_rate) == (3, 0, None)
    assert report.runs[0].gpu_memory == {"used_mib": 1, "free_mib": 23563, "total_mib": 24564}
    assert report.errors == []  # nothing was printed: that silence is the finding


def test_work_with_no_prompt_running_is_outside_prompts_not_idle(tmp_path: Path) -> None:
    """A handler driving the nodes itself: the lowvram scenario without its `got prompt` and
    `Prompt executed` lines still loads for minutes and samples two steps; none of it is idle."""
    corpus_or_skip()
    text = (CORPUS / "scenarios" / "runpod-wan-lowvram-gguf.log").read_text(encoding="utf-8")
    log = tmp_path / "handler.log"
    log.write_text("".join(line for line in text.splitlines(keepends=True)
                           if "got prompt" not in line and "Prompt executed" not in line), encoding="utf-8")
    report = analyze(log)
    (run,) = report.runs
    assert report.prompts == [] and run.startup_s == pytest.approx(19.9, abs=0.1)
    # 20:45:51 ready -> 20:56:59 the VAE loaded after sampling: loads and the 2-step bar (3:43)
    assert run.outside_s is not None and 500 < run.outside_s < 670
    assert run.idle_s is not None and run.idle_s < 120
    assert dict(report.time_breakdown())["outside"] == run.outside_s
    terminal = " ".join(str(run_cli("analyze", str(log), text=True, columns=120).stdout).split())
    assert "outside prompts" in terminal and "no prompt running, so no prompt's time" in terminal
    # With its prompt, the same work is the prompt's.
    assert analyze(CORPUS / "scenarios" / "runpod-wan-lowvram-gguf.log").runs[0].outside_s is None
