//! The system calls behind `--ready-when listening`: the kernel's
//! listening sockets from netlink sock_diag (inet_diag for TCP and UDP
//! over IPv4 and IPv6, unix_diag for Unix stream sockets), then the socket
//! inodes among the tree's `/proc/PID/fd` links.
//!
//! Owns: one check, from the wanted conditions and the last scan to a
//! `Verdict`. Must not decide when to check or what a verdict means (the
//! state machine does), nor keep anything open between checks: each check
//! opens its own netlink socket, so nothing is left in a bad state by a
//! dump cut short, and after ready catchd holds no extra descriptor.
//!
//! Sockets belong to a network namespace and sock_diag answers for the
//! namespace its netlink socket was made in: normally catchd's own, which
//! the daemon shares. For a process of the tree that moved to another
//! network namespace, the netlink socket is made in that namespace
//! (`setns(2)` there and straight back: catchd has one thread), which
//! needs CAP_SYS_ADMIN; without it the check fails and says so.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::time::{Duration, Instant};

use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_DUMP, NLM_F_REQUEST,
};
use netlink_packet_sock_diag::constants::{
    AF_INET, AF_INET6, IPPROTO_TCP, IPPROTO_UDP, SOCK_STREAM, TCP_CLOSE, TCP_LISTEN,
};
use netlink_packet_sock_diag::inet::{self, ExtensionFlags, InetRequest, SocketId, StateFlags};
use netlink_packet_sock_diag::unix::{self, ShowFlags, UnixRequest};
use netlink_packet_sock_diag::SockDiagMessage;
use netlink_sys::{protocols::NETLINK_SOCK_DIAG, Socket, SocketAddr};

use super::{
    all_met, candidates, families, judge, Local, Probed, Proto, Seen, UnixName, Verdict, Want,
};
use crate::proctree::Tree;

/// A dump that has not answered by then is abandoned (and checked again
/// at the next back-off step): the loop never waits on the kernel longer.
const RECV_TIMEOUT: Duration = Duration::from_millis(200);

/// One check: are the wanted sockets held by a process of `tree`? With
/// what it cost (logged at `-v`; it stretches the back-off).
pub fn check(wants: &[Want], tree: &Tree) -> Probed {
    let start = Instant::now();
    let verdict = verdict(wants, tree);
    let took = start.elapsed();
    crate::debug!("listening check took {took:?}");
    Probed { verdict, took }
}

fn verdict(wants: &[Want], tree: &Tree) -> Verdict {
    let mut seen = Vec::new();
    for netns in namespaces(tree) {
        // Socket inodes are unique across namespaces: one list serves.
        match listening(wants, netns) {
            Ok(more) => seen.extend(more),
            Err(e) => return Verdict::Failed(e),
        }
    }
    // Only sockets that answer a condition are looked for; with none,
    // not a single /proc read is made.
    let wanted = candidates(wants, &seen);
    let mut held = HashMap::new();
    let mut unreadable = None;
    if !wanted.is_empty() {
        for p in tree.live() {
            if let Err(e) = holders(p.pid, &wanted, &mut held) {
                unreadable.get_or_insert(format!("unable to read /proc/{}/fd: {e}", p.pid));
            }
            if all_met(wants, &seen, &held) {
                break;
            }
        }
    }
    match (judge(wants, &seen, &held), unreadable) {
        (Verdict::Waiting(w), Some(why)) => Verdict::Waiting(format!("{w} ({why})")),
        (verdict, _) => verdict,
    }
}

/// Record which of `wanted` the descriptors of `pid` are. A process that
/// is gone is no error (it holds nothing any more).
fn holders(pid: i32, wanted: &HashSet<u64>, held: &mut HashMap<u64, i32>) -> std::io::Result<()> {
    let dir = match fs::read_dir(format!("/proc/{pid}/fd")) {
        Ok(dir) => dir,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for fd in dir.flatten() {
        // A descriptor closed since the listing is simply skipped.
        let Ok(target) = fs::read_link(fd.path()) else {
            continue;
        };
        let inode = target
            .to_str()
            .and_then(|t| t.strip_prefix("socket:["))
            .and_then(|t| t.strip_suffix(']'))
            .and_then(|t| t.parse::<u64>().ok());
        if let Some(inode) = inode.filter(|i| wanted.contains(i)) {
            held.entry(inode).or_insert(pid);
        }
    }
    Ok(())
}

/// Every listening TCP socket, bound and unconnected UDP socket and
/// listening Unix stream socket of catchd's network namespace, as far as
/// the conditions need them.
fn listening(wants: &[Want], netns: Option<i32>) -> Result<Vec<Seen>, String> {
    let (inet, unix) = families(wants);
    let sock = match netns {
        None => open(),
        Some(pid) => open_in(pid),
    }
    .map_err(|e| match netns {
        None => format!("unable to open a sock_diag netlink socket: {e}"),
        Some(pid) => format!(
            "unable to look at the network namespace of PID {pid}, which is not catchd's: {e}"
        ),
    })?;
    let mut seen = Vec::new();
    if inet {
        for family in [AF_INET, AF_INET6] {
            // TCP: LISTEN. UDP: CLOSE is a bound socket with no peer; a
            // connected one (a client's, e.g. a DNS lookup) is not a server.
            for (protocol, states) in [
                (IPPROTO_TCP, StateFlags::LISTEN),
                (IPPROTO_UDP, StateFlags::CLOSE),
            ] {
                let req = SockDiagMessage::InetRequest(InetRequest {
                    family,
                    protocol,
                    extensions: ExtensionFlags::empty(),
                    states,
                    socket_id: if family == AF_INET {
                        SocketId::new_v4()
                    } else {
                        SocketId::new_v6()
                    },
                });
                dump(&sock, req, &mut seen)?;
            }
        }
    }
    if unix {
        let req = SockDiagMessage::UnixRequest(UnixRequest {
            state_flags: unix::StateFlags::LISTEN,
            inode: 0,
            show_flags: ShowFlags::NAME,
            cookie: [0xff; 8],
        });
        dump(&sock, req, &mut seen)?;
    }
    Ok(seen)
}

/// The network namespaces to look in: `None` for catchd's own, `Some(pid)`
/// for another one a process of the tree is in (one `stat` per process).
fn namespaces(tree: &Tree) -> Vec<Option<i32>> {
    use std::os::unix::fs::MetadataExt;
    let ino = |pid: &str| fs::metadata(format!("/proc/{pid}/ns/net")).map(|m| m.ino());
    let Ok(own) = ino("self") else {
        return vec![None];
    };
    let mut found: HashMap<u64, i32> = HashMap::new();
    for p in tree.live() {
        if let Ok(ns) = ino(&p.pid.to_string()) {
            found.entry(ns).or_insert(p.pid);
        }
    }
    let mut out: Vec<Option<i32>> = found
        .into_iter()
        .filter(|(ns, _)| *ns != own)
        .map(|(_, pid)| Some(pid))
        .collect();
    out.push(None);
    out
}

/// A sock_diag socket made in the network namespace of `pid`, catchd's
/// thread back in its own namespace before this returns.
fn open_in(pid: i32) -> std::io::Result<Socket> {
    use nix::sched::{setns, CloneFlags};
    let own = fs::File::open("/proc/self/ns/net")?;
    let theirs = fs::File::open(format!("/proc/{pid}/ns/net"))?;
    setns(&theirs, CloneFlags::CLONE_NEWNET)?;
    let sock = open();
    // Back at once: nothing else of catchd's may run in their namespace.
    // (Entering was permitted, so returning is: catchd holds the same
    // capability over its own namespace.)
    setns(&own, CloneFlags::CLONE_NEWNET)?;
    sock
}

fn open() -> std::io::Result<Socket> {
    let mut sock = Socket::new(NETLINK_SOCK_DIAG)?;
    let timeout = nix::sys::time::TimeVal::new(0, RECV_TIMEOUT.as_micros() as _);
    nix::sys::socket::setsockopt(&sock, nix::sys::socket::sockopt::ReceiveTimeout, &timeout)?;
    sock.bind_auto()?;
    sock.connect(&SocketAddr::new(0, 0))?;
    Ok(sock)
}

/// Send one dump request and collect its answers until `NLMSG_DONE`.
fn dump(sock: &Socket, req: SockDiagMessage, seen: &mut Vec<Seen>) -> Result<(), String> {
    let mut header = NetlinkHeader::default();
    header.flags = NLM_F_REQUEST | NLM_F_DUMP;
    let mut packet = NetlinkMessage::new(header, req.into());
    packet.finalize();
    let mut out = vec![0; packet.buffer_len()];
    packet.serialize(&mut out);
    sock.send(&out, 0)
        .map_err(|e| format!("unable to send a sock_diag request: {e}"))?;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = sock
            .recv(&mut &mut buf[..], 0)
            .map_err(|e| format!("unable to read a sock_diag answer: {e}"))?;
        if n == 0 {
            return Err("the sock_diag answer ended early".into());
        }
        let mut at = 0;
        while at < n {
            let msg = NetlinkMessage::<SockDiagMessage>::deserialize(&buf[at..n])
                .map_err(|e| format!("unable to parse a sock_diag answer: {e}"))?;
            let len = msg.header.length as usize;
            match msg.payload {
                NetlinkPayload::Done(_) => return Ok(()),
                NetlinkPayload::Error(e) => {
                    let errno = e.code.map_or(0, |c| -c.get());
                    // No such family or protocol here (no IPv6, no
                    // udp_diag / unix_diag): no such sockets either.
                    if [libc::ENOENT, libc::EAFNOSUPPORT, libc::EOPNOTSUPP].contains(&errno) {
                        return Ok(());
                    }
                    let err = std::io::Error::from_raw_os_error(errno);
                    return Err(format!("sock_diag refused the request: {err}"));
                }
                NetlinkPayload::InnerMessage(SockDiagMessage::InetResponse(r)) => {
                    seen.extend(from_inet(&r));
                }
                NetlinkPayload::InnerMessage(SockDiagMessage::UnixResponse(r)) => {
                    seen.extend(from_unix(&r));
                }
                _ => {}
            }
            if len == 0 {
                return Err("a sock_diag message with length 0".into());
            }
            at += (len + 3) & !3;
        }
    }
}

fn from_inet(r: &inet::InetResponse) -> Option<Seen> {
    let id = &r.header.socket_id;
    let proto = match r.header.state {
        TCP_LISTEN => Proto::Tcp,
        TCP_CLOSE if id.source_port != 0 => Proto::Udp,
        _ => return None,
    };
    let v6only = r.nlas.iter().find_map(|n| match n {
        inet::nlas::Nla::SkV6Only(v) => Some(*v),
        _ => None,
    });
    Some(Seen {
        inode: u64::from(r.header.inode),
        proto,
        local: Local::Inet {
            addr: std::net::SocketAddr::new(id.source_address, id.source_port),
            v6only,
        },
    })
}

fn from_unix(r: &unix::UnixResponse) -> Option<Seen> {
    if r.header.kind != SOCK_STREAM || r.header.state != TCP_LISTEN {
        return None;
    }
    let name = r.name().map(|n| match n {
        unix::nlas::UnixDiagName::Pathname(p) => UnixName::Path(p.clone()),
        unix::nlas::UnixDiagName::Abstract(a) => UnixName::Abstract(a.clone()),
    });
    Some(Seen {
        inode: u64::from(r.header.inode),
        proto: Proto::Unix,
        local: Local::Unix(name),
    })
}
