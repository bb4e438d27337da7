"""What the out-of-memory rules share: how big the job that died was, and a budget for what fits.

The budget is an estimate from the log's own figures, and says so. What sampling a video needs
beyond the weights grows about in proportion to its pixels, frames × width × height (attention
that does not hold the whole matrix, as PyTorch's and the wrappers' attention do not). So a job is
compared with the largest job of the same model that finished in the logs given, and the settings
that fit are scaled down to that one's size: fewer frames at the same resolution, or the same
frames at a lower one. With no finished job to scale from, the log cannot say what fits, and the
budget offers half the size as a first try, marked as a guess.
"""

from __future__ import annotations

import math

from ..dataclass import dataclass
from ..events import Event, EventKind
from ..model import ErrorRecord, Prompt, Run
from ..text import gb
from .engine import Advice
from .facts import Facts, gpu_vram_mb
from .model_kinds import encodes_text

ADVICE_SMALLER_JOB = Advice("Make the job smaller: {settings}", {"settings": "fewer frames or a lower resolution "
                                                                 "than the job that failed (a budget from the log's "
                                                                 "own figures, where it has them)"})
ADVICE_SMALLER_IMAGE = Advice("Lower the resolution or the batch size")
#: Wan-style video models take 4k+1 frames; resolutions are multiples of 16.
FRAME_STEP = 4
SIZE_STEP = 16


def job_text(video: dict[str, int]) -> str:
    """``121 frames at 704x704 with 3 steps``."""
    return f"{video['frames']} frames at {video['width']}x{video['height']} with {video['steps']} steps"


def pixels(video: dict[str, int]) -> int:
    return video["frames"] * video["width"] * video["height"]


@dataclass
class Budget:
    """A video job that died, measured against what finished, and the settings scaled to fit."""

    video: dict[str, int]
    #: The largest finished job of the same model in the logs given (its prompt and video), if any.
    reference: Prompt | None
    #: This job's pixels over the reference's (above 1: larger than anything that finished).
    ratio: float | None
    frames_fit: int | None
    size_fit: tuple[int, int] | None
    weights_mb: float | None
    seq_len: int | None
    total_vram_mb: int | None
    free_mib: int | None

    @property
    def guessed(self) -> bool:
        """No finished job to scale from: the smaller settings are half the size, a first try."""
        return self.reference is None

    def settings(self) -> str:
        """``73 frames at 704x704, or 121 frames at 544x544``: the scaled settings, either way."""
        v = self.video
        options = []
        if self.frames_fit:
            options.append(f"{self.frames_fit} frames at {v['width']}x{v['height']}")
        if self.size_fit:
            options.append(f"{v['frames']} frames at {self.size_fit[0]}x{self.size_fit[1]}")
        return " or ".join(options)

    def why(self) -> str:
        """The figures, the method, and how far to trust it."""
        v = self.video
        parts = [f"The job sampled {job_text(v)}" + (f" (sequence length {self.seq_len})" if self.seq_len else "")]
        if self.weights_mb:
            parts[0] += f", with {self.weights_mb:.0f} MB of weights loaded for it"
        if self.total_vram_mb:
            parts[0] += f", on {self.total_vram_mb} MB ({gb(self.total_vram_mb)}) of VRAM"
            if self.free_mib is not None:
                parts[0] += f" ({self.free_mib} MiB free before start)"
        parts[0] += "."
        ref = self.reference
        if ref is not None and ref.video is not None and self.ratio is not None:
            if self.ratio > 1:
                parts.append(
                    f"The largest job of the same model that finished in these logs, prompt {ref.index + 1} "
                    f"({job_text(ref.video)}), had {1 / self.ratio:.0%} of its pixels (frames × width × height): "
                    f"this one was {self.ratio:.2f}x as large.")
                parts.append(
                    f"Estimate: the memory sampling needs beyond the weights grows about in proportion to those "
                    f"pixels, so scaled down to the finished job's size, {self.settings()} should fit; an estimate "
                    "from the log's figures, not a measurement.")
            else:
                parts.append(
                    f"A job at least as large finished in these logs (prompt {ref.index + 1}, {job_text(ref.video)}), "
                    "so its size alone does not explain this one: look for what else held memory (other models "
                    "still loaded, another process, a longer prompt or more LoRAs).")
        else:
            parts.append(
                "No job of this model finished in the logs given, so the log cannot say what fits (give comfylog "
                f"an earlier log that has one). A first try, a guess: half the pixels, {self.settings()}.")
        return " ".join(parts)

    def advice(self) -> str:
        if self.ratio is not None and self.ratio <= 1:
            return ADVICE_SMALLER_JOB(settings=f"fewer frames or a lower resolution than {job_text(self.video)}")
        how = "scaled to the largest job that finished" if not self.guessed else "half the pixels, a first try"
        return ADVICE_SMALLER_JOB(settings=f"{self.settings()} ({how}; an estimate)")


def budget(facts: Facts, prompt: Prompt) -> Budget | None:
    """The budget of ``prompt``'s video job; None when the log does not give its size."""
    video = prompt.video
    if not video or not all(video.get(k) for k in ("frames", "width", "height")):
        return None
    reference = _largest_finished(facts, prompt)
    run = facts.run_of(prompt)
    size = pixels(video)
    if reference is not None and reference.video is not None:
        done = pixels(reference.video)
        ratio: float | None = size / done
        scale = min(1.0, done / size)
    else:
        ratio, scale = None, 0.5
    frames_fit = _frames(video["frames"] * scale) if scale < 1 else None
    side = math.sqrt(scale)
    size_fit = ((_down(video["width"] * side), _down(video["height"] * side)) if scale < 1 else None)
    if frames_fit is not None and frames_fit >= video["frames"]:
        frames_fit = None
    loads = [ld.loaded_mb for ld in facts.loads_of(prompt) if ld.loaded_mb is not None and ld.loaded_mb < 1e9]
    seq = [ev for ev in facts.prompt_events(EventKind.VIDEO_SEQ_LEN, prompt)]
    memory = run.gpu_memory if run is not None else None
    return Budget(video, reference, ratio, frames_fit, size_fit, sum(loads) or None,
                  int(seq[-1].fields["tokens"]) if seq else None, gpu_vram_mb(run),
                  memory.get("free_mib") if memory else None)


def smaller_job_advice(facts: Facts, prompt: Prompt | None) -> str:
    """The first thing to try after running out of memory: a smaller job than the one that failed."""
    found = budget(facts, prompt) if prompt is not None else None
    return found.advice() if found is not None else ADVICE_SMALLER_IMAGE()


def _largest_finished(facts: Facts, prompt: Prompt) -> Prompt | None:
    """The finished video job with the most pixels among those of the same model (by the models the
    log names, where both name them)."""
    for _, other in facts.once("finished_video_jobs", lambda: _finished_video_jobs(facts)):
        if other.index == prompt.index:
            continue
        if prompt.models and other.models and not set(prompt.models) & set(other.models):
            continue
        return other
    return None


def _finished_video_jobs(facts: Facts) -> list[tuple[int, Prompt]]:
    """The video jobs that finished, largest first (the first of equals in log order), read once."""
    jobs = [(pixels(p.video), p) for p in facts.prompts_in("finished_video") if p.video]
    jobs.sort(key=lambda job: -job[0])
    return jobs


def _frames(frames: float) -> int:
    """The largest 4k+1 frame count at or below ``frames`` (at least 1)."""
    return max(1, int((frames - 1) // FRAME_STEP) * FRAME_STEP + 1)


def _down(side: float) -> int:
    return max(SIZE_STEP, int(side // SIZE_STEP) * SIZE_STEP)



ADVICE_EXPANDABLE = Advice("Set `PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True` to reduce fragmentation")
ADVICE_CHANGE_ALLOC_CONF = Advice(
    "`PYTORCH_CUDA_ALLOC_CONF` is already set to `{value}` ({line}): try `expandable_segments:True` instead "
    "(PyTorch's setting against fragmentation from tensors of changing sizes)",
    {"value": "a value", "line": "line N"})
ADVICE_ALLOC_CONF_DONE = Advice(
    "`PYTORCH_CUDA_ALLOC_CONF` already has `expandable_segments:True` ({line}): fragmentation is unlikely to be "
    "the cause, the job itself is too large", {"line": "line N"})
ALLOC_ADVICE = (ADVICE_EXPANDABLE, ADVICE_CHANGE_ALLOC_CONF, ADVICE_ALLOC_CONF_DONE)


def alloc_conf_advice(facts: Facts, run: Run | None) -> tuple[str, Event | None]:
    """What to do about ``PYTORCH_CUDA_ALLOC_CONF``, given what the log says was set (and that line)."""
    events = facts.run_events(EventKind.ALLOC_CONF, run) if run is not None else []
    if not events:
        return ADVICE_EXPANDABLE(), None
    ev = events[-1]
    value = str(ev.fields.get("value", ""))
    if "expandable_segments:true" in value.lower():
        return ADVICE_ALLOC_CONF_DONE(line=facts.lines_ref(ev.source, ev.line)), ev
    return ADVICE_CHANGE_ALLOC_CONF(value=value, line=facts.lines_ref(ev.source, ev.line)), ev


# ---- where an OOM came: its traceback's frames ----------------------------------------------------

#: Functions that load or build a model: ComfyUI's loader nodes and comfy/sd.py, comfy/model_management.py
#: and comfy/model_patcher.py (moving weights to the GPU), torch's ``load_state_dict``, Hugging Face's
#: ``from_pretrained``; any other ``load_…`` function counts too (a custom node's loader).
LOAD_FUNCTIONS = frozenset({
    "load_checkpoint", "load_checkpoint_guess_config", "load_state_dict_guess_config", "load_diffusion_model",
    "load_diffusion_model_state_dict", "load_unet", "load_unet_state_dict", "load_clip",
    "load_text_encoder_state_dicts", "load_state_dict", "load_models_gpu", "load_model_gpu", "model_load",
    "partially_load", "patch_model", "patch_weight_to_device", "from_pretrained", "_load_pretrained_model",
})
#: ComfyUI's own loading code: the model is loaded the way its flags (``--lowvram``…) say.
COMFY_LOAD_FILES = frozenset({"sd.py", "model_management.py", "model_patcher.py", "model_detection.py"})
#: torch's ``nn.Module.to``/``.cuda()`` (torch/nn/modules/module.py): weights moved to the GPU.
TORCH_MOVES = frozenset({"module.py:to", "module.py:_apply", "module.py:cuda"})
#: Frames building a text encoder (CLIP, T5, LLM encoders in comfy/ and comfy/text_encoders/).
TEXT_ENCODER_FILES = frozenset({"sd1_clip.py", "sdxl_clip.py", "sd3_clip.py", "clip_model.py", "t5.py", "llama.py"})
TEXT_ENCODER_FUNCTIONS = frozenset({"load_clip", "load_text_encoder_state_dicts", "encode_token_weights",
                                    "encode_from_tokens"})
#: Files whose ``encode`` is a VAE's: comfy/sd.py's ``VAE.encode`` (where ComfyUI logs `Ran out of memory when regular
#: VAE encoding`) and the models' own encoders below it (comfy/ldm/wan/vae.py, comfy/ldm/models/autoencoder.py;
#: Comfy-Org/ComfyUI#7761's traceback). sd.py's ``CLIP.encode`` is a text encoder's: its inner frames
#: (``encode_from_tokens``, sd1_clip.py) say so, and rule it out.
VAE_FILES = frozenset({"sd.py", "vae.py", "autoencoder.py"})
#: Sampling: nodes.py's KSampler, comfy/sample.py, comfy/samplers.py, k-diffusion's ``sample_…``.
SAMPLE_FUNCTIONS = frozenset({"common_ksampler", "sampling_function", "calc_cond_batch", "_calc_cond_batch",
                              "apply_model", "predict_noise", "inner_sample", "outer_sample"})


@dataclass(frozen=True)
class OomPlace:
    """Where in a job an OOM came, read from its traceback's innermost frames."""

    #: "load" (a model being loaded or built), "sample" (sampling), "decode" (the VAE decode) or "encode" (the VAE
    #: encode: an image or video into latents, before sampling).
    stage: str
    #: The frame that says so (``FILE:FUNCTION``); for weights moved by ``.to()``, the frame that moved them.
    frame: str
    #: The model being built was a text encoder.
    text_encoder: bool = False
    #: A custom node loading the model itself (not through ComfyUI's loaders, so not under its flags).
    custom_node: str | None = None


#: Lines that say a requested load went on or ended (its ``loaded …`` line, dynamic VRAM's staging, lowvram's
#: module lines), or that sampling began: after one of them an OOM no longer came in the load.
LOAD_WENT_ON = (EventKind.LOADED_COMPLETELY, EventKind.LOADED_PARTIALLY, EventKind.DYNAMIC_LOAD,
                EventKind.LOWVRAM_MODE, EventKind.LOWVRAM_MODULES, EventKind.LOAD_DETAIL, EventKind.LOAD_REQUESTED,
                EventKind.VIDEO_SAMPLING)
#: How far above an OOM its load's ``Requested to load`` may be.
LOAD_REQUEST_LINES = 20


def oom_place(facts: Facts, record: ErrorRecord) -> OomPlace | None:
    """Where ``record``'s OOM came, from the frames of its traceback; else from a ``Requested to load`` right
    before it; None when neither says."""
    end = record.end_line or record.line
    found = facts.between(EventKind.TRACEBACK, record.source, record.line, end)
    tracebacks = [ev for ev in found if ev.fields.get("frames")]
    # A whole traceback whose frames name no load, sampler or decoder (006: an inpainting node's forward) says
    # where it came; only one the log cuts (or none) leaves the line above to tell.
    cut = not any(ev.fields.get("exception_type") for ev in found)
    if not tracebacks:
        return _in_requested_load(facts, record) if cut else None
    ev = tracebacks[-1]
    frames = [str(f) for f in ev.fields["frames"]]
    for at in range(len(frames) - 1, -1, -1):  # innermost first: the nearest frame that says decides
        frame = frames[at]
        base, _, function = frame.rpartition(":")
        if frame in TORCH_MOVES or function in LOAD_FUNCTIONS or function.startswith("load_"):
            if frame in TORCH_MOVES:  # name the code that moved the weights, not torch's
                frame = next((f for f in reversed(frames[:at]) if not f.startswith("module.py:")), frame)
                base, _, function = frame.rpartition(":")
            inner = frames[at:]
            encoder = any(f.rpartition(":")[0] in TEXT_ENCODER_FILES or f.rpartition(":")[2] in TEXT_ENCODER_FUNCTIONS
                          for f in inner)
            comfy = base in COMFY_LOAD_FILES or (base == "nodes.py" and function in LOAD_FUNCTIONS)
            node = ev.fields.get("custom_node")
            return OomPlace("load", frame, encoder, str(node) if node and not comfy else None)
        if function in SAMPLE_FUNCTIONS or function == "sample" or function.startswith("sample_"):
            return OomPlace("sample", frame)
        if function.startswith("decode"):
            return OomPlace("decode", frame)
        if function == "encode" and base in VAE_FILES and not any(
                f.rpartition(":")[0] in TEXT_ENCODER_FILES or f.rpartition(":")[2] in TEXT_ENCODER_FUNCTIONS
                for f in frames[at:]):
            return OomPlace("encode", frame)
    return _in_requested_load(facts, record) if cut else None


def _in_requested_load(facts: Facts, record: ErrorRecord) -> OomPlace | None:
    """An OOM whose traceback does not say where, with ComfyUI's ``Requested to load X`` above it and nothing
    between that says the load went on (no ``loaded …`` line, no bar): it came while X was loaded (Comfy-Org/
    ComfyUI #11331: `Requested to load Flux2TEModel_`, then `CUDA error: out of memory`, the traceback cut)."""
    requests = facts.between(EventKind.LOAD_REQUESTED, record.source, max(1, record.line - LOAD_REQUEST_LINES),
                             record.line - 1)
    if not requests:
        return None
    request = requests[-1]
    if any(facts.between(kind, record.source, request.line + 1, record.line - 1) for kind in LOAD_WENT_ON):
        return None
    prompt = next(iter(facts.prompts_by_index([record.prompt])), None) if record.prompt is not None else None
    if prompt is not None and any(request.line < bar.line < record.line for bar in facts.bars_of(prompt)):
        return None
    model = str(request.fields.get("model") or "")
    return OomPlace("load", f"Requested to load {model}", encodes_text(model))
