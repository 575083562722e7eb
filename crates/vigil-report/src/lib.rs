//! # vigil-report
//!
//! Output formats for a scan: what `vigil scan --format …` writes. One input model,
//! [`ScanReport`] (plain data the CLI fills from the inventory and the intel matcher), and one
//! renderer per format, each in its own module and each writing to any [`std::io::Write`]:
//!
//! | format | module | for |
//! |---|---|---|
//! | `table` | [`table`] | people at a terminal: findings first, grouped by advisory, then one summary line |
//! | `json` | [`json`] | scripts: the report itself, schema in `docs/scan-json.md` |
//! | `sarif` | [`sarif`] | code-scanning UIs (SARIF 2.1.0): one result per finding × location |
//! | `cyclonedx` | [`cyclonedx`] | SBOM/VEX consumers (CycloneDX 1.6 JSON): components + vulnerabilities |
//! | `spdx` | [`spdx`] | SBOM consumers (SPDX 2.3 JSON): packages + DESCRIBES relationships |
//!
//! What this crate is not for: finding components, matching advisories, deciding exit codes
//! or whether stdout is a terminal (the caller passes [`TableOptions::color`]), or reading
//! clocks (timestamps come in the report). Every output is a pure function of the report, so
//! the same report always renders to the same bytes.
//!
//! Scanned strings are attacker-controlled: the table escapes them ([`terminal::escape`]),
//! and every JSON format writes terminal-driving characters as `\uXXXX` escapes.

pub mod cyclonedx;
pub mod json;
pub mod model;
pub mod sarif;
pub mod spdx;
pub mod table;
pub use vigil_core::terminal;

use std::fmt;
use std::io;
use std::str::FromStr;

pub use model::{
    AdvisoryKind, AdvisoryRef, ComponentInstance, ComponentRef, Counts, Finding, ProcessRef, Risk,
    RiskLevel, SCHEMA_VERSION, ScanError, ScanReport, Tool,
};
pub use table::TableOptions;

/// A failure to write a report. Rendering itself cannot fail; only the writer can.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The output could not be written.
    #[error("cannot write the report: {0}")]
    Io(#[from] io::Error),
    /// JSON serialization failed (in practice only through an I/O error of the writer).
    #[error("cannot write the report as JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// An output format of `vigil scan --format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// Human-readable text.
    Table,
    /// The [`ScanReport`] as JSON.
    Json,
    /// SARIF 2.1.0.
    Sarif,
    /// CycloneDX 1.6 JSON.
    CycloneDx,
    /// SPDX 2.3 JSON.
    Spdx,
}

impl Format {
    /// Every format, in the order `--help` lists them.
    pub const ALL: [Format; 5] = [
        Format::Table,
        Format::Json,
        Format::Sarif,
        Format::CycloneDx,
        Format::Spdx,
    ];

    /// The `--format` spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Table => "table",
            Format::Json => "json",
            Format::Sarif => "sarif",
            Format::CycloneDx => "cyclonedx",
            Format::Spdx => "spdx",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown `--format` value.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown format {0:?} (expected table, json, sarif, cyclonedx or spdx)")]
pub struct UnknownFormat(pub String);

impl FromStr for Format {
    type Err = UnknownFormat;

    /// The `--format` spelling, ASCII case-insensitive.
    fn from_str(s: &str) -> Result<Format, UnknownFormat> {
        Format::ALL
            .into_iter()
            .find(|format| format.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownFormat(s.to_owned()))
    }
}

/// Writes `report` in `format`. `table` uses `options`; the other formats ignore it.
pub fn render(
    report: &ScanReport,
    format: Format,
    options: &TableOptions,
    out: &mut dyn io::Write,
) -> Result<(), ReportError> {
    match format {
        Format::Table => table::write(report, options, out),
        Format::Json => json::write(report, out),
        Format::Sarif => sarif::write(report, out),
        Format::CycloneDx => cyclonedx::write(report, out),
        Format::Spdx => spdx::write(report, out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_parse_from_their_names() {
        for format in Format::ALL {
            assert_eq!(format.as_str().parse::<Format>(), Ok(format));
            assert_eq!(format.as_str().to_uppercase().parse::<Format>(), Ok(format));
        }
        assert!("xml".parse::<Format>().is_err());
    }
}
