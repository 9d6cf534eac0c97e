//! The committed seed inputs of the device fuzz targets (`device_list`,
//! `link`, `fanout`, `device_state`; `fuzz/seeds/<target>/`), replayed
//! through the targets' own checks (`fuzz/checks/devices.rs`), so the seed
//! corpora run in every `cargo test`.
//!
//! The seeds are generated, never edited by hand. After a change to device
//! lists, linking, fan-out or the device states, rewrite them with
//!
//!     cargo test --test fuzz_seeds_devices -- --ignored write_seeds
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../fuzz/checks/devices.rs"]
mod checks;

use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;

fn seed_dir(target: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/seeds")
        .join(target)
}

/// The committed seeds of `target`, by file name.
fn committed(target: &str) -> BTreeMap<String, Vec<u8>> {
    let dir = seed_dir(target);
    let entries = fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    entries
        .map(|e| {
            let path = e.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, fs::read(&path).unwrap())
        })
        .collect()
}

fn replay(target: &str) {
    let seeds = committed(target);
    assert!(!seeds.is_empty(), "no seeds for {target}");
    let check = checks::check_for(target);
    for (name, data) in &seeds {
        let outcome = std::panic::catch_unwind(|| check(data));
        assert!(outcome.is_ok(), "{target}: seed {name} fails its check");
    }
}

#[test]
fn device_list_seeds() {
    replay("device_list");
}

#[test]
fn link_seeds() {
    replay("link");
}

#[test]
fn fanout_seeds() {
    replay("fanout");
}

#[test]
fn device_state_seeds() {
    replay("device_state");
}

/// Every genuine link response is accepted by the new device, and a genuine
/// fan-out reaches every device (a seed set that lost them would make the
/// targets' acceptance checks dead code).
#[test]
fn genuine_objects_are_accepted() {
    let fx = checks::link_fixture();
    for r in &fx.responses {
        assert!(fx.request.finish(&r.bytes).is_ok());
    }
    // Send from device 0, deliver the four parts: accepted (the check
    // panics on a refused genuine part).
    checks::check_fanout(&[0, 0, 0, 1, b'x', 1, 0, 1, 1, 1, 2, 1, 3]);
}

/// The committed seeds are exactly what the generator makes today.
#[test]
fn seeds_are_current() {
    let mut want: BTreeMap<&str, BTreeMap<String, Vec<u8>>> = BTreeMap::new();
    for (target, name, data) in checks::seeds() {
        want.entry(target).or_default().insert(name, data);
    }
    for target in checks::TARGETS {
        let got = committed(target);
        assert!(
            want.get(target) == Some(&got),
            "fuzz/seeds/{target} is out of date; rewrite it with \
             `cargo test --test fuzz_seeds_devices -- --ignored write_seeds`"
        );
    }
}

/// Regenerates `fuzz/seeds/<target>/` for the device targets.
#[test]
#[ignore = "writes files; run on demand"]
fn write_seeds() {
    for target in checks::TARGETS {
        let dir = seed_dir(target);
        if dir.exists() {
            fs::remove_dir_all(&dir).unwrap();
        }
        fs::create_dir_all(&dir).unwrap();
    }
    for (target, name, data) in checks::seeds() {
        fs::write(seed_dir(target).join(name), data).unwrap();
    }
}
