"""Compiled extensions built for another PyTorch than the one installed."""

from __future__ import annotations

from ...events import EventKind
from ...model import Finding
from ...text import basename
from ..engine import MAX_EVIDENCE, Advice, finding, rule
from ..evidence import clip
from ..facts import Facts
from ..pytorch import LOAD_FAILURES

#: How the segmenter words an import failure (``... PATH (REASON)``): a custom node's, one of ComfyUI's own files'.
IMPORT_PREFIXES = {"custom node failed to import: ": "custom node", "built-in node file failed to import: ":
                   "built-in node file"}

ADVICE_XFORMERS = Advice(
    "Install the xFormers build made for PyTorch {have} (from the same index as torch), or uninstall xFormers: "
    "ComfyUI runs without it", {"have": "the installed version"})
ADVICE_EXTENSIONS = Advice(
    "Reinstall the extensions that fail to load ({names}) for PyTorch {have}, or go back to the PyTorch they were "
    "built for ({built})", {"names": "the failing modules", "have": "the installed version",
                            "built": "the version they name"})


@rule(
    "torch-mismatch", "warning", None,
    trigger="xFormers' `built for: PyTorch X ... (you have Y)`, with `ImportError: DLL load failed` or `undefined "
    "symbol` errors an error: compiled extensions built for another PyTorch than the one installed.",
    advice=(ADVICE_XFORMERS, ADVICE_EXTENSIONS),
)
def _torch_mismatch(facts: Facts) -> list[Finding]:
    mismatches = facts.events[EventKind.EXTENSION_MISMATCH]
    if not mismatches:
        return []
    ev = mismatches[0]
    built, have = str(ev.fields["built"]), str(ev.fields["have"])
    if built == have:
        return []
    failures = [e for e in facts.report.errors if any(f in e.message for f in LOAD_FAILURES)][:MAX_EVIDENCE]
    names = sorted({_module(e.message) for e in failures} - {""})
    why = (f"xFormers says it was built for PyTorch {built} (CUDA {ev.fields['cuda']}), and this Python has {have}: "
           "its compiled extensions do not load, so xFormers' attention is off.")
    advice = [ADVICE_XFORMERS(have=have)]
    if failures:
        why += (f" {len(failures)} compiled extension{'s' if len(failures) != 1 else ''} failed to load the same "
                "way (" + "; ".join(_failure(e.message) for e in failures[:3]) + "): built for another "
                "PyTorch, like xFormers.")
        advice.append(ADVICE_EXTENSIONS(names=", ".join(f"`{n}`" for n in names) or "those modules", have=have,
                                        built=built))
    evidence = [facts.cite_event(ev)] + [facts.cite(e.source, e.end_line or e.line, e.message) for e in failures]
    return [finding(
        "torch-mismatch", f"Extensions built for PyTorch {built}, but PyTorch {have} is installed", "high", why,
        advice, evidence, {"built_for": built, "installed": have, "failed_extensions": names},
        severity="error" if failures else "warning")]


def _failure(message: str) -> str:
    """``custom node `teacache`: `DLL load failed while importing _C` ``, or the message itself."""
    for prefix, what in IMPORT_PREFIXES.items():
        if message.startswith(prefix) and " (" in message:
            path, reason = message[len(prefix):].split(" (", 1)
            return f"{what} `{basename(path)}`: `{clip(reason.rstrip(')'), 80)}`"
    return f"`{clip(message, 100)}`"


def _module(message: str) -> str:
    """``_C`` of ``DLL load failed while importing _C: ...``."""
    if "while importing " in message:
        return message.split("while importing ", 1)[1].split(":", 1)[0].strip()
    return ""
