//! Reading a security event (a JSON object with the flat dotted keys of PRODUCT.md §5), and
//! making its attacker-controlled strings safe for each kind of sink.
//!
//! Everything in an event that names a package, path or process came from scanned data and is
//! hostile until proven otherwise: a package can be called `$(touch x)` or carry ANSI escapes.
//! Sinks never concatenate such a string into JSON (serde encodes it) and never hand it to a
//! shell; plaintext and terminal sinks see control characters escaped.

use serde_json::{Map, Value};

/// A field's value, `None` when absent or null.
pub fn field<'a>(event: &'a Value, key: &str) -> Option<&'a Value> {
    event.get(key).filter(|v| !v.is_null())
}

/// A field as text: strings as they are, numbers and booleans spelled out, arrays joined with
/// `, `; `None` when absent, null, or an object.
pub fn text(event: &Value, key: &str) -> Option<String> {
    value_text(field(event, key)?)
}

fn value_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().filter_map(value_text).collect();
            Some(parts.join(", "))
        }
        Value::Null | Value::Object(_) => None,
    }
}

/// What a delivery is about: the finding's id, else the event's, as text.
pub fn subject_id(event: &Value) -> Option<String> {
    text(event, "finding.id")
        .or_else(|| text(event, "event.id"))
        .filter(|s| !s.is_empty())
}

/// Adds `additions` (flat keys) to the event object; a non-object event is left alone.
pub fn extend(event: &mut Value, additions: &Map<String, Value>) {
    if let Value::Object(map) = event {
        for (k, v) in additions {
            map.insert(k.clone(), v.clone());
        }
    }
}

/// Is `c` a character that must not reach a terminal, a mail body or a chat message raw
/// (the one rule of [`vigil_core::terminal::is_unsafe`]).
pub fn is_unsafe_char(c: char) -> bool {
    vigil_core::terminal::is_unsafe(c)
}

/// Escapes unsafe characters as visible `\u{..}`-style text (`\x1b` → `\u{1b}`, newline →
/// `\n`), leaving everything else as it is ([`vigil_core::terminal::escape`]).
pub fn escape_control(s: &str) -> String {
    vigil_core::terminal::escape(s).into_owned()
}

/// Slack mrkdwn: `&`, `<`, `>` as entities (so `<!channel>` or `<http://x|y>` cannot be
/// injected) and control characters escaped.
pub fn escape_mrkdwn(s: &str) -> String {
    let escaped = vigil_core::terminal::escape(s);
    let mut out = String::with_capacity(escaped.len() + 8);
    for c in escaped.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// Cuts `s` to at most `max` characters, ending with `…` when cut (sinks have hard limits:
/// a Slack header is 150 characters).
pub fn truncate_chars(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn escaping_table() {
        let cases: &[(&str, &str, &str)] = &[
            ("debug", "debug", "debug"),
            (
                "\x1b[31mred\x1b[0m",
                "\\u{1b}[31mred\\u{1b}[0m",
                "\\u{1b}[31mred\\u{1b}[0m",
            ),
            ("a\nb\r", "a\\nb\\r", "a\\nb\\r"),
            (
                "<!channel> & co",
                "<!channel> & co",
                "&lt;!channel&gt; &amp; co",
            ),
            ("$(touch x)", "$(touch x)", "$(touch x)"),
            ("\u{202E}evil", "\\u{202e}evil", "\\u{202e}evil"),
            ("\u{9b}31m", "\\u{9b}31m", "\\u{9b}31m"),
        ];
        for (input, plain, mrkdwn) in cases {
            assert_eq!(escape_control(input), *plain, "{input:?}");
            assert_eq!(escape_mrkdwn(input), *mrkdwn, "{input:?}");
        }
    }

    #[test]
    fn fields() {
        let e = json!({"finding.id": 42, "a": ["x", 1], "n": null});
        assert_eq!(subject_id(&e).as_deref(), Some("42"));
        assert_eq!(text(&e, "a").as_deref(), Some("x, 1"));
        assert_eq!(text(&e, "n"), None);
        assert_eq!(
            subject_id(&json!({"event.id": "e1"})).as_deref(),
            Some("e1")
        );
        assert_eq!(subject_id(&json!([])), None);
        assert_eq!(truncate_chars("ééééé", 3), "éé…");
    }
}
