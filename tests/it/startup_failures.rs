//! A failed start is never reported as success (SPEC §1.1.4, §1.4): the
//! daemon dying before its pidfile named it, a TERM during start-up, and a
//! handover whose pidfile never becomes valid.

use crate::support::*;

/// A launcher that exits 0 only after the process it started has ended by
/// running `child` and has been reaped (its /proc entry is gone). The
/// child runs `child` only once it has been orphaned (to catchd, or to the
/// `--contain` init): had it ended first, the shell that forked it could
/// collect its status itself. And the launcher outlives it, so that the
/// orphan is never the one process left under catchd (a launcher exiting
/// while the orphan is still dying makes it the main process for a moment:
/// right, but another story than this test's; seen under load).
fn launcher(child: &str) -> String {
    // $r: the launcher's parent, the reaper the child is orphaned to.
    let orphaned = "while read -r _ _ _ pp _ < /proc/$$/stat; [ \"$pp\" != \"$r\" ]; \
                    do sleep 0.01; done";
    format!(
        "r=$PPID; export r; c=$( (sh -c '{orphaned}; {child}' >/dev/null 2>&1 & echo $!) ); \
         while [ -e /proc/$c ]; do sleep 0.01; done; exit 0"
    )
}

#[derive(Clone, Copy, Debug)]
enum Ends {
    Code(i32),
    Signal(i32),
}

fn run_matrix_case(child: &str, pidfile: bool, expect: Ends, line: Option<&str>) {
    let dir = TestDir::new("startfail");
    let pf = dir.file("never.pid").display().to_string();
    let script = launcher(child);
    let mut args: Vec<&str> = Vec::new();
    if pidfile {
        args.extend(["--pidfile", &pf, "--start-timeout", "60s"]);
    }
    args.extend(["--", "sh", "-c", &script]);
    let mut c = Catchd::start(&dir, &args);
    let st = c.wait_exit();
    let log = c.log();
    match expect {
        Ends::Code(n) => assert_eq!(code(st), Some(n), "{child} pidfile={pidfile}:\n{log}"),
        Ends::Signal(n) => assert_eq!(signal_of(st), Some(n), "{child} pidfile={pidfile}:\n{log}"),
    }
    if let Some(line) = line {
        let said: Vec<&str> = log.lines().filter(|l| l.contains(line)).collect();
        assert_eq!(said.len(), 1, "one line saying {line:?}:\n{log}");
    }
}

fn start_up_failure_matrix() {
    let before_pidfile = Some("the daemon exited before its pidfile named it");
    let before_found = Some("the daemon exited before catchd found it");
    let segv = "ulimit -c 0; kill -SEGV $$";
    run_matrix_case("exit 3", true, Ends::Code(3), before_pidfile);
    run_matrix_case(segv, true, Ends::Signal(libc::SIGSEGV), before_pidfile);
    run_matrix_case("exit 0", true, Ends::Code(1), before_pidfile);
    run_matrix_case("exit 3", false, Ends::Code(3), before_found);
    run_matrix_case(segv, false, Ends::Signal(libc::SIGSEGV), before_found);
    // Without --pidfile the launcher was the main process and exited 0.
    run_matrix_case("exit 0", false, Ends::Code(0), None);
}

/// TERM after the launcher exited 0, before any pidfile: catchd ends as
/// the daemon did (by that TERM), not with 0.
fn term_during_start_up_ends_as_the_daemon_did() {
    let dir = TestDir::new("startterm");
    let pf = dir.file("never.pid").display().to_string();
    let mut c = Catchd::start(
        &dir,
        &[
            "--pidfile",
            &pf,
            "--start-timeout",
            "60s",
            "--",
            "sh",
            "-c",
            "sleep 1000 & exit 0",
        ],
    );
    c.wait_log("exited 0");
    c.signal(libc::SIGTERM);
    let st = c.wait_exit();
    assert_eq!(signal_of(st), Some(libc::SIGTERM), "{}", c.log());
    c.wait_log("stopped before the pidfile named a main process");
}

crate::both_modes!(
    start_up_failure_matrix,
    term_during_start_up_ends_as_the_daemon_did
);

#[test]
fn a_handover_whose_pidfile_never_becomes_valid_ends_with_124() {
    let dir = TestDir::new("handover124");
    let pf = dir.file("d.pid").display().to_string();
    // The main process writes its own PID, then on USR1 exits 0 and leaves
    // a child that never writes the pidfile.
    let script = format!("trap 'exit 0' USR1; sleep 1000 & echo $$ > {pf}; wait");
    let mut c = Catchd::start(
        &dir,
        &[
            "--pidfile",
            &pf,
            "--start-timeout",
            "1s",
            "--stop-timeout",
            "2s",
            "--",
            "sh",
            "-c",
            &script,
        ],
    );
    c.wait_log("from the pidfile");
    c.signal(libc::SIGUSR1);
    c.wait_log("waiting up to");
    let st = c.wait_exit();
    assert_eq!(code(st), Some(124), "{}", c.log());
    c.wait_log("no valid pidfile");
}
