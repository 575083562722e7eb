//! Errors: why one file could not be collected ([`CollectError`]) and where in a scan it
//! happened ([`ScanError`]). A scan never aborts on bad input; every error lands in
//! [`crate::ScanReport::errors`] with the path and the reason.

use std::fmt;
use std::path::PathBuf;

/// Why one file (or one entry in it) could not be collected.
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    /// The file is larger than the collector's size cap; it was not read.
    #[error("{size} bytes is over the {limit}-byte limit for this format; not read")]
    TooLarge {
        /// Size on disk (or bytes read so far when the file grew).
        size: u64,
        /// The collector's cap.
        limit: u64,
    },
    /// Opening or reading failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The file is not valid in its format.
    #[error("not valid {format}{}: {reason}", Location(*.line, *.column))]
    Syntax {
        /// The format name (`JSON`, `TOML`, `package-lock.json`, …).
        format: &'static str,
        /// 1-based line, when known.
        line: Option<usize>,
        /// 1-based column, when known.
        column: Option<usize>,
        /// What is wrong.
        reason: String,
    },
    /// A field is missing or has the wrong shape.
    #[error("field `{field}`: {reason}{}", Location(*.line, None))]
    Field {
        /// The field, as the format names it (`packages."node_modules/x".version`).
        field: String,
        /// 1-based line, when known.
        line: Option<usize>,
        /// What is wrong.
        reason: String,
    },
}

impl CollectError {
    /// A syntax error without a position.
    pub fn syntax(format: &'static str, reason: impl Into<String>) -> CollectError {
        CollectError::Syntax {
            format,
            line: None,
            column: None,
            reason: reason.into(),
        }
    }

    /// A syntax error at a 1-based line.
    pub fn syntax_at(format: &'static str, line: usize, reason: impl Into<String>) -> CollectError {
        CollectError::Syntax {
            format,
            line: Some(line),
            column: None,
            reason: reason.into(),
        }
    }

    /// A field error.
    pub fn field(field: impl Into<String>, reason: impl Into<String>) -> CollectError {
        CollectError::Field {
            field: field.into(),
            line: None,
            reason: reason.into(),
        }
    }

    /// A JSON syntax or shape error from serde_json, with its line and column.
    pub fn json(format: &'static str, err: &serde_json::Error) -> CollectError {
        let line = (err.line() > 0).then_some(err.line());
        let column = (err.column() > 0).then_some(err.column());
        CollectError::Syntax {
            format,
            line,
            column,
            reason: strip_serde_position(&err.to_string()),
        }
    }

    /// A TOML error from the `toml` crate (its message carries the position).
    pub fn toml(format: &'static str, err: &toml::de::Error) -> CollectError {
        CollectError::Syntax {
            format,
            line: None,
            column: None,
            reason: err.message().to_string(),
        }
    }
}

/// serde_json appends " at line L column C"; we carry those separately.
fn strip_serde_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_string(),
        None => message.to_string(),
    }
}

struct Location(Option<usize>, Option<usize>);

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.0, self.1) {
            (Some(line), Some(column)) => write!(f, " at line {line} column {column}"),
            (Some(line), None) => write!(f, " at line {line}"),
            _ => Ok(()),
        }
    }
}

/// A non-fatal error met during a scan: the path it concerns and why.
#[derive(Debug, thiserror::Error)]
#[error("{path:?}: {kind}")]
pub struct ScanError {
    /// The file or directory concerned.
    pub path: PathBuf,
    /// The collector that was reading it, if any (walk errors have none).
    pub collector: Option<&'static str>,
    /// What went wrong.
    pub kind: ScanErrorKind,
}

/// What went wrong at one path.
#[derive(Debug, thiserror::Error)]
pub enum ScanErrorKind {
    /// Listing or entering a directory failed (permission denied, vanished, …).
    #[error("cannot walk: {0}")]
    Walk(std::io::Error),
    /// Following a symlink would loop back to an ancestor directory.
    #[error("symlink loop back to {0:?}; not followed")]
    Loop(PathBuf),
    /// Any other walker error.
    #[error("{0}")]
    Other(String),
    /// A collector could not read or parse the file.
    #[error("{0}")]
    Collect(CollectError),
}

impl ScanError {
    /// A collector error at `path`.
    pub fn collect(path: PathBuf, collector: &'static str, err: CollectError) -> ScanError {
        ScanError {
            path,
            collector: Some(collector),
            kind: ScanErrorKind::Collect(err),
        }
    }

    /// The I/O error kind behind this error, when there is one (tests and callers use it to
    /// tell permission problems from parse errors).
    pub fn io_kind(&self) -> Option<std::io::ErrorKind> {
        match &self.kind {
            ScanErrorKind::Walk(e) | ScanErrorKind::Collect(CollectError::Io(e)) => Some(e.kind()),
            _ => None,
        }
    }
}
