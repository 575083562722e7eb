//! A progress line on stderr for long scans — only when stderr is a terminal, only after the
//! scan has run for a while (short scans print nothing), and never with `--quiet`.
//!
//! It reads the walker's atomic counters from a side thread every 100 ms; the walk itself never
//! waits on it.

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use vigil_inventory::ScanProgress;

/// Scans shorter than this show no progress at all.
const QUIET_FOR: Duration = Duration::from_millis(700);

/// A running progress line; dropping it (or [`ProgressLine::finish`]) clears the line.
pub struct ProgressLine {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl ProgressLine {
    /// Starts drawing `counters` when stderr is a terminal and `enabled`; otherwise does
    /// nothing.
    pub fn start(counters: Arc<ScanProgress>, enabled: bool) -> ProgressLine {
        if !enabled || !std::io::stderr().is_terminal() {
            return ProgressLine {
                stop: None,
                thread: None,
            };
        }
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            let started = Instant::now();
            let mut drawn = false;
            while let Err(RecvTimeoutError::Timeout) =
                stopped.recv_timeout(Duration::from_millis(100))
            {
                if started.elapsed() < QUIET_FOR {
                    continue;
                }
                drawn = true;
                let mut err = std::io::stderr().lock();
                let _ = write!(
                    err,
                    "\r\x1b[2Kscanning: {} dirs, {} files, {} packages, {:.1}s",
                    counters.dirs.load(Ordering::Relaxed),
                    counters.files.load(Ordering::Relaxed),
                    counters.packages.load(Ordering::Relaxed),
                    started.elapsed().as_secs_f64()
                );
                let _ = err.flush();
            }
            if drawn {
                let _ = write!(std::io::stderr().lock(), "\r\x1b[2K");
            }
        });
        ProgressLine {
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// Stops and clears the line.
    pub fn finish(mut self) {
        self.stop_now();
    }

    fn stop_now(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for ProgressLine {
    fn drop(&mut self) {
        self.stop_now();
    }
}
