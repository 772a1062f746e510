//! runit (issue 4, acceptance 2): `runsv` on a copy of
//! `examples/runit/legacyd`, controlled with `sv up/down/status`.

use super::*;

/// `sv status DIR` → Some(pid) when it says `run: ... (pid N)`.
fn run_pid(status: &str) -> Option<i32> {
    status
        .strip_prefix("run: ")
        .and_then(|rest| number_after(rest, "(pid"))
}

#[test]
fn runsv_runs_the_example_service_and_sv_up_down_status_behave() {
    let Some(bins) = require("runit", &["runsv", "sv"], "runit") else {
        return;
    };
    let mut g = Guard::new("runit");
    let svc = g.path("legacyd");
    let pidfile = g.path("legacyd.pid");
    let td = daemon(&format!(
        "--fork double --setsid --close-all-fds --pidfile {} --workers 1",
        pidfile.display()
    ));
    let run_script = read(&example("runit/legacyd/run"));
    assert!(
        run_script
            .lines()
            .any(|l| l.starts_with(&format!("exec {CATCHD} "))),
        "the run script must exec catchd"
    );
    copy_service(
        &example("runit/legacyd"),
        &svc,
        &[
            (PIDFILE, &pidfile.display().to_string()),
            (CATCHD, crate::support::catchd_bin()),
            (DAEMON, &td),
        ],
    );
    let root = g.spawn("runsv", Command::new(&bins[0]).arg(&svc));
    let sv = |args: &[&str]| run(Command::new(&bins[1]).args(args).arg(&svc));
    let status = || sv(&["status"]).1;
    let report = g.report();

    // runsv starts the service at once: `sv status` shows catchd's PID
    // (once `run` has exec'd it: runsv reports the PID from its fork), and
    // it stays there once the launcher has exited.
    let first = poll(|| run_pid(&status()).filter(|&p| comm(p) == "catchd"))
        .unwrap_or_else(|| panic!("never run catchd\n{}", g.diag()));
    g.record(first);
    let main = nth_main(&report, 1);
    report.wait_for(&["ready", "role=worker", &format!("ppid={main}")]);
    report.wait_for(&["exit", "role=launcher", "code=0"]);
    assert_eq!(pidfile_pid(&pidfile), Some(main));
    assert!(procs::descendants(first).contains(&main), "{}", g.diag());
    assert_eq!(run_pid(&status()), Some(first), "{}", g.diag());

    // `sv down` (TERM, CONT) returns once runsv saw catchd exit, and by
    // then the whole tree is gone.
    let (code, out) = sv(&["-w", "30", "down"]);
    assert_eq!(code, Some(0), "sv down said {out:?}\n{}", g.diag());
    assert!(out.starts_with("ok: down: "), "{out}");
    assert_eq!(survivors(&report.pids()), vec![], "down left\n{}", g.diag());
    assert!(!procs::alive(first));
    assert!(status().starts_with("down: "));
    assert_eq!(
        report.count(&["signal", "15", "role=main"]),
        1,
        "{}",
        g.diag()
    );

    // `sv up` starts it again (over the stale PID file), `sv down` again
    // leaves nothing.
    let (code, out) = sv(&["up"]);
    assert_eq!(code, Some(0), "sv up said {out:?}");
    let second = poll(|| run_pid(&status()).filter(|&p| p != first && comm(p) == "catchd"))
        .unwrap_or_else(|| panic!("never up again\n{}", g.diag()));
    g.record(second);
    let main2 = nth_main(&report, 2);
    assert!(procs::descendants(second).contains(&main2), "{}", g.diag());
    report.wait_for(&["ready", "role=worker", &format!("ppid={main2}")]);
    let (code, out) = sv(&["-w", "30", "down"]);
    assert_eq!(code, Some(0), "sv down said {out:?}\n{}", g.diag());
    assert_eq!(survivors(&report.pids()), vec![], "down left\n{}", g.diag());
    assert!(!procs::alive(second));

    // `sv exit`: runsv itself leaves, the service being down.
    sv(&["exit"]);
    let gone = procs::wait_until(SLOW, || g.exited(root).is_some());
    assert!(gone, "runsv did not exit\n{}", g.diag());
}
