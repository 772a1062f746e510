//! catchd's own output never blocks and never reaches the daemon (SPEC
//! §1.1.9): a stderr or `--ready-fd` whose reader is gone raises no SIGPIPE
//! in the daemon; a stderr or notify socket that nobody reads delays
//! nothing (forwarding, reaping, the stop timeout), and what was dropped is
//! counted once writing works again.

use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixDatagram;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{assert_no_sigpipe, forwarded, main_pid, pipe};
use crate::support::*;

/// `catchd ... 2>&1 | true`: stdout and stderr are a pipe whose reader is
/// gone before catchd writes its first line.
#[test]
fn stderr_to_a_pipe_whose_reader_is_gone() {
    let dir = TestDir::new("epipe-stderr");
    let (r, w) = pipe();
    drop(r);
    let f = forker();
    let mut c = Catchd::start_with(&dir, &["--", &f, "--workers", "1"], |cmd| {
        cmd.stdout(Stdio::from(w.try_clone().unwrap()))
            .stderr(Stdio::from(w));
    });
    let main = main_pid(&dir);
    forwarded(&c, &dir, main, libc::SIGHUP, 1);
    c.signal(libc::SIGTERM);
    assert_eq!(code(c.wait_exit()), Some(0));
    assert_no_sigpipe(&dir);
}

/// `--ready-fd` on a pipe whose reader is gone: a warning, nothing else.
#[test]
fn ready_fd_to_a_pipe_whose_reader_is_gone() {
    let dir = TestDir::new("epipe-ready");
    let (r, w) = pipe();
    drop(r);
    let raw = w.as_raw_fd();
    let f = forker();
    let mut c = Catchd::start_with(&dir, &["--ready-fd", "5", "--", &f], |cmd| {
        // SAFETY: dup2 in the child before exec, on a descriptor it has.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(cmd, move || {
                // dup2 onto itself would keep close-on-exec.
                if raw == 5 {
                    libc::fcntl(5, libc::F_SETFD, 0);
                } else {
                    libc::dup2(raw, 5);
                }
                Ok(())
            });
        }
    });
    drop(w);
    c.wait_log("--ready-fd 5");
    let main = main_pid(&dir);
    forwarded(&c, &dir, main, libc::SIGHUP, 1);
    c.signal(libc::SIGTERM);
    assert_eq!(code(c.wait_exit()), Some(0), "{}", c.log());
    assert_no_sigpipe(&dir);
}

/// stderr's reader goes away while catchd runs with `-v` (a line per
/// signal): catchd's write fails with EPIPE and raises SIGPIPE at catchd
/// itself, which is not forwarded; forwarding and the stop go on.
#[test]
fn stderr_reader_leaves_while_catchd_runs() {
    let dir = TestDir::new("epipe-later");
    let (r, w) = pipe();
    let f = forker();
    let mut c = Catchd::start_with(&dir, &["-v", "--", &f, "--workers", "1"], |cmd| {
        cmd.stderr(Stdio::from(w));
    });
    let main = main_pid(&dir);
    forwarded(&c, &dir, main, libc::SIGHUP, 1);
    drop(r);
    forwarded(&c, &dir, main, libc::SIGUSR1, 1);
    forwarded(&c, &dir, main, libc::SIGUSR2, 1);
    c.signal(libc::SIGTERM);
    assert_eq!(code(c.wait_exit()), Some(0));
    assert_no_sigpipe(&dir);
}

/// A pipe filled to its capacity that nobody reads: any further write to
/// it would wait. The test keeps the read end.
fn full_pipe() -> (OwnedFd, OwnedFd) {
    let (r, w) = pipe();
    // SAFETY: F_GETPIPE_SZ on a pipe we own.
    let size = unsafe { libc::fcntl(w.as_raw_fd(), libc::F_GETPIPE_SZ) };
    assert!(size > 0);
    let junk = vec![b'x'; size as usize];
    // SAFETY: one blocking write of exactly the capacity: it fits.
    let n = unsafe { libc::write(w.as_raw_fd(), junk.as_ptr().cast(), junk.len()) };
    assert_eq!(n, size as isize);
    (r, w)
}

const BURST: usize = 1000;

/// 1,000 queued realtime signals each reach the main process; orphans
/// are reaped; then TERM with `--stop-timeout 1s` (the daemon ignores TERM)
/// ends catchd within 2 s by SIGKILL.
fn while_nobody_reads(c: &mut Catchd, dir: &TestDir) {
    let main = main_pid(dir);
    let report = dir.report();
    report.wait_for(&["orphans-done"]);
    // The main process is known to catchd once a signal reaches it.
    forwarded(c, dir, main, libc::SIGUSR1, 1);
    let rt = libc::SIGRTMIN() + 1;
    for _ in 0..BURST {
        procs::kill(c.pid, rt);
    }
    let words = ["signal", &rt.to_string(), &format!("pid={main}")];
    assert!(
        wait_until(Duration::from_secs(30), || report.count(&words) >= BURST),
        "only {} of {BURST} forwarded signals arrived",
        report.count(&words)
    );
    assert_eq!(report.count(&words), BURST);
    let pid = c.pid;
    assert!(
        wait_until(LIMIT, || procs::children_of(pid)
            .iter()
            .all(|&k| !procs::is_zombie(k))),
        "zombies pile up under catchd"
    );
    let t0 = Instant::now();
    c.signal(libc::SIGTERM);
    let ended = wait_until(Duration::from_secs(2), || c.try_wait().is_some());
    assert!(ended, "TERM did not end catchd within 2 s");
    assert!(t0.elapsed() < Duration::from_secs(2));
    assert_eq!(signal_of(c.wait_exit()), Some(libc::SIGKILL));
}

const STALLED: &[&str] = &["--ignore", "TERM", "--workers", "2", "--orphans", "50"];

#[test]
fn stderr_that_nobody_reads_delays_nothing() {
    let dir = TestDir::new("stalled-stderr");
    let (r, w) = full_pipe();
    let f = forker();
    let mut args = vec!["-v", "--stop-timeout", "1s", "--", &f];
    args.extend(STALLED);
    let mut c = Catchd::start_with(&dir, &args, |cmd| {
        cmd.stderr(Stdio::from(w));
    });
    while_nobody_reads(&mut c, &dir);
    drop(r);
}

/// After the stall, the lines that did not fit are counted in one line.
#[test]
fn dropped_lines_are_counted_once_stderr_is_read_again() {
    let dir = TestDir::new("stalled-count");
    let (r, w) = full_pipe();
    let f = forker();
    let mut c = Catchd::start_with(&dir, &["-v", "--", &f, "--workers", "1"], |cmd| {
        cmd.stderr(Stdio::from(w));
    });
    let main = main_pid(&dir);
    forwarded(&c, &dir, main, libc::SIGUSR1, 1);
    let rt = libc::SIGRTMIN() + 2;
    for _ in 0..BURST {
        procs::kill(c.pid, rt);
    }
    let report = dir.report();
    let words = ["signal", &rt.to_string(), &format!("pid={main}")];
    assert!(wait_until(Duration::from_secs(30), || report.count(&words) >= BURST));
    // Now read: catchd writes what it kept, then the count.
    let text = Arc::new(Mutex::new(String::new()));
    let sink = text.clone();
    let reader = std::thread::spawn(move || {
        let mut file = std::fs::File::from(r);
        let mut buf = [0u8; 65536];
        while let Ok(n) = file.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    let needle = "log lines dropped: stderr is not being read";
    assert!(
        wait_until(LIMIT, || text.lock().unwrap().contains(needle)),
        "no count of dropped lines"
    );
    let line = {
        let t = text.lock().unwrap();
        t.lines().find(|l| l.contains(needle)).unwrap().to_string()
    };
    let n: u64 = line
        .split(": ")
        .nth(2)
        .and_then(|w| w.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count in {line:?}"));
    assert!(n > 0, "{line}");
    c.signal(libc::SIGTERM);
    assert_eq!(code(c.wait_exit()), Some(0));
    drop(c);
    let _ = reader.join();
}

/// Fill a datagram socket's queue from another socket.
fn fill(path: &std::path::Path) {
    let filler = UnixDatagram::unbound().unwrap();
    filler.set_nonblocking(true).unwrap();
    let mut sent = 0;
    while filler.send_to(b"STATUS=filler", path).is_ok() {
        sent += 1;
        assert!(sent < 100_000, "the socket never fills");
    }
}

fn drain(sock: &UnixDatagram) -> Vec<String> {
    sock.set_nonblocking(true).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = sock.recv(&mut buf) {
        out.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    out
}

/// A NOTIFY_SOCKET whose reader has stopped: same guarantees; once it is
/// read again, the READY=1 that did not fit arrives.
#[test]
fn notify_socket_that_nobody_reads_delays_nothing() {
    let dir = TestDir::new("stalled-notify");
    let path = dir.file("notify.sock");
    let sock = UnixDatagram::bind(&path).unwrap();
    fill(&path);
    let f = forker();
    let mut args = vec!["--stop-timeout", "1s", "--", &f];
    args.extend(STALLED);
    let mut c = Catchd::start_with(&dir, &args, |cmd| {
        cmd.env("NOTIFY_SOCKET", &path);
    });
    let main = main_pid(&dir);
    c.wait_log("notify socket is full");
    // Read again: the next message catchd sends carries READY=1.
    let mut got = drain(&sock);
    forwarded(&c, &dir, main, libc::SIGHUP, 1);
    sock.set_nonblocking(false).unwrap();
    sock.set_read_timeout(Some(LIMIT)).unwrap();
    let mut buf = [0u8; 4096];
    while !got.iter().any(|m| m.contains("READY=1")) {
        let n = sock.recv(&mut buf).expect("no READY=1 after draining");
        got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    fill(&path);
    while_nobody_reads(&mut c, &dir);
}
