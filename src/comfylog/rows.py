"""The report as rows: the tables of ``--format json`` (schema in the README), defined once.

The JSON writer (render/json.py) writes these rows one at a time; the export (export.py) flattens
the same rows into CSV, JSON Lines and Parquet tables. Times go through ``text.iso``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from .events import EventKind
from .index import index_of
from .model import ErrorRecord, Finding, Load, ProgressBar, Prompt, Report, Run
from .text import iso

SCHEMA_VERSION = 2


def report_tables(report: Report) -> dict[str, Any]:
    """The JSON object, its tables as iterators: each row is made when it is written (write_json)."""
    s = report.summary
    return {
        "schema_version": SCHEMA_VERSION,
        "sources": (
            {
                "name": src.name,
                "lines": src.lines,
                "timestamp_styles": src.timestamp_styles,
                "markdown": src.markdown,
                "newest_first": src.newest_first,
                "first_at": iso(src.first_at),
                "last_at": iso(src.last_at),
                "span_s": src.span_s,
                "replaced_bytes": src.replaced_bytes,
                "skipped_lines": src.skipped_lines,
                "truncated_lines": src.truncated_lines,
                "repaired_mojibake": src.repaired_mojibake,
                "report_fields": src.report_fields,
                "dropped_bytes": src.dropped_bytes,
                "stopped": src.stopped,
                # only where the clock goes back (logs joined out of order): other logs' JSON is as it was
                **({"clock_back_line": src.clock_back_line} if src.clock_back_line is not None else {}),
            }
            for src in report.sources
        ),
        "summary": {
            "got_prompt": s.got_prompt,
            "executed": s.executed,
            "partial_loads": s.partial_loads,
            "lowvram": s.lowvram,
            "lowvram_module_loads": s.lowvram_module_loads,
            "ws_timeouts": s.ws_timeouts,
            "restarts": s.restarts,
            "errors": s.errors,
            "span_s": s.span_s,
            "inputs_in_time_order": s.inputs_in_time_order,
            "skipped_lines": s.skipped_lines,
            "replaced_bytes": s.replaced_bytes,
            # only where a prompt requested more models than it lists (a hostile log): real logs' JSON is as it was
            **({"models_not_listed": s.models_not_listed} if s.models_not_listed else {}),
        },
        "runs": (run_row(r) for r in report.runs),
        "prompts": (prompt_row(p) for p in report.prompts),
        "progress_bars": (bar_row(b) for b in report.progress_bars),
        "loads": (load_row(ld) for ld in report.loads),
        "errors": (error_row(e) for e in report.errors),
        # only where the log holds a request to stop or cancel a prompt: other logs' JSON is as it was
        **({"interrupt_requests": iter(requests)} if (requests := interrupt_request_rows(report)) else {}),
        "findings": (finding_row(f) for f in report.findings),
    }


def run_row(r: Run) -> dict[str, Any]:
    """One row of the ``runs`` table."""
    return {
        "index": r.index,
        "source": r.source,
        "restart": r.restart,
        "started_at": iso(r.started_at),
        "ended_at": iso(r.ended_at),
        "gpu": r.gpu,
        "total_vram_mb": r.total_vram_mb,
        "total_ram_mb": r.total_ram_mb,
        "vram_state": r.vram_state,
        "vram_states": r.vram_states,
        "comfyui_version": r.comfyui_version,
        "pytorch_version": r.pytorch_version,
        "ready_at": iso(r.ready_at),
        "startup_s": r.startup_s,
        "prestartup_s": r.prestartup_s,
        "import_s": r.import_s,
        **({"imports_not_kept": r.imports_not_kept} if r.imports_not_kept else {}),
        "api_ready_at": iso(r.api_ready_at),
        "setup": r.setup,
        "idle_s": r.idle_s,
        "outside_s": r.outside_s,
        "install_s": r.install_s,
        "span_s": r.span_s,
        "first_line": r.first_line,
        "last_line": r.last_line,
    }


def prompt_row(p: Prompt) -> dict[str, Any]:
    """One row of the ``prompts`` table."""
    return {
        "index": p.index,
        "run": p.run,
        "source": p.source,
        "got_at": iso(p.got_at),
        "started_at": iso(p.started_at),
        "ended_at": iso(p.ended_at),
        "status": p.status,
        "received": p.received,
        "executed_s": p.executed_s,
        "total_s": p.total_s,
        "phases": p.phases.as_dict(),
        "not_timed": p.not_timed,
        "estimated": p.estimated,
        "prompt_id": p.prompt_id,
        "cold": p.cold,
        "memory": p.memory,
        "first_line": p.line,
        "last_line": p.last_line,
    }


def bar_row(b: ProgressBar) -> dict[str, Any]:
    """One row of the ``progress_bars`` table."""
    return {
        "prompt": b.prompt,
        "source": b.source,
        "label": b.label,
        "kind": b.kind.value,
        "total": b.total,
        "done": b.done,
        "final_rate": b.final_rate,
        "rate_unit": b.rate_unit,
        "elapsed_s": b.elapsed_s,
        "started_at": iso(b.start),
        "line": b.line,
    }


def load_row(ld: Load) -> dict[str, Any]:
    """One row of the ``loads`` table."""
    return {
        "prompt": ld.prompt,
        "source": ld.source,
        "model": ld.model,
        "kind": ld.kind,
        "usable_mb": ld.usable_mb,
        "loaded_mb": ld.loaded_mb,
        "staged_mb": ld.staged_mb,
        "line": ld.line,
    }


def error_row(e: ErrorRecord) -> dict[str, Any]:
    """One row of the ``errors`` table."""
    return {
        "prompt": e.prompt,
        "source": e.source,
        "kind": e.kind,
        "message": e.message,
        "line": e.line,
    }


def interrupt_request_rows(report: Report) -> list[dict[str, Any]]:
    """The ``interrupt_requests`` table: each request to stop or cancel a prompt that reached ComfyUI's server
    (server.py: /interrupt's `Interrupting prompt <id>`, `Global interrupt (no prompt_id specified)`, `Prompt <id> is
    not currently running, skipping interrupt`; the jobs API's `Cancelling running prompt <id>`, `Cancelling pending
    prompt <id>`), in line order, with the prompt it stopped (interrupted) or removed (dropped) as the notes under
    the prompt tables name it (ReportIndex.interrupt_requests, cancelled_pending); null where none is, or where
    several dropped prompts could be the one a cancel without their ids removed."""
    index = index_of(report)
    requests = index.events.get(EventKind.INTERRUPT_REQUEST)
    if not requests:
        return []
    owners: dict[tuple[int, int], list[int]] = {}
    for prompt in report.prompts:
        for ev in index.interrupt_requests(prompt) or index.cancelled_pending(prompt):
            owners.setdefault((ev.source, ev.line), []).append(prompt.index)
    rows = []
    for ev in sorted(requests, key=lambda e: (e.source, e.line)):
        owner = owners.get((ev.source, ev.line), [])
        rows.append({"source": ev.source, "line": ev.line, "request": ev.fields.get("pattern"),
                     "prompt_id": ev.fields.get("prompt_id"), "prompt": owner[0] if len(owner) == 1 else None})
    return rows


#: The tables whose rows the Rust segmenter also writes as JSON text (native/src/segment/jsonrows.rs),
#: by key (the Report's attribute of the same name), with the row each record makes here.
ROW_OF: dict[str, Callable[[Any], dict[str, Any]]] = {
    "prompts": prompt_row, "progress_bars": bar_row, "loads": load_row, "errors": error_row,
}


def finding_row(f: Finding) -> dict[str, Any]:
    """One row of the ``findings`` table."""
    return {
        "source": f.evidence[0].source if f.evidence else 0,
        "id": f.id,
        "severity": f.severity,
        "title": f.title,
        "confidence": f.confidence,
        "why": f.why,
        "advice": f.advice,
        "cost_s": round(f.cost_s, 3),
        "prompts": f.prompts,
        "figures": f.figures,
        "evidence": [{"line": e.line, "text": e.text, "source": e.source} for e in f.evidence],
    }


def report_to_dict(report: Report) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, Iterator) else v for k, v in report_tables(report).items()}
