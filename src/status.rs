//! The `--status-file` document (SPEC §1.5): catchd's PID, state, the main
//! process and how it was chosen, every tracked descendant (pid, ppid,
//! argv, start time, whether it still holds the hold pipe), the pidfile's
//! verdict and the last exit status. Written to a temporary file and
//! renamed over PATH, so a reader never sees half a document; removed
//! when catchd exits.
//!
//! Owns: the document's shape, the extra /proc reads it needs (command
//! lines, descriptors) and the atomic replace. Must not decide anything.

use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::proctree::Tree;
use crate::state::{ChosenBy, Ident};
use crate::sys::Exit;
use crate::track::cgroup::Stats;
use crate::verify::Check;

#[derive(Debug, Serialize, PartialEq)]
pub struct Document {
    pub catchd_pid: i32,
    pub state: &'static str,
    /// While starting with `--ready-when`: what catchd still waits for.
    pub waiting_for: Option<String>,
    pub main: Option<Main>,
    pub pidfile: Option<Pidfile>,
    pub processes: Vec<Process>,
    pub last_exit: Option<LastExit>,
    /// With `--cgroup`: the daemon's cgroup and what its controllers say.
    pub cgroup: Option<Stats>,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct Main {
    pub pid: i32,
    pub chosen_by: Option<ChosenBy>,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct Pidfile {
    pub path: PathBuf,
    /// `ok`, `missing`, `stale` or `refused`.
    pub verdict: &'static str,
    pub detail: Option<String>,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct Process {
    pub pid: i32,
    /// With `--contain`: the PID inside catchd's PID namespace.
    pub ns_pid: Option<i32>,
    pub ppid: i32,
    pub argv: Vec<String>,
    /// RFC 3339, UTC, whole seconds.
    pub start_time: Option<String>,
    pub holds_hold_pipe: bool,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct LastExit {
    pub pid: i32,
    pub code: Option<i32>,
    pub signal: Option<String>,
}

/// The pidfile's verdict in the words the status file and STATUS= use.
pub fn pidfile_words(check: &Check) -> (&'static str, Option<String>) {
    match check {
        Check::Missing => ("missing", None),
        Check::Valid { pid, .. } => ("ok", Some(format!("names PID {pid}"))),
        Check::Stale(why) => ("stale", Some(why.clone())),
        Check::Refused(why) | Check::Outside { why, .. } => ("refused", Some(why.clone())),
    }
}

pub struct Facts<'a> {
    pub state: &'static str,
    pub main: Option<Ident>,
    pub chosen_by: Option<ChosenBy>,
    pub pidfile: Option<(&'a Path, &'a Check)>,
    pub tree: &'a Tree,
    pub last_exit: Option<(i32, Exit)>,
    /// The hold pipe's inode, to tell who still holds it.
    pub hold_inode: Option<u64>,
    pub cgroup: Option<Stats>,
    /// "waiting for a listening socket on ...", while that holds ready back.
    pub waiting_for: Option<&'a str>,
}

pub fn document(facts: &Facts<'_>) -> Document {
    let processes = facts
        .tree
        .live()
        .map(|p| Process {
            pid: p.pid,
            ns_pid: p.nspid,
            ppid: p.ppid,
            argv: argv(p.pid),
            start_time: crate::clock::start_epoch(p.starttime).map(crate::clock::rfc3339),
            holds_hold_pipe: facts.hold_inode.is_some_and(|ino| holds(p.pid, ino)),
        })
        .collect();
    Document {
        catchd_pid: std::process::id() as i32,
        state: facts.state,
        waiting_for: facts.waiting_for.map(String::from),
        main: facts.main.map(|m| Main {
            pid: m.pid,
            chosen_by: facts.chosen_by,
        }),
        pidfile: facts.pidfile.map(|(path, check)| {
            let (verdict, detail) = pidfile_words(check);
            Pidfile {
                path: path.to_path_buf(),
                verdict,
                detail,
            }
        }),
        processes,
        last_exit: facts.last_exit.map(|(pid, exit)| match exit {
            Exit::Code(n) => LastExit {
                pid,
                code: Some(n),
                signal: None,
            },
            Exit::Signal(s) => LastExit {
                pid,
                code: None,
                signal: Some(s.name()),
            },
        }),
        cgroup: facts.cgroup.clone(),
    }
}

fn argv(pid: i32) -> Vec<String> {
    fs::read(format!("/proc/{pid}/cmdline"))
        .unwrap_or_default()
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect()
}

/// Whether any descriptor of `pid` is the pipe with inode `ino`.
fn holds(pid: i32, ino: u64) -> bool {
    let wanted = format!("pipe:[{ino}]");
    let Ok(fds) = fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.flatten()
        .any(|fd| fs::read_link(fd.path()).is_ok_and(|t| t.as_os_str() == wanted.as_str()))
}

pub struct StatusFile {
    path: PathBuf,
    last: String,
}

impl StatusFile {
    pub fn new(path: PathBuf) -> StatusFile {
        StatusFile {
            path,
            last: String::new(),
        }
    }

    /// Replace the file if the document changed.
    pub fn write(&mut self, doc: &Document) {
        let Ok(text) = serde_json::to_string_pretty(doc) else {
            return;
        };
        if text == self.last {
            return;
        }
        match replace(&self.path, text.as_bytes()) {
            Ok(()) => self.last = text,
            Err(e) => crate::warn!("unable to write --status-file {}: {e}", self.path.display()),
        }
    }

    pub fn remove(&self) {
        let _ = fs::remove_file(&self.path);
    }
}

/// Write a temporary file beside `path`, then rename it over `path`.
fn replace(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".tmp.{}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o644)
        .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW)
        .open(&tmp)?;
    file.write_all(bytes)?;
    file.write_all(b"\n")?;
    drop(file);
    fs::rename(&tmp, path)
}
