"""ComfyUI aborted on a native error (a C++ exception, ``Fatal Python error``): it died, with a reason."""

from __future__ import annotations

from ...events import Event, EventKind
from ...lazyre import lazy_re
from ...model import ErrorRecord, Finding
from ...text import plural
from ..engine import MAX_EVIDENCE, Advice, finding, rule
from ..facts import Facts
from ..packages import site_package
from ..pytorch import NO_KERNEL_IMAGE

#: faulthandler's stack after ``Fatal Python error``: the message row that reads it as a traceback.
FAULTHANDLER_STACK = "faulthandler_stack"
#: How far past an abort's record its stack may start (the C++ frames come between).
STACK_AFTER_LINES = 80
CUSTOM_NODE_RE = lazy_re(r"[/\\]custom_nodes[/\\]([^/\\]+)[/\\]")
#: Attention libraries a node can be told not to use (WanVideoWrapper's attention_mode, KJNodes' patches...).
ATTENTION_LIBRARIES = frozenset({"sageattention", "sageattn3", "flash_attn", "flash_attn_3", "xformers",
                                 "spas_sage_attn"})

ADVICE_NO_KERNEL = Advice(
    "A compiled library the prompt used has no kernels for this GPU: a CUDA extension (sageattention, "
    "flash-attn, xformers) or PyTorch built for other GPU architectures. Install a build of it for this GPU; "
    "the Python stack under `Fatal Python error` names the library and the node that called it"
)
ADVICE_NATIVE = Advice(
    "The Python stack under `Fatal Python error` (or the traceback before the abort) names the code that called "
    "the library that crashed, often a custom node: update or remove it"
)
ADVICE_NO_KERNEL_NAMED = Advice(
    "`{library}` has no kernels for this GPU{gpu}: install a build of it made for this GPU's architecture{instead}",
    {"library": "the library", "gpu": "", "instead": ""})
ADVICE_NATIVE_NAMED = Advice(
    "The abort came from `{library}`{caller}, as the Python stack under `Fatal Python error` shows: update or "
    "reinstall it for this PyTorch and GPU, or stop using it", {"library": "the library", "caller": ""})
#: The message row of a shell's report of a native fault (`Segmentation fault (core dumped)`): no Python stack follows.
SHELL_FAULT = "shell_native_fault"
ADVICE_FAULTHANDLER = Advice(
    "Only the shell reports the crash, so nothing names the code that crashed: start ComfyUI with `python -X "
    "faulthandler main.py` (or set `PYTHONFAULTHANDLER=1`), and the next crash prints `Fatal Python error: "
    "Segmentation fault` with the Python stack, which names it (often a custom node or a library built for another "
    "PyTorch, Python or GPU)")
ADVICE_RERUN = Advice("Run the prompt again with `CUDA_LAUNCH_BLOCKING=1` to make a CUDA error point at the call "
                      "that caused it")


@rule(
    "crash", "error", None,
    trigger="`what():` of a C++ exception, `Fatal Python error`, or the shell's report of a native fault "
    "(`Segmentation fault (core dumped)`, zsh's `segmentation fault`): ComfyUI aborted on a native error, without "
    "a Python exception of its own, and the prompt it ran died with it.",
    advice=(ADVICE_NO_KERNEL_NAMED, ADVICE_NO_KERNEL, ADVICE_NATIVE_NAMED, ADVICE_NATIVE, ADVICE_FAULTHANDLER,
            ADVICE_RERUN),
)
def _crash(facts: Facts) -> list[Finding]:
    records = list(facts.errors_in("crash"))
    if not records:
        return []
    prompts = sorted({e.prompt for e in records if e.prompt is not None})
    messages = list(dict.fromkeys(e.message for e in records))
    no_kernel = any(NO_KERNEL_IMAGE in m for m in messages)
    run = facts.run_at(records[0].source, records[0].line)
    where = f" on the {run.gpu}" if run is not None and run.gpu else ""
    died = ("the prompt died with the process" if prompts else
            "the log shows no prompt running then")
    stack = _abort_stack(facts, records)
    shell_only = stack is None and all(
        ev.fields.get("pattern") == SHELL_FAULT for record in records
        for ev in facts.between(EventKind.CRASH, record.source, record.line, record.end_line or record.line))
    verb = "crashed" if shell_only else "aborted"  # the shell saw a fault; nothing in the process aborted itself
    why = (f"The process {verb}{where}: `{messages[0]}`. A native library (C++ or CUDA code under PyTorch) failed, "
           f"so no Python exception was logged and no `Prompt executed` line followed: {died}"
           + (f"; {plural(len(records), 'abort')} in all" if len(records) > 1 else "") + ".")
    library = _library(str(stack.fields.get("first_file") or "")) if stack is not None else None
    node = str(stack.fields["custom_node"]) if stack is not None and stack.fields.get("custom_node") else None
    caller = f", called by custom node `{node}`" if node and node != library else ""
    if library is not None:
        why += f" The Python stack under `Fatal Python error` shows where: in `{library}`{caller}."
    if no_kernel and library is not None:
        instead = (f", or have {f'`{node}`' if node else 'the node'} use another attention (e.g. `sdpa` in its "
                   "attention setting)" if library in ATTENTION_LIBRARIES else "")
        advice = [ADVICE_NO_KERNEL_NAMED(library=library, gpu=f" ({run.gpu})" if run is not None and run.gpu else "",
                                         instead=instead)]
    elif no_kernel:
        advice = [ADVICE_NO_KERNEL()]
    else:
        first = (ADVICE_NATIVE_NAMED(library=library, caller=caller) if library is not None
                 else ADVICE_FAULTHANDLER() if shell_only else ADVICE_NATIVE())
        # a prompt to run again only where one died (a crash during start-up has none: field8 03)
        advice = [first, ADVICE_RERUN()] if prompts else [first]
    evidence = [facts.cite_event(ev) for record in records[:MAX_EVIDENCE]
                for ev in facts.between(EventKind.CRASH, record.source, record.line, record.end_line or record.line)]
    if not evidence:
        evidence = [facts.cite(e.source, e.line, e.message) for e in records[:MAX_EVIDENCE]]
    if stack is not None and library is not None:
        evidence.append(facts.cite_event(stack))
    title = f"ComfyUI {verb}: " + (f"{library if library else 'a library'} has no kernels for this GPU" if no_kernel
                                    else messages[0])
    return [finding(
        "crash", title, "high", why, advice, evidence,
        {"aborts": len(records), "messages": messages[:5], "gpu": run.gpu if run else None},
        facts.seconds_of(prompts), prompts, total=len(records))]


def _abort_stack(facts: Facts, records: list[ErrorRecord]) -> Event | None:
    """faulthandler's ``Stack (most recent call first):`` of the first abort that printed one."""
    for record in records:
        for ev in facts.between(EventKind.TRACEBACK, record.source, record.line,
                                (record.end_line or record.line) + STACK_AFTER_LINES):
            if ev.fields.get("pattern") == FAULTHANDLER_STACK:
                return ev
    return None


def _library(path: str) -> str | None:
    """The package of the innermost frame: ``sageattention`` for ``.../dist-packages/sageattention/core.py``, a
    custom node's folder for a file under ``custom_nodes``; None for PyTorch itself or an unknown place."""
    m = CUSTOM_NODE_RE.search(path)
    library = site_package(path) or (m.group(1) if m else None)
    return None if library in ("torch", "comfy") else library
