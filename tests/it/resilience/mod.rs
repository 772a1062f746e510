//! catchd is never the weak link (SPEC §1.1.8–9): its own output, its
//! descriptors and the signals it receives can never hurt the daemon.
//!
//! - `output`: stderr and `--ready-fd` whose reader is gone, stderr and the
//!   notify socket that nobody reads.
//! - `limits`: soft descriptor limits from 8 to 1,024 with 1,100 processes;
//!   the limits and signal dispositions the daemon gets.
//! - `every_signal`: each signal 1..SIGRTMAX sent to catchd.
//! - `contained`: `--contain` leaks no descriptor, its reports cannot be
//!   forged, its init is named and an exec failure is said once.
//! - `hostile`: a daemon renaming itself to escape sequences, and one
//!   catchd may not signal.

mod contained;
mod every_signal;
mod hostile;
mod limits;
mod output;

use std::os::fd::{FromRawFd, OwnedFd};

use crate::support::*;

/// A pipe, both ends close-on-exec: (read, write).
fn pipe() -> (OwnedFd, OwnedFd) {
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills two descriptors we then own.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: just created, owned by nobody else.
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

/// The main process's PID, once it reported ready.
fn main_pid(dir: &TestDir) -> i32 {
    field(&dir.report().wait_for(&["ready", "role=main"]), "pid").unwrap()
}

/// Send `sig` to catchd until the main process recorded it `n` times in
/// all (before catchd has adopted the main process, a signal goes to the
/// launcher, so the first may miss).
fn forwarded(c: &Catchd, dir: &TestDir, main: i32, sig: i32, n: usize) {
    let words = ["signal", &sig.to_string(), &format!("pid={main}")];
    let report = dir.report();
    // A signal the launcher gets while it runs may kill it (it has not
    // set up its signals yet): wait until it can no longer get one.
    let launcher = field(&report.wait_for(&["start", "role=launcher"]), "pid").unwrap();
    assert!(wait_until(LIMIT, || !c.reported_alive(launcher)));
    let arrived = wait_until(LIMIT, || {
        c.signal(sig);
        wait_until(std::time::Duration::from_millis(500), || {
            report.count(&words) >= n
        })
    });
    assert!(
        arrived,
        "signal {sig} did not reach the main process; report:\n{}",
        report.lines().join("\n")
    );
}

/// No SIGPIPE reached any process of the daemon.
fn assert_no_sigpipe(dir: &TestDir) {
    let lines = dir.report().lines();
    assert!(
        !lines.iter().any(|l| l.starts_with("signal 13 ")),
        "the daemon got a SIGPIPE:\n{}",
        lines.join("\n")
    );
}
