//! Wiring: what `vigil serve` and `vigil up` run.
//!
//! [`start`] opens the store (integrity check, migrations), loads the intel (baseline plus the
//! data directory's sources), brings the store's advisory mirror up to date (detecting on
//! anything imported while the server was down), creates an admin token on first start,
//! binds the listener, and spawns:
//!
//! - the HTTP API ([`crate::api`]);
//! - the workflow dispatcher over the store outbox, woken whenever detection enqueues;
//! - the auto-resolve sweeper (every quarter grace period, between 200 ms and 30 s), which
//!   also prunes the ingest log's (host, sequence) entries older than [`DEDUP_WINDOW`] hourly;
//! - the intel watcher (the data directory's catalog, once a second: `vigil intel import`
//!   from another process takes effect without a restart; on a shared store also the store's
//!   intel generation, so intel published by another replica is in use within a second);
//! - for `vigil up`, the local agent ([`crate::agent`]).
//!
//! Everything stops on [`Service::shutdown`]: the listener drains, loops finish their pass.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::task::JoinHandle;
use vigil_store::{OpenOptions, Store, Timestamp};
use vigil_workflow::{ActionServices, Dispatcher, Outbox, ProcessEnv, SystemClock};

use crate::agent::{LocalAgent, Scanner};
use crate::api::{self, AppState, Limits};
use crate::config::{Config, DEFAULT_LISTEN};
use crate::engine::{DetectionSettings, Detector};
use crate::intel::IntelState;
use crate::lifecycle::Lifecycle;
use crate::metrics::Metrics;
use crate::outbox::StoreOutbox;
use crate::query::StoreQueryRunner;

/// How long a (host, sequence) is remembered for deduplication: longer than any agent holds a
/// snapshot in its spool. Each host's latest entry is always kept.
pub const DEDUP_WINDOW: Duration = Duration::from_secs(7 * 24 * 3600);
/// How often the data directory's intel catalog and the shared store's intel generation are
/// checked.
const INTEL_POLL: Duration = Duration::from_secs(1);
/// How often the ingest log is pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// Why the service did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The data directory could not be created.
    #[error("{}: cannot create the data directory: {source}", path.display())]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The store could not be opened.
    #[error(transparent)]
    Store(#[from] vigil_store::StoreError),
    /// The intel could not be loaded.
    #[error("intel: {0}")]
    Intel(#[from] vigil_intel::IntelError),
    /// The listen address is not valid or cannot be bound.
    #[error("cannot listen on {address}: {reason}")]
    Listen {
        /// The address.
        address: String,
        /// Why.
        reason: String,
    },
    /// A startup task failed.
    #[error("startup: {0}")]
    Task(String),
}

/// What to start.
pub struct Options {
    /// The data directory (store, intel).
    pub data_dir: PathBuf,
    /// The configuration.
    pub config: Config,
    /// Overrides `[server] listen`.
    pub listen: Option<String>,
    /// Run the local agent with this scanner (`vigil up`).
    pub local_agent: Option<Arc<dyn Scanner>>,
    /// Where log lines go.
    pub log: Arc<dyn Fn(String) + Send + Sync>,
}

/// A running service.
pub struct Service {
    /// The bound address.
    pub listen: SocketAddr,
    /// Where the store is.
    pub store_location: String,
    /// The data directory.
    pub data_dir: PathBuf,
    /// The admin token created on this first start (never shown again).
    pub admin_token: Option<String>,
    /// Advisories in the matcher.
    pub advisories: usize,
    /// Intel sources that could not be loaded.
    pub intel_warnings: Vec<String>,
    /// The local agent's host name, when it runs.
    pub agent_host: Option<String>,
    /// Time from [`start`] being called to the listener accepting.
    pub startup: Duration,
    /// The engine (for embedding and tests).
    pub detector: Arc<Detector>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("listen", &self.listen)
            .field("store_location", &self.store_location)
            .finish_non_exhaustive()
    }
}

impl Service {
    /// Asks everything to stop.
    pub fn shutdown(&self) {
        let _ = self.shutdown.send(true);
    }

    /// Waits until everything stopped (after [`Service::shutdown`] or a fatal listener error).
    pub async fn wait(self) {
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StartError> + Send + 'static,
) -> Result<T, StartError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StartError::Task(e.to_string()))?
}

/// Where the store lives: `[store] url`, else `<data-dir>/vigil.db`.
pub fn store_location(url: Option<&str>, data_dir: &std::path::Path) -> String {
    url.map(str::to_owned)
        .unwrap_or_else(|| data_dir.join("vigil.db").display().to_string())
}

/// Opens the store: `[store] url`, else `<data-dir>/vigil.db` (creating the directory).
pub fn open_store(url: Option<&str>, data_dir: &std::path::Path) -> Result<Store, StartError> {
    match url {
        Some(url) => Ok(Store::open(url)?),
        None => {
            std::fs::create_dir_all(data_dir).map_err(|source| StartError::DataDir {
                path: data_dir.to_path_buf(),
                source,
            })?;
            Ok(Store::open_sqlite(
                data_dir.join("vigil.db"),
                &OpenOptions::default(),
            )?)
        }
    }
}

/// Starts the service.
pub async fn start(options: Options) -> Result<Service, StartError> {
    let started = Instant::now();
    let Options {
        data_dir,
        config,
        listen,
        local_agent,
        log,
    } = options;
    let Config {
        server,
        store: store_section,
        agent: agent_settings,
        detection,
        workflows,
        ..
    } = config;
    let listen = listen
        .or(server.listen)
        .unwrap_or_else(|| DEFAULT_LISTEN.to_owned());
    let address: SocketAddr = listen.parse().map_err(|_| StartError::Listen {
        address: listen.clone(),
        reason: "not an address:port (e.g. 127.0.0.1:7800)".into(),
    })?;
    let workflows = Arc::new(workflows);

    // Store and intel, off the runtime.
    let (store, intel, intel_warnings) = {
        let data_dir = data_dir.clone();
        let url = store_section.url.clone();
        blocking(move || {
            let store = open_store(url.as_deref(), &data_dir)?;
            let (intel, warnings) = IntelState::open(&data_dir)?;
            Ok((Arc::new(store), Arc::new(intel), warnings))
        })
        .await?
    };
    let store_location = store.location();
    let metrics = Arc::new(Metrics::default());
    let detector = Arc::new(Detector::new(
        Arc::clone(&store),
        Arc::clone(&intel),
        Arc::clone(&workflows),
        DetectionSettings {
            grace_period: detection.grace_period,
        },
        Arc::clone(&metrics),
    ));

    // The mirror, the first admin token.
    let admin_token = {
        let detector = Arc::clone(&detector);
        let store = Arc::clone(&store);
        blocking(move || {
            detector.sync_intel(Timestamp::now())?;
            if store.tokens()?.is_empty() {
                let token = store.create_token(
                    "admin (created by the first start)",
                    &["admin".to_owned()],
                    Timestamp::now(),
                )?;
                return Ok(Some(token.secret));
            }
            Ok(None)
        })
        .await?
    };

    let (shutdown, watch_rx) = watch::channel(false);
    let mut tasks = Vec::new();

    // Actions and the dispatcher.
    let mut services =
        ActionServices::new(Arc::new(ProcessEnv)).map_err(|e| StartError::Task(e.message))?;
    services.query = Some(Arc::new(StoreQueryRunner::new(Arc::clone(&store))));
    let outbox: Arc<dyn Outbox> = Arc::new(StoreOutbox::new(Arc::clone(&store)));
    let pending = {
        let store = Arc::clone(&store);
        blocking(move || Ok(store.outbox_counts()?)).await?
    };
    if !workflows.workflows.is_empty() || pending.pending + pending.in_flight > 0 {
        let worker = format!(
            "{}:{}",
            crate::agent::system_host_name(),
            std::process::id()
        );
        let dispatcher = Dispatcher::new(
            Arc::clone(&workflows),
            outbox,
            services.clone(),
            Arc::new(SystemClock),
            worker,
        );
        let wake = Arc::clone(&dispatcher);
        detector.on_enqueue(Arc::new(move || wake.wake()));
        let mut rx = watch_rx.clone();
        tasks.push(tokio::spawn(async move {
            dispatcher
                .run_until(async move {
                    let _ = rx.wait_for(|stop| *stop).await;
                })
                .await;
        }));
    }

    // The API.
    let state = Arc::new(AppState {
        detector: Arc::clone(&detector),
        lifecycle: Lifecycle::new(Arc::clone(&store), Arc::clone(&workflows)),
        metrics: Arc::clone(&metrics),
        limits: Limits {
            max_body_bytes: server.max_body_bytes,
            max_snapshot_bytes: server.max_snapshot_bytes,
        },
        services: Some(services),
    });
    let listener =
        tokio::net::TcpListener::bind(address)
            .await
            .map_err(|e| StartError::Listen {
                address: listen.clone(),
                reason: e.to_string(),
            })?;
    let bound = listener.local_addr().map_err(|e| StartError::Listen {
        address: listen.clone(),
        reason: e.to_string(),
    })?;
    {
        let mut rx = watch_rx.clone();
        let log = Arc::clone(&log);
        let app = api::router(state);
        tasks.push(tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = rx.wait_for(|stop| *stop).await;
                })
                .await;
            if let Err(e) = served {
                log(format!("HTTP server stopped: {e}"));
            }
        }));
    }

    // Auto-resolve.
    {
        let detector = Arc::clone(&detector);
        let mut rx = watch_rx.clone();
        let log = Arc::clone(&log);
        let every =
            (detection.grace_period / 4).clamp(Duration::from_millis(200), Duration::from_secs(30));
        tasks.push(tokio::spawn(async move {
            let mut pruned = Instant::now();
            loop {
                tokio::select! {
                    _ = rx.wait_for(|stop| *stop) => return,
                    () = tokio::time::sleep(every) => {}
                }
                if pruned.elapsed() >= PRUNE_EVERY {
                    pruned = Instant::now();
                    let store = Arc::clone(detector.store());
                    let cutoff = Timestamp::now().saturating_sub(DEDUP_WINDOW);
                    if let Ok(Err(e)) =
                        tokio::task::spawn_blocking(move || store.prune_ingest_log(cutoff)).await
                    {
                        log(format!("pruning the ingest log: {e}"));
                    }
                }
                let d = Arc::clone(&detector);
                match tokio::task::spawn_blocking(move || d.auto_resolve(Timestamp::now())).await {
                    Ok(Ok(c)) if c.resolved > 0 => {
                        log(format!("auto-resolved {} finding(s)", c.resolved));
                    }
                    Ok(Err(e)) => log(format!("auto-resolve: {e}")),
                    _ => {}
                }
            }
        }));
    }

    // Intel imported or synced by another process: into the data directory (its catalog),
    // or, on a shared store, published by another replica (the store's intel generation).
    {
        let detector = Arc::clone(&detector);
        let mut rx = watch_rx.clone();
        let log = Arc::clone(&log);
        tasks.push(tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = rx.wait_for(|stop| *stop) => return,
                    () = tokio::time::sleep(INTEL_POLL) => {}
                }
                let d = Arc::clone(&detector);
                let outcome = tokio::task::spawn_blocking(move || {
                    let _changing = d.intel().changing();
                    if d.intel().changed_on_disk() {
                        let (report, warnings) = d
                            .reload_intel(Timestamp::now())
                            .map_err(|e| e.to_string())?;
                        return Ok::<_, String>(Some((report, warnings)));
                    }
                    d.catch_up(Timestamp::now()).map_err(|e| e.to_string())?;
                    Ok(None)
                })
                .await;
                match outcome {
                    Ok(Ok(Some((report, warnings)))) => {
                        for w in warnings {
                            log(format!("intel: {w}"));
                        }
                        if report.changed_advisories > 0 {
                            log(format!(
                                "intel reloaded: {} advisories changed, {} finding(s) created",
                                report.changed_advisories, report.findings.created
                            ));
                        }
                    }
                    Ok(Ok(None)) => {}
                    Ok(Err(e)) => log(format!("intel reload failed (previous intel kept): {e}")),
                    Err(e) => log(format!("intel reload failed: {e}")),
                }
            }
        }));
    }

    // The local agent.
    let mut agent_host = None;
    if let Some(scanner) = local_agent {
        let agent = {
            let detector = Arc::clone(&detector);
            blocking(move || Ok(LocalAgent::new(agent_settings, scanner, detector)?)).await?
        };
        agent_host = Some(agent.host_name().to_owned());
        tasks.push(tokio::spawn(agent.run(watch_rx.clone(), Arc::clone(&log))));
    }

    Ok(Service {
        listen: bound,
        store_location,
        data_dir,
        admin_token,
        advisories: intel.index().len(),
        intel_warnings,
        agent_host,
        startup: started.elapsed(),
        detector,
        shutdown,
        tasks,
    })
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
