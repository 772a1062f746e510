//! Reap every child, re-parented orphans included (SPEC §1.1.6). One
//! SIGCHLD means "some children changed", so `waitpid(-1, WNOHANG)` is
//! drained until nothing is left to collect (bubblewrap, catatonit) — in
//! bounded batches: a tree that makes zombies as fast as catchd reaps them
//! must not keep catchd from looking at it (and stopping it), so a turn
//! reaps for at most `BUDGET` and says whether more may be waiting. Not
//! fewer: zombies left for the tree walk cost it a /proc read each, and
//! make the next reap dearer (the kernel drops the /proc entries read).
//!
//! Owns: the drain. Must not interpret who exited: `state.rs` does.

use crate::error::{Context, Result};
use crate::sys::{self, Exit, Waited};

#[derive(Debug, Default)]
pub struct Reaped {
    pub exited: Vec<(i32, Exit)>,
    /// `ECHILD`: catchd has no child left. As a subreaper that never has
    /// children of its own besides the launcher, this is the truth about
    /// "the tree is empty".
    pub no_children: bool,
    /// The batch was full: more children may be waiting to be reaped.
    pub more: bool,
}

/// At most this long reaping per turn.
pub const BUDGET: std::time::Duration = std::time::Duration::from_millis(50);

pub fn drain() -> Result<Reaped> {
    let mut reaped = Reaped::default();
    let until = std::time::Instant::now() + BUDGET;
    loop {
        // The clock is read once per 64 children only.
        if reaped.exited.len() % 64 == 63 && std::time::Instant::now() >= until {
            reaped.more = true;
            return Ok(reaped);
        }
        match sys::wait_any().context("wait for children")? {
            Waited::Child(pid, exit) => reaped.exited.push((pid, exit)),
            Waited::StillAlive => return Ok(reaped),
            Waited::NoChildren => {
                reaped.no_children = true;
                return Ok(reaped);
            }
        }
    }
}
