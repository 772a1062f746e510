//! Signals as data: save what catchd was started with, block everything but
//! the kernel's fault signals, and read the rest from a signalfd (SPEC §1.2).
//!
//! Owns: catchd's signal mask and its signalfd. Must not act on a signal:
//! `state.rs` decides, `runloop.rs` acts. Must run before any thread exists
//! and before the launcher is spawned, so that no signal slips past.

use std::os::fd::{AsFd, BorrowedFd};

use nix::sys::signal::{SigSet, SigmaskHow};
use nix::sys::signalfd::{SfdFlags, SignalFd};

use crate::error::{Context, Result};
use crate::sig::{self, Sig};

pub struct Signals {
    fd: SignalFd,
    /// The mask catchd was started with, for the daemon (SPEC §1.1.8).
    pub original_mask: libc::sigset_t,
    /// Whether SIGCHLD was ignored when catchd started.
    pub chld_ignored: bool,
}

impl Signals {
    /// Block every catchable signal except the kernel's fault signals and
    /// open a non-blocking, close-on-exec signalfd for them.
    pub fn setup() -> Result<Signals> {
        let original = SigSet::thread_get_mask().context("read the signal mask")?;
        // SIGCHLD ignored would make the kernel reap our children for us and
        // hide their exit statuses: undo it for catchd, restore it for the daemon.
        let chld_ignored = crate::sys::take_sigchld_ignored().context("reset SIGCHLD")?;
        let mut block = SigSet::all();
        for &kernel in sig::KERNEL {
            if let Ok(s) = nix::sys::signal::Signal::try_from(kernel) {
                block.remove(s);
            }
        }
        nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&block), None)
            .context("block signals")?;
        // SigSet::all() covers the realtime signals too (sigfillset).
        let fd = SignalFd::with_flags(&block, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
            .context("create a signalfd")?;
        Ok(Signals {
            fd,
            original_mask: *original.as_ref(),
            chld_ignored,
        })
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Every signal queued now, in arrival order. Several SIGCHLDs may have
    /// merged into one: the caller must drain `waitpid` anyway. Signals
    /// that `watch_event(signo, code, fd)` calls the directory watch's own
    /// are not returned: the flag says whether any came.
    pub fn drain(&self, watch_event: impl Fn(u32, i32, i32) -> bool) -> Result<(Vec<Sig>, bool)> {
        let mut out = Vec::new();
        let mut watched = false;
        while let Some(info) = self.fd.read_signal().context("read the signalfd")? {
            if watch_event(info.ssi_signo, info.ssi_code, info.ssi_fd) {
                watched = true;
            } else {
                out.push(Sig(info.ssi_signo as i32));
            }
        }
        Ok((out, watched))
    }
}
