//! What one `--ready-when listening[=ADDR]` asks for, parsed from its text,
//! and whether a socket the kernel reported answers it.
//!
//! Owns: the `Want` type, its parser (one line naming what was expected)
//! and the address-matching rules. Pure: no system call.

use std::ffi::OsString;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::os::unix::ffi::OsStrExt;

/// One readiness condition: which listening socket the tree must hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Want {
    /// Any listening TCP or Unix-stream socket, or any bound UDP socket.
    Any,
    /// TCP listening or UDP bound on this port, on any local address.
    Port(u16),
    /// On this address and port, or on a wildcard address that covers it.
    Addr(SocketAddr),
    /// A Unix stream socket listening on this path (`@name`: abstract).
    Unix(UnixName),
}

/// The name a Unix socket is bound to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnixName {
    Path(OsString),
    Abstract(Vec<u8>),
}

/// The protocol of a socket seen by the kernel's sock_diag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    Tcp,
    Udp,
    Unix,
}

/// Where a socket is bound.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Local {
    /// `v6only`: for an IPv6 socket, whether it refuses IPv4 (unknown:
    /// assumed not, the kernel's default).
    Inet {
        addr: SocketAddr,
        v6only: Option<bool>,
    },
    Unix(Option<UnixName>),
}

/// A listening (TCP, Unix stream) or bound (UDP) socket, by inode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub inode: u64,
    pub proto: Proto,
    pub local: Local,
}

const EXPECTED: &str =
    "expected listening or listening=ADDR, ADDR being PORT, HOST:PORT, [V6]:PORT or an absolute socket path";

impl Want {
    /// The value of one `--ready-when`: `listening` or `listening=ADDR`.
    /// The error is the rest of a one-line message (after the flag name).
    pub fn parse(text: &str) -> Result<Want, String> {
        let addr = match text.split_once('=') {
            None if text == "listening" => return Ok(Want::Any),
            Some(("listening", addr)) => addr,
            _ => return Err(format!("unknown condition {text:?}: {EXPECTED}")),
        };
        let bad = |why: &str| Err(format!("invalid address {addr:?}: {why}"));
        if let Some(name) = addr.strip_prefix('@') {
            if name.is_empty() {
                return bad("an abstract socket needs a name after @");
            }
            return Ok(Want::Unix(UnixName::Abstract(name.as_bytes().to_vec())));
        }
        if addr.starts_with('/') {
            return Ok(Want::Unix(UnixName::Path(addr.into())));
        }
        if !addr.is_empty() && addr.bytes().all(|b| b.is_ascii_digit()) {
            return match addr.parse::<u16>() {
                Ok(port) if port > 0 => Ok(Want::Port(port)),
                _ => bad("a port is a number from 1 to 65535"),
            };
        }
        match addr.parse::<SocketAddr>() {
            Ok(sa) if sa.port() == 0 => bad("a port is a number from 1 to 65535"),
            Ok(sa) => Ok(Want::Addr(sa)),
            Err(_) if addr.starts_with('[') => {
                bad("expected [V6]:PORT with an IPv6 address, e.g. [::1]:8080")
            }
            Err(_) if addr.rsplit_once(':').is_some_and(|(h, _)| h.contains(':')) => {
                bad("write an IPv6 address in brackets, e.g. [::1]:8080")
            }
            Err(_) if addr.contains(':') => {
                bad("HOST must be an IP address (names are not resolved), PORT 1 to 65535")
            }
            Err(_) => Err(format!("invalid address {addr:?}: {EXPECTED}")),
        }
    }

    /// Whether `seen` is a socket this condition accepts.
    pub fn accepts(&self, seen: &Seen) -> bool {
        match (self, &seen.local) {
            (Want::Any, _) => true,
            (Want::Port(p), Local::Inet { addr, .. }) => addr.port() == *p,
            (Want::Addr(want), Local::Inet { addr, v6only }) => {
                addr.port() == want.port() && covers(addr.ip(), *v6only, want.ip())
            }
            (Want::Unix(want), Local::Unix(Some(name))) => want == name,
            _ => false,
        }
    }
}

/// Whether a socket bound to `bound` takes connections for `wanted`: the
/// same address, or a wildcard of the same family, or `::` without
/// `IPV6_V6ONLY` for an IPv4 address. IPv4-mapped IPv6 addresses count as
/// the IPv4 address they carry.
fn covers(bound: IpAddr, v6only: Option<bool>, wanted: IpAddr) -> bool {
    let (bound, wanted) = (bound.to_canonical(), wanted.to_canonical());
    if bound == wanted {
        return true;
    }
    match (bound, wanted) {
        (IpAddr::V4(b), IpAddr::V4(_)) => b.is_unspecified(),
        (IpAddr::V6(b), IpAddr::V6(_)) => b.is_unspecified(),
        (IpAddr::V6(b), IpAddr::V4(_)) => b.is_unspecified() && v6only != Some(true),
        (IpAddr::V4(_), IpAddr::V6(_)) => false,
    }
}

impl fmt::Display for UnixName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bytes = match self {
            UnixName::Path(p) => p.as_bytes(),
            UnixName::Abstract(name) => {
                f.write_str("@")?;
                name
            }
        };
        // Untrusted text in a log line: escape control characters.
        f.write_str(&crate::escape::bytes(bytes))
    }
}

impl fmt::Display for Want {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Want::Any => f.write_str("a listening socket"),
            Want::Port(p) => write!(f, "a listening socket on port {p}"),
            Want::Addr(sa) => write!(f, "a listening socket on {sa}"),
            Want::Unix(name) => write!(f, "a listening socket on {name}"),
        }
    }
}

impl fmt::Display for Local {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Local::Inet { addr, .. } => write!(f, "{addr}"),
            Local::Unix(Some(name)) => write!(f, "{name}"),
            Local::Unix(None) => f.write_str("an unnamed Unix socket"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inet(addr: &str, v6only: Option<bool>) -> Seen {
        Seen {
            inode: 1,
            proto: Proto::Tcp,
            local: Local::Inet {
                addr: addr.parse().unwrap(),
                v6only,
            },
        }
    }

    #[test]
    fn parses_every_form() {
        assert_eq!(Want::parse("listening"), Ok(Want::Any));
        assert_eq!(Want::parse("listening=8080"), Ok(Want::Port(8080)));
        assert_eq!(
            Want::parse("listening=127.0.0.1:8080"),
            Ok(Want::Addr("127.0.0.1:8080".parse().unwrap()))
        );
        assert_eq!(
            Want::parse("listening=[::1]:53"),
            Ok(Want::Addr("[::1]:53".parse().unwrap()))
        );
        assert_eq!(
            Want::parse("listening=/run/x.sock"),
            Ok(Want::Unix(UnixName::Path("/run/x.sock".into())))
        );
        assert_eq!(
            Want::parse("listening=@name"),
            Ok(Want::Unix(UnixName::Abstract(b"name".to_vec())))
        );
    }

    #[test]
    fn refuses_with_one_line_saying_what_was_expected() {
        for (text, says) in [
            ("", "unknown condition"),
            ("listen", "unknown condition"),
            ("listening=", "expected listening or"),
            ("exited=0", "unknown condition"),
            ("listening=0", "1 to 65535"),
            ("listening=65536", "1 to 65535"),
            ("listening=127.0.0.1:0", "1 to 65535"),
            ("listening=localhost:80", "names are not resolved"),
            ("listening=::1:80", "in brackets"),
            ("listening=[::1]", "[V6]:PORT"),
            ("listening=[foo]:80", "[V6]:PORT"),
            ("listening=run/x.sock", "absolute socket path"),
            ("listening=@", "needs a name"),
        ] {
            let err = Want::parse(text).unwrap_err();
            assert!(err.contains(says), "{text:?}: {err}");
            assert!(!err.contains('\n'), "{err}");
        }
    }

    #[test]
    fn addresses_match_the_same_address_or_a_covering_wildcard() {
        let want = Want::parse("listening=127.0.0.1:80").unwrap();
        assert!(want.accepts(&inet("127.0.0.1:80", None)));
        assert!(want.accepts(&inet("0.0.0.0:80", None)));
        assert!(want.accepts(&inet("[::]:80", Some(false))));
        assert!(want.accepts(&inet("[::]:80", None)));
        assert!(want.accepts(&inet("[::ffff:127.0.0.1]:80", Some(false))));
        assert!(!want.accepts(&inet("[::]:80", Some(true))), "v6only");
        assert!(!want.accepts(&inet("127.0.0.2:80", None)));
        assert!(!want.accepts(&inet("127.0.0.1:81", None)));
        let v6 = Want::parse("listening=[::1]:80").unwrap();
        assert!(v6.accepts(&inet("[::1]:80", Some(true))));
        assert!(v6.accepts(&inet("[::]:80", Some(true))));
        assert!(!v6.accepts(&inet("0.0.0.0:80", None)));
        assert!(!v6.accepts(&inet("127.0.0.1:80", None)));
        let port = Want::Port(80);
        assert!(port.accepts(&inet("10.1.2.3:80", None)));
        assert!(!port.accepts(&inet("10.1.2.3:8080", None)));
    }

    #[test]
    fn unix_names_match_exactly_and_only_unix_sockets() {
        let want = Want::parse("listening=/run/a.sock").unwrap();
        let unix = |name: Option<UnixName>| Seen {
            inode: 2,
            proto: Proto::Unix,
            local: Local::Unix(name),
        };
        assert!(want.accepts(&unix(Some(UnixName::Path("/run/a.sock".into())))));
        assert!(!want.accepts(&unix(Some(UnixName::Path("/run/b.sock".into())))));
        assert!(!want.accepts(&unix(Some(UnixName::Abstract(b"/run/a.sock".to_vec())))));
        assert!(!want.accepts(&unix(None)));
        assert!(!want.accepts(&inet("127.0.0.1:80", None)));
        assert!(!Want::Port(80).accepts(&unix(None)));
        assert!(Want::Any.accepts(&unix(None)));
    }

    #[test]
    fn descriptions_name_the_address() {
        assert_eq!(
            Want::parse("listening=127.0.0.1:8080").unwrap().to_string(),
            "a listening socket on 127.0.0.1:8080"
        );
        assert_eq!(
            Want::parse("listening=[::1]:8080").unwrap().to_string(),
            "a listening socket on [::1]:8080"
        );
        assert_eq!(
            Want::parse("listening=@x\n").unwrap().to_string(),
            "a listening socket on @x\\n"
        );
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics(text in "(listening=)?.{0,24}") {
            if let Err(e) = Want::parse(&text) {
                proptest::prop_assert!(!e.contains('\n'));
            }
        }
    }
}
