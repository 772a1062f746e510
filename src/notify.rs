//! Telling the supervisor (SPEC §1.5): systemd's notify protocol on
//! `NOTIFY_SOCKET` (a path, or an abstract socket written `@name`) and the
//! s6 readiness newline on `--ready-fd`.
//!
//! Owns: the notify socket and the ready descriptor. Never sends `MAINPID=`:
//! catchd stays the unit's main process (research/peers.md §c item 30).
//! Must not decide when to speak: the run loop calls it on changes. The
//! sd-notify crate is not used because it cannot reach abstract sockets.

use std::ffi::OsStr;
use std::io;
use std::os::unix::net::{SocketAddr, UnixDatagram};

use std::os::fd::AsRawFd;

use crate::outfd::Out;
use crate::sys;

pub struct Notifier {
    socket: Option<UnixDatagram>,
    ready_fd: Option<i32>,
    last_status: String,
    /// READY=1 / STOPPING=1 not yet delivered (the socket was full): sent
    /// again with the next message.
    unsent: (bool, bool),
    /// Whether the stall was already reported.
    stalled: bool,
}

/// The address `NOTIFY_SOCKET` names: `@x` is the abstract name `x`.
pub fn address(value: &OsStr) -> io::Result<SocketAddr> {
    let bytes = value.as_encoded_bytes();
    match bytes.strip_prefix(b"@") {
        Some(name) => {
            use std::os::linux::net::SocketAddrExt;
            SocketAddr::from_abstract_name(name)
        }
        None if bytes.first() == Some(&b'/') => SocketAddr::from_pathname(value),
        None => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "expected an absolute path or @abstract-name",
        )),
    }
}

impl Notifier {
    /// Open the notify socket named by `notify_socket` (catchd's own
    /// `NOTIFY_SOCKET`, never passed on to the daemon).
    pub fn new(notify_socket: Option<&OsStr>, ready_fd: Option<i32>) -> Notifier {
        let socket = notify_socket.and_then(|value| {
            let opened = address(value).and_then(|addr| {
                let sock = UnixDatagram::unbound()?;
                sock.connect_addr(&addr)?;
                Ok(sock)
            });
            match opened {
                Ok(sock) => Some(sock),
                Err(e) => {
                    crate::warn!(
                        "NOTIFY_SOCKET {}: unable to connect: {e}; the supervisor will not hear from catchd",
                        value.to_string_lossy()
                    );
                    None
                }
            }
        });
        Notifier {
            socket,
            ready_fd,
            last_status: String::new(),
            unsent: (false, false),
            stalled: false,
        }
    }

    /// One datagram, never waiting (SPEC §1.1.9): when the supervisor does
    /// not read, READY=1 / STOPPING=1 are kept and sent with the next
    /// message, and a STATUS= is simply replaced by the next one.
    fn send(&mut self, ready: bool, stopping: bool, status: &str) {
        let Some(sock) = &self.socket else {
            return;
        };
        let (ready, stopping) = (ready || self.unsent.0, stopping || self.unsent.1);
        let mut message = String::new();
        if ready {
            message.push_str("READY=1\n");
        }
        if stopping {
            message.push_str("STOPPING=1\n");
        }
        message.push_str("STATUS=");
        message.push_str(status);
        match Out::Socket(sock.as_raw_fd()).write(message.as_bytes()) {
            Ok(_) => {
                self.unsent = (false, false);
                self.stalled = false;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                self.unsent = (ready, stopping);
                if !self.stalled {
                    self.stalled = true;
                    crate::warn!("the notify socket is full (the supervisor is not reading): catchd goes on and sends again later");
                }
            }
            Err(e) => crate::warn!("unable to notify the supervisor ({message:?}): {e}"),
        }
    }

    /// Ready (SPEC §1.1.4): `READY=1` with the status, and the s6 newline.
    pub fn ready(&mut self, status: &str) {
        self.last_status = status.to_string();
        self.send(true, false, status);
        if let Some(fd) = self.ready_fd.take() {
            // catchd's own non-blocking description: the descriptor's
            // reader may be gone, or stalled, and catchd must not wait.
            let out = Out::open(fd);
            sys::close(fd);
            match out.write(b"\n") {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                    crate::warn!("--ready-fd {fd}: nobody reads it; readiness not signalled there")
                }
                Err(e) => crate::warn!("unable to write to --ready-fd {fd}: {e}"),
            }
        }
    }

    /// `STATUS=` when the text changed, or something waits to be sent.
    pub fn status(&mut self, status: &str) {
        if status != self.last_status || self.unsent != (false, false) {
            self.last_status = status.to_string();
            self.send(false, false, status);
        }
    }

    /// The stop sequence started.
    pub fn stopping(&mut self, status: &str) {
        self.last_status = status.to_string();
        self.send(false, true, status);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert!(address(OsStr::new("/run/systemd/notify"))
            .unwrap()
            .as_pathname()
            .is_some());
        use std::os::linux::net::SocketAddrExt;
        let abs = address(OsStr::new("@catchd/x")).unwrap();
        assert_eq!(abs.as_abstract_name(), Some(&b"catchd/x"[..]));
        assert!(address(OsStr::new("relative")).is_err());
        assert!(address(OsStr::new("")).is_err());
    }

    #[test]
    fn messages_reach_a_real_abstract_listener() {
        let name = format!("catchd-notify-test-{}", std::process::id());
        let addr = address(OsStr::new(&format!("@{name}"))).unwrap();
        let listener = UnixDatagram::bind_addr(&addr).unwrap();
        listener
            .set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap();
        let mut n = Notifier::new(Some(OsStr::new(&format!("@{name}"))), None);
        n.ready("main PID 5");
        n.status("main PID 5"); // unchanged: not sent
        n.status("main PID 6");
        n.stopping("stopping");
        let mut got = Vec::new();
        let mut buf = [0u8; 256];
        for _ in 0..3 {
            let len = listener.recv(&mut buf).unwrap();
            got.push(String::from_utf8_lossy(&buf[..len]).into_owned());
        }
        assert_eq!(
            got,
            [
                "READY=1\nSTATUS=main PID 5",
                "STATUS=main PID 6",
                "STOPPING=1\nSTATUS=stopping"
            ]
        );
    }
}
