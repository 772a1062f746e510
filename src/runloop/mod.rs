//! The single loop (SPEC §1; s6-supervise's `iopause`, bubblewrap's
//! `monitor_child`): set up, launch, then `poll` over the signalfd, the
//! hold pipe, the pidfile's directory and the main process's pidfd, with
//! the state machine's next deadline as the only timeout. An idle daemon
//! costs catchd no wake-up.
//!
//! Owns: the order of set-up steps, gathering each turn's facts, and
//! performing the state machine's actions. Must not decide: `state.rs` does.

use std::os::fd::BorrowedFd;
use std::time::Instant;

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use crate::config::RunConfig;
use crate::contain::Contained;
use crate::error::{Context, Result};
use crate::holdpipe::HoldPipe;
use crate::lock::InstanceLock;
use crate::proctree::{self, Tree};
use crate::report::Reporter;
use crate::sig::{self, Sig};
use crate::signals::Signals;
use crate::state::{Action, Ident, Outcome, Settings, State, Turn};
use crate::status::Facts;
use crate::sys::{self, ChildSetup};
use crate::track::{self, Tracker};
use crate::watch::PidfileWatch;
use crate::{contain, listen, pidfile, preflight, reaper, spawn, verify};

mod quick;

pub fn run(cfg: RunConfig) -> Result<Outcome> {
    // Signals first, before anything can spawn or fail: no signal may be
    // lost between the launch and the first poll.
    let signals = Signals::setup()?;
    // catchd's own descriptors never run short; the daemon gets the limit
    // catchd was started with (SPEC §1.1.8).
    let nofile = sys::raise_nofile();
    nix::sys::prctl::set_child_subreaper(true).context("become a child subreaper")?;
    if let Some(fd) = cfg.ready_fd {
        sys::set_cloexec(fd).context("set close-on-exec on --ready-fd")?;
    }
    // Held until catchd returns: one instance per pidfile (SPEC §1.1.7).
    let lock = cfg
        .pidfile
        .as_deref()
        .map(InstanceLock::acquire)
        .transpose()?
        .flatten();
    // Before the previous-instance check: an earlier catchd's leftovers
    // in the cgroup of the same name are stopped, not refused.
    let cgroup = track::setup(&cfg)?;
    if let Some(path) = &cfg.pidfile {
        preflight::check_previous_instance(path, &cfg.program, &cfg.args)?;
    }
    let mut watch = cfg.pidfile.as_deref().map(PidfileWatch::new).transpose()?;
    let mut hold = HoldPipe::new()?;
    let hold_fd = hold.place_write(nofile.rlim_cur)?;
    let setup = ChildSetup {
        mask: signals.original_mask,
        ignored: signals.ignored,
        nofile,
        hold: (hold.write_raw(), hold_fd),
        report: None,
        cgroup: cgroup.as_ref().map(track::cgroup::Cgroup::placement_fd),
    };
    let children_files = proctree::have_children_files();
    let me = std::process::id() as i32;
    let (root, launcher, contained) = if cfg.contain {
        let c = contain::start(&cfg.program, &cfg.args, setup)?;
        // The launcher is the init's child (a zombie at worst: the init
        // reaps only after reporting it); /proc's children lists can miss
        // a process, so look a few times before settling for a stand-in.
        let mut tree = Tree::default();
        for _ in 0..20 {
            tree = proctree::scan(c.init, children_files);
            proctree::fill_nspids(&mut tree);
            if tree.by_nspid(c.launcher_nspid).is_some() {
                break;
            }
        }
        crate::info!("--contain: PID namespace init is PID {}", c.init);
        let init = c.init;
        let (contained, launcher) = Contained::new(c.report, &tree, c.launcher_nspid)?;
        (init, launcher, Some(contained))
    } else {
        let launched = match cgroup.as_ref().map(track::cgroup::Cgroup::dir_fd) {
            Some(dir) => spawn::launch_in(&cfg.program, &cfg.args, setup, dir)?,
            None => spawn::launch(&cfg.program, &cfg.args, setup)?,
        };
        (me, launched, None)
    };
    // Only descendants may hold the write end, or EOF never comes.
    hold.close_write();
    let starttime = proctree::stat(launcher).map_or(0, |p| p.starttime);
    if launcher > 0 {
        crate::info!(
            "started {} as PID {launcher}",
            cfg.program.to_string_lossy()
        );
    } else {
        crate::info!(
            "started {} as PID {} in the namespace; it has already exited",
            cfg.program.to_string_lossy(),
            -launcher
        );
    }
    let settings = Settings {
        pidfile: cfg.pidfile.clone(),
        start_timeout: cfg.start_timeout,
        stop_timeout: cfg.stop_timeout,
        stop_signal: cfg.stop_signal,
        signal_map: cfg.signal_map.clone(),
        kill_all: cfg.kill_mode == crate::cli::KillMode::All,
        wait_all: cfg.wait_all,
        listening: !cfg.ready_when.is_empty(),
    };
    let launcher = Ident {
        pid: launcher,
        starttime,
    };
    let mut lp = Loop {
        cfg: &cfg,
        root,
        contained,
        state: State::new(settings, root, launcher, Instant::now()),
        tracker: Tracker::new(root, children_files, cgroup),
        reporter: Reporter::new(
            std::env::var_os("NOTIFY_SOCKET").as_deref(),
            cfg.ready_fd,
            cfg.status_file.clone(),
        ),
        check: None,
        hold_inode: hold.inode(),
        lock,
        last_scan: None,
        scan_due: None,
        reap_more: false,
        blocked: None,
    };
    let result = lp.run(&signals, &mut hold, watch.as_mut());
    if result.is_err() {
        // Once the daemon is spawned catchd may not simply die.
        lp.tracker.emergency_stop();
    }
    result
}

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
}

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
            ]
            .into_iter()
            .flatten()
            .min();
            let main = self.state.main();
            let (main_fd, events) = self.tracker.fds(main);
            let mut fds = vec![PollFd::new(signals.fd(), PollFlags::POLLIN)];
            let hold_at = push(&mut fds, hold.fd());
            // The inotify descriptor only while it has a watch (watch.rs).
            let watch_at = push(
                &mut fds,
                watch.as_ref().filter(|w| w.awaiting()).map(|w| w.fd()),
            );
            let main_at = push(&mut fds, main_fd);
            let report_at = push(&mut fds, self.contained.as_ref().and_then(|c| c.fd()));
            let lock_at = push(&mut fds, self.lock.as_ref().map(|l| l.fd()));
            // stderr only while log lines wait for it (SPEC §1.1.9).
            let log_at = crate::log::waiting_fd().map(|fd| {
                fds.push(PollFd::new(fd, PollFlags::POLLOUT));
                fds.len() - 1
            });
            // cgroup.events signals a change with POLLPRI (POLLIN is always set).
            let events_at = events.map(|fd| {
                fds.push(PollFd::new(fd, PollFlags::POLLPRI));
                fds.len() - 1
            });
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
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(e).context("poll"),
            }
            let ready = |at: Option<usize>| {
                at.and_then(|i| fds[i].revents())
                    .is_some_and(|r| !r.is_empty())
            };
            let (sig_ready, hold_ready, watch_ready, main_ready, report_ready) = (
                ready(Some(0)),
                ready(hold_at),
                ready(watch_at),
                ready(main_at),
                ready(report_at),
            );
            let lock_ready = ready(lock_at);
            let log_ready = ready(log_at);
            let events_ready = ready(events_at);
            drop(fds);
            if log_ready {
                crate::log::flush();
            }
            if lock_ready {
                // A catchd that lost the instance lock asked who holds it.
                self.lock.iter().for_each(InstanceLock::drain);
            }
            if events_ready {
                self.tracker.rearm();
            }
            // Every event calls for a fresh look (SPEC §1.1.3), except
            // directory events about other files than the pidfile.
            rescan = hold_ready || main_ready || report_ready || events_ready;
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
        if self
            .blocked
            .as_ref()
            .is_some_and(|b| Instant::now() >= b.due())
        {
            if let Some(b) = self.blocked.take() {
                b.check(Instant::now());
            }
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
        let mut tree = self.scan();
        let mut pidfile = self
            .cfg
            .pidfile
            .as_deref()
            .map(|path| self.judge(path, &tree, watch.as_deref_mut()));
        // A process forked after the scan (a successor that wrote the
        // pidfile at once) is not in it: look again before refusing.
        if let (Some(verify::Check::Outside { pid, .. }), Some(path)) =
            (&pidfile, &self.cfg.pidfile)
        {
            if proctree::is_descendant(*pid, self.root) {
                tree = self.scan();
                pidfile = Some(self.judge(path, &tree, watch));
            }
        }
        self.tracker.retain(&tree);
        crate::debug!("scan: {} process(es) under catchd", tree.live_count());
        self.check = pidfile.clone();
        let actions = self.state.step(Turn {
            now: Instant::now(),
            signals,
            reaped: reaped.exited,
            no_children: self.tracker.is_empty(reaped.no_children),
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

    /// The daemon's tree; with `--contain`, with namespace-local PIDs.
    fn scan(&mut self) -> Tree {
        let mut tree = self.tracker.members(self.state.main());
        if let Some(c) = &mut self.contained {
            proctree::fill_nspids(&mut tree);
            c.learn(&tree);
        }
        tree
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

fn push<'a>(fds: &mut Vec<PollFd<'a>>, fd: Option<BorrowedFd<'a>>) -> Option<usize> {
    fd.map(|fd| {
        fds.push(PollFd::new(fd, PollFlags::POLLIN));
        fds.len() - 1
    })
}
