//! The pidfile as evidence (issue 2: 4, 8, 9).

use crate::support::*;

/// catchd with `--pidfile` over a daemon whose pidfile holds `content`:
/// refused with a warning naming `needle`, then a full stop.
fn refused(content: &str, needle: &str, innocent: Option<&Innocent>) {
    let dir = TestDir::new("refused");
    let f = forker();
    let pidfile = dir.file("d.pid").display().to_string();
    let mut c = Catchd::start(
        &dir,
        &[
            "--pidfile",
            &pidfile,
            "--stop-timeout",
            "300ms",
            "--",
            &f,
            "--pidfile",
            &pidfile,
            "--pidfile-content",
            content,
            "--workers",
            "1",
        ],
    );
    let warning = c.wait_log("pidfile refused");
    assert!(warning.contains(needle), "{warning}");
    // Signals before a valid pidfile are queued once the launcher is gone,
    // never sent to the file's PID.
    c.wait_log("launcher PID");
    c.signal(libc::SIGHUP);
    c.wait_log("queued");
    c.signal(libc::SIGTERM);
    let st = c.wait_exit();
    assert!(signal_of(st).is_some() || code(st).is_some());
    for pid in dir.report().pids() {
        assert!(
            !alive(pid),
            "daemon PID {pid} survived the stop:\n{}",
            c.log()
        );
    }
    if let Some(i) = innocent {
        i.assert_untouched();
    }
}

#[test]
fn pidfile_naming_an_outside_process_is_refused_and_it_is_never_signalled() {
    let dir = TestDir::new("outsider");
    let innocent = Innocent::start(&dir);
    refused(
        &format!("{}\n", innocent.pid),
        "not a descendant of catchd",
        Some(&innocent),
    );
}

#[test]
fn pidfile_naming_pid_1_a_kernel_thread_or_garbage_is_refused() {
    refused("1\n", "PID 1", None);
    refused("2\n", "kernel thread", None);
    refused("abc", "expected one positive decimal PID", None);
    refused("-5\n", "expected one positive decimal PID", None);
}

#[test]
fn pidfile_naming_catchd_itself_is_refused() {
    let dir = TestDir::new("self");
    let f = forker();
    let pidfile = dir.file("d.pid").display().to_string();
    // The launcher is a shell whose parent is catchd: it writes $PPID.
    let script = format!("echo $PPID > {pidfile}; exec {f} --fork double");
    let mut c = Catchd::start(
        &dir,
        &[
            "--pidfile",
            &pidfile,
            "--stop-timeout",
            "300ms",
            "--",
            "sh",
            "-c",
            &script,
        ],
    );
    // The shell creates the file before it writes it: the empty file is
    // one not written yet, refused only once it names catchd.
    c.wait_log("which is catchd itself");
    c.signal(libc::SIGTERM);
    c.wait_exit();
}

fn pidfile_written_after_the_launcher_exited_is_picked_up() {
    let dir = TestDir::new("late");
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
            "--pidfile-when",
            "late",
            "--pidfile-delay",
            "300ms",
        ],
    );
    let main = field(&dir.report().wait_for(&["ready", "role=main"]), "pid").unwrap();
    c.wait_log("launcher PID");
    let line = c.wait_log("from the pidfile");
    assert!(line.contains(&format!("PID {} ", c.host(main))), "{line}");
    c.wait_log("ready: main process PID");
    c.signal(libc::SIGTERM);
    assert_eq!(code(c.wait_exit()), Some(0), "{}", c.log());
}

fn handover_to_a_forked_successor_is_followed() {
    let dir = TestDir::new("handover");
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
            "--handover-on",
            "USR2",
        ],
    );
    let report = dir.report();
    let old = field(&report.wait_for(&["ready", "role=main"]), "pid").unwrap();
    c.wait_log("ready: main process PID");
    c.signal(libc::SIGUSR2);
    let new = field(&report.wait_for(&["ready", "role=successor"]), "pid").unwrap();
    let line = c.wait_log(&format!("PID {} ", c.host(new)));
    assert!(line.contains("main process"), "{line}");
    assert!(wait_until(LIMIT, || !c.reported_alive(old)));
    assert!(
        c.running(),
        "catchd must keep running after a handover:\n{}",
        c.log()
    );
    c.signal(libc::SIGTERM);
    assert_eq!(code(c.wait_exit()), Some(0), "{}", c.log());
    assert!(
        report.count(&["signal", "15", &format!("pid={new}")]) == 1,
        "{:?}",
        report.lines()
    );
    assert!(!c.reported_alive(new));
}

fn start_timeout_stops_a_launcher_that_never_finishes() {
    let dir = TestDir::new("start-timeout");
    let f = forker();
    let pidfile = dir.file("d.pid").display().to_string();
    let mut c = Catchd::start(
        &dir,
        &[
            "--pidfile",
            &pidfile,
            "--start-timeout",
            "1s",
            "--stop-timeout",
            "300ms",
            "--",
            &f,
            "--launcher-sleep",
            "60s",
        ],
    );
    let launcher = field(&dir.report().wait_for(&["start", "role=launcher"]), "pid").unwrap();
    let st = c.wait_exit();
    assert_eq!(code(st), Some(124), "{}", c.log());
    assert!(!c.reported_alive(launcher));
}

crate::both_modes!(
    pidfile_written_after_the_launcher_exited_is_picked_up,
    handover_to_a_forked_successor_is_followed,
    start_timeout_stops_a_launcher_that_never_finishes,
);
