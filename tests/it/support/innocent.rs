//! An innocent process: a `td-forker --fork none` started by the test
//! outside catchd's tree, which records every signal it gets in its own
//! report file. PID-file tests point catchd at it and check it was never
//! touched.

use std::process::{Child, Command};

use super::{alive, td, Report, TestDir};

pub struct Innocent {
    child: Child,
    pub pid: i32,
    pub report: Report,
}

impl Innocent {
    pub fn start(dir: &TestDir) -> Innocent {
        let report = Report {
            path: dir.file("innocent-report"),
        };
        let child = Command::new(td("td-forker"))
            .args(["--fork", "none"])
            .env("CATCHD_TD_REPORT", &report.path)
            .spawn()
            .unwrap();
        let pid = child.id() as i32;
        report.wait_for(&["ready", &format!("pid={pid}")]);
        Innocent { child, pid, report }
    }

    /// The signals it recorded (report lines).
    pub fn signals(&self) -> Vec<String> {
        self.report
            .lines()
            .into_iter()
            .filter(|l| l.starts_with("signal "))
            .collect()
    }

    pub fn assert_untouched(&self) {
        assert!(alive(self.pid), "the innocent process {} died", self.pid);
        assert_eq!(
            self.signals(),
            Vec::<String>::new(),
            "the innocent was signalled"
        );
    }
}

impl Drop for Innocent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
