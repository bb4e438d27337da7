"""The watch loop: read what arrived, feed it to the analysis, tell every output, refresh the view.

The view and the live findings are refreshed when the input pauses, and at most every ``refresh``
seconds while lines pour in (a log replayed from its start is read at full speed). The loop ends at
the end of a pipe, when ``stop()`` says so (Ctrl-C, SIGTERM), or at the first finding as severe as
``exit_on``; then the input is finished and every output gets the report ``analyze`` makes of the
same bytes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import field

from ..dataclass import dataclass
from ..diagnose import SEVERITY_RANK
from ..model import Finding, Report
from .analysis import LiveAnalysis
from .findings import Alerts, live_findings
from .follow import Follower
from .live import Snapshot, snapshot
from .outputs import Output


@dataclass
class Settings:
    #: Seconds to wait for new lines before looking again (``tail -s``).
    poll: float = 0.25
    #: The view and the live findings are refreshed at least this often while lines pour in.
    refresh: float = 1.0
    #: End at the first finding of this severity or worse (``error``, ``warning``), exit status 1.
    exit_on: str | None = None


@dataclass
class Outcome:
    report: Report
    #: 1 when a finding met ``--exit-on``, else 0.
    status: int
    #: Findings announced, in order.
    findings: list[Finding] = field(default_factory=list)


def watch(
    follower: Follower, analysis: LiveAnalysis, outputs: list[Output], settings: Settings,
    stop: Callable[[], bool] = lambda: False,
) -> Outcome:
    """Follow until the input ends, ``stop()`` or a finding met ``settings.exit_on``; the final report."""
    alerts = Alerts()
    announced: list[Finding] = []
    notices: list[str] = []
    exit_rank = SEVERITY_RANK[settings.exit_on] if settings.exit_on else None
    last_refresh = time.monotonic()
    looked_at = -1
    tripped = False
    window_findings: tuple[Report, list[Finding]] | None = None

    def announce(report: Report, findings: list[Finding], snap: Snapshot | None) -> bool:
        hit = False
        for finding in alerts.new(report, findings):
            announced.append(finding)
            for out in outputs:
                out.found(finding, snap)
            if exit_rank is not None and SEVERITY_RANK.get(finding.severity, 9) <= exit_rank:
                hit = True
        return hit

    def tell(new: list[str]) -> None:
        for notice in new:
            notices.append(notice)
            for out in outputs:
                out.noticed(notice)

    while not stop():
        block = follower.read(settings.poll)
        if block is None:
            break
        if block:
            analysis.feed(block)
            tell(analysis.notices())  # how the lines were read (compose output) comes before what they said
            for happening in analysis.take():
                for out in outputs:
                    out.happened(happening)
        tell(follower.notices())
        now = time.monotonic()
        if block and now - last_refresh < settings.refresh:
            continue
        last_refresh = now
        if analysis.version != looked_at or window_findings is None:
            looked_at = analysis.version
            window_findings = live_findings(analysis)
        window, findings = window_findings
        snap = snapshot(analysis, window, notices, follower.status())
        tripped = announce(window, findings, snap)
        for out in outputs:
            out.update(snap)
        if tripped:
            break
    report = analysis.finish(follower.rest())
    tell(analysis.notices())
    for happening in analysis.take():
        for out in outputs:
            out.happened(happening)
    tripped = announce(report, report.findings, None) or tripped
    for out in outputs:
        out.finish(report)
    return Outcome(report, 1 if tripped else 0, announced)

