"""Typed events: what the parser makes of the lines that matter."""

from __future__ import annotations

from dataclasses import field
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from .dataclass import dataclass


class Phase(str, Enum):
    """What a stretch of wall time was spent on. Every second of a prompt gets exactly one."""

    LOAD = "load"
    INFERENCE = "inference"
    WAIT = "wait"
    OTHER = "other"


class EventKind(str, Enum):
    # start-up facts
    CUDA_BANNER = "cuda_banner"
    CUDA_VERSION = "cuda_version"
    MANAGER_STARTUP = "manager_startup"
    WORKER_STARTING = "worker_starting"
    TOTAL_VRAM = "total_vram"
    VRAM_STATE = "vram_state"
    DEVICE = "device"
    PYTORCH_VERSION = "pytorch_version"
    COMFYUI_VERSION = "comfyui_version"
    IMPORT_HEADER = "import_header"
    IMPORT_TIME = "import_time"
    SERVER_STARTING = "server_starting"
    SERVER_READY = "server_ready"
    SERVER_STOPPED = "server_stopped"
    GPU_MEMORY = "gpu_memory"
    #: A setting of the run's memory set-up (dynamic VRAM, pinned memory, attention...): Run.setup.
    RUN_SETTING = "run_setting"
    # prompts
    PROMPT_RECEIVED = "prompt_received"
    PROMPT_EXECUTED = "prompt_executed"
    OUTPUT_INVALID = "output_invalid"
    PROMPT_INVALID = "prompt_invalid"
    EXCEPTION = "exception"
    INTERRUPTED = "interrupted"
    # model loading
    LOAD_REQUESTED = "load_requested"
    LOADED_COMPLETELY = "loaded_completely"
    LOADED_PARTIALLY = "loaded_partially"
    LOWVRAM_MODE = "lowvram_mode"
    LOWVRAM_MODULES = "lowvram_modules"
    LOAD_DETAIL = "load_detail"
    LOAD_BATCH = "load_batch"
    GGUF_QTYPES = "gguf_qtypes"
    VIDEO_SAMPLING = "video_sampling"
    VIDEO_MEMORY = "video_memory"
    DYNAMIC_LOAD = "dynamic_load"
    CACHE_EVICTION = "cache_eviction"
    MEMORY_LEAK = "memory_leak"
    # progress
    PROGRESS_BAR = "progress_bar"
    # RunPod / worker-comfyui
    WS_TIMEOUT = "ws_timeout"
    WS_CONNECTED = "ws_connected"
    WS_RECONNECT = "ws_reconnect"
    WORKER_API = "worker_api"
    WS_LOST = "ws_lost"
    JOB_QUEUED = "job_queued"
    JOB_QUEUE = "job_queue"
    NETWORK_VOLUME = "network_volume"
    JOB_STARTED = "job_started"
    JOB_FINISHED = "job_finished"
    # ComfyUI-Manager installing a node pack or its dependencies (Run.install_s)
    NODE_INSTALL = "node_install"
    # failures
    OOM = "oom"
    TRACEBACK = "traceback"
    ERROR_LINE = "error_line"
    #: The process aborted on a native error (C++ terminate, Fatal Python error): nothing after it runs.
    CRASH = "crash"
    #: PyTorch's ``... with CUDA capability sm_120 is not compatible with the current PyTorch installation.``
    #: and the architectures it lists after it: the installed build has no kernels for the GPU.
    GPU_UNSUPPORTED = "gpu_unsupported"
    # facts only rules read (informational, kept as notable events)
    EXTRA_SEARCH_PATH = "extra_search_path"
    ALLOC_CONF = "alloc_conf"
    OOM_MEMORY = "oom_memory"
    EXTENSION_MISMATCH = "extension_mismatch"
    TORCH_NOT_INSTALLED = "torch_not_installed"
    #: A package manager's record of installing PyTorch (uv's `` + torch==2.11.0``, pip's ``Successfully installed ...
    #: torch-2.11.0 ...``), inside a ComfyUI-Manager install or a start script.
    PACKAGE_INSTALLED = "package_installed"
    #: NumPy 2's ``A module that was compiled using NumPy 1.x cannot be run in`` / ``NumPy 2.2.6 as it may crash``,
    #: and PyTorch's ``Failed to initialize NumPy: _ARRAY_API not found``: a module built for another NumPy.
    NUMPY_MISMATCH = "numpy_mismatch"
    VALIDATION_DETAIL = "validation_detail"
    UNHANDLED_OUTPUT = "unhandled_output"
    HANDLER_OUTPUT = "handler_output"
    VIDEO_SEQ_LEN = "video_seq_len"
    LORA_KEY_MISSED = "lora_key_missed"
    #: ``IMPORT FAILED: nodes_latent.py``: one of ComfyUI's own node files (comfy_extras/) did not import.
    BUILTIN_IMPORT_FAILED = "builtin_import_failed"
    #: ``[Qwen3-TTS] Loading local model: …``: a custom node loading (or unloading) a model of its own,
    #: outside ComfyUI's model management, which can neither count nor unload its VRAM.
    NODE_MODEL = "node_model"
    #: ``Failed to execute startup-script: PATH / REASON``: a custom node's prestartup script raised (main.py).
    PRESTARTUP_FAILED = "prestartup_failed"
    #: A custom node's annotator checkpoint, about to be loaded (comfyui_controlnet_aux's ``model_path is PATH``).
    NODE_CHECKPOINT = "node_checkpoint"
    #: A request to stop the running prompt reached ComfyUI's server (server.py's ``post_interrupt``, POST
    #: /interrupt: ``Interrupting prompt <id>``, ``Global interrupt (no prompt_id specified)``): who asked for an
    #: interruption, where the log says it. ``stops`` false: it named a prompt not running, nothing stopped.
    INTERRUPT_REQUEST = "interrupt_request"
    #: tqdm's `` ... (more hidden) ...`` in place of a bar drawn below the console's last row: a bar ran, unseen.
    HIDDEN_BAR = "hidden_bar"
    #: A line another thread prints while a prompt runs (ComfyUI-Manager's ``FETCH ComfyRegistry Data: 5/117``):
    #: it says nothing of what the prompt is doing. The parser makes no event of it and no activity: the time
    #: before it goes to the line after it (044: it cut a checkpoint's 37 s load into seconds of "other").
    BACKGROUND = "background"


@dataclass(slots=True)
class Event:
    """One thing the log said, at ``line`` of ``source`` (1-based), with its time if the line had one."""

    kind: EventKind
    line: int
    ts: datetime | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    source: int = 0
    #: Last line the event covers (tracebacks, progress bars, runs of lowvram module lines).
    end_line: int = 0
    end_ts: datetime | None = None

    def __post_init__(self) -> None:
        if not self.end_line:
            self.end_line = self.line

#: A clock that goes back by more than this is another clock, not two writers a moment apart: logs
#: joined out of order (``cat comfyui.log comfyui.prev.log``, ComfyUI's own rotation names), a
#: container's clock after the host's. The parser's activity times follow it from there instead of
#: being held at the later time (which put a whole run's work outside its prompts), and a start-up
#: whose clock begins that far before the run before it ended is no restart of it. No log of the
#: corpus or the field rounds goes back by more than a second (stop 31).
CLOCK_RESET = timedelta(seconds=60)


@dataclass(slots=True)
class Activity:
    """A run of consecutive timestamped lines whose work belongs to one phase.

    The segmenter paints wall time from these: the gap before a line is spent on that line's work.
    Wait runs are kept one line each, because each timeout line accounts for its own 10 seconds.
    """

    phase: Phase
    first_ts: datetime
    last_ts: datetime
    first_line: int
    last_line: int
    source: int = 0
    resolution: float = 0.0
