//! Time as the store keeps it: unix milliseconds, UTC.
//!
//! Callers pass `now` into every method that stamps a row, so tests control time and replicas
//! sharing a database agree on whose clock stamped what. The query views expose the same
//! instants as nanoseconds (the query language's timestamp unit).

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use vigil_core::time::{Rfc3339, civil_from_days, parse_rfc3339_parts};

/// An instant: milliseconds since the unix epoch, UTC. Negative values are before 1970.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The epoch.
    pub const EPOCH: Timestamp = Timestamp(0);

    /// From unix milliseconds.
    pub const fn from_unix_millis(millis: i64) -> Timestamp {
        Timestamp(millis)
    }

    /// Unix milliseconds.
    pub const fn unix_millis(self) -> i64 {
        self.0
    }

    /// Unix nanoseconds (saturating outside ±292 years around 1970).
    pub const fn unix_nanos(self) -> i64 {
        self.0.saturating_mul(1_000_000)
    }

    /// From a system time; times before the epoch or beyond the range saturate.
    pub fn from_system_time(time: SystemTime) -> Timestamp {
        match time.duration_since(UNIX_EPOCH) {
            Ok(after) => Timestamp(i64::try_from(after.as_millis()).unwrap_or(i64::MAX)),
            Err(before) => Timestamp(
                i64::try_from(before.duration().as_millis())
                    .map(|m| -m)
                    .unwrap_or(i64::MIN),
            ),
        }
    }

    /// The system clock, read once. Library code takes `now` from its caller instead.
    pub fn now() -> Timestamp {
        Timestamp::from_system_time(SystemTime::now())
    }

    /// This instant plus `duration` (saturating).
    pub fn saturating_add(self, duration: Duration) -> Timestamp {
        let millis = i64::try_from(duration.as_millis()).unwrap_or(i64::MAX);
        Timestamp(self.0.saturating_add(millis))
    }

    /// This instant minus `duration` (saturating).
    pub fn saturating_sub(self, duration: Duration) -> Timestamp {
        let millis = i64::try_from(duration.as_millis()).unwrap_or(i64::MAX);
        Timestamp(self.0.saturating_sub(millis))
    }

    /// Parses an RFC 3339 date-time (`2024-05-01T12:00:00.123Z`, `…+02:00`), the form OSV
    /// records use, with the leniencies seen in feeds ([`Rfc3339::Lenient`]: a space or
    /// lower-case `t` separator, a missing offset read as UTC, a date alone as midnight UTC).
    /// Fractions beyond milliseconds are truncated. `None` for anything else.
    pub fn parse_rfc3339(text: &str) -> Option<Timestamp> {
        let (secs, nanos) = parse_rfc3339_parts(text, Rfc3339::Lenient)?;
        Some(Timestamp(
            secs.checked_mul(1000)?.checked_add(nanos / 1_000_000)?,
        ))
    }

    /// RFC 3339 in UTC with milliseconds: `2024-05-01T12:00:00.123Z`.
    pub fn to_rfc3339(self) -> String {
        self.to_string()
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let millis = self.0.rem_euclid(1000);
        let seconds = self.0.div_euclid(1000);
        let days = seconds.div_euclid(86_400);
        let secs_of_day = seconds.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        write!(
            f,
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
            secs_of_day / 3600,
            secs_of_day % 3600 / 60,
            secs_of_day % 60
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rfc3339_forms() {
        let cases: &[(&str, Option<i64>)] = &[
            ("1970-01-01T00:00:00Z", Some(0)),
            ("2024-05-01T12:00:00Z", Some(1_714_564_800_000)),
            ("2024-05-01T12:00:00.123456Z", Some(1_714_564_800_123)),
            ("2024-05-01T12:00:00.1Z", Some(1_714_564_800_100)),
            ("2024-05-01T14:00:00+02:00", Some(1_714_564_800_000)),
            ("2024-05-01T10:30:00-0130", Some(1_714_564_800_000)),
            ("2024-05-01 12:00:00", Some(1_714_564_800_000)),
            ("2024-05-01t12:00z", Some(1_714_564_800_000)),
            ("2024-05-01", Some(1_714_521_600_000)),
            ("2024-02-29T00:00:00Z", Some(1_709_164_800_000)),
            ("1969-12-31T23:59:59.999Z", Some(-1)),
            ("2023-02-29T00:00:00Z", None),
            ("2024-13-01T00:00:00Z", None),
            ("2024-05-01T24:00:00Z", None),
            ("2024-05-01T12:00:00.Z", None),
            ("2024-05-01T12:00:00Zjunk", None),
            ("2024-05-01T12:00:00+02:00junk", None),
            ("", None),
            ("not a date", None),
            ("２０２４-05-01", None),
        ];
        for (text, want) in cases {
            assert_eq!(
                Timestamp::parse_rfc3339(text).map(Timestamp::unix_millis),
                *want,
                "{text:?}"
            );
        }
    }

    #[test]
    fn formats_and_round_trips() {
        for millis in [
            0,
            -1,
            1_714_564_800_123,
            253_402_300_799_999,
            -62_135_596_800_000,
        ] {
            let t = Timestamp::from_unix_millis(millis);
            assert_eq!(Timestamp::parse_rfc3339(&t.to_rfc3339()), Some(t), "{t}");
        }
        assert_eq!(
            Timestamp::from_unix_millis(1_714_564_800_123).to_string(),
            "2024-05-01T12:00:00.123Z"
        );
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics(text in "\\PC{0,40}") {
            let _ = Timestamp::parse_rfc3339(&text);
        }

        #[test]
        fn display_round_trips(millis in -62_135_596_800_000i64..253_402_300_799_999) {
            let t = Timestamp::from_unix_millis(millis);
            proptest::prop_assert_eq!(Timestamp::parse_rfc3339(&t.to_string()), Some(t));
        }
    }
}
