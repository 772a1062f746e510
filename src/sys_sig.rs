//! Raw signal system calls on the kernel's own 64-bit signal set, so that
//! the two realtime signals glibc keeps for itself (32 and 33) are blocked
//! and read like any other (glibc's `sigfillset`, `sigaddset` and
//! `pthread_sigmask` leave them out, and an unblocked 33 would kill catchd).
//!
//! Owns: the mask and signalfd syscalls, the dispositions catchd found at
//! start (SIGPIPE's recorded before the Rust runtime ignores it), and
//! reading `signalfd_siginfo`. Must not decide what a signal means.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};

/// The kernel's signal set: bit `n - 1` is signal `n` (1..=64).
pub type KSet = u64;

/// The size the kernel expects for its sigset (`_NSIG / 8`).
const KSET_SIZE: usize = std::mem::size_of::<KSet>();

pub fn bit(sig: i32) -> KSet {
    if (1..=64).contains(&sig) {
        1 << (sig - 1)
    } else {
        0
    }
}

/// Every signal 1..=SIGRTMAX but the two that cannot be blocked.
pub fn all_blockable() -> KSet {
    let mut set = 0;
    for sig in 1..=libc::SIGRTMAX() {
        if sig != libc::SIGKILL && sig != libc::SIGSTOP {
            set |= bit(sig);
        }
    }
    set
}

/// `rt_sigprocmask(SIG_SETMASK)` on the calling thread, returning the old
/// mask. Async-signal-safe (one raw syscall), so the child may call it.
pub fn set_mask(set: KSet) -> io::Result<KSet> {
    let mut old: KSet = 0;
    // SAFETY: both pointers are valid for KSET_SIZE bytes for the call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_rt_sigprocmask,
            libc::SIG_SETMASK,
            &set as *const KSet,
            &mut old as *mut KSet,
            KSET_SIZE,
        )
    };
    if rc == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(old)
}

/// A non-blocking, close-on-exec signalfd for `set` (`signalfd4`).
pub fn signalfd(set: KSet) -> io::Result<OwnedFd> {
    // SAFETY: the set pointer is valid for KSET_SIZE bytes; -1 asks for a
    // new descriptor, which we own from here on.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_signalfd4,
            -1,
            &set as *const KSet,
            KSET_SIZE,
            libc::SFD_NONBLOCK | libc::SFD_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned this descriptor to us.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// One signal read from a signalfd: its number and who sent it (for a
/// SIGPIPE raised by a write, the writer itself).
#[derive(Debug, Clone, Copy)]
pub struct Info {
    pub signo: i32,
    pub pid: u32,
    /// `si_code`: who raised it (kernel, `kill`, a dnotify event).
    pub code: i32,
    /// `si_fd` of a signal raised for a descriptor (dnotify).
    pub fd: i32,
}

/// How many signals one read of the signalfd takes at most.
pub const BATCH: usize = 16;

/// Read up to `BATCH` queued signals into `out` (cleared first). Fewer
/// than `BATCH` means the queue is empty now: no further read is needed to
/// learn it (the kernel hands over as many as fit and are queued).
pub fn read_signals(fd: BorrowedFd<'_>, out: &mut Vec<Info>) -> io::Result<()> {
    out.clear();
    // SAFETY: signalfd_siginfo is plain data; zeroed is a valid value.
    let mut infos: [libc::signalfd_siginfo; BATCH] = unsafe { std::mem::zeroed() };
    let size = std::mem::size_of::<libc::signalfd_siginfo>();
    loop {
        // SAFETY: the buffer is valid for `BATCH * size` bytes.
        let n = unsafe { libc::read(fd.as_raw_fd(), infos.as_mut_ptr().cast(), BATCH * size) };
        if n >= 0 {
            let n = n as usize;
            if n % size != 0 {
                return Err(io::Error::other("short read from the signalfd"));
            }
            out.extend(infos[..n / size].iter().map(|info| Info {
                signo: info.ssi_signo as i32,
                pid: info.ssi_pid,
                code: info.ssi_code,
                fd: info.ssi_fd,
            }));
            return Ok(());
        }
        let err = io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::EINTR) => continue,
            Some(libc::EAGAIN) => return Ok(()),
            _ => return Err(err),
        }
    }
}

/// Whether SIGPIPE was ignored when the process started, before the Rust
/// runtime set it to ignored for itself.
static PIPE_IGNORED_AT_START: AtomicBool = AtomicBool::new(false);

extern "C" fn record_sigpipe() {
    PIPE_IGNORED_AT_START.store(is_ignored(libc::SIGPIPE), Ordering::Relaxed);
}

/// Runs before `main`, hence before the Rust runtime touches SIGPIPE.
#[used]
#[link_section = ".init_array"]
static RECORD_SIGPIPE: extern "C" fn() = record_sigpipe;

fn is_ignored(sig: i32) -> bool {
    // SAFETY: with a NULL new action, sigaction only fills `old`, a zeroed,
    // properly sized struct.
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        libc::sigaction(sig, std::ptr::null(), &mut old) == 0 && old.sa_sigaction == libc::SIG_IGN
    }
}

/// Every signal ignored when catchd started, reset to the default for
/// catchd itself (blocked, it reaches the signalfd instead of vanishing).
/// The set is handed back to the daemon by `restore_ignored`.
pub fn take_ignored() -> KSet {
    // One read of `SigIgn` rather than a query per signal, where /proc is.
    let listed = crate::procstat::read_text("/proc/self/status")
        .ok()
        .and_then(|t| crate::procstat::status_mask(&t, "SigIgn:"));
    let mut set = 0;
    for sig in 1..=libc::SIGRTMAX() {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        let ignored = match listed {
            _ if sig == libc::SIGPIPE => PIPE_IGNORED_AT_START.load(Ordering::Relaxed),
            Some(mask) if sig <= 64 => mask & bit(sig) != 0,
            _ => is_ignored(sig),
        };
        if ignored {
            set |= bit(sig);
        }
        if ignored || sig == libc::SIGPIPE {
            // SAFETY: SIG_DFL for a valid, catchable signal number; the
            // signal is blocked, so nothing is delivered by this change.
            unsafe { libc::signal(sig, libc::SIG_DFL) };
        }
    }
    set
}

/// In the child before exec: ignore again what catchd was started
/// ignoring. Async-signal-safe (sigaction only).
pub fn restore_ignored(set: KSet) {
    for sig in 1..=64 {
        if set & bit(sig) != 0 {
            // SAFETY: SIG_IGN for a signal number that was ignored before.
            unsafe { libc::signal(sig, libc::SIG_IGN) };
        }
    }
}
