//! The Rust segmenter's final records as comfylog/model.py's objects (made by keyword, as the
//! Python segmenter makes them), handed to Python in batches as they become final.

use super::event::Value;
use super::records::{Bar, ErrorRec, Load, Num, Phases, Prompt, Run};
use super::Final;
use crate::pyitems::{count, Times};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString, PyTuple};
use pyo3::IntoPyObjectExt;
use std::collections::HashMap;

/// What Rust needs from Python to make the records: model.py's classes and the phases.
#[pyclass(module = "comfylog._native", frozen)]
pub struct RecordBuilder {
    run: Py<PyAny>,
    prompt: Py<PyAny>,
    bar: Py<PyAny>,
    load: Py<PyAny>,
    error: Py<PyAny>,
    phases: Py<PyAny>,
    span: Py<PyAny>,
    /// Phase.LOAD, INFERENCE, WAIT, OTHER (table.rs's order).
    phase: [Py<PyAny>; 4],
    /// BarKind.SAMPLING, LOADING, OTHER.
    bar_kind: [Py<PyAny>; 3],
}

#[pymethods]
impl RecordBuilder {
    /// The classes are checked to have the fields this module passes, in its order (records are
    /// made by position: a field added to model.py must be added here too).
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
        for (class, fields) in [
            (&run, RUN_FIELDS),
            (&prompt, PROMPT_FIELDS),
            (&bar, BAR_FIELDS),
            (&load, LOAD_FIELDS),
            (&error, ERROR_FIELDS),
            (&phases, PHASES_FIELDS),
            (&span, SPAN_FIELDS),
        ] {
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
        Ok(RecordBuilder {
            run,
            prompt,
            bar,
            load,
            error,
            phases,
            span,
            phase: [phase.0, phase.1, phase.2, phase.3],
            bar_kind: [bar_kind.0, bar_kind.1, bar_kind.2],
        })
    }
}

const RUN_FIELDS: &[&str] = &[
    "index",
    "source",
    "first_line",
    "last_line",
    "started_at",
    "ended_at",
    "restart",
    "gpu",
    "device",
    "total_vram_mb",
    "total_ram_mb",
    "vram_state",
    "vram_states",
    "comfyui_version",
    "pytorch_version",
    "cuda_version",
    "ready_at",
    "ready_line",
    "startup_s",
    "idle_s",
    "outside_s",
    "install_s",
    "install_spans",
    "span_s",
    "serverless",
    "resolution",
    "gpu_memory",
    "setup",
    "api_ready_at",
    "import_times",
    "prestartup_times",
    "stopped",
];
const PROMPT_FIELDS: &[&str] = &[
    "index",
    "run",
    "got_at",
    "line",
    "source",
    "status",
    "executed_s",
    "started_at",
    "ended_at",
    "total_s",
    "phases",
    "estimated",
    "last_line",
    "spans",
    "ws_timeouts",
    "lowvram_module_loads",
    "invalid_outputs",
    "received",
    "started",
    "models",
    "video",
    "gguf_qtypes",
    "prompt_id",
    "cold",
    "memory",
    "not_timed",
];
const BAR_FIELDS: &[&str] = &[
    "prompt",
    "label",
    "total",
    "done",
    "final_rate",
    "rate_unit",
    "elapsed_s",
    "line",
    "end_line",
    "kind",
    "source",
    "start",
    "end",
];
const LOAD_FIELDS: &[&str] = &[
    "prompt",
    "model",
    "kind",
    "usable_mb",
    "loaded_mb",
    "line",
    "source",
    "ts",
    "staged_mb",
];
const ERROR_FIELDS: &[&str] = &[
    "prompt", "kind", "message", "line", "source", "ts", "end_line",
];
const PHASES_FIELDS: &[&str] = &["load", "inference", "wait", "other"];
const SPAN_FIELDS: &[&str] = &["start", "end", "phase"];

fn value<'py>(py: Python<'py>, v: &Value) -> PyResult<Bound<'py, PyAny>> {
    match v {
        Value::Bool(b) => b.into_bound_py_any(py),
        Value::Int(i) => i.into_bound_py_any(py),
        Value::Float(f) => f.into_bound_py_any(py),
        Value::Text(t) => (&**t).into_bound_py_any(py),
    }
}

fn opt_value<'py>(py: Python<'py>, v: &Option<Value>) -> PyResult<Bound<'py, PyAny>> {
    match v {
        None => Ok(py.None().into_bound(py)),
        Some(v) => value(py, v),
    }
}

fn num<'py>(py: Python<'py>, n: &Option<Num>) -> PyResult<Bound<'py, PyAny>> {
    match n {
        None => Ok(py.None().into_bound(py)),
        Some(Num::Int(i)) => i.into_bound_py_any(py),
        Some(Num::Float(f)) => f.into_bound_py_any(py),
    }
}

fn dict<'py, K: AsRef<str>>(py: Python<'py>, items: &[(K, Value)]) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    for (k, v) in items {
        d.set_item(k.as_ref(), value(py, v)?)?;
    }
    Ok(d)
}

fn opt_dict<'py, K: AsRef<str>>(
    py: Python<'py>,
    items: &Option<Vec<(K, Value)>>,
) -> PyResult<Bound<'py, PyAny>> {
    match items {
        None => Ok(py.None().into_bound(py)),
        Some(items) => Ok(dict(py, items)?.into_any()),
    }
}

/// Python objects made once per batch for equal values, as the Python segmenter's records share
/// them (a model name, a status, a time): pickle stores a shared object once per spool block, so
/// fresh copies would make the spool, and the records decoded from it, bigger.
pub struct Cache<'py> {
    py: Python<'py>,
    times: Times<'py>,
    seen_times: HashMap<i64, Bound<'py, PyAny>>,
    texts: HashMap<String, Bound<'py, PyAny>>,
}

impl<'py> Cache<'py> {
    fn new(py: Python<'py>) -> Self {
        Cache {
            py,
            times: Times::new(py),
            seen_times: HashMap::new(),
            texts: HashMap::new(),
        }
    }

    fn time(&mut self, us: Option<i64>) -> PyResult<Bound<'py, PyAny>> {
        let Some(us) = us else {
            return Ok(self.py.None().into_bound(self.py));
        };
        if let Some(made) = self.seen_times.get(&us) {
            return Ok(made.clone());
        }
        let made = self.times.get(Some(us))?;
        self.seen_times.insert(us, made.clone());
        Ok(made)
    }

    fn text(&mut self, text: &str) -> Bound<'py, PyAny> {
        if let Some(made) = self.texts.get(text) {
            return made.clone();
        }
        let made = PyString::new(self.py, text).into_any();
        self.texts.insert(text.to_string(), made.clone());
        made
    }

    fn opt_text(&mut self, text: Option<&str>) -> Bound<'py, PyAny> {
        match text {
            None => self.py.None().into_bound(self.py),
            Some(text) => self.text(text),
        }
    }
}

/// A record's arguments, by position in its dataclass's field order (checked name by name).
struct Args<'py> {
    py: Python<'py>,
    names: &'static [&'static str],
    values: Vec<Bound<'py, PyAny>>,
}

impl<'py> Args<'py> {
    fn new(py: Python<'py>, names: &'static [&'static str]) -> Self {
        Args {
            py,
            names,
            values: Vec::with_capacity(names.len()),
        }
    }

    fn set(&mut self, name: &str, value: impl IntoPyObject<'py>) -> PyResult<()> {
        assert_eq!(
            self.names[self.values.len()],
            name,
            "a record's field order"
        );
        self.values.push(value.into_bound_py_any(self.py)?);
        Ok(())
    }

    fn make(self, class: &Py<PyAny>) -> PyResult<Bound<'py, PyAny>> {
        assert_eq!(self.values.len(), self.names.len(), "a record's fields");
        class
            .bind(self.py)
            .call1(PyTuple::new(self.py, self.values)?)
    }
}

impl RecordBuilder {
    fn phases<'py>(&self, py: Python<'py>, p: &Phases) -> PyResult<Bound<'py, PyAny>> {
        let mut k = Args::new(py, PHASES_FIELDS);
        k.set("load", num(py, &p.load)?)?;
        k.set("inference", num(py, &p.inference)?)?;
        k.set("wait", num(py, &p.wait)?)?;
        k.set("other", num(py, &p.other)?)?;
        k.make(&self.phases)
    }

    pub fn prompt<'py>(
        &self,
        py: Python<'py>,
        c: &mut Cache<'py>,
        p: &Prompt,
    ) -> PyResult<Bound<'py, PyAny>> {
        let mut k = Args::new(py, PROMPT_FIELDS);
        k.set("index", p.index)?;
        k.set("run", p.run)?;
        k.set("got_at", c.time(p.got_at)?)?;
        k.set("line", p.line)?;
        k.set("source", p.source)?;
        k.set("status", c.text(p.status))?;
        k.set("executed_s", p.executed_s)?;
        k.set("started_at", c.time(p.started_at)?)?;
        k.set("ended_at", c.time(p.ended_at)?)?;
        k.set("total_s", p.total_s)?;
        k.set("phases", self.phases(py, &p.phases)?)?;
        k.set("estimated", p.estimated)?;
        k.set("last_line", p.last_line)?;
        let spans = PyList::empty(py);
        for s in &p.spans {
            let phase = self.phase[usize::from(s.phase.index())].bind(py);
            spans.append(self.span.bind(py).call1((
                c.time(Some(s.start))?,
                c.time(Some(s.end))?,
                phase,
            ))?)?;
        }
        k.set("spans", spans)?;
        k.set("ws_timeouts", p.ws_timeouts)?;
        k.set("lowvram_module_loads", p.lowvram_module_loads)?;
        k.set("invalid_outputs", p.invalid_outputs)?;
        k.set("received", p.received)?;
        k.set("started", p.started)?;
        let models = PyList::empty(py);
        for model in &p.models {
            models.append(c.text(model))?;
        }
        k.set("models", models)?;
        k.set("video", opt_dict(py, &p.video)?)?;
        match &p.gguf_qtypes {
            None => k.set("gguf_qtypes", py.None())?,
            Some(qtypes) => {
                let d = PyDict::new(py);
                for (name, count) in qtypes {
                    d.set_item(name, count)?;
                }
                k.set("gguf_qtypes", d)?;
            }
        }
        k.set("prompt_id", opt_value(py, &p.prompt_id)?)?;
        k.set("cold", p.cold)?;
        k.set("memory", opt_dict(py, &p.memory)?)?;
        match &p.not_timed {
            None => k.set("not_timed", py.None())?,
            Some(why) => {
                let d = PyDict::new(py);
                for (phase, reason) in why {
                    d.set_item(c.text(phase), c.text(reason))?;
                }
                k.set("not_timed", d)?;
            }
        }
        k.make(&self.prompt)
    }

    pub fn run<'py>(
        &self,
        py: Python<'py>,
        c: &mut Cache<'py>,
        r: &Run,
    ) -> PyResult<Bound<'py, PyAny>> {
        let mut k = Args::new(py, RUN_FIELDS);
        k.set("index", r.index)?;
        k.set("source", r.source)?;
        k.set("first_line", r.first_line)?;
        k.set("last_line", r.last_line)?;
        k.set("started_at", c.time(r.started_at)?)?;
        k.set("ended_at", c.time(r.ended_at)?)?;
        k.set("restart", r.restart)?;
        k.set("gpu", c.opt_text(r.gpu.as_deref()))?;
        k.set("device", c.opt_text(r.device.as_deref()))?;
        k.set("total_vram_mb", opt_value(py, &r.total_vram_mb)?)?;
        k.set("total_ram_mb", opt_value(py, &r.total_ram_mb)?)?;
        k.set("vram_state", opt_value(py, &r.vram_state)?)?;
        let states = PyList::empty(py);
        for s in &r.vram_states {
            states.append(value(py, s)?)?;
        }
        k.set("vram_states", states)?;
        k.set("comfyui_version", opt_value(py, &r.comfyui_version)?)?;
        k.set("pytorch_version", opt_value(py, &r.pytorch_version)?)?;
        k.set("cuda_version", opt_value(py, &r.cuda_version)?)?;
        k.set("ready_at", c.time(r.ready_at)?)?;
        k.set("ready_line", r.ready_line)?;
        k.set("startup_s", r.startup_s)?;
        k.set("idle_s", r.idle_s)?;
        k.set("outside_s", r.outside_s)?;
        k.set("install_s", r.install_s)?;
        let spans = PyList::empty(py);
        for (a, b) in &r.install_spans {
            spans.append(PyTuple::new(py, [c.time(Some(*a))?, c.time(Some(*b))?])?)?;
        }
        k.set("install_spans", spans)?;
        k.set("span_s", r.span_s)?;
        k.set("serverless", r.serverless)?;
        k.set("resolution", r.resolution)?;
        k.set("gpu_memory", opt_dict(py, &r.gpu_memory)?)?;
        k.set("setup", dict(py, &r.setup)?)?;
        k.set("api_ready_at", c.time(r.api_ready_at)?)?;
        for (name, times) in [
            ("import_times", &r.import_times),
            ("prestartup_times", &r.prestartup_times),
        ] {
            let list = PyList::empty(py);
            for (seconds, path, failed, line) in times {
                let entry = (value(py, seconds)?, &**path, *failed, *line);
                list.append(entry.into_pyobject(py)?)?;
            }
            k.set(name, list)?;
        }
        k.set("stopped", r.stopped)?;
        k.make(&self.run)
    }

    pub fn bar<'py>(
        &self,
        py: Python<'py>,
        c: &mut Cache<'py>,
        b: &Bar,
    ) -> PyResult<Bound<'py, PyAny>> {
        let mut k = Args::new(py, BAR_FIELDS);
        k.set("prompt", b.prompt)?;
        k.set("label", c.opt_text(b.label.as_deref()))?;
        k.set("total", count(py, b.total)?)?;
        k.set("done", count(py, b.done)?)?;
        k.set("final_rate", b.final_rate)?;
        k.set("rate_unit", c.text(&b.rate_unit))?;
        k.set("elapsed_s", b.elapsed_s)?;
        k.set("line", b.line)?;
        k.set("end_line", b.end_line)?;
        k.set("kind", self.bar_kind[b.kind.index()].bind(py))?;
        k.set("source", b.source)?;
        k.set("start", c.time(b.start)?)?;
        k.set("end", c.time(b.end)?)?;
        k.make(&self.bar)
    }

    pub fn load<'py>(
        &self,
        py: Python<'py>,
        c: &mut Cache<'py>,
        l: &Load,
    ) -> PyResult<Bound<'py, PyAny>> {
        let mut k = Args::new(py, LOAD_FIELDS);
        k.set("prompt", l.prompt)?;
        k.set("model", c.opt_text(l.model.as_deref()))?;
        k.set("kind", c.text(l.kind))?;
        k.set("usable_mb", opt_value(py, &l.usable_mb)?)?;
        k.set("loaded_mb", opt_value(py, &l.loaded_mb)?)?;
        k.set("line", l.line)?;
        k.set("source", l.source)?;
        k.set("ts", c.time(l.ts)?)?;
        k.set("staged_mb", opt_value(py, &l.staged_mb)?)?;
        k.make(&self.load)
    }

    pub fn error<'py>(
        &self,
        py: Python<'py>,
        c: &mut Cache<'py>,
        e: &ErrorRec,
    ) -> PyResult<Bound<'py, PyAny>> {
        let mut k = Args::new(py, ERROR_FIELDS);
        k.set("prompt", e.prompt)?;
        k.set("kind", c.text(e.kind))?;
        k.set("message", c.text(&e.message))?;
        k.set("line", e.line)?;
        k.set("source", e.source)?;
        k.set("ts", c.time(e.ts)?)?;
        k.set("end_line", e.end_line)?;
        k.make(&self.error)
    }

    /// The records made final as Python objects: (runs, prompts, bars, loads, errors).
    pub fn to_python<'py>(&self, py: Python<'py>, done: Final) -> PyResult<Bound<'py, PyTuple>> {
        let mut c = Cache::new(py);
        let runs = PyList::empty(py);
        for r in &done.runs {
            runs.append(self.run(py, &mut c, r)?)?;
        }
        let prompts = PyList::empty(py);
        for p in &done.prompts {
            prompts.append(self.prompt(py, &mut c, p)?)?;
        }
        let bars = PyList::empty(py);
        for b in &done.bars {
            bars.append(self.bar(py, &mut c, b)?)?;
        }
        let loads = PyList::empty(py);
        for l in &done.loads {
            loads.append(self.load(py, &mut c, l)?)?;
        }
        let errors = PyList::empty(py);
        for e in &done.errors {
            errors.append(self.error(py, &mut c, e)?)?;
        }
        PyTuple::new(
            py,
            [
                runs.into_any(),
                prompts.into_any(),
                bars.into_any(),
                loads.into_any(),
                errors.into_any(),
            ],
        )
    }
}
