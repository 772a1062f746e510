//! The report file: the tests' only window into the fake daemons.
//!
//! Owns: the line formats and how a line reaches `$CATCHD_TD_REPORT`.
//! Each line is appended with one `write(2)` on a file opened for that line
//! alone (`O_WRONLY|O_APPEND|O_CREAT|O_CLOEXEC`) and closed at once, so lines
//! from many processes never interleave, and a process that closed all its
//! descriptors (`--close-all-fds`) can still report.
//! Must not: keep a descriptor open between lines, or panic (a failed report
//! is one line on stderr, which may itself be /dev/null).
//!
//! Formats (fields separated by one space, values escaped by `escape`):
//! `start pid=P ppid=Q role=launcher`, `ready pid=P ppid=Q role=R`,
//! `pidfile pid=P path=PATH content=TEXT`, `signal N pid=P role=R`,
//! `exit pid=P role=R code=N`, `orphans-done pid=P count=N`, and from
//! td-reaper `reaped pid=P code=N` / `reaped pid=P signal=N`.

use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The environment variable naming the report file.
pub const REPORT_ENV: &str = "CATCHD_TD_REPORT";

static REPORT_PATH: OnceLock<Option<PathBuf>> = OnceLock::new();

/// What a process is, for the `role=` field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Launcher,
    Intermediate,
    Main,
    Worker,
    Storm,
    Successor,
    OrphanParent,
    Orphan,
    /// td-reaper with `--record-signals`.
    Reaper,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Launcher => "launcher",
            Role::Intermediate => "intermediate",
            Role::Main => "main",
            Role::Worker => "worker",
            Role::Storm => "storm",
            Role::Successor => "successor",
            Role::OrphanParent => "orphan-parent",
            Role::Orphan => "orphan",
            Role::Reaper => "reaper",
        }
    }
}

/// Read `$CATCHD_TD_REPORT` once, before the first fork, so that children
/// never touch the environment.
pub fn init() {
    REPORT_PATH.get_or_init(|| {
        std::env::var_os(REPORT_ENV)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    });
}

/// Escape a value so that a line splits on spaces: printable ASCII other
/// than space and backslash stays as is; `\\`, `\n`, `\t`, `\r`; anything
/// else (space included) as `\xNN`.
pub fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\t' => out.push_str("\\t"),
            b'\r' => out.push_str("\\r"),
            0x21..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out
}

/// Append one line (a newline is added) to the report file, if any.
pub fn line(text: &str) {
    let Some(Some(path)) = REPORT_PATH.get() else {
        return;
    };
    let mut buf = Vec::with_capacity(text.len() + 1);
    buf.extend_from_slice(text.as_bytes());
    buf.push(b'\n');
    let result = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o644)
        .custom_flags(libc::O_CLOEXEC)
        .open(path)
        // One write(2): `write`, never `write_all`, so a line is one append.
        .and_then(|mut f| f.write(&buf));
    match result {
        Ok(n) if n == buf.len() => {}
        Ok(n) => eprintln!("td: short report write ({n} of {} bytes)", buf.len()),
        Err(e) => eprintln!("td: cannot report to {}: {e}", path.display()),
    }
}

fn pid() -> i32 {
    std::process::id() as i32
}

fn ppid() -> i32 {
    nix::unistd::getppid().as_raw()
}

pub fn start() {
    line(&format!(
        "start pid={} ppid={} role=launcher",
        pid(),
        ppid()
    ));
}

pub fn ready(role: Role) {
    line(&format!(
        "ready pid={} ppid={} role={}",
        pid(),
        ppid(),
        role.as_str()
    ));
}

pub fn pidfile(path: &Path, content: &[u8]) {
    line(&format!(
        "pidfile pid={} path={} content={}",
        pid(),
        escape(path.as_os_str().as_bytes()),
        escape(content)
    ));
}

pub fn signal(signo: i32, role: Role) {
    line(&format!(
        "signal {signo} pid={} role={}",
        pid(),
        role.as_str()
    ));
}

pub fn exit(role: Role, code: i32) {
    line(&format!(
        "exit pid={} role={} code={code}",
        pid(),
        role.as_str()
    ));
}

pub fn orphans_done(count: u32) {
    line(&format!("orphans-done pid={} count={count}", pid()));
}

/// td-reaper: a child was reaped with wait status `status`.
pub fn reaped(child: i32, status: i32) {
    if libc::WIFSIGNALED(status) {
        line(&format!(
            "reaped pid={child} signal={}",
            libc::WTERMSIG(status)
        ));
    } else {
        line(&format!(
            "reaped pid={child} code={}",
            libc::WEXITSTATUS(status)
        ));
    }
}
