//! `td-forker --self-test`: a quick check of flag parsing, run by the
//! smoke test and by this crate's unit tests.
//!
//! Owns: the table of accepted and rejected command lines.
//! Must not: fork, signal, or touch files.

use crate::args::{parse, Config, ForkMode, Parsed, PidfileWhen};
use crate::names::{parse_duration, parse_signal};
use crate::report::escape;
use std::ffi::OsString;
use std::time::Duration;

fn run(args: &str) -> Result<Parsed, String> {
    parse(args.split_whitespace().map(OsString::from))
}

fn config(args: &str) -> Result<Config, String> {
    match run(args)? {
        Parsed::Run(c) => Ok(*c),
        other => Err(format!("'{args}': expected a run config, got {other:?}")),
    }
}

fn check(ok: bool, what: &str) -> Result<(), String> {
    if ok {
        Ok(())
    } else {
        Err(format!("self-test failed: {what}"))
    }
}

/// Command lines that must be refused, each with a word its message names.
const REJECTED: &[(&str, &str)] = &[
    ("--bogus", "--bogus"),
    ("positional", "positional"),
    ("--fork triple", "--fork"),
    ("--fork", "needs a value"),
    ("--fork none --fork single", "twice"),
    ("--setsid=yes", "takes no value"),
    ("--workers many", "--workers"),
    ("--workers 2001", "--workers"),
    ("--worker-uid nobody", "--worker-uid"),
    ("--exit-after 5", "duration"),
    ("--exit-after 5x", "duration"),
    ("--exit-after ms", "duration"),
    ("--exit-code 3", "--exit-after"),
    ("--exit-after 1s --exit-code 256", "--exit-code"),
    ("--die-by TERM", "--exit-after"),
    ("--exit-after 1s --die-by WINCH", "terminate"),
    ("--exit-after 1s --die-by TERM --exit-code 3", "exclude"),
    ("--ignore FOO", "bad signal"),
    ("--ignore KILL", "cannot be ignored"),
    ("--ignore 32", "bad signal"),
    ("--pidfile-when late", "--pidfile"),
    ("--pidfile-when sometimes --pidfile /p", "--pidfile-when"),
    ("--pidfile-delay 1s", "--pidfile"),
    (
        "--pidfile /p --pidfile-when never --pidfile-content x",
        "--pidfile-content",
    ),
    ("--worker-setsid", "--workers"),
    ("--worker-exit-after 1s", "--workers"),
    ("--handover-on HUP --ignore HUP", "ignored"),
    ("--handover-on TERM --fork-storm", "ignored"),
    ("--handover-on CHLD", "cannot be used"),
    ("--launcher-exit -1", "--launcher-exit"),
    ("--orphans-on HUP", "--orphans N"),
    ("--orphans 3 --orphans-on CHLD", "cannot be used"),
    ("--orphans 3 --orphans-on HUP --ignore HUP", "ignored"),
    (
        "--orphans 3 --orphans-on USR2 --handover-on USR2",
        "cannot be used",
    ),
    ("--pidfile=", "empty"),
];

/// Run every check; the first failure is returned as a message.
pub fn self_test() -> Result<(), String> {
    let d = config("")?;
    check(
        d.fork == ForkMode::Double && d.pidfile_when == PidfileWhen::Never,
        "defaults",
    )?;
    check(
        d.pidfile.is_none() && d.workers == 0 && d.launcher_exit.is_none(),
        "defaults",
    )?;
    let c = config("--fork single --pidfile /run/x.pid --setsid --close-all-fds")?;
    check(
        c.fork == ForkMode::Single && c.setsid && c.close_all_fds,
        "booleans",
    )?;
    check(
        c.pidfile_when == PidfileWhen::Early,
        "pidfile defaults to early",
    )?;
    let c = config("--fork=none --pidfile=/p --pidfile-when=late --pidfile-delay=200ms")?;
    check(
        c.fork == ForkMode::None && c.pidfile_when == PidfileWhen::Late,
        "--flag=value",
    )?;
    check(
        c.pidfile_delay == Some(Duration::from_millis(200)),
        "pidfile delay",
    )?;
    let c = config("--pidfile /p --pidfile-when never")?;
    check(
        c.pidfile.is_none() && c.pidfile_when == PidfileWhen::Never,
        "never",
    )?;
    let c = config("--ignore TERM --ignore SIGHUP --ignore hup --ignore 10 --ignore RTMIN+1")?;
    let want = vec![
        libc::SIGTERM,
        libc::SIGHUP,
        libc::SIGUSR1,
        libc::SIGRTMIN() + 1,
    ];
    check(c.ignore == want, "repeatable --ignore")?;
    let c = config("--workers 3 --worker-setsid --worker-exit-after 2s --orphans 4")?;
    check(
        c.workers == 3 && c.worker_setsid && c.orphans == 4,
        "workers/orphans",
    )?;
    let c = config("--workers 2000 --worker-uid 65534 --worker-forge --comm x")?;
    check(
        c.workers == 2000
            && c.worker_uid == Some(65534)
            && c.worker_forge
            && c.comm.as_deref() == Some(&b"x"[..]),
        "worker-uid/worker-forge/comm",
    )?;
    let c = config("--orphans 1000 --orphans-on HUP")?;
    check(
        c.orphans == 1000 && c.orphans_on == Some(libc::SIGHUP),
        "orphans-on",
    )?;
    let c = config("--exit-after 50ms --die-by SIGQUIT --launcher-exit 0 --launcher-sleep 1m")?;
    check(
        c.die_by == Some(libc::SIGQUIT) && c.launcher_exit == Some(0),
        "die-by",
    )?;
    check(c.launcher_sleep == Some(Duration::from_secs(60)), "minutes")?;
    let c = config("--exit-after 1s --exit-code 7 --handover-on USR2 --fork-storm")?;
    check(
        c.exit_code == 7 && c.handover_on == Some(libc::SIGUSR2) && c.fork_storm,
        "misc",
    )?;
    let c = config("--pidfile /p --pidfile-content 1")?;
    check(c.pidfile_content.as_deref() == Some(&b"1"[..]), "content")?;
    check(
        run("--self-test --bogus").is_err(),
        "bad flags win over --self-test",
    )?;
    check(
        run("--fork none --self-test")? == Parsed::SelfTest,
        "--self-test",
    )?;
    check(run("--help")? == Parsed::Help, "--help")?;
    for (args, word) in REJECTED {
        match run(args) {
            Ok(p) => return Err(format!("self-test failed: '{args}' accepted as {p:?}")),
            Err(msg) => check(
                msg.contains(word) && !msg.contains('\n'),
                &format!("'{args}' → '{msg}'"),
            )?,
        }
    }
    check(parse_duration("0") == Ok(Duration::ZERO), "0")?;
    check(
        parse_duration("250us") == Ok(Duration::from_micros(250)),
        "us",
    )?;
    check(
        parse_signal("rtmax-1") == Ok(libc::SIGRTMAX() - 1),
        "RTMAX-1",
    )?;
    check(escape(b"a b\\c\n\x01") == "a\\x20b\\\\c\\n\\x01", "escape")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn self_test_passes() {
        super::self_test().unwrap();
    }

    #[test]
    fn every_rejection_is_one_line() {
        for (args, _) in super::REJECTED {
            let msg = super::run(args).unwrap_err();
            assert!(!msg.contains('\n'), "{args}: {msg}");
        }
    }
}
