//! td-forker: a fake legacy daemon with knobs, for catchd's tests.
//!
//! Owns: the launcher — `--launcher-sleep`, the `--fork none|single|double`
//! detach, `--setsid` of the first child, early pidfiles, `--launcher-exit`
//! — and the hand-off to `daemon::run_main`.
//! Must not: exit before the main process is re-parented (`double` waits
//! for the intermediate child), or leave a pipe write end in any process but
//! the launcher (late pidfiles rely on EOF meaning "the launcher is gone").
//! See `td-forker --help` and the crate's lib for the report lines.

use catchd_test_daemons::args::{self, Config, ForkMode, Parsed, PidfileWhen};
use catchd_test_daemons::daemon::{run_main, write_pidfile};
use catchd_test_daemons::report::{self, Role};
use catchd_test_daemons::signals::{block_all, set_mask};
use catchd_test_daemons::sys::{self, Forked};
use std::sync::atomic::{AtomicBool, Ordering};

/// SIGPIPE was ignored when the program started (before Rust's runtime
/// set it to SIG_IGN on its own).
static INHERITED_SIGPIPE_IGNORED: AtomicBool = AtomicBool::new(false);

extern "C" fn capture_sigpipe() {
    // SAFETY: with a null new action, sigaction only reads the disposition.
    let ignored = unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        libc::sigaction(libc::SIGPIPE, std::ptr::null(), &mut old) == 0
            && old.sa_sigaction == libc::SIG_IGN
    };
    INHERITED_SIGPIPE_IGNORED.store(ignored, Ordering::Relaxed);
}

/// Runs from `.init_array`, i.e. before Rust's runtime ignores SIGPIPE, so
/// the daemon can keep the SIGPIPE disposition it was really given.
#[used]
#[link_section = ".init_array"]
static CAPTURE_SIGPIPE: extern "C" fn() = capture_sigpipe;

/// Undo the Rust runtime's `SIGPIPE = SIG_IGN`, unless it was inherited.
fn restore_sigpipe() {
    if !INHERITED_SIGPIPE_IGNORED.load(Ordering::Relaxed) {
        // SAFETY: resetting SIGPIPE to its default action installs no handler.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    }
}

fn main() {
    restore_sigpipe();
    let cfg = match args::parse(std::env::args_os().skip(1)) {
        Ok(Parsed::Run(cfg)) => cfg,
        Ok(Parsed::Help) => {
            println!("{}", args::USAGE);
            return;
        }
        Ok(Parsed::SelfTest) => match catchd_test_daemons::selftest::self_test() {
            Ok(()) => {
                println!("td-forker: self-test ok");
                return;
            }
            Err(e) => {
                eprintln!("td-forker: {e}");
                std::process::exit(1);
            }
        },
        Err(e) => {
            eprintln!("td-forker: {e}");
            std::process::exit(2);
        }
    };
    report::init(); // before any fork: children never read the environment
    report::start();
    if let Some(d) = cfg.launcher_sleep {
        std::thread::sleep(d); // the simulated slow start, not a sync step
    }
    match cfg.fork {
        ForkMode::None => fork_none(&cfg),
        ForkMode::Single => fork_single(&cfg),
        ForkMode::Double => fork_double(&cfg),
    }
}

fn launcher_exit(cfg: &Config) -> ! {
    let code = cfg.launcher_exit.unwrap_or(0);
    report::exit(Role::Launcher, code);
    std::process::exit(code)
}

/// The late-pidfile pipe (read, write) or (-1, -1).
fn late_pipe(cfg: &Config) -> (i32, i32) {
    if cfg.pidfile_when == PidfileWhen::Late {
        sys::pipe()
    } else {
        (-1, -1)
    }
}

/// `--fork none`: this process is the main process (no launcher to wait
/// for, so a late pidfile is written at once, after `--pidfile-delay`).
fn fork_none(cfg: &Config) -> ! {
    if cfg.launcher_exit.is_some() {
        launcher_exit(cfg);
    }
    if cfg.setsid {
        sys::setsid();
    }
    run_main(cfg, -1, cfg.pidfile.is_some())
}

/// `--fork single`: the launcher forks the main process and exits.
fn fork_single(cfg: &Config) -> ! {
    // Block signals across fork so that the child cannot die by a default
    // action before it has set up its own mask (a pidfile may name it
    // before that); the launcher restores its mask right after.
    let old = block_all();
    let (late_r, late_w) = late_pipe(cfg);
    match sys::fork_or_die() {
        Forked::Child => {
            sys::close(late_w);
            if cfg.setsid {
                sys::setsid();
            }
            run_main(cfg, late_r, cfg.pidfile_when == PidfileWhen::Late)
        }
        Forked::Parent(main_pid) => {
            set_mask(&old);
            sys::close(late_r);
            if cfg.pidfile_when == PidfileWhen::Early {
                write_pidfile(cfg, main_pid);
            }
            launcher_exit(cfg) // closes late_w: the main's cue
        }
    }
}

/// `--fork double`: launcher → intermediate child (setsid) → main; the
/// launcher waits for the intermediate child, so that when it exits the
/// main process is already re-parented.
fn fork_double(cfg: &Config) -> ! {
    let old = block_all(); // as in fork_single
    let (late_r, late_w) = late_pipe(cfg);
    let early = cfg.pidfile_when == PidfileWhen::Early;
    let (pid_r, pid_w) = if early { sys::pipe() } else { (-1, -1) };
    let intermediate = match sys::fork_or_die() {
        Forked::Child => {
            sys::close(late_w);
            sys::close(pid_r);
            report::ready(Role::Intermediate);
            if cfg.setsid {
                sys::setsid();
            }
            match sys::fork_or_die() {
                Forked::Child => {
                    sys::close(pid_w);
                    run_main(cfg, late_r, cfg.pidfile_when == PidfileWhen::Late)
                }
                Forked::Parent(main_pid) => {
                    sys::close(late_r);
                    sys::write_all(pid_w, main_pid.to_string().as_bytes());
                    sys::close(pid_w);
                    report::exit(Role::Intermediate, 0);
                    std::process::exit(0)
                }
            }
        }
        Forked::Parent(pid) => pid,
    };
    set_mask(&old);
    sys::close(late_r);
    sys::close(pid_w);
    let main_pid = if early {
        let text = sys::read_to_eof(pid_r);
        sys::close(pid_r);
        std::str::from_utf8(&text)
            .ok()
            .and_then(|t| t.parse::<i32>().ok())
    } else {
        None
    };
    match sys::wait_for(intermediate) {
        Some(status) if libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0 => {}
        other => sys::die(&format!(
            "intermediate child {intermediate} failed: wait status {other:?}"
        )),
    }
    if early {
        match main_pid {
            Some(pid) => write_pidfile(cfg, pid),
            None => sys::die("intermediate child did not send the main PID"),
        }
    }
    launcher_exit(cfg)
}
