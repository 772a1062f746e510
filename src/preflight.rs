//! Before launching with `--pidfile` (SPEC §1.1.7): refuse to start a second
//! copy while a previous instance, orphaned when an earlier catchd was
//! SIGKILLed, still runs from the same pidfile.
//!
//! Owns: resolving PROGRAM to a path and matching it against a live PID.
//! Must not signal or modify anything: a stale file is left for the daemon.

use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::pidfile::{self, Found, Named};

pub fn check_previous_instance(path: &Path, program: &OsStr) -> Result<()> {
    let Ok(Found::Bytes(bytes)) = pidfile::read(path) else {
        return Ok(());
    };
    let Ok(pid) = pidfile::parse(&bytes) else {
        return Ok(());
    };
    let shown = path.display();
    match pidfile::named(pid) {
        Named::Process { comm, .. } if pid != std::process::id() as i32 => {
            match resolve(program) {
                Some(exe) if runs(pid, &exe) => Err(Error::Refused(format!(
                    "a previous instance is still running: PID {pid} ({comm}) from {shown} runs {}; stop it first",
                    exe.display()
                ))),
                _ => {
                    crate::info!("{shown} is stale: PID {pid} ({comm}) runs something else; left for the daemon to overwrite");
                    Ok(())
                }
            }
        }
        _ => {
            crate::info!("{shown} is stale: PID {pid} is not running; left for the daemon to overwrite");
            Ok(())
        }
    }
}

/// PROGRAM as a canonical path: as given if it has a slash, else from PATH.
pub fn resolve(program: &OsStr) -> Option<PathBuf> {
    let as_path = Path::new(program);
    if as_path.components().count() > 1 || program.as_encoded_bytes().contains(&b'/') {
        return fs::canonicalize(as_path).ok();
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
        .and_then(|found| fs::canonicalize(found).ok())
}

/// Whether `pid` runs `exe`, directly or as the script an interpreter runs.
fn runs(pid: i32, exe: &Path) -> bool {
    let proc_exe = fs::read_link(format!("/proc/{pid}/exe")).ok();
    if proc_exe.as_deref() == Some(exe) {
        return true;
    }
    let Ok(cmdline) = fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    cmdline
        .split(|b| *b == 0)
        .take(2)
        .filter(|arg| !arg.is_empty())
        .filter_map(|arg| fs::canonicalize(Path::new(OsStr::from_bytes(arg))).ok())
        .any(|p| p == exe)
}

use std::os::unix::ffi::OsStrExt;
