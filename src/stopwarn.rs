//! The warning as a stop starts (SPEC §1.3): a main process that ignores or
//! blocks the stop signal will only end by SIGKILL, so catchd says so at
//! once instead of waiting the whole stop timeout without a word.
//!
//! Owns: reading the main process's signal masks and the warning's words.
//! Must not signal or decide when the stop begins (`state` does).

use std::time::Duration;

use crate::sig::Sig;
use std::fs;

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

pub fn warn_if_ignored(pid: i32, sig: Sig, kill_in: Duration) {
    let Some((ignored, blocked)) = signal_masks(pid) else {
        return;
    };
    match disregard(ignored, blocked, sig) {
        Some("ignores") => {
            crate::warn!("main process PID {pid} ignores {sig}: SIGKILL in {kill_in:?}")
        }
        // Daemons that read their signals from a signalfd or sigwait block
        // them on purpose: only a process known to do neither is named.
        Some(verb) if !may_take_blocked_signals(pid) => {
            crate::warn!("main process PID {pid} {verb} {sig}: SIGKILL in {kill_in:?}")
        }
        _ => {}
    }
}

/// The signals `pid` ignores and its first thread blocks, from
/// /proc/PID/status (`SigIgn`, `SigBlk`), as bit masks (bit N-1 = signal N).
pub fn signal_masks(pid: i32) -> Option<(u64, u64)> {
    let text = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
    };
    Some((field("SigIgn:")?, field("SigBlk:")?))
}

/// Whether `pid` may take blocked signals on purpose: it holds a
/// signalfd, or one of its threads waits in sigwait (`do_sigtimedwait` in
/// its `wchan`), or that cannot be told (`wchan` unreadable).
pub fn may_take_blocked_signals(pid: i32) -> bool {
    let signalfd = fs::read_dir(format!("/proc/{pid}/fd")).is_ok_and(|fds| {
        fds.flatten().any(|fd| {
            fs::read_link(fd.path()).is_ok_and(|t| t.as_os_str() == "anon_inode:[signalfd]")
        })
    });
    if signalfd {
        return true;
    }
    let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) else {
        return true;
    };
    tasks
        .flatten()
        .any(|task| match fs::read_to_string(task.path().join("wchan")) {
            Ok(w) => w.contains("sigtimedwait") || w.trim() == "0" || w.is_empty(),
            Err(_) => true,
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
