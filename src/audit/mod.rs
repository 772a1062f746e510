//! `--pidfile-check`: judge PID files and report (SPEC §2).
//!
//! Owns: choosing the files (the operator's, or `discover`'s), running each
//! through `probe` → `judge`, printing, and the audit exit status: 0 all
//! `ok`, 1 any other verdict, 2 a file that could not be read or checked.
//! Must not signal, write, chmod or delete anything: PID files are evidence.
//!
//! Layout: `discover.rs` walks /run, `probe.rs` gathers facts (the only
//! system calls) into `facts.rs`'s plain data, `judge.rs` is the pure
//! verdict logic, `report.rs` prints.

mod discover;
mod facts;
mod judge;
mod probe;
mod report;

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::config::AuditConfig;
use crate::error::{Context, Result};
use crate::pidfile::Verdict;
use facts::{Expect, FileFact, ProcFact};
use probe::Probed;
use report::Row;

/// Check every file and return the exit status (0 all ok, 1 any other verdict, 2 unreadable).
pub fn run(cfg: AuditConfig) -> Result<u8> {
    let named = !cfg.files.is_empty();
    let files = if named {
        cfg.files
    } else {
        let roots: Vec<&Path> = discover::ROOTS.iter().map(Path::new).collect();
        let found = discover::discover(&roots);
        if found.is_empty() {
            crate::info!("no *.pid files under {}", discover::ROOTS.join(" or "));
        }
        found
    };
    let expect = probe::expectation(cfg.expect_exe.as_deref(), cfg.expect_name.as_deref())?;
    // A discovered file that vanished before it was read is a race, not a
    // finding; a file the operator named and that is not there is an error.
    let rows: Vec<Row> = files
        .into_iter()
        .filter_map(|path| check(path, &expect, named))
        .collect();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if cfg.json {
        report::json(&rows, &mut out)
    } else {
        report::table(&rows, &mut out)
    }
    .and_then(|()| out.flush())
    .context("write the report")?;
    Ok(exit_status(&rows))
}

fn exit_status(rows: &[Row]) -> u8 {
    if rows.iter().any(|r| r.error.is_some()) {
        2
    } else if rows.iter().all(|r| r.verdicts == [Verdict::Ok]) {
        0
    } else {
        1
    }
}

/// One file's row, or `None` for a discovered file that has since vanished.
fn check(path: PathBuf, expect: &Expect, named: bool) -> Option<Row> {
    let facts = match probe::probe(&path) {
        Ok(Probed::Facts(facts)) => facts,
        Ok(Probed::Missing) if !named => {
            crate::debug!(
                "{} vanished before it was read; skipped",
                crate::escape::path(&path)
            );
            return None;
        }
        Ok(Probed::Missing) => return Some(unreadable(path, "no such file".into())),
        Err(e) => {
            let cause = e.to_string();
            return Some(unreadable(path, cause));
        }
    };
    let j = judge::judge(&facts, expect);
    let mut row = Row {
        path,
        pid: facts.pid,
        verdicts: j.verdicts,
        details: j.details,
        error: j.error,
        ..Row::default()
    };
    if let FileFact::Regular { mtime, .. } = facts.file {
        row.mtime = Some(mtime);
    }
    if let Some(ProcFact::Running(r)) = facts.process {
        row.name = Some(r.comm);
        row.exe = r.exe.ok();
        row.uid = Some(r.uid);
        row.start_time = r.start;
    } else if let Some(ProcFact::KernelThread { comm }) = facts.process {
        row.name = Some(comm);
    }
    Some(row)
}

fn unreadable(path: PathBuf, cause: String) -> Row {
    let msg = format!("unable to read {}: {cause}", crate::escape::path(&path));
    Row {
        path,
        details: vec![msg.clone()],
        error: Some(msg),
        ..Row::default()
    }
}
