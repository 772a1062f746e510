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
        start_timeout: parse_duration("--start-timeout", &cli.start_timeout)?,
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

/// `90s`, `300ms`, `2m`, `1h`, `1.5s`, or a bare number of seconds.
pub fn parse_duration(flag: &str, text: &str) -> Result<Duration> {
    let bad = || {
        Error::usage(format!(
            "{flag}: invalid duration {text:?}: expected a number with an optional unit ms, s, m or h (e.g. 300ms, 10s)"
        ))
    };
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let scale = match unit {
        "ms" => 0.001,
        "" | "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        _ => return Err(bad()),
    };
    if number.is_empty() || number.starts_with('.') || number.ends_with('.') {
        return Err(bad());
    }
    let value: f64 = number.parse().map_err(|_| bad())?;
    Duration::try_from_secs_f64(value * scale)
        .ok()
        .filter(|d| *d <= Duration::from_secs(365 * 24 * 3600))
        .ok_or_else(bad)
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
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let ok = |t: &str| parse_duration("--x", t).unwrap();
        assert_eq!(ok("90s"), Duration::from_secs(90));
        assert_eq!(ok("300ms"), Duration::from_millis(300));
        assert_eq!(ok("2m"), Duration::from_secs(120));
        assert_eq!(ok("1h"), Duration::from_secs(3600));
        assert_eq!(ok("1.5s"), Duration::from_millis(1500));
        assert_eq!(ok("10"), Duration::from_secs(10));
        assert_eq!(ok("0"), Duration::ZERO);
        for bad in [
            "",
            "s",
            "-1s",
            "10x",
            "1.s",
            ".5s",
            "1e3",
            "inf",
            "NaN",
            "10 s",
            "99999999h",
        ] {
            let err = parse_duration("--stop-timeout", bad)
                .unwrap_err()
                .to_string();
            assert!(
                err.starts_with("--stop-timeout: invalid duration"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn signal_maps() {
        let (from, to) = parse_signal_map("TERM:QUIT").unwrap();
        assert_eq!((from.0, to.0), (libc::SIGTERM, libc::SIGQUIT));
        assert!(parse_signal_map("TERM").is_err());
        assert!(parse_signal_map("TERM:NOPE").is_err());
        assert!(parse_signal_map("KILL:TERM").is_err());
    }

    #[test]
    fn ready_when_is_typed_or_one_line_naming_the_option() {
        use clap::Parser;
        let cli = |extra: &[&str]| {
            let mut argv = vec!["catchd"];
            argv.extend_from_slice(extra);
            argv.extend(["--", "prog"]);
            build(Cli::try_parse_from(argv).unwrap())
        };
        let Ok(Config::Run(cfg)) = cli(&[
            "--ready-when",
            "listening",
            "--ready-when=listening=[::1]:80",
        ]) else {
            panic!("not a run config")
        };
        assert_eq!(
            cfg.ready_when,
            [Want::Any, Want::Addr("[::1]:80".parse().unwrap())]
        );
        let Err(e) = cli(&["--ready-when", "listening=x:80"]) else {
            panic!("accepted x:80")
        };
        let msg = e.to_string();
        assert!(
            msg.starts_with("--ready-when: invalid address \"x:80\""),
            "{msg}"
        );
        assert_eq!(e.exit_code(crate::error::Mode::Run), 125);
    }

    #[test]
    fn ready_fd_must_be_high_and_open() {
        assert!(parse_ready_fd("1").is_err());
        assert!(parse_ready_fd("x").is_err());
        assert!(parse_ready_fd("999999").is_err());
    }

    proptest::proptest! {
        /// Any text: a value or one line naming the flag, never a panic;
        /// an accepted value round-trips from whole milliseconds.
        #[test]
        fn durations_never_panic(text in ".{0,24}") {
            match parse_duration("--stop-timeout", &text) {
                Ok(d) => proptest::prop_assert!(d <= Duration::from_secs(365 * 24 * 3600)),
                Err(e) => {
                    let msg = e.to_string();
                    proptest::prop_assert!(msg.starts_with("--stop-timeout: invalid duration"));
                    proptest::prop_assert!(!msg.contains('\n'));
                }
            }
        }

        #[test]
        fn whole_milliseconds_round_trip(ms in 0u64..10_000_000) {
            proptest::prop_assert_eq!(
                parse_duration("--x", &format!("{ms}ms")).ok(),
                Some(Duration::from_millis(ms))
            );
        }

        #[test]
        fn signal_maps_never_panic(text in ".{0,24}") {
            if let Ok((from, to)) = parse_signal_map(&text) {
                proptest::prop_assert!(from.is_catchable());
                proptest::prop_assert!(to.0 >= 1 && to.0 <= libc::SIGRTMAX());
            }
        }
    }
}
