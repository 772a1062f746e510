//! Which process is the main process (SPEC §1.1.4–5): the launcher's end,
//! daemonizing, the pidfile's verdict, handovers and readiness.
//!
//! Owns: the `State` methods that pick, follow or drop the main process.
//! Pure, like the rest of `state`.

use std::time::Instant;

use super::{Action, ChosenBy, Ident, Outcome, Phase, State};
use crate::log::Level;
use crate::sys::Exit;
use crate::verify::Check;

impl State {
    pub(super) fn on_reaped(&mut self, pid: i32, exit: Exit, now: Instant) {
        self.record_exit(pid, exit);
        let is_launcher = pid == self.launcher.pid && self.launcher_exit.is_none();
        if is_launcher {
            self.launcher_exit = Some(exit);
        }
        let is_main = self.main.is_some_and(|m| m.pid == pid);
        if is_main || is_launcher {
            self.last_exit = Some((pid, exit));
        }
        if is_main {
            self.main_ended(Some(exit), now);
        } else if is_launcher {
            self.launcher_ended(exit, now);
        } else {
            self.debug(|| format!("reaped PID {pid}: {exit}"));
        }
    }

    /// The launcher ended while it was not the main process (`--pidfile`).
    pub(super) fn launcher_ended(&mut self, exit: Exit, now: Instant) {
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
            // No main process was found: `finish` says what failed.
            self.log(
                Level::Info,
                format!("launcher PID {pid} exited 0 and left no process to hold"),
            );
        } else {
            self.log(Level::Info, format!("launcher PID {pid} exited 0"));
        }
    }

    /// Notice a main process that is gone from the tree. One that is the
    /// reaper's child ends only through its
    /// reaped status (catchd's own `waitpid`, or the `--contain` init's
    /// report, which may come a turn after the process left /proc).
    pub(super) fn check_main_alive(&mut self, now: Instant) {
        let Some(m) = self.main else { return };
        match self.tree.get(m.pid).filter(|p| p.starttime == m.starttime) {
            Some(p) => {
                self.main_ppid = Some(p.ppid);
                if p.zombie && p.ppid != self.me {
                    self.main_ended(None, now);
                }
            }
            None if self.main_ppid == Some(self.me) => {}
            None => self.main_ended(None, now),
        }
    }

    pub(super) fn main_ended(&mut self, exit: Option<Exit>, now: Instant) {
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
        if daemonizing && self.cfg.pidfile.is_some() {
            // A handover: the successor may write the pidfile only now.
            self.log(Level::Info, format!(
                "{left} process(es) remain: waiting up to {:?} for the pidfile to name the next main process",
                self.cfg.start_timeout
            ));
            self.result = Some(outcome);
            self.phase = Phase::Starting {
                deadline: now + self.cfg.start_timeout,
            };
        } else if let Some(next) = daemonizing.then(|| self.oldest_child()).flatten() {
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
            self.adopt(next, ChosenBy::OldestChild);
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

    /// The oldest live process directly under the reaper.
    fn oldest_child(&self) -> Option<Ident> {
        let p = self
            .tree
            .children_oldest_first(self.me)
            .into_iter()
            .next()?;
        Some(Ident {
            pid: p.pid,
            starttime: p.starttime,
        })
    }

    pub(super) fn adopt(&mut self, main: Ident, how: ChosenBy) {
        self.main = Some(main);
        self.main_ppid = self.tree.get(main.pid).map(|p| p.ppid);
        self.chosen_by = Some(how);
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

    pub(super) fn on_pidfile(&mut self, check: Check) {
        let path = self
            .cfg
            .pidfile
            .as_deref()
            .map(crate::escape::path)
            .unwrap_or_default();
        let remark = match (&self.phase, check) {
            (Phase::Starting { .. }, Check::Valid { pid, starttime }) => {
                let main = Ident { pid, starttime };
                let verb = if self.result.is_some() { "changed" } else { "is" };
                self.log(Level::Info, format!("main process {verb} PID {pid} ({}), from the pidfile", self.comm(pid)));
                // A successor took over: catchd no longer ends as the old one did.
                self.result = None;
                self.adopt(main, ChosenBy::Pidfile);
                return;
            }
            (Phase::Running, Check::Valid { pid, .. }) if self.main.is_some_and(|m| m.pid != pid) => (
                Level::Info,
                format!("pidfile now names PID {pid} ({path}); catchd follows it when the main process exits"),
            ),
            (_, check) if check.refusal().is_some() => (Level::Warn, format!(
                    "pidfile refused: {path} {}; it will not be signalled",
                    check.refusal().unwrap_or_default()
                )),
            (Phase::Starting { .. }, Check::Stale(why)) => (Level::Info, format!("pidfile {path} {why}; waiting")),
            _ => return,
        };
        if self.remark.as_deref() != Some(remark.1.as_str()) {
            self.remark = Some(remark.1.clone());
            self.log(remark.0, remark.1);
        }
    }

    pub(super) fn check_ready(&mut self, now: Instant) {
        if !self.ready
            && matches!(self.phase, Phase::Running)
            && self.launcher_exit == Some(Exit::Code(0))
            && self.main.is_some()
            && self.gate_open(now)
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
}
