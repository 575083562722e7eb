//! Errors of the runtime inventory.
//!
//! Reading `/proc` fails in three ways that callers treat differently, so they are kept apart
//! from the start: the process is gone ([`Unreadable::Vanished`] — normal, processes exit all the
//! time), we may not look ([`Unreadable::Denied`] — degrade with one message per sweep, never one
//! per process), or something is actually wrong ([`RuntimeError`]).

use std::io;
use std::path::{Path, PathBuf};

/// A failure worth reporting: names the file and the reason.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// An I/O error other than "the process went away" or "permission denied".
    #[error("{path:?}: {source}")]
    Io {
        /// The file or link that failed.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// A file had a shape we could not parse.
    #[error("{path:?} line {line}: {reason}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line number (0 when the whole file is at fault).
        line: usize,
        /// What was wrong.
        reason: String,
    },
    /// The fanotify watcher could not be set up or read.
    #[error("fanotify: {0}")]
    Watcher(String),
}

/// Why one `/proc` read produced no value.
#[derive(Debug)]
pub enum Unreadable {
    /// The process (or the thing the file describes) no longer exists: `ENOENT` / `ESRCH`.
    Vanished,
    /// `EACCES` / `EPERM`: not root, `hidepid`, or a kernel/LSM restriction.
    Denied,
    /// Anything else.
    Failed(RuntimeError),
}

impl Unreadable {
    /// Classifies an I/O error on `path`.
    pub fn from_io(path: &Path, error: io::Error) -> Unreadable {
        const ESRCH: i32 = 3;
        match error.kind() {
            io::ErrorKind::NotFound => Unreadable::Vanished,
            io::ErrorKind::PermissionDenied => Unreadable::Denied,
            _ if error.raw_os_error() == Some(ESRCH) => Unreadable::Vanished,
            _ => Unreadable::Failed(RuntimeError::Io {
                path: path.to_path_buf(),
                source: error,
            }),
        }
    }
}
