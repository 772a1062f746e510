//! Start the launcher (SPEC §1.1.2, §1.1.8): catchd's stdio and environment
//! minus `NOTIFY_SOCKET`, the signal mask and SIGCHLD disposition catchd
//! was started with, and the hold pipe's write end on a high descriptor.
//!
//! Owns: building the `Command` and mapping exec errors to 126/127. Must not
//! wait for the child or touch its signals after the spawn.

use std::ffi::OsString;
use std::io;
use std::os::fd::RawFd;
use std::os::unix::process::CommandExt;
use std::process::Command;

use crate::error::{Error, Result};
use crate::sys::{self, ChildSetup};

/// Spawn PROGRAM ARGS and return its PID. catchd's own descriptors are all
/// close-on-exec, so the daemon gets stdio and the hold pipe only.
pub fn launch(program: &OsString, args: &[OsString], setup: ChildSetup) -> Result<i32> {
    let mut cmd = Command::new(program);
    cmd.args(args).env_remove("NOTIFY_SOCKET");
    // SAFETY: `in_child` makes only async-signal-safe calls (sigprocmask,
    // signal, dup2, fcntl) on values copied into the closure before fork.
    unsafe {
        cmd.pre_exec(move || sys::in_child(&setup));
    }
    match cmd.spawn() {
        // The Child handle is dropped without waiting: catchd reaps every
        // child itself with waitpid(-1), and std never reaps on drop.
        Ok(child) => Ok(child.id() as i32),
        Err(e) => Err(exec_error(program, e)),
    }
}

/// `launch`, into the cgroup whose directory is `dir`: born in it
/// (`clone3`), or on kernels before 5.7 moving itself in before exec
/// (`setup.cgroup`).
pub fn launch_in(
    program: &OsString,
    args: &[OsString],
    setup: ChildSetup,
    dir: RawFd,
) -> Result<i32> {
    let born_in = ChildSetup {
        cgroup: None,
        ..setup
    };
    match crate::clone3::launch_into(program, args, &born_in, dir) {
        Ok(Some(pid)) => Ok(pid),
        Ok(None) => {
            crate::debug!(
                "no clone3(CLONE_INTO_CGROUP): the launcher moves itself into the cgroup"
            );
            launch(program, args, setup)
        }
        Err(e) => Err(exec_error(program, e)),
    }
}

pub fn exec_error(program: &OsString, e: io::Error) -> Error {
    let shown = program.to_string_lossy().into_owned();
    // execvp reports EACCES when PATH has an unreadable directory even if
    // PROGRAM is in none of them: that is "not found" too, as for a shell.
    let bare = !program.as_encoded_bytes().contains(&b'/');
    let nowhere = bare && crate::preflight::resolve(program).is_none();
    match e.raw_os_error() {
        Some(sys::CGROUP_ENTRY_FAILED) => Error::Sys {
            what: format!("run {shown} in the daemon's cgroup"),
            source: io::Error::other("the kernel refused to move it there"),
        },
        Some(libc::ENOENT) => Error::NotFound(shown),
        Some(libc::EACCES) if nowhere => Error::NotFound(shown),
        Some(libc::EACCES | libc::ENOEXEC | libc::EISDIR | libc::ETXTBSY | libc::EPERM) => {
            Error::NotExecutable {
                program: shown,
                source: e,
            }
        }
        _ => Error::Sys {
            what: format!("run {shown}"),
            source: e,
        },
    }
}
