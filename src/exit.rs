//! How catchd ends (SPEC §1.4): the main process's code, or death by its
//! signal (core dumps off), or 128+N with `--exit-128`; 124 for a start-up
//! timeout. coreutils `timeout` is the model.
//!
//! Owns: the one mapping from `Outcome` to an ending. Pure: `main.rs` acts.

use crate::sig::Sig;
use crate::state::Outcome;
use crate::sys::Exit;

#[derive(Debug, PartialEq, Eq)]
pub enum Ending {
    Code(u8),
    /// Die by this signal; if it does not kill, exit with the code.
    Signal(Sig, u8),
}

pub fn ending(outcome: Outcome, exit_128: bool) -> Ending {
    match outcome {
        Outcome::Mirror(Exit::Code(n)) => Ending::Code((n & 0xff) as u8),
        Outcome::Mirror(Exit::Signal(s)) => {
            let code = (128 + s.0).min(255) as u8;
            if exit_128 {
                Ending::Code(code)
            } else {
                Ending::Signal(s, code)
            }
        }
        Outcome::TimedOut => Ending::Code(124),
        Outcome::Unknown => Ending::Code(1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sig;

    #[test]
    fn table() {
        let m = Outcome::Mirror;
        assert_eq!(ending(m(Exit::Code(7)), false), Ending::Code(7));
        assert_eq!(ending(m(Exit::Code(7)), true), Ending::Code(7));
        assert_eq!(
            ending(m(Exit::Signal(sig::KILL)), false),
            Ending::Signal(sig::KILL, 137)
        );
        assert_eq!(ending(m(Exit::Signal(sig::KILL)), true), Ending::Code(137));
        assert_eq!(ending(Outcome::TimedOut, false), Ending::Code(124));
        assert_eq!(ending(Outcome::Unknown, false), Ending::Code(1));
    }
}
