//! Errors: configuration errors name the file, the key path and the reason; action errors say
//! whether trying again can help.

use std::fmt;

/// A configuration problem found at start: `file: key.path: reason`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    /// The configuration file (as given by the caller; `<config>` when there is none).
    pub file: String,
    /// Where in the file, as a key path: `workflows[0].tasks[2].webhook_url`. Empty for
    /// document-level problems (TOML syntax), which carry the line in `reason`.
    pub key: String,
    /// What is wrong and, when known, how to fix it.
    pub reason: String,
}

impl ConfigError {
    pub(crate) fn new(file: &str, key: impl Into<String>, reason: impl Into<String>) -> Self {
        ConfigError {
            file: file.to_owned(),
            key: key.into(),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(f, "{}: {}", self.file, self.reason)
        } else {
            write!(f, "{}: {}: {}", self.file, self.key, self.reason)
        }
    }
}

/// Every problem found in one configuration file (validation does not stop at the first).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

/// Why one delivery attempt failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ActionError {
    /// Retrying may help (timeouts, 5xx, 429, connection refused, a missing secret the
    /// operator can still set) — or it cannot (4xx, a template that fails, a payload the sink
    /// rejects): the item is dead-lettered at once.
    pub retryable: bool,
    /// What happened, for `vigil workflows runs` and the logs. Never contains secrets.
    pub message: String,
    /// The sink said when to come back (`Retry-After` on a 429 or 503); the next attempt
    /// is not earlier than this.
    pub retry_after: Option<std::time::Duration>,
}

impl ActionError {
    /// A failure worth retrying.
    pub fn retryable(message: impl Into<String>) -> Self {
        ActionError {
            retryable: true,
            message: message.into(),
            retry_after: None,
        }
    }

    /// A failure that retrying cannot fix.
    pub fn permanent(message: impl Into<String>) -> Self {
        ActionError {
            retryable: false,
            message: message.into(),
            retry_after: None,
        }
    }
}

/// An outbox backend failure (storage, or a lease taken over by another worker).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OutboxError {
    /// The item's lease expired and another worker holds it now (or it is finished): this
    /// worker's result is discarded; the other worker's counts.
    #[error("lease on outbox item {0} is no longer held by this worker")]
    LeaseLost(u64),
    /// No such item.
    #[error("no outbox item {0}")]
    NotFound(u64),
    /// The backing store failed.
    #[error("outbox store: {0}")]
    Store(String),
}
