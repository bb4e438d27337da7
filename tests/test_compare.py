"""`comfylog compare` on the field report: the RunPod run against the local baseline, figures and table."""

from __future__ import annotations

import json
import os
import statistics
import sys
import tracemalloc
from collections.abc import Callable
from dataclasses import replace
from operator import attrgetter
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
from rich.console import Console
from rich.text import Text

import comfylog.render.compare
import comfylog.spool
from comfylog.api import analyze
from comfylog.compare import CompareError, Comparison, PromptIndexes, compare_reports, ratio_text
from comfylog.index import index_of
from comfylog.model import PHASES, Prompt, Report
from comfylog.pipeline import let_go
from comfylog.render.compare import compare_json_pieces, comparison_to_dict, render_compare, render_compare_json
from comfylog.spool import Spool

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
    # 015 (HunyuanVideo, A800) against 045 (Wan, A100, died at its sampler's 0/2 after 3.3 s): inference is
    # 3:18 slower, "other" 1:52 faster, the whole prompt 2:02 slower; "198 s of the 122 s gap (162%)" would be
    # the verdict.
    corpus = corpus_or_skip()
    run, baseline = (next((corpus / "logs").glob(f"{n}-*.log")) for n in ("015", "045"))
    text = " ".join(compare_text(run, baseline).split())
    assert "inference alone is 3:18 slower, more than the whole 2:02 gap" in text
    assert "% of the" not in text and "162%" not in text


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


def test_each_figure_is_the_median_of_the_paired_prompts_as_recorded() -> None:
    """compare keeps the prompts' figures, not the prompts: the medians are still those of the records,
    down to how the JSON prints them (a phase that summed nothing is ``0``, not ``0.0``)."""
    corpus = corpus_or_skip()
    reports = {n: analyze(next((corpus / "logs").glob(f"{n}-*.log"))) for n in ("001", "010", "017", "018", "021",
                                                                                  "023")}
    printed = set()
    for run_name, base_name in (("018", "010"), ("001", "021"), ("023", "017")):
        run, base = reports[run_name], reports[base_name]
        c = compare_reports(run, base)
        for report, indexes, side in ((run, c.run_prompts, "run"), (base, c.baseline_prompts, "baseline")):
            paired = [p for p in report.prompts if p.index in set(indexes)]
            assert len(paired) == len(indexes) > 1
            for phase in PHASES:
                figures = [p.phases.get(phase) for p in paired]
                expected = None if None in figures else statistics.median(figures)
                got = json.dumps(getattr(c.phase(phase.value), side))
                assert got == json.dumps(expected), (run_name, base_name, side, phase)
                printed.add(got)
    assert "0" in printed and "null" in printed and len(printed) > 6


class _CountedPrompt(Prompt):
    """A prompt that counts how many of its kind are alive: read back from a spool it is one again
    (model._by_fields pickles a record as its class)."""

    alive = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _CountedPrompt.alive += 1

    def __del__(self) -> None:
        _CountedPrompt.alive -= 1


def test_compare_never_holds_every_prompt_of_both_reports(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two long logs are compared as their prompts' figures, not their prompts (~1 kB each; the 1 GB
    benchmark has 347,000): with each prompt table on disk in blocks of 64 and no block kept decoded,
    at most a few blocks of prompts are alive at any moment of the comparison. Holding the 1,330
    prompts of either side, as a list of them did, fails; the result is the one from tables in memory."""
    log = next((corpus_or_skip() / "logs").glob("038-*.log"))  # 1330 prompts
    block = 64
    monkeypatch.setattr(comfylog.spool, "KEEP_BYTES", 0)
    monkeypatch.setattr(comfylog.spool, "KEEP_FLOOR_BYTES", 0)
    monkeypatch.setattr(comfylog.spool, "PICK_BYTES", 0)
    fields = attrgetter(*Prompt.__slots__)

    def on_disk(report: Report) -> Report:
        counted = Spool((_CountedPrompt(*fields(p)) for p in report.prompts), block=block)
        return replace(report, prompts=counted, index_cache=None)

    run, base = analyze(log), analyze(log)
    in_memory = comparison_to_dict(compare_reports(run, base))
    run, base = on_disk(run), on_disk(base)
    index_of(run), index_of(base)  # as the diagnosis leaves them: indexed
    assert run.prompts.on_disk > 1200 and _CountedPrompt.alive < 4 * block
    most = 0

    def watch(frame: FrameType, event: str, arg: object) -> None:
        nonlocal most
        most = max(most, _CountedPrompt.alive)

    sys.setprofile(watch)
    try:
        c = compare_reports(run, base)
    finally:
        sys.setprofile(None)
    assert len(c.run_prompts) > 1200 and comparison_to_dict(c) == in_memory
    assert most <= 6 * block  # each side: the block being decoded, the one before it, its tail


class _Sink:
    """A text file that keeps only how much was written to it."""

    def __init__(self) -> None:
        self.size = 0

    def write(self, text: str) -> int:
        self.size += len(text)
        return len(text)

    def flush(self) -> None:
        pass


def _peak_while(work: Callable[[], object]) -> int:
    """The most memory (bytes, tracemalloc) allocated at once while ``work`` ran, above what was before."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        work()
        return tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()


def test_two_long_logs_are_compared_without_holding_their_pairs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two 1 GB logs pair 297,000 prompts: their figures (six a side, and the bars') go to spools read
    back once for each median, and the prompts paired are kept a byte each. On log 038 read six times as
    one report a side (7,980 pairs, tables and figures in blocks of 64), holding the figures in arrays
    and the indexes in lists took 215 bytes a pair at the peak; it is now under half of that (the
    sorted figures of one median, 32 bytes a pair, and a few blocks)."""
    log = str(next((corpus_or_skip() / "logs").glob("038-*.log")))
    monkeypatch.setattr(comfylog.spool, "BLOCK", 64)
    monkeypatch.setattr(comfylog.spool, "KEEP_BYTES", 0)
    monkeypatch.setattr(comfylog.spool, "KEEP_FLOOR_BYTES", 0)
    monkeypatch.setattr(comfylog.spool, "PICK_BYTES", 0)
    run, base = analyze([log] * 6), analyze([log] * 6)
    in_memory = comparison_to_dict(compare_reports(run, base))  # and both indexes built, as the diagnosis leaves them
    got: list[Comparison] = []
    peak = _peak_while(lambda: got.append(compare_reports(run, base)))
    c = got[0]
    assert len(c.run_prompts) == len(c.baseline_prompts) == 7980 and list(c.run_prompts) == list(range(7980))
    assert peak < 100 * 7980, peak / 7980
    assert comparison_to_dict(c) == in_memory


def test_the_outputs_write_every_prompt_pair_a_window_at_a_time() -> None:
    """The JSON lists every prompt paired and the terminal prints all their numbers. json.dumps of the
    whole comparison, and the header as one Text, held 6-9 times the text they wrote: four times the
    pairs took four times the memory. Both now write a window at a time, so what they hold does not
    grow with the pairs (rich's caches are bounded), and the bytes are those of the whole: json.dumps,
    and the line as one Text wrapped by rich."""
    log = EXAMPLES / "runpod-lowvram-gguf.log"
    one = compare_reports(analyze(log), analyze(log))

    def with_pairs(count: int) -> Comparison:
        pairs = PromptIndexes(range(count))
        return replace(one, run_prompts=pairs, baseline_prompts=pairs)

    def peaks(write: Callable[[Comparison, _Sink], object]) -> list[float]:
        found = []
        for count in (50_000, 200_000):
            sink, c = _Sink(), with_pairs(count)
            found.append(_peak_while(lambda: write(c, sink)))  # noqa: B023
            assert sink.size > count * 7
        return found

    small, large = peaks(lambda c, sink: [sink.write(piece) for piece in compare_json_pieces(c)])
    assert large < 1.5 * small, (small, large)
    c = with_pairs(5000)
    assert render_compare_json(c) == json.dumps(comparison_to_dict(c), indent=2, ensure_ascii=False)

    small, large = peaks(lambda c, sink: render_compare(c, Console(file=sink, width=120)))  # type: ignore[arg-type]
    assert large < 1.5 * small, (small, large)
    c = with_pairs(100_000)
    windowed, whole = (Console(record=True, width=97, file=_Sink()) for _ in range(2))  # type: ignore[arg-type]
    render_compare(c, windowed)
    numbers = ", ".join(str(i + 1) for i in range(100_000))
    whole.print(Text(f"prompts {numbers} vs prompts {numbers}"))
    assert whole.export_text() in windowed.export_text()


def test_the_first_report_gives_back_what_it_kept_decoded(monkeypatch: pytest.MonkeyPatch) -> None:
    """compare and a page with a baseline hold two reports: the first one's tables kept blocks and
    records decoded within budgets all spools of the process share (spool.py), so the second analysis
    got none and the first report's copies stayed beside it (two 1 GB logs: 11 MB at the peak).
    ``let_go`` gives them back, and the report reads the same afterwards."""
    log = next((corpus_or_skip() / "logs").glob("038-*.log"))
    monkeypatch.setattr(comfylog.spool, "BLOCK", 64)
    before = (comfylog.spool._Kept.total, comfylog.spool._Kept.picked)
    report = analyze(log)
    expected = comparison_to_dict(compare_reports(report, report))
    assert comfylog.spool._Kept.total > before[0]
    let_go(report)
    assert (comfylog.spool._Kept.total, comfylog.spool._Kept.picked) == before
    assert comparison_to_dict(compare_reports(report, report)) == expected


def test_pairing_prompts_of_different_work_is_said() -> None:
    # Corpus 019 against 027 (one machine): 019's first prompt is a Qwen3-TTS job (no model ComfyUI loads, no
    # sampling bar), 027's a Z-Image render: pairing them by position compares different work.
    from .conftest import corpus_log
    comparison = compare_reports(analyze(corpus_log("019")), analyze(corpus_log("027")))
    assert comparison.notes[0].startswith("not the same work: the run's paired prompts loaded no model and "
                                          "sampled nothing, the baseline's sampled")
