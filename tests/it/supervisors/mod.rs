//! Real supervisors driving catchd through the recipes in `examples/`
//! (issue 4, acceptance 1–3): supervisord, runit's runsv, s6-supervise, and
//! a container entrypoint.
//!
//! Each test copies its example into a private directory, replacing only
//! the three stand-in paths every example uses (`/usr/bin/catchd`,
//! `/usr/sbin/legacyd`, `/run/legacyd.pid`), and starts the supervisor on
//! that directory itself: no system service, socket or directory is
//! touched. A `Guard` SIGKILLs, by recorded PID, every process the test
//! caused, even when it fails. A test is skipped, with a message, only when
//! its supervisor is not installed, and never when
//! `CATCHD_REQUIRE_SUPERVISORS` is set (as `.ci/run` does).

mod container;
mod guard;
mod runit;
mod s6;
mod supervisord;

pub use guard::Guard;

use crate::support::{procs, Report};
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Deadline for anything that goes through a supervisor (supervisorctl is
/// a Python program: slow to start on a loaded 2-core machine).
pub const SLOW: Duration = Duration::from_secs(30);

/// The stand-ins every example uses, replaced by the tests.
pub const CATCHD: &str = "/usr/bin/catchd";
pub const DAEMON: &str = "/usr/sbin/legacyd";
pub const PIDFILE: &str = "/run/legacyd.pid";

/// A file or directory under `examples/`.
pub fn example(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(rel)
}

pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// `text` with each `(from, to)` replaced; every `from` must occur, so an
/// example that drifts from the convention fails here, not later.
pub fn instantiate(text: &str, subs: &[(&str, &str)]) -> String {
    let mut out = text.to_string();
    for (from, to) in subs {
        assert!(out.contains(from), "the example no longer contains {from}");
        out = out.replace(from, to);
    }
    out
}

/// Copy the service directory `src` to `dest`, instantiating every file
/// and keeping its mode (the `run` script stays executable). Every `from`
/// must occur somewhere in the directory.
pub fn copy_service(src: &Path, dest: &Path, subs: &[(&str, &str)]) {
    std::fs::create_dir_all(dest).expect("create service dir");
    let mut all = String::new();
    for entry in std::fs::read_dir(src).expect("read example dir").flatten() {
        let text = read(&entry.path());
        let mut out = text.clone();
        for (from, to) in subs {
            out = out.replace(from, to);
        }
        all.push_str(&text);
        let to = dest.join(entry.file_name());
        std::fs::write(&to, out).expect("write service file");
        let mode = entry.metadata().expect("stat").permissions().mode();
        std::fs::set_permissions(&to, std::fs::Permissions::from_mode(mode)).expect("chmod");
    }
    for (from, _) in subs {
        assert!(
            all.contains(from),
            "{} no longer contains {from}",
            src.display()
        );
    }
    let run = src.join("run");
    let mode = std::fs::metadata(&run).map(|m| m.permissions().mode());
    assert!(
        mode.is_ok_and(|m| m & 0o111 != 0),
        "{} is missing or not executable",
        run.display()
    );
}

/// The td-forker command line that stands in for `/usr/sbin/legacyd`.
pub fn daemon(args: &str) -> String {
    format!("{} {args}", crate::support::td("td-forker").display())
}

/// A supervisor's program, by name: found on PATH or in the sbin
/// directories. `None` (after a skip message) when missing, unless
/// `CATCHD_REQUIRE_SUPERVISORS` is set, which turns it into a failure.
pub fn require(test: &str, names: &[&str], package: &str) -> Option<Vec<PathBuf>> {
    let found: Vec<Option<PathBuf>> = names.iter().map(|n| which(n)).collect();
    let missing: Vec<&str> = names
        .iter()
        .zip(&found)
        .filter(|(_, f)| f.is_none())
        .map(|(n, _)| *n)
        .collect();
    if missing.is_empty() {
        return Some(found.into_iter().flatten().collect());
    }
    let msg = format!(
        "{test}: {} not installed (apt-get install {package})",
        missing.join(", ")
    );
    assert!(
        std::env::var_os("CATCHD_REQUIRE_SUPERVISORS").is_none(),
        "{msg}, and CATCHD_REQUIRE_SUPERVISORS is set"
    );
    eprintln!("skipping {msg}");
    None
}

fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// Run a supervisor's control command to completion (at most `SLOW`):
/// (exit code, stdout + stderr).
pub fn run(cmd: &mut Command) -> (Option<i32>, String) {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    let mut status = None;
    let done = procs::wait_until(SLOW, || {
        status = child.try_wait().expect("try_wait");
        status.is_some()
    });
    if !done {
        let _ = child.kill();
        let _ = child.wait();
        panic!("{cmd:?} did not finish within {SLOW:?}");
    }
    let mut out = String::new();
    if let Some(mut pipe) = child.stdout.take() {
        let _ = pipe.read_to_string(&mut out);
    }
    if let Some(mut pipe) = child.stderr.take() {
        let _ = pipe.read_to_string(&mut out);
    }
    (status.and_then(|s| s.code()), out)
}

/// Poll `f` every 100 ms (each call may start a program) until it gives a
/// value or `SLOW` passes.
pub fn poll<T>(mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + SLOW;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The number after `word` in `text` (`pid 123,` → 123).
pub fn number_after(text: &str, word: &str) -> Option<i32> {
    let rest = &text[text.find(word)? + word.len()..];
    let digits: String = rest
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// The PID of the `n`th (from 1) `ready role=main` report line, waiting
/// for it.
pub fn nth_main(report: &Report, n: usize) -> i32 {
    let mains = || -> Vec<i32> {
        report
            .lines()
            .iter()
            .filter(|l| l.starts_with("ready ") && l.split_whitespace().any(|w| w == "role=main"))
            .filter_map(|l| crate::support::field(l, "pid"))
            .collect()
    };
    let ok = procs::wait_until(SLOW, || mains().len() >= n);
    assert!(
        ok,
        "no main process #{n}; report:\n{}",
        report.lines().join("\n")
    );
    mains()[n - 1]
}

pub fn comm(pid: i32) -> String {
    procs::stat(pid).map(|s| s.3).unwrap_or_default()
}

/// The PID a pidfile names, if it holds exactly one.
pub fn pidfile_pid(path: &Path) -> Option<i32> {
    std::fs::read_to_string(path).ok()?.trim_end().parse().ok()
}

/// Every PID in `pids` that is still alive (zombies count as dead).
pub fn survivors(pids: &[i32]) -> Vec<(i32, String)> {
    pids.iter()
        .filter(|&&p| procs::alive(p))
        .map(|&p| (p, comm(p)))
        .collect()
}
