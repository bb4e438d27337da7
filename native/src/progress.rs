//! tqdm progress states in a line (comfylog/parse/progress.py), found in time linear in the line.

use crate::matchers::{self, Span, TqdmCounts};
use crate::prefix::digit_value;
use crate::pytext::{self, compile, is_decimal};
use regex::Regex;
use std::sync::LazyLock;

/// progress.py's PROGRESS_RE from the numbers on, anchored after the bar's closing `|`.
///
/// The rest of PROGRESS_RE is matched by hand, because its bounded repetitions of Unicode classes
/// (`[^\r|]{0,300}?`, `[^|\r]{0,400}`, `[^\]]{0,300}`) make an automaton too big to run fast, and
/// each of them has only one way to match: the label is what lies between the one place a label
/// can start (see `search`) and the percentage's digits; the bar runs to the next `|` (a `\r`
/// first, or more than 400 characters, is no state); the postfix runs to the next `]`. In the
/// numbers, every way back-tracking could split them ends the unit at the same character, so the
/// leftmost-first match below is the only one the postfix can follow.
static NUMBERS: LazyLock<Regex> =
    LazyLock::new(|| compile(&format!(r"^(?:\s*{COUNTS})")).expect("NUMBERS"));
/// The same without the spaces after a bar: a barless state's ` +` takes only spaces.
static COUNTS_AT: LazyLock<Regex> =
    LazyLock::new(|| compile(&format!("^(?:{COUNTS})")).expect("COUNTS"));
/// progress.py's `_COUNTS` up to the unit (the postfix is matched by hand, see `finish`).
const COUNTS: &str = concat!(
    r"(?P<n>\d+(?:\.\d+)?[kMGTP]?)/(?P<total>\d+(?:\.\d+)?[kMGTP]?)\s*",
    r"\[(?P<elapsed>\d+(?::\d{2}){1,2})(?:<(?P<remaining>[\d:?]+))?,\s*",
    r"(?P<rate>\d+(?:\.\d+)?|\?)\s*(?P<unit>[^\],\s]*)"
);
/// The searcher for `%|`, built once.
static PERCENT_BAR: LazyLock<memchr::memmem::Finder<'static>> =
    LazyLock::new(|| memchr::memmem::Finder::new(b"%|"));
const LABEL_CHARS: usize = 300;
const BAR_CHARS: usize = 400;
const POSTFIX_CHARS: usize = 300;

/// One state as progress.py's match gives it: byte offsets into the text searched.
pub struct Match<'a> {
    pub start: usize,
    pub end: usize,
    pub label: &'a str,
    pub n: &'a str,
    pub total: &'a str,
    pub elapsed: &'a str,
    pub rate: &'a str,
    pub unit: &'a str,
}

/// progress.py's `search_progress`: the first state in `text`, trying at each `%|` only the one
/// start a label can have there.
pub fn search(text: &str) -> Option<Match<'_>> {
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(rel) = PERCENT_BAR.find(&bytes[from..]) {
        let find = from + rel;
        let pct = percent_start(text, find);
        if pct < find {
            let low = back_chars(text, pct, LABEL_CHARS);
            let window = &bytes[low..pct];
            let after_cr = memchr::memrchr(b'\r', window).map_or(low, |i| low + i + 1);
            let after_bar = memchr::memrchr(b'|', window).map_or(low, |i| low + i + 1);
            let start = low.max(after_cr).max(after_bar);
            if let Some(m) = numbers_from(text, start, pct, find) {
                return Some(m);
            }
        }
        from = find + 1;
    }
    None
}

/// The state whose label starts at `start`, percentage at `pct` and `%|` at `find`, if the rest
/// of PROGRESS_RE matches there.
fn numbers_from(text: &str, start: usize, pct: usize, find: usize) -> Option<Match<'_>> {
    let bar_from = find + 2;
    // the bar runs to the next `|`: no CR on the way, at most BAR_CHARS characters
    let bar_bytes = memchr::memchr2(b'|', b'\r', &text.as_bytes()[bar_from..])?;
    let bar = &text[bar_from..bar_from + bar_bytes];
    if text.as_bytes()[bar_from + bar_bytes] == b'\r'
        || (bar.len() > BAR_CHARS && bar.chars().count() > BAR_CHARS)
    {
        return None;
    }
    finish(text, start, pct, bar_from + bar_bytes + 1, true)
}

/// The numbers of a state from `at` on (NUMBERS after a bar, COUNTS_AT after a barless
/// percentage), then its postfix and `]`.
fn finish(text: &str, start: usize, pct: usize, at: usize, after_bar: bool) -> Option<Match<'_>> {
    let from = &text[at..];
    let regex = if after_bar { &NUMBERS } else { &COUNTS_AT };
    let c = matchers::tqdm_counts(from, after_bar).or_regex(|| counts_by_regex(regex, from))?;
    let q = at + c.end;
    let end = match text[q..].chars().next()? {
        ']' => q + 1,
        ',' => {
            let mut close = None;
            for (count, (i, ch)) in text[q + 1..].char_indices().enumerate() {
                if ch == ']' {
                    close = Some(q + 1 + i);
                    break;
                }
                if count >= POSTFIX_CHARS {
                    return None;
                }
            }
            close? + 1
        }
        _ => return None,
    };
    let g = |(a, b): Span| &from[a..b];
    Some(Match {
        start,
        end,
        label: &text[start..pct],
        n: g(c.n),
        total: g(c.total),
        elapsed: g(c.elapsed),
        rate: g(c.rate),
        unit: g(c.unit),
    })
}

/// COUNTS's match by the regex itself (where the hand-written matcher is unsure).
fn counts_by_regex(counts: &Regex, text: &str) -> Option<TqdmCounts> {
    let c = counts.captures(text)?;
    let g = |name: &str| c.name(name).map_or((0, 0), |m| (m.start(), m.end()));
    Some(TqdmCounts {
        end: c.get(0).expect("0").end(),
        n: g("n"),
        total: g("total"),
        elapsed: g("elapsed"),
        rate: g("rate"),
        unit: g("unit"),
    })
}

/// progress.py's BARLESS_RE at the start of `text`: tqdm without its bar,
/// `100% 35/35 [00:03<00:00, 11.47it/s]`. The label (no CR, `|` or `%`, at most 300 characters)
/// runs to the first `%`'s digits, so, as for a drawn bar, only one split can match.
fn barless(text: &str) -> Option<Match<'_>> {
    let find = memchr::memchr(b'%', text.as_bytes())?;
    let pct = percent_start(text, find);
    let label = &text[..pct];
    if pct == find || label.contains(['\r', '|']) || label.chars().count() > LABEL_CHARS {
        return None;
    }
    let spaces = text[find + 1..].bytes().take_while(|&b| b == b' ').count();
    if spaces == 0 {
        return None;
    }
    finish(text, 0, pct, find + 1 + spaces, false)
}

/// progress.py's `find_state`: a barless state at the start of `text`, else the first drawn one.
pub fn find_state(text: &str) -> Option<Match<'_>> {
    memchr::memchr(b'%', text.as_bytes())?; // most lines: one pass, no state
    if text.contains("% ") {
        if let Some(m) = barless(text) {
            return Some(m);
        }
    }
    if text.contains("%|") {
        search(text)
    } else {
        None
    }
}

/// Where the percentage before the `%` at `find` starts: up to three decimal digits back (`\d{1,3}`).
fn percent_start(text: &str, find: usize) -> usize {
    let mut pct = find;
    for _ in 0..3 {
        match text[..pct].chars().next_back() {
            Some(prev) if is_decimal(prev) => pct -= prev.len_utf8(),
            _ => break,
        }
    }
    pct
}

/// The byte offset `n` characters before `at` (or 0).
fn back_chars(text: &str, at: usize, n: usize) -> usize {
    text[..at]
        .char_indices()
        .rev()
        .take(n)
        .last()
        .map_or(at, |(i, _)| i)
}

/// Python's `float()` of a number the regex took (Unicode digits read as their values).
pub fn py_float(text: &str) -> Option<f64> {
    if text.is_ascii() {
        return text.parse().ok();
    }
    let ascii: Option<String> = text
        .chars()
        .map(|c| {
            if c == '.' {
                Some('.')
            } else {
                digit_value(c).and_then(|d| char::from_digit(d, 10))
            }
        })
        .collect();
    ascii?.parse().ok()
}

/// progress.py's `si_number`: `1.5k` -> 1500.0.
pub fn si_number(text: &str) -> Option<f64> {
    let scale = match text.chars().last()? {
        'k' => 1e3,
        'M' => 1e6,
        'G' => 1e9,
        'T' => 1e12,
        'P' => 1e15,
        _ => return py_float(text),
    };
    Some(py_float(&text[..text.len() - 1])? * scale)
}

/// parser.py's `_elapsed_seconds`: `01:57` -> 117.0.
pub fn elapsed_seconds(text: &str) -> Option<f64> {
    let mut total = 0.0;
    for part in text.split(':') {
        total = total * 60.0 + py_float(part)?;
    }
    Some(total)
}

/// A state's label as the parser keeps it: `Sampling: ` -> `Sampling`, nothing -> None.
pub fn label(raw: &str) -> Option<String> {
    let l = pytext::strip(pytext::strip(raw).trim_end_matches(':'));
    (!l.is_empty()).then(|| l.to_string())
}

/// parse/progress.py's `bar_seconds`.
pub fn bar_seconds(elapsed_s: f64, done: f64, rate: Option<f64>, unit: &str) -> f64 {
    let Some(rate) = rate else {
        return elapsed_s;
    };
    if rate <= 0.0 || done <= 0.0 {
        return elapsed_s;
    }
    let seconds = if unit == "s/it" {
        done * rate
    } else if let Some(base) = unit.strip_suffix("/s") {
        let mut chars = base.chars();
        let scale = match (chars.next(), base.chars().count() > 1) {
            (Some('k'), true) => 1e3,
            (Some('M'), true) => 1e6,
            (Some('G'), true) => 1e9,
            (Some('T'), true) => 1e12,
            (Some('P'), true) => 1e15,
            _ => 1.0,
        };
        done / (rate * scale)
    } else {
        return elapsed_s;
    };
    if elapsed_s <= seconds && seconds < elapsed_s + 1.0 {
        pytext::round3(seconds)
    } else {
        elapsed_s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matchers::Fast;

    #[test]
    fn a_real_sampling_state() {
        let text = "Sampling:  50%|█████     | 1/2 [01:57<01:57, 117.60s/it]";
        let m = search(text).unwrap();
        assert_eq!((m.start, m.end), (0, text.len()));
        assert_eq!(label(m.label).as_deref(), Some("Sampling"));
        assert_eq!(
            (m.n, m.total, m.elapsed, m.rate, m.unit),
            ("1", "2", "01:57", "117.60", "s/it")
        );
        assert_eq!(elapsed_seconds(m.elapsed), Some(117.0));
    }

    #[test]
    fn states_joined_by_cr_and_download_units() {
        let text =
            "  0%|          | 0/20 [00:00<?, ?it/s]\r 5%|▌         | 1/20 [00:01<00:19, 1.02it/s]";
        let m = search(text).unwrap();
        assert_eq!((m.n, m.rate), ("0", "?"));
        let rest = &text[m.end..];
        assert_eq!(search(rest).unwrap().n, "1");
        let m = search("model.safetensors: 100%|██████████| 1.5G/1.5G [00:30<00:00, 50.0MB/s]")
            .unwrap();
        assert_eq!(si_number(m.total), Some(1.5e9));
        assert_eq!(m.unit, "MB/s");
    }

    #[test]
    fn a_barless_state_from_a_runpod_log() {
        let m = find_state("100% 35/35 [00:03<00:00, 11.47it/s]").unwrap();
        assert_eq!(
            (m.n, m.total, m.rate, m.unit),
            ("35", "35", "11.47", "it/s")
        );
        assert!(find_state("we are 45% done [really]").is_none());
        assert!(find_state("x 100% \t35/35 [00:03<00:00, 11.47it/s]").is_none());
    }

    #[test]
    fn the_numbers_matcher_agrees_with_the_regexes() {
        let logs = [
            include_str!("../../examples/runpod-lowvram-gguf.log"),
            include_str!("../../tests/fixtures/004-glued-prompt-mid-bar.log"),
            include_str!("../../tests/fixtures/wan-81-frames-finished.log"),
        ];
        let mut heads: Vec<String> = vec![
            " 1.5G/1.5G [00:30<00:00, 50.0MB/s]".into(),
            "35/35 [00:03<00:00, 11.47it/s]".into(),
            " 3/8 [1:02:03<?, ?it/s, loss=0.1]".into(),
        ];
        for log in logs {
            for (at, _) in log.match_indices("%|") {
                let Some(bar) = log[at + 2..].find('|') else {
                    continue;
                };
                let from = at + 2 + bar + 1;
                heads.push(pytext::head_chars(&log[from..], 60).to_string());
            }
        }
        heads.truncate(400);
        let mut cases = Vec::new();
        for head in &heads {
            for (at, ch) in head.char_indices() {
                cases.push(head[..at].to_string());
                let (before, after) = (&head[..at], &head[at + ch.len_utf8()..]);
                if ch.is_ascii_digit() {
                    cases.push(format!("{before}\u{663}{after}"));
                }
                for odd in ['\u{3000}', ' ', ':', '<', '.', '?', 'k', ']'] {
                    cases.push(format!("{before}{odd}{}", &head[at..]));
                }
            }
        }
        assert!(cases.len() > 10_000);
        let mut decided = 0;
        for case in &cases {
            for (after_bar, regex) in [(true, &*NUMBERS), (false, &*COUNTS_AT)] {
                match matchers::tqdm_counts(case, after_bar) {
                    Fast::Match(c) => {
                        assert_eq!(Some(c), counts_by_regex(regex, case), "{case:?}");
                        decided += 1;
                    }
                    Fast::NoMatch => {
                        assert!(!regex.is_match(case), "missed {case:?}");
                        decided += 1;
                    }
                    Fast::Unsure => assert!(!case.is_ascii(), "unsure of {case:?}"),
                }
            }
        }
        assert!(decided > cases.len(), "{decided}");
    }

    #[test]
    fn a_bar_is_at_most_400_characters_without_a_cr() {
        let state = |bar: &str| format!("Sampling:  50%|{bar}| 1/2 [01:57<01:57, 117.60s/it]");
        assert!(search(&state(&"█".repeat(BAR_CHARS))).is_some());
        assert!(search(&state(&"█".repeat(BAR_CHARS + 1))).is_none());
        assert!(search(&state(&" ".repeat(BAR_CHARS + 1))).is_none());
        assert!(search(&state("█████\r     ")).is_none());
    }

    #[test]
    fn not_a_state() {
        assert!(search("100%| but nothing else").is_none());
        assert!(search("no percent here").is_none());
    }
}
