//! The README's recipes are files under examples/, and the tests use them.
//! This module covers the systemd unit; the supervisor recipes
//! are driven by their real supervisors elsewhere.

use std::os::unix::net::UnixDatagram;
use std::path::Path;

use crate::support::*;

fn example(rel: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn key<'a>(unit: &'a str, name: &str) -> &'a str {
    unit.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix('='))
        .unwrap_or_else(|| panic!("{name}= missing"))
}

fn seconds(text: &str) -> f64 {
    let digits: String = text
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    digits.parse().unwrap()
}

#[test]
fn systemd_unit_runs_as_type_notify_and_stops_before_systemd_would_kill() {
    let unit = example("systemd/legacyd.service");
    assert_eq!(key(&unit, "Type"), "notify");
    let dir = TestDir::new("systemd-example");
    let pidfile = dir.file("legacyd.pid").display().to_string();
    let forker = td("td-forker").display().to_string();
    let exec: Vec<String> = key(&unit, "ExecStart")
        .split_whitespace()
        .map(|w| match w {
            "/usr/bin/catchd" => catchd_bin().to_string(),
            "/usr/sbin/legacyd" => forker.clone(),
            "/run/legacyd/legacyd.pid" => pidfile.clone(),
            other => other.to_string(),
        })
        .collect();
    assert_eq!(exec[0], catchd_bin(), "ExecStart must run catchd");
    let stop_timeout = exec
        .iter()
        .position(|w| w == "--stop-timeout")
        .map(|i| seconds(&exec[i + 1]))
        .unwrap();
    assert!(
        seconds(key(&unit, "TimeoutStopSec")) > stop_timeout,
        "TimeoutStopSec must exceed --stop-timeout"
    );
    // As systemd would: a notify socket, then SIGTERM to stop.
    let sock_path = dir.file("notify.sock");
    let listener = UnixDatagram::bind(&sock_path).unwrap();
    listener.set_read_timeout(Some(LIMIT)).unwrap();
    let args: Vec<&str> = exec[1..].iter().map(String::as_str).collect();
    let mut c = Catchd::start_with(&dir, &args, |cmd| {
        cmd.env("NOTIFY_SOCKET", &sock_path);
    });
    let mut buf = [0u8; 1024];
    let mut saw = |what: &str| loop {
        let n = listener.recv(&mut buf).expect("notify datagram");
        if String::from_utf8_lossy(&buf[..n]).contains(what) {
            break;
        }
    };
    saw("READY=1");
    c.signal(libc::SIGTERM);
    saw("STOPPING=1");
    assert_eq!(code(c.wait_exit()), Some(0), "{}", c.log());
}

#[test]
fn systemd_unit_passes_systemd_analyze_verify() {
    let Ok(out) = std::process::Command::new("systemd-analyze")
        .arg("--version")
        .output()
    else {
        eprintln!("systemd-analyze is not installed: skipped");
        return;
    };
    assert!(out.status.success());
    let dir = TestDir::new("systemd-verify");
    let unit = example("systemd/legacyd.service")
        .replace("/usr/bin/catchd", catchd_bin())
        .replace("/usr/sbin/legacyd", "/bin/true");
    let path = dir.file("legacyd.service");
    std::fs::write(&path, unit).unwrap();
    let out = std::process::Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && !err.contains("legacyd.service"),
        "{err}"
    );
}

/// The README's quick start: catchd on the bundled demo daemon; Ctrl-C
/// (INT) stops it and catchd exits as the daemon did.
#[test]
fn quick_start_demo_daemon_reloads_on_hup_and_stops_on_ctrl_c() {
    let dir = TestDir::new("quick-start");
    let pidfile = dir.file("demo-legacyd.pid");
    let p = pidfile.display().to_string();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("test-daemons/demo-legacyd.sh");
    let script = script.display().to_string();
    let mut c = Catchd::start_with(&dir, &["--pidfile", &p, "--", &script, &p], int_at_default);
    c.wait_log("ready: main process PID");
    c.signal(libc::SIGHUP);
    c.wait_log("demo-legacyd: reloading");
    c.signal(libc::SIGINT);
    c.wait_log("demo-legacyd: stopping");
    assert_eq!(code(c.wait_exit()), Some(0), "{}", c.log());
    assert!(!pidfile.exists(), "the demo removes its pidfile");
}
