"""A compiled module built against NumPy 1.x, imported under NumPy 2.

NumPy 2 refuses such a module with ``A module that was compiled using NumPy 1.x cannot be run in`` /
``NumPy 2.2.6 as it may crash.`` (numpy/core/_multiarray_umath.py), then the import stack. When that module is
PyTorch, PyTorch says ``Failed to initialize NumPy: _ARRAY_API not found`` from its own file: its NumPy bridge is
off, and nodes that turn tensors into arrays fail later with ``Numpy is not available``. PyTorch builds support
NumPy 2 from 2.3; NumPy's own advice is ``numpy<2`` or a newer build of the module.
"""

from __future__ import annotations

from ...events import EventKind
from ...model import Finding
from ..builds import version_tuple
from ..engine import MAX_EVIDENCE, Advice, finding, rule
from ..facts import Facts
from ..packages import site_package

#: The first PyTorch release built to run with NumPy 2.
TORCH_NUMPY2 = (2, 3)
NOT_AVAILABLE = "Numpy is not available"

ADVICE_NUMPY1 = Advice(
    "Install NumPy 1 into the Python ComfyUI runs with (`python -m pip install \"numpy<2\"`), as NumPy's message "
    "says, or upgrade {module} to a build made for NumPy 2{which}", {"module": "the module", "which": ""})


@rule(
    "numpy-mismatch", "warning", None,
    trigger="NumPy 2's `A module that was compiled using NumPy 1.x cannot be run in NumPy X`, with PyTorch's "
    "`Failed to initialize NumPy` naming the module when it is PyTorch; an error when `Numpy is not available` "
    "failed something.",
    advice=(ADVICE_NUMPY1,),
)
def _numpy_mismatch(facts: Facts) -> list[Finding]:
    said = facts.events[EventKind.NUMPY_MISMATCH]
    refused = [ev for ev in said if ev.fields.get("pattern") == "numpy1_module"]  # the first line of NumPy's warning
    if not refused:
        return []
    numpy = next((str(ev.fields["numpy"]) for ev in said if "numpy" in ev.fields), None)
    bridge = next((ev for ev in said if "path" in ev.fields), None)
    package = site_package(str(bridge.fields["path"])) if bridge is not None else None
    run = facts.run_at(refused[0].source, refused[0].line)
    torch = run.pytorch_version if run is not None else None
    failed = [e for e in facts.report.errors if NOT_AVAILABLE in e.message][:MAX_EVIDENCE]
    under = f"NumPy {numpy}" if numpy else "NumPy 2"
    why = (f"{under} refused a module compiled against NumPy 1.x ({len(refused)} time"
           f"{'s' if len(refused) != 1 else ''} in this log).")
    which = ""
    if bridge is not None and package == "torch":
        why += (" The module is PyTorch" + (f" {torch}" if torch else "")
                + f": its NumPy bridge did not start (`{bridge.fields['reason']}`)")
        built = version_tuple(torch)
        if built is not None and built < TORCH_NUMPY2:
            why += ", and PyTorch builds before 2.3 were made for NumPy 1"
            which = " (PyTorch 2.3 or later)"
        why += "."
    elif bridge is not None and package:
        why += f" `{package}` said so when it started (`{bridge.fields['reason']}`)."
    if failed:
        why += (f" {len(failed)} error{'s' if len(failed) != 1 else ''} followed from it (`{NOT_AVAILABLE}`).")
    else:
        why += (" Nodes that hand tensors to NumPy (saving or loading images, many custom nodes) fail with "
                f"`{NOT_AVAILABLE}` when they run.")
    module = "PyTorch" if package == "torch" else f"`{package}`" if package else "the module NumPy's stack names"
    evidence = [facts.cite_event(refused[0])] + ([facts.cite_event(bridge)] if bridge is not None else [])
    evidence += [facts.cite(e.source, e.line, e.message) for e in failed]
    title = f"A module built for NumPy 1.x runs under {under}" + (f": {module}" if package else "")
    return [finding("numpy-mismatch", title, "high", why, [ADVICE_NUMPY1(module=module, which=which)], evidence,
                    {"numpy": numpy, "module": package, "refused": len(refused), "failed": len(failed)},
                    severity="error" if failed else "warning", total=len(refused))]
