//! Instants as intel needs them: ordering OSV `modified` stamps (RFC 3339 text), stamping
//! imports, and printing how old a source is.
//!
//! The core keeps timestamps as text and has no clock; this crate owns the clock
//! ([`Timestamp::now`]) because it records when feeds were imported and synced.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// An instant: seconds since 1970-01-01T00:00:00Z and nanoseconds, UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Timestamp {
    seconds: i64,
    nanos: u32,
}

impl Timestamp {
    /// The instant `seconds` after the Unix epoch.
    pub fn from_unix(seconds: i64) -> Timestamp {
        Timestamp { seconds, nanos: 0 }
    }

    /// Now, by the system clock (the epoch if the clock is before it).
    pub fn now() -> Timestamp {
        match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(d) => Timestamp {
                seconds: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
                nanos: d.subsec_nanos(),
            },
            Err(_) => Timestamp::from_unix(0),
        }
    }

    /// Seconds since the Unix epoch.
    pub fn unix_seconds(self) -> i64 {
        self.seconds
    }

    /// Parses `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` (`t`, `z` and a space separator
    /// accepted). `None` for anything else: callers treat an unparseable stamp as "unknown",
    /// which orders before every known one.
    pub fn parse_rfc3339(text: &str) -> Option<Timestamp> {
        let nanos = vigil_core::time::parse_rfc3339(text.trim())?;
        let per_sec = vigil_core::time::NANOS_PER_SEC;
        Some(Timestamp {
            seconds: nanos.div_euclid(per_sec),
            nanos: u32::try_from(nanos.rem_euclid(per_sec)).ok()?,
        })
    }

    /// RFC 3339 in UTC with second precision (`2025-09-16T01:14:51Z`).
    pub fn to_rfc3339(self) -> String {
        let days = self.seconds.div_euclid(86_400);
        let secs = self.seconds.rem_euclid(86_400);
        let (year, month, day) = vigil_core::time::civil_from_days(days);
        format!(
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
            secs / 3_600,
            secs % 3_600 / 60,
            secs % 60
        )
    }

    /// Whole seconds from `self` to `later` (negative when `later` is earlier).
    pub fn seconds_until(self, later: Timestamp) -> i64 {
        later.seconds.saturating_sub(self.seconds)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

/// A compact age for humans: `45s`, `12m`, `3h 5m`, `2d 4h`.
pub fn format_age(seconds: i64) -> String {
    let s = seconds.max(0);
    match s {
        0..60 => format!("{s}s"),
        60..3_600 => format!("{}m", s / 60),
        3_600..86_400 => format!("{}h {}m", s / 3_600, s % 3_600 / 60),
        _ => format!("{}d {}h", s / 86_400, s % 86_400 / 3_600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_orders_and_formats() {
        let ordered = [
            "1969-12-31T23:59:59Z",
            "1970-01-01T00:00:00Z",
            "2024-02-29T12:00:00+01:00",
            "2024-02-29T11:30:00Z",
            "2025-09-15T23:42:50Z",
            "2025-09-15T23:42:50.000000001Z",
            "2025-09-16T00:34:25.64566463Z",
            "2025-09-16t01:14:51z",
            "2025-09-16T03:14:52+02:00",
        ];
        let parsed: Vec<Timestamp> = ordered
            .iter()
            .map(|t| Timestamp::parse_rfc3339(t).unwrap_or_else(|| panic!("{t}")))
            .collect();
        assert!(parsed.windows(2).all(|w| w[0] < w[1]), "{parsed:?}");
        // A date alone is midnight UTC.
        assert_eq!(
            Timestamp::parse_rfc3339("2025-09-16").map(Timestamp::unix_seconds),
            Some(1_757_980_800)
        );
        for bad in [
            "",
            "2025-13-01T00:00:00Z",
            "2025-09-16T00:00:00",
            "2025-09-16T00:00:00.Z",
            "2025-09-16T00:00:00Zjunk",
        ] {
            assert_eq!(Timestamp::parse_rfc3339(bad), None, "{bad}");
        }
        for text in [
            "1970-01-01T00:00:00Z",
            "2000-02-29T23:59:59Z",
            "2025-09-16T01:14:51Z",
            "1900-03-01T00:00:00Z",
        ] {
            let t = Timestamp::parse_rfc3339(text).unwrap();
            assert_eq!(t.to_rfc3339(), text);
        }
    }

    #[test]
    fn ages_read_well() {
        let cases = [
            (-5, "0s"),
            (59, "59s"),
            (61, "1m"),
            (3_660, "1h 1m"),
            (90_000, "1d 1h"),
        ];
        for (secs, want) in cases {
            assert_eq!(format_age(secs), want);
        }
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics(text in "\\PC{0,40}") {
            let _ = Timestamp::parse_rfc3339(&text);
        }

        #[test]
        // The shared parser works in i64 nanoseconds: years 1678–2261.
        fn format_round_trips(seconds in -9_200_000_000i64..9_200_000_000i64) {
            let t = Timestamp::from_unix(seconds);
            proptest::prop_assert_eq!(Timestamp::parse_rfc3339(&t.to_rfc3339()), Some(t));
        }
    }
}
