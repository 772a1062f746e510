//! Gathers the facts `judge.rs` decides on: the PID file (read once, without
//! following a symlink), every directory above it, and the process its PID
//! names in /proc.
//!
//! Owns: read-only system calls (open, fstat, lstat, readlink, /proc reads).
//! Must not decide anything, and must never write, signal or delete.

use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use super::facts::{DirFact, Expect, ExpectExe, Facts, FileFact, ProcFact, Running};
use crate::pidfile::{self, Snapshot};

/// What probing one path gave.
pub enum Probed {
    /// The file vanished (or never existed).
    Missing,
    Facts(Facts),
}

pub fn probe(path: &Path) -> io::Result<Probed> {
    let file = match pidfile::snapshot(path)? {
        Snapshot::Missing => return Ok(Probed::Missing),
        // lstat after open: a symlink that has gone since is missing, one
        // replaced by something else is reported as changed, never guessed at.
        Snapshot::Symlink => match std::fs::symlink_metadata(path) {
            Ok(meta) if meta.file_type().is_symlink() => FileFact::Symlink {
                uid: meta.uid(),
                target: std::fs::read_link(path).ok(),
            },
            Ok(_) => return Err(io::Error::other("changed while being read; check it again")),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Probed::Missing),
            Err(e) => return Err(e),
        },
        Snapshot::File { bytes, meta } => FileFact::Regular {
            uid: meta.uid(),
            mode: meta.mode(),
            mtime: meta.mtime() as f64 + meta.mtime_nsec() as f64 / 1e9,
            content: pidfile::parse(&bytes),
        },
    };
    let pid = match &file {
        FileFact::Regular {
            content: Ok(pid), ..
        } => Some(*pid),
        _ => None,
    };
    Ok(Probed::Facts(Facts {
        file,
        dirs: directories(path),
        pid,
        process: pid.map(process),
    }))
}

/// Every directory above `path`: the ones named in it (where a directory
/// symlink such as /var/run is seen as a symlink) and the real ones it
/// resolves to, each once. Components that cannot be examined are skipped.
fn directories(path: &Path) -> Vec<DirFact> {
    let absolute = match std::env::current_dir() {
        Ok(cwd) => cwd.join(path),
        Err(_) => path.to_path_buf(),
    };
    let named = absolute
        .ancestors()
        .skip(1)
        .map(|d| (d.to_path_buf(), false));
    let real = absolute
        .parent()
        .and_then(|p| std::fs::canonicalize(p).ok())
        .map(|p| {
            p.ancestors()
                .map(|d| (d.to_path_buf(), true))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    let mut seen = Vec::new();
    let mut dirs = Vec::new();
    for (dir, follow) in named.chain(real) {
        let meta = if follow {
            std::fs::metadata(&dir)
        } else {
            std::fs::symlink_metadata(&dir)
        };
        let Ok(meta) = meta else { continue };
        if seen.contains(&(meta.dev(), meta.ino())) {
            continue;
        }
        seen.push((meta.dev(), meta.ino()));
        let symlink = meta.file_type().is_symlink();
        if symlink || meta.is_dir() {
            dirs.push(DirFact {
                path: dir,
                uid: meta.uid(),
                gid: meta.gid(),
                mode: meta.mode(),
                symlink,
            });
        }
    }
    dirs
}

/// What runs under `pid`. stat and status are read through one /proc/PID
/// directory handle, so a PID recycled between them fails the later read
/// instead of mixing two processes; exe is read by path (a recycle in that
/// instant would show the new process's executable).
pub fn process(pid: i32) -> ProcFact {
    if let Some(tgid) = pidfile::thread_of(pid) {
        return ProcFact::Thread { tid: pid, tgid };
    }
    let Ok(proc) = procfs::process::Process::new(pid) else {
        return ProcFact::NotRunning;
    };
    let stat = match proc.stat() {
        // A first thread that called pthread_exit shows Z: alive while
        // any other thread runs.
        Ok(stat) if crate::proctree::is_dead(pid, stat.state) => return ProcFact::NotRunning,
        Ok(stat) => stat,
        Err(_) => return ProcFact::NotRunning,
    };
    if pidfile::is_kernel_thread(stat.flags, stat.pid, stat.ppid) {
        return ProcFact::KernelThread { comm: stat.comm };
    }
    let uid = match proc.status() {
        Ok(status) => status.euid,
        Err(_) => match proc.uid() {
            Ok(uid) => uid,
            Err(_) => return ProcFact::NotRunning,
        },
    };
    let start = crate::clock::start_epoch(stat.starttime);
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).map_err(|e| e.to_string());
    let exe_id = std::fs::metadata(format!("/proc/{pid}/exe"))
        .ok()
        .map(|m| (m.dev(), m.ino()));
    ProcFact::Running(Running {
        comm: stat.comm,
        uid,
        start,
        exe,
        exe_id,
    })
}

/// `--expect-exe PATH` resolved once: its canonical path and (dev, inode).
/// A PATH that names no executable file is the operator's typo, a usage
/// error (2), never a verdict about the PID files.
pub fn expectation(exe: Option<&Path>, name: Option<&str>) -> crate::error::Result<Expect> {
    let exe = match exe {
        None => None,
        Some(given) => {
            let meta = std::fs::metadata(given).map_err(|e| {
                crate::error::Error::usage(format!(
                    "--expect-exe {}: {e}; expected the path of an executable file",
                    crate::escape::path(given)
                ))
            })?;
            if !meta.is_file() || meta.mode() & 0o111 == 0 {
                return Err(crate::error::Error::usage(format!(
                    "--expect-exe {}: not an executable file; expected the path of the daemon's executable",
                    crate::escape::path(given)
                )));
            }
            Some(ExpectExe {
                given: given.to_path_buf(),
                resolved: std::fs::canonicalize(given).ok(),
                id: Some((meta.dev(), meta.ino())),
            })
        }
    };
    Ok(Expect {
        exe,
        name: name.map(str::to_string),
    })
}
