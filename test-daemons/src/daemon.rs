//! The life of every process td-forker leaves running: the main process,
//! its workers, fork-storm children, handover successors and orphans.
//!
//! Owns: each role's set-up order, its signal loop (record every signal;
//! TERM/INT/QUIT end it), `--exit-after`/`--die-by`, `--worker-exit-after`,
//! `--fork-storm`, `--handover-on` and `--orphans` (at start, or on each
//! `--orphans-on` signal).
//! Must not: poll. The loop blocks in sigwaitinfo, or in sigtimedwait only
//! while a deadline is pending (exit-after, the next storm fork); an idle
//! daemon never wakes up.

use crate::args::Config;
use crate::report::{self, Role};
use crate::signals::{self, Waited};
use crate::sys::{self, Forked};
use std::collections::HashSet;
use std::os::fd::RawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::time::{Duration, Instant};

/// `--fork-storm`: at most this many storm children alive at once...
const STORM_MAX_ALIVE: usize = 200;
/// ...and at most one new one per this interval.
const STORM_INTERVAL: Duration = Duration::from_millis(2);
/// How long an orphaned grandchild lives (it must be gone within ~50 ms).
const ORPHAN_LIFETIME: Duration = Duration::from_millis(20);

/// Signals the main process ignores beyond `--ignore` (the storm main
/// ignores TERM); its children that must see them reset them.
fn extra_ignored(cfg: &Config) -> Vec<i32> {
    if cfg.fork_storm && !cfg.ignore.contains(&libc::SIGTERM) {
        vec![libc::SIGTERM]
    } else {
        Vec::new()
    }
}

fn setup_or_die(ignore: &[i32], reset: &[i32]) -> libc::sigset_t {
    signals::setup(ignore, reset).unwrap_or_else(|e| sys::die(&e))
}

fn exit_with(role: Role, code: i32) -> ! {
    report::exit(role, code);
    std::process::exit(code)
}

/// The pidfile text naming this process (or `--pidfile-content`).
fn pidfile_text(cfg: &Config, pid: i32) -> Vec<u8> {
    match &cfg.pidfile_content {
        Some(text) => text.clone(),
        None => format!("{pid}\n").into_bytes(),
    }
}

/// Write the pidfile naming `pid`, after `--pidfile-delay`.
pub fn write_pidfile(cfg: &Config, pid: i32) {
    if let Some(path) = &cfg.pidfile {
        if let Some(d) = cfg.pidfile_delay {
            std::thread::sleep(d); // the simulated daemon's own slowness
        }
        sys::write_pidfile(path, &pidfile_text(cfg, pid));
    }
}

/// Become the main process. `late_fd` (or -1) is the read end of a pipe
/// whose write end only the launcher holds: EOF means the launcher is gone.
/// `own_pidfile`: this process writes the pidfile (after that EOF).
pub fn run_main(cfg: &Config, late_fd: RawFd, own_pidfile: bool) -> ! {
    // Signals first: from here on nothing can hit a default action.
    let mut ignore = cfg.ignore.clone();
    ignore.extend(extra_ignored(cfg));
    let wait = setup_or_die(&ignore, &[]);
    if cfg.close_all_fds {
        sys::close_all_fds(&[late_fd]);
    }
    if late_fd >= 0 {
        sys::read_to_eof(late_fd); // no sleeping: EOF is the launcher's exit
        sys::close(late_fd);
    }
    if let Some(name) = &cfg.comm {
        sys::set_comm(name);
    }
    if own_pidfile && cfg.pidfile_in_steps {
        let worker = spawn_worker(cfg);
        for _ in 1..cfg.workers {
            spawn_worker(cfg);
        }
        write_in_steps(cfg, worker);
    } else {
        if own_pidfile {
            write_pidfile(cfg, std::process::id() as i32);
        }
        for _ in 0..cfg.workers {
            spawn_worker(cfg); // reaped on SIGCHLD like any child
        }
    }
    report::ready(Role::Main);
    if cfg.orphans > 0 && cfg.orphans_on.is_none() {
        make_orphans(cfg.orphans);
        report::orphans_done(cfg.orphans);
    }
    if cfg.zombie_leader {
        zombie_leader(cfg, wait);
    }
    Proc::main(cfg, wait).run()
}

/// `--zombie-leader`: run the main loop on a second thread and end the
/// first one (as `pthread_exit` would): /proc/PID/status then says `State: Z`
/// while the process lives on. Signals stay blocked in both threads (the
/// mask is inherited), so the second thread's sigwaitinfo gets them all.
fn zombie_leader(cfg: &Config, wait: libc::sigset_t) -> ! {
    let cfg: &'static Config = Box::leak(Box::new(cfg.clone()));
    let spawned = std::thread::Builder::new()
        .name("td-forker".into())
        .spawn(move || Proc::main(cfg, wait).run());
    if let Err(e) = spawned {
        sys::die(&format!("--zombie-leader: cannot start a thread: {e}"));
    }
    // What pthread_exit does to the kernel's view, without its forced
    // unwinding (which Rust's main frames turn into an abort): the raw
    // exit system call ends this thread only.
    // SAFETY: ends only this thread; the process lives on in the spawned
    // one, which owns everything it uses (the leaked config, a copy of
    // the mask). Nothing on this thread's stack is referenced afterwards.
    unsafe {
        libc::syscall(libc::SYS_exit, 0);
    }
    unreachable!("SYS_exit returned")
}

/// `--pidfile-in-steps`: a two-step write into a file kept open, as a
/// daemon that writes carelessly might: first `worker`'s PID (no newline),
/// then after `--pidfile-delay` its own PID over it. The descriptor is
/// never closed (a daemon holding its pidfile's lock).
fn write_in_steps(cfg: &Config, worker: i32) {
    use std::io::{Seek, Write};
    let Some(path) = &cfg.pidfile else { return };
    let opened = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path);
    let mut file = match opened {
        Ok(f) => f,
        Err(e) => sys::die(&format!("cannot open pidfile {}: {e}", path.display())),
    };
    let first = worker.to_string();
    let _ = file.write_all(first.as_bytes());
    report::pidfile(path, first.as_bytes());
    std::thread::sleep(cfg.pidfile_delay.unwrap_or(Duration::from_millis(300)));
    let text = format!("{}\n", std::process::id());
    let _ = file
        .rewind()
        .and_then(|()| file.write_all(text.as_bytes()))
        .and_then(|()| file.set_len(text.len() as u64));
    report::pidfile(path, text.as_bytes());
    std::mem::forget(file);
}

fn spawn_worker(cfg: &Config) -> i32 {
    match sys::fork_or_die() {
        Forked::Parent(pid) => pid,
        Forked::Child => {
            if cfg.worker_setsid {
                sys::setsid();
            }
            if let Some(uid) = cfg.worker_uid {
                sys::set_uid(uid);
            }
            if cfg.worker_forge {
                forge_init_report();
            }
            let wait = setup_or_die(&cfg.ignore, &extra_ignored(cfg));
            report::ready(Role::Worker);
            Proc::new(cfg, Role::Worker, wait, cfg.worker_exit_after).run()
        }
    }
}

/// Fork one setsid'd storm child; its TERM makes it fork the next one.
/// With `wait_ready`, return only once the child has reported `ready` (or
/// died), so that a storm child replacing itself on TERM is still the new
/// child's parent when that child reports.
fn spawn_storm(cfg: &Config, wait_ready: bool) -> Result<i32, String> {
    let (r, w) = if wait_ready { sys::pipe() } else { (-1, -1) };
    match sys::fork() {
        Err(e) => {
            sys::close(r);
            sys::close(w);
            Err(e)
        }
        Ok(Forked::Parent(pid)) => {
            sys::close(w);
            if r >= 0 {
                sys::read_to_eof(r); // EOF: ready, or dead (then no wait)
                sys::close(r);
            }
            Ok(pid)
        }
        Ok(Forked::Child) => {
            sys::close(r);
            sys::setsid();
            let ignore: Vec<i32> = cfg
                .ignore
                .iter()
                .copied()
                .filter(|&s| s != libc::SIGTERM)
                .collect();
            let wait = setup_or_die(&ignore, &[libc::SIGTERM]);
            report::ready(Role::Storm);
            sys::close(w);
            Proc::new(cfg, Role::Storm, wait, None).run()
        }
    }
}

/// `--orphans N`: N children that each fork a grandchild and exit at once;
/// the grandchildren (orphaned) exit by themselves shortly after.
fn make_orphans(count: u32) {
    let mut parents = Vec::new();
    for _ in 0..count {
        match sys::fork_or_die() {
            Forked::Parent(pid) => parents.push(pid),
            Forked::Child => {
                report::ready(Role::OrphanParent);
                if let Forked::Child = sys::fork_or_die() {
                    report::ready(Role::Orphan);
                    std::thread::sleep(ORPHAN_LIFETIME); // the orphan's own life
                    exit_with(Role::Orphan, 0);
                }
                exit_with(Role::OrphanParent, 0);
            }
        }
    }
    for pid in parents {
        sys::wait_for(pid);
    }
}

/// One running role and its loop state.
struct Proc<'a> {
    cfg: &'a Config,
    role: Role,
    wait: libc::sigset_t,
    exit_at: Option<Instant>,
    storm: bool,
    next_storm: Instant,
    kids: HashSet<i32>,
}

impl<'a> Proc<'a> {
    /// A process that exits `exit_after` from now (if given) and forks no
    /// storm.
    fn new(
        cfg: &'a Config,
        role: Role,
        wait: libc::sigset_t,
        exit_after: Option<Duration>,
    ) -> Self {
        Proc {
            cfg,
            role,
            wait,
            exit_at: exit_after.map(|d| Instant::now() + d),
            storm: false,
            next_storm: Instant::now(),
            kids: HashSet::new(),
        }
    }

    /// The main process, with `--exit-after` and `--fork-storm`.
    fn main(cfg: &'a Config, wait: libc::sigset_t) -> Self {
        Proc {
            storm: cfg.fork_storm,
            ..Proc::new(cfg, Role::Main, wait, cfg.exit_after)
        }
    }
}

impl Proc<'_> {
    fn run(mut self) -> ! {
        loop {
            let now = Instant::now();
            if self.exit_at.is_some_and(|t| now >= t) {
                self.deadline_exit();
            }
            let storm_due = self.storm && self.kids.len() < STORM_MAX_ALIVE;
            if storm_due && now >= self.next_storm {
                if let Ok(pid) = spawn_storm(self.cfg, false) {
                    self.kids.insert(pid);
                }
                self.next_storm = now + STORM_INTERVAL;
            }
            let storm_at = if storm_due {
                Some(self.next_storm)
            } else {
                None
            };
            let next = match (self.exit_at, storm_at) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let timeout = next.map(|t| t.saturating_duration_since(Instant::now()));
            match signals::wait(&self.wait, timeout) {
                Waited::Timeout => {}
                Waited::Signal { signo, code } => self.on_signal(signo, code),
            }
        }
    }

    fn deadline_exit(&self) -> ! {
        match (self.role, self.cfg.die_by) {
            (Role::Main | Role::Successor, Some(signo)) => signals::die_by(signo),
            (Role::Main | Role::Successor, None) => exit_with(self.role, self.cfg.exit_code),
            _ => exit_with(self.role, 0),
        }
    }

    fn on_signal(&mut self, signo: i32, code: i32) {
        if signo == libc::SIGCHLD && code > 0 {
            // A child changed state (sent by the kernel, not by kill): reap.
            for pid in sys::reap_all() {
                self.kids.remove(&pid);
            }
            return;
        }
        report::signal(signo, self.role);
        let leader = matches!(self.role, Role::Main | Role::Successor);
        if leader && self.cfg.handover_on == Some(signo) {
            self.handover();
            return;
        }
        if self.role == Role::Main && self.cfg.orphans_on == Some(signo) {
            make_orphans(self.cfg.orphans);
            report::orphans_done(self.cfg.orphans);
            return;
        }
        if self.role == Role::Storm && signo == libc::SIGTERM {
            let _ = spawn_storm(self.cfg, true);
            exit_with(Role::Storm, 0);
        }
        if [libc::SIGTERM, libc::SIGINT, libc::SIGQUIT].contains(&signo) {
            exit_with(self.role, 0);
        }
    }

    /// `--handover-on`: fork a successor that takes over the pidfile, then
    /// exit once it says it is ready (or died: EOF either way).
    fn handover(&mut self) {
        let (r, w) = sys::pipe();
        match sys::fork() {
            Err(e) => {
                eprintln!("td-forker[{}]: handover: {e}", std::process::id());
                sys::close(r);
                sys::close(w);
            }
            Ok(Forked::Parent(_)) => {
                sys::close(w);
                sys::read_to_eof(r);
                exit_with(self.role, 0);
            }
            Ok(Forked::Child) => {
                sys::close(r);
                self.role = Role::Successor;
                self.kids.clear(); // the old main's children are not ours
                let mut ignore = self.cfg.ignore.clone();
                ignore.extend(extra_ignored(self.cfg));
                self.wait = setup_or_die(&ignore, &[]);
                if let Some(path) = &self.cfg.pidfile {
                    sys::write_pidfile(path, format!("{}\n", std::process::id()).as_bytes());
                }
                report::ready(Role::Successor);
                sys::write_all(w, b"R");
                sys::close(w);
            }
        }
    }
}

/// `--worker-forge`: write a forged record (kind 3 = exited, the parent's
/// PID, status 42, as catchd's `--contain` init encodes it) into each of
/// this process's own descriptors above stdio, and into every descriptor
/// of PID 1 that opens for writing; report the counts.
fn forge_init_report() {
    let mut record = Vec::new();
    for word in [3i32, nix::unistd::getppid().as_raw(), 42] {
        record.extend_from_slice(&word.to_ne_bytes());
    }
    let mut own = 0;
    let fds: Vec<i32> = std::fs::read_dir("/proc/self/fd")
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    for fd in fds.into_iter().filter(|&fd| fd > 2) {
        // SAFETY: a write of a local buffer to a descriptor number; a
        // closed or read-only one just fails.
        let n = unsafe { libc::write(fd, record.as_ptr().cast(), record.len()) };
        if n == record.len() as isize {
            own += 1;
        }
    }
    report::line(&format!(
        "forge-own pid={} written={own}",
        std::process::id()
    ));
    let (mut tried, mut opened, mut written) = (0, 0, 0);
    if let Ok(entries) = std::fs::read_dir("/proc/1/fd") {
        for e in entries.flatten() {
            tried += 1;
            let file = std::fs::OpenOptions::new()
                .write(true)
                .custom_flags(libc::O_NONBLOCK)
                .open(e.path());
            if let Ok(mut f) = file {
                opened += 1;
                if std::io::Write::write_all(&mut f, &record).is_ok() {
                    written += 1;
                }
            }
        }
    }
    report::line(&format!(
        "forge pid={} tried={tried} opened={opened} written={written}",
        std::process::id()
    ));
}
