"""The diagnosis engine: the rules catalog (``RULES``), the finding a rule returns, and ``diagnose``.

Every rule is one function registered with ``@rule(...)``: an id, a default severity, the phase
whose time it explains, one line on what triggers it, and its advice: the ``Advice`` items its
findings give, each a named string in the rule's module. The README's rules table lists those
same items (``python scripts/readme_tables.py``), so the catalog and the findings cannot drift. A rule reads
the report through ``Facts`` (facts.py) and returns Findings; each finding cites the log lines it
rests on (evidence.py), the figures it used, how sure it is and why, and ``cost_s``, the seconds
of prompt time it explains. ``diagnose`` runs them all and sorts the findings most costly first.
"""

from __future__ import annotations

import functools
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import field
from typing import TYPE_CHECKING

from ..dataclass import dataclass
from ..events import Phase
from ..gcpolicy import fewer_collections
from ..lazyre import lazy_re
from ..model import Evidence, Finding, Report
from .facts import Facts

if TYPE_CHECKING:
    from ..read.redact import Redactor

#: Evidence lines kept per finding (the rest are counted in ``Finding.evidence_total``).
MAX_EVIDENCE = 5
#: Prompts a PromptList lists at each end (the rest are counted in the finding's figures: ``prompts_not_listed``).
LISTED_PROMPTS = 20
SEVERITY_RANK = {"error": 0, "warning": 1, "info": 2}


@dataclass(frozen=True)
class Advice:
    """One piece of a rule's advice, written once.

    ``template`` may name values a finding fills in from its log (``Remove `{flag}` ...``); the
    catalog (README) shows it with the ``catalog`` values instead. A finding's advice item is
    ``ADVICE()`` or ``ADVICE(flag="--lowvram")``, never a string written anywhere else.
    """

    template: str
    catalog: dict[str, str] = field(default_factory=dict)

    def __call__(self, **values: object) -> str:
        return self.template.format(**values)

    @property
    def text(self) -> str:
        """As the catalog shows it."""
        return self.template.format(**self.catalog)

    def matches(self, item: str) -> bool:
        """Is ``item`` (a finding's advice) this template with some values filled in? Each ``{value}`` stands
        for any text, none included (a value may be an optional clause: `` (this prompt loaded X)``): the
        template's literal parts are found in order, the first at the start and the last at the end, each
        middle one where it first occurs after the one before (which leaves the most room for the rest).
        No regex: compiling one per template cost a fleet's every worker process ~70 ms."""
        parts = _literal_parts(self.template)
        if len(parts) == 1:
            return item == parts[0]
        first, *middle, last = parts
        if not item.startswith(first):
            return False
        at = len(first)
        for part in middle:
            found = item.find(part, at)
            if found < 0:
                return False
            at = found + len(part)
        return len(item) - at >= len(last) and item.endswith(last)


@functools.cache
def _literal_parts(template: str) -> list[str]:
    """``template``'s text between its ``{value}`` fields (the first and last may be empty)."""
    return FIELD_RE.split(template)


#: A value a template names.
FIELD_RE = lazy_re(r"\{\w+\}")


@dataclass(frozen=True)
class Rule:
    """One diagnosis: what triggers it and what to do, and the function that looks for it."""

    id: str
    severity: str
    #: The phase whose time the finding explains (compare uses it to name the findings behind a gap).
    phase: Phase | None
    trigger: str
    #: Every advice item its findings may give.
    advice: tuple[Advice, ...]
    check: Callable[[Facts], list[Finding]]

    @property
    def advice_text(self) -> str:
        """The advice as the catalog (README) shows it."""
        return "; ".join(a.text for a in self.advice) + "."


RULES: dict[str, Rule] = {}


def rule(
    id: str, severity: str, phase: Phase | None, trigger: str, advice: Sequence[Advice]
) -> Callable[[Callable[[Facts], list[Finding]]], Callable[[Facts], list[Finding]]]:
    """Register a rule function in the catalog under ``id``."""

    def register(check: Callable[[Facts], list[Finding]]) -> Callable[[Facts], list[Finding]]:
        if id in RULES:
            raise ValueError(f"rule {id!r} registered twice")
        RULES[id] = Rule(id, severity, phase, trigger, tuple(advice), check)
        return check

    return register


@fewer_collections()
def diagnose(
    report: Report, *, reread: bool = False, paths: Sequence[str] | None = None, redactor: Redactor | None = None
) -> list[Finding]:
    """Run every rule on ``report``; the findings, most costly first.

    Evidence text comes from the notable events the report keeps; lines it lacks (``got prompt``,
    validation and import lines, progress bars) are read back from the log files when ``reread``
    is set and the source is a file, else described from the record that cites them. ``paths``
    are the files of the sources when their names are not (redacted names), and ``redactor``
    redacts what is read back as the report's lines were.
    """
    facts = Facts(report)
    report.index_cache = facts  # the renderers' index: built once
    findings: list[Finding] = []
    try:
        for r in RULES.values():
            findings += r.check(facts)
        if reread and (facts.missing or facts.ranges):
            facts.fill_from_files(findings, paths, redactor)
    finally:
        facts.release()  # what only the rules read; the index stays
    order = {rule_id: i for i, rule_id in enumerate(RULES)}
    findings.sort(key=lambda f: (-round(f.cost_s, 3), SEVERITY_RANK.get(f.severity, 3), order.get(f.id, 99)))
    return findings


def order_catalog(ids: Sequence[str]) -> None:
    """Put RULES in the order of ``ids``, which must name every registered rule once."""
    if sorted(ids) != sorted(RULES):
        missing, extra = set(RULES) - set(ids), set(ids) - set(RULES)
        raise ValueError(f"the catalog order must list every rule once (missing {sorted(missing)}, "
                         f"unknown {sorted(extra)})")
    ordered = {rule_id: RULES[rule_id] for rule_id in ids}
    RULES.clear()
    RULES.update(ordered)


def rule_phase(finding_id: str) -> Phase | None:
    """The phase a finding's time belongs to (None for findings about failures or start-up)."""
    r = RULES.get(finding_id)
    return r.phase if r else None



class PromptList:
    """A finding's prompts as a rule meets them, in index order: the first and last LISTED_PROMPTS, the rest only
    counted. A log of 1,000,000 queued prompts that never ran made `unfinished` list every one (its JSON row 8 MB,
    and the rule held them all); a real log's finding lists a few."""

    __slots__ = ("count", "head", "tail")

    def __init__(self) -> None:
        self.count = 0
        self.head: list[int] = []
        self.tail: deque[int] = deque(maxlen=LISTED_PROMPTS)

    def add(self, index: int) -> None:
        self.count += 1
        if len(self.head) < LISTED_PROMPTS:
            self.head.append(index)
        else:
            self.tail.append(index)

    @property
    def listed(self) -> list[int]:
        return [*self.head, *self.tail]


def finding(
    rule_id: str,
    title: str,
    confidence: str,
    why: str,
    advice: list[str],
    evidence: list[Evidence],
    figures: dict[str, object] | None = None,
    cost_s: float = 0.0,
    prompts: Iterable[int] | PromptList = (),
    severity: str | None = None,
    total: int = 0,
) -> Finding:
    """A finding of rule ``rule_id``, its evidence cut to the first few lines (all counted).

    Rules with many lines pass only the first few and their number as ``total``; rules with many prompts a
    PromptList, whose prompts left out the figures count (``prompts_not_listed``, only where not 0).
    """
    if not evidence:
        raise ValueError(f"finding {rule_id!r} without evidence")
    catalog = RULES[rule_id].advice
    for item in advice:
        if not any(a.matches(item) for a in catalog):
            raise ValueError(f"finding {rule_id!r} advises {item!r}, which is not in its rule's advice")
    unique = list({(e.source, e.line): e for e in evidence}.values())  # in the rule's order: most telling first
    figures = dict(figures or {})
    if isinstance(prompts, PromptList):
        if prompts.count > len(prompts.listed):
            figures["prompts_not_listed"] = prompts.count - len(prompts.listed)
        prompts = prompts.listed
    return Finding(
        id=rule_id,
        severity=severity or RULES[rule_id].severity,
        title=title,
        confidence=confidence,
        why=why,
        advice=advice,
        evidence=unique[:MAX_EVIDENCE],
        figures=figures,
        cost_s=round(float(cost_s), 3),
        prompts=sorted(set(prompts)),
        evidence_total=max(len(unique), total),
    )



# ---- the README table ---------------------------------------------------------------------------


def rules_markdown() -> str:
    """The rules as a markdown table (the README section between the rules markers)."""
    rows = ["| id | severity | triggered by | advice |", "|---|---|---|---|"]
    for r in RULES.values():
        rows.append(f"| `{r.id}` | {r.severity} | {_cell(r.trigger)} | {_cell(r.advice_text)} |")
    return "\n".join(rows) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
