//! Unit tests of `config.rs`.

use super::*;

#[test]
fn durations() {
    let ok = |t: &str| parse_duration("--x", t).unwrap();
    assert_eq!(ok("90s"), Duration::from_secs(90));
    assert_eq!(ok("300ms"), Duration::from_millis(300));
    assert_eq!(ok("2m"), Duration::from_secs(120));
    assert_eq!(ok("1h"), Duration::from_secs(3600));
    assert_eq!(ok("1.5s"), Duration::from_millis(1500));
    assert_eq!(ok("10"), Duration::from_secs(10));
    assert_eq!(ok("0"), Duration::ZERO);
    assert_eq!(ok("1m30s"), Duration::from_secs(90));
    assert_eq!(ok("10m30s"), Duration::from_secs(630));
    assert_eq!(ok("1h2m3.5s"), Duration::from_millis(3_723_500));
    assert_eq!(ok("1s500ms"), Duration::from_millis(1500));
    for bad in [
        "",
        "s",
        "-1s",
        "10x",
        "1.s",
        ".5s",
        "1e3",
        "inf",
        "NaN",
        "10 s",
        "99999999h",
        "1m30",
        "30 1m",
        "1m-30s",
        "1mm",
        "m30s",
    ] {
        let err = parse_duration("--stop-timeout", bad)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("--stop-timeout: invalid duration"),
            "{bad}: {err}"
        );
    }
}

#[test]
fn start_timeout_zero_is_refused_with_a_reason() {
    let err = parse_start_timeout("0").unwrap_err().to_string();
    assert!(
        err.starts_with("--start-timeout: \"0\" would give up"),
        "{err}"
    );
    assert!(!err.contains('\n'));
    assert!(parse_start_timeout("0s").is_err() && parse_start_timeout("0ms").is_err());
    assert_eq!(
        parse_start_timeout("1m30s").unwrap(),
        Duration::from_secs(90)
    );
    // A zero stop timeout stays valid: SIGKILL at once.
    assert_eq!(
        parse_duration("--stop-timeout", "0").unwrap(),
        Duration::ZERO
    );
}

fn given(opts: &[(&str, &str)]) -> Vec<(String, String)> {
    opts.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[test]
fn options_of_the_other_mode_are_refused() {
    let err = check_mode(
        true,
        &given(&[("json", "--json"), ("stop_timeout", "--stop-timeout")]),
    )
    .unwrap_err()
    .to_string();
    assert_eq!(
        err,
        "--stop-timeout is a run-mode option: --pidfile-check (audit mode) does not take it"
    );
    let err = check_mode(false, &given(&[("json", "--json")]))
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("--json is an audit-mode option: it needs --pidfile-check"),
        "{err}"
    );
    // An option added later and not listed belongs to run mode.
    assert!(check_mode(true, &given(&[("cgroup", "--cgroup")])).is_err());
    assert!(check_mode(false, &given(&[("cgroup", "--cgroup")])).is_ok());
    let common = given(&[
        ("quiet", "-q"),
        ("name", "--name"),
        ("pidfile_check", "--pidfile-check"),
    ]);
    assert!(check_mode(true, &common).is_ok());
    assert!(check_mode(
        false,
        &given(&[("verbose", "-v"), ("pidfile", "--pidfile")])
    )
    .is_ok());
    assert!(check_mode(true, &given(&[("expect_exe", "--expect-exe")])).is_ok());
}

#[test]
fn signal_maps() {
    let (from, to) = parse_signal_map("TERM:QUIT").unwrap();
    assert_eq!((from.0, to.0), (libc::SIGTERM, libc::SIGQUIT));
    assert!(parse_signal_map("TERM").is_err());
    assert!(parse_signal_map("TERM:NOPE").is_err());
    assert!(parse_signal_map("KILL:TERM").is_err());
}

#[test]
fn ready_when_is_typed_or_one_line_naming_the_option() {
    use clap::Parser;
    let cli = |extra: &[&str]| {
        let mut argv = vec!["catchd"];
        argv.extend_from_slice(extra);
        argv.extend(["--", "prog"]);
        build(Cli::try_parse_from(argv).unwrap())
    };
    let Ok(Config::Run(cfg)) = cli(&[
        "--ready-when",
        "listening",
        "--ready-when=listening=[::1]:80",
    ]) else {
        panic!("not a run config")
    };
    assert_eq!(
        cfg.ready_when,
        [Want::Any, Want::Addr("[::1]:80".parse().unwrap())]
    );
    let Err(e) = cli(&["--ready-when", "listening=x:80"]) else {
        panic!("accepted x:80")
    };
    let msg = e.to_string();
    assert!(
        msg.starts_with("--ready-when: invalid address \"x:80\""),
        "{msg}"
    );
    assert_eq!(e.exit_code(crate::error::Mode::Run), 125);
}

#[test]
fn ready_fd_must_be_high_and_open() {
    assert!(parse_ready_fd("1").is_err());
    assert!(parse_ready_fd("x").is_err());
    assert!(parse_ready_fd("999999").is_err());
}

proptest::proptest! {
    /// Any text: a value or one line naming the flag, never a panic;
    /// an accepted value round-trips from whole milliseconds.
    #[test]
    fn durations_never_panic(text in ".{0,24}") {
        match parse_duration("--stop-timeout", &text) {
            Ok(d) => proptest::prop_assert!(d <= Duration::from_secs(365 * 24 * 3600)),
            Err(e) => {
                let msg = e.to_string();
                proptest::prop_assert!(msg.starts_with("--stop-timeout: invalid duration"));
                proptest::prop_assert!(!msg.contains('\n'));
            }
        }
    }

    #[test]
    fn whole_milliseconds_round_trip(ms in 0u64..10_000_000) {
        proptest::prop_assert_eq!(
            parse_duration("--x", &format!("{ms}ms")).ok(),
            Some(Duration::from_millis(ms))
        );
    }

    #[test]
    fn signal_maps_never_panic(text in ".{0,24}") {
        if let Ok((from, to)) = parse_signal_map(&text) {
            proptest::prop_assert!(from.is_catchable());
            proptest::prop_assert!(to.0 >= 1 && to.0 <= libc::SIGRTMAX());
        }
    }
}
