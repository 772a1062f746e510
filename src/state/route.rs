//! Where a received signal goes (SPEC §1.2) and how a stop proceeds
//! (SPEC §1.3): forwarding, queueing, the stop signal, SIGKILL after the
//! timeout, and the start-up deadline.
//!
//! Owns: the `State` methods that turn signals and deadlines into sends.
//! Pure, like the rest of `state`.

use std::time::Instant;

use super::{Action, Ident, Outcome, Phase, State};
use crate::log::Level;
use crate::sig::{self, Sig};
use crate::stop::Stop;

impl State {
    pub(super) fn mapped(&self, sig: Sig) -> Sig {
        self.cfg
            .signal_map
            .iter()
            .find(|(from, _)| *from == sig)
            .map_or(sig, |(_, to)| *to)
    }

    pub(super) fn own_stop_signal(&self) -> Sig {
        self.cfg.stop_signal.unwrap_or(sig::TERM)
    }

    /// Signals alone, while a verified main process runs and nothing else
    /// is pending: forwarded without a fresh scan (SPEC §1.2), and a stop
    /// begun that way too unless `--kill-mode all` needs the whole tree.
    /// `None` when the turn needs the usual facts.
    pub fn forward_only(&mut self, signals: &[Sig], now: Instant) -> Option<Vec<Action>> {
        let kill_all = self.cfg.kill_all;
        let plain = |s: &Sig| !(kill_all && s.is_stop()) && *s != sig::CHLD;
        if !matches!(self.phase, Phase::Running)
            || self.main.is_none()
            || self.next_deadline().is_some()
            || signals.is_empty()
            || !signals.iter().all(plain)
        {
            return None;
        }
        for &s in signals {
            self.on_signal(s, now);
        }
        Some(std::mem::take(&mut self.out))
    }

    pub(super) fn on_signal(&mut self, received: Sig, now: Instant) {
        if !received.is_forwardable() {
            self.debug(|| format!("{received} not forwarded"));
            return;
        }
        let sig = self.mapped(received);
        if received.is_stop() && !matches!(self.phase, Phase::Stopping(_)) {
            self.log(Level::Info, format!("received {received}: stopping"));
            // Before a main process is known catchd ends as the process it
            // waits on ends (SPEC §1.4).
            self.stopped_early |= self.main.is_none() && self.chosen_by.is_none();
            self.begin_stop(self.cfg.stop_signal.unwrap_or(sig), now);
            return;
        }
        let launcher_alive = self.launcher_exit.is_none();
        if let Some(main) = self.main {
            self.debug(|| format!("forwarding {sig} to main process PID {}", main.pid));
            self.out.push(Action::Send { to: main, sig });
        } else if launcher_alive {
            let pid = self.launcher.pid;
            self.debug(|| format!("forwarding {sig} to the launcher PID {pid}"));
            self.out.push(Action::Send {
                to: self.launcher,
                sig,
            });
        } else if matches!(self.phase, Phase::Starting { .. }) {
            self.log(Level::Info, format!("no main process yet: {sig} queued"));
            self.queued.push(sig);
        } else {
            self.debug(|| format!("no main process: {sig} dropped"));
        }
    }

    pub(super) fn begin_stop(&mut self, sig: Sig, now: Instant) {
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
        if !first.is_empty() {
            self.log(Level::Info, format!("sending {sig} to {who}"));
        }
        if let (Some(main), [to]) = (self.main, first.as_slice()) {
            if main == *to {
                self.out.push(Action::WarnIfIgnored {
                    to: main,
                    sig,
                    kill_in: self.cfg.stop_timeout,
                });
            }
        }
        for to in first {
            stop.mark(to);
            self.out.push(Action::Send { to, sig });
        }
        self.phase = Phase::Stopping(stop);
    }

    pub(super) fn live(&self) -> Vec<Ident> {
        self.tree
            .live()
            .map(|p| Ident {
                pid: p.pid,
                starttime: p.starttime,
            })
            .collect()
    }

    /// Deadlines and the rest of the stop sequence.
    pub(super) fn progress(&mut self, now: Instant, scanned: bool) {
        if let Phase::Starting { deadline } = self.phase {
            if now >= deadline {
                self.log(
                    Level::Error,
                    format!(
                        "no valid pidfile {} within {:?}: stopping",
                        self.cfg
                            .pidfile
                            .as_deref()
                            .map(crate::escape::path)
                            .unwrap_or_default(),
                        self.cfg.start_timeout
                    ),
                );
                // Also after a handover whose successor never wrote a
                // valid pidfile: the old main's exit is not the truth.
                self.result = Some(Outcome::TimedOut);
                self.begin_stop(self.own_stop_signal(), now);
            }
        }
        self.gate_timeout(now);
        let live = self.live();
        let main_alive = self.main.is_some();
        let Phase::Stopping(stop) = &mut self.phase else {
            return;
        };
        let (sig, targets, escalated) = stop.advance(now, main_alive, &live, scanned);
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
            let n = targets.len();
            self.debug(|| format!("sending {sig} to {n} remaining process(es)"));
        }
        for to in targets {
            self.out.push(Action::Send { to, sig });
        }
    }
}
