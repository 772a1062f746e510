//! Test support: find the binaries, a directory per test, catchd under
//! observation, the daemons' report file, and a guard that SIGKILLs by
//! recorded PID every process a test caused, even when it fails.

pub mod cgroup;
pub mod innocent;
pub mod procs;
mod report;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

pub use innocent::Innocent;
pub use procs::{alive, wait_until};
pub use report::{field, Report};

/// The default deadline for anything a test waits on.
pub const LIMIT: Duration = Duration::from_secs(10);

/// The catchd under test: the one cargo built for this test run, or the
/// binary `CATCHD_TEST_BIN` names (an absolute path: the suite can then run
/// against another build, such as the static one `cargo xtask dist` writes).
pub fn catchd_bin() -> &'static str {
    static BIN: OnceLock<String> = OnceLock::new();
    BIN.get_or_init(|| match std::env::var("CATCHD_TEST_BIN") {
        Ok(bin) if !bin.is_empty() => {
            let path = Path::new(&bin);
            assert!(
                path.is_absolute() && path.is_file(),
                "CATCHD_TEST_BIN={bin} is not an absolute path to a file"
            );
            bin
        }
        _ => env!("CARGO_BIN_EXE_catchd").to_string(),
    })
}

/// A fake daemon from the test-daemons package, built by `cargo test`.
pub fn td(name: &str) -> PathBuf {
    let dir = match std::env::var_os("CATCHD_TEST_DAEMONS_DIR") {
        Some(d) => PathBuf::from(d),
        None => {
            let exe = std::env::current_exe().expect("current_exe");
            exe.parent()
                .and_then(Path::parent)
                .expect("target dir")
                .to_path_buf()
        }
    };
    let path = dir.join(name);
    assert!(
        path.is_file(),
        "{} is missing: run `cargo test` from the workspace root, or `cargo build -p catchd-test-daemons`",
        path.display()
    );
    path
}

pub struct TestDir {
    pub path: PathBuf,
}

impl TestDir {
    pub fn new(name: &str) -> TestDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::SeqCst);
        let path = std::env::temp_dir()
            .join("catchd-it")
            .join(format!("{name}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create test dir");
        TestDir { path }
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    pub fn report(&self) -> Report {
        Report {
            path: self.file("report"),
        }
    }
}

/// stderr lines, and whether stderr reached EOF.
type Lines = Arc<(Mutex<(Vec<String>, bool)>, Condvar)>;

thread_local! {
    /// Set by `with_contain`: every catchd this thread starts gets `--contain`.
    static CONTAIN: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// Set by `both_modes!`: `--cgroup VALUE` for every catchd this thread starts.
    static CGROUP: std::cell::Cell<Option<&'static str>> = const { std::cell::Cell::new(None) };
}

/// Held by the tests whose daemon forks thousands of processes a second
/// (`td-runaway`): two at once on a 2-core machine make zombies faster
/// than their catchds get the CPU to reap them, and the machine runs out
/// of PIDs for every other test. They take turns.
pub fn fork_heavy() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// Run a test body with `--cgroup off`, or (if this machine allows it)
/// `--cgroup on` (issue 14: the run-mode tests in both tracking modes).
pub fn with_cgroup(mode: &'static str, body: fn()) {
    if mode == "on" && !cgroup::allowed("--cgroup on") {
        return;
    }
    CGROUP.with(|c| c.set(Some(mode)));
    body();
    CGROUP.with(|c| c.set(None));
}

/// Run a test body again with `--contain` (issue 8: the run-mode tests,
/// parametrised rather than copied).
pub fn with_contain(body: fn()) {
    if !namespaces_allowed("--contain") {
        return;
    }
    CONTAIN.with(|c| c.set(true));
    body();
    CONTAIN.with(|c| c.set(false));
}

/// Whether this machine lets the tests create PID namespaces (root with
/// CAP_SYS_ADMIN, as CI runs). If not, say so once per test and skip:
/// `--contain` and the namespace tests need it.
pub fn namespaces_allowed(what: &str) -> bool {
    static ALLOWED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let allowed = *ALLOWED.get_or_init(|| {
        Command::new("unshare")
            .args(["--pid", "--fork", "--mount-proc", "true"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|st| st.success())
    });
    if !allowed {
        eprintln!(
            "SKIPPED {what}: PID namespaces are not permitted here (needs root / CAP_SYS_ADMIN)"
        );
    }
    allowed
}

/// `plain` (`--cgroup off`), `contained` (`--contain`) and `cgroup`
/// (`--cgroup on`) tests from one body.
#[macro_export]
macro_rules! both_modes {
    ($($body:ident),* $(,)?) => {$(
        mod $body {
            #[test]
            fn plain() {
                $crate::support::with_cgroup("off", super::$body)
            }
            #[test]
            fn cgroup() {
                $crate::support::with_cgroup("on", super::$body)
            }
            #[test]
            fn contained() {
                $crate::support::with_contain(super::$body)
            }
        }
    )*};
}

/// The catchd binary under test, with its stderr collected line by line.
pub struct Catchd {
    child: Child,
    pub pid: i32,
    /// Started with `--contain`: the daemons report namespace-local PIDs.
    pub contained: bool,
    lines: Lines,
    status: Option<ExitStatus>,
    reports: Vec<Report>,
    extra: Vec<i32>,
    /// With `start_under`: `child` is catchd's parent, not catchd.
    wrapped: bool,
}

impl Catchd {
    pub fn start(dir: &TestDir, args: &[&str]) -> Catchd {
        Self::start_with(dir, args, |_| {})
    }

    pub fn start_with(dir: &TestDir, args: &[&str], tweak: impl FnOnce(&mut Command)) -> Catchd {
        let forced = CONTAIN.with(|c| c.get());
        let contained = forced || args.contains(&"--contain");
        let mut cmd = Command::new(catchd_bin());
        if forced {
            cmd.arg("--contain");
        }
        if let Some(mode) = CGROUP.with(|c| c.get()) {
            cmd.args(["--cgroup", mode]);
        }
        cmd.args(args);
        let mut c = Self::spawn(dir, cmd, false, tweak);
        c.contained = contained;
        c
    }

    /// catchd as the child of `parent` (a program that runs the rest of
    /// its command line as its child, e.g. `td-reaper --record-signals`).
    /// `pid` is catchd's, read from its first log line (`catchd[PID]:`);
    /// `wait_exit` and `try_wait` are about the parent.
    pub fn start_under(dir: &TestDir, parent: &[&str], args: &[&str]) -> Catchd {
        let mut cmd = Command::new(parent[0]);
        cmd.args(&parent[1..]).arg(catchd_bin()).args(args);
        let mut c = Self::spawn(dir, cmd, true, |_| {});
        let first = c.wait_log("catchd[");
        c.pid = first
            .strip_prefix("catchd[")
            .and_then(|rest| rest.split(']').next())
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no PID in catchd's first log line {first:?}"));
        c
    }

    /// The PID of what the test spawned: catchd, or its parent.
    pub fn spawned_pid(&self) -> i32 {
        self.child.id() as i32
    }

    fn spawn(
        dir: &TestDir,
        mut cmd: Command,
        wrapped: bool,
        tweak: impl FnOnce(&mut Command),
    ) -> Catchd {
        cmd.env("CATCHD_TD_REPORT", &dir.report().path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        tweak(&mut cmd);
        let mut child = cmd.spawn().expect("spawn catchd");
        // None if `tweak` sent stderr elsewhere: then there are no lines.
        let stderr = child.stderr.take();
        let lines: Lines = Arc::new((Mutex::new((Vec::new(), false)), Condvar::new()));
        let sink = lines.clone();
        std::thread::spawn(move || {
            let (lock, cv) = &*sink;
            if let Some(stderr) = stderr {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    lock.lock().unwrap().0.push(line);
                    cv.notify_all();
                }
            }
            lock.lock().unwrap().1 = true;
            cv.notify_all();
        });
        let pid = child.id() as i32;
        Catchd {
            child,
            pid,
            contained: false,
            lines,
            status: None,
            reports: vec![dir.report()],
            extra: Vec::new(),
            wrapped,
        }
    }

    /// Also kill this PID at the end (a process the test started itself).
    pub fn guard_pid(&mut self, pid: i32) {
        self.extra.push(pid);
    }

    pub fn log(&self) -> String {
        self.lines.0.lock().unwrap().0.join("\n")
    }

    /// Wait for a stderr line containing `needle`; return it.
    pub fn wait_log(&self, needle: &str) -> String {
        let (lock, cv) = &*self.lines;
        let deadline = Instant::now() + LIMIT;
        let mut got = lock.lock().unwrap();
        loop {
            if let Some(line) = got.0.iter().find(|l| l.contains(needle)) {
                return line.clone();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero() && !got.1,
                "catchd never logged {needle:?}; log:\n{}",
                got.0.join("\n")
            );
            got = cv.wait_timeout(got, left).unwrap().0;
        }
    }

    /// Wait until `n` stderr lines contain `needle`; return them all.
    pub fn wait_log_count(&self, needle: &str, n: usize) -> Vec<String> {
        let (lock, cv) = &*self.lines;
        let deadline = Instant::now() + LIMIT;
        let mut got = lock.lock().unwrap();
        loop {
            let found: Vec<String> = got
                .0
                .iter()
                .filter(|l| l.contains(needle))
                .cloned()
                .collect();
            if found.len() >= n {
                return found;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero() && !got.1,
                "catchd logged {needle:?} {} time(s), not {n}; log:\n{}",
                found.len(),
                got.0.join("\n")
            );
            got = cv.wait_timeout(got, left).unwrap().0;
        }
    }

    pub fn signal(&self, sig: i32) {
        assert!(self.status.is_none(), "catchd already exited");
        procs::kill(self.pid, sig);
    }

    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.child.try_wait().expect("try_wait");
        }
        self.status
    }

    /// Wait for catchd to exit (deadline `LIMIT`).
    pub fn wait_exit(&mut self) -> ExitStatus {
        self.wait_exit_within(LIMIT)
    }

    /// Wait for catchd to exit, with a deadline of the test's choosing.
    pub fn wait_exit_within(&mut self, limit: Duration) -> ExitStatus {
        let mut st = None;
        let ok = wait_until(limit, || {
            st = self.try_wait();
            st.is_some()
        });
        assert!(ok, "catchd did not exit; log:\n{}", self.log());
        // Its last lines may still be in the pipe: wait for EOF (bounded,
        // since a daemon that outlived catchd may hold stderr open).
        let (lock, cv) = &*self.lines;
        let got = lock.lock().unwrap();
        let _ = cv.wait_timeout_while(got, Duration::from_secs(2), |g| !g.1);
        st.unwrap()
    }

    pub fn running(&mut self) -> bool {
        self.try_wait().is_none()
    }
}

impl Catchd {
    /// The host PID of a PID a daemon reported (namespace-local under
    /// `--contain`: found through `NSpid` among catchd's descendants).
    pub fn host(&self, reported: i32) -> i32 {
        if !self.contained {
            return reported;
        }
        procs::descendants(self.pid)
            .into_iter()
            .find(|&p| procs::nspid(p) == Some(reported))
            .unwrap_or_else(|| panic!("no process with namespace PID {reported} under catchd"))
    }

    /// Every live descendant now, by (PID, start time): to check later
    /// that exactly these processes are gone.
    pub fn snapshot(&self) -> Vec<(i32, u64)> {
        procs::descendants(self.pid)
            .into_iter()
            .filter_map(|p| procs::stat(p).filter(|s| s.0 != 'Z').map(|s| (p, s.2)))
            .collect()
    }

    /// Whether a process a daemon reported is still alive.
    pub fn reported_alive(&self, reported: i32) -> bool {
        if !self.contained {
            return alive(reported);
        }
        procs::descendants(self.pid)
            .into_iter()
            .any(|p| procs::nspid(p) == Some(reported) && alive(p))
    }

    /// Every process this test caused that is still alive: catchd's
    /// descendants, what the daemons reported (still named td-*), and
    /// what the test registered.
    fn leftovers(&self) -> Vec<i32> {
        let mut pids = if self.status.is_none() {
            procs::descendants(self.pid)
                .into_iter()
                .filter(|&p| procs::alive(p))
                .collect()
        } else {
            Vec::new()
        };
        // Under --contain reported PIDs are namespace-local numbers: never
        // kill by them; the namespace dies with catchd.
        let reports: &[Report] = if self.contained { &[] } else { &self.reports };
        for r in reports {
            pids.extend(r.pids().into_iter().filter(|&pid| {
                procs::alive(pid)
                    && procs::stat(pid).is_some_and(|(_, _, _, comm)| comm.starts_with("td-"))
            }));
        }
        pids.extend(self.extra.iter().copied().filter(|&p| procs::alive(p)));
        pids.sort();
        pids.dedup();
        pids
    }
}

impl Drop for Catchd {
    fn drop(&mut self) {
        // SIGKILL by recorded PID until nothing is left, catchd last: while
        // catchd lives it is the subreaper, so a process forked during the
        // clean-up is re-parented to it and found on the next round.
        let _ = self.try_wait();
        let mut cgroups: Vec<String> = self
            .leftovers()
            .iter()
            .filter_map(|&p| cgroup::of(p))
            .collect();
        wait_until(LIMIT, || {
            let pids = self.leftovers();
            for &pid in &pids {
                procs::kill(pid, libc::SIGKILL);
            }
            pids.is_empty()
        });
        if self.wrapped && procs::alive(self.pid) {
            procs::kill(self.pid, libc::SIGKILL);
            wait_until(LIMIT, || !procs::alive(self.pid));
        }
        if self.try_wait().is_none() {
            // The spawned process: catchd, or its parent (by its handle).
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        cgroups.sort();
        cgroups.dedup();
        cgroup::remove_leftovers(&cgroups);
    }
}

/// Exit code or terminating signal, for assertions.
/// Start `cmd` with SIGINT at its default, as from an interactive
/// terminal (a background job of a non-interactive shell inherits it
/// ignored, and catchd passes that on to the daemon).
pub fn int_at_default(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: signal(2) only, between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            libc::signal(libc::SIGINT, libc::SIG_DFL);
            Ok(())
        });
    }
}

pub fn code(st: ExitStatus) -> Option<i32> {
    st.code()
}

pub fn signal_of(st: ExitStatus) -> Option<i32> {
    std::os::unix::process::ExitStatusExt::signal(&st)
}

/// The path of td-forker, the configurable fake legacy daemon.
pub fn forker() -> String {
    td("td-forker").display().to_string()
}
