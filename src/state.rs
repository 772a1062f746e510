//! The supervisor's decisions, as pure code (s6-supervise's state × event
//! table): which process is the main process (SPEC §1.1.4–5), where a
//! signal goes or waits (§1.2), how a stop proceeds (§1.3) and what catchd
//! ends with (§1.4).
//!
//! Owns: every decision. Must not make a system call: the run loop hands in
//! a `Turn` of facts (signals, reaped children, a fresh scan, the pidfile's
//! verdict) and performs the `Action`s that come back.

use std::time::{Duration, Instant};

use crate::log::Level;
use crate::proctree::Tree;
use crate::sig::{self, Sig};
use crate::stop::Stop;
use crate::sys::Exit;
use crate::verify::Check;

pub struct Settings {
    pub pidfile: bool,
    pub start_timeout: Duration,
    pub stop_timeout: Duration,
    pub stop_signal: Option<Sig>,
    pub signal_map: Vec<(Sig, Sig)>,
    pub kill_all: bool,
    pub wait_all: bool,
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
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Send { to: Ident, sig: Sig },
    Ready,
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
    phase: Phase,
    queued: Vec<Sig>,
    ready: bool,
    /// How catchd will end, once that is decided.
    result: Option<Outcome>,
    tree: Tree,
    /// The last pidfile remark logged, so that each is logged once.
    remark: Option<String>,
    out: Vec<Action>,
}

impl State {
    pub fn new(cfg: Settings, me: i32, launcher: Ident, now: Instant) -> State {
        let (main, phase) = if cfg.pidfile {
            let deadline = now + cfg.start_timeout;
            (None, Phase::Starting { deadline })
        } else {
            // A program that never forks is held as it is (`tini -s`).
            (Some(launcher), Phase::Running)
        };
        State {
            cfg,
            me,
            launcher,
            launcher_exit: None,
            main,
            phase,
            queued: Vec::new(),
            ready: false,
            result: None,
            tree: Tree::default(),
            remark: None,
            out: Vec::new(),
        }
    }

    pub fn main(&self) -> Option<Ident> {
        self.main
    }

    /// When the loop must wake up even if nothing happens.
    pub fn next_deadline(&self) -> Option<Instant> {
        match &self.phase {
            Phase::Starting { deadline } => Some(*deadline),
            Phase::Stopping(stop) => Some(stop.next_deadline()),
            _ => None,
        }
    }

    pub fn step(&mut self, turn: Turn) -> Vec<Action> {
        let scanned = turn.tree.is_some();
        if let Some(tree) = turn.tree {
            self.tree = tree;
        }
        for (pid, exit) in turn.reaped {
            self.on_reaped(pid, exit, turn.now);
        }
        if scanned {
            self.check_main_alive(turn.now);
        }
        if let Some(check) = turn.pidfile {
            self.on_pidfile(check);
        }
        self.check_ready();
        for sig in turn.signals {
            self.on_signal(sig, turn.now);
        }
        self.progress(turn.now);
        if turn.no_children {
            let outcome = self.result.unwrap_or(Outcome::Mirror(Exit::Code(0)));
            self.log(
                Level::Info,
                format!("every process has exited; {}", describe(outcome)),
            );
            self.out.push(Action::Finish(outcome));
        }
        std::mem::take(&mut self.out)
    }

    fn log(&mut self, level: Level, msg: String) {
        self.out.push(Action::Log(level, msg));
    }

    fn comm(&self, pid: i32) -> String {
        self.tree
            .get(pid)
            .map_or_else(|| "?".into(), |p| p.comm.clone())
    }

    fn on_reaped(&mut self, pid: i32, exit: Exit, now: Instant) {
        let is_launcher = pid == self.launcher.pid && self.launcher_exit.is_none();
        if is_launcher {
            self.launcher_exit = Some(exit);
        }
        if self.main.is_some_and(|m| m.pid == pid) {
            self.main_ended(Some(exit), now);
        } else if is_launcher {
            self.launcher_ended(exit, now);
        } else {
            self.log(Level::Debug, format!("reaped PID {pid}: {exit}"));
        }
    }

    /// The launcher ended while it was not the main process (`--pidfile`).
    fn launcher_ended(&mut self, exit: Exit, now: Instant) {
        let pid = self.launcher.pid;
        if matches!(self.phase, Phase::Stopping(_)) {
            self.result.get_or_insert(Outcome::Mirror(exit));
            return;
        }
        if exit != Exit::Code(0) {
            self.log(
                Level::Error,
                format!("launcher PID {pid} failed ({exit}): start-up failed"),
            );
            self.result = Some(Outcome::Mirror(exit));
            self.begin_stop(self.own_stop_signal(), now);
        } else if self.tree.live_count() == 0 && self.main.is_none() {
            self.log(
                Level::Error,
                format!("launcher PID {pid} exited 0 and left no process to hold"),
            );
            self.result = Some(Outcome::Mirror(exit));
        } else {
            self.log(Level::Info, format!("launcher PID {pid} exited 0"));
        }
    }

    /// A main process that was not catchd's child is gone from the tree.
    fn check_main_alive(&mut self, now: Instant) {
        let Some(m) = self.main else { return };
        let ours_unreaped = self
            .tree
            .get(m.pid)
            .is_some_and(|p| p.ppid == self.me && p.starttime == m.starttime);
        if !self.tree.is_live(m.pid, m.starttime) && !ours_unreaped {
            self.main_ended(None, now);
        }
    }

    fn main_ended(&mut self, exit: Option<Exit>, now: Instant) {
        let Some(old) = self.main.take() else { return };
        let what = exit.map_or_else(
            || "status unknown: not a child of catchd".into(),
            |e| e.to_string(),
        );
        self.log(
            Level::Info,
            format!("main process PID {} ended ({what})", old.pid),
        );
        let outcome = exit.map_or(Outcome::Unknown, Outcome::Mirror);
        if matches!(self.phase, Phase::Stopping(_)) {
            self.result.get_or_insert(outcome);
            return;
        }
        let left = self.tree.live_count();
        let daemonizing = exit == Some(Exit::Code(0)) && left > 0;
        if daemonizing && self.cfg.pidfile {
            // A handover: the successor may write the pidfile only now.
            self.log(Level::Info, format!(
                "{left} process(es) remain: waiting up to {:?} for the pidfile to name the next main process",
                self.cfg.start_timeout
            ));
            self.result = Some(outcome);
            self.phase = Phase::Starting {
                deadline: now + self.cfg.start_timeout,
            };
        } else if let Some(next) = daemonizing
            .then(|| {
                self.tree
                    .children_oldest_first(self.me)
                    .first()
                    .map(|p| Ident {
                        pid: p.pid,
                        starttime: p.starttime,
                    })
            })
            .flatten()
        {
            let how = if old == self.launcher {
                "daemonized"
            } else {
                "handed over"
            };
            self.log(
                Level::Info,
                format!(
                    "{how}: main process is now PID {} ({}), the oldest process left under catchd",
                    next.pid,
                    self.comm(next.pid)
                ),
            );
            self.adopt(next);
        } else {
            self.result = Some(outcome);
            if self.cfg.wait_all {
                if left > 0 {
                    self.log(
                        Level::Info,
                        format!("--wait-all: waiting for {left} process(es) to exit"),
                    );
                }
                self.phase = Phase::Draining;
            } else {
                self.begin_stop(self.own_stop_signal(), now);
            }
        }
    }

    fn adopt(&mut self, main: Ident) {
        self.main = Some(main);
        self.phase = Phase::Running;
        self.remark = None;
        for sig in std::mem::take(&mut self.queued) {
            self.log(
                Level::Info,
                format!("delivering queued {sig} to PID {}", main.pid),
            );
            self.out.push(Action::Send { to: main, sig });
        }
    }

    fn on_pidfile(&mut self, check: Check) {
        let remark = match (&self.phase, check) {
            (Phase::Starting { .. }, Check::Valid { pid, starttime }) => {
                let main = Ident { pid, starttime };
                let verb = if self.result.is_some() { "changed" } else { "is" };
                self.log(Level::Info, format!("main process {verb} PID {pid} ({}), from the pidfile", self.comm(pid)));
                // A successor took over: catchd no longer ends as the old one did.
                self.result = None;
                self.adopt(main);
                return;
            }
            (Phase::Running, Check::Valid { pid, .. }) if self.main.is_some_and(|m| m.pid != pid) => (
                Level::Info,
                format!("pidfile now names PID {pid}; catchd follows it when the main process exits"),
            ),
            (_, Check::Refused(why)) => (Level::Warn, format!("pidfile refused: it {why}; it will not be signalled")),
            (Phase::Starting { .. }, Check::Stale(why)) => (Level::Info, format!("pidfile {why}; waiting")),
            _ => return,
        };
        if self.remark.as_deref() != Some(remark.1.as_str()) {
            self.remark = Some(remark.1.clone());
            self.log(remark.0, remark.1);
        }
    }

    fn check_ready(&mut self) {
        if !self.ready
            && matches!(self.phase, Phase::Running)
            && self.launcher_exit == Some(Exit::Code(0))
        {
            if let Some(m) = self.main {
                self.ready = true;
                self.log(
                    Level::Info,
                    format!("ready: main process PID {} ({})", m.pid, self.comm(m.pid)),
                );
                self.out.push(Action::Ready);
            }
        }
    }

    fn mapped(&self, sig: Sig) -> Sig {
        self.cfg
            .signal_map
            .iter()
            .find(|(from, _)| *from == sig)
            .map_or(sig, |(_, to)| *to)
    }

    fn own_stop_signal(&self) -> Sig {
        self.cfg.stop_signal.unwrap_or(sig::TERM)
    }

    fn on_signal(&mut self, received: Sig, now: Instant) {
        if !received.is_forwardable() {
            self.log(Level::Debug, format!("{received} not forwarded"));
            return;
        }
        let sig = self.mapped(received);
        if received.is_stop() && !matches!(self.phase, Phase::Stopping(_)) {
            self.log(Level::Info, format!("received {received}: stopping"));
            self.begin_stop(self.cfg.stop_signal.unwrap_or(sig), now);
            return;
        }
        let launcher_alive = self.launcher_exit.is_none();
        if let Some(main) = self.main {
            self.log(
                Level::Debug,
                format!("forwarding {sig} to main process PID {}", main.pid),
            );
            self.out.push(Action::Send { to: main, sig });
        } else if launcher_alive {
            self.log(
                Level::Debug,
                format!("forwarding {sig} to the launcher PID {}", self.launcher.pid),
            );
            self.out.push(Action::Send {
                to: self.launcher,
                sig,
            });
        } else if matches!(self.phase, Phase::Starting { .. }) {
            self.log(Level::Info, format!("no main process yet: {sig} queued"));
            self.queued.push(sig);
        } else {
            self.log(Level::Debug, format!("no main process: {sig} dropped"));
        }
    }

    fn begin_stop(&mut self, sig: Sig, now: Instant) {
        if matches!(self.phase, Phase::Stopping(_)) {
            return;
        }
        let first = match self.main {
            Some(main) if !self.cfg.kill_all => vec![main],
            _ => self.live(),
        };
        let mut stop = Stop::new(sig, self.cfg.kill_all, now + self.cfg.stop_timeout);
        let who = if first.len() == 1 && self.main == first.first().copied() {
            format!("main process PID {}", first[0].pid)
        } else {
            format!("{} process(es)", first.len())
        };
        self.log(Level::Info, format!("sending {sig} to {who}"));
        for to in first {
            stop.mark(to);
            self.out.push(Action::Send { to, sig });
        }
        self.phase = Phase::Stopping(stop);
    }

    fn live(&self) -> Vec<Ident> {
        self.tree
            .live()
            .map(|p| Ident {
                pid: p.pid,
                starttime: p.starttime,
            })
            .collect()
    }

    /// Deadlines and the rest of the stop sequence.
    fn progress(&mut self, now: Instant) {
        if let Phase::Starting { deadline } = self.phase {
            if now >= deadline {
                self.log(
                    Level::Error,
                    format!(
                        "no valid pidfile within {:?}: stopping",
                        self.cfg.start_timeout
                    ),
                );
                self.result.get_or_insert(Outcome::TimedOut);
                self.begin_stop(self.own_stop_signal(), now);
            }
        }
        let live = self.live();
        let main_alive = self.main.is_some();
        let Phase::Stopping(stop) = &mut self.phase else {
            return;
        };
        let (sig, targets, escalated) = stop.advance(now, main_alive, &live);
        if escalated {
            let pids: Vec<String> = targets.iter().map(|t| t.pid.to_string()).collect();
            self.log(
                Level::Warn,
                format!(
                    "stop timeout passed: sending SIGKILL to PID(s) {}",
                    pids.join(" ")
                ),
            );
        } else if !targets.is_empty() {
            self.log(
                Level::Debug,
                format!("sending {sig} to {} remaining process(es)", targets.len()),
            );
        }
        for to in targets {
            self.out.push(Action::Send { to, sig });
        }
    }
}

fn describe(outcome: Outcome) -> String {
    match outcome {
        Outcome::Mirror(Exit::Code(n)) => format!("exiting with status {n}"),
        Outcome::Mirror(Exit::Signal(s)) => format!("ending by {s}, as the main process did"),
        Outcome::TimedOut => "exiting with status 124 (start-up timed out)".into(),
        Outcome::Unknown => "exiting with status 1 (the main process's status is unknown)".into(),
    }
}
