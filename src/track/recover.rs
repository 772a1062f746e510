//! Leftovers (SPEC §1.6): a populated cgroup of this catchd's stable name
//! at start is what an earlier catchd, SIGKILLed, left behind. They get
//! the stop sequence (the stop signal to each, SIGKILL to the cgroup after
//! `--stop-timeout`), each named in a warning, before anything is
//! launched. This replaces the previous-instance refusal for them.
//!
//! Owns: that one pre-launch loop, woken by `cgroup.events` and the stop's
//! deadlines only. Must not launch anything.

use std::collections::HashSet;
use std::time::Instant;

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use super::cgroup::Cgroup;
use crate::config::RunConfig;
use crate::error::{Context, Result};
use crate::proctree;
use crate::sig;
use crate::state::Ident;
use crate::stop::Stop;
use crate::target::Targets;

pub fn stop_leftovers(cg: &Cgroup, cfg: &RunConfig) -> Result<()> {
    let shown = cg.path().display();
    let stop_sig = cfg.stop_signal.unwrap_or(sig::TERM);
    let mut stop = Stop::new(stop_sig, true, Instant::now() + cfg.stop_timeout);
    let mut targets = Targets::default();
    let mut named = HashSet::new();
    while cg.populated() {
        let now = Instant::now();
        let members: Vec<Ident> = cg
            .pids()
            .unwrap_or_default()
            .into_iter()
            .filter_map(proctree::stat)
            .filter(|p| !p.zombie)
            .map(|p| {
                if named.insert(p.pid) {
                    crate::warn!(
                        "cgroup {shown} holds PID {} ({}) left by an earlier catchd: stopping it",
                        p.pid,
                        p.comm.escape_debug()
                    );
                }
                Ident {
                    pid: p.pid,
                    starttime: p.starttime,
                }
            })
            .collect();
        let (sig, who, escalated) = stop.advance(now, false, &members);
        if sig == sig::KILL {
            if escalated {
                crate::warn!("leftovers in cgroup {shown} outlived --stop-timeout: SIGKILL");
            }
            cg.kill_all(None)
                .context(&format!("kill the leftovers in cgroup {shown}"))?;
        }
        // With SIGKILL too: cgroup.kill skips a process whose first
        // thread has exited while others run.
        for p in who {
            let _ = targets.send(p.pid, p.starttime, sig);
        }
        let left = stop
            .next_deadline()
            .saturating_duration_since(Instant::now());
        let ms = left.as_millis().saturating_add(1).min(i32::MAX as u128) as i32;
        let mut fds = [PollFd::new(cg.events_fd(), PollFlags::POLLPRI)];
        match poll(
            &mut fds,
            PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX),
        ) {
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(e).context("poll the leftovers' cgroup"),
        }
    }
    if !named.is_empty() {
        crate::warn!(
            "stopped {} leftover process(es) in cgroup {shown}",
            named.len()
        );
    }
    Ok(())
}
