//! The verdicts of SPEC §2, decided from plain facts about a PID file, the
//! directories above it and the process it names.
//!
//! Owns: every rule that turns facts into `Verdict`s and the DETAIL sentence
//! that tells the operator what is wrong and what to do. Must not touch the
//! file system or /proc (`probe.rs` gathers the facts), so that every rule is
//! unit-tested on hand-built facts.

use std::path::Path;

use super::facts::{Expect, ExpectExe, Facts, FileFact, ProcFact, Running};
use crate::pidfile::Verdict;

/// A process start time may precede the file's mtime by this much and still
/// count as "started before": `btime` in /proc/stat is whole seconds and the
/// start time counts clock ticks, so the two clocks only agree to ~1 s.
pub const CLOCK_SLACK_SECS: f64 = 1.0;

const GROUP_OTHER_WRITE: u32 = 0o022;
const STICKY: u32 = 0o1000;

/// The verdicts (sorted, `Ok` only alone), one DETAIL sentence per finding,
/// and an error when something needed could not be read (exit status 2).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Judgement {
    pub verdicts: Vec<Verdict>,
    pub details: Vec<String>,
    pub error: Option<String>,
}

impl Judgement {
    fn add(&mut self, verdict: Verdict, detail: String) {
        if !self.verdicts.contains(&verdict) {
            self.verdicts.push(verdict);
        }
        self.details.push(detail);
    }
}

pub fn judge(facts: &Facts, expect: &Expect) -> Judgement {
    let mut j = Judgement::default();
    let running = match &facts.process {
        Some(ProcFact::Running(r)) => Some(r),
        _ => None,
    };
    match (&facts.file, facts.pid) {
        (FileFact::Symlink { .. }, _) => {}
        (FileFact::Regular { content: Err(why), .. }, _) => j.add(
            Verdict::Invalid,
            format!("file {why}: remove it or fix what writes it"),
        ),
        (FileFact::Regular { mtime, .. }, Some(pid)) => match &facts.process {
            None | Some(ProcFact::NotRunning) => j.add(
                Verdict::Stale,
                format!("pid {pid} is not running: its daemon exited without removing the file; remove it"),
            ),
            Some(ProcFact::KernelThread { comm }) => j.add(
                Verdict::Invalid,
                format!("pid {pid} is the kernel thread {comm}, which no daemon writes; remove the file"),
            ),
            Some(ProcFact::Thread { tid, tgid }) => j.add(
                Verdict::Invalid,
                format!(
                    "pid {pid} {}: the daemon wrote a thread's ID; fix what writes the file",
                    crate::pidfile::thread_refusal(*tid, *tgid)
                ),
            ),
            Some(ProcFact::Running(r)) => judge_process(&mut j, pid, *mtime, r, expect),
        },
        (FileFact::Regular { .. }, None) => {}
    }
    judge_safety(&mut j, facts, running.map(|r| r.uid));
    if j.verdicts.is_empty() && j.error.is_none() {
        let (pid, r) = match (facts.pid, running) {
            (Some(pid), Some(r)) => (pid, r),
            _ => return j,
        };
        let when = match (&facts.file, r.start) {
            (FileFact::Regular { mtime, .. }, Some(start)) if mtime - start >= 1.0 => {
                format!(
                    ", started {} before the file was written",
                    human(mtime - start)
                )
            }
            (_, Some(_)) => ", started within a second of the file being written".to_string(),
            (_, None) => String::new(),
        };
        j.add(
            Verdict::Ok,
            format!("pid {pid} runs {} (uid {}){when}", r.comm, r.uid),
        );
    }
    j.verdicts.sort();
    j
}

/// `reused`: started after the file was written, or not what `--expect-*` names.
fn judge_process(j: &mut Judgement, pid: i32, mtime: f64, r: &Running, expect: &Expect) {
    let advice = "the PID was reused or the file belongs to another program; remove the file";
    if let Some(start) = r.start.filter(|start| *start > mtime + CLOCK_SLACK_SECS) {
        j.add(
            Verdict::Reused,
            format!(
                "written {} before pid {pid} ({}) started: the PID was reused; remove the file",
                human(start - mtime),
                r.comm
            ),
        );
    }
    if let Some(name) = &expect.name {
        if !name_matches(name, &r.comm) {
            j.add(
                Verdict::Reused,
                format!(
                    "pid {pid} is named {}, not {name} (--expect-name): {advice}",
                    r.comm
                ),
            );
        }
    }
    if let Some(want) = &expect.exe {
        match (&r.exe, exe_matches(want, r)) {
            (_, true) => {}
            (Ok(exe), false) => j.add(
                Verdict::Reused,
                format!(
                    "pid {pid} runs {}, not {} (--expect-exe): {advice}",
                    crate::escape::path(exe),
                    crate::escape::path(&want.given)
                ),
            ),
            (Err(why), false) => {
                let msg = format!(
                    "unable to check --expect-exe: /proc/{pid}/exe: {why} (run the audit as root or as the process's owner)"
                );
                j.details.push(msg.clone());
                j.error = Some(msg);
            }
        }
    }
}

/// comm holds at most 15 bytes, so a longer expected name matches its prefix.
fn name_matches(expected: &str, comm: &str) -> bool {
    const COMM_MAX: usize = 15;
    if expected.len() <= COMM_MAX {
        return expected == comm;
    }
    expected.as_bytes().get(..COMM_MAX) == Some(comm.as_bytes())
}

/// The same file (dev, inode), or the same path once " (deleted)" is dropped
/// (a binary replaced on disk by an upgrade still counts as itself).
fn exe_matches(want: &ExpectExe, r: &Running) -> bool {
    if want.id.is_some() && want.id == r.exe_id {
        return true;
    }
    let Ok(exe) = &r.exe else { return false };
    let text = exe.as_os_str().as_encoded_bytes();
    let trimmed = text.strip_suffix(b" (deleted)").unwrap_or(text);
    let same = |p: &Path| p.as_os_str().as_encoded_bytes() == trimmed;
    same(&want.given) || want.resolved.as_deref().is_some_and(same)
}

/// `unsafe`: who besides the file's owner (or root) could replace it.
fn judge_safety(j: &mut Judgement, facts: &Facts, proc_uid: Option<u32>) {
    let file_uid = match &facts.file {
        FileFact::Symlink { uid, target } => {
            let to = target
                .as_ref()
                .map(|t| format!(" to {}", crate::escape::path(t)))
                .unwrap_or_default();
            j.add(
                Verdict::Unsafe,
                format!("file is a symlink{to} (owner uid {uid}), which is never followed; replace it with a regular file"),
            );
            *uid
        }
        FileFact::Regular { uid, mode, .. } => {
            if mode & GROUP_OTHER_WRITE != 0 {
                j.add(
                    Verdict::Unsafe,
                    format!(
                        "file mode {:04o} lets {} write it; chmod go-w it",
                        mode & 0o7777,
                        who(*mode)
                    ),
                );
            }
            if *uid != 0 && proc_uid == Some(0) {
                j.add(
                    Verdict::Unsafe,
                    format!("file is owned by uid {uid} but names a process running as root; chown root it or move it where only root writes"),
                );
            }
            *uid
        }
    };
    for dir in &facts.dirs {
        let path = crate::escape::path(&dir.path);
        if dir.symlink {
            if dir.uid != 0 && dir.uid != file_uid {
                j.add(
                    Verdict::Unsafe,
                    format!("{path} is a symlink owned by uid {}, who can redirect it; use a path without it", dir.uid),
                );
            }
            continue;
        }
        if dir.mode & GROUP_OTHER_WRITE != 0 {
            let owner_ok = file_uid == 0 || proc_uid.map_or(true, |p| p == file_uid);
            if dir.mode & STICKY == 0 {
                j.add(
                    Verdict::Unsafe,
                    format!(
                        "directory {path} (mode {:04o}, gid {}) lets {} replace the file; chmod go-w it or move the file",
                        dir.mode & 0o7777,
                        dir.gid,
                        who(dir.mode)
                    ),
                );
            } else if !owner_ok {
                j.add(
                    Verdict::Unsafe,
                    format!(
                        "file sits in shared sticky directory {path} but is owned by uid {file_uid}, not root or the process's uid; anyone could have planted it: move it to a private directory"
                    ),
                );
            }
        }
        if dir.uid != 0 && dir.uid != file_uid {
            j.add(
                Verdict::Unsafe,
                format!(
                    "directory {path} is owned by uid {}, who can replace the file (owned by uid {file_uid}); move the file",
                    dir.uid
                ),
            );
        }
    }
}

fn who(mode: u32) -> &'static str {
    match (mode & 0o020 != 0, mode & 0o002 != 0) {
        (true, true) => "group and others",
        (true, false) => "its group",
        _ => "others",
    }
}

/// "40 s", "12 min", "3 h", "2 d": coarse and rounded, for a sentence.
pub fn human(secs: f64) -> String {
    let secs = secs.max(0.0);
    let (minutes, hours, days) = (
        (secs / 60.0).round(),
        (secs / 3600.0).round(),
        (secs / 86400.0).round(),
    );
    if secs.round() < 120.0 {
        format!("{} s", secs.round())
    } else if minutes < 120.0 {
        format!("{minutes} min")
    } else if hours < 48.0 {
        format!("{hours} h")
    } else {
        format!("{days} d")
    }
}

#[cfg(test)]
#[path = "judge_tests.rs"]
mod tests;
