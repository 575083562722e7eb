//! # vigil-core
//!
//! The pure core of vigil: the vocabulary every other crate speaks, and the one question vigil
//! answers millions of times a second — *does version V of package P fall inside this
//! advisory's affected set?*
//!
//! What lives here:
//! - [`ecosystem`]: OSV ecosystem names (`npm`, `PyPI`, `Debian:12`, …), unknown names kept;
//! - [`name`]: per-ecosystem package-name normalization (PEP 503, NuGet case folding, …);
//! - [`version`]: one exact version ordering per ecosystem, each agreeing with that ecosystem's
//!   reference implementation, and a generic ordering that never fails;
//! - [`purl`]: package-URL parsing and formatting;
//! - [`component`]: components and the evidence that places them on a machine;
//! - [`osv`]: OSV records and `affected` evaluation;
//! - [`terminal`]: escaping attacker-controlled strings before they reach a terminal.
//!
//! What does **not** live here: any I/O (files, network, clocks, processes). Readers of feeds,
//! lockfiles and `/proc` live in the crates that own those sources and hand plain values to this
//! one. This keeps the core deterministic, fast to test, and usable from every other crate;
//! `vigil-core` depends on no other vigil crate.

pub mod component;
pub mod ecosystem;
pub mod name;
pub mod osv;
pub mod purl;
pub mod terminal;
pub mod time;
pub mod version;

pub use component::{Component, Evidence};
pub use ecosystem::{Ecosystem, EcosystemKind};
pub use name::PackageName;
pub use purl::Purl;
pub use version::{Version, VersionError, VersionScheme};
