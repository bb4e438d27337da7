"""Many logs at once: one summary row per log, then fleet-wide percentiles and the common findings.

Each log is analysed on its own by a pure function of its path (``summarize_log``), so the work
maps over processes here (``map_logs``) and over any other engine (Dask, Spark) unchanged.

When is it a fleet? A directory or a glob among the inputs, or ``--fleet``: a plain list of files
stays one report read in order (``comfyui.prev.log comfyui.log`` is one machine's history).
"""

from __future__ import annotations

import glob
import os
import zlib
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import field
from functools import cached_property, partial
from itertools import chain
from math import isnan
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar, cast

from .dataclass import dataclass
from .gcpolicy import fewer_collections, use_analysis_thresholds
from .index import comfyui_sources, drop_index, not_comfyui_reason
from .model import Phases, Report
from .read.source import UnusableInput

if TYPE_CHECKING:
    from .read.redact import Redactor

#: Files a directory contributes: ComfyUI writes ``*.log``; saved RunPod/docker logs are often ``.txt``.
LOG_SUFFIXES = (".log", ".txt", ".gz")
GLOB_CHARS = frozenset("*?[")
#: Per-prompt quantities summarised everywhere, in display order.
QUANTITIES = ("total", "load", "inference", "wait", "other")
#: Fleet-wide percentiles, as (name, percent).
FLEET_PERCENTILES = (("p50", 50.0), ("p90", 90.0), ("p95", 95.0), ("p99", 99.0), ("max", 100.0))
#: Most severe first, for the worst severity of a finding across logs.
SEVERITY_ORDER = ("error", "warning", "info")
#: Worker processes for ``map_logs`` (the machines this runs on have two cores).
DEFAULT_WORKERS = 2
#: Logs handed to a worker at a time, at most: the round trip is a fraction of a millisecond, and
#: the logs go largest first, so the last pieces of work are a few small logs and the workers end
#: together (on the benchmark's 1,000 logs in pieces of 125, one worker ran 0.09 s of CPU alone at
#: the end; 0.01 s now).
CHUNK_LOGS = 8

T = TypeVar("T")


def is_glob(arg: str) -> bool:
    """A glob the shell left unexpanded (quoted, or on Windows); a file really named so is a file."""
    return bool(GLOB_CHARS & set(arg)) and not os.path.lexists(arg)


def wants_fleet(args: Sequence[str]) -> bool:
    """Fleet mode without ``--fleet``: some argument is a directory or a glob."""
    return any(arg != "-" and (os.path.isdir(arg) or is_glob(arg)) for arg in args)


def _is_log_file(path: str) -> bool:
    name = os.path.basename(path)
    return not name.startswith(".") and name.lower().endswith(LOG_SUFFIXES) and os.path.isfile(path)


def _files_under(directory: str) -> list[str]:
    """The log files under ``directory``, recursively, hidden folders skipped, in sorted order."""
    found: list[str] = []
    for root, dirs, files in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found += [os.path.join(root, f) for f in sorted(files) if _is_log_file(os.path.join(root, f))]
    return found


def expand_inputs(args: Sequence[str]) -> list[str]:
    """Directories become the ``*.log``, ``*.txt`` and ``*.gz`` files under them; globs are expanded.

    Plain files (and ``-``) pass through unchecked: opening them reports what is wrong. Order is
    kept and repeats are dropped. Raises UnusableInput for a directory or glob that yields no file.
    """
    paths: list[str] = []
    for arg in args:
        if arg != "-" and os.path.isdir(arg):
            found = _files_under(arg)
            if not found:
                raise UnusableInput(f"{arg}: is a directory with no log files ({', '.join(LOG_SUFFIXES)}) in it")
        elif is_glob(arg):
            found = []
            for match in sorted(glob.glob(arg, recursive=True)):
                found += _files_under(match) if os.path.isdir(match) else [match] if os.path.isfile(match) else []
            if not found:
                raise UnusableInput(f"{arg}: no file matches this pattern")
        else:
            found = [arg]
        paths += found
    return list(dict.fromkeys(paths))


def map_logs(
    function: Callable[[str], T], paths: Sequence[str], workers: int = DEFAULT_WORKERS,
    progress: Callable[[str, float, float | None], None] | None = None,
) -> list[T]:
    """``[function(p) for p in paths]``, on ``workers`` processes when that can help.

    ``function`` must be a module-level pure function of the path. Standard input cannot be handed to
    another process, so a list containing ``-`` (or a single path, or ``workers`` <= 1) runs here.
    ``progress`` is told how many logs are done. The collector runs as it does while one log is
    analysed (gcpolicy.py) from the first log to the last, here and in the workers: between logs it
    would otherwise pass over each report it has just seen built, and here over the results received.
    """
    def done(results: Iterable[T]) -> Iterator[T]:
        for count, result in enumerate(results, start=1):
            if progress is not None:
                progress(f"analysing {len(paths)} logs", count, len(paths))
            yield result

    if workers <= 1 or len(paths) <= 1 or "-" in paths:
        with fewer_collections():
            return list(done(function(path) for path in paths))
    from concurrent.futures import ProcessPoolExecutor  # here: 18 ms that every analyze would pay

    workers = min(workers, len(paths))
    order = largest_first(paths)
    chunksize = max(1, min(CHUNK_LOGS, len(paths) // (workers * 4)))
    results: list[T | None] = [None] * len(paths)
    # here too: the results received stay, a collector's pass over them frees nothing
    serially = [_file_size(paths[i]) <= SERIAL_SCAN_BYTES for i in order]
    with fewer_collections(), ProcessPoolExecutor(max_workers=workers, initializer=use_analysis_thresholds) as pool:
        mapped = pool.map(partial(_in_worker, function), [paths[i] for i in order], serially, chunksize=chunksize)
        for i, result in zip(order, done(mapped), strict=True):
            results[i] = result
    return cast(list[T], results)


#: A fleet's worker scans a log up to this size on its own thread alone: the workers are as many as the
#: cores, and the native scanner's threads would only contend with the other workers (on the 1,000-log
#: benchmark, a tenth of the CPU went to them). A larger log (a day of a server, a 1 GB file) still
#: scans on the threads: it is a long piece of work that may end alone, the other workers done.
SERIAL_SCAN_BYTES = 64 << 20


def _in_worker(function: Callable[[str], T], path: str, serially: bool) -> T:
    """``function(path)`` in a worker of map_logs, the native scanner on this thread alone or not (``serially``)."""
    from .parse.native import scan_serially

    scan_serially(serially)
    return function(path)


def _file_size(path: str) -> int:
    """The size of the file at ``path``; 0 when it cannot be had (its worker says what is wrong with it)."""
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def largest_first(paths: Sequence[str]) -> list[int]:
    """The positions of ``paths``, the largest file first (the longest work, mostly), ties in their order;
    a file whose size cannot be had counts as empty (its worker says what is wrong with it)."""
    sizes = [_file_size(path) for path in paths]
    return sorted(range(len(paths)), key=lambda i: -sizes[i])


class PromptSeconds(NamedTuple):
    """One prompt's wall time and its phases, in seconds (None: a phase its log could not time)."""

    total: float
    load: float | None
    inference: float | None
    wait: float | None
    other: float | None


class PromptTimes:
    """The PromptSeconds of one log's prompts, a column of 8-byte floats per quantity (NaN: not timed), not
    a tuple per prompt: ~180 bytes each, the 1 GB benchmark's 347,000 prompts were 61 MB beside its report in
    the worker and again in the fleet's own process. Appended in order, read as PromptSeconds."""

    __slots__ = ("_columns",)

    def __init__(self, prompts: Iterable[PromptSeconds] = ()) -> None:
        self._columns = tuple(array("d") for _ in QUANTITIES)
        for prompt in prompts:
            self.append(prompt)

    def append(self, prompt: PromptSeconds) -> None:
        for column, value in zip(self._columns, prompt, strict=True):
            column.append(NAN if value is None else value)

    def append_phases(self, total: float, phases: Phases) -> None:
        """``append(PromptSeconds(total, *phases))`` without making the tuple: a fleet appends every prompt of
        every log (the 1,330 prompts of the corpus' longest log were a tenth of its row's time)."""
        _, load, inference, wait, other = self._columns
        self._columns[0].append(total)
        value = phases.load
        load.append(NAN if value is None else value)
        value = phases.inference
        inference.append(NAN if value is None else value)
        value = phases.wait
        wait.append(NAN if value is None else value)
        value = phases.other
        other.append(NAN if value is None else value)

    def column(self, quantity: str) -> array[float]:
        """The seconds of ``quantity`` (one of QUANTITIES) of every prompt, in order, NaN where not timed."""
        return self._columns[QUANTITIES.index(quantity)]

    def values(self, quantity: str) -> list[float]:
        """The seconds of ``quantity`` of the prompts that timed it, in order."""
        return [v for v in self.column(quantity) if not isnan(v)]

    def __len__(self) -> int:
        return len(self._columns[0])

    def __iter__(self) -> Iterator[PromptSeconds]:
        for values in zip(*self._columns, strict=True):
            total, load, inference, wait, other = (None if isnan(v) else v for v in values)
            yield PromptSeconds(total or 0.0, load, inference, wait, other)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PromptTimes) and list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"PromptTimes({len(self)} prompts)"

    def __reduce__(self) -> tuple[Any, ...]:
        """Sent from a fleet's worker process: each column's bytes compressed, one column at a time (many
        prompts share a value, NaN or 0: the 1 GB benchmark's 14 MB of columns pickled plainly were a 12 MB
        message, +20 MB at the end of the worker)."""
        return (_prompt_times, tuple(zlib.compress(column.tobytes(), 1) for column in self._columns))


def _prompt_times(*columns: bytes) -> PromptTimes:
    """A PromptTimes from its compressed columns (PromptTimes.__reduce__)."""
    times = PromptTimes()
    for column, data in zip(times._columns, columns, strict=True):
        column.frombytes(zlib.decompress(data))
    return times


#: Seconds a quantity of a prompt could not time, in a PromptTimes column.
NAN = float("nan")


@dataclass
class FindingRef:
    """The parts of a finding a fleet table needs (the whole Finding stays in the log's Report)."""

    id: str
    severity: str
    title: str
    cost_s: float


@dataclass
class LogSummary:
    """One log, analysed on its own: its machine, counts, per-prompt seconds and findings.

    ``prompt_seconds`` holds the prompts that have a total (unfinished prompts count up to their
    last line; prompts still queued when the log ends have none). ``unusable`` is the reason a
    file could not be read as a log; everything else is then empty.
    """

    path: str
    gpu: str | None = None
    total_vram_mb: int | None = None
    runs: int = 0
    restarts: int = 0
    prompts: int = 0
    finished: int = 0
    errors: int = 0
    estimated: bool = False
    prompt_seconds: PromptTimes = field(default_factory=PromptTimes)
    findings: list[FindingRef] = field(default_factory=list)
    unusable: str | None = None
    #: A RunPod worker handles its prompts (Report.wait_applies): else nothing waits, and the
    #: reports leave its wait out.
    waits: bool = False

    def values(self, quantity: str) -> list[float]:
        """Per-prompt seconds of ``quantity`` (one of QUANTITIES), for the prompts that timed it."""
        return self.prompt_seconds.values(quantity)

    @cached_property
    def _ordered(self) -> dict[str, list[float]]:
        """Each quantity's values, sorted once: a row shows several figures of each (made once the row is
        complete: the rows of a fleet are read, never changed)."""
        return {q: sorted(self.values(q)) for q in QUANTITIES}

    def timed(self, quantity: str) -> int:
        """How many prompts timed ``quantity``."""
        return len(self._ordered[quantity])

    def partly_timed(self, quantity: str) -> bool:
        """Some prompts timed ``quantity`` and some could not: its median and p95 are of the first only."""
        return 0 < self.timed(quantity) < len(self.prompt_seconds)

    def median(self, quantity: str) -> float | None:
        return ranked(self._ordered[quantity], 50.0)

    def p95(self, quantity: str) -> float | None:
        return ranked(self._ordered[quantity], 95.0)


@dataclass
class FindingCount:
    """A finding id across the fleet: in how many logs it fired and the prompt time it explains.

    ``severity`` is the worst it had in any log; ``title`` and ``example_path`` are those of its
    costliest occurrence (titles carry one log's figures, so they are an example, not a summary).
    """

    id: str
    severity: str
    title: str
    logs: int
    cost_s: float
    example_path: str = ""


@dataclass
class FleetTotals:
    """Sums over the usable logs; each equals the sum of the per-log analyses."""

    logs: int = 0
    unusable: int = 0
    runs: int = 0
    restarts: int = 0
    prompts: int = 0
    timed_prompts: int = 0
    finished: int = 0
    errors: int = 0
    seconds: dict[str, float] = field(default_factory=dict)
    #: Of the timed prompts, how many timed each quantity: the percentiles are over those.
    timed: dict[str, int] = field(default_factory=dict)


@dataclass
class FleetSummary:
    """What ``comfylog analyze DIR`` shows: rows per log, totals, percentiles, common findings.

    ``percentiles[quantity][name]`` pools every prompt of every log (``name`` from FLEET_PERCENTILES);
    it is None when no prompt has a total.
    """

    logs: list[LogSummary]
    totals: FleetTotals
    percentiles: dict[str, dict[str, float | None]]
    common_findings: list[FindingCount]

    @property
    def usable(self) -> list[LogSummary]:
        return [log for log in self.logs if log.unusable is None]

    @property
    def unusable(self) -> list[LogSummary]:
        return [log for log in self.logs if log.unusable is not None]


def percentile(values: Sequence[float], percent: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's and pandas' default); None when empty."""
    return ranked(sorted(values), percent)


def ranked(ordered: Sequence[float], percent: float) -> float | None:
    """``percentile`` of values already sorted (several percentiles of one list sort it once)."""
    if not ordered:
        return None
    rank = (len(ordered) - 1) * percent / 100.0
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summarize_report(report: Report, path: str) -> LogSummary:
    """The fleet row of one analysed log."""
    run = next((r for r in report.runs if r.gpu), report.runs[0] if report.runs else None)
    seconds = PromptTimes()
    finished = 0
    estimated = False
    for p in report.prompts:  # one pass: a long log's table is mostly on disk (spool.py)
        finished += p.finished
        if p.total_s is not None:
            seconds.append_phases(p.total_s or 0.0, p.phases)
            estimated = estimated or p.estimated
    return LogSummary(
        path=path,
        gpu=run.gpu if run else None,
        total_vram_mb=run.total_vram_mb if run else None,
        runs=len(report.runs),
        restarts=report.summary.restarts,
        prompts=len(report.prompts),
        finished=finished,
        errors=len(report.errors),
        estimated=estimated,
        prompt_seconds=seconds,
        findings=[FindingRef(f.id, f.severity, f.title, f.cost_s) for f in report.findings],
        waits=report.wait_applies,
    )


def summarize_log(path: str, redactor: Redactor | None = None) -> LogSummary:
    """Analyse one log on its own: the pure map step of a fleet (unusable files become a reason).

    With a ``redactor`` the log is read redacted (redact.py) and so are its path and reason.
    """
    from .pipeline import analyze_paths

    shown = redactor.redact(path) if redactor else path
    try:
        report = analyze_paths([path], redactor, evidence=False)  # the row keeps no evidence: no reading back
    except UnusableInput as exc:
        return LogSummary(path=shown, unusable=redactor.redact(str(exc)) if redactor else str(exc))
    try:
        if not comfyui_sources(report):
            return LogSummary(path=shown, unusable=not_comfyui_reason(report, 0))
        return summarize_report(report, report.sources[0].name if path == "-" else shown)
    finally:
        drop_index(report)  # the row keeps nothing of the report: it goes now, not at the collector's next pass


def _timed_sum(columns: Iterable[array[float]]) -> float:
    """The seconds of every prompt of every log in turn, added in that order as one sum, NaN (not timed) as
    nothing: what ``sum(0.0 if isnan(v) else v ...)`` gives (0 when there is no prompt at all, a float as soon
    as there is one), without a generator's step per prompt (a fleet of 1,000 logs has ~40,000)."""
    total: float = 0
    for column in columns:
        if column and isinstance(total, int):
            total = 0.0
        for v in column:
            if v == v:  # not NaN
                total += v
    return total


def fleet_summary(logs: Iterable[LogSummary]) -> FleetSummary:
    """Combine per-log summaries (the reduce step): totals, pooled percentiles, common findings."""
    logs = list(logs)
    usable = [log for log in logs if log.unusable is None]
    totals = FleetTotals(
        logs=len(usable),
        unusable=len(logs) - len(usable),
        runs=sum(log.runs for log in usable),
        restarts=sum(log.restarts for log in usable),
        prompts=sum(log.prompts for log in usable),
        timed_prompts=sum(len(log.prompt_seconds) for log in usable),
        finished=sum(log.finished for log in usable),
        errors=sum(log.errors for log in usable),
        seconds={q: _timed_sum(log.prompt_seconds.column(q) for log in usable) for q in QUANTITIES},
    )
    # the seconds of prompts whose logs could not time every phase: with them the phases add up to the total
    totals.seconds["untimed"] = max(0.0, totals.seconds["total"] - sum(totals.seconds[q] for q in QUANTITIES[1:]))
    percentiles: dict[str, dict[str, float | None]] = {}
    for q in QUANTITIES:  # one quantity's pooled seconds at a time
        known = sorted(chain.from_iterable(log.prompt_seconds.values(q) for log in usable))  # sorted once
        totals.timed[q] = len(known)
        percentiles[q] = {name: ranked(known, pct) for name, pct in FLEET_PERCENTILES}
    counts: dict[str, FindingCount] = {}
    costliest: dict[str, float] = {}
    for log in usable:
        for finding_id in dict.fromkeys(f.id for f in log.findings):
            same = [f for f in log.findings if f.id == finding_id]
            top = max(same, key=lambda f: f.cost_s)
            entry = counts.setdefault(finding_id, FindingCount(finding_id, top.severity, top.title, 0, 0.0, log.path))
            entry.logs += 1
            entry.cost_s += sum(f.cost_s for f in same)
            entry.severity = min((entry.severity, *(f.severity for f in same)), key=_severity_rank)
            if top.cost_s > costliest.get(finding_id, -1.0):
                costliest[finding_id] = top.cost_s
                entry.title, entry.example_path = top.title, log.path
    common = sorted(counts.values(), key=lambda c: (-c.logs, -c.cost_s, c.id))
    return FleetSummary(logs=logs, totals=totals, percentiles=percentiles, common_findings=common)


def _severity_rank(severity: str) -> int:
    return SEVERITY_ORDER.index(severity) if severity in SEVERITY_ORDER else len(SEVERITY_ORDER)


def analyze_fleet(
    inputs: Sequence[str | os.PathLike[str]], workers: int = DEFAULT_WORKERS, redactor: Redactor | None = None,
    progress: Callable[[str, float, float | None], None] | None = None,
) -> FleetSummary:
    """Analyse every log named by ``inputs`` (files, directories, globs) on its own, in parallel.

    Raises UnusableInput when a directory or glob yields no file; a file that cannot be read as
    a log is kept as a row with its reason (``LogSummary.unusable``) so one bad file does not
    sink the fleet.
    """
    paths = expand_inputs([os.fspath(arg) for arg in inputs])
    summarize = summarize_log if redactor is None else partial(summarize_log, redactor=redactor)
    return fleet_summary(map_logs(summarize, paths, workers, progress))
