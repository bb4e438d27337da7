"""A RunPod worker that failed its start-up checks and exited before it could take a job.

runpod-python (1.9 and later, ``rp_fitness.py``) runs fitness checks before the handler starts; the first
that fails prints ``Fitness check failed: NAME | ErrorType: message`` and ``Worker is unhealthy, exiting.``,
then ends the process with exit code 1. worker-comfyui's ``start.sh`` checks the GPU itself (``GPU is not
available. PyTorch CUDA init failed:`` and ``worker-comfyui: FAIL: error``) and exits 1. RunPod's console
adds ``worker exited with exit code N`` when the process ends; when that line is all the log shows, the
worker died before its own lines were shipped. Each check has its own remedy: the built-in checks' names,
messages and settings are runpod-python 1.12's (``rp_system_fitness.py``, ``rp_gpu_fitness.py``).
"""

from __future__ import annotations

from ...events import Event, EventKind
from ...model import ErrorRecord, Finding
from ..engine import MAX_EVIDENCE, Advice, finding, rule
from ..evidence import clip
from ..facts import Facts

#: runpod-python's built-in checks that use the GPU: gpu-unsupported names the cause when PyTorch warned.
GPU_CHECKS = ("_cuda_init_check", "_gpu_health_check", "_benchmark_check")

ADVICE_MEMORY = Advice(
    "The container had less free RAM than runpod-python requires (`RUNPOD_MIN_MEMORY_GB`, 4 GB by default): pick "
    "GPU types with more system RAM for the endpoint, or lower `RUNPOD_MIN_MEMORY_GB` if the workload fits")
ADVICE_DISK = Advice(
    "Give the endpoint a larger container disk (free space must be at least `RUNPOD_MIN_DISK_PERCENT` of it, 10% by "
    "default), or keep models on a network volume rather than in the image")
ADVICE_NETWORK = Advice(
    "The worker could not reach the internet when it started (runpod-python connects to 8.8.8.8:53): a fault of "
    "that host; if the endpoint runs without outbound network on purpose, set `RUNPOD_SKIP_AUTO_SYSTEM_CHECKS=true`")
ADVICE_CUDA_VERSION = Advice(
    "The host's CUDA driver is older than the worker requires (`RUNPOD_MIN_CUDA_VERSION`, 11.8 by default): limit the "
    "endpoint's allowed CUDA versions to those the image was built for")
ADVICE_GPU_HOST = Advice(
    "The GPU of this machine did not initialise or compute: usually a faulty GPU or driver on that host; RunPod "
    "starts another worker. If every worker fails alike, check that the image's PyTorch and CUDA suit the endpoint's "
    "GPU types and allowed CUDA versions; report a machine that keeps failing to RunPod support")
ADVICE_OWN_CHECK = Advice(
    "`{check}` is not one of runpod-python's built-in checks: it is the image's own; fix what it reports",
    {"check": "the check"})
ADVICE_SILENT_EXIT = Advice(
    "The worker died before any of its lines reached the log: start the image locally (`docker run --gpus all ...` "
    "with `--rp_serve_api`) or tee its output to the network volume to see the error (an import error at start is "
    "the usual cause)")

#: A failed built-in check's remedy.
CHECK_ADVICE = {
    "_memory_check": ADVICE_MEMORY, "_disk_check": ADVICE_DISK, "_network_check": ADVICE_NETWORK,
    "_cuda_version_check": ADVICE_CUDA_VERSION, "_cuda_init_check": ADVICE_GPU_HOST,
    "_gpu_health_check": ADVICE_GPU_HOST, "_benchmark_check": ADVICE_GPU_HOST,
}


@rule(
    "worker-unhealthy", "error", None,
    trigger="runpod-python's `Fitness check failed: NAME | Error` and `Worker is unhealthy, exiting.`, "
    "worker-comfyui's `GPU is not available. PyTorch CUDA init failed`, or RunPod's `worker exited with exit code N` "
    "with no error before it: the worker exited before it could take a job (left to gpu-unsupported when PyTorch "
    "warned that it has no kernels for the GPU).",
    advice=(ADVICE_MEMORY, ADVICE_DISK, ADVICE_NETWORK, ADVICE_CUDA_VERSION, ADVICE_GPU_HOST, ADVICE_OWN_CHECK,
            ADVICE_SILENT_EXIT),
)
def _worker_unhealthy(facts: Facts) -> list[Finding]:
    failed = list(facts.errors_in("unhealthy", "gpu_unavailable"))  # filed by kind: no pass over every error
    exits = [ev for ev in facts.events[EventKind.ERROR_LINE] if ev.fields.get("error") == "worker_exited"]
    if failed:
        return _failed_check(facts, failed, exits)
    others = facts.error_counts.total() - facts.error_counts["worker_exited"]
    if exits and not others and not facts.events[EventKind.TRACEBACK]:
        return [_silent_exit(facts, exits)]
    return []


def _failed_check(facts: Facts, failed: list[ErrorRecord], exits: list[Event]) -> list[Finding]:
    checks = [e for e in failed if e.kind == "unhealthy" and " | " in e.message]
    warned = any("capability" in ev.fields for ev in facts.events[EventKind.GPU_UNSUPPORTED])
    if warned and (not checks or checks[0].message.split(" | ", 1)[0] in GPU_CHECKS):
        return []  # gpu-unsupported: PyTorch has no kernels for this GPU, and says so
    evidence = [facts.cite(e.source, e.line, e.message) for e in failed[:MAX_EVIDENCE]]
    evidence += [facts.cite_event(ev) for ev in exits[:1]]
    code = _exit_code(exits)
    with_code = f" with exit code {code}" if code else ""
    if checks:
        name, error = checks[0].message.split(" | ", 1)
        title = f"The RunPod worker failed its start-up check {name}: {clip(error, 100)}"
        why = (f"runpod-python checks the worker before its handler starts. `{name}` failed with `{clip(error, 200)}`, "
               f"so it ended the worker{with_code}: it took no job. RunPod marks such a worker unhealthy and starts "
               "another, which fails alike if the cause is the image or the endpoint's settings.")
        remedy = CHECK_ADVICE.get(name)
        advice = [remedy() if remedy is not None else ADVICE_OWN_CHECK(check=name)]
        figures: dict[str, object] = {"check": name, "error": error}
    else:
        said = _gpu_check_error(facts, failed[0])
        title = "The worker's GPU check failed" + (f": {clip(said, 100)}" if said else "")
        why = ("The worker's start script checks that PyTorch can initialise the GPU before it starts ComfyUI; "
               + (f"it failed with `{clip(said, 200)}`" if said else "it failed")
               + f" and the worker exited{with_code}: it took no job.")
        advice = [ADVICE_GPU_HOST()]
        figures = {"check": "gpu", "error": said}
    figures["exit_code"] = code
    return [finding("worker-unhealthy", title, "high", why, advice, evidence, figures, total=len(failed))]


def _silent_exit(facts: Facts, exits: list[Event]) -> Finding:
    ev, code = exits[0], _exit_code(exits)
    return finding(
        "worker-unhealthy", f"The RunPod worker exited with exit code {code} and no error in its log", "medium",
        f"RunPod reports that the worker's process ended (`{clip(str(ev.fields['message']), 80)}`), and no line before "
        "it says why: it died before its output was shipped to the log.",
        [ADVICE_SILENT_EXIT()], [facts.cite_event(e) for e in exits[:MAX_EVIDENCE]],
        {"exit_code": code}, total=len(exits))


def _exit_code(exits: list[Event]) -> str | None:
    """The exit code of RunPod's first ``worker exited with exit code N`` line, if any."""
    return str(exits[0].fields["message"]).rsplit(" ", 1)[-1] if exits else None


def _gpu_check_error(facts: Facts, failed: ErrorRecord) -> str | None:
    """The error worker-comfyui's GPU check echoed on the line after its ``GPU is not available``."""
    said = [ev for ev in facts.between(EventKind.ERROR_LINE, failed.source, failed.line + 1, failed.line + 2)
            if ev.fields.get("error") == "gpu_check"]
    return str(said[0].fields["message"]) if said else None

