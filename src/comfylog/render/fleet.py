"""The fleet summary (``comfylog analyze DIR``) for the terminal (rich) and as JSON."""

from __future__ import annotations

import json
import re
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..fleet import FLEET_PERCENTILES, QUANTITIES, FleetSummary, LogSummary
from ..rows import SCHEMA_VERSION
from ..text import fmt_s, short_names
from .styles import SEVERITY_STYLE

#: Phases shown per log (``other`` is in the fleet-wide table).
ROW_QUANTITIES = ("total", "load", "inference", "wait")
#: Below this many columns the median and p95 of a cell go on two lines.
WIDE = 130
GPU_NOISE = re.compile(r"\b(NVIDIA|GeForce|AMD|Radeon|Intel|Generation|Graphics)\b|\((R|TM)\)")


def display_names(paths: list[str]) -> dict[str, str]:
    """Each log's short name (text.short_names), by its path."""
    return dict(zip(paths, short_names(paths), strict=True))


def render_fleet_terminal(fleet: FleetSummary, console: Console, limit: int = 40) -> None:
    parts = (_header(fleet), _logs(fleet, limit, console.width), _percentiles(fleet), _findings(fleet),
             _unusable(fleet))
    for part in parts:
        if part is not None:
            console.print(part)
            console.print()


def _header(fleet: FleetSummary) -> Text:
    t = fleet.totals
    text = Text()
    text.append("comfylog fleet ", style="bold")
    text.append(f"— {_count(t.logs, 'log')}")
    if t.unusable:
        text.append(f" ({t.unusable} unusable)", style="red")
    text.append(f", {_count(t.runs, 'run')}, {_count(t.restarts, 'restart')}, {_count(t.prompts, 'prompt')} ")
    text.append(f"({t.timed_prompts} with a total, {t.finished} finished), {_count(t.errors, 'error')}")
    return text


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _pair(log: LogSummary, quantity: str, joiner: str) -> str:
    if not log.prompt_seconds:
        return "—"
    return f"{fmt_s(log.median(quantity))}{joiner}{fmt_s(log.p95(quantity))}"


def short_gpu(gpu: str | None) -> str:
    """``RTX 4090`` for ``NVIDIA GeForce RTX 4090``: vendor and brand words cost columns, not meaning."""
    if not gpu:
        return "?"
    return re.sub(r"\s+", " ", GPU_NOISE.sub("", gpu)).strip() or gpu


def _machine(log: LogSummary) -> str:
    gpu = short_gpu(log.gpu)
    return f"{gpu} {log.total_vram_mb / 1024:.0f}G" if log.total_vram_mb else gpu


def _logs(fleet: FleetSummary, limit: int, width: int) -> Table:
    usable = fleet.usable
    names = display_names([log.path for log in usable])
    table = Table(
        title="Logs: prompts finished/received; seconds per prompt as median/p95 (~: from the log's own "
        "durations, no timestamps)",
        title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False,
    )
    wide = width >= WIDE
    joiner = "/" if wide else "\n"  # narrow terminals: median above p95, the machine under the log's name
    table.add_column("log" if wide else "log, machine", overflow="fold", ratio=1)
    if wide:
        table.add_column("machine", overflow="fold")
    table.add_column("prompts", justify="right", no_wrap=True)
    for quantity in ROW_QUANTITIES:
        table.add_column(quantity, justify="right", no_wrap=True)
    ids = {log.path: list(dict.fromkeys(f.id for f in log.findings)) for log in usable[:limit]}
    widest = max((len(i) for found in ids.values() for i in found), default=1)
    # one id a line, never broken inside: an id too wide for a narrow terminal is cut with an ellipsis
    table.add_column("findings", overflow="ellipsis", no_wrap=True, min_width=min(widest, 17))
    for log in usable[:limit]:
        prompts = f"{log.finished}/{log.prompts}" + ("~" if log.estimated else "")
        findings = Text("\n".join(ids[log.path]) or "—")
        cells = [_pair(log, q, joiner) for q in ROW_QUANTITIES]
        if wide:
            table.add_row(names[log.path], _machine(log), prompts, *cells, findings)
        else:
            name = Text(names[log.path])
            name.append("\n" + _machine(log), style="dim")
            table.add_row(name, prompts, *cells, findings)
    if len(usable) > limit:
        table.caption = f"{len(usable) - limit} more logs not shown (--limit, or --format json for all)"
    return table


def _percentiles(fleet: FleetSummary) -> Table | None:
    t = fleet.totals
    if not t.timed_prompts:
        return None
    everything = t.seconds["total"] or 1.0
    table = Table(title=f"Fleet-wide, over {t.timed_prompts} prompts", title_justify="left", box=box.SIMPLE_HEAD)
    table.add_column("seconds per prompt")
    for name, _ in FLEET_PERCENTILES:
        table.add_column(name, justify="right")
    table.add_column("sum", justify="right")
    table.add_column("share", justify="right")
    for quantity in QUANTITIES:
        row = fleet.percentiles[quantity]
        share = f"{100 * t.seconds[quantity] / everything:.0f}%"
        table.add_row(quantity, *(fmt_s(row[name]) for name, _ in FLEET_PERCENTILES), fmt_s(t.seconds[quantity]),
                      share)
    return table


def _findings(fleet: FleetSummary) -> Table | Text:
    if not fleet.common_findings:
        return Text("No findings in any log.", style="green")
    names = display_names([log.path for log in fleet.usable])
    table = Table(title="Most common findings (severity: the worst seen)", title_justify="left", box=box.SIMPLE_HEAD)
    for column in ("finding", "severity", "logs", "prompt time", "costliest case"):
        table.add_column(column, justify="right" if column in ("logs", "prompt time") else "left")
    for count in fleet.common_findings:
        example = Text(count.title)
        example.append(f" — {names.get(count.example_path, count.example_path)}", style="dim")
        table.add_row(count.id, Text(count.severity, style=SEVERITY_STYLE.get(count.severity, "")),
                      f"{count.logs} of {fleet.totals.logs}", fmt_s(count.cost_s), example)
    return table


def _unusable(fleet: FleetSummary) -> Text | None:
    if not fleet.unusable:
        return None
    text = Text("Not read as logs:\n", style="red")
    for log in fleet.unusable:
        text.append(f"  {log.unusable}\n")
    return text


def fleet_to_dict(fleet: FleetSummary) -> dict[str, Any]:
    """The fleet summary as JSON-ready data (schema in the README, "Many logs at once")."""
    t = fleet.totals
    return {
        "schema_version": SCHEMA_VERSION,
        "fleet": True,
        "logs": [
            {
                "path": log.path,
                "gpu": log.gpu,
                "total_vram_mb": log.total_vram_mb,
                "runs": log.runs,
                "restarts": log.restarts,
                "prompts": log.prompts,
                "timed_prompts": len(log.prompt_seconds),
                "finished": log.finished,
                "errors": log.errors,
                "estimated": log.estimated,
                **{f"{q}_p50": _round(log.median(q)) for q in QUANTITIES},
                **{f"{q}_p95": _round(log.p95(q)) for q in QUANTITIES},
                "findings": [f.id for f in log.findings],
            }
            for log in fleet.usable
        ],
        "unusable": [{"path": log.path, "reason": log.unusable} for log in fleet.unusable],
        "totals": {
            "logs": t.logs,
            "unusable": t.unusable,
            "runs": t.runs,
            "restarts": t.restarts,
            "prompts": t.prompts,
            "timed_prompts": t.timed_prompts,
            "finished": t.finished,
            "errors": t.errors,
            "seconds": {q: round(v, 3) for q, v in t.seconds.items()},
        },
        "percentiles": {q: {name: _round(v) for name, v in row.items()} for q, row in fleet.percentiles.items()},
        "common_findings": [
            {"id": c.id, "severity": c.severity, "logs": c.logs, "cost_s": round(c.cost_s, 3),
             "example_title": c.title, "example_path": c.example_path}
            for c in fleet.common_findings
        ],
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def render_fleet_json(fleet: FleetSummary) -> str:
    return json.dumps(fleet_to_dict(fleet), indent=2, ensure_ascii=False)
