//! The scanner's items as the segmenter reads them: an event's kind and its fields, typed as
//! comfylog/parse/table.py's FIELD_TYPES converters type them, read straight off the item (no
//! Python object is made for an event the report does not keep).

use super::NotPorted;
use crate::pyitems::{plain_float, plain_int};
use crate::scan::{ClosedBar, Item, Traceback};
use crate::table::Table;
use std::sync::Arc;

/// A field's value as the Python parser types it: the JSON tells an int from a float, so the
/// type is kept, not only the number.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(Arc<str>),
}

impl Value {
    /// Python's truth of the value.
    pub fn truthy(&self) -> bool {
        match self {
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::Float(f) => *f != 0.0,
            Value::Text(t) => !t.is_empty(),
        }
    }

    /// The number (an int as Python's float() of it, exact below 2**53), or None for a text.
    pub fn number(&self) -> Option<f64> {
        match self {
            Value::Bool(b) => Some(f64::from(u8::from(*b))),
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            Value::Text(_) => None,
        }
    }

    pub fn text(&self) -> Option<&str> {
        match self {
            Value::Text(t) => Some(t),
            _ => None,
        }
    }
}

/// A value the segmenter needs that it has no typed reading for: the input goes to Python's.
fn not_ported<T>(what: impl Into<String>) -> Result<T, NotPorted> {
    Err(NotPorted(what.into()))
}

/// A row's field type (messages.toml's `fields`), FIELD_TYPES' names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldType {
    Int,
    Float,
    Hms,
    Text,
    Flag,
    Qtypes,
}

impl FieldType {
    pub fn parse(name: &str) -> Option<FieldType> {
        Some(match name {
            "int" => FieldType::Int,
            "float" | "mb" => FieldType::Float,
            "hms" => FieldType::Hms,
            "text" => FieldType::Text,
            "flag" => FieldType::Flag,
            "qtypes" => FieldType::Qtypes,
            _ => return None,
        })
    }

    /// The converter's value of `text`, where it is plain ASCII (what `int`, `float`,
    /// `hms_seconds`, `str` and `_flag` give); anything else is not ported.
    pub fn convert(self, text: &Arc<str>) -> Result<Value, NotPorted> {
        match self {
            FieldType::Int => match plain_int(text) {
                Some(i) => Ok(Value::Int(i)),
                None => not_ported(format!("int field {text:?}")),
            },
            FieldType::Float => match plain_float(text) {
                Some(f) => Ok(Value::Float(f)),
                None => not_ported(format!("float field {text:?}")),
            },
            FieldType::Hms => {
                let mut total = 0.0;
                for part in text.split(':') {
                    match plain_float(part) {
                        Some(f) => total = total * 60.0 + f,
                        None => return not_ported(format!("hms field {text:?}")),
                    }
                }
                Ok(Value::Float(total))
            }
            FieldType::Text => Ok(Value::Text(Arc::clone(text))),
            FieldType::Flag => Ok(Value::Bool(true)),
            FieldType::Qtypes => not_ported("gguf qtypes field (read by its handler)"),
        }
    }
}

macro_rules! kinds {
    ($($name:ident = $text:literal,)*) => {
        /// comfylog.events.EventKind; `Unknown` for a kind added to the table that this port
        /// does not know (its events make the input NotPorted).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Kind { $($name,)* Unknown }

        impl Kind {
            /// Every kind this port segments (all but Unknown).
            pub const ALL: &'static [Kind] = &[$(Kind::$name,)*];

            pub fn parse(text: &str) -> Kind {
                match text { $($text => Kind::$name,)* _ => Kind::Unknown }
            }

            pub fn name(self) -> &'static str {
                match self { $(Kind::$name => $text,)* Kind::Unknown => "unknown" }
            }
        }
    };
}

kinds! {
    CudaBanner = "cuda_banner",
    CudaVersion = "cuda_version",
    ManagerStartup = "manager_startup",
    WorkerStarting = "worker_starting",
    TotalVram = "total_vram",
    VramState = "vram_state",
    Device = "device",
    PytorchVersion = "pytorch_version",
    ComfyuiVersion = "comfyui_version",
    ImportHeader = "import_header",
    ImportTime = "import_time",
    ServerStarting = "server_starting",
    ServerReady = "server_ready",
    ServerStopped = "server_stopped",
    GpuMemory = "gpu_memory",
    RunSetting = "run_setting",
    PromptReceived = "prompt_received",
    PromptExecuted = "prompt_executed",
    OutputInvalid = "output_invalid",
    PromptInvalid = "prompt_invalid",
    Exception = "exception",
    Interrupted = "interrupted",
    LoadRequested = "load_requested",
    LoadedCompletely = "loaded_completely",
    LoadedPartially = "loaded_partially",
    LowvramMode = "lowvram_mode",
    LowvramModules = "lowvram_modules",
    LoadDetail = "load_detail",
    LoadBatch = "load_batch",
    GgufQtypes = "gguf_qtypes",
    VideoSampling = "video_sampling",
    VideoMemory = "video_memory",
    DynamicLoad = "dynamic_load",
    CacheEviction = "cache_eviction",
    MemoryLeak = "memory_leak",
    ProgressBar = "progress_bar",
    WsTimeout = "ws_timeout",
    WsConnected = "ws_connected",
    WsReconnect = "ws_reconnect",
    WorkerApi = "worker_api",
    WsLost = "ws_lost",
    JobQueued = "job_queued",
    JobQueue = "job_queue",
    NetworkVolume = "network_volume",
    JobStarted = "job_started",
    JobFinished = "job_finished",
    NodeInstall = "node_install",
    Oom = "oom",
    Traceback = "traceback",
    ErrorLine = "error_line",
    Crash = "crash",
    GpuUnsupported = "gpu_unsupported",
    ExtraSearchPath = "extra_search_path",
    AllocConf = "alloc_conf",
    OomMemory = "oom_memory",
    ExtensionMismatch = "extension_mismatch",
    TorchNotInstalled = "torch_not_installed",
    PackageInstalled = "package_installed",
    NumpyMismatch = "numpy_mismatch",
    ValidationDetail = "validation_detail",
    UnhandledOutput = "unhandled_output",
    HandlerOutput = "handler_output",
    VideoSeqLen = "video_seq_len",
    LoraKeyMissed = "lora_key_missed",
    BuiltinImportFailed = "builtin_import_failed",
    NodeModel = "node_model",
    NodeCheckpoint = "node_checkpoint",
    PrestartupFailed = "prestartup_failed",
    InterruptRequest = "interrupt_request",
    HiddenBar = "hidden_bar",
    Background = "background",
}

/// A field of a row: its name, type and group among the row's named groups.
#[derive(Clone, Debug)]
pub struct FieldSpec {
    pub name: String,
    pub ty: FieldType,
    pub group: usize,
}

/// What the segmenter knows of one message-table row (table.rs's order).
#[derive(Clone, Debug)]
pub struct SegRow {
    pub kind: Kind,
    /// Each event's fields start as these (dict order).
    pub constants: Vec<(String, Value)>,
    /// In the order the Python parser adds them.
    pub fields: Vec<FieldSpec>,
    /// Also in the table's load-phase rows (segmenter.py's LOAD_KINDS is by kind).
    pub load_phase: bool,
}

/// One event, as segmenter.py reads an Event: its kind, lines, times and fields.
pub struct Ev<'a> {
    pub kind: Kind,
    pub line: u64,
    pub ts: Option<i64>,
    pub end_line: u64,
    pub end_ts: Option<i64>,
    pub body: Body<'a>,
    /// The item itself (kept as it is when the event is notable).
    pub item: &'a Item,
    table: &'a Table,
}

pub enum Body<'a> {
    Message {
        row: &'a SegRow,
        text: &'a Arc<str>,
        groups: &'a [Option<Arc<str>>],
    },
    Bar(&'a ClosedBar),
    Lowvram {
        count: u64,
        text: &'a Arc<str>,
    },
    Traceback(&'a Traceback),
}

impl<'a> Ev<'a> {
    /// The event an item is (None for an activity).
    pub fn of(
        item: &'a Item,
        rows: &'a [SegRow],
        table: &'a Table,
        bar_kind: Kind,
    ) -> Option<Ev<'a>> {
        let (kind, line, ts, end_line, end_ts, body) = match item {
            Item::Activity(_) => return None,
            Item::Message {
                row,
                line,
                ts,
                text,
                groups,
            } => {
                let row = &rows[*row];
                let body = Body::Message { row, text, groups };
                (row.kind, *line, *ts, *line, None, body)
            }
            Item::Bar(bar) => (
                bar_kind,
                bar.line,
                bar.ts,
                bar.end_line,
                bar.end_ts,
                Body::Bar(bar),
            ),
            Item::Lowvram {
                row,
                line,
                ts,
                end_line,
                end_ts,
                count,
                text,
            } => (
                rows[*row].kind,
                *line,
                *ts,
                *end_line,
                *end_ts,
                Body::Lowvram {
                    count: *count,
                    text,
                },
            ),
            Item::Traceback(tb) => (
                rows[tb.row].kind,
                tb.line,
                tb.ts,
                tb.end_line,
                tb.end_ts,
                Body::Traceback(tb),
            ),
        };
        Some(Ev {
            kind,
            line,
            ts,
            end_line,
            end_ts,
            body,
            item,
            table,
        })
    }

    /// `ev.fields.get(name)`: a bar's fields are read off the bar itself (segmenter's own code).
    pub fn get(&self, name: &str) -> Result<Option<Value>, NotPorted> {
        match &self.body {
            Body::Message { row, text, groups } => {
                if name == "text" {
                    return Ok(Some(Value::Text(Arc::clone(text))));
                }
                if let Some(spec) = row.fields.iter().find(|f| f.name == name) {
                    if let Some(Some(value)) = groups.get(spec.group) {
                        return spec.ty.convert(value).map(Some);
                    }
                }
                if let Some((_, value)) = row.constants.iter().find(|(n, _)| n == name) {
                    return Ok(Some(value.clone()));
                }
                if name == "oom" && row.kind == Kind::Exception {
                    let message = self.get("message")?;
                    let message = message.as_ref().and_then(Value::text).unwrap_or("");
                    return Ok(self.table.is_oom(message).then_some(Value::Bool(true)));
                }
                Ok(None)
            }
            Body::Lowvram { count, text } => Ok(match name {
                "count" => Some(Value::Int(*count as i64)),
                "text" => Some(Value::Text(Arc::clone(text))),
                _ => None,
            }),
            Body::Traceback(tb) => {
                if name == "first_file" {
                    let noted = tb.keys.contains(&"first_file");
                    return Ok(tb
                        .first_file
                        .as_deref()
                        .filter(|_| noted)
                        .map(|f| Value::Text(Arc::from(f))));
                }
                let Some((kind, message, oom, _)) = &tb.exception else {
                    return Ok(match name {
                        "text" => Some(Value::Text(Arc::from(tb.text.as_str()))),
                        _ => None,
                    });
                };
                if !tb.keys.contains(&name) {
                    return Ok(match name {
                        "text" => Some(Value::Text(Arc::from(tb.text.as_str()))),
                        _ => None,
                    });
                }
                Ok(match name {
                    "exception_type" => Some(Value::Text(Arc::from(kind.as_str()))),
                    "message" => Some(Value::Text(Arc::from(message.as_str()))),
                    "oom" => Some(Value::Bool(*oom)),
                    _ => return not_ported(format!("traceback field {name}")),
                })
            }
            // a bar's own fields are read off the bar (segment/mod.rs): none is asked for here
            Body::Bar(_) => Ok(None),
        }
    }

    /// A message field's matched text, unconverted (for a converter done by its reader).
    pub fn group_text(&self, name: &str) -> Option<Arc<str>> {
        let Body::Message { row, groups, .. } = &self.body else {
            return None;
        };
        let spec = row.fields.iter().find(|f| f.name == name)?;
        groups.get(spec.group)?.clone()
    }

    /// A field's truth (`ev.fields.get(name)` in an `if`).
    pub fn flag(&self, name: &str) -> Result<bool, NotPorted> {
        Ok(self.get(name)?.is_some_and(|v| v.truthy()))
    }

    /// A text field (None when absent; not ported when it is no text).
    pub fn text(&self, name: &str) -> Result<Option<Arc<str>>, NotPorted> {
        match self.get(name)? {
            None => Ok(None),
            Some(Value::Text(t)) => Ok(Some(t)),
            Some(other) => not_ported(format!("field {name} is {other:?}, not a text")),
        }
    }

    /// A field every event of the kind has (`ev.fields[name]`).
    pub fn must(&self, name: &str) -> Result<Value, NotPorted> {
        match self.get(name)? {
            Some(v) => Ok(v),
            None => not_ported(format!("{} event without {name}", self.kind.name())),
        }
    }
}
