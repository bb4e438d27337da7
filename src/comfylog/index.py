"""The report index: what every reader of a Report looks up, built once after the analysis.

Prompts by run, bars, loads and errors by prompt, the run holding a line, notable events by kind
and line, each prompt's main sampling bar. A long log's record tables live mostly on disk
(spool.py) and every pass over one decodes it all, so the tables are read here once, into
positions, and the diagnoser and every renderer ask the index instead of filtering a whole table
per row (which made the terminal report of a 20 MB log 14x slower than its JSON).
"""

from __future__ import annotations

import sys
from array import array
from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import islice
from operator import le
from typing import Generic, Protocol, TypeVar

from .dataclass import dataclass
from .events import Event, EventKind, Phase
from .model import (
    MAX_PROMPT_MODELS,
    MAX_RUN_IMPORT_TIMES,
    PHASES,
    UNTIMED,
    UNTIMED_CAUSE,
    ErrorRecord,
    Evidence,
    Finding,
    Load,
    ProgressBar,
    Prompt,
    Report,
    Run,
    SourceInfo,
    TimeSpent,
    TimeSum,
)
from .parse.traceback import COMFYUI_ENTRY_FILES, outermost_file
from .segment.segmenter import MAX_IMPORT_PATH_CHARS, import_message_paths, read_import_message
from .spool import passing, walk
from .text import basename, fmt_s, listing, plural, short_names, span_text

#: ComfyUI's reason for a module it skipped: it has no ``NODE_CLASS_MAPPINGS`` (messages.toml ``import_skipped``).
NO_MAPPINGS = "lack of NODE_CLASS_MAPPINGS"


class _Attributed(Protocol):
    prompt: int | None


R = TypeVar("R", bound=_Attributed)
N = TypeVar("N", Run, Prompt)


class _ByIndex(Generic[N]):
    """Runs or prompts by their ``index``, looked up in the table (which may be on disk, spool.py)."""

    def __init__(self, table: Sequence[N], numbered: bool | None = None,
                 visit: Callable[[int, N], None] | None = None) -> None:
        """``numbered``: whether each item's index is its position (the usual numbering), if known;
        ``visit(position, item)`` runs on every item when the table is read here (``numbered`` unknown)."""
        self._table: Sequence[N] = table
        self._positions: dict[int, int] | None = None
        if numbered is None:
            numbered = True
            for position, item in enumerate(table):
                numbered = numbered and item.index == position
                if visit is not None:
                    visit(position, item)
        if not numbered:
            self._positions = {item.index: position for position, item in enumerate(table)}
        self._last: tuple[int, N] | None = None

    def get(self, index: int) -> N | None:
        """The item; asked again for the same one (the run of each of a run's prompts, in turn), the same
        object: a run is read back once per streak of its prompts, not once per prompt."""
        position = self.position(index)
        if position is None:
            return None
        last = self._last
        if last is not None and last[0] == position:
            return last[1]
        item = self._table[position]
        self._last = (position, item)
        return item

    def position(self, index: int) -> int | None:
        """Where the item with this ``index`` is in the table (None: there is none)."""
        if self._positions is not None:
            return self._positions.get(index)
        return index if 0 <= index < len(self._table) else None


#: 4 bytes a number (array "i"): prompt indexes and table positions. A table of 2**31 records (a log
#: of some 100 GB at the least) takes 8 ("q"): ``_ByPrompt`` changes over at the first that does not fit.
NARROW, WIDE = "i", "q"


def _typecode(count: int) -> str:
    """The array type for positions in a table of ``count`` records."""
    return NARROW if count < 2**31 else WIDE


class _ByPrompt(Generic[R]):
    """The records of one table by prompt, kept as positions.

    Records come in prompt order nearly always; then a lookup is two bisections of one array.
    """

    def __init__(self, records: Sequence[R], visit: Callable[[int, R], None] | None = None,
                 keep: bool = True) -> None:
        """``visit(position, record)`` runs on every record in this one pass over the table; ``keep`` False: the
        pass keeps none of the table's blocks decoded (spool.passing)."""
        self._records = records
        # one loop, no generator between the table and the array (each record went through two): a 256 MB log has
        # 360,000 loads, bars and errors
        keys = array(NARROW)
        append = keys.append
        for position, r in enumerate(passing(records, keep)):
            if visit is not None:
                visit(position, r)
            prompt = r.prompt
            try:
                append(-1 if prompt is None else prompt)
            except OverflowError:  # past 4 bytes: 8 from here on
                keys = array(WIDE, keys)
                keys.append(-1 if prompt is None else prompt)
                append = keys.append
        self._order: array[int] | None = None
        if not all(map(le, keys, islice(keys, 1, None))):  # in C: a generator over 360,000 keys was not
            order = sorted(range(len(keys)), key=keys.__getitem__)  # stable: log order within a prompt
            self._order = array(_typecode(len(keys)), order)
            keys = array(keys.typecode, (keys[i] for i in order))
        self._keys = keys

    def positions(self, prompt: int) -> Sequence[int]:
        """Where the prompt's records are in the table, in table order (nothing is read back)."""
        lo, hi = bisect_left(self._keys, prompt), bisect_right(self._keys, prompt)
        return range(lo, hi) if self._order is None else self._order[lo:hi]

    def count(self, prompt: int) -> int:
        """How many records the prompt has (nothing is read back)."""
        return bisect_right(self._keys, prompt) - bisect_left(self._keys, prompt)

    def of(self, prompt: int) -> list[R]:
        return list(walk(self._records, self.positions(prompt)))


class _InPromptOrder(Generic[R]):
    """The records of a table by prompt, for a reader that asks for every prompt in turn (the trace, run after
    run): each prompt's records are found by going on along the sorted keys, not by two bisections (and, in
    Facts, a third in a group's copy) per prompt, a sixth of the trace of a 256 MB log; where the table is in
    prompt order (nearly always) they are the next records of one pass over it. A prompt asked after a later
    one is looked up (``lookup``)."""

    def __init__(self, by_prompt: _ByPrompt[R], lookup: Callable[[Prompt], list[R]]) -> None:
        self._keys = by_prompt._keys
        self._order = by_prompt._order  # None: the table is in prompt order
        self._table = by_prompt._records
        self._records = iter(by_prompt._records)
        self._position = 0  # in the sorted keys: of the next record the pass gives (in prompt order)
        self._last = -1  # the highest prompt asked so far
        self._lookup = lookup

    def of(self, prompt: Prompt) -> list[R]:
        index = prompt.index
        if index <= self._last:
            return self._lookup(prompt)
        self._last = index
        keys, start = self._keys, self._position
        count = len(keys)
        while start < count and keys[start] < index:  # records of prompts not asked for (or of none)
            start += 1
        end = start
        while end < count and keys[end] == index:
            end += 1
        if self._order is not None:
            self._position = end
            return list(walk(self._table, self._order[start:end])) if end > start else []
        if start > self._position:
            next(islice(self._records, start - self._position, start - self._position), None)
        self._position = end
        return list(islice(self._records, end - start)) if end > start else []


class _PromptsByRun:
    """The table positions of each run's prompts. Prompts come run after run nearly always (each run's in
    one stretch of the table): then a run's positions are a range, 16 bytes a run; else an array per run
    (4 bytes a prompt and ~100 a run: 3 MB for the 1 GB benchmark's 12,277 runs, held beside the next
    analysis's by compare)."""

    def __init__(self, typecode: str) -> None:
        self._typecode = typecode
        self._starts = array("q")  # by run index: its first position, -1 for a run with no prompt
        self._stops = array("q")
        self._last: int | None = None
        #: Where some run's prompts are not in one stretch (or its index is negative): an array per run.
        self._arrays: dict[int, array[int]] | None = None

    def add(self, run: int, position: int) -> None:
        """File the prompt at ``position`` (positions come in increasing order, each once)."""
        if self._arrays is not None:
            self._arrays[run].append(position)
        elif run == self._last:
            self._stops[run] = position + 1
        elif 0 <= run and (run >= len(self._starts) or self._starts[run] < 0):
            if run >= len(self._starts):
                missing = run + 1 - len(self._starts)
                self._starts.extend([-1] * missing)
                self._stops.extend([-1] * missing)
            self._starts[run], self._stops[run] = position, position + 1
            self._last = run
        else:  # a run met again after another's prompts: each run's positions one by one from now on
            arrays: dict[int, array[int]] = defaultdict(lambda: array(self._typecode))
            for number, (start, stop) in enumerate(zip(self._starts, self._stops, strict=True)):
                if start >= 0:
                    arrays[number] = array(self._typecode, range(start, stop))
            self._arrays, self._starts, self._stops = arrays, array("q"), array("q")
            arrays[run].append(position)

    def get(self, run: int) -> Sequence[int]:
        """The positions of the run's prompts, in table order (empty for a run with none)."""
        if self._arrays is not None:
            return self._arrays.get(run, ())
        if 0 <= run < len(self._starts) and self._starts[run] >= 0:
            return range(self._starts[run], self._stops[run])
        return ()


class _RunLookup:
    """Finds the run holding a line by bisection (a long log has thousands of runs).

    Per source, runs come in line order; the first run (in that order) holding ``line`` is the
    first whose running maximum of ``last_line`` reaches it, among those starting at or before it.
    """

    def __init__(self, runs: Sequence[Run]) -> None:
        # arrays, not lists: 8 bytes a run instead of ~36 (the 1 GB benchmark has 12,277 runs)
        self._firsts: dict[int, array[int]] = defaultdict(lambda: array("q"))
        self._reach: dict[int, array[int]] = defaultdict(lambda: array("q"))
        self._positions: dict[int, array[int]] = defaultdict(lambda: array("q"))
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


@dataclass(frozen=True, slots=True)
class MainBar:
    """A prompt's main sampling bar (the sampler's bar that ran longest) and how many it had."""

    bar: ProgressBar
    sampling_bars: int

    @property
    def steps_text(self) -> str:
        """``20/20``, with ``(+2)`` when the prompt had more sampling bars."""
        text = f"{self.bar.done:g}/{self.bar.total:g}"
        return text + (f" (+{self.sampling_bars - 1})" if self.sampling_bars > 1 else "")


def main_bar_of(sampling_bars: list[ProgressBar]) -> MainBar | None:
    """The main bar of a prompt's sampling bars (for a reader that has its bars already)."""
    if not sampling_bars:
        return None
    return MainBar(max(sampling_bars, key=lambda b: b.elapsed_s), len(sampling_bars))


def main_bar_text_of(main: MainBar | None) -> tuple[str, str]:
    """(steps, rate) of a main sampling bar as tables show them; dashes for none."""
    if main is None:
        return "—", "—"
    return main.steps_text, main.bar.rate_text or "—"


#: A test run on every prompt in the index's one pass: ``visit(position, prompt)``.
Visitor = Callable[[int, Prompt], None]


class ReportIndex:
    """Lookups over one report's tables; build it with ``index_of(report)`` (built once, then kept)."""

    def __init__(self, report: Report, visit: Visitor | None = None,
                 visit_load: Callable[[int, Load], None] | None = None,
                 visit_run: Callable[[int, Run], None] | None = None,
                 visit_bar: Callable[[int, ProgressBar], None] | None = None,
                 visit_error: Callable[[int, ErrorRecord], None] | None = None,
                 keep: Sequence[bool] = (True, True, True, True)) -> None:
        """``visit`` runs on every prompt and ``visit_load``, ``visit_run``, ``visit_bar``, ``visit_error``
        on every load, run, bar and error, in the index's one pass (runs, prompts, errors, loads, bars:
        what is visited later can be filed by what was seen of its prompt). ``keep``: for the prompts, errors,
        loads and bars, whether the pass keeps their blocks decoded (spool.py's budget, first come; False: the
        diagnosis's groups of a table too big to stay decoded whole are copied, and its rules read those)."""
        keep_prompts, keep_errors, keep_loads, keep_bars = keep
        self.report = report
        #: Notable events by kind, in report order (in memory: the visits may look them up).
        self.events: dict[EventKind, list[Event]] = defaultdict(list)
        grouped: dict[tuple[EventKind, int], list[Event]] = defaultdict(list)
        for ev in report.notable:
            self.events[ev.kind].append(ev)
            grouped[(ev.kind, ev.source)].append(ev)
        #: Events by (kind, source) in line order, with their lines, for range lookups.
        self._spans: dict[tuple[EventKind, int], tuple[list[int], list[Event]]] = {}
        for key, events in grouped.items():
            events.sort(key=lambda e: e.line)
            self._spans[key] = ([e.line for e in events], events)
        # The small table that many rules pass over first: a long log's runs are read first, so they
        # are what its spools keep decoded (spool.py, KEEP_BYTES); then the prompts, and the records
        # of prompts.
        self.runs = _ByIndex(report.runs, visit=visit_run)
        self._by_run = _PromptsByRun(_typecode(len(report.prompts)))
        numbered = True
        add_to_run = self._by_run.add
        self._time_sum = TimeSum()
        add_time = self._time_sum.add
        for position, prompt in enumerate(passing(report.prompts, keep_prompts)):
            numbered = numbered and prompt.index == position
            add_to_run(prompt.run, position)
            add_time(prompt)
            if visit is not None:
                visit(position, prompt)
        self.prompts = _ByIndex(report.prompts, numbered)
        self._errors = _ByPrompt(report.errors, visit_error, keep_errors)
        self._loads = _ByPrompt(report.loads, visit_load, keep_loads)
        self._bars = _ByPrompt(report.progress_bars, visit_bar, keep_bars)
        self._run_lookup: _RunLookup | None = None
        self._source_names: list[str] | None = None
        self._unlisted_imports: dict[str, ErrorRecord] | None = None
        #: Those past MAX_UNLISTED_IMPORTS, counted by run index (unlisted_imports_not_kept).
        self._unlisted_not_kept: dict[int, int] = {}

    # ---- inputs and their lines
    def source_name(self, source: int) -> str:
        """The input's short name (text.short_names), as every output that cites its lines names it."""
        names = self._source_names
        if names is None:
            names = self._source_names = short_names([src.name for src in self.report.sources])
        return names[source] if 0 <= source < len(names) else f"input {source + 1}"

    @property
    def several_sources(self) -> bool:
        """More than one input: a line number alone names no line, its file must go with it."""
        return len(self.report.sources) > 1

    def lines_ref(self, source: int, line: int, last: int | None = None) -> str:
        """``line 20`` or ``lines 178-188`` as prose cites them, with ``of NAME`` when the report reads
        several inputs."""
        where = f"lines {line}-{last}" if last is not None and last != line else f"line {line}"
        return f"{where} of {self.source_name(source)}" if self.several_sources else where

    def line_label(self, source: int, line: int, last: int | None = None) -> str:
        """``20`` (or ``20–31``) beside a quoted line, ``NAME:20`` when the report reads several inputs."""
        where = f"{line}–{last}" if last is not None and last != line else str(line)
        return f"{self.source_name(source)}:{where}" if self.several_sources else where

    def time_spent(self) -> TimeSpent:
        """Report.time_spent, from the sums this index made as it read the prompts (not read again)."""
        return self._time_sum.spent(self.report)

    # ---- runs and prompts
    def run_of(self, prompt: Prompt) -> Run | None:
        return self.runs.get(prompt.run)

    def run_at(self, source: int, line: int) -> Run | None:
        """The first run (in report order) of ``source`` whose lines hold ``line``."""
        if self._run_lookup is None:
            self._run_lookup = _RunLookup(self.report.runs)
        return self._run_lookup.find(source, line)

    def prompts_of_run(self, run: int) -> list[Prompt]:
        """The prompts of one run, in report order."""
        return list(walk(self.report.prompts, self._by_run.get(run)))

    def run_prompts(self, run: int) -> Iterator[Prompt]:
        """The prompts of one run, in report order, one at a time: a run kept up for days has tens of
        thousands, which a list would hold (and the table's blocks they were decoded from) all at once."""
        return walk(self.report.prompts, self._by_run.get(run))

    def prompts_of_runs(self, runs: Iterable[int]) -> Iterator[Prompt]:
        """The prompts of these runs, in report order."""
        positions = sorted(i for run in set(runs) for i in self._by_run.get(run))
        return walk(self.report.prompts, positions)

    def prompts_at(self, indexes: Iterable[int]) -> Iterator[Prompt]:
        """The prompts with these indexes, one at a time (a long streak need not be held whole)."""
        for index in indexes:
            position = self.prompts.position(index)
            if position is not None:
                yield self._prompt_at(position)

    def _prompt_at(self, position: int) -> Prompt:
        """The prompt at this position of the table (the diagnosis's facts read it from a group when
        it is in one: a few blocks to decode instead of the table's)."""
        return self.report.prompts[position]

    # ---- records by prompt
    def loads_of(self, prompt: Prompt) -> list[Load]:
        return self._loads.of(prompt.index)

    def loads_in_order(self) -> Callable[[Prompt], list[Load]]:
        """``loads_of`` for a reader that asks for the prompts in turn, each once (``_InPromptOrder``)."""
        return _InPromptOrder(self._loads, self.loads_of).of

    def bars_in_order(self) -> Callable[[Prompt], list[ProgressBar]]:
        """``bars_of`` for a reader that asks for the prompts in turn, each once (``_InPromptOrder``)."""
        return _InPromptOrder(self._bars, self.bars_of).of

    def has_loads(self, prompt: Prompt) -> bool:
        return self._loads.count(prompt.index) > 0

    def errors_of(self, prompt: Prompt) -> list[ErrorRecord]:
        return self._errors.of(prompt.index)

    def bars_of(self, prompt: Prompt) -> list[ProgressBar]:
        return self._bars.of(prompt.index)

    def sampling_bars(self, prompt: Prompt) -> list[ProgressBar]:
        """The prompt's sampler bars (parse/bars.py: not loading, not other work such as a VAE
        encoding frames), in log order."""
        return [b for b in self.bars_of(prompt) if b.is_sampling]

    def main_bar(self, prompt: Prompt) -> MainBar | None:
        return main_bar_of(self.sampling_bars(prompt))

    def main_bar_text(self, prompt: Prompt) -> tuple[str, str]:
        """(steps, rate) of the prompt's main sampling bar as tables show them; dashes when it has none."""
        return main_bar_text_of(self.main_bar(prompt))

    # ---- notable events
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

    def interrupt_requests(self, prompt: Prompt) -> list[Event]:
        """The requests to stop an interrupted prompt that reached ComfyUI's server while it ran (server.py's
        `Interrupting prompt <id>`, `Global interrupt (no prompt_id specified)`, `Cancelling running prompt <id>`), in
        line order: its lines after the prompt before it ended (a request before that stopped that one, or nothing).
        [] for another status, and where the log holds none (ComfyUI logged none before 2025: field3 01)."""
        if prompt.status != "interrupted" or not self._spans.get((EventKind.INTERRUPT_REQUEST, prompt.source)):
            return []
        first = prompt.line
        before = self.prompts.get(prompt.index - 1)
        if before is not None and before.source == prompt.source and before.last_line:
            first = max(first, before.last_line + 1)
        return [ev for ev in self.between(EventKind.INTERRUPT_REQUEST, prompt.source, first,
                                          prompt.last_line or prompt.line) if ev.fields.get("stops")]

    def cancelled_pending(self, prompt: Prompt) -> list[Event]:
        """The jobs API's `Cancelling pending prompt <id>` lines (server.py _cancel_job_by_id: it removes a job still
        queued) that may have dropped ``prompt``: where the prompt's id is known, those naming it; else those from its
        `got prompt` to the end of the prompt that ran in its turn (the next one not dropped, looked for among the
        next MAX_DROPPED_AHEAD; the input's end past them). [] for another status and where the log holds none."""
        if prompt.status != "dropped" or not self._spans.get((EventKind.INTERRUPT_REQUEST, prompt.source)):
            return []
        last = sys.maxsize
        for i in range(prompt.index + 1, prompt.index + 1 + MAX_DROPPED_AHEAD):
            after = self.prompts.get(i)
            if after is None or after.source != prompt.source:
                break
            if after.status != "dropped":
                last = after.last_line or after.line
                break
        return [ev for ev in self.between(EventKind.INTERRUPT_REQUEST, prompt.source, prompt.line, last)
                if ev.fields.get("dequeues") and (prompt.prompt_id is None or ev.fields.get("prompt_id") is None
                                                  or ev.fields.get("prompt_id") == prompt.prompt_id)]

    def unlisted_import_failures(self) -> dict[str, ErrorRecord]:
        """Custom nodes that a `Cannot import` or `Skip` line says failed and whose row of the import times is not in
        the log (a paste cut inside the list: field2 11's ComfyUI_MaskGCT), by path, each with its first record.
        import-failed names them, and the run's "N failed" counts them with the import times' failures. A run that
        kept only MAX_RUN_IMPORT_TIMES rows (a hostile log) may hold the row of any of its lines among the others:
        they are taken as listed, counted by its import_failures_not_kept, rather than counted twice."""
        if self._unlisted_imports is None:
            listed = {path[:MAX_IMPORT_PATH_CHARS] for run in self.report.runs for _, path, _, _ in run.import_times}
            capped = {run.index for run in self.report.runs if run.imports_not_kept}
            unlisted: dict[str, ErrorRecord] = {}
            counted: set[int] = set()  # the paths' hashes: those past the kept ones are counted, not kept
            for e in self.report.errors:
                if e.kind != "import_failed" or any(cut in listed for cut in import_message_paths(e.message)):
                    continue
                if capped and (run := self.run_at(e.source, e.line)) is not None and run.index in capped:
                    continue
                read = read_import_message(e.message)
                if read is None or read.builtin or hash(read.path) in counted:
                    continue
                counted.add(hash(read.path))
                if len(unlisted) < MAX_UNLISTED_IMPORTS:
                    unlisted[read.path] = e
                else:
                    index = run.index if (run := self.run_at(e.source, e.line)) is not None else -1
                    self._unlisted_not_kept[index] = self._unlisted_not_kept.get(index, 0) + 1
            self._unlisted_imports = unlisted
        return self._unlisted_imports

    def unlisted_imports_not_kept(self, run: int | None = None) -> int:
        """Custom nodes only a line names past the MAX_UNLISTED_IMPORTS unlisted_import_failures keeps (a hostile
        log): of run index ``run``, or of every run."""
        self.unlisted_import_failures()
        return sum(self._unlisted_not_kept.values()) if run is None else self._unlisted_not_kept.get(run, 0)

    def failed_imports_text(self, run: Run) -> str | None:
        """``2 failed (ComfyUI_MaskGCT by its `Cannot import` line: its row of the import times is not in the
        log)``: the run's failed custom nodes, those of its import times and those only a line names; None if none."""
        cut = [(path, e) for path, e in self.unlisted_import_failures().items()
               if (found := self.run_at(e.source, e.line)) is not None and found.index == run.index]
        more = self.unlisted_imports_not_kept(run.index)
        failed = run.failed_imports + len(cut) + more
        if not failed:
            return None
        if not cut:
            return f"{failed} failed"
        one = len(cut) + more == 1
        kinds = " or ".join(sorted({"`Skip`" if (read := read_import_message(e.message)) is not None
                                    and (read.reason or "").startswith(NO_MAPPINGS) else "`Cannot import`"
                                    for _, e in cut}))
        names = listing([basename(path) for path, _ in cut[:3]], len(cut) + more)
        return (f"{failed} failed ({names} by {'its' if one else 'their'} {kinds} line{'' if one else 's'}: "
                f"{'its row' if one else 'their rows'} of the import times {'is' if one else 'are'} not in the log)")

    def run_errors(self, run: Run) -> Iterator[ErrorRecord]:
        """The error records on the lines of ``run``, in table order, one at a time (a run may log 300,000)."""
        return walk(self.report.errors, self.run_error_positions(run))

    def run_error_positions(self, run: Run) -> Sequence[int]:
        """Where the error records on the lines of ``run`` are in their table, in table order."""
        lines, positions, in_order = self._errors_by_source().get(run.source, (array("q"), array("q"), True))
        found = positions[bisect_left(lines, run.first_line):bisect_right(lines, run.last_line)]
        return found if in_order else array("q", sorted(found))

    def _errors_by_source(self) -> dict[int, tuple[array[int], array[int], bool]]:
        """By source, the lines of its error records in line order, their positions in the table alike, and
        whether that is table order: columns, not the records (the HTML timeline's markers read them run by
        run)."""
        cached: dict[int, tuple[array[int], array[int], bool]] | None = getattr(self, "_error_sources", None)
        if cached is None:
            columns: dict[int, tuple[array[int], array[int]]] = {}
            for position, e in enumerate(self.report.errors):
                lines, positions = columns.setdefault(e.source, (array("q"), array("q")))
                lines.append(e.line)
                positions.append(position)
            cached = {}
            for source, (lines, positions) in columns.items():
                if all(lines[i] <= lines[i + 1] for i in range(len(lines) - 1)):
                    cached[source] = (lines, positions, True)
                    continue
                order = sorted(range(len(lines)), key=lines.__getitem__)  # stable: table order within a line
                cached[source] = (array("q", (lines[i] for i in order)), array("q", (positions[i] for i in order)),
                                  False)
            self._error_sources = cached
        return cached


def evidence_in_line_order(finding: Finding) -> list[Evidence]:
    """A finding's evidence as a reader follows the log: by file, then by line."""
    return sorted(finding.evidence, key=lambda e: (e.source, e.line))


#: Prompt numbers named per reason in a "not timed" note; more are counted.
NOT_TIMED_NAMED = 6


def shown_phase(prompt: Prompt, phase: Phase) -> float | None:
    """A prompt's phase as the prompt tables show it (None: ``—``). A prompt without a total shows none, unless the
    segmenter timed its phases one by one (``not_timed`` names the others): a prompt the log ends inside whose
    sampling bar the log holds sampled for that bar's time (field3 07: 4:19 of a 4-step bar, no clock)."""
    if prompt.total_s is None and not prompt.not_timed:
        return None
    return prompt.phases.get(phase)


def not_timed_notes(prompts: Iterable[Prompt]) -> list[str]:
    """One note per way the prompts shown have phases the log cannot time (``—``), naming them: the same
    words in every report, the reasons' codes being the JSON's ``not_timed``. A prompt whose untimed
    phases share one reason gets that reason's sentence; one with several reasons gets one note naming
    the phases of each (050: load for no timestamps, inference for no sampling bar, other for no total),
    not a note per reason that names the prompt again."""
    by_reasons: dict[tuple[tuple[str, str], ...], list[int]] = {}
    for prompt in prompts:
        why = prompt.not_timed or {}
        if len(set(why.values())) > 1:
            key = tuple((phase.value, why[phase.value]) for phase in PHASES if phase.value in why)
            by_reasons.setdefault(key, []).append(prompt.index + 1)
        elif why:
            by_reasons.setdefault((("", next(iter(why.values()))),), []).append(prompt.index + 1)
    return [f"— not timed ({_numbers(numbers)}): {_untimed(reasons)}" for reasons, numbers in by_reasons.items()]


def _untimed(reasons: tuple[tuple[str, str], ...]) -> str:
    """One reason's sentence, or each phase with its own reason."""
    if len(reasons) == 1 and not reasons[0][0]:
        return UNTIMED.get(reasons[0][1], reasons[0][1])
    phases: dict[str, list[str]] = {}
    for phase, reason in reasons:
        phases.setdefault(reason, []).append(phase)
    said = [f"{' and '.join(names)} ({UNTIMED_CAUSE.get(reason, reason)})" for reason, names in phases.items()]
    return ", ".join(said) + ": the log does not say how long these took"


#: What a prompt status that is not self-explanatory means, said under the prompt tables.
STATUS_MEANING = {
    "dropped": "received, then gone from the queue without running: deleted from the queue or cancelled before "
               "its turn (ComfyUI logs nothing for that but a cancel through its jobs API, noted where the log has "
               "one)",
}
#: The prompts after a dropped one that ReportIndex.cancelled_pending looks through for the one that ran in its turn.
MAX_DROPPED_AHEAD = 1000


#: Custom nodes only a `Cannot import` or `Skip` line names (their rows of the import times not in the log) that the
#: index keeps with their first record, for import-failed to name and cite; real logs name a few, a hostile one
#: hundreds of thousands: the others are counted by run (ReportIndex.unlisted_imports_not_kept).
MAX_UNLISTED_IMPORTS = 1000


def not_kept_texts(report: Report) -> list[str]:
    """What the reports say of what a hostile log held past the bounds the segmenters keep: the model requests past a
    prompt's MAX_PROMPT_MODELS, the rows of the import times beyond a run's MAX_RUN_IMPORT_TIMES (their counts and
    seconds are in the run's figures all the same)."""
    said = []
    if report.summary.models_not_listed:
        said.append(f"{report.summary.models_not_listed} more model requests not kept (a prompt lists at most "
                    f"{MAX_PROMPT_MODELS} models)")
    imports = sum(run.imports_not_kept for run in report.runs)
    if imports:
        said.append(f"{imports} more rows of the custom nodes' import times not kept (a run keeps its first and last "
                    f"{MAX_RUN_IMPORT_TIMES // 2}; the counts and seconds are of them all)")
    return said


def status_notes(prompts: Iterable[Prompt]) -> list[str]:
    """One note per status in STATUS_MEANING that the prompts shown have, naming them."""
    by_status: dict[str, list[int]] = {}
    for prompt in prompts:
        if prompt.status in STATUS_MEANING:
            by_status.setdefault(prompt.status, []).append(prompt.index + 1)
    return [f"{status} ({_numbers(numbers)}): {STATUS_MEANING[status]}" for status, numbers in by_status.items()]


#: The message of each interrupt request as the notes name it (its prompt id left out: the log's text).
INTERRUPT_FORMS = {"interrupt_prompt": "Interrupting prompt …",
                   "interrupt_global": "Global interrupt (no prompt_id specified)",
                   "cancel_running": "Cancelling running prompt …"}
#: Interrupted prompts whose request the notes name, at most; the rest are counted.
MAX_INTERRUPT_NOTES = 5


def interrupt_notes(index: ReportIndex, prompts: Iterable[Prompt]) -> list[str]:
    """Under a prompt table, for each interrupted prompt the log shows a request to stop
    (ReportIndex.interrupt_requests): that it came through ComfyUI's API, not from a failure, and from where it can
    come. A person asks "I did not cancel" (field3 01); where the log holds no such line, nothing is said."""

    def said(prompt: Prompt, requests: list[Event]) -> str:
        first = requests[0]
        form = INTERRUPT_FORMS.get(str(first.fields.get("pattern")), "Interrupting prompt …")
        more = f", {len(requests)} requests in all" if len(requests) > 1 else ""
        everything = (" with no prompt id, which stops whichever prompt runs" if first.fields.get("all") else "")
        return (f"interrupted ({prompt.index + 1}): a request to stop it reached the server "
                f"({index.lines_ref(first.source, first.line)}, `{form}`{more}): ComfyUI's /interrupt API"
                f"{everything}, sent by the UI's cancel button, a script or another client")

    return _request_notes(prompts, index.interrupt_requests, said, "interrupted: {} stopped on such a request")


def cancel_notes(index: ReportIndex, prompts: Iterable[Prompt]) -> list[str]:
    """Under a prompt table, for each dropped prompt a `Cancelling pending prompt` line may have removed
    (ReportIndex.cancelled_pending): that a cancel through ComfyUI's jobs API came while it was queued."""

    def said(prompt: Prompt, requests: list[Event]) -> str:
        first = requests[0]
        more = f", {len(requests)} such lines" if len(requests) > 1 else ""
        return (f"dropped ({prompt.index + 1}): a request to cancel a queued prompt reached the server while it "
                f"waited ({index.lines_ref(first.source, first.line)}, `Cancelling pending prompt …`{more}): "
                "ComfyUI's jobs API, sent by the UI's queue, a script or another client")

    return _request_notes(prompts, index.cancelled_pending, said, "dropped: {} cancelled so")


def _request_notes(prompts: Iterable[Prompt], requests_of: Callable[[Prompt], list[Event]],
                   said: Callable[[Prompt, list[Event]], str], rest: str) -> list[str]:
    """A note per prompt with requests (at most MAX_INTERRUPT_NOTES), then one counting the prompts not named."""
    notes: list[str] = []
    unsaid = 0
    for prompt in prompts:
        requests = requests_of(prompt)
        if not requests:
            continue
        if len(notes) == MAX_INTERRUPT_NOTES:
            unsaid += 1
            continue
        notes.append(said(prompt, requests))
    if unsaid:
        notes.append(rest.format(plural(unsaid, "more prompt")))
    return notes


#: Before a total that is only the part of its prompt in the log.
AT_LEAST = "≥"


def total_is_lower_bound(prompt: Prompt) -> bool:
    """The prompt began before the log's first line and no `Prompt executed in` gives its total: its total is timed
    from the log's first line to its last line, the part of it the log holds, and it ran longer (field log 01's
    25:21, unfinished; field5 10's out-of-memory error 3 ms after the log's first line, which showed a total of
    0.0s)."""
    return prompt.log_starts_inside and prompt.executed_s is None and prompt.total_s is not None


def total_text(prompt: Prompt, compact: bool = False) -> str:
    """A prompt's total as the prompt tables show it: ``≥25:21`` where it is only the part in the log."""
    return (AT_LEAST if total_is_lower_bound(prompt) else "") + fmt_s(prompt.total_s, prompt.estimated, compact)


def lower_bound_notes(prompts: Iterable[Prompt]) -> list[str]:
    """The notes under a prompt table that say which totals are at least (``≥``) and why: the prompts the log starts
    and ends inside, and those it starts inside that ended (an error, an interrupt) with no `Prompt executed in`."""
    bounded = [p for p in prompts if total_is_lower_bound(p)]
    notes = []
    for numbers, ended in (([p.index + 1 for p in bounded if p.status == "unfinished"], False),
                           ([p.index + 1 for p in bounded if p.status != "unfinished"], True)):
        if not numbers:
            continue
        one = len(numbers) == 1
        inside = ("starts inside it and no `Prompt executed in` gives its total" if ended and one
                  else "starts inside each and no `Prompt executed in` gives their totals" if ended
                  else f"starts and ends inside {'it' if one else 'each'}")
        said = "its total is the part in the log: it" if one else "their totals are the parts in the log: each"
        notes.append(f"{AT_LEAST} at least ({_numbers(numbers)}): the log {inside}, so {said} ran longer")
    return notes


def _numbers(numbers: list[int]) -> str:
    """``prompt 2`` / ``prompts 2, 3 and 4 more``."""
    named = listing(map(str, numbers[:NOT_TIMED_NAMED]), len(numbers))
    return f"{'prompt' if len(numbers) == 1 else 'prompts'} {named}"


def index_of(report: Report) -> ReportIndex:
    """The report's index, built on first use and kept on the report (its tables no longer change)."""
    index = report.index_cache
    if not isinstance(index, ReportIndex):
        index = ReportIndex(report)
        report.index_cache = index
    return index


def drop_index(report: Report) -> None:
    """Let go of the report's index (index_of; the diagnosis leaves its Facts there). The index refers
    back to the report, so a report dropped with its index is garbage in a cycle: only a pass of the
    cyclic garbage collector, which looks at every record first, frees it. Without it the report goes
    when its last reference does (a fleet drops thousands: the passes were a sixth of its time)."""
    report.index_cache = None


def own_spans(report: Report) -> list[tuple[str, float | None]] | None:
    """Each input's name and span when their clocks do not follow on (else None: one span says it)."""
    if report.summary.inputs_in_time_order or len(report.sources) < 2:
        return None
    return [(basename(src.name), src.span_s) for src in report.sources]


def span_words(report: Report) -> str:
    """What the header says of the log's length (text.span_text), from the report."""
    minute_stamps = any(r.resolution >= 60 for r in report.runs)
    return span_text(report.summary.span_s, minute_stamps, own_spans(report), clock_backs(report))


def count_words(report: Report) -> list[str]:
    """The footer's counts of partial loads and websocket timeouts, for terminal and HTML ("1 partial load")."""
    s = report.summary
    words = []
    if s.partial_loads or s.lowvram_module_loads:
        words.append(f"{plural(s.partial_loads, 'partial load')}, "
                     f"{plural(s.lowvram_module_loads, 'lowvram module load')}")
    if s.ws_timeouts:
        words.append(plural(s.ws_timeouts, "websocket timeout"))
    return words


def clock_backs(report: Report) -> list[tuple[str | None, int]]:
    """Where each input's clock first goes back by more than a minute: its name (None for a single
    input) and the line. The span then runs from the earliest stamp to the latest."""
    single = len(report.sources) < 2
    return [(None if single else basename(src.name), src.clock_back_line)
            for src in report.sources if src.clock_back_line is not None]


#: Notable events any Python program's log may hold: alone, they do not make a ComfyUI log.
GENERIC_KINDS = frozenset({EventKind.TRACEBACK, EventKind.OOM, EventKind.ERROR_LINE})
#: ``error`` of error lines only ComfyUI prints (parse/messages.toml): its server's `Port N is already in use on
#: address A.`, which may be all a user copies of a start that failed; argparse's usage of ComfyUI's own command
#: line (its `--listen`), which a launch refused prints before its `main.py: error:` (the args-refused rule).
COMFYUI_ERROR_LINES = frozenset({"port_in_use", "comfyui_usage"})


def _in_logger_form(src: SourceInfo) -> bool:
    """Most of the input's lines carry the ``<isoformat> - `` stamp of ComfyUI's own log buffer (app/logger.py
    LogInterceptor keeps ``datetime.now().isoformat()`` with each write; the error report and the frontend's log
    copy join them ``t - m``): what ComfyUI wrote, even where no line of ComfyUI's core is in the excerpt (field9
    04: a custom node's tables only)."""
    stamped = src.timestamp_styles.get("error-report", 0)
    return stamped >= 2 and 2 * stamped >= src.lines


def comfyui_sources(report: Report) -> set[int]:
    """The inputs in which comfylog recognised ComfyUI, ComfyUI-Manager, worker-comfyui or RunPod lines.

    An input with none (``echo hello``, another program's log) is not a ComfyUI log: the commands
    say so instead of reporting nothing. A traceback counts when it runs through ComfyUI (its
    ``main.py`` or ``execution.py``, a custom node).
    """
    found = {i for i, src in enumerate(report.sources) if src.report_fields or _in_logger_form(src)}
    for run in report.runs:
        # ready_line, not ready_at: `To see the GUI go to` in a log with no clock is ComfyUI's too (field9 07)
        if (run.device or run.total_vram_mb or run.vram_states or run.comfyui_version or run.pytorch_version
                or run.import_times or run.ready_line is not None or run.serverless or run.cuda_version):
            found.add(run.source)
    if len(found) < len(report.sources):
        found.update(p.source for p in report.prompts)
        found.update(ld.source for ld in report.loads)
        # ComfyUI's own validator, ComfyUI-Manager failing to install a node pack, or ComfyUI Desktop telling that
        # the ComfyUI server it started exited (its main.log), said it
        found.update(e.source for e in report.errors if e.kind in ("validation", "node_install", "desktop_exited"))
        for ev in report.notable:
            if (ev.kind not in GENERIC_KINDS or ev.fields.get("custom_node")
                    or outermost_file(ev.fields).endswith(COMFYUI_ENTRY_FILES)
                    or ev.fields.get("error") in COMFYUI_ERROR_LINES):
                found.add(ev.source)
    return found


def not_comfyui_reason(report: Report, source: int) -> str:
    """Why input ``source`` is no ComfyUI log, in one line for the user."""
    src = report.sources[source]
    if src.lines == 0:
        return f"{src.name}: is empty"
    return (f"{src.name}: not a ComfyUI log (no ComfyUI, ComfyUI-Manager, worker-comfyui or RunPod line in its "
            f"{src.lines} line{'s' if src.lines != 1 else ''})")
