//! The committed seed inputs of the group fuzz targets (`group_parse`,
//! `group_state_machine`, `group_batch`; `fuzz/seeds/<target>/`), replayed through the
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

#[test]
fn group_batch_seeds() {
    replay("group_batch");
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

/// `group_batch`'s pool is read as genuine in a batch, and a signature
/// flipped in the middle of a batch is refused there alone (so the check
/// compares batches that succeed and batches that are split).
#[test]
fn batch_fixture_reaches_batches() {
    use rand_chacha::rand_core::SeedableRng;
    let fx = checks::fixture();
    let bf = checks::batch_fixture();
    let mut queue: Vec<Vec<u8>> = bf.pool[..256].to_vec();
    let last = queue[100].len() - 1;
    queue[100][last] ^= 1;
    let refs: Vec<&[u8]> = queue.iter().map(|m| &m[..]).collect();
    let mut bob = bf.starts[0].clone();
    let mut rng = rand_chacha::ChaCha20Rng::from_seed([1; 32]);
    let got = bob.decrypt_batch(&refs, &fx.known, &mut rng);
    for (i, r) in got.iter().enumerate() {
        if i == 100 {
            assert_eq!(r, &Err(sova::groups::GroupError::InvalidSignature));
        } else {
            assert!(r.is_ok(), "message {i}: {r:?}");
        }
    }
    // At epoch 1 none of them is read.
    let mut later = bf.starts[1].clone();
    let got = later.decrypt_batch(&refs[..128], &fx.known, &mut rng);
    assert!(got.iter().all(Result::is_err));
}
