//! Set-up, in order, then the loop (SPEC §1.1): signals before anything
//! can spawn or fail, the subreaper, the instance lock, the cgroup and the
//! previous-instance check, the pidfile watch and the hold pipe, the
//! launch (plain or `--contain`), then `Loop::run`.
//!
//! Owns: the order of those steps. Must not decide: `state` does.

use std::time::Instant;

use super::Loop;
use crate::config::RunConfig;
use crate::contain::Contained;
use crate::error::{Context, Result};
use crate::holdpipe::HoldPipe;
use crate::lock::InstanceLock;
use crate::proctree::{self, Tree};
use crate::report::Reporter;
use crate::signals::Signals;
use crate::state::{Ident, Outcome, Settings, State};
use crate::sys::{self, ChildSetup};
use crate::track::{self, Tracker};
use crate::watch::PidfileWatch;
use crate::{contain, preflight, spawn};

pub fn run(cfg: RunConfig) -> Result<Outcome> {
    // Signals first, before anything can spawn or fail: no signal may be
    // lost between the launch and the first poll.
    let signals = Signals::setup()?;
    // catchd's own descriptors never run short; the daemon gets the limit
    // catchd was started with (SPEC §1.1.8).
    let nofile = sys::raise_nofile();
    nix::sys::prctl::set_child_subreaper(true).context("become a child subreaper")?;
    if let Some(fd) = cfg.ready_fd {
        sys::set_cloexec(fd).context("set close-on-exec on --ready-fd")?;
    }
    // Held until catchd returns: one instance per pidfile (SPEC §1.1.7).
    let lock = cfg
        .pidfile
        .as_deref()
        .map(InstanceLock::acquire)
        .transpose()?
        .flatten();
    // Before the previous-instance check: an earlier catchd's leftovers
    // in the cgroup of the same name are stopped, not refused.
    let cgroup = track::setup(&cfg)?;
    if let Some(path) = &cfg.pidfile {
        preflight::check_previous_instance(path, &cfg.program, &cfg.args)?;
    }
    let mut watch = cfg.pidfile.as_deref().map(PidfileWatch::new).transpose()?;
    let mut hold = HoldPipe::new()?;
    let hold_fd = hold.place_write(nofile.rlim_cur)?;
    // The init of a PID namespace enters the cgroup itself; a plain
    // launcher is born in it.
    let procs = match &cgroup {
        Some(cg) if cfg.contain => Some(cg.open_procs().context("open the daemon's cgroup.procs")?),
        _ => None,
    };
    let setup = ChildSetup {
        mask: signals.original_mask,
        ignored: signals.ignored,
        nofile,
        hold: (hold.write_raw(), hold_fd),
        report: None,
        cgroup: procs.as_ref().map(std::os::fd::AsRawFd::as_raw_fd),
    };
    let children_files = proctree::have_children_files();
    let me = std::process::id() as i32;
    let (root, launcher, contained) = if cfg.contain {
        let c = contain::start(&cfg.program, &cfg.args, setup)?;
        // The launcher is the init's child (a zombie at worst: the init
        // reaps only after reporting it); /proc's children lists can miss
        // a process, so look a few times before settling for a stand-in.
        let mut tree = Tree::default();
        for _ in 0..20 {
            tree = proctree::scan(c.init, children_files);
            proctree::fill_nspids(&mut tree);
            if tree.by_nspid(c.launcher_nspid).is_some() {
                break;
            }
        }
        crate::info!("--contain: PID namespace init is PID {}", c.init);
        let init = c.init;
        let (contained, launcher) = Contained::new(c.report, &tree, c.launcher_nspid)?;
        (init, launcher, Some(contained))
    } else {
        let launched = match &cgroup {
            Some(cg) => spawn::launch_in(&cfg.program, &cfg.args, setup, cg)?,
            None => spawn::launch(&cfg.program, &cfg.args, setup)?,
        };
        (me, launched, None)
    };
    // Only descendants may hold the write end, or EOF never comes.
    hold.close_write();
    drop(procs);
    let starttime = proctree::stat(launcher).map_or(0, |p| p.starttime);
    if launcher > 0 {
        crate::info!(
            "started {} as PID {launcher}",
            cfg.program.to_string_lossy()
        );
    } else {
        crate::info!(
            "started {} as PID {} in the namespace; it has already exited",
            cfg.program.to_string_lossy(),
            -launcher
        );
    }
    let settings = Settings {
        pidfile: cfg.pidfile.clone(),
        start_timeout: cfg.start_timeout,
        stop_timeout: cfg.stop_timeout,
        stop_signal: cfg.stop_signal,
        signal_map: cfg.signal_map.clone(),
        kill_all: cfg.kill_mode == crate::cli::KillMode::All,
        wait_all: cfg.wait_all,
        listening: !cfg.ready_when.is_empty(),
    };
    let launcher = Ident {
        pid: launcher,
        starttime,
    };
    let mut lp = Loop {
        cfg: &cfg,
        root,
        contained,
        state: State::new(settings, root, launcher, Instant::now()),
        tracker: Tracker::new(root, children_files, cgroup),
        reporter: Reporter::new(
            std::env::var_os("NOTIFY_SOCKET").as_deref(),
            cfg.ready_fd,
            cfg.status_file.clone(),
        ),
        check: None,
        hold_inode: hold.inode(),
        lock,
        last_scan: None,
        scan_due: None,
        reap_more: false,
        blocked: None,
        settle: None,
    };
    let result = lp.run(&signals, &mut hold, watch.as_mut());
    if result.is_err() {
        // Once the daemon is spawned catchd may not simply die.
        lp.tracker.emergency_stop();
    }
    result
}
