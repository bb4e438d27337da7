//! Bytes -> clean lines, as comfylog/read/clean.py does it: UTF-8 with every undecodable byte
//! replaced by U+FFFD and counted, the line ending dropped, lines cut to MAX_LINE_CHARS code
//! points, ANSI codes and NULs removed, tqdm's block characters mangled by cp1252 or cp437 repaired.

use regex::Regex;
use std::borrow::Cow;
use std::sync::LazyLock;

/// read/streams.py's MAX_LINE_CHARS.
pub const MAX_LINE_CHARS: usize = 1 << 20;

static ANSI: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]").unwrap()
});

/// Windows' console without VT processing draws ESC as `←`, and a copy of the window keeps it
/// (clean.py's ARROW_SGR_RE): colour codes only.
static ARROW_SGR: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\u{2190}\[[0-9;]*m").unwrap());
static ARROW_SGR_START: LazyLock<memchr::memmem::Finder<'static>> =
    LazyLock::new(|| memchr::memmem::Finder::new("\u{2190}[".as_bytes()));

/// What cleaning found, per input (the Source counters of the Python reader).
#[derive(Default, Clone, Debug, PartialEq, Eq)]
pub struct Counts {
    pub replaced_bytes: u64,
    pub truncated_lines: u64,
    pub repaired_mojibake: u64,
    /// The marks put in by the native redactor (redact.rs), by kind.
    pub redactions: crate::redact::Counts,
}

impl Counts {
    pub fn add(&mut self, other: &Counts) {
        self.replaced_bytes += other.replaced_bytes;
        self.truncated_lines += other.truncated_lines;
        self.repaired_mojibake += other.repaired_mojibake;
        for (total, n) in self.redactions.iter_mut().zip(other.redactions) {
            *total += n;
        }
    }
}

/// `bytes.decode("utf-8")`, each byte that is not part of a valid sequence becoming one U+FFFD
/// (Python's surrogateescape-then-replace: one per byte, where Rust's lossy decoding puts one per
/// invalid run).
pub fn decode<'a>(bytes: &'a [u8], counts: &mut Counts) -> Cow<'a, str> {
    if let Ok(text) = std::str::from_utf8(bytes) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(bytes.len() + 16);
    for chunk in bytes.utf8_chunks() {
        out.push_str(chunk.valid());
        let bad = chunk.invalid().len();
        counts.replaced_bytes += bad as u64;
        for _ in 0..bad {
            out.push('\u{fffd}');
        }
    }
    Cow::Owned(out)
}

/// One physical line (without its `\n`) as the parser sees it (clean.py's `finish_line`).
pub fn finish_line<'a>(text: &'a str, counts: &mut Counts) -> Cow<'a, str> {
    let mut text: Cow<'a, str> = Cow::Borrowed(text.strip_suffix('\r').unwrap_or(text));
    // Cheap test first: a line of at most MAX_LINE_CHARS bytes has at most as many characters.
    if text.len() > MAX_LINE_CHARS && text.chars().count() > MAX_LINE_CHARS {
        if text.contains('\0') {
            text = Cow::Owned(text.replace('\0', "")); // a crash's NUL padding is no text to cut
        }
        if let Some((at, _)) = text.char_indices().nth(MAX_LINE_CHARS) {
            text = Cow::Owned(text[..at].to_string());
            counts.truncated_lines += 1;
        }
    }
    match clean_text(&text, counts) {
        Cow::Borrowed(_) => text,
        Cow::Owned(cleaned) => Cow::Owned(cleaned),
    }
}

/// ANSI codes and NULs removed, tqdm mojibake repaired (clean.py's `clean_text`).
pub fn clean_text<'a>(text: &'a str, counts: &mut Counts) -> Cow<'a, str> {
    // One pass for the three tests below: ESC, NUL, and 0xC3, the first byte of `â`; and one for `←[`.
    let arrow = ARROW_SGR_START.find(text.as_bytes()).is_some();
    if !arrow && memchr::memchr3(0x1b, 0, 0xc3, text.as_bytes()).is_none() {
        return Cow::Borrowed(text);
    }
    let mut text = Cow::Borrowed(text);
    if text.contains('\x1b') {
        if let Cow::Owned(s) = ANSI.replace_all(&text, "") {
            text = Cow::Owned(s);
        }
    }
    if arrow {
        if let Cow::Owned(s) = ARROW_SGR.replace_all(&text, "") {
            text = Cow::Owned(s);
        }
    }
    if text.contains('\0') {
        text = Cow::Owned(text.replace('\0', ""));
    }
    // cp437's first: its `Γûâ` (U+2583) ends in the `â` that starts cp1252's `â–`, and clean.py's one
    // regex, leftmost first, takes the `Γûâ` (no other key of one table overlaps a key of the other).
    // `û` is C3 BB: the 0xC3 test above lets every such line through.
    if text.contains("Γû") {
        let (repaired, n) = repair_mojibake(&text, "Γû", &CP437_HIGH);
        if n > 0 {
            counts.repaired_mojibake += n;
            text = Cow::Owned(repaired);
        }
    }
    if text.contains("â–") {
        let (repaired, n) = repair_mojibake(&text, "â–", &CP1252_HIGH);
        if n > 0 {
            counts.repaired_mojibake += n;
            text = Cow::Owned(repaired);
        }
    }
    text
}

/// cp1252's characters for the bytes 0x80-0x9F (None: undefined, kept as the code point itself
/// by clean.py's `_cp1252_mojibake`).
const CP1252_HIGH: [char; 32] = [
    '€', '\u{81}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u{8d}', 'Ž', '\u{8f}',
    '\u{90}', '\u{2018}', '\u{2019}', '\u{201c}', '\u{201d}', '•', '–', '—', '˜', '™', 'š', '›',
    'œ', '\u{9d}', 'ž', 'Ÿ',
];

/// Code page 437's characters for the bytes 0x80-0x9F (clean.py: a Windows program reading a
/// child's output with the console's OEM code page, as .NET's Process does by default).
const CP437_HIGH: [char; 32] = [
    'Ç', 'ü', 'é', 'â', 'ä', 'à', 'å', 'ç', 'ê', 'ë', 'è', 'ï', 'î', 'ì', 'Ä', 'Å', 'É', 'æ', 'Æ',
    'ô', 'ö', 'ò', 'û', 'ù', 'ÿ', 'Ö', 'Ü', '¢', '£', '¥', '₧', 'ƒ',
];

/// Block elements U+2580-U+259F are E2 96 80-9F in UTF-8; read as cp1252 they show as `â–` and
/// one character of CP1252_HIGH, read as cp437 as `Γû` and one of CP437_HIGH (`lead` and `high`).
/// Each such triple becomes its block element again.
fn repair_mojibake(text: &str, lead: &str, high: &[char; 32]) -> (String, u64) {
    let mut out = String::with_capacity(text.len());
    let mut n = 0;
    let mut rest = text;
    let first = lead.chars().next().expect("lead");
    while let Some(at) = rest.find(lead) {
        out.push_str(&rest[..at]);
        let after = &rest[at + lead.len()..];
        let third = after.chars().next();
        match third.and_then(|c| high.iter().position(|&h| h == c)) {
            Some(i) => {
                out.push(char::from_u32(0x2580 + i as u32).expect("block element"));
                n += 1;
                rest = &after[third.map_or(0, char::len_utf8)..];
            }
            None => {
                out.push(first);
                rest = &rest[at + first.len_utf8()..];
            }
        }
    }
    out.push_str(rest);
    (out, n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_bytes_are_one_replacement_each() {
        let mut c = Counts::default();
        assert_eq!(
            decode(b"a\xe2\x96b\xffc", &mut c),
            "a\u{fffd}\u{fffd}b\u{fffd}c"
        );
        assert_eq!(c.replaced_bytes, 3);
    }

    #[test]
    fn real_tqdm_line_from_a_cp1252_console() {
        let mut c = Counts::default();
        let line = "Sampling:  50%|â–ˆâ–ˆâ–ˆâ–ˆâ–ˆ     | 1/2 [01:57<01:57, 117.60s/it]\r";
        assert_eq!(
            finish_line(line, &mut c),
            "Sampling:  50%|█████     | 1/2 [01:57<01:57, 117.60s/it]"
        );
        assert_eq!(c.repaired_mojibake, 5);
    }

    #[test]
    fn tqdm_blocks_read_as_cp437_are_repaired() {
        // patientx/ComfyUI-Zluda #39: SwarmUI's log of a bar, its blocks read as code page 437
        let mut c = Counts::default();
        let line = " 15%|ΓûêΓûî        | 3/20 [00:26<02:31,  8.93s/it]";
        assert_eq!(
            finish_line(line, &mut c),
            " 15%|█▌        | 3/20 [00:26<02:31,  8.93s/it]"
        );
        assert_eq!(c.repaired_mojibake, 2);
        // `Γûâ` (U+2583) is taken before the cp1252 `â–ˆ` its `â` starts, as clean.py's one regex does
        assert_eq!(finish_line("Γûâ–ˆ", &mut c), "▃–ˆ");
        assert_eq!(finish_line("Γû x", &mut c), "Γû x");
    }

    #[test]
    fn ansi_and_nul_go() {
        let mut c = Counts::default();
        assert_eq!(
            finish_line("\x1b[32mgot prompt\x1b[0m\0", &mut c),
            "got prompt"
        );
    }

    #[test]
    fn a_windows_console_copy_loses_its_arrow_colour_codes() {
        // Comfy-Org/ComfyUI #14618: a portable build's console copied with ESC drawn as `←`
        let mut c = Counts::default();
        assert_eq!(
            finish_line(
                "\u{2190}[32m[INFO]\u{2190}[0m setup plugin alembic.autogenerate.schemas",
                &mut c
            ),
            "[INFO] setup plugin alembic.autogenerate.schemas"
        );
        assert_eq!(
            finish_line("\u{2190}[see above]", &mut c),
            "\u{2190}[see above]"
        );
    }

    #[test]
    fn an_endless_line_is_cut_at_a_million_characters() {
        let mut c = Counts::default();
        let long = "█".repeat(MAX_LINE_CHARS + 5);
        assert_eq!(finish_line(&long, &mut c).chars().count(), MAX_LINE_CHARS);
        assert_eq!(c.truncated_lines, 1);
    }
}
