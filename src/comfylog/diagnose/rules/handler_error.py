"""A RunPod handler that returned an error: the job failed, whatever ComfyUI printed."""

from __future__ import annotations

import re

from ...events import EventKind
from ...model import Finding
from ...text import plural
from ..engine import Advice, finding, rule
from ..evidence import clip
from ..facts import Facts
from ..hints import OWN_WORDS_ADVICE, own_words_advice

#: An error result: ``{'error': ...}`` (worker-comfyui) or ``'status': 'error'`` (other handlers).
ERROR_RESULT_RE = re.compile(r"""^\{\s*['"]error['"]\s*:|['"]status['"]\s*:\s*['"](?:error|failed)['"]""")
MESSAGE_RE = re.compile(r"""['"](?:message|error)['"]\s*:\s*(['"])(?P<text>.*?)\1""")

ADVICE_HANDLER = Advice("The job failed and the caller got an error, even though the worker went on: fix what the "
                        "message names (the lines before it show ComfyUI's side)")
ADVICE_RETURN = Advice("A handler that catches errors should still let the job fail loudly: RunPod counts a returned "
                       "result as a completed job")


@rule(
    "handler-error", "error", None,
    trigger="runpod-python's `Handler output: {...}` line holding an error result (`'error': ...` or "
    "`'status': 'error'`): the job failed.",
    advice=(*OWN_WORDS_ADVICE, ADVICE_HANDLER, ADVICE_RETURN),
)
def _handler_error(facts: Facts) -> list[Finding]:
    failed = [ev for ev in facts.events[EventKind.HANDLER_OUTPUT] if ERROR_RESULT_RE.search(str(ev.fields["output"]))]
    if not failed:
        return []
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
