//! Times as operators read them: a process's start time from `/proc` (clock
//! ticks after boot) as seconds since the epoch, and RFC 3339 in UTC.
//!
//! Owns: those two conversions. Must not read anything but `/proc/stat`'s
//! boot time and the tick rate.

/// Seconds since the epoch at which a process started, from its
/// `/proc/PID/stat` start time; `None` if the boot time is unknown.
pub fn start_epoch(starttime_ticks: u64) -> Option<f64> {
    let btime = procfs::boot_time_secs().ok()?;
    Some(btime as f64 + starttime_ticks as f64 / procfs::ticks_per_second().max(1) as f64)
}

/// Seconds since the epoch as `2026-11-27T14:05:03Z` (UTC, whole seconds:
/// a start time is only known to about a second, see `audit::judge::CLOCK_SLACK_SECS`).
pub fn rfc3339(epoch_secs: f64) -> String {
    let secs = epoch_secs.floor() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Howard Hinnant's `civil_from_days`: days since 1970-01-01 to (y, m, d).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        assert_eq!(rfc3339(0.0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400.5), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_795_788_160.0), "2026-11-27T14:02:40Z");
        assert_eq!(rfc3339(-1.0), "1969-12-31T23:59:59Z");
    }
}
