"""worker-comfyui waiting on websocket timeouts: ComfyUI silent for 10 s at a time."""

from __future__ import annotations

from ...events import EventKind, Phase
from ...model import Finding
from ...text import dur, plural
from ..engine import MAX_EVIDENCE, Advice, finding, rule
from ..evidence import clip, event_line
from ..facts import Facts

#: Wait at least this long (seconds) is a warning rather than information.
WAIT_WARNING_S = 30.0

ADVICE_SPEED_UP = Advice("Speed up the step before the first timeout; the wait is that step's time")
ADVICE_DIED = Advice("If timeouts go on until the job times out, ComfyUI has died: look for an OOM or a restart")


@rule(
    "ws-wait", "info", Phase.WAIT,
    trigger="worker-comfyui `Websocket receive timed out` lines: 10 s each with no message from ComfyUI. "
    f"A warning from {WAIT_WARNING_S:.0f} s of waiting.",
    advice=(ADVICE_SPEED_UP, ADVICE_DIED),
)
def _ws_wait(facts: Facts) -> list[Finding]:
    timeouts = facts.events[EventKind.WS_TIMEOUT]
    prompts = list(facts.prompts_in("ws_timeouts"))
    count = facts.report.summary.ws_timeouts
    if not count or not timeouts:
        return []
    wait = sum(p.phases.seconds(Phase.WAIT) for p in prompts)
    total = sum(p.total_s or 0.0 for p in prompts)
    evidence = [facts.cite_event(ev) for ev in timeouts[:MAX_EVIDENCE]]
    before = ""
    if timeouts:
        first = timeouts[0]
        prior = [ev for ev in facts.report.notable if ev.source == first.source and ev.line < first.line
                 and ev.kind not in (EventKind.WS_TIMEOUT, EventKind.WS_RECONNECT, EventKind.JOB_STARTED)]
        if prior and prior[-1].end_line == first.line - 1:
            evidence.insert(1, facts.cite_event(prior[-1]))  # after the first timeout: what preceded it
            line, text = event_line(prior[-1])
            lines = facts.lines_ref(first.source, line, prior[-1].end_line)
            before = (f" The first timeout follows straight on ComfyUI's {lines} (`{clip(text, 80)}`): "
                      "the silence is that step's work.")
    share = f" ({wait / total:.0%} of prompt time)" if total else ""
    return [finding(
        "ws-wait", f"{dur(wait)} waiting on websocket timeouts ({count} × 10 s without a message)", "high",
        f"worker-comfyui logs `Websocket receive timed out` after 10 s without a message from ComfyUI: "
        f"{plural(count, 'timeout')}, {dur(wait)} of wait{share}. ComfyUI was working without output "
        f"(or was gone, if the timeouts never end).{before}",
        [ADVICE_SPEED_UP(), ADVICE_DIED()],
        evidence, {"timeouts": count, "wait_s": round(wait, 3)}, wait, (p.index for p in prompts),
        severity="warning" if wait >= WAIT_WARNING_S else "info", total=count + (1 if before else 0))]
