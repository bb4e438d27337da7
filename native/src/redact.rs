//! Redaction of ASCII lines in Rust: read/redact.py's rules (`Redactor()`, IP addresses kept),
//! so that a redacted read's lines are redacted on the scan threads in parallel instead of one by
//! one through Python on the thread that orders them.
//!
//! Python's redactor stays the reference: the scanner sends it every line it does not redact here
//! (a line with a non-ASCII character, or any line when IP addresses are redacted too), and
//! tests/test_native_redact.py asserts the same text and counts as redact.py's on real and made
//! lines. On ASCII text Python's `\w`, `\b`, `\d`, `\s` and `(?i)` are the ASCII ones, so the
//! patterns are compiled as ASCII (`(?-u)`, bytes): Unicode case folding (`ſ`, `K`, `ı`) never
//! enters. The `regex` crate has no look-around; each rule spells Python's out (`Search`), and
//! the crate's leftmost-first matching picks the spans and groups Python's backtracking picks.
//! Every pattern is linear in the line (the crate's guarantee), and so is the candidate walk of
//! the two patterns that began with a look-behind.

use regex::bytes::{Captures, Regex, RegexBuilder};
use std::sync::LazyLock;

/// What redact.py puts in a secret's place: `[redacted:KIND]`.
pub const MARK: &str = "[redacted:";

/// The kinds a mark names, in the order of `Redacted::counts`.
pub const KINDS: [&str; 14] = [
    "runpod-key",
    "hf-token",
    "openai-key",
    "aws-key-id",
    "github-token",
    "jwt",
    "password",
    "url-secret",
    "bearer-token",
    "authorization",
    "secret",
    "aws-secret",
    "email",
    "user",
];

/// A kind, as its index in KINDS.
type Kind = usize;
const RUNPOD_KEY: Kind = 0;
const HF_TOKEN: Kind = 1;
const OPENAI_KEY: Kind = 2;
const AWS_KEY_ID: Kind = 3;
const GITHUB_TOKEN: Kind = 4;
const JWT: Kind = 5;
const PASSWORD: Kind = 6;
const URL_SECRET: Kind = 7;
const BEARER_TOKEN: Kind = 8;
const AUTHORIZATION: Kind = 9;
const SECRET: Kind = 10;
const AWS_SECRET: Kind = 11;
const EMAIL: Kind = 12;
const USER: Kind = 13;

/// How many marks of each kind (KINDS' order) the lines redacted so far received.
pub type Counts = [u64; KINDS.len()];

/// How a rule finds Python's next match in a line.
enum Search {
    /// The pattern is Python's (no look-around); the match ends where Python's does, at the end
    /// of the first of `ends` that took part (a look-ahead consumed here), else the whole match.
    Plain(Regex, &'static [&'static str]),
    /// Python's pattern began with `(?<![set])`, and every match starts with a byte of that set
    /// (the ASCII `[\w.-]` of a label, the `[\w.%+-]` of an e-mail's local part): a match can
    /// only start where a run of the set starts, and the pattern (anchored, `\A`) is tried there.
    Behind(Regex, fn(u8) -> bool),
}

/// A match as Python's `re` sees it: its span and groups (offsets into the line).
struct Found<'t> {
    start: usize,
    end: usize,
    caps: Captures<'t>,
    /// Where the captures' offsets start in the line (the anchored pattern's candidate).
    base: usize,
}

impl Found<'_> {
    fn group(&self, name: &str) -> Option<std::ops::Range<usize>> {
        let range = self.caps.name(name)?.range();
        Some(self.base + range.start..self.base + range.end)
    }

    fn text<'l>(&self, line: &'l str, name: &str) -> &'l str {
        self.group(name).map_or("", |range| &line[range])
    }
}

/// The replacement for a match: the text and the kind of its mark, or None to keep it (redact.py's
/// `replace` returning None: not a secret after all).
enum Replace {
    /// The whole match becomes the mark of this kind (redact.py's `_whole`).
    Whole(Kind),
    With(fn(&Found<'_>, &str) -> Option<(String, Kind)>),
}

impl Replace {
    fn apply(&self, found: &Found<'_>, line: &str) -> Option<(String, Kind)> {
        match self {
            Replace::Whole(kind) => Some((mark(*kind), *kind)),
            Replace::With(replace) => replace(found, line),
        }
    }
}

/// One of redact.py's RULES: its needles, the cheaper necessary pattern, the search, the replacement.
struct Rule {
    needles: Vec<String>,
    /// Needles looked for in the lower-cased line (ASCII: `to_ascii_lowercase`).
    folded: bool,
    hint: Option<Regex>,
    search: Search,
    replace: Replace,
}

fn ascii(pattern: &str) -> Regex {
    RegexBuilder::new(&format!("(?-u){pattern}"))
        .size_limit(1 << 26)
        .build()
        .expect("redaction patterns compile")
}

fn mark(kind: Kind) -> String {
    format!("{MARK}{}]", KINDS[kind])
}

/// redact.py's `_after(head, kind)`: the head kept, the value (unless already a mark) replaced.
fn after(head: &'static str, kind: Kind, found: &Found<'_>, line: &str) -> Option<(String, Kind)> {
    if found.text(line, "value").starts_with(MARK) {
        return None;
    }
    Some((format!("{}{}", found.text(line, head), mark(kind)), kind))
}

fn is_digit(c: u8) -> bool {
    c.is_ascii_digit()
}

fn openai(found: &Found<'_>, line: &str) -> Option<(String, Kind)> {
    let key = &line.as_bytes()[found.start..found.end];
    (key.iter().any(|&c| is_digit(c)) && key[3..].iter().any(u8::is_ascii_alphabetic))
        .then(|| (mark(OPENAI_KEY), OPENAI_KEY))
}

fn bearer(found: &Found<'_>, line: &str) -> Option<(String, Kind)> {
    let value = found.text(line, "value");
    if value.starts_with(MARK) || !(value.bytes().any(is_digit) || value.len() >= 20) {
        return None; // "Bearer authentication" is prose, not a token
    }
    Some((
        format!("{}{}", found.text(line, "head"), mark(BEARER_TOKEN)),
        BEARER_TOKEN,
    ))
}

static AWS_SECRET_LABEL: LazyLock<Regex> =
    LazyLock::new(|| ascii(r"(?i)secret[_-]?access[_-]?key"));

fn labelled(found: &Found<'_>, line: &str) -> Option<(String, Kind)> {
    let value = found.text(line, "value");
    if value.starts_with(MARK) || !looks_secret(value) {
        return None;
    }
    let label = found.text(line, "label");
    let kind = if label.to_ascii_lowercase().contains("runpod") {
        RUNPOD_KEY
    } else if AWS_SECRET_LABEL.is_match(label.as_bytes()) {
        AWS_SECRET
    } else {
        SECRET
    };
    Some((
        format!("{label}{}{}", found.text(line, "sep"), mark(kind)),
        kind,
    ))
}

/// redact.py's `_looks_secret`: not a boolean, a placeholder, a path, an environment reference.
fn looks_secret(value: &str) -> bool {
    let lowered = value.to_ascii_lowercase();
    if [
        "true",
        "false",
        "none",
        "null",
        "undefined",
        "required",
        "optional",
    ]
    .contains(&lowered.as_str())
    {
        return false;
    }
    !(value.starts_with(['$', '%', '/', '<', '*']) || value.bytes().all(|c| b"*xX.-_".contains(&c)))
}

fn email(found: &Found<'_>, line: &str) -> Option<(String, Kind)> {
    (found.text(line, "local") != "git").then(|| (mark(EMAIL), EMAIL))
}

/// Home folders that name nobody (redact.py's SHARED_HOMES).
const SHARED_HOMES: [&str; 5] = [
    "Shared",
    "Public",
    "Default",
    "All Users",
    "[redacted:user]",
];

/// Python's `str.isspace` on an ASCII character.
fn is_python_space(c: u8) -> bool {
    matches!(c, b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | 0x1c..=0x1f | b' ')
}

fn home(found: &Found<'_>, line: &str) -> Option<(String, Kind)> {
    let name = match found.group("name") {
        Some(range) => &line[range],
        None => found.text(line, "bare"),
    };
    if SHARED_HOMES.contains(&name)
        || name.starts_with(&MARK[..4])
        || name.bytes().all(is_python_space)
    {
        return None;
    }
    Some((format!("{}{}", found.text(line, "head"), mark(USER)), USER))
}

/// ASCII `[\w.-]`: a label's characters.
fn label_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-')
}

/// ASCII `[\w.%+-]`: an e-mail local part's characters.
fn local_byte(c: u8) -> bool {
    label_byte(c) || matches!(c, b'%' | b'+')
}

const URL_KEY_ENDS: &[&str] = &[
    "token=",
    "key=",
    "sig=",
    "signature=",
    "secret=",
    "password=",
    "credential=",
];

/// redact.py's LABEL_ENDS: a label's last word and how its separator starts.
fn label_ends() -> Vec<String> {
    let words = [
        "key", "keyid", "key_id", "key-id", "secret", "token", "password", "passwd", "pwd",
    ];
    let starts = ["=", ":", "\"", "'", "\t", "  ", " \t", " =", " :"];
    words
        .iter()
        .flat_map(|word| starts.iter().map(move |start| format!("{word}{start}")))
        .collect()
}

fn owned(needles: &[&str]) -> Vec<String> {
    needles.iter().map(|needle| needle.to_string()).collect()
}

/// redact.py's RULES, in its order (its IP rules are Python's alone).
static RULES: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    let plain = |pattern: &str| Search::Plain(ascii(pattern), &[]);
    vec![
        Rule {
            needles: owned(&["rpa_"]),
            folded: false,
            hint: None,
            search: plain(r"\brpa_[A-Za-z0-9]{16,128}\b"),
            replace: Replace::Whole(RUNPOD_KEY),
        },
        Rule {
            needles: owned(&["hf_"]),
            folded: false,
            hint: None,
            search: plain(r"\bhf_[A-Za-z0-9]{20,128}\b"),
            replace: Replace::Whole(HF_TOKEN),
        },
        Rule {
            needles: owned(&["sk-"]),
            folded: false,
            hint: None,
            search: plain(
                r"\bsk-(?:proj-|svcacct-|admin-|ant-(?:api\d\d-)?)?[A-Za-z0-9_-]{20,256}",
            ),
            replace: Replace::With(openai),
        },
        Rule {
            needles: owned(&["AKIA", "ASIA"]),
            folded: false,
            hint: None,
            search: plain(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b"),
            replace: Replace::Whole(AWS_KEY_ID),
        },
        Rule {
            needles: owned(&["ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"]),
            folded: false,
            hint: None,
            search: plain(r"\b(?:gh[pousr]_[A-Za-z0-9]{30,255}|github_pat_[A-Za-z0-9_]{30,255})\b"),
            replace: Replace::Whole(GITHUB_TOKEN),
        },
        Rule {
            needles: owned(&["eyJ"]),
            folded: false,
            hint: None,
            search: plain(
                r"\beyJ[A-Za-z0-9_-]{8,4096}\.eyJ[A-Za-z0-9_-]{8,4096}\.[A-Za-z0-9_-]{8,4096}",
            ),
            replace: Replace::Whole(JWT),
        },
        Rule {
            needles: owned(&["://"]),
            folded: false,
            hint: None,
            // (?=@) consumed: the match ends with the value
            search: Search::Plain(
                ascii(
                    r#"(?i)(?P<head>\b[a-z][a-z0-9+.-]{0,20}://[^/\s\x00-\x1f:@\[\]]{1,128}:)(?P<value>[^/\s\x00-\x1f@]{1,256})@"#,
                ),
                &["value"],
            ),
            replace: Replace::With(|found, line| after("head", PASSWORD, found, line)),
        },
        Rule {
            needles: owned(URL_KEY_ENDS),
            folded: true,
            hint: None,
            search: plain(concat!(
                r"(?i)(?P<key>[?&;](?:token|api[_-]?key|apikey|access[_-]?token|auth[_-]?token",
                r"|refresh[_-]?token|id[_-]?token|key|sig|signature|client[_-]?secret|password",
                r"|x-amz-signature|x-amz-credential|x-amz-security-token|x-goog-signature",
                r#"|x-goog-credential)=)(?P<value>[^&#\s\x00-\x1f"'<>]{1,2048})"#,
            )),
            replace: Replace::With(|found, line| after("key", URL_SECRET, found, line)),
        },
        Rule {
            needles: owned(&["earer", "EARER"]),
            folded: false,
            hint: None,
            search: plain(
                r"(?P<head>\b(?:Bearer|bearer|BEARER)[ \t]{1,4})(?P<value>[A-Za-z0-9._~+/=-]{8,2048})",
            ),
            replace: Replace::With(bearer),
        },
        Rule {
            needles: owned(&["authorization"]),
            folded: true,
            hint: None,
            search: plain(concat!(
                r#"(?i)(?P<head>\bauthorization["']?[ \t]{0,4}[:=][ \t]{0,4}["']?(?:basic|token|digest)[ \t]{1,4})"#,
                r"(?P<value>[A-Za-z0-9._~+/=-]{8,2048})",
            )),
            replace: Replace::With(|found, line| after("head", AUTHORIZATION, found, line)),
        },
        Rule {
            needles: label_ends(),
            folded: true,
            hint: Some(ascii(
                r#"(?i)(?:key|id|secret|token|passw(?:or)?d|pwd)\b["']?[ \t]{0,4}[=:]"#,
            )),
            search: Search::Behind(
                ascii(concat!(
                    r"(?i)\A(?P<label>[\w.-]{0,40}?(?:api[_-]?key|access[_-]?key(?:[_-]?id)?",
                    r"|secret[_-]?access[_-]?key|secret[_-]?key|client[_-]?secret|secret|token",
                    r#"|password|passwd|pwd))\b(?P<sep>["']?[ \t]{0,4}[=:][ \t]{0,4}["']?)"#,
                    r#"(?P<value>[^\s\x00-\x1f"'&,;<>()\[\]{}]{8,512})"#,
                )),
                label_byte,
            ),
            replace: Replace::With(labelled),
        },
        Rule {
            needles: owned(&["@"]),
            folded: false,
            hint: None,
            search: Search::Behind(
                ascii(concat!(
                    r"\A(?P<local>[A-Za-z0-9._%+-]{1,64})@(?P<domain>[A-Za-z0-9-]{1,63}",
                    r"(?:\.[A-Za-z0-9-]{1,63}){0,8}\.[A-Za-z]{2,24})\b",
                )),
                local_byte,
            ),
            replace: Replace::With(email),
        },
        Rule {
            needles: owned(&["/home/", "/Users/", "sers\\", "sers/", "SERS\\", "SERS/"]),
            folded: false,
            hint: None,
            // (?=\\|/) consumed in the first branch: the match ends with the name
            search: Search::Plain(
                ascii(concat!(
                    r"(?P<head>/home/|/Users/|(?i:[a-z]:(?:\\{1,2}|/)users(?:\\{1,2}|/)))",
                    r#"(?:(?P<name>[^\\/\x00-\x1f"'<>|:*?]{1,64}?)[\\/]|(?P<bare>[^\\/\s\x00-\x1f"'<>|:*?]{1,64}))"#,
                )),
                &["name", "bare"],
            ),
            replace: Replace::With(home),
        },
    ]
});

impl Rule {
    /// Does the line hold one of the needles (and the hint)? A line that does not is left as it is.
    fn wanted(&self, line: &str, lower: &mut Option<String>) -> bool {
        let haystack = if self.folded {
            lower
                .get_or_insert_with(|| line.to_ascii_lowercase())
                .as_str()
        } else {
            line
        };
        self.needles
            .iter()
            .any(|needle| haystack.contains(needle.as_str()))
            && self
                .hint
                .as_ref()
                .is_none_or(|hint| hint.is_match(line.as_bytes()))
    }

    /// Python's next match at or after `from` (`re.search(line, from)`).
    fn next<'t>(&self, line: &'t str, from: usize) -> Option<Found<'t>> {
        let bytes = line.as_bytes();
        match &self.search {
            Search::Plain(regex, ends) => {
                let caps = regex.captures_at(bytes, from)?;
                let whole = caps.get(0).expect("group 0 takes part");
                let end = ends
                    .iter()
                    .find_map(|name| caps.name(name))
                    .map_or(whole.end(), |m| m.end());
                Some(Found {
                    start: whole.start(),
                    end,
                    caps,
                    base: 0,
                })
            }
            Search::Behind(regex, member) => (from..bytes.len())
                .filter(|&p| member(bytes[p]) && (p == 0 || !member(bytes[p - 1])))
                .find_map(|p| {
                    let caps = regex.captures(&bytes[p..])?;
                    let whole = caps.get(0).expect("group 0 takes part");
                    Some(Found {
                        start: p,
                        end: p + whole.end(),
                        caps,
                        base: p,
                    })
                }),
        }
    }

    /// `regex.sub(replace, line)`: None where nothing was replaced.
    fn apply(&self, line: &str, counts: &mut Counts) -> Option<String> {
        let mut out: Option<String> = None;
        let (mut kept, mut from) = (0, 0);
        while from < line.len() {
            let Some(found) = self.next(line, from) else {
                break;
            };
            if let Some((new, kind)) = self.replace.apply(&found, line) {
                let out = out.get_or_insert_with(|| String::with_capacity(line.len()));
                out.push_str(&line[kept..found.start]);
                out.push_str(&new);
                kept = found.end;
                counts[kind] += 1;
            }
            from = found.end; // no pattern matches empty text: always past `from`
        }
        out.map(|mut out| {
            out.push_str(&line[kept..]);
            out
        })
    }
}

/// `Redactor().redact(line)` for an ASCII line (None for another: Python redacts it), the marks
/// counted by kind into `counts`. The text is the line itself where nothing was redacted.
pub fn redact_ascii(line: &str, counts: &mut Counts) -> Option<String> {
    if !line.is_ascii() {
        return None;
    }
    let mut text = line.to_string();
    let mut lower = None;
    for rule in RULES.iter() {
        if !rule.wanted(&text, &mut lower) {
            continue;
        }
        if let Some(new) = rule.apply(&text, counts) {
            text = new;
            lower = None;
        }
    }
    Some(text)
}

/// `(kind, count)` for each kind counted.
pub fn counted(counts: &Counts) -> Vec<(&'static str, u64)> {
    KINDS
        .iter()
        .zip(counts)
        .filter(|(_, &n)| n > 0)
        .map(|(&kind, &n)| (kind, n))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redacted(line: &str) -> (String, Vec<(&'static str, u64)>) {
        let mut counts = Counts::default();
        let text = redact_ascii(line, &mut counts).expect("an ASCII line");
        (text, counted(&counts))
    }

    #[test]
    fn home_folders_of_real_logs_lose_their_user_names() {
        // the corpus's 012-liquid-rx7900xtx-95prompts.log and a Windows log's frame
        assert_eq!(
            redacted("[2024-02-10 04:01] ** Python executable: /home/sebastian/projects/foreign/ComfyUI/python/bin/python"),
            (
                "[2024-02-10 04:01] ** Python executable: /home/[redacted:user]/projects/foreign/ComfyUI/python/bin/python".to_string(),
                vec![("user", 1)]
            )
        );
        let frame = r#"  File "C:\Users\liuwei\AppData\Local\anaconda3\envs\tobaigc\lib\site-packages\huggingface_hub\file_download.py", line 1238, in hf_hub_download"#;
        assert_eq!(
            redacted(frame).0,
            frame.replace(r"\liuwei\", r"\[redacted:user]\")
        );
        // a path after another home path: each match ends before its separator
        assert_eq!(
            redacted("/home/a1/home/b2/x /Users/Shared/y").0,
            "/home/[redacted:user]/home/[redacted:user]/x /Users/Shared/y"
        );
    }

    #[test]
    fn secrets_are_marked_by_kind_and_prose_is_not() {
        let key = "Ab3d".repeat(8);
        assert_eq!(
            redacted(&format!("RUNPOD_API_KEY=rpa_{key}")),
            (
                "RUNPOD_API_KEY=[redacted:runpod-key]".to_string(),
                vec![("runpod-key", 1)]
            )
        );
        assert_eq!(
            redacted(&format!("https://bob:pw{key}@h.io/m?x=1&token={key}")).0,
            "https://bob:[redacted:password]@h.io/m?x=1&token=[redacted:url-secret]"
        );
        assert_eq!(
            redacted(&format!(
                "AWS_SECRET_ACCESS_KEY={key} and mail jane.doe@example.co.uk."
            )),
            (
                "AWS_SECRET_ACCESS_KEY=[redacted:aws-secret] and mail [redacted:email]."
                    .to_string(),
                vec![("aws-secret", 1), ("email", 1)]
            )
        );
        for prose in [
            "Loading tokenizer: openai/clip-vit-large-patch14",
            "  @torch.cuda.amp.custom_fwd(cast_inputs=torch.float32)",
            "git@github.com:comfyanonymous/ComfyUI.git",
            "Bearer authentication is configured",
            "password: ********",
        ] {
            assert_eq!(redacted(prose), (prose.to_string(), vec![]));
        }
    }

    #[test]
    fn a_line_that_is_not_ascii_is_left_to_python() {
        assert_eq!(
            redact_ascii("C:\\Users\\Zoë\\x", &mut Counts::default()),
            None
        );
    }
}
