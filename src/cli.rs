//! The command line exactly as SPEC spells it, parsed by clap derive.
//!
//! Owns: flag names, help texts and the raw values. Must not interpret them:
//! durations, signal names and descriptors are checked in `config.rs`.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{ArgAction, Parser, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "catchd",
    version,
    about = "Hold a self-daemonizing program in the foreground for a supervisor",
    override_usage = "catchd [OPTIONS] -- PROGRAM [ARGS...]\n       catchd --pidfile-check [--json] [PIDFILE...]",
    long_about = "Hold a self-daemonizing program in the foreground for a supervisor. catchd \
becomes a child subreaper, runs PROGRAM, follows the daemon it leaves behind (verified \
through --pidfile, or the process left under catchd), forwards signals to it, stops its \
whole tree on TERM or INT, and ends as the daemon ended.",
    after_long_help = "Exit status (run mode): the main process's code, or death by its signal \
(128+N with --exit-128); 124 start-up timed out; 125 catchd's own error; 126 PROGRAM not \
executable; 127 PROGRAM not found. Audit mode: 0 every file ok, 1 any other verdict, \
2 a usage error or a file that cannot be read."
)]
pub struct Cli {
    /// Take the main process from this PID file once it names a live descendant
    #[arg(long, value_name = "PATH")]
    pub pidfile: Option<PathBuf>,

    /// How long to wait for a valid PID file before stopping everything (exit 124)
    #[arg(
        long,
        value_name = "DURATION",
        default_value = "90s",
        allow_hyphen_values = true
    )]
    pub start_timeout: String,

    /// Grace time between the stop signal and SIGKILL
    #[arg(
        long,
        value_name = "DURATION",
        default_value = "10s",
        allow_hyphen_values = true
    )]
    pub stop_timeout: String,

    /// Signal that starts a stop (default: the TERM or INT catchd received)
    #[arg(long, value_name = "SIG")]
    pub stop_signal: Option<String>,

    /// Rewrite a forwarded signal, e.g. TERM:QUIT (repeatable)
    #[arg(long, value_name = "FROM:TO", action = ArgAction::Append)]
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
    #[arg(long, value_name = "N")]
    pub ready_fd: Option<String>,

    /// Ready only once the tree holds a listening socket (on ADDR) (repeatable)
    #[arg(long, value_name = "listening[=ADDR]", action = ArgAction::Append)]
    pub ready_when: Vec<String>,

    /// Keep a JSON status document at PATH
    #[arg(long, value_name = "PATH")]
    pub status_file: Option<PathBuf>,

    /// Prefix log lines with NAME instead of "catchd"
    #[arg(long, value_name = "NAME")]
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
    #[arg(long, requires = "pidfile_check")]
    pub json: bool,

    /// Audit mode: the named process must run this executable
    #[arg(long, value_name = "PATH", requires = "pidfile_check")]
    pub expect_exe: Option<PathBuf>,

    /// Audit mode: the named process must have this name (comm)
    #[arg(long, value_name = "NAME", requires = "pidfile_check")]
    pub expect_name: Option<String>,

    /// PROGRAM and its ARGS (run mode), or PIDFILEs (audit mode)
    #[arg(value_name = "PROGRAM", trailing_var_arg = true)]
    pub args: Vec<OsString>,
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
