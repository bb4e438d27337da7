"""A custom node's prestartup script that raised: ComfyUI started without what the script does first."""

from __future__ import annotations

from ...events import Event, EventKind
from ...lazyre import lazy_re
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
KEY_ERROR_TEXT = lazy_re(r"^'[^']{1,80}'$")
MAX_REASON_CHARS = 160


@run_group("prestartup_failures")
def _has_failed_prestartup(run: Run) -> bool:
    return any(failed for _, _, failed, _ in run.prestartup_times)


@rule(
    "prestartup-failed", "warning", None,
    trigger="`(PRESTARTUP FAILED)` in `Prestartup times for custom nodes`, or main.py's `Failed to execute "
    "startup-script` line: a custom node's `prestartup_script.py` raised before ComfyUI started (its text is on that "
    "line, or, where it gives only the path, in the traceback after it), and ComfyUI started without what the script "
    "does.",
    advice=(ADVICE_UPDATE, ADVICE_MANAGER),
)
def _prestartup_failed(facts: Facts) -> list[Finding]:
    failed = [(run, path, line) for run in facts.runs_in("prestartup_failures")
              for _, path, did_fail, line in run.prestartup_times if did_fail]
    said = facts.events[EventKind.PRESTARTUP_FAILED]
    timed = {basename(path) for _, path, _ in failed}
    # the line alone, where the times block is not in the log: cut before it, or a ComfyUI that prints none
    # (hiddenswitch's pip-installable ComfyUI logs the path and the traceback, and no times)
    untimed = [ev for ev in said if _node_of(ev) and _node_of(ev) not in timed]
    if not failed and not untimed:
        return []
    nodes = list(dict.fromkeys([basename(path) for _, path, _ in failed] + [_node_of(ev) for ev in untimed]))
    reasons = {node: ev for node in nodes if (ev := _reason_of(node, said)) is not None}
    tracebacks = {id(ev): tb for ev, tb in facts.prestartup_tracebacks().values()}
    named = listing([f"`{n}`" for n in nodes], len(nodes))
    texts = {node: _text(ev, tracebacks.get(id(ev))) for node, ev in reasons.items()}
    one = len(nodes) == 1
    those = "That" if one else "Those"
    marked = (f"`PRESTARTUP FAILED`, {facts.lines_ref(failed[0][0].source, failed[0][2])}" if failed else
              f"`Failed to execute startup-script`, {facts.lines_ref(untimed[0].source, untimed[0].line)}")
    why = (f"ComfyUI runs each custom node's `prestartup_script.py` before it starts. {those} of {named} raised an "
           f"exception, and ComfyUI went on starting without what the script does first ({marked}). ")
    printed = [(node, ev) for node, ev in reasons.items() if ev.fields.get("reason")]
    if printed:
        why += "ComfyUI printed only the exception's text, not its traceback: " + "; ".join(
            _told(facts, node, texts[node], ev, one) for node, ev in printed) + "."
        if any(KEY_ERROR_TEXT.match(str(ev.fields.get("reason") or "")) for _, ev in printed):
            why += (" A quoted word alone is how Python prints a `KeyError`: the script looked up a key (a setting, "
                    "a section of a config file) that is not there.")
    # a traceback the log ends inside has no exception to quote (a paste cut there)
    cut = [node for node, ev in reasons.items()
           if id(ev) in tracebacks and not tracebacks[id(ev)].fields.get("exception_line")]
    traced = [(node, ev) for node, ev in reasons.items()
              if id(ev) in tracebacks and tracebacks[id(ev)].fields.get("exception_line")]
    if cut:
        whose = "" if one else f" of {listing([f'`{n}`' for n in cut], len(cut))}"
        why += ((" " if printed else "") + f"The log ends inside the traceback{whose} after the line, before its "
                "exception.")
    if traced:
        why += (" " if printed or cut else "") + "The traceback after the line ends with " + "; ".join(
            _told(facts, node, texts[node], tracebacks[id(ev)], one, exception=True) for node, ev in traced) + "."
        if any(tracebacks[id(ev)].fields.get("exception_type") == "KeyError" for _, ev in traced):
            why += (" `KeyError` means the script looked up a key (a setting, a section of a config file) that is "
                    "not there.")
    advice = [ADVICE_UPDATE(nodes=named, its="its" if one else "their", them="it" if one else "them")]
    if any("manager" in node.lower() for node in nodes):
        advice.append(ADVICE_MANAGER())
    evidence = [facts.cite_event(ev) for ev in reasons.values()]
    evidence += [facts.cite(tb.source, int(tb.fields["exception_line"]), str(tb.fields.get("text") or ""))
                 for _, ev in traced if (tb := tracebacks[id(ev)]).fields.get("exception_line")]
    evidence += [facts.cite(run.source, line, f"(PRESTARTUP FAILED): {path}") for run, path, line in failed]
    first = next((texts[node] for node in nodes if texts.get(node)), None)
    title = f"{plural(len(nodes), 'prestartup script')} failed before ComfyUI started: {named}"
    if first:
        title += f" (`{clip(first, 60)}`)"
    return [finding("prestartup-failed", title, "high", why.rstrip(), advice, evidence,
                    {"nodes": nodes, "reasons": {n: texts[n] or None for n in reasons}}, total=len(evidence))]


def _text(ev: Event, traceback: Event | None) -> str:
    """The exception as the log gives it: the text after the path, or the traceback's ``Type: message``."""
    if ev.fields.get("reason"):
        return str(ev.fields["reason"])
    if traceback is not None and traceback.fields.get("exception_type"):
        exc_type, message = str(traceback.fields["exception_type"]), str(traceback.fields.get("message") or "")
        return f"{exc_type}: {message}" if message else exc_type
    return ""


def _told(facts: Facts, node: str, text: str, ev: Event, one: bool, exception: bool = False) -> str:
    """```text``` (line N), with the node's name first when there are several."""
    line = int(ev.fields["exception_line"]) if exception else ev.line
    said = f"`{clip(text, MAX_REASON_CHARS)}` ({facts.lines_ref(ev.source, line)})"
    return said if one else f"`{node}`: {said}"


def _node_of(ev: Event) -> str:
    """The custom node of a ``Failed to execute startup-script`` line: the folder above the script's file."""
    folder = str(ev.fields.get("path", "")).replace("\\", "/").rsplit("/", 2)
    return folder[-2] if len(folder) >= 2 else ""


def _reason_of(node: str, said: list[Event]) -> Event | None:
    """The ``Failed to execute startup-script`` line of the node's script (the folder above the script's file)."""
    return next((ev for ev in said if _node_of(ev) == node), None)
