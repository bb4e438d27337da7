"""``comfylog compare``: the Comparison as a terminal table (rich) or as JSON."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from ..compare import Comparison, Delta, ModelLoads, ratio_text
from ..model import Finding
from ..text import fmt_s
from .fit import Column, fit_columns, fitted_table
from .styles import PHASE_STYLE, SEVERITY_STYLE


def render_compare(comparison: Comparison, console: Console) -> None:
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
    return [_header(c), _machine(c, width), _times(c, width), *([_loads(c, width)] if c.loads else []), _verdict(c)]


def _header(c: Comparison) -> Text:
    text = Text()
    text.append("comfylog compare ", style="bold")
    text.append(c.run_name, style="bold cyan")
    text.append("  vs baseline  ")
    text.append(c.baseline_name, style="bold cyan")
    run = ", ".join(str(i + 1) for i in c.run_prompts)
    base = ", ".join(str(i + 1) for i in c.baseline_prompts)
    text.append(f"\nprompt{'s' if len(c.run_prompts) != 1 else ''} {run} vs prompt"
                f"{'s' if len(c.baseline_prompts) != 1 else ''} {base}")
    for note in c.notes:
        text.append(f"\nnote: {note}", style="dim")
    return text


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
    return f"{diff:+.2f} s/it" if delta.unit == "s/it" else _signed(diff, compact)


def _signed(seconds: float, compact: bool = False) -> str:
    return ("+" if seconds >= 0 else "−") + fmt_s(abs(seconds), compact=compact)


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
            text.append(f" alone is {abs(c.main_phase_gap_s):.0f} s {slower}, more than the whole {abs(c.gap_s):.0f} s "
                        f"gap, as a phase that went the other way made up part of it ({fmt_s(phase.run)} vs "
                        f"{fmt_s(phase.baseline)}).")
        else:
            text.append(f" explains most of it: {abs(c.main_phase_gap_s):.0f} s of the {abs(c.gap_s):.0f} s gap "
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


def comparison_to_dict(c: Comparison) -> dict[str, Any]:
    """The comparison as plain data; ratios included, findings by id, title and cost."""

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
    return json.dumps(comparison_to_dict(c), indent=2, ensure_ascii=False)
