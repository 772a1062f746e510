//! The log line writer: `catchd[PID]: level: message` on stderr, one event
//! per line (SPEC §1.5). `--name` replaces "catchd"; `-q` keeps errors only,
//! `-v` adds debug lines (every scan and signal).
//!
//! Owns: the prefix, the level filter and the single `write` per line. Must
//! not decide what is worth logging: callers do.

use std::io::Write;
use std::sync::OnceLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Error,
    Warn,
    Info,
    Debug,
}

impl Level {
    fn word(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warn => "warning",
            Level::Info => "info",
            Level::Debug => "debug",
        }
    }
}

struct Logger {
    prefix: String,
    max: Level,
}

static LOGGER: OnceLock<Logger> = OnceLock::new();

/// Set the name and level once, before anything is logged.
pub fn init(name: &str, max: Level) {
    let _ = LOGGER.set(Logger {
        prefix: format!("{name}[{}]", std::process::id()),
        max,
    });
}

pub fn enabled(level: Level) -> bool {
    level <= LOGGER.get().map_or(Level::Info, |l| l.max)
}

/// Write one line; a failing stderr is ignored (there is nowhere to report it).
pub fn write(level: Level, message: std::fmt::Arguments<'_>) {
    if !enabled(level) {
        return;
    }
    let line = match LOGGER.get() {
        Some(l) => format!("{}: {}: {}\n", l.prefix, level.word(), message),
        None => format!("catchd: {}: {}\n", level.word(), message),
    };
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

#[macro_export]
macro_rules! error {
    ($($t:tt)*) => {
        // The arguments are evaluated only when the line will be written.
        if $crate::log::enabled($crate::log::Level::Error) {
            $crate::log::write($crate::log::Level::Error, format_args!($($t)*))
        }
    };
}
#[macro_export]
macro_rules! warn {
    ($($t:tt)*) => {
        // The arguments are evaluated only when the line will be written.
        if $crate::log::enabled($crate::log::Level::Warn) {
            $crate::log::write($crate::log::Level::Warn, format_args!($($t)*))
        }
    };
}
#[macro_export]
macro_rules! info {
    ($($t:tt)*) => {
        // The arguments are evaluated only when the line will be written.
        if $crate::log::enabled($crate::log::Level::Info) {
            $crate::log::write($crate::log::Level::Info, format_args!($($t)*))
        }
    };
}
#[macro_export]
macro_rules! debug {
    ($($t:tt)*) => {
        // The arguments are evaluated only when the line will be written.
        if $crate::log::enabled($crate::log::Level::Debug) {
            $crate::log::write($crate::log::Level::Debug, format_args!($($t)*))
        }
    };
}
