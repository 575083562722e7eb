//! `vigil intel sync`: fetching HTTP feeds into the store without ever losing good intel.
//!
//! A feed is a URL serving an OSV zip; the defaults are OSV.dev's per-ecosystem `all.zip` for
//! the ecosystems vigil inventories ([`default_feeds`]). For each feed:
//!
//! 1. a conditional GET (`If-None-Match` with the stored ETag, `If-Modified-Since` with the
//!    stored Last-Modified) — `304 Not Modified` only records that the data was confirmed
//!    current;
//! 2. the body is streamed to `intel/tmp/`, bounded by [`SyncOptions::max_download_bytes`], and
//!    must be exactly as long as `Content-Length` says (a cut connection is a failure, not a
//!    short feed);
//! 3. the download is validated by reading it as an OSV zip (central directory, bounds, at
//!    least one advisory);
//! 4. only then is it stored as the source's new generation ([`IntelStore::save_source`]),
//!    which swaps atomically.
//!
//! Any failure — unreachable host, HTTP error, partial or corrupt body — leaves the previous
//! data in place and in use, and is recorded on the source for `status`. The client is
//! blocking (reqwest with rustls); call it from a blocking thread in async code.

use std::fs::{self, File};
use std::io::{BufWriter, Read, Write};
use std::path::PathBuf;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::blocking::Client;
use reqwest::header::{CONTENT_LENGTH, ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED};
use serde::{Deserialize, Serialize};

use crate::error::IntelError;
use crate::import::{ImportOptions, SourceKind, osv_zip, slug};
use crate::store::{CheckNote, IntelStore, SourceState, SourceUpdate};

/// The OSV.dev ecosystems synced by default: those vigil inventories.
pub const DEFAULT_ECOSYSTEMS: [&str; 8] = [
    "npm",
    "PyPI",
    "Go",
    "crates.io",
    "Maven",
    "RubyGems",
    "NuGet",
    "Packagist",
];

/// An HTTP feed serving an OSV zip.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Feed {
    /// Source name in the store (`osv.dev/npm`).
    pub name: String,
    /// URL of the zip.
    pub url: String,
}

impl Feed {
    /// OSV.dev's `all.zip` of one ecosystem.
    pub fn osv_dev(ecosystem: &str) -> Feed {
        Feed {
            name: format!("osv.dev/{ecosystem}"),
            url: format!("https://osv-vulnerabilities.storage.googleapis.com/{ecosystem}/all.zip"),
        }
    }
}

/// The default feeds: [`Feed::osv_dev`] for each of [`DEFAULT_ECOSYSTEMS`].
pub fn default_feeds() -> Vec<Feed> {
    DEFAULT_ECOSYSTEMS
        .iter()
        .map(|e| Feed::osv_dev(e))
        .collect()
}

/// Limits and client settings of a sync.
#[derive(Clone, Debug)]
pub struct SyncOptions {
    /// Time to establish a connection.
    pub connect_timeout: Duration,
    /// Time for a whole request, body included.
    pub timeout: Duration,
    /// The largest download accepted.
    pub max_download_bytes: u64,
    /// Honour `HTTPS_PROXY`/`HTTP_PROXY`/`NO_PROXY` from the environment.
    pub use_env_proxy: bool,
    /// Bounds for reading the downloaded zip.
    pub import: ImportOptions,
}

impl Default for SyncOptions {
    fn default() -> Self {
        SyncOptions {
            connect_timeout: Duration::from_secs(15),
            timeout: Duration::from_secs(15 * 60),
            max_download_bytes: 2 << 30,
            use_env_proxy: true,
            import: ImportOptions::default(),
        }
    }
}

/// What happened to one feed.
#[derive(Clone, Debug)]
pub enum FeedOutcome {
    /// New data was downloaded, validated and stored.
    Updated(Box<SourceState>),
    /// The server said the stored data is current.
    NotModified,
    /// Nothing changed; why.
    Failed(String),
}

/// Fetches feeds into a store.
#[derive(Debug)]
pub struct Syncer {
    client: Client,
    options: SyncOptions,
}

impl Syncer {
    /// A syncer with its HTTP client.
    pub fn new(options: SyncOptions) -> Result<Syncer, IntelError> {
        let mut builder = Client::builder()
            .user_agent(concat!("vigil/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(options.connect_timeout)
            .timeout(options.timeout);
        if !options.use_env_proxy {
            builder = builder.no_proxy();
        }
        let client = builder.build().map_err(|e| IntelError::Feed {
            name: "-".into(),
            url: "-".into(),
            reason: format!("cannot build the HTTP client: {e}"),
        })?;
        Ok(Syncer { client, options })
    }

    /// Syncs one feed; every failure is recorded on the source and returned, never raised.
    pub fn sync(&self, store: &IntelStore, feed: &Feed) -> FeedOutcome {
        let outcome = self.fetch(store, feed);
        let note = match &outcome {
            FeedOutcome::Updated(_) => None,
            FeedOutcome::NotModified => Some(CheckNote::NotModified),
            FeedOutcome::Failed(reason) => Some(CheckNote::Failed(reason.clone())),
        };
        if let Some(note) = note
            && let Err(e) = store.note_check(&feed.name, &feed.url, note)
        {
            return FeedOutcome::Failed(format!("could not record the check: {e}"));
        }
        outcome
    }

    fn fetch(&self, store: &IntelStore, feed: &Feed) -> FeedOutcome {
        let prior = match store.catalog() {
            Ok(catalog) => catalog
                .source(&feed.name)
                .filter(|s| s.has_data() && s.location == feed.url)
                .cloned(),
            Err(e) => return FeedOutcome::Failed(format!("cannot read the catalog: {e}")),
        };
        let mut request = self.client.get(&feed.url);
        if let Some(prior) = &prior {
            if let Some(etag) = &prior.etag {
                request = request.header(IF_NONE_MATCH, etag);
            }
            if let Some(modified) = &prior.last_modified {
                request = request.header(IF_MODIFIED_SINCE, modified);
            }
        }
        let response = match request.send() {
            Ok(response) => response,
            Err(e) => return FeedOutcome::Failed(describe(&e)),
        };
        let status = response.status();
        if status == StatusCode::NOT_MODIFIED {
            return if prior.is_some() {
                FeedOutcome::NotModified
            } else {
                FeedOutcome::Failed("304 Not Modified, but no copy is stored".into())
            };
        }
        if !status.is_success() {
            return FeedOutcome::Failed(format!("HTTP {status}"));
        }
        let header = |name| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let etag = header(ETAG);
        let last_modified = header(LAST_MODIFIED);
        let declared = header(CONTENT_LENGTH).and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|len| len > self.options.max_download_bytes) {
            return FeedOutcome::Failed(format!(
                "Content-Length {} is above the {}-byte download bound",
                declared.unwrap_or_default(),
                self.options.max_download_bytes
            ));
        }
        let tmp = match self.download(store, feed, response, declared) {
            Ok(tmp) => tmp,
            Err(reason) => return FeedOutcome::Failed(reason),
        };
        let outcome = self.store_download(store, feed, &tmp.0, etag, last_modified);
        drop(tmp);
        outcome
    }

    fn download(
        &self,
        store: &IntelStore,
        feed: &Feed,
        response: reqwest::blocking::Response,
        declared: Option<u64>,
    ) -> Result<TempFile, String> {
        let dir = store.tmp_dir();
        fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let path = dir.join(format!(
            "{}.{}.download",
            slug(&feed.name),
            std::process::id()
        ));
        let tmp = TempFile(path);
        let file =
            File::create(&tmp.0).map_err(|e| format!("cannot create {}: {e}", tmp.0.display()))?;
        let mut out = BufWriter::with_capacity(1 << 20, file);
        let limit = self.options.max_download_bytes;
        let written = std::io::copy(&mut response.take(limit + 1), &mut out)
            .map_err(|e| format!("download interrupted: {}", with_causes(&e)))?;
        out.flush()
            .map_err(|e| format!("cannot write the download: {e}"))?;
        if written > limit {
            return Err(format!("body is above the {limit}-byte download bound"));
        }
        if let Some(declared) = declared
            && declared != written
        {
            return Err(format!(
                "partial download: got {written} of {declared} bytes"
            ));
        }
        Ok(tmp)
    }

    fn store_download(
        &self,
        store: &IntelStore,
        feed: &Feed,
        path: &std::path::Path,
        etag: Option<String>,
        last_modified: Option<String>,
    ) -> FeedOutcome {
        let bytes = match fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) => return FeedOutcome::Failed(format!("cannot read the download: {e}")),
        };
        let mut imported = match osv_zip::read_zip_bytes(&bytes, &feed.name, &self.options.import) {
            Ok(imported) => imported,
            Err(reason) => {
                return FeedOutcome::Failed(format!("download is not a usable feed: {reason}"));
            }
        };
        drop(bytes);
        if imported.records.is_empty() {
            return FeedOutcome::Failed(format!(
                "download holds no advisories ({} entries skipped); previous data kept",
                imported.skipped.len()
            ));
        }
        imported.dedup_ids();
        match store.save_source(
            SourceUpdate {
                name: feed.name.clone(),
                kind: Some(SourceKind::OsvZip),
                location: feed.url.clone(),
                etag,
                last_modified,
            },
            imported,
        ) {
            Ok(state) => FeedOutcome::Updated(Box::new(state)),
            Err(e) => FeedOutcome::Failed(format!("cannot store: {e}")),
        }
    }
}

/// A downloaded file, removed when dropped.
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

/// A reqwest error with its causes, on one line.
fn describe(error: &reqwest::Error) -> String {
    let what = if error.is_connect() {
        "cannot connect"
    } else if error.is_timeout() {
        "timed out"
    } else {
        "request failed"
    };
    format!("{what}: {}", with_causes(error))
}

/// An error and its causes, `: `-separated, repeated messages dropped.
fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let message = cause.to_string();
        if !text.contains(&message) {
            text.push_str(": ");
            text.push_str(&message);
        }
        source = cause.source();
    }
    text
}
