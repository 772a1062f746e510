//! Validated configuration built from the raw `Cli` (ripgrep's LowArgs →
//! HiArgs): durations, signal names, `--signal-map` pairs, `--ready-fd`.
//!
//! Owns: every rule about what a value may look like, and the one-line
//! message when it does not. Must not start anything.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use crate::cli::{CgroupMode, Cli, KillMode};
use crate::error::{Error, Result};
use crate::listen::Want;
use crate::log::Level;
use crate::sig::Sig;

#[derive(Debug)]
pub struct RunConfig {
    pub program: OsString,
    pub args: Vec<OsString>,
    pub pidfile: Option<PathBuf>,
    pub start_timeout: Duration,
    pub stop_timeout: Duration,
    pub stop_signal: Option<Sig>,
    pub signal_map: Vec<(Sig, Sig)>,
    pub kill_mode: KillMode,
    pub wait_all: bool,
    pub exit_128: bool,
    pub ready_fd: Option<i32>,
    /// `--ready-when listening[=ADDR]`: every one must be met for ready.
    pub ready_when: Vec<Want>,
    pub status_file: Option<PathBuf>,
    pub contain: bool,
    pub cgroup: CgroupMode,
    /// `--name`: also names the daemon's cgroup.
    pub name: Option<String>,
}

#[derive(Debug)]
pub struct AuditConfig {
    pub files: Vec<PathBuf>,
    pub json: bool,
    pub expect_exe: Option<PathBuf>,
    pub expect_name: Option<String>,
}

pub enum Config {
    Run(RunConfig),
    Audit(AuditConfig),
}

/// The logger's name and level, taken before anything else can fail.
pub fn log_settings(cli: &Cli) -> (String, Level) {
    let level = if cli.quiet {
        Level::Error
    } else if cli.verbose {
        Level::Debug
    } else {
        Level::Info
    };
    (cli.name.clone().unwrap_or_else(|| "catchd".into()), level)
}

pub fn build(cli: Cli) -> Result<Config> {
    if cli.pidfile_check {
        return Ok(Config::Audit(AuditConfig {
            files: cli.args.into_iter().map(PathBuf::from).collect(),
            json: cli.json,
            expect_exe: cli.expect_exe,
            expect_name: cli.expect_name,
        }));
    }
    let mut args = cli.args.into_iter();
    let program = args.next().ok_or_else(|| {
        Error::usage("missing PROGRAM: expected `catchd [OPTIONS] -- PROGRAM [ARGS...]`")
    })?;
    if program.is_empty() {
        return Err(Error::usage(
            "PROGRAM is empty: expected a program name or path",
        ));
    }
    let signal_map = cli
        .signal_map
        .iter()
        .map(|pair| parse_signal_map(pair))
        .collect::<Result<Vec<_>>>()?;
    Ok(Config::Run(RunConfig {
        program,
        args: args.collect(),
        pidfile: cli.pidfile,
        start_timeout: parse_start_timeout(&cli.start_timeout)?,
        stop_timeout: parse_duration("--stop-timeout", &cli.stop_timeout)?,
        stop_signal: cli
            .stop_signal
            .as_deref()
            .map(|s| parse_signal("--stop-signal", s))
            .transpose()?,
        signal_map,
        kill_mode: cli.kill_mode,
        wait_all: cli.wait_all,
        exit_128: cli.exit_128,
        ready_fd: cli.ready_fd.as_deref().map(parse_ready_fd).transpose()?,
        ready_when: cli
            .ready_when
            .iter()
            .map(|t| Want::parse(t).map_err(|e| Error::usage(format!("--ready-when: {e}"))))
            .collect::<Result<_>>()?,
        status_file: cli.status_file,
        contain: cli.contain,
        cgroup: cli.cgroup,
        name: cli.name,
    }))
}

/// `90s`, `300ms`, `2m`, `1h`, `1.5s`, a sum of them (`1m30s`,
/// `1h2m3.5s`), or a bare number of seconds.
pub fn parse_duration(flag: &str, text: &str) -> Result<Duration> {
    let bad = || {
        Error::usage(format!(
            "{flag}: invalid duration {text:?}: expected a number with a unit ms, s, m or h, or a sum like 1m30s (e.g. 300ms, 10s, 1m30s)"
        ))
    };
    let mut rest = text;
    let mut total = 0.0_f64;
    let mut parts = 0;
    while !rest.is_empty() {
        let split = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, tail) = rest.split_at(split);
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        let scale = match unit {
            "ms" => 0.001,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            // A bare number is seconds, but only on its own.
            "" if parts == 0 && tail.is_empty() => 1.0,
            _ => return Err(bad()),
        };
        if number.is_empty() || number.starts_with('.') || number.ends_with('.') {
            return Err(bad());
        }
        let value: f64 = number.parse().map_err(|_| bad())?;
        total += value * scale;
        parts += 1;
        rest = tail;
    }
    if parts == 0 {
        return Err(bad());
    }
    Duration::try_from_secs_f64(total)
        .ok()
        .filter(|d| *d <= Duration::from_secs(365 * 24 * 3600))
        .ok_or_else(bad)
}

/// `--start-timeout 0` would give up before the daemon could start.
fn parse_start_timeout(text: &str) -> Result<Duration> {
    let d = parse_duration("--start-timeout", text)?;
    if d.is_zero() {
        return Err(Error::usage(format!(
            "--start-timeout: {text:?} would give up before the daemon could start: expected a duration above 0 (e.g. 90s)"
        )));
    }
    Ok(d)
}

/// Options that only audit mode takes; every option not listed here or in
/// `EITHER_MODE` belongs to run mode.
const AUDIT_ONLY: &[&str] = &["json", "expect_exe", "expect_name"];
const EITHER_MODE: &[&str] = &[
    "pidfile_check",
    "name",
    "quiet",
    "verbose",
    "help",
    "version",
];

/// Each option given (`(id, as spelled)`) must belong to the chosen mode:
/// one line naming the first that does not.
pub fn check_mode(audit: bool, given: &[(String, String)]) -> Result<()> {
    for (id, shown) in given {
        let id = id.as_str();
        if EITHER_MODE.contains(&id) {
            continue;
        }
        match (audit, AUDIT_ONLY.contains(&id)) {
            (true, false) => {
                return Err(Error::usage(format!(
                    "{shown} is a run-mode option: --pidfile-check (audit mode) does not take it"
                )))
            }
            (false, true) => {
                return Err(Error::usage(format!(
                    "{shown} is an audit-mode option: it needs --pidfile-check (catchd --pidfile-check {shown} ... [PIDFILE...])"
                )))
            }
            _ => {}
        }
    }
    Ok(())
}

pub fn parse_signal(flag: &str, text: &str) -> Result<Sig> {
    Sig::parse(text).ok_or_else(|| {
        Error::usage(format!(
            "{flag}: invalid signal {text:?}: expected a name like TERM or SIGTERM, or a number like 15"
        ))
    })
}

/// `FROM:TO`, e.g. `TERM:QUIT`. Signals catchd cannot catch cannot be mapped.
pub fn parse_signal_map(text: &str) -> Result<(Sig, Sig)> {
    let (from, to) = text.split_once(':').ok_or_else(|| {
        Error::usage(format!(
            "--signal-map: invalid pair {text:?}: expected FROM:TO, e.g. TERM:QUIT"
        ))
    })?;
    let from = parse_signal("--signal-map", from)?;
    let to = parse_signal("--signal-map", to)?;
    if !from.is_catchable() {
        return Err(Error::usage(format!(
            "--signal-map: {} cannot be caught, so it cannot be mapped",
            from.name()
        )));
    }
    Ok((from, to))
}

/// `--ready-fd N`: a number ≥ 3 naming a descriptor that is open now.
fn parse_ready_fd(text: &str) -> Result<i32> {
    let fd: i32 = text.parse().ok().filter(|fd| *fd >= 3).ok_or_else(|| {
        Error::usage(format!(
            "--ready-fd: invalid descriptor {text:?}: expected a number of 3 or more"
        ))
    })?;
    if !crate::sys::fd_is_open(fd) {
        return Err(Error::usage(format!(
            "--ready-fd: descriptor {fd} is not open: the supervisor must pass it"
        )));
    }
    Ok(fd)
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
