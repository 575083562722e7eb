//! # vigil-inventory
//!
//! The walker and the on-disk collectors: which packages are **installed** (npm
//! `node_modules`, Python `site-packages`, …, OS package databases) or **declared** (lockfiles,
//! manifests) under a set of paths.
//!
//! What lives here:
//! - [`scan`]: a parallel walk of the roots that filters nothing by default (packages live in
//!   ignored and hidden directories), does not follow symlinks unless asked, and survives
//!   loops, permission errors, vanishing files and non-UTF-8 names. It returns a
//!   [`ScanReport`]: [`FoundPackage`]s plus non-fatal [`ScanError`]s.
//! - [`Collector`]: one implementation per format, one file each under [`installed`] and
//!   [`lockfile`]; the [`Registry`] indexes the file names they claim so the walker's hot
//!   path does one lookup per file whatever the number of collectors.
//!
//! What does **not** live here: matching against intel (`vigil-intel`), running processes and
//! containers (`vigil-runtime`), output formats (`vigil-report`), persistence (`vigil-store`).
//! This crate never touches the network and never resolves versions a file does not state.
//!
//! Start reading at [`walker`], then [`collector`], then any collector, e.g.
//! [`installed::npm`].

pub mod collector;
pub mod error;
pub mod found;
pub mod installed;
pub mod lenient;
pub mod lockfile;
pub mod registry;
pub mod walker;

pub use collector::{Collected, Collector, FilePattern, Input, SourceFile, collect_file};
pub use error::{CollectError, ScanError, ScanErrorKind};
pub use found::FoundPackage;
pub use registry::Registry;
pub use walker::{ScanOptions, ScanReport, ScanSetupError, ScanStats, scan};
