//! A process whose first thread called `pthread_exit` while its other
//! threads run shows `State: Z`, yet is alive (SPEC §1.3, §2): catchd
//! signals and kills it, and audit mode calls its pidfile `ok`.

use std::process::{Command, Stdio};

use crate::support::*;

/// Wait until `pid`'s first thread has exited while the process lives on.
fn wait_zombie_leader(pid: i32) {
    let ok = wait_until(LIMIT, || {
        procs::status_field(pid, "State").is_some_and(|s| s.starts_with('Z'))
            && std::fs::read_dir(format!("/proc/{pid}/task")).map_or(0, |d| d.count()) >= 2
    });
    assert!(ok, "PID {pid} never showed a zombie first thread");
}

/// The thread IDs of `pid` other than its first.
fn other_threads(pid: i32) -> Vec<i32> {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|&t| t != pid)
        .collect()
}

fn zombie_leader_is_stopped_and_killed() {
    let dir = TestDir::new("zleader");
    let f = forker();
    let mut c = Catchd::start(
        &dir,
        &[
            "--stop-timeout",
            "500ms",
            "--",
            &f,
            "--fork",
            "double",
            "--zombie-leader",
            "--ignore",
            "TERM",
        ],
    );
    let reported = field(&dir.report().wait_for(&["ready", "role=main"]), "pid").unwrap();
    c.wait_log("ready: main process");
    let main = c.host(reported);
    wait_zombie_leader(main);
    c.signal(libc::SIGTERM);
    c.wait_log("stop timeout passed: sending SIGKILL to PID(s) ");
    let st = c.wait_exit();
    let log = c.log();
    assert_eq!(signal_of(st), Some(libc::SIGKILL), "{log}");
    assert!(
        !std::path::Path::new(&format!("/proc/{main}")).exists(),
        "the daemon outlived catchd:\n{log}"
    );
    assert!(
        !log.contains("sending SIGKILL to PID(s) \n") && !log.ends_with("PID(s) "),
        "{log}"
    );
}

crate::both_modes!(zombie_leader_is_stopped_and_killed);

#[test]
fn audit_calls_a_zombie_leaders_pidfile_ok_and_a_thread_id_invalid() {
    let dir = TestDir::new("zaudit");
    let pf = dir.file("z.pid");
    let mut daemon = Command::new(forker())
        .args(["--fork", "none", "--zombie-leader", "--pidfile"])
        .arg(&pf)
        .env("CATCHD_TD_REPORT", dir.report().path)
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let pid = daemon.id() as i32;
    dir.report().wait_for(&["ready", "role=main"]);
    wait_zombie_leader(pid);
    let audit = |file: &std::path::Path| {
        Command::new(catchd_bin())
            .args(["--pidfile-check", "--json"])
            .arg(file)
            .output()
            .unwrap()
    };
    let out = audit(&pf);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let kill = |d: &mut std::process::Child| {
        let _ = d.kill();
        let _ = d.wait();
    };
    if out.status.code() != Some(0) || !text.contains("\"ok\"") {
        kill(&mut daemon);
        panic!("not ok: {text}\n{}", String::from_utf8_lossy(&out.stderr));
    }
    let tid = other_threads(pid)[0];
    let tf = dir.file("thread.pid");
    std::fs::write(&tf, format!("{tid}\n")).unwrap();
    let out = audit(&tf);
    kill(&mut daemon);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("\"invalid\""), "{text}");
    assert!(
        text.contains(&format!("names thread {tid} of process {pid}")),
        "{text}"
    );
}

/// Run mode: a thread ID in the pidfile is refused as a thread, naming
/// the file, the thread and its process.
#[test]
fn run_mode_refuses_a_thread_id_as_such() {
    let dir = TestDir::new("zthread");
    let pf = dir.file("d.pid");
    let pfs = pf.display().to_string();
    let f = forker();
    let mut c = Catchd::start(
        &dir,
        &[
            "--pidfile",
            &pfs,
            "--start-timeout",
            "60s",
            "--",
            &f,
            "--fork",
            "double",
            "--zombie-leader",
        ],
    );
    let main = field(&dir.report().wait_for(&["ready", "role=main"]), "pid").unwrap();
    wait_zombie_leader(main);
    let tid = other_threads(main)[0];
    let tmp = dir.file("d.pid.tmp");
    std::fs::write(&tmp, format!("{tid}\n")).unwrap();
    std::fs::rename(&tmp, &pf).unwrap();
    let warning = c.wait_log("refused");
    assert!(
        warning.contains(&format!("pidfile refused: {pfs} names thread"))
            && warning.contains(&format!("names thread {tid} of process {main}")),
        "{warning}"
    );
    c.signal(libc::SIGTERM);
    c.wait_exit();
    assert!(!std::path::Path::new(&format!("/proc/{main}")).exists());
}
