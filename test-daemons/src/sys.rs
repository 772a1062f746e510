//! Thin syscall helpers for the fake daemons: fork, pipes on raw
//! descriptors, closing every descriptor, atomic pidfile writes, reaping.
//!
//! Owns: every raw-descriptor and fork call the roles make.
//! Must not: hold descriptors in `OwnedFd` (with `--close-all-fds` a process
//! closes descriptors behind Rust's back, so only raw fds that we close
//! ourselves are used), or retry anything on a timer.

use crate::report;
use std::os::fd::RawFd;
use std::path::Path;

/// Print one line on stderr and exit 1 (a fatal error of a fake daemon).
pub fn die(msg: &str) -> ! {
    eprintln!("td-forker[{}]: {msg}", std::process::id());
    std::process::exit(1)
}

/// Result of `fork`, with the child's pid as a plain integer.
pub enum Forked {
    Child,
    Parent(i32),
}

/// fork(2), or `Err` with the reason.
pub fn fork() -> Result<Forked, String> {
    // SAFETY: td-forker never starts a thread, so the child is a complete
    // copy of a single-threaded process and may run any code.
    match unsafe { nix::unistd::fork() } {
        Ok(nix::unistd::ForkResult::Child) => Ok(Forked::Child),
        Ok(nix::unistd::ForkResult::Parent { child }) => Ok(Forked::Parent(child.as_raw())),
        Err(e) => Err(format!("fork: {e}")),
    }
}

/// fork(2), exiting 1 on failure.
pub fn fork_or_die() -> Forked {
    fork().unwrap_or_else(|e| die(&e))
}

/// setsid(2); a failure is reported on stderr and otherwise ignored (a
/// process group leader cannot start a session).
pub fn setsid() {
    if let Err(e) = nix::unistd::setsid() {
        eprintln!("td-forker[{}]: setsid: {e}", std::process::id());
    }
}

/// A close-on-exec pipe as raw descriptors (read end, write end).
pub fn pipe() -> (RawFd, RawFd) {
    let mut fds = [-1; 2];
    // SAFETY: `fds` is a valid array of two ints for pipe2 to fill.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        die(&format!("pipe2: {}", std::io::Error::last_os_error()));
    }
    (fds[0], fds[1])
}

/// close(2) a raw descriptor we own; -1 means "none".
pub fn close(fd: RawFd) {
    if fd >= 0 {
        // SAFETY: callers pass descriptors they own and never use again.
        unsafe { libc::close(fd) };
    }
}

/// Read until EOF (blocking), returning what was read.
pub fn read_to_eof(fd: RawFd) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 64];
    loop {
        // SAFETY: `buf` is valid for `buf.len()` bytes.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n > 0 {
            out.extend_from_slice(&buf[..n as usize]);
        } else if n == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return out;
        }
    }
}

/// Write all of `bytes` (errors are ignored: the reader sees EOF anyway).
pub fn write_all(fd: RawFd, mut bytes: &[u8]) {
    while !bytes.is_empty() {
        // SAFETY: `bytes` is valid for `bytes.len()` bytes.
        let n = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
        if n > 0 {
            bytes = &bytes[n as usize..];
        } else if std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return;
        }
    }
}

/// Close every descriptor above 2 except `keep`, then reopen 0, 1 and 2
/// on /dev/null (what a classic daemon does when it detaches).
pub fn close_all_fds(keep: &[RawFd]) {
    let mut keep: Vec<RawFd> = keep.iter().copied().filter(|&fd| fd > 2).collect();
    keep.sort_unstable();
    let mut first: RawFd = 3;
    for fd in keep.iter().copied().chain(std::iter::once(-1)) {
        // The range [first, fd - 1], or [first, max] after the last kept fd.
        let last = if fd < 0 { u32::MAX } else { (fd - 1) as u32 };
        if fd < 0 || fd > first {
            close_range(first as u32, last);
        }
        first = fd + 1;
    }
    // SAFETY: open with a static NUL-terminated path; dup2 onto 0..=2 only
    // replaces the standard descriptors, which nothing here owns as Rust
    // objects.
    unsafe {
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        if null >= 0 {
            for std_fd in 0..=2 {
                libc::dup2(null, std_fd);
            }
            if null > 2 {
                libc::close(null);
            }
        }
    }
}

/// close_range(2), falling back to a close loop up to RLIMIT_NOFILE.
fn close_range(first: u32, last: u32) {
    // SAFETY: close_range only closes descriptors; none in the range is
    // owned by a live Rust object (see the module header).
    let rc = unsafe { libc::syscall(libc::SYS_close_range, first, last, 0u32) };
    if rc == 0 {
        return;
    }
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid out-parameter.
    let max = if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } == 0 {
        lim.rlim_cur.min(1 << 20) as u32
    } else {
        1024
    };
    for fd in first..=last.min(max.saturating_sub(1)) {
        close(fd as RawFd);
    }
}

/// Write a pidfile atomically (PATH.tmp, then rename) and report it.
pub fn write_pidfile(path: &Path, content: &[u8]) {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let result = std::fs::write(&tmp, content).and_then(|()| std::fs::rename(&tmp, path));
    match result {
        Ok(()) => report::pidfile(path, content),
        Err(e) => eprintln!(
            "td-forker[{}]: cannot write pidfile {}: {e}",
            std::process::id(),
            path.display()
        ),
    }
}

/// Reap every child that has exited (waitpid(-1, WNOHANG) until 0 or
/// ECHILD: one SIGCHLD can stand for several exits). Returns their pids.
pub fn reap_all() -> Vec<i32> {
    let mut reaped = Vec::new();
    loop {
        let mut status = 0;
        // SAFETY: `status` is a valid out-parameter.
        let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
        if pid <= 0 {
            return reaped;
        }
        reaped.push(pid);
    }
}

/// Wait for one specific child; returns its wait status (None on error).
pub fn wait_for(pid: i32) -> Option<i32> {
    loop {
        let mut status = 0;
        // SAFETY: `status` is a valid out-parameter.
        let rc = unsafe { libc::waitpid(pid, &mut status, 0) };
        if rc == pid {
            return Some(status);
        }
        if rc < 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return None;
        }
    }
}

/// `--comm`: rename this process (the kernel keeps 15 bytes).
pub fn set_comm(name: &[u8]) {
    let mut buf = [0u8; 16];
    let n = name.len().min(15);
    buf[..n].copy_from_slice(&name[..n]);
    // SAFETY: PR_SET_NAME reads a NUL-terminated string of at most 16
    // bytes from a buffer that lives across the call.
    unsafe { libc::prctl(libc::PR_SET_NAME, buf.as_ptr(), 0, 0, 0) };
}

/// `--worker-uid`: become this user (group too), or die saying why.
pub fn set_uid(uid: u32) {
    // SAFETY: plain integer arguments.
    let ok = unsafe {
        libc::setgroups(0, std::ptr::null()) == 0
            && libc::setgid(uid) == 0
            && libc::setuid(uid) == 0
    };
    if !ok {
        die(&format!(
            "setuid({uid}): {}",
            std::io::Error::last_os_error()
        ));
    }
}
