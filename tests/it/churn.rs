//! A daemon that forks faster than catchd looks, stopped without a cgroup
//! (SPEC §1.3): `td-runaway` (200 workers that ignore TERM, 20 chains whose
//! links ignore TERM, fork the next link and exit every millisecond;
//! bounded by RLIMIT_NPROC and a self-destruct timer) held through its
//! pidfile with `--cgroup off --stop-timeout 1s`. Only facts are asserted,
//! no timing (bench/ measures that): catchd becomes ready, the stop
//! completes, nothing of the daemon is left, and catchd ends as the main
//! process did, having said that it killed.

use crate::support::*;

#[test]
fn a_re_forking_daemon_is_stopped_without_a_cgroup_and_nothing_is_left() {
    let runaway = td("td-runaway").display().to_string();
    let _turn = fork_heavy();
    let dir = TestDir::new("churn");
    let tag_value = dir.path.display().to_string();
    let tag = format!("CATCHD_IT_CHURN={tag_value}");
    let pidfile = dir.file("churn.pid").display().to_string();
    let status = dir.file("status.json");
    let status_arg = status.display().to_string();
    #[rustfmt::skip]
    let args = [
        "--cgroup", "off", "--pidfile", &pidfile, "--stop-timeout", "1s",
        "--status-file", &status_arg, "--",
        &runaway, "--lifetime", "60", "--pidfile", &pidfile,
    ];
    let mut c = Catchd::start_with(&dir, &args, |cmd| {
        cmd.env("CATCHD_IT_CHURN", &tag_value);
    });
    let main = field(&dir.report().wait_for(&["ready", "role=main"]), "pid").unwrap();
    c.wait_log(&format!("ready: main process PID {main} ("));
    let doc = || -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(&status).unwrap()).unwrap()
    };
    // The document is written at the end of the turn that logged "ready".
    assert!(
        wait_until(LIMIT, || doc()["state"] == "running"),
        "{}",
        doc()
    );
    assert_eq!(doc()["main"]["pid"].as_i64(), Some(i64::from(main)));

    c.signal(libc::SIGTERM);
    let st = c.wait_exit();
    let log = c.log();
    // Whatever happened, nothing of this run may outlive the test.
    let left = procs::with_env(&tag);
    for &pid in &left {
        procs::kill(pid, libc::SIGKILL);
    }
    assert!(left.is_empty(), "left behind: {left:?}; log:\n{log}");
    // The main process died by the forwarded TERM; the rest ignored it.
    assert_eq!(signal_of(st), Some(libc::SIGTERM), "{st:?}; log:\n{log}");
    assert!(
        log.contains("stop timeout passed: sending SIGKILL"),
        "{log}"
    );
    assert!(
        log.contains("ending by SIGTERM, as the main process did"),
        "{log}"
    );
    assert!(!status.exists(), "the status file outlived catchd");
}
