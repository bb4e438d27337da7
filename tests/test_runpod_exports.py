"""RunPod's other log shapes: the web console's copy and the API's log stream.

Real samples (tests/fixtures/README.md names their sources): a 2024 copy from the console puts each
cell on a line of its own (time, ``[worker]``, ``[level]``, message); today's worker view shows
``<RFC 3339 time> [info] message``; the log stream (API v2 SSE, docs.runpod.io/api-reference-v2/pods/
stream-pod-logs) sends ``id: <ts>/<seq>`` and ``data: {"ts","source","line"}`` events. The one-row copy
``2025-11-10  21:50:27.563 | info | x4twfmpe23foac | message\\n`` (issue 13) has no real sample. Besides
the fixtures, the real docker-stamped RunPod logs of the corpus are turned into each shape and must
tell the same story as the logs they came from.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest

from comfylog.api import analyze
from comfylog.events import Event, EventKind
from comfylog.model import Report
from comfylog.parse import Parser
from comfylog.read.lines import lines_at, read_lines
from comfylog.read.prefixes import PrefixReader
from comfylog.watch.analysis import LiveAnalysis

from .cli import run_cli
from .conftest import ROOT, corpus_or_skip

DOCKER_LINE_RE = re.compile(r"^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})\.(\d{3})\d*Z ?(.*)$")
# RunPod logs in the corpus with docker stamps: a serverless job, an error, two jobs, a restart loop,
# a long video render with tqdm bars drawn by carriage returns.
DOCKER_LOGS = [
    "042-ultimatech-runpod-serverless-worker-comfyui-job.log",
    "043-nohaxjsutluck-runpod-restart-loop-6-cuda-banners.log",
    "044-nohaxjsutluck-runpod-serverless-job-error.log",
    "045-abhishekmanyam-runpod-a100-wan-infinitetalk-801frames.log",
    "047-nexevonai-runpod-serverless-two-jobs-warm-worker.log",
]


def console_copy(docker_log: str, newest_first: bool = True) -> str:
    """The console's rows for a docker-stamped log (read as bytes: tqdm's carriage returns are kept).

    A traceback is one write, so one row."""
    rows: list[tuple[str, list[str]]] = []
    in_traceback = False
    for line in docker_log.split("\n"):
        m = DOCKER_LINE_RE.match(line.rstrip("\r"))
        if m is None:
            continue
        stamp, text = f"{m.group(1)}  {m.group(2)}.{m.group(3)}", m.group(4)
        if in_traceback and rows and (text.startswith((" ", "\t")) or not rows[-1][1][-1].strip()):
            rows[-1][1].append(text)
            continue
        if in_traceback and rows:
            rows[-1][1].append(text)  # the exception line ends the write
            in_traceback = False
            continue
        in_traceback = text.startswith("Traceback (most recent call last):")
        rows.append((stamp, [text]))
    out = [
        f"{stamp} | info | x4twfmpe23foac | " + "\\n".join(t.replace("\r", "\\r") for t in texts) + "\\n"
        for stamp, texts in rows
    ]
    return "\n".join(reversed(out) if newest_first else out) + "\n"


def stacked_copy(docker_log: str) -> str:
    """The console's copy of a docker-stamped log as worker-comfyui#79 shows one: each record's time,
    worker and level on lines of their own, then the message; newest record first."""
    records = []
    for line in docker_log.split("\n"):
        m = DOCKER_LINE_RE.match(line.rstrip("\r"))
        if m is not None and m.group(4).strip():
            records.append(f"{m.group(1)} {m.group(2)}.{m.group(3)}\n[x4twfmpe23foac]\n[info]\n{m.group(4)}\n")
    return "".join(reversed(records))


def story(report: Report) -> dict[str, object]:
    """What a reader takes away: runs, prompts and how they ended, bars, loads, errors, findings."""
    return {
        "runs": [(r.gpu, r.total_vram_mb, r.restart) for r in report.runs],
        "prompts": [(p.status, p.executed_s, p.cold) for p in report.prompts],
        "bars": [(b.label, b.total, b.done) for b in report.progress_bars],
        "loads": [(ld.model, ld.kind, ld.loaded_mb) for ld in report.loads],
        "errors": [(e.kind, e.message) for e in report.errors],
        "findings": [f.id for f in report.findings],
    }


@pytest.mark.parametrize("shape", [console_copy, stacked_copy], ids=["one-row", "cells-on-lines"])
@pytest.mark.parametrize("name", DOCKER_LOGS)
def test_a_newest_first_console_copy_tells_the_story_of_its_log(
    name: str, shape: Callable[[str], str], tmp_path: Path
) -> None:
    original = corpus_or_skip() / "logs" / name
    copy = tmp_path / "console.txt"
    copy.write_text(shape(original.read_bytes().decode("utf-8", errors="replace")), encoding="utf-8")
    want, got = analyze(str(original)), analyze(str(copy))
    assert story(got) == story(want)
    assert got.sources[0].newest_first and set(got.sources[0].timestamp_styles) == {"runpod-console"}
    # Times kept to the millisecond the console shows.
    assert got.summary.span_s == pytest.approx(want.summary.span_s, abs=0.002)


FIXTURES = ROOT / "tests" / "fixtures"


def test_the_2024_console_copy_is_one_line_with_its_time() -> None:
    """worker-comfyui#79: ``2024-11-19 14:00:45.074`` / ``[c7msa02ut39p9w]`` / ``[info]`` / the message."""
    _, lines = read_lines(str(FIXTURES / "runpod-console-copy-2024.txt"))
    raw = list(lines)
    assert [r.number for r in raw] == [1]
    read = PrefixReader().read(raw[0].text)
    assert (read.ts, read.style) == (datetime(2024, 11, 19, 14, 0, 45, 74000), "runpod-console")
    assert read.text.startswith("invalid prompt: {'type': 'invalid_prompt', 'message': 'Cannot execute because "
                                "node FaceDetailer does not exist.'")
    parser = Parser(0)
    items = [*parser.feed(raw[0]), *parser.close()]
    assert [it.kind for it in items if isinstance(it, Event)] == [EventKind.PROMPT_INVALID]


def test_a_rejected_prompt_whose_got_prompt_is_not_in_the_log_is_still_a_finding() -> None:
    """The copy holds the rejection alone: it is ComfyUI's, it is an error, and the node it names is the fix."""
    report = analyze(str(FIXTURES / "runpod-console-copy-2024.txt"))
    assert [(e.kind, e.prompt, e.line) for e in report.errors] == [("validation", None, 1)]
    assert report.errors[0].message == "Cannot execute because node FaceDetailer does not exist."
    finding = next(f for f in report.findings if f.id == "validation-failed")
    assert "1 prompt rejected whose `got prompt` is not in the log" in finding.title
    assert "`FaceDetailer`" in finding.advice[0] and "Install Missing Custom Nodes" in finding.advice[0]
    assert run_cli("analyze", str(FIXTURES / "runpod-console-copy-2024.txt")).returncode == 0  # not "not a ComfyUI log"


def test_the_2026_worker_view_finds_the_failed_fitness_check() -> None:
    """``<time> [error] Fitness check failed: ...``: the console's level tag does not hide the message."""
    report = analyze(str(FIXTURES / "runpod-console-worker-view-2026.log"))
    assert [(e.kind, e.message, e.line) for e in report.errors] == [
        ("unhealthy", "_cuda_init_check | RuntimeError: CUDA initialization failed", 7),
        ("unhealthy", "the worker failed its fitness checks and exited", 8),
        ("worker_exited", "worker exited with exit code 1", 9),  # RunPod's own line
    ]
    assert (report.sources[0].first_at, report.sources[0].last_at) == (
        datetime(2026, 6, 4, 13, 16, 48, 452000), datetime(2026, 6, 4, 13, 17, 6, 800000))


def test_a_saved_log_stream_in_the_docs_shape_tells_the_story_of_its_lines(tmp_path: Path) -> None:
    """Events as the API's docs show them (``id: <ts>/<seq>``, compact ``{"ts","source","line"}``) read
    as the docker-stamped lines they carry."""
    stream = FIXTURES / "runpod-log-stream.sse"
    events = [json.loads(t[len("data: "):]) for t in stream.read_text(encoding="utf-8").splitlines()
              if t.startswith("data: ")]
    docker = tmp_path / "docker.log"
    docker.write_text("".join(f"{e['ts']} {e['line']}\n" for e in events), encoding="utf-8")
    want, got = analyze(str(docker)), analyze(str(stream))
    assert story(got) == story(want)
    assert set(got.sources[0].timestamp_styles) == {"runpod-stream"}
    assert got.summary.span_s == want.summary.span_s
    assert [(p.status, p.executed_s) for p in got.prompts] == [("error", 2.29)]
    # a finding's evidence names the stream's own line: the data line of the event
    lines = stream.read_text(encoding="utf-8").splitlines()
    for f in got.findings:
        for ev in f.evidence:
            assert lines[ev.line - 1].startswith("data: ") and ev.text.strip() in lines[ev.line - 1]


def test_an_oldest_first_console_copy_is_read_in_its_own_order(tmp_path: Path) -> None:
    original = corpus_or_skip() / "logs" / DOCKER_LOGS[-1]
    copy = tmp_path / "console.txt"
    copy.write_text(console_copy(original.read_bytes().decode("utf-8"), newest_first=False), encoding="utf-8")
    got = analyze(str(copy))
    assert not got.sources[0].newest_first
    assert story(got) == story(analyze(str(original)))


def test_line_numbers_count_the_console_lines_in_time_order(tmp_path: Path) -> None:
    original = corpus_or_skip() / "logs" / "044-nohaxjsutluck-runpod-serverless-job-error.log"
    copy = tmp_path / "console.txt"
    copy.write_text(console_copy(original.read_bytes().decode("utf-8")), encoding="utf-8")
    _, lines = read_lines(str(copy))
    texts = {raw.number: raw.text for raw in lines}
    assert list(texts) == list(range(1, len(texts) + 1))
    assert texts[1].startswith("2026-01-02  08:36:08.747 | info | x4twfmpe23foac | ====")
    report = analyze(str(copy))
    evidence = {e.line: e.text for f in report.findings for e in f.evidence}
    assert evidence, "044 has findings with evidence"
    back = lines_at(str(copy), set(evidence))
    for number, text in evidence.items():
        assert text.strip() in back[number], (number, text, back.get(number))


def test_a_console_copy_on_stdin_is_reversed_too() -> None:
    original = corpus_or_skip() / "logs" / "047-nexevonai-runpod-serverless-two-jobs-warm-worker.log"
    text = console_copy(original.read_bytes().decode("utf-8"))
    result = run_cli("analyze", "-", "--format", "json", stdin=text, text=True)
    assert result.returncode == 0, result.stderr
    assert '"newest_first": true' in str(result.stdout)


def test_a_log_whose_rows_only_look_like_the_console_is_left_alone(tmp_path: Path) -> None:
    # a table in a pasted note: the same prefix shape, but no newline written out
    p = tmp_path / "a.log"
    p.write_text("2025-11-10  21:50:27.563 | info | w | got prompt\n"
                 "2025-11-10  21:50:29.000 | info | w | Prompt executed in 1.40 seconds\n", encoding="utf-8")
    report = analyze(str(p))
    assert not report.sources[0].newest_first
    assert [pr.executed_s for pr in report.prompts] == [1.4]



def log_stream(docker_log: str, sse: bool) -> str:
    """The log-stream events of a docker-stamped log: ``ts`` RFC 3339 in UTC, the line as written."""
    out = []
    for line in docker_log.split("\n"):
        m = DOCKER_LINE_RE.match(line.rstrip("\r"))
        if m is None:
            continue
        ts = line.split(" ", 1)[0]
        event = json.dumps({"source": "container", "line": m.group(4), "ts": ts})
        out += [f"id: {ts}", f"data: {event}", ""] if sse else [event]
    return "\n".join(out) + "\n"


@pytest.mark.parametrize("sse", [False, True], ids=["json-lines", "sse"])
@pytest.mark.parametrize("name", DOCKER_LOGS)
def test_the_log_stream_of_a_worker_tells_the_story_of_its_log(name: str, sse: bool, tmp_path: Path) -> None:
    original = corpus_or_skip() / "logs" / name
    stream = tmp_path / "stream.jsonl"
    stream.write_text(log_stream(original.read_bytes().decode("utf-8", errors="replace"), sse), encoding="utf-8")
    want, got = analyze(str(original)), analyze(str(stream))
    assert story(got) == story(want)
    assert set(got.sources[0].timestamp_styles) == {"runpod-stream"}
    assert got.summary.span_s == want.summary.span_s  # the stream keeps docker's nanoseconds


def test_watch_of_a_piped_log_stream_makes_the_report_analyze_makes(tmp_path: Path) -> None:
    """``curl -N .../logs | comfylog watch -``: the framing arrives line by line, as analyze skips it."""
    original = corpus_or_skip() / "logs" / "047-nexevonai-runpod-serverless-two-jobs-warm-worker.log"
    stream = tmp_path / "stream.sse"
    stream.write_text(log_stream(original.read_bytes().decode("utf-8"), sse=True), encoding="utf-8")
    analysis = LiveAnalysis(str(stream))
    try:
        for line in stream.read_bytes().splitlines(keepends=True):
            analysis.feed(line)
            analysis.take()
        got = analysis.finish(b"")
    finally:
        analysis.close()
    assert story(got) == story(analyze(str(original)))
