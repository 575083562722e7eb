//! Terminal hygiene for scanned strings — one rule for every crate that prints or relays them
//! (the CLI, the report renderers, workflow sinks).
//!
//! A package name, a path or an advisory summary is attacker-controlled. Printed raw, it can
//! move the cursor, clear the screen, set the window title, hide text, or reorder what the
//! reader sees with bidirectional overrides ("Trojan Source"). Every string from scanned data
//! goes through [`escape`] before anything prints it, and the JSON renderers write
//! the same characters as `\uXXXX` escapes, so even `--format json` on a terminal is inert.

use std::borrow::Cow;

/// Whether `c` must not reach a terminal raw: C0 and C1 control characters and DEL
/// (`char::is_control`), the bidirectional embedding/override/isolate controls, the
/// zero-width and invisible formatting characters that can hide or reorder text, the line and
/// paragraph separators, and the byte-order mark.
pub fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}'                      // Arabic letter mark
            | '\u{180E}'                    // Mongolian vowel separator
            | '\u{200B}'..='\u{200F}'       // zero-width space/joiners, LRM, RLM
            | '\u{2028}'..='\u{202E}'       // line/paragraph separators, LRE..RLO
            | '\u{2060}'..='\u{2064}'       // word joiner, invisible operators
            | '\u{2066}'..='\u{2069}'       // LRI..PDI
            | '\u{206A}'..='\u{206F}'       // deprecated format controls
            | '\u{FEFF}'                    // byte-order mark / zero-width no-break space
            | '\u{FFF9}'..='\u{FFFB}' // interlinear annotation controls
        )
}

/// `text` with every [`is_unsafe`] character written as a visible Rust-style escape (`\n`,
/// `\t`, `\u{1b}`, `\u{202e}`); borrows when there is nothing to escape. Quotes, backslashes
/// and printable Unicode are kept: they cannot drive a terminal.
pub fn escape(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_unsafe(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn escapes_controls_and_invisible_formatting_only() {
        let cases = [
            ("debug", "debug"),
            ("@ctrl/tinycolor", "@ctrl/tinycolor"),
            ("a\u{1b}[2Jb", "a\\u{1b}[2Jb"),
            ("\u{1b}]0;pwned\u{7}", "\\u{1b}]0;pwned\\u{7}"),
            ("line\nbreak\r", "line\\nbreak\\r"),
            ("tab\there", "tab\\there"),
            ("\u{9b}31m", "\\u{9b}31m"),
            ("del\u{7f}", "del\\u{7f}"),
            ("abc\u{202e}cba", "abc\\u{202e}cba"),
            ("zero\u{200b}width", "zero\\u{200b}width"),
            ("iso\u{2066}late\u{2069}", "iso\\u{2066}late\\u{2069}"),
            ("\u{feff}bom", "\\u{feff}bom"),
            ("say \"hi\" \\ 'x'", "say \"hi\" \\ 'x'"),
            ("ünïcødé 名前 🦀", "ünïcødé 名前 🦀"),
        ];
        for (input, want) in cases {
            assert_eq!(escape(input), want, "{input:?}");
        }
    }

    proptest! {
        #[test]
        fn escaped_text_has_no_unsafe_characters(text in any::<String>()) {
            let escaped = escape(&text);
            prop_assert!(!escaped.chars().any(is_unsafe));
            if !text.chars().any(is_unsafe) {
                prop_assert_eq!(escaped.as_ref(), text.as_str());
            }
        }
    }
}
