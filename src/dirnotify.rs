//! A light watch on the pidfile's directory while the daemon runs: dnotify
//! (`F_NOTIFY` with `DN_MULTISHOT`), reported as a realtime signal through
//! catchd's own signalfd. Unlike an inotify instance, closing it tears
//! down no fsnotify group, so catchd's exit does not wait for the kernel's
//! grace period (5–15 ms) after the daemon died.
//!
//! Owns: the directory descriptor and its dnotify registration, and telling
//! its signals from signals someone sent. Must not judge the pidfile nor
//! read events' meaning: any event only asks "did the pidfile change?".

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

// <linux/fcntl.h>; not in the libc crate for every target.
const F_SETSIG: libc::c_int = 10;
const DN_MODIFY: libc::c_int = 0x2;
const DN_CREATE: libc::c_int = 0x4;
const DN_DELETE: libc::c_int = 0x8;
const DN_RENAME: libc::c_int = 0x10;
const DN_ATTRIB: libc::c_int = 0x20;
const DN_MULTISHOT: libc::c_int = 0x8000_0000_u32 as libc::c_int;
/// The `si_code` the kernel puts on a dnotify signal (`POLL_MSG`): a
/// process cannot send a positive code to another, so it cannot forge one.
const POLL_MSG: i32 = 3;

/// The signal dnotify raises: the last realtime signal. One that someone
/// sends with `kill` is still forwarded (its code tells them apart).
pub fn signal() -> i32 {
    libc::SIGRTMAX()
}

pub struct DirNotify {
    fd: OwnedFd,
}

impl DirNotify {
    /// Watch `dir` for any change to its entries; `None` if it cannot be
    /// watched (gone, or the kernel has no dnotify).
    pub fn new(dir: &Path) -> Option<DirNotify> {
        let c = CString::new(dir.as_os_str().as_bytes()).ok()?;
        // SAFETY: a NUL-terminated path; the returned fd is owned below.
        let raw = unsafe {
            libc::open(
                c.as_ptr(),
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC | libc::O_NONBLOCK,
            )
        };
        if raw < 0 {
            return None;
        }
        // SAFETY: `raw` is a descriptor we just opened and nobody else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let mask = DN_MODIFY | DN_CREATE | DN_DELETE | DN_RENAME | DN_ATTRIB | DN_MULTISHOT;
        // SAFETY: plain fcntl calls on a descriptor we own. F_NOTIFY also
        // makes this process the descriptor's signal owner.
        let ok = unsafe {
            libc::fcntl(fd.as_raw_fd(), F_SETSIG, signal()) == 0
                && libc::fcntl(fd.as_raw_fd(), libc::F_NOTIFY, mask) == 0
        };
        ok.then_some(DirNotify { fd })
    }

    /// Whether a signal read from the signalfd is this watch's event: its
    /// signal with the kernel's code and this descriptor, or the SIGIO the
    /// kernel sends instead when the realtime queue is full.
    pub fn is_event(&self, signo: u32, code: i32, fd: i32) -> bool {
        let ours = signo as i32 == signal() && code == POLL_MSG && fd == self.fd.as_raw_fd();
        let overflow = signo as i32 == libc::SIGIO && code == libc::SI_KERNEL;
        ours || overflow
    }
}
