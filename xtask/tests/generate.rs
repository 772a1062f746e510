//! The generated man page renders and the bash completion offers every
//! option of the clap definition (issue 4, point 6).

#[allow(dead_code)]
#[path = "../../src/cli.rs"]
mod cli;

use std::path::PathBuf;
use std::process::Command;

fn generate(what: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("catchd-xtask-{what}-{}", std::process::id()));
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args([what, dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
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
    let dir = generate("man");
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
    let rendered = Command::new("man")
        .env("MANWIDTH", "100")
        .env("MANPAGER", "cat")
        .arg("-l")
        .arg(&page)
        .output();
    match rendered {
        Ok(out) if out.status.success() => {
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(
                text.contains("catchd") && text.contains("pidfile"),
                "{text}"
            );
            assert!(
                !String::from_utf8_lossy(&out.stderr).contains("warning"),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        other => eprintln!("man(1) not usable here ({other:?}); checked the roff source only"),
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn bash_completion_lists_every_option() {
    let dir = generate("completions");
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
