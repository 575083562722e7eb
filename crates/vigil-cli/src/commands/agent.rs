//! `vigil agent --server URL --token T`: the agent alone. It inventories `[agent] paths` (and
//! `--path`) every `[agent] interval`, spools snapshots under `--data-dir` and delivers them
//! to the server; the work is vigil-server's [`RemoteAgent`].

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use clap::Args;
use vigil_server::agent::InventoryScanner;
use vigil_server::remote::{BackoffSettings, RemoteAgent, RemoteOptions, SpoolLimits};

use super::target::load_config;
use crate::Outcome;
use crate::terminal::escape;

#[derive(Debug, Args)]
pub struct AgentArgs {
    /// The server to report to (`http://host:7800`). Repeat it, or give a comma-separated
    /// list, for server replicas sharing one store: the agent fails over to the next when one
    /// cannot take a snapshot.
    #[arg(
        long,
        env = "VIGIL_SERVER",
        value_name = "URL",
        required = true,
        value_delimiter = ','
    )]
    server: Vec<String>,
    /// An API token with the `ingest` scope.
    #[arg(long, env = "VIGIL_TOKEN", hide_env_values = true)]
    token: String,
    /// Configuration file (TOML): `[agent] paths`, `interval`, `sweep_interval`, `host_name`,
    /// `processes`.
    #[arg(long, env = "VIGIL_CONFIG")]
    config: Option<PathBuf>,
    /// The agent's own directory: the spool of unsent snapshots and the sequence state.
    #[arg(long, env = "VIGIL_AGENT_DATA_DIR", default_value = "vigil-agent")]
    data_dir: PathBuf,
    /// Also scan this path (added to `[agent] paths`; repeatable).
    #[arg(long = "path", value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// Send one full snapshot (and whatever the spool holds), then exit: 0 when delivered,
    /// 3 when it stayed in the spool.
    #[arg(long)]
    once: bool,
    /// Most snapshots kept in the spool while the server is unreachable.
    #[arg(long, default_value_t = SpoolLimits::default().max_snapshots)]
    spool_max_snapshots: usize,
    /// Most bytes kept in the spool (compressed).
    #[arg(long, default_value_t = SpoolLimits::default().max_bytes)]
    spool_max_bytes: u64,
}

pub fn run(args: AgentArgs, quiet: bool) -> anyhow::Result<Outcome> {
    if let Some(bad) = args
        .server
        .iter()
        .find(|s| !(s.starts_with("http://") || s.starts_with("https://")))
    {
        eprintln!(
            "vigil: --server {:?}: expected an http:// or https:// URL",
            escape(bad)
        );
        return Ok(Outcome::InputError);
    }
    let Some((server, fallback_servers)) = args.server.split_first() else {
        eprintln!("vigil: --server: give at least one URL");
        return Ok(Outcome::InputError);
    };
    let Some(mut config) = load_config(args.config.as_deref()) else {
        return Ok(Outcome::InputError);
    };
    config.agent.paths.extend(args.paths.iter().cloned());
    if config.agent.paths.is_empty()
        && config.agent.sweep_interval.is_none()
        && !config.agent.processes
    {
        eprintln!(
            "vigil: nothing to scan: add [agent] paths to the configuration, or pass --path (or set [agent] processes = true)"
        );
        return Ok(Outcome::InputError);
    }
    let options = RemoteOptions {
        server: server.clone(),
        fallback_servers: fallback_servers.to_vec(),
        token: args.token.clone(),
        data_dir: args.data_dir.clone(),
        settings: config.agent,
        spool: SpoolLimits {
            max_snapshots: args.spool_max_snapshots.max(1),
            max_bytes: args.spool_max_bytes,
        },
        backoff: BackoffSettings::default(),
    };
    let mut agent = match RemoteAgent::new(options, Arc::new(InventoryScanner::default())) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("vigil: {}", escape(&e.to_string()));
            return Ok(Outcome::InputError);
        }
    };
    let log: Arc<dyn Fn(String) + Send + Sync> = if quiet {
        Arc::new(|_| {})
    } else {
        Arc::new(|line: String| eprintln!("vigil: {}", escape(&line)))
    };
    if args.once {
        let (pass, delivery) = agent.run_once(4)?;
        for e in pass.errors.iter().take(10) {
            log(format!("agent: {e}"));
        }
        for why in &delivery.dropped {
            log(format!("agent: the server refused {why}"));
        }
        if let Some(why) = delivery.retry {
            return Err(anyhow::anyhow!(
                "not delivered ({why}); {} snapshot(s) kept in {}",
                agent.spool().entries().len(),
                args.data_dir.join("spool").display()
            ));
        }
        if !quiet {
            println!(
                "vigil agent: delivered {} snapshot(s) as host {:?} ({} instance(s) in the last)",
                delivery.delivered,
                escape(agent.host_name()),
                pass.instances
            );
        }
        return Ok(Outcome::Clean);
    }
    if !quiet {
        eprintln!(
            "vigil agent: reporting to {} as host {:?}; spool in {}",
            escape(&args.server.join(", ")),
            escape(agent.host_name()),
            escape(&args.data_dir.join("spool").display().to_string())
        );
    }
    let stop = Arc::new(AtomicBool::new(false));
    let worker = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || agent.run(&stop, log.as_ref()))
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(vigil_server::service::shutdown_signal());
    stop.store(true, Ordering::Relaxed);
    let _ = worker.join();
    Ok(Outcome::Clean)
}
