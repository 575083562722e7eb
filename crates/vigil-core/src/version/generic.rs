//! The generic ordering, for ecosystems vigil has no reference ordering for.
//!
//! It never fails: any string is a version. The string is cut into runs of digits (numbers,
//! any length, compared by value) and runs of other alphanumerics (words, compared ASCII
//! case-insensitively); everything else separates. Sequences compare token by token, each
//! sequence padded with an end marker that equals the number 0 and sorts above every word, so
//! `1 = 1.0`, `1.0 < 1.0.1` and `1.0-beta < 1.0`. A word sorts below every number.
//!
//! This is a lexicographic order over a total preorder of tokens, hence a total order on the
//! equivalence classes it defines; `Eq` is that equivalence.

use std::cmp::Ordering;

use super::{VersionError, VersionOrder};

/// A version of an unknown ecosystem.
#[derive(Clone, Debug)]
pub struct GenericVersion {
    tokens: Vec<Token>,
}

#[derive(Clone, Debug)]
enum Token {
    /// Lower-cased run of non-digit alphanumerics.
    Word(Box<str>),
    /// Run of digits without leading zeros (`""` is zero).
    Number(Box<str>),
}

impl GenericVersion {
    /// Tokenizes `input`; infallible.
    pub fn new(input: &str) -> GenericVersion {
        let mut tokens = Vec::new();
        let mut chars = input.char_indices().peekable();
        while let Some(&(start, c)) = chars.peek() {
            if c.is_ascii_digit() {
                let mut end = start;
                while let Some(&(i, d)) = chars.peek() {
                    if !d.is_ascii_digit() {
                        break;
                    }
                    end = i + d.len_utf8();
                    chars.next();
                }
                let digits = input[start..end].trim_start_matches('0');
                tokens.push(Token::Number(digits.into()));
            } else if c.is_alphanumeric() {
                let mut word = String::new();
                while let Some(&(_, w)) = chars.peek() {
                    if w.is_ascii_digit() || !w.is_alphanumeric() {
                        break;
                    }
                    word.push(w.to_ascii_lowercase());
                    chars.next();
                }
                tokens.push(Token::Word(word.into()));
            } else {
                chars.next();
            }
        }
        GenericVersion { tokens }
    }
}

/// Rank of a token slot: words < end-of-version = 0 < positive numbers.
fn compare_slot(a: Option<&Token>, b: Option<&Token>) -> Ordering {
    use Token::{Number, Word};
    match (a, b) {
        (None, None) => Ordering::Equal,
        (Some(Word(x)), Some(Word(y))) => x.cmp(y),
        (Some(Word(_)), _) => Ordering::Less,
        (_, Some(Word(_))) => Ordering::Greater,
        (Some(Number(x)), Some(Number(y))) => x.len().cmp(&y.len()).then_with(|| x.cmp(y)),
        // A missing slot is the number zero.
        (Some(Number(x)), None) => zero_or(x, Ordering::Greater),
        (None, Some(Number(y))) => zero_or(y, Ordering::Less),
    }
}

fn zero_or(digits: &str, otherwise: Ordering) -> Ordering {
    if digits.is_empty() {
        Ordering::Equal
    } else {
        otherwise
    }
}

impl Ord for GenericVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        let len = self.tokens.len().max(other.tokens.len());
        (0..len)
            .map(|i| compare_slot(self.tokens.get(i), other.tokens.get(i)))
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal)
    }
}

impl PartialOrd for GenericVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for GenericVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for GenericVersion {}

impl VersionOrder for GenericVersion {
    fn parse(input: &str) -> Result<Self, VersionError> {
        Ok(GenericVersion::new(input))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_common_shapes() {
        let cases = [
            ("1", "1.0", Ordering::Equal),
            ("1.0", "1.0.1", Ordering::Less),
            ("1.0-beta", "1.0", Ordering::Less),
            ("1.0.beta", "1.0.1", Ordering::Less),
            ("1.10", "1.9", Ordering::Greater),
            ("v1.2", "1.2", Ordering::Less),
            ("1.0RC1", "1.0rc1", Ordering::Equal),
            ("007", "7", Ordering::Equal),
            (
                "99999999999999999999999",
                "99999999999999999999998",
                Ordering::Greater,
            ),
            ("", "0", Ordering::Equal),
        ];
        for (a, b, want) in cases {
            assert_eq!(
                GenericVersion::new(a).cmp(&GenericVersion::new(b)),
                want,
                "{a} vs {b}"
            );
            assert_eq!(
                GenericVersion::new(b).cmp(&GenericVersion::new(a)),
                want.reverse(),
                "{b} vs {a}"
            );
        }
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn version() -> impl Strategy<Value = String> {
            "[0-9a-zA-Z.~+_-]{0,12}"
        }

        proptest! {
            #[test]
            fn parse_never_panics(input in any::<String>()) {
                let _ = GenericVersion::new(&input);
            }

            #[test]
            fn total_order(a in version(), b in version(), c in version()) {
                let (a, b, c) = (GenericVersion::new(&a), GenericVersion::new(&b), GenericVersion::new(&c));
                prop_assert_eq!(a.cmp(&b), b.cmp(&a).reverse());
                if a <= b && b <= c {
                    prop_assert!(a <= c);
                }
                prop_assert_eq!(a == b, a.cmp(&b).is_eq());
            }
        }
    }
}
