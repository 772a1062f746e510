//! Untrusted names made printable without losing anything: control
//! characters escaped (`\n`, `\u{1b}`), bytes that are not UTF-8 shown as
//! `\xff`. Used for file names in audit tables, JSON and log lines.
//!
//! Owns: the escaping rules. Pure.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// `bytes` as one printable line: valid UTF-8 kept (control characters
/// escaped), every other byte as `\xNN`. A backslash stays a backslash.
pub fn bytes(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c.is_control() {
                out.extend(c.escape_default());
            } else {
                out.push(c);
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

pub fn os(s: &OsStr) -> String {
    bytes(s.as_bytes())
}

pub fn path(p: &Path) -> String {
    os(p.as_os_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_utf8_bytes_are_escaped_never_replaced() {
        assert_eq!(bytes(b"/run/a\xffb.pid"), "/run/a\\xffb.pid");
        assert_eq!(bytes(b"caf\xc3\xa9\n"), "caf\u{e9}\\n");
        assert_eq!(bytes(b"\x1b[31m"), "\\u{1b}[31m");
        assert!(!bytes(b"\xfe\xff").contains('\u{fffd}'));
    }
}
