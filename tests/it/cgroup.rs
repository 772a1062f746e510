//! `--cgroup` (issue 14): the daemon in a cgroup v2 of its own, the end of
//! a fork storm in one write, recovery after a SIGKILLed catchd, and the
//! fallbacks. The run-mode tests also run with `--cgroup on` (see
//! `both_modes!`).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::*;

fn daemon_args<'a>(pidfile: &'a str, f: &'a str) -> Vec<&'a str> {
    vec![
        "--pidfile",
        pidfile,
        "--",
        f,
        "--pidfile",
        pidfile,
        "--setsid",
        "--workers",
        "2",
    ]
}

/// Start catchd with `pre` then a td-forker daemon with two workers; wait
/// until it is ready and return its processes.
fn start(dir: &TestDir, pre: &[&str]) -> (Catchd, Vec<(i32, u64)>) {
    let f = forker();
    let pidfile = dir.file("d.pid").display().to_string();
    let mut args = pre.to_vec();
    args.extend(daemon_args(&pidfile, &f));
    let c = Catchd::start(dir, &args);
    let report = dir.report();
    assert!(wait_until(LIMIT, || report
        .count(&["ready", "role=worker"])
        >= 2));
    c.wait_log("ready: main process PID");
    let procs = c.snapshot();
    assert!(procs.len() >= 3, "{procs:?}");
    (c, procs)
}

fn own_cgroup() -> String {
    cgroup::of(std::process::id() as i32).unwrap()
}

fn child_of_own(name: &str) -> String {
    format!("{}/catchd-{name}", own_cgroup().trim_end_matches('/'))
}

#[test]
fn cgroup_on_holds_the_daemon_in_a_child_cgroup_names_it_and_removes_it() {
    if !cgroup::allowed("--cgroup on") {
        return;
    }
    let dir = TestDir::new("cg-on");
    let name = format!("it-on-{}", std::process::id());
    let status = dir.file("status.json").display().to_string();
    let (mut c, procs) = start(
        &dir,
        &["--cgroup", "on", "--name", &name, "--status-file", &status],
    );
    let expected = child_of_own(&name);
    assert_eq!(
        cgroup::of(c.pid),
        Some(own_cgroup()),
        "catchd itself stays out"
    );
    for (pid, _) in &procs {
        assert_eq!(cgroup::of(*pid).as_ref(), Some(&expected), "PID {pid}");
    }
    let cg_dir = cgroup::dir(&expected);
    assert!(cg_dir.is_dir());
    let shown = cg_dir.display().to_string();
    assert!(
        wait_until(LIMIT, || std::fs::read_to_string(&status).is_ok_and(|s| {
            serde_json::from_str::<serde_json::Value>(&s)
                .is_ok_and(|doc| doc["cgroup"]["path"].as_str() == Some(shown.as_str()))
        })),
        "status file: {:?}",
        std::fs::read_to_string(&status)
    );
    c.signal(libc::SIGTERM);
    assert_eq!(code(c.wait_exit()), Some(0), "{}", c.log());
    assert!(!cg_dir.exists(), "{} is left behind", cg_dir.display());
}

#[test]
fn contain_and_cgroup_on_work_together() {
    if !namespaces_allowed("--contain --cgroup on") || !cgroup::allowed("--contain --cgroup on") {
        return;
    }
    let dir = TestDir::new("cg-contain");
    let name = format!("it-contain-{}", std::process::id());
    let (mut c, procs) = start(&dir, &["--contain", "--cgroup", "on", "--name", &name]);
    let expected = child_of_own(&name);
    // The namespace's init and every daemon process.
    for (pid, _) in &procs {
        assert_eq!(cgroup::of(*pid).as_ref(), Some(&expected), "PID {pid}");
    }
    assert_eq!(cgroup::of(c.pid), Some(own_cgroup()));
    c.signal(libc::SIGTERM);
    assert_eq!(code(c.wait_exit()), Some(0), "{}", c.log());
    assert!(!cgroup::dir(&expected).exists());
}

#[test]
fn idle_catchd_in_cgroup_mode_has_no_wakeups() {
    if !cgroup::allowed("--cgroup on") {
        return;
    }
    crate::run_basic::quiet_daemon_costs_no_wakeups(&["--cgroup", "on"]);
}

/// Its members, from the kernel in one read (a /proc scan misses chain
/// links that live a millisecond each).
fn members(cg_dir: &std::path::Path) -> usize {
    std::fs::read_to_string(cg_dir.join("cgroup.procs")).map_or(0, |s| s.lines().count())
}

#[test]
fn a_runaway_chain_daemon_is_gone_within_1_3s_of_term_ten_runs_in_a_row() {
    if !cgroup::allowed("--cgroup on") {
        return;
    }
    let runaway = td("td-runaway").display().to_string();
    let _turn = fork_heavy();
    for run in 0..10 {
        let dir = TestDir::new("runaway");
        let value = format!("{}", dir.path.display());
        let tag = format!("CATCHD_IT_RUNAWAY={value}");
        let mut c = Catchd::start_with(
            &dir,
            &[
                "--cgroup",
                "on",
                "--stop-timeout",
                "1s",
                "--",
                &runaway,
                "--lifetime",
                "30",
            ],
            |cmd| {
                cmd.env("CATCHD_IT_RUNAWAY", &value);
            },
        );
        dir.report().wait_for(&["ready", "role=main"]);
        let ready = c.wait_log("ready: main process PID");
        let main: i32 = ready
            .split("PID ")
            .nth(1)
            .and_then(|r| r.split(' ').next())
            .unwrap()
            .parse()
            .unwrap();
        let cg_dir = cgroup::dir(&cgroup::of(main).unwrap());
        assert_ne!(cgroup::of(main), cgroup::of(c.pid));
        // The main process, 200 workers, 20 chains.
        let up = members(&cg_dir);
        assert!(up >= 221, "run {run}: only {up} processes up");
        let t0 = Instant::now();
        c.signal(libc::SIGTERM);
        // The kernel refuses to remove a populated cgroup: its directory
        // gone means that nothing of the daemon is left.
        let gone = wait_until(Duration::from_millis(1300), || {
            !c.running() && !cg_dir.exists()
        });
        let took = t0.elapsed();
        // Whatever happened, nothing of this run may outlive the test.
        if cg_dir.exists() {
            let _ = std::fs::write(cg_dir.join("cgroup.kill"), "1");
        }
        let clean = wait_until(LIMIT, || {
            let left = procs::with_env(&tag);
            for &pid in &left {
                procs::kill(pid, libc::SIGKILL);
            }
            left.is_empty() && members(&cg_dir) == 0
        });
        let _ = std::fs::remove_dir(&cg_dir);
        assert!(clean, "run {run}: processes left after {LIMIT:?}");
        assert!(
            gone,
            "run {run}: took {took:?} (> 1.3 s); log:\n{}",
            c.log()
        );
        assert!(c.log().contains("SIGKILL"), "{}", c.log());
        eprintln!("run {run}: {up} processes, gone {took:?} after TERM");
    }
}

#[test]
fn leftovers_of_a_sigkilled_catchd_are_stopped_and_named_then_a_fresh_daemon_starts() {
    if !cgroup::allowed("--cgroup on") {
        return;
    }
    let dir = TestDir::new("cg-recover");
    let name = format!("it-recover-{}", std::process::id());
    let pre = ["--cgroup", "on", "--name", name.as_str()];
    let (mut first, old) = start(&dir, &pre);
    first.signal(libc::SIGKILL);
    first.wait_exit();
    let same = |&(pid, st): &(i32, u64)| procs::stat(pid).is_some_and(|s| s.2 == st && s.0 != 'Z');
    assert!(old.iter().all(same), "the daemon outlived catchd: {old:?}");
    let f = forker();
    let pidfile = dir.file("d.pid").display().to_string();
    let mut args = pre.to_vec();
    args.extend(daemon_args(&pidfile, &f));
    let mut second = Catchd::start(&dir, &args);
    for (pid, _) in &old {
        second.wait_log(&format!("holds PID {pid} ("));
    }
    assert!(
        wait_until(LIMIT, || !old.iter().any(same)),
        "{}",
        second.log()
    );
    let ready = second.wait_log("ready: main process PID");
    let log = second.log();
    assert!(!log.contains("previous instance"), "{log}");
    let main: i32 = ready
        .split("PID ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|p| p.parse().ok())
        .unwrap();
    assert!(!old.iter().any(|(pid, _)| *pid == main));
    assert_eq!(cgroup::of(main), Some(child_of_own(&name)));
    assert!(second.running());
    second.signal(libc::SIGTERM);
    assert_eq!(code(second.wait_exit()), Some(0), "{}", second.log());
}

/// catchd run by `wrapper` (a command line ending where catchd's begins)
/// with `-v --cgroup MODE -- sh -c 'print my cgroup'`; its exit code and log.
fn run_wrapped(dir: &TestDir, wrapper: &[&str], mode: &str) -> (Option<i32>, String) {
    let wrapper: Vec<String> = wrapper.iter().map(|s| s.to_string()).collect();
    let mode = mode.to_string();
    let mut c = Catchd::start_with(dir, &[], move |cmd| {
        *cmd = Command::new(&wrapper[0]);
        cmd.args(&wrapper[1..])
            .args([catchd_bin(), "-v", "--cgroup", &mode, "--"])
            .args(["sh", "-c", "grep ^0:: /proc/self/cgroup >&2"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
    });
    let st = c.wait_exit();
    (code(st), c.log())
}

/// `auto` runs the daemon in catchd's own cgroup and says why in one line
/// at -v; `on` exits 125 with one line.
fn check_fallback(wrapper: &[&str], why: &str) {
    check_fallback_in(wrapper, why, &own_cgroup());
}

/// The same, for a catchd that sees its own cgroup as `catchd_cgroup`.
fn check_fallback_in(wrapper: &[&str], why: &str, catchd_cgroup: &str) {
    let dir = TestDir::new("cg-fallback");
    let (st, log) = run_wrapped(&dir, wrapper, "auto");
    assert_eq!(st, Some(0), "{log}");
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("--cgroup auto"))
        .collect();
    assert_eq!(lines.len(), 1, "{log}");
    assert!(lines[0].contains(why), "{log}");
    assert!(
        log.lines().any(|l| l == format!("0::{catchd_cgroup}")),
        "the daemon is not in catchd's cgroup: {log}"
    );
    let (st, log) = run_wrapped(&dir, wrapper, "on");
    assert_eq!(st, Some(125), "{log}");
    assert_eq!(log.lines().count(), 1, "{log}");
    assert!(log.contains("--cgroup on") && log.contains(why), "{log}");
}

#[test]
fn read_only_cgroup_mount_falls_back_or_refuses() {
    if !cgroup::allowed("a read-only cgroup mount (needs root)") {
        return;
    }
    let mnt = cgroup::mount().unwrap().display().to_string();
    let remount = r#"mount -o remount,bind,ro "$0" && exec "$@""#;
    check_fallback(&["unshare", "-m", "sh", "-c", remount, &mnt], "read-only");
}

#[test]
fn unprivileged_user_falls_back_or_refuses() {
    if !cgroup::allowed("--cgroup as an unprivileged user (via setpriv, needs root)") {
        return;
    }
    let setpriv = [
        "setpriv",
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
    ];
    check_fallback(&setpriv, "no write access");
}

#[test]
fn a_cgroup_namespace_whose_root_the_mount_does_not_show_falls_back_or_refuses() {
    if !cgroup::allowed("a cgroup namespace (needs root)") {
        return;
    }
    // catchd in a cgroup namespace rooted at a cgroup of its own, with
    // the host's mount: /proc/self/cgroup says "/", the mount's root is
    // above the namespace's.
    let ns = private_cgroup("it-ns");
    let ns_root = &ns.0;
    let enter = r#"echo $$ > "$0/cgroup.procs" && exec unshare -C "$@""#;
    let root = ns_root.display().to_string();
    check_fallback_in(&["sh", "-c", enter, &root], "does not match", "/");
    assert!(wait_until(LIMIT, || std::fs::remove_dir(ns_root).is_ok()
        || !ns_root.exists()));
}

#[test]
fn empty_cgroups_left_beside_are_swept_once_the_daemon_is_ready() {
    if !cgroup::allowed("--cgroup on") {
        return;
    }
    // catchd in a parent cgroup of its own, with an empty, unlocked
    // catchd-* cgroup beside the daemon's: what a SIGKILLed catchd leaves.
    // (The guard is dropped after catchd, whose own drop stops it.)
    let guard = private_cgroup("it-sweep");
    let parent = guard.0.clone();
    let left = parent.join("catchd-left-by-a-sigkilled-catchd");
    std::fs::create_dir(&left).unwrap();
    let dir = TestDir::new("cg-sweep");
    let f = forker();
    let pidfile = dir.file("d.pid").display().to_string();
    let enter = r#"echo $$ > "$0/cgroup.procs" && exec "$@""#;
    let root = parent.display().to_string();
    let report = dir.report().path.clone();
    let mut c = Catchd::start_with(&dir, &[], |cmd| {
        *cmd = Command::new("sh");
        cmd.args(["-c", enter, &root, catchd_bin(), "-v", "--cgroup", "on"])
            .args(daemon_args(&pidfile, &f))
            .env("CATCHD_TD_REPORT", &report)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
    });
    c.wait_log("ready: main process PID");
    c.wait_log(&format!("removed the empty cgroup {}", left.display()));
    let log = c.log();
    let at = |what: &str| log.find(what).unwrap();
    assert!(
        at("ready: main process PID") < at("removed the empty cgroup"),
        "swept before the daemon was ready:\n{log}"
    );
    assert!(!left.exists());
    c.signal(libc::SIGTERM);
    assert_eq!(code(c.wait_exit()), Some(0), "{}", c.log());
    assert!(
        wait_until(LIMIT, || std::fs::remove_dir(&parent).is_ok()),
        "{} left behind",
        parent.display()
    );
}

/// A cgroup of the test's own below the harness's, made now and removed
/// (with the empty ones below it) when the guard drops, even after a
/// failed assertion. Not named catchd-*: another test's catchd sweeps
/// empty cgroups of that name (the leftovers of SIGKILLed catchds) from
/// its parent.
fn private_cgroup(prefix: &str) -> RemoveCgroup {
    let dir = cgroup::dir(&format!(
        "{}/{prefix}-{}",
        own_cgroup().trim_end_matches('/'),
        std::process::id()
    ));
    std::fs::create_dir(&dir).unwrap();
    RemoveCgroup(dir)
}

struct RemoveCgroup(std::path::PathBuf);

impl Drop for RemoveCgroup {
    fn drop(&mut self) {
        let d = &self.0;
        for sub in std::fs::read_dir(d).into_iter().flatten().flatten() {
            if sub.file_type().is_ok_and(|t| t.is_dir()) {
                let _ = std::fs::remove_dir(sub.path());
            }
        }
        wait_until(LIMIT, || std::fs::remove_dir(d).is_ok() || !d.exists());
    }
}

#[test]
fn a_second_catchd_for_the_same_name_is_refused_and_touches_nothing() {
    if !cgroup::allowed("--cgroup on") {
        return;
    }
    let dir = TestDir::new("cg-busy");
    let name = format!("it-busy-{}", std::process::id());
    let (mut first, procs) = start(&dir, &["--cgroup", "on", "--name", &name]);
    let mut second = Catchd::start(&dir, &["--cgroup", "auto", "--name", &name, "--", "true"]);
    let st = second.wait_exit();
    let log = second.log();
    assert_eq!(code(st), Some(125), "{log}");
    assert_eq!(log.lines().count(), 1, "{log}");
    assert!(
        log.contains("another running catchd") && log.contains(&format!("catchd-{name}")),
        "{log}"
    );
    let same = |&(pid, st): &(i32, u64)| procs::stat(pid).is_some_and(|s| s.2 == st && s.0 != 'Z');
    assert!(procs.iter().all(same));
    assert!(first.running());
    first.signal(libc::SIGTERM);
    assert_eq!(code(first.wait_exit()), Some(0), "{}", first.log());
}

#[test]
fn cgroup_off_never_touches_cgroups() {
    if cgroup::mount().is_none() {
        eprintln!("SKIPPED --cgroup off: no cgroup v2 here");
        return;
    }
    let dir = TestDir::new("cg-off");
    let (st, log) = run_wrapped(&dir, &["env"], "off");
    assert_eq!(st, Some(0), "{log}");
    assert!(
        !log.contains("--cgroup") && !log.contains("catchd-"),
        "{log}"
    );
    assert!(
        log.lines().any(|l| l == format!("0::{}", own_cgroup())),
        "{log}"
    );
}
