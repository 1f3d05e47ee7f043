//! IANA time zones for freeze windows, from the database bundled into the binary (jiff), so a
//! decision never depends on the machine's tzdata.

use jiff::tz::TimeZone;

/// Loads a time zone by IANA name (`UTC` and `""` are UTC, as in Go's `time.LoadLocation`).
/// `Local` is refused: a decision must not depend on the machine it runs on.
pub fn load(name: &str) -> Result<TimeZone, String> {
    match name {
        "" | "UTC" => Ok(TimeZone::UTC),
        "Local" => Err("the Local time zone is not supported; name an IANA zone".into()),
        _ => TimeZone::get(name).map_err(|e| e.to_string()),
    }
}
