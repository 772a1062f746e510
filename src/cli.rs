//! The command line as catchd's manual spells it, parsed by clap derive.
//!
//! Owns: flag names, help texts, value hints for shell completion and the
//! raw values. Must not interpret them: durations, signal names, descriptors
//! and which options belong to which mode are checked in `config.rs`.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::builder::{PossibleValue, TypedValueParser};
use clap::{ArgAction, ArgMatches, Parser, ValueEnum, ValueHint};

const AFTER_HELP: &str = "\
Durations: a number with a unit ms, s, m or h, or a sum of them: 300ms, 10s,
  1m30s, 1.5s, 2h; a bare number is seconds. --stop-timeout 0: SIGKILL right
  after the stop signal; --start-timeout must be above 0.
Signals: a name with or without SIG, in any case (TERM, SIGTERM, term), a number
  (15), or RTMIN+N / RTMAX-N.

Examples:
  catchd --pidfile /run/legacyd.pid -- /usr/sbin/legacyd
  catchd --signal-map TERM:QUIT --stop-timeout 30s --pidfile /run/nginx.pid -- /usr/sbin/nginx
  catchd --pidfile-check --expect-name memcached /run/memcached/memcached.pid

Exit status (run mode): the main process's code, or death by its signal (128+N
with --exit-128); 124 start-up timed out; 125 catchd's own error; 126 PROGRAM not
executable; 127 PROGRAM not found. Audit mode: 0 every file ok, 1 any other
verdict, 2 a usage error or a file that cannot be read.";

#[derive(Debug, Parser)]
#[command(
    name = "catchd",
    version,
    about = "Hold a self-daemonizing program in the foreground for a supervisor",
    override_usage = "catchd [OPTIONS] -- PROGRAM [ARGS...]\n       \
catchd --pidfile-check [--json] [--expect-exe PATH] [--expect-name NAME] [PIDFILE...]",
    long_about = "Hold a self-daemonizing program in the foreground for a supervisor. catchd \
becomes a child subreaper, runs PROGRAM, follows the daemon it leaves behind (verified \
through --pidfile, or the process left under catchd), forwards signals to it, stops its \
whole tree on TERM or INT, and ends as the daemon ended. With --pidfile-check it judges \
PID files instead (audit mode) and never signals anything.",
    after_help = AFTER_HELP
)]
pub struct Cli {
    /// Take the main process from this PID file once it names a live descendant
    #[arg(long, value_name = "PATH", value_hint = ValueHint::FilePath)]
    pub pidfile: Option<PathBuf>,

    /// How long to wait for a valid PID file before stopping everything (exit 124)
    #[arg(
        long,
        value_name = "DURATION",
        default_value = "90s",
        allow_hyphen_values = true,
        value_hint = ValueHint::Other
    )]
    pub start_timeout: String,

    /// Grace time between the stop signal and SIGKILL
    #[arg(
        long,
        value_name = "DURATION",
        default_value = "10s",
        allow_hyphen_values = true,
        value_hint = ValueHint::Other
    )]
    pub stop_timeout: String,

    /// Signal that starts a stop (default: the TERM or INT catchd received)
    #[arg(long, value_name = "SIG", value_parser = SignalName, hide_possible_values = true)]
    pub stop_signal: Option<String>,

    /// Rewrite a forwarded signal, e.g. TERM:QUIT (repeatable)
    #[arg(
        long,
        value_name = "FROM:TO",
        action = ArgAction::Append,
        value_parser = SignalName,
        hide_possible_values = true
    )]
    pub signal_map: Vec<String>,

    /// Who gets the stop signal first: the main process, or every descendant
    #[arg(long, value_enum, default_value_t = KillMode::Main)]
    pub kill_mode: KillMode,

    /// When the main process dies on its own, wait for every descendant and kill nothing
    #[arg(long)]
    pub wait_all: bool,

    /// Exit 128+N instead of dying by signal N
    #[arg(long = "exit-128")]
    pub exit_128: bool,

    /// Write a newline to descriptor N and close it when ready (s6 protocol)
    #[arg(long, value_name = "N", value_hint = ValueHint::Other)]
    pub ready_fd: Option<String>,

    /// Ready only once the tree holds a listening socket (on ADDR) (repeatable)
    #[arg(
        long,
        value_name = "listening[=ADDR]",
        action = ArgAction::Append,
        value_hint = ValueHint::Other
    )]
    pub ready_when: Vec<String>,

    /// Keep a JSON status document at PATH
    #[arg(long, value_name = "PATH", value_hint = ValueHint::FilePath)]
    pub status_file: Option<PathBuf>,

    /// Prefix log lines with NAME instead of "catchd"
    #[arg(long, value_name = "NAME", value_hint = ValueHint::Other)]
    pub name: Option<String>,

    /// Log errors only
    #[arg(short, long, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Log every scan and signal
    #[arg(short, long)]
    pub verbose: bool,

    /// Run the daemon in a new PID namespace that dies with catchd
    #[arg(long)]
    pub contain: bool,

    /// Track and stop the daemon through a cgroup v2 of its own
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = CgroupMode::Auto)]
    pub cgroup: CgroupMode,

    /// Audit mode: judge PID files instead of running a program
    #[arg(long)]
    pub pidfile_check: bool,

    /// Audit mode: print one JSON array
    #[arg(long)]
    pub json: bool,

    /// Audit mode: the named process must run this executable
    #[arg(long, value_name = "PATH", value_hint = ValueHint::ExecutablePath)]
    pub expect_exe: Option<PathBuf>,

    /// Audit mode: the named process must have this name (comm)
    #[arg(long, value_name = "NAME", value_hint = ValueHint::Other)]
    pub expect_name: Option<String>,

    /// PROGRAM and its ARGS (run mode), or PIDFILEs (audit mode)
    #[arg(
        value_name = "PROGRAM",
        trailing_var_arg = true,
        value_hint = ValueHint::CommandWithArguments
    )]
    pub args: Vec<OsString>,
}

/// Signal names for shell completion and the man page. Any text passes
/// here: `config.rs` judges it (numbers, `SIG` prefixes, `RTMIN+N`).
#[derive(Clone, Copy, Debug)]
pub struct SignalName;

/// The signals offered after `--stop-signal` and `--signal-map`.
pub const SIGNAL_NAMES: &[&str] = &[
    "TERM", "INT", "QUIT", "HUP", "USR1", "USR2", "WINCH", "KILL", "ALRM", "CONT", "PWR", "STOP",
    "ABRT", "URG", "IO", "PIPE", "PROF", "VTALRM", "XCPU", "XFSZ", "SYS",
];

impl TypedValueParser for SignalName {
    type Value = String;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<String, clap::Error> {
        clap::builder::StringValueParser::new().parse_ref(cmd, arg, value)
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        Some(Box::new(SIGNAL_NAMES.iter().map(PossibleValue::new)))
    }
}

/// The options given on the command line, by id and as spelled in help
/// (`--stop-timeout`), defaults and positionals left out: for the check
/// that each belongs to the chosen mode.
/// `cmd` is the command that parsed them (built once: building it is
/// most of clap's cost at start-up).
pub fn given_options(cmd: &clap::Command, matches: &ArgMatches) -> Vec<(String, String)> {
    use clap::parser::ValueSource;
    cmd.get_arguments()
        .filter(|a| !a.is_positional())
        .filter(|a| matches.value_source(a.get_id().as_str()) == Some(ValueSource::CommandLine))
        .map(|a| {
            let shown = match (a.get_long(), a.get_short()) {
                (Some(long), _) => format!("--{long}"),
                (None, Some(short)) => format!("-{short}"),
                (None, None) => a.get_id().to_string(),
            };
            (a.get_id().to_string(), shown)
        })
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KillMode {
    /// The stop signal goes to the main process; the rest after it exits
    Main,
    /// The stop signal goes to every tracked descendant at once
    All,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CgroupMode {
    /// Use a cgroup where catchd may create one; else the subreaper alone
    Auto,
    /// Use a cgroup, or refuse to start (exit 125)
    On,
    /// Never touch cgroups
    Off,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn program_args_may_look_like_flags() {
        let cli = Cli::try_parse_from(["catchd", "--", "prog", "-d", "--x"]).unwrap();
        assert_eq!(cli.args, ["prog", "-d", "--x"]);
        let cli = Cli::try_parse_from(["catchd", "-q", "prog", "-d"]).unwrap();
        assert_eq!(cli.args, ["prog", "-d"]);
        assert!(cli.quiet);
    }
}
