//! Lua 5.4 string patterns with a work budget.
//!
//! A line-by-line port of the matcher in Lua 5.4's `lstrlib.c` (`match`, `max_expand`, `min_expand`,
//! `matchbalance`, captures, `str_find_aux`). Lua's own C matcher runs outside the VM, where the
//! instruction hook cannot stop it, and backtracking patterns such as `(.-)(.-)(.-)x` take time
//! polynomial in the subject length with the degree set by the pattern — a script could stall gait
//! in one call. This port counts every step and stops at a budget instead. Behaviour, including
//! error messages, follows the C code; bytes are classified as in the C locale.

use std::fmt;

const MAXCAPTURES: usize = 32;
/// Lua's `MAXCCALLS`: the matcher's recursion limit ("pattern too complex").
const MAXCCALLS: usize = 200;
const SPECIALS: &[u8] = b"^$*+?.([%-";

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PatError {
    /// A Lua-level error (malformed pattern, bad capture index…), with Lua's wording.
    Msg(String),
    /// The step budget ran out.
    Steps,
}

impl fmt::Display for PatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PatError::Msg(m) => f.write_str(m),
            PatError::Steps => f.write_str("pattern matching exceeded its step budget"),
        }
    }
}

fn err<T>(msg: impl Into<String>) -> Result<T, PatError> {
    Err(PatError::Msg(msg.into()))
}

type R<T> = Result<T, PatError>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CapLen {
    Unfinished,
    Position,
    Len(usize),
}

/// One capture value: a slice of the subject or a 1-based position (`()`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cap<'a> {
    Str(&'a [u8]),
    Pos(usize),
}

pub(crate) struct Matcher<'a> {
    src: &'a [u8],
    pat: &'a [u8],
    depth: usize,
    level: usize,
    cap: [(usize, CapLen); MAXCAPTURES],
    steps: u64,
    max_steps: u64,
}

/// C's `isspace` in the C locale (Rust's `is_ascii_whitespace` leaves out `\v`).
fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

fn match_class(c: u8, cl: u8) -> bool {
    let res = match cl.to_ascii_lowercase() {
        b'a' => c.is_ascii_alphabetic(),
        b'c' => c.is_ascii_control(),
        b'd' => c.is_ascii_digit(),
        b'g' => c.is_ascii_graphic(),
        b'l' => c.is_ascii_lowercase(),
        b'p' => c.is_ascii_punctuation(),
        b's' => is_space(c),
        b'u' => c.is_ascii_uppercase(),
        b'w' => c.is_ascii_alphanumeric(),
        b'x' => c.is_ascii_hexdigit(),
        _ => return cl == c,
    };
    if cl.is_ascii_uppercase() { !res } else { res }
}

impl<'a> Matcher<'a> {
    /// `pat` is the pattern without a leading `^` anchor (callers strip it, as `lstrlib.c` does).
    pub(crate) fn new(src: &'a [u8], pat: &'a [u8], max_steps: u64) -> Self {
        Matcher {
            src,
            pat,
            depth: MAXCCALLS,
            level: 0,
            cap: [(0, CapLen::Unfinished); MAXCAPTURES],
            steps: 0,
            max_steps,
        }
    }

    pub(crate) fn steps(&self) -> u64 {
        self.steps
    }

    fn step(&mut self, n: u64) -> R<()> {
        self.steps = self.steps.saturating_add(n);
        if self.steps > self.max_steps {
            Err(PatError::Steps)
        } else {
            Ok(())
        }
    }

    /// The pattern byte at `i`, or 0 past the end (C reads the terminating `\0`).
    fn p_at(&self, i: usize) -> u8 {
        self.pat.get(i).copied().unwrap_or(0)
    }

    fn s_at(&self, i: usize) -> u8 {
        self.src.get(i).copied().unwrap_or(0)
    }

    /// Prepares for a new match attempt (`reprepstate`).
    pub(crate) fn reset(&mut self) {
        self.level = 0;
        self.depth = MAXCCALLS;
    }

    fn class_end(&self, mut p: usize) -> R<usize> {
        let c = self.pat[p];
        p += 1;
        match c {
            b'%' => {
                if p >= self.pat.len() {
                    return err("malformed pattern (ends with '%')");
                }
                Ok(p + 1)
            }
            b'[' => {
                if self.p_at(p) == b'^' {
                    p += 1;
                }
                loop {
                    if p >= self.pat.len() {
                        return err("malformed pattern (missing ']')");
                    }
                    let c = self.pat[p];
                    p += 1;
                    if c == b'%' && p < self.pat.len() {
                        p += 1;
                    }
                    if self.p_at(p) == b']' {
                        break;
                    }
                }
                Ok(p + 1)
            }
            _ => Ok(p),
        }
    }

    /// `p` is at `[`, `ec` at the closing `]`.
    fn bracket_class(&self, c: u8, mut p: usize, ec: usize) -> bool {
        let mut sig = true;
        if self.p_at(p + 1) == b'^' {
            sig = false;
            p += 1;
        }
        loop {
            p += 1;
            if p >= ec {
                break;
            }
            if self.pat[p] == b'%' {
                p += 1;
                if match_class(c, self.p_at(p)) {
                    return sig;
                }
            } else if self.p_at(p + 1) == b'-' && p + 2 < ec {
                p += 2;
                if self.pat[p - 2] <= c && c <= self.pat[p] {
                    return sig;
                }
            } else if self.pat[p] == c {
                return sig;
            }
        }
        !sig
    }

    fn single_match(&self, s: usize, p: usize, ep: usize) -> bool {
        if s >= self.src.len() {
            return false;
        }
        let c = self.src[s];
        match self.pat[p] {
            b'.' => true,
            b'%' => match_class(c, self.p_at(p + 1)),
            b'[' => self.bracket_class(c, p, ep - 1),
            pc => pc == c,
        }
    }

    fn match_balance(&mut self, s: usize, p: usize) -> R<Option<usize>> {
        if p + 1 >= self.pat.len() {
            return err("malformed pattern (missing arguments to '%b')");
        }
        if s >= self.src.len() || self.src[s] != self.pat[p] {
            return Ok(None);
        }
        let (b, e) = (self.pat[p], self.pat[p + 1]);
        let mut cont = 1usize;
        let mut s = s;
        loop {
            s += 1;
            if s >= self.src.len() {
                return Ok(None);
            }
            self.step(1)?;
            let c = self.src[s];
            if c == e {
                cont -= 1;
                if cont == 0 {
                    return Ok(Some(s + 1));
                }
            } else if c == b {
                cont += 1;
            }
        }
    }

    fn max_expand(&mut self, s: usize, p: usize, ep: usize) -> R<Option<usize>> {
        let mut i = 0usize;
        while self.single_match(s + i, p, ep) {
            self.step(1)?;
            i += 1;
        }
        loop {
            if let Some(r) = self.do_match(s + i, ep + 1)? {
                return Ok(Some(r));
            }
            if i == 0 {
                return Ok(None);
            }
            i -= 1;
        }
    }

    fn min_expand(&mut self, mut s: usize, p: usize, ep: usize) -> R<Option<usize>> {
        loop {
            if let Some(r) = self.do_match(s, ep + 1)? {
                return Ok(Some(r));
            }
            if self.single_match(s, p, ep) {
                s += 1;
            } else {
                return Ok(None);
            }
        }
    }

    fn start_capture(&mut self, s: usize, p: usize, what: CapLen) -> R<Option<usize>> {
        if self.level >= MAXCAPTURES {
            return err("too many captures");
        }
        self.cap[self.level] = (s, what);
        self.level += 1;
        let r = self.do_match(s, p)?;
        if r.is_none() {
            self.level -= 1;
        }
        Ok(r)
    }

    fn end_capture(&mut self, s: usize, p: usize) -> R<Option<usize>> {
        let Some(l) = (0..self.level)
            .rev()
            .find(|&l| self.cap[l].1 == CapLen::Unfinished)
        else {
            return err("invalid pattern capture");
        };
        self.cap[l].1 = CapLen::Len(s - self.cap[l].0);
        let r = self.do_match(s, p)?;
        if r.is_none() {
            self.cap[l].1 = CapLen::Unfinished;
        }
        Ok(r)
    }

    fn match_capture(&mut self, s: usize, digit: u8) -> R<Option<usize>> {
        let l = i32::from(digit) - i32::from(b'1');
        let idx = usize::try_from(l).ok().filter(|&l| l < self.level);
        let Some(l) = idx.filter(|&l| self.cap[l].1 != CapLen::Unfinished) else {
            return err(format!("invalid capture index %{}", l + 1));
        };
        match self.cap[l].1 {
            // A position capture's length is negative in C; as a size it never fits.
            CapLen::Len(n) if self.src.len() - s >= n => {
                self.step(n as u64)?;
                let init = self.cap[l].0;
                Ok((self.src[init..init + n] == self.src[s..s + n]).then_some(s + n))
            }
            _ => Ok(None),
        }
    }

    /// Matches the pattern from pattern index `p` at subject index `s`; the end of the match.
    pub(crate) fn do_match(&mut self, s: usize, p: usize) -> R<Option<usize>> {
        if self.depth == 0 {
            return err("pattern too complex");
        }
        self.depth -= 1;
        let r = self.match_body(s, p);
        self.depth += 1;
        r
    }

    fn match_body(&mut self, mut s: usize, mut p: usize) -> R<Option<usize>> {
        loop {
            self.step(1)?;
            if p == self.pat.len() {
                return Ok(Some(s));
            }
            match self.pat[p] {
                b'(' => {
                    return if self.p_at(p + 1) == b')' {
                        self.start_capture(s, p + 2, CapLen::Position)
                    } else {
                        self.start_capture(s, p + 1, CapLen::Unfinished)
                    };
                }
                b')' => return self.end_capture(s, p + 1),
                b'$' if p + 1 == self.pat.len() => {
                    return Ok((s == self.src.len()).then_some(s));
                }
                b'%' if self.p_at(p + 1) == b'b' => match self.match_balance(s, p + 2)? {
                    Some(ns) => {
                        s = ns;
                        p += 4;
                    }
                    None => return Ok(None),
                },
                b'%' if self.p_at(p + 1) == b'f' => {
                    p += 2;
                    if self.p_at(p) != b'[' {
                        return err("missing '[' after '%f' in pattern");
                    }
                    let ep = self.class_end(p)?;
                    let prev = if s == 0 { 0 } else { self.src[s - 1] };
                    let cur = self.s_at(s);
                    if !self.bracket_class(prev, p, ep - 1) && self.bracket_class(cur, p, ep - 1) {
                        p = ep;
                    } else {
                        return Ok(None);
                    }
                }
                b'%' if self.p_at(p + 1).is_ascii_digit() => {
                    match self.match_capture(s, self.p_at(p + 1))? {
                        Some(ns) => {
                            s = ns;
                            p += 2;
                        }
                        None => return Ok(None),
                    }
                }
                _ => {
                    let ep = self.class_end(p)?;
                    let suffix = self.p_at(ep);
                    if !self.single_match(s, p, ep) {
                        if matches!(suffix, b'*' | b'?' | b'-') {
                            p = ep + 1;
                            continue;
                        }
                        return Ok(None);
                    }
                    match suffix {
                        b'?' => {
                            if let Some(r) = self.do_match(s + 1, ep + 1)? {
                                return Ok(Some(r));
                            }
                            p = ep + 1;
                        }
                        b'+' => return self.max_expand(s + 1, p, ep),
                        b'*' => return self.max_expand(s, p, ep),
                        b'-' => return self.min_expand(s, p, ep),
                        _ => {
                            s += 1;
                            p = ep;
                        }
                    }
                }
            }
        }
    }

    /// Capture `i` of a match `s..e` (`get_onecapture`): with no captures, index 0 is the whole match.
    pub(crate) fn capture(&self, i: usize, s: usize, e: usize) -> R<Cap<'a>> {
        if i >= self.level {
            if i != 0 {
                return err(format!("invalid capture index %{}", i + 1));
            }
            return Ok(Cap::Str(&self.src[s..e]));
        }
        let (init, len) = self.cap[i];
        match len {
            CapLen::Unfinished => err("unfinished capture"),
            CapLen::Position => Ok(Cap::Pos(init + 1)),
            CapLen::Len(n) => Ok(Cap::Str(&self.src[init..init + n])),
        }
    }

    /// `push_captures`: every capture, or the whole match `s..e` when the pattern has none.
    pub(crate) fn captures(&self, whole: Option<(usize, usize)>) -> R<Vec<Cap<'a>>> {
        let n = if self.level == 0 && whole.is_some() {
            1
        } else {
            self.level
        };
        let (s, e) = whole.unwrap_or((0, 0));
        (0..n).map(|i| self.capture(i, s, e)).collect()
    }
}

/// Lua's `posrelatI`: a 1-based start position from a possibly negative index, as an offset.
pub(crate) fn start_offset(init: i64, len: usize) -> usize {
    let pos = if init > 0 {
        init as u64
    } else if init == 0 || init.unsigned_abs() > len as u64 {
        1
    } else {
        (len as i64 + init + 1) as u64
    };
    usize::try_from(pos - 1).unwrap_or(usize::MAX)
}

pub(crate) fn has_specials(pat: &[u8]) -> bool {
    pat.iter().any(|c| SPECIALS.contains(c))
}

/// Plain substring search from `from`, counting one step per candidate position.
pub(crate) fn plain_find(
    src: &[u8],
    needle: &[u8],
    from: usize,
    steps: &mut u64,
    max_steps: u64,
) -> R<Option<usize>> {
    if needle.is_empty() {
        return Ok(Some(from));
    }
    if needle.len() > src.len() {
        return Ok(None);
    }
    let last = src.len() - needle.len();
    let mut i = from;
    while i <= last {
        *steps = steps.saturating_add(needle.len() as u64);
        if *steps > max_steps {
            return Err(PatError::Steps);
        }
        if src[i..i + needle.len()] == *needle {
            return Ok(Some(i));
        }
        i += 1;
    }
    Ok(None)
}

/// A successful `find`/`match`: 0-based start, end (exclusive) and captures.
pub(crate) struct Found<'a> {
    pub start: usize,
    pub end: usize,
    pub caps: Vec<Cap<'a>>,
}

/// `string.find` (`find = true`) and `string.match` (`find = false`), as `str_find_aux`.
/// Returns the match and the steps used.
pub(crate) fn find_aux<'a>(
    src: &'a [u8],
    pat: &'a [u8],
    init: i64,
    plain: bool,
    find: bool,
    max_steps: u64,
) -> (R<Option<Found<'a>>>, u64) {
    let start = start_offset(init, src.len());
    if start > src.len() {
        return (Ok(None), 0);
    }
    if find && (plain || !has_specials(pat)) {
        let mut steps = 0;
        let r = plain_find(src, pat, start, &mut steps, max_steps).map(|o| {
            o.map(|i| Found {
                start: i,
                end: i + pat.len(),
                caps: Vec::new(),
            })
        });
        return (r, steps);
    }
    let anchor = pat.first() == Some(&b'^');
    let pat = if anchor { &pat[1..] } else { pat };
    let mut m = Matcher::new(src, pat, max_steps);
    let mut s1 = start;
    let r = (|| {
        loop {
            m.reset();
            if let Some(e) = m.do_match(s1, 0)? {
                let caps = if find {
                    m.captures(None)?
                } else {
                    m.captures(Some((s1, e)))?
                };
                return Ok(Some(Found {
                    start: s1,
                    end: e,
                    caps,
                }));
            }
            s1 += 1;
            if s1 > src.len() || anchor {
                return Ok(None);
            }
        }
    })();
    (r, m.steps())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strs(caps: &[Cap<'_>]) -> Vec<String> {
        caps.iter()
            .map(|c| match c {
                Cap::Str(s) => String::from_utf8_lossy(s).into_owned(),
                Cap::Pos(p) => format!("@{p}"),
            })
            .collect()
    }

    fn m(src: &str, pat: &str) -> Option<Vec<String>> {
        let (r, _) = find_aux(src.as_bytes(), pat.as_bytes(), 1, false, false, 1_000_000);
        r.unwrap().map(|f| strs(&f.caps))
    }

    fn f(src: &str, pat: &str, init: i64) -> Option<(usize, usize)> {
        let (r, _) = find_aux(src.as_bytes(), pat.as_bytes(), init, false, true, 1_000_000);
        r.unwrap().map(|f| (f.start + 1, f.end))
    }

    // Expected values are those of Lua 5.4's string.match / string.find (reference manual §6.4.1
    // and the behaviour of lstrlib.c), written down before running the port.
    #[test]
    fn matches_like_lua() {
        assert_eq!(m("hello world", "^(%w+)"), Some(vec!["hello".into()]));
        assert_eq!(
            m("key = value", "(%w+)%s*=%s*(%w+)"),
            Some(vec!["key".into(), "value".into()])
        );
        assert_eq!(
            m("https://api.example.com:8443/x", "^https?://([^/:]+)"),
            Some(vec!["api.example.com".into()])
        );
        assert_eq!(
            m("THE (quick) fox", "%((%a+)%)"),
            Some(vec!["quick".into()])
        );
        assert_eq!(m("f(a(b)c)d", "%b()"), Some(vec!["(a(b)c)".into()]));
        assert_eq!(
            m("THE (quick) fox", "%f[%a]%a+%f[%A]"),
            Some(vec!["THE".into()])
        );
        assert_eq!(m("hello", "()ll()"), Some(vec!["@3".into(), "@5".into()]));
        assert_eq!(m("abcabc", "(abc)%1"), Some(vec!["abc".into()]));
        assert_eq!(m("aaa", "a-b"), None);
        assert_eq!(m("aaab", "a-b"), Some(vec!["aaab".into()]));
        assert_eq!(m("  x", "^%s*$"), None);
        assert_eq!(m("   ", "^%s*$"), Some(vec!["   ".into()]));
        assert_eq!(m("a.b", "%."), Some(vec![".".into()]));
        assert_eq!(m("x]y", "[]]"), Some(vec!["]".into()]));
        assert_eq!(m("x-y", "[a%-]"), Some(vec!["-".into()]));
        assert_eq!(
            m("\x0b", "%s"),
            Some(vec!["\x0b".into()]),
            "C isspace includes \\v"
        );
        assert_eq!(m("abc", "[^a]+"), Some(vec!["bc".into()]));
        assert_eq!(
            m("2024-01-02", "(%d+)-(%d%d)-(%d%d)"),
            Some(vec!["2024".into(), "01".into(), "02".into()])
        );
    }

    #[test]
    fn finds_like_lua() {
        assert_eq!(f("hello", "l", 1), Some((3, 3)));
        assert_eq!(f("hello", "l", -2), Some((4, 4)));
        assert_eq!(f("hello", "xyz", 1), None);
        assert_eq!(f("a.b", ".", 1), Some((1, 1)), "pattern: any char");
        assert_eq!(f("hello", "", 10), None, "init past the end + 1");
        assert_eq!(f("hello", "", 6), Some((6, 5)));
        assert_eq!(f("hello", "^h", 1), Some((1, 1)));
        assert_eq!(f("hello", "^e", 1), None, "anchored");
        let (r, _) = find_aux(b"a.b", b".", 1, true, true, 100);
        assert_eq!(r.unwrap().map(|x| x.start), Some(1), "plain find");
    }

    #[test]
    fn errors_use_lua_wording() {
        let cases = [
            ("%", "malformed pattern (ends with '%')"),
            ("[a", "malformed pattern (missing ']')"),
            ("(a", "unfinished capture"),
            ("a)", "invalid pattern capture"),
            ("%1", "invalid capture index %1"),
            ("%b", "malformed pattern (missing arguments to '%b')"),
            ("%fa", "missing '[' after '%f' in pattern"),
        ];
        for (pat, msg) in cases {
            let (r, _) = find_aux(b"abc", pat.as_bytes(), 1, false, false, 1_000);
            assert_eq!(r.err(), Some(PatError::Msg(msg.into())), "pattern {pat:?}");
        }
        let deep = format!("{}{}", "(".repeat(40), ")".repeat(40));
        let (r, _) = find_aux(b"abc", deep.as_bytes(), 1, false, false, 1_000_000);
        assert_eq!(r.err(), Some(PatError::Msg("too many captures".into())));
        let complex = "a?".repeat(300);
        let subject = "a".repeat(300);
        let (r, _) = find_aux(
            subject.as_bytes(),
            complex.as_bytes(),
            1,
            false,
            false,
            100_000_000,
        );
        assert_eq!(r.err(), Some(PatError::Msg("pattern too complex".into())));
    }

    #[test]
    fn catastrophic_backtracking_stops_at_the_budget() {
        // n^4 work in the C matcher: hours for 100 KB. Here it ends after the budget.
        let src = "a".repeat(100_000);
        let (r, steps) = find_aux(src.as_bytes(), b".-.-.-.-x", 1, false, true, 1_000_000);
        assert_eq!(r.err(), Some(PatError::Steps));
        assert!(steps > 1_000_000 && steps < 1_000_100);
    }
}
