//! catchd around real Debian daemons: nginx, memcached and
//! redis-server, each started the way it daemonizes by default, from a
//! private config in its own test directory (own pidfile, own log) and on a
//! 127.0.0.1 port chosen free at run time. A test whose daemon is not
//! installed prints a SKIPPED line and passes; `.ci/run` installs all three,
//! so CI never skips.
//!
//! Synchronisation is on catchd's log lines, the daemons' files and ports,
//! and the independent /proc reader, each with a deadline. Every daemon
//! process a test has seen is recorded by (PID, start time) and SIGKILLed
//! at the end if it is still there, even when the test fails.

mod backend;
mod container;
mod memcached;
mod nginx;
mod ready_when;
mod redis;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::support::*;

/// The daemon's binary, or `None` after a SKIPPED line naming the test.
pub fn installed(name: &str, test: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/local/sbin", "/sbin"].map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| p.is_file());
    if found.is_none() {
        // Straight to the descriptor: eprintln! would be captured, and a
        // passing test's captured output is never shown.
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED {test}: {name} is not installed \
             (.ci/run installs nginx, memcached and redis-server with apt-get)"
        );
    }
    found
}

/// A port on 127.0.0.1 that was free just now: bind port 0, release it.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local_addr").port()
}

fn local(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// Send `request` to 127.0.0.1:`port`; read until `done` holds for what
/// came back, or EOF. Any failure is returned as text.
pub fn ask(port: u16, request: &[u8], done: impl Fn(&str) -> bool) -> Result<String, String> {
    let mut s = TcpStream::connect_timeout(&local(port), Duration::from_secs(2))
        .map_err(|e| format!("connect to port {port}: {e}"))?;
    s.set_read_timeout(Some(LIMIT)).map_err(|e| e.to_string())?;
    s.write_all(request).map_err(|e| format!("write: {e}"))?;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&got).into_owned();
        if done(&text) {
            return Ok(text);
        }
        match s.read(&mut buf) {
            Ok(0) => return Ok(text),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => return Err(format!("read after {text:?}: {e}")),
        }
    }
}

/// Ask until the answer contains `expect` (deadline `LIMIT`); return it.
pub fn wait_answer(port: u16, request: &[u8], expect: &str) -> String {
    let mut last = Err(String::from("never asked"));
    let ok = wait_until(LIMIT, || {
        last = ask(port, request, |t| t.contains(expect));
        last.as_ref().is_ok_and(|t| t.contains(expect))
    });
    assert!(ok, "port {port} never answered {expect:?}; last: {last:?}");
    last.unwrap_or_default()
}

/// Nothing listens on 127.0.0.1:`port` any more.
pub fn refused(port: u16) -> bool {
    TcpStream::connect_timeout(&local(port), Duration::from_secs(2)).is_err()
}

pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// Wait until the file at `path` contains `needle` (deadline `LIMIT`).
pub fn wait_file(path: &Path, needle: &str) {
    assert!(
        wait_until(LIMIT, || read(path).contains(needle)),
        "{} never contained {needle:?}:\n{}",
        path.display(),
        read(path)
    );
}

/// The PID a catchd log line names after `PID `.
pub fn pid_in(line: &str) -> i32 {
    line.split("PID ")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no PID in {line:?}"))
}

/// The PID in a pidfile, once it holds one.
pub fn pidfile_pid(path: &Path) -> Option<i32> {
    read(path).trim().parse().ok()
}

pub fn is_descendant(pid: i32, root: i32) -> bool {
    procs::descendants(root).contains(&pid)
}

/// Live children of `pid` (an nginx master's workers).
pub fn live_children(pid: i32) -> Vec<i32> {
    procs::children_of(pid)
        .into_iter()
        .filter(|&p| alive(p))
        .collect()
}

/// Whether `pid` ignores signal `sig` (SigIgn in /proc/PID/status).
pub fn ignores(pid: i32, sig: i32) -> bool {
    procs::status_field(pid, "SigIgn")
        .and_then(|hex| u64::from_str_radix(&hex, 16).ok())
        .is_some_and(|mask| mask & (1 << (sig - 1)) != 0)
}

/// catchd holding a real daemon, and every daemon process the test saw.
pub struct Held {
    c: Catchd,
    seen: Vec<(i32, u64)>,
}

impl Deref for Held {
    type Target = Catchd;
    fn deref(&self) -> &Catchd {
        &self.c
    }
}

impl DerefMut for Held {
    fn deref_mut(&mut self) -> &mut Catchd {
        &mut self.c
    }
}

impl Held {
    /// `catchd -v --pidfile PIDFILE EXTRA... -- COMMAND...`
    pub fn start(dir: &TestDir, pidfile: &Path, extra: &[&str], command: &[String]) -> Held {
        let pidfile = pidfile.display().to_string();
        let mut args = vec!["-v", "--pidfile", &pidfile];
        args.extend_from_slice(extra);
        args.push("--");
        args.extend(command.iter().map(String::as_str));
        Held {
            c: Catchd::start(dir, &args),
            seen: Vec::new(),
        }
    }

    /// Wait for readiness; return the main process's PID, recorded.
    pub fn ready(&mut self) -> i32 {
        let main = pid_in(&self.wait_log("ready: main process PID"));
        self.record();
        main
    }

    /// Record catchd's current descendants, for the final checks and the
    /// clean-up.
    pub fn record(&mut self) {
        for seen in self.c.snapshot() {
            if !self.seen.contains(&seen) {
                self.seen.push(seen);
            }
        }
    }

    fn still_there(&self) -> Vec<i32> {
        procs::survivors(&self.seen)
    }

    /// No daemon process the test saw is left (zombies count as gone).
    pub fn assert_all_gone(&self) {
        assert!(
            wait_until(LIMIT, || self.still_there().is_empty()),
            "daemon processes left: {:?}\n{}",
            self.still_there(),
            self.log()
        );
    }

    /// Assert catchd's exit code, and that it waited for every process.
    pub fn assert_exit_code(&mut self, expected: i32) {
        let st = self.wait_exit();
        assert_eq!(code(st), Some(expected), "{st:?}\n{}", self.log());
        self.wait_log("every process has exited; ");
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        // By recorded (PID, start time) only, in rounds, before the Catchd
        // guard kills catchd's remaining descendants and catchd itself.
        if self.c.running() {
            self.record();
        }
        wait_until(LIMIT, || {
            let left = self.still_there();
            for &pid in &left {
                procs::kill(pid, libc::SIGKILL);
            }
            left.is_empty()
        });
    }
}
