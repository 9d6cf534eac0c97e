//! Attacks found by reviewing the hardening, each performed and refused.
#![cfg(feature = "hazmat")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use rand_chacha::rand_core::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use sha2::Digest;
use sova::ratchet::kdf::{header_keys, header_nonce, kdf_ck, kdf_rk, message_keys};
use sova::ratchet::message::{self, Header};
use sova::ratchet::{DecryptError, HeaderMode, Ratchet};
use sova::session::{Account, AccountError, Conversation, Session};
use sova::{CryptoProvider, DefaultProvider, Secret};

/// The ratchet message inside an initial message (spec §7.5): everything
/// after the 4-byte length `L` that ends the handshake fields.
fn strip(initial: &[u8]) -> Vec<u8> {
    // version, type, identity (128), EK (32), spk_id (4), flag (1) [+ opk id],
    // kem kind (1), kem id (4), CT (1088), L (4).
    let flag_at = 2 + 128 + 32 + 4;
    let mut at = flag_at + 1;
    if initial[flag_at] == 1 {
        at += 4;
    }
    at += 1 + 4 + 1088 + 4;
    initial[at..].to_vec()
}

/// Anyone who captured an initial message can strip its wrapper and deliver
/// the ratchet message inside as a bare message. It decrypts (once) but must
/// not confirm the session: otherwise a late session confirmed this way
/// would displace the one both parties use (spec §7.7).
#[test]
fn a_stripped_initial_message_does_not_confirm_a_session() {
    let mut r = ChaCha20Rng::from_seed([0x51; 32]);
    let alice = Account::new(&mut r).unwrap();
    let mut bob = Account::new(&mut r).unwrap();
    let bundle = bob.bundle(None, None).unwrap().to_bytes();

    // Alice's first session: two wrapped messages, held back by the network.
    let mut old = Session::start_unverified(&alice, &mut r, &bundle, HeaderMode::Plain).unwrap();
    let w0a = old.encrypt(&mut r, b"old 1").unwrap();
    let w0b = old.encrypt(&mut r, b"old 2").unwrap();

    // Alice starts again; the new session is used and confirmed on both sides.
    let mut new = Session::start_unverified(&alice, &mut r, &bundle, HeaderMode::Plain).unwrap();
    let mut conv = Conversation::new(alice.identity_key());
    let hello = new.encrypt(&mut r, b"new").unwrap();
    conv.decrypt(&mut bob, &hello).unwrap();
    new.decrypt(&conv.encrypt(&mut r, b"hi").unwrap()).unwrap();
    conv.decrypt(&mut bob, &new.encrypt(&mut r, b"again").unwrap())
        .unwrap();
    assert!(conv.active_session().unwrap().is_confirmed());
    let used = *new.session_id();

    // The network delivers the old session's first initial message, then
    // the second one stripped of its wrapper.
    assert_eq!(conv.decrypt(&mut bob, &w0a).unwrap().plaintext, b"old 1");
    let bare = strip(&w0b);
    assert_eq!(conv.decrypt(&mut bob, &bare).unwrap().plaintext, b"old 2");
    for s in conv.sessions() {
        if *s.session_id() != used {
            assert!(
                !s.is_confirmed(),
                "a stripped message confirmed the old session"
            );
        }
    }
    assert_eq!(*conv.active_session().unwrap().session_id(), used);
    // Bob still answers on the session Alice uses.
    let m = conv.encrypt(&mut r, b"still here").unwrap();
    assert_eq!(new.decrypt(&m).unwrap(), b"still here");
}

/// In ENCRYPTED mode a chain is found by its header key, so a peer (or a
/// buggy client) that opens a new chain with the ratchet key of a chain we
/// keep must be refused: two chains with one key would make a state that
/// no reader loads (spec §5.5.3, §8.2 rule C5).
#[test]
fn a_new_chain_reusing_a_kept_ratchet_key_is_refused() {
    let p = DefaultProvider::default();
    let sk = Secret::from_bytes([0x42; 32]);
    let bob_first = Secret::from_bytes([0x24; 32]);
    let ad = b"ad";
    let mut a = Ratchet::initiator(
        &sk,
        p.x25519_public_key(&bob_first),
        ad,
        HeaderMode::Encrypted,
    )
    .unwrap();
    let mut b = Ratchet::responder(&sk, bob_first, ad, HeaderMode::Encrypted).unwrap();
    let mut r = ChaCha20Rng::from_seed([0x52; 32]);
    let (m1, t1) = a.encrypt_traced(&p, &mut r, b"1").unwrap();
    let a1 = t1.ratchet_private.unwrap();
    b.decrypt(&m1).unwrap();
    let (reply, tb) = b.encrypt_traced(&p, &mut r, b"2").unwrap();
    let b1 = tb.ratchet_private.unwrap();
    a.decrypt(&reply).unwrap();

    // Bob's state (spec §8.2): RK and NHKr, for the forger who holds a1.
    let state = b.to_bytes();
    let mut at = 14 + 1 + 1 + 8;
    let ad_len = usize::from(u16::from_be_bytes([state[at], state[at + 1]]));
    at += 2 + ad_len;
    let rk = Secret::<32>::try_from_slice(&state[at..at + 32]).unwrap();
    at += 32;
    assert_eq!(state[at], 1, "DHs present");
    at += 1 + 32;
    assert_eq!(state[at], 1, "DHr present");
    at += 1 + 32;
    assert_eq!(state[at], 1, "sending chain present");
    at += 1 + 32 + 4;
    assert_eq!(state[at], 1, "HKs present");
    at += 1 + 32 + 4; // HKs, then PN
    assert_eq!(state[at], 1, "NHKs present");
    at += 1 + 32;
    assert_eq!(state[at], 1, "NHKr present");
    let nhkr = Secret::<32>::try_from_slice(&state[at + 1..at + 33]).unwrap();

    // A "new chain" message from Alice with her old key a1 again.
    let dh = p.x25519(&a1, &p.x25519_public_key(&b1)).unwrap();
    let rs = kdf_rk(&p, &rk, &dh).unwrap();
    let (_, mk) = kdf_ck(&p, &rs.chain_key).unwrap();
    let mut salt = [0u8; 16];
    r.fill_bytes(&mut salt);
    let keys = message_keys(&p, &mk, &salt).unwrap();
    let mut header = Header {
        ratchet_key: p.x25519_public_key(&a1),
        previous_chain_len: 1,
        n: 0,
        salt,
    }
    .encode();
    let hks = header_keys(&p, &nhkr).unwrap();
    let hnonce = header_nonce(&p, &hks.nonce_key, 0, &salt).unwrap();
    let mut wire = vec![message::VERSION, message::TYPE_ENCRYPTED_HEADER];
    let mut had = (ad.len() as u16).to_be_bytes().to_vec();
    had.extend_from_slice(ad);
    had.extend_from_slice(&wire);
    let htag = p.aead_seal(&hks.encryption_key, &hnonce, &had, &mut header);
    wire.extend_from_slice(&hnonce);
    wire.extend_from_slice(&header);
    wire.extend_from_slice(&htag);
    let mut body = vec![0u8; 32];
    body[1] = 0x80;
    body[0] = b'x';
    wire.extend_from_slice(&(body.len() as u32 + 16).to_be_bytes());
    let mut bad = (ad.len() as u16).to_be_bytes().to_vec();
    bad.extend_from_slice(ad);
    bad.extend_from_slice(&wire);
    let tag = p.aead_seal(&keys.key, &keys.nonce, &bad, &mut body);
    wire.extend_from_slice(&body);
    wire.extend_from_slice(&tag);

    let before = b.to_bytes();
    assert_eq!(b.decrypt(&wire), Err(DecryptError::Authentication));
    assert_eq!(b.to_bytes(), before);
    assert!(Ratchet::from_bytes(&b.to_bytes()).is_ok());
}

/// A batch of one-time prekeys is added whole or not at all: when the ids
/// would run out part-way, nothing changes (spec §8.4).
#[test]
fn a_prekey_batch_that_would_exhaust_the_ids_adds_nothing() {
    let mut r = ChaCha20Rng::from_seed([0x53; 32]);
    let bob = Account::new(&mut r).unwrap();
    // next_prekey_id (spec §8.4: after magic, version, generation and the
    // two identity secrets) set to 2^32 − 2: one more id can be allocated.
    let mut state = bob.to_bytes();
    state[87..91].copy_from_slice(&(u32::MAX - 1).to_be_bytes());
    let n = state.len() - 32;
    let digest = sha2::Sha256::digest(&state[..n]);
    state[n..].copy_from_slice(&digest);
    let mut bob = Account::from_bytes(&state).unwrap();
    let before = bob.to_bytes();
    assert_eq!(
        bob.generate_one_time_prekeys(&mut r, 3),
        Err(AccountError::PrekeyIdsExhausted)
    );
    assert_eq!(
        bob.generate_kem_one_time_prekeys(&mut r, 2),
        Err(AccountError::PrekeyIdsExhausted)
    );
    assert_eq!(bob.to_bytes(), before);
    assert_eq!(bob.generate_one_time_prekeys(&mut r, 1).unwrap().len(), 1);
}
