"""The message table: every ComfyUI / Manager / worker-comfyui / RunPod message comfylog understands.

One row per message: a name, the event kind it makes, a literal ``needle`` that must occur in the
line (all needles are searched for at once, so lines with none cost one scan), the regex with named
groups, converters for those groups, the phase the work before the line belongs to, and a real
example line (each example is checked by a test). To teach comfylog a new message, add a row here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..events import EventKind, Phase

Converter = Callable[[str], Any]


@dataclass(frozen=True)
class Pattern:
    name: str
    kind: EventKind
    #: Literal text(s), one of which every matching line contains.
    needles: tuple[str, ...]
    regex: re.Pattern[str]
    example: str
    convert: dict[str, Converter] = field(default_factory=dict)
    phase: Phase = Phase.OTHER
    #: Two messages can be glued on one line (``got promptLoading 1 new model``): after this
    #: pattern matches, the rest of the line is parsed again.
    glued: bool = False
    #: Constant fields added to the event.
    extra: tuple[tuple[str, Any], ...] = ()


def _mb(text: str) -> float:
    return float(text)


def _hms_seconds(text: str) -> float:
    parts = [float(p) for p in text.split(":")]
    total = 0.0
    for p in parts:
        total = total * 60 + p
    return total


DEVICE_INDEX_RE = re.compile(r"^(?:cuda|xpu|mps|npu|mlu):\d+\s+")
# Starts only where a run of spaces starts (where a match starts anyway): from every space it is quadratic.
ALLOCATOR_SUFFIX_RE = re.compile(r"(?<!\s)\s+:\s+\S+$")


def gpu_name(device: str) -> str:
    """``cuda:0 NVIDIA GeForce RTX 4090 : cudaMallocAsync`` -> ``NVIDIA GeForce RTX 4090``."""
    name = DEVICE_INDEX_RE.sub("", device.strip())
    return ALLOCATOR_SUFFIX_RE.sub("", name)


# Anchored at a word start and bounded: ``(\w+) \(`` retried from every character of a long word is quadratic.
QTYPE_RE = re.compile(r"\b(\w{1,64}) \((\d{1,12})\)")


def gguf_qtypes(text: str) -> dict[str, int]:
    """``F32 (2), F16 (693), Q5_K (400)`` -> ``{"F32": 2, "F16": 693, "Q5_K": 400}``."""
    return {name: int(count) for name, count in QTYPE_RE.findall(text)}


def _p(
    name: str,
    kind: EventKind,
    needle: str | tuple[str, ...],
    regex: str,
    example: str,
    convert: dict[str, Converter] | None = None,
    phase: Phase = Phase.OTHER,
    glued: bool = False,
    extra: tuple[tuple[str, Any], ...] = (),
) -> Pattern:
    needles = (needle,) if isinstance(needle, str) else needle
    return Pattern(name, kind, needles, re.compile(regex), example, convert or {}, phase, glued, extra)


# Text that means the GPU (or MPS/DirectML device) ran out of memory, wherever it appears.
OOM_RE = re.compile(
    r"CUDA out of memory|OutOfMemoryError|Allocation on device \d+ would exceed|MPS backend out of memory"
    r"|not enough GPU video memory|Got an OOM, unloading all loaded models|HIP out of memory"
    r"|Ran out of memory when regular VAE (?:de|en)coding"
)


def is_oom(text: str) -> bool:
    return OOM_RE.search(text) is not None


# Text up to the end of a line is matched as ``(?P<x>.*\S)\s*$``, never ``(?P<x>.+?)\s*$``: a lazy
# group retries ``\s*$`` after every character, which is quadratic on a long run of spaces.
PATTERNS: tuple[Pattern, ...] = (
    # --- start-up -------------------------------------------------------------------------------
    _p("cuda_banner", EventKind.CUDA_BANNER, "== CUDA ==", r"^== CUDA ==\s*$", "== CUDA =="),
    _p("cuda_version", EventKind.CUDA_VERSION, "CUDA Version ", r"^CUDA Version (?P<version>[\d.]+)\s*$",
       "CUDA Version 12.8.1"),
    _p("manager_startup", EventKind.MANAGER_STARTUP, "ComfyUI startup time", r"^\*\* ComfyUI startup time: (?P<at>.+)$",
       "** ComfyUI startup time: 2024-09-06 17:45:12.542891"),
    _p("worker_starting", EventKind.WORKER_STARTING, "Starting ComfyUI",
       r"^(?:worker-comfyui|runpod-worker-comfy): Starting ComfyUI", "worker-comfyui: Starting ComfyUI"),
    _p("serverless_worker", EventKind.WORKER_STARTING, "Starting Serverless Worker",
       r"--- Starting Serverless Worker \|\s+Version (?P<version>\S+) ---",
       "--- Starting Serverless Worker |  Version 1.7.13 ---", extra=(("serverless", True),)),
    _p("total_vram", EventKind.TOTAL_VRAM, "Total VRAM",
       r"Total VRAM (?P<vram_mb>\d+) MB, total RAM (?P<ram_mb>\d+) MB",
       "Total VRAM 24564 MB, total RAM 65277 MB", {"vram_mb": int, "ram_mb": int}),
    _p("vram_state", EventKind.VRAM_STATE, "Set vram state to", r"Set vram state to: (?P<state>\w+)",
       "Set vram state to: NORMAL_VRAM"),
    _p("lowvram_auto", EventKind.VRAM_STATE, "Trying to enable lowvram mode", r"^Trying to enable lowvram mode",
       "Trying to enable lowvram mode because your GPU seems to have 4GB or less. If you don't want this use: "
       "--normalvram", extra=(("state", "LOW_VRAM"), ("automatic", True))),
    _p("device", EventKind.DEVICE, "Device: ", r"^Device: (?P<device>.*\S)\s*$",
       "Device: cuda:0 NVIDIA GeForce RTX 4090 : cudaMallocAsync"),
    _p("pytorch_version", EventKind.PYTORCH_VERSION, "pytorch version: ", r"^pytorch version: (?P<version>\S+)",
       "pytorch version: 2.7.1+cu128"),
    _p("comfyui_version", EventKind.COMFYUI_VERSION, "ComfyUI version: ", r"^ComfyUI version: (?P<version>\S+)",
       "ComfyUI version: 0.3.62"),
    _p("import_time", EventKind.IMPORT_TIME, " seconds", r"^\s*(?P<seconds>\d+(?:\.\d+)?) seconds"
       r"(?P<failed> \(IMPORT FAILED\))?: (?P<path>.*\S)\s*$",
       "   0.0 seconds (IMPORT FAILED): /workspaces/ComfyUI/custom_nodes/NodeGPT",
       {"seconds": float, "failed": bool}),
    _p("import_error", EventKind.ERROR_LINE, "Cannot import ",
       r"^Cannot import (?P<path>.+?) module for custom nodes: (?P<message>.*)$",
       "Cannot import /workspaces/ComfyUI/custom_nodes/NodeGPT module for custom nodes: No module named "
       "'llama_cpp'", extra=(("error", "import_failed"),)),
    _p("server_starting", EventKind.SERVER_STARTING, "Starting server", r"^Starting server\s*$", "Starting server"),
    _p("server_ready", EventKind.SERVER_READY, "To see the GUI go to", r"To see the GUI go to: (?P<url>\S+)",
       "To see the GUI go to: http://127.0.0.1:8188"),
    _p("server_stopped", EventKind.SERVER_STOPPED, "Stopped server", r"^Stopped server", "Stopped server"),
    _p("gpu_memory", EventKind.GPU_MEMORY, " MiB, ",
       r"^(?P<used_mib>\d+) MiB, (?P<free_mib>\d+) MiB, (?P<total_mib>\d+) MiB\s*$", "1 MiB, 23563 MiB, 24564 MiB",
       {"used_mib": int, "free_mib": int, "total_mib": int}),
    # --- prompts --------------------------------------------------------------------------------
    _p("prompt_received", EventKind.PROMPT_RECEIVED, "got prompt", r"got prompt(?!\s*:)", "got prompt",
       glued=True),
    _p("prompt_executed", EventKind.PROMPT_EXECUTED, "Prompt executed in",
       r"Prompt executed in (?:(?P<seconds>\d+(?:\.\d+)?) seconds|(?P<hms>\d+:\d{2}:\d{2}(?:\.\d+)?))",
       "Prompt executed in 00:10:50", {"seconds": float, "hms": _hms_seconds}),
    _p("output_invalid", EventKind.OUTPUT_INVALID, "Failed to validate prompt for output",
       r"^Failed to validate prompt for output (?P<output>[^:\s]+)", "Failed to validate prompt for output 9:"),
    _p("prompt_invalid", EventKind.PROMPT_INVALID, "invalid prompt: ", r"^invalid prompt: (?P<detail>.*)$",
       "invalid prompt: {'type': 'prompt_outputs_failed_validation', 'message': 'Prompt outputs failed "
       "validation', 'details': '', 'extra_info': {}}"),
    _p("exception", EventKind.EXCEPTION, "Exception during processing",
       r"!!! Exception during processing ?!!!\s*(?P<message>(?:.*\S)?)\s*$",
       "!!! Exception during processing !!! Allocation on device 0 would exceed allowed memory. (out of memory)"),
    _p("interrupted", EventKind.INTERRUPTED, "Processing interrupted", r"^Processing interrupted",
       "Processing interrupted"),
    # --- model loading --------------------------------------------------------------------------
    _p("load_requested", EventKind.LOAD_REQUESTED, "Requested to load", r"^Requested to load (?P<model>\S+)",
       "Requested to load WanVAE", phase=Phase.LOAD),
    _p("loaded_completely_new", EventKind.LOADED_COMPLETELY, "loaded completely;",
       r"^loaded completely;\s+(?:(?P<usable_mb>[\d.]+) MB usable,\s*)?(?P<loaded_mb>[\d.]+) MB loaded",
       "loaded completely; 46994.80 MB usable, 7672.25 MB loaded, full load: True",
       {"usable_mb": _mb, "loaded_mb": _mb}, Phase.LOAD),
    _p("loaded_completely", EventKind.LOADED_COMPLETELY, "loaded completely ",
       r"^loaded completely (?P<usable_mb>[-\d.e+]+) (?P<loaded_mb>[-\d.e+]+)",
       "loaded completely 12651.1 10835.12353515625 True", {"usable_mb": _mb, "loaded_mb": _mb}, Phase.LOAD),
    _p("loaded_partially_new", EventKind.LOADED_PARTIALLY, "loaded partially;",
       r"^loaded partially;\s+(?:(?P<usable_mb>[\d.]+) MB usable,\s*)?(?P<loaded_mb>[\d.]+) MB loaded, "
       r"(?P<offloaded_mb>[\d.]+) MB offloaded,(?: [\d.]+ MB buffer reserved,)? lowvram patches: (?P<patches>\d+)",
       "loaded partially; 0.00 MB usable, 0.00 MB loaded, 319.75 MB offloaded, 27.01 MB buffer reserved, "
       "lowvram patches: 0", {"usable_mb": _mb, "loaded_mb": _mb, "offloaded_mb": _mb, "patches": int}, Phase.LOAD),
    _p("loaded_partially", EventKind.LOADED_PARTIALLY, "loaded partially ",
       r"^loaded partially (?P<usable_mb>[-\d.e+]+) (?P<loaded_mb>[-\d.e+]+) (?P<patches>\d+)",
       "loaded partially 128.0 125.5274658203125 0", {"usable_mb": _mb, "loaded_mb": _mb, "patches": int},
       Phase.LOAD),
    _p("loaded_partially_colon", EventKind.LOADED_PARTIALLY, "loaded partially:",
       r"^loaded partially: (?P<loaded_mb>[\d.]+) MB loaded, lowvram patches: (?P<patches>\d+)",
       "loaded partially: 2595.99 MB loaded, lowvram patches: 84", {"loaded_mb": _mb, "patches": int}, Phase.LOAD),
    _p("lowvram_mode", EventKind.LOWVRAM_MODE, ("loading in lowvram mode", "loaded in lowvram mode"),
       r"^load(?:ing|ed) in lowvram mode (?P<usable_mb>[\d.]+)", "loading in lowvram mode 1731.115385055542",
       {"usable_mb": _mb}, Phase.LOAD),
    _p("lowvram_module", EventKind.LOWVRAM_MODULES, "lowvram: loaded module regularly",
       r"^lowvram: loaded module regularly (?P<module>\S+)",
       "lowvram: loaded module regularly decoder.head.0 RMS_norm()", phase=Phase.LOAD),
    _p("gguf_qtypes", EventKind.GGUF_QTYPES, "gguf qtypes: ", r"^gguf qtypes: (?P<qtypes>.*\S)\s*$",
       "gguf qtypes: F32 (2), F16 (693), Q5_K (400), Q6_K (20)", {"qtypes": gguf_qtypes}, Phase.LOAD),
    _p("load_detail", EventKind.LOAD_DETAIL, ("VAE load device", "CLIP/text encoder model load device", "Loading ",
                                             "Unload"),
       r"^(?:VAE load device: |CLIP/text encoder model load device: |Loading \d+ new models?"
       r"|Loading (?:text encoder|clip vision|tokenizer|transformer|weights|first clip|second clip|model)\b"
       r"|Unloading models? |Unloaded partially: |Unload )(?P<detail>.*)",
       "VAE load device: cuda:0, offload device: cpu, dtype: torch.bfloat16", phase=Phase.LOAD),
    _p("model_weight_dtype", EventKind.LOAD_DETAIL, "model weight dtype",
       r"^model weight dtype (?P<dtype>[\w.]+), manual cast: (?P<manual_cast>[\w.]+)",
       "model weight dtype torch.float16, manual cast: None", phase=Phase.LOAD),
    _p("model_type", EventKind.LOAD_DETAIL, "model_type ", r"^model_type (?P<model_type>\w+)\s*$", "model_type FLOW",
       phase=Phase.LOAD),
    _p("vae_attention", EventKind.LOAD_DETAIL, " attention in VAE", r"^Using \w+ attention in VAE",
       "Using pytorch attention in VAE", phase=Phase.LOAD),
    _p("video_sampling", EventKind.VIDEO_SAMPLING, " frames ",
       r"^(?:Sampling )?(?P<frames>\d+) frames(?: in \d+ (?:latents|windows),?)? at (?P<width>\d+)x(?P<height>\d+)"
       r"(?: \(Input sequence length: \d+\))? with (?P<steps>\d+)(?: inference)? steps",
       "Sampling 121 frames at 704x704 with 3 steps",
       {"frames": int, "width": int, "height": int, "steps": int}),
    # --- worker-comfyui / runpod-python ---------------------------------------------------------
    _p("ws_timeout", EventKind.WS_TIMEOUT, "Websocket receive timed out", r"Websocket receive timed out",
       "worker-comfyui - Websocket receive timed out. Still waiting...", phase=Phase.WAIT),
    _p("ws_connected", EventKind.WS_CONNECTED, "Websocket connected", r"Websocket connected",
       "worker-comfyui - Websocket connected"),
    _p("ws_reconnect", EventKind.WS_RECONNECT,
       ("Attempting to reconnect", "Reconnect attempt", "Websocket reconnected"),
       r"Attempting to reconnect|Reconnect attempt \d+|Websocket reconnected",
       "worker-comfyui - Websocket connection closed unexpectedly: Connection to remote host was lost.. "
       "Attempting to reconnect..."),
    _p("job_started", EventKind.JOB_STARTED, "Started.", r"^Started\.\s*$", "Started."),
    _p("job_finished", EventKind.JOB_FINISHED, "Finished.", r"^Finished\.\s*$", "Finished."),
    _p("job_completed", EventKind.JOB_FINISHED, "Job completed", r"Job completed\. Returning (?P<images>\d+)",
       "worker-comfyui - Job completed. Returning 1 image(s).", {"images": int}),
    # --- failures -------------------------------------------------------------------------------
    _p("oom", EventKind.OOM, ("out of memory", "OutOfMemoryError", "Allocation on device", "Got an OOM",
                             "not enough GPU video memory"),
       OOM_RE.pattern.replace("|Ran out of memory when regular VAE (?:de|en)coding", ""),
       "Got an OOM, unloading all loaded models."),
    _p("oom_vae_fallback", EventKind.OOM, "Ran out of memory when regular VAE",
       r"Ran out of memory when regular VAE (?:de|en)coding", "Warning: Ran out of memory when regular VAE decoding, "
       "retrying with tiled VAE decoding.", extra=(("recovered", True),)),
    _p("traceback", EventKind.TRACEBACK, "Traceback (most recent call last)", r"^Traceback \(most recent call last\):",
       "Traceback (most recent call last):"),
)

#: One regex that finds any needle: the cheap prefilter run on every line.
NEEDLE_RE = re.compile(
    "|".join(sorted({re.escape(n) for p in PATTERNS for n in p.needles}, key=len, reverse=True))
)
BY_NEEDLE: dict[str, tuple[Pattern, ...]] = {}
for _pattern in PATTERNS:
    for _needle in _pattern.needles:
        BY_NEEDLE[_needle] = BY_NEEDLE.get(_needle, ()) + (_pattern,)


def find_message(text: str) -> tuple[Pattern, re.Match[str]] | None:
    """The message in ``text``: at the first needle whose patterns match, the first that matches.

    Each pattern is searched at most once per text (whether it matches does not depend on which
    needle led to it), so a line holding a needle thousands of times costs one scan per pattern,
    not one per needle found.
    """
    pos = 0
    failed: set[str] = set()
    while True:
        m = NEEDLE_RE.search(text, pos)
        if m is None:
            return None
        for pattern in BY_NEEDLE[m.group(0)]:
            if pattern.name in failed:
                continue
            pm = pattern.regex.search(text)
            if pm:
                return pattern, pm
            failed.add(pattern.name)
        pos = m.start() + 1


def match_fields(pattern: Pattern, m: re.Match[str]) -> dict[str, Any]:
    """Named groups of ``m`` converted by the pattern's converters (unmatched groups left out)."""
    fields: dict[str, Any] = dict(pattern.extra)
    for key, value in m.groupdict().items():
        if value is None:
            continue
        conv = pattern.convert.get(key)
        fields[key] = conv(value) if conv else value
    return fields
