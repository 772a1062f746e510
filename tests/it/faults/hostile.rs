//! Hostile PID files in run mode (issue 6.1; SPEC §1.1.4, §3). Whatever the
//! file says (an innocent process outside catchd's tree, directly, through
//! a symlink or renamed over the file while catchd runs; catchd's own
//! parent; `-1`, `0`, `1`, a megabyte of digits, binary junk), catchd
//! refuses it with a clear warning and signals no one outside its tree:
//! during start-up (a HUP is queued), while the main process runs (a HUP
//! is forwarded to it), across a handover (`--handover-on USR2`) and
//! through the stop.
//!
//! One body, `hostile`, runs every case. The daemon writes no pidfile: the
//! test writes the true one (naming the main process, later the successor)
//! and plants the hostile one, so every phase starts when the test says
//! so, not when a race decides.

use std::path::Path;

use super::{assert_nothing_left, replace};
use crate::support::*;

/// How the hostile file gets there.
#[derive(Clone, Copy)]
enum How {
    /// Rewritten in place (truncate, then write).
    InPlace,
    /// A new file renamed over the old one.
    Rename,
    /// A symlink, renamed over the old file, to a file with the content.
    Symlink,
}

/// What the hostile file holds.
enum Content {
    /// The PID of an innocent `td-forker --fork none` outside catchd's tree.
    Innocent,
    /// The PID of catchd's parent: `td-reaper --record-signals`, which
    /// records every signal it gets (the test process itself would only
    /// show a wrong signal by dying).
    Parent,
    Bytes(Vec<u8>),
}

struct Case {
    how: How,
    content: Content,
    /// What the refusal says.
    needle: &'static str,
}

#[test]
fn pidfile_naming_an_innocent_process() {
    hostile(
        "innocent",
        Case {
            how: How::InPlace,
            content: Content::Innocent,
            needle: "which is not a descendant of catchd",
        },
    );
}

#[test]
fn pidfile_symlinked_to_a_file_naming_an_innocent_process() {
    hostile(
        "symlink",
        Case {
            how: How::Symlink,
            content: Content::Innocent,
            needle: "is a symlink",
        },
    );
}

#[test]
fn pidfile_renamed_over_with_an_innocent_pid() {
    hostile(
        "renamed",
        Case {
            how: How::Rename,
            content: Content::Innocent,
            needle: "which is not a descendant of catchd",
        },
    );
}

#[test]
fn pidfile_naming_catchd_s_parent() {
    hostile(
        "parent",
        Case {
            how: How::Rename,
            content: Content::Parent,
            needle: "(td-reaper), which is not a descendant of catchd",
        },
    );
}

#[test]
fn pidfile_holding_minus_one() {
    bytes("minus-one", b"-1\n", "expected one positive decimal PID");
}

#[test]
fn pidfile_holding_zero() {
    bytes("zero", b"0\n", "holds PID 0");
}

#[test]
fn pidfile_holding_one() {
    bytes("one", b"1\n", "holds PID 1 (init)");
}

#[test]
fn pidfile_holding_a_megabyte_of_digits() {
    bytes("megabyte", &[b'7'; 1 << 20], "is longer than 64 bytes");
}

#[test]
fn pidfile_holding_binary_junk() {
    let junk = b"\x00\xff\x1b[2J\x07\r\n\xfe4\x00";
    bytes("junk", junk, "expected one positive decimal PID");
}

fn bytes(name: &str, content: &[u8], needle: &'static str) {
    let content = Content::Bytes(content.to_vec());
    let how = How::Rename;
    hostile(
        name,
        Case {
            how,
            content,
            needle,
        },
    );
}

/// Put the hostile file at `pidfile`.
fn plant(pidfile: &Path, how: How, bytes: &[u8]) {
    match how {
        How::InPlace => std::fs::write(pidfile, bytes).unwrap(),
        How::Rename => replace(pidfile, bytes),
        How::Symlink => {
            let target = pidfile.with_file_name("named.pid");
            std::fs::write(&target, bytes).unwrap();
            let link = pidfile.with_extension("link");
            let _ = std::fs::remove_file(&link);
            std::os::unix::fs::symlink(&target, &link).unwrap();
            std::fs::rename(&link, pidfile).unwrap();
        }
    }
}

fn hostile(name: &str, case: Case) {
    let dir = TestDir::new(name);
    let report = dir.report();
    let f = forker();
    let pidfile = dir.file("d.pid");
    let p = pidfile.display().to_string();
    #[rustfmt::skip]
    let args = [
        "--pidfile", &p, "--start-timeout", "60s", "--stop-timeout", "5s", "--",
        &f, "--fork", "double", "--workers", "1", "--handover-on", "USR2",
    ];
    let reaper = td("td-reaper").display().to_string();
    let as_parent = matches!(case.content, Content::Parent);
    let (mut c, innocent) = if as_parent {
        let parent = [reaper.as_str(), "--record-signals"];
        (Catchd::start_under(&dir, &parent, &args), None)
    } else {
        let innocent = Innocent::start(&dir);
        (Catchd::start(&dir, &args), Some(innocent))
    };
    let witness = innocent.as_ref().map_or(c.spawned_pid(), |i| i.pid);
    let content = match &case.content {
        Content::Innocent | Content::Parent => format!("{witness}\n").into_bytes(),
        Content::Bytes(b) => b.clone(),
    };
    let untouched = |c: &Catchd, phase: &str| {
        let got = match &innocent {
            Some(i) => i.signals(),
            None => report
                .lines()
                .into_iter()
                .filter(|l| l.starts_with("signal ") && l.ends_with("role=reaper"))
                .collect(),
        };
        assert!(
            got.is_empty() && alive(witness),
            "{phase}: PID {witness} was signalled ({got:?}) or died; log:\n{}",
            c.log()
        );
    };
    let hups = |pid: i32| report.count(&["signal", "1", &format!("pid={pid}")]);

    // Start-up: after the preflight check (which has its own rules for a
    // file left by a previous instance), before the true file exists.
    c.wait_log("info: started");
    plant(&pidfile, case.how, &content);
    c.wait_log_count(case.needle, 1);
    let main = field(&report.wait_for(&["ready", "role=main"]), "pid").unwrap();
    report.wait_for(&["ready", "role=worker"]);
    c.wait_log("launcher PID");
    c.signal(libc::SIGHUP);
    c.wait_log("SIGHUP queued");
    untouched(&c, "start-up");

    // The true file: the main process is adopted and gets the queued HUP.
    replace(&pidfile, format!("{main}\n").as_bytes());
    c.wait_log(&format!("main process is PID {main} ("));
    c.wait_log("ready: main process PID");
    assert!(wait_until(LIMIT, || hups(main) == 1), "{}", c.log());

    // Running: the file turns hostile; a HUP still reaches the main process.
    plant(&pidfile, case.how, &content);
    c.wait_log_count(case.needle, 2);
    c.signal(libc::SIGHUP);
    assert!(wait_until(LIMIT, || hups(main) == 2), "{}", c.log());
    untouched(&c, "running");

    // Handover: the main process exits 0 leaving a successor, while the
    // file is still hostile: catchd waits, and queues a HUP.
    c.signal(libc::SIGUSR2);
    let next = field(&report.wait_for(&["ready", "role=successor"]), "pid").unwrap();
    c.wait_log("waiting up to");
    c.signal(libc::SIGHUP);
    c.wait_log_count("SIGHUP queued", 2);
    untouched(&c, "handover");
    replace(&pidfile, format!("{next}\n").as_bytes());
    c.wait_log(&format!("main process changed PID {next} ("));
    assert!(wait_until(LIMIT, || hups(next) == 1), "{}", c.log());

    // Stop, with the file hostile once more.
    plant(&pidfile, case.how, &content);
    c.wait_log_count(case.needle, 3);
    c.signal(libc::SIGTERM);
    let st = c.wait_exit();
    assert_eq!(code(st), Some(0), "{}", c.log());
    if as_parent {
        // td-reaper exited 0 by itself (ECHILD): it was never killed.
        let reaped = ["reaped", &format!("pid={}", c.pid), "code=0"];
        assert_eq!(report.count(&reaped), 1, "{:?}", report.lines());
        let to_parent = report.count(&["signal", "role=reaper"]);
        assert_eq!(to_parent, 0, "catchd signalled its parent");
    } else {
        untouched(&c, "stop");
    }
    assert_eq!(report.count(&["signal", "15", &format!("pid={next}")]), 1);
    for line in c.wait_log_count(case.needle, 3) {
        assert!(
            line.len() < 300 && !line.chars().any(char::is_control),
            "a refusal must be one short printable line: {line:?}"
        );
    }
    assert_nothing_left(&dir, &c);
}
