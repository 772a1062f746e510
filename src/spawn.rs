//! Start the launcher (SPEC §1.1.2, §1.1.8): catchd's stdio and environment
//! minus `NOTIFY_SOCKET`, the signal mask and SIGCHLD disposition catchd
//! was started with, and the hold pipe's write end on a high descriptor.
//!
//! Owns: building the `Command`, starting a file the kernel will not
//! execute again with `/bin/sh` (see `shfallback`), and mapping exec errors
//! to 126/127. Must not wait for the child or touch its signals after the
//! spawn.

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::process::Command;

use crate::error::{Context, Error, Result};
use crate::shfallback;
use crate::sys::{self, ChildSetup};
use crate::track::cgroup::Cgroup;

/// Spawn PROGRAM ARGS and return its PID. catchd's own descriptors are all
/// close-on-exec, so the daemon gets stdio and the hold pipe only.
pub fn launch(program: &OsString, args: &[OsString], setup: ChildSetup) -> Result<i32> {
    with_shell_fallback(program, args, |p, a| spawn(p, a, setup))
        .map_err(|e| exec_error(program, e))
}

fn spawn(program: &OsStr, args: &[OsString], setup: ChildSetup) -> io::Result<i32> {
    let mut cmd = Command::new(program);
    cmd.args(args).env_remove("NOTIFY_SOCKET");
    // SAFETY: `in_child` makes only async-signal-safe calls (sigprocmask,
    // signal, dup2, fcntl) on values copied into the closure before fork.
    unsafe {
        cmd.pre_exec(move || sys::in_child(&setup));
    }
    // The Child handle is dropped without waiting: catchd reaps every
    // child itself with waitpid(-1), and std never reaps on drop.
    cmd.spawn().map(|child| child.id() as i32)
}

/// `start(PROGRAM, ARGS)`; if the kernel would not execute PROGRAM
/// (ENOEXEC: a script with no `#!` line), `start("/bin/sh", FILE ARGS)`
/// as glibc's `execvp` does itself and musl's does not. The failed child
/// has been reaped by then. If the shell cannot be started either, the
/// first error stands.
fn with_shell_fallback<T>(
    program: &OsStr,
    args: &[OsString],
    mut start: impl FnMut(&OsStr, &[OsString]) -> io::Result<T>,
) -> io::Result<T> {
    match start(program, args) {
        Err(e) if e.raw_os_error() == Some(libc::ENOEXEC) => {
            let Some(sh_args) = shfallback::shell_args(program, args) else {
                return Err(e);
            };
            crate::debug!(
                "{} is not an executable format: running it with {}",
                program.to_string_lossy(),
                shfallback::SHELL
            );
            start(OsStr::new(shfallback::SHELL), &sh_args).map_err(|sh| {
                crate::debug!("{} failed too: {sh}", shfallback::SHELL);
                e
            })
        }
        started => started,
    }
}

/// `launch`, into the cgroup `cg`: born in it (`clone3`), or on kernels
/// before 5.7 moving itself in before exec (`setup.cgroup`).
pub fn launch_in(
    program: &OsString,
    args: &[OsString],
    setup: ChildSetup,
    cg: &Cgroup,
) -> Result<i32> {
    let born_in = ChildSetup {
        cgroup: None,
        ..setup
    };
    let born = with_shell_fallback(program, args, |p, a| {
        crate::clone3::launch_into(p, a, &born_in, cg.dir_fd())
    });
    match born {
        Ok(Some(pid)) => Ok(pid),
        Ok(None) => {
            crate::debug!(
                "no clone3(CLONE_INTO_CGROUP): the launcher moves itself into the cgroup"
            );
            let procs = cg.open_procs().context("open the daemon's cgroup.procs")?;
            launch(
                program,
                args,
                ChildSetup {
                    cgroup: Some(procs.as_raw_fd()),
                    ..setup
                },
            )
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
