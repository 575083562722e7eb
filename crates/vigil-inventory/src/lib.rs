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
//! ## Collectors
//!
//! | collector | claims | evidence |
//! |---|---|---|
//! | `npm-installed` | `…/node_modules/<name>/package.json`, `…/node_modules/@scope/<name>/package.json` (slots only; pnpm `.pnpm` store included) | INSTALLED |
//! | `python-installed` | `*.dist-info/METADATA`, `*.egg-info/PKG-INFO`, `EGG-INFO/PKG-INFO`, `*.egg-info` files | INSTALLED |
//! | `conda-installed` | `conda-meta/*.json` (ecosystem `conda`) | INSTALLED |
//! | `composer-installed` | `vendor/composer/installed.json` | INSTALLED |
//! | `dpkg-installed` | `var/lib/dpkg/status`, `var/lib/dpkg/status.d/*`, `usr/lib/opkg/status` | INSTALLED |
//! | `apk-installed` | `lib/apk/db/installed` | INSTALLED |
//! | `rpm-installed` | `rpm/rpmdb.sqlite` (SQLite rpm database) | INSTALLED |
//! | `rpm-bdb-installed` | `rpm/Packages` (Berkeley DB rpm database, read without libdb) | INSTALLED |
//! | `gem-installed` | `specifications/*.gemspec` | INSTALLED |
//! | `dotnet-deps` | `*.deps.json` (`type: package` libraries) | INSTALLED |
//! | `nuget-installed` | `<id>/<version>/<id>.nuspec` (global packages folder) | INSTALLED |
//! | `java-archive` | `*.jar`, `*.war`, `*.ear`, `*.hpi`, `*.jpi` (`pom.properties`, nested archives) | INSTALLED |
//! | `binary` | ELF files in `bin/`, `sbin/`, `libexec/`: Go build info, cargo-auditable | INSTALLED |
//! | `package-lock` | `package-lock.json` (v1–v3), `npm-shrinkwrap.json` | DECLARED |
//! | `yarn-lock` | `yarn.lock` (v1 and berry) | DECLARED |
//! | `pnpm-lock` | `pnpm-lock.yaml` (5.x, 6.x, 9.x) | DECLARED |
//! | `bun-lock` | `bun.lock` | DECLARED |
//! | `requirements-txt` | `requirements*.txt`, `*requirements.txt`, `requirements/*.txt` | DECLARED |
//! | `poetry-lock`, `uv-lock`, `pdm-lock`, `pipfile-lock` | `poetry.lock`, `uv.lock`, `pdm.lock`, `Pipfile.lock` | DECLARED |
//! | `cargo-lock` | `Cargo.lock` | DECLARED |
//! | `go-mod` | `go.mod` (+ `go.sum` before Go 1.17) | DECLARED |
//! | `gemfile-lock` | `Gemfile.lock`, `gems.locked` | DECLARED |
//! | `composer-lock` | `composer.lock` | DECLARED |
//! | `nuget-lock` | `packages.lock.json` | DECLARED |
//! | `gradle-lockfile` | `*.lockfile` named `…gradle.lockfile` or in `dependency-locks/` | DECLARED |
//! | `maven-pom` | `pom.xml` (direct dependencies, properties, local parents) | DECLARED |
//!
//! ## Decisions worth knowing
//!
//! - **Slots, not every `package.json`.** Inside `node_modules` only package slots are
//!   packages; markers, fixtures and templates elsewhere are never read.
//! - **`node_modules/.package-lock.json` is not an inventory source**: it restates what the
//!   installed `package.json` files say, and they are the ground truth (see
//!   [`lockfile::package_lock`]). It is read only to flag installed packages dev-only
//!   ([`installed::npm::flag_dev_from_hidden_lockfiles`]).
//! - **Lockfiles inside installed trees and caches are skipped** (`node_modules/x/yarn.lock`
//!   is x's own development lockfile; likewise `vendor/`, `.cargo/registry`, Go's `pkg/mod`);
//!   [`ScanOptions::declared_in_package_trees`] turns them back on.
//! - **Kernel pseudo-filesystems are not walked** (procfs, sysfs, cgroup…, recognized by
//!   filesystem type), so `vigil scan /` or a host root at `/host` does not crawl `/proc`;
//!   [`ScanOptions::include_pseudo_filesystems`] turns that off.
//! - **Same component at the same path appears once**; dev-only is kept only when every
//!   occurrence is dev-only ([`found::dedup_packages`]).
//! - **Versions as the file states them.** A manifest constraint (`>=1.0`, a Maven range)
//!   reports its bound with [`FoundPackage::pinned`] false; git/file/URL dependencies report
//!   an empty version. Nothing is resolved over the network.
//! - **Conformance**: the lockfile collectors reproduce osv-scalibr's results on its fixtures
//!   (`tests/lockfile_conformance.rs`), including where they are lenient.
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
pub use walker::{ScanOptions, ScanProgress, ScanReport, ScanSetupError, ScanStats, scan};
