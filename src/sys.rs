//! Every raw system call catchd makes outside nix's and rustix's safe
//! wrappers, each `unsafe` with its `// SAFETY:` reasoning.
//!
//! Owns: libc calls, including the async-signal-safe code that runs in the
//! forked child before exec. Must not decide anything: callers pass exactly
//! what to do.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};

use crate::sig::Sig;
use crate::sys_sig::KSet;

/// Whether `fd` is an open descriptor of this process (`fcntl(2)` F_GETFD).
pub fn fd_is_open(fd: RawFd) -> bool {
    // SAFETY: F_GETFD only reads the descriptor flags; an invalid fd gives EBADF.
    unsafe { libc::fcntl(fd, libc::F_GETFD) != -1 }
}

/// Set close-on-exec on a descriptor catchd was handed (`--ready-fd`).
pub fn set_cloexec(fd: RawFd) -> io::Result<()> {
    // SAFETY: F_SETFD on an fd we checked is open; no memory is involved.
    if unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) } == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// How a reaped child ended, decoded from `waitpid(2)`'s status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    Signal(Sig),
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Exit::Code(n) => write!(f, "exit status {n}"),
            Exit::Signal(s) => write!(f, "killed by {s}"),
        }
    }
}

/// A raw `waitpid` status as an `Exit` (libc's macros: realtime signals too).
pub fn decode_status(status: libc::c_int) -> Exit {
    if libc::WIFSIGNALED(status) {
        Exit::Signal(Sig(libc::WTERMSIG(status)))
    } else {
        Exit::Code(libc::WEXITSTATUS(status))
    }
}

/// What one non-blocking `waitpid(-1)` call said.
pub enum Waited {
    Child(i32, Exit),
    /// Children exist, none has changed state.
    StillAlive,
    /// `ECHILD`: catchd has no child at all.
    NoChildren,
}

/// `waitpid(-1, WNOHANG)`, decoded with libc's macros so that realtime
/// signals (which nix's `Signal` cannot name) are reported too.
pub fn wait_any() -> io::Result<Waited> {
    let mut status: libc::c_int = 0;
    loop {
        // SAFETY: `status` is a valid out-pointer for the duration of the call.
        let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
        if pid > 0 {
            return Ok(Waited::Child(pid, decode_status(status)));
        }
        if pid == 0 {
            return Ok(Waited::StillAlive);
        }
        let err = io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::EINTR) => continue,
            Some(libc::ECHILD) => return Ok(Waited::NoChildren),
            _ => return Err(err),
        }
    }
}

/// `kill(2)` with a raw signal number (realtime signals included).
pub fn kill(pid: i32, sig: Sig) -> io::Result<()> {
    // SAFETY: kill takes plain integers; callers never pass pid ≤ 0, which
    // would address a process group (checked here as well).
    if pid <= 0 || unsafe { libc::kill(pid, sig.0) } == -1 {
        return Err(if pid <= 0 {
            io::Error::from_raw_os_error(libc::EINVAL)
        } else {
            io::Error::last_os_error()
        });
    }
    Ok(())
}

/// `pidfd_open(2)`; `None` where the kernel (or a seccomp filter) has none.
pub fn pidfd_open(pid: i32) -> io::Result<Option<OwnedFd>> {
    let Some(rpid) = rustix::process::Pid::from_raw(pid) else {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    };
    match rustix::process::pidfd_open(rpid, rustix::process::PidfdFlags::empty()) {
        Ok(fd) => Ok(Some(fd)),
        Err(e) if e == rustix::io::Errno::NOSYS || e == rustix::io::Errno::PERM => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// `pidfd_send_signal(2)` with a raw signal number.
pub fn pidfd_send_signal(fd: impl AsFd, sig: Sig) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let raw = fd.as_fd().as_raw_fd();
    // SAFETY: the pidfd is borrowed and open for the call; info is NULL, as
    // pidfd_send_signal(2) allows, so the kernel fills a kill()-like siginfo.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            raw,
            sig.0,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    if rc == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Everything the forked child needs to undo catchd's own setup, prepared
/// before `fork` so that the child only makes async-signal-safe calls.
#[derive(Clone, Copy)]
pub struct ChildSetup {
    /// The signal mask catchd was started with.
    pub mask: KSet,
    /// The signals catchd was started ignoring (catchd resets them to the
    /// default for itself).
    pub ignored: KSet,
    /// The descriptor limit catchd was started with (catchd raises its own).
    pub nofile: libc::rlimit,
    /// The hold pipe's write end, and the descriptor it must land on.
    pub hold: (RawFd, RawFd),
    /// With `--contain`: the init's report socket, and where it must land.
    pub report: Option<(RawFd, RawFd)>,
    /// With `--cgroup`: the daemon's `cgroup.procs`, which the child
    /// enters by writing "0" before exec.
    pub cgroup: Option<RawFd>,
}

/// What the child reports when it could not enter the daemon's cgroup:
/// an errno that exec never returns, so that it is not taken for 126.
pub const CGROUP_ENTRY_FAILED: i32 = libc::EBADSLT;

/// Put `from` on `to` without close-on-exec. Async-signal-safe.
fn place(from: RawFd, to: RawFd) -> io::Result<()> {
    // SAFETY: fcntl and dup2 take plain integers and touch no memory.
    let rc = unsafe {
        if from == to {
            // dup2 onto itself keeps FD_CLOEXEC: clear it by hand.
            libc::fcntl(to, libc::F_SETFD, 0)
        } else {
            libc::dup2(from, to)
        }
    };
    if rc == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Run in the child between fork and exec (see `CommandExt::pre_exec`).
///
/// Only async-signal-safe calls: dup2, fcntl, signal, setrlimit and the
/// raw rt_sigprocmask.
pub fn in_child(setup: &ChildSetup) -> io::Result<()> {
    if let Some(fd) = setup.cgroup {
        // SAFETY: write(2) on a plain descriptor from a static buffer.
        if unsafe { libc::write(fd, b"0".as_ptr().cast(), 1) } != 1 {
            return Err(io::Error::from_raw_os_error(CGROUP_ENTRY_FAILED));
        }
    }
    place(setup.hold.0, setup.hold.1)?;
    if let Some((from, to)) = setup.report {
        place(from, to)?;
    }
    crate::sys_sig::restore_ignored(setup.ignored);
    // SAFETY: a pointer to an rlimit that lives in `setup` for the call.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &setup.nofile) } == -1 {
        return Err(io::Error::last_os_error());
    }
    // Last, so that nothing above runs with signals deliverable.
    crate::sys_sig::set_mask(setup.mask)?;
    Ok(())
}

/// Raise the soft descriptor limit to the hard limit, so that catchd
/// itself never runs short; return the limit it was started with, for the
/// daemon.
pub fn raise_nofile() -> libc::rlimit {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: a pointer to a local rlimit, valid for both calls.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == -1 {
            lim.rlim_cur = 1024;
            lim.rlim_max = 1024;
            return lim;
        }
        let raised = libc::rlimit {
            rlim_cur: lim.rlim_max,
            rlim_max: lim.rlim_max,
        };
        libc::setrlimit(libc::RLIMIT_NOFILE, &raised);
    }
    lim
}

/// End this process by `sig`, as the daemon ended: no core dump, default
/// disposition, unblocked, raised. Returns only if the signal did not kill
/// (a signal whose default is to be ignored).
pub fn die_by(sig: Sig) {
    if sig == crate::sig::KILL {
        // Neither caught, blocked nor dumped: nothing to set up.
        // SAFETY: plain integers.
        unsafe { libc::kill(std::process::id() as i32, libc::SIGKILL) };
    }
    let _ = nix::sys::prctl::set_dumpable(false);
    let no_core = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain values and a pointer to a local struct; after this point
    // catchd only exits, so changing its own signal state is harmless.
    unsafe {
        libc::setrlimit(libc::RLIMIT_CORE, &no_core);
        libc::signal(sig.0, libc::SIG_DFL);
        // The raw mask call: glibc's would leave its reserved 32 and 33 blocked.
        let _ =
            crate::sys_sig::set_mask(crate::sys_sig::all_blockable() & !crate::sys_sig::bit(sig.0));
        libc::raise(sig.0);
    }
}

/// The descriptor the hold pipe's write end is placed on in the daemon:
/// the highest the daemon's soft descriptor limit (`soft`, the one catchd
/// was started with) allows, at most 1023, so that daemons that close "the
/// first few" descriptors keep it; `None` below 4 (stdio would be hit).
pub fn hold_fd_number(soft: u64) -> Option<RawFd> {
    let top = soft.min(1024);
    (top >= 4).then(|| (top - 1) as RawFd)
}

/// A close-on-exec copy of `fd` on `at` or the lowest free descriptor
/// above it (`F_DUPFD_CLOEXEC`).
pub fn dup_at_least(fd: impl AsFd, at: RawFd) -> io::Result<OwnedFd> {
    use std::os::fd::{AsRawFd, FromRawFd};
    // SAFETY: F_DUPFD_CLOEXEC on a borrowed, open descriptor; the new one
    // is ours and owned by the OwnedFd from here on.
    let rc = unsafe { libc::fcntl(fd.as_fd().as_raw_fd(), libc::F_DUPFD_CLOEXEC, at) };
    if rc == -1 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned this descriptor to us.
    Ok(unsafe { OwnedFd::from_raw_fd(rc) })
}

/// Close a descriptor catchd was handed and is done with (`--ready-fd`).
pub fn close(fd: RawFd) {
    // SAFETY: the caller owns `fd` (checked open at start-up) and never
    // uses the number again.
    unsafe { libc::close(fd) };
}

/// Take ownership of a descriptor this process was handed by number (the
/// `--contain` init's report pipe and hold pipe).
pub fn adopt_fd(fd: RawFd) -> Option<OwnedFd> {
    if !fd_is_open(fd) {
        return None;
    }
    use std::os::fd::FromRawFd;
    // SAFETY: the descriptor is open (checked just above), was handed to
    // this process for exactly this use, and nothing else owns it.
    Some(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Whether `fd` has nothing to read right now (a pidfd: the process has
/// not exited). Any error counts as "something happened".
pub fn poll_quiet(fd: BorrowedFd<'_>) -> bool {
    let mut pfd = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd, zero timeout.
    let n = unsafe { libc::poll(&mut pfd, 1, 0) };
    n == 0
}

/// Whether `pid`, a child of this process, has exited and waits to be
/// reaped (`waitid` with `WNOWAIT`: it stays a zombie). False for a live
/// child, for a process that is not a child, and on any error.
pub fn child_exited(pid: i32) -> bool {
    // SAFETY: siginfo_t is plain data; zeroed is a valid value.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: a valid siginfo_t that lives for the call.
    let r = unsafe {
        libc::waitid(
            libc::P_PID,
            pid as libc::id_t,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        )
    };
    // SAFETY: si_pid is set (to 0 if no child changed state) on success.
    r == 0 && unsafe { info.si_pid() } == pid
}
