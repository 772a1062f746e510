//! The single loop (SPEC §1; s6-supervise's `iopause`, bubblewrap's
//! `monitor_child`): after the set-up (`start.rs`), wait (`wait.rs`: one
//! `poll`, with the state machine's next deadline as the only timeout),
//! turn what woke catchd into a turn of facts, and act. An idle daemon
//! costs catchd no wake-up.
//!
//! Owns: what a wake-up means, gathering each turn's facts, and performing
//! the state machine's actions. Must not decide: `state` does.

use std::time::Instant;

use crate::config::RunConfig;
use crate::contain::Contained;
use crate::error::Result;
use crate::holdpipe::HoldPipe;
use crate::lock::InstanceLock;
use crate::proctree::{self, Tree};
use crate::report::Reporter;
use crate::sig::{self, Sig};
use crate::signals::Signals;
use crate::state::{Action, Outcome, State, Turn};
use crate::status::Facts;
use crate::track::Tracker;
use crate::watch::PidfileWatch;
use crate::{listen, pidfile, reaper, verify};

mod quick;
mod start;
mod wait;

use wait::Woken;

pub use start::run;

struct Loop<'a> {
    cfg: &'a RunConfig,
    /// The reaper whose descendants are the daemon: catchd, or with
    /// `--contain` the namespace's init.
    root: i32,
    contained: Option<Contained>,
    state: State,
    tracker: Tracker,
    reporter: Reporter,
    /// The last pidfile verdict, for the status report.
    check: Option<verify::Check>,
    hold_inode: Option<u64>,
    lock: Option<InstanceLock>,
    /// When the tree was last scanned, and when a scan skipped while
    /// stopping is due (`SCAN_EVERY`).
    last_scan: Option<Instant>,
    scan_due: Option<Instant>,
    /// The last turn's reaping stopped at its time budget.
    reap_more: bool,
    /// A main process that blocked the stop signal, to be looked at again.
    blocked: Option<crate::stopwarn::Blocked>,
    /// The hold pipe's EOF came alone: the turn waits until then for the
    /// exit that usually follows (`HOLD_SETTLE`).
    settle: Option<Instant>,
}

/// How long a turn waits after EOF on the hold pipe came alone. A process
/// closes its descriptors while it exits, before it can be reaped: a turn
/// at once would find it still there, and on a busy machine would take
/// the CPU from the very exit it waits for. Its SIGCHLD, pidfd or cgroup
/// event wakes the loop well within this; a daemon that only closed its
/// descriptors is looked at when it expires.
const HOLD_SETTLE: std::time::Duration = std::time::Duration::from_millis(2);

impl Loop<'_> {
    fn run(
        &mut self,
        signals: &Signals,
        hold: &mut HoldPipe,
        mut watch: Option<&mut PidfileWatch>,
    ) -> Result<Outcome> {
        let mut received: Vec<Sig> = Vec::new();
        let mut rescan = true;
        // The wake-up brought only SIGCHLD: the turn may skip its scan.
        let mut only_chld = false;
        loop {
            // A wake-up that brought nothing (a directory event about another
            // file) runs no turn: while SIGKILLing, every turn logs, and with
            // the log in the pidfile's directory each line woke the loop again.
            if rescan {
                let quick = std::mem::take(&mut only_chld);
                if let Some(outcome) =
                    self.turn(std::mem::take(&mut received), watch.as_deref_mut(), quick)?
                {
                    return Ok(outcome);
                }
                // inotify only while the pidfile is awaited (watch.rs).
                let awaiting = self.state.awaiting_pidfile();
                if watch
                    .as_deref_mut()
                    .is_some_and(|w| w.set_awaiting(awaiting))
                {
                    continue;
                }
            }
            let deadline = [
                self.state.next_deadline(),
                self.scan_due,
                self.blocked.as_ref().map(|b| b.due()),
                self.settle,
            ]
            .into_iter()
            .flatten()
            .min();
            let Some(woken) = self.wait(signals, hold, watch.as_deref(), deadline)? else {
                continue;
            };
            let Woken {
                sig: sig_ready,
                hold: hold_ready,
                watch: watch_ready,
                main: main_ready,
                report: report_ready,
                lock: lock_ready,
                log: log_ready,
                events: events_ready,
            } = woken;
            // Every event calls for a fresh look (SPEC §1.1.3), except
            // directory events about other files than the pidfile.
            let rescan_others = main_ready || report_ready || events_ready;
            rescan = hold_ready || rescan_others;
            let only_signals = sig_ready
                && !(hold_ready || watch_ready || main_ready || report_ready)
                && !(events_ready || lock_ready || log_ready);
            if sig_ready {
                let w = watch.as_deref();
                let (sigs, dir_event) =
                    signals.drain(|n, code, fd| w.is_some_and(|w| w.is_dir_event(n, code, fd)))?;
                // A directory event about another file than the pidfile
                // runs no turn.
                rescan |= !sigs.is_empty() || (dir_event && w.is_some_and(PidfileWatch::changed));
                only_chld = only_signals
                    && !dir_event
                    && !sigs.is_empty()
                    && sigs.iter().all(|s| *s == sig::CHLD);
                received = sigs;
                if only_signals && self.forward_at_once(&received) {
                    received.clear();
                    // Sent; the status report still wants a fresh look.
                    rescan = self.reporter.wants_tree();
                    continue;
                }
                received.retain(|s| *s != sig::CHLD);
            }
            if hold_ready {
                if let Ok(crate::holdpipe::Event::Eof) = hold.read_event() {
                    crate::debug!("hold pipe: every holder is gone");
                    if !(rescan_others || sig_ready || watch_ready) {
                        self.settle = Some(Instant::now() + HOLD_SETTLE);
                        rescan = false;
                    }
                }
            }
            if let Some(w) = watch.as_deref_mut() {
                if watch_ready {
                    rescan |= w.drain();
                }
                rescan |= w.rearm();
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                rescan = true;
                only_chld = false;
            } else if self.reap_more && !rescan {
                // As if a SIGCHLD came: the turn may skip its scan.
                rescan = true;
                only_chld = true;
            }
        }
    }

    /// Gather the facts (every turn reaps, reads the init's reports, scans
    /// and judges the pidfile), let the state machine decide, act.
    fn turn(
        &mut self,
        mut signals: Vec<Sig>,
        mut watch: Option<&mut PidfileWatch>,
        quick: bool,
    ) -> Result<Option<Outcome>> {
        let now = Instant::now();
        self.settle = None;
        if let Some(b) = self.blocked.take_if(|b| now >= b.due()) {
            b.check(now);
        }
        let mut reaped = reaper::drain()?;
        self.reap_more = reaped.more;
        if quick && self.contained.is_none() && !reaped.no_children {
            match self.without_scan(signals, reaped) {
                Ok(finish) => return Ok(finish),
                Err((back, r)) => (signals, reaped) = (back, r),
            }
        }
        self.last_scan = Some(Instant::now());
        self.scan_due = None;
        if let Some(c) = &mut self.contained {
            // Read the init's reports after reaping: the init writes them
            // all before it exits, so once its exit is seen (and with it
            // ECHILD) every report is in the pipe. Translated with what
            // earlier scans saw, before this scan.
            c.read()?;
            reaped.exited.extend(c.take_exits());
        }
        let (mut tree, empty) = self.scan(reaped.no_children);
        // Once the daemon is running, an empty tree (catchd childless, the
        // cgroup empty) leaves no process for the pidfile to name: the last
        // turn goes without reading it. While it is awaited, its verdict
        // says why the start failed.
        let ended = empty && !self.state.awaiting_pidfile();
        let mut pidfile = self
            .cfg
            .pidfile
            .as_deref()
            .filter(|_| !ended)
            .map(|path| self.judge(path, &tree, watch.as_deref_mut()));
        // A process forked after the scan (a successor that wrote the
        // pidfile at once) is not in it: look again before refusing.
        if let (Some(verify::Check::Outside { pid, .. }), Some(path)) =
            (&pidfile, &self.cfg.pidfile)
        {
            if proctree::is_descendant(*pid, self.root) {
                tree = self.scan(false).0;
                pidfile = Some(self.judge(path, &tree, watch));
            }
        }
        self.tracker.retain(&tree);
        crate::debug!("scan: {} process(es) under catchd", tree.live_count());
        if pidfile.is_some() {
            self.check = pidfile.clone();
        }
        let actions = self.state.step(Turn {
            now: Instant::now(),
            signals,
            reaped: reaped.exited,
            no_children: empty,
            tree: Some(tree),
            pidfile,
            listening: None,
        });
        Ok(self.perform(actions))
    }

    /// Carry out the state machine's actions; the outcome if catchd ends.
    fn perform(&mut self, actions: Vec<Action>) -> Option<Outcome> {
        let (mut ready, mut finish, mut sends) = (false, None, Vec::new());
        let mut actions = std::collections::VecDeque::from(actions);
        while let Some(action) = actions.pop_front() {
            match action {
                Action::Send { to, sig } => sends.push((to, sig)),
                Action::WarnIfIgnored { to, sig, kill_in } => {
                    self.blocked =
                        crate::stopwarn::warn_if_ignored(to.pid, sig, kill_in, Instant::now());
                }
                Action::Ready => ready = true,
                Action::Probe => {
                    // The verdict goes straight back: ready may follow in this turn.
                    let probed = listen::probe::check(&self.cfg.ready_when, self.state.tree());
                    actions.extend(self.state.step(Turn::probed(Instant::now(), probed)));
                }
                Action::Log(level, msg) => crate::log::write(level, format_args!("{msg}")),
                Action::Finish(outcome) => finish = Some(outcome),
            }
        }
        self.tracker.deliver(&sends, self.state.tree());
        self.report(ready);
        if ready {
            // Housekeeping, once the daemon is up: off the start's path.
            self.tracker.sweep_leftovers();
        }
        if finish.is_some() {
            self.reporter.finish();
        }
        finish
    }

    fn report(&mut self, ready: bool) {
        let facts = Facts {
            state: self.state.phase_name(),
            main: self.state.main(),
            chosen_by: self.state.chosen_by(),
            pidfile: self.cfg.pidfile.as_deref().zip(self.check.as_ref()),
            tree: self.state.tree(),
            last_exit: self.state.last_exit(),
            hold_inode: self.hold_inode,
            cgroup: self
                .cfg
                .status_file
                .as_ref()
                .and_then(|_| self.tracker.stats()),
            waiting_for: self.state.waiting_for(),
        };
        self.reporter.update(&facts, ready);
    }

    /// The daemon's tree; with `--contain`, with namespace-local PIDs;
    /// and whether it is empty. `no_children`: this turn's reaping found
    /// catchd childless.
    fn scan(&mut self, no_children: bool) -> (Tree, bool) {
        let (mut tree, empty) = self.tracker.members(self.state.main(), no_children);
        if let Some(c) = &mut self.contained {
            proctree::fill_nspids(&mut tree);
            c.learn(&tree);
        }
        (tree, empty)
    }

    /// Judge the pidfile once its writer is done with it (the watch
    /// knows; without one, as it is).
    fn judge(
        &self,
        path: &std::path::Path,
        tree: &Tree,
        watch: Option<&mut PidfileWatch>,
    ) -> verify::Check {
        let found = match watch {
            Some(w) => w.read_settled(path),
            None => pidfile::read(path).map_err(|e| e.to_string()),
        };
        verify::judge(
            found,
            tree,
            self.root,
            self.contained.is_some(),
            pidfile::named,
        )
    }
}
