"""`--verbose DEBUG` floods: DEBUG-only lines in the log."""

from __future__ import annotations

from datetime import datetime

from ...events import EventKind, Phase
from ...model import Finding
from ..engine import MAX_EVIDENCE, Advice, finding, rule
from ..facts import Facts

ADVICE_WORKER_LEVEL = Advice("worker-comfyui starts ComfyUI with `--verbose \"$COMFY_LOG_LEVEL\"`, which defaults "
                             "to DEBUG: set the endpoint's environment variable `COMFY_LOG_LEVEL=INFO`")
#: Before March 2024 ComfyUI printed these lines with print(), at any level: it took up `logging` (and
#: `--verbose`) then (its issue #1362, "Replace prints with logs", closed as done on 2024-03-16). A log
#: dated before this holds them without any DEBUG level.
PRINTED_UNTIL = datetime(2024, 3, 1)
ADVICE_DROP_VERBOSE = Advice("Drop `--verbose DEBUG` from the start command unless you are debugging: the default "
                             "INFO level logs everything comfylog needs")


@rule(
    "debug-logging", "info", Phase.OTHER,
    trigger="`lowvram: loaded module regularly` lines, which ComfyUI logs only at DEBUG level: the process "
    "runs with `--verbose DEBUG` (not in logs dated before March 2024, when ComfyUI printed them at any level).",
    advice=(ADVICE_WORKER_LEVEL, ADVICE_DROP_VERBOSE),
)
def _debug_logging(facts: Facts) -> list[Finding]:
    events = facts.events[EventKind.LOWVRAM_MODULES]
    if events and all(_printed(facts, ev.source, ev.line) for ev in events):
        return []  # 032 (2024-01): print() wrote them, no --verbose DEBUG needed
    count = max(facts.report.summary.lowvram_module_loads, sum(int(ev.fields.get("count", 1)) for ev in events))
    if not count or not events:
        return []
    lines = sum(src.lines for src in facts.report.sources) or 1
    serverless = any(facts.runs_in("serverless")) or facts.report.summary.ws_timeouts > 0
    advice = [ADVICE_DROP_VERBOSE()]
    if serverless:
        advice.insert(0, ADVICE_WORKER_LEVEL())
    return [finding(
        "debug-logging", f"`--verbose DEBUG` is on: {count} DEBUG-only `lowvram: loaded module` lines", "high",
        f"ComfyUI logs `lowvram: loaded module regularly` only at DEBUG level, so this process runs with "
        f"`--verbose DEBUG`; these lines are {count / lines:.0%} of the log. DEBUG output floods logs (one line "
        "per module on every partial load) and slows consoles that must keep up with it.",
        advice, [facts.cite_event(ev) for ev in events[:MAX_EVIDENCE]], {"debug_lines": count, "log_lines": lines},
        total=count)]


def _printed(facts: Facts, source: int, line: int) -> bool:
    """The line comes from a run dated before ComfyUI logged it at DEBUG level (PRINTED_UNTIL)."""
    run = facts.run_at(source, line)
    started = run.started_at if run is not None else None
    return started is not None and started < PRINTED_UNTIL
