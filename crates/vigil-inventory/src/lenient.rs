//! Lenient serde shapes for untrusted package files: a field of an unexpected type reads as
//! absent instead of failing the whole file, and maps are read in file order with duplicates
//! kept. Every lockfile collector parses through these, so one odd entry costs one package,
//! not a lockfile.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// A string field: `Some` for a string, `None` for any other value. For YAML, scalars such as
/// `1.10` stay text exactly as written.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct LenientString(pub Option<String>);

impl LenientString {
    /// The string, if present and non-empty after trimming.
    pub fn non_empty(&self) -> Option<&str> {
        self.0.as_deref().map(str::trim).filter(|s| !s.is_empty())
    }

    /// The string or `""`.
    pub fn as_str(&self) -> &str {
        self.0.as_deref().unwrap_or("")
    }
}

impl<'de> Deserialize<'de> for LenientString {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = LenientString;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any value")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<LenientString, E> {
                Ok(LenientString(Some(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<LenientString, E> {
                Ok(LenientString(Some(v)))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<LenientString, E> {
                Ok(LenientString(None))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<LenientString, E> {
                Ok(LenientString(None))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<LenientString, E> {
                Ok(LenientString(None))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<LenientString, E> {
                Ok(LenientString(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<LenientString, E> {
                Ok(LenientString(None))
            }
            fn visit_none<E: de::Error>(self) -> Result<LenientString, E> {
                Ok(LenientString(None))
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<LenientString, D::Error> {
                LenientString::deserialize(d)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<LenientString, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(LenientString(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<LenientString, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(LenientString(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// A boolean field: true only for `true` (or the string `"true"`); anything else is false.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct LenientBool(pub bool);

impl<'de> Deserialize<'de> for LenientBool {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = LenientBool;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any value")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<LenientBool, E> {
                Ok(LenientBool(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<LenientBool, E> {
                Ok(LenientBool(v == "true"))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<LenientBool, E> {
                Ok(LenientBool(false))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<LenientBool, E> {
                Ok(LenientBool(false))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<LenientBool, E> {
                Ok(LenientBool(false))
            }
            fn visit_unit<E: de::Error>(self) -> Result<LenientBool, E> {
                Ok(LenientBool(false))
            }
            fn visit_none<E: de::Error>(self) -> Result<LenientBool, E> {
                Ok(LenientBool(false))
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<LenientBool, D::Error> {
                LenientBool::deserialize(d)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<LenientBool, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(LenientBool(false))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<LenientBool, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(LenientBool(false))
            }
        }
        d.deserialize_any(V)
    }
}

/// A map read as `(key, value)` pairs in file order, duplicates kept. A value that is not a
/// map (or `null`) reads as empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entries<T>(pub Vec<(String, T)>);

impl<T> Default for Entries<T> {
    fn default() -> Self {
        Entries(Vec::new())
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Entries<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Entries<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entries<T>, A::Error> {
                let mut out = Vec::new();
                while let Some(key) = map.next_key::<KeyString>()? {
                    out.push((key.0, map.next_value::<T>()?));
                }
                Ok(Entries(out))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Entries<T>, E> {
                Ok(Entries::default())
            }
            fn visit_none<E: de::Error>(self) -> Result<Entries<T>, E> {
                Ok(Entries::default())
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Entries<T>, D::Error> {
                Entries::deserialize(d)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Entries<T>, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Entries::default())
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Entries<T>, E> {
                Ok(Entries::default())
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Entries<T>, E> {
                Ok(Entries::default())
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Entries<T>, E> {
                Ok(Entries::default())
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Entries<T>, E> {
                Ok(Entries::default())
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Entries<T>, E> {
                Ok(Entries::default())
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// A map key as text; YAML keys that are numbers or booleans are kept as written.
struct KeyString(String);

impl<'de> Deserialize<'de> for KeyString {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = KeyString;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<KeyString, E> {
                Ok(KeyString(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<KeyString, E> {
                Ok(KeyString(v))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<KeyString, E> {
                Ok(KeyString(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<KeyString, E> {
                Ok(KeyString(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<KeyString, E> {
                Ok(KeyString(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<KeyString, E> {
                Ok(KeyString(v.to_string()))
            }
            fn visit_unit<E: de::Error>(self) -> Result<KeyString, E> {
                Ok(KeyString(String::new()))
            }
        }
        d.deserialize_any(V)
    }
}

/// Splits an npm-style `name@spec` (`@scope/name@1.0.0`, `name@npm:1.0.0`) at the `@` that
/// ends the name. `None` when there is no such `@`.
pub fn split_name_at(spec: &str) -> Option<(&str, &str)> {
    let start = usize::from(spec.starts_with('@'));
    let at = spec.get(start..)?.find('@')? + start;
    Some((spec.get(..at)?, spec.get(at + 1..)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_names() {
        assert_eq!(split_name_at("a@1.0.0"), Some(("a", "1.0.0")));
        assert_eq!(split_name_at("@s/a@npm:1.0.0"), Some(("@s/a", "npm:1.0.0")));
        assert_eq!(split_name_at("@s/a"), None);
        assert_eq!(split_name_at("a"), None);
        assert_eq!(split_name_at("@"), None);
        assert_eq!(split_name_at(""), None);
    }

    #[test]
    fn lenient_fields() {
        #[derive(serde::Deserialize)]
        struct S {
            #[serde(default)]
            a: LenientString,
            #[serde(default)]
            b: LenientBool,
            #[serde(default)]
            c: Entries<LenientString>,
        }
        let s: S = serde_json::from_str(r#"{"a":[1],"b":"true","c":{"x":"1","x":2}}"#)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.a.0, None);
        assert!(s.b.0);
        assert_eq!(s.c.0.len(), 2);
    }
}
