//! The raw layer of td-forker's command line: which flags exist, whether
//! they take a value, and each value parsed on its own (`Raw`).
//!
//! Owns: per-flag parsing and the "given twice" / "needs a value" errors.
//! Must not: check one flag against another (that is `args::validate`).

use crate::args::{ForkMode, PidfileWhen};
use crate::names::{parse_duration, parse_signal, signal_name};
use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::time::Duration;

pub const VALUE_FLAGS: &[&str] = &[
    "--fork",
    "--pidfile",
    "--pidfile-when",
    "--pidfile-delay",
    "--pidfile-content",
    "--workers",
    "--ignore",
    "--exit-after",
    "--exit-code",
    "--die-by",
    "--worker-exit-after",
    "--handover-on",
    "--launcher-sleep",
    "--launcher-exit",
    "--orphans",
    "--orphans-on",
    "--comm",
    "--worker-uid",
];

pub const BOOL_FLAGS: &[&str] = &[
    "--setsid",
    "--close-all-fds",
    "--worker-setsid",
    "--fork-storm",
    "--worker-forge",
    "--zombie-leader",
    "--pidfile-in-steps",
    "--self-test",
    "--help",
];

/// Store `value` in `slot` unless the flag was already given.
fn once<T>(slot: &mut Option<T>, flag: &str, value: T) -> Result<(), String> {
    if slot.is_some() {
        return Err(format!("{flag} given twice"));
    }
    *slot = Some(value);
    Ok(())
}

fn utf8<'a>(flag: &str, v: &'a OsString) -> Result<&'a str, String> {
    v.to_str()
        .ok_or_else(|| format!("{flag}: value is not valid UTF-8"))
}

fn number(flag: &str, text: &str, max: u32) -> Result<u32, String> {
    match text.parse::<u32>() {
        Ok(n) if n <= max => Ok(n),
        _ => Err(format!(
            "{flag}: bad value '{text}': expected an integer 0..={max}"
        )),
    }
}

/// Raw, per-flag values before cross-flag validation.
#[derive(Default)]
pub struct Raw {
    pub fork: Option<ForkMode>,
    pub pidfile: Option<PathBuf>,
    pub pidfile_when: Option<PidfileWhen>,
    pub pidfile_delay: Option<Duration>,
    pub pidfile_content: Option<Vec<u8>>,
    pub workers: Option<u32>,
    pub ignore: Vec<i32>,
    pub exit_after: Option<Duration>,
    pub exit_code: Option<i32>,
    pub die_by: Option<i32>,
    pub worker_exit_after: Option<Duration>,
    pub handover_on: Option<i32>,
    pub launcher_sleep: Option<Duration>,
    pub launcher_exit: Option<i32>,
    pub orphans: Option<u32>,
    pub orphans_on: Option<i32>,
    pub comm: Option<Vec<u8>>,
    pub worker_uid: Option<u32>,
    pub bools: Vec<&'static str>,
}

impl Raw {
    pub fn set(&mut self, flag: &str, v: &OsString) -> Result<(), String> {
        match flag {
            "--pidfile" if v.is_empty() => return Err("--pidfile: the path is empty".into()),
            "--pidfile" => return once(&mut self.pidfile, flag, PathBuf::from(v)),
            "--pidfile-content" => {
                return once(&mut self.pidfile_content, flag, v.as_bytes().to_vec())
            }
            "--comm" => return once(&mut self.comm, flag, v.as_bytes().to_vec()),
            _ => {}
        }
        let s = utf8(flag, v)?;
        let dur = || parse_duration(s).map_err(|e| format!("{flag}: {e}"));
        let sig = || parse_signal(s).map_err(|e| format!("{flag}: {e}"));
        match flag {
            "--fork" => {
                let mode = match s {
                    "none" => ForkMode::None,
                    "single" => ForkMode::Single,
                    "double" => ForkMode::Double,
                    _ => {
                        return Err(format!(
                            "--fork: bad value '{s}': expected none, single or double"
                        ))
                    }
                };
                once(&mut self.fork, flag, mode)
            }
            "--pidfile-when" => {
                let when = match s {
                    "early" => PidfileWhen::Early,
                    "late" => PidfileWhen::Late,
                    "never" => PidfileWhen::Never,
                    _ => {
                        return Err(format!(
                            "--pidfile-when: bad value '{s}': expected early, late or never"
                        ))
                    }
                };
                once(&mut self.pidfile_when, flag, when)
            }
            "--pidfile-delay" => once(&mut self.pidfile_delay, flag, dur()?),
            "--workers" => once(&mut self.workers, flag, number(flag, s, 2000)?),
            "--worker-uid" => once(&mut self.worker_uid, flag, number(flag, s, u32::MAX)?),
            "--orphans" => once(&mut self.orphans, flag, number(flag, s, 1000)?),
            "--exit-code" => once(&mut self.exit_code, flag, number(flag, s, 255)? as i32),
            "--launcher-exit" => once(&mut self.launcher_exit, flag, number(flag, s, 255)? as i32),
            "--exit-after" => once(&mut self.exit_after, flag, dur()?),
            "--worker-exit-after" => once(&mut self.worker_exit_after, flag, dur()?),
            "--launcher-sleep" => once(&mut self.launcher_sleep, flag, dur()?),
            "--die-by" => once(&mut self.die_by, flag, sig()?),
            "--handover-on" => once(&mut self.handover_on, flag, sig()?),
            "--orphans-on" => once(&mut self.orphans_on, flag, sig()?),
            "--ignore" => {
                let n = sig()?;
                if n == libc::SIGKILL || n == libc::SIGSTOP {
                    return Err(format!("--ignore: {} cannot be ignored", signal_name(n)));
                }
                if !self.ignore.contains(&n) {
                    self.ignore.push(n);
                }
                Ok(())
            }
            _ => Err(format!("unknown flag '{flag}' (see --help)")),
        }
    }
}
