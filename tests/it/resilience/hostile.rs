//! A daemon that turns catchd's own log against it (SPEC §1.1.9, §1.3):
//! a process name with a newline and terminal escapes is escaped in every
//! log line, and a process catchd may not signal is warned about once, not
//! on every round of the stop.

use super::main_pid;
use crate::support::*;

/// `--comm` renames the main process to `a\nFAKE\e[2J` before catchd
/// adopts it and names it in its log.
#[test]
fn names_from_proc_are_escaped_in_every_log_line() {
    let dir = TestDir::new("comm-escape");
    let f = forker();
    // The main process writes the pidfile after renaming itself (late), so
    // catchd adopts it under its new name.
    let p = dir.file("d.pid").display().to_string();
    let mut c = Catchd::start(
        &dir,
        &[
            "-v",
            "--pidfile",
            &p,
            "--",
            &f,
            "--pidfile",
            &p,
            "--pidfile-when",
            "late",
            "--comm",
            "a\nFAKE\x1b[2J",
        ],
    );
    main_pid(&dir);
    let line = c.wait_log("ready: main process PID");
    assert!(line.contains("a\\nFAKE\\u{1b}[2J"), "{line:?}");
    c.signal(libc::SIGTERM);
    assert_eq!(code(c.wait_exit()), Some(0), "{}", c.log());
    let log = c.log();
    for l in log.lines() {
        assert!(
            l.starts_with("catchd["),
            "a line not of catchd's: {l:?}\n{log}"
        );
        assert!(!l.contains('\x1b'), "a raw escape: {l:?}");
    }
}

/// catchd without CAP_KILL (root, the capability dropped from its bounding
/// set) holding a daemon whose worker switched to another user: that
/// worker cannot be signalled. The stop keeps trying (TERM, then SIGKILL
/// every round) and says so once.
#[test]
fn a_process_catchd_may_not_signal_is_warned_about_once() {
    if std::process::Command::new("setpriv")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("setpriv is not installed: skipped");
        return;
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("SKIPPED: needs root (CAP_SETUID for the worker)");
        return;
    }
    let dir = TestDir::new("eperm-once");
    // The worker reports as another user.
    let report = dir.report().path;
    std::fs::write(&report, "").unwrap();
    std::fs::set_permissions(&report, std::os::unix::fs::PermissionsExt::from_mode(0o666)).unwrap();
    let f = forker();
    let catchd = catchd_bin();
    // Without a cgroup: with one, cgroup.kill ends the worker whatever
    // catchd's own capabilities.
    let args = [
        "-v",
        "--cgroup",
        "off",
        "--stop-timeout",
        "200ms",
        "--",
        &f,
        "--workers",
        "1",
        "--worker-uid",
        "65534",
    ];
    let mut c = Catchd::start_with(&dir, &[], |cmd| {
        *cmd = std::process::Command::new("setpriv");
        cmd.args(["--bounding-set", "-kill", "--inh-caps", "-kill", catchd])
            .args(args)
            .env("CATCHD_TD_REPORT", dir.report().path)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped());
    });
    main_pid(&dir);
    let worker = field(&dir.report().wait_for(&["ready", "role=worker"]), "pid").unwrap();
    c.guard_pid(worker);
    c.wait_log("ready: main process PID");
    c.signal(libc::SIGTERM);
    c.wait_log("not permitted to signal PID");
    // Many rounds of SIGKILL later (each round scans, and -v logs it)...
    let scans = c.log().matches("scan:").count();
    c.wait_log_count("scan:", scans + 20);
    assert!(procs::alive(worker));
    let warned = c
        .log()
        .lines()
        .filter(|l| l.contains("not permitted to signal"))
        .count();
    assert_eq!(warned, 1, "{}", c.log());
    procs::kill(worker, libc::SIGKILL);
    assert_eq!(code(c.wait_exit()), Some(0), "{}", c.log());
}
