//! Lines -> events and activities: comfylog/parse/parser.py and traceback.py, in two halves.
//!
//! `scan_line` does the work of each line that depends on nothing before it (decoding,
//! cleaning, the prefix, tqdm states, the message table), a piece of lines at a time on the
//! pool's threads; `Parser::feed` takes the pieces in order on the thread that scans the block,
//! while later pieces are still being scanned, and keeps what spans lines: the time-only clock,
//! progress bars, tracebacks, runs of lowvram module lines and activity runs. What it emits is
//! what parser.py emits, item for item, in the same order.

use crate::clean::{self, Counts};
use crate::matchers;
use crate::prefix::{self, Clock, Stamp, Style};
use crate::progress;
use crate::pytext::{self, compile, head_chars};
use crate::redact;
use crate::table::{Phase, Role, Table};
use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind};
use regex::Regex;
use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock, Mutex};

use crate::memo::Memo;

static BANNER_RULE: LazyLock<Regex> = LazyLock::new(|| compile(r"^={10,}\s*$").expect("banner"));
static EXCEPTION_LINE: LazyLock<Regex> = LazyLock::new(|| {
    compile(r"^(?P<type>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)(?::\s?(?P<message>.*))?$").expect("exc")
});
static CHAINED: LazyLock<Regex> = LazyLock::new(|| {
    compile(r"^(During handling of the above exception|The above exception was the direct cause)")
        .expect("chained")
});
static CUDA_CALL: LazyLock<Regex> = LazyLock::new(|| {
    compile(r#"torch\.cuda\.|\.cuda\(|["']cuda(?::\d+)?["']"#).expect("cuda call")
});
const TRACEBACK_NEEDLE: &str = "Traceback (most recent call last)";
const MAX_TRACEBACK_LINES: u64 = 2000;
/// Lines, and characters in all, held at an input's start as a traceback whose head may be cut.
const MAX_HELD_LINES: usize = 500;
const MAX_HELD_CHARS: usize = 1 << 20;
/// The earlier exception lines of a chain a traceback keeps.
const MAX_CAUSES: usize = 8;
/// The innermost frames a traceback keeps, each part cut to this many characters.
const MAX_FRAMES: usize = 64;
const FRAME_PART_CHARS: usize = 100;
const MAX_GLUED_MESSAGES: usize = 100;
const CLOSE_REDRAW_US: i64 = 2_000_000;
/// parser.py's CLOSE_AFTER_STEPS_SHARE: a same-count redraw adding more than this share to the steps' elapsed
/// is not the steps' rate.
const CLOSE_AFTER_STEPS_SHARE: f64 = 0.05;
/// events.py's CLOCK_RESET: a clock going back by more than this is another clock (logs joined out
/// of order), and activity times follow it instead of being held at the later time.
pub const CLOCK_RESET_US: i64 = 60_000_000;
const TEXT_CHARS: usize = 500;
/// Lines per piece of a block scanned on one thread.
const LINES_PER_TASK: usize = 2048;

/// One tqdm state, its numbers read.
#[derive(Clone, Debug)]
pub struct State {
    pub label: Option<String>,
    pub n: f64,
    pub total: f64,
    pub elapsed: f64,
    pub rate: Option<f64>,
    pub unit: String,
}

/// What a line holds, in the order the parser meets it.
#[derive(Clone, Debug)]
pub enum Op {
    /// A time-only prefix inside the line (after a CR): it moves the clock.
    Clock(i64),
    Progress(State),
    /// A message: its text (cut to TEXT_CHARS) and its fields' texts, shared with the memo and
    /// the events of the same text.
    Message {
        row: usize,
        text: Arc<str>,
        groups: Arc<[Option<Arc<str>>]>,
    },
    /// A line given up on (a hostile run of glued messages, a state whose numbers do not read).
    Skip,
}

/// What a line's text (its prefix read) holds for the ordered half: a function of the text
/// alone, so memo.rs keeps it for a text seen again.
#[derive(Debug)]
pub struct Segmented {
    pub ops: Vec<Op>,
    pub phase: Phase,
    /// The line is an activity of its own (a tqdm state, a start marker, a banner rule).
    pub isolated: bool,
    /// The line holds only another thread's messages (Role::Background): it is no activity.
    pub quiet: bool,
}

/// Recent texts' segmentations (memo.rs).
pub type SegmentMemo = Memo<Segmented>;

/// Everything the ordered half needs of one line.
pub struct LineScan<'a> {
    pub number: u64,
    pub stamp: Stamp,
    pub resolution: f64,
    pub style: Style,
    pub text: Cow<'a, str>,
    pub segmented: Arc<Segmented>,
    /// Nanoseconds past the stamp's microsecond (docker's nine digits).
    pub nanos: u32,
    /// Time-only prefixes read before the stamp (prefix.rs): the clock moves for them first.
    pub ticks: Vec<i64>,
    /// The stamp is the one ending the line (`Prefixed::cut`).
    pub cut: bool,
    /// The error report's stamp ending the line (`prefix::report_end`): the next line's own where that one lost it.
    pub report_end: Option<i64>,
}

/// Which lines must be redacted (read/redact.py) before they are read: those holding one of its
/// rules' needles (`folded` ones in the lower-cased text, as redact.py looks). With `native`
/// (redact.py's rules without IP addresses), redact.rs redacts the ASCII ones on the scan threads;
/// the others go through Python's redactor.
pub struct Redaction {
    /// Every needle, ASCII case ignored: one search of each line (the redactors then check each
    /// rule's own needles exactly, so a line this lets through needlessly comes out unchanged).
    any: Option<AhoCorasick>,
    folded: Option<AhoCorasick>,
    native: bool,
}

/// The only characters whose lower case (Python's and Rust's) holds an ASCII letter: `İ`, the
/// Kelvin sign.
const LOWER_TO_ASCII: [char; 2] = ['\u{130}', '\u{212a}'];

impl Redaction {
    pub fn new(plain: &[String], folded: &[String], native: bool) -> Result<Redaction, String> {
        let build = |needles: &[&String]| -> Result<Option<AhoCorasick>, String> {
            if needles.is_empty() {
                return Ok(None);
            }
            // a DFA: every line of a redacted read is searched (an NFA per kind of needle took 11%
            // of an HTML report's CPU on corpus-256mb; ~100 needles make a DFA of a few hundred kB)
            AhoCorasickBuilder::new()
                .ascii_case_insensitive(true)
                .kind(Some(AhoCorasickKind::DFA))
                .build(needles)
                .map(Some)
                .map_err(|e| e.to_string())
        };
        Ok(Redaction {
            any: build(&plain.iter().chain(folded).collect::<Vec<_>>())?,
            folded: build(&folded.iter().collect::<Vec<_>>())?,
            native,
        })
    }

    /// May `text` hold a needle? (A line that does not is left as it is by the redactor.)
    pub fn wants(&self, text: &str) -> bool {
        if self.any.as_ref().is_some_and(|ac| ac.is_match(text)) {
            return true;
        }
        // Python lower-cases before looking for a folded needle: the Kelvin sign becomes a `k`
        self.folded.as_ref().is_some_and(|folded| {
            text.contains(LOWER_TO_ASCII) && folded.is_match(&text.to_lowercase())
        })
    }
}

/// A line scanned, or (with redaction) its clean text still to be redacted by Python.
pub enum Scan<'a> {
    Ready(LineScan<'a>),
    Redact(u64, String),
}

/// One input's scan from block to block, Python aside: the ordered parser, the lines and counters
/// so far, which lines need redaction, and the memos. lib.rs's `Scanner` drives one, and so does
/// examples/scan_file.rs.
pub struct Input {
    pub parser: Parser,
    pub lines: u64,
    pub counts: Counts,
    redaction: Option<Redaction>,
    /// docker compose output: `name  | ` comes off every line once cleaned (prefix::without_compose).
    compose: bool,
    /// The input's memos of recent texts (memo.rs), one per piece of a block scanned at once.
    memos: Vec<SegmentMemo>,
}

impl Input {
    pub fn new(redaction: Option<Redaction>, compose: bool) -> Input {
        Input {
            parser: Parser::new(),
            lines: 0,
            counts: Counts::default(),
            redaction,
            compose,
            memos: Vec::new(),
        }
    }

    /// The items of a block of whole lines (the last may lack its newline), in order (`scan_each`'s
    /// pieces joined).
    pub fn scan(
        &mut self,
        pool: Option<&rayon::ThreadPool>,
        table: &Table,
        block: &[u8],
        redact: impl FnMut(String) -> Result<String, String>,
    ) -> Result<Vec<Item>, String> {
        let mut items = Vec::new();
        self.scan_each(pool, table, block, redact, |mut piece| {
            items.append(&mut piece)
        })?;
        Ok(items)
    }

    /// The items of a block of whole lines (the last may lack its newline), handed to `each` in
    /// order a piece of lines at a time: the lines are decoded and scanned on `pool`'s threads (on this
    /// thread alone without one: scan::serial)
    /// while this thread parses (and `each` takes) the pieces before them, so the ordered half
    /// and whatever `each` does (the segmenter) overlap the order-free half instead of waiting for
    /// the whole block. A line holding a redaction needle is redacted before anything reads it:
    /// by redact.rs in the order-free half where it can (`Redaction`), else through `redact` (its
    /// clean text -> the redacted text) here.
    pub fn scan_each(
        &mut self,
        pool: Option<&rayon::ThreadPool>,
        table: &Table,
        block: &[u8],
        mut redact: impl FnMut(String) -> Result<String, String>,
        mut each: impl FnMut(Vec<Item>),
    ) -> Result<(), String> {
        let text = clean::decode(block, &mut self.counts);
        let lines = block_lines(&text);
        let first = self.lines + 1;
        self.lines += lines.len() as u64;
        let Input {
            parser,
            counts,
            redaction,
            compose,
            memos,
            ..
        } = self;
        let compose = *compose;
        let redaction = redaction.as_ref();
        // a piece's scans through the ordered half, the redactor first where a line needs it
        let mut parse =
            |scans: Vec<Scan<'_>>, memos: &Mutex<Vec<SegmentMemo>>| -> Result<(), String> {
                let mut items = Vec::new();
                for scan in scans {
                    let line = match scan {
                        Scan::Ready(line) => line,
                        Scan::Redact(number, cleaned) => {
                            let redacted = redact(cleaned)?;
                            let mut memo = memo_of(&mut lock(memos), table);
                            let line =
                                scan_clean(table, number, Cow::Owned(redacted), compose, &mut memo);
                            lock(memos).push(memo);
                            line
                        }
                    };
                    parser.feed(table, line, &mut items);
                }
                each(items);
                Ok(())
            };
        let shared = Mutex::new(std::mem::take(memos));
        let reading = Reading { redaction, compose };
        let result = scan_pieces_in_order(
            pool,
            table,
            first,
            &lines,
            reading,
            &shared,
            |scans, found| {
                counts.add(&found);
                parse(scans, &shared)
            },
        );
        *memos = shared
            .into_inner()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        result
    }

    /// The end of the input: what is still open.
    pub fn close(&mut self, table: &Table) -> Vec<Item> {
        let mut rest = Vec::new();
        self.parser.close(table, &mut rest);
        rest
    }
}

/// Set in a process that is one of several analysing at once (a fleet's worker processes, one per
/// core): its scans then run on the calling thread alone, the pieces of a block in order, where
/// a pool's threads would only contend with the other processes for the same cores (their CPU
/// was a tenth of the fleet benchmark's, much of it spent waiting for work).
static SERIAL: AtomicBool = AtomicBool::new(false);

/// Scan on the calling thread alone from now on (`on`), or on the pool again.
pub fn set_serial(on: bool) {
    SERIAL.store(on, Ordering::Relaxed);
}

/// Whether this process scans on the calling thread alone (`set_serial`).
pub fn serial() -> bool {
    SERIAL.load(Ordering::Relaxed)
}

/// This process's thread pool for scanning lines.
///
/// Not rayon's global pool: a process forked after using it (a fleet's worker processes) inherits
/// the pool's state but none of its threads, and its first parallel scan waits forever. The pool
/// is made again in a process whose id changed; the inherited one, whose threads do not exist
/// there, is leaked rather than dropped (dropping signals the missing threads).
pub fn pool() -> Arc<rayon::ThreadPool> {
    static POOL: Mutex<Option<(u32, Arc<rayon::ThreadPool>)>> = Mutex::new(None);
    let pid = std::process::id();
    let mut slot = POOL.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some((owner, pool)) = slot.as_ref() {
        if *owner == pid {
            return Arc::clone(pool);
        }
    }
    if let Some(inherited) = slot.take() {
        std::mem::forget(inherited);
    }
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let pool = Arc::new(
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("comfylog-scan-{i}"))
            .build()
            .expect("a thread pool"),
    );
    *slot = Some((pid, Arc::clone(&pool)));
    pool
}

/// The scans of a block's text (whole lines, the last may lack its newline), lines numbered from
/// `first`, in order, and their counters: `Input::scan_each`'s order-free half alone (for tests;
/// the result is the serial one whatever the threads). `memos` are the input's memos.
pub fn scan_block<'a>(
    table: &Table,
    text: &'a str,
    first: u64,
    redaction: Option<&Redaction>,
    memos: &mut Vec<SegmentMemo>,
) -> (Vec<Scan<'a>>, Counts) {
    scan_block_in(Some(&pool()), table, text, first, redaction, false, memos)
}

/// `scan_block` on the threads of `pool` (on this thread alone without one).
pub fn scan_block_in<'a>(
    pool: Option<&rayon::ThreadPool>,
    table: &Table,
    text: &'a str,
    first: u64,
    redaction: Option<&Redaction>,
    compose: bool,
    memos: &mut Vec<SegmentMemo>,
) -> (Vec<Scan<'a>>, Counts) {
    let lines = block_lines(text);
    let shared = Mutex::new(std::mem::take(memos));
    let (mut scans, mut counts) = (Vec::with_capacity(lines.len()), Counts::default());
    let reading = Reading { redaction, compose };
    let taken = scan_pieces_in_order(
        pool,
        table,
        first,
        &lines,
        reading,
        &shared,
        |mut piece, found| {
            scans.append(&mut piece);
            counts.add(&found);
            Ok(())
        },
    );
    taken.expect("collecting scans cannot fail");
    *memos = shared
        .into_inner()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    (scans, counts)
}

/// The order-free scans of a piece of `lines` (numbered from `first`), with one of the input's
/// memos (`memos`), and the piece's counters.
fn scan_piece<'a>(
    table: &Table,
    first: u64,
    lines: &[&'a str],
    reading: Reading<'_>,
    memos: &Mutex<Vec<SegmentMemo>>,
) -> (Vec<Scan<'a>>, Counts) {
    let mut memo = memo_of(&mut lock(memos), table);
    let mut counts = Counts::default();
    let scans = lines
        .iter()
        .enumerate()
        .map(|(j, line)| {
            let number = first + j as u64;
            scan_line(table, number, line, &mut counts, reading, &mut memo)
        })
        .collect();
    lock(memos).push(memo);
    (scans, counts)
}

/// `lines` (numbered from `first`) scanned a piece of LINES_PER_TASK at a time on `pool`'s
/// threads (on this one without a pool), each piece's scans handed to `take` on this thread in the
/// lines' order as soon as it and the pieces before it are scanned. The first error `take` returns stops the handing (the
/// pieces being scanned are still waited for) and is returned.
fn scan_pieces_in_order<'a>(
    pool: Option<&rayon::ThreadPool>,
    table: &Table,
    first: u64,
    lines: &[&'a str],
    reading: Reading<'_>,
    memos: &Mutex<Vec<SegmentMemo>>,
    mut take: impl FnMut(Vec<Scan<'a>>, Counts) -> Result<(), String>,
) -> Result<(), String> {
    if lines.len() <= LINES_PER_TASK {
        // one piece: scanned here, without waking the pool (a small log's whole input)
        let (scans, counts) = scan_piece(table, first, lines, reading, memos);
        return take(scans, counts);
    }
    let Some(pool) = pool else {
        // no pool (scan::serial): the pieces one after the other, here
        for (k, piece) in lines.chunks(LINES_PER_TASK).enumerate() {
            let start = first + (k * LINES_PER_TASK) as u64;
            let (scans, counts) = scan_piece(table, start, piece, reading, memos);
            take(scans, counts)?;
        }
        return Ok(());
    };
    let pieces: Vec<&[&'a str]> = lines.chunks(LINES_PER_TASK).collect();
    let mut waiting: Vec<Option<(Vec<Scan<'a>>, Counts)>> = Vec::new();
    waiting.resize_with(pieces.len(), || None);
    let mut result = Ok(());
    // in_place_scope: this thread (no worker of the pool) takes the pieces while the pool scans
    pool.in_place_scope(|scope| {
        let (sender, receiver) = std::sync::mpsc::channel();
        for (k, piece) in pieces.iter().enumerate() {
            let sender = sender.clone();
            let start = first + (k * LINES_PER_TASK) as u64;
            scope.spawn(move |_| {
                // the receiver is gone only when an error stopped the handing: nothing to do
                let scanned = scan_piece(table, start, piece, reading, memos);
                let _ = sender.send((k, scanned));
            });
        }
        drop(sender);
        let mut next = 0;
        for (k, scanned) in receiver {
            waiting[k] = Some(scanned);
            while let Some((scans, counts)) = waiting.get_mut(next).and_then(Option::take) {
                next += 1;
                result = take(scans, counts);
                if result.is_err() {
                    return;
                }
            }
        }
    });
    result
}

/// One of the input's memos for a piece to scan with (a new one of `table` if all are in use).
fn memo_of(memos: &mut Vec<SegmentMemo>, table: &Table) -> SegmentMemo {
    memos.pop().unwrap_or_else(|| SegmentMemo::new(table))
}

/// The lines of a block's text (whole lines, the last may lack its newline): none for an empty block.
fn block_lines(text: &str) -> Vec<&str> {
    if text.is_empty() {
        Vec::new()
    } else {
        split_lines(text.strip_suffix('\n').unwrap_or(text))
    }
}

/// `body.split('\n')`, into a Vec sized for lines of about 64 bytes at first.
fn split_lines(body: &str) -> Vec<&str> {
    let mut lines = Vec::with_capacity(body.len() / 64 + 1);
    let mut start = 0;
    for end in memchr::memchr_iter(b'\n', body.as_bytes()) {
        lines.push(&body[start..end]);
        start = end + 1;
    }
    lines.push(&body[start..]);
    lines
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// How an input's lines are read before their prefix: the redaction a line may need, and whether
/// docker compose's `name  | ` comes off (the input is compose output: read/lines.py decided from its
/// first lines).
#[derive(Clone, Copy, Default)]
pub struct Reading<'r> {
    pub redaction: Option<&'r Redaction>,
    pub compose: bool,
}

/// The order-free work of one physical line.
pub fn scan_line<'a>(
    table: &Table,
    number: u64,
    raw: &'a str,
    counts: &mut Counts,
    reading: Reading<'_>,
    memo: &mut SegmentMemo,
) -> Scan<'a> {
    let compose = reading.compose;
    let cleaned = clean::finish_line(raw, counts);
    let Some(redaction) = reading.redaction.filter(|r| r.wants(&cleaned)) else {
        return Scan::Ready(scan_clean(table, number, cleaned, compose, memo));
    };
    let redacted = if redaction.native {
        redact::redact_ascii(&cleaned, &mut counts.redactions)
    } else {
        None
    };
    match redacted {
        Some(text) => Scan::Ready(scan_clean(table, number, Cow::Owned(text), compose, memo)),
        None => Scan::Redact(number, cleaned.into_owned()),
    }
}

/// The order-free work of one line once cleaned (and redacted): prefix, states, messages. In docker
/// compose output (`compose`) the line's `name  | ` comes off first, as read/lines.py takes it off.
pub fn scan_clean<'a>(
    table: &Table,
    number: u64,
    cleaned: Cow<'a, str>,
    compose: bool,
    memo: &mut SegmentMemo,
) -> LineScan<'a> {
    let cleaned = if compose {
        prefix::without_compose(cleaned)
    } else {
        cleaned
    };
    let report_end = prefix::report_end(&cleaned);
    let prefix::Prefixed {
        text,
        stamp,
        cut,
        nanos,
        ticks,
        resolution,
        style,
    } = match cleaned {
        Cow::Borrowed(line) => prefix::read(line),
        Cow::Owned(line) => prefix::read(&line).into_owned(),
    };
    // a text with a tqdm state is not kept: its numbers change from line to line
    let keep = |s: &Segmented| !s.ops.iter().any(|op| matches!(op, Op::Progress(_)));
    let segmented = memo.get_or(table, &text, || segmented(table, &text), keep);
    LineScan {
        number,
        stamp,
        nanos,
        ticks,
        cut,
        report_end,
        resolution,
        style,
        text,
        segmented,
    }
}

/// The tqdm states and messages of a line's text, in order (`Segmented`).
fn segmented(table: &Table, text: &str) -> Segmented {
    let mut ops = Vec::new();
    let mut phase = Phase::Other;
    let mut states = 0; // tqdm states read on the line: it gets an activity of its own
    let mut background = false; // it holds another thread's message
    if text.contains('\r') {
        for (i, seg) in text.split('\r').enumerate() {
            if i > 0 && prefix::may_start_with_prefix(seg) {
                let p = prefix::read(seg);
                clock_ops(&p, &mut ops);
                segment(
                    table,
                    &p.text,
                    &mut ops,
                    &mut phase,
                    &mut states,
                    &mut background,
                );
            } else {
                segment(
                    table,
                    seg,
                    &mut ops,
                    &mut phase,
                    &mut states,
                    &mut background,
                );
            }
        }
    } else {
        segment(
            table,
            text,
            &mut ops,
            &mut phase,
            &mut states,
            &mut background,
        );
    }
    let marker = ops.iter().any(
        |op| matches!(op, Op::Message { row, .. } if matches!(table.rows[*row].role, Role::StartMarker | Role::ProcessStart)),
    );
    let isolated =
        states > 0 || marker || (text.starts_with("==========") && BANNER_RULE.is_match(text));
    let quiet = background && states == 0 && !ops.iter().any(|op| matches!(op, Op::Message { .. }));
    Segmented {
        ops,
        phase,
        isolated,
        quiet,
    }
}

/// The clock's moves a prefix read inside a line makes (its ticks, then its own time-only stamp).
fn clock_ops(p: &prefix::Prefixed, ops: &mut Vec<Op>) {
    ops.extend(p.ticks.iter().map(|&t| Op::Clock(t)));
    if let Stamp::TimeOnly(t) = p.stamp {
        ops.push(Op::Clock(t));
    }
}

/// parser.py's `_segment`: tqdm states and the messages around them, in order.
fn segment(
    table: &Table,
    text: &str,
    ops: &mut Vec<Op>,
    phase: &mut Phase,
    states: &mut usize,
    background: &mut bool,
) {
    let mut owned: Option<String> = None;
    let mut pos = 0;
    loop {
        let cur: &str = owned.as_deref().unwrap_or(text);
        let rest = &cur[pos..];
        if rest.is_empty() {
            return;
        }
        let Some(m) = progress::find_state(rest) else {
            messages(table, rest, ops, phase, background);
            return;
        };
        let before = &rest[..m.start];
        if !pytext::strip(before).is_empty() {
            messages(table, before, ops, phase, background);
        }
        *states += 1;
        ops.push(match state(&m) {
            Some(s) => Op::Progress(s),
            None => Op::Skip,
        });
        let after = &rest[m.end..];
        let after_at = pos + m.end;
        if prefix::may_start_with_prefix(after) {
            let p = prefix::read(after);
            clock_ops(&p, ops);
            match p.text {
                Cow::Borrowed(s) => pos = after_at + (after.len() - s.len()),
                Cow::Owned(s) => {
                    owned = Some(s);
                    pos = 0;
                }
            }
        } else {
            pos = after_at;
        }
    }
}

fn state(m: &progress::Match) -> Option<State> {
    Some(State {
        label: progress::label(m.label),
        n: progress::si_number(m.n)?,
        total: progress::si_number(m.total)?,
        elapsed: progress::elapsed_seconds(m.elapsed)?,
        rate: if m.rate == "?" {
            None
        } else {
            Some(progress::py_float(m.rate)?)
        },
        unit: if m.unit.is_empty() {
            "it/s".to_string()
        } else {
            m.unit.to_string()
        },
    })
}

/// parser.py's `_messages`: the message table on a text, glued messages read on.
fn messages(
    table: &Table,
    text: &str,
    ops: &mut Vec<Op>,
    phase: &mut Phase,
    background: &mut bool,
) {
    let mut text = text;
    for _ in 0..MAX_GLUED_MESSAGES {
        let Some(found) = table.find(text) else {
            return;
        };
        let row = &table.rows[found.row];
        if row.role == Role::Background {
            *background = true; // another thread's line: no event, and alone no activity
            if !(row.glued && found.end < text.len()) {
                return;
            }
            text = &text[found.end..];
            continue;
        }
        if *phase == Phase::Other {
            *phase = row.phase;
        }
        ops.push(Op::Message {
            row: found.row,
            text: Arc::from(head_chars(text, TEXT_CHARS)),
            groups: found
                .groups
                .iter()
                .map(|g| g.map(|(a, b)| Arc::from(&text[a..b])))
                .collect(),
        });
        if !(row.glued && found.end < text.len()) {
            return;
        }
        text = &text[found.end..];
    }
    ops.push(Op::Skip);
}

// ---- the ordered half ---------------------------------------------------------------------------

/// A run of timestamped lines of one phase (comfylog.events.Activity).
#[derive(Clone, Debug, PartialEq)]
pub struct Activity {
    pub phase: Phase,
    pub first_ts: i64,
    pub last_ts: i64,
    pub first_line: u64,
    pub last_line: u64,
    pub resolution: f64,
}

/// A traceback event's fields, in the order parser.py's dict gets them.
#[derive(Clone, Debug, PartialEq)]
pub struct Traceback {
    pub row: usize,
    pub line: u64,
    pub ts: Option<i64>,
    pub end_line: u64,
    pub end_ts: Option<i64>,
    pub lines: u64,
    pub text: String,
    /// exception type, message, oom, exception line
    pub exception: Option<(String, String, bool, u64)>,
    pub chained: u64,
    /// The file of the first frame, the custom node of the last frame in one, a CUDA call below it.
    pub first_file: Option<String>,
    pub custom_node: Option<String>,
    pub cuda_call: bool,
    /// The innermost frames, `FILE:FUNCTION` (the file's base name), oldest first.
    pub frames: Vec<String>,
    /// Beside each frame, whose code its file is (traceback.py's `frame_owner`).
    pub frame_owners: Vec<String>,
    /// The exception lines before the last of a chain, first first.
    pub causes: Vec<String>,
    /// Keys past `lines`, `pattern` and `text`, in the order traceback.py's dict gets them.
    pub keys: Vec<&'static str>,
}

impl Traceback {
    /// A traceback begun on `line`, with nothing read of its frames or exception yet.
    fn begun(row: usize, line: u64, ts: Option<i64>, lines: u64, text: String) -> Traceback {
        Traceback {
            row,
            line,
            ts,
            end_line: line,
            end_ts: None,
            lines,
            text,
            exception: None,
            chained: 0,
            first_file: None,
            custom_node: None,
            cuda_call: false,
            frames: Vec::new(),
            frame_owners: Vec::new(),
            causes: Vec::new(),
            keys: Vec::new(),
        }
    }

    /// A key set: the dict keeps the position of its first setting.
    fn note(&mut self, key: &'static str) {
        if !self.keys.contains(&key) {
            self.keys.push(key);
        }
    }

    /// traceback.py's `_note_frame`: the frame on `text`, keeping the innermost MAX_FRAMES.
    fn note_frame(&mut self, text: &str) {
        let Some(((pa, pb), (fa, fb))) = matchers::function_frame(text) else {
            return;
        };
        let path = &text[pa..pb];
        let base = path.rsplit(['/', '\\']).next().unwrap_or("");
        let (file, function) = (
            head_chars(base, FRAME_PART_CHARS),
            head_chars(&text[fa..fb], FRAME_PART_CHARS),
        );
        let mut frame = String::with_capacity(file.len() + 1 + function.len());
        frame.push_str(file);
        frame.push(':');
        frame.push_str(function);
        self.frames.push(frame);
        self.frame_owners.push(frame_owner(path));
        self.note("frames");
        self.note("frame_owners");
        if self.frames.len() > MAX_FRAMES {
            self.frames.remove(0);
            self.frame_owners.remove(0);
        }
    }
}

/// Folders whose next folder says whose code a frame is: an installed library, a custom node.
const OWNER_DIRS: [&str; 3] = ["site-packages", "dist-packages", "custom_nodes"];

/// traceback.py's `frame_owner`: the folder after the last site-packages, dist-packages or
/// custom_nodes folder of `path` with a file below it (`transformers`, `custom_nodes/NAME`), or "".
fn frame_owner(path: &str) -> String {
    let parts: Vec<&str> = path.split(['/', '\\']).collect();
    let below = parts.len().saturating_sub(2);
    let Some(at) = (0..below).rev().find(|&i| OWNER_DIRS.contains(&parts[i])) else {
        return String::new();
    };
    let name = head_chars(parts[at + 1], FRAME_PART_CHARS);
    if parts[at] == "custom_nodes" && !name.is_empty() {
        format!("custom_nodes/{name}")
    } else {
        name.to_string()
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Item {
    Activity(Activity),
    Message {
        row: usize,
        line: u64,
        ts: Option<i64>,
        text: Arc<str>,
        groups: Arc<[Option<Arc<str>>]>,
    },
    /// Boxed, as a traceback: an item is moved several times, and a bar's fields would make
    /// every item three times as big.
    Bar(Box<ClosedBar>),
    Lowvram {
        row: usize,
        line: u64,
        ts: Option<i64>,
        end_line: u64,
        end_ts: Option<i64>,
        count: u64,
        text: Arc<str>,
    },
    Traceback(Box<Traceback>),
}

/// A progress bar's event (parser.py's `_close_bar`).
#[derive(Clone, Debug, PartialEq)]
pub struct ClosedBar {
    pub line: u64,
    pub ts: Option<i64>,
    pub end_line: u64,
    pub end_ts: Option<i64>,
    pub label: Option<String>,
    pub total: f64,
    pub done: f64,
    pub final_rate: Option<f64>,
    pub unit: String,
    pub elapsed: f64,
    pub first_elapsed: f64,
    pub states: u64,
    pub ts_before: Option<i64>,
}

#[derive(Clone)]
struct BarState {
    line: u64,
    ts: Option<i64>,
    state: State,
}

/// A bar being assembled: its first state, its last three (all the parser looks back at), and
/// how many it had.
struct Bar {
    first: BarState,
    recent: Vec<BarState>,
    count: u64,
    ts_before: Option<i64>,
}

impl Bar {
    fn last(&self) -> &BarState {
        self.recent.last().expect("a bar has a state")
    }

    fn complete(&self) -> bool {
        let s = &self.last().state;
        s.total > 0.0 && s.n >= s.total
    }

    fn push(&mut self, s: BarState) {
        if self.recent.len() == 3 {
            self.recent.remove(0);
        }
        self.recent.push(s);
        self.count += 1;
    }

    /// Is `probe` (a later line) tqdm's close() redraw of this completed bar? (`_continues`)
    fn continues(&self, line: u64, ts: Option<i64>, n: f64, elapsed: f64) -> bool {
        let last = self.last();
        let on_last_line = self
            .recent
            .iter()
            .filter(|s| s.line == last.line && s.state.n >= s.state.total)
            .count();
        if on_last_line != 1 || line != last.line + 1 || n != last.state.n {
            return false;
        }
        // A redraw at a later elapsed time: only for a bar drawn a state a line whose last state
        // is its first complete one (parser.py's `_continues`, ComfyUI-Distributed#66).
        let later = elapsed - last.state.elapsed;
        if later != 0.0 {
            let before = match self.recent.len() {
                k if k >= 2 => Some(&self.recent[k - 2]),
                _ => None,
            };
            let drawn = before.is_some_and(|b| b.line < last.line && b.state.n < b.state.total);
            if later < 0.0 || !drawn {
                return false;
            }
        }
        match (ts, last.ts) {
            (Some(a), Some(b)) => ((a - b) - (later * 1e6).round() as i64).abs() <= CLOSE_REDRAW_US,
            _ => true,
        }
    }
}

#[derive(Default)]
struct Tracebacks {
    open: Option<Traceback>,
    pending: Option<Traceback>,
}

impl Tracebacks {
    fn active(&self) -> bool {
        self.open.is_some() || self.pending.is_some()
    }

    /// traceback.py's `feed`: (taken, a traceback that ended before this line).
    fn feed(
        &mut self,
        table: &Table,
        line: u64,
        ts: Option<i64>,
        text: &str,
    ) -> (bool, Option<Traceback>) {
        if self.open.is_some() {
            if self.take(table, line, ts, text) {
                return (true, None);
            }
            return (false, self.pending.take());
        }
        let Some(mut pending) = self.pending.take() else {
            return (false, None);
        };
        let stripped = pytext::strip(text);
        if stripped.is_empty() || CHAINED.is_match(stripped) {
            self.pending = Some(pending);
            return (true, None);
        }
        if stripped.starts_with(TRACEBACK_NEEDLE) {
            pending.note("chained");
            pending.chained += 1;
            if pending.exception.is_some() && pending.causes.len() < MAX_CAUSES {
                let text = pending.text.clone();
                pending.causes.push(text);
                pending.note("causes");
            }
            pending.end_line = line;
            self.open = Some(pending);
            return (true, None);
        }
        (false, Some(pending))
    }

    fn take(&mut self, table: &Table, line: u64, ts: Option<i64>, text: &str) -> bool {
        let mut tb = self.open.take().expect("open traceback");
        if text.starts_with([' ', '\t']) || pytext::strip(text).is_empty() {
            tb.end_line = line;
            tb.lines += 1;
            let frame_line = text
                .trim_start_matches(pytext::is_space)
                .starts_with("File ");
            if frame_line {
                if tb.first_file.is_none() {
                    if let Some((a, b)) = matchers::file_frame(text) {
                        tb.first_file = Some(head_chars(&text[a..b], 300).to_string());
                        tb.note("first_file");
                    }
                }
                tb.note_frame(text);
            }
            if text.contains("custom_nodes") {
                if let Some((a, b)) = matchers::custom_node_frame(text) {
                    tb.custom_node = Some(head_chars(&text[a..b], 200).to_string());
                    tb.note("custom_node");
                }
            } else if tb.custom_node.is_some()
                && text.contains("cuda")
                && !frame_line
                && CUDA_CALL.is_match(text)
            {
                tb.cuda_call = true;
                tb.note("cuda_call");
            }
            if tb.lines > MAX_TRACEBACK_LINES {
                self.pending = Some(tb);
            } else {
                self.open = Some(tb);
            }
            return true;
        }
        let stripped = pytext::strip(text);
        if tb.lines > 1 {
            if let Some(m) = EXCEPTION_LINE.captures(stripped) {
                let message = m.name("message").map_or("", |g| g.as_str());
                tb.exception = Some((
                    m["type"].to_string(),
                    head_chars(pytext::strip(message), TEXT_CHARS).to_string(),
                    table.is_oom(text),
                    line,
                ));
                tb.text = head_chars(stripped, TEXT_CHARS).to_string();
                for key in ["exception_type", "message", "oom", "exception_line"] {
                    tb.note(key);
                }
                tb.end_line = line;
                tb.end_ts = ts;
                self.pending = Some(tb);
                return true;
            }
        }
        self.pending = Some(tb); // not a traceback line after all: cut short
        false
    }

    fn close(&mut self, out: &mut Vec<Item>) {
        for tb in [self.open.take(), self.pending.take()]
            .into_iter()
            .flatten()
        {
            out.push(Item::Traceback(Box::new(tb)));
        }
    }
}

/// traceback.py's `may_hold_at_start`: could `text` (at an input's very start) be inside a
/// traceback whose head is cut? Indented or blank, with no CR or tqdm state (after which the
/// parser reads a prefix, moving the clock): held back, it reads the same later.
fn may_hold_at_start(text: &str) -> bool {
    (text.starts_with([' ', '\t']) || pytext::strip(text).is_empty())
        && !text.contains('\r')
        && progress::find_state(text).is_none()
}

/// traceback.py's `is_cut_traceback`: the held lines, then `text` (unindented), are a traceback
/// whose head is cut: a `File "PATH", line N, in F` frame among two or more, then an exception line.
fn is_cut_traceback(held: &[(LineScan<'static>, Option<i64>)], text: &str) -> bool {
    held.len() > 1
        && EXCEPTION_LINE.is_match(pytext::strip(text))
        && held.iter().any(|(scan, _)| {
            scan.text
                .trim_start_matches(pytext::is_space)
                .starts_with("File ")
                && matchers::function_frame(&scan.text).is_some()
        })
}

/// The ordered half of parser.py's Parser (its message table is given to each call: the
/// scanner's, which its lines were scanned with).
pub struct Parser {
    clock: Clock,
    /// The error report's stamp that ended the last line (`LineScan::report_end`).
    report_end: Option<i64>,
    pub skipped_lines: u64,
    pub styles: [u64; Style::ALL.len()],
    /// Styles in the order first seen (the report lists them so).
    pub style_order: Vec<Style>,
    /// The earliest and latest stamps (the first and last but where the clock goes back).
    pub first_ts: Option<i64>,
    pub last_ts: Option<i64>,
    pub first_nanos: u32,
    pub last_nanos: u32,
    /// The first line whose stamp goes back by more than CLOCK_RESET_US from the latest before it.
    pub clock_back_line: Option<u64>,
    bar: Option<Bar>,
    activity: Option<Activity>,
    lowvram: Option<Item>,
    tracebacks: Tracebacks,
    mark_ts: Option<i64>,
    closed: Vec<Activity>,
    isolate_next: bool,
    /// A line's events, kept between lines for its room.
    events: Vec<Item>,
    /// Indented lines at the input's start (with their times), held until a line says whether
    /// they are a traceback whose head is cut; None once it has said (parser.py's `_held`).
    held: Option<Vec<(LineScan<'static>, Option<i64>)>>,
    held_chars: usize,
}

impl Default for Parser {
    fn default() -> Self {
        Self::new()
    }
}

impl Parser {
    pub fn new() -> Parser {
        Parser {
            clock: Clock::default(),
            report_end: None,
            skipped_lines: 0,
            styles: [0; Style::ALL.len()],
            style_order: Vec::new(),
            first_ts: None,
            last_ts: None,
            first_nanos: 0,
            last_nanos: 0,
            clock_back_line: None,
            bar: None,
            activity: None,
            lowvram: None,
            tracebacks: Tracebacks::default(),
            mark_ts: None,
            closed: Vec::new(),
            isolate_next: false,
            events: Vec::new(),
            held: Some(Vec::new()),
            held_chars: 0,
        }
    }

    /// parser.py's `_stamped`: the earliest and latest stamps, and where the clock first goes back.
    fn stamped(&mut self, line: u64, t: i64, nanos: u32) {
        let (Some(first), Some(last)) = (self.first_ts, self.last_ts) else {
            (self.first_ts, self.last_ts) = (Some(t), Some(t));
            (self.first_nanos, self.last_nanos) = (nanos, nanos);
            return;
        };
        if (t, nanos) > (last, self.last_nanos) {
            (self.last_ts, self.last_nanos) = (Some(t), nanos);
            return;
        }
        if t < last.saturating_sub(CLOCK_RESET_US) && self.clock_back_line.is_none() {
            self.clock_back_line = Some(line);
        }
        if (t, nanos) < (first, self.first_nanos) {
            (self.first_ts, self.first_nanos) = (Some(t), nanos);
        }
    }

    /// Parse one scanned line: its items go to `out`, after the activity runs up to it.
    pub fn feed(&mut self, table: &Table, scan: LineScan, out: &mut Vec<Item>) {
        for &tick in &scan.ticks {
            self.clock.time_only(tick);
        }
        // An error report's line that lost its stamp to a line break (a tqdm redraw pasted: its `\r` made a line
        // break) was written at the stamp ending the line before (the lone `<t> - ` of its write), not at the one
        // ending it (the next write's: 2:13 later, Zehong-Ma/ComfyUI-MagCache#45).
        let stamp = match (scan.cut, self.report_end) {
            (true, Some(t)) => Stamp::At(t),
            _ => scan.stamp,
        };
        self.report_end = scan.report_end;
        let ts = self.clock.resolve(stamp);
        let style = scan.style.index();
        if self.styles[style] == 0 {
            self.style_order.push(scan.style);
        }
        self.styles[style] += 1;
        if let Some(t) = ts {
            self.stamped(scan.number, t, scan.nanos);
        }
        if self.held.is_some() {
            self.hold(table, scan, ts, out);
        } else {
            self.parse(table, scan, ts, out);
        }
    }

    /// parser.py's `_hold`: a line while the input's first indented lines are held.
    fn hold(&mut self, table: &Table, scan: LineScan, ts: Option<i64>, out: &mut Vec<Item>) {
        let held = self.held.as_mut().expect("held lines");
        if held.is_empty() && pytext::strip(&scan.text).is_empty() {
            return self.parse(table, scan, ts, out); // blank lines before anything: nothing to hold
        }
        let chars = scan.text.chars().count();
        if may_hold_at_start(&scan.text)
            && held.len() < MAX_HELD_LINES
            && self.held_chars + chars <= MAX_HELD_CHARS
        {
            self.held_chars += chars;
            held.push((
                LineScan {
                    number: scan.number,
                    stamp: scan.stamp,
                    resolution: scan.resolution,
                    style: scan.style,
                    text: Cow::Owned(scan.text.into_owned()),
                    segmented: scan.segmented,
                    nanos: scan.nanos,
                    ticks: scan.ticks,
                    cut: scan.cut,
                    report_end: scan.report_end,
                },
                ts,
            ));
            return;
        }
        let held = self.held.take().expect("held lines");
        if !held.is_empty()
            && !scan.text.starts_with([' ', '\t'])
            && is_cut_traceback(&held, &scan.text)
        {
            // read as if its header came just before: every held line and this one are its
            let (first, first_ts) = &held[0];
            let row = table
                .rows
                .iter()
                .position(|row| row.name == "traceback")
                .expect("the traceback row");
            let text = head_chars(pytext::strip(&first.text), TEXT_CHARS).to_string();
            self.tracebacks.open = Some(Traceback::begun(row, first.number, *first_ts, 0, text));
        }
        self.release(table, held, out);
        self.parse(table, scan, ts, out);
    }

    /// parser.py's `_release`: the held lines, read in order as if none had been held.
    fn release(
        &mut self,
        table: &Table,
        held: Vec<(LineScan<'static>, Option<i64>)>,
        out: &mut Vec<Item>,
    ) {
        self.held = None;
        for (scan, ts) in held {
            self.parse(table, scan, ts, out);
        }
    }

    /// A line whose prefix is read and time resolved: its items, after the activity runs up to it.
    fn parse(&mut self, table: &Table, scan: LineScan, ts: Option<i64>, out: &mut Vec<Item>) {
        let line = scan.number;
        if self.tracebacks.active() {
            let (taken, done) = self.tracebacks.feed(table, line, ts, &scan.text);
            if taken {
                self.mark(line, ts, scan.resolution, Phase::Other, false);
                self.move_closed(out);
                return;
            }
            if let Some(tb) = done {
                out.push(Item::Traceback(Box::new(tb)));
            }
        }
        let close = match &self.bar {
            Some(bar) if bar.complete() && bar.last().line < line => {
                !self.is_close_redraw(bar, &scan, ts)
            }
            _ => false,
        };
        if close {
            self.close_bar(out);
        }
        let mut events = std::mem::take(&mut self.events);
        let (phase, isolated, quiet) = (
            scan.segmented.phase,
            scan.segmented.isolated,
            scan.segmented.quiet,
        );
        // the ops are moved out when the line alone holds them, else (a memo's) copied one by one
        match Arc::try_unwrap(scan.segmented) {
            Ok(owned) => {
                for op in owned.ops {
                    self.op(table, op, line, ts, &mut events, out);
                }
            }
            Err(shared) => {
                for op in &shared.ops {
                    self.op(table, op.clone(), line, ts, &mut events, out);
                }
            }
        }
        if !quiet {
            self.mark(line, ts, scan.resolution, phase, isolated);
        }
        if !events.is_empty() {
            self.flush_activity(out);
            out.append(&mut events);
        } else {
            self.move_closed(out);
        }
        self.events = events; // empty, its room kept for the next line
    }

    fn op(
        &mut self,
        table: &Table,
        op: Op,
        line: u64,
        ts: Option<i64>,
        events: &mut Vec<Item>,
        out: &mut Vec<Item>,
    ) {
        match op {
            Op::Clock(t) => {
                self.clock.time_only(t);
            }
            Op::Skip => self.skipped_lines += 1,
            Op::Progress(state) => self.progress(state, line, ts, out),
            Op::Message { row, text, groups } => {
                self.emit(table, row, text, groups, line, ts, events, out)
            }
        }
    }

    /// The end of the input: what is still open.
    pub fn close(&mut self, table: &Table, out: &mut Vec<Item>) {
        if let Some(held) = self.held.take() {
            self.release(table, held, out);
        }
        self.tracebacks.close(out);
        self.close_bar(out);
        self.close_lowvram(out);
        self.flush_activity(out);
    }

    #[allow(clippy::too_many_arguments)]
    fn emit(
        &mut self,
        table: &Table,
        row: usize,
        text: Arc<str>,
        groups: Arc<[Option<Arc<str>>]>,
        line: u64,
        ts: Option<i64>,
        events: &mut Vec<Item>,
        out: &mut Vec<Item>,
    ) {
        let role = table.rows[row].role;
        if role == Role::LowvramModule {
            let run = self.lowvram.get_or_insert(Item::Lowvram {
                row,
                line,
                ts,
                end_line: line,
                end_ts: ts,
                count: 0,
                text,
            });
            if let Item::Lowvram {
                count,
                end_line,
                end_ts,
                ..
            } = run
            {
                *count += 1;
                *end_line = line;
                *end_ts = ts;
            }
            return;
        }
        self.close_lowvram(out);
        if role == Role::Traceback {
            let mut tb = Traceback::begun(row, line, ts, 1, text.to_string());
            tb.first_file =
                matchers::file_frame(&text).map(|(a, b)| head_chars(&text[a..b], 300).to_string());
            if tb.first_file.is_some() {
                tb.note("first_file"); // a first frame glued to the line
                let glued = tb.text.clone();
                tb.note_frame(&glued);
            }
            self.tracebacks.open = Some(tb);
            return;
        }
        if matches!(role, Role::ClosesBar | Role::StartMarker) {
            self.close_bar(out);
        }
        events.push(Item::Message {
            row,
            line,
            ts,
            text,
            groups,
        });
    }

    fn progress(&mut self, state: State, line: u64, ts: Option<i64>, out: &mut Vec<Item>) {
        let new_bar = match &self.bar {
            Some(bar) => {
                let last = &bar.last().state;
                last.total != state.total
                    || last.label != state.label
                    || state.n < last.n
                    || (bar.complete()
                        && line > bar.last().line
                        && !bar.continues(line, ts, state.n, state.elapsed))
            }
            None => false,
        };
        if new_bar {
            self.close_bar(out);
        }
        let s = BarState { line, ts, state };
        match &mut self.bar {
            Some(bar) => bar.push(s),
            None => {
                self.bar = Some(Bar {
                    first: s.clone(),
                    recent: vec![s],
                    count: 1,
                    ts_before: self.mark_ts,
                })
            }
        }
    }

    /// parser.py's `_is_close_redraw`: does this line redraw the completed bar (tqdm's close())?
    fn is_close_redraw(&self, bar: &Bar, scan: &LineScan, ts: Option<i64>) -> bool {
        let Some(m) = progress::find_state(scan.text.trim_start_matches('\r')) else {
            return false;
        };
        let label = progress::label(m.label);
        let numbers = (
            progress::si_number(m.n),
            progress::si_number(m.total),
            progress::elapsed_seconds(m.elapsed),
        );
        let (Some(n), Some(total), Some(elapsed)) = numbers else {
            return false;
        };
        let last = &bar.last().state;
        label == last.label && total == last.total && bar.continues(scan.number, ts, n, elapsed)
    }

    fn close_bar(&mut self, out: &mut Vec<Item>) {
        let Some(bar) = self.bar.take() else {
            return;
        };
        self.flush_activity(out);
        let last = bar.last().clone();
        // parser.py's `_close_bar`: a redraw at the same count and a later elapsed (tqdm's close() long after the
        // last step, an interrupt's redraw) averages in the time after the steps: the steps' rate is the one drawn
        // at the last step (CLOSE_AFTER_STEPS_SHARE).
        let (mut rate, mut elapsed) = (last.state.rate, last.state.elapsed);
        if let [.., before, _] = bar.recent.as_slice() {
            let b = &before.state;
            if b.n == last.state.n
                && b.rate.is_some()
                && b.unit == last.state.unit
                && last.state.elapsed - b.elapsed > CLOSE_AFTER_STEPS_SHARE * b.elapsed
            {
                rate = b.rate;
                // the close's own rate still times the bar finer than its whole seconds
                elapsed =
                    progress::bar_seconds(elapsed, last.state.n, last.state.rate, &last.state.unit);
            }
        }
        out.push(Item::Bar(Box::new(ClosedBar {
            line: bar.first.line,
            ts: bar.first.ts,
            end_line: last.line,
            end_ts: last.ts,
            label: last.state.label,
            total: last.state.total,
            done: last.state.n,
            final_rate: rate,
            unit: last.state.unit,
            elapsed,
            first_elapsed: bar.first.state.elapsed,
            states: bar.count,
            ts_before: bar.ts_before,
        })));
    }

    fn close_lowvram(&mut self, out: &mut Vec<Item>) {
        if let Some(run) = self.lowvram.take() {
            self.flush_activity(out);
            out.push(run);
        }
    }

    /// parser.py's `_mark`: a timestamped line joins the activity runs.
    fn mark(&mut self, line: u64, ts: Option<i64>, resolution: f64, phase: Phase, isolated: bool) {
        let Some(mut ts) = ts else {
            return;
        };
        if let Some(prev) = self.mark_ts {
            if ts >= prev.saturating_sub(CLOCK_RESET_US) {
                ts = ts.max(prev); // a moment back is two writers, not time running backwards
            }
        }
        self.mark_ts = Some(ts);
        let fresh = Activity {
            phase,
            first_ts: ts,
            last_ts: ts,
            first_line: line,
            last_line: line,
            resolution,
        };
        if isolated {
            if let Some(act) = self.activity.take() {
                self.closed.push(act);
            }
            self.closed.push(fresh);
            self.isolate_next = true;
            return;
        }
        if let Some(act) = &mut self.activity {
            if act.phase == phase && phase != Phase::Wait && !self.isolate_next {
                act.last_ts = ts;
                act.last_line = line;
                act.resolution = act.resolution.max(resolution);
                return;
            }
        }
        if let Some(act) = self.activity.take() {
            self.closed.push(act);
        }
        self.activity = Some(fresh);
        self.isolate_next = false;
    }

    fn move_closed(&mut self, out: &mut Vec<Item>) {
        out.extend(self.closed.drain(..).map(Item::Activity));
    }

    fn flush_activity(&mut self, out: &mut Vec<Item>) {
        out.extend(self.closed.drain(..).map(Item::Activity));
        if let Some(act) = self.activity.take() {
            out.push(Item::Activity(act));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::tests::table;

    fn parse(log: &str) -> (Vec<Item>, Arc<Table>) {
        let table = Arc::new(table());
        let mut parser = Parser::new();
        let (scans, _) = scan_block(&table, log, 1, None, &mut Vec::new());
        let mut out = Vec::new();
        for scan in scans {
            parser.feed(&table, ready(scan), &mut out);
        }
        parser.close(&table, &mut out);
        (out, table)
    }

    fn names(items: &[Item], table: &Table) -> Vec<String> {
        items
            .iter()
            .map(|it| match it {
                Item::Activity(a) => format!("act:{:?}:{}-{}", a.phase, a.first_line, a.last_line),
                Item::Message { row, .. } => table.rows[*row].name.clone(),
                Item::Bar(bar) => format!("bar:{}", bar.states),
                Item::Lowvram { count, .. } => format!("lowvram:{count}"),
                Item::Traceback(tb) => format!("traceback:{}", tb.lines),
            })
            .collect()
    }

    #[test]
    fn a_prompt_with_a_sampling_bar() {
        let log = "2025-10-23T16:28:00.000000Z got prompt\n\
                   2025-10-23T16:28:01.000000Z Requested to load WanVAE\n\
                   2025-10-23T16:28:05.000000Z  50%|█████     | 1/2 [00:02<00:02, 2.00s/it]\r100%|██████████| 2/2 [00:04<00:00, 2.00s/it]\n\
                   2025-10-23T16:28:06.000000Z Prompt executed in 6.00 seconds\n";
        let (items, table) = parse(log);
        assert_eq!(
            names(&items, &table),
            [
                "act:Other:1-1",
                "prompt_received",
                "act:Load:2-2",
                "load_requested",
                "act:Other:3-3",
                "bar:2",
                "act:Other:4-4",
                "prompt_executed"
            ]
        );
    }

    #[test]
    fn lowvram_lines_are_counted_and_tracebacks_grouped() {
        let log = "lowvram: loaded module regularly a.b RMS_norm()\n\
                   lowvram: loaded module regularly c.d Linear()\n\
                   Traceback (most recent call last):\n  File \"x.py\", line 1, in <module>\n\
                   torch.OutOfMemoryError: CUDA out of memory.\ngot prompt\n";
        let (items, table) = parse(log);
        assert_eq!(
            names(&items, &table),
            ["lowvram:2", "traceback:2", "prompt_received"]
        );
        let Item::Traceback(tb) = &items[1] else {
            panic!()
        };
        let exc = tb.exception.as_ref().unwrap();
        assert_eq!(
            (exc.0.as_str(), exc.2, exc.3),
            ("torch.OutOfMemoryError", true, 5)
        );
    }

    /// Comfy-Org/ComfyUI #6176 (tests/fixtures/oom-traceback-head-cut.log): a paste that starts inside a
    /// traceback, its header cut off, is a traceback from its first line; indented lines that end in no
    /// exception line (a cut import-times list) are read as the lines they are.
    #[test]
    fn a_traceback_whose_head_is_cut_is_read_from_the_first_line() {
        let log = "    return self.model.partially_load(self.device, extra_memory)\n\
                   \x20 File \"C:\\ComfyUI\\comfy\\model_patcher.py\", line 620, in load\n\
                   \x20   x[2].to(device_to)\n\
                   torch.OutOfMemoryError: Allocation on device \n\
                   Got an OOM, unloading all loaded models.\n";
        let (items, table) = parse(log);
        assert_eq!(names(&items, &table), ["traceback:3", "oom"]);
        let Item::Traceback(tb) = &items[0] else {
            panic!()
        };
        assert_eq!((tb.line, tb.end_line), (1, 4));
        assert_eq!(tb.frames, ["model_patcher.py:load"]);
        let log = "   0.0 seconds: /ComfyUI/custom_nodes/websocket_image_save.py\n\
                   \x20  0.0 seconds (IMPORT FAILED): /ComfyUI/custom_nodes/DesktopSettingsExtension\n\
                   Starting server\n";
        let (items, table) = parse(log);
        assert_eq!(
            names(&items, &table),
            ["import_time", "import_time", "server_starting"]
        );
    }

    fn ready(scan: Scan) -> LineScan {
        match scan {
            Scan::Ready(line) => line,
            Scan::Redact(..) => panic!("no redaction here"),
        }
    }

    fn items_of(table: &Arc<Table>, scans: Vec<Scan>) -> Vec<Item> {
        let mut parser = Parser::new();
        let mut out = Vec::new();
        for scan in scans {
            parser.feed(table, ready(scan), &mut out);
        }
        parser.close(table, &mut out);
        out
    }

    #[test]
    fn scanning_in_parallel_gives_the_serial_result() {
        let log = include_str!("../../examples/runpod-lowvram-gguf.log").repeat(40);
        let table = Arc::new(table());
        let serial: Vec<Scan> = {
            let mut counts = Counts::default();
            let mut memo = SegmentMemo::new(&table);
            let body = log.strip_suffix('\n').unwrap_or(&log);
            body.split('\n')
                .enumerate()
                .map(|(i, line)| {
                    let reading = Reading::default();
                    scan_line(&table, i as u64 + 1, line, &mut counts, reading, &mut memo)
                })
                .collect()
        };
        let expected = items_of(&table, serial);
        for threads in [1, 2, 4] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let (scans, _) =
                scan_block_in(Some(&pool), &table, &log, 1, None, false, &mut Vec::new());
            assert!(scans.len() > 2 * LINES_PER_TASK);
            assert_eq!(items_of(&table, scans), expected, "{threads} threads");
        }
        // no pool (a fleet's worker, scan::serial): the pieces in turn on this thread
        let (scans, _) = scan_block_in(None, &table, &log, 1, None, false, &mut Vec::new());
        assert_eq!(items_of(&table, scans), expected, "no pool");
    }

    #[test]
    fn lines_with_a_redaction_needle_wait_for_the_redactor() {
        let table = table();
        let redaction =
            Redaction::new(&["rpa_".to_string()], &["token".to_string()], false).unwrap();
        let log = "got prompt\nRUNPOD_API_KEY=rpa_ABCDEFGHIJKLMNOPQRST\nHF_TOKEN: x\n\u{212a}ey\n";
        let (scans, _) = scan_block(&table, log, 1, Some(&redaction), &mut Vec::new());
        let waiting: Vec<u64> = scans
            .iter()
            .filter_map(|s| match s {
                Scan::Redact(n, _) => Some(*n),
                Scan::Ready(_) => None,
            })
            .collect();
        assert_eq!(waiting, [2, 3]);
        let kelvin = Redaction::new(&[], &["key".to_string()], false).unwrap();
        assert!(kelvin.wants("\u{212a}ey=1"));
    }

    #[test]
    fn ascii_lines_are_redacted_on_the_scan_threads_and_the_rest_wait_for_python() {
        let table = table();
        let redaction = Redaction::new(&["/home/".to_string()], &[], true).unwrap();
        // 012-liquid-rx7900xtx-95prompts.log's line, then one redact.rs leaves to Python
        let log =
            "[2024-02-10 04:01] ** Python executable: /home/sebastian/projects/ComfyUI/python\n\
                   /home/zo\u{eb}/ComfyUI\n";
        let (scans, counts) = scan_block(&table, log, 1, Some(&redaction), &mut Vec::new());
        match &scans[0] {
            Scan::Ready(line) => assert_eq!(
                line.text,
                "** Python executable: /home/[redacted:user]/projects/ComfyUI/python"
            ),
            Scan::Redact(..) => panic!("an ASCII line waited for Python"),
        }
        assert!(matches!(&scans[1], Scan::Redact(2, text) if text == "/home/zo\u{eb}/ComfyUI"));
        assert_eq!(redact::counted(&counts.redactions), [("user", 1)]);
    }

    #[test]
    fn frames_are_read_as_their_regexes_read_them() {
        let function_frame =
            compile(r#"File "([^"]+)", line [0-9]+, in ([A-Za-z0-9_<>.]+)"#).unwrap();
        let file_frame = compile(r#"File "([^"]+)""#).unwrap();
        let custom_node_frame = compile(r#"File "[^"]*[/\\]custom_nodes[/\\]([^/\\"]+)"#).unwrap();
        let logs = [
            include_str!("../../tests/fixtures/manager-model-install-idle.log"),
            include_str!("../../tests/fixtures/mac-cuda-only-node.log"),
            include_str!("../../tests/fixtures/xformers-dll-mismatch.log"),
            include_str!("../../tests/fixtures/import-failed-long-path.log"),
            include_str!("../../tests/fixtures/torch-dll-windows.log"),
        ];
        let mut lines: Vec<String> = Vec::new();
        for line in logs.iter().flat_map(|log| log.lines()) {
            if !line.contains("File ") {
                continue;
            }
            lines.push(line.to_string());
            let at = line.find("File ").unwrap();
            // a frame's parts cut, emptied or doubled, and a second frame after a broken one
            lines.push(line.replacen(", line ", ", line x", 1));
            lines.push(line.replacen(", in ", ", in \u{e9}", 1));
            lines.push(line.replacen("File \"", "File \"\"", 1));
            lines.push(format!("{}File \"\" {}", &line[..at], &line[at..]));
            lines.push(format!("File \"a\", line , in x {line}"));
            for (from, to) in [("custom_nodes", "custom_nodes/"), ("/", "\\"), ("\"", "")] {
                lines.push(line.replacen(from, to, 1));
            }
            lines.push(line.replacen("File \"", "File \"/custom_nodes/", 1));
            lines.push(line.replacen("File \"", "File \"/custom_nodes/a/custom_nodes//", 1));
            for cut in (at..line.len()).filter(|&i| line.is_char_boundary(i)) {
                lines.push(line[..cut].to_string());
            }
        }
        assert!(lines.len() > 100);
        let spans = |c: &regex::Captures, i: usize| c.get(i).map(|g| (g.start(), g.end()));
        for line in &lines {
            let expected = function_frame
                .captures(line)
                .map(|c| (spans(&c, 1).unwrap(), spans(&c, 2).unwrap()));
            assert_eq!(matchers::function_frame(line), expected, "{line:?}");
            let expected = file_frame.captures(line).and_then(|c| spans(&c, 1));
            assert_eq!(matchers::file_frame(line), expected, "{line:?}");
            let expected = custom_node_frame.captures(line).and_then(|c| spans(&c, 1));
            assert_eq!(matchers::custom_node_frame(line), expected, "{line:?}");
        }
    }

    #[test]
    fn frame_owners_name_the_library_or_the_custom_node() {
        // frames' paths from corpus 043 (docker, dist-packages) and 008 (Windows, portable build)
        for (path, owner) in [
            (
                "/usr/local/lib/python3.10/dist-packages/transformers/utils/generic.py",
                "transformers",
            ),
            ("/comfyui/comfy/ldm/cascade/stage_c_coder.py", ""),
            (
                r"C:\Users\Hugo JL\Documents\ComfyUI_windows_portable\python_embeded\Lib\site-packages\ultralytics\engine\model.py",
                "ultralytics",
            ),
            (
                r"C:\Users\Hugo JL\Documents\ComfyUI_windows_portable\ComfyUI\custom_nodes\ComfyUI-Impact-Pack\modules\impact\impact_pack.py",
                "custom_nodes/ComfyUI-Impact-Pack",
            ),
            // a module right in site-packages, an empty folder name, the last owner folder winning
            ("/venv/lib/site-packages/six.py", ""),
            ("/venv/lib/site-packages//x.py", ""),
            ("/ComfyUI/custom_nodes//x.py", ""),
            (
                "/c/custom_nodes/n/venv/site-packages/numpy/core.py",
                "numpy",
            ),
        ] {
            assert_eq!(frame_owner(path), owner, "{path}");
        }
    }

    #[test]
    fn lines_are_split_as_str_split_splits_them() {
        for body in [
            "",
            "a",
            "a\n",
            "\n\n",
            "got prompt\r\n\nPrompt executed in 1.00 seconds",
        ] {
            assert_eq!(
                split_lines(body),
                body.split('\n').collect::<Vec<_>>(),
                "{body:?}"
            );
        }
    }

    #[test]
    fn an_item_is_small_whatever_its_kind() {
        assert!(
            std::mem::size_of::<Item>() <= 80,
            "{}",
            std::mem::size_of::<Item>()
        );
    }

    #[test]
    fn glued_messages() {
        let (items, table) = parse("got promptLoading 1 new model\n");
        assert_eq!(
            names(&items, &table),
            ["prompt_received", "loading_new_models"]
        );
    }
}
