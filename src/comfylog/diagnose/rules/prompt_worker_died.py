"""ComfyUI's prompt worker thread died: the server still answers and takes prompts, and runs none of them."""

from __future__ import annotations

from ...model import Finding
from ...text import plural
from ..deaths import WORKER_TRACEBACK_AFTER_LINES, worker_death, worker_death_traceback
from ..engine import Advice, finding, rule
from ..evidence import clip
from ..facts import Facts

ADVICE_RESTART = Advice("Restart ComfyUI: the thread that runs the queue is gone, so a prompt queued after it waits "
                        "for ever (the browser shows it queued, an API client times out)")
ADVICE_READ = Advice("The traceback under {where} ends with the exception that killed the thread, and its frames say "
                     "whose code raised it (ComfyUI's `execution.py` or `main.py`, a custom node's, a library's): "
                     "fix or update that code, or ComfyUI dies the same way on the next prompt",
                     {"where": "the line"})
ADVICE_CAPTURE = Advice("The log ends inside the thread's traceback ({where}): capture the whole console, whose "
                        "traceback names the exception that killed it", {"where": "line N"})


@rule(
    "prompt-worker-died", "error", None,
    trigger="Python's `Exception in thread Thread-N (prompt_worker):`: the thread of ComfyUI's main.py that runs "
    "the queue ended on an exception, so ComfyUI takes prompts and runs none until it restarts.",
    advice=(ADVICE_RESTART, ADVICE_READ, ADVICE_CAPTURE),
)
def _prompt_worker_died(facts: Facts) -> list[Finding]:
    died = worker_death(facts)
    if died is None:
        return []
    ev, stuck = died
    where = facts.lines_ref(ev.source, ev.line)
    traceback = worker_death_traceback(facts, ev)
    evidence = [facts.cite_event(ev)]
    run = facts.run_at(ev.source, ev.line)
    ends = run.last_line if run is not None else ev.line
    said = ""
    advice = [ADVICE_RESTART()]
    if traceback is not None and traceback.fields.get("exception_type"):
        message = str(traceback.fields.get("message") or "")
        error = f"{traceback.fields['exception_type']}" + (f": {message}" if message else "")
        said = f" It ended with `{clip(error, 160)}`."
        evidence.append(facts.cite_event(traceback))
        advice.append(ADVICE_READ(where=where))
    elif (traceback.end_line if traceback is not None else ev.line + WORKER_TRACEBACK_AFTER_LINES) >= ends:
        said = " The log ends before the exception that ended it."
        advice.append(ADVICE_CAPTURE(where=where))
    else:
        advice.append(ADVICE_READ(where=where))
    waiting = f" It left {plural(len(stuck), 'prompt')} unfinished." if stuck else ""
    return [finding(
        "prompt-worker-died", "ComfyUI's prompt worker died: no prompt runs after it", "high",
        f"Python printed `Exception in thread {ev.fields.get('thread', 'Thread-1 (prompt_worker)')}:` ({where}): "
        "the thread that takes prompts off ComfyUI's queue and runs them (main.py's `prompt_worker`) ended on an "
        f"uncaught exception. The server goes on answering and accepting prompts, but none runs until ComfyUI "
        f"restarts.{said}{waiting}",
        advice, evidence, {"thread": ev.fields.get("thread"), "prompts": len(stuck)}, 0.0,
        [p.index for p in stuck])]
