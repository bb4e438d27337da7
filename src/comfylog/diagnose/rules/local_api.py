"""A RunPod worker started with `--rp_serve_api`: it serves runpod-python's local test API and takes no job.

runpod-python's ``serverless.start`` (runpod/serverless/__init__.py) logs ``Starting API server.`` only when
``rp_args["rp_serve_api"]`` is set (the ``--rp_serve_api`` flag or the ``RUNPOD_SERVE_API`` setting): it then
starts a FastAPI server (``rp_fastapi.WorkerAPI(...).start_uvicorn``, uvicorn's ``Uvicorn running on
http://localhost:8000``) and returns, never polling the endpoint for jobs (the realtime mode logs ``Starting API
server for realtime on port N.`` instead, which the message row does not match). That is how one tests a handler
on one's own machine; in an image deployed to an endpoint, the endpoint's requests wait in its queue
(kierenblack/comfyui-hunyuan1_5: the Dockerfile's ``CMD ... python handler.py --rp_serve_api``). A run whose
runpod-python says it is not on an endpoint (``Not deployed on RunPod serverless, pings will not be sent.``: a pod
serving worker-comfyui's API on purpose, ``SERVE_API_LOCALLY=true``, as the corpus's 028 and 029) is left alone.
"""

from __future__ import annotations

from ...events import EventKind
from ...model import Finding
from ..engine import Advice, finding, rule
from ..facts import Facts

ADVICE_DROP_FLAG = Advice("Start the handler without `--rp_serve_api` in the image's start command (`python "
                          "handler.py`), and keep the flag for tests on your own machine")


@rule(
    "local-api", "warning", None,
    trigger="runpod-python's `Starting API server.`, which it logs only when the worker starts with "
    "`--rp_serve_api`: it serves a local test API on port 8000 and takes no job from a RunPod endpoint's queue "
    "(not where runpod-python says it is not on an endpoint: `Not deployed on RunPod serverless`).",
    advice=(ADVICE_DROP_FLAG,),
)
def _local_api(facts: Facts) -> list[Finding]:
    events = [ev for run in facts.report.runs
              if run.setup.get("local_api") and run.setup.get("runpod_serverless") is not False
              for ev in facts.run_events(EventKind.RUN_SETTING, run) if ev.fields.get("local_api")]
    if not events:
        return []
    return [finding(
        "local-api", "The worker serves runpod-python's local test API (`--rp_serve_api`): it takes no job from "
        "an endpoint's queue", "high",
        "runpod-python logs `Starting API server.` only when the worker starts with `--rp_serve_api`: it then runs a "
        "FastAPI server on port 8000 for local tests and never asks RunPod for jobs. On your own machine that is "
        "the point; in an image deployed to a RunPod endpoint, its requests stay in the queue (IN_QUEUE) until "
        "they time out.",
        [ADVICE_DROP_FLAG()], [facts.cite_event(ev) for ev in events[:1]], {"local_api_lines": len(events)},
        total=len(events))]
