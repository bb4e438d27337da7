"""The terminal report (rich): machine, findings, prompts, phase breakdown, timeline, errors."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from itertools import chain

from rich import box
from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderableType
from rich.markup import escape
from rich.markup import render as render_markup
from rich.segment import Segment
from rich.table import Table
from rich.text import Span, Text

from ..events import Phase
from ..index import (
    cancel_notes,
    count_words,
    evidence_in_line_order,
    index_of,
    interrupt_notes,
    lower_bound_notes,
    not_kept_texts,
    not_timed_notes,
    shown_phase,
    span_words,
    status_notes,
    total_text,
)
from ..model import PHASES, Prompt, Report, Run, span_kind
from ..text import basename, clip, clock, dur, fmt_s, plural, prompts_time_text, when
from .fit import Column, fit_columns, fitted_table
from .styles import PHASE_CHAR, PHASE_LABEL, PHASE_STYLE, SEVERITY_STYLE, STATUS_STYLE

TIMELINE_WIDTH = 50
BAR_WIDTH = 30
#: Columns the findings table takes besides the finding's text (severity, explains, padding).
FINDING_MARGIN = 24


def render_terminal(report: Report, console: Console, limit: int = 40) -> None:
    """Print the whole report to ``console``, one part at a time: a long log's thousands of runs (a
    machine table and a timeline row each) are drawn and let go one by one, never held all at once.
    A console that draws no colour gets the runs' tables and timeline rows as their plain lines (Plain)."""
    for part in report_parts(report, limit, console.width, plain=console.color_system is None):
        if isinstance(part, tuple) and len(part) == 1 and isinstance(part[0], Plain):
            console.print(Plain([*part[0].lines, ""]), crop=False)  # a run's table and the blank line after it
            continue
        for piece in part:
            console.print(piece, crop=not isinstance(piece, Plain))  # Plain lines are within the width
        console.print()


def report_parts(
    report: Report, limit: int = 40, width: int = 120, plain: bool = False,
) -> Iterator[Iterable[RenderableType]]:
    """The report's parts in order, each the renderables printed one after another (a blank line after
    the part), made as they are asked for; ``plain``: for a console without colour (Plain)."""
    yield (_header(report),)
    for run in report.runs:
        yield (_machine(run, report, width if plain else None),)
    if report.findings:
        yield (_findings(report, width),)
    if report.prompts:
        yield (_prompts(report, limit, width),)
    if report.prompts or any(r.outside_s or r.install_s for r in report.runs):
        yield (_phases(report),)
    timeline = _timeline(report, width if plain else None)
    if timeline is not None:
        yield timeline
    if report.errors:
        yield (_errors(report, limit, width),)
    yield (_footer(report),)


def _header(report: Report) -> Text:
    s = report.summary
    names = ", ".join(src.name for src in report.sources)
    text = Text()
    text.append("comfylog ", style="bold")
    text.append(names, style="bold cyan")
    text.append("\n")
    bits = [
        f"{s.got_prompt} prompt{'s' if s.got_prompt != 1 else ''} received",
        f"{s.executed} executed",
        f"{len(report.runs)} run{'s' if len(report.runs) != 1 else ''}",
    ]
    if s.restarts:
        bits.append(f"{s.restarts} restart{'s' if s.restarts != 1 else ''}")
    bits.append(span_words(report))
    text.append(" · ".join(bits))
    return text


class Plain:
    """Lines drawn as they are, each within the console's width: what rich draws of a run's machine table
    or timeline row on a console without colour, made without its layout (1,343 runs of bench-100mb: rich
    took 2 s to lay out their tables). Made only where the text is as rich would draw it (_plain_cell)."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> Iterator[Segment]:
        for line in self.lines:
            yield Segment(line)
            yield Segment.line()


def _plain_cell(cell: str) -> str | None:
    """The text rich draws of a table cell or title given as ``cell`` (markup and emoji codes read), or None
    where rich would do more than pad it: a line break, a tab or other control character, space at
    either end (rich strips a cell's end after measuring it)."""
    text = render_markup(cell).plain if "[" in cell or ":" in cell else cell
    if not text.isprintable() or text != text.strip():
        return None
    return text


def _machine(run: Run, report: Report, plain_width: int | None = None) -> Table | Plain:
    """The run's machine table; with ``plain_width`` (a console without colour that wide) its lines as
    rich draws them (Plain), where no cell wraps."""
    title, rows = _machine_rows(run, report)
    if plain_width is not None:
        lines = _machine_lines(title, rows, plain_width)
        if lines is not None:
            return Plain(lines)
    table = Table(title=title, title_justify="left", show_header=False, box=None, padding=(0, MACHINE_PADDING))
    table.add_column(style="bold")
    table.add_column()
    for label, value in rows:
        table.add_row(label, value)
    return table


#: Spaces either side of each machine table cell.
MACHINE_PADDING = 2


def _machine_lines(title: str, rows: list[tuple[str, str]], width: int) -> list[str] | None:
    """The machine table's lines as rich draws a two-column table with no box (cells padded either side,
    the title left-justified across it), or None where it would wrap something or rich would draw more."""
    shown_title = _plain_cell(title)
    if shown_title is None:
        return None
    cells: list[tuple[str, str]] = []
    for label, value in rows:
        shown_label, shown_value = _plain_cell(label), _plain_cell(value)
        if shown_label is None or shown_value is None:
            return None
        cells.append((shown_label, shown_value))
    sized = [(label, _cells(label), value, _cells(value)) for label, value in cells]
    widths = [max((row[1] for row in sized), default=0), max((row[3] for row in sized), default=0)]
    pad = " " * MACHINE_PADDING
    whole = sum(widths) + 4 * MACHINE_PADDING
    title_width = _cells(shown_title)
    if whole > width or title_width > whole:
        return None
    lines = [shown_title + " " * (whole - title_width)]
    for label, label_width, value, value_width in sized:
        lines.append(f"{pad}{label}{' ' * (widths[0] - label_width)}{pad}{pad}{value}"
                     f"{' ' * (widths[1] - value_width)}{pad}")
    return lines


def _cells(text: str) -> int:
    """Terminal cells ``text`` takes, as rich counts them."""
    return len(text) if text.isascii() else cell_len(text)


def _machine_rows(run: Run, report: Report) -> tuple[str, list[tuple[str, str]]]:
    """The machine table's title and rows (label, value: rich markup)."""
    title = f"Run {run.index + 1}" + (" (after a restart)" if run.restart else "")
    if len(report.sources) > 1:
        title += f" — {report.sources[run.source].name}"
    rows: list[tuple[str, str]] = []
    vram = f"{run.total_vram_mb} MB" if run.total_vram_mb is not None else "—"
    if run.vram_placeholder():
        vram = f"not known (DirectML prints a fixed {run.total_vram_mb} MB)"
    if run.total_vram_mb is not None and run.total_ram_mb is not None:
        vram += f"   RAM {run.total_ram_mb} MB"
    states = ", ".join(run.vram_states) if run.vram_states else "—"
    versions = run.versions()
    if run.machine_named():
        rows.append(("GPU", escape(run.gpu or "—")))
        rows.append(("VRAM", vram))
        rows.append(("vram state", states))
        rows.append(("versions", escape("  ".join(versions)) or "—"))  # rich would read `[c5565b14]` as a tag
    else:  # an excerpt from after the start-up, or launches that never started: four rows of dashes say less
        rows.append(("GPU", "not in the log (none of its start-up lines)"))
    if run.started_at is not None or run.ended_at is not None:
        span = f"{when(run.started_at)} → {when(run.ended_at)}"
        if run.span_s is not None:
            span += f"  ({fmt_s(run.span_s)})"
        rows.append(("time", span))
    if run.startup_s is not None:
        rows.append(("start-up", fmt_s(run.startup_s)))
    elif run.startup_not_in_log():
        rows.append(("start-up", "not known: the log starts at its end (import times or `Starting server`)"))
    if run.outside_s:
        rows.append(("outside prompts", f"{fmt_s(run.outside_s)} loading and sampling with no `got prompt` running "
                     "(a script or handler driving the nodes)"))
    if run.install_s:
        rows.append(("installing", f"{fmt_s(run.install_s)} ComfyUI-Manager installing custom nodes, their "
                     "dependencies or models (no prompt running)"))
    failed = index_of(report).failed_imports_text(run)  # with the nodes only a `Cannot import` line names
    count, _, why = (failed or "").partition(" (")
    failed_markup = f"[red]{count}[/red]" + (f" ({escape(why)}" if why else "")
    if run.import_times:
        slowest = max(run.import_times, key=lambda t: t[0])
        nodes = (f"{run.imports_listed - run.failed_imports} imported, slowest {dur(slowest[0])} "
                 f"({basename(slowest[1])})")
        rows.append(("custom nodes", nodes + (f", {failed_markup}" if failed else "")))
    elif failed:
        rows.append(("custom nodes", failed_markup))
    return title, rows


def _findings(report: Report, width: int) -> Table:
    """Each finding as a block: title and cost, how sure and why, every advice item, the evidence lines
    in the order of the log (with the file's name when the report reads several), each cut to the
    terminal's width."""
    table = Table(title="Findings (most costly first)", title_justify="left", box=box.SIMPLE_HEAD, show_lines=True,
                  show_header=False, padding=(0, 1))
    table.add_column("severity", no_wrap=True)
    table.add_column("finding", ratio=1)
    table.add_column("explains", justify="right", no_wrap=True)
    index = index_of(report)
    room = max(20, width - FINDING_MARGIN)
    for f in report.findings:
        body = Text()
        body.append(f.title, style="bold")
        body.append(f"\n{f.id} · {f.confidence} confidence · ", style="dim")
        body.append(f.why)
        for advice in f.advice:
            body.append(f"\n→ {advice}", style="cyan")
        shown_source = None
        for ev in evidence_in_line_order(f):
            if index.several_sources and ev.source != shown_source:
                body.append(f"\n  {index.source_name(ev.source)}", style="dim italic")  # the file, above its lines
                shown_source = ev.source
            where = f"  {ev.line:>6}  "
            text = ev.text if len(where) + len(ev.text) <= room else ev.text[: max(10, room - len(where) - 1)] + "…"
            body.append("\n" + where, style="dim")
            body.append(text, style="dim")
        more = max(f.evidence_total, len(f.evidence)) - len(f.evidence)
        if more > 0:
            body.append(f"\n          … {more} more line{'s' if more != 1 else ''}", style="dim")
        table.add_row(
            Text(f.severity, style=SEVERITY_STYLE.get(f.severity, "")),
            body,
            fmt_s(f.cost_s) if f.cost_s else "—",
        )
    return table


#: Columns the prompt table leaves out, first to last, when the terminal cannot hold every number whole.
NARROW_DROPS = ("received", "rate", "steps", "wait", "other")


def _prompts(report: Report, limit: int, width: int) -> Table:
    """The prompt table at the terminal's width with every number whole (fit.fit_columns: spacing
    closed, then hours to the minute, then columns left out in NARROW_DROPS order, named below)."""
    shown = report.prompts[:limit]
    fit = fit_columns(lambda compact: _prompt_columns(report, shown, compact), width, NARROW_DROPS)
    notes = []
    if len(report.prompts) > len(shown):
        notes.append(f"{len(report.prompts) - len(shown)} more prompts not shown (--limit, or --format json for all)")
    elif any(p.estimated for p in shown):
        notes.append("~ no usable timestamps: phases estimated from the durations the log prints")
    notes += not_timed_notes(shown) + status_notes(shown) + lower_bound_notes(shown)
    notes += [escape(note) for note in interrupt_notes(index_of(report), shown)]
    notes += [escape(note) for note in cancel_notes(index_of(report), shown)]
    return fitted_table(fit, "Prompts", notes)


def _prompt_columns(report: Report, shown: list[Prompt], compact: bool) -> list[Column]:
    """Every column of the prompt table."""
    index = index_of(report)
    columns = [Column("#", [str(p.index + 1) for p in shown], "right")]
    if len(report.runs) > 1:
        columns.append(Column("run", [str(p.run + 1) for p in shown], "right"))
    columns.append(Column("received", [clock(p.got_at) if p.received else "(before log)" for p in shown]))
    columns.append(Column("status", [Text(p.status, style=STATUS_STYLE.get(p.status, "")) for p in shown]))
    columns.append(Column("total", [total_text(p, compact) for p in shown], "right"))
    for ph in PHASES:
        if ph is Phase.WAIT and not report.wait_applies:
            continue  # no RunPod worker: nothing waits
        columns.append(Column("infer" if ph is Phase.INFERENCE else ph.value,
                              [fmt_s(shown_phase(p, ph), compact=compact) for p in shown], "right"))
    bars = [index.main_bar_text(p) for p in shown]
    columns.append(Column("steps", [steps for steps, _ in bars], "right"))
    columns.append(Column("rate", [rate for _, rate in bars], "right"))
    return columns


def _phases(report: Report) -> Table:
    """Where the time went: a phase no prompt could time is ``—`` with no share (never 0.0s 0%)."""
    spent = index_of(report).time_spent()  # summed as the index read the prompts
    rows = spent.rows
    whole = sum(seconds or 0.0 for _, seconds in rows) or 1.0
    table = Table(title="Where the time went", title_justify="left", caption_justify="left", box=box.SIMPLE_HEAD)
    table.add_column("phase")
    table.add_column("time", justify="right")
    table.add_column("share", justify="right")
    table.add_column("", min_width=BAR_WIDTH)
    for name, seconds in rows:
        label = Text(PHASE_LABEL.get(name, name), style=PHASE_STYLE[name])
        if seconds is None:
            table.add_row(label, fmt_s(None), "", Text("not timed", style="dim"))
            continue
        share = seconds / whole
        cells = int(round(share * BAR_WIDTH))
        table.add_row(label, fmt_s(seconds), f"{share:.0%}", Text("█" * cells, style=PHASE_STYLE[name]))
    table.caption = (prompts_time_text(spent.prompt_seconds, spent.without_total, spent.before_log,
                                       spent.without_total_s) if report.prompts
                     else "no prompt ran") + \
        "; every second counted once"
    return table


def _timeline(report: Report, plain_width: int | None = None) -> Iterator[RenderableType] | None:
    """The timeline's lines: its title, a row per run with prompts (made as they are printed) and the
    legend; None where no run has a row. With ``plain_width`` (a console without colour that wide), a row
    that fits is its plain line (Plain): what rich draws of it."""
    index = index_of(report)
    rows = (row for run in report.runs if (row := _run_timeline(run, index.run_prompts(run.index))) is not None)
    first = next(rows, None)
    if first is None:
        return None
    return _timeline_lines(report, chain((first,), rows), plain_width)


def _timeline_lines(report: Report, rows: Iterable[Text], plain_width: int | None) -> Iterator[RenderableType]:
    yield Text("Timeline", style="bold italic")
    drawn: set[str] = set()
    for row in rows:
        line = row.plain
        drawn.update(line)
        fits = plain_width is not None and line.isprintable() and _cells(line) <= plain_width
        yield Plain([line]) if fits else row
    legend = Text("legend: ")
    for name, char in PHASE_CHAR.items():
        if name == "outside" or (name in ("untimed", "install") and char not in drawn) or (
                name == "wait" and not report.wait_applies):
            continue  # work outside prompts is not drawn; "?" and "+" only where drawn; wait only with a worker
        legend.append(f"{char}", style=PHASE_STYLE[name])
        legend.append(f" {PHASE_LABEL.get(name, name)}  ")
    yield legend


def _run_timeline(run: Run, own: Iterable[Prompt]) -> Text | None:
    """One run on one line: start-up, idle and each prompt's phases, on the run's own clock. Only the prompts
    with a total are held: a run of 1,000,000 queued prompts that never ran held every record (783 MB)."""
    prompts = []
    unfinished = False
    for p in own:
        if p.total_s:
            prompts.append(p)
        unfinished = unfinished or p.status == "unfinished"
    if run.started_at is not None and run.ended_at is not None and run.span_s and prompts and not any(
        p.estimated for p in prompts
    ):
        start, span = run.started_at, run.span_s
        cells: list[str] = ["idle"] * TIMELINE_WIDTH

        def paint(a: datetime, b: datetime, phase: str) -> None:
            i0 = int((a - start).total_seconds() / span * TIMELINE_WIDTH)
            i1 = int((b - start).total_seconds() / span * TIMELINE_WIDTH)
            for i in range(max(i0, 0), min(max(i1, i0 + 1), TIMELINE_WIDTH)):
                cells[i] = phase

        if run.ready_at is not None:
            paint(start, run.ready_at, "startup")
        for a, b in run.install_spans:
            paint(a, b, "install")
        for p in prompts:
            for sp in p.spans:
                paint(sp.start, sp.end, span_kind(p, sp))
        pieces = [(f"run {run.index + 1} {clock(run.started_at)} ", "")]
        pieces += [(PHASE_CHAR[name], PHASE_STYLE[name]) for name in cells]
        pieces.append((f" {clock(run.ended_at)}", ""))
        if run.restart:
            pieces.append(("  (restarted)", "red"))
        if unfinished:
            pieces.append(("  ✗ prompt unfinished", "red"))
        return _assembled(pieces)
    if not prompts:
        return None
    # No usable clock: prompts side by side, widths by their printed durations.
    whole = sum(p.total_s or 0.0 for p in prompts) or 1.0
    pieces = [(f"run {run.index + 1} ", "")]
    separate = len(prompts) <= 12
    done = 0.0  # seconds drawn so far: cells end where the running sum falls, so short prompts add up
    drawn = 0  # cells drawn so far: round(done / whole * TIMELINE_WIDTH)
    for p in prompts:
        phases = p.phases
        parts = [(name, getattr(phases, name) or 0.0) for name in PHASE_NAMES]
        parts.append(("untimed", max(0.0, (p.total_s or 0.0) - phases.total)))
        for name, seconds in parts:
            done += seconds
            end = round(done / whole * TIMELINE_WIDTH)
            pieces.append((PHASE_CHAR[name] * (end - drawn), PHASE_STYLE[name]))
            drawn = end
        if separate:
            pieces.append(("|", "dim"))
    order = " end to end by printed duration, gaps left out" if len(prompts) > 1 else ", durations as printed"
    pieces.append((f"  ({plural(len(prompts), 'prompt')}{order})", "dim"))
    return _assembled(pieces)


#: The prompt phases' field names (model.Phases), in PHASES order.
PHASE_NAMES = tuple(phase.value for phase in PHASES)


def _assembled(pieces: list[tuple[str, str]]) -> Text:
    """The Text that appending each (text, style) in turn makes (the same spans), made at once: a timeline
    row is 50 cells or a few per prompt, each appended alone (Text.append checks each piece)."""
    texts: list[str] = []
    spans: list[Span] = []
    offset = 0
    for piece, style in pieces:
        if piece:
            texts.append(piece)
            if style:
                spans.append(Span(offset, offset + len(piece), style))
            offset += len(piece)
    return Text("".join(texts), spans=spans)


#: Least widths of the error table's text columns: a file's name wraps at its separators, the message
#: at its spaces; line and prompt numbers never wrap.
ERROR_NAME_WIDTH = 12
ERROR_MESSAGE_WIDTH = 20
#: An error's message is cut to this many characters, with an ellipsis (the JSON has it whole).
ERROR_MESSAGE_CHARS = 200


def _errors(report: Report, limit: int, width: int) -> Table:
    """The error records; with several inputs, each one's file in a column of its own (fit.fit_columns:
    names and messages wrap, numbers stay whole)."""
    index = index_of(report)
    shown = report.errors[:limit]

    def columns(compact: bool) -> list[Column]:
        cols = [Column("log", [index.source_name(e.source) for e in shown], wrap=ERROR_NAME_WIDTH)] if (
            index.several_sources) else []
        return cols + [
            Column("line", [str(e.line) for e in shown], "right"),
            Column("prompt", [str(e.prompt + 1) if e.prompt is not None else "—" for e in shown], "right"),
            Column("kind", [Text(e.kind, style="red" if e.kind in ("oom", "exception") else "yellow")
                            for e in shown]),
            Column("message", [Text(clip(e.message, ERROR_MESSAGE_CHARS)) for e in shown],
                   wrap=ERROR_MESSAGE_WIDTH),
        ]

    more = f"{len(report.errors) - limit} more errors not shown" if len(report.errors) > limit else None
    return fitted_table(fit_columns(columns, width), "Errors", [more])


def _footer(report: Report) -> Text:
    s = report.summary
    bits = count_words(report)
    bits += [f"{src.name}: a RunPod console copy, newest line first: read oldest first, and its line numbers "
             "count from its oldest line" for src in report.sources if src.newest_first]
    lost = []
    if s.replaced_bytes:
        lost.append(f"{s.replaced_bytes} undecodable bytes replaced")
    if s.skipped_lines:
        lost.append(f"{s.skipped_lines} lines skipped")
    truncated = sum(src.truncated_lines for src in report.sources)
    if truncated:
        lost.append(f"{truncated} over-long lines cut")
    lost += not_kept_texts(report)
    lost += [f"{src.name}: {src.stopped}" + (f", {src.dropped_bytes} compressed bytes not read" if src.dropped_bytes
             else "") for src in report.sources if src.stopped]
    text = Text(" · ".join(bits), style="dim")
    if lost:
        text.append(("\n" if bits else "") + "input: " + ", ".join(lost), style="yellow")
    return text
