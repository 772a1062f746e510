//! Scenario tests of the `--ready-when listening` gate: facts in, actions
//! out, time handed in (no clock, no socket).

use std::time::{Duration, Instant};

use super::tests::turn;
use super::*;
use crate::listen::{Probed, Verdict};
use crate::proctree::Proc;
use crate::sig;

const ME: i32 = 10;
const LAUNCHER: Ident = Ident {
    pid: 100,
    starttime: 100,
};
const MS: Duration = Duration::from_millis(1);

fn gated() -> State {
    let settings = Settings {
        pidfile: None,
        start_timeout: Duration::from_secs(2),
        stop_timeout: Duration::from_secs(1),
        stop_signal: None,
        signal_map: Vec::new(),
        kill_all: false,
        wait_all: false,
        listening: true,
    };
    State::new(settings, ME, LAUNCHER, T0.with(|t| *t))
}

thread_local! {
    static T0: Instant = Instant::now();
}

fn at(ms: u64) -> Instant {
    T0.with(|t| *t) + MS * ms as u32
}

/// The launcher (100) exited 0 and left 200 under catchd.
fn daemonized(s: &mut State, now: Instant) -> Vec<Action> {
    let tree = Tree {
        procs: vec![Proc {
            pid: 200,
            ppid: ME,
            starttime: 200,
            comm: "d".into(),
            zombie: false,
            nspid: None,
        }],
    };
    s.step(Turn {
        reaped: vec![(100, Exit::Code(0))],
        tree: Some(tree),
        ..turn(now)
    })
}

fn verdict(s: &mut State, now: Instant, v: Verdict) -> Vec<Action> {
    s.step(Turn {
        listening: Some(Probed {
            verdict: v,
            took: Duration::from_micros(150),
        }),
        ..turn(now)
    })
}

fn logs(acts: &[Action], level: Level) -> Vec<String> {
    acts.iter()
        .filter_map(|a| match a {
            Action::Log(l, m) if *l == level => Some(m.clone()),
            _ => None,
        })
        .collect()
}

fn waiting() -> Verdict {
    Verdict::Waiting("waiting for a listening socket on 127.0.0.1:8080".into())
}

#[test]
fn nothing_is_checked_while_the_launcher_runs() {
    let mut s = gated();
    let acts = s.step(turn(at(0)));
    assert!(!acts.contains(&Action::Probe), "{acts:?}");
    assert!(!acts.contains(&Action::Ready));
    assert_eq!(
        s.next_deadline(),
        None,
        "a foreground program costs no wake-up"
    );
}

#[test]
fn ready_waits_for_the_check_then_never_checks_again() {
    let mut s = gated();
    let acts = daemonized(&mut s, at(0));
    assert!(acts.contains(&Action::Probe), "checked at once: {acts:?}");
    assert!(!acts.contains(&Action::Ready), "{acts:?}");
    let acts = verdict(&mut s, at(0), waiting());
    assert_eq!(
        logs(&acts, Level::Info),
        ["waiting for a listening socket on 127.0.0.1:8080"]
    );
    assert!(
        !acts.contains(&Action::Probe),
        "not again in the same instant"
    );
    assert_eq!(s.next_deadline(), Some(at(5)));
    assert_eq!(s.phase_name(), "starting");
    assert_eq!(
        s.waiting_for(),
        Some("waiting for a listening socket on 127.0.0.1:8080")
    );
    // Unrelated turns before the deadline do not check.
    assert!(!s.step(turn(at(3))).contains(&Action::Probe));
    let acts = s.step(turn(at(5)));
    assert!(acts.contains(&Action::Probe));
    let acts = verdict(&mut s, at(5), waiting());
    assert!(logs(&acts, Level::Info).is_empty(), "said once: {acts:?}");
    assert_eq!(s.next_deadline(), Some(at(15)));
    s.step(turn(at(15)));
    let acts = verdict(
        &mut s,
        at(15),
        Verdict::Met("PID 200 listens on 127.0.0.1:8080 (TCP)".into()),
    );
    assert!(acts.contains(&Action::Ready), "{acts:?}");
    assert_eq!(
        logs(&acts, Level::Info)[0],
        "listening: PID 200 listens on 127.0.0.1:8080 (TCP)"
    );
    assert_eq!(s.phase_name(), "running");
    assert_eq!(s.waiting_for(), None);
    assert_eq!(s.next_deadline(), None, "no wake-up once ready");
    let acts = s.step(turn(at(10_000)));
    assert!(!acts.contains(&Action::Probe) && !acts.contains(&Action::Ready));
}

#[test]
fn failures_warn_once_and_back_off_like_any_check() {
    let mut s = gated();
    daemonized(&mut s, at(0));
    let mut now = at(0);
    let mut warned = 0;
    let mut gaps = Vec::new();
    for _ in 0..8 {
        let acts = verdict(&mut s, now, Verdict::Failed("EPERM".into()));
        warned += logs(&acts, Level::Warn).len();
        let next = s.next_deadline().unwrap();
        gaps.push((next - now).as_millis());
        now = next;
        assert!(s.step(turn(now)).contains(&Action::Probe));
    }
    assert_eq!(warned, 1);
    assert_eq!(gaps, [5, 10, 20, 40, 80, 100, 100, 100]);
}

#[test]
fn not_ready_by_the_start_timeout_stops_the_tree_with_124() {
    let mut s = gated();
    daemonized(&mut s, at(0));
    verdict(&mut s, at(0), waiting());
    // The back-off never overshoots the start timeout.
    let mut now = at(0);
    while let Some(next) = s.next_deadline().filter(|_| s.phase_name() == "starting") {
        assert!(next <= at(2000));
        now = next;
        if s.step(turn(now)).contains(&Action::Probe) {
            verdict(&mut s, now, waiting());
        }
    }
    assert_eq!(now, at(2000));
    assert_eq!(s.phase_name(), "stopping");
    let acts = s.step(Turn {
        reaped: vec![(200, Exit::Signal(sig::TERM))],
        no_children: true,
        tree: Some(Tree::default()),
        ..turn(at(2001))
    });
    assert!(
        acts.contains(&Action::Finish(Outcome::TimedOut)),
        "{acts:?}"
    );
}
