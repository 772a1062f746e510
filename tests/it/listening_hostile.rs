//! `--ready-when listening` against hostile daemons: thousands of
//! descriptors and sockets that appear and vanish, a daemon in a network
//! namespace of its own, and a check that keeps failing (a real EPERM).
//! catchd must neither crash nor spin, and must say what is wrong.

use std::time::Duration;

use crate::listening::*;
use crate::support::*;

#[test]
fn a_daemon_in_its_own_network_namespace_is_looked_at_there() {
    let allowed = std::process::Command::new("unshare")
        .args(["--net", "true"])
        .status()
        .is_ok_and(|s| s.success());
    if !allowed {
        eprintln!("SKIPPED network namespace test: unshare --net is not permitted here");
        return;
    }
    let dir = TestDir::new("listen-netns");
    let notify = Notify::new(&dir);
    let port = free_port();
    let want = format!("listening={port}");
    let c = start(
        &dir,
        &notify,
        &["--ready-when", &want],
        &[
            "--unshare-net",
            "--sleep",
            "200ms",
            "--listen",
            &format!("tcp:0.0.0.0:{port}"),
        ],
    );
    let ready = notify.ready(&c);
    let t = listened_at(&dir.report(), &["proto=tcp"]);
    assert_ready_after(t, ready, Duration::from_secs(2), &c);
    stop(c);
}

#[test]
fn a_check_that_keeps_failing_warns_once_backs_off_and_times_out() {
    // A real EPERM: catchd without CAP_SYS_ADMIN may not enter the network
    // namespace a daemon made for itself (in a user namespace of its own).
    let allowed = std::process::Command::new("setpriv")
        .args(["--inh-caps=-sys_admin", "--bounding-set=-sys_admin", "--"])
        .args(["unshare", "--user", "--net", "true"])
        .status()
        .is_ok_and(|s| s.success());
    if !allowed {
        eprintln!("SKIPPED failing-check test: setpriv or unshare --user --net not permitted");
        return;
    }
    let dir = TestDir::new("listen-eperm");
    let port = free_port();
    let pidfile = dir.file("d.pid").display().to_string();
    let want = format!("listening={port}");
    let td = td("td-listener").display().to_string();
    let listen = format!("tcp:0.0.0.0:{port}");
    let mut c = Catchd::start_under(
        &dir,
        &[
            "setpriv",
            "--inh-caps=-sys_admin",
            "--bounding-set=-sys_admin",
            "--",
        ],
        &[
            "-v",
            "--start-timeout",
            "2s",
            "--pidfile",
            &pidfile,
            "--ready-when",
            &want,
            "--",
            &td,
            "--pidfile",
            &pidfile,
            "--unshare-user-net",
            "--listen",
            &listen,
        ],
    );
    dir.report().wait_for(&["listen", "proto=tcp"]);
    assert_eq!(code(c.wait_exit()), Some(124), "{}", c.log());
    let log = c.log();
    let warned = log
        .lines()
        .filter(|l| l.contains("unable to look at the network namespace of PID"))
        .filter(|l| l.ends_with("; checking again"))
        .count();
    assert_eq!(warned, 1, "warned once:\n{log}");
    assert!(log.contains("Operation not permitted"), "{log}");
    // Backed off, not spinning: 2 s at most every 100 ms.
    let checks = log.matches("listening check took").count();
    assert!((5..60).contains(&checks), "{checks} checks in 2 s:\n{log}");
    assert!(dir.report().survivors().is_empty(), "{log}");
}

#[test]
fn thousands_of_descriptors_and_flapping_sockets_neither_crash_nor_spin() {
    let dir = TestDir::new("listen-hostile");
    let notify = Notify::new(&dir);
    let (a, b) = (free_port(), free_port());
    let want = format!("listening=127.0.0.1:{b}");
    let c = start(
        &dir,
        &notify,
        &["--ready-when", &want],
        &[
            "--extra-fds",
            "5000",
            "--flap",
            "200",
            "--listen",
            &format!("tcp:127.0.0.1:{a}"),
            "--sleep",
            "500ms",
            "--listen",
            &format!("tcp:127.0.0.1:{b}"),
        ],
    );
    let ready = notify.ready(&c);
    let t = listen_times(&dir.report(), 2)[1];
    assert_ready_after(t, ready, Duration::from_secs(2), &c);
    // A spinning catchd would have burnt the whole start-up; the back-off
    // keeps it to a few checks (generous bound: loaded CI machines).
    let cpu = catchd_cpu_ms(c.pid);
    assert!(cpu < 400, "catchd used {cpu} ms of CPU while starting");
    stop(c);
}

/// catchd's user + system CPU time so far, in milliseconds.
fn catchd_cpu_ms(pid: i32) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let rest = &text[text.rfind(')').unwrap() + 2..];
    let f: Vec<u64> = rest.split(' ').map(|x| x.parse().unwrap_or(0)).collect();
    // utime and stime are fields 14 and 15 (11 and 12 after the state).
    // SAFETY: sysconf only reads a configuration value.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
    (f[11] + f[12]) * 1000 / hz
}
