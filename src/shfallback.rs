//! A file the kernel will not execute (`ENOEXEC`: a script with no `#!`
//! line) runs with `/bin/sh`, as POSIX asks of `execvp`. glibc's `execvp`
//! does this itself, musl's does not: catchd does it for either libc, with
//! the arguments glibc uses (`/bin/sh FILE ARGS...`).
//!
//! Owns: finding the file `execvp` tried (PROGRAM itself, or its PATH
//! search) and building the shell's arguments. Must not exec: the callers
//! start `/bin/sh` again the way they started PROGRAM.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

/// The shell, as argv[0] too (glibc's `_PATH_BSHELL`).
pub const SHELL: &str = "/bin/sh";

/// `execvp`'s search path when PATH is unset: the libc's own, so that the
/// file found is the one its `execvp` just tried.
#[cfg(target_env = "musl")]
const DEFAULT_PATH: &str = "/usr/local/bin:/bin:/usr/bin";
#[cfg(not(target_env = "musl"))]
const DEFAULT_PATH: &str = "/bin:/usr/bin";

/// The shell's arguments after argv[0] for PROGRAM ARGS, whose exec failed
/// with `ENOEXEC`; `None` if no file is found (it changed meanwhile).
pub fn shell_args(program: &OsStr, args: &[OsString]) -> Option<Vec<OsString>> {
    let search = std::env::var_os("PATH");
    let file = script_path(program, search.as_deref(), runnable)?;
    Some(with_script(&file, args))
}

/// `/bin/sh`'s arguments after argv[0]: the script, then PROGRAM's own.
pub fn with_script(file: &Path, args: &[OsString]) -> Vec<OsString> {
    std::iter::once(file.as_os_str().to_owned())
        .chain(args.iter().cloned())
        .collect()
}

/// The file `execvp(program)` executed: PROGRAM as given if it has a
/// slash, else the first `DIR/PROGRAM` of `search` (PATH; an empty entry
/// is the current directory) that `runnable` accepts, which is where
/// `execvp` stops searching.
pub fn script_path(
    program: &OsStr,
    search: Option<&OsStr>,
    runnable: impl Fn(&Path) -> bool,
) -> Option<PathBuf> {
    let bytes = program.as_encoded_bytes();
    if bytes.is_empty() {
        return None;
    }
    if bytes.contains(&b'/') {
        return Some(PathBuf::from(program));
    }
    let search = search.unwrap_or(OsStr::new(DEFAULT_PATH));
    std::env::split_paths(search)
        .map(|dir| dir.join(program))
        .find(|candidate| runnable(candidate))
}

/// What `execve` does not refuse with ENOENT, ENOTDIR or EACCES (on which
/// `execvp` tries the next directory): a regular file we may execute.
fn runnable(path: &Path) -> bool {
    path.metadata().is_ok_and(|m| m.is_file())
        && nix::unistd::access(path, nix::unistd::AccessFlags::X_OK).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn the_shell_gets_the_script_then_the_arguments() {
        let args = os(&["-f", "a b", ""]);
        assert_eq!(
            with_script(Path::new("/opt/old/start"), &args),
            os(&["/opt/old/start", "-f", "a b", ""])
        );
        assert_eq!(with_script(Path::new("start"), &[]), os(&["start"]));
    }

    #[test]
    fn a_program_with_a_slash_is_the_file_as_given() {
        let never = |_: &Path| false;
        for p in ["/opt/old/start", "./start", "bin/start"] {
            assert_eq!(
                script_path(OsStr::new(p), Some(OsStr::new("/x")), never),
                Some(PathBuf::from(p))
            );
        }
        assert_eq!(script_path(OsStr::new(""), None, |_| true), None);
    }

    #[test]
    fn a_bare_name_is_the_first_runnable_file_on_path() {
        let search = Some(OsStr::new("/a::/b:/c"));
        let only =
            |ok: &'static [&'static str]| move |p: &Path| ok.iter().any(|o| Path::new(o) == p);
        assert_eq!(
            script_path(OsStr::new("start"), search, only(&["/b/start", "/c/start"])),
            Some(PathBuf::from("/b/start"))
        );
        // An empty entry is the current directory: the name as is.
        assert_eq!(
            script_path(OsStr::new("start"), search, only(&["start", "/b/start"])),
            Some(PathBuf::from("start"))
        );
        assert_eq!(script_path(OsStr::new("start"), search, only(&[])), None);
        // PATH unset: the libc's default.
        let found = script_path(OsStr::new("start"), None, only(&["/bin/start"]));
        assert_eq!(found, Some(PathBuf::from("/bin/start")));
    }
}
