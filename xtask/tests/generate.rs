//! The generated man page renders every section an operator looks for, with
//! catchd's real version, and the completions offer every option, signal
//! names, the values of enumerated options, no file names after durations,
//! and commands after `--`.

#[allow(dead_code)]
#[path = "../../src/cli.rs"]
mod cli;

use std::path::PathBuf;
use std::process::Command;

/// `out`, after checking that its command succeeded (its stderr if not).
fn succeeded(out: std::process::Output) -> std::process::Output {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Runs `xtask WHAT DIR` into a directory of the calling test's own.
fn generate(what: &str, test: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("catchd-xtask-{what}-{test}-{}", std::process::id()));
    succeeded(
        Command::new(env!("CARGO_BIN_EXE_xtask"))
            .args([what, dir.to_str().unwrap()])
            .output()
            .unwrap(),
    );
    dir
}

/// Every long option of the very definition catchd parses with.
fn long_options() -> Vec<String> {
    use clap::CommandFactory;
    let mut opts: Vec<String> = cli::Cli::command()
        .get_arguments()
        .filter_map(|a| a.get_long())
        .map(|l| format!("--{l}"))
        .chain(["--help".to_string(), "--version".to_string()])
        .collect();
    opts.sort();
    opts.dedup();
    opts
}

#[test]
fn man_page_renders() {
    let dir = generate("man", "man");
    let page = dir.join("catchd.1");
    let roff = std::fs::read_to_string(&page).unwrap();
    assert!(
        roff.starts_with(".ie") || roff.contains(".TH catchd"),
        "{roff}"
    );
    // roff escapes each dash of an option as `\-`.
    for opt in long_options() {
        let escaped = opt.replace('-', "\\-");
        assert!(roff.contains(&escaped), "{opt} missing from the man page");
    }
    assert!(
        roff.contains(&format!("catchd {}", env!("CARGO_PKG_VERSION"))),
        "the title carries the crate's version"
    );
    assert!(!roff.contains("0.0.0") && !roff.contains("EXTRA"), "{roff}");
    let rendered = Command::new("man")
        .env("MANWIDTH", "100")
        .env("MANPAGER", "cat")
        .arg("-l")
        .arg(&page)
        .output();
    match rendered {
        Ok(out) if out.status.success() => {
            let text = String::from_utf8_lossy(&out.stdout);
            let headings: Vec<&str> = text
                .lines()
                .filter(|l| l.starts_with(|c: char| c.is_ascii_uppercase()))
                .collect();
            for section in [
                "NAME",
                "SYNOPSIS",
                "DESCRIPTION",
                "OPTIONS",
                "SIGNALS",
                "EXIT STATUS",
                "ENVIRONMENT",
                "FILES",
                "EXAMPLES",
                "SEE ALSO",
            ] {
                assert!(headings.contains(&section), "no {section} in {headings:?}");
            }
            assert!(
                text.contains("catchd [OPTIONS] -- PROGRAM [ARGS...]")
                    && text.contains("catchd --pidfile-check [--json]"),
                "{text}"
            );
            for fact in ["NOTIFY_SOCKET", "124", "125", "126", "127", "1m30s"] {
                assert!(text.contains(fact), "{fact} missing: {text}");
            }
            assert!(
                !String::from_utf8_lossy(&out.stderr).contains("warning"),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        other => {
            assert!(
                std::env::var_os("CI").is_none(),
                "man(1) must be usable in CI: {other:?}"
            );
            eprintln!("man(1) not usable here ({other:?}); checked the roff source only");
        }
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// What bash's completion offers for the words typed so far (the last one
/// is being completed).
fn bash_offers(script: &std::path::Path, cwd: &std::path::Path, words: &[&str]) -> Vec<String> {
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let line = format!(
        "source {}; COMP_WORDS=({}); COMP_CWORD={}; complete -p catchd; _catchd_command catchd '{}' '{}'; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script.display(),
        quoted.join(" "),
        words.len() - 1,
        words[words.len() - 1],
        words[words.len() - 2],
    );
    let out = succeeded(
        Command::new("bash")
            .args(["-c", &line])
            .current_dir(cwd)
            .output()
            .unwrap(),
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut lines = text.lines();
    let registered = lines.next().unwrap_or_default();
    assert!(registered.contains("-F _catchd_command"), "{registered}");
    lines.map(str::to_string).collect()
}

#[test]
fn bash_completion_offers_values_not_files() {
    let dir = generate("completions", "values");
    let bash = dir.join("catchd.bash");
    // A file in the working directory that file completion would offer.
    let here = std::env::temp_dir().join(format!("catchd-xtask-cwd-{}", std::process::id()));
    std::fs::create_dir_all(&here).unwrap();
    std::fs::write(here.join("STOPFILE"), "").unwrap();
    let signals = bash_offers(&bash, &here, &["catchd", "--stop-signal", ""]);
    for sig in ["TERM", "INT", "QUIT", "HUP", "USR1"] {
        assert!(signals.iter().any(|s| s == sig), "{sig}: {signals:?}");
    }
    assert!(!signals.iter().any(|s| s == "STOPFILE"), "{signals:?}");
    let mapped = bash_offers(&bash, &here, &["catchd", "--signal-map", "QU"]);
    assert_eq!(mapped, ["QUIT"]);
    // Every option with enumerated values (--kill-mode, --cgroup, and the
    // signal options) offers all of them.
    {
        use clap::CommandFactory;
        for arg in cli::Cli::command().get_arguments() {
            let (Some(long), values) = (arg.get_long(), arg.get_possible_values()) else {
                continue;
            };
            if values.is_empty() || !arg.get_action().takes_values() {
                continue;
            }
            let opt = format!("--{long}");
            let offered = bash_offers(&bash, &here, &["catchd", &opt, ""]);
            for v in values {
                assert!(
                    offered.iter().any(|o| o == v.get_name()),
                    "{opt} {}: {offered:?}",
                    v.get_name()
                );
            }
        }
    }
    let modes = bash_offers(&bash, &here, &["catchd", "--kill-mode", ""]);
    assert!(
        modes.contains(&"main".into()) && modes.contains(&"all".into()),
        "{modes:?}"
    );
    let timeout = bash_offers(&bash, &here, &["catchd", "--stop-timeout", "S"]);
    assert!(!timeout.iter().any(|s| s == "STOPFILE"), "{timeout:?}");
    let command = bash_offers(&bash, &here, &["catchd", "--pidfile", "x.pid", "--", "tru"]);
    assert!(command.iter().any(|s| s == "true"), "{command:?}");
    // zsh and fish get the same hints from the same definition (neither
    // shell is installed here to run them).
    let zsh = std::fs::read_to_string(dir.join("_catchd")).unwrap();
    assert!(
        zsh.contains("_cmdambivalent") || zsh.contains("_command_names"),
        "{zsh}"
    );
    assert!(zsh.contains("TERM") && zsh.contains("main"), "{zsh}");
    let fish = std::fs::read_to_string(dir.join("catchd.fish")).unwrap();
    assert!(
        fish.contains("__fish_complete_command") || fish.contains("__fish_complete_subcommand"),
        "{fish}"
    );
    assert!(fish.contains("TERM"), "{fish}");
    let _ = std::fs::remove_dir_all(dir);
    let _ = std::fs::remove_dir_all(here);
}

/// Only options that take a path complete file names: every other option
/// with a value has enumerated values or a hint that says "not a file".
#[test]
fn only_path_options_complete_file_names() {
    use clap::{CommandFactory, ValueHint};
    for arg in cli::Cli::command().get_arguments() {
        let Some(long) = arg.get_long() else { continue };
        if !arg.get_action().takes_values() || !arg.get_possible_values().is_empty() {
            continue;
        }
        let is_path = arg
            .get_value_names()
            .is_some_and(|n| n.iter().any(|n| n.as_str() == "PATH"));
        let hint = arg.get_value_hint();
        assert!(
            is_path || !matches!(hint, ValueHint::Unknown | ValueHint::AnyPath),
            "--{long} would complete file names: give it `value_hint = ValueHint::Other` in src/cli.rs"
        );
    }
}

#[test]
fn bash_completion_lists_every_option() {
    let dir = generate("completions", "options");
    let bash = dir.join("catchd.bash");
    let opts = long_options();
    assert!(opts.len() >= 15, "{opts:?}");
    let script = format!(
        "source {}; COMP_WORDS=(catchd --); COMP_CWORD=1; _catchd catchd -- catchd; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        bash.display()
    );
    let out = Command::new("bash").args(["-c", &script]).output().unwrap();
    let offered = String::from_utf8_lossy(&out.stdout);
    for opt in &opts {
        assert!(
            offered.lines().any(|l| l == opt),
            "completion lacks {opt}: {offered}"
        );
    }
    let _ = std::fs::remove_dir_all(dir);
}
