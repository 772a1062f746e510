//! PID reuse (issue 6.2; ARCHITECTURE principle 6): catchd's main process
//! dies and its PID goes to an innocent process while catchd still holds
//! it, and the pidfile names it. catchd never signals the innocent, and
//! `--pidfile-check` calls the file `reused`.
//!
//! Recycling a PID on purpose needs a PID namespace of our own (nothing
//! else forks there, and `ns_last_pid` picks the next PID), so the
//! sequence runs as `pid_reuse.sh` under `unshare --pid --fork
//! --mount-proc` (we run as root). PIDs inside are the namespace's: the
//! test never signals them, it kills the namespace's init by its PID,
//! which takes everything in the namespace with it.

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::support::*;

const SCRIPT: &str = include_str!("pid_reuse.sh");

/// `unshare … sh -c SCRIPT`, killed with its whole namespace on drop.
struct Namespace {
    unshare: Child,
}

impl Namespace {
    /// The namespace's init: unshare's only child, by its host PID.
    fn init(&self) -> Option<i32> {
        procs::children_of(self.unshare.id() as i32)
            .first()
            .copied()
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        if let Some(init) = self.init() {
            procs::kill(init, libc::SIGKILL);
        }
        let _ = self.unshare.kill();
        let _ = self.unshare.wait();
    }
}

#[test]
fn a_recycled_main_pid_is_never_signalled_and_the_audit_says_reused() {
    if !namespaces_allowed("PID reuse in a PID namespace") {
        return;
    }
    let dir = TestDir::new("pid-reuse");
    let stderr = std::fs::File::create(dir.file("stderr")).unwrap();
    let forker = td("td-forker");
    let mut ns = Namespace {
        unshare: Command::new("unshare")
            .args(["--pid", "--fork", "--mount-proc", "--kill-child"])
            .args(["sh", "-c", SCRIPT, "pid_reuse.sh", catchd_bin()])
            .arg(&forker)
            .arg(&dir.path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("unshare (util-linux) is needed, and root"),
    };
    let read = |name: &str| std::fs::read_to_string(dir.file(name)).unwrap_or_default();
    let mut status = None;
    wait_until(Duration::from_secs(60), || {
        status = ns.unshare.try_wait().unwrap();
        status.is_some()
    });
    let context = format!(
        "facts:\n{}\nstderr:\n{}\ncatchd.log:\n{}\nreport:\n{}\ninnocent:\n{}",
        read("facts"),
        read("stderr"),
        read("catchd.log"),
        read("report"),
        read("innocent-report")
    );
    assert!(status.is_some_and(|s| s.success()), "{context}");
    // The script is done and its init gone: so is everything it started.
    assert_eq!(ns.init(), None, "{context}");
    for report in ["report", "innocent-report"] {
        let left = Report {
            path: dir.file(report),
        }
        .survivors();
        assert!(left.is_empty(), "{report}: {left:?} survived the namespace");
    }

    let facts: HashMap<String, String> = read("facts")
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let fact = |k: &str| facts.get(k).map_or("", String::as_str);
    assert_eq!(fact("done"), "1", "{context}");
    let old = fact("old-main");
    assert_eq!(fact("innocent"), old, "{context}");

    // The innocent, on the old main PID, got nothing and is still running.
    assert!(!read("innocent-report").contains("signal "), "{context}");
    assert_eq!(fact("innocent-state"), "S", "{context}");

    // catchd saw its main process end, refused the file, sent nothing to
    // that PID afterwards, and still finished the stop (status unknown: 1).
    let log = read("catchd.log");
    let ended = log
        .find(&format!("main process PID {old} ended"))
        .expect("main process end logged");
    assert!(
        log.contains(&format!(
            "names PID {old} (td-forker), which is not a descendant of catchd"
        )),
        "{context}"
    );
    let after = &log[ended..];
    let to_old: Vec<&str> = after
        .lines()
        .filter(|l| l.ends_with(&format!(" PID {old}")))
        .filter(|l| {
            ["sent ", "forwarding ", "delivering "]
                .iter()
                .any(|w| l.contains(w))
        })
        .collect();
    assert!(to_old.is_empty(), "{to_old:?}\n{context}");
    assert!(after.contains("sending SIGKILL to PID(s)"), "{context}");
    assert_eq!(fact("catchd-status"), "1", "{context}");

    assert_eq!(fact("audit-before-status"), "0", "{context}");
    assert!(read("audit-before").contains(" ok "), "{context}");
    assert_eq!(fact("audit-after-status"), "1", "{context}");
    let audit = read("audit-after");
    assert!(audit.contains(" reused "), "{audit}");
    // DETAIL may wrap onto the next line: compare with whitespace folded.
    let flat = audit.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(flat.contains("the PID was reused"), "{audit}");
}
