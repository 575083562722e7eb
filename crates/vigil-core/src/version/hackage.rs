//! Hackage (Haskell) version ordering.
//!
//! Reference: osv-scalibr's `semantic` package (Hackage comparator), following Cabal's
//! `Distribution.Version`: a version is a sequence of non-negative integers separated by `.`,
//! ordered lexicographically by value, a prefix sorting first (`1.0 < 1.0.0 < 1.0.1`,
//! `2.0 > 1.9.9.9`). Numbers may be of any length: digit strings are compared without parsing.
//!
//! Like the reference (which reads Hackage versions with its semver-like parser and rejects
//! any leftover text), one leading `v` is accepted and empty parts are skipped (`1..2` =
//! `1.2`); any other character is an error, so tags such as `1.0-beta` are rejected.
//!
//! Complexity: parsing validates in O(n) and copies the text once; comparing is
//! O(len(a) + len(b)) and allocation-free, as is [`VersionOrder::compare_str`].
//! Deviations from the reference: none.

use std::cmp::Ordering;
use std::fmt;

use super::semver::Digits;
use super::{VersionError, VersionOrder, VersionScheme};

/// A Hackage package version.
#[derive(Clone)]
pub struct HackageVersion {
    text: Box<str>,
}

/// The numeric part of `text` (after an optional `v`), or why there is none.
fn numbers(text: &str) -> Result<&str, VersionError> {
    let numbers = text.strip_prefix('v').unwrap_or(text);
    if numbers.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        Ok(numbers)
    } else {
        Err(VersionError::new(
            VersionScheme::Hackage,
            text,
            "a Hackage version is non-negative integers separated by '.'",
        ))
    }
}

/// The components of a checked numeric part.
fn components(numbers: &str) -> impl Iterator<Item = Digits<'_>> {
    numbers
        .split('.')
        .filter(|part| !part.is_empty())
        .map(Digits::new)
}

impl HackageVersion {
    /// The text this version was parsed from.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    fn components(&self) -> impl Iterator<Item = Digits<'_>> {
        components(self.text.strip_prefix('v').unwrap_or(&self.text))
    }
}

impl fmt::Debug for HackageVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("HackageVersion").field(&self.text).finish()
    }
}

impl fmt::Display for HackageVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Ord for HackageVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        self.components().cmp(other.components())
    }
}

impl PartialOrd for HackageVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for HackageVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for HackageVersion {}

impl VersionOrder for HackageVersion {
    fn parse(input: &str) -> Result<Self, VersionError> {
        numbers(input)?;
        Ok(HackageVersion { text: input.into() })
    }

    fn compare_str(a: &str, b: &str) -> Result<Ordering, VersionError> {
        Ok(components(numbers(a)?).cmp(components(numbers(b)?)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::version::semver::tests::check_total_order;
    use proptest::prelude::*;

    fn parse(s: &str) -> HackageVersion {
        HackageVersion::parse(s).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn orders_case_table() {
        use Ordering::{Equal as E, Greater as G, Less as L};
        let cases = [
            ("0.1.0.0", "0.1.0.0", E),
            ("0.1.0", "0.1.0.0", L),
            ("0.1.0", "0.2.0.0", L),
            ("0.1.0", "0.0.1.0", G),
            ("1.0", "1", G),
            ("1.01", "1.1", E),
            ("v1.2", "1.2", E),
            ("1..2", "1.2", E),
            ("1.10", "1.9.9", G),
            ("", "0", L),
            ("99999999999999999999999", "99999999999999999999998.9", G),
        ];
        for (a, b, want) in cases {
            assert_eq!(parse(a).cmp(&parse(b)), want, "{a} vs {b}");
            assert_eq!(
                HackageVersion::compare_str(b, a),
                Ok(want.reverse()),
                "{b} vs {a}"
            );
        }
    }

    #[test]
    fn rejects_non_numeric_text() {
        for bad in [
            "1.0-beta",
            "1.0a",
            "V1.0",
            "vv1",
            "1,0",
            " 1",
            "1.0+build",
            "١.٢",
        ] {
            assert!(HackageVersion::parse(bad).is_err(), "{bad:?} accepted");
            assert!(
                HackageVersion::compare_str("1.0", bad).is_err(),
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
        (
            prop_oneof![Just(""), Just("v")],
            prop::collection::vec(number, 0..5),
        )
            .prop_map(|(v, numbers)| format!("{v}{}", numbers.join(".")))
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in any::<String>(), t in any::<String>()) {
            let (a, b) = (HackageVersion::parse(&s), HackageVersion::parse(&t));
            if let (Ok(a), Ok(b)) = (&a, &b) {
                prop_assert_eq!(HackageVersion::compare_str(&s, &t), Ok(a.cmp(b)));
            } else {
                prop_assert!(HackageVersion::compare_str(&s, &t).is_err());
            }
        }

        #[test]
        fn total_order(items in prop::collection::vec(version_strategy(), 1..10)) {
            let parsed: Vec<HackageVersion> = items.iter().map(|s| parse(s)).collect();
            check_total_order(&parsed)?;
        }
    }
}
