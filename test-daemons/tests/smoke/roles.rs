//! Smoke tests of what td-forker's processes do once running: signal
//! recording, --ignore, workers, handover, exit-after/die-by, orphans, the
//! fork storm and --close-all-fds.
//!
//! Owns: those cases. Must not: sleep to synchronise or fork (see
//! `support`).

use crate::support::{ignores, signal, stat, Ev, Td, FORKER};
use std::fs;

const HUP: i32 = libc::SIGHUP;
const TERM: i32 = libc::SIGTERM;

#[test]
fn signals_are_recorded_in_order_then_term_exits() {
    let mut td = Td::new("signals");
    td.run(&[]);
    let main = td.first("ready", "main", |_| true).pid();
    let sent = [
        HUP,
        libc::SIGUSR1,
        libc::SIGWINCH,
        libc::SIGUSR2,
        libc::SIGCHLD,
    ];
    for (i, &s) in sent.iter().enumerate() {
        signal(main, s);
        td.at_least(i + 1, "signal", "main");
    }
    signal(main, TERM);
    td.first("exit", "main", |e| e.pid() == main && e.get("code") == "0");
    let got: Vec<i32> = td
        .events()
        .iter()
        .filter(|e| e.kind == "signal")
        .filter_map(|e| e.num)
        .collect();
    assert_eq!(got, [&sent[..], &[TERM]].concat());
    td.first("reaped", "", |e| e.pid() == main && e.get("code") == "0");
}

#[test]
fn inherited_sig_ign_is_kept_but_rusts_own_sigpipe_ignore_is_undone() {
    let pipe = libc::SIGPIPE;
    let mut td = Td::new("sigpipe");
    td.run(&["--fork", "none"]);
    let main = td.first("ready", "main", |_| true).pid();
    assert!(
        !ignores(main, pipe),
        "Rust's runtime SIG_IGN for SIGPIPE is undone"
    );
    signal(main, pipe);
    td.first("signal", "main", |e| e.num == Some(pipe));

    let mut td = Td::new("sigpipe-inherited");
    let wrapper = r#"trap "" PIPE; exec "$0" "$@""#;
    td.run_cmd(&["/bin/sh", "-c", wrapper, FORKER, "--fork", "none"]);
    let main = td.first("ready", "main", |_| true).pid();
    assert!(ignores(main, pipe), "an inherited SIG_IGN is kept");
    signal(main, pipe);
    signal(main, libc::SIGUSR1);
    td.first("signal", "main", |e| e.num == Some(libc::SIGUSR1));
    assert!(!td.events().iter().any(|e| e.num == Some(pipe)));
}

#[test]
fn int_and_quit_also_end_the_main() {
    for (name, sig) in [("int", libc::SIGINT), ("quit", libc::SIGQUIT)] {
        let mut td = Td::new(name);
        td.run(&["--fork", "single"]);
        let main = td.first("ready", "main", |_| true).pid();
        signal(main, sig);
        td.first("signal", "main", |e| e.num == Some(sig));
        td.first("reaped", "", |e| e.pid() == main && e.get("code") == "0");
    }
}

#[test]
fn ignored_signals_are_sig_ign_and_not_recorded() {
    let mut td = Td::new("ignore");
    td.run(&["--ignore", "HUP", "--ignore", "USR2", "--workers", "1"]);
    let main = td.first("ready", "main", |_| true).pid();
    let worker = td.first("ready", "worker", |_| true).pid();
    for pid in [main, worker] {
        assert!(ignores(pid, HUP) && ignores(pid, libc::SIGUSR2) && !ignores(pid, TERM));
        signal(pid, HUP);
        signal(pid, libc::SIGUSR1);
        td.first("signal", "", |e| {
            e.pid() == pid && e.num == Some(libc::SIGUSR1)
        });
    }
    // HUP (1) was sent first and would have been recorded before USR1 (10).
    assert!(!td
        .events()
        .iter()
        .any(|e| e.kind == "signal" && e.num == Some(HUP)));
}

#[test]
fn workers_record_signals_exit_on_term_and_are_reaped() {
    let mut td = Td::new("workers");
    td.run(&["--workers", "3", "--worker-setsid"]);
    let main = td.first("ready", "main", |_| true).pid();
    let workers = td.at_least(3, "ready", "worker");
    for w in &workers {
        assert_eq!(w.int("ppid"), main);
        assert_eq!(stat(w.pid()).unwrap().sid, w.pid(), "--worker-setsid");
    }
    let w = workers[0].pid();
    signal(w, HUP);
    td.first("signal", "worker", |e| e.pid() == w && e.num == Some(HUP));
    signal(w, TERM);
    td.first("exit", "worker", |e| e.pid() == w && e.get("code") == "0");
    td.wait("the main to reap its worker", |_| {
        stat(w).is_none().then_some(())
    });
    assert!(
        stat(main).is_some_and(|s| s.state != 'Z'),
        "the main lives on"
    );
}

#[test]
fn worker_exit_after() {
    let mut td = Td::new("worker-exit");
    td.run(&["--workers", "2", "--worker-exit-after", "100ms"]);
    let main = td.first("ready", "main", |_| true).pid();
    td.at_least(2, "exit", "worker");
    assert!(stat(main).is_some_and(|s| s.state != 'Z'));
}

#[test]
fn handover_moves_the_pidfile_to_a_successor() {
    let mut td = Td::new("handover");
    let pidfile = td.path("pid");
    td.run(&["--pidfile", &pidfile, "--handover-on", "USR2"]);
    let main = td.first("ready", "main", |_| true).pid();
    td.first("pidfile", "", |_| true);
    let mut old = main;
    for round in 1..=2 {
        signal(old, libc::SIGUSR2);
        let succ = td.at_least(round, "ready", "successor")[round - 1].clone();
        assert_eq!(succ.int("ppid"), old);
        let written = td.first("pidfile", "", |e| e.pid() == succ.pid());
        assert_eq!(written.get("content"), format!("{}\\n", succ.pid()));
        assert_eq!(
            fs::read_to_string(&pidfile).unwrap(),
            format!("{}\n", succ.pid())
        );
        td.first("exit", "", |e| e.pid() == old && e.get("code") == "0");
        td.first("reaped", "", |e| e.pid() == old && e.get("code") == "0");
        assert!(
            td.index(|e| e.is("ready", "successor") && e.pid() == succ.pid())
                < td.index(|e| e.is("exit", "") && e.pid() == old)
        );
        old = succ.pid();
    }
    signal(old, TERM);
    td.first("exit", "successor", |e| {
        e.pid() == old && e.get("code") == "0"
    });
}

#[test]
fn exit_after_with_code() {
    let mut td = Td::new("exit-after");
    td.run(&["--exit-after", "100ms", "--exit-code", "7"]);
    let main = td.first("ready", "main", |_| true).pid();
    td.first("exit", "main", |e| e.pid() == main && e.get("code") == "7");
    td.first("reaped", "", |e| e.pid() == main && e.get("code") == "7");
    td.wait_reaper_exit();
}

#[test]
fn die_by_signal() {
    for (name, sig) in [("die-term", "TERM"), ("die-quit", "QUIT")] {
        let mut td = Td::new(name);
        td.run(&["--fork", "single", "--exit-after", "50ms", "--die-by", sig]);
        let main = td.first("ready", "main", |_| true).pid();
        let reaped = td.first("reaped", "", |e| e.pid() == main);
        let want = if sig == "TERM" { TERM } else { libc::SIGQUIT };
        assert_eq!(reaped.int("signal"), want, "{reaped:?}");
        assert!(
            !td.events().iter().any(|e| e.is("exit", "main")),
            "dying is not a voluntary exit"
        );
    }
}

#[test]
fn orphans_are_reparented_and_exit_by_themselves() {
    let mut td = Td::new("orphans");
    td.run(&["--orphans", "3"]);
    let main = td.first("ready", "main", |_| true).pid();
    let done = td.first("orphans-done", "", |_| true);
    assert_eq!((done.pid(), done.get("count")), (main, "3"));
    let orphans = td.at_least(3, "ready", "orphan");
    for o in &orphans {
        td.first("exit", "orphan", |e| e.pid() == o.pid());
        td.first("reaped", "", |e| e.pid() == o.pid() && e.get("code") == "0");
    }
    assert_eq!(
        td.events()
            .iter()
            .filter(|e| e.is("exit", "orphan-parent"))
            .count(),
        3
    );
}

#[test]
fn orphans_on_a_signal_come_in_rounds_and_none_at_start() {
    let mut td = Td::new("orphans-on");
    td.run(&["--orphans", "2", "--orphans-on", "HUP"]);
    let main = td.first("ready", "main", |_| true).pid();
    for round in 1..=2 {
        signal(main, libc::SIGHUP);
        td.at_least(round, "orphans-done", "");
        td.at_least(2 * round, "ready", "orphan");
    }
    assert_eq!(
        td.events()
            .iter()
            .filter(|e| e.is("ready", "orphan"))
            .count(),
        4,
        "no round at start, one per HUP"
    );
    signal(main, TERM);
    td.wait_reaper_exit();
}

#[test]
fn fork_storm_keeps_forking_and_storm_children_replace_themselves_on_term() {
    let mut td = Td::new("storm");
    td.run(&["--fork-storm"]);
    let main = td.first("ready", "main", |_| true).pid();
    let storm: Vec<Ev> = td.at_least(20, "ready", "storm");
    assert!(ignores(main, TERM), "the storm main ignores TERM");
    signal(main, TERM);
    let s = storm[0].pid();
    assert!(!ignores(s, TERM));
    signal(s, TERM);
    td.first("signal", "storm", |e| e.pid() == s && e.num == Some(TERM));
    td.first("ready", "storm", |e| e.int("ppid") == s);
    td.first("exit", "storm", |e| e.pid() == s && e.get("code") == "0");
    td.at_least(40, "ready", "storm");
    assert!(!td
        .events()
        .iter()
        .any(|e| e.pid() == main && (e.kind == "signal" || e.kind == "exit")));
}

/// Descriptor number → target, from /proc/PID/fd.
fn fds(pid: i32) -> Vec<(i32, String)> {
    let mut fds: Vec<(i32, String)> = fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("read /proc/PID/fd")
        .flatten()
        .filter_map(|e| {
            let target = fs::read_link(e.path()).ok()?;
            Some((
                e.file_name().to_str()?.parse().ok()?,
                target.to_string_lossy().into_owned(),
            ))
        })
        .collect();
    fds.sort();
    fds
}

#[test]
fn close_all_fds_leaves_only_dev_null_stdio_and_still_reports() {
    for close in [false, true] {
        let mut td = Td::new(&format!("close-fds-{close}"));
        let pidfile = td.path("pid");
        let mut args = vec!["--pidfile", &pidfile, "--pidfile-when", "late"];
        if close {
            args.push("--close-all-fds");
        }
        td.run(&args);
        let main = td.first("ready", "main", |_| true).pid();
        let main_fds = fds(main);
        // Whatever the test process passed down (descriptors without
        // close-on-exec, e.g. a jobserver) reaches td-reaper, and the main
        // keeps it unless it closes everything.
        let inherited: Vec<(i32, String)> = fds(td.reaper_pid())
            .into_iter()
            .filter(|f| f.0 > 2)
            .collect();
        if close {
            let want: Vec<(i32, String)> = (0..3).map(|fd| (fd, "/dev/null".to_string())).collect();
            assert_eq!(main_fds, want, "inherited by the reaper: {inherited:?}");
        } else {
            assert!(main_fds[2].1.ends_with("/stderr"), "{main_fds:?}");
            assert!(
                inherited.iter().all(|f| main_fds.contains(f)),
                "{main_fds:?} vs {inherited:?}"
            );
            assert_eq!(
                main_fds.len(),
                3 + inherited.len(),
                "no descriptor of td-forker's own leaks: {main_fds:?}"
            );
        }
        signal(main, HUP);
        td.first("signal", "main", |e| e.num == Some(HUP));
    }
}
