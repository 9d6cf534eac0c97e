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
mod seed_files;

fn replay(target: &str) {
    seed_files::replay(target, checks::check_for(target));
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
fn device_sessions_seeds() {
    replay("device_sessions");
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

/// The fan-out findings committed to the corpus as regressions
/// (`fuzz/corpus-min/fanout/regression-*`) pass the check.
/// The link fixture's sealed responses with a bad payload give their
/// errors (so `finish`'s payload checks stay reached).
#[test]
fn sealed_bad_responses_are_refused() {
    let fx = checks::link_fixture();
    for (response, want) in &fx.sealed_bad {
        assert_eq!(fx.request.finish(response).unwrap_err(), *want);
    }
}

/// The minimised corpus of `link` and `device_sessions` passes the checks
/// too.
#[test]
fn device_corpus_replays() {
    for t in ["link", "device_sessions"] {
        seed_files::replay_dir(&format!("fuzz/corpus-min/{t}"), checks::check_for(t));
    }
}

#[test]
fn fanout_regressions() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus-min/fanout");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let path = e.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("regression-") {
            let data = std::fs::read(&path).unwrap();
            let outcome = std::panic::catch_unwind(|| checks::check_fanout(&data));
            assert!(outcome.is_ok(), "fanout: regression {name} fails its check");
            n += 1;
        }
    }
    assert!(n >= 2, "fanout: the committed regressions are missing");
}

/// The committed seeds are exactly what the generator makes today.
#[test]
fn seeds_are_current() {
    seed_files::assert_current(&checks::TARGETS, checks::seeds(), "fuzz_seeds_devices");
}

/// Regenerates `fuzz/seeds/<target>/` for the device targets.
#[test]
#[ignore = "writes files; run on demand"]
fn write_seeds() {
    seed_files::write(&checks::TARGETS, checks::seeds());
}
