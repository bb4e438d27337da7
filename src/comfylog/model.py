"""The report data: what one analysis found, as typed records that every renderer reads."""

from __future__ import annotations

from dataclasses import field
from datetime import datetime
from enum import Enum
from operator import attrgetter
from typing import Any, NamedTuple

from .dataclass import dataclass
from .events import Event, Phase
from .spool import FIELD_TUPLES, Spool

PHASES = (Phase.LOAD, Phase.INFERENCE, Phase.WAIT, Phase.OTHER)
#: Why a phase is None (``Prompt.not_timed``, the JSON's ``not_timed``), by reason (segment/phases.py).
UNTIMED = {
    "no_clock": "no usable timestamps: how long it loaded is not in the log",
    "no_sampling_bar": "it loaded models and drew no sampling bar: whether and how long it sampled is not in the log",
    "bar_not_advanced": "its sampling bar stopped before its first step: how long that step ran is not in the log",
    "unlogged_loads": "no load line, but a library loads this run's models itself (a loading bar earlier) and "
                      "moves them without one: how long it loaded is not in the log",
    "no_total": "no usable timestamps and no `Prompt executed in`: its total, so the rest, is not in the log",
    "before_log": "it began before the log's first line: what it did until then (loading its models, most often) "
                  "is not in the log",
    "hidden_bar": "tqdm hid a progress bar of it (` ... (more hidden) ...`: more bars open than the console's rows): "
                  "whether and how long it sampled is not in the log",
    "interrupted_no_bar": "it was interrupted and the log kept no sampling bar of it (ComfyUI-Manager's log file "
                          "keeps only bars that reach 100%): whether and how long it sampled is not in the log",
}
#: What UNTIMED's reasons are, alone: a prompt with phases untimed for several reasons names each phase with its own
#: (index.not_timed_notes).
UNTIMED_CAUSE = {
    "no_clock": "no usable timestamps",
    "no_sampling_bar": "it loaded models and drew no sampling bar",
    "bar_not_advanced": "its sampling bar stopped before its first step",
    "unlogged_loads": "a library loaded this run's models without a load line",
    "no_total": "no `Prompt executed in`, so no total",
    "before_log": "it began before the log's first line",
    "hidden_bar": "tqdm hid a progress bar of it",
    "interrupted_no_bar": "interrupted, and the log kept no sampling bar of it",
}


def _by_fields(self: Any) -> tuple[Any, ...]:
    """Pickle a record as its class and field values (2-3x faster to load than the slots default).

    Records are pickled by the thousand when a long log's report spills to disk (spool.py).
    """
    cls = type(self)
    fields = FIELD_TUPLES.get(cls)
    if fields is None:
        fields = FIELD_TUPLES[cls] = attrgetter(*cls.__slots__)
    return (cls, fields(self))


@dataclass(slots=True)
class Phases:
    """Seconds of a prompt per phase; timed, they add up to the prompt's total.

    A phase the log cannot time is None, never 0.0: a prompt without usable timestamps has its
    sampling from tqdm's elapsed times and its waiting from the timeouts, but how long it loaded is
    unknown once it loaded anything, and so is the rest (``other``).
    """

    __reduce__ = _by_fields

    load: float | None = 0.0
    inference: float | None = 0.0
    wait: float | None = 0.0
    other: float | None = 0.0

    # A phase's field is named by its value, read as ``_value_`` (a plain attribute of the member: ``value``
    # goes through enum's descriptor, which cost most of the time of the sums over every prompt).

    def get(self, phase: Phase) -> float | None:
        value: float | None = getattr(self, phase._value_)
        return value

    def seconds(self, phase: Phase) -> float:
        """The phase's seconds, 0.0 where it was not timed (for sums that say so themselves)."""
        return getattr(self, phase._value_) or 0.0

    @property
    def timed(self) -> bool:
        """Every phase is known."""
        return self.load is not None and self.inference is not None and self.wait is not None \
            and self.other is not None

    @property
    def total(self) -> float:
        """The seconds of the phases that are known (added in PHASES order)."""
        return (self.load or 0.0) + (self.inference or 0.0) + (self.wait or 0.0) + (self.other or 0.0)

    def as_dict(self) -> dict[str, float | None]:
        """The phases in PHASES order, rounded to the millisecond (a row per prompt of the JSON: spelled
        out, 3x faster than going through the Phase enum)."""
        load, inference, wait, other = self.load, self.inference, self.wait, self.other
        return {"load": None if load is None else round(load, 3),
                "inference": None if inference is None else round(inference, 3),
                "wait": None if wait is None else round(wait, 3),
                "other": None if other is None else round(other, 3)}


class BarKind(str, Enum):
    """What a progress bar counts (parse/bars.py decides it from the bar table in messages.toml).

    ``sampling``: the sampler's steps (its time is inference); ``loading``: weights loaded or files
    downloaded (load); ``other``: other work of the prompt, a VAE encoding or decoding frames, a text
    encoder, audio cut in chunks, a mask grown (other, as the same work is when it draws no bar).
    """

    SAMPLING = "sampling"
    LOADING = "loading"
    OTHER = "other"


#: The phase a bar's time is given to, by its kind.
BAR_PHASE = {BarKind.SAMPLING: Phase.INFERENCE, BarKind.LOADING: Phase.LOAD, BarKind.OTHER: Phase.OTHER}


@dataclass(slots=True)
class Span:
    """A stretch of wall time spent on one phase (for timelines)."""

    __reduce__ = _by_fields

    start: datetime
    end: datetime
    phase: Phase


@dataclass(slots=True)
class ProgressBar:
    """One tqdm bar as its last redraw left it: what it counted, how far it got and at what rate."""

    __reduce__ = _by_fields

    prompt: int | None
    label: str | None
    total: float
    done: float
    final_rate: float | None
    rate_unit: str
    elapsed_s: float
    line: int
    end_line: int
    kind: BarKind
    source: int = 0
    start: datetime | None = None
    end: datetime | None = None

    @property
    def is_loading(self) -> bool:
        """Bars that load weights or download files are load time, not inference."""
        return self.kind is BarKind.LOADING

    @property
    def is_sampling(self) -> bool:
        """The sampler's bar: its steps are the prompt's steps, its time inference."""
        return self.kind is BarKind.SAMPLING

    @property
    def phase(self) -> Phase:
        return BAR_PHASE[self.kind]

    @property
    def seconds_per_step(self) -> float | None:
        if self.final_rate is None or self.final_rate == 0:
            return None
        if self.rate_unit == "s/it":
            return self.final_rate
        if self.rate_unit == "it/s":
            return 1.0 / self.final_rate
        return None

    @property
    def rate_text(self) -> str | None:
        return None if self.final_rate is None else f"{self.final_rate:.2f}{self.rate_unit}"


@dataclass(slots=True)
class Load:
    """One model load ComfyUI reported: the model, how it was loaded and what it cost."""

    __reduce__ = _by_fields

    prompt: int | None
    model: str | None
    #: complete / partial / lowvram (legacy ModelPatcher), or dynamic (comfy-aimdo's dynamic VRAM:
    #: weights staged and streamed on demand, ``staged_mb`` of them)
    kind: str
    usable_mb: float | None
    loaded_mb: float | None
    line: int
    source: int = 0
    ts: datetime | None = None
    staged_mb: float | None = None


@dataclass(slots=True)
class ErrorRecord:
    """One error the log shows (an OOM, an exception, a failed validation or import), with its lines."""

    __reduce__ = _by_fields

    prompt: int | None
    kind: str  # oom, exception, validation, interrupted, import_failed, traceback
    message: str
    line: int
    source: int = 0
    ts: datetime | None = None
    end_line: int | None = None


@dataclass(slots=True)
class Prompt:
    """One prompt from `got prompt` to its end: its phases, bars, loads and errors."""

    __reduce__ = _by_fields

    index: int
    run: int
    got_at: datetime | None
    line: int
    source: int = 0
    #: ok / error / interrupted / invalid (rejected at validation) / unfinished (still running or
    #: queued when its run ended) / dropped (queued, then removed unrun while later prompts ran)
    status: str = "unfinished"
    executed_s: float | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    total_s: float | None = None
    phases: Phases = field(default_factory=Phases)
    estimated: bool = False
    last_line: int = 0
    spans: list[Span] = field(default_factory=list)
    ws_timeouts: int = 0
    lowvram_module_loads: int = 0
    invalid_outputs: int = 0
    received: bool = True  # False when the log shows the end of a prompt whose start it lacks
    #: Not received, but begun inside the log: queued behind the prompt the log starts inside, it began when the
    #: prompt before it ended (the segmenters' ``began_in_log``). Not in the JSON (``log_starts_inside`` is).
    began_in_log: bool = False
    #: ComfyUI began executing it (it reached the head of the queue); an unfinished prompt that did not was queued
    started: bool = False
    models: list[str] = field(default_factory=list)
    video: dict[str, int] | None = None
    gguf_qtypes: dict[str, int] | None = None
    #: ComfyUI's id of the prompt, where the log names it (worker-comfyui: ``Queued workflow with ID:``)
    prompt_id: str | None = None
    #: Its models had been unloaded by ComfyUI's out-of-memory handler (``Got an OOM, unloading all
    #: loaded models.``) before it: it reloads everything, which is not the disk's fault.
    cold: bool = False
    #: Peak memory a video wrapper printed (GB: ``max_allocated_gb``, ``max_reserved_gb``; MB of
    #: transformer blocks per device for block swap: ``blocks_cpu_mb``...).
    memory: dict[str, float] | None = None
    #: Why each of its phases that is None could not be timed (UNTIMED's keys), or
    #: None when every phase was timed.
    not_timed: dict[str, str] | None = None

    @property
    def finished(self) -> bool:
        return self.status not in ("unfinished", "invalid", "dropped")

    @property
    def log_starts_inside(self) -> bool:
        """It was running at the log's first line: what it did until then is not in the log. Its ``got prompt`` is
        before the log, and it is not one queued behind it (those began inside the log, ComfyUI running one prompt
        at a time). The one test of "the prompt the log starts inside" for the rules, the ``≥`` totals and the
        time before the log."""
        return not self.received and not self.began_in_log


def span_kind(prompt: Prompt, span: Span) -> str:
    """What a span of the prompt is drawn as: its phase, or "untimed" for ``other`` seconds that may
    hold a phase the log could not time (``Prompt.not_timed``: its other is None)."""
    if span.phase is Phase.OTHER and prompt.phases.other is None:
        return "untimed"
    return span.phase.value


def is_directml(device: str | None) -> bool:
    """DirectML's device (`Device: privateuseone`), whose `Total VRAM` ComfyUI fixes at 1024 MB."""
    return (device or "").lower().startswith("privateuseone")


@dataclass(slots=True)
class Run:
    """One ComfyUI process lifetime; a new start-up in the same log begins the next run."""

    __reduce__ = _by_fields

    index: int
    source: int = 0
    first_line: int = 0
    last_line: int = 0
    started_at: datetime | None = None
    ended_at: datetime | None = None
    restart: bool = False
    gpu: str | None = None
    device: str | None = None
    total_vram_mb: int | None = None
    total_ram_mb: int | None = None
    vram_state: str | None = None
    vram_states: list[str] = field(default_factory=list)
    comfyui_version: str | None = None
    pytorch_version: str | None = None
    cuda_version: str | None = None
    ready_at: datetime | None = None
    #: The line of ``To see the GUI go to``: the run became ready, whether or not the line had a clock.
    ready_line: int | None = None
    startup_s: float | None = None
    idle_s: float | None = None
    #: Seconds of loading and sampling after start-up with no prompt running (a script or handler
    #: driving ComfyUI's nodes without a ``got prompt``; download bars). Not idle; None if none.
    outside_s: float | None = None
    #: Seconds ComfyUI-Manager spent installing custom nodes and their dependencies after start-up
    #: with no prompt running (its zip download, pip installs, install scripts). Not idle, not
    #: "outside"; None if none.
    install_s: float | None = None
    #: Where those installs were (start, end), for timelines.
    install_spans: list[tuple[datetime, datetime]] = field(default_factory=list)
    span_s: float | None = None
    serverless: bool = False
    #: Coarsest timestamp resolution seen in the run (60 for minute-only prefixes).
    resolution: float = 0.0
    gpu_memory: dict[str, int] | None = None
    #: The run's memory set-up and environment as the log states it, one key a fact (messages.toml's
    #: run_setting rows): dynamic_vram, dynamic_vram_off, aimdo_version, async_offload_streams,
    #: pinned_memory_mb, ram_limit_mb, host_ram_mb, smart_memory, attention, fp16_accumulation,
    #: single_gpu_forced, assets_scan_ms, platform, python_executable, python_version, local_api...
    setup: dict[str, Any] = field(default_factory=dict)
    #: When worker-comfyui first reached ComfyUI's API (``API is reachable``).
    api_ready_at: datetime | None = None
    #: The custom nodes' import times (seconds, path, failed, line): at most MAX_RUN_IMPORT_TIMES rows, the first and
    #: the last half of them; the rows between are counted in the three fields below (a hostile log), not kept.
    import_times: list[tuple[float, str, bool, int]] = field(default_factory=list)
    #: Rows of the import times not kept (MAX_RUN_IMPORT_TIMES): counted, with their IMPORT FAILED rows and seconds,
    #: so that the run's import_s and failed imports stay those of the whole list.
    imports_not_kept: int = 0
    import_failures_not_kept: int = 0
    import_s_not_kept: float = 0.0
    #: Custom nodes' prestartup scripts (``Prestartup times for custom nodes:``), as import_times: they run
    #: before ComfyUI starts (ComfyUI-Manager installs dependencies there) and are no import.
    prestartup_times: list[tuple[float, str, bool, int]] = field(default_factory=list)

    @property
    def import_s(self) -> float | None:
        """Seconds the custom nodes took to import (None: the log shows no import times)."""
        if not self.import_times:
            return None
        seconds = sum(t[0] for t in self.import_times)
        return round(seconds + self.import_s_not_kept if self.imports_not_kept else seconds, 3)

    @property
    def imports_listed(self) -> int:
        """Rows of the import times, those kept and those not (MAX_RUN_IMPORT_TIMES)."""
        return len(self.import_times) + self.imports_not_kept

    @property
    def failed_imports(self) -> int:
        """Custom nodes in the import times marked IMPORT FAILED (kept or not): the rest imported."""
        return sum(1 for t in self.import_times if t[2]) + self.import_failures_not_kept

    @property
    def prestartup_s(self) -> float | None:
        """Seconds the custom nodes' prestartup scripts took (None: the log shows none)."""
        return round(sum(t[0] for t in self.prestartup_times), 3) if self.prestartup_times else None
    stopped: bool = False

    def startup_not_in_log(self) -> bool:
        """The run became ready on a fine clock, yet has no start-up time: its first line is its `Starting server`
        (or the ready line) or among its custom nodes' import times, so the log holds only the start-up's end
        (segmenter: never timed as 0.0)."""
        return (self.startup_s is None and self.ready_at is not None and self.started_at is not None
                and self.resolution < 60)

    def vram_placeholder(self) -> bool:
        """The log's `Total VRAM` is no card's size: DirectML (`Device: privateuseone`) prints ComfyUI's fixed 1024 MB
        (comfy/model_management.py, get_total_memory: `mem_total = 1024 * 1024 * 1024 #TODO` with directml)."""
        return self.total_vram_mb is not None and is_directml(self.device or self.gpu)

    def machine_named(self) -> bool:
        """Does the log name anything of the machine (GPU, VRAM, vram state, versions)? An excerpt from after the
        start-up, or launches that never started, names none: the reports say so in one line."""
        return bool(self.gpu or self.total_vram_mb is not None or self.vram_states or self.versions())

    def comfyui_text(self) -> str | None:
        """ComfyUI's version as a person reads it: ``0.3.62``; ``revision 1796 [97015b6b]`` where only
        ComfyUI-Manager's `### ComfyUI Revision:` line names it (a count of commits and the commit, no version);
        ``0.3.48 + 5 commits [aebac221]`` where only its `### ComfyUI Version: v0.3.48-5-gaebac221` does (git
        describe: the release's tag, the commits after it, the commit)."""
        version = self.comfyui_version
        if not version:
            return version
        if version.endswith("]"):
            return f"revision {version}"
        release, dash, rest = version.removeprefix("v").partition("-")
        commits, _, commit = rest.partition("-g")
        if dash and commits.isdigit() and commit:
            commit, space, branch = commit.partition(" ")
            return f"{release} + {commits} commits [{commit}]{space}{branch}"
        return version.removeprefix("v")

    def versions(self) -> list[str]:
        """ComfyUI, PyTorch and CUDA image versions as the reports label them (those the log gave)."""
        named = (("ComfyUI", self.comfyui_text()), ("PyTorch", self.pytorch_version),
                 ("CUDA image", self.cuda_version))
        return [f"{label} {version}" for label, version in named if version]


#: Rows of a run's custom-node import times it keeps (Run.import_times): real logs list tens to a few hundred; a
#: longer list (a hostile or generated log) keeps its first and its last half of them (ComfyUI sorts the list by
#: time: the slowest come last) and counts the rows between with their seconds and failures (Run.imports_not_kept;
#: segmenter.py, and native/src/segment/mod.rs's MAX_RUN_IMPORT_TIMES).
MAX_RUN_IMPORT_TIMES = 1000
#: Models a prompt lists (Prompt.models): real prompts request tens; one requesting more (a hostile or generated
#: log) lists its first ones, and the requests of others are counted (Summary.models_not_listed), not kept
#: (segmenter.py, and native/src/segment/mod.rs's MAX_PROMPT_MODELS).
MAX_PROMPT_MODELS = 1000

# The record classes a spool writes as field tuples (spool.FIELD_TUPLES), known before the first block is written.
for _record in (Phases, Span, ProgressBar, Load, ErrorRecord, Prompt, Run):
    FIELD_TUPLES[_record] = attrgetter(*_record.__slots__)
del _record


@dataclass
class Summary:
    """The whole input's counts: prompts, loads, lowvram lines, websocket timeouts."""

    got_prompt: int = 0
    executed: int = 0
    partial_loads: int = 0
    lowvram: bool = False
    lowvram_module_loads: int = 0
    ws_timeouts: int = 0
    restarts: int = 0
    errors: int = 0
    #: First to last time stamp over all inputs (see ``inputs_in_time_order``).
    span_s: float | None = None
    skipped_lines: int = 0
    replaced_bytes: int = 0
    #: False when an input's clock starts before the one read before it ended (a 2026
    #: comfyui.prev.log read before a 2025 docker log): ``span_s`` then joins clocks that do not
    #: follow on, and each input's own span (``SourceInfo.span_s``) is the one to read.
    inputs_in_time_order: bool = True
    #: Requests of models a prompt did not list because it listed MAX_PROMPT_MODELS already (segmenter.py):
    #: a hostile or generated log; real prompts request tens.
    models_not_listed: int = 0


@dataclass
class SourceInfo:
    """One input as it was read: its name, lines and the prefix styles its lines had."""

    name: str
    lines: int
    timestamp_styles: dict[str, int]
    markdown: bool = False
    #: Written newest line first (a RunPod console copy): read in time order, lines numbered that way.
    newest_first: bool = False
    #: docker compose output: the reader took ``name  | `` off every line (read/prefixes.compose_prefixed), and
    #: evidence read back from the file is read so too. Not in the JSON.
    compose_prefixed: bool = False
    #: This input's earliest and latest time stamps and the time between them (None: no stamps).
    first_at: datetime | None = None
    last_at: datetime | None = None
    span_s: float | None = None
    #: The first line whose stamp goes back by more than a minute (parser.py's CLOCK_RESET): logs
    #: joined out of order. In the JSON only where set.
    clock_back_line: int | None = None
    replaced_bytes: int = 0
    skipped_lines: int = 0
    truncated_lines: int = 0
    repaired_mojibake: int = 0
    report_fields: dict[str, Any] = field(default_factory=dict)
    #: Compressed bytes of a .gz never read: past the decompression cap or after damage.
    dropped_bytes: int = 0
    #: Why reading stopped before the end of the input (a .gz cut short, damaged or too big), or None.
    stopped: str | None = None
    #: Which segmenter made this input's runs and prompts: ``native`` (Rust, segment/native.py) or
    #: ``python``. Not in the JSON: both make the same report.
    segmenter: str = "python"
    #: Why the Rust segmenter handed this input to Python's (its NotPorted reason, or ``failed: ...``).
    fell_back: str | None = None


@dataclass(slots=True)
class Evidence:
    """A log line that supports a finding."""

    line: int
    text: str
    source: int = 0


@dataclass(slots=True)
class Finding:
    """A named cause, with the lines and figures it rests on and what to do about it."""

    id: str
    severity: str  # error / warning / info
    title: str
    confidence: str  # high / medium / low
    why: str  # how sure, and why
    advice: list[str]
    evidence: list[Evidence] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)
    #: Seconds of prompt time this finding explains (for ordering: most costly first).
    cost_s: float = 0.0
    prompts: list[int] = field(default_factory=list)
    #: Log lines that support the finding in all; ``evidence`` lists only the first few of them.
    evidence_total: int = 0


class TimeSpent(NamedTuple):
    """Report.time_spent: where the time went, and the prompts' seconds."""

    rows: list[tuple[str, float | None]]
    #: Seconds of the prompts that have a total, and how many prompts ran without one (prompts_time_text).
    prompt_seconds: float
    without_total: int
    #: Prompts whose phases are estimated from the durations the log prints (no usable timestamps).
    estimated: int
    #: Seconds of prompt_seconds before the log's first line (the prompt the log starts inside, on a clock): in no
    #: row, as the log does not hold them.
    before_log: float = 0.0
    #: The phases the prompts without a total did time: in the rows, not in prompt_seconds.
    without_total_s: float = 0.0


class TimeSum:
    """Report.time_spent's sums over the prompts, a prompt at a time, in table order (the same additions in the
    same order as one pass: the same floats). The report index adds each prompt as it reads the table for the
    diagnosis, so that the terminal and HTML reports need not read a long log's prompts again for it (a
    million at 1 GB, decoded from disk)."""

    __slots__ = ("load", "inference", "wait", "other", "unknown", "untimed", "before_log", "starts_inside", "seconds",
                 "without_total", "without_total_s", "estimated")

    def __init__(self) -> None:
        self.load = self.inference = self.wait = self.other = 0.0
        self.unknown: set[str] = set()  # phases some prompt could not time
        self.untimed = 0.0
        self.before_log = 0.0
        #: The prompts the logs start inside, on a clock: (source, end, total, seconds they did not time). At most one
        #: an input; spent() splits their untimed seconds at the input's first stamp.
        self.starts_inside: list[tuple[int, datetime, float, float]] = []
        self.seconds = 0.0
        self.without_total = 0
        self.without_total_s = 0.0
        self.estimated = 0

    def add(self, prompt: Prompt) -> None:
        phases = prompt.phases
        load, inference, wait, other = phases.load, phases.inference, phases.wait, phases.other
        # what the prompt the log starts inside did not time is before the log: the log's phases are not unknown
        before_log = _only_before_log(prompt)
        unknown = self.unknown if not before_log else set()
        if load is None:
            unknown.add("load")
        else:
            self.load += load
        if inference is None:
            unknown.add("inference")
        else:
            self.inference += inference
        if wait is None:
            unknown.add("wait")
        else:
            self.wait += wait
        if other is None:
            unknown.add("other")
        else:
            self.other += other
        total = prompt.total_s
        if total is not None:
            self.seconds += total
            if load is None or inference is None or wait is None or other is None:  # not phases.timed
                untimed = max(0.0, total - phases.total)
                if before_log and prompt.ended_at is not None:
                    self.starts_inside.append((prompt.source, prompt.ended_at, total, untimed))
                elif before_log:
                    self.before_log += untimed
                else:
                    self.untimed += untimed
        elif prompt.started or prompt.finished:
            self.without_total += 1
            self.without_total_s += phases.total  # what it timed is in the rows (field4 09: 1:06 of sampling)
        if prompt.estimated:
            self.estimated += 1

    def spent(self, report: Report) -> TimeSpent:
        """The sums of every prompt of ``report`` added: its TimeSpent."""
        names = [p.value for p in PHASES if p is not Phase.WAIT or report.wait_applies]
        unknown = self.unknown
        before_log, untimed = self.before_log, self.untimed
        for source, ended_at, total, not_timed in self.starts_inside:
            # Only what came before the input's first stamp is before the log: the prompt's phases may leave seconds
            # inside the log untimed too (field5 14: an SD3 prompt's loads and VAE decode in the log, ~30 s, were
            # told as part of "1:02 of it before the log's first line" when 32 s were)
            first_at = report.sources[source].first_at if source < len(report.sources) else None
            before = not_timed
            if first_at is not None:
                before = min(not_timed, max(0.0, total - (ended_at - first_at).total_seconds()))
            if not_timed - before < 0.05:  # a log whose stamps hold no time of it (field2 03): all before it
                before = not_timed
            before_log += before
            untimed += not_timed - before
        rows: list[tuple[str, float | None]] = []
        startup = sum(r.startup_s or 0.0 for r in report.runs)
        idle = sum(r.idle_s or 0.0 for r in report.runs)
        outside = sum(r.outside_s or 0.0 for r in report.runs)
        install = sum(r.install_s or 0.0 for r in report.runs)
        if startup:
            rows.append(("startup", startup))
        if report.prompts:  # with no prompt at all, its phases are no part of where the time went
            for name in names:
                seconds: float = getattr(self, name)
                rows.append((name, None if not seconds and name in unknown else seconds))
            if untimed:
                rows.append(("untimed", untimed))
        if outside:
            rows.append(("outside", outside))
        if install:
            rows.append(("install", install))
        if idle:
            rows.append(("idle", idle))
        return TimeSpent(rows, self.seconds, self.without_total, self.estimated, before_log, self.without_total_s)


def _only_before_log(prompt: Prompt) -> bool:
    """All the prompt's time the log does not time is before its first line: the prompt the log starts inside, timed
    on a clock from there (``before_log`` its only reason). Without a clock its untimed seconds hold the work the
    log shows too (field log 09's VAE decoding), so they stay "not timed"."""
    reasons = prompt.not_timed
    return (prompt.log_starts_inside and not prompt.estimated and reasons is not None and bool(reasons)
            and all(reason == "before_log" for reason in reasons.values()))


@dataclass
class Report:
    """Everything one analysis found. Renderers take this and nothing else."""

    sources: list[SourceInfo]
    summary: Summary
    #: Record tables: sequences that a long log's report keeps mostly on disk (spool.py).
    runs: Spool[Run]
    prompts: Spool[Prompt]
    progress_bars: Spool[ProgressBar]
    loads: Spool[Load]
    errors: Spool[ErrorRecord]
    #: Notable events kept for the diagnoser and timelines (bounded; see segment.MAX_NOTABLE).
    notable: list[Event] = field(default_factory=list)
    notable_dropped: int = 0
    #: Filled by the diagnoser (diagnose.diagnose); empty until then.
    findings: list[Finding] = field(default_factory=list)
    #: The report index (index.py), built on first use: the tables no longer change by then.
    index_cache: object = field(default=None, repr=False, compare=False)

    @property
    def wait_applies(self) -> bool:
        """A RunPod worker handles the prompts (runpod-python's serverless worker started, or a websocket
        wait was logged): ``wait`` is a phase. A ComfyUI with no worker waits on nothing, so the
        reports leave wait out instead of showing 0.0 next to phases they could not time."""
        return self.summary.ws_timeouts > 0 or any(run.serverless for run in self.runs)

    def time_breakdown(self) -> list[tuple[str, float | None]]:
        """Seconds per phase over the whole report (TimeSpent.rows)."""
        return self.time_spent().rows

    def time_spent(self) -> TimeSpent:
        """Where the time went (``rows``) and the prompts' seconds, in one pass over the prompts (TimeSum;
        the report index sums them as it reads the prompts for the diagnosis: index.time_spent).

        ``rows``: seconds per phase over the whole report: start-up, the prompt phases, "outside" (loading and
        sampling with no prompt running), "install" (ComfyUI-Manager installing custom nodes), idle, and "untimed":
        the seconds of prompts whose phases the log cannot time. A log without prompts has no prompt
        phases, one without a RunPod worker no wait (``wait_applies``).

        A phase is None ("not timed") where some prompt could not time it and none measured any second
        of it: never 0.0 for what nothing measured. Every renderer's "where the time went" reads
        this, so they cannot disagree.
        """
        sums = TimeSum()
        add = sums.add
        for prompt in self.prompts:
            add(prompt)
        return sums.spent(self)

    def prompt_time(self) -> tuple[float, int]:
        """The seconds of the prompts that have a total, and how many prompts ran without one (no
        usable timestamps and no ``Prompt executed in``): a sum that leaves them out must say so."""
        spent = self.time_spent()
        return spent.prompt_seconds, spent.without_total
