//! `--ready-when listening=127.0.0.1:PORT` around nginx, memcached and
//! redis-server: right after READY=1 the port takes a connection on the
//! first try, 20 starts out of 20 for each daemon, both without `--pidfile`
//! (ready from daemonizing: memcached and redis fork before they bind, so
//! without the condition most of these connections are refused) and with
//! it (these three write their pidfile after binding).

use std::net::TcpStream;

use super::*;
use crate::listening::Notify;

const ROUNDS: usize = 20;

/// Start the daemon `command(dir, port)` under catchd `ROUNDS` times; each
/// time connect right after READY=1, then stop it.
fn connect_right_after_ready(
    bin: &str,
    test: &str,
    pidfile: &str,
    command: impl Fn(&TestDir, u16) -> Vec<String>,
) {
    let Some(_) = installed(bin, test) else {
        return;
    };
    let mut failures = Vec::new();
    for round in 0..2 * ROUNDS {
        let with_pidfile = round % 2 == 1;
        let dir = TestDir::new(test);
        let notify = Notify::new(&dir);
        let port = free_port();
        let pidfile = dir.file(pidfile).display().to_string();
        let want = format!("listening=127.0.0.1:{port}");
        let cmd = command(&dir, port);
        // SIGKILL stops at once (memcached takes up to a second for TERM):
        // what is tested here is the start, not the daemon's graceful stop.
        let mut args = vec!["--ready-when", &want, "--stop-signal", "KILL", "--exit-128"];
        if with_pidfile {
            args.extend(["--pidfile", &pidfile]);
        }
        args.push("--");
        args.extend(cmd.iter().map(String::as_str));
        let mut c = Catchd::start_with(&dir, &args, |cmd| {
            cmd.env("NOTIFY_SOCKET", &notify.path);
        });
        notify.ready(&c);
        if let Err(e) = TcpStream::connect(("127.0.0.1", port)) {
            failures.push(format!("round {round} (--pidfile: {with_pidfile}): {e}"));
        }
        c.signal(libc::SIGTERM);
        assert_eq!(code(c.wait_exit()), Some(128 + 9), "{}", c.log());
    }
    assert!(
        failures.is_empty(),
        "{bin}: no connection right after READY=1 in {} of {} starts: {failures:?}",
        failures.len(),
        2 * ROUNDS
    );
}

fn path_of(bin: &str) -> String {
    installed(bin, "ready_when")
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}

#[test]
fn issue15_5_memcached_accepts_right_after_ready() {
    connect_right_after_ready(
        "memcached",
        "issue15_5_memcached_accepts_right_after_ready",
        "memcached.pid",
        |dir, port| {
            [
                &path_of("memcached"),
                "-d",
                "-P",
                &dir.file("memcached.pid").display().to_string(),
                "-u",
                "root",
                "-l",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ]
            .map(String::from)
            .to_vec()
        },
    );
}

#[test]
fn issue15_5_redis_accepts_right_after_ready() {
    connect_right_after_ready(
        "redis-server",
        "issue15_5_redis_accepts_right_after_ready",
        "redis.pid",
        |dir, port| {
            [
                &path_of("redis-server"),
                "--daemonize",
                "yes",
                "--pidfile",
                &dir.file("redis.pid").display().to_string(),
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--dir",
                &dir.path.display().to_string(),
                "--logfile",
                &dir.file("redis.log").display().to_string(),
                "--save",
                "",
            ]
            .map(String::from)
            .to_vec()
        },
    );
}

#[test]
fn issue15_5_nginx_accepts_right_after_ready() {
    connect_right_after_ready(
        "nginx",
        "issue15_5_nginx_accepts_right_after_ready",
        "nginx.pid",
        |dir, port| {
            let d = dir.path.display();
            let conf = format!(
                "daemon on;
worker_processes 1;
error_log {d}/error.log notice;
events {{ worker_connections 16; }}
http {{
    access_log off;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    server {{ listen 127.0.0.1:{port}; location / {{ return 200 \"ok\\n\"; }} }}
}}
"
            );
            std::fs::write(dir.file("nginx.conf"), conf).expect("write nginx.conf");
            vec![
                path_of("nginx"),
                "-p".into(),
                format!("{d}/"),
                "-c".into(),
                format!("{d}/nginx.conf"),
                "-e".into(),
                format!("{d}/error.log"),
                "-g".into(),
                format!("pid {d}/nginx.pid;"),
            ]
        },
    );
}
