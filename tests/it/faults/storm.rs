//! Stopping a tree that fights back (issue 6.3; SPEC §1.3.3): a daemon
//! forking setsid'd children as fast as it can while being stopped, and
//! the SIGKILL phase's own wake-ups.

use std::time::Instant;

use super::assert_nothing_left;
use crate::support::*;

/// `td-forker --fork-storm` under `--stop-timeout 1s`, 20 times: the main
/// process ignores TERM and keeps forking setsid'd storm children (up to
/// 200 alive); a storm child, when TERMed, forks a replacement before it
/// exits. On even runs `--kill-mode all` TERMs every one of them, so each
/// forks a replacement during the stop, and the replacements (re-parented
/// to catchd without a SIGCHLD, so unseen until the next event) are left
/// for SIGKILL; on odd runs (`--kill-mode main`) only SIGKILL reaches them.
/// Every run: catchd empties the tree and nothing survives.
#[test]
fn fork_storm_during_stop_leaves_no_survivor_in_20_runs() {
    let f = forker();
    for run in 0..20 {
        let dir = TestDir::new("storm20");
        let mode = if run % 2 == 0 { "all" } else { "main" };
        #[rustfmt::skip]
        let args = [
            "--kill-mode", mode, "--stop-timeout", "1s", "--", &f, "--fork-storm",
        ];
        let mut c = Catchd::start(&dir, &args);
        let report = dir.report();
        let storm = || report.count(&["ready", "role=storm"]);
        assert!(
            wait_until(LIMIT, || storm() >= 20),
            "run {run}: the storm did not start: {}",
            c.log()
        );
        c.signal(libc::SIGTERM);
        c.wait_log("received SIGTERM: stopping");
        let at_stop = storm();
        let st = c.wait_exit();
        // The main process ignores TERM: SIGKILL ends it, and catchd mirrors.
        assert_eq!(signal_of(st), Some(libc::SIGKILL), "run {run}: {}", c.log());
        c.wait_log("stop timeout passed: sending SIGKILL");
        assert_nothing_left(&dir, &c);
        let total = storm();
        // Replacements: storm children forked by a TERMed storm child,
        // i.e. during the stop (the main process forks the others).
        let main = field(&report.wait_for(&["ready", "role=main"]), "pid");
        let replacements = report
            .lines()
            .iter()
            .filter(|l| l.starts_with("ready ") && l.ends_with("role=storm"))
            .filter(|l| field(l, "ppid") != main)
            .count();
        if mode == "all" {
            assert!(replacements > 0, "run {run}: no storm during the stop");
        }
        eprintln!(
            "run {run} (--kill-mode {mode}): {at_stop} storm children at TERM, \
             {total} in all ({replacements} forked during the stop), 0 survivors"
        );
    }
}

/// Regression (found by `pid_reuse`, which runs catchd with `-v` and its
/// stderr in the pidfile's directory): while SIGKILLing, a wake-up for a
/// directory event about another file ran a whole turn, i.e. one more round
/// of SIGKILLs and a debug line; that line, written into the watched
/// directory, woke catchd again. catchd spun for as long as the tree took
/// to die. Now such a wake-up is ignored.
#[test]
fn regression_kill_rounds_are_not_fed_by_catchd_s_own_log() {
    // The spin needs a process still dying when catchd looks again, which
    // is a scheduling race: 8 runs expose it almost surely (about half of
    // the runs did before the fix).
    for run in 0..8 {
        kill_rounds_with_log_in_pidfile_dir(run);
    }
}

fn kill_rounds_with_log_in_pidfile_dir(run: usize) {
    let dir = TestDir::new("kill-log");
    let f = forker();
    let p = dir.file("d.pid").display().to_string();
    let log = dir.file("catchd.log");
    let file = std::fs::File::create(&log).unwrap();
    #[rustfmt::skip]
    let args = [
        "-v", "--pidfile", &p, "--stop-timeout", "100ms", "--",
        &f, "--pidfile", &p, "--ignore", "TERM", "--workers", "1",
    ];
    let mut c = Catchd::start_with(&dir, &args, |cmd| {
        cmd.stderr(file);
    });
    let report = dir.report();
    report.wait_for(&["ready", "role=worker"]);
    let read = || std::fs::read_to_string(&log).unwrap_or_default();
    assert!(wait_until(LIMIT, || read().contains("ready: main process PID")));
    c.signal(libc::SIGTERM);
    let t0 = Instant::now();
    c.wait_exit();
    let took = t0.elapsed();
    let text = read();
    let rounds = text.matches("sending SIGKILL to").count();
    // One round at the timeout, one per event that changed something (an
    // exit) and one per 50 ms rescan; not one per line catchd logs.
    let bound = 8 + took.as_millis() as usize / 50;
    assert!(
        rounds <= bound,
        "run {run}: {rounds} SIGKILL rounds in {took:?} (bound {bound}):\n{text}"
    );
    assert_nothing_left(&dir, &c);
}
