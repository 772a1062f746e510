//! Forwarding (issue 2: 5).

use crate::support::*;

fn signals_reach_the_main_process_in_order() {
    let dir = TestDir::new("forward");
    let f = forker();
    let pidfile = dir.file("d.pid").display().to_string();
    let mut c = Catchd::start(
        &dir,
        &[
            "--pidfile",
            &pidfile,
            "--",
            &f,
            "--pidfile",
            &pidfile,
            "--fork",
            "double",
            "--setsid",
        ],
    );
    let report = dir.report();
    let main = field(&report.wait_for(&["ready", "role=main"]), "pid").unwrap();
    c.wait_log("ready: main process PID");
    let sent = [
        libc::SIGHUP,
        libc::SIGUSR1,
        libc::SIGUSR2,
        libc::SIGWINCH,
        libc::SIGQUIT,
    ];
    for (i, sig) in sent.iter().enumerate() {
        c.signal(*sig);
        // Wait for each to arrive before the next: pending standard
        // signals would otherwise be read lowest number first.
        assert!(
            wait_until(LIMIT, || report.count(&["signal"]) == i + 1),
            "{:?}",
            report.lines()
        );
    }
    let got: Vec<i32> = report
        .lines()
        .iter()
        .filter(|l| l.starts_with("signal "))
        .map(|l| {
            assert_eq!(field(l, "pid"), Some(main), "{l}");
            l.split_whitespace().nth(1).unwrap().parse().unwrap()
        })
        .collect();
    assert_eq!(got, sent);
    // QUIT made the daemon exit 0; catchd follows.
    assert_eq!(code(c.wait_exit()), Some(0), "{}", c.log());
}

fn signal_map_turns_term_into_quit() {
    let dir = TestDir::new("map");
    let f = forker();
    let mut c = Catchd::start(
        &dir,
        &["--signal-map", "TERM:QUIT", "--", &f, "--fork", "double"],
    );
    let report = dir.report();
    let main = field(&report.wait_for(&["ready", "role=main"]), "pid").unwrap();
    c.wait_log("ready: main process PID");
    c.signal(libc::SIGTERM);
    assert_eq!(code(c.wait_exit()), Some(0), "{}", c.log());
    assert_eq!(
        report.count(&["signal", "3", &format!("pid={main}")]),
        1,
        "{:?}",
        report.lines()
    );
    assert_eq!(report.count(&["signal", "15"]), 0, "{:?}", report.lines());
}

fn term_during_startup_stops_the_launcher_and_its_tree() {
    let dir = TestDir::new("term-startup");
    let f = forker();
    let pidfile = dir.file("d.pid").display().to_string();
    let mut c = Catchd::start(
        &dir,
        &[
            "--pidfile",
            &pidfile,
            "--stop-timeout",
            "2s",
            "--",
            &f,
            "--launcher-sleep",
            "60s",
        ],
    );
    let launcher = field(&dir.report().wait_for(&["start", "role=launcher"]), "pid").unwrap();
    c.signal(libc::SIGTERM);
    let st = c.wait_exit();
    assert_eq!(signal_of(st), Some(libc::SIGTERM), "{}", c.log());
    assert!(!c.reported_alive(launcher));
    assert!(
        !c.log().contains("SIGKILL"),
        "TERM alone should stop a sleeping launcher:\n{}",
        c.log()
    );
}

crate::both_modes!(
    signals_reach_the_main_process_in_order,
    signal_map_turns_term_into_quit,
    term_during_startup_stops_the_launcher_and_its_tree,
);
