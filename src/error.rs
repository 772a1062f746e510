//! catchd's own errors and the exit codes they map to (SPEC §1.4, §2, §3).
//!
//! Owns: the `Error` type, its one-line messages (`unable to X: cause`) and
//! `exit_code`. Must not print or exit: `main.rs` does both.

use std::fmt;
use std::io;

/// Which mode failed: usage errors exit 125 in run mode and 2 in audit mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Run,
    Audit,
}

#[derive(Debug)]
pub enum Error {
    /// A malformed option or value: the message names it and what was expected.
    Usage(String),
    /// A system call catchd needs failed: "unable to WHAT: cause".
    Sys { what: String, source: io::Error },
    /// PROGRAM was not found (127).
    NotFound(String),
    /// PROGRAM was found but could not be executed (126).
    NotExecutable { program: String, source: io::Error },
    /// A previous instance still runs (SPEC §1.1.7).
    Refused(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn usage(msg: impl Into<String>) -> Self {
        Error::Usage(msg.into())
    }

    /// The exit code for this error in the given mode.
    pub fn exit_code(&self, mode: Mode) -> u8 {
        match (self, mode) {
            (Error::NotFound(_), _) => 127,
            (Error::NotExecutable { .. }, _) => 126,
            (_, Mode::Audit) => 2,
            (_, Mode::Run) => 125,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Usage(msg) | Error::Refused(msg) => f.write_str(msg),
            Error::Sys { what, source } => write!(f, "unable to {what}: {source}"),
            Error::NotFound(program) => write!(f, "unable to run {program}: not found"),
            Error::NotExecutable { program, source } => {
                write!(f, "unable to run {program}: {source}")
            }
        }
    }
}

/// `.context("create the hold pipe")` turns any io-ish error into `Error::Sys`.
pub trait Context<T> {
    fn context(self, what: &str) -> Result<T>;
}

impl<T, E: Into<io::Error>> Context<T> for std::result::Result<T, E> {
    fn context(self, what: &str) -> Result<T> {
        self.map_err(|e| Error::Sys {
            what: what.to_string(),
            source: e.into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_the_table() {
        let sys = Error::Sys {
            what: "x".into(),
            source: io::Error::from_raw_os_error(libc::EPERM),
        };
        assert_eq!(sys.exit_code(Mode::Run), 125);
        assert_eq!(sys.exit_code(Mode::Audit), 2);
        assert_eq!(Error::usage("x").exit_code(Mode::Run), 125);
        assert_eq!(Error::NotFound("p".into()).exit_code(Mode::Run), 127);
        let noexec = Error::NotExecutable {
            program: "p".into(),
            source: io::Error::from_raw_os_error(libc::EACCES),
        };
        assert_eq!(noexec.exit_code(Mode::Run), 126);
        assert!(sys.to_string().starts_with("unable to x: "));
    }
}
