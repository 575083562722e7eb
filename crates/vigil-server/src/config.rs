//! The server's part of vigil's TOML configuration — `[server]`, `[store]`, `[agent]`,
//! `[detection]` — parsed with the workflow sections (`[[workflows]]`, `[[owners]]`,
//! `[delivery]`, handed to vigil-workflow) from one file, with every problem reported as
//! `file: key.path: reason`.
//!
//! ```toml
//! [server]
//! listen = "127.0.0.1:7800"
//! max_body_bytes = 33554432          # compressed request body
//! max_snapshot_bytes = 268435456     # decoded snapshot
//!
//! [store]
//! url = "sqlite:/var/lib/vigil/vigil.db"   # default: <data-dir>/vigil.db
//!
//! [agent]                            # the local agent of `vigil up`, and `vigil agent`
//! paths = ["/srv", "/opt/app"]
//! interval = "60s"
//! processes = true                   # running processes, what they load, their app roots
//!                                    # (default: true when root with a readable /proc)
//! sweep_interval = "24h"             # full-disk sweep of `sweep_paths` (default: off)
//! sweep_paths = ["/"]
//! host_name = "web-1"                # default: the system's host name
//!
//! [detection]
//! grace_period = "2h"
//! ```
//!
//! Unknown keys are errors (a misspelt `grace_perod` must not silently keep the default);
//! unknown top-level tables are errors too, except those other parts of vigil own.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use vigil_workflow::config::parse_duration;
use vigil_workflow::{ConfigError, ConfigErrors, WorkflowSet};

use crate::filter::QueryFilters;

/// The default listen address (loopback only: exposing the API is a decision).
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7800";

/// Top-level tables this file may hold.
const KNOWN_TABLES: [&str; 8] = [
    "server",
    "store",
    "agent",
    "detection",
    "workflows",
    "owners",
    "delivery",
    "intel",
];

/// `[server]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerSection {
    /// Listen address.
    pub listen: Option<String>,
    /// Largest request body as sent (compressed), bytes.
    pub max_body_bytes: usize,
    /// Largest snapshot once decoded, bytes.
    pub max_snapshot_bytes: usize,
}

impl Default for ServerSection {
    fn default() -> Self {
        ServerSection {
            listen: None,
            max_body_bytes: 32 << 20,
            max_snapshot_bytes: 256 << 20,
        }
    }
}

/// `[store]`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StoreSection {
    /// Where the store is (`sqlite:PATH`, a path, `postgres://…`); default
    /// `<data-dir>/vigil.db`.
    pub url: Option<String>,
}

/// `[agent]`: what the local agent of `vigil up` looks at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentSection {
    /// Paths scanned every `interval`.
    pub paths: Vec<PathBuf>,
    /// How often (default 60 s).
    pub interval: Duration,
    /// How often to sweep `sweep_paths` (default: never).
    pub sweep_interval: Option<Duration>,
    /// What a sweep covers (default `/`).
    pub sweep_paths: Vec<PathBuf>,
    /// The host name reported (default: the system's).
    pub host_name: Option<String>,
    /// Also report running processes: what they load (`LOADED`, with pids and containers)
    /// and what is installed where they resolve packages from; with root, a fanotify watcher
    /// reports new loads (and package files written under `paths`) within a second. A configuration file without the key gets
    /// [`processes_by_default`]; this struct's `Default` is off, so embedding code opts in.
    pub processes: bool,
}

impl Default for AgentSection {
    fn default() -> Self {
        AgentSection {
            paths: Vec::new(),
            interval: Duration::from_secs(60),
            sweep_interval: None,
            sweep_paths: vec![PathBuf::from("/")],
            host_name: None,
            processes: false,
        }
    }
}

/// `[agent] processes` when the file does not say: on when running as root with a readable
/// `/proc` — without root, other users' processes cannot be read and the watcher cannot run,
/// so the sweep would see little more than vigil itself.
pub fn processes_by_default() -> bool {
    std::fs::read("/proc/self/status")
        .ok()
        .and_then(|status| vigil_runtime::process::parse_status_uids(&status))
        .is_some_and(|(_, euid)| euid == 0)
}

/// `[detection]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DetectionSection {
    /// How long a component must be gone before its findings resolve (default 2 h).
    pub grace_period: Duration,
}

impl Default for DetectionSection {
    fn default() -> Self {
        DetectionSection {
            grace_period: Duration::from_secs(2 * 3600),
        }
    }
}

/// The whole configuration.
#[derive(Debug)]
pub struct Config {
    /// The file it came from.
    pub file: String,
    /// `[server]`.
    pub server: ServerSection,
    /// `[store]`.
    pub store: StoreSection,
    /// `[agent]`.
    pub agent: AgentSection,
    /// `[detection]`.
    pub detection: DetectionSection,
    /// `[[workflows]]`, `[[owners]]`, `[delivery]`.
    pub workflows: WorkflowSet,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawServer {
    listen: Option<String>,
    max_body_bytes: Option<usize>,
    max_snapshot_bytes: Option<usize>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawStore {
    url: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawAgent {
    #[serde(default)]
    paths: Vec<PathBuf>,
    interval: Option<String>,
    sweep_interval: Option<String>,
    sweep_paths: Option<Vec<PathBuf>>,
    host_name: Option<String>,
    processes: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawDetection {
    grace_period: Option<String>,
}

struct Errors<'a> {
    file: &'a str,
    list: Vec<ConfigError>,
}

impl Errors<'_> {
    fn push(&mut self, key: impl Into<String>, reason: impl Into<String>) {
        self.list.push(ConfigError {
            file: self.file.to_owned(),
            key: key.into(),
            reason: reason.into(),
        });
    }

    fn section<T: for<'de> Deserialize<'de> + Default>(
        &mut self,
        table: &toml::Table,
        name: &str,
    ) -> T {
        let Some(value) = table.get(name) else {
            return T::default();
        };
        match serde_path_to_error::deserialize::<_, T>(value.clone()) {
            Ok(v) => v,
            Err(e) => {
                let path = e.path().to_string();
                let key = if path == "." || path.is_empty() {
                    name.to_owned()
                } else {
                    format!("{name}.{path}")
                };
                self.push(key, e.into_inner().to_string());
                T::default()
            }
        }
    }

    fn duration(&mut self, key: &str, text: Option<&str>, default: Duration) -> Duration {
        match text {
            None => default,
            Some(t) => match parse_duration(t) {
                Some(d) if !d.is_zero() => d,
                _ => {
                    self.push(
                        key,
                        format!("{t:?} is not a duration (write e.g. \"500ms\", \"60s\", \"2h\")"),
                    );
                    default
                }
            },
        }
    }
}

impl Config {
    /// No file: every default, no workflows.
    pub fn defaults() -> Result<Config, ConfigErrors> {
        Config::parse("<defaults>", "")
    }

    /// Parses a configuration file's text; `file` names it in errors.
    pub fn parse(file: &str, text: &str) -> Result<Config, ConfigErrors> {
        let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            ConfigErrors(vec![ConfigError {
                file: file.to_owned(),
                key: String::new(),
                reason: format!("not valid TOML: {}", e.to_string().trim_end()),
            }])
        })?;
        let mut errors = Errors {
            file,
            list: Vec::new(),
        };
        for key in table.keys() {
            if !KNOWN_TABLES.contains(&key.as_str())
                && !matches!(key.as_str(), "workflow" | "owner")
            {
                errors.push(
                    key.clone(),
                    format!("unknown section; known: {}", KNOWN_TABLES.join(", ")),
                );
            }
        }
        let raw_server: RawServer = errors.section(&table, "server");
        let raw_store: RawStore = errors.section(&table, "store");
        let raw_agent: RawAgent = errors.section(&table, "agent");
        let raw_detection: RawDetection = errors.section(&table, "detection");
        let defaults = ServerSection::default();
        let server = ServerSection {
            listen: raw_server.listen,
            max_body_bytes: raw_server.max_body_bytes.unwrap_or(defaults.max_body_bytes),
            max_snapshot_bytes: raw_server
                .max_snapshot_bytes
                .unwrap_or(defaults.max_snapshot_bytes),
        };
        if let Some(listen) = &server.listen
            && listen.parse::<std::net::SocketAddr>().is_err()
        {
            errors.push(
                "server.listen",
                format!("{listen:?} is not an address:port (e.g. \"127.0.0.1:7800\")"),
            );
        }
        let agent_defaults = AgentSection::default();
        let agent = AgentSection {
            paths: raw_agent.paths,
            interval: errors.duration(
                "agent.interval",
                raw_agent.interval.as_deref(),
                agent_defaults.interval,
            ),
            sweep_interval: raw_agent.sweep_interval.as_deref().and_then(|t| {
                let d = errors.duration("agent.sweep_interval", Some(t), Duration::ZERO);
                (!d.is_zero()).then_some(d)
            }),
            sweep_paths: raw_agent.sweep_paths.unwrap_or(agent_defaults.sweep_paths),
            host_name: raw_agent.host_name,
            processes: raw_agent.processes.unwrap_or_else(processes_by_default),
        };
        let detection = DetectionSection {
            grace_period: errors.duration(
                "detection.grace_period",
                raw_detection.grace_period.as_deref(),
                DetectionSection::default().grace_period,
            ),
        };
        let workflows = match WorkflowSet::from_table(file, &table, &QueryFilters) {
            Ok(w) => Some(w),
            Err(ConfigErrors(list)) => {
                errors.list.extend(list);
                None
            }
        };
        match workflows {
            Some(workflows) if errors.list.is_empty() => Ok(Config {
                file: file.to_owned(),
                server,
                store: StoreSection { url: raw_store.url },
                agent,
                detection,
                workflows,
            }),
            _ => Err(ConfigErrors(errors.list)),
        }
    }

    /// Reads and parses a configuration file.
    pub fn load(path: &std::path::Path) -> Result<Config, ConfigErrors> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigErrors(vec![ConfigError {
                file: file.clone(),
                key: String::new(),
                reason: format!("cannot read: {e}"),
            }])
        })?;
        Config::parse(&file, &text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_configuration_parses() {
        let c = Config::parse(
            "vigil.toml",
            r#"
[server]
listen = "127.0.0.1:9000"
[store]
url = "sqlite:/tmp/x.db"
[agent]
paths = ["/srv"]
interval = "2s"
sweep_interval = "24h"
processes = false
[detection]
grace_period = "1s"
[[workflows]]
name = "w"
filter = 'event.type == "VULNERABILITY_FINDING"'
tasks = [{ action = "webhook", url = "http://127.0.0.1:1/x" }]
"#,
        )
        .unwrap();
        assert_eq!(c.server.listen.as_deref(), Some("127.0.0.1:9000"));
        assert_eq!(c.agent.paths, vec![PathBuf::from("/srv")]);
        assert_eq!(c.agent.interval, Duration::from_secs(2));
        assert_eq!(c.agent.sweep_interval, Some(Duration::from_secs(86_400)));
        assert!(!c.agent.processes);
        assert_eq!(c.detection.grace_period, Duration::from_secs(1));
        assert_eq!(c.workflows.workflows.len(), 1);
        let d = Config::defaults().unwrap();
        assert_eq!(d.detection.grace_period, Duration::from_secs(7200));
        assert!(d.agent.sweep_interval.is_none());
        assert_eq!(d.agent.processes, processes_by_default());
        let on = Config::parse("v.toml", "[agent]\nprocesses = true").unwrap();
        assert!(on.agent.processes);
        let bad = Config::parse("v.toml", "[agent]\nprocesses = \"yes\"").unwrap_err();
        assert!(bad.to_string().contains("agent.processes"), "{bad}");
    }

    #[test]
    fn every_problem_is_reported_with_its_key() {
        let err = Config::parse(
            "vigil.toml",
            r#"
[server]
listen = "everywhere"
[agent]
interval = "soon"
pathz = []
[detection]
grace_perod = "1h"
[serve]
x = 1
[[workflows]]
name = "w"
filter = 'hostname == "x"'
tasks = []
"#,
        )
        .unwrap_err();
        let text = err.to_string();
        for want in [
            "vigil.toml: serve: unknown section",
            "vigil.toml: server.listen: \"everywhere\" is not an address",
            "vigil.toml: agent.pathz: unknown field `pathz`",
            "vigil.toml: detection.grace_perod: unknown field `grace_perod`",
            "vigil.toml: workflows[0].filter",
        ] {
            assert!(text.contains(want), "{want}\n---\n{text}");
        }
        let two = Config::parse(
            "v.toml",
            "[server]\nlisten = \"everywhere\"\n[detection]\ngrace_perod = \"1h\"",
        )
        .unwrap_err();
        assert_eq!(two.0.len(), 2, "{two}");
        let bad = Config::parse("v.toml", "[agent]\ninterval = \"soon\"").unwrap_err();
        assert!(
            bad.to_string()
                .contains("agent.interval: \"soon\" is not a duration")
        );
        assert!(Config::parse("v.toml", "[[x").is_err());
    }
}
