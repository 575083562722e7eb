//! NuGet version ordering.
//!
//! Reference: `NuGet.Versioning` (`NuGetVersion.TryParse` and `VersionComparer` with
//! `VersionComparison.Default`), the library the NuGet client and nuget.org use. Rules in brief:
//!
//! - `MAJOR[.MINOR[.PATCH[.REVISION]]][-LABEL(.LABEL)*][+METADATA]`: one to four numeric parts
//!   (the legacy four-part form included); missing parts are `0`, so `1.0 = 1.0.0 = 1.0.0.0`;
//!   leading zeros are allowed and ignored (`1.01 = 1.1`). Surrounding whitespace is trimmed.
//! - Release labels are `[0-9A-Za-z-]+`, and one of only digits has no leading zero. A version
//!   with labels sorts before the same version without. Labels compare one by one: two numeric
//!   labels by value, a numeric label before an alphanumeric one, two alphanumeric labels
//!   ordinally ignoring ASCII case (`BETA = beta`); fewer labels sort first when all shared ones
//!   are equal. "Numeric" means what .NET's `Int32.TryParse` accepts: an optional `-` and
//!   digits within the 32-bit range, so `-1` is numeric and a longer run of digits is not.
//! - Build metadata (`+...`) must be well formed but never affects the order.
//!
//! **Deliberate deviations**, both for compatibility with osv-scalibr, whose NuGet conformance
//! data vigil passes: a leading `v` or `V` is accepted and ignored (NuGet rejects it), and
//! numeric parts may have any number of digits, compared by value (NuGet rejects parts above
//! 2^31-1; the data orders 30-digit parts). Numeric parts are plain ASCII digits: .NET's
//! `Version.TryParse` would also take a sign or inner whitespace.
//!
//! Complexity: parsing and comparing are O(len(a) + len(b)) and never allocate in
//! `compare_str`; numbers are compared as digit strings, so hostile lengths cost only their length.

use std::cmp::Ordering;

use super::{VersionError, VersionOrder, VersionScheme};

/// A NuGet version.
#[derive(Clone, Debug)]
pub struct NuGetVersion {
    text: Box<str>,
    layout: Layout,
}

impl NuGetVersion {
    /// The version as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the version has release labels (is a pre-release).
    pub fn is_prerelease(&self) -> bool {
        self.layout.labels.is_some()
    }
}

/// Where the parts of a version are in its text, as byte ranges.
#[derive(Clone, Copy, Debug)]
struct Layout {
    /// Digits of the four numeric parts, leading zeros stripped (empty = 0).
    numbers: [(usize, usize); 4],
    /// The labels after `-`, without it.
    labels: Option<(usize, usize)>,
}

/// A parsed version borrowing its text.
struct View<'a> {
    numbers: [&'a str; 4],
    labels: Option<&'a str>,
}

impl Layout {
    fn view(self, text: &str) -> View<'_> {
        let slice = |(start, end): (usize, usize)| text.get(start..end).unwrap_or("");
        View {
            numbers: self.numbers.map(slice),
            labels: self.labels.map(slice),
        }
    }
}

fn error(input: &str, reason: &'static str) -> VersionError {
    VersionError::new(VersionScheme::NuGet, input, reason)
}

/// Offset of `part` inside `text` (both from the same allocation).
fn offset(text: &str, part: &str) -> usize {
    (part.as_ptr() as usize).saturating_sub(text.as_ptr() as usize)
}

fn range(text: &str, part: &str) -> (usize, usize) {
    let start = offset(text, part);
    (start, start + part.len())
}

fn parse_layout(input: &str) -> Result<Layout, VersionError> {
    let body = input.trim();
    let body = body
        .strip_prefix('v')
        .or_else(|| body.strip_prefix('V'))
        .unwrap_or(body);
    let (core, rest) = match body.find(['-', '+']) {
        Some(at) => body.split_at(at),
        None => (body, ""),
    };
    let (labels, metadata) = match rest.strip_prefix('-') {
        Some(after_dash) => match after_dash.split_once('+') {
            Some((labels, metadata)) => (Some(labels), Some(metadata)),
            None => (Some(after_dash), None),
        },
        None => (None, rest.strip_prefix('+')),
    };

    if core.is_empty() {
        return Err(error(input, "missing version number"));
    }
    let mut numbers = [(0, 0); 4];
    for (index, part) in core.split('.').enumerate() {
        let slot = numbers
            .get_mut(index)
            .ok_or_else(|| error(input, "more than four numeric parts"))?;
        if part.is_empty() || !part.bytes().all(|c| c.is_ascii_digit()) {
            return Err(error(input, "a numeric part is not a number"));
        }
        *slot = range(input, part.trim_start_matches('0'));
    }
    if let Some(labels) = labels
        && !labels.split('.').all(is_valid_label)
    {
        return Err(error(input, "invalid release label"));
    }
    if let Some(metadata) = metadata
        && !metadata.split('.').all(is_valid_metadata)
    {
        return Err(error(input, "invalid build metadata"));
    }
    Ok(Layout {
        numbers,
        labels: labels.map(|l| range(input, l)),
    })
}

fn is_valid_metadata(part: &str) -> bool {
    !part.is_empty() && part.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-')
}

/// A release label: `[0-9A-Za-z-]+`, and no leading zero on a label of only digits.
fn is_valid_label(part: &str) -> bool {
    let leading_zero =
        part.len() > 1 && part.starts_with('0') && part.bytes().all(|c| c.is_ascii_digit());
    is_valid_metadata(part) && !leading_zero
}

/// The value .NET's `Int32.TryParse` gives a label, if it gives one.
fn label_number(label: &str) -> Option<i64> {
    let (negative, digits) = match label.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, label),
    };
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let digits = digits.trim_start_matches('0');
    if digits.len() > 10 {
        return None;
    }
    let magnitude = digits
        .bytes()
        .fold(0i64, |n, c| n * 10 + i64::from(c - b'0'));
    let value = if negative { -magnitude } else { magnitude };
    (i64::from(i32::MIN)..=i64::from(i32::MAX))
        .contains(&value)
        .then_some(value)
}

fn compare_label(a: &str, b: &str) -> Ordering {
    match (label_number(a), label_number(b)) {
        (Some(x), Some(y)) => x.cmp(&y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => a
            .bytes()
            .map(|c| c.to_ascii_uppercase())
            .cmp(b.bytes().map(|c| c.to_ascii_uppercase())),
    }
}

fn compare_number(a: &str, b: &str) -> Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

fn compare(a: &View<'_>, b: &View<'_>) -> Ordering {
    let numbers = a
        .numbers
        .iter()
        .zip(&b.numbers)
        .map(|(x, y)| compare_number(x, y))
        .find(|o| o.is_ne())
        .unwrap_or(Ordering::Equal);
    numbers.then_with(|| match (a.labels, b.labels) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(x), Some(y)) => {
            let (mut xs, mut ys) = (x.split('.'), y.split('.'));
            loop {
                match (xs.next(), ys.next()) {
                    (None, None) => return Ordering::Equal,
                    (None, Some(_)) => return Ordering::Less,
                    (Some(_), None) => return Ordering::Greater,
                    (Some(p), Some(q)) => {
                        let order = compare_label(p, q);
                        if order.is_ne() {
                            return order;
                        }
                    }
                }
            }
        }
    })
}

impl Ord for NuGetVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        compare(
            &self.layout.view(&self.text),
            &other.layout.view(&other.text),
        )
    }
}

impl PartialOrd for NuGetVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for NuGetVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for NuGetVersion {}

impl VersionOrder for NuGetVersion {
    fn parse(input: &str) -> Result<Self, VersionError> {
        let layout = parse_layout(input)?;
        Ok(NuGetVersion {
            text: input.into(),
            layout,
        })
    }

    fn compare_str(a: &str, b: &str) -> Result<Ordering, VersionError> {
        let (la, lb) = (parse_layout(a)?, parse_layout(b)?);
        Ok(compare(&la.view(a), &lb.view(b)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn v(s: &str) -> NuGetVersion {
        NuGetVersion::parse(s).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn orders_like_nuget() {
        use Ordering::{Equal, Greater, Less};
        let cases = [
            ("1.0", "1.0.0.0", Equal),
            ("1", "1.0.0", Equal),
            ("1.0.01", "1.0.1.0", Equal),
            ("1.0.0", "1.0.0+build.7", Equal),
            ("1.0.0-BETA", "1.0.0-beta", Equal),
            ("1.0.0-beta.X.y.5", "1.0.0-BETA.x.Y.5+meta", Equal),
            ("v1.2.3", "1.2.3", Equal),
            (" 1.2.3 ", "1.2.3", Equal),
            ("1.0", "1.0.0.1", Less),
            ("1.0.0-alpha", "1.0.0", Less),
            ("1.0.0-alpha", "1.0.0-alpha.1", Less),
            ("1.0.0-alpha.1", "1.0.0-alpha.beta", Less),
            ("1.0.0-beta.2", "1.0.0-beta.11", Less),
            ("1.0.0-beta", "1.0.0-beta2", Less),
            ("1.0.0-rc.1", "1.0.0", Less),
            ("1.0.0-1", "1.0.0-a", Less),
            ("1.0.0-a-b", "1.0.0-a", Greater),
            ("1.0.0-beta.-1", "1.0.0-beta.0", Less),
            // Beyond Int32 a numeric label is alphanumeric, as in .NET.
            ("1.0.0-2147483648", "1.0.0-2147483647", Greater),
            ("1.0.0-99999999999", "1.0.0-alpha", Less),
            ("1.0.0.1-alpha", "1.0.0.1-pre", Less),
            ("1.0.0-pre", "1.0.0.1-alpha", Less),
            ("0.9.9.1", "1.0.0", Less),
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
                NuGetVersion::compare_str(a, b),
                Ok(want),
                "{a} vs {b} (str)"
            );
        }
    }

    #[test]
    fn rejects_what_nuget_rejects() {
        for bad in [
            "",
            " ",
            "v",
            "a",
            "1.",
            ".1",
            "1..2",
            "1.2.3.4.5",
            "1.0.0-",
            "1.0.0+",
            "1.0.0-+x",
            "1.0.0-beta+",
            "1.0.0-beta..1",
            "1.0.0-01",
            "1.0.0-be_ta",
            "1.0.0+me_ta",
            "1.0.0-é",
            "-1.0",
            "+1.0",
            "1.0a",
            "1,0",
            "1.0.0 -beta",
        ] {
            assert!(
                NuGetVersion::parse(bad).is_err(),
                "{bad:?} should be rejected"
            );
            assert!(NuGetVersion::compare_str(bad, "1.0").is_err(), "{bad:?}");
        }
        for good in [
            "1.0.0-0",
            "1.0.0-0a",
            "1.0.0-00a",
            "1.0.0+001",
            "1.0.0-a+b-c.d",
            "01.02",
        ] {
            assert!(
                NuGetVersion::parse(good).is_ok(),
                "{good:?} should be accepted"
            );
        }
    }

    /// Realistic, collision-prone NuGet versions.
    fn version() -> impl Strategy<Value = String> {
        let number = prop::sample::select(vec!["0", "1", "2", "10", "01"]);
        let label = prop::sample::select(vec![
            "alpha",
            "ALPHA",
            "beta",
            "rc",
            "1",
            "2",
            "10",
            "0",
            "-1",
            "a-b",
            "2147483648",
        ]);
        (
            prop::collection::vec(number, 1..=4),
            prop::collection::vec(label, 0..3),
            prop::option::of(prop::sample::select(vec!["build", "sha.1"])),
        )
            .prop_map(|(numbers, labels, metadata)| {
                let mut s = numbers.join(".");
                if !labels.is_empty() {
                    s.push('-');
                    s.push_str(&labels.join("."));
                }
                if let Some(metadata) = metadata {
                    s.push('+');
                    s.push_str(metadata);
                }
                s
            })
    }

    proptest! {
        #[test]
        fn never_panics(a in any::<String>(), b in "[0-9vV.+a-zA-Z-]{0,12}") {
            for input in [&a, &b] {
                if let Ok(x) = NuGetVersion::parse(input) {
                    prop_assert_eq!(NuGetVersion::compare_str(input, "1.0"), Ok(x.cmp(&v("1.0"))));
                }
            }
        }

        #[test]
        fn is_a_total_order(a in version(), b in version(), c in version()) {
            let (x, y, z) = (v(&a), v(&b), v(&c));
            prop_assert_eq!(x.cmp(&y), y.cmp(&x).reverse());
            prop_assert_eq!(x == y, x.cmp(&y).is_eq());
            prop_assert_eq!(NuGetVersion::compare_str(&a, &b), Ok(x.cmp(&y)));
            if x <= y && y <= z {
                prop_assert!(x <= z, "{a} <= {b} <= {c} but {a} > {c}");
            }
            if x >= y && y >= z {
                prop_assert!(x >= z, "{a} >= {b} >= {c} but {a} < {c}");
            }
        }
    }
}
