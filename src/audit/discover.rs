//! Finds the PID files to check when none is named: every `*.pid` under
//! `/run` and `/var/run`, at most 3 levels deep (SPEC §2).
//!
//! Owns: the walk. The roots are followed (like `find -H`), nothing below
//! them is: a symlink named `*.pid` is listed (it is judged `unsafe`), a
//! symlinked directory is not entered. Each real file and directory is
//! listed once, by (dev, inode), so `/var/run -> /run` adds nothing. Must
//! not open or judge the files.

use std::collections::HashSet;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// The default roots, in the order their paths are preferred.
pub const ROOTS: [&str; 2] = ["/run", "/var/run"];

/// Files directly in a root are at depth 1.
pub const MAX_DEPTH: usize = 3;

/// Every `*.pid` below `roots`, sorted by path. Directories that cannot be
/// read are skipped (at debug level): audit mode reports on files, and a
/// private directory of another user is not a finding.
pub fn discover(roots: &[&Path]) -> Vec<PathBuf> {
    let mut walk = Walk::default();
    for (n, root) in roots.iter().enumerate() {
        walk.root = n;
        match fs::metadata(root) {
            Ok(meta) if meta.is_dir() => walk.dir(root, &meta, 1),
            Ok(_) => crate::debug!("{} is not a directory; skipped", crate::escape::path(root)),
            Err(e) => crate::debug!(
                "unable to examine {}: {e}; skipped",
                crate::escape::path(root)
            ),
        }
    }
    // A file reachable by several names (hard links) keeps the first name of
    // the earliest root, whatever order the directories were read in.
    walk.found.sort();
    let mut files = HashSet::new();
    let mut paths: Vec<PathBuf> = (walk.found.into_iter())
        .filter(|(_, _, id)| files.insert(*id))
        .map(|(_, path, _)| path)
        .collect();
    paths.sort();
    paths
}

#[derive(Default)]
struct Walk {
    root: usize,
    dirs: HashSet<(u64, u64)>,
    found: Vec<(usize, PathBuf, (u64, u64))>,
}

impl Walk {
    fn dir(&mut self, dir: &Path, meta: &fs::Metadata, depth: usize) {
        if !self.dirs.insert((meta.dev(), meta.ino())) {
            return;
        }
        let entries = match fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) => {
                crate::debug!(
                    "unable to read directory {}: {e}; skipped",
                    crate::escape::path(dir)
                );
                return;
            }
        };
        for entry in entries.flatten() {
            let path = entry.path();
            // lstat: the entry itself, never what a symlink points to.
            let Ok(meta) = fs::symlink_metadata(&path) else {
                continue;
            };
            let kind = meta.file_type();
            if kind.is_dir() {
                if depth < MAX_DEPTH {
                    self.dir(&path, &meta, depth + 1);
                }
            } else if (kind.is_file() || kind.is_symlink())
                && path.extension().is_some_and(|ext| ext == "pid")
            {
                self.found.push((self.root, path, (meta.dev(), meta.ino())));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn finds_pid_files_to_depth_three_once_each_without_following_symlinks() {
        let root = std::env::temp_dir().join(format!("catchd-discover-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        let deep = root.join("a/b/c");
        fs::create_dir_all(&deep).unwrap();
        for f in [
            "x.pid",
            "a/y.pid",
            "a/b/z.pid",
            "a/b/c/too-deep.pid",
            "a/not-a.pidfile",
        ] {
            fs::write(root.join(f), "123\n").unwrap();
        }
        fs::hard_link(root.join("x.pid"), root.join("a/x-again.pid")).unwrap();
        symlink(root.join("x.pid"), root.join("link.pid")).unwrap();
        symlink(root.join("a"), root.join("dirlink")).unwrap();
        let alias = root.join("dirlink");
        let found = discover(&[&root, &alias]);
        let _ = fs::remove_dir_all(&root);
        let names: Vec<_> = found
            .iter()
            .map(|p| {
                p.strip_prefix(&root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        assert_eq!(names, ["a/b/z.pid", "a/x-again.pid", "a/y.pid", "link.pid"]);
    }
}
