//! Harmless stand-ins of compromised packages and the real interpreters that load them, for
//! the runtime tests (`vigil scan --processes`, the agents' watchers): the stand-ins are a
//! few lines of JavaScript with the name and version of a package the intel calls malicious.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A child process killed and reaped when dropped, even when the test panics.
#[derive(Debug)]
pub struct Guard(pub Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// This process's effective uid (`None` when `/proc` cannot tell).
pub fn euid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

/// Whether `program --version` runs.
pub fn have(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Writes `text` to `path`, creating its directory.
///
/// # Panics
/// When the file cannot be written (a test setup failure).
pub fn write(path: &Path, text: &str) {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    }
    std::fs::write(path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

/// Writes `app/node_modules` with a stand-in of the compromised `debug@4.4.2` (which requires
/// the clean `ms@2.1.3`) and a clean `left-pad@1.3.0` nothing requires.
pub fn node_modules(app: &Path) {
    write(
        &app.join("node_modules/debug/package.json"),
        r#"{"name": "debug", "version": "4.4.2", "main": "src/index.js"}"#,
    );
    write(
        &app.join("node_modules/debug/src/index.js"),
        "// Harmless stand-in of the compromised debug@4.4.2.\nconst ms = require('ms');\nmodule.exports = (ns) => (msg) => `${ns} ${msg} +${ms}`;\n",
    );
    write(
        &app.join("node_modules/ms/package.json"),
        r#"{"name": "ms", "version": "2.1.3", "main": "index.js"}"#,
    );
    write(
        &app.join("node_modules/ms/index.js"),
        "module.exports = 0;\n",
    );
    write(
        &app.join("node_modules/left-pad/package.json"),
        r#"{"name": "left-pad", "version": "1.3.0", "main": "index.js"}"#,
    );
    write(
        &app.join("node_modules/left-pad/index.js"),
        "module.exports = 0;\n",
    );
}

/// Starts `cmd` with piped stdin and stdout; its stdout lines arrive on the receiver (read
/// on a thread, so a silent child cannot hang the test).
///
/// # Panics
/// When the program cannot be started.
pub fn start(mut cmd: Command) -> (Guard, mpsc::Receiver<String>) {
    let mut child = Guard(
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}")),
    );
    let (tx, rx) = mpsc::channel();
    if let Some(stdout) = child.0.stdout.take() {
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
    }
    (child, rx)
}

/// The first line from `rx` containing `want` within 30 s.
///
/// # Panics
/// When none comes.
pub fn expect_line(rx: &mpsc::Receiver<String>, want: &str, who: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match rx.recv_timeout(left) {
            Ok(line) if line.contains(want) => return line,
            Ok(_) => {}
            Err(_) => break,
        }
    }
    panic!("{who} never printed {want:?}");
}
