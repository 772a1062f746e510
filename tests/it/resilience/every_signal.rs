//! Every signal number from 1 to SIGRTMAX sent to catchd while it holds a
//! daemon (SPEC §1.1.9, §1.2): none kills it but SIGKILL (not sent here);
//! each catchable one reaches the main process, except SIGCHLD and the
//! job-control stops TSTP, TTIN and TTOU, which catchd keeps (and which
//! do not stop it). SIGSTOP stops catchd until SIGCONT, which is then
//! forwarded. glibc's reserved 32 and 33 and the fault signals (SEGV,
//! BUS, ...) sent with kill are forwarded like any other. TERM, INT and
//! QUIT end the daemon, so each gets a catchd of its own.

use super::{forwarded, main_pid};
use crate::support::*;

const KEPT: &[i32] = &[libc::SIGCHLD, libc::SIGTSTP, libc::SIGTTIN, libc::SIGTTOU];
const ENDING: &[i32] = &[libc::SIGTERM, libc::SIGINT, libc::SIGQUIT];

fn state(pid: i32) -> char {
    procs::stat(pid).map_or('?', |s| s.0)
}

#[test]
fn every_signal_number_is_survived_and_forwarded_as_the_spec_says() {
    let dir = TestDir::new("every-signal");
    let f = forker();
    let mut c = Catchd::start(&dir, &["--", &f]);
    let main = main_pid(&dir);
    forwarded(&c, &dir, main, libc::SIGHUP, 1);
    let report = dir.report();
    let marker = libc::SIGUSR1;
    let mut markers = 0;
    for sig in 2..=libc::SIGRTMAX() {
        if sig == libc::SIGKILL || ENDING.contains(&sig) || sig == marker {
            continue;
        }
        if sig == libc::SIGSTOP {
            c.signal(sig);
            assert!(
                wait_until(LIMIT, || state(c.pid) == 'T'),
                "STOP did not stop catchd"
            );
            forwarded(&c, &dir, main, libc::SIGCONT, 1);
            assert_ne!(state(c.pid), 'T');
            continue;
        }
        if sig == libc::SIGCONT {
            continue; // with STOP
        }
        if KEPT.contains(&sig) {
            c.signal(sig);
            // The marker follows it through the same signalfd: once the
            // marker arrived, the kept signal was read and not forwarded.
            markers += 1;
            forwarded(&c, &dir, main, marker, markers);
            let words = ["signal", &sig.to_string(), &format!("pid={main}")];
            assert_eq!(report.count(&words), 0, "signal {sig} was forwarded");
            assert_ne!(state(c.pid), 'T', "signal {sig} stopped catchd");
        } else {
            forwarded(&c, &dir, main, sig, 1);
        }
        assert!(c.running(), "signal {sig} killed catchd: {}", c.log());
    }
    assert!(!c.log().contains("panicked"), "{}", c.log());
    c.signal(libc::SIGTERM);
    assert_eq!(code(c.wait_exit()), Some(0), "{}", c.log());
}

#[test]
fn term_int_and_quit_are_forwarded_and_end_the_daemon() {
    let f = forker();
    for &sig in ENDING {
        let dir = TestDir::new("ending-signal");
        let mut c = Catchd::start(&dir, &["--", &f]);
        let main = main_pid(&dir);
        forwarded(&c, &dir, main, libc::SIGHUP, 1);
        c.signal(sig);
        dir.report()
            .wait_for(&["signal", &sig.to_string(), &format!("pid={main}")]);
        assert_eq!(code(c.wait_exit()), Some(0), "signal {sig}: {}", c.log());
    }
}
