//! nginx 1.22 (`daemon on`, a master and 2 workers) held by catchd: serve,
//! reload on HUP, graceful stop through `--signal-map TERM:QUIT`, the
//! master SIGKILLed, and the binary upgrade (USR2, WINCH, QUIT).

use std::path::PathBuf;
use std::thread;

use super::backend::{slow_upstream, FIRST, SECOND};
use super::*;

/// One private nginx: everything under the test directory, no /etc, /var.
struct Nginx {
    bin: PathBuf,
    dir: TestDir,
    port: u16,
}

impl Nginx {
    fn new(test: &str) -> Option<Nginx> {
        let bin = installed("nginx", test)?;
        let dir = TestDir::new(test);
        std::fs::create_dir(dir.file("tmp")).expect("create tmp");
        Some(Nginx {
            bin,
            dir,
            port: free_port(),
        })
    }

    fn pidfile(&self) -> PathBuf {
        self.dir.file("nginx.pid")
    }

    fn error_log(&self) -> PathBuf {
        self.dir.file("error.log")
    }

    /// `/` answers `body`; `/slow` goes to 127.0.0.1:`upstream`, unbuffered.
    fn write_conf(&self, body: &str, upstream: Option<u16>) {
        let d = self.dir.path.display();
        let slow = upstream.map_or(String::new(), |up| {
            format!(
                "location /slow {{ proxy_pass http://127.0.0.1:{up}; \
                 proxy_buffering off; proxy_read_timeout 60s; }}"
            )
        });
        let conf = format!(
            "daemon on;
worker_processes 2;
error_log {d}/error.log notice;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {d}/tmp/body;
    proxy_temp_path {d}/tmp/proxy;
    fastcgi_temp_path {d}/tmp/fastcgi;
    uwsgi_temp_path {d}/tmp/uwsgi;
    scgi_temp_path {d}/tmp/scgi;
    server {{
        listen 127.0.0.1:{port};
        location / {{ return 200 \"{body}\\n\"; }}
        {slow}
    }}
}}
",
            port = self.port
        );
        std::fs::write(self.dir.file("nginx.conf"), conf).expect("write nginx.conf");
    }

    /// The operator's command: nothing outside the test directory.
    fn command(&self) -> Vec<String> {
        let d = self.dir.path.display();
        vec![
            self.bin.display().to_string(),
            "-p".into(),
            format!("{d}/"),
            "-c".into(),
            format!("{d}/nginx.conf"),
            "-e".into(),
            format!("{d}/error.log"),
            "-g".into(),
            format!("pid {};", self.pidfile().display()),
        ]
    }

    fn hold(&self, extra: &[&str]) -> Held {
        Held::start(&self.dir, &self.pidfile(), extra, &self.command())
    }

    fn get(&self, path: &str) -> Result<String, String> {
        let req = format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n");
        ask(self.port, req.as_bytes(), |_| false)
    }

    /// Poll `/` until it answers `body` (deadline `LIMIT`).
    fn wait_body(&self, body: &str) {
        let req = b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n";
        let answer = wait_answer(self.port, req, &format!("\r\n\r\n{body}\n"));
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    }
}

/// A master's two workers, once both are there.
fn workers(master: i32) -> Vec<i32> {
    let mut found = Vec::new();
    assert!(
        wait_until(LIMIT, || {
            found = live_children(master);
            found.len() == 2
        }),
        "master {master} has workers {found:?}"
    );
    found
}

#[test]
fn nginx_is_held_serves_and_reloads_on_hup() {
    let Some(ng) = Nginx::new("nginx_is_held_serves_and_reloads_on_hup") else {
        return;
    };
    ng.write_conf("one", None);
    let mut c = ng.hold(&[]);
    let master = c.ready();
    assert!(is_descendant(master, c.pid), "{}", c.log());
    assert_eq!(pidfile_pid(&ng.pidfile()), Some(master));
    let old = workers(master);
    c.record();
    ng.wait_body("one");
    assert!(c.running(), "{}", c.log());
    assert!(!c.log().contains("refused"), "{}", c.log());

    // HUP reaches the master: it re-reads the config and replaces both
    // workers; the master stays, and so does catchd.
    ng.write_conf("two", None);
    c.signal(libc::SIGHUP);
    c.wait_log(&format!("forwarding SIGHUP to main process PID {master}"));
    ng.wait_body("two");
    wait_file(
        &ng.error_log(),
        &format!("signal 1 (SIGHUP) received from {}, reconfiguring", c.pid),
    );
    assert!(wait_until(LIMIT, || old.iter().all(|&w| !alive(w))));
    let new = workers(master);
    c.record();
    assert!(new.iter().all(|w| !old.contains(w)), "{old:?} {new:?}");
    assert!(alive(master) && c.running(), "{}", c.log());

    // A plain TERM: nginx's fast shutdown, exit 0, nothing left.
    c.signal(libc::SIGTERM);
    c.assert_exit_code(0);
    c.wait_log("every process has exited; exiting with status 0");
    c.assert_all_gone();
    assert!(!c.log().contains("SIGKILL"), "{}", c.log());
}

#[test]
fn nginx_term_mapped_to_quit_finishes_the_request_in_flight() {
    let Some(ng) = Nginx::new("nginx_term_mapped_to_quit_finishes_the_request_in_flight") else {
        return;
    };
    let up = slow_upstream();
    ng.write_conf("one", Some(up.port));
    let mut c = ng.hold(&["--signal-map", "TERM:QUIT", "--stop-timeout", "60s"]);
    let master = c.ready();
    workers(master);
    c.record();
    ng.wait_body("one");

    // A request in flight: the backend has sent half of its answer.
    let client = {
        let port = ng.port;
        thread::spawn(move || {
            let req = b"GET /slow HTTP/1.0\r\nHost: localhost\r\n\r\n";
            ask(port, req, |_| false)
        })
    };
    up.accepted
        .recv_timeout(LIMIT)
        .expect("nginx never reached the slow backend");

    c.signal(libc::SIGTERM);
    c.wait_log("received SIGTERM: stopping");
    c.wait_log(&format!("sending SIGQUIT to main process PID {master}"));
    // nginx names the sender: the QUIT came from catchd.
    wait_file(
        &ng.error_log(),
        &format!("signal 3 (SIGQUIT) received from {}, shutting down", c.pid),
    );
    wait_file(&ng.error_log(), "gracefully shutting down");
    // Graceful: no new connection is taken, the open one is served.
    assert!(wait_until(LIMIT, || refused(ng.port)), "still listening");
    assert!(alive(master) && c.running(), "{}", c.log());

    up.release.send(()).expect("release the backend");
    let answer = client.join().expect("client thread").expect("slow request");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        answer.ends_with(&format!("\r\n\r\n{FIRST}{SECOND}")),
        "{answer}"
    );

    c.assert_exit_code(0);
    c.wait_log("every process has exited; exiting with status 0");
    c.assert_all_gone();
    assert!(!c.log().contains("SIGKILL"), "{}", c.log());
}

#[test]
fn nginx_master_killed_leaves_no_worker_and_catchd_dies_by_sigkill() {
    let Some(ng) = Nginx::new("nginx_master_killed_leaves_no_worker_and_catchd_dies_by_sigkill")
    else {
        return;
    };
    ng.write_conf("one", None);
    let mut c = ng.hold(&["--exit-128"]);
    let master = c.ready();
    let workers = workers(master);
    c.record();
    ng.wait_body("one");

    // Alone, nginx's workers outlive a SIGKILLed master; catchd stops them.
    procs::kill(master, libc::SIGKILL);
    c.assert_exit_code(137);
    c.wait_log(&format!(
        "main process PID {master} ended (killed by SIGKILL)"
    ));
    c.wait_log("ending by SIGKILL, as the main process did");
    for w in workers {
        c.wait_log(&format!("sent SIGTERM to PID {w}"));
        assert!(!alive(w), "worker {w} survived:\n{}", c.log());
    }
    c.assert_all_gone();
}

#[test]
fn nginx_binary_upgrade_hands_over_to_the_new_master() {
    let Some(ng) = Nginx::new("nginx_binary_upgrade_hands_over_to_the_new_master") else {
        return;
    };
    ng.write_conf("one", None);
    let mut c = ng.hold(&[]);
    let old = c.ready();
    let old_workers = workers(old);
    c.record();
    ng.wait_body("one");

    // USR2 to catchd reaches the old master, which renames the pidfile to
    // .oldbin and starts a new master that writes its own.
    c.signal(libc::SIGUSR2);
    c.wait_log(&format!("forwarding SIGUSR2 to main process PID {old}"));
    let oldbin = ng.dir.file("nginx.pid.oldbin");
    let mut new = 0;
    assert!(
        wait_until(LIMIT, || {
            new = pidfile_pid(&ng.pidfile()).unwrap_or(0);
            new != 0 && new != old && pidfile_pid(&oldbin) == Some(old)
        }),
        "pidfile {:?}, oldbin {:?}",
        read(&ng.pidfile()),
        read(&oldbin)
    );
    assert!(is_descendant(new, c.pid), "{}", c.log());
    c.wait_log(&format!("pidfile now names PID {new}"));
    workers(new);
    c.record();

    // The operator retires the old master by its PID: WINCH, then QUIT.
    procs::kill(old, libc::SIGWINCH);
    assert!(wait_until(LIMIT, || old_workers.iter().all(|&w| !alive(w))));
    procs::kill(old, libc::SIGQUIT);
    c.wait_log(&format!(
        "main process changed PID {new} (nginx), from the pidfile"
    ));
    assert!(wait_until(LIMIT, || !alive(old)));
    assert_eq!(procs::stat(new).map(|s| s.1), Some(c.pid), "re-parented");
    assert!(c.running(), "{}", c.log());
    ng.wait_body("one");
    assert!(!c.log().contains("refused"), "{}", c.log());

    // Signals now go to the new master.
    ng.write_conf("two", None);
    c.signal(libc::SIGHUP);
    c.wait_log(&format!("forwarding SIGHUP to main process PID {new}"));
    ng.wait_body("two");
    workers(new);
    c.record();

    c.signal(libc::SIGTERM);
    c.wait_log(&format!("sending SIGTERM to main process PID {new}"));
    c.assert_exit_code(0);
    c.wait_log("every process has exited; exiting with status 0");
    c.assert_all_gone();
    assert!(ng.get("/").is_err(), "still serving after the stop");
}

#[test]
fn nginx_under_contain_serves_and_stops_clean() {
    if !namespaces_allowed("--contain") {
        return;
    }
    let Some(ng) = Nginx::new("nginx_under_contain_serves_and_stops_clean") else {
        return;
    };
    ng.write_conf("contained", None);
    let mut c = ng.hold(&["--contain"]);
    let master = c.ready();
    assert!(is_descendant(master, c.pid), "{}", c.log());
    // nginx wrote its namespace-local PID; catchd translated it.
    let in_ns = pidfile_pid(&ng.pidfile()).unwrap();
    assert_eq!(procs::nspid(master), Some(in_ns));
    assert_ne!(in_ns, master);
    ng.wait_body("contained");
    c.record();
    c.signal(libc::SIGTERM);
    c.assert_exit_code(0);
    c.assert_all_gone();
}
