//! Where `vigil query|findings|token` act: a data directory (the store file, opened beside a
//! running server if there is one), a store named by `--store` / `[store] url` (PostgreSQL
//! shared with the servers), or a server (`--server URL --token T`).

use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::{Args, ValueEnum};
use serde_json::Value;
use vigil_server::client::{Client, ClientError};
use vigil_server::config::Config;
use vigil_store::{OpenOptions, Store};

use crate::terminal::escape;

/// The options every store-facing command takes.
#[derive(Debug, Args)]
pub struct TargetArgs {
    /// Data directory holding the store.
    #[arg(
        long,
        env = "VIGIL_DATA_DIR",
        default_value = "vigil-data",
        global = true
    )]
    pub data_dir: PathBuf,
    /// The store: a SQLite path or a `postgres://` URL (overrides `[store] url` and
    /// `--data-dir`).
    #[arg(
        long,
        env = "VIGIL_STORE",
        value_name = "URL",
        hide_env_values = true,
        global = true
    )]
    pub store: Option<String>,
    /// Configuration file (`[store] url`, workflows triggered by status changes).
    #[arg(long, env = "VIGIL_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// Talk to this server instead of opening the data directory.
    #[arg(long, env = "VIGIL_SERVER", value_name = "URL", global = true)]
    pub server: Option<String>,
    /// The API token for `--server`.
    #[arg(long, env = "VIGIL_TOKEN", hide_env_values = true, global = true)]
    pub token: Option<String>,
}

/// A resolved target.
pub enum Target {
    /// A store opened directly, with the configuration's workflows.
    Local {
        /// The store.
        store: Arc<Store>,
        /// The configuration.
        config: Box<Config>,
    },
    /// A server.
    Remote(Client),
}

/// Loads `--config` (or the defaults); errors are printed, `None` means exit 2.
pub fn load_config(path: Option<&Path>) -> Option<Config> {
    let loaded = match path {
        Some(p) => Config::load(p),
        None => Config::defaults(),
    };
    match loaded {
        Ok(c) => Some(c),
        Err(errors) => {
            for e in &errors.0 {
                eprintln!("vigil: {}", escape(&e.to_string()));
            }
            None
        }
    }
}

impl TargetArgs {
    /// Opens the target; `Err` carries the message for an input error (exit 2).
    pub fn open(&self) -> Result<Target, String> {
        if let Some(url) = &self.server {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(format!(
                    "--server {url:?}: expected an http:// or https:// URL"
                ));
            }
            return Client::new(url, self.token.clone())
                .map(Target::Remote)
                .map_err(|e| e.to_string());
        }
        let Some(config) = load_config(self.config.as_deref()) else {
            return Err("the configuration has errors (above)".into());
        };
        let store = match self.store.as_ref().or(config.store.url.as_ref()) {
            Some(url) => Store::open(url),
            None => {
                let file = self.data_dir.join("vigil.db");
                if !file.exists() {
                    return Err(format!(
                        "{}: no store here; start one with `vigil up --data-dir {}` or pass --server",
                        file.display(),
                        self.data_dir.display()
                    ));
                }
                Store::open_sqlite(&file, &OpenOptions::default())
            }
        }
        .map_err(|e| e.to_string())?;
        Ok(Target::Local {
            store: Arc::new(store),
            config: Box::new(config),
        })
    }
}

/// Prints a client error; API 4xx are input errors (exit 2), the rest internal (exit 3).
pub fn report_client_error(e: &ClientError) -> anyhow::Result<crate::Outcome> {
    match e {
        ClientError::Api {
            status, message, ..
        } if (400..500).contains(status) => {
            eprintln!("vigil: {}", escape(message));
            Ok(crate::Outcome::InputError)
        }
        other => Err(anyhow::anyhow!("{other}")),
    }
}

/// How `findings list` and `workflows runs` print their rows.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    Table,
    Json,
}

/// Prints `message` (escaped: it may quote input) as an input error (exit 2).
pub fn input_error(message: &str) -> anyhow::Result<crate::Outcome> {
    eprintln!("vigil: {}", escape(message));
    Ok(crate::Outcome::InputError)
}

/// The listing plumbing `findings list` and `workflows runs` share: the rows from the store
/// (`local`) or from the server (`remote`, its answer's array `key`), printed as
/// `{"key": [...]}` JSON or as the command's `table`.
pub fn list<W>(
    target: Target,
    key: &str,
    format: Format,
    local: impl FnOnce(&Arc<Store>, &Config) -> anyhow::Result<Vec<Value>>,
    remote: impl FnOnce(&Client) -> Result<Value, ClientError>,
    table: W,
) -> anyhow::Result<crate::Outcome>
where
    W: FnOnce(&[Value], &mut BufWriter<io::StdoutLock<'static>>) -> io::Result<()>,
{
    let rows: Vec<Value> = match target {
        Target::Local { store, config } => local(&store, &config)?,
        Target::Remote(client) => match remote(&client) {
            Ok(v) => v
                .get(key)
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default(),
            Err(e) => return report_client_error(&e),
        },
    };
    let mut out = BufWriter::new(io::stdout().lock());
    match format {
        Format::Json => {
            let mut doc = serde_json::Map::new();
            doc.insert(key.to_owned(), Value::Array(rows));
            writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
        }
        Format::Table => table(&rows, &mut out)?,
    }
    out.flush()?;
    Ok(crate::Outcome::Clean)
}
