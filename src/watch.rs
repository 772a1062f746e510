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
        let mut watch = PidfileWatch {
            inotify,
            dir,
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
    /// daemon after catchd started).
    pub fn rearm(&mut self) {
        if self.armed {
            return;
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
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.inotify.as_fd()
    }

    /// Empty the event queue; a removed directory needs a new watch.
    pub fn drain(&mut self) {
        while let Ok(events) = self.inotify.read_events() {
            if events.is_empty() {
                break;
            }
            if events.iter().any(|e| {
                e.mask.intersects(
                    AddWatchFlags::IN_IGNORED
                        | AddWatchFlags::IN_DELETE_SELF
                        | AddWatchFlags::IN_MOVE_SELF,
                )
            }) {
                self.armed = false;
            }
        }
    }
}
