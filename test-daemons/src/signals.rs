//! Signal setup and waiting for the fake daemons: signals are data, read
//! with `sigwaitinfo(2)` / `sigtimedwait(2)`, never caught by handlers.
//!
//! Owns: the mask every role runs with, `--ignore`, and `--die-by`.
//! Must not: install handlers, or change a disposition except to ignore what
//! `--ignore` names, to reset one a role needs (storm children take TERM
//! back), or to die by `--die-by`. An inherited `SIG_IGN` is respected: such
//! a signal is left unblocked, so the kernel drops it and nothing is
//! recorded, just as for a real daemon (this is how a test sees a leaked
//! `SIG_IGN`).

use std::mem::MaybeUninit;
use std::time::Duration;

/// A full signal set, glibc's two reserved signals (32, 33) included:
/// glibc's `sigfillset` leaves them out, so they are added by hand to the
/// kernel's part of the set (its first 64 bits), and the mask and waits go
/// through the raw system calls, which glibc would filter.
pub fn full_set() -> libc::sigset_t {
    let mut set = MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: sigfillset initialises the whole set it is given; the set is
    // at least 8 bytes, of which the kernel's 64-bit set is the first word.
    unsafe {
        libc::sigfillset(set.as_mut_ptr());
        let mut set = set.assume_init();
        *(&mut set as *mut libc::sigset_t).cast::<u64>() |= (1 << 31) | (1 << 32);
        set
    }
}

/// Replace the calling thread's mask, returning the old one (the raw
/// rt_sigprocmask, so that 32 and 33 are blocked too).
pub fn set_mask(set: &libc::sigset_t) -> libc::sigset_t {
    let mut old = full_set();
    // SAFETY: both pointers are valid for a sigset_t, larger than the 8
    // bytes the kernel reads and writes.
    unsafe {
        libc::syscall(
            libc::SYS_rt_sigprocmask,
            libc::SIG_SETMASK,
            set as *const libc::sigset_t,
            &mut old as *mut libc::sigset_t,
            8usize,
        );
    }
    old
}

/// Block every catchable signal; returns the previous mask.
pub fn block_all() -> libc::sigset_t {
    set_mask(&full_set())
}

fn set_disposition(signo: i32, handler: libc::sighandler_t) -> Result<(), String> {
    // SAFETY: a zeroed sigaction is a valid "no flags, empty mask" value and
    // we only install SIG_IGN or SIG_DFL, never a function pointer.
    let rc = unsafe {
        let mut act: libc::sigaction = std::mem::zeroed();
        act.sa_sigaction = handler;
        libc::sigemptyset(&mut act.sa_mask);
        libc::sigaction(signo, &act, std::ptr::null_mut())
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(format!(
            "sigaction({signo}): {}",
            std::io::Error::last_os_error()
        ))
    }
}

fn is_ignored(signo: i32) -> bool {
    // SAFETY: with a null new action, sigaction only fills `old`.
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        libc::sigaction(signo, std::ptr::null(), &mut old) == 0 && old.sa_sigaction == libc::SIG_IGN
    }
}

/// Set up a role's signals and return the set it waits on.
///
/// Order matters: block everything first, so that no signal can hit a
/// default action while dispositions change; then ignore / reset; then
/// unblock exactly the ignored signals. The mask is set outright, never
/// derived from the inherited one.
pub fn setup(ignore: &[i32], reset: &[i32]) -> Result<libc::sigset_t, String> {
    block_all();
    for &s in reset {
        set_disposition(s, libc::SIG_DFL)?;
    }
    for &s in ignore {
        set_disposition(s, libc::SIG_IGN)?;
    }
    let mut wait = full_set();
    for signo in 1..=libc::SIGRTMAX() {
        // SAFETY: `wait` is an initialised set and signo is in range.
        unsafe {
            if libc::sigismember(&wait, signo) == 1 && is_ignored(signo) {
                libc::sigdelset(&mut wait, signo);
            }
        }
    }
    set_mask(&wait);
    Ok(wait)
}

/// What a wait produced.
#[derive(Clone, Copy, Debug)]
pub enum Waited {
    /// A signal and its `si_code` (> 0: sent by the kernel, e.g. a child's
    /// SIGCHLD; <= 0: sent by a process with kill/sigqueue/tgkill).
    Signal { signo: i32, code: i32 },
    /// The timeout passed (or a stop/continue interrupted the wait): the
    /// caller re-checks its deadlines.
    Timeout,
}

/// Wait for one signal of `set`, for at most `timeout` (forever if None).
pub fn wait(set: &libc::sigset_t, timeout: Option<Duration>) -> Waited {
    // SAFETY: siginfo_t is plain data; a zeroed one is a valid out-buffer.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    let ts = timeout.map(|d| libc::timespec {
        tv_sec: d.as_secs().min(i32::MAX as u64) as libc::time_t,
        tv_nsec: d.subsec_nanos() as libc::c_long,
    });
    let ts_ptr = ts
        .as_ref()
        .map_or(std::ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: `set`, `info` and `ts` are valid for the duration of the
    // call (the raw call: glibc's would drop 32 and 33 from the set).
    let rc = unsafe {
        libc::syscall(
            libc::SYS_rt_sigtimedwait,
            set as *const libc::sigset_t,
            &mut info as *mut libc::siginfo_t,
            ts_ptr,
            8usize,
        )
    } as i32;
    if rc > 0 {
        Waited::Signal {
            signo: rc,
            code: info.si_code,
        }
    } else {
        Waited::Timeout
    }
}

/// `--die-by`: die by `signo` with its default action, without a core dump.
pub fn die_by(signo: i32) -> ! {
    // SAFETY: prctl(PR_SET_DUMPABLE, 0) only changes this process's
    // dumpable flag (so a core-dumping signal leaves no core behind).
    unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) };
    if signo != libc::SIGKILL {
        let _ = set_disposition(signo, libc::SIG_DFL);
    }
    // SAFETY: an initialised set holding only `signo`; unblocking it lets
    // the raise below take effect before raise returns.
    unsafe {
        let mut one = MaybeUninit::<libc::sigset_t>::uninit();
        libc::sigemptyset(one.as_mut_ptr());
        libc::sigaddset(one.as_mut_ptr(), signo);
        libc::pthread_sigmask(libc::SIG_UNBLOCK, one.as_ptr(), std::ptr::null_mut());
        libc::raise(signo);
    }
    // Unreachable for the signals --die-by accepts (all terminate).
    eprintln!("td-forker: survived raise({signo})");
    std::process::exit(128 + signo)
}
