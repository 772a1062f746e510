//! The container recipe: `examples/container/Dockerfile`'s ENTRYPOINT and
//! CMD, run the way a container runtime runs them (an argv, no shell), and
//! stopped the way `docker stop` stops them (TERM, SIGKILL 10 s later).
//! Where `unshare` may create a PID namespace, catchd is also run as its
//! PID 1, as in a container.

use super::*;
use std::time::Instant;

/// `docker stop`'s default grace before SIGKILL.
const DOCKER_GRACE: Duration = Duration::from_secs(10);

/// ENTRYPOINT + CMD of the example (JSON arrays), instantiated.
fn argv(pidfile: &Path, report: &Path, daemon_args: &str) -> Vec<String> {
    let text = read(&example("container/Dockerfile"));
    let array = |key: &str| -> Vec<String> {
        let line = text
            .lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix(' '))
            .unwrap_or_else(|| panic!("the Dockerfile has no {key} line"));
        serde_json::from_str(line).unwrap_or_else(|e| panic!("{key} is not a JSON array: {e}"))
    };
    assert!(text.lines().any(|l| l == "STOPSIGNAL SIGTERM"));
    let mut out = Vec::new();
    for word in array("ENTRYPOINT").into_iter().chain(array("CMD")) {
        match word.as_str() {
            CATCHD => out.push(crate::support::catchd_bin().to_string()),
            PIDFILE => out.push(pidfile.display().to_string()),
            DAEMON => {
                // `env` execs: the report path reaches the daemon through
                // the namespace boundary without changing who is PID 1.
                out.extend([
                    "env".to_string(),
                    format!("CATCHD_TD_REPORT={}", report.display()),
                ]);
                out.extend(daemon(daemon_args).split_whitespace().map(String::from));
            }
            _ => out.push(word),
        }
    }
    let timeout = out.iter().skip_while(|w| *w != "--stop-timeout").nth(1);
    let secs: u64 = timeout
        .and_then(|t| t.strip_suffix('s')?.parse().ok())
        .expect("the ENTRYPOINT passes --stop-timeout in whole seconds");
    assert!(
        Duration::from_secs(secs) < DOCKER_GRACE,
        "--stop-timeout ≥ docker's 10 s"
    );
    out
}

fn daemon_args(pidfile: &Path) -> String {
    format!(
        "--fork double --setsid --close-all-fds --pidfile {} --workers 1 --orphans 2",
        pidfile.display()
    )
}

/// The launcher writes the PID file after its main process is up: wait.
fn pidfile_names(g: &Guard, pidfile: &Path, main: i32) {
    let ok = procs::wait_until(SLOW, || pidfile_pid(pidfile) == Some(main));
    assert!(ok, "the PID file never named {main}\n{}", g.diag());
}

/// No zombie left under `catchd` once every orphan reported its exit.
fn orphans_reaped(g: &Guard, report: &Report, catchd: i32) {
    let exits = procs::wait_until(SLOW, || report.count(&["exit", "role=orphan"]) == 2);
    assert!(exits, "the orphans never exited\n{}", g.diag());
    let reaped = procs::wait_until(SLOW, || {
        !procs::descendants(catchd).into_iter().any(procs::is_zombie)
    });
    assert!(reaped, "zombies left under catchd\n{}", g.diag());
}

/// `docker stop`: TERM to the main process, then wait (at most the grace)
/// for the container to end.
fn docker_stop(g: &mut Guard, root: usize, catchd: i32) -> std::process::ExitStatus {
    let t0 = Instant::now();
    procs::kill(catchd, libc::SIGTERM);
    let mut status = None;
    let done = procs::wait_until(DOCKER_GRACE, || {
        status = g.exited(root);
        status.is_some()
    });
    assert!(
        done,
        "still running {:?} after TERM\n{}",
        t0.elapsed(),
        g.diag()
    );
    status.unwrap()
}

#[test]
fn the_container_entrypoint_holds_the_daemon_reaps_orphans_and_stops_on_term() {
    let mut g = Guard::new("container");
    let (pidfile, report) = (g.path("legacyd.pid"), g.report());
    let cmd = argv(&pidfile, &report.path, &daemon_args(&pidfile));
    let root = g.spawn("entrypoint", Command::new(&cmd[0]).args(&cmd[1..]));
    let catchd = g.pid_of(root);
    let main = nth_main(&report, 1);
    pidfile_names(&g, &pidfile, main);
    assert!(procs::descendants(catchd).contains(&main), "{}", g.diag());
    orphans_reaped(&g, &report, catchd);
    let st = docker_stop(&mut g, root, catchd);
    assert_eq!(
        st.code(),
        Some(0),
        "the daemon exits 0 on TERM\n{}",
        g.diag()
    );
    assert_eq!(survivors(&report.pids()), vec![], "{}", g.diag());
}

/// Whether this machine lets us create a PID namespace (root, or an
/// unprivileged user namespace; container CI often forbids both).
fn unshare_works(unshare: &Path) -> bool {
    let (code, _) = run(Command::new(unshare).args(["--pid", "--fork", "--mount-proc", "true"]));
    code == Some(0)
}

/// The example's ENTRYPOINT + CMD as PID 1 of a new PID namespace, with
/// `daemon_args` for the daemon: (root index, catchd's host PID, the
/// daemon's report). `None` where PID namespaces are not permitted.
fn start_as_pid1(g: &mut Guard, daemon_args: &str) -> Option<(usize, i32, Report)> {
    let bins = require("container as PID 1", &["unshare"], "util-linux")?;
    if !unshare_works(&bins[0]) {
        eprintln!("skipping container as PID 1: unshare --pid --mount-proc is not permitted here");
        return None;
    }
    // PIDs inside the namespace mean nothing outside: the daemon reports
    // to a file the guard does not read, and the test finds catchd by its
    // host PID (unshare's only child).
    let report = Report {
        path: g.path("ns-report"),
    };
    let cmd = argv(&g.path("legacyd.pid"), &report.path, daemon_args);
    let root = g.spawn(
        "unshare",
        Command::new(&bins[0])
            .args(["--pid", "--fork", "--kill-child", "--mount-proc", "--"])
            .args(&cmd),
    );
    let unshare_pid = g.pid_of(root);
    let catchd = poll(|| {
        let kids = procs::children_of(unshare_pid);
        kids.into_iter().find(|&p| comm(p) == "catchd")
    })
    .unwrap_or_else(|| panic!("catchd never started\n{}", g.diag()));
    g.record(catchd);
    let nspid = procs::status_field(catchd, "NSpid").unwrap_or_default();
    assert!(
        nspid.ends_with("\t1"),
        "catchd is not PID 1 of its namespace: {nspid}"
    );
    Some((root, catchd, report))
}

#[test]
fn the_container_entrypoint_works_as_pid_1_of_a_pid_namespace() {
    let mut g = Guard::new("container-pid1");
    let pidfile = g.path("legacyd.pid");
    let Some((root, catchd, report)) = start_as_pid1(&mut g, &daemon_args(&pidfile)) else {
        return;
    };
    let main = nth_main(&report, 1); // a namespace PID
    pidfile_names(&g, &pidfile, main);
    orphans_reaped(&g, &report, catchd);
    // TERM from outside reaches a PID 1 only through a handler or a
    // blocked-and-read signal: catchd must still see it and stop.
    let st = docker_stop(&mut g, root, catchd);
    assert_eq!(st.code(), Some(0), "{}", g.diag());
    let count = |words: &[&str]| report.count(words);
    assert_eq!(count(&["signal", "15", "role=main"]), 1, "{}", g.diag());
    assert_eq!(count(&["exit", "role=main", "code=0"]), 1, "{}", g.diag());
}

#[test]
fn as_pid_1_a_daemon_killed_by_a_signal_gives_the_container_128_plus_n() {
    // PID 1 cannot kill itself with a signal: catchd's fallback is
    // 128 + N, which is what a runtime reports for a death by signal N.
    let mut g = Guard::new("container-pid1-sig");
    let args = format!(
        "--fork double --setsid --pidfile {} --exit-after 300ms --die-by TERM",
        g.path("legacyd.pid").display()
    );
    let Some((root, _, _)) = start_as_pid1(&mut g, &args) else {
        return;
    };
    let mut status = None;
    let done = procs::wait_until(SLOW, || {
        status = g.exited(root);
        status.is_some()
    });
    assert!(done, "catchd never ended\n{}", g.diag());
    // unshare exits with catchd's code (it would die by the signal had
    // catchd died by it).
    assert_eq!(
        status.unwrap().code(),
        Some(128 + libc::SIGTERM),
        "{}",
        g.diag()
    );
}
