//! `vigil serve` (the server alone) and `vigil up` (server + local agent, the main job): start
//! the service from vigil-server, say where everything is, run until Ctrl-C / SIGTERM.

use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;
use vigil_server::agent::InventoryScanner;
use vigil_server::service::{self, Options};

use super::target::load_config;
use crate::Outcome;
use crate::terminal::escape;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Data directory: the store (vigil.db) and imported intel.
    #[arg(long, env = "VIGIL_DATA_DIR", default_value = "vigil-data")]
    data_dir: PathBuf,
    /// The store: a SQLite path or a `postgres://` URL shared by server replicas (overrides
    /// `[store] url`; default `<data-dir>/vigil.db`).
    #[arg(long, env = "VIGIL_STORE", value_name = "URL", hide_env_values = true)]
    store: Option<String>,
    /// Listen address (default `[server] listen`, else 127.0.0.1:7800).
    #[arg(long)]
    listen: Option<String>,
    /// Configuration file (TOML).
    #[arg(long, env = "VIGIL_CONFIG")]
    config: Option<PathBuf>,
    /// `vigil up`: also scan this path with the local agent (added to `[agent] paths`;
    /// repeatable).
    #[arg(long = "path", value_name = "PATH")]
    paths: Vec<PathBuf>,
}

pub fn run(args: ServeArgs, local_agent: bool, quiet: bool) -> anyhow::Result<Outcome> {
    let Some(mut config) = load_config(args.config.as_deref()) else {
        return Ok(Outcome::InputError);
    };
    config.agent.paths.extend(args.paths.iter().cloned());
    if let Some(url) = &args.store {
        config.store.url = Some(url.clone());
    }
    let store_hint = if config.store.url.is_some() {
        "--store \"$VIGIL_STORE\"".to_owned()
    } else {
        format!(
            "--data-dir {}",
            escape(&args.data_dir.display().to_string())
        )
    };
    let agent_paths = config.agent.paths.clone();
    let agent_interval = config.agent.interval;
    let run_agent = local_agent
        && (!config.agent.paths.is_empty()
            || config.agent.sweep_interval.is_some()
            || config.agent.processes);
    let agent_processes = config.agent.processes;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let log: Arc<dyn Fn(String) + Send + Sync> = if quiet {
            Arc::new(|_| {})
        } else {
            Arc::new(|line: String| eprintln!("vigil: {}", escape(&line)))
        };
        let started = service::start(Options {
            data_dir: args.data_dir.clone(),
            config,
            listen: args.listen.clone(),
            local_agent: run_agent.then(|| {
                Arc::new(InventoryScanner::default()) as Arc<dyn vigil_server::agent::Scanner>
            }),
            log,
        })
        .await;
        let service = match started {
            Ok(s) => s,
            Err(service::StartError::Task(e)) => return Err(anyhow::anyhow!("startup: {e}")),
            Err(e) => {
                eprintln!("vigil: {}", escape(&e.to_string()));
                return Ok(Outcome::InputError);
            }
        };
        let data = std::fs::canonicalize(&service.data_dir).unwrap_or(service.data_dir.clone());
        let api = format!("http://{}", service.listen);
        let name = if local_agent { "vigil up" } else { "vigil serve" };
        println!("{name}: ready in {} ms", service.startup.as_millis());
        println!("  data:   {} (store: {})", escape(&data.display().to_string()), escape(&service.store_location));
        println!("  api:    {api}");
        println!("  intel:  {} advisories (bundled baseline + {}/intel)", service.advisories, escape(&data.display().to_string()));
        for w in &service.intel_warnings {
            println!("  intel warning: {}", escape(w));
        }
        match (&service.agent_host, local_agent) {
            (Some(host), _) => println!(
                "  agent:  scanning {}{} every {}s as host {:?}",
                agent_paths.iter().map(|p| escape(&p.display().to_string()).into_owned()).collect::<Vec<_>>().join(", "),
                match (agent_processes, agent_paths.is_empty()) {
                    (true, true) => "running processes",
                    (true, false) => " and running processes",
                    (false, _) => "",
                },
                agent_interval.as_secs_f64(),
                escape(host)
            ),
            (None, true) => println!("  agent:  off (no [agent] paths and processes = false in the configuration; add paths, or pass --path)"),
            (None, false) => {}
        }
        match &service.admin_token {
            Some(token) => {
                println!("  admin token (shown once, stored hashed): {token}");
                println!("  query:  vigil query --server {api} --token {token} 'fetch findings'");
            }
            None => println!("  query:  vigil query --server {api} --token $VIGIL_TOKEN 'fetch findings'   (tokens: vigil token create {store_hint} --scope read)"),
        }
        println!("          vigil query {store_hint} 'fetch software_components | filter name == \"debug\"'");
        println!("          curl -H \"Authorization: Bearer $TOKEN\" -d '{{\"query\": \"fetch findings\"}}' {api}/api/v1/query");
        use std::io::Write as _;
        let _ = std::io::stdout().flush();
        service::shutdown_signal().await;
        eprintln!("vigil: stopping");
        service.shutdown();
        service.wait().await;
        Ok(Outcome::Clean)
    })
}
