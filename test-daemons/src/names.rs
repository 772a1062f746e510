//! Value parsers for td-forker's flags: durations (`200ms`, `2s`) and
//! signal names (`TERM`, `SIGHUP`, `15`, `RTMIN+2`).
//!
//! Owns: the text → value mapping and its error messages.
//! Must not: touch the process (no syscalls besides reading SIGRTMIN/MAX).

use std::time::Duration;

/// Standard signals by name (Linux numbering, taken from `libc` so that the
/// numbers are right for the target), plus the usual aliases.
const SIGNALS: &[(&str, i32)] = &[
    ("HUP", libc::SIGHUP),
    ("INT", libc::SIGINT),
    ("QUIT", libc::SIGQUIT),
    ("ILL", libc::SIGILL),
    ("TRAP", libc::SIGTRAP),
    ("ABRT", libc::SIGABRT),
    ("IOT", libc::SIGIOT),
    ("BUS", libc::SIGBUS),
    ("FPE", libc::SIGFPE),
    ("KILL", libc::SIGKILL),
    ("USR1", libc::SIGUSR1),
    ("SEGV", libc::SIGSEGV),
    ("USR2", libc::SIGUSR2),
    ("PIPE", libc::SIGPIPE),
    ("ALRM", libc::SIGALRM),
    ("TERM", libc::SIGTERM),
    ("STKFLT", libc::SIGSTKFLT),
    ("CHLD", libc::SIGCHLD),
    ("CLD", libc::SIGCHLD),
    ("CONT", libc::SIGCONT),
    ("STOP", libc::SIGSTOP),
    ("TSTP", libc::SIGTSTP),
    ("TTIN", libc::SIGTTIN),
    ("TTOU", libc::SIGTTOU),
    ("URG", libc::SIGURG),
    ("XCPU", libc::SIGXCPU),
    ("XFSZ", libc::SIGXFSZ),
    ("VTALRM", libc::SIGVTALRM),
    ("PROF", libc::SIGPROF),
    ("WINCH", libc::SIGWINCH),
    ("IO", libc::SIGIO),
    ("POLL", libc::SIGPOLL),
    ("PWR", libc::SIGPWR),
    ("SYS", libc::SIGSYS),
];

/// Signals whose default action does not terminate the process.
pub const NON_TERMINATING: &[i32] = &[
    libc::SIGCHLD,
    libc::SIGCONT,
    libc::SIGSTOP,
    libc::SIGTSTP,
    libc::SIGTTIN,
    libc::SIGTTOU,
    libc::SIGURG,
    libc::SIGWINCH,
];

/// Parse `200ms`, `2s`, `1m`, `500us` or a bare `0`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad =
        || format!("bad duration '{text}': expected an integer with a unit, e.g. 200ms, 2s, 1m");
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    let split = text.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (digits, unit) = text.split_at(split);
    if digits.is_empty() {
        return Err(bad());
    }
    let n: u64 = digits.parse().map_err(|_| bad())?;
    match unit {
        "us" => Ok(Duration::from_micros(n)),
        "ms" => Ok(Duration::from_millis(n)),
        "s" => Ok(Duration::from_secs(n)),
        "m" => n.checked_mul(60).map(Duration::from_secs).ok_or_else(bad),
        _ => Err(bad()),
    }
}

/// Parse a signal given as a name (`TERM`, `SIGTERM`, `term`), a number
/// (`15`), or `RTMIN+N` / `RTMAX-N`.
pub fn parse_signal(text: &str) -> Result<i32, String> {
    let bad = || {
        format!(
            "bad signal '{text}': expected a name like TERM or SIGHUP, RTMIN+N, or a number 1..={}",
            libc::SIGRTMAX()
        )
    };
    let upper = text.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    if let Some(&(_, n)) = SIGNALS.iter().find(|(s, _)| *s == name) {
        return Ok(n);
    }
    let rt = if let Some(rest) = name.strip_prefix("RTMIN") {
        offset(rest, '+').map(|k| libc::SIGRTMIN() + k)
    } else if let Some(rest) = name.strip_prefix("RTMAX") {
        offset(rest, '-').map(|k| libc::SIGRTMAX() - k)
    } else {
        name.parse::<i32>().ok()
    };
    match rt {
        Some(n) if valid_number(n) => Ok(n),
        _ => Err(bad()),
    }
}

/// `""` → 0, `"+3"` (with `sign` '+') → 3.
fn offset(rest: &str, sign: char) -> Option<i32> {
    if rest.is_empty() {
        return Some(0);
    }
    rest.strip_prefix(sign)?.parse().ok()
}

/// 1..=31, or a real-time signal the C library lets programs use (glibc
/// keeps 32 and 33 for itself).
fn valid_number(n: i32) -> bool {
    (1..=31).contains(&n) || (libc::SIGRTMIN()..=libc::SIGRTMAX()).contains(&n)
}

/// The short name of a signal for messages (`TERM`), or its number.
pub fn signal_name(n: i32) -> String {
    SIGNALS
        .iter()
        .find(|&&(_, num)| num == n)
        .map(|(s, _)| (*s).to_string())
        .unwrap_or_else(|| n.to_string())
}
