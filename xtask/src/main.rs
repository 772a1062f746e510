//! `cargo run -p xtask -- man|completions [DIR]`: write catchd's man page
//! (`catchd.1`) or its shell completions (bash, zsh, fish) into DIR
//! (default `target/dist`), generated from the very clap definition the
//! binary parses with (`src/cli.rs`, included below), so they cannot drift.
//!
//! Owns: generation only. Kept out of the catchd binary so that catchd
//! carries neither clap_mangen nor clap_complete.

#[allow(dead_code)]
#[path = "../../src/cli.rs"]
mod cli;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::CommandFactory;
use clap_complete::Shell;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (what, dir) = match args.as_slice() {
        [what] => (what.as_str(), PathBuf::from("target/dist")),
        [what, dir] => (what.as_str(), PathBuf::from(dir)),
        _ => return usage(),
    };
    let result = std::fs::create_dir_all(&dir).and_then(|()| match what {
        "man" => man(&dir),
        "completions" => completions(&dir),
        _ => Err(std::io::Error::other("unknown task")),
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.to_string() == "unknown task" => usage(),
        Err(e) => {
            eprintln!("xtask: unable to write into {}: {e}", dir.display());
            ExitCode::FAILURE
        }
    }
}

fn usage() -> ExitCode {
    eprintln!("usage: cargo run -p xtask -- man|completions [DIR]");
    ExitCode::from(2)
}

fn man(dir: &Path) -> std::io::Result<()> {
    let mut out = Vec::new();
    clap_mangen::Man::new(cli::Cli::command()).render(&mut out)?;
    std::fs::write(dir.join("catchd.1"), out)?;
    println!("{}", dir.join("catchd.1").display());
    Ok(())
}

fn completions(dir: &Path) -> std::io::Result<()> {
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        let path = clap_complete::generate_to(shell, &mut cli::Cli::command(), "catchd", dir)?;
        println!("{}", path.display());
    }
    Ok(())
}
