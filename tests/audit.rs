//! `catchd --pidfile-check` against real files and real processes (SPEC §2,
//! issue 3). Each test works in its own directory, starts its processes with
//! `std::process::Command`, and kills them by their recorded PID when done.
//! Nothing here sleeps to synchronise: `spawn` returns after the exec.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic

use std::ffi::OsString;
use std::fs;
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// A fresh 0755 directory for one test, removed afterwards.
struct Dir(PathBuf);

impl Dir {
    fn new(test: &str) -> Dir {
        let name = format!("catchd-audit-{}-{test}", std::process::id());
        let dir = std::env::temp_dir().join(name);
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        Dir(dir)
    }

    /// A 0644 file holding `content`.
    fn file(&self, name: &str, content: impl AsRef<[u8]>) -> PathBuf {
        let path = self.0.join(name);
        fs::write(&path, content).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        path
    }

    fn pidfile(&self, name: &str, pid: u32) -> PathBuf {
        self.file(name, format!("{pid}\n"))
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A process of ours, SIGKILLed and reaped by its recorded PID when dropped.
struct Proc(Child);

impl Proc {
    fn sleeper() -> Proc {
        Proc::spawn(Command::new("sleep").arg("1000").stdin(Stdio::null()))
    }

    /// `cat` waiting on a pipe: a live process that is not /bin/sleep.
    fn cat() -> Proc {
        Proc::spawn(
            Command::new("cat")
                .stdin(Stdio::piped())
                .stdout(Stdio::null()),
        )
    }

    fn spawn(cmd: &mut Command) -> Proc {
        Proc(cmd.spawn().expect("spawn a helper process"))
    }

    fn pid(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A PID that was ours and has been reaped: not running any more.
fn dead_pid() -> u32 {
    let mut child = Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    pid
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn catchd<I, S>(args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: Into<OsString>,
{
    let out = Command::new(env!("CARGO_BIN_EXE_catchd"))
        .arg("--pidfile-check")
        .args(args.into_iter().map(Into::into))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    Run {
        code: out.status.code().expect("catchd exits, it is not killed"),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

/// `--json` over `files`: the exit status and one object per path.
fn audit(extra: &[&str], files: &[&Path]) -> (i32, Vec<Value>) {
    let mut args: Vec<OsString> = vec!["--json".into()];
    args.extend(extra.iter().map(OsString::from));
    args.extend(files.iter().map(|f| f.as_os_str().to_owned()));
    let run = catchd(args);
    let rows: Vec<Value> = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\nstderr: {}", run.stdout, run.stderr));
    assert_eq!(rows.len(), files.len(), "{rows:#?}");
    (run.code, rows)
}

fn verdicts(row: &Value) -> Vec<&str> {
    let list = row["verdicts"]
        .as_array()
        .unwrap_or_else(|| panic!("{row:#}"));
    list.iter().map(|v| v.as_str().unwrap()).collect()
}

fn row<'a>(rows: &'a [Value], path: &Path) -> &'a Value {
    let path = path.to_str().unwrap();
    rows.iter()
        .find(|r| r["path"] == path)
        .unwrap_or_else(|| panic!("{path} missing"))
}

fn running_as_root() -> bool {
    fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

#[test]
fn ok_live_process_started_before_the_file_was_written() {
    let dir = Dir::new("ok");
    let p = Proc::sleeper();
    let file = dir.pidfile("sleep.pid", p.pid());
    let (code, rows) = audit(&[], &[&file]);
    let r = &rows[0];
    assert_eq!((code, verdicts(r)), (0, vec!["ok"]), "{r:#}");
    assert_eq!(r["pid"], p.pid());
    assert_eq!(r["name"], "sleep");
    assert!(r["exe"].as_str().unwrap().ends_with("/sleep"), "{r:#}");
    assert_eq!(r["uid"], fs::metadata("/proc/self").unwrap().uid());
    assert!(r["start_time"].as_str().unwrap().ends_with('Z'), "{r:#}");

    let expect = ["--expect-exe", "/bin/sleep", "--expect-name", "sleep"];
    let (code, rows) = audit(&expect, &[&file]);
    assert_eq!((code, verdicts(&rows[0])), (0, vec!["ok"]), "{rows:#?}");
}

#[test]
fn stale_reaped_pid_and_nothing_is_modified() {
    let dir = Dir::new("stale");
    let file = dir.pidfile("gone.pid", dead_pid());
    let before = fs::metadata(&file).unwrap();
    let (code, rows) = audit(&[], &[&file]);
    assert_eq!((code, verdicts(&rows[0])), (1, vec!["stale"]), "{rows:#?}");
    assert!(rows[0]["detail"]
        .as_str()
        .unwrap()
        .contains("is not running"));
    assert!(rows[0]["exe"].is_null() && rows[0]["start_time"].is_null());
    let after = fs::metadata(&file).expect("audit mode never deletes");
    assert_eq!(before.mtime_nsec(), after.mtime_nsec());
    assert_eq!(before.mode(), after.mode());
}

#[test]
fn reused_file_backdated_before_a_fresh_process() {
    let dir = Dir::new("reused");
    let p = Proc::sleeper();
    let file = dir.pidfile("old.pid", p.pid());
    let touched = Command::new("touch")
        .args(["-d", "2 hours ago"])
        .arg(&file)
        .status()
        .unwrap();
    assert!(touched.success());
    let (code, rows) = audit(&[], &[&file]);
    assert_eq!((code, verdicts(&rows[0])), (1, vec!["reused"]), "{rows:#?}");
    let detail = rows[0]["detail"].as_str().unwrap();
    assert!(detail.starts_with("written 2 h before pid"), "{detail}");
}

#[test]
fn reused_when_expect_exe_or_name_do_not_match() {
    let dir = Dir::new("expect");
    let p = Proc::cat();
    let file = dir.pidfile("cat.pid", p.pid());
    let (code, rows) = audit(&["--expect-exe", "/bin/sleep"], &[&file]);
    assert_eq!((code, verdicts(&rows[0])), (1, vec!["reused"]), "{rows:#?}");
    assert!(rows[0]["detail"]
        .as_str()
        .unwrap()
        .contains("not /bin/sleep"));
    let (code, rows) = audit(&["--expect-name", "sleep"], &[&file]);
    assert_eq!((code, verdicts(&rows[0])), (1, vec!["reused"]), "{rows:#?}");
}

#[test]
fn unsafe_world_writable_file() {
    let dir = Dir::new("unsafe-mode");
    let p = Proc::sleeper();
    let file = dir.pidfile("open.pid", p.pid());
    fs::set_permissions(&file, fs::Permissions::from_mode(0o666)).unwrap();
    let (code, rows) = audit(&[], &[&file]);
    assert_eq!((code, verdicts(&rows[0])), (1, vec!["unsafe"]), "{rows:#?}");
    assert!(rows[0]["detail"].as_str().unwrap().contains("mode 0666"));
}

#[test]
fn unsafe_symlink_is_not_followed() {
    let dir = Dir::new("unsafe-link");
    let p = Proc::sleeper();
    let real = dir.pidfile("real.pid", p.pid());
    let link = dir.0.join("link.pid");
    symlink(&real, &link).unwrap();
    let (code, rows) = audit(&[], &[&link]);
    assert_eq!((code, verdicts(&rows[0])), (1, vec!["unsafe"]), "{rows:#?}");
    assert!(rows[0]["pid"].is_null(), "the target is never read");
}

#[test]
fn unsafe_group_writable_directory() {
    let dir = Dir::new("unsafe-dir");
    let p = Proc::sleeper();
    let sub = dir.0.join("shared");
    fs::create_dir(&sub).unwrap();
    fs::set_permissions(&sub, fs::Permissions::from_mode(0o775)).unwrap();
    let file = sub.join("d.pid");
    fs::write(&file, format!("{}\n", p.pid())).unwrap();
    fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).unwrap();
    let (code, rows) = audit(&[], &[&file]);
    assert_eq!((code, verdicts(&rows[0])), (1, vec!["unsafe"]), "{rows:#?}");
    assert!(rows[0]["detail"].as_str().unwrap().contains("mode 0775"));
}

#[test]
fn unsafe_non_root_file_naming_a_root_process() {
    if !running_as_root() {
        eprintln!("skipped: needs root to chown");
        return;
    }
    let dir = Dir::new("unsafe-owner");
    let p = Proc::sleeper();
    let file = dir.pidfile("nobody.pid", p.pid());
    std::os::unix::fs::chown(&file, Some(65534), None).unwrap();
    let (code, rows) = audit(&[], &[&file]);
    assert_eq!((code, verdicts(&rows[0])), (1, vec!["unsafe"]), "{rows:#?}");
    assert!(rows[0]["detail"]
        .as_str()
        .unwrap()
        .contains("owned by uid 65534"));
}

#[test]
fn invalid_contents() {
    let dir = Dir::new("invalid");
    let cases: [(&str, Vec<u8>); 10] = [
        ("empty", vec![]),
        ("abc", b"abc\n".to_vec()),
        ("zero", b"0\n".to_vec()),
        ("init", b"1\n".to_vec()),
        ("negative", b"-5\n".to_vec()),
        ("huge", b"99999999999\n".to_vec()),
        ("two-on-a-line", b"123 456\n".to_vec()),
        ("two-lines", b"123\n456\n".to_vec()),
        ("megabyte", vec![b'7'; 1 << 20]),
        ("kthreadd", b"2\n".to_vec()),
    ];
    let files: Vec<PathBuf> = cases
        .iter()
        .map(|(n, c)| dir.file(&format!("{n}.pid"), c))
        .collect();
    let paths: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    let (code, rows) = audit(&[], &paths);
    assert_eq!(code, 1);
    for file in &files {
        assert_eq!(
            verdicts(row(&rows, file)),
            ["invalid"],
            "{:#}",
            row(&rows, file)
        );
    }
    let kthreadd = row(&rows, &files[9]);
    assert_eq!(
        (&kthreadd["pid"], &kthreadd["name"]),
        (&Value::from(2), &Value::from("kthreadd"))
    );
    assert!(row(&rows, &files[0])["pid"].is_null());
}

/// A file with three findings: each on a line of its own under the
/// file's row, none past 120 columns.
#[test]
fn table_shows_three_findings_within_120_columns() {
    if !running_as_root() {
        eprintln!("skipped: needs root to chown");
        return;
    }
    let dir = Dir::new("three-findings");
    let p = Proc::sleeper();
    let sub = dir.0.join("shared");
    fs::create_dir(&sub).unwrap();
    fs::set_permissions(&sub, fs::Permissions::from_mode(0o777)).unwrap();
    let file = sub.join("three.pid");
    fs::write(&file, format!("{}\n", p.pid())).unwrap();
    fs::set_permissions(&file, fs::Permissions::from_mode(0o666)).unwrap();
    std::os::unix::fs::chown(&file, Some(65534), None).unwrap();
    let (_, rows) = audit(&[], &[&file]);
    let detail = rows[0]["detail"].as_str().unwrap();
    for finding in ["mode 0666", "owned by uid 65534", "mode 0777"] {
        assert!(detail.contains(finding), "{finding}: {detail}");
    }
    let run = catchd([&file]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert!(
        lines.iter().all(|l| l.chars().count() <= 120),
        "{}",
        run.stdout
    );
    let rows_shown = lines.iter().filter(|l| !l.starts_with(' ')).count();
    assert_eq!(rows_shown, 2, "header and one row: {}", run.stdout);
    // Each finding starts a line of its own (continuations are indented
    // two more than the findings).
    let indent = |l: &str| l.len() - l.trim_start().len();
    let first = lines
        .iter()
        .filter(|l| l.starts_with(' '))
        .map(|l| indent(l))
        .min()
        .unwrap_or(0);
    for finding in ["file mode 0666", "file is owned by uid 65534", "directory"] {
        assert!(
            lines
                .iter()
                .any(|l| indent(l) == first && l.trim_start().starts_with(finding)),
            "{finding} does not start a line: {}",
            run.stdout
        );
    }
}

#[test]
fn table_has_a_header_and_one_aligned_line_per_file() {
    let dir = Dir::new("table");
    let p = Proc::sleeper();
    let ok = dir.pidfile("ok.pid", p.pid());
    let stale = dir.pidfile("a-longer-name-stale.pid", dead_pid());
    let run = catchd([&ok, &stale]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    // One row per file; a finding too long for the width wraps onto lines
    // that start blank.
    let lines: Vec<&str> = run.stdout.lines().filter(|l| !l.starts_with(' ')).collect();
    assert_eq!(lines.len(), 3, "{}", run.stdout);
    let header: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(header, ["PIDFILE", "PID", "VERDICT", "DETAIL"]);
    // The column where `word` starts as a cell (after the two-space gutter).
    let at = |line: &str, word: &str| {
        let cell = format!("  {word} ");
        format!("{line} ")
            .find(&cell)
            .unwrap_or_else(|| panic!("{cell:?} in {line}"))
            + 2
    };
    let stale_line = lines.iter().find(|l| l.contains("stale.pid")).unwrap();
    let ok_line = lines.iter().find(|l| l.contains("/ok.pid")).unwrap();
    assert_eq!(at(lines[0], "VERDICT"), at(stale_line, "stale"));
    assert_eq!(at(lines[0], "VERDICT"), at(ok_line, "ok"));
    // DETAIL beside the row, or (when the path leaves too little room)
    // on the next line, indented four.
    if ok_line.contains("  pid ") {
        assert_eq!(at(lines[0], "DETAIL"), at(ok_line, "pid"));
    } else {
        let all: Vec<&str> = run.stdout.lines().collect();
        let i = all.iter().position(|l| l == ok_line).unwrap();
        assert!(all[i + 1].starts_with("    pid "), "{}", run.stdout);
    }
    assert!(
        run.stdout.lines().all(|l| l.chars().count() <= 120),
        "{}",
        run.stdout
    );
    // PIDs are right-aligned under the header's end.
    let pid = p.pid().to_string();
    assert_eq!(
        at(ok_line, &pid) + pid.len(),
        at(lines[0], "PID") + "PID".len()
    );
}

#[test]
fn unreadable_paths_exit_2_and_the_others_are_still_checked() {
    let dir = Dir::new("unreadable");
    let p = Proc::sleeper();
    let ok = dir.pidfile("ok.pid", p.pid());
    let missing = dir.0.join("missing.pid");
    let (code, rows) = audit(&[], &[&missing, &ok, &dir.0]);
    assert_eq!(code, 2);
    assert_eq!(verdicts(row(&rows, &ok)), ["ok"]);
    for bad in [&missing, &dir.0] {
        let r = row(&rows, bad);
        assert!(verdicts(r).is_empty(), "{r:#}");
        assert!(
            r["error"].as_str().unwrap().starts_with("unable to read "),
            "{r:#}"
        );
    }
}

#[test]
fn usage_errors_exit_2_with_one_line() {
    let run = catchd(["--no-such-flag"]);
    assert_eq!(run.code, 2);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
}

#[test]
fn no_arguments_scans_run_quickly() {
    let started = Instant::now();
    let run = catchd(Vec::<OsString>::new());
    let took = started.elapsed();
    assert!(took < Duration::from_secs(5), "took {took:?}");
    assert!([0, 1, 2].contains(&run.code), "{}", run.stderr);
    assert!(run.stdout.starts_with("PIDFILE"), "{}", run.stdout);
    let json = catchd(["--json"]);
    let rows: Vec<Value> = serde_json::from_str(&json.stdout).unwrap();
    assert!(rows
        .iter()
        .all(|r| r["path"].as_str().unwrap().ends_with(".pid")));
}
