//! The hold pipe (s6-fghack's trick, SPEC §1.1.2): a pipe whose write end
//! every descendant inherits on a high descriptor. EOF on the read end means
//! every holder has exited or closed it. It is a hint to look again, never
//! proof that the tree is empty (the subreaper's `ECHILD` is).
//!
//! Owns: both ends until the spawn, then the read end. Must not decide
//! anything from EOF.

use std::io::{self, Read};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};

use nix::fcntl::OFlag;

use crate::error::{Context, Result};

pub struct HoldPipe {
    read: Option<std::fs::File>,
    write: Option<OwnedFd>,
    inode: Option<u64>,
}

pub enum Event {
    /// Every holder is gone: worth a scan.
    Eof,
    /// Someone wrote into it (a daemon bug, harmless): drained and ignored.
    Data,
}

impl HoldPipe {
    pub fn new() -> Result<HoldPipe> {
        let (r, w) = nix::unistd::pipe2(OFlag::O_CLOEXEC | OFlag::O_NONBLOCK)
            .context("create the hold pipe")?;
        // The daemon's end must block like an ordinary descriptor would.
        nix::fcntl::fcntl(&w, nix::fcntl::FcntlArg::F_SETFL(OFlag::empty()))
            .context("set up the hold pipe")?;
        let inode = nix::sys::stat::fstat(&r).ok().map(|st| st.st_ino);
        Ok(HoldPipe {
            read: Some(std::fs::File::from(r)),
            write: Some(w),
            inode,
        })
    }

    /// The pipe's inode: `/proc/PID/fd/N` of a holder reads `pipe:[INODE]`.
    pub fn inode(&self) -> Option<u64> {
        self.inode
    }

    /// Choose the daemon's hold descriptor for the soft descriptor limit
    /// the daemon will get, and move catchd's write end onto it (or above,
    /// if something catchd inherited sits there). Either way that number
    /// is taken in catchd until the spawn, so nothing std opens for the
    /// spawn itself lands where the child puts the hold pipe.
    pub fn place_write(&mut self, soft: u64) -> Result<RawFd> {
        let Some(at) = crate::sys::hold_fd_number(soft) else {
            return Err(crate::error::Error::Sys {
                what: format!("place the hold pipe below the descriptor limit {soft}"),
                source: io::Error::other("it must be at least 4"),
            });
        };
        if let Some(w) = &self.write {
            let moved = crate::sys::dup_at_least(w, at).context("place the hold pipe")?;
            self.write = Some(moved);
        }
        Ok(at)
    }

    /// The raw write end, for the child to place on its high descriptor.
    pub fn write_raw(&self) -> RawFd {
        self.write.as_ref().map_or(-1, |w| w.as_raw_fd())
    }

    /// After the spawn: catchd must not hold the write end, or EOF never comes.
    pub fn close_write(&mut self) {
        self.write = None;
    }

    /// The read end while it is still worth polling.
    pub fn fd(&self) -> Option<BorrowedFd<'_>> {
        self.read.as_ref().map(|r| r.as_fd())
    }

    /// Read what is there; at EOF the read end is closed and no longer polled.
    pub fn read_event(&mut self) -> io::Result<Event> {
        let Some(file) = self.read.as_mut() else {
            return Ok(Event::Eof);
        };
        let mut buf = [0u8; 512];
        let mut got = false;
        loop {
            match file.read(&mut buf) {
                Ok(0) => {
                    self.read = None;
                    return Ok(Event::Eof);
                }
                Ok(_) => got = true,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(if got { Event::Data } else { Event::Eof })
    }
}
