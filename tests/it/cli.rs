//! The command line as an operator meets it: one line and a non-zero exit
//! for every mistake, clap's suggestions, compound durations, options of
//! the other mode refused, and `--help` that explains its formats.

use std::process::{Command, Output};

use crate::support::*;

fn run(args: &[&str]) -> Output {
    Command::new(catchd_bin())
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
}

/// A refused command line: exit `status`, nothing on stdout, exactly one
/// line on stderr (returned).
fn refused(args: &[&str], status: i32) -> String {
    let out = run(args);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(status), "{args:?}: {err}");
    assert!(out.stdout.is_empty(), "{args:?}: stdout {:?}", out.stdout);
    assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
    assert!(!err.contains("panicked"), "{err}");
    err
}

#[test]
fn misspelt_option_gets_a_suggestion() {
    let err = refused(&["--pidfil", "/tmp/x.pid", "--", "true"], 125);
    assert!(
        err.contains("'--pidfil'") && err.contains("did you mean --pidfile?"),
        "{err}"
    );
    let err = refused(&["--pidfile-check", "--jsn"], 2);
    assert!(err.contains("did you mean --json?"), "{err}");
    let err = refused(&["--kill-mode", "al", "--", "true"], 125);
    assert!(err.contains("did you mean all?"), "{err}");
}

#[test]
fn audit_option_in_run_mode_is_one_sensible_line() {
    let err = refused(&["--json", "--", "true"], 125);
    assert!(
        err.contains("--json is an audit-mode option: it needs --pidfile-check"),
        "{err}"
    );
    assert!(!err.contains("required arguments"), "{err}");
    let err = refused(&["--expect-exe", "/bin/sh", "--", "true"], 125);
    assert!(
        err.contains("--expect-exe is an audit-mode option"),
        "{err}"
    );
}

#[test]
fn run_mode_options_are_refused_in_audit_mode() {
    for opt in [
        &["--stop-timeout", "3s"][..],
        &["--pidfile", "/tmp/x.pid"],
        &["--kill-mode", "all"],
        &["--wait-all"],
        &["--contain"],
    ] {
        let mut args = vec!["--pidfile-check"];
        args.extend_from_slice(opt);
        args.push("/nonexistent/x.pid");
        let err = refused(&args, 2);
        assert!(
            err.contains(&format!(
                "{} is a run-mode option: --pidfile-check (audit mode) does not take it",
                opt[0]
            )),
            "{err}"
        );
    }
}

#[test]
fn compound_durations_are_accepted() {
    let out = run(&[
        "--start-timeout",
        "10m30s",
        "--stop-timeout",
        "1m30s",
        "--",
        "true",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = refused(&["--stop-timeout", "1m30", "--", "true"], 125);
    assert!(
        err.contains("--stop-timeout: invalid duration \"1m30\"") && err.contains("1m30s"),
        "{err}"
    );
}

#[test]
fn zero_start_timeout_is_refused_with_a_reason() {
    let err = refused(
        &[
            "--start-timeout",
            "0",
            "--pidfile",
            "/tmp/x.pid",
            "--",
            "true",
        ],
        125,
    );
    assert!(
        err.contains("--start-timeout: \"0\" would give up"),
        "{err}"
    );
    assert!(!err.contains("0ns"), "{err}");
}

#[test]
fn bad_values_name_what_was_expected() {
    let err = refused(&["--kill-mode", "some", "--", "true"], 125);
    assert!(err.contains("expected one of: main, all"), "{err}");
    let err = refused(&["--stop-signal", "NOPE", "--", "true"], 125);
    assert!(
        err.contains("--stop-signal: invalid signal \"NOPE\""),
        "{err}"
    );
    let err = refused(&[], 125);
    assert!(err.contains("missing PROGRAM"), "{err}");
}

#[test]
fn help_explains_formats_and_shows_examples() {
    for flag in ["-h", "--help"] {
        let out = run(&[flag]);
        assert_eq!(out.status.code(), Some(0));
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(
            help.contains("catchd --pidfile-check [--json] [--expect-exe PATH] [--expect-name NAME] [PIDFILE...]"),
            "{help}"
        );
        assert!(
            help.contains("Durations:") && help.contains("1m30s"),
            "{help}"
        );
        assert!(
            help.contains("Signals:") && help.contains("SIGTERM"),
            "{help}"
        );
        let examples = help
            .lines()
            .skip_while(|l| !l.starts_with("Examples:"))
            .skip(1)
            .take_while(|l| l.starts_with("  catchd "))
            .count();
        assert!(examples >= 2, "{help}");
    }
}

#[test]
fn version_is_the_crate_version() {
    let out = run(&["--version"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("catchd {}", env!("CARGO_PKG_VERSION"))
    );
}
