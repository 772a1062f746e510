//! `--ready-when listening[=ADDR]`: ready (READY=1 on a real datagram
//! listener, the `--ready-fd` newline) only once a process of the tree
//! holds the wanted listening socket; td-listener reports the
//! CLOCK_MONOTONIC time right after its listen(2) returned, and the test
//! takes the same clock the moment READY=1 arrives.

use std::net::{TcpListener, TcpStream};
use std::os::unix::net::UnixDatagram;
use std::time::Duration;

use crate::support::*;

pub fn monotonic_ns() -> u128 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid out-pointer for the call.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u128 * 1_000_000_000 + ts.tv_nsec as u128
}

pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local_addr").port()
}

/// A real datagram listener to hand catchd as NOTIFY_SOCKET.
pub struct Notify {
    pub sock: UnixDatagram,
    pub path: String,
}

impl Notify {
    pub fn new(dir: &TestDir) -> Notify {
        let path = dir.file("notify.sock");
        let sock = UnixDatagram::bind(&path).expect("bind the notify socket");
        sock.set_read_timeout(Some(LIMIT)).unwrap();
        Notify {
            sock,
            path: path.display().to_string(),
        }
    }

    /// Wait for READY=1; the monotonic time it arrived.
    pub fn ready(&self, c: &Catchd) -> u128 {
        let mut buf = [0u8; 4096];
        loop {
            let len = self
                .sock
                .recv(&mut buf)
                .unwrap_or_else(|e| panic!("no READY=1 ({e}); log:\n{}", c.log()));
            let t = monotonic_ns();
            if String::from_utf8_lossy(&buf[..len]).contains("READY=1") {
                return t;
            }
        }
    }
}

/// The `t=` of td-listener's `listen` line with all of `words`.
pub fn listened_at(report: &Report, words: &[&str]) -> u128 {
    let mut w = vec!["listen"];
    w.extend_from_slice(words);
    let line = report.wait_for(&w);
    line.split_whitespace()
        .find_map(|f| f.strip_prefix("t="))
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("no t= in {line:?}"))
}

/// catchd with a pidfile, NOTIFY_SOCKET and `catchd_args`, holding
/// td-listener with `daemon_args`.
pub fn start(dir: &TestDir, notify: &Notify, catchd_args: &[&str], daemon_args: &[&str]) -> Catchd {
    let pidfile = dir.file("d.pid").display().to_string();
    let td = td("td-listener").display().to_string();
    let mut args = vec!["-v", "--pidfile", &pidfile];
    args.extend_from_slice(catchd_args);
    args.extend(["--", &td, "--pidfile", &pidfile]);
    args.extend_from_slice(daemon_args);
    Catchd::start_with(dir, &args, |cmd| {
        cmd.env("NOTIFY_SOCKET", &notify.path);
    })
}

/// The `t=` of the first `n` listen lines, once there are `n`.
pub fn listen_times(report: &Report, n: usize) -> Vec<u128> {
    assert!(wait_until(LIMIT, || report.count(&["listen"]) >= n));
    report
        .lines()
        .iter()
        .filter(|l| l.starts_with("listen "))
        .take(n)
        .map(|l| {
            l.split_whitespace()
                .find_map(|f| f.strip_prefix("t="))
                .and_then(|t| t.parse().ok())
                .unwrap_or_else(|| panic!("no t= in {l:?}"))
        })
        .collect()
}

pub fn ms(ns: u128) -> f64 {
    ns as f64 / 1e6
}

/// Ready came after the listen, within `within` of it.
pub fn assert_ready_after(listen: u128, ready: u128, within: Duration, c: &Catchd) {
    assert!(
        ready > listen,
        "ready {:.1} ms before listen(); log:\n{}",
        ms(listen - ready),
        c.log()
    );
    assert!(
        ready - listen < within.as_nanos(),
        "ready {:.1} ms after listen(); log:\n{}",
        ms(ready - listen),
        c.log()
    );
}

pub fn stop(mut c: Catchd) {
    c.signal(libc::SIGTERM);
    assert_eq!(code(c.wait_exit()), Some(0), "{}", c.log());
}

#[test]
fn issue15_1_ready_and_ready_fd_follow_listen_within_250ms() {
    let dir = TestDir::new("listen-late");
    let notify = Notify::new(&dir);
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    // --ready-fd 3 on a FIFO whose reader notes when the newline came.
    let fifo = dir.file("ready.fifo");
    let c_path = std::ffi::CString::new(fifo.display().to_string()).unwrap();
    // SAFETY: a valid C string; mkfifo only creates a file.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || {
            use std::io::Read;
            let mut f = std::fs::File::open(&fifo).expect("open the FIFO");
            let mut byte = [0u8; 1];
            let n = f.read(&mut byte).expect("read the FIFO");
            (n, byte[0], monotonic_ns())
        })
    };
    let pidfile = dir.file("d.pid").display().to_string();
    let td = td("td-listener").display().to_string();
    let want = format!("listening={addr}");
    let listen = format!("tcp:{addr}");
    let script = "export NOTIFY_SOCKET=\"$1\"; f=\"$2\"; shift 2; exec \"$@\" 3>\"$f\"";
    let fifo_s = fifo.display().to_string();
    let c = Catchd::start_under(
        &dir,
        &["sh", "-c", script, "sh", &notify.path, &fifo_s],
        &[
            "-v",
            "--pidfile",
            &pidfile,
            "--ready-fd",
            "3",
            "--ready-when",
            &want,
            "--",
            &td,
            "--pidfile",
            &pidfile,
            "--sleep",
            "400ms",
            "--listen",
            &listen,
        ],
    );
    // The pidfile is valid long before the port listens: catchd says so.
    c.wait_log(&format!("waiting for a listening socket on {addr}"));
    let ready = notify.ready(&c);
    // Right after READY=1 the port takes a connection, first try.
    TcpStream::connect(&addr).unwrap_or_else(|e| panic!("connect after READY=1: {e}"));
    let listen_t = listened_at(&dir.report(), &["proto=tcp"]);
    assert_ready_after(listen_t, ready, Duration::from_millis(250), &c);
    let (n, byte, fd_t) = reader.join().unwrap();
    assert_eq!((n, byte), (1, b'\n'), "one newline on --ready-fd");
    assert_ready_after(listen_t, fd_t, Duration::from_millis(250), &c);
    eprintln!(
        "READY=1 {:.1} ms and the ready fd {:.1} ms after listen()",
        ms(ready - listen_t),
        ms(fd_t - listen_t)
    );
    c.wait_log("listening: PID ");
    stop(c);
}

/// Listen on `first` at once and on `second` 300 ms later; wanting
/// `second` must wait for it.
fn second_of_two(name: &str, first: &str, second: &str, want: &str) {
    let dir = TestDir::new(name);
    let notify = Notify::new(&dir);
    let want = format!("listening={want}");
    let c = start(
        &dir,
        &notify,
        &["--ready-when", &want],
        &["--listen", first, "--sleep", "300ms", "--listen", second],
    );
    let ready = notify.ready(&c);
    let t = listen_times(&dir.report(), 2);
    assert!(t[1] > t[0]);
    let second_t = t[1];
    assert_ready_after(second_t, ready, Duration::from_secs(2), &c);
    stop(c);
}

#[test]
fn issue15_2_an_address_waits_for_that_port_not_the_first() {
    let (a, b) = (free_port(), free_port());
    second_of_two(
        "listen-two-ports",
        &format!("tcp:127.0.0.1:{a}"),
        &format!("tcp:127.0.0.1:{b}"),
        &format!("127.0.0.1:{b}"),
    );
}

#[test]
fn issue15_2_an_ipv6_address_waits_for_ipv6() {
    // The same port over IPv4 first: it does not answer [::1]:PORT.
    let p = free_port();
    second_of_two(
        "listen-v6",
        &format!("tcp:127.0.0.1:{p}"),
        &format!("tcp:[::1]:{p}"),
        &format!("[::1]:{p}"),
    );
}

#[test]
fn issue15_2_a_unix_path_waits_for_that_socket() {
    let dir = TestDir::new("listen-unix-paths");
    let (a, b) = (dir.file("a.sock"), dir.file("b.sock"));
    second_of_two(
        "listen-unix",
        &format!("unix:{}", a.display()),
        &format!("unix:{}", b.display()),
        &b.display().to_string(),
    );
}

#[test]
fn a_bound_udp_socket_counts_for_plain_listening() {
    let dir = TestDir::new("listen-udp");
    let notify = Notify::new(&dir);
    let c = start(
        &dir,
        &notify,
        &["--ready-when", "listening"],
        &["--sleep", "300ms", "--listen", "udp:127.0.0.1:0"],
    );
    let ready = notify.ready(&c);
    let t = listened_at(&dir.report(), &["proto=udp"]);
    assert_ready_after(t, ready, Duration::from_secs(2), &c);
    c.wait_log("(UDP)");
    stop(c);
}

#[test]
fn issue15_3_a_worker_holding_the_socket_counts() {
    let dir = TestDir::new("listen-worker");
    let notify = Notify::new(&dir);
    let port = free_port();
    let want = format!("listening={port}");
    let c = start(
        &dir,
        &notify,
        &["--ready-when", &want],
        &[
            "--in-worker",
            "--sleep",
            "300ms",
            "--listen",
            &format!("tcp:127.0.0.1:{port}"),
        ],
    );
    let ready = notify.ready(&c);
    let report = dir.report();
    let t = listened_at(&report, &["role=worker"]);
    assert_ready_after(t, ready, Duration::from_secs(2), &c);
    let worker = field(&report.wait_for(&["listen", "role=worker"]), "pid").unwrap();
    let main = field(&report.wait_for(&["ready", "role=main"]), "pid").unwrap();
    assert_ne!(worker, main);
    c.wait_log(&format!(
        "listening: PID {worker} listens on 127.0.0.1:{port} (TCP)"
    ));
    c.wait_log(&format!("ready: main process PID {main}"));
    stop(c);
}

#[test]
fn issue15_4_never_listening_times_out_with_124_and_stops_the_tree() {
    let dir = TestDir::new("listen-never");
    let notify = Notify::new(&dir);
    let port = free_port();
    let want = format!("listening=127.0.0.1:{port}");
    let status = dir.file("status.json").display().to_string();
    let mut c = start(
        &dir,
        &notify,
        &[
            "--start-timeout",
            "2s",
            "--status-file",
            &status,
            "--ready-when",
            &want,
        ],
        &[],
    );
    let main = field(&dir.report().wait_for(&["ready", "role=main"]), "pid").unwrap();
    let waiting = format!("waiting for a listening socket on 127.0.0.1:{port}");
    c.wait_log(&waiting);
    // The status file says what catchd waits for.
    let doc = || -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(&status).unwrap_or_default())
            .unwrap_or_default()
    };
    assert!(
        wait_until(LIMIT, || doc()["waiting_for"] == waiting.as_str()),
        "{}",
        doc()
    );
    assert_eq!(doc()["state"], "starting");
    assert_eq!(code(c.wait_exit()), Some(124), "{}", c.log());
    c.wait_log(&format!("not ready within 2s ({waiting}): stopping"));
    assert!(!alive(main), "main process {main} outlived catchd");
    assert!(dir.report().survivors().is_empty(), "{}", c.log());
}

#[test]
fn issue15_6_after_ready_an_idle_catchd_never_wakes_up() {
    let dir = TestDir::new("listen-idle");
    let notify = Notify::new(&dir);
    let c = start(
        &dir,
        &notify,
        &["--ready-when", "listening"],
        &["--sleep", "100ms", "--listen", "tcp:127.0.0.1:0"],
    );
    notify.ready(&c);
    // catchd may still be on its way back into poll after READY=1.
    assert!(wait_until(LIMIT, || procs::blocked_in_poll(c.pid)));
    let switches = || -> u64 {
        procs::status_field(c.pid, "voluntary_ctxt_switches")
            .unwrap()
            .parse()
            .unwrap()
    };
    let before = switches();
    std::thread::sleep(Duration::from_secs(2)); // the measured window, not a synchronisation
    let after = switches();
    assert_eq!(
        before,
        after,
        "catchd woke {} times while idle",
        after - before
    );
    stop(c);
}

#[test]
fn a_bad_condition_is_one_line_and_125() {
    for (value, says) in [
        ("listen", "--ready-when: unknown condition \"listen\""),
        ("listening=localhost:80", "names are not resolved"),
        ("listening=70000", "1 to 65535"),
        ("listening=run/x.sock", "absolute socket path"),
    ] {
        let dir = TestDir::new("listen-bad");
        let mut c = Catchd::start(&dir, &["--ready-when", value, "--", "true"]);
        let st = c.wait_exit();
        let log = c.log();
        assert_eq!(code(st), Some(125), "{value}: {log}");
        let lines: Vec<&str> = log.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "{value}: one line, got:\n{log}");
        assert!(lines[0].contains(says), "{value}: {log}");
    }
}
