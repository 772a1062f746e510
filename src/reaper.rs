//! Reap every child, re-parented orphans included (SPEC §1.1.6). One
//! SIGCHLD means "some children changed", so `waitpid(-1, WNOHANG)` is
//! drained until nothing is left to collect (bubblewrap, catatonit).
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
}

pub fn drain() -> Result<Reaped> {
    let mut reaped = Reaped::default();
    loop {
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
