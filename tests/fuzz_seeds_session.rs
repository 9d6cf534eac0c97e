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
mod seed_files;

fn replay(target: &str) {
    seed_files::replay(target, checks::check_for(target));
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
    seed_files::assert_current(&checks::TARGETS, checks::seeds(), "fuzz_seeds_session");
}

/// Regenerates `fuzz/seeds/<target>/` for the session targets.
#[test]
#[ignore = "writes files; run on demand"]
fn write_seeds() {
    seed_files::write(&checks::TARGETS, checks::seeds());
}
