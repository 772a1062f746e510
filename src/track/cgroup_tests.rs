//! Unit tests of `cgroup.rs`, on a scratch cgroup where this machine allows one.

use super::super::detect;
use super::*;
use std::process::{Child, Command};

/// A cgroup below the test's own, where this machine allows one.
fn scratch(name: &str) -> Option<Cgroup> {
    let own = detect::own_path(&fs::read_to_string("/proc/self/cgroup").ok()?)?;
    let mounts = detect::cgroup2_mounts(&fs::read_to_string("/proc/self/mountinfo").ok()?);
    let parent = mounts.iter().find_map(|m| detect::locate(m, &own).ok())?;
    let name = format!("catchd-unit-{name}-{}", std::process::id());
    Cgroup::open(&parent, &name).ok()?.ok()
}

fn exited(child: &mut Child) -> bool {
    let until = Instant::now() + Duration::from_secs(10);
    while Instant::now() < until {
        if child.try_wait().unwrap().is_some() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

/// The path for kernels without `cgroup.kill`, run on this one.
#[test]
fn freeze_kill_each_thaw_empties_the_cgroup_and_spares_the_init() {
    let Some(cg) = scratch("freeze") else {
        eprintln!("SKIPPED: no writable cgroup v2 here");
        return;
    };
    let dir = cg.path().to_path_buf();
    let mut kids: Vec<Child> = (0..3)
        .map(|_| Command::new("sleep").arg("60").spawn().unwrap())
        .collect();
    for k in &kids {
        fs::write(dir.join("cgroup.procs"), k.id().to_string()).unwrap();
    }
    assert_eq!(cg.pids().unwrap().len(), 3);
    let spare = kids[0].id() as i32;
    cg.freeze_and_kill(Some(spare)).unwrap();
    assert!(exited(&mut kids[1]) && exited(&mut kids[2]));
    assert_eq!(cg.pids().unwrap(), [spare]);
    assert_eq!(
        fs::read_to_string(dir.join("cgroup.freeze"))
            .unwrap()
            .trim(),
        "0"
    );
    cg.freeze_and_kill(None).unwrap();
    assert!(exited(&mut kids[0]));
    assert!(!cg.populated());
    drop(cg);
    assert!(!dir.exists(), "{} left behind", dir.display());
}
