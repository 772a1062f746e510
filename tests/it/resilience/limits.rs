//! Descriptors and dispositions (SPEC §1.1.8–9): under a soft descriptor
//! limit as low as 8, catchd launches the daemon (the hold pipe sits under
//! the limit), gives it exactly the limit it was started with (its own is
//! raised to the hard limit) and its stop reaches every one of 1,100
//! processes, since it keeps no descriptor per process. Signals ignored
//! when catchd started are ignored in the daemon too.

use std::os::unix::process::CommandExt;

use super::main_pid;
use crate::support::*;

/// (soft, hard) "Max open files" from /proc/PID/limits.
fn nofile(pid: i32) -> (String, String) {
    let text = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap()
        .to_string();
    let words: Vec<&str> = line.split_whitespace().collect();
    (words[3].to_string(), words[4].to_string())
}

fn hard_nofile() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: a pointer to a local rlimit.
    unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) };
    lim.rlim_max
}

/// 1,100 processes: the main process and 1,099 workers.
const WORKERS: usize = 1099;

fn stop_reaches_every_process(soft: u64) {
    let hard = hard_nofile();
    assert!(hard >= 1024, "the hard descriptor limit is {hard}");
    let dir = TestDir::new(&format!("nofile-{soft}"));
    let f = forker();
    let workers = WORKERS.to_string();
    let mut c = Catchd::start_with(
        &dir,
        &["--stop-timeout", "60s", "--", &f, "--workers", &workers],
        move |cmd| {
            // SAFETY: setrlimit in the child before exec.
            unsafe {
                cmd.pre_exec(move || {
                    let lim = libc::rlimit {
                        rlim_cur: soft,
                        rlim_max: hard,
                    };
                    libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
                    Ok(())
                });
            }
        },
    );
    let main = main_pid(&dir);
    let report = dir.report();
    assert!(
        wait_until(std::time::Duration::from_secs(60), || report
            .count(&["ready", "role=worker"])
            >= WORKERS),
        "only {} workers started",
        report.count(&["ready", "role=worker"])
    );
    // The daemon has the limit catchd was started with; catchd raised its own.
    assert_eq!(nofile(main), (soft.to_string(), hard.to_string()));
    assert_eq!(nofile(c.pid), (hard.to_string(), hard.to_string()));
    // The hold pipe sits just under the daemon's limit (at most 1023).
    let hold = soft.min(1024) - 1;
    let link = std::fs::read_link(format!("/proc/{main}/fd/{hold}")).unwrap();
    assert!(link.to_string_lossy().starts_with("pipe:"), "{link:?}");
    c.wait_log("ready: main process PID");
    c.signal(libc::SIGTERM);
    let st = c.wait_exit_within(std::time::Duration::from_secs(60));
    assert_eq!(code(st), Some(0), "{}", c.log());
    assert_eq!(
        report.count(&["signal", "15", "role=worker"]),
        WORKERS,
        "not every worker got TERM; log:\n{}",
        c.log()
    );
    assert_eq!(report.count(&["signal", "15", "role=main"]), 1);
    assert!(!c.log().contains("is gone; SIGTERM not sent"));
}

/// One limit after the other, so that no more than 1,100 processes of
/// this test exist at once.
#[test]
fn soft_nofile_8_16_64_1024_with_1100_processes() {
    for soft in [8, 16, 64, 1024] {
        stop_reaches_every_process(soft);
    }
}

/// Signals ignored when catchd started (as under `nohup`, or a supervisor
/// that ignores SIGPIPE) are ignored in the daemon too; catchd's own
/// choices (it reads every signal from a signalfd) do not leak.
#[test]
fn the_daemon_gets_the_dispositions_catchd_was_started_with() {
    let dir = TestDir::new("dispositions");
    let f = forker();
    let mut c = Catchd::start_with(&dir, &["--", &f], |cmd| {
        // SAFETY: signal() in the child before exec.
        unsafe {
            cmd.pre_exec(|| {
                libc::signal(libc::SIGHUP, libc::SIG_IGN);
                libc::signal(libc::SIGPIPE, libc::SIG_IGN);
                Ok(())
            });
        }
    });
    let main = main_pid(&dir);
    let ign = u64::from_str_radix(&procs::status_field(main, "SigIgn").unwrap(), 16).unwrap();
    let bit = |s: i32| 1u64 << (s - 1);
    assert_eq!(ign & bit(libc::SIGHUP), bit(libc::SIGHUP), "SigIgn {ign:x}");
    assert_eq!(
        ign & bit(libc::SIGPIPE),
        bit(libc::SIGPIPE),
        "SigIgn {ign:x}"
    );
    // catchd has adopted it (a TERM sent while the launcher still runs
    // goes to the launcher, and catchd then ends as that one did).
    c.wait_log("ready: main process PID");
    c.signal(libc::SIGTERM);
    assert_eq!(code(c.wait_exit()), Some(0), "{}", c.log());
    // Without: SIGPIPE is not ignored in the daemon (the Rust runtime
    // ignores it in catchd; that must not leak either).
    let dir = TestDir::new("dispositions-default");
    let mut c = Catchd::start(&dir, &["--", &f]);
    let main = main_pid(&dir);
    let ign = u64::from_str_radix(&procs::status_field(main, "SigIgn").unwrap(), 16).unwrap();
    assert_eq!(
        ign & (bit(libc::SIGHUP) | bit(libc::SIGPIPE)),
        0,
        "SigIgn {ign:x}"
    );
    // catchd has adopted it (a TERM sent while the launcher still runs
    // goes to the launcher, and catchd then ends as that one did).
    c.wait_log("ready: main process PID");
    c.signal(libc::SIGTERM);
    assert_eq!(code(c.wait_exit()), Some(0), "{}", c.log());
}

/// Started with SIGTERM ignored, catchd still reads a TERM and stops the
/// daemon (which inherits the ignored TERM, so the stop ends in SIGKILL).
#[test]
fn a_term_ignored_at_start_still_stops_catchd() {
    let dir = TestDir::new("term-ignored");
    let f = forker();
    let mut c = Catchd::start_with(&dir, &["--stop-timeout", "300ms", "--", &f], |cmd| {
        // SAFETY: signal() in the child before exec.
        unsafe {
            cmd.pre_exec(|| {
                libc::signal(libc::SIGTERM, libc::SIG_IGN);
                Ok(())
            });
        }
    });
    main_pid(&dir);
    c.wait_log("ready: main process PID");
    c.signal(libc::SIGTERM);
    c.wait_log("received SIGTERM: stopping");
    assert_eq!(signal_of(c.wait_exit()), Some(libc::SIGKILL), "{}", c.log());
}
