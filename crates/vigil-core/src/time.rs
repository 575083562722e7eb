//! RFC 3339 timestamps ⇄ nanoseconds since the Unix epoch, without a date-time crate — the one
//! parser and the civil-date arithmetic every crate uses (OSV `modified`, intel ages, store
//! times, the query language's `from:`/`to:`). Pure: reading the clock is the caller's job.
//! Civil-date arithmetic follows Howard Hinnant's `days_from_civil`; proleptic Gregorian, UTC.

/// Nanoseconds in a second.
pub const NANOS_PER_SEC: i64 = 1_000_000_000;

/// Parses `YYYY-MM-DD[(T|t| )HH:MM:SS[.fraction](Z|z|±HH:MM)]`; `None` when malformed or out of
/// the `i64` nanosecond range.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let (secs, frac) = parse_rfc3339_parts(s, Rfc3339::Strict)?;
    secs.checked_mul(NANOS_PER_SEC)?.checked_add(frac)
}

/// How [`parse_rfc3339_parts`] reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rfc3339 {
    /// RFC 3339 as written (a date alone is midnight UTC).
    Strict,
    /// Also the forms met in feeds and stored text: surrounding whitespace, seconds left out
    /// (`12:00Z`), the offset left out (UTC), `±HHMM` offsets.
    Lenient,
}

/// Parses an RFC 3339 date-time into (seconds since the epoch, nanoseconds `0..1e9`): the
/// one parser behind every crate's timestamps, with no `i64`-nanosecond range limit (the
/// store keeps milliseconds and reads years past 2262).
pub fn parse_rfc3339_parts(s: &str, mode: Rfc3339) -> Option<(i64, i64)> {
    let lenient = mode == Rfc3339::Lenient;
    let b = if lenient { s.trim() } else { s }.as_bytes();
    let num = |from: usize, len: usize| -> Option<i64> {
        let digits = b.get(from..from + len)?;
        digits.iter().try_fold(0i64, |acc, d| {
            d.is_ascii_digit().then(|| acc * 10 + i64::from(d - b'0'))
        })
    };
    let year = num(0, 4)?;
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return None;
    }
    let month = num(5, 2)?;
    let day = num(8, 2)?;
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let days = days_from_civil(year, month, day);
    if b.len() == 10 {
        return Some((days * 86_400, 0));
    }
    if !matches!(b.get(10), Some(b'T' | b't' | b' ')) || b.get(13) != Some(&b':') {
        return None;
    }
    let (h, m) = (num(11, 2)?, num(14, 2)?);
    let (sec, mut i) = match b.get(16) {
        Some(b':') => (num(17, 2)?, 19),
        _ if lenient => (0, 16),
        _ => return None,
    };
    // 60 is a leap second; it folds into the next minute like most parsers do.
    if h > 23 || m > 59 || sec > 60 {
        return None;
    }
    let mut frac = 0i64;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while let Some(d) = b.get(i).filter(|d| d.is_ascii_digit()) {
            if i - start < 9 {
                frac = frac * 10 + i64::from(d - b'0');
            }
            i += 1;
        }
        let n = i - start;
        if n == 0 {
            return None;
        }
        for _ in n..9 {
            frac *= 10;
        }
    }
    let offset = match b.get(i) {
        None if lenient => 0,
        Some(b'Z' | b'z') if b.len() == i + 1 => 0,
        Some(sign @ (b'+' | b'-')) => {
            let colon = b.get(i + 3) == Some(&b':');
            let (minutes_at, end) = if colon {
                (i + 4, i + 6)
            } else {
                (i + 3, i + 5)
            };
            if end != b.len() || !(colon || lenient) {
                return None;
            }
            let (oh, om) = (num(i + 1, 2)?, num(minutes_at, 2)?);
            if oh > 23 || om > 59 {
                return None;
            }
            let off = oh * 3600 + om * 60;
            if *sign == b'-' { -off } else { off }
        }
        _ => return None,
    };
    Some((days * 86_400 + h * 3600 + m * 60 + sec - offset, frac))
}

/// Formats as `YYYY-MM-DDTHH:MM:SS[.fraction]Z`, trailing zeros of the fraction trimmed.
pub fn format_rfc3339(nanos: i64) -> String {
    let secs = nanos.div_euclid(NANOS_PER_SEC);
    let frac = nanos.rem_euclid(NANOS_PER_SEC);
    let days = secs.div_euclid(86_400);
    let tod = secs.rem_euclid(86_400);
    let (y, mo, d) = civil_from_days(days);
    let mut out = format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}",
        tod / 3600,
        tod % 3600 / 60,
        tod % 60
    );
    if frac != 0 {
        let f = format!("{frac:09}");
        out.push('.');
        out.push_str(f.trim_end_matches('0'));
    }
    out.push('Z');
    out
}

fn is_leap(y: i64) -> bool {
    y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
}

/// Days in month `m` (1–12) of year `y`.
pub fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The (year, month, day) of a day count since 1970-01-01; inverse of [`days_from_civil`].
pub fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses() {
        for (s, want) in [
            ("1970-01-01T00:00:00Z", Some(0)),
            ("1970-01-01", Some(0)),
            ("2025-09-08T13:16:00Z", Some(1_757_337_360 * NANOS_PER_SEC)),
            (
                "2025-09-08T15:16:00+02:00",
                Some(1_757_337_360 * NANOS_PER_SEC),
            ),
            ("1969-12-31T23:59:59.5Z", Some(-500_000_000)),
            ("2024-02-29T00:00:00Z", Some(1_709_164_800 * NANOS_PER_SEC)),
            ("2023-02-29T00:00:00Z", None),
            ("2025-13-01T00:00:00Z", None),
            ("2025-09-08T13:16:00", None),
            ("2025-09-08T13:16:00.Z", None),
            ("9999-12-31T23:59:59Z", None),
            ("", None),
            ("é", None),
        ] {
            assert_eq!(parse_rfc3339(s), want, "{s}");
        }
        assert_eq!(format_rfc3339(-500_000_000), "1969-12-31T23:59:59.5Z");
    }

    proptest! {
        #[test]
        fn round_trips(n in -9_000_000_000_000_000_000i64..9_000_000_000_000_000_000i64) {
            prop_assert_eq!(parse_rfc3339(&format_rfc3339(n)), Some(n));
        }

        #[test]
        fn never_panics(s in any::<String>()) {
            let _ = parse_rfc3339(&s);
            let _ = parse_rfc3339_parts(&s, Rfc3339::Lenient);
        }

        /// Leniency only adds forms: whatever the strict reading accepts, the lenient one reads
        /// the same.
        #[test]
        fn lenient_extends_strict(n in -9_000_000_000_000_000_000i64..9_000_000_000_000_000_000i64) {
            let text = format_rfc3339(n);
            prop_assert_eq!(
                parse_rfc3339_parts(&text, Rfc3339::Lenient),
                parse_rfc3339_parts(&text, Rfc3339::Strict)
            );
        }
    }
}
