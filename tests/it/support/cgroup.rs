//! The tests' own, independent view of cgroup v2: where it is mounted,
//! which cgroup a process is in, whether this machine lets a test make
//! one, and removing what a killed catchd could not.

use std::fs;
use std::path::PathBuf;

/// The cgroup2 mount (pure v2 or hybrid's unified), from mountinfo.
pub fn mount() -> Option<PathBuf> {
    let info = fs::read_to_string("/proc/self/mountinfo").ok()?;
    let mut points: Vec<PathBuf> = info
        .lines()
        .filter(|l| {
            l.split(" - ")
                .nth(1)
                .is_some_and(|r| r.starts_with("cgroup2 "))
        })
        .filter_map(|l| l.split(' ').nth(4).map(PathBuf::from))
        .collect();
    points.sort_by_key(|p| p != &PathBuf::from("/sys/fs/cgroup"));
    points.into_iter().next()
}

/// The `0::` path of a process, e.g. `/` or `/catchd-web`.
pub fn of(pid: i32) -> Option<String> {
    fs::read_to_string(format!("/proc/{pid}/cgroup"))
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .map(str::to_owned)
}

/// The directory of cgroup path `path`.
pub fn dir(path: &str) -> PathBuf {
    mount()
        .expect("a cgroup2 mount")
        .join(path.trim_start_matches('/'))
}

/// Whether a test may make a cgroup below its own (root on a writable
/// cgroup2 mount, as CI runs). If not, say so once per test and skip.
pub fn allowed(what: &str) -> bool {
    static ALLOWED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let allowed = *ALLOWED.get_or_init(|| {
        let (Some(_), Some(own)) = (mount(), of(std::process::id() as i32)) else {
            return false;
        };
        let probe = dir(&own).join(format!("catchd-test-probe-{}", std::process::id()));
        let made = fs::create_dir(&probe).is_ok();
        made && fs::remove_dir(&probe).is_ok()
    });
    if !allowed {
        eprintln!("SKIPPED {what}: no writable cgroup v2 here (needs root and a cgroup2 mount)");
    }
    allowed
}

/// After a test killed catchd: remove the (now empty) cgroups it made.
pub fn remove_leftovers(paths: &[String]) {
    for p in paths.iter().filter(|p| p.contains("/catchd-")) {
        let _ = fs::remove_dir(dir(p));
    }
}
