//! Telling the supervisor (issue 4: 4, 5): a real datagram listener as
//! NOTIFY_SOCKET, and the status file read while it changes.

use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use crate::support::*;

fn recv(sock: &UnixDatagram) -> String {
    let mut buf = [0u8; 4096];
    let len = sock
        .recv(&mut buf)
        .expect("a notify datagram within the deadline");
    String::from_utf8_lossy(&buf[..len]).into_owned()
}

/// Bind a listener at `addr`, run a forking daemon under catchd with
/// NOTIFY_SOCKET=`value`, and check the protocol.
fn notify_protocol(dir: &TestDir, listener: UnixDatagram, value: &str) {
    listener.set_read_timeout(Some(LIMIT)).unwrap();
    let f = forker();
    let pidfile = dir.file("d.pid").display().to_string();
    let mut c = Catchd::start_with(
        dir,
        &[
            "--pidfile",
            &pidfile,
            "--",
            &f,
            "--pidfile",
            &pidfile,
            "--pidfile-when",
            "late",
            "--workers",
            "1",
        ],
        |cmd| {
            cmd.env("NOTIFY_SOCKET", value);
        },
    );
    let mut ready = None;
    let mut statuses = Vec::new();
    while ready.is_none() {
        let msg = recv(&listener);
        assert!(
            !msg.contains("MAINPID="),
            "catchd must stay the main PID: {msg}"
        );
        if msg.contains("READY=1") {
            ready = Some(msg.clone());
        }
        statuses.push(msg);
    }
    // READY=1 comes only once the main process exists and is verified.
    let report = dir.report();
    let main = field(&report.wait_for(&["ready", "role=main"]), "pid").unwrap();
    let ready = ready.unwrap();
    assert!(
        ready.contains(&format!("STATUS=main PID {main} ")),
        "{ready}"
    );
    assert!(ready.contains("pidfile ok"), "{ready}");
    // The daemon does not see the supervisor's socket.
    let environ = std::fs::read(format!("/proc/{main}/environ")).unwrap();
    assert!(!environ
        .split(|b| *b == 0)
        .any(|v| v.starts_with(b"NOTIFY_SOCKET=")));
    c.signal(libc::SIGTERM);
    let mut stopping = None;
    while stopping.is_none() {
        let msg = recv(&listener);
        if msg.contains("STOPPING=1") {
            stopping = Some(msg);
        }
    }
    assert!(stopping.unwrap().contains("STATUS=stopping"));
    assert_eq!(code(c.wait_exit()), Some(0), "{}", c.log());
}

#[test]
fn notify_socket_path_gets_ready_status_and_stopping() {
    let dir = TestDir::new("notify-path");
    let path = dir.file("notify.sock");
    let listener = UnixDatagram::bind(&path).unwrap();
    notify_protocol(&dir, listener, &path.display().to_string());
}

#[test]
fn notify_socket_abstract_gets_ready_status_and_stopping() {
    use std::os::linux::net::SocketAddrExt;
    let dir = TestDir::new("notify-abstract");
    let name = format!(
        "catchd-it-{}",
        dir.path.file_name().unwrap().to_string_lossy()
    );
    let listener =
        UnixDatagram::bind_addr(&SocketAddr::from_abstract_name(name.as_bytes()).unwrap()).unwrap();
    notify_protocol(&dir, listener, &format!("@{name}"));
}

#[test]
fn status_file_is_always_valid_json_and_matches_proc() {
    let dir = TestDir::new("status-file");
    let f = forker();
    let pidfile = dir.file("d.pid").display().to_string();
    let status = dir.file("status.json");
    let stop = Arc::new(AtomicBool::new(false));
    let parsed = Arc::new(AtomicUsize::new(0));
    let reader = {
        let (stop, parsed, status) = (stop.clone(), parsed.clone(), status.clone());
        std::thread::spawn(move || {
            let mut bad = Vec::new();
            while !stop.load(Ordering::SeqCst) {
                if let Ok(text) = std::fs::read_to_string(&status) {
                    match serde_json::from_str::<serde_json::Value>(&text) {
                        Ok(_) => {
                            parsed.fetch_add(1, Ordering::SeqCst);
                        }
                        Err(e) => bad.push(format!("{e}: {text}")),
                    }
                }
            }
            bad
        })
    };
    let status_arg = status.display().to_string();
    let mut c = Catchd::start(
        &dir,
        &[
            "--status-file",
            &status_arg,
            "--pidfile",
            &pidfile,
            "--",
            &f,
            "--pidfile",
            &pidfile,
            "--workers",
            "2",
            "--handover-on",
            "USR2",
        ],
    );
    let report = dir.report();
    let main = field(&report.wait_for(&["ready", "role=main"]), "pid").unwrap();
    assert!(wait_until(LIMIT, || report
        .count(&["ready", "role=worker"])
        == 2));
    c.wait_log("ready: main process PID");
    // The document is refreshed on events (never on a timer): a signal is
    // one. Then compare with an independent /proc walk.
    c.signal(libc::SIGUSR1);
    report.wait_for(&["signal", "10", "role=main"]);
    let doc = || -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(&status).unwrap()).unwrap()
    };
    let pids_in = |d: &serde_json::Value| {
        let mut v: Vec<i64> = d["processes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["pid"].as_i64().unwrap())
            .collect();
        v.sort();
        v
    };
    let on_proc = || {
        let mut v: Vec<i64> = procs::descendants(c.pid)
            .into_iter()
            .map(i64::from)
            .collect();
        v.sort();
        v
    };
    assert!(
        wait_until(LIMIT, || pids_in(&doc()) == on_proc()),
        "{} vs {:?}",
        doc(),
        on_proc()
    );
    let d = doc();
    assert_eq!(d["catchd_pid"].as_i64(), Some(i64::from(c.pid)));
    assert_eq!(d["state"], "running");
    assert_eq!(d["main"]["pid"].as_i64(), Some(i64::from(main)));
    assert_eq!(d["main"]["chosen_by"], "pidfile");
    assert_eq!(d["pidfile"]["verdict"], "ok");
    let main_entry = d["processes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["pid"].as_i64() == Some(i64::from(main)))
        .unwrap()
        .clone();
    assert_eq!(main_entry["holds_hold_pipe"], true);
    assert!(main_entry["argv"][0]
        .as_str()
        .unwrap()
        .ends_with("td-forker"));
    // Handover, then stop, while the reader keeps parsing.
    c.signal(libc::SIGUSR2);
    let new = field(&report.wait_for(&["ready", "role=successor"]), "pid").unwrap();
    assert!(
        wait_until(LIMIT, || doc()["main"]["pid"].as_i64()
            == Some(i64::from(new))),
        "{}",
        doc()
    );
    c.signal(libc::SIGTERM);
    c.wait_exit();
    stop.store(true, Ordering::SeqCst);
    let bad = reader.join().unwrap();
    assert!(bad.is_empty(), "a reader saw a broken document: {bad:?}");
    assert!(
        parsed.load(Ordering::SeqCst) > 10,
        "the reader hardly read anything"
    );
    assert!(
        !status.exists(),
        "the status file must go when catchd exits"
    );
}
