//! Collectors of lockfiles and manifests (evidence `DECLARED`), one file per format.

pub mod bun;
pub mod cargo;
pub mod composer;
pub mod gemfile;
pub mod gomod;
pub mod gradle;
pub mod nuget;
pub mod package_lock;
pub mod pnpm;
pub mod pom;
pub mod python_locks;
pub mod requirements;
pub mod yarn;
