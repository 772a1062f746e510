//! Unit tests of `pidfile.rs`.

use super::*;

#[test]
fn accepts_plain_pids() {
    assert_eq!(parse(b"123"), Ok(123));
    assert_eq!(parse(b"123\n"), Ok(123));
    assert_eq!(parse(b"2147483647\n"), Ok(i32::MAX));
}

#[test]
fn rejects_everything_else() {
    assert_eq!(parse(b""), Err(Invalid::Empty));
    assert_eq!(parse(b"\n"), Err(Invalid::Empty));
    assert_eq!(parse(b"0"), Err(Invalid::Zero));
    assert_eq!(parse(b"1\n"), Err(Invalid::Init));
    assert_eq!(parse(b"2147483648"), Err(Invalid::OutOfRange));
    assert_eq!(parse(b"99999999999"), Err(Invalid::OutOfRange));
    for bad in [
        &b"-5"[..],
        b"+5",
        b" 5",
        b"5 ",
        b"5\n\n",
        b"12 34",
        b"012",
        b"abc",
        b"5\r\n",
        b"\xff\xfe",
    ] {
        assert!(matches!(parse(bad), Err(Invalid::NotDecimal(_))), "{bad:?}");
    }
    assert_eq!(parse(&[b'7'; MAX_LEN + 1]), Err(Invalid::TooLong));
}

#[test]
fn shows_untrusted_bytes_escaped_and_short() {
    let shown = show(b"\x1b[31mred\x00");
    assert!(shown.is_ascii() && !shown.contains('\x1b'), "{shown}");
    assert!(show(&[b'x'; 100]).ends_with("...\""));
}

#[test]
fn pid_two_and_own_process_are_classified() {
    assert_eq!(named(2), Named::KernelThread);
    assert!(matches!(
        named(std::process::id() as i32),
        Named::Process { .. }
    ));
}

/// An independent reading of SPEC §2: ASCII digits without a leading
/// zero, at most one trailing newline, value 2..=i32::MAX, ≤ 64 bytes.
fn reference(bytes: &[u8]) -> Option<i32> {
    let text = std::str::from_utf8(bytes)
        .ok()
        .filter(|_| bytes.len() <= 64)?;
    let digits = text.strip_suffix('\n').unwrap_or(text);
    let mut value: i64 = 0;
    for (i, c) in digits.chars().enumerate() {
        let d = c.to_digit(10)?;
        if i == 0 && d == 0 {
            return None;
        }
        value = value * 10 + i64::from(d);
        if value > i64::from(i32::MAX) {
            return None;
        }
    }
    i32::try_from(value).ok().filter(|pid| *pid >= 2)
}

proptest::proptest! {
    #[test]
    fn parser_agrees_with_reference_on_any_bytes(
        bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..80)
    ) {
        proptest::prop_assert_eq!(parse(&bytes).ok(), reference(&bytes));
    }

    #[test]
    fn parser_agrees_with_reference_on_pid_like_text(text in "[0-9\n +-]{0,70}") {
        proptest::prop_assert_eq!(parse(text.as_bytes()).ok(), reference(text.as_bytes()));
    }

    #[test]
    fn every_pid_from_two_up_is_accepted(pid in 2..=i32::MAX, newline: bool) {
        let text = format!("{pid}{}", if newline { "\n" } else { "" });
        proptest::prop_assert_eq!(parse(text.as_bytes()), Ok(pid));
    }
}
