//! `--ready-when listening[=ADDR]` (SPEC §1.5): ready also waits until a
//! process of the daemon's tree holds a listening socket.
//!
//! Owns: the pure half — which sockets answer which condition, the verdict
//! of one check, and the back-off between checks. Must not make a system
//! call: `probe.rs` reads the kernel's sockets and the tree's descriptors,
//! the state machine decides when to look.

pub mod probe;
mod want;

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

pub use want::{Local, Proto, Seen, UnixName, Want};

/// What one check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every condition is met; says who holds what.
    Met(String),
    /// Not yet: "waiting for a listening socket on 127.0.0.1:8080".
    Waiting(String),
    /// The check itself failed (netlink refused, a dump cut short): it is
    /// made again at the next back-off step.
    Failed(String),
}

/// A verdict and what the check cost, which stretches the back-off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probed {
    pub verdict: Verdict,
    pub took: Duration,
}

/// Which socket families a check must ask the kernel for: (inet, unix).
pub fn families(wants: &[Want]) -> (bool, bool) {
    let unix = wants.iter().any(|w| matches!(w, Want::Any | Want::Unix(_)));
    let inet = wants.iter().any(|w| !matches!(w, Want::Unix(_)));
    (inet, unix)
}

/// The inodes of the sockets that answer at least one condition: only
/// these are looked for among the tree's descriptors.
pub fn candidates(wants: &[Want], seen: &[Seen]) -> HashSet<u64> {
    seen.iter()
        .filter(|s| wants.iter().any(|w| w.accepts(s)))
        .map(|s| s.inode)
        .collect()
}

/// For each condition, a socket that answers it and the PID holding it.
fn matches<'a>(
    wants: &'a [Want],
    seen: &'a [Seen],
    held: &HashMap<u64, i32>,
) -> Vec<(&'a Want, Option<(&'a Seen, i32)>)> {
    wants
        .iter()
        .map(|w| {
            let found = seen
                .iter()
                .filter(|s| w.accepts(s))
                .find_map(|s| held.get(&s.inode).map(|pid| (s, *pid)));
            (w, found)
        })
        .collect()
}

/// Whether every condition is met (`held`: socket inode → holding PID).
pub fn all_met(wants: &[Want], seen: &[Seen], held: &HashMap<u64, i32>) -> bool {
    matches(wants, seen, held).iter().all(|(_, f)| f.is_some())
}

/// The verdict of one check.
pub fn judge(wants: &[Want], seen: &[Seen], held: &HashMap<u64, i32>) -> Verdict {
    let found = matches(wants, seen, held);
    let missing: Vec<String> = found
        .iter()
        .filter(|(_, f)| f.is_none())
        .map(|(w, _)| w.to_string())
        .collect();
    if !missing.is_empty() {
        return Verdict::Waiting(format!("waiting for {}", missing.join(" and ")));
    }
    let held: Vec<String> = found
        .iter()
        .filter_map(|(_, f)| *f)
        .map(|(s, pid)| {
            let proto = match s.proto {
                Proto::Tcp => "TCP",
                Proto::Udp => "UDP",
                Proto::Unix => "Unix",
            };
            format!("PID {pid} listens on {} ({proto})", s.local)
        })
        .collect();
    Verdict::Met(held.join(", "))
}

/// The first check comes at once, then after 5 ms, doubling up to this.
pub const FIRST_STEP: Duration = Duration::from_millis(5);
pub const MAX_STEP: Duration = Duration::from_millis(100);

/// Checking takes at most this share of catchd's time: a check that cost
/// `t` (a daemon with thousands of descriptors) is followed by a pause of
/// at least `COST_FACTOR × t`.
pub const COST_FACTOR: u32 = 10;

/// When to check next: not started, then 5 ms doubling to `MAX_STEP`,
/// never sooner than `COST_FACTOR` times the last check's cost.
#[derive(Debug, Clone, Default)]
pub struct Backoff {
    next: Option<Instant>,
    last: Option<Instant>,
    step: Duration,
}

impl Backoff {
    /// Whether a check is due now (the first is due at once).
    pub fn due(&self, now: Instant) -> bool {
        self.next.map_or(true, |n| now >= n)
    }

    /// A check was made at `now`: schedule the next one.
    pub fn advance(&mut self, now: Instant) {
        self.step = if self.next.is_none() {
            FIRST_STEP
        } else {
            (self.step * 2).min(MAX_STEP)
        };
        self.next = Some(now + self.step);
        self.last = Some(now);
    }

    /// The check started at the last `advance` took `took`.
    pub fn cost(&mut self, took: Duration) {
        if let (Some(last), Some(next)) = (self.last, self.next) {
            self.next = Some(next.max(last + took.saturating_mul(COST_FACTOR)));
        }
    }

    /// The next check, once checking has started.
    pub fn next(&self) -> Option<Instant> {
        self.next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp(inode: u64, addr: &str) -> Seen {
        Seen {
            inode,
            proto: Proto::Tcp,
            local: Local::Inet {
                addr: addr.parse().unwrap(),
                v6only: None,
            },
        }
    }

    #[test]
    fn a_socket_counts_only_when_the_tree_holds_it() {
        let wants = [Want::parse("listening=127.0.0.1:8080").unwrap()];
        let seen = [tcp(7, "127.0.0.1:8080"), tcp(8, "127.0.0.1:9090")];
        assert_eq!(candidates(&wants, &seen), HashSet::from([7]));
        // Someone else's socket on that address: still waiting.
        let none = HashMap::from([(8, 42)]);
        assert!(!all_met(&wants, &seen, &none));
        assert_eq!(
            judge(&wants, &seen, &none),
            Verdict::Waiting("waiting for a listening socket on 127.0.0.1:8080".into())
        );
        let held = HashMap::from([(7, 42)]);
        assert!(all_met(&wants, &seen, &held));
        assert_eq!(
            judge(&wants, &seen, &held),
            Verdict::Met("PID 42 listens on 127.0.0.1:8080 (TCP)".into())
        );
    }

    #[test]
    fn every_condition_must_be_met_and_the_missing_ones_are_named() {
        let wants = [
            Want::parse("listening=127.0.0.1:1").unwrap(),
            Want::parse("listening=127.0.0.1:2").unwrap(),
        ];
        let seen = [tcp(1, "127.0.0.1:1"), tcp(2, "0.0.0.0:2")];
        let first = HashMap::from([(1, 5)]);
        assert_eq!(
            judge(&wants, &seen, &first),
            Verdict::Waiting("waiting for a listening socket on 127.0.0.1:2".into())
        );
        let both = HashMap::from([(1, 5), (2, 6)]);
        assert_eq!(
            judge(&wants, &seen, &both),
            Verdict::Met(
                "PID 5 listens on 127.0.0.1:1 (TCP), PID 6 listens on 0.0.0.0:2 (TCP)".into()
            )
        );
        assert!(judge(&wants, &[], &both) != Verdict::Met(String::new()));
    }

    #[test]
    fn families_follow_the_conditions() {
        assert_eq!(families(&[Want::Any]), (true, true));
        assert_eq!(families(&[Want::Port(1)]), (true, false));
        let unix = Want::parse("listening=/x").unwrap();
        assert_eq!(families(std::slice::from_ref(&unix)), (false, true));
        assert_eq!(families(&[unix, Want::Port(1)]), (true, true));
    }

    #[test]
    fn backoff_starts_at_once_then_doubles_to_the_cap() {
        let t0 = Instant::now();
        let mut b = Backoff::default();
        assert!(b.due(t0));
        assert_eq!(b.next(), None);
        let mut now = t0;
        let mut steps = Vec::new();
        for _ in 0..8 {
            b.advance(now);
            let next = b.next().unwrap();
            assert!(!b.due(now));
            steps.push((next - now).as_millis());
            now = next;
            assert!(b.due(now));
        }
        assert_eq!(steps, [5, 10, 20, 40, 80, 100, 100, 100]);
    }

    #[test]
    fn an_expensive_check_stretches_the_pause() {
        let t0 = Instant::now();
        let mut b = Backoff::default();
        b.advance(t0);
        b.cost(Duration::from_micros(150));
        assert_eq!(b.next(), Some(t0 + FIRST_STEP), "cheap: unchanged");
        b.advance(t0);
        b.cost(Duration::from_millis(30));
        assert_eq!(b.next(), Some(t0 + Duration::from_millis(300)));
    }
}
