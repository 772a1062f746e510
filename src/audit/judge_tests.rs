//! Unit tests for `judge.rs`: every verdict from hand-built facts, no files.

use std::path::PathBuf;

use super::*;
use crate::audit::facts::{DirFact, Expect, ExpectExe, Facts, FileFact, ProcFact, Running};
use crate::pidfile::Invalid;

const WRITTEN: f64 = 1_800_000_000.0;

fn root_dir(path: &str) -> DirFact {
    DirFact {
        path: path.into(),
        uid: 0,
        gid: 0,
        mode: 0o755,
        symlink: false,
    }
}

fn running(comm: &str, uid: u32, start: f64) -> ProcFact {
    ProcFact::Running(Running {
        comm: comm.into(),
        uid,
        start: Some(start),
        exe: Ok(PathBuf::from(format!("/usr/sbin/{comm}"))),
        exe_id: Some((8, 42)),
    })
}

/// A root-owned 0644 file naming pid 812, written 10 s after `sshd` (uid 0) started.
fn good() -> Facts {
    Facts {
        file: FileFact::Regular {
            uid: 0,
            mode: 0o644,
            mtime: WRITTEN,
            content: Ok(812),
        },
        dirs: vec![root_dir("/run"), root_dir("/")],
        pid: Some(812),
        process: Some(running("sshd", 0, WRITTEN - 10.0)),
    }
}

fn verdicts(facts: &Facts) -> Vec<Verdict> {
    judge(facts, &Expect::default()).verdicts
}

#[test]
fn ok_alone_when_nothing_is_wrong() {
    let j = judge(&good(), &Expect::default());
    assert_eq!(j.verdicts, [Verdict::Ok]);
    assert_eq!(
        j.details,
        ["pid 812 runs sshd (uid 0), started 10 s before the file was written"]
    );
    assert_eq!(j.error, None);
}

#[test]
fn start_within_clock_slack_is_still_ok() {
    let mut f = good();
    f.process = Some(running("sshd", 0, WRITTEN + CLOCK_SLACK_SECS - 0.01));
    assert_eq!(verdicts(&f), [Verdict::Ok]);
}

#[test]
fn stale_when_not_running() {
    let mut f = good();
    f.process = Some(ProcFact::NotRunning);
    let j = judge(&f, &Expect::default());
    assert_eq!(j.verdicts, [Verdict::Stale]);
    assert!(
        j.details[0].starts_with("pid 812 is not running"),
        "{:?}",
        j.details
    );
}

#[test]
fn reused_when_started_after_the_file() {
    let mut f = good();
    f.process = Some(running("sleep", 0, WRITTEN + 2.0 * 3600.0));
    let j = judge(&f, &Expect::default());
    assert_eq!(j.verdicts, [Verdict::Reused]);
    assert_eq!(
        j.details,
        ["written 2 h before pid 812 (sleep) started: the PID was reused; remove the file"]
    );
}

#[test]
fn reused_when_name_or_exe_differ() {
    let f = good();
    let name = Expect {
        name: Some("nginx".into()),
        exe: None,
    };
    assert_eq!(judge(&f, &name).verdicts, [Verdict::Reused]);
    let exe = Expect {
        name: None,
        exe: Some(ExpectExe {
            given: "/bin/sleep".into(),
            resolved: Some("/usr/bin/sleep".into()),
            id: Some((8, 7)),
        }),
    };
    let j = judge(&f, &exe);
    assert_eq!(j.verdicts, [Verdict::Reused]);
    assert!(
        j.details[0].contains("runs /usr/sbin/sshd, not /bin/sleep"),
        "{:?}",
        j.details
    );
}

#[test]
fn expected_exe_matches_by_inode_resolved_path_or_deleted_path() {
    let mut f = good();
    let want = |id| Expect {
        name: Some("sshd".into()),
        exe: Some(ExpectExe {
            given: "/sbin/sshd".into(),
            resolved: Some("/usr/sbin/sshd".into()),
            id,
        }),
    };
    assert_eq!(judge(&f, &want(Some((8, 42)))).verdicts, [Verdict::Ok]);
    assert_eq!(judge(&f, &want(None)).verdicts, [Verdict::Ok]);
    if let Some(ProcFact::Running(r)) = &mut f.process {
        r.exe = Ok("/usr/sbin/sshd (deleted)".into());
        r.exe_id = Some((8, 99));
    }
    assert_eq!(judge(&f, &want(Some((8, 42)))).verdicts, [Verdict::Ok]);
}

#[test]
fn unreadable_exe_is_an_error_not_ok() {
    let mut f = good();
    if let Some(ProcFact::Running(r)) = &mut f.process {
        r.exe = Err("Permission denied".into());
        r.exe_id = None;
    }
    let e = Expect {
        name: None,
        exe: Some(ExpectExe {
            given: "/x".into(),
            resolved: None,
            id: None,
        }),
    };
    let j = judge(&f, &e);
    assert!(j.verdicts.is_empty());
    assert!(
        j.error
            .as_deref()
            .is_some_and(|m| m.contains("/proc/812/exe")),
        "{j:?}"
    );
}

#[test]
fn long_expected_names_match_the_truncated_comm() {
    assert!(name_matches("systemd-resolved", "systemd-resolve"));
    assert!(!name_matches("systemd-resolve", "systemd-resolv"));
    assert!(name_matches("sshd", "sshd"));
}

#[test]
fn invalid_content_and_kernel_threads() {
    let mut f = good();
    f.file = FileFact::Regular {
        uid: 0,
        mode: 0o644,
        mtime: WRITTEN,
        content: Err(Invalid::Empty),
    };
    f.pid = None;
    f.process = None;
    let j = judge(&f, &Expect::default());
    assert_eq!(j.verdicts, [Verdict::Invalid]);
    assert!(j.details[0].starts_with("file is empty"), "{:?}", j.details);
    let mut k = good();
    k.pid = Some(2);
    k.process = Some(ProcFact::KernelThread {
        comm: "kthreadd".into(),
    });
    assert_eq!(verdicts(&k), [Verdict::Invalid]);
}

#[test]
fn unsafe_file_mode_owner_and_symlink() {
    let mut f = good();
    f.file = FileFact::Regular {
        uid: 0,
        mode: 0o666,
        mtime: WRITTEN,
        content: Ok(812),
    };
    let j = judge(&f, &Expect::default());
    assert_eq!(j.verdicts, [Verdict::Unsafe]);
    assert!(
        j.details[0].contains("mode 0666 lets group and others"),
        "{:?}",
        j.details
    );

    let mut f = good();
    f.file = FileFact::Regular {
        uid: 1000,
        mode: 0o644,
        mtime: WRITTEN,
        content: Ok(812),
    };
    assert_eq!(verdicts(&f), [Verdict::Unsafe]);
    f.process = Some(running("sshd", 1000, WRITTEN - 10.0));
    assert_eq!(
        verdicts(&f),
        [Verdict::Ok],
        "a user's own daemon may own its file"
    );

    let mut f = good();
    f.file = FileFact::Symlink {
        uid: 0,
        target: Some("/tmp/x".into()),
    };
    f.pid = None;
    f.process = None;
    assert_eq!(verdicts(&f), [Verdict::Unsafe]);
}

#[test]
fn unsafe_directories() {
    let dir = |mode, uid, symlink| DirFact {
        path: "/d".into(),
        uid,
        gid: 0,
        mode,
        symlink,
    };
    let with = |d: DirFact| Facts {
        dirs: vec![d, root_dir("/")],
        ..good()
    };
    assert_eq!(verdicts(&with(dir(0o775, 0, false))), [Verdict::Unsafe]);
    assert_eq!(verdicts(&with(dir(0o757, 0, false))), [Verdict::Unsafe]);
    assert_eq!(verdicts(&with(dir(0o755, 1000, false))), [Verdict::Unsafe]);
    assert_eq!(verdicts(&with(dir(0o1777, 0, false))), [Verdict::Ok]);
    assert_eq!(
        verdicts(&with(dir(0o777, 0, true))),
        [Verdict::Ok],
        "root's dir symlink"
    );
    assert_eq!(verdicts(&with(dir(0o777, 1000, true))), [Verdict::Unsafe]);

    // In a sticky shared directory the file must belong to root or the process's owner.
    let mut f = with(dir(0o1777, 0, false));
    f.file = FileFact::Regular {
        uid: 1000,
        mode: 0o644,
        mtime: WRITTEN,
        content: Ok(812),
    };
    f.process = Some(running("app", 1000, WRITTEN - 10.0));
    assert_eq!(verdicts(&f), [Verdict::Ok]);
    f.process = Some(running("app", 1001, WRITTEN - 10.0));
    assert_eq!(verdicts(&f), [Verdict::Unsafe]);
}

#[test]
fn several_verdicts_are_kept_sorted_and_each_explained() {
    let mut f = good();
    f.file = FileFact::Regular {
        uid: 0,
        mode: 0o646,
        mtime: WRITTEN,
        content: Ok(812),
    };
    f.process = Some(ProcFact::NotRunning);
    let j = judge(&f, &Expect::default());
    assert_eq!(j.verdicts, [Verdict::Stale, Verdict::Unsafe]);
    assert_eq!(j.details.len(), 2);
}

#[test]
fn human_durations() {
    assert_eq!(human(0.4), "0 s");
    assert_eq!(human(119.0), "119 s");
    assert_eq!(human(7200.0), "2 h");
    assert_eq!(
        human(7199.0),
        "2 h",
        "just under 2 h reads as 2 h, not 119 min"
    );
    assert_eq!(human(7140.0), "119 min");
    assert_eq!(human(600.0), "10 min");
    assert_eq!(human(3.0 * 86400.0), "3 d");
    assert_eq!(human(-5.0), "0 s");
}

#[test]
fn a_thread_id_is_invalid_naming_thread_and_process() {
    let mut f = good();
    f.process = Some(ProcFact::Thread {
        tid: 812,
        tgid: 800,
    });
    let j = judge(&f, &Expect::default());
    assert_eq!(j.verdicts, [Verdict::Invalid]);
    assert!(
        j.details[0].contains("names thread 812 of process 800"),
        "{j:?}"
    );
}
