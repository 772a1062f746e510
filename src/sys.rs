//! Every raw system call catchd makes outside nix's and rustix's safe
//! wrappers, each `unsafe` with its `// SAFETY:` reasoning.
//!
//! Owns: libc calls and the async-signal-safe code run in the forked child.
//! Must not decide anything: callers pass exactly what to do.

/// Whether `fd` is an open descriptor of this process (`fcntl(2)` F_GETFD).
pub fn fd_is_open(fd: i32) -> bool {
    // SAFETY: F_GETFD only reads the descriptor flags; an invalid fd gives EBADF.
    unsafe { libc::fcntl(fd, libc::F_GETFD) != -1 }
}
