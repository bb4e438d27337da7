"""runpod-python could not hand a job's result to RunPod: the caller sees the job done, with no output."""

from __future__ import annotations

from ...events import EventKind
from ...model import Finding
from ...text import plural
from ..engine import MAX_EVIDENCE, Advice, finding, rule
from ..evidence import clip
from ..facts import Facts

#: The ``error`` of the `runpod_result_not_returned` message row.
NOT_RETURNED = "result_not_returned"

ADVICE_TOO_BIG = Advice("RunPod refused the result (`400 Bad Request`): most often it is larger than RunPod takes "
                        "back from a worker, as images or video returned in base64 make it. Have the worker upload "
                        "its outputs to a bucket and return their addresses (worker-comfyui: set "
                        "`BUCKET_ENDPOINT_URL`, `BUCKET_ACCESS_KEY_ID` and `BUCKET_SECRET_ACCESS_KEY`), or return "
                        "fewer or smaller files")
ADVICE_RETRY = Advice("The job's work was done: the outputs are on the worker's disk (ComfyUI's `output` folder) "
                      "until the worker goes, but the caller has to submit the job again to get them")


@rule(
    "result-not-returned", "error", None,
    trigger="runpod-python's `Failed to return job results. | <error>` (rp_http.py): its POST of the job's result "
    "to RunPod failed, so the caller got the job as done with no output.",
    advice=(ADVICE_TOO_BIG, ADVICE_RETRY),
)
def _result_not_returned(facts: Facts) -> list[Finding]:
    failed = [ev for ev in facts.events[EventKind.ERROR_LINE] if ev.fields.get("error") == NOT_RETURNED]
    if not failed:
        return []
    message = str(failed[0].fields.get("message") or "")
    advice = [ADVICE_TOO_BIG()] if message.startswith("400") else []
    return [finding(
        "result-not-returned", f"RunPod never got the job's result: `{clip(message, 80)}`", "high",
        f"runpod-python could not post {plural(len(failed), 'job')}'s result to RunPod (`Failed to return job "
        f"results. | {clip(message, 160)}`): the handler had returned, but its result did not reach RunPod, so the "
        "caller of the endpoint sees the job done with no output.",
        [*advice, ADVICE_RETRY()], [facts.cite_event(ev) for ev in failed[:MAX_EVIDENCE]],
        {"jobs": len(failed), "message": message}, total=len(failed))]
