//! The README's container quick start: `examples/container/memcached/
//! Dockerfile`'s ENTRYPOINT and CMD, read from the file and run as a
//! container runtime runs them (an argv, no shell), against the real
//! memcached, with the PID file and the port made private; stopped as
//! `docker stop` stops it (TERM). Building the image needs a container
//! runtime, which the tests do not have.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::*;

fn dockerfile() -> String {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/container/memcached/Dockerfile");
    read(&path)
}

/// A JSON-array instruction of the Dockerfile (ENTRYPOINT, CMD).
fn array(text: &str, key: &str) -> Vec<String> {
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("the Dockerfile has no {key} line"));
    serde_json::from_str(line).unwrap_or_else(|e| panic!("{key} is not a JSON array: {e}"))
}

/// The uid of a user in /etc/passwd.
fn uid_of(user: &str) -> Option<u32> {
    std::fs::read_to_string("/etc/passwd")
        .ok()?
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.first() == Some(&user)).then(|| f.get(2)?.parse().ok())?
        })
}

#[test]
fn container_quick_start_holds_memcached_and_stops_on_docker_stop() {
    let test = "container_quick_start_holds_memcached_and_stops_on_docker_stop";
    let text = dockerfile();
    assert!(text.lines().any(|l| l == "COPY catchd /usr/bin/catchd"));
    assert!(text.lines().any(|l| l == "STOPSIGNAL SIGTERM"));
    assert!(text.contains("install -d -o memcache /run/memcached"));
    let Some(memcached) = installed("memcached", test) else {
        return;
    };
    // `-u memcache` as in the image needs root and Debian's memcache user.
    let Some(uid) = uid_of("memcache").filter(|_| unsafe { libc::geteuid() } == 0) else {
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED {test}: needs root and the memcache user"
        );
        return;
    };
    let dir = TestDir::new(test);
    let run = dir.file("run-memcached");
    std::fs::create_dir(&run).unwrap();
    std::os::unix::fs::chown(&run, Some(uid), None).unwrap();
    // The test directory may be private to root: let memcache through.
    std::fs::set_permissions(dir.file(""), std::fs::Permissions::from_mode(0o755)).unwrap();
    let pidfile = run.join("memcached.pid").display().to_string();
    let port = free_port().to_string();
    let argv: Vec<String> = array(&text, "ENTRYPOINT")
        .into_iter()
        .chain(array(&text, "CMD"))
        .map(|w| match w.as_str() {
            "/usr/bin/catchd" => catchd_bin().to_string(),
            "/usr/bin/memcached" => memcached.display().to_string(),
            "/run/memcached/memcached.pid" => pidfile.clone(),
            "0.0.0.0" => "127.0.0.1".to_string(),
            "11211" => port.clone(),
            _ => w,
        })
        .collect();
    assert_eq!(argv[0], catchd_bin());
    let args: Vec<&str> = argv[1..].iter().map(String::as_str).collect();
    let mut c = Held {
        c: Catchd::start(&dir, &args),
        seen: Vec::new(),
    };
    let main = c.ready();
    assert!(is_descendant(main, c.pid), "{}", c.log());
    wait_answer(port.parse().unwrap(), b"version\r\n", "VERSION ");
    // docker stop: TERM to PID 1.
    c.signal(libc::SIGTERM);
    c.assert_exit_code(0);
    c.assert_all_gone();
    assert!(
        !Path::new(&pidfile).exists(),
        "memcached removes its pidfile"
    );
}
