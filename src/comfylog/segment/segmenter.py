"""Events -> runs, prompts and phases.

Runs
    A run is one ComfyUI process lifetime. Start-up markers come in a fixed order (CUDA container
    banner, then ``worker-comfyui: Starting ComfyUI`` or Manager's ``** ComfyUI startup time``, then
    ``Starting server``). A marker that the current run has already passed, or any marker after
    the run has done work (prompts, loads, bars), begins a new run, counted as a restart. The new
    run begins at its marker, or at the lines its process printed before it (``Adding extra search
    path``, main.py's first) where they came after the old run's last work. ``Total VRAM`` (printed
    once per process) begins a new run where the run has worked or served: a restart with no marker
    before ``Starting server``.

Prompts
    ``got prompt`` queues a prompt; ComfyUI executes one at a time, so a prompt starts when it was
    received or when the previous one ended, whichever is later, and ends at ``Prompt executed in``
    (printed after failures and interrupts too). ``invalid prompt:`` removes it from the queue.
    A prompt still running or queued when the run ends is ``unfinished``.

Phases (the attribution rule)
    Every second between a prompt's start and end is given to exactly one phase:

    1. The gap before each timestamped line is spent on that line's work: the gap before a
       ``Requested to load`` / ``loaded partially`` / ``lowvram: loaded module`` / ``gguf qtypes``
       line is ``load``; before a ``Websocket receive timed out`` line it is ``wait``, up to the
       10 s the handler waits (the rest is ``other``); before anything else it is ``other``.
    2. Progress bars claim their own span, computed from tqdm's elapsed time and the time of the
       line they were printed on: the sampler's bars are ``inference``, bars that load weights or
       download are ``load``, bars of other work (a VAE encoding frames, a text encoder) are
       ``other``, as that work is when it draws no bar (parse/bars.py says which bar is which).
       Bars win over rule 1, and sampling wins over the rest. A bar still open when an unfinished
       prompt ends runs to that end (sampling that never finished).
    Without usable timestamps (none, or minute resolution) the log's own durations are used:
    ``Prompt executed in`` is the total, bar elapsed times are inference/load/other, each websocket
    timeout is 10 s of wait, the rest is other; such prompts are marked ``estimated``.
    Either way a phase the log cannot time is None, never 0.0, with its reason (phases.py): sampling
    of a prompt that loaded and drew no sampling bar, loading of a prompt that printed no load line
    in a run whose models a library loads itself (its ``other`` is None then too).
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import field, replace
from dataclasses import fields as dataclass_fields
from datetime import datetime, timedelta
from operator import attrgetter
from typing import Any, NamedTuple

from ..dataclass import dataclass
from ..events import CLOCK_RESET, Activity, Event, EventKind, Phase
from ..lazyre import lazy_re
from ..model import (
    MAX_PROMPT_MODELS,
    MAX_RUN_IMPORT_TIMES,
    BarKind,
    ErrorRecord,
    Load,
    ProgressBar,
    Prompt,
    Run,
    Summary,
)
from ..parse.bars import bar_kind
from ..parse.progress import bar_seconds
from ..parse.table import PATTERNS, gpu_name, is_oom
from ..parse.traceback import EXECUTOR_FILE, outermost_file, ran_in_executor
from ..read.prefixes import FINE
from ..read.source import Source
from ..spool import Spool
from .pending import Pending, Shelf
from .phases import (
    LOAD,
    Painted,
    SettledBars,
    bar_span,
    fold,
    library_loader,
    paint_estimated,
    paint_timed,
    paints_after,
    secs,
    unplaceable,
)
from .queue import PromptQueue

#: Start-up markers in their order within one start-up.
#: One container start prints the CUDA banner, then worker-comfyui's ``Starting ComfyUI``, then
#: ComfyUI's ``** ComfyUI startup time`` (Manager's prestartup), then ``Starting server``.
START_STAGE = {
    EventKind.CUDA_BANNER: 0,
    EventKind.WORKER_STARTING: 1,
    EventKind.MANAGER_STARTUP: 2,
    # not a marker of its own: a new process only where _new_process says so
    EventKind.TOTAL_VRAM: 3,
    EventKind.SERVER_STARTING: 4,
}
#: An error record's message is cut to this many characters.
MAX_ERROR_CHARS = 500
#: An import failure's path and reason, each cut on its own (the reason is what the user needs whole).
MAX_IMPORT_PATH_CHARS = 400
MAX_IMPORT_REASON_CHARS = 1000
#: ComfyUI's own node files, which ``load_custom_node`` imports as it does custom nodes (nodes.py).
BUILTIN_NODE_FILE_RE = lazy_re(r"[/\\](?:comfy_extras|comfy_api_nodes)[/\\][^/\\]+\.py$")
#: Informational kinds only the diagnosis reads (platform, paths, settings, validation details, handler results).
RULE_FACTS = (
    EventKind.ALLOC_CONF, EventKind.OOM_MEMORY,
    EventKind.EXTENSION_MISMATCH, EventKind.TORCH_NOT_INSTALLED, EventKind.NUMPY_MISMATCH, EventKind.VALIDATION_DETAIL,
    EventKind.UNHANDLED_OUTPUT, EventKind.HANDLER_OUTPUT, EventKind.VIDEO_SEQ_LEN, EventKind.BUILTIN_IMPORT_FAILED,
    EventKind.NODE_MODEL, EventKind.NODE_CHECKPOINT, EventKind.PRESTARTUP_FAILED, EventKind.INTERRUPT_REQUEST,
)
#: Events kept on the report for diagnosis and timelines.
NOTABLE_KINDS = frozenset(
    {
        EventKind.CUDA_BANNER,
        EventKind.VRAM_STATE,
        EventKind.GPU_MEMORY,
        EventKind.GGUF_QTYPES,
        EventKind.VIDEO_SAMPLING,
        EventKind.LOWVRAM_MODULES,
        EventKind.WS_TIMEOUT,
        EventKind.WS_RECONNECT,
        EventKind.OOM,
        EventKind.CRASH,
        EventKind.EXCEPTION,
        EventKind.TRACEBACK,
        EventKind.INTERRUPTED,
        EventKind.SERVER_STOPPED,
        EventKind.LOAD_REQUESTED,
        EventKind.LOADED_PARTIALLY,
        EventKind.LOWVRAM_MODE,
        EventKind.JOB_STARTED,
        EventKind.JOB_FINISHED,
        EventKind.LOADED_COMPLETELY,
        EventKind.DYNAMIC_LOAD,
        EventKind.RUN_SETTING,
        EventKind.VIDEO_MEMORY,
        EventKind.WORKER_API,
        EventKind.WS_LOST,
        EventKind.ERROR_LINE,
        EventKind.MEMORY_LEAK,
        EventKind.CACHE_EVICTION,
        EventKind.NETWORK_VOLUME,
        EventKind.GPU_UNSUPPORTED,
        EventKind.PACKAGE_INSTALLED,
        # ComfyUI-Manager installing or updating: kept so that a log of nothing else is a ComfyUI log
        # (index.comfyui_sources; Comfy-Org/ComfyUI-Manager#1548's "Update All" was refused)
        EventKind.NODE_INSTALL,
        EventKind.EXTRA_SEARCH_PATH,  # a rule fact too (the paths' volume), and the segmenter's (_on_extra_search_path)
        *RULE_FACTS,
    }
)
MAX_NOTABLE = 20_000
#: The last activity runs kept, for the tail a new run's start-up takes from the one before (_take_tail_from): its
#: start marker's line, or the new process's first lines before it (_on_extra_search_path), each event line an activity
#: (a pod's 12 extra search paths and the lines to Manager's ``** ComfyUI startup time``: 15). A new process whose
#: lines before its marker are more than this starts at its marker, as with no such lines.
TAIL_ACTIVITIES = 64
#: Bars a running prompt holds before it paints the first of them (_fold_bars), and holds again after a try
#: that painted too few: a window of ~1,000-2,000 bars and their lines' activities, not all until it ends.
FOLD_BARS = 2048
#: Kinds whose lines are load work (rows whose phase is load): a prompt printing one loaded something.
LOAD_KINDS = frozenset(p.kind for p in PATTERNS if p.phase is Phase.LOAD)
#: Lines only a running prompt prints (model management loading for it, a sampler announcing itself):
#: seen before any start-up marker or prompt line, they show that the log starts inside a prompt
#: (Segmenter._before_log). Not load_detail: some of its lines (``Unloading models``) are no sure sign.
#: ``Processing interrupted``: execution.py logs it when a node of the prompt it runs stops on an
#: interrupt (``except comfy.model_management.InterruptProcessingException``, checked in ComfyUI's
#: execution.py ``execute``), so the prompt it ends is the one the log starts inside (ethanfel's
#: ComfyUI-MiniMaxH3-Context-Loop#15: that prompt was shown `ok`).
PROMPT_WORK_KINDS = frozenset({
    EventKind.LOAD_REQUESTED, EventKind.LOAD_BATCH, EventKind.LOADED_COMPLETELY, EventKind.LOADED_PARTIALLY,
    EventKind.LOWVRAM_MODE, EventKind.LOWVRAM_MODULES, EventKind.DYNAMIC_LOAD, EventKind.GGUF_QTYPES,
    EventKind.VIDEO_SAMPLING, EventKind.INTERRUPTED,
})
#: The activities a run keeps while its log may have started inside a prompt (they become that prompt's).
BEFORE_LOG_ACTIVITIES = 20_000
#: Events between two looks at which records are final (spool.py): rare enough to cost nothing.
RELEASE_EVERY = 4096
#: The last errors kept pending whatever their line: _find_error looks among them for the record a later line
#: completes (a validation failure's count of outputs), _reassign for the status of a prompt that really ran.
RECENT_ERRORS = 50
#: Runs per spilled block: a run carries its custom nodes' import times (~5 kB), 20x a prompt.
RUN_BLOCK = 256
#: ComfyUI reports one failure as ``!!! Exception``, its traceback and ``Got an OOM``, one after the
#: other; consecutive events of these kinds are one incident (one error record). The cudaMallocAsync
#: allocator's figure lines (``Currently allocated : 7.71 GiB``) sit between an OOM line and its traceback.
INCIDENT_KINDS = frozenset({EventKind.TRACEBACK, EventKind.OOM, EventKind.ERROR_LINE, EventKind.CRASH,
                            EventKind.OOM_MEMORY})


@dataclass
class _Folded:
    """A running prompt's bars painted before it ended, with its time up to a cut (Segmenter._fold_bars)."""

    painted: Painted
    #: The painted bars (their records placed) and the activities no longer needed, in order: their records go
    #: to the table when the prompt ends, and painting it all again from its start reads them.
    bars: Shelf[tuple[ProgressBar, Event]]
    activities: Shelf[Activity]
    #: _Open.settled before the first of them was painted (painting all again reads it; settled takes them).
    settled: SettledBars
    #: The first painted bar's line (the table takes nothing after it before it), and the latest last line of
    #: the shelved activities but the prompt's first (_close_prompt's last_line).
    first_line: int
    last_line: int
    #: A queued prompt that ran took the prompt's place (_reassign): the painted bars are the one dropped's.
    reassigned: bool = False


@dataclass
class _Open:
    """A prompt being executed, with what is needed to paint its phases when it ends."""

    prompt: Prompt
    activities: list[Activity] = field(default_factory=list)
    bars: list[tuple[ProgressBar, Event]] = field(default_factory=list)
    #: Its first bars, handed to the table before it ends (Segmenter._settle_bars): what painting reads of them.
    settled: SettledBars = field(default_factory=SettledBars)
    #: It printed a load line (the table's load-phase rows): without a clock, its load time is unknown.
    loaded: bool = False
    #: tqdm hid a bar of it (`` ... (more hidden) ...``): how long it sampled is unknown.
    hidden_bar: bool = False
    #: Its first bars painted before it ends (_fold_bars), and how many bars it holds at the next try.
    folded: _Folded | None = None
    fold_at: int = 0
    #: The first line of the activity standing for ``got prompt`` lines received one after the other while it runs,
    #: if it may take the next one; the latest such line if its activity stands alone, and the one right before it if
    #: its activity stands alone right before (_join_queued_line).
    queued_from: int | None = None
    queued_line: int | None = None
    queued_before: int | None = None


class Segmenter:
    """Consumes Events and Activities of one source in order; builds runs, prompts and tables."""

    def __init__(
        self, source: int = 0, first_run_index: int = 0, first_prompt_index: int = 0, reading: Source | None = None,
    ) -> None:
        """``source``: the input's index in the report; ``reading``: what reading it finds besides lines
        (a markdown error report's header fields, applied to the input's first run)."""
        self.source = source
        #: The tables: final records only (spool.py). Records that may still change wait in _pending_*.
        self.runs: Spool[Run] = Spool(block=RUN_BLOCK)
        self.prompts: Spool[Prompt] = Spool()
        self.bars: Spool[ProgressBar] = Spool()
        self.loads: Spool[Load] = Spool()
        self.errors: Spool[ErrorRecord] = Spool()
        self._pending_runs = Pending(self.runs)
        self._pending_prompts = Pending(self.prompts)
        self._pending_bars = Pending(self.bars)
        self._pending_loads = Pending(self.loads)
        self._pending_errors = Pending(self.errors)
        self._reading = reading
        self._first_run_index = first_run_index
        #: Seconds of the current run's timed prompts, and whether any of its prompts was estimated.
        self._run_prompt_s = 0.0
        self._run_estimated = False
        #: A prompt of the current run loaded weights through a library's loading bar (phases.untimed_reasons).
        self._run_library_loads = False
        self.notable: list[Event] = []
        self.notable_dropped = 0
        self.summary = Summary()
        self._run_index = first_run_index
        self._prompt_index = first_prompt_index
        self._run: Run | None = None
        self._run_stage = -1
        self._events_since_marker = 0
        self._prestartup = False  # the import times read now are prestartup scripts'
        self._stated_start: datetime | None = None  # "** ComfyUI startup time: ..." of the run
        #: The line of the run's first ``Starting server`` (main.py prints it when its start-up is done), and
        #: the line that gave the run its start time.
        self._server_starting_line: int | None = None
        self._started_line: int | None = None
        #: The event standing for the ``lora key not loaded`` lines of one (run, prompt).
        self._lora_missed: tuple[tuple[int, int | None], Event] | None = None
        self._run_busy = False
        #: The first line of the lines a new ComfyUI process prints before its start marker (_on_extra_search_path),
        #: seen since the run's last marker or work with no prompt running: where the next run begins if a marker
        #: that begins one follows. None otherwise.
        self._process_start: int | None = None
        self._queue = PromptQueue(source)
        self._open: _Open | None = None
        #: The latest end line of a bar read: no ``got prompt`` lines' activities join up to it (_join_queued_line).
        self._bar_end_line = 0
        self._last_activity: Activity | None = None
        self._last_ts: datetime | None = None
        self._last_run_end: datetime | None = None  # the ended_at of the run before this one
        self._requested: deque[tuple[str, int]] = deque()  # models requested (and the line), not yet reported loaded
        #: The prompt models were last listed for, and a set of its models (_add_model).
        self._prompt_models: tuple[Prompt | None, set[str]] = (None, set())
        self._model_by_size: dict[float, str] = {}
        self._last_partial: str | None = None
        self._import_records: dict[str, ErrorRecord] = {}
        #: The last rows of a run's import times past its first MAX_RUN_IMPORT_TIMES // 2, put after them when the run
        #: ends: ComfyUI lists them slowest last (nodes.py sorts them by time), the rows slow-import and "slowest" read.
        self._import_tail: deque[tuple[float, str, bool, int]] = deque()
        self._tail: deque[Activity] = deque(maxlen=TAIL_ACTIVITIES)
        self._incident: ErrorRecord | None = None
        #: The incident already holds a traceback: one failure prints one (chained ones are joined by the parser).
        self._incident_traced = False
        #: ``Exception ignored in:`` was just logged: the next traceback is no failure.
        self._ignore_traceback = False
        #: ``Exception in thread Thread-N (prompt_worker):`` just came: the traceback under it is the queue thread's
        #: death (in main.py, between prompts or after one's execution), not a node's failure of the prompt.
        self._worker_traceback = False
        #: ``Got an OOM, unloading all loaded models.``: the next prompt starts cold.
        self._unloaded_by_oom = False
        #: The prompt whose video wrapper just announced its sampler (``Sampling N frames ... with S
        #: steps``) and has drawn no bar since: its next bar is the sampler's (parse/bars.py).
        self._sampler_announced: int | None = None
        #: ``Loading N new models`` (builds before Oct 2025): the requests that a loaded line does not
        #: follow were loaded completely. (the line's event, how many models it announced)
        self._batch: tuple[Event, int] | None = None
        self._prev_end: datetime | None = None
        self._events = 0
        #: ComfyUI-Manager installing custom nodes (_on_node_install): the span open now, from its
        #: first install line to its latest, and the bars drawn with no prompt running since its last
        #: line (or, with no span open, right before its first): counted "outside" until an install
        #: line past their end shows they were the install's downloads.
        self._install: tuple[datetime, datetime] | None = None
        self._install_bars: list[ProgressBar] = []
        #: The input's first run, while it has shown no start-up marker and no prompt line: its activities
        #: so far. Work only a prompt does (PROMPT_WORK_KINDS, a sampling or other-work bar, a failure only
        #: execution.py logs: _failed_before_log) then shows that the log starts inside a prompt: a prompt whose
        #: ``got prompt`` is before the log opens with them (_open_before_log), and its ``Prompt executed`` or the
        #: run's end closes it. None otherwise.
        self._before_log: deque[Activity] | None = deque(maxlen=BEFORE_LOG_ACTIVITIES)
        #: True while the run has shown no start-up and no ``got prompt``: every prompt the log shows was queued
        #: before its first line, so after one's ``Prompt executed`` the work with no prompt open is the next
        #: queued one's and _before_log collects it again (j955229/ComfyUI-MiniMax-H3-Motion-Director#33: the
        #: second prompt's sampling bar and `Processing interrupted` went to no prompt, which showed `ok`).
        self._all_queued_before = True
        #: _before_log collects again after a prompt queued before the log ended: the prompt it opens began
        #: in the log (after that prompt's ``Prompt executed``), with or without a clock to say when.
        self._queued_next = False

    # ---- feeding ------------------------------------------------------------------------------
    def feed_all(self, items: Iterable[Event | Activity]) -> None:
        activity, event = self.activity, self.event
        for item in items:
            if isinstance(item, Activity):
                activity(item)
            else:
                event(item)

    def activity(self, act: Activity) -> None:
        run = self._run
        if run is None:
            run = self._ensure_run(act.first_line)
        if run.started_at is None:
            run.started_at = act.first_ts
            self._started_line = act.first_line
        if run.ended_at is None or act.last_ts > run.ended_at:  # the latest: a clock may go back (CLOCK_RESET)
            run.ended_at = act.last_ts
        if act.last_line > run.last_line:  # max(), without its call: this runs for most lines
            run.last_line = act.last_line
        if act.resolution > run.resolution:
            run.resolution = act.resolution
        open_ = self._open
        if open_ is not None:
            open_.activities.append(act)
        elif self._before_log is not None:
            self._before_log.append(act)
        elif run.ready_at is not None and act.phase is LOAD:
            self._outside(run, act)
        self._last_ts = act.last_ts
        self._last_activity = act
        self._tail.append(act)

    def _outside(self, run: Run, act: Activity) -> None:
        """Count loading after start-up with no prompt running (a script or a handler driving
        ComfyUI's nodes without a ``got prompt``): as in a prompt, the time before a load line was
        spent on its work. Bars drawn then add their own time (_on_progress_bar). ``act`` is a load
        activity (activity() looks: it runs for most lines)."""
        if act.resolution != FINE:
            return
        since = self._last_ts if self._last_ts is not None else act.first_ts
        busy = (act.last_ts - min(since, act.first_ts)).total_seconds()
        if busy > 0:
            run.outside_s = round((run.outside_s or 0.0) + busy, 3)

    def event(self, ev: Event) -> None:
        stage, notable, incident, load_work, prompt_work, keeps_install_bars, handler = KIND_ROUTES[ev.kind]
        if stage is not None and not ev.fields.get("serverless") and (
                ev.kind is not EventKind.TOTAL_VRAM or self._new_process()):
            self._start_marker(ev, stage)
        else:
            self._events_since_marker += 1
        run = self._run
        if run is None:
            run = self._ensure_run(ev.line)
        if ev.end_line > run.last_line:
            run.last_line = ev.end_line
        if prompt_work and self._before_log is not None and self._open is None:
            self._open_before_log(ev.line)
        if notable:
            if len(self.notable) < MAX_NOTABLE:
                self.notable.append(ev)
            else:
                self.notable_dropped += 1
        if not incident and self._incident is not None:  # traced implies an incident
            self._incident = None
            self._incident_traced = False
        if self._ignore_traceback and ev.kind is not EventKind.TRACEBACK and ev.fields.get("error") != "ignored":
            self._ignore_traceback = False
        if self._worker_traceback and ev.kind is not EventKind.TRACEBACK and ev.fields.get("error") != "prompt_worker":
            self._worker_traceback = False
        if load_work and self._open is not None:
            self._open.loaded = True
        if self._install_bars and self._install is None and not keeps_install_bars:
            self._install_bars.clear()  # other work came between the bar and any install
        if handler is not None:
            handler(self, ev, run)
        self._events += 1
        if self._events % RELEASE_EVERY == 0:
            self._release()

    def finish(self) -> None:
        """The input ended: close the run, apply what reading found besides lines, hand over every record."""
        self._end_run()
        if self._reading is not None and self._reading.report_fields:
            self._apply_report_fields(self._reading.report_fields)
        for pending in (self._pending_runs, self._pending_prompts, self._pending_bars, self._pending_loads,
                        self._pending_errors):
            pending.flush()

    # ---- runs ---------------------------------------------------------------------------------
    def _ensure_run(self, line: int) -> Run:
        if self._run is None:
            self._run = Run(index=self._run_index, source=self.source, first_line=line, last_line=line)
            self._run_index += 1
            self._pending_runs.append(self._run)
        return self._run

    def _start_marker(self, ev: Event, stage: int) -> None:
        run = self._run
        moved: list[Activity] = []
        # A new start-up: after work; or a marker of an earlier stage than the run has reached; or the
        # same stage again: a CUDA banner always (one per container start), another marker after other
        # lines (a start script may echo its marker twice in a row: worker-comfyui forks do).
        again = stage == self._run_stage and (ev.kind is EventKind.CUDA_BANNER or self._events_since_marker > 0)
        if run is not None and (self._run_busy or stage < self._run_stage or again):
            # The marker's own line (and the ``=====`` line above a CUDA banner) already reached
            # the old run as activity: give them back to the new run.
            cut = ev.line - 1 if ev.kind is EventKind.CUDA_BANNER else ev.line
            start = self._process_start
            if start is not None and start < cut and self._tail and self._tail[0].first_line <= start:
                cut = start  # the new process printed lines before its marker: it begins at the first
            moved = self._take_tail_from(cut)
            self._end_run()
            run = None
        if run is None:
            run = self._ensure_run(moved[0].first_line if moved else ev.line)
            # a start-up whose clock begins well before the run before it ended is another log joined
            # out of order, not that process starting again
            begins, ended = moved[0].first_ts if moved else ev.ts, self._last_run_end
            run.restart = self._run_index - self._first_run_index > 1 and not (
                begins is not None and ended is not None and begins < ended - CLOCK_RESET)
            if run.restart:
                self.summary.restarts += 1
        self._run_stage = max(self._run_stage, stage)
        self._events_since_marker = 0
        self._process_start = None
        self._before_log = None  # the log shows a start-up: work from here on is no earlier prompt's
        self._all_queued_before = self._queued_next = False
        for act in moved:
            self.activity(act)
        if run.started_at is None and ev.ts is not None:
            run.started_at = ev.ts
            self._started_line = ev.line
        if ev.kind is EventKind.SERVER_STARTING and self._server_starting_line is None:
            self._server_starting_line = ev.line

    def _new_process(self) -> bool:
        """A ``Total VRAM`` line begins a new process's run where the run already printed one and has since worked or
        served (``To see the GUI go to``), with no prompt running or queued: comfy/model_management.py prints it once,
        at import, before the server starts (checked in ComfyUI's model_management.py, every version since 2023), so
        a restart that shows no marker before ``Starting server`` (no Manager, no extra paths, no container banner)
        begins here, not at ``Starting server`` with its start-up given to the run before. A second ``Total VRAM``
        during start-up is a custom node importing model_management again (corpus 003, 018, 040): not a process."""
        run = self._run
        return (run is not None and run.total_vram_mb is not None and (self._run_busy or run.ready_line is not None)
                and self._open is None and not self._queue)

    def _take_tail_from(self, line: int) -> list[Activity]:
        """Remove activities that start at ``line`` or later from the current run and prompt."""
        moved = [a for a in self._tail if a.first_line >= line]
        if not moved:
            return []
        keep = [a for a in self._tail if a.first_line < line]
        self._tail = deque(keep, maxlen=self._tail.maxlen)
        self._last_activity = keep[-1] if keep else None
        if self._open is not None:
            acts = self._open.activities
            while acts and acts[-1].first_line >= line:
                acts.pop()
        run = self._run
        if run is not None:
            # the tail may still hold the previous run's activities: they cannot end this one
            # the latest of its own, never before it started (a clock may go back: CLOCK_RESET)
            ends = [a.last_ts for a in keep if a.first_line >= run.first_line]
            if run.started_at is not None:
                ends.append(run.started_at)
            run.ended_at = max(ends, default=None)
            run.last_line = max(line - 1, run.first_line)
        return moved

    def _end_run(self) -> None:
        run = self._run
        if run is None:
            return
        run.import_times += self._import_tail
        self._import_tail.clear()
        self._end_batch()
        open_ = self._open
        if open_ is not None:
            prompt = open_.prompt
            if not prompt.received and prompt.started_at is None and open_.activities:
                prompt.started_at = open_.activities[0].first_ts  # began before the log: time what the log shows
            last_bar = open_.bars[-1] if open_.bars else None
            if (last_bar is not None and last_bar[1].ts is None and last_bar[1].end_ts is None
                    and run.ended_at is not None and self._clock_is_fine()
                    and open_.activities and open_.activities[-1].last_line <= last_bar[1].end_line):
                # the log ends in its last bar, drawn on after the last stamp (its lines have none of their
                # own): the run lasted until that bar's end
                _, bar_end = bar_span(last_bar[0], last_bar[1], None)
                if bar_end is not None and bar_end > run.ended_at:
                    run.ended_at = bar_end
            self._close_prompt(open_, end=run.ended_at, status=None)
        # every prompt is final now: a long queue goes to the table as it is made (1,000,000 queued prompts)
        made = 0
        while self._queue:
            _, records = self._queue.popleft()
            for record in records:
                self._pending_prompts.append(record)
            made += len(records)
            if made >= RELEASE_EVERY:
                self._pending_prompts.flush()
                made = 0
        if run.started_at is None and run.ended_at is None:
            run.started_at = self._stated_start
        self._stated_start = None
        server_line, started_line = self._server_starting_line, self._started_line
        self._server_starting_line = self._started_line = None
        if run.started_at and run.ended_at:
            if run.ended_at < run.started_at:
                run.ended_at = run.started_at  # its clock went back (CLOCK_RESET): it lasted no less than nothing
            run.span_s = secs(run.ended_at - run.started_at)
            if run.resolution != FINE:
                pass  # minute stamps cannot time a start-up or idle gaps
            elif run.ready_at and (started_line or 0) < _startup_end_line(run, server_line):
                run.startup_s = secs(run.ready_at - run.started_at)
            # else the run's first stamped line is its `Starting server` (or the ready line), or one of its custom
            # nodes' import times: the log holds only the start-up's end, so its length is not known (None, never
            # the 0.0 between those lines)
            if run.resolution == FINE and not self._run_estimated:
                busy = (run.startup_s or 0.0) + self._run_prompt_s + (run.outside_s or 0.0) + (run.install_s or 0.0)
                run.idle_s = round(max(0.0, run.span_s - busy), 3)
        self._run = None
        self._last_run_end = run.ended_at
        self._run_prompt_s, self._run_estimated = 0.0, False
        self._run_library_loads = False
        self._run_stage = -1
        self._events_since_marker = 0
        self._prestartup = False
        self._run_busy = False
        self._process_start = None
        self._before_log = None
        self._all_queued_before = self._queued_next = False
        self._close_install()
        self._release()

    def _release(self) -> None:
        """Hand the records that can no longer change to the tables, so that a long log's go to disk.

        Only the prompts being executed or queued (and the records from the first of their lines
        on) can still change, the bars the executing prompt will paint when it ends (a bar the
        parser finished late may start before the prompt's line; its settled bars are final), and the
        incident being built (a traceback's record); everything older is final. A load changes only when it moves to a
        queued prompt that really ran (_reassign: those after that prompt's line), so loads are
        final up to the queue's first line: a prompt loading 200,000 models holds none of them.
        Runs are final once ended, but for a markdown report's first run, which its header fields
        (read when the input ends) fill in.
        """
        live = [self._open.prompt] if self._open is not None else []
        indexes = [p.index for p in live]
        lines = [p.line for p in live]
        if self._queue:
            indexes.append(self._queue.head_index)
            lines.append(self._queue.head_line)
        first_index = min(indexes, default=self._prompt_index)
        # a bar changes only while its prompt holds it to paint, or when it moves to a queued prompt (_reassign)
        bar_lines = [self._queue.head_line] if self._queue else []
        if self._open is not None and self._open.bars:
            bar_lines.append(min(bar.line for bar, _ in self._open.bars))
        if self._open is not None and self._open.folded is not None:
            bar_lines.append(self._open.folded.first_line)
        if self._incident is not None:
            bar_lines.append(self._incident.line)
        lines += bar_lines
        first_line = min(lines, default=None)
        self._pending_prompts.flush_while(lambda p: p.index < first_index)
        bar_limit = min(bar_lines, default=None)
        if bar_limit is None:
            self._pending_bars.flush()
        else:
            self._pending_bars.flush_while(lambda b: b.line < bar_limit)
        if first_line is None:
            self._pending_errors.flush()
        else:
            limit = first_line
            self._pending_errors.flush_while(lambda e: e.line < limit)
        # An error of the running prompt changes only while it is the incident being read, when it moves to a
        # queued prompt that ran (_reassign: those after that prompt's line), or as one of the last RECENT_ERRORS
        # (_find_error; _reassign's status): older ones are final too, so a prompt raising 300,000 exceptions holds
        # RECENT_ERRORS of them, not all. (What is left pending always ends in the same RECENT_ERRORS as above.)
        error_lines = [self._queue.head_line] if self._queue else []
        if self._incident is not None:
            error_lines.append(self._incident.line)
        error_limit = min(error_lines, default=None)
        self._pending_errors.flush_while(lambda e: error_limit is None or e.line < error_limit, keep=RECENT_ERRORS)
        if self._queue:
            queued = self._queue.head_line
            self._pending_loads.flush_while(lambda ld: ld.line < queued)
        else:
            self._pending_loads.flush()
        held = self._first_run_index if self._reading is not None and self._reading.markdown else -1
        self._pending_runs.flush_while(lambda r: r is not self._run and r.index != held)

    # ---- start-up facts -----------------------------------------------------------------------
    def _on_total_vram(self, ev: Event, run: Run) -> None:
        if run.total_vram_mb is None:
            run.total_vram_mb = ev.fields["vram_mb"]
            run.total_ram_mb = ev.fields["ram_mb"]

    def _on_vram_state(self, ev: Event, run: Run) -> None:
        state = ev.fields["state"]
        if ev.fields.get("automatic"):
            return  # "Trying to enable lowvram mode" is followed by the real "Set vram state"
        if run.vram_state is None:
            run.vram_state = state
        if state not in run.vram_states:
            run.vram_states.append(state)

    def _on_device(self, ev: Event, run: Run) -> None:
        if run.device is None:
            run.device = ev.fields["device"]
            run.gpu = gpu_name(ev.fields["device"])

    def _on_gpu_unsupported(self, ev: Event, run: Run) -> None:
        if run.gpu is None and "gpu" in ev.fields:
            run.gpu = ev.fields["gpu"]  # torch.cuda.get_device_name(): a worker that dies here prints no Device line

    def _on_pytorch_version(self, ev: Event, run: Run) -> None:
        run.pytorch_version = run.pytorch_version or ev.fields["version"]

    def _on_comfyui_version(self, ev: Event, run: Run) -> None:
        version = ev.fields["version"]
        if not run.comfyui_version or _describe_release(version) == run.comfyui_version:
            # ComfyUI's own `ComfyUI version: 0.14.1` names the release a build past it still reports (its
            # comfyui_version.py changes at releases); Manager's git describe `v0.14.1-15-gb254cecd` after it says
            # the 15 commits too (corpus 020): the same release, more precisely
            run.comfyui_version = version

    def _on_cuda_version(self, ev: Event, run: Run) -> None:
        run.cuda_version = run.cuda_version or ev.fields["version"]

    def _on_server_ready(self, ev: Event, run: Run) -> None:
        self._before_log = None  # start-up ends here: work after it with no prompt is outside any
        self._all_queued_before = self._queued_next = False
        if run.ready_line is None:
            run.ready_line = ev.line
        if run.ready_at is None:
            # a clock that went back is held where it was, as the parser holds activity times
            run.ready_at = ev.ts if ev.ts is None or run.ended_at is None else max(ev.ts, run.ended_at)

    def _on_extra_search_path(self, ev: Event, run: Run) -> None:
        """ComfyUI's main.py loads extra_model_paths.yaml (``Adding extra search path``, utils/extra_config.py) in
        ``apply_custom_paths()``, before its prestartup scripts (Manager's ``** ComfyUI startup time``) and torch
        (checked in ComfyUI's main.py): a restarted process prints them first. Seen after a marker or work with no
        prompt running, the first of them is where a new run begins if a marker that begins one follows (_start_marker;
        field4 03: a pod script's restart counted them in the run before). A process that prints them later and no
        marker after changes nothing."""
        if self._process_start is None and self._open is None and not self._queue:
            self._process_start = ev.line

    def _on_server_stopped(self, ev: Event, run: Run) -> None:
        run.stopped = True

    def _on_worker_starting(self, ev: Event, run: Run) -> None:
        if ev.fields.get("serverless"):
            run.serverless = True

    def _on_gpu_memory(self, ev: Event, run: Run) -> None:
        if run.gpu_memory is None:
            run.gpu_memory = {k: ev.fields[k] for k in ("used_mib", "free_mib", "total_mib")}

    def _on_import_header(self, ev: Event, run: Run) -> None:
        self._prestartup = ev.fields["block"] == "Prestartup"

    def _on_import_time(self, ev: Event, run: Run) -> None:
        failed = bool(ev.fields.get("failed"))
        path = ev.fields["path"]
        entry = (ev.fields["seconds"], path, failed, ev.line)
        if self._prestartup:
            run.prestartup_times.append(entry)
            if failed:
                self._error(None, "import_failed", f"custom node's prestartup script failed: {path}", ev)
            return
        if len(run.import_times) < MAX_RUN_IMPORT_TIMES // 2:
            run.import_times.append(entry)
        else:
            tail = self._import_tail
            tail.append(entry)
            if len(tail) > MAX_RUN_IMPORT_TIMES - MAX_RUN_IMPORT_TIMES // 2:  # a hostile list: counted (model.py)
                seconds, _, dropped_failed, _ = tail.popleft()
                run.imports_not_kept += 1
                run.import_failures_not_kept += dropped_failed
                run.import_s_not_kept += seconds
        if failed and path not in self._import_records:
            self._import_records[path] = self._error(None, "import_failed", _import_message(path), ev)

    def _on_error_line(self, ev: Event, run: Run) -> None:
        error = ev.fields.get("error")
        if error == "ignored":
            self._ignore_traceback = True  # Python ignored the exception whose traceback follows
            return
        if error == "prompt_worker":
            # yanlang0123/ComfyUI_Lam#12: `Processing interrupted`, then the worker died in `q.task_done` (a custom
            # node's queue class): that TypeError is no failure of the interrupted prompt
            self._worker_traceback = True
            return
        if error in ERROR_LINE_RECORDS:
            message = ev.fields.get("message") or ERROR_LINE_RECORDS[error]
            kind = "oom" if is_oom(message) else error
            self._error(self._executing(), kind, message, ev)
            return
        if error != "import_failed":
            return  # the worker's or a wrapper's echo of a failure ComfyUI logs itself
        # ComfyUI prints the traceback first, then "Cannot import PATH module for custom nodes: REASON".
        path, reason = ev.fields["path"], ev.fields.get("message", "")
        message = _import_message(path, reason)
        incident = self._incident
        if incident is not None and incident.prompt is None and incident.kind in ("exception", "traceback"):
            incident.kind, incident.message, incident.end_line = "import_failed", message, ev.line
            self._import_records[path] = incident
        else:
            self._import_records[path] = self._error(None, "import_failed", message, ev, limit=None)

    # ---- prompts ------------------------------------------------------------------------------
    def _on_prompt_received(self, ev: Event, run: Run) -> None:
        self._run_busy = True
        self._process_start = None  # work since: no new process began there
        self._before_log = None
        self._all_queued_before = self._queued_next = False
        self.summary.got_prompt += 1
        self._queue.append(run.index, self._prompt_index, ev.line, ev.ts)  # its record is made when it leaves
        self._prompt_index += 1
        if self._open is None:
            self._start_next(ev.ts)
        else:
            self._join_queued_line(self._open, ev.line)

    def _join_queued_line(self, open_: _Open, line: int) -> None:
        """A ``got prompt`` line while a prompt runs: the activity of the one two lines before it (the parser flushes
        one at each event line) joins the activity standing for the ``got prompt`` lines right before that, so that
        a prompt running under a queue of 1,000,000 holds four activities, not one a line (~190 bytes each: 320 MB
        with a queue that never runs, issue 14).

        Painting reads the joined activity as it read them (phases.py): all ``other``, one after the other, so rule 1
        gives the same times to ``other`` and only splits its seconds differently (``other`` is what the timed
        phases leave: _rounded; spans join touching segments of a phase). Only lines alone in their activity join,
        each right after the one before, of one resolution; never the prompt's first activity (_close_prompt's
        last_line leaves it out) nor the last two ``got prompt`` lines (a restart's cut may be the line before a
        CUDA banner, glued after ``got prompt`` or not: _take_tail_from pops whole activities); and none up to the
        end line of a bar read so far: bar_span times a bar by the first activity after its end line.
        native/src/segment/mod.rs does the same."""
        acts = open_.activities
        prev, before = open_.queued_line, open_.queued_before
        open_.queued_line = open_.queued_before = None
        act = acts[-1] if acts else None
        if act is None or act.first_line != line or act.last_line != line or act.phase is not Phase.OTHER:
            open_.queued_from = None  # no activity of its own (no stamp, or lines before it in one)
            return
        open_.queued_line = line
        if prev != line - 1 or len(acts) < 2 or acts[-2].first_line != prev:
            open_.queued_from = None  # the line before is no ``got prompt`` line alone in its activity
            return
        open_.queued_before = prev
        if before != line - 2 or len(acts) < 3 or acts[-3].first_line != before:
            open_.queued_from = None
            return
        held, run = acts[-3], acts[-4] if len(acts) > 4 else None
        if (run is not None and run.first_line == open_.queued_from and run.last_line + 1 == before
                and run.resolution == held.resolution and run.first_line > self._bar_end_line):
            acts[-4] = Activity(Phase.OTHER, run.first_ts, max(run.last_ts, held.last_ts), run.first_line, before,
                                run.source, run.resolution)
            del acts[-3]
        else:
            open_.queued_from = before

    def _start_next(self, after: datetime | None) -> None:
        if not self._queue:
            self._open = None
            return
        prompt, records = self._queue.popleft()
        for record in records:
            self._pending_prompts.append(record)
        start = prompt.got_at
        if after is not None and (start is None or after > start):
            start = after
        prompt.started_at = start
        prompt.started = True
        prompt.cold, self._unloaded_by_oom = self._unloaded_by_oom, False
        self._close_install()  # the time from here is the prompt's
        self._open = _Open(prompt, activities=[self._last_activity] if self._last_activity else [])

    def _open_before_log(self, line: int) -> None:
        """Open the prompt the log starts inside: its ``got prompt`` is before the log's first line
        (a tail, a paste), so what the log shows from there on is its work: the run's activities so
        far (what it did before them is not in the log: phases.py's ``before_log``) and what comes until
        its ``Prompt executed`` (or the run's end: unfinished). ``line``: its first line of work."""
        assert self._run is not None and self._before_log is not None
        prompt = Prompt(index=self._prompt_index, run=self._run.index, got_at=None, line=line, source=self.source,
                        received=False, started=True, began_in_log=self._queued_next)
        self._prompt_index += 1
        self._pending_prompts.append(prompt)
        self._open = _Open(prompt, activities=list(self._before_log))
        self._before_log = None
        self._queued_next = False

    def _failed_before_log(self, ev: Event, adopt: bool = True) -> None:
        """``!!! Exception during processing !!!`` or ``Got an OOM, unloading all loaded models.``: execution.py
        prints them only for a prompt it runs. Before any start-up or prompt line, that prompt is the one the
        log starts inside: it opens, failed, with the failure being logged (``adopt``: a traceback the log cut
        the head of, then `Got an OOM`)."""
        if self._before_log is None or self._open is not None:
            return
        self._open_before_log(ev.line)
        assert self._open is not None
        prompt = self._open.prompt
        prompt.status = "error"
        incident = self._incident
        if adopt and incident is not None and incident.prompt is None:
            incident.prompt = prompt.index
            prompt.line = min(prompt.line, incident.line)

    def _latest_received(self) -> Prompt | None:
        if self._queue:
            return self._queue.last()
        if self._open is not None:
            return self._open.prompt
        return None

    def _on_output_invalid(self, ev: Event, run: Run) -> None:
        prompt = self._latest_received()
        if prompt is None:
            return
        prompt.invalid_outputs += 1
        if prompt.invalid_outputs == 1:
            self._error(prompt, "validation", f"output {ev.fields.get('output')} failed validation", ev)
        else:
            record = self._find_error(prompt, "validation")
            if record is not None:
                record.message = f"{prompt.invalid_outputs} outputs failed validation"

    def _on_prompt_invalid(self, ev: Event, run: Run) -> None:
        prompt = self._latest_received()
        detail = ev.fields.get("detail", "")
        message = _dict_message(detail) or detail[:200]
        if prompt is None:  # its ``got prompt`` is before the log starts (a tail, a console copy): still said
            self._error(None, "validation", message, ev)
            return
        prompt.status = "invalid"
        prompt.last_line = ev.line
        record = self._find_error(prompt, "validation")
        if record is not None:
            failed = prompt.invalid_outputs
            record.message = f"{message} ({failed} outputs failed)" if failed else message
        else:
            self._error(prompt, "validation", message, ev)
        if self._queue and prompt.index >= self._queue.head_index:  # the latest received: the back of the queue
            for leaving in self._queue.remove_last():
                self._pending_prompts.append(leaving)
        elif self._open is not None and self._open.prompt is prompt:
            self._open = None
            self._start_next(ev.ts)

    def _executing(self) -> Prompt | None:
        return self._open.prompt if self._open is not None else None

    def _on_exception(self, ev: Event, run: Run) -> None:
        self._failed_before_log(ev)
        prompt = self._executing()
        if prompt is not None:
            prompt.status = "error"
        kind = "oom" if ev.fields.get("oom") else "exception"
        self._incident = self._error(prompt, kind, ev.fields.get("message") or "Exception during processing", ev)
        self._incident_traced = False

    def _on_traceback(self, ev: Event, run: Run) -> None:
        if self._ignore_traceback:
            self._ignore_traceback = False
            return
        worker, self._worker_traceback = self._worker_traceback, False
        exc_type = ev.fields.get("exception_type")
        if (exc_type not in (None, "KeyboardInterrupt") and (self._incident is None or self._incident_traced)
                and outermost_file(ev.fields).endswith(EXECUTOR_FILE)):
            # a failure that begins in ComfyUI's prompt executor (a traceback pasted alone): a prompt's
            self._failed_before_log(ev, adopt=False)
        # The queue thread's death is the prompt's only when its traceback runs through the executor (field6 06:
        # `execution.py`, `execute`, then the node's `get_output_data`): it died running that prompt. Between
        # prompts (yanlang0123/ComfyUI_Lam#12: main.py's `q.task_done` in a node's queue class) it is no prompt's.
        prompt = self._executing() if not worker or ran_in_executor(ev.fields) else None
        message = ev.fields.get("message", "")
        text = f"{exc_type}: {message}" if exc_type and message else (exc_type or "traceback")
        incident = self._incident
        if incident is not None and not self._incident_traced:  # the traceback of the failure just logged
            self._incident_traced = True
            incident.end_line = ev.end_line
            if ev.fields.get("oom"):
                incident.kind = "oom"
            if incident.message in ("", "Exception during processing"):
                incident.message = text
            return
        if exc_type is None:
            # No exception line after it: a stack printed as a warning (NumPy 2's "A module that was
            # compiled using NumPy 1.x"), or a traceback cut off where the log ends. Not a failure.
            kind, text = "traceback", "traceback with no exception line after it"
        elif exc_type == "KeyboardInterrupt":
            kind = "interrupted"
        else:
            kind = "oom" if ev.fields.get("oom") else "exception"
        if prompt is not None and kind in ("oom", "exception"):
            prompt.status = "error"
        self._incident = self._error(prompt, kind, text, ev)
        self._incident_traced = True  # a second traceback right after it is another failure

    def _on_crash(self, ev: Event, run: Run) -> None:
        """A native abort: the prompt being executed died with the process (``what():`` tells why)."""
        prompt = self._executing()
        message = ev.fields.get("message", "aborted")
        incident = self._incident
        if incident is not None:
            incident.end_line = ev.end_line
            if incident.kind != "oom":
                incident.kind = "oom" if is_oom(message) else "crash"
            return
        if prompt is not None:
            prompt.status = "error"
        self._incident = self._error(prompt, "oom" if is_oom(message) else "crash", message, ev)
        self._incident_traced = False

    def _on_oom(self, ev: Event, run: Run) -> None:
        if "unloading all loaded models" in ev.fields.get("text", ""):
            self._unloaded_by_oom = True  # the next prompt loads everything again
            self._failed_before_log(ev)
        prompt = self._executing()
        if ev.fields.get("recovered"):
            self._error(prompt, "oom_recovered", ev.fields.get("text", "ran out of memory, retried tiled"), ev)
            return
        incident = self._incident
        if incident is not None:
            incident.kind = "oom"
            incident.end_line = ev.end_line
            return
        if prompt is not None:
            prompt.status = "error"
        self._incident = self._error(prompt, "oom", ev.fields.get("text", "out of memory").strip(), ev)
        self._incident_traced = False

    def _on_hidden_bar(self, ev: Event, run: Run) -> None:
        if self._open is not None:
            self._open.hidden_bar = True

    def _on_interrupted(self, ev: Event, run: Run) -> None:
        prompt = self._executing()
        if prompt is not None:
            prompt.status = "interrupted"
        self._error(prompt, "interrupted", "Processing interrupted", ev)

    def _on_prompt_executed(self, ev: Event, run: Run) -> None:
        self.summary.executed += 1
        held, self._before_log = self._before_log, None
        seconds = ev.fields.get("seconds", ev.fields.get("hms"))
        if self._open is None:
            # The log shows the end of a prompt whose ``got prompt`` it lacks (it starts mid-run). Queued behind the
            # one the log starts inside (``_queued_next``), it began inside the log.
            prompt = Prompt(index=self._prompt_index, run=run.index, got_at=None, line=ev.line,
                            source=self.source, received=False, started=True,
                            began_in_log=held is not None and self._queued_next)
            self._prompt_index += 1
            self._pending_prompts.append(prompt)
            if ev.ts is not None and seconds is not None:
                prompt.started_at = ev.ts - timedelta(seconds=seconds)
            self._open = _Open(prompt, activities=list(held) if held is not None else
                               [self._last_activity] if self._last_activity else [])
            self._queued_next = False
        elif not self._open.prompt.received and self._open.prompt.started_at is None:
            # the prompt the log starts inside (_open_before_log): this line says when it began
            if ev.ts is not None and seconds is not None:
                self._open.prompt.started_at = ev.ts - timedelta(seconds=seconds)
        elif ev.ts is not None and seconds is not None and self._last_activity is not None:
            # minute stamps bound the times to their minute: each is then a window as wide (017)
            window = timedelta(seconds=self._last_activity.resolution)
            self._match_execution(ev.ts - timedelta(seconds=seconds), seconds, window)
        prompt = self._open.prompt
        prompt.executed_s = seconds
        status = "ok" if prompt.status == "unfinished" else prompt.status
        self._close_prompt(self._open, end=ev.ts, status=status, end_line=ev.line)
        self._prev_end = ev.ts
        self._start_next(ev.ts)
        if self._open is None and self._all_queued_before:
            self._before_log = deque(maxlen=BEFORE_LOG_ACTIVITIES)
            self._queued_next = True

    def _clock_is_fine(self) -> bool:
        """Seconds-resolution timestamps up to now (minute stamps cannot place an execution)."""
        act = self._last_activity
        return act is not None and act.resolution == FINE

    def _match_execution(self, began: datetime, seconds: float, window: timedelta) -> None:
        """Make sure the prompt being closed is the one that ran: queued prompts can vanish silently.

        ``Prompt executed in N`` says when execution began (end - N). If the queue's head would
        have begun clearly earlier, it was deleted from the queue unrun (019: two prompts queued
        and dropped); the prompt that ran is the first queued one whose start fits. Its events
        since it was received move to it; the dropped prompts get status ``dropped`` and no time.
        Stamps of ``window`` resolution (minute stamps) put each time anywhere in the window after
        it: times fit where their windows meet (017: four of six prompts queued at 10:18 never ran,
        and the one received at 10:24 began then, after five idle minutes no queue would allow).
        """
        assert self._open is not None
        head = self._open.prompt
        slack = timedelta(seconds=2.0 + 0.01 * seconds)
        if head.started_at is None or _meet(head.started_at, began, window, slack):
            return
        for i, got_at in enumerate(self._queue.got_ats()):
            if got_at is None:
                continue
            start = max(got_at, self._prev_end) if self._prev_end else got_at
            if not _meet(start, began, window, slack):
                continue
            queued = []
            for _ in range(i + 1):
                prompt, records = self._queue.popleft()
                queued.append(prompt)
                for record in records:
                    self._pending_prompts.append(record)
            candidate = queued.pop()
            for dropped in (head, *queued):
                dropped.started_at = None
                dropped.started = False
                dropped.status = "dropped"
            candidate.started_at = start
            candidate.started = True
            self._reassign(head, candidate)
            self._open.prompt = candidate
            return

    def _reassign(self, head: Prompt, ran: Prompt) -> None:
        """Move what was attributed to ``head`` since ``ran`` was received over to ``ran``."""
        assert self._open is not None
        after = ran.line

        def move(records: Sequence[ProgressBar | Load | ErrorRecord]) -> None:
            for record in reversed(records):
                if record.line <= after:
                    break
                if record.prompt == head.index:
                    record.prompt = ran.index

        move(self._pending_bars.items)
        move(self._pending_loads.items)
        move(self._pending_errors.items)
        if any(e.prompt == ran.index and e.kind in ("oom", "exception") for e in self._pending_errors.recent(20)):
            ran.status = "error"
        elif any(e.prompt == ran.index and e.kind == "interrupted" for e in self._pending_errors.recent(20)):
            ran.status = "interrupted"
        self._open.bars = [(bar, ev) for bar, ev in self._open.bars if bar.line > after]
        self._open.settled = SettledBars()  # settled before any queued prompt was received: head's, all of them
        if self._open.folded is not None:
            self._open.folded.reassigned = True  # painted with no prompt queued: head's, all of them
        ran.models, head.models = head.models, []
        ran.gguf_qtypes, ran.video = head.gguf_qtypes, head.video
        head.gguf_qtypes = head.video = None
        ran.ws_timeouts, ran.lowvram_module_loads = head.ws_timeouts, head.lowvram_module_loads
        head.ws_timeouts = head.lowvram_module_loads = 0

    # ---- loads, bars, worker ------------------------------------------------------------------
    def _on_load_requested(self, ev: Event, run: Run) -> None:
        self._run_busy = True
        self._process_start = None  # work since: no new process began there
        if self._batch is not None:
            self._end_batch()  # a new batch: the last one's silent loads were complete
        model = ev.fields["model"]
        self._requested.append((model, ev.line))
        prompt = self._executing()
        if prompt is not None:
            self._add_model(prompt, model)

    def _add_model(self, prompt: Prompt, model: str) -> None:
        """List ``model`` among the prompt's models unless it is there (a set of the last prompt's: a prompt may
        request thousands, and a pass over its list for each would cost their square). Past MAX_PROMPT_MODELS the
        request is counted, not listed (the list and the set would grow with the log)."""
        held, seen = self._prompt_models
        if held is not prompt:
            self._prompt_models = held, seen = prompt, set(prompt.models)
        if model not in seen:
            if len(prompt.models) >= MAX_PROMPT_MODELS:
                self.summary.models_not_listed += 1
                return
            seen.add(model)
            prompt.models.append(model)

    def _on_load_batch(self, ev: Event, run: Run) -> None:
        self._batch = (ev, ev.fields["count"])

    def _end_batch(self) -> None:
        """The batch is over: each request it announced that no loaded line followed loaded completely."""
        if self._batch is not None:
            ev, count = self._batch
            self._batch = None
            for _ in range(min(count, len(self._requested))):
                self._add_load(ev, "complete", self._requested.popleft()[0])
        self._requested.clear()

    def _on_dynamic_load(self, ev: Event, run: Run) -> None:
        model = ev.fields["model"]
        held = next((r for r in self._requested if r[0] == model), None)
        if held is not None:
            self._requested.remove(held)
        prompt = self._executing()
        if prompt is not None:
            self._add_model(prompt, model)
        self._add_load(ev, "dynamic", model)

    def _loaded_model(self, loaded_mb: float | None, kind: str) -> str | None:
        """Which model a ``loaded ...`` line is about.

        ComfyUI prints ``Requested to load`` for each model of a batch, then one ``loaded`` line
        per model in the same order. A ``loaded`` line with no request before it re-loads a model
        already on the GPU: it is named when its size matches an earlier full load, else unknown.
        """
        if self._requested:
            model: str | None = self._requested.popleft()[0]
            if self._batch is not None:
                ev, count = self._batch
                self._batch = (ev, count - 1) if count > 1 else None
        elif kind == "partial":
            model = self._last_partial  # a partial load's budget changes from one load to the next
        else:
            model = self._model_by_size.get(round(loaded_mb, 2)) if loaded_mb is not None else None
        if model is not None and loaded_mb is not None and kind == "complete":
            self._model_by_size[round(loaded_mb, 2)] = model
        if kind == "partial":
            self._last_partial = model
        return model

    def _add_load(self, ev: Event, kind: str, model: str | None = None) -> None:
        """A load record; ``model`` when the line (or the batch) names it, else matched to the requests."""
        self._run_busy = True
        self._process_start = None  # work since: no new process began there
        prompt = self._executing()
        self._pending_loads.append(
            Load(
                prompt=prompt.index if prompt else None,
                model=model if model is not None else self._loaded_model(ev.fields.get("loaded_mb"), kind),
                kind=kind,
                usable_mb=ev.fields.get("usable_mb"),
                loaded_mb=ev.fields.get("loaded_mb"),
                line=ev.line,
                source=self.source,
                ts=ev.ts,
                staged_mb=ev.fields.get("staged_mb"),
            )
        )
        if kind in ("partial", "lowvram"):
            self.summary.lowvram = True
        if kind == "partial":
            self.summary.partial_loads += 1

    def _on_loaded_completely(self, ev: Event, run: Run) -> None:
        self._add_load(ev, "complete")

    def _on_loaded_partially(self, ev: Event, run: Run) -> None:
        self._add_load(ev, "partial")

    def _on_lowvram_mode(self, ev: Event, run: Run) -> None:
        self._add_load(ev, "lowvram")

    def _on_lowvram_modules(self, ev: Event, run: Run) -> None:
        count = ev.fields["count"]
        self.summary.lowvram_module_loads += count
        self.summary.lowvram = True
        prompt = self._executing()
        if prompt is not None:
            prompt.lowvram_module_loads += count

    def _on_gguf_qtypes(self, ev: Event, run: Run) -> None:
        prompt = self._executing()
        if prompt is not None:
            merged = dict(prompt.gguf_qtypes or {})
            for name, count in ev.fields["qtypes"].items():
                merged[name] = max(merged.get(name, 0), count)
            prompt.gguf_qtypes = merged

    def _on_video_sampling(self, ev: Event, run: Run) -> None:
        prompt = self._executing()
        if prompt is not None:
            prompt.video = {k: ev.fields[k] for k in ("frames", "width", "height", "steps")}
            self._sampler_announced = prompt.index

    def sampler_announced(self, prompt: int) -> bool:
        """``prompt``'s video wrapper announced its sampler and drew no bar since (the bar being drawn
        now, if any, is the sampler's: parse/bars.py)."""
        return self._sampler_announced == prompt

    def _on_progress_bar(self, ev: Event, run: Run) -> None:
        self._run_busy = True
        self._process_start = None  # work since: no new process began there
        # A request glued after the bar's last state (`…4.66s/it]Requested to load WanVAE`, raylight#48: tqdm left
        # no newline) came after the bar: its `loaded` line is still to come. Requests before the bar are stale.
        after: list[tuple[str, int]] = []
        while self._requested and self._requested[-1][1] >= (ev.end_line or ev.line):
            after.append(self._requested.pop())
        self._end_batch()  # a request with no loaded line (already on the GPU) is stale now
        self._requested.extend(reversed(after))
        f = ev.fields
        prompt = self._executing()
        kind = bar_kind(f["label"], f["rate_unit"],
                        after_sampler_line=prompt is not None and self._sampler_announced == prompt.index)
        if prompt is None and self._before_log is not None and kind is not BarKind.LOADING:
            self._open_before_log(ev.line)  # sampling, decoding: a prompt's work (a download may be start-up's)
            prompt = self._executing()
        if kind is not BarKind.LOADING:  # weights loaded on the way to the sampler leave it announced
            self._sampler_announced = None
        bar = ProgressBar(
            prompt=prompt.index if prompt else None,
            label=f["label"],
            total=f["total"],
            done=f["done"],
            final_rate=f["final_rate"],
            rate_unit=f["rate_unit"],
            elapsed_s=bar_seconds(f["elapsed_s"], f["done"], f["final_rate"], f["rate_unit"]),
            line=ev.line,
            end_line=ev.end_line,
            kind=kind,
            source=self.source,
        )
        self._pending_bars.append(bar)
        self._bar_end_line = max(self._bar_end_line, ev.end_line)
        if self._open is not None:
            self._open.bars.append((bar, ev))
            self._settle_bars(self._open)
            if len(self._open.bars) >= max(FOLD_BARS, self._open.fold_at):
                self._fold_bars(self._open)
        else:
            bar.start, bar.end = bar_span(bar, ev, None)
            if run.ready_at is None:
                return
            install = self._install
            if install is not None and bar.end is not None and install[0] <= bar.end <= install[1]:
                return  # drawn inside an install (its lines behind `[!]`): install time already
            # drawn after start-up with no prompt: work all the same (an install's, if one covers it later)
            run.outside_s = round((run.outside_s or 0.0) + bar.elapsed_s, 3)
            self._install_bars.append(bar)

    def _settle_bars(self, open_: _Open) -> None:
        """Fold the prompt's first bars into ``open_.settled`` while no reading can place them (phases.unplaceable)
        and no queued prompt was received before them (_reassign would move them), all but its last (_end_run reads
        it): their records are final, and _release hands them on. A prompt of 400,000 unstamped bars holds two."""
        bars = open_.bars
        queued = self._queue.head_line if self._queue else None
        while (len(bars) > 1 and unplaceable(bars[0][1]) and open_.folded is None
               and (queued is None or bars[0][0].line < queued)):
            open_.settled.add(bars.pop(0)[0])

    def _fold_bars(self, open_: _Open) -> None:
        """Paint the running prompt's first bars and its time up to a cut (phases.fold) while it runs, as painting
        it when it ends would, so that it holds a window of bars and activities, not all of them: a prompt of
        400,000 stamped bars held each with the activity of each bar line until it ended (609 MB). Their records
        and the activities go to a shelf on disk, and to the table when it ends: placed if it ends timed, as
        painted (phases.paints_after) or painted all again from its start when a bar drawn later reaches back
        before the cut or it ends before it; not placed if it ends untimed (settled holds what that reads of
        them). Only for a prompt whose start is known from its own line, with stamps to the second so far and no
        prompt queued (_reassign may give its place to that one: then its painted bars are the dropped one's)."""
        open_.fold_at = 2 * len(open_.bars)  # a try that paints nothing is tried again twice as late: O(bars) in all
        prompt, acts, bars = open_.prompt, open_.activities, open_.bars
        start = prompt.started_at
        folded = open_.folded
        if (not prompt.received or start is None or self._queue or (folded is not None and folded.reassigned)
                or not all(a.resolution == FINE for a in acts)):
            return
        done = fold(folded.painted if folded is not None else None, start, acts, bars,
                    len(acts) - TAIL_ACTIVITIES - 1)
        if done is None:
            return
        painted, count, dropped = done
        if folded is None:
            folded = open_.folded = _Folded(painted, Shelf(_pack_bar, _unpack_bar), Shelf(_ACTIVITY, _activity),
                                            replace(open_.settled),
                                            bars[0][0].line if count else 1 << 62, prompt.line)
        elif count and not len(folded.bars):
            folded.first_line = bars[0][0].line
        pending = self._pending_bars.items
        at = len(pending) - len(bars)  # the prompt's bars are the last pending ones
        assert count == 0 or pending[at] is bars[0][0]
        for pair in bars[:count]:
            folded.bars.append(pair)
            open_.settled.add(pair[0])
        del pending[at:at + count], bars[:count]
        first_shelved = not len(folded.activities)
        for i, act in enumerate(acts[:dropped]):
            folded.activities.append(act)
            if i or not first_shelved:
                folded.last_line = max(folded.last_line, act.last_line)
        del acts[:dropped]
        if count:
            # the next try when FOLD_BARS more come and as many again as it holds now four times: each try paints
            # again the bars of the last FOLD_KEEP_S it held back (research/bars29/gen.py: ~2,800), so a window not
            # much larger than them painted each bar ~2.4 times (Python's CPU +80% on gen.py's 50,000 bars, +30% so)
            open_.fold_at = 4 * len(bars) + FOLD_BARS

    def _unshelve(self, folded: _Folded, records: Iterable[ProgressBar]) -> None:
        """Hand a prompt's painted bars to the table, in their place: after the bars before them, before its
        bars held still."""
        if len(folded.bars):
            self._pending_bars.flush_while(lambda b: b.line < folded.first_line)
        for bar in records:
            self.bars.append(bar)
        folded.bars.close()
        folded.activities.close()

    # ---- ComfyUI-Manager installs -------------------------------------------------------------
    def _on_node_install(self, ev: Event, run: Run) -> None:
        """ComfyUI-Manager installing a node pack after start-up, with no prompt running: the time from
        its first install line to its last is install work, not idle (the gap before the first stays
        idle). A download bar drawn right before the first line (the pack's zip) or between two lines
        is the install's: its seconds move from "outside" to the install. ``[!]`` lines (the install's
        subprocesses) only extend an install already begun. Minute stamps cannot time it."""
        ts = ev.ts
        if ts is None or self._open is not None or run.ready_at is None or not self._clock_is_fine():
            return
        install = self._install
        if install is None:
            if ev.fields.get("output"):
                return
            start = ts
        else:
            start, end = install
            ts = max(ts, end)
        for bar in self._install_bars:
            if bar.start is not None and bar.end is not None and bar.end <= ts:
                run.outside_s = round((run.outside_s or 0.0) - bar.elapsed_s, 3) or None
                start = min(start, bar.start)
        self._install_bars.clear()
        added = (ts - start).total_seconds() - (0.0 if install is None else (install[1] - install[0]).total_seconds())
        run.install_s = round((run.install_s or 0.0) + added, 3)
        if install is None:
            run.install_spans.append((start, ts))
        else:
            run.install_spans[-1] = (start, ts)
        self._install = (start, ts)

    def _close_install(self) -> None:
        """A prompt started or the run ended: a later install line begins another install."""
        self._install = None
        self._install_bars.clear()

    def _on_manager_startup(self, ev: Event, run: Run) -> None:
        """ComfyUI-Manager prints the start time (local, as its log stamps are): a run whose lines
        carry no time at all starts then (_end_run). Not mixed with stamps: minute stamps cut down
        would end such a run before it began."""
        try:
            at = datetime.fromisoformat(ev.fields["at"].strip())
        except ValueError:
            return
        if at.tzinfo is None:
            self._stated_start = at

    def _on_run_setting(self, ev: Event, run: Run) -> None:
        for key, value in ev.fields.items():
            if key not in ("pattern", "text"):
                run.setup.setdefault(key, value)  # the first value: the device block can be printed twice

    def _on_lora_key_missed(self, ev: Event, run: Run) -> None:
        """A LoRA logs one line per weight it cannot apply (thousands): one notable event per prompt
        and run stands for them all, with their ``count``."""
        prompt = self._executing()
        key = (run.index, prompt.index if prompt is not None else None)
        held = self._lora_missed
        if held is not None and held[0] == key:
            held[1].fields["count"] += 1
            return
        ev.fields["count"] = 1
        self._lora_missed = (key, ev)
        if len(self.notable) < MAX_NOTABLE:
            self.notable.append(ev)
        else:
            self.notable_dropped += 1

    def _on_video_memory(self, ev: Event, run: Run) -> None:
        prompt = self._executing()
        if prompt is None:
            return
        f = ev.fields
        key = f"blocks_{f['device']}_mb" if "device" in f else WRAPPER_MEMORY_KEYS.get(f.get("what", ""), "memory_gb")
        value = f["mb"] if "device" in f else f["gb"]
        memory = prompt.memory if prompt.memory is not None else {}
        memory[key] = max(value, memory.get(key, 0.0))
        prompt.memory = memory

    def _on_worker_api(self, ev: Event, run: Run) -> None:
        state = ev.fields["state"]
        if state == "reachable" and run.api_ready_at is None:
            run.api_ready_at = ev.ts
        elif state in ("exited", "gave_up"):
            self._error(self._executing(), "worker", ev.fields.get("text", state), ev)

    def _on_job_queued(self, ev: Event, run: Run) -> None:
        # ComfyUI logs got prompt before it answers the worker: the latest received
        if self._queue:
            self._queue.name_last(ev.fields["prompt_id"])
        elif self._open is not None and self._open.prompt.prompt_id is None:
            self._open.prompt.prompt_id = ev.fields["prompt_id"]

    def _on_ws_lost(self, ev: Event, run: Run) -> None:
        self._error(self._executing(), "ws_lost", ev.fields.get("text", "websocket lost"), ev)

    def _on_ws_timeout(self, ev: Event, run: Run) -> None:
        self.summary.ws_timeouts += 1
        prompt = self._executing()
        if prompt is not None:
            prompt.ws_timeouts += 1

    # ---- errors -------------------------------------------------------------------------------
    def _error(self, prompt: Prompt | None, kind: str, message: str, ev: Event,
               limit: int | None = MAX_ERROR_CHARS) -> ErrorRecord:
        """A new error record; ``limit=None`` for a message its maker has bounded part by part."""
        record = ErrorRecord(
            prompt=prompt.index if prompt else None,
            kind=kind,
            message=message.strip()[:limit],
            line=ev.line,
            source=self.source,
            ts=ev.ts,
            end_line=ev.end_line,
        )
        self._pending_errors.append(record)
        return record

    def _find_error(self, prompt: Prompt, kind: str) -> ErrorRecord | None:
        for record in reversed(self._pending_errors.recent(RECENT_ERRORS)):
            if record.prompt == prompt.index and record.kind == kind:
                return record
        return None

    # ---- phases -------------------------------------------------------------------------------
    def _close_prompt(
        self, open_: _Open, end: datetime | None, status: str | None, end_line: int | None = None
    ) -> None:
        if open_ is self._open:
            self._end_batch()  # a batch's silent loads belong to the prompt that asked for them
        prompt = open_.prompt
        if status is not None:
            prompt.status = status
        prompt.ended_at = end
        folded = open_.folded
        acts, bars, settled = open_.activities, open_.bars, open_.settled
        if folded is None or not len(folded.activities):
            prompt.last_line = end_line or max([prompt.line, *(a.last_line for a in acts[1:])])
        else:  # its first activity is shelved
            prompt.last_line = end_line or max([prompt.line, folded.last_line, *(a.last_line for a in acts)])
        start = prompt.started_at
        timed = start is not None and end is not None and all(a.resolution == FINE for a in acts)
        unfinished = status is None
        painted: Painted | None = None
        shelved: list[tuple[ProgressBar, Event]] | None = None  # the painted bars, read back to paint all again
        if folded is not None and timed and start is not None and end is not None:
            if not folded.reassigned and paints_after(folded.painted, start, end, acts, bars, unfinished):
                painted = folded.painted
            else:
                shelved = [] if folded.reassigned else list(folded.bars)
                for bar, _ in shelved:
                    bar.start = bar.end = None
                acts, bars = [*folded.activities, *acts], [*shelved, *bars]
                if not folded.reassigned:
                    settled = folded.settled
        library = self._run_library_loads
        # queued before the log but begun in it (the second of _all_queued_before's prompts: Prompt.began_in_log), or
        # begun after the log's first stamp: the log has it all
        run = self._run
        began_in_log = prompt.began_in_log or (run is not None and run.started_at is not None and start is not None
                                              and start >= run.started_at)
        before_log = not prompt.received and not began_in_log
        library_bar = settled.library_loader or any(library_loader(bar) for bar, _ in bars)  # folded bars' too
        if timed and start is not None and end is not None:
            paint_timed(prompt, start, end, acts, bars, unfinished, open_.loaded, library,
                        hidden_bar=open_.hidden_bar, before_log=before_log, settled=settled,
                        library_loaded=library_bar, painted=painted)
        else:
            paint_estimated(prompt, bars, open_.loaded, library, hidden_bar=open_.hidden_bar,
                            before_log=before_log, settled=settled, library_loaded=library_bar)
        if not library and library_bar:
            self._run_library_loads = True
        if folded is not None:
            if shelved is not None and not folded.reassigned:
                self._unshelve(folded, (bar for bar, _ in shelved))
            elif painted is not None:
                self._unshelve(folded, (bar for bar, _ in folded.bars))
            else:  # untimed, or the dropped prompt's: painting places none of them
                self._unshelve(folded, (_unplaced(bar) for bar, _ in folded.bars))
        if prompt.estimated:
            self._run_estimated = True
        else:
            self._run_prompt_s += self._in_run_s(prompt)
        self._open = None

    def _in_run_s(self, prompt: Prompt) -> float:
        """The seconds of a timed prompt inside its run's span: a prompt that began before the log
        counts from the log's first line (the run's idle time is its span less its work)."""
        run, total = self._run, prompt.total_s or 0.0
        began, ended = prompt.started_at, prompt.ended_at
        if prompt.received or run is None or run.started_at is None or began is None or ended is None:
            return total
        if began >= run.started_at:
            return total
        return max(0.0, secs(ended - run.started_at))

    # ---- a markdown report's header -----------------------------------------------------------
    def _apply_report_fields(self, fields: dict[str, tuple[int, str]]) -> None:
        """Use a "ComfyUI Error Report" header where the fenced log lacks the facts.

        The input's first run waited for this (``_release`` holds it back for markdown); an input
        with no run gets one.
        """
        if self._run_index == self._first_run_index:
            # the run of an input that is the report's header alone spans the header's lines, so the records it
            # makes (the header's exception) are in a run (field9 09, 10, 15: a trace drew them outside any run)
            lines = [line for line, _ in fields.values()]
            self._pending_runs.append(Run(index=self._run_index, source=self.source, first_line=min(lines, default=0),
                                          last_line=max(lines, default=0)))
            self._run_index += 1
        run = next(r for r in self._pending_runs.items if r.index == self._first_run_index)
        if "device" in fields and run.gpu is None:
            run.device = fields["device"][1]
            run.gpu = gpu_name(run.device)
        if "vram_total_bytes" in fields and run.total_vram_mb is None:
            try:
                run.total_vram_mb = round(int(fields["vram_total_bytes"][1]) / 2**20)
            except ValueError:
                pass
        for key in ("comfyui_version", "pytorch_version"):
            if key in fields and getattr(run, key) is None:
                setattr(run, key, fields[key][1])
        if "exception_type" in fields:
            line, exc_type = fields["exception_type"]
            message = fields.get("exception_message", (line, ""))[1]
            text = f"{exc_type}: {message}".strip()
            logged = (*self.errors, *self._pending_errors.items)
            if not any(message and message in e.message for e in logged):
                node = fields.get("node_type", (0, ""))[1]
                self._pending_errors.append(ErrorRecord(
                    prompt=None, kind="oom" if is_oom(text) else "exception",
                    message=text + (f" (node {node})" if node else ""), line=line, source=self.source))

    # ---- for a live reader (comfylog watch) ---------------------------------------------------
    def release_final(self) -> None:
        """Hand every record that is final now to the tables at once (a live reader shows them)."""
        self._release()

    @property
    def current_run(self) -> Run | None:
        """The run going on (a live reader's look, without copying what live() copies)."""
        return self._run

    def live(self) -> LiveState:
        """What may still change, as it stands now: the reader must not change these records."""
        open_ = self._open
        queued, removed = self._queue.held()
        return LiveState(
            run=self._run, prompt=open_.prompt if open_ else None,
            activities=tuple(open_.activities) if open_ else (), bars=tuple(open_.bars) if open_ else (),
            settled=replace(open_.settled) if open_ else SettledBars(),
            painted=open_.folded.painted if open_ and open_.folded and not open_.folded.reassigned else None,
            loaded=open_.loaded if open_ else False, library_loads=self._run_library_loads,
            queued=tuple(queued), runs=tuple(self._pending_runs.items),
            prompts=tuple(sorted((*self._pending_prompts.items, *queued, *removed), key=lambda p: p.index)),
            progress_bars=tuple(self._pending_bars.items),
            loads=tuple(self._pending_loads.items), errors=tuple(self._pending_errors.items))


@dataclass(frozen=True)
class LiveState:
    """The segmenter's records that may still change (Segmenter.live): the run going on, the prompt
    being executed with what paints its phases when it ends, the queue, and each table's pending end."""

    run: Run | None
    prompt: Prompt | None
    activities: tuple[Activity, ...]
    bars: tuple[tuple[ProgressBar, Event], ...]
    #: What painting reads of its bars handed on already (a copy: _Open.settled).
    settled: SettledBars
    #: Its time painted up to a cut with its first bars, before it ends (_fold_bars; paint_timed copies it).
    painted: Painted | None
    #: The prompt printed load lines (without a clock, its load time is unknown).
    loaded: bool
    #: A library loads the run's models itself (phases.untimed_reasons).
    library_loads: bool
    queued: tuple[Prompt, ...]
    runs: tuple[Run, ...]
    prompts: tuple[Prompt, ...]
    progress_bars: tuple[ProgressBar, ...]
    loads: tuple[Load, ...]
    errors: tuple[ErrorRecord, ...]


Handler = Callable[[Segmenter, Event, Run], None]

#: What the segmenter does with each event kind. Every kind is in exactly one of HANDLERS,
#: START_STAGE (start-up markers; worker_starting and total_vram are in both) or INFORMATIONAL, or a test fails:
#: an event that nothing reads would vanish silently.
HANDLERS: dict[EventKind, Handler] = {
    EventKind.CUDA_VERSION: Segmenter._on_cuda_version,
    EventKind.WORKER_STARTING: Segmenter._on_worker_starting,
    EventKind.TOTAL_VRAM: Segmenter._on_total_vram,
    EventKind.VRAM_STATE: Segmenter._on_vram_state,
    EventKind.DEVICE: Segmenter._on_device,
    EventKind.PYTORCH_VERSION: Segmenter._on_pytorch_version,
    EventKind.GPU_UNSUPPORTED: Segmenter._on_gpu_unsupported,
    EventKind.COMFYUI_VERSION: Segmenter._on_comfyui_version,
    EventKind.IMPORT_HEADER: Segmenter._on_import_header,
    EventKind.IMPORT_TIME: Segmenter._on_import_time,
    EventKind.SERVER_READY: Segmenter._on_server_ready,
    EventKind.SERVER_STOPPED: Segmenter._on_server_stopped,
    EventKind.EXTRA_SEARCH_PATH: Segmenter._on_extra_search_path,
    EventKind.GPU_MEMORY: Segmenter._on_gpu_memory,
    EventKind.PROMPT_RECEIVED: Segmenter._on_prompt_received,
    EventKind.PROMPT_EXECUTED: Segmenter._on_prompt_executed,
    EventKind.OUTPUT_INVALID: Segmenter._on_output_invalid,
    EventKind.PROMPT_INVALID: Segmenter._on_prompt_invalid,
    EventKind.EXCEPTION: Segmenter._on_exception,
    EventKind.INTERRUPTED: Segmenter._on_interrupted,
    EventKind.HIDDEN_BAR: Segmenter._on_hidden_bar,
    EventKind.LOAD_REQUESTED: Segmenter._on_load_requested,
    EventKind.LOADED_COMPLETELY: Segmenter._on_loaded_completely,
    EventKind.LOADED_PARTIALLY: Segmenter._on_loaded_partially,
    EventKind.LOWVRAM_MODE: Segmenter._on_lowvram_mode,
    EventKind.LOWVRAM_MODULES: Segmenter._on_lowvram_modules,
    EventKind.GGUF_QTYPES: Segmenter._on_gguf_qtypes,
    EventKind.VIDEO_SAMPLING: Segmenter._on_video_sampling,
    EventKind.PROGRESS_BAR: Segmenter._on_progress_bar,
    EventKind.WS_TIMEOUT: Segmenter._on_ws_timeout,
    EventKind.OOM: Segmenter._on_oom,
    EventKind.TRACEBACK: Segmenter._on_traceback,
    EventKind.LOAD_BATCH: Segmenter._on_load_batch,
    EventKind.DYNAMIC_LOAD: Segmenter._on_dynamic_load,
    EventKind.RUN_SETTING: Segmenter._on_run_setting,
    EventKind.MANAGER_STARTUP: Segmenter._on_manager_startup,
    EventKind.LORA_KEY_MISSED: Segmenter._on_lora_key_missed,
    EventKind.VIDEO_MEMORY: Segmenter._on_video_memory,
    EventKind.WORKER_API: Segmenter._on_worker_api,
    EventKind.JOB_QUEUED: Segmenter._on_job_queued,
    EventKind.WS_LOST: Segmenter._on_ws_lost,
    EventKind.CRASH: Segmenter._on_crash,
    EventKind.ERROR_LINE: Segmenter._on_error_line,
    EventKind.NODE_INSTALL: Segmenter._on_node_install,
    EventKind.PACKAGE_INSTALLED: Segmenter._on_node_install,  # an install's output: extends one begun
}
#: Kinds the segmenter reads no fields of: their lines still give the time before them a phase
#: (the table row's ``phase``), and the notable ones are kept for the diagnoser.
INFORMATIONAL = frozenset({
    EventKind.BACKGROUND,  # the parser makes none of these events: their lines are no activity either
    EventKind.LOAD_DETAIL, EventKind.WS_CONNECTED, EventKind.WS_RECONNECT, EventKind.JOB_STARTED,
    EventKind.JOB_FINISHED, EventKind.CACHE_EVICTION, EventKind.MEMORY_LEAK, EventKind.JOB_QUEUE,
    EventKind.NETWORK_VOLUME, *RULE_FACTS,
})
#: Kinds that may come between a download bar and the install line that shows the bar was the
#: install's (further bars; install lines themselves handle the bars).
INSTALL_KEEPS_BARS = frozenset({EventKind.PROGRESS_BAR, EventKind.NODE_INSTALL, EventKind.PACKAGE_INSTALLED})


def _describe_release(version: str) -> str | None:
    """The release a ``git describe`` version past it names (``v0.14.1-15-gb254cecd``: ``0.14.1``), else None.
    String steps, as the Rust segmenter takes them (mod.rs ``describe_release``)."""
    text = version[1:] if version.startswith("v") else version
    release, dash, rest = text.partition("-")
    count, dash2, commit = rest.partition("-")
    if not (dash and dash2 and release and count) or not all("0" <= c <= "9" for c in count):
        return None
    if not commit.startswith("g") or not ("0" <= commit[1:2] <= "9" or "a" <= commit[1:2] <= "f"):
        return None
    return release


def _startup_end_line(run: Run, server_line: int | None) -> int:
    """The first line of a start-up's end: its custom nodes' import times (a paste that starts among them,
    Kijai/ComfyUI-HunyuanVideoWrapper#394, showed `start-up 0.0s`), else its ``Starting server`` or ready line.
    A run whose first stamped line is not before it holds too little of its start-up to time it."""
    end = server_line or run.ready_line or 0
    if run.import_times:
        first_import = run.import_times[0][3]
        end = min(end, first_import) if end else first_import
    return end


def _meet(a: datetime, b: datetime, window: timedelta, slack: timedelta) -> bool:
    """Two stamped times, each anywhere in the ``window`` after its stamp, can be one within ``slack``."""
    return a - slack <= b + window and b - slack <= a + window


class KindRoute(NamedTuple):
    """What event() does for one kind, from the tables above: looked up once per event rather than in
    each table (a 100 MB log has 300k events)."""

    #: START_STAGE's stage of a start-up marker.
    start_stage: int | None
    #: In NOTABLE_KINDS: kept on the report.
    notable: bool
    #: In INCIDENT_KINDS: does not end the incident being built.
    incident: bool
    #: In LOAD_KINDS: a prompt printing it loaded something.
    load_work: bool
    #: In PROMPT_WORK_KINDS: only a running prompt prints it.
    prompt_work: bool
    #: In INSTALL_KEEPS_BARS.
    keeps_install_bars: bool
    handler: Handler | None


KIND_ROUTES: dict[EventKind, KindRoute] = {
    kind: KindRoute(START_STAGE.get(kind), kind in NOTABLE_KINDS, kind in INCIDENT_KINDS, kind in LOAD_KINDS,
                    kind in PROMPT_WORK_KINDS, kind in INSTALL_KEEPS_BARS, HANDLERS.get(kind))
    for kind in EventKind
}
#: error_line rows whose ``error`` makes an error record of that kind (the text when the line has no message).
ERROR_LINE_RECORDS = {
    "aimdo": "comfy-aimdo error",
    "args_refused": "ComfyUI refused its command line",
    "desktop_exited": "ComfyUI Desktop's Python server exited",
    "gpu_unavailable": "GPU is not available: PyTorch CUDA init failed",
    "handler": "the RunPod handler raised an exception",
    "node_install": "ComfyUI-Manager could not install a custom node (the line after this one says why)",
    "unhealthy": "the worker failed its fitness checks and exited",
    "worker_exited": "the worker's process exited",
}
#: A video wrapper's memory lines (``what``) as Prompt.memory keys.
WRAPPER_MEMORY_KEYS = {
    "Allocated memory: memory": "allocated_gb",
    "Max allocated memory: max_memory": "max_allocated_gb",
    "Max reserved memory: max_reserved": "max_reserved_gb",
}


#: How an import failure's record words it: ``custom node failed to import: PATH (REASON)`` (_import_message).
IMPORT_FAILED = " failed to import: "
CUSTOM_NODE = "custom node"
BUILTIN_NODE_FILE = "built-in node file"


def _import_message(path: str, reason: str | None = None) -> str:
    """``custom node failed to import: PATH (REASON)``, each part bounded on its own: a long path does not
    cut the reason (where a node's instruction often comes last). ComfyUI's own node files
    (``comfy_extras/``, ``comfy_api_nodes/``) load through the same function and message, but are no
    custom nodes. read_import_message reads it back."""
    what = BUILTIN_NODE_FILE if BUILTIN_NODE_FILE_RE.search(path) else CUSTOM_NODE
    message = f"{what}{IMPORT_FAILED}{path[:MAX_IMPORT_PATH_CHARS]}"
    return message if reason is None else f"{message} ({reason.strip()[:MAX_IMPORT_REASON_CHARS]})"


@dataclass(frozen=True, slots=True)
class ImportFailure:
    """An import failure's record read back (read_import_message)."""

    builtin: bool
    #: As the record holds it: cut at MAX_IMPORT_PATH_CHARS.
    path: str
    #: None where ComfyUI's list named the node but no line said why.
    reason: str | None


def read_import_message(message: str, path: str | None = None) -> ImportFailure | None:
    """The parts of _import_message's ``WHAT failed to import: PATH (REASON)``; None for another message.

    A path may hold `` (`` itself. Given the node's full ``path`` (its import-times entry), the message must
    be about exactly that node (None for another, even one whose name begins this one's: Foo, Foo-Bar).
    Without it, a built-in node file's path ends with its file name, a custom node's at the first `` (``.
    """
    split = _import_message_rest(message)
    if split is None:
        return None
    builtin, rest = split
    if path is not None:
        cut = path[:MAX_IMPORT_PATH_CHARS]
        ends = [len(cut)] if rest.startswith(cut) else []
    else:
        ends = _path_ends(rest)
        if builtin:  # the name ends the path (a path cut at MAX_IMPORT_PATH_CHARS may have lost it)
            ends.sort(key=lambda end: BUILTIN_NODE_FILE_RE.search(rest[:end]) is None)
    for end in ends:
        said = rest[end:]
        if not said:
            return ImportFailure(builtin, rest, None)
        if said.startswith(" (") and said.endswith(")"):
            return ImportFailure(builtin, rest[:end], said[2:-1])
    return None


def import_message_paths(message: str) -> list[str]:
    """Every path an import failure's message can be about (cut at MAX_IMPORT_PATH_CHARS, as records hold
    them): the text after ``WHAT failed to import: `` ended at each `` (`` or at its end. A node's path is
    one of these exactly when ``read_import_message(message, path)`` reads the message as about it; []
    for another message."""
    split = _import_message_rest(message)
    if split is None:
        return []
    rest = split[1]
    return [rest[:end] for end in _path_ends(rest)]


def _import_message_rest(message: str) -> tuple[bool, str] | None:
    """Whether an import failure's message is a built-in node file's, and its text after ``WHAT failed to
    import: ``; None for another message."""
    builtin = message.startswith(BUILTIN_NODE_FILE + IMPORT_FAILED)
    if not builtin and not message.startswith(CUSTOM_NODE + IMPORT_FAILED):
        return None
    return builtin, message[len(BUILTIN_NODE_FILE if builtin else CUSTOM_NODE) + len(IMPORT_FAILED):]


def _path_ends(rest: str) -> list[int]:
    """Where the path of an import failure's message can end: at each `` (`` (a path may hold one), or at the end."""
    return [m.start() for m in re.finditer(r" \(", rest)] + [len(rest)]


def _dict_message(detail: str) -> str | None:
    key = "'message': '"
    i = detail.find(key)
    if i < 0:
        return None
    j = detail.find("'", i + len(key))
    return detail[i + len(key) : j] if j > 0 else None


def _unplaced(bar: ProgressBar) -> ProgressBar:
    """A painted bar of a prompt that ended untimed, or that a queued prompt's took the place of: unplaced."""
    bar.start = bar.end = None
    return bar


#: What a shelf keeps of a painted bar (Segmenter._fold_bars): its record's fields, and what painting it again reads
#: of its event (phases.bar_span: its times, end line, the time of the line before it and tqdm's first elapsed).
_BAR_FIELDS = attrgetter(*(f.name for f in dataclass_fields(ProgressBar)))
_BAR_EVENT = attrgetter("line", "ts", "source", "end_line", "end_ts")
#: An activity's fields, in Activity's order.
_ACTIVITY = attrgetter("phase", "first_ts", "last_ts", "first_line", "last_line", "source", "resolution")


def _pack_bar(pair: tuple[ProgressBar, Event]) -> tuple[Any, ...]:
    bar, ev = pair
    return _BAR_FIELDS(bar), _BAR_EVENT(ev), ev.fields.get("ts_before"), ev.fields.get("first_elapsed_s")


def _unpack_bar(packed: tuple[Any, ...]) -> tuple[ProgressBar, Event]:
    fields, (line, ts, source, end_line, end_ts), ts_before, first_elapsed_s = packed
    return ProgressBar(*fields), Event(EventKind.PROGRESS_BAR, line, ts, {"ts_before": ts_before,
                                       "first_elapsed_s": first_elapsed_s}, source, end_line, end_ts)


def _activity(packed: tuple[Any, ...]) -> Activity:
    return Activity(*packed)
