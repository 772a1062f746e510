//! memcached 1.6 (`-d -P FILE`: one process, pidfile written by the child
//! after the launcher exited) held by catchd.

use std::path::PathBuf;

use super::*;

struct Memcached {
    bin: PathBuf,
    dir: TestDir,
    port: u16,
}

impl Memcached {
    fn new(test: &str) -> Option<Memcached> {
        Some(Memcached {
            bin: installed("memcached", test)?,
            dir: TestDir::new(test),
            port: free_port(),
        })
    }

    fn pidfile(&self) -> PathBuf {
        self.dir.file("memcached.pid")
    }

    /// The operator's command. `-u root` because memcached refuses to run
    /// as root without `-u`; it is ignored when the tests are not root.
    fn hold(&self, extra: &[&str]) -> Held {
        let command = [
            self.bin.display().to_string(),
            "-d".into(),
            "-P".into(),
            self.pidfile().display().to_string(),
            "-u".into(),
            "root".into(),
            "-l".into(),
            "127.0.0.1".into(),
            "-p".into(),
            self.port.to_string(),
        ];
        Held::start(&self.dir, &self.pidfile(), extra, &command)
    }

    fn wait_version(&self) {
        wait_answer(self.port, b"version\r\n", "VERSION ");
    }
}

#[test]
fn memcached_is_held_answers_and_stops_on_term() {
    let Some(mc) = Memcached::new("memcached_is_held_answers_and_stops_on_term") else {
        return;
    };
    let mut c = mc.hold(&[]);
    let main = c.ready();
    assert!(is_descendant(main, c.pid), "{}", c.log());
    assert_eq!(pidfile_pid(&mc.pidfile()), Some(main));
    mc.wait_version();
    assert!(c.running(), "{}", c.log());
    assert!(!c.log().contains("refused"), "{}", c.log());

    // HUP reaches memcached, which ignores it: `-d` sets SIGHUP to SIG_IGN
    // before daemonizing, so the kernel drops it and there is no effect to
    // observe. What can be checked: it was forwarded, it is ignored, and
    // memcached and catchd carry on.
    assert!(ignores(main, libc::SIGHUP), "memcached -d catches HUP now?");
    c.signal(libc::SIGHUP);
    c.wait_log(&format!("forwarding SIGHUP to main process PID {main}"));
    mc.wait_version();
    assert!(alive(main) && c.running(), "{}", c.log());

    c.signal(libc::SIGTERM);
    c.wait_log(&format!("sending SIGTERM to main process PID {main}"));
    c.assert_exit_code(0);
    c.wait_log("every process has exited; exiting with status 0");
    c.assert_all_gone();
    assert!(!mc.pidfile().exists(), "memcached removes its pidfile");
    assert!(!c.log().contains("SIGKILL"), "{}", c.log());
}

#[test]
fn memcached_killed_makes_catchd_die_by_sigkill() {
    let Some(mc) = Memcached::new("memcached_killed_makes_catchd_die_by_sigkill") else {
        return;
    };
    let mut c = mc.hold(&["--exit-128"]);
    let main = c.ready();
    mc.wait_version();
    procs::kill(main, libc::SIGKILL);
    c.assert_exit_code(137);
    c.wait_log(&format!(
        "main process PID {main} ended (killed by SIGKILL)"
    ));
    c.wait_log("ending by SIGKILL, as the main process did");
    c.assert_all_gone();
}

#[test]
fn memcached_under_contain_answers_and_stops_clean() {
    if !namespaces_allowed("--contain") {
        return;
    }
    let Some(mc) = Memcached::new("memcached_under_contain_answers_and_stops_clean") else {
        return;
    };
    let mut c = mc.hold(&["--contain"]);
    let main = c.ready();
    assert!(is_descendant(main, c.pid), "{}", c.log());
    assert_eq!(procs::nspid(main), pidfile_pid(&mc.pidfile()));
    mc.wait_version();
    c.signal(libc::SIGTERM);
    c.assert_exit_code(0);
    c.assert_all_gone();
}
