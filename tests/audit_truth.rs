//! Audit mode tells the truth about the operator's input too (SPEC §2): a
//! `--expect-exe` naming no executable is a usage error, not a verdict, and
//! file names that are not UTF-8 are shown escaped, never lossily.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::process::Command;

fn catchd() -> Command {
    Command::new(env!("CARGO_BIN_EXE_catchd"))
}

fn dir(test: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("catchd-audit-truth-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn expect_exe_naming_no_executable_is_a_usage_error_not_reused() {
    let d = dir("expectexe");
    let pf = d.join("live.pid");
    std::fs::write(&pf, format!("{}\n", std::process::id())).unwrap();
    let not_exec = d.join("plain-file");
    std::fs::write(&not_exec, "x").unwrap();
    for bad in [PathBuf::from("/nonexistent/x"), not_exec, d.clone()] {
        let out = catchd()
            .arg("--pidfile-check")
            .arg("--expect-exe")
            .arg(&bad)
            .arg(&pf)
            .output()
            .unwrap();
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        assert_eq!(out.status.code(), Some(2), "{bad:?}: {stdout}{stderr}");
        assert!(!stdout.contains("reused"), "{stdout}");
        assert!(
            stderr.contains("--expect-exe") && stderr.contains(&bad.display().to_string()),
            "{stderr}"
        );
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
    }
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn non_utf8_file_names_are_escaped_in_table_and_json() {
    let d = dir("nonutf8");
    let pf = d.join(OsStr::from_bytes(b"caf\xff.pid"));
    std::fs::write(&pf, format!("{}\n", std::process::id())).unwrap();
    let shown = format!("{}/caf\\xff.pid", d.display());
    let table = catchd().arg("--pidfile-check").arg(&pf).output().unwrap();
    let text = String::from_utf8(table.stdout).expect("the table is UTF-8");
    assert!(text.contains(&shown), "{text}");
    assert!(!text.contains('\u{fffd}'), "{text}");
    let json = catchd()
        .args(["--pidfile-check", "--json"])
        .arg(&pf)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v[0]["path"], shown.as_str());
    let _ = std::fs::remove_dir_all(&d);
}
