"""A GPU kernel that faulted, where PyTorch only warned: the GPU's context is broken from there on.

PyTorch checks some GPU runtime calls with C10_CUDA_CHECK_WARN (c10/cuda/CUDAException.h): a failure is a
`UserWarning: CUDA warning: <error string>` (`HIP warning:` in a ROCm build), not an exception. A launch
failure or an illegal memory access is sticky: every later call of the process fails or hangs, and a driver
that cannot recover the GPU can freeze the machine (Comfy-Org/ComfyUI#12762: `HIP warning: unspecified launch
failure`, then the computer locked up).
"""

from __future__ import annotations

from ...model import Finding
from ...text import clock, plural
from ..deaths import gpu_faults
from ..engine import MAX_EVIDENCE, Advice, finding, rule
from ..facts import Facts

#: Per runtime: the driver's own log of the fault, and the variable that makes the failing kernel raise where it
#: ran (PyTorch's hint under a HIP error: "For debugging consider passing AMD_SERIALIZE_KERNEL=3").
DRIVER = {"HIP": ("amdgpu's page faults, ring timeouts and GPU resets", "AMD_SERIALIZE_KERNEL=3"),
          "CUDA": ("`NVRM: Xid` lines", "CUDA_LAUNCH_BLOCKING=1")}

ADVICE_RESTART = Advice("Restart ComfyUI (a frozen machine needs a reboot): after a kernel fault the GPU's context "
                        "stays broken, so the prompts after it fail too")
ADVICE_DRIVER_LOG = Advice("`dmesg` (or `journalctl -k`) from that time shows the driver's side of the fault: "
                           "{driver}", {"driver": "amdgpu's page faults, ring timeouts and GPU resets"})
ADVICE_SERIALIZE = Advice("Run the prompt again with `{env}`: the failing kernel then raises an error where it ran, "
                          "and its traceback names the node", {"env": "AMD_SERIALIZE_KERNEL=3"})


@rule(
    "gpu-fault", "error", None,
    trigger="PyTorch's `UserWarning: HIP warning:` or `CUDA warning:` with a kernel fault (`unspecified launch "
    "failure`, an illegal memory access or instruction, a misaligned address, a launch time-out): a GPU kernel "
    "failed where PyTorch only warns.",
    advice=(ADVICE_RESTART, ADVICE_DRIVER_LOG, ADVICE_SERIALIZE),
)
def _gpu_fault(facts: Facts) -> list[Finding]:
    faults = gpu_faults(facts)
    if not faults:
        return []
    first = faults[0]
    api = str(first.fields.get("api", "CUDA"))
    said = f"{api} warning: {first.fields.get('message')}"
    driver, env = DRIVER.get(api, DRIVER["CUDA"])
    at = f", {clock(first.ts)}" if first.ts is not None else ""
    why = (f"PyTorch warned `{said}` ({facts.lines_ref(first.source, first.line)}{at}"
           + (f", {plural(len(faults), 'such warning')} in all" if len(faults) > 1 else "") + "): a kernel on the "
           "GPU faulted, and this check of PyTorch's only warns. The fault is sticky: the GPU calls after it fail "
           "or hang, and a driver that cannot recover the GPU can freeze the machine.")
    last = facts.report.sources[first.source].lines
    if last - first.line <= 3:
        why += " The log ends " + ("there." if last == first.line else f"{plural(last - first.line, 'line')} later.")
    return [finding(
        "gpu-fault", f"The GPU faulted: `{said}`", "high", why,
        [ADVICE_RESTART(), ADVICE_DRIVER_LOG(driver=driver), ADVICE_SERIALIZE(env=env)],
        [facts.cite_event(ev) for ev in faults[:MAX_EVIDENCE]],
        {"faults": len(faults), "api": api, "message": str(first.fields.get("message"))},
        total=len(faults))]
