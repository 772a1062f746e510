//! The stop sequence and clean-up (issue 2: 6, 7, 10).

use crate::support::*;

/// Nothing of the daemon is left: no process of the snapshot taken while
/// it ran, and (without `--contain`, where the numbers are the host's) no
/// process it ever reported.
fn assert_all_gone(dir: &TestDir, c: &Catchd, snapshot: &[(i32, u64)]) {
    assert!(!snapshot.is_empty(), "empty snapshot");
    let left = procs::survivors(snapshot);
    assert!(left.is_empty(), "{left:?} survived:\n{}", c.log());
    if !c.contained {
        for pid in dir.report().pids() {
            assert!(
                !alive(pid),
                "PID {pid} survived:\n{}\n{:?}",
                c.log(),
                dir.report().lines()
            );
        }
    }
}

fn term_stops_main_then_workers_then_catchd_exits() {
    let dir = TestDir::new("stop");
    let f = forker();
    let mut c = Catchd::start(&dir, &["--", &f, "--workers", "2", "--worker-setsid"]);
    let report = dir.report();
    let main = field(&report.wait_for(&["ready", "role=main"]), "pid").unwrap();
    assert!(wait_until(LIMIT, || report
        .count(&["ready", "role=worker"])
        == 2));
    c.wait_log("ready: main process PID");
    let snapshot = c.snapshot();
    c.signal(libc::SIGTERM);
    assert_eq!(code(c.wait_exit()), Some(0), "{}", c.log());
    assert_eq!(report.count(&["signal", "15", &format!("pid={main}")]), 1);
    assert_eq!(
        report.count(&["signal", "15", "role=worker"]),
        2,
        "{:?}",
        report.lines()
    );
    assert!(!c.log().contains("SIGKILL"));
    assert_all_gone(&dir, &c, &snapshot);
}

fn a_term_ignoring_daemon_is_killed_after_the_stop_timeout() {
    let dir = TestDir::new("ignore-term");
    let f = forker();
    let mut c = Catchd::start(
        &dir,
        &[
            "--stop-timeout",
            "300ms",
            "--",
            &f,
            "--ignore",
            "TERM",
            "--workers",
            "1",
        ],
    );
    dir.report().wait_for(&["ready", "role=worker"]);
    c.wait_log("ready: main process PID");
    let snapshot = c.snapshot();
    c.signal(libc::SIGTERM);
    let st = c.wait_exit();
    assert_eq!(signal_of(st), Some(libc::SIGKILL), "{}", c.log());
    c.wait_log("sending SIGKILL");
    assert_all_gone(&dir, &c, &snapshot);
}

#[test]
fn a_daemon_forking_during_the_stop_leaves_no_survivor() {
    let dir = TestDir::new("storm");
    let f = forker();
    let mut c = Catchd::start(&dir, &["--stop-timeout", "300ms", "--", &f, "--fork-storm"]);
    let report = dir.report();
    assert!(wait_until(LIMIT, || report.count(&["ready", "role=storm"]) >= 20));
    let snapshot = c.snapshot();
    c.signal(libc::SIGTERM);
    c.wait_exit();
    assert_all_gone(&dir, &c, &snapshot);
}

#[test]
fn kill_mode_all_signals_every_descendant() {
    let dir = TestDir::new("kill-all");
    let f = forker();
    // HUP does not end td-forker: each process records it, so the test
    // sees who got the stop signal while the main process still lives.
    let mut c = Catchd::start(
        &dir,
        &[
            "--kill-mode",
            "all",
            "--stop-signal",
            "HUP",
            "--stop-timeout",
            "5s",
            "--",
            &f,
            "--workers",
            "2",
            "--worker-setsid",
        ],
    );
    let report = dir.report();
    assert!(wait_until(LIMIT, || report
        .count(&["ready", "role=worker"])
        == 2));
    c.wait_log("ready: main process PID");
    let snapshot = c.snapshot();
    c.signal(libc::SIGTERM);
    assert!(
        wait_until(LIMIT, || report.count(&["signal", "1"]) == 3),
        "{:?}",
        report.lines()
    );
    assert_eq!(report.count(&["signal", "1", "role=main"]), 1);
    c.signal(libc::SIGINT); // a second stop signal is forwarded: main exits
    c.wait_exit();
    assert_all_gone(&dir, &c, &snapshot);
}

#[test]
fn wait_all_keeps_catchd_until_workers_exit_by_themselves() {
    let dir = TestDir::new("wait-all");
    let f = forker();
    let mut c = Catchd::start(
        &dir,
        &[
            "--wait-all",
            "--",
            &f,
            "--workers",
            "2",
            "--worker-exit-after",
            "1500ms",
            "--exit-after",
            "200ms",
            "--exit-code",
            "6",
        ],
    );
    let report = dir.report();
    report.wait_for(&["exit", "role=main"]);
    c.wait_log("--wait-all: waiting");
    let st = c.wait_exit();
    assert_eq!(code(st), Some(6), "{}", c.log());
    assert_eq!(
        report.count(&["exit", "role=worker", "code=0"]),
        2,
        "{:?}",
        report.lines()
    );
    assert_eq!(
        report.count(&["signal"]),
        0,
        "nothing may be signalled: {:?}",
        report.lines()
    );
}

fn main_dying_with_workers_alive_stops_them_and_mirrors_main() {
    let dir = TestDir::new("main-dies");
    let f = forker();
    let mut c = Catchd::start(
        &dir,
        &[
            "--",
            &f,
            "--workers",
            "2",
            "--exit-after",
            "300ms",
            "--exit-code",
            "4",
        ],
    );
    let report = dir.report();
    assert!(wait_until(LIMIT, || report
        .count(&["ready", "role=worker"])
        == 2));
    let snapshot = c.snapshot();
    let st = c.wait_exit();
    assert_eq!(code(st), Some(4), "{}", c.log());
    assert_eq!(
        report.count(&["signal", "15", "role=worker"]),
        2,
        "{:?}",
        report.lines()
    );
    assert_all_gone(&dir, &c, &snapshot);
}

#[test]
fn orphaned_grandchildren_leave_no_zombie_under_catchd() {
    let dir = TestDir::new("orphans");
    let f = forker();
    let mut c = Catchd::start(&dir, &["--", &f, "--orphans", "200"]);
    dir.report().wait_for(&["orphans-done", "count=200"]);
    let zombies = || {
        procs::children_of(c.pid)
            .into_iter()
            .filter(|p| procs::is_zombie(*p))
            .count()
    };
    let others = || procs::children_of(c.pid).len();
    // Every orphan ends within ~50 ms; then only the main process is left.
    assert!(
        wait_until(LIMIT, || others() == 1 && zombies() == 0),
        "{} children, {} zombies",
        others(),
        zombies()
    );
    c.signal(libc::SIGTERM);
    assert_eq!(code(c.wait_exit()), Some(0));
}

crate::both_modes!(
    term_stops_main_then_workers_then_catchd_exits,
    a_term_ignoring_daemon_is_killed_after_the_stop_timeout,
    main_dying_with_workers_alive_stops_them_and_mirrors_main,
);
