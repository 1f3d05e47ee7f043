//! Go `flag`-compatible argument parsing (DESIGN invariant 8).
//!
//! Each command declares its flags once as a `&[Flag]` table; the table drives parsing and `--help`.
//! Semantics follow Go's `flag.FlagSet` as the reference uses it:
//! - `-name` and `--name` are the same; `-name=value`; a non-bool flag takes the next argument;
//! - bool flags accept `--name=false` (and Go's other spellings of booleans);
//! - an unknown flag is `flag provided but not defined: -name`;
//! - `--` ends flag parsing;
//! - most commands let flags follow positionals ([`Order::Interspersed`]); `gate eval` and `approve` stop
//!   at the first positional ([`Order::FlagsFirst`]), as the reference does.
//!
//! Parsing is sequential: when it fails, the flags seen before the failure (notably `--json`) still
//! decide how the error is printed, exactly as in the reference.

use std::collections::BTreeMap;

// Int and Duration flags are used by gate/approve commands, which live on other branches for now.
#[allow(dead_code)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Bool,
    Str,
    Int,
    /// A Go duration (`1h`, `90m`, `200ms`).
    Duration,
}

/// One flag: name without dashes, kind, default as text, usage line.
#[derive(Clone, Copy, Debug)]
pub struct Flag {
    pub name: &'static str,
    pub kind: Kind,
    pub default: &'static str,
    pub usage: &'static str,
}

impl Flag {
    pub const fn bool(name: &'static str, usage: &'static str) -> Flag {
        Flag {
            name,
            kind: Kind::Bool,
            default: "false",
            usage,
        }
    }
    pub const fn string(name: &'static str, default: &'static str, usage: &'static str) -> Flag {
        Flag {
            name,
            kind: Kind::Str,
            default,
            usage,
        }
    }
    #[allow(dead_code)]
    pub const fn int(name: &'static str, default: &'static str, usage: &'static str) -> Flag {
        Flag {
            name,
            kind: Kind::Int,
            default,
            usage,
        }
    }
    #[allow(dead_code)]
    pub const fn duration(name: &'static str, default: &'static str, usage: &'static str) -> Flag {
        Flag {
            name,
            kind: Kind::Duration,
            default,
            usage,
        }
    }
}

/// The flags every command accepts.
pub const JSON: Flag = Flag::bool("json", "emit exactly one JSON object on stdout");
pub const EXPLAIN: Flag = Flag::bool("explain", "print what this command does and exit");

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    /// Flags may appear before or after positionals (the reference's `reorderInterspersedFlags`).
    Interspersed,
    /// Parsing stops at the first positional; everything after it is positional.
    FlagsFirst,
}

/// Parsed flag values. Values are stored as text and converted on access; every stored value was
/// already validated against its kind during parsing, so accessors cannot fail.
#[derive(Clone, Debug, Default)]
pub struct Parsed {
    values: BTreeMap<&'static str, String>,
    set: Vec<&'static str>,
    pub positionals: Vec<String>,
    /// `-h`/`--help` was given.
    pub help: bool,
}

impl Parsed {
    pub fn str(&self, name: &str) -> String {
        self.values.get(name).cloned().unwrap_or_default()
    }

    /// The value, or `None` when empty after trimming.
    pub fn opt(&self, name: &str) -> Option<String> {
        let v = self.str(name);
        if v.trim().is_empty() { None } else { Some(v) }
    }

    pub fn bool(&self, name: &str) -> bool {
        self.values
            .get(name)
            .is_some_and(|v| parse_bool(v) == Some(true))
    }

    #[allow(dead_code)]
    pub fn int(&self, name: &str) -> i64 {
        self.values
            .get(name)
            .and_then(|v| parse_int(v))
            .unwrap_or(0)
    }

    /// Duration in nanoseconds.
    #[allow(dead_code)]
    pub fn duration(&self, name: &str) -> i128 {
        self.values
            .get(name)
            .and_then(|v| gait_engine::gotime::parse_go_duration(v).ok())
            .unwrap_or(0)
    }

    /// True when the flag appeared on the command line (even with its default value).
    pub fn is_set(&self, name: &str) -> bool {
        self.set.contains(&name)
    }

    /// Comma-separated values, trimmed, empties dropped.
    pub fn csv(&self, name: &str) -> Vec<String> {
        split_csv(&self.str(name))
    }
}

pub fn split_csv(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(String::from)
        .collect()
}

/// A parse failure, with the flags parsed before it.
#[derive(Debug)]
pub struct FlagError {
    pub message: String,
    pub partial: Parsed,
}

/// Go's `strconv.ParseBool`.
pub fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// Why Go's `strconv.ParseInt` refused a value; Go's `flag` package prints the first as
/// `parse error` and the second as `value out of range`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IntError {
    Syntax,
    Range,
}

/// Go's `strconv.ParseInt(s, 0, 64)`.
pub fn parse_int(s: &str) -> Option<i64> {
    parse_go_int(s).ok()
}

/// Go's `strconv.ParseInt(s, 0, 64)` with its error kinds: an optional sign, then a decimal,
/// `0x`, `0o`, `0b` or leading-`0` octal number, `_` allowed between digits (Go literal syntax).
pub fn parse_go_int(s: &str) -> Result<i64, IntError> {
    let (neg, body) = match s.as_bytes().first() {
        None => return Err(IntError::Syntax),
        Some(b'+') => (false, &s[1..]),
        Some(b'-') => (true, &s[1..]),
        Some(_) => (false, s),
    };
    // A range error from the unsigned parse is a range error here too (Go keeps the max value).
    let magnitude = parse_go_uint(body).or_else(|e| match e {
        IntError::Range => Ok(u64::MAX),
        IntError::Syntax => Err(e),
    })?;
    const CUTOFF: u64 = 1 << 63;
    match (neg, magnitude) {
        (false, m) if m >= CUTOFF => Err(IntError::Range),
        (true, m) if m > CUTOFF => Err(IntError::Range),
        (false, m) => Ok(m as i64),
        (true, m) => Ok((m as i64).wrapping_neg()),
    }
}

/// Go's `strconv.ParseUint(s, 0, 64)`: syntax is checked digit by digit and an overflow is
/// reported where it happens, as Go does (so `99999999999999999999x` is out of range).
fn parse_go_uint(s0: &str) -> Result<u64, IntError> {
    let bytes = s0.as_bytes();
    if bytes.is_empty() {
        return Err(IntError::Syntax);
    }
    let lower = |c: u8| c | 0x20;
    let (base, digits): (u64, &[u8]) = if bytes[0] == b'0' {
        match bytes.get(1).map(|&c| lower(c)) {
            Some(b'b') if bytes.len() >= 3 => (2, &bytes[2..]),
            Some(b'o') if bytes.len() >= 3 => (8, &bytes[2..]),
            Some(b'x') if bytes.len() >= 3 => (16, &bytes[2..]),
            _ => (8, &bytes[1..]),
        }
    } else {
        (10, bytes)
    };
    let cutoff = u64::MAX / base + 1;
    let mut underscores = false;
    let mut n: u64 = 0;
    for &c in digits {
        let d = match c {
            b'_' => {
                underscores = true;
                continue;
            }
            b'0'..=b'9' => u64::from(c - b'0'),
            _ if lower(c).is_ascii_lowercase() => u64::from(lower(c) - b'a' + 10),
            _ => return Err(IntError::Syntax),
        };
        if d >= base {
            return Err(IntError::Syntax);
        }
        if n >= cutoff {
            return Err(IntError::Range);
        }
        n = (n * base).checked_add(d).ok_or(IntError::Range)?;
    }
    if underscores && !underscore_ok(s0) {
        return Err(IntError::Syntax);
    }
    Ok(n)
}

/// Go's `strconv.underscoreOK`: each `_` sits between digits (or after a base prefix).
fn underscore_ok(s: &str) -> bool {
    let s = s.strip_prefix(['+', '-']).unwrap_or(s).as_bytes();
    let lower = |c: u8| c | 0x20;
    // The last character class seen: '^' start, '0' digit or base prefix, '_', '!' other.
    let mut saw = b'^';
    let mut i = 0;
    let mut hex = false;
    if s.len() >= 2 && s[0] == b'0' && matches!(lower(s[1]), b'b' | b'o' | b'x') {
        i = 2;
        saw = b'0';
        hex = lower(s[1]) == b'x';
    }
    while i < s.len() {
        let c = s[i];
        i += 1;
        if c.is_ascii_digit() || (hex && (b'a'..=b'f').contains(&lower(c))) {
            saw = b'0';
            continue;
        }
        if c == b'_' {
            if saw != b'0' {
                return false;
            }
            saw = b'_';
            continue;
        }
        if saw == b'_' {
            return false;
        }
        saw = b'!';
    }
    saw != b'_'
}

fn validate(flag: &Flag, value: &str) -> Result<(), String> {
    // Go's flag package: `parse error` for syntax, `value out of range` for an int that overflows.
    let why = match flag.kind {
        Kind::Str => return Ok(()),
        Kind::Bool => {
            if parse_bool(value).is_some() {
                return Ok(());
            }
            return Err(format!(
                "invalid boolean value {} for -{}: parse error",
                go_q(value),
                flag.name
            ));
        }
        Kind::Int => match parse_go_int(value) {
            Ok(_) => return Ok(()),
            Err(IntError::Syntax) => "parse error",
            Err(IntError::Range) => "value out of range",
        },
        Kind::Duration => match gait_engine::gotime::parse_go_duration(value) {
            Ok(_) => return Ok(()),
            Err(_) => "parse error",
        },
    };
    Err(format!(
        "invalid value {} for flag -{}: {why}",
        go_q(value),
        flag.name
    ))
}

fn go_q(s: &str) -> String {
    gait_engine::canon::go_quote(s)
}

/// Parses `args` (the arguments after the command path) against `flags` (plus `--json`/`--explain`).
pub fn parse(flags: &[Flag], args: &[String], order: Order) -> Result<Parsed, FlagError> {
    let mut parsed = Parsed::default();
    for f in flags.iter().chain([&JSON, &EXPLAIN]) {
        parsed
            .values
            .entry(f.name)
            .or_insert_with(|| f.default.to_string());
    }
    let lookup = |name: &str| {
        flags
            .iter()
            .chain([&JSON, &EXPLAIN])
            .find(|f| f.name == name)
    };
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        if arg == "--" {
            parsed.positionals.extend(args[i..].iter().cloned());
            break;
        }
        if arg.len() < 2 || !arg.starts_with('-') {
            parsed.positionals.push(arg.clone());
            if order == Order::FlagsFirst {
                parsed.positionals.extend(args[i..].iter().cloned());
                break;
            }
            continue;
        }
        let body = arg.strip_prefix("--").unwrap_or(&arg[1..]);
        if body.is_empty() || body.starts_with('-') || body.starts_with('=') {
            return Err(FlagError {
                message: format!("bad flag syntax: {arg}"),
                partial: parsed,
            });
        }
        let (name, inline) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (body, None),
        };
        let Some(flag) = lookup(name) else {
            if name == "h" || name == "help" {
                parsed.help = true;
                continue;
            }
            return Err(FlagError {
                message: format!("flag provided but not defined: -{name}"),
                partial: parsed,
            });
        };
        let value = match (flag.kind, inline) {
            (_, Some(v)) => v,
            (Kind::Bool, None) => "true".to_string(),
            (_, None) => {
                if i >= args.len() {
                    return Err(FlagError {
                        message: format!("flag needs an argument: -{name}"),
                        partial: parsed,
                    });
                }
                i += 1;
                args[i - 1].clone()
            }
        };
        if let Err(message) = validate(flag, &value) {
            return Err(FlagError {
                message,
                partial: parsed,
            });
        }
        parsed.values.insert(flag.name, value);
        if !parsed.set.contains(&flag.name) {
            parsed.set.push(flag.name);
        }
    }
    Ok(parsed)
}

/// Usage text generated from the flag table, in Go's `PrintDefaults` layout.
pub fn usage(command: &str, synopsis: &str, summary: &str, flags: &[Flag]) -> String {
    let mut out = format!("Usage: gait {command} {synopsis}\n\n{summary}\n\nFlags:\n");
    let mut all: Vec<&Flag> = flags.iter().chain([&JSON, &EXPLAIN]).collect();
    all.sort_by_key(|f| f.name);
    for f in all {
        let kind = match f.kind {
            Kind::Bool => "",
            Kind::Str => " string",
            Kind::Int => " int",
            Kind::Duration => " duration",
        };
        out.push_str(&format!("  --{}{kind}\n    \t{}", f.name, f.usage));
        let show_default = match f.kind {
            Kind::Bool => f.default == "true",
            Kind::Int => f.default != "0",
            _ => !f.default.is_empty(),
        };
        if show_default {
            out.push_str(&format!(
                " (default {})",
                if f.kind == Kind::Str {
                    go_q(f.default)
                } else {
                    f.default.to_string()
                }
            ));
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const FLAGS: &[Flag] = &[
        Flag::string("policy", "", "policy file"),
        Flag::bool("simulate", "non-enforcing"),
        Flag::int("max-ops", "0", "max ops"),
        Flag::duration("ttl", "1h", "ttl"),
    ];

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn go_spellings() {
        let p = parse(
            FLAGS,
            &args(&[
                "-policy",
                "p.yaml",
                "--simulate=false",
                "--max-ops=0x10",
                "-ttl",
                "90m",
                "x",
            ]),
            Order::Interspersed,
        )
        .unwrap();
        assert_eq!(p.str("policy"), "p.yaml");
        assert!(!p.bool("simulate"));
        assert!(p.is_set("simulate"));
        assert_eq!(p.int("max-ops"), 16);
        assert_eq!(p.duration("ttl"), 90 * 60 * 1_000_000_000);
        assert_eq!(p.positionals, vec!["x"]);
    }

    #[test]
    fn interspersed_vs_flags_first() {
        let a = args(&["run_demo", "--json"]);
        assert!(parse(FLAGS, &a, Order::Interspersed).unwrap().bool("json"));
        let p = parse(FLAGS, &a, Order::FlagsFirst).unwrap();
        assert!(!p.bool("json"));
        assert_eq!(p.positionals, vec!["run_demo", "--json"]);
    }

    #[test]
    fn errors_match_go() {
        let e = parse(FLAGS, &args(&["--json", "--bogus"]), Order::Interspersed).unwrap_err();
        assert_eq!(e.message, "flag provided but not defined: -bogus");
        assert!(e.partial.bool("json"));
        let e = parse(FLAGS, &args(&["--bogus", "--json"]), Order::Interspersed).unwrap_err();
        assert!(!e.partial.bool("json"));
        assert_eq!(
            parse(FLAGS, &args(&["--max-ops", "two"]), Order::Interspersed)
                .unwrap_err()
                .message,
            "invalid value \"two\" for flag -max-ops: parse error"
        );
        // strconv.ParseInt range errors (Go's flag package: errRange).
        for v in [
            "9223372036854775808",
            "-9223372036854775809",
            "0x8000000000000000",
            "99999999999999999999x",
        ] {
            assert_eq!(
                parse(FLAGS, &args(&["--max-ops", v]), Order::Interspersed)
                    .unwrap_err()
                    .message,
                format!("invalid value \"{v}\" for flag -max-ops: value out of range")
            );
        }
        assert_eq!(
            parse(FLAGS, &args(&["--simulate=maybe"]), Order::Interspersed)
                .unwrap_err()
                .message,
            "invalid boolean value \"maybe\" for -simulate: parse error"
        );
        assert_eq!(
            parse(FLAGS, &args(&["--policy"]), Order::Interspersed)
                .unwrap_err()
                .message,
            "flag needs an argument: -policy"
        );
        assert_eq!(
            parse(FLAGS, &args(&["---x"]), Order::Interspersed)
                .unwrap_err()
                .message,
            "bad flag syntax: ---x"
        );
    }

    #[test]
    fn value_flags_take_dash_values_and_double_dash_ends() {
        let p = parse(
            FLAGS,
            &args(&["--policy", "-weird", "--", "--json"]),
            Order::Interspersed,
        )
        .unwrap();
        assert_eq!(p.str("policy"), "-weird");
        assert_eq!(p.positionals, vec!["--json"]);
        assert!(!p.bool("json"));
    }

    #[test]
    fn help_is_recognised() {
        assert!(
            parse(FLAGS, &args(&["-h"]), Order::Interspersed)
                .unwrap()
                .help
        );
        assert!(
            parse(FLAGS, &args(&["--help"]), Order::Interspersed)
                .unwrap()
                .help
        );
    }

    #[test]
    fn go_int_forms() {
        assert_eq!(parse_int("10"), Some(10));
        assert_eq!(parse_int("-1"), Some(-1));
        assert_eq!(parse_int("010"), Some(8));
        assert_eq!(parse_int("0b101"), Some(5));
        // Base 0 takes Go literal syntax, decimal `1_000` included; `_` only between digits.
        assert_eq!(parse_int("1_000"), Some(1000));
        assert_eq!(parse_int("0x1_0"), Some(16));
        assert_eq!(parse_int("0x_1"), Some(1));
        assert_eq!(parse_int("0_7"), Some(7));
        for bad in [
            "1__0", "_1", "1_", "0x", "08", "--5", "1.5", "", "+", "0x1g",
        ] {
            assert_eq!(parse_go_int(bad), Err(IntError::Syntax), "{bad:?}");
        }
        assert_eq!(parse_int("+5"), Some(5));
        assert_eq!(parse_int("0"), Some(0));
        assert_eq!(parse_int("9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_int("-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_int("-0x8000000000000000"), Some(i64::MIN));
        for big in [
            "99999999999999999999",
            "9223372036854775808",
            "-9223372036854775809",
            "18446744073709551616",
        ] {
            assert_eq!(parse_go_int(big), Err(IntError::Range), "{big:?}");
        }
        // Go reports an overflow where it happens, before a later bad digit.
        assert_eq!(parse_go_int("99999999999999999999x"), Err(IntError::Range));
        assert_eq!(parse_go_int("9x"), Err(IntError::Syntax));
    }
}
