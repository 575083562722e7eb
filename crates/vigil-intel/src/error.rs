//! Errors that stop a whole source or an operation on the intel store. A bad *record* is not
//! an error: it is skipped and reported ([`crate::import::SkippedRecord`]).
//!
//! Paths and names in messages are attacker-influenced (a feed names its own entries); they are
//! shown with `{:?}` or escaped by the caller before reaching a terminal.

use std::path::{Path, PathBuf};

/// An intel error: names the file, feed or snapshot and says why.
#[derive(Debug, thiserror::Error)]
pub enum IntelError {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A source cannot be used at all (not a zip, too large, no package column, …).
    #[error("{path}: {reason}")]
    Source {
        /// The source.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A stored snapshot or catalog cannot be read back.
    #[error("intel store {path}: {reason}")]
    Store {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A feed could not be fetched or did not validate; the previous intel is kept.
    #[error("feed {name} ({url}): {reason}")]
    Feed {
        /// The feed name.
        name: String,
        /// Its URL.
        url: String,
        /// Why.
        reason: String,
    },
}

impl IntelError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> IntelError {
        IntelError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    pub(crate) fn source(path: &Path, reason: impl Into<String>) -> IntelError {
        IntelError::Source {
            path: path.to_path_buf(),
            reason: reason.into(),
        }
    }

    pub(crate) fn store(path: &Path, reason: impl Into<String>) -> IntelError {
        IntelError::Store {
            path: path.to_path_buf(),
            reason: reason.into(),
        }
    }
}
