"""`comfylog export --format trace`: Trace Event Format files that keep the format's rules (tracecheck.py)
and show what the log shows: prompts with their phases, loads with their MB, the step rate, restarts,
websocket timeouts and findings at their lines, estimated layouts marked as such.

Perfetto's trace processor cannot be installed offline (it downloads its shell binary at run time),
so the structure is checked against the specification by tests/tracecheck.py instead.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

import comfylog
from comfylog.render.trace import render_trace

from .cli import run_cli
from .conftest import CORPUS, EXAMPLES, FIXTURES, corpus_or_skip
from .tracecheck import check_trace

SCENARIOS = CORPUS / "scenarios"
LOWVRAM = SCENARIOS / "runpod-wan-lowvram-gguf.log"
OOM = SCENARIOS / "runpod-wan-oom-restart.log"
BASELINE = SCENARIOS / "local-wan-rtx4090-baseline.log"
EVERY_LOG = (sorted((CORPUS / "logs").glob("*.log")) + sorted(SCENARIOS.glob("*.log")) + sorted(EXAMPLES.glob("*.log"))
             + sorted(FIXTURES.glob("*.log")))


def trace_of(path: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(render_trace(comfylog.analyze(str(path))))
    return doc


def events(doc: dict[str, Any], ph: str, name: str | None = None, cat: str | None = None) -> list[dict[str, Any]]:
    return [e for e in doc["traceEvents"] if e["ph"] == ph and (name is None or e["name"] == name)
            and (cat is None or e.get("cat") == cat)]


def process_names(doc: dict[str, Any]) -> dict[int, str]:
    return {e["pid"]: e["args"]["name"] for e in events(doc, "M", "process_name")}


# ---- the checker itself -----------------------------------------------------------------------------


def test_the_checker_finds_what_breaks_the_format() -> None:
    """Overlap, an unclosed B, float times, a bad scope, a counter without numbers, time going back."""
    bad = {"traceEvents": [
        {"ph": "X", "name": "a", "ts": 0, "dur": 10, "pid": 1, "tid": 1},
        {"ph": "X", "name": "b", "ts": 5, "dur": 10, "pid": 1, "tid": 1},
        {"ph": "B", "name": "c", "ts": 20, "pid": 1, "tid": 2},
        {"ph": "X", "name": "d", "ts": 1.5, "dur": 1, "pid": 1, "tid": 3},
        {"ph": "i", "name": "e", "ts": 30, "pid": 1, "tid": 4, "s": "x"},
        {"ph": "C", "name": "f", "ts": 30, "pid": 1, "args": {"v": "fast"}},
        {"ph": "i", "name": "g", "ts": 10, "pid": 1, "tid": 4},
        {"ph": "M", "name": "thread_name", "pid": 1, "args": {"name": "t"}},
        {"ph": "X", "name": "h", "ts": 40, "pid": 1, "tid": 5},
    ]}
    found = "\n".join(check_trace(bad))
    for expected in ("overlaps", "never closed", "integer microseconds", "s must be", "numeric values",
                     "back in time", "tid missing", "dur"):
        assert expected in found


# ---- every log --------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", EVERY_LOG or [None], ids=lambda p: p.name[:40] if p else "no-corpus")
def test_every_log_exports_a_trace_that_keeps_the_format(path: Path | None) -> None:
    if path is None:
        corpus_or_skip()
        pytest.skip("no logs found")
    report = comfylog.analyze(str(path))
    text = render_trace(report)
    doc = json.loads(text)
    assert check_trace(doc) == []
    assert doc["displayTimeUnit"] == "ms"
    lines = text.split("\n")
    written = [line.removesuffix(",") for line in lines[1:lines.index("],")]]
    assert len(written) == len(doc["traceEvents"])
    for line in written:  # each event, written from templates, is the text json writes for it, one a line
        assert json.dumps(json.loads(line), ensure_ascii=False) == line
    assert len(process_names(doc)) == max(1, len(report.runs))
    prompts = [e for e in events(doc, "X", cat="prompt")] + [e for e in events(doc, "i", cat="prompt")]
    assert len(prompts) == len(report.prompts)
    assert len(events(doc, "i", cat="finding")) == len(report.findings)
    assert len(events(doc, "i", cat="error")) == len(report.errors)
    for prompt in events(doc, "X", cat="prompt"):  # a prompt's phases fill it, in order
        inside = [e for e in events(doc, "X", cat="phase") if e["pid"] == prompt["pid"] and e["tid"] == prompt["tid"]
                  and prompt["ts"] <= e["ts"] < prompt["ts"] + prompt["dur"]]
        if inside:
            assert sum(e["dur"] for e in inside) <= prompt["dur"]


# ---- what the scenarios show ------------------------------------------------------------------------


def test_the_lowvram_run_shows_its_prompt_phases_loads_rate_and_timeouts() -> None:
    corpus_or_skip()
    doc = trace_of(LOWVRAM)
    assert list(process_names(doc).values()) == ["run 1 · NVIDIA GeForce RTX 4090"]
    (run,) = events(doc, "X", "run 1")
    (startup,) = events(doc, "X", "start-up")
    assert run["ts"] == startup["ts"] == 0
    assert startup["dur"] == pytest.approx(19.9e6, abs=0.1e6)  # ready at 20:45:51, started 20:45:31
    (prompt,) = events(doc, "X", "prompt 1")
    assert prompt["dur"] == pytest.approx(650e6, abs=2e6)  # Prompt executed in 00:10:50
    assert prompt["args"]["status"] == "ok"
    phases = {name: sum(e["dur"] for e in events(doc, "X", name, "phase")) / 1e6
              for name in ("load", "inference", "wait", "other")}
    assert phases["load"] == pytest.approx(357, abs=15)
    assert phases["inference"] == pytest.approx(223, abs=1)
    assert phases["wait"] == pytest.approx(60, abs=15)
    assert sum(phases.values()) == pytest.approx(prompt["dur"] / 1e6, abs=0.01)
    loads = events(doc, "X", cat="load")
    assert [e["args"]["model"] for e in loads][:2] == ["WanTEModel", "WanVAE"]
    assert {e["args"]["kind"] for e in loads} >= {"complete", "partial"}
    assert any(e["args"]["loaded_mb"] == pytest.approx(125.53, abs=0.01) for e in loads)
    # the WanVAE's partial load runs on through the lowvram module lines (20:47:06 -> 20:51:45)
    vae = next(e for e in loads if e["args"]["model"] == "WanVAE")
    assert vae["dur"] == pytest.approx(279e6, abs=2e6)
    (bar,) = events(doc, "X", cat="bar")
    assert bar["dur"] == 223_240_000 and bar["args"]["rate"] == "111.62s/it"  # 2 x 111.62 s; tqdm printed 03:43
    rates = [e["args"]["it/s"] for e in events(doc, "C", "step rate")]
    assert rates == [pytest.approx(1 / 111.62, abs=1e-4), 0]
    assert len(events(doc, "i", "websocket receive timed out")) == 6
    assert doc["otherData"]["estimated"] == "no"


def test_findings_are_instants_at_their_first_line_with_their_evidence() -> None:
    corpus_or_skip()
    doc = trace_of(LOWVRAM)
    lowvram = next(e for e in events(doc, "i", cat="finding") if e["name"] == "finding: lowvram")
    assert "only 128 MB of VRAM" in lowvram["args"]["title"]
    # in line order: the vram state that rules out --lowvram, then the first partial load (where the instant is)
    assert lowvram["args"]["evidence"][:2] == ["20: Set vram state to: NORMAL_VRAM",
                                               "58: loaded partially 128.0 125.5274658203125 0"]
    assert lowvram["args"]["evidence"][-1].endswith("more lines")
    assert lowvram["args"]["advice"]
    line_58 = datetime(2025, 10, 22, 20, 47, 6, 113092) - datetime(2025, 10, 22, 20, 45, 31, 168209)
    assert lowvram["ts"] == pytest.approx(line_58.total_seconds() * 1e6, abs=1)  # at its line's time


def test_a_restart_opens_a_second_process_and_the_dead_prompt_is_marked() -> None:
    corpus_or_skip()
    doc = trace_of(OOM)
    names = process_names(doc)
    assert names == {1: "run 1 · NVIDIA GeForce RTX 4090", 2: "run 2 · NVIDIA GeForce RTX 4090 (after a restart)"}
    (restart,) = events(doc, "i", "restart")
    assert restart["pid"] == 2
    (run2,) = events(doc, "X", "run 2")
    assert restart["ts"] == run2["ts"] == pytest.approx(71e6, abs=1e6)  # banners at 16:27:03 and 16:28:14
    (dead,) = events(doc, "i", "prompt 1 did not finish")
    (prompt,) = events(doc, "X", "prompt 1")
    assert dead["pid"] == 1 and dead["ts"] == prompt["ts"] + prompt["dur"]
    (sampling,) = [e for e in events(doc, "X", cat="bar") if e["name"].startswith("sampling")]
    assert sampling["args"]["steps"] == "0/3"
    assert sampling["dur"] == pytest.approx(11.1e6, abs=0.1e6)  # 16:28:02.05 -> 16:28:13.14
    (finding,) = events(doc, "i", "finding: oom-suspected")
    assert finding["ts"] == pytest.approx(sampling["ts"], abs=2e3)  # `Sampling 121 frames at 704x704 with 3 steps`
    assert any("Sampling 121 frames at 704x704 with 3 steps" in line for line in finding["args"]["evidence"])


# ---- clocks -----------------------------------------------------------------------------------------


def test_a_minute_stamped_log_is_marked_estimated_and_laid_out_at_its_minutes() -> None:
    corpus = corpus_or_skip()
    path = next((corpus / "logs").glob("003-*.log"))
    report = comfylog.analyze(str(path))
    doc = json.loads(render_trace(report))
    assert doc["otherData"]["estimated"] == "yes"
    (labels,) = events(doc, "M", "process_labels")
    assert "minute timestamps" in labels["args"]["labels"] and "(estimated)" in labels["args"]["labels"]
    prompts = events(doc, "X", cat="prompt")
    assert prompts and all("estimated" in p["args"] for p in prompts)
    origin = min(r.started_at for r in report.runs if r.started_at)
    for p, e in zip(report.prompts, sorted(prompts, key=lambda e: e["ts"]), strict=False):
        assert p.got_at is not None
        assert e["ts"] >= round((p.got_at - origin).total_seconds() * 1e6)  # never before the minute it came in
    ends = [e["ts"] + e["dur"] for e in sorted(prompts, key=lambda e: e["ts"])]
    assert all(b["ts"] >= a for a, b in zip(ends, sorted(prompts, key=lambda e: e["ts"])[1:], strict=False))


def test_a_log_without_timestamps_is_laid_out_back_to_back() -> None:
    corpus = corpus_or_skip()
    path = next((corpus / "logs").glob("010-*.log"))
    doc = trace_of(path)
    assert "no timestamps" in doc["otherData"]["clock"] and doc["otherData"]["estimated"] == "yes"
    prompts = sorted(events(doc, "X", cat="prompt"), key=lambda e: e["ts"])
    assert prompts[0]["ts"] == 0
    for a, b in zip(prompts, prompts[1:], strict=False):
        assert b["ts"] == a["ts"] + a["dur"]


def test_a_time_only_log_is_marked_as_having_no_date(tmp_path: Path) -> None:
    """The lowvram scenario with its docker prefixes cut to the time of day (``[20:45:31.168]``)."""
    corpus_or_skip()
    text = re.sub(r"^\d{4}-\d{2}-\d{2}T(\d{2}:\d{2}:\d{2}\.\d{3})\d*Z ", r"[\1] ", LOWVRAM.read_text("utf-8"),
                  flags=re.M)
    log = tmp_path / "time-only.log"
    log.write_text(text, encoding="utf-8")
    doc = trace_of(log)
    assert check_trace(doc) == []
    assert "time of day only" in doc["otherData"]["clock"] and doc["otherData"]["estimated"] == "yes"
    (prompt,) = events(doc, "X", "prompt 1")
    assert prompt["dur"] == pytest.approx(650e6, abs=2e6)


def test_phases_that_could_not_be_timed_are_shown_as_such() -> None:
    """Phases become None where they cannot be timed (the verdicts work): the trace says "not timed"."""
    corpus = corpus_or_skip()
    report = comfylog.analyze(str(next((corpus / "logs").glob("003-*.log"))))
    for prompt in report.prompts:
        prompt.phases.other = None  # type: ignore[assignment]
    doc = json.loads(render_trace(report))
    assert check_trace(doc) == []
    assert events(doc, "X", "not timed", "phase")
    assert all(e["args"]["phases_s"]["other"] is None for e in events(doc, "X", cat="prompt"))


# ---- the command ------------------------------------------------------------------------------------


def test_export_writes_a_trace_file_and_to_standard_output(tmp_path: Path) -> None:
    corpus_or_skip()
    out = tmp_path / "run.trace.json"
    done = run_cli("export", str(LOWVRAM), "--format", "trace", "-o", str(out), text=True)
    assert done.returncode == 0, done.stderr
    assert check_trace(json.loads(out.read_text("utf-8"))) == []
    piped = run_cli("export", str(LOWVRAM), "--format", "trace", "-o", "-", text=True)
    assert piped.returncode == 0
    assert json.loads(str(piped.stdout)) == json.loads(out.read_text("utf-8"))
    into_dir = run_cli("export", str(LOWVRAM), "--format", "trace", "-o", str(tmp_path), text=True)
    assert into_dir.returncode == 2 and "names the trace file" in str(into_dir.stderr)


def test_a_fleet_is_one_process_per_log_on_one_clock(tmp_path: Path) -> None:
    corpus_or_skip()
    out = tmp_path / "fleet.trace.json"
    done = run_cli("export", str(SCENARIOS), "--format", "trace", "-o", str(out), "-j", "1", text=True)
    assert done.returncode == 0, done.stderr
    doc = json.loads(out.read_text("utf-8"))
    assert check_trace(doc) == []
    names = process_names(doc)
    assert sorted(names.values()) == ["local-wan-rtx4090-baseline.log · NVIDIA GeForce RTX 4090",
                                      "runpod-wan-lowvram-gguf.log · NVIDIA GeForce RTX 4090",
                                      "runpod-wan-oom-restart.log · NVIDIA GeForce RTX 4090"]
    runs = {e["pid"]: e["ts"] for e in events(doc, "X", "run 1")}
    by_name = {names[pid].split(" ·")[0]: ts for pid, ts in runs.items()}
    assert by_name["local-wan-rtx4090-baseline.log"] == 0  # the earliest log starts the clock
    gap = datetime(2025, 10, 22, 20, 45, 31, 168209) - datetime(2025, 10, 22, 18, 2, 11, 402000)
    assert by_name["runpod-wan-lowvram-gguf.log"] == pytest.approx(gap.total_seconds() * 1e6, abs=1e3)
    oom = [pid for pid, name in names.items() if name.startswith("runpod-wan-oom")][0]
    assert {e["name"] for e in events(doc, "X", cat="run") if e["pid"] == oom} == {"run 1", "run 2"}


# ---- where instants that wait for a line land -------------------------------------------------------

from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from comfylog.render.trace import _Anchors, _num, _str  # noqa: E402

_POINTS = st.lists(st.tuples(st.integers(0, 3), st.integers(1, 60), st.integers(0, 10_000)), max_size=60)
@given(value=st.one_of(st.none(), st.floats(), st.integers(-2**70, 2**70)), text=st.text())
def test_numbers_and_strings_in_an_events_text_are_spelt_as_json_spells_them(value: float | None, text: str) -> None:
    """The trace writes its events from templates: a number (NaN, infinities, -0.0 too), None and a string
    (lone surrogates too) as ``json.dumps`` would."""
    assert _num(value) == json.dumps(value)
    assert _str(text) == json.dumps(text, ensure_ascii=False)


_WAITING = st.lists(st.tuples(st.integers(0, 3), st.integers(1, 60)), max_size=20)


@given(placed=_POINTS, waiting=_WAITING, cut=st.integers(1, 61))
def test_a_waiting_line_gets_the_latest_placed_line_at_or_before_it(
    placed: list[tuple[int, int, int]], waiting: list[tuple[int, int]], cut: int,
) -> None:
    """Kept incrementally (one point per waiting line, resolved in two steps as runs are laid out), the
    answer is the one of sorting every placed line and bisecting: the latest (line, time) at or before
    the waiting line, else the source's first placed line."""
    anchors = _Anchors(waiting)
    early = [p for p in placed if p[1] < cut]  # the lines of the runs laid out before the first step
    for source, line, at in early:
        anchors.add(source, line, at)
    got: dict[tuple[int, int], int | None] = {}
    for source in {s for s, _ in waiting}:
        got.update({(source, line): at for line, at in anchors.resolve(source, cut)})
    for source, line, at in placed:
        if line >= cut:
            anchors.add(source, line, at)
    for source in {s for s, _ in waiting}:
        got.update({(source, line): at for line, at in anchors.resolve(source, None)})
    for source, line in waiting:
        points = sorted((ln, at) for s, ln, at in placed if s == source)
        before = [p for p in points if p[0] <= line]
        expected = before[-1][1] if before else points[0][1] if points else None
        assert got[(source, line)] == expected
