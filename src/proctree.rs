//! catchd's descendants, read from /proc (SPEC §1.1.3): the `children`
//! files of every thread, walked down from catchd, so that the cost grows
//! with the daemon's tree and not with the machine. Kernels without
//! `CONFIG_PROC_CHILDREN` get a scan of every process's ppid instead.
//!
//! Owns: reading /proc into plain data and the pure queries on it. Must not
//! signal or decide. A process that vanishes mid-scan is simply not there
//! (ARCHITECTURE principle 11); the `children` files are a snapshot and are
//! unreliable while processes fork, so callers scan again on every event.

use std::collections::HashSet;
use std::fs;

use crate::procstat;

/// One process as seen in `/proc/PID/stat`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proc {
    pub pid: i32,
    pub ppid: i32,
    /// Clock ticks after boot: with `pid`, the process's identity.
    pub starttime: u64,
    pub comm: String,
    pub zombie: bool,
    /// With `--contain`: the PID inside catchd's PID namespace (the last
    /// `NSpid` field), which is what the daemon writes in its pidfile.
    pub nspid: Option<i32>,
}

/// The descendants of one root, root excluded, parents before children.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tree {
    pub procs: Vec<Proc>,
}

impl Tree {
    pub fn get(&self, pid: i32) -> Option<&Proc> {
        self.procs.iter().find(|p| p.pid == pid)
    }

    /// The same process (pid and start time) is here and not a zombie.
    pub fn is_live(&self, pid: i32, starttime: u64) -> bool {
        self.get(pid)
            .is_some_and(|p| p.starttime == starttime && !p.zombie)
    }

    pub fn live(&self) -> impl Iterator<Item = &Proc> {
        self.procs.iter().filter(|p| !p.zombie)
    }

    pub fn live_count(&self) -> usize {
        self.live().count()
    }

    /// Live direct children of `root`, oldest first (start time, then pid).
    pub fn children_oldest_first(&self, root: i32) -> Vec<&Proc> {
        let mut kids: Vec<&Proc> = self.live().filter(|p| p.ppid == root).collect();
        kids.sort_by_key(|p| (p.starttime, p.pid));
        kids
    }
}

pub fn stat(pid: i32) -> Option<Proc> {
    stat_checked(pid).ok().flatten()
}

/// Like `stat`, but a failure to read (no descriptor left, say) is an
/// error rather than "no such process".
pub fn stat_checked(pid: i32) -> std::io::Result<Option<Proc>> {
    Ok(stat_threads(pid)?.map(|(p, _)| p))
}

/// `stat`, with the process's thread count.
fn stat_threads(pid: i32) -> std::io::Result<Option<(Proc, u64)>> {
    let Some(st) = procstat::read(pid)? else {
        return Ok(None);
    };
    let proc = Proc {
        pid: st.pid,
        ppid: st.ppid,
        starttime: st.starttime,
        // A dead process's other threads are all released: its count
        // is 1. A first thread that exited while others run keeps the
        // count above 1, and only then is `task/` listed.
        zombie: matches!(st.state, 'Z' | 'X') && (st.num_threads <= 1 || is_dead(st.pid, st.state)),
        comm: st.comm,
        nspid: None,
    };
    Ok(Some((proc, st.num_threads)))
}

/// Whether a process in `state` (its first thread's) has ended. A process
/// whose first thread called `pthread_exit` shows `Z` while its other
/// threads run: it is alive while any of its threads is (SPEC §1.3, §2).
pub fn is_dead(pid: i32, state: char) -> bool {
    (state == 'Z' || state == 'X') && !other_thread_alive(pid)
}

/// Whether a thread of `pid` other than its first one is still running.
fn other_thread_alive(pid: i32) -> bool {
    let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) else {
        return false;
    };
    tasks.flatten().any(|task| {
        let tid = task.file_name();
        if tid.to_str() == Some(pid.to_string().as_str()) {
            return false;
        }
        fs::read_to_string(task.path().join("stat")).is_ok_and(|text| {
            // The state follows the last ')' (comm may hold anything).
            text.rsplit_once(')')
                .and_then(|(_, rest)| rest.trim_start().chars().next())
                .is_some_and(|st| st != 'Z' && st != 'X')
        })
    })
}

/// The direct children of `pid`, from the `children` file of each of its
/// threads (a child belongs to the thread that forked it). A process known
/// to have one thread has one such file, read without listing `task`.
fn children(pid: i32, threads: Option<u64>) -> Vec<i32> {
    let mut out = Vec::new();
    if threads == Some(1) {
        procstat::children(pid, pid, &mut out);
        return out;
    }
    let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    for task in tasks.flatten() {
        if let Some(tid) = task.file_name().to_str().and_then(|t| t.parse().ok()) {
            procstat::children(pid, tid, &mut out);
        }
    }
    out
}

/// Fill in every process's namespace-local PID (`--contain` only: one
/// more /proc read per process).
pub fn fill_nspids(tree: &mut Tree) {
    for p in &mut tree.procs {
        p.nspid = procfs::process::Process::new(p.pid)
            .and_then(|proc| proc.status())
            .ok()
            .and_then(|st| st.nspid?.last().copied());
    }
}

impl Tree {
    /// The process whose namespace-local PID is `nspid`.
    pub fn by_nspid(&self, nspid: i32) -> Option<&Proc> {
        self.procs.iter().find(|p| p.nspid == Some(nspid))
    }
}

/// Whether `pid` descends from `root`, following ppid links upward: the
/// check for a process forked after the last scan.
pub fn is_descendant(pid: i32, root: i32) -> bool {
    let mut cur = pid;
    for _ in 0..4096 {
        match stat(cur) {
            Some(p) if p.ppid == root => return true,
            Some(p) if p.ppid > 1 => cur = p.ppid,
            _ => return false,
        }
    }
    false
}

/// Whether `/proc/PID/task/TID/children` exists on this kernel.
pub fn have_children_files() -> bool {
    let me = std::process::id();
    fs::metadata(format!("/proc/{me}/task/{me}/children")).is_ok()
}

/// Every descendant of `root`, walking the `children` files.
pub fn scan(root: i32, use_children_files: bool) -> Tree {
    if !use_children_files {
        return scan_by_ppid(root);
    }
    // Each process's thread count, from its stat, for its children.
    let threads = std::cell::RefCell::new(std::collections::HashMap::new());
    // catchd's own children that have exited wait to be reaped: they are
    // not in the tree, and are told by `waitid(WNOWAIT)` rather than by
    // their /proc entries (a daemon that forks and exits every millisecond
    // leaves thousands, and every /proc entry read makes reaping dearer).
    let own = root == std::process::id() as i32;
    let of_root = std::cell::RefCell::new(HashSet::new());
    walk(
        root,
        |pid| {
            let kids = children(pid, threads.borrow().get(&pid).copied());
            if own && pid == root {
                of_root.borrow_mut().extend(kids.iter().copied());
            }
            kids
        },
        |pid| {
            if own && of_root.borrow().contains(&pid) && crate::sys::child_exited(pid) {
                return None;
            }
            let (p, n) = stat_threads(pid).ok().flatten()?;
            threads.borrow_mut().insert(pid, n);
            Some(p)
        },
    )
}

/// At most this many passes over `root`'s children per scan: later
/// arrivals are the next scan's.
const PASSES: usize = 16;

/// The walk itself, over any source of children lists and stats (the
/// tests hand in a /proc that changes mid-walk).
///
/// A process that exits during the walk hands its children to `root`, the
/// subreaper. One re-parented after its old parent's list was read, but
/// before `root`'s list was, is in neither list: without another look, a
/// live main process would seem gone when its launcher exits mid-scan
/// (nginx's launcher exits after the master wrote the pidfile). Such
/// processes can only have moved to `root`, so `root`'s list is read again
/// until a pass finds nobody new.
fn walk(
    root: i32,
    mut children: impl FnMut(i32) -> Vec<i32>,
    mut stat: impl FnMut(i32) -> Option<Proc>,
) -> Tree {
    let mut procs = Vec::new();
    let mut seen = HashSet::new();
    for _ in 0..PASSES {
        let before = procs.len();
        let mut stack = vec![root];
        while let Some(parent) = stack.pop() {
            for kid in children(parent) {
                if seen.contains(&kid) {
                    continue;
                }
                // The child may have exited, or been re-parented, since the
                // children file was read: trust only a consistent stat. A
                // re-parented one is met again under its new parent.
                if let Some(p) = stat(kid).filter(|p| p.ppid == parent) {
                    seen.insert(kid);
                    stack.push(p.pid);
                    procs.push(p);
                }
            }
        }
        if procs.len() == before {
            break;
        }
    }
    Tree { procs }
}

/// The fallback: read every process's ppid and keep root's descendants.
pub fn scan_by_ppid(root: i32) -> Tree {
    let all: Vec<Proc> = match procfs::process::all_processes() {
        Ok(iter) => iter
            .filter_map(|p| p.ok())
            .filter_map(|p| stat(p.pid))
            .collect(),
        Err(_) => Vec::new(),
    };
    Tree {
        procs: descendants(root, &all),
    }
}

/// Pure: the descendants of `root` among `all`, parents before children.
pub fn descendants(root: i32, all: &[Proc]) -> Vec<Proc> {
    let mut out: Vec<Proc> = Vec::new();
    let mut frontier = vec![root];
    while let Some(parent) = frontier.pop() {
        for p in all.iter().filter(|p| p.ppid == parent && p.pid != root) {
            if out.iter().all(|o| o.pid != p.pid) {
                frontier.push(p.pid);
                out.push(p.clone());
            }
        }
    }
    out
}

#[cfg(test)]
#[path = "proctree_tests.rs"]
mod tests;
