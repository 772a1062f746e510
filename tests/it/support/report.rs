//! The daemons' report file (see test-daemons): wait for lines, count
//! them, collect every PID, and find what a run left behind.

use std::path::PathBuf;

use super::{procs, wait_until, LIMIT};

/// The lines the fake daemons append (see test-daemons).
#[derive(Clone)]
pub struct Report {
    pub path: PathBuf,
}

impl Report {
    pub fn lines(&self) -> Vec<String> {
        std::fs::read_to_string(&self.path)
            .unwrap_or_default()
            .lines()
            .map(String::from)
            .collect()
    }

    /// Wait for a line with every word of `words`; return it.
    pub fn wait_for(&self, words: &[&str]) -> String {
        let mut found = None;
        let ok = wait_until(LIMIT, || {
            found = self.lines().into_iter().find(|l| has_words(l, words));
            found.is_some()
        });
        assert!(
            ok,
            "no report line with {words:?}; report:\n{}",
            self.lines().join("\n")
        );
        found.unwrap_or_default()
    }

    /// Every live process that still carries this report file in its
    /// environment: whatever a run left behind, reported or not (catchd
    /// carries it too, so look once catchd has exited).
    pub fn survivors(&self) -> Vec<i32> {
        procs::with_env(&format!("CATCHD_TD_REPORT={}", self.path.display()))
    }

    pub fn count(&self, words: &[&str]) -> usize {
        self.lines().iter().filter(|l| has_words(l, words)).count()
    }

    /// Every `pid=` value ever reported.
    pub fn pids(&self) -> Vec<i32> {
        let mut out: Vec<i32> = self
            .lines()
            .iter()
            .filter_map(|l| field(l, "pid"))
            .collect();
        out.sort();
        out.dedup();
        out
    }
}

fn has_words(line: &str, words: &[&str]) -> bool {
    let mine: Vec<&str> = line.split_whitespace().collect();
    words.iter().all(|w| mine.contains(w))
}

/// `key=value` from a report line, as a PID.
pub fn field(line: &str, key: &str) -> Option<i32> {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(key)?.strip_prefix('='))
        .and_then(|v| v.parse().ok())
}
