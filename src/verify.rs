//! Judge a run-mode PID file against catchd's tree (SPEC §1.1.4): the PID
//! is accepted only if it names a live descendant of catchd. Everything
//! else is refused with a reason, and never signalled.
//!
//! Owns: the run-mode verdict. Pure but for the one lookup it is handed
//! (what an outside PID names), so that tests need no processes.

use crate::pidfile::{Found, Named};
use crate::proctree::Tree;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// Nothing there yet (or any more).
    Missing,
    /// A live descendant of catchd.
    Valid { pid: i32, starttime: u64 },
    /// A dead PID: stale, or not written yet; worth waiting on.
    Stale(String),
    /// Names something catchd will not touch; the text says what and why.
    Refused(String),
    /// Names a live process that was not in the scan: refused unless a
    /// fresh scan finds it under catchd (it may have forked just now).
    Outside { pid: i32, why: String },
}

impl Check {
    /// The refusal text, if this is a refusal.
    pub fn refusal(&self) -> Option<&str> {
        match self {
            Check::Refused(why) | Check::Outside { why, .. } => Some(why),
            _ => None,
        }
    }
}

/// A file is judged once its writer is done with it (SPEC §1.1.4): closed
/// after writing, renamed into place, or the launcher has exited (`done`),
/// or, for a writer that keeps it open, once its content is a whole line.
/// Content seen mid-write ("4567" of "45678\n") counts as not written yet.
pub fn settled(found: Result<Found, String>, done: bool) -> Result<Found, String> {
    match found {
        Ok(Found::Bytes(b)) if !done && !b.ends_with(b"\n") => {
            crate::debug!("pidfile is being written; judged when its writer is done");
            Ok(Found::Missing)
        }
        other => other,
    }
}

/// `found` is what `pidfile::read` gave (or its error text), `me` is
/// catchd's PID, `lookup` says what an outside PID names. With
/// `--contain`, `contained` says the file holds namespace-local PIDs,
/// translated through the tree's `NSpid`s.
pub fn judge(
    found: Result<Found, String>,
    tree: &Tree,
    me: i32,
    contained: bool,
    lookup: impl FnOnce(i32) -> Named,
) -> Check {
    let bytes = match found {
        Ok(Found::Missing) => return Check::Missing,
        Ok(Found::Symlink(pid)) => {
            let names = pid.map_or_else(String::new, |p| format!(" (its target names PID {p})"));
            return Check::Refused(format!("is a symlink{names}; catchd does not follow it"));
        }
        // Created and not written yet: nginx opens its pidfile with
        // O_TRUNC, then writes, and the directory event comes in between.
        Ok(Found::Bytes(b)) if b.is_empty() => return Check::Missing,
        Ok(Found::Bytes(b)) => b,
        Err(e) => return Check::Refused(format!("cannot be read: {e}")),
    };
    let pid = match crate::pidfile::parse(&bytes) {
        Ok(pid) => pid,
        Err(invalid) => return Check::Refused(invalid.to_string()),
    };
    let pid = if contained {
        match tree.by_nspid(pid) {
            Some(p) => p.pid,
            None => {
                return Check::Stale(format!(
                    "names PID {pid}, which is not running in catchd's PID namespace"
                ))
            }
        }
    } else {
        pid
    };
    if pid == me {
        return Check::Refused(format!("names PID {pid}, which is catchd itself"));
    }
    if let Some(p) = tree.get(pid).filter(|p| !p.zombie) {
        return Check::Valid {
            pid,
            starttime: p.starttime,
        };
    }
    match lookup(pid) {
        Named::NotRunning => Check::Stale(format!("names PID {pid}, which is not running")),
        Named::KernelThread => Check::Refused(format!("names PID {pid}, a kernel thread")),
        Named::Thread { tid, tgid } => Check::Refused(crate::pidfile::thread_refusal(tid, tgid)),
        Named::Process { comm, .. } => Check::Outside {
            pid,
            why: format!("names PID {pid} ({comm}), which is not a descendant of catchd"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proctree::Proc;

    fn tree() -> Tree {
        Tree {
            procs: vec![Proc {
                pid: 50,
                ppid: 10,
                starttime: 7,
                comm: "d".into(),
                zombie: false,
                nspid: None,
            }],
        }
    }

    fn bytes(b: &[u8]) -> Result<Found, String> {
        Ok(Found::Bytes(b.to_vec()))
    }

    fn outsider(_: i32) -> Named {
        Named::Process {
            comm: "innocent".into(),
            starttime: 1,
        }
    }

    #[test]
    fn only_a_live_descendant_is_valid() {
        let t = tree();
        assert_eq!(
            judge(bytes(b"50\n"), &t, 10, false, outsider),
            Check::Valid {
                pid: 50,
                starttime: 7
            }
        );
        let refused = |c: Check| c.refusal().is_some();
        assert!(refused(judge(bytes(b"60"), &t, 10, false, outsider)));
        assert!(refused(judge(bytes(b"10"), &t, 10, false, outsider)));
        assert!(refused(judge(bytes(b"1"), &t, 10, false, outsider)));
        assert!(refused(judge(bytes(b"2"), &t, 10, false, |_| {
            Named::KernelThread
        })));
        assert!(refused(judge(bytes(b"junk"), &t, 10, false, outsider)));
        assert!(refused(judge(
            Ok(Found::Symlink(None)),
            &t,
            10,
            false,
            outsider
        )));
        assert!(matches!(
            judge(bytes(b"61"), &t, 10, false, |_| Named::NotRunning),
            Check::Stale(_)
        ));
        assert_eq!(
            judge(Ok(Found::Missing), &t, 10, false, outsider),
            Check::Missing
        );
    }

    #[test]
    fn contained_pids_are_translated_through_nspid() {
        let mut t = tree();
        t.procs[0].nspid = Some(3);
        assert_eq!(
            judge(bytes(b"3\n"), &t, 10, true, outsider),
            Check::Valid {
                pid: 50,
                starttime: 7
            }
        );
        assert!(matches!(
            judge(bytes(b"50\n"), &t, 10, true, outsider),
            Check::Stale(_)
        ));
    }

    #[test]
    fn content_mid_write_is_not_judged_until_its_writer_is_done() {
        let t = tree();
        let mid = || verify_mid(settled(bytes(b"50"), false), &t);
        assert_eq!(
            mid(),
            Check::Missing,
            "a PID without its newline, file still open"
        );
        assert!(matches!(
            judge(settled(bytes(b"50\n"), false), &t, 10, false, outsider),
            Check::Valid { pid: 50, .. }
        ));
        assert!(matches!(
            judge(settled(bytes(b"50"), true), &t, 10, false, outsider),
            Check::Valid { pid: 50, .. }
        ));
    }

    fn verify_mid(found: Result<Found, String>, t: &Tree) -> Check {
        judge(found, t, 10, false, outsider)
    }

    #[test]
    fn a_thread_id_is_refused_as_such() {
        let c = judge(bytes(b"61"), &tree(), 10, false, |_| Named::Thread {
            tid: 61,
            tgid: 50,
        });
        assert_eq!(
            c.refusal(),
            Some("names thread 61 of process 50, not a process ID")
        );
    }

    #[test]
    fn regression_5_an_empty_pidfile_is_one_not_written_yet() {
        assert_eq!(
            judge(bytes(b""), &tree(), 10, false, outsider),
            Check::Missing
        );
    }

    #[test]
    fn refusal_names_the_outsider() {
        let Check::Outside { pid: 60, why } = judge(bytes(b"60"), &tree(), 10, false, outsider)
        else {
            panic!("not refused as an outsider");
        };
        assert!(why.contains("60") && why.contains("innocent"), "{why}");
    }
}
