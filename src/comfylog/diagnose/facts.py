"""What the rules share: the report index (index.py) with the groups of prompts rules pick out,
how each run ended, which prompts died silently, and the citations of evidence (evidence.py)."""

from __future__ import annotations

import heapq
from array import array
from bisect import bisect_left, bisect_right
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Generic, Protocol, TypeVar, cast

from ..dataclass import dataclass
from ..events import Event, EventKind, Phase
from ..index import ReportIndex
from ..lazyre import lazy_re
from ..model import ErrorRecord, Load, ProgressBar, Prompt, Report, Run
from ..spool import Spool, can_keep, record_bytes, walk
from ..text import basename, gb, with_article
from .evidence import Citations

T = TypeVar("T")
F = TypeVar("F", bound="PromptFold")

#: GPUs at least this large (MB) hold the usual image and video models in full.
LARGE_GPU_MB = 12_000
#: Below this (MB) a GPU is too small for SDXL-class models; partial loading is expected there.
SMALL_GPU_MB = 8_000
#: GGUF tensor types that are quantized (``F16`` and ``F32`` are not).
QUANTIZED_PREFIXES = ("Q", "IQ", "TQ")
#: Error records a worker or handler writes when ComfyUI is gone: echoes of a death, not its cause.
WORKER_ECHOES = frozenset({"ws_lost", "worker", "handler"})


def prompt_seconds(prompt: Prompt) -> float:
    """A prompt's duration: as ComfyUI printed it when it did, else as measured."""
    if prompt.executed_s is not None:
        return prompt.executed_s
    return prompt.total_s or 0.0


def is_timed(prompt: Prompt) -> bool:
    """Measured from timestamps (not estimated from a printed duration), and longer than nothing."""
    return bool(prompt.total_s) and not prompt.estimated


def timed(prompts: Iterable[Prompt]) -> list[Prompt]:
    return [p for p in prompts if is_timed(p)]


#: A timed prompt that spent at least this long loading (not reloading after an OOM) is what slow-load judges.
LONG_LOAD_S = 20.0

#: Groups of prompts some rules pick out, found in the index's one pass over the prompts.
PROMPT_GROUPS: dict[str, Callable[[Prompt], bool]] = {
    "timed": is_timed,
    "unfinished": lambda p: p.status == "unfinished",
    "invalid": lambda p: p.status == "invalid",
    "ws_timeouts": lambda p: p.ws_timeouts > 0,
    "lowvram_modules": lambda p: p.lowvram_module_loads > 0,
    "quantized": lambda p: bool(p.gguf_qtypes) and any(n.startswith(QUANTIZED_PREFIXES) for n in p.gguf_qtypes or ()),
    "loading_long": lambda p: is_timed(p) and p.phases.seconds(Phase.LOAD) >= LONG_LOAD_S and not p.cold,
    "error": lambda p: p.status == "error",
    "cold": lambda p: p.cold,
    "finished_video": lambda p: p.status == "ok" and bool(p.video),
}
#: The groups of prompts whose loads the rules read one prompt at a time (timed_loads, slow-load, gguf): their
#: loads are filed in a group of their own in the index's one pass (the loads come after the prompts). A rule's
#: module that defines a group of its own adds it here (load_speed.py's ``load_estimable``).
LOADS_READ_OF = ["timed", "quantized"]
#: The groups of prompts whose bars the rules read one prompt at a time (silent deaths, slow-load).
BARS_READ_OF = ["unfinished", "loading_long"]
#: The groups of prompts whose errors the rules read one prompt at a time (silent deaths, dynamic-vram-failed).
ERRORS_READ_OF = ("unfinished", "error")
#: Flags of a prompt whose records are filed (Facts._wants).
WANTS_LOADS = 1
WANTS_BARS = 2
WANTS_ERRORS = 4
#: Groups of loads (by kind) some rules pick out, found in the same pass; ``complete`` is nearly every load.
LOAD_GROUPS: dict[str, tuple[str, ...]] = {
    "offloaded": ("partial", "lowvram"),
    "dynamic": ("dynamic",),
}
#: Kinds of error records some rules read (each a group: its records copied while they are the small side).
ERROR_KINDS = ("exception", "import_failed", "oom", "oom_recovered", "crash", "ws_lost", "worker", "interrupted",
               "validation", "unhealthy", "gpu_unavailable", "desktop_exited")
#: Groups of runs some rules pick out, found in the index's one pass over the runs (a long log's runs are few but
#: large, ~7 kB decoded: a pass over them costs as much as one over its loads). Rules with a test of their own
#: add it with ``run_group``.
RUN_GROUPS: dict[str, Callable[[Run], bool]] = {
    "on_cpu": lambda r: on_cpu(r),
    "vram_flags": lambda r: any(s in ("HIGH_VRAM", "NO_VRAM", "LOW_VRAM") for s in r.vram_states),
    "import_failures": lambda r: any(failed for _, _, failed, _ in r.import_times),
    "ram_limited": lambda r: "ram_limit_mb" in r.setup,
    "serverless": lambda r: r.serverless,
    "dynamic_vram_off": lambda r: r.setup.get("dynamic_vram") is False,
}


class PromptFold(Protocol):
    """What a rule keeps of every prompt, folded in the index's one pass (``feed(position, prompt)``)."""

    def __init__(self) -> None: ...

    def feed(self, position: int, prompt: Prompt) -> None: ...


#: The folds over every prompt that rules add with ``prompt_fold`` (each made anew per report, read with
#: ``Facts.fold``): what a rule would otherwise read back from a long log's prompts table, which is on disk, in a
#: pass of its own.
PROMPT_FOLDS: list[type[PromptFold]] = []


def prompt_fold(cls: type[F]) -> type[F]:
    """Add a class to PROMPT_FOLDS (as a decorator, where the rule that reads the fold defines it)."""
    PROMPT_FOLDS.append(cls)
    return cls


class BarFold(Protocol):
    """What a rule keeps of every progress bar, folded in the index's one pass (``feed(position, bar)``)."""

    def __init__(self) -> None: ...

    def feed(self, position: int, bar: ProgressBar) -> None: ...


#: The folds over every progress bar that rules add with ``bar_fold`` (read with ``Facts.fold``): a rule's own pass
#: over a long log's bars decoded the table from disk again.
BAR_FOLDS: list[type[BarFold]] = []
B = TypeVar("B", bound=BarFold)


def bar_fold(cls: type[B]) -> type[B]:
    """Add a class to BAR_FOLDS (as a decorator, where the rule that reads the fold defines it)."""
    BAR_FOLDS.append(cls)
    return cls


def run_group(name: str) -> Callable[[Callable[[Run], bool]], Callable[[Run], bool]]:
    """Add a test to RUN_GROUPS (as a decorator, where the rule that reads the group defines it)."""

    def add(test: Callable[[Run], bool]) -> Callable[[Run], bool]:
        RUN_GROUPS[name] = test
        return test

    return add


#: Records per block of a group's copy: a group of a long log is a few blocks; a short one stays in memory.
GROUP_BLOCK = 256
#: Runs per block of a group's copy: a run is ~7 kB decoded, and each group holds its newest block in memory.
RUN_GROUP_BLOCK = 32


class Group(Generic[T]):
    """Records of one table that a test picks out: their positions there, and a copy of them in a spool of
    their own while they are the small side of the table (spool.py).

    A rule walking a small group then decodes its members, not every block of the table they are scattered
    over. A group of most of the table (every prompt of a log with time stamps is timed) is read from the
    table itself, which a walk in order decodes once: a second copy would cost more to write than it saves.
    """

    __slots__ = ("positions", "copy", "_most", "_block")

    def __init__(self, table_size: int | None = None, block: int | None = None, copy: bool = True,
                 hold: int = 0) -> None:
        """``table_size``: the table's records, when known; then a group is copied up to half of them,
        else while it is at most half the records read (prompts with a test of their own come evenly; the
        records of some prompts, their loads, cluster where those prompts do). ``block``: records per block
        of the copy (GROUP_BLOCK). ``copy``: False where the tables stay decoded whole (spool.can_keep).
        ``hold``: the estimated bytes of a record (spool.record_bytes): the copy's blocks stay in memory while
        the budget of decoded blocks takes them (Spool's ``hold``)."""
        self._block = block or GROUP_BLOCK
        self.positions: array[int] = array("q")
        #: None once the members passed half the records (and a block of the copy), or when not copied.
        self.copy: Spool[T] | None = Spool(block=self._block, compress=False, hold=hold) if copy else None
        self._most = None if table_size is None else max(self._block, table_size // 2)

    def add(self, position: int, record: T) -> None:
        """File the record at ``position`` of the table (positions come in increasing order)."""
        positions = self.positions
        positions.append(position)
        copy = self.copy
        if copy is not None:
            most = self._most
            if len(positions) > self._block and (2 * len(positions) > position + 1 if most is None
                                                 else len(positions) > most):
                self.copy = None  # the big side: its spool (and what it kept) goes
            else:
                copy.append(record)

    def members(self, table: Sequence[T]) -> Iterator[T]:
        """The members, in table order."""
        return iter(self.copy) if self.copy is not None else walk(table, self.positions)

    def records_at(self, table: Sequence[T], positions: Sequence[int]) -> list[T]:
        """The records at these positions of the table, from the copy when all are members of it (a prompt's
        loads: a few blocks of the copy instead of one of the table for each prompt)."""
        return list(self.walk_at(table, positions))

    def walk_at(self, table: Sequence[T], positions: Sequence[int]) -> Iterator[T]:
        """records_at one at a time, for a reader that folds them (a prompt may have 300,000 errors)."""
        copy = self.copy
        if copy is None or not positions:
            return walk(table, positions)
        members = self.positions
        if isinstance(positions, range) and positions.step == 1:  # a prompt's records, nearly always
            # members rise strictly: n of them from the range's first to its last are the whole range
            first = bisect_left(members, positions.start)
            last = first + len(positions) - 1
            if last < len(members) and members[first] == positions.start and members[last] == positions[-1]:
                return copy.walk(range(first, last + 1))
            return walk(table, positions)
        indexes = []
        for position in positions:
            i = bisect_left(members, position)
            if i == len(members) or members[i] != position:
                return walk(table, positions)
            indexes.append(i)
        return copy.walk(indexes)

    def members_at(self, table: Sequence[T], positions: Iterable[int]) -> Iterator[T]:
        """The members among the records at these positions of the table, in the order given."""
        members = self.positions
        found = array("q")
        for position in positions:
            i = bisect_left(members, position)
            if i < len(members) and members[i] == position:
                found.append(i)
        copy = self.copy
        return copy.walk(found) if copy is not None else walk(table, (members[i] for i in found))

    def held(self, position: int) -> T | None:
        """The member at ``position`` of the table from the copy, None where it is no member or not copied."""
        copy = self.copy
        if copy is None:
            return None
        positions = self.positions
        i = bisect_left(positions, position)
        return copy[i] if i < len(positions) and positions[i] == position else None


class _OfPrompt(Protocol):
    prompt: int | None


A = TypeVar("A", bound=_OfPrompt)


class FiledByPrompt(Generic[A]):
    """The records of one table (loads, bars, errors) of the prompts whose ``wants`` has ``flag``, copied
    in the index's one pass over the table (Group): what a rule reads of those prompts one at a time."""

    __slots__ = ("_table", "_wants", "_flag", "_group")

    def __init__(self, table: Sequence[A], wants: bytearray, flag: int, copy: bool) -> None:
        self._table, self._wants, self._flag = table, wants, flag
        self._group: Group[A] = Group(len(table), copy=copy, hold=record_bytes(table))

    def visitor(self) -> Callable[[int, A], None]:
        """What files a record (``visit(position, record)``), what it reads in locals: it runs on every load, bar
        and error of a long log."""
        group, wants, flag, count = self._group, self._wants, self._flag, len(self._wants)

        def visit(position: int, record: A) -> None:
            if group.copy is None:
                return  # not copied: the records are read from the table
            prompt = record.prompt
            if prompt is not None and 0 <= prompt < count and wants[prompt] & flag:
                group.add(position, record)

        return visit

    def records_at(self, positions: Sequence[int]) -> list[A]:
        """The prompt's records at these positions of the table (from the copy when they are in it)."""
        return self._group.records_at(self._table, positions)

    def walk_at(self, positions: Sequence[int]) -> Iterator[A]:
        """records_at one at a time."""
        return self._group.walk_at(self._table, positions)


class FollowingLoads:
    """The load that followed each ``Requested to load`` event: the first load of its input, in table order,
    on a later line. Found in the index's one pass over the loads (the events are in memory, bounded): what
    reload-thrash times, which a lookup per event would make a pass of its own over the loads."""

    def __init__(self, events: Iterable[Event]) -> None:
        lines: dict[int, list[int]] = defaultdict(list)
        for ev in events:
            if ev.kind == EventKind.LOAD_REQUESTED:
                lines[ev.source].append(ev.line)
        #: source -> [the request lines in order, the first not yet answered]
        self._pending: dict[int, list[Any]] = {source: [sorted(found), 0] for source, found in lines.items()}
        self._found: dict[tuple[int, int], int] = {}

    def visit(self, position: int, load: Load) -> None:
        pending = self._pending.get(load.source)
        if pending is None:
            return
        lines, i = pending
        line = load.line
        if lines[i] < line:
            found, source, count = self._found, load.source, len(lines)
            while i < count and lines[i] < line:
                found[(source, lines[i])] = position
                i += 1
            if i == count:
                del self._pending[source]
            else:
                pending[1] = i

    def after(self, source: int, line: int) -> int | None:
        """The table position of the load that followed the request on this line, None when none did."""
        return self._found.get((source, line))


#: ``usable`` / ``loaded`` figures this large stand for "no limit" (ComfyUI prints 1e32 bytes as 9.5e25 MB).
UNLIMITED_MB = 1e9


class LoadSizes:
    """The sizes complete loads put on the GPU (MB), by source: the largest of each model, and each distinct
    size (its first load), sorted, folded in the index's one pass. An old ``loaded partially`` line prints
    no model size; lowvram reads it here (a load of the same model, or the next size up)."""

    def __init__(self, loads: Sequence[Load]) -> None:
        """``loads``: the table the loads fed are in. What is kept of a load is its size and its position there,
        read back when asked: the loads themselves would hold every decoded load of a log of many distinct models
        (one prompt of 400,000: ~100 MB)."""
        self._loads = loads
        #: source -> model -> (its largest size, that load's position)
        self._largest: dict[int, dict[str, tuple[float, int]]] = defaultdict(dict)
        #: source -> size -> the position of its first load
        self._distinct: dict[int, dict[float, int]] = defaultdict(dict)
        self._sorted: dict[int, tuple[list[float], list[int]]] = {}

    def feed(self, position: int, load: Load) -> None:
        size = load.loaded_mb
        if load.kind != "complete" or size is None or not 0 < size < UNLIMITED_MB:
            return
        self._distinct[load.source].setdefault(size, position)
        if load.model:
            of_source = self._largest[load.source]
            known = of_source.get(load.model)
            if known is None or size > known[0]:
                of_source[load.model] = (size, position)

    def largest(self, source: int, model: str) -> Load | None:
        """The largest complete load of ``model`` in ``source``."""
        known = self._largest.get(source, {}).get(model)
        return None if known is None else self._loads[known[1]]

    def next_above(self, source: int, size: float) -> Load | None:
        """The first complete load of the smallest size above ``size`` in ``source``."""
        if source not in self._sorted:
            distinct = self._distinct.get(source, {})
            sizes = sorted(distinct)
            self._sorted[source] = (sizes, [distinct[s] for s in sizes])
        sizes, positions = self._sorted[source]
        at = bisect_right(sizes, size)
        return self._loads[positions[at]] if at < len(sizes) else None


class Facts(ReportIndex, Citations):
    """The report index with what rules add to it. A long log's tables are read once, here."""

    def __init__(self, report: Report) -> None:
        # A table that stays decoded whole (a log up to some 100 MB: all but its last bars) is read from: copies
        # of its groups would only cost. A longer log's rules read the groups' copies, a few blocks each.
        keep_runs, keep_prompts, keep_errors, keep_loads, keep_bars = can_keep(
            (report.runs, report.prompts, report.errors, report.loads, report.progress_bars))  # the index's order
        self._load_groups: dict[str, Group[Load]] = {name: Group(copy=not keep_loads, hold=record_bytes(report.loads))
                                                    for name in LOAD_GROUPS}
        load_groups = {kind: self._load_groups[name].add for name, kinds in LOAD_GROUPS.items() for kind in kinds}
        # What a prompt's records are filed for (WANTS_LOADS, WANTS_BARS), by prompt index.
        count = len(report.prompts)
        wants = bytearray(count)
        self._prompt_loads: FiledByPrompt[Load] | None = FiledByPrompt(report.loads, wants, WANTS_LOADS, not keep_loads)
        self._prompt_bars: FiledByPrompt[ProgressBar] | None = FiledByPrompt(
            report.progress_bars, wants, WANTS_BARS, not keep_bars)
        self._prompt_errors: FiledByPrompt[ErrorRecord] | None = FiledByPrompt(
            report.errors, wants, WANTS_ERRORS, not keep_errors)
        file_load, file_error = self._prompt_loads.visitor(), self._prompt_errors.visitor()
        self.following_loads = FollowingLoads(report.notable)
        follow = self.following_loads.visit

        self.load_sizes = LoadSizes(report.loads)
        feed_sizes = self.load_sizes.feed

        def visit_load(position: int, load: Load) -> None:
            follow(position, load)
            add = load_groups.get(load.kind)
            if add is not None:
                add(position, load)
            feed_sizes(position, load)
            file_load(position, load)

        self._error_kinds: dict[str, Group[ErrorRecord]] = {
            kind: Group(len(report.errors), copy=not keep_errors, hold=record_bytes(report.errors))
            for kind in ERROR_KINDS}
        by_kind = {kind: group.add for kind, group in self._error_kinds.items()}
        #: Error records by kind, counted (what a rule asks of the whole table).
        self.error_counts: Counter[str] = Counter()
        count_error = self.error_counts.update
        #: KeyboardInterrupt records by source: how runs were stopped by hand (run_end).
        self._ctrl_c: dict[int, list[int]] = defaultdict(list)

        def visit_error(position: int, error: ErrorRecord) -> None:
            count_error((error.kind,))
            add = by_kind.get(error.kind)
            if add is not None:
                add(position, error)
            file_error(position, error)
            if error.kind == "interrupted" and "KeyboardInterrupt" in error.message:
                self._ctrl_c[error.source].append(error.line)

        cpu_runs: set[int] = set()
        run_block = min(GROUP_BLOCK, RUN_GROUP_BLOCK)
        self._run_groups: dict[str, Group[Run]] = {name: Group(len(report.runs), run_block, not keep_runs)
                                                    for name in RUN_GROUPS}
        run_filing = [(test, self._run_groups[name].add) for name, test in RUN_GROUPS.items()]

        def visit_run(position: int, run: Run) -> None:
            for test, add in run_filing:
                if test(run):
                    add(position, run)
            if on_cpu(run):
                cpu_runs.add(run.index)

        self._groups: dict[str, Group[Prompt]] = {name: Group(copy=not keep_prompts, hold=record_bytes(report.prompts))
                                                   for name in [*PROMPT_GROUPS, "on_cpu", "before_log"]}
        filing = [(test, self._groups[name].add,
                   (WANTS_LOADS if name in LOADS_READ_OF else 0) | (WANTS_BARS if name in BARS_READ_OF else 0)
                   | (WANTS_ERRORS if name in ERRORS_READ_OF else 0))
                  for name, test in PROMPT_GROUPS.items()]
        add_on_cpu = self._groups["on_cpu"].add
        # ``before_log``: the prompt the log starts inside, running at its first line (Prompt.log_starts_inside: not
        # one queued behind it, whose `got prompt` is also before the log; field log 09's begins at the first one's
        # `Prompt executed`).
        add_before_log = self._groups["before_log"].add
        self._folds: dict[type[Any], Any] = {cls: cls() for cls in (*PROMPT_FOLDS, *BAR_FOLDS)}
        folds = [self._folds[cls].feed for cls in PROMPT_FOLDS]
        bar_folds = [self._folds[cls].feed for cls in BAR_FOLDS]
        file_bar = self._prompt_bars.visitor()

        def visit_bar(position: int, bar: ProgressBar) -> None:
            file_bar(position, bar)
            for fold in bar_folds:
                fold(position, bar)
        #: prompt_seconds of each prompt, by position: what a rule sums over thousands of scattered prompts
        #: (seconds_of), each of which read back was a pick from a long log's table on disk.
        self._seconds: array[float] = array("d")
        add_seconds = self._seconds.append

        def visit(position: int, prompt: Prompt) -> None:
            add_seconds(prompt_seconds(prompt))
            for fold in folds:
                fold(position, prompt)
            want = 0
            for test, add, flags in filing:
                if test(prompt):
                    add(position, prompt)
                    want |= flags
            if want and 0 <= prompt.index < count:
                wants[prompt.index] = want
            if prompt.run in cpu_runs:
                add_on_cpu(position, prompt)
            if prompt.log_starts_inside:
                add_before_log(position, prompt)

        ReportIndex.__init__(self, report, visit, visit_load, visit_run, visit_bar, visit_error,
                             (keep_prompts, keep_errors, keep_loads, keep_bars))
        Citations.__init__(self, report)
        self._silent: dict[int, str] | None = None
        self._failed_startups: dict[int, list[Run]] | None = None
        self._ends: dict[int, str] = {}
        self._shared: dict[str, Any] = {}

    def release(self) -> None:
        """Drop what only the rules read: the groups, what ``once`` and the other caches made, the texts they
        could cite. The report keeps this index for the renderers (``report.index_cache``), which read the
        tables through it; the diagnosis would otherwise live as long as the report."""
        self._groups = {}
        self._load_groups = {}
        self._prompt_loads = None
        self._prompt_bars = None
        self._prompt_errors = None
        self._run_groups = {}
        self._error_kinds = {}
        self.following_loads = FollowingLoads(())
        self.load_sizes = LoadSizes(())
        self._folds = {}
        self._seconds = array("d")
        self._ctrl_c = defaultdict(list)
        self._silent = None
        self._failed_startups = None
        self._ends = {}
        self._shared = {}
        Citations.release(self)

    def once(self, key: str, make: Callable[[], T]) -> T:
        """What several rules ask of the whole report, made on first use and kept (the tables do not
        change while rules run): a scan of a table per prompt asked would be quadratic on long logs."""
        if key not in self._shared:
            self._shared[key] = make()
        return cast(T, self._shared[key])

    def fold(self, cls: type[T]) -> T:
        """The report's fold of class ``cls`` (one of PROMPT_FOLDS or BAR_FOLDS), fed every prompt or bar in the
        index's pass."""
        return cast(T, self._folds[cls])

    def prompts_by_index(self, indexes: Iterable[int]) -> list[Prompt]:
        return list(self.prompts_at(sorted(set(indexes))))

    def seconds_of(self, indexes: Iterable[int]) -> float:
        """The prompts' seconds (prompt_seconds) added in index order, as the index's pass filed them: no prompt
        is read back (a rule's prompts may be thousands, scattered over a long log's table on disk)."""
        position, seconds = self.prompts.position, self._seconds
        return sum(seconds[at] for index in sorted(set(indexes)) if (at := position(index)) is not None)

    def prompts_in(self, group: str) -> Iterator[Prompt]:
        """The prompts of one of PROMPT_GROUPS (or ``on_cpu``: of the runs on_cpu; ``before_log``: the prompt each
        input starts inside), in report order."""
        return self._groups[group].members(self.report.prompts)

    def prompts_in_at(self, group: str, indexes: Iterable[int]) -> Iterator[Prompt]:
        """The prompts of one of PROMPT_GROUPS with these indexes, in their order: read from the group, not
        from the table (what a rule needs only of a group's members)."""
        positions = (self.prompts.position(index) for index in indexes)
        return self._groups[group].members_at(self.report.prompts, (p for p in positions if p is not None))

    def runs_in(self, group: str) -> Iterator[Run]:
        """The runs of one of RUN_GROUPS, in report order."""
        return self._run_groups[group].members(self.report.runs)

    def errors_in(self, *kinds: str) -> Iterator[ErrorRecord]:
        """The error records of these kinds (of ERROR_KINDS), in report order: read from their groups, not
        from the whole table."""
        groups = [self._error_kinds[kind] for kind in kinds]
        table = self.report.errors
        if len(groups) == 1:
            return groups[0].members(table)
        merged = heapq.merge(*(zip(group.positions, group.members(table), strict=True) for group in groups),
                             key=lambda pair: pair[0])
        return (record for _, record in merged)

    def loads_of(self, prompt: Prompt) -> list[Load]:
        positions = self._loads.positions(prompt.index)
        filed = self._prompt_loads
        return filed.records_at(positions) if filed is not None else list(walk(self.report.loads, positions))

    def errors_of(self, prompt: Prompt) -> list[ErrorRecord]:
        return list(self.walk_errors_of(prompt))

    def walk_errors_of(self, prompt: Prompt) -> Iterator[ErrorRecord]:
        """The prompt's errors one at a time: what a rule that looks for one of them or folds them reads (a prompt
        may log 300,000 exceptions, which a list would hold)."""
        positions = self._errors.positions(prompt.index)
        filed = self._prompt_errors
        return filed.walk_at(positions) if filed is not None else walk(self.report.errors, positions)

    def bars_of(self, prompt: Prompt) -> list[ProgressBar]:
        positions = self._bars.positions(prompt.index)
        filed = self._prompt_bars
        return filed.records_at(positions) if filed is not None else list(walk(self.report.progress_bars, positions))

    def _prompt_at(self, position: int) -> Prompt:
        prompts = self.report.prompts
        held = prompts.held(position)
        if held is not None:
            return held
        for group in self._groups.values():
            held = group.held(position)
            if held is not None:
                return held
        return prompts[position]

    def loads_in(self, group: str) -> Iterator[Load]:
        """The loads of one of LOAD_GROUPS, in report order."""
        return self._load_groups[group].members(self.report.loads)

    @staticmethod
    def asked_for_restart(run: Run) -> bool:
        """The run ended asking for its own restart (ComfyUI-Manager's Restart printed ``Restarting...``): the
        next start-up is no crash."""
        return bool(run.setup.get("restart_requested"))

    def run_end(self, run: Run) -> str:
        """How a run ended: ``restart`` (the next start-up followed), ``stopped`` (``Stopped server``,
        Ctrl-C, or ComfyUI-Manager's Restart: ``Restarting...``, a restart asked for, no crash), or
        ``log-ends`` (the log just stops)."""
        if run.index in self._ends:
            return self._ends[run.index]
        following = self.runs.get(run.index + 1)
        if self.asked_for_restart(run):
            end = "stopped"
        elif following is not None and following.source == run.source and following.restart:
            end = "restart"
        elif run.stopped or any(run.first_line <= line <= run.last_line for line in self._ctrl_c.get(run.source, ())):
            end = "stopped"
        else:
            end = "log-ends"
        self._ends[run.index] = end
        return end

    def failed_startups(self) -> dict[int, list[Run]]:
        """Sources whose ComfyUI never became ready, by source -> their runs.

        No run of the source printed `To see the GUI go to` or ran a prompt, one of them shows
        ComfyUI starting (its device, custom-node imports, Manager's header, a CUDA banner), and the
        last was not stopped by hand. Judged per source: a start-up split in two by a banner, whose
        second half became ready, is no failure.
        """
        if self._failed_startups is None:
            # One pass; a source's runs are held only while none became ready (a long log has
            # thousands of runs, a few kB each).
            by_source: dict[int, list[Run] | None] = {}  # None: a run of the source became ready
            starting: set[int] = set()
            for run in self.report.runs:
                runs = by_source.setdefault(run.source, [])
                if runs is None:
                    continue
                if run.ready_line is not None or self._by_run.get(run.index):
                    by_source[run.source] = None
                    continue
                runs.append(run)
                if run.source not in starting and self._starting(run):
                    starting.add(run.source)
            # ComfyUI's error report (its header fields read: report_fields) is made by the web page from the
            # server's /system_stats and /internal/logs after a prompt failed: that server served, though its
            # `## Logs` may be cut before `To see the GUI go to` (field4 13, Comfy-Org/ComfyUI#9128's excerpt).
            reported = {i for i, src in enumerate(self.report.sources) if src.report_fields}
            self._failed_startups = {
                source: runs for source, runs in by_source.items()
                if runs is not None and source in starting and source not in reported
                and self.run_end(runs[-1]) != "stopped"}
        return self._failed_startups

    def prestartup_tracebacks(self) -> dict[tuple[int, int], tuple[Event, Event]]:
        """The tracebacks of custom nodes' prestartup scripts, by (source, line), each with its ``Failed to
        execute startup-script: PATH`` line: the traceback that begins on the line after one that gives no
        ` / TEXT` of the exception. (ComfyUI's main.py prints the exception's text there and no traceback;
        hiddenswitch's pip-installable ComfyUI prints the path alone and the traceback after it:
        comfy/nodes/vanilla_node_importing.py @ 1163ca36, ``logger.error(f"Failed to execute startup-script:
        {script_path}", exc_info=e)``.) Each is given as (that line's event, the traceback). ComfyUI starts on
        past such a traceback: it is no start-up failure."""
        def make() -> dict[tuple[int, int], tuple[Event, Event]]:
            said = {(ev.source, ev.line + 1): ev for ev in self.events[EventKind.PRESTARTUP_FAILED]
                    if not ev.fields.get("reason")}
            return {(tb.source, tb.line): (said[(tb.source, tb.line)], tb) for tb in self.events[EventKind.TRACEBACK]
                    if (tb.source, tb.line) in said} if said else {}
        return self.once("prestartup_tracebacks", make)

    def _starting(self, run: Run) -> bool:
        """Does the run show ComfyUI starting, or a worker waiting for it to start, not just lines of another
        program? worker-comfyui's check_server giving up (`Failed to connect to server at … after N attempts`) or
        finding the process gone, with ComfyUI never ready, is a start-up that did not end (field9 08)."""
        return self.shows_startup(run) or any(
            ev.fields.get("state") in ("exited", "gave_up") for ev in self.run_events(EventKind.WORKER_API, run))

    def shows_startup(self, run: Run) -> bool:
        """Does the run show lines of ComfyUI's own start-up? (A traceback out of ComfyUI's ``main.py`` is its
        start-up failing.)"""
        if run.device or run.total_vram_mb or run.import_times:
            return True
        if run.setup.get("platform") or run.setup.get("python_executable") or self.run_events(
                EventKind.CUDA_BANNER, run):
            return True
        if any(ev.fields.get("error") == "port_in_use" for ev in self.run_events(EventKind.ERROR_LINE, run)):
            return True  # ComfyUI's server failing to listen (`Port N is already in use on address A.`)
        return any(basename(str(ev.fields.get("first_file", ""))) == "main.py"
                   for ev in self.run_events(EventKind.TRACEBACK, run))

    def silent_deaths(self) -> dict[int, str]:
        """Prompts cut off during sampling with no error, by index -> how their run ended.

        The shared test of ``oom-suspected`` (which reports them) and ``unfinished`` (which leaves
        them to it): the prompt was running, its last progress bar is the sampler's (not loading, not
        other work such as a VAE: parse/bars.py) short of its total, nothing was logged as an error
        (the worker's report of ComfyUI gone is no error of ComfyUI's), and the run was not stopped
        on purpose. Not a prompt the log both starts and ends inside (its `got prompt` before the log's first
        line, nothing after it): a pasted excerpt of one prompt shows no death.
        """
        if self._silent is None:
            self._silent = {}
            for prompt in self.prompts_in("unfinished"):
                if prompt.total_s is None or any(e.kind not in WORKER_ECHOES for e in self.walk_errors_of(prompt)):
                    continue
                run = self.run_of(prompt)
                if run is None:
                    continue
                end = self.run_end(run)
                if not prompt.received and end == "log-ends":
                    continue  # the log starts and ends inside it: an excerpt, which `unfinished` says
                bars = self.bars_of(prompt)
                if end != "stopped" and bars and bars[-1].is_sampling and bars[-1].done < bars[-1].total:
                    self._silent[prompt.index] = end
        return self._silent


def on_cpu(run: Run) -> bool:
    """The run computes on the CPU (``Device: cpu``)."""
    return (run.gpu or "").strip().lower() == "cpu"


def gpu_vram_mb(run: Run | None) -> int | None:
    """The GPU's own memory (MB); None where the log's figure is not dedicated VRAM.

    MPS and CPU report system memory, and DirectML (``privateuseone``) a 1024 MB placeholder.
    """
    if run is None or run.total_vram_mb is None:
        return None
    device = (run.device or run.gpu or "").lower()
    if device.startswith(("mps", "cpu")) or run.vram_placeholder() or run.vram_state in ("SHARED", "DISABLED"):
        return None
    return run.total_vram_mb


def gpu_phrase(run: Run | None) -> str:
    """``a 24 GB NVIDIA GeForce RTX 4090``, or the device's name where its VRAM is not known."""
    if run is None:
        return "the GPU"
    vram = gpu_vram_mb(run)
    name = run.gpu or "the GPU"
    return with_article(f"{gb(vram)} {name}") if vram else name


@dataclass(slots=True, frozen=True)
class PromptRef:
    """What a rule about many prompts keeps of each: a Prompt is ~10x bigger."""

    index: int
    run: int
    source: int
    line: int
    total_s: float | None
    started: bool


def platform_of(facts: Facts, run: Run | None) -> str | None:
    """``mac``, ``windows`` or ``linux``: from Manager's ``** Platform:`` line, else a ``Device: mps``
    (Apple silicon); None when the log does not say. Read once per run: rules ask it of every failure, and a
    run's tracebacks may be thousands."""
    if run is None:
        return None
    return facts.once(f"platform_of:{run.index}", lambda: _platform_of(facts, run))


def _platform_of(facts: Facts, run: Run) -> str | None:
    name = str(run.setup.get("platform", "")).lower()  # Manager's ``** Platform:`` (a run setting)
    if name in PLATFORMS:
        return PLATFORMS[name]
    if (run.device or "").lower().startswith("mps"):
        return "mac"
    paths = [str(run.setup.get("python_executable", ""))]
    paths += [str(ev.fields.get("first_file", "")) for ev in facts.run_events(EventKind.TRACEBACK, run)]
    for path in paths:  # where Python and ComfyUI live: only macOS has these at the root
        if path.startswith(MAC_PATHS):
            return "mac"
        if WINDOWS_PATH.match(path):
            return "windows"
    return None


#: Path roots only macOS has (home folders, Homebrew, applications).
MAC_PATHS = ("/Users/", "/opt/homebrew/", "/Applications/")
WINDOWS_PATH = lazy_re(r"^[A-Za-z]:\\")
#: ``** Platform:`` values (Python's platform.system()) by the name advice uses.
PLATFORMS = {"darwin": "mac", "windows": "windows", "linux": "linux"}
