//! The `--contain` namespace's init: catchd re-executed as
//! `catchd-init --contain-init REPORT_FD HOLD_FD -- PROGRAM ARGS`. It dies
//! with catchd, mounts a /proc of its namespace, starts PROGRAM, then only
//! reaps and reports each exit to catchd until nothing is left.
//!
//! Owns: the init's set-up and its loop. Must not signal the daemon:
//! catchd does that directly.

use std::ffi::OsString;
use std::fs::File;
use std::io::Write;
use std::os::fd::RawFd;
use std::process::ExitCode;

use nix::mount::{mount, MsFlags};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sched::{unshare, CloneFlags};

use super::{encode, Record, INIT_FLAG};
use crate::error::{Context, Error, Result};
use crate::signals::Signals;
use crate::sys::{self, ChildSetup, Waited};

/// The init's side: `catchd --contain-init REPORT_FD HOLD_FD -- PROGRAM ARGS`.
pub fn init_main(argv: &[OsString]) -> ExitCode {
    crate::log::init("catchd-init", crate::log::Level::Warn);
    match init(argv) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            crate::error!("{e}");
            ExitCode::from(e.exit_code(crate::error::Mode::Run))
        }
    }
}

fn init(argv: &[OsString]) -> Result<()> {
    let fd = |i: usize| -> Result<RawFd> {
        argv.get(i)
            .and_then(|a| a.to_str()?.parse().ok())
            .ok_or_else(|| {
                Error::usage(format!(
                    "{INIT_FLAG}: expected REPORT_FD HOLD_FD -- PROGRAM"
                ))
            })
    };
    let (report_fd, hold_fd) = (fd(2)?, fd(3)?);
    let program = argv
        .get(5)
        .ok_or_else(|| Error::usage(format!("{INIT_FLAG}: missing PROGRAM")))?;
    let report = sys::adopt_fd(report_fd)
        .ok_or_else(|| Error::usage(format!("{INIT_FLAG}: descriptor {report_fd} is not open")))?;
    let mut report = File::from(report);
    // The report socket is the init's alone: never the daemon's.
    sys::set_cloexec(report_fd).context("set close-on-exec on the report socket")?;
    // `ps` shows the init as what it is; not dumpable, so that no process
    // of the namespace without CAP_SYS_PTRACE can reach its descriptors.
    let _ = nix::sys::prctl::set_name(c"catchd-init");
    let _ = nix::sys::prctl::set_dumpable(false);
    // Die with catchd. If catchd is already gone, the first write below
    // fails with EPIPE and the init stops.
    nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)
        .context("set PR_SET_PDEATHSIG")?;
    private_proc()?;
    let signals = Signals::setup()?;
    let nofile = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE).map_or(
        libc::rlimit {
            rlim_cur: 1024,
            rlim_max: 1024,
        },
        |(cur, max)| libc::rlimit {
            rlim_cur: cur,
            rlim_max: max,
        },
    );
    let setup = ChildSetup {
        mask: signals.original_mask,
        ignored: signals.ignored,
        nofile,
        hold: (hold_fd, hold_fd),
        report: None,
        cgroup: None,
    };
    let launched = crate::spawn::launch(program, &argv[6..], setup);
    // The daemon holds the hold pipe, the init must not.
    drop(sys::adopt_fd(hold_fd));
    let first = match &launched {
        Ok(pid) => Record::Launched(*pid),
        Err(crate::error::Error::NotFound(_)) => Record::ExecFailed(libc::ENOENT),
        Err(crate::error::Error::NotExecutable { source, .. }) => {
            Record::ExecFailed(source.raw_os_error().unwrap_or(libc::EACCES))
        }
        Err(_) => Record::ExecFailed(libc::EIO),
    };
    send(&mut report, first)?;
    if launched.is_err() {
        // catchd says why, once: the init leaves quietly.
        return Ok(());
    }
    reap_and_report(&signals, &mut report)
}

/// A private mount namespace with a /proc of the new PID namespace, so
/// that the daemon sees PIDs consistent with its own.
fn private_proc() -> Result<()> {
    unshare(CloneFlags::CLONE_NEWNS).context("create a mount namespace for --contain")?;
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .context("make / private in the --contain mount namespace")?;
    mount(
        Some("proc"),
        "/proc",
        Some("proc"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        None::<&str>,
    )
    .context("mount /proc for the --contain PID namespace")
}

fn send(report: &mut File, record: Record) -> Result<()> {
    report
        .write_all(&record.encode())
        .context("report to catchd")
}

/// Reap every process re-parented to the init and report it, until none
/// is left; then the init exits and the namespace is empty.
fn reap_and_report(signals: &Signals, report: &mut File) -> Result<()> {
    loop {
        match sys::wait_any().context("wait for children")? {
            Waited::Child(pid, exit) => send(report, Record::Exited(pid, encode(exit)))?,
            Waited::NoChildren => return Ok(()),
            Waited::StillAlive => {
                let mut fds = [PollFd::new(signals.fd(), PollFlags::POLLIN)];
                match poll(&mut fds, PollTimeout::NONE) {
                    Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                    Err(e) => return Err(e).context("poll"),
                }
                // Only SIGCHLD matters here; catchd signals the daemon directly.
                let _ = signals.drain()?;
            }
        }
    }
}
