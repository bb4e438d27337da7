"""Custom nodes that failed to import at start-up."""

from __future__ import annotations

from ...model import Finding, Run
from ...text import basename, plural
from ..engine import Advice, finding, rule
from ..facts import Facts

ADVICE_INSTALL_MISSING = Advice("Install the missing Python packages the reasons name into the Python ComfyUI runs "
                                "with (ComfyUI-Manager: Try fix)")
ADVICE_NOT_A_NODE = Advice("A folder without `__init__.py` is no custom node (a leftover or a broken clone): "
                           "re-install it or remove it")
ADVICE_SYNTAX = Advice("A syntax error means the node does not fit this Python or ComfyUI: update the node")
ADVICE_REMOVE_NODE = Advice("Or remove the node if no workflow needs it")


@rule(
    "import-failed", "warning", None,
    trigger="`(IMPORT FAILED)` in the custom-node import times: nodes that did not load.",
    advice=(ADVICE_INSTALL_MISSING, ADVICE_NOT_A_NODE, ADVICE_SYNTAX, ADVICE_REMOVE_NODE),
)
def _import_failed(facts: Facts) -> list[Finding]:
    failed: dict[str, tuple[Run, float, int]] = {}
    for run in facts.report.runs:
        for seconds, path, did_fail, line in run.import_times:
            if did_fail and path not in failed:
                failed[path] = (run, seconds, line)
    if not failed:
        return []
    reasons: dict[str, str] = {}
    for e in facts.report.errors:
        if e.kind == "import_failed":
            for path in failed:
                if path in e.message and "(" in e.message:
                    reasons.setdefault(path, e.message.split(path, 1)[1].strip(" ()")[:120])
    names = [basename(p) for p in failed]
    advice = []
    texts = " ".join(reasons.values())
    if "No module named" in texts or len(reasons) < len(failed):
        advice.append(ADVICE_INSTALL_MISSING())
    if "No such file" in texts:
        advice.append(ADVICE_NOT_A_NODE())
    if "syntax" in texts.lower():
        advice.append(ADVICE_SYNTAX())
    advice.append(ADVICE_REMOVE_NODE())
    shown = "; ".join(f"{basename(p)} ({reasons[p]})" if p in reasons else basename(p) for p in list(failed)[:3])
    return [finding(
        "import-failed", f"{plural(len(failed), 'custom node')} failed to import", "high",
        f"ComfyUI lists {', '.join(names[:5])}{' …' if len(names) > 5 else ''} as IMPORT FAILED: their nodes "
        f"do not exist in this process, and workflows using them fail validation. {shown}.",
        advice,
        [facts.cite(run.source, line, f"{seconds:.1f} seconds (IMPORT FAILED): {path}")
         for path, (run, seconds, line) in failed.items()],
        {"failed": len(failed), "nodes": names})]
