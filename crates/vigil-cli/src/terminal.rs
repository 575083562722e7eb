//! Terminal hygiene: every string that came from scanned or user data is escaped before it
//! reaches a terminal, so a package name cannot move the cursor, rewrite lines or set titles.

use std::borrow::Cow;

/// Escapes control characters (C0, DEL, C1) as `\u{..}`/`\n`-style sequences; borrows when
/// there is nothing to escape.
pub fn escape(text: &str) -> Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.chars()
            .map(|c| {
                if c.is_control() {
                    c.escape_default().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn escapes_control_characters_only() {
        let cases = [
            ("debug", "debug"),
            ("a\u{1b}[2Jb", "a\\u{1b}[2Jb"),
            ("line\nbreak", "line\\nbreak"),
            ("tab\there", "tab\\there"),
            ("\u{9b}31m", "\\u{9b}31m"),
            ("ünïcode", "ünïcode"),
        ];
        for (input, want) in cases {
            assert_eq!(escape(input), want, "{input:?}");
        }
    }
}
