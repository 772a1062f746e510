//! `cargo xtask TASK [DIR]` (an alias of `cargo run -p xtask --`):
//!
//! - `man [DIR]`: catchd's man page `catchd.1`;
//! - `completions [DIR]`: bash, zsh and fish completions;
//! - `dist [DIR]`: a static release binary, checked to have no program
//!   interpreter, plus the man page and completions. It is built against
//!   musl where Rust's `x86_64-unknown-linux-musl` target is installed
//!   (lighter in memory and quicker to start), else against glibc with
//!   `+crt-static`; one line says which and why;
//! - `deb`: `dist`, then the Debian package of that very binary with
//!   cargo-deb (which must be installed), into `target/debian/`.
//!
//! DIR defaults to `target/dist`. The man page and completions come from the
//! very clap definition the binary parses with (`src/cli.rs`, included
//! below), so they cannot drift.
//!
//! Owns: generation and packaging only. Kept out of the catchd binary so
//! that catchd carries neither clap_mangen nor clap_complete.

#[allow(dead_code)]
#[path = "../../src/cli.rs"]
mod cli;
mod man;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use clap::CommandFactory;
use clap_complete::Shell;

/// The targets the static binary is built for: musl when Rust has it,
/// glibc otherwise. Always explicit, so that RUSTFLAGS (`+crt-static`)
/// reach catchd but not build scripts and proc macros.
const MUSL: &str = "x86_64-unknown-linux-musl";
const GNU: &str = "x86_64-unknown-linux-gnu";

/// The static build's target, and the line that says which libc and why.
fn static_target(musl_installed: bool) -> (&'static str, String) {
    if musl_installed {
        (
            MUSL,
            format!("static binary: musl libc (Rust's {MUSL} target is installed)"),
        )
    } else {
        (
            GNU,
            format!(
                "static binary: glibc +crt-static (Rust's {MUSL} target is not installed; \
                 `rustup target add {MUSL}` makes it musl)"
            ),
        )
    }
}

/// Whether Rust's musl target is installed: its standard library is in
/// `$(rustc --print sysroot)/lib/rustlib/TARGET/lib`.
fn musl_installed() -> bool {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let Ok(out) = Command::new(rustc).args(["--print", "sysroot"]).output() else {
        return false;
    };
    let sysroot = String::from_utf8_lossy(&out.stdout).trim().to_string();
    out.status.success()
        && !sysroot.is_empty()
        && Path::new(&sysroot)
            .join("lib/rustlib")
            .join(MUSL)
            .join("lib")
            .is_dir()
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (what, dir) = match args.as_slice() {
        [what] => (what.as_str(), PathBuf::from("target/dist")),
        [what, dir] => (what.as_str(), PathBuf::from(dir)),
        _ => return usage(),
    };
    let result = match what {
        "man" => std::fs::create_dir_all(&dir).and_then(|()| man(&dir)),
        "completions" => std::fs::create_dir_all(&dir).and_then(|()| completions(&dir)),
        "dist" => dist(&dir).map(|_| ()),
        "deb" => dist(&dir).and_then(deb),
        _ => return usage(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask {what}: {e}");
            ExitCode::FAILURE
        }
    }
}

fn usage() -> ExitCode {
    eprintln!("usage: cargo xtask man|completions|dist|deb [DIR]");
    ExitCode::from(2)
}

fn man(dir: &Path) -> std::io::Result<()> {
    let mut out = Vec::new();
    man::render(cli::Cli::command(), &mut out)?;
    let path = dir.join("catchd.1");
    std::fs::write(&path, out)?;
    println!("{}", path.display());
    Ok(())
}

/// After `--`, bash completes a command and then that command's own
/// arguments (bash-completion's `_command_offset`, or command names alone
/// without it); before it, clap's completion of catchd's options.
const BASH_COMMAND: &str = r#"
_catchd_command() {
    local i
    for (( i = 1; i < COMP_CWORD; i++ )); do
        if [[ ${COMP_WORDS[i]} == -- ]]; then
            if declare -F _command_offset >/dev/null; then
                _command_offset $((i + 1))
            elif (( COMP_CWORD == i + 1 )); then
                COMPREPLY=($(compgen -c -- "${COMP_WORDS[COMP_CWORD]}"))
            else
                COMPREPLY=($(compgen -f -- "${COMP_WORDS[COMP_CWORD]}"))
            fi
            return 0
        fi
    done
    _catchd "$@"
}
complete -F _catchd_command -o bashdefault -o default catchd
"#;

/// fish: after `--`, a command name, then that command's own completions.
const FISH_COMMAND: &str = r#"
function __catchd_after_dashdash
    set -l tokens (commandline -opc)
    set -l i (contains -i -- -- $tokens); or return 1
    set -l rest $tokens[(math $i + 1)..-1]
    if test (count $rest) -eq 0
        __fish_complete_command
    else
        complete -C (string join -- ' ' (string escape -- $rest) (commandline -ct))
    end
end
complete -c catchd -n 'contains -- -- (commandline -opc)' -f -a '(__catchd_after_dashdash)'
"#;

fn completions(dir: &Path) -> std::io::Result<()> {
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        let path = clap_complete::generate_to(shell, &mut cli::Cli::command(), "catchd", dir)?;
        let extra = match shell {
            Shell::Bash => BASH_COMMAND,
            Shell::Fish => FISH_COMMAND,
            _ => "",
        };
        if !extra.is_empty() {
            let mut script = std::fs::read_to_string(&path)?;
            script.push_str(extra);
            std::fs::write(&path, script)?;
        }
        println!("{}", path.display());
    }
    Ok(())
}

fn run(cmd: &mut Command) -> std::io::Result<()> {
    let status = cmd.status()?;
    if status.success() {
        Ok(())
    } else {
        Err(std::io::Error::other(format!("{cmd:?} failed: {status}")))
    }
}

/// The static binary, its man page and completions, into DIR; returns the
/// target it was built for.
fn dist(dir: &Path) -> std::io::Result<&'static str> {
    let (target, why) = static_target(musl_installed());
    eprintln!("xtask dist: {why}");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    run(Command::new(cargo)
        .args([
            "build",
            "--release",
            "--locked",
            "-p",
            "catchd",
            "--target",
            target,
        ])
        .env("RUSTFLAGS", "-C target-feature=+crt-static")
        .env("CARGO_PROFILE_RELEASE_STRIP", "symbols"))?;
    let built = Path::new("target").join(target).join("release/catchd");
    let elf = std::fs::read(&built)?;
    if has_interpreter(&elf)? {
        return Err(std::io::Error::other(format!(
            "{} is dynamically linked: it names a program interpreter",
            built.display()
        )));
    }
    std::fs::create_dir_all(dir)?;
    let dest = dir.join("catchd");
    std::fs::copy(&built, &dest)?;
    println!("{} ({} bytes, static)", dest.display(), elf.len());
    man(dir)?;
    completions(dir)?;
    Ok(target)
}

/// Whether an ELF64 little-endian file has a PT_INTERP program header (a
/// dynamic executable does; a static or static-pie one does not).
fn has_interpreter(elf: &[u8]) -> std::io::Result<bool> {
    let bad = || std::io::Error::other("not a 64-bit little-endian ELF file");
    let u16_at = |o: usize| elf.get(o..o + 2).map(|b| u16::from_le_bytes([b[0], b[1]]));
    let u64_at = |o: usize| {
        elf.get(o..o + 8)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_le_bytes)
    };
    if elf.get(..6) != Some(b"\x7fELF\x02\x01") {
        return Err(bad());
    }
    let phoff = u64_at(0x20).ok_or_else(bad)? as usize;
    let phentsize = u16_at(0x36).ok_or_else(bad)? as usize;
    let phnum = u16_at(0x38).ok_or_else(bad)? as usize;
    for i in 0..phnum {
        let p_type = elf
            .get(phoff + i * phentsize..phoff + i * phentsize + 4)
            .ok_or_else(bad)?;
        if p_type == 3u32.to_le_bytes() {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The Debian package of the static binary `dist` built for TARGET (the
/// asset `target/release/catchd` is read from that target's directory by
/// cargo-deb), with the man page and the completions `dist` wrote
/// (Cargo.toml's `[package.metadata.deb]` names them under target/dist).
fn deb(target: &str) -> std::io::Result<()> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    run(Command::new(cargo).args([
        "deb",
        "--locked",
        "-p",
        "catchd",
        "--no-build",
        "--target",
        target,
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn musl_when_rust_has_it_else_glibc_and_says_why() {
        let (target, why) = static_target(true);
        assert_eq!(target, "x86_64-unknown-linux-musl");
        assert!(
            why.contains("musl libc") && why.contains("installed"),
            "{why}"
        );
        let (target, why) = static_target(false);
        assert_eq!(target, "x86_64-unknown-linux-gnu");
        assert!(
            why.contains("glibc +crt-static")
                && why.contains("not installed")
                && why.contains("rustup target add x86_64-unknown-linux-musl"),
            "{why}"
        );
    }

    /// This test binary is an ordinary dynamic executable; a script is no ELF.
    #[test]
    fn a_dynamic_executable_names_an_interpreter() {
        let elf = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        assert!(has_interpreter(&elf).unwrap());
        assert!(has_interpreter(b"#!/bin/sh\n").is_err());
    }
}
