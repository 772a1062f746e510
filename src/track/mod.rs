//! Tracking, the one seam between catchd's decisions and the two ways of
//! knowing the daemon's tree (SPEC §1.1.3, §1.6): the subreaper's /proc
//! walk (`proc.rs`) and, where catchd may make one, the daemon's own
//! cgroup v2 (`cgroup.rs`). The seam answers who is in the tree, whether
//! it is empty, and signals them or kills them all; the state machine
//! never learns which side answered. The walk stays for parentage and the
//! main-process choice; the cgroup adds what the walk missed (a process
//! forked mid-scan, or one that left catchd's tree), says when the tree
//! ends, and kills a fork storm in one write.
//!
//! Owns: the `Tracker`, choosing a cgroup at start (`setup`) and the
//! cgroup's name. Must not decide whom to signal: `state/` does.

pub mod cgroup;
mod detect;
mod proc;
mod recover;

use std::os::fd::BorrowedFd;
use std::path::Path;

use crate::cli::CgroupMode;
use crate::config::RunConfig;
use crate::error::{Error, Result};
use crate::proctree::{self, Tree};
use crate::sig::{self, Sig};
use crate::state::Ident;
use crate::target::Targets;
use cgroup::{Busy, Cgroup, Stats};

pub struct Tracker {
    /// The reaper whose descendants are the daemon: catchd, or with
    /// `--contain` the namespace's init.
    root: i32,
    /// catchd's own PID (asked once: `getpid` is a system call per turn).
    me: i32,
    children_files: bool,
    targets: Targets,
    cgroup: Option<Cgroup>,
}

impl Tracker {
    pub fn new(root: i32, children_files: bool, cgroup: Option<Cgroup>) -> Tracker {
        Tracker {
            root,
            me: std::process::id() as i32,
            children_files,
            targets: Targets::default(),
            cgroup,
        }
    }

    /// Who is in the tree, and whether it is empty (`no_children`:
    /// `waitpid` said ECHILD, and the cgroup, if any, is unpopulated).
    /// With a cgroup: its members (never zombies, so a storm of exited
    /// processes waiting to be reaped costs nothing here), each with its
    /// parentage from /proc, plus `main` should it have left the cgroup;
    /// the walk when the cgroup is empty, to find anything that left it.
    /// Without: the walk. Catchd, the reaper, without a child has no
    /// descendant either, and the walk has nothing to find.
    pub fn members(&self, main: Option<Ident>, no_children: bool) -> (Tree, bool) {
        // One reading of `populated` per look.
        let populated = self.cgroup.as_ref().map(Cgroup::populated);
        let empty = no_children && populated != Some(true);
        let listed = self
            .cgroup
            .as_ref()
            .filter(|_| populated == Some(true))
            .and_then(Cgroup::pids);
        let tree = match listed {
            Some(pids) => {
                let mut tree = Tree::default();
                proc::add_missing(&mut tree, pids.into_iter(), self.root);
                // Only the main process itself, never a successor to its PID.
                if let Some(m) = main.filter(|m| tree.get(m.pid).is_none()) {
                    let same = proctree::stat(m.pid).filter(|p| p.starttime == m.starttime);
                    tree.procs.extend(same.filter(|p| !p.zombie));
                }
                tree
            }
            None if no_children && self.root == self.me => Tree::default(),
            None => proc::walk(self.root, self.children_files),
        };
        (tree, empty)
    }

    /// What the loop polls: a pidfd that becomes readable when the main
    /// process exits, and `cgroup.events`, to poll for POLLPRI (the tree's
    /// end wakes the loop).
    pub fn fds(&mut self, main: Option<Ident>) -> (Option<BorrowedFd<'_>>, Option<BorrowedFd<'_>>) {
        let events = self.cgroup.as_ref().map(Cgroup::events_fd);
        let main = main.and_then(|m| self.targets.watch(m.pid, m.starttime));
        (main, events)
    }

    /// Whether `main`'s pidfd is open and does not poll as exited: then a
    /// signal may go to it without a fresh scan.
    pub fn main_running(&mut self, main: Ident) -> bool {
        self.targets
            .watch(main.pid, main.starttime)
            .is_some_and(|fd| crate::sys::poll_quiet(fd))
    }

    /// After `cgroup.events` woke the loop: read it, so that it wakes again.
    pub fn rearm(&self) {
        if let Some(cg) = &self.cgroup {
            crate::debug!(
                "cgroup {}: populated {}",
                cg.path().display(),
                u8::from(cg.populated())
            );
        }
    }

    /// Send what the state machine decided. SIGKILL to every live member
    /// of the tree is killing them all: with a cgroup, one write that no
    /// fork can outrun.
    pub fn deliver(&mut self, sends: &[(Ident, Sig)], tree: &Tree) {
        let kills = || sends.iter().filter(|(_, s)| *s == sig::KILL);
        let everyone = tree.live().all(|p| kills().any(|(to, _)| to.pid == p.pid));
        if let Some(cg) = self
            .cgroup
            .as_ref()
            .filter(|_| everyone && kills().count() > 0)
        {
            // With --contain the init is a member too, and must live to
            // report the exits: spare it.
            let spare = (self.root != self.me).then_some(self.root);
            match cg.kill_all(spare) {
                // Then one by one as well: cgroup.kill skips a process
                // whose first thread has exited while others run.
                Ok(()) => crate::debug!("sent SIGKILL to cgroup {}", cg.path().display()),
                Err(e) => crate::warn!("unable to kill cgroup {}: {e}", cg.path().display()),
            }
        }
        let me = self.me;
        for &(to, s) in sends {
            // catchd's own child, not reaped (the state machine drops what
            // it reaped from its tree): its PID is still its own.
            let own_child = self.root == me
                && tree
                    .get(to.pid)
                    .is_some_and(|p| p.ppid == me && p.starttime == to.starttime);
            self.targets.send_logged(to.pid, to.starttime, s, own_child);
        }
    }

    /// Forget processes that are no longer in the tree.
    pub fn retain(&mut self, tree: &Tree) {
        self.targets.retain(tree);
    }

    pub fn stats(&self) -> Option<Stats> {
        self.cgroup.as_ref().map(Cgroup::stats)
    }

    /// Remove the empty cgroups beside the daemon's that catchds left when
    /// they were SIGKILLed (`sweep_beside`). Called once the daemon is
    /// ready: at start-up, listing and locking them cost ~60 µs of a
    /// ~1.3 ms start, and nothing needs them gone sooner.
    pub fn sweep_leftovers(&self) {
        if let Some(cg) = &self.cgroup {
            sweep_beside(cg);
        }
    }

    /// After an internal error: SIGKILL the whole tree until it is empty.
    pub fn emergency_stop(&mut self) {
        proc::emergency_stop(self.root, self.children_files, self.cgroup.as_ref());
    }
}

/// The daemon's cgroup for this run, per `--cgroup`: `None` to track with
/// the subreaper alone. Leftovers of an earlier catchd of the same name
/// are stopped here, before the launch.
pub fn setup(cfg: &RunConfig) -> Result<Option<Cgroup>> {
    if cfg.cgroup == CgroupMode::Off {
        return Ok(None);
    }
    let fallback = |why: String| -> Result<Option<Cgroup>> {
        if cfg.cgroup == CgroupMode::On {
            return Err(Error::Refused(format!("--cgroup on: {why}")));
        }
        crate::debug!("--cgroup auto: {why}; tracking with the subreaper alone");
        Ok(None)
    };
    let parent = match detect::own_cgroup_dir() {
        Ok(dir) => dir,
        Err(why) => return fallback(why),
    };
    let name = cgroup_name(cfg.name.as_deref(), cfg.pidfile.as_deref());
    let cg = match Cgroup::open(&parent, &name.0) {
        Ok(Ok(cg)) => cg,
        Ok(Err(Busy)) => {
            return Err(Error::Refused(format!(
                "cgroup {} belongs to another running catchd",
                parent.join(&name.0).display()
            )))
        }
        Err(e) => {
            return fallback(format!(
                "unable to create cgroup {}: {e}",
                parent.join(&name.0).display()
            ))
        }
    };
    if name.1 && cg.populated() {
        recover::stop_leftovers(&cg, cfg)?;
    }
    crate::debug!("the daemon runs in cgroup {}", cg.path().display());
    Ok(Some(cg))
}

/// Remove the empty cgroups beside `ours` that catchds left when they
/// were SIGKILLed (before they could remove them): a live catchd holds its
/// cgroup's lock, and the kernel refuses to remove a populated cgroup, so
/// what goes is unused. A stable name is made again when needed.
fn sweep_beside(ours: &Cgroup) {
    if let Some(parent) = ours.path().parent() {
        sweep(parent);
    }
}

fn sweep(parent: &Path) {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let ours = entry
            .file_name()
            .to_str()
            .is_some_and(|n| n.starts_with("catchd-"));
        if ours && cgroup::remove_unused(&path) {
            crate::debug!(
                "removed the empty cgroup {} of a catchd that is gone",
                path.display()
            );
        }
    }
}

/// The cgroup's name, and whether it is stable (so that a later catchd
/// finds it): `--name`, else the pidfile's path, else one per run.
pub fn cgroup_name(name: Option<&str>, pidfile: Option<&Path>) -> (String, bool) {
    if let Some(name) = name {
        return (format!("catchd-{}", escape(name.as_bytes(), 120)), true);
    }
    if let Some(path) = pidfile {
        use std::os::unix::ffi::OsStrExt;
        let abs = std::env::current_dir()
            .map(|cwd| cwd.join(path))
            .unwrap_or_else(|_| path.to_path_buf());
        let file = abs.file_name().map(|f| f.as_bytes()).unwrap_or(b"pidfile");
        let hash = fnv1a(abs.as_os_str().as_bytes());
        return (format!("catchd-{}-{hash:016x}", escape(file, 80)), true);
    }
    (format!("catchd-run-{}", std::process::id()), false)
}

/// Bytes as a cgroup name component: `[A-Za-z0-9._-]` as they are, any
/// other byte as `%XX`, at most `max` bytes of input.
fn escape(bytes: &[u8], max: usize) -> String {
    let mut out = String::new();
    for &b in bytes.iter().take(max) {
        if b.is_ascii_alphanumeric() || b"._-".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A stable hash (std's hasher may change between Rust releases).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_stable_escaped_and_per_run_without_a_name() {
        assert_eq!(
            cgroup_name(Some("web 1/a"), None),
            ("catchd-web%201%2Fa".into(), true)
        );
        let a = cgroup_name(None, Some(Path::new("/run/x.pid")));
        assert_eq!(a, cgroup_name(None, Some(Path::new("/run/x.pid"))));
        assert!(a.0.starts_with("catchd-x.pid-") && a.1);
        assert_ne!(a, cgroup_name(None, Some(Path::new("/run/y/x.pid"))));
        let run = cgroup_name(None, None);
        assert!(!run.1 && run.0.starts_with("catchd-run-"));
        assert!(escape(&[b'.'; 300], 120).len() == 120);
    }
}
