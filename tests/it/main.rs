//! catchd's integration tests: the built binary against real process trees
//! made of the fake legacy daemons in `test-daemons/` (ARCHITECTURE §3).

mod support;

mod notify;
mod real;
mod run_basic;
mod run_pidfile;
mod run_signals;
mod run_stop;
