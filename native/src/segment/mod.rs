//! The segmenter in Rust: comfylog/segment/segmenter.py transliterated, run on the scanner's own
//! items (no Python Event or Activity is made for them), building the same records with the same
//! arithmetic. SEGMENTER.md (native/) says what is ported. An input this code cannot yet segment
//! exactly as Python does is refused (`NotPorted`), never segmented differently: the caller then
//! segments it with Python.

pub mod emit;
pub mod event;
pub mod jsonrows;
pub mod phases;
pub mod pickle;
pub mod queue;
pub mod records;
pub mod shelf;
pub mod topy;

use crate::prefix;
use crate::progress::bar_seconds;
use crate::pytext;
use crate::scan::{Activity, Item, CLOCK_RESET_US};
use crate::table::{Phase, Table};
use event::{Body, Ev, Kind, SegRow, Value};
use phases::{
    bar_span, paint_estimated, paint_timed, py_max, round3, secs, shifted, timedelta_us,
    total_seconds, unplaceable, BarEv, Painted, SettledBars, Ts,
};
use queue::PromptQueue;
use records::{Bar, BarKind, ErrorRec, ImportTime, Load, Prompt, Run};
use regex::Regex;
use shelf::Shelf;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, OnceLock};

/// Why an input is left to the Python segmenter: something this port does not do yet.
#[derive(Clone, Debug, PartialEq)]
pub struct NotPorted(pub String);

type R<T = ()> = Result<T, NotPorted>;

/// read.prefixes.FINE: a seconds-resolution clock.
const FINE: f64 = 0.0;
const MAX_ERROR_CHARS: usize = 500;
const MAX_IMPORT_PATH_CHARS: usize = 400;
const MAX_IMPORT_REASON_CHARS: usize = 1000;
const MAX_NOTABLE: usize = 20_000;
/// model.py's MAX_PROMPT_MODELS: models a prompt lists; requests past them are counted, not kept.
const MAX_PROMPT_MODELS: usize = 1000;
/// model.py's MAX_RUN_IMPORT_TIMES: rows of the import times a run keeps (its first and last half);
/// the others are counted.
const MAX_RUN_IMPORT_TIMES: usize = 1000;
/// segmenter.py's RELEASE_EVERY, for what runs without Python (Rust's tests, examples/scan_file.rs):
/// from Python, the segmenter is handed segmenter.py's own (Config::release_every).
pub const RELEASE_EVERY: u64 = 4096;
/// The last errors kept pending whatever their line (segmenter.py's RECENT_ERRORS): find_error looks among
/// them for the record a later line completes, reassign for the status of a prompt that really ran.
pub const RECENT_ERRORS: usize = 50;
/// segmenter.py's TAIL_ACTIVITIES.
const TAIL: usize = 64;
/// segmenter.py's FOLD_BARS: bars a running prompt holds before it paints the first of them (fold_bars).
pub const FOLD_BARS: usize = 2048;
/// segmenter.py's BEFORE_LOG_ACTIVITIES.
const BEFORE_LOG_ACTIVITIES: usize = 20_000;

/// segmenter.py's `_describe_release`: the release a `git describe` version past it names
/// (`v0.14.1-15-gb254cecd`: `0.14.1`).
fn describe_release(version: &str) -> Option<&str> {
    let text = version.strip_prefix('v').unwrap_or(version);
    let (release, rest) = text.split_once('-')?;
    let (count, commit) = rest.split_once('-')?;
    if release.is_empty() || count.is_empty() || !count.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let first = commit.strip_prefix('g')?.bytes().next()?;
    matches!(first, b'0'..=b'9' | b'a'..=b'f').then_some(release)
}

/// The bounds and constants this port repeats from segmenter.py and phases.py, by their Python names:
/// a test compares them, so that a change on one side cannot pass unnoticed where no log reaches it.
pub fn shared_constants() -> Vec<(&'static str, f64)> {
    vec![
        ("MAX_ERROR_CHARS", MAX_ERROR_CHARS as f64),
        ("MAX_IMPORT_PATH_CHARS", MAX_IMPORT_PATH_CHARS as f64),
        ("MAX_IMPORT_REASON_CHARS", MAX_IMPORT_REASON_CHARS as f64),
        ("MAX_NOTABLE", MAX_NOTABLE as f64),
        ("MAX_PROMPT_MODELS", MAX_PROMPT_MODELS as f64),
        ("MAX_RUN_IMPORT_TIMES", MAX_RUN_IMPORT_TIMES as f64),
        ("RELEASE_EVERY", RELEASE_EVERY as f64),
        ("TAIL_ACTIVITIES", TAIL as f64),
        ("FOLD_BARS", FOLD_BARS as f64),
        ("FOLD_KEEP_S", phases::FOLD_KEEP_S),
        ("SHELF_BLOCK", shelf::SHELF_BLOCK as f64),
        ("BEFORE_LOG_ACTIVITIES", BEFORE_LOG_ACTIVITIES as f64),
        ("WS_TIMEOUT_S", phases::WS_TIMEOUT_S),
        ("PLACEMENT_SLACK_S", phases::PLACEMENT_SLACK_US as f64 / 1e6),
        ("UNTIMED_MIN_S", phases::UNTIMED_MIN_S),
    ]
}

fn start_stage(kind: Kind) -> Option<i64> {
    match kind {
        Kind::CudaBanner => Some(0),
        Kind::WorkerStarting => Some(1),
        Kind::ManagerStartup => Some(2),
        // not a marker of its own: a new process only where Segmenter::new_process says so
        Kind::TotalVram => Some(3),
        Kind::ServerStarting => Some(4),
        _ => None,
    }
}

/// segmenter.py's PROMPT_WORK_KINDS: lines only a running prompt prints.
fn prompt_work(kind: Kind) -> bool {
    use Kind::*;
    matches!(
        kind,
        LoadRequested
            | LoadBatch
            | LoadedCompletely
            | LoadedPartially
            | LowvramMode
            | LowvramModules
            | DynamicLoad
            | GgufQtypes
            | VideoSampling
            | Interrupted
    )
}

/// segmenter.py's NOTABLE_KINDS (RULE_FACTS included).
fn notable(kind: Kind) -> bool {
    use Kind::*;
    matches!(
        kind,
        CudaBanner
            | VramState
            | GpuMemory
            | GgufQtypes
            | VideoSampling
            | LowvramModules
            | WsTimeout
            | WsReconnect
            | Oom
            | Crash
            | Exception
            | Traceback
            | Interrupted
            | ServerStopped
            | LoadRequested
            | LoadedPartially
            | LowvramMode
            | JobStarted
            | JobFinished
            | LoadedCompletely
            | DynamicLoad
            | RunSetting
            | VideoMemory
            | WorkerApi
            | WsLost
            | ErrorLine
            | MemoryLeak
            | CacheEviction
            | NetworkVolume
            | GpuUnsupported
            | PackageInstalled
            | NodeInstall
            | ExtraSearchPath
            | AllocConf
            | OomMemory
            | ExtensionMismatch
            | TorchNotInstalled
            | NumpyMismatch
            | ValidationDetail
            | UnhandledOutput
            | HandlerOutput
            | VideoSeqLen
            | BuiltinImportFailed
            | NodeModel
            | NodeCheckpoint
            | PrestartupFailed
            | InterruptRequest
    )
}

/// segmenter.py's INCIDENT_KINDS.
fn incident_kind(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::Traceback | Kind::Oom | Kind::ErrorLine | Kind::Crash | Kind::OomMemory
    )
}

/// ERROR_LINE_RECORDS.
fn error_line_record(error: &str) -> Option<&'static str> {
    Some(match error {
        "aimdo" => "comfy-aimdo error",
        "args_refused" => "ComfyUI refused its command line",
        "desktop_exited" => "ComfyUI Desktop's Python server exited",
        "gpu_unavailable" => "GPU is not available: PyTorch CUDA init failed",
        "handler" => "the RunPod handler raised an exception",
        "node_install" => {
            "ComfyUI-Manager could not install a custom node (the line after this one says why)"
        }
        "unhealthy" => "the worker failed its fitness checks and exited",
        "worker_exited" => "the worker's process exited",
        _ => return None,
    })
}

/// WRAPPER_MEMORY_KEYS.
fn wrapper_memory_key(what: &str) -> &'static str {
    match what {
        "Allocated memory: memory" => "allocated_gb",
        "Max allocated memory: max_memory" => "max_allocated_gb",
        "Max reserved memory: max_reserved" => "max_reserved_gb",
        _ => "memory_gb",
    }
}

/// What the segmenter is told once per input.
#[derive(Clone)]
pub struct Config {
    pub source: u64,
    pub first_run_index: u64,
    pub first_prompt_index: u64,
    pub rows: Arc<Vec<SegRow>>,
    /// The bar table (messages.toml's `[[bar]]` rows, in order): a kind and its label pattern,
    /// None where Rust's regex cannot run it (a label reaching that row is NotPorted).
    pub bars: Arc<Vec<(BarKind, Option<Regex>)>>,
    /// segmenter.py's RELEASE_EVERY (events between releases of final records), handed over by
    /// Python for each input: one constant, which a test may lower for both segmenters.
    pub release_every: u64,
    /// When a running prompt paints its stamped bars as they come (Segmenter::fold_bars).
    pub fold: Fold,
}

/// segmenter.py's FOLD_BARS, phases.py's FOLD_KEEP_S, pending.py's SHELF_BLOCK and segmenter.py's
/// TAIL_ACTIVITIES (the last activities a restart may take back: folding reads the ones before them),
/// handed over by Python for each input (a test lowers them for both segmenters).
#[derive(Clone, Copy, Debug)]
pub struct Fold {
    pub bars: usize,
    pub keep_s: f64,
    pub shelf_block: usize,
    pub tail: usize,
}

impl Default for Fold {
    fn default() -> Self {
        Fold {
            bars: FOLD_BARS,
            keep_s: phases::FOLD_KEEP_S,
            shelf_block: shelf::SHELF_BLOCK,
            tail: TAIL,
        }
    }
}

/// parse/bars.py's `bar_kind`: bytes are a download, no label is the sampler's, then the bar table,
/// then other work unless the bar follows a video sampler's `Sampling N frames` line. A label that
/// is not ASCII is not ported (Python's `\b`, `\w` and case folding differ from Rust's there).
pub fn bar_kind(
    bars: &[(BarKind, Option<Regex>)],
    label: Option<&str>,
    rate_unit: &str,
    after_sampler_line: bool,
) -> R<BarKind> {
    if rate_unit.ends_with("B/s") {
        return Ok(BarKind::Loading);
    }
    let Some(label) = label else {
        return Ok(BarKind::Sampling);
    };
    if !label.is_ascii() {
        return Err(NotPorted(format!(
            "a bar label that is not ASCII: {label:?}"
        )));
    }
    for (kind, regex) in bars {
        match regex {
            None => return Err(NotPorted("a bar row Rust cannot run".into())),
            Some(regex) if regex.is_match(label) => return Ok(*kind),
            Some(_) => {}
        }
    }
    Ok(if after_sampler_line {
        BarKind::Sampling
    } else {
        BarKind::Other
    })
}

/// pending.py's Pending: records that may still change, and (`out`) the ones final since the
/// last hand-over, oldest first. `base` is the table position of `items[0]`.
pub struct Pending<T, O = T> {
    pub items: VecDeque<T>,
    base: u64,
    pub out: Vec<O>,
}

/// A prompt made final: its record, or a queue its run's end left (the spill makes their records,
/// a block at a time: queue.rs). Made is as large as a record, as the `Vec<Prompt>` it replaces was:
/// boxing it would cost an allocation for every prompt of a normal log.
#[allow(clippy::large_enum_variant)]
pub enum PromptsPart {
    Made(Prompt),
    Left(Box<PromptQueue>),
}

/// A bar made final: its record, or (Shelved) the bars a prompt painted as they came, read back from
/// their shelf by the spill a block at a time, placed as painted or (`placed` false) not placed.
#[allow(clippy::large_enum_variant)]
pub enum BarsPart {
    Made(Bar),
    Shelved {
        shelf: Box<Shelf<(Bar, BarEv)>>,
        placed: bool,
    },
}

impl From<Bar> for BarsPart {
    fn from(bar: Bar) -> BarsPart {
        BarsPart::Made(bar)
    }
}

impl BarsPart {
    /// The records, in order.
    pub fn drain(self) -> Box<dyn Iterator<Item = Bar>> {
        match self {
            BarsPart::Made(bar) => Box::new(std::iter::once(bar)),
            BarsPart::Shelved { shelf, placed } => {
                Box::new(shelf.drain().map(move |(mut bar, _)| {
                    if !placed {
                        bar.start = None;
                        bar.end = None;
                    }
                    bar
                }))
            }
        }
    }
}

impl From<Prompt> for PromptsPart {
    fn from(prompt: Prompt) -> PromptsPart {
        PromptsPart::Made(prompt)
    }
}

impl<T, O: From<T>> Pending<T, O> {
    fn new() -> Self {
        Pending {
            items: VecDeque::new(),
            base: 0,
            out: Vec::new(),
        }
    }

    /// Append a record: its table position.
    fn append(&mut self, item: T) -> u64 {
        self.items.push_back(item);
        self.base + self.items.len() as u64 - 1
    }

    fn flush_while(&mut self, last: impl Fn(&T) -> bool) {
        while let Some(front) = self.items.front() {
            if !last(front) {
                break;
            }
            self.out
                .push(self.items.pop_front().expect("a front").into());
            self.base += 1;
        }
    }

    /// `flush_while`, leaving at least `keep` records pending.
    fn flush_while_keeping(&mut self, keep: usize, last: impl Fn(&T) -> bool) {
        while self.items.len() > keep {
            match self.items.front() {
                Some(front) if last(front) => {
                    self.out
                        .push(self.items.pop_front().expect("a front").into());
                    self.base += 1;
                }
                _ => break,
            }
        }
    }

    fn flush(&mut self) {
        self.base += self.items.len() as u64;
        self.out.extend(self.items.drain(..).map(O::from));
    }

    /// Hand over `count` records made elsewhere (nothing is pending: they come after every record).
    fn push_out(&mut self, part: O, count: u64) {
        debug_assert!(self.items.is_empty());
        self.out.push(part);
        self.base += count;
    }

    fn at(&mut self, pos: u64) -> &mut T {
        let i = pos
            .checked_sub(self.base)
            .expect("a pending record's position");
        &mut self.items[i as usize]
    }

    fn at_ref(&self, pos: u64) -> &T {
        let i = pos
            .checked_sub(self.base)
            .expect("a pending record's position");
        &self.items[i as usize]
    }

    /// An open prompt's held records (positions beside what was read of each) as the pending
    /// records themselves, not copies (a prompt of 400,000 bars copied ~100 MB).
    fn beside<'a, R>(&'a self, held: &'a [(u64, R)]) -> impl Iterator<Item = (&'a T, &'a R)> {
        held.iter()
            .map(move |(pos, read)| (self.at_ref(*pos), read))
    }

    /// Positions of the last `count` pending records, newest first.
    fn recent_newest_first(&self, count: usize) -> impl Iterator<Item = u64> + '_ {
        let len = self.items.len();
        let from = len.saturating_sub(count);
        (from..len).rev().map(move |i| self.base + i as u64)
    }
}

/// model.Summary's counters of one input.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    pub got_prompt: u64,
    pub executed: u64,
    pub partial_loads: u64,
    pub lowvram: bool,
    pub lowvram_module_loads: u64,
    pub ws_timeouts: u64,
    pub restarts: u64,
    pub models_not_listed: u64,
}

/// The (run, prompt) whose `lora key not loaded` lines one notable event stands for, and where
/// that event is in `notable` (None: dropped, the notable list was full).
type LoraHeld = ((u64, Option<u64>), Option<usize>);

struct Open {
    prompt: u64,
    activities: Vec<Activity>,
    /// (the bar's table position, what its event tells bar_span)
    bars: Vec<(u64, BarEv)>,
    /// segmenter.py's `_Open.settled`: its first bars, handed on before it ends (settle_bars).
    settled: SettledBars,
    loaded: bool,
    /// tqdm hid a bar of it (` ... (more hidden) ...`): how long it sampled is unknown.
    hidden_bar: bool,
    /// Its first bars painted before it ends (fold_bars), and how many bars it holds at the next try.
    folded: Option<Folding>,
    fold_at: usize,
    /// segmenter.py's `_Open.queued_from`, `queued_line` and `queued_before`: the first line of the
    /// activity standing for `got prompt` lines received one after the other while it runs, if it may
    /// take the next one; the latest such line if its activity stands alone, and the one right before
    /// it if its activity stands alone right before (join_queued_line).
    queued_from: Option<u64>,
    queued_line: Option<u64>,
    queued_before: Option<u64>,
}

/// segmenter.py's `_Folded`: a running prompt's bars painted before it ended, with its time up to a cut.
struct Folding {
    painted: Painted,
    /// The painted bars (placed) and the activities no longer needed, in order: the bars go to the table
    /// when the prompt ends, and painting it all again from its start reads both.
    bars: Shelf<(Bar, BarEv)>,
    activities: Shelf<Activity>,
    /// `settled` before the first of them was painted (painting all again reads it).
    settled: SettledBars,
    /// The first painted bar's line (the table takes nothing after it before it), and the latest last
    /// line of the shelved activities but the prompt's first (close_prompt's last_line).
    first_line: u64,
    last_line: u64,
    /// A queued prompt that ran took the prompt's place (reassign): the painted bars are the dropped one's.
    reassigned: bool,
}

pub struct Segmenter {
    cfg: Config,
    pub runs: Pending<Run>,
    pub prompts: Pending<Prompt, PromptsPart>,
    pub bars: Pending<Bar, BarsPart>,
    pub loads: Pending<Load>,
    pub errors: Pending<ErrorRec>,
    run_prompt_s: f64,
    /// The ended_at of the run before this one (a start-up far before it is no restart of it).
    last_run_end: Option<Ts>,
    run_estimated: bool,
    /// A prompt of the current run loaded weights through a library's loading bar.
    run_library_loads: bool,
    /// Notable events kept since the last hand-over (made Python Events then).
    notable: Vec<Item>,
    /// Notable events kept in all (at most MAX_NOTABLE).
    notable_kept: usize,
    /// `count` fields set since the last hand-over: (position among all notable events, count).
    notable_counts: Vec<(usize, u64)>,
    pub notable_dropped: u64,
    /// LOAD_KINDS: kinds with a load-phase row.
    load_kinds: Vec<Kind>,
    pub summary: Summary,
    run_index: u64,
    prompt_index: u64,
    /// The current run's index (runs are pending from it on).
    run: Option<u64>,
    run_stage: i64,
    events_since_marker: u64,
    prestartup: bool,
    stated_start: Option<Ts>,
    /// The line of the run's first `Starting server`, and the line that gave the run its start time
    /// (segmenter.py's `_server_starting_line`, `_started_line`).
    server_starting_line: Option<u64>,
    started_line: Option<u64>,
    /// ((run, prompt), position in `notable` if kept)
    lora_missed: Option<LoraHeld>,
    /// The count of the held `lora key not loaded` event.
    lora_count: u64,
    run_busy: bool,
    /// segmenter.py's `_process_start`: the first line a new process printed before its start marker.
    process_start: Option<u64>,
    /// The prompts received and not started (queue.rs: compact until they leave it).
    queue: PromptQueue,
    open: Option<Open>,
    /// The latest end line of a bar read: no `got prompt` lines' activities join up to it (join_queued_line).
    bar_end_line: u64,
    last_activity: Option<Activity>,
    last_ts: Option<Ts>,
    requested: VecDeque<(Arc<str>, u64)>,
    /// The models of the prompt they were last added to (its position), to find one already listed
    /// without a pass over its list: a prompt may request thousands.
    prompt_models: (Option<u64>, HashSet<Arc<str>>),
    model_by_size: HashMap<u64, Arc<str>>,
    last_partial: Option<Arc<str>>,
    import_records: HashSet<Arc<str>>,
    /// segmenter.py's `_import_tail`: the last rows of the run's import times past its first
    /// MAX_RUN_IMPORT_TIMES / 2, put after them when the run ends (ComfyUI lists them slowest last).
    import_tail: VecDeque<ImportTime>,
    tail: VecDeque<Activity>,
    incident: Option<u64>,
    incident_traced: bool,
    ignore_traceback: bool,
    /// segmenter.py's `_worker_traceback`: the traceback under `Exception in thread ... (prompt_worker):`
    /// is the queue thread's death, no failure of the prompt.
    worker_traceback: bool,
    unloaded_by_oom: bool,
    /// The prompt whose video wrapper just announced its sampler and drew no bar since.
    sampler_announced: Option<u64>,
    /// (the load_batch event's line and time, the count still announced)
    batch: Option<((u64, Option<Ts>), i64)>,
    prev_end: Option<Ts>,
    events: u64,
    install: Option<(Ts, Ts)>,
    /// Bars drawn with no prompt running since the install's last line: (start, end, elapsed), as
    /// placed then (a bar may be final, handed to Python, before an install line claims it).
    install_bars: Vec<(Option<Ts>, Option<Ts>, f64)>,
    /// segmenter.py's `_before_log`: the input's first run's activities while it has shown no
    /// start-up marker and no prompt line (the prompt the log starts inside opens with them).
    before_log: Option<VecDeque<Activity>>,
    /// segmenter.py's `_all_queued_before`: no start-up and no `got prompt` yet, so every prompt the
    /// log shows was queued before its first line (after one ends, `before_log` collects again).
    all_queued_before: bool,
    /// segmenter.py's `_queued_next`: `before_log` collects again after such a prompt ended.
    queued_next: bool,
}

fn round2_key(x: f64) -> u64 {
    let r: f64 = format!("{x:.2}")
        .parse()
        .expect("a formatted float reads back");
    // dict keys: 0.0 == -0.0
    if r == 0.0 {
        0.0f64.to_bits()
    } else {
        r.to_bits()
    }
}

impl Segmenter {
    pub fn new(cfg: Config) -> Segmenter {
        let (run_index, prompt_index) = (cfg.first_run_index, cfg.first_prompt_index);
        let cfg_source = cfg.source;
        let tail_len = cfg.fold.tail;
        let mut load_kinds: Vec<Kind> = Vec::new();
        for row in cfg.rows.iter().filter(|r| r.load_phase) {
            if !load_kinds.contains(&row.kind) {
                load_kinds.push(row.kind);
            }
        }
        let mut runs = Pending::new();
        runs.base = run_index;
        let mut prompts = Pending::new();
        prompts.base = prompt_index;
        Segmenter {
            cfg,
            runs,
            prompts,
            bars: Pending::new(),
            loads: Pending::new(),
            errors: Pending::new(),
            run_prompt_s: 0.0,
            last_run_end: None,
            run_estimated: false,
            run_library_loads: false,
            notable: Vec::new(),
            notable_kept: 0,
            notable_counts: Vec::new(),
            notable_dropped: 0,
            load_kinds,
            summary: Summary::default(),
            run_index,
            prompt_index,
            run: None,
            run_stage: -1,
            events_since_marker: 0,
            prestartup: false,
            stated_start: None,
            server_starting_line: None,
            started_line: None,
            lora_missed: None,
            lora_count: 0,
            run_busy: false,
            process_start: None,
            queue: PromptQueue::new(cfg_source),
            open: None,
            bar_end_line: 0,
            last_activity: None,
            last_ts: None,
            requested: VecDeque::new(),
            prompt_models: (None, HashSet::new()),
            model_by_size: HashMap::new(),
            last_partial: None,
            import_records: HashSet::new(),
            import_tail: VecDeque::new(),
            tail: VecDeque::with_capacity(tail_len),
            incident: None,
            incident_traced: false,
            ignore_traceback: false,
            worker_traceback: false,
            unloaded_by_oom: false,
            sampler_announced: None,
            batch: None,
            prev_end: None,
            events: 0,
            install: None,
            install_bars: Vec::new(),
            before_log: Some(VecDeque::new()),
            all_queued_before: true,
            queued_next: false,
        }
    }

    // ---- feeding ------------------------------------------------------------------------------

    /// The items of one block, in order.
    pub fn feed(&mut self, table: &Table, items: Vec<Item>) -> R {
        let rows = Arc::clone(&self.cfg.rows);
        for item in items {
            match &item {
                Item::Activity(act) => self.activity(act.clone()),
                _ => {
                    let ev = Ev::of(&item, &rows, table, Kind::ProgressBar)
                        .expect("an item other than an activity is an event");
                    self.event(&ev, table, &item)?;
                }
            }
        }
        Ok(())
    }

    /// segmenter.py's `_new_process`: a `Total VRAM` line after the run printed one and has since worked or served,
    /// with no prompt running or queued, begins a new process's run.
    fn new_process(&mut self) -> bool {
        let (busy, idle) = (self.run_busy, self.open.is_none() && self.queue.is_empty());
        self.run.is_some() && idle && {
            let run = self.run_mut();
            run.total_vram_mb.is_some() && (busy || run.ready_line.is_some())
        }
    }

    fn run_mut(&mut self) -> &mut Run {
        let index = self.run.expect("a current run");
        self.runs.at(index)
    }

    fn activity(&mut self, act: Activity) {
        if self.run.is_none() {
            self.ensure_run(act.first_line);
        }
        let has_open = self.open.is_some();
        let run = self.run_mut();
        let starts = run.started_at.is_none();
        if starts {
            run.started_at = Some(act.first_ts);
        }
        // the latest: a clock may go back (CLOCK_RESET_US)
        run.ended_at = Some(run.ended_at.map_or(act.last_ts, |e| e.max(act.last_ts)));
        if act.last_line > run.last_line {
            run.last_line = act.last_line;
        }
        if act.resolution > run.resolution {
            run.resolution = act.resolution;
        }
        let outside = !has_open && run.ready_at.is_some() && act.phase == Phase::Load;
        if starts {
            self.started_line = Some(act.first_line);
        }
        if let Some(open) = &mut self.open {
            open.activities.push(act.clone());
        } else if let Some(held) = &mut self.before_log {
            if held.len() == BEFORE_LOG_ACTIVITIES {
                held.pop_front();
            }
            held.push_back(act.clone());
        } else if outside {
            self.outside(&act);
        }
        self.last_ts = Some(act.last_ts);
        self.last_activity = Some(act.clone());
        if self.tail.len() == self.cfg.fold.tail {
            self.tail.pop_front();
        }
        self.tail.push_back(act);
    }

    /// segmenter.py's `_outside`.
    fn outside(&mut self, act: &Activity) {
        if act.resolution != FINE {
            return;
        }
        let since = self.last_ts.unwrap_or(act.first_ts);
        let busy = (act.last_ts - since.min(act.first_ts)) as f64 / 1e6;
        if busy > 0.0 {
            let run = self.run_mut();
            run.outside_s = Some(round3(run.outside_s.unwrap_or(0.0) + busy));
        }
    }

    fn event(&mut self, ev: &Ev, table: &Table, item: &Item) -> R {
        let kind = ev.kind;
        match start_stage(kind) {
            Some(stage)
                if !ev.flag("serverless")? && (kind != Kind::TotalVram || self.new_process()) =>
            {
                self.start_marker(ev, stage)?
            }
            _ => self.events_since_marker += 1,
        }
        if self.run.is_none() {
            self.ensure_run(ev.line);
        }
        let run = self.run_mut();
        if ev.end_line > run.last_line {
            run.last_line = ev.end_line;
        }
        if prompt_work(kind) && self.before_log.is_some() && self.open.is_none() {
            self.open_before_log(ev.line);
        }
        if notable(kind) {
            self.keep(item);
        }
        if !incident_kind(kind) && self.incident.is_some() {
            self.incident = None;
            self.incident_traced = false;
        }
        if self.ignore_traceback
            && kind != Kind::Traceback
            && ev.text("error")?.as_deref() != Some("ignored")
        {
            self.ignore_traceback = false;
        }
        if self.worker_traceback
            && kind != Kind::Traceback
            && ev.text("error")?.as_deref() != Some("prompt_worker")
        {
            self.worker_traceback = false;
        }
        if self.load_work(kind) {
            if let Some(open) = &mut self.open {
                open.loaded = true;
            }
        }
        if !self.install_bars.is_empty()
            && self.install.is_none()
            && !matches!(
                kind,
                Kind::ProgressBar | Kind::NodeInstall | Kind::PackageInstalled
            )
        {
            self.install_bars.clear();
        }
        self.handle(ev, table)?;
        self.events += 1;
        if self.events.is_multiple_of(self.cfg.release_every) {
            self.release();
        }
        Ok(())
    }

    /// LOAD_KINDS: a kind with a load-phase row.
    fn load_work(&self, kind: Kind) -> bool {
        self.load_kinds.contains(&kind)
    }

    /// Keep a notable event (its position among all kept), or count it dropped.
    fn keep(&mut self, item: &Item) -> Option<usize> {
        if self.notable_kept < MAX_NOTABLE {
            self.notable.push(item.clone());
            self.notable_kept += 1;
            Some(self.notable_kept - 1)
        } else {
            self.notable_dropped += 1;
            None
        }
    }

    fn handle(&mut self, ev: &Ev, table: &Table) -> R {
        use Kind::*;
        match ev.kind {
            CudaVersion => self.version(ev, |r| &mut r.cuda_version),
            WorkerStarting => {
                if ev.flag("serverless")? {
                    self.run_mut().serverless = true;
                }
                Ok(())
            }
            TotalVram => self.on_total_vram(ev),
            VramState => self.on_vram_state(ev),
            Device => self.on_device(ev),
            PytorchVersion => self.version(ev, |r| &mut r.pytorch_version),
            GpuUnsupported => {
                let gpu = ev.text("gpu")?;
                let run = self.run_mut();
                if run.gpu.is_none() {
                    if let Some(gpu) = gpu {
                        run.gpu = Some(gpu.to_string());
                    }
                }
                Ok(())
            }
            ComfyuiVersion => {
                // segmenter.py's `_on_comfyui_version`: Manager's git describe past ComfyUI's own release wins
                let version = ev.must("version")?;
                let run = self.run_mut();
                let replace = match (&run.comfyui_version, version.text()) {
                    (Some(old), Some(new)) if old.truthy() => {
                        describe_release(new).is_some_and(|r| old.text() == Some(r))
                    }
                    _ => true,
                };
                if replace {
                    run.comfyui_version = Some(version);
                }
                Ok(())
            }
            ImportHeader => {
                self.prestartup = ev.text("block")?.as_deref() == Some("Prestartup");
                Ok(())
            }
            ImportTime => self.on_import_time(ev),
            ServerReady => {
                self.before_log = None; // start-up ends here
                self.all_queued_before = false;
                self.queued_next = false;
                let run = self.run_mut();
                if run.ready_line.is_none() {
                    run.ready_line = Some(ev.line);
                }
                if run.ready_at.is_none() {
                    run.ready_at = match (ev.ts, run.ended_at) {
                        (Some(ts), Some(ended)) if ended > ts => Some(ended),
                        (ts, _) => ts,
                    };
                }
                Ok(())
            }
            // segmenter.py's `_on_extra_search_path`
            ExtraSearchPath => {
                if self.process_start.is_none() && self.open.is_none() && self.queue.is_empty() {
                    self.process_start = Some(ev.line);
                }
                Ok(())
            }
            ServerStopped => {
                self.run_mut().stopped = true;
                Ok(())
            }
            GpuMemory => {
                let mut memory = Vec::new();
                for key in ["used_mib", "free_mib", "total_mib"] {
                    memory.push((key, ev.must(key)?));
                }
                let run = self.run_mut();
                if run.gpu_memory.is_none() {
                    run.gpu_memory = Some(memory);
                }
                Ok(())
            }
            PromptReceived => self.on_prompt_received(ev),
            PromptExecuted => self.on_prompt_executed(ev),
            OutputInvalid => self.on_output_invalid(ev),
            PromptInvalid => self.on_prompt_invalid(ev),
            Exception => {
                self.failed_before_log(ev.line, true);
                let prompt = self.executing();
                if let Some(p) = prompt {
                    self.prompts.at(p).status = "error";
                }
                let kind = if ev.flag("oom")? { "oom" } else { "exception" };
                let message = match ev.text("message")? {
                    Some(m) if !m.is_empty() => m.to_string(),
                    _ => "Exception during processing".to_string(),
                };
                self.incident = Some(self.error(prompt, kind, &message, ev, Some(MAX_ERROR_CHARS)));
                self.incident_traced = false;
                Ok(())
            }
            HiddenBar => {
                if let Some(open) = &mut self.open {
                    open.hidden_bar = true;
                }
                Ok(())
            }
            Interrupted => {
                let prompt = self.executing();
                if let Some(p) = prompt {
                    self.prompts.at(p).status = "interrupted";
                }
                self.error(
                    prompt,
                    "interrupted",
                    "Processing interrupted",
                    ev,
                    Some(MAX_ERROR_CHARS),
                );
                Ok(())
            }
            LoadRequested => self.on_load_requested(ev),
            LoadedCompletely => self.add_load(ev, "complete", None),
            LoadedPartially => self.add_load(ev, "partial", None),
            LowvramMode => self.add_load(ev, "lowvram", None),
            LowvramModules => {
                let count = match ev.must("count")? {
                    Value::Int(n) if n >= 0 => n as u64,
                    other => return Err(NotPorted(format!("lowvram count {other:?}"))),
                };
                self.summary.lowvram_module_loads += count;
                self.summary.lowvram = true;
                if let Some(p) = self.executing() {
                    self.prompts.at(p).lowvram_module_loads += count;
                }
                Ok(())
            }
            GgufQtypes => {
                let Some(p) = self.executing() else {
                    return Ok(());
                };
                let Some(text) = ev.group_text("qtypes") else {
                    return Err(NotPorted("gguf_qtypes without its qtypes".into()));
                };
                let qtypes = gguf_qtypes(&text)?;
                let prompt = self.prompts.at(p);
                let merged = prompt.gguf_qtypes.get_or_insert_with(Vec::new);
                for (name, count) in qtypes {
                    match merged.iter_mut().find(|(n, _)| *n == name) {
                        Some(slot) => slot.1 = slot.1.max(count),
                        None => merged.push((name, count.max(0))),
                    }
                }
                Ok(())
            }
            VideoSampling => {
                if let Some(p) = self.executing() {
                    let mut video = Vec::new();
                    for key in ["frames", "width", "height", "steps"] {
                        video.push((key, ev.must(key)?));
                    }
                    self.prompts.at(p).video = Some(video);
                    self.sampler_announced = Some(p);
                }
                Ok(())
            }
            ProgressBar => self.on_progress_bar(ev),
            WsTimeout => {
                self.summary.ws_timeouts += 1;
                if let Some(p) = self.executing() {
                    self.prompts.at(p).ws_timeouts += 1;
                }
                Ok(())
            }
            Oom => self.on_oom(ev),
            Traceback => self.on_traceback(ev),
            LoadBatch => {
                let count = match ev.must("count")? {
                    Value::Int(n) => n,
                    other => return Err(NotPorted(format!("load_batch count {other:?}"))),
                };
                self.batch = Some(((ev.line, ev.ts), count));
                Ok(())
            }
            DynamicLoad => self.on_dynamic_load(ev),
            RunSetting => self.on_run_setting(ev),
            ManagerStartup => self.on_manager_startup(ev),
            LoraKeyMissed => self.on_lora_key_missed(ev),
            VideoMemory => self.on_video_memory(ev),
            WorkerApi => {
                let state = ev.must("state")?;
                let state = state.text().unwrap_or_default().to_string();
                if state == "reachable" {
                    let run = self.run_mut();
                    if run.api_ready_at.is_none() {
                        run.api_ready_at = ev.ts;
                    }
                } else if state == "exited" || state == "gave_up" {
                    let text = ev.text("text")?.map_or(state, |t| t.to_string());
                    let prompt = self.executing();
                    self.error(prompt, "worker", &text, ev, Some(MAX_ERROR_CHARS));
                }
                Ok(())
            }
            JobQueued => {
                // ComfyUI logs got prompt before it answers the worker: the latest received
                let id = ev.must("prompt_id")?;
                if !self.queue.is_empty() {
                    self.queue.name_last(id);
                } else if let Some(p) = self.executing() {
                    self.prompts.at(p).prompt_id.get_or_insert(id);
                }
                Ok(())
            }
            WsLost => {
                let text = ev
                    .text("text")?
                    .map_or("websocket lost".to_string(), |t| t.to_string());
                let prompt = self.executing();
                self.error(prompt, "ws_lost", &text, ev, Some(MAX_ERROR_CHARS));
                Ok(())
            }
            Crash => self.on_crash(ev, table),
            ErrorLine => self.on_error_line(ev, table),
            // a package manager's output: extends an install begun
            NodeInstall | PackageInstalled => self.on_node_install(ev),
            CudaBanner | ServerStarting | LoadDetail | WsConnected | WsReconnect | JobStarted
            | JobFinished | CacheEviction | MemoryLeak | JobQueue | NetworkVolume | AllocConf
            | OomMemory | ExtensionMismatch | TorchNotInstalled | NumpyMismatch | NodeModel
            | NodeCheckpoint | PrestartupFailed | ValidationDetail | UnhandledOutput
            | HandlerOutput | VideoSeqLen | BuiltinImportFailed | InterruptRequest => Ok(()),
            // the scanner makes none of these events (scan.rs: another thread's line)
            Background => Ok(()),
            Unknown => Err(NotPorted("an event kind this port does not know".into())),
        }
    }

    /// The input ended: close the run and hand over every record.
    pub fn finish(&mut self) -> R {
        self.end_run()?;
        self.runs.flush();
        self.prompts.flush();
        self.bars.flush();
        self.loads.flush();
        self.errors.flush();
        Ok(())
    }

    // ---- runs ---------------------------------------------------------------------------------

    fn ensure_run(&mut self, line: u64) -> u64 {
        if self.run.is_none() {
            let run = Run {
                index: self.run_index,
                source: self.cfg.source,
                first_line: line,
                last_line: line,
                ..Run::default()
            };
            self.run = Some(self.run_index);
            self.run_index += 1;
            self.runs.append(run);
        }
        self.run.expect("a run")
    }

    fn start_marker(&mut self, ev: &Ev, stage: i64) -> R {
        let mut moved: Vec<Activity> = Vec::new();
        let again = stage == self.run_stage
            && (ev.kind == Kind::CudaBanner || self.events_since_marker > 0);
        let mut had_run = self.run.is_some();
        if had_run && (self.run_busy || stage < self.run_stage || again) {
            let mut cut = if ev.kind == Kind::CudaBanner {
                ev.line as i64 - 1
            } else {
                ev.line as i64
            };
            if let Some(start) = self.process_start {
                let start = start as i64;
                if start < cut
                    && self
                        .tail
                        .front()
                        .is_some_and(|a| a.first_line as i64 <= start)
                {
                    cut = start; // the new process printed lines before its marker: it begins at the first
                }
            }
            moved = self.take_tail_from(cut);
            self.end_run()?;
            had_run = false;
        }
        if !had_run {
            self.ensure_run(moved.first().map_or(ev.line, |a| a.first_line));
            // a start-up whose clock begins well before the run before it ended is another log
            // joined out of order, not that process starting again
            let begins = moved.first().map_or(ev.ts, |a| Some(a.first_ts));
            let went_back = matches!((begins, self.last_run_end),
                (Some(b), Some(e)) if b < e.saturating_sub(CLOCK_RESET_US));
            let restart = self.run_index - self.cfg.first_run_index > 1 && !went_back;
            self.run_mut().restart = restart;
            if restart {
                self.summary.restarts += 1;
            }
        }
        self.run_stage = self.run_stage.max(stage);
        self.events_since_marker = 0;
        self.process_start = None;
        self.before_log = None; // the log shows a start-up: work from here on is no earlier prompt's
        self.all_queued_before = false;
        self.queued_next = false;
        for act in moved {
            self.activity(act);
        }
        let run = self.run_mut();
        if run.started_at.is_none() && ev.ts.is_some() {
            run.started_at = ev.ts;
            self.started_line = Some(ev.line);
        }
        if ev.kind == Kind::ServerStarting && self.server_starting_line.is_none() {
            self.server_starting_line = Some(ev.line);
        }
        Ok(())
    }

    fn take_tail_from(&mut self, line: i64) -> Vec<Activity> {
        let moved: Vec<Activity> = self
            .tail
            .iter()
            .filter(|a| a.first_line as i64 >= line)
            .cloned()
            .collect();
        if moved.is_empty() {
            return moved;
        }
        let keep: VecDeque<Activity> = self
            .tail
            .iter()
            .filter(|a| (a.first_line as i64) < line)
            .cloned()
            .collect();
        self.last_activity = keep.back().cloned();
        if let Some(open) = &mut self.open {
            while open
                .activities
                .last()
                .is_some_and(|a| a.first_line as i64 >= line)
            {
                open.activities.pop();
            }
        }
        if self.run.is_some() {
            let first_line = self.run_mut().first_line;
            let latest = keep
                .iter()
                .filter(|a| a.first_line >= first_line)
                .map(|a| a.last_ts)
                .max();
            let run = self.run_mut();
            // the latest of its own, never before it started (a clock may go back: CLOCK_RESET_US)
            run.ended_at = latest.max(run.started_at);
            run.last_line = (line - 1).max(run.first_line as i64) as u64;
        }
        self.tail = keep;
        moved
    }

    fn end_run(&mut self) -> R {
        let Some(index) = self.run else {
            return Ok(());
        };
        let tail = std::mem::take(&mut self.import_tail);
        self.runs.at(index).import_times.extend(tail);
        self.end_batch()?;
        if let Some(open) = &self.open {
            let first_ts = open.activities.first().map(|a| a.first_ts);
            let prompt = self.prompts.at(open.prompt);
            if !prompt.received && prompt.started_at.is_none() && first_ts.is_some() {
                prompt.started_at = first_ts; // began before the log: time what the log shows
            }
            // the log ends in its last bar, drawn on after the last stamp: the run lasted until its end
            let last_line = open.activities.last().map(|a| a.last_line);
            if let (Some((pos, bar_ev)), Some(last_line)) = (open.bars.last(), last_line) {
                let ended = self.runs.at_ref(index).ended_at;
                if let Some(ended) = ended {
                    let unstamped = bar_ev.ts.is_none() && bar_ev.end_ts.is_none();
                    if unstamped && self.clock_is_fine() && last_line <= bar_ev.end_line {
                        let (_, bar_end) = bar_span(self.bars.at_ref(*pos), bar_ev, None)?;
                        if let Some(bar_end) = bar_end.filter(|&e| e > ended) {
                            self.runs.at(index).ended_at = Some(bar_end);
                        }
                    }
                }
            }
            let end = self.runs.at(index).ended_at;
            self.close_prompt(end, None, None)?;
        }
        // every prompt is final now: what is left of the queue goes to the spill as it is (`unfinished`),
        // which makes its records a block at a time (1,000,000 queued prompts)
        if !self.queue.is_empty() {
            self.prompts.flush();
            let left = std::mem::replace(&mut self.queue, PromptQueue::new(self.cfg.source));
            let count = left.records();
            self.prompts
                .push_out(PromptsPart::Left(Box::new(left)), count);
        }
        let stated = self.stated_start.take();
        let (server_line, started_line) =
            (self.server_starting_line.take(), self.started_line.take());
        let (run_prompt_s, run_estimated) = (self.run_prompt_s, self.run_estimated);
        let run = self.runs.at(index);
        if run.started_at.is_none() && run.ended_at.is_none() {
            run.started_at = stated;
        }
        if let (Some(started), Some(ended)) = (run.started_at, run.ended_at) {
            // its clock went back (CLOCK_RESET_US): it lasted no less than nothing
            let ended = ended.max(started);
            run.ended_at = Some(ended);
            let span = secs(ended - started)?;
            run.span_s = Some(span);
            if run.resolution != FINE {
                // minute stamps cannot time a start-up or idle gaps
            } else if let Some(ready) = run.ready_at {
                // a run whose first line is its `Starting server` (or the ready line), or one of its
                // import times, holds only the start-up's end: its length is not known (None, never
                // the 0.0 between them; segmenter.py's `_startup_end_line`)
                let mut before = server_line.or(run.ready_line).unwrap_or(0);
                if let Some(&(_, _, _, first_import)) = run.import_times.first() {
                    before = if before == 0 {
                        first_import
                    } else {
                        before.min(first_import)
                    };
                }
                if started_line.unwrap_or(0) < before {
                    run.startup_s = Some(secs(ready - started)?);
                }
            }
            if run.resolution == FINE && !run_estimated {
                let busy = run.startup_s.unwrap_or(0.0)
                    + run_prompt_s
                    + run.outside_s.unwrap_or(0.0)
                    + run.install_s.unwrap_or(0.0);
                run.idle_s = Some(round3(py_max(0.0, span - busy)));
            }
        }
        self.run = None;
        self.last_run_end = self.runs.at_ref(index).ended_at;
        self.run_prompt_s = 0.0;
        self.run_estimated = false;
        self.run_library_loads = false;
        self.run_stage = -1;
        self.events_since_marker = 0;
        self.prestartup = false;
        self.run_busy = false;
        self.process_start = None;
        self.before_log = None;
        self.all_queued_before = false;
        self.queued_next = false;
        self.close_install();
        self.release();
        Ok(())
    }

    /// segmenter.py's `_release`.
    fn release(&mut self) {
        let mut live: Vec<u64> = Vec::new();
        if let Some(open) = &self.open {
            live.push(open.prompt);
        }
        let mut lines: Vec<u64> = live.iter().map(|&p| self.prompts.at_ref(p).line).collect();
        if let (Some(head), Some(line)) = (self.queue.head_index(), self.queue.head_line()) {
            live.push(head);
            lines.push(line);
        }
        let first_index = live.iter().copied().min().unwrap_or(self.prompt_index);
        // a bar changes only while its prompt holds it to paint, or when it moves to a queued prompt
        let mut bar_lines: Vec<u64> = Vec::new();
        bar_lines.extend(self.queue.head_line());
        if let Some(open) = &self.open {
            bar_lines.extend(
                open.bars
                    .iter()
                    .map(|(b, _)| self.bars.at_ref(*b).line)
                    .min(),
            );
            bar_lines.extend(open.folded.as_ref().map(|f| f.first_line));
        }
        if let Some(incident) = self.incident {
            bar_lines.push(self.errors.at_ref(incident).line);
        }
        let first_line = bar_lines.iter().copied().chain(lines).min();
        self.prompts.flush_while(|p| p.index < first_index);
        match bar_lines.iter().copied().min() {
            None => self.bars.flush(),
            Some(limit) => self.bars.flush_while(|b| b.line < limit),
        }
        match first_line {
            None => self.errors.flush(),
            Some(limit) => self.errors.flush_while(|e| e.line < limit),
        }
        // older errors of the running prompt are final but for the incident, those a queued prompt that ran
        // takes (reassign) and the last RECENT_ERRORS (find_error, reassign's status): segmenter.py's _release
        let mut error_lines: Vec<u64> = Vec::new();
        error_lines.extend(self.queue.head_line());
        if let Some(incident) = self.incident {
            error_lines.push(self.errors.at_ref(incident).line);
        }
        let error_limit = error_lines.into_iter().min();
        self.errors.flush_while_keeping(RECENT_ERRORS, |e| {
            error_limit.is_none_or(|limit| e.line < limit)
        });
        // a load changes only when it moves to a queued prompt that ran (reassign): final up to the queue
        match self.queue.head_line() {
            Some(queued) => {
                self.loads.flush_while(|l| l.line < queued);
            }
            None => self.loads.flush(),
        }
        let current = self.run;
        self.runs.flush_while(|r| Some(r.index) != current);
    }

    // ---- start-up facts -----------------------------------------------------------------------

    fn version(&mut self, ev: &Ev, field: fn(&mut Run) -> &mut Option<Value>) -> R {
        let version = ev.must("version")?;
        let slot = field(self.run_mut());
        if !slot.as_ref().is_some_and(Value::truthy) {
            *slot = Some(version);
        }
        Ok(())
    }

    fn on_total_vram(&mut self, ev: &Ev) -> R {
        if self.run_mut().total_vram_mb.is_none() {
            let (vram, ram) = (ev.must("vram_mb")?, ev.must("ram_mb")?);
            let run = self.run_mut();
            run.total_vram_mb = Some(vram);
            run.total_ram_mb = Some(ram);
        }
        Ok(())
    }

    fn on_vram_state(&mut self, ev: &Ev) -> R {
        let state = ev.must("state")?;
        if ev.flag("automatic")? {
            return Ok(());
        }
        let run = self.run_mut();
        if run.vram_state.is_none() {
            run.vram_state = Some(state.clone());
        }
        if !run.vram_states.contains(&state) {
            run.vram_states.push(state);
        }
        Ok(())
    }

    fn on_device(&mut self, ev: &Ev) -> R {
        if self.run_mut().device.is_none() {
            let Some(device) = ev.text("device")? else {
                return Err(NotPorted("a device event without its device".into()));
            };
            let run = self.run_mut();
            run.gpu = Some(gpu_name(&device));
            run.device = Some(device);
        }
        Ok(())
    }

    fn on_import_time(&mut self, ev: &Ev) -> R {
        let failed = ev.flag("failed")?;
        let Some(path) = ev.text("path")? else {
            return Err(NotPorted("an import time without its path".into()));
        };
        let entry: ImportTime = (ev.must("seconds")?, Arc::clone(&path), failed, ev.line);
        if self.prestartup {
            self.run_mut().prestartup_times.push(entry);
            if failed {
                let message = format!("custom node's prestartup script failed: {path}");
                self.error(None, "import_failed", &message, ev, Some(MAX_ERROR_CHARS));
            }
            return Ok(());
        }
        let head = self.run_mut().import_times.len() < MAX_RUN_IMPORT_TIMES / 2;
        if head {
            self.run_mut().import_times.push(entry);
        } else {
            self.import_tail.push_back(entry);
            if self.import_tail.len() > MAX_RUN_IMPORT_TIMES - MAX_RUN_IMPORT_TIMES / 2 {
                // a hostile list: counted, its totals kept right (model.py)
                let (seconds, _, dropped_failed, _) = self.import_tail.pop_front().expect("a row");
                let Some(seconds) = seconds.number() else {
                    return Err(NotPorted(
                        "an import time whose seconds are no number".into(),
                    ));
                };
                let run = self.run_mut();
                run.imports_not_kept += 1;
                run.import_failures_not_kept += u64::from(dropped_failed);
                run.import_s_not_kept += seconds;
            }
        }
        if failed && !self.import_records.contains(&path) {
            self.error(
                None,
                "import_failed",
                &import_message(&path, None),
                ev,
                Some(MAX_ERROR_CHARS),
            );
            self.import_records.insert(path);
        }
        Ok(())
    }

    fn on_error_line(&mut self, ev: &Ev, table: &Table) -> R {
        let error = ev.text("error")?;
        let error = error.as_deref();
        if error == Some("ignored") {
            self.ignore_traceback = true;
            return Ok(());
        }
        if error == Some("prompt_worker") {
            self.worker_traceback = true; // segmenter.py's `_on_error_line`
            return Ok(());
        }
        if let Some(default) = error.and_then(error_line_record) {
            let message = match ev.text("message")? {
                Some(m) if !m.is_empty() => m.to_string(),
                _ => default.to_string(),
            };
            let kind: &'static str = if table.is_oom(&message) {
                "oom"
            } else {
                static_error_kind(error.unwrap_or_default())
            };
            let prompt = self.executing();
            self.error(prompt, kind, &message, ev, Some(MAX_ERROR_CHARS));
            return Ok(());
        }
        if error != Some("import_failed") {
            return Ok(());
        }
        let Some(path) = ev.text("path")? else {
            return Err(NotPorted("import_failed without its path".into()));
        };
        let reason = ev.text("message")?.unwrap_or_else(|| Arc::from(""));
        let message = import_message(&path, Some(&reason));
        if let Some(pos) = self.incident {
            let incident = self.errors.at(pos);
            if incident.prompt.is_none() && matches!(incident.kind, "exception" | "traceback") {
                incident.kind = "import_failed";
                incident.message = message;
                incident.end_line = Some(ev.line);
                self.import_records.insert(path);
                return Ok(());
            }
        }
        self.error(None, "import_failed", &message, ev, None);
        self.import_records.insert(path);
        Ok(())
    }

    // ---- prompts ------------------------------------------------------------------------------

    fn on_prompt_received(&mut self, ev: &Ev) -> R {
        self.run_busy = true;
        self.process_start = None; // work since: no new process began there
        self.before_log = None;
        self.all_queued_before = false;
        self.queued_next = false;
        self.summary.got_prompt += 1;
        let run = self.run.expect("a run");
        // its record is made when it leaves the queue (queue.rs)
        self.queue.append(run, self.prompt_index, ev.line, ev.ts);
        self.prompt_index += 1;
        if self.open.is_none() {
            self.start_next(ev.ts);
        } else {
            self.join_queued_line(ev.line);
        }
        Ok(())
    }

    /// segmenter.py's `_join_queued_line`: a `got prompt` line while a prompt runs: the activity of the
    /// one two lines before it joins the activity standing for the `got prompt` lines right before that,
    /// so that a prompt running under a queue of 1,000,000 holds four activities, not one a line (48
    /// bytes each). Painting reads them as it read them: all `other`, one after the other (segmenter.py
    /// says why each condition).
    fn join_queued_line(&mut self, line: u64) {
        let bar_end_line = self.bar_end_line;
        let Some(open) = &mut self.open else {
            return;
        };
        let prev = open.queued_line.take();
        let before = open.queued_before.take();
        let acts = &mut open.activities;
        let n = acts.len();
        let alone = |i: usize, at: Option<u64>| n >= i && Some(acts[n - i].first_line) == at;
        if !acts
            .last()
            .is_some_and(|a| a.first_line == line && a.last_line == line && a.phase == Phase::Other)
        {
            open.queued_from = None; // no activity of its own (no stamp, or lines before it in one)
            return;
        }
        open.queued_line = Some(line);
        if prev != line.checked_sub(1) || !alone(2, prev) {
            open.queued_from = None; // the line before is no `got prompt` line alone in its activity
            return;
        }
        open.queued_before = prev;
        if before != line.checked_sub(2) || !alone(3, before) {
            open.queued_from = None;
            return;
        }
        let held = &acts[n - 3];
        let joins = n > 4 && {
            let run = &acts[n - 4];
            Some(run.first_line) == open.queued_from
                && run.last_line + 1 == held.first_line
                && run.resolution == held.resolution
                && run.first_line > bar_end_line
        };
        if joins {
            let (last_ts, last_line) = (held.last_ts, held.last_line);
            let run = &mut acts[n - 4];
            run.last_ts = run.last_ts.max(last_ts);
            run.last_line = last_line;
            acts.remove(n - 3);
        } else {
            open.queued_from = Some(held.first_line);
        }
    }

    fn new_open(&self, prompt: u64) -> Open {
        Open {
            prompt,
            activities: self.last_activity.iter().cloned().collect(),
            bars: Vec::new(),
            settled: SettledBars::default(),
            loaded: false,
            hidden_bar: false,
            folded: None,
            fold_at: 0,
            queued_from: None,
            queued_line: None,
            queued_before: None,
        }
    }

    fn start_next(&mut self, after: Option<Ts>) {
        let Some(index) = self.pop_queued() else {
            self.open = None;
            return;
        };
        let unloaded = std::mem::take(&mut self.unloaded_by_oom);
        let prompt = self.prompts.at(index);
        let mut start = prompt.got_at;
        if let Some(after) = after {
            if start.is_none_or(|s| after > s) {
                start = Some(after);
            }
        }
        prompt.started_at = start;
        prompt.started = true;
        prompt.cold = unloaded;
        self.close_install();
        self.open = Some(self.new_open(index));
    }

    /// segmenter.py's `_open_before_log`: the prompt the log starts inside, from its first line of work.
    fn open_before_log(&mut self, line: u64) {
        let run = self.run.expect("a run");
        let held = self.before_log.take().expect("held activities");
        let mut prompt = Prompt::new(self.prompt_index, run, None, line, self.cfg.source);
        prompt.received = false;
        prompt.started = true;
        prompt.began_in_log = std::mem::take(&mut self.queued_next);
        let index = self.prompt_index;
        self.prompt_index += 1;
        self.prompts.append(prompt);
        self.open = Some(Open {
            prompt: index,
            activities: held.into(),
            bars: Vec::new(),
            settled: SettledBars::default(),
            loaded: false,
            hidden_bar: false,
            folded: None,
            fold_at: 0,
            queued_from: None,
            queued_line: None,
            queued_before: None,
        });
    }

    /// segmenter.py's `_failed_before_log`: a line execution.py prints only for a prompt it runs, before
    /// any start-up or prompt line, opens the prompt the log starts inside, failed, with its incident.
    fn failed_before_log(&mut self, line: u64, adopt: bool) {
        if self.before_log.is_none() || self.open.is_some() {
            return;
        }
        self.open_before_log(line);
        let p = self.executing().expect("the prompt just opened");
        self.prompts.at(p).status = "error";
        if let Some(pos) = self.incident.filter(|_| adopt) {
            let incident = self.errors.at(pos);
            if incident.prompt.is_none() {
                incident.prompt = Some(p);
                let first = incident.line;
                let prompt = self.prompts.at(p);
                prompt.line = prompt.line.min(first);
            }
        }
    }

    /// The queue's oldest prompt (its record, and any rejected before it, to the table): its index.
    fn pop_queued(&mut self) -> Option<u64> {
        let (index, records) = self.queue.pop_front()?;
        for record in records {
            self.prompts.append(record);
        }
        Some(index)
    }

    /// The latest received prompt (held whole if queued: received_mut changes it).
    fn latest_received(&mut self) -> Option<u64> {
        if let Some(last) = self.queue.last() {
            return Some(last.index);
        }
        self.open.as_ref().map(|o| o.prompt)
    }

    /// A prompt latest_received named: queued (held whole), or in the table's pending end.
    fn received_mut(&mut self, p: u64) -> &mut Prompt {
        if self.queue.head_index().is_some_and(|head| p >= head) {
            self.queue.last().expect("the latest received")
        } else {
            self.prompts.at(p)
        }
    }

    fn executing(&self) -> Option<u64> {
        self.open.as_ref().map(|o| o.prompt)
    }

    fn on_output_invalid(&mut self, ev: &Ev) -> R {
        let Some(p) = self.latest_received() else {
            return Ok(());
        };
        let output = ev.text("output")?;
        let prompt = self.received_mut(p);
        prompt.invalid_outputs += 1;
        let count = prompt.invalid_outputs;
        if count == 1 {
            let output = output.as_deref().unwrap_or("None");
            let message = format!("output {output} failed validation");
            self.error(Some(p), "validation", &message, ev, Some(MAX_ERROR_CHARS));
        } else if let Some(pos) = self.find_error(p, "validation") {
            self.errors.at(pos).message = format!("{count} outputs failed validation");
        }
        Ok(())
    }

    fn on_prompt_invalid(&mut self, ev: &Ev) -> R {
        let prompt = self.latest_received();
        let detail = ev.text("detail")?.unwrap_or_else(|| Arc::from(""));
        let message = match dict_message(&detail) {
            Some(m) if !m.is_empty() => m.to_string(),
            _ => pytext::head_chars(&detail, 200).to_string(),
        };
        let Some(p) = prompt else {
            self.error(None, "validation", &message, ev, Some(MAX_ERROR_CHARS));
            return Ok(());
        };
        let record = self.find_error(p, "validation");
        let prompt = self.received_mut(p);
        prompt.status = "invalid";
        prompt.last_line = ev.line;
        let failed = prompt.invalid_outputs;
        match record {
            Some(pos) => {
                self.errors.at(pos).message = if failed > 0 {
                    format!("{message} ({failed} outputs failed)")
                } else {
                    message
                };
            }
            None => {
                self.error(Some(p), "validation", &message, ev, Some(MAX_ERROR_CHARS));
            }
        }
        if self.queue.head_index().is_some_and(|head| p >= head) {
            // the latest received: the back of the queue
            for record in self.queue.remove_last() {
                self.prompts.append(record);
            }
        } else if self.executing() == Some(p) {
            self.open = None;
            self.start_next(ev.ts);
        }
        Ok(())
    }

    fn on_traceback(&mut self, ev: &Ev) -> R {
        if self.ignore_traceback {
            self.ignore_traceback = false;
            return Ok(());
        }
        let worker = std::mem::take(&mut self.worker_traceback);
        let exc_type = ev.text("exception_type")?;
        let failure = !matches!(exc_type.as_deref(), None | Some("KeyboardInterrupt"));
        if failure && (self.incident.is_none() || self.incident_traced) {
            let first_file = ev.text("first_file")?;
            let file = first_file.as_deref().unwrap_or("").replace('\\', "/");
            if file.ends_with("/execution.py") {
                // a failure that begins in ComfyUI's prompt executor (a traceback pasted alone): a prompt's
                self.failed_before_log(ev.line, false);
            }
        }
        // segmenter.py: the queue thread's death is the prompt's only when its traceback ran in the executor
        let prompt = if !worker || ran_in_executor(ev)? {
            self.executing()
        } else {
            None
        };
        let message = ev.text("message")?.unwrap_or_else(|| Arc::from(""));
        let text = match &exc_type {
            Some(t) if !t.is_empty() && !message.is_empty() => format!("{t}: {message}"),
            Some(t) if !t.is_empty() => t.to_string(),
            _ => "traceback".to_string(),
        };
        let oom = ev.flag("oom")?;
        if let (Some(pos), false) = (self.incident, self.incident_traced) {
            self.incident_traced = true;
            let incident = self.errors.at(pos);
            incident.end_line = Some(ev.end_line);
            if oom {
                incident.kind = "oom";
            }
            if incident.message.is_empty() || incident.message == "Exception during processing" {
                incident.message = text;
            }
            return Ok(());
        }
        let (kind, text) = match exc_type.as_deref() {
            None => (
                "traceback",
                "traceback with no exception line after it".to_string(),
            ),
            Some("KeyboardInterrupt") => ("interrupted", text),
            Some(_) => (if oom { "oom" } else { "exception" }, text),
        };
        if let Some(p) = prompt {
            if matches!(kind, "oom" | "exception") {
                self.prompts.at(p).status = "error";
            }
        }
        self.incident = Some(self.error(prompt, kind, &text, ev, Some(MAX_ERROR_CHARS)));
        self.incident_traced = true;
        Ok(())
    }

    fn on_crash(&mut self, ev: &Ev, table: &Table) -> R {
        let prompt = self.executing();
        let message = ev
            .text("message")?
            .map_or("aborted".to_string(), |m| m.to_string());
        if let Some(pos) = self.incident {
            let incident = self.errors.at(pos);
            incident.end_line = Some(ev.end_line);
            if incident.kind != "oom" {
                incident.kind = if table.is_oom(&message) {
                    "oom"
                } else {
                    "crash"
                };
            }
            return Ok(());
        }
        if let Some(p) = prompt {
            self.prompts.at(p).status = "error";
        }
        let kind = if table.is_oom(&message) {
            "oom"
        } else {
            "crash"
        };
        self.incident = Some(self.error(prompt, kind, &message, ev, Some(MAX_ERROR_CHARS)));
        self.incident_traced = false;
        Ok(())
    }

    fn on_oom(&mut self, ev: &Ev) -> R {
        let text = ev.text("text")?;
        if text
            .as_deref()
            .unwrap_or("")
            .contains("unloading all loaded models")
        {
            self.unloaded_by_oom = true;
            self.failed_before_log(ev.line, true);
        }
        let prompt = self.executing();
        if ev.flag("recovered")? {
            let message = text
                .as_deref()
                .unwrap_or("ran out of memory, retried tiled")
                .to_string();
            self.error(prompt, "oom_recovered", &message, ev, Some(MAX_ERROR_CHARS));
            return Ok(());
        }
        if let Some(pos) = self.incident {
            let incident = self.errors.at(pos);
            incident.kind = "oom";
            incident.end_line = Some(ev.end_line);
            return Ok(());
        }
        if let Some(p) = prompt {
            self.prompts.at(p).status = "error";
        }
        let message = pytext::strip(text.as_deref().unwrap_or("out of memory")).to_string();
        self.incident = Some(self.error(prompt, "oom", &message, ev, Some(MAX_ERROR_CHARS)));
        self.incident_traced = false;
        Ok(())
    }

    fn on_prompt_executed(&mut self, ev: &Ev) -> R {
        self.summary.executed += 1;
        let held = self.before_log.take();
        let seconds = match ev.get("seconds")? {
            Some(v) => Some(v),
            None => ev.get("hms")?,
        };
        let seconds = match seconds {
            None => None,
            Some(Value::Float(f)) => Some(f),
            Some(other) => return Err(NotPorted(format!("executed seconds {other:?}"))),
        };
        if self.open.is_none() {
            let run = self.run.expect("a run");
            let mut prompt = Prompt::new(self.prompt_index, run, None, ev.line, self.cfg.source);
            prompt.received = false;
            prompt.started = true;
            let index = self.prompt_index;
            self.prompt_index += 1;
            if let (Some(ts), Some(s)) = (ev.ts, seconds) {
                prompt.started_at = Some(shifted(ts, -timedelta_us(s)?)?);
            }
            let queued_next = std::mem::take(&mut self.queued_next);
            // queued behind the prompt the log starts inside: it began inside the log (segmenter.py)
            prompt.began_in_log = held.is_some() && queued_next;
            self.prompts.append(prompt);
            let mut open = self.new_open(index);
            if let Some(held) = held {
                open.activities = held.into();
            }
            self.open = Some(open);
        } else if self.before_log_open() {
            // the prompt the log starts inside (open_before_log): this line says when it began
            if let (Some(ts), Some(s)) = (ev.ts, seconds) {
                let p = self.executing().expect("an open prompt");
                self.prompts.at(p).started_at = Some(shifted(ts, -timedelta_us(s)?)?);
            }
        } else if let (Some(ts), Some(s)) = (ev.ts, seconds) {
            // minute stamps bound the times to their minute: each is then a window as wide (017)
            if let Some(resolution) = self.last_activity.as_ref().map(|a| a.resolution) {
                let window = timedelta_us(resolution)?;
                self.match_execution(shifted(ts, -timedelta_us(s)?)?, s, window)?;
            }
        }
        let p = self.executing().expect("an open prompt");
        let prompt = self.prompts.at(p);
        prompt.executed_s = seconds;
        let status = if prompt.status == "unfinished" {
            "ok"
        } else {
            prompt.status
        };
        self.close_prompt(ev.ts, Some(status), Some(ev.line))?;
        self.prev_end = ev.ts;
        self.start_next(ev.ts);
        if self.open.is_none() && self.all_queued_before {
            self.before_log = Some(VecDeque::new());
            self.queued_next = true;
        }
        Ok(())
    }

    /// The open prompt is the one the log starts inside, its start not yet known.
    fn before_log_open(&self) -> bool {
        self.open.as_ref().is_some_and(|o| {
            let prompt = self.prompts.at_ref(o.prompt);
            !prompt.received && prompt.started_at.is_none()
        })
    }

    fn clock_is_fine(&self) -> bool {
        self.last_activity
            .as_ref()
            .is_some_and(|a| a.resolution == FINE)
    }

    fn match_execution(&mut self, began: Ts, seconds: f64, window: i64) -> R {
        let head = self.executing().expect("an open prompt");
        let slack = timedelta_us(2.0 + 0.01 * seconds)?;
        match self.prompts.at_ref(head).started_at {
            None => return Ok(()),
            Some(s) if meet(s, began, window, slack) => return Ok(()),
            _ => {}
        }
        for (i, got_at) in self.queue.got_ats().into_iter().enumerate() {
            let Some(got_at) = got_at else {
                continue;
            };
            let start = match self.prev_end {
                Some(prev) if prev > got_at => prev,
                _ => got_at,
            };
            if !meet(start, began, window, slack) {
                continue;
            }
            let mut queued: Vec<u64> = (0..=i).filter_map(|_| self.pop_queued()).collect();
            let candidate = queued.pop().expect("the prompt that ran");
            for &dropped in std::iter::once(&head).chain(&queued) {
                let d = self.prompts.at(dropped);
                d.started_at = None;
                d.started = false;
                d.status = "dropped";
            }
            let c = self.prompts.at(candidate);
            c.started_at = Some(start);
            c.started = true;
            self.reassign(head, candidate);
            self.open.as_mut().expect("open").prompt = candidate;
            return Ok(());
        }
        Ok(())
    }

    fn reassign(&mut self, head: u64, ran: u64) {
        let after = self.prompts.at_ref(ran).line;
        for bar in self.bars.items.iter_mut().rev() {
            if bar.line <= after {
                break;
            }
            if bar.prompt == Some(head) {
                bar.prompt = Some(ran);
            }
        }
        for load in self.loads.items.iter_mut().rev() {
            if load.line <= after {
                break;
            }
            if load.prompt == Some(head) {
                load.prompt = Some(ran);
            }
        }
        for error in self.errors.items.iter_mut().rev() {
            if error.line <= after {
                break;
            }
            if error.prompt == Some(head) {
                error.prompt = Some(ran);
            }
        }
        let recent: Vec<&ErrorRec> = self
            .errors
            .recent_newest_first(20)
            .map(|pos| self.errors.at_ref(pos))
            .collect();
        let failed = recent
            .iter()
            .any(|e| e.prompt == Some(ran) && matches!(e.kind, "oom" | "exception"));
        let interrupted = recent
            .iter()
            .any(|e| e.prompt == Some(ran) && e.kind == "interrupted");
        if failed {
            self.prompts.at(ran).status = "error";
        } else if interrupted {
            self.prompts.at(ran).status = "interrupted";
        }
        let bars = &self.bars;
        if let Some(open) = &mut self.open {
            open.bars.retain(|(b, _)| bars.at_ref(*b).line > after);
            // settled before any queued prompt was received: the head's, all of them
            open.settled = SettledBars::default();
            if let Some(folded) = &mut open.folded {
                folded.reassigned = true; // painted with no prompt queued: the head's, all of them
            }
        }
        let h = self.prompts.at(head);
        let models = std::mem::take(&mut h.models);
        let video = h.video.take();
        let qtypes = h.gguf_qtypes.take();
        let ws = std::mem::take(&mut h.ws_timeouts);
        let lowvram = std::mem::take(&mut h.lowvram_module_loads);
        let r = self.prompts.at(ran);
        r.models = models;
        r.video = video;
        r.gguf_qtypes = qtypes;
        r.ws_timeouts = ws;
        r.lowvram_module_loads = lowvram;
    }

    // ---- loads, bars, worker ------------------------------------------------------------------

    fn on_load_requested(&mut self, ev: &Ev) -> R {
        self.run_busy = true;
        self.process_start = None; // work since: no new process began there
        if self.batch.is_some() {
            self.end_batch()?;
        }
        let Some(model) = ev.text("model")? else {
            return Err(NotPorted("load_requested without its model".into()));
        };
        self.requested.push_back((Arc::clone(&model), ev.line));
        if let Some(p) = self.executing() {
            self.add_model(p, &model);
        }
        Ok(())
    }

    /// List `model` among the prompt's models (at `p`) unless it is there; past MAX_PROMPT_MODELS the
    /// request is counted, not listed (segmenter.py's `_add_model`).
    fn add_model(&mut self, p: u64, model: &Arc<str>) {
        let (at, seen) = &mut self.prompt_models;
        let prompt = self.prompts.at(p);
        if *at != Some(p) {
            *at = Some(p);
            seen.clear();
            seen.extend(prompt.models.iter().cloned());
        }
        if seen.contains(model) {
            return;
        }
        if prompt.models.len() >= MAX_PROMPT_MODELS {
            self.summary.models_not_listed += 1;
            return;
        }
        if seen.insert(Arc::clone(model)) {
            prompt.models.push(Arc::clone(model));
        }
    }

    fn end_batch(&mut self) -> R {
        if let Some(((line, ts), count)) = self.batch.take() {
            let n = usize::try_from(count.max(0))
                .unwrap_or(0)
                .min(self.requested.len());
            for _ in 0..n {
                let model = self.requested.pop_front().map(|(model, _)| model);
                self.push_load(line, ts, "complete", model, None, None, None);
            }
        }
        self.requested.clear();
        Ok(())
    }

    fn on_dynamic_load(&mut self, ev: &Ev) -> R {
        let Some(model) = ev.text("model")? else {
            return Err(NotPorted("dynamic_load without its model".into()));
        };
        if let Some(i) = self.requested.iter().position(|(m, _)| *m == model) {
            self.requested.remove(i);
        }
        if let Some(p) = self.executing() {
            self.add_model(p, &model);
        }
        self.add_load(ev, "dynamic", Some(model))
    }

    fn loaded_model(&mut self, loaded_mb: Option<f64>, kind: &str) -> Option<Arc<str>> {
        let model = if let Some((model, _)) = self.requested.pop_front() {
            if let Some((ev, count)) = self.batch {
                self.batch = if count > 1 {
                    Some((ev, count - 1))
                } else {
                    None
                };
            }
            Some(model)
        } else if kind == "partial" {
            self.last_partial.clone()
        } else {
            loaded_mb.and_then(|mb| self.model_by_size.get(&round2_key(mb)).cloned())
        };
        if let (Some(model), Some(mb), "complete") = (&model, loaded_mb, kind) {
            self.model_by_size.insert(round2_key(mb), Arc::clone(model));
        }
        if kind == "partial" {
            self.last_partial = model.clone();
        }
        model
    }

    fn add_load(&mut self, ev: &Ev, kind: &'static str, model: Option<Arc<str>>) -> R {
        let loaded_mb = ev.get("loaded_mb")?;
        let model = match model {
            Some(m) => Some(m),
            None => {
                let mb = match &loaded_mb {
                    None => None,
                    Some(Value::Float(f)) => Some(*f),
                    Some(other) => return Err(NotPorted(format!("loaded_mb {other:?}"))),
                };
                self.loaded_model(mb, kind)
            }
        };
        let (usable, staged) = (ev.get("usable_mb")?, ev.get("staged_mb")?);
        self.push_load(ev.line, ev.ts, kind, model, usable, loaded_mb, staged);
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn push_load(
        &mut self,
        line: u64,
        ts: Option<Ts>,
        kind: &'static str,
        model: Option<Arc<str>>,
        usable_mb: Option<Value>,
        loaded_mb: Option<Value>,
        staged_mb: Option<Value>,
    ) {
        self.run_busy = true;
        self.process_start = None; // work since: no new process began there
        let prompt = self.executing();
        self.loads.append(Load {
            prompt,
            model,
            kind,
            usable_mb,
            loaded_mb,
            line,
            source: self.cfg.source,
            ts,
            staged_mb,
        });
        if matches!(kind, "partial" | "lowvram") {
            self.summary.lowvram = true;
        }
        if kind == "partial" {
            self.summary.partial_loads += 1;
        }
    }

    fn on_progress_bar(&mut self, ev: &Ev) -> R {
        self.run_busy = true;
        self.process_start = None; // work since: no new process began there

        // A request glued after the bar's last state (`…4.66s/it]Requested to load WanVAE`, raylight#48) came
        // after the bar: its `loaded` line is still to come. Requests before the bar are stale
        // (segmenter.py's `_on_progress_bar`).
        let last = if ev.end_line == 0 {
            ev.line
        } else {
            ev.end_line
        };
        let mut after = Vec::new();
        while self.requested.back().is_some_and(|(_, line)| *line >= last) {
            after.extend(self.requested.pop_back());
        }
        self.end_batch()?;
        self.requested.extend(after.into_iter().rev());
        let Body::Bar(closed) = &ev.body else {
            return Err(NotPorted("a progress_bar that is no bar".into()));
        };
        let mut prompt = self.executing();
        let announced = prompt.is_some() && self.sampler_announced == prompt;
        let kind = bar_kind(
            &self.cfg.bars,
            closed.label.as_deref(),
            &closed.unit,
            announced,
        )?;
        if prompt.is_none() && self.before_log.is_some() && kind != BarKind::Loading {
            // sampling, decoding: a prompt's work (a download may be start-up's)
            self.open_before_log(ev.line);
            prompt = self.executing();
        }
        if kind != BarKind::Loading {
            self.sampler_announced = None;
        }
        let elapsed_s = bar_seconds(closed.elapsed, closed.done, closed.final_rate, &closed.unit);
        let bar = Bar {
            prompt,
            label: closed.label.clone(),
            total: closed.total,
            done: closed.done,
            final_rate: closed.final_rate,
            rate_unit: closed.unit.clone(),
            elapsed_s,
            line: ev.line,
            end_line: ev.end_line,
            kind,
            source: self.cfg.source,
            start: None,
            end: None,
        };
        let bar_ev = BarEv {
            ts: ev.ts,
            end_ts: ev.end_ts,
            end_line: ev.end_line,
            ts_before: closed.ts_before,
            first_elapsed_s: closed.first_elapsed,
        };
        let pos = self.bars.append(bar);
        self.bar_end_line = self.bar_end_line.max(ev.end_line);
        if let Some(open) = &mut self.open {
            open.bars.push((pos, bar_ev));
            self.settle_bars();
            let open = self.open.as_ref().expect("an open prompt");
            if open.bars.len() >= self.cfg.fold.bars.max(open.fold_at) {
                self.fold_bars()?;
            }
            return Ok(());
        }
        let (start, end) = bar_span(self.bars.at_ref(pos), &bar_ev, None)?;
        let bar = self.bars.at(pos);
        bar.start = start;
        bar.end = end;
        let elapsed = bar.elapsed_s;
        if self.run_mut().ready_at.is_none() {
            return Ok(());
        }
        if let (Some((i0, i1)), Some(end)) = (self.install, end) {
            if i0 <= end && end <= i1 {
                return Ok(());
            }
        }
        let run = self.run_mut();
        run.outside_s = Some(round3(run.outside_s.unwrap_or(0.0) + elapsed));
        self.install_bars.push((start, end, elapsed));
        Ok(())
    }

    // ---- ComfyUI-Manager installs -------------------------------------------------------------

    fn on_node_install(&mut self, ev: &Ev) -> R {
        let Some(mut ts) = ev.ts else {
            return Ok(());
        };
        if self.open.is_some() || self.run_mut().ready_at.is_none() || !self.clock_is_fine() {
            return Ok(());
        }
        let install = self.install;
        let mut start = match install {
            None => {
                if ev.flag("output")? {
                    return Ok(());
                }
                ts
            }
            Some((start, end)) => {
                ts = ts.max(end);
                start
            }
        };
        let bars = std::mem::take(&mut self.install_bars);
        for (bar_start, bar_end, elapsed) in bars {
            if let (Some(b0), Some(b1)) = (bar_start, bar_end) {
                if b1 <= ts {
                    let run = self.run_mut();
                    let outside = round3(run.outside_s.unwrap_or(0.0) - elapsed);
                    run.outside_s = if outside == 0.0 { None } else { Some(outside) };
                    start = start.min(b0);
                }
            }
        }
        let added = total_seconds(ts - start)?
            - match install {
                None => 0.0,
                Some((a, b)) => total_seconds(b - a)?,
            };
        let run = self.run_mut();
        run.install_s = Some(round3(run.install_s.unwrap_or(0.0) + added));
        if install.is_none() {
            run.install_spans.push((start, ts));
        } else if let Some(last) = run.install_spans.last_mut() {
            *last = (start, ts);
        }
        self.install = Some((start, ts));
        Ok(())
    }

    fn close_install(&mut self) {
        self.install = None;
        self.install_bars.clear();
    }

    fn on_manager_startup(&mut self, ev: &Ev) -> R {
        let Some(at) = ev.text("at")? else {
            return Err(NotPorted("manager_startup without its time".into()));
        };
        match iso_naive(pytext::strip(&at)) {
            Some(at) => {
                self.stated_start = Some(at);
                Ok(())
            }
            None => Err(NotPorted(format!("startup time {at:?}"))),
        }
    }

    fn on_run_setting(&mut self, ev: &Ev) -> R {
        let Body::Message { row, groups, .. } = &ev.body else {
            return Err(NotPorted("a run setting that is no message".into()));
        };
        let mut fields: Vec<(String, Value)> = row.constants.clone();
        for spec in &row.fields {
            let Some(Some(text)) = groups.get(spec.group) else {
                continue;
            };
            let value = spec.ty.convert(text)?;
            match fields.iter_mut().find(|(n, _)| *n == spec.name) {
                Some(slot) => slot.1 = value,
                None => fields.push((spec.name.clone(), value)),
            }
        }
        let run = self.run_mut();
        for (key, value) in fields {
            if key == "pattern" || key == "text" {
                continue;
            }
            if !run.setup.iter().any(|(k, _)| *k == key) {
                run.setup.push((key, value));
            }
        }
        Ok(())
    }

    fn on_lora_key_missed(&mut self, ev: &Ev) -> R {
        let prompt = self.executing();
        let key = (self.run.expect("a run"), prompt);
        if let Some((held, at)) = self.lora_missed {
            if held == key {
                self.lora_count += 1;
                if let Some(i) = at {
                    match self.notable_counts.last_mut() {
                        Some(last) if last.0 == i => last.1 = self.lora_count,
                        _ => self.notable_counts.push((i, self.lora_count)),
                    }
                }
                return Ok(());
            }
        }
        let at = self.keep(ev.item);
        self.lora_count = 1;
        if let Some(i) = at {
            self.notable_counts.push((i, 1));
        }
        self.lora_missed = Some((key, at));
        Ok(())
    }

    fn on_video_memory(&mut self, ev: &Ev) -> R {
        let Some(p) = self.executing() else {
            return Ok(());
        };
        let (key, value) = match ev.text("device")? {
            Some(device) => (format!("blocks_{device}_mb"), ev.must("mb")?),
            None => {
                let what = ev.text("what")?;
                let key = wrapper_memory_key(what.as_deref().unwrap_or(""));
                (key.to_string(), ev.must("gb")?)
            }
        };
        let prompt = self.prompts.at(p);
        let memory = prompt.memory.get_or_insert_with(Vec::new);
        let new = value.number().unwrap_or(0.0);
        match memory.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => {
                // max(value, old): the old one only where it is greater
                let old_wins = slot.1.number().unwrap_or(0.0) > new;
                if !old_wins {
                    slot.1 = value;
                }
            }
            None => {
                // max(value, 0.0): 0.0 when the value is below it
                let kept = if 0.0 > new { Value::Float(0.0) } else { value };
                memory.push((key, kept));
            }
        }
        Ok(())
    }

    // ---- errors -------------------------------------------------------------------------------

    /// A new error record (its table position); `limit` None for a message bounded part by part.
    fn error(
        &mut self,
        prompt: Option<u64>,
        kind: &'static str,
        message: &str,
        ev: &Ev,
        limit: Option<usize>,
    ) -> u64 {
        let stripped = pytext::strip(message);
        let message = match limit {
            Some(n) => pytext::head_chars(stripped, n),
            None => stripped,
        };
        self.errors.append(ErrorRec {
            prompt,
            kind,
            message: message.to_string(),
            line: ev.line,
            source: self.cfg.source,
            ts: ev.ts,
            end_line: Some(ev.end_line),
        })
    }

    fn find_error(&self, prompt: u64, kind: &str) -> Option<u64> {
        self.errors.recent_newest_first(RECENT_ERRORS).find(|&pos| {
            let e = self.errors.at_ref(pos);
            e.prompt == Some(prompt) && e.kind == kind
        })
    }

    // ---- phases -------------------------------------------------------------------------------

    /// segmenter.py's `_close_prompt` of the open prompt.
    fn close_prompt(
        &mut self,
        end: Option<Ts>,
        status: Option<&'static str>,
        end_line: Option<u64>,
    ) -> R {
        self.end_batch()?;
        let mut open = self.open.take().expect("an open prompt");
        let folded = open.folded.take();
        let unfinished = status.is_none();
        let run_start = self.run.and_then(|r| self.runs.at_ref(r).started_at);
        let prompt = self.prompts.at(open.prompt);
        // queued before the log but begun in it (Prompt.began_in_log), or begun after the log's first stamp:
        // the log has it all
        let began_in_log = prompt.began_in_log
            || matches!((run_start, prompt.started_at), (Some(rs), Some(b)) if b >= rs);
        let before_log = !prompt.received && !began_in_log;
        if let Some(status) = status {
            prompt.status = status;
        }
        prompt.ended_at = end;
        prompt.last_line = match (end_line, &folded) {
            (Some(line), _) if line != 0 => line,
            (_, Some(f)) if !f.activities.is_empty() => open
                .activities
                .iter()
                .map(|a| a.last_line)
                .fold(prompt.line.max(f.last_line), u64::max),
            _ => open
                .activities
                .iter()
                .skip(1)
                .map(|a| a.last_line)
                .fold(prompt.line, u64::max),
        };
        let all_fine = open.activities.iter().all(|a| a.resolution == FINE);
        let timed = match (prompt.started_at, end) {
            (Some(start), Some(end)) if all_fine => Some((start, end)),
            _ => None,
        };
        // a prompt whose bars were painted as they came (fold_bars): painting goes on from its cut, or
        // paints it all again from its start (a bar drawn later reaches back before the cut, it ended
        // before it, or a queued prompt took its place), its shelved bars and activities read back
        let mut painted: Option<Painted> = None;
        let mut again: Option<Vec<(Bar, BarEv)>> = None;
        let mut shelf: Option<Shelf<(Bar, BarEv)>> = None;
        let mut settled_before: Option<SettledBars> = None;
        let mut shelved_first_line: Option<u64> = None;
        let mut reassigned = false;
        if let Some(f) = folded {
            reassigned = f.reassigned;
            shelved_first_line = (!f.bars.is_empty()).then_some(f.first_line);
            let fast = match timed {
                Some((start, end)) if !f.reassigned => {
                    let held: Vec<(&Bar, &BarEv)> = self.bars.beside(&open.bars).collect();
                    phases::paints_after(
                        &f.painted,
                        start,
                        end,
                        &open.activities,
                        &held,
                        unfinished,
                    )?
                }
                _ => false,
            };
            if timed.is_some() && !fast {
                let mut acts: Vec<Activity> = f.activities.drain().collect();
                acts.append(&mut open.activities);
                open.activities = acts;
                if f.reassigned {
                    shelf = Some(f.bars);
                    again = Some(Vec::new());
                } else {
                    let bars = f
                        .bars
                        .drain()
                        .map(|(mut bar, bar_ev)| {
                            bar.start = None;
                            bar.end = None;
                            (bar, bar_ev)
                        })
                        .collect();
                    again = Some(bars);
                    settled_before = Some(f.settled);
                }
            } else {
                if fast {
                    painted = Some(f.painted);
                }
                shelf = Some(f.bars);
            }
        }
        let settled = settled_before.as_ref().unwrap_or(&open.settled);
        let shelved_count = again.as_ref().map_or(0, Vec::len);
        let bars: Vec<(&Bar, &BarEv)> = again
            .iter()
            .flatten()
            .map(|(bar, bar_ev)| (bar, bar_ev))
            .chain(self.bars.beside(&open.bars))
            .collect();
        let prompt = self.prompts.at(open.prompt);
        let library = self.run_library_loads;
        // folded bars' too: settled took them (fold_bars), or they are painted again
        let library_bar =
            settled.library_loader || bars.iter().any(|(bar, _)| phases::library_loader(bar));
        let placed = match timed {
            Some((start, end)) => paint_timed(
                prompt,
                start,
                end,
                &open.activities,
                &bars,
                settled,
                unfinished,
                open.loaded,
                library_bar,
                library,
                open.hidden_bar,
                before_log,
                painted,
            )?,
            None => {
                paint_estimated(
                    prompt,
                    &bars,
                    settled,
                    open.loaded,
                    library_bar,
                    library,
                    open.hidden_bar,
                    before_log,
                );
                Vec::new()
            }
        };
        if !library && library_bar {
            self.run_library_loads = true;
        }
        drop(bars);
        let prompt = self.prompts.at(open.prompt);
        if prompt.estimated {
            self.run_estimated = true;
        } else {
            // segmenter.py's `_in_run_s`: a prompt begun before the log counts from the log's first line
            let total = prompt.total_s.unwrap_or(0.0);
            let run_start = self.run.and_then(|r| self.runs.at_ref(r).started_at);
            let counted = match (run_start, prompt.started_at, prompt.ended_at) {
                (Some(run_start), Some(began), Some(ended))
                    if !prompt.received && began < run_start =>
                {
                    py_max(0.0, secs(ended - run_start)?)
                }
                _ => total,
            };
            self.run_prompt_s += counted;
        }
        for (i, start, end) in placed {
            let record = match &mut again {
                Some(shelved) if i < shelved_count => &mut shelved[i].0,
                _ => self.bars.at(open.bars[i - shelved_count].0),
            };
            record.start = Some(start);
            record.end = Some(end);
        }
        // segmenter.py's `_unshelve`: the painted bars go to the table in their place, after the bars
        // before them, before the prompt's bars held still
        if let Some(first_line) = shelved_first_line {
            self.bars.flush_while(|b| b.line < first_line);
        }
        if let Some(shelved) = again.filter(|_| !reassigned) {
            self.bars
                .out
                .extend(shelved.into_iter().map(|(bar, _)| BarsPart::Made(bar)));
        } else if let Some(shelf) = shelf {
            // placed as painted, or (untimed, or the dropped prompt's) placed by none
            let placed = !reassigned && timed.is_some();
            self.bars.out.push(BarsPart::Shelved {
                shelf: Box::new(shelf),
                placed,
            });
        }
        Ok(())
    }

    /// segmenter.py's `_settle_bars`: fold the open prompt's first bars into its `settled` while no
    /// reading can place them and no queued prompt was received before them, all but its last.
    fn settle_bars(&mut self) {
        let queued = self.queue.head_line();
        let Some(open) = &mut self.open else {
            return;
        };
        if open.folded.is_some() {
            return; // its bars are painted as they come (fold_bars): the shelf holds the settled ones' place
        }
        let mut settled = 0;
        for (pos, bar_ev) in &open.bars[..open.bars.len().saturating_sub(1)] {
            let bar = self.bars.at_ref(*pos);
            if !unplaceable(bar_ev) || queued.is_some_and(|q| bar.line >= q) {
                break;
            }
            open.settled.add(bar);
            settled += 1;
        }
        open.bars.drain(..settled);
    }

    /// segmenter.py's `_fold_bars`: paint the running prompt's first bars and its time up to a cut
    /// (phases::fold) while it runs, as painting it when it ends would, so that it holds a window of bars
    /// and activities, not all of them: a prompt of 400,000 stamped bars held each Bar with the activity
    /// of each bar line until it ended (281-347 MB). Their records and the activities go to a shelf
    /// (shelf.rs), and to the table when it ends (close_prompt). Only for a prompt whose start is known
    /// from its own line, with stamps to the second so far and no prompt queued.
    fn fold_bars(&mut self) -> R {
        let queued = !self.queue.is_empty();
        let fold_cfg = self.cfg.fold;
        let Some(open) = &mut self.open else {
            return Ok(());
        };
        // a try that paints nothing is tried again twice as late: O(bars) in all
        open.fold_at = 2 * open.bars.len();
        let prompt = self.prompts.at_ref(open.prompt);
        let Some(start) = prompt.started_at else {
            return Ok(());
        };
        if !prompt.received
            || queued
            || open.folded.as_ref().is_some_and(|f| f.reassigned)
            || !open.activities.iter().all(|a| a.resolution == FINE)
            || open.activities.len() <= fold_cfg.tail + 1
        {
            return Ok(());
        }
        let prompt_line = prompt.line;
        let safe = open.activities.len() - fold_cfg.tail - 1;
        let mut painted = open.folded.as_mut().map(|f| std::mem::take(&mut f.painted));
        let done = {
            let bars: Vec<(&Bar, &BarEv)> = self.bars.beside(&open.bars).collect();
            phases::fold(
                &mut painted,
                start,
                &open.activities,
                &bars,
                safe,
                timedelta_us(fold_cfg.keep_s)?,
            )
        };
        let (Ok(Some(phases::Folded { gone, dropped })), Some(painted)) = (&done, &mut painted)
        else {
            // nothing more painted: what was painted stays as it was
            if let (Some(f), Some(p)) = (open.folded.as_mut(), painted) {
                f.painted = p;
            }
            return done.map(|_| ());
        };
        let painted = std::mem::take(painted);
        let (gone, dropped) = (gone.clone(), *dropped);
        let count = gone.len();
        let first_line = if count > 0 {
            self.bars.at_ref(open.bars[0].0).line
        } else {
            1 << 62
        };
        match &mut open.folded {
            None => {
                open.folded = Some(Folding {
                    painted,
                    bars: Shelf::new(fold_cfg.shelf_block),
                    activities: Shelf::new(fold_cfg.shelf_block),
                    settled: open.settled.clone(),
                    first_line,
                    last_line: prompt_line,
                    reassigned: false,
                });
            }
            Some(f) => {
                f.painted = painted;
                if count > 0 && f.bars.is_empty() {
                    f.first_line = first_line;
                }
            }
        }
        let folding = open.folded.as_mut().expect("folded");
        // the prompt's bars are the last pending ones: the first `count` leave for the shelf, and the
        // positions of those after them move down as many
        let at = self.bars.items.len() - open.bars.len();
        debug_assert!(count == 0 || self.bars.base + at as u64 == open.bars[0].0);
        let records: Vec<Bar> = self.bars.items.drain(at..at + count).collect();
        for ((mut bar, (_, bar_ev)), (b0, b1)) in
            records.into_iter().zip(open.bars.drain(..count)).zip(gone)
        {
            bar.start = Some(b0);
            bar.end = Some(b1);
            open.settled.add(&bar);
            folding.bars.push((bar, bar_ev));
        }
        for (pos, _) in &mut open.bars {
            *pos -= count as u64;
        }
        let first_shelved = folding.activities.is_empty();
        for (i, act) in open.activities.drain(..dropped).enumerate() {
            if i > 0 || !first_shelved {
                folding.last_line = folding.last_line.max(act.last_line);
            }
            folding.activities.push(act);
        }
        if count > 0 {
            // segmenter.py: held back bars are painted again at each try, so tries come less often
            open.fold_at = 4 * open.bars.len() + fold_cfg.bars;
        }
        Ok(())
    }

    /// The records made final since the last call, for the caller to hand on.
    pub fn take_final(&mut self) -> Final {
        Final {
            runs: std::mem::take(&mut self.runs.out),
            prompts: std::mem::take(&mut self.prompts.out),
            bars: std::mem::take(&mut self.bars.out),
            loads: std::mem::take(&mut self.loads.out),
            errors: std::mem::take(&mut self.errors.out),
            notable: std::mem::take(&mut self.notable),
            notable_counts: std::mem::take(&mut self.notable_counts),
        }
    }
}

/// Records that can no longer change, oldest first per table.
pub struct Final {
    pub runs: Vec<Run>,
    pub prompts: Vec<PromptsPart>,
    pub bars: Vec<BarsPart>,
    pub loads: Vec<Load>,
    pub errors: Vec<ErrorRec>,
    /// Notable events kept since the last hand-over, in order.
    pub notable: Vec<Item>,
    /// `count` fields to set: (position among all notable events, count), the last one wins.
    pub notable_counts: Vec<(usize, u64)>,
}

/// traceback.py's `ran_in_executor`: a traceback whose outermost frame is in execution.py, or that kept
/// execution.py's `execute` among its frames, ran in ComfyUI's prompt executor.
fn ran_in_executor(ev: &Ev) -> R<bool> {
    let outermost = ev.text("first_file")?;
    if outermost
        .as_deref()
        .unwrap_or("")
        .replace('\\', "/")
        .ends_with("/execution.py")
    {
        return Ok(true);
    }
    Ok(match ev.body {
        Body::Traceback(tb) => tb.frames.iter().any(|f| f == "execution.py:execute"),
        _ => false,
    })
}

fn static_error_kind(error: &str) -> &'static str {
    match error {
        "aimdo" => "aimdo",
        "args_refused" => "args_refused",
        "desktop_exited" => "desktop_exited",
        "gpu_unavailable" => "gpu_unavailable",
        "handler" => "handler",
        "node_install" => "node_install",
        "unhealthy" => "unhealthy",
        "worker_exited" => "worker_exited",
        _ => "error",
    }
}

/// segmenter.py's `_dict_message`.
fn dict_message(detail: &str) -> Option<&str> {
    let key = "'message': '";
    let i = detail.find(key)?;
    let from = i + key.len();
    let j = detail[from..].find('\'')? + from;
    // Python: `if j > 0` (j is past the key, so always)
    Some(&detail[from..j])
}

fn builtin_node_file_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"[/\\](?:comfy_extras|comfy_api_nodes)[/\\][^/\\]+\.py$")
            .expect("a valid regex")
    })
}

/// segmenter.py's `_import_message`.
fn import_message(path: &str, reason: Option<&str>) -> String {
    let what = if builtin_node_file_re().is_match(path) {
        "built-in node file"
    } else {
        "custom node"
    };
    let message = format!(
        "{what} failed to import: {}",
        pytext::head_chars(path, MAX_IMPORT_PATH_CHARS)
    );
    match reason {
        None => message,
        Some(reason) => format!(
            "{message} ({})",
            pytext::head_chars(pytext::strip(reason), MAX_IMPORT_REASON_CHARS)
        ),
    }
}

/// table.py's `gpu_name`: the device index in front and the allocator after it taken away.
pub fn gpu_name(device: &str) -> String {
    let name = pytext::strip(device);
    let name = strip_device_index(name);
    // ALLOCATOR_SUFFIX_RE `(?<!\s)\s+:\s+\S+$`: a last word after " : " at the end
    let chars: Vec<(usize, char)> = name.char_indices().collect();
    let mut i = chars.len();
    while i > 0 && !pytext::is_space(chars[i - 1].1) {
        i -= 1;
    }
    let word_start = i;
    if word_start == chars.len() {
        return name.to_string();
    }
    while i > 0 && pytext::is_space(chars[i - 1].1) {
        i -= 1;
    }
    if i == word_start || i == 0 || chars[i - 1].1 != ':' {
        return name.to_string();
    }
    i -= 1; // the colon
    let colon = i;
    while i > 0 && pytext::is_space(chars[i - 1].1) {
        i -= 1;
    }
    if i == colon {
        return name.to_string();
    }
    name[..chars[i].0].to_string()
}

/// DEVICE_INDEX_RE `^(?:cuda|xpu|mps|npu|mlu):\d+\s+` removed.
fn strip_device_index(name: &str) -> &str {
    for prefix in ["cuda:", "xpu:", "mps:", "npu:", "mlu:"] {
        let Some(rest) = name.strip_prefix(prefix) else {
            continue;
        };
        let digits = rest
            .char_indices()
            .find(|(_, c)| !pytext::is_decimal(*c))
            .map_or(rest.len(), |(i, _)| i);
        if digits == 0 {
            return name;
        }
        let after = &rest[digits..];
        let spaces = after
            .char_indices()
            .find(|(_, c)| !pytext::is_space(*c))
            .map_or(after.len(), |(i, _)| i);
        if spaces == 0 {
            return name;
        }
        return &after[spaces..];
    }
    name
}

/// `datetime.fromisoformat(text)` for a naive `YYYY-MM-DD HH:MM:SS[.ffffff]` (what ComfyUI-Manager
/// prints); None for anything else (not ported: Python reads more forms).
fn iso_naive(text: &str) -> Option<Ts> {
    let b = text.as_bytes();
    if b.len() < 19 || !(b[10] == b' ' || b[10] == b'T') {
        return None;
    }
    let num = |s: &[u8]| -> Option<i64> {
        if s.iter().all(u8::is_ascii_digit) {
            std::str::from_utf8(s).ok()?.parse().ok()
        } else {
            None
        }
    };
    if b[4] != b'-' || b[7] != b'-' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (y, mo, d) = (num(&b[0..4])?, num(&b[5..7])?, num(&b[8..10])?);
    let (h, mi, s) = (num(&b[11..13])?, num(&b[14..16])?, num(&b[17..19])?);
    let micro = match &b[19..] {
        [] => 0,
        [b'.', digits @ ..] if digits.len() == 6 => num(digits)?,
        [b'.', digits @ ..] if digits.len() == 3 => num(digits)? * 1000,
        _ => return None,
    };
    if h > 23 || mi > 59 || s > 59 {
        return None;
    }
    let days = prefix::ordinal(y, mo, d)?;
    Some(((days * 24 + h) * 60 + mi) * 60_000_000 + s * 1_000_000 + micro)
}

/// table.py's `gguf_qtypes`: `F32 (2), F16 (693)` as (name, count), a name met again keeping its
/// first place and its last count (a dict). QTYPE_RE `\b(\w{1,64}) \((\d{1,12})\)` is matched by
/// hand, with Python's `\b` (between a word character and another): compiled, the sixty-four
/// Unicode `\w`s made a 3.5 MB program and ~1 MB of search cache per scan thread.
fn gguf_qtypes(text: &str) -> R<Vec<(String, i64)>> {
    let mut out: Vec<(String, i64)> = Vec::new();
    let mut at = 0;
    let mut before: Option<char> = None; // the character before `at`
    while let Some(c) = text[at..].chars().next() {
        if !pytext::is_word(c) || before.is_some_and(pytext::is_word) {
            before = Some(c);
            at += c.len_utf8();
            continue;
        }
        // a word starts here: `\w{1,64}` must be all of it (a space follows, never a word char)
        let (name_end, name_chars) = run_of(text, at, pytext::is_word);
        let found = qtype_count(text, name_end)
            .filter(|_| name_chars <= 64)
            .map(|(count, end)| (&text[at..name_end], count, end));
        let Some((name, count, end)) = found else {
            // no match starts inside the word (no `\b` there): go on from its end
            before = text[..name_end].chars().next_back();
            at = name_end;
            continue;
        };
        let Some(count) = prefix::digits_value(count) else {
            return Err(NotPorted(format!("gguf qtype count {count:?}")));
        };
        match out.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => slot.1 = count,
            None => out.push((name.to_string(), count)),
        }
        before = Some(')');
        at = end;
    }
    Ok(out)
}

/// ` \((\d{1,12})\)` at `at`: the digits and where the match ends.
fn qtype_count(text: &str, at: usize) -> Option<(&str, usize)> {
    if !text[at..].starts_with(" (") {
        return None;
    }
    let digits_at = at + 2;
    let (digits_end, digits) = run_of(text, digits_at, pytext::is_decimal);
    if !(1..=12).contains(&digits) || !text[digits_end..].starts_with(')') {
        return None;
    }
    Some((&text[digits_at..digits_end], digits_end + 1))
}

/// From `at`, the end of the run of characters `is` holds for, and how many they are.
fn run_of(text: &str, at: usize, is: fn(char) -> bool) -> (usize, usize) {
    let mut end = at;
    let mut n = 0;
    for c in text[at..].chars() {
        if !is(c) {
            break;
        }
        end += c.len_utf8();
        n += 1;
    }
    (end, n)
}

/// The segmenter's rows read from messages.toml's `text` (the text `table` was loaded from), for
/// Rust tools and tests without Python: parse/native.py's `_segmenter_rows` hands the real ones
/// from table.py. They differ only in the order of a row's fields, which the toml reader sorts (a
/// run setting's keys come out in another order).
pub fn rows_from_toml(table: &Table, text: &str) -> Vec<SegRow> {
    rows_of_toml(table, text)
}

/// The bar table read from messages.toml's `text` (its `[[bar]]` rows, in order).
pub fn bars_from_toml(text: &str) -> Vec<(BarKind, Option<Regex>)> {
    let doc: toml::Table = text.parse().expect("messages.toml reads");
    let Some(bars) = doc.get("bar").and_then(toml::Value::as_array) else {
        return Vec::new();
    };
    bars.iter()
        .map(|bar| {
            let kind = BarKind::parse(bar["kind"].as_str().expect("a kind")).expect("a bar kind");
            (
                kind,
                pytext::compile(bar["regex"].as_str().expect("a regex")).ok(),
            )
        })
        .collect()
}

fn rows_of_toml(table: &Table, text: &str) -> Vec<SegRow> {
    let doc: toml::Table = text.parse().expect("messages.toml reads");
    let messages = doc["message"].as_array().expect("[[message]] rows");
    assert_eq!(messages.len(), table.rows.len());
    let mut rows = Vec::new();
    for (row, message) in table.rows.iter().zip(messages) {
        let regex = message["regex"].as_str().expect("a regex");
        let groups: Vec<&str> = regex
            .split("(?P<")
            .skip(1)
            .map(|rest| &rest[..rest.find('>').expect("a group name ends")])
            .collect();
        let value = |v: &toml::Value| match v {
            toml::Value::Boolean(b) => Value::Bool(*b),
            toml::Value::Integer(i) => Value::Int(*i),
            toml::Value::Float(f) => Value::Float(*f),
            toml::Value::String(t) => Value::Text(Arc::from(t.as_str())),
            other => panic!("a constant {other:?}"),
        };
        let constants = message
            .get("constants")
            .and_then(toml::Value::as_table)
            .map(|c| c.iter().map(|(k, v)| (k.clone(), value(v))).collect())
            .unwrap_or_default();
        let fields = message
            .get("fields")
            .and_then(toml::Value::as_table)
            .map(|f| {
                f.iter()
                    .map(|(name, ty)| event::FieldSpec {
                        name: name.clone(),
                        ty: event::FieldType::parse(
                            ty.as_str().expect("a type").trim_end_matches('?'),
                        )
                        .expect("a known type"),
                        group: groups.iter().position(|g| g == name).expect("its group"),
                    })
                    .collect()
            })
            .unwrap_or_default();
        rows.push(SegRow {
            kind: Kind::parse(&row.kind),
            constants,
            fields,
            load_phase: row.phase == Phase::Load,
        });
    }
    rows
}

/// segmenter.py's `_meet`: two stamped times, each anywhere in the `window` after its stamp, can be
/// one within `slack`.
fn meet(a: Ts, b: Ts, window: i64, slack: i64) -> bool {
    a - slack <= b + window && b - slack <= a + window
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `[[bar]]` row's example labels get the row's kind (as parse/bars.py's test asks of
    /// Python's `bar_kind`), and the rules that are not about one label.
    #[test]
    fn bar_labels_get_their_rows_kind() {
        let text = include_str!("../../../src/comfylog/parse/messages.toml");
        let bars = bars_from_toml(text);
        let doc: toml::Table = text.parse().unwrap();
        for (row, (kind, _)) in doc["bar"].as_array().unwrap().iter().zip(&bars) {
            for example in row["examples"].as_array().unwrap() {
                let label = example.as_str().unwrap();
                assert_eq!(
                    bar_kind(&bars, Some(label), "it/s", false),
                    Ok(*kind),
                    "{label}"
                );
            }
        }
        assert_eq!(
            bar_kind(&bars, Some("model.safetensors"), "MB/s", false),
            Ok(BarKind::Loading)
        );
        assert_eq!(bar_kind(&bars, None, "it/s", false), Ok(BarKind::Sampling));
        assert_eq!(
            bar_kind(&bars, Some("Some node's work"), "it/s", false),
            Ok(BarKind::Other)
        );
        assert_eq!(
            bar_kind(&bars, Some("Some node's work"), "it/s", true),
            Ok(BarKind::Sampling)
        );
        assert!(bar_kind(&bars, Some("Échantillonnage"), "it/s", false).is_err());
    }

    /// table.py's `gguf_qtypes` (CPython 3.11's values), edges of QTYPE_RE included.
    #[test]
    fn gguf_qtypes_as_table_py_gives_them() {
        let x64 = "x".repeat(64);
        let x65 = "x".repeat(65);
        let cases: Vec<(String, Vec<(&str, i64)>)> = vec![
            (
                "F32 (2), F16 (693), Q5_K (400), Q6_K (20)".into(),
                vec![("F32", 2), ("F16", 693), ("Q5_K", 400), ("Q6_K", 20)],
            ),
            (
                "F32 (2), F32 (5), F16 (1)".into(),
                vec![("F32", 5), ("F16", 1)],
            ),
            (format!("{x64} (3)"), vec![(x64.as_str(), 3)]),
            (format!("{x65} (3), F16 (7)"), vec![("F16", 7)]),
            ("a-b (1)".into(), vec![("b", 1)]),
            (
                "Q4_0 (1234567890123), Q8 (123456789012)".into(),
                vec![("Q8", 123456789012)],
            ),
            ("(F32 (2))".into(), vec![("F32", 2)]),
            ("\u{c9}16 (\u{663})".into(), vec![("\u{c9}16", 3)]),
            ("x\u{b2}y (4)".into(), vec![("x\u{b2}y", 4)]),
            ("F32  (2)".into(), vec![]),
            ("F32 (2".into(), vec![]),
            ("F32 (2)F16 (3)".into(), vec![("F32", 2), ("F16", 3)]),
            ("F32 (-1)".into(), vec![]),
            ("_ (0)".into(), vec![("_", 0)]),
            ("ab\u{301}c (5)".into(), vec![("c", 5)]),
            ("ab\u{200d}c (6)".into(), vec![("c", 6)]),
            ("a (1) (2)".into(), vec![("a", 1)]),
        ];
        for (text, want) in cases {
            let want: Vec<(String, i64)> = want.into_iter().map(|(n, c)| (n.into(), c)).collect();
            assert_eq!(gguf_qtypes(&text), Ok(want), "{text:?}");
        }
    }

    #[test]
    fn gpu_names_as_table_py_gives_them() {
        for (device, want) in [
            (
                "cuda:0 NVIDIA GeForce RTX 4090 : cudaMallocAsync",
                "NVIDIA GeForce RTX 4090",
            ),
            ("cuda:0 NVIDIA A10G : native", "NVIDIA A10G"),
            ("mps", "mps"),
            ("cpu", "cpu"),
            (
                "xpu:0 Intel(R) Arc(TM) A770 Graphics : native",
                "Intel(R) Arc(TM) A770 Graphics",
            ),
            ("privateuseone", "privateuseone"),
            (" cuda:0 X :  a b", "X :  a b"),
            ("cuda:0  : x", ": x"),
            ("x :b", "x :b"),
        ] {
            assert_eq!(gpu_name(device), want, "{device}");
        }
    }

    #[test]
    fn manager_start_times_are_read_as_fromisoformat_reads_them() {
        let day = prefix::ordinal(2024, 9, 6).unwrap();
        assert_eq!(
            iso_naive("2024-09-06 17:45:12.542891"),
            Some(((day * 24 + 17) * 60 + 45) * 60_000_000 + 12_542_891)
        );
        assert_eq!(
            iso_naive("2024-09-06 17:45:12"),
            Some(((day * 24 + 17) * 60 + 45) * 60_000_000 + 12_000_000)
        );
        assert_eq!(
            iso_naive("2025-02-17 03:03:20.434"),
            iso_naive("2025-02-17 03:03:20.434000")
        );
        assert_eq!(iso_naive("2024-09-06 17:45:12+02:00"), None);
        assert_eq!(iso_naive("2024-02-30 17:45:12"), None);
    }

    #[test]
    fn bar_seconds_as_progress_py() {
        // 8/8 [00:07<00:00, 1.05it/s]: 8 / 1.05
        assert_eq!(bar_seconds(7.0, 8.0, Some(1.05), "it/s"), 7.619);
        assert_eq!(bar_seconds(7.0, 8.0, Some(0.5), "it/s"), 7.0);
        assert_eq!(bar_seconds(3.0, 20.0e6, Some(6.5), "MB/s"), 3.077);
        assert_eq!(bar_seconds(3.0, 0.0, Some(6.5), "it/s"), 3.0);
    }

    #[test]
    fn dict_messages_as_segmenter_py() {
        assert_eq!(
            dict_message(
                "{'type': 'x', 'message': 'Prompt outputs failed validation', 'details': ''}"
            ),
            Some("Prompt outputs failed validation")
        );
        assert_eq!(dict_message("no dict"), None);
        assert_eq!(dict_message("{'message': 'unterminated"), None);
    }

    /// A log scanned and segmented as one input: its final records.
    fn segmented(log: &str) -> Final {
        let mut seg = fed(log);
        seg.finish().expect("ported");
        seg.take_final()
    }

    /// A segmenter fed every line of `log`, the input not yet ended.
    fn fed(log: &str) -> Segmenter {
        let table = crate::table::tests::table();
        let cfg = Config {
            source: 0,
            first_run_index: 0,
            first_prompt_index: 0,
            rows: Arc::new(rows_from_toml(
                &table,
                include_str!("../../../src/comfylog/parse/messages.toml"),
            )),
            bars: Arc::new(bars_from_toml(include_str!(
                "../../../src/comfylog/parse/messages.toml"
            ))),
            release_every: RELEASE_EVERY,
            fold: Default::default(),
        };
        let mut seg = Segmenter::new(cfg);
        let mut input = crate::scan::Input::new(None, false);
        let items = input
            .scan(Some(&crate::scan::pool()), &table, log.as_bytes(), Ok)
            .expect("a scan");
        seg.feed(&table, items).expect("ported");
        seg.feed(&table, input.close(&table)).expect("ported");
        seg
    }

    /// research/h28/gen.py's queue that never runs (1,000,000 `got prompt` lines held 48 bytes of
    /// activity each): the prompt running under it holds its first activity, the one standing for the
    /// lines joined and the last two lines' (join_queued_line), not one a line.
    #[test]
    fn a_prompt_running_under_a_long_queue_holds_no_activity_a_line() {
        let stamp = |i: u64| {
            format!(
                "[2025-10-22 00:{:02}:{:02}.{:03}]",
                i / 60_000,
                i / 1000 % 60,
                i % 1000
            )
        };
        let mut log = format!(
            "{} Starting server\n{} To see the GUI go to: http://127.0.0.1:8188\n",
            stamp(0),
            stamp(1)
        );
        for i in 0..5_000 {
            log += &format!("{} got prompt\n", stamp(i + 2));
        }
        let seg = fed(&log);
        let open = seg.open.as_ref().expect("the first prompt runs");
        assert_eq!(seg.queue.len(), 4_999);
        let lines: Vec<(u64, u64)> = open
            .activities
            .iter()
            .map(|a| (a.first_line, a.last_line))
            .collect();
        assert_eq!(lines, [(3, 3), (4, 5_000), (5_001, 5_001), (5_002, 5_002)]);
    }

    fn at(text: &str) -> Ts {
        iso_naive(text).expect("a time")
    }

    /// The prompts' records, a queue a run's end left made into its records as the spill makes them.
    fn made(parts: Vec<PromptsPart>) -> Vec<Prompt> {
        parts
            .into_iter()
            .flat_map(|part| match part {
                PromptsPart::Made(prompt) => vec![prompt],
                PromptsPart::Left(queue) => queue.drain().collect(),
            })
            .collect()
    }

    /// examples/local-baseline.log, read as a person reads it: one start-up (Manager's start time
    /// to `To see the GUI`), one prompt from `got prompt` to `Prompt executed in 90.41 seconds`,
    /// four models loaded completely; the phases are the Python segmenter's for this log.
    #[test]
    fn a_real_log_segments_as_python_does() {
        let done = segmented(include_str!("../../../examples/local-baseline.log"));
        assert_eq!(done.runs.len(), 1);
        let run = &done.runs[0];
        assert_eq!(run.started_at, Some(at("2025-10-22 18:02:11.402")));
        assert_eq!(run.ready_at, Some(at("2025-10-22 18:02:18.937")));
        assert_eq!(run.startup_s, Some(7.535));
        assert_eq!(run.span_s, Some(229.126));
        assert_eq!(run.idle_s, Some(131.181));
        assert_eq!(run.gpu.as_deref(), Some("NVIDIA GeForce RTX 4090"));
        let prompts = made(done.prompts);
        assert_eq!(prompts.len(), 1);
        let prompt = &prompts[0];
        assert_eq!(prompt.status, "ok");
        assert_eq!((prompt.line, prompt.last_line), (27, 47));
        assert_eq!(prompt.executed_s, Some(90.41));
        assert_eq!(prompt.total_s, Some(90.41));
        assert!(!prompt.estimated);
        let phases = &prompt.phases;
        assert_eq!(
            (phases.load, phases.inference, phases.wait, phases.other),
            (
                Some(records::Num::Float(10.697)),
                Some(records::Num::Float(76.3)),
                Some(records::Num::Float(0.0)),
                Some(records::Num::Float(3.413))
            )
        );
        let models: Vec<_> = done.loads.iter().map(|l| l.model.as_deref()).collect();
        assert_eq!(
            models,
            [
                Some("WanTEModel"),
                Some("WanVAE"),
                Some("WAN21"),
                Some("WanVAE")
            ]
        );
        assert!(done
            .loads
            .iter()
            .all(|l| l.kind == "complete" && l.prompt == Some(0)));
    }
}
