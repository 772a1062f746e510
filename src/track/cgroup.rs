//! The daemon's own cgroup v2 (SPEC §1.6): made (or found, left by an
//! earlier catchd) below catchd's cgroup and locked for catchd's life,
//! then asked who is in it (`cgroup.procs`), whether it is populated
//! (`cgroup.events`, whose changes wake the poll loop with POLLPRI), and
//! told to kill everything (`cgroup.kill`; before kernel 5.14: freeze, kill
//! each, thaw). Removed, with any cgroups the daemon made below it, when
//! catchd lets go of it.
//!
//! Owns: every file operation on that cgroup. Must not decide when to kill
//! or who the main process is.

use std::fs::{self, File, OpenOptions};
use std::io::{self, ErrorKind};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::fcntl::{openat, Flock, FlockArg, OFlag};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::stat::Mode;

pub struct Cgroup {
    dir: PathBuf,
    events: File,
    /// `cgroup.stat`, whose `nr_descendants` says whether the daemon made
    /// cgroups below this one (then they are listed too).
    stat: Option<File>,
    /// The directory, flock'ed: a second catchd for the same name sees it.
    lock: Flock<File>,
}

/// Another live catchd holds the cgroup of this name.
pub struct Busy;

/// What the status file shows, where the controllers provide it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Stats {
    pub path: PathBuf,
    pub pids_current: Option<u64>,
    pub memory_current: Option<u64>,
    pub cpu_usage_usec: Option<u64>,
}

impl Cgroup {
    /// Make (or take over) cgroup `name` below `parent` and lock it.
    /// Its files are opened through the locked directory: a cgroup that
    /// another catchd's sweep removed meanwhile is made again.
    pub fn open(parent: &Path, name: &str) -> io::Result<Result<Cgroup, Busy>> {
        let dir = parent.join(name);
        let gone = |e: &io::Error| e.kind() == ErrorKind::NotFound;
        for _ in 0..3 {
            match fs::create_dir(&dir) {
                Err(e) if e.kind() != ErrorKind::AlreadyExists => return Err(e),
                _ => {}
            }
            let handle = match OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
                .open(&dir)
            {
                Err(e) if gone(&e) => continue,
                other => other?,
            };
            let Some(lock) = lock_exclusive(handle)? else {
                return Ok(Err(Busy));
            };
            let at = |file: &str, flag: OFlag| -> io::Result<OwnedFd> {
                Ok(openat(
                    &*lock,
                    file,
                    flag | OFlag::O_CLOEXEC,
                    Mode::empty(),
                )?)
            };
            let events = match at("cgroup.events", OFlag::O_RDONLY) {
                Err(e) if gone(&e) => continue,
                other => File::from(other?),
            };
            let stat = at("cgroup.stat", OFlag::O_RDONLY).ok().map(File::from);
            return Ok(Ok(Cgroup {
                dir,
                events,
                stat,
                lock,
            }));
        }
        Err(io::Error::from(ErrorKind::NotFound))
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// The cgroup's directory, for `clone3(CLONE_INTO_CGROUP)`.
    pub fn dir_fd(&self) -> RawFd {
        self.lock.as_raw_fd()
    }

    /// `cgroup.procs`, for a launcher to write "0" into before exec to
    /// enter the cgroup: only where it cannot be born in it (`--contain`,
    /// kernels before 5.7), so opened only then.
    pub fn open_procs(&self) -> io::Result<OwnedFd> {
        Ok(openat(
            self.lock.as_fd(),
            "cgroup.procs",
            OFlag::O_WRONLY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )?)
    }

    /// `cgroup.events`: poll it for POLLPRI (not POLLIN, which is always
    /// set); reading it (`populated`) rearms it.
    pub fn events_fd(&self) -> BorrowedFd<'_> {
        self.events.as_fd()
    }

    /// Whether any process is in the cgroup or below it.
    pub fn populated(&self) -> bool {
        self.event("populated").unwrap_or(true)
    }

    fn event(&self, key: &str) -> Option<bool> {
        keyed(&self.events, key).map(|v| v == 1)
    }

    /// Every process in the cgroup and in the cgroups below it; `None`
    /// if the cgroup's own list cannot be read (no descriptor left).
    pub fn pids(&self) -> Option<Vec<i32>> {
        let mut out = read_pids(&self.dir).ok()?;
        let below = self.stat.as_ref().and_then(|f| keyed(f, "nr_descendants"));
        if below != Some(0) {
            for sub in subdirs(&self.dir) {
                collect(&sub, &mut out, 1);
            }
        }
        Some(out)
    }

    /// SIGKILL every process in the cgroup at once, except `spare`.
    pub fn kill_all(&self, spare: Option<i32>) -> io::Result<()> {
        if spare.is_some() {
            return self.freeze_and_kill(spare);
        }
        match fs::write(self.dir.join("cgroup.kill"), "1") {
            Err(e) if e.kind() == ErrorKind::NotFound => self.freeze_and_kill(None),
            other => other,
        }
    }

    /// Kernels before 5.14: freeze so that nothing forks meanwhile, SIGKILL
    /// each member (a frozen process cannot exit, so its PID is its own),
    /// thaw so that they die. Before 5.2 (no freezer) just kill each.
    fn freeze_and_kill(&self, spare: Option<i32>) -> io::Result<()> {
        let freeze = self.dir.join("cgroup.freeze");
        let frozen = fs::write(&freeze, "1").is_ok();
        if frozen {
            self.wait_for("frozen", Duration::from_millis(100));
        }
        for pid in self
            .pids()
            .unwrap_or_default()
            .into_iter()
            .filter(|p| Some(*p) != spare)
        {
            // SAFETY: plain integers; see above for why the PID is safe.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        if frozen {
            fs::write(&freeze, "0")?;
        }
        Ok(())
    }

    /// Wait (bounded) until `cgroup.events` says `key 1`.
    fn wait_for(&self, key: &str, limit: Duration) {
        let until = Instant::now() + limit;
        while self.event(key) == Some(false) {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            let mut fds = [PollFd::new(self.events.as_fd(), PollFlags::POLLPRI)];
            let ms = u16::try_from(left.as_millis() + 1).unwrap_or(u16::MAX);
            let _ = poll(&mut fds, PollTimeout::from(ms));
        }
    }

    pub fn stats(&self) -> Stats {
        let number = |file: &str| -> Option<u64> {
            fs::read_to_string(self.dir.join(file))
                .ok()?
                .trim()
                .parse()
                .ok()
        };
        let usage = fs::read_to_string(self.dir.join("cpu.stat"))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("usage_usec "))
                    .and_then(|v| v.trim().parse().ok())
            });
        Stats {
            path: self.dir.clone(),
            pids_current: number("pids.current"),
            memory_current: number("memory.current"),
            cpu_usage_usec: usage,
        }
    }
}

/// Lock a cgroup directory for this catchd's life; `None` if a live
/// catchd holds it. Another catchd's `remove_unused` holds it for microseconds:
/// a few tries tell that apart.
fn lock_exclusive(mut handle: File) -> io::Result<Option<Flock<File>>> {
    for _ in 0..10 {
        match Flock::lock(handle, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => return Ok(Some(lock)),
            Err((h, nix::errno::Errno::EWOULDBLOCK)) => handle = h,
            Err((_, e)) => return Err(e.into()),
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    Ok(None)
}

/// Remove the empty cgroup `dir` unless a live catchd holds it: under
/// its lock, so that a catchd taking the name meanwhile waits, then finds
/// it gone and makes it again. The kernel refuses to remove a populated
/// cgroup.
pub fn remove_unused(dir: &Path) -> bool {
    let Ok(handle) = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
        .open(dir)
    else {
        return false;
    };
    match Flock::lock(handle, FlockArg::LockExclusiveNonblock) {
        Ok(_held) => fs::remove_dir(dir).is_ok(),
        Err(_) => false,
    }
}

impl Drop for Cgroup {
    /// Remove the cgroup and whatever the daemon made below it. A cgroup
    /// still populated (catchd failing mid-stop) stays, for the next
    /// catchd of the same name to clean up.
    fn drop(&mut self) {
        // Removed first, asked after: on the way out, one system call.
        for _ in 0..20 {
            match remove(&self.dir, 0) {
                Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                    if self.populated() {
                        return;
                    }
                    // The last exit is still being accounted: a moment.
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err(e) if e.kind() != ErrorKind::NotFound => {
                    crate::warn!("unable to remove cgroup {}: {e}", self.dir.display());
                    return;
                }
                _ => return,
            }
        }
    }
}

/// The number after `key` in a flat-keyed cgroup file (`cgroup.events`,
/// `cgroup.stat`), read from its start.
fn keyed(file: &File, key: &str) -> Option<u64> {
    let mut buf = [0u8; 256];
    let n = file.read_at(&mut buf, 0).ok()?;
    let text = std::str::from_utf8(&buf[..n]).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
}

/// The cgroup tree is bounded by `cgroup.max.depth`; stay well inside a
/// sane stack whatever a hostile daemon does.
const MAX_DEPTH: usize = 64;

fn read_pids(dir: &Path) -> io::Result<Vec<i32>> {
    let text = crate::procstat::read_text(dir.join("cgroup.procs"))?;
    Ok(text.lines().filter_map(|l| l.trim().parse().ok()).collect())
}

fn collect(dir: &Path, out: &mut Vec<i32>, depth: usize) {
    out.extend(read_pids(dir).unwrap_or_default());
    if depth < MAX_DEPTH {
        for sub in subdirs(dir) {
            collect(&sub, out, depth + 1);
        }
    }
}

fn subdirs(dir: &Path) -> Vec<PathBuf> {
    fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default()
}

/// `rmdir` first: the daemon seldom makes cgroups of its own, and the
/// kernel says EBUSY when it did (then the ones below go first).
fn remove(dir: &Path, depth: usize) -> io::Result<()> {
    match fs::remove_dir(dir) {
        Err(e) if e.raw_os_error() == Some(libc::EBUSY) && depth < MAX_DEPTH => {
            let subs = subdirs(dir);
            if subs.is_empty() {
                return Err(e);
            }
            for sub in subs {
                remove(&sub, depth + 1)?;
            }
            fs::remove_dir(dir)
        }
        other => other,
    }
}

#[cfg(test)]
#[path = "cgroup_tests.rs"]
mod tests;
