//! Writing to a descriptor catchd shares with others (its stderr, the
//! `--ready-fd`) without ever blocking (SPEC §1.1.9).
//!
//! `O_NONBLOCK` is never set on the shared descriptor itself: the open
//! file description belongs to the supervisor and the daemon too, whose
//! writes would start failing with EAGAIN. Instead a pipe, FIFO or
//! terminal is opened again through `/proc/self/fd/N`, which gives catchd
//! a description of its own, non-blocking and close-on-exec. A socket is
//! written with `send(MSG_DONTWAIT)`; a regular file or /dev/null never
//! stalls on a reader and is written as it is.
//!
//! Owns: choosing how to write, one non-blocking `write`. Must not queue
//! or retry: the caller (`log.rs`) decides what to keep.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

pub enum Out {
    /// catchd's own non-blocking description of the same pipe or terminal.
    Private(OwnedFd),
    /// A socket: `send` with `MSG_DONTWAIT | MSG_NOSIGNAL`.
    Socket(RawFd),
    /// A regular file or other descriptor that does not stall on a reader.
    Plain(RawFd),
    /// A pipe catchd may not open again (another user's, as after a
    /// `setpriv`): written only when `poll` says it has room, at most
    /// `PIPE_BUF` at a time. Another writer filling it between the two
    /// calls could still make that write wait: the narrow remainder.
    Polled(RawFd),
    /// Nothing to write to (closed, or a pipe whose reader is gone).
    Off,
}

impl Out {
    /// How to write to `fd` without blocking.
    pub fn open(fd: RawFd) -> Out {
        // SAFETY: fstat fills a zeroed (valid), properly sized struct; an
        // invalid fd gives EBADF.
        let st = unsafe {
            let mut st: libc::stat = std::mem::zeroed();
            if libc::fstat(fd, &mut st) == -1 {
                return Out::Off;
            }
            st
        };
        match st.st_mode & libc::S_IFMT {
            libc::S_IFSOCK => Out::Socket(fd),
            libc::S_IFIFO | libc::S_IFCHR => match reopen(fd) {
                Ok(own) => Out::Private(own),
                // A pipe with no reader left: nobody will ever read it.
                Err(e) if e.raw_os_error() == Some(libc::ENXIO) => Out::Off,
                // /dev/null and the like, or no /proc: a character device
                // other than a terminal does not stall.
                Err(_) if st.st_mode & libc::S_IFMT == libc::S_IFCHR => Out::Plain(fd),
                Err(_) => Out::Polled(fd),
            },
            _ => Out::Plain(fd),
        }
    }

    /// The descriptor to poll for POLLOUT while something waits.
    pub fn raw(&self) -> Option<RawFd> {
        match self {
            Out::Private(fd) => Some(fd.as_raw_fd()),
            Out::Socket(fd) | Out::Plain(fd) | Out::Polled(fd) => Some(*fd),
            Out::Off => None,
        }
    }

    /// One non-blocking write: how many bytes went out. EAGAIN is
    /// `WouldBlock`, EPIPE `BrokenPipe`.
    pub fn write(&self, bytes: &[u8]) -> io::Result<usize> {
        let rc = match self {
            Out::Off => return Err(io::ErrorKind::BrokenPipe.into()),
            // SAFETY: the buffer is valid for its length; fd is open.
            Out::Socket(fd) => unsafe {
                libc::send(
                    *fd,
                    bytes.as_ptr().cast(),
                    bytes.len(),
                    libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
                )
            },
            // SAFETY: as above.
            Out::Private(fd) => unsafe {
                libc::write(fd.as_raw_fd(), bytes.as_ptr().cast(), bytes.len())
            },
            // SAFETY: as above.
            Out::Plain(fd) => unsafe { libc::write(*fd, bytes.as_ptr().cast(), bytes.len()) },
            Out::Polled(fd) => {
                let mut p = libc::pollfd {
                    fd: *fd,
                    events: libc::POLLOUT,
                    revents: 0,
                };
                // SAFETY: one valid pollfd, timeout 0: never waits.
                let n = unsafe { libc::poll(&mut p, 1, 0) };
                if n < 0 {
                    return Err(io::Error::last_os_error());
                }
                if p.revents & libc::POLLERR != 0 {
                    return Err(io::ErrorKind::BrokenPipe.into());
                }
                if p.revents & libc::POLLOUT == 0 {
                    return Err(io::ErrorKind::WouldBlock.into());
                }
                let len = bytes.len().min(libc::PIPE_BUF);
                // SAFETY: the buffer is valid for `len` bytes; fd is open.
                unsafe { libc::write(*fd, bytes.as_ptr().cast(), len) }
            }
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(rc as usize)
    }
}

/// A new, non-blocking, close-on-exec open file description of what `fd`
/// refers to. Fails with ENXIO for a pipe that has no reader.
pub fn reopen(fd: RawFd) -> io::Result<OwnedFd> {
    let path = format!("/proc/self/fd/{fd}\0");
    // SAFETY: a NUL-terminated path; the returned descriptor is ours.
    let rc = unsafe {
        libc::open(
            path.as_ptr().cast(),
            libc::O_WRONLY | libc::O_NONBLOCK | libc::O_CLOEXEC | libc::O_NOCTTY,
        )
    };
    if rc == -1 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned this descriptor to us.
    Ok(unsafe { OwnedFd::from_raw_fd(rc) })
}
