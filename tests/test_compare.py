"""`comfylog compare` on the field report: the RunPod run against the local baseline, figures and table."""

from __future__ import annotations

import json
import os
import statistics
from collections.abc import Callable
from pathlib import Path

import pytest
from rich.console import Console

from comfylog.api import analyze
from comfylog.compare import CompareError, compare_reports, ratio_text
from comfylog.render.compare import render_compare

from .cli import run_cli
from .conftest import CORPUS, EXAMPLES, ROOT, corpus_or_skip

SCENARIOS = CORPUS / "scenarios"


@pytest.fixture(scope="module")
def scenario():  # type: ignore[no-untyped-def]
    corpus_or_skip()
    return compare_reports(analyze(SCENARIOS / "runpod-wan-lowvram-gguf.log"),
                           analyze(SCENARIOS / "local-wan-rtx4090-baseline.log"))


def test_the_field_report_figures(scenario) -> None:  # type: ignore[no-untyped-def]
    c = scenario
    assert (c.total.run, c.total.baseline, c.total_source) == (650.0, 90.41, "executed")
    assert ratio_text(c.total) == "7.19x slower"
    load, inference, wait = c.phase("load"), c.phase("inference"), c.phase("wait")
    assert 30 <= load.ratio <= 36  # ≈ 33x
    assert ratio_text(inference) == "2.93x slower"
    assert 45 <= wait.run <= 75 and wait.baseline == 0 and wait.ratio is None
    assert ratio_text(wait) == "none in the baseline"
    [step] = c.steps
    assert (step.steps, step.rate.run, step.rate.baseline) == (2, 111.62, 38.15)
    assert ratio_text(step.rate) == "2.93x slower"
    assert c.gap_s == pytest.approx(559.59)
    assert c.main_phase == "load" and 330 <= c.main_phase_gap_s <= 365  # ≈ 346 s of the 560 s gap
    # the partial loads, and the network volume the models are read from (line 16)
    assert [f.id for f in c.explaining] == ["lowvram", "slow-load"]
    assert {f.id for f in c.only_in_run} == {"lowvram", "ws-wait", "debug-logging", "slow-load"}
    assert c.only_in_baseline == []  # both use GGUF weights
    loads = {m.model: m for m in c.loads}
    assert loads["WAN21"].run == {"partial": 1} and loads["WAN21"].baseline == {"complete": 1}
    assert c.lowvram_module_lines == (122, 0)
    facts = {f.name: f for f in c.machine}
    assert facts["GPU"].same and facts["VRAM"].same  # 24217 and 24564 MB: the same 24 GB card, 1.4% apart
    assert not facts["PyTorch"].same


def test_reversed_the_baseline_is_faster_and_the_same_findings_explain_it() -> None:
    corpus_or_skip()
    c = compare_reports(analyze(SCENARIOS / "local-wan-rtx4090-baseline.log"),
                        analyze(SCENARIOS / "runpod-wan-lowvram-gguf.log"))
    assert ratio_text(c.total) == "7.19x faster" and c.main_phase == "load" and c.main_phase_gap_s < 0
    assert [f.id for f in c.explaining] == ["lowvram", "slow-load"]


def test_a_phase_slower_by_more_than_the_whole_gap_is_not_called_a_share() -> None:
    # 015 (HunyuanVideo, A800) against 045 (Wan, A100): inference is 2:43 slower, "other" 1:20 faster, the whole
    # prompt 2:02 slower; "163 s of the 122 s gap (134%)" was the verdict.
    corpus = corpus_or_skip()
    run, baseline = (next((corpus / "logs").glob(f"{n}-*.log")) for n in ("015", "045"))
    text = " ".join(compare_text(run, baseline).split())
    assert "inference alone is 163 s slower, more than the whole 122 s gap" in text
    assert "% of the" not in text and "134%" not in text


def compare_text(run: Path, baseline: Path) -> str:
    console = Console(width=100, color_system=None, record=True, file=open(os.devnull, "w"))  # noqa: SIM115
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        comparison = compare_reports(analyze(os.path.relpath(run, ROOT)), analyze(os.path.relpath(baseline, ROOT)))
    finally:
        os.chdir(cwd)
    render_compare(comparison, console)
    return "\n".join(line.rstrip() for line in console.export_text().splitlines()) + "\n"


def test_compare_table_golden(golden: Callable[[str, str], None]) -> None:
    """The rendered comparison is pinned (pytest --update-goldens after a deliberate change)."""
    got = compare_text(EXAMPLES / "runpod-lowvram-gguf.log", EXAMPLES / "local-baseline.log")
    golden("compare-runpod-lowvram-gguf-vs-local-baseline.txt", got)
    assert "7.19x slower" in got and "34.03x slower" in got and "load explains most of it" in got


def test_several_prompts_are_paired_in_order_and_compared_by_median() -> None:
    corpus = corpus_or_skip()
    run = analyze(next((corpus / "logs").glob("022-*.log")))  # 33 prompts, GTX 1060
    base = analyze(next((corpus / "logs").glob("021-*.log")))  # 65 finished, RTX 4090 Laptop
    c = compare_reports(run, base)
    n = len(c.run_prompts)
    assert n == len(c.baseline_prompts) == 33
    ok_base = [p for p in base.prompts if p.status == "ok"][:n]
    assert c.total.run == statistics.median(p.executed_s for p in run.prompts)
    assert c.total.baseline == statistics.median(p.executed_s for p in ok_base)
    assert any("median" in note for note in c.notes) and any("paired in order" in note for note in c.notes)
    chosen = compare_reports(run, base, prompt=3, baseline_prompt=5)
    assert (chosen.run_prompts, chosen.baseline_prompts) == ([2], [4])
    assert (chosen.total.run, chosen.total.baseline) == (run.prompts[2].executed_s, base.prompts[4].executed_s)


def test_bars_with_other_step_counts_are_not_compared() -> None:
    corpus = corpus_or_skip()
    run = analyze(next((corpus / "logs").glob("022-*.log")))  # 25 steps
    base = analyze(next((corpus / "logs").glob("023-*.log")))  # 60 steps
    c = compare_reports(run, base, prompt=1)
    assert c.steps == [] and c.unmatched_steps == ["bar 1: 25 steps in the run, 60 in the baseline"]


def test_an_unfinished_run_is_compared_by_what_it_did() -> None:
    corpus_or_skip()
    c = compare_reports(analyze(SCENARIOS / "runpod-wan-oom-restart.log"),
                        analyze(SCENARIOS / "local-wan-rtx4090-baseline.log"))
    assert c.total_source == "measured" and c.run_prompts == [0]
    assert "oom-suspected" in {f.id for f in c.only_in_run}


def test_prompt_out_of_range_is_a_clear_error() -> None:
    corpus_or_skip()
    report = analyze(SCENARIOS / "runpod-wan-lowvram-gguf.log")
    with pytest.raises(CompareError, match="has 1 prompt: there is no prompt 2"):
        compare_reports(report, report, prompt=2)


def test_cli_compare_json_and_errors() -> None:
    done = run_cli("compare", "examples/runpod-lowvram-gguf.log", "examples/local-baseline.log", "-f", "json",
                   cwd=ROOT, text=True)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["total"]["verdict"] == "7.19x slower" and data["main_phase"] == "load"
    assert [f["id"] for f in data["explaining"]] == ["lowvram", "slow-load"]
    assert data["steps"][0]["run"] == 111.62 and data["steps"][0]["baseline"] == 38.15
    bad = run_cli("compare", "examples/runpod-lowvram-gguf.log", "examples/local-baseline.log", "--prompt", "2",
                  cwd=ROOT, text=True)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and bad.stderr.startswith("comfylog: error:")
    missing = run_cli("compare", "examples/nope.log", "examples/local-baseline.log", cwd=ROOT, text=True)
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
    text = run_cli("compare", "examples/runpod-lowvram-gguf.log", "examples/local-baseline.log", cwd=ROOT, text=True)
    assert text.returncode == 0 and "7.19x slower" in text.stdout


@pytest.mark.parametrize("fmt", ["text", "json", "html"])
def test_the_faster_log_first_compares_without_a_crash(fmt: str, tmp_path: Path) -> None:
    """Any phase may be 0 on either side: the baseline's 51 s of websocket wait against none in the run."""
    run, base = "examples/local-baseline.log", "examples/runpod-lowvram-gguf.log"
    if fmt == "html":
        done = run_cli("report", run, "--baseline", base, "-o", str(tmp_path / "r.html"), cwd=ROOT, text=True)
        assert done.returncode == 0, done.stderr
        page = (tmp_path / "r.html").read_text(encoding="utf-8")
        assert "none in the run" in page and "7.19x faster" in page
        return
    done = run_cli("compare", run, base, "-f", fmt, cwd=ROOT, text=True, columns=120)
    assert done.returncode == 0, done.stderr
    if fmt == "json":
        data = json.loads(done.stdout)
        wait = next(d for d in data["phases"] if d["name"] == "wait")
        assert wait["run"] == 0 and wait["baseline"] > 45 and wait["ratio"] is None
        assert wait["verdict"] == "none in the run" and data["total"]["verdict"] == "7.19x faster"
    else:
        assert "none in the run" in done.stdout and "7.19x faster" in done.stdout
