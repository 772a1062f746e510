//! One wait of the loop, its only blocking call: the poll set built from
//! what is live now (the signalfd always; the hold pipe, the pidfile's
//! inotify while it is awaited, the main process's pidfd, the `--contain`
//! init's reports, the instance lock, stderr while log lines wait for it,
//! `cgroup.events`), `poll` until the earliest deadline, and which of them
//! woke catchd. The housekeeping descriptors (stderr, the lock,
//! `cgroup.events`) are served here.
//!
//! Owns: the poll set and its timeout. Must not decide what a wake-up
//! means: the loop does.

use std::os::fd::BorrowedFd;
use std::time::Instant;

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use super::Loop;
use crate::error::{Context, Result};
use crate::holdpipe::HoldPipe;
use crate::lock::InstanceLock;
use crate::signals::Signals;
use crate::watch::PidfileWatch;

/// Which descriptors were ready when `poll` returned.
pub(super) struct Woken {
    pub sig: bool,
    pub hold: bool,
    pub watch: bool,
    pub main: bool,
    pub report: bool,
    pub lock: bool,
    pub log: bool,
    pub events: bool,
}

impl Loop<'_> {
    /// Wait for an event or `deadline`. `None`: interrupted, wait again.
    pub(super) fn wait(
        &mut self,
        signals: &Signals,
        hold: &HoldPipe,
        watch: Option<&PidfileWatch>,
        deadline: Option<Instant>,
    ) -> Result<Option<Woken>> {
        let main = self.state.main();
        let (main_fd, events) = self.tracker.fds(main);
        let mut fds = vec![PollFd::new(signals.fd(), PollFlags::POLLIN)];
        let hold_at = push(&mut fds, hold.fd(), PollFlags::POLLIN);
        // The inotify descriptor only while it has a watch (watch.rs).
        let awaited = watch.filter(|w| w.awaiting()).map(|w| w.fd());
        let watch_at = push(&mut fds, awaited, PollFlags::POLLIN);
        let main_at = push(&mut fds, main_fd, PollFlags::POLLIN);
        let report = self.contained.as_ref().and_then(|c| c.fd());
        let report_at = push(&mut fds, report, PollFlags::POLLIN);
        let lock_at = push(
            &mut fds,
            self.lock.as_ref().map(|l| l.fd()),
            PollFlags::POLLIN,
        );
        // stderr only while log lines wait for it (SPEC §1.1.9).
        let log_at = push(&mut fds, crate::log::waiting_fd(), PollFlags::POLLOUT);
        // cgroup.events signals a change with POLLPRI (POLLIN is always set).
        let events_at = push(&mut fds, events, PollFlags::POLLPRI);
        // Children left to reap: look at the other descriptors, then
        // reap on (no SIGCHLD may come for them).
        let wake_at = if self.reap_more {
            Some(Instant::now())
        } else {
            deadline
        };
        let timeout = wake_at.map_or(PollTimeout::NONE, |d| {
            let left = d.saturating_duration_since(Instant::now());
            // Round up so that the deadline has passed when poll returns.
            let ms = left.as_millis().saturating_add(1).min(i32::MAX as u128);
            PollTimeout::try_from(ms as i32).unwrap_or(PollTimeout::MAX)
        });
        match poll(&mut fds, timeout) {
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => return Ok(None),
            Err(e) => return Err(e).context("poll"),
        }
        let ready = |at: Option<usize>| {
            at.and_then(|i| fds[i].revents())
                .is_some_and(|r| !r.is_empty())
        };
        let woken = Woken {
            sig: ready(Some(0)),
            hold: ready(hold_at),
            watch: ready(watch_at),
            main: ready(main_at),
            report: ready(report_at),
            lock: ready(lock_at),
            log: ready(log_at),
            events: ready(events_at),
        };
        drop(fds);
        if woken.log {
            crate::log::flush();
        }
        if woken.lock {
            // A catchd that lost the instance lock asked who holds it.
            self.lock.iter().for_each(InstanceLock::drain);
        }
        if woken.events {
            self.tracker.rearm();
        }
        Ok(Some(woken))
    }
}

fn push<'a>(
    fds: &mut Vec<PollFd<'a>>,
    fd: Option<BorrowedFd<'a>>,
    events: PollFlags,
) -> Option<usize> {
    fd.map(|fd| {
        fds.push(PollFd::new(fd, events));
        fds.len() - 1
    })
}
