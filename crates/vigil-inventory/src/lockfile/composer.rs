//! `composer.lock`: `packages` and `packages-dev` (dev-only), each with `name` and `version`.
//! Also the installed form, `vendor/composer/installed.json` (Composer 1: a list; Composer 2:
//! `{"packages": [...], "dev-package-names": [...]}`), read by the same code with evidence
//! INSTALLED through [`InstalledComposerPackages`].

use serde::Deserialize;
use vigil_core::{EcosystemKind, Evidence};

use crate::collector::{Collected, Collector, FilePattern, SourceFile};
use crate::error::CollectError;
use crate::lenient::LenientString;

/// `composer.lock`. See the module doc.
#[derive(Debug, Clone, Copy)]
pub struct ComposerLockfile;

/// `vendor/composer/installed.json`. See the module doc.
#[derive(Debug, Clone, Copy)]
pub struct InstalledComposerPackages;

#[derive(Deserialize, Default)]
#[serde(default)]
struct Package {
    name: LenientString,
    version: LenientString,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Document {
    Lock {
        #[serde(default)]
        packages: Option<Vec<Package>>,
        #[serde(default, rename = "packages-dev")]
        packages_dev: Option<Vec<Package>>,
        #[serde(default, rename = "dev-package-names")]
        dev_package_names: Option<Vec<String>>,
    },
    List(Vec<Package>),
}

fn collect_composer(
    file: &SourceFile<'_>,
    format: &'static str,
    out: &mut Collected,
) -> Result<(), CollectError> {
    let bytes = file
        .bytes
        .strip_prefix(b"\xEF\xBB\xBF")
        .unwrap_or(file.bytes);
    let doc: Option<Document> =
        serde_json::from_slice(bytes).map_err(|e| CollectError::json(format, &e))?;
    let Some(doc) = doc else {
        return Err(CollectError::syntax(format, "the document is `null`"));
    };
    let (packages, dev_packages, dev_names) = match doc {
        Document::Lock {
            packages,
            packages_dev,
            dev_package_names,
        } => (
            packages.unwrap_or_default(),
            packages_dev.unwrap_or_default(),
            dev_package_names.unwrap_or_default(),
        ),
        Document::List(packages) => (packages, Vec::new(), Vec::new()),
    };
    for (list, dev) in [(packages, false), (dev_packages, true)] {
        for package in list {
            let Some(name) = package.name.non_empty() else {
                continue;
            };
            let dev = dev || dev_names.iter().any(|d| d == name);
            out.push_new(
                EcosystemKind::Packagist,
                name,
                package.version.as_str(),
                dev,
            );
        }
    }
    Ok(())
}

impl Collector for ComposerLockfile {
    fn name(&self) -> &'static str {
        "composer-lock"
    }

    fn evidence(&self) -> Evidence {
        Evidence::Declared
    }

    fn patterns(&self) -> &'static [FilePattern] {
        &[FilePattern::Name("composer.lock")]
    }

    fn collect(&self, file: &SourceFile<'_>, out: &mut Collected) -> Result<(), CollectError> {
        collect_composer(file, "composer.lock", out)
    }
}

impl Collector for InstalledComposerPackages {
    fn name(&self) -> &'static str {
        "composer-installed"
    }

    fn evidence(&self) -> Evidence {
        Evidence::Installed
    }

    fn patterns(&self) -> &'static [FilePattern] {
        &[FilePattern::InDir("composer", "installed.json")]
    }

    fn accepts(&self, path: &std::path::Path) -> bool {
        path.file_name().is_some_and(|n| n == "installed.json")
            && path
                .parent()
                .and_then(|p| p.parent())
                .and_then(|p| p.file_name())
                .is_some_and(|n| n == "vendor")
    }

    fn collect(&self, file: &SourceFile<'_>, out: &mut Collected) -> Result<(), CollectError> {
        collect_composer(file, "installed.json", out)
    }
}
