//! Rows of the message table read by hand, not by their compiled regex, where compiling the regex
//! costs a process more than all its matching: table.rs uses a matcher here only for a row whose
//! regex is exactly the text the matcher reads (a row edited in messages.toml goes back to its
//! regex). Each reads its regex's language with Python's `re` semantics for str patterns, the
//! reference (`\w` and `\b` by pytext::is_word, `\s` by pytext::is_space).

use crate::pytext::{is_space, is_word};

/// A match: where it ends, and the spans of the regex's named groups in their order.
pub type Matched = (usize, Vec<Option<(usize, usize)>>);

/// A hand matcher of a row: the row's match in a text, as its regex finds it.
pub type Matcher = fn(&str) -> Option<Matched>;

/// node_model's regex. Its Unicode classes repeated up to 39 times made ~22 ms of compiling in
/// every process that met a `] Loading ` line (each worker of a fleet).
pub const NODE_MODEL: &str = r"^(?:[^\w\s\[]{1,4} )?\[(?P<node>[\w][\w .+-]{0,39})\] (?P<action>Loading|Unloading)(?: \w+){0,3} models?\b";

/// The hand matcher that stands for a row's regex (messages.toml's text), if there is one. A row
/// with `not_followed_by` keeps its regex.
pub fn for_row(regex: &str, not_followed_by: bool) -> Option<Matcher> {
    (regex == NODE_MODEL && !not_followed_by).then_some(node_model as Matcher)
}

/// From byte `at`, the characters that `keep` takes, at most `most`: where they end, and how many.
fn run(text: &str, at: usize, most: usize, keep: impl Fn(char) -> bool) -> (usize, usize) {
    let mut end = at;
    let mut count = 0;
    for c in text[at..].chars() {
        if count == most || !keep(c) {
            break;
        }
        end += c.len_utf8();
        count += 1;
    }
    (end, count)
}

/// `\b` after a word character at `at`: the text ends there or a character that is no word follows.
fn word_ends(text: &str, at: usize) -> bool {
    text[at..].chars().next().is_none_or(|c| !is_word(c))
}

/// NODE_MODEL's match. Every part but the last words has one way to match (each class stops where
/// what follows it must start), so reading it greedily is the regex's reading; the words before
/// ` model` are tried most first, as the regex's greedy `{0,3}` gives them back.
pub fn node_model(text: &str) -> Option<Matched> {
    // (?:[^\w\s\[]{1,4} )?  (then `\[`: a text starting with a class character needs the prefix)
    let (end, marks) = run(text, 0, 5, |c| !is_word(c) && !is_space(c) && c != '[');
    let mut at = 0;
    if marks > 0 {
        if marks > 4 || !text[end..].starts_with(' ') {
            return None;
        }
        at = end + 1;
    }
    // \[(?P<node>[\w][\w .+-]{0,39})\]
    at += text[at..].strip_prefix('[').map(|_| 1)?;
    let first = text[at..].chars().next().filter(|&c| is_word(c))?;
    let node_start = at;
    at += first.len_utf8();
    let (end, more) = run(text, at, 40, |c| {
        is_word(c) || matches!(c, ' ' | '.' | '+' | '-')
    });
    if more > 39 {
        return None;
    }
    at = end;
    let node = (node_start, at);
    at += text[at..].strip_prefix("] ").map(|_| 2)?;
    // (?P<action>Loading|Unloading)
    let action_len = ["Loading", "Unloading"]
        .iter()
        .find(|word| text[at..].starts_with(*word))?
        .len();
    let action = (at, at + action_len);
    at += action_len;
    // (?: \w+){0,3}: a space and a whole word each (a shorter word leaves a word character where a
    // space must follow)
    let mut after_words = [at; 4];
    let mut words = 0;
    while words < 3 && text[at..].starts_with(' ') {
        let (end, letters) = run(text, at + 1, usize::MAX, is_word);
        if letters == 0 {
            break;
        }
        at = end;
        words += 1;
        after_words[words] = at;
    }
    // ` models?\b`, after the most words first
    let end = after_words[..=words].iter().rev().find_map(|&from| {
        let model_end = from
            + text[from..]
                .strip_prefix(" model")
                .map(|_| " model".len())?;
        if text[model_end..].starts_with('s') && word_ends(text, model_end + 1) {
            Some(model_end + 1)
        } else {
            word_ends(text, model_end).then_some(model_end)
        }
    })?;
    Some((end, vec![Some(node), Some(action)]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pytext::compile;

    /// The regex's match (Rust's `regex`, the rows' engine) in the same form.
    fn by_regex(text: &str) -> Option<Matched> {
        static RE: std::sync::LazyLock<regex::Regex> =
            std::sync::LazyLock::new(|| compile(NODE_MODEL).unwrap());
        let caps = RE.captures(text)?;
        let span = |name: &str| caps.name(name).map(|m| (m.start(), m.end()));
        Some((
            caps.get(0).unwrap().end(),
            vec![span("node"), span("action")],
        ))
    }

    #[test]
    fn real_lines() {
        // ComfyUI-Qwen-TTS (messages.toml's example) and its unloading line
        let text = "[Qwen3-TTS] Loading local model: Qwen3-TTS-12Hz-1.7B-Base";
        let (end, groups) = node_model(text).unwrap();
        assert_eq!(&text[..end], "[Qwen3-TTS] Loading local model");
        assert_eq!(groups, [Some((1, 10)), Some((12, 19))]);
        let text = "[Qwen3-TTS] Unloading 1 cached model(s)...";
        assert_eq!(node_model(text), by_regex(text));
        assert!(node_model(text).is_some());
        assert!(node_model("[ComfyUI-Manager] Loading the node list").is_none());
    }

    #[test]
    fn agrees_with_the_regex() {
        let marks = [
            "", "✓ ", "** ", "**** ", "***** ", "** x", "*", "x ", " ", "[", "é ",
        ];
        let nodes = [
            "Qwen3-TTS",
            "a",
            "_",
            "中文 节点",
            "é+.- x",
            &"a".repeat(40),
            &"a".repeat(41),
            " x",
            "-x",
            "",
        ];
        let closes = ["] ", "]", "]  ", "] x"];
        let actions = ["Loading", "Unloading", "loading", "Loadin"];
        let tails = [
            " model",
            " models",
            " local model: x",
            " a b c model",
            " a b c d model",
            " model model",
            " models model",
            " modelsX",
            " model_",
            " model1",
            " models:",
            " model.",
            " model(s)",
            "",
            " mod",
            " Model",
            "  model",
            " a  model",
        ];
        let mut tried = 0;
        for mark in marks {
            for node in nodes {
                for close in closes {
                    for action in actions {
                        for tail in tails {
                            let text = format!("{mark}[{node}{close}{action}{tail}");
                            assert_eq!(node_model(&text), by_regex(&text), "{text:?}");
                            tried += 1;
                        }
                    }
                }
            }
        }
        assert!(tried > 5000);
    }

    #[test]
    fn only_its_own_regex_is_read_by_hand() {
        assert!(for_row(NODE_MODEL, false).is_some());
        assert!(for_row(NODE_MODEL, true).is_none());
        assert!(for_row(&NODE_MODEL.replace("{0,39}", "{0,40}"), false).is_none());
    }
}
