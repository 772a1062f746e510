//! catchd: hold a self-daemonizing program in the foreground (run mode), or
//! judge PID files (audit mode).
//!
//! Owns: parsing, picking the mode, and turning an `Error` or an outcome into
//! the process's end. This is the only place where catchd exits.

/// See Cargo.toml: musl's malloc unmaps on free; dlmalloc keeps its pages.
#[cfg(target_env = "musl")]
#[global_allocator]
static ALLOC: dlmalloc::GlobalDlmalloc = dlmalloc::GlobalDlmalloc;

mod audit;
mod cli;
mod clock;
mod clone3;
mod config;
mod contain;
mod dirnotify;
mod error;
mod escape;
mod exit;
mod holdpipe;
mod listen;
mod lock;
mod log;
mod notify;
mod outfd;
mod pidfile;
mod preflight;
mod procstat;
mod proctree;
mod reaper;
mod report;
mod runloop;
mod shfallback;
mod sig;
mod signals;
mod spawn;
mod state;
mod status;
mod stop;
mod stopwarn;
mod sys;
mod sys_sig;
mod target;
mod track;
mod verify;
mod watch;

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};

use crate::config::Config;
use crate::error::Mode;

fn main() -> ExitCode {
    let argv: Vec<_> = std::env::args_os().collect();
    // catchd re-executed as the init of a --contain PID namespace.
    if argv.get(1).is_some_and(|a| a == contain::INIT_FLAG) {
        return contain::init_main(&argv);
    }
    let audit = argv.iter().any(|a| a == "--pidfile-check");
    let mode = if audit { Mode::Audit } else { Mode::Run };
    let mut cmd = cli::Cli::command();
    let parsed = cmd.try_get_matches_from_mut(&argv).and_then(|m| {
        Ok((
            cli::given_options(&cmd, &m),
            cli::Cli::from_arg_matches(&m)?,
        ))
    });
    let (given, cli) = match parsed {
        Ok(parsed) => parsed,
        Err(e) => return usage_error(e, mode),
    };
    let (name, level) = config::log_settings(&cli);
    log::init(&name, level);
    let result = config::check_mode(audit, &given);
    let result = result
        .and_then(|()| config::build(cli))
        .and_then(|cfg| match cfg {
            Config::Audit(cfg) => audit::run(cfg).map(exit::Ending::Code),
            Config::Run(cfg) => {
                let exit_128 = cfg.exit_128;
                runloop::run(cfg).map(|outcome| exit::ending(outcome, exit_128))
            }
        });
    match result {
        Ok(exit::Ending::Code(code)) => ExitCode::from(code),
        Ok(exit::Ending::Signal(sig, fallback)) => {
            // Returns only if the signal does not kill by default.
            sys::die_by(sig);
            ExitCode::from(fallback)
        }
        Err(e) => {
            error!("{e}");
            ExitCode::from(e.exit_code(mode))
        }
    }
}

/// clap's own errors: help and version exit 0; anything else is one line
/// (clap's first, with its suggestion or the valid values where it has
/// them) and 125 in run mode, 2 in audit mode.
fn usage_error(e: clap::Error, mode: Mode) -> ExitCode {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        let _ = e.print();
        return ExitCode::SUCCESS;
    }
    let rendered = e.render().to_string();
    let first = rendered.lines().next().unwrap_or("invalid arguments");
    let mut line = first.strip_prefix("error: ").unwrap_or(first).to_string();
    let values = |kind| match e.get(kind) {
        Some(ContextValue::String(s)) => vec![s.clone()],
        Some(ContextValue::Strings(v)) => v.clone(),
        _ => Vec::new(),
    };
    let mut suggested = values(ContextKind::SuggestedArg);
    suggested.extend(values(ContextKind::SuggestedValue));
    if !suggested.is_empty() {
        line.push_str(&format!("; did you mean {}?", suggested.join(" or ")));
    }
    let valid = values(ContextKind::ValidValue);
    if !valid.is_empty() {
        line.push_str(&format!("; expected one of: {}", valid.join(", ")));
    }
    error!("{line} (see catchd --help)");
    ExitCode::from(error::Error::usage("").exit_code(mode))
}
