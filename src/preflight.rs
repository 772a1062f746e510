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

pub fn check_previous_instance(path: &Path, program: &OsStr, args: &[OsString]) -> Result<()> {
    let Ok(Found::Bytes(bytes)) = pidfile::read(path) else {
        return Ok(());
    };
    let Ok(pid) = pidfile::parse(&bytes) else {
        return Ok(());
    };
    let shown = crate::escape::path(path);
    match pidfile::named(pid) {
        Named::Process { comm, .. } if pid != std::process::id() as i32 => {
            match resolve(program) {
                Some(exe) if runs(pid, &exe, args) => Err(Error::Refused(format!(
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

/// Whether `pid` runs `exe`, directly or as the script an interpreter
/// runs. A process that merely runs the same interpreter (`sh`, `python3`)
/// is a previous instance only if its arguments are PROGRAM's arguments.
fn runs(pid: i32, exe: &Path, args: &[OsString]) -> bool {
    let Ok(cmdline) = fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let proc_exe = fs::read_link(format!("/proc/{pid}/exe")).ok();
    if proc_exe.as_deref() == Some(exe) {
        if !is_interpreter(exe) {
            return true;
        }
        let theirs: Vec<&[u8]> = cmdline
            .strip_suffix(&[0])
            .unwrap_or(&cmdline)
            .split(|b| *b == 0)
            .skip(1)
            .collect();
        let ours: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        return theirs == ours;
    }
    cmdline
        .split(|b| *b == 0)
        .take(2)
        .filter(|arg| !arg.is_empty())
        .filter_map(|arg| fs::canonicalize(Path::new(OsStr::from_bytes(arg))).ok())
        .any(|p| p == exe)
}

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;

/// Programs that run another program's text: the same executable says
/// nothing about being the same service.
const INTERPRETERS: &[&str] = &[
    "sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "busybox", "env", "python", "perl", "ruby",
    "node", "nodejs", "php", "lua", "luajit", "tclsh", "java", "pwsh", "guile", "awk", "gawk",
    "mawk", "expect", "Rscript",
];

/// Whether `exe`'s file name, less a version suffix (`python3.11`), is
/// one of `INTERPRETERS`.
pub fn is_interpreter(exe: &Path) -> bool {
    let Some(name) = exe.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    let base = name.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.' || c == '-');
    INTERPRETERS.contains(&base)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpreters_are_known_by_name_with_any_version() {
        for yes in [
            "/usr/bin/dash",
            "/usr/bin/python3.11",
            "/bin/sh",
            "/usr/bin/perl5.36",
        ] {
            assert!(is_interpreter(Path::new(yes)), "{yes}");
        }
        for no in ["/usr/sbin/nginx", "/usr/bin/memcached", "/usr/bin/shd"] {
            assert!(!is_interpreter(Path::new(no)), "{no}");
        }
    }
}
