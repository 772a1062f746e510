//! td-forker's command line: raw flags → a validated `Config`.
//!
//! Owns: `Config`, the parse loop (`--flag VALUE` / `--flag=VALUE`), the
//! usage text, and the cross-flag checks; every error is one line (the
//! binary exits 2 on it). Per-flag values are parsed in `flags`.
//! Must not: touch the process; parsing is pure so `--self-test` and unit
//! tests can run it freely.

use crate::flags::{Raw, BOOL_FLAGS, VALUE_FLAGS};
use crate::names::{signal_name, NON_TERMINATING};
use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::time::Duration;

/// How the launcher detaches the main process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ForkMode {
    None,
    Single,
    Double,
}

/// Who writes the pidfile, and when.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PidfileWhen {
    Early,
    Late,
    Never,
}

/// A validated td-forker configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    pub fork: ForkMode,
    pub setsid: bool,
    pub close_all_fds: bool,
    pub pidfile: Option<PathBuf>,
    pub pidfile_when: PidfileWhen,
    pub pidfile_delay: Option<Duration>,
    pub pidfile_content: Option<Vec<u8>>,
    pub workers: u32,
    pub worker_setsid: bool,
    pub ignore: Vec<i32>,
    pub exit_after: Option<Duration>,
    pub exit_code: i32,
    pub die_by: Option<i32>,
    pub worker_exit_after: Option<Duration>,
    pub fork_storm: bool,
    pub handover_on: Option<i32>,
    pub launcher_sleep: Option<Duration>,
    pub launcher_exit: Option<i32>,
    pub orphans: u32,
    /// `--orphans-on SIG`: make the `--orphans` round on each SIG (main
    /// only) instead of once at start.
    pub orphans_on: Option<i32>,
    /// `--comm NAME`: the main process renames itself (PR_SET_NAME), as a
    /// daemon may, to any bytes (newlines and escapes included).
    pub comm: Option<Vec<u8>>,
    /// `--worker-uid UID`: workers switch to this user (needs CAP_SETUID).
    pub worker_uid: Option<u32>,
    /// `--worker-forge`: each worker tries to write a forged "main process
    /// exited 42" record of catchd's `--contain` init into every descriptor
    /// of PID 1 it can open through /proc, and reports how far it got.
    pub worker_forge: bool,
    /// `--zombie-leader`: the main process's first thread exits (as with
    /// `pthread_exit`) and a second thread runs the daemon on.
    pub zombie_leader: bool,
    /// `--pidfile-in-steps`: the main process writes a worker's PID into
    /// its open pidfile, waits `--pidfile-delay`, then rewrites it with
    /// its own PID and keeps the file open.
    pub pidfile_in_steps: bool,
}

/// What the command line asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Parsed {
    Run(Box<Config>),
    SelfTest,
    Help,
}

pub const USAGE: &str = "\
usage: td-forker [--fork none|single|double] [--setsid] [--close-all-fds]
         [--pidfile PATH [--pidfile-when early|late|never] [--pidfile-delay DUR]
          [--pidfile-content STRING]]
         [--workers N [--worker-setsid] [--worker-exit-after DUR]]
         [--ignore SIG]... [--exit-after DUR [--exit-code N | --die-by SIG]]
         [--fork-storm] [--handover-on SIG] [--launcher-sleep DUR]
         [--launcher-exit N] [--orphans N [--orphans-on SIG]]
         [--comm NAME] [--worker-uid UID] [--worker-forge]
         [--zombie-leader] [--pidfile-in-steps]
         [--self-test] [--help]
Reports events to the file named by $CATCHD_TD_REPORT (one line each).";

/// Parse td-forker's arguments (without argv[0]).
pub fn parse<I: IntoIterator<Item = OsString>>(args: I) -> Result<Parsed, String> {
    let mut raw = Raw::default();
    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        let bytes = arg.as_bytes();
        let (flag, inline) = match bytes.iter().position(|&b| b == b'=') {
            Some(i) if bytes.starts_with(b"--") => (
                String::from_utf8_lossy(&bytes[..i]).into_owned(),
                Some(OsString::from(std::ffi::OsStr::from_bytes(&bytes[i + 1..]))),
            ),
            _ => (arg.to_string_lossy().into_owned(), None),
        };
        if let Some(&b) = BOOL_FLAGS.iter().find(|&&b| b == flag) {
            if inline.is_some() {
                return Err(format!("{flag} takes no value"));
            }
            if raw.bools.contains(&b) {
                return Err(format!("{flag} given twice"));
            }
            raw.bools.push(b);
        } else if VALUE_FLAGS.contains(&flag.as_str()) {
            let value = match inline {
                Some(v) => v,
                None => it.next().ok_or_else(|| format!("{flag} needs a value"))?,
            };
            raw.set(&flag, &value)?;
        } else if flag.starts_with('-') {
            return Err(format!("unknown flag '{flag}' (see --help)"));
        } else {
            return Err(format!(
                "unexpected argument '{flag}': td-forker takes flags only (see --help)"
            ));
        }
    }
    if raw.bools.contains(&"--help") {
        return Ok(Parsed::Help);
    }
    if raw.bools.contains(&"--self-test") {
        return Ok(Parsed::SelfTest);
    }
    validate(raw).map(|c| Parsed::Run(Box::new(c)))
}

/// Cross-flag checks: a flag that would silently do nothing is an error.
fn validate(raw: Raw) -> Result<Config, String> {
    let has = |b: &str| raw.bools.contains(&b);
    let needs = |cond: bool, what: &str, need: &str| {
        if cond {
            Err(format!("{what} needs {need}"))
        } else {
            Ok(())
        }
    };
    let pidfile_when = match (&raw.pidfile, raw.pidfile_when) {
        (_, Some(PidfileWhen::Never)) | (None, None) => PidfileWhen::Never,
        (None, Some(_)) => return Err("--pidfile-when early|late needs --pidfile PATH".into()),
        (Some(_), w) => w.unwrap_or(PidfileWhen::Early),
    };
    let writes = pidfile_when != PidfileWhen::Never;
    needs(
        raw.pidfile_delay.is_some() && !writes,
        "--pidfile-delay",
        "--pidfile PATH (not --pidfile-when never)",
    )?;
    needs(
        raw.pidfile_content.is_some() && !writes,
        "--pidfile-content",
        "--pidfile PATH (not --pidfile-when never)",
    )?;
    let workers = raw.workers.unwrap_or(0);
    needs(
        has("--worker-setsid") && workers == 0,
        "--worker-setsid",
        "--workers N with N > 0",
    )?;
    needs(
        raw.worker_exit_after.is_some() && workers == 0,
        "--worker-exit-after",
        "--workers N with N > 0",
    )?;
    needs(
        raw.exit_code.is_some() && raw.exit_after.is_none(),
        "--exit-code",
        "--exit-after DUR",
    )?;
    needs(
        raw.die_by.is_some() && raw.exit_after.is_none(),
        "--die-by",
        "--exit-after DUR",
    )?;
    if raw.die_by.is_some() && raw.exit_code.is_some() {
        return Err("--die-by and --exit-code exclude each other".into());
    }
    if let Some(n) = raw.die_by.filter(|n| NON_TERMINATING.contains(n)) {
        return Err(format!(
            "--die-by: {} does not terminate a process by default",
            signal_name(n)
        ));
    }
    if let Some(n) = raw.handover_on {
        if [libc::SIGKILL, libc::SIGSTOP, libc::SIGCHLD].contains(&n) {
            return Err(format!("--handover-on: {} cannot be used", signal_name(n)));
        }
        if raw.ignore.contains(&n) || (n == libc::SIGTERM && has("--fork-storm")) {
            return Err(format!(
                "--handover-on: {} is ignored, so it would never arrive",
                signal_name(n)
            ));
        }
    }
    if let Some(n) = raw.orphans_on {
        needs(
            raw.orphans.unwrap_or(0) == 0,
            "--orphans-on",
            "--orphans N with N > 0",
        )?;
        if [libc::SIGKILL, libc::SIGSTOP, libc::SIGCHLD].contains(&n) || raw.handover_on == Some(n)
        {
            return Err(format!("--orphans-on: {} cannot be used", signal_name(n)));
        }
        if raw.ignore.contains(&n) || (n == libc::SIGTERM && has("--fork-storm")) {
            return Err(format!(
                "--orphans-on: {} is ignored, so it would never arrive",
                signal_name(n)
            ));
        }
    }
    needs(
        has("--pidfile-in-steps") && (workers == 0 || pidfile_when != PidfileWhen::Late),
        "--pidfile-in-steps",
        "--workers N with N > 0 and --pidfile-when late",
    )?;
    Ok(Config {
        zombie_leader: has("--zombie-leader"),
        pidfile_in_steps: has("--pidfile-in-steps"),
        fork: raw.fork.unwrap_or(ForkMode::Double),
        setsid: has("--setsid"),
        close_all_fds: has("--close-all-fds"),
        pidfile: raw.pidfile.filter(|_| writes),
        pidfile_when,
        pidfile_delay: raw.pidfile_delay,
        pidfile_content: raw.pidfile_content,
        workers,
        worker_setsid: has("--worker-setsid"),
        ignore: raw.ignore,
        exit_after: raw.exit_after,
        exit_code: raw.exit_code.unwrap_or(0),
        die_by: raw.die_by,
        worker_exit_after: raw.worker_exit_after,
        fork_storm: has("--fork-storm"),
        handover_on: raw.handover_on,
        launcher_sleep: raw.launcher_sleep,
        launcher_exit: raw.launcher_exit,
        orphans: raw.orphans.unwrap_or(0),
        orphans_on: raw.orphans_on,
        comm: raw.comm,
        worker_uid: raw.worker_uid,
        worker_forge: has("--worker-forge"),
    })
}
