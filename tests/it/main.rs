//! catchd's integration tests: the built binary against real process trees
//! made of the fake legacy daemons in `test-daemons/`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic

mod support;

mod cli;
mod contain;
mod examples;
mod faults;
mod notify;
mod readme;
mod real;
mod run_basic;
mod run_pidfile;
mod run_signals;
mod run_stop;
mod supervisors;
