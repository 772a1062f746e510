//! A main process that ignores the stop signal is named as the stop starts
//! (SPEC §1.3), instead of a silent wait for the whole stop timeout.

use crate::support::*;

#[test]
fn a_main_process_ignoring_sigint_is_warned_about_as_the_stop_starts() {
    let dir = TestDir::new("ignint");
    let f = forker();
    let mut c = Catchd::start(
        &dir,
        &[
            "--stop-timeout",
            "700ms",
            "--",
            &f,
            "--fork",
            "double",
            "--ignore",
            "INT",
        ],
    );
    let main = field(&dir.report().wait_for(&["ready", "role=main"]), "pid").unwrap();
    c.wait_log("ready: main process");
    c.signal(libc::SIGINT);
    let warning = c.wait_log("ignores SIGINT");
    assert!(
        warning.contains(&format!(
            "main process PID {main} ignores SIGINT: SIGKILL in 700ms"
        )),
        "{warning}"
    );
    c.wait_exit();
    assert!(!alive(main));
}

/// A main process that blocks the stop signal and leaves it pending (no
/// signalfd read, no sigwait) is named too; td-forker, which blocks every
/// signal and takes them with sigwaitinfo, is not.
#[test]
fn a_main_process_blocking_sigterm_is_warned_about_and_a_sigwait_one_is_not() {
    let dir = TestDir::new("blkterm");
    let script = "use POSIX; sigprocmask(SIG_BLOCK, POSIX::SigSet->new(SIGTERM)); sleep 1000";
    let mut c = Catchd::start(
        &dir,
        &["--stop-timeout", "500ms", "--", "perl", "-e", script],
    );
    // Wait until perl has blocked TERM and sleeps.
    let pid = c.pid;
    let launcher = wait_until(LIMIT, || {
        procs::children_of(pid).first().is_some_and(|&p| {
            procs::status_field(p, "SigBlk")
                .and_then(|m| u64::from_str_radix(&m, 16).ok())
                .is_some_and(|m| m & (1 << (libc::SIGTERM - 1)) != 0)
                && std::fs::read_to_string(format!("/proc/{p}/wchan"))
                    .is_ok_and(|w| w.contains("nanosleep"))
        })
    });
    assert!(launcher, "perl never blocked SIGTERM:\n{}", c.log());
    let perl = procs::children_of(pid)[0];
    c.signal(libc::SIGTERM);
    // Judged once TERM has stayed pending a while (half the stop timeout):
    // the warning names the time left.
    let warning = c.wait_log("blocks SIGTERM");
    assert!(
        warning.contains(&format!(
            "main process PID {perl} blocks SIGTERM: SIGKILL in "
        )),
        "{warning}"
    );
    c.wait_exit();

    let dir = TestDir::new("sigwait");
    let f = forker();
    let mut c = Catchd::start(&dir, &["--", &f, "--fork", "double"]);
    c.wait_log("ready: main process");
    c.signal(libc::SIGTERM);
    c.wait_exit();
    assert!(!c.log().contains("SIGKILL in"), "{}", c.log());
}
