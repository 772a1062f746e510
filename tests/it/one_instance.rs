//! One instance per pidfile (SPEC §1.1.7): two catchd started at the same
//! instant never both launch, and the previous-instance check does not
//! mistake a process running the same interpreter for the daemon.

use std::io::Read;
use std::process::{Child, Command, Stdio};

use crate::support::*;

/// Processes SIGKILLed and reaped by recorded PID when the test ends.
struct Guard(Vec<Child>, Vec<i32>);

impl Drop for Guard {
    fn drop(&mut self) {
        for &pid in &self.1 {
            if alive(pid) {
                procs::kill(pid, libc::SIGKILL);
            }
        }
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn stderr_of(child: &mut Child) -> String {
    let mut text = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut text);
    }
    text
}

/// The abstract socket names bound on this machine now.
fn abstract_names() -> String {
    std::fs::read_to_string("/proc/net/unix").unwrap_or_default()
}

#[test]
fn twenty_pairs_started_together_launch_exactly_once_each() {
    for round in 0..20 {
        let dir = TestDir::new("pair");
        let pf = dir.file("d.pid");
        let pfs = pf.display().to_string();
        // The lock is named from the canonical path (TMPDIR may be a symlink).
        let lock_name = format!(
            "@catchd/pidfile:{}/d.pid",
            std::fs::canonicalize(&dir.path).unwrap().display()
        );
        let daemon = format!("echo $$ > {pfs}; exec sleep 1000");
        // The barrier: both block reading a pipe whose write end the test
        // closes once both are spawned; EOF reaches them at the same time.
        let (reader, writer) = std::io::pipe().unwrap();
        let mut guard = Guard(Vec::new(), Vec::new());
        for _ in 0..2 {
            let child = Command::new("sh")
                .args(["-c", "read x; exec \"$@\"", "sh", catchd_bin()])
                .args(["--pidfile", &pfs, "--", "sh", "-c", &daemon])
                .stdin(reader.try_clone().unwrap())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            guard.0.push(child);
        }
        drop(reader);
        drop(writer);
        // The loser exits 125 on its own; the winner runs until stopped.
        let mut loser = None;
        let ok = wait_until(LIMIT, || {
            for (i, c) in guard.0.iter_mut().enumerate() {
                if let Ok(Some(st)) = c.try_wait() {
                    loser = Some((i, st));
                    return true;
                }
            }
            false
        });
        assert!(ok, "round {round}: neither catchd exited");
        let (li, lst) = loser.unwrap();
        let wi = 1 - li;
        let winner_pid = guard.0[wi].id() as i32;
        let lost = stderr_of(&mut guard.0[li]);
        assert_eq!(lst.code(), Some(125), "round {round}: loser:\n{lost}");
        assert!(
            lost.contains(&format!("another catchd (PID {winner_pid})")),
            "round {round}: the loser must name the winner {winner_pid}:\n{lost}"
        );
        assert!(
            !lost.contains("started "),
            "round {round}: the loser launched:\n{lost}"
        );
        // The winner launched its daemon and holds it.
        let daemon_pid = {
            let mut pid = None;
            wait_until(LIMIT, || {
                pid = std::fs::read_to_string(&pf)
                    .ok()
                    .and_then(|t| t.trim().parse::<i32>().ok())
                    .filter(|&p| procs::stat(p).is_some_and(|s| s.3 == "sleep"));
                pid.is_some()
            });
            pid.unwrap_or_else(|| panic!("round {round}: the winner's daemon never ran"))
        };
        guard.1.push(daemon_pid);
        assert!(
            abstract_names().contains(&lock_name),
            "round {round}: no lock held"
        );
        procs::kill(winner_pid, libc::SIGTERM);
        let ok = wait_until(LIMIT, || matches!(guard.0[wi].try_wait(), Ok(Some(_))));
        let won = stderr_of(&mut guard.0[wi]);
        assert!(ok, "round {round}: the winner did not stop:\n{won}");
        assert_eq!(won.matches("started sh as PID").count(), 1, "{won}");
        assert!(!alive(daemon_pid));
        // Nothing of the lock is left: no file beside the pidfile, no name.
        let mut left: Vec<String> = std::fs::read_dir(&dir.path)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, ["d.pid"], "round {round}");
        assert!(
            !abstract_names().contains(&lock_name),
            "round {round}: the lock outlived both"
        );
    }
}

/// A stale pidfile naming an unrelated `sh` is not a previous instance of
/// `catchd -- sh -c ...`; one running the very same command line is.
#[test]
fn the_same_interpreter_with_another_script_is_not_a_previous_instance() {
    let dir = TestDir::new("interp");
    let pf = dir.file("d.pid").display().to_string();
    let daemon = format!("echo $$ > {pf}; exec sleep 1000");
    let mut other = Command::new("sh")
        .args(["-c", "read x"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    std::fs::write(&pf, format!("{}\n", other.id())).unwrap();
    let mut c = Catchd::start(&dir, &["--pidfile", &pf, "--", "sh", "-c", &daemon]);
    c.wait_log("from the pidfile");
    c.signal(libc::SIGTERM);
    c.wait_exit();
    assert!(!c.log().contains("previous instance"), "{}", c.log());

    // Now the file names a live sh with exactly PROGRAM's arguments.
    let mut same = Command::new("sh")
        .args(["-c", "read x"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    std::fs::write(&pf, format!("{}\n", same.id())).unwrap();
    let mut c = Catchd::start(&dir, &["--pidfile", &pf, "--", "sh", "-c", "read x"]);
    let st = c.wait_exit();
    assert_eq!(code(st), Some(125), "{}", c.log());
    assert!(c.log().contains("previous instance"), "{}", c.log());
    for p in [&mut other, &mut same] {
        let _ = p.kill();
        let _ = p.wait();
    }
}

/// Abstract socket names carry no permissions: a process that squats the
/// lock's name is named as what it is, not as a catchd, and nothing runs.
#[test]
fn a_squatted_lock_name_is_reported_as_not_catchd() {
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::net::{SocketAddr, UnixListener};
    let dir = TestDir::new("squat");
    let pf = dir.file("d.pid").display().to_string();
    let name = format!(
        "catchd/pidfile:{}/d.pid",
        std::fs::canonicalize(&dir.path).unwrap().display()
    );
    let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    let squatter = UnixListener::bind_addr(&addr).unwrap();
    let mut c = Catchd::start(
        &dir,
        &[
            "--pidfile",
            &pf,
            "--",
            "sh",
            "-c",
            "echo $$ > \"$0\"; exec sleep 1000",
            &pf,
        ],
    );
    let st = c.wait_exit();
    drop(squatter);
    let log = c.log();
    assert_eq!(code(st), Some(125), "{log}");
    assert!(
        log.contains(&format!("held by PID {}", std::process::id()))
            && log.contains("which is not catchd"),
        "{log}"
    );
    assert!(!log.contains("started "), "{log}");
    assert!(!std::path::Path::new(&pf).exists(), "the daemon ran");
}

/// A squatter of another, unprivileged user cannot keep the service from
/// starting: catchd names it in a warning and goes on without the lock.
#[test]
fn a_lock_name_squatted_by_another_user_is_warned_about_and_the_daemon_starts() {
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("SKIPPED: needs root to run the squatter as nobody");
        return;
    }
    let dir = TestDir::new("squat-other");
    let pf = dir.file("d.pid").display().to_string();
    let name = format!(
        "catchd/pidfile:{}/d.pid",
        std::fs::canonicalize(&dir.path).unwrap().display()
    );
    // perl binds the abstract name as nobody, says so, then waits.
    let script = r#"use Socket; socket(my $s, AF_UNIX, SOCK_STREAM, 0) or die; bind($s, pack_sockaddr_un("\0" . $ARGV[0])) or die "bind: $!"; listen($s, 1) or die; $| = 1; print "bound\n"; sleep 1000"#;
    let mut squatter = Command::new("setpriv")
        .args(["--reuid", "nobody", "--regid", "nogroup", "--clear-groups"])
        .args(["perl", "-e", script, &name])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = [0u8; 6];
    squatter
        .stdout
        .take()
        .unwrap()
        .read_exact(&mut line)
        .unwrap();
    assert_eq!(&line, b"bound\n");
    let squatter_pid = squatter.id() as i32;
    let _guard = Guard(vec![squatter], vec![]);
    let mut c = Catchd::start(
        &dir,
        &[
            "--pidfile",
            &pf,
            "--stop-timeout",
            "2s",
            "--",
            "sh",
            "-c",
            "echo $$ > \"$0\"; exec sleep 1000",
            &pf,
        ],
    );
    let warning = c.wait_log("squatted by PID");
    assert!(
        warning.contains(&format!("squatted by PID {squatter_pid} (perl)"))
            && warning.contains("going on without it"),
        "{warning}"
    );
    c.wait_log("main process is PID");
    c.signal(libc::SIGTERM);
    let st = c.wait_exit();
    assert_eq!(signal_of(st), Some(libc::SIGTERM), "{}", c.log());
}
