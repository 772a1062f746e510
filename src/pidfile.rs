//! PID files as evidence: read at most 64 bytes, parse exactly one positive
//! decimal PID, say what the named PID is, and name the `Verdict`s a file can
//! earn (SPEC §1.1.4, §2, §3).
//!
//! Owns: the file-content rules and the `Verdict` type shared by run mode and
//! audit mode. Must not decide whether a PID may be signalled (that needs
//! catchd's tree: see `state.rs`) and must not follow a symlink for the final
//! path component.

use std::fmt;
use std::fs::{File, Metadata};
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Bytes read at most; a file with more is `invalid` (SPEC §2).
pub const MAX_LEN: usize = 64;

/// What a PID file is worth (SPEC §2). A file may earn several; `Ok` only alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Names a live process that plausibly wrote it.
    Ok,
    /// Not exactly one PID, or a PID no daemon writes (0, 1, a kernel thread).
    Invalid,
    /// The PID is not running.
    Stale,
    /// Another process runs under the PID now.
    Reused,
    /// Someone other than its owner (or root) could replace the file.
    Unsafe,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Invalid => "invalid",
            Verdict::Stale => "stale",
            Verdict::Reused => "reused",
            Verdict::Unsafe => "unsafe",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a PID file's content is not a usable PID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invalid {
    Empty,
    TooLong,
    NotDecimal(String),
    Zero,
    Init,
    OutOfRange,
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Invalid::Empty => write!(f, "is empty; expected one positive decimal PID"),
            Invalid::TooLong => write!(
                f,
                "is longer than {MAX_LEN} bytes; expected one positive decimal PID"
            ),
            Invalid::NotDecimal(shown) => write!(
                f,
                "holds {shown}; expected one positive decimal PID and an optional newline"
            ),
            Invalid::Zero => write!(f, "holds PID 0, which is no process"),
            Invalid::Init => write!(f, "holds PID 1 (init), which catchd never signals"),
            Invalid::OutOfRange => write!(f, "holds a number too large to be a PID"),
        }
    }
}

/// Parse a PID file's bytes: ASCII digits, optionally one trailing `\n`.
/// No sign, no spaces, no leading zeros beyond a lone `0`, value in 2..=i32::MAX.
pub fn parse(bytes: &[u8]) -> Result<i32, Invalid> {
    if bytes.len() > MAX_LEN {
        return Err(Invalid::TooLong);
    }
    let body = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    if body.is_empty() {
        return Err(Invalid::Empty);
    }
    if !body.iter().all(u8::is_ascii_digit) || (body.len() > 1 && body[0] == b'0') {
        return Err(Invalid::NotDecimal(show(bytes)));
    }
    // All ASCII digits, so this is valid UTF-8; overflow means out of range.
    let text = std::str::from_utf8(body).map_err(|_| Invalid::NotDecimal(show(bytes)))?;
    match text.parse::<i32>() {
        Ok(0) => Err(Invalid::Zero),
        Ok(1) => Err(Invalid::Init),
        Ok(pid) => Ok(pid),
        Err(_) => Err(Invalid::OutOfRange),
    }
}

/// A short, printable rendering of untrusted bytes for a log line.
fn show(bytes: &[u8]) -> String {
    let text: String = bytes
        .iter()
        .take(24)
        .flat_map(|b| std::ascii::escape_default(*b))
        .map(char::from)
        .collect();
    let more = if bytes.len() > 24 { "..." } else { "" };
    format!("\"{text}{more}\"")
}

/// What reading a PID file gave.
#[derive(Debug)]
pub enum Found {
    /// The file is not there (yet, or any more).
    Missing,
    /// The final component is a symlink; it is not followed. The PID its
    /// target holds, if any, is read only to be named in the warning.
    Symlink(Option<i32>),
    /// The content, at most `MAX_LEN + 1` bytes of it.
    Bytes(Vec<u8>),
}

/// Like `Found`, with the metadata of the very file that was read (`fstat`
/// on the open descriptor, so owner, mode and mtime match the bytes).
#[derive(Debug)]
pub enum Snapshot {
    Missing,
    Symlink,
    File { bytes: Vec<u8>, meta: Metadata },
}

/// Read a PID file without following a symlink in its final component and
/// without blocking on a FIFO or making a terminal our controlling tty.
pub fn read(path: &Path) -> io::Result<Found> {
    Ok(match snapshot(path)? {
        Snapshot::Missing => Found::Missing,
        Snapshot::Symlink => Found::Symlink(symlink_pid(path)),
        Snapshot::File { bytes, .. } => Found::Bytes(bytes),
    })
}

/// The PID a symlinked pidfile's target holds: named in the refusal,
/// never acted on.
fn symlink_pid(path: &Path) -> Option<i32> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC)
        .open(path)
        .ok()?;
    if !file.metadata().ok()?.is_file() {
        return None;
    }
    let mut bytes = Vec::new();
    take_limited(file, &mut bytes).ok()?;
    parse(&bytes).ok()
}

/// `read`, keeping the file's metadata.
pub fn snapshot(path: &Path) -> io::Result<Snapshot> {
    let opened = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC)
        .open(path);
    let file = match opened {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Snapshot::Missing),
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => return Ok(Snapshot::Symlink),
        Err(e) => return Err(e),
    };
    let meta = file.metadata()?;
    if !meta.is_file() {
        let kind = if meta.is_dir() {
            "a directory"
        } else {
            "a special file"
        };
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("is {kind}, not a regular file"),
        ));
    }
    let mut bytes = Vec::with_capacity(MAX_LEN + 1);
    take_limited(file, &mut bytes)?;
    Ok(Snapshot::File { bytes, meta })
}

fn take_limited(file: File, buf: &mut Vec<u8>) -> io::Result<()> {
    file.take(MAX_LEN as u64 + 1).read_to_end(buf).map(|_| ())
}

/// What a PID names on this machine, from `/proc/PID/stat`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Named {
    NotRunning,
    KernelThread,
    /// A thread ID, not a process ID: thread `tid` of process `tgid`.
    Thread {
        tid: i32,
        tgid: i32,
    },
    Process {
        comm: String,
        starttime: u64,
    },
}

/// Look a PID up in /proc.
pub fn named(pid: i32) -> Named {
    if let Some(tgid) = thread_of(pid) {
        return Named::Thread { tid: pid, tgid };
    }
    match crate::procstat::read(pid) {
        Ok(Some(stat)) if is_kernel_thread(stat.flags, stat.pid, stat.ppid) => Named::KernelThread,
        Ok(Some(stat)) if crate::proctree::is_dead(pid, stat.state) => Named::NotRunning,
        Ok(Some(stat)) => Named::Process {
            comm: stat.comm,
            starttime: stat.starttime,
        },
        Ok(None) | Err(_) => Named::NotRunning,
    }
}

/// The process `pid` is a thread of, when `pid` is a thread ID other than
/// a process's first thread (/proc/TID exists, hidden from listings).
pub fn thread_of(pid: i32) -> Option<i32> {
    let status = crate::procstat::read_text(format!("/proc/{pid}/status")).ok()?;
    let tgid: i32 = status
        .lines()
        .find_map(|l| l.strip_prefix("Tgid:"))?
        .trim()
        .parse()
        .ok()?;
    (tgid != pid && tgid > 0).then_some(tgid)
}

/// How run mode's refusal and audit mode's `invalid` name a thread ID.
pub fn thread_refusal(tid: i32, tgid: i32) -> String {
    format!("names thread {tid} of process {tgid}, not a process ID")
}

/// Kernel threads carry `PF_KTHREAD`; kthreadd is PID 2 and parents the rest.
pub fn is_kernel_thread(flags: u32, pid: i32, ppid: i32) -> bool {
    const PF_KTHREAD: u32 = 0x0020_0000;
    flags & PF_KTHREAD != 0 || pid == 2 || ppid == 2
}

#[cfg(test)]
#[path = "pidfile_tests.rs"]
mod tests;
