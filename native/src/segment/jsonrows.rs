//! The rows of `--format json`'s prompts, progress_bars, loads and errors tables (comfylog/rows.py)
//! written on the scan thread beside each spool block pickled there (pickle.rs), as Python's json
//! encoder writes them (`ensure_ascii=False`, `", "` and `": "`): render/json.py copies the text of a
//! block instead of decoding its records and encoding their rows (a third of a long log's JSON run).
//! tests/test_native_segmenter.py compares the JSON of both segmenters with blocks of five records.

use super::event::Value;
use super::phases::{round3, Ts};
use super::records::{Bar, BarKind, Count, ErrorRec, Load, Num, Prompt};
use crate::prefix;
use std::fmt::Write;

/// Between two rows of a table, as render/json.py joins them.
pub const ROW_SEPARATOR: &str = ",\n    ";

/// `json.dumps(x)` of a float: Python's `repr` (the shortest digits that read back as `x`, in
/// exponent form below 1e-4 and from 1e16), `NaN` and `Infinity` as json allows them.
pub fn float(out: &mut String, x: f64) {
    if x.is_nan() {
        out.push_str("NaN");
        return;
    }
    if x.is_infinite() {
        out.push_str(if x > 0.0 { "Infinity" } else { "-Infinity" });
        return;
    }
    if x == 0.0 {
        out.push_str(if x.is_sign_negative() { "-0.0" } else { "0.0" });
        return;
    }
    // Rust's shortest round-trip digits, as d.ddde±x; where several strings of that length read
    // back as x, Python's repr takes the one nearest x, ties to even: Rust's exact formatting
    // rounds so, and is taken when it reads back as x
    let shortest = format!("{x:e}");
    let width = shortest
        .split_once('e')
        .map_or(1, |(m, _)| m.len() - usize::from(m.starts_with('-')));
    let nearest = format!("{x:.*e}", width.saturating_sub(2));
    let chosen = if nearest.parse::<f64>() == Ok(x) {
        nearest
    } else {
        shortest
    };
    let (mantissa, exponent) = chosen.split_once('e').expect("an exponent");
    let exponent: i32 = exponent.parse().expect("an exponent");
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let n = digits.len() as i32;
    let point = exponent + 1; // digits before the decimal point
    out.push_str(sign);
    if !(-4 < point && point <= 16) {
        out.push_str(&digits[..1]);
        if n > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let _ = write!(
            out,
            "e{}{:02}",
            if exponent < 0 { '-' } else { '+' },
            exponent.abs()
        );
    } else if point <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-point) as usize));
        out.push_str(&digits);
    } else if point >= n {
        out.push_str(&digits);
        out.extend(std::iter::repeat_n('0', (point - n) as usize));
        out.push_str(".0");
    } else {
        out.push_str(&digits[..point as usize]);
        out.push('.');
        out.push_str(&digits[point as usize..]);
    }
}

/// `json.dumps(s, ensure_ascii=False)`: quotes, backslash and control characters escaped.
pub fn text(out: &mut String, s: &str) {
    out.push('"');
    let mut plain = 0;
    for (i, b) in s.bytes().enumerate() {
        let escaped = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0..=0x1f => "",
            _ => continue,
        };
        out.push_str(&s[plain..i]);
        if escaped.is_empty() {
            let _ = write!(out, "\\u{b:04x}");
        } else {
            out.push_str(escaped);
        }
        plain = i + 1;
    }
    out.push_str(&s[plain..]);
    out.push('"');
}

fn opt_text(out: &mut String, s: Option<&str>) {
    match s {
        None => out.push_str("null"),
        Some(s) => text(out, s),
    }
}

fn opt_float(out: &mut String, x: Option<f64>) {
    match x {
        None => out.push_str("null"),
        Some(x) => float(out, x),
    }
}

fn int(out: &mut String, i: impl std::fmt::Display) {
    let _ = write!(out, "{i}");
}

fn opt_int(out: &mut String, i: Option<u64>) {
    match i {
        None => out.push_str("null"),
        Some(i) => int(out, i),
    }
}

fn boolean(out: &mut String, b: bool) {
    out.push_str(if b { "true" } else { "false" });
}

fn value(out: &mut String, v: &Value) {
    match v {
        Value::Bool(b) => boolean(out, *b),
        Value::Int(i) => int(out, i),
        Value::Float(x) => float(out, *x),
        Value::Text(t) => text(out, t),
    }
}

fn opt_value(out: &mut String, v: &Option<Value>) {
    match v {
        None => out.push_str("null"),
        Some(v) => value(out, v),
    }
}

/// A tqdm count as the Python parser holds it (records::Count).
fn count(out: &mut String, x: f64) {
    match Count::of(x) {
        Count::Int(i) => int(out, i),
        Count::Wide(i) => int(out, i),
        Count::Big(x) => {
            let _ = write!(out, "{x:.0}"); // every digit of the whole double, as Python's int(x)
        }
        Count::Float(x) => float(out, x),
    }
}

/// text.iso: ISO 8601, the time of day only for a time-only log (dated 1900).
fn iso(out: &mut String, ts: Option<Ts>) {
    let Some(us) = ts else {
        out.push_str("null");
        return;
    };
    let (y, mo, d, h, mi, s, micro) = prefix::civil(us);
    out.push('"');
    if y != 1900 {
        let _ = write!(out, "{y:04}-{mo:02}-{d:02}T");
    }
    let _ = write!(out, "{h:02}:{mi:02}:{s:02}");
    if micro != 0 {
        let _ = write!(out, ".{micro:06}");
    }
    out.push('"');
}

fn key(out: &mut String, name: &str, first: bool) {
    if !first {
        out.push_str(", ");
    }
    out.push('"');
    out.push_str(name); // the keys are plain names
    out.push_str("\": ");
}

/// Writes `{"a": ..., "b": ...}` field by field.
struct Row<'o> {
    out: &'o mut String,
    first: bool,
}

impl<'o> Row<'o> {
    fn open(out: &'o mut String) -> Self {
        out.push('{');
        Row { out, first: true }
    }

    fn at(&mut self, name: &str) -> &mut String {
        key(self.out, name, self.first);
        self.first = false;
        self.out
    }

    fn close(self) {
        self.out.push('}');
    }
}

fn dict<K: AsRef<str>>(out: &mut String, items: &[(K, Value)]) {
    // a repeated key keeps its first place and its last value, as a dict does
    out.push('{');
    let mut first = true;
    for (i, (k, _)) in items.iter().enumerate() {
        let k = k.as_ref();
        if items[..i].iter().any(|(other, _)| other.as_ref() == k) {
            continue;
        }
        let (_, last) = items[i..]
            .iter()
            .rev()
            .find(|(other, _)| other.as_ref() == k)
            .expect("the key itself");
        if !first {
            out.push_str(", ");
        }
        first = false;
        text(out, k);
        out.push_str(": ");
        value(out, last);
    }
    out.push('}');
}

fn opt_dict<K: AsRef<str>>(out: &mut String, items: &Option<Vec<(K, Value)>>) {
    match items {
        None => out.push_str("null"),
        Some(items) => dict(out, items),
    }
}

fn phase(out: &mut String, n: &Option<Num>) {
    match n {
        None => out.push_str("null"),
        Some(Num::Int(i)) => int(out, i),
        Some(Num::Float(x)) => float(out, round3(*x)),
    }
}

/// rows.py's prompt_row.
pub fn prompt(out: &mut String, p: &Prompt) {
    let mut r = Row::open(out);
    int(r.at("index"), p.index);
    int(r.at("run"), p.run);
    int(r.at("source"), p.source);
    iso(r.at("got_at"), p.got_at);
    iso(r.at("started_at"), p.started_at);
    iso(r.at("ended_at"), p.ended_at);
    text(r.at("status"), p.status);
    boolean(r.at("received"), p.received);
    opt_float(r.at("executed_s"), p.executed_s);
    opt_float(r.at("total_s"), p.total_s);
    let out = r.at("phases");
    let mut phases = Row::open(out);
    phase(phases.at("load"), &p.phases.load);
    phase(phases.at("inference"), &p.phases.inference);
    phase(phases.at("wait"), &p.phases.wait);
    phase(phases.at("other"), &p.phases.other);
    phases.close();
    let out = r.at("not_timed");
    match &p.not_timed {
        None => out.push_str("null"),
        Some(why) => {
            let items: Vec<(&str, Value)> = why
                .iter()
                .map(|(phase, reason)| (*phase, Value::Text((*reason).into())))
                .collect();
            dict(out, &items);
        }
    }
    boolean(r.at("estimated"), p.estimated);
    opt_value(r.at("prompt_id"), &p.prompt_id);
    boolean(r.at("cold"), p.cold);
    opt_dict(r.at("memory"), &p.memory);
    int(r.at("first_line"), p.line);
    int(r.at("last_line"), p.last_line);
    r.close();
}

/// rows.py's progress_bars row.
pub fn bar(out: &mut String, b: &Bar) {
    let mut r = Row::open(out);
    opt_int(r.at("prompt"), b.prompt);
    int(r.at("source"), b.source);
    opt_text(r.at("label"), b.label.as_deref());
    text(
        r.at("kind"),
        match b.kind {
            BarKind::Sampling => "sampling",
            BarKind::Loading => "loading",
            BarKind::Other => "other",
        },
    );
    count(r.at("total"), b.total);
    count(r.at("done"), b.done);
    opt_float(r.at("final_rate"), b.final_rate);
    text(r.at("rate_unit"), &b.rate_unit);
    float(r.at("elapsed_s"), b.elapsed_s);
    iso(r.at("started_at"), b.start);
    int(r.at("line"), b.line);
    r.close();
}

/// rows.py's loads row.
pub fn load(out: &mut String, l: &Load) {
    let mut r = Row::open(out);
    opt_int(r.at("prompt"), l.prompt);
    int(r.at("source"), l.source);
    opt_text(r.at("model"), l.model.as_deref());
    text(r.at("kind"), l.kind);
    opt_value(r.at("usable_mb"), &l.usable_mb);
    opt_value(r.at("loaded_mb"), &l.loaded_mb);
    opt_value(r.at("staged_mb"), &l.staged_mb);
    int(r.at("line"), l.line);
    r.close();
}

/// rows.py's errors row.
pub fn error(out: &mut String, e: &ErrorRec) {
    let mut r = Row::open(out);
    opt_int(r.at("prompt"), e.prompt);
    int(r.at("source"), e.source);
    text(r.at("kind"), e.kind);
    text(r.at("message"), &e.message);
    int(r.at("line"), e.line);
    r.close();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn floated(x: f64) -> String {
        let mut out = String::new();
        float(&mut out, x);
        out
    }

    #[test]
    fn floats_are_pythons_repr() {
        // json.dumps(x) in CPython 3.11
        for (x, python) in [
            (0.1, "0.1"),
            (1.0, "1.0"),
            (-2.5, "-2.5"),
            (123.456, "123.456"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.5e-7, "1.5e-07"),
            (1e16, "1e+16"),
            (1234567890123456.0, "1234567890123456.0"),
            (1.2345678901234567e16, "1.2345678901234568e+16"),
            (1e22, "1e+22"),
            (5e-324, "5e-324"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (0.30000000000000004, "0.30000000000000004"),
            (15492.316528320312, "15492.316528320312"), // 15492.3165283203125: a tie, to even
            (-0.0, "-0.0"),
            (f64::NAN, "NaN"),
            (f64::NEG_INFINITY, "-Infinity"),
        ] {
            assert_eq!(floated(x), python, "{x:e}");
        }
    }

    #[test]
    fn texts_are_escaped_as_json_dumps_does() {
        let mut out = String::new();
        text(&mut out, "a\"b\\c\nd\te\u{1}f\u{7f}é\u{2028}");
        assert_eq!(
            out,
            r#""a\"b\\c\nd\te\u0001f"#.to_string() + "\u{7f}é\u{2028}\""
        );
    }

    #[test]
    fn a_dict_keeps_a_repeated_keys_first_place_and_last_value() {
        let mut out = String::new();
        dict(
            &mut out,
            &[
                ("a", Value::Int(1)),
                ("b", Value::Bool(true)),
                ("a", Value::Float(2.0)),
            ],
        );
        assert_eq!(out, r#"{"a": 2.0, "b": true}"#);
    }
}
