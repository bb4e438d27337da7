"""Bad and hostile input, from bytes to JSON, terminal and HTML: nothing raises, the valid parts are
analysed, and the counts say what was lost.

Property tests (hypothesis) feed random bytes mixed with pieces of real log lines; the cases after
them are the bad inputs the SECURITY.md table lists, one test (or more) each. Every case runs the
real reader, parser and segmenter; the CLI cases run the installed command.
"""

from __future__ import annotations

import gzip
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.console import Console

from comfylog.api import analyze
from comfylog.model import Report
from comfylog.parse.progress import PROGRESS_EXAMPLE
from comfylog.parse.table import PATTERNS
from comfylog.pipeline import analyze_paths
from comfylog.read.source import UnusableInput
from comfylog.read.streams import GZIP_RATIO_FLOOR, MAX_GZIP_RATIO, looks_binary, utf16_encoding
from comfylog.render.html import render_html
from comfylog.render.terminal import render_terminal
from comfylog.rows import report_to_dict

from .cli import run_cli
from .conftest import CORPUS, EXAMPLES, corpus_log, corpus_or_skip

# ---- invariants every report must keep ------------------------------------------------------------


def check_report(report: Report) -> dict[str, Any]:
    """What any report must satisfy, however bad its input; returns its JSON object."""
    data = report_to_dict(report)
    json.dumps(data, allow_nan=False)  # serialisable, no NaN or infinity
    lines = sum(src.lines for src in report.sources)
    for prompt in report.prompts:
        phases = prompt.phases
        known = [v for v in (phases.load, phases.inference, phases.wait, phases.other) if v is not None]
        assert min(known, default=0.0) >= 0, prompt
        if prompt.total_s is not None:
            assert prompt.total_s >= 0
            if phases.timed:  # timed phases add up to the total; untimed ones leave part of it unknown
                assert abs(phases.total - prompt.total_s) <= 0.01 + 1e-6 * prompt.total_s, prompt
            else:
                assert phases.total <= prompt.total_s + 0.01, prompt
        assert 1 <= prompt.line <= max(lines, 1)
    for run in report.runs:
        for value in (run.startup_s, run.idle_s, run.span_s):
            assert value is None or value >= 0, run
    for bar in report.progress_bars:
        assert bar.elapsed_s >= 0 and 1 <= bar.line <= max(lines, 1)
    for finding in report.findings:
        assert finding.evidence and finding.cost_s >= 0, finding
    return data


def render_all(report: Report, html: bool = False) -> None:
    console = Console(width=120, record=True, file=open(os.devnull, "w"))  # noqa: SIM115
    render_terminal(report, console, 40)
    console.export_text()
    if html:
        page = render_html(report)
        assert page.rstrip().endswith("</html>")


def analyze_bytes(tmp: Path, data: bytes, name: str = "fuzz.log") -> Report | None:
    """The report of ``data`` read as a file, or None when it is refused as unusable (binary)."""
    path = tmp / name
    path.write_bytes(data)
    try:
        return analyze(path)
    except UnusableInput as exc:
        assert str(exc).startswith(str(path)) and "\n" not in str(exc)
        return None


# ---- property tests ------------------------------------------------------------------------------

REAL_LINES = [p.example for p in PATTERNS] + [
    PROGRESS_EXAMPLE, "100%|██████████| 20/20 [00:05<00:00,  3.85it/s]", "Traceback (most recent call last):",
    '  File "/comfy/execution.py", line 327, in execute', "torch.OutOfMemoryError: CUDA out of memory.",
    # frames whose path names the code's owner (a library, a custom node), from corpus 043 and 003
    '  File "/usr/local/lib/python3.10/dist-packages/transformers/utils/generic.py", line 465, in <module>',
    '  File "C:\\Project\\SD\\ComfyFlux\\ComfyUI\\custom_nodes\\ComfyUI-IF_AI_tools\\IFChatPromptNode.py", line 53, '
    'in __init__', "site-packages", "custom_nodes", "/", "\\",
    "```", "# ComfyUI Error Report", "- **Exception Type:** RuntimeError", "==========",
]
PREFIXES = ["", "2025-10-23T16:28:02.618719777Z ", "[2025-10-22 18:04:30.118] ", "[2024-03-23 21:53] ",
            "2024-12-17T21:15:37.373432 - ", "[20:46:09] ", "23:59:59 ", "\x1b[32m[INFO]\x1b[0m ", "ERROR:root:"]
PIECES = st.one_of(
    st.binary(max_size=40),
    st.sampled_from(REAL_LINES).map(lambda s: s.encode("utf-8")),
    st.sampled_from(PREFIXES).map(lambda s: s.encode("utf-8")),
    st.sampled_from([b"\n", b"\r\n", b"\r", b"\x00", b"\x1b[", b"\xff\xfe", b"\xe2\x96", b"%|", b"<script>"]),
    st.sampled_from(["é", "█", "中文", "\U0001f600"]).map(lambda s: s.encode("utf-8")),
    st.sampled_from(["é", "█"]).map(lambda s: s.encode("cp1252", errors="replace")),
)
LOGS = st.lists(PIECES, max_size=60).map(b"".join)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(LOGS)
def test_any_bytes_analyse_and_render_without_raising(tmp_path: Path, data: bytes) -> None:
    report = analyze_bytes(tmp_path, data)
    if report is None:
        assert looks_binary(data[: 1 << 20].removeprefix(b"\xef\xbb\xbf")) or data[:2] == b"\x1f\x8b"
        return
    check_report(report)
    render_all(report)
    if data.startswith((b"\x1f\x8b", b"\xff\xfe", b"\xfe\xff", b"\xef\xbb\xbf")) or utf16_encoding(data[:512]):
        return
    # every invalid UTF-8 byte is counted, once
    invalid = sum(1 for c in data.decode("utf-8", errors="surrogateescape") if "\udc80" <= c <= "\udcff")
    assert report.summary.replaced_bytes == invalid


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(LOGS)
def test_any_bytes_make_an_html_page_that_runs_none_of_them(tmp_path: Path, data: bytes) -> None:
    report = analyze_bytes(tmp_path, b"!!! Exception during processing !!! <script>alert(1)</script>\n" + data)
    assert report is not None
    page = render_html(report)
    assert "<script>alert(1)" not in page  # never run
    # shown, escaped, when the report kept it (random data may make the file a pasted report
    # whose log is fenced, or turn the exception into a custom node's import failure)
    if any("alert(1)" in e.message for e in report.errors):
        assert "alert(1)" in page


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.integers(-100_000, 300_000), st.sampled_from(REAL_LINES)), max_size=40))
def test_timestamps_that_go_backwards_or_jump_days(tmp_path: Path, steps: list[tuple[int, str]]) -> None:
    """Docker-prefixed lines whose clock jumps by up to 3.5 days either way between lines."""
    from datetime import datetime, timedelta

    at = datetime(2025, 10, 23, 16, 0, 0)
    lines = []
    for seconds, text in steps:
        at += timedelta(seconds=seconds)
        lines.append(f"{at.isoformat()}.000000000Z {text}")
    report = analyze_bytes(tmp_path, ("\n".join(lines) + "\n").encode("utf-8"))
    assert report is not None
    check_report(report)


# ---- the cases of the SECURITY.md table ----------------------------------------------------------


def corpus_logs() -> list[Path]:
    return sorted((CORPUS / "logs").glob("*.log")) + sorted((CORPUS / "scenarios").glob("*.log"))


def line_kinds(path: Path) -> dict[str, int]:
    """For each kind of line in ``path`` (pattern name, bar, traceback line, blank), its first line index."""
    from comfylog.parse.table import find_message

    kinds: dict[str, int] = {}
    for i, line in enumerate(path.read_text(encoding="utf-8", errors="replace").split("\n")):
        found = find_message(line)
        kind = (found[0].name if found else "bar" if "%|" in line else "traceback" if line.startswith("  File ")
                else "blank" if not line.strip() else "other")
        kinds.setdefault(kind, i)
    return kinds


def test_real_logs_cut_in_the_middle_of_every_kind_of_line(tmp_path: Path) -> None:
    """Each kind of line of every real log, cut in its middle (as a crash or a paste would cut it)."""
    corpus_or_skip()
    cuts = 0
    kinds: set[str] = set()
    for path in corpus_logs():
        raw = path.read_bytes()
        full = analyze(path)
        starts = [0] + [i + 1 for i, b in enumerate(raw) if b == 10]
        for kind, index in line_kinds(path).items():
            if index + 1 >= len(starts):
                continue
            start, end = starts[index], starts[index + 1]
            cut = raw[: start + max(1, (end - start) // 2)]
            report = analyze_bytes(tmp_path, cut, f"cut-{kind}.log")
            assert report is not None, (path.name, kind)
            check_report(report)
            before = analyze_bytes(tmp_path, raw[:start], "before.log") if start else None
            got = report.summary.got_prompt
            assert (before.summary.got_prompt if before else 0) <= got <= full.summary.got_prompt, (path.name, kind)
            assert report.sources[0].lines == index + 1
            cuts += 1
            kinds.add(kind)
    assert cuts > 250 and len(kinds) >= 25, (cuts, sorted(kinds))


def test_a_truncated_gzip_keeps_what_precedes_the_cut(tmp_path: Path) -> None:
    corpus_or_skip()
    raw = (CORPUS / "logs" / "012-liquid-rx7900xtx-95prompts.log").read_bytes()
    packed = gzip.compress(raw)
    report = analyze_bytes(tmp_path, packed[: len(packed) // 2], "cut.log.gz")
    assert report is not None and report.sources[0].stopped is not None and "cut short" in report.sources[0].stopped
    full = analyze_paths([str(CORPUS / "logs" / "012-liquid-rx7900xtx-95prompts.log")])
    assert 20 < report.summary.got_prompt < full.summary.got_prompt
    check_report(report)


def test_a_damaged_gzip_keeps_what_precedes_the_damage(tmp_path: Path) -> None:
    corpus_or_skip()
    raw = (CORPUS / "logs" / "012-liquid-rx7900xtx-95prompts.log").read_bytes()
    packed = bytearray(gzip.compress(raw))
    for i in range(len(packed) // 2, len(packed) // 2 + 64):
        packed[i] ^= 0x5A
    report = analyze_bytes(tmp_path, bytes(packed), "damaged.log.gz")
    assert report is not None and report.sources[0].stopped and "damaged" in report.sources[0].stopped
    assert report.summary.got_prompt > 20
    check_report(report)


def test_a_gz_that_is_not_gzip_is_unusable_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "fake.gz"
    path.write_bytes(b"\x1f\x8b" + b"this is no deflate stream\n" * 10)
    with pytest.raises(UnusableInput, match=r"fake.gz: cannot read \(not a valid gzip file"):
        analyze(path)


def test_a_decompression_bomb_stops_at_the_ratio_and_counts_what_it_dropped(tmp_path: Path) -> None:
    """A 200 kB .gz of 200 MB of newlines: stopped after GZIP_RATIO_FLOOR bytes, the rest counted, in seconds."""
    bomb = gzip.compress(b"got prompt\n" + b"\n" * 200_000_000, 9)
    started = time.perf_counter()
    report = analyze_bytes(tmp_path, bomb, "bomb.log.gz")
    elapsed = time.perf_counter() - started
    assert report is not None and report.summary.got_prompt == 1
    source = report.sources[0]
    assert source.stopped is not None and f"{MAX_GZIP_RATIO} times" in source.stopped
    assert GZIP_RATIO_FLOOR - 100 <= source.lines <= GZIP_RATIO_FLOOR + (1 << 20)
    assert 0.8 * len(bomb) < source.dropped_bytes < len(bomb)
    assert elapsed < 30
    assert "compressed bytes not read" in " ".join(_terminal(report).split())


def test_gzip_members_and_zero_padding(tmp_path: Path) -> None:
    data = gzip.compress(b"got prompt\n") + b"\x00" * 64 + gzip.compress(b"Prompt executed in 2.50 seconds\n")
    report = analyze_bytes(tmp_path, data + b"\x00" * 512, "members.gz")
    assert report is not None and report.prompts[0].executed_s == 2.5 and report.sources[0].stopped is None


def test_a_ten_megabyte_line_of_progress_states_is_cut_and_counted(tmp_path: Path) -> None:
    state = "\r 50%|█████     | 1/2 [01:57<01:57, 117.60s/it]"
    line = "Sampling" + state * (10_000_000 // len(state))
    data = f"got prompt\n{line}\nPrompt executed in 00:10:50\n{line}".encode()
    started = time.perf_counter()
    report = analyze_bytes(tmp_path, data)
    assert time.perf_counter() - started < 30
    assert report is not None and report.sources[0].truncated_lines == 2
    assert report.prompts[0].executed_s == 650 and report.progress_bars
    check_report(report)


def test_nul_bytes_inside_lines_and_as_a_crash_padding(tmp_path: Path) -> None:
    log = (EXAMPLES / "local-baseline.log").read_bytes()
    with_nuls = log.replace(b"got prompt", b"got\x00 prompt\x00").replace(b"Prompt executed", b"\x00Prompt executed")
    report = analyze_bytes(tmp_path, with_nuls)
    assert report is not None and report.prompts[0].executed_s == 90.41
    padded = analyze_bytes(tmp_path, log + b"\x00" * 3_000_000, "padded.log")
    assert padded is not None and padded.prompts[0].executed_s == 90.41 and padded.sources[0].truncated_lines == 0
    assert analyze_bytes(tmp_path, b"\x00" * 4096, "zeros.log") is None


def test_mixed_and_wrong_encodings(tmp_path: Path) -> None:
    log = (EXAMPLES / "local-baseline.log").read_bytes().decode("utf-8")  # bare CRs kept
    mixed = (log.encode("utf-8") + "Loading C:\\Users\\José\\ö.safetensors\n".encode("latin-1")
             + "█ café\n".encode("cp1252", errors="replace") + "中文\n".encode("gb18030"))
    report = analyze_bytes(tmp_path, mixed)
    assert report is not None and report.prompts[0].executed_s == 90.41
    assert report.summary.replaced_bytes == sum(
        1 for c in mixed.decode("utf-8", errors="surrogateescape") if "\udc80" <= c <= "\udcff")
    for encoding in ("utf-16", "utf-16-le", "utf-16-be"):
        report = analyze_bytes(tmp_path, log.encode(encoding), f"{encoding}.log")
        assert report is not None, encoding
        assert report.prompts[0].executed_s == 90.41 and report.runs[0].gpu == "NVIDIA GeForce RTX 4090", encoding
    bom = analyze_bytes(tmp_path, b"\xef\xbb\xbf" + log.encode("utf-8"), "bom.log")
    plain = analyze(EXAMPLES / "local-baseline.log")
    assert bom is not None and report_to_dict(bom)["prompts"] == report_to_dict(plain)["prompts"]


def test_duplicated_and_interleaved_logs(tmp_path: Path) -> None:
    corpus_or_skip()
    a = (CORPUS / "scenarios" / "runpod-wan-oom-restart.log").read_bytes()
    b = (CORPUS / "logs" / "003-kenneth-flux-partial-loads.log").read_bytes()
    single = analyze_bytes(tmp_path, a, "a.log")
    twice = analyze_bytes(tmp_path, a + a, "twice.log")
    assert single is not None and twice is not None
    assert twice.summary.got_prompt == 2 * single.summary.got_prompt
    check_report(twice)
    as_two = analyze([tmp_path / "a.log", tmp_path / "a.log"])
    assert as_two.summary.got_prompt == 2 * single.summary.got_prompt and len(as_two.sources) == 2
    lines_a, lines_b = a.split(b"\n"), b.split(b"\n")
    interleaved = b"\n".join(x for pair in zip(lines_a, lines_b, strict=False) for x in pair)
    mixed = analyze_bytes(tmp_path, interleaved, "interleaved.log")
    assert mixed is not None
    check_report(mixed)
    render_all(mixed, html=True)


@pytest.mark.parametrize("content", [b"", b"\n\n\n", b"   \r\n\t\n", b"\xef\xbb\xbf", b"```\n```\n"])
def test_empty_inputs_give_an_empty_report_everywhere(tmp_path: Path, content: bytes) -> None:
    report = analyze_bytes(tmp_path, content)
    assert report is not None and report.prompts == [] and report.errors == []
    check_report(report)
    render_all(report, html=True)


def _terminal(report: Report) -> str:
    console = Console(width=200, record=True, file=open(os.devnull, "w"))  # noqa: SIM115
    render_terminal(report, console, 40)
    return console.export_text()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_whose_writer_stops_mid_line(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.log"
    os.mkfifo(fifo)
    log = (EXAMPLES / "runpod-lowvram-gguf.log").read_bytes()
    half = log[: len(log) // 2]

    def write() -> None:
        with open(fifo, "wb") as f:
            f.write(half)

    writer = threading.Thread(target=write)
    writer.start()
    report = analyze(fifo)
    writer.join(5)
    assert report.sources[0].lines == half.count(b"\n") + 1
    assert report.summary.got_prompt == 1 and report.prompts[0].status == "unfinished"
    check_report(report)


def test_stdin_that_closes_early() -> None:
    log = (EXAMPLES / "runpod-lowvram-gguf.log").read_bytes()
    result = run_cli("analyze", "-", "--format", "json", stdin=log[: len(log) // 2])
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["sources"][0]["name"] == "<stdin>" and data["summary"]["got_prompt"] >= 1
    empty = run_cli("analyze", "-", "--format", "json", stdin=b"", text=True)
    assert empty.returncode == 2 and empty.stderr == "comfylog: error: <stdin>: is empty\n"


COMMANDS = {
    "analyze": ["analyze", "{}"],
    "compare": ["compare", "{}", str(EXAMPLES / "local-baseline.log")],
    "compare-baseline": ["compare", str(EXAMPLES / "local-baseline.log"), "{}"],
    "check": ["check", "{}"],
    "check-github": ["check", "{}", "--format", "github"],
    "report": ["report", "{}", "-o", "{out}/r.html"],
    "export": ["export", "{}", "-o", "{out}/tables"],
    "redact": ["redact", "{}", "-o", "{out}/clean.log"],
}


@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize(("setup", "reason"), [("missing", b"no such file"), ("directory", b"is a directory"),
                                                ("binary", b"binary file")])
def test_every_command_refuses_unusable_input_in_one_line_with_status_2(
    tmp_path: Path, command: str, setup: str, reason: bytes
) -> None:
    target = tmp_path / "input.log"
    if setup == "directory":
        target = tmp_path / "input"
        target.mkdir()
    elif setup == "binary":
        target.write_bytes(bytes(range(256)) * 64)
    out = tmp_path / "out"
    out.mkdir()
    args = [a.format(target, out=out) for a in COMMANDS[command]]
    result = run_cli(*args)
    assert result.returncode == 2, (args, result.stderr)
    assert result.stderr.startswith(b"comfylog: error: ") and reason in result.stderr, result.stderr
    assert result.stderr.count(b"\n") == 1 and b"Traceback" not in result.stderr
    assert not (out / "r.html").exists() and not (out / "clean.log").exists()


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    # a real process: the traceback must leave it
    result = run_cli("--debug", "analyze", str(tmp_path / "missing.log"), process=True)
    assert result.returncode != 0 and b"Traceback" in result.stderr and b"UnusableInput" in result.stderr


def test_regression_cuda_banner_then_gui_line_one_second_earlier(tmp_path: Path) -> None:
    """Found by test_timestamps_that_go_backwards_or_jump_days: start-up was -1.0 s (segment.py took
    the ready time as printed while the run's start was held where the clock had been)."""
    report = analyze_bytes(tmp_path, b"2025-10-23T16:00:00.000000000Z == CUDA ==\n"
                                     b"2025-10-23T15:59:59.000000000Z To see the GUI go to: http://127.0.0.1:8188\n")
    assert report is not None and report.runs[0].startup_s == 0.0
    check_report(report)


def test_regression_banner_traceback_version_banner_banner(tmp_path: Path) -> None:
    """Found by test_timestamps_that_go_backwards_or_jump_days: a run of span -1.0 s. Two banners in a
    row ended the middle run at the time of the run before it (segment.py looked at its activities)."""
    lines = ["== CUDA ==", "Traceback (most recent call last):", "CUDA Version 12.8.1", "== CUDA ==", "== CUDA =="]
    stamps = ["16:00:00", "16:00:00", "16:00:00", "16:00:01", "16:00:01"]
    data = "".join(f"2025-10-23T{t}.000000000Z {text}\n" for t, text in zip(stamps, lines, strict=True))
    report = analyze_bytes(tmp_path, data.encode())
    assert report is not None and report.summary.restarts == 2
    check_report(report)


# ---- many of one thing: what a rule reads per item must not grow with the number of items ----------------


HEADER = ("Total VRAM 24564 MB, total RAM 128000 MB\nDevice: cuda:0 NVIDIA GeForce RTX 4090 : cudaMallocAsync\n"
          "Starting server\n\nTo see the GUI go to: http://127.0.0.1:8188\n")


def test_many_distinct_failures_in_one_run_read_its_platform_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The exception rule asks every distinct failure which platform its run is on; reading the run's
    tracebacks for each made 12,500 failures in one run take 71 s."""
    from comfylog.diagnose import facts as facts_module
    from comfylog.pipeline import analyze_text

    calls: list[int] = []
    real = facts_module._platform_of

    def counting(facts: Any, run: Any) -> str | None:
        calls.append(run.index)
        return real(facts, run)

    monkeypatch.setattr(facts_module, "_platform_of", counting)
    text = HEADER + "".join(
        f"got prompt\n!!! Exception during processing !!! boom {i}\nTraceback (most recent call last):\n"
        f'  File "/x/execution.py", line {i}, in execute\n    x()\nRuntimeError: boom {i}\n'
        f"Prompt executed in 0.{i % 100:02d} seconds\n" for i in range(300))
    report = analyze_text(text)
    assert any(f.id == "exception" for f in report.findings)
    assert len(calls) == len(set(calls)) == 1


def test_many_failed_imports_are_each_matched_to_their_reason_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """import-failed matched every import-failure record against every failed node (200,000 failed nodes:
    minutes); each record is now read against the nodes it can name, and every node still gets its reason."""
    from comfylog.diagnose.rules import import_failed
    from comfylog.pipeline import analyze_text

    reads: list[str] = []
    real = import_failed.read_import_message

    def counting(message: str, path: str | None = None) -> Any:
        reads.append(message)
        return real(message, path)

    monkeypatch.setattr(import_failed, "read_import_message", counting)
    count = 300
    text = HEADER.replace("Starting server\n", "".join(
        f"Traceback (most recent call last):\nModuleNotFoundError: No module named 'mod{i}'\n\n"
        f"Cannot import /x/custom_nodes/node{i} module for custom nodes: No module named 'mod{i}'\n"
        for i in range(count)) + "\nImport times for custom nodes:\n" + "".join(
        f"   0.0 seconds (IMPORT FAILED): /x/custom_nodes/node{i}\n" for i in range(count)) + "\nStarting server\n")
    report = analyze_text(text)
    found = next(f for f in report.findings if f.id == "import-failed")
    assert f"{count} custom nodes failed to import" in found.title
    assert "No module named 'mod0' (node0); No module named 'mod1' (node1)" in found.why
    assert len([m for m in reads if "failed to import: " in m]) <= 2 * count


def test_thousands_of_failed_imports_only_a_line_names_are_counted_not_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    """A paste cut before the import times whose `Cannot import` lines name 200,000 custom nodes (ComfyUI's
    nodes.py: `Cannot import {module_path} module for custom nodes: {e}`) made the index keep each with its record
    and import-failed cite and name each: ~300 MB. The index keeps the first MAX_UNLISTED_IMPORTS and counts the
    others by run; the finding's count, the run's "N failed" and the figures stay those of them all."""
    from comfylog import index
    from comfylog.diagnose.facts import Facts
    from comfylog.pipeline import analyze_text

    monkeypatch.setattr(index, "MAX_UNLISTED_IMPORTS", 50)
    count = 300
    text = HEADER.replace("Starting server\n", "".join(
        f"Traceback (most recent call last):\nModuleNotFoundError: No module named 'mod{i}'\n\n"
        f"Cannot import /x/custom_nodes/node{i} module for custom nodes: No module named 'mod{i}'\n"
        for i in range(count)) + "Starting server\n")
    report = analyze_text(text)
    facts = Facts(report)
    assert len(facts.unlisted_import_failures()) == 50 and facts.unlisted_imports_not_kept() == count - 50
    (run,) = report.runs
    assert facts.failed_imports_text(run) == (f"{count} failed (node0, node1, node2 and {count - 3} more by their "
                                               "`Cannot import` lines: their rows of the import times are not in "
                                               "the log)")
    found = next(f for f in report.findings if f.id == "import-failed")
    assert found.title == f"{count} custom nodes failed to import"
    assert found.figures["failed"] == count and found.figures["nodes_not_listed"] == count - 50
    assert len(found.figures["nodes"]) == 50  # type: ignore[arg-type]
    assert found.evidence_total == count and len(found.evidence) == 5


def _exceptions_text(keys: list[int]) -> str:
    """One prompt per exception, `!!! Exception during processing !!! boom K` and its traceback (ComfyUI's
    execution.py prints both for a node that raised), in custom node `foo` for even keys."""
    return HEADER + "".join(
        f"got prompt\n!!! Exception during processing !!! boom {k}\nTraceback (most recent call last):\n"
        + (f'  File "/x/custom_nodes/foo/nodes.py", line {k}, in run\n' if k % 2 == 0 else
           f'  File "/x/execution.py", line {k}, in execute\n') + f"    x()\nRuntimeError: boom {k}\n"
        f"Prompt executed in 0.{i % 100:02d} seconds\n" for i, k in enumerate(keys))


def test_many_distinct_exceptions_are_grouped_as_before_in_bounded_state(monkeypatch: pytest.MonkeyPatch) -> None:
    """300,000 distinct exceptions in one prompt made the exception rule hold a failure with its evidence and frames
    for each (318 MB at the peak, 76 MB of it the report). It keeps the first MAX_FAILURES_KEPT distinct failures of
    each list and counts the exceptions of the others: what it lists, their counts and the total are those of
    grouping them all, and it made no more groups nor evidence than it keeps."""
    from comfylog.diagnose.rules import exception
    from comfylog.pipeline import analyze_text

    keys = [(i * i) % 151 for i in range(600)]  # 76 distinct, repeated unevenly, first seen out of order
    counts = dict.fromkeys(keys, 0)
    for k in keys:
        counts[k] += 1
    text = _exceptions_text(keys)
    monkeypatch.setattr(exception, "MAX_FAILURES_KEPT", 1000)
    whole = next(f for f in analyze_text(text).findings if f.id == "exception")
    assert whole.figures["failures"] == [  # grouping them all, as before
        {"node": "foo" if k % 2 == 0 else None, "error": f"RuntimeError: boom {k}", "count": counts[k]}
        for k in list(counts)[:5]]
    assert f"600 exceptions ({len(counts)} distinct): " in whole.why and "failures_not_kept" not in whole.figures

    kept = 20
    made: list[Any] = []
    cited: list[Any] = []
    real_group, real_evidence = exception._Group, exception._error_evidence
    monkeypatch.setattr(exception, "MAX_FAILURES_KEPT", kept)
    monkeypatch.setattr(exception, "_Group", lambda f: made.append(f) or real_group(f))
    monkeypatch.setattr(exception, "_error_evidence", lambda facts, e: cited.append(e) or real_evidence(facts, e))
    bounded = next(f for f in analyze_text(text).findings if f.id == "exception")
    assert len(made) == kept and len(cited) <= kept * 5 < len(keys)
    not_kept = len(keys) - sum(counts[k] for k in list(counts)[:kept])
    assert bounded.figures == {**whole.figures, "failures_not_kept": not_kept}
    assert (bounded.title, bounded.advice, bounded.evidence, bounded.evidence_total, bounded.prompts) == (
        whole.title, whole.advice, whole.evidence, whole.evidence_total, whole.prompts)
    assert (f"600 exceptions (more than {kept} distinct: {not_kept} exceptions past the first {kept} counted, not "
            "told apart): ") in bounded.why
    assert bounded.why.split("): ", 1)[1] == whole.why.split("): ", 1)[1].replace(
        f"and {len(counts) - 3} more", f"and {kept - 3} more")


def test_exceptions_outside_any_prompt_past_the_bound_are_counted_apart(monkeypatch: pytest.MonkeyPatch) -> None:
    """Corpus 037: 31 prompts failed with one exception, and ComfyUI-Manager's request handlers raised 5 outside any
    prompt (2 distinct). Keeping one distinct failure of each list, the second of Manager's is counted, not told
    apart, in its own list; the prompts' failure is still the one the finding names."""
    from comfylog.diagnose.rules import exception

    monkeypatch.setattr(exception, "MAX_FAILURES_KEPT", 1)
    found = next(f for f in analyze(corpus_log("037")).findings if f.id == "exception")
    assert found.title.startswith("31 prompts failed: `RuntimeError: Given normalized_shape=[2560]")
    assert found.figures["exceptions"] == 36 and found.figures["failures_not_kept"] == 4
    assert [g["count"] for g in found.figures["failures"]] == [31, 1]  # type: ignore[union-attr]
    assert found.why.startswith("31 exceptions (1 distinct): ")
    assert found.why.endswith("Outside any prompt (start-up, a request to the server or a background task), 5 more "
                              "exceptions (more than 1 distinct: 4 exceptions past the first 1 counted, not told "
                              "apart): `manager_core.InvalidChannel: https://raw.githubusercontent.com/ltdrdata/"
                              "ComfyUI-Manager/main` in custom node `ComfyUI-Manager`.")


def test_the_rules_walk_a_prompts_errors_without_listing_them(monkeypatch: pytest.MonkeyPatch) -> None:
    """A prompt that logged 300,000 exceptions: dynamic-vram-failed (looking for its device mismatch) and the
    prompts' deaths (asking whether ComfyUI logged an error of its own) listed all of them (35 MB); they walk them."""
    from comfylog.diagnose.facts import Facts
    from comfylog.pipeline import analyze_text

    def listing(facts: Facts, prompt: Any) -> list[Any]:
        raise AssertionError(f"prompt {prompt.index}'s errors listed")

    monkeypatch.setattr(Facts, "errors_of", listing)
    text = _exceptions_text(list(range(30))) + "got prompt\n!!! Exception during processing !!! boom\n"
    report = analyze_text(text)
    assert next(f for f in report.findings if f.id == "exception").figures["exceptions"] == 31


def test_a_run_of_many_queued_prompts_draws_its_timeline_without_holding_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The terminal's timeline row of a run reads its prompts one at a time: h28/gen.py's run of 1,000,000 queued
    prompts that never ran decoded every one from disk into a list (783 MB). 20,000 here, with blocks of 256
    records and none kept decoded: the report peaks at about 1 MB above the report (14 MB holding them)."""
    import io
    import tracemalloc
    from datetime import datetime, timedelta

    import comfylog.spool as spool

    monkeypatch.setattr(spool, "BLOCK", 256)
    monkeypatch.setattr(spool, "KEEP_BYTES", 0)
    monkeypatch.setattr(spool, "KEEP_FLOOR_BYTES", 0)
    t0 = datetime(2025, 10, 22)
    lines = ["Starting server", "To see the GUI go to: http://127.0.0.1:8188", *["got prompt"] * 20_000]
    path = tmp_path / "queued.log"
    path.write_text("".join((t0 + timedelta(milliseconds=i)).strftime("[%Y-%m-%d %H:%M:%S.%f")[:-3] + f"] {line}\n"
                            for i, line in enumerate(lines)), encoding="utf-8")
    report = analyze(path)
    out = io.StringIO()
    render_terminal(report, Console(file=io.StringIO(), width=120), 40)  # the report's index made
    tracemalloc.start()
    try:
        render_terminal(report, Console(file=out, width=120), 40)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "✗ prompt unfinished" in out.getvalue() and "19960 more prompts not shown" in out.getvalue()
    assert peak < 4_000_000, peak


def test_an_exceptions_count_says_distinct_only_where_some_repeat() -> None:
    """Corpus 044's job failed with one exception: its why said "1 exception (1 distinct)", which adds nothing; 037's
    31 of one kind keep "(1 distinct)"."""
    one = next(f for f in analyze(corpus_log("044")).findings if f.id == "exception")
    assert one.figures["exceptions"] == 1 and one.why.startswith("1 exception: ")
    many = next(f for f in analyze(corpus_log("037")).findings if f.id == "exception")
    assert many.why.startswith("31 exceptions (1 distinct): ")



def test_a_prompt_running_under_a_long_queue_holds_no_activity_a_line() -> None:
    """research/h28/gen.py's queue that never runs: a server started, then stamped ``got prompt`` lines (ComfyUI's
    server.py logs one for each prompt posted; the first runs, the others wait under it). The prompt running held
    the activity of each line until it ended (~190 bytes a line: 301 MB with the Python scanner and 320 MB with the
    native one at 1,000,000 lines, issue 14). The segmenter holds what its queue holds of a queued prompt (24 bytes,
    queue.py) and little more a line, whatever the queue's length; its records are those of before."""
    import tracemalloc
    from datetime import datetime, timedelta

    from comfylog.parse.parser import Parser
    from comfylog.read.source import RawLine
    from comfylog.segment.segmenter import Segmenter

    t0 = datetime(2025, 10, 22)
    held = []
    for queued in (10_000, 30_000):
        lines = [RawLine(i + 1, (t0 + timedelta(milliseconds=i)).strftime("[%Y-%m-%d %H:%M:%S.%f")[:-3] + f"] {text}")
                 for i, text in enumerate(["Starting server", "To see the GUI go to: http://127.0.0.1:8188",
                                           *["got prompt"] * queued])]
        tracemalloc.start()
        try:
            parser, segmenter = Parser(), Segmenter()
            for line in lines:
                segmenter.feed_all(parser.feed(line))
            held.append(tracemalloc.get_traced_memory()[0])
        finally:
            tracemalloc.stop()
        segmenter.feed_all(parser.close())
        segmenter.finish()
        prompts = list(segmenter.prompts)
        assert len(prompts) == queued and [p.index for p in prompts] == list(range(queued))
        first = prompts[0]
        assert (first.status, first.line, first.last_line, first.started) == ("unfinished", 3, queued + 2, True)
        assert first.total_s == round((queued - 1) / 1000, 3) and not any(p.started for p in prompts[1:])
    per_line = (held[1] - held[0]) / 20_000
    assert per_line < 60, per_line
