//! The `message` of a runpod-python JSON log line, with Python's `json.loads` rules (prefixes.py's
//! `_json_message`): NaN and Infinity allowed, control characters in strings not, the last of
//! duplicate keys wins, an integer of more than 4300 digits is an error (Python's int limit).

/// The top-level keys of `text` (already stripped) when it is a JSON object, each with its value
/// if that is a string (None otherwise), in order (duplicates kept: the last one counts).
pub fn object(text: &str) -> Option<Vec<(String, Option<String>)>> {
    let mut p = Parser {
        s: text.as_bytes(),
        i: 0,
        depth: 0,
    };
    p.ws();
    if p.peek() != Some(b'{') {
        return None;
    }
    let keys = p.object(true)?;
    p.ws();
    if p.i != p.s.len() {
        return None;
    }
    Some(keys)
}

/// A key of an object from `object`: absent (None), or present with its string value if any.
pub fn get<'a>(keys: &'a [(String, Option<String>)], key: &str) -> Option<&'a Option<String>> {
    keys.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v)
}

/// `obj["message"]` when `text` (already stripped) is a JSON object whose message is a string.
pub fn message(text: &str) -> Option<String> {
    get(&object(text)?, "message")?.clone()
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
    depth: usize,
}

/// Deeper than this, Python's scanner gives up too (RecursionError); no real log line nests so.
const MAX_DEPTH: usize = 500;
const MAX_INT_DIGITS: usize = 4300;

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    fn eat(&mut self, lit: &str) -> Option<()> {
        if self.s[self.i..].starts_with(lit.as_bytes()) {
            self.i += lit.len();
            Some(())
        } else {
            None
        }
    }

    /// A value; `None` when it is not valid JSON.
    fn value(&mut self, _keep: bool) -> Option<()> {
        self.ws();
        match self.peek()? {
            b'{' => self.object(false).map(|_| ()),
            b'[' => self.array(),
            b'"' => self.string().map(|_| ()),
            b't' => self.eat("true"),
            b'f' => self.eat("false"),
            b'n' => self.eat("null"),
            b'N' => self.eat("NaN"),
            b'I' => self.eat("Infinity"),
            b'-' if self.s[self.i..].starts_with(b"-Infinity") => self.eat("-Infinity"),
            _ => self.number(),
        }
    }

    /// An object; with `top`, its keys and their string values.
    fn object(&mut self, top: bool) -> Option<Vec<(String, Option<String>)>> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return None;
        }
        self.i += 1; // '{'
        let mut keys = Vec::new();
        self.ws();
        if self.peek() == Some(b'}') {
            self.i += 1;
            self.depth -= 1;
            return Some(keys);
        }
        loop {
            self.ws();
            if self.peek()? != b'"' {
                return None;
            }
            let key = self.string()?;
            self.ws();
            if self.peek()? != b':' {
                return None;
            }
            self.i += 1;
            self.ws();
            if top {
                if self.peek()? == b'"' {
                    let value = self.string()?;
                    keys.push((key, Some(value)));
                } else {
                    self.value(false)?;
                    keys.push((key, None));
                }
            } else {
                self.value(false)?;
            }
            self.ws();
            match self.peek()? {
                b',' => self.i += 1,
                b'}' => {
                    self.i += 1;
                    self.depth -= 1;
                    return Some(keys);
                }
                _ => return None,
            }
        }
    }

    fn array(&mut self) -> Option<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return None;
        }
        self.i += 1; // '['
        self.ws();
        if self.peek() == Some(b']') {
            self.i += 1;
            self.depth -= 1;
            return Some(());
        }
        loop {
            self.value(false)?;
            self.ws();
            match self.peek()? {
                b',' => self.i += 1,
                b']' => {
                    self.i += 1;
                    self.depth -= 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.i;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.i += 1;
        }
        self.i - start
    }

    fn number(&mut self) -> Option<()> {
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        let int_digits = match self.peek()? {
            b'0' => {
                self.i += 1;
                1
            }
            b'1'..=b'9' => self.digits(),
            _ => return None,
        };
        let mut is_int = true;
        if self.peek() == Some(b'.') && matches!(self.s.get(self.i + 1), Some(b'0'..=b'9')) {
            self.i += 1;
            self.digits();
            is_int = false;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            let save = self.i;
            self.i += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if self.digits() == 0 {
                self.i = save; // not an exponent: the number ends before the `e`
            } else {
                is_int = false;
            }
        }
        if is_int && int_digits > MAX_INT_DIGITS {
            return None;
        }
        Some(())
    }

    fn hex4(&mut self) -> Option<u32> {
        let h = self.s.get(self.i..self.i + 4)?;
        let text = std::str::from_utf8(h).ok()?;
        if !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        self.i += 4;
        u32::from_str_radix(text, 16).ok()
    }

    fn string(&mut self) -> Option<String> {
        self.i += 1; // '"'
        let mut out = String::new();
        loop {
            let start = self.i;
            while let Some(b) = self.peek() {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.i += 1;
            }
            // The input is a str: the run between escapes is valid UTF-8.
            out.push_str(std::str::from_utf8(&self.s[start..self.i]).ok()?);
            match self.peek()? {
                b'"' => {
                    self.i += 1;
                    return Some(out);
                }
                b'\\' => {
                    self.i += 1;
                    let e = self.peek()?;
                    self.i += 1;
                    match e {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let hi = self.hex4()?;
                            let mut code = hi;
                            if (0xD800..0xDC00).contains(&hi)
                                && self.s[self.i..].starts_with(b"\\u")
                            {
                                let save = self.i;
                                self.i += 2;
                                match self.hex4() {
                                    Some(lo) if (0xDC00..0xE000).contains(&lo) => {
                                        code = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
                                    }
                                    _ => self.i = save,
                                }
                            }
                            // A lone surrogate (Python keeps it in the str) cannot be in a Rust
                            // string: it becomes U+FFFD.
                            out.push(char::from_u32(code).unwrap_or('\u{fffd}'));
                        }
                        _ => return None,
                    }
                }
                _ => return None, // a control character: Python's strict decoding refuses it
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::message;

    #[test]
    fn runpod_log_stream_lines() {
        let line = r#"{"requestId": null, "message": "Started.", "level": "INFO"}"#;
        assert_eq!(message(line).as_deref(), Some("Started."));
        let line = r#"{"requestId": "a-b", "message": "Job completed. Returning 1 image(s).\u00e9", "level": "INFO"}"#;
        assert_eq!(
            message(line).as_deref(),
            Some("Job completed. Returning 1 image(s).é")
        );
    }

    #[test]
    fn python_rules() {
        assert_eq!(message(r#"{"message": 1}"#), None);
        assert_eq!(
            message(r#"{"message": "a", "message": "b"}"#).as_deref(),
            Some("b")
        );
        assert_eq!(
            message(r#"{"x": NaN, "message": "a"}"#).as_deref(),
            Some("a")
        );
        assert_eq!(message("{\"message\": \"a\tb\"}"), None);
        assert_eq!(message(r#"{"message": "a",}"#), None);
        assert_eq!(message(r#"{"message": "a"} x"#), None);
        assert_eq!(message(r#"{"n": 01, "message": "a"}"#), None);
        assert_eq!(
            message(r#"{"n": 1.5e3, "message": "\ud83d\ude00"}"#).as_deref(),
            Some("😀")
        );
        let big = format!(r#"{{"n": {}, "message": "a"}}"#, "9".repeat(4301));
        assert_eq!(message(&big), None);
    }
}
