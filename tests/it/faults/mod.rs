//! Faults, hostile input and long runs (issue 6): nothing lost, nothing
//! leaked, no one else signalled.
//!
//! - `hostile`: PID files that name an innocent process, catchd's parent,
//!   or garbage, across start, HUP, handover and stop.
//! - `pid_reuse`: a main PID recycled for an innocent process, inside a
//!   fresh PID namespace (`pid_reuse.sh` runs there).
//! - `storm`: a daemon forking as fast as it can while being stopped.
//! - `awkward`: TERM before the launcher runs, during a handover, twice,
//!   then INT; a burst of 1,000 HUPs.
//! - `killed`: what survives a SIGKILL of catchd itself.
//!
//! The soak run (1,000 start/stop cycles, 10,000 reaped orphans) is not a
//! test: see `bench/soak`.

mod awkward;
mod hostile;
mod killed;
mod pid_reuse;
mod storm;

use crate::support::*;

/// Replace `path` atomically (write a temporary file, rename it over).
fn replace(path: &std::path::Path, content: &[u8]) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, content).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// Nothing of this run is left: no live process carries the run's report
/// file in its environment. That covers every reported PID (a PID that was
/// recycled since names a process without it) and any process forked but
/// never reported. Call once catchd has exited.
fn assert_nothing_left(dir: &TestDir, c: &Catchd) {
    let report = dir.report();
    let survivors = report.survivors();
    assert!(
        survivors.is_empty(),
        "processes of this run survived: {survivors:?}\nlog:\n{}\nreport:\n{}",
        c.log(),
        report.lines().join("\n")
    );
}
