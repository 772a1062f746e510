//! The walk side of tracking (SPEC §1.1.3): the daemon's tree read from
//! /proc below the reaper, the cgroup's members the walk missed, and the
//! last-resort kill loop after an internal error.
//!
//! Owns: turning PIDs into `Proc`s and the emergency loop. Must not decide
//! whom to signal in the ordinary run.

use std::time::{Duration, Instant};

use super::cgroup::Cgroup;
use crate::proctree::{self, Tree};
use crate::sig;
use crate::target::Targets;

pub fn walk(root: i32, children_files: bool) -> Tree {
    proctree::scan(root, children_files)
}

/// Add the processes in `pids` that are not in `tree` yet, the reaper
/// and catchd excluded.
pub fn add_missing(tree: &mut Tree, pids: impl Iterator<Item = i32>, root: i32) {
    let me = std::process::id() as i32;
    for pid in pids {
        if pid == root || pid == me || tree.get(pid).is_some() {
            continue;
        }
        if let Some(p) = proctree::stat(pid).filter(|p| !p.zombie) {
            tree.procs.push(p);
        }
    }
}

/// SIGKILL the whole tree until it is empty, so that nothing outlives
/// catchd's failure.
pub fn emergency_stop(root: i32, children_files: bool, cgroup: Option<&Cgroup>) {
    crate::error!("stopping every process under catchd after an internal error");
    let mut targets = Targets::default();
    let until = Instant::now() + Duration::from_secs(30);
    while Instant::now() < until {
        let reaped = crate::reaper::drain();
        let gone = reaped.as_ref().map_or(true, |r| r.no_children);
        if gone && !cgroup.is_some_and(Cgroup::populated) {
            return;
        }
        if let Some(cg) = cgroup {
            let _ = cg.kill_all(None);
        }
        for p in proctree::scan(root, children_files).live() {
            let _ = targets.send(p.pid, p.starttime, sig::KILL);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}
