//! comfylog/model.py's records (Run, Prompt, ProgressBar, Load, ErrorRecord) as the Rust
//! segmenter builds them; topy.rs makes the Python objects once they are final.

use super::event::Value;
use super::phases::{round3, Ts};
use crate::table::Phase;
use std::sync::Arc;

/// A number that Python holds as an int or a float (the JSON tells `0` from `0.0`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Num {
    Int(i64),
    Float(f64),
}

impl Num {
    pub fn float(self) -> f64 {
        match self {
            Num::Int(i) => i as f64,
            Num::Float(f) => f,
        }
    }

    /// Python's `min(self, other)` with a float `other`.
    pub fn min_float(self, other: f64) -> Num {
        if other < self.float() {
            Num::Float(other)
        } else {
            self
        }
    }

    /// `round(x, 3)`: an int stays the int.
    pub fn round3(self) -> Num {
        match self {
            Num::Int(i) => Num::Int(i),
            Num::Float(f) => Num::Float(round3(f)),
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Phases {
    pub load: Option<Num>,
    pub inference: Option<Num>,
    pub wait: Option<Num>,
    pub other: Option<Num>,
}

impl Phases {
    /// model.Phases(): every phase 0.0.
    pub fn zero() -> Phases {
        let zero = Some(Num::Float(0.0));
        Phases {
            load: zero,
            inference: zero,
            wait: zero,
            other: zero,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Span {
    pub start: Ts,
    pub end: Ts,
    pub phase: Phase,
}

/// model.BarKind: what a progress bar counts (parse/bars.py).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BarKind {
    Sampling,
    Loading,
    Other,
}

impl BarKind {
    pub fn parse(name: &str) -> Option<BarKind> {
        match name {
            "sampling" => Some(BarKind::Sampling),
            "loading" => Some(BarKind::Loading),
            "other" => Some(BarKind::Other),
            _ => None,
        }
    }

    /// model.BAR_PHASE.
    pub fn phase(self) -> Phase {
        match self {
            BarKind::Sampling => Phase::Inference,
            BarKind::Loading => Phase::Load,
            BarKind::Other => Phase::Other,
        }
    }

    /// Python's order of the kinds (model.BarKind), as RecordBuilder gets them.
    pub fn index(self) -> usize {
        match self {
            BarKind::Sampling => 0,
            BarKind::Loading => 1,
            BarKind::Other => 2,
        }
    }
}

/// A tqdm count as the Python parser holds it: an int when the float is whole (`int(x)` past
/// 2**53), else the float. pyitems.rs, emit.rs and jsonrows.rs each spell the kinds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Count {
    Int(i64),
    /// Whole, 2**53 up to below 2**127: exact in an i128.
    Wide(i128),
    /// Whole, 2**127 or more.
    Big(f64),
    Float(f64),
}

impl Count {
    pub fn of(x: f64) -> Count {
        const EXACT: f64 = 9_007_199_254_740_992.0; // 2**53: every whole double below is an i64
        const WIDE: f64 = 1.7e38; // below 2**127: an i128
        if !(x.is_finite() && x.fract() == 0.0) {
            Count::Float(x)
        } else if x.abs() < EXACT {
            Count::Int(x as i64)
        } else if x.abs() < WIDE {
            Count::Wide(x as i128)
        } else {
            Count::Big(x)
        }
    }
}

#[derive(Clone, Debug)]
pub struct Bar {
    pub prompt: Option<u64>,
    pub label: Option<String>,
    pub total: f64,
    pub done: f64,
    pub final_rate: Option<f64>,
    pub rate_unit: String,
    pub elapsed_s: f64,
    pub line: u64,
    pub end_line: u64,
    pub kind: BarKind,
    pub source: u64,
    pub start: Option<Ts>,
    pub end: Option<Ts>,
}

impl Bar {
    pub fn is_loading(&self) -> bool {
        self.kind == BarKind::Loading
    }

    pub fn is_sampling(&self) -> bool {
        self.kind == BarKind::Sampling
    }
}

#[derive(Clone, Debug)]
pub struct Load {
    pub prompt: Option<u64>,
    pub model: Option<Arc<str>>,
    pub kind: &'static str,
    pub usable_mb: Option<Value>,
    pub loaded_mb: Option<Value>,
    pub line: u64,
    pub source: u64,
    pub ts: Option<Ts>,
    pub staged_mb: Option<Value>,
}

#[derive(Clone, Debug)]
pub struct ErrorRec {
    pub prompt: Option<u64>,
    pub kind: &'static str,
    pub message: String,
    pub line: u64,
    pub source: u64,
    pub ts: Option<Ts>,
    pub end_line: Option<u64>,
}

#[derive(Clone, Debug)]
pub struct Prompt {
    pub index: u64,
    pub run: u64,
    pub got_at: Option<Ts>,
    pub line: u64,
    pub source: u64,
    pub status: &'static str,
    pub executed_s: Option<f64>,
    pub started_at: Option<Ts>,
    pub ended_at: Option<Ts>,
    pub total_s: Option<f64>,
    pub phases: Phases,
    pub estimated: bool,
    pub last_line: u64,
    pub spans: Vec<Span>,
    pub ws_timeouts: u64,
    pub lowvram_module_loads: u64,
    pub invalid_outputs: u64,
    pub received: bool,
    /// model.py's `Prompt.began_in_log`: not received, but queued behind the prompt the log starts inside.
    pub began_in_log: bool,
    pub started: bool,
    pub models: Vec<Arc<str>>,
    pub video: Option<Vec<(&'static str, Value)>>,
    pub gguf_qtypes: Option<Vec<(String, i64)>>,
    pub prompt_id: Option<Value>,
    pub cold: bool,
    pub memory: Option<Vec<(String, Value)>>,
    /// Why each phase that is None could not be timed (phase, model.UNTIMED key), in dict order.
    pub not_timed: Option<Vec<(&'static str, &'static str)>>,
}

impl Prompt {
    pub fn new(index: u64, run: u64, got_at: Option<Ts>, line: u64, source: u64) -> Prompt {
        Prompt {
            index,
            run,
            got_at,
            line,
            source,
            status: "unfinished",
            executed_s: None,
            started_at: None,
            ended_at: None,
            total_s: None,
            phases: Phases::zero(),
            estimated: false,
            last_line: 0,
            spans: Vec::new(),
            ws_timeouts: 0,
            lowvram_module_loads: 0,
            invalid_outputs: 0,
            received: true,
            began_in_log: false,
            started: false,
            models: Vec::new(),
            video: None,
            gguf_qtypes: None,
            prompt_id: None,
            cold: false,
            memory: None,
            not_timed: None,
        }
    }
}

/// An import-times entry: seconds, path, failed, line.
pub type ImportTime = (Value, Arc<str>, bool, u64);

#[derive(Clone, Debug, Default)]
pub struct Run {
    pub index: u64,
    pub source: u64,
    pub first_line: u64,
    pub last_line: u64,
    pub started_at: Option<Ts>,
    pub ended_at: Option<Ts>,
    pub restart: bool,
    pub gpu: Option<String>,
    pub device: Option<Arc<str>>,
    pub total_vram_mb: Option<Value>,
    pub total_ram_mb: Option<Value>,
    pub vram_state: Option<Value>,
    pub vram_states: Vec<Value>,
    pub comfyui_version: Option<Value>,
    pub pytorch_version: Option<Value>,
    pub cuda_version: Option<Value>,
    pub ready_at: Option<Ts>,
    pub ready_line: Option<u64>,
    pub startup_s: Option<f64>,
    pub idle_s: Option<f64>,
    pub outside_s: Option<f64>,
    pub install_s: Option<f64>,
    pub install_spans: Vec<(Ts, Ts)>,
    pub span_s: Option<f64>,
    pub serverless: bool,
    pub resolution: f64,
    pub gpu_memory: Option<Vec<(&'static str, Value)>>,
    pub setup: Vec<(String, Value)>,
    pub api_ready_at: Option<Ts>,
    pub import_times: Vec<ImportTime>,
    /// Rows of the import times not kept (MAX_RUN_IMPORT_TIMES), their IMPORT FAILED rows and seconds.
    pub imports_not_kept: u64,
    pub import_failures_not_kept: u64,
    pub import_s_not_kept: f64,
    pub prestartup_times: Vec<ImportTime>,
    pub stopped: bool,
}
