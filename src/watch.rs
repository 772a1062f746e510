//! Notice pidfile changes without polling (SPEC §1.1.4): inotify on the
//! pidfile's directory, so that a file created, renamed into place or
//! rewritten after the launcher exited wakes the loop.
//!
//! Owns: the inotify descriptor. Must not read or judge the pidfile: any
//! event in the directory only asks the loop to look again.

use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};

use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};

use crate::error::{Context, Result};

pub struct PidfileWatch {
    inotify: Inotify,
    dir: PathBuf,
    name: std::ffi::OsString,
    armed: bool,
}

impl PidfileWatch {
    pub fn new(pidfile: &Path) -> Result<PidfileWatch> {
        let inotify = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC)
            .context("watch the pidfile's directory (inotify)")?;
        let dir = match pidfile.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let name = pidfile.file_name().unwrap_or_default().to_os_string();
        let mut watch = PidfileWatch {
            inotify,
            dir,
            name,
            armed: false,
        };
        watch.rearm();
        if !watch.armed {
            crate::warn!(
                "cannot watch {} (does it exist?); the pidfile is read again on every other event",
                watch.dir.display()
            );
        }
        Ok(watch)
    }

    /// Add the watch if the directory exists now (it may be created by the
    /// daemon after catchd started). True if it was added just now.
    pub fn rearm(&mut self) -> bool {
        if self.armed {
            return false;
        }
        let mask = AddWatchFlags::IN_CREATE
            | AddWatchFlags::IN_CLOSE_WRITE
            | AddWatchFlags::IN_MODIFY
            | AddWatchFlags::IN_MOVED_TO
            | AddWatchFlags::IN_MOVED_FROM
            | AddWatchFlags::IN_DELETE
            | AddWatchFlags::IN_ATTRIB
            | AddWatchFlags::IN_DELETE_SELF
            | AddWatchFlags::IN_MOVE_SELF;
        self.armed = self.inotify.add_watch(&self.dir, mask).is_ok();
        self.armed
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.inotify.as_fd()
    }

    /// Empty the event queue. True if an event concerns the pidfile (or
    /// the directory itself, or events were lost): only then is a fresh
    /// look worth it, so that other files in a busy /run cost no scan.
    pub fn drain(&mut self) -> bool {
        let mut relevant = false;
        while let Ok(events) = self.inotify.read_events() {
            if events.is_empty() {
                break;
            }
            for e in &events {
                let gone = AddWatchFlags::IN_IGNORED
                    | AddWatchFlags::IN_DELETE_SELF
                    | AddWatchFlags::IN_MOVE_SELF;
                if e.mask.intersects(gone) {
                    self.armed = false;
                }
                relevant |= e.mask.intersects(gone | AddWatchFlags::IN_Q_OVERFLOW)
                    || e.name.as_deref() == Some(self.name.as_os_str());
            }
        }
        relevant
    }
}
