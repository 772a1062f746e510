//! td-reaper: `td-reaper [--record-signals] PROGRAM [ARGS...]` runs PROGRAM
//! as a child subreaper (PR_SET_CHILD_SUBREAPER), reaps every process that
//! ends up under it, reports `reaped pid=P code=N` / `reaped pid=P signal=N`
//! to `$CATCHD_TD_REPORT`, and exits 0 once it has no child left (ECHILD).
//!
//! With `--record-signals` it also records every signal it receives
//! (`signal N pid=P role=reaper`) instead of dying by it, and gives
//! PROGRAM the signal mask it was itself started with.
//!
//! Owns: nothing but reaping (and recording), for td-forker's own smoke
//! tests (it lets them see the exit status of a re-parented main process,
//! check re-parenting, and know for certain when every process of a run is
//! gone, whatever PID 1 does with orphans), and for catchd's tests as an
//! innocent parent of catchd that shows whether catchd ever signals it.
//! Must not: signal anything, or exit while a descendant is alive.

use catchd_test_daemons::report::{self, Role};
use catchd_test_daemons::signals::{self, Waited};
use std::os::unix::process::CommandExt;
use std::process::Command;

fn main() {
    let mut args: Vec<_> = std::env::args_os().skip(1).collect();
    let record = args.first().is_some_and(|a| a == "--record-signals");
    if record {
        args.remove(0);
    }
    let Some((program, rest)) = args.split_first() else {
        eprintln!("usage: td-reaper [--record-signals] PROGRAM [ARGS...]");
        std::process::exit(2);
    };
    report::init();
    // SAFETY: prctl(PR_SET_CHILD_SUBREAPER, 1) only sets a flag on this
    // process; it must precede the spawn so nothing can escape to PID 1.
    if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) } != 0 {
        eprintln!(
            "td-reaper: prctl(PR_SET_CHILD_SUBREAPER): {}",
            std::io::Error::last_os_error()
        );
        std::process::exit(1);
    }
    let mut cmd = Command::new(program);
    cmd.args(rest);
    if record {
        // Block everything before the spawn, so that no signal can hit a
        // default action; the child gets the original mask back.
        let original = signals::block_all();
        // SAFETY: the closure only calls pthread_sigmask, which is
        // async-signal-safe, on a sigset_t it owns a copy of.
        unsafe {
            cmd.pre_exec(move || {
                libc::pthread_sigmask(libc::SIG_SETMASK, &original, std::ptr::null_mut());
                Ok(())
            });
        }
    }
    if let Err(e) = cmd.spawn() {
        eprintln!("td-reaper: cannot run {}: {e}", program.to_string_lossy());
        std::process::exit(127);
    }
    if record {
        record_and_reap()
    }
    loop {
        let mut status = 0;
        // SAFETY: `status` is a valid out-parameter.
        let pid = unsafe { libc::waitpid(-1, &mut status, 0) };
        if pid > 0 {
            report::reaped(pid, status);
            continue;
        }
        match std::io::Error::last_os_error().raw_os_error() {
            Some(libc::EINTR) => continue,
            Some(libc::ECHILD) => std::process::exit(0),
            _ => fail_wait(),
        }
    }
}

/// `--record-signals`: every signal is read with sigwaitinfo; SIGCHLD means
/// "reap what has exited", any other is recorded.
fn record_and_reap() -> ! {
    let all = signals::full_set();
    loop {
        match signals::wait(&all, None) {
            Waited::Signal { signo, code } => {
                // A SIGCHLD from the kernel (code > 0) is a child's exit;
                // one sent with kill(2) is recorded like any other signal.
                if signo != libc::SIGCHLD || code <= 0 {
                    report::signal(signo, Role::Reaper);
                }
                if signo == libc::SIGCHLD {
                    reap_exited();
                }
            }
            Waited::Timeout => {}
        }
    }
}

/// Reap every child that has exited; exit 0 once none is left.
fn reap_exited() {
    loop {
        let mut status = 0;
        // SAFETY: `status` is a valid out-parameter.
        let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
        if pid > 0 {
            report::reaped(pid, status);
            continue;
        }
        if pid == 0 {
            return;
        }
        match std::io::Error::last_os_error().raw_os_error() {
            Some(libc::EINTR) => continue,
            Some(libc::ECHILD) => std::process::exit(0),
            _ => fail_wait(),
        }
    }
}

fn fail_wait() -> ! {
    eprintln!("td-reaper: waitpid: {}", std::io::Error::last_os_error());
    std::process::exit(1)
}
