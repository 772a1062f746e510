//! Cheap reads of /proc for the tree walk (SPEC §1.1.3): `/proc/PID/stat`
//! with one open, one read and one close into a stack buffer, and a
//! `children` file (or any small /proc or cgroupfs file) read whole. The
//! walk makes these calls for every process of the tree on every scan, so
//! their count is catchd's cost when it stops thousands of processes.
//!
//! Owns: reading these files and parsing the first two. Must not walk,
//! decide or signal (`proctree` walks).

use std::fs::File;
use std::io::{self, Read};

/// What the walk needs from `/proc/PID/stat`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stat {
    pub pid: i32,
    pub comm: String,
    pub state: char,
    pub ppid: i32,
    /// The kernel's `PF_*` flags (`PF_KTHREAD` marks a kernel thread).
    pub flags: u32,
    pub num_threads: u64,
    pub starttime: u64,
}

/// Parse the text of `/proc/PID/stat`. `comm` may hold anything, spaces
/// and parentheses included: it runs from the first '(' to the last ')'.
pub fn parse(bytes: &[u8]) -> Option<Stat> {
    let open = bytes.iter().position(|&b| b == b'(')?;
    let close = bytes.iter().rposition(|&b| b == b')')?;
    if close < open {
        return None;
    }
    let pid = std::str::from_utf8(&bytes[..open])
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let comm = String::from_utf8_lossy(&bytes[open + 1..close]).into_owned();
    let rest = std::str::from_utf8(bytes.get(close + 1..)?).ok()?;
    // Fields 3 (state) onwards, counted from 0 here: state 0, ppid 1,
    // flags 6, num_threads 17, starttime 19 (proc(5)).
    let mut fields = rest.split_ascii_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    let flags = fields.nth(4)?.parse().ok()?;
    let mut fields = fields.skip(10);
    let num_threads = fields.next()?.parse().ok()?;
    let starttime = fields.nth(1)?.parse().ok()?;
    Some(Stat {
        pid,
        comm,
        state,
        ppid,
        flags,
        num_threads,
        starttime,
    })
}

/// Read `/proc/PID/stat`: `Ok(None)` if there is no such process (or its
/// text does not parse); an error if it could not be read (no descriptor
/// left, say).
pub fn read(pid: i32) -> io::Result<Option<Stat>> {
    let mut file = match open(format!("/proc/{pid}/stat")) {
        Ok(f) => f,
        Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT | libc::ESRCH)) => return Ok(None),
        Err(e) => return Err(e),
    };
    // A stat line is ~300 bytes; comm is at most 64.
    let mut buf = [0u8; 1024];
    let mut len = 0;
    loop {
        match file.read(&mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => {
                len += n;
                // procfs hands the whole line to a read that has room.
                if len < buf.len() {
                    break;
                }
                return Ok(None);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => return Ok(None),
            Err(e) => return Err(e),
        }
    }
    Ok(parse(&buf[..len]))
}

/// A small kernel-made file (/proc, cgroupfs) read whole. Not
/// `fs::read`: it asks for the size (0 here), then reads 32 bytes at a
/// time at first, each read a system call.
pub fn read_bytes(path: impl AsRef<std::path::Path>) -> io::Result<Vec<u8>> {
    let mut file = open(path)?;
    let mut text = vec![0u8; 4096];
    let mut len = 0;
    loop {
        if len == text.len() {
            text.resize(len * 2, 0);
        }
        match file.read(&mut text[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    text.truncate(len);
    Ok(text)
}

/// `read_bytes`, as UTF-8 text.
pub fn read_text(path: impl AsRef<std::path::Path>) -> io::Result<String> {
    String::from_utf8(read_bytes(path)?).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// Open for reading, close-on-exec, in one system call: musl's `open`
/// follows an `O_CLOEXEC` open with an `fcntl` for kernels that ignored
/// the flag (before 2.6.23), one more call for every file the walk reads.
fn open(path: impl AsRef<std::path::Path>) -> io::Result<File> {
    use rustix::fs::{Mode, OFlags};
    let fd = rustix::fs::open(
        path.as_ref(),
        OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    Ok(File::from(fd))
}

/// A hexadecimal mask (`SigIgn:`, `SigBlk:`...) from the text of
/// `/proc/PID/status`.
pub fn status_mask(status: &str, name: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(name))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
}

/// The PIDs in `/proc/PID/task/TID/children`; empty if it is gone.
pub fn children(pid: i32, tid: i32, out: &mut Vec<i32>) {
    let Ok(text) = read_bytes(format!("/proc/{pid}/task/{tid}/children")) else {
        return;
    };
    out.extend(
        text.split(|b| b.is_ascii_whitespace())
            .filter_map(|w| std::str::from_utf8(w).ok()?.parse::<i32>().ok()),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_stat_line_with_a_hostile_comm() {
        let line = b"4242 (a) b) (c) S 17 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 3 0 987654 1000 10 \
            18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";
        let s = parse(line).expect("parses");
        assert_eq!(s.pid, 4242);
        assert_eq!(s.comm, "a) b) (c");
        assert_eq!((s.state, s.ppid, s.flags), ('S', 17, 4194560));
        assert_eq!((s.num_threads, s.starttime), (3, 987654));
    }

    #[test]
    fn status_masks_are_hexadecimal() {
        let text = "Name:\tx\nSigBlk:\t0000000000010000\nSigIgn:\t0000000000001001\n";
        assert_eq!(status_mask(text, "SigIgn:"), Some(0x1001));
        assert_eq!(status_mask(text, "SigBlk:"), Some(0x10000));
        assert_eq!(status_mask(text, "SigCgt:"), None);
    }

    #[test]
    fn junk_is_none() {
        for bad in [&b""[..], b"12", b"12 (x", b"x (y) S 1", b"1 (y) S 1 2 3"] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn reads_this_process_like_procfs_does() {
        let me = std::process::id() as i32;
        let ours = read(me).unwrap().expect("self");
        let theirs = procfs::process::Process::myself().unwrap().stat().unwrap();
        assert_eq!(ours.pid, theirs.pid);
        assert_eq!(ours.ppid, theirs.ppid);
        assert_eq!(ours.starttime, theirs.starttime);
        assert_eq!(ours.flags, theirs.flags);
        assert_eq!(ours.comm, theirs.comm);
        assert_eq!(read(i32::MAX).unwrap(), None);
    }
}
