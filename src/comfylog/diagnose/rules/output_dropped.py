"""worker-comfyui dropping a node's video: the job "succeeds" with no video in its result."""

from __future__ import annotations

from ...events import EventKind
from ...model import Finding
from ...text import plural
from ..engine import Advice, finding, rule
from ..facts import Facts

#: Output keys video nodes write (VHS_VideoCombine: ``gifs``; SaveVideo and others: ``videos``).
VIDEO_KEYS = ("gifs", "videos", "video")

ADVICE_VIDEO_HANDLER = Advice(
    "The stock worker-comfyui handler (every release so far) returns only `images`: use a handler that returns "
    "video outputs (a fork that reads `gifs` / `videos`, as runpod-workers/worker-comfyui PR #133 does; it is not "
    "merged), or have the workflow upload the video itself (for example to S3) and return its address")
ADVICE_IMAGES = Advice("Or save the frames with a SaveImage node as well, which the stock handler returns")


@rule(
    "output-dropped", "error", None,
    trigger="worker-comfyui's `WARNING: Node N produced unhandled output keys: ['gifs']`: a video node's output "
    "the handler does not return, so the job succeeds without the video.",
    advice=(ADVICE_VIDEO_HANDLER, ADVICE_IMAGES),
)
def _output_dropped(facts: Facts) -> list[Finding]:
    events = facts.events[EventKind.UNHANDLED_OUTPUT]
    if not events:
        return []
    nodes = {str(ev.fields["node"]): str(ev.fields["keys"]) for ev in events}
    video = any(key in keys for keys in nodes.values() for key in VIDEO_KEYS)
    listed = ", ".join(f"node {node} {keys}" for node, keys in list(nodes.items())[:4])
    return [finding(
        "output-dropped", f"worker-comfyui dropped {'the video' if video else 'outputs'} of "
        f"{plural(len(nodes), 'node')} ({listed}): the job succeeded without {'it' if len(nodes) == 1 else 'them'}",
        "high",
        f"The handler returns only the `images` of each output node and logs any other key it finds as unhandled: "
        f"{listed}." + (" `gifs` and `videos` are where video nodes (VHS_VideoCombine, SaveVideo) put their "
                        "files, so the job's result has no video although the workflow made one." if video else ""),
        [ADVICE_VIDEO_HANDLER(), ADVICE_IMAGES()] if video else [ADVICE_VIDEO_HANDLER()],
        [facts.cite_event(ev) for ev in events], {"nodes": nodes}, severity="error" if video else "warning",
        total=len(events))]
