//! Where catchd may put the daemon's cgroup (SPEC §1.6): the cgroup v2
//! mount (pure v2 at /sys/fs/cgroup, or the hybrid layout's
//! /sys/fs/cgroup/unified; found with `statfs`, else from
//! `/proc/self/mountinfo`), catchd's own cgroup from `/proc/self/cgroup`, and the checks that keep `auto` from breaking
//! another manager's rules: systemd as PID 1 without delegation, a
//! read-only mount, no write access, a cgroup namespace whose root is not
//! what the mount shows.
//!
//! Owns: finding catchd's own cgroup directory, parsing those files (pure
//! functions) and the read-only checks.
//! Must not create, write or move anything: `cgroup.rs` does.

use std::ffi::CString;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// A cgroup v2 mount as `/proc/self/mountinfo` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// The cgroup path (in catchd's cgroup namespace) at the mount's root.
    pub root: String,
    pub point: PathBuf,
    pub read_only: bool,
}

/// Every cgroup2 mount in a mountinfo text, preferred ones first.
pub fn cgroup2_mounts(mountinfo: &str) -> Vec<Mount> {
    let mut found: Vec<Mount> = mountinfo.lines().filter_map(parse_line).collect();
    let rank = |m: &Mount| match m.point.to_str() {
        Some("/sys/fs/cgroup") => 0,
        Some("/sys/fs/cgroup/unified") => 1,
        _ => 2,
    };
    found.sort_by_key(rank);
    found
}

fn parse_line(line: &str) -> Option<Mount> {
    let (left, right) = line.split_once(" - ")?;
    let mut right = right.split(' ');
    if right.next()? != "cgroup2" {
        return None;
    }
    let super_ro = right
        .nth(1)
        .is_some_and(|o| o.split(',').any(|o| o == "ro"));
    let fields: Vec<&str> = left.split(' ').collect();
    let (root, point, opts) = (fields.get(3)?, fields.get(4)?, fields.get(5)?);
    Some(Mount {
        root: unescape(root),
        point: PathBuf::from(unescape(point)),
        read_only: super_ro || opts.split(',').any(|o| o == "ro"),
    })
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo`.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let octal = b
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match (b[i], octal) {
            (b'\\', Some(d)) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// catchd's own cgroup directory, if `auto` may make one below it.
pub fn own_cgroup_dir() -> Result<PathBuf, String> {
    let read = |path: &str| crate::procstat::read_text(path).map_err(|e| format!("{path}: {e}"));
    let own = own_path(&read("/proc/self/cgroup")?)
        .ok_or_else(|| "no cgroup v2 hierarchy (catchd's cgroup has no 0:: line)".to_string())?;
    // The usual mount point, in the initial cgroup namespace or when the
    // directory it gives lists catchd itself: a fraction of the cost of
    // reading mountinfo, at every start.
    if let Some(mount) = usual_mount() {
        if let Ok(dir) = locate(&mount, &own) {
            let ours = || {
                let procs = crate::procstat::read_text(dir.join("cgroup.procs"));
                procs.is_ok_and(|p| holds_pid(&p, std::process::id()))
            };
            if in_initial_cgroup_ns() || ours() {
                return refusal(&mount, &dir).map_or(Ok(dir), Err);
            }
        }
    }
    let mounts = cgroup2_mounts(&read("/proc/self/mountinfo")?);
    if mounts.is_empty() {
        return Err("no cgroup v2 mount".into());
    }
    let mut why = String::new();
    for mount in &mounts {
        match locate(mount, &own) {
            Ok(dir) => return refusal(mount, &dir).map_or(Ok(dir), Err),
            Err(e) => why = e,
        }
    }
    Err(why)
}

/// The usual cgroup v2 mount points, in the order `cgroup2_mounts` prefers.
pub const USUAL_POINTS: [&str; 2] = ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"];

/// The quick way to the mount (no mountinfo to read): the first of the
/// usual points that `statfs` says is cgroup2, with its read-only flag.
/// Its root is not known this way: unless catchd is in the initial cgroup
/// namespace, the caller must check that the directory it finds holds
/// catchd (`holds_pid`), else ask mountinfo.
pub fn usual_mount() -> Option<Mount> {
    USUAL_POINTS.iter().find_map(|point| {
        let st = nix::sys::statfs::statfs(*point).ok()?;
        (st.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC).then(|| Mount {
            root: "/".into(),
            point: PathBuf::from(point),
            read_only: st.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY),
        })
    })
}

/// Whether catchd is in the initial cgroup namespace (the kernel gives
/// it a fixed inode number, `PROC_CGROUP_INIT_INO`). There, a cgroup2
/// mount at a usual point shows the whole hierarchy, so catchd's own path
/// leads to its own cgroup without reading that cgroup's process list.
pub fn in_initial_cgroup_ns() -> bool {
    const PROC_CGROUP_INIT_INO: u64 = 0xEFFF_FFFB;
    fs::metadata("/proc/self/ns/cgroup").is_ok_and(|m| {
        use std::os::unix::fs::MetadataExt;
        m.ino() == PROC_CGROUP_INIT_INO
    })
}

/// Whether a `cgroup.procs` text lists `pid`.
pub fn holds_pid(cgroup_procs: &str, pid: u32) -> bool {
    cgroup_procs
        .lines()
        .any(|l| l.trim().parse::<u32>() == Ok(pid))
}

/// catchd's own cgroup v2 path (the `0::PATH` line), if it has one.
pub fn own_path(proc_self_cgroup: &str) -> Option<String> {
    proc_self_cgroup
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .map(str::to_owned)
}

/// The directory of cgroup `path` under `mount`, or why there is none.
pub fn locate(mount: &Mount, path: &str) -> Result<PathBuf, String> {
    if path.starts_with("/..") {
        return Err(format!(
            "catchd's cgroup {path} lies outside its cgroup namespace"
        ));
    }
    let root = mount.root.trim_end_matches('/');
    let rest = path
        .strip_prefix(root)
        .filter(|r| r.is_empty() || r.starts_with('/'));
    let Some(rest) = rest else {
        return Err(format!(
            "the cgroup namespace's root does not match the mount at {} (mount root {}, catchd's cgroup {path})",
            mount.point.display(),
            mount.root
        ));
    };
    Ok(mount.point.join(rest.trim_start_matches('/')))
}

/// Why `auto` must not create a cgroup below `dir`, if it must not.
pub fn refusal(mount: &Mount, dir: &Path) -> Option<String> {
    if mount.read_only {
        return Some(format!(
            "the cgroup mount at {} is read-only",
            mount.point.display()
        ));
    }
    if !dir.join("cgroup.procs").is_file() {
        return Some(format!("{} is not a cgroup v2 directory", dir.display()));
    }
    if under_systemd() && !delegated(dir, &mount.point) {
        return Some(format!(
            "systemd manages {} and it is not delegated to catchd (use Delegate=yes)",
            dir.display()
        ));
    }
    for path in [dir.to_path_buf(), dir.join("cgroup.procs")] {
        if !writable(&path) {
            return Some(format!("no write access to {}", path.display()));
        }
    }
    None
}

fn under_systemd() -> bool {
    crate::procstat::read_text("/proc/1/comm").is_ok_and(|c| c.trim_end() == "systemd")
}

/// systemd marks a delegated cgroup with `trusted.delegate` (and, since
/// v251, `user.delegate`); a cgroup below a delegated one is delegated too.
fn delegated(dir: &Path, mount_point: &Path) -> bool {
    dir.ancestors()
        .take_while(|d| d.starts_with(mount_point))
        .any(|d| {
            ["trusted.delegate", "user.delegate"]
                .iter()
                .any(|x| xattr_is_one(d, x))
        })
}

fn xattr_is_one(path: &Path, name: &str) -> bool {
    let (Ok(p), Ok(n)) = (
        CString::new(path.as_os_str().as_bytes()),
        CString::new(name),
    ) else {
        return false;
    };
    let mut buf = [0u8; 8];
    // SAFETY: both strings are NUL-terminated and live for the call; the
    // buffer is valid for `buf.len()` bytes.
    let len = unsafe { libc::getxattr(p.as_ptr(), n.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    len > 0 && buf[..len as usize].starts_with(b"1")
}

fn writable(path: &Path) -> bool {
    let Ok(p) = CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: a NUL-terminated path that lives for the call.
    unsafe { libc::faccessat(libc::AT_FDCWD, p.as_ptr(), libc::W_OK, libc::AT_EACCESS) == 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
25 31 0:23 / /sys rw,nosuid - sysfs sysfs rw
35 25 0:30 / /sys/fs/cgroup ro,nosuid shared:9 - tmpfs tmpfs ro,mode=755
41 35 0:38 / /sys/fs/cgroup/unified rw,relatime shared:10 - cgroup2 cgroup2 rw
42 35 0:39 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids
";

    #[test]
    fn finds_the_hybrid_unified_mount() {
        let m = cgroup2_mounts(HYBRID);
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].point, Path::new("/sys/fs/cgroup/unified"));
        assert!(!m[0].read_only);
        assert_eq!(
            locate(&m[0], "/").unwrap(),
            Path::new("/sys/fs/cgroup/unified")
        );
    }

    #[test]
    fn prefers_pure_v2_and_sees_read_only_mounts() {
        let text = "1 0 0:1 / /mnt/x\\040y rw - cgroup2 none rw\n\
                    2 0 0:1 / /sys/fs/cgroup ro,nosuid - cgroup2 cgroup2 rw\n";
        let m = cgroup2_mounts(text);
        assert_eq!(m[0].point, Path::new("/sys/fs/cgroup"));
        assert!(m[0].read_only);
        assert_eq!(m[1].point, Path::new("/mnt/x y"));
        assert!(refusal(&m[0], Path::new("/nonexistent"))
            .unwrap()
            .contains("read-only"));
    }

    #[test]
    fn maps_own_path_through_the_mount_root() {
        let m = Mount {
            root: "/docker/abc".into(),
            point: "/sys/fs/cgroup".into(),
            read_only: false,
        };
        assert_eq!(
            locate(&m, "/docker/abc/sub").unwrap(),
            Path::new("/sys/fs/cgroup/sub")
        );
        assert!(locate(&m, "/docker/abcd")
            .unwrap_err()
            .contains("does not match"));
        assert!(locate(&m, "/../x").unwrap_err().contains("outside"));
        assert_eq!(own_path("12:pids:/\n0::/a b\n").as_deref(), Some("/a b"));
        assert_eq!(own_path("12:pids:/\n"), None);
    }

    #[test]
    fn holds_pid_reads_cgroup_procs() {
        assert!(holds_pid("1\n42\n", 42));
        assert!(!holds_pid("1\n420\n4\n", 42));
        assert!(!holds_pid("", 42));
    }
}
