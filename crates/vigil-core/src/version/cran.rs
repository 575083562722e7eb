//! CRAN (R package) version ordering.
//!
//! Reference: osv-scalibr's `semantic` package (CRAN comparator), following R's
//! `package_version`: a version is a sequence of non-negative integers separated by `.` or `-`,
//! the two separators weighing the same (`1.0-1` = `1.0.1`). Sequences compare component by
//! component by value, and when one is a prefix of the other the longer is greater
//! (`1.8 < 1.8.0`, `0.01 < 0.1-0`, `0.9 < 0.75`). The empty string is accepted as the empty
//! sequence, below every other version, as the reference does.
//!
//! Numbers may be of any length: digit strings are compared without parsing.
//!
//! Complexity: parsing validates in O(n) and copies the text once; comparing is
//! O(len(a) + len(b)) and allocation-free, as is [`VersionOrder::compare_str`].
//!
//! Deviation: the reference reads each part with Go's `big.Int` parser, which also accepts a
//! leading `+` (`1.+2` = `1.2`). R rejects that, and so does this parser: parts are ASCII
//! digits only.

use std::cmp::Ordering;
use std::fmt;

use super::semver::Digits;
use super::{VersionError, VersionOrder, VersionScheme};

/// A CRAN package version.
#[derive(Clone)]
pub struct CranVersion {
    text: Box<str>,
}

/// Why `text` is not a CRAN version, if it is not.
fn check(text: &str) -> Result<(), VersionError> {
    if text.is_empty() {
        return Ok(());
    }
    for part in text.split(['.', '-']) {
        if part.is_empty() {
            return Err(VersionError::new(
                VersionScheme::Cran,
                text,
                "empty component",
            ));
        }
        if !part.bytes().all(|b| b.is_ascii_digit()) {
            return Err(VersionError::new(
                VersionScheme::Cran,
                text,
                "components must be non-negative integers separated by '.' or '-'",
            ));
        }
    }
    Ok(())
}

/// The numeric components of an already checked version.
fn components(text: &str) -> impl Iterator<Item = Digits<'_>> {
    text.split(['.', '-'])
        .filter(|part| !part.is_empty())
        .map(Digits::new)
}

impl CranVersion {
    /// The text this version was parsed from.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Debug for CranVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("CranVersion").field(&self.text).finish()
    }
}

impl fmt::Display for CranVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Ord for CranVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        components(&self.text).cmp(components(&other.text))
    }
}

impl PartialOrd for CranVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for CranVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for CranVersion {}

impl VersionOrder for CranVersion {
    fn parse(input: &str) -> Result<Self, VersionError> {
        check(input)?;
        Ok(CranVersion { text: input.into() })
    }

    fn compare_str(a: &str, b: &str) -> Result<Ordering, VersionError> {
        check(a)?;
        check(b)?;
        Ok(components(a).cmp(components(b)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::version::semver::tests::check_total_order;
    use proptest::prelude::*;

    fn parse(s: &str) -> CranVersion {
        CranVersion::parse(s).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn orders_case_table() {
        use Ordering::{Equal as E, Greater as G, Less as L};
        let cases = [
            ("1.0-1", "1.0.1", E),
            ("0.01.0", "0.1-0", E),
            ("0.01", "0.1-0", L),
            ("0.9", "0.75", L),
            ("1.8", "1.8.0", L),
            ("0.3.2.0", "0.3.2", G),
            ("2.0", "1", G),
            ("1", "1.0", L),
            ("", "0", L),
            ("", "", E),
            ("12345678901234567890123", "12345678901234567890122", G),
        ];
        for (a, b, want) in cases {
            assert_eq!(parse(a).cmp(&parse(b)), want, "{a} vs {b}");
            assert_eq!(
                CranVersion::compare_str(b, a),
                Ok(want.reverse()),
                "{b} vs {a}"
            );
        }
    }

    #[test]
    fn rejects_non_numeric_parts() {
        for bad in [
            "1.0-beta", "1..2", "1.", "-1", "1.+2", "v1.0", " 1.0", "1.0 ", "1_0", "١.٢",
        ] {
            assert!(CranVersion::parse(bad).is_err(), "{bad:?} accepted");
            assert!(
                CranVersion::compare_str(bad, "1.0").is_err(),
                "{bad:?} compared"
            );
        }
    }

    fn version_strategy() -> impl Strategy<Value = String> {
        let number = prop_oneof![
            Just("0"),
            Just("00"),
            Just("1"),
            Just("01"),
            Just("2"),
            Just("10")
        ];
        prop::collection::vec((number, prop_oneof![Just("."), Just("-")]), 0..5).prop_map(|parts| {
            let mut s = String::new();
            for (i, (n, sep)) in parts.into_iter().enumerate() {
                if i > 0 {
                    s.push_str(sep);
                }
                s.push_str(n);
            }
            s
        })
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in any::<String>(), t in any::<String>()) {
            let (a, b) = (CranVersion::parse(&s), CranVersion::parse(&t));
            if let (Ok(a), Ok(b)) = (&a, &b) {
                prop_assert_eq!(CranVersion::compare_str(&s, &t), Ok(a.cmp(b)));
            } else {
                prop_assert!(CranVersion::compare_str(&s, &t).is_err());
            }
        }

        #[test]
        fn total_order(items in prop::collection::vec(version_strategy(), 1..10)) {
            let parsed: Vec<CranVersion> = items.iter().map(|s| parse(s)).collect();
            check_total_order(&parsed)?;
        }
    }
}
