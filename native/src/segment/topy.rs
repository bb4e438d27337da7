//! The Rust segmenter's final records as comfylog/model.py's objects (made by keyword, as the
//! Python segmenter makes them), handed to Python in batches as they become final.

use super::event::Value;
use super::records::{Bar, ErrorRec, Load, Num, Phases, Prompt, Run};
use super::Final;
use crate::pyitems::{count, Times};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};
use pyo3::IntoPyObjectExt;

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
}

#[pymethods]
impl RecordBuilder {
    #[new]
    #[allow(clippy::too_many_arguments)]
    fn new(
        run: Py<PyAny>,
        prompt: Py<PyAny>,
        bar: Py<PyAny>,
        load: Py<PyAny>,
        error: Py<PyAny>,
        phases: Py<PyAny>,
        span: Py<PyAny>,
        phase: (Py<PyAny>, Py<PyAny>, Py<PyAny>, Py<PyAny>),
    ) -> RecordBuilder {
        RecordBuilder {
            run,
            prompt,
            bar,
            load,
            error,
            phases,
            span,
            phase: [phase.0, phase.1, phase.2, phase.3],
        }
    }
}

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

impl RecordBuilder {
    fn make<'py>(
        &self,
        py: Python<'py>,
        class: &Py<PyAny>,
        kwargs: &Bound<'py, PyDict>,
    ) -> PyResult<Bound<'py, PyAny>> {
        class.bind(py).call((), Some(kwargs))
    }

    fn phases<'py>(&self, py: Python<'py>, p: &Phases) -> PyResult<Bound<'py, PyAny>> {
        let k = PyDict::new(py);
        k.set_item("load", num(py, &p.load)?)?;
        k.set_item("inference", num(py, &p.inference)?)?;
        k.set_item("wait", num(py, &p.wait)?)?;
        k.set_item("other", num(py, &p.other)?)?;
        self.make(py, &self.phases, &k)
    }

    pub fn prompt<'py>(
        &self,
        py: Python<'py>,
        t: &mut Times<'py>,
        p: &Prompt,
    ) -> PyResult<Bound<'py, PyAny>> {
        let k = PyDict::new(py);
        k.set_item("index", p.index)?;
        k.set_item("run", p.run)?;
        k.set_item("got_at", t.get(p.got_at)?)?;
        k.set_item("line", p.line)?;
        k.set_item("source", p.source)?;
        k.set_item("status", p.status)?;
        k.set_item("executed_s", p.executed_s)?;
        k.set_item("started_at", t.get(p.started_at)?)?;
        k.set_item("ended_at", t.get(p.ended_at)?)?;
        k.set_item("total_s", p.total_s)?;
        k.set_item("phases", self.phases(py, &p.phases)?)?;
        k.set_item("estimated", p.estimated)?;
        k.set_item("last_line", p.last_line)?;
        let spans = PyList::empty(py);
        for s in &p.spans {
            let phase = self.phase[usize::from(s.phase.index())].bind(py);
            spans.append(self.span.bind(py).call1((
                t.get(Some(s.start))?,
                t.get(Some(s.end))?,
                phase,
            ))?)?;
        }
        k.set_item("spans", spans)?;
        k.set_item("ws_timeouts", p.ws_timeouts)?;
        k.set_item("lowvram_module_loads", p.lowvram_module_loads)?;
        k.set_item("invalid_outputs", p.invalid_outputs)?;
        k.set_item("received", p.received)?;
        k.set_item("started", p.started)?;
        let models: Vec<&str> = p.models.iter().map(|m| &**m).collect();
        k.set_item("models", models)?;
        k.set_item("video", opt_dict(py, &p.video)?)?;
        match &p.gguf_qtypes {
            None => k.set_item("gguf_qtypes", py.None())?,
            Some(qtypes) => {
                let d = PyDict::new(py);
                for (name, count) in qtypes {
                    d.set_item(name, count)?;
                }
                k.set_item("gguf_qtypes", d)?;
            }
        }
        k.set_item("prompt_id", opt_value(py, &p.prompt_id)?)?;
        k.set_item("cold", p.cold)?;
        k.set_item("memory", opt_dict(py, &p.memory)?)?;
        self.make(py, &self.prompt, &k)
    }

    pub fn run<'py>(
        &self,
        py: Python<'py>,
        t: &mut Times<'py>,
        r: &Run,
    ) -> PyResult<Bound<'py, PyAny>> {
        let k = PyDict::new(py);
        k.set_item("index", r.index)?;
        k.set_item("source", r.source)?;
        k.set_item("first_line", r.first_line)?;
        k.set_item("last_line", r.last_line)?;
        k.set_item("started_at", t.get(r.started_at)?)?;
        k.set_item("ended_at", t.get(r.ended_at)?)?;
        k.set_item("restart", r.restart)?;
        k.set_item("gpu", r.gpu.as_deref())?;
        k.set_item("device", r.device.as_deref())?;
        k.set_item("total_vram_mb", opt_value(py, &r.total_vram_mb)?)?;
        k.set_item("total_ram_mb", opt_value(py, &r.total_ram_mb)?)?;
        k.set_item("vram_state", opt_value(py, &r.vram_state)?)?;
        let states = PyList::empty(py);
        for s in &r.vram_states {
            states.append(value(py, s)?)?;
        }
        k.set_item("vram_states", states)?;
        k.set_item("comfyui_version", opt_value(py, &r.comfyui_version)?)?;
        k.set_item("pytorch_version", opt_value(py, &r.pytorch_version)?)?;
        k.set_item("cuda_version", opt_value(py, &r.cuda_version)?)?;
        k.set_item("ready_at", t.get(r.ready_at)?)?;
        k.set_item("ready_line", r.ready_line)?;
        k.set_item("startup_s", r.startup_s)?;
        k.set_item("idle_s", r.idle_s)?;
        k.set_item("outside_s", r.outside_s)?;
        k.set_item("install_s", r.install_s)?;
        let spans = PyList::empty(py);
        for (a, b) in &r.install_spans {
            spans.append(PyTuple::new(py, [t.get(Some(*a))?, t.get(Some(*b))?])?)?;
        }
        k.set_item("install_spans", spans)?;
        k.set_item("span_s", r.span_s)?;
        k.set_item("serverless", r.serverless)?;
        k.set_item("resolution", r.resolution)?;
        k.set_item("gpu_memory", opt_dict(py, &r.gpu_memory)?)?;
        k.set_item("setup", dict(py, &r.setup)?)?;
        k.set_item("api_ready_at", t.get(r.api_ready_at)?)?;
        for (name, times) in [
            ("import_times", &r.import_times),
            ("prestartup_times", &r.prestartup_times),
        ] {
            let list = PyList::empty(py);
            for (seconds, path, failed, line) in times {
                let entry = (value(py, seconds)?, &**path, *failed, *line);
                list.append(entry.into_pyobject(py)?)?;
            }
            k.set_item(name, list)?;
        }
        k.set_item("stopped", r.stopped)?;
        self.make(py, &self.run, &k)
    }

    pub fn bar<'py>(
        &self,
        py: Python<'py>,
        t: &mut Times<'py>,
        b: &Bar,
    ) -> PyResult<Bound<'py, PyAny>> {
        let k = PyDict::new(py);
        k.set_item("prompt", b.prompt)?;
        k.set_item("label", b.label.as_deref())?;
        k.set_item("total", count(py, b.total)?)?;
        k.set_item("done", count(py, b.done)?)?;
        k.set_item("final_rate", b.final_rate)?;
        k.set_item("rate_unit", &b.rate_unit)?;
        k.set_item("elapsed_s", b.elapsed_s)?;
        k.set_item("line", b.line)?;
        k.set_item("end_line", b.end_line)?;
        k.set_item("source", b.source)?;
        k.set_item("start", t.get(b.start)?)?;
        k.set_item("end", t.get(b.end)?)?;
        self.make(py, &self.bar, &k)
    }

    pub fn load<'py>(
        &self,
        py: Python<'py>,
        t: &mut Times<'py>,
        l: &Load,
    ) -> PyResult<Bound<'py, PyAny>> {
        let k = PyDict::new(py);
        k.set_item("prompt", l.prompt)?;
        k.set_item("model", l.model.as_deref())?;
        k.set_item("kind", l.kind)?;
        k.set_item("usable_mb", opt_value(py, &l.usable_mb)?)?;
        k.set_item("loaded_mb", opt_value(py, &l.loaded_mb)?)?;
        k.set_item("line", l.line)?;
        k.set_item("source", l.source)?;
        k.set_item("ts", t.get(l.ts)?)?;
        k.set_item("staged_mb", opt_value(py, &l.staged_mb)?)?;
        self.make(py, &self.load, &k)
    }

    pub fn error<'py>(
        &self,
        py: Python<'py>,
        t: &mut Times<'py>,
        e: &ErrorRec,
    ) -> PyResult<Bound<'py, PyAny>> {
        let k = PyDict::new(py);
        k.set_item("prompt", e.prompt)?;
        k.set_item("kind", e.kind)?;
        k.set_item("message", &e.message)?;
        k.set_item("line", e.line)?;
        k.set_item("source", e.source)?;
        k.set_item("ts", t.get(e.ts)?)?;
        k.set_item("end_line", e.end_line)?;
        self.make(py, &self.error, &k)
    }

    /// The records made final as Python objects: (runs, prompts, bars, loads, errors).
    pub fn to_python<'py>(&self, py: Python<'py>, done: Final) -> PyResult<Bound<'py, PyTuple>> {
        let mut t = Times::new(py);
        let runs = PyList::empty(py);
        for r in &done.runs {
            runs.append(self.run(py, &mut t, r)?)?;
        }
        let prompts = PyList::empty(py);
        for p in &done.prompts {
            prompts.append(self.prompt(py, &mut t, p)?)?;
        }
        let bars = PyList::empty(py);
        for b in &done.bars {
            bars.append(self.bar(py, &mut t, b)?)?;
        }
        let loads = PyList::empty(py);
        for l in &done.loads {
            loads.append(self.load(py, &mut t, l)?)?;
        }
        let errors = PyList::empty(py);
        for e in &done.errors {
            errors.append(self.error(py, &mut t, e)?)?;
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
