"""Prompts that failed in a node with an exception."""

from __future__ import annotations

from ...events import EventKind
from ...model import ErrorRecord, Evidence, Finding
from ...text import plural
from ..engine import MAX_EVIDENCE, finding, rule
from ..evidence import clip, event_line
from ..facts import Facts, prompt_seconds


@rule(
    "exception", "error", None,
    trigger="`!!! Exception during processing !!!` or a traceback that is not out of memory: prompts that "
    "failed in a node.",
    advice="The traceback names the node and the cause (a missing input file, a model the node cannot use, a "
    "bug in a custom node): fix the input or update the node.",
)
def _exception(facts: Facts) -> list[Finding]:
    records = [e for e in facts.report.errors if e.kind == "exception"]
    if not records:
        return []
    prompts = sorted({e.prompt for e in records if e.prompt is not None})
    messages: dict[str, int] = {}
    for e in records:
        messages[e.message] = messages.get(e.message, 0) + 1
    shown = "; ".join(f"`{clip(m, 100)}`" + (f" ×{n}" if n > 1 else "") for m, n in list(messages.items())[:3])
    title = (f"{plural(len(prompts), 'prompt')} failed with an exception" if prompts
             else f"{plural(len(records), 'exception')} outside any prompt")
    return [finding(
        "exception", title, "high",
        f"{plural(len(records), 'exception')} ({len(messages)} distinct): {shown}"
        + (f" and {len(messages) - 3} more" if len(messages) > 3 else "")
        + ". ComfyUI stops a prompt at the node that raised it.",
        ["Read the traceback: the last `File ...custom_nodes/NAME/...` line names the node that failed",
         "Missing files and wrong inputs are fixed in the workflow; errors inside a custom node usually need "
         "an update of that node (or of ComfyUI to match it)"],
        [_error_evidence(facts, e) for e in records[:MAX_EVIDENCE]],
        {"exceptions": len(records), "prompts": len(prompts), "messages": dict(list(messages.items())[:5])},
        sum(prompt_seconds(p) for p in facts.prompts_by_index(prompts)), prompts, total=len(records))]


def _error_evidence(facts: Facts, record: ErrorRecord) -> Evidence:
    """The line that says what failed: the ``!!! Exception`` line, else the traceback's last line."""
    end = record.end_line or record.line
    candidates = [ev for kind in (EventKind.EXCEPTION, EventKind.TRACEBACK)
                  for ev in facts.between(kind, record.source, record.line, end) if event_line(ev)[0] <= end]
    telling = [ev for ev in candidates if record.message[:60] in event_line(ev)[1]]
    if telling or candidates:
        return facts.cite_event((telling or candidates)[0])
    return facts.cite(record.source, record.line, record.message)
