//! td-listener: a fake legacy daemon that writes its pidfile at once and
//! listens later, for `--ready-when listening`.
//!
//! Owns: the launcher (forks the main process, exits 0 once the main
//! process has written the pidfile) and a script of steps run by the main
//! process, or with `--in-worker` by a worker it forks:
//! `--sleep DUR`, `--listen tcp:ADDR|udp:ADDR|unix:PATH`, `--flap N`
//! (listen on the next `--listen` and close it again N times first),
//! `--extra-fds N` (hold N more descriptors), `--unshare-net` (move to
//! a new network namespace; needs root), `--unshare-user-net` (a new user
//! and network namespace; needs no capability). Each listen is reported as
//! `listen pid=P proto=X addr=A t=NS role=R`, NS being CLOCK_MONOTONIC in
//! nanoseconds read after listen(2) returned. Then every process waits
//! for TERM/INT/QUIT and exits 0.
//! Must not: sleep to synchronise with anything (the sleeps are the
//! simulated slow start) or poll.

use std::net::{TcpListener, UdpSocket};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::time::Duration;

use catchd_test_daemons::report::{self, Role};
use catchd_test_daemons::signals;
use catchd_test_daemons::sys::{self, Forked};

#[derive(Debug)]
enum Step {
    Sleep(Duration),
    Listen(String),
    Flap(u32),
    ExtraFds(u32),
    UnshareNet(libc::c_int),
}

struct Config {
    pidfile: Option<PathBuf>,
    in_worker: bool,
    steps: Vec<Step>,
}

const USAGE: &str = "usage: td-listener [--pidfile PATH] [--in-worker] \
[--sleep Nms | --listen tcp:ADDR|udp:ADDR|unix:PATH | --flap N | --extra-fds N | --unshare-net | --unshare-user-net]...";

fn parse() -> Result<Config, String> {
    let mut cfg = Config {
        pidfile: None,
        in_worker: false,
        steps: Vec::new(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "--in-worker" {
            cfg.in_worker = true;
            continue;
        }
        if flag == "--unshare-net" {
            cfg.steps.push(Step::UnshareNet(libc::CLONE_NEWNET));
            continue;
        }
        if flag == "--unshare-user-net" {
            let both = libc::CLONE_NEWUSER | libc::CLONE_NEWNET;
            cfg.steps.push(Step::UnshareNet(both));
            continue;
        }
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = || {
            value
                .parse::<u32>()
                .map_err(|_| format!("{flag}: not a number: {value}"))
        };
        match flag.as_str() {
            "--pidfile" => cfg.pidfile = Some(value.clone().into()),
            "--sleep" => {
                let ms = value
                    .strip_suffix("ms")
                    .and_then(|n| n.parse().ok())
                    .ok_or_else(|| format!("--sleep: expected e.g. 400ms, not {value}"))?;
                cfg.steps.push(Step::Sleep(Duration::from_millis(ms)));
            }
            "--listen" => cfg.steps.push(Step::Listen(value.clone())),
            "--flap" => cfg.steps.push(Step::Flap(number()?)),
            "--extra-fds" => cfg.steps.push(Step::ExtraFds(number()?)),
            _ => return Err(format!("unknown flag {flag}\n{USAGE}")),
        }
    }
    Ok(cfg)
}

fn monotonic_ns() -> u128 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid out-pointer for the call.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u128 * 1_000_000_000 + ts.tv_nsec as u128
}

/// Bind (and for stream sockets listen on) `spec`: the socket and the
/// address it got.
fn listen(spec: &str) -> Result<(OwnedFd, String), String> {
    let (proto, addr) = spec
        .split_once(':')
        .ok_or_else(|| format!("--listen: expected PROTO:ADDR, not {spec}"))?;
    let err = |e: std::io::Error| format!("listen on {spec}: {e}");
    Ok(match proto {
        "tcp" => {
            let l = TcpListener::bind(addr).map_err(err)?;
            let a = l.local_addr().map_err(err)?.to_string();
            (l.into(), a)
        }
        "udp" => {
            let s = UdpSocket::bind(addr).map_err(err)?;
            let a = s.local_addr().map_err(err)?.to_string();
            (s.into(), a)
        }
        "unix" => {
            let _ = std::fs::remove_file(addr);
            let l = UnixListener::bind(addr).map_err(err)?;
            (l.into(), addr.to_string())
        }
        _ => return Err(format!("--listen: unknown protocol {proto}")),
    })
}

fn run_steps(steps: &[Step], role: Role) -> Vec<OwnedFd> {
    let mut held = Vec::new();
    let mut flap = 0;
    for step in steps {
        match step {
            Step::Sleep(d) => std::thread::sleep(*d), // the simulated slow start
            Step::Flap(n) => flap = *n,
            Step::UnshareNet(flags) => {
                // SAFETY: unshare takes flags; the process is single-threaded.
                if unsafe { libc::unshare(*flags) } != 0 {
                    sys::die(&format!("unshare: {}", std::io::Error::last_os_error()));
                }
            }
            Step::ExtraFds(n) => {
                raise_nofile();
                for _ in 0..*n {
                    match std::fs::File::open("/dev/null") {
                        Ok(f) => held.push(f.into()),
                        Err(e) => sys::die(&format!("--extra-fds: {e}")),
                    }
                }
            }
            Step::Listen(spec) => {
                for _ in 0..std::mem::take(&mut flap) {
                    // Appears and vanishes at once.
                    drop(listen(spec).unwrap_or_else(|e| sys::die(&e)));
                }
                let (fd, addr) = listen(spec).unwrap_or_else(|e| sys::die(&e));
                let t = monotonic_ns();
                let proto = spec.split(':').next().unwrap_or("?");
                report::line(&format!(
                    "listen pid={} proto={proto} addr={} t={t} role={}",
                    std::process::id(),
                    report::escape(addr.as_bytes()),
                    role.as_str()
                ));
                held.push(fd);
            }
        }
    }
    held
}

fn raise_nofile() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid in/out struct for both calls.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
        lim.rlim_cur = lim.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
    }
}

/// Wait for TERM, INT or QUIT (everything else is recorded), then exit 0.
fn wait_for_stop(role: Role, held: Vec<OwnedFd>) -> ! {
    let set = signals::full_set();
    loop {
        if let signals::Waited::Signal { signo, .. } = signals::wait(&set, None) {
            report::signal(signo, role);
            if [libc::SIGTERM, libc::SIGINT, libc::SIGQUIT].contains(&signo) {
                drop(held);
                report::exit(role, 0);
                std::process::exit(0);
            }
        }
    }
}

fn main() {
    let cfg = parse().unwrap_or_else(|e| {
        eprintln!("td-listener: {e}");
        std::process::exit(2)
    });
    report::init(); // before any fork: children never read the environment
    report::start();
    signals::block_all();
    let (ready_r, ready_w) = sys::pipe();
    match sys::fork_or_die() {
        Forked::Parent(_) => {
            // Exit 0 once the main process has written the pidfile.
            sys::close(ready_w);
            sys::read_to_eof(ready_r);
            report::exit(Role::Launcher, 0);
            std::process::exit(0)
        }
        Forked::Child => sys::close(ready_r),
    }
    sys::setsid();
    if let Some(path) = &cfg.pidfile {
        sys::write_pidfile(path, std::process::id().to_string().as_bytes());
    }
    report::ready(Role::Main);
    sys::close(ready_w);
    if cfg.in_worker {
        if let Forked::Child = sys::fork_or_die() {
            report::ready(Role::Worker);
            let held = run_steps(&cfg.steps, Role::Worker);
            wait_for_stop(Role::Worker, held)
        }
        wait_for_stop(Role::Main, Vec::new())
    }
    let held = run_steps(&cfg.steps, Role::Main);
    wait_for_stop(Role::Main, held)
}
