//! Scenario tests of the pure state machine: facts in, actions out.

use std::time::{Duration, Instant};

use super::*;
use crate::proctree::Proc;
use crate::sig;

pub(super) const ME: i32 = 10;
pub(super) const LAUNCHER: Ident = Ident {
    pid: 100,
    starttime: 100,
};

pub(super) fn settings(pidfile: bool) -> Settings {
    Settings {
        pidfile: pidfile.then(|| "/run/t.pid".into()),
        start_timeout: Duration::from_secs(5),
        stop_timeout: Duration::from_secs(1),
        stop_signal: None,
        signal_map: Vec::new(),
        kill_all: false,
        wait_all: false,
        listening: false,
    }
}

pub(super) fn id(pid: i32) -> Ident {
    Ident {
        pid,
        starttime: pid as u64,
    }
}

/// A tree from (pid, ppid) pairs; start time = pid.
pub(super) fn tree(pairs: &[(i32, i32)]) -> Tree {
    Tree {
        procs: pairs
            .iter()
            .map(|&(pid, ppid)| Proc {
                pid,
                ppid,
                starttime: pid as u64,
                comm: format!("p{pid}"),
                zombie: false,
                nspid: None,
            })
            .collect(),
    }
}

pub(super) fn turn(now: Instant) -> Turn {
    Turn::at(now)
}

/// `--pidfile`: the launcher (100) exits 0 and the pidfile names 200, the
/// main process from then on.
pub(super) fn main_from_pidfile(s: &mut State, now: Instant) {
    s.step(Turn {
        reaped: vec![(100, Exit::Code(0))],
        tree: Some(tree(&[(200, ME)])),
        pidfile: Some(Check::Valid {
            pid: 200,
            starttime: 200,
        }),
        ..turn(now)
    });
    assert_eq!(s.main(), Some(id(200)));
}

pub(super) fn sends(actions: &[Action]) -> Vec<(i32, Sig)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Send { to, sig } => Some((to.pid, *sig)),
            _ => None,
        })
        .collect()
}

pub(super) fn finish(actions: &[Action]) -> Option<Outcome> {
    actions.iter().find_map(|a| match a {
        Action::Finish(o) => Some(*o),
        _ => None,
    })
}

#[test]
fn a_launcher_exiting_zero_hands_over_to_the_oldest_child_and_is_ready() {
    let t0 = Instant::now();
    let mut s = State::new(settings(false), ME, LAUNCHER, t0);
    assert_eq!(s.main(), Some(LAUNCHER));
    let acts = s.step(Turn {
        reaped: vec![(100, Exit::Code(0))],
        tree: Some(tree(&[(300, ME), (200, ME), (400, 200)])),
        ..turn(t0)
    });
    assert_eq!(s.main(), Some(id(200)));
    assert!(acts.contains(&Action::Ready));
    // The intermediate of a double fork exits 0 too: follow its child.
    let acts = s.step(Turn {
        reaped: vec![(200, Exit::Code(0))],
        tree: Some(tree(&[(300, ME), (400, ME)])),
        ..turn(t0)
    });
    assert_eq!(s.main(), Some(id(300)));
    assert!(!acts.contains(&Action::Ready), "ready is announced once");
}

#[test]
fn a_failed_launcher_stops_what_it_left_and_is_mirrored() {
    let t0 = Instant::now();
    let mut s = State::new(settings(false), ME, LAUNCHER, t0);
    let acts = s.step(Turn {
        reaped: vec![(100, Exit::Code(3))],
        tree: Some(tree(&[(200, ME)])),
        ..turn(t0)
    });
    assert_eq!(sends(&acts), [(200, sig::TERM)]);
    let acts = s.step(Turn {
        reaped: vec![(200, Exit::Signal(sig::TERM))],
        no_children: true,
        tree: Some(tree(&[])),
        ..turn(t0)
    });
    assert_eq!(finish(&acts), Some(Outcome::Mirror(Exit::Code(3))));
}

#[test]
fn signals_wait_for_a_valid_pidfile_and_refusals_are_logged_once() {
    let t0 = Instant::now();
    let mut s = State::new(settings(true), ME, LAUNCHER, t0);
    // While the launcher runs, signals go to it.
    let acts = s.step(Turn {
        signals: vec![Sig(libc::SIGUSR1)],
        tree: Some(tree(&[(100, ME)])),
        ..turn(t0)
    });
    assert_eq!(sends(&acts), [(100, Sig(libc::SIGUSR1))]);
    let refused = Check::Refused("names PID 1 (init)".into());
    let acts = s.step(Turn {
        reaped: vec![(100, Exit::Code(0))],
        tree: Some(tree(&[(200, ME)])),
        pidfile: Some(refused.clone()),
        signals: vec![Sig(libc::SIGHUP)],
        ..turn(t0)
    });
    assert!(
        sends(&acts).is_empty(),
        "nothing is sent before the pidfile is valid: {acts:?}"
    );
    let warnings = |acts: &[Action]| {
        acts.iter()
            .filter(|a| matches!(a, Action::Log(Level::Warn, _)))
            .count()
    };
    assert_eq!(warnings(&acts), 1);
    let acts = s.step(Turn {
        tree: Some(tree(&[(200, ME)])),
        pidfile: Some(refused),
        ..turn(t0)
    });
    assert_eq!(warnings(&acts), 0, "the same refusal is logged once");
    let acts = s.step(Turn {
        tree: Some(tree(&[(200, ME)])),
        pidfile: Some(Check::Valid {
            pid: 200,
            starttime: 200,
        }),
        ..turn(t0)
    });
    assert_eq!(sends(&acts), [(200, Sig(libc::SIGHUP))]);
    assert!(acts.contains(&Action::Ready));
}

#[test]
fn stop_signals_main_then_the_rest_then_kills_after_the_timeout() {
    let t0 = Instant::now();
    let mut cfg = settings(false);
    cfg.signal_map = vec![(sig::TERM, Sig(libc::SIGQUIT))];
    let mut s = State::new(cfg, ME, LAUNCHER, t0);
    s.step(Turn {
        reaped: vec![(100, Exit::Code(0))],
        tree: Some(tree(&[(200, ME), (300, 200)])),
        ..turn(t0)
    });
    let acts = s.step(Turn {
        signals: vec![sig::TERM],
        ..turn(t0)
    });
    assert_eq!(
        sends(&acts),
        [(200, Sig(libc::SIGQUIT))],
        "the mapped stop signal goes to main only"
    );
    let acts = s.step(Turn {
        reaped: vec![(200, Exit::Code(0))],
        tree: Some(tree(&[(300, ME)])),
        ..turn(t0)
    });
    assert_eq!(sends(&acts), [(300, Sig(libc::SIGQUIT))]);
    let acts = s.step(Turn {
        tree: Some(tree(&[(300, ME)])),
        ..turn(t0)
    });
    assert!(
        sends(&acts).is_empty(),
        "each process gets the stop signal once"
    );
    let late = t0 + Duration::from_secs(1);
    assert_eq!(s.next_deadline(), Some(late));
    let acts = s.step(Turn {
        tree: Some(tree(&[(300, ME)])),
        ..turn(late)
    });
    // Stopped first, so that it cannot fork; killed once all are stopped.
    assert_eq!(sends(&acts), [(300, sig::STOP)]);
    let acts = s.step(Turn {
        tree: Some(tree(&[(300, ME)])),
        ..turn(late)
    });
    assert_eq!(sends(&acts), [(300, sig::KILL)]);
    let acts = s.step(Turn {
        reaped: vec![(300, Exit::Signal(sig::KILL))],
        no_children: true,
        tree: Some(tree(&[])),
        ..turn(late)
    });
    assert_eq!(finish(&acts), Some(Outcome::Mirror(Exit::Code(0))));
}

#[test]
fn start_timeout_stops_everything_and_ends_with_124() {
    let t0 = Instant::now();
    let mut s = State::new(settings(true), ME, LAUNCHER, t0);
    assert_eq!(s.next_deadline(), Some(t0 + Duration::from_secs(5)));
    let late = t0 + Duration::from_secs(5);
    let acts = s.step(Turn {
        tree: Some(tree(&[(100, ME)])),
        pidfile: Some(Check::Missing),
        ..turn(late)
    });
    assert_eq!(sends(&acts), [(100, sig::TERM)]);
    let acts = s.step(Turn {
        reaped: vec![(100, Exit::Signal(sig::TERM))],
        no_children: true,
        tree: Some(tree(&[])),
        ..turn(late)
    });
    assert_eq!(finish(&acts), Some(Outcome::TimedOut));
}

#[test]
fn a_main_process_that_is_not_our_child_ends_with_an_unknown_status() {
    let t0 = Instant::now();
    let mut s = State::new(settings(true), ME, LAUNCHER, t0);
    s.step(Turn {
        reaped: vec![(100, Exit::Code(0))],
        tree: Some(tree(&[(200, ME), (300, 200)])),
        pidfile: Some(Check::Valid {
            pid: 300,
            starttime: 300,
        }),
        ..turn(t0)
    });
    assert_eq!(s.main(), Some(id(300)));
    // 300 vanished without catchd reaping it: its parent 200 did.
    let acts = s.step(Turn {
        tree: Some(tree(&[(200, ME)])),
        pidfile: Some(Check::Stale("gone".into())),
        ..turn(t0)
    });
    assert_eq!(sends(&acts), [(200, sig::TERM)]);
    let acts = s.step(Turn {
        reaped: vec![(200, Exit::Code(0))],
        no_children: true,
        tree: Some(tree(&[])),
        ..turn(t0)
    });
    assert_eq!(finish(&acts), Some(Outcome::Unknown));
}

#[test]
fn forward_only_skips_the_scan_for_a_running_main_and_nothing_else() {
    let t0 = Instant::now();
    let mut s = State::new(settings(true), ME, LAUNCHER, t0);
    // No main process yet: a full turn is needed (the signal is queued).
    assert!(s.forward_only(&[Sig(libc::SIGHUP)], t0).is_none());
    main_from_pidfile(&mut s, t0);
    let acts = s.forward_only(&[Sig(libc::SIGHUP), Sig(libc::SIGUSR1)], t0);
    let acts = acts.expect("forwarded without a scan");
    assert_eq!(
        sends(&acts),
        [(200, Sig(libc::SIGHUP)), (200, Sig(libc::SIGUSR1))]
    );
    // A child's exit needs the full turn.
    assert!(s.forward_only(&[sig::CHLD], t0).is_none());
    assert!(s.forward_only(&[], t0).is_none());
    // A stop begins at the main process, which needs no scan either.
    let acts = s
        .forward_only(&[sig::TERM], t0)
        .expect("stop without a scan");
    assert_eq!(sends(&acts), [(200, sig::TERM)]);
    assert_eq!(s.phase_name(), "stopping");
    // Once stopping, never.
    assert!(s.forward_only(&[Sig(libc::SIGHUP)], t0).is_none());
    // With --kill-mode all the stop reaches the whole tree: scan first.
    let mut all = State::new(
        Settings {
            kill_all: true,
            ..settings(false)
        },
        ME,
        LAUNCHER,
        t0,
    );
    assert!(all.forward_only(&[sig::TERM], t0).is_none());
    assert!(all.forward_only(&[Sig(libc::SIGHUP)], t0).is_some());
}
