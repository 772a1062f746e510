//! Harness for the smoke tests: runs `td-reaper td-forker ARGS` in a fresh
//! directory, reads the report file, waits for lines with a deadline, and
//! kills everything the run created when dropped.
//!
//! Owns: `Td` (one run), `Ev` (one parsed report line), /proc readers.
//! Must not: fork, touch the test process's signal mask, sleep as a
//! synchronisation step (only the 10 ms poll of `wait`), or signal a PID it
//! cannot vouch for (comm `td-forker` and our report path in its environ).

#![allow(dead_code)]

use std::collections::{BTreeSet, HashMap};
use std::fs;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const FORKER: &str = env!("CARGO_BIN_EXE_td-forker");
pub const REAPER: &str = env!("CARGO_BIN_EXE_td-reaper");
const DEADLINE: Duration = Duration::from_secs(5);
const POLL: Duration = Duration::from_millis(10);

/// One report line: `kind [N] key=value...`.
#[derive(Clone, Debug)]
pub struct Ev {
    pub kind: String,
    pub num: Option<i32>,
    pub kv: HashMap<String, String>,
}

impl Ev {
    fn parse(line: &str) -> Ev {
        let mut words = line.split(' ');
        let kind = words.next().unwrap_or_default().to_string();
        let (mut num, mut kv) = (None, HashMap::new());
        for w in words {
            match w.split_once('=') {
                Some((k, v)) => {
                    kv.insert(k.to_string(), v.to_string());
                }
                None => num = w.parse().ok(),
            }
        }
        Ev { kind, num, kv }
    }
    pub fn get(&self, key: &str) -> &str {
        self.kv.get(key).map(String::as_str).unwrap_or("")
    }
    pub fn int(&self, key: &str) -> i32 {
        self.get(key).parse().unwrap_or(-1)
    }
    pub fn pid(&self) -> i32 {
        self.int("pid")
    }
    pub fn is(&self, kind: &str, role: &str) -> bool {
        self.kind == kind && (role.is_empty() || self.get("role") == role)
    }
}

/// One td-forker run under td-reaper, with its own directory.
pub struct Td {
    pub dir: PathBuf,
    pub report: PathBuf,
    reaper: Option<Child>,
}

impl Td {
    /// A fresh directory `temp_dir()/catchd-td-smoke/<name>-<test pid>`.
    pub fn new(name: &str) -> Td {
        let dir = std::env::temp_dir()
            .join("catchd-td-smoke")
            .join(format!("{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("create the test directory");
        let report = dir.join("report");
        Td {
            dir,
            report,
            reaper: None,
        }
    }

    pub fn path(&self, file: &str) -> String {
        self.dir.join(file).to_string_lossy().into_owned()
    }

    /// Start `td-reaper td-forker ARGS`.
    pub fn run(&mut self, args: &[&str]) {
        self.run_cmd(&[&[FORKER], args].concat());
    }

    /// Start `td-reaper ARGV...` (ARGV[0] is the program to run).
    pub fn run_cmd(&mut self, argv: &[&str]) {
        let stderr = fs::File::create(self.dir.join("stderr")).expect("create stderr file");
        let child = Command::new(REAPER)
            .args(argv)
            .env("CATCHD_TD_REPORT", &self.report)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("spawn td-reaper");
        self.reaper = Some(child);
    }

    pub fn reaper_pid(&self) -> i32 {
        self.reaper.as_ref().map_or(-1, |c| c.id() as i32)
    }

    pub fn events(&self) -> Vec<Ev> {
        fs::read_to_string(&self.report)
            .unwrap_or_default()
            .lines()
            .map(Ev::parse)
            .collect()
    }

    /// Poll every 10 ms until `f` returns Some, for at most 5 s.
    pub fn wait<T>(&self, what: &str, mut f: impl FnMut(&[Ev]) -> Option<T>) -> T {
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Some(v) = f(&self.events()) {
                return v;
            }
            if Instant::now() > deadline {
                let report = fs::read_to_string(&self.report).unwrap_or_default();
                let stderr = fs::read_to_string(self.dir.join("stderr")).unwrap_or_default();
                panic!("timed out waiting for {what}\n--- report:\n{report}--- stderr:\n{stderr}");
            }
            std::thread::sleep(POLL);
        }
    }

    /// Wait for the first event of `kind` (and `role`, "" for any) that
    /// also satisfies `pred`.
    pub fn first(&self, kind: &str, role: &str, pred: impl Fn(&Ev) -> bool) -> Ev {
        self.wait(&format!("{kind} role={role}"), |evs| {
            evs.iter().find(|e| e.is(kind, role) && pred(e)).cloned()
        })
    }

    /// Wait until there are at least `n` events of `kind`/`role`.
    pub fn at_least(&self, n: usize, kind: &str, role: &str) -> Vec<Ev> {
        self.wait(&format!("{n} x {kind} role={role}"), |evs| {
            let v: Vec<Ev> = evs.iter().filter(|e| e.is(kind, role)).cloned().collect();
            (v.len() >= n).then_some(v)
        })
    }

    /// Index of the first event matching `pred` (panics if none).
    pub fn index(&self, pred: impl Fn(&Ev) -> bool) -> usize {
        self.events().iter().position(pred).expect("event present")
    }

    /// Wait until td-reaper has exited (its tree is empty).
    pub fn wait_reaper_exit(&mut self) {
        let mut reaper = self.reaper.take();
        self.wait("td-reaper to exit (tree empty)", |_| {
            match reaper.as_mut() {
                Some(c) => c.try_wait().ok().flatten().map(|_| ()),
                None => Some(()),
            }
        });
    }

    /// Everything we might have to kill: reported PIDs plus any process
    /// whose environment names our report file (forked but not reported).
    fn candidates(&self) -> BTreeSet<i32> {
        let mut pids: BTreeSet<i32> = self
            .events()
            .iter()
            .map(Ev::pid)
            .filter(|&p| p > 0)
            .collect();
        if let Ok(dir) = fs::read_dir("/proc") {
            pids.extend(
                dir.flatten()
                    .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok()),
            );
        }
        pids
    }

    /// Ours and alive: comm td-forker, our report path in its environment,
    /// not a zombie.
    fn is_ours(&self, pid: i32) -> bool {
        let Some(st) = stat(pid) else { return false };
        if st.comm != "td-forker" || st.state == 'Z' {
            return false;
        }
        let Ok(env) = fs::read(format!("/proc/{pid}/environ")) else {
            return false;
        };
        let needle = format!("CATCHD_TD_REPORT={}", self.report.display());
        env.split(|&b| b == 0).any(|v| v == needle.as_bytes())
    }

    fn cleanup(&mut self) {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let reaper_done = match self.reaper.as_mut() {
                Some(c) => !matches!(c.try_wait(), Ok(None)),
                None => true,
            };
            let alive: Vec<i32> = self
                .candidates()
                .into_iter()
                .filter(|&p| self.is_ours(p))
                .collect();
            if reaper_done && alive.is_empty() {
                break;
            }
            for pid in alive {
                signal(pid, libc::SIGKILL);
            }
            if Instant::now() > deadline {
                eprintln!(
                    "td smoke: cleanup deadline passed in {}",
                    self.dir.display()
                );
                break;
            }
            std::thread::sleep(POLL);
        }
        if let Some(mut c) = self.reaper.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Td {
    fn drop(&mut self) {
        self.cleanup();
        if !std::thread::panicking() {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// kill(2) (the test process only ever sends signals).
pub fn signal(pid: i32, signo: i32) {
    assert!(pid > 1, "refusing to signal pid {pid}");
    // SAFETY: kill(2) has no memory-safety preconditions.
    unsafe { libc::kill(pid, signo) };
}

/// The fields of /proc/PID/stat the tests use.
pub struct Stat {
    pub comm: String,
    pub state: char,
    pub ppid: i32,
    pub sid: i32,
}

pub fn stat(pid: i32) -> Option<Stat> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let comm = text[open + 1..close].to_string();
    let rest: Vec<&str> = text[close + 2..].split(' ').collect();
    Some(Stat {
        comm,
        state: rest.first()?.chars().next()?,
        ppid: rest.get(1)?.parse().ok()?,
        sid: rest.get(3)?.parse().ok()?,
    })
}

/// Whether `signo` is in the SigIgn mask of /proc/PID/status.
pub fn ignores(pid: i32, signo: i32) -> bool {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("SigIgn:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        .is_some_and(|mask| mask & (1u64 << (signo - 1)) != 0)
}
