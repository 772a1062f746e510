//! s6 (issue 4, acceptance 3): `s6-supervise` on a copy of
//! `examples/s6/legacyd` (with `notification-fd`): `s6-svwait -U` returns
//! only once the daemon is ready, `s6-svc -d` stops everything.

use super::*;

/// The number in a one-line service-directory file.
fn number_file(path: &Path) -> u64 {
    read(path)
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("{} is not a number", path.display()))
}

#[test]
fn s6_svwait_up_returns_only_once_the_daemon_is_ready_and_svc_down_stops_everything() {
    let names = ["s6-supervise", "s6-svc", "s6-svwait", "s6-svstat"];
    let Some(bins) = require("s6", &names, "s6") else {
        return;
    };
    let [supervise, svc_bin, svwait, svstat] = [0, 1, 2, 3].map(|i| bins[i].clone());
    let mut g = Guard::new("s6");
    let svc = g.path("legacyd");
    let pidfile = g.path("legacyd.pid");
    // The daemon writes its PID file 700 ms after its launcher has exited:
    // readiness must wait for the file, not for the launcher.
    let td = daemon(&format!(
        "--fork double --setsid --pidfile {} --pidfile-when late --pidfile-delay 700ms --workers 1",
        pidfile.display()
    ));
    let src = example("s6/legacyd");
    assert_eq!(number_file(&src.join("notification-fd")), 3);
    assert!(read(&src.join("run")).contains(&format!("exec {CATCHD} --ready-fd 3 ")));
    assert!(
        number_file(&src.join("timeout-kill")) > 10_000,
        "timeout-kill ≤ --stop-timeout"
    );
    assert!(read(&src.join("run")).contains("--stop-timeout 10s "));
    copy_service(
        &src,
        &svc,
        &[
            (PIDFILE, &pidfile.display().to_string()),
            (CATCHD, crate::support::catchd_bin()),
            (DAEMON, &td),
        ],
    );
    // The test's own addition: start the service down, so that
    // s6-svwait is listening before `s6-svc -u` starts it.
    std::fs::write(svc.join("down"), "").expect("down file");
    let root = g.spawn("s6-supervise", Command::new(&supervise).arg(&svc));
    let svstat_out = || run(Command::new(&svstat).arg(&svc));
    let down = poll(|| {
        let (code, out) = svstat_out();
        (code == Some(0) && out.starts_with("down")).then_some(())
    });
    assert!(down.is_some(), "s6-supervise never answered\n{}", g.diag());

    let waiter = g.spawn(
        "s6-svwait",
        Command::new(&svwait).args(["-U", "-t", "30000"]).arg(&svc),
    );
    let (code, out) = run(Command::new(&svc_bin).arg("-u").arg(&svc));
    assert_eq!(code, Some(0), "s6-svc -u said {out:?}");

    // Until s6-svwait returns, watch for the moment that proves it waits
    // for readiness: the launcher is gone but the PID file is not there.
    let report = g.report();
    let mut saw_gap = false;
    let mut status = None;
    let returned = procs::wait_until(SLOW, || {
        let launcher_gone = report.count(&["exit", "role=launcher"]) > 0;
        let file = pidfile_pid(&pidfile);
        status = g.exited(waiter);
        saw_gap |= status.is_none() && launcher_gone && file.is_none();
        status.is_some()
    });
    assert!(returned, "s6-svwait -U never returned\n{}", g.diag());
    // It returned: the PID file must already name the live main process.
    let named = pidfile_pid(&pidfile);
    assert!(
        named.is_some_and(|p| comm(p) == "td-forker" && procs::alive(p)),
        "s6-svwait -U returned before the PID file was valid ({named:?})\n{}",
        g.diag()
    );
    assert!(status.unwrap().success(), "s6-svwait failed\n{}", g.diag());
    assert!(
        saw_gap,
        "never saw s6-svwait still waiting between the launcher's exit and the PID file\n{}",
        g.diag()
    );
    let main = nth_main(&report, 1);
    assert_eq!(named, Some(main));
    let (_, stat) = svstat_out();
    let catchd = number_after(&stat, "(pid").unwrap_or_else(|| panic!("s6-svstat: {stat}"));
    g.record(catchd);
    assert_eq!(comm(catchd), "catchd", "{stat}\n{}", g.diag());
    assert!(stat.contains("ready"), "s6-svstat: {stat}");
    assert!(procs::descendants(catchd).contains(&main), "{}", g.diag());
    report.wait_for(&["ready", "role=worker", &format!("ppid={main}")]);

    // `s6-svc -d` (TERM, CONT): once s6-supervise has seen catchd exit,
    // nothing of the daemon is left.
    let (code, out) = run(Command::new(&svc_bin).arg("-d").arg(&svc));
    assert_eq!(code, Some(0), "s6-svc -d said {out:?}");
    let (code, out) = run(Command::new(&svwait).args(["-D", "-t", "30000"]).arg(&svc));
    assert_eq!(code, Some(0), "s6-svwait -D said {out:?}\n{}", g.diag());
    assert_eq!(survivors(&report.pids()), vec![], "down left\n{}", g.diag());
    assert!(!procs::alive(catchd));
    assert!(svstat_out().1.starts_with("down"));
    assert_eq!(
        report.count(&["signal", "15", "role=main"]),
        1,
        "{}",
        g.diag()
    );

    // `s6-svc -x`: s6-supervise itself leaves.
    run(Command::new(&svc_bin).arg("-x").arg(&svc));
    let gone = procs::wait_until(SLOW, || g.exited(root).is_some());
    assert!(gone, "s6-supervise did not exit\n{}", g.diag());
}
