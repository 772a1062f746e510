//! After each turn, tell the supervisor what changed (SPEC §1.5): `READY=1`
//! once, `STATUS=` when the one-line summary changes, `STOPPING=1` when a
//! stop begins, and the status document.
//!
//! Owns: the summary line and the change detection. Must not read /proc
//! itself (`status.rs` does, only with `--status-file`).

use std::ffi::OsStr;
use std::path::PathBuf;

use crate::notify::Notifier;
use crate::status::{self, Facts, StatusFile};

pub struct Reporter {
    notifier: Notifier,
    file: Option<StatusFile>,
    stopping: bool,
}

/// The one-line summary: state, main PID, tree size, pidfile verdict.
pub fn summary(facts: &Facts<'_>) -> String {
    let n = facts.tree.live_count();
    let mut pidfile = facts
        .pidfile
        .map(|(_, check)| format!(", pidfile {}", status::pidfile_words(check).0))
        .unwrap_or_default();
    if let Some(what) = facts.waiting_for {
        pidfile = format!("{pidfile}, {what}");
    }
    match (facts.state, facts.main) {
        ("stopping", _) => format!("stopping: {n} process(es) left"),
        (_, Some(m)) => {
            // Untrusted: a newline here would forge a notify field.
            let comm = facts
                .tree
                .get(m.pid)
                .map_or_else(|| "?".into(), |p| crate::escape::bytes(p.comm.as_bytes()));
            format!("main PID {} ({comm}), {n} process(es){pidfile}", m.pid)
        }
        _ => format!("starting: {n} process(es){pidfile}"),
    }
}

impl Reporter {
    pub fn new(
        notify_socket: Option<&OsStr>,
        ready_fd: Option<i32>,
        status_file: Option<PathBuf>,
    ) -> Reporter {
        Reporter {
            notifier: Notifier::new(notify_socket, ready_fd),
            file: status_file.map(StatusFile::new),
            stopping: false,
        }
    }

    pub fn update(&mut self, facts: &Facts<'_>, became_ready: bool) {
        let line = summary(facts);
        if became_ready {
            self.notifier.ready(&line);
        } else if facts.state == "stopping" && !self.stopping {
            self.stopping = true;
            self.notifier.stopping(&line);
        } else {
            self.notifier.status(&line);
        }
        if let Some(file) = &mut self.file {
            file.write(&status::document(facts));
        }
    }

    /// catchd is about to exit: the status file goes with it.
    pub fn finish(&self) {
        if let Some(file) = &self.file {
            file.remove();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proctree::{Proc, Tree};
    use crate::state::Ident;
    use crate::verify::Check;

    #[test]
    fn summary_lines() {
        let tree = Tree {
            procs: vec![Proc {
                pid: 7,
                ppid: 1,
                starttime: 1,
                comm: "legacyd".into(),
                zombie: false,
                nspid: None,
            }],
        };
        let check = Check::Valid {
            pid: 7,
            starttime: 1,
        };
        let path = std::path::Path::new("/run/x.pid");
        let mut facts = Facts {
            state: "running",
            main: Some(Ident {
                pid: 7,
                starttime: 1,
            }),
            chosen_by: None,
            pidfile: Some((path, &check)),
            tree: &tree,
            last_exit: None,
            hold_inode: None,
            cgroup: None,
            waiting_for: None,
        };
        assert_eq!(
            summary(&facts),
            "main PID 7 (legacyd), 1 process(es), pidfile ok"
        );
        facts.state = "stopping";
        assert_eq!(summary(&facts), "stopping: 1 process(es) left");
        facts.state = "starting";
        facts.main = None;
        assert_eq!(summary(&facts), "starting: 1 process(es), pidfile ok");
        facts.main = Some(Ident {
            pid: 7,
            starttime: 1,
        });
        facts.waiting_for = Some("waiting for a listening socket on port 80");
        assert_eq!(
            summary(&facts),
            "main PID 7 (legacyd), 1 process(es), pidfile ok, waiting for a listening socket on port 80"
        );
    }
}
