//! .NET applications: `<app>.deps.json`, written beside every built or published app. Its
//! `libraries` map `Name/Version` to `{ "type": "package" | "project" | "reference", … }`;
//! NuGet packages (`type: package`) are what the app loads at run time, so they count as
//! installed. Projects and framework references are the app's own code and are skipped.

use serde::Deserialize;
use vigil_core::{EcosystemKind, Evidence};

use crate::collector::{Collected, Collector, FilePattern, SourceFile};
use crate::error::CollectError;
use crate::lenient::{Entries, LenientString};

/// `*.deps.json`. See the module doc.
#[derive(Debug, Clone, Copy)]
pub struct InstalledDotnetPackages;

#[derive(Deserialize, Default)]
#[serde(default)]
struct DepsJson {
    libraries: Entries<Library>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Library {
    #[serde(rename = "type")]
    kind: LenientString,
}

impl Collector for InstalledDotnetPackages {
    fn name(&self) -> &'static str {
        "dotnet-deps"
    }

    fn evidence(&self) -> Evidence {
        Evidence::Installed
    }

    fn patterns(&self) -> &'static [FilePattern] {
        &[FilePattern::Suffix(".deps.json")]
    }

    fn collect(&self, file: &SourceFile<'_>, out: &mut Collected) -> Result<(), CollectError> {
        let bytes = file
            .bytes
            .strip_prefix(b"\xEF\xBB\xBF")
            .unwrap_or(file.bytes);
        let deps: DepsJson =
            serde_json::from_slice(bytes).map_err(|e| CollectError::json("deps.json", &e))?;
        for (key, library) in deps.libraries.0 {
            if library.kind.as_str() != "package" {
                continue;
            }
            match key.split_once('/') {
                Some((name, version)) => out.push_new(EcosystemKind::NuGet, name, version, false),
                None => out.warn(CollectError::field(
                    format!("libraries.{key:?}"),
                    "expected `Name/Version`",
                )),
            }
        }
        Ok(())
    }
}
