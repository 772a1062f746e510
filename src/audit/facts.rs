//! The plain facts audit mode judges: the PID file, the directories above
//! it, the process under its PID, and what the operator expects to find.
//!
//! Owns: data shapes only, filled by `probe.rs` from the system and by hand
//! in `judge_tests.rs`. Must not read anything itself.

use std::path::PathBuf;

use crate::pidfile::Invalid;

/// The PID file itself, as `lstat`/`fstat` saw it.
#[derive(Debug, Clone, PartialEq)]
pub enum FileFact {
    Symlink {
        uid: u32,
        target: Option<PathBuf>,
    },
    Regular {
        uid: u32,
        mode: u32,
        mtime: f64,
        content: Result<i32, Invalid>,
    },
}

/// One directory (or directory symlink) on the way to the file.
#[derive(Debug, Clone, PartialEq)]
pub struct DirFact {
    pub path: PathBuf,
    pub uid: u32,
    pub gid: u32,
    pub mode: u32,
    pub symlink: bool,
}

/// What runs under the PID, read from /proc. Times are seconds since the epoch.
#[derive(Debug, Clone, PartialEq)]
pub enum ProcFact {
    NotRunning,
    KernelThread {
        comm: String,
    },
    /// A thread ID: thread `tid` of process `tgid`.
    Thread {
        tid: i32,
        tgid: i32,
    },
    Running(Running),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Running {
    pub comm: String,
    pub uid: u32,
    pub start: Option<f64>,
    /// `/proc/PID/exe`, or why it could not be read.
    pub exe: Result<PathBuf, String>,
    /// (dev, inode) of the executable, when readable.
    pub exe_id: Option<(u64, u64)>,
}

/// `--expect-exe` (as given, canonicalized, and its (dev, inode)) and `--expect-name`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Expect {
    pub exe: Option<ExpectExe>,
    pub name: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ExpectExe {
    pub given: PathBuf,
    pub resolved: Option<PathBuf>,
    pub id: Option<(u64, u64)>,
}

/// Everything known about one PID file.
#[derive(Debug, Clone, PartialEq)]
pub struct Facts {
    pub file: FileFact,
    pub dirs: Vec<DirFact>,
    pub pid: Option<i32>,
    pub process: Option<ProcFact>,
}
