//! Signal only processes catchd can vouch for (ARCHITECTURE principle 6):
//! a process is named by `(pid, start time)` from a scan, pinned with a
//! pidfd whose start time is checked once after opening, so that a recycled
//! PID is never hit. Kernels without pidfds get the start-time check just
//! before `kill`, which narrows the race but cannot close it.
//!
//! Owns: the pidfd cache and every signal catchd sends. Must not choose
//! whom to signal: `state.rs` does.

use std::collections::HashMap;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use crate::proctree::{self, Tree};
use crate::sig::Sig;
use crate::sys;

#[derive(Default)]
pub struct Targets {
    pinned: HashMap<(i32, u64), OwnedFd>,
    /// Set once `pidfd_open` said ENOSYS/EPERM: use the fallback from then on.
    no_pidfd: bool,
}

/// What happened to a signal.
#[derive(Debug, PartialEq, Eq)]
pub enum Sent {
    Delivered,
    /// The process is gone, or the PID now names another process.
    Gone,
}

impl Targets {
    /// Send `sig` to the process `(pid, starttime)` if it is still that one.
    pub fn send(&mut self, pid: i32, starttime: u64, sig: Sig) -> io::Result<Sent> {
        if pid <= 0 {
            // A stand-in for a process already gone (see contain.rs).
            return Ok(Sent::Gone);
        }
        let key = (pid, starttime);
        if !self.pinned.contains_key(&key) && !self.no_pidfd {
            match sys::pidfd_open(pid) {
                Ok(Some(fd)) => {
                    // Opened after the scan: check that the fd names the
                    // process the scan saw, not a successor with its PID.
                    if !same_process(pid, starttime) {
                        return Ok(Sent::Gone);
                    }
                    self.pinned.insert(key, fd);
                }
                Ok(None) => self.no_pidfd = true,
                Err(e) if e.raw_os_error() == Some(libc::ESRCH) => return Ok(Sent::Gone),
                Err(e) => return Err(e),
            }
        }
        let result = match self.pinned.get(&key) {
            Some(fd) => sys::pidfd_send_signal(fd, sig),
            None if same_process(pid, starttime) => sys::kill(pid, sig),
            None => return Ok(Sent::Gone),
        };
        match result {
            Ok(()) => Ok(Sent::Delivered),
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => Ok(Sent::Gone),
            Err(e) => Err(e),
        }
    }

    /// A pidfd for `(pid, starttime)`, opened if need be: readable once the
    /// process has exited, which is how catchd notices a main process that
    /// is not its own child.
    pub fn watch(&mut self, pid: i32, starttime: u64) -> Option<BorrowedFd<'_>> {
        let key = (pid, starttime);
        if pid > 0 && !self.pinned.contains_key(&key) && !self.no_pidfd {
            if let Ok(Some(fd)) = sys::pidfd_open(pid) {
                if same_process(pid, starttime) {
                    self.pinned.insert(key, fd);
                }
            }
        }
        self.pinned.get(&key).map(|fd| fd.as_fd())
    }

    /// Forget processes that are no longer in the tree.
    pub fn retain(&mut self, tree: &Tree) {
        self.pinned
            .retain(|&(pid, start), _| tree.is_live(pid, start));
    }
}

fn same_process(pid: i32, starttime: u64) -> bool {
    proctree::stat(pid).is_some_and(|p| p.starttime == starttime && !p.zombie)
}
