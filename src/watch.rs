//! Notice pidfile changes without polling (SPEC §1.1.4): inotify on the
//! pidfile's directory, or — while that directory does not exist (yet, or
//! any more) — on its nearest existing ancestor, moved down as directories
//! appear and up as they vanish. Also tells whether the pidfile's writer
//! is done with it: changed and not yet closed means "being written".
//!
//! The inotify watch is kept only while a pidfile is awaited (start-up, a
//! handover): while the daemon runs, a dnotify watch on the directory
//! (`dirnotify`) notices changes to log, and the inotify watch is removed
//! then, long before exit, so that catchd's exit does not wait for the
//! kernel to tear it down.
//!
//! Owns: the inotify descriptor and its one watch, the dnotify watch, and
//! reading the pidfile between two looks at the events (so that no write
//! seen in the content goes unnoticed). Must not judge the pidfile
//! (`verify` does): an event only asks the loop to look again.

use std::ffi::OsString;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};

use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify, WatchDescriptor};

use crate::dirnotify::DirNotify;
use crate::error::{Context, Result};
use crate::pidfile::Found;

/// What tells a changed pidfile from the one last read, without reading it.
type Stamp = Option<(u64, u64, u64, i64, i64, i64, i64)>;

fn stamp(path: &Path) -> Stamp {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::symlink_metadata(path).ok()?;
    let (mt, mn, ct, cn) = (m.mtime(), m.mtime_nsec(), m.ctime(), m.ctime_nsec());
    Some((m.dev(), m.ino(), m.size(), mt, mn, ct, cn))
}

pub struct PidfileWatch {
    // Dropped first: with its watch long removed, closing it waits for
    // nothing, whereas the dnotify watch dropped before it would leave the
    // kernel's mark reaper pending for this close to wait on.
    inotify: Inotify,
    /// While the daemon runs: the light watch.
    dn: Option<DirNotify>,
    /// The pidfile is awaited: the inotify watch is on.
    awaiting: bool,
    /// The pidfile as last read (`read_settled`).
    seen: Stamp,
    /// The pidfile's directory.
    dir: PathBuf,
    name: OsString,
    /// The directory watched now and its watch.
    watched: Option<(PathBuf, WatchDescriptor)>,
    /// The pidfile changed and was neither closed after writing nor
    /// renamed into place since.
    writing: bool,
}

/// On the pidfile's own directory.
fn dir_mask() -> AddWatchFlags {
    AddWatchFlags::IN_CREATE
        | AddWatchFlags::IN_CLOSE_WRITE
        | AddWatchFlags::IN_MODIFY
        | AddWatchFlags::IN_MOVED_TO
        | AddWatchFlags::IN_MOVED_FROM
        | AddWatchFlags::IN_DELETE
        | AddWatchFlags::IN_ATTRIB
        | AddWatchFlags::IN_DELETE_SELF
        | AddWatchFlags::IN_MOVE_SELF
        | AddWatchFlags::IN_ONLYDIR
}

/// On an ancestor: only what brings the pidfile's directory closer.
fn ancestor_mask() -> AddWatchFlags {
    AddWatchFlags::IN_CREATE
        | AddWatchFlags::IN_MOVED_TO
        | AddWatchFlags::IN_DELETE_SELF
        | AddWatchFlags::IN_MOVE_SELF
        | AddWatchFlags::IN_ONLYDIR
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
            dn: None,
            awaiting: true,
            seen: None,
            dir,
            name,
            watched: None,
            writing: false,
        };
        watch.rearm();
        match &watch.watched {
            None => crate::warn!(
                "cannot watch {} or any directory above it; the pidfile {} is read again on every other event",
                crate::escape::path(&watch.dir),
                crate::escape::path(pidfile)
            ),
            Some((at, _)) if *at != watch.dir => crate::info!(
                "{} does not exist yet: watching {} for it",
                crate::escape::path(&watch.dir),
                crate::escape::path(at)
            ),
            Some(_) => {}
        }
        Ok(watch)
    }

    /// Watch the deepest existing directory on the way to the pidfile's.
    /// True if the watch moved (the pidfile may be there now).
    pub fn rearm(&mut self) -> bool {
        let mut moved = false;
        if !self.awaiting {
            return false;
        }
        // Each pass goes at least one level down, or stops.
        for _ in 0..64 {
            let Some(target) = self.deepest_existing() else {
                return moved;
            };
            if self.watched.as_ref().is_some_and(|(at, _)| *at == target) {
                return moved;
            }
            let mask = if target == self.dir {
                dir_mask()
            } else {
                ancestor_mask()
            };
            let Ok(wd) = self.inotify.add_watch(&target, mask) else {
                // Removed in between: look again from the top.
                continue;
            };
            if let Some((_, old)) = self.watched.take() {
                if old != wd {
                    let _ = self.inotify.rm_watch(old);
                }
            }
            self.watched = Some((target, wd));
            moved = true;
            // A directory made between the look and the watch sent its
            // event to nobody: the next pass looks again.
        }
        moved
    }

    /// The pidfile's directory if it exists, else its nearest ancestor.
    fn deepest_existing(&self) -> Option<PathBuf> {
        self.dir
            .ancestors()
            .find(|d| d.is_dir() || d.as_os_str().is_empty())
            .map(|d| {
                if d.as_os_str().is_empty() {
                    PathBuf::from(".")
                } else {
                    d.to_path_buf()
                }
            })
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.inotify.as_fd()
    }

    /// Read the pidfile once its writer is done with it (SPEC §1.1.4):
    /// events are taken in after the read, and a read that raced a write
    /// is made again (bounded); content still being written without its
    /// newline counts as not written yet (`verify::settled`).
    pub fn read_settled(&mut self, path: &Path) -> std::result::Result<Found, String> {
        self.seen = stamp(path);
        let mut found = crate::pidfile::read(path);
        for _ in 0..8 {
            if !self.drain() {
                break;
            }
            self.seen = stamp(path);
            found = crate::pidfile::read(path);
        }
        crate::verify::settled(found.map_err(|e| e.to_string()), !self.writing)
    }

    /// Keep the inotify watch while the pidfile is `awaiting`, the dnotify
    /// watch otherwise. True if the loop should look again now: a watch
    /// just set up may have missed a change since the last read.
    pub fn set_awaiting(&mut self, awaiting: bool) -> bool {
        if awaiting == self.awaiting {
            return false;
        }
        self.awaiting = awaiting;
        if awaiting {
            self.dn = None;
            self.writing = false;
            return self.rearm();
        }
        if let Some((_, wd)) = self.watched.take() {
            let _ = self.inotify.rm_watch(wd);
        }
        while matches!(self.inotify.read_events(), Ok(e) if !e.is_empty()) {}
        self.writing = false;
        self.dn = DirNotify::new(&self.dir);
        if self.dn.is_none() {
            crate::debug!(
                "cannot watch {} while the daemon runs; pidfile changes are noticed on other events",
                crate::escape::path(&self.dir)
            );
        }
        self.changed()
    }

    /// Whether the inotify watch is on (the pidfile is awaited).
    pub fn awaiting(&self) -> bool {
        self.awaiting
    }

    /// A signal from the signalfd that is the dnotify watch's event.
    pub fn is_dir_event(&self, signo: u32, code: i32, fd: i32) -> bool {
        self.dn
            .as_ref()
            .is_some_and(|d| d.is_event(signo, code, fd))
    }

    /// Whether the pidfile differs from the one last read (dnotify tells
    /// only that something in the directory changed).
    pub fn changed(&self) -> bool {
        stamp(&self.dir.join(&self.name)) != self.seen
    }

    /// Empty the event queue and follow the directory. True if an event
    /// concerns the pidfile, its directory or the watch's place (or events
    /// were lost): only then is a fresh look worth it, so that other files
    /// in a busy /run cost no scan.
    pub fn drain(&mut self) -> bool {
        let mut relevant = false;
        let gone =
            AddWatchFlags::IN_IGNORED | AddWatchFlags::IN_DELETE_SELF | AddWatchFlags::IN_MOVE_SELF;
        while let Ok(events) = self.inotify.read_events() {
            if events.is_empty() {
                break;
            }
            for e in &events {
                let current = self.watched.as_ref().is_some_and(|(_, wd)| *wd == e.wd);
                // An overflow lost what is unknown; a watch that went took
                // its object with it: either way, judge what is there.
                if e.mask.contains(AddWatchFlags::IN_Q_OVERFLOW)
                    || (current && e.mask.intersects(gone))
                {
                    self.watched = None;
                    self.writing = false;
                    relevant = true;
                    continue;
                }
                if !current {
                    continue;
                }
                let at_dir = self.watched.as_ref().is_some_and(|(at, _)| *at == self.dir);
                if !at_dir {
                    // A directory appeared above the pidfile's: go down.
                    relevant |= e.mask.intersects(AddWatchFlags::IN_ISDIR);
                    continue;
                }
                if e.name.as_deref() != Some(self.name.as_os_str()) {
                    continue;
                }
                relevant = true;
                if e.mask
                    .intersects(AddWatchFlags::IN_CLOSE_WRITE | AddWatchFlags::IN_MOVED_TO)
                {
                    self.writing = false;
                } else if e
                    .mask
                    .intersects(AddWatchFlags::IN_MODIFY | AddWatchFlags::IN_CREATE)
                {
                    self.writing = true;
                } else if e
                    .mask
                    .intersects(AddWatchFlags::IN_DELETE | AddWatchFlags::IN_MOVED_FROM)
                {
                    self.writing = false;
                }
            }
        }
        relevant | self.rearm()
    }
}
