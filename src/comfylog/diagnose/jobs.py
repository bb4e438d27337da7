"""RunPod jobs that ended while ComfyUI was still working on their prompt.

runpod-python prints ``Finished.`` once it has posted a job's result: the handler had returned (or
raised). A handler that stops waiting for ComfyUI (its own timeout, a status request that timed out)
ends the job while ComfyUI goes on with the prompt: the log shows ``got prompt``, then the job's
``Finished.`` with no ``Prompt executed`` between. That is the handler's doing, not ComfyUI dying:
``handler-error`` tells it, and ``unfinished`` / ``oom-suspected`` leave those prompts alone.

A custom handler's own words cannot be known in general, so the order of those lines carries the
verdict. What would show ComfyUI gone before the job ended keeps the prompt out: an error ComfyUI
logged for it (a crash), worker-comfyui losing it, a request the handler made that nothing answered
(``Connection refused``), or a death another rule explains.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import defaultdict

from ..dataclass import dataclass
from ..events import Event, EventKind
from ..model import Prompt
from .deaths import comfyui_died, own_errors, ram_killed, worker_lost
from .facts import Facts

#: runpod-python's ``Finished.`` row (messages.toml job_finished) among the job_finished events.
RUNPOD_FINISHED = "runpod-python"
#: A prompt ComfyUI finished this long after its job ended ran on after the job (the handler does not
#: answer in the same instant ComfyUI logs ``Prompt executed``, but the lines of two processes may cross).
LATER_S = 1.0
#: ``error_line`` rows of the handler's side, and what each means for ComfyUI.
HANDLER_WORDS = {"http_timeout": "alive", "handler": "unknown", "http_refused": "gone"}
#: Hosts a handler reaches ComfyUI at, in the same container: a request elsewhere (a node's download from
#: Hugging Face, an upload) says nothing of ComfyUI.
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "0.0.0.0", "::1", "[::1]"})


@dataclass(frozen=True, slots=True)
class Abandoned:
    """A prompt whose RunPod job ended (``Finished.``) while ComfyUI was still on it."""

    prompt: Prompt
    job_end: Event
    #: The handler's last word before the job ended: a request to ComfyUI that timed out, or
    #: runpod-python's ``Captured Handler Exception``; None where the handler said nothing the table knows.
    said: Event | None
    #: The prompt ended later (``Prompt executed``, or its exception): ComfyUI was still working on it.
    finished_later: bool


def abandoned(facts: Facts) -> dict[int, Abandoned]:
    """Prompts (by index) whose RunPod job ended while ComfyUI was still working on them."""
    return facts.once("abandoned_prompts", lambda: _scan(facts))


def _scan(facts: Facts) -> dict[int, Abandoned]:
    ends: dict[int, list[Event]] = defaultdict(list)  # by run
    for ev in facts.events[EventKind.JOB_FINISHED]:
        run = facts.run_at(ev.source, ev.line) if ev.fields.get("by") == RUNPOD_FINISHED else None
        if run is not None:
            ends[run.index].append(ev)
    if not ends:
        return {}
    claimed: dict[int, Abandoned] = {}
    killed, died, lost = ram_killed(facts), comfyui_died(facts), worker_lost(facts)
    for run_index, job_ends in ends.items():
        run = facts.runs.get(run_index)
        if run is None:
            continue
        starts = [ev.line for ev in facts.run_events(EventKind.JOB_STARTED, run)]
        lines = [ev.line for ev in job_ends]
        for prompt in facts.prompts_of_run(run_index):
            at = bisect_right(lines, prompt.line)
            if at == len(lines) or not prompt.received or prompt.status in ("invalid", "dropped"):
                continue
            end = job_ends[at]
            # Jobs still in progress after this one ended (concurrent jobs): the prompt may be another's.
            if bisect_left(starts, end.line) - (at + 1) > 0:
                continue
            if prompt.finished:
                later = (prompt.ended_at is not None and end.ts is not None
                         and (prompt.ended_at - end.ts).total_seconds() >= LATER_S)
                if not later or prompt.last_line <= end.line:
                    continue
            elif (prompt.index in killed or prompt.index in died or prompt.index in lost
                  or any(e.line < end.line for e in own_errors(facts, prompt))):
                continue  # ComfyUI died (or logged its failure) before the job ended
            said = _handler_said(facts, prompt, end)
            if said is not None and HANDLER_WORDS.get(str(said.fields.get("error"))) == "gone":
                continue  # the handler found nothing listening: ComfyUI was gone, not busy
            claimed[prompt.index] = Abandoned(prompt, end, said, prompt.finished)
    return claimed


def _handler_said(facts: Facts, prompt: Prompt, end: Event) -> Event | None:
    """The handler's last word between the prompt's ``got prompt`` and its job's end."""
    words = [ev for ev in facts.between(EventKind.ERROR_LINE, prompt.source, prompt.line, end.line)
             if ev.fields.get("error") in HANDLER_WORDS and ev.fields.get("host", "127.0.0.1") in LOCAL_HOSTS]
    return words[-1] if words else None
