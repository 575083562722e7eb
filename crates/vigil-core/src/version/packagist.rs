//! Packagist (Composer) version ordering.
//!
//! Reference: PHP's `version_compare`, which Composer's `Comparator` and constraints use, applied
//! as osv.dev and osv-scalibr apply it to OSV's Packagist advisories: on the version with one
//! leading `v`/`V` removed, after the canonicalization the brief and osv-scalibr describe.
//! Rules in brief:
//!
//! - Surrounding whitespace and one leading `v` or `V` are dropped (as Composer's
//!   `VersionParser::normalize` does).
//! - Canonicalization: `-`, `_` and `+` become `.`, and a `.` is inserted at every digit /
//!   non-digit transition (`1.0rc1` → `1.0.rc.1`). The result is split at `.` into components;
//!   an empty field is an empty component.
//! - A component of digits is a number, compared by value (any length). Any other component is
//!   a *special form*, weighed by its prefix, case-sensitively: `dev` 0 < `alpha` = `a` 1 <
//!   `beta` = `b` 2 < `RC` = `rc` 3 < `#` 4 < `pl` = `p` 5, anything else -1 (as in PHP;
//!   osv-scalibr gives it 0, like `dev`, and its data does not tell the two apart). A number
//!   against a special form weighs as `#`.
//! - Components compare in order. When one version runs out, the other is greater if its next
//!   component is a number; otherwise its rest is weighed against `#` (so `1.0 < 1.0.0`,
//!   `1.0 < 1.0pl1`, `1.0rc1 < 1.0`).
//! - The empty version sorts below every other one.
//!
//! **Deliberate deviations.**
//! - *No Composer normalization beyond the `v` and whitespace.* `normalize` pads to four
//!   numeric parts and lower-cases stability words, but osv-scalibr's data (generated with PHP's
//!   `version_compare` on the raw versions) requires `1.0 < 1.0.0`, `1.9.0-BETA.1 <
//!   1.9.0-ALPHA.2` (upper-case words are unknown, weight -1) and `5.1.0-stable <
//!   5.1.0-beta2`, which normalized versions would order otherwise. Composer's dev branches
//!   (`dev-foo`) are not comparable at all in Composer; here they are ordinary versions
//!   (`dev-foo < 1.0`, as in the data). Nothing is ever rejected: parsing never fails.
//! - *A total order.* `version_compare` weighs a number as `#` but a missing component below
//!   any number, so `1.2.3.# = 1.2.3`, `1.2.3.# = 1.2.3.1` and `1.2.3 < 1.2.3.1`: not
//!   transitive, and a non-total `Ord` can make `sort` panic. Here a component starting with
//!   `#` weighs exactly as a missing component does (between `RC` and every number), so
//!   `1.2.3.# = 1.2.3 < 1.2.3.1`. Only `#` components (which PHP itself would have turned into
//!   separators) are affected; one conformance pair (`1.2.3.# = 1.2.3.1`) encodes the other
//!   answer and is expected to fail.
//! - Numbers compare by value at any length; PHP's `strtol` saturates at `i64::MAX`, the data
//!   requires exact comparison.
//! - PHP turns every other non-alphanumeric character into `.`; osv-scalibr's canonicalization,
//!   followed here because its data tests it, keeps them inside components (`1.2.3.#`).
//!
//! Complexity: comparing walks both strings once, O(len(a) + len(b)), without allocating,
//! whether from `compare_str` or from parsed values (which keep only the trimmed text).

use std::cmp::Ordering;

use super::{VersionError, VersionOrder};

/// A Packagist version.
#[derive(Clone, Debug)]
pub struct PackagistVersion {
    text: Box<str>,
    /// Byte range of the compared body (without whitespace and `v`).
    body: (usize, usize),
}

impl PackagistVersion {
    /// Any string is a version; this never fails.
    pub fn new(input: &str) -> PackagistVersion {
        let body = body(input);
        let start = (body.as_ptr() as usize).saturating_sub(input.as_ptr() as usize);
        PackagistVersion {
            text: input.into(),
            body: (start, start + body.len()),
        }
    }

    /// The version as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    fn body(&self) -> &str {
        self.text.get(self.body.0..self.body.1).unwrap_or("")
    }
}

/// The part of `input` that is compared.
fn body(input: &str) -> &str {
    let trimmed = input.trim();
    trimmed.strip_prefix(['v', 'V']).unwrap_or(trimmed)
}

/// A canonical component's place in the order: weights below `#`, then the end of a version
/// (and `#`), then numbers, then `pl`/`p`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Rank<'a> {
    /// A special form weighing -1 (unknown), 0 (`dev`), 1, 2 or 3; stored as weight + 1.
    Low(u8),
    /// The end of a version, or a special form starting with `#`.
    End,
    /// Digits without leading zeros; compared by length, then bytes.
    Number(Digits<'a>),
    /// `pl`, `p` and anything else starting with `p`.
    Patch,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Digits<'a>(&'a str);

impl Ord for Digits<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0
            .len()
            .cmp(&other.0.len())
            .then_with(|| self.0.cmp(other.0))
    }
}

impl PartialOrd for Digits<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

fn rank(component: Option<&str>) -> Rank<'_> {
    let Some(component) = component else {
        return Rank::End;
    };
    if component.bytes().next().is_some_and(|c| c.is_ascii_digit()) {
        return Rank::Number(Digits(component.trim_start_matches('0')));
    }
    let weight = if component.starts_with("dev") {
        1
    } else if component.starts_with('a') {
        2
    } else if component.starts_with('b') {
        3
    } else if component.starts_with("RC") || component.starts_with("rc") {
        4
    } else if component.starts_with('#') {
        return Rank::End;
    } else if component.starts_with('p') {
        return Rank::Patch;
    } else {
        0
    };
    Rank::Low(weight)
}

fn is_separator(c: u8) -> bool {
    matches!(c, b'.' | b'-' | b'_' | b'+')
}

/// The canonical components of a version body, borrowed from it.
struct Components<'a> {
    text: &'a str,
    pos: usize,
    /// At the start of a `.`-separated field (the start of the text or just after a separator).
    field_start: bool,
    done: bool,
}

impl<'a> Components<'a> {
    fn new(text: &'a str) -> Components<'a> {
        Components {
            text,
            pos: 0,
            field_start: true,
            done: false,
        }
    }
}

impl<'a> Iterator for Components<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let bytes = self.text.as_bytes();
        loop {
            if self.done {
                return None;
            }
            let Some(&first) = bytes.get(self.pos) else {
                self.done = true;
                return self.field_start.then_some("");
            };
            if is_separator(first) {
                self.pos += 1;
                if self.field_start {
                    return Some("");
                }
                self.field_start = true;
                continue;
            }
            let digit = first.is_ascii_digit();
            let start = self.pos;
            let end = bytes
                .iter()
                .skip(start)
                .position(|&c| is_separator(c) || c.is_ascii_digit() != digit)
                .map_or(bytes.len(), |p| start + p);
            self.pos = end;
            self.field_start = false;
            // Runs end at ASCII bytes or at the end, so they are character boundaries.
            return Some(self.text.get(start..end).unwrap_or(""));
        }
    }
}

fn compare(a: &str, b: &str) -> Ordering {
    match (a.is_empty(), b.is_empty()) {
        (true, true) => return Ordering::Equal,
        (true, false) => return Ordering::Less,
        (false, true) => return Ordering::Greater,
        (false, false) => {}
    }
    let (mut xs, mut ys) = (Components::new(a), Components::new(b));
    loop {
        let (x, y) = (xs.next(), ys.next());
        if x.is_none() && y.is_none() {
            return Ordering::Equal;
        }
        let order = rank(x).cmp(&rank(y));
        if order.is_ne() {
            return order;
        }
    }
}

impl Ord for PackagistVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        compare(self.body(), other.body())
    }
}

impl PartialOrd for PackagistVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for PackagistVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for PackagistVersion {}

impl VersionOrder for PackagistVersion {
    /// Never fails: every string is a Packagist version.
    fn parse(input: &str) -> Result<Self, VersionError> {
        Ok(PackagistVersion::new(input))
    }

    fn compare_str(a: &str, b: &str) -> Result<Ordering, VersionError> {
        Ok(compare(body(a), body(b)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn v(s: &str) -> PackagistVersion {
        PackagistVersion::new(s)
    }

    #[test]
    fn splits_like_the_canonicalization() {
        let cases: [(&str, &[&str]); 8] = [
            ("1.0rc1", &["1", "0", "rc", "1"]),
            ("1.25.0-beta2.1", &["1", "25", "0", "beta", "2", "1"]),
            ("1..2", &["1", "", "2"]),
            ("1.", &["1", ""]),
            (".1", &["", "1"]),
            ("", &[""]),
            ("1.2.3.#.p3", &["1", "2", "3", "#", "p", "3"]),
            ("4.3-2RC1_x+y", &["4", "3", "2", "RC", "1", "x", "y"]),
        ];
        for (input, want) in cases {
            assert_eq!(Components::new(input).collect::<Vec<_>>(), want, "{input}");
        }
    }

    #[test]
    fn orders_like_version_compare() {
        use Ordering::{Equal, Greater, Less};
        let cases = [
            ("1", "2", Less),
            ("10", "2", Greater),
            ("1.0", "1.1", Less),
            ("1.2", "1.0.1", Greater),
            ("1.0-dev", "1.0a1", Less),
            ("1.0a1", "1.0b1", Less),
            ("1.0b1", "1.0RC1", Less),
            ("1.0RC1", "1.0rc1", Equal),
            ("1.0rc1", "1.0", Less),
            ("1.0", "1.0pl1", Less),
            ("1.0.0", "1.0", Greater),
            ("1.0.0rc2", "1.0.0.rc2", Equal),
            ("4.3-2RC1", "4.3-2RC2", Less),
            ("4.3-2", "4.3-2beta1", Greater),
            ("v1.0pl1", "1.0pl1", Equal),
            ("V1.0.0", "v1.0.0", Equal),
            ("V1.0.0", "1.2.3", Less),
            ("dev-foo", "1.26.0", Less),
            ("1.25.0-beta2.1", "1.25.0-b.2.1", Equal),
            ("1.25.0beta2.1", "1.25.0-b2.1", Equal),
            ("1.9.0-BETA.1", "1.9.0-ALPHA.1", Equal),
            ("1.9.0-BETA.1", "1.9.0-dev", Less),
            ("5.1.0-stable", "5.1.0-beta2", Less),
            ("1.0.0+bedrock-1.17.10", "1.1.0+bedrock-1.17.10", Less),
            ("1.2.3.#", "1.2.3", Equal),
            ("1.2.3.#.1", "1.2.3", Greater),
            ("1.2.3.#.p3", "1.2.3", Greater),
            ("1.2.3.#.beta", "1.2.3", Less),
            // Deliberate deviation (see the module doc): PHP says Equal.
            ("1.2.3.#", "1.2.3.1", Less),
            ("", "dev", Less),
            ("", "foo", Less),
            ("v", "", Equal),
            (" 1.0 ", "1.0", Equal),
            (
                "999999999999999999999999999991",
                "999999999999999999999999999999",
                Less,
            ),
        ];
        for (a, b, want) in cases {
            assert_eq!(v(a).cmp(&v(b)), want, "{a} vs {b}");
            assert_eq!(v(b).cmp(&v(a)), want.reverse(), "{b} vs {a}");
            assert_eq!(
                PackagistVersion::compare_str(a, b),
                Ok(want),
                "{a} vs {b} (str)"
            );
        }
    }

    /// Realistic, collision-prone Packagist versions.
    fn version() -> impl Strategy<Value = String> {
        let part = prop_oneof![
            4 => prop::sample::select(vec!["0", "1", "2", "10", "01"]),
            3 => prop::sample::select(vec![
                "dev", "alpha", "a", "beta", "b", "RC", "rc", "pl", "p", "patch", "BETA", "foo",
                "#", "", "stable",
            ]),
        ];
        let sep = prop::sample::select(vec![".", "-", "_", "+", ""]);
        (
            prop::sample::select(vec!["", "v", "V"]),
            part.clone(),
            prop::collection::vec((sep, part), 0..6),
        )
            .prop_map(|(prefix, first, rest)| {
                rest.into_iter()
                    .fold(format!("{prefix}{first}"), |mut s, (sep, part)| {
                        s.push_str(sep);
                        s.push_str(part);
                        s
                    })
            })
    }

    proptest! {
        #[test]
        fn never_panics(a in any::<String>(), b in any::<String>()) {
            prop_assert_eq!(PackagistVersion::compare_str(&a, &b), Ok(v(&a).cmp(&v(&b))));
        }

        #[test]
        fn is_a_total_order(a in version(), b in version(), c in version()) {
            let (x, y, z) = (v(&a), v(&b), v(&c));
            prop_assert_eq!(x.cmp(&y), y.cmp(&x).reverse());
            prop_assert_eq!(x == y, x.cmp(&y).is_eq());
            prop_assert_eq!(PackagistVersion::compare_str(&a, &b), Ok(x.cmp(&y)));
            if x <= y && y <= z {
                prop_assert!(x <= z, "{a} <= {b} <= {c} but {a} > {c}");
            }
            if x >= y && y >= z {
                prop_assert!(x >= z, "{a} >= {b} >= {c} but {a} < {c}");
            }
        }
    }
}
