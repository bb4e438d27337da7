//! Whole spool blocks of final records written as pickle bytes on the scan thread, compressed as
//! comfylog/spool.py compresses its blocks, so that Python neither makes the objects of records
//! bound for disk nor pickles them (per 100 MB of log ~100,000 records; a Prompt with its spans
//! cost Python ~10 µs to pickle). spool.py reads such a block back with `pickle.loads` as one of
//! its own: each record is `Class(*fields)` (model.py's `_by_fields`), each time a `datetime` from
//! its pickled state, each phase or bar kind its enum called with its value. Equal texts, times
//! and enum members are written once per block and shared when read back, as Python's pickler
//! shares the objects topy.rs caches.

use super::emit::{self, Class, Shape, Sink};
use super::jsonrows;
use super::phases::Ts;
use super::records::{Bar, BarKind, ErrorRec, Load, Prompt, Run};
use super::{BarsPart, Final, PromptsPart};
use crate::prefix;
use crate::scan::Item;
use crate::table::Phase;
use std::collections::{HashMap, VecDeque};
use std::io::Write;
use std::sync::Arc;

/// Where pickle finds model.py's classes, the enums and their values (read from the Python
/// objects once, by topy::RecordBuilder).
#[derive(Clone, Debug)]
pub struct Names {
    /// (module, qualified name) per emit::Class, in Class::ALL's order.
    pub classes: Vec<(String, String)>,
    /// The Phase enum's (module, name) and its values in table::Phase's order.
    pub phase: (String, String),
    pub phase_values: [String; 4],
    /// The BarKind enum's (module, name) and its values in records::BarKind's order.
    pub bar_kind: (String, String),
    pub bar_kind_values: [String; 3],
}

impl Names {
    /// model.py's names as RecordBuilder reads them from Python, for callers without Python (the
    /// scan_file example, tests).
    pub fn of_model_py() -> Names {
        let model = |name: &str| ("comfylog.model".to_string(), name.to_string());
        Names {
            classes: [
                "Run",
                "Prompt",
                "ProgressBar",
                "Load",
                "ErrorRecord",
                "Phases",
                "Span",
            ]
            .map(model)
            .to_vec(),
            phase: ("comfylog.events".to_string(), "Phase".to_string()),
            phase_values: ["load", "inference", "wait", "other"].map(String::from),
            bar_kind: model("BarKind"),
            bar_kind_values: ["sampling", "loading", "other"].map(String::from),
        }
    }
}

/// A value pickle cannot write as Python would make it (a year past 9999, an integer past
/// 2**127): the block goes to Python as objects instead, which make it or fail as before.
#[derive(Debug)]
pub struct Unpicklable;

type R = Result<(), Unpicklable>;

// The pickle opcodes written (Lib/pickle.py's names).
const PROTO: u8 = 0x80;
const STOP: u8 = b'.';
const MARK: u8 = b'(';
const NONE: u8 = b'N';
const NEWTRUE: u8 = 0x88;
const NEWFALSE: u8 = 0x89;
const BININT1: u8 = b'K';
const BININT2: u8 = b'M';
const BININT: u8 = b'J';
const LONG1: u8 = 0x8a;
const BINFLOAT: u8 = b'G';
const SHORT_BINUNICODE: u8 = 0x8c;
const BINUNICODE: u8 = b'X';
const BINUNICODE8: u8 = 0x8d;
const SHORT_BINBYTES: u8 = b'C';
const EMPTY_LIST: u8 = b']';
const APPENDS: u8 = b'e';
const EMPTY_DICT: u8 = b'}';
const SETITEMS: u8 = b'u';
const TUPLE: u8 = b't';
const TUPLE1: u8 = 0x85;
const STACK_GLOBAL: u8 = 0x93;
const REDUCE: u8 = b'R';
const MEMOIZE: u8 = 0x94;
const BINGET: u8 = b'h';
const LONG_BINGET: u8 = b'j';

/// Memo slots of the globals: the record classes, then these.
const DATETIME: usize = Class::ALL.len();
const PHASE: usize = DATETIME + 1;
const BAR_KIND: usize = PHASE + 1;

/// One block's pickle, written value by value.
pub struct Pickler<'n> {
    names: &'n Names,
    out: Vec<u8>,
    memo: u32,
    globals: [Option<u32>; BAR_KIND + 1],
    phases: [Option<u32>; 4],
    bar_kinds: [Option<u32>; 3],
    texts: HashMap<String, u32>,
    times: HashMap<Ts, u32>,
    /// The estimated bytes of the objects `pickle.loads` makes of what is written (CPython 3.11,
    /// 64-bit): what spool.py counts against its budget of decoded blocks.
    decoded: usize,
    /// Values in each open container, innermost last (a list's or tuple's size).
    open: Vec<usize>,
}

// Sizes of the objects decoded, as sys.getsizeof gives them (a tracked object's GC header
// included), for the estimate.
const INT_BYTES: usize = 28;
const FLOAT_BYTES: usize = 24;
const TEXT_BYTES: usize = 49; // plus one per ASCII character
const DATETIME_BYTES: usize = 48;
const RECORD_BYTES: usize = 32; // plus a slot per field
const LIST_BYTES: usize = 56; // plus a pointer per item
const TUPLE_BYTES: usize = 40; // plus a pointer per item
const DICT_BYTES: usize = 232; // up to five keys
const SLOT: usize = 8;

impl<'n> Pickler<'n> {
    pub fn new(names: &'n Names) -> Self {
        Pickler {
            names,
            out: vec![PROTO, 4],
            memo: 0,
            globals: [None; BAR_KIND + 1],
            phases: [None; 4],
            bar_kinds: [None; 3],
            texts: HashMap::new(),
            times: HashMap::new(),
            decoded: 0,
            open: Vec::new(),
        }
    }

    /// The estimated bytes of the objects the pickle decodes to.
    pub fn decoded(&self) -> usize {
        self.decoded
    }

    /// A value was written: the open container holds one more.
    fn counted(&mut self, bytes: usize) {
        self.decoded += bytes;
        if let Some(n) = self.open.last_mut() {
            *n += 1;
        }
    }

    /// The pickle of a list of the values written since `new` (begin(List) first).
    pub fn finish(mut self) -> Vec<u8> {
        self.out.push(STOP);
        self.out
    }

    /// Keep the value just written in the next memo slot.
    fn memoize(&mut self) -> u32 {
        self.out.push(MEMOIZE);
        self.memo += 1;
        self.memo - 1
    }

    fn get(&mut self, slot: u32) {
        if let Ok(small) = u8::try_from(slot) {
            self.out.extend([BINGET, small]);
        } else {
            self.out.push(LONG_BINGET);
            self.out.extend(slot.to_le_bytes());
        }
    }

    fn raw_text(&mut self, t: &str) {
        let bytes = t.as_bytes();
        if let Ok(n) = u8::try_from(bytes.len()) {
            self.out.extend([SHORT_BINUNICODE, n]);
        } else if let Ok(n) = u32::try_from(bytes.len()) {
            self.out.push(BINUNICODE);
            self.out.extend(n.to_le_bytes());
        } else {
            self.out.push(BINUNICODE8);
            self.out.extend((bytes.len() as u64).to_le_bytes());
        }
        self.out.extend_from_slice(bytes);
    }

    /// A global (class or function) by its slot, looked up once per block.
    fn global(&mut self, slot: usize) {
        if let Some(memo) = self.globals[slot] {
            return self.get(memo);
        }
        let names = self.names;
        let (module, name) = match slot {
            DATETIME => ("datetime", "datetime"),
            PHASE => (names.phase.0.as_str(), names.phase.1.as_str()),
            BAR_KIND => (names.bar_kind.0.as_str(), names.bar_kind.1.as_str()),
            class => (
                names.classes[class].0.as_str(),
                names.classes[class].1.as_str(),
            ),
        };
        self.raw_text(module);
        self.raw_text(name);
        self.out.push(STACK_GLOBAL);
        self.globals[slot] = Some(self.memoize());
    }

    /// An enum member: its class called with its value, once per block.
    fn member(&mut self, enum_slot: usize, index: usize) {
        let known = match enum_slot {
            PHASE => self.phases[index],
            _ => self.bar_kinds[index],
        };
        if let Some(memo) = known {
            return self.get(memo);
        }
        self.global(enum_slot);
        let names = self.names;
        let value = match enum_slot {
            PHASE => names.phase_values[index].as_str(),
            _ => names.bar_kind_values[index].as_str(),
        };
        self.raw_text(value);
        self.out.extend([TUPLE1, REDUCE]);
        let memo = Some(self.memoize());
        match enum_slot {
            PHASE => self.phases[index] = memo,
            _ => self.bar_kinds[index] = memo,
        }
    }

    /// An integer as Python's pickler writes it: the shortest of BININT1, BININT2, BININT, LONG1.
    fn integer(&mut self, i: i128) {
        if let Ok(small) = u8::try_from(i) {
            self.out.extend([BININT1, small]);
        } else if let Ok(medium) = u16::try_from(i) {
            self.out.push(BININT2);
            self.out.extend(medium.to_le_bytes());
        } else if let Ok(word) = i32::try_from(i) {
            self.out.push(BININT);
            self.out.extend(word.to_le_bytes());
        } else {
            // two's complement, little-endian, as few bytes as keep the sign
            let bytes = i.to_le_bytes();
            let mut n = bytes.len();
            while n > 1 {
                let (top, below) = (bytes[n - 1], bytes[n - 2]);
                let redundant =
                    (top == 0 && below & 0x80 == 0) || (top == 0xff && below & 0x80 != 0);
                if !redundant {
                    break;
                }
                n -= 1;
            }
            self.out.extend([LONG1, n as u8]);
            self.out.extend_from_slice(&bytes[..n]);
        }
    }
}

impl Sink for Pickler<'_> {
    type Error = Unpicklable;

    fn none(&mut self) -> R {
        self.out.push(NONE);
        self.counted(0);
        Ok(())
    }

    fn bool(&mut self, b: bool) -> R {
        self.out.push(if b { NEWTRUE } else { NEWFALSE });
        self.counted(0);
        Ok(())
    }

    fn int(&mut self, i: i64) -> R {
        self.integer(i128::from(i));
        // CPython keeps -5..256 once
        self.counted(if (-5..=256).contains(&i) {
            0
        } else {
            INT_BYTES
        });
        Ok(())
    }

    fn wide(&mut self, i: i128) -> R {
        self.integer(i);
        self.counted(INT_BYTES + SLOT);
        Ok(())
    }

    fn big_int(&mut self, _: f64) -> R {
        Err(Unpicklable)
    }

    fn float(&mut self, f: f64) -> R {
        self.out.push(BINFLOAT);
        self.out.extend(f.to_be_bytes());
        self.counted(FLOAT_BYTES);
        Ok(())
    }

    fn text(&mut self, t: &str) -> R {
        if let Some(&memo) = self.texts.get(t) {
            self.get(memo);
            self.counted(0);
            return Ok(());
        }
        self.raw_text(t);
        let memo = self.memoize();
        self.texts.insert(t.to_string(), memo);
        self.counted(TEXT_BYTES + t.len());
        Ok(())
    }

    fn time(&mut self, us: Option<Ts>) -> R {
        let Some(us) = us else {
            return self.none();
        };
        if let Some(&memo) = self.times.get(&us) {
            self.get(memo);
            self.counted(0);
            return Ok(());
        }
        let civil = prefix::civil(us);
        if !(1..=9999).contains(&civil.0) {
            return Err(Unpicklable);
        }
        self.global(DATETIME);
        self.out.extend([SHORT_BINBYTES, 10]);
        self.out.extend(crate::pyitems::pickled_time(civil));
        self.out.extend([TUPLE1, REDUCE]);
        let memo = self.memoize();
        self.times.insert(us, memo);
        self.counted(DATETIME_BYTES);
        Ok(())
    }

    fn phase(&mut self, p: Phase) -> R {
        self.member(PHASE, usize::from(p.index()));
        self.counted(0);
        Ok(())
    }

    fn bar_kind(&mut self, k: BarKind) -> R {
        self.member(BAR_KIND, k.index());
        self.counted(0);
        Ok(())
    }

    fn begin(&mut self, shape: Shape) -> R {
        self.open.push(0);
        match shape {
            Shape::List => self.out.extend([EMPTY_LIST, MARK]),
            Shape::Dict => self.out.extend([EMPTY_DICT, MARK]),
            Shape::Tuple => self.out.push(MARK),
            Shape::Record(class) => {
                self.global(class.index());
                self.out.push(MARK);
            }
        }
        Ok(())
    }

    fn end(&mut self, shape: Shape) -> R {
        let n = self.open.pop().expect("a container was begun");
        self.counted(match shape {
            Shape::List => LIST_BYTES + SLOT * n,
            Shape::Tuple => TUPLE_BYTES + SLOT * n,
            Shape::Dict => DICT_BYTES.max(DICT_BYTES * n.div_ceil(10)),
            Shape::Record(_) => RECORD_BYTES + SLOT * n,
        });
        match shape {
            Shape::List => self.out.push(APPENDS),
            Shape::Dict => self.out.push(SETITEMS),
            Shape::Tuple => self.out.push(TUPLE),
            Shape::Record(_) => self.out.extend([TUPLE, REDUCE]),
        }
        Ok(())
    }
}

/// A block of records as spool.py stores one: the zlib-compressed pickle of their list, and the
/// estimated bytes of the objects it decodes to (Pickler::decoded).
pub struct Block {
    pub data: Vec<u8>,
    pub decoded: usize,
    /// The records' rows of `--format json`, joined as render/json.py joins them (jsonrows.rs),
    /// for the tables that have them.
    pub rows: Option<String>,
}

/// How a table's records are written: to the pickle, and (for most tables) as JSON rows.
type Emit<T> = fn(&mut Pickler<'_>, &T) -> R;
type Rows<T> = Option<fn(&mut String, &T)>;

fn block<T>(
    names: &Names,
    records: &[T],
    emit: Emit<T>,
    rows: Rows<T>,
) -> Result<Block, Unpicklable> {
    let mut p = Pickler::new(names);
    p.begin(Shape::List)?;
    for record in records {
        emit(&mut p, record)?;
    }
    p.end(Shape::List)?;
    let decoded = p.decoded();
    let pickled = p.finish();
    // spool.py's zlib.compress(pickled, 1); writing to a Vec cannot fail
    let mut z = flate2::write::ZlibEncoder::new(
        Vec::with_capacity(pickled.len() / 4),
        flate2::Compression::new(1),
    );
    z.write_all(&pickled).expect("compressing into memory");
    let data = z.finish().expect("compressing into memory");
    let rows = rows.map(|row| {
        let mut text = String::new();
        for (i, record) in records.iter().enumerate() {
            if i > 0 {
                text.push_str(jsonrows::ROW_SEPARATOR);
            }
            row(&mut text, record);
        }
        text
    });
    Ok(Block {
        data,
        decoded,
        rows,
    })
}

/// What a table hands over, in order: whole blocks pickled here, or records for Python to make
/// (a block pickle cannot write, and the input's last records, fewer than a block).
pub enum Part<T> {
    Block(Block),
    Records(Vec<T>),
}

/// One table's records on their way to its spool: a block is pickled once it is full.
pub struct Table<T> {
    block: usize,
    emit: Emit<T>,
    rows: Rows<T>,
    pending: Vec<T>,
    parts: Vec<Part<T>>,
}

impl<T> Table<T> {
    fn new(block: usize, emit: Emit<T>, rows: Rows<T>) -> Self {
        Table {
            block: block.max(1),
            emit,
            rows,
            pending: Vec::new(),
            parts: Vec::new(),
        }
    }

    fn absorb(&mut self, names: &Names, records: impl IntoIterator<Item = T>) {
        for record in records {
            self.pending.push(record);
            if self.pending.len() >= self.block {
                let chunk = std::mem::take(&mut self.pending);
                match block(names, &chunk, self.emit, self.rows) {
                    Ok(b) => self.parts.push(Part::Block(b)),
                    Err(Unpicklable) => self.parts.push(Part::Records(chunk)),
                }
            }
        }
    }

    /// The parts ready; with `all`, the pending records too (the input ended).
    fn take(&mut self, all: bool) -> Vec<Part<T>> {
        let mut parts = std::mem::take(&mut self.parts);
        if all && !self.pending.is_empty() {
            parts.push(Part::Records(std::mem::take(&mut self.pending)));
        }
        parts
    }
}

/// Blocks of prompts a hand-over makes of the queues runs' ends left (`Spill::hand`): 1,000,000
/// queued prompts left at the input's end were handed to Python at once, their pickles and JSON
/// rows about 390 bytes a prompt (539 MB in all); a few blocks at a time they cost a few MB.
pub const HAND_BLOCKS: usize = 4;

/// The segmenter's final records on their way to Python: each table's full blocks pickled here,
/// the rest kept until the input ends (so that every block of the spool is whole, as spool.py's
/// own are), and the notable events passed on as they come.
pub struct Spill {
    names: Arc<Names>,
    pub runs: Table<Run>,
    pub prompts: Table<Prompt>,
    pub bars: Table<Bar>,
    pub loads: Table<Load>,
    pub errors: Table<ErrorRec>,
    /// Prompts not made into blocks yet, in order, from the first queue a run's end left: its
    /// records are made HAND_BLOCKS blocks per hand-over, and the prompts after it wait behind.
    backlog: VecDeque<PromptsPart>,
    notable: Vec<Item>,
    notable_counts: Vec<(usize, u64)>,
}

/// What the tables hand over at once (Scanner::handed makes them Python's).
pub struct Handed {
    pub runs: Vec<Part<Run>>,
    pub prompts: Vec<Part<Prompt>>,
    pub bars: Vec<Part<Bar>>,
    pub loads: Vec<Part<Load>>,
    pub errors: Vec<Part<ErrorRec>>,
    pub notable: Vec<Item>,
    pub notable_counts: Vec<(usize, u64)>,
}

impl Spill {
    /// `blocks`: the records per block of the runs', prompts', bars', loads' and errors' spools;
    /// `json_rows`: the report is written as JSON, so the blocks of the tables with rows carry them.
    pub fn new(names: Arc<Names>, blocks: [usize; 5], json_rows: bool) -> Self {
        fn rows<T>(json_rows: bool, row: fn(&mut String, &T)) -> Rows<T> {
            json_rows.then_some(row)
        }
        Spill {
            names,
            runs: Table::new(
                blocks[0],
                |p: &mut Pickler<'_>, r: &Run| emit::run(p, r),
                None,
            ),
            prompts: Table::new(
                blocks[1],
                |p: &mut Pickler<'_>, r: &Prompt| emit::prompt(p, r),
                rows(json_rows, jsonrows::prompt),
            ),
            bars: Table::new(
                blocks[2],
                |p: &mut Pickler<'_>, r: &Bar| emit::bar(p, r),
                rows(json_rows, jsonrows::bar),
            ),
            loads: Table::new(
                blocks[3],
                |p: &mut Pickler<'_>, r: &Load| emit::load(p, r),
                rows(json_rows, jsonrows::load),
            ),
            errors: Table::new(
                blocks[4],
                |p: &mut Pickler<'_>, r: &ErrorRec| emit::error(p, r),
                rows(json_rows, jsonrows::error),
            ),
            backlog: VecDeque::new(),
            notable: Vec::new(),
            notable_counts: Vec::new(),
        }
    }

    pub fn absorb(&mut self, done: Final) {
        let names = &*self.names;
        self.runs.absorb(names, done.runs);
        for part in done.prompts {
            match part {
                PromptsPart::Made(prompt) if self.backlog.is_empty() => {
                    self.prompts.absorb(names, [prompt])
                }
                part => self.backlog.push_back(part),
            }
        }
        // a prompt's bars painted as they came (shelf.rs) become records here, a block at a time
        for part in done.bars {
            match part {
                BarsPart::Made(bar) => self.bars.absorb(names, [bar]),
                part => self.bars.absorb(names, part.drain()),
            }
        }
        self.loads.absorb(names, done.loads);
        self.errors.absorb(names, done.errors);
        self.notable.extend(done.notable);
        self.notable_counts.extend(done.notable_counts);
    }

    /// Whether `hand` has more to give: prompts of the backlog (call it again until it has not).
    pub fn holds_more(&self) -> bool {
        !self.backlog.is_empty()
    }

    /// What is ready, with at most HAND_BLOCKS blocks of prompts made from the backlog; with
    /// `ended`, every record left once the backlog is empty.
    pub fn hand(&mut self, ended: bool) -> Handed {
        let names = &*self.names;
        // a queue a run's end left becomes records here, a block at a time (queue.rs)
        while self.prompts.parts.len() < HAND_BLOCKS {
            let Some(part) = self.backlog.front_mut() else {
                break;
            };
            let records = match part {
                PromptsPart::Made(_) => match self.backlog.pop_front() {
                    Some(PromptsPart::Made(prompt)) => vec![prompt],
                    _ => unreachable!("the front was a record"),
                },
                PromptsPart::Left(queue) => {
                    let records = queue.leave();
                    if records.is_empty() {
                        self.backlog.pop_front();
                    }
                    records
                }
            };
            self.prompts.absorb(names, records);
        }
        Handed {
            runs: self.runs.take(ended),
            prompts: self.prompts.take(ended && self.backlog.is_empty()),
            bars: self.bars.take(ended),
            loads: self.loads.take(ended),
            errors: self.errors.take(ended),
            notable: std::mem::take(&mut self.notable),
            notable_counts: std::mem::take(&mut self.notable_counts),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// What is written after PROTO.
    fn written(write: impl FnOnce(&mut Pickler<'_>) -> R) -> String {
        let names = Names::of_model_py();
        let mut p = Pickler::new(&names);
        write(&mut p).expect("picklable");
        hex(&p.finish()[2..])
    }

    #[test]
    fn integers_are_written_as_pythons_pickler_writes_them() {
        // pickle.dumps(i, 2)[2:] from CPython 3.11
        for (i, expected) in [
            (0_i128, "4b00"),
            (255, "4bff"),
            (256, "4d0001"),
            (65535, "4dffff"),
            (65536, "4a00000100"),
            (-1, "4affffffff"),
            (2_147_483_647, "4affffff7f"),
            (2_147_483_648, "8a050000008000"),
            (-2_147_483_648, "4a00000080"),
            (-2_147_483_649, "8a05ffffff7fff"),
            (1 << 40, "8a06000000000001"),
            (1 << 63, "8a09000000000000008000"),
            (-(1 << 63), "8a080000000000000080"),
            (1 << 100, "8a0d00000000000000000000000010"),
        ] {
            assert_eq!(written(|p| p.wide(i)), format!("{expected}2e"), "{i}");
        }
    }

    #[test]
    fn texts_floats_and_times_are_pythons() {
        // pickle.dumps("é", 2): SHORT_BINUNICODE, then a memo slot; 1.5 as BINFLOAT
        assert_eq!(written(|p| p.text("é")), "8c02c3a9942e");
        assert_eq!(written(|p| p.float(1.5)), "473ff80000000000002e");
        // a text seen before in the block is fetched from its memo slot
        assert_eq!(
            written(|p| {
                p.text("a")?;
                p.text("a")
            }),
            "8c01619468002e"
        );
        // datetime(2024, 2, 29, 13, 5, 7, 123456): datetime called with its pickled state
        let day = crate::prefix::ordinal(2024, 2, 29).expect("a date");
        let us = day * 86_400_000_000 + (13 * 3600 + 5 * 60 + 7) * 1_000_000 + 123_456;
        // CPython memoizes the two names too; the state and the call are the same bytes
        assert_eq!(
            written(|p| p.time(Some(us))),
            "8c086461746574696d658c086461746574696d659394430a07e8021d0d050701e2408552942e"
        );
    }

    #[test]
    fn a_time_python_cannot_make_is_not_pickled() {
        let names = Names::of_model_py();
        let mut p = Pickler::new(&names);
        let past_9999 =
            (crate::prefix::ordinal(9999, 12, 31).expect("a date") + 1) * 86_400_000_000;
        assert!(p.time(Some(past_9999)).is_err());
        assert!(p.big_int(1e300).is_err());
    }

    /// A queue left at the input's end is made into blocks HAND_BLOCKS at a time, a hand-over
    /// after another, and the prompts made final after it follow it in order.
    #[test]
    fn a_left_queue_is_handed_a_few_blocks_at_a_time() {
        use super::super::queue::PromptQueue;
        let mut spill = Spill::new(Arc::new(Names::of_model_py()), [1, 10, 1, 1, 1], false);
        let mut queue = PromptQueue::new(0);
        for i in 0..95 {
            queue.append(0, i, 10 + i, Some(1_000 * i as i64));
        }
        let after = Prompt::new(95, 1, None, 200, 0);
        spill.absorb(Final {
            runs: Vec::new(),
            prompts: vec![PromptsPart::Left(Box::new(queue)), PromptsPart::Made(after)],
            bars: Vec::new(),
            loads: Vec::new(),
            errors: Vec::new(),
            notable: Vec::new(),
            notable_counts: Vec::new(),
        });
        let mut handed = Vec::new();
        loop {
            let parts = spill.hand(true).prompts;
            let blocks = parts.iter().filter(|p| matches!(p, Part::Block(_))).count();
            let records: Vec<u64> = parts
                .iter()
                .flat_map(|p| match p {
                    Part::Records(r) => r.iter().map(|p| p.index).collect(),
                    Part::Block(_) => Vec::new(),
                })
                .collect();
            handed.push((blocks, records));
            if !spill.holds_more() {
                break;
            }
        }
        // 96 prompts: 9 blocks of 10 in three hand-overs, the last 6 as records at the end
        assert_eq!(
            handed,
            vec![
                (HAND_BLOCKS, vec![]),
                (HAND_BLOCKS, vec![]),
                (1, vec![90, 91, 92, 93, 94, 95])
            ]
        );
    }

    #[test]
    fn a_table_pickles_whole_blocks_and_hands_the_rest_at_the_end() {
        let names = Names::of_model_py();
        let mut table: Table<ErrorRec> = Table::new(2, |p, e| emit::error(p, e), None);
        let error = |line| ErrorRec {
            prompt: None,
            kind: "error",
            message: "boom".to_string(),
            line,
            source: 0,
            ts: None,
            end_line: None,
        };
        table.absorb(&names, (1..=5).map(error));
        let parts = table.take(false);
        assert_eq!(parts.len(), 2);
        assert!(parts.iter().all(|p| matches!(p, Part::Block(_))));
        let rest = table.take(true);
        assert!(matches!(&rest[..], [Part::Records(r)] if r.len() == 1 && r[0].line == 5));
    }
}
