"""The rules, one module each; importing them registers them in RULES, in the catalog's order.

CATALOG is that order: the README's rules table, and the tie-break between findings that explain
the same time. A rule module not listed there (or listed twice) fails at import.
"""

from ..engine import order_catalog
from . import (  # noqa: F401  (imported to register the rules)
    cold_after_oom,
    cold_start,
    comfyui_died,
    comfyui_killed,
    container_ram,
    cpu_only,
    crash,
    debug_logging,
    desktop_exited,
    dynamic_vram_failed,
    dynamic_vram_flag,
    exception,
    first_load,
    gguf,
    gpu_fault,
    gpu_unsupported,
    handler_error,
    import_failed,
    local_api,
    lora_mismatch,
    lowvram,
    lowvram_forced,
    numpy_mismatch,
    oom,
    oom_suspected,
    output_dropped,
    pinned_memory,
    prestartup_failed,
    prompt_worker_died,
    reload_thrash,
    restart_loop,
    result_not_returned,
    slow_import,
    slow_load,
    slow_prestartup,
    slow_startup,
    slow_steps,
    staging_overcommit,
    startup_failed,
    torch_mismatch,
    torch_replaced,
    unfinished,
    vae_tiled_retry,
    validation_failed,
    worker_unhealthy,
    ws_wait,
)

CATALOG = (
    "lowvram", "lowvram-forced", "dynamic-vram-flag", "dynamic-vram-failed", "cpu-only", "gguf", "slow-steps",
    "slow-load", "first-load", "pinned-memory-slow",
    "cold-after-oom", "reload-thrash", "staging-overcommit", "oom", "vae-tiled-retry", "oom-suspected",
    "container-ram", "gpu-fault", "gpu-unsupported", "worker-unhealthy", "local-api", "desktop-exited",
    "comfyui-killed", "comfyui-died", "startup-failed",
    "restart-loop", "prompt-worker-died", "unfinished", "crash", "exception",
    "validation-failed", "lora-mismatch", "handler-error", "result-not-returned", "output-dropped", "torch-mismatch",
    "torch-replaced",
    "numpy-mismatch", "import-failed", "prestartup-failed",
    "cold-start", "slow-startup", "slow-prestartup", "slow-import", "ws-wait", "debug-logging",
)
order_catalog(CATALOG)
