//! Shared pieces of catchd's fake legacy daemons (`td-*` binaries).
//!
//! Owns: flag parsing (`args`, `names`), the report file protocol
//! (`report`), signal setup and waiting (`signals`), thin syscall helpers
//! (`sys`) and the per-role process loops (`daemon`).
//! Must not: spawn threads (every process here forks freely, which is only
//! sound while it stays single-threaded), or sleep as a way to synchronise
//! with anything outside the process (sleeps are only ever the simulated
//! daemon's own behaviour: `--launcher-sleep`, `--pidfile-delay`, orphans).
//! Serves SPEC §1 (the daemons catchd must hold) through the tests of
//! ARCHITECTURE §3 "Synchronising and observing without sleeps".

pub mod args;
pub mod daemon;
pub mod flags;
pub mod names;
pub mod report;
pub mod selftest;
pub mod signals;
pub mod sys;
