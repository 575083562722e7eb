//! Time as the store keeps it: unix milliseconds, UTC.
//!
//! Callers pass `now` into every method that stamps a row, so tests control time and replicas
//! sharing a database agree on whose clock stamped what. The query views expose the same
//! instants as nanoseconds (the query language's timestamp unit).

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

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
    /// records use. Leniencies seen in feeds: a space or lower-case `t` separator, a missing
    /// offset (read as UTC), a date alone (midnight UTC). Fractions beyond milliseconds are
    /// truncated. `None` for anything else.
    pub fn parse_rfc3339(text: &str) -> Option<Timestamp> {
        let b = text.trim().as_bytes();
        let year = digits(b, 0, 4)?;
        if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
            return None;
        }
        let month = digits(b, 5, 2)?;
        let day = digits(b, 8, 2)?;
        if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
            return None;
        }
        let days = days_from_civil(year, month, day);
        if b.len() == 10 {
            return Some(Timestamp(days * 86_400_000));
        }
        if !matches!(b.get(10), Some(b'T' | b't' | b' ')) {
            return None;
        }
        let hour = digits(b, 11, 2)?;
        if b.get(13) != Some(&b':') {
            return None;
        }
        let minute = digits(b, 14, 2)?;
        let (second, mut i) = if b.get(16) == Some(&b':') {
            (digits(b, 17, 2)?, 19)
        } else {
            (0, 16)
        };
        // 60 is a leap second; it folds into the next minute like most parsers do.
        if hour > 23 || minute > 59 || second > 60 {
            return None;
        }
        let mut millis = 0i64;
        if b.get(i) == Some(&b'.') {
            i += 1;
            let start = i;
            while let Some(d) = b.get(i).filter(|d| d.is_ascii_digit()) {
                if i - start < 3 {
                    millis = millis * 10 + i64::from(d - b'0');
                }
                i += 1;
            }
            if i == start {
                return None;
            }
            for _ in (i - start)..3 {
                millis *= 10;
            }
        }
        let offset_minutes = match b.get(i) {
            None => 0,
            Some(b'Z' | b'z') if i + 1 == b.len() => 0,
            Some(sign @ (b'+' | b'-')) => {
                let oh = digits(b, i + 1, 2)?;
                let om = match b.get(i + 3) {
                    Some(b':') => digits(b, i + 4, 2)?,
                    _ => digits(b, i + 3, 2)?,
                };
                let end = if b.get(i + 3) == Some(&b':') {
                    i + 6
                } else {
                    i + 5
                };
                if end != b.len() || oh > 23 || om > 59 {
                    return None;
                }
                let total = oh * 60 + om;
                if *sign == b'+' { total } else { -total }
            }
            _ => return None,
        };
        let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset_minutes * 60;
        Some(Timestamp(seconds * 1000 + millis))
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

fn digits(b: &[u8], at: usize, len: usize) -> Option<i64> {
    let slice = b.get(at..at + len)?;
    slice.iter().try_fold(0i64, |acc, d| {
        d.is_ascii_digit().then(|| acc * 10 + i64::from(d - b'0'))
    })
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`].
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
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
