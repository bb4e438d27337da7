"""A real Prometheus (Debian's package, started here on a loopback port) scrapes ``comfylog watch
--metrics`` while a corpus log is written, and its HTTP API answers with the prompt count and the
phase histogram the same log's analysis gives."""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from comfylog.events import Phase
from comfylog.pipeline import analyze_paths

from .conftest import CORPUS, corpus_or_skip
from .test_watch import Watcher, _lines, _write_slowly

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
#: 85 prompts on an RTX 5070 Ti laptop, millisecond timestamps: every prompt timed, loads included.
LOG = CORPUS / "logs" / "036-krohaard-rtx5070ti-laptop-unloaded-partially.log"
#: Prometheus shows its first scrape about 6 s after it starts (its 5 s target-sync tick): poll, never sleep.
QUERY_TIMEOUT_S = 90


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _query(port: int, promql: str) -> list[dict[str, object]]:
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    with urllib.request.urlopen(url, timeout=5) as response:
        body = json.loads(response.read())
    assert body["status"] == "success", body
    return list(body["data"]["result"])


def _value_when(port: int, promql: str, wanted: float | None = None) -> float:
    """The query's single value once it has one (equal to ``wanted``, if given); fails after the timeout."""
    deadline = time.monotonic() + QUERY_TIMEOUT_S
    last: object = None
    while time.monotonic() < deadline:
        try:
            result = _query(port, promql)
        except OSError as exc:  # Prometheus still starting
            last = exc
            result = []
        if len(result) == 1:
            value = float(result[0]["value"][1])  # type: ignore[index]
            last = value
            if wanted is None or value == wanted:
                return value
        time.sleep(0.5)
    raise AssertionError(f"{promql}: wanted {wanted}, last answer {last!r}")


def test_prometheus_scrapes_the_prompt_count_and_phase_histogram(tmp_path: Path) -> None:
    corpus_or_skip()
    if not os.access(PROMETHEUS, os.X_OK):
        pytest.skip("Debian's prometheus is not installed (.ci/run installs it: apt-get install prometheus)")
    report = analyze_paths([str(LOG)])
    final = [p for p in report.prompts if p.status != "unfinished"]
    timed = [p for p in final if p.total_s is not None and p.status not in ("invalid", "dropped")
             and p.phases.load is not None]
    assert len(final) == 85 and timed

    exporter, server = _free_port(), _free_port()
    (tmp_path / "prometheus.yml").write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        f"scrape_configs:\n  - job_name: comfylog\n    static_configs:\n      - targets: ['127.0.0.1:{exporter}']\n",
        encoding="utf-8")
    log = tmp_path / "comfyui.log"
    watcher = Watcher(str(log), "--metrics", f"127.0.0.1:{exporter}", "--name", "worker-1", "--poll", "0.05")
    with (tmp_path / "prometheus.out").open("wb") as prom_log:
        prometheus = subprocess.Popen(
            [PROMETHEUS, f"--config.file={tmp_path / 'prometheus.yml'}", f"--web.listen-address=127.0.0.1:{server}",
             f"--storage.tsdb.path={tmp_path / 'data'}"], stdout=prom_log, stderr=subprocess.STDOUT)
    try:
        lines, _ = _lines(LOG)
        watcher.wait_for("waiting for")  # started before the file exists: it will read it from its start
        _write_slowly(log, lines, "wb")
        source = '{source="worker-1"}'
        count = _value_when(server, f"sum(comfylog_prompts_total{source})", len(final))
        assert count == 85
        loads = _value_when(server, 'comfylog_prompt_seconds_count{source="worker-1",phase="load"}', len(timed))
        assert loads == len(timed)
        load_sum = _value_when(server, 'comfylog_prompt_seconds_sum{source="worker-1",phase="load"}')
        assert load_sum == pytest.approx(sum(p.phases.seconds(Phase.LOAD) for p in timed), abs=0.01)
        p95 = _value_when(server, 'histogram_quantile(0.95, sum by (le) '
                                  '(comfylog_prompt_seconds_bucket{source="worker-1",phase="total"}))')
        assert math.isfinite(p95) and p95 > 0
        vram = _value_when(server, f"comfylog_vram_total_bytes{source}")
        run = report.runs[0]
        assert run.total_vram_mb is not None and vram == run.total_vram_mb * 1024 * 1024
    finally:
        prometheus.send_signal(signal.SIGTERM)
        try:
            prometheus.wait(30)
        except subprocess.TimeoutExpired:
            prometheus.kill()
        code, out, err = watcher.stop()
    assert code == 0, err
