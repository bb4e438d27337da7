//! The Rust segmenter's final records as comfylog/model.py's objects (made by position, as
//! emit.rs describes them), handed to Python in batches as they become final; whole spool blocks
//! come as pickle bytes instead (pickle.rs).

use super::emit::{self, Class, Shape, Sink};
use super::phases::Ts;
use super::pickle::{Handed, Names, Part};
use super::records::{Bar, BarKind, ErrorRec, Load, Prompt, Run};
use crate::pyitems::Times;
use crate::table::Phase;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple};
use pyo3::IntoPyObjectExt;
use std::collections::HashMap;
use std::sync::Arc;

/// What Rust needs from Python to make the records: model.py's classes and the phases.
#[pyclass(module = "comfylog._native", frozen)]
pub struct RecordBuilder {
    /// The classes in emit::Class::ALL's order.
    classes: Vec<Py<PyAny>>,
    /// Phase.LOAD, INFERENCE, WAIT, OTHER (table.rs's order).
    phase: [Py<PyAny>; 4],
    /// BarKind.SAMPLING, LOADING, OTHER.
    bar_kind: [Py<PyAny>; 3],
    /// The same, as pickle finds them.
    names: Arc<Names>,
}

/// `object`'s (module, qualified name), as pickle finds a class.
fn where_is(object: &Bound<'_, PyAny>) -> PyResult<(String, String)> {
    Ok((
        object.getattr("__module__")?.extract()?,
        object.getattr("__qualname__")?.extract()?,
    ))
}

#[pymethods]
impl RecordBuilder {
    /// The classes are checked to have the fields this module passes, in its order (records are
    /// made by position: a field added to model.py must be added to emit.rs too).
    #[new]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        run: Py<PyAny>,
        prompt: Py<PyAny>,
        bar: Py<PyAny>,
        load: Py<PyAny>,
        error: Py<PyAny>,
        phases: Py<PyAny>,
        span: Py<PyAny>,
        phase: (Py<PyAny>, Py<PyAny>, Py<PyAny>, Py<PyAny>),
        bar_kind: (Py<PyAny>, Py<PyAny>, Py<PyAny>),
    ) -> PyResult<RecordBuilder> {
        let classes = vec![run, prompt, bar, load, error, phases, span];
        for (class, which) in classes.iter().zip(Class::ALL) {
            let fields = which.fields();
            let names: Vec<String> = class
                .bind(py)
                .getattr("__dataclass_fields__")?
                .cast::<PyDict>()?
                .keys()
                .iter()
                .map(|k| k.extract::<String>())
                .collect::<PyResult<_>>()?;
            if names != fields {
                return Err(PyValueError::new_err(format!(
                    "the native segmenter makes {} with the fields {fields:?}, model.py has {names:?}",
                    class.bind(py).getattr("__name__")?
                )));
            }
        }
        let phase = [phase.0, phase.1, phase.2, phase.3];
        let bar_kind = [bar_kind.0, bar_kind.1, bar_kind.2];
        let value = |member: &Py<PyAny>| -> PyResult<String> {
            member.bind(py).getattr("value")?.extract()
        };
        let names = Names {
            classes: classes
                .iter()
                .map(|c| where_is(c.bind(py)))
                .collect::<PyResult<_>>()?,
            phase: where_is(&phase[0].bind(py).get_type().into_any())?,
            phase_values: [
                value(&phase[0])?,
                value(&phase[1])?,
                value(&phase[2])?,
                value(&phase[3])?,
            ],
            bar_kind: where_is(&bar_kind[0].bind(py).get_type().into_any())?,
            bar_kind_values: [
                value(&bar_kind[0])?,
                value(&bar_kind[1])?,
                value(&bar_kind[2])?,
            ],
        };
        Ok(RecordBuilder {
            classes,
            phase,
            bar_kind,
            names: Arc::new(names),
        })
    }
}

/// The records as Python objects: values are pushed onto the innermost open container, and a
/// container's `end` makes its object. Equal texts and times are made once per hand-over, as the
/// Python segmenter's records share them (pickle stores a shared object once per spool block, so
/// fresh copies would make the spool, and the records decoded from it, bigger).
struct Objects<'py, 'b> {
    py: Python<'py>,
    builder: &'b RecordBuilder,
    times: Times<'py>,
    seen_times: HashMap<Ts, Bound<'py, PyAny>>,
    texts: HashMap<String, Bound<'py, PyAny>>,
    /// The open containers' values, innermost last; the bottom one holds what was made.
    open: Vec<Vec<Bound<'py, PyAny>>>,
    /// Holders of closed containers, emptied, for the next containers to fill: a new one per
    /// container, grown a value at a time, was a tenth of the handing over of a small log's records.
    spare: Vec<Vec<Bound<'py, PyAny>>>,
}

impl<'py, 'b> Objects<'py, 'b> {
    fn new(py: Python<'py>, builder: &'b RecordBuilder) -> Self {
        Objects {
            py,
            builder,
            times: Times::new(py),
            seen_times: HashMap::new(),
            texts: HashMap::new(),
            open: vec![Vec::new()],
            spare: Vec::new(),
        }
    }

    fn push(&mut self, value: Bound<'py, PyAny>) -> PyResult<()> {
        self.open
            .last_mut()
            .expect("the bottom holder stays")
            .push(value);
        Ok(())
    }

    fn push_value(&mut self, value: impl IntoPyObject<'py>) -> PyResult<()> {
        let value = value.into_bound_py_any(self.py)?;
        self.push(value)
    }

    /// The records written to this sink since the last call, in order.
    fn made(&mut self) -> Vec<Bound<'py, PyAny>> {
        std::mem::take(&mut self.open[0])
    }
}

impl<'py> Sink for Objects<'py, '_> {
    type Error = PyErr;

    fn none(&mut self) -> PyResult<()> {
        let none = self.py.None().into_bound(self.py);
        self.push(none)
    }

    fn bool(&mut self, b: bool) -> PyResult<()> {
        self.push_value(b)
    }

    fn int(&mut self, i: i64) -> PyResult<()> {
        self.push_value(i)
    }

    fn wide(&mut self, i: i128) -> PyResult<()> {
        self.push_value(i)
    }

    fn big_int(&mut self, x: f64) -> PyResult<()> {
        let int = self.py.get_type::<pyo3::types::PyInt>().call1((x,))?;
        self.push(int)
    }

    fn float(&mut self, f: f64) -> PyResult<()> {
        self.push_value(f)
    }

    fn text(&mut self, t: &str) -> PyResult<()> {
        let made = match self.texts.get(t) {
            Some(made) => made.clone(),
            None => {
                let made = PyString::new(self.py, t).into_any();
                self.texts.insert(t.to_string(), made.clone());
                made
            }
        };
        self.push(made)
    }

    fn time(&mut self, us: Option<Ts>) -> PyResult<()> {
        let made = match us {
            None => self.py.None().into_bound(self.py),
            Some(us) => match self.seen_times.get(&us) {
                Some(made) => made.clone(),
                None => {
                    let made = self.times.get(Some(us))?;
                    self.seen_times.insert(us, made.clone());
                    made
                }
            },
        };
        self.push(made)
    }

    fn phase(&mut self, p: Phase) -> PyResult<()> {
        let member = self.builder.phase[usize::from(p.index())]
            .bind(self.py)
            .clone();
        self.push(member)
    }

    fn bar_kind(&mut self, k: BarKind) -> PyResult<()> {
        let member = self.builder.bar_kind[k.index()].bind(self.py).clone();
        self.push(member)
    }

    fn begin(&mut self, _: Shape) -> PyResult<()> {
        let holder = self.spare.pop().unwrap_or_default();
        self.open.push(holder);
        Ok(())
    }

    fn end(&mut self, shape: Shape) -> PyResult<()> {
        let mut values = self.open.pop().expect("a container was begun");
        let py = self.py;
        let made = match shape {
            Shape::List => PyList::new(py, values.drain(..))?.into_any(),
            Shape::Tuple => PyTuple::new(py, values.drain(..))?.into_any(),
            Shape::Dict => {
                let d = PyDict::new(py);
                for pair in values.chunks_exact(2) {
                    d.set_item(&pair[0], &pair[1])?;
                }
                values.clear();
                d.into_any()
            }
            Shape::Record(class) => self.builder.classes[class.index()]
                .bind(py)
                .call1(PyTuple::new(py, values.drain(..))?)?,
        };
        self.spare.push(values);
        self.push(made)
    }
}

impl RecordBuilder {
    pub fn names(&self) -> Arc<Names> {
        Arc::clone(&self.names)
    }

    /// A table's parts as Python's: a block as (its compressed pickle, the estimated bytes it decodes to, its JSON rows or None), records
    /// as a list of objects.
    fn parts<'py, T>(
        &self,
        sink: &mut Objects<'py, '_>,
        parts: Vec<Part<T>>,
        emit: fn(&mut Objects<'py, '_>, &T) -> PyResult<()>,
    ) -> PyResult<Bound<'py, PyList>> {
        let py = sink.py;
        let mut made = Vec::with_capacity(parts.len());
        for part in parts {
            match part {
                Part::Block(block) => {
                    let data = PyBytes::new(py, &block.data);
                    made.push((data, block.decoded, block.rows).into_bound_py_any(py)?);
                }
                Part::Records(records) => {
                    for record in &records {
                        emit(sink, record)?;
                    }
                    made.push(PyList::new(py, sink.made())?.into_any());
                }
            }
        }
        PyList::new(py, made)
    }

    /// What the tables handed over, as Python objects: per table (runs, prompts, bars, loads,
    /// errors) a list of parts in order, each a block `(bytes, decoded bytes, JSON rows)` or a list of records.
    pub fn to_python<'py>(&self, py: Python<'py>, done: Handed) -> PyResult<Bound<'py, PyTuple>> {
        let mut sink = Objects::new(py, self);
        let tables = [
            self.parts(&mut sink, done.runs, |s: &mut Objects<'py, '_>, r: &Run| {
                emit::run(s, r)
            })?,
            self.parts(
                &mut sink,
                done.prompts,
                |s: &mut Objects<'py, '_>, r: &Prompt| emit::prompt(s, r),
            )?,
            self.parts(&mut sink, done.bars, |s: &mut Objects<'py, '_>, r: &Bar| {
                emit::bar(s, r)
            })?,
            self.parts(
                &mut sink,
                done.loads,
                |s: &mut Objects<'py, '_>, r: &Load| emit::load(s, r),
            )?,
            self.parts(
                &mut sink,
                done.errors,
                |s: &mut Objects<'py, '_>, r: &ErrorRec| emit::error(s, r),
            )?,
        ];
        PyTuple::new(py, tables)
    }
}
