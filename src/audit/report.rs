//! Audit output: the aligned table (PIDFILE, PID, VERDICT, DETAIL) or, with
//! `--json`, one JSON array (the README's audit mode).
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

/// The widest line the table aims for (a path longer than that still
/// shows whole).
const WIDTH: usize = 120;

/// Columns padded to the widest cell; DETAIL last: one finding per line,
/// the first on the file's row, each wrapped at word boundaries so that no
/// line passes `WIDTH` (continuations indented two more). When the other
/// columns leave DETAIL too little room, the findings go under the row,
/// indented four. Paths and details come from the file system, so control
/// characters are escaped.
pub fn table(rows: &[Row], out: &mut impl Write) -> io::Result<()> {
    let mut cells = vec![(
        ["PIDFILE".to_string(), "PID".into(), "VERDICT".into()],
        vec!["DETAIL".to_string()],
    )];
    for r in rows {
        let mut verdict: Vec<&str> = r.verdicts.iter().map(|v| v.as_str()).collect();
        if r.error.is_some() {
            verdict.push("error");
        }
        cells.push((
            [
                crate::escape::path(&r.path),
                r.pid.map_or_else(|| "-".into(), |p| p.to_string()),
                verdict.join(","),
            ],
            r.details.iter().map(|d| printable(d)).collect(),
        ));
    }
    let width = |col: usize| {
        cells
            .iter()
            .map(|c| c.0[col].chars().count())
            .max()
            .unwrap_or(0)
    };
    let (w0, w1, w2) = (width(0), width(1), width(2));
    let column = w0 + w1 + w2 + 6;
    let beside = column + 50 <= WIDTH;
    for ([path, pid, verdict], details) in &cells {
        let head = format!("{path:<w0$}  {pid:>w1$}  {verdict:<w2$}");
        let indent = if beside { column } else { 4 };
        let mut lines = Vec::new();
        for detail in details {
            for (i, part) in wrap(detail, WIDTH - indent - 2).into_iter().enumerate() {
                let extra = if i == 0 { 0 } else { 2 };
                lines.push(format!("{:indent$}{part}", "", indent = indent + extra));
            }
        }
        match (beside, lines.first_mut()) {
            (true, Some(first)) => {
                writeln!(out, "{head}  {}", first.trim_start())?;
                lines.remove(0);
            }
            // The header names the DETAIL column in either layout.
            (false, Some(first)) if path == "PIDFILE" => {
                writeln!(out, "{head}  {}", first.trim_start())?;
                lines.remove(0);
            }
            _ => writeln!(out, "{}", head.trim_end())?,
        }
        for line in lines {
            writeln!(out, "{line}")?;
        }
    }
    Ok(())
}

/// `text` cut at spaces into pieces of at most `width` characters (a
/// single longer word stays whole).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        let len = line.chars().count();
        if len > 0 && len + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
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
    fn three_findings_are_three_lines_within_the_width() {
        let long = "file sits in shared sticky directory /run/lock but is owned by uid 65534, \
                    not root or the process's uid; anyone could have planted it: move it to a \
                    private directory";
        let mut r = row(
            "/run/lock/legacyd.pid",
            Some(17373),
            Verdict::Unsafe,
            "first finding",
        );
        r.verdicts.push(Verdict::Reused);
        r.details.push("second finding".into());
        r.details.push(long.into());
        let mut out = Vec::new();
        table(&[r], &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines.iter().all(|l| l.chars().count() <= WIDTH), "{text}");
        let detail = lines[0].find("DETAIL").unwrap();
        assert!(
            lines[1].starts_with("/run/lock/legacyd.pid") && lines[1].ends_with("  first finding")
        );
        assert_eq!(lines[2].find("second finding"), Some(detail), "{text}");
        assert_eq!(lines[3].find("file sits"), Some(detail), "{text}");
        assert_eq!(
            lines[4].find(|c: char| c != ' '),
            Some(detail + 2),
            "{text}"
        );
        assert!(lines.len() >= 5, "{text}");
        let rejoined = lines[3..]
            .iter()
            .map(|l| l.trim())
            .collect::<Vec<_>>()
            .join(" ");
        assert_eq!(rejoined, long);
    }

    #[test]
    fn a_long_path_puts_the_findings_under_its_row() {
        let path = format!("/run/{}/x.pid", "d".repeat(90));
        let r = row(
            &path,
            Some(5),
            Verdict::Stale,
            "pid 5 is not running: remove it",
        );
        let mut out = Vec::new();
        table(&[r], &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].ends_with("VERDICT  DETAIL"), "{text}");
        assert!(
            lines[1].starts_with("/run/ddd") && lines[1].ends_with("stale"),
            "{text}"
        );
        assert_eq!(lines[2], "    pid 5 is not running: remove it");
    }

    #[test]
    fn wrap_keeps_every_word() {
        assert_eq!(wrap("a bb ccc", 4), ["a bb", "ccc"]);
        assert_eq!(wrap("", 4), [""]);
        assert_eq!(wrap("toolongword x", 4), ["toolongword", "x"]);
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
