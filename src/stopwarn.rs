//! The warning as a stop starts (SPEC §1.3): a main process that ignores or
//! blocks the stop signal will only end by SIGKILL, so catchd says so
//! instead of waiting the whole stop timeout without a word. Ignoring is
//! told at once; blocking only once the signal has stayed pending for half
//! the stop timeout (at most 1 s), since daemons that take their signals
//! with sigwait or a signalfd block them on purpose and may just be busy.
//!
//! Owns: reading the main process's signal masks and the warning's words.
//! Must not signal or decide when the stop begins (`state` does).

use std::time::{Duration, Instant};

use crate::sig::Sig;

/// What `pid` does with `sig`, by its masks: `None` if it may act on it.
pub fn disregard(ignored: u64, blocked: u64, sig: Sig) -> Option<&'static str> {
    let bit = 1u64.checked_shl(u32::try_from(sig.0 - 1).ok()?)?;
    if ignored & bit != 0 {
        Some("ignores")
    } else if blocked & bit != 0 {
        Some("blocks")
    } else {
        None
    }
}

/// Warn at once about a main process that ignores `sig`. One that only
/// blocks it may be taking it with sigwait or a signalfd and merely be busy
/// for a moment: that is judged later, by [`Blocked::check`].
pub fn warn_if_ignored(pid: i32, sig: Sig, kill_in: Duration, now: Instant) -> Option<Blocked> {
    let m = masks(pid)?;
    match disregard(m.ignored, m.blocked, sig)? {
        "ignores" => {
            crate::warn!("main process PID {pid} ignores {sig}: SIGKILL in {kill_in:?}");
            None
        }
        _ => Some(Blocked {
            pid,
            sig,
            due: now + (kill_in / 2).min(Duration::from_secs(1)),
            kill_at: now + kill_in,
        }),
    }
}

/// A main process that blocked the stop signal when the stop began.
pub struct Blocked {
    pid: i32,
    sig: Sig,
    due: Instant,
    kill_at: Instant,
}

impl Blocked {
    /// When to look again.
    pub fn due(&self) -> Instant {
        self.due
    }

    /// Still blocked and still pending (nobody took it, by sigwait, a
    /// signalfd or a handler): then it will only end by SIGKILL.
    pub fn check(self, now: Instant) {
        let Some(m) = masks(self.pid) else {
            return;
        };
        if disregard(0, m.blocked & m.pending, self.sig).is_some() {
            let left = self.kill_at.saturating_duration_since(now).as_millis();
            let left = Duration::from_millis(u64::try_from(left).unwrap_or(u64::MAX));
            crate::warn!(
                "main process PID {} blocks {}: SIGKILL in {left:?}",
                self.pid,
                self.sig
            );
        }
    }
}

/// Signal masks of `pid` from /proc/PID/status, as bit masks (bit N-1 =
/// signal N).
struct Masks {
    /// `SigIgn`.
    ignored: u64,
    /// `SigBlk`, of its first thread.
    blocked: u64,
    /// `ShdPnd` (the whole process's) with `SigPnd` (its first thread's).
    pending: u64,
}

fn masks(pid: i32) -> Option<Masks> {
    let text = crate::procstat::read_text(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| crate::procstat::status_mask(&text, name);
    Some(Masks {
        ignored: field("SigIgn:")?,
        blocked: field("SigBlk:")?,
        pending: field("ShdPnd:")? | field("SigPnd:")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sig;

    #[test]
    fn ignored_wins_over_blocked_and_other_bits_do_not_count() {
        let int_bit = 1 << (sig::INT.0 - 1);
        assert_eq!(disregard(int_bit, 0, sig::INT), Some("ignores"));
        assert_eq!(disregard(0, int_bit, sig::INT), Some("blocks"));
        assert_eq!(disregard(int_bit, 0, sig::TERM), None);
        assert_eq!(disregard(0, 0, sig::INT), None);
    }
}
