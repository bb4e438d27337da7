"""Fleet mode on the whole shared corpus: every row and every total agrees with analysing each log alone."""

from __future__ import annotations

import enum
import gc
import json
import math
import pickle
import sys
import weakref
from pathlib import Path

import pandas as pd
import pytest

import comfylog
import comfylog.fleet
from comfylog.fleet import (
    FLEET_PERCENTILES,
    QUANTITIES,
    FleetSummary,
    PromptSeconds,
    PromptTimes,
    expand_inputs,
    largest_first,
    map_logs,
    percentile,
    summarize_log,
    summarize_report,
    wants_fleet,
)
from comfylog.gcpolicy import ANALYSIS_THRESHOLDS
from comfylog.parse.native import native_module
from comfylog.read.source import UnusableInput
from comfylog.render.fleet_json import dumps_indented, fleet_to_dict, render_fleet_json
from comfylog.text import fmt_s

from .cli import run_cli
from .conftest import CORPUS, EXAMPLES, corpus_or_skip


def corpus_logs() -> list[Path]:
    corpus = corpus_or_skip()
    return sorted((corpus / "logs").glob("*.log")) + sorted((corpus / "scenarios").glob("*.log"))


@pytest.fixture(scope="module")
def reports() -> dict[Path, comfylog.Report]:
    """Each corpus log analysed alone, the way a user would: the reference for the fleet."""
    return {path: comfylog.analyze(path) for path in corpus_logs()}


@pytest.fixture(scope="module")
def fleet() -> FleetSummary:
    corpus = corpus_or_skip()
    return comfylog.analyze_fleet([corpus / "logs", corpus / "scenarios"], workers=2)


def test_fleet_rows_agree_with_each_log_analysed_alone(
    fleet: FleetSummary, reports: dict[Path, comfylog.Report]
) -> None:
    logs = corpus_logs()
    assert [log.path for log in fleet.logs] == [str(p) for p in logs]
    assert len(fleet.logs) == len(corpus_logs()) and not fleet.unusable
    for row, path in zip(fleet.logs, logs, strict=True):
        report = reports[path]
        prompts = comfylog.to_frames(report)["prompts"]
        totals = prompts["total_s"].dropna()
        assert row.prompts == len(report.prompts) == len(prompts), path.name
        assert row.runs == len(report.runs) and row.restarts == report.summary.restarts, path.name
        assert row.errors == len(report.errors) == report.summary.errors, path.name
        assert row.gpu == report.runs[0].gpu and row.total_vram_mb == report.runs[0].total_vram_mb, path.name
        assert len(row.prompt_seconds) == len(totals), path.name
        if len(totals):
            # pandas' quantile is an independent implementation of the same interpolation
            assert row.median("total") == pytest.approx(totals.median(), abs=1e-9), path.name
            assert row.p95("total") == pytest.approx(totals.quantile(0.95), abs=1e-9), path.name
            for phase in ("load", "inference", "wait"):
                timed = prompts[prompts["total_s"].notna()][f"phases_{phase}"]
                if timed.isna().all():  # no prompt of the log could time it: unknown, not zero
                    assert row.median(phase) is None and row.p95(phase) is None, (path.name, phase)
                    continue
                assert row.median(phase) == pytest.approx(timed.median(), abs=1e-3), (path.name, phase)
                assert row.p95(phase) == pytest.approx(timed.quantile(0.95), abs=1e-3), (path.name, phase)
        else:
            assert row.median("total") is None
        assert [f.id for f in row.findings] == [f.id for f in report.findings], path.name


def test_fleet_totals_are_the_sums_of_the_per_log_analyses(
    fleet: FleetSummary, reports: dict[Path, comfylog.Report]
) -> None:
    alone = list(reports.values())
    expected = json.loads((CORPUS / "expected.json").read_text(encoding="utf-8"))
    t = fleet.totals
    assert t.logs == len(corpus_logs()) and t.unusable == 0
    assert t.restarts == sum(r.summary.restarts for r in alone)
    assert t.runs == sum(len(r.runs) for r in alone) == len(alone) + t.restarts  # every log starts once, and again
    assert t.prompts == sum(len(r.prompts) for r in alone)
    # the real logs' got_prompt counts come from the ground truth, the scenarios have one each
    assert t.prompts == sum(e["prompts"] for e in expected) + 3
    assert t.errors == sum(len(r.errors) for r in alone)
    assert t.finished == sum(1 for r in alone for p in r.prompts if p.finished)
    timed = [p for r in alone for p in r.prompts if p.total_s is not None]
    assert t.timed_prompts == len(timed)
    assert t.seconds["total"] == pytest.approx(sum(p.total_s or 0 for p in timed), abs=1e-6)
    for phase in ("load", "inference", "wait", "other"):
        assert t.seconds[phase] == pytest.approx(sum(getattr(p.phases, phase) or 0.0 for p in timed), abs=1e-6)
    # phases partition each prompt, so they and the seconds no log could time partition the fleet too
    untimed = sum((p.total_s or 0.0) - p.phases.total for p in timed if not p.phases.timed)
    assert t.seconds["untimed"] == pytest.approx(untimed, abs=1e-3)
    assert sum(t.seconds[q] for q in (*QUANTITIES[1:], "untimed")) == pytest.approx(t.seconds["total"], abs=0.05)


def test_fleet_percentiles_match_pandas_over_all_prompts(
    fleet: FleetSummary, reports: dict[Path, comfylog.Report]
) -> None:
    frames = [comfylog.to_frames(report)["prompts"] for report in reports.values()]
    prompts = pd.concat(frames, ignore_index=True)
    timed = prompts[prompts["total_s"].notna()]
    assert len(timed) == fleet.totals.timed_prompts
    for quantity in QUANTITIES:
        column = timed["total_s" if quantity == "total" else f"phases_{quantity}"]
        for name, pct in FLEET_PERCENTILES:
            assert fleet.percentiles[quantity][name] == pytest.approx(column.quantile(pct / 100), abs=1e-3), (
                quantity, name)
    # the slowest prompt of the fleet is the GTX 1050 Ti's AnimateDiff prompt: Prompt executed in 06:42:56
    slowest = timed.loc[timed["total_s"].idxmax()]
    assert fleet.percentiles["total"]["max"] == slowest["total_s"]
    assert "030-marsh000596-gtx1050ti" in slowest["source"] and slowest["executed_s"] == 24176.0


def test_a_fleet_of_start_ups_has_no_prompt_to_rank() -> None:
    """Logs that never got a prompt (ComfyUI started and stopped): no percentile, no second, every
    log's row without figures, and the JSON says so with nulls and zeros."""
    corpus = corpus_or_skip()
    names = ("026-kostafun-3090-startup-only.log", "040-chudatcn-colab-a100-start-up-time-variant.log")
    fleet = comfylog.analyze_fleet([corpus / "logs" / name for name in names], workers=1)
    assert fleet.totals.logs == 2 and fleet.totals.timed_prompts == 0
    assert fleet.totals.seconds == dict.fromkeys((*QUANTITIES, "untimed"), 0.0)
    assert fleet.totals.timed == dict.fromkeys(QUANTITIES, 0)
    assert all(value is None for row in fleet.percentiles.values() for value in row.values())
    for log in fleet.logs:
        assert all(log.median(q) is None and log.p95(q) is None and log.timed(q) == 0 for q in QUANTITIES)
        assert not log.partly_timed("load")


def test_parallel_and_serial_fleets_are_identical(fleet: FleetSummary) -> None:
    corpus = corpus_or_skip()
    serial = comfylog.analyze_fleet([corpus / "logs", corpus / "scenarios"], workers=1)
    assert serial == fleet


def collector_thresholds(path: str) -> tuple[str, tuple[int, ...]]:
    """A map step for map_logs that says how the collector runs where it runs."""
    return path, gc.get_threshold()


def test_the_collector_runs_as_for_one_analysis_from_the_first_log_to_the_last(tmp_path: Path) -> None:
    """Between logs the collector would pass over the report just built, and in the caller over the results
    received: the analysis thresholds hold in the workers, in the caller while results come in and for a
    serial fleet, and the caller's come back after."""
    paths = [str(p) for p in corpus_logs()[:6]]
    before = gc.get_threshold()
    here: list[tuple[int, ...]] = []  # as the results come in (progress is told here, in the caller)
    for workers in (1, 2):
        here.clear()
        mapped = map_logs(collector_thresholds, paths, workers, lambda *_: here.append(gc.get_threshold()))
        assert mapped == [(p, ANALYSIS_THRESHOLDS) for p in paths]
        assert here == [ANALYSIS_THRESHOLDS] * len(paths) and gc.get_threshold() == before


def test_the_work_is_handed_out_largest_first_and_the_rows_keep_their_order(fleet: FleetSummary) -> None:
    """The workers take the largest logs first, so the last work of a fleet is small and both end together;
    the rows stay in the order of the inputs (the fleet fixture ran on two workers)."""
    paths = [str(p) for p in corpus_logs()]
    sizes = [Path(paths[i]).stat().st_size for i in largest_first([*paths, "no-such.log"])[:-1]]
    assert sizes == sorted(sizes, reverse=True) and sizes[0] > 20 * sizes[-1]
    assert largest_first([*paths, "no-such.log"])[-1] == len(paths)  # no size: last
    assert [row.path for row in fleet.logs] == paths


def test_a_summarised_report_is_freed_at_once_not_by_the_collector(monkeypatch: pytest.MonkeyPatch) -> None:
    """The report's index refers back to the report: the row made, summarize_log lets it go, so the report
    is freed with its last reference rather than at a pass of the cyclic collector over everything."""
    seen: list[weakref.ref[comfylog.Report]] = []
    summarize = comfylog.fleet.summarize_report

    def spy(report: comfylog.Report, path: str) -> comfylog.fleet.LogSummary:
        seen.append(weakref.ref(report))
        return summarize(report, path)

    monkeypatch.setattr(comfylog.fleet, "summarize_report", spy)
    enabled = gc.isenabled()
    gc.disable()
    try:
        for path in corpus_logs()[:4]:
            row = comfylog.fleet.summarize_log(str(path))
            assert row.unusable is None and row.prompts > 0
            assert seen[-1]() is None, path.name
    finally:
        if enabled:
            gc.enable()


def test_common_findings_count_logs_not_lines(fleet: FleetSummary, reports: dict[Path, comfylog.Report]) -> None:
    per_log: dict[str, int] = {}
    for report in reports.values():
        for finding_id in {f.id for f in report.findings}:
            per_log[finding_id] = per_log.get(finding_id, 0) + 1
    assert {c.id: c.logs for c in fleet.common_findings} == per_log
    counts = [c.logs for c in fleet.common_findings]
    assert counts == sorted(counts, reverse=True)
    # the diagnoser's findings on the field-report scenarios reach the fleet rows, costliest first
    rows = {Path(log.path).name: [f.id for f in log.findings] for log in fleet.logs}
    assert rows["runpod-wan-lowvram-gguf.log"][0] == "lowvram"
    assert {"gguf", "debug-logging", "ws-wait"} <= set(rows["runpod-wan-lowvram-gguf.log"])
    assert rows["runpod-wan-oom-restart.log"] == ["oom-suspected"]
    assert per_log["lowvram"] >= 2  # the scenario and real corpus logs with partial loads
    by_path = {str(path): report for path, report in reports.items()}
    rank = {"error": 0, "warning": 1, "info": 2}
    for common in fleet.common_findings:
        same = [f for r in reports.values() for f in r.findings if f.id == common.id]
        assert common.severity == min((f.severity for f in same), key=rank.__getitem__)
        assert common.cost_s == pytest.approx(sum(f.cost_s for f in same))
        costliest = max(f.cost_s for f in same)
        assert any(f.id == common.id and f.cost_s == costliest and f.title == common.title
                   for f in by_path[common.example_path].findings)


def test_percentile_interpolates_like_numpy() -> None:
    values = [3.0, 1.0, 4.0, 1.5, 9.0, 2.6]
    series = pd.Series(values)
    for pct in (0, 10, 50, 90, 95, 100):
        assert percentile(values, pct) == pytest.approx(series.quantile(pct / 100))
    assert percentile([], 50) is None and percentile([7.0], 95) == 7.0


def test_expansion_rule_directories_and_globs_make_a_fleet_plain_files_do_not() -> None:
    corpus = corpus_or_skip()
    first, second = (str(p) for p in sorted((corpus / "logs").glob("*.log"))[:2])
    assert not wants_fleet([first, second]) and not wants_fleet(["-"])
    assert wants_fleet([str(corpus / "logs")]) and wants_fleet([str(corpus / "logs" / "01*.log")])
    assert expand_inputs([str(corpus / "logs" / "01*.log")]) == [str(p) for p in sorted((corpus / "logs").glob("01*"))]
    assert len(expand_inputs([str(corpus)])) == len(corpus_logs())  # recursive: logs/ and scenarios/, not .md/.json
    assert expand_inputs([first, first, second]) == [first, second]
    with pytest.raises(UnusableInput, match="no file matches"):
        expand_inputs([str(corpus / "logs" / "nothing-*.log")])


def test_cli_directory_is_a_fleet_and_plain_files_stay_one_report() -> None:
    corpus = corpus_or_skip()
    fleet = run_cli("analyze", str(corpus / "logs"), "--format", "json")
    assert fleet.returncode == 0, fleet.stderr
    data = json.loads(fleet.stdout)
    assert data["fleet"] is True and len(data["logs"]) == len(list((corpus / "logs").glob("*.log")))
    expected = json.loads((corpus / "expected.json").read_text(encoding="utf-8"))
    received = sum(e["prompts"] for e in expected)
    assert data["totals"]["prompts"] == sum(row["prompts"] for row in data["logs"]) == received
    assert [row["gpu"] for row in data["logs"]][:2] == ["NVIDIA RTX 4000 Ada Generation", "NVIDIA GeForce RTX 2050"]
    one_process = run_cli("analyze", str(corpus / "logs"), "--format", "json", "--jobs", "1")
    assert json.loads(one_process.stdout) == data

    first, second = (str(p) for p in sorted((corpus / "logs").glob("*.log"))[:2])
    one = json.loads(run_cli("analyze", first, second, "--format", "json").stdout)
    assert "fleet" not in one and len(one["sources"]) == 2 and one["summary"]["got_prompt"] == 18 + 4
    two = json.loads(run_cli("analyze", "--fleet", first, second, "--format", "json").stdout)
    assert [row["prompts"] for row in two["logs"]] == [18, 4]


def test_cli_fleet_text_shows_rows_percentiles_and_findings() -> None:
    corpus = corpus_or_skip()
    result = run_cli("analyze", str(corpus / "scenarios"), str(EXAMPLES / "*.log"), columns=160)
    assert result.returncode == 0, result.stderr
    text = result.stdout.decode()
    assert "comfylog fleet — 6 logs" in text and "2 restarts" in text  # the OOM log, in both folders
    assert "runpod-wan-lowvram-gguf.log" in text and "RTX 4090 24G" in text
    assert "10:51/10:51" in text  # median/p95 of the one 10:51 prompt
    assert "Fleet-wide, over 6 prompts" in text
    findings = text.split("Most common findings")[1]
    assert "lowvram" in findings and "oom-suspected" in findings and "2 of 6" in findings  # scenarios + examples


def test_cli_fleet_skips_unusable_files_but_not_silently(tmp_path: Path) -> None:
    corpus = corpus_or_skip()
    (tmp_path / "good.log").write_bytes((corpus / "scenarios" / "local-wan-rtx4090-baseline.log").read_bytes())
    (tmp_path / "broken.log").write_bytes(bytes(range(256)) * 64)
    (tmp_path / "notes.md").write_text("not a log\n")
    result = run_cli("analyze", str(tmp_path), "--format", "json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert [row["path"] for row in data["logs"]] == [str(tmp_path / "good.log")]
    assert data["unusable"][0]["path"] == str(tmp_path / "broken.log")
    assert b"warning: skipped" in result.stderr and b"binary" in result.stderr
    assert math.isclose(data["logs"][0]["total_p50"], 90.41, abs_tol=1.5)


@pytest.mark.parametrize(
    ("setup", "message"),
    [("empty-dir", b"is a directory with no log files"), ("glob", b"no file matches"), ("all-binary", b"binary")],
)
def test_cli_fleet_unusable_input_is_one_line_and_exit_2(tmp_path: Path, setup: str, message: bytes) -> None:
    target = str(tmp_path)
    if setup == "glob":
        target = str(tmp_path / "*.log")
    elif setup == "all-binary":
        (tmp_path / "a.log").write_bytes(bytes(range(256)) * 64)
    result = run_cli("analyze", target, columns=160)
    assert result.returncode == 2
    assert message in result.stderr and b"Traceback" not in result.stderr
    assert result.stderr.count(b"\n") == 1


def test_fleet_help_documents_the_rule() -> None:
    result = run_cli("analyze", "--help", columns=160)
    assert result.returncode == 0
    assert b"--fleet" in result.stdout and b"directory" in result.stdout


def test_cli_fleet_reads_stdin_in_this_process() -> None:
    """Standard input cannot go to a worker process: a fleet with - runs here, and names it <stdin>."""
    result = run_cli("analyze", "--fleet", "-", str(EXAMPLES / "runpod-oom-restart.log"), "--format", "json",
                     stdin=(EXAMPLES / "local-baseline.log").read_bytes())
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert [row["path"] for row in data["logs"]] == ["<stdin>", str(EXAMPLES / "runpod-oom-restart.log")]
    assert data["logs"][0]["total_p50"] == pytest.approx(comfylog.analyze(EXAMPLES / "local-baseline.log")
                                                         .prompts[0].total_s, abs=1e-3)
    assert data["totals"]["restarts"] == 1


def test_a_file_with_no_comfyui_line_is_skipped_with_its_reason(tmp_path: Path) -> None:
    (tmp_path / "good.log").write_bytes((EXAMPLES / "local-baseline.log").read_bytes())
    (tmp_path / "other.log").write_text("hello\n")
    result = run_cli("analyze", str(tmp_path), "--format", "json", text=True)
    data = json.loads(result.stdout)
    assert result.returncode == 0 and [row["path"] for row in data["logs"]] == [str(tmp_path / "good.log")]
    reason = (f"{tmp_path / 'other.log'}: not a ComfyUI log (no ComfyUI, ComfyUI-Manager, worker-comfyui or RunPod "
              "line in its 1 line)")
    assert data["unusable"] == [{"path": str(tmp_path / "other.log"), "reason": reason}]


def test_the_fleet_table_never_breaks_an_id_at_80_columns() -> None:
    corpus = corpus_or_skip()
    result = run_cli("analyze", str(corpus / "scenarios"), columns=80, text=True)
    table = str(result.stdout).split("Fleet-wide")[0]
    for finding in ("lowvram", "ws-wait", "slow-load", "gguf", "debug-logging", "oom-suspected"):
        assert finding in table, finding  # each id whole on its line
    assert all(len(line) <= 80 for line in table.splitlines())


NARROW_LOGS = ("001", "012", "021", "033", "036", "046")


def test_the_fleet_tables_keep_every_number_and_name_whole_at_60_80_120(tmp_path: Path) -> None:
    """A directory of corpus logs (hours, estimated totals, a log with no prompt): at each width
    every line fits, no cell is cut (``…``), each log's name is whole once its wrapped lines are
    joined, each shown median/p95 pair is the JSON's, and the columns left out are named."""
    corpus = corpus_or_skip()
    for number in NARROW_LOGS:
        source = next((corpus / "logs").glob(f"{number}-*.log"))
        (tmp_path / source.name).symlink_to(source)
    data = json.loads(run_cli("analyze", str(tmp_path), "--format", "json").stdout)
    names = {row["path"]: Path(row["path"]).name for row in data["logs"]}
    shown_at = {}
    for columns in (60, 80, 120):
        text = str(run_cli("analyze", str(tmp_path), columns=columns, text=True).stdout)
        assert "…" not in text, text
        assert all(len(line) <= columns for line in text.splitlines()), text
        table = text[text.index("Logs:"):text.index("Fleet-wide")]
        header = next(line for line in table.splitlines() if line.split()[:1] == ["log"])
        joined = "".join(line.split(" ")[0] for line in table.splitlines()[table.splitlines().index(header) + 2:])
        for name in names.values():
            assert name in joined, (columns, name)
        shown_at[columns] = header.split()
        dropped = [q for q in ("machine", "load", "inference") if q not in header.split()]
        if dropped:
            assert f"not shown at this width: {', '.join(dropped)}" in flat(table), table
        for row in data["logs"]:
            if row["timed_prompts"]:  # the row's total pair whole, as text.py writes the JSON's seconds
                pair = "/".join(fmt_s(row[f"total_{p}"], compact=columns < 120) for p in ("p50", "p95"))
                assert pair in table, (columns, pair, table)
    assert shown_at[120][:2] == ["log", "machine"] and "inference" in shown_at[120]
    assert not any(row["waits"] for row in data["logs"]) and "wait" not in shown_at[120]  # no RunPod worker
    assert "machine" not in shown_at[60] and "total" in shown_at[60] and "findings" in shown_at[60]
    percentiles = str(run_cli("analyze", str(tmp_path), columns=60, text=True).stdout).split("Fleet-wide")[1]
    assert "3:48:10" in percentiles or "3h48m" in percentiles  # the sum of every prompt's seconds, whole


def flat(text: str) -> str:
    return " ".join(text.split())


def test_a_phase_only_some_prompts_timed_is_marked_not_taken_as_known(fleet: FleetSummary) -> None:
    # 001 (minute stamps): its prompts that loaded a model could not time the load, the others loaded nothing
    # (0.0 s). The median of the known ones alone would read "load 0.0s": the row marks it, the JSON counts it.
    log = next(log for log in fleet.usable if Path(log.path).name.startswith("001-"))
    assert log.partly_timed("load") and not log.partly_timed("total")
    assert len(log.values("load")) < len(log.prompt_seconds)
    pattern = str(Path(log.path).parent / "001-*.log")  # a glob is a fleet, even of one log
    result = run_cli("analyze", pattern, "--format", "json")
    row = next(r for r in json.loads(result.stdout)["logs"] if Path(r["path"]).name.startswith("001-"))
    assert row["load_prompts"] == len(log.values("load")) < row["timed_prompts"]
    text = run_cli("analyze", pattern, columns=160).stdout.decode()
    assert f"{fmt_s(log.median('load'))}/{fmt_s(log.p95('load'))}*" in text
    assert "*: of the prompts that could time it" in " ".join(text.split())  # the title wraps
    # Fleet-wide: each phase's percentiles say over how many prompts, and the seconds no phase holds are a row.
    assert json.loads(result.stdout)["totals"]["timed"]["load"] == row["load_prompts"]
    table = text.split("Fleet-wide")[1].split("Most common")[0]
    assert "each phase's percentiles over the prompts that timed it" in " ".join(table.split())
    load_row = next(line.split() for line in table.splitlines() if line.split()[:1] == ["load"])
    assert load_row[1] == str(row["load_prompts"])
    assert any(line.split()[:2] == ["not", "timed"] for line in table.splitlines())


def test_wait_is_shown_only_for_the_logs_a_runpod_worker_waits_in(tmp_path: Path) -> None:
    """A local ComfyUI waits on nothing: its wait is no column, no row, and blank beside a worker's
    log (it read 0.0s/0.0s, as if measured); the serverless scenario's websocket waits stay."""
    corpus = corpus_or_skip()
    for source in (next((corpus / "logs").glob("003-*.log")), corpus / "scenarios" / "runpod-wan-lowvram-gguf.log"):
        (tmp_path / source.name).symlink_to(source)
    data = json.loads(run_cli("analyze", str(tmp_path), "--format", "json").stdout)
    waits = {Path(row["path"]).name[:3]: (row["waits"], row["wait_p50"]) for row in data["logs"]}
    assert waits == {"003": (False, 0.0), "run": (True, pytest.approx(51.077, abs=0.01))}
    text = str(run_cli("analyze", str(tmp_path), columns=160, text=True).stdout)
    table = text[text.index("Logs:"):text.index("Fleet-wide")]
    assert "wait blank: no RunPod worker, nothing waits" in flat(table)
    row_003 = next(line for line in table.splitlines() if line.strip().startswith("003-"))
    cells = row_003.split()
    # total, load, inference, then a blank wait cell; the main finding is the costliest, 003's slow prompt 2 (1:58)
    assert cells[cells.index("18/18~") + 4] == "slow-steps"
    assert "51.1s/51.1s" in table
    (tmp_path / "runpod-wan-lowvram-gguf.log").unlink()
    alone = str(run_cli("analyze", str(tmp_path), columns=160, text=True).stdout)
    header = next(line for line in alone.splitlines() if line.split()[:1] == ["log"])
    assert "wait" not in header.split() and "\n  wait " not in alone.split("Fleet-wide")[1]


def test_a_rows_prompt_seconds_are_columns_of_floats_read_back_as_they_went_in() -> None:
    """A fleet row keeps each prompt's seconds in columns of 8-byte floats, not a tuple a prompt (~180 bytes:
    the 1 GB benchmark's 347,000 prompts were 61 MB in its worker and again in the fleet's process), and
    gives back the same seconds, the untimed ones as None, across processes too (pickled)."""
    summary = summarize_log(str(EXAMPLES / "runpod-oom-restart.log"))
    assert len(summary.prompt_seconds) == 1
    times = PromptTimes([PromptSeconds(12.5, None, 10.0, 0.0, 2.5), PromptSeconds(3.0, 1.0, None, None, 2.0)] * 1000)
    assert len(times) == 2000 and list(times)[:2] == [PromptSeconds(12.5, None, 10.0, 0.0, 2.5),
                                                       PromptSeconds(3.0, 1.0, None, None, 2.0)]
    assert times.values("load") == [1.0] * 1000 and times.values("wait") == [0.0] * 1000
    assert pickle.loads(pickle.dumps(times)) == times
    assert len(pickle.dumps(times)) < 2000 * 5 * 8 / 20  # the columns go compressed from a worker process
    assert sum(sys.getsizeof(times.column(q)) for q in QUANTITIES) < 2000 * 5 * 8 * 1.2


def test_the_fleet_json_is_what_json_writes_with_indent_2(fleet: FleetSummary) -> None:
    """render_fleet_json writes runs of scalars through json's C encoder (fleet_json.dumps_indented): the text
    is json.dumps(indent=2)'s on the corpus fleet, and on the shapes and values its rows never have."""
    data = fleet_to_dict(fleet)
    assert render_fleet_json(fleet) == json.dumps(data, indent=2, ensure_ascii=False)
    assert any(row["findings"] for row in data["logs"]) and any(not row["findings"] for row in data["logs"])

    class Level(int, enum.Enum):
        HIGH = 2

    shapes: list[object] = [
        {}, [], [[]], [{}], {"a": [], "b": {}}, [1, [], 2, {}, 3], {"a": 1, "b": [1, {"c": []}], "d": 2, "e": {"f": 1}},
        {"text": "quote \" backslash \\ newline \n NUL \x00 é \u2028", "nan": math.nan, "inf": math.inf,
         "-inf": -math.inf, "big": 10**30, "tiny": 1e-7, "neg0": -0.0, "bools": [True, False, None]},
        {"tuple": (1, (2, [3])), "enum": Level.HIGH, "nested": [Level.HIGH, {"x": Level.HIGH}]},
        {1: [2], "b": 3}, {"a": {True: 1, None: [2], 1.5: {}}}, "alone", 7, 2.5, None,
    ]
    for value in shapes:
        assert dumps_indented(value) == json.dumps(value, indent=2, ensure_ascii=False), value
    with pytest.raises(TypeError):
        dumps_indented({"a": [object()]})


def test_a_rows_prompt_seconds_are_its_prompts_phases(reports: dict[Path, comfylog.Report]) -> None:
    """summarize_report appends each timed prompt's total and phases to the row's columns (append_phases):
    the same seconds, in order, as the prompts hold them."""
    for path, report in reports.items():
        if not report.prompts:
            continue
        row = summarize_report(report, str(path))
        assert list(row.prompt_seconds) == [
            PromptSeconds(p.total_s or 0.0, p.phases.load, p.phases.inference, p.phases.wait, p.phases.other)
            for p in report.prompts if p.total_s is not None], path


def scanning_threads(path: str) -> tuple[str, list[str]]:
    """Analyse ``path`` here, then the names of this process's threads that scan (the native scanner's pool,
    a block's own thread): run in a fleet's worker by map_logs."""
    summarize_log(path)
    names = [(task / "comm").read_text().strip() for task in Path("/proc/self/task").iterdir()]
    return path, [n for n in names if n.startswith("comfylog-scan")]


@pytest.mark.skipif(not Path("/proc/self/task").is_dir() or native_module() is None,
                    reason="needs Linux's /proc and the native scanner")
def test_a_fleets_workers_scan_on_their_own_thread_alone() -> None:
    """The workers are as many as the cores: a long log (over 2,048 lines, a 1 MB block) is scanned in the
    worker's thread, not on a pool of scanning threads contending with the other worker for the cores."""
    logs = sorted(corpus_logs(), key=lambda p: -p.stat().st_size)[:2]
    assert logs[0].stat().st_size > 512 << 10
    paths = [str(p) for p in logs]
    assert map_logs(scanning_threads, paths, workers=2) == [(p, []) for p in paths]


@pytest.mark.skipif(not Path("/proc/self/task").is_dir() or native_module() is None,
                    reason="needs Linux's /proc and the native scanner")
def test_a_log_over_the_serial_size_is_scanned_on_threads_in_a_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    """A log larger than SERIAL_SCAN_BYTES (a day of a server in a fleet) keeps the scanner's threads: it may
    be the last work left, the other workers done. Here every log is over a limit of 0 bytes."""
    monkeypatch.setattr(comfylog.fleet, "SERIAL_SCAN_BYTES", 0)
    logs = sorted(corpus_logs(), key=lambda p: -p.stat().st_size)[:2]
    (largest, threads), _ = map_logs(scanning_threads, [str(p) for p in logs], workers=2)
    assert largest == str(logs[0]) and threads  # its 10,000 lines in pieces on the pool
