"""The rules, one module each; importing them registers them in RULES, in the catalog's order.

CATALOG is that order: the README's rules table, and the tie-break between findings that explain
the same time. A rule module not listed there (or listed twice) fails at import.
"""

from ..engine import order_catalog
from . import (  # noqa: F401  (imported to register the rules)
    cpu_only,
    crash,
    debug_logging,
    exception,
    gguf,
    handler_error,
    import_failed,
    lowvram,
    lowvram_forced,
    oom,
    oom_suspected,
    output_dropped,
    reload_thrash,
    restart_loop,
    slow_import,
    slow_load,
    slow_prestartup,
    startup_failed,
    torch_mismatch,
    unfinished,
    validation_failed,
    ws_wait,
)

CATALOG = (
    "lowvram", "lowvram-forced", "cpu-only", "gguf", "slow-load", "reload-thrash", "oom", "oom-suspected",
    "startup-failed", "restart-loop", "unfinished", "crash", "exception", "validation-failed", "handler-error",
    "output-dropped", "torch-mismatch", "import-failed", "slow-prestartup", "slow-import", "ws-wait",
    "debug-logging",
)
order_catalog(CATALOG)
