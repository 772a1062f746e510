//! The supervisor's decisions, as pure code (s6-supervise's state × event
//! table): which process is the main process (SPEC §1.1.4–5), where a
//! signal goes or waits (§1.2), how a stop proceeds (§1.3) and what catchd
//! ends with (§1.4).
//!
//! Owns: every decision. Must not make a system call: the run loop hands in
//! a `Turn` of facts (signals, reaped children, a fresh scan, the pidfile's
//! verdict) and performs the `Action`s that come back.

mod choose;
mod finish;
mod gate;
#[cfg(test)]
mod gate_tests;
mod route;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_start;

use std::time::{Duration, Instant};

use crate::listen::Probed;
use crate::log::Level;
use crate::proctree::Tree;
use crate::sig::Sig;
use crate::stop::Stop;
use crate::sys::Exit;
use crate::verify::Check;

pub struct Settings {
    /// `--pidfile`, named in the log lines about it.
    pub pidfile: Option<std::path::PathBuf>,
    pub start_timeout: Duration,
    pub stop_timeout: Duration,
    pub stop_signal: Option<Sig>,
    pub signal_map: Vec<(Sig, Sig)>,
    pub kill_all: bool,
    pub wait_all: bool,
    /// `--ready-when listening`: ready also waits for the listening check.
    pub listening: bool,
}

/// A process as catchd knows it: PID plus start time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ident {
    pub pid: i32,
    pub starttime: u64,
}

/// How catchd ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// As the main process (or the failed launcher) ended.
    Mirror(Exit),
    /// No valid pidfile in time: 124.
    TimedOut,
    /// The main process was not catchd's child: its status is unknown (1).
    Unknown,
}

/// What happened since the last turn.
pub struct Turn {
    pub now: Instant,
    pub signals: Vec<Sig>,
    pub reaped: Vec<(i32, Exit)>,
    /// `waitpid` said ECHILD: the tree is empty.
    pub no_children: bool,
    /// A fresh scan, when one was made.
    pub tree: Option<Tree>,
    /// The pidfile's verdict against that scan, with `--pidfile`.
    pub pidfile: Option<Check>,
    /// The verdict of the listening check an `Action::Probe` asked for.
    pub listening: Option<Probed>,
}

impl Turn {
    /// A turn at `now` that brings nothing yet: fill in what happened.
    pub fn at(now: Instant) -> Turn {
        Turn {
            now,
            signals: Vec::new(),
            reaped: Vec::new(),
            no_children: false,
            tree: None,
            pidfile: None,
            listening: None,
        }
    }
}

/// How the main process was chosen (SPEC §1.1.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChosenBy {
    /// The launcher itself: a program that (so far) did not fork.
    Launcher,
    /// The oldest process left under catchd when its parent exited 0.
    OldestChild,
    /// The pidfile, verified against catchd's tree.
    Pidfile,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Send {
        to: Ident,
        sig: Sig,
    },
    /// The stop begins: warn if `to` ignores or blocks `sig`, naming when
    /// SIGKILL follows (the loop reads /proc/PID/status).
    WarnIfIgnored {
        to: Ident,
        sig: Sig,
        kill_in: Duration,
    },
    Ready,
    /// Check for the listening sockets (`--ready-when`), and hand the
    /// verdict back in a `Turn`.
    Probe,
    Log(Level, String),
    Finish(Outcome),
}

#[derive(Debug)]
enum Phase {
    /// With `--pidfile`: waiting for it to name a live descendant.
    Starting {
        deadline: Instant,
    },
    /// The main process is known.
    Running,
    /// The main process ended on its own; `--wait-all` waits for the rest.
    Draining,
    Stopping(Stop),
}

pub struct State {
    cfg: Settings,
    me: i32,
    launcher: Ident,
    launcher_exit: Option<Exit>,
    main: Option<Ident>,
    /// The main process's parent at the last scan.
    main_ppid: Option<i32>,
    /// Why the main process is the main process (for the status file).
    chosen_by: Option<ChosenBy>,
    /// The last exit of a main process or the launcher.
    last_exit: Option<(i32, Exit)>,
    phase: Phase,
    queued: Vec<Sig>,
    ready: bool,
    /// `--start-timeout` from the launch, for the listening gate.
    start_deadline: Instant,
    gate: Option<gate::Gate>,
    /// How catchd will end, once that is decided.
    result: Option<Outcome>,
    tree: Tree,
    /// The last pidfile remark logged, so that each is logged once.
    remark: Option<String>,
    /// The last exit of any process of the tree that failed (non-zero
    /// code or a signal), and the last exit of any process at all: what a
    /// start that never found its main process ends with (SPEC §1.4).
    failed: Option<(i32, Exit)>,
    last_reaped: Option<(i32, Exit)>,
    /// TERM or INT arrived before a main process was known.
    stopped_early: bool,
    out: Vec<Action>,
}

impl State {
    pub fn new(cfg: Settings, me: i32, launcher: Ident, now: Instant) -> State {
        let (main, phase) = if cfg.pidfile.is_some() {
            let deadline = now + cfg.start_timeout;
            (None, Phase::Starting { deadline })
        } else {
            // A program that never forks is held as it is (`tini -s`).
            (Some(launcher), Phase::Running)
        };
        let start_deadline = now + cfg.start_timeout;
        let gate = cfg.listening.then(gate::Gate::default);
        State {
            cfg,
            me,
            launcher,
            launcher_exit: None,
            main,
            main_ppid: main.map(|_| me),
            chosen_by: main.map(|_| ChosenBy::Launcher),
            last_exit: None,
            phase,
            queued: Vec::new(),
            ready: false,
            start_deadline,
            gate,
            result: None,
            tree: Tree::default(),
            remark: None,
            failed: None,
            last_reaped: None,
            stopped_early: false,
            out: Vec::new(),
        }
    }

    pub fn main(&self) -> Option<Ident> {
        self.main
    }

    /// The last scan.
    pub fn tree(&self) -> &Tree {
        &self.tree
    }

    pub fn chosen_by(&self) -> Option<ChosenBy> {
        self.main.and(self.chosen_by)
    }

    pub fn last_exit(&self) -> Option<(i32, Exit)> {
        self.last_exit
    }

    /// `starting`, `running` or `stopping`, as the status file says it.
    pub fn phase_name(&self) -> &'static str {
        match self.phase {
            Phase::Starting { .. } => "starting",
            Phase::Running if self.gate_pending().is_some() => "starting",
            Phase::Running => "running",
            Phase::Draining | Phase::Stopping(_) => "stopping",
        }
    }

    /// With `--pidfile`: waiting for it to name the main process (start-up,
    /// or after the main process exited 0 for a handover).
    pub fn awaiting_pidfile(&self) -> bool {
        self.cfg.pidfile.is_some() && matches!(self.phase, Phase::Starting { .. })
    }

    /// Whether a turn that brought nothing but these reaped exits may go
    /// without a fresh scan (SPEC §1.1.3: reaping an orphan that is not
    /// the main process needs none). `None`: scan. `Some(false)`: skip
    /// (running; neither the main process nor the launcher among them).
    /// `Some(true)`: starting or stopping; skip if the last scan is recent
    /// enough (the pidfile's own events still get their scan at once).
    pub fn may_skip_scan(&self, reaped: &[(i32, Exit)]) -> Option<bool> {
        let key = |pid: i32| {
            self.main.is_some_and(|m| m.pid == pid)
                || (pid == self.launcher.pid && self.launcher_exit.is_none())
        };
        match self.phase {
            Phase::Running if self.next_deadline().is_none() => {
                (!reaped.iter().any(|r| key(r.0))).then_some(false)
            }
            Phase::Starting { .. } => (!reaped.iter().any(|r| key(r.0))).then_some(true),
            Phase::Stopping(_) => Some(true),
            Phase::Running | Phase::Draining => None,
        }
    }

    /// When the loop must wake up even if nothing happens.
    pub fn next_deadline(&self) -> Option<Instant> {
        match &self.phase {
            Phase::Starting { deadline } => Some(*deadline),
            Phase::Stopping(stop) => Some(stop.next_deadline()),
            Phase::Running => self.gate_deadline(),
            _ => None,
        }
    }

    pub fn step(&mut self, turn: Turn) -> Vec<Action> {
        let scanned = turn.tree.is_some();
        if let Some(tree) = turn.tree {
            self.tree = tree;
        }
        // Sorted, for `binary_search`: usually one PID, thousands in a storm.
        let mut reaped: Vec<i32> = turn.reaped.iter().map(|r| r.0).collect();
        reaped.sort_unstable();
        for (pid, exit) in turn.reaped {
            self.on_reaped(pid, exit, turn.now);
        }
        // A turn without a scan keeps the last tree: what was reaped since
        // is not in it any more (its PID may be recycled).
        if !reaped.is_empty() {
            self.tree
                .procs
                .retain(|p| reaped.binary_search(&p.pid).is_err());
        }
        if scanned {
            self.check_main_alive(turn.now);
        }
        if let Some(check) = turn.pidfile {
            self.on_pidfile(check);
        }
        if let Some(verdict) = turn.listening {
            self.on_probe(verdict);
        }
        self.check_ready(turn.now);
        for sig in turn.signals {
            self.on_signal(sig, turn.now);
        }
        self.progress(turn.now, scanned);
        if turn.no_children {
            self.finish();
        }
        std::mem::take(&mut self.out)
    }

    pub(super) fn log(&mut self, level: Level, msg: String) {
        self.out.push(Action::Log(level, msg));
    }

    /// A debug line, formatted only when debug lines are written: some
    /// come once per forwarded signal or reaped orphan.
    pub(super) fn debug(&mut self, msg: impl FnOnce() -> String) {
        if crate::log::enabled(Level::Debug) {
            self.log(Level::Debug, msg());
        }
    }

    pub(super) fn comm(&self, pid: i32) -> String {
        self.tree
            .get(pid)
            .map_or_else(|| "?".into(), |p| p.comm.clone())
    }
}

pub(super) fn describe(outcome: Outcome) -> String {
    match outcome {
        Outcome::Mirror(Exit::Code(n)) => format!("exiting with status {n}"),
        Outcome::Mirror(Exit::Signal(s)) => format!("ending by {s}, as the main process did"),
        Outcome::TimedOut => "exiting with status 124 (start-up timed out)".into(),
        Outcome::Unknown => "exiting with status 1 (the main process's status is unknown)".into(),
    }
}
