"""Evidence: the log lines a finding rests on, quoted as the log has them.

Texts come from the notable events the report keeps; a line it lacks (``got prompt``, validation
and import lines, progress bars) is cited with a stand-in and read back from the log file once
every rule has run, and only for the few lines the findings keep.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..events import Event, EventKind
from ..model import Evidence, Finding, Report
from ..parse.native import line_picker
from ..read.lines import lines_at
from ..read.prefixes import PrefixReader
from ..read.source import UnusableInput
from ..text import clip as clip_text

if TYPE_CHECKING:
    from ..read.redact import Redactor

#: Evidence text is cut to this many characters.
MAX_EVIDENCE_CHARS = 300


class Citations:
    """The texts of the lines rules cite, and which ones must still be read back from the files."""

    def __init__(self, report: Report) -> None:
        self.report = report
        #: The notable events' texts by (source, line), made at the first ``cite`` (many logs cite none).
        self._texts: dict[tuple[int, int], str] | None = None
        #: Lines cited whose text the report does not hold: (source, line).
        self.missing: set[tuple[int, int]] = set()
        #: Tracebacks cited: their exception line lies in (first, last) and is found when read back.
        self.ranges: list[tuple[Evidence, int, int]] = []

    def release(self) -> None:
        """Forget the lines' texts and what was cited (the findings hold their evidence)."""
        self._texts = {}
        self.missing = set()
        self.ranges = []

    def _line_texts(self) -> dict[tuple[int, int], str]:
        texts = self._texts
        if texts is None:
            texts = self._texts = {}
            for ev in self.report.notable:
                line, text = event_line(ev)
                if text:
                    texts.setdefault((ev.source, line), text)
        return texts

    def cite(self, source: int, line: int, fallback: str) -> Evidence:
        """The line as evidence: its text when known, else ``fallback`` until it is read back."""
        text = self._line_texts().get((source, line))
        if text is None:
            self.missing.add((source, line))
            text = fallback
        return Evidence(line=line, text=clip(text), source=source)

    def cite_event(self, ev: Event) -> Evidence:
        line, text = event_line(ev)
        evidence = Evidence(line=line, text=clip(text or ev.kind.value), source=ev.source)
        if ev.kind is EventKind.TRACEBACK and ev.end_line > ev.line:
            # The parser keeps the traceback's span, not its exception line's number: blank lines after
            # the exception extend the span, so the line is looked up when the file is read back.
            self.ranges.append((evidence, ev.line, ev.end_line))
        return evidence

    def fill_from_files(
        self, findings: list[Finding], paths: Sequence[str] | None = None, redactor: Redactor | None = None
    ) -> None:
        """Replace fallback texts by the cited lines themselves, read back from the log files.

        Only the evidence the findings kept (the first few lines of each) is read back: reading
        stops after the last of those lines, not at the last line a rule looked at.
        """
        kept = [ev for finding in findings for ev in finding.evidence]
        kept_ids = {id(ev) for ev in kept}
        ranges = [(ev, first, last) for ev, first, last in self.ranges if id(ev) in kept_ids]
        wanted: dict[int, set[int]] = defaultdict(set)
        for ev in kept:
            if (ev.source, ev.line) in self.missing:
                wanted[ev.source].add(ev.line)
        for evidence, first, last in ranges:
            wanted[evidence.source].update(range(first, last + 1))
        texts: dict[tuple[int, int], str] = {}
        for source, lines in wanted.items():
            if source < len(self.report.sources):
                info = self.report.sources[source]
                path = paths[source] if paths is not None else info.name
                read = read_back(path, lines, redactor, info.compose_prefixed)
                texts.update(((source, n), t) for n, t in read.items())
        for evidence, first, last in ranges:
            needle = evidence.text.rstrip("…")[:80]
            found = [n for n in range(last, first - 1, -1) if needle in texts.get((evidence.source, n), "")]
            if found:
                evidence.line = found[0]
        cited = {id(evidence) for evidence, _, _ in ranges}
        for finding in findings:
            for ev in finding.evidence:
                if id(ev) not in cited and (ev.source, ev.line) in self.missing and (ev.source, ev.line) in texts:
                    ev.text = clip(texts[(ev.source, ev.line)])




def event_line(ev: Event) -> tuple[int, str]:
    """The line an event's ``text`` was taken from (a traceback's text is its exception line)."""
    text = str(ev.fields.get("text") or "")
    if ev.kind is EventKind.TRACEBACK and ev.fields.get("exception_type"):
        return ev.end_line, text
    return ev.line, text


def read_back(
    path: str, lines: set[int], redactor: Redactor | None = None, compose: bool | None = None
) -> dict[int, str]:
    """The messages (prefix stripped) of ``lines`` of the log file at ``path``; {} if unreadable. ``compose``: the
    input was read as docker compose output or not (its SourceInfo): the file is read back the same way."""
    if not lines or not os.path.isfile(path):
        return {}
    try:
        texts = lines_at(path, lines, redactor, picker=line_picker(), compose=compose)
    except (OSError, UnusableInput):
        return {}
    reader = PrefixReader()
    found: dict[int, str] = {}
    for number, text in texts.items():
        parts = [p for p in text.split("\r") if p.strip()]  # tqdm redraws: the last state
        found[number] = reader.read(parts[-1] if parts else text).text.strip()
    return found


def clip(text: str, limit: int = MAX_EVIDENCE_CHARS) -> str:
    return clip_text(text.strip(), limit)

