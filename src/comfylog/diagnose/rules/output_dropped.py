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
ADVICE_OTHER_KEYS = Advice(
    "The images are in the job's result: only the node's other output ({keys}) is not. If the caller needs it, use "
    "a handler that returns it (or have the workflow write it into a file the job uploads); if not, nothing is lost",
    {"keys": "a text or other data"})


@rule(
    "output-dropped", "error", None,
    trigger="worker-comfyui's `WARNING: Node N produced unhandled output keys: ['gifs']`: a video node's output "
    "the handler does not return, so the job succeeds without the video.",
    advice=(ADVICE_VIDEO_HANDLER, ADVICE_IMAGES, ADVICE_OTHER_KEYS),
)
def _output_dropped(facts: Facts) -> list[Finding]:
    events = facts.events[EventKind.UNHANDLED_OUTPUT]
    if not events:
        return []
    nodes = {str(ev.fields["node"]): str(ev.fields["keys"]) for ev in events}
    video = any(key in keys for keys in nodes.values() for key in VIDEO_KEYS)
    listed = ", ".join(f"node {node} {keys}" for node, keys in list(nodes.items())[:4])
    title = (f"worker-comfyui dropped the video of {plural(len(nodes), 'node')} ({listed}): the job succeeded "
             f"without {'it' if len(nodes) == 1 else 'them'}" if video else
             f"worker-comfyui left outputs that are not images out of the job's result ({listed})")
    return [finding(
        "output-dropped", title,
        "high",
        f"The handler returns only the `images` of each output node and logs any other key it finds as unhandled: "
        f"{listed}." + (" `gifs` and `videos` are where video nodes (VHS_VideoCombine, SaveVideo) put their "
                        "files, so the job's result has no video although the workflow made one." if video else ""),
        # a node's `text` (a Save Image node that also returns its metadata: worker-comfyui#167) is no video: the
        # video handler's advice would send the reader after outputs the workflow never made
        [ADVICE_VIDEO_HANDLER(), ADVICE_IMAGES()] if video else
        [ADVICE_OTHER_KEYS(keys=", ".join(dict.fromkeys(nodes.values())))],
        [facts.cite_event(ev) for ev in events], {"nodes": nodes}, severity="error" if video else "warning",
        total=len(events))]
