//! Holding a daemon, mirroring its end, and bad input (issue 2: 1, 2, 3,
//! 11, 12, 13).

use crate::support::*;

fn double_forking_fd_closing_daemon_is_held_and_its_exit_code_mirrored() {
    let dir = TestDir::new("held-exit7");
    let f = forker();
    let mut c = Catchd::start(
        &dir,
        &[
            "--",
            &f,
            "--fork",
            "double",
            "--setsid",
            "--close-all-fds",
            "--exit-after",
            "3s",
            "--exit-code",
            "7",
        ],
    );
    let ready = dir.report().wait_for(&["ready", "role=main"]);
    let main = field(&ready, "pid").unwrap();
    c.wait_log("ready: main process PID");
    // The main process lives for 3 s: catchd must be there meanwhile.
    assert!(
        c.running(),
        "catchd left while the daemon runs:\n{}",
        c.log()
    );
    assert!(c.reported_alive(main));
    let st = c.wait_exit();
    assert_eq!(code(st), Some(7), "log:\n{}", c.log());
    assert!(!c.reported_alive(main));
}

fn killed_daemon(exit_128: bool) -> std::process::ExitStatus {
    let dir = TestDir::new("held-kill9");
    let f = forker();
    let mut args = vec!["--stop-timeout", "300ms"];
    if exit_128 {
        args.push("--exit-128");
    }
    args.extend([
        "--",
        &f,
        "--fork",
        "double",
        "--setsid",
        "--close-all-fds",
        "--workers",
        "1",
    ]);
    let mut c = Catchd::start(&dir, &args);
    let main = field(&dir.report().wait_for(&["ready", "role=main"]), "pid").unwrap();
    let worker = field(&dir.report().wait_for(&["ready", "role=worker"]), "pid").unwrap();
    c.wait_log("ready: main process PID");
    procs::kill(c.host(main), libc::SIGKILL);
    let st = c.wait_exit();
    assert!(!c.reported_alive(worker), "worker survived:\n{}", c.log());
    st
}

fn daemon_killed_by_sigkill_makes_catchd_die_by_sigkill() {
    let st = killed_daemon(false);
    assert_eq!(signal_of(st), Some(libc::SIGKILL));
}

fn exit_128_reports_a_killed_daemon_as_137() {
    let st = killed_daemon(true);
    assert_eq!(code(st), Some(137));
}

fn a_program_that_never_forks_is_mirrored_like_tini() {
    let dir = TestDir::new("nofork");
    let f = forker();
    let mut c = Catchd::start(
        &dir,
        &[
            "--",
            &f,
            "--fork",
            "none",
            "--exit-after",
            "100ms",
            "--exit-code",
            "5",
        ],
    );
    assert_eq!(code(c.wait_exit()), Some(5), "{}", c.log());
    let mut c = Catchd::start(
        &dir,
        &[
            "--",
            &f,
            "--fork",
            "none",
            "--exit-after",
            "100ms",
            "--die-by",
            "USR1",
        ],
    );
    assert_eq!(signal_of(c.wait_exit()), Some(libc::SIGUSR1), "{}", c.log());
}

fn launcher_failing_without_children_gives_its_status() {
    let dir = TestDir::new("launcher3");
    let f = forker();
    let mut c = Catchd::start(&dir, &["--", &f, "--fork", "none", "--launcher-exit", "3"]);
    assert_eq!(code(c.wait_exit()), Some(3), "{}", c.log());
}

/// A script with no `#!` line (as old daemons are sometimes started by)
/// runs with `/bin/sh FILE ARGS`, as glibc's `execvp` runs it, whichever
/// libc catchd was built against: given by its path, and found on PATH.
fn a_script_without_a_shebang_runs_with_sh() {
    let dir = TestDir::new("noshebang");
    let out = dir.file("ran");
    let script = dir.file("old-start");
    let body = format!(
        "printf '%s|' \"$0\" \"$@\" >> '{out}'\necho >> '{out}'\nexit 7\n",
        out = out.display()
    );
    std::fs::write(&script, body).unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let path = script.display().to_string();
    let mut c = Catchd::start(&dir, &["--", &path, "a b", "-c"]);
    assert_eq!(code(c.wait_exit()), Some(7), "{}", c.log());
    let search = format!(
        "{}:{}",
        dir.path.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut c = Catchd::start_with(&dir, &["--", "old-start", "x"], |cmd| {
        cmd.env("PATH", &search);
    });
    assert_eq!(code(c.wait_exit()), Some(7), "{}", c.log());
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        format!("{path}|a b|-c|\n{path}|x|\n")
    );
}

/// One clear line on stderr, the expected code, no panic.
fn bad_input(args: &[&str], expected: i32, needle: &str) {
    let dir = TestDir::new("bad-input");
    let mut c = Catchd::start(&dir, args);
    let st = c.wait_exit();
    let log = c.log();
    assert_eq!(code(st), Some(expected), "{args:?}: {log}");
    let lines: Vec<&str> = log.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{args:?}: expected one line, got:\n{log}");
    assert!(lines[0].contains(needle), "{args:?}: {log}");
    assert!(
        !log.contains("panicked") && !log.contains("RUST_BACKTRACE"),
        "{log}"
    );
}

#[test]
fn bad_input_gets_one_line_and_the_right_code() {
    bad_input(&["--", "/nonexistent/prog"], 127, "/nonexistent/prog");
    bad_input(&["--", "no-such-program-catchd-test"], 127, "not found");
    let dir = TestDir::new("noexec");
    let plain = dir.file("not-executable");
    std::fs::write(&plain, "#!/bin/sh\n").unwrap();
    let plain = plain.display().to_string();
    bad_input(&["--", &plain], 126, "not-executable");
    bad_input(&["--no-such-flag", "--", "true"], 125, "--no-such-flag");
    bad_input(
        &["--stop-timeout", "10parsecs", "--", "true"],
        125,
        "--stop-timeout",
    );
    bad_input(
        &["--start-timeout", "-1s", "--", "true"],
        125,
        "--start-timeout",
    );
    bad_input(&["--stop-signal", "SIGNOPE", "--", "true"], 125, "SIGNOPE");
    bad_input(&["--signal-map", "TERM", "--", "true"], 125, "--signal-map");
    bad_input(&["--signal-map", "TERM:BOGUS", "--", "true"], 125, "BOGUS");
    bad_input(&["--kill-mode", "some", "--", "true"], 125, "--kill-mode");
    bad_input(&["--ready-fd", "1", "--", "true"], 125, "--ready-fd");
    bad_input(&[], 125, "PROGRAM");
}

#[test]
fn daemon_gets_the_mask_and_dispositions_catchd_started_with_and_no_extra_fds() {
    use std::os::unix::process::CommandExt;
    let dir = TestDir::new("inherit");
    let mut c = Catchd::start_with(&dir, &["--", "sleep", "1000"], |cmd| {
        cmd.env("NOTIFY_SOCKET", "/nonexistent/notify");
        // As `nohup` does: catchd starts with SIGHUP ignored, and here
        // with USR2 blocked; every other signal default and unblocked.
        // SAFETY: signal(2) and sigprocmask(2) only, between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                // The raw syscall: glibc's signal() refuses 32 and 33, which
                // the test's own parent may have left ignored.
                let dfl = [0u64; 4]; // kernel sigaction: SIG_DFL, no flags
                for sig in 1..=64 {
                    libc::syscall(libc::SYS_rt_sigaction, sig, dfl.as_ptr(), 0usize, 8usize);
                }
                libc::signal(libc::SIGHUP, libc::SIG_IGN);
                // Descriptors the test runner itself inherited are not
                // catchd's: start catchd without them.
                libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32);
                let mut set: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut set);
                libc::sigaddset(&mut set, libc::SIGUSR2);
                libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
                Ok(())
            });
        }
    });
    let line = c.wait_log("started sleep as PID");
    let pid: i32 = line.rsplit(' ').next().unwrap().parse().unwrap();
    // Asleep in `sleep` itself: past exec and its start-up (which opens
    // and closes locale files).
    assert!(wait_until(LIMIT, || procs::stat(pid)
        .is_some_and(|s| s.3 == "sleep" && s.0 == 'S')));
    assert_eq!(
        procs::status_field(pid, "SigBlk").as_deref(),
        Some("0000000000000800")
    );
    assert_eq!(
        procs::status_field(pid, "SigIgn").as_deref(),
        Some("0000000000000001")
    );
    // catchd itself blocks nearly everything for its signalfd.
    assert_ne!(
        procs::status_field(c.pid, "SigBlk").as_deref(),
        Some("0000000000000000")
    );
    let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
    assert!(!environ
        .split(|b| *b == 0)
        .any(|v| v.starts_with(b"NOTIFY_SOCKET=")));
    let mut fds: Vec<i32> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    fds.sort();
    assert_eq!(fds.len(), 4, "fds {fds:?}");
    assert_eq!(&fds[..3], &[0, 1, 2]);
    let hold = std::fs::read_link(format!("/proc/{pid}/fd/{}", fds[3])).unwrap();
    assert!(hold.to_string_lossy().starts_with("pipe:"), "{hold:?}");
    assert!(fds[3] > 100, "hold pipe on a low fd {}", fds[3]);
    c.signal(libc::SIGTERM);
    assert_eq!(signal_of(c.wait_exit()), Some(libc::SIGTERM));
}

fn ctxt_switches(pid: i32) -> u64 {
    procs::status_field(pid, "voluntary_ctxt_switches")
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn a_quiet_daemon_costs_catchd_no_wakeups() {
    quiet_daemon_costs_no_wakeups(&["--cgroup", "off"]);
}

/// Also run with `--cgroup on` (tests/it/cgroup.rs).
pub fn quiet_daemon_costs_no_wakeups(extra: &[&str]) {
    let dir = TestDir::new("quiet");
    let f = forker();
    // The pidfile in a directory of its own: the report file's appends
    // must not count as events in the pidfile's directory.
    std::fs::create_dir(dir.file("run")).unwrap();
    let pidfile = dir.file("run/d.pid").display().to_string();
    let mut args = extra.to_vec();
    args.extend([
        "-v",
        "--pidfile",
        &pidfile,
        "--",
        &f,
        "--pidfile",
        &pidfile,
        "--workers",
        "2",
    ]);
    let mut c = Catchd::start(&dir, &args);
    c.wait_log("ready: main process PID");
    let report = dir.report();
    assert!(wait_until(LIMIT, || report
        .count(&["ready", "role=worker"])
        == 2));
    // catchd may still be on its way back into poll after its last line.
    assert!(wait_until(LIMIT, || procs::blocked_in_poll(c.pid)));
    let before = ctxt_switches(c.pid);
    std::thread::sleep(std::time::Duration::from_secs(3)); // the measured window, not a synchronisation
    let after = ctxt_switches(c.pid);
    assert_eq!(
        before,
        after,
        "catchd woke up {} times while idle; log:\n{}",
        after - before,
        c.log()
    );
    c.signal(libc::SIGTERM);
    assert_eq!(code(c.wait_exit()), Some(0), "{}", c.log());
}

#[test]
fn regression_refuses_to_start_over_a_previous_instance() {
    let dir = TestDir::new("previous");
    let f = forker();
    let pidfile = dir.file("d.pid");
    let report = dir.report();
    let mut previous = std::process::Command::new(&f)
        .args(["--fork", "none"])
        .env("CATCHD_TD_REPORT", &report.path)
        .spawn()
        .unwrap();
    let prev_pid = previous.id() as i32;
    report.wait_for(&["ready", &format!("pid={prev_pid}")]);
    std::fs::write(&pidfile, format!("{prev_pid}\n")).unwrap();
    let p = pidfile.display().to_string();
    let mut c = Catchd::start(&dir, &["--pidfile", &p, "--", &f, "--pidfile", &p]);
    c.guard_pid(prev_pid);
    let st = c.wait_exit();
    let log = c.log();
    assert_eq!(code(st), Some(125), "{log}");
    assert!(
        log.contains(&prev_pid.to_string()) && log.contains(&p),
        "{log}"
    );
    assert!(alive(prev_pid), "the previous instance must not be touched");
    assert_eq!(report.count(&["signal"]), 0, "{:?}", report.lines());
    let _ = previous.kill();
    let _ = previous.wait();
}

crate::both_modes!(
    double_forking_fd_closing_daemon_is_held_and_its_exit_code_mirrored,
    daemon_killed_by_sigkill_makes_catchd_die_by_sigkill,
    exit_128_reports_a_killed_daemon_as_137,
    a_program_that_never_forks_is_mirrored_like_tini,
    launcher_failing_without_children_gives_its_status,
    a_script_without_a_shebang_runs_with_sh,
);
