"""What watch shows: a rich Live view on a terminal, one line per event that matters elsewhere.

The view is drawn from a ``Snapshot``: the run going on (GPU, VRAM, vram state, start-up time), the
prompt in progress (its phase now, the step of its progress bar, the rate and the time left at that
rate, its phases so far), the last prompts with their phases, the findings so far, restarts and
what happened to the file (rotated, truncated). Every time and duration is written by text.py.
"""

from __future__ import annotations

from dataclasses import field
from datetime import datetime

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from ..dataclass import dataclass
from ..events import EventKind, Phase
from ..model import PHASES, Finding, Prompt, Report, Run
from ..parse.parser import OpenBar
from ..render.styles import PHASE_STYLE, SEVERITY_STYLE, STATUS_STYLE
from ..text import clock, dur, fmt_s, gb
from .analysis import Happening, LiveAnalysis, PromptFinal, RunReady, RunStarted
from .findings import drawn_bar

#: Prompts shown under "last prompts", and notices kept.
RECENT_PROMPTS = 5
NOTICES_KEPT = 3
#: Event kinds after which a prompt is loading weights until something else happens.
LOADING_KINDS = frozenset({
    EventKind.LOAD_REQUESTED, EventKind.LOADED_COMPLETELY, EventKind.LOADED_PARTIALLY, EventKind.LOWVRAM_MODE,
    EventKind.LOWVRAM_MODULES, EventKind.LOAD_DETAIL, EventKind.GGUF_QTYPES,
})


@dataclass
class Snapshot:
    """Everything the live view shows, at one moment."""

    name: str
    line: int
    now: datetime | None
    run: Run | None
    runs: int
    restarts: int
    startup_s: float | None
    prompt: Prompt | None
    phase: Phase | None
    bar: OpenBar | None
    queued: int
    recent: list[Prompt]
    findings: list[Finding]
    #: VRAM (MB) ComfyUI offered the last model it loaded.
    offered_mb: float | None = None
    notices: list[str] = field(default_factory=list)
    #: What the source adds (a running ComfyUI: its machine, queue and node timings).
    source_lines: list[str] = field(default_factory=list)
    #: A RunPod worker handles the prompts (Report.wait_applies): else the view leaves wait out.
    wait_applies: bool = True


def snapshot(analysis: LiveAnalysis, window: Report, notices: list[str], source_lines: list[str] | None = None,
             ) -> Snapshot:
    """The view's state: the window report (findings.window_report) holds the prompt in progress."""
    seg = analysis.seg
    live = seg.live()
    run = live.run
    startup = (run.ready_at - run.started_at).total_seconds() if run and run.ready_at and run.started_at else None
    prompt = next((p for p in reversed(window.prompts) if p.status == "running"), None)
    bar = analysis.parser.open_bar if prompt is not None else None
    return Snapshot(
        name=analysis.source.name, line=analysis.line, now=analysis.now, run=run,
        runs=len(seg.runs) + len(live.runs), restarts=seg.summary.restarts, startup_s=startup, prompt=prompt,
        phase=phase_now(analysis.last_kind, bar, seg.sampler_announced(prompt.index)) if prompt is not None else None,
        bar=bar,
        queued=len(live.queued), recent=[p for p in window.prompts if p.status not in ("running", "queued")][
            -RECENT_PROMPTS:], findings=list(window.findings), offered_mb=analysis.offered_mb,
        notices=notices[-NOTICES_KEPT:], source_lines=source_lines or [], wait_applies=window.wait_applies)


def phase_now(last: EventKind | None, bar: OpenBar | None, after_sampler_line: bool) -> Phase:
    """What the prompt is doing now: the bar being drawn says it (as the report classes finished bars:
    parse/bars.py), else the last thing the log said."""
    if bar is not None:
        return drawn_bar(bar, None, after_sampler_line).phase
    if last in LOADING_KINDS:
        return Phase.LOAD
    if last is EventKind.WS_TIMEOUT:
        return Phase.WAIT
    return Phase.OTHER


def seconds_left(bar: OpenBar) -> float | None:
    """The time the bar needs for its remaining steps at its current rate."""
    if not bar.rate or bar.total <= bar.n:
        return None
    left = bar.total - bar.n
    if bar.unit == "s/it":
        return left * bar.rate
    if bar.unit.endswith("/s"):
        return left / bar.rate
    return None


# ---- the rich view --------------------------------------------------------------------------------
def render_live(snap: Snapshot) -> RenderableType:
    """The live view of ``snap`` as one rich renderable."""
    parts: list[RenderableType] = []
    head = Text()
    head.append("comfylog watch ", style="bold")
    head.append(snap.name, style="bold cyan")
    head.append(f" · line {snap.line}")
    if snap.now is not None:
        head.append(f" · log time {clock(snap.now)}")
    parts.append(head)
    parts.extend(Text(line, style="cyan") for line in snap.source_lines)
    parts.append(_run_text(snap))
    parts.append(_prompt_text(snap))
    if snap.recent:
        parts.append(_recent_table(snap.recent, snap.wait_applies))
    if snap.findings:
        parts.append(_findings_text(snap.findings))
    for notice in snap.notices:
        parts.append(Text(notice, style="yellow"))
    return Group(*parts)


def _run_text(snap: Snapshot) -> Text:
    run = snap.run
    text = Text()
    if run is None:
        text.append("no run yet", style="dim")
        return text
    text.append(f"Run {run.index + 1}", style="bold")
    if run.restart:
        text.append(" (after a restart)", style="red")
    bits = [run.gpu or "GPU not known yet"]
    if run.total_vram_mb is not None:
        bits.append(f"{gb(run.total_vram_mb)} VRAM ({run.total_vram_mb} MB)")
    if run.vram_states:
        bits.append(", ".join(run.vram_states))
    if snap.startup_s is not None:
        bits.append(f"start-up {dur(snap.startup_s)}")
    elif run.ready_line is None:
        bits.append("starting")
    if run.install_s:
        bits.append(f"installing {dur(run.install_s)} (ComfyUI-Manager, no prompt running)")
    text.append(" · " + " · ".join(bits))
    if snap.restarts:
        text.append(f" · {snap.restarts} restart{'s' if snap.restarts != 1 else ''} so far", style="red")
    return text


def _prompt_text(snap: Snapshot) -> Text:
    prompt = snap.prompt
    text = Text()
    if prompt is None:
        text.append("idle: no prompt running", style="dim")
        if snap.queued:
            text.append(f" · {snap.queued} queued")
        return text
    text.append(f"Prompt {prompt.index + 1}", style="bold")
    if snap.phase is not None:
        text.append(" · ")
        text.append(snap.phase.value, style=PHASE_STYLE[snap.phase.value])
    bar = snap.bar
    if bar is not None:
        text.append(f" · {bar.label + ' ' if bar.label else ''}{bar.n:g}/{bar.total:g}")
        if bar.rate is not None:
            text.append(f" at {bar.rate:.2f}{bar.unit}")
        left = seconds_left(bar)
        if left is not None:
            text.append(f" · about {dur(left)} left")
    if prompt.total_s is not None:
        text.append(f" · {fmt_s(prompt.total_s, prompt.estimated)} so far (")
        text.append(_phases_text(prompt, snap.wait_applies))
        text.append(")")
    if snap.queued:
        text.append(f" · {snap.queued} queued")
    return text


def shown_phases(wait_applies: bool) -> tuple[Phase, ...]:
    """The phases the view shows: wait only where a RunPod worker handles the prompts."""
    return PHASES if wait_applies else tuple(ph for ph in PHASES if ph is not Phase.WAIT)


def _phases_text(prompt: Prompt, wait_applies: bool) -> Text:
    text = Text()
    for i, phase in enumerate(shown_phases(wait_applies)):
        text.append(("" if i == 0 else ", ") + f"{phase.value} {fmt_s(prompt.phases.get(phase))}",
                    style=PHASE_STYLE[phase.value])
    return text


def _recent_table(prompts: list[Prompt], wait_applies: bool) -> Table:
    table = Table(title="Last prompts", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False,
                  padding=(0, 1, 0, 0))
    phases = shown_phases(wait_applies)
    for name in ("#", "status", "total", *("infer" if ph is Phase.INFERENCE else ph.value for ph in phases), "ended"):
        table.add_column(name, justify="left" if name == "status" else "right", no_wrap=True)
    for p in prompts:
        table.add_row(str(p.index + 1), Text(p.status, style=STATUS_STYLE.get(p.status, "")),
                      fmt_s(p.total_s, p.estimated),
                      *(fmt_s(p.phases.get(ph)) if p.total_s is not None else "—" for ph in phases),
                      clock(p.ended_at))
    return table


def _findings_text(findings: list[Finding]) -> Text:
    text = Text("Findings so far", style="bold italic")
    for f in findings:
        text.append("\n")
        text.append(f"{f.severity:<7} ", style=SEVERITY_STYLE.get(f.severity, ""))
        text.append(f"{f.id}: ", style="bold")
        text.append(f.title)
    return text


# ---- one line per event ---------------------------------------------------------------------------
def happening_line(happening: Happening, wait_applies: bool = True) -> str | None:
    """The line the plain output prints for ``happening`` (None: nothing worth a line); wait only
    where it applies (Report.wait_applies)."""
    if isinstance(happening, RunStarted):
        run = happening.run
        what = "ComfyUI started again (restart)" if run.restart else "ComfyUI starting"
        return f"{clock(run.started_at)} run {run.index + 1}: {what} at line {happening.line}"
    if isinstance(happening, RunReady):
        run = happening.run
        bits = [run.gpu or "GPU not given"]
        if run.total_vram_mb is not None:
            bits.append(f"{run.total_vram_mb} MB VRAM")
        if run.vram_states:
            bits.append(", ".join(run.vram_states))
        if run.ready_at is not None and run.started_at is not None:
            bits.append(f"start-up {dur((run.ready_at - run.started_at).total_seconds())}")
        return f"{clock(run.ready_at)} run {run.index + 1} ready: " + ", ".join(bits)
    if isinstance(happening, PromptFinal):
        p = happening.prompt
        line = f"{clock(p.ended_at)} prompt {p.index + 1} {p.status}"
        if p.total_s is not None:
            line += f" in {fmt_s(p.total_s, p.estimated)}: " + ", ".join(
                f"{ph.value} {fmt_s(p.phases.get(ph))}" for ph in shown_phases(wait_applies))
        return line
    return None


def prompt_started_line(prompt: Prompt) -> str:
    return f"{clock(prompt.started_at)} prompt {prompt.index + 1} started"


def finding_line(finding: Finding, now: datetime | None) -> str:
    return f"{clock(now)} {finding.severity} {finding.id}: {finding.title}"
