//! Start the launcher directly inside the daemon's cgroup with
//! `clone3(CLONE_INTO_CGROUP)` (kernel 5.7; SPEC §1.6), so that it is
//! never, even between fork and exec, a member of catchd's own cgroup.
//! Kernels without it answer ENOSYS, EINVAL or E2BIG: the caller then
//! spawns as usual and the child moves itself in before exec.
//!
//! Owns: the raw clone3 call, the child's side up to exec, and reporting
//! an exec failure back through a close-on-exec pipe. Must not allocate or
//! take a lock in the child: everything it needs is built before the call.

use std::ffi::{CString, OsStr, OsString};
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::ffi::OsStrExt;

use crate::sys::{self, ChildSetup};

const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// `struct clone_args` up to `cgroup` (CLONE_ARGS_SIZE_VER2, 88 bytes).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

fn cstring(s: &OsStr) -> io::Result<CString> {
    CString::new(s.as_bytes()).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
}

/// Spawn PROGRAM ARGS into the cgroup whose directory is `cgroup_dir`.
/// `Ok(None)`: this kernel cannot; nothing was started.
pub fn launch_into(
    program: &OsStr,
    args: &[OsString],
    setup: &ChildSetup,
    cgroup_dir: RawFd,
) -> io::Result<Option<i32>> {
    let prog = cstring(program)?;
    let argv_owned = std::iter::once(program)
        .chain(args.iter().map(OsString::as_os_str))
        .map(cstring)
        .collect::<io::Result<Vec<_>>>()?;
    let envp_owned = std::env::vars_os()
        .filter(|(k, _)| k != "NOTIFY_SOCKET")
        .map(|(k, v)| {
            let mut kv = k;
            kv.push("=");
            kv.push(v);
            cstring(&kv)
        })
        .collect::<io::Result<Vec<_>>>()?;
    let argv: Vec<*const libc::c_char> = argv_owned
        .iter()
        .map(|c| c.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect();
    let envp: Vec<*const libc::c_char> = envp_owned
        .iter()
        .map(|c| c.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect();
    let (report_r, report_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    let mut cargs = CloneArgs {
        flags: CLONE_INTO_CGROUP,
        exit_signal: libc::SIGCHLD as u64,
        cgroup: cgroup_dir as u64,
        ..CloneArgs::default()
    };
    // SAFETY: clone3 without CLONE_VM is a fork: the child gets a copy of
    // this (single-threaded) process and runs on. `cargs` is a valid,
    // properly sized clone_args that lives for the call.
    let pid = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &mut cargs as *mut CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    if pid == 0 {
        // The child: only async-signal-safe calls on prepared data. As
        // std's spawn: SIGPIPE back to the default first (the Rust runtime
        // ignores it), then `in_child` restores what catchd started with.
        // SAFETY: setting a disposition to SIG_DFL touches no memory.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
        let errno = match sys::in_child(setup) {
            Err(e) => e.raw_os_error().unwrap_or(libc::EINVAL),
            // SAFETY: NUL-terminated strings and NULL-terminated arrays
            // built before the clone; execvpe returns only on failure.
            Ok(()) => unsafe {
                libc::execvpe(prog.as_ptr(), argv.as_ptr(), envp.as_ptr());
                *libc::__errno_location()
            },
        };
        let bytes = errno.to_ne_bytes();
        // SAFETY: write(2) from a stack buffer, then _exit(2).
        unsafe {
            libc::write(report_w.as_raw_fd(), bytes.as_ptr().cast(), bytes.len());
            libc::_exit(127);
        }
    }
    drop(report_w);
    if pid < 0 {
        let e = io::Error::last_os_error();
        return match e.raw_os_error() {
            Some(libc::ENOSYS | libc::EINVAL | libc::E2BIG) => Ok(None),
            _ => Err(e),
        };
    }
    let pid = pid as i32;
    // EOF: exec succeeded (the pipe closed on exec). Four bytes: errno.
    let mut buf = [0u8; 4];
    let mut got = 0;
    let file = std::fs::File::from(report_r);
    while got < buf.len() {
        match nix::unistd::read(&file, &mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    if got == buf.len() {
        let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
        return Err(io::Error::from_raw_os_error(i32::from_ne_bytes(buf)));
    }
    Ok(Some(pid))
}
