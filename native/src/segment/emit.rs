//! The records as model.py's objects, described once and written to a `Sink`: Python objects
//! (topy.rs, the records handed over one by one) or pickle bytes (pickle.rs, whole spool blocks
//! written on the scan thread). Both sinks get the same values in the same order, so a record
//! decoded from a block is the object topy.rs would have made.

use super::event::Value;
use super::phases::Ts;
use super::records::{Bar, BarKind, Count, ErrorRec, Load, Num, Phases, Prompt, Run};
use crate::table::Phase;

/// model.py's record classes, as the sinks name them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    Run,
    Prompt,
    Bar,
    Load,
    Error,
    Phases,
    Span,
}

impl Class {
    pub const ALL: [Class; 7] = [
        Class::Run,
        Class::Prompt,
        Class::Bar,
        Class::Load,
        Class::Error,
        Class::Phases,
        Class::Span,
    ];

    pub fn index(self) -> usize {
        self as usize
    }

    /// The dataclass's fields, in order: records are made by position.
    pub fn fields(self) -> &'static [&'static str] {
        match self {
            Class::Run => RUN_FIELDS,
            Class::Prompt => PROMPT_FIELDS,
            Class::Bar => BAR_FIELDS,
            Class::Load => LOAD_FIELDS,
            Class::Error => ERROR_FIELDS,
            Class::Phases => PHASES_FIELDS,
            Class::Span => SPAN_FIELDS,
        }
    }
}

/// What a `begin` opens and its `end` closes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    List,
    Tuple,
    /// Keys and values alternate.
    Dict,
    /// The class called with the values as its positional arguments.
    Record(Class),
}

/// Where a record's values go, depth first: a container's values come between its `begin` and
/// its `end`.
pub trait Sink {
    type Error;
    fn none(&mut self) -> Result<(), Self::Error>;
    fn bool(&mut self, b: bool) -> Result<(), Self::Error>;
    fn int(&mut self, i: i64) -> Result<(), Self::Error>;
    /// An integer past i64 (a count of 2**63 or more).
    fn wide(&mut self, i: i128) -> Result<(), Self::Error>;
    /// An integral float of 2**127 or more, as Python's `int(x)` makes it.
    fn big_int(&mut self, x: f64) -> Result<(), Self::Error>;
    fn float(&mut self, f: f64) -> Result<(), Self::Error>;
    fn text(&mut self, t: &str) -> Result<(), Self::Error>;
    /// A naive datetime (microseconds since 0001-01-01), or None.
    fn time(&mut self, us: Option<Ts>) -> Result<(), Self::Error>;
    fn phase(&mut self, p: Phase) -> Result<(), Self::Error>;
    fn bar_kind(&mut self, k: BarKind) -> Result<(), Self::Error>;
    fn begin(&mut self, shape: Shape) -> Result<(), Self::Error>;
    fn end(&mut self, shape: Shape) -> Result<(), Self::Error>;
}

pub const RUN_FIELDS: &[&str] = &[
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
    "imports_not_kept",
    "import_failures_not_kept",
    "import_s_not_kept",
    "prestartup_times",
    "stopped",
];
pub const PROMPT_FIELDS: &[&str] = &[
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
    "began_in_log",
    "started",
    "models",
    "video",
    "gguf_qtypes",
    "prompt_id",
    "cold",
    "memory",
    "not_timed",
];
pub const BAR_FIELDS: &[&str] = &[
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
pub const LOAD_FIELDS: &[&str] = &[
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
pub const ERROR_FIELDS: &[&str] = &[
    "prompt", "kind", "message", "line", "source", "ts", "end_line",
];
pub const PHASES_FIELDS: &[&str] = &["load", "inference", "wait", "other"];
pub const SPAN_FIELDS: &[&str] = &["start", "end", "phase"];

/// A record's fields written in its class's order: each is named as it is written, and the
/// name is checked against the class's (a field added to model.py must be added here too).
struct Fields<'s, S: Sink> {
    sink: &'s mut S,
    class: Class,
    next: usize,
}

impl<'s, S: Sink> Fields<'s, S> {
    fn open(sink: &'s mut S, class: Class) -> Result<Self, S::Error> {
        sink.begin(Shape::Record(class))?;
        Ok(Fields {
            sink,
            class,
            next: 0,
        })
    }

    /// The sink, for field `name`'s value.
    fn at(&mut self, name: &str) -> &mut S {
        assert_eq!(
            self.class.fields()[self.next],
            name,
            "a record's field order"
        );
        self.next += 1;
        self.sink
    }

    fn close(self) -> Result<(), S::Error> {
        assert_eq!(self.next, self.class.fields().len(), "a record's fields");
        self.sink.end(Shape::Record(self.class))
    }
}

fn value<S: Sink>(s: &mut S, v: &Value) -> Result<(), S::Error> {
    match v {
        Value::Bool(b) => s.bool(*b),
        Value::Int(i) => s.int(*i),
        Value::Float(f) => s.float(*f),
        Value::Text(t) => s.text(t),
    }
}

fn opt_value<S: Sink>(s: &mut S, v: &Option<Value>) -> Result<(), S::Error> {
    match v {
        None => s.none(),
        Some(v) => value(s, v),
    }
}

fn num<S: Sink>(s: &mut S, n: &Option<Num>) -> Result<(), S::Error> {
    match n {
        None => s.none(),
        Some(Num::Int(i)) => s.int(*i),
        Some(Num::Float(f)) => s.float(*f),
    }
}

fn opt_float<S: Sink>(s: &mut S, f: Option<f64>) -> Result<(), S::Error> {
    match f {
        None => s.none(),
        Some(f) => s.float(f),
    }
}

fn opt_text<S: Sink>(s: &mut S, t: Option<&str>) -> Result<(), S::Error> {
    match t {
        None => s.none(),
        Some(t) => s.text(t),
    }
}

fn opt_int<S: Sink>(s: &mut S, i: Option<u64>) -> Result<(), S::Error> {
    match i {
        None => s.none(),
        Some(i) => uint(s, i),
    }
}

fn uint<S: Sink>(s: &mut S, i: u64) -> Result<(), S::Error> {
    match i64::try_from(i) {
        Ok(i) => s.int(i),
        Err(_) => s.wide(i128::from(i)),
    }
}

/// A tqdm count as the Python parser holds it (records::Count).
fn count<S: Sink>(s: &mut S, x: f64) -> Result<(), S::Error> {
    match Count::of(x) {
        Count::Int(i) => s.int(i),
        Count::Wide(i) => s.wide(i),
        Count::Big(x) => s.big_int(x),
        Count::Float(x) => s.float(x),
    }
}

fn dict<S: Sink, K: AsRef<str>>(s: &mut S, items: &[(K, Value)]) -> Result<(), S::Error> {
    s.begin(Shape::Dict)?;
    for (k, v) in items {
        s.text(k.as_ref())?;
        value(s, v)?;
    }
    s.end(Shape::Dict)
}

fn opt_dict<S: Sink, K: AsRef<str>>(
    s: &mut S,
    items: &Option<Vec<(K, Value)>>,
) -> Result<(), S::Error> {
    match items {
        None => s.none(),
        Some(items) => dict(s, items),
    }
}

fn phases<S: Sink>(s: &mut S, p: &Phases) -> Result<(), S::Error> {
    let mut f = Fields::open(s, Class::Phases)?;
    num(f.at("load"), &p.load)?;
    num(f.at("inference"), &p.inference)?;
    num(f.at("wait"), &p.wait)?;
    num(f.at("other"), &p.other)?;
    f.close()
}

pub fn prompt<S: Sink>(s: &mut S, p: &Prompt) -> Result<(), S::Error> {
    let mut f = Fields::open(s, Class::Prompt)?;
    uint(f.at("index"), p.index)?;
    uint(f.at("run"), p.run)?;
    f.at("got_at").time(p.got_at)?;
    uint(f.at("line"), p.line)?;
    uint(f.at("source"), p.source)?;
    f.at("status").text(p.status)?;
    opt_float(f.at("executed_s"), p.executed_s)?;
    f.at("started_at").time(p.started_at)?;
    f.at("ended_at").time(p.ended_at)?;
    opt_float(f.at("total_s"), p.total_s)?;
    phases(f.at("phases"), &p.phases)?;
    f.at("estimated").bool(p.estimated)?;
    uint(f.at("last_line"), p.last_line)?;
    let s = f.at("spans");
    s.begin(Shape::List)?;
    for span in &p.spans {
        let mut g = Fields::open(s, Class::Span)?;
        g.at("start").time(Some(span.start))?;
        g.at("end").time(Some(span.end))?;
        g.at("phase").phase(span.phase)?;
        g.close()?;
    }
    s.end(Shape::List)?;
    uint(f.at("ws_timeouts"), p.ws_timeouts)?;
    uint(f.at("lowvram_module_loads"), p.lowvram_module_loads)?;
    uint(f.at("invalid_outputs"), p.invalid_outputs)?;
    f.at("received").bool(p.received)?;
    f.at("began_in_log").bool(p.began_in_log)?;
    f.at("started").bool(p.started)?;
    let s = f.at("models");
    s.begin(Shape::List)?;
    for model in &p.models {
        s.text(model)?;
    }
    s.end(Shape::List)?;
    opt_dict(f.at("video"), &p.video)?;
    let s = f.at("gguf_qtypes");
    match &p.gguf_qtypes {
        None => s.none()?,
        Some(qtypes) => {
            s.begin(Shape::Dict)?;
            for (name, count) in qtypes {
                s.text(name)?;
                s.int(*count)?;
            }
            s.end(Shape::Dict)?;
        }
    }
    opt_value(f.at("prompt_id"), &p.prompt_id)?;
    f.at("cold").bool(p.cold)?;
    opt_dict(f.at("memory"), &p.memory)?;
    let s = f.at("not_timed");
    match &p.not_timed {
        None => s.none()?,
        Some(why) => {
            s.begin(Shape::Dict)?;
            for (phase, reason) in why {
                s.text(phase)?;
                s.text(reason)?;
            }
            s.end(Shape::Dict)?;
        }
    }
    f.close()
}

fn import_times<S: Sink>(s: &mut S, times: &[super::records::ImportTime]) -> Result<(), S::Error> {
    s.begin(Shape::List)?;
    for (seconds, path, failed, line) in times {
        s.begin(Shape::Tuple)?;
        value(s, seconds)?;
        s.text(path)?;
        s.bool(*failed)?;
        uint(s, *line)?;
        s.end(Shape::Tuple)?;
    }
    s.end(Shape::List)
}

pub fn run<S: Sink>(s: &mut S, r: &Run) -> Result<(), S::Error> {
    let mut f = Fields::open(s, Class::Run)?;
    uint(f.at("index"), r.index)?;
    uint(f.at("source"), r.source)?;
    uint(f.at("first_line"), r.first_line)?;
    uint(f.at("last_line"), r.last_line)?;
    f.at("started_at").time(r.started_at)?;
    f.at("ended_at").time(r.ended_at)?;
    f.at("restart").bool(r.restart)?;
    opt_text(f.at("gpu"), r.gpu.as_deref())?;
    opt_text(f.at("device"), r.device.as_deref())?;
    opt_value(f.at("total_vram_mb"), &r.total_vram_mb)?;
    opt_value(f.at("total_ram_mb"), &r.total_ram_mb)?;
    opt_value(f.at("vram_state"), &r.vram_state)?;
    let s = f.at("vram_states");
    s.begin(Shape::List)?;
    for state in &r.vram_states {
        value(s, state)?;
    }
    s.end(Shape::List)?;
    opt_value(f.at("comfyui_version"), &r.comfyui_version)?;
    opt_value(f.at("pytorch_version"), &r.pytorch_version)?;
    opt_value(f.at("cuda_version"), &r.cuda_version)?;
    f.at("ready_at").time(r.ready_at)?;
    opt_int(f.at("ready_line"), r.ready_line)?;
    opt_float(f.at("startup_s"), r.startup_s)?;
    opt_float(f.at("idle_s"), r.idle_s)?;
    opt_float(f.at("outside_s"), r.outside_s)?;
    opt_float(f.at("install_s"), r.install_s)?;
    let s = f.at("install_spans");
    s.begin(Shape::List)?;
    for (a, b) in &r.install_spans {
        s.begin(Shape::Tuple)?;
        s.time(Some(*a))?;
        s.time(Some(*b))?;
        s.end(Shape::Tuple)?;
    }
    s.end(Shape::List)?;
    opt_float(f.at("span_s"), r.span_s)?;
    f.at("serverless").bool(r.serverless)?;
    f.at("resolution").float(r.resolution)?;
    opt_dict(f.at("gpu_memory"), &r.gpu_memory)?;
    dict(f.at("setup"), &r.setup)?;
    f.at("api_ready_at").time(r.api_ready_at)?;
    import_times(f.at("import_times"), &r.import_times)?;
    uint(f.at("imports_not_kept"), r.imports_not_kept)?;
    uint(f.at("import_failures_not_kept"), r.import_failures_not_kept)?;
    f.at("import_s_not_kept").float(r.import_s_not_kept)?;
    import_times(f.at("prestartup_times"), &r.prestartup_times)?;
    f.at("stopped").bool(r.stopped)?;
    f.close()
}

pub fn bar<S: Sink>(s: &mut S, b: &Bar) -> Result<(), S::Error> {
    let mut f = Fields::open(s, Class::Bar)?;
    opt_int(f.at("prompt"), b.prompt)?;
    opt_text(f.at("label"), b.label.as_deref())?;
    count(f.at("total"), b.total)?;
    count(f.at("done"), b.done)?;
    opt_float(f.at("final_rate"), b.final_rate)?;
    f.at("rate_unit").text(&b.rate_unit)?;
    f.at("elapsed_s").float(b.elapsed_s)?;
    uint(f.at("line"), b.line)?;
    uint(f.at("end_line"), b.end_line)?;
    f.at("kind").bar_kind(b.kind)?;
    uint(f.at("source"), b.source)?;
    f.at("start").time(b.start)?;
    f.at("end").time(b.end)?;
    f.close()
}

pub fn load<S: Sink>(s: &mut S, l: &Load) -> Result<(), S::Error> {
    let mut f = Fields::open(s, Class::Load)?;
    opt_int(f.at("prompt"), l.prompt)?;
    opt_text(f.at("model"), l.model.as_deref())?;
    f.at("kind").text(l.kind)?;
    opt_value(f.at("usable_mb"), &l.usable_mb)?;
    opt_value(f.at("loaded_mb"), &l.loaded_mb)?;
    uint(f.at("line"), l.line)?;
    uint(f.at("source"), l.source)?;
    f.at("ts").time(l.ts)?;
    opt_value(f.at("staged_mb"), &l.staged_mb)?;
    f.close()
}

pub fn error<S: Sink>(s: &mut S, e: &ErrorRec) -> Result<(), S::Error> {
    let mut f = Fields::open(s, Class::Error)?;
    opt_int(f.at("prompt"), e.prompt)?;
    f.at("kind").text(e.kind)?;
    f.at("message").text(&e.message)?;
    uint(f.at("line"), e.line)?;
    uint(f.at("source"), e.source)?;
    f.at("ts").time(e.ts)?;
    opt_int(f.at("end_line"), e.end_line)?;
    f.close()
}
