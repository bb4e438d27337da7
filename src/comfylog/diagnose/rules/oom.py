"""Out-of-memory errors the log shows."""

from __future__ import annotations

from ...events import EventKind
from ...lazyre import lazy_re
from ...model import ErrorRecord, Evidence, Finding, Run
from ...parse.table import is_oom
from ...text import gb, mib_text, plural
from ..dynamic_vram import overcommits
from ..engine import MAX_EVIDENCE, Advice, finding, rule
from ..evidence import clip, event_line
from ..facts import Facts, gpu_phrase, gpu_vram_mb
from ..holders import ADVICE_FREE_HOLDER, FREE_BETWEEN, FREE_WITHIN, STARVED_SHARE, Holder, before, find_holder
from ..memory import (
    ADVICE_EXPANDABLE,
    ADVICE_SMALLER_IMAGE,
    ADVICE_SMALLER_JOB,
    ALLOC_ADVICE,
    OomPlace,
    alloc_conf_advice,
    budget,
    oom_place,
)
from ..oom_figures import describe, oom_figures

ADVICE_TILED_OFFLOAD = Advice("Decode with the tiled VAE node; offload weights (block swap in video wrappers, "
                              "`--lowvram`)")
#: Under dynamic VRAM `--lowvram` does nothing (comfy/cli_args.py).
ADVICE_TILED_OFFLOAD_DYNAMIC = Advice("Decode with the tiled VAE node; offload weights (block swap in video wrappers; "
                                      "under dynamic VRAM `--lowvram` does nothing)")
#: The run already offloads (`Set vram state to: LOW_VRAM` / `NO_VRAM`): `--lowvram` would change nothing.
ADVICE_TILED_OFFLOAD_ALREADY = Advice("Decode with the tiled VAE node; offload more weights (block swap in video "
                                      "wrappers; the run is already `{state}`, so `--lowvram` changes nothing)",
                                      {"state": "LOW_VRAM"})
ADVICE_MPS = Advice("On Apple silicon, close other apps using unified memory; the error itself names "
                    "PYTORCH_MPS_HIGH_WATERMARK_RATIO to lift the limit (at the risk of system instability)")
ADVICE_DIRECTML = Advice("DirectML reports no real VRAM size and frees memory poorly; CUDA or ROCm builds manage "
                         "memory better")
ADVICE_DROP_HIGHVRAM = Advice("Drop `--highvram` (`Set vram state to: HIGH_VRAM`, {line}): it keeps every model "
                              "on the GPU, so none is unloaded to make room for the job", {"line": "line N"})
ADVICE_SMALLER_MODEL = Advice("Load a smaller or quantized version of the model (an fp8 or GGUF file): its weights "
                               "must fit beside what else is loaded")
ADVICE_LOAD_OFFLOAD = Advice("Start ComfyUI with `--lowvram` (or `--novram`) so weights stay in RAM and are moved to "
                             "the GPU in parts, and free the models other nodes hold")
#: Under dynamic VRAM `--lowvram` does nothing (comfy/cli_args.py): weights are already streamed.
ADVICE_LOAD_OFFLOAD_DYNAMIC = Advice("Free the models other nodes hold (under dynamic VRAM `--lowvram` does nothing: "
                                     "it already streams the weights that do not fit)")
ADVICE_LOAD_OFFLOAD_ALREADY = Advice("Free the models other nodes hold (the run is already `{state}`, so "
                                     "`--lowvram` changes nothing)", {"state": "LOW_VRAM"})
ADVICE_NODE_LOADS = Advice("`{node}` moves its model to the GPU itself (`{frame}`): ComfyUI's `--lowvram` does not "
                           "offload it. Free the VRAM other models hold before it runs, use the node's own "
                           "offload or device option if it has one, or a smaller variant of its model",
                           {"node": "NODE", "frame": "FILE:FUNCTION"})
ADVICE_TEXT_ENCODER_CPU = Advice("Put the text encoder on the CPU: load it with ComfyUI's `Load CLIP` node set to "
                                 "`device: cpu` (a text-encoder file of its own, not the checkpoint's; older builds "
                                 "lack the option: update ComfyUI if yours does); encoding a prompt there is slower "
                                 "but takes no VRAM")
ADVICE_TILED_DECODE = Advice("Decode with the `VAE Decode (Tiled)` node (for video, with temporal tiling too): the "
                             "decode of the whole image or video at once is what did not fit")
#: Comfy-Org/ComfyUI comfy/sd.py's ``VAE.encode``: a full-size encode that fails is retried in tiles (`Ran out of
#: memory when regular VAE encoding, retrying with tiled VAE encoding.`); an OOM there is the input's size. Nodes that
#: encode inside themselves (WanImageToVideo) take no tiled node: the input's size is what the user can change.
ADVICE_TILED_ENCODE = Advice("Give the VAE a smaller image or video to encode (a lower resolution, fewer frames); "
                             "where the workflow encodes with a `VAE Encode` node, `VAE Encode (Tiled)` encodes it "
                             "in parts")
ADVICE_OTHER_PROCESS = Advice("Free the GPU of the other processes ({held}): another ComfyUI, a second worker or any "
                              "app on the same GPU leaves this one that much less (`nvidia-smi` lists them)",
                              {"held": "what they held"})
ADVICE_OUTSIDE_PYTORCH = Advice("Find what held the other {held}: another process on the GPU (`nvidia-smi` lists "
                                "them) or a library in ComfyUI's process that allocates outside PyTorch (onnxruntime, "
                                "TensorRT, a custom node's own CUDA code)", {"held": "memory"})
ADVICE_OUTSIDE_POOL = Advice("Find what held the other {held}: another process on the GPU (`nvidia-smi` lists them), "
                             "a library in ComfyUI's process that allocates outside PyTorch (onnxruntime, TensorRT, a "
                             "custom node's own CUDA code), or memory cudaMallocAsync's pool kept "
                             "(`--disable-cuda-malloc` runs PyTorch's own allocator instead)", {"held": "memory"})
ADVICE_MPS_DISCRETE = Advice(
    "This Mac's GPU has its own {memory} of memory (a discrete GPU, not Apple silicon's unified memory): closing "
    "apps does not free it; fit the job to that memory, or use a machine with a larger GPU", {"memory": "few GB"})
ADVICE_BIGGER_MAC = Advice("A Mac with more unified memory")
ADVICE_BIGGER_GPU = Advice("A GPU with more VRAM")


#: An Intel GPU's out-of-memory error (PyTorch's XPUCachingAllocator, intel-extension-for-pytorch's allocator).
XPU_OOM = "XPU out of memory"
#: PyTorch's MPS OOM message: ``(MPS allocated: 5.75 GB, other allocations: 797.23 MB, max allowed: 6.77 GB)``.
MPS_LIMIT_RE = lazy_re(r"max allowed: (?P<size>\d+(?:\.\d+)?) (?P<unit>GB|MB)\)")
#: PyTorch's default PYTORCH_MPS_HIGH_WATERMARK_RATIO (aten/src/ATen/mps/MPSAllocator.h).
MPS_WATERMARK = 1.7
#: Below this share of the RAM, the MPS device's working set is a discrete GPU's own memory (Apple silicon: ~2/3+).
UNIFIED_SHARE = 0.55


@rule(
    "oom", "error", None,
    trigger="An out-of-memory error in the log: `CUDA out of memory`, `torch.OutOfMemoryError`, `Allocation "
    "on device`, `MPS backend out of memory`, DirectML `not enough GPU video memory`. The advice follows where "
    "its traceback's frames show it came: loading a model (the weights), sampling, or the VAE decode or encode; and "
    "what PyTorch's message says of the GPU's memory: other processes holding part of it, or fragmentation.",
    advice=(ADVICE_NODE_LOADS, ADVICE_SMALLER_MODEL, ADVICE_TILED_DECODE, ADVICE_TILED_ENCODE, ADVICE_SMALLER_JOB,
            ADVICE_SMALLER_IMAGE, ADVICE_DROP_HIGHVRAM, ADVICE_LOAD_OFFLOAD, ADVICE_LOAD_OFFLOAD_DYNAMIC,
            ADVICE_TEXT_ENCODER_CPU, ADVICE_TILED_OFFLOAD, ADVICE_TILED_OFFLOAD_DYNAMIC, ADVICE_LOAD_OFFLOAD_ALREADY,
            ADVICE_TILED_OFFLOAD_ALREADY, ADVICE_MPS, ADVICE_MPS_DISCRETE,
            ADVICE_DIRECTML, ADVICE_OTHER_PROCESS, ADVICE_OUTSIDE_PYTORCH, ADVICE_OUTSIDE_POOL,
            *ALLOC_ADVICE, ADVICE_FREE_HOLDER, ADVICE_BIGGER_MAC, ADVICE_BIGGER_GPU),
)
def _oom(facts: Facts) -> list[Finding]:
    claimed = overcommits(facts)  # dynamic VRAM's staging overcommit tells those (staging-overcommit)
    records = [e for e in facts.errors_in("oom") if e.prompt not in claimed]
    if not records:
        return []
    prompts = sorted({e.prompt for e in records if e.prompt is not None})
    cost = facts.seconds_of(prompts)
    run = facts.run_at(records[0].source, records[0].line)
    device = ((run.device or run.gpu or "") if run else "").lower()
    video_prompt = next((p for p in facts.prompts_at(prompts) if p.video), None)
    video = video_prompt.video if video_prompt is not None else None
    evidence = [_oom_evidence(facts, e) for e in records[:MAX_EVIDENCE]]
    discrete_gb = _mps_discrete_gb(records, run)
    where = _device_phrase(run, discrete_gb)
    first = clip(records[0].message, 140)
    why = (f"{plural(len(records), 'out-of-memory error')} ({first}) on {where}"
           + (f", {plural(len(prompts), 'prompt')} failed with it" if prompts else "") + ".")
    places = [oom_place(facts, e) for e in records]
    why += _place_phrase(places)
    loading = next((p for p in places if p is not None and p.stage == "load"), None)
    # An OOM while the weights were loaded: a smaller job does not help, only less weight on the GPU.
    only_loading = all(p is not None and p.stage == "load" for p in places)
    found = budget(facts, video_prompt) if video_prompt is not None and not only_loading else None
    if found is not None:
        why += " " + found.why()
    dynamic = run is not None and run.setup.get("dynamic_vram")
    offloading = next((s for s in (run.vram_states if run is not None else []) if s in ("LOW_VRAM", "NO_VRAM")), None)
    advice: list[str] = []
    stated = next(((i, f) for i, f in enumerate(oom_figures(facts, e) for e in records) if f is not None), None)
    figures = stated[1] if stated is not None else None
    if stated is not None and figures is not None:
        which = "it" if len(records) == 1 else "the first" if stated[0] == 0 else f"OOM {stated[0] + 1}"
        why += describe(figures, which)
        evidence[1:1] = figures.evidence  # beside the first OOM line: the figures the sentence quotes
        if figures.other_process_named:
            advice.append(ADVICE_OTHER_PROCESS(held=mib_text(figures.other_processes_mb or 0.0)))
        if figures.outside_pytorch_named:
            outside = ADVICE_OUTSIDE_POOL if figures.form == "async" else ADVICE_OUTSIDE_PYTORCH
            advice.append(outside(held=mib_text(figures.outside_pytorch_mb or 0.0)))
    fragmented = figures is not None and figures.fragmented
    if fragmented:
        alloc, alloc_line = alloc_conf_advice(facts, run)
        advice.append(alloc)
        if alloc_line is not None:
            evidence.append(facts.cite_event(alloc_line))
    high = [ev for ev in (facts.run_events(EventKind.VRAM_STATE, run) if run is not None else [])
            if ev.fields.get("state") == "HIGH_VRAM"]
    if high:  # first where a model was loaded: it keeps the others on the GPU
        evidence.append(facts.cite_event(high[0]))
        if loading is not None:
            advice.append(ADVICE_DROP_HIGHVRAM(line=facts.lines_ref(high[0].source, high[0].line)))
    if loading is not None:
        if loading.custom_node:
            advice.append(ADVICE_NODE_LOADS(node=loading.custom_node, frame=loading.frame))
        else:
            advice.append(ADVICE_SMALLER_MODEL())
    if any(p is not None and p.stage == "decode" for p in places):
        advice.append(ADVICE_TILED_DECODE())
    if any(p is not None and p.stage == "encode" for p in places):
        advice.append(ADVICE_TILED_ENCODE())
    if not only_loading:
        advice.append(found.advice() if found is not None else ADVICE_SMALLER_IMAGE())
    if high and loading is None:
        advice.append(ADVICE_DROP_HIGHVRAM(line=facts.lines_ref(high[0].source, high[0].line)))
    if loading is not None:
        if not loading.custom_node:
            advice.append(ADVICE_LOAD_OFFLOAD_DYNAMIC() if dynamic else ADVICE_LOAD_OFFLOAD_ALREADY(state=offloading)
                          if offloading else ADVICE_LOAD_OFFLOAD())
        if loading.text_encoder:
            advice.append(ADVICE_TEXT_ENCODER_CPU())
    if any(p is None or p.stage == "sample" for p in places):
        advice.append(ADVICE_TILED_OFFLOAD_DYNAMIC() if dynamic else ADVICE_TILED_OFFLOAD_ALREADY(state=offloading)
                      if offloading else ADVICE_TILED_OFFLOAD())
    if discrete_gb is not None:
        advice.append(ADVICE_MPS_DISCRETE(memory=f"~{discrete_gb:.1f} GB"))
    elif device.startswith("mps"):
        advice.append(ADVICE_MPS())
    elif device.startswith("privateuseone"):
        advice.append(ADVICE_DIRECTML())
    elif device.startswith("xpu") or any(XPU_OOM in e.message for e in records):
        pass  # an Intel GPU's allocator: PYTORCH_CUDA_ALLOC_CONF is CUDA's (Comfy-Org/ComfyUI#6379)
    elif not only_loading and not fragmented:
        alloc, alloc_line = alloc_conf_advice(facts, run)
        # The figures show too little reserved and unused for fragmentation; or the OOM is cudaMallocAsync's,
        # whose pool expandable_segments (a setting of PyTorch's own allocator) does not change.
        if not (alloc == ADVICE_EXPANDABLE() and figures is not None
                and (figures.reserved is not None or figures.form == "async")):
            advice.append(alloc)
            if alloc_line is not None:
                evidence.append(facts.cite_event(alloc_line))
    held = _held(facts, records)
    if held is not None:  # 019: a TTS node's model held the GPU; the lowvram finding names it too
        holder, within = held
        why += (f" Before it, a custom node loaded {holder.name} ({facts.lines_ref(holder.source, holder.line)}"
                f"{holder.quote}) itself, outside ComfyUI's model management, and ComfyUI's own loads in that "
                "prompt were offered almost no VRAM: that model likely held the GPU, and ComfyUI cannot unload it.")
        advice.insert(0, ADVICE_FREE_HOLDER(holder=holder.name, how=FREE_WITHIN if within else FREE_BETWEEN))
        evidence.insert(1, holder.evidence)
    if discrete_gb is None:
        advice.append(ADVICE_BIGGER_MAC() if device.startswith("mps") else ADVICE_BIGGER_GPU())
    return [finding(
        "oom", f"Out of GPU memory: {plural(len(records), 'OOM error')}" + (
            f" in {plural(len(prompts), 'prompt')}" if prompts else ""), "high", why, advice, evidence,
        {"errors": len(records), "prompts": len(prompts), "total_vram_mb": gpu_vram_mb(run),
         "device": run.gpu if run else None, **({"video": video} if video else {}),
         **({"holder_line": held[0].line} if held is not None else {})},
        cost, prompts, total=len(records))]


def _held(facts: Facts, records: list[ErrorRecord]) -> tuple[Holder, bool] | None:
    """A model loaded outside ComfyUI's model management that likely held the VRAM an OOM's prompt lacked: its
    prompt's loads were starved (offered under a tenth of the GPU) after it. With whether it is the same prompt's."""
    for record in records:
        run = facts.run_at(record.source, record.line)
        vram = gpu_vram_mb(run) if run is not None else None
        prompt = next(iter(facts.prompts_by_index([record.prompt])), None) if record.prompt is not None else None
        if run is None or vram is None or prompt is None:
            continue
        starved = [ld for ld in facts.loads_of(prompt) if ld.usable_mb is not None
                   and ld.usable_mb < STARVED_SHARE * vram and (ld.source, ld.line) < (record.source, record.line)]
        if not starved:
            continue
        first = min(starved, key=lambda ld: (ld.source, ld.line))
        at = (first.source, first.line)
        holder = find_holder(facts, run, at, before(facts, run, at, vram))
        if holder is not None:
            return holder, (holder.source, holder.line) > (prompt.source, prompt.line)
    return None


STAGE_PHRASES = {
    "load": "while a model was being loaded",
    "sample": "while sampling",
    "decode": "in the VAE decode",
    "encode": "in the VAE encode",
}


def _place_phrase(places: list[OomPlace | None]) -> str:
    """Where the OOMs came, from their tracebacks: `` It came while a model was being loaded (…)…``."""
    known = [p for p in places if p is not None]
    if not known:
        return ""
    first = known[0]
    if first.text_encoder and first.frame.startswith("Requested to load "):  # the request names the load: said once
        where = f"while the text encoder was being loaded (`{first.frame}`)"
    else:
        where = f"{STAGE_PHRASES[first.stage]} (`{first.frame}`" + (", building its text encoder)"
                                                                    if first.text_encoder else ")")
    same = sum(1 for p in known if p.stage == first.stage)
    if len(places) == 1:
        text = f" It came {where}"
    elif same == len(places):
        text = f" All came {where}"
    else:
        text = f" {same} of them came {where}"
    if first.stage == "load":
        text += ": the model's weights did not fit, so a lower resolution or a smaller batch would not help"
    return text + "."


def _oom_evidence(facts: Facts, record: ErrorRecord) -> Evidence:
    """The OOM line of an incident (exception, traceback end or ``Got an OOM``), else its first line."""
    end = record.end_line or record.line
    for kind in (EventKind.EXCEPTION, EventKind.TRACEBACK, EventKind.OOM):
        for ev in facts.between(kind, record.source, record.line, end):
            line, text = event_line(ev)
            if line <= end and is_oom(text):
                return facts.cite_event(ev)
    return facts.cite(record.source, record.line, record.message)


def _mps_discrete_gb(records: list[ErrorRecord], run: Run | None) -> float | None:
    """The GPU memory (GB) of a Mac whose MPS device is a discrete GPU, from PyTorch's ``max allowed`` figure.

    PyTorch's MPS allocator allows 1.7 times the device's recommended working set (``MPSAllocator``'s
    default_high_watermark_ratio). Apple silicon's working set is about two thirds or more of the RAM
    (ComfyUI reports the RAM as "Total VRAM" on MPS); an Intel Mac's discrete GPU's is its own VRAM, far
    less: 6.77 GB allowed on a 16 GB Mac is a ~4 GB Radeon. None when it looks unified or is not known.
    """
    if run is None or not (run.device or "").lower().startswith("mps") or not run.total_vram_mb:
        return None
    for record in records:
        m = MPS_LIMIT_RE.search(record.message)
        if m is not None:
            allowed_gb = float(m["size"]) / (1024.0 if m["unit"] == "MB" else 1.0)
            working_gb = allowed_gb / MPS_WATERMARK
            return working_gb if working_gb * 1024.0 < UNIFIED_SHARE * run.total_vram_mb else None
    return None


def _device_phrase(run: Run | None, discrete_gb: float | None = None) -> str:
    if run is None:
        return "the GPU"
    device = (run.device or run.gpu or "").lower()
    if discrete_gb is not None:
        return (f"a Mac's discrete GPU through MPS (about {discrete_gb:.1f} GB: PyTorch's limit in the message is 1.7 "
                f"times its working set, far below the {gb(run.total_vram_mb or 0)} of RAM that unified memory "
                "would give it)")
    if device.startswith("mps"):
        return f"Apple MPS (unified memory, {gb(run.total_vram_mb)})" if run.total_vram_mb else "Apple MPS"
    if device.startswith("privateuseone"):
        return "DirectML (its 1024 MB VRAM figure is a placeholder, not the card's size)"
    return gpu_phrase(run)
