"""Workflows ComfyUI refused at validation, in whole or in part."""

from __future__ import annotations

from ...model import ErrorRecord, Finding
from ...text import plural
from ..engine import MAX_EVIDENCE, finding, rule
from ..evidence import clip
from ..facts import Facts


@rule(
    "validation-failed", "warning", None,
    trigger="`Failed to validate prompt` / `Prompt outputs failed validation`: prompts ComfyUI refused to "
    "run, or outputs it ignored.",
    advice="Fix what the lines after the failure name: a missing model file, a missing custom node, an "
    "unconnected input.",
)
def _validation_failed(facts: Facts) -> list[Finding]:
    rejected = {p.index for p in facts.prompts_in("invalid")}
    records: list[ErrorRecord] = []  # the first few, for evidence
    total = ignored = 0
    prompts: list[int] = []
    reasons: dict[str, None] = {}
    for e in facts.report.errors:  # one pass, counting: a long log has thousands of these
        if e.kind != "validation":
            continue
        total += 1
        if len(records) < MAX_EVIDENCE:
            records.append(e)
        reasons.setdefault(e.message)
        if e.prompt is not None:
            prompts.append(e.prompt)
            ignored += e.prompt not in rejected
    if not total:
        return []
    parts = []
    if rejected:
        parts.append(f"{plural(len(rejected), 'prompt')} rejected (not run at all)")
    if ignored:
        parts.append(f"{plural(ignored, 'prompt')} ran with some outputs ignored")
    messages = list(reasons)
    return [finding(
        "validation-failed", "Workflow validation failed: " + ", ".join(parts), "high",
        "ComfyUI checks each workflow before running it and refused these in whole or in part (first: "
        f"`{clip(messages[0], 160)}`" + (f"; {len(messages)} distinct messages" if len(messages) > 1 else "") + ").",
        ["The lines after `Failed to validate prompt for output N` name the node and input: usually a "
         "missing model file, a missing custom node or an unconnected input",
         "An API workflow must name model files that exist on this machine"],
        [facts.cite(e.source, e.line, e.message) for e in records],
        {"rejected": len(rejected), "outputs_ignored_in": ignored, "messages": messages[:5]},
        0.0, prompts, total=total)]
