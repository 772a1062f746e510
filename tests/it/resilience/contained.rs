//! `--contain` (SPEC §1.1.8, §1.6): the daemon gets stdio and the hold pipe
//! only, never the init's report channel; the init's reports cannot be
//! forged, even by root opening the init's descriptors through /proc; the
//! init shows as `catchd-init`; an exec failure is said once.

use std::io::Write;

use super::{forwarded, main_pid};
use crate::support::*;

/// The init: catchd's only child under `--contain`.
fn init_of(c: &Catchd) -> i32 {
    let kids = procs::children_of(c.pid);
    assert_eq!(kids.len(), 1, "catchd's children: {kids:?}");
    kids[0]
}

fn fds(pid: i32) -> Vec<(i32, String)> {
    let mut out: Vec<(i32, String)> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .flatten()
        .map(|e| {
            let n = e.file_name().to_string_lossy().parse().unwrap();
            let link = std::fs::read_link(e.path()).unwrap_or_default();
            (n, link.to_string_lossy().into_owned())
        })
        .collect();
    out.sort();
    out
}

#[test]
fn the_daemon_holds_stdio_and_the_hold_pipe_only() {
    if !namespaces_allowed("--contain") {
        return;
    }
    let dir = TestDir::new("contain-fds");
    let f = forker();
    let mut c = start_clean(&dir, &["--contain", "--", &f, "--workers", "1"]);
    let main = c.host(main_pid(&dir));
    c.wait_log("ready: main process PID");
    let numbers: Vec<i32> = fds(main).into_iter().map(|(n, _)| n).collect();
    assert_eq!(numbers, [0, 1, 2, 1023], "{:?}", fds(main));
    let init = init_of(&c);
    assert_eq!(
        std::fs::read_to_string(format!("/proc/{init}/comm")).unwrap(),
        "catchd-init\n"
    );
    c.signal(libc::SIGTERM);
    assert_eq!(code(c.wait_exit()), Some(0), "{}", c.log());
}

/// Root outside the namespace (a stronger attacker than anything inside
/// it) tries to write a forged "main process exited 42" record into every
/// descriptor of the init it can open. None of them is the report channel
/// (a socket cannot be opened through /proc): catchd goes on holding the
/// daemon, and a TERM ends it with the daemon's real status.
#[test]
fn a_forged_report_changes_nothing() {
    if !namespaces_allowed("--contain") {
        return;
    }
    let dir = TestDir::new("contain-forge");
    let f = forker();
    let mut c = start_clean(&dir, &["--contain", "--", &f, "--workers", "1"]);
    let reported = main_pid(&dir);
    let main = c.host(reported);
    c.wait_log("ready: main process PID");
    let init = init_of(&c);
    // Record::Exited(nspid, 42) as the init writes it: kind 3, pid, status.
    let mut forged = Vec::new();
    for word in [3i32, reported, 42] {
        forged.extend_from_slice(&word.to_ne_bytes());
    }
    let mut reached = Vec::new();
    for (n, link) in fds(init) {
        let opened = std::fs::OpenOptions::new()
            .write(true)
            .custom_flags_nonblock()
            .open(format!("/proc/{init}/fd/{n}"));
        if let Ok(mut file) = opened {
            if file.write_all(&forged).is_ok() {
                reached.push((n, link));
            }
        }
    }
    // Only the init's stdio (what it shares with the test) took the bytes.
    let stdio: Vec<String> = fds(init)
        .into_iter()
        .filter(|(n, _)| *n <= 2)
        .map(|(_, l)| l)
        .collect();
    assert!(
        reached.iter().all(|(_, l)| stdio.contains(l)),
        "forged bytes reached {reached:?}"
    );
    forwarded(&c, &dir, reported, libc::SIGHUP, 1);
    assert!(c.running(), "{}", c.log());
    assert!(procs::alive(main));
    c.signal(libc::SIGTERM);
    assert_eq!(code(c.wait_exit()), Some(0), "{}", c.log());
}

/// catchd with stdio only: whatever else the test runner leaks to its
/// children (a jobserver pipe, say) would be passed on, as a supervisor's
/// descriptors must be (socket activation).
fn start_clean(dir: &TestDir, args: &[&str]) -> Catchd {
    Catchd::start_with(dir, args, |cmd| {
        // SAFETY: close_range in the child before exec.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(cmd, || {
                libc::syscall(
                    libc::SYS_close_range,
                    3u32,
                    u32::MAX,
                    libc::CLOSE_RANGE_CLOEXEC,
                );
                Ok(())
            });
        }
    })
}

trait NonBlock {
    fn custom_flags_nonblock(&mut self) -> &mut Self;
}

impl NonBlock for std::fs::OpenOptions {
    fn custom_flags_nonblock(&mut self) -> &mut Self {
        std::os::unix::fs::OpenOptionsExt::custom_flags(self, libc::O_NONBLOCK)
    }
}

#[test]
fn an_exec_failure_is_said_once() {
    if !namespaces_allowed("--contain") {
        return;
    }
    let dir = TestDir::new("contain-exec");
    let mut c = Catchd::start(&dir, &["--contain", "--", "/nonexistent/legacyd"]);
    assert_eq!(code(c.wait_exit()), Some(127), "{}", c.log());
    let log = c.log();
    let said = log
        .lines()
        .filter(|l| l.contains("/nonexistent/legacyd"))
        .count();
    assert_eq!(said, 1, "{log}");
}

/// A worker inside the namespace tries the same from there, once as an
/// unprivileged user (it cannot even list the init's descriptors: the init
/// is not dumpable) and once as root in the namespace (it reaches the
/// init's stdio at most). catchd goes on; TERM ends it with status 0.
#[test]
fn workers_inside_the_namespace_cannot_forge_a_report() {
    if !namespaces_allowed("--contain") {
        return;
    }
    let f = forker();
    for unprivileged in [true, false] {
        let dir = TestDir::new("contain-forge-inside");
        let report = dir.report();
        std::fs::write(&report.path, "").unwrap();
        std::fs::set_permissions(
            &report.path,
            std::os::unix::fs::PermissionsExt::from_mode(0o666),
        )
        .unwrap();
        let mut args = vec!["--contain", "--", &f, "--workers", "1", "--worker-forge"];
        if unprivileged {
            args.extend(["--worker-uid", "65534"]);
        }
        let mut c = start_clean(&dir, &args);
        let reported = main_pid(&dir);
        let forge = report.wait_for(&["forge"]);
        if unprivileged {
            assert!(forge.contains("opened=0"), "{forge}");
        }
        forwarded(&c, &dir, reported, libc::SIGHUP, 1);
        assert!(c.running(), "{forge}\n{}", c.log());
        c.signal(libc::SIGTERM);
        assert_eq!(code(c.wait_exit()), Some(0), "{forge}\n{}", c.log());
    }
}
