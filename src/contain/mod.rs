//! `--contain` (SPEC §1.6; bubblewrap's `--die-with-parent`): the daemon
//! runs in a new PID namespace whose init is catchd itself, re-executed as
//! `catchd --contain-init`. That init dies with catchd (`PR_SET_PDEATHSIG`),
//! and when a namespace's init dies the kernel kills every process in it:
//! nothing outlives catchd, even a SIGKILLed catchd.
//!
//! Owns: creating the namespace, the init's own small loop (reap, report),
//! and the report records. The init reaps the daemon's processes (they are
//! re-parented to it, not to catchd), so it sends each exit status to
//! catchd over a pipe as namespace-local PIDs; catchd translates them with
//! `NSpid`. Must not decide anything about the daemon: catchd's state
//! machine does, exactly as without `--contain`. The init's own loop is in
//! `contain/init.rs`.

mod init;

pub use init::init_main;

use std::collections::HashMap;
use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::process::CommandExt;
use std::process::Command;

use nix::fcntl::OFlag;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sched::{unshare, CloneFlags};

use crate::error::{Context, Error, Result};
use crate::proctree::Tree;
use crate::sys::{self, ChildSetup, Exit};

/// The hidden first argument that makes catchd the namespace's init.
pub const INIT_FLAG: &str = "--contain-init";

/// One report from the init: 12 bytes, written in one `write` (atomic).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Record {
    /// The launcher runs, as this namespace-local PID.
    Launched(i32),
    /// PROGRAM could not be executed: the errno.
    ExecFailed(i32),
    /// A process of the namespace was reaped: its PID there, and its exit
    /// code (≥ 0) or the negated signal that killed it.
    Exited(i32, i32),
}

impl Record {
    fn encode(self) -> [u8; 12] {
        let (kind, a, b) = match self {
            Record::Launched(pid) => (1u32, pid, 0),
            Record::ExecFailed(errno) => (2, errno, 0),
            Record::Exited(pid, status) => (3, pid, status),
        };
        let mut out = [0u8; 12];
        out[..4].copy_from_slice(&kind.to_ne_bytes());
        out[4..8].copy_from_slice(&a.to_ne_bytes());
        out[8..].copy_from_slice(&b.to_ne_bytes());
        out
    }

    fn decode(bytes: &[u8; 12]) -> Option<Record> {
        let word = |i: usize| [bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]];
        let (a, b) = (i32::from_ne_bytes(word(4)), i32::from_ne_bytes(word(8)));
        match u32::from_ne_bytes(word(0)) {
            1 => Some(Record::Launched(a)),
            2 => Some(Record::ExecFailed(a)),
            3 => Some(Record::Exited(a, b)),
            _ => None,
        }
    }
}

/// What `start` gives catchd: the init's PID, the report pipe, the
/// launcher's PID in the namespace.
pub struct Started {
    pub init: i32,
    pub report: File,
    pub launcher_nspid: i32,
}

/// Create the namespace and start the init in it, which starts PROGRAM.
pub fn start(program: &OsString, args: &[OsString], mut setup: ChildSetup) -> Result<Started> {
    // Only catchd's next child enters the new namespace; catchd stays out,
    // and keeps the host's /proc for its scans.
    unshare(CloneFlags::CLONE_NEWPID).map_err(|e| Error::Sys {
        what: "create a PID namespace for --contain (it needs CAP_SYS_ADMIN)".into(),
        source: e.into(),
    })?;
    // A socket, not a pipe: /proc/PID/fd/N of a socket cannot be opened,
    // so even a root process in the namespace cannot write into it that
    // way. The init keeps its end close-on-exec: the daemon never has it.
    let (r, w) =
        std::os::unix::net::UnixStream::pair().context("create the --contain report socket")?;
    let report_fd = w.as_raw_fd();
    setup.report = Some((report_fd, report_fd));
    let mut cmd = Command::new("/proc/self/exe");
    cmd.arg0("catchd-init")
        .arg(INIT_FLAG)
        .arg(report_fd.to_string())
        .arg(setup.hold.1.to_string())
        .arg("--")
        .arg(program)
        .args(args)
        .env_remove("NOTIFY_SOCKET");
    // SAFETY: `in_child` makes only async-signal-safe calls on values
    // copied into the closure before fork.
    unsafe {
        cmd.pre_exec(move || sys::in_child(&setup));
    }
    let init = cmd.spawn().context("start the --contain init")?.id() as i32;
    drop(w);
    let mut report = File::from(std::os::fd::OwnedFd::from(r));
    match read_record(&mut report, true)? {
        Some(Record::Launched(launcher_nspid)) => Ok(Started {
            init,
            report,
            launcher_nspid,
        }),
        Some(Record::ExecFailed(errno)) => {
            wait_for(init);
            Err(crate::spawn::exec_error(
                program,
                io::Error::from_raw_os_error(errno),
            ))
        }
        _ => {
            wait_for(init);
            Err(Error::Sys {
                what: "start the --contain init".into(),
                source: io::Error::other("it exited before starting PROGRAM"),
            })
        }
    }
}

fn wait_for(pid: i32) {
    let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
}

/// Read one record; `block` waits for it (start-up), else the pipe must be
/// readable already. `None` at EOF.
pub fn read_record(report: &mut File, block: bool) -> Result<Option<Record>> {
    if block {
        let mut fds = [PollFd::new(report.as_fd(), PollFlags::POLLIN)];
        let _ = poll(&mut fds, PollTimeout::from(30_000u16));
    }
    let mut buf = [0u8; 12];
    match report.read_exact(&mut buf) {
        Ok(()) => Ok(Record::decode(&buf)),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(None),
        Err(e) => Err(e).context("read the --contain report pipe"),
    }
}

/// catchd's side during the loop: the report pipe, and the map from
/// namespace-local PIDs to host PIDs learnt from every scan, kept until the
/// init reports the process reaped (it may have left /proc before that).
pub struct Contained {
    report: Option<File>,
    hosts: HashMap<i32, i32>,
    pending: Vec<(i32, Exit)>,
}

impl Contained {
    /// Also returns the launcher's host PID. A launcher that already
    /// exited and was reaped by the init is no longer in /proc: it gets a
    /// stand-in, the negated namespace PID, which no process can have and
    /// which its reported exit is translated to.
    pub fn new(report: File, tree: &Tree, launcher_nspid: i32) -> Result<(Contained, i32)> {
        nix::fcntl::fcntl(&report, nix::fcntl::FcntlArg::F_SETFL(OFlag::O_NONBLOCK))
            .context("set up the --contain report pipe")?;
        let mut c = Contained {
            report: Some(report),
            hosts: HashMap::new(),
            pending: Vec::new(),
        };
        c.learn(tree);
        let launcher = *c.hosts.entry(launcher_nspid).or_insert(-launcher_nspid);
        Ok((c, launcher))
    }

    /// The report pipe, while the init may still write to it.
    pub fn fd(&self) -> Option<BorrowedFd<'_>> {
        self.report.as_ref().map(|f| f.as_fd())
    }

    /// Remember the host PID of every process of a scan (with `NSpid`s).
    pub fn learn(&mut self, tree: &Tree) {
        for p in &tree.procs {
            if let Some(ns) = p.nspid {
                let host = self.hosts.entry(ns).or_insert(p.pid);
                // A stand-in (see `new`) stays: the state machine knows the
                // launcher by it, and its exit must reach it.
                if *host > 0 {
                    *host = p.pid;
                }
            }
        }
    }

    /// Read every record the init has written so far.
    pub fn read(&mut self) -> Result<()> {
        let Some(report) = self.report.as_mut() else {
            return Ok(());
        };
        loop {
            match read_record(report, false) {
                Ok(Some(Record::Exited(ns, value))) => self.pending.push((ns, decode(value))),
                Ok(Some(_)) => {}
                Ok(None) => {
                    self.report = None;
                    return Ok(());
                }
                Err(Error::Sys { source, .. }) if source.kind() == io::ErrorKind::WouldBlock => {
                    return Ok(())
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The exits reported since the last call, as host PIDs. An exit of a
    /// process no scan ever saw cannot be translated: it comes as minus its
    /// namespace PID.
    pub fn take_exits(&mut self) -> Vec<(i32, Exit)> {
        let mut out = Vec::new();
        for (ns, exit) in std::mem::take(&mut self.pending) {
            match self.hosts.remove(&ns) {
                Some(host) => out.push((host, exit)),
                // Never seen by a scan (it lived and died between two):
                // its status still counts for a start that failed, under
                // its namespace PID, negated as the launcher's would be.
                None => {
                    crate::debug!("--contain: PID {ns} in the namespace ended ({exit})");
                    out.push((-ns, exit));
                }
            }
        }
        out
    }
}

pub(crate) fn encode(exit: Exit) -> i32 {
    match exit {
        Exit::Code(n) => n,
        Exit::Signal(s) => -s.0,
    }
}

/// A reported exit as catchd's state machine wants it.
pub fn decode(value: i32) -> Exit {
    if value < 0 {
        Exit::Signal(crate::sig::Sig(-value))
    } else {
        Exit::Code(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip() {
        for r in [
            Record::Launched(7),
            Record::ExecFailed(2),
            Record::Exited(9, -15),
        ] {
            assert_eq!(Record::decode(&r.encode()), Some(r));
        }
        for e in [
            Exit::Code(0),
            Exit::Code(255),
            Exit::Signal(crate::sig::KILL),
        ] {
            assert_eq!(decode(encode(e)), e);
        }
        assert_eq!(Record::decode(&[0xff; 12]), None);
    }
}
