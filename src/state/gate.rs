//! The `--ready-when listening` gate (SPEC §1.5): once the launcher has
//! exited 0 and the main process is known, ready also waits for the
//! listening check, made at once and then with a back-off, as deadlines of
//! the one loop; never once ready. The wait counts towards
//! `--start-timeout` from the launch.
//!
//! Owns: the `State` methods that ask for a check, read its verdict, log
//! what catchd waits for and stop a start that took too long. Pure, like
//! the rest of `state`.

use std::time::Instant;

use super::{Action, Outcome, Phase, State, Turn};
use crate::listen::{Backoff, Probed, Verdict};
use crate::log::Level;

/// Where the listening gate stands.
#[derive(Debug, Default)]
pub struct Gate {
    met: bool,
    backoff: Backoff,
    /// The last "waiting for ..." said, and the last failure warned of.
    waiting: Option<String>,
    failure: Option<String>,
}

impl Turn {
    /// A turn that brings only the verdict of the check a `Probe` asked for.
    pub fn probed(now: Instant, probed: Probed) -> Turn {
        Turn {
            listening: Some(probed),
            ..Turn::at(now)
        }
    }
}

impl State {
    /// Whether the gate lets `ready` through now (the other conditions
    /// are met); asks for a check when one is due.
    pub(super) fn gate_open(&mut self, now: Instant) -> bool {
        let Some(gate) = &mut self.gate else {
            return true;
        };
        if gate.met {
            return true;
        }
        if gate.backoff.due(now) {
            gate.backoff.advance(now);
            self.out.push(Action::Probe);
        }
        false
    }

    pub(super) fn on_probe(&mut self, probed: Probed) {
        let Some(gate) = &mut self.gate else { return };
        gate.backoff.cost(probed.took);
        let line = match probed.verdict {
            Verdict::Met(who) => {
                gate.met = true;
                (Level::Info, format!("listening: {who}"))
            }
            Verdict::Waiting(what) if gate.waiting.as_deref() == Some(what.as_str()) => {
                (Level::Debug, format!("still {what}"))
            }
            Verdict::Waiting(what) => {
                gate.waiting = Some(what.clone());
                (Level::Info, what)
            }
            Verdict::Failed(why) if gate.failure.as_deref() == Some(why.as_str()) => {
                (Level::Debug, format!("listening check failed again: {why}"))
            }
            Verdict::Failed(why) => {
                gate.failure = Some(why.clone());
                (Level::Warn, format!("{why}; checking again"))
            }
        };
        self.log(line.0, line.1);
    }

    /// The gate is checking: the other conditions are met, it is not.
    pub(super) fn gate_pending(&self) -> Option<&Gate> {
        self.gate
            .as_ref()
            .filter(|g| !self.ready && !g.met && g.backoff.next().is_some())
            .filter(|_| matches!(self.phase, Phase::Running))
    }

    /// The next check, or the start timeout if it comes first.
    pub(super) fn gate_deadline(&self) -> Option<Instant> {
        let next = self.gate_pending()?.backoff.next()?;
        Some(next.min(self.start_deadline))
    }

    /// What catchd waits for, for the status file and `STATUS=`.
    pub fn waiting_for(&self) -> Option<&str> {
        self.gate_pending()?.waiting.as_deref()
    }

    /// A start that has not become ready by `--start-timeout` is stopped.
    pub(super) fn gate_timeout(&mut self, now: Instant) {
        let Some(gate) = self.gate_pending() else {
            return;
        };
        if now < self.start_deadline {
            return;
        }
        let what = gate
            .waiting
            .clone()
            .unwrap_or_else(|| "waiting for a listening socket".into());
        self.log(
            Level::Error,
            format!(
                "not ready within {:?} ({what}): stopping",
                self.cfg.start_timeout
            ),
        );
        self.result = Some(Outcome::TimedOut);
        self.begin_stop(self.own_stop_signal(), now);
    }
}
