"""``comfylog compare``: the Comparison as a terminal table (rich) or as JSON.

Two long logs pair hundreds of thousands of prompts, and both outputs list every one (and every
pair whose bars could not be compared): those lists are written a window at a time, never whole.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from itertools import chain, islice
from typing import Any

from rich._wrap import divide_line  # rich's own line breaking (since rich 10): the windows break as one text would
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from ..compare import Comparison, Delta, ModelLoads, PromptIndexes, ratio_text
from ..model import Finding
from ..text import fmt_s, signed_dur
from .fit import Column, fit_columns, fitted_table
from .styles import PHASE_STYLE, SEVERITY_STYLE


def render_compare(comparison: Comparison, console: Console) -> None:
    _print_header(comparison, console)
    console.print()
    for part in compare_parts(comparison, console.width):
        console.print(part)
        console.print()


#: Least widths of the text columns (labels, machine facts, ratios) on a narrow terminal (fit.fit_columns).
LABEL_WIDTH = 12
FACT_WIDTH = 12
RATIO_WIDTH = 8
#: The time table's column left out when it cannot hold every number whole (the run and baseline give it).
TIME_DROPS = ("difference",)


def compare_parts(c: Comparison, width: int = 120) -> list[RenderableType]:
    """The tables and the verdict, below the header (``render_compare`` prints it, a window at a time)."""
    return [_machine(c, width), _times(c, width), *([_loads(c, width)] if c.loads else []), _verdict(c)]


def _print_header(c: Comparison, console: Console) -> None:
    """The logs, the prompts paired (every one: the line is printed a window at a time) and the notes."""
    title = Text()
    title.append("comfylog compare ", style="bold")
    title.append(c.run_name, style="bold cyan")
    title.append("  vs baseline  ")
    title.append(c.baseline_name, style="bold cyan")
    console.print(title)
    _print_line(console, chain([f"prompt{'s' if len(c.run_prompts) != 1 else ''} "], _numbers(c.run_prompts),
                               [f" vs prompt{'s' if len(c.baseline_prompts) != 1 else ''} "],
                               _numbers(c.baseline_prompts)))
    for note in c.notes:
        console.print(Text(f"note: {note}", style="dim"))


def _numbers(indexes: PromptIndexes) -> Iterator[str]:
    """``1, 3, 5``: the prompts' numbers (1-based), a word each."""
    for position, index in enumerate(indexes):
        yield f", {index + 1}" if position else str(index + 1)


#: Characters of a long line wrapped at a time (``_print_line``).
LINE_WINDOW = 1 << 16


def _print_line(console: Console, pieces: Iterable[str]) -> None:
    """One line of plain text printed as ``console.print(Text(line))`` prints it, wrapped at the
    console's width, a window of LINE_WINDOW characters at a time: rich breaks a line greedily, so
    the lines up to the last break of a window are those of the whole text, and the rest starts the
    next window."""
    width = console.width
    window: list[str] = []
    size = 0
    for piece in pieces:
        window.append(piece)
        size += len(piece)
        if size >= LINE_WINDOW:
            text = "".join(window)
            breaks = divide_line(text, width)
            if breaks:
                console.print(Text(text[:breaks[-1]]))
                text = text[breaks[-1]:]
            window, size = [text], len(text)
    console.print(Text("".join(window)))


def _machine(c: Comparison, width: int) -> Table:
    def styled(text: str | None, same: bool) -> Text:
        return Text(text or "—", style="" if same else "yellow")

    def columns(compact: bool) -> list[Column]:
        return [Column("", [f.name for f in c.machine], wrap=LABEL_WIDTH),
                Column("run", [styled(f.run, f.same) for f in c.machine], wrap=FACT_WIDTH),
                Column("baseline", [styled(f.baseline, f.same) for f in c.machine], wrap=FACT_WIDTH)]

    return fitted_table(fit_columns(columns, width), "Machine")


def _value(delta: Delta, compact: bool = False) -> tuple[str, str]:
    if delta.unit == "s/it":
        return (f"{delta.run:.2f} s/it" if delta.run is not None else "—",
                f"{delta.baseline:.2f} s/it" if delta.baseline is not None else "—")
    return fmt_s(delta.run, compact=compact), fmt_s(delta.baseline, compact=compact)


def _ratio(delta: Delta) -> Text:
    text = ratio_text(delta)
    style = ("red" if "slower" in text or text == "none in the baseline"
             else "green" if "faster" in text or text == "none in the run" else "")
    return Text(text, style=style)


def _times(c: Comparison, width: int) -> Table:
    total_label = "total (as printed)" if c.total_source == "executed" else "total"
    rows: list[tuple[Text, Delta]] = [(Text(total_label, style="bold"), c.total)]
    rows += [(Text(d.name, style=PHASE_STYLE.get(d.name, "")), d) for d in c.shown_phases]
    rows += [(Text(f"per step, bar {s.position} ({s.steps:g} steps)"), s.rate) for s in c.steps]

    def columns(compact: bool) -> list[Column]:
        values = [_value(delta, compact) for _, delta in rows]
        return [Column("", [label for label, _ in rows], wrap=LABEL_WIDTH),
                Column("run", [run for run, _ in values], "right"),
                Column("baseline", [base for _, base in values], "right"),
                Column("ratio", [_ratio(delta) for _, delta in rows], "right", wrap=RATIO_WIDTH),
                Column("difference", [_difference(delta, compact) for _, delta in rows], "right")]

    unmatched = "not compared: " + "; ".join(c.unmatched_steps[:3]) if c.unmatched_steps else None
    return fitted_table(fit_columns(columns, width, TIME_DROPS), "Time", [unmatched])


def _difference(delta: Delta, compact: bool) -> str:
    diff = delta.difference
    if diff is None:
        return "—"
    return f"{diff:+.2f} s/it" if delta.unit == "s/it" else signed_dur(diff, compact)


def _loads_text(kinds: dict[str, int], mb: float | None) -> str:
    if not kinds:
        return "—"
    parts = [kind + (f" ×{n}" if n > 1 else "") for kind, n in kinds.items()]
    return ", ".join(parts) + (f" ({mb:.0f} MB)" if mb is not None else "")


def _loads(c: Comparison, width: int) -> Table:
    cells: list[tuple[str, Text, Text]] = []
    for m in c.loads:
        style = "yellow" if set(m.run) != set(m.baseline) else ""
        cells.append((m.model, Text(_loads_text(m.run, m.run_loaded_mb), style=style),
                      Text(_loads_text(m.baseline, m.baseline_loaded_mb), style=style)))
    run_lines, base_lines = c.lowvram_module_lines
    if run_lines or base_lines:
        cells.append(("lowvram module lines", Text(str(run_lines)), Text(str(base_lines))))

    def columns(compact: bool) -> list[Column]:
        return [Column("model", [model for model, _, _ in cells], wrap=LABEL_WIDTH),
                Column("run", [run for _, run, _ in cells], wrap=FACT_WIDTH),
                Column("baseline", [base for _, _, base in cells], wrap=FACT_WIDTH)]

    return fitted_table(fit_columns(columns, width), "Model loads")


def _finding_ids(findings: list[Finding]) -> str:
    return ", ".join(f.id for f in findings) or "—"


def _verdict(c: Comparison) -> Group:
    lines: list[RenderableType] = []
    text = Text()
    if c.main_phase is None or c.gap_s is None or c.main_phase_gap_s is None:
        text.append("The two take the same time." if c.gap_s is not None else "No total to compare.")
    else:
        slower = "slower" if c.gap_s > 0 else "faster"
        phase = c.phase(c.main_phase)
        text.append(f"The run is {fmt_s(abs(c.gap_s))} {slower} ({ratio_text(c.total)}); ")
        text.append(c.main_phase, style="bold " + PHASE_STYLE.get(c.main_phase, ""))
        share = c.main_phase_gap_s / c.gap_s if c.gap_s else 0.0
        if share > 1:  # another phase went the other way: "148% of the gap" says nothing
            text.append(f" alone is {fmt_s(abs(c.main_phase_gap_s))} {slower}, more than the whole "
                        f"{fmt_s(abs(c.gap_s))} gap, as a phase that went the other way made up part of it "
                        f"({fmt_s(phase.run)} vs {fmt_s(phase.baseline)}).")
        else:
            text.append(f" explains most of it: {fmt_s(abs(c.main_phase_gap_s))} of the {fmt_s(abs(c.gap_s))} gap "
                        f"({share:.0%}; {fmt_s(phase.run)} vs {fmt_s(phase.baseline)}).")
    lines.append(text)
    if c.explaining:
        why = Text("Behind it: ")
        for i, f in enumerate(c.explaining):
            if i:
                why.append("; ")
            why.append(f.id, style=SEVERITY_STYLE.get(f.severity, ""))
            why.append(f" ({f.title})")
        lines.append(why)
    for note in c.verdict_notes:
        lines.append(Text(note))
    if c.setup_differences:
        lines.append(Text("Set-up differences that can explain it:"))
        lines += [Text(f"  - {difference}") for difference in c.setup_differences]
    lines.append(Text(f"Findings only in the run: {_finding_ids(c.only_in_run)}"))
    lines.append(Text(f"Findings only in the baseline: {_finding_ids(c.only_in_baseline)}"))
    return Group(*lines)


# ---- JSON ------------------------------------------------------------------------------------------


#: The fields that may be long (a prompt pair each): JSON writes them a few thousand entries at a time.
LONG_FIELDS = ("run_prompts", "baseline_prompts", "unmatched_steps")
#: Entries of a long field per piece of JSON.
JSON_PIECE = 4096


def comparison_to_dict(c: Comparison) -> dict[str, Any]:
    """The comparison as plain data (lists, numbers, text); ratios included, findings by id, title and cost."""
    return {key: list(value) if key in LONG_FIELDS else value for key, value in _fields(c).items()}


def compare_json_pieces(c: Comparison) -> Iterator[str]:
    """``render_compare_json``'s text in pieces, the long fields a few thousand entries at a time:
    the same bytes as ``json.dumps(comparison_to_dict(c), indent=2, ensure_ascii=False)`` (each value
    dumped alone is that text one level up: its newlines, never inside a JSON string, take two more
    spaces)."""
    yield "{"
    for number, (key, value) in enumerate(_fields(c).items()):
        yield ("," if number else "") + "\n  " + json.dumps(key, ensure_ascii=False) + ": "
        if key in LONG_FIELDS:
            yield from _json_list(value)
        else:
            yield json.dumps(value, indent=2, ensure_ascii=False).replace("\n", "\n  ")
    yield "\n}"


def _json_list(values: Iterable[Any]) -> Iterator[str]:
    """A list as ``json.dumps(..., indent=2)`` writes it as a value of the top object, in pieces."""
    entries = iter(values)
    separator = ",\n    "
    opening = "[\n    "
    while piece := list(islice(entries, JSON_PIECE)):
        yield opening + separator.join(json.dumps(value, ensure_ascii=False) for value in piece)
        opening = separator
    yield "[]" if opening != separator else "\n  ]"


def _fields(c: Comparison) -> dict[str, Any]:
    """The comparison's JSON object, the long fields as the sequences the Comparison holds."""

    def delta(d: Delta) -> dict[str, Any]:
        return {"name": d.name, "run": _round(d.run), "baseline": _round(d.baseline), "unit": d.unit,
                "ratio": _round(d.ratio), "difference": _round(d.difference), "verdict": ratio_text(d)}

    def findings(fs: list[Finding]) -> list[dict[str, Any]]:
        return [{"id": f.id, "severity": f.severity, "title": f.title, "cost_s": f.cost_s} for f in fs]

    def loads(m: ModelLoads) -> dict[str, Any]:
        return {"model": m.model, "run": m.run, "baseline": m.baseline, "run_loaded_mb": _round(m.run_loaded_mb),
                "baseline_loaded_mb": _round(m.baseline_loaded_mb)}

    return {
        "run": c.run_name,
        "baseline": c.baseline_name,
        "run_prompts": c.run_prompts,
        "baseline_prompts": c.baseline_prompts,
        "machine": [{"name": f.name, "run": f.run, "baseline": f.baseline, "same": f.same} for f in c.machine],
        "total": {**delta(c.total), "source": c.total_source},
        "phases": [delta(d) for d in c.phases],
        "gap_s": _round(c.gap_s),
        "main_phase": c.main_phase,
        "main_phase_gap_s": _round(c.main_phase_gap_s),
        "steps": [{"position": s.position, "steps": s.steps, "run_line": s.run_line,
                   "baseline_line": s.baseline_line, **delta(s.rate)} for s in c.steps],
        "unmatched_steps": c.unmatched_steps,
        "loads": [loads(m) for m in c.loads],
        "lowvram_module_lines": {"run": c.lowvram_module_lines[0], "baseline": c.lowvram_module_lines[1]},
        "only_in_run": findings(c.only_in_run),
        "only_in_baseline": findings(c.only_in_baseline),
        "explaining": findings(c.explaining),
        "setup_differences": c.setup_differences,
        "notes": c.notes,
        "verdict_notes": c.verdict_notes,
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def render_compare_json(c: Comparison) -> str:
    return "".join(compare_json_pieces(c))
