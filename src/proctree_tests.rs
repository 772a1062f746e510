//! Unit tests of `proctree.rs`.

use super::*;

fn p(pid: i32, ppid: i32, starttime: u64) -> Proc {
    Proc {
        pid,
        ppid,
        starttime,
        comm: format!("p{pid}"),
        zombie: false,
        nspid: None,
    }
}

#[test]
fn descendants_follow_ppid_links_only() {
    let all = [
        p(10, 1, 5),
        p(11, 10, 6),
        p(12, 11, 7),
        p(20, 1, 1),
        p(13, 10, 8),
    ];
    let mut got: Vec<i32> = descendants(10, &all).iter().map(|p| p.pid).collect();
    got.sort();
    assert_eq!(got, [11, 12, 13]);
}

#[test]
fn oldest_child_first_and_zombies_are_not_live() {
    let mut zombie = p(14, 10, 1);
    zombie.zombie = true;
    let tree = Tree {
        procs: vec![p(11, 10, 9), p(12, 10, 3), p(13, 12, 1), zombie],
    };
    let kids: Vec<i32> = tree
        .children_oldest_first(10)
        .iter()
        .map(|p| p.pid)
        .collect();
    assert_eq!(kids, [12, 11]);
    assert!(tree.is_live(11, 9) && !tree.is_live(11, 8) && !tree.is_live(14, 1));
    assert_eq!(tree.live_count(), 3);
}

#[test]
fn scan_sees_a_real_grandchild() {
    let mut child = std::process::Command::new("sh")
        .args(["-c", "sleep 30 & echo $!; wait"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let grandchild: i32 = line.trim().parse().unwrap();
    let me = std::process::id() as i32;
    let fast = scan(me, have_children_files());
    let slow = scan_by_ppid(me);
    let _ = crate::sys::kill(grandchild, crate::sig::KILL);
    let _ = child.wait();
    for tree in [fast, slow] {
        let gc = tree.get(grandchild).expect("grandchild in tree");
        assert_eq!(gc.ppid, child.id() as i32);
        assert!(tree.get(child.id() as i32).is_some());
    }
}

#[test]
fn regression_5_launcher_exit_mid_scan_hides_the_main_process() {
    // catchd (1) → launcher (10) → main (11). The launcher exits after
    // catchd's list was read and before its own was: the main process
    // moves to catchd's list, and is in neither list the walk read.
    let mut reads_of_root = 0;
    let children = |pid: i32| match pid {
        1 => {
            reads_of_root += 1;
            if reads_of_root == 1 {
                vec![10]
            } else {
                vec![10, 11]
            }
        }
        _ => Vec::new(),
    };
    let stat = |pid: i32| {
        let mut proc = p(pid, 1, pid as u64);
        proc.zombie = pid == 10;
        Some(proc)
    };
    let tree = walk(1, children, stat);
    assert!(tree.is_live(11, 11), "{tree:?}");
    assert_eq!(tree.procs.len(), 2);
}

#[test]
fn a_child_re_parented_mid_walk_is_met_under_its_new_parent() {
    // 10 lists 11, but by the time 11 is read its parent is catchd (1).
    let mut moved = false;
    let children = |pid: i32| match pid {
        1 if moved => vec![10, 11],
        1 => vec![10],
        10 => {
            moved = true;
            vec![11]
        }
        _ => Vec::new(),
    };
    let stat = |pid: i32| Some(p(pid, 1, 0));
    let tree = walk(1, children, stat);
    let got: Vec<(i32, i32)> = tree.procs.iter().map(|p| (p.pid, p.ppid)).collect();
    assert_eq!(got, [(10, 1), (11, 1)]);
}
