//! The `json` format: the [`ScanReport`] itself, as documented in `docs/scan-json.md`.
//!
//! Also home of the JSON writer every JSON-based format (SARIF, CycloneDX, SPDX) shares:
//! pretty-printed, two-space indented, newline-terminated, and terminal-safe — characters that
//! could drive a terminal ([`crate::terminal::is_unsafe`]: C1 controls, DEL, bidi overrides,
//! zero-width characters) are written as `\uXXXX` escapes on top of the C0 escapes JSON
//! requires. The value is unchanged for any JSON reader; only the bytes are inert.

use std::io::{self, Write};

use serde::Serialize;
use serde_json::ser::{Formatter, PrettyFormatter};

use crate::ReportError;
use crate::model::ScanReport;
use crate::terminal::is_unsafe;

/// Writes `report` as JSON.
pub fn write(report: &ScanReport, out: &mut dyn io::Write) -> Result<(), ReportError> {
    write_value(report, out)
}

/// Writes any value with the shared, terminal-safe pretty printer, then a newline.
pub(crate) fn write_value<T: Serialize + ?Sized>(
    value: &T,
    out: &mut dyn io::Write,
) -> Result<(), ReportError> {
    // serde_json writes token by token: buffer, so an unbuffered writer (a file, a pipe) is
    // not hit with a system call per token.
    let mut buffered = io::BufWriter::with_capacity(64 * 1024, out);
    let mut serializer =
        serde_json::Serializer::with_formatter(&mut buffered, SafeFormatter::new());
    value.serialize(&mut serializer)?;
    buffered.write_all(b"\n")?;
    buffered.flush()?;
    Ok(())
}

/// [`PrettyFormatter`] that also escapes [`is_unsafe`] characters inside strings.
struct SafeFormatter {
    pretty: PrettyFormatter<'static>,
}

impl SafeFormatter {
    fn new() -> SafeFormatter {
        SafeFormatter {
            pretty: PrettyFormatter::with_indent(b"  "),
        }
    }
}

impl Formatter for SafeFormatter {
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        // serde_json has already split out '"', '\\' and C0 controls; what reaches here is
        // everything else, written raw unless it could drive a terminal. Printable ASCII, the
        // common case, needs no per-character look.
        if fragment.bytes().all(|b| (0x20..0x7f).contains(&b)) {
            return writer.write_all(fragment.as_bytes());
        }
        let mut rest = fragment;
        while let Some((at, c)) = rest.char_indices().find(|&(_, c)| is_unsafe(c)) {
            writer.write_all(&rest.as_bytes()[..at])?;
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                write!(writer, "\\u{unit:04x}")?;
            }
            rest = &rest[at + c.len_utf8()..];
        }
        writer.write_all(rest.as_bytes())
    }

    fn begin_array<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.pretty.begin_array(writer)
    }

    fn end_array<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.pretty.end_array(writer)
    }

    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.pretty.begin_array_value(writer, first)
    }

    fn end_array_value<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.pretty.end_array_value(writer)
    }

    fn begin_object<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.pretty.begin_object(writer)
    }

    fn end_object<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.pretty.end_object(writer)
    }

    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.pretty.begin_object_key(writer, first)
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.pretty.begin_object_value(writer)
    }

    fn end_object_value<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.pretty.end_object_value(writer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn to_string<T: Serialize>(value: &T) -> String {
        let mut out = Vec::new();
        write_value(value, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn escapes_terminal_controls_inside_strings() {
        let cases = [
            ("plain", "\"plain\"\n"),
            ("a\u{1b}[31mb", "\"a\\u001b[31mb\"\n"),
            ("csi\u{9b}2J", "\"csi\\u009b2J\"\n"),
            ("del\u{7f}", "\"del\\u007f\"\n"),
            ("rlo\u{202e}x", "\"rlo\\u202ex\"\n"),
            ("q\"b\\", "\"q\\\"b\\\\\"\n"),
            ("ünï 🦀", "\"ünï 🦀\"\n"),
        ];
        for (input, want) in cases {
            assert_eq!(to_string(&input), want, "{input:?}");
        }
    }

    #[test]
    fn pretty_prints_with_two_spaces() {
        let value = serde_json::json!({"a": [1, {"b": []}], "c": {}});
        assert_eq!(
            to_string(&value),
            "{\n  \"a\": [\n    1,\n    {\n      \"b\": []\n    }\n  ],\n  \"c\": {}\n}\n"
        );
    }

    proptest! {
        #[test]
        fn output_reads_back_and_is_terminal_safe(text in any::<String>()) {
            let json = to_string(&serde_json::json!({ "k": text }));
            // Newlines are the pretty printer's own; any other unsafe character came from `text`.
            prop_assert!(!json.chars().any(|c| c != '\n' && is_unsafe(c)));
            let back: serde_json::Value = serde_json::from_str(&json).unwrap();
            prop_assert_eq!(back["k"].as_str(), Some(text.as_str()));
        }
    }
}
