//! catchd itself SIGKILLed (issue 6.7; README "Limitations"): SIGKILL
//! cannot be caught and a subreaper cannot bequeath its children, so the
//! daemon survives, re-parented out of catchd's tree. Only `--contain` (a
//! PID namespace that dies with catchd) prevents that. The test shows what
//! survives, that a new catchd for the same pidfile refuses to start a
//! second copy (SPEC §1.1.7), then cleans up by recorded PID. With a
//! cgroup (`--cgroup`) the next catchd stops the leftovers instead.

use super::assert_nothing_left;
use crate::support::*;

#[test]
fn sigkill_to_catchd_leaves_the_daemon_running_outside_its_tree() {
    let dir = TestDir::new("catchd-killed");
    let f = forker();
    let p = dir.file("d.pid").display().to_string();
    // Without a cgroup: with one, the next catchd stops the leftovers
    // instead (tests/it/cgroup.rs).
    #[rustfmt::skip]
    let args = [
        "--cgroup", "off", "--pidfile", &p, "--",
        &f, "--pidfile", &p, "--setsid", "--workers", "1",
    ];
    let mut c = Catchd::start(&dir, &args);
    let report = dir.report();
    let main = field(&report.wait_for(&["ready", "role=main"]), "pid").unwrap();
    let worker = field(&report.wait_for(&["ready", "role=worker"]), "pid").unwrap();
    c.wait_log("ready: main process PID");
    assert_eq!(procs::stat(main).map(|s| s.1), Some(c.pid));

    c.signal(libc::SIGKILL);
    assert_eq!(signal_of(c.wait_exit()), Some(libc::SIGKILL));

    // What survives: the whole daemon, the main process now a child of
    // init (or of the nearest subreaper above catchd), its worker still
    // its child. Nobody signalled them, and nobody will stop them.
    let mut survivors = report.survivors();
    survivors.sort();
    let mut expected = vec![main, worker];
    expected.sort();
    assert_eq!(survivors, expected, "{:?}", report.lines());
    let parent = procs::stat(main).map(|s| s.1).unwrap();
    assert_ne!(parent, c.pid, "re-parented away from the dead catchd");
    assert_eq!(procs::stat(worker).map(|s| s.1), Some(main));
    assert_eq!(report.count(&["signal"]), 0, "{:?}", report.lines());

    // The supervisor restarts catchd: it names the orphan and exits 125
    // rather than start a second copy beside it (or adopt, or kill it).
    let mut again = Catchd::start(&dir, &args);
    assert_eq!(code(again.wait_exit()), Some(125), "{}", again.log());
    again.wait_log(&format!(
        "a previous instance is still running: PID {main} "
    ));
    assert_eq!(report.count(&["start"]), 1, "nothing was launched");
    assert!(alive(main) && alive(worker));
    assert_eq!(report.count(&["signal"]), 0, "{:?}", report.lines());

    // Clean up by recorded PID.
    for pid in [main, worker] {
        procs::kill(pid, libc::SIGKILL);
    }
    assert!(wait_until(LIMIT, || !alive(main) && !alive(worker)));
    assert_nothing_left(&dir, &c);
}
