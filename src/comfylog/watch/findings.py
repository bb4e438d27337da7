"""Findings while the log is still being written: the diagnosis rules run on a window of the recent past.

The rules are those of ``analyze`` (diagnose/), run on a small report made of the last few runs and
prompts, with the prompt being executed painted as if it ended at the latest time the log gave: a
partial load is a ``lowvram`` finding while its prompt is still loading, a prompt cut off by a new
start-up is ``oom-suspected`` or ``unfinished`` the moment the start-up begins. Prompts still running
or queued are marked ``running`` / ``queued`` in the window, so nothing calls them unfinished before
the log ends. The window is bounded, so each look costs the same however long the log is.

A finding is announced once (``Alerts``): once per rule and run, and for an error again for every
new prompt it names.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from copy import copy
from dataclasses import replace
from typing import TypeVar

from ..diagnose import diagnose
from ..events import Event, EventKind
from ..index import index_of
from ..model import Finding, ProgressBar, Report, SourceInfo
from ..parse.bars import bar_kind
from ..parse.parser import OpenBar
from ..parse.progress import bar_seconds
from ..read.prefixes import FINE
from ..segment.phases import paint_estimated, paint_timed
from ..spool import Spool
from .analysis import LiveAnalysis

#: The window: the last this many runs and prompts, and the records from their first line on.
WINDOW_RUNS = 5
WINDOW_PROMPTS = 100
#: Records of each table looked at, at most (a DEBUG flood of loads in one prompt).
WINDOW_RECORDS = 2000
#: Prompts remembered per rule as announced (the window holds far fewer).
ALERTED_PROMPTS = 10_000

T = TypeVar("T")


def _tail(table: Sequence[T], count: int) -> list[T]:
    """The last ``count`` records of a table (a spool decodes only the blocks they are in)."""
    return [table[i] for i in range(max(0, len(table) - count), len(table))]


def _since(table: Sequence[T], line: int, count: int) -> list[T]:
    """The last records of a table (at most ``count``) from ``line`` on, in table order."""
    out: list[T] = []
    for i in range(len(table) - 1, max(-1, len(table) - 1 - count), -1):
        record = table[i]
        if record.line < line:  # type: ignore[attr-defined]
            break
        out.append(record)
    out.reverse()
    return out


def window_report(analysis: LiveAnalysis) -> Report:
    """A report of the recent past, the work in progress included as it stands (copies: the
    segmenter's records are not touched)."""
    seg = analysis.seg
    live = seg.live()
    runs = (_tail(seg.runs, WINDOW_RUNS) + list(live.runs))[-WINDOW_RUNS:]
    prompts = (_tail(seg.prompts, WINDOW_PROMPTS) + list(live.prompts))[-WINDOW_PROMPTS:]
    start = max(runs[0].first_line if runs else 0, prompts[0].line if prompts else 0)
    runs = [r for r in runs if r.last_line >= start or r is live.run]
    prompts = [p for p in prompts if p.line >= start]
    bars = _since(seg.bars, start, WINDOW_RECORDS) + list(live.progress_bars)
    loads = _since(seg.loads, start, WINDOW_RECORDS) + list(live.loads)
    errors = _since(seg.errors, start, WINDOW_RECORDS) + list(live.errors)

    replaced: dict[int, object] = {}
    if live.prompt is not None:
        running = copy(live.prompt)
        painted = [(copy(bar), ev) for bar, ev in live.bars]
        drawing = _drawing(analysis.parser.open_bar, running.index, seg.sampler_announced(running.index))
        now = analysis.now
        if running.started_at is not None and now is not None and all(a.resolution == FINE for a in live.activities):
            # not ``loaded``: a running prompt that loaded and drew no bar yet may still draw one
            paint_timed(running, running.started_at, max(now, running.started_at), list(live.activities),
                        painted + drawing, True, False, live.library_loads, settled=live.settled,
                        painted=live.painted)
        else:
            paint_estimated(running, painted + drawing, live.loaded, live.library_loads, settled=live.settled)
        running.status = "running"
        replaced[id(live.prompt)] = running
        replaced.update((id(old), new) for (old, _), (new, _) in zip(live.bars, painted, strict=True))
    for queued in live.queued:
        replaced[id(queued)] = replace(queued, status="queued")
    prompts = [_swap(p, replaced) for p in prompts]
    bars = [_swap(b, replaced) for b in bars]
    source = analysis.source
    report = Report(
        sources=[SourceInfo(name=source.name, lines=source.total_lines,
                            timestamp_styles={k: v for k, v in analysis.parser.styles.items() if k != "none"},
                            compose_prefixed=source.compose_prefixed)],
        summary=copy(seg.summary), runs=_spool(runs), prompts=_spool(prompts), progress_bars=_spool(bars),
        loads=_spool(loads), errors=_spool(errors),
        notable=[ev for ev in analysis.recent if ev.end_line >= start])
    report.summary.errors = len(seg.errors) + len(live.errors)
    return report


def drawn_bar(bar: OpenBar, prompt: int | None, after_sampler_line: bool) -> ProgressBar:
    """The record the segmenter will make of the bar being drawn, as far as it has gone
    (``after_sampler_line``: Segmenter.sampler_announced)."""
    elapsed = bar_seconds(bar.elapsed_s, bar.n, bar.rate, bar.unit)
    return ProgressBar(prompt, bar.label, bar.total, bar.n, bar.rate, bar.unit, elapsed, bar.line, bar.line,
                       bar_kind(bar.label, bar.unit, after_sampler_line))


def _drawing(bar: OpenBar | None, prompt: int, after_sampler_line: bool) -> list[tuple[ProgressBar, Event]]:
    """The bar being drawn, as the record and event the parser will make of it: it has taken
    ``elapsed_s`` up to its last state, and runs on to now (it has not finished)."""
    if bar is None:
        return []
    record = drawn_bar(bar, prompt, after_sampler_line)
    fields = {"elapsed_s": bar.elapsed_s, "first_elapsed_s": bar.elapsed_s, "ts_before": None}
    return [(record, Event(EventKind.PROGRESS_BAR, bar.line, bar.ts, fields, 0, bar.line, bar.ts))]


def _swap(record: T, replaced: dict[int, object]) -> T:
    return replaced.get(id(record), record)  # type: ignore[return-value]


def _spool(items: list[T]) -> Spool[T]:
    return Spool(items, block=len(items) + 1)  # a window stays in memory


def live_findings(analysis: LiveAnalysis) -> tuple[Report, list[Finding]]:
    """The window report and the findings the rules make of it, most costly first."""
    report = window_report(analysis)
    report.findings = diagnose(report)
    return report, report.findings


class Alerts:
    """Which findings were announced already: each once per rule and run, errors per new prompt too."""

    def __init__(self) -> None:
        self._keys: set[tuple[str, int | None]] = set()
        #: Prompts announced per rule, oldest first (a dict as an ordered set), the last ALERTED_PROMPTS kept.
        self._prompts: dict[str, dict[int, None]] = {}

    def new(self, report: Report, findings: Iterable[Finding]) -> list[Finding]:
        """The findings of ``report`` not announced before, now marked as announced."""
        index = index_of(report)
        out = []
        for finding in findings:
            lines = [(e.source, e.line) for e in finding.evidence]
            run = index.run_at(*max(lines)) if lines else None
            key = (finding.id, run.index if run is not None else None)
            seen = self._prompts.setdefault(finding.id, {})
            new_prompts = any(p not in seen for p in finding.prompts)
            fresh = key not in self._keys or (finding.severity == "error" and new_prompts)
            self._keys.add(key)
            seen.update(dict.fromkeys(finding.prompts))
            while len(seen) > ALERTED_PROMPTS:  # memory stays flat on a worker that fails every prompt for days
                del seen[next(iter(seen))]
            if fresh:
                out.append(finding)
        return out

