//! Signal only processes catchd can vouch for (ARCHITECTURE principle 6):
//! a process is named by `(pid, start time)` from a scan, pinned with a
//! pidfd whose start time is checked once after opening, so that a recycled
//! PID is never hit. Kernels without pidfds get the start-time check just
//! before `kill`, which narrows the race but cannot close it.
//!
//! No descriptor is kept per process (SPEC §1.1.9): a pidfd is opened,
//! used and closed for each signal, and only the main process's is kept
//! (the run loop polls it). When no descriptor is left for a pidfd, the
//! start-time check and `kill` take over, so a live process is never
//! counted as gone for want of a descriptor.
//!
//! Owns: every signal catchd sends, and the "not permitted" memory (one
//! warning per process). Must not choose whom to signal: `state.rs` does.

use std::collections::HashSet;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use crate::proctree::{self, Tree};
use crate::sig::Sig;
use crate::sys;

#[derive(Default)]
pub struct Targets {
    /// The main process's pidfd, polled by the run loop.
    watched: Option<((i32, u64), OwnedFd)>,
    /// Processes catchd was not permitted to signal (already warned about).
    denied: HashSet<(i32, u64)>,
    /// Set once `pidfd_open` said ENOSYS/EPERM: use the fallback from then on.
    no_pidfd: bool,
}

/// What happened to a signal.
#[derive(Debug, PartialEq, Eq)]
pub enum Sent {
    Delivered,
    /// The process is gone, or the PID now names another process.
    Gone,
    /// EPERM; `first` is true the first time for this process.
    Denied {
        first: bool,
    },
}

impl Targets {
    /// Send `sig` to the process `(pid, starttime)` if it is still that one.
    pub fn send(&mut self, pid: i32, starttime: u64, sig: Sig) -> io::Result<Sent> {
        let result = self.deliver(pid, starttime, sig);
        match result {
            Err(e) if e.raw_os_error() == Some(libc::EPERM) => Ok(Sent::Denied {
                first: self.denied.insert((pid, starttime)),
            }),
            other => other,
        }
    }

    /// `send`, and say what happened: debug lines, one warning per process
    /// that may not be signalled, a warning for any other failure.
    pub fn send_logged(&mut self, pid: i32, starttime: u64, sig: Sig) {
        match self.send(pid, starttime, sig) {
            Ok(Sent::Delivered) => crate::debug!("sent {sig} to PID {pid}"),
            Ok(Sent::Gone) => crate::debug!("PID {pid} is gone; {sig} not sent"),
            Ok(Sent::Denied { first: true }) => crate::warn!(
                "not permitted to signal PID {pid} ({sig} not sent); not said again for it"
            ),
            Ok(Sent::Denied { first: false }) => {}
            Err(e) => crate::warn!("unable to send {sig} to PID {pid}: {e}"),
        }
    }

    fn deliver(&mut self, pid: i32, starttime: u64, sig: Sig) -> io::Result<Sent> {
        if pid <= 0 {
            // A stand-in for a process already gone (see contain.rs).
            return Ok(Sent::Gone);
        }
        let key = (pid, starttime);
        let result = match &self.watched {
            Some((k, fd)) if *k == key => sys::pidfd_send_signal(fd, sig),
            _ if self.no_pidfd => return kill_checked(pid, starttime, sig),
            _ => match sys::pidfd_open(pid) {
                // Opened after the scan: check that the fd names the
                // process the scan saw, not a successor with its PID.
                // The fd is closed as soon as the signal is sent.
                Ok(Some(fd)) => match same_process(pid, starttime)? {
                    true => sys::pidfd_send_signal(&fd, sig),
                    false => return Ok(Sent::Gone),
                },
                Ok(None) => {
                    self.no_pidfd = true;
                    return kill_checked(pid, starttime, sig);
                }
                Err(e) if e.raw_os_error() == Some(libc::ESRCH) => return Ok(Sent::Gone),
                // EMFILE/ENFILE: no descriptor for a pidfd; check and kill.
                Err(_) => return kill_checked(pid, starttime, sig),
            },
        };
        match result {
            Ok(()) => Ok(Sent::Delivered),
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => Ok(Sent::Gone),
            Err(e) => Err(e),
        }
    }

    /// A pidfd for `(pid, starttime)`, opened if need be: readable once the
    /// process has exited, which is how catchd notices a main process that
    /// is not its own child. Only one is kept: the current main process's.
    pub fn watch(&mut self, pid: i32, starttime: u64) -> Option<BorrowedFd<'_>> {
        let key = (pid, starttime);
        if self.watched.as_ref().is_some_and(|(k, _)| *k != key) {
            self.watched = None;
        }
        if pid > 0 && self.watched.is_none() && !self.no_pidfd {
            if let Ok(Some(fd)) = sys::pidfd_open(pid) {
                if same_process(pid, starttime).unwrap_or(false) {
                    self.watched = Some((key, fd));
                }
            }
        }
        self.watched.as_ref().map(|(_, fd)| fd.as_fd())
    }

    /// Forget processes that are no longer in the tree.
    pub fn retain(&mut self, tree: &Tree) {
        if let Some(((pid, start), _)) = &self.watched {
            if !tree.is_live(*pid, *start) {
                self.watched = None;
            }
        }
        self.denied.retain(|&(pid, start)| tree.is_live(pid, start));
    }
}

/// Without a pidfd: check the start time, then `kill`.
fn kill_checked(pid: i32, starttime: u64, sig: Sig) -> io::Result<Sent> {
    if !same_process(pid, starttime)? {
        return Ok(Sent::Gone);
    }
    match sys::kill(pid, sig) {
        Ok(()) => Ok(Sent::Delivered),
        Err(e) if e.raw_os_error() == Some(libc::ESRCH) => Ok(Sent::Gone),
        Err(e) => Err(e),
    }
}

/// Whether `pid` is still the live process that started at `starttime`.
/// An error (no descriptor left to read /proc) is not "gone".
fn same_process(pid: i32, starttime: u64) -> io::Result<bool> {
    match proctree::stat_checked(pid)? {
        Some(p) => Ok(p.starttime == starttime && !p.zombie),
        None => Ok(false),
    }
}
