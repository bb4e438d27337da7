"""Prompts that failed in a node with an exception: which node, which exception, and its message."""

from __future__ import annotations

import re

from ...dataclass import dataclass
from ...events import Event, EventKind
from ...lazyre import lazy_re
from ...model import ErrorRecord, Evidence, Finding
from ...text import basename, listing, plural
from ..deaths import worker_death, worker_death_traceback
from ..engine import MAX_EVIDENCE, Advice, finding, rule
from ..evidence import clip, event_line
from ..facts import Facts, on_cpu, platform_of
from ..hints import OWN_WORDS_ADVICE, own_words_advice
from ..model_kinds import encodes_text, samples
from ..node_imports import node_import_errors
from ..packages import missing_module, package_of
from ..pytorch import (
    ADVICE_TORCH_API,
    CUDA_ERROR,
    TORCH_API,
    TORCH_FRAMES,
    caller_owner,
    innermost_caller,
    reached_a_gpu,
    torch_api_advice,
)

ADVICE_NODE = Advice("The exception is raised inside the custom node `{node}`: update it (ComfyUI-Manager: "
                     "Update), or look for `{error}` in its issues", {"node": "NAME", "error": "the exception"})
ADVICE_READ = Advice("Read the traceback: the last `File ...custom_nodes/NAME/...` line names the node that failed")
ADVICE_FRAMES = Advice("The traceback names no custom node (no `custom_nodes/` frame): it ends in {frames}. {hint}",
                       {"frames": "its innermost frames", "hint": "whose code they are"})
#: The innermost frames a finding names.
MAX_FRAMES_SHOWN = 3
ADVICE_INPUTS = Advice("Missing files and wrong inputs are fixed in the workflow; errors inside a custom node usually "
                       "need an update of that node (or of ComfyUI to match it)")
ADVICE_MODULE = Advice("Install `{package}` into the Python ComfyUI runs with (ComfyUI-Manager: Try fix, or "
                       "`python -m pip install {package}` with that Python)",
                       {"package": "the missing module's package"})
ADVICE_ROOT_MODULE = Advice("The chain of exceptions begins with `{cause}`: install `{package}` into the Python "
                            "ComfyUI runs with (`python -m pip install {package}` with that Python)",
                            {"cause": "ModuleNotFoundError: No module named 'X'", "package": "its package"})
ADVICE_MODULE_PART = Advice("`{module}` is a part of `{package}`, not a package to install: `{package}` is there "
                            "without it. {where}", {"module": "a.b", "package": "a",
                                                   "where": "Re-install what brings it, or the version it needs"})
ADVICE_DOWNLOAD = Advice("`{node}` downloads files (from Hugging Face or elsewhere) when it runs, and the connection "
                         "failed: put the files where it reads them beforehand, or fix the network (a proxy, "
                         "`HF_ENDPOINT` for a mirror)", {"node": "the custom node"})
ADVICE_CLIENT_GONE = Advice(
    "`{error}` in asyncio's `_call_connection_lost` ({where}) is Windows' asyncio reporting a connection that the "
    "other end had already closed (usually the browser: a tab closed or reloaded): ComfyUI carries on, nothing "
    "failed, and there is nothing to do", {"error": "ConnectionResetError", "where": "line N"})
#: asyncio's ProactorEventLoop (Windows) shuts down the socket of a connection that is closing; when the other end has
#: already reset it, ``socket.shutdown`` raises and the loop logs ``Exception in callback
#: _ProactorBasePipeTransport._call_connection_lost(None)`` with the traceback (asyncio/proactor_events.py), and
#: carries on.
CLIENT_GONE_FRAME = "proactor_events.py:_call_connection_lost"
CLIENT_GONE_ERRORS = ("ConnectionResetError", "ConnectionAbortedError")
#: Exceptions and messages of a download that failed.
NETWORK_ERRORS = ("ConnectionError", "ConnectionResetError", "LocalEntryNotFoundError", "Max retries exceeded",
                  "ReadTimeout", "ConnectTimeout", "Connection aborted")
ADVICE_BAD_URL = Advice("`{node}` sends its requests to {urls}, not an address: the server it talks to is not "
                        "configured. Set it where the node takes it (its input, settings file or environment "
                        "variable); an update of the node does not set it",
                        {"node": "the custom node", "urls": "the URL in the error"})
#: requests' errors for a URL that is no address, with the URL: ``Invalid URL '': No scheme supplied``,
#: ``No connection adapters were found for 'TODO: BACKEND API'`` (requests/models.py, sessions.py).
BAD_URL_RE = lazy_re(r"(?:MissingSchema|InvalidSchema|InvalidURL): (?:Invalid URL|No connection adapters were "
                        r"found for) '([^']{0,200})'")
ADVICE_OBJECT_INFO = Advice("ComfyUI could not describe {classes} to the browser (`/object_info`): the node's own "
                            "description (`INPUT_TYPES`) raised, so these nodes are missing from the node library and "
                            "workflows that use them show them as missing. The custom node pack that defines them is "
                            "broken or does not fit this ComfyUI: update it (or ComfyUI), or remove it",
                            {"classes": "the node types"})
#: Node types an object_info failure names, at most.
MAX_CLASSES = 4
#: A worker's echo of a node's failure follows ComfyUI's traceback within this many lines.
MAX_ECHO_LINES = 5
#: Distinct failures whose causes are looked for (each at most once), and the causes said, at most.
MAX_FAILURES_READ = 12
MAX_CAUSES = 3
#: Errors whose own instructions are quoted, at most.
MAX_OWN_WORDS = 3
ADVICE_DAMAGED_FILE = Advice("The model file{where} did not read whole (`{error}`): it is cut short or damaged, "
                             "usually a download that stopped or a disk that filled up while it was written. Download "
                             "it again (with room on the disk) and compare its size with the source's",
                             {"where": " that NODE (node N) loads from FOLDER", "error": "the safetensors error"})
#: The models folders ComfyUI's own loaders read, by the loader's function (nodes.py).
LOADER_FOLDERS = {
    "load_unet": ("diffusion_models", "unet"), "load_checkpoint": ("checkpoints",), "load_vae": ("vae",),
    "load_clip": ("text_encoders", "clip"), "load_lora": ("loras",), "load_controlnet": ("controlnet",),
    "load_style_model": ("style_models",), "load_upscale_model": ("upscale_models",),
}
#: safetensors' errors for a file that is not whole (safetensors' `SafeTensorError` variants as Python prints them).
DAMAGED_FILE_ERRORS = ("incomplete metadata, file not fully covered", "MetadataIncompleteBuffer", "HeaderTooLarge",
                       "HeaderTooSmall", "InvalidHeaderDeserialization")
ADVICE_WRONG_FILE = Advice("`{target}` could not take the weights of the file it loaded (`size mismatch`): the file "
                           "is made for another model or another slot (a CLIP-G file where CLIP-L belongs, a text "
                           "encoder or LoRA for another model). Load the file the model's workflow names there",
                           {"target": "the model"})
ADVICE_SHAPES = Advice("Tensors of shapes that do not fit (`{detail}`) mean two parts of the workflow do not belong "
                       "together: usually a text encoder (CLIP), VAE, LoRA or ControlNet made for another model than "
                       "the one sampling{models}. Load the ones made for it",
                       {"detail": "the shapes", "models": ""})
#: PyTorch's messages for tensors whose shapes do not fit each other (F.layer_norm/rms_norm, matmul, broadcasting).
#: torch.cat's ``Sizes of tensors must match except in dimension 1. Expected size 2048 but got size 4096 …`` (020: an
#: SDXL text encoder's 2048-wide output beside Flux's style model), an in-place op's ``output with shape [1, 16, 144,
#: 112] doesn't match the broadcast shape [1, 16, 16, 144, 112]`` (020: a latent of another model's shape).
SHAPE_ERRORS = ("Given normalized_shape=", "mat1 and mat2 shapes cannot be multiplied",
                "must match the size of tensor", "Sizes of tensors must match except in dimension",
                "doesn't match the broadcast shape")
#: ``Error(s) in loading state_dict for CLIPTextModel:`` followed by ``size mismatch for ...`` lines.
STATE_DICT_ERROR = "Error(s) in loading state_dict for "
ADVICE_NO_FILE = Advice("The workflow names model files that are not in ComfyUI's models folders: the loader got no "
                        "path back for them (`'NoneType' object has no attribute 'lower'` in `load_torch_file`), in "
                        "{callers}. Put each file there, or pick one that exists in the node; updating the node does "
                        "not help", {"callers": "the loader (and the file its prompt's validation refused)"})
#: Loaders whose input is named otherwise than their function: ``load_checkpoint`` (and ComfyUI's
#: ``sd.py:load_checkpoint_guess_config`` under it) reads ``ckpt_name``, ``sd.py:load_diffusion_model`` ``unet_name``.
INPUT_STEMS = {"checkpoint": "ckpt", "diffusion": "unet"}
#: ``load_torch_file(None)``: a loader's file name that ``folder_paths.get_full_path`` did not find.
NO_FILE_ERROR = "'NoneType' object has no attribute 'lower'"
NO_FILE_FRAME = ":load_torch_file"
#: How the Windows portable build sets it: its start line is in `run_cpu.bat`.
WINDOWS_HIDE_GPU = " (Windows: `set CUDA_VISIBLE_DEVICES=-1` in `run_cpu.bat`, before its start line)"
ADVICE_CUDA_ON_CPU = Advice(
    "ComfyUI runs on the CPU here (`Device: cpu`{where}), yet {who} put its work on a CUDA GPU, and the GPU failed it "
    "(`{error}`): `--cpu` moves only ComfyUI's own models, and libraries that choose their own device (ultralytics, "
    "for one) take the GPU whenever PyTorch sees one. Hide the GPU from PyTorch so that every node stays on the CPU: "
    "set the environment variable `CUDA_VISIBLE_DEVICES=-1` before ComfyUI starts{windows}; or get the GPU working "
    "and start ComfyUI without `--cpu`",
    {"where": ", vram state DISABLED on line N", "who": "`NODE` (or a library it calls)", "error": "the CUDA error",
     "windows": WINDOWS_HIDE_GPU})
ADVICE_NO_DETECTOR = Advice(
    "`{placeholder}` is the empty detector Impact Pack's detector providers give for a model that cannot do that "
    "kind of detection ({kind}): the workflow connects that output to a node that uses it. {fix}",
    {"placeholder": "NO_SEGM_DETECTOR", "kind": "the SEGM_DETECTOR output of a `bbox/` model",
     "fix": "Connect a provider of the right kind there, or leave the input empty"})
#: Impact Pack's placeholders (``NO_SEGM_DETECTOR``: UltralyticsDetectorProvider's SEGM_DETECTOR for a ``bbox/`` model;
#: ``NO_BBOX_DETECTOR``: MMDetDetectorProvider's BBOX_DETECTOR for a ``segm/`` one), and what fits instead.
NO_DETECTOR = {
    "NO_SEGM_DETECTOR": ("the SEGM_DETECTOR output of a `bbox/` model",
                         "Give that input (FaceDetailer's `segm_detector_opt`, for one) a provider loaded with a "
                         "`segm/` model, or leave it empty"),
    "NO_BBOX_DETECTOR": ("the BBOX_DETECTOR output of a `segm/` model",
                         "Give that input a provider loaded with a `bbox/` model"),
}
NO_DETECTOR_RE = lazy_re(r"'(NO_(?:SEGM|BBOX)_DETECTOR)' object has no attribute")
ADVICE_NO_INPUT_FILE = Advice("`{loader}` could not open {file}: the workflow names an input file that is not there. "
                              "Put it in ComfyUI's `input` folder (or upload it again in the node), or pick one that "
                              "exists", {"loader": "LoadImage's load_image", "file": "the file"})
#: Loaders of input files (ComfyUI's LoadImage / LoadImageMask: ``nodes.py:load_image``), whose missing file is the
#: workflow's input, not the node's fault.
INPUT_LOADERS = (":load_image",)
ADVICE_NO_INPUT_FOLDER = Advice("`{loader}` {found}: the workflow names an image folder {what}. {fix}",
                                {"loader": "VideoHelperSuite's load_images", "found": "could not find `FOLDER`",
                                 "what": "that is not there",
                                 "fix": "Create it and put the images in it, or give the node a folder that exists"})
#: VideoHelperSuite's image-folder loaders (Load Images (Upload/Path): videohelpersuite/load_images_nodes.py
#: ``load_images`` / ``images_generator``) raise FileNotFoundError with these, the first without its closing quote:
#: ``Directory '{directory} cannot be found.`` and ``No files in directory '{directory}'.``
FOLDER_LOADERS = ("load_images_nodes.py:load_images", "load_images_nodes.py:images_generator")
NO_FOLDER_RE = lazy_re(r"Directory '(?P<missing>.{1,300}?) cannot be found\."
                          r"|No files in directory '(?P<empty>.{1,300}?)'\.")
ADVICE_NO_PERMISSION = Advice(
    "The system refused to open `{path}` (`Permission denied`): the user ComfyUI runs as may not write (or read) "
    "there. Usually the folder belongs to another user (made by root, a container or an installer); on Windows, also a "
    "file another program holds open. Give ComfyUI's user the right to that folder (its owner or permissions), or "
    "point ComfyUI at one it may write (`--output-directory`, `--temp-directory`)",
    {"path": "the path"})
#: CPython's OSError text for EACCES: ``[Errno 13] Permission denied: 'PATH'``.
PERMISSION_RE = lazy_re(r"\[Errno 13\] Permission denied: '([^']{1,300})'")
ADVICE_NOT_NUNCHAKU = Advice(
    "`{node}` looked in its model file's metadata for the `config` that Nunchaku's own (SVDQuant) model files carry, "
    "and found none (`KeyError: 'config'` in nunchaku's `_build_model`): the file given to its loader is not a "
    "Nunchaku model in the format this nunchaku reads (a plain Flux file, for one). Load a Nunchaku `svdq-…` model "
    "there", {"node": "ComfyUI-nunchaku"})
#: nunchaku/models/transformers/utils.py ``_build_model``: ``config = json.loads(metadata["config"])`` on the file's
#: safetensors metadata.
NOT_NUNCHAKU_FRAME = "utils.py:_build_model"
NOT_NUNCHAKU_ERROR = "KeyError: 'config'"
#: ``[Errno 2] No such file or directory: 'PATH'``: the path.
NO_SUCH_FILE_RE = lazy_re(r"No such file or directory: '([^']{1,300})'")
#: PyTorch's ROCm build raises ``HIP error: `` + hipGetErrorString: ``invalid device function`` is
#: hipErrorInvalidDeviceFunction, a kernel with no code for this GPU's architecture (gfx...), the ROCm counterpart of
#: CUDA's ``no kernel image is available`` (ROCm wheels ship kernels for the GPUs AMD lists).
HIP_NO_KERNEL = "HIP error: invalid device function"
ADVICE_HIP_NO_KERNEL = Advice(
    "`HIP error: invalid device function`: this PyTorch (ROCm) build has no kernels for this GPU's architecture. "
    "Install a ROCm build of PyTorch that lists the GPU (pytorch.org's selector, or AMD's builds for new GPUs); for a "
    "consumer GPU ROCm does not list, `HSA_OVERRIDE_GFX_VERSION` set to the nearest listed architecture is the usual "
    "workaround")
#: torch.compile's failure: torch/_dynamo/exc.py BackendCompilerFailed.__init__, ``msg = f"backend={self.backend_name!r}
#: raised:\n{type(inner_exception).__name__}: {inner_exception}"`` (checked through the code index); the backend that
#: failed is named in its first line.
TORCH_COMPILE_FAILED_RE = lazy_re(r"BackendCompilerFailed: backend='([^']{1,40})' raised")
ADVICE_TORCH_COMPILE = Advice(
    "`torch.compile` failed (`BackendCompilerFailed`, backend `{backend}`): the workflow compiles the model (a "
    "TorchCompileModel node, a wrapper's torch-compile settings) and the compiler underneath, triton, did not work "
    "with this PyTorch and GPU. Bypass the compile node to run the prompt without it; to keep it, install the triton "
    "that fits this PyTorch version (on Windows the `triton-windows` package)", {"backend": "inductor"})
#: triton builds its C helpers (``cuda_utils``, ``main.c``) with a C compiler the first time it runs a kernel
#: (triton/runtime/build.py ``_build``: ``cc_cmd = [cc, src, "-O3", "-shared", "-fPIC", ...]`` with Python's include
#: folder, run by subprocess; gcc or clang on Linux, the bundled tcc.exe in triton-windows; checked through the code
#: index): a compiler that fails raises Python's ``CalledProcessError: Command '[...]' returned non-zero exit status
#: N.`` with triton's paths in the command (field9 09, blepping/ComfyUI-bleh#23; Comfy-Org/ComfyUI#13063).
#: The program of a CalledProcessError's command (``Command '['/usr/bin/gcc', ...`` : ``/usr/bin/gcc``).
COMMAND_RE = lazy_re(r"Command '\['([^']{1,200})'")
ADVICE_TRITON_CC = Advice(
    "triton could not build its C helper (`cuda_utils`) with the C compiler (`{compiler}` failed): SageAttention and "
    "torch.compile need it. The compiler needs Python's headers and libraries: on Linux the `python3.X-dev` package "
    "(`Python.h`) and gcc, and the driver's `libcuda.so` where `-lcuda` finds it; with ComfyUI portable's embedded "
    "Python on Windows, the `include` and `libs` folders triton-windows' instructions give, copied into "
    "`python_embeded`. Or run without it: drop the SageAttention option or node, or the compile node",
    {"compiler": "the compiler"})
ADVICE_NO_TRITON = Advice(
    "`triton` is not installed in the Python ComfyUI runs with, and the workflow uses it: torch.compile (a compile "
    "node) or SageAttention (`--use-sage-attention`, a Patch Sage Attention node) needs it. Install it there (on "
    "Windows the package is `triton-windows`, in the version that fits the PyTorch), or bypass that node or option")
#: CUDA errors after which, in NVIDIA's words (the CUDA runtime API's ``cudaErrorIllegalAddress`` = 700 and
#: ``cudaErrorLaunchFailure`` = 719, driver_types.h): "This leaves the process in an inconsistent state and any further
#: CUDA work will return the same error. To continue using CUDA, the process must be terminated and relaunched";
#: their cudaGetErrorString texts, as PyTorch prints them after ``CUDA error: `` (c10/cuda/CUDAException).
STICKY_CUDA_ERRORS = ("an illegal memory access was encountered", "unspecified launch failure")
ADVICE_CUDA_STICKY = Advice(
    "`{error}` leaves the process's CUDA state broken (NVIDIA: any further CUDA work returns the same error until "
    "the process is relaunched): every later prompt on this GPU fails until ComfyUI is restarted (on a container, "
    "the container). If it comes back, the GPU code that faulted is the suspect: a custom node's or an attention "
    "backend's kernel (sage, flash), or an unstable GPU (overclock, heat)",
    {"error": "CUDA error: an illegal memory access was encountered"})
#: PyTorch's MPS backend has no such dtype (aten/src/ATen/native/mps/OperationUtils.mm, getMPSDataType's `default:`
#: `TORCH_CHECK_TYPE(false, "Trying to convert ", scalar_type, " to the MPS backend but it does not have support for
#: that dtype.")`, checked through the code index): fp8 weights (`Float8_e4m3fn`, `Float8_e5m2`) on a Mac.
MPS_DTYPE_RE = lazy_re(r"Trying to convert (\w+) to the MPS backend but it does not have support for that dtype")
ADVICE_MPS_FP8 = Advice("A Mac's GPU (MPS) has no `{dtype}`: the workflow loads fp8 weights (a file named `fp8`, "
                        "`fp8_scaled` or `e4m3fn`, or a loader's `weight_dtype` set to fp8), which PyTorch cannot "
                        "move to MPS. Load the fp16 or bf16 file of the same model (or a GGUF), with the loader's "
                        "`weight_dtype` at `default`; the text encoder's file too if it is fp8",
                        {"dtype": "Float8_e4m3fn"})
ADVICE_MPS_DTYPE = Advice("A Mac's GPU (MPS) has no `{dtype}`: a tensor of that type cannot go to it. Whatever made "
                          "it (a model file, a node's own code) needs float32, float16 or bfloat16 on a Mac",
                          {"dtype": "that dtype"})
#: What comfy-aimdo (dynamic VRAM's allocator) raises when it cannot map weights to the GPU: comfy_aimdo/model_vbar.py,
#: ModelVBAR's `raise MemoryError("VBAR allocation failed")` and `raise RuntimeError(f"Fault failed: {res}")` (checked
#: through the code index); its C side prints `aimdo: src/model-vbar.c:…:ERROR:…` first (Comfy-Org/ComfyUI#15269,
#: comfy-aimdo#25).
AIMDO_ERRORS = ("VBAR allocation failed", "Fault failed: ")
ADVICE_AIMDO = Advice("`{error}` comes from comfy-aimdo, the allocator of ComfyUI's dynamic VRAM, not from the "
                      "workflow: start ComfyUI with `--disable-dynamic-vram` to load models the legacy way, and update "
                      "comfy-aimdo with ComfyUI (`python -m pip install -U comfy-aimdo`): a newer release may fix "
                      "it", {"error": "VBAR allocation failed"})
#: intel-extension-for-pytorch's XPU allocator on a GPU without 2D block arrays (Arc A-series) refuses any one
#: block over 4 GB (csrc/gpu/aten/core/CachingAllocator.cpp: TORCH_CHECK(false, "Current platform can NOT allocate
#: memory block with size larger than 4GB! Tried to allocate ", …), checked through the code index; #7004 of
#: Comfy-Org/ComfyUI, a VAE at 5.46 GiB): a limit on one tensor, not the GPU full.
XPU_BLOCK_LIMIT = "Current platform can NOT allocate memory block with size larger than 4GB!"
ADVICE_XPU_BLOCK = Advice("This Intel GPU (under intel-extension-for-pytorch) cannot allocate one block over 4 GB, "
                          "however much VRAM is free: the step that failed needs a tensor that large. Make it smaller: "
                          "decode or encode with the tiled VAE nodes (VAE Decode (Tiled)), or lower the resolution, "
                          "the batch size or the frame count")
ADVICE_CUDA_ONLY = Advice("`{node}` calls CUDA, which a Mac does not have: that node's code is CUDA-only; look for a "
                          "version or fork that supports MPS, or use another node", {"node": "the custom node"})


@rule(
    "exception", "error", None,
    trigger="`!!! Exception during processing !!!` or a traceback that is not out of memory: prompts that "
    "failed in a node, named by the traceback's `custom_nodes/NAME/` frame, with the exception and its message "
    "(and what the message itself says to do, first).",
    advice=(*OWN_WORDS_ADVICE, ADVICE_TORCH_API, ADVICE_NO_FILE, ADVICE_DAMAGED_FILE, ADVICE_WRONG_FILE, ADVICE_SHAPES,
            ADVICE_BAD_URL, ADVICE_OBJECT_INFO, ADVICE_ROOT_MODULE, ADVICE_MODULE,
            ADVICE_MODULE_PART, ADVICE_NODE,
            ADVICE_READ, ADVICE_FRAMES, ADVICE_INPUTS, ADVICE_DOWNLOAD, ADVICE_CUDA_ONLY, ADVICE_CUDA_ON_CPU,
            ADVICE_NO_DETECTOR, ADVICE_NO_INPUT_FILE, ADVICE_NO_INPUT_FOLDER, ADVICE_NO_PERMISSION,
            ADVICE_CLIENT_GONE, ADVICE_NOT_NUNCHAKU, ADVICE_HIP_NO_KERNEL, ADVICE_CUDA_STICKY, ADVICE_MPS_FP8,
            ADVICE_MPS_DTYPE, ADVICE_TORCH_COMPILE, ADVICE_TRITON_CC, ADVICE_NO_TRITON, ADVICE_AIMDO,
            ADVICE_XPU_BLOCK),
)
def _exception(facts: Facts) -> list[Finding]:
    failed = facts.failed_startups()  # their exceptions are the start-up failure's cause (startup-failed)
    loading = node_import_errors(facts)  # a custom node's part failing to import at start-up (import-failed)
    worker = _worker_death_lines(facts)  # the exception that killed the prompt worker (prompt-worker-died)
    seen = _Failures()
    prompts_seen: set[int] = set()
    before_log = 0
    for e in facts.errors_in("exception"):
        if e.source in failed or (e.source, e.line) in loading or (
                worker is not None and e.source == worker[0] and worker[1] <= e.line <= worker[2]):
            continue
        # ComfyUI prints `!!! Exception during processing !!!` only when a node of a running prompt raised
        # (execution.py): such a record in no prompt is the failure of a prompt whose `got prompt` is before the log.
        started_before = e.prompt is None and (bool(facts.between(EventKind.EXCEPTION, e.source, e.line, e.line))
                                               or _reported_node(facts, e))
        before_log += started_before
        if e.prompt is not None:
            prompts_seen.add(e.prompt)
        seen.add(facts, _failure(facts, e), e.prompt is not None or started_before)
    if not seen.count:
        return []
    count = seen.count
    prompts = sorted(prompts_seen)
    failed_prompts = len(prompts) + before_log
    # the prompt a log starts inside (the segmenter opened it at its work or at this line)
    began_before = before_log + len({p.index for p in facts.prompts_in("before_log")}.intersection(prompts))
    # The failures of prompts first; those outside any prompt (037: ComfyUI-Manager's request handlers raising
    # while the server answered the browser) are said apart, as failures of no prompt.
    in_prompts = [g for g in seen.groups.values() if g.in_prompt]
    outside = [g for g in seen.groups.values() if not g.in_prompt]
    distinct = in_prompts + outside
    listed = in_prompts if in_prompts else outside
    listed_not_kept = seen.not_kept[bool(in_prompts)]
    shown = listing((_described_group(g) for g in listed[:3]), len(listed), "; ")
    besides = ""
    if in_prompts and outside:
        besides = (f" Outside any prompt (start-up, a request to the server or a background task), "
                   f"{plural(sum(g.count for g in outside) + seen.not_kept[False], 'more exception')}"
                   f"{_not_told_apart(len(outside), seen.not_kept[False])}: "
                   + listing((_described_group(g) for g in outside[:2]), len(outside), "; ") + ".")
    first = distinct[0].first
    what = (f"`{clip(first.error, 80)}`" + (" (a missing model file)" if _no_file_caller(first) is not None else "")
            + (f" in custom node `{first.node}`" if first.node else ""))
    title = (f"{plural(failed_prompts, 'prompt')} failed: {what}" if failed_prompts
             else f"{plural(count, 'exception')} outside any prompt: {what}")
    mac = seen.mac or any(platform_of(facts, facts.run_at(g.first.record.source, g.first.record.line)) == "mac"
                          for g in distinct)
    # A chain that began with a missing module first: the wrapper's own words (047: "ensure transformers>=4.51.3
    # is installed") come after what failed underneath (`No module named 'diffusers'`).
    advice = [item for g in distinct[:3] if (item := _root_module_advice(g.first)) is not None]
    # Then the messages' own instructions: the node's author wrote the fix into the exception.
    cap = len(advice) + MAX_OWN_WORDS
    for group in distinct:
        own = own_words_advice(group.first.error,
                               f"The error from `{group.first.node}`" if group.first.node else "The error",
                               group.first.module)
        if own is not None and own not in advice and len(advice) < cap:
            advice.append(own)
    told_nodes: set[str] = set()
    # A failure whose cause is named (a missing file, PyTorch's API, a CUDA error on the CPU...) needs no general
    # word after it; ADVICE_INPUTS is said only where some failure got none, or where its cause is left unsaid (past
    # MAX_CAUSES, or a failure past MAX_FAILURES_READ). Causes said once for many (missing model files) take no place.
    unnamed = len(distinct) > MAX_FAILURES_READ
    causes = 0
    for group in distinct[:MAX_FAILURES_READ]:
        f = group.first
        torch_api = _torch_api(facts, f)
        if f.node_class is not None:
            item = ADVICE_OBJECT_INFO(classes=_node_types(list(group.classes), group.more_classes))
        elif torch_api is not None:
            item = torch_api
        elif _no_file_caller(f) is not None:
            continue  # said once for them all, below
        elif any(e in f.error for e in DAMAGED_FILE_ERRORS):
            item = ADVICE_DAMAGED_FILE(where=_file_place(facts, f), error=clip(f.error.split(": ", 1)[-1], 80))
        elif STATE_DICT_ERROR in f.error:
            item = ADVICE_WRONG_FILE(target=f.error.split(STATE_DICT_ERROR, 1)[1].strip().rstrip(":") or "the model")
        elif any(e in f.error for e in SHAPE_ERRORS):
            item = ADVICE_SHAPES(detail=clip(f.error.split(": ", 1)[-1], 140), models=_models_loaded(facts, f.record))
        elif f.node and BAD_URL_RE.search(f.error):
            if f.node in told_nodes:
                continue
            told_nodes.add(f.node)
            # a group's failures share its node and error: its first says its URL
            urls = dict.fromkeys(m.group(1) for g in distinct if g.first.node == f.node
                                 for m in [BAD_URL_RE.search(g.first.error)] if m is not None)
            item = ADVICE_BAD_URL(node=f.node, urls=" and ".join(f"`{clip(url, 80)!r}`" for url in urls))
        elif (missing_input := _missing_input(f) or _missing_folder(f) or _no_permission(f)) is not None:
            item = missing_input
        elif f.error == NOT_NUNCHAKU_ERROR and f.frames and f.frames[-1] == NOT_NUNCHAKU_FRAME and f.node:
            item = ADVICE_NOT_NUNCHAKU(node=f.node)
        elif (placeholder := NO_DETECTOR_RE.search(f.error)) is not None:
            kind, fix = NO_DETECTOR[placeholder.group(1)]
            item = ADVICE_NO_DETECTOR(placeholder=placeholder.group(1), kind=kind, fix=fix)
        elif reached_a_gpu(f.error) and (on_cpu_advice := _cuda_on_cpu(facts, f)) is not None:
            if f.node is not None:
                told_nodes.add(f.node)
            item = on_cpu_advice
        elif f.cuda_only and mac and f.node:
            item = ADVICE_CUDA_ONLY(node=f.node)
        elif HIP_NO_KERNEL in f.error:
            item = ADVICE_HIP_NO_KERNEL()
        elif (compiled := TORCH_COMPILE_FAILED_RE.search(f.error)) is not None:
            item = ADVICE_TORCH_COMPILE(backend=compiled.group(1))
        elif "CalledProcessError" in f.error and "triton" in f.error:
            compiler = COMMAND_RE.search(f.error)
            item = ADVICE_TRITON_CC(compiler=basename(compiler.group(1)) if compiler else "the compiler")
        elif f.module == "triton":
            item = ADVICE_NO_TRITON()
        elif (mps := MPS_DTYPE_RE.search(f.error)) is not None:
            dtype = mps.group(1)
            item = ADVICE_MPS_FP8(dtype=dtype) if dtype.startswith("Float8") else ADVICE_MPS_DTYPE(dtype=dtype)
        elif XPU_BLOCK_LIMIT in f.error:
            item = ADVICE_XPU_BLOCK()
        elif any(f.error.startswith(e) or f": {e}" in f.error for e in AIMDO_ERRORS):
            item = ADVICE_AIMDO(error=clip(f.error, 60))
        elif (sticky := _sticky_cuda_error(f.error)) is not None:
            item = ADVICE_CUDA_STICKY(error=sticky)
        elif _client_gone(f):
            item = ADVICE_CLIENT_GONE(error=f.exc_type or "ConnectionResetError",
                                      where=facts.lines_ref(f.record.source, f.record.line))
        elif f.node and any(n in f.error for n in NETWORK_ERRORS):
            item = ADVICE_DOWNLOAD(node=f.node)
        elif f.module and "." in f.module:  # a part of a package that is there: nothing to pip install
            top = f.module.split(".")[0]
            where = (f"If it comes with `{f.node}`, re-install that node so its files are complete; if it is a pip "
                     "package, the node needs another version of it" if f.node else
                     "Re-install what brings it, or the version the code needs")
            item = ADVICE_MODULE_PART(module=f.module, package=top, where=where)
        elif (root := _root_module_advice(f)) is not None:
            item = root  # already first in the advice
        elif f.module:
            item = ADVICE_MODULE(package=package_of(f.module))
        elif f.node:
            unnamed = True
            if f.node in told_nodes:
                continue  # one line per node: the first of its exceptions to look up
            told_nodes.add(f.node)
            item = ADVICE_NODE(node=f.node, error=f.exc_type or clip(f.error, 60))
        else:
            unnamed = True
            continue
        if item not in advice:
            if causes == MAX_CAUSES:
                unnamed = True
                continue
            advice.append(item)
            causes += 1
    described = seen.described  # server.py get_object_info's failures
    missing = _no_file_advice(distinct)
    if missing is not None:
        advice.insert(0, missing)
    if unnamed and not seen.named:
        traced = next((g.traced for g in distinct if g.traced), None)
        advice.append(_frames_advice(traced) if traced is not None else ADVICE_READ())
    if not described and unnamed:
        advice.append(ADVICE_INPUTS())
    if described and not prompts:
        classes = dict.fromkeys(c for g in distinct for c in g.classes)
        more = any(g.more_classes for g in distinct) or any(seen.not_kept)
        title = (f"{'more than ' if more else ''}{plural(len(classes), 'node type')} could not be listed for the "
                 f"browser: {what}")
    harmless = seen.harmless
    if harmless:
        title = (f"Windows' asyncio logged {plural(count, 'connection')} the other end had closed, as "
                 f"`{first.exc_type}` (harmless)")
    figures: dict[str, object] = {
        "exceptions": count, "prompts": len(prompts),
        "failures": [{"node": g.first.node, "error": clip(g.first.error, 200), "count": g.count} for g in distinct[:5]]}
    if any(seen.not_kept):
        figures["failures_not_kept"] = sum(seen.not_kept)
    told = sum(g.count for g in listed) + listed_not_kept
    # "(N distinct)" only where some repeat: "1 exception (1 distinct)" said nothing more
    repeats = f" ({len(listed)} distinct)" if len(listed) != told else ""
    return [finding(
        "exception", title, "high",
        f"{plural(told, 'exception')}{_not_told_apart(len(listed), listed_not_kept) or repeats}: {shown}"
        + (". ComfyUI stops a prompt at the node that raised it." + _began_before(began_before, failed_prompts)
           if failed_prompts else
           ". ComfyUI raised them while it listed its node types for the browser (`/object_info`), not in a prompt: "
           "no prompt failed with them." if described else
           ". No prompt was running: it happened at start-up or in a background task, so no prompt failed with it.")
        + besides,
        advice,
        [ev for g in distinct for ev in g.evidence][:MAX_EVIDENCE],
        figures, facts.seconds_of(prompts), prompts,
        severity="info" if harmless else "warning" if described and not prompts else None, total=count)]


def _not_told_apart(kept: int, not_kept: int) -> str:
    """Past the failures a list keeps (MAX_FAILURES_KEPT): that there are more, and how many exceptions were only
    counted; "" for a list whose failures are all kept (every real log)."""
    if not not_kept:
        return ""
    return (f" (more than {kept} distinct: {plural(not_kept, 'exception')} past the first {kept} counted, not told "
            "apart)")


def _described_group(group: _Group) -> str:
    return _describe(group.first) + (f" ×{group.count}" if group.count > 1 else "")


def _sticky_cuda_error(error: str) -> str | None:
    """The CUDA error after which the process can do no more CUDA work (`an illegal memory access`, YanWenKun/
    ComfyUI-Docker #195: the service failed every prompt until the container restarted), as PyTorch named it."""
    if CUDA_ERROR not in error:
        return None
    said = error.split(CUDA_ERROR, 1)[1].strip()
    return next((f"{CUDA_ERROR}{e}" for e in STICKY_CUDA_ERRORS if said.startswith(e)), None)


def _client_gone(f: Failure) -> bool:
    """asyncio's report of a connection the other end closed first (039 line 1076, Windows): no failure."""
    return bool(f.frames) and f.frames[-1] == CLIENT_GONE_FRAME and f.exc_type in CLIENT_GONE_ERRORS


def _file_place(facts: Facts, f: Failure) -> str:
    """Which node read the file and from which models folder, as the log says (042: the worker's `Execution error
    received: Node Type: UNETLoader, Node ID: 28`, `load_unet`'s folders, linked to `/runpod-volume/models/unet`)."""
    end = f.record.end_line or f.record.line
    echoed = next((ev for ev in facts.between(EventKind.ERROR_LINE, f.record.source, end, end + MAX_ECHO_LINES)
                   if ev.fields.get("error") == "execution" and ev.fields.get("node_type")), None)
    loader = next((frame for frame in reversed(f.frames) if frame.rsplit(":", 1)[-1] in LOADER_FOLDERS), None)
    where = ""
    if echoed is not None:
        where = (f" that `{echoed.fields['node_type']}` (node {echoed.fields.get('node_id', '?')}, "
                 f"{facts.lines_ref(echoed.source, echoed.line)}) loads")
    elif loader is not None:
        where = f" that `{loader}` loads"
    if loader is None:
        return where
    folders = LOADER_FOLDERS[loader.rsplit(":", 1)[-1]]
    run = facts.run_at(f.record.source, f.record.line)
    paths = [ev for ev in (facts.run_events(EventKind.EXTRA_SEARCH_PATH, run) if run is not None else [])
             if ev.fields.get("folder") in folders]
    named = " or ".join(f"`models/{folder}`" for folder in folders)
    if paths:
        linked = " and ".join(f"`{ev.fields['path']}` ({facts.lines_ref(ev.source, ev.line)})" for ev in paths[:2])
        return f"{where or ' loaded'} from {named}, here {linked},"
    return f"{where or ' loaded'} from {named}"


def _missing_input(f: Failure) -> str | None:
    """An input file a loader node could not open (009: LoadImage's ``input\\image.png``)."""
    found = NO_SUCH_FILE_RE.search(f.error) if f.exc_type == "FileNotFoundError" else None
    loader = next((frame for frame in reversed(f.frames) if frame.endswith(INPUT_LOADERS)), None)
    if found is None or loader is None:
        return None
    return ADVICE_NO_INPUT_FILE(loader=loader, file=f"`{_quoted_path(found.group(1))}`")


def _quoted_path(text: str) -> str:
    """A path as an error message quotes it (a repr: Windows' backslashes doubled) as the user typed it, clipped."""
    return clip(text.replace("\\\\", "\\"), 160)


def _missing_folder(f: Failure) -> str | None:
    """An image folder VideoHelperSuite's Load Images could not find, or found empty (016 line 273:
    ``Directory 'ComfyUI/input/images cannot be found.``): the workflow's input, not the node's fault."""
    found = NO_FOLDER_RE.search(f.error) if f.exc_type == "FileNotFoundError" else None
    loader = next((frame for frame in reversed(f.frames) if frame.endswith(FOLDER_LOADERS)), None)
    if found is None or loader is None:
        return None
    folder = _quoted_path(found.group("missing") or found.group("empty"))
    if found.group("empty") is not None:
        return ADVICE_NO_INPUT_FOLDER(loader=loader, found=f"found no files in `{folder}`", what="that is empty",
                                      fix="Put the images in it, or give the node the folder that holds them")
    relative = not folder.startswith(("/", "\\")) and not re.match(r"^[A-Za-z]:", folder)
    fix = "Create it and put the images in it, or give the node a folder that exists" + (
        " (a relative path like this one is read from the folder ComfyUI was started in, not from ComfyUI's `input` "
        "folder)" if relative else "")
    return ADVICE_NO_INPUT_FOLDER(loader=loader, found=f"could not find `{folder}`", what="that is not there", fix=fix)


def _no_permission(f: Failure) -> str | None:
    """A file the system refused to open (016 line 225: `nodes.py:save_images` writing into ComfyUI's `temp`)."""
    found = PERMISSION_RE.search(f.error) if f.exc_type == "PermissionError" else None
    if found is None:
        return None
    return ADVICE_NO_PERMISSION(path=_quoted_path(found.group(1)))


def _cuda_on_cpu(facts: Facts, f: Failure) -> str | None:
    """A CUDA error in a run on the CPU: the node (or a library under it) took the GPU that ``--cpu`` left to PyTorch
    (008: Impact-Pack's ultralytics detector, `weights.to(device)` with ultralytics' default device, after 5:36 h of
    sampling on the CPU). ComfyUI's ``--cpu`` sets only its own model management's device."""
    run = facts.run_at(f.record.source, f.record.line)
    if run is None or not on_cpu(run):
        return None
    state = next((ev for ev in facts.run_events(EventKind.VRAM_STATE, run) if ev.fields.get("state") == "DISABLED"),
                 None)
    where = f", vram state DISABLED on {facts.lines_ref(state.source, state.line)}" if state is not None else ""
    return ADVICE_CUDA_ON_CPU(
        where=where, who=f"`{f.node}` (or a library it calls)" if f.node else "the code that failed",
        error=clip(f.error.split(CUDA_ERROR, 1)[1].strip(), 80),
        windows=WINDOWS_HIDE_GPU if platform_of(facts, run) == "windows" else "")


def _no_file_advice(groups: list[_Group]) -> str | None:
    """One advice for every loader that got no path for its file, with the file the prompt's validation refused
    it where that says (016: `ipadapter_file: 'ip-adapter-plus_sd15.bin'`, `control_net_name: …`)."""
    callers: dict[str, str] = {}
    for group in groups:
        for caller, refused in group.callers.items():
            if not callers.get(caller):
                callers[caller] = refused
    if not callers:
        return None
    named = "; ".join(f"`{caller}`" + (f" ({refused})" if refused else "") for caller, refused in callers.items())
    return ADVICE_NO_FILE(callers=named)


def _no_file_caller(f: Failure) -> str | None:
    """The loader that called ``load_torch_file`` with no path (``IPAdapterPlus.py:load_ipadapter_model``), when
    that is the failure: ComfyUI's file lookup returns None for a name it does not find (016)."""
    if NO_FILE_ERROR not in f.error or not f.frames or not f.frames[-1].endswith(NO_FILE_FRAME):
        return None
    return f.frames[-2] if len(f.frames) > 1 else f.frames[-1]


def _refused_file(facts: Facts, record: ErrorRecord, caller: str) -> str:
    """The file the prompt's own validation refused for that loader's input (``load_controlnet`` reads
    ``control_net_name``), as a sentence; "" when its validation names none for it."""
    prompt = next(iter(facts.prompts_by_index([record.prompt])), None) if record.prompt is not None else None
    if prompt is None:
        return ""
    stem = caller.rsplit(":", 1)[-1].removeprefix("load_").split("_")[0].replace("_", "")
    stem = INPUT_STEMS.get(stem, stem)
    if not stem:
        return ""
    for ev in facts.between(EventKind.VALIDATION_DETAIL, record.source, prompt.line, record.line):
        detail = str(ev.fields.get("detail") or "")
        name, _, value = detail.partition(": ")
        if ev.fields.get("reason") == "Value not in list" and name.replace("_", "").startswith(stem):
            refused = value.split(" not in ", 1)[0]
            where = facts.lines_ref(ev.source, ev.line)
            return f"{where}: its prompt's validation refused `{name}: {clip(refused, 120)}`"
    return ""


def _root_module_advice(f: Failure) -> str | None:
    """A chain of exceptions that began with a missing top-level module: what to install (a part of a
    package, ``a.b``, is no package to install: ADVICE_MODULE_PART says so instead)."""
    if f.module and f.cause and "." not in f.module:
        return ADVICE_ROOT_MODULE(cause=clip(f.cause, 120), package=package_of(f.module))
    return None


def _worker_death_lines(facts: Facts) -> tuple[int, int, int] | None:
    """(source, first line, last line) of the traceback under the prompt worker's death, if the log shows one."""
    died = worker_death(facts)
    traceback = worker_death_traceback(facts, died[0]) if died is not None else None
    if traceback is None:
        return None
    return traceback.source, traceback.line, traceback.end_line or traceback.line


def _reported_node(facts: Facts, e: ErrorRecord) -> bool:
    """The exception of a "ComfyUI Error Report" header that names the node it failed in (``- **Node Type:**
    KSampler``): the frontend writes such a report for a prompt's execution error, so a prompt failed there, though
    its ``got prompt`` is not in the log (field9 09, 10, 15). The report of a prompt refused before it ran says
    ``N/A``."""
    node = facts.report.sources[e.source].report_fields.get("node_type")
    return bool(node) and node != "N/A" and e.message.endswith(f" (node {node})")


def _began_before(before_log: int, failed: int) -> str:
    """What the why says of failed prompts whose ``got prompt`` is before the log (a pasted excerpt that starts
    inside them: their `!!! Exception during processing !!!`, which ComfyUI prints only for a node of a running
    prompt, or their work, comes before any prompt line)."""
    if not before_log:
        return ""
    which = "Its" if failed == 1 else "All their" if before_log == failed else f"{before_log} of their"
    one = before_log == 1
    return (f" {which} `got prompt` {'is' if one else 'are'} before the log starts: the log starts inside "
            f"{'it' if one else 'them'}.")


@dataclass
class Failure:
    """One exception: the record, the node it failed in (if a frame shows it), ``Type: message``."""

    record: ErrorRecord
    node: str | None
    error: str
    exc_type: str | None
    cuda_only: bool
    module: str | None
    #: The exception the chain began with, when it is not the one shown (a missing module wrapped in the node's own).
    cause: str | None = None
    #: The innermost frame of its traceback (``ops.py:run_every_op``), when the code it failed in is known.
    frame: str | None = None
    #: Its traceback's innermost frames, ``FILE:FUNCTION``.
    frames: tuple[str, ...] = ()
    #: The node type ComfyUI was describing to the browser when it raised (server.py get_object_info).
    node_class: str | None = None
    #: The library ``frame`` is in, when its path shows one (``transformers``).
    library: str | None = None


def _failure(facts: Facts, record: ErrorRecord) -> Failure:
    end = record.end_line or record.line
    tracebacks = [ev for ev in facts.between(EventKind.TRACEBACK, record.source, record.line, end)
                  if event_line(ev)[0] <= end]
    tb: Event | None = tracebacks[-1] if tracebacks else None
    node = next((str(ev.fields["custom_node"]) for ev in reversed(tracebacks) if ev.fields.get("custom_node")), None)
    exc_type = str(tb.fields["exception_type"]) if tb is not None and tb.fields.get("exception_type") else None
    message = record.message
    if exc_type and not message.startswith(exc_type):
        tb_message = str(tb.fields.get("message") or "") if tb is not None else ""
        message = f"{exc_type}: {tb_message or message}"
    # an error report's header has no traceback: its exception's type is the message's first word (field9 15)
    module = (missing_module(message) if exc_type == "ModuleNotFoundError"
              or (exc_type is None and message.startswith("ModuleNotFoundError: ")) else None)
    cause = None
    causes = [str(c) for c in tb.fields.get("causes", [])] if tb is not None else []
    if module is None and causes and causes[0].startswith("ModuleNotFoundError:"):
        cause, module = causes[0], missing_module(causes[0])
    cuda_only = any(ev.fields.get("cuda_call") for ev in tracebacks) or "not compiled with CUDA" in message
    frames = [str(f) for f in tb.fields.get("frames", [])] if tb is not None else []
    inner = innermost_caller(frames)
    described = next((str(ev.fields["node_class"]) for ev in facts.between(
        EventKind.ERROR_LINE, record.source, record.line - 1, record.line)
        if ev.fields.get("error") == "object_info" and ev.fields.get("node_class")), None)
    return Failure(record, node, message, exc_type, cuda_only, module,
                   cause if module else None, inner if TORCH_API.search(message) else None, tuple(frames),
                   described, caller_owner(tb.fields) if tb is not None else None)


#: Distinct failures (a node and its error) the rule tells apart in each of its two lists, of prompts and outside
#: any prompt; the exceptions of others are counted, not told apart (the figures' ``failures_not_kept``): real logs
#: show a few (the corpus at most 6), a generated one 300,000 distinct messages, every one of which the rule held.
MAX_FAILURES_KEPT = 100
#: Node types one failure of ComfyUI's `/object_info` keeps, at most (real logs: one pack's tens).
MAX_CLASSES_KEPT = 100
#: Loaders with no path for their file one failure keeps, at most (real logs: one to three).
MAX_CALLERS_KEPT = 20


class _Group:
    """The failures of one node and error: the first, how many, and what the finding reads of them all, folded
    as they come (the failures themselves are not kept)."""

    __slots__ = ("first", "count", "in_prompt", "evidence", "classes", "more_classes", "traced", "callers")

    def __init__(self, first: Failure) -> None:
        self.first = first
        self.count = 0
        #: Some failure of it is of a prompt (one of the log's, or one whose start is before the log).
        self.in_prompt = False
        #: The evidence of its first MAX_EVIDENCE failures (the finding cites the first groups' first failures).
        self.evidence: list[Evidence] = []
        #: The node types ComfyUI was describing when they raised, in log order (MAX_CLASSES_KEPT; ``more_classes``
        #: past them).
        self.classes: dict[str, None] = {}
        self.more_classes = False
        #: The frames of its first failure with a traceback.
        self.traced: tuple[str, ...] = ()
        #: Loaders that got no path for their file, with the file a prompt's validation refused (the first said).
        self.callers: dict[str, str] = {}


class _Failures:
    """The rule's failures grouped by (node, error) in one pass over the records: the first MAX_FAILURES_KEPT groups
    of each list in log order, the exceptions of later ones counted; what the finding says of them all is folded."""

    def __init__(self) -> None:
        self.groups: dict[tuple[str | None, str], _Group] = {}
        self.count = 0
        self._kept = [0, 0]  # groups made, by list: outside any prompt, of prompts
        #: Exceptions of groups past MAX_FAILURES_KEPT, by list: outside any prompt, of prompts.
        self.not_kept = [0, 0]
        #: Every failure is ComfyUI's describing a node type to the browser (server.py get_object_info).
        self.described = True
        #: Some failure names a custom node, the code it failed in or a node type.
        self.named = False
        #: Every failure is asyncio's report of a connection the other end closed.
        self.harmless = True
        #: A failure past the groups kept ran on a Mac (the kept groups' first failures are asked at the end).
        self.mac = False

    def add(self, facts: Facts, f: Failure, in_prompt: bool) -> None:
        self.count += 1
        self.described = self.described and bool(f.node_class)
        self.named = self.named or bool(f.node or f.frame or f.node_class)
        self.harmless = self.harmless and _client_gone(f)
        key = (f.node, f.error)
        group = self.groups.get(key)
        if group is None:
            if self._kept[in_prompt] == MAX_FAILURES_KEPT:
                self.not_kept[in_prompt] += 1
                self.mac = self.mac or platform_of(facts, facts.run_at(f.record.source, f.record.line)) == "mac"
                return
            self._kept[in_prompt] += 1
            group = self.groups[key] = _Group(f)
        group.count += 1
        group.in_prompt = group.in_prompt or in_prompt
        if len(group.evidence) < MAX_EVIDENCE:
            group.evidence.append(_error_evidence(facts, f.record))
        if f.node_class and f.node_class not in group.classes:
            if len(group.classes) < MAX_CLASSES_KEPT:
                group.classes[f.node_class] = None
            else:
                group.more_classes = True
        if f.frames and not group.traced:
            group.traced = f.frames
        caller = _no_file_caller(f)
        if caller is not None and not group.callers.get(caller) and (
                caller in group.callers or len(group.callers) < MAX_CALLERS_KEPT):
            group.callers[caller] = _refused_file(facts, f.record, caller)


def _frames_advice(frames: tuple[str, ...]) -> str:
    """What a traceback without a custom node's frame shows: where it ended, and whose code that may be."""
    shown = list(dict.fromkeys(f for f in reversed(frames) if not f.startswith(TORCH_FRAMES)))[:MAX_FRAMES_SHOWN]
    named = " ← ".join(f"`{f}`" for f in shown) or f"`{frames[-1]}`"
    frozen = next((f.split(":", 1)[0] for f in shown if f.startswith("<frozen ") and "importlib" not in f), None)
    hint = (f"`{frozen}` is code loaded without a file, so the traceback cannot say where it comes from: custom "
            "nodes load such code, so look for the node that installs it" if frozen else
            "Their paths in the traceback say whose code that is: ComfyUI's (`comfy/`), a library's "
            "(`site-packages/`) or a custom node's")
    return ADVICE_FRAMES(frames=named, hint=hint)


def _torch_api(facts: Facts, f: Failure) -> str | None:
    """Advice for code that uses a PyTorch function the installed PyTorch lacks."""
    return torch_api_advice(f.error, facts.run_at(f.record.source, f.record.line), f.node, f.frame,
                            f.library if f.frame else None)


def _models_loaded(facts: Facts, record: ErrorRecord) -> str:
    """What the failing prompt loaded to sample and to encode its text, as words for ADVICE_SHAPES: `` (this prompt
    loaded `Lumina2` to sample, with the text encoder `FluxClipModel_`)`` (037: a 4096-wide Flux encoding into
    Z-Image's 2560-wide model); "" when it loaded neither."""
    prompt = next(iter(facts.prompts_by_index([record.prompt])), None) if record.prompt is not None else None
    if prompt is None:
        return ""
    names = list(dict.fromkeys(ld.model for ld in facts.loads_of(prompt) if ld.model))
    sampling = [n for n in names if samples(n)]
    encoders = [n for n in names if encodes_text(n)]
    said = ", ".join(f"`{n}`" for n in sampling) + (" to sample" if sampling and encoders else "")
    if encoders:
        said += (", with " if said else "") + ("the text encoder " if len(encoders) == 1 else "the text encoders ")
        said += ", ".join(f"`{n}`" for n in encoders)
    return f" (this prompt loaded {said})" if said else ""


def _node_types(classes: list[str], more: bool = False) -> str:
    """```controlaux_hed`, `controlaux_midas` and 13 more node types`` (a node type when one); ``more``: past
    the node types a failure keeps (MAX_CLASSES_KEPT), which are the first of more."""
    if more:
        shown = ", ".join(f"`{c}`" for c in classes[:MAX_CLASSES])
        return f"more than {len(classes)} node types ({shown} and more)"
    shown = listing((f"`{c}`" for c in classes[:MAX_CLASSES]), len(classes), ", ")
    return f"the node type {shown}" if len(classes) == 1 else f"{len(classes)} node types ({shown})"


def _describe(f: Failure) -> str:
    missing = " (a missing model file)" if _no_file_caller(f) is not None else ""
    return f"`{clip(f.error, 100)}`{missing}" + (f" in custom node `{f.node}`" if f.node else "")


def _error_evidence(facts: Facts, record: ErrorRecord) -> Evidence:
    """The line that says what failed: the ``!!! Exception`` line, else the traceback's last line."""
    end = record.end_line or record.line
    candidates = [ev for kind in (EventKind.EXCEPTION, EventKind.TRACEBACK)
                  for ev in facts.between(kind, record.source, record.line, end) if event_line(ev)[0] <= end]
    telling = [ev for ev in candidates if record.message[:60] in event_line(ev)[1]]
    if telling or candidates:
        return facts.cite_event((telling or candidates)[0])
    return facts.cite(record.source, record.line, record.message)
