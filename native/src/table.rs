//! The message table, read from the same messages.toml text the Python parser reads
//! (comfylog/parse/table.py): needles found with one Aho-Corasick scan, rows' regexes run only at
//! the needle found. Field values are left as matched text: Python types them with its own
//! converters, so a row's fields mean the same whichever scanner read the line.

use crate::pytext::{self, compile};
use crate::rowmatch;
use aho_corasick::automaton::Automaton;
use aho_corasick::{Input, MatchKind};
use regex::{CaptureLocations, Regex};
use serde::Deserialize;
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// What the time before a line was spent on (comfylog.events.Phase), as the table names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    Load,
    Inference,
    Wait,
    Other,
}

impl Phase {
    pub fn parse(name: &str) -> Option<Phase> {
        match name {
            "load" => Some(Phase::Load),
            "inference" => Some(Phase::Inference),
            "wait" => Some(Phase::Wait),
            "other" => Some(Phase::Other),
            _ => None,
        }
    }

    /// The index Python's side maps back to a Phase (comfylog/parse/native.py keeps the order).
    pub fn index(self) -> u8 {
        match self {
            Phase::Load => 0,
            Phase::Inference => 1,
            Phase::Wait => 2,
            Phase::Other => 3,
        }
    }
}

/// One row of the table, compiled for Rust.
pub struct Row {
    pub name: String,
    pub kind: String,
    /// The row's pattern (Rust's form), compiled on first use: a small log meets few rows, and
    /// compiling all of them at start-up cost more than scanning it.
    pattern: String,
    regex: OnceLock<Compiled>,
    /// Reads the row in its regex's stead (rowmatch.rs), for a row whose regex costs more to compile
    /// than a process spends matching it.
    hand: Option<rowmatch::Matcher>,
    not_followed_by: Option<Regex>,
    pub glued: bool,
    pub phase: Phase,
    /// What the parser does with the row's kind beyond making an event (parser.py's sets).
    pub role: Role,
}

/// A row's regex and the indices of its named groups (its fields), in order.
struct Compiled {
    regex: Regex,
    named: Vec<usize>,
}

impl Row {
    fn compiled(&self) -> &Compiled {
        self.regex.get_or_init(|| {
            let regex = pytext::compile_translated(&self.pattern)
                .expect("a row's regex parsed at load compiles");
            let named = regex
                .capture_names()
                .enumerate()
                .filter_map(|(i, name)| name.map(|_| i))
                .collect();
            Compiled { regex, named }
        })
    }

    #[cfg(test)]
    fn regex(&self) -> &Regex {
        &self.compiled().regex
    }
}

/// Texts searched with the needles' NFA before their DFA is built (Table::dfa). Measured with
/// callgrind on corpus lines: the NFA costs ~610 instructions a line more than the DFA, whose build
/// costs ~24 M, so after ~40,000 lines the NFA's extra has paid for a DFA: building it then makes a
/// long log pay at most one build more than building it at once, and spares a short log the build.
const DFA_AFTER_LINES: u64 = 40_000;

/// The first table id not yet given (a table's id tells the capture slots of its rows apart).
static NEXT_TABLE_ID: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// Capture slots kept from line to line on this thread, per row of the table `.0` (their
    /// allocation cost as much as a short row's match).
    static SLOTS: RefCell<(u64, Vec<Option<CaptureLocations>>)> =
        const { RefCell::new((0, Vec::new())) };
}

/// Kinds that need state in the parser; every other kind is one event per match.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Plain,
    /// Closes an open progress bar first (parser.py's CLOSES_BAR).
    ClosesBar,
    /// A start-up marker: closes the bar, and its line is an activity of its own (START_MARKERS).
    StartMarker,
    /// A line a restarted process prints first (`Adding extra search path`, `Total VRAM`): its line is an
    /// activity of its own too (START_MARKERS), but it closes no bar.
    ProcessStart,
    /// Consecutive lines are counted into one event.
    LowvramModule,
    /// Opens a traceback (traceback.py's automaton).
    Traceback,
    /// Another thread's line (EventKind.BACKGROUND): no event, and a line of only these is no activity.
    Background,
}

impl Role {
    fn of(kind: &str) -> Role {
        match kind {
            "cuda_banner" | "manager_startup" | "server_starting" | "worker_starting" => {
                Role::StartMarker
            }
            "extra_search_path" | "total_vram" => Role::ProcessStart,
            "prompt_executed" | "exception" | "interrupted" => Role::ClosesBar,
            "lowvram_modules" => Role::LowvramModule,
            "traceback" => Role::Traceback,
            "background" => Role::Background,
            _ => Role::Plain,
        }
    }
}

/// A row's match in a text: where it is, and its named groups in the order of the regex.
pub struct Found {
    pub row: usize,
    pub end: usize,
    pub groups: Vec<Option<(usize, usize)>>,
}

pub struct Table {
    id: u64,
    pub rows: Vec<Row>,
    /// The needles' automata, used directly (not behind AhoCorasick's dynamic dispatch: they are
    /// run on most lines, most of them short). The first DFA_AFTER_LINES texts are searched with
    /// a contiguous NFA, cheap to build; the DFA, whose build was a third of a small log's native
    /// work (28 M instructions), is built once a log has that many lines to pay for it. Both are
    /// leftmost-longest over the same needles, so they find the same needle at the same place.
    needles: aho_corasick::nfa::contiguous::NFA,
    needles_dfa: OnceLock<Option<aho_corasick::dfa::DFA>>,
    needle_texts: Vec<String>,
    searched: AtomicU64,
    by_needle: Vec<Vec<usize>>,
    oom: Regex,
}

#[derive(Deserialize)]
struct RawTable {
    message: Vec<RawRow>,
    #[serde(default)]
    text_classes: HashMap<String, String>,
}

#[derive(Deserialize)]
struct RawRow {
    name: String,
    kind: String,
    needles: Vec<String>,
    regex: String,
    not_followed_by: Option<String>,
    phase: Option<String>,
    #[serde(default)]
    glued: bool,
}

impl Table {
    /// Compile the table from messages.toml's text; the error names the row and what is wrong.
    pub fn load(text: &str) -> Result<Table, String> {
        let raw: RawTable = toml::from_str(text).map_err(|e| format!("messages.toml: {e}"))?;
        let mut rows = Vec::with_capacity(raw.message.len());
        let mut needle_ids: HashMap<String, usize> = HashMap::new();
        let mut needles: Vec<String> = Vec::new();
        let mut by_needle: Vec<Vec<usize>> = Vec::new();
        for (index, r) in raw.message.into_iter().enumerate() {
            // Checked now (parsed, not compiled), so a bad row fails at load, naming itself.
            let pattern = pytext::python_regex(&r.regex);
            regex_syntax::Parser::new().parse(&pattern).map_err(|e| {
                format!(
                    "message {:?}: the regex does not compile in Rust: {e}",
                    r.name
                )
            })?;
            let not_followed_by = match &r.not_followed_by {
                Some(p) => Some(compile(&format!("^(?:{p})")).map_err(|e| {
                    format!(
                        "message {:?}: not_followed_by does not compile in Rust: {e}",
                        r.name
                    )
                })?),
                None => None,
            };
            let phase_name = r.phase.as_deref().unwrap_or("other");
            let phase = Phase::parse(phase_name)
                .ok_or_else(|| format!("message {:?}: unknown phase {phase_name:?}", r.name))?;
            for needle in &r.needles {
                let id = *needle_ids.entry(needle.clone()).or_insert_with(|| {
                    needles.push(needle.clone());
                    by_needle.push(Vec::new());
                    needles.len() - 1
                });
                by_needle[id].push(index);
            }
            rows.push(Row {
                role: Role::of(&r.kind),
                hand: rowmatch::for_row(&r.regex, not_followed_by.is_some()),
                name: r.name,
                kind: r.kind,
                pattern,
                regex: OnceLock::new(),
                not_followed_by,
                glued: r.glued,
                phase,
            });
        }
        // Python's needle regex is an alternation, longest needle first: at the leftmost needle,
        // the longest one there wins. Aho-Corasick's leftmost-longest is that rule.
        let needles_ac = aho_corasick::nfa::contiguous::NFA::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .build(&needles)
            .map_err(|e| format!("messages.toml needles: {e}"))?;
        let oom_text = raw
            .text_classes
            .get("oom")
            .ok_or("messages.toml: no text_classes.oom")?;
        let oom = compile(oom_text).map_err(|e| format!("text_classes.oom: {e}"))?;
        Ok(Table {
            id: NEXT_TABLE_ID.fetch_add(1, Ordering::Relaxed),
            rows,
            needles: needles_ac,
            needles_dfa: OnceLock::new(),
            needle_texts: needles,
            searched: AtomicU64::new(0),
            by_needle,
            oom,
        })
    }

    /// This table's id, given to no other table of the process (memos and capture slots name the
    /// table they belong to by it).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Text that means the GPU ran out of memory (table.py's `is_oom`).
    pub fn is_oom(&self, text: &str) -> bool {
        self.oom.is_match(text)
    }

    /// The message in `text` (table.py's `find_message`): at the first needle whose rows match,
    /// the first row that matches; a row that failed once is not tried again on the same text.
    pub fn find(&self, text: &str) -> Option<Found> {
        match self.dfa() {
            Some(dfa) => self.find_with(dfa, text),
            None => self.find_with(&self.needles, text),
        }
    }

    /// The DFA once DFA_AFTER_LINES texts have been searched (None before, or if it could not be
    /// built: the NFA then searches every text, finding the same).
    fn dfa(&self) -> Option<&aho_corasick::dfa::DFA> {
        if let Some(built) = self.needles_dfa.get() {
            return built.as_ref();
        }
        if self.searched.fetch_add(1, Ordering::Relaxed) < DFA_AFTER_LINES {
            return None;
        }
        self.needles_dfa
            .get_or_init(|| {
                aho_corasick::dfa::DFA::builder()
                    .match_kind(MatchKind::LeftmostLongest)
                    .build(&self.needle_texts)
                    .ok()
            })
            .as_ref()
    }

    fn find_with(&self, needles: &impl Automaton, text: &str) -> Option<Found> {
        let mut pos = 0;
        let mut failed: Vec<usize> = Vec::new();
        while pos <= text.len() {
            let m = needles
                .try_find(&Input::new(text).span(pos..text.len()))
                .expect("an unanchored search of a leftmost-longest automaton")?;
            for &row in &self.by_needle[m.pattern().as_usize()] {
                if failed.contains(&row) {
                    continue;
                }
                if let Some(found) = self.search(row, text) {
                    return Some(found);
                }
                failed.push(row);
            }
            pos = pytext::next_char(text, m.start());
        }
        None
    }

    fn search(&self, row: usize, text: &str) -> Option<Found> {
        let r = &self.rows[row];
        if let Some(hand) = r.hand {
            let (end, groups) = hand(text)?;
            return Some(Found { row, end, groups });
        }
        let compiled = r.compiled();
        let regex = &compiled.regex;
        let nfb = r.not_followed_by.as_ref();
        if compiled.named.is_empty() {
            // no fields: where the match ends is all that is wanted, and a DFA finds it
            let m = unfollowed(nfb, text, |from| regex.find_at(text, from))?;
            return Some(Found {
                row,
                end: m.end(),
                groups: Vec::new(),
            });
        }
        SLOTS.with(|slots| {
            let mut slots = slots.borrow_mut();
            if slots.0 != self.id {
                *slots = (self.id, Vec::new());
            }
            if slots.1.len() < self.rows.len() {
                slots.1.resize_with(self.rows.len(), || None);
            }
            let locs = slots.1[row].get_or_insert_with(|| regex.capture_locations());
            let whole = unfollowed(nfb, text, |from| regex.captures_read_at(locs, text, from))?;
            Some(Found {
                row,
                end: whole.end(),
                groups: compiled.named.iter().map(|&i| locs.get(i)).collect(),
            })
        })
    }
}

/// The first match `find_at(from)` finds in `text` (from 0 on) that `not_followed_by` does not
/// follow: a match it follows is no match, and the search goes on after the match's first
/// character (table.py's loop).
fn unfollowed<'t>(
    not_followed_by: Option<&Regex>,
    text: &'t str,
    mut find_at: impl FnMut(usize) -> Option<regex::Match<'t>>,
) -> Option<regex::Match<'t>> {
    let mut m = find_at(0)?;
    let Some(nfb) = not_followed_by else {
        return Some(m);
    };
    while nfb.is_match(&text[m.end()..]) {
        let from = pytext::next_char(text, m.start());
        if from > text.len() {
            return None;
        }
        m = find_at(from)?;
    }
    Some(m)
}

#[cfg(test)]
pub mod tests {
    use super::*;

    pub fn table() -> Table {
        Table::load(include_str!("../../src/comfylog/parse/messages.toml")).unwrap()
    }

    fn name_of(t: &Table, text: &str) -> Option<String> {
        t.find(text).map(|f| t.rows[f.row].name.clone())
    }

    #[test]
    fn real_lines_find_their_rows() {
        let t = table();
        assert_eq!(
            name_of(&t, "got prompt").as_deref(),
            Some("prompt_received")
        );
        assert_eq!(name_of(&t, "got prompt: 1").as_deref(), None);
        assert_eq!(
            name_of(&t, "Prompt executed in 00:10:50").as_deref(),
            Some("prompt_executed")
        );
        assert_eq!(
            name_of(&t, "loaded partially; 0.00 MB usable, 0.00 MB loaded, 319.75 MB offloaded, 27.01 MB buffer reserved, lowvram patches: 0").as_deref(),
            Some("loaded_partially_new")
        );
        assert_eq!(name_of(&t, "nothing here").as_deref(), None);
        let text = "Total VRAM 24564 MB, total RAM 65277 MB";
        let f = t.find(text).unwrap();
        let groups: Vec<&str> = f
            .groups
            .iter()
            .map(|g| g.map_or("", |(a, b)| &text[a..b]))
            .collect();
        assert_eq!(groups, ["24564", "65277"]);
    }

    #[test]
    fn glued_prompt_ends_where_the_next_message_starts() {
        let t = table();
        let text = "got promptLoading 1 new model";
        let f = t.find(text).unwrap();
        assert!(t.rows[f.row].glued);
        assert_eq!(
            name_of(&t, &text[f.end..]).as_deref(),
            Some("loading_new_models")
        );
    }

    #[test]
    fn every_row_of_messages_toml_compiles() {
        let t = table();
        for row in &t.rows {
            assert!(row.regex().captures_len() >= 1, "{}", row.name);
        }
    }

    #[test]
    fn node_model_is_read_by_hand() {
        // messages.toml's row and rowmatch::NODE_MODEL are the same regex: an edit to either shows here
        let t = table();
        let row = t.rows.iter().find(|r| r.name == "node_model").unwrap();
        assert!(
            row.hand.is_some(),
            "node_model's regex is no longer rowmatch::NODE_MODEL"
        );
        let text = "[Qwen3-TTS] Loading local model: Qwen3-TTS-12Hz-1.7B-Base";
        let f = t.find(text).unwrap();
        assert_eq!(t.rows[f.row].name, "node_model");
        assert!(row.regex.get().is_none(), "the regex was not compiled");
    }

    #[test]
    fn oom_text() {
        let t = table();
        assert!(t.is_oom("torch.OutOfMemoryError: CUDA out of memory. Tried to allocate"));
        assert!(!t.is_oom("all good"));
    }

    #[test]
    fn a_match_not_followed_by_is_skipped_with_fields_or_without() {
        let t = Table::load(
            r#"
[text_classes]
oom = 'out of memory'

[[message]]
name = 'prompt_received'
kind = 'prompt_received'
needles = ['got prompt']
regex = 'got prompt'
not_followed_by = '\s*:'

[[message]]
name = 'prompt_executed'
kind = 'prompt_executed'
needles = ['Prompt executed in']
regex = 'Prompt executed in (?P<seconds>[0-9.]+)'
not_followed_by = ' minutes'
"#,
        )
        .unwrap();
        let text = "got prompt: 1 got prompt";
        let f = t.find(text).unwrap();
        assert_eq!((f.row, f.end), (0, text.len()));
        assert!(t.find("got prompt  : 1").is_none());
        let text = "Prompt executed in 3 minutes; Prompt executed in 4.5 seconds";
        let f = t.find(text).unwrap();
        let (a, b) = f.groups[0].unwrap();
        assert_eq!((f.row, &text[a..b]), (1, "4.5"));
        assert!(t.find("Prompt executed in 3 minutes").is_none());
    }

    #[test]
    fn a_bad_row_is_named() {
        let err = Table::load("[[message]]\nname='x'\nkind='k'\nneedles=['a']\nregex='(?<=a)b'\n")
            .err()
            .unwrap();
        assert!(err.contains("\"x\""), "{err}");
    }

    #[test]
    fn the_nfa_and_the_dfa_find_the_same_messages() {
        // Table::dfa switches automata after DFA_AFTER_LINES texts: what a line yields must not
        // depend on how many lines came before it.
        let t = table();
        let dfa = aho_corasick::dfa::DFA::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .build(&t.needle_texts)
            .unwrap();
        let logs = [
            include_str!("../../examples/local-baseline.log"),
            include_str!("../../examples/runpod-lowvram-gguf.log"),
            include_str!("../../examples/runpod-oom-restart.log"),
            include_str!("../../tests/fixtures/004-glued-prompt-mid-bar.log"),
            include_str!("../../tests/fixtures/wan-81-frames-finished.log"),
        ];
        let mut found = 0;
        for line in logs.iter().flat_map(|log| log.lines()) {
            let by_nfa = t.find_with(&t.needles, line);
            let by_dfa = t.find_with(&dfa, line);
            let key = |f: &Option<Found>| f.as_ref().map(|f| (f.row, f.end, f.groups.clone()));
            assert_eq!(key(&by_nfa), key(&by_dfa), "{line}");
            found += usize::from(by_nfa.is_some());
        }
        assert!(found > 30, "{found} lines with a message");
    }

    #[test]
    fn the_dfa_is_built_after_enough_lines() {
        let t = table();
        for _ in 0..DFA_AFTER_LINES {
            assert!(t.find("got prompt").is_some());
        }
        assert!(t.needles_dfa.get().is_none());
        assert!(t.find("got prompt").is_some());
        assert!(matches!(t.needles_dfa.get(), Some(Some(_))));
    }
}
