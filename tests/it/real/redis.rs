//! redis-server 7.0 (`--daemonize yes`: one process with a few threads,
//! pidfile written by the child after the launcher exited) held by catchd.

use std::path::PathBuf;

use super::*;

struct Redis {
    bin: PathBuf,
    dir: TestDir,
    port: u16,
}

impl Redis {
    fn new(test: &str) -> Option<Redis> {
        Some(Redis {
            bin: installed("redis-server", test)?,
            dir: TestDir::new(test),
            port: free_port(),
        })
    }

    fn pidfile(&self) -> PathBuf {
        self.dir.file("redis.pid")
    }

    fn log(&self) -> PathBuf {
        self.dir.file("redis.log")
    }

    /// The operator's command: no config file, no persistence, own log.
    fn hold(&self, extra: &[&str]) -> Held {
        let command = [
            self.bin.display().to_string(),
            "--daemonize".into(),
            "yes".into(),
            "--pidfile".into(),
            self.pidfile().display().to_string(),
            "--port".into(),
            self.port.to_string(),
            "--bind".into(),
            "127.0.0.1".into(),
            "--dir".into(),
            self.dir.path.display().to_string(),
            "--logfile".into(),
            self.log().display().to_string(),
            "--save".into(),
            String::new(),
        ];
        Held::start(&self.dir, &self.pidfile(), extra, &command)
    }

    fn wait_pong(&self) {
        wait_answer(self.port, b"PING\r\n", "+PONG\r\n");
    }
}

#[test]
fn redis_is_held_answers_and_stops_on_term() {
    let Some(rd) = Redis::new("redis_is_held_answers_and_stops_on_term") else {
        return;
    };
    let mut c = rd.hold(&[]);
    let main = c.ready();
    assert!(is_descendant(main, c.pid), "{}", c.log());
    assert_eq!(pidfile_pid(&rd.pidfile()), Some(main));
    rd.wait_pong();
    assert!(c.running(), "{}", c.log());
    assert!(!c.log().contains("refused"), "{}", c.log());

    // HUP reaches redis, which ignores it (SIG_IGN since start-up, nothing
    // in its log): checked are the forward, the disposition, and that
    // redis and catchd carry on.
    assert!(ignores(main, libc::SIGHUP), "redis catches HUP now?");
    c.signal(libc::SIGHUP);
    c.wait_log(&format!("forwarding SIGHUP to main process PID {main}"));
    rd.wait_pong();
    assert!(alive(main) && c.running(), "{}", c.log());

    c.signal(libc::SIGTERM);
    c.wait_log(&format!("sending SIGTERM to main process PID {main}"));
    c.assert_exit_code(0);
    c.wait_log("every process has exited; exiting with status 0");
    wait_file(&rd.log(), "Received SIGTERM scheduling shutdown");
    wait_file(&rd.log(), "Redis is now ready to exit, bye bye");
    c.assert_all_gone();
    assert!(!rd.pidfile().exists(), "redis removes its pidfile");
    assert!(!c.log().contains("SIGKILL"), "{}", c.log());
}

#[test]
fn redis_killed_makes_catchd_die_by_sigkill() {
    let Some(rd) = Redis::new("redis_killed_makes_catchd_die_by_sigkill") else {
        return;
    };
    let mut c = rd.hold(&["--exit-128"]);
    let main = c.ready();
    rd.wait_pong();
    procs::kill(main, libc::SIGKILL);
    c.assert_exit_code(137);
    c.wait_log(&format!(
        "main process PID {main} ended (killed by SIGKILL)"
    ));
    c.wait_log("ending by SIGKILL, as the main process did");
    c.assert_all_gone();
}
