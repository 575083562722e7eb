//! `exec`: runs a local program with the event as JSON on stdin.
//!
//! Never a shell: `argv` comes from the configuration only, verbatim (no templates — an event
//! value can never become an argument), and the program is an absolute path. The event reaches
//! the program only as the JSON document on stdin. The environment is cleared except for the
//! names in `env` and `VIGIL_IDEMPOTENCY_KEY`. The program runs in its own process group;
//! on `timeout` the whole group is killed. A non-zero exit is a (retryable) failure; stdout
//! (parsed as JSON when it is JSON) becomes the task's result. Output is capped at 64 KiB.
//!
//! ```toml
//! { action = "exec", argv = ["/usr/local/bin/isolate-host", "--reason", "vigil"],
//!   timeout = "30s", env = ["PATH"] }
//! ```

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use super::TaskRun;
use crate::config::{Builder, check_env_name};
use crate::error::ActionError;
use crate::event::escape_control;

const MAX_OUTPUT: usize = 64 * 1024;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    argv: Vec<String>,
    timeout: Option<String>,
    #[serde(default)]
    env: Vec<String>,
    cwd: Option<String>,
}

/// A configured program.
#[derive(Debug)]
pub struct Exec {
    argv: Vec<String>,
    timeout: Duration,
    env: Vec<String>,
    cwd: Option<String>,
}

impl Exec {
    pub(crate) fn build(b: &mut Builder<'_>, value: toml::Value, path: &str) -> Option<Exec> {
        let raw: Raw = b.deserialize(value, path)?;
        match raw.argv.first() {
            None => b.error(format!("{path}.argv"), "must name a program"),
            Some(p) if !Path::new(p).is_absolute() => b.error(
                format!("{path}.argv[0]"),
                format!("`{p}` must be an absolute path (exec does not search PATH)"),
            ),
            Some(_) => {}
        }
        if raw.argv.iter().any(|a| a.contains('\0')) {
            b.error(format!("{path}.argv"), "arguments cannot contain NUL");
        }
        for (i, name) in raw.env.iter().enumerate() {
            check_env_name(b, name, &format!("{path}.env[{i}]"));
        }
        if let Some(cwd) = &raw.cwd
            && !Path::new(cwd).is_absolute()
        {
            b.error(format!("{path}.cwd"), "must be an absolute path");
        }
        let timeout = b.duration(
            raw.timeout.as_deref(),
            &format!("{path}.timeout"),
            Duration::from_secs(30),
        );
        Some(Exec {
            argv: raw.argv,
            timeout,
            env: raw.env,
            cwd: raw.cwd,
        })
    }

    pub(crate) async fn run(&self, run: &TaskRun<'_>) -> Result<Value, ActionError> {
        let Some((program, args)) = self.argv.split_first() else {
            return Err(ActionError::permanent("exec: empty argv"));
        };
        let input = serde_json::to_vec(&run.document())
            .map_err(|e| ActionError::permanent(format!("exec input: {e}")))?;
        let mut command = tokio::process::Command::new(program);
        command
            .args(args)
            .env_clear()
            .env("VIGIL_IDEMPOTENCY_KEY", run.idempotency_key)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        for name in &self.env {
            if let Some(value) = run.services.env.get(name) {
                command.env(name, value);
            }
        }
        if let Some(cwd) = &self.cwd {
            command.current_dir(cwd);
        }
        let mut child = command.spawn().map_err(|e| {
            ActionError::retryable(format!("exec {}: {e}", escape_control(program)))
        })?;
        let pgid = child.id().and_then(|id| i32::try_from(id).ok());
        let stdin = child.stdin.take();
        let stdout = child.stdout.take();
        let stderr = child.stderr.take();
        let work = async {
            let feed = async {
                if let Some(mut stdin) = stdin {
                    // A program that does not read its input is not an error.
                    let _ = stdin.write_all(&input).await;
                    let _ = stdin.shutdown().await;
                }
            };
            let (_, out, err, status) =
                tokio::join!(feed, read_capped(stdout), read_capped(stderr), child.wait());
            (out, err, status)
        };
        let (out, err, status) = match tokio::time::timeout(self.timeout, work).await {
            Ok(done) => done,
            Err(_) => {
                if let Some(pgid) = pgid {
                    let _ = nix::sys::signal::killpg(
                        nix::unistd::Pid::from_raw(pgid),
                        nix::sys::signal::Signal::SIGKILL,
                    );
                }
                return Err(ActionError::retryable(format!(
                    "exec {}: timed out after {:?}, killed",
                    escape_control(program),
                    self.timeout
                )));
            }
        };
        let status = status.map_err(|e| ActionError::retryable(format!("exec wait: {e}")))?;
        let stderr_text = escape_control(&String::from_utf8_lossy(&err));
        if !status.success() {
            return Err(ActionError::retryable(format!(
                "exec {}: {status}: {}",
                escape_control(program),
                stderr_text
                    .chars()
                    .rev()
                    .take(500)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect::<String>()
            )));
        }
        let stdout_value = serde_json::from_slice::<Value>(&out)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&out).into_owned()));
        Ok(json!({ "exit_code": status.code(), "stdout": stdout_value }))
    }
}

/// Reads up to 64 KiB, then drains the rest so the child never blocks on a full pipe.
async fn read_capped<R: AsyncRead + Unpin>(reader: Option<R>) -> Vec<u8> {
    let Some(mut reader) = reader else {
        return Vec::new();
    };
    let mut kept = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match reader.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let room = MAX_OUTPUT.saturating_sub(kept.len());
                kept.extend_from_slice(buf.get(..n.min(room)).unwrap_or(&[]));
            }
        }
    }
    kept
}
