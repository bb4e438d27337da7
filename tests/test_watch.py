"""comfylog watch on real logs: following a file as it is written (rotation, truncation, a file that is
not there yet), a pipe, the live view stage by stage, JSON Lines, alerts, and the same final report
as ``analyze``."""

from __future__ import annotations

import io
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from rich.console import Console

from comfylog.pipeline import analyze_paths
from comfylog.render.json import write_json
from comfylog.watch.analysis import LiveAnalysis
from comfylog.watch.findings import Alerts, live_findings
from comfylog.watch.follow import FileFollower
from comfylog.watch.live import render_live, snapshot

from .cli import run_cli
from .conftest import CORPUS, ROOT, corpus_log, corpus_or_skip

SCENARIOS = CORPUS / "scenarios"
OOM_RESTART = SCENARIOS / "runpod-wan-oom-restart.log"
LOWVRAM = SCENARIOS / "runpod-wan-lowvram-gguf.log"
PARTIAL_OOM = CORPUS / "logs" / "033-whitedeatho9-gtx1070ti-partial-oom.log"


def _lines(path: Path) -> tuple[list[bytes], bytes]:
    """The whole lines of a log (with their newline) and its unfinished last line."""
    parts = path.read_bytes().split(b"\n")
    return [p + b"\n" for p in parts[:-1]], parts[-1]


def _json(report: object) -> str:
    out = io.StringIO()
    write_json(report, out)  # type: ignore[arg-type]
    return out.getvalue()


def _all_logs() -> list[Path]:
    return sorted((CORPUS / "logs").glob("*.log")) + sorted(SCENARIOS.glob("*.log"))


@pytest.mark.parametrize("path", _all_logs(), ids=lambda p: p.name[:40])
def test_fed_in_pieces_it_makes_the_report_analyze_makes(path: Path) -> None:
    """Lines arriving in blocks of any size give the same JSON as analyze (evidence read back included)."""
    corpus_or_skip()
    lines, rest = _lines(path)
    analysis = LiveAnalysis(str(path))
    pick = random.Random(path.name)
    i = 0
    try:
        while i < len(lines):
            size = pick.choice((1, 1, 2, 7, 40))
            analysis.feed(b"".join(lines[i : i + size]))
            i += size
            analysis.take()
        got = _json(analysis.finish(rest))
    finally:
        analysis.close()
    assert got == _json(analyze_paths([str(path)]))


COMPOSE_LOG = ROOT / "tests" / "fixtures" / "docker-compose-rocm-hip-exception.log"


@pytest.mark.parametrize("first_line", [0, 1000], ids=["from-start", "from-line-1000"])
def test_docker_compose_output_is_read_without_its_prefix_as_analyze_reads_it(first_line: int) -> None:
    """`docker compose` puts `comfyui-rocm  | ` before every line (tests/fixtures/docker-compose-rocm-hip-exception.log,
    YanWenKun/ComfyUI-Docker#122). Fed a line at a time, watch decides on the first two lines, says so, and reads the
    traceback to its last line as analyze does; followed from mid-file (its copy starts with blank lines), the
    evidence read back from the copy has no prefix either."""
    lines, rest = _lines(COMPOSE_LOG)
    analysis = LiveAnalysis(str(COMPOSE_LOG), first_line)
    notices: list[tuple[int, str]] = []
    try:
        for line in lines:
            analysis.feed(line)
            notices += [(analysis.line, notice) for notice in analysis.notices()]
        report = analysis.finish(rest)
    finally:
        analysis.close()
    assert notices == [(first_line + 2, "docker compose output (`comfyui-rocm  |` before the lines, decided on the "
                                        "first 2 lines read): reading each line without it")]
    assert report.runs[0].last_line == first_line + 9  # the traceback (its lines 6-9) is read: with the prefix, not
    (found,) = [f for f in report.findings if f.id == "exception"]
    assert [ev.text for ev in found.evidence] == [
        "!!! Exception during processing !!! HIP error: invalid device function"]
    if first_line == 0:
        assert _json(report) == _json(analyze_paths([str(COMPOSE_LOG)]))


def test_evidence_of_compose_output_followed_from_mid_file_is_read_back_without_its_prefix() -> None:
    """Corpus 007 as docker compose writes it (`comfyui  | ` before every line: docker/compose cmd/formatter/logs.go),
    followed from line 1000: watch's copy of what it read starts with 1000 blank lines, so the copy's first lines
    cannot tell it is compose output; the lines read back for evidence (the import failure, `got prompt`) are read
    as watch read them, and say what analyze's evidence of 007 says."""
    corpus_or_skip()
    path = corpus_log("007")
    lines = path.read_bytes().split(b"\n")  # compose prefixes each line it reads up to a newline, not at a CR
    composed = b"\n".join(b"comfyui  | " + line for line in lines[:-1]) + b"\n" + lines[-1]
    analysis = LiveAnalysis("007-composed.log", 1000)
    try:
        analysis.feed(composed)
        report = analysis.finish()
    finally:
        analysis.close()
    plain = analyze_paths([str(path)])
    assert [(f.id, [(e.line - 1000, e.text) for e in f.evidence]) for f in report.findings] == [
        (f.id, [(e.line, e.text) for e in f.evidence]) for f in plain.findings]
    assert any(e.text == "got prompt" for f in report.findings for e in f.evidence)  # read back, not from an event


def test_a_plain_log_is_held_back_only_until_its_second_line() -> None:
    """One line cannot say whether a log is compose output: the first is held until a second that is not blank comes,
    then both are read, and nothing is said. 033 followed from its line 2 (`** ComfyUI startup time`, which starts a
    run): the run starts when line 3 comes."""
    corpus_or_skip()
    lines, _ = _lines(PARTIAL_OOM)
    analysis = LiveAnalysis(PARTIAL_OOM.name, first_line=1)
    try:
        analysis.feed(lines[1])
        assert analysis.take() == []
        analysis.feed(lines[2])
        assert [(type(h).__name__, getattr(h, "line", None)) for h in analysis.take()] == [("RunStarted", 2)]
        assert analysis.notices() == [] and not analysis.source.compose_prefixed
    finally:
        analysis.close()


def _view_text(analysis: LiveAnalysis) -> str:
    window, _ = live_findings(analysis)
    console = Console(record=True, width=100, file=io.StringIO())
    console.print(render_live(snapshot(analysis, window, [])))
    return console.export_text()


#: Stages of 033 (a GTX 1070 Ti: ready, a prompt received, its partial loads, the OOM, the end)
#: and of the lowvram scenario (sampling at 117.60 s/it, then websocket timeouts).
STAGES = {
    PARTIAL_OOM: (("ready", 57), ("received", 58), ("partial-load", 77), ("exception", 100), ("oom", 121),
                  ("stopped", 124)),
    LOWVRAM: (("loading", 60), ("sampling", 173), ("waiting", 190), ("finished", 204)),
}


@pytest.mark.parametrize("path", list(STAGES), ids=lambda p: p.name[:12])
def test_the_live_view_after_each_stage(path: Path, golden: Callable[[str, str], None]) -> None:
    corpus_or_skip()
    lines, _ = _lines(path)
    analysis = LiveAnalysis(path.name)
    try:
        for stage, upto in STAGES[path]:
            analysis.feed(b"".join(lines[analysis.line : upto]))
            golden(f"watch-{path.name[:3]}-{stage}.txt", _view_text(analysis))
    finally:
        analysis.close()


def test_findings_come_as_soon_as_their_evidence_is_in() -> None:
    """lowvram at the partial load line while the prompt is loading; oom-suspected when the next start-up begins."""
    corpus_or_skip()
    found: dict[str, int] = {}
    for path in (PARTIAL_OOM, OOM_RESTART):
        lines, _ = _lines(path)
        analysis = LiveAnalysis(path.name)
        alerts = Alerts()
        try:
            for number, line in enumerate(lines, 1):
                analysis.feed(line)
                window, findings = live_findings(analysis)
                for finding in alerts.new(window, findings):
                    found.setdefault(f"{path.name[:3]} {finding.id}", number)
        finally:
            analysis.close()
    # 033 line 77: "loaded partially 64.0 63.99990463256836 0", while prompt 1 is loading
    assert found["033 lowvram"] == 77
    # 033 line 120: the traceback's last line "torch.OutOfMemoryError: Allocation on device"
    assert found["033 oom"] <= 121
    # the OOM scenario's restart: "==========" (line 47) and "== CUDA ==" (48) of the next start-up
    assert found["run oom-suspected"] == 48
    assert "run unfinished" not in found  # the prompt cut off is explained as a silent OOM, not twice


def test_follow_reads_through_rotation_and_truncation(tmp_path: Path) -> None:
    """ComfyUI-Manager's rotation (rename to comfyui.prev.log, a new comfyui.log), then a truncation."""
    log = tmp_path / "comfyui.log"
    follower = FileFollower(str(log), from_start=False)
    assert follower.read(0.0) == b""
    assert follower.notices() == [f"waiting for {log} to appear"]
    log.write_bytes(b"[2025-10-22 18:04:30.118] a1\n[2025-10-22 18:04:30.119] a2\n[2025-10-22 18:04:31.000] par")
    assert follower.read(0.0) == b"[2025-10-22 18:04:30.118] a1\n[2025-10-22 18:04:30.119] a2\n"  # from the start
    with log.open("ab") as fh:
        fh.write(b"tial\n")
    assert follower.read(0.0) == b"[2025-10-22 18:04:31.000] partial\n"
    with log.open("ab") as fh:
        fh.write(b"a3 last words")
    log.rename(tmp_path / "comfyui.prev.log")
    log.write_bytes(b"b1\n")
    assert follower.read(0.0) == b""  # the old file's unfinished line is held...
    assert follower.read(0.0) == b"a3 last words\n"  # ...until the file is found replaced: it ends with it
    assert follower.read(0.0) == b"b1\n"
    assert follower.notices() == [f"{log} appeared", f"{log} was replaced (rotated): following the new file"]
    log.write_bytes(b"c\n")
    assert follower.read(0.0) == b""
    assert follower.notices() == [f"{log} was truncated: reading it again from its start"]
    assert follower.read(0.0) == b"c\n"
    follower.close()


def test_follow_starts_at_the_end_and_keeps_line_numbers(tmp_path: Path) -> None:
    corpus_or_skip()
    log = tmp_path / "comfyui.log"
    lines, _ = _lines(PARTIAL_OOM)
    log.write_bytes(b"".join(lines[:57]) + lines[57][:10])  # line 58 is being written
    follower = FileFollower(str(log))
    assert follower.first_line == 57
    with log.open("ab") as fh:
        fh.write(lines[57][10:])
    assert follower.read(0.0) == lines[57]
    follower.close()


class Watcher:
    """``comfylog watch`` as a real process, its standard output read line by line as it comes."""

    def __init__(self, *args: str, stdin: int | None = None) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "comfylog", "watch", *args], stdin=stdin,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT,
                                     env={**os.environ, "COLUMNS": "100"})
        self.out: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            self.out.append(raw.decode("utf-8", "replace"))

    def wait_for(self, text: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not any(text in line for line in self.out):
            if time.monotonic() > deadline or self.proc.poll() is not None and not self._reader.is_alive():
                raise AssertionError(f"no {text!r} in watch's output:\n{''.join(self.out)}")
            time.sleep(0.02)

    def stop(self, sig: int = signal.SIGINT, timeout: float = 60) -> tuple[int, str, str]:
        if sig:
            self.proc.send_signal(sig)
        code = self.proc.wait(timeout)
        self._reader.join(timeout)
        assert self.proc.stderr is not None
        return code, "".join(self.out), self.proc.stderr.read().decode("utf-8", "replace")


def _write_slowly(path: Path, lines: list[bytes], mode: str = "ab") -> None:
    """Append ``lines`` one at a time, flushed, with short pauses, as ComfyUI writes its log."""
    with path.open(mode) as fh:
        for i, line in enumerate(lines):
            fh.write(line)
            fh.flush()
            if i % 8 == 0:
                time.sleep(0.005)


def test_watch_follows_a_log_written_line_by_line_and_ends_with_the_analyze_report(tmp_path: Path) -> None:
    """The file does not exist yet; run 1 is written, Manager rotates it at the restart, run 2 goes to a
    new file, then the file is truncated and a third run written. Ctrl-C: the report of all of it."""
    corpus_or_skip()
    log = tmp_path / "comfyui.log"
    oom, _ = _lines(OOM_RESTART)
    lowvram, _ = _lines(LOWVRAM)
    restart_at = 46  # "==========" then "== CUDA ==": the second start-up
    watcher = Watcher(str(log), "--poll", "0.02")
    try:
        watcher.wait_for("waiting for")
        _write_slowly(log, oom[:restart_at], "wb")
        watcher.wait_for("run 1 ready")
        (log).rename(tmp_path / "comfyui.prev.log")
        _write_slowly(log, oom[restart_at:], "wb")
        watcher.wait_for("run 2 ready")
        watcher.wait_for("error oom-suspected")  # the prompt cut off by the restart
        log.write_bytes(b"")  # truncated (copytruncate): shorter than what was read
        watcher.wait_for("was truncated")
        _write_slowly(log, lowvram)
        watcher.wait_for("prompt 2 ok")
    finally:
        code, out, err = watcher.stop()
    assert code == 0, err
    assert f"{log} was replaced (rotated): following the new file" in out
    assert f"{log} was truncated: reading it again from its start" in out
    log.write_bytes(b"".join(oom + lowvram))  # the same bytes, where analyze reads them
    analyze = run_cli("analyze", str(log), columns=100, process=True)
    assert out.endswith(analyze.stdout.decode())
    assert "warning lowvram: Models loaded partially (lowvram) on a 24 GB NVIDIA GeForce RTX 4090" in out


def test_watch_of_a_pipe_writes_json_lines_with_the_fields_of_the_json_tables() -> None:
    corpus_or_skip()
    proc = subprocess.run([sys.executable, "-m", "comfylog", "watch", "-", "--format", "jsonl", "--name", "worker-7"],
                          input=OOM_RESTART.read_bytes() + LOWVRAM.read_bytes(), capture_output=True, cwd=ROOT,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    objects = [json.loads(line) for line in proc.stdout.decode().splitlines()]
    whole = tmp_report(OOM_RESTART.read_bytes() + LOWVRAM.read_bytes())
    prompts = [{k: v for k, v in o.items() if k not in ("type", "log")} for o in objects if o["type"] == "prompt"]
    assert prompts == whole["prompts"]
    restarts = [o for o in objects if o["type"] == "restart"]
    # the lowvram log is a day older: read after the OOM restart's, its start-up is no restart (the clock goes back)
    assert [r["index"] for r in restarts] == [r["index"] for r in whole["runs"] if r["restart"]] == [1]
    findings = [o for o in objects if o["type"] == "finding"]
    assert {f["id"] for f in whole["findings"]} <= {f["id"] for f in findings}
    assert all(set(f) == set(whole["findings"][0]) | {"type", "log"} for f in findings)
    assert {o["log"] for o in objects} == {"worker-7"}


def test_watch_of_compose_output_says_so_first_and_ends_with_the_analyze_report() -> None:
    """The compose fixture piped in: the notice comes before anything read from the lines, and the report at the end
    is the one analyze prints of the same bytes."""
    data = COMPOSE_LOG.read_bytes()
    watched = subprocess.run([sys.executable, "-m", "comfylog", "watch", "-"], input=data, capture_output=True,
                             cwd=ROOT, timeout=120, env={**os.environ, "COLUMNS": "100"})
    analyzed = subprocess.run([sys.executable, "-m", "comfylog", "analyze", "-"], input=data, capture_output=True,
                              cwd=ROOT, timeout=120, env={**os.environ, "COLUMNS": "100"})
    assert watched.returncode == 0, watched.stderr
    out = watched.stdout.decode()
    assert out.splitlines()[0] == ("docker compose output (`comfyui-rocm  |` before the lines, decided on the first "
                                   f"{len(data.splitlines())} lines read): reading each line without it")
    assert "error exception: 1 prompt failed: `HIP error: invalid device function`" in out
    assert out.endswith(analyzed.stdout.decode())


def tmp_report(data: bytes) -> dict[str, list[dict[str, object]]]:
    """The JSON tables analyze makes of ``data`` (read from standard input, as watch read it)."""
    proc = subprocess.run([sys.executable, "-m", "comfylog", "analyze", "-", "--format", "json"], input=data,
                          capture_output=True, cwd=ROOT, timeout=120)
    return dict(json.loads(proc.stdout))


def test_on_finding_runs_the_command_with_the_finding_on_stdin(tmp_path: Path) -> None:
    corpus_or_skip()
    command = f"cat > {tmp_path}/$COMFYLOG_SEVERITY-$COMFYLOG_FINDING_ID.json"
    proc = subprocess.run([sys.executable, "-m", "comfylog", "watch", "-", "--on-finding", command],
                          input=PARTIAL_OOM.read_bytes(), capture_output=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    written = sorted(p.name for p in tmp_path.iterdir())
    assert {"error-oom.json", "warning-lowvram.json"} <= set(written)
    oom = json.loads((tmp_path / "error-oom.json").read_text())
    # ComfyUI's own line of the failure: `Allocation on device` is the OOM message cut at its device index
    assert oom["type"] == "finding"
    assert oom["evidence"][0]["text"] == "!!! Exception during processing !!! Allocation on device"
    assert not any(p.startswith("info-") for p in written)  # information is not an alert


def test_exit_on_error_ends_at_the_first_error_with_status_1(tmp_path: Path) -> None:
    """Following a file (which never ends by itself): the OOM ends it."""
    corpus_or_skip()
    log = tmp_path / "comfyui.log"
    lines, _ = _lines(PARTIAL_OOM)
    log.write_bytes(b"".join(lines[:60]))
    watcher = Watcher(str(log), "--from-start", "--exit-on", "error", "--poll", "0.02")
    _write_slowly(log, lines[60:])
    code, out, err = watcher.stop(sig=0)
    assert code == 1, err
    assert "error exception: 1 prompt failed with an exception" in out or "error oom:" in out
    assert "Findings (most costly first)" in out  # the report of what was read follows


def test_watch_exits_2_with_one_line_for_a_directory(tmp_path: Path) -> None:
    result = run_cli("watch", str(tmp_path), text=True)
    assert result.returncode == 2
    assert result.stderr.strip() == f"comfylog: error: {tmp_path}: is a directory, not a log file"

