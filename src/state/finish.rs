//! How catchd ends once its tree is empty (SPEC §1.4): as the main process
//! ended, or — when no main process was ever known — as the start-up
//! failed: the last failed status in the tree, mirrored, 1 if none failed,
//! or, after a TERM/INT, as the process catchd was waiting on ended.
//!
//! Owns: the choice of the final `Outcome` and its one log line. Pure,
//! like the rest of `state`.

use super::{describe, Action, ChosenBy, Outcome, State};
use crate::log::Level;
use crate::sys::Exit;

impl State {
    /// Remember every reaped exit: a start that never found its main
    /// process ends as the last failure among them.
    pub(super) fn record_exit(&mut self, pid: i32, exit: Exit) {
        self.last_reaped = Some((pid, exit));
        if exit != Exit::Code(0) {
            self.failed = Some((pid, exit));
        }
    }

    /// The tree is empty: say how catchd ends, in one line, and end.
    pub(super) fn finish(&mut self) {
        let (outcome, why) = self.final_outcome();
        let line = match &why {
            Some(why) => format!("{why}; {}", describe(outcome)),
            None => format!("every process has exited; {}", describe(outcome)),
        };
        let level = if why.is_some() && !self.stopped_early {
            Level::Error
        } else {
            Level::Info
        };
        self.log(level, line);
        self.out.push(Action::Finish(outcome));
    }

    fn final_outcome(&self) -> (Outcome, Option<String>) {
        let launcher_failed = self
            .launcher_exit
            .is_some_and(|e| e != Exit::Code(0) && self.chosen_by.is_none());
        match self.result {
            // A start-up timeout and a failed launcher say so themselves.
            Some(Outcome::TimedOut) => return (Outcome::TimedOut, None),
            Some(r) if launcher_failed => return (r, None),
            _ => {}
        }
        let what = |(pid, exit): (i32, Exit)| format!("PID {pid} ended ({exit})");
        if self.cfg.pidfile.is_some() && self.chosen_by.is_none() {
            if self.stopped_early {
                // As the process catchd was waiting on ended.
                let last = self.failed.or(self.last_reaped);
                let outcome =
                    last.map_or(Outcome::Mirror(Exit::Code(1)), |(_, e)| Outcome::Mirror(e));
                let why = last.map_or_else(
                    || "stopped before the pidfile named a main process".to_string(),
                    |l| {
                        format!(
                            "stopped before the pidfile named a main process: {}",
                            what(l)
                        )
                    },
                );
                return (outcome, Some(why));
            }
            let why = match self.failed {
                Some(f) => what(f),
                None => "every process exited with status 0".into(),
            };
            let outcome = self
                .failed
                .map_or(Outcome::Mirror(Exit::Code(1)), |(_, e)| Outcome::Mirror(e));
            return (
                outcome,
                Some(format!(
                    "the daemon exited before its pidfile named it: {why}"
                )),
            );
        }
        // Without --pidfile: the launcher was the main process and left
        // nothing behind; if its tree failed meanwhile, that is the truth.
        let launcher_only = self.chosen_by == Some(ChosenBy::Launcher)
            && self.launcher_exit == Some(Exit::Code(0))
            && self.result == Some(Outcome::Mirror(Exit::Code(0)));
        if let Some(f) = self.failed.filter(|_| launcher_only) {
            return (
                Outcome::Mirror(f.1),
                Some(format!(
                    "the daemon exited before catchd found it: {}",
                    what(f)
                )),
            );
        }
        (self.result.unwrap_or(Outcome::Mirror(Exit::Code(0))), None)
    }
}
