//! Strict JSON parsing into a borrowed tree.
//!
//! Why hand-written rather than serde_json: digests need three things serde_json's `Value` cannot give
//! without features we must not enable (`arbitrary_precision`): duplicate keys detected with their path,
//! the literal text of every number (to tell `9007199254740993` from `9.007199254740993e15`), and the
//! reference's (Go `encoding/json`) error messages for malformed input. Strings borrow from the input
//! when they contain no escapes, so big run records parse without an allocation per string.

use std::borrow::Cow;
use std::fmt;

/// Largest integer a double holds exactly; integer literals beyond it round when hashed (JCS uses doubles).
pub const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;

/// What to do with an integer literal whose magnitude exceeds 2^53 − 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BigIntPolicy {
    /// Reject: two different gate intents must never share a digest (DEVIATIONS #2).
    Reject,
    /// Round to the nearest double as the reference does, and record a warning.
    RoundWithWarning,
}

#[derive(Clone, Copy, Debug)]
pub struct ParseOptions {
    pub big_ints: BigIntPolicy,
    /// Maximum nesting of arrays and objects.
    pub max_depth: usize,
}

impl Default for ParseOptions {
    fn default() -> Self {
        Self {
            big_ints: BigIntPolicy::Reject,
            max_depth: 512,
        }
    }
}

impl ParseOptions {
    pub fn recorded_payload() -> Self {
        Self {
            big_ints: BigIntPolicy::RoundWithWarning,
            ..Self::default()
        }
    }
}

/// A parsed JSON number: its double value and the literal as written.
#[derive(Clone, Copy, Debug)]
pub struct Number<'a> {
    pub value: f64,
    pub raw: &'a str,
}

impl Number<'_> {
    /// True when the literal has no fraction or exponent.
    pub fn is_integer_literal(&self) -> bool {
        !self.raw.bytes().any(|b| matches!(b, b'.' | b'e' | b'E'))
    }
}

/// A JSON value borrowing from its source text. Object members keep their input order.
#[derive(Clone, Debug)]
pub enum Node<'a> {
    Null,
    Bool(bool),
    Num(Number<'a>),
    Str(Cow<'a, str>),
    Arr(Vec<Node<'a>>),
    Obj(Vec<(Cow<'a, str>, Node<'a>)>),
}

impl<'a> Node<'a> {
    pub fn kind(&self) -> &'static str {
        match self {
            Node::Null => "null",
            Node::Bool(_) => "bool",
            Node::Num(_) => "number",
            Node::Str(_) => "string",
            Node::Arr(_) => "array",
            Node::Obj(_) => "object",
        }
    }

    /// The member `key` of an object (exact match).
    pub fn get(&self, key: &str) -> Option<&Node<'a>> {
        match self {
            Node::Obj(members) => members.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Node::Str(s) => Some(s),
            _ => None,
        }
    }

    /// Converts to a `serde_json::Value` (numbers as the double the reference would hold).
    pub fn to_value(&self) -> serde_json::Value {
        use serde_json::Value;
        match self {
            Node::Null => Value::Null,
            Node::Bool(b) => Value::Bool(*b),
            Node::Num(n) => number_value(n.value),
            Node::Str(s) => Value::String(s.to_string()),
            Node::Arr(items) => Value::Array(items.iter().map(Node::to_value).collect()),
            Node::Obj(members) => Value::Object(
                members
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_value()))
                    .collect(),
            ),
        }
    }
}

/// A double as a `serde_json::Value`: integral values that fit are stored as integers so that every
/// writer prints them without a fraction, exactly as Go prints a float64 holding an integer.
pub fn number_value(v: f64) -> serde_json::Value {
    if v.fract() == 0.0 && v.abs() <= MAX_SAFE_INTEGER {
        if v == 0.0 {
            // -0 and 0 both become integer 0; the Go writer prints -0 only for floats it holds.
            return serde_json::Value::from(0i64);
        }
        return serde_json::Value::from(v as i64);
    }
    serde_json::Number::from_f64(v)
        .map(serde_json::Value::Number)
        .unwrap_or(serde_json::Value::Null)
}

/// Why parsing failed. `message` follows Go's `encoding/json` wording where the reference exposes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JsonError {
    pub kind: JsonErrorKind,
    pub message: String,
    /// Dotted path of the offending member (`args.items[1].a`), empty at the top level.
    pub path: String,
    /// Byte offset in the input.
    pub offset: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JsonErrorKind {
    Syntax,
    DuplicateKey,
    /// An integer literal beyond ±(2^53 − 1) under `BigIntPolicy::Reject`.
    UnsafeInteger,
    /// A number that overflows a double (`1e400`).
    NumberOutOfRange,
    TooDeep,
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for JsonError {}

/// A parse that succeeded, with the warnings it produced (rounded big integers).
#[derive(Debug)]
pub struct Parsed<'a> {
    pub node: Node<'a>,
    pub warnings: Vec<String>,
}

/// Parses one JSON document. Trailing whitespace is allowed, anything else after the value is an error.
pub fn parse(src: &[u8], opts: ParseOptions) -> Result<Parsed<'_>, JsonError> {
    let mut p = Parser {
        src,
        pos: 0,
        opts,
        warnings: Vec::new(),
        path: Vec::new(),
    };
    p.skip_ws();
    if p.pos >= src.len() {
        return Err(p.eof());
    }
    let node = p.value(0)?;
    p.skip_ws();
    if p.pos < src.len() {
        return Err(p.syntax(format!(
            "invalid character {} after top-level value",
            quote_char(p.current_char())
        )));
    }
    Ok(Parsed {
        node,
        warnings: p.warnings,
    })
}

enum Seg<'a> {
    Key(Cow<'a, str>),
    Index(usize),
}

struct Parser<'a> {
    src: &'a [u8],
    pos: usize,
    opts: ParseOptions,
    warnings: Vec<String>,
    path: Vec<Seg<'a>>,
}

impl<'a> Parser<'a> {
    fn path_string(&self) -> String {
        render_path(&self.path)
    }

    fn err(&self, kind: JsonErrorKind, message: String) -> JsonError {
        JsonError {
            kind,
            message,
            path: self.path_string(),
            offset: self.pos,
        }
    }

    fn syntax(&self, message: String) -> JsonError {
        self.err(JsonErrorKind::Syntax, message)
    }

    fn eof(&self) -> JsonError {
        JsonError {
            kind: JsonErrorKind::Syntax,
            message: "unexpected end of JSON input".into(),
            path: self.path_string(),
            offset: self.src.len(),
        }
    }

    /// The character at `pos` for error messages. Go's scanner reports bytes, so a multi-byte
    /// sequence shows as its first byte read as Latin-1 (a BOM shows as 'ï').
    fn current_char(&self) -> char {
        char::from(self.src[self.pos])
    }

    fn skip_ws(&mut self) {
        while let Some(&b) = self.src.get(self.pos) {
            if matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
                self.pos += 1;
            } else {
                break;
            }
        }
    }

    fn value(&mut self, depth: usize) -> Result<Node<'a>, JsonError> {
        let Some(&b) = self.src.get(self.pos) else {
            return Err(self.eof());
        };
        match b {
            b'{' => self.object(depth + 1),
            b'[' => self.array(depth + 1),
            b'"' => Ok(Node::Str(self.string()?)),
            b't' => self.literal("true", Node::Bool(true)),
            b'f' => self.literal("false", Node::Bool(false)),
            b'n' => self.literal("null", Node::Null),
            b'-' | b'0'..=b'9' => self.number(),
            _ => Err(self.syntax(format!(
                "invalid character {} looking for beginning of value",
                quote_char(self.current_char())
            ))),
        }
    }

    fn enter(&self, depth: usize) -> Result<(), JsonError> {
        if depth > self.opts.max_depth {
            return Err(self.err(
                JsonErrorKind::TooDeep,
                format!(
                    "JSON nesting exceeds the maximum depth of {}",
                    self.opts.max_depth
                ),
            ));
        }
        Ok(())
    }

    fn object(&mut self, depth: usize) -> Result<Node<'a>, JsonError> {
        self.enter(depth)?;
        self.pos += 1; // '{'
        // Most objects have a handful of members: one allocation instead of three regrowths.
        let mut members: Vec<(Cow<'a, str>, Node<'a>)> = Vec::with_capacity(8);
        self.skip_ws();
        match self.src.get(self.pos) {
            None => return Err(self.eof()),
            Some(b'}') => {
                self.pos += 1;
                return Ok(Node::Obj(members));
            }
            _ => {}
        }
        loop {
            self.skip_ws();
            match self.src.get(self.pos) {
                None => return Err(self.eof()),
                Some(b'"') => {}
                Some(_) => {
                    return Err(self.syntax(format!(
                        "invalid character {} looking for beginning of object key string",
                        quote_char(self.current_char())
                    )));
                }
            }
            let key_offset = self.pos;
            let key = self.string()?;
            if members.iter().any(|(k, _)| *k == key) {
                self.path.push(Seg::Key(key.clone()));
                let path = self.path_string();
                self.path.pop();
                return Err(JsonError {
                    kind: JsonErrorKind::DuplicateKey,
                    message: format!(
                        "duplicate key {} in JSON object at {}",
                        go_quote(&key),
                        display_path(&path)
                    ),
                    path,
                    offset: key_offset,
                });
            }
            self.skip_ws();
            match self.src.get(self.pos) {
                None => return Err(self.eof()),
                Some(b':') => self.pos += 1,
                Some(_) => {
                    return Err(self.syntax(format!(
                        "invalid character {} after object key",
                        quote_char(self.current_char())
                    )));
                }
            }
            self.skip_ws();
            self.path.push(Seg::Key(key.clone()));
            let value = self.value(depth)?;
            self.path.pop();
            members.push((key, value));
            self.skip_ws();
            match self.src.get(self.pos) {
                None => return Err(self.eof()),
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Node::Obj(members));
                }
                Some(_) => {
                    return Err(self.syntax(format!(
                        "invalid character {} after object key:value pair",
                        quote_char(self.current_char())
                    )));
                }
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Node<'a>, JsonError> {
        self.enter(depth)?;
        self.pos += 1; // '['
        let mut items = Vec::new();
        self.skip_ws();
        match self.src.get(self.pos) {
            None => return Err(self.eof()),
            Some(b']') => {
                self.pos += 1;
                return Ok(Node::Arr(items));
            }
            _ => {}
        }
        loop {
            self.skip_ws();
            self.path.push(Seg::Index(items.len()));
            let item = self.value(depth)?;
            self.path.pop();
            items.push(item);
            self.skip_ws();
            match self.src.get(self.pos) {
                None => return Err(self.eof()),
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Node::Arr(items));
                }
                Some(_) => {
                    return Err(self.syntax(format!(
                        "invalid character {} after array element",
                        quote_char(self.current_char())
                    )));
                }
            }
        }
    }

    fn literal(&mut self, word: &'static str, node: Node<'a>) -> Result<Node<'a>, JsonError> {
        let bytes = word.as_bytes();
        for (i, &expected) in bytes.iter().enumerate() {
            match self.src.get(self.pos + i) {
                None => {
                    self.pos += i;
                    return Err(self.eof());
                }
                Some(&b) if b == expected => {}
                Some(_) => {
                    self.pos += i;
                    return Err(self.syntax(format!(
                        "invalid character {} in literal {} (expecting {})",
                        quote_char(self.current_char()),
                        word,
                        quote_char(char::from(expected))
                    )));
                }
            }
        }
        self.pos += bytes.len();
        Ok(node)
    }

    fn number(&mut self) -> Result<Node<'a>, JsonError> {
        let start = self.pos;
        let src = self.src;
        let at = |i: usize| src.get(i).copied();
        let mut i = self.pos;
        if at(i) == Some(b'-') {
            i += 1;
        }
        match at(i) {
            Some(b'0') => i += 1,
            Some(b'1'..=b'9') => {
                while matches!(at(i), Some(b'0'..=b'9')) {
                    i += 1;
                }
            }
            None => {
                self.pos = i;
                return Err(self.eof());
            }
            Some(_) => {
                self.pos = i;
                return Err(self.syntax(format!(
                    "invalid character {} in numeric literal",
                    quote_char(self.current_char())
                )));
            }
        }
        if at(i) == Some(b'.') {
            i += 1;
            match at(i) {
                Some(b'0'..=b'9') => {}
                None => {
                    self.pos = i;
                    return Err(self.eof());
                }
                Some(_) => {
                    self.pos = i;
                    return Err(self.syntax(format!(
                        "invalid character {} after decimal point in numeric literal",
                        quote_char(self.current_char())
                    )));
                }
            }
            while matches!(at(i), Some(b'0'..=b'9')) {
                i += 1;
            }
        }
        if matches!(at(i), Some(b'e' | b'E')) {
            i += 1;
            if matches!(at(i), Some(b'+' | b'-')) {
                i += 1;
            }
            match at(i) {
                Some(b'0'..=b'9') => {}
                None => {
                    self.pos = i;
                    return Err(self.eof());
                }
                Some(_) => {
                    self.pos = i;
                    return Err(self.syntax(format!(
                        "invalid character {} in exponent of numeric literal",
                        quote_char(self.current_char())
                    )));
                }
            }
            while matches!(at(i), Some(b'0'..=b'9')) {
                i += 1;
            }
        }
        // The grammar above admits only ASCII, so this cannot fail.
        let raw = std::str::from_utf8(&src[start..i]).unwrap_or("0");
        self.pos = i;
        let value: f64 = small_integer(raw).unwrap_or_else(|| raw.parse().unwrap_or(f64::INFINITY));
        if !value.is_finite() {
            return Err(JsonError {
                kind: JsonErrorKind::NumberOutOfRange,
                message: format!("number {raw} is out of range for a 64-bit float"),
                path: self.path_string(),
                offset: start,
            });
        }
        let number = Number { value, raw };
        if number.is_integer_literal() && is_unsafe_integer(raw) {
            let path = self.path_string();
            match self.opts.big_ints {
                BigIntPolicy::Reject => {
                    return Err(JsonError {
                        kind: JsonErrorKind::UnsafeInteger,
                        message: format!(
                            "integer {raw} at {} is beyond ±(2^53-1) and cannot be hashed exactly",
                            display_path(&path)
                        ),
                        path,
                        offset: start,
                    });
                }
                BigIntPolicy::RoundWithWarning => self.warnings.push(format!(
                    "integer {raw} at {} exceeds ±(2^53-1) and was rounded to {} for hashing",
                    display_path(&path),
                    crate::canon::es6_number(value)
                )),
            }
        }
        Ok(Node::Num(number))
    }

    /// Parses a string starting at the opening quote. Borrows when there is nothing to unescape.
    fn string(&mut self) -> Result<Cow<'a, str>, JsonError> {
        self.pos += 1; // opening quote
        let src = self.src;
        let start = self.pos;
        // Fast path: scan for the closing quote with no escapes, controls or non-ASCII bytes.
        let mut i = start;
        while let Some(&b) = src.get(i) {
            match b {
                b'"' => {
                    self.pos = i + 1;
                    // SAFETY: the loop admitted only bytes below 0x80 into src[start..i], and ASCII
                    // is valid UTF-8. (This is the hot path of big run records; re-validating every
                    // string cost ~5% of `gait run record`.)
                    return Ok(Cow::Borrowed(unsafe {
                        std::str::from_utf8_unchecked(&src[start..i])
                    }));
                }
                b'\\' | 0..=0x1f | 0x80..=0xff => break,
                _ => i += 1,
            }
        }
        let mut out = String::with_capacity(i - start + 16);
        out.push_str(std::str::from_utf8(&src[start..i]).unwrap_or(""));
        self.pos = i;
        let mut all_valid_utf8 = true;
        loop {
            let Some(&b) = src.get(self.pos) else {
                return Err(self.eof());
            };
            match b {
                b'"' => {
                    self.pos += 1;
                    // When no byte needed rewriting the slice is valid UTF-8 and can be borrowed.
                    if all_valid_utf8 && !src[start..self.pos - 1].contains(&b'\\') {
                        return Ok(Cow::Borrowed(
                            std::str::from_utf8(&src[start..self.pos - 1]).unwrap_or(""),
                        ));
                    }
                    return Ok(Cow::Owned(out));
                }
                b'\\' => {
                    self.pos += 1;
                    let Some(&e) = src.get(self.pos) else {
                        return Err(self.eof());
                    };
                    self.pos += 1;
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
                            let first = self.hex4()?;
                            if (0xD800..0xDC00).contains(&first) {
                                // A high surrogate needs a low one next; Go maps a lone one to U+FFFD.
                                if src.get(self.pos) == Some(&b'\\')
                                    && src.get(self.pos + 1) == Some(&b'u')
                                {
                                    let save = self.pos;
                                    self.pos += 2;
                                    let second = self.hex4()?;
                                    if (0xDC00..0xE000).contains(&second) {
                                        let c =
                                            0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00);
                                        out.push(char::from_u32(c).unwrap_or('\u{fffd}'));
                                    } else {
                                        out.push('\u{fffd}');
                                        self.pos = save;
                                    }
                                } else {
                                    out.push('\u{fffd}');
                                }
                            } else {
                                out.push(char::from_u32(first).unwrap_or('\u{fffd}'));
                            }
                        }
                        _ => {
                            self.pos -= 1;
                            return Err(self.syntax(format!(
                                "invalid character {} in string escape code",
                                quote_char(self.current_char())
                            )));
                        }
                    }
                }
                0..=0x1f => {
                    return Err(self.syntax(format!(
                        "invalid character {} in string literal",
                        quote_char(self.current_char())
                    )));
                }
                0x80..=0xff => {
                    let len = utf8_len(b);
                    let end = (self.pos + len).min(src.len());
                    match std::str::from_utf8(&src[self.pos..end]) {
                        Ok(s) if len > 1 => {
                            out.push_str(s);
                            self.pos = end;
                        }
                        _ => {
                            // Go's decoder replaces each invalid byte with U+FFFD.
                            out.push('\u{fffd}');
                            all_valid_utf8 = false;
                            self.pos += 1;
                        }
                    }
                }
                _ => {
                    // Copy a run of plain ASCII at once.
                    let run_start = self.pos;
                    while let Some(&c) = src.get(self.pos) {
                        if c == b'"' || c == b'\\' || !(0x20..0x80).contains(&c) {
                            break;
                        }
                        self.pos += 1;
                    }
                    out.push_str(std::str::from_utf8(&src[run_start..self.pos]).unwrap_or(""));
                }
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, JsonError> {
        let mut v = 0u32;
        for _ in 0..4 {
            let Some(&h) = self.src.get(self.pos) else {
                return Err(self.eof());
            };
            let d = match h {
                b'0'..=b'9' => h - b'0',
                b'a'..=b'f' => h - b'a' + 10,
                b'A'..=b'F' => h - b'A' + 10,
                _ => {
                    return Err(self.syntax(format!(
                        "invalid character {} in \\u hexadecimal character escape",
                        quote_char(self.current_char())
                    )));
                }
            };
            v = v * 16 + u32::from(d);
            self.pos += 1;
        }
        Ok(v)
    }
}

fn utf8_len(first: u8) -> usize {
    match first {
        0xC2..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF4 => 4,
        _ => 1,
    }
}

/// True when an integer literal's magnitude exceeds 2^53 − 1.
/// The value of an integer literal of at most 15 digits, computed exactly (every such integer is a
/// double); `None` for anything else. Tool payloads are full of small integers, and the general
/// float parser is several times slower for them.
fn small_integer(raw: &str) -> Option<f64> {
    let (neg, digits) = match raw.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, raw),
    };
    if digits.is_empty() || digits.len() > 15 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n = digits
        .bytes()
        .fold(0u64, |acc, b| acc * 10 + u64::from(b - b'0')) as f64;
    Some(if neg { -n } else { n })
}

fn is_unsafe_integer(raw: &str) -> bool {
    let digits = raw.trim_start_matches('-');
    let digits = digits.trim_start_matches('0');
    if digits.len() < 16 {
        return false;
    }
    if digits.len() > 16 {
        return true;
    }
    digits > "9007199254740991"
}

fn render_path(path: &[Seg<'_>]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Seg::Index(i) => {
                out.push('[');
                out.push_str(&i.to_string());
                out.push(']');
            }
        }
    }
    out
}

fn display_path(path: &str) -> &str {
    if path.is_empty() {
        "the top level"
    } else {
        path
    }
}

/// Go's `quoteChar` from encoding/json: `'x'` with Go escaping for non-printable characters.
pub fn quote_char(c: char) -> String {
    match c {
        '\'' => "'\\''".to_string(),
        '"' => "'\"'".to_string(),
        _ => {
            let q = go_quote(&c.to_string());
            format!("'{}'", &q[1..q.len() - 1])
        }
    }
}

/// Go's `strconv.Quote`: double-quoted with Go escapes for non-printable characters.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if is_go_printable(c) => out.push(c),
            c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push('"');
    out
}

/// Approximates Go's `strconv.IsPrint`: letters, marks, numbers, punctuation, symbols and U+0020.
fn is_go_printable(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    if c.is_control() || c.is_whitespace() {
        return false;
    }
    let cp = c as u32;
    // Unassigned/format ranges Go reports as non-printable that matter in practice.
    !matches!(cp, 0xad | 0x200b..=0x200f | 0x2028..=0x202e | 0x2060..=0x206f | 0xfeff | 0xfff9..=0xfffb
        | 0xe000..=0xf8ff | 0xd800..=0xdfff)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(src: &str) -> JsonError {
        parse(src.as_bytes(), ParseOptions::default()).unwrap_err()
    }

    #[test]
    fn go_syntax_messages() {
        assert_eq!(err("").message, "unexpected end of JSON input");
        assert_eq!(err("  \n").message, "unexpected end of JSON input");
        assert_eq!(err(r#"{"a":"b""#).message, "unexpected end of JSON input");
        assert_eq!(
            err(r#"{"a":1,}"#).message,
            "invalid character '}' looking for beginning of object key string"
        );
        assert_eq!(
            err(r#"{"a":1} x"#).message,
            "invalid character 'x' after top-level value"
        );
        assert_eq!(
            err(r#"{}{}"#).message,
            "invalid character '{' after top-level value"
        );
        assert_eq!(
            err("\u{feff}{}").message,
            "invalid character 'ï' looking for beginning of value"
        );
        assert_eq!(
            err("// c\n{}").message,
            "invalid character '/' looking for beginning of value"
        );
        assert_eq!(
            err("{'a':1}").message,
            "invalid character '\\'' looking for beginning of object key string"
        );
        assert_eq!(
            err(r#"{"n":NaN}"#).message,
            "invalid character 'N' looking for beginning of value"
        );
        assert_eq!(
            err(r#"{"s":"\uZZZZ"}"#).message,
            "invalid character 'Z' in \\u hexadecimal character escape"
        );
        assert_eq!(
            err("[1 2]").message,
            "invalid character '2' after array element"
        );
        assert_eq!(
            err(r#"{"a" 1}"#).message,
            "invalid character '1' after object key"
        );
        assert_eq!(
            err(r#"{"a":1 "b":2}"#).message,
            "invalid character '\"' after object key:value pair"
        );
        assert_eq!(err("tru").message, "unexpected end of JSON input");
        assert_eq!(
            err("trux").message,
            "invalid character 'x' in literal true (expecting 'e')"
        );
        assert_eq!(
            err("\"a\u{1}\"").message,
            "invalid character '\\x01' in string literal"
        );
        assert_eq!(err("1.").message, "unexpected end of JSON input");
        assert_eq!(
            err("1.x").message,
            "invalid character 'x' after decimal point in numeric literal"
        );
        assert_eq!(
            err("-x").message,
            "invalid character 'x' in numeric literal"
        );
        assert_eq!(
            err("1ex").message,
            "invalid character 'x' in exponent of numeric literal"
        );
        assert_eq!(
            err("01").message,
            "invalid character '1' after top-level value"
        );
        assert_eq!(
            err(r#""\q""#).message,
            "invalid character 'q' in string escape code"
        );
    }

    #[test]
    fn duplicate_keys_name_their_path() {
        let e = err(r#"{"args":{"items":[{"a":1,"a":2}]}}"#);
        assert_eq!(e.kind, JsonErrorKind::DuplicateKey);
        assert_eq!(e.path, "args.items[0].a");
        assert!(e.message.contains("\"a\""), "{}", e.message);
        let e = err(r#"{"a":1,"a":1}"#);
        assert_eq!(e.path, "a");
        // Keys equal after unescaping are duplicates too.
        assert_eq!(
            err(r#"{"a":1,"\u0061":2}"#).kind,
            JsonErrorKind::DuplicateKey
        );
    }

    #[test]
    fn unsafe_integers_rejected_or_rounded() {
        let e = err(r#"{"n":9007199254740992}"#);
        assert_eq!(e.kind, JsonErrorKind::UnsafeInteger);
        assert_eq!(e.path, "n");
        assert!(parse(b"9007199254740991", ParseOptions::default()).is_ok());
        assert!(parse(b"-9007199254740991", ParseOptions::default()).is_ok());
        assert_eq!(err("-9007199254740992").kind, JsonErrorKind::UnsafeInteger);
        assert_eq!(
            err("123456789012345678901234567890").kind,
            JsonErrorKind::UnsafeInteger
        );
        // Float literals are exact doubles by definition and stay allowed.
        assert!(parse(b"1e21", ParseOptions::default()).is_ok());
        assert!(parse(b"9007199254740993.0", ParseOptions::default()).is_ok());
        let parsed = parse(b"[18446744073709551615]", ParseOptions::recorded_payload()).unwrap();
        assert_eq!(parsed.warnings.len(), 1);
        assert!(parsed.warnings[0].contains("[0]"), "{:?}", parsed.warnings);
        assert_eq!(err("1e400").kind, JsonErrorKind::NumberOutOfRange);
    }

    #[test]
    fn strings_unescape_like_go() {
        let p = parse(
            br#"["\ud83d\ude00","a\ud800b","\u00e9","\/"]"#,
            ParseOptions::default(),
        )
        .unwrap();
        let Node::Arr(items) = p.node else { panic!() };
        assert_eq!(items[0].as_str(), Some("😀"));
        assert_eq!(items[1].as_str(), Some("a\u{fffd}b"));
        assert_eq!(items[2].as_str(), Some("é"));
        assert_eq!(items[3].as_str(), Some("/"));
        let p = parse(b"\"a\xffb\"", ParseOptions::default()).unwrap();
        assert_eq!(p.node.as_str(), Some("a\u{fffd}b"));
        let p = parse("\"caf\u{e9}\"".as_bytes(), ParseOptions::default()).unwrap();
        assert!(matches!(p.node, Node::Str(Cow::Borrowed(_))));
    }

    #[test]
    fn depth_is_bounded() {
        let deep = "[".repeat(600) + &"]".repeat(600);
        assert_eq!(err(&deep).kind, JsonErrorKind::TooDeep);
        let ok = "[".repeat(100) + &"]".repeat(100);
        assert!(parse(ok.as_bytes(), ParseOptions::default()).is_ok());
    }
}
