//! The committed seed inputs of the ratchet fuzz targets (`fuzz/seeds/<target>/`),
//! replayed through the targets' own checks (`fuzz/checks/ratchet.rs`), so the
//! seed corpora run in every `cargo test`.
//!
//! The seeds are generated, never edited by hand. After a change to the
//! ratchet's messages or state format, rewrite them with
//!
//!     cargo test --test fuzz_seeds -- --ignored write_seeds
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../fuzz/checks/ratchet.rs"]
mod checks;
mod seed_files;

fn replay(target: &str) {
    seed_files::replay(target, checks::check_for(target));
}

#[test]
fn ratchet_parse_seeds() {
    replay("ratchet_parse");
}

#[test]
fn ratchet_decrypt_seeds() {
    replay("ratchet_decrypt");
}

#[test]
fn ratchet_state_decode_seeds() {
    replay("ratchet_state_decode");
}

#[test]
fn ratchet_state_machine_seeds() {
    replay("ratchet_state_machine");
}

/// The committed seeds are exactly what the generator makes today: real
/// messages and states of the current protocol, not stale ones.
#[test]
fn seeds_are_current() {
    seed_files::assert_current(&checks::TARGETS, checks::seeds(), "fuzz_seeds");
}

/// Regenerates `fuzz/seeds/<target>/` for the ratchet targets.
#[test]
#[ignore = "writes files; run on demand"]
fn write_seeds() {
    seed_files::write(&checks::TARGETS, checks::seeds());
}

/// Found by `ratchet_state_decode`: a receiving chain whose next message
/// number is `u32::MAX` (reachable only after 2^32 - 1 messages in one chain,
/// or from a crafted state) and a header claiming message `u32::MAX` made
/// `decrypt` compute `next_n = n + 1`, which overflowed. No sender ever uses
/// `u32::MAX` (`EncryptError::ChainExhausted`), so decryption now rejects it
/// as `BeyondChainEnd` before any arithmetic (spec §5.5.3).
#[test]
fn regression_message_number_u32_max() {
    use rand_chacha::rand_core::SeedableRng;
    use sha2::Digest;
    let (mut alice, mut bob) = checks::new_pair(sova::ratchet::HeaderMode::Plain);
    let mut rng = rand_chacha::ChaCha20Rng::from_seed([1; 32]);
    bob.decrypt(&alice.encrypt(&mut rng, b"x").unwrap())
        .unwrap();
    let mut state = bob.to_bytes();
    // The only receiving chain (open) ends with: next_n u32, header key
    // (none), 0 keys; then the integrity check (spec §8.1), recomputed here.
    let check = state.len() - 32;
    let at = check - 7;
    assert_eq!(state[at..check], [0, 0, 0, 1, 0, 0, 0]);
    state[at..at + 4].copy_from_slice(&u32::MAX.to_be_bytes());
    let digest = sha2::Sha256::digest(&state[..check]);
    state[check..].copy_from_slice(&digest);
    checks::check_state_decode(&state);
}
