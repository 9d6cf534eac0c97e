//! The committed seed inputs of the session fuzz targets (`bundle_parse`,
//! `initial_message`, `state_decode`, `prekey_upload`, `conversation`,
//! `safety_number`; `fuzz/seeds/<target>/`), replayed through
//! the targets' own checks (`fuzz/checks/session.rs`), so the seed corpora run
//! in every `cargo test`.
//!
//! The seeds are generated, never edited by hand. After a change to bundles,
//! initial messages or the state formats, rewrite them with
//!
//!     cargo test --test fuzz_seeds_session -- --ignored write_seeds
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../fuzz/checks/session.rs"]
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
fn bundle_parse_seeds() {
    replay("bundle_parse");
}

#[test]
fn initial_message_seeds() {
    replay("initial_message");
}

#[test]
fn state_decode_seeds() {
    replay("state_decode");
}

#[test]
fn prekey_upload_seeds() {
    replay("prekey_upload");
}

#[test]
fn conversation_seeds() {
    replay("conversation");
}

#[test]
fn safety_number_seeds() {
    replay("safety_number");
}

/// Every genuine initial message of the fixture is accepted, through both
/// input paths of `initial_message` (a seed set that lost them would make the
/// target's acceptance checks dead code).
#[test]
fn genuine_messages_reach_acceptance() {
    let fx = checks::fixture();
    assert!(fx.initial.len() >= 5);
    for g in &fx.initial {
        checks::check_initial_message_bytes(&g.message);
    }
}

/// The committed seeds are exactly what the generator makes today: real
/// bundles, messages and states of the current protocol, not stale ones.
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
             `cargo test --test fuzz_seeds_session -- --ignored write_seeds`"
        );
    }
}

/// Regenerates `fuzz/seeds/<target>/` for the session targets.
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
