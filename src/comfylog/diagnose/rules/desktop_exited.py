"""ComfyUI Desktop's main.log: the ComfyUI server the app started exited with an error.

The app (Comfy-Org/desktop, ``src/main-process/comfyServer.ts``, ``ComfyServer.start``) runs ComfyUI's
``main.py`` as a child process, writes that process's output to ``comfyui.log`` (electron-log's file transport,
``logId: 'comfyui'``) and logs to its own ``main.log`` only ``Python process exited with code N and signal S`` when
the process ends with a code other than 0. So main.log says that ComfyUI died, never why: the why is in comfyui.log,
in the same logs folder. Windows reports a process killed by an exception as its NTSTATUS, unsigned:
``3221225477`` is 0xC0000005, an access violation (Comfy-Org/desktop#1611).
"""

from __future__ import annotations

from ...events import Event, EventKind
from ...model import Finding
from ..engine import MAX_EVIDENCE, Advice, finding, rule
from ..facts import Facts

#: Windows' NTSTATUS codes an exit code can be, and what they mean (ntstatus.h).
NTSTATUS = {
    0xC0000005: "an access violation (STATUS_ACCESS_VIOLATION): native code crashed (PyTorch, a GPU driver's "
                "library or a custom node's compiled extension), usually without a Python traceback; comfyui.log's "
                "last lines show what ComfyUI was doing",
    0xC0000409: "a fail-fast exit (STATUS_STACK_BUFFER_OVERRUN): native code ended the process on purpose, usually "
                "without a Python traceback; comfyui.log's last lines show what ComfyUI was doing",
}

ADVICE_COMFYUI_LOG = Advice(
    "Open `comfyui.log` in the same logs folder as this main.log: the app writes ComfyUI's own output there, with "
    "the error it ended on (`comfylog analyze comfyui.log` reads it)")


@rule(
    "desktop-exited", "error", None,
    trigger="ComfyUI Desktop's `Python process exited with code N and signal S` (its main.log; with `Unhandled "
    "exception during server start Error:` before it when it ended the start): the ComfyUI server the app started "
    "ended with an error; main.log does not say why, the app's comfyui.log does.",
    advice=(ADVICE_COMFYUI_LOG,),
)
def _desktop_exited(facts: Facts) -> list[Finding]:
    exits = _exits(facts.events[EventKind.ERROR_LINE])
    if not exits:
        return []
    first = exits[0]
    code = first.fields.get("code")
    meaning = ""
    if isinstance(code, int):
        status = code & 0xFFFFFFFF
        if status in NTSTATUS:
            meaning = f" Exit code {code} is 0x{status:08X}: {NTSTATUS[status]}."
        elif code == 1:
            meaning = " Exit code 1 is Python ending on an uncaught error: its traceback is in comfyui.log."
    starting = any(ev.fields.get("during_start") for ev in facts.events[EventKind.ERROR_LINE]
                   if ev.fields.get("error") == "desktop_exited")
    when = " while it was starting" if starting else ""
    times = f" ({len(exits)} times)" if len(exits) > 1 else ""
    message = str(first.fields.get("message", ""))
    return [finding(
        "desktop-exited", f"ComfyUI Desktop: the ComfyUI server exited{when}{times}", "high",
        f"The app logs `{message}`: the ComfyUI process it started ended with an error{when}.{meaning} The app's "
        "main.log holds only the app's side; ComfyUI's own output, and the error it ended on, is in comfyui.log.",
        [ADVICE_COMFYUI_LOG()], [facts.cite_event(ev) for ev in exits[:MAX_EVIDENCE]],
        {"exit_code": code, "exits": len(exits)}, total=len(exits))]


def _exits(events: list[Event]) -> list[Event]:
    """The exits, one event each: the `Unhandled exception during server start Error: ...` line right after the
    exit's own line (the same exit, rejected into the app's start) is left out."""
    found: list[Event] = []
    for ev in events:
        if ev.fields.get("error") != "desktop_exited":
            continue
        last = found[-1] if found else None
        if (ev.fields.get("during_start") and last is not None and last.source == ev.source
                and not last.fields.get("during_start") and last.fields.get("message") == ev.fields.get("message")):
            continue
        found.append(ev)
    return found
