//! `WriteTx::process_start_times`: what a finding's event carries so a quarantine signals a
//! pid only while it is still the process the agent saw — the live row of that pid on that
//! host, nothing from other hosts or gone processes.

mod common;

use common::{at, full};
use vigil_store::ProcessInfo;

fn process(pid: u32, started: i64) -> ProcessInfo {
    ProcessInfo {
        pid,
        start_time: at(started),
        exe: Some("/usr/bin/node".into()),
        cmdline: None,
        user: None,
        container_id: None,
        listening: Vec::new(),
    }
}

/// (host, pids asked, (pid, start) expected).
type Case = (&'static str, Vec<u32>, Vec<(u32, i64)>);

#[test]
fn start_times_of_live_processes_on_the_finding_host() {
    common::each(|db, store| {
        let mut web = full("web-1", 1, Vec::new());
        web.processes = vec![process(10, -50), process(11, -40)];
        store.apply_snapshot(&web, at(0)).unwrap();
        let mut other = full("web-2", 1, Vec::new());
        other.processes = vec![process(12, -30)];
        store.apply_snapshot(&other, at(0)).unwrap();
        // Pid 11 exits (a later full snapshot without it).
        let mut later = full("web-1", 2, Vec::new());
        later.processes = vec![process(10, -50)];
        store.apply_snapshot(&later, at(10)).unwrap();

        // (host, pids asked, what comes back)
        let table: [Case; 5] = [
            ("web-1", vec![10], vec![(10, -50)]),
            ("web-1", vec![11, 10, 99], vec![(10, -50)]),
            ("web-1", vec![12], vec![]),
            ("web-2", vec![12, 10], vec![(12, -30)]),
            ("nowhere", vec![10], vec![]),
        ];
        for (host, pids, want) in table {
            let got = store
                .write(|tx| tx.process_start_times(host, &pids))
                .unwrap();
            let want: Vec<_> = want.into_iter().map(|(p, t)| (p, at(t))).collect();
            assert_eq!(got, want, "{} {host} {pids:?}", db.name());
        }
    });
}
