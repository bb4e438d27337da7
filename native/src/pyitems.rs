//! The scanner's items as comfylog's own Python objects (events.py's `Event` and `Activity`),
//! made here rather than in a Python loop over tuples: at half a million items per 100 MB that
//! loop cost more than the scan. What Python knows and Rust does not (the classes, the phases, each
//! row's kind, constants and field converters) comes in once, as an `ItemBuilder`.
//!
//! A field is typed by its row's converter (comfylog/parse/table.py's FIELD_TYPES), called from
//! here; where the converter is Python's `int`, `float` or `str` and the text is plain ASCII
//! digits, the value is made here, equal to what the converter gives (an exact integer; the
//! correctly rounded double both languages parse to; the text itself).

use crate::prefix;
use crate::scan::{Item, Traceback};
use crate::segment::records::Count;
use pyo3::exceptions::PyValueError;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDateTime, PyDict, PyFloat, PyInt, PyString, PyType};
use pyo3::IntoPyObjectExt;
use pyo3::PyTypeInfo;
use std::sync::Arc;

/// How a field's matched text becomes its value.
enum Convert {
    /// The converter is `int`, `float` or `str`: an immutable value, a function of the text.
    Typed(Typed),
    /// Any other converter: called on the text.
    Call,
}

/// A value made from a text by `int`, `float` or `str` (the same text always gives an equal one).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Typed {
    Int,
    Float,
    Text,
}

impl Typed {
    /// What `int(text)`, `float(text)` or `str(text)` gives (the converters ItemBuilder found to be
    /// these very types).
    fn make<'py>(self, py: Python<'py>, text: &str) -> PyResult<Bound<'py, PyAny>> {
        let (float, converter) = match self {
            Typed::Text => return Ok(PyString::new(py, text).into_any()),
            Typed::Int => (false, py.get_type::<PyInt>()),
            Typed::Float => (true, py.get_type::<PyFloat>()),
        };
        match plain_number(py, text, float) {
            Some(value) => Ok(value),
            None => converter.call1((text,)),
        }
    }
}

struct FieldBuilder {
    name: Py<PyString>,
    convert: Convert,
    converter: Py<PyAny>,
    /// The field's group among the row's named groups (the scanner gives them in regex order).
    group: usize,
}

struct RowBuilder {
    name: Py<PyString>,
    kind: Py<PyAny>,
    /// The row's constant fields: each event's fields start as a copy.
    constants: Py<PyDict>,
    /// In the order the Python parser adds them (table.match_fields).
    fields: Vec<FieldBuilder>,
    /// An exception row: its message is looked at for an OOM (`oom: True`).
    exception: bool,
}

/// What the scanner needs from Python to hand over finished Events and Activities: the two
/// classes, the phases (in table.rs's order), the progress-bar kind, `is_oom`, and per message
/// table row (table.rs's order) its name, kind, constants and fields (name, converter, group).
#[pyclass(module = "comfylog._native", frozen)]
pub struct ItemBuilder {
    event: Py<PyAny>,
    activity: Py<PyAny>,
    phases: [Py<PyAny>; 4],
    progress_bar: Py<PyAny>,
    is_oom: Py<PyAny>,
    rows: Vec<RowBuilder>,
}

type RowSpec<'py> = (
    Bound<'py, PyString>,
    Bound<'py, PyAny>,
    Bound<'py, PyDict>,
    Vec<(Bound<'py, PyString>, Bound<'py, PyAny>, usize)>,
    bool,
);

#[pymethods]
impl ItemBuilder {
    #[new]
    fn new(
        event: Bound<'_, PyAny>,
        activity: Bound<'_, PyAny>,
        phases: (
            Bound<'_, PyAny>,
            Bound<'_, PyAny>,
            Bound<'_, PyAny>,
            Bound<'_, PyAny>,
        ),
        progress_bar: Bound<'_, PyAny>,
        is_oom: Bound<'_, PyAny>,
        rows: Vec<RowSpec<'_>>,
    ) -> ItemBuilder {
        let py = event.py();
        let (int, float, str) = (
            py.get_type::<PyInt>(),
            py.get_type::<PyFloat>(),
            py.get_type::<PyString>(),
        );
        let rows = rows
            .into_iter()
            .map(|(name, kind, constants, fields, exception)| RowBuilder {
                name: name.unbind(),
                kind: kind.unbind(),
                constants: constants.unbind(),
                fields: fields
                    .into_iter()
                    .map(|(name, converter, group)| FieldBuilder {
                        name: name.unbind(),
                        convert: if converter.is(&int) {
                            Convert::Typed(Typed::Int)
                        } else if converter.is(&float) {
                            Convert::Typed(Typed::Float)
                        } else if converter.is(&str) {
                            Convert::Typed(Typed::Text)
                        } else {
                            Convert::Call
                        },
                        converter: converter.unbind(),
                        group,
                    })
                    .collect(),
                exception,
            })
            .collect();
        ItemBuilder {
            event: event.unbind(),
            activity: activity.unbind(),
            phases: [
                phases.0.unbind(),
                phases.1.unbind(),
                phases.2.unbind(),
                phases.3.unbind(),
            ],
            progress_bar: progress_bar.unbind(),
            is_oom: is_oom.unbind(),
            rows,
        }
    }
}

impl ItemBuilder {
    /// An error unless the builder's rows are the table's, in its order.
    pub fn check_rows<'a>(
        &self,
        py: Python<'_>,
        names: impl ExactSizeIterator<Item = &'a str>,
    ) -> PyResult<()> {
        if names.len() != self.rows.len() {
            return Err(PyValueError::new_err(format!(
                "the item builder has {} rows, the message table {}",
                self.rows.len(),
                names.len()
            )));
        }
        for (row, name) in self.rows.iter().zip(names) {
            if row.name.bind(py).to_str()? != name {
                return Err(PyValueError::new_err(format!(
                    "the item builder's rows are not the message table's (row {name:?})"
                )));
            }
        }
        Ok(())
    }
}

/// `text` as `int(text)` or `float(text)` gives it, when it is plain ASCII: digits, a leading
/// minus, and (for a float) one point; None for anything else (the converter reads it).
fn plain_number<'py>(py: Python<'py>, text: &str, float: bool) -> Option<Bound<'py, PyAny>> {
    if float {
        return Some(PyFloat::new(py, plain_float(text)?).into_any());
    }
    plain_int(text)?.into_bound_py_any(py).ok()
}

/// `int(text)` for ASCII digits with a leading minus at most, below 19 digits (past i64 Python's
/// int reads it); None for anything else.
pub fn plain_int(text: &str) -> Option<i64> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    if digits.is_empty() || digits.len() > 18 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// `float(text)` for ASCII digits with one point, a leading minus and an exponent at most (Rust's
/// and Python's parsers both give the double nearest the decimal); None for anything else.
pub fn plain_float(text: &str) -> Option<f64> {
    let body = text.strip_prefix('-').unwrap_or(text);
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let mut seen_digit = false;
    let mut seen_point = false;
    for b in mantissa.bytes() {
        match b {
            b'0'..=b'9' => seen_digit = true,
            b'.' if !seen_point => seen_point = true,
            _ => return None,
        }
    }
    if !seen_digit {
        return None;
    }
    if let Some(exponent) = exponent {
        let digits = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
    }
    text.parse().ok()
}

/// `int(value) if value.is_integer() else value` (a bar's counts: segment::records::Count).
pub fn count<'py>(py: Python<'py>, value: f64) -> PyResult<Bound<'py, PyAny>> {
    match Count::of(value) {
        Count::Int(i) => i.into_bound_py_any(py),
        Count::Wide(i) => i.into_bound_py_any(py),
        Count::Big(x) => py.get_type::<PyInt>().call1((x,)),
        Count::Float(x) => x.into_bound_py_any(py),
    }
}

/// The Python objects of the last few values met, by key: an activity's times and line numbers
/// are its line's events' too, and a log's resolution is one of two.
struct Recent<'py, K> {
    slots: [Option<(K, Bound<'py, PyAny>)>; 4],
    next: usize,
}

impl<'py, K: PartialEq + Copy> Recent<'py, K> {
    fn new() -> Self {
        Recent {
            slots: [None, None, None, None],
            next: 0,
        }
    }

    fn get(
        &mut self,
        key: K,
        make: impl FnOnce() -> PyResult<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        for (known, value) in self.slots.iter().flatten() {
            if *known == key {
                return Ok(value.clone());
            }
        }
        let value = make()?;
        self.slots[self.next] = Some((key, value.clone()));
        self.next = (self.next + 1) % self.slots.len();
        Ok(value)
    }
}

/// `datetime` objects for microsecond times (0001-01-01 based, prefix.rs), the last few remembered:
/// an activity's times and its line's events share them. Built here because Python's
/// `datetime.min + timedelta(microseconds=...)` costs 1.7 us, more than all else an item needs.
///
/// Each is made from its pickled state, `datetime(b"...")`: the ten bytes pickle writes (year
/// high and low, month, day, hour, minute, second, microsecond in three bytes, big-endian), which
/// the constructor copies as they are. With the stable ABI the C API's constructor is out of
/// reach, and the call with seven numbers (PyDateTime::new) parses its arguments by keyword: it
/// cost three times as much. Every pickle of a datetime holds this state, so no Python can drop it.
pub struct Times<'py> {
    py: Python<'py>,
    recent: Recent<'py, i64>,
    datetime: Bound<'py, PyType>,
}

impl<'py> Times<'py> {
    pub fn new(py: Python<'py>) -> Self {
        Times {
            py,
            recent: Recent::new(),
            datetime: PyDateTime::type_object(py),
        }
    }

    pub fn get(&mut self, us: Option<i64>) -> PyResult<Bound<'py, PyAny>> {
        let Some(us) = us else {
            return Ok(self.py.None().into_bound(self.py));
        };
        let (py, datetime) = (self.py, &self.datetime);
        self.recent.get(us, || {
            let civil = prefix::civil(us);
            if (1..=9999).contains(&civil.0) {
                datetime.call1((PyBytes::new(py, &pickled_time(civil)),))
            } else {
                // The pickled state is taken unchecked: a time past year 9999 (a time-only log whose
                // day rolls over millions of times) goes to the checked constructor, which refuses it.
                let (y, mo, d, h, mi, s, micro) = civil;
                datetime.call1((y, mo, d, h, mi, s, micro))
            }
        })
    }
}

/// A time's state as pickle writes a naive `datetime` (see Times), from its civil parts.
pub(crate) fn pickled_time(
    (y, mo, d, h, mi, s, micro): (i32, u8, u8, u8, u8, u8, u32),
) -> [u8; 10] {
    let [_, _, y_high, y_low] = (y as u32).to_be_bytes();
    let [_, m_high, m_mid, m_low] = micro.to_be_bytes();
    [y_high, y_low, mo, d, h, mi, s, m_high, m_mid, m_low]
}

/// Slots of `Objects`' table of shared values (a power of two).
const SHARED_SLOTS: usize = 512;

/// A slot of that table: a shared text, what was made of it, and the value made.
type SharedSlot<'py> = Option<(Arc<str>, Typed, Bound<'py, PyAny>)>;

/// Python objects for the values items share, made once per conversion: a message's text and
/// its fields' values, which a remembered text's events share (one `Arc<str>` each, scan.rs),
/// line numbers, times and resolutions. Only immutable values are shared (`str`, `int`, `float`,
/// `datetime`): a converter called from Python may return anything, and each event's fields dict
/// is its own.
struct Objects<'py> {
    py: Python<'py>,
    times: Times<'py>,
    lines: Recent<'py, u64>,
    floats: Recent<'py, u64>,
    /// By a shared text (the `Arc` itself, held here, so its address names it alone) and what is
    /// made of it: a value made from one text for one field is never another's.
    shared: Vec<SharedSlot<'py>>,
}

impl<'py> Objects<'py> {
    fn new(py: Python<'py>) -> Self {
        Objects {
            py,
            times: Times::new(py),
            lines: Recent::new(),
            floats: Recent::new(),
            shared: vec![None; SHARED_SLOTS],
        }
    }

    fn time(&mut self, us: Option<i64>) -> PyResult<Bound<'py, PyAny>> {
        self.times.get(us)
    }

    fn line(&mut self, n: u64) -> PyResult<Bound<'py, PyAny>> {
        let py = self.py;
        self.lines.get(n, || n.into_bound_py_any(py))
    }

    fn float(&mut self, x: f64) -> PyResult<Bound<'py, PyAny>> {
        let py = self.py;
        self.floats.get(x.to_bits(), || x.into_bound_py_any(py))
    }

    /// `typed`'s value of the shared text `text`, made the first time only.
    fn shared(&mut self, text: &Arc<str>, typed: Typed) -> PyResult<Bound<'py, PyAny>> {
        let at = Arc::as_ptr(text) as *const u8 as usize;
        let slot = ((at >> 4) ^ typed as usize) & (SHARED_SLOTS - 1);
        if let Some((known, made_as, value)) = &self.shared[slot] {
            if *made_as == typed && Arc::ptr_eq(known, text) {
                return Ok(value.clone());
            }
        }
        let value = typed.make(self.py, text)?;
        self.shared[slot] = Some((Arc::clone(text), typed, value.clone()));
        Ok(value)
    }

    fn text(&mut self, text: &Arc<str>) -> PyResult<Bound<'py, PyAny>> {
        self.shared(text, Typed::Text)
    }
}

/// A message row's fields, as parse/native.py's Python parser twin makes them: the constants,
/// the matched groups typed (a group that did not take part is left out), `pattern`, `text`,
/// and for an exception row `oom` when its message says so.
fn message_fields<'py>(
    o: &mut Objects<'py>,
    builder: &ItemBuilder,
    row: &RowBuilder,
    text: &Arc<str>,
    groups: &[Option<Arc<str>>],
) -> PyResult<Bound<'py, PyDict>> {
    let py = o.py;
    let fields = row.constants.bind(py).copy()?;
    for field in &row.fields {
        let Some(Some(value)) = groups.get(field.group) else {
            continue;
        };
        let typed = match field.convert {
            // an immutable value: one per shared text
            Convert::Typed(typed) => o.shared(value, typed)?,
            Convert::Call => field.converter.bind(py).call1((&**value,))?,
        };
        fields.set_item(field.name.bind(py), typed)?;
    }
    fields.set_item(intern!(py, "pattern"), row.name.bind(py))?;
    fields.set_item(intern!(py, "text"), o.text(text)?)?;
    if row.exception {
        let message = match fields.get_item(intern!(py, "message"))? {
            Some(message) => message,
            None => PyString::new(py, "").into_any(),
        };
        if builder.is_oom.bind(py).call1((message,))?.is_truthy()? {
            fields.set_item(intern!(py, "oom"), true)?;
        }
    }
    Ok(fields)
}

/// The items as Events and Activities of input `source`.
pub fn items_to_python<'py>(
    py: Python<'py>,
    builder: &ItemBuilder,
    source: &Bound<'py, PyAny>,
    items: Vec<Item>,
) -> PyResult<Vec<Bound<'py, PyAny>>> {
    let mut out = Vec::with_capacity(items.len());
    let mut o = Objects::new(py);
    let event = builder.event.bind(py);
    for item in &items {
        // (kind, line, ts, fields, end_line, end_ts) of an event
        let (kind, line, ts, fields, end_line, end_ts) = match item {
            Item::Activity(a) => {
                out.push(builder.activity.bind(py).call1((
                    builder.phases[usize::from(a.phase.index())].bind(py),
                    o.time(Some(a.first_ts))?,
                    o.time(Some(a.last_ts))?,
                    o.line(a.first_line)?,
                    o.line(a.last_line)?,
                    source,
                    o.float(a.resolution)?,
                ))?);
                continue;
            }
            Item::Message {
                row,
                line,
                ts,
                text,
                groups,
            } => {
                let row = &builder.rows[*row];
                let fields = message_fields(&mut o, builder, row, text, groups)?;
                (row.kind.bind(py), *line, *ts, fields, *line, None)
            }
            Item::Bar(bar) => {
                let fields = PyDict::new(py);
                fields.set_item(intern!(py, "label"), &bar.label)?;
                fields.set_item(intern!(py, "total"), count(py, bar.total)?)?;
                fields.set_item(intern!(py, "done"), count(py, bar.done)?)?;
                fields.set_item(intern!(py, "final_rate"), bar.final_rate)?;
                fields.set_item(intern!(py, "rate_unit"), &bar.unit)?;
                fields.set_item(intern!(py, "elapsed_s"), bar.elapsed)?;
                fields.set_item(intern!(py, "first_elapsed_s"), bar.first_elapsed)?;
                fields.set_item(intern!(py, "states"), bar.states)?;
                fields.set_item(intern!(py, "ts_before"), o.time(bar.ts_before)?)?;
                let kind = builder.progress_bar.bind(py);
                (kind, bar.line, bar.ts, fields, bar.end_line, bar.end_ts)
            }
            Item::Lowvram {
                row,
                line,
                ts,
                end_line,
                end_ts,
                count,
                text,
            } => {
                let row = &builder.rows[*row];
                let fields = PyDict::new(py);
                fields.set_item(intern!(py, "count"), count)?;
                fields.set_item(intern!(py, "pattern"), row.name.bind(py))?;
                fields.set_item(intern!(py, "text"), o.text(text)?)?;
                (row.kind.bind(py), *line, *ts, fields, *end_line, *end_ts)
            }
            Item::Traceback(tb) => {
                let row = &builder.rows[tb.row];
                let fields = traceback_fields(py, row, tb)?;
                (
                    row.kind.bind(py),
                    tb.line,
                    tb.ts,
                    fields,
                    tb.end_line,
                    tb.end_ts,
                )
            }
        };
        let (line, end_line) = (o.line(line)?, o.line(end_line)?);
        let (ts, end_ts) = (o.time(ts)?, o.time(end_ts)?);
        out.push(event.call1((kind, line, ts, fields, source, end_line, end_ts))?);
    }
    Ok(out)
}

/// A traceback's fields, in the order traceback.py's dict gets them.
fn traceback_fields<'py>(
    py: Python<'py>,
    row: &RowBuilder,
    tb: &Traceback,
) -> PyResult<Bound<'py, PyDict>> {
    let fields = PyDict::new(py);
    fields.set_item(intern!(py, "lines"), tb.lines)?;
    fields.set_item(intern!(py, "pattern"), row.name.bind(py))?;
    fields.set_item(intern!(py, "text"), &tb.text)?;
    for key in &tb.keys {
        match *key {
            "chained" => fields.set_item(intern!(py, "chained"), tb.chained)?,
            "first_file" => fields.set_item(intern!(py, "first_file"), &tb.first_file)?,
            "custom_node" => fields.set_item(intern!(py, "custom_node"), &tb.custom_node)?,
            "cuda_call" => fields.set_item(intern!(py, "cuda_call"), tb.cuda_call)?,
            "frames" => fields.set_item(intern!(py, "frames"), &tb.frames)?,
            "frame_owners" => fields.set_item(intern!(py, "frame_owners"), &tb.frame_owners)?,
            "causes" => fields.set_item(intern!(py, "causes"), &tb.causes)?,
            _ => {
                if let Some((kind, message, oom, line)) = &tb.exception {
                    match *key {
                        "exception_type" => fields.set_item(intern!(py, "exception_type"), kind)?,
                        "message" => fields.set_item(intern!(py, "message"), message)?,
                        "oom" => fields.set_item(intern!(py, "oom"), *oom)?,
                        _ => fields.set_item(intern!(py, "exception_line"), *line)?,
                    }
                }
            }
        }
    }
    Ok(fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_numbers_are_read_as_python_reads_them() {
        Python::initialize();
        Python::attach(|py| {
            let int = |t: &str| plain_number(py, t, false).map(|v| v.extract::<i64>().unwrap());
            let float = |t: &str| plain_number(py, t, true).map(|v| v.extract::<f64>().unwrap());
            assert_eq!(int("42"), Some(42));
            assert_eq!(int("-7"), Some(-7));
            assert_eq!(int("007"), Some(7));
            assert_eq!(float("0.1"), Some(0.1));
            assert_eq!(float("12."), Some(12.0));
            assert_eq!(float(".5"), Some(0.5));
            assert_eq!(float("-3.25"), Some(-3.25));
            assert_eq!(float("1e3"), Some(1000.0));
            assert_eq!(float("9.5367431640625e+25"), Some(9.5367431640625e25));
            // Python's converter reads these (signs, spaces, separators, exponents, other digits)
            for text in [
                "", "-", ".", "+5", " 5", "5 ", "1_000", "1e", "e3", "1e+", "1.2.3", "٣", "inf",
                "nan",
            ] {
                assert!(int(text).is_none() && float(text).is_none(), "{text:?}");
            }
            assert!(int("1.5").is_none());
            assert!(int("1234567890123456789").is_none()); // 19 digits: Python's int
        });
    }

    /// The states CPython's `datetime.__reduce__()` gives for these times (microseconds since
    /// 0001-01-01), and the datetimes the constructor reads back from them.
    #[test]
    fn times_are_pickled_as_python_pickles_them() {
        for (us, state) in [
            (
                63_896_833_682_618_719,
                [7, 233, 10, 23, 16, 28, 2, 9, 112, 223],
            ),
            (0, [0, 1, 1, 1, 0, 0, 0, 0, 0, 0]),
            (
                315_537_897_599_999_999,
                [39, 15, 12, 31, 23, 59, 59, 15, 66, 63],
            ),
            (59_926_608_000_000_001, [7, 108, 1, 1, 0, 0, 0, 0, 0, 1]),
        ] {
            assert_eq!(pickled_time(prefix::civil(us)), state, "{us}");
        }
        Python::initialize();
        Python::attach(|py| {
            let mut times = Times::new(py);
            let shown = |t: Bound<'_, PyAny>| t.str().unwrap().to_string();
            assert_eq!(
                shown(times.get(Some(63_896_833_682_618_719)).unwrap()),
                "2025-10-23 16:28:02.618719"
            );
            assert_eq!(shown(times.get(Some(0)).unwrap()), "0001-01-01 00:00:00");
            assert_eq!(
                shown(times.get(Some(315_537_897_599_999_999)).unwrap()),
                "9999-12-31 23:59:59.999999"
            );
            // a microsecond past year 9999 is refused, as Python refuses it, not made as year 10000
            let err = times.get(Some(315_537_897_600_000_000)).unwrap_err();
            assert!(
                err.is_instance_of::<pyo3::exceptions::PyValueError>(py),
                "{err}"
            );
        });
    }

    #[test]
    fn a_shared_text_gives_each_conversion_its_own_value() {
        Python::initialize();
        Python::attach(|py| {
            let mut o = Objects::new(py);
            let shown = |v: Bound<'_, PyAny>| v.repr().unwrap().to_string();
            let seconds: Arc<str> = Arc::from("42");
            for _ in 0..2 {
                assert_eq!(shown(o.text(&seconds).unwrap()), "'42'");
                assert_eq!(shown(o.shared(&seconds, Typed::Int).unwrap()), "42");
                assert_eq!(shown(o.shared(&seconds, Typed::Float).unwrap()), "42.0");
            }
            // a text dropped by the items while converting: the table holds it, so no later text
            // can take its place at its address
            for n in 0..1000 {
                let text: Arc<str> = Arc::from(n.to_string());
                assert_eq!(shown(o.shared(&text, Typed::Int).unwrap()), n.to_string());
            }
        });
    }

    #[test]
    fn bar_counts_are_ints_when_whole() {
        Python::initialize();
        Python::attach(|py| {
            let shown = |v: f64| count(py, v).unwrap().repr().unwrap().to_string();
            assert_eq!(shown(20.0), "20");
            assert_eq!(shown(-0.0), "0");
            assert_eq!(shown(2.5), "2.5");
            assert_eq!(shown(1e20), "100000000000000000000");
            assert_eq!(shown(f64::INFINITY), "inf");
        });
    }
}
