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

/// Go's `strconv.ParseInt(s, 0, 64)`: decimal, `0x`, `0o`, `0b`, leading `0` octal, `_` separators.
pub fn parse_int(s: &str) -> Option<i64> {
    let (neg, body) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if body.is_empty() {
        return None;
    }
    let (radix, digits) =
        if let Some(r) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
            (16, r)
        } else if let Some(r) = body.strip_prefix("0o").or_else(|| body.strip_prefix("0O")) {
            (8, r)
        } else if let Some(r) = body.strip_prefix("0b").or_else(|| body.strip_prefix("0B")) {
            (2, r)
        } else if body.len() > 1 && body.starts_with('0') {
            (8, &body[1..])
        } else {
            (10, body)
        };
    if radix == 10 && digits.contains('_') {
        return None;
    }
    let cleaned: String = digits.chars().filter(|&c| c != '_').collect();
    if cleaned.is_empty() {
        return None;
    }
    let magnitude = i128::from_str_radix(&cleaned, radix).ok()?;
    let value = if neg { -magnitude } else { magnitude };
    i64::try_from(value).ok()
}

fn validate(flag: &Flag, value: &str) -> Result<(), String> {
    let ok = match flag.kind {
        Kind::Bool => parse_bool(value).is_some(),
        Kind::Str => true,
        Kind::Int => parse_int(value).is_some(),
        Kind::Duration => gait_engine::gotime::parse_go_duration(value).is_ok(),
    };
    if ok {
        return Ok(());
    }
    Err(if flag.kind == Kind::Bool {
        format!(
            "invalid boolean value {} for -{}: parse error",
            go_q(value),
            flag.name
        )
    } else {
        format!(
            "invalid value {} for flag -{}: parse error",
            go_q(value),
            flag.name
        )
    })
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
        assert_eq!(parse_int("1_000"), None);
        assert_eq!(parse_int("0x1_0"), Some(16));
        assert_eq!(parse_int("1.5"), None);
        assert_eq!(parse_int("99999999999999999999"), None);
    }
}
