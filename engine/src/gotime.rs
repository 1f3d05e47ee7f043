//! `GoTime`: a time value that parses and prints exactly as Go's `time.Time` does in JSON.
//!
//! - printed as RFC3339Nano: fraction trimmed of trailing zeros (no `.` when zero), a zero offset as `Z`,
//!   other offsets kept as given;
//! - the zero value prints `0001-01-01T00:00:00Z` (Go writes zero times even under `omitempty`);
//! - parsing is strict RFC3339 with a fraction of any length (digits past nine are dropped).
//!
//! Conversion to UTC happens only where the reference calls `.UTC()`; callers decide.

use chrono::{
    DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Timelike, Utc,
};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct GoTime(DateTime<FixedOffset>);

/// `0001-01-01T00:00:00Z`, Go's zero time.
pub const ZERO_TEXT: &str = "0001-01-01T00:00:00Z";

impl GoTime {
    pub fn zero() -> Self {
        let naive = NaiveDateTime::new(
            NaiveDate::from_ymd_opt(1, 1, 1).unwrap_or_default(),
            NaiveTime::from_hms_opt(0, 0, 0).unwrap_or_default(),
        );
        GoTime(Utc.from_utc_datetime(&naive).fixed_offset())
    }

    /// 1980-01-01T00:00:00Z, the reference's stand-in for a missing `created_at`.
    pub fn epoch_1980() -> Self {
        GoTime::from_unix(315_532_800, 0)
    }

    pub fn is_zero(&self) -> bool {
        *self == GoTime::zero() || self.0.naive_utc() == GoTime::zero().0.naive_utc()
    }

    pub fn from_unix(secs: i64, nanos: u32) -> Self {
        GoTime(
            Utc.timestamp_opt(secs, nanos)
                .single()
                .unwrap_or_default()
                .fixed_offset(),
        )
    }

    pub fn from_datetime(dt: DateTime<FixedOffset>) -> Self {
        GoTime(dt)
    }

    pub fn from_utc(dt: DateTime<Utc>) -> Self {
        GoTime(dt.fixed_offset())
    }

    pub fn datetime(&self) -> DateTime<FixedOffset> {
        self.0
    }

    /// The same instant in UTC (`t.UTC()`).
    pub fn utc(&self) -> Self {
        GoTime(self.0.with_timezone(&Utc).fixed_offset())
    }

    pub fn unix_nanos(&self) -> i128 {
        i128::from(self.0.timestamp()) * 1_000_000_000 + i128::from(self.0.timestamp_subsec_nanos())
    }

    /// `t.Add(d)`; saturates instead of overflowing.
    pub fn add_nanos(&self, nanos: i128) -> Self {
        let total = self.unix_nanos().saturating_add(nanos);
        let secs = total.div_euclid(1_000_000_000) as i64;
        let sub = total.rem_euclid(1_000_000_000) as u32;
        let utc = Utc.timestamp_opt(secs, sub).single().unwrap_or_default();
        GoTime(utc.with_timezone(self.0.offset()))
    }

    /// RFC3339Nano as Go prints it (`time.RFC3339Nano`).
    pub fn rfc3339_nano(&self) -> String {
        self.render(true)
    }

    /// RFC3339 with whole seconds (fraction truncated, not rounded), as Go's `time.RFC3339`.
    pub fn rfc3339(&self) -> String {
        self.render(false)
    }

    fn render(&self, with_fraction: bool) -> String {
        let dt = self.0;
        let mut out = format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            dt.year(),
            dt.month(),
            dt.day(),
            dt.hour(),
            dt.minute(),
            dt.second()
        );
        let nanos = dt.nanosecond() % 1_000_000_000;
        if with_fraction && nanos != 0 {
            let frac = format!("{nanos:09}");
            out.push('.');
            out.push_str(frac.trim_end_matches('0'));
        }
        let offset = dt.offset().local_minus_utc();
        if offset == 0 {
            out.push('Z');
        } else {
            let sign = if offset < 0 { '-' } else { '+' };
            let abs = offset.unsigned_abs();
            out.push_str(&format!("{sign}{:02}:{:02}", abs / 3600, (abs % 3600) / 60));
        }
        out
    }

    /// Strict RFC3339 parsing as Go's `time.Parse(time.RFC3339, s)` (and JSON unmarshalling) does.
    pub fn parse(s: &str) -> Result<Self, TimeParseError> {
        parse_rfc3339(s).ok_or_else(|| TimeParseError::new(s))
    }
}

impl Default for GoTime {
    fn default() -> Self {
        GoTime::zero()
    }
}

impl fmt::Debug for GoTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GoTime({})", self.rfc3339_nano())
    }
}

impl fmt::Display for GoTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.rfc3339_nano())
    }
}

impl PartialOrd for GoTime {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for GoTime {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.unix_nanos().cmp(&other.unix_nanos())
    }
}

/// Go's wording for a time that `time.Time`'s JSON decoding refuses: either
/// `parsing time "x" as "2006-01-02T15:04:05Z07:00": cannot parse "x" as "2006"` or a range error
/// such as `parsing time "2026-13-01T00:00:00Z": month out of range`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("parsing time {quoted}{detail}")]
pub struct TimeParseError {
    quoted: String,
    detail: String,
}

const RFC3339_LAYOUT: &str = "2006-01-02T15:04:05Z07:00";

impl TimeParseError {
    fn new(s: &str) -> Self {
        TimeParseError {
            quoted: time_quote(s),
            detail: go_parse_failure(s),
        }
    }
}

/// Replays Go's `time.Parse(time.RFC3339, s)` element by element to find the error it reports (the
/// first failing element or range, extra text, then the day check), followed by the strict checks
/// `encoding/json` adds for RFC 3339 (two-digit hour, `.` before fractions, zone offset ranges).
fn go_parse_failure(s: &str) -> String {
    let q = time_quote;
    let cannot = |value: &str, elem: &str| {
        format!(
            " as {}: cannot parse {} as {}",
            q(RFC3339_LAYOUT),
            q(value),
            q(elem)
        )
    };
    let range = |what: &str| format!(": {what} out of range");
    let b = s.as_bytes();
    let digit = |v: &[u8], i: usize| v.get(i).is_some_and(u8::is_ascii_digit);
    // getnum: one or two digits; `fixed` demands two.
    let getnum = |v: &[u8], fixed: bool| -> Option<(u32, usize)> {
        if !digit(v, 0) {
            return None;
        }
        if !digit(v, 1) {
            return if fixed {
                None
            } else {
                Some(((v[0] - b'0') as u32, 1))
            };
        }
        Some((((v[0] - b'0') * 10 + (v[1] - b'0')) as u32, 2))
    };
    let mut i = 0;
    let rest = |i: usize| s.get(i..).unwrap_or("");
    // Year.
    if b.len() < 4 || !b[..4].iter().all(u8::is_ascii_digit) {
        return cannot(s, "2006");
    }
    let year: i32 = s[..4].parse().unwrap_or(0);
    i += 4;
    let mut fields = [0u32; 5]; // month, day, hour, minute, second
    // (separator, layout element, two digits required, range name and bounds)
    type Step<'a> = (u8, &'a str, bool, Option<(&'a str, u32, u32)>);
    let steps: [Step; 5] = [
        (b'-', "01", true, Some(("month", 1, 12))),
        (b'-', "02", true, None),
        (b'T', "15", false, Some(("hour", 0, 23))),
        (b':', "04", true, Some(("minute", 0, 59))),
        (b':', "05", true, Some(("second", 0, 59))),
    ];
    for (k, (sep, elem, fixed, limits)) in steps.into_iter().enumerate() {
        if b.get(i) != Some(&sep) {
            return cannot(rest(i), &(sep as char).to_string());
        }
        i += 1;
        let Some((n, used)) = getnum(&b[i..], fixed) else {
            return cannot(rest(i), elem);
        };
        if let Some((what, lo, hi)) = limits
            && (n < lo || n > hi)
        {
            return range(what);
        }
        fields[k] = n;
        i += used;
    }
    // A fraction: `.` or `,` followed by digits.
    let frac_start = i;
    if b.len() >= i + 2 && (b[i] == b'.' || b[i] == b',') && digit(b, i + 1) {
        i += 2;
        while digit(b, i) {
            i += 1;
        }
    }
    // Zone.
    let zone_start = i;
    if b.get(i) == Some(&b'Z') {
        i += 1;
    } else {
        let v = &b[i..];
        if v.len() < 6 || v[3] != b':' {
            return cannot(rest(i), "Z07:00");
        }
        let (Some((hr, _)), Some((mm, _))) = (getnum(&v[1..3], true), getnum(&v[4..6], true))
        else {
            return cannot(rest(i), "Z07:00");
        };
        if mm > 60 {
            return range("time zone offset minute");
        }
        if hr > 24 {
            return range("time zone offset hour");
        }
        if v[0] != b'+' && v[0] != b'-' {
            return cannot(rest(i), "Z07:00");
        }
        i += 6;
    }
    if i < b.len() {
        return format!(": extra text: {}", q(rest(i)));
    }
    let [month, day, ..] = fields;
    if day < 1 || day > days_in(month, year) {
        return range("day");
    }
    // Parse succeeded; the JSON decoder's strict RFC 3339 checks.
    if b.get(12) == Some(&b':') {
        return cannot(&s[11..12], "15");
    }
    if b.get(frac_start) == Some(&b',') {
        return cannot(",", ".");
    }
    if b.get(zone_start) != Some(&b'Z') {
        let zone = &s[zone_start..];
        let num2 = |x: &[u8]| (x[0] - b'0') as u32 * 10 + (x[1] - b'0') as u32;
        let zone = zone.as_bytes();
        if num2(&zone[1..3]) >= 24 {
            return ": timezone hour out of range".to_string();
        }
        if num2(&zone[4..6]) >= 60 {
            return ": timezone minute out of range".to_string();
        }
    }
    // Not reached for inputs `parse_rfc3339` refuses; keep a truthful generic form.
    cannot(s, RFC3339_LAYOUT)
}

/// The time package's own `quote`: like strconv.Quote for printable ASCII, but every byte of a
/// control or non-ASCII character as `\xNN`.
fn time_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c.is_ascii() && !c.is_ascii_control() {
            if c == '"' || c == '\\' {
                out.push('\\');
            }
            out.push(c);
        } else {
            let mut buf = [0u8; 4];
            for byte in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("\\x{byte:02x}"));
            }
        }
    }
    out.push('"');
    out
}

fn days_in(month: u32, year: i32) -> u32 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn parse_rfc3339(s: &str) -> Option<GoTime> {
    let b = s.as_bytes();
    if b.len() < 20 {
        return None;
    }
    let num = |from: usize, n: usize| -> Option<u32> {
        let part = b.get(from..from + n)?;
        if !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(part).ok()?.parse().ok()
    };
    let year = num(0, 4)?;
    if b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (month, day, hour, minute, second) = (
        num(5, 2)?,
        num(8, 2)?,
        num(11, 2)?,
        num(14, 2)?,
        num(17, 2)?,
    );
    let mut i = 19;
    let mut nanos: u32 = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return None;
        }
        let frac = &s[start..i];
        let mut padded: String = frac.chars().take(9).collect();
        while padded.len() < 9 {
            padded.push('0');
        }
        nanos = padded.parse().ok()?;
    }
    let offset_secs: i32 = match &s[i..] {
        "Z" => 0,
        rest if rest.len() == 6
            && (rest.starts_with('+') || rest.starts_with('-'))
            && rest.as_bytes()[3] == b':' =>
        {
            let hh: i32 = rest[1..3].parse().ok()?;
            let mm: i32 = rest[4..6].parse().ok()?;
            if hh > 23 || mm > 59 || !rest[1..3].bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            let v = hh * 3600 + mm * 60;
            if rest.starts_with('-') { -v } else { v }
        }
        _ => return None,
    };
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(year as i32, month, day)?;
    let time = NaiveTime::from_hms_nano_opt(hour, minute, second, nanos)?;
    let offset = FixedOffset::east_opt(offset_secs)?;
    let dt = offset
        .from_local_datetime(&NaiveDateTime::new(date, time))
        .single()?;
    Some(GoTime(dt))
}

impl Serialize for GoTime {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.rfc3339_nano())
    }
}

impl<'de> Deserialize<'de> for GoTime {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        GoTime::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Parses a Go duration string (`1h`, `90m`, `1.5h`, `300ms`, `-2h45m`) into nanoseconds, with Go's
/// `time.ParseDuration` arithmetic: integer parts exact, fractions scaled through a float64 and
/// truncated, the same overflow limits and error texts. Token expiry (and so token ids) depends on
/// it nanosecond for nanosecond.
pub fn parse_go_duration(s: &str) -> Result<i128, String> {
    const LIMIT: u64 = 1 << 63;
    let orig = s;
    let invalid = || format!("time: invalid duration {}", crate::canon::go_quote(orig));
    let mut s = s.as_bytes();
    let mut neg = false;
    if let Some((&c, rest)) = s.split_first()
        && (c == b'-' || c == b'+')
    {
        neg = c == b'-';
        s = rest;
    }
    if s == b"0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(invalid());
    }
    let mut total: u64 = 0;
    while !s.is_empty() {
        if !(s[0] == b'.' || s[0].is_ascii_digit()) {
            return Err(invalid());
        }
        // [0-9]*
        let digits = s.iter().take_while(|c| c.is_ascii_digit()).count();
        let mut v: u64 = 0;
        for &c in &s[..digits] {
            if v > LIMIT / 10 {
                return Err(invalid());
            }
            v = v * 10 + u64::from(c - b'0');
            if v > LIMIT {
                return Err(invalid());
            }
        }
        let pre = digits > 0;
        s = &s[digits..];
        // (\.[0-9]*)?
        let (mut f, mut scale, mut post) = (0u64, 1f64, false);
        if s.first() == Some(&b'.') {
            s = &s[1..];
            let digits = s.iter().take_while(|c| c.is_ascii_digit()).count();
            let mut overflow = false;
            for &c in &s[..digits] {
                if overflow {
                    continue;
                }
                if f > (LIMIT - 1) / 10 {
                    overflow = true;
                    continue;
                }
                let y = f * 10 + u64::from(c - b'0');
                if y > LIMIT {
                    overflow = true;
                    continue;
                }
                f = y;
                scale *= 10.0;
            }
            post = digits > 0;
            s = &s[digits..];
        }
        if !pre && !post {
            return Err(invalid());
        }
        let unit_len = s
            .iter()
            .position(|c| *c == b'.' || c.is_ascii_digit())
            .unwrap_or(s.len());
        if unit_len == 0 {
            return Err(format!(
                "time: missing unit in duration {}",
                crate::canon::go_quote(orig)
            ));
        }
        let unit_bytes = &s[..unit_len];
        s = &s[unit_len..];
        let unit: u64 = match unit_bytes {
            b"ns" => 1,
            // "µs" (U+00B5) and "μs" (U+03BC) in UTF-8.
            b"us" | b"\xc2\xb5s" | b"\xce\xbcs" => 1_000,
            b"ms" => 1_000_000,
            b"s" => 1_000_000_000,
            b"m" => 60_000_000_000,
            b"h" => 3_600_000_000_000,
            _ => {
                return Err(format!(
                    "time: unknown unit {} in duration {}",
                    crate::canon::go_quote(&String::from_utf8_lossy(unit_bytes)),
                    crate::canon::go_quote(orig)
                ));
            }
        };
        if v > LIMIT / unit {
            return Err(invalid());
        }
        v *= unit;
        if f > 0 {
            v += (f as f64 * (unit as f64 / scale)) as u64;
            if v > LIMIT {
                return Err(invalid());
            }
        }
        total += v;
        if total > LIMIT {
            return Err(invalid());
        }
    }
    if neg {
        return Ok(-(total as i128));
    }
    if total > LIMIT - 1 {
        return Err(invalid());
    }
    Ok(total as i128)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_like_go() {
        assert_eq!(GoTime::zero().rfc3339_nano(), ZERO_TEXT);
        assert_eq!(GoTime::epoch_1980().rfc3339_nano(), "1980-01-01T00:00:00Z");
        let t = GoTime::parse("2026-02-05T09:30:00.120+02:00").unwrap();
        assert_eq!(t.rfc3339_nano(), "2026-02-05T09:30:00.12+02:00");
        assert_eq!(t.utc().rfc3339_nano(), "2026-02-05T07:30:00.12Z");
        assert_eq!(
            GoTime::parse("2031-02-03T04:05:06+00:00")
                .unwrap()
                .rfc3339_nano(),
            "2031-02-03T04:05:06Z"
        );
        let t = GoTime::parse("2026-11-21T05:36:33.671190175Z").unwrap();
        assert_eq!(t.rfc3339(), "2026-11-21T05:36:33Z");
        assert_eq!(
            t.add_nanos(3_600_000_000_000).rfc3339_nano(),
            "2026-11-21T06:36:33.671190175Z"
        );
        assert_eq!(
            GoTime::parse("2031-02-03T06:05:06.123456789123+02:00")
                .unwrap()
                .rfc3339_nano(),
            "2031-02-03T06:05:06.123456789+02:00"
        );
    }

    #[test]
    fn rejects_what_go_rejects() {
        for bad in [
            "yesterday",
            "2026-02-05",
            "2026-02-05 09:30:00Z",
            "2026-02-05T09:30:00",
            "2026-13-01T00:00:00Z",
            "2026-02-05T09:30:00.Z",
        ] {
            assert!(GoTime::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            GoTime::parse("tomorrow").unwrap_err().to_string(),
            "parsing time \"tomorrow\" as \"2006-01-02T15:04:05Z07:00\": cannot parse \"tomorrow\" as \"2006\""
        );
    }

    /// Go 1.22's `time.Time.UnmarshalJSON` wording, case by case (time.Parse's element walk, its
    /// range errors, extra text, the day check, then encoding/json's strict RFC 3339 checks).
    #[test]
    fn error_wording_like_go() {
        let cases = [
            ("2026-13-01T00:00:00Z", ": month out of range"),
            ("2026-00-01T00:00:00Z", ": month out of range"),
            ("2026-01-32T00:00:00Z", ": day out of range"),
            ("2026-02-30T00:00:00Z", ": day out of range"),
            ("2026-01-01T24:00:00Z", ": hour out of range"),
            ("2026-01-01T00:60:00Z", ": minute out of range"),
            ("2026-01-01T00:00:60Z", ": second out of range"),
            (
                "2026-01-01T00:00:00+25:00",
                ": time zone offset hour out of range",
            ),
            ("2026-01-01T00:00:00+24:00", ": timezone hour out of range"),
            (
                "2026-01-01T00:00:00+01:60",
                ": timezone minute out of range",
            ),
            ("2026-01-01T00:00:00Zjunk", ": extra text: \"junk\""),
            (
                "2026-01-01T00:00:00,5Z",
                " as \"2006-01-02T15:04:05Z07:00\": cannot parse \",\" as \".\"",
            ),
            (
                "2026-01-01T1:00:00Z",
                " as \"2006-01-02T15:04:05Z07:00\": cannot parse \"1\" as \"15\"",
            ),
            (
                "2026-02-05T09:30:00.Z",
                " as \"2006-01-02T15:04:05Z07:00\": cannot parse \".Z\" as \"Z07:00\"",
            ),
            (
                "2026-02-05T09:30:00",
                " as \"2006-01-02T15:04:05Z07:00\": cannot parse \"\" as \"Z07:00\"",
            ),
            (
                "2026-02-05 09:30:00Z",
                " as \"2006-01-02T15:04:05Z07:00\": cannot parse \" 09:30:00Z\" as \"T\"",
            ),
            (
                "2026-2-05T09:30:00Z",
                " as \"2006-01-02T15:04:05Z07:00\": cannot parse \"2-05T09:30:00Z\" as \"01\"",
            ),
        ];
        for (input, detail) in cases {
            let want = format!("parsing time {}{detail}", time_quote(input));
            assert_eq!(
                GoTime::parse(input).unwrap_err().to_string(),
                want,
                "{input}"
            );
        }
        assert_eq!(time_quote("é\n\"x"), "\"\\xc3\\xa9\\x0a\\\"x\"");
    }

    #[test]
    fn durations_like_go() {
        assert_eq!(parse_go_duration("1h").unwrap(), 3_600_000_000_000);
        assert_eq!(parse_go_duration("1h30m").unwrap(), 5_400_000_000_000);
        assert_eq!(parse_go_duration("1.5h").unwrap(), 5_400_000_000_000);
        assert_eq!(parse_go_duration("200ms").unwrap(), 200_000_000);
        assert_eq!(parse_go_duration("-1h").unwrap(), -3_600_000_000_000);
        assert_eq!(parse_go_duration("0").unwrap(), 0);
        assert_eq!(
            parse_go_duration("60").unwrap_err(),
            "time: missing unit in duration \"60\""
        );
        assert_eq!(
            parse_go_duration("soon").unwrap_err(),
            "time: invalid duration \"soon\""
        );
        assert!(parse_go_duration("1d").is_err());
        // Go's arithmetic: fractions truncate through a float64; µ spellings; a bare "." is invalid.
        assert_eq!(parse_go_duration("1h30m15s").unwrap(), 5_415_000_000_000);
        assert_eq!(parse_go_duration("1ns").unwrap(), 1);
        assert_eq!(parse_go_duration("0.3333333333s").unwrap(), 333_333_333);
        assert_eq!(parse_go_duration("1.0000000005s").unwrap(), 1_000_000_000);
        assert_eq!(parse_go_duration("2\u{b5}s").unwrap(), 2_000);
        assert_eq!(parse_go_duration("2\u{3bc}s").unwrap(), 2_000);
        assert_eq!(parse_go_duration(".5s").unwrap(), 500_000_000);
        assert_eq!(parse_go_duration("+5s").unwrap(), 5_000_000_000);
        assert_eq!(
            parse_go_duration(".s").unwrap_err(),
            "time: invalid duration \".s\""
        );
        assert_eq!(
            parse_go_duration("5x").unwrap_err(),
            "time: unknown unit \"x\" in duration \"5x\""
        );
        assert_eq!(
            parse_go_duration("2562047h47m16.854775807s").unwrap(),
            i64::MAX as i128
        );
        assert!(parse_go_duration("2562047h47m16.854775808s").is_err());
        assert_eq!(
            parse_go_duration("-2562047h47m16.854775808s").unwrap(),
            i64::MIN as i128
        );
    }
}
