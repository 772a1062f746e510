//! Signals as data: save what catchd was started with, block every signal
//! that can be blocked (glibc's reserved 32 and 33 included), and read them
//! from a signalfd (SPEC §1.1.9, §1.2).
//!
//! Owns: catchd's signal mask, its dispositions and its signalfd. Must not
//! act on a signal: `state.rs` decides, `runloop.rs` acts. Must run before
//! any thread exists and before the launcher is spawned, so that no signal
//! slips past.
//!
//! The kernel's fault signals (SEGV, BUS, ...) are blocked too: a real
//! fault in catchd is forced through a blocked signal by the kernel and
//! still ends it, while a `kill -SEGV` from outside is read and forwarded
//! like any other signal.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use crate::error::{Context, Result};
use crate::sig::Sig;
use crate::sys_sig::{self, KSet};

pub struct Signals {
    fd: OwnedFd,
    /// The mask catchd was started with, for the daemon (SPEC §1.1.8).
    pub original_mask: KSet,
    /// The signals ignored when catchd started, for the daemon.
    pub ignored: KSet,
    me: u32,
}

impl Signals {
    /// Block every catchable signal and open a non-blocking, close-on-exec
    /// signalfd for them. Signals catchd was started ignoring are reset to
    /// the default for catchd itself (they are blocked, so they reach the
    /// signalfd): ignoring SIGTERM must not make catchd unstoppable, nor
    /// SIGCHLD hide exit statuses.
    pub fn setup() -> Result<Signals> {
        let block = sys_sig::all_blockable();
        let original_mask = sys_sig::set_mask(block).context("block signals")?;
        let ignored = sys_sig::take_ignored();
        let fd = sys_sig::signalfd(block).context("create a signalfd")?;
        Ok(Signals {
            fd,
            original_mask,
            ignored,
            me: std::process::id(),
        })
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Every signal queued now, in arrival order. Several SIGCHLDs may have
    /// merged into one: the caller must drain `waitpid` anyway. A SIGPIPE
    /// raised by catchd's own write (a reader of its stderr, notify socket
    /// or ready descriptor went away) names catchd as its sender and is
    /// dropped here: it must never reach the daemon. Signals that
    /// `watch_event(signo, code, fd)` calls the directory watch's own are
    /// not returned either: the flag says whether any came.
    pub fn drain(&self, watch_event: impl Fn(u32, i32, i32) -> bool) -> Result<(Vec<Sig>, bool)> {
        let mut out = Vec::new();
        let mut watched = false;
        let mut batch = Vec::with_capacity(sys_sig::BATCH);
        // Bounded: a neighbour rewriting files in the pidfile's directory
        // as fast as catchd reads must not keep it here; the rest stays
        // queued for the next turn of the loop.
        for _ in 0..1024 / sys_sig::BATCH {
            sys_sig::read_signals(self.fd(), &mut batch).context("read the signalfd")?;
            for info in &batch {
                if info.signo == libc::SIGPIPE && info.pid == self.me {
                    crate::debug!("SIGPIPE from catchd's own write: not forwarded");
                    continue;
                }
                if watch_event(info.signo as u32, info.code, info.fd) {
                    watched = true;
                    continue;
                }
                out.push(Sig(info.signo));
            }
            // A short batch emptied the queue.
            if batch.len() < sys_sig::BATCH {
                break;
            }
        }
        Ok((out, watched))
    }
}
