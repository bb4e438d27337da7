"""A serverless worker's cold start: from the container's start to ComfyUI's API answering, split into
what the log shows (prestartup, custom-node imports, the assets scan, the worker's wait). A start that
never got there (``ComfyUI process has exited``) is startup-failed's, which cites the worker's line."""

from __future__ import annotations

from datetime import datetime

from ...events import Event, EventKind
from ...model import Evidence, Finding, Run
from ...text import basename, dur
from ..builds import setting_lines
from ..engine import Advice, finding, rule
from ..facts import Facts, run_group

#: A cold start this long (seconds, container start to API reachable) is reported.
COLD_START_S = 60.0
ADVICE_NODES = Advice("Remove custom nodes the endpoint's workflows do not use, or bake their dependencies into the "
                      "image: {nodes} took {seconds} to import", {"nodes": "the slowest nodes", "seconds": "long"})
ADVICE_ASSETS = Advice("Start ComfyUI with `--disable-assets`: the assets system scanned {files} for {seconds} "
                       "before the server started", {"files": "the model folders", "seconds": "a while"})
ADVICE_PRESTARTUP = Advice("Set ComfyUI-Manager offline (`network_mode = offline` in its config.ini) or remove it "
                           "from the worker: its prestartup took {seconds}", {"seconds": "long"})
ADVICE_WARM = Advice("Keep a worker warm (active workers, or a longer idle timeout) so jobs do not wait for a cold "
                     "start")


@run_group("api_ready")
def _api_ready(run: Run) -> bool:
    return run.started_at is not None and run.api_ready_at is not None


@rule(
    "cold-start", "warning", None,
    trigger=f"A worker-comfyui start that took {COLD_START_S:.0f} s or more from the container's start to "
    "`API is reachable`, split into prestartup, custom-node imports, the assets scan and waiting.",
    advice=(ADVICE_NODES, ADVICE_ASSETS, ADVICE_PRESTARTUP, ADVICE_WARM),
)
def _cold_start(facts: Facts) -> list[Finding]:
    for run in facts.runs_in("api_ready"):
        if run.started_at is not None and run.api_ready_at is not None:
            total = (run.api_ready_at - run.started_at).total_seconds()
            if total >= COLD_START_S:
                return [_slow(facts, run, total)]
    return []


def _parts(facts: Facts, run: Run, end: datetime | None) -> tuple[list[tuple[str, float]], list[str], list[Evidence]]:
    """What the start-up spent its time on, as the log states it: (part, its seconds within the start-up),
    advice and evidence lines."""
    parts: list[tuple[str, float]] = []
    advice: list[str] = []
    evidence: list[Evidence] = []
    if run.prestartup_s:
        parts.append((f"custom nodes' prestartup {dur(run.prestartup_s)}", run.prestartup_s))
        if run.prestartup_s >= 10:
            advice.append(ADVICE_PRESTARTUP(seconds=dur(run.prestartup_s)))
    if run.import_s:
        slow = sorted(run.import_times, key=lambda t: -t[0])[:2]
        names = ", ".join(f"{basename(path)} {dur(seconds)}" for seconds, path, _, _ in slow if seconds >= 1)
        parts.append((f"custom-node imports {dur(run.import_s)}" + (f" ({names})" if names else ""), run.import_s))
        evidence += [facts.cite(run.source, line, f"{seconds:.1f} seconds: {path}") for seconds, path, _, line in slow
                     if seconds >= 1]
        if run.import_s >= 10:
            advice.append(ADVICE_NODES(nodes=", ".join(basename(p) for s, p, _, _ in slow if s >= 1),
                                              seconds=dur(run.import_s)))
    scans = setting_lines(facts, run, "assets_scan_ms")
    if scans:
        scan = scans[0]
        seconds = float(scan.fields["assets_scan_ms"]) / 1000
        files = f"{scan.fields['assets_files']} files" if scan.fields.get("assets_files") else "the model folders"
        before = run.ready_at is None or scan.ts is None or scan.ts <= run.ready_at
        parts.append((f"the assets scan {dur(seconds)}" + ("" if before else " (after the server started: no delay)"),
                      seconds if before else 0.0))
        evidence.append(facts.cite_event(scan))
        if before and seconds >= 10:
            advice.append(ADVICE_ASSETS(files=files, seconds=dur(seconds)))
    if run.ready_at is not None and run.api_ready_at is not None and end is not None:
        wait = (run.api_ready_at - run.ready_at).total_seconds()
        if wait >= 1:
            parts.append((f"{dur(wait)} between ComfyUI's `To see the GUI go to` and the worker's check", wait))
    return parts, advice, evidence


def _slow(facts: Facts, run: Run, total: float) -> Finding:
    parts, advice, evidence = _parts(facts, run, run.api_ready_at)
    waits = _worker_lines(facts, run, "waiting")
    reachable = _worker_lines(facts, run, "reachable")
    start = _first_line(facts, run)
    evidence = [start] + evidence + [facts.cite_event(ev) for ev in (waits[:1] + reachable[:1])]
    rest = max(0.0, total - sum(seconds for _, seconds in parts))
    split = "; ".join(text for text, _ in parts) if parts else "the log names no part of it"
    started = facts.lines_ref(start.source, start.line)
    why = (f"ComfyUI's API answered worker-comfyui {dur(total)} after the container started ({started}): "
           f"{split}"
           + (f"; the other {dur(rest)} went to ComfyUI's own start-up (PyTorch, the GPU, the model folders)"
              if parts and rest >= 1 else "")
           + "." + (f" worker-comfyui was still waiting for the API ({len(waits)} `Still waiting for API server` "
                    "lines) while ComfyUI started." if waits else "")
           + " Every job that lands on a cold worker waits this long before ComfyUI sees it.")
    return finding(
        "cold-start", f"Cold start of {dur(total)} before ComfyUI's API answered", "high", why,
        advice + [ADVICE_WARM()], evidence, {"cold_start_s": round(total, 3), "parts": [t for t, _ in parts]})


def _worker_lines(facts: Facts, run: Run, state: str) -> list[Event]:
    return [ev for ev in facts.run_events(EventKind.WORKER_API, run) if ev.fields.get("state") == state]


def _first_line(facts: Facts, run: Run) -> Evidence:
    banners = facts.run_events(EventKind.CUDA_BANNER, run)
    return facts.cite_event(banners[0]) if banners else facts.cite(run.source, run.first_line, "the run's first line")
