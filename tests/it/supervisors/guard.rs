//! The supervisors tests' clean-up: a private directory, the long-running
//! processes a test started in it, and SIGKILL by recorded PID for
//! everything the test caused, even when it fails.

use super::{comm, SLOW};
use crate::support::{procs, Report, TestDir};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// A private directory, the supervisor processes started in it, and the
/// clean-up on drop.
pub struct Guard {
    pub dir: TestDir,
    roots: Vec<Child>,
    recorded: Vec<(i32, u64)>,
}

impl Guard {
    pub fn new(name: &str) -> Guard {
        Guard {
            dir: TestDir::new(name),
            roots: Vec::new(),
            recorded: Vec::new(),
        }
    }

    pub fn report(&self) -> Report {
        self.dir.report()
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.file(name)
    }

    /// Start a long-running process (a supervisor) with the report path in
    /// its environment and its output in `<label>.out`; return its index.
    pub fn spawn(&mut self, label: &str, cmd: &mut Command) -> usize {
        let out = std::fs::File::create(self.path(&format!("{label}.out"))).expect("out file");
        let err = out.try_clone().expect("dup");
        let child = cmd
            .env("CATCHD_TD_REPORT", &self.report().path)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
        self.roots.push(child);
        self.roots.len() - 1
    }

    pub fn pid_of(&self, root: usize) -> i32 {
        self.roots[root].id() as i32
    }

    /// Whether a started process has exited (it is then reaped).
    pub fn exited(&mut self, root: usize) -> Option<std::process::ExitStatus> {
        self.roots[root].try_wait().expect("try_wait")
    }

    /// Kill this PID at the end too, if it is still the same process.
    pub fn record(&mut self, pid: i32) {
        if let Some((_, _, start, _)) = procs::stat(pid) {
            self.recorded.push((pid, start));
        }
    }

    /// Everything the test wrote and the supervisors logged, for failures.
    pub fn diag(&self) -> String {
        let mut out = String::new();
        let mut entries: Vec<_> = std::fs::read_dir(&self.dir.path)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_file())
            .collect();
        entries.sort();
        for p in entries {
            let text = std::fs::read_to_string(&p).unwrap_or_default();
            out.push_str(&format!("--- {}\n{text}\n", p.display()));
        }
        out
    }
}

impl Guard {
    /// Every process this test caused that is still alive (not a zombie):
    /// the supervisors' descendants, what the daemons reported (still
    /// named td-*), and what the test recorded (same start time).
    fn leftovers(&self, running: &[i32]) -> Vec<i32> {
        let mut pids: Vec<i32> = running
            .iter()
            .flat_map(|&r| procs::descendants(r))
            .collect();
        pids.extend(self.report().pids().into_iter().filter(|&pid| {
            procs::stat(pid).is_some_and(|(_, _, _, comm)| comm.starts_with("td-"))
        }));
        pids.extend(
            self.recorded
                .iter()
                .filter(|&&(pid, start)| procs::stat(pid).is_some_and(|s| s.2 == start))
                .map(|&(pid, _)| pid),
        );
        pids.retain(|&p| procs::alive(p));
        pids.sort();
        pids.dedup();
        pids
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        // Freeze the supervisors (nothing is restarted, and what they
        // started stays their descendant), then SIGKILL in rounds until
        // nothing is left, catchd last: while catchd lives it is the
        // subreaper, so a process forked meanwhile is found next round.
        let mut running = Vec::new();
        for root in &mut self.roots {
            if matches!(root.try_wait(), Ok(None)) {
                running.push(root.id() as i32);
                procs::kill(root.id() as i32, libc::SIGSTOP);
            }
        }
        procs::wait_until(SLOW, || {
            let pids = self.leftovers(&running);
            let daemons: Vec<i32> = pids
                .iter()
                .copied()
                .filter(|&p| comm(p) != "catchd")
                .collect();
            for &pid in if daemons.is_empty() { &pids } else { &daemons } {
                procs::kill(pid, libc::SIGKILL);
            }
            pids.is_empty()
        });
        for root in &mut self.roots {
            let _ = root.kill();
            let _ = root.wait();
        }
        if std::thread::panicking() {
            eprintln!("kept {} for inspection", self.dir.path.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir.path);
        }
    }
}
