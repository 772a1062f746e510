//! catchd's integration tests: the built binary against real process trees
//! made of the fake legacy daemons in `test-daemons/`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic

mod support;

mod cgroup;
mod churn;
mod cli;
mod contain;
mod examples;
mod faults;
mod listening;
mod listening_hostile;
mod notify;
mod one_instance;
mod pidfile_judging;
mod readme;
mod real;
mod resilience;
mod run_basic;
mod run_pidfile;
mod run_signals;
mod run_stop;
mod startup_failures;
mod stop_warning;
mod supervisors;
mod zombie_leader;
