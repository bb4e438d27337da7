"""Diagnosis: a catalog of rules that turn a Report into findings, each with evidence and advice.

Every rule is one function registered with ``@rule(...)`` in ``RULES``: an id, a default severity,
the phase whose time it explains, and one line each on what triggers it and what to do (the
README's rules table is generated from these, ``python -m comfylog.diagnose --markdown``). A rule
reads the Report through ``Facts`` and returns Findings; each finding cites the log lines it rests
on (their text, the first few plus a count), the figures it used, how sure it is and why, and
``cost_s``, the seconds of prompt time it explains. ``diagnose`` runs them all and sorts the
findings most costly first.
"""

from __future__ import annotations

import os
from array import array
from bisect import bisect_left, bisect_right
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Generic, Protocol, TypeVar

from ..events import Event, EventKind, Phase
from ..gcpolicy import fewer_collections
from ..model import ErrorRecord, Evidence, Finding, Load, ProgressBar, Prompt, Report, Run
from ..parse.table import is_oom
from ..read.redact import Redactor

#: Evidence lines kept per finding (the rest are counted in ``Finding.evidence_total``).
MAX_EVIDENCE = 5
#: Evidence text is cut to this many characters.
MAX_EVIDENCE_CHARS = 300
#: GPUs at least this large (MB) hold the usual image and video models in full.
LARGE_GPU_MB = 12_000
#: Below this (MB) a GPU is too small for SDXL-class models; partial loading is expected there.
SMALL_GPU_MB = 8_000
#: A partial load offered less than this share of the GPU's VRAM was starved, not too big.
STARVED_SHARE = 0.10
#: A model whose size is known is "too big" beyond this share of the GPU's VRAM.
TOO_BIG_SHARE = 0.8
#: Model loading slower than this (MB/s) is far below a local disk (SSDs read 500 MB/s and more).
SLOW_LOAD_MB_S = 200.0
#: What a local SSD reads (MB/s): the time beyond it is what a slow volume costs.
LOCAL_DISK_MB_S = 500.0
#: slow-load only judges prompts that spent at least this long loading, and this much data.
SLOW_LOAD_MIN_S = 20.0
SLOW_LOAD_MIN_MB = 1_000.0
#: Restarts in one log from which a crash loop is reported.
RESTART_LOOP_MIN = 2
#: A custom node importing this long (seconds) is reported as slow.
SLOW_IMPORT_S = 10.0
#: A model reloaded in this many prompts in a row is reload thrash.
RELOAD_STREAK = 3
#: Wait at least this long (seconds) is a warning rather than information.
WAIT_WARNING_S = 30.0

SEVERITY_RANK = {"error": 0, "warning": 1, "info": 2}
QUANTIZED_PREFIXES = ("Q", "IQ", "TQ")


@dataclass(frozen=True)
class Rule:
    """One diagnosis: what triggers it and what to do, and the function that looks for it."""

    id: str
    severity: str
    #: The phase whose time the finding explains (compare uses it to name the findings behind a gap).
    phase: Phase | None
    trigger: str
    advice: str
    check: Callable[[Facts], list[Finding]]


RULES: dict[str, Rule] = {}


def rule(
    id: str, severity: str, phase: Phase | None, trigger: str, advice: str
) -> Callable[[Callable[[Facts], list[Finding]]], Callable[[Facts], list[Finding]]]:
    """Register a rule function in the catalog under ``id``."""

    def register(check: Callable[[Facts], list[Finding]]) -> Callable[[Facts], list[Finding]]:
        if id in RULES:
            raise ValueError(f"rule {id!r} registered twice")
        RULES[id] = Rule(id, severity, phase, trigger, advice, check)
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
    findings: list[Finding] = []
    for r in RULES.values():
        findings += r.check(facts)
    if reread and (facts.missing or facts.ranges):
        facts.fill_from_files(findings, paths, redactor)
    order = {rule_id: i for i, rule_id in enumerate(RULES)}
    findings.sort(key=lambda f: (-round(f.cost_s, 3), SEVERITY_RANK.get(f.severity, 3), order.get(f.id, 99)))
    return findings


def rule_phase(finding_id: str) -> Phase | None:
    """The phase a finding's time belongs to (None for findings about failures or start-up)."""
    r = RULES.get(finding_id)
    return r.phase if r else None


# ---- shared facts -----------------------------------------------------------------------------


class _RunLookup:
    """Finds the run holding a line by bisection (a long log has thousands of runs).

    Per source, runs come in line order; the first run (in that order) holding ``line`` is the
    first whose running maximum of ``last_line`` reaches it, among those starting at or before it.
    """

    def __init__(self, runs: Sequence[Run]) -> None:
        self._firsts: dict[int, list[int]] = defaultdict(list)
        self._reach: dict[int, list[int]] = defaultdict(list)
        self._positions: dict[int, list[int]] = defaultdict(list)  # the runs may be on disk (spool.py)
        self._linear = runs
        self.sorted = True
        for position, run in enumerate(runs):
            firsts, reach = self._firsts[run.source], self._reach[run.source]
            if firsts and run.first_line < firsts[-1]:
                self.sorted = False
            firsts.append(run.first_line)
            reach.append(max(run.last_line, reach[-1]) if reach else run.last_line)
            self._positions[run.source].append(position)

    def find(self, source: int, line: int) -> Run | None:
        if not self.sorted:
            return next((r for r in self._linear if r.source == source and r.first_line <= line <= r.last_line), None)
        positions = self._positions.get(source)
        if not positions:
            return None
        starting = bisect_right(self._firsts[source], line)  # runs[:starting] start at or before line
        i = bisect_left(self._reach[source], line)
        if i < starting:
            run = self._linear[positions[i]]
            if run.first_line <= line <= run.last_line:
                return run
        return None


class _Attributed(Protocol):
    prompt: int | None


R = TypeVar("R", bound=_Attributed)
N = TypeVar("N", Run, Prompt)


class _ByIndex(Generic[N]):
    """Runs or prompts by their ``index``, looked up in the table (which may be on disk, spool.py)."""

    def __init__(self, table: Sequence[N], numbered: bool | None = None) -> None:
        """``numbered``: whether each item's index is its position (the usual numbering), if known."""
        self._table: Sequence[N] = table
        self._positions: dict[int, int] | None = None
        if numbered is None:
            numbered = all(item.index == position for position, item in enumerate(table))
        if not numbered:
            self._positions = {item.index: position for position, item in enumerate(table)}

    def get(self, index: int) -> N | None:
        if self._positions is not None:
            position = self._positions.get(index)
            return None if position is None else self._table[position]
        return self._table[index] if 0 <= index < len(self._table) else None


class _ByPrompt(Generic[R]):
    """The records of one table by prompt, kept as positions: the table may be on disk (spool.py).

    Records come in prompt order nearly always; then a lookup is two bisections of one array.
    """

    def __init__(self, records: Sequence[R]) -> None:
        self._records = records
        keys = array("q", (-1 if r.prompt is None else r.prompt for r in records))
        self._order: array[int] | None = None
        if any(keys[i] > keys[i + 1] for i in range(len(keys) - 1)):
            order = sorted(range(len(keys)), key=keys.__getitem__)  # stable: log order within a prompt
            self._order = array("q", order)
            keys = array("q", (keys[i] for i in order))
        self._keys = keys

    def of(self, prompt: int) -> list[R]:
        lo, hi = bisect_left(self._keys, prompt), bisect_right(self._keys, prompt)
        order = self._order
        return [self._records[i if order is None else order[i]] for i in range(lo, hi)]


#: Groups of prompts some rules pick out, found in one pass (Facts.prompts_in).
PROMPT_GROUPS: dict[str, Callable[[Prompt], bool]] = {
    "timed": lambda p: _is_timed(p),  # defined below; looked up when called
    "unfinished": lambda p: p.status == "unfinished",
    "invalid": lambda p: p.status == "invalid",
    "ws_timeouts": lambda p: p.ws_timeouts > 0,
    "lowvram_modules": lambda p: p.lowvram_module_loads > 0,
    "quantized": lambda p: bool(p.gguf_qtypes) and any(n.startswith(QUANTIZED_PREFIXES) for n in p.gguf_qtypes or ()),
}


class Facts:
    """What the rules share: the report, indexes over it, and the texts of the lines they cite.

    A long log's record tables live mostly on disk (spool.py) and every pass over one decodes it
    all, so the tables are read here once, into positions by prompt, run and group, and the
    rules ask these indexes instead of filtering a whole table each.
    """

    def __init__(self, report: Report) -> None:
        self.report = report
        self.runs = _ByIndex(report.runs)
        self.events: dict[EventKind, list[Event]] = defaultdict(list)
        self._texts: dict[tuple[int, int], str] = {}
        grouped: dict[tuple[EventKind, int], list[Event]] = defaultdict(list)
        for ev in report.notable:
            self.events[ev.kind].append(ev)
            grouped[(ev.kind, ev.source)].append(ev)
            line, text = event_line(ev)
            if text:
                self._texts.setdefault((ev.source, line), text)
        #: Events by (kind, source) in line order, with their lines, for range lookups.
        self._spans: dict[tuple[EventKind, int], tuple[list[int], list[Event]]] = {}
        for key, events in grouped.items():
            events.sort(key=lambda e: e.line)
            self._spans[key] = ([e.line for e in events], events)
        self._run_lookup: _RunLookup | None = None
        self._loads = _ByPrompt(report.loads)
        self._errors = _ByPrompt(report.errors)
        self._bars = _ByPrompt(report.progress_bars)
        self._groups: dict[str, array[int]] = {name: array("q") for name in PROMPT_GROUPS}
        self._by_run: dict[int, array[int]] = defaultdict(lambda: array("q"))
        tests = [(test, self._groups[name]) for name, test in PROMPT_GROUPS.items()]
        numbered = True
        for position, prompt in enumerate(report.prompts):
            numbered = numbered and prompt.index == position
            self._by_run[prompt.run].append(position)
            for test, positions in tests:
                if test(prompt):
                    positions.append(position)
        self._prompts = _ByIndex(report.prompts, numbered)
        #: KeyboardInterrupt records by source: how runs were stopped by hand (run_end).
        self._ctrl_c: dict[int, list[int]] = defaultdict(list)
        for e in report.errors:
            if e.kind == "interrupted" and "KeyboardInterrupt" in e.message:
                self._ctrl_c[e.source].append(e.line)
        #: Lines cited whose text the report does not hold: (source, line).
        self.missing: set[tuple[int, int]] = set()
        #: Tracebacks cited: their exception line lies in (first, last) and is found when read back.
        self.ranges: list[tuple[Evidence, int, int]] = []
        self._silent: dict[int, str] | None = None
        self._ends: dict[int, str] = {}

    # -- lookups
    def run_of(self, prompt: Prompt) -> Run | None:
        return self.runs.get(prompt.run)

    def run_at(self, source: int, line: int) -> Run | None:
        """The first run (in report order) of ``source`` whose lines hold ``line``."""
        if self._run_lookup is None:
            self._run_lookup = _RunLookup(self.report.runs)
        return self._run_lookup.find(source, line)

    def between(self, kind: EventKind, source: int, first: int, last: int) -> list[Event]:
        """Events of ``kind`` starting on lines ``first`` to ``last`` of ``source``."""
        found = self._spans.get((kind, source))
        if found is None:
            return []
        lines, events = found
        return events[bisect_left(lines, first):bisect_right(lines, last)]

    def prompt_events(self, kind: EventKind, prompt: Prompt) -> list[Event]:
        return self.between(kind, prompt.source, prompt.line, prompt.last_line or prompt.line)

    def run_events(self, kind: EventKind, run: Run) -> list[Event]:
        return self.between(kind, run.source, run.first_line, run.last_line)

    def prompts_by_index(self, indexes: Iterable[int]) -> list[Prompt]:
        return list(self.prompts_at(sorted(set(indexes))))

    def prompts_at(self, indexes: Iterable[int]) -> Iterator[Prompt]:
        """The prompts with these indexes, one at a time (a long streak need not be held whole)."""
        for index in indexes:
            prompt = self._prompts.get(index)
            if prompt is not None:
                yield prompt

    def prompts_in(self, group: str) -> Iterator[Prompt]:
        """The prompts of one of PROMPT_GROUPS, in report order."""
        prompts = self.report.prompts
        return (prompts[i] for i in self._groups[group])

    def prompts_of_runs(self, runs: Iterable[int]) -> Iterator[Prompt]:
        """The prompts of these runs, in report order."""
        prompts = self.report.prompts
        positions = sorted(i for run in set(runs) for i in self._by_run.get(run, ()))
        return (prompts[i] for i in positions)

    def loads_of(self, prompt: Prompt) -> list[Load]:
        return self._loads.of(prompt.index)

    def errors_of(self, prompt: Prompt) -> list[ErrorRecord]:
        return self._errors.of(prompt.index)

    def bars_of(self, prompt: Prompt) -> list[ProgressBar]:
        return self._bars.of(prompt.index)

    def run_end(self, run: Run) -> str:
        """How a run ended: ``restart`` (the next start-up followed), ``stopped`` (``Stopped server``
        or Ctrl-C), or ``log-ends`` (the log just stops)."""
        if run.index in self._ends:
            return self._ends[run.index]
        following = self.runs.get(run.index + 1)
        if following is not None and following.source == run.source and following.restart:
            end = "restart"
        elif run.stopped or any(run.first_line <= line <= run.last_line for line in self._ctrl_c.get(run.source, ())):
            end = "stopped"
        else:
            end = "log-ends"
        self._ends[run.index] = end
        return end

    def silent_deaths(self) -> dict[int, str]:
        """Prompts cut off during sampling with no error, by index -> how their run ended.

        The shared test of ``oom-suspected`` (which reports them) and ``unfinished`` (which leaves
        them to it): the prompt was running, its last progress bar is a sampling bar short of its
        total, nothing was logged as an error, and the run was not stopped on purpose.
        """
        if self._silent is None:
            self._silent = {}
            for prompt in self.prompts_in("unfinished"):
                if prompt.total_s is None or self.errors_of(prompt):
                    continue
                run = self.run_of(prompt)
                if run is None:
                    continue
                end = self.run_end(run)
                bars = self.bars_of(prompt)
                if end != "stopped" and bars and not bars[-1].is_loading and bars[-1].done < bars[-1].total:
                    self._silent[prompt.index] = end
        return self._silent

    # -- evidence
    def cite(self, source: int, line: int, fallback: str) -> Evidence:
        """The line as evidence: its text when known, else ``fallback`` until it is read back."""
        text = self._texts.get((source, line))
        if text is None:
            self.missing.add((source, line))
            text = fallback
        return Evidence(line=line, text=_clip(text), source=source)

    def cite_event(self, ev: Event) -> Evidence:
        line, text = event_line(ev)
        evidence = Evidence(line=line, text=_clip(text or ev.kind.value), source=ev.source)
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
                path = paths[source] if paths is not None else self.report.sources[source].name
                texts.update(((source, n), t) for n, t in read_back(path, lines, redactor).items())
        for evidence, first, last in ranges:
            needle = evidence.text.rstrip("…")[:80]
            found = [n for n in range(last, first - 1, -1) if needle in texts.get((evidence.source, n), "")]
            if found:
                evidence.line = found[0]
        cited = {id(evidence) for evidence, _, _ in ranges}
        for finding in findings:
            for ev in finding.evidence:
                if id(ev) not in cited and (ev.source, ev.line) in self.missing and (ev.source, ev.line) in texts:
                    ev.text = _clip(texts[(ev.source, ev.line)])


def event_line(ev: Event) -> tuple[int, str]:
    """The line an event's ``text`` was taken from (a traceback's text is its exception line)."""
    text = str(ev.fields.get("text") or "")
    if ev.kind is EventKind.TRACEBACK and ev.fields.get("exception_type"):
        return ev.end_line, text
    return ev.line, text


def read_back(path: str, lines: set[int], redactor: Redactor | None = None) -> dict[int, str]:
    """The messages (prefix stripped) of ``lines`` of the log file at ``path``; {} if unreadable."""
    from ..read.lines import lines_at
    from ..read.prefixes import PrefixReader
    from ..read.source import UnusableInput

    if not lines or not os.path.isfile(path):
        return {}
    try:
        texts = lines_at(path, lines, redactor)
    except (OSError, UnusableInput):
        return {}
    reader = PrefixReader()
    found: dict[int, str] = {}
    for number, text in texts.items():
        parts = [p for p in text.split("\r") if p.strip()]  # tqdm redraws: the last state
        found[number] = reader.read(parts[-1] if parts else text).text.strip()
    return found


def _clip(text: str, limit: int = MAX_EVIDENCE_CHARS) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _finding(
    rule_id: str,
    title: str,
    confidence: str,
    why: str,
    advice: list[str],
    evidence: list[Evidence],
    figures: dict[str, object] | None = None,
    cost_s: float = 0.0,
    prompts: Iterable[int] = (),
    severity: str | None = None,
    total: int = 0,
) -> Finding:
    """A finding of rule ``rule_id``, its evidence cut to the first few lines (all counted).

    Rules with many lines pass only the first few and their number as ``total``.
    """
    if not evidence:
        raise ValueError(f"finding {rule_id!r} without evidence")
    unique = list({(e.source, e.line): e for e in evidence}.values())  # in the rule's order: most telling first
    return Finding(
        id=rule_id,
        severity=severity or RULES[rule_id].severity,
        title=title,
        confidence=confidence,
        why=why,
        advice=advice,
        evidence=unique[:MAX_EVIDENCE],
        figures=dict(figures or {}),
        cost_s=round(float(cost_s), 3),
        prompts=sorted(set(prompts)),
        evidence_total=max(len(unique), total),
    )


# ---- small helpers ------------------------------------------------------------------------------


def dur(seconds: float) -> str:
    """``51.1s``, ``6:04``, ``1:02:03``: the way the terminal report prints durations."""
    if seconds < 60:
        return f"{seconds:.1f}s"
    whole = int(round(seconds))
    h, rest = divmod(whole, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def gpu_vram_mb(run: Run | None) -> int | None:
    """The GPU's own memory (MB); None where the log's figure is not dedicated VRAM.

    MPS and CPU report system memory, and DirectML (``privateuseone``) a 1024 MB placeholder.
    """
    if run is None or run.total_vram_mb is None:
        return None
    device = (run.device or run.gpu or "").lower()
    if device.startswith(("mps", "cpu", "privateuseone")) or run.vram_state in ("SHARED", "DISABLED"):
        return None
    return run.total_vram_mb


def gb(mb: float) -> str:
    """A GPU's size the way cards are sold: 24217 MB -> ``24 GB``."""
    return f"{max(1, round(mb / 1024))} GB"


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else (plural or word + 's')}"


def _gpu_phrase(run: Run | None) -> str:
    if run is None:
        return "the GPU"
    vram = gpu_vram_mb(run)
    name = run.gpu or "the GPU"
    return f"a {gb(vram)} {name}" if vram else name


@dataclass(slots=True, frozen=True)
class _PromptRef:
    """What a rule about many prompts keeps of each: a Prompt is ~10x bigger."""

    index: int
    run: int
    source: int
    line: int
    total_s: float | None


def prompt_seconds(prompt: Prompt) -> float:
    """A prompt's duration: as ComfyUI printed it when it did, else as measured."""
    if prompt.executed_s is not None:
        return prompt.executed_s
    return prompt.total_s or 0.0


def _is_timed(prompt: Prompt) -> bool:
    """Measured from timestamps (not estimated from a printed duration), and longer than nothing."""
    return bool(prompt.total_s) and not prompt.estimated


def _timed(prompts: Iterable[Prompt]) -> list[Prompt]:
    return [p for p in prompts if _is_timed(p)]


def _basename(path: str) -> str:
    return path.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]


# ---- rules: loading -----------------------------------------------------------------------------


@rule(
    "lowvram", "warning", Phase.LOAD,
    trigger="`loaded partially`, `loading in lowvram mode` or `lowvram: loaded module` lines: weights "
    "that stay partly in RAM. A warning when the GPU could hold them (only a sliver of a 12 GB+ GPU was "
    "offered, or the models just did not fit the free VRAM); information on GPUs under 8 GB or models "
    "larger than the GPU, where it is expected.",
    advice="Load on the main GPU: check the loader's device / offload option, drop `--lowvram`, "
    "`--novram`, `--reserve-vram`, and free VRAM held by other models or processes.",
)
def _lowvram(facts: Facts) -> list[Finding]:
    report = facts.report
    partial = [ld for ld in report.loads if ld.kind in ("partial", "lowvram")]
    modules = facts.events[EventKind.LOWVRAM_MODULES]
    module_lines = max(report.summary.lowvram_module_loads, sum(int(ev.fields.get("count", 1)) for ev in modules))
    if not partial and not module_lines:
        return []
    places = [(ld.source, ld.line) for ld in partial] + [(ev.source, ev.line) for ev in modules]
    runs = {r.index: r for r in (facts.run_at(s, n) for s, n in places) if r is not None}
    sizes = {r.index: gpu_vram_mb(r) for r in runs.values()}
    known = [v for v in sizes.values() if v is not None]
    vram = min(known) if known else None
    run = next((r for r in runs.values() if gpu_vram_mb(r) == vram), next(iter(runs.values()), None))
    partial_events = {(ev.source, ev.line): ev for ev in facts.events[EventKind.LOADED_PARTIALLY]}
    model_sizes = []
    for ld in partial:
        ev = partial_events.get((ld.source, ld.line))
        if ev is not None and ev.fields.get("offloaded_mb") is not None:
            model_sizes.append(float(ev.fields.get("loaded_mb", 0.0)) + float(ev.fields["offloaded_mb"]))
    offered = [ld.usable_mb for ld in partial if ld.usable_mb is not None]
    least = min(offered) if offered else None

    affected = {ld.prompt for ld in partial if ld.prompt is not None}
    affected |= {p.index for p in facts.prompts_in("lowvram_modules")}
    timed = 0  # summed one prompt at a time: there may be thousands
    load_s: float = 0  # an int 0 when nothing is timed, as sum([]) gave
    total_s: float = 0
    for prompt in facts.prompts_at(sorted(affected)):
        if _is_timed(prompt):
            timed, load_s, total_s = timed + 1, load_s + prompt.phases.load, total_s + (prompt.total_s or 0.0)
    share = load_s / total_s if total_s else 0.0

    kinds = []
    if any(ld.kind == "partial" for ld in partial):
        kinds.append(_plural(sum(ld.kind == "partial" for ld in partial), "`loaded partially` line"))
    if any(ld.kind == "lowvram" for ld in partial):
        kinds.append(_plural(sum(ld.kind == "lowvram" for ld in partial), "`loading in lowvram mode` line"))
    if module_lines:
        kinds.append(_plural(module_lines, "`lowvram: loaded module` line"))
    what = ", ".join(kinds)
    if timed and load_s:
        cost_text = (f"Loading took {dur(load_s)} of {dur(total_s)} of prompt time ({share:.0%}), and weights "
                     "left in RAM also slow every sampling step.")
    else:
        cost_text = "The log's timestamps cannot time the loads (minute stamps or none), so the cost is not measured."

    figures: dict[str, object] = {
        "partial_loads": sum(ld.kind == "partial" for ld in partial),
        "lowvram_mode_loads": sum(ld.kind == "lowvram" for ld in partial),
        "lowvram_module_lines": module_lines,
        "total_vram_mb": vram,
        "least_offered_mb": round(least, 1) if least is not None else None,
        "largest_model_mb": round(max(model_sizes), 1) if model_sizes else None,
        "load_s": round(load_s, 3),
        "prompt_s": round(total_s, 3),
        "load_share": round(share, 3),
    }
    evidence = [facts.cite_event(ev) for ev in facts.events[EventKind.LOADED_PARTIALLY][:MAX_EVIDENCE]]
    evidence += [facts.cite_event(ev) for ev in facts.events[EventKind.LOWVRAM_MODE][:MAX_EVIDENCE]]
    evidence += [facts.cite_event(ev) for ev in modules[:MAX_EVIDENCE]]
    if not evidence:  # the report kept no events for them (a huge log): cite the load records
        evidence = [facts.cite(ld.source, ld.line, f"loaded partially {ld.usable_mb} {ld.loaded_mb}")
                    for ld in partial[:MAX_EVIDENCE]]
    if not evidence:
        return []
    lines_total = len(partial) + module_lines
    where = _gpu_phrase(run)

    if vram is None:
        return [_finding(
            "lowvram", "Models loaded partially (lowvram): part of their weights stayed in RAM", "medium",
            f"{what}. The log does not give this device's own VRAM size, so whether it could hold the models "
            f"is unknown. {cost_text}",
            ["Load on the main device: check the loader's device / offload option and `--lowvram` / `--novram`",
             "Smaller weights (fp8, GGUF) need less VRAM"],
            evidence, figures, load_s, affected, severity="warning", total=lines_total)]
    if vram < SMALL_GPU_MB or (model_sizes and max(model_sizes) > TOO_BIG_SHARE * vram):
        too_big = bool(model_sizes) and max(model_sizes) > TOO_BIG_SHARE * vram
        reason = (f"the model needs {max(model_sizes):.0f} MB" if too_big
                  else f"a {gb(vram)} GPU is too small for models of this kind")
        return [_finding(
            "lowvram", f"The {gb(vram)} GPU cannot hold the models in full: ComfyUI loads them partially "
            "(expected, and slow)", "high",
            f"{what} on {where}: {reason}, so ComfyUI keeps part of the weights in RAM. This is the expected "
            f"way to run on this GPU, not a misconfiguration. {cost_text}",
            ["Expected on this GPU; quantized weights (fp8, GGUF Q4-Q5) or a smaller model reduce the offloading",
             "A GPU with more VRAM removes it"],
            evidence, figures, load_s, affected, severity="info", total=lines_total)]
    if least is not None and least < STARVED_SHARE * vram:
        return [_finding(
            "lowvram", f"Models loaded partially (lowvram) on {where}: only {least:.0f} MB of VRAM was offered "
            "to them", "high" if share >= 0.3 or not timed else "medium",
            f"{what}: ComfyUI gave the models at most {least:.0f} MB of the GPU's {vram} MB and moved the rest "
            f"of their weights piece by piece. A {gb(vram)} GPU holds models like these in full, so the VRAM was "
            "taken or withheld: other models still loaded, another process, a memory reservation "
            f"(`--reserve-vram`) or a loader told to offload. {cost_text}",
            ["Load the models on the main GPU: check the loader node's device / offload option (UNet, GGUF, "
             "VAE and text-encoder loaders)",
             "Drop `--lowvram` / `--novram` / `--reserve-vram` from the start command and make sure no other "
             "process holds VRAM (nvidia-smi)",
             "Compare with a run that loads completely: `comfylog compare THIS.log BASELINE.log`"],
            evidence, figures, load_s, affected, total=lines_total)]
    return [_finding(
        "lowvram", f"Models did not fit in the free VRAM of {where} and were loaded partially", "medium",
        f"{what}, with {least:.0f} MB and more offered: the workflow's models together need more than the "
        f"free VRAM, so ComfyUI keeps part of their weights in RAM. {cost_text}"
        if least is not None else f"{what}: part of the weights stayed in RAM. {cost_text}",
        ["Use smaller weights (fp8, GGUF) or a smaller text encoder so everything fits",
         "Unload what the next step does not need (models held from earlier steps or prompts)",
         "A GPU with more VRAM"],
        evidence, figures, load_s, affected, total=lines_total)]


@rule(
    "lowvram-forced", "warning", Phase.LOAD,
    trigger="`Set vram state to: LOW_VRAM` or `NO_VRAM` on a GPU of 12 GB or more: ComfyUI chooses "
    "these by itself only on 4 GB cards, so the start command asked for them.",
    advice="Remove `--lowvram` / `--novram` from the start command (or the template's extra arguments).",
)
def _lowvram_forced(facts: Facts) -> list[Finding]:
    evidence: list[Evidence] = []
    runs: list[Run] = []
    for run in facts.report.runs:
        vram = gpu_vram_mb(run)
        states = [s for s in run.vram_states if s in ("LOW_VRAM", "NO_VRAM")]
        if not states or vram is None or vram < LARGE_GPU_MB:
            continue
        lines = [ev for ev in facts.run_events(EventKind.VRAM_STATE, run)
                 if ev.fields.get("state") in states and not ev.fields.get("automatic")]
        if lines:
            runs.append(run)
            evidence += [facts.cite_event(ev) for ev in lines]
    if not runs:
        return []
    run = runs[0]
    state = next(s for s in run.vram_states if s in ("LOW_VRAM", "NO_VRAM"))
    flag = "--lowvram" if state == "LOW_VRAM" else "--novram"
    indexes = {r.index for r in runs}
    prompts = list(facts.prompts_of_runs(indexes))
    offloaded = {ld.prompt for ld in facts.report.loads if ld.kind in ("partial", "lowvram")}
    load_s = sum(p.phases.load for p in _timed(prompts) if p.index in offloaded or p.lowvram_module_loads)
    return [_finding(
        "lowvram-forced", f"{state} on {_gpu_phrase(run)}: ComfyUI was started with `{flag}`", "high",
        f"ComfyUI picks LOW_VRAM by itself only for GPUs of 4 GB or less; on a {gb(run.total_vram_mb or 0)} GPU "
        f"{state} comes from `{flag}` in the start command, which keeps weights off the GPU."
        + (f" Prompts that loaded partially spent {dur(load_s)} loading." if load_s else ""),
        [f"Remove `{flag}` from the start command (or the template's / endpoint's extra arguments)",
         "Keep it only for a workflow that does not fit otherwise"],
        evidence, {"vram_state": state, "total_vram_mb": run.total_vram_mb, "load_s": round(load_s, 3)},
        load_s, (p.index for p in prompts))]


@rule(
    "cpu-only", "warning", Phase.INFERENCE,
    trigger="`Device: cpu` (vram state DISABLED): every step runs on the CPU, many times slower than on a GPU.",
    advice="Start ComfyUI without `--cpu` (portable build: `run_nvidia_gpu.bat`), with a GPU build of PyTorch.",
)
def _cpu_only(facts: Facts) -> list[Finding]:
    runs = [r for r in facts.report.runs if (r.gpu or "").strip().lower() == "cpu"]
    if not runs:
        return []
    evidence = [facts.cite_event(ev) for run in runs for ev in facts.run_events(EventKind.VRAM_STATE, run)]
    if not evidence:
        return []
    indexes = {r.index for r in runs}
    prompts = list(facts.prompts_of_runs(indexes))
    inference = sum(p.phases.inference for p in prompts)
    version = next((r.pytorch_version for r in runs if r.pytorch_version), None)
    gpu_build = version is not None and ("+cu" in version or "+rocm" in version)
    why = "ComfyUI runs on the CPU (`Device: cpu`), so every sampling step is computed there"
    if gpu_build:
        why += (f"; PyTorch {version} is a GPU build, so ComfyUI was started with `--cpu` (the portable "
                "build's `run_cpu.bat`) or found no usable GPU")
    why += "." + (f" Sampling took {dur(inference)} in all." if inference else "")
    return [_finding(
        "cpu-only", "Sampling on the CPU: no GPU in use", "high", why,
        ["If the machine has an NVIDIA GPU, start ComfyUI without `--cpu` (portable build: `run_nvidia_gpu.bat`)",
         "Otherwise install a GPU build of PyTorch for the GPU (CUDA, ROCm, XPU) or use a GPU machine"],
        evidence, {"pytorch_version": version, "inference_s": round(inference, 3)}, inference,
        (p.index for p in prompts))]


@rule(
    "gguf", "info", Phase.INFERENCE,
    trigger="`gguf qtypes` lines naming quantized tensor types (Q4_K, Q5_K, Q8_0, ...): ComfyUI-GGUF weights.",
    advice="Where the VRAM allows, fp8 or fp16 weights sample faster; keep GGUF where it is what makes the "
    "model fit.",
)
def _gguf(facts: Facts) -> list[Finding]:
    events = [ev for ev in facts.events[EventKind.GGUF_QTYPES]
              if any(name.startswith(QUANTIZED_PREFIXES) for name in ev.fields.get("qtypes", {}))]
    if not events:
        return []
    quantized: dict[str, int] = {}
    for ev in events:
        for name, count in ev.fields["qtypes"].items():
            if name.startswith(QUANTIZED_PREFIXES):
                quantized[name] = max(quantized.get(name, 0), count)
    prompts = [p.index for p in facts.prompts_in("quantized")]
    run = facts.run_at(events[0].source, events[0].line)
    vram = gpu_vram_mb(run)
    types = ", ".join(sorted(quantized))
    if vram is not None and vram >= LARGE_GPU_MB:
        context = (f" On {_gpu_phrase(run)}, the fp8 or fp16 weights of the same model may fit and sample "
                   "faster; a baseline with them shows the difference in s/it.")
    else:
        context = " On a smaller GPU quantized weights are often what makes the model fit: a trade-off, not a fault."
    return [_finding(
        "gguf", f"Quantized GGUF weights ({types})", "high",
        f"{_plural(len(events), '`gguf qtypes` line')} name quantized tensors ({types}): ComfyUI-GGUF "
        f"dequantizes them during every step, which is slower per step than fp16 or fp8 weights.{context}",
        ["Where the VRAM allows, try the fp8 or fp16 weights of the same model and compare the s/it",
         "Keep GGUF where it is what makes the model fit: a partially loaded fp16 model is slower still"],
        [facts.cite_event(ev) for ev in events],
        {"qtypes": quantized, "total_vram_mb": vram}, 0.0, prompts)]


@rule(
    "slow-load", "warning", Phase.LOAD,
    trigger=f"A prompt that loads only completely (no partial loads) spends {SLOW_LOAD_MIN_S:.0f} s or more "
    f"loading at under {SLOW_LOAD_MB_S:.0f} MB/s (MB of `loaded completely` / load seconds), far below a "
    "local disk: typically a network volume.",
    advice="Put the models on the machine's local disk (or in the image), and keep workers warm so models "
    "stay in RAM between jobs.",
)
def _slow_load(facts: Facts) -> list[Finding]:
    slow: list[tuple[Prompt, float, float]] = []
    for prompt in facts.prompts_in("timed"):
        load_s = prompt.phases.load
        if load_s < SLOW_LOAD_MIN_S or prompt.lowvram_module_loads:
            continue
        loads = facts.loads_of(prompt)
        bars = [b for b in facts.bars_of(prompt) if b.is_loading]
        if bars or any(ld.kind != "complete" for ld in loads):
            continue  # partial loads are lowvram's; download bars move data comfylog cannot size
        mb = sum(ld.loaded_mb or 0.0 for ld in loads if (ld.loaded_mb or 0) < 1e9)
        if mb >= SLOW_LOAD_MIN_MB and mb / load_s < SLOW_LOAD_MB_S:
            slow.append((prompt, mb, load_s))
    if not slow:
        return []
    mb = sum(s[1] for s in slow)
    load_s = sum(s[2] for s in slow)
    rate = mb / load_s
    excess = sum(max(0.0, s[2] - s[1] / LOCAL_DISK_MB_S) for s in slow)
    evidence = [facts.cite_event(ev) for p, _, _ in slow for ev in facts.prompt_events(EventKind.LOAD_REQUESTED, p)]
    if not evidence:
        evidence = [facts.cite(p.source, ld.line, f"loaded completely {ld.loaded_mb}")
                    for p, _, _ in slow for ld in facts.loads_of(p)]
    return [_finding(
        "slow-load", f"Slow model loading: {mb / 1024:.1f} GB in {dur(load_s)} ({rate:.0f} MB/s)", "medium",
        f"{_plural(len(slow), 'prompt')} loaded {mb:.0f} MB of weights in {dur(load_s)} of load time, {rate:.0f} MB/s; "
        f"a local SSD reads {LOCAL_DISK_MB_S:.0f} MB/s or more, so about {dur(excess)} went to slow storage "
        "(a network volume is the usual cause). The load time also holds the nodes' own work, hence medium "
        "confidence.",
        ["Copy the models to the machine's local disk or bake them into the image instead of reading them "
         "from a network volume",
         "Keep workers warm (models stay in RAM between jobs) and avoid loading the same file twice"],
        evidence, {"loaded_mb": round(mb, 1), "load_s": round(load_s, 3), "mb_per_s": round(rate, 1)},
        excess, (p.index for p, _, _ in slow))]


@rule(
    "reload-thrash", "info", Phase.LOAD,
    trigger=f"The same model is `Requested to load` (moved onto the GPU again) in {RELOAD_STREAK} or more prompts "
    "in a row: it was unloaded or re-patched in between. A warning when the reloads measurably cost 10% "
    "of the prompt time.",
    advice="On small GPUs this is expected; on large ones keep models loaded (`--highvram`) and avoid "
    "alternating checkpoints or LoRAs between prompts.",
)
def _reload_thrash(facts: Facts) -> list[Finding]:
    streaks: dict[str, list[int]] = {}  # model -> indexes of the prompts of its longest streak
    current: dict[str, list[int]] = {}
    run_index: int | None = None
    for prompt in facts.report.prompts:  # one pass: a run's prompts come one after the other
        if prompt.run != run_index:
            for model, streak in current.items():
                _keep_longest(streaks, model, streak)
            current, run_index = {}, prompt.run
        if prompt.status in ("invalid", "dropped"):
            continue
        for model in list(current):
            if model not in prompt.models:
                _keep_longest(streaks, model, current.pop(model))
        for model in prompt.models:
            current.setdefault(model, []).append(prompt.index)
    for model, streak in current.items():
        _keep_longest(streaks, model, streak)
    thrash = {m: s for m, s in streaks.items() if len(s) >= RELOAD_STREAK}
    requests = [ev for ev in facts.events[EventKind.LOAD_REQUESTED] if ev.fields.get("model") in thrash]
    if not thrash or not requests:
        return []
    models = sorted(thrash, key=lambda m: -len(thrash[m]))
    prompts = sorted({i for s in thrash.values() for i in s})
    cost = _reload_seconds(facts, thrash)
    timed_total = sum(p.total_s or 0.0 for p in facts.prompts_at(prompts) if _is_timed(p))
    severity = "warning" if timed_total and cost >= 0.1 * timed_total else "info"
    first = next(facts.prompts_at(thrash[models[0]][:1]))
    run = facts.run_of(first)
    high = run is not None and "HIGH_VRAM" in run.vram_states
    small = gpu_vram_mb(run) is not None and (gpu_vram_mb(run) or 0) < SMALL_GPU_MB
    listed = ", ".join(f"{m} in {len(thrash[m])}" for m in models[:3])
    if high:
        reason = ("ComfyUI runs with HIGH_VRAM, so the reloads come from models re-patched (LoRAs, model "
                  "patches) or different checkpoints between prompts")
    elif small:
        reason = f"on {_gpu_phrase(run)} ComfyUI unloads one model to make room for the next, which is expected"
    else:
        reason = "ComfyUI unloaded them to make room, or they were re-patched (LoRAs) between prompts"
    cost_text = (f" The reloads took {dur(cost)} in all." if cost else
                 " Their cost cannot be timed from this log (or is negligible).")
    advice = (["Expected on this GPU: fewer or smaller models per workflow reduce it"] if small else
              ["Keep models loaded between prompts (`--highvram`) when the VRAM allows",
               "Group prompts by checkpoint and LoRA instead of alternating them"])
    return [_finding(
        "reload-thrash", f"Models moved onto the GPU again prompt after prompt ({listed} prompts in a row)", "high",
        f"`Requested to load` is printed only for a model that is not on the GPU: {reason}.{cost_text}",
        advice, [facts.cite_event(ev) for ev in requests[:MAX_EVIDENCE]],
        {"streaks": {m: len(thrash[m]) for m in models}, "reload_s": round(cost, 3)}, cost, prompts,
        severity=severity, total=len(requests))]


def _keep_longest(streaks: dict[str, list[int]], model: str, streak: list[int]) -> None:
    if len(streak) > len(streaks.get(model, [])):
        streaks[model] = streak


def _reload_seconds(facts: Facts, thrash: dict[str, list[int]]) -> float:
    """Seconds from each repeated ``Requested to load`` to the load line that followed it (timed logs)."""
    loads: dict[int, list[Load]] = defaultdict(list)
    for ld in facts.report.loads:
        loads[ld.source].append(ld)
    load_lines = {source: [ld.line for ld in items] for source, items in loads.items()}
    total = 0.0
    for model, streak in thrash.items():
        for prompt in facts.prompts_at(streak[1:]):  # the first load of a streak is no reload
            if prompt.estimated:
                continue
            for ev in facts.prompt_events(EventKind.LOAD_REQUESTED, prompt):
                if ev.fields.get("model") != model or ev.ts is None:
                    continue
                i = bisect_right(load_lines.get(ev.source, []), ev.line)
                after = loads[ev.source][i] if i < len(loads[ev.source]) else None
                if after is not None and after.ts is not None and after.line <= (prompt.last_line or after.line):
                    total += max(0.0, (after.ts - ev.ts).total_seconds())
    return total


# ---- rules: failures ----------------------------------------------------------------------------


@rule(
    "oom", "error", None,
    trigger="An out-of-memory error in the log: `CUDA out of memory`, `torch.OutOfMemoryError`, `Allocation "
    "on device`, `MPS backend out of memory`, DirectML `not enough GPU video memory`.",
    advice="Lower the resolution, frames or batch; tiled VAE decode; offload / block swap; "
    "`PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True`; a larger GPU.",
)
def _oom(facts: Facts) -> list[Finding]:
    records = [e for e in facts.report.errors if e.kind == "oom"]
    if not records:
        return []
    prompts = sorted({e.prompt for e in records if e.prompt is not None})
    chosen = facts.prompts_by_index(prompts)
    cost = sum(prompt_seconds(p) for p in chosen)
    run = facts.run_at(records[0].source, records[0].line)
    device = ((run.device or run.gpu or "") if run else "").lower()
    video = next((p.video for p in chosen if p.video), None)
    evidence = [_oom_evidence(facts, e) for e in records[:MAX_EVIDENCE]]
    where = _device_phrase(run)
    first = _clip(records[0].message, 140)
    why = (f"{_plural(len(records), 'out-of-memory error')} ({first}) on {where}"
           + (f", {_plural(len(prompts), 'prompt')} failed with it" if prompts else "") + ".")
    if video:
        why += (f" The prompt sampled {video['frames']} frames at {video['width']}x{video['height']} "
                f"with {video['steps']} steps.")
    advice = []
    if video:
        advice.append(f"Fewer frames or a lower resolution than {video['frames']} frames at "
                      f"{video['width']}x{video['height']}")
    else:
        advice.append("Lower the resolution or the batch size")
    advice.append("Decode with the tiled VAE node; offload weights (block swap in video wrappers, `--lowvram`)")
    if device.startswith("mps"):
        advice.append("On Apple silicon, close other apps using unified memory; the error itself names "
                      "PYTORCH_MPS_HIGH_WATERMARK_RATIO to lift the limit (at the risk of system instability)")
    elif device.startswith("privateuseone"):
        advice.append("DirectML reports no real VRAM size and frees memory poorly; CUDA or ROCm builds manage "
                      "memory better")
    else:
        advice.append("Set `PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True` to reduce fragmentation")
    advice.append("A Mac with more unified memory" if device.startswith("mps") else "A GPU with more VRAM")
    return [_finding(
        "oom", f"Out of GPU memory: {_plural(len(records), 'OOM error')}" + (
            f" in {_plural(len(prompts), 'prompt')}" if prompts else ""), "high", why, advice, evidence,
        {"errors": len(records), "prompts": len(prompts), "total_vram_mb": gpu_vram_mb(run),
         "device": run.gpu if run else None, **({"video": video} if video else {})},
        cost, prompts, total=len(records))]


def _oom_evidence(facts: Facts, record: ErrorRecord) -> Evidence:
    """The OOM line of an incident (exception, traceback end or ``Got an OOM``), else its first line."""
    end = record.end_line or record.line
    for kind in (EventKind.EXCEPTION, EventKind.TRACEBACK, EventKind.OOM):
        for ev in facts.between(kind, record.source, record.line, end):
            line, text = event_line(ev)
            if line <= end and is_oom(text):
                return facts.cite_event(ev)
    return facts.cite(record.source, record.line, record.message)


def _device_phrase(run: Run | None) -> str:
    if run is None:
        return "the GPU"
    device = (run.device or run.gpu or "").lower()
    if device.startswith("mps"):
        return f"Apple MPS (unified memory, {gb(run.total_vram_mb)})" if run.total_vram_mb else "Apple MPS"
    if device.startswith("privateuseone"):
        return "DirectML (its 1024 MB VRAM figure is a placeholder, not the card's size)"
    return _gpu_phrase(run)


@rule(
    "oom-suspected", "error", None,
    trigger="A prompt cut off during sampling (its last bar short of its total) with no error logged, "
    "followed by a restart or the end of the log; never for a prompt that finished.",
    advice="Fewer frames or a lower resolution, offload / block swap, `PYTORCH_CUDA_ALLOC_CONF`, more RAM "
    "for the container, a larger GPU.",
)
def _oom_suspected(facts: Facts) -> list[Finding]:
    findings = []
    for index, end in facts.silent_deaths().items():
        prompt = facts.prompts_by_index([index])[0]
        run = facts.run_of(prompt)
        bar = facts.bars_of(prompt)[-1]
        video = prompt.video
        into = (prompt.ended_at - bar.start).total_seconds() if prompt.ended_at and bar.start else None
        evidence = [facts.cite_event(ev) for ev in facts.prompt_events(EventKind.VIDEO_SAMPLING, prompt)]
        evidence.append(facts.cite(bar.source, bar.end_line, f"{bar.done:g}/{bar.total:g} steps"))
        memory = run.gpu_memory if run else None
        if run is not None:
            evidence += [facts.cite_event(ev) for ev in facts.run_events(EventKind.GPU_MEMORY, run)][:1]
        following = facts.runs.get(run.index + 1) if run is not None else None
        if end == "restart" and following is not None:
            starts = (facts.run_events(EventKind.CUDA_BANNER, following)
                      or facts.run_events(EventKind.VRAM_STATE, following))
            evidence += [facts.cite_event(ev) for ev in starts[:1]]
        what = (f"{video['frames']} frames at {video['width']}x{video['height']} with {video['steps']} steps"
                if video else f"a {bar.total:g}-step sampling")
        stop = "the process started again" if end == "restart" else "the log ends"
        why = (f"Sampling {what} stopped at {bar.done:g}/{bar.total:g}"
               + (f", {into:.1f}s after it began," if into is not None else "")
               + f" and {stop}, with no error anywhere: the process was killed without a chance to log. "
               "That is how running out of memory looks when the kernel's OOM killer or the container's "
               "memory limit ends the process, or the driver gives up on the GPU")
        vram = gpu_vram_mb(run)
        if vram:
            why += f"; {what} is a heavy job for {_gpu_phrase(run)} ({vram} MB)"
        if memory:
            why += f"; nvidia-smi showed {memory['free_mib']} MiB free of {memory['total_mib']} MiB before start"
        why += "." + ("" if end == "restart" else
                      " A log copied while the prompt was still running looks the same, hence low confidence.")
        advice = []
        if video:
            advice.append(f"Fewer frames or a lower resolution than {video['frames']} frames at "
                          f"{video['width']}x{video['height']}")
        else:
            advice.append("Lower the resolution or the batch size")
        advice += ["Offload weights: block swap / offload in the video wrapper, or `--lowvram` for this workflow",
                   "Set `PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True`; give the container more RAM "
                   "(check `dmesg` for `Killed process` to tell RAM from VRAM)",
                   "A GPU with more VRAM"]
        figures: dict[str, object] = {"run_end": end, "bar": f"{bar.done:g}/{bar.total:g}", "line": bar.line,
                                      "total_vram_mb": vram}
        if into is not None:
            figures["seconds_into_sampling"] = round(into, 3)
        if video:
            figures["video"] = video
        if memory:
            figures["gpu_memory_mib"] = memory
        findings.append(_finding(
            "oom-suspected", f"Silent crash during sampling ({what}): most likely out of memory",
            "medium" if end == "restart" else "low", why, advice, evidence, figures,
            prompt_seconds(prompt), [index]))
    return findings


@rule(
    "restart-loop", "error", None,
    trigger=f"{RESTART_LOOP_MIN} or more restarts in one log (a new CUDA banner, `Starting server` or "
    "Manager start-up after work began).",
    advice="Find what ends each run (the lines before each start-up; silent ends are usually the OOM killer "
    "or a memory limit) and fix that: a crash loop repeats until then.",
)
def _restart_loop(facts: Facts) -> list[Finding]:
    # One pass over the runs, keeping counts and the first few lines: a loop has thousands of runs.
    start_ups: Counter[int] = Counter()
    restarts: Counter[int] = Counter()
    startups: dict[int, float] = defaultdict(float)
    cited: dict[int, set[int]] = defaultdict(set)  # start-up lines to cite (each once)
    first_cites: dict[int, list[Evidence]] = defaultdict(list)
    first_runs: dict[int, list[Run]] = defaultdict(list)
    ended: dict[int, set[int]] = defaultdict(set)
    for run in facts.report.runs:
        source = run.source
        start_ups[source] += 1
        if facts.run_end(run) == "restart":
            ended[source].add(run.index)
        if not run.restart:
            continue
        restarts[source] += 1
        startups[source] += run.startup_s or 0.0
        starts = facts.run_events(EventKind.CUDA_BANNER, run) or facts.run_events(EventKind.VRAM_STATE, run)
        if starts and event_line(starts[0])[0] not in cited[source]:
            cited[source].add(event_line(starts[0])[0])
            if len(first_cites[source]) < MAX_EVIDENCE:
                first_cites[source].append(facts.cite_event(starts[0]))
        if len(first_runs[source]) < MAX_EVIDENCE:
            first_runs[source].append(replace(run, import_times=[]))
    findings = []
    for source in range(len(facts.report.sources)):
        if restarts[source] < RESTART_LOOP_MIN:
            continue
        evidence, total = first_cites[source], len(cited[source])
        if not evidence:
            evidence = [facts.cite(run.source, run.first_line, "start-up") for run in first_runs[source]]
            total = restarts[source]
        lost: list[int] = []  # indexes only: a loop can cut off thousands of prompts
        lost_s = 0.0
        for prompt in facts.prompts_of_runs(ended[source]):
            if prompt.status == "unfinished":
                lost.append(prompt.index)
                lost_s += prompt_seconds(prompt)
        startup, n_runs, n_restarts = startups[source], start_ups[source], restarts[source]
        findings.append(_finding(
            "restart-loop", f"{n_restarts} restarts: ComfyUI started {n_runs} times in one log", "high",
            f"The log holds {n_runs} start-ups of ComfyUI; {_plural(len(lost), 'prompt')} were cut off by them"
            + (f" and start-ups took {dur(startup)}" if startup else "") + ". A process that keeps restarting "
            "is crashing, usually for the same reason each time.",
            ["Read the last lines of each run before the next start-up (comfylog marks the prompts it cut off)",
             "Silent ends are usually the kernel's OOM killer or the container's memory limit: give it more "
             "RAM or lighten the workflow",
             "On RunPod, a pod or worker that restarts in a loop keeps billing: stop it until the cause is fixed"],
            evidence, {"restarts": n_restarts, "start_ups": n_runs, "startup_s": round(startup, 3),
                       "prompts_lost": len(lost)},
            lost_s, lost, total=total))
    return findings


@rule(
    "unfinished", "warning", None,
    trigger="A prompt that never ended (no `Prompt executed in`), not already explained as a silent crash: "
    "an error when a restart followed, a warning when the log just ends, information when the server was "
    "stopped on purpose.",
    advice="Re-queue the prompts; if the process died, look for the cause at the end of its run.",
)
def _unfinished(facts: Facts) -> list[Finding]:
    silent = facts.silent_deaths()
    prompts = [_PromptRef(p.index, p.run, p.source, p.line, p.total_s)  # small: there may be thousands
               for p in facts.prompts_in("unfinished") if p.index not in silent]
    if not prompts:
        return []
    ends: dict[str, list[_PromptRef]] = defaultdict(list)
    for prompt in prompts:
        run = facts.runs.get(prompt.run)
        ends[facts.run_end(run) if run is not None else "log-ends"].append(prompt)
    running = [p for p in prompts if (p.total_s or 0.0) > 0]
    queued = len(prompts) - len(running)
    parts = []
    evidence: list[Evidence] = []
    for end, group in ends.items():
        count = _plural(len(group), "prompt")
        if end == "restart":
            parts.append(f"{count} cut off by a restart")
        elif end == "stopped":
            parts.append(f"{count} still running or queued when the server was stopped")
        else:
            parts.append(f"{count} still running or queued where the log ends")
        for group_run in sorted({p.run for p in group}):
            run = facts.runs.get(group_run)
            if run is not None and end == "stopped":
                evidence += [facts.cite_event(ev) for ev in facts.run_events(EventKind.SERVER_STOPPED, run)[:1]]
            following = facts.runs.get(group_run + 1)
            if following is not None and end == "restart":
                starts = (facts.run_events(EventKind.CUDA_BANNER, following)
                          or facts.run_events(EventKind.VRAM_STATE, following))
                evidence += [facts.cite_event(ev) for ev in starts[:1]]
    evidence += [facts.cite(p.source, p.line, "got prompt") for p in prompts[:MAX_EVIDENCE]]
    severity = "error" if "restart" in ends else "warning" if "log-ends" in ends else "info"
    received = facts.report.summary.got_prompt
    why = (f"{'; '.join(parts)}. The log shows {received} `got prompt` and {facts.report.summary.executed} "
           f"`Prompt executed in` lines ({len(running)} prompt{'s' if len(running) != 1 else ''} had started, "
           f"{queued} were still queued).")
    if severity == "info":
        advice = ["Nothing crashed: the server was stopped with work left; re-queue those prompts"]
        confidence = "high"
    elif severity == "warning":
        advice = ["If the log was copied while ComfyUI was still working, this is expected",
                  "Otherwise the process died without a message: check `dmesg` for the OOM killer and the "
                  "container's memory limit"]
        confidence = "medium"
    else:
        advice = ["The process restarted under these prompts: find the cause at the end of the run "
                  "(OOM killer, memory limit, a crashing custom node)"]
        confidence = "high"
    return [_finding(
        "unfinished", f"{_plural(len(prompts), 'prompt')} never finished", confidence, why, advice, evidence,
        {"unfinished": len(prompts), "running": len(running), "queued": queued,
         "run_end": {end: len(group) for end, group in ends.items()}},
        sum(p.total_s or 0.0 for p in running), (p.index for p in prompts), severity=severity,
        total=len(evidence) - min(len(prompts), MAX_EVIDENCE) + len(prompts))]


@rule(
    "exception", "error", None,
    trigger="`!!! Exception during processing !!!` or a traceback that is not out of memory: prompts that "
    "failed in a node.",
    advice="The traceback names the node and the cause (a missing input file, a model the node cannot use, a "
    "bug in a custom node): fix the input or update the node.",
)
def _exception(facts: Facts) -> list[Finding]:
    records = [e for e in facts.report.errors if e.kind == "exception"]
    if not records:
        return []
    prompts = sorted({e.prompt for e in records if e.prompt is not None})
    messages: dict[str, int] = {}
    for e in records:
        messages[e.message] = messages.get(e.message, 0) + 1
    shown = "; ".join(f"`{_clip(m, 100)}`" + (f" ×{n}" if n > 1 else "") for m, n in list(messages.items())[:3])
    title = (f"{_plural(len(prompts), 'prompt')} failed with an exception" if prompts
             else f"{_plural(len(records), 'exception')} outside any prompt")
    return [_finding(
        "exception", title, "high",
        f"{_plural(len(records), 'exception')} ({len(messages)} distinct): {shown}"
        + (f" and {len(messages) - 3} more" if len(messages) > 3 else "")
        + ". ComfyUI stops a prompt at the node that raised it.",
        ["Read the traceback: the last `File ...custom_nodes/NAME/...` line names the node that failed",
         "Missing files and wrong inputs are fixed in the workflow; errors inside a custom node usually need "
         "an update of that node (or of ComfyUI to match it)"],
        [_error_evidence(facts, e) for e in records[:MAX_EVIDENCE]],
        {"exceptions": len(records), "prompts": len(prompts), "messages": dict(list(messages.items())[:5])},
        sum(prompt_seconds(p) for p in facts.prompts_by_index(prompts)), prompts, total=len(records))]


def _error_evidence(facts: Facts, record: ErrorRecord) -> Evidence:
    """The line that says what failed: the ``!!! Exception`` line, else the traceback's last line."""
    end = record.end_line or record.line
    candidates = [ev for kind in (EventKind.EXCEPTION, EventKind.TRACEBACK)
                  for ev in facts.between(kind, record.source, record.line, end) if event_line(ev)[0] <= end]
    telling = [ev for ev in candidates if record.message[:60] in event_line(ev)[1]]
    if telling or candidates:
        return facts.cite_event((telling or candidates)[0])
    return facts.cite(record.source, record.line, record.message)


@rule(
    "validation-failed", "warning", None,
    trigger="`Failed to validate prompt` / `Prompt outputs failed validation`: prompts ComfyUI refused to "
    "run, or outputs it ignored.",
    advice="Fix what the lines after the failure name: a missing model file, a missing custom node, an "
    "unconnected input.",
)
def _validation_failed(facts: Facts) -> list[Finding]:
    rejected = {p.index for p in facts.prompts_in("invalid")}
    records: list[ErrorRecord] = []  # the first few, for evidence
    total = ignored = 0
    prompts: list[int] = []
    reasons: dict[str, None] = {}
    for e in facts.report.errors:  # one pass, counting: a long log has thousands of these
        if e.kind != "validation":
            continue
        total += 1
        if len(records) < MAX_EVIDENCE:
            records.append(e)
        reasons.setdefault(e.message)
        if e.prompt is not None:
            prompts.append(e.prompt)
            ignored += e.prompt not in rejected
    if not total:
        return []
    parts = []
    if rejected:
        parts.append(f"{_plural(len(rejected), 'prompt')} rejected (not run at all)")
    if ignored:
        parts.append(f"{_plural(ignored, 'prompt')} ran with some outputs ignored")
    messages = list(reasons)
    return [_finding(
        "validation-failed", "Workflow validation failed: " + ", ".join(parts), "high",
        "ComfyUI checks each workflow before running it and refused these in whole or in part (first: "
        f"`{_clip(messages[0], 160)}`" + (f"; {len(messages)} distinct messages" if len(messages) > 1 else "") + ").",
        ["The lines after `Failed to validate prompt for output N` name the node and input: usually a "
         "missing model file, a missing custom node or an unconnected input",
         "An API workflow must name model files that exist on this machine"],
        [facts.cite(e.source, e.line, e.message) for e in records],
        {"rejected": len(rejected), "outputs_ignored_in": ignored, "messages": messages[:5]},
        0.0, prompts, total=total)]


@rule(
    "import-failed", "warning", None,
    trigger="`(IMPORT FAILED)` in the custom-node import times: nodes that did not load.",
    advice="Install the node's missing requirements into ComfyUI's Python, or remove the node.",
)
def _import_failed(facts: Facts) -> list[Finding]:
    failed: dict[str, tuple[Run, float, int]] = {}
    for run in facts.report.runs:
        for seconds, path, did_fail, line in run.import_times:
            if did_fail and path not in failed:
                failed[path] = (run, seconds, line)
    if not failed:
        return []
    reasons: dict[str, str] = {}
    for e in facts.report.errors:
        if e.kind == "import_failed":
            for path in failed:
                if path in e.message and "(" in e.message:
                    reasons.setdefault(path, e.message.split(path, 1)[1].strip(" ()")[:120])
    names = [_basename(p) for p in failed]
    advice = []
    texts = " ".join(reasons.values())
    if "No module named" in texts or len(reasons) < len(failed):
        advice.append("Install the missing Python packages the reasons name into the Python ComfyUI runs with "
                      "(ComfyUI-Manager: Try fix)")
    if "No such file" in texts:
        advice.append("A folder without `__init__.py` is no custom node (a leftover or a broken clone): "
                      "re-install it or remove it")
    if "syntax" in texts.lower():
        advice.append("A syntax error means the node does not fit this Python or ComfyUI: update the node")
    advice.append("Or remove the node if no workflow needs it")
    shown = "; ".join(f"{_basename(p)} ({reasons[p]})" if p in reasons else _basename(p) for p in list(failed)[:3])
    return [_finding(
        "import-failed", f"{_plural(len(failed), 'custom node')} failed to import", "high",
        f"ComfyUI lists {', '.join(names[:5])}{' …' if len(names) > 5 else ''} as IMPORT FAILED: their nodes "
        f"do not exist in this process, and workflows using them fail validation. {shown}.",
        advice,
        [facts.cite(run.source, line, f"{seconds:.1f} seconds (IMPORT FAILED): {path}")
         for path, (run, seconds, line) in failed.items()],
        {"failed": len(failed), "nodes": names})]


@rule(
    "slow-import", "info", None,
    trigger=f"A custom node that took {SLOW_IMPORT_S:.0f} s or more to import at start-up.",
    advice="Such nodes usually install or download at import: update or remove them, or bake their "
    "dependencies into the image.",
)
def _slow_import(facts: Facts) -> list[Finding]:
    slow = [(run, seconds, path, line) for run in facts.report.runs
            for seconds, path, failed, line in run.import_times if seconds >= SLOW_IMPORT_S and not failed]
    if not slow:
        return []
    slow.sort(key=lambda s: -s[1])
    run, seconds, path, _ = slow[0]
    total = sum(s[1] for s in slow)
    return [_finding(
        "slow-import", f"Slow custom-node import: {_basename(path)} took {seconds:.0f}s at start-up", "high",
        f"{_plural(len(slow), 'custom node')} took {SLOW_IMPORT_S:.0f} s or more to import ({dur(total)} in all), "
        "start-up time before ComfyUI serves anything (not prompt time).",
        ["A node this slow usually installs or downloads something at import: look at its lines above "
         "`Import times for custom nodes`; update or remove it",
         "In containers, bake its dependencies into the image so every start-up does not pay for them"],
        [facts.cite(r.source, line, f"{s:.1f} seconds: {p}") for r, s, p, line in slow],
        {"nodes": {_basename(p): s for _, s, p, _ in slow}, "import_s": round(total, 3)})]


# ---- rules: waiting and logging -----------------------------------------------------------------


@rule(
    "ws-wait", "info", Phase.WAIT,
    trigger="worker-comfyui `Websocket receive timed out` lines: 10 s each with no message from ComfyUI. "
    f"A warning from {WAIT_WARNING_S:.0f} s of waiting.",
    advice="The wait belongs to what ComfyUI did just before the first timeout; timeouts that never end "
    "mean ComfyUI died.",
)
def _ws_wait(facts: Facts) -> list[Finding]:
    timeouts = facts.events[EventKind.WS_TIMEOUT]
    prompts = list(facts.prompts_in("ws_timeouts"))
    count = facts.report.summary.ws_timeouts
    if not count or not timeouts:
        return []
    wait = sum(p.phases.wait for p in prompts)
    total = sum(p.total_s or 0.0 for p in prompts)
    evidence = [facts.cite_event(ev) for ev in timeouts[:MAX_EVIDENCE]]
    before = ""
    if timeouts:
        first = timeouts[0]
        prior = [ev for ev in facts.report.notable if ev.source == first.source and ev.line < first.line
                 and ev.kind not in (EventKind.WS_TIMEOUT, EventKind.WS_RECONNECT, EventKind.JOB_STARTED)]
        if prior and prior[-1].end_line == first.line - 1:
            evidence.insert(1, facts.cite_event(prior[-1]))  # after the first timeout: what preceded it
            line, text = event_line(prior[-1])
            lines = f"line {line}" if prior[-1].end_line == line else f"lines {line}-{prior[-1].end_line}"
            before = (f" The first timeout follows straight on ComfyUI's {lines} (`{_clip(text, 80)}`): "
                      "the silence is that step's work.")
    share = f" ({wait / total:.0%} of prompt time)" if total else ""
    return [_finding(
        "ws-wait", f"{dur(wait)} waiting on websocket timeouts ({count} × 10 s without a message)", "high",
        f"worker-comfyui logs `Websocket receive timed out` after 10 s without a message from ComfyUI: "
        f"{_plural(count, 'timeout')}, {dur(wait)} of wait{share}. ComfyUI was working without output "
        f"(or was gone, if the timeouts never end).{before}",
        ["Speed up the step before the first timeout; the wait is that step's time",
         "If timeouts go on until the job times out, ComfyUI has died: look for an OOM or a restart"],
        evidence, {"timeouts": count, "wait_s": round(wait, 3)}, wait, (p.index for p in prompts),
        severity="warning" if wait >= WAIT_WARNING_S else "info", total=count + (1 if before else 0))]


@rule(
    "debug-logging", "info", Phase.OTHER,
    trigger="`lowvram: loaded module regularly` lines, which ComfyUI logs only at DEBUG level: the process "
    "runs with `--verbose DEBUG`.",
    advice="Drop `--verbose DEBUG` (worker-comfyui: set `COMFY_LOG_LEVEL=INFO`; its start script defaults "
    "to DEBUG).",
)
def _debug_logging(facts: Facts) -> list[Finding]:
    events = facts.events[EventKind.LOWVRAM_MODULES]
    count = max(facts.report.summary.lowvram_module_loads, sum(int(ev.fields.get("count", 1)) for ev in events))
    if not count or not events:
        return []
    lines = sum(src.lines for src in facts.report.sources) or 1
    serverless = any(r.serverless for r in facts.report.runs) or facts.report.summary.ws_timeouts > 0
    advice = ["Drop `--verbose DEBUG` from the start command unless you are debugging: the default INFO "
              "level logs everything comfylog needs"]
    if serverless:
        advice.insert(0, "worker-comfyui starts ComfyUI with `--verbose \"$COMFY_LOG_LEVEL\"`, which defaults "
                         "to DEBUG: set the endpoint's environment variable `COMFY_LOG_LEVEL=INFO`")
    return [_finding(
        "debug-logging", f"`--verbose DEBUG` is on: {count} DEBUG-only `lowvram: loaded module` lines", "high",
        f"ComfyUI logs `lowvram: loaded module regularly` only at DEBUG level, so this process runs with "
        f"`--verbose DEBUG`; these lines are {count / lines:.0%} of the log. DEBUG output floods logs (one line "
        "per module on every partial load) and slows consoles that must keep up with it.",
        advice, [facts.cite_event(ev) for ev in events[:MAX_EVIDENCE]], {"debug_lines": count, "log_lines": lines},
        total=count)]


# ---- the README table ---------------------------------------------------------------------------


def rules_markdown() -> str:
    """The rules as a markdown table (the README section between the rules markers)."""
    rows = ["| id | severity | triggered by | advice |", "|---|---|---|---|"]
    for r in RULES.values():
        rows.append(f"| `{r.id}` | {r.severity} | {_cell(r.trigger)} | {_cell(r.advice)} |")
    return "\n".join(rows) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
