//! Every format, found by the walker at its real on-disk location: checks the registry's
//! claims (file names, parent directories) end to end, plus ecosystem, evidence and dev flags.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use vigil_inventory::{Registry, ScanOptions, scan};

fn write(root: &Path, rel: &str, contents: &str) {
    let path = root.join(rel);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).expect("mkdir");
    }
    fs::write(path, contents).expect("write");
}

#[test]
fn each_format_is_claimed_where_it_lives() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let files: &[(&str, &str)] = &[
        (
            "venv/lib/python3.11/site-packages/requests-2.31.0.dist-info/METADATA",
            "Metadata-Version: 2.1\nName: requests\nVersion: 2.31.0\n\nbody\n",
        ),
        (
            "venv/lib/python3.11/site-packages/legacy.egg-info/PKG-INFO",
            "Name: legacy\nVersion: 0.1\n",
        ),
        (
            "usr/lib/python3/dist-packages/pycups-2.0.1.egg-info",
            "Name: pycups\nVersion: 2.0.1\n",
        ),
        (
            "conda/conda-meta/openssl-3.0.0-h1.json",
            r#"{"name":"openssl","version":"3.0.0","files":[]}"#,
        ),
        (
            "gems/ruby/3.1.0/specifications/rake-13.0.6.gemspec",
            "Gem::Specification.new do |s|\n  s.name = \"rake\".freeze\n  s.version = \"13.0.6\"\nend\n",
        ),
        (
            "php/vendor/composer/installed.json",
            r#"{"packages":[{"name":"monolog/monolog","version":"3.5.0"},{"name":"phpunit/phpunit","version":"10.0.0"}],"dev-package-names":["phpunit/phpunit"]}"#,
        ),
        (
            "dotnet/app.deps.json",
            r#"{"libraries":{"App/1.0.0":{"type":"project"},"Newtonsoft.Json/13.0.3":{"type":"package"}}}"#,
        ),
        (
            "home/.nuget/packages/newtonsoft.json/13.0.3/newtonsoft.json.nuspec",
            "<?xml version=\"1.0\"?><package xmlns=\"http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd\"><metadata><id>Newtonsoft.Json</id><version>13.0.3</version></metadata></package>",
        ),
        (
            "src/MyLib/MyLib.nuspec",
            "<package><metadata><id>MyLib</id><version>$version$</version></metadata></package>",
        ),
        ("img/etc/os-release", "ID=debian\nVERSION_ID=\"12\"\n"),
        (
            "img/var/lib/dpkg/status",
            "Package: libssl3\nStatus: install ok installed\nVersion: 3.0.11-1\n\nPackage: gone\nStatus: deinstall ok config-files\nVersion: 1\n",
        ),
        ("alp/etc/os-release", "ID=alpine\nVERSION_ID=3.18.4\n"),
        (
            "alp/lib/apk/db/installed",
            "P:musl\nV:1.2.4-r0\n\nP:zlib\nV:1.2.13-r1\n",
        ),
        (
            "py/requirements.txt",
            "flask==3.0.0\n-r requirements-dev.txt\n",
        ),
        ("py/requirements-dev.txt", "pytest==8.0.0\n"),
        ("py/requirements/base.txt", "django==5.0\n"),
        (
            "rs/Cargo.lock",
            "version = 3\n[[package]]\nname = \"serde\"\nversion = \"1.0.190\"\n",
        ),
        (
            "go/go.mod",
            "module x\n\ngo 1.22\n\nrequire github.com/pkg/errors v0.9.1\n",
        ),
        (
            "rb/Gemfile.lock",
            "GEM\n  remote: https://rubygems.org/\n  specs:\n    rack (2.2.3)\n\nPLATFORMS\n  ruby\n",
        ),
        (
            "jv/gradle.lockfile",
            "com.google.guava:guava:32.0.0-jre=compileClasspath\njunit:junit:4.13.2=testCompileClasspath\nempty=\n",
        ),
        (
            "jv/pom.xml",
            "<project><dependencies><dependency><groupId>org.slf4j</groupId><artifactId>slf4j-api</artifactId><version>2.0.9</version></dependency></dependencies></project>",
        ),
        (
            "js/yarn.lock",
            "# yarn lockfile v1\n\nleft-pad@^1.3.0:\n  version \"1.3.0\"\n",
        ),
        (
            "js/pnpm-lock.yaml",
            "lockfileVersion: '9.0'\npackages:\n  is-odd@3.0.1:\n    resolution: {integrity: sha512-x}\n",
        ),
        (
            "js/bun.lock",
            "{\"lockfileVersion\": 0, \"packages\": {\"ms\": [\"ms@2.1.3\", \"\", {}, \"sha512-x\"],},}",
        ),
        (
            "php/composer.lock",
            r#"{"packages":[{"name":"guzzlehttp/guzzle","version":"7.8.0"}],"packages-dev":[]}"#,
        ),
        (
            "cs/packages.lock.json",
            r#"{"version":1,"dependencies":{"net8.0":{"Serilog":{"type":"Direct","resolved":"3.1.1"}}}}"#,
        ),
        (
            "py/poetry.lock",
            "[[package]]\nname = \"numpy\"\nversion = \"1.26.0\"\n",
        ),
        (
            "py/Pipfile.lock",
            r#"{"default":{"six":{"version":"==1.16.0"}},"develop":{"black":{"version":"==24.1.0"}}}"#,
        ),
        // Not claimed: wrong places or names.
        ("random/METADATA", "Name: nope\nVersion: 1\n"),
        (
            "random/status",
            "Package: nope\nStatus: install ok installed\nVersion: 1\n",
        ),
        ("random/installed", "P:nope\nV:1\n"),
        ("random/x.json", r#"{"name":"nope","version":"1"}"#),
    ];
    for (rel, contents) in files {
        write(root, rel, contents);
    }
    let report = scan(
        &[root.to_path_buf()],
        &Registry::default(),
        &ScanOptions::default(),
    )
    .expect("scan");
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    let got: BTreeSet<String> = report
        .packages
        .iter()
        .map(|p| {
            format!(
                "{} {} {} {}{}",
                p.collector,
                p.component.ecosystem,
                p.component.name,
                p.component.version,
                if p.dev { " dev" } else { "" }
            )
        })
        .collect();
    let want: BTreeSet<String> = [
        "python-installed PyPI requests 2.31.0",
        "python-installed PyPI legacy 0.1",
        "python-installed PyPI pycups 2.0.1",
        "conda-installed conda openssl 3.0.0",
        "gem-installed RubyGems rake 13.0.6",
        "composer-installed Packagist monolog/monolog 3.5.0",
        "composer-installed Packagist phpunit/phpunit 10.0.0 dev",
        "dotnet-deps NuGet Newtonsoft.Json 13.0.3",
        "nuget-installed NuGet Newtonsoft.Json 13.0.3",
        "dpkg-installed Debian:12 libssl3 3.0.11-1",
        "apk-installed Alpine:v3.18 musl 1.2.4-r0",
        "apk-installed Alpine:v3.18 zlib 1.2.13-r1",
        "requirements-txt PyPI flask 3.0.0",
        "requirements-txt PyPI pytest 8.0.0 dev",
        "requirements-txt PyPI django 5.0",
        "cargo-lock crates.io serde 1.0.190",
        "go-mod Go github.com/pkg/errors 0.9.1",
        "go-mod Go stdlib 1.22",
        "gemfile-lock RubyGems rack 2.2.3",
        "gradle-lockfile Maven com.google.guava:guava 32.0.0-jre",
        "gradle-lockfile Maven junit:junit 4.13.2 dev",
        "maven-pom Maven org.slf4j:slf4j-api 2.0.9",
        "yarn-lock npm left-pad 1.3.0",
        "pnpm-lock npm is-odd 3.0.1",
        "bun-lock npm ms 2.1.3",
        "composer-lock Packagist guzzlehttp/guzzle 7.8.0",
        "nuget-lock NuGet Serilog 3.1.1",
        "poetry-lock PyPI numpy 1.26.0",
        "pipfile-lock PyPI six 1.16.0",
        "pipfile-lock PyPI black 24.1.0 dev",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    let missing: Vec<_> = want.difference(&got).collect();
    let extra: Vec<_> = got.difference(&want).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing {missing:#?}\nextra {extra:#?}"
    );
}
