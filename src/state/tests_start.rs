//! Scenario tests of how a start that never found its main process ends
//! (SPEC §1.1.4, §1.4), of the handover timeout, and of the stop warning.

use std::time::{Duration, Instant};

use super::tests::{finish, id, main_from_pidfile, settings, tree, turn, LAUNCHER, ME};
use super::*;
use crate::sig;

fn logs(actions: &[Action]) -> Vec<String> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Log(_, m) => Some(m.clone()),
            _ => None,
        })
        .collect()
}

/// `--pidfile`: the launcher exits 0 leaving 200, which then ends with
/// `exit` before any pidfile named it.
fn daemon_dies_before_pidfile(exit: Exit, signals: Vec<Sig>) -> Vec<Action> {
    let t0 = Instant::now();
    let mut s = State::new(settings(true), ME, LAUNCHER, t0);
    s.step(Turn {
        reaped: vec![(100, Exit::Code(0))],
        tree: Some(tree(&[(200, ME)])),
        pidfile: Some(Check::Missing),
        ..turn(t0)
    });
    s.step(Turn {
        signals,
        tree: Some(tree(&[(200, ME)])),
        ..turn(t0)
    });
    s.step(Turn {
        reaped: vec![(200, exit)],
        no_children: true,
        tree: Some(tree(&[])),
        pidfile: Some(Check::Missing),
        ..turn(t0)
    })
}

#[test]
fn a_daemon_failing_before_its_pidfile_is_a_failed_start_with_its_status() {
    let acts = daemon_dies_before_pidfile(Exit::Code(3), Vec::new());
    assert_eq!(finish(&acts), Some(Outcome::Mirror(Exit::Code(3))));
    let said = logs(&acts).join("\n");
    assert!(
        said.contains(
            "the daemon exited before its pidfile named it: PID 200 ended (exit status 3)"
        ),
        "{said}"
    );
    let acts = daemon_dies_before_pidfile(Exit::Signal(Sig(libc::SIGSEGV)), Vec::new());
    assert_eq!(
        finish(&acts),
        Some(Outcome::Mirror(Exit::Signal(Sig(libc::SIGSEGV))))
    );
}

#[test]
fn a_daemon_exiting_zero_before_its_pidfile_ends_catchd_with_1() {
    let acts = daemon_dies_before_pidfile(Exit::Code(0), Vec::new());
    assert_eq!(finish(&acts), Some(Outcome::Mirror(Exit::Code(1))));
    assert!(logs(&acts)
        .iter()
        .any(|l| l.contains("every process exited with status 0")));
}

#[test]
fn a_term_before_the_pidfile_ends_catchd_as_the_awaited_process_ended() {
    let acts = daemon_dies_before_pidfile(Exit::Signal(sig::TERM), vec![sig::TERM]);
    assert_eq!(
        finish(&acts),
        Some(Outcome::Mirror(Exit::Signal(sig::TERM)))
    );
}

#[test]
fn a_handover_whose_pidfile_never_becomes_valid_ends_with_124() {
    let t0 = Instant::now();
    let mut s = State::new(settings(true), ME, LAUNCHER, t0);
    main_from_pidfile(&mut s, t0);
    s.step(Turn {
        reaped: vec![(200, Exit::Code(0))],
        tree: Some(tree(&[(300, ME)])),
        pidfile: Some(Check::Stale("names PID 200, which is not running".into())),
        ..turn(t0)
    });
    let late = t0 + Duration::from_secs(5);
    let acts = s.step(Turn {
        tree: Some(tree(&[(300, ME)])),
        ..turn(late)
    });
    assert!(acts.contains(&Action::Send {
        to: id(300),
        sig: sig::TERM
    }));
    let acts = s.step(Turn {
        reaped: vec![(300, Exit::Signal(sig::TERM))],
        no_children: true,
        tree: Some(tree(&[])),
        ..turn(late)
    });
    assert_eq!(finish(&acts), Some(Outcome::TimedOut));
}

#[test]
fn without_pidfile_a_launcher_leaving_nothing_but_a_failure_mirrors_it() {
    let t0 = Instant::now();
    let mut s = State::new(settings(false), ME, LAUNCHER, t0);
    // 300 was orphaned to catchd and failed while the launcher ran.
    s.step(Turn {
        reaped: vec![(300, Exit::Code(3))],
        tree: Some(tree(&[(100, ME)])),
        ..turn(t0)
    });
    let acts = s.step(Turn {
        reaped: vec![(100, Exit::Code(0))],
        no_children: true,
        tree: Some(tree(&[])),
        ..turn(t0)
    });
    assert_eq!(finish(&acts), Some(Outcome::Mirror(Exit::Code(3))));
    assert!(logs(&acts)
        .iter()
        .any(|l| l.contains("the daemon exited before catchd found it")));
    // A program that never forks and exits 0 is still 0.
    let mut s = State::new(settings(false), ME, LAUNCHER, t0);
    let acts = s.step(Turn {
        reaped: vec![(100, Exit::Code(0))],
        no_children: true,
        tree: Some(tree(&[])),
        ..turn(t0)
    });
    assert_eq!(finish(&acts), Some(Outcome::Mirror(Exit::Code(0))));
}

#[test]
fn the_stop_asks_the_loop_to_warn_about_an_ignored_stop_signal() {
    let t0 = Instant::now();
    let mut s = State::new(settings(false), ME, LAUNCHER, t0);
    let acts = s.step(Turn {
        signals: vec![sig::INT],
        tree: Some(tree(&[(100, ME)])),
        ..turn(t0)
    });
    assert!(acts.contains(&Action::WarnIfIgnored {
        to: LAUNCHER,
        sig: sig::INT,
        kill_in: Duration::from_secs(1)
    }));
}
