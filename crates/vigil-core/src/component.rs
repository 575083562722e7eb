//! Components and evidence.
//!
//! A [`Component`] is an (ecosystem, name, version) triple — what an advisory talks about. Where
//! it sits on a machine, and how sure we are that it matters, is the [`Evidence`] the collectors
//! attach to each instance of it.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ecosystem::Ecosystem;
use crate::name::PackageName;

/// A package at one version in one ecosystem.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Component {
    /// The ecosystem, with its release suffix when known (`Debian:12`).
    pub ecosystem: Ecosystem,
    /// The package name.
    pub name: PackageName,
    /// The version string as found.
    pub version: Box<str>,
}

impl Component {
    /// A component; the name is normalized for `ecosystem`.
    pub fn new(ecosystem: Ecosystem, name: &str, version: &str) -> Component {
        let name = PackageName::new(ecosystem.kind(), name);
        Component {
            ecosystem,
            name,
            version: version.trim().into(),
        }
    }
}

impl fmt::Display for Component {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}@{}", self.ecosystem, self.name, self.version)
    }
}

/// How vigil knows a component instance is there. Ordered by strength: a finding's evidence is
/// the strongest of its instances.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Evidence {
    /// Only a lockfile or manifest names it.
    Declared,
    /// On disk where a process or application resolves it.
    Installed,
    /// Seen in a running process: mapped, open, or observed being opened.
    Loaded,
}

impl Evidence {
    /// The spelling used in JSON, query fields and events.
    pub fn as_str(self) -> &'static str {
        match self {
            Evidence::Declared => "DECLARED",
            Evidence::Installed => "INSTALLED",
            Evidence::Loaded => "LOADED",
        }
    }
}

impl fmt::Display for Evidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evidence_strength_orders_loaded_highest() {
        assert!(Evidence::Loaded > Evidence::Installed);
        assert!(Evidence::Installed > Evidence::Declared);
        assert_eq!(
            [Evidence::Declared, Evidence::Loaded, Evidence::Installed]
                .iter()
                .max(),
            Some(&Evidence::Loaded)
        );
    }

    #[test]
    fn component_normalizes_name_keeps_spelling() {
        let c = Component::new(Ecosystem::parse("PyPI"), "Flask_Login", " 0.6.3 ");
        assert_eq!(c.name.key(), "flask-login");
        assert_eq!(c.name.as_str(), "Flask_Login");
        assert_eq!(c.to_string(), "PyPI:Flask_Login@0.6.3");
    }
}
