//! Signals at awkward moments (issue 6.4; SPEC §1.2, §1.3): TERM before the
//! launcher runs, during a handover, twice in a row, TERM then INT, and a
//! burst of 1,000 HUPs. Every time: no crash, the stop completes, nothing
//! is left, and catchd ends as SPEC §1.4 says.

use super::{assert_nothing_left, replace};
use crate::support::*;

/// TERM sent the moment catchd is spawned (every third run), the moment
/// catchd has blocked signals (while it sets up and forks the launcher),
/// or then with a launcher that is a shell about to exec the daemon. It
/// lands before catchd blocked signals (catchd dies by it, having launched
/// nothing), before the launcher has exec'd, or while it forks. Each run
/// ends by TERM or, if the daemon was up and exited 0 on the forwarded
/// TERM, by 0; nothing is left.
#[test]
fn term_before_the_launcher_has_started() {
    let f = forker();
    let mut seen = [0; 3];
    for run in 0..15 {
        let dir = TestDir::new("term-at-once");
        let p = dir.file("d.pid").display().to_string();
        let script = format!("exec {f} --workers 1 --pidfile {p}");
        let mut args = vec!["--stop-timeout", "5s", "--pidfile", &p, "--"];
        if run % 3 == 2 {
            args.extend(["sh", "-c", &script]);
        } else {
            args.extend([&f, "--workers", "1", "--pidfile", &p]);
        }
        let mut c = Catchd::start(&dir, &args);
        if run % 3 != 0 {
            spin_until_signals_blocked(c.pid);
        }
        c.signal(libc::SIGTERM);
        let st = c.wait_exit();
        assert!(
            signal_of(st) == Some(libc::SIGTERM) || code(st) == Some(0),
            "run {run}: {st:?}\n{}",
            c.log()
        );
        assert!(!c.log().contains("panicked"), "{}", c.log());
        assert_nothing_left(&dir, &c);
        // Where the TERM landed: before catchd's set-up, before the
        // daemon's first line of code, or after.
        let launched = dir.report().count(&["start", "role=launcher"]) > 0;
        seen[usize::from(c.log().contains("started")) + usize::from(launched)] += 1;
    }
    eprintln!("TERM before catchd's set-up / before the daemon ran / after: {seen:?}");
}

/// Spin (no sleep: the window is a few hundred microseconds) until catchd
/// has blocked its signals, i.e. has reached `Signals::setup`.
fn spin_until_signals_blocked(pid: i32) {
    let t0 = std::time::Instant::now();
    while t0.elapsed() < LIMIT {
        let blocked = procs::status_field(pid, "SigBlk")
            .and_then(|hex| u64::from_str_radix(&hex, 16).ok())
            .is_some_and(|mask| mask != 0);
        if blocked || !alive(pid) {
            return;
        }
        std::hint::spin_loop();
    }
}

/// When, in a handover, the TERM comes.
#[derive(Clone, Copy, Debug)]
enum Moment {
    /// Right after the USR2 that starts it: one drain may read both.
    WithTheUsr2,
    /// The successor runs; the old main process is exiting.
    SuccessorReady,
    /// The old main process is gone and catchd waits for the pidfile.
    WaitingForThePidfile,
}

#[test]
fn term_with_the_handover_signal() {
    term_during_a_handover(Moment::WithTheUsr2);
}

#[test]
fn term_once_the_successor_is_ready() {
    term_during_a_handover(Moment::SuccessorReady);
}

#[test]
fn term_while_waiting_for_the_successor_s_pidfile() {
    term_during_a_handover(Moment::WaitingForThePidfile);
}

fn term_during_a_handover(moment: Moment) {
    let dir = TestDir::new("term-handover");
    let f = forker();
    let pidfile = dir.file("d.pid");
    let p = pidfile.display().to_string();
    // In the last case the test writes the pidfile, so that the wait for
    // the successor's file lasts until the TERM.
    let by_test = matches!(moment, Moment::WaitingForThePidfile);
    #[rustfmt::skip]
    let mut args = vec![
        "--pidfile", &p, "--stop-timeout", "5s", "--",
        &f, "--workers", "1", "--handover-on", "USR2",
    ];
    if !by_test {
        args.extend(["--pidfile", &p]);
    }
    let mut c = Catchd::start(&dir, &args);
    let report = dir.report();
    let main = field(&report.wait_for(&["ready", "role=main"]), "pid").unwrap();
    report.wait_for(&["ready", "role=worker"]);
    if by_test {
        replace(&pidfile, format!("{main}\n").as_bytes());
    }
    c.wait_log("ready: main process PID");
    c.signal(libc::SIGUSR2);
    match moment {
        Moment::WithTheUsr2 => {}
        Moment::SuccessorReady => {
            report.wait_for(&["ready", "role=successor"]);
        }
        Moment::WaitingForThePidfile => {
            c.wait_log("waiting up to");
        }
    }
    c.signal(libc::SIGTERM);
    // Every path ends with exit 0: the old main process exits 0 (on USR2
    // or on TERM), and so does whoever is left when TERMed.
    assert_eq!(code(c.wait_exit()), Some(0), "{moment:?}: {}", c.log());
    assert!(!c.log().contains("SIGKILL"), "{moment:?}: {}", c.log());
    for role in ["successor", "worker"] {
        let terms = report.count(&["signal", "15", &format!("role={role}")]);
        assert!(terms <= 1, "{moment:?}: {role} got {terms} TERMs");
    }
    assert_nothing_left(&dir, &c);
}

/// A second stop signal: `during_stop` waits until the stop has begun
/// (against a main process that ignores TERM), else both go in a burst.
struct Second {
    sig: i32,
    during_stop: bool,
}

#[test]
fn term_twice_in_a_burst() {
    second_stop_signal(Second {
        sig: libc::SIGTERM,
        during_stop: false,
    });
}

#[test]
fn term_then_int_in_a_burst() {
    second_stop_signal(Second {
        sig: libc::SIGINT,
        during_stop: false,
    });
}

#[test]
fn term_twice_during_the_stop() {
    second_stop_signal(Second {
        sig: libc::SIGTERM,
        during_stop: true,
    });
}

#[test]
fn term_then_int_during_the_stop() {
    second_stop_signal(Second {
        sig: libc::SIGINT,
        during_stop: true,
    });
}

fn second_stop_signal(second: Second) {
    let dir = TestDir::new("second-stop");
    let f = forker();
    let mut args = vec!["-v", "--stop-timeout", "1s", "--", &f, "--workers", "1"];
    if second.during_stop {
        args.extend(["--ignore", "TERM"]);
    }
    let mut c = Catchd::start(&dir, &args);
    let report = dir.report();
    let main = field(&report.wait_for(&["ready", "role=main"]), "pid").unwrap();
    report.wait_for(&["ready", "role=worker"]);
    c.wait_log("ready: main process PID");
    c.signal(libc::SIGTERM);
    if second.during_stop {
        c.wait_log("received SIGTERM: stopping");
    }
    c.signal(second.sig);
    let st = c.wait_exit();
    let log = c.log();
    // However the two arrive, one stop: one start, at most one SIGKILL phase.
    assert_eq!(log.matches(": stopping").count(), 1, "{log}");
    assert!(log.matches("stop timeout passed").count() <= 1, "{log}");
    let from_main = |sig: i32| report.count(&["signal", &sig.to_string(), &format!("pid={main}")]);
    match (second.during_stop, second.sig) {
        (false, _) => {
            assert_eq!(code(st), Some(0), "{log}");
            assert_eq!(from_main(libc::SIGTERM) + from_main(libc::SIGINT), 1);
        }
        // The second TERM is forwarded, ignored, and does not restart the
        // clock: SIGKILL after the one timeout, mirrored.
        (true, libc::SIGTERM) => {
            c.wait_log("forwarding SIGTERM to main process");
            assert_eq!(signal_of(st), Some(libc::SIGKILL), "{log}");
        }
        // The INT is forwarded: the main process exits 0 on it, and catchd
        // exits as it did once the worker (also ignoring TERM) is killed.
        (true, _) => {
            assert_eq!(from_main(libc::SIGINT), 1, "{:?}", report.lines());
            assert_eq!(code(st), Some(0), "{log}");
        }
    }
    assert_nothing_left(&dir, &c);
}

/// 1,000 HUPs in a burst: standard signals merge, so the daemon gets at
/// least one; catchd neither crashes nor leaks a descriptor, goes back to
/// sleep in poll, and a TERM still stops everything with status 0.
#[test]
fn a_storm_of_1000_hups() {
    let dir = TestDir::new("hup-storm");
    let f = forker();
    let mut c = Catchd::start(&dir, &["--", &f, "--workers", "1"]);
    let report = dir.report();
    let main = field(&report.wait_for(&["ready", "role=main"]), "pid").unwrap();
    report.wait_for(&["ready", "role=worker"]);
    c.wait_log("ready: main process PID");
    let pid = c.pid;
    let fds = || {
        std::fs::read_dir(format!("/proc/{pid}/fd"))
            .unwrap()
            .count()
    };
    // Counted while catchd sleeps in poll, not mid-turn with a /proc or
    // cgroup file open.
    assert!(wait_until(LIMIT, || procs::blocked_in_poll(c.pid)));
    let before = fds();
    for _ in 0..1000 {
        procs::kill(c.pid, libc::SIGHUP);
    }
    let hup = ["signal", "1", &format!("pid={main}")];
    assert!(wait_until(LIMIT, || report.count(&hup) >= 1), "{}", c.log());
    assert!(
        wait_until(LIMIT, || procs::blocked_in_poll(c.pid)),
        "catchd does not go back to sleep"
    );
    assert!(c.running(), "catchd died: {}", c.log());
    assert_eq!(fds(), before, "catchd's descriptors changed");
    let hups = report.count(&hup);
    c.signal(libc::SIGTERM);
    assert_eq!(code(c.wait_exit()), Some(0), "{}", c.log());
    assert_eq!(report.count(&["signal", "15", &format!("pid={main}")]), 1);
    assert_nothing_left(&dir, &c);
    eprintln!("1000 HUPs sent, {hups} reached the main process");
}
