//! td-reaper: `td-reaper PROGRAM [ARGS...]` runs PROGRAM as a child
//! subreaper (PR_SET_CHILD_SUBREAPER), reaps every process that ends up
//! under it, reports `reaped pid=P code=N` / `reaped pid=P signal=N` to
//! `$CATCHD_TD_REPORT`, and exits 0 once it has no child left (ECHILD).
//!
//! Owns: nothing but reaping, for td-forker's own smoke tests (it lets them
//! see the exit status of a re-parented main process, check re-parenting,
//! and know for certain when every process of a run is gone, whatever
//! PID 1 does with orphans). catchd's tests use catchd.
//! Must not: signal anything, or exit while a descendant is alive.

use catchd_test_daemons::report;
use std::process::Command;

fn main() {
    let args: Vec<_> = std::env::args_os().skip(1).collect();
    let Some((program, rest)) = args.split_first() else {
        eprintln!("usage: td-reaper PROGRAM [ARGS...]");
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
    if let Err(e) = Command::new(program).args(rest).spawn() {
        eprintln!("td-reaper: cannot run {}: {e}", program.to_string_lossy());
        std::process::exit(127);
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
            _ => {
                eprintln!("td-reaper: waitpid: {}", std::io::Error::last_os_error());
                std::process::exit(1);
            }
        }
    }
}
