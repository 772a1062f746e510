//! The run loop's short cuts (SPEC §1.1.3, §1.2): what a wake-up that
//! brought only signals, or only exits of orphans, may do without the full
//! turn of reaping, scanning and judging the pidfile. Every short cut
//! keeps the guarantees: a forward goes only to the verified main process
//! through its pidfd, and only while that pidfd does not say it exited; a
//! turn without a scan never concludes anything a scan must tell.
//!
//! Owns: deciding when the loop may skip its scan, and the forwarding fast
//! path. Must not decide where a signal goes (`state/` does).

use std::time::{Duration, Instant};

use super::Loop;
use crate::reaper::Reaped;
use crate::sig::Sig;
use crate::state::{Outcome, Turn};

/// While starting or stopping, at most one scan this often for turns that
/// only reaped orphans.
pub(super) const SCAN_EVERY: Duration = Duration::from_millis(20);

impl Loop<'_> {
    /// The fast path of forwarding (SPEC §1.2): signals alone, to a
    /// verified main process whose pidfd does not say it exited, go at
    /// once, without reaping, scanning or reading the pidfile. False if
    /// the signals need a full turn.
    pub(super) fn forward_at_once(&mut self, received: &[Sig]) -> bool {
        let Some(main) = self.state.main() else {
            return false;
        };
        if !self.tracker.main_running(main) {
            return false;
        }
        let Some(actions) = self.state.forward_only(received, Instant::now()) else {
            return false;
        };
        // Only sends, logs and the stop's warning come from signals alone.
        if let Some(finish) = self.perform(actions) {
            crate::debug!("unexpected end on the forwarding path: {finish:?}");
        }
        true
    }

    /// A turn that only reaped orphans, without a scan, when the state
    /// machine allows it (and, while starting or stopping, when the last
    /// scan is recent: the next is then due at most `SCAN_EVERY` later).
    /// `Err` hands the facts back for the full turn.
    pub(super) fn without_scan(
        &mut self,
        signals: Vec<Sig>,
        reaped: Reaped,
    ) -> Result<Option<Outcome>, (Vec<Sig>, Reaped)> {
        let now = Instant::now();
        let recent = self.last_scan.is_some_and(|t| now < t + SCAN_EVERY);
        let skip = match self.state.may_skip_scan(&reaped.exited) {
            Some(false) => true,
            Some(true) if recent => {
                self.scan_due = self.last_scan.map(|t| t + SCAN_EVERY);
                true
            }
            _ => false,
        };
        if !skip {
            return Err((signals, reaped));
        }
        let actions = self.state.step(Turn {
            signals,
            reaped: reaped.exited,
            ..Turn::at(now)
        });
        Ok(self.perform(actions))
    }
}
