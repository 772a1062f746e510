//! An independent /proc reader for the tests: liveness that can see
//! zombies, and parent links, without any of catchd's own code.

use std::fs;
use std::time::{Duration, Instant};

/// `/proc/PID/stat` fields the tests need: (state, ppid, starttime, comm).
pub fn stat(pid: i32) -> Option<(char, i32, u64, String)> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let comm = text[open + 1..close].to_string();
    let rest: Vec<&str> = text[close + 2..].split(' ').collect();
    let state = rest.first()?.chars().next()?;
    let ppid = rest.get(1)?.parse().ok()?;
    let starttime = rest.get(19)?.parse().ok()?;
    Some((state, ppid, starttime, comm))
}

/// Exists and is not a zombie (a zombie leader with live threads is alive).
pub fn alive(pid: i32) -> bool {
    stat(pid).is_some_and(|(state, ..)| !dead(state) || any_thread_alive(pid))
}

/// A zombie with no thread left running: a process whose first thread
/// exited while others run shows `Z` too, yet is alive.
pub fn is_zombie(pid: i32) -> bool {
    stat(pid).is_some_and(|(state, ..)| state == 'Z') && !any_thread_alive(pid)
}

fn dead(state: char) -> bool {
    state == 'Z' || state == 'X'
}

/// Whether any thread of `pid` is not a zombie (its /proc/PID/task).
fn any_thread_alive(pid: i32) -> bool {
    let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) else {
        return false;
    };
    tasks.flatten().any(|t| {
        fs::read_to_string(t.path().join("stat")).is_ok_and(|text| {
            text.rfind(')')
                .and_then(|close| text[close + 2..].chars().next())
                .is_some_and(|state| !dead(state))
        })
    })
}

/// Every process whose parent is `ppid` (a full /proc scan).
pub fn children_of(ppid: i32) -> Vec<i32> {
    let mut out = Vec::new();
    for entry in fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        if stat(pid).is_some_and(|(_, p, ..)| p == ppid) {
            out.push(pid);
        }
    }
    out
}

/// Every live process whose environment holds exactly `entry`
/// (`NAME=value`): how a test finds what a run left behind, reported or
/// not, without trusting PIDs that may have been recycled.
pub fn with_env(entry: &str) -> Vec<i32> {
    let mut out = Vec::new();
    for dirent in fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = dirent
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        let Ok(env) = fs::read(format!("/proc/{pid}/environ")) else {
            continue;
        };
        if env.split(|&b| b == 0).any(|v| v == entry.as_bytes()) && alive(pid) {
            out.push(pid);
        }
    }
    out
}

/// Every descendant of `root` (root excluded).
pub fn descendants(root: i32) -> Vec<i32> {
    let mut out = Vec::new();
    let mut stack = vec![root];
    while let Some(p) = stack.pop() {
        for kid in children_of(p) {
            if !out.contains(&kid) {
                out.push(kid);
                stack.push(kid);
            }
        }
    }
    out
}

/// Poll `check` every 10 ms until it holds or `limit` passes.
pub fn wait_until(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if check() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Field `name:` of /proc/PID/status, e.g. "SigBlk".
pub fn status_field(pid: i32, name: &str) -> Option<String> {
    let text = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .map(|v| v.trim().to_string())
}

pub fn kill(pid: i32, sig: i32) {
    if pid > 0 {
        // SAFETY: plain kill(2) on a positive PID the test recorded.
        unsafe {
            libc::kill(pid, sig);
        }
    }
}

/// Sleeping inside poll(2): the only place catchd waits.
pub fn blocked_in_poll(pid: i32) -> bool {
    stat(pid).is_some_and(|(state, ..)| state == 'S')
        && fs::read_to_string(format!("/proc/{pid}/wchan")).is_ok_and(|w| w.contains("poll"))
}

/// The PID in the innermost PID namespace (last `NSpid` field).
pub fn nspid(pid: i32) -> Option<i32> {
    status_field(pid, "NSpid")?
        .split_whitespace()
        .last()?
        .parse()
        .ok()
}

/// The processes of a snapshot that are still alive (same PID and start time).
pub fn survivors(snapshot: &[(i32, u64)]) -> Vec<i32> {
    snapshot
        .iter()
        .filter(|&&(pid, start)| stat(pid).is_some_and(|s| s.0 != 'Z' && s.2 == start))
        .map(|&(pid, _)| pid)
        .collect()
}
