//! One instance per pidfile (SPEC §1.1.7): a lock tied to the pidfile's
//! path, held for catchd's whole life and leaving no file behind. It is an
//! abstract Unix socket (Linux's socket namespace without a file system
//! entry) named from the canonical pidfile path: binding it is atomic, the
//! kernel drops it when catchd's last descriptor closes (also on SIGKILL),
//! and a second catchd that finds the name taken connects to it and learns
//! the first one's PID from the socket's credentials (SO_PEERCRED).
//!
//! Owns: the name, the bind, the loser's question and the winner's
//! draining of those questions. Must not read or judge the pidfile.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixListener;
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use nix::sys::socket::{self, sockopt, AddressFamily, Backlog, SockFlag, SockType, UnixAddr};

use crate::error::{Error, Result};

/// An abstract socket name holds at most 107 bytes after its NUL.
const NAME_MAX: usize = 107;
const PREFIX: &str = "catchd/pidfile:";

pub struct InstanceLock {
    listener: UnixListener,
}

impl InstanceLock {
    /// Take the lock for `pidfile`, or fail (125) naming the catchd that
    /// holds it.
    ///
    /// `None`: the name is squatted by another, unprivileged user's process
    /// that is not catchd. Abstract names carry no permissions, so any local
    /// user could otherwise keep a root service from ever starting; catchd
    /// says so and goes on without the lock (the previous-instance check
    /// still runs).
    pub fn acquire(pidfile: &Path) -> Result<Option<InstanceLock>> {
        let key = canonical(pidfile);
        let name = name(key.as_os_str().as_bytes());
        let shown = crate::escape::path(pidfile);
        let addr = UnixAddr::new_abstract(&name).map_err(|e| lock_error(&shown, e.into()))?;
        // A holder that exits between our bind and our question frees the
        // name, and one that has bound but not yet listened refuses the
        // question: try again, with a short back-off (this is set-up, before
        // anything is launched; under load a holder can be preempted
        // between bind and listen for milliseconds).
        for attempt in 0..12u32 {
            if attempt > 0 {
                std::thread::sleep(std::time::Duration::from_millis(1 << attempt.min(7)));
            }
            let fd = unix_socket().map_err(|e| lock_error(&shown, e))?;
            match socket::bind(std::os::fd::AsRawFd::as_raw_fd(&fd), &addr) {
                Ok(()) => {
                    socket::listen(&fd, Backlog::new(16).unwrap_or(Backlog::MAXCONN))
                        .map_err(|e| lock_error(&shown, e.into()))?;
                    crate::debug!("holding the instance lock for {shown}");
                    return Ok(Some(InstanceLock {
                        listener: UnixListener::from(fd),
                    }));
                }
                Err(Errno::EADDRINUSE) => match holder(&addr) {
                    Ok((pid, _)) if is_catchd(pid) => {
                        return Err(Error::Refused(format!(
                            "another catchd (PID {pid}) already runs for the pidfile {shown}; not starting a second instance"
                        )))
                    }
                    // Abstract names carry no permissions: anyone may
                    // squat one. Say who, rather than blame a catchd.
                    Ok((pid, uid)) if uid != 0 && uid != rustix::process::geteuid().as_raw() => {
                        crate::warn!(
                            "the instance lock for the pidfile {shown} is squatted by PID {pid} ({}) of user {uid}, which is not catchd; going on without it",
                            comm(pid)
                        );
                        return Ok(None);
                    }
                    Ok((pid, _)) => {
                        return Err(Error::Refused(format!(
                            "the instance lock for the pidfile {shown} is held by PID {pid} ({}), which is not catchd; not starting",
                            comm(pid)
                        )))
                    }
                    Err(Errno::ECONNREFUSED | Errno::ENOENT) => continue,
                    Err(e) => {
                        return Err(Error::Refused(format!(
                            "another catchd already runs for the pidfile {shown} (its PID is unknown: {e}); not starting a second instance"
                        )))
                    }
                },
                Err(e) => return Err(lock_error(&shown, e.into())),
            }
        }
        Err(Error::Refused(format!(
            "the instance lock for the pidfile {shown} keeps changing hands; not starting"
        )))
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.listener.as_fd()
    }

    /// Accept and close the questions of catchd instances that lost.
    pub fn drain(&self) {
        for _ in 0..64 {
            match self.listener.accept() {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
    }
}

fn lock_error(shown: &str, e: io::Error) -> Error {
    Error::Refused(format!(
        "unable to take the instance lock for the pidfile {shown}: {e}"
    ))
}

fn unix_socket() -> io::Result<OwnedFd> {
    let flags = SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK;
    Ok(socket::socket(
        AddressFamily::Unix,
        SockType::Stream,
        flags,
        None,
    )?)
}

/// The PID and user of the process that bound `addr`, asked by connecting.
fn holder(addr: &UnixAddr) -> std::result::Result<(i32, u32), Errno> {
    let fd = unix_socket().map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(0)))?;
    socket::connect(std::os::fd::AsRawFd::as_raw_fd(&fd), addr)?;
    let cred = socket::getsockopt(&fd, sockopt::PeerCredentials)?;
    Ok((cred.pid(), cred.uid()))
}

/// Whether `pid` runs the same executable as this catchd.
fn is_catchd(pid: i32) -> bool {
    let exe = |p: &str| std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino()));
    exe(&format!("/proc/{pid}/exe")).is_some_and(|theirs| exe("/proc/self/exe") == Some(theirs))
}

fn comm(pid: i32) -> String {
    std::fs::read(format!("/proc/{pid}/comm"))
        .map(|c| crate::escape::bytes(c.strip_suffix(b"\n").unwrap_or(&c)))
        .unwrap_or_else(|_| "?".into())
}

/// The lock's name for a canonical path: the path itself when it fits,
/// else a hash of it and as much of its end as fits.
pub fn name(path: &[u8]) -> Vec<u8> {
    let mut name = PREFIX.as_bytes().to_vec();
    if PREFIX.len() + path.len() <= NAME_MAX {
        name.extend_from_slice(path);
        return name;
    }
    name.extend_from_slice(format!("#{:016x}:", fnv1a(path)).as_bytes());
    let room = NAME_MAX - name.len();
    name.extend_from_slice(&path[path.len() - room..]);
    name
}

/// FNV-1a, 64 bits: stable across builds and versions (unlike std's
/// hasher), so that every catchd derives the same name.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The pidfile's path made absolute, with its nearest existing ancestor
/// resolved (symlinks, `..`), so that two spellings of one file share a
/// lock even before its directory exists.
pub fn canonical(pidfile: &Path) -> PathBuf {
    let absolute = match std::env::current_dir() {
        Ok(cwd) => cwd.join(pidfile),
        Err(_) => pidfile.to_path_buf(),
    };
    let mut rest = Vec::new();
    let mut base = absolute.as_path();
    loop {
        if let Ok(real) = std::fs::canonicalize(base) {
            let mut out = real;
            for part in rest.iter().rev() {
                out.push(part);
            }
            return out;
        }
        match (base.parent(), base.file_name()) {
            (Some(parent), Some(last)) => {
                rest.push(last.to_os_string());
                base = parent;
            }
            _ => break,
        }
    }
    absolute
        .components()
        .filter(|c| !matches!(c, Component::CurDir))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_paths_get_a_stable_hashed_name_that_fits() {
        let short = name(b"/run/a.pid");
        assert_eq!(short, b"catchd/pidfile:/run/a.pid");
        let long = vec![b'x'; 300];
        let a = name(&long);
        assert_eq!(a.len(), NAME_MAX);
        assert_eq!(a, name(&long));
        let mut other = long.clone();
        other[0] = b'y';
        assert_ne!(a, name(&other));
    }

    #[test]
    fn spellings_of_one_missing_file_share_a_key() {
        let tmp = std::env::temp_dir().join(format!("catchd-lock-{}", std::process::id()));
        std::fs::create_dir_all(&tmp).unwrap();
        let a = canonical(&tmp.join("not/yet/x.pid"));
        let b = canonical(
            &tmp.join("../")
                .join(tmp.file_name().unwrap())
                .join("not/yet/x.pid"),
        );
        let _ = std::fs::remove_dir_all(&tmp);
        assert_eq!(a, b);
        assert!(a.ends_with("not/yet/x.pid"));
    }

    #[test]
    fn a_second_holder_is_refused_naming_the_first() {
        let path =
            std::env::temp_dir().join(format!("catchd-lock-test-{}.pid", std::process::id()));
        let first = InstanceLock::acquire(&path).unwrap().unwrap();
        let Err(e) = InstanceLock::acquire(&path) else {
            panic!("a second lock was granted");
        };
        let text = e.to_string();
        assert!(
            text.contains(&format!("PID {}", std::process::id())),
            "{text}"
        );
        first.drain();
        drop(first);
        assert!(
            InstanceLock::acquire(&path).is_ok_and(|l| l.is_some()),
            "the lock outlived its holder"
        );
    }
}
