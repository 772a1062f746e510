//! Signal numbers as catchd speaks them: parse `TERM`, `SIGTERM`, `15`,
//! `RTMIN+2`; print `SIGTERM`; say which may be caught and forwarded.
//!
//! Owns: names and classification only. Must not block, send or handle
//! signals (`signals.rs` and `target.rs` do).

use std::fmt;

/// A signal number, realtime signals included (nix's `Signal` has none).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Sig(pub i32);

const NAMES: &[(&str, i32)] = &[
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

pub const TERM: Sig = Sig(libc::SIGTERM);
pub const INT: Sig = Sig(libc::SIGINT);
pub const KILL: Sig = Sig(libc::SIGKILL);
pub const CHLD: Sig = Sig(libc::SIGCHLD);

fn rtmin() -> i32 {
    libc::SIGRTMIN()
}
fn rtmax() -> i32 {
    libc::SIGRTMAX()
}

impl Sig {
    /// `TERM`, `SIGTERM`, `term`, `15`, `RTMIN`, `RTMIN+3`, `RTMAX-1`.
    pub fn parse(text: &str) -> Option<Sig> {
        if let Ok(n) = text.parse::<i32>() {
            return (1..=rtmax()).contains(&n).then_some(Sig(n));
        }
        let upper = text.to_ascii_uppercase();
        let bare = upper.strip_prefix("SIG").unwrap_or(&upper);
        if let Some(&(_, n)) = NAMES.iter().find(|(name, _)| *name == bare) {
            return Some(Sig(n));
        }
        let rt = |base: i32, rest: &str| -> Option<i32> {
            match rest.as_bytes().first() {
                None => Some(base),
                Some(b'+') => rest[1..].parse::<i32>().ok().map(|k| base + k),
                Some(b'-') => rest[1..].parse::<i32>().ok().map(|k| base - k),
                _ => None,
            }
        };
        let n = if let Some(rest) = bare.strip_prefix("RTMIN") {
            rt(rtmin(), rest)?
        } else if let Some(rest) = bare.strip_prefix("RTMAX") {
            rt(rtmax(), rest)?
        } else {
            return None;
        };
        (rtmin()..=rtmax()).contains(&n).then_some(Sig(n))
    }

    pub fn name(self) -> String {
        if let Some((name, _)) = NAMES.iter().find(|(_, n)| *n == self.0) {
            return format!("SIG{name}");
        }
        if (rtmin()..=rtmax()).contains(&self.0) {
            return format!("SIGRTMIN+{}", self.0 - rtmin());
        }
        format!("signal {}", self.0)
    }

    pub fn is_catchable(self) -> bool {
        self.0 != libc::SIGKILL && self.0 != libc::SIGSTOP
    }

    /// SPEC §1.2: everything catchd receives is forwarded except SIGCHLD and
    /// the job-control stops.
    pub fn is_forwardable(self) -> bool {
        ![libc::SIGCHLD, libc::SIGTSTP, libc::SIGTTIN, libc::SIGTTOU].contains(&self.0)
    }

    /// Signals that start the stop sequence (SPEC §1.2).
    pub fn is_stop(self) -> bool {
        self == TERM || self == INT
    }
}

impl fmt::Display for Sig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_spelling() {
        for text in ["TERM", "SIGTERM", "term", "sigterm", "15"] {
            assert_eq!(Sig::parse(text), Some(TERM), "{text}");
        }
        assert_eq!(Sig::parse("RTMIN"), Some(Sig(libc::SIGRTMIN())));
        assert_eq!(Sig::parse("RTMIN+2"), Some(Sig(libc::SIGRTMIN() + 2)));
        assert_eq!(Sig::parse("SIGRTMAX-1"), Some(Sig(libc::SIGRTMAX() - 1)));
        for bad in [
            "", "0", "-1", "65", "NOPE", "SIG", "RTMIN+99", "RTMINX", "15x",
        ] {
            assert_eq!(Sig::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn names_round_trip() {
        let numbers = (1..=31).chain(libc::SIGRTMIN()..=libc::SIGRTMAX());
        for n in numbers {
            assert_eq!(Sig::parse(&Sig(n).name()), Some(Sig(n)), "{n}");
        }
        assert_eq!(TERM.to_string(), "SIGTERM");
    }

    #[test]
    fn classification() {
        assert!(!KILL.is_catchable());
        assert!(!CHLD.is_forwardable());
        assert!(Sig(libc::SIGHUP).is_forwardable());
        assert!(TERM.is_stop() && INT.is_stop() && !Sig(libc::SIGQUIT).is_stop());
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics_and_stays_in_range(text in ".{0,16}") {
            if let Some(sig) = Sig::parse(&text) {
                proptest::prop_assert!(sig.0 >= 1 && sig.0 <= libc::SIGRTMAX());
            }
        }

        #[test]
        fn every_number_is_accepted_in_range_only(n in -100i32..200) {
            let valid = (1..=libc::SIGRTMAX()).contains(&n);
            proptest::prop_assert_eq!(Sig::parse(&n.to_string()).is_some(), valid);
        }
    }
}
