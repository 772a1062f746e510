//! A slow HTTP backend for nginx's graceful-stop test: a thread in the
//! test process (no fork) that answers one request with half a body, says
//! so, and sends the rest only when the test releases it. Deterministic: the
//! request is in flight exactly as long as the test wants.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use crate::support::LIMIT;

/// A backend that sends half its answer, then waits for the test's word.
pub struct SlowUpstream {
    pub port: u16,
    /// One message once the request is in and half the answer is out.
    pub accepted: mpsc::Receiver<()>,
    /// Send one message to have the rest of the answer sent.
    pub release: mpsc::Sender<()>,
}

pub const FIRST: &str = "first half\n";
pub const SECOND: &str = "second half\n";

pub fn slow_upstream() -> SlowUpstream {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind upstream");
    let port = listener.local_addr().expect("upstream addr").port();
    let (accepted_tx, accepted) = mpsc::channel();
    let (release, release_rx) = mpsc::channel::<()>();
    listener.set_nonblocking(true).expect("nonblocking");
    thread::spawn(move || {
        let deadline = Instant::now() + LIMIT;
        let mut conn = loop {
            match listener.accept() {
                Ok((conn, _)) => break conn,
                Err(_) if Instant::now() < deadline => {
                    thread::sleep(Duration::from_millis(10)); // accept's poll interval
                }
                Err(_) => return,
            }
        };
        conn.set_nonblocking(false).expect("blocking");
        conn.set_read_timeout(Some(LIMIT)).expect("timeout");
        let mut request = Vec::new();
        let mut buf = [0u8; 1024];
        while !request.windows(4).any(|w| w == b"\r\n\r\n") {
            match conn.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => request.extend_from_slice(&buf[..n]),
            }
        }
        let head = format!(
            "HTTP/1.0 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{FIRST}",
            FIRST.len() + SECOND.len()
        );
        if conn.write_all(head.as_bytes()).is_err() {
            return;
        }
        let _ = accepted_tx.send(());
        if release_rx.recv_timeout(LIMIT * 3).is_ok() {
            let _ = conn.write_all(SECOND.as_bytes());
        }
    });
    SlowUpstream {
        port,
        accepted,
        release,
    }
}
