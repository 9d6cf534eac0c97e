//! The session API (spec §7, §8): handshake, prekey handling, replay
//! protection, simultaneous initiation, persistence. Every rejection is
//! checked to leave the account or session exactly as it was.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use sova::kdf::labeled_sign;
use sova::labels;
use sova::ratchet::StateError;
use sova::ratchet::{self, HeaderMode};
use sova::session::{
    AcceptError, Account, BundleError, Conversation, DecryptError, PersistError, PrekeyBundle,
    Session, StartError, MAX_REPLAY_RECORDS, TYPE_INITIAL,
};
use sova::storage::StorageError;
use sova::Secret;

fn rng(seed: u8) -> ChaCha20Rng {
    ChaCha20Rng::from_seed([seed; 32])
}

fn accounts(r: &mut ChaCha20Rng) -> (Account, Account) {
    (Account::new(r).unwrap(), Account::new(r).unwrap())
}

/// Accepting must fail with `want` and leave the account unchanged.
fn accept_rejects(bob: &mut Account, msg: &[u8], want: AcceptError) {
    let before = bob.to_bytes();
    assert_eq!(bob.accept_unverified(msg).err(), Some(want));
    assert_eq!(
        bob.to_bytes(),
        before,
        "account changed by a rejected initial message"
    );
}

#[test]
fn round_trips_in_every_configuration() {
    for mode in [HeaderMode::Plain, HeaderMode::Encrypted] {
        for (use_opk, use_kem_otk) in [(false, false), (true, false), (false, true), (true, true)] {
            let mut r = rng(1);
            let (alice, mut bob) = accounts(&mut r);
            let opk = use_opk.then(|| bob.generate_one_time_prekeys(&mut r, 3).unwrap()[1]);
            let kotk =
                use_kem_otk.then(|| bob.generate_kem_one_time_prekeys(&mut r, 2).unwrap()[0]);
            let bundle = bob.bundle(opk, kotk).unwrap().to_bytes();
            let mut a = Session::start_unverified(&alice, &mut r, &bundle, mode).unwrap();
            assert!(a.is_pending());
            let m1 = a.encrypt(&mut r, b"one").unwrap();
            let m2 = a.encrypt(&mut r, b"two").unwrap();
            assert_eq!(m1[1], TYPE_INITIAL);
            let (mut b, pt) = bob.accept_unverified(&m1).unwrap();
            assert_eq!(pt, b"one");
            assert_eq!(b.session_id(), a.session_id());
            assert_eq!(b.peer_identity(), alice.identity());
            assert_eq!(a.peer_identity(), bob.identity());
            // One-time prekeys are consumed.
            assert_eq!(bob.one_time_prekey_ids().len(), if use_opk { 2 } else { 0 });
            assert_eq!(
                bob.kem_one_time_prekey_ids().len(),
                if use_kem_otk { 1 } else { 0 }
            );
            // The second wrapped message goes to the existing session.
            assert!(b.matches_initial_message(&m2));
            assert_eq!(b.decrypt(&m2).unwrap(), b"two");
            let reply = b.encrypt(&mut r, b"three").unwrap();
            assert_ne!(reply[1], TYPE_INITIAL);
            assert_eq!(a.decrypt(&reply).unwrap(), b"three");
            assert!(!a.is_pending());
            let m4 = a.encrypt(&mut r, b"four").unwrap();
            assert_ne!(m4[1], TYPE_INITIAL);
            assert_eq!(b.decrypt(&m4).unwrap(), b"four");
        }
    }
}

#[test]
fn consumed_one_time_prekey_is_rejected() {
    let mut r = rng(2);
    let (alice, mut bob) = accounts(&mut r);
    let carol = Account::new(&mut r).unwrap();
    let opk = bob.generate_one_time_prekeys(&mut r, 1).unwrap()[0];
    let bundle = bob.bundle(Some(opk), None).unwrap().to_bytes();
    let mut a = Session::start_unverified(&alice, &mut r, &bundle, HeaderMode::Plain).unwrap();
    let mut c = Session::start_unverified(&carol, &mut r, &bundle, HeaderMode::Plain).unwrap();
    let ma = a.encrypt(&mut r, b"a").unwrap();
    let mc = c.encrypt(&mut r, b"c").unwrap();
    bob.accept_unverified(&ma).unwrap();
    accept_rejects(&mut bob, &mc, AcceptError::OneTimePrekeyUnknownOrUsed(opk));
    accept_rejects(&mut bob, &ma, AcceptError::OneTimePrekeyUnknownOrUsed(opk));
}

#[test]
fn replayed_last_resort_handshake_is_rejected() {
    let mut r = rng(3);
    let (alice, mut bob) = accounts(&mut r);
    let bundle = bob.bundle(None, None).unwrap().to_bytes();
    let mut a = Session::start_unverified(&alice, &mut r, &bundle, HeaderMode::Plain).unwrap();
    let m = a.encrypt(&mut r, b"x").unwrap();
    bob.accept_unverified(&m).unwrap();
    accept_rejects(&mut bob, &m, AcceptError::Replay);
    // Survives persistence.
    let mut restored = Account::from_bytes(&bob.to_bytes()).unwrap();
    accept_rejects(&mut restored, &m, AcceptError::Replay);
}

#[test]
fn tampered_first_message_consumes_nothing() {
    let mut r = rng(4);
    let (alice, mut bob) = accounts(&mut r);
    let opk = bob.generate_one_time_prekeys(&mut r, 1).unwrap()[0];
    let bundle = bob.bundle(Some(opk), None).unwrap().to_bytes();
    let mut a = Session::start_unverified(&alice, &mut r, &bundle, HeaderMode::Plain).unwrap();
    let m = a.encrypt(&mut r, b"x").unwrap();
    let mut t = m.clone();
    let last = t.len() - 1;
    t[last] ^= 1;
    accept_rejects(
        &mut bob,
        &t,
        AcceptError::FirstMessage(DecryptError::Authentication),
    );
    // The KEM ciphertext is bound too: implicit rejection gives another secret.
    let mut k = m.clone();
    k[200] ^= 1;
    accept_rejects(
        &mut bob,
        &k,
        AcceptError::FirstMessage(DecryptError::Authentication),
    );
    bob.accept_unverified(&m).unwrap();
}

#[test]
fn malformed_initial_messages() {
    let mut r = rng(5);
    let (alice, mut bob) = accounts(&mut r);
    let bundle = bob.bundle(None, None).unwrap().to_bytes();
    let mut a = Session::start_unverified(&alice, &mut r, &bundle, HeaderMode::Plain).unwrap();
    let m = a.encrypt(&mut r, b"x").unwrap();
    for cut in 0..m.len() {
        let before = bob.to_bytes();
        assert!(bob.accept_unverified(&m[..cut]).is_err());
        assert_eq!(bob.to_bytes(), before);
    }
    let mut long = m.clone();
    long.push(0);
    accept_rejects(
        &mut bob,
        &long,
        AcceptError::Malformed(sova::session::InitialMessageError::TrailingBytes(1)),
    );
    // The identity binding signature is checked.
    let mut bad_sig = m.clone();
    bad_sig[2 + 64] ^= 1;
    accept_rejects(&mut bob, &bad_sig, AcceptError::InvalidIdentitySignature);
    // Unknown signed prekey id.
    let mut unknown = m.clone();
    unknown[2 + 128 + 32..2 + 128 + 36].copy_from_slice(&77u32.to_be_bytes());
    accept_rejects(&mut bob, &unknown, AcceptError::UnknownPrekey(77));
}

#[test]
fn bundle_rejections() {
    let mut r = rng(6);
    let (alice, bob) = accounts(&mut r);
    let good = bob.bundle(None, None).unwrap().to_bytes();
    let start =
        |b: &[u8]| Session::start_unverified(&alice, &mut rng(9), b, HeaderMode::Plain).err();
    for cut in [0, 1, 2, 100, 300, good.len() - 1] {
        assert!(matches!(start(&good[..cut]), Some(StartError::Bundle(_))));
    }
    let mut v = good.clone();
    v[0] = 9;
    assert_eq!(
        start(&v),
        Some(StartError::Bundle(BundleError::UnsupportedVersion(9)))
    );
    let mut t = good.clone();
    t.push(1);
    assert_eq!(
        start(&t),
        Some(StartError::Bundle(BundleError::TrailingBytes(1)))
    );
    let mut id = good.clone();
    id[2 + 100] ^= 1;
    assert_eq!(
        start(&id),
        Some(StartError::Bundle(BundleError::InvalidIdentitySignature))
    );
    let mut spk = good.clone();
    spk[2 + 128 + 4] ^= 1;
    assert_eq!(
        start(&spk),
        Some(StartError::Bundle(
            BundleError::InvalidSignedPrekeySignature
        ))
    );
    let mut kem = good.clone();
    kem[2 + 128 + 100 + 1 + 5 + 10] ^= 1;
    assert_eq!(
        start(&kem),
        Some(StartError::Bundle(BundleError::InvalidKemPrekeySignature))
    );
    let mut flag = good.clone();
    flag[2 + 128 + 100] = 7;
    assert_eq!(
        start(&flag),
        Some(StartError::Bundle(BundleError::InvalidFlag(7)))
    );
    let mut kind = good.clone();
    kind[2 + 128 + 100 + 1] = 9;
    assert_eq!(
        start(&kind),
        Some(StartError::Bundle(BundleError::InvalidKemKind(9)))
    );
    assert!(start(&good).is_none());
}

#[test]
fn signed_but_invalid_keys_in_a_bundle_are_rejected() {
    // A bundle signed by its owner can still carry unusable keys; the
    // initiator must refuse them rather than derive weak secrets.
    let mut r = rng(7);
    let alice = Account::new(&mut r).unwrap();
    let seed = Secret::from_bytes([5u8; 32]);
    let dh = Secret::from_bytes([6u8; 32]);
    let owner = sova::session::IdentityKeyPair::from_secrets(
        &sova::DefaultProvider::default(),
        seed.clone(),
        dh,
    )
    .unwrap();
    let p = sova::DefaultProvider::default();
    let sign = |kind: u8, id: u32, key: &[u8]| {
        labeled_sign(
            &p,
            &seed,
            labels::PREKEY,
            &[&[kind], &id.to_be_bytes(), key],
        )
        .unwrap()
    };
    let kem_ek = [0xffu8; 1184]; // coefficients >= q: fails the FIPS 203 modulus check
    let low_order = [0u8; 32];
    let good_spk = [9u8; 32];
    let make = |spk: [u8; 32], ek: [u8; 1184]| {
        PrekeyBundle {
            identity: *owner.public(),
            signed_prekey_id: 1,
            signed_prekey: spk,
            signed_prekey_signature: sign(1, 1, &spk),
            one_time_prekey: None,
            kem_prekey_kind: sova::session::PrekeyKind::KemLastResort,
            kem_prekey_id: 2,
            kem_prekey: Box::new(ek),
            kem_prekey_signature: sign(2, 2, &ek),
        }
        .to_bytes()
    };
    let start =
        |b: &[u8]| Session::start_unverified(&alice, &mut rng(9), b, HeaderMode::Plain).err();
    assert_eq!(
        start(&make(low_order, kem_ek)),
        Some(StartError::LowOrderKey)
    );
    assert_eq!(
        start(&make(good_spk, kem_ek)),
        Some(StartError::InvalidKemPrekey)
    );
}

#[test]
fn rotated_signed_prekey_still_accepts_messages_in_flight() {
    let mut r = rng(8);
    let (alice, mut bob) = accounts(&mut r);
    let bundle = bob.bundle(None, None).unwrap().to_bytes();
    let mut a = Session::start_unverified(&alice, &mut r, &bundle, HeaderMode::Plain).unwrap();
    let m = a.encrypt(&mut r, b"x").unwrap();
    bob.rotate_signed_prekey(&mut r).unwrap();
    bob.rotate_kem_last_resort(&mut r).unwrap();
    assert_eq!(bob.accept_unverified(&m).unwrap().1, b"x");
    // Two rotations later the old keys are gone.
    let mut a2 = Session::start_unverified(&alice, &mut r, &bundle, HeaderMode::Plain).unwrap();
    let m2 = a2.encrypt(&mut r, b"y").unwrap();
    bob.rotate_signed_prekey(&mut r).unwrap();
    assert!(matches!(
        bob.accept_unverified(&m2),
        Err(AcceptError::UnknownPrekey(_))
    ));
}

#[test]
fn simultaneous_initiation_converges_on_one_session() {
    let mut r = rng(10);
    let (mut alice, mut bob) = accounts(&mut r);
    let ba = alice.bundle(None, None).unwrap().to_bytes();
    let bb = bob.bundle(None, None).unwrap().to_bytes();
    // Both start at once.
    let mut a =
        conversation_of(Session::start_unverified(&alice, &mut r, &bb, HeaderMode::Plain).unwrap());
    let mut b =
        conversation_of(Session::start_unverified(&bob, &mut r, &ba, HeaderMode::Plain).unwrap());
    let from_a = a.encrypt(&mut r, b"hello from alice").unwrap();
    let from_b = b.encrypt(&mut r, b"hello from bob").unwrap();
    // Both first messages decrypt.
    assert_eq!(
        b.decrypt(&mut bob, &from_a).unwrap().plaintext,
        b"hello from alice"
    );
    assert_eq!(
        a.decrypt(&mut alice, &from_b).unwrap().plaintext,
        b"hello from bob"
    );
    assert_eq!(a.sessions().len(), 2);
    assert_eq!(b.sessions().len(), 2);
    // Both pick the same session.
    let sa = *a.active_session().unwrap().session_id();
    let sb = *b.active_session().unwrap().session_id();
    assert_eq!(sa, sb);
    // Later traffic uses it; the other session is kept for messages still
    // in flight on it (spec §7.7).
    for i in 0..3 {
        let m = a.encrypt(&mut r, format!("a{i}").as_bytes()).unwrap();
        assert_eq!(
            b.decrypt(&mut bob, &m).unwrap().plaintext,
            format!("a{i}").as_bytes()
        );
        let m = b.encrypt(&mut r, format!("b{i}").as_bytes()).unwrap();
        assert_eq!(
            a.decrypt(&mut alice, &m).unwrap().plaintext,
            format!("b{i}").as_bytes()
        );
    }
    assert_eq!(a.sessions().len(), 2);
    assert_eq!(b.sessions().len(), 2);
    assert_eq!(a.active_session().unwrap().session_id(), &sa);
}

#[test]
fn persistence_round_trips_and_sealing() {
    let mut r = rng(11);
    let (alice, mut bob) = accounts(&mut r);
    bob.generate_one_time_prekeys(&mut r, 5).unwrap();
    bob.generate_kem_one_time_prekeys(&mut r, 2).unwrap();
    let bundle = bob.bundle(None, None).unwrap().to_bytes();
    let mut a = Session::start_unverified(&alice, &mut r, &bundle, HeaderMode::Encrypted).unwrap();
    let m = a.encrypt(&mut r, b"x").unwrap();
    let (b, _) = bob.accept_unverified(&m).unwrap();

    let key = Secret::from_bytes([0x5a; 32]);
    let wrong = Secret::from_bytes([0x5b; 32]);
    for (bytes, sealed) in [
        (bob.to_bytes(), bob.to_sealed_bytes(&mut r, &key).unwrap()),
        (
            alice.to_bytes(),
            alice.to_sealed_bytes(&mut r, &key).unwrap(),
        ),
    ] {
        assert_eq!(Account::from_bytes(&bytes).unwrap().to_bytes(), bytes);
        assert_eq!(
            Account::from_sealed_bytes(&sealed, &key)
                .unwrap()
                .to_bytes(),
            bytes
        );
        assert_eq!(
            Account::from_sealed_bytes(&sealed, &wrong).err(),
            Some(PersistError::Storage(StorageError::Authentication))
        );
        let mut corrupt = sealed.clone();
        let l = corrupt.len();
        corrupt[l / 2] ^= 1;
        assert_eq!(
            Account::from_sealed_bytes(&corrupt, &key).err(),
            Some(PersistError::Storage(StorageError::Authentication))
        );
        let mut future = sealed.clone();
        future[13] = 2;
        assert_eq!(
            Account::from_sealed_bytes(&future, &key).err(),
            Some(PersistError::Storage(StorageError::UnsupportedVersion(2)))
        );
        // A session blob is not an account blob.
        assert_eq!(
            Session::from_sealed_bytes(&sealed, &key).err(),
            Some(PersistError::Storage(StorageError::WrongKind(1)))
        );
        for cut in 0..sealed.len().min(40) {
            assert!(Account::from_sealed_bytes(&sealed[..cut], &key).is_err());
        }
        let mut future_state = bytes.clone();
        future_state[14] = 9;
        assert_eq!(
            Account::from_bytes(&future_state).err(),
            Some(sova::ratchet::StateError::UnsupportedVersion(9))
        );
    }
    for s in [&a, &b] {
        let bytes = s.to_bytes();
        assert_eq!(Session::from_bytes(&bytes).unwrap().to_bytes(), bytes);
        let sealed = s.to_sealed_bytes(&mut r, &key).unwrap();
        assert_eq!(
            Session::from_sealed_bytes(&sealed, &key)
                .unwrap()
                .to_bytes(),
            bytes
        );
        for cut in 0..bytes.len() {
            assert!(Session::from_bytes(&bytes[..cut]).is_err());
        }
    }
    // A restored pair keeps talking.
    let mut a2 = Session::from_bytes(&a.to_bytes()).unwrap();
    let mut b2 = Session::from_bytes(&b.to_bytes()).unwrap();
    let reply = b2.encrypt(&mut r, b"after restore").unwrap();
    assert_eq!(a2.decrypt(&reply).unwrap(), b"after restore");
}

#[test]
fn foreign_initial_message_is_not_this_session() {
    let mut r = rng(12);
    let (alice, mut bob) = accounts(&mut r);
    let carol = Account::new(&mut r).unwrap();
    let bundle = bob.bundle(None, None).unwrap().to_bytes();
    let mut a = Session::start_unverified(&alice, &mut r, &bundle, HeaderMode::Plain).unwrap();
    let mut c = Session::start_unverified(&carol, &mut r, &bundle, HeaderMode::Plain).unwrap();
    let (mut b, _) = bob
        .accept_unverified(&a.encrypt(&mut r, b"a").unwrap())
        .unwrap();
    let mc = c.encrypt(&mut r, b"c").unwrap();
    let before = b.to_bytes();
    assert_eq!(b.decrypt(&mc).err(), Some(DecryptError::NotThisSession));
    assert_eq!(b.to_bytes(), before);
}

#[test]
fn debug_output_has_no_secrets() {
    let mut r = rng(13);
    let (alice, bob) = accounts(&mut r);
    let text = format!("{alice:?}");
    let state = alice.to_bytes();
    let seed_hex: String = state[15..23].iter().map(|b| format!("{b:02x}")).collect();
    assert!(!text.contains(&seed_hex));
    let bundle = bob.bundle(None, None).unwrap().to_bytes();
    let s = Session::start_unverified(&alice, &mut r, &bundle, HeaderMode::Plain).unwrap();
    assert!(!format!("{s:?}").contains(&seed_hex));
}

#[test]
fn bundle_sizes_match_the_spec() {
    // spec §7.3: 1,484 bytes, 1,520 with a one-time prekey.
    let mut r = rng(14);
    let mut bob = Account::new(&mut r).unwrap();
    let opk = bob.generate_one_time_prekeys(&mut r, 1).unwrap()[0];
    assert_eq!(bob.bundle(None, None).unwrap().to_bytes().len(), 1484);
    assert_eq!(bob.bundle(Some(opk), None).unwrap().to_bytes().len(), 1520);
}

#[test]
fn modified_repeat_of_the_initial_message_is_rejected() {
    // The initiator wraps messages until it hears back; every handshake field
    // of a repeat must equal the accepted one, not just the ephemeral key.
    let mut r = rng(15);
    let (alice, mut bob) = accounts(&mut r);
    let bundle = bob.bundle(None, None).unwrap().to_bytes();
    let mut a = Session::start_unverified(&alice, &mut r, &bundle, HeaderMode::Plain).unwrap();
    let m1 = a.encrypt(&mut r, b"one").unwrap();
    let m2 = a.encrypt(&mut r, b"two").unwrap();
    let (mut b, _) = bob.accept_unverified(&m1).unwrap();
    let mut edited = m2.clone();
    edited[2 + 128 + 32 + 4 + 1 + 5 + 7] ^= 1; // a byte of the KEM ciphertext
    assert!(!b.matches_initial_message(&edited));
    let before = b.to_bytes();
    assert_eq!(
        b.decrypt(&edited).err(),
        Some(DecryptError::InitialMessageMismatch)
    );
    assert_eq!(b.to_bytes(), before);
    assert!(b.matches_initial_message(&m2));
    assert_eq!(b.decrypt(&m2).unwrap(), b"two");
}

/// Recomputes the integrity check that ends a plain state encoding (spec
/// §8.1), so that a test can reach the field checks behind it.
/// spec §8.4: where the current signed prekey starts in an account state
/// (after magic, version, generation, IK_sig.seed, IK_dh.priv, next id and
/// the long-term published flag).
const SPK_AT: usize = 14 + 1 + 8 + 32 + 32 + 4 + 1;
/// spec §8.5: offsets in a session state.
const ROLE_AT: usize = 15;
const CONFIRMED_AT: usize = 16;
const TH_AT: usize = 17;
const PEER_AT: usize = TH_AT + 32 + 64;
const PENDING_AT: usize = PEER_AT + 128;

fn recheck(state: &mut [u8]) {
    use sha2::Digest;
    let at = state.len() - 32;
    let digest = sha2::Sha256::digest(&state[..at]);
    state[at..].copy_from_slice(&digest);
}

#[test]
fn inconsistent_states_are_rejected() {
    let mut r = rng(16);
    let (alice, mut bob) = accounts(&mut r);
    bob.generate_one_time_prekeys(&mut r, 2).unwrap();
    // spec §8.4: magic, version, generation, two secrets, next id, SPK and
    // its (no) replay records, no previous SPK, count, then each one-time
    // prekey as id || private || published.
    let mut bytes = bob.to_bytes();
    let first = SPK_AT + 36 + 2 + 1 + 2;
    let id = bytes[first..first + 4].to_vec();
    bytes[first + 37..first + 41].copy_from_slice(&id);
    recheck(&mut bytes);
    assert_eq!(
        Account::from_bytes(&bytes).err(),
        Some(sova::ratchet::StateError::Invalid("one-time prekey order"))
    );
    // Swapped (out of order but distinct) is rejected the same way, and a
    // one-time id equal to the signed prekey's is a duplicate.
    let mut swapped = bob.to_bytes();
    let (a, b) = (
        swapped[first..first + 37].to_vec(),
        swapped[first + 37..first + 74].to_vec(),
    );
    swapped[first..first + 37].copy_from_slice(&b);
    swapped[first + 37..first + 74].copy_from_slice(&a);
    recheck(&mut swapped);
    assert_eq!(
        Account::from_bytes(&swapped).err(),
        Some(sova::ratchet::StateError::Invalid("one-time prekey order"))
    );
    let mut dup = bob.to_bytes();
    let spk_id = dup[SPK_AT..SPK_AT + 4].to_vec();
    dup[first..first + 4].copy_from_slice(&spk_id);
    recheck(&mut dup);
    assert_eq!(
        Account::from_bytes(&dup).err(),
        Some(sova::ratchet::StateError::Invalid("duplicate prekey id"))
    );
    // spec §8.5: a pending handshake must carry the local identity.
    let bundle = bob.bundle(None, None).unwrap().to_bytes();
    let a = Session::start_unverified(&alice, &mut r, &bundle, HeaderMode::Plain).unwrap();
    let mut s = a.to_bytes();
    let identity_at = PENDING_AT + 1 + 4 + 2;
    s[identity_at] ^= 1;
    recheck(&mut s);
    assert_eq!(
        Session::from_bytes(&s).err(),
        Some(sova::ratchet::StateError::Invalid("pending handshake"))
    );
    // spec §8.5: only a responder records the initial message it accepted.
    let mut a2 = Session::start_unverified(&alice, &mut r, &bundle, HeaderMode::Plain).unwrap();
    let (responder, _) = bob
        .accept_unverified(&a2.encrypt(&mut r, b"x").unwrap())
        .unwrap();
    let mut s = responder.to_bytes();
    assert_eq!(s[ROLE_AT], 0, "role byte: responder");
    s[ROLE_AT] = 1;
    s[CONFIRMED_AT] = 1; // a confirmed initiator, so only the record is wrong
    recheck(&mut s);
    assert_eq!(
        Session::from_bytes(&s).err(),
        Some(sova::ratchet::StateError::Invalid("initial message record"))
    );
}

#[test]
fn a_peer_that_starts_again_is_followed_to_its_newest_session() {
    // Alice loses her sessions (restores only her account) and starts again:
    // Bob's conversation holds two sessions initiated by Alice and must send
    // on the newest one, which is the only one Alice still has (spec §7.7).
    let mut r = rng(17);
    let (alice, mut bob) = accounts(&mut r);
    let bundle = bob.bundle(None, None).unwrap().to_bytes();
    let mut old = Session::start_unverified(&alice, &mut r, &bundle, HeaderMode::Plain).unwrap();
    let (b_old, _) = bob
        .accept_unverified(&old.encrypt(&mut r, b"first").unwrap())
        .unwrap();
    let mut conv = conversation_of(b_old);
    let mut new = Session::start_unverified(&alice, &mut r, &bundle, HeaderMode::Plain).unwrap();
    let hello = new.encrypt(&mut r, b"again").unwrap();
    assert_eq!(conv.decrypt(&mut bob, &hello).unwrap().plaintext, b"again");
    assert_eq!(
        conv.active_session().unwrap().session_id(),
        new.session_id()
    );
    let reply = conv.encrypt(&mut r, b"welcome back").unwrap();
    assert_eq!(new.decrypt(&reply).unwrap(), b"welcome back");
}

fn sha256(data: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    let mut out = [0u8; 32];
    out.copy_from_slice(&sha2::Sha256::digest(data));
    out
}

/// `account` with `n` more replay records on its current signed prekey, each
/// the SHA-256 of an ephemeral key nobody sent (spec §8.4): what `n` more
/// accepted handshakes without a one-time prekey would have left, without
/// the 80 ms each costs in a debug build.
fn with_more_records(account: &Account, n: usize, tag: u8) -> Account {
    let bytes = account.to_bytes();
    let at = SPK_AT + 36;
    let r = usize::from(u16::from_be_bytes([bytes[at], bytes[at + 1]]));
    let mut records: Vec<[u8; 32]> = bytes[at + 2..at + 2 + 32 * r]
        .chunks(32)
        .map(|c| c.try_into().unwrap())
        .collect();
    records.extend((0..n as u64).map(|i| sha256(&[&[tag][..], &i.to_be_bytes()].concat())));
    records.sort_unstable();
    let mut out = bytes[..at].to_vec();
    out.extend_from_slice(&(records.len() as u16).to_be_bytes());
    records.iter().for_each(|t| out.extend_from_slice(t));
    out.extend_from_slice(&bytes[at + 2 + 32 * r..]);
    recheck(&mut out);
    Account::from_bytes(&out).unwrap()
}

/// Bob has accepted Alice's initial message `first`, made without a
/// one-time prekey; Mallory holds Bob's public bundle.
struct Flush {
    r: ChaCha20Rng,
    bob: Account,
    mallory: Account,
    bundle: Vec<u8>,
    spk: u32,
    first: Vec<u8>,
}

fn flush_setup(seed: u8) -> Flush {
    let mut r = rng(seed);
    let (alice, mut bob) = accounts(&mut r);
    let mallory = Account::new(&mut r).unwrap();
    let bundle = bob.bundle(None, None).unwrap();
    let spk = bundle.signed_prekey_id;
    let bundle = bundle.to_bytes();
    let mut to_bob = Session::start_unverified(&alice, &mut r, &bundle, HeaderMode::Plain).unwrap();
    let first = to_bob.encrypt(&mut r, b"from alice").unwrap();
    bob.accept_unverified(&first).unwrap();
    Flush {
        r,
        bob,
        mallory,
        bundle,
        spk,
        first,
    }
}

#[test]
fn replay_cache_flush_attack_fails() {
    // The attack on a first-in-first-out replay cache: anyone holding Bob's
    // bundle pushes Alice's entry out with handshakes of their own, then
    // replays her initial message. Replay records now live as long as the
    // signed prekey (spec §7.6): the replay fails, and a full store fails
    // closed instead of forgetting.
    let started = std::time::Instant::now();
    let Flush {
        mut r,
        mut bob,
        mallory,
        bundle,
        spk,
        first,
    } = flush_setup(18);
    let handshake = |r: &mut ChaCha20Rng| {
        let mut s = Session::start_unverified(&mallory, r, &bundle, HeaderMode::Plain).unwrap();
        s.encrypt(r, b"flood").unwrap()
    };
    // Real handshakes of Mallory's, then the records of the others up to
    // 4,096 (the old window), then the last one for real.
    for _ in 0..8 {
        bob.accept_unverified(&handshake(&mut r)).unwrap();
    }
    accept_rejects(&mut bob, &first, AcceptError::Replay);
    bob = with_more_records(&bob, MAX_REPLAY_RECORDS - 1 - bob.replay_record_count(), 1);
    bob.accept_unverified(&handshake(&mut r)).unwrap();
    assert_eq!(bob.replay_record_count(), MAX_REPLAY_RECORDS);
    // 4,095 handshakes after Alice's (8 + 4,086 + 1), her replay still fails.
    accept_rejects(&mut bob, &first, AcceptError::Replay);
    // The store is full: fail closed, before any computation, account unchanged.
    let over = handshake(&mut r);
    accept_rejects(&mut bob, &over, AcceptError::ReplayStoreFull(spk));
    let mut restored = Account::from_bytes(&bob.to_bytes()).unwrap();
    accept_rejects(&mut restored, &first, AcceptError::Replay);
    accept_rejects(&mut restored, &over, AcceptError::ReplayStoreFull(spk));
    // A handshake with a one-time prekey needs no record.
    let opk = bob.generate_one_time_prekeys(&mut r, 1).unwrap()[0];
    let with_opk = bob.bundle(Some(opk), None).unwrap().to_bytes();
    let mut s = Session::start_unverified(&mallory, &mut r, &with_opk, HeaderMode::Plain).unwrap();
    bob.accept_unverified(&s.encrypt(&mut r, b"one-time").unwrap())
        .unwrap();
    assert_eq!(bob.replay_record_count(), MAX_REPLAY_RECORDS);
    // Rotating starts a fresh store; the previous prekey keeps its records.
    bob.rotate_signed_prekey(&mut r).unwrap();
    assert_eq!(bob.replay_record_count(), 0);
    accept_rejects(&mut bob, &first, AcceptError::Replay);
    accept_rejects(&mut bob, &over, AcceptError::ReplayStoreFull(spk));
    let fresh = bob.bundle(None, None).unwrap().to_bytes();
    let mut s = Session::start_unverified(&mallory, &mut r, &fresh, HeaderMode::Plain).unwrap();
    bob.accept_unverified(&s.encrypt(&mut r, b"after rotation").unwrap())
        .unwrap();
    // A second rotation drops the prekey and its records together.
    bob.rotate_signed_prekey(&mut r).unwrap();
    accept_rejects(&mut bob, &first, AcceptError::UnknownPrekey(spk));
    eprintln!("flush attack test: {:?}", started.elapsed());
}

/// The flush attack as the attacker runs it: 4,096 real handshakes of its
/// own, then the replay (about 25 seconds in a test build, whose
/// dependencies are optimised; `replay_cache_flush_attack_fails` covers the
/// same rules with most records written directly).
#[test]
fn replay_cache_flush_attack_fails_with_real_handshakes() {
    let started = std::time::Instant::now();
    let Flush {
        mut r,
        mut bob,
        mallory,
        bundle,
        spk,
        first,
    } = flush_setup(22);
    for _ in 1..MAX_REPLAY_RECORDS {
        let mut s =
            Session::start_unverified(&mallory, &mut r, &bundle, HeaderMode::Plain).unwrap();
        bob.accept_unverified(&s.encrypt(&mut r, b"flood").unwrap())
            .unwrap();
    }
    accept_rejects(&mut bob, &first, AcceptError::Replay);
    let mut s = Session::start_unverified(&mallory, &mut r, &bundle, HeaderMode::Plain).unwrap();
    let over = s.encrypt(&mut r, b"flood").unwrap();
    accept_rejects(&mut bob, &over, AcceptError::ReplayStoreFull(spk));
    accept_rejects(&mut bob, &first, AcceptError::Replay);
    eprintln!("flush attack with real handshakes: {:?}", started.elapsed());
}

#[test]
fn a_replayed_session_does_not_displace_a_confirmed_one() {
    let mut r = rng(20);
    let (alice, mut bob) = accounts(&mut r);
    let bundle = bob.bundle(None, None).unwrap().to_bytes();
    let backup = bob.to_bytes();
    let mut to_bob = Session::start_unverified(&alice, &mut r, &bundle, HeaderMode::Plain).unwrap();
    let first = to_bob.encrypt(&mut r, b"hello").unwrap();
    let mut conv = Conversation::new(alice.identity_key());
    assert_eq!(conv.decrypt(&mut bob, &first).unwrap().plaintext, b"hello");
    assert!(!conv.active_session().unwrap().is_confirmed());
    let reply = conv.encrypt(&mut r, b"hi").unwrap();
    assert_eq!(to_bob.decrypt(&reply).unwrap(), b"hi");
    assert!(to_bob.is_confirmed() && !to_bob.is_pending());
    let plain = to_bob.encrypt(&mut r, b"plain").unwrap();
    assert_ne!(plain[1], TYPE_INITIAL);
    assert_eq!(conv.decrypt(&mut bob, &plain).unwrap().plaintext, b"plain");
    assert!(conv.active_session().unwrap().is_confirmed());
    // Bob's account refuses the replay; an older copy of it accepts it (and
    // its generation shows it is older).
    accept_rejects(&mut bob, &first, AcceptError::Replay);
    let mut old = Account::from_bytes(&backup).unwrap();
    assert!(old.generation() < bob.generation());
    let (replayed, pt) = old.accept_unverified(&first).unwrap();
    assert_eq!(pt, b"hello");
    assert!(!replayed.is_confirmed());
    // The replayed session is the one already held (the same id): the
    // conversation refuses it and keeps sending on the confirmed session.
    let replayed_bytes = replayed.to_bytes();
    assert_eq!(
        conv.add(replayed),
        Err(sova::session::ConversationError::DuplicateSession)
    );
    assert_eq!(conv.sessions().len(), 1);
    assert!(conv.active_session().unwrap().is_confirmed());
    let next = conv.encrypt(&mut r, b"still here").unwrap();
    assert_eq!(to_bob.decrypt(&next).unwrap(), b"still here");
    // Added through a fresh conversation it is newest among sessions of the
    // same initiator, but not confirmed: the confirmed one still wins, also
    // after persistence.
    let mut other = Conversation::new(alice.identity_key());
    other
        .add(Session::from_bytes(&conv.sessions()[0].to_bytes()).unwrap())
        .unwrap();
    let mut replayed = Session::from_bytes(&replayed_bytes).unwrap();
    // A distinct id, as a second session of the same initiator would have.
    assert!(!replayed.is_confirmed());
    replayed = Session::from_bytes(&replayed.to_bytes()).unwrap();
    assert_eq!(
        other.add(replayed),
        Err(sova::session::ConversationError::DuplicateSession)
    );
    let restored = Conversation::from_bytes(&conv.to_bytes()).unwrap();
    assert_eq!(
        restored
            .sessions()
            .iter()
            .map(Session::is_confirmed)
            .collect::<Vec<_>>(),
        vec![true]
    );
}

#[test]
fn a_late_initial_message_does_not_displace_a_confirmed_session() {
    // Alice's first session is delayed; her second is confirmed first. The
    // late one arrives newest but must not take over the sending side.
    let mut r = rng(23);
    let (alice, mut bob) = accounts(&mut r);
    let bundle = bob.bundle(None, None).unwrap().to_bytes();
    let mut late = Session::start_unverified(&alice, &mut r, &bundle, HeaderMode::Plain).unwrap();
    let late_first = late.encrypt(&mut r, b"late").unwrap();
    let mut s = Session::start_unverified(&alice, &mut r, &bundle, HeaderMode::Plain).unwrap();
    let mut conv = Conversation::new(alice.identity_key());
    conv.decrypt(&mut bob, &s.encrypt(&mut r, b"one").unwrap())
        .unwrap();
    s.decrypt(&conv.encrypt(&mut r, b"two").unwrap()).unwrap();
    conv.decrypt(&mut bob, &s.encrypt(&mut r, b"three").unwrap())
        .unwrap();
    assert_eq!(
        conv.decrypt(&mut bob, &late_first).unwrap().plaintext,
        b"late"
    );
    assert_eq!(conv.sessions().len(), 2);
    assert_eq!(conv.active_session().unwrap().session_id(), s.session_id());
    assert_eq!(
        s.decrypt(&conv.encrypt(&mut r, b"four").unwrap()).unwrap(),
        b"four"
    );
}

#[test]
fn a_replaced_one_time_prekey_fails_the_handshake_and_omitting_it_downgrades() {
    // spec §7.2: one-time X25519 prekeys are unsigned. A server that
    // replaces one makes the handshake fail; one that omits it makes the
    // handshake silently succeed without it.
    let mut r = rng(19);
    let (alice, mut bob) = accounts(&mut r);
    let server = Account::new(&mut r).unwrap();
    let opk = bob.generate_one_time_prekeys(&mut r, 1).unwrap()[0];
    let mut replaced = bob.bundle(Some(opk), None).unwrap();
    let server_key = server.bundle(None, None).unwrap().signed_prekey;
    replaced.one_time_prekey = Some((opk, server_key));
    let mut a =
        Session::start_unverified(&alice, &mut r, &replaced.to_bytes(), HeaderMode::Plain).unwrap();
    let m = a.encrypt(&mut r, b"x").unwrap();
    accept_rejects(
        &mut bob,
        &m,
        AcceptError::FirstMessage(DecryptError::Authentication),
    );
    assert_eq!(bob.one_time_prekey_ids(), vec![opk]);
    let mut omitted = bob.bundle(Some(opk), None).unwrap();
    omitted.one_time_prekey = None;
    let mut a =
        Session::start_unverified(&alice, &mut r, &omitted.to_bytes(), HeaderMode::Plain).unwrap();
    let (_, pt) = bob
        .accept_unverified(&a.encrypt(&mut r, b"y").unwrap())
        .unwrap();
    assert_eq!(pt, b"y");
    assert_eq!(
        bob.one_time_prekey_ids(),
        vec![opk],
        "the prekey was not used"
    );
}

#[test]
fn generation_counts_every_change() {
    let mut r = rng(21);
    let (alice, mut bob) = accounts(&mut r);
    assert_eq!(bob.generation(), 0);
    bob.generate_one_time_prekeys(&mut r, 2).unwrap();
    assert_eq!(bob.generation(), 1);
    bob.generate_one_time_prekeys(&mut r, 0).unwrap();
    bob.generate_kem_one_time_prekeys(&mut r, 0).unwrap();
    assert_eq!(bob.generation(), 1, "nothing changed");
    bob.generate_kem_one_time_prekeys(&mut r, 1).unwrap();
    bob.rotate_signed_prekey(&mut r).unwrap();
    bob.rotate_kem_last_resort(&mut r).unwrap();
    assert_eq!(bob.generation(), 4);
    assert!(bob.generate_one_time_prekeys(&mut r, 5000).is_err());
    let bundle = bob.bundle(None, None).unwrap().to_bytes();
    let m = Session::start_unverified(&alice, &mut r, &bundle, HeaderMode::Plain)
        .unwrap()
        .encrypt(&mut r, b"x")
        .unwrap();
    bob.accept_unverified(&m).unwrap();
    assert_eq!(bob.generation(), 5);
    accept_rejects(&mut bob, &m, AcceptError::Replay);
    assert_eq!(bob.generation(), 5);
    let restored = Account::from_bytes(&bob.to_bytes()).unwrap();
    assert_eq!(restored.generation(), 5);
    assert_eq!(&bob.to_bytes()[15..23], &5u64.to_be_bytes());
}

/// `bytes` with `edit` applied and the check recomputed must fail to decode
/// as a session with `want`.
fn session_rejects(bytes: &[u8], edit: impl FnOnce(&mut Vec<u8>), want: StateError) {
    let mut s = bytes.to_vec();
    edit(&mut s);
    recheck(&mut s);
    assert_eq!(Session::from_bytes(&s).err(), Some(want));
}

fn account_rejects(bytes: &[u8], edit: impl FnOnce(&mut Vec<u8>), want: StateError) {
    let mut s = bytes.to_vec();
    edit(&mut s);
    recheck(&mut s);
    assert_eq!(Account::from_bytes(&s).err(), Some(want));
}

#[test]
fn session_states_no_writer_produces_are_rejected() {
    // spec §8.5, every rule in turn.
    let mut r = rng(24);
    let (alice, mut bob) = accounts(&mut r);
    let bundle = bob.bundle(None, None).unwrap().to_bytes();
    let mut a = Session::start_unverified(&alice, &mut r, &bundle, HeaderMode::Plain).unwrap();
    let pending = a.to_bytes();
    let (mut b, _) = bob
        .accept_unverified(&a.encrypt(&mut r, b"x").unwrap())
        .unwrap();
    let responder = b.to_bytes();
    a.decrypt(&b.encrypt(&mut r, b"y").unwrap()).unwrap();
    let confirmed = a.to_bytes();
    b.decrypt(&a.encrypt(&mut r, b"z").unwrap()).unwrap();
    assert!(b.is_confirmed());
    let confirmed_responder = b.to_bytes();
    for ok in [&pending, &responder, &confirmed, &confirmed_responder] {
        assert_eq!(&Session::from_bytes(ok).unwrap().to_bytes(), ok);
    }
    let invalid = StateError::Invalid;
    session_rejects(&pending, |s| s[ROLE_AT] = 2, invalid("role"));
    session_rejects(&pending, |s| s[CONFIRMED_AT] = 2, invalid("confirmed"));
    // The peer's identity binding must verify.
    session_rejects(&pending, |s| s[PEER_AT + 64] ^= 1, invalid("peer identity"));
    // A pending initiator is not confirmed, a non-pending one is.
    session_rejects(&pending, |s| s[CONFIRMED_AT] = 1, invalid("confirmed"));
    session_rejects(&confirmed, |s| s[CONFIRMED_AT] = 0, invalid("confirmed"));
    // The pending handshake: only on an initiator, with a valid binding.
    session_rejects(
        &responder,
        |s| s[PENDING_AT] = 1,
        invalid("pending handshake"),
    );
    let binding_at = PENDING_AT + 1 + 4 + 2 + 64;
    session_rejects(
        &pending,
        |s| s[binding_at] ^= 1,
        invalid("pending handshake"),
    );
    session_rejects(&pending, |s| s[PENDING_AT] = 2, invalid("option tag"));
    // The initial-message record: on every responder, on no initiator.
    let record_at = PENDING_AT + 1;
    session_rejects(
        &responder,
        |s| {
            s[record_at] = 0;
            s.drain(record_at + 1..record_at + 65);
        },
        invalid("initial message record"),
    );
    session_rejects(&responder, |s| s[record_at] = 2, invalid("option tag"));
    // (A confirmed initiator holds no pending handshake either.)
    assert_eq!(confirmed[PENDING_AT..PENDING_AT + 2], [0, 0]);
    session_rejects(
        &confirmed,
        |s| {
            s[record_at] = 1;
            s.splice(record_at + 1..record_at + 1, [7u8; 64]);
        },
        invalid("initial message record"),
    );
    // The session id is the ratchet's associated data, TH.
    session_rejects(&confirmed, |s| s[TH_AT] ^= 1, invalid("session id"));
    session_rejects(&responder, |s| s[TH_AT + 31] ^= 1, invalid("session id"));
    // Trailing bytes after the ratchet state.
    session_rejects(
        &responder,
        |s| s.insert(s.len() - 32, 0),
        StateError::TrailingBytes,
    );
}

#[test]
fn account_states_no_writer_produces_are_rejected() {
    // spec §8.4: replay records, prekey ids.
    let mut r = rng(25);
    let (alice, mut bob) = accounts(&mut r);
    let accept_some = |bob: &mut Account, r: &mut ChaCha20Rng, n: usize| {
        let bundle = bob.bundle(None, None).unwrap().to_bytes();
        for _ in 0..n {
            let mut s = Session::start_unverified(&alice, r, &bundle, HeaderMode::Plain).unwrap();
            bob.accept_unverified(&s.encrypt(r, b"x").unwrap()).unwrap();
        }
    };
    accept_some(&mut bob, &mut r, 3);
    bob.rotate_signed_prekey(&mut r).unwrap();
    accept_some(&mut bob, &mut r, 2);
    bob.rotate_kem_last_resort(&mut r).unwrap();
    let bytes = bob.to_bytes();
    assert_eq!(Account::from_bytes(&bytes).unwrap().to_bytes(), bytes);
    // Layout: SPK, r = 2, records, previous SPK, r = 3, records, n = 0, PQSPK, previous PQSPK.
    let records = SPK_AT + 36 + 2;
    assert_eq!(&bytes[records - 2..records], &[0, 2]);
    let previous = records + 64;
    assert_eq!(bytes[previous], 1);
    let previous_records = previous + 1 + 36 + 2;
    assert_eq!(&bytes[previous_records - 2..previous_records], &[0, 3]);
    let pqspk = previous_records + 96 + 2;
    let invalid = StateError::Invalid;
    let swap = |s: &mut Vec<u8>, a: usize, b: usize, len: usize| {
        let x = s[a..a + len].to_vec();
        s.copy_within(b..b + len, a);
        s[b..b + len].copy_from_slice(&x);
    };
    // Records out of order, duplicated, or too many.
    account_rejects(
        &bytes,
        |s| swap(s, records, records + 32, 32),
        invalid("replay record order"),
    );
    account_rejects(
        &bytes,
        |s| s.copy_within(records..records + 32, records + 32),
        invalid("replay record order"),
    );
    account_rejects(
        &bytes,
        |s| swap(s, previous_records + 32, previous_records + 64, 32),
        invalid("replay record order"),
    );
    let too_many = (MAX_REPLAY_RECORDS as u16 + 1).to_be_bytes();
    account_rejects(
        &bytes,
        |s| s[records - 2..records].copy_from_slice(&too_many),
        invalid("replay record count"),
    );
    // Prekey ids start at 1; a rotation gives the newer prekey the larger id.
    account_rejects(
        &bytes,
        |s| s[SPK_AT..SPK_AT + 4].copy_from_slice(&[0; 4]),
        invalid("prekey id"),
    );
    account_rejects(
        &bytes,
        |s| swap(s, SPK_AT, previous + 1, 36),
        invalid("previous prekey id"),
    );
    account_rejects(
        &bytes,
        |s| swap(s, pqspk, pqspk + 68 + 1, 68),
        invalid("previous prekey id"),
    );
}

/// The session's caller-buffer and in-place variants: the initiator's
/// wrapped messages (pending), a repeat of the initial message on the
/// responder, plain messages after the reply; errors leave the session and
/// `out` unchanged.
#[test]
fn in_place_and_into_variants() {
    let mut r = rng(41);
    let (alice, mut bob) = accounts(&mut r);
    let opk = bob.generate_one_time_prekeys(&mut r, 1).unwrap()[0];
    let bundle = bob.bundle(Some(opk), None).unwrap().to_bytes();
    let mut a = Session::start_unverified(&alice, &mut r, &bundle, HeaderMode::Plain).unwrap();
    let mut first = b"pre".to_vec();
    a.encrypt_into(&mut r, b"one", &mut first).unwrap();
    let first = first[3..].to_vec();
    let (mut b, pt) = bob.accept_unverified(&first).unwrap();
    assert_eq!(pt, b"one");
    // A second wrapped message, through each decrypt variant on copies.
    let mut second = Vec::new();
    a.encrypt_into(&mut r, b"two", &mut second).unwrap();
    assert!(a.is_pending());
    let b_state = b.to_bytes();
    let mut b2 = Session::from_bytes(&b_state).unwrap();
    let mut in_place = second.clone();
    assert_eq!(b.decrypt_in_place(&mut in_place).unwrap(), b"two");
    let mut out = b"x".to_vec();
    b2.decrypt_into(&second, &mut out).unwrap();
    assert_eq!(out, b"xtwo");
    assert_eq!(b.to_bytes(), b2.to_bytes());
    // Errors: a replay, a tampered copy; state and `out` unchanged.
    let before = b.to_bytes();
    let mut out = b"keep".to_vec();
    assert!(b.decrypt_into(&second, &mut out).is_err());
    assert_eq!(out, b"keep");
    let mut tampered = second.clone();
    *tampered.last_mut().unwrap() ^= 1;
    let mut copy = tampered.clone();
    assert!(b.decrypt_in_place(&mut copy).is_err());
    assert_eq!(copy.len(), tampered.len());
    assert_eq!(b.to_bytes(), before);
    // The reply confirms Alice's session and ends the wrapping.
    let mut reply = Vec::new();
    b.encrypt_into(&mut r, b"three", &mut reply).unwrap();
    let before = a.to_bytes();
    let mut bad = reply.clone();
    bad[70] ^= 1;
    assert!(a.decrypt_in_place(&mut bad).is_err());
    assert_eq!(a.to_bytes(), before);
    assert_eq!(a.decrypt_in_place(&mut reply).unwrap(), b"three");
    assert!(!a.is_pending());
    assert!(a.is_confirmed());
    let mut m = Vec::new();
    a.encrypt_into(&mut r, b"four", &mut m).unwrap();
    assert_eq!(b.decrypt(&m).unwrap(), b"four");
}

/// An account restored from its encoding derives the one-time prekeys'
/// public keys on use: the bundles and handshakes are those of the
/// original account.
#[test]
fn restored_account_derives_one_time_prekeys_on_use() {
    let mut r = rng(43);
    let (alice, mut bob) = accounts(&mut r);
    let opks = bob.generate_one_time_prekeys(&mut r, 3).unwrap();
    let kems = bob.generate_kem_one_time_prekeys(&mut r, 3).unwrap();
    let mut restored = Account::from_bytes(&bob.to_bytes()).unwrap();
    for i in 0..3 {
        let b1 = bob.bundle(Some(opks[i]), Some(kems[i])).unwrap().to_bytes();
        let b2 = restored
            .bundle(Some(opks[i]), Some(kems[i]))
            .unwrap()
            .to_bytes();
        assert_eq!(b1, b2);
    }
    assert_eq!(
        restored.bundle(Some(9999), None).unwrap_err(),
        sova::session::AccountError::UnknownPrekey(9999)
    );
    let bundle = restored
        .bundle(Some(opks[1]), Some(kems[2]))
        .unwrap()
        .to_bytes();
    let mut a = Session::start_unverified(&alice, &mut r, &bundle, HeaderMode::Plain).unwrap();
    let m = a.encrypt(&mut r, b"hi").unwrap();
    let (_, pt) = restored.accept_unverified(&m).unwrap();
    assert_eq!(pt, b"hi");
    assert_eq!(restored.one_time_prekey_ids(), vec![opks[0], opks[2]]);
    assert_eq!(restored.kem_one_time_prekey_ids(), vec![kems[0], kems[1]]);
}

#[test]
fn a_session_checks_an_initial_message_in_the_order_of_section_7_6() {
    let mut r = rng(21);
    let (alice, mut bob) = accounts(&mut r);
    let bundle = bob.bundle(None, None).unwrap().to_bytes();
    let mut a = Session::start_unverified(&alice, &mut r, &bundle, HeaderMode::Plain).unwrap();
    let first = a.encrypt(&mut r, b"first").unwrap();
    let second = a.encrypt(&mut r, b"second").unwrap();
    let (mut b, _) = bob.accept_unverified(&first).unwrap();
    // The initiator's own session holds no accepted initial message: every
    // initial message, even its own, is not for it.
    let before = a.to_bytes();
    assert_eq!(a.decrypt(&first).err(), Some(DecryptError::NotThisSession));
    assert_eq!(a.to_bytes(), before);
    // A malformed initial message is reported before any lookup.
    assert!(matches!(
        b.decrypt(&first[..first.len() - 1]).err(),
        Some(DecryptError::MalformedInitialMessage(_))
    ));
    // The embedded message's errors come back unwrapped, as the ratchet's.
    let mut body = second.clone();
    let n = body.len();
    body[n - 17] ^= 1;
    let before = b.to_bytes();
    assert_eq!(b.decrypt(&body).err(), Some(DecryptError::Authentication));
    assert_eq!(b.to_bytes(), before);
    assert_eq!(b.decrypt(&second).unwrap(), b"second");
    assert!(matches!(
        b.decrypt(&second).err(),
        Some(DecryptError::DuplicateOrExpired { .. })
    ));
}

#[test]
fn states_shorter_than_their_magic_are_bad_magic() {
    for short in [&b""[..], b"S", b"SOVA-1 ", b"SOVA-1 ratche"] {
        assert_eq!(
            ratchet::Ratchet::from_bytes(short).err(),
            Some(StateError::BadMagic)
        );
        assert_eq!(Session::from_bytes(short).err(), Some(StateError::BadMagic));
        assert_eq!(Account::from_bytes(short).err(), Some(StateError::BadMagic));
    }
    // The magic alone, without its version byte: truncated.
    assert_eq!(
        ratchet::Ratchet::from_bytes(b"SOVA-1 ratchet").err(),
        Some(StateError::Truncated)
    );
    assert_eq!(
        Session::from_bytes(b"SOVA-1 session").err(),
        Some(StateError::Truncated)
    );
    assert_eq!(
        Account::from_bytes(b"SOVA-1 account").err(),
        Some(StateError::Truncated)
    );
    let key = Secret::from_bytes([3; 32]);
    assert_eq!(
        Session::from_sealed_bytes(b"SOVA-1 seal", &key).err(),
        Some(PersistError::Storage(StorageError::BadMagic))
    );
}

/// Offset of `next_prekey_id` in an account state (§8.4).
const NEXT_PREKEY_ID_AT: usize = 14 + 1 + 8 + 32 + 32;

#[test]
fn the_prekey_id_counter_fails_closed_when_exhausted() {
    let mut r = rng(22);
    let account = Account::new(&mut r).unwrap();
    let mut state = account.to_bytes();
    state[NEXT_PREKEY_ID_AT..NEXT_PREKEY_ID_AT + 4].copy_from_slice(&(u32::MAX - 1).to_be_bytes());
    recheck(&mut state);
    let mut account = Account::from_bytes(&state).unwrap();
    // The last id is 2^32 − 2: the counter cannot move past 2^32 − 1.
    assert_eq!(account.rotate_signed_prekey(&mut r).unwrap(), u32::MAX - 1);
    let before = account.to_bytes();
    assert_eq!(
        account.rotate_signed_prekey(&mut r).err(),
        Some(sova::session::AccountError::PrekeyIdsExhausted)
    );
    assert_eq!(
        account.rotate_kem_last_resort(&mut r).err(),
        Some(sova::session::AccountError::PrekeyIdsExhausted)
    );
    assert_eq!(
        account.to_bytes(),
        before,
        "a failed rotation changes nothing"
    );
    let generation = account.generation();
    assert_eq!(
        account.generate_one_time_prekeys(&mut r, 1).err(),
        Some(sova::session::AccountError::PrekeyIdsExhausted)
    );
    assert!(account.one_time_prekey_ids().is_empty());
    // A batch is added whole or not at all (spec §8.4): nothing changed.
    assert_eq!(account.generation(), generation);
    assert_eq!(account.to_bytes(), before);
}

/// A conversation holding `session`, bound to its peer.
fn conversation_of(session: Session) -> Conversation {
    let mut c = Conversation::new(session.peer_identity().identity_key());
    c.add(session).unwrap();
    c
}
