//! Line prefixes -> timestamps (comfylog/read/prefixes.py, every style it knows).
//!
//! Reading a prefix is split in two so lines can be read in parallel: `read` is pure and gives a
//! `Stamp`; a time-only stamp becomes a time only in order (`Clock::time_only`), because a clock
//! that goes back by more than an hour means midnight passed.
//! Times are microseconds since 0001-01-01 00:00 (Python's `datetime.min`).

use crate::json;
use crate::matchers::{self, Caps, Fast};
use crate::pytext::{self, compile, is_decimal};
use regex::Regex;
use std::borrow::Cow;
use std::sync::LazyLock;

macro_rules! anchored {
    ($name:ident, $pattern:expr) => {
        static $name: LazyLock<Regex> =
            LazyLock::new(|| compile(&format!("^(?:{})", $pattern)).expect($pattern));
    };
}

anchored!(
    DOCKER,
    r"(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(?:\.(\d+))?(?:Z|[+-]\d{2}:?\d{2}) ?"
);
anchored!(
    REPORT,
    r"(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(?:\.(\d+))? - "
);
anchored!(
    MANAGER,
    r"\[(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2})(?::(\d{2})(?:[.,](\d+))?)?\] ?"
);
anchored!(TIME_ONLY, r"\[?(\d{2}):(\d{2}):(\d{2})(?:[.,](\d+))?\]? ");
// prefixes.py's PY_FORMATTER_RE: an old error report's logging format, or the Krita plugin's server.log.
anchored!(
    PY_FORMATTER,
    r"(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})(?:[,.](\d+))?(?: - [\w.]+ - (?:DEBUG|INFO|WARNING|ERROR|CRITICAL) - | (?:DEBUG|INFO|WARNING|ERROR|CRITICAL) )"
);
anchored!(
    RUNPOD_PLAIN,
    r"(?:DEBUG|INFO|WARN|WARNING|ERROR|TRACE|TIP)\s*\| (?:[^\s|]+ \| )?"
);
anchored!(PY_LOGGING, r"(?:INFO|WARNING|ERROR|DEBUG|CRITICAL):[\w.]*:");
// read/runpod.py's CONSOLE_ROW_RE: RunPod's web console copy.
anchored!(
    CONSOLE_ROW,
    r"(?P<date>\d{4}-\d{2}-\d{2})\s+(?P<hms>\d{2}:\d{2}:\d{2})(?:\.(?P<frac>\d+))?\s*\|\s*[A-Za-z]+\s*\|\s*[\w-]*\s*\|\s?"
);
// prefixes.py's RUNPOD_WORKER_TAG_RE: RunPod's console copied without its time column, the worker's id glued to
// the level cell and the message.
anchored!(
    RUNPOD_WORKER_TAG,
    r"[a-z0-9]{14}\[(?:info|warning|warn|error|debug)\]"
);
// prefixes.py's SWARM_RE and SWARM_TAGS_RE: SwarmUI's pasted server log (AdminAPI.LogSubmitToPastebin), and
// the level and `[ComfyUI-1/STDERR] ` its console's time-only stamp is followed by.
anchored!(
    SWARM,
    r"(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})\.(\d+) \[(?:Verbose|Debug|Info|Init|Warning|Error)\] (?:\[[^\]]+/STD(?:OUT|ERR)\] )?"
);
anchored!(
    SWARM_TAGS,
    r"\[(?:Verbose|Debug|Info|Init|Warning|Error)\] (?:\[[^\]]+/STD(?:OUT|ERR)\] )?"
);
// prefixes.py's SWARM_PROCESS_RE: the process tag alone, as SwarmUI's log view's lines are copied.
anchored!(SWARM_PROCESS, r"\[[^\]/\s]{1,64}/STD(?:OUT|ERR)\] ");
// prefixes.py's ELECTRON_RE: ComfyUI Desktop's electron-log level tag, padded to `[error]`'s width, and the
// renderer's `Received log message: ` before a chunk of ComfyUI's output.
anchored!(
    ELECTRON,
    r"\[(?:(?:info|warn)\]  |(?:error|debug|silly|verbose)\] )(?:Received log message: )?"
);
anchored!(
    STREAM_TS,
    r"(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:?\d{2})?$"
);
// prefixes.py's COMPOSE_RE: docker compose's `name  | ` before a container's line (docker/compose
// cmd/formatter/logs.go, presenter.setPrefix), taken off only in an input read/lines.py found to be
// compose output (prefixes.compose_prefixed): the scanner is told so.
anchored!(COMPOSE, r"[A-Za-z0-9][A-Za-z0-9_.-]* +\|(?: |$)");
// prefixes.py's RAY_RE: Ray's `(pid=N) ` before a worker's line, and before its tqdm_ray bar's label.
anchored!(
    RAY,
    r"\((?:[A-Za-z_][A-Za-z0-9_.-]{0,63} )?pid=[0-9]{1,10}(?:, ip=[0-9A-Fa-f.:]{1,45})?\) "
);
// prefixes.py's REPORT_STAMP_RE: every write() of an error report's log has its own `<time> - `.
static REPORT_STAMP: LazyLock<Regex> = LazyLock::new(|| {
    compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)? - ").expect("REPORT_STAMP")
});
// prefixes.py's REPORT_TAIL_RE: the stamp of the next write, ending a line that lost its own.
static REPORT_TAIL: LazyLock<Regex> = LazyLock::new(|| {
    compile(r"(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(?:\.(\d+))? - $").expect("REPORT_TAIL")
});

const JSON_MAX_CHARS: usize = 100_000;
pub const MINUTE: f64 = 60.0;
const MICROS_PER_DAY: i64 = 86_400_000_000;

/// Which prefix style a line had (the report's `timestamp_styles`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    None,
    Docker,
    ErrorReport,
    TimeOnly,
    ManagerMs,
    ManagerMin,
    RunpodConsole,
    RunpodStream,
    SwarmUi,
}

impl Style {
    pub const ALL: [Style; 9] = [
        Style::None,
        Style::Docker,
        Style::ErrorReport,
        Style::TimeOnly,
        Style::ManagerMs,
        Style::ManagerMin,
        Style::RunpodConsole,
        Style::RunpodStream,
        Style::SwarmUi,
    ];

    /// The style's place in ALL.
    pub fn index(self) -> usize {
        self as usize
    }

    pub fn name(self) -> &'static str {
        match self {
            Style::None => "none",
            Style::Docker => "docker",
            Style::ErrorReport => "error-report",
            Style::TimeOnly => "time-only",
            Style::ManagerMs => "manager-ms",
            Style::ManagerMin => "manager-min",
            Style::RunpodConsole => "runpod-console",
            Style::RunpodStream => "runpod-stream",
            Style::SwarmUi => "swarmui",
        }
    }
}

/// The time a prefix gives, before the time-only clock is applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stamp {
    None,
    At(i64),
    /// Microseconds into the day of a time-only prefix (hours may exceed 23: Python adds them).
    TimeOnly(i64),
}

pub struct Prefixed<'a> {
    pub text: Cow<'a, str>,
    pub stamp: Stamp,
    /// The stamp is the one ending the line (an error report's line of one write that lost its own stamp to a
    /// line break): the next write's time. The parser takes the stamp that ended the line before, where there is one (`report_end`).
    pub cut: bool,
    /// Nanoseconds past the stamp's microsecond: docker's seventh to ninth fraction digits.
    pub nanos: u32,
    /// Time-only prefixes read before the one that gives the time (a log-stream line's own
    /// prefix, when the stream's time wins): they move the clock all the same.
    pub ticks: Vec<i64>,
    pub resolution: f64,
    pub style: Style,
}

impl Prefixed<'_> {
    /// The same reading with its text owned: a line read from a `String` that does not outlive the call.
    pub fn into_owned(self) -> Prefixed<'static> {
        Prefixed {
            text: Cow::Owned(self.text.into_owned()),
            ..self
        }
    }
}

/// Days from 0001-01-01 to `y-m-d` (proleptic Gregorian), if the date exists.
pub fn ordinal(y: i64, m: i64, d: i64) -> Option<i64> {
    if !(1..=9999).contains(&y) || !(1..=12).contains(&m) || d < 1 {
        return None;
    }
    const MONTH_DAYS: [i64; 12] = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    const DAYS_BEFORE: [i64; 12] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
    let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    let m = (m - 1) as usize; // 0 is January
    if d > MONTH_DAYS[m] + i64::from(leap && m == 1) {
        return None;
    }
    let yb = y - 1;
    let before_year = yb * 365 + yb / 4 - yb / 100 + yb / 400;
    Some(before_year + DAYS_BEFORE[m] + i64::from(leap && m >= 2) + d - 1)
}

/// A microsecond time as (year, month, day, hour, minute, second, microsecond): the inverse of
/// `ordinal` (Howard Hinnant's civil-from-days).
pub fn civil(us: i64) -> (i32, u8, u8, u8, u8, u8, u32) {
    let days = us.div_euclid(MICROS_PER_DAY);
    let rest = us.rem_euclid(MICROS_PER_DAY);
    let z = days - 719_162 + 719_468; // days from 0000-03-01 (0001-01-01 is ordinal day 0 here)
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let secs = rest / 1_000_000;
    (
        year as i32,
        month as u8,
        day as u8,
        (secs / 3600) as u8,
        (secs / 60 % 60) as u8,
        (secs % 60) as u8,
        (rest % 1_000_000) as u32,
    )
}

/// The time-only base date, 1900-01-01 (comfylog.text.TIME_ONLY_BASE), in microseconds.
pub fn time_only_base() -> i64 {
    ordinal(1900, 1, 1).expect("1900-01-01") * MICROS_PER_DAY
}

fn ascii_number(text: &str) -> Option<i64> {
    if text.is_empty() {
        return None;
    }
    text.bytes().try_fold(0i64, |n, b| {
        if !b.is_ascii_digit() {
            return None;
        }
        n.checked_mul(10)?.checked_add(i64::from(b - b'0'))
    })
}

/// Python's `int()` of a run of Unicode decimal digits (each digit's value is its distance from
/// the start of its block of ten: Unicode keeps digits in runs of ten from zero).
pub fn digits_value(text: &str) -> Option<i64> {
    if let Some(n) = ascii_number(text) {
        return Some(n);
    }
    let mut n: i64 = 0;
    for c in text.chars() {
        n = n.checked_mul(10)?.checked_add(digit_value(c)? as i64)?;
    }
    Some(n)
}

/// The value of one decimal digit character.
pub fn digit_value(c: char) -> Option<u32> {
    if c.is_ascii_digit() {
        return Some(c as u32 - '0' as u32);
    }
    if !is_decimal(c) {
        return None;
    }
    let mut run = 0u32;
    let mut code = c as u32;
    while code > 0 {
        match char::from_u32(code - 1) {
            Some(prev) if is_decimal(prev) => {
                run += 1;
                code -= 1;
            }
            _ => break,
        }
    }
    Some(run % 10)
}

/// prefixes.py's `_at`: `datetime.fromisoformat(f"{date} {hms}.{frac[:6]}")`, None if impossible
/// (ASCII digits only, as fromisoformat reads them).
fn at(date: &str, hms: &str, frac: Option<&str>) -> Option<i64> {
    if hms.len() != 8 {
        return None;
    }
    at_parts(date, hms.get(0..2)?, hms.get(3..5)?, hms.get(6..8)?, frac)
}

/// `_at` with the time in its parts (hours, minutes, seconds: two ASCII digits each).
fn at_parts(date: &str, h: &str, mi: &str, s: &str, frac: Option<&str>) -> Option<i64> {
    if date.len() != 10 {
        return None;
    }
    let y = ascii_number(date.get(0..4)?)?;
    let mo = ascii_number(date.get(5..7)?)?;
    let day = ascii_number(date.get(8..10)?)?;
    let h = ascii_number(h)?;
    let mi = ascii_number(mi)?;
    let s = ascii_number(s)?;
    if h > 23 || mi > 59 || s > 59 {
        return None;
    }
    let micro = match frac {
        None => 0,
        Some(f) => fraction_value(f.chars(), 6, false)?,
    };
    let days = ordinal(y, mo, day)?;
    Some(days * MICROS_PER_DAY + ((h * 60 + mi) * 60 + s) * 1_000_000 + micro)
}

/// The number the first `places` digits of a fraction make once padded with zeros to `places`
/// (`int(f"{frac[:6]:0<6}")`): with `unicode`, any decimal digit as Python's `int()` reads it,
/// else ASCII digits only (`fromisoformat`); None if another character is among them.
fn fraction_value(digits: impl Iterator<Item = char>, places: u32, unicode: bool) -> Option<i64> {
    let mut n: i64 = 0;
    let mut taken = 0;
    for c in digits.take(places as usize) {
        let d = if c.is_ascii_digit() {
            c as u32 - '0' as u32
        } else if unicode {
            digit_value(c)?
        } else {
            return None;
        };
        n = n * 10 + i64::from(d);
        taken += 1;
    }
    Some(n * 10i64.pow(places - taken))
}

/// A time-only prefix's time of day (hours may exceed 23: Python adds them).
fn time_only_stamp(text: &str, m: &Caps) -> Option<Stamp> {
    let part = |i| m.group(text, i).map_or(Some(0), digits_value);
    let (h, mi, s) = (part(0)?, part(1)?, part(2)?);
    let micro = match m.group(text, 3) {
        None => 0,
        Some(f) => fraction_value(f.chars(), 6, true)?,
    };
    Some(Stamp::TimeOnly(
        (h * 3600 + mi * 60 + s) * 1_000_000 + micro,
    ))
}

/// A prefix regex's match at the start of `text`: the hand-written matcher's answer, or the
/// regex's where the matcher cannot be sure (matchers.rs).
fn matched(fast: impl FnOnce(&str) -> Fast<Caps>, regex: &Regex, text: &str) -> Option<Caps> {
    fast(text).or_regex(|| captures(regex, text))
}

/// A regex's match at the start of `text`, as spans (its first four groups).
fn captures(regex: &Regex, text: &str) -> Option<Caps> {
    let m = regex.captures(text)?;
    let span = |i: usize| m.get(i).map(|g| (g.start(), g.end()));
    Some(Caps {
        end: m.get(0).expect("0").end(),
        groups: [span(1), span(2), span(3), span(4)],
    })
}

/// Where a prefix regex's match at the start of `text` ends (`matched`, without the groups).
fn matched_end(fast: impl FnOnce(&str) -> Fast<usize>, regex: &Regex, text: &str) -> Option<usize> {
    fast(text).or_regex(|| regex.find(text).map(|m| m.end()))
}

fn first_char(text: &str) -> Option<char> {
    text.chars().next()
}

/// `PrefixReader.read` without its clock: the message, and the stamp its prefix gives.
pub fn read(line: &str) -> Prefixed<'_> {
    if line.as_bytes().get(14) == Some(&b'[') {
        if let Some(tag) = RUNPOD_WORKER_TAG.find(line) {
            // no time of its own; the message may carry a prefix of its own, and its newline written as `\n`
            let mut message = &line[tag.end()..];
            while let Some(rest) = message.strip_suffix("\\n") {
                message = rest;
            }
            return read(message);
        }
    }
    let mut stamp = Stamp::None;
    let mut resolution = 0.0;
    let mut style = Style::None;
    let mut cut = false;
    let mut nanos = 0;
    let mut text: Cow<'_, str> = Cow::Borrowed(line);
    let mut c = first_char(line);
    if c.is_some_and(|c| c.is_numeric()) {
        let mut end = None;
        // REPORT, PY_FORMATTER and CONSOLE_ROW start with a date too: not tried on other lines
        let dated = matchers::may_start_with_date(&text);
        if let Some(m) = matched(matchers::docker, &DOCKER, &text) {
            let frac = m.group(&text, 2);
            stamp = at_stamp(at(
                m.group(&text, 0).unwrap_or(""),
                m.group(&text, 1).unwrap_or(""),
                frac,
            ));
            style = Style::Docker;
            nanos = frac.map_or(0, nanos_of);
            end = Some(m.end);
        } else if let Some(m) = dated
            .then(|| captures(&REPORT, &text).or_else(|| captures(&PY_FORMATTER, &text)))
            .flatten()
        {
            let frac = m.group(&text, 2);
            stamp = at_stamp(at(
                m.group(&text, 0).unwrap_or(""),
                m.group(&text, 1).unwrap_or(""),
                frac,
            ));
            style = Style::ErrorReport;
            end = Some(m.end);
            if text[m.end..].contains(" - ") {
                if let Cow::Owned(rest) = REPORT_STAMP.replace_all(&text[m.end..], "") {
                    text = Cow::Owned(format!("{}{}", &text[..m.end], rest));
                }
            }
        } else if let Some(m) = dated.then(|| captures(&CONSOLE_ROW, &text)).flatten() {
            let frac = m.group(&text, 2);
            stamp = at_stamp(at(
                m.group(&text, 0).unwrap_or(""),
                m.group(&text, 1).unwrap_or(""),
                frac,
            ));
            style = Style::RunpodConsole;
            nanos = frac.map_or(0, nanos_of);
            end = Some(m.end);
        } else if let Some(m) = dated.then(|| captures(&SWARM, &text)).flatten() {
            stamp = at_stamp(at(
                m.group(&text, 0).unwrap_or(""),
                m.group(&text, 1).unwrap_or(""),
                m.group(&text, 2),
            ));
            style = Style::SwarmUi;
            end = Some(m.end);
        } else if let Some(m) = matched(matchers::time_only, &TIME_ONLY, &text) {
            stamp = time_only_stamp(&text, &m).unwrap_or(Stamp::None);
            style = Style::TimeOnly;
            end = Some(m.end);
        }
        if let Some(e) = end {
            text = cut_front(text, e);
            c = first_char(&text);
        }
    }
    if c == Some('[') {
        if let Some(m) = matched(matchers::manager, &MANAGER, &text) {
            let sec = m.group(&text, 2);
            if stamp == Stamp::None {
                let hm = m.group(&text, 1).unwrap_or("");
                // `_at(date, hm + ":" + (sec or "00"), frac)`: eight bytes, or no time
                let inner = match (hm.get(0..2), hm.get(3..5), sec.unwrap_or("00")) {
                    (Some(h), Some(mi), s) if hm.len() == 5 && s.len() == 2 => {
                        at_parts(m.group(&text, 0).unwrap_or(""), h, mi, s, m.group(&text, 3))
                    }
                    _ => None,
                };
                stamp = at_stamp(inner);
                style = if sec.is_some() {
                    Style::ManagerMs
                } else {
                    Style::ManagerMin
                };
                resolution = if sec.is_some() { 0.0 } else { MINUTE };
            }
            text = cut_front(text, m.end);
        } else if stamp == Stamp::None {
            let found = matched(matchers::time_only, &TIME_ONLY, &text).and_then(|m| {
                pytext::rstrip(&text[..m.end])
                    .ends_with(']')
                    .then(|| (time_only_stamp(&text, &m), m.end))
            });
            if let Some((value, e)) = found {
                stamp = value.unwrap_or(Stamp::None);
                style = Style::TimeOnly;
                text = cut_front(text, e);
            }
        }
        c = first_char(&text);
    }
    if c == Some('[') {
        let launcher = match style {
            Style::ManagerMs => ELECTRON.find(&text),
            Style::TimeOnly => SWARM_TAGS.find(&text),
            _ => None,
        };
        let process_tag = || {
            (!matches!(style, Style::ManagerMs | Style::TimeOnly))
                .then(|| SWARM_PROCESS.find(&text).map(|m| m.end()))
                .flatten()
        };
        if let Some(e) = launcher
            .map(|m| m.end())
            .or_else(|| matchers::level_tag(&text))
            .or_else(process_tag)
        {
            text = cut_front(text, e);
        }
    } else if c == Some('{') && short(&text) && text.contains("\"message\"") {
        let stripped = pytext::strip(&text);
        if stripped.ends_with('}') {
            if let Some(message) = json::message(stripped) {
                text = Cow::Owned(without_batch_id(message));
            }
        }
    } else if (c == Some('{') || text.starts_with("data: {"))
        && short(&text)
        && text.contains("\"line\"")
    {
        let body = if c == Some('d') {
            &text[6..]
        } else {
            &text[..]
        };
        if let Some((line, ts, line_nanos)) = stream_line(body) {
            let inner = read(&line); // a container line may carry its own prefix
            let Some(ts) = ts else {
                return Prefixed {
                    text: Cow::Owned(inner.text.into_owned()),
                    ..inner
                };
            };
            let mut ticks = inner.ticks;
            if let Stamp::TimeOnly(t) = inner.stamp {
                ticks.push(t);
            }
            return Prefixed {
                text: Cow::Owned(inner.text.into_owned()),
                stamp: Stamp::At(ts),
                cut: false,
                nanos: line_nanos,
                ticks,
                resolution: 0.0,
                style: Style::RunpodStream,
            };
        }
    } else if c == Some('(') {
        text = without_ray(text);
    }
    if matchers::starts_with_level_word(&text) {
        let end = matched_end(matchers::py_logging, &PY_LOGGING, &text)
            .or_else(|| matched_end(matchers::runpod_plain, &RUNPOD_PLAIN, &text));
        if let Some(e) = end {
            text = cut_front(text, e);
        }
    }
    if style == Style::None && text.ends_with(" - ") {
        // a line of an error report whose stamp was cut off by a line break (a bar, pasted)
        if let Some(m) = captures(&REPORT_TAIL, &text) {
            let start = m.groups[0].map_or(0, |g| g.0);
            stamp = at_stamp(at(
                m.group(&text, 0).unwrap_or(""),
                m.group(&text, 1).unwrap_or(""),
                m.group(&text, 2),
            ));
            style = Style::ErrorReport;
            // one write (no stamp inside): written at the stamp ending the line before (report_end); with more
            // writes glued, the last stamp stays the line's (where the log got to)
            cut = !REPORT_STAMP.is_match(&text[..start]);
            text = Cow::Owned(REPORT_STAMP.replace_all(&text[..start], "").into_owned());
        }
    }
    Prefixed {
        text,
        stamp,
        cut,
        nanos,
        ticks: Vec::new(),
        resolution,
        style,
    }
}

/// prefixes.py's BATCH_ID_RE: runpod 1.12 writes a batch job's messages as `[batchId=ID] message`.
fn without_batch_id(message: String) -> String {
    match message
        .strip_prefix("[batchId=")
        .and_then(|rest| rest.find(']').map(|i| &rest[i + 1..]))
        .and_then(|rest| rest.strip_prefix(' '))
    {
        Some(rest) => rest.to_string(),
        None => message,
    }
}

/// prefixes.py's `_stream_line`: a RunPod log-stream event's `line`, its time (UTC: an offset is
/// taken off) and nanoseconds; None if `text` is not one.
fn stream_line(text: &str) -> Option<(String, Option<i64>, u32)> {
    let stripped = pytext::strip(text);
    if !stripped.ends_with('}') {
        return None;
    }
    let keys = json::object(stripped)?;
    let raw_ts = json::get(&keys, "ts")?;
    let line = json::get(&keys, "line")?.as_ref()?;
    let line = line.trim_end_matches('\n').to_string();
    let Some(m) = raw_ts
        .as_deref()
        .and_then(|t| STREAM_TS.captures(pytext::strip(t)))
    else {
        return Some((line, None, 0));
    };
    let frac = m.get(3).map(|g| g.as_str());
    let mut ts = at(&m[1], &m[2], frac);
    if let (Some(t), Some(zone)) = (ts, m.get(4).map(|g| g.as_str())) {
        if zone != "Z" {
            let sign = if zone.starts_with('+') { 1 } else { -1 };
            let chars: Vec<char> = zone.chars().collect();
            let hours = digits_value(&chars[1..3].iter().collect::<String>())?;
            let minutes = digits_value(&chars[chars.len() - 2..].iter().collect::<String>())?;
            ts = Some(t - sign * (hours * 60 + minutes) * 60_000_000);
        }
    }
    Some((line, ts, frac.map_or(0, nanos_of)))
}

/// prefixes.py's `_nanos`: the fraction's digits past the sixth as nanoseconds (`618719777` -> 777).
fn nanos_of(frac: &str) -> u32 {
    let mut past = frac.chars().skip(6).peekable();
    if past.peek().is_none() {
        return 0;
    }
    fraction_value(past, 3, true).map_or(0, |n| n as u32)
}

/// A time read, or no time.
/// The time of the error report's stamp that ends `line` (`… - ` with nothing after it: the lone stamp of a write
/// a line break cut from its text, or the next write's glued on): prefixes.py's `report_end`.
pub fn report_end(line: &str) -> Option<i64> {
    if !line.ends_with(" - ") {
        return None;
    }
    let m = captures(&REPORT_TAIL, line)?;
    at(
        m.group(line, 0).unwrap_or(""),
        m.group(line, 1).unwrap_or(""),
        m.group(line, 2),
    )
}

fn at_stamp(time: Option<i64>) -> Stamp {
    time.map_or(Stamp::None, Stamp::At)
}

fn short(text: &str) -> bool {
    text.len() < JSON_MAX_CHARS || text.chars().count() < JSON_MAX_CHARS
}

/// `text[at:]` (a byte offset; Python's slice past the end is empty).
fn cut_front(text: Cow<'_, str>, at: usize) -> Cow<'_, str> {
    match text {
        Cow::Borrowed(s) => Cow::Borrowed(s.get(at..).unwrap_or("")),
        Cow::Owned(s) => Cow::Owned(s.get(at..).unwrap_or("").to_string()),
    }
}

/// prefixes.py's `without_compose`: `text` without the docker compose prefix it starts with.
pub fn without_compose(text: Cow<'_, str>) -> Cow<'_, str> {
    match COMPOSE.find(&text).map(|m| m.end()) {
        Some(end) => cut_front(text, end),
        None => text,
    }
}

/// prefixes.py's `may_start_with_prefix`: false when `read` surely leaves `text` as it is.
pub fn may_start_with_prefix(text: &str) -> bool {
    let mut chars = text.chars();
    match chars.next() {
        Some('[') => true,
        Some('(') => RAY.is_match(text),
        Some(c) if c.is_ascii_digit() => {
            let third = chars.nth(1);
            let fifth = text.chars().nth(4);
            third == Some(':') || fifth == Some('-')
        }
        _ => false,
    }
}

/// prefixes.py's `without_ray`: `text` after Ray's worker prefix, and for a bar Ray's tqdm drew without
/// the position Ray puts after its label (`(pid=1)  0: 100%|` -> `100%|`, `(pid=1) Foo 0:  50%|` ->
/// `Foo:  50%|`). Every byte it looks at is ASCII, so its byte offsets are the characters Python counts.
fn without_ray(text: Cow<'_, str>) -> Cow<'_, str> {
    let Some(end) = RAY.find(&text).map(|m| m.end()) else {
        return text;
    };
    let text = cut_front(text, end);
    let rest = text.as_bytes();
    let first = text.find('\r').unwrap_or(text.len());
    let Some(bar) = text[..first].find("%|") else {
        return text;
    };
    let mut digits = bar;
    while digits > 0 && bar - digits < 3 && rest[digits - 1].is_ascii_digit() {
        digits -= 1;
    }
    let mut spaces = digits;
    while spaces > 0 && rest[spaces - 1] == b' ' {
        spaces -= 1;
    }
    if bar == 0 || digits == bar || spaces == digits || spaces < 2 || rest[spaces - 1] != b':' {
        return text;
    }
    let colon = spaces - 1;
    let mut position = colon;
    while position > 0 && rest[position - 1].is_ascii_digit() {
        position -= 1;
    }
    if position == colon || position == 0 || rest[position - 1] != b' ' {
        return text;
    }
    let label = &text[..position - 1];
    if label.is_empty() {
        Cow::Owned(text[colon + 2..].to_string())
    } else {
        Cow::Owned(format!("{}{}", label, &text[colon..]))
    }
}

/// The state of time-only prefixes: the day they have rolled over to.
#[derive(Default, Clone)]
pub struct Clock {
    day: i64,
    last: Option<i64>,
}

impl Clock {
    /// The time of a time-only stamp read now (prefixes.py's `_time_only`).
    pub fn time_only(&mut self, micros: i64) -> i64 {
        if let Some(last) = self.last {
            if micros < last - 3_600_000_000 {
                self.day += 1;
            }
        }
        self.last = Some(micros);
        time_only_base() + self.day * MICROS_PER_DAY + micros
    }

    /// The time a stamp gives, the clock moved on by time-only ones.
    pub fn resolve(&mut self, stamp: Stamp) -> Option<i64> {
        match stamp {
            Stamp::None => None,
            Stamp::At(t) => Some(t),
            Stamp::TimeOnly(m) => Some(self.time_only(m)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(y: i64, mo: i64, d: i64, h: i64, mi: i64, s: i64, us: i64) -> i64 {
        ordinal(y, mo, d).unwrap() * MICROS_PER_DAY + ((h * 60 + mi) * 60 + s) * 1_000_000 + us
    }

    #[test]
    fn docker_nanoseconds_are_cut_to_microseconds() {
        let p = read("2025-10-23T16:28:02.618719777Z got prompt");
        assert_eq!(p.text, "got prompt");
        assert_eq!(p.stamp, Stamp::At(t(2025, 10, 23, 16, 28, 2, 618719)));
        assert_eq!(p.style, Style::Docker);
        assert_eq!(p.nanos, 777);
        assert_eq!(read("2025-10-23T16:28:02.6187Z x").nanos, 0);
        assert_eq!(read("2025-10-23T16:28:02.6187191Z x").nanos, 100);
    }

    #[test]
    fn manager_minutes_and_milliseconds() {
        let p = read("[2024-03-23 21:53] Prompt executed in 3.14 seconds");
        assert_eq!(p.text, "Prompt executed in 3.14 seconds");
        assert_eq!((p.style, p.resolution), (Style::ManagerMin, MINUTE));
        let p = read("[2025-10-22 18:04:30.118] got prompt");
        assert_eq!(p.stamp, Stamp::At(t(2025, 10, 22, 18, 4, 30, 118000)));
    }

    #[test]
    fn docker_compose_prefix_comes_off_and_the_rest_is_read() {
        // YanWenKun/ComfyUI-Docker#122 (tests/fixtures/docker-compose-rocm-hip-exception.log)
        let line = "comfyui-rocm  | !!! Exception during processing !!! HIP error: invalid device function";
        let text = without_compose(Cow::Borrowed(line));
        assert_eq!(
            text,
            "!!! Exception during processing !!! HIP error: invalid device function"
        );
        assert_eq!(without_compose(Cow::Borrowed("comfyui-rocm  | ")), "");
        assert_eq!(without_compose(Cow::Borrowed("comfyui-rocm  |")), "");
        // with --timestamps the docker stamp follows the prefix; runpod-python's level follows it too
        let p = read(&without_compose(Cow::Borrowed(
            "worker-1  | 2025-10-23T16:28:02.618719777Z got prompt",
        )))
        .text
        .into_owned();
        assert_eq!(p, "got prompt");
        let p = read(&without_compose(Cow::Borrowed(
            "worker  | INFO   | Starting API server.",
        )))
        .text
        .into_owned();
        assert_eq!(p, "Starting API server.");
        assert_eq!(
            without_compose(Cow::Borrowed("no prefix | here")),
            "no prefix | here"
        );
    }

    #[test]
    fn error_report_with_its_glued_tail() {
        let p = read("2024-12-17T21:15:37.373432 - got prompt2024-12-17T21:15:37.373500 - ");
        assert_eq!(p.text, "got prompt");
        assert_eq!(p.style, Style::ErrorReport);
    }

    #[test]
    fn time_only_rolls_over_at_midnight() {
        let mut clock = Clock::default();
        let a = read("[23:59:50] got prompt");
        let b = read("00:00:10 Prompt executed in 20.00 seconds");
        assert_eq!(b.text, "Prompt executed in 20.00 seconds");
        let ta = clock.resolve(a.stamp).unwrap();
        let tb = clock.resolve(b.stamp).unwrap();
        assert_eq!(tb - ta, 20_000_000);
    }

    #[test]
    fn civil_is_the_inverse_of_ordinal() {
        for (y, mo, d) in [
            (1, 1, 1),
            (1900, 1, 1),
            (1970, 1, 1),
            (2024, 2, 29),
            (2025, 12, 31),
            (9999, 12, 31),
        ] {
            let us = t(y, mo, d, 23, 59, 58, 999_999);
            assert_eq!(
                civil(us),
                (y as i32, mo as u8, d as u8, 23, 59, 58, 999_999)
            );
        }
    }

    #[test]
    fn a_style_knows_its_place() {
        for (i, style) in Style::ALL.iter().enumerate() {
            assert_eq!(style.index(), i, "{}", style.name());
        }
    }

    #[test]
    fn every_day_of_a_year_follows_the_one_before() {
        for y in [1, 1899, 1900, 1999, 2000, 2023, 2024, 2025, 9999] {
            let days: Vec<i64> = (1..=12)
                .flat_map(|m| (1..=31).filter_map(move |d| ordinal(y, m, d)))
                .collect();
            let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
            assert_eq!(days.len(), if leap { 366 } else { 365 }, "{y}");
            assert!(days.windows(2).all(|w| w[1] == w[0] + 1), "{y}");
            let first = civil(days[0] * MICROS_PER_DAY);
            assert_eq!((first.0, first.1, first.2), (y as i32, 1, 1));
            let last = civil(days[days.len() - 1] * MICROS_PER_DAY);
            assert_eq!((last.0, last.1, last.2), (y as i32, 12, 31));
        }
        assert_eq!(ordinal(2024, 1, 1).map(|d| d + 366), ordinal(2025, 1, 1));
        assert_eq!(ascii_number("99999999999999999999"), None); // past i64: no time
        assert_eq!(ascii_number("0042"), Some(42));
        assert_eq!(ascii_number("4 2"), None);
    }

    #[test]
    fn impossible_dates_give_no_time() {
        assert_eq!(read("2023-02-29T00:00:00Z x").stamp, Stamp::None);
        assert_eq!(read("2024-01-01T24:00:00Z x").text, "x");
    }

    #[test]
    fn level_tags_runpod_and_json() {
        assert_eq!(read("[INFO] got prompt").text, "got prompt");
        assert_eq!(read("ERROR:root:boom").text, "boom");
        assert_eq!(read("INFO   | abc-123 | Started.").text, "Started.");
        let line = r#"{"requestId": null, "message": "Finished.", "level": "INFO"}"#;
        assert_eq!(read(line).text, "Finished.");
        // runpod 1.12: a batch job's messages; the TIP level; the console's lower-case levels
        let batch =
            r#"{"requestId": "j-e1", "message": "[batchId=6f0a] Started.", "level": "INFO"}"#;
        assert_eq!(read(batch).text, "Started.");
        let unclosed =
            r#"{"requestId": "j-e1", "message": "[batchId=6f0a Started.", "level": "INFO"}"#;
        assert_eq!(read(unclosed).text, "[batchId=6f0a Started.");
        assert_eq!(
            read("TIP    | Your return body is 21.5 MB").text,
            "Your return body is 21.5 MB"
        );
        let p = read("2026-06-04T13:16:48.452Z [error] Worker is unhealthy, exiting.");
        assert_eq!(
            (p.text.as_ref(), p.style),
            ("Worker is unhealthy, exiting.", Style::Docker)
        );
        assert_eq!(read("[Info] x").text, "[Info] x"); // only all upper or all lower case
    }

    #[test]
    fn runpod_console_rows_and_log_stream_lines() {
        let p = read("2025-11-10  21:50:27.563 | info | x4twfmpe23foac | got prompt");
        assert_eq!(
            (p.text.as_ref(), p.style),
            ("got prompt", Style::RunpodConsole)
        );
        assert_eq!(p.stamp, Stamp::At(t(2025, 11, 10, 21, 50, 27, 563000)));
        let line = r#"data: {"source": "container", "line": "Prompt executed in 3.00 seconds\n", "ts": "2025-11-10T21:50:27.563+01:00"}"#;
        let p = read(line);
        assert_eq!(
            (p.text.as_ref(), p.style),
            ("Prompt executed in 3.00 seconds", Style::RunpodStream)
        );
        assert_eq!(p.stamp, Stamp::At(t(2025, 11, 10, 20, 50, 27, 563000)));
        let inner = r#"{"line": "[12:00:00] got prompt", "ts": "2025-11-10T21:50:27Z"}"#;
        let p = read(inner);
        assert_eq!((p.text.as_ref(), p.ticks.len()), ("got prompt", 1));
    }

    /// Real prefixes of every style, from the example logs and the corpus.
    const STYLED_LINES: [&str; 16] = [
        "2025-10-22T20:45:31.168208900Z ==========",
        "2025-11-10T21:50:27.563+01:00 got prompt",
        "2025-11-10T21:50:27-0530 got prompt",
        "2024-12-17T21:15:37.373432 - got prompt",
        "2025-02-10 12:00:01,234 - comfy.model - INFO - Requested to load WanVAE",
        "2025-11-10  21:50:27.563 | info | x4twfmpe23foac | got prompt",
        "[2025-10-22 18:02:11.402] ** ComfyUI startup time: 2025-10-22 18:02:11.402",
        "[2024-03-23 21:53] Prompt executed in 3.14 seconds",
        "[23:59:50] got prompt",
        "00:00:10.5 Prompt executed in 20.00 seconds",
        "[INFO] got prompt",
        "[WARN]got prompt",
        "ERROR:root:boom",
        "INFO   | abc-123 | Started.",
        "WARNING | two words | x",
        " 50%|█████     | 1/2 [01:57<01:57, 117.60s/it]",
    ];

    /// Lines to try a matcher on: the example logs' and STYLED_LINES, each also cut short at
    /// every character of its head, with a digit made a Unicode one, and with a Unicode space or
    /// letter put in.
    fn hostile_heads() -> Vec<String> {
        let logs = [
            include_str!("../../examples/local-baseline.log"),
            include_str!("../../examples/runpod-lowvram-gguf.log"),
            include_str!("../../examples/runpod-oom-restart.log"),
        ];
        let mut seeds: Vec<&str> = logs.iter().flat_map(|log| log.lines().step_by(7)).collect();
        seeds.extend(STYLED_LINES);
        let mut out = Vec::new();
        for line in seeds {
            let head = pytext::head_chars(line, 40);
            for (at, ch) in head.char_indices() {
                out.push(line[..at].to_string());
                let after = &line[at + ch.len_utf8()..];
                if ch.is_ascii_digit() {
                    out.push(format!("{}\u{663}{after}", &line[..at]));
                }
                for odd in ['\u{3000}', 'é', ' ', '.', ':', ']'] {
                    out.push(format!("{}{odd}{}", &line[..at], &line[at..]));
                }
            }
            out.push(line.to_string());
        }
        out
    }

    fn same_as_regex(name: &str, fast: fn(&str) -> Fast<Caps>, regex: &Regex, lines: &[String]) {
        let mut decided = 0;
        for line in lines {
            match fast(line) {
                Fast::Match(caps) => {
                    assert_eq!(
                        Some(&caps),
                        captures(regex, line).as_ref(),
                        "{name}: {line:?}"
                    );
                    decided += 1;
                }
                Fast::NoMatch => {
                    assert!(!regex.is_match(line), "{name} missed {line:?}");
                    decided += 1;
                }
                Fast::Unsure => assert!(!line.is_ascii(), "{name} unsure of ASCII {line:?}"),
            }
        }
        assert!(decided > lines.len() / 2, "{name} decided {decided}");
    }

    fn same_end_as_regex(
        name: &str,
        fast: fn(&str) -> Fast<usize>,
        regex: &Regex,
        lines: &[String],
    ) {
        for line in lines {
            match fast(line) {
                Fast::Match(end) => {
                    assert_eq!(
                        regex.find(line).map(|m| m.end()),
                        Some(end),
                        "{name}: {line:?}"
                    )
                }
                Fast::NoMatch => assert!(!regex.is_match(line), "{name} missed {line:?}"),
                Fast::Unsure => assert!(!line.is_ascii(), "{name} unsure of ASCII {line:?}"),
            }
        }
    }

    #[test]
    fn hand_matchers_agree_with_their_regexes() {
        let lines = hostile_heads();
        same_as_regex("docker", matchers::docker, &DOCKER, &lines);
        same_as_regex("manager", matchers::manager, &MANAGER, &lines);
        same_as_regex("time_only", matchers::time_only, &TIME_ONLY, &lines);
        same_end_as_regex("py_logging", matchers::py_logging, &PY_LOGGING, &lines);
        same_end_as_regex(
            "runpod_plain",
            matchers::runpod_plain,
            &RUNPOD_PLAIN,
            &lines,
        );
        let level_tag = compile(r"^(?:\[(?:INFO|WARNING|WARN|ERROR|DEBUG|CRITICAL)\] ?)").unwrap();
        for line in &lines {
            assert_eq!(
                matchers::level_tag(line),
                level_tag.find(line).map(|m| m.end()),
                "{line:?}"
            );
            let dated = [&*REPORT, &*PY_FORMATTER, &*CONSOLE_ROW]
                .iter()
                .any(|r| r.is_match(line));
            assert!(!dated || matchers::may_start_with_date(line), "{line:?}");
            let levelled = PY_LOGGING.is_match(line) || RUNPOD_PLAIN.is_match(line);
            assert!(
                !levelled || matchers::starts_with_level_word(line),
                "{line:?}"
            );
        }
    }

    #[test]
    fn every_style_reads_as_before() {
        let expected = [
            ("==========", Style::Docker),
            ("got prompt", Style::Docker),
            ("got prompt", Style::Docker),
            ("got prompt", Style::ErrorReport),
            ("Requested to load WanVAE", Style::ErrorReport),
            ("got prompt", Style::RunpodConsole),
            (
                "** ComfyUI startup time: 2025-10-22 18:02:11.402",
                Style::ManagerMs,
            ),
            ("Prompt executed in 3.14 seconds", Style::ManagerMin),
            ("got prompt", Style::TimeOnly),
            ("Prompt executed in 20.00 seconds", Style::TimeOnly),
            ("got prompt", Style::None),
            ("got prompt", Style::None),
            ("boom", Style::None),
            ("Started.", Style::None),
            ("two words | x", Style::None),
            (
                " 50%|█████     | 1/2 [01:57<01:57, 117.60s/it]",
                Style::None,
            ),
        ];
        for (line, (text, style)) in STYLED_LINES.iter().zip(expected) {
            let p = read(line);
            assert_eq!((p.text.as_ref(), p.style), (text, style), "{line}");
        }
        assert_eq!(read("00:00:10.5 x").stamp, Stamp::TimeOnly(10_500_000));
        assert_eq!(
            read("[2025-02-10 12:00:01,25] x").stamp,
            Stamp::At(t(2025, 2, 10, 12, 0, 1, 250_000))
        );
    }

    #[test]
    fn unicode_digits_count_as_python_int_reads_them() {
        assert_eq!(digits_value("\u{663}\u{664}"), Some(34));
        assert_eq!(digit_value('\u{1d7d9}'), Some(1)); // mathematical double-struck one
    }
}
