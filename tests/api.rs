//! The session API a messenger builds on: expected peers on the default
//! paths, header-mode policy, failing randomness, routing through
//! conversations (many initiators, racing sessions, delayed and repeated
//! messages), message positions, and conversation persistence.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;

use rand_chacha::{
    rand_core::{SeedableRng, TryCryptoRng, TryRng},
    ChaCha20Rng,
};
use sova::ratchet::{HeaderMode, StateError};
use sova::session::{
    AcceptError, AcceptPolicy, Account, AccountError, Conversation, ConversationError,
    DecryptError, EncryptError, IdentityKey, PersistError, Session, StartError,
    MAX_CONVERSATION_SESSIONS,
};
use sova::storage::StorageError;
use sova::{CryptoError, Secret};

fn rng(seed: u8) -> ChaCha20Rng {
    ChaCha20Rng::from_seed([seed; 32])
}

/// A generator that serves `left` bytes from a seeded one, then fails.
struct Failing {
    inner: ChaCha20Rng,
    left: usize,
}

#[derive(Debug)]
struct Exhausted;
impl core::fmt::Display for Exhausted {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("exhausted")
    }
}
impl core::error::Error for Exhausted {}

impl TryRng for Failing {
    type Error = Exhausted;
    fn try_next_u32(&mut self) -> Result<u32, Exhausted> {
        Err(Exhausted)
    }
    fn try_next_u64(&mut self) -> Result<u64, Exhausted> {
        Err(Exhausted)
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Exhausted> {
        self.left = self.left.checked_sub(dst.len()).ok_or(Exhausted)?;
        self.inner.try_fill_bytes(dst).map_err(|_| Exhausted)
    }
}
impl TryCryptoRng for Failing {}

fn failing(left: usize) -> Failing {
    Failing {
        inner: rng(0xfa),
        left,
    }
}

#[test]
fn the_os_generator_is_the_default_and_gives_distinct_identities() {
    let a = Account::new(&mut sova::OsRng).unwrap();
    let b = Account::new(&mut sova::OsRng).unwrap();
    assert_ne!(a.identity_key(), b.identity_key());
}

#[test]
fn an_impostor_is_refused_on_the_default_paths() {
    let mut r = rng(1);
    let alice = Account::new(&mut r).unwrap();
    let mallory = Account::new(&mut r).unwrap();
    let mut bob = Account::new(&mut r).unwrap();
    let opk = bob.generate_one_time_prekeys(&mut r, 1).unwrap()[0];
    let bundle = bob.bundle(Some(opk), None).unwrap().to_bytes();
    let mallory_bundle = mallory.bundle(None, None).unwrap().to_bytes();

    // The server hands Alice Mallory's bundle for Bob: refused.
    assert_eq!(
        Session::start(
            &alice,
            &mut r,
            &bob.identity_key(),
            &mallory_bundle,
            HeaderMode::Plain
        )
        .unwrap_err(),
        StartError::UnexpectedPeer
    );

    // Mallory's initial message to Bob, who expects Alice: refused before
    // anything changes (the one-time prekey is still there).
    let mut from_mallory = Session::start(
        &mallory,
        &mut r,
        &bob.identity_key(),
        &bundle,
        HeaderMode::Plain,
    )
    .unwrap();
    let forged = from_mallory.encrypt(&mut r, b"it's Alice").unwrap();
    let before = bob.to_bytes();
    assert_eq!(
        bob.accept(&alice.identity_key(), &forged).unwrap_err(),
        AcceptError::UnexpectedPeer
    );
    assert_eq!(bob.to_bytes(), before);
    // Alice's own message is accepted.
    let mut to_bob = Session::start(
        &alice,
        &mut r,
        &bob.identity_key(),
        &bundle,
        HeaderMode::Plain,
    )
    .unwrap();
    let first = to_bob.encrypt(&mut r, b"hi").unwrap();
    let (s, pt) = bob.accept(&alice.identity_key(), &first).unwrap();
    assert_eq!(pt, b"hi");
    assert_eq!(s.peer_identity().identity_key(), alice.identity_key());
    // Mallory on a conversation bound to Alice: refused too.
    let mut conv = Conversation::new(alice.identity_key());
    let before = bob.to_bytes();
    assert_eq!(
        conv.decrypt(&mut bob, &forged).unwrap_err(),
        ConversationError::OtherPeer
    );
    assert_eq!(bob.to_bytes(), before);
    assert!(conv.sessions().is_empty());
    // A first contact is explicit.
    let plain_bundle = bob.bundle(None, None).unwrap().to_bytes();
    let mut first_contact =
        Session::start_unverified(&mallory, &mut r, &plain_bundle, HeaderMode::Plain).unwrap();
    let hello = first_contact.encrypt(&mut r, b"hello, I'm new").unwrap();
    let (s, _) = bob.accept_unverified(&hello).unwrap();
    assert_eq!(s.peer_identity().identity_key(), mallory.identity_key());
}

#[test]
fn a_responder_can_require_encrypted_headers() {
    let mut r = rng(2);
    let alice = Account::new(&mut r).unwrap();
    let mut bob = Account::new(&mut r).unwrap();
    let bundle = bob.bundle(None, None).unwrap().to_bytes();
    let policy =
        AcceptPolicy::expect(alice.identity_key()).require_header_mode(HeaderMode::Encrypted);
    let mut plain = Session::start(
        &alice,
        &mut r,
        &bob.identity_key(),
        &bundle,
        HeaderMode::Plain,
    )
    .unwrap();
    let m = plain.encrypt(&mut r, b"clear headers").unwrap();
    let before = bob.to_bytes();
    assert_eq!(
        bob.accept_with_policy(&policy, &m).unwrap_err(),
        AcceptError::HeaderModeRefused
    );
    assert_eq!(bob.to_bytes(), before);
    let mut enc = Session::start(
        &alice,
        &mut r,
        &bob.identity_key(),
        &bundle,
        HeaderMode::Encrypted,
    )
    .unwrap();
    let m = enc.encrypt(&mut r, b"hidden headers").unwrap();
    let (s, pt) = bob.accept_with_policy(&policy, &m).unwrap();
    assert_eq!(pt, b"hidden headers");
    assert_eq!(s.ratchet().header_mode(), HeaderMode::Encrypted);
    // The peer is checked first.
    let other = AcceptPolicy::expect([0x55; 64]).require_header_mode(HeaderMode::Plain);
    assert_eq!(
        bob.accept_with_policy(&other, &m).unwrap_err(),
        AcceptError::UnexpectedPeer
    );
}

#[test]
fn a_failing_generator_is_an_error_that_changes_nothing() {
    let mut r = rng(3);
    // Account creation draws 64 + 32 + 64 bytes.
    assert_eq!(
        Account::new(&mut failing(100)).unwrap_err(),
        AccountError::Randomness
    );
    let mut bob = Account::new(&mut r).unwrap();
    let alice = Account::new(&mut r).unwrap();
    let before = bob.to_bytes();
    assert_eq!(
        bob.generate_one_time_prekeys(&mut failing(32 * 3), 5)
            .unwrap_err(),
        AccountError::Randomness
    );
    assert_eq!(
        bob.generate_kem_one_time_prekeys(&mut failing(64), 2)
            .unwrap_err(),
        AccountError::Randomness
    );
    assert_eq!(
        bob.rotate_signed_prekey(&mut failing(0)).unwrap_err(),
        AccountError::Randomness
    );
    assert_eq!(bob.to_bytes(), before);

    let bundle = bob.bundle(None, None).unwrap().to_bytes();
    assert_eq!(
        Session::start(
            &alice,
            &mut failing(32),
            &bob.identity_key(),
            &bundle,
            HeaderMode::Plain
        )
        .unwrap_err(),
        StartError::Randomness
    );
    let mut s = Session::start(
        &alice,
        &mut r,
        &bob.identity_key(),
        &bundle,
        HeaderMode::Plain,
    )
    .unwrap();
    let first = s.encrypt(&mut r, b"one").unwrap();
    let (mut b, _) = bob.accept(&alice.identity_key(), &first).unwrap();
    // Bob's first reply draws a ratchet key (32) and a salt (16).
    let state = b.to_bytes();
    let mut out = b"kept".to_vec();
    assert_eq!(
        b.encrypt_into(&mut failing(40), b"reply", &mut out)
            .unwrap_err(),
        EncryptError::Randomness
    );
    assert_eq!(b.to_bytes(), state);
    assert_eq!(out, b"kept");
    // Sealing draws a nonce.
    let key = Secret::from_bytes([9; 32]);
    assert_eq!(
        b.to_sealed_bytes(&mut failing(4), &key).unwrap_err(),
        StorageError::Randomness
    );
    assert_eq!(
        CryptoError::RandomnessUnavailable.code(),
        "RandomnessUnavailable"
    );
}

/// 200 initiators write to one account at once, each sending three messages
/// before any reply; the network duplicates and shuffles them. Bob's
/// messenger keeps one conversation per peer and loses nothing.
#[test]
fn two_hundred_initiators_fan_in_without_loss() {
    let mut r = rng(4);
    let mut bob = Account::new(&mut r).unwrap();
    let opks = bob.generate_one_time_prekeys(&mut r, 100).unwrap();
    let mut wire: Vec<(IdentityKey, Vec<u8>, Vec<u8>)> = Vec::new();
    let mut initiators = Vec::new();
    for i in 0..200usize {
        let a = Account::new(&mut r).unwrap();
        // Half get a one-time prekey, half the signed prekey alone.
        let opk = opks.get(i).copied().filter(|_| i % 2 == 0);
        let bundle = bob.bundle(opk, None).unwrap().to_bytes();
        let mut s =
            Session::start(&a, &mut r, &bob.identity_key(), &bundle, HeaderMode::Plain).unwrap();
        for k in 0..3 {
            let pt = format!("{i}:{k}").into_bytes();
            let m = s.encrypt(&mut r, &pt).unwrap();
            wire.push((a.identity_key(), m, pt));
        }
        initiators.push((a, s));
    }
    // Duplicate a third of the messages, then shuffle everything.
    let dups: Vec<_> = wire.iter().step_by(3).cloned().collect();
    wire.extend(dups);
    shuffle(&mut wire, &mut r);

    let mut conversations: BTreeMap<IdentityKey, Conversation> = BTreeMap::new();
    let mut delivered = std::collections::BTreeSet::new();
    let mut refused_duplicates = 0;
    for (from, m, pt) in &wire {
        let conv = conversations
            .entry(*from)
            .or_insert_with(|| Conversation::new(*from));
        match conv.decrypt(&mut bob, m) {
            Ok(got) => {
                assert_eq!(&got.plaintext, pt);
                assert!(delivered.insert(pt.clone()), "delivered twice");
            }
            Err(ConversationError::Decrypt(DecryptError::DuplicateOrExpired { .. })) => {
                refused_duplicates += 1;
            }
            Err(e) => panic!("message lost: {e}"),
        }
    }
    assert_eq!(delivered.len(), 600, "every message delivered once");
    assert_eq!(refused_duplicates, 200);
    // Each conversation holds exactly one session, and replies reach all.
    for (a, s) in &mut initiators {
        let conv = conversations.get_mut(&a.identity_key()).unwrap();
        assert_eq!(conv.sessions().len(), 1);
        let reply = conv.encrypt(&mut r, b"ack").unwrap();
        assert_eq!(s.decrypt(&reply).unwrap(), b"ack");
    }
}

fn shuffle<T>(v: &mut [T], r: &mut ChaCha20Rng) {
    for i in (1..v.len()).rev() {
        let j = (r.try_next_u32().unwrap() as usize) % (i + 1);
        v.swap(i, j);
    }
}

/// Both start a session at once and each sends on its own before learning
/// of the other; some of those messages are delayed until after the two
/// have converged. None is lost.
#[test]
fn racing_sessions_lose_no_delayed_message() {
    for mode in [HeaderMode::Plain, HeaderMode::Encrypted] {
        let mut r = rng(5);
        let mut alice = Account::new(&mut r).unwrap();
        let mut bob = Account::new(&mut r).unwrap();
        let ba = alice.bundle(None, None).unwrap().to_bytes();
        let bb = bob.bundle(None, None).unwrap().to_bytes();
        let mut a = Conversation::start(&alice, &mut r, &bob.identity_key(), &bb, mode).unwrap();
        let mut b = Conversation::start(&bob, &mut r, &alice.identity_key(), &ba, mode).unwrap();
        // Each sends two messages on its own session before hearing from the
        // other; the second of each is held back by the network.
        let a0 = a.encrypt(&mut r, b"a0").unwrap();
        let a1 = a.encrypt(&mut r, b"a1").unwrap();
        let b0 = b.encrypt(&mut r, b"b0").unwrap();
        let b1 = b.encrypt(&mut r, b"b1").unwrap();
        assert!(b.decrypt(&mut bob, &a0).unwrap().account_changed);
        assert!(a.decrypt(&mut alice, &b0).unwrap().account_changed);
        let held_for_bob = vec![(a1, "a1".to_string())];
        let held_for_alice = vec![(b1, "b1".to_string())];
        // They converge and talk for a while (within the ratchet's limits,
        // §5.5.5, so the held messages' chains are still kept).
        let chosen = *a.active_session().unwrap().session_id();
        assert_eq!(b.active_session().unwrap().session_id(), &chosen);
        for i in 0..2 {
            let m = a.encrypt(&mut r, format!("x{i}").as_bytes()).unwrap();
            let got = b.decrypt(&mut bob, &m).unwrap();
            assert_eq!(got.session_id, chosen);
            let m = b.encrypt(&mut r, format!("y{i}").as_bytes()).unwrap();
            a.decrypt(&mut alice, &m).unwrap();
        }
        // The held messages arrive now, on both sessions: all decrypt.
        for (m, pt) in held_for_bob {
            let got = b.decrypt(&mut bob, &m).unwrap();
            assert_eq!(got.plaintext, pt.as_bytes());
            assert!(!got.account_changed);
        }
        for (m, pt) in held_for_alice {
            assert_eq!(a.decrypt(&mut alice, &m).unwrap().plaintext, pt.as_bytes());
        }
        assert_eq!(a.sessions().len(), 2);
        assert_eq!(b.sessions().len(), 2);
        assert_eq!(a.active_session().unwrap().session_id(), &chosen);
    }
}

#[test]
fn a_repeated_initial_message_reaches_its_session() {
    let mut r = rng(6);
    let alice = Account::new(&mut r).unwrap();
    let mut bob = Account::new(&mut r).unwrap();
    let bundle = bob.bundle(None, None).unwrap().to_bytes();
    let mut to_bob = Conversation::start(
        &alice,
        &mut r,
        &bob.identity_key(),
        &bundle,
        HeaderMode::Plain,
    )
    .unwrap();
    let m1 = to_bob.encrypt(&mut r, b"1").unwrap();
    let m2 = to_bob.encrypt(&mut r, b"2").unwrap();
    let m3 = to_bob.encrypt(&mut r, b"3").unwrap();
    let mut conv = Conversation::new(alice.identity_key());
    // The third arrives first: it sets up the session (the account changes).
    let got = conv.decrypt(&mut bob, &m3).unwrap();
    assert!(got.account_changed && got.info.number == 2 && got.info.gap == 2);
    // The others carry the handshake again: they reach the same session.
    let account = bob.to_bytes();
    for (m, pt, n) in [(&m1, b"1", 0), (&m2, b"2", 1)] {
        let got = conv.decrypt(&mut bob, m).unwrap();
        assert_eq!(got.plaintext, pt);
        assert!(!got.account_changed && got.info.late);
        assert_eq!(got.info.number, n);
    }
    assert_eq!(bob.to_bytes(), account);
    assert_eq!(conv.sessions().len(), 1);
    // A duplicate is refused as such, not as a new session.
    assert_eq!(
        conv.decrypt(&mut bob, &m1).unwrap_err(),
        ConversationError::Decrypt(DecryptError::DuplicateOrExpired { n: 0 })
    );
}

#[test]
fn message_positions_show_order_and_gaps() {
    let mut r = rng(7);
    let alice = Account::new(&mut r).unwrap();
    let mut bob = Account::new(&mut r).unwrap();
    let bundle = bob.bundle(None, None).unwrap().to_bytes();
    let mut a = Session::start(
        &alice,
        &mut r,
        &bob.identity_key(),
        &bundle,
        HeaderMode::Encrypted,
    )
    .unwrap();
    let first = a.encrypt(&mut r, b"0").unwrap();
    let (mut b, _) = bob.accept(&alice.identity_key(), &first).unwrap();
    let reply = b.encrypt(&mut r, b"r").unwrap();
    let (_, info) = a.decrypt_with_info(&reply).unwrap();
    assert!(info.new_chain && !info.late && info.number == 0 && info.gap == 0);
    // Alice's second chain: messages 0..3, the first two delayed.
    let ms: Vec<_> = (0..4).map(|i| a.encrypt(&mut r, &[i]).unwrap()).collect();
    let (_, info) = b.decrypt_with_info(&ms[2]).unwrap();
    assert!(info.new_chain && !info.late);
    assert_eq!((info.number, info.previous_chain_len, info.gap), (2, 1, 2));
    let chain = info.chain;
    let (_, info) = b.decrypt_with_info(&ms[3]).unwrap();
    assert!(!info.new_chain && !info.late && info.gap == 0 && info.chain == chain);
    let (_, info) = b.decrypt_with_info(&ms[0]).unwrap();
    assert!(info.late && info.number == 0 && info.chain == chain);
}

#[test]
fn a_conversation_persists_plain_and_sealed() {
    let mut r = rng(8);
    let mut alice = Account::new(&mut r).unwrap();
    let mut bob = Account::new(&mut r).unwrap();
    let ba = alice.bundle(None, None).unwrap().to_bytes();
    let bb = bob.bundle(None, None).unwrap().to_bytes();
    let mut a =
        Conversation::start(&alice, &mut r, &bob.identity_key(), &bb, HeaderMode::Plain).unwrap();
    let mut b =
        Conversation::start(&bob, &mut r, &alice.identity_key(), &ba, HeaderMode::Plain).unwrap();
    let m = a.encrypt(&mut r, b"hi").unwrap();
    b.decrypt(&mut bob, &m).unwrap();
    let m = b.encrypt(&mut r, b"hello").unwrap();
    a.decrypt(&mut alice, &m).unwrap();
    assert_eq!(b.sessions().len(), 2);

    let plain = b.to_bytes();
    let restored = Conversation::from_bytes(&plain).unwrap();
    assert_eq!(restored.to_bytes(), plain);
    assert_eq!(restored.peer(), b.peer());
    let key = Secret::from_bytes([3; 32]);
    let sealed = b.to_sealed_bytes(&mut r, &key).unwrap();
    let mut b2 = Conversation::from_sealed_bytes(&sealed, &key).unwrap();
    assert_eq!(b2.to_bytes(), plain);
    assert_eq!(
        b2.active_session().unwrap().session_id(),
        b.active_session().unwrap().session_id()
    );
    let m = a.encrypt(&mut r, b"after restore").unwrap();
    assert_eq!(
        b2.decrypt(&mut bob, &m).unwrap().plaintext,
        b"after restore"
    );
    // A session blob is not a conversation.
    let s_sealed = b.sessions()[0].to_sealed_bytes(&mut r, &key).unwrap();
    assert_eq!(
        Conversation::from_sealed_bytes(&s_sealed, &key).unwrap_err(),
        PersistError::Storage(StorageError::WrongKind(2))
    );
    // An empty conversation round-trips.
    let empty = Conversation::new(alice.identity_key());
    assert_eq!(
        Conversation::from_bytes(&empty.to_bytes())
            .unwrap()
            .to_bytes(),
        empty.to_bytes()
    );
}

/// The default provider, counting the signature checks and AEAD openings
/// it performs.
#[derive(Default)]
struct Counting {
    inner: sova::DefaultProvider,
    verifies: std::sync::atomic::AtomicUsize,
    opens: std::sync::atomic::AtomicUsize,
}

impl sova::CryptoProvider for Counting {
    fn name(&self) -> &'static str {
        "counting"
    }
    fn sha512(&self, parts: &[&[u8]]) -> [u8; 64] {
        self.inner.sha512(parts)
    }
    fn aead_seal(
        &self,
        key: &Secret<32>,
        nonce: &[u8; 12],
        aad: &[u8],
        in_out: &mut [u8],
    ) -> [u8; 16] {
        self.inner.aead_seal(key, nonce, aad, in_out)
    }
    fn aead_open(
        &self,
        key: &Secret<32>,
        nonce: &[u8; 12],
        aad: &[u8],
        in_out: &mut [u8],
        tag: &[u8; 16],
    ) -> Result<(), CryptoError> {
        self.opens
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.inner.aead_open(key, nonce, aad, in_out, tag)
    }
    fn ed25519_verify(
        &self,
        public_key: &[u8; 32],
        message: &[u8],
        signature: &[u8; 64],
    ) -> Result<(), CryptoError> {
        self.verifies
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.inner.ed25519_verify(public_key, message, signature)
    }
}

/// `from_sealed_bytes_with` opens and restores on the provider it is given,
/// with the result and the errors of `from_sealed_bytes`.
#[test]
fn a_sealed_conversation_restores_with_a_given_provider() {
    use std::sync::atomic::Ordering::Relaxed;
    let mut r = rng(9);
    let alice = Account::new(&mut r).unwrap();
    let bob = Account::new(&mut r).unwrap();
    let bb = bob.bundle(None, None).unwrap().to_bytes();
    let mut a =
        Conversation::start(&alice, &mut r, &bob.identity_key(), &bb, HeaderMode::Plain).unwrap();
    a.encrypt(&mut r, b"hi").unwrap();
    let key = Secret::from_bytes([4; 32]);
    let sealed = a.to_sealed_bytes(&mut r, &key).unwrap();

    let p = Counting::default();
    let restored = Conversation::from_sealed_bytes_with(&p, &sealed, &key).unwrap();
    assert_eq!(restored.to_bytes(), a.to_bytes());
    assert_eq!(
        restored.to_bytes(),
        Conversation::from_sealed_bytes(&sealed, &key)
            .unwrap()
            .to_bytes()
    );
    // The blob was opened, and the session's identities checked, by `p`.
    assert_eq!(p.opens.load(Relaxed), 1);
    assert!(p.verifies.load(Relaxed) > 0);

    let wrong = Secret::from_bytes([5; 32]);
    assert_eq!(
        Conversation::from_sealed_bytes_with(&p, &sealed, &wrong).unwrap_err(),
        Conversation::from_sealed_bytes(&sealed, &wrong).unwrap_err()
    );
    let s_sealed = a.sessions()[0].to_sealed_bytes(&mut r, &key).unwrap();
    assert_eq!(
        Conversation::from_sealed_bytes_with(&p, &s_sealed, &key).unwrap_err(),
        PersistError::Storage(StorageError::WrongKind(2))
    );
}

/// Re-encodes a conversation with the check recomputed after `edit`.
fn edited(bytes: &[u8], edit: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    use sha2::Digest;
    let mut body = bytes[..bytes.len() - 32].to_vec();
    edit(&mut body);
    let check = sha2::Sha256::digest(&body);
    body.extend_from_slice(&check);
    body
}

#[test]
fn invalid_conversation_states_are_refused() {
    let mut r = rng(9);
    let alice = Account::new(&mut r).unwrap();
    let bob = Account::new(&mut r).unwrap();
    let bb = bob.bundle(None, None).unwrap().to_bytes();
    let a =
        Conversation::start(&alice, &mut r, &bob.identity_key(), &bb, HeaderMode::Plain).unwrap();
    let good = a.to_bytes();
    let peer_at = 19 + 1;
    let count_at = peer_at + 64;
    // Another peer than the session's.
    let bad = edited(&good, |b| b[peer_at] ^= 1);
    assert_eq!(
        Conversation::from_bytes(&bad).unwrap_err(),
        StateError::Invalid("session peer")
    );
    // Too many sessions.
    let bad = edited(&good, |b| b[count_at] = MAX_CONVERSATION_SESSIONS as u8 + 1);
    assert_eq!(
        Conversation::from_bytes(&bad).unwrap_err(),
        StateError::Invalid("session count")
    );
    // The same session twice.
    let bad = edited(&good, |b| {
        let session = b[count_at + 1..].to_vec();
        b[count_at] = 2;
        b.extend_from_slice(&session);
    });
    assert_eq!(
        Conversation::from_bytes(&bad).unwrap_err(),
        StateError::Invalid("duplicate session")
    );
    // Trailing bytes, truncation, corruption, magic.
    let bad = edited(&good, |b| b.push(0));
    assert_eq!(
        Conversation::from_bytes(&bad).unwrap_err(),
        StateError::TrailingBytes
    );
    let bad = edited(&good, |b| b[count_at] = 0);
    assert_eq!(
        Conversation::from_bytes(&bad).unwrap_err(),
        StateError::TrailingBytes
    );
    let mut bad = good.clone();
    bad[count_at] ^= 1;
    assert_eq!(
        Conversation::from_bytes(&bad).unwrap_err(),
        StateError::Corrupted
    );
    assert_eq!(
        Conversation::from_bytes(&good[..10]).unwrap_err(),
        StateError::BadMagic
    );
    let bad = edited(&good, |b| b.truncate(count_at + 3));
    assert_eq!(
        Conversation::from_bytes(&bad).unwrap_err(),
        StateError::Truncated
    );
}

#[test]
fn a_full_conversation_drops_its_oldest_inactive_session() {
    let mut r = rng(10);
    let alice = Account::new(&mut r).unwrap();
    let mut bob = Account::new(&mut r).unwrap();
    let bundle = bob.bundle(None, None).unwrap().to_bytes();
    let mut conv = Conversation::new(alice.identity_key());
    let mut ids = Vec::new();
    for i in 0..(MAX_CONVERSATION_SESSIONS + 2) {
        let mut s = Session::start(
            &alice,
            &mut r,
            &bob.identity_key(),
            &bundle,
            HeaderMode::Plain,
        )
        .unwrap();
        let m = s.encrypt(&mut r, &[i as u8]).unwrap();
        let got = conv.decrypt(&mut bob, &m).unwrap();
        ids.push(got.session_id);
    }
    assert_eq!(conv.sessions().len(), MAX_CONVERSATION_SESSIONS);
    let held: Vec<_> = conv.sessions().iter().map(|s| *s.session_id()).collect();
    assert_eq!(held, ids[2..]);
    // Adding a session of another peer, or one already held, changes nothing.
    let again = Session::from_bytes(&conv.sessions()[0].to_bytes()).unwrap();
    assert_eq!(conv.add(again), Err(ConversationError::DuplicateSession));
    let mallory = Account::new(&mut r).unwrap();
    let other = Session::start_unverified(&mallory, &mut r, &bundle, HeaderMode::Plain).unwrap();
    assert_eq!(conv.add(other), Err(ConversationError::OtherPeer));
    assert_eq!(conv.sessions().len(), MAX_CONVERSATION_SESSIONS);
    assert!(matches!(
        Conversation::new(alice.identity_key()).encrypt(&mut r, b"x"),
        Err(EncryptError::NoSendingChain)
    ));
}

/// A rotation that cannot take an id draws nothing (spec §7.2).
#[test]
fn a_rotation_without_ids_draws_nothing() {
    let mut r = rng(11);
    let acct = Account::new(&mut r).unwrap();
    // next_prekey_id, after the magic, version, generation and identity seeds.
    let mut b = acct.to_bytes();
    let at = b.windows(4).position(|w| w == 3u32.to_be_bytes()).unwrap();
    b[at..at + 4].copy_from_slice(&u32::MAX.to_be_bytes());
    let n = b.len();
    let check = sova::CryptoProvider::sha256(&sova::DefaultProvider::default(), &[&b[..n - 32]]);
    b[n - 32..].copy_from_slice(&check);
    let mut acct = Account::from_bytes(&b).unwrap();
    let before = acct.to_bytes();
    // A generator that fails on any draw: the rotations must fail on the ids.
    assert_eq!(
        acct.rotate_signed_prekey(&mut failing(0)).unwrap_err(),
        AccountError::PrekeyIdsExhausted
    );
    assert_eq!(
        acct.rotate_kem_last_resort(&mut failing(0)).unwrap_err(),
        AccountError::PrekeyIdsExhausted
    );
    assert_eq!(
        acct.generate_one_time_prekeys(&mut failing(0), 1)
            .unwrap_err(),
        AccountError::PrekeyIdsExhausted
    );
    assert_eq!(acct.to_bytes(), before);
}
