//! td-runaway: `td-runaway [--workers N] [--chains N] [--lifetime SECS]`,
//! a daemon no PID-by-PID stop keeps up with. The launcher forks the main
//! process and exits 0 once everything runs; the main process (default
//! TERM) starts N workers that ignore TERM and sleep (default 200) and N
//! chains (default 20) whose every link ignores TERM, sleeps 1 ms, forks
//! the next link and exits. Reports `ready role=main` when all are started.
//!
//! Bounds, so that a failed test cannot fork-bomb the machine: every
//! process ends itself after `--lifetime` (default 30 s: workers and main
//! by `alarm`, chain links by checking a deadline and a generation cap);
//! RLIMIT_NPROC is set to what the run needs (root is exempt from it, the
//! other bounds are not); a chain link that cannot fork retries, it never
//! forks more than one child.
//! Owns: nothing but that behaviour. Must not: spawn threads.

use catchd_test_daemons::report::{self, Role};
use catchd_test_daemons::sys::{self, Forked};
use std::time::{Duration, Instant};

struct Opts {
    workers: u32,
    chains: u32,
    lifetime: u32,
}

fn parse() -> Opts {
    let mut o = Opts {
        workers: 200,
        chains: 20,
        lifetime: 30,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    for pair in args.chunks(2) {
        let value = |max: u32| -> u32 {
            match pair.get(1).and_then(|v| v.parse().ok()) {
                Some(n) if n <= max => n,
                _ => sys::die(&format!("{}: expected an integer 0..={max}", pair[0])),
            }
        };
        match pair[0].as_str() {
            "--workers" => o.workers = value(1000),
            "--chains" => o.chains = value(100),
            "--lifetime" => o.lifetime = value(120).max(1),
            other => sys::die(&format!(
                "unknown flag {other}: usage td-runaway [--workers N] [--chains N] [--lifetime SECS]"
            )),
        }
    }
    o
}

fn ignore(signo: i32, ignored: bool) {
    let how = if ignored {
        libc::SIG_IGN
    } else {
        libc::SIG_DFL
    };
    // SAFETY: setting a disposition to SIG_IGN/SIG_DFL touches no memory.
    unsafe { libc::signal(signo, how) };
}

fn alarm(secs: u32) {
    // SAFETY: alarm(2) takes a plain integer.
    unsafe { libc::alarm(secs) };
}

/// The processes this user runs now, plus `extra`, as RLIMIT_NPROC.
fn limit_processes(extra: u64) {
    // SAFETY: getuid has no failure mode.
    let uid = unsafe { libc::getuid() };
    let mine = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| {
            std::fs::read_to_string(e.path().join("status")).is_ok_and(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("Uid:"))
                    .and_then(|l| l.split_whitespace().next()?.parse::<u32>().ok())
                    == Some(uid)
            })
        })
        .count() as u64;
    let lim = libc::rlimit {
        rlim_cur: mine + extra,
        rlim_max: mine + extra,
    };
    // SAFETY: a valid rlimit struct that lives for the call.
    unsafe { libc::setrlimit(libc::RLIMIT_NPROC, &lim) };
}

fn worker(lifetime: u32) -> ! {
    alarm(lifetime);
    loop {
        // SAFETY: pause(2) has no arguments; TERM is ignored, ALRM kills.
        unsafe { libc::pause() };
    }
}

/// One chain: sleep 1 ms, fork the next link, exit; until the deadline.
fn chain(deadline: Instant, max_links: u64) -> ! {
    let mut links = 0u64;
    loop {
        if Instant::now() >= deadline || links >= max_links {
            // SAFETY: _exit(2) ends this process at once.
            unsafe { libc::_exit(0) };
        }
        std::thread::sleep(Duration::from_millis(1));
        match sys::fork() {
            Ok(Forked::Child) => links += 1,
            // SAFETY: as above.
            Ok(Forked::Parent(_)) => unsafe { libc::_exit(0) },
            Err(_) => {} // at the limit: try again later, never more
        }
    }
}

fn main() {
    let o = parse();
    report::init();
    report::start();
    let (r, w) = sys::pipe();
    match sys::fork_or_die() {
        Forked::Parent(_) => {
            sys::close(w);
            // Exit 0 once the main process says everything runs.
            let ok = sys::read_to_eof(r) == b"ok";
            std::process::exit(if ok { 0 } else { 1 });
        }
        Forked::Child => sys::close(r),
    }
    alarm(o.lifetime);
    limit_processes(u64::from(o.workers + 3 * o.chains) + 50);
    let deadline = Instant::now() + Duration::from_secs(u64::from(o.lifetime));
    let max_links = u64::from(o.lifetime) * 1000;
    // Children inherit: TERM ignored, exited children reaped by the kernel.
    ignore(libc::SIGTERM, true);
    ignore(libc::SIGCHLD, true);
    for _ in 0..o.workers {
        if let Forked::Child = sys::fork_or_die() {
            sys::close(w);
            worker(o.lifetime);
        }
    }
    for _ in 0..o.chains {
        if let Forked::Child = sys::fork_or_die() {
            sys::close(w);
            chain(deadline, max_links);
        }
    }
    ignore(libc::SIGTERM, false);
    report::ready(Role::Main);
    sys::write_all(w, b"ok");
    sys::close(w);
    loop {
        // SAFETY: as in `worker`; TERM and ALRM end the main process.
        unsafe { libc::pause() };
    }
}
