"""A custom node's prestartup script that raised: ComfyUI started without what the script does first."""

from __future__ import annotations

import re

from ...events import Event, EventKind
from ...model import Finding, Run
from ...text import basename, listing, plural
from ..engine import Advice, finding, rule
from ..evidence import clip
from ..facts import Facts, run_group

ADVICE_UPDATE = Advice("Update {nodes} (`git pull` in {its} folder, or ComfyUI-Manager: Update) or re-install "
                       "{them}: the script runs at every start, so the next one shows whether that fixed it",
                       {"nodes": "the node", "its": "its", "them": "it"})
ADVICE_MANAGER = Advice("ComfyUI-Manager's prestartup script runs the installs and the snapshot restore scheduled "
                        "from its menu (its `startup-scripts` folder): start ComfyUI again once it is fixed, or "
                        "they wait")
#: ``'default'``: a quoted word alone is how Python prints a KeyError (``str(KeyError('default'))``).
KEY_ERROR_TEXT = re.compile(r"^'[^']{1,80}'$")
MAX_REASON_CHARS = 160


@run_group("prestartup_failures")
def _has_failed_prestartup(run: Run) -> bool:
    return any(failed for _, _, failed, _ in run.prestartup_times)


@rule(
    "prestartup-failed", "warning", None,
    trigger="`(PRESTARTUP FAILED)` in `Prestartup times for custom nodes`: a custom node's `prestartup_script.py` "
    "raised before ComfyUI started (its text is on main.py's `Failed to execute startup-script` line), and ComfyUI "
    "started without what the script does.",
    advice=(ADVICE_UPDATE, ADVICE_MANAGER),
)
def _prestartup_failed(facts: Facts) -> list[Finding]:
    failed = [(run, path, line) for run in facts.runs_in("prestartup_failures")
              for _, path, did_fail, line in run.prestartup_times if did_fail]
    if not failed:
        return []
    said = facts.events[EventKind.PRESTARTUP_FAILED]
    nodes = list(dict.fromkeys(basename(path) for _, path, _ in failed))
    reasons = {node: ev for node in nodes if (ev := _reason_of(node, said)) is not None}
    named = listing([f"`{n}`" for n in nodes], len(nodes))
    said_texts = [(node, ev) for node, ev in reasons.items() if ev.fields.get("reason")]
    told = [(f"`{clip(str(ev.fields['reason']), MAX_REASON_CHARS)}`" if len(nodes) == 1
             else f"`{node}`: `{clip(str(ev.fields['reason']), MAX_REASON_CHARS)}`")
            + f" ({facts.lines_ref(ev.source, ev.line)})" for node, ev in said_texts]
    those = "That" if len(nodes) == 1 else "Those"
    why = (f"ComfyUI runs each custom node's `prestartup_script.py` before it starts. {those} of {named} raised an "
           "exception, and ComfyUI went on starting without what the script does first "
           f"(`PRESTARTUP FAILED`, {facts.lines_ref(failed[0][0].source, failed[0][2])}). ")
    if told:
        why += "ComfyUI printed only the exception's text, not its traceback: " + "; ".join(told) + "."
        if any(KEY_ERROR_TEXT.match(str(ev.fields.get("reason") or "")) for _, ev in said_texts):
            why += (" A quoted word alone is how Python prints a `KeyError`: the script looked up a key (a setting, "
                    "a section of a config file) that is not there.")
    one = len(nodes) == 1
    advice = [ADVICE_UPDATE(nodes=named, its="its" if one else "their", them="it" if one else "them")]
    if any("manager" in node.lower() for node in nodes):
        advice.append(ADVICE_MANAGER())
    evidence = [facts.cite_event(ev) for ev in reasons.values()]
    evidence += [facts.cite(run.source, line, f"(PRESTARTUP FAILED): {path}") for run, path, line in failed]
    first = next(iter(reasons.values()), None)
    title = f"{plural(len(nodes), 'prestartup script')} failed before ComfyUI started: {named}"
    if first is not None and first.fields.get("reason"):
        title += f" (`{clip(str(first.fields['reason']), 60)}`)"
    return [finding("prestartup-failed", title, "high", why, advice, evidence,
                    {"nodes": nodes, "reasons": {n: ev.fields.get("reason") for n, ev in reasons.items()}},
                    total=len(evidence))]


def _reason_of(node: str, said: list[Event]) -> Event | None:
    """The ``Failed to execute startup-script`` line of the node's script (the folder above the script's file)."""
    for ev in said:
        folder = str(ev.fields.get("path", "")).replace("\\", "/").rsplit("/", 2)
        if len(folder) >= 2 and folder[-2] == node:
            return ev
    return None
