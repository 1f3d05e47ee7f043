//! Go's `path.Match` (shell globs where `*` and `?` never cross `/`), used for endpoint path and domain
//! patterns. A malformed pattern never matches, as in the reference (which treats `ErrBadPattern` as
//! no match).

/// True when `name` matches `pattern`; false for malformed patterns.
pub fn path_match(pattern: &str, name: &str) -> bool {
    if !pattern_ok(pattern) {
        return false;
    }
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    matches(&p, &n)
}

fn matches(p: &[char], n: &[char]) -> bool {
    let (mut pi, mut ni) = (0, 0);
    // Backtracking point for the last `*`: (pattern index after it, name index it consumed to).
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() {
            match p[pi] {
                '*' => {
                    star = Some((pi + 1, ni));
                    pi += 1;
                    continue;
                }
                '?' if n[ni] != '/' => {
                    pi += 1;
                    ni += 1;
                    continue;
                }
                '[' => {
                    if let Some((ok, next)) = class(p, pi, n[ni])
                        && ok
                    {
                        pi = next;
                        ni += 1;
                        continue;
                    }
                }
                '\\' if pi + 1 < p.len() && p[pi + 1] == n[ni] => {
                    pi += 2;
                    ni += 1;
                    continue;
                }
                c if c != '?' && c != '[' && c != '\\' && c == n[ni] => {
                    pi += 1;
                    ni += 1;
                    continue;
                }
                _ => {}
            }
        }
        // Mismatch: let the last star absorb one more character, unless that character is `/`.
        match star {
            Some((sp, sn)) if n[sn] != '/' => {
                star = Some((sp, sn + 1));
                pi = sp;
                ni = sn + 1;
            }
            _ => return false,
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

/// Matches one character against the class starting at `p[start] == '['`; returns (matched, index after `]`).
fn class(p: &[char], start: usize, c: char) -> Option<(bool, usize)> {
    let mut i = start + 1;
    let negated = p.get(i) == Some(&'^');
    if negated {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    loop {
        let ch = *p.get(i)?;
        if ch == ']' && !first {
            i += 1;
            break;
        }
        first = false;
        let (lo, after) = escaped(p, i)?;
        i = after;
        let hi = if p.get(i) == Some(&'-') && p.get(i + 1).is_some_and(|&x| x != ']') {
            let (hi, after) = escaped(p, i + 1)?;
            i = after;
            hi
        } else {
            lo
        };
        if lo <= c && c <= hi {
            matched = true;
        }
    }
    Some((matched != negated, i))
}

fn escaped(p: &[char], i: usize) -> Option<(char, usize)> {
    match p.get(i)? {
        '\\' => Some((*p.get(i + 1)?, i + 2)),
        c => Some((*c, i + 1)),
    }
}

/// Go validates the whole pattern: unclosed classes, empty classes and trailing `\` are errors.
fn pattern_ok(pattern: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    while i < p.len() {
        match p[i] {
            '\\' => {
                if i + 1 >= p.len() {
                    return false;
                }
                i += 2;
            }
            '[' => {
                let mut j = i + 1;
                if p.get(j) == Some(&'^') {
                    j += 1;
                }
                let mut first = true;
                loop {
                    match p.get(j) {
                        None => return false,
                        Some(']') if !first => break,
                        Some(']') => return false,
                        Some('\\') => {
                            if j + 1 >= p.len() {
                                return false;
                            }
                            j += 2;
                        }
                        Some('-') if first => return false,
                        Some(_) => j += 1,
                    }
                    first = false;
                }
                i = j + 1;
            }
            _ => i += 1,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_path_match_semantics() {
        assert!(path_match("/etc/*", "/etc/passwd"));
        assert!(!path_match("/etc/*", "/etc/ssl/cert.pem"));
        assert!(path_match("api-?.example.org", "api-7.example.org"));
        assert!(!path_match("api-?.example.org", "api-77.example.org"));
        assert!(path_match("*.example.com", "a.b.example.com"));
        assert!(!path_match("*.example.com", "example.com"));
        assert!(path_match("/srv/[a-c]x", "/srv/bx"));
        assert!(!path_match("/srv/[^a-c]x", "/srv/bx"));
        assert!(path_match("a\\*b", "a*b"));
        assert!(!path_match("a\\*b", "axb"));
        // Malformed patterns never match.
        assert!(!path_match("/srv/[vec", "/srv/[vec"));
        assert!(!path_match("/srv/[vec", "/srv/v"));
        assert!(!path_match("x\\", "x\\"));
        assert!(path_match("*", ""));
        assert!(path_match("a*", "abc"));
        assert!(path_match("*c", "abc"));
        assert!(!path_match("a*", "a/b"));
    }
}
