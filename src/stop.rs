//! The stop sequence's bookkeeping (SPEC §1.3): who already got the stop
//! signal, when SIGKILL takes over, and how often to look again while
//! killing a tree that keeps forking. After the timeout every process is
//! first stopped (SIGSTOP), scan after scan until one finds no process
//! that was not sent SIGSTOP, and only then killed: a stopped process
//! cannot fork, so a daemon that re-forks faster than catchd looks cannot
//! outrun the kill (SIGKILL rounds alone race the forks).
//!
//! Owns: pure timing and the "signalled once" set. Must not decide when a
//! stop begins (`state.rs`) nor send anything (`runloop.rs`).

use std::collections::HashSet;
use std::time::{Duration, Instant};

use crate::sig::{self, Sig};
use crate::state::Ident;

/// While killing, scan again this often even if no child reports: a
/// process the `children` snapshot missed must not keep catchd waiting.
const RESCAN: Duration = Duration::from_millis(50);
/// While stopping processes before the kill: look again soon.
const FREEZE_RESCAN: Duration = Duration::from_millis(5);

#[derive(Debug)]
pub struct Stop {
    sig: Sig,
    kill_all: bool,
    kill_at: Instant,
    killing: bool,
    recheck: Instant,
    signalled: HashSet<Ident>,
    /// Sent SIGSTOP (whether or not it took: one try each).
    frozen: HashSet<Ident>,
}

impl Stop {
    pub fn new(sig: Sig, kill_all: bool, kill_at: Instant) -> Stop {
        Stop {
            sig,
            kill_all,
            kill_at,
            killing: false,
            recheck: kill_at,
            signalled: HashSet::new(),
            frozen: HashSet::new(),
        }
    }

    pub fn mark(&mut self, who: Ident) {
        self.signalled.insert(who);
    }

    pub fn next_deadline(&self) -> Instant {
        if self.killing {
            self.recheck
        } else {
            self.kill_at
        }
    }

    /// Who gets which signal now: nobody else while the main process is
    /// alive (unless `--kill-mode all`), then every live descendant once,
    /// then after the timeout SIGSTOP to each live process not yet sent
    /// one, and once a turn finds none, SIGKILL to all of them, on every
    /// turn. The flag says the kill started on this turn.
    /// `fresh` says `live` comes from a scan made in this turn: only such
    /// a look may conclude that every process is stopped.
    pub fn advance(
        &mut self,
        now: Instant,
        main_alive: bool,
        live: &[Ident],
        fresh: bool,
    ) -> (Sig, Vec<Ident>, bool) {
        let escalated = !self.killing && now >= self.kill_at;
        if escalated {
            self.killing = true;
        }
        if self.killing {
            let unfrozen: Vec<Ident> = live
                .iter()
                .filter(|p| !self.frozen.contains(p))
                .copied()
                .collect();
            if !unfrozen.is_empty() {
                self.frozen.extend(unfrozen.iter().copied());
                self.recheck = now + FREEZE_RESCAN;
                return (sig::STOP, unfrozen, escalated);
            }
            if !fresh {
                // Newcomers may hide from the last scan: the next one tells.
                return (sig::KILL, Vec::new(), escalated);
            }
            self.recheck = now + RESCAN;
            return (sig::KILL, live.to_vec(), escalated);
        }
        if main_alive && !self.kill_all {
            return (self.sig, Vec::new(), false);
        }
        let fresh: Vec<Ident> = live
            .iter()
            .filter(|p| !self.signalled.contains(p))
            .copied()
            .collect();
        self.signalled.extend(fresh.iter().copied());
        (self.sig, fresh, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(pid: i32) -> Ident {
        Ident {
            pid,
            starttime: pid as u64,
        }
    }

    #[test]
    fn signals_each_process_once_then_kills_all_repeatedly() {
        let t0 = Instant::now();
        let mut stop = Stop::new(sig::TERM, false, t0 + Duration::from_secs(1));
        stop.mark(id(10));
        assert_eq!(stop.advance(t0, true, &[id(10), id(11)], true).1, []);
        assert_eq!(
            stop.advance(t0, false, &[id(11), id(12)], true).1,
            [id(11), id(12)]
        );
        assert_eq!(stop.advance(t0, false, &[id(11), id(13)], true).1, [id(13)]);
        let late = t0 + Duration::from_secs(1);
        // Stopped first, then killed once a look finds nobody new.
        assert_eq!(
            stop.advance(late, false, &[id(11)], true),
            (sig::STOP, vec![id(11)], true)
        );
        assert_eq!(stop.next_deadline(), late + FREEZE_RESCAN);
        assert_eq!(
            stop.advance(late, false, &[id(11), id(14)], true),
            (sig::STOP, vec![id(14)], false)
        );
        assert_eq!(
            stop.advance(late, false, &[id(11), id(14)], true),
            (sig::KILL, vec![id(11), id(14)], false)
        );
        assert_eq!(
            stop.advance(late, false, &[id(11)], true),
            (sig::KILL, vec![id(11)], false)
        );
        assert_eq!(stop.next_deadline(), late + RESCAN);
        // A turn without a scan cannot tell that nobody new came: it
        // neither kills nor moves the next look.
        assert_eq!(
            stop.advance(late + RESCAN / 2, false, &[id(11)], false),
            (sig::KILL, vec![], false)
        );
        assert_eq!(stop.next_deadline(), late + RESCAN);
    }

    #[test]
    fn kill_mode_all_reaches_newcomers_while_main_lives() {
        let t0 = Instant::now();
        let mut stop = Stop::new(sig::TERM, true, t0 + Duration::from_secs(1));
        assert_eq!(stop.advance(t0, true, &[id(5)], true).1, [id(5)]);
    }
}
