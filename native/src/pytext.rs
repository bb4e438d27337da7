//! Python's text semantics where comfylog's Python reader depends on them: `str.isspace`,
//! `str.strip`, slicing by code points, and regexes written for Python's `re` compiled so that
//! Rust's `regex` gives the same matches (`\s`, `\w`, `$` differ between the two engines).

use regex::{Regex, RegexBuilder};

/// `str.isspace()` for one character: Unicode whitespace plus the ASCII separators 0x1C-0x1F,
/// which Python counts as space and Rust's `\s` does not.
pub fn is_space(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n'
            | '\u{0b}'
            | '\u{0c}'
            | '\r'
            | '\u{1c}'..='\u{1f}'
            | ' '
            | '\u{85}'
            | '\u{a0}'
            | '\u{1680}'
            | '\u{2000}'..='\u{200a}'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{202f}'
            | '\u{205f}'
            | '\u{3000}'
    )
}

/// `text.strip()`.
pub fn strip(text: &str) -> &str {
    text.trim_matches(is_space)
}

/// `text.rstrip()`.
pub fn rstrip(text: &str) -> &str {
    text.trim_end_matches(is_space)
}

/// `text[:n]` (n code points).
pub fn head_chars(text: &str, n: usize) -> &str {
    if text.len() <= n {
        return text; // no more characters than bytes
    }
    match text.char_indices().nth(n) {
        Some((at, _)) => &text[..at],
        None => text,
    }
}

/// Byte offset of the character after the one at `at` (Python's `pos + 1` on a str).
pub fn next_char(text: &str, at: usize) -> usize {
    text[at..]
        .chars()
        .next()
        .map_or(at + 1, |c| at + c.len_utf8())
}

/// `\d` in Python's `re` on str: a Unicode decimal digit (what `str.isdecimal` says of one char).
pub fn is_decimal(c: char) -> bool {
    c.is_ascii_digit() || (!c.is_ascii() && DIGIT.is_match(c.encode_utf8(&mut [0u8; 4])))
}

static DIGIT: std::sync::LazyLock<Regex> =
    std::sync::LazyLock::new(|| Regex::new(r"^\d$").unwrap());

/// `\w` in Python's `re` on str as `python_regex` translates it: a letter, a number or `_`.
/// Looked up in the class's ranges, not through a `Regex`: a regex keeps a search cache per
/// thread that used it, and the scan runs on a new thread per block.
pub fn is_word(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_alphanumeric() || c == '_';
    }
    let ranges = &*WORD_RANGES;
    let at = ranges.partition_point(|&(_, end)| end < c);
    at < ranges.len() && ranges[at].0 <= c
}

/// `[\p{L}\p{N}_]` as sorted, disjoint ranges (regex-syntax's Unicode tables).
static WORD_RANGES: std::sync::LazyLock<Vec<(char, char)>> = std::sync::LazyLock::new(|| {
    let hir = regex_syntax::Parser::new()
        .parse(r"[\p{L}\p{N}_]")
        .expect("a valid class");
    match hir.kind() {
        regex_syntax::hir::HirKind::Class(regex_syntax::hir::Class::Unicode(class)) => class
            .ranges()
            .iter()
            .map(|r| (r.start(), r.end()))
            .collect(),
        other => unreachable!("a Unicode class, not {other:?}"),
    }
});

/// A Python `re` pattern rewritten so that Rust's `regex` matches what Python's matches:
/// `\s` gains 0x1C-0x1F, `\w` becomes letters, numbers and `_` (Python's `str.isalnum`), and `$`
/// (end, or before a final newline, in Python) becomes `\n?\z`. Look-around and
/// back-references stay errors (the message table test keeps rows out of them).
pub fn python_regex(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 16);
    let mut chars = pattern.chars().peekable();
    let mut in_class = false;
    let mut class_start = false; // just after `[` or `[^`: a `]` here is a literal
    while let Some(c) = chars.next() {
        if c == '\\' {
            let Some(e) = chars.next() else {
                out.push('\\');
                break;
            };
            class_start = false;
            match (e, in_class) {
                ('s', false) => out.push_str(r"[\s\x1c-\x1f]"),
                ('S', false) => out.push_str(r"[^\s\x1c-\x1f]"),
                ('w', false) => out.push_str(r"[\p{L}\p{N}_]"),
                ('W', false) => out.push_str(r"[^\p{L}\p{N}_]"),
                ('s', true) => out.push_str(r"\s\x1c-\x1f"),
                ('w', true) => out.push_str(r"\p{L}\p{N}_"),
                _ => {
                    out.push('\\');
                    out.push(e);
                }
            }
            continue;
        }
        if in_class {
            if c == ']' && !class_start {
                in_class = false;
            }
            class_start = c == '^' && out.ends_with('[');
            if matches!(c, '[' | '&' | '~') {
                // literal in Python; Rust reads a nested class or a set operation (`&&`, `~~`)
                out.push('\\');
            }
            out.push(c);
            continue;
        }
        match c {
            '[' => {
                in_class = true;
                class_start = true;
                out.push('[');
            }
            '$' => out.push_str(r"(?:\n?\z)"),
            _ => out.push(c),
        }
    }
    out
}

/// Compile a Python pattern (see `python_regex`) with room for its bounded repetitions.
pub fn compile(pattern: &str) -> Result<Regex, regex::Error> {
    compile_translated(&python_regex(pattern))
}

/// Compile a pattern already in Rust's form (`python_regex`'s output).
pub fn compile_translated(pattern: &str) -> Result<Regex, regex::Error> {
    RegexBuilder::new(pattern)
        .size_limit(64 << 20)
        .dfa_size_limit(16 << 20)
        .build()
}

/// `round(x, 3)`: Python rounds the exact binary value to 3 decimals, ties to even, and reads the
/// decimal back; Rust's formatting with a precision is that exact rounding.
pub fn round3(x: f64) -> f64 {
    if !x.is_finite() {
        return x;
    }
    format!("{x:.3}")
        .parse()
        .expect("a formatted float reads back")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn space_is_pythons() {
        assert!(is_space('\u{1f}') && is_space('\u{3000}') && !is_space('x'));
        assert_eq!(strip("\u{1c} a b\u{a0}"), "a b");
    }

    #[test]
    fn regex_classes_follow_python() {
        let re = compile(r"^Requested to load (?P<model>\S+)").unwrap();
        let caps = re.captures("Requested to load a\u{1f}b").unwrap();
        assert_eq!(&caps["model"], "a");
        let re = compile(r"^Started\.\s*$").unwrap();
        assert!(re.is_match("Started.\n"));
        assert!(re.is_match("Started.  "));
        assert!(!re.is_match("Started. x"));
        let re = compile(r"(?:INFO|WARNING):[\w.]*:").unwrap();
        assert!(re.is_match("INFO:root.x:"));
        assert_eq!(python_regex(r"[^|\r]"), r"[^|\r]");
        assert_eq!(python_regex(r"[^\s|]+"), r"[^\s\x1c-\x1f|]+");
    }

    #[test]
    fn words_are_the_translated_w() {
        let w = compile(r"^\w$").unwrap();
        for c in [
            'a',
            'Z',
            '0',
            '_',
            'é',
            'Ж',
            '²',
            '٣',
            'Ⅻ',
            '中',
            '\u{301}',
            '\u{200d}',
            '-',
            ' ',
            '\u{a0}',
            '·',
            '\u{10ffff}',
        ] {
            assert_eq!(
                is_word(c),
                w.is_match(c.encode_utf8(&mut [0u8; 4])),
                "{c:?}"
            );
        }
    }

    #[test]
    fn chars_and_digits() {
        assert_eq!(head_chars("é█x", 2), "é█");
        assert_eq!(next_char("é", 0), 2);
        assert!(is_decimal('7') && is_decimal('\u{663}') && !is_decimal('²'));
    }
}
