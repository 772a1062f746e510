//! Every command in the README's `sh` blocks is run somewhere: here (the
//! quick start, the audit examples), verbatim by CI (`.ci/run`,
//! `.ci/deb-smoke`: the install paths, `cargo test`, `man catchd`), or by a
//! named test with private paths (the real daemons, the container's
//! ENTRYPOINT). A command added to the README without a home fails here.

use std::path::Path;
use std::process::Command;

use crate::support::*;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// The commands of the README's ```sh blocks, continuations joined.
fn readme_commands() -> Vec<String> {
    let mut out = Vec::new();
    let mut inside = false;
    let mut pending = String::new();
    for line in read("README.md").lines() {
        match (inside, line.trim_end()) {
            (false, "```sh") => inside = true,
            (true, "```") => inside = false,
            (true, l) if l.trim().is_empty() || l.trim_start().starts_with('#') => {}
            (true, l) => {
                pending.push_str(l.trim());
                match pending.strip_suffix('\\') {
                    Some(more) => pending = format!("{} ", more.trim_end()),
                    None => out.push(std::mem::take(&mut pending)),
                }
            }
            _ => {}
        }
    }
    out
}

/// Where a README command is run.
enum Home {
    /// Here, by the named function of this file.
    Here(&'static str),
    /// Verbatim (less `sudo `) in .ci/run or .ci/deb-smoke.
    Ci,
    /// By the named test files, with private paths; these words of the
    /// command must appear in each.
    Test(&'static [(&'static str, &'static [&'static str])]),
    /// Not runnable on a CI machine; the reason.
    NotHere(&'static str),
}

fn home(cmd: &str) -> Home {
    match cmd {
        c if c.starts_with("cargo run -- --pidfile /tmp/demo-legacyd.pid") => {
            Home::Here("quick_start_command_holds_the_demo_until_ctrl_c")
        }
        c if c.starts_with("catchd --pidfile-check") => Home::Here("audit_commands_run_as_written"),
        c if c.starts_with("docker ") => Home::NotHere(
            "no container runtime on CI; the image's ENTRYPOINT and CMD run in tests/it/real/container.rs",
        ),
        c if c.contains("/usr/sbin/nginx") => Home::Test(&[(
            "tests/it/real/nginx.rs",
            &["\"--signal-map\", \"TERM:QUIT\"", "\"--stop-timeout\""],
        )]),
        c if c.contains("/usr/bin/memcached") => Home::Test(&[
            ("tests/it/real/memcached.rs", &["\"-d\"", "\"-P\"", "\"-u\""]),
            ("tests/it/real/ready_when.rs", &["\"--ready-when\"", "memcached"]),
        ]),
        c if c.contains("redis-server") => Home::Test(&[(
            "tests/it/real/redis.rs",
            &["\"--daemonize\"", "\"yes\""],
        )]),
        _ => Home::Ci,
    }
}

#[test]
fn every_readme_command_is_run_somewhere() {
    let commands = readme_commands();
    assert!(commands.len() >= 15, "{commands:#?}");
    let ci = read(".ci/run") + &read(".ci/deb-smoke");
    let this = read("tests/it/readme.rs");
    let mut unrun = Vec::new();
    for cmd in &commands {
        match home(cmd) {
            Home::Here(f) => assert!(this.contains(&format!("fn {f}()")), "{f}"),
            Home::Ci => {
                let bare = cmd.strip_prefix("sudo ").unwrap_or(cmd);
                if !ci.contains(bare) {
                    unrun.push(cmd.clone());
                }
            }
            Home::Test(files) => {
                for (file, words) in files {
                    let text = read(file);
                    for w in *words {
                        assert!(text.contains(w), "{file} lacks {w} for `{cmd}`");
                    }
                }
            }
            Home::NotHere(why) => assert!(!why.is_empty()),
        }
    }
    assert!(
        unrun.is_empty(),
        "README commands that neither CI nor a test runs: {unrun:#?}"
    );
    // The container quick start builds what `cargo xtask dist` writes.
    let build = commands
        .iter()
        .find(|c| c.starts_with("docker build"))
        .unwrap();
    assert!(build.ends_with(" target/dist"), "{build}");
    let file = build
        .split(" -f ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap();
    assert!(root().join(file).is_file(), "{file}");
    assert!(commands.iter().any(|c| c == "cargo xtask dist"));
}

/// The quick start's first command, as written, with the built binary for
/// `cargo run --` and a private PID file; Ctrl-C (INT) ends it with 0.
#[test]
fn quick_start_command_holds_the_demo_until_ctrl_c() {
    let cmd = readme_commands()
        .into_iter()
        .find(|c| c.starts_with("cargo run -- "))
        .unwrap();
    let dir = TestDir::new("readme-quick-start");
    let pidfile = dir.file("demo-legacyd.pid").display().to_string();
    let script = root()
        .join("test-daemons/demo-legacyd.sh")
        .display()
        .to_string();
    let args: Vec<String> = cmd
        .strip_prefix("cargo run -- ")
        .unwrap()
        .split_whitespace()
        .map(|w| match w {
            "/tmp/demo-legacyd.pid" => pidfile.clone(),
            "test-daemons/demo-legacyd.sh" => script.clone(),
            w => w.to_string(),
        })
        .collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut c = Catchd::start_with(&dir, &args, int_at_default);
    c.wait_log("ready: main process PID");
    c.signal(libc::SIGHUP);
    c.wait_log("demo-legacyd: reloading");
    c.signal(libc::SIGINT);
    assert_eq!(code(c.wait_exit()), Some(0), "{}", c.log());
}

/// `catchd --pidfile-check` on this machine's /run, and the JSON example
/// with its path replaced by a file naming a process called memcached.
#[test]
fn audit_commands_run_as_written() {
    let commands: Vec<String> = readme_commands()
        .into_iter()
        .filter(|c| c.starts_with("catchd --pidfile-check"))
        .collect();
    assert_eq!(commands.len(), 2, "{commands:?}");
    let out = Command::new(catchd_bin())
        .args(commands[0].split_whitespace().skip(1))
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.starts_with("PIDFILE") && matches!(out.status.code(), Some(0..=2)),
        "{out:?}"
    );
    // A process whose name (comm) is memcached: a copy of sleep.
    let dir = TestDir::new("readme-audit");
    let fake = dir.file("memcached");
    std::fs::copy("/bin/sleep", &fake).unwrap();
    let mut child = Command::new(&fake).arg("1000").spawn().unwrap();
    let pidfile = dir.file("memcached.pid");
    std::fs::write(&pidfile, format!("{}\n", child.id())).unwrap();
    let args: Vec<String> = commands[1]
        .split_whitespace()
        .skip(1)
        .map(|w| match w {
            "/run/memcached/memcached.pid" => pidfile.display().to_string(),
            w => w.to_string(),
        })
        .collect();
    let out = Command::new(catchd_bin()).args(&args).output().unwrap();
    let _ = child.kill();
    let _ = child.wait();
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows[0]["verdicts"], serde_json::json!(["ok"]), "{rows:#}");
    assert_eq!(rows[0]["name"], "memcached");
    assert_eq!(out.status.code(), Some(0));
}

/// Every relative link in the README and docs/ names a file or directory
/// of the repository, and none of them points at a document the project
/// does not ship.
#[test]
fn links_resolve_and_cite_only_shipped_documents() {
    let mut pages = vec![root().join("README.md")];
    for entry in std::fs::read_dir(root().join("docs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            pages.push(path);
        }
    }
    for page in &pages {
        let text = std::fs::read_to_string(page).unwrap();
        for (i, _) in text.match_indices("](") {
            let target = text[i + 2..].split(')').next().unwrap();
            if target.contains("://") || target.starts_with('#') {
                continue;
            }
            let path = page
                .parent()
                .unwrap()
                .join(target.split('#').next().unwrap());
            assert!(path.exists(), "{}: broken link {target}", page.display());
        }
        let issue = text
            .match_indices("issue ")
            .any(|(i, w)| text[i + w.len()..].starts_with(|c: char| c.is_ascii_digit()));
        assert!(!issue, "{} cites an issue number", page.display());
        for unshipped in ["SPEC", "ARCHITECTURE", "/work/"] {
            assert!(
                !text.contains(unshipped),
                "{} mentions {unshipped}",
                page.display()
            );
        }
    }
}
