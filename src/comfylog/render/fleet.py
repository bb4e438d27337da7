"""The fleet summary (``comfylog analyze DIR``) for the terminal (rich); as JSON: fleet_json.py."""

from __future__ import annotations

import re

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..fleet import FLEET_PERCENTILES, QUANTITIES, FindingCount, FleetSummary, LogSummary
from ..model import is_directml
from ..text import fmt_s, short_names
from .fit import Column, fit_columns, fitted_table
from .styles import SEVERITY_STYLE

#: Phases shown per log (``other`` is in the fleet-wide table).
ROW_QUANTITIES = ("total", "load", "inference", "wait")
#: Least widths the text columns wrap to on a narrow terminal.
NAME_WIDTH = 16
MACHINE_WIDTH = 10
CASE_WIDTH = 20
#: Columns left out, first to last, when a table cannot hold every number whole (fit.fit_columns).
LOG_DROPS = ("wait", "machine", "load", "inference")
PERCENTILE_DROPS = ("p99", "p90", "prompts", "share")
FINDING_DROPS = ("severity", "logs")
GPU_NOISE = re.compile(r"\b(NVIDIA|GeForce|AMD|Radeon|Intel|Generation|Graphics)\b|\((R|TM)\)")


def display_names(paths: list[str]) -> dict[str, str]:
    """Each log's short name (text.short_names), by its path."""
    return dict(zip(paths, short_names(paths), strict=True))


def render_fleet_terminal(fleet: FleetSummary, console: Console, limit: int = 40) -> None:
    width = console.width
    parts = (_header(fleet), _logs(fleet, limit, width), _percentiles(fleet, width), _findings(fleet, width),
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


def _pair(log: LogSummary, quantity: str, compact: bool) -> str:
    if not log.prompt_seconds:
        return "—"
    if quantity == "wait" and not log.waits:
        return ""  # no RunPod worker: nothing waits (the title says so)
    pair = f"{fmt_s(log.median(quantity), compact=compact)}/{fmt_s(log.p95(quantity), compact=compact)}"
    return pair + ("*" if log.partly_timed(quantity) else "")


def short_gpu(gpu: str | None) -> str:
    """``RTX 4090`` for ``NVIDIA GeForce RTX 4090``: vendor and brand words cost columns, not meaning."""
    if not gpu:
        return "?"
    return re.sub(r"\s+", " ", GPU_NOISE.sub("", gpu)).strip() or gpu


def _machine(log: LogSummary) -> str:
    gpu = short_gpu(log.gpu)
    sized = log.total_vram_mb and not is_directml(log.gpu)  # not DirectML's fixed 1024 MB
    return f"{gpu} {(log.total_vram_mb or 0) / 1024:.0f}G" if sized else gpu


def _logs(fleet: FleetSummary, limit: int, width: int) -> Table:
    """A row per log at the terminal's width (fit.fit_columns): names and machines wrap at their
    separators, numbers stay whole, columns are left out in LOG_DROPS order and named below."""
    usable = fleet.usable
    shown = usable[:limit]
    names = display_names([log.path for log in usable])

    waits = any(log.waits for log in usable)
    quantities = [q for q in ROW_QUANTITIES if q != "wait" or waits]

    def columns(compact: bool) -> list[Column]:
        return [
            Column("log", [names[log.path] for log in shown], wrap=NAME_WIDTH),
            Column("machine", [_machine(log) for log in shown], wrap=MACHINE_WIDTH),
            Column("prompts", [f"{log.finished}/{log.prompts}" + ("~" if log.estimated else "") for log in shown],
                   "right"),
            *(Column(q, [_pair(log, q, compact) for log in shown], "right") for q in quantities),
            # one id a line, never broken inside
            Column("findings", ["\n".join(dict.fromkeys(f.id for f in log.findings)) or "—" for log in shown]),
        ]

    more = (f"{len(usable) - limit} more logs not shown (--limit, or --format json for all)" if len(usable) > limit
            else None)
    title = ("Logs: prompts finished/received; seconds per prompt as median/p95 (~: from the log's own durations, "
             "no timestamps; *: of the prompts that could time it, the others' is not known"
             + ("; wait blank: no RunPod worker, nothing waits)" if waits and not all(log.waits for log in usable)
                else ")"))
    return fitted_table(fit_columns(columns, width, LOG_DROPS), title, [more])


def _percentiles(fleet: FleetSummary, width: int) -> Table | None:
    t = fleet.totals
    if not t.timed_prompts:
        return None
    everything = t.seconds["total"] or 1.0

    # no log has a RunPod worker: nothing waited anywhere, so no wait row
    quantities = [q for q in QUANTITIES if q != "wait" or any(log.waits for log in fleet.usable)]

    def columns(compact: bool) -> list[Column]:
        rows = [fleet.percentiles[q] for q in quantities]
        # the seconds of prompts whose logs could not time every phase: the phases' shares add up with them
        untimed = [t.seconds["untimed"]] if t.seconds.get("untimed", 0.0) >= 0.05 else []
        labels: list[str | Text] = [*quantities, *(["not timed"] if untimed else [])]
        return [
            Column("seconds per prompt", labels, wrap=len("not timed")),
            Column("prompts", [*(str(t.timed.get(q, 0)) for q in quantities), *("" for _ in untimed)], "right"),
            *(Column(name, [*(fmt_s(row[name], compact=compact) for row in rows), *("" for _ in untimed)], "right")
              for name, _ in FLEET_PERCENTILES),
            Column("sum", [*(fmt_s(t.seconds[q], compact=compact) for q in quantities),
                           *(fmt_s(u, compact=compact) for u in untimed)], "right"),
            Column("share", [f"{100 * v / everything:.0f}%" for v in [*(t.seconds[q] for q in quantities), *untimed]],
                   "right"),
        ]

    return fitted_table(fit_columns(columns, width, PERCENTILE_DROPS),
                        f"Fleet-wide, over {t.timed_prompts} prompts (each phase's percentiles over the prompts that "
                        "timed it)")


def _findings(fleet: FleetSummary, width: int) -> Table | Text:
    if not fleet.common_findings:
        return Text("No findings in any log.", style="green")
    names = display_names([log.path for log in fleet.usable])
    counts = fleet.common_findings

    def example(count: FindingCount) -> Text:
        text = Text(count.title)
        text.append(f" — {names.get(count.example_path, count.example_path)}", style="dim")
        return text

    def columns(compact: bool) -> list[Column]:
        return [
            Column("finding", [c.id for c in counts]),
            Column("severity", [Text(c.severity, style=SEVERITY_STYLE.get(c.severity, "")) for c in counts]),
            Column("logs", [f"{c.logs} of {fleet.totals.logs}" for c in counts], "right"),
            Column("prompt time", [fmt_s(c.cost_s, compact=compact) for c in counts], "right"),
            Column("costliest case", [example(c) for c in counts], wrap=CASE_WIDTH),
        ]

    return fitted_table(fit_columns(columns, width, FINDING_DROPS), "Most common findings (severity: the worst seen)")


def _unusable(fleet: FleetSummary) -> Text | None:
    if not fleet.unusable:
        return None
    text = Text("Not read as logs:\n", style="red")
    for log in fleet.unusable:
        text.append(f"  {log.unusable}\n")
    return text
