"""`--verbose DEBUG` floods: DEBUG-only lines in the log."""

from __future__ import annotations

from ...events import EventKind, Phase
from ...model import Finding
from ..engine import MAX_EVIDENCE, Advice, finding, rule
from ..facts import Facts

ADVICE_WORKER_LEVEL = Advice("worker-comfyui starts ComfyUI with `--verbose \"$COMFY_LOG_LEVEL\"`, which defaults "
                             "to DEBUG: set the endpoint's environment variable `COMFY_LOG_LEVEL=INFO`")
ADVICE_DROP_VERBOSE = Advice("Drop `--verbose DEBUG` from the start command unless you are debugging: the default "
                             "INFO level logs everything comfylog needs")


@rule(
    "debug-logging", "info", Phase.OTHER,
    trigger="`lowvram: loaded module regularly` lines, which ComfyUI logs only at DEBUG level: the process "
    "runs with `--verbose DEBUG`.",
    advice=(ADVICE_WORKER_LEVEL, ADVICE_DROP_VERBOSE),
)
def _debug_logging(facts: Facts) -> list[Finding]:
    events = facts.events[EventKind.LOWVRAM_MODULES]
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
