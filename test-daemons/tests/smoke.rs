//! Smoke tests of the fake daemons themselves (no catchd): every major
//! td-forker knob, observed only through the report file and /proc.
//!
//! Owns: the promise that td-forker behaves as its flags say, so catchd's
//! integration tests can trust it.
//! Must not: sleep to synchronise (support::Td::wait polls with a 5 s
//! deadline), fork, or leave a process behind (support::Td's Drop guard).

mod support;

#[path = "smoke/roles.rs"]
mod roles;

use std::fs;
use std::process::Command;
use support::{signal, stat, Td, FORKER};

const TERM: i32 = libc::SIGTERM;

#[test]
fn self_test_passes() {
    let out = Command::new(FORKER)
        .arg("--self-test")
        .output()
        .expect("run td-forker");
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "td-forker: self-test ok\n"
    );
}

#[test]
fn bad_flags_exit_2_with_one_line_and_do_nothing() {
    let td = Td::new("bad-flags");
    let cases: &[&[&str]] = &[
        &["--bogus"],
        &["--workers"],
        &["--exit-after", "5x"],
        &["--ignore", "NOPE"],
        &["--fork", "triple"],
        &["stray"],
        &["--die-by", "TERM"],
    ];
    for args in cases {
        let out = Command::new(FORKER)
            .args(*args)
            .env("CATCHD_TD_REPORT", &td.report)
            .output()
            .expect("run");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.starts_with("td-forker: ") && err.lines().count() == 1,
            "{args:?}: {err}"
        );
        assert!(out.stdout.is_empty(), "{args:?}");
    }
    assert!(
        td.events().is_empty(),
        "a refused command line must not report"
    );
}

#[test]
fn fork_none_is_its_own_main_and_writes_its_pidfile() {
    let mut td = Td::new("fork-none");
    let pidfile = td.path("pid");
    td.run(&["--fork", "none", "--pidfile", &pidfile]);
    let start = td.first("start", "launcher", |_| true);
    let ready = td.first("ready", "main", |_| true);
    assert_eq!(start.pid(), ready.pid());
    let written = td.first("pidfile", "", |_| true);
    assert_eq!(written.pid(), ready.pid());
    assert_eq!(written.get("content"), format!("{}\\n", ready.pid()));
    assert_eq!(
        fs::read_to_string(&pidfile).unwrap(),
        format!("{}\n", ready.pid())
    );
    signal(ready.pid(), TERM);
    td.first("exit", "main", |e| e.int("code") == 0);
    td.first("reaped", "", |e| {
        e.pid() == ready.pid() && e.get("code") == "0"
    });
}

#[test]
fn fork_none_launcher_exit_leaves_nothing() {
    let mut td = Td::new("fork-none-exit");
    td.run(&["--fork", "none", "--launcher-exit", "3"]);
    let exit = td.first("exit", "launcher", |_| true);
    assert_eq!(exit.get("code"), "3");
    td.first("reaped", "", |e| {
        e.pid() == exit.pid() && e.get("code") == "3"
    });
    td.wait_reaper_exit();
    assert!(!td.events().iter().any(|e| e.kind == "ready"));
}

#[test]
fn fork_single_early_pidfile_written_by_launcher_before_it_exits() {
    let mut td = Td::new("single-early");
    let pidfile = td.path("pid");
    td.run(&["--fork", "single", "--setsid", "--pidfile", &pidfile]);
    let main = td.first("ready", "main", |_| true);
    let launcher = td.first("exit", "launcher", |_| true);
    let written = td.first("pidfile", "", |_| true);
    assert_eq!(written.pid(), launcher.pid());
    assert_eq!(
        fs::read_to_string(&pidfile).unwrap(),
        format!("{}\n", main.pid())
    );
    assert!(td.index(|e| e.is("pidfile", "")) < td.index(|e| e.is("exit", "launcher")));
    assert!(!td.dir.join("pid.tmp").exists());
    assert_eq!(
        stat(main.pid()).unwrap().sid,
        main.pid(),
        "--setsid: the main leads its session"
    );
    td.first("reaped", "", |e| {
        e.pid() == launcher.pid() && e.get("code") == "0"
    });
}

#[test]
fn fork_double_main_is_reparented_before_launcher_exits() {
    let mut td = Td::new("double-early");
    let pidfile = td.path("pid");
    td.run(&["--setsid", "--pidfile", &pidfile, "--launcher-exit", "4"]);
    let a = td.first("ready", "intermediate", |_| true);
    td.first("exit", "intermediate", |e| e.pid() == a.pid());
    let launcher = td.first("exit", "launcher", |_| true);
    assert_eq!(launcher.get("code"), "4");
    let main = td.first("ready", "main", |_| true);
    // The launcher reported its exit after reaping A: main is re-parented.
    let st = stat(main.pid()).expect("main alive");
    assert_eq!(
        st.ppid,
        td.reaper_pid(),
        "main re-parented to the subreaper"
    );
    assert_eq!(st.sid, a.pid(), "A called setsid; main is in A's session");
    assert_eq!(
        fs::read_to_string(&pidfile).unwrap(),
        format!("{}\n", main.pid())
    );
    assert!(td.index(|e| e.is("pidfile", "")) < td.index(|e| e.is("exit", "launcher")));
    td.first("reaped", "", |e| {
        e.pid() == launcher.pid() && e.get("code") == "4"
    });
}

fn late_pidfile(mode: &str) {
    let mut td = Td::new(&format!("late-{mode}"));
    let pidfile = td.path("pid");
    let args = [
        "--fork",
        mode,
        "--pidfile",
        &pidfile,
        "--pidfile-when",
        "late",
        "--pidfile-delay",
        "50ms",
    ];
    td.run(&[&args[..], &["--launcher-sleep", "20ms"]].concat());
    let main = td.first("ready", "main", |_| true);
    let written = td.first("pidfile", "", |_| true);
    assert_eq!(written.pid(), main.pid(), "the main writes a late pidfile");
    assert_eq!(
        fs::read_to_string(&pidfile).unwrap(),
        format!("{}\n", main.pid())
    );
    let launcher_exit = td.index(|e| e.is("exit", "launcher"));
    assert!(
        launcher_exit < td.index(|e| e.is("pidfile", "")),
        "written after the launcher exited"
    );
    assert!(td.index(|e| e.is("pidfile", "")) < td.index(|e| e.is("ready", "main")));
}

#[test]
fn fork_single_late_pidfile_written_by_main_after_launcher_exit() {
    late_pidfile("single");
}

#[test]
fn fork_double_late_pidfile_written_by_main_after_launcher_exit() {
    late_pidfile("double");
}

#[test]
fn pidfile_content_is_literal() {
    let mut td = Td::new("content");
    let pidfile = td.path("pid");
    td.run(&["--pidfile", &pidfile, "--pidfile-content", "not a pid"]);
    let written = td.first("pidfile", "", |_| true);
    assert_eq!(written.get("content"), "not\\x20a\\x20pid");
    assert_eq!(fs::read_to_string(&pidfile).unwrap(), "not a pid");
}
