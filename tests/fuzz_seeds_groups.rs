//! The committed seed inputs of the group fuzz targets (`group_parse`,
//! `group_state_machine`; `fuzz/seeds/<target>/`), replayed through the
//! targets' own checks (`fuzz/checks/groups.rs`), so the seed corpora run in
//! every `cargo test`.
//!
//! The seeds are generated, never edited by hand. After a change to groups,
//! rewrite them with
//!
//!     cargo test --test fuzz_seeds_groups -- --ignored write_seeds
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../fuzz/checks/groups.rs"]
mod checks;
mod seed_files;

fn replay(target: &str) {
    seed_files::replay(target, checks::check_for(target));
}

#[test]
fn group_parse_seeds() {
    replay("group_parse");
}

#[test]
fn group_state_machine_seeds() {
    replay("group_state_machine");
}

/// The fixture's genuine objects are accepted where the seeds send them (a
/// fixture whose objects were all refused would make the targets'
/// acceptance checks dead code).
#[test]
fn genuine_objects_are_accepted() {
    use sova::groups::Applied;
    let fx = checks::fixture();
    let mut bob = fx.groups[2].clone();
    let (wire, _, text) = &fx.messages[0];
    assert_eq!(&bob.decrypt(wire, &fx.known).unwrap().plaintext, text);
    let (offer, owner) = &fx.offers[4];
    bob.accept_chain(&fx.carried(*owner, offer), &fx.known)
        .unwrap();
    assert_eq!(bob.apply(&fx.ops[0], &fx.known), Ok(Applied::Advanced));
    // The seed that reads, replays and tampers: its first step reads.
    checks::check_group_state_machine(&[2, 0, 0, 0, 0, 0, 0]);
}

/// The fixture's special objects and slots fail exactly where the state
/// machine's seeds use them to reach an error (so those errors stay
/// reached as the fixture changes).
#[test]
fn fixture_reaches_its_errors() {
    use sova::groups::{GroupError, Member, Role};
    let fx = checks::fixture();
    for (wire, want) in &fx.forged {
        let mut bob = fx.groups[2].clone();
        assert_eq!(bob.decrypt(wire, &fx.known).unwrap_err(), *want);
    }
    let slot = |i: usize| fx.slots[i].clone().unwrap();
    let (offer, owner) = &fx.offers[0];
    assert_eq!(
        slot(6).accept_chain(&fx.carried(*owner, offer), &fx.known),
        Err(GroupError::TooManyChains)
    );
    assert_eq!(slot(7).encrypt(b"x"), Err(GroupError::ChainExhausted));
    assert_eq!(slot(0).encrypt(&fx.long), Err(GroupError::PlaintextTooLong));
    let eve = Member {
        user: [0xEE; 32],
        role: Role::Member,
    };
    assert_eq!(
        slot(5).add(&fx.accounts[0], eve, &fx.known),
        Err(GroupError::TooManyMembers)
    );
}

/// The minimised corpus of the last campaign passes the checks too.
#[test]
fn group_corpus_replays() {
    for t in checks::TARGETS {
        seed_files::replay_dir(&format!("fuzz/corpus-min/{t}"), checks::check_for(t));
    }
}

/// The committed seeds are exactly what the generator makes today.
#[test]
fn seeds_are_current() {
    seed_files::assert_current(&checks::TARGETS, checks::seeds(), "fuzz_seeds_groups");
}

/// Regenerates `fuzz/seeds/<target>/` for the group targets.
#[test]
#[ignore = "writes files; run on demand"]
fn write_seeds() {
    seed_files::write(&checks::TARGETS, checks::seeds());
}
