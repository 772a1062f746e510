//! `--pidfile-check`: judge PID files (SPEC §2). Placeholder until built.

use crate::config::AuditConfig;
use crate::error::{Error, Result};

/// Check every file and return the exit status (0 all ok, 1 any other verdict, 2 unreadable).
pub fn run(cfg: AuditConfig) -> Result<u8> {
    let _ = (cfg.files, cfg.json, cfg.expect_exe, cfg.expect_name);
    Err(Error::usage("--pidfile-check is not built yet"))
}
