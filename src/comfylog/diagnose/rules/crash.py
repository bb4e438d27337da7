"""ComfyUI aborted on a native error (a C++ exception, ``Fatal Python error``): it died, with a reason."""

from __future__ import annotations

from ...events import EventKind
from ...model import Finding
from ...text import plural
from ..engine import MAX_EVIDENCE, Advice, finding, rule
from ..facts import Facts, prompt_seconds
from ..pytorch import NO_KERNEL_IMAGE

ADVICE_NO_KERNEL = Advice(
    "A compiled library the prompt used has no kernels for this GPU: a CUDA extension (sageattention, "
    "flash-attn, xformers) or PyTorch built for other GPU architectures. Install a build of it for this GPU; "
    "the Python stack under `Fatal Python error` names the library and the node that called it"
)
ADVICE_NATIVE = Advice(
    "The Python stack under `Fatal Python error` (or the traceback before the abort) names the code that called "
    "the library that crashed, often a custom node: update or remove it"
)
ADVICE_RERUN = Advice("Run the prompt again with `CUDA_LAUNCH_BLOCKING=1` to make a CUDA error point at the call "
                      "that caused it")


@rule(
    "crash", "error", None,
    trigger="`what():` of a C++ exception or `Fatal Python error`: ComfyUI aborted on a native error, without "
    "a Python exception of its own, and the prompt it ran died with it.",
    advice=(ADVICE_NO_KERNEL, ADVICE_NATIVE, ADVICE_RERUN),
)
def _crash(facts: Facts) -> list[Finding]:
    records = [e for e in facts.report.errors if e.kind == "crash"]
    if not records:
        return []
    prompts = sorted({e.prompt for e in records if e.prompt is not None})
    messages = list(dict.fromkeys(e.message for e in records))
    no_kernel = any(NO_KERNEL_IMAGE in m for m in messages)
    run = facts.run_at(records[0].source, records[0].line)
    where = f" on the {run.gpu}" if run is not None and run.gpu else ""
    why = (f"The process aborted{where}: `{messages[0]}`. A native library (C++ or CUDA code under PyTorch) failed, "
           "so no Python exception was logged and no `Prompt executed` line followed: the prompt died with the "
           "process" + (f"; {plural(len(records), 'abort')} in all" if len(records) > 1 else "") + ".")
    advice = [ADVICE_NO_KERNEL()] if no_kernel else [ADVICE_NATIVE(), ADVICE_RERUN()]
    evidence = [facts.cite_event(ev) for record in records[:MAX_EVIDENCE]
                for ev in facts.between(EventKind.CRASH, record.source, record.line, record.end_line or record.line)]
    if not evidence:
        evidence = [facts.cite(e.source, e.line, e.message) for e in records[:MAX_EVIDENCE]]
    title = "ComfyUI aborted: " + ("a library has no kernels for this GPU" if no_kernel else messages[0])
    return [finding(
        "crash", title, "high", why, advice, evidence,
        {"aborts": len(records), "messages": messages[:5], "gpu": run.gpu if run else None},
        sum(prompt_seconds(p) for p in facts.prompts_by_index(prompts)), prompts, total=len(records))]
