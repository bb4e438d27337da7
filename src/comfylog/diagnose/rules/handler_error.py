"""A RunPod handler that failed its job: it returned an error, or it ended the job while ComfyUI was still
working on the prompt (the handler gave up; ComfyUI did not die)."""

from __future__ import annotations

from ...events import EventKind
from ...lazyre import lazy_re
from ...model import Evidence, Finding
from ...text import dur, plural
from ..deaths import work_left
from ..engine import MAX_EVIDENCE, Advice, finding, rule
from ..evidence import clip
from ..facts import WORKER_ECHOES, Facts
from ..hints import OWN_WORDS_ADVICE, own_words_advice
from ..jobs import Abandoned, abandoned

#: An error result: ``{'error': ...}`` (worker-comfyui) or ``'status': 'error'`` (other handlers).
ERROR_RESULT_RE = lazy_re(r"""^\{\s*['"]error['"]\s*:|['"]status['"]\s*:\s*['"](?:error|failed)['"]""")
MESSAGE_RE = lazy_re(r"""['"](?:message|error)['"]\s*:\s*(['"])(?P<text>.*?)\1""")

ADVICE_HANDLER = Advice("The job failed and the caller got an error, even though the worker went on: fix what the "
                        "message names (the lines before it show ComfyUI's side)")
ADVICE_RETURN = Advice("A handler that catches errors should still let the job fail loudly: RunPod counts a returned "
                       "result as a completed job")
ADVICE_TIMEOUT = Advice("The handler gave up when its request to ComfyUI timed out ({timeout} s): ComfyUI answers "
                        "slowly while it loads a model or samples. Give that request a longer timeout and treat a "
                        "timeout as \"still running\" (ask again), so the job waits for the prompt's end",
                        {"timeout": "its read timeout"})
ADVICE_WAIT = Advice("The handler returned before ComfyUI finished the prompt: make it wait for the prompt's end "
                     "(its entry in `/history/<prompt_id>`, or the websocket's `executing` message with `node: null`), "
                     "with a time limit longer than the workflow takes")
# ComfyUI's server.py, post_prompt (copies of it checked through the code index): `logging.warning("invalid prompt:
# {}".format(valid[1]))` and `web.json_response({"error": valid[1], "node_errors": valid[3]}, status=400)`, and a
# 400 too for a body without "prompt".
ADVICE_HTTP_400 = Advice("`HTTP Error 400: Bad Request` is urllib's word for a request the server refused. When it "
                         "is the handler queueing the workflow (ComfyUI's `POST /prompt`), ComfyUI refused the "
                         "workflow: it failed validation (ComfyUI's own log says `invalid prompt:` and why) or the "
                         "body had no `prompt`. Send the workflow itself, in API format (`Export (API)`), with the "
                         "inputs the handler fills in set in it")
ADVICE_LEFT_RUNNING = Advice("ComfyUI goes on with a prompt whose job ended: the worker's next job waits behind it, "
                             "and the worker may be stopped with it half done")


@rule(
    "handler-error", "error", None,
    trigger="runpod-python's `Handler output: {...}` line holding an error result (`'error': ...` or "
    "`'status': 'error'`): the job failed. Or runpod-python's `Finished.` for a job after its `got prompt` and "
    "before that prompt's end, with nothing showing ComfyUI gone before it: the handler ended the job while "
    "ComfyUI was still working. Or, with no `Handler output` line, the exception runpod-python logged for a handler "
    "that raised (`\"error_type\": ..., \"error_message\": ...`).",
    advice=(*OWN_WORDS_ADVICE, ADVICE_HANDLER, ADVICE_RETURN, ADVICE_TIMEOUT, ADVICE_WAIT, ADVICE_LEFT_RUNNING,
            ADVICE_HTTP_400),
)
def _handler_error(facts: Facts) -> list[Finding]:
    findings = _error_results(facts)
    left = abandoned(facts)
    if left:
        findings.append(_abandoned(facts, [left[i] for i in sorted(left)]))
    return findings


def _error_results(facts: Facts) -> list[Finding]:
    failed = [ev for ev in facts.events[EventKind.HANDLER_OUTPUT] if ERROR_RESULT_RE.search(str(ev.fields["output"]))]
    if not failed:
        return _raised(facts)
    messages: dict[str, None] = {}
    for ev in failed:
        m = MESSAGE_RE.search(str(ev.fields["output"]))
        messages.setdefault(m.group("text") if m else str(ev.fields["output"]))
    first = next(iter(messages))
    own = [a for a in (own_words_advice(m, "The handler's error") for m in list(messages)[:3]) if a is not None]
    return [finding(
        "handler-error", f"The RunPod handler returned an error: {clip(first, 120)}", "high",
        f"{plural(len(failed), 'job')} ended with an error result from the handler: "
        + "; ".join(f"`{clip(m, 160)}`" for m in list(messages)[:3]) + ". The caller of the endpoint got this "
        "error instead of an output.",
        [*own, ADVICE_HANDLER(), ADVICE_RETURN()], [facts.cite_event(ev) for ev in failed],
        {"jobs": len(failed), "messages": list(messages)[:5]}, total=len(failed))]


def _raised(facts: Facts) -> list[Finding]:
    """The handler raised and runpod-python logged what (``runpod_handler_error_info``), where no `Handler output`
    line shows the job's result: the console's copy of a worker's log keeps only its messages."""
    raised = [ev for ev in facts.events[EventKind.ERROR_LINE]
              if ev.fields.get("error") == "handler_info" and ev.fields.get("message")]
    if not raised or any(e.kind not in WORKER_ECHOES for e in facts.report.errors):
        return []  # beside ComfyUI's own failure (corpus 045: a crash, then the handler's lost websocket) an echo
    first = raised[0]
    kind = str(first.fields.get("type") or "").rsplit(".", 1)[-1]
    message = str(first.fields["message"])
    said = f"{kind}: {message}" if kind else message
    own = own_words_advice(message, "The handler's error")
    advice = [ADVICE_HTTP_400()] if message.startswith("HTTP Error 400") else []
    if own is not None:
        advice.insert(0, own)
    more = f" {plural(len(raised) - 1, 'more job')} raised too." if len(raised) > 1 else ""
    return [finding(
        "handler-error", f"The RunPod handler raised an exception: {clip(said, 120)}", "high",
        f"runpod-python caught an exception from the handler (`{clip(said, 160)}`) and failed the job with it: the "
        f"caller of the endpoint got this error instead of an output.{more}",
        [*advice, ADVICE_HANDLER()], [facts.cite_event(ev) for ev in raised[:MAX_EVIDENCE]],
        {"jobs": len(raised), "messages": [said]}, total=len(raised))]


def _abandoned(facts: Facts, jobs: list[Abandoned]) -> Finding:
    """The jobs that ended with their prompt still in ComfyUI's hands: the first told in full."""
    first = jobs[0]
    prompt, end, said = first.prompt, first.job_end, first.said
    after = (f" {dur((end.ts - prompt.got_at).total_seconds())} after"
             if end.ts is not None and prompt.got_at is not None else " after")
    why = (f"runpod-python finished the job (`Finished.`, {facts.lines_ref(end.source, end.line)}){after} ComfyUI "
           f"received its prompt (`got prompt`, {facts.lines_ref(prompt.source, prompt.line)})")
    # The job's end first (where a check's annotation goes), then the prompt it left behind.
    evidence: list[Evidence] = [facts.cite_event(end), facts.cite(prompt.source, prompt.line, "got prompt")]
    if first.finished_later:
        later = (f" {dur((prompt.ended_at - end.ts).total_seconds())} later"
                 if prompt.ended_at is not None and end.ts is not None else " later")
        why += (f", and ComfyUI finished that prompt only{later} "
                f"({facts.lines_ref(prompt.source, prompt.last_line)}): it was still working when the job ended.")
    else:
        work = work_left(facts, prompt, end.ts)
        evidence += work.evidence
        why += (", with the prompt not done: ComfyUI was "
                + ("still working on it" if work.state == "running" else work.doing)
                + ", and no error, crash or restart shows it gone before that.")
    advice = []
    if said is not None:
        evidence.append(facts.cite_event(said))
        where = facts.lines_ref(said.source, said.line)
        if said.fields.get("error") == "http_timeout":
            timeout = str(said.fields.get("timeout") or "?")
            server = f"{said.fields.get('host')}:{said.fields.get('port')}"
            why += (f" Before the job ended, the handler's request to ComfyUI ({server}) timed out after {timeout} s "
                    f"({where}): ComfyUI was busy, not gone.")
            advice.append(ADVICE_TIMEOUT(timeout=timeout))
        else:
            why += f" The handler raised an exception before it ({where}: `Captured Handler Exception`)."
    if first.finished_later:
        evidence.append(facts.cite(prompt.source, prompt.last_line, "Prompt executed"))
    why += " The caller got no output of this prompt, whatever the handler returned."
    if len(jobs) > 1:
        why += f" {plural(len(jobs) - 1, 'more job')} ended the same way."
        evidence += [facts.cite_event(j.job_end) for j in jobs[1:MAX_EVIDENCE]]
    if not advice:
        advice.append(ADVICE_WAIT())
    advice.append(ADVICE_LEFT_RUNNING())
    sure = first.finished_later or (said is not None and said.fields.get("error") == "http_timeout")
    title = ("The RunPod job ended while ComfyUI was still working on its prompt" if len(jobs) == 1 else
             f"{len(jobs)} RunPod jobs ended while ComfyUI was still working on their prompts")
    return finding(
        "handler-error", title, "high" if sure else "medium", why, advice, evidence,
        {"jobs": len(jobs), "finished_later": sum(j.finished_later for j in jobs)},
        sum(j.prompt.total_s or 0.0 for j in jobs), (j.prompt.index for j in jobs), total=len(evidence))
