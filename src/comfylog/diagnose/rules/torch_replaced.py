"""An install that put another PyTorch into the environment ComfyUI runs with.

A custom node's requirements (or a ``pip install git+...`` of one of its dependencies) that ask for ``torch``
let pip or uv replace the PyTorch the image or install was built with: uv lists `` + torch==2.11.0``, pip
ends with ``Successfully installed ... torch-2.11.0 ...``. The running ComfyUI keeps the PyTorch it imported;
the next start imports the new one, often a build for another CUDA (PyPI's default), and every compiled
extension built for the old one (xFormers, sageattention, nodes' CUDA code) stops loading.
"""

from __future__ import annotations

from ...events import EventKind
from ...lazyre import lazy_re
from ...model import Finding, Run
from ..engine import Advice, finding, rule
from ..facts import Facts

#: ``2.9.1+cu129`` -> ``2.9.1``, ``cu129``.
VERSION_RE = lazy_re(r"^(?P<base>[\d.]+)(?:\+(?P<local>\w+))?")

ADVICE_PUT_BACK = Advice(
    "Put back the PyTorch this ComfyUI ran with: `{pip} install torch=={version}{index}` (torchvision and "
    "torchaudio to match), then restart", {"pip": "python -m pip", "version": "VERSION", "index": ""})
ADVICE_PIN = Advice(
    "Install custom nodes' requirements with PyTorch pinned, so that they cannot replace it: a constraints file "
    "holding `torch=={version}`, named by `PIP_CONSTRAINT` (pip) or `UV_CONSTRAINT` (uv)", {"version": "VERSION"})


@rule(
    "torch-replaced", "warning", None,
    trigger="uv's ` + torch==X` or pip's `Successfully installed ... torch-X` while ComfyUI runs PyTorch Y (another "
    "version or CUDA build): an install replaced the PyTorch the next start imports.",
    advice=(ADVICE_PUT_BACK, ADVICE_PIN),
)
def _torch_replaced(facts: Facts) -> list[Finding]:
    for ev in facts.events[EventKind.PACKAGE_INSTALLED]:
        if ev.fields.get("change") not in ("+", "~"):
            continue
        run = facts.run_at(ev.source, ev.line)
        running = run.pytorch_version if run is not None else None
        installed = str(ev.fields["version"])
        if run is None or running is None or _same(installed, running):
            continue
        later = _next_start(facts, run)
        why = (f"An install put PyTorch {installed} into the environment while this ComfyUI ran PyTorch {running}. "
               "The running process keeps what it imported; ")
        if later is not None and _same(installed, str(later.pytorch_version)):
            why += f"the next start did import {later.pytorch_version}."
            confidence = "high"
        elif later is not None:
            why += f"the next start still ran {later.pytorch_version} (another environment, or it was put back)."
            confidence = "low"
        else:
            why += ("the next start imports the new one, and extensions compiled for "
                    f"{running} (xFormers, sageattention, custom nodes' CUDA code) stop loading"
                    + (f"; it is PyPI's default build, not a +{running.split('+', 1)[1]} one" if "+" in running
                       and "+" not in installed else "") + ".")
            confidence = "medium"
        m = VERSION_RE.match(running)
        base, local = (m["base"], m["local"]) if m else (running, None)
        index = f" --index-url https://download.pytorch.org/whl/{local}" if local and local.startswith("cu") else ""
        python = str(run.setup.get("python_executable") or "python") if run is not None else "python"
        pip = f"{python} -m uv pip" if ev.fields.get("installer") == "uv" else f"{python} -m pip"
        advice = [ADVICE_PUT_BACK(pip=pip, version=base, index=index), ADVICE_PIN(version=base)]
        return [finding("torch-replaced", f"An install replaced PyTorch {running} with {installed}", confidence, why,
                        advice, [facts.cite_event(ev)], {"running": running, "installed": installed},
                        severity="error" if confidence == "high" else "warning")]
    return []


def _next_start(facts: Facts, run: Run) -> Run | None:
    """The next run of the same input that printed its PyTorch version (runs after ``run``, by index: not a
    pass over every run from the first; a long log has thousands, ~7 kB each)."""
    index = run.index + 1
    while (following := facts.runs.get(index)) is not None and following.source == run.source:
        if following.pytorch_version:
            return following
        index += 1
    return None


def _same(installed: str, running: str) -> bool:
    """The same PyTorch: equal versions, or equal but for a local build tag one of them does not print."""
    a, b = VERSION_RE.match(installed), VERSION_RE.match(running)
    if a is None or b is None:
        return installed == running
    return a["base"] == b["base"] and (a["local"] == b["local"] or a["local"] is None)
