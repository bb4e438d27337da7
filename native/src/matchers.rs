//! Hand-written matchers for the regexes met on (nearly) every line: the prefixes of prefix.rs.
//!
//! A regex with captures costs a few hundred nanoseconds a line, more than all the rest of a
//! prefix's work. Each matcher here reads its regex's language byte by byte and says `Match`,
//! `NoMatch`, or `Unsure`: where a class of the regex could take a character outside ASCII (`\d`,
//! `\s`, `\w` take Unicode digits, spaces and letters, as Python's `re` does) and the text holds
//! one there, it gives up and the caller runs the regex itself. So a matcher can only ever agree
//! with its regex; it decides alone on the ASCII text real prefixes are.
//!
//! Every regex here matches in one way only (its optional parts are followed by something they
//! cannot start with), so reading greedily, without back-tracking, finds the regex's match.

use memchr::memmem::{Finder, FinderRev};
use std::sync::LazyLock;

/// A matcher's answer.
#[derive(Debug, PartialEq, Eq)]
pub enum Fast<T> {
    Match(T),
    NoMatch,
    /// A character outside ASCII where the regex's class could take it: ask the regex.
    Unsure,
}

impl<T> Fast<T> {
    /// The match: the matcher's answer, or `regex()`'s where the matcher is unsure (the one way a
    /// matcher's answer is read, so it can only ever agree with its regex).
    pub fn or_regex(self, regex: impl FnOnce() -> Option<T>) -> Option<T> {
        match self {
            Fast::Match(m) => Some(m),
            Fast::NoMatch => None,
            Fast::Unsure => regex(),
        }
    }
}

/// Why a step did not match: no match at all, or a character the matcher cannot judge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Miss {
    No,
    Unsure,
}

type Step<T> = Result<T, Miss>;

impl<T> From<Step<T>> for Fast<T> {
    fn from(step: Step<T>) -> Fast<T> {
        match step {
            Ok(m) => Fast::Match(m),
            Err(Miss::No) => Fast::NoMatch,
            Err(Miss::Unsure) => Fast::Unsure,
        }
    }
}

/// A byte span of the text matched.
pub type Span = (usize, usize);

/// The spans of a prefix regex's match: where it ends, and its groups in order.
#[derive(Debug, PartialEq, Eq)]
pub struct Caps {
    pub end: usize,
    pub groups: [Option<Span>; 4],
}

impl Caps {
    pub fn group<'t>(&self, text: &'t str, i: usize) -> Option<&'t str> {
        self.groups[i].map(|(a, b)| &text[a..b])
    }
}

struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

/// `text` read from its start by `read`, a matcher's steps (see Fast).
fn parse<T>(text: &str, read: impl FnOnce(&mut Cursor) -> Step<T>) -> Fast<T> {
    read(&mut Cursor {
        b: text.as_bytes(),
        i: 0,
    })
    .into()
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    /// A literal ASCII byte (a character outside ASCII is surely not it).
    fn byte(&mut self, want: u8) -> Step<()> {
        if self.peek() == Some(want) {
            self.i += 1;
            Ok(())
        } else {
            Err(Miss::No)
        }
    }

    /// An optional literal byte (`x?`).
    fn maybe(&mut self, want: u8) -> bool {
        let found = self.peek() == Some(want);
        self.i += usize::from(found);
        found
    }

    /// `\d`: an ASCII digit; a byte outside ASCII may start a Unicode digit.
    fn digit(&mut self) -> Step<()> {
        match self.peek() {
            Some(b'0'..=b'9') => {
                self.i += 1;
                Ok(())
            }
            Some(0x80..) => Err(Miss::Unsure),
            _ => Err(Miss::No),
        }
    }

    /// `\d{n}`, its span.
    fn digits_n(&mut self, n: usize) -> Step<Span> {
        let start = self.i;
        for _ in 0..n {
            self.digit()?;
        }
        Ok((start, self.i))
    }

    /// `\d+` (greedy), its span.
    fn digits(&mut self) -> Step<Span> {
        let start = self.i;
        self.digit()?;
        while self.digit().is_ok() {}
        if self.peek().is_some_and(|b| b >= 0x80) {
            return Err(Miss::Unsure); // the run might go on with a Unicode digit
        }
        Ok((start, self.i))
    }

    /// `(?:[seps](\d+))?`: the digits' span if the part is there.
    fn fraction(&mut self, seps: &[u8]) -> Step<Option<Span>> {
        match self.peek() {
            Some(b) if seps.contains(&b) => {}
            _ => return Ok(None),
        }
        let save = self.i;
        self.i += 1;
        match self.digits() {
            Ok(span) => Ok(Some(span)),
            Err(Miss::No) => {
                self.i = save; // the part is left out
                Ok(None)
            }
            Err(Miss::Unsure) => Err(Miss::Unsure),
        }
    }

    /// `\s*` (ASCII whitespace; a byte outside ASCII may start a Unicode space).
    fn spaces(&mut self) -> Step<()> {
        while let Some(b) = self.peek() {
            if ascii_space(b) {
                self.i += 1;
            } else if b >= 0x80 {
                return Err(Miss::Unsure);
            } else {
                break;
            }
        }
        Ok(())
    }

    /// `\d+(?:\.\d+)?`, its span.
    fn decimal(&mut self) -> Step<Span> {
        let start = self.i;
        self.digits()?;
        self.fraction(b".")?;
        Ok((start, self.i))
    }

    /// `\d{4}-\d{2}-\d{2}`, its span.
    fn date(&mut self) -> Step<Span> {
        self.separated([4, 2, 2], b'-')
    }

    /// `\d{2}:\d{2}:\d{2}`, its span.
    fn hms(&mut self) -> Step<Span> {
        self.separated([2, 2, 2], b':')
    }

    /// Three runs of `widths` digits with `sep` between them, their span.
    fn separated(&mut self, widths: [usize; 3], sep: u8) -> Step<Span> {
        let start = self.i;
        self.digits_n(widths[0])?;
        for width in &widths[1..] {
            self.byte(sep)?;
            self.digits_n(*width)?;
        }
        Ok((start, self.i))
    }
}

/// prefix.rs's DOCKER:
/// `^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(?:\.(\d+))?(?:Z|[+-]\d{2}:?\d{2}) ?`
pub fn docker(text: &str) -> Fast<Caps> {
    parse(text, |c| {
        let date = c.date()?;
        c.byte(b'T')?;
        let hms = c.hms()?;
        let frac = c.fraction(b".")?;
        if !c.maybe(b'Z') {
            if !matches!(c.peek(), Some(b'+' | b'-')) {
                return Err(Miss::No);
            }
            c.i += 1;
            c.digits_n(2)?;
            c.maybe(b':');
            c.digits_n(2)?;
        }
        c.maybe(b' ');
        Ok(Caps {
            end: c.i,
            groups: [Some(date), Some(hms), frac, None],
        })
    })
}

/// prefix.rs's MANAGER:
/// `^\[(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2})(?::(\d{2})(?:[.,](\d+))?)?\] ?`
pub fn manager(text: &str) -> Fast<Caps> {
    parse(text, |c| {
        c.byte(b'[')?;
        let date = c.date()?;
        c.byte(b' ')?;
        let hm_start = c.i;
        c.digits_n(2)?;
        c.byte(b':')?;
        c.digits_n(2)?;
        let hm = (hm_start, c.i);
        let (mut sec, mut frac) = (None, None);
        if c.peek() == Some(b':') {
            let save = c.i;
            c.i += 1;
            match c.digits_n(2) {
                Ok(span) => {
                    sec = Some(span);
                    frac = c.fraction(b".,")?;
                }
                Err(Miss::No) => c.i = save, // the seconds are left out
                Err(Miss::Unsure) => return Err(Miss::Unsure),
            }
        }
        c.byte(b']')?;
        c.maybe(b' ');
        Ok(Caps {
            end: c.i,
            groups: [Some(date), Some(hm), sec, frac],
        })
    })
}

/// prefix.rs's TIME_ONLY: `^\[?(\d{2}):(\d{2}):(\d{2})(?:[.,](\d+))?\]? `
pub fn time_only(text: &str) -> Fast<Caps> {
    parse(text, |c| {
        c.maybe(b'[');
        let h = c.digits_n(2)?;
        c.byte(b':')?;
        let m = c.digits_n(2)?;
        c.byte(b':')?;
        let s = c.digits_n(2)?;
        let frac = c.fraction(b".,")?;
        c.maybe(b']');
        c.byte(b' ')?;
        Ok(Caps {
            end: c.i,
            groups: [Some(h), Some(m), Some(s), frac],
        })
    })
}

/// Could REPORT, PY_FORMATTER or CONSOLE_ROW (each starts with `\d{4}-\d{2}-\d{2}`) match `text`?
/// False only when they surely cannot.
pub fn may_start_with_date(text: &str) -> bool {
    parse(text, |c| c.date()) != Fast::NoMatch
}

/// The numbers of a tqdm state (progress.rs's COUNTS, after the bar): spans of its groups.
#[derive(Debug, PartialEq, Eq)]
pub struct TqdmCounts {
    pub end: usize,
    pub n: Span,
    pub total: Span,
    pub elapsed: Span,
    pub rate: Span,
    pub unit: Span,
}

/// progress.rs's COUNTS at the start of `text`, after `\s*` if `spaces_first` (its NUMBERS):
/// `(?P<n>\d+(?:\.\d+)?[kMGTP]?)/(?P<total>\d+(?:\.\d+)?[kMGTP]?)\s*`
/// `\[(?P<elapsed>\d+(?::\d{2}){1,2})(?:<(?P<remaining>[\d:?]+))?,\s*`
/// `(?P<rate>\d+(?:\.\d+)?|\?)\s*(?P<unit>[^\],\s]*)`
pub fn tqdm_counts(text: &str, spaces_first: bool) -> Fast<TqdmCounts> {
    let si = |c: &mut Cursor| -> Step<Span> {
        let (start, _) = c.decimal()?;
        if matches!(c.peek(), Some(b'k' | b'M' | b'G' | b'T' | b'P')) {
            c.i += 1;
        }
        Ok((start, c.i))
    };
    parse(text, |c| {
        if spaces_first {
            c.spaces()?;
        }
        let n = si(c)?;
        c.byte(b'/')?;
        let total = si(c)?;
        c.spaces()?;
        c.byte(b'[')?;
        let elapsed_start = c.i;
        c.digits()?;
        c.byte(b':')?;
        c.digits_n(2)?;
        if c.peek() == Some(b':') {
            let save = c.i;
            c.i += 1;
            match c.digits_n(2) {
                Ok(_) => {}
                Err(Miss::No) => c.i = save, // one `:dd` only
                Err(Miss::Unsure) => return Err(Miss::Unsure),
            }
        }
        let elapsed = (elapsed_start, c.i);
        if c.peek() == Some(b'<') {
            let from = c.i + 1;
            let mut j = from;
            while let Some(&x) = c.b.get(j) {
                match x {
                    b'0'..=b'9' | b':' | b'?' => j += 1,
                    0x80.. => return Err(Miss::Unsure), // `\d` takes Unicode digits
                    _ => break,
                }
            }
            if j == from {
                return Err(Miss::No); // `<` then no remaining time: the `,` cannot follow
            }
            c.i = j;
        }
        c.byte(b',')?;
        c.spaces()?;
        let rate = match c.peek() {
            Some(b'?') => {
                c.i += 1;
                (c.i - 1, c.i)
            }
            _ => c.decimal()?,
        };
        c.spaces()?;
        let unit_start = c.i;
        while let Some(x) = c.peek() {
            if x == b']' || x == b',' || ascii_space(x) {
                break;
            }
            if x >= 0x80 {
                return Err(Miss::Unsure); // a Unicode space would end the unit
            }
            c.i += 1;
        }
        Ok(TqdmCounts {
            end: c.i,
            n,
            total,
            elapsed,
            rate,
            unit: (unit_start, c.i),
        })
    })
}

/// prefixes.py's LEVEL_TAG_RE: `^\[(?:INFO|WARNING|WARN|ERROR|DEBUG|CRITICAL)\] ?` and the same
/// words in lower case (the RunPod console's), where it ends (ASCII only: no need for the regex).
pub fn level_tag(text: &str) -> Option<usize> {
    let rest = text.strip_prefix('[')?;
    for word in [
        "INFO", "WARNING", "WARN", "ERROR", "DEBUG", "CRITICAL", "info", "warning", "warn",
        "error", "debug", "critical",
    ] {
        if let Some(after) = rest.strip_prefix(word).and_then(|r| r.strip_prefix(']')) {
            let end = text.len() - after.len();
            return Some(end + usize::from(after.starts_with(' ')));
        }
    }
    None
}

/// `\s` as comfylog's translated Python regexes read it, on an ASCII byte (0x1C-0x1F included).
fn ascii_space(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | 0x1c..=0x1f | b' ')
}

/// PY_LOGGING's level words, in the regex's order.
const PY_LOGGING_LEVELS: [&str; 5] = ["INFO", "WARNING", "ERROR", "DEBUG", "CRITICAL"];
/// RUNPOD_PLAIN's level words, in the regex's order (WARN is tried before WARNING).
const RUNPOD_PLAIN_LEVELS: [&str; 7] =
    ["DEBUG", "INFO", "WARN", "WARNING", "ERROR", "TRACE", "TIP"];

/// prefix.rs's PY_LOGGING: `^(?:INFO|WARNING|ERROR|DEBUG|CRITICAL):[\w.]*:`, where it ends.
pub fn py_logging(text: &str) -> Fast<usize> {
    let b = text.as_bytes();
    for word in PY_LOGGING_LEVELS {
        if !(text.starts_with(word) && b.get(word.len()) == Some(&b':')) {
            continue;
        }
        for (i, &x) in b.iter().enumerate().skip(word.len() + 1) {
            match x {
                b':' => return Fast::Match(i + 1),
                b'.' | b'_' => {}
                _ if x.is_ascii_alphanumeric() => {}
                0x80.. => return Fast::Unsure, // `\w` takes letters and digits of any script
                _ => break,
            }
        }
    }
    Fast::NoMatch
}

/// prefix.rs's RUNPOD_PLAIN: `^(?:DEBUG|INFO|WARN|WARNING|ERROR|TRACE|TIP)\s*\| (?:[^\s|]+ \| )?`,
/// where it ends.
pub fn runpod_plain(text: &str) -> Fast<usize> {
    let b = text.as_bytes();
    for word in RUNPOD_PLAIN_LEVELS {
        if !text.starts_with(word) {
            continue;
        }
        let mut i = word.len();
        while b.get(i).is_some_and(|&x| ascii_space(x)) {
            i += 1;
        }
        if b.get(i).is_some_and(|&x| x >= 0x80) {
            return Fast::Unsure; // a Unicode space may go on
        }
        if !b[i..].starts_with(b"| ") {
            continue; // the next word may match (WARN, then WARNING)
        }
        i += 2;
        // the optional `[^\s|]+ \| `
        let mut j = i;
        while let Some(&x) = b.get(j) {
            if x >= 0x80 {
                return Fast::Unsure; // a Unicode space would end the run
            }
            if ascii_space(x) || x == b'|' {
                break;
            }
            j += 1;
        }
        if j > i && b[j..].starts_with(b" | ") {
            i = j + 3;
        }
        return Fast::Match(i);
    }
    Fast::NoMatch
}

/// The bytes the level words of PY_LOGGING and RUNPOD_PLAIN start with, by value.
const LEVEL_INITIALS: [bool; 256] = {
    let mut initials = [false; 256];
    let mut i = 0;
    while i < PY_LOGGING_LEVELS.len() {
        initials[PY_LOGGING_LEVELS[i].as_bytes()[0] as usize] = true;
        i += 1;
    }
    let mut i = 0;
    while i < RUNPOD_PLAIN_LEVELS.len() {
        initials[RUNPOD_PLAIN_LEVELS[i].as_bytes()[0] as usize] = true;
        i += 1;
    }
    initials
};

/// Could `text` start with one of PY_LOGGING's or RUNPOD_PLAIN's level words? (Most lines are
/// told apart by their first byte.)
pub fn starts_with_level_word(text: &str) -> bool {
    text.as_bytes()
        .first()
        .is_some_and(|&b| LEVEL_INITIALS[usize::from(b)])
        && PY_LOGGING_LEVELS
            .iter()
            .chain(&RUNPOD_PLAIN_LEVELS)
            .any(|w| text.starts_with(w))
}

/// Searchers for the frames' literals, built once (building one costs more than a short search).
static FILE_QUOTE: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"File \""));
static CUSTOM_NODES: LazyLock<FinderRev<'static>> =
    LazyLock::new(|| FinderRev::new(b"custom_nodes"));

/// A traceback frame's `File "PATH", line N, in FUNCTION`, searched anywhere in `text`
/// (scan.rs's `File "([^"]+)", line [0-9]+, in ([A-Za-z0-9_<>.]+)`, whose classes are all ASCII
/// or a quote: no regex needed): the spans of the path and the function.
pub fn function_frame(text: &str) -> Option<(Span, Span)> {
    let b = text.as_bytes();
    file_quotes(text).find_map(|(q, r)| {
        let digits = r + "\", line ".len();
        if !b[r..].starts_with(b"\", line ") {
            return None;
        }
        let after_digits = digits
            + b[digits..]
                .iter()
                .take_while(|x| x.is_ascii_digit())
                .count();
        if after_digits == digits || !b[after_digits..].starts_with(b", in ") {
            return None;
        }
        let name = after_digits + ", in ".len();
        let end = name
            + b[name..]
                .iter()
                .take_while(|&&x| x.is_ascii_alphanumeric() || b"_<>.".contains(&x))
                .count();
        (end > name).then_some(((q, r), (name, end)))
    })
}

/// The path of the first `File "PATH"` in `text` (scan.rs's `File "([^"]+)"`).
pub fn file_frame(text: &str) -> Option<Span> {
    file_quotes(text).next()
}

/// The custom node of the first `File "...custom_nodes/NODE..."` in `text` (scan.rs's
/// `File "[^"]*[/\\]custom_nodes[/\\]([^/\\"]+)`): in the first quoted path that has one, the
/// name after its last `custom_nodes` folder with a name (the greedy `[^"]*` takes the last).
pub fn custom_node_frame(text: &str) -> Option<Span> {
    let b = text.as_bytes();
    FILE_QUOTE.find_iter(b).find_map(|p| {
        let q = p + "File \"".len();
        // `[^"]*` runs to the next quote (or the end of the text)
        let path_end = memchr::memchr(b'"', &b[q..]).map_or(b.len(), |i| q + i);
        let path = &b[q..path_end];
        let is_sep = |x: u8| x == b'/' || x == b'\\';
        CUSTOM_NODES.rfind_iter(path).find_map(|i| {
            let name = i + "custom_nodes".len() + 1;
            let fits = i > 0
                && is_sep(path[i - 1])
                && path.get(name - 1).is_some_and(|&x| is_sep(x))
                && path.get(name).is_some_and(|&x| !is_sep(x));
            if !fits {
                return None;
            }
            let end = name + path[name..].iter().take_while(|&&x| !is_sep(x)).count();
            Some((q + name, q + end))
        })
    })
}

/// Each `File "PATH"` in `text`, left to right: the span of a path of at least one character
/// between the quotes.
fn file_quotes(text: &str) -> impl Iterator<Item = Span> + '_ {
    let b = text.as_bytes();
    FILE_QUOTE.find_iter(b).filter_map(move |p| {
        let q = p + "File \"".len();
        let r = q + memchr::memchr(b'"', &b[q..])?;
        (r > q).then_some((q, r))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn groups<'t>(text: &'t str, caps: &Caps) -> Vec<Option<&'t str>> {
        (0..4).map(|i| caps.group(text, i)).collect()
    }

    #[test]
    fn docker_lines() {
        let line = "2025-10-23T16:28:02.618719777Z got prompt";
        let Fast::Match(c) = docker(line) else {
            panic!()
        };
        assert_eq!(&line[c.end..], "got prompt");
        assert_eq!(
            groups(line, &c),
            [
                Some("2025-10-23"),
                Some("16:28:02"),
                Some("618719777"),
                None
            ]
        );
        let Fast::Match(c) = docker("2025-11-10T21:50:27+01:00 x") else {
            panic!()
        };
        assert_eq!(c.end, 26);
        assert_eq!(docker("2025-11-10T21:50:27+0100x").into_end(), Some(24));
        assert_eq!(docker("2025-11-10 21:50:27Z x"), Fast::NoMatch);
        assert_eq!(docker("2025-11-10T21:50:27. x"), Fast::NoMatch);
        assert_eq!(docker("2025-11-10T21:50:27.5"), Fast::NoMatch);
        assert_eq!(docker("2025-11-10T21:50:2\u{663}Z x"), Fast::Unsure);
        assert_eq!(docker("2025-11-10T21:50:27.5\u{663}Z"), Fast::Unsure);
        assert_eq!(
            docker("2025-11-10T21:50:27Zé"),
            docker("2025-11-10T21:50:27Z")
        );
    }

    impl Fast<Caps> {
        fn into_end(self) -> Option<usize> {
            match self {
                Fast::Match(c) => Some(c.end),
                _ => None,
            }
        }
    }

    #[test]
    fn manager_lines() {
        let line = "[2024-03-23 21:53] Prompt executed in 3.14 seconds";
        let Fast::Match(c) = manager(line) else {
            panic!()
        };
        assert_eq!(&line[c.end..], "Prompt executed in 3.14 seconds");
        assert_eq!(
            groups(line, &c),
            [Some("2024-03-23"), Some("21:53"), None, None]
        );
        let line = "[2025-10-22 18:04:30.118] got prompt";
        let Fast::Match(c) = manager(line) else {
            panic!()
        };
        assert_eq!(
            groups(line, &c),
            [Some("2025-10-22"), Some("18:04"), Some("30"), Some("118")]
        );
        assert_eq!(manager("[2025-10-22 18:04:3]").into_end(), None);
        assert_eq!(manager("[2025-10-22 18:04:30,]"), Fast::NoMatch);
        assert_eq!(manager("[2025-10-22 18:04]x").into_end(), Some(18));
        assert_eq!(manager("[INFO] x"), Fast::NoMatch);
    }

    #[test]
    fn time_only_lines() {
        let line = "[23:59:50] got prompt";
        let Fast::Match(c) = time_only(line) else {
            panic!()
        };
        assert_eq!(&line[c.end..], "got prompt");
        assert_eq!(time_only("00:00:10 Prompt").into_end(), Some(9));
        assert_eq!(time_only("12:00:00.250] x").into_end(), Some(14));
        assert_eq!(time_only("12:00:00x"), Fast::NoMatch);
        assert_eq!(
            time_only(" 50%|█████     | 1/2 [01:57<01:57, 117.60s/it]"),
            Fast::NoMatch
        );
        assert_eq!(time_only("\u{661}\u{662}:00:00 x"), Fast::Unsure);
    }

    #[test]
    fn level_words() {
        assert_eq!(level_tag("[WARNING] x"), Some(10));
        assert_eq!(level_tag("[WARN]x"), Some(6));
        assert_eq!(level_tag("[NOTE] x"), None);
        assert_eq!(py_logging("ERROR:root:boom"), Fast::Match(11));
        assert_eq!(py_logging("INFO:a-b:x"), Fast::NoMatch);
        assert_eq!(py_logging("INFO:é:x"), Fast::Unsure);
        assert_eq!(runpod_plain("INFO   | abc-123 | Started."), Fast::Match(19));
        assert_eq!(runpod_plain("WARNING | x"), Fast::Match(10));
        assert_eq!(runpod_plain("ERROR | two words | x"), Fast::Match(8));
        assert_eq!(runpod_plain("DEBUG|x"), Fast::NoMatch);
        assert_eq!(runpod_plain("INFO\u{3000}| x"), Fast::Unsure);
    }
}
