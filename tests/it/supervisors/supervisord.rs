//! supervisord (issue 4, acceptance 1): a private supervisord on its own
//! socket runs `examples/supervisord/legacyd.conf`, whose program is
//! `catchd -- <double-forking daemon with a worker>`.

use super::*;

/// The supervisord.conf around the example: everything private to `dir`.
fn supervisord_conf(dir: &Path, program: &Path) -> String {
    let d = dir.display();
    format!(
        "[unix_http_server]\n\
         file={d}/supervisor.sock\n\
         chmod=0700\n\
         [supervisord]\n\
         nodaemon=true\n\
         pidfile={d}/supervisord.pid\n\
         logfile={d}/supervisord.log\n\
         childlogdir={d}\n\
         identifier=catchd-it\n\
         [rpcinterface:supervisor]\n\
         supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\
         [supervisorctl]\n\
         serverurl=unix://{d}/supervisor.sock\n\
         [include]\n\
         files={}\n",
        program.display()
    )
}

/// A `key=value` of the example's program section.
fn setting<'a>(conf: &'a str, key: &str) -> &'a str {
    conf.lines()
        .find_map(|l| l.strip_prefix(key)?.trim_start().strip_prefix('='))
        .unwrap_or_else(|| panic!("the example has no {key}="))
        .trim()
}

/// Seconds in catchd's `--stop-timeout Ns` on `command`.
fn stop_timeout_secs(command: &str) -> u64 {
    let v = command
        .split_whitespace()
        .skip_while(|w| *w != "--stop-timeout")
        .nth(1)
        .expect("the example passes --stop-timeout");
    v.strip_suffix('s')
        .and_then(|n| n.parse().ok())
        .expect("a duration in whole seconds")
}

#[test]
fn supervisord_runs_stops_and_restarts_the_example_program() {
    let Some(bins) = require(
        "supervisord",
        &["supervisord", "supervisorctl"],
        "supervisor",
    ) else {
        return;
    };
    let mut g = Guard::new("supervisord");
    let example_text = read(&example("supervisord/legacyd.conf"));
    // The operator's note, checked: supervisord must wait for catchd.
    let stopwait: u64 = setting(&example_text, "stopwaitsecs")
        .parse()
        .expect("stopwaitsecs");
    assert!(stopwait > stop_timeout_secs(setting(&example_text, "command")));
    assert_eq!(setting(&example_text, "autorestart"), "true");

    let td = daemon("--fork double --setsid --close-all-fds --workers 1");
    let program = g.path("legacyd.conf");
    let text = instantiate(
        &example_text,
        &[(CATCHD, crate::support::catchd_bin()), (DAEMON, &td)],
    );
    std::fs::write(&program, text).expect("write program section");
    let conf = g.path("supervisord.conf");
    std::fs::write(&conf, supervisord_conf(&g.dir.path, &program)).expect("write conf");
    let root = g.spawn("supervisord", Command::new(&bins[0]).arg("-c").arg(&conf));
    let ctl = |args: &[&str]| run(Command::new(&bins[1]).arg("-c").arg(&conf).args(args)).1;
    let running = |not: i32| {
        poll(|| {
            let out = ctl(&["status", "legacyd"]);
            let pid = number_after(out.split_once("RUNNING")?.1, "pid")?;
            (pid != not && comm(pid) == "catchd").then_some(pid)
        })
    };
    let report = g.report();

    // 1. RUNNING, and supervisord's PID is catchd's, holding the daemon.
    let first = running(0).unwrap_or_else(|| panic!("never RUNNING\n{}", g.diag()));
    g.record(first);
    let main = nth_main(&report, 1);
    report.wait_for(&["ready", "role=worker"]);
    assert!(
        procs::descendants(first).contains(&main),
        "the daemon is not under catchd\n{}",
        g.diag()
    );
    assert!(g.exited(root).is_none(), "supervisord exited\n{}", g.diag());

    // 2. SIGKILL the daemon: supervisord sees the death (catchd mirrors it)
    // and restarts; nothing of the first run is left by then.
    let first_run = report.pids();
    procs::kill(main, libc::SIGKILL);
    let second = running(first).unwrap_or_else(|| panic!("never restarted\n{}", g.diag()));
    g.record(second);
    assert_eq!(
        survivors(&first_run),
        vec![],
        "first run left behind\n{}",
        g.diag()
    );
    assert!(!procs::alive(first));
    let log = read(&g.path("supervisord.log"));
    assert!(
        log.contains("exited: legacyd (terminated by SIGKILL"),
        "supervisord did not see the daemon's death as such\n{}",
        g.diag()
    );
    let main2 = nth_main(&report, 2);
    assert!(procs::descendants(second).contains(&main2), "{}", g.diag());

    // 3. `supervisorctl stop` returns once everything is gone.
    let out = ctl(&["stop", "legacyd"]);
    assert!(
        out.contains("legacyd: stopped"),
        "stop said {out:?}\n{}",
        g.diag()
    );
    assert_eq!(survivors(&report.pids()), vec![], "stop left\n{}", g.diag());
    assert!(!procs::alive(second));
    assert!(ctl(&["status", "legacyd"]).contains("STOPPED"));
    assert_eq!(
        report.count(&["signal", "15", "role=main"]),
        1,
        "{}",
        g.diag()
    );
}
