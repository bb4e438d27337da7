"""Prometheus metrics of a watched log, served on ``/metrics`` by the official ``prometheus_client``.

Every series has a ``source`` label (the log's path, or ``--name``), so one Prometheus can scrape the
watchers of many workers. Counters and the histogram move when a record becomes final (a prompt
finished, a restart began, an out-of-memory error ended) or a finding is announced; the gauges are
set at every refresh of the view.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..model import PHASES, ErrorRecord, Finding, Prompt, Run
from ..read.source import UnusableInput
from .live import Snapshot

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

#: Buckets of the prompt-seconds histogram: a fraction of a second (cached prompts) to an hour (video).
BUCKETS = (0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1200, 1800, 3600)
STATUSES = ("ok", "error", "interrupted", "invalid", "unfinished", "dropped")
SEVERITIES = ("error", "warning", "info")
MB = 1024 * 1024


def parse_address(text: str) -> tuple[str, int]:
    """``HOST:PORT``, ``:PORT`` or ``PORT`` (host 127.0.0.1: give 0.0.0.0 to be scraped from elsewhere)."""
    host, _, port = text.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise UnusableInput(f"--metrics {text}: give HOST:PORT, for example 127.0.0.1:9464")
    return host, int(port)


class Metrics:
    """The exporter: the series, and the HTTP server that serves them until ``close``."""

    def __init__(self, source: str, address: str) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

        self.registry = CollectorRegistry()
        reg = self.registry
        labels = ["source"]
        self.prompt_seconds = Histogram(
            "comfylog_prompt_seconds", "Seconds of each finished prompt by phase (phase=\"total\": the whole prompt).",
            [*labels, "phase"], buckets=BUCKETS, registry=reg)
        self.prompts = Counter("comfylog_prompts", "Prompts whose record is final, by status.", [*labels, "status"],
                               registry=reg)
        self.restarts = Counter("comfylog_restarts", "ComfyUI start-ups after the first (restarts).", labels,
                                registry=reg)
        self.ooms = Counter("comfylog_ooms", "Out-of-memory errors the log showed.", labels, registry=reg)
        self.findings = Counter("comfylog_findings", "Findings announced, by rule id and severity.",
                                [*labels, "id", "severity"], registry=reg)
        self.lines = Counter("comfylog_lines", "Log lines read.", labels, registry=reg)
        self.install_seconds = Counter(
            "comfylog_install_seconds", "Seconds ComfyUI-Manager spent installing custom nodes or models on the "
            "running server with no prompt running (Run.install_s, as analyze counts it).", labels, registry=reg)
        self.vram_total = Gauge("comfylog_vram_total_bytes", "The GPU's VRAM as the run's start-up gave it.",
                                labels, registry=reg)
        self.vram_offered = Gauge("comfylog_vram_offered_bytes", "VRAM ComfyUI offered the last model it loaded "
                                  "(usable MB of its last `loaded completely/partially` line).", labels, registry=reg)
        self.step_rate = Gauge("comfylog_step_rate", "Steps per second of the sampling bar being drawn (0: none).",
                               labels, registry=reg)
        self.running = Gauge("comfylog_prompt_running", "1 while a prompt is being executed.", labels, registry=reg)
        self.queued = Gauge("comfylog_prompts_queued", "Prompts received and waiting behind the running one.",
                            labels, registry=reg)
        self.source = source
        for phase in (*(p.value for p in PHASES), "total"):
            self.prompt_seconds.labels(source, phase)
        for status in STATUSES:
            self.prompts.labels(source, status)
        for counter in (self.restarts, self.ooms, self.lines, self.install_seconds):
            counter.labels(source)
        self._lines_seen = 0
        #: install seconds counted so far, by run index (a run's install_s only grows).
        self._install_seen: dict[int, float] = {}
        host, port = parse_address(address)
        try:
            started: tuple[WSGIServer, object] = start_http_server(port, addr=host, registry=reg)
        except OSError as exc:
            raise UnusableInput(f"--metrics {address}: cannot serve there ({exc.strerror or exc})") from None
        self._server = started[0]
        self.port = self._server.server_port

    def prompt(self, prompt: Prompt) -> None:
        self.prompts.labels(self.source, prompt.status).inc()
        if prompt.total_s is None or prompt.status in ("invalid", "dropped"):
            return
        for phase in PHASES:
            seconds = prompt.phases.get(phase)
            if seconds is not None:  # a phase the log cannot time is not observed
                self.prompt_seconds.labels(self.source, phase.value).observe(seconds)
        self.prompt_seconds.labels(self.source, "total").observe(prompt.total_s)

    def run_started(self, run: Run) -> None:
        if run.restart:
            self.restarts.labels(self.source).inc()

    def run_ready(self, run: Run) -> None:
        if run.total_vram_mb is not None:
            self.vram_total.labels(self.source).set(run.total_vram_mb * MB)

    def error(self, error: ErrorRecord) -> None:
        if error.kind == "oom":
            self.ooms.labels(self.source).inc()

    def finding(self, finding: Finding) -> None:
        self.findings.labels(self.source, finding.id, finding.severity).inc()

    def update(self, snap: Snapshot) -> None:
        src = self.source
        self.lines.labels(src).inc(max(0, snap.line - self._lines_seen))
        self._lines_seen = max(self._lines_seen, snap.line)
        if snap.offered_mb is not None:
            self.vram_offered.labels(src).set(snap.offered_mb * MB)
        bar = snap.bar
        rate = 0.0
        if bar is not None and bar.rate:
            rate = bar.rate if bar.unit == "it/s" else 1.0 / bar.rate if bar.unit == "s/it" else 0.0
        self.step_rate.labels(src).set(rate)
        run = snap.run
        if run is not None and run.install_s:
            seen = self._install_seen.get(run.index, 0.0)
            if run.install_s > seen:
                self.install_seconds.labels(src).inc(run.install_s - seen)
                self._install_seen[run.index] = run.install_s
        self.running.labels(src).set(1 if snap.prompt is not None else 0)
        self.queued.labels(src).set(snap.queued)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
