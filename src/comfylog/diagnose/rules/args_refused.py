"""ComfyUI refused its command line: argparse printed the usage and `main.py: error: ...` and ComfyUI exited.

comfy/cli_args.py parses sys.argv as ComfyUI starts; an option it does not have (a launcher's, a template's, one
of a newer or older ComfyUI) or a value it does not take ends the process with exit code 2 before anything else
(CPython's argparse ``error()``). A launcher that passes such an option fails the same way at every launch
(corpus 037: 61 refusals of `--base-path … --headless`), which a console shows as the usage text again and again.
"""

from __future__ import annotations

from ...events import Event, EventKind
from ...model import Finding
from ...text import plural
from ..engine import MAX_EVIDENCE, Advice, finding, rule
from ..evidence import clip
from ..facts import Facts

#: The ``error`` of the `comfyui_args_refused` message row.
ARGS_REFUSED = "args_refused"
#: argparse's message for options it has no argument for (Lib/argparse.py, ``parse_args``).
UNRECOGNIZED = "unrecognized arguments: "

ADVICE_REMOVE = Advice(
    "Take {options} off the command that starts ComfyUI (the launcher's or template's arguments, a `.bat` file, "
    "a start script, `CLI_ARGS`): this ComfyUI has no such option, so it exits at once; if they belong to a newer "
    "ComfyUI, update it. `python main.py -h` lists the options this ComfyUI has",
    {"options": "the options argparse names"})
ADVICE_FIX = Advice(
    "Fix the command that starts ComfyUI as the error says (`{error}`): `python main.py -h` lists each option and "
    "the values it takes", {"error": "main.py: error: ..."})


@rule(
    "args-refused", "error", None,
    trigger="argparse's `main.py: error: <message>` after ComfyUI's usage text (`usage: main.py [-h] [--listen …`): "
    "ComfyUI refused its command line and exited before it started; an error when the log's last launch was "
    "refused, a warning when ComfyUI started after it.",
    advice=(ADVICE_REMOVE, ADVICE_FIX),
)
def _args_refused(facts: Facts) -> list[Finding]:
    refused = [ev for ev in facts.events[EventKind.ERROR_LINE] if ev.fields.get("error") == ARGS_REFUSED]
    if not refused:
        return []
    last = refused[-1]
    message = str(last.fields.get("message") or "")
    started_after = _started_after(facts, last)
    times = f" {plural(len(refused), 'time')}" if len(refused) > 1 else ""
    when = " before it started" if started_after else ""
    distinct = {str(ev.fields.get("message") or "") for ev in refused}
    others = f" ({plural(len(distinct) - 1, 'other message')} before it)" if len(distinct) > 1 else ""
    then = ("ComfyUI started after the last refusal (the launch was changed, or another command started it)."
            if started_after else "No later launch in this log started ComfyUI.")
    if message.startswith(UNRECOGNIZED):
        options = [word for word in message[len(UNRECOGNIZED):].split() if word.startswith("-")]
        named = ", ".join(f"`{clip(o, 60)}`" for o in options[:6]) or f"`{clip(message, 80)}`"
        advice = ADVICE_REMOVE(options=named)
    else:
        advice = ADVICE_FIX(error=f"main.py: error: {clip(message, 120)}")
    return [finding(
        "args-refused", f"ComfyUI refused its command line{times}{when}: `{clip(message, 90)}`", "high",
        f"ComfyUI's argument parser printed its usage and `main.py: error: {clip(message, 160)}`{others} and "
        f"exited (code 2) before loading anything: ComfyUI did not run at that launch. {then}",
        [advice], [facts.cite_event(ev) for ev in _first_and_last(refused)],
        {"refusals": len(refused), "message": message, "started_after": started_after},
        severity="warning" if started_after else "error", total=len(refused))]


def _started_after(facts: Facts, refusal: Event) -> bool:
    """Whether a run of ComfyUI begins after the refusal, in the same input."""
    return any(run.source == refusal.source and run.first_line > refusal.line for run in facts.report.runs)


def _first_and_last(events: list[Event]) -> list[Event]:
    """The evidence: the first refusals and the last (the one the title quotes)."""
    if len(events) <= MAX_EVIDENCE:
        return events
    return [*events[:MAX_EVIDENCE - 1], events[-1]]
