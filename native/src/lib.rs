//! comfylog._native: the native scanner. Python hands it blocks of whole lines (read by
//! comfylog/read/streams.py: files, stdin, .gz, UTF-16) and gets back, per block, the parser's
//! items as comfylog's Events and Activities (pyitems.rs makes them; comfylog/parse/native.py
//! hands over what it needs to).
//! The message table is the messages.toml text Python passes in, so a new row needs no Rust.

pub mod clean;
pub mod json;
pub mod matchers;
pub mod memo;
pub mod prefix;
pub mod progress;
pub mod pyitems;
pub mod pytext;
pub mod redact;
pub mod rowmatch;
pub mod scan;
pub mod segment;
pub mod table;
pub mod tomldata;

use clean::Counts;
use pyitems::{items_to_python, ItemBuilder, Times};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};
use pyo3::IntoPyObjectExt;
use scan::Item;
use segment::event::{FieldType, Kind, SegRow, Value};
use segment::topy::RecordBuilder;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use table::Table;

pyo3::create_exception!(
    _native,
    NotPorted,
    pyo3::exceptions::PyException,
    "The native segmenter cannot yet segment this input as the Python one does."
);

/// Blocks up to this size are scanned in `feed` itself, not on a thread of their own (every block
/// in a process that scans serially: scan::serial).
const INLINE_BLOCK_BYTES: usize = 256 << 10;

/// `Redactor().redact(line)` by redact.rs, with the marks it put in as (kind, count); None for a
/// line it leaves to Python (not ASCII). For the differential test against read/redact.py.
#[pyfunction]
fn redact_line(line: &str) -> Option<(String, Vec<(&'static str, u64)>)> {
    let mut counts = redact::Counts::default();
    redact::redact_ascii(line, &mut counts).map(|text| (text, redact::counted(&counts)))
}

#[pyfunction]
fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

/// Scans one input: `feed` each block of whole lines in order, then `close`.
///
/// A block is scanned on a thread of its own while Python works on the items of the block before
/// it: `feed` hands back the previous block's items, `close` the last block's and what is still
/// open. Python's segmenter and the scanner so run on two cores at once. A small block (a small
/// log is one) is scanned at once instead: starting a thread would cost more than it overlaps.
#[pyclass(module = "comfylog._native")]
struct Scanner {
    table: Arc<Table>,
    /// Makes the items' Python objects (pyitems.rs); `source` is the input's index they carry.
    builder: Py<ItemBuilder>,
    source: Py<PyAny>,
    /// The parser and counters, here between blocks, with the thread while it scans one.
    state: Option<State>,
    scanning: Option<JoinHandle<Scanned>>,
    /// With the native segmenter: what makes its records Python's, the final records on their
    /// way (whole blocks pickled, pickle.rs), and the notable events made so far.
    records: Option<Py<RecordBuilder>>,
    spill: Option<segment::pickle::Spill>,
    /// `close` was called: what `more` hands is the input's last records.
    closed: bool,
    notable: Option<Py<pyo3::types::PyList>>,
    /// Set after a failure: the scanner's state is unknown, it takes no more input.
    broken: bool,
}

struct State {
    input: scan::Input,
    /// With a redactor: Python's `redact(text) -> text` (the input knows which lines need it).
    redact: Option<Py<PyAny>>,
    /// The native segmenter, fed each block's items on the thread that scans it.
    segmenter: Option<segment::Segmenter>,
    /// Why the segmenter gave up on this input (segment::NotPorted), if it did.
    refused: Option<String>,
}

type Scanned = Result<(State, Vec<Item>), String>;

/// A block's work as it is taken from the state: items, or the records the segmenter made final.
enum Taken {
    Items(Vec<Item>),
    Records(segment::Final),
}

/// A block's work as `feed` hands it over.
enum Done {
    Items(Vec<Item>),
    Records(segment::pickle::Handed),
}

impl State {
    /// A block's items, or with the native segmenter none: it takes each piece of them as the
    /// scan hands it over (segmenting while the next lines are scanned).
    fn scan(&mut self, table: &Table, block: &[u8]) -> Result<Vec<Item>, String> {
        let State {
            input,
            redact,
            segmenter,
            refused,
        } = self;
        let mut kept = Vec::new();
        // no pool made in a process that scans serially (a fleet's worker): its threads would wait unused
        let pool = (!scan::serial()).then(scan::pool);
        let mut scan = || {
            input.scan_each(
                pool.as_deref(),
                table,
                block,
                |text| redact_in_python(redact, text),
                |mut items| match segmenter {
                    Some(seg) => segment_into(seg, refused, table, items),
                    None => kept.append(&mut items),
                },
            )
        };
        if redact.is_some() {
            // The thread is made Python's once for the block, then lets the GIL go: each line's
            // redaction then only takes the GIL back, where a thread unknown to Python had its
            // state made and destroyed for every line (~10 us: 200,000 lines of bench-100mb).
            Python::attach(|py| py.detach(scan))?;
        } else {
            scan()?;
        }
        Ok(kept)
    }

    /// The items, or with the native segmenter none: it takes them.
    fn segmented(&mut self, table: &Table, items: Vec<Item>) -> Vec<Item> {
        match &mut self.segmenter {
            Some(seg) => {
                segment_into(seg, &mut self.refused, table, items);
                Vec::new()
            }
            None => items,
        }
    }

    /// The input ended: the last items, and the segmenter's end.
    fn close(&mut self, table: &Table) -> Vec<Item> {
        let rest = self.input.close(table);
        let rest = self.segmented(table, rest);
        if let (Some(seg), None) = (&mut self.segmenter, &self.refused) {
            if let Err(segment::NotPorted(why)) = seg.finish() {
                self.refused = Some(why);
            }
        }
        rest
    }
}

/// `items` into the native segmenter, which stops at the first it cannot segment as Python does
/// (`refused` says why; what comes after is dropped: Python segments the input again).
fn segment_into(
    seg: &mut segment::Segmenter,
    refused: &mut Option<String>,
    table: &Table,
    items: Vec<Item>,
) {
    if refused.is_none() {
        if let Err(segment::NotPorted(why)) = seg.feed(table, items) {
            *refused = Some(why);
        }
    }
}

/// The native segmenter's rows from Python's spec, in the table's order: per row its constants
/// and its fields (name, FIELD_TYPES name, group); kinds and phases are the table's.
type SegRowSpec<'py> = (Bound<'py, PyDict>, Vec<(String, String, usize)>);

/// The bar table from Python's (kind, pattern) pairs (parse/bars.py's BAR_ROWS, in order).
fn seg_bars(
    bars: Vec<(String, String)>,
) -> PyResult<Vec<(segment::records::BarKind, Option<regex::Regex>)>> {
    bars.into_iter()
        .map(|(kind, pattern)| {
            let kind = segment::records::BarKind::parse(&kind)
                .ok_or_else(|| PyValueError::new_err(format!("unknown bar kind {kind:?}")))?;
            Ok((kind, pytext::compile(&pattern).ok()))
        })
        .collect()
}

fn seg_rows(table: &Table, spec: Vec<SegRowSpec<'_>>) -> PyResult<Vec<SegRow>> {
    if spec.len() != table.rows.len() {
        return Err(PyValueError::new_err(
            "the segmenter's rows are not the message table's",
        ));
    }
    let mut rows = Vec::with_capacity(spec.len());
    for (row, (constants, fields)) in table.rows.iter().zip(spec) {
        let kind = Kind::parse(&row.kind);
        let mut values = Vec::new();
        for (name, value) in constants.iter() {
            let name: String = name.extract()?;
            let value = if let Ok(b) = value.cast::<pyo3::types::PyBool>() {
                Value::Bool(b.is_true())
            } else if let Ok(i) = value.extract::<i64>() {
                Value::Int(i)
            } else if let Ok(f) = value.extract::<f64>() {
                Value::Float(f)
            } else {
                Value::Text(std::sync::Arc::from(value.extract::<String>()?.as_str()))
            };
            values.push((name, value));
        }
        let fields = fields
            .into_iter()
            .map(|(name, ty, group)| {
                let ty = FieldType::parse(&ty)
                    .ok_or_else(|| PyValueError::new_err(format!("unknown field type {ty:?}")))?;
                Ok(segment::event::FieldSpec { name, ty, group })
            })
            .collect::<PyResult<Vec<_>>>()?;
        rows.push(SegRow {
            kind,
            constants: values,
            fields,
            load_phase: row.phase == table::Phase::Load,
        });
    }
    Ok(rows)
}

/// The native segmenter's rows and bar table, made once per process by parse/native.py (as the
/// message table is compiled once): compiling the bar patterns cost ~1 ms per input, and a fleet
/// reads thousands.
#[pyclass(module = "comfylog._native", frozen)]
struct SegmenterTables {
    /// The message table text the rows are read against (a Scanner must read the same).
    table_text: String,
    rows: Arc<Vec<SegRow>>,
    bars: Arc<Vec<(segment::records::BarKind, Option<regex::Regex>)>>,
}

#[pymethods]
impl SegmenterTables {
    /// From the message table text, the segmenter's rows (per table row its constants and fields
    /// as (name, FIELD_TYPES name, group)) and the bar table's (kind, pattern) pairs.
    #[new]
    fn new(
        table_text: &str,
        rows: Vec<SegRowSpec<'_>>,
        bars: Vec<(String, String)>,
    ) -> PyResult<SegmenterTables> {
        let table = compiled_table(table_text)?;
        Ok(SegmenterTables {
            table_text: table_text.to_string(),
            rows: Arc::new(seg_rows(&table, rows)?),
            bars: Arc::new(seg_bars(bars)?),
        })
    }
}

/// A line through Python's redactor (read/redact.py), as the Python reader applies it.
fn redact_in_python(redact: &Option<Py<PyAny>>, text: String) -> Result<String, String> {
    let redact = redact
        .as_ref()
        .expect("a redactor beside the redaction's needles");
    Python::attach(|py| {
        redact
            .call1(py, (text,))
            .and_then(|r| r.extract::<String>(py))
    })
    .map_err(|e| format!("redaction failed: {e}"))
}

fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown error".to_string())
}

/// `work`'s result, a panic in it caught as an error (its text).
fn caught<T>(work: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    catch_unwind(AssertUnwindSafe(work)).unwrap_or_else(|panic| Err(panic_text(&*panic)))
}

/// What went wrong in the scanner, as the RuntimeError the Python side says in one line.
fn scanner_error(what: String) -> PyErr {
    PyRuntimeError::new_err(format!("native scanner error: {what}"))
}

/// Run `work` without the GIL; a panic becomes a RuntimeError (the Python side says it in one
/// line), never an abort or a PanicException.
fn guarded<T: Send>(py: Python<'_>, work: impl FnOnce() -> T + Send) -> PyResult<T> {
    py.detach(|| caught(|| Ok(work()))).map_err(scanner_error)
}

/// `state`'s scan of `block`, on whichever thread: the state back with the items, or what went
/// wrong (a panic included).
fn scan_with(mut state: State, table: &Table, block: &[u8]) -> Scanned {
    caught(move || {
        let items = state.scan(table, block)?;
        Ok((state, items))
    })
}

/// The table compiled from `text`, compiled once per process (a fleet scans thousands of logs).
fn compiled_table(text: &str) -> PyResult<Arc<Table>> {
    static LAST: Mutex<Option<(String, Arc<Table>)>> = Mutex::new(None);
    let mut last = LAST.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some((known, table)) = last.as_ref() {
        if known == text {
            return Ok(Arc::clone(table));
        }
    }
    let table = Arc::new(Table::load(text).map_err(PyValueError::new_err)?);
    *last = Some((text.to_string(), Arc::clone(&table)));
    Ok(table)
}

#[pymethods]
impl Scanner {
    /// A scanner for one input, with the message table `table_text` (messages.toml's text), whose
    /// items `builder` makes into the Python objects of input `source` (an int).
    ///
    /// `redaction`: (plain needles, needles looked for in the lower-cased text, `redact(text)`,
    /// whether `redact` is redact.py's `Redactor()`): a line holding a needle is redacted once
    /// cleaned, before anything reads it: by redact.rs on the scan threads where `redact` is
    /// `Redactor()` and the line ASCII, else by `redact` (its counts are Python's; redact.rs's
    /// are `redactions` once the input is closed).
    ///
    /// `segmenter`: (the record builder, the segmenter's tables, the input's first run and prompt
    /// index, segmenter.py's RELEASE_EVERY, the records per spool block of runs, prompts, bars,
    /// loads and errors, whether to write their JSON rows beside the blocks, and segmenter.py's
    /// FOLD_BARS, phases.py's FOLD_KEEP_S, pending.py's SHELF_BLOCK and segmenter.py's TAIL_ACTIVITIES) to
    /// segment in Rust:
    /// `feed` and `close` then give the records made final, not items (whole blocks as pickles,
    /// topy::RecordBuilder::to_python).
    ///
    /// `compose`: the input is docker compose output (read/lines.py decided from its first lines):
    /// every line's `name  | ` comes off once it is cleaned.
    #[new]
    #[pyo3(signature = (table_text, builder, source, redaction=None, segmenter=None, compose=false))]
    #[allow(clippy::type_complexity)]
    fn new(
        py: Python<'_>,
        table_text: &str,
        builder: Py<ItemBuilder>,
        source: Py<PyAny>,
        redaction: Option<(Vec<String>, Vec<String>, Py<PyAny>, bool)>,
        segmenter: Option<(
            Py<RecordBuilder>,
            Py<SegmenterTables>,
            u64,
            u64,
            u64,
            [usize; 5],
            bool,
            (usize, f64, usize, usize),
        )>,
        compose: bool,
    ) -> PyResult<Scanner> {
        let table = compiled_table(table_text)?;
        builder
            .get()
            .check_rows(py, table.rows.iter().map(|row| row.name.as_str()))?;
        let (redaction, redact) = match redaction {
            None => (None, None),
            Some((plain, folded, redact, native)) => (
                Some(scan::Redaction::new(&plain, &folded, native).map_err(PyValueError::new_err)?),
                Some(redact),
            ),
        };
        let (records, segmenter, spill) = match segmenter {
            None => (None, None, None),
            Some((
                records,
                tables,
                first_run_index,
                first_prompt_index,
                release_every,
                blocks,
                json_rows,
                (fold_bars, fold_keep_s, shelf_block, tail),
            )) => {
                let tables = tables.get();
                if tables.table_text != table_text {
                    return Err(PyValueError::new_err(
                        "the segmenter's tables were made for another message table",
                    ));
                }
                let cfg = segment::Config {
                    source: source.bind(py).extract()?,
                    first_run_index,
                    first_prompt_index,
                    rows: Arc::clone(&tables.rows),
                    bars: Arc::clone(&tables.bars),
                    release_every: release_every.max(1),
                    fold: segment::Fold {
                        bars: fold_bars,
                        keep_s: fold_keep_s,
                        shelf_block,
                        tail,
                    },
                };
                let spill = segment::pickle::Spill::new(records.get().names(), blocks, json_rows);
                (
                    Some(records),
                    Some(segment::Segmenter::new(cfg)),
                    Some(spill),
                )
            }
        };
        let notable = records
            .as_ref()
            .map(|_| pyo3::types::PyList::empty(py).unbind());
        Ok(Scanner {
            state: Some(State {
                input: scan::Input::new(redaction, compose),
                redact,
                segmenter,
                refused: None,
            }),
            spill,
            closed: false,
            table,
            builder,
            source,
            scanning: None,
            records,
            notable,
            broken: false,
        })
    }

    /// Start scanning a block of whole lines (each ends with a newline but maybe the input's
    /// last); the items of the block fed before it.
    /// With the native segmenter, the records made final so far (Scanner::records).
    fn feed<'py>(&mut self, py: Python<'py>, block: &[u8]) -> PyResult<Bound<'py, PyAny>> {
        let mut items = self.finish_scanning(py)?;
        let table = Arc::clone(&self.table);
        if block.len() <= INLINE_BLOCK_BYTES || scan::serial() {
            let state = self.state.take().expect("state between blocks");
            let scanned = py.detach(|| scan_with(state, &table, block));
            items.append(&mut self.settle(scanned)?);
            let taken = self.take(items)?;
            let done = self.spilled(py, taken, false)?;
            return self.handed(py, done);
        }
        // what is done is taken before the state goes to the thread, and pickled and made
        // Python's on this one while the next block is scanned
        let taken = self.take(items)?;
        let state = self.state.take().expect("state between blocks");
        let data = block.to_vec();
        self.scanning = Some(std::thread::spawn(move || scan_with(state, &table, &data)));
        let done = self.spilled(py, taken, false)?;
        self.handed(py, done)
    }

    /// The end of the input: the last block's items and what is still open.
    fn close<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let mut items = self.finish_scanning(py)?;
        let mut state = self.state.take().expect("state between blocks");
        let table = Arc::clone(&self.table);
        let closed = py.detach(|| {
            caught(move || {
                let rest = state.close(&table);
                Ok((state, rest))
            })
        });
        items.append(&mut self.settle(closed)?);
        let taken = self.take(items)?;
        self.closed = true;
        let done = self.spilled(py, taken, true)?;
        self.handed(py, done)
    }

    /// With the native segmenter, after `feed` or `close`: more records made final, as they hand
    /// them, or None. The prompts of a long queue a run's end left are handed a few blocks per
    /// call (pickle.rs HAND_BLOCKS): call it until it gives None.
    fn more<'py>(&mut self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let ended = self.closed;
        let Some(spill) = self.spill.as_mut().filter(|spill| spill.holds_more()) else {
            return Ok(None);
        };
        let done = py
            .detach(|| caught(|| Ok(spill.hand(ended))))
            .map_err(scanner_error)?;
        self.handed(py, Done::Records(done)).map(Some)
    }

    /// After `close`, with the native segmenter: (its summary counters as a dict, the notable
    /// events as Events, how many were dropped).
    fn segmented<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        let state = self.state.as_mut().expect("state after close");
        let seg = state
            .segmenter
            .as_mut()
            .ok_or_else(|| PyValueError::new_err("this scanner does not segment"))?;
        let s = &seg.summary;
        let summary = PyDict::new(py);
        summary.set_item("got_prompt", s.got_prompt)?;
        summary.set_item("executed", s.executed)?;
        summary.set_item("partial_loads", s.partial_loads)?;
        summary.set_item("lowvram", s.lowvram)?;
        summary.set_item("lowvram_module_loads", s.lowvram_module_loads)?;
        summary.set_item("ws_timeouts", s.ws_timeouts)?;
        summary.set_item("restarts", s.restarts)?;
        summary.set_item("models_not_listed", s.models_not_listed)?;
        let dropped = seg.notable_dropped;
        let events = self.notable.as_ref().expect("a notable list").bind(py);
        PyTuple::new(
            py,
            [
                summary.into_any(),
                events.clone().into_any(),
                dropped.into_bound_py_any(py)?,
            ],
        )
    }

    #[getter]
    fn total_lines(&self) -> u64 {
        self.state.as_ref().map_or(0, |s| s.input.lines)
    }

    #[getter]
    fn replaced_bytes(&self) -> u64 {
        self.state
            .as_ref()
            .map_or(0, |s| s.input.counts.replaced_bytes)
    }

    #[getter]
    fn truncated_lines(&self) -> u64 {
        self.state
            .as_ref()
            .map_or(0, |s| s.input.counts.truncated_lines)
    }

    #[getter]
    fn repaired_mojibake(&self) -> u64 {
        self.state
            .as_ref()
            .map_or(0, |s| s.input.counts.repaired_mojibake)
    }

    /// The marks redact.rs put in, as (kind, count) (Python's redactor counts its own lines).
    #[getter]
    fn redactions(&self) -> Vec<(&'static str, u64)> {
        self.state
            .as_ref()
            .map_or(Vec::new(), |s| redact::counted(&s.input.counts.redactions))
    }

    #[getter]
    fn skipped_lines(&self) -> u64 {
        self.state
            .as_ref()
            .map_or(0, |s| s.input.parser.skipped_lines)
    }

    #[getter]
    fn first_ts<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Times::new(py).get(self.state.as_ref().and_then(|s| s.input.parser.first_ts))
    }

    #[getter]
    fn last_ts<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Times::new(py).get(self.state.as_ref().and_then(|s| s.input.parser.last_ts))
    }

    /// The first line whose stamp goes back by more than a minute (parser.py's `clock_back_line`).
    #[getter]
    fn clock_back_line(&self) -> Option<u64> {
        self.state
            .as_ref()
            .and_then(|s| s.input.parser.clock_back_line)
    }

    /// Nanoseconds past first_ts's and last_ts's microsecond (docker's nine digits).
    #[getter]
    fn nanos(&self) -> (u32, u32) {
        self.state.as_ref().map_or((0, 0), |s| {
            (s.input.parser.first_nanos, s.input.parser.last_nanos)
        })
    }

    /// Lines by prefix style, in the order the styles were first seen.
    #[getter]
    fn styles(&self) -> Vec<(&'static str, u64)> {
        let Some(state) = &self.state else {
            return Vec::new();
        };
        state
            .input
            .parser
            .style_order
            .iter()
            .map(|s| (s.name(), state.input.parser.styles[s.index()]))
            .collect()
    }
}

impl Scanner {
    /// What is done: the items, or with the native segmenter the records made final (or
    /// NotPorted: the input is left to Python's segmenter).
    fn take(&mut self, items: Vec<Item>) -> PyResult<Taken> {
        if self.records.is_none() {
            return Ok(Taken::Items(items));
        }
        let state = self.state.as_mut().expect("state between blocks");
        if let Some(why) = &state.refused {
            return Err(NotPorted::new_err(why.clone()));
        }
        let seg = state.segmenter.as_mut().expect("a segmenter");
        Ok(Taken::Records(seg.take_final()))
    }

    /// The final records through the spill (without the GIL): whole blocks pickled, and with
    /// `ended` every record left.
    fn spilled(&mut self, py: Python<'_>, taken: Taken, ended: bool) -> PyResult<Done> {
        let records = match taken {
            Taken::Items(items) => return Ok(Done::Items(items)),
            Taken::Records(records) => records,
        };
        let spill = self.spill.as_mut().expect("a segmenter's spill");
        py.detach(|| {
            caught(|| {
                spill.absorb(records);
                Ok(spill.hand(ended))
            })
        })
        .map(Done::Records)
        .map_err(scanner_error)
    }

    /// What is done as Python objects: a list of items, or the records' (runs, prompts, bars,
    /// loads, errors).
    fn handed<'py>(&self, py: Python<'py>, done: Done) -> PyResult<Bound<'py, PyAny>> {
        match (done, &self.records) {
            (Done::Items(items), _) => {
                let items = items_to_python(py, self.builder.get(), self.source.bind(py), items)?;
                Ok(pyo3::types::PyList::new(py, items)?.into_any())
            }
            (Done::Records(mut records), Some(builder)) => {
                let notable = self.notable.as_ref().expect("a notable list").bind(py);
                let items = std::mem::take(&mut records.notable);
                for event in items_to_python(py, self.builder.get(), self.source.bind(py), items)? {
                    notable.append(event)?;
                }
                for (i, count) in std::mem::take(&mut records.notable_counts) {
                    notable
                        .get_item(i)?
                        .getattr("fields")?
                        .set_item("count", count)?;
                }
                Ok(builder.get().to_python(py, records)?.into_any())
            }
            (Done::Records(_), None) => unreachable!("records come from a segmenting scanner"),
        }
    }

    /// Wait for the block being scanned (without the GIL) and take its items back with the state.
    fn finish_scanning(&mut self, py: Python<'_>) -> PyResult<Vec<Item>> {
        if self.broken {
            return Err(PyRuntimeError::new_err(
                "the scanner failed earlier and takes no more input",
            ));
        }
        let Some(handle) = self.scanning.take() else {
            return Ok(Vec::new());
        };
        let scanned = py
            .detach(|| handle.join())
            .unwrap_or_else(|panic| Err(panic_text(&*panic)));
        self.settle(scanned)
    }

    /// A scan's end, inline or threaded, and the one place its failure is handled: the state back
    /// and the items, or (the state lost with the scan) the scanner broken and the error raised.
    fn settle(&mut self, scanned: Scanned) -> PyResult<Vec<Item>> {
        match scanned {
            Ok((state, items)) => {
                self.state = Some(state);
                Ok(items)
            }
            Err(what) => {
                self.broken = true;
                Err(scanner_error(what))
            }
        }
    }
}

/// Scan on the calling thread alone (`on`: the process is one of a fleet's workers, one per core),
/// or on this process's pool of threads again (scan::set_serial).
#[pyfunction]
fn scan_serially(on: bool) {
    scan::set_serial(on);
}

/// The event kinds the native segmenter knows (comfylog.events.EventKind's values: a test checks).
#[pyfunction]
fn segmenter_kinds() -> Vec<&'static str> {
    Kind::ALL.iter().map(|k| k.name()).collect()
}

/// The constants the native segmenter repeats from the Python one, by name (a test compares them).
#[pyfunction]
fn segmenter_constants() -> Vec<(&'static str, f64)> {
    segment::shared_constants()
}

/// How the JSON rows written beside pickled blocks (segment/jsonrows.rs) spell a float and a text
/// (a test compares them with Python's json on any value).
#[pyfunction]
fn json_spelling(x: f64, text: &str) -> (String, String) {
    let (mut float, mut quoted) = (String::new(), String::new());
    segment::jsonrows::float(&mut float, x);
    segment::jsonrows::text(&mut quoted, text);
    (float, quoted)
}

/// The clean text of the lines `wanted` (ascending numbers) of a block of whole lines whose first
/// line is number `before + 1`, and how many lines the block holds (read/lines.py's `lines_at`:
/// a finding's evidence read back without decoding every line before it).
#[pyfunction]
fn pick_lines(
    py: Python<'_>,
    block: &[u8],
    before: u64,
    wanted: Vec<u64>,
) -> PyResult<(Vec<(u64, String)>, u64)> {
    guarded(py, || {
        let mut found = Vec::new();
        let mut counts = Counts::default();
        let mut wanted = wanted.into_iter().filter(|&n| n > before).peekable();
        let mut number = before;
        let mut start = 0;
        while start < block.len() {
            let end = memchr::memchr(b'\n', &block[start..]).map_or(block.len(), |i| start + i);
            number += 1;
            if wanted.peek() == Some(&number) {
                wanted.next();
                let text = clean::decode(&block[start..end], &mut counts);
                found.push((number, clean::finish_line(&text, &mut counts).into_owned()));
            }
            start = end + 1;
        }
        (found, number - before)
    })
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(version, m)?)?;
    m.add_function(wrap_pyfunction!(redact_line, m)?)?;
    m.add_function(wrap_pyfunction!(pick_lines, m)?)?;
    m.add_function(wrap_pyfunction!(scan_serially, m)?)?;
    m.add_function(wrap_pyfunction!(segmenter_kinds, m)?)?;
    m.add_function(wrap_pyfunction!(segmenter_constants, m)?)?;
    m.add_function(wrap_pyfunction!(json_spelling, m)?)?;
    m.add_function(wrap_pyfunction!(tomldata::table_data, m)?)?;
    m.add_class::<Scanner>()?;
    m.add_class::<ItemBuilder>()?;
    m.add_class::<RecordBuilder>()?;
    m.add_class::<SegmenterTables>()?;
    m.add("NotPorted", m.py().get_type::<NotPorted>())?;
    Ok(())
}
