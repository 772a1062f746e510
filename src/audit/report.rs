//! Audit output: the aligned table (PIDFILE, PID, VERDICT, DETAIL) or, with
//! `--json`, one JSON array (SPEC §2).
//!
//! Owns: the `Row` shown per file, its rendering, and the timestamp format
//! (RFC 3339, UTC, whole seconds). Must not judge: rows arrive complete.

use crate::clock;
use std::io::{self, Write};
use std::path::PathBuf;

use serde::Serialize;

use crate::pidfile::Verdict;

/// One checked file, as reported.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Row {
    pub path: PathBuf,
    pub pid: Option<i32>,
    pub verdicts: Vec<Verdict>,
    pub details: Vec<String>,
    pub error: Option<String>,
    /// Facts about the process under `pid`, when one runs there.
    pub name: Option<String>,
    pub exe: Option<PathBuf>,
    pub uid: Option<u32>,
    pub start_time: Option<f64>,
    pub mtime: Option<f64>,
}

#[derive(Serialize)]
struct JsonRow<'a> {
    path: String,
    pid: Option<i32>,
    verdicts: &'a [Verdict],
    detail: String,
    error: Option<&'a str>,
    name: Option<&'a str>,
    exe: Option<String>,
    uid: Option<u32>,
    start_time: Option<String>,
    mtime: Option<String>,
}

pub fn json(rows: &[Row], out: &mut impl Write) -> io::Result<()> {
    let rows: Vec<JsonRow<'_>> = rows
        .iter()
        .map(|r| JsonRow {
            path: crate::escape::path(&r.path),
            pid: r.pid,
            verdicts: &r.verdicts,
            detail: r.details.join("; "),
            error: r.error.as_deref(),
            name: r.name.as_deref(),
            exe: r.exe.as_deref().map(crate::escape::path),
            uid: r.uid,
            start_time: r.start_time.map(clock::rfc3339),
            mtime: r.mtime.map(clock::rfc3339),
        })
        .collect();
    serde_json::to_writer_pretty(&mut *out, &rows)?;
    writeln!(out)
}

/// Columns padded to the widest cell; DETAIL last and unpadded. Paths and
/// details come from the file system, so control characters are escaped.
pub fn table(rows: &[Row], out: &mut impl Write) -> io::Result<()> {
    let mut cells = vec![[
        "PIDFILE".to_string(),
        "PID".into(),
        "VERDICT".into(),
        "DETAIL".into(),
    ]];
    for r in rows {
        let mut verdict: Vec<&str> = r.verdicts.iter().map(|v| v.as_str()).collect();
        if r.error.is_some() {
            verdict.push("error");
        }
        cells.push([
            crate::escape::path(&r.path),
            r.pid.map_or_else(|| "-".into(), |p| p.to_string()),
            verdict.join(","),
            printable(&r.details.join("; ")),
        ]);
    }
    let width = |col: usize| {
        cells
            .iter()
            .map(|c| c[col].chars().count())
            .max()
            .unwrap_or(0)
    };
    let (w0, w1, w2) = (width(0), width(1), width(2));
    for [path, pid, verdict, detail] in &cells {
        writeln!(out, "{path:<w0$}  {pid:>w1$}  {verdict:<w2$}  {detail}")?;
    }
    Ok(())
}

/// Escape control characters so one file is always one line.
fn printable(text: &str) -> String {
    crate::escape::bytes(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(path: &str, pid: Option<i32>, v: Verdict, detail: &str) -> Row {
        Row {
            path: path.into(),
            pid,
            verdicts: vec![v],
            details: vec![detail.into()],
            ..Row::default()
        }
    }

    #[test]
    fn table_is_aligned_and_one_line_per_file() {
        let rows = [
            row("/run/a.pid", Some(12), Verdict::Ok, "fine"),
            row("/run/long\nname.pid", None, Verdict::Invalid, "bad"),
        ];
        let mut out = Vec::new();
        table(&rows, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(lines[0].starts_with("PIDFILE"));
        assert!(lines[2].starts_with("/run/long\\nname.pid"));
        let col = |l: &str, word: &str| l.find(word).unwrap();
        assert_eq!(col(lines[0], "VERDICT"), col(lines[1], "ok"));
        assert_eq!(col(lines[0], "VERDICT"), col(lines[2], "invalid"));
        assert_eq!(col(lines[0], "DETAIL"), col(lines[1], "fine"));
    }

    #[test]
    fn json_has_every_field() {
        let mut r = row("/run/a.pid", Some(12), Verdict::Ok, "fine");
        r.start_time = Some(0.0);
        let mut out = Vec::new();
        json(&[r], &mut out).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v[0]["path"], "/run/a.pid");
        assert_eq!(v[0]["pid"], 12);
        assert_eq!(v[0]["verdicts"], serde_json::json!(["ok"]));
        assert_eq!(v[0]["start_time"], "1970-01-01T00:00:00Z");
        assert!(v[0]["exe"].is_null() && v[0]["uid"].is_null() && v[0]["error"].is_null());
    }
}
