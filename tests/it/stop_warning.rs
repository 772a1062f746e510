//! A main process that ignores the stop signal is named as the stop starts
//! (SPEC §1.3), instead of a silent wait for the whole stop timeout.

use crate::support::*;

#[test]
fn a_main_process_ignoring_sigint_is_warned_about_as_the_stop_starts() {
    let dir = TestDir::new("ignint");
    let f = forker();
    let mut c = Catchd::start(
        &dir,
        &[
            "--stop-timeout",
            "700ms",
            "--",
            &f,
            "--fork",
            "double",
            "--ignore",
            "INT",
        ],
    );
    let main = field(&dir.report().wait_for(&["ready", "role=main"]), "pid").unwrap();
    c.wait_log("ready: main process");
    c.signal(libc::SIGINT);
    let warning = c.wait_log("ignores SIGINT");
    assert!(
        warning.contains(&format!(
            "main process PID {main} ignores SIGINT: SIGKILL in 700ms"
        )),
        "{warning}"
    );
    c.wait_exit();
    assert!(!alive(main));
}
