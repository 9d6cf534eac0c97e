//! The session API (spec §7, §8): handshake, prekey handling, replay
//! protection, simultaneous initiation, persistence. Every rejection is
//! checked to leave the account or session exactly as it was.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use sova::kdf::labeled_sign;
use sova::labels;
use sova::ratchet::{self, HeaderMode};
use sova::session::{
    AcceptError, Account, BundleError, Conversation, DecryptError, PersistError, PrekeyBundle,
    Session, StartError, TYPE_INITIAL,
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
    assert_eq!(bob.accept(msg).err(), Some(want));
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
            let mut a = Session::start(&alice, &mut r, &bundle, mode).unwrap();
            assert!(a.is_pending());
            let m1 = a.encrypt(&mut r, b"one").unwrap();
            let m2 = a.encrypt(&mut r, b"two").unwrap();
            assert_eq!(m1[1], TYPE_INITIAL);
            let (mut b, pt) = bob.accept(&m1).unwrap();
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
    let mut a = Session::start(&alice, &mut r, &bundle, HeaderMode::Plain).unwrap();
    let mut c = Session::start(&carol, &mut r, &bundle, HeaderMode::Plain).unwrap();
    let ma = a.encrypt(&mut r, b"a").unwrap();
    let mc = c.encrypt(&mut r, b"c").unwrap();
    bob.accept(&ma).unwrap();
    accept_rejects(&mut bob, &mc, AcceptError::OneTimePrekeyUnknownOrUsed(opk));
    accept_rejects(&mut bob, &ma, AcceptError::OneTimePrekeyUnknownOrUsed(opk));
}

#[test]
fn replayed_last_resort_handshake_is_rejected() {
    let mut r = rng(3);
    let (alice, mut bob) = accounts(&mut r);
    let bundle = bob.bundle(None, None).unwrap().to_bytes();
    let mut a = Session::start(&alice, &mut r, &bundle, HeaderMode::Plain).unwrap();
    let m = a.encrypt(&mut r, b"x").unwrap();
    bob.accept(&m).unwrap();
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
    let mut a = Session::start(&alice, &mut r, &bundle, HeaderMode::Plain).unwrap();
    let m = a.encrypt(&mut r, b"x").unwrap();
    let mut t = m.clone();
    let last = t.len() - 1;
    t[last] ^= 1;
    accept_rejects(
        &mut bob,
        &t,
        AcceptError::FirstMessage(ratchet::DecryptError::Authentication),
    );
    // The KEM ciphertext is bound too: implicit rejection gives another secret.
    let mut k = m.clone();
    k[200] ^= 1;
    accept_rejects(
        &mut bob,
        &k,
        AcceptError::FirstMessage(ratchet::DecryptError::Authentication),
    );
    bob.accept(&m).unwrap();
}

#[test]
fn malformed_initial_messages() {
    let mut r = rng(5);
    let (alice, mut bob) = accounts(&mut r);
    let bundle = bob.bundle(None, None).unwrap().to_bytes();
    let mut a = Session::start(&alice, &mut r, &bundle, HeaderMode::Plain).unwrap();
    let m = a.encrypt(&mut r, b"x").unwrap();
    for cut in 0..m.len() {
        let before = bob.to_bytes();
        assert!(bob.accept(&m[..cut]).is_err());
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
    let start = |b: &[u8]| Session::start(&alice, &mut rng(9), b, HeaderMode::Plain).err();
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
    let start = |b: &[u8]| Session::start(&alice, &mut rng(9), b, HeaderMode::Plain).err();
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
    let mut a = Session::start(&alice, &mut r, &bundle, HeaderMode::Plain).unwrap();
    let m = a.encrypt(&mut r, b"x").unwrap();
    bob.rotate_signed_prekey(&mut r).unwrap();
    bob.rotate_kem_last_resort(&mut r).unwrap();
    assert_eq!(bob.accept(&m).unwrap().1, b"x");
    // Two rotations later the old keys are gone.
    let mut a2 = Session::start(&alice, &mut r, &bundle, HeaderMode::Plain).unwrap();
    let m2 = a2.encrypt(&mut r, b"y").unwrap();
    bob.rotate_signed_prekey(&mut r).unwrap();
    assert!(matches!(
        bob.accept(&m2),
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
    let mut a = Conversation::new(Session::start(&alice, &mut r, &bb, HeaderMode::Plain).unwrap());
    let mut b = Conversation::new(Session::start(&bob, &mut r, &ba, HeaderMode::Plain).unwrap());
    let from_a = a.encrypt(&mut r, b"hello from alice").unwrap();
    let from_b = b.encrypt(&mut r, b"hello from bob").unwrap();
    // Both first messages decrypt.
    assert_eq!(b.decrypt(&mut bob, &from_a).unwrap(), b"hello from alice");
    assert_eq!(a.decrypt(&mut alice, &from_b).unwrap(), b"hello from bob");
    assert_eq!(a.sessions().len(), 2);
    assert_eq!(b.sessions().len(), 2);
    // Both pick the same session.
    let sa = *a.active_session().unwrap().session_id();
    let sb = *b.active_session().unwrap().session_id();
    assert_eq!(sa, sb);
    // Later traffic uses it, and the other session is dropped.
    for i in 0..3 {
        let m = a.encrypt(&mut r, format!("a{i}").as_bytes()).unwrap();
        assert_eq!(b.decrypt(&mut bob, &m).unwrap(), format!("a{i}").as_bytes());
        let m = b.encrypt(&mut r, format!("b{i}").as_bytes()).unwrap();
        assert_eq!(
            a.decrypt(&mut alice, &m).unwrap(),
            format!("b{i}").as_bytes()
        );
    }
    assert_eq!(a.sessions().len(), 1);
    assert_eq!(b.sessions().len(), 1);
    assert_eq!(a.active_session().unwrap().session_id(), &sa);
}

#[test]
fn persistence_round_trips_and_sealing() {
    let mut r = rng(11);
    let (alice, mut bob) = accounts(&mut r);
    bob.generate_one_time_prekeys(&mut r, 5).unwrap();
    bob.generate_kem_one_time_prekeys(&mut r, 2).unwrap();
    let bundle = bob.bundle(None, None).unwrap().to_bytes();
    let mut a = Session::start(&alice, &mut r, &bundle, HeaderMode::Encrypted).unwrap();
    let m = a.encrypt(&mut r, b"x").unwrap();
    let (b, _) = bob.accept(&m).unwrap();

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
    let mut a = Session::start(&alice, &mut r, &bundle, HeaderMode::Plain).unwrap();
    let mut c = Session::start(&carol, &mut r, &bundle, HeaderMode::Plain).unwrap();
    let (mut b, _) = bob.accept(&a.encrypt(&mut r, b"a").unwrap()).unwrap();
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
    let s = Session::start(&alice, &mut r, &bundle, HeaderMode::Plain).unwrap();
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
    let mut a = Session::start(&alice, &mut r, &bundle, HeaderMode::Plain).unwrap();
    let m1 = a.encrypt(&mut r, b"one").unwrap();
    let m2 = a.encrypt(&mut r, b"two").unwrap();
    let (mut b, _) = bob.accept(&m1).unwrap();
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
    // spec §8.4: magic, version, two secrets, next id, SPK, no previous SPK, count,
    // then each one-time prekey as id || private.
    let mut bytes = bob.to_bytes();
    let first = 14 + 1 + 32 + 32 + 4 + 36 + 1 + 2;
    let id = bytes[first..first + 4].to_vec();
    bytes[first + 36..first + 40].copy_from_slice(&id);
    recheck(&mut bytes);
    assert_eq!(
        Account::from_bytes(&bytes).err(),
        Some(sova::ratchet::StateError::Invalid("one-time prekey order"))
    );
    // Swapped (out of order but distinct) is rejected the same way, and a
    // one-time id equal to the signed prekey's is a duplicate.
    let mut swapped = bob.to_bytes();
    let (a, b) = (
        swapped[first..first + 36].to_vec(),
        swapped[first + 36..first + 72].to_vec(),
    );
    swapped[first..first + 36].copy_from_slice(&b);
    swapped[first + 36..first + 72].copy_from_slice(&a);
    recheck(&mut swapped);
    assert_eq!(
        Account::from_bytes(&swapped).err(),
        Some(sova::ratchet::StateError::Invalid("one-time prekey order"))
    );
    let mut dup = bob.to_bytes();
    let spk_id = dup[14 + 1 + 32 + 32 + 4..14 + 1 + 32 + 32 + 8].to_vec();
    dup[first..first + 4].copy_from_slice(&spk_id);
    recheck(&mut dup);
    assert_eq!(
        Account::from_bytes(&dup).err(),
        Some(sova::ratchet::StateError::Invalid("duplicate prekey id"))
    );
    // spec §8.5: a pending handshake must carry the local identity.
    let bundle = bob.bundle(None, None).unwrap().to_bytes();
    let a = Session::start(&alice, &mut r, &bundle, HeaderMode::Plain).unwrap();
    let mut s = a.to_bytes();
    let identity_at = 14 + 1 + 1 + 32 + 64 + 128 + 1 + 4 + 2;
    s[identity_at] ^= 1;
    recheck(&mut s);
    assert_eq!(
        Session::from_bytes(&s).err(),
        Some(sova::ratchet::StateError::Invalid("pending handshake"))
    );
    // spec §8.5: only a responder records the initial message it accepted.
    let mut a2 = Session::start(&alice, &mut r, &bundle, HeaderMode::Plain).unwrap();
    let (responder, _) = bob.accept(&a2.encrypt(&mut r, b"x").unwrap()).unwrap();
    let mut s = responder.to_bytes();
    assert_eq!(s[15], 0, "role byte: responder");
    s[15] = 1;
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
    let mut old = Session::start(&alice, &mut r, &bundle, HeaderMode::Plain).unwrap();
    let (b_old, _) = bob.accept(&old.encrypt(&mut r, b"first").unwrap()).unwrap();
    let mut conv = Conversation::new(b_old);
    let mut new = Session::start(&alice, &mut r, &bundle, HeaderMode::Plain).unwrap();
    let hello = new.encrypt(&mut r, b"again").unwrap();
    assert_eq!(conv.decrypt(&mut bob, &hello).unwrap(), b"again");
    assert_eq!(
        conv.active_session().unwrap().session_id(),
        new.session_id()
    );
    let reply = conv.encrypt(&mut r, b"welcome back").unwrap();
    assert_eq!(new.decrypt(&reply).unwrap(), b"welcome back");
}
