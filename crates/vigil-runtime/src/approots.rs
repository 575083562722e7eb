//! [`AppRoots`]: where a running process resolves its packages from, and the packages
//! installed there ([`InstalledResolver`]).
//!
//! A package on disk where a running process would load it from is evidence `INSTALLED` for
//! that process's application even before any code of it runs. Where that is depends on the
//! runtime, and is derived here the way the runtime itself derives it, from the command line,
//! the working directory, a few environment variables and files next to the interpreter:
//!
//! - **node** (and bun, deno): the main script's directory and every parent's
//!   `node_modules` (node's module resolution), the working directory's chain too when code
//!   comes from `-e`/`-p`/stdin or `-r`/`--import` preloads (those resolve from the working
//!   directory), `NODE_PATH`, and `$HOME/.node_modules`, `$HOME/.node_libraries`,
//!   `$PREFIX/lib/node`.
//! - **python**: `sys.path` as `site.py` builds it — the script's directory (the working
//!   directory for `-c`, `-m` and the REPL), `PYTHONPATH` (unless `-E`/`-I`), and the
//!   site-packages of the prefix: a virtual environment's when `pyvenv.cfg` sits next to the
//!   interpreter the process was started as (`argv[0]`, searched in the process's `PATH` like
//!   a shell does; `/proc/PID/exe` already points at the base interpreter), the base
//!   prefix's when the venv includes system site-packages or there is no venv (with Debian's
//!   `dist-packages` variants), and the user site (unless `-s`, `-I`, `PYTHONNOUSERSITE` or a
//!   venv). `-S` drops site-packages entirely, as Python does.
//! - **java**: `-cp`/`-classpath`/`--class-path` (else `CLASSPATH`, else `.`), `-jar`, and
//!   `-p`/`--module-path`; `dir/*` entries and module-path directories expand to their jars.
//!
//! Every path is inside the process's mount namespace and is checked through
//! `/proc/PID/root`, so a container's application is seen as the container sees it. Only the
//! few environment variables named above are read out of `/proc/PID/environ`; nothing else
//! of the environment (which holds secrets) is kept. Bounded: at most [`MAX_ROOTS`] roots per
//! kind, however long a hostile command line is.
//!
//! [`InstalledResolver`] then runs `vigil-inventory`'s collectors on those roots — the npm
//! collector on `node_modules` trees, the Python one on `sys.path` entries, the java-archive
//! one on class-path archives — once per (mount namespace, root), and reports each package
//! with its manifest path as the process sees it.

use std::collections::HashMap;
use std::path::{Component as PathPart, Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;
use vigil_core::Component;
use vigil_inventory::installed::java_archive::InstalledJavaArchives;
use vigil_inventory::installed::npm::InstalledNpmPackages;
use vigil_inventory::installed::python::InstalledPythonDistributions;
use vigil_inventory::{Registry, ScanOptions};

use crate::kind::RuntimeKind;
use crate::process::Process;
use crate::procfs::{Pid, ProcfsRoot};

/// Bound on the roots of one kind derived for one process.
pub const MAX_ROOTS: usize = 1024;

/// Bound on the `environ` bytes looked at (the kernel caps a process's environment far above
/// anything real; this keeps a hostile one from costing more than a read).
const MAX_ENVIRON: usize = 1 << 20;

/// Where one process resolves packages from. Paths are inside its mount namespace.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct AppRoots {
    /// Directories node resolves packages in: `node_modules` directories and `NODE_PATH`
    /// entries (each holds packages directly).
    pub node_modules: Vec<PathBuf>,
    /// Python import path entries that exist (`sys.path`), in Python's order.
    pub python_path: Vec<PathBuf>,
    /// Java archives on the class path or module path.
    pub archives: Vec<PathBuf>,
}

impl AppRoots {
    /// Whether no root was found.
    pub fn is_empty(&self) -> bool {
        self.node_modules.is_empty() && self.python_path.is_empty() && self.archives.is_empty()
    }

    /// Every root, whatever its kind.
    pub fn all(&self) -> impl Iterator<Item = &PathBuf> {
        self.node_modules
            .iter()
            .chain(&self.python_path)
            .chain(&self.archives)
    }

    /// The roots of `process`, read through `procfs`. Processes that are not node, python or
    /// java have none; a process that vanished or hides its details has what could be read.
    pub fn of(procfs: &ProcfsRoot, process: &Process) -> AppRoots {
        if !matches!(
            process.kind,
            RuntimeKind::Node | RuntimeKind::Python | RuntimeKind::Java
        ) {
            return AppRoots::default();
        }
        let fs = RootFs {
            root: procfs.pid_path(process.pid, "root"),
        };
        let env = Environment::read(procfs, process.pid);
        let cwd = process.cwd.clone().unwrap_or_else(|| PathBuf::from("/"));
        let args: Vec<&str> = process.cmdline.args.iter().map(String::as_str).collect();
        let mut roots = AppRoots::default();
        match process.kind {
            RuntimeKind::Node => {
                roots.node_modules = node_roots(&fs, &args, &cwd, process.exe.as_deref(), &env)
            }
            RuntimeKind::Python => {
                roots.python_path = python_path(&fs, &args, &cwd, process.exe.as_deref(), &env)
            }
            RuntimeKind::Java => roots.archives = java_archives(&fs, &args, &cwd, &env),
            _ => {}
        }
        roots.node_modules.truncate(MAX_ROOTS);
        roots.python_path.truncate(MAX_ROOTS);
        roots.archives.truncate(MAX_ROOTS);
        roots
    }
}

/// The environment variables root derivation needs, and nothing else.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Environment {
    vars: Vec<(&'static str, String)>,
}

impl Environment {
    /// The variables read; all others are skipped unread.
    const WANTED: [&'static str; 7] = [
        "PATH",
        "HOME",
        "PYTHONPATH",
        "PYTHONNOUSERSITE",
        "NODE_PATH",
        "CLASSPATH",
        "PYTHONHOME",
    ];

    /// Parses `/proc/PID/environ` bytes (`KEY=value` entries separated by NUL); the first
    /// occurrence of a key wins, as `getenv` returns it.
    pub fn parse(bytes: &[u8]) -> Environment {
        let bytes = bytes.get(..MAX_ENVIRON).unwrap_or(bytes);
        let mut vars: Vec<(&'static str, String)> = Vec::new();
        for entry in bytes.split(|&b| b == 0) {
            let Some(eq) = entry.iter().position(|&b| b == b'=') else {
                continue;
            };
            let (key, value) = entry.split_at(eq);
            let Some(&wanted) = Self::WANTED.iter().find(|w| w.as_bytes() == key) else {
                continue;
            };
            if vars.iter().any(|(k, _)| *k == wanted) {
                continue;
            }
            let value = String::from_utf8_lossy(value.get(1..).unwrap_or_default()).into_owned();
            vars.push((wanted, value));
        }
        Environment { vars }
    }

    fn read(procfs: &ProcfsRoot, pid: Pid) -> Environment {
        procfs
            .read(pid, "environ")
            .map(|b| Environment::parse(&b))
            .unwrap_or_default()
    }

    /// The value of `key` (one of the variables read), when set.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.vars
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.as_str())
    }

    /// `key` split at `:`, empty entries dropped.
    fn list(&self, key: &str) -> impl Iterator<Item = &str> {
        self.get(key)
            .unwrap_or_default()
            .split(':')
            .filter(|s| !s.is_empty())
    }
}

/// The process's filesystem, reached through `/proc/PID/root`.
struct RootFs {
    root: PathBuf,
}

impl RootFs {
    fn host(&self, inner: &Path) -> PathBuf {
        self.root.join(inner.strip_prefix("/").unwrap_or(inner))
    }

    fn is_dir(&self, inner: &Path) -> bool {
        self.host(inner).is_dir()
    }

    fn is_file(&self, inner: &Path) -> bool {
        self.host(inner).is_file()
    }

    /// Names in a directory (at most [`MAX_ROOTS`] × 4, unsorted order sorted).
    fn names(&self, inner: &Path) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(self.host(inner)) else {
            return Vec::new();
        };
        let mut names: Vec<String> = entries
            .filter_map(|e| e.ok())
            .take(MAX_ROOTS * 4)
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        names.sort_unstable();
        names
    }

    fn read_small(&self, inner: &Path) -> Option<String> {
        let mut buf = Vec::new();
        vigil_inventory::collector::read_capped(&self.host(inner), 64 << 10, &mut buf).ok()?;
        Some(String::from_utf8_lossy(&buf).into_owned())
    }
}

/// `path` made absolute against `cwd` and normalized lexically (`.` and `..` removed, as the
/// runtimes do before touching the disk for these paths).
fn absolute(cwd: &Path, path: &str) -> PathBuf {
    let joined = if path.starts_with('/') {
        PathBuf::from(path)
    } else {
        cwd.join(path)
    };
    let mut out = PathBuf::from("/");
    for part in joined.components() {
        match part {
            PathPart::Normal(p) => out.push(p),
            PathPart::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    out
}

fn push_unique(list: &mut Vec<PathBuf>, path: PathBuf) {
    if list.len() < MAX_ROOTS && !list.contains(&path) {
        list.push(path);
    }
}

/// `dir`, its parent, …, `/`, each with `node_modules` appended, as node's resolver walks
/// them (skipping `…/node_modules/node_modules`), keeping those that exist.
fn node_modules_chain(fs: &RootFs, dir: &Path, out: &mut Vec<PathBuf>) {
    for ancestor in dir.ancestors() {
        if ancestor.file_name().is_some_and(|n| n == "node_modules") {
            continue;
        }
        let candidate = ancestor.join("node_modules");
        if fs.is_dir(&candidate) {
            push_unique(out, candidate);
        }
    }
}

/// Node options that take their value as the next argument (when not written `--opt=value`).
const NODE_VALUE_OPTIONS: &[&str] = &[
    "-r",
    "--require",
    "--import",
    "--loader",
    "--experimental-loader",
    "-C",
    "--conditions",
    "--input-type",
    "--title",
    "--env-file",
    "--disable-warning",
    "--inspect-port",
    "--debug-port",
    "--watch-path",
    "--redirect-warnings",
    "--openssl-config",
    "--icu-data-dir",
    "--diagnostic-dir",
    "--report-dir",
    "--report-directory",
    "--report-filename",
    "--report-signal",
    "--cpu-prof-dir",
    "--cpu-prof-name",
    "--heap-prof-dir",
    "--heap-prof-name",
    "--secure-heap",
    "--secure-heap-min",
    "--unhandled-rejections",
    "--dns-result-order",
    "--experimental-policy",
    "--policy-integrity",
    "--tls-keylog",
    "--trace-event-categories",
    "--trace-event-file-pattern",
    "--max-http-header-size",
    "--stack-trace-limit",
];

fn node_roots(
    fs: &RootFs,
    args: &[&str],
    cwd: &Path,
    exe: Option<&Path>,
    env: &Environment,
) -> Vec<PathBuf> {
    let mut script = None;
    let mut from_cwd = false;
    let mut i = 1;
    let mut allow_run = true;
    while let Some(&arg) = args.get(i) {
        i += 1;
        if arg == "--" {
            script = args.get(i).copied();
            break;
        }
        if matches!(
            arg,
            "-e" | "--eval" | "-p" | "--print" | "-" | "-i" | "--interactive"
        ) || arg.starts_with("--eval=")
            || arg.starts_with("--print=")
        {
            from_cwd = true;
            break;
        }
        if let Some(opt) = arg.strip_prefix('-') {
            let name = arg.split('=').next().unwrap_or(arg);
            if matches!(name, "-r" | "--require" | "--import" | "--loader") {
                from_cwd = true;
            }
            if !opt.contains('=') && NODE_VALUE_OPTIONS.contains(&arg) {
                i += 1;
            }
            continue;
        }
        // bun and deno take a subcommand before the script (`bun run x.js`, `deno run x.ts`).
        if allow_run && arg == "run" && !fs.is_file(&absolute(cwd, arg)) {
            allow_run = false;
            continue;
        }
        script = Some(arg);
        break;
    }
    let mut out = Vec::new();
    match script {
        Some(script) => {
            let path = absolute(cwd, script);
            let dir = if fs.is_dir(&path) {
                path
            } else {
                path.parent()
                    .map_or_else(|| PathBuf::from("/"), Path::to_path_buf)
            };
            node_modules_chain(fs, &dir, &mut out);
        }
        None => from_cwd = true,
    }
    if from_cwd {
        node_modules_chain(fs, cwd, &mut out);
    }
    for entry in env.list("NODE_PATH") {
        let path = absolute(cwd, entry);
        if fs.is_dir(&path) {
            push_unique(&mut out, path);
        }
    }
    let mut globals = Vec::new();
    if let Some(home) = env.get("HOME").filter(|h| h.starts_with('/')) {
        globals.push(Path::new(home).join(".node_modules"));
        globals.push(Path::new(home).join(".node_libraries"));
    }
    if let Some(prefix) = exe.and_then(Path::parent).and_then(Path::parent) {
        globals.push(prefix.join("lib/node"));
    }
    for path in globals {
        if fs.is_dir(&path) {
            push_unique(&mut out, path);
        }
    }
    out
}

/// The main program of a Python command line.
#[derive(Debug, PartialEq, Eq)]
enum PythonMain<'a> {
    Script(&'a str),
    /// `-c`, `-m`, `-` or the REPL: `sys.path[0]` is the working directory.
    FromCwd,
}

/// The interpreter flags that change `sys.path`.
#[derive(Debug, Default, PartialEq, Eq)]
struct PythonFlags {
    /// `-E` or `-I`: `PYTHON*` variables ignored.
    ignore_env: bool,
    /// `-s`, `-I`: no user site-packages.
    no_user_site: bool,
    /// `-S`: no `site` module, so no site-packages at all.
    no_site: bool,
    /// `-I` or `-P`: no script directory / working directory in `sys.path`.
    safe_path: bool,
}

fn parse_python_args<'a>(args: &[&'a str]) -> (PythonFlags, PythonMain<'a>) {
    let mut flags = PythonFlags::default();
    let mut i = 1;
    while let Some(&arg) = args.get(i) {
        i += 1;
        if arg == "--" {
            return (
                flags,
                args.get(i)
                    .map_or(PythonMain::FromCwd, |s| PythonMain::Script(s)),
            );
        }
        if arg == "-" || !arg.starts_with('-') {
            let main = if arg == "-" {
                PythonMain::FromCwd
            } else {
                PythonMain::Script(arg)
            };
            return (flags, main);
        }
        if arg.starts_with("--") {
            // `--check-hash-based-pycs MODE` is the one long option with a separate value.
            if arg == "--check-hash-based-pycs" {
                i += 1;
            }
            continue;
        }
        // Short flags may be combined (`-Bsc code`, `-Im mod`); `c`, `m`, `W`, `X` end the
        // group (their value is the rest or the next argument).
        for (at, flag) in arg.char_indices().skip(1) {
            match flag {
                'E' => flags.ignore_env = true,
                's' => flags.no_user_site = true,
                'S' => flags.no_site = true,
                'P' => flags.safe_path = true,
                'I' => {
                    flags.ignore_env = true;
                    flags.no_user_site = true;
                    flags.safe_path = true;
                }
                'c' | 'm' => return (flags, PythonMain::FromCwd),
                'W' | 'X' => {
                    if arg.len() == at + 1 {
                        i += 1;
                    }
                    break;
                }
                _ => {}
            }
        }
    }
    (flags, PythonMain::FromCwd)
}

/// `X.Y` from an interpreter file name (`python3.11` → `3.11`, `python3.13t` → `3.13`).
fn python_version_from_name(name: &str) -> Option<String> {
    let rest = name
        .strip_prefix("python")
        .or_else(|| name.strip_prefix("pypy"))?;
    let rest = rest.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let mut parts = rest.split('.');
    let (major, minor) = (parts.next()?, parts.next()?);
    (!major.is_empty()
        && !minor.is_empty()
        && major.bytes().all(|b| b.is_ascii_digit())
        && minor.bytes().all(|b| b.is_ascii_digit()))
    .then(|| format!("{major}.{minor}"))
}

/// `key = value` lines of `pyvenv.cfg` (keys case-insensitive, as `site.py` reads them).
struct VenvConfig {
    home: Option<String>,
    include_system: bool,
    version: Option<String>,
}

impl VenvConfig {
    fn parse(text: &str) -> VenvConfig {
        let mut cfg = VenvConfig {
            home: None,
            include_system: false,
            version: None,
        };
        for line in text.lines() {
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            let value = value.trim();
            match key.trim().to_ascii_lowercase().as_str() {
                "home" => cfg.home = Some(value.to_owned()),
                "include-system-site-packages" => {
                    cfg.include_system = value.eq_ignore_ascii_case("true")
                }
                "version" | "version_info" => {
                    let mut parts = value.split('.');
                    if let (Some(major), Some(minor)) = (parts.next(), parts.next()) {
                        cfg.version = Some(format!("{major}.{minor}"));
                    }
                }
                _ => {}
            }
        }
        cfg
    }
}

/// The interpreter the process was started as: `argv[0]` when it names an existing file
/// (directly or through the process's `PATH`), else the kernel's `exe` link.
fn python_executable(
    fs: &RootFs,
    args: &[&str],
    cwd: &Path,
    exe: Option<&Path>,
    env: &Environment,
) -> Option<PathBuf> {
    if let Some(argv0) = args.first().filter(|a| !a.is_empty() && !a.contains(' ')) {
        if argv0.contains('/') {
            let path = absolute(cwd, argv0);
            if fs.is_file(&path) {
                return Some(path);
            }
        } else {
            for dir in env.list("PATH").filter(|d| d.starts_with('/')) {
                let path = Path::new(dir).join(argv0);
                if fs.is_file(&path) {
                    return Some(path);
                }
            }
        }
    }
    exe.map(Path::to_path_buf)
}

/// The site-packages directories of an installation prefix, for version `version` (every
/// `python*` directory when unknown), that exist.
fn prefix_site_dirs(fs: &RootFs, prefix: &Path, version: Option<&str>, out: &mut Vec<PathBuf>) {
    let versions: Vec<String> = match version {
        Some(v) => vec![format!("python{v}")],
        None => fs
            .names(&prefix.join("lib"))
            .into_iter()
            .filter(|n| n.starts_with("python"))
            .collect(),
    };
    let mut candidates = Vec::new();
    for v in &versions {
        candidates.push(prefix.join("lib").join(v).join("site-packages"));
        candidates.push(prefix.join("lib64").join(v).join("site-packages"));
        candidates.push(prefix.join("lib").join(v).join("dist-packages"));
        if prefix == Path::new("/usr") {
            candidates.push(Path::new("/usr/local/lib").join(v).join("dist-packages"));
        }
    }
    // Debian's version-independent directory.
    candidates.push(prefix.join("lib/python3/dist-packages"));
    for path in candidates {
        if fs.is_dir(&path) {
            push_unique(out, path);
        }
    }
}

fn python_path(
    fs: &RootFs,
    args: &[&str],
    cwd: &Path,
    exe: Option<&Path>,
    env: &Environment,
) -> Vec<PathBuf> {
    let (flags, main) = parse_python_args(args);
    let mut out = Vec::new();
    if !flags.safe_path {
        let first = match main {
            PythonMain::Script(script) => {
                let path = absolute(cwd, script);
                if fs.is_dir(&path) {
                    // A directory (or zip) with `__main__.py` is itself sys.path[0].
                    path
                } else {
                    path.parent()
                        .map_or_else(|| PathBuf::from("/"), Path::to_path_buf)
                }
            }
            PythonMain::FromCwd => cwd.to_path_buf(),
        };
        if fs.is_dir(&first) {
            push_unique(&mut out, first);
        }
    }
    if !flags.ignore_env {
        for entry in env.list("PYTHONPATH") {
            let path = absolute(cwd, entry);
            if fs.is_dir(&path) {
                push_unique(&mut out, path);
            }
        }
    }
    if flags.no_site {
        return out;
    }
    let started_as = python_executable(fs, args, cwd, exe, env);
    let version = [started_as.as_deref(), exe]
        .into_iter()
        .flatten()
        .find_map(|p| python_version_from_name(p.file_name()?.to_str()?));
    // A venv: `pyvenv.cfg` beside the interpreter's directory (or in it).
    let venv = started_as
        .as_deref()
        .and_then(Path::parent)
        .and_then(|bin| {
            [bin.parent(), Some(bin)]
                .into_iter()
                .flatten()
                .find_map(|dir| {
                    let text = fs.read_small(&dir.join("pyvenv.cfg"))?;
                    Some((dir.to_path_buf(), VenvConfig::parse(&text)))
                })
        });
    let base_prefix = exe
        .and_then(Path::parent)
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .or_else(|| {
            let home = venv.as_ref()?.1.home.as_deref()?;
            Some(Path::new(home).parent()?.to_path_buf())
        });
    let no_user_site = flags.no_user_site
        || (!flags.ignore_env && env.get("PYTHONNOUSERSITE").is_some_and(|v| !v.is_empty()));
    match &venv {
        Some((root, cfg)) => {
            let version = version.as_deref().or(cfg.version.as_deref());
            prefix_site_dirs(fs, root, version, &mut out);
            if cfg.include_system {
                if let Some(base) = &base_prefix {
                    prefix_site_dirs(fs, base, version, &mut out);
                }
                if !no_user_site {
                    user_site(fs, env, version, &mut out);
                }
            }
        }
        None => {
            if let Some(base) = &base_prefix {
                prefix_site_dirs(fs, base, version.as_deref(), &mut out);
            }
            if !no_user_site {
                user_site(fs, env, version.as_deref(), &mut out);
            }
        }
    }
    out
}

fn user_site(fs: &RootFs, env: &Environment, version: Option<&str>, out: &mut Vec<PathBuf>) {
    let Some(home) = env.get("HOME").filter(|h| h.starts_with('/')) else {
        return;
    };
    let local = Path::new(home).join(".local");
    let before = out.len();
    prefix_site_dirs(fs, &local, version, out);
    // `~/.local/lib/python3/dist-packages` is not a thing; only the versioned site-packages.
    let debian = local.join("lib/python3/dist-packages");
    if let Some(at) = out.iter().skip(before).position(|p| *p == debian) {
        out.remove(before + at);
    }
}

/// Java options that take a separate value and are not class/module paths.
const JAVA_VALUE_OPTIONS: &[&str] = &[
    "--add-modules",
    "--add-opens",
    "--add-exports",
    "--add-reads",
    "--patch-module",
    "--limit-modules",
    "--upgrade-module-path",
    "--enable-native-access",
    "--illegal-access",
    "-d",
];

fn java_archives(fs: &RootFs, args: &[&str], cwd: &Path, env: &Environment) -> Vec<PathBuf> {
    let mut class_path: Option<&str> = None;
    let mut module_path: Vec<&str> = Vec::new();
    let mut jar = None;
    let mut i = 1;
    while let Some(&arg) = args.get(i) {
        i += 1;
        match arg {
            "-cp" | "-classpath" | "--class-path" => {
                class_path = args.get(i).copied();
                i += 1;
            }
            "-p" | "--module-path" => {
                module_path.extend(args.get(i).copied());
                i += 1;
            }
            "-jar" => {
                jar = args.get(i).copied();
                break;
            }
            _ if arg.starts_with("--class-path=") => {
                class_path = arg.split_once('=').map(|(_, v)| v);
            }
            _ if arg.starts_with("--module-path=") => {
                module_path.extend(arg.split_once('=').map(|(_, v)| v));
            }
            _ if JAVA_VALUE_OPTIONS.contains(&arg) => i += 1,
            _ if arg.starts_with('-') => {}
            // The main class (or `-m module`'s value was consumed above): the rest are the
            // application's own arguments.
            _ => break,
        }
    }
    let mut out = Vec::new();
    if let Some(jar) = jar {
        let path = absolute(cwd, jar);
        if fs.is_file(&path) {
            push_unique(&mut out, path);
        }
    }
    let class_path = match (jar, class_path) {
        // `-jar` ignores CLASSPATH and `-cp`: the class path is the archive's manifest's.
        (Some(_), _) => None,
        (None, Some(cp)) => Some(cp),
        (None, None) => Some(env.get("CLASSPATH").unwrap_or(".")),
    };
    let add_entry = |entry: &str, dirs_hold_jars: bool, out: &mut Vec<PathBuf>| {
        let (entry, wildcard) = match entry.strip_suffix('*') {
            Some(dir) => (dir, true),
            None => (entry, false),
        };
        let path = absolute(cwd, if entry.is_empty() { "." } else { entry });
        if (wildcard || dirs_hold_jars) && fs.is_dir(&path) {
            for name in fs.names(&path) {
                if is_archive_name(&name) {
                    let jar = path.join(name);
                    if fs.is_file(&jar) {
                        push_unique(out, jar);
                    }
                }
            }
        } else if is_archive_name(entry) && fs.is_file(&path) {
            push_unique(out, path);
        }
    };
    for entry in class_path
        .unwrap_or_default()
        .split(':')
        .filter(|e| !e.is_empty())
    {
        add_entry(entry, false, &mut out);
    }
    for entry in module_path.iter().flat_map(|m| m.split(':')) {
        if !entry.is_empty() {
            add_entry(entry, true, &mut out);
        }
    }
    out
}

fn is_archive_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    [".jar", ".war", ".ear"].iter().any(|s| lower.ends_with(s))
}

/// A package installed in an application root of a process.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct InstalledPackage {
    /// The component.
    pub component: Component,
    /// Its manifest (`package.json`, `METADATA`, the archive), inside the process's mount
    /// namespace: the same file the on-disk inventory names.
    pub manifest: PathBuf,
    /// The `vigil-inventory` collector that read it.
    pub collector: &'static str,
}

/// What could not be read while collecting a root, path inside the process's namespace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstalledError {
    /// The file or directory.
    pub path: PathBuf,
    /// The reason, as the inventory words it.
    pub reason: String,
}

/// Which collector a root gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum RootKind {
    NodeModules,
    PythonPath,
    Archive,
}

/// What one root holds.
#[derive(Debug, Default)]
struct RootContents {
    packages: Vec<InstalledPackage>,
    errors: Vec<InstalledError>,
}

/// Runs the inventory's collectors on application roots, caching per (mount namespace,
/// root): a hundred workers of one application cost one walk of its `node_modules`.
pub struct InstalledResolver {
    npm: Registry,
    python: Registry,
    cache: HashMap<(Option<u64>, RootKind, PathBuf), Arc<RootContents>>,
    capacity: usize,
}

impl std::fmt::Debug for InstalledResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InstalledResolver")
            .field("cached_roots", &self.cache.len())
            .finish()
    }
}

impl Default for InstalledResolver {
    fn default() -> Self {
        InstalledResolver::new()
    }
}

impl InstalledResolver {
    /// A resolver caching up to 10,000 roots (dropped whole when full).
    pub fn new() -> InstalledResolver {
        let mut npm = Registry::empty();
        npm.register(Box::new(InstalledNpmPackages));
        let mut python = Registry::empty();
        python.register(Box::new(InstalledPythonDistributions));
        InstalledResolver {
            npm,
            python,
            cache: HashMap::new(),
            capacity: 10_000,
        }
    }

    /// The packages installed in `roots` of process `pid` (mount namespace `mnt`), each
    /// once, with the problems met reading them. Paths are inside the process's namespace.
    pub fn installed(
        &mut self,
        procfs: &ProcfsRoot,
        pid: Pid,
        mnt: Option<u64>,
        roots: &AppRoots,
    ) -> (Vec<InstalledPackage>, Vec<InstalledError>) {
        let fs_root = procfs.pid_path(pid, "root");
        let mut packages = Vec::new();
        let mut errors = Vec::new();
        let kinds = roots
            .node_modules
            .iter()
            .map(|r| (RootKind::NodeModules, r))
            .chain(roots.python_path.iter().map(|r| (RootKind::PythonPath, r)))
            .chain(roots.archives.iter().map(|r| (RootKind::Archive, r)));
        for (kind, root) in kinds {
            let key = (mnt, kind, root.clone());
            let contents = match self.cache.get(&key) {
                Some(hit) => hit.clone(),
                None => {
                    let Some(contents) = self.collect(&fs_root, kind, root) else {
                        // The process (and its root) went away: nothing to cache.
                        continue;
                    };
                    let contents = Arc::new(contents);
                    if self.cache.len() >= self.capacity {
                        self.cache.clear();
                    }
                    self.cache.insert(key, contents.clone());
                    contents
                }
            };
            packages.extend(contents.packages.iter().cloned());
            errors.extend(contents.errors.iter().cloned());
        }
        packages.sort_by(|a, b| (&a.manifest, &a.component).cmp(&(&b.manifest, &b.component)));
        packages.dedup();
        (packages, errors)
    }

    /// Drops every cached root (e.g. between agent sweeps, so reinstalled packages show).
    pub fn clear(&mut self) {
        self.cache.clear();
    }

    fn collect(&self, fs_root: &Path, kind: RootKind, root: &Path) -> Option<RootContents> {
        let host = fs_root.join(root.strip_prefix("/").unwrap_or(root));
        let inner = |path: &Path| -> PathBuf {
            match path.strip_prefix(fs_root) {
                Ok(rest) => Path::new("/").join(rest),
                Err(_) => path.to_path_buf(),
            }
        };
        let mut contents = RootContents::default();
        match kind {
            RootKind::NodeModules | RootKind::PythonPath => {
                let (registry, max_depth) = match kind {
                    RootKind::NodeModules => (&self.npm, None),
                    // dir/x.dist-info/METADATA, dir/x.egg/EGG-INFO/PKG-INFO.
                    _ => (&self.python, Some(3)),
                };
                let options = ScanOptions {
                    threads: 1,
                    max_depth,
                    ..ScanOptions::default()
                };
                let Ok(report) = vigil_inventory::scan(&[host], registry, &options) else {
                    return Some(contents);
                };
                if report.packages.is_empty() && !fs_root.exists() {
                    return None;
                }
                for p in report.packages {
                    contents.packages.push(InstalledPackage {
                        component: p.component,
                        manifest: inner(&p.path),
                        collector: p.collector,
                    });
                }
                for e in report.errors {
                    contents.errors.push(InstalledError {
                        path: inner(&e.path),
                        reason: match e.collector {
                            Some(c) => format!("{c}: {}", e.kind),
                            None => e.kind.to_string(),
                        },
                    });
                }
            }
            RootKind::Archive => {
                let collected = vigil_inventory::collect_file(&InstalledJavaArchives, &host);
                if collected.packages.is_empty() && !fs_root.exists() {
                    return None;
                }
                for p in collected.packages {
                    contents.packages.push(InstalledPackage {
                        component: p.component,
                        manifest: root.to_path_buf(),
                        collector: p.collector,
                    });
                }
                for e in collected.errors {
                    contents.errors.push(InstalledError {
                        path: root.to_path_buf(),
                        reason: e.kind.to_string(),
                    });
                }
            }
        }
        Some(contents)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_keeps_only_wanted_variables() {
        let env = Environment::parse(
            b"SECRET=hunter2\0PATH=/venv/bin:/usr/bin\0HOME=/root\0PATH=/second\0NOEQ\0NODE_PATH=\0",
        );
        assert_eq!(env.get("PATH"), Some("/venv/bin:/usr/bin"));
        assert_eq!(env.get("HOME"), Some("/root"));
        assert_eq!(env.get("SECRET"), None);
        assert_eq!(env.get("NODE_PATH"), Some(""));
        assert_eq!(env.list("NODE_PATH").count(), 0);
        assert_eq!(env.vars.len(), 3);
    }

    #[test]
    fn python_command_lines() {
        use PythonMain::*;
        let cases: &[(&[&str], PythonMain, PythonFlags)] = &[
            (
                &["python3", "app.py", "-c", "x"],
                Script("app.py"),
                PythonFlags::default(),
            ),
            (
                &["python3", "-c", "import x"],
                FromCwd,
                PythonFlags::default(),
            ),
            (
                &["python3", "-m", "gunicorn", "app:app"],
                FromCwd,
                PythonFlags::default(),
            ),
            (&["python3"], FromCwd, PythonFlags::default()),
            (&["python3", "-"], FromCwd, PythonFlags::default()),
            (
                &["python3", "-Bsc", "code"],
                FromCwd,
                PythonFlags {
                    no_user_site: true,
                    ..PythonFlags::default()
                },
            ),
            (
                &["python3", "-I", "-W", "ignore", "x.py"],
                Script("x.py"),
                PythonFlags {
                    ignore_env: true,
                    no_user_site: true,
                    safe_path: true,
                    ..PythonFlags::default()
                },
            ),
            (
                &["python3", "-Xdev", "-S", "--", "-weird.py"],
                Script("-weird.py"),
                PythonFlags {
                    no_site: true,
                    ..PythonFlags::default()
                },
            ),
            (
                &["python3", "--check-hash-based-pycs", "always", "y.py"],
                Script("y.py"),
                PythonFlags::default(),
            ),
        ];
        for (args, main, flags) in cases {
            let (got_flags, got_main) = parse_python_args(args);
            assert_eq!((&got_flags, &got_main), (flags, main), "{args:?}");
        }
    }

    #[test]
    fn python_versions_from_names() {
        let cases = [
            ("python3.11", Some("3.11")),
            ("python3.13t", Some("3.13")),
            ("python2.7", Some("2.7")),
            ("pypy3.10", Some("3.10")),
            ("python3", None),
            ("python", None),
            ("python3.", None),
            ("node", None),
        ];
        for (name, want) in cases {
            assert_eq!(python_version_from_name(name).as_deref(), want, "{name}");
        }
    }

    #[test]
    fn paths_are_normalized_lexically() {
        let cases = [
            ("/srv", "app.js", "/srv/app.js"),
            ("/srv/x", "../app/./main.js", "/srv/app/main.js"),
            ("/", "/abs/../b", "/b"),
            ("/a", "../../..", "/"),
        ];
        for (cwd, path, want) in cases {
            assert_eq!(
                absolute(Path::new(cwd), path),
                Path::new(want),
                "{cwd} {path}"
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn hostile_command_lines_never_panic(
            args in proptest::collection::vec("\\PC{0,12}", 0..12),
            environ in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200),
        ) {
            let fs = RootFs { root: PathBuf::from("/nonexistent-vigil-root") };
            let env = Environment::parse(&environ);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let cwd = Path::new("/");
            let _ = parse_python_args(&args);
            let _ = python_path(&fs, &args, cwd, Some(Path::new("/usr/bin/python3")), &env);
            let _ = node_roots(&fs, &args, cwd, None, &env);
            let _ = java_archives(&fs, &args, cwd, &env);
        }
    }
}
