//! Checks of session establishment (spec §7) and persistence (spec §8.3–§8.5),
//! shared by
//!
//! * the fuzz targets `bundle_parse`, `initial_message`, `state_decode` and
//!   `prekey_upload` (`fuzz/fuzz_targets/`),
//! * the seed replay test `tests/fuzz_seeds_session.rs`, which runs every
//!   committed seed through the same functions in `cargo test`.
//!
//! Every check takes one input and panics, with a description, when the
//! library breaks an invariant; inputs the library legitimately rejects are not
//! failures. Only the public API is used (no `hazmat`), so the module builds in
//! the root crate's tests and in the fuzz crate alike; both include it with
//! `#[path]`.
//!
//! The checks run against a fixed [`Fixture`]: a responder account built from
//! fixed seeds (a rotated signed prekey and last-resort ML-KEM prekey, three
//! one-time X25519 prekeys, two one-time ML-KEM prekeys), its bundles, and
//! initial messages an initiator really sent to it. Because every rejection
//! must leave the responder unchanged, each input starts from the same
//! responder state, so a failing input reproduces on its own.
//!
//! Input layouts are flat byte strings read by a [`Cursor`] that never fails
//! (reading past the end yields zeros), so every byte string is a valid input.
//! [`seeds`] builds the committed seed inputs.
#![allow(
    dead_code,
    unexpected_cfgs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::sync::OnceLock;

use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use sova::provider::CryptoProvider;
use sova::ratchet::{HeaderMode, Ratchet, StateError};
use sova::safety::{
    fingerprint, fingerprint_digits, verify_scanned, SafetyError, SafetyNumber, FINGERPRINT_LEN,
    IDENTITY_LEN, QR_PAYLOAD_LEN, QR_VERSION,
};
use sova::session::{
    AcceptError, Account, Conversation, ConversationError, EncryptError, HandshakeHeader,
    IdentityKey, IdentityPublic, PersistError, PrekeyBundle, PrekeyKind, PrekeyUpload, Session,
    StartError, UploadEntry, MAX_CONVERSATION_SESSIONS, MAX_REPLAY_RECORDS, TYPE_INITIAL,
};
use sova::storage::{self, SealedKind, StorageError};
use sova::{DefaultProvider, Secret};

// ---------------------------------------------------------------------------
// Shared helpers
// ---------------------------------------------------------------------------

/// Reads a fuzz input front to back; past the end every read yields zeros.
#[derive(Debug, Clone)]
pub struct Cursor<'a> {
    data: &'a [u8],
}

impl<'a> Cursor<'a> {
    /// A cursor over `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Self { data }
    }

    /// Whether the input is used up.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Up to `n` bytes from the front (fewer when the input runs out).
    pub fn take(&mut self, n: usize) -> &'a [u8] {
        let (head, tail) = self.data.split_at(n.min(self.data.len()));
        self.data = tail;
        head
    }

    /// Exactly `N` bytes, zero-padded.
    pub fn array<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        let head = self.take(N);
        out[..head.len()].copy_from_slice(head);
        out
    }

    /// One byte.
    pub fn u8(&mut self) -> u8 {
        self.array::<1>()[0]
    }

    /// A big-endian `u16`.
    pub fn u16(&mut self) -> u16 {
        u16::from_be_bytes(self.array())
    }

    /// Everything that is left.
    pub fn rest(&mut self) -> &'a [u8] {
        self.take(self.data.len())
    }
}

/// The storage key every sealed state of the checks uses.
pub fn storage_key() -> Secret<32> {
    Secret::from_bytes([0x5e; 32])
}

/// Another key: `storage_key` with its lowest bit flipped.
fn wrong_storage_key() -> Secret<32> {
    let mut k = [0x5e; 32];
    k[0] ^= 1;
    Secret::from_bytes(k)
}

fn mode_name(mode: HeaderMode) -> &'static str {
    match mode {
        HeaderMode::Plain => "plain",
        HeaderMode::Encrypted => "encrypted",
    }
}

/// The providers the checks run on: the compiled-in backends, each behind the
/// memoising wrapper of `memo.rs` in fuzz builds (the same results, without
/// recomputing repeated public-key operations), as they are in `cargo test`.
pub fn checked_providers() -> &'static [&'static dyn CryptoProvider] {
    #[cfg(fuzzing)]
    {
        memo::providers()
    }
    #[cfg(not(fuzzing))]
    {
        sova::provider::all_providers()
    }
}

/// The default backend (the first one), as [`checked_providers`] gives it.
pub fn dp() -> &'static dyn CryptoProvider {
    checked_providers()[0]
}

#[cfg(fuzzing)]
#[path = "memo.rs"]
mod memo;

// ---------------------------------------------------------------------------
// The fixture: one responder, its bundles, genuine initial messages
// ---------------------------------------------------------------------------

/// An initial message the fixture's initiator really sent to the responder.
pub struct Genuine {
    /// What it is (also the seed name).
    pub name: String,
    /// The initial message.
    pub message: Vec<u8>,
    /// The plaintext it carries.
    pub plaintext: Vec<u8>,
    /// The one-time X25519 prekey it uses.
    pub one_time_prekey: Option<u32>,
    /// The one-time ML-KEM prekey it uses.
    pub kem_one_time_prekey: Option<u32>,
    /// The initiator's session right after sending it.
    pub initiator_state: Vec<u8>,
}

/// The one-time prekey ids a bundle names: `(X25519, ML-KEM)`.
pub type BundleIds = (Option<u32>, Option<u32>);

/// The fixed parties and messages every check runs against.
pub struct Fixture {
    /// The responder's account, persisted before it accepted anything.
    pub responder: Vec<u8>,
    /// The responder's public identity.
    pub responder_identity: IdentityPublic,
    /// Its unused one-time X25519 and ML-KEM prekey ids.
    pub responder_prekeys: (Vec<u32>, Vec<u32>),
    /// Every signed prekey the responder holds: `(id, key)`.
    pub signed_prekeys: Vec<(u32, [u8; 32])>,
    /// Every one-time X25519 prekey it holds: `(id, key)`.
    pub one_time_prekeys: Vec<(u32, [u8; 32])>,
    /// Every ML-KEM prekey it holds: `(kind, id, key)`.
    pub kem_prekeys: Vec<(PrekeyKind, u32, Vec<u8>)>,
    /// An initiator.
    pub initiator: Account,
    /// Bundles of the responder, by name.
    pub bundles: Vec<(String, Vec<u8>)>,
    /// Initial messages sent to the responder.
    pub initial: Vec<Genuine>,
    /// The responder's session after accepting the first message of the
    /// session whose second message is `initial[second]`.
    pub responder_session: Vec<u8>,
    /// Index in `initial` of that second message.
    pub second: usize,
    /// The responder's account after accepting that first message.
    pub responder_after: Vec<u8>,
    /// Both sides of that session after one reply: `(initiator, responder)`.
    pub established: (Vec<u8>, Vec<u8>),
    /// A bundle of another party.
    pub other_bundle: Vec<u8>,
    /// The responder's upload of all its prekeys (spec §7.11), before it
    /// accepted anything.
    pub upload: Vec<u8>,
    /// `Account::bundle` of the responder for `(one-time X25519, one-time
    /// ML-KEM)` ids: what a server must assemble from `upload`.
    pub upload_bundles: Vec<(BundleIds, Vec<u8>)>,
}

fn plaintext_for(name: &str) -> Vec<u8> {
    format!("first message of {name}").into_bytes()
}

fn build_fixture() -> Fixture {
    let mut rng = ChaCha20Rng::from_seed([0x5a; 32]);
    let mut bob = Account::new(&mut rng).unwrap();
    let opks = bob.generate_one_time_prekeys(&mut rng, 3).unwrap();
    let kems = bob.generate_kem_one_time_prekeys(&mut rng, 2).unwrap();
    let previous = bob.bundle(None, None).unwrap();
    bob.rotate_signed_prekey(&mut rng).unwrap();
    bob.rotate_kem_last_resort(&mut rng).unwrap();
    let bundles: Vec<(String, PrekeyBundle)> = vec![
        ("previous_keys".into(), previous),
        ("last_resort".into(), bob.bundle(None, None).unwrap()),
        ("one_time".into(), bob.bundle(Some(opks[0]), None).unwrap()),
        (
            "one_time_and_kem".into(),
            bob.bundle(Some(opks[1]), Some(kems[0])).unwrap(),
        ),
        (
            "one_time_and_kem_2".into(),
            bob.bundle(Some(opks[2]), Some(kems[1])).unwrap(),
        ),
    ];
    let mut signed_prekeys = Vec::new();
    let mut one_time_prekeys = Vec::new();
    let mut kem_prekeys = Vec::new();
    for (_, b) in &bundles {
        signed_prekeys.push((b.signed_prekey_id, b.signed_prekey));
        one_time_prekeys.extend(b.one_time_prekey);
        kem_prekeys.push((b.kem_prekey_kind, b.kem_prekey_id, b.kem_prekey.to_vec()));
    }
    let responder = bob.to_bytes();
    // The upload and the bundles a server assembles from it (no draws).
    let upload = bob.unpublished_prekeys().unwrap().to_bytes();
    let mut upload_bundles = Vec::new();
    for i in 0..=opks.len().max(kems.len()) {
        let ids = (opks.get(i).copied(), kems.get(i).copied());
        upload_bundles.push((ids, bob.bundle(ids.0, ids.1).unwrap().to_bytes()));
    }
    let alice = Account::new(&mut rng).unwrap();

    // (bundle, header mode, messages sent: the last one is the genuine one)
    let plan = [
        (0, HeaderMode::Plain, 1),
        (1, HeaderMode::Encrypted, 1),
        (2, HeaderMode::Plain, 1),
        (3, HeaderMode::Encrypted, 1),
        (4, HeaderMode::Plain, 2),
    ];
    let mut initial = Vec::new();
    let mut first_of_second = Vec::new();
    let mut second = 0;
    for (i, mode, count) in plan {
        let (bundle_name, bundle) = &bundles[i];
        let name = if count == 1 {
            format!("{bundle_name}_{}", mode_name(mode))
        } else {
            format!("{bundle_name}_{}_second", mode_name(mode))
        };
        let mut s = Session::start_unverified(&alice, &mut rng, &bundle.to_bytes(), mode).unwrap();
        let plaintext = plaintext_for(&name);
        let mut message = Vec::new();
        for k in 0..count {
            message = s.encrypt(&mut rng, &plaintext).unwrap();
            if k == 0 && count > 1 {
                first_of_second = message.clone();
                second = initial.len();
            }
        }
        initial.push(Genuine {
            name,
            message,
            plaintext,
            one_time_prekey: bundle.one_time_prekey.map(|(id, _)| id),
            kem_one_time_prekey: (bundle.kem_prekey_kind == PrekeyKind::KemOneTime)
                .then_some(bundle.kem_prekey_id),
            initiator_state: s.to_bytes(),
        });
    }

    // The responder's side of the last session, and one reply on it.
    let (mut to_alice, _) = bob.accept_unverified(&first_of_second).unwrap();
    let responder_session = to_alice.to_bytes();
    let responder_after = bob.to_bytes();
    let mut to_bob = Session::from_bytes(&initial[second].initiator_state).unwrap();
    let reply = to_alice.encrypt(&mut rng, b"reply").unwrap();
    assert_eq!(to_bob.decrypt(&reply).unwrap(), b"reply");
    let established = (to_bob.to_bytes(), to_alice.to_bytes());

    let carol = Account::new(&mut rng).unwrap();
    let other_bundle = carol.bundle(None, None).unwrap().to_bytes();

    Fixture {
        responder,
        responder_identity: *bob.identity(),
        responder_prekeys: (opks, kems),
        signed_prekeys,
        one_time_prekeys,
        kem_prekeys,
        initiator: alice,
        bundles: bundles
            .into_iter()
            .map(|(n, b)| (n, b.to_bytes()))
            .collect(),
        initial,
        responder_session,
        second,
        responder_after,
        established,
        other_bundle,
        upload,
        upload_bundles,
    }
}

/// The fixture, built once.
pub fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(build_fixture)
}

thread_local! {
    static RESPONDER: RefCell<Option<Account>> = const { RefCell::new(None) };
    static RESPONDER_SESSION: RefCell<Option<Session>> = const { RefCell::new(None) };
}

/// Runs `f` on the responder's existing session in its original state
/// (`fx.responder_session`), kept for the next call while unchanged, as in
/// [`with_responder`].
fn with_responder_session<T>(f: impl FnOnce(&mut Session) -> T) -> T {
    let fx = fixture();
    let mut s = RESPONDER_SESSION
        .with(|c| c.borrow_mut().take())
        .unwrap_or_else(|| Session::from_bytes_with(dp(), &fx.responder_session).unwrap());
    let out = f(&mut s);
    if s.to_bytes() == fx.responder_session {
        RESPONDER_SESSION.with(|c| *c.borrow_mut() = Some(s));
    }
    out
}

/// Runs `f` on the fixture's responder in its original state. The account is
/// kept for the next call only while it is unchanged (restoring it from bytes
/// recomputes every prekey, which would dominate the run time).
fn with_responder<T>(f: impl FnOnce(&mut Account) -> T) -> T {
    let fx = fixture();
    let mut account = RESPONDER
        .with(|c| c.borrow_mut().take())
        .unwrap_or_else(|| Account::from_bytes_with(dp(), &fx.responder).unwrap());
    let out = f(&mut account);
    if account.to_bytes() == fx.responder {
        RESPONDER.with(|c| *c.borrow_mut() = Some(account));
    }
    out
}

impl Fixture {
    /// Whether the responder holds every key a bundle names (with the same
    /// id), so that a handshake from it must succeed.
    fn responder_holds(&self, b: &PrekeyBundle) -> bool {
        b.identity == self.responder_identity
            && self
                .signed_prekeys
                .contains(&(b.signed_prekey_id, b.signed_prekey))
            && b.one_time_prekey
                .is_none_or(|k| self.one_time_prekeys.contains(&k))
            && self.kem_prekeys.iter().any(|(kind, id, key)| {
                *kind == b.kem_prekey_kind && *id == b.kem_prekey_id && key[..] == b.kem_prekey[..]
            })
    }
}

// ---------------------------------------------------------------------------
// bundle_parse: arbitrary bytes as a prekey bundle
// ---------------------------------------------------------------------------

/// `PrekeyBundle::parse` and `Session::start` on arbitrary bytes.
///
/// * a parsed bundle re-encodes to exactly the input;
/// * `verify` gives the same verdict on every backend;
/// * `Session::start` fails exactly when parsing or verification does (with
///   the same error), or with a key error; it never panics;
/// * a started session's first message names the bundle's prekeys, and the
///   responder accepts it exactly when it holds every key the bundle names.
pub fn check_bundle(data: &[u8]) {
    let fx = fixture();
    let parsed = PrekeyBundle::parse(data);
    let verdict = match &parsed {
        Err(e) => Err(*e),
        Ok(b) => {
            assert!(
                b.to_bytes() == data,
                "PrekeyBundle::parse accepted a non-canonical encoding"
            );
            let verdicts: Vec<_> = checked_providers().iter().map(|p| b.verify(*p)).collect();
            assert!(
                verdicts.windows(2).all(|w| w[0] == w[1]),
                "backends disagree on a bundle: {verdicts:?}"
            );
            verdicts[0]
        }
    };
    let mut rng = ChaCha20Rng::from_seed([0x6b; 32]);
    let started = Session::start_with(dp(), &fx.initiator, &mut rng, None, data, HeaderMode::Plain);
    match (verdict, started) {
        (Err(e), Err(StartError::Bundle(s))) => {
            assert_eq!(e, s, "Session::start reports another bundle error")
        }
        (Err(e), Err(s)) => panic!("bundle rejected ({e}) but Session::start says {s}"),
        (Err(e), Ok(_)) => panic!("Session::start used a rejected bundle ({e})"),
        (Ok(()), Err(StartError::Bundle(s))) => {
            panic!("bundle verifies but Session::start rejects it: {s}")
        }
        (Ok(()), Err(_)) => {}
        (Ok(()), Ok(session)) => started_session(fx, &mut rng, session, &parsed.unwrap()),
    }
}

fn started_session(fx: &Fixture, rng: &mut ChaCha20Rng, mut session: Session, b: &PrekeyBundle) {
    assert!(session.is_pending() && session.we_initiated());
    assert_eq!(session.peer_identity(), &b.identity);
    let bytes = session.to_bytes();
    let restored =
        Session::from_bytes_with(dp(), &bytes).expect("a started session does not restore");
    assert!(
        restored.to_bytes() == bytes,
        "session changed by a round trip"
    );

    let first = session.encrypt_with(dp(), rng, b"first").unwrap();
    assert_eq!(first[1], TYPE_INITIAL);
    let (h, _) = HandshakeHeader::parse(&first).expect("own initial message does not parse");
    assert_eq!(&h.identity, fx.initiator.identity());
    assert_eq!(h.signed_prekey_id, b.signed_prekey_id);
    assert_eq!(h.one_time_prekey_id, b.one_time_prekey.map(|(id, _)| id));
    assert_eq!(h.kem_prekey_kind, b.kem_prekey_kind);
    assert_eq!(h.kem_prekey_id, b.kem_prekey_id);

    if b.identity != fx.responder_identity {
        return;
    }
    let expected = fx.responder_holds(b);
    with_responder(|account| {
        match account.accept_with(dp(), &sova::session::AcceptPolicy::any_peer(), &first) {
            Ok((theirs, pt)) => {
                assert!(
                    expected,
                    "responder accepted a handshake with keys it does not hold"
                );
                assert_eq!(pt, b"first");
                assert_eq!(theirs.session_id(), session.session_id());
            }
            Err(e) => {
                assert!(
                    !expected,
                    "responder rejected a handshake with its own keys: {e}"
                );
                assert!(
                    !matches!(e, AcceptError::Malformed(_)),
                    "own initial message called malformed: {e}"
                );
                assert!(
                    account.to_bytes() == fx.responder,
                    "accept failed ({e}) but the account changed"
                );
            }
        }
    });
}

// ---------------------------------------------------------------------------
// initial_message: arbitrary or mutated initial messages
// ---------------------------------------------------------------------------

/// The edits [`mutate`] applies, selected by an edit's first byte modulo 6.
pub mod edit {
    /// `pos:u16 x:u8`: xor byte `pos` with `x` (1 when `x` is 0).
    pub const FLIP: u8 = 0;
    /// `pos:u16`: cut the message to `pos` bytes.
    pub const TRUNCATE: u8 = 1;
    /// `pos:u16 b:u8`: insert `b` before byte `pos`.
    pub const INSERT: u8 = 2;
    /// `pos:u16 v:[4]`: overwrite up to four bytes at `pos` (ids, lengths).
    pub const OVERWRITE: u8 = 3;
    /// `pos:u16 n:u8`: remove `n` bytes at `pos`.
    pub const REMOVE: u8 = 4;
    /// `pos:u16 which:u8`: keep the handshake fields, take the ratchet
    /// message of genuine message `which` (`pos` unused).
    pub const SPLICE: u8 = 5;
}

/// Applies the edits the cursor describes (at most 16) to `base`.
pub fn mutate(base: &[u8], c: &mut Cursor<'_>) -> Vec<u8> {
    let mut m = base.to_vec();
    let mut edits = 0;
    while !c.is_empty() && edits < 16 {
        edits += 1;
        let op = c.u8() % 6;
        let pos = usize::from(c.u16());
        match op {
            edit::FLIP => {
                let x = c.u8().max(1);
                if !m.is_empty() {
                    let i = pos % m.len();
                    m[i] ^= x;
                }
            }
            edit::TRUNCATE => m.truncate(pos % (m.len() + 1)),
            edit::INSERT => {
                let b = c.u8();
                m.insert(pos % (m.len() + 1), b);
            }
            edit::OVERWRITE => {
                let v = c.array::<4>();
                if !m.is_empty() {
                    let i = pos % m.len();
                    for (dst, src) in m.iter_mut().skip(i).zip(v) {
                        *dst = src;
                    }
                }
            }
            edit::REMOVE => {
                let i = pos % (m.len() + 1);
                let end = (i + usize::from(c.u8())).min(m.len());
                m.drain(i..end);
            }
            _ => {
                let all = &fixture().initial;
                let other = &all[usize::from(c.u8()) % all.len()].message;
                if let (Ok((h, _)), Ok((_, inner))) =
                    (HandshakeHeader::parse(&m), HandshakeHeader::parse(other))
                {
                    m = h.encode_with(inner);
                }
            }
        }
    }
    m
}

/// `sel:u8`, then: for an even `sel`, the message (`rest`); for an odd one,
/// edits (see [`edit`]) to genuine message `(sel >> 1) % count`.
pub fn check_initial_message(data: &[u8]) {
    let fx = fixture();
    let mut c = Cursor::new(data);
    let sel = c.u8();
    let message = if sel & 1 == 0 {
        c.rest().to_vec()
    } else {
        let g = &fx.initial[usize::from(sel >> 1) % fx.initial.len()];
        mutate(&g.message, &mut c)
    };
    check_initial_message_bytes(&message);
}

/// The checks of `initial_message` on one message:
///
/// * `HandshakeHeader::parse` accepts only canonical encodings, and
///   `Account::accept` calls a message malformed exactly when it does not parse;
/// * `accept` never panics and, on error, leaves the account unchanged;
/// * it accepts exactly the genuine messages (no other byte string, so no
///   field of an initial message is malleable), with their plaintexts; after
///   accepting, the one-time prekeys used are gone, a replay is rejected, the
///   account persists, and the new session talks to the initiator's;
/// * the responder's existing session decrypts only the ratchet message sent
///   on it, bare or wrapped in an initial message whose handshake fields are
///   byte for byte those it was accepted from (spec §7.6), and is unchanged by
///   any other message.
pub fn check_initial_message_bytes(msg: &[u8]) {
    let fx = fixture();
    let parsed = HandshakeHeader::parse(msg);
    if let Ok((h, inner)) = &parsed {
        assert!(
            h.encode_with(inner) == msg,
            "HandshakeHeader::parse accepted a non-canonical encoding"
        );
    }
    let genuine = fx.initial.iter().find(|g| g.message == msg);
    with_responder(|account| {
        match account.accept_with(dp(), &sova::session::AcceptPolicy::any_peer(), msg) {
            Err(e) => {
                assert!(
                    account.to_bytes() == fx.responder,
                    "accept failed ({e}) but the account changed"
                );
                match (&parsed, e) {
                    (Err(pe), AcceptError::Malformed(ae)) => {
                        assert_eq!(*pe, ae, "accept and parse disagree on the error")
                    }
                    (Err(pe), other) => panic!("parse says {pe}, accept says {other}"),
                    (Ok(_), AcceptError::Malformed(ae)) => {
                        panic!("parse accepts the message, accept calls it malformed: {ae}")
                    }
                    (Ok(_), _) => {}
                }
                if let Some(g) = genuine {
                    panic!("genuine initial message {} rejected: {e}", g.name);
                }
            }
            Ok((session, pt)) => {
                let Some(g) = genuine else {
                    panic!("accepted an initial message that no initiator sent");
                };
                accepted(fx, account, session, &pt, g);
            }
        }
    });

    with_responder_session(|s| match s.decrypt_with(dp(), msg) {
        Ok(pt) => {
            // Spec §7.6: a repeated initial message must carry exactly the
            // handshake fields the session was accepted from, and the ratchet
            // message sent on the session.
            let g = &fx.initial[fx.second];
            let (gh, g_inner) = HandshakeHeader::parse(&g.message).unwrap();
            let inner = match &parsed {
                Ok((h, inner)) => {
                    assert!(
                        *h == gh,
                        "the responder's session took a modified initial message"
                    );
                    *inner
                }
                Err(_) => msg,
            };
            assert!(
                inner == g_inner,
                "the responder's session decrypted a message not sent on it"
            );
            assert_eq!(pt, g.plaintext);
        }
        Err(e) => assert!(
            s.to_bytes() == fx.responder_session,
            "session decrypt failed ({e}) but the session changed"
        ),
    });
}

fn accepted(fx: &Fixture, account: &mut Account, mut session: Session, pt: &[u8], g: &Genuine) {
    assert_eq!(pt, g.plaintext, "{}: wrong plaintext", g.name);
    let mut theirs = Session::from_bytes_with(dp(), &g.initiator_state).unwrap();
    assert_eq!(session.session_id(), theirs.session_id());
    assert_eq!(session.peer_identity(), fx.initiator.identity());
    assert!(!session.we_initiated() && !session.is_pending());

    let (opks, kems) = &fx.responder_prekeys;
    let left = |all: &[u32], used: Option<u32>| -> Vec<u32> {
        all.iter().copied().filter(|id| Some(*id) != used).collect()
    };
    assert_eq!(
        account.one_time_prekey_ids(),
        left(opks, g.one_time_prekey),
        "{}: one-time prekeys after accept",
        g.name
    );
    assert_eq!(
        account.kem_one_time_prekey_ids(),
        left(kems, g.kem_one_time_prekey),
        "{}: one-time ML-KEM prekeys after accept",
        g.name
    );

    let after = account.to_bytes();
    match account.accept_with(dp(), &sova::session::AcceptPolicy::any_peer(), &g.message) {
        Ok(_) => panic!("{}: replay accepted", g.name),
        Err(AcceptError::Replay | AcceptError::OneTimePrekeyUnknownOrUsed(_)) => {}
        Err(e) => panic!("{}: replay rejected as {e}", g.name),
    }
    assert!(
        account.to_bytes() == after,
        "rejected replay changed the account"
    );
    let restored =
        Account::from_bytes_with(dp(), &after).expect("account after accept does not restore");
    assert!(
        restored.to_bytes() == after,
        "account changed by a round trip"
    );

    let mut rng = ChaCha20Rng::from_seed([0x7e; 32]);
    let reply = session.encrypt_with(dp(), &mut rng, b"reply").unwrap();
    assert_ne!(reply[1], TYPE_INITIAL);
    assert_eq!(theirs.decrypt_with(dp(), &reply).unwrap(), b"reply");
    assert!(!theirs.is_pending());
}

// ---------------------------------------------------------------------------
// state_decode: arbitrary persisted states
// ---------------------------------------------------------------------------

/// Selector of `state_decode`: the plain decoders on `rest`.
pub const DECODE_PLAIN: u8 = 0;
/// Selector of `state_decode`: the sealed decoders on `rest`.
pub const DECODE_SEALED: u8 = 1;
/// Selector of `state_decode`: `pos:u16 x:u8 state:rest` sealed, opened,
/// corrupted, opened with the wrong key and as the wrong kind.
pub const SEAL_ROUND_TRIP: u8 = 2;

/// `sel:u8` (modulo 3; see [`DECODE_PLAIN`], [`DECODE_SEALED`],
/// [`SEAL_ROUND_TRIP`]), then its fields.
pub fn check_state_decode(data: &[u8]) {
    let mut c = Cursor::new(data);
    match c.u8() % 3 {
        DECODE_PLAIN => check_plain_state(c.rest()),
        DECODE_SEALED => check_sealed_state(c.rest()),
        _ => {
            let pos = usize::from(c.u16());
            let x = c.u8();
            check_seal_round_trip(c.rest(), pos, x);
        }
    }
}

/// `Account`, `Session` and `Ratchet::from_bytes` never panic; an accepted
/// state re-encodes to exactly the input and works.
pub fn check_plain_state(bytes: &[u8]) {
    check_plain_state_exact(bytes);
    // Structure-aware: also with the trailing integrity check (SHA-256 of the
    // rest, spec §8.1) recomputed, so mutations reach the field decoders.
    if let Some(body) = bytes.len().checked_sub(32) {
        let digest = dp().sha256(&[&bytes[..body]]);
        if bytes[body..] != digest {
            check_plain_state_exact(&[&bytes[..body], &digest[..]].concat());
        }
    }
}

fn check_plain_state_exact(bytes: &[u8]) {
    if let Ok(a) = Account::from_bytes_with(dp(), bytes) {
        assert!(
            a.to_bytes() == bytes,
            "Account::from_bytes accepted a non-canonical state"
        );
        use_account(a);
    }
    if let Ok(s) = Session::from_bytes_with(dp(), bytes) {
        assert!(
            s.to_bytes() == bytes,
            "Session::from_bytes accepted a non-canonical state"
        );
        use_session(s);
    }
    if let Ok(r) = Ratchet::from_bytes_with(dp(), bytes) {
        assert!(
            r.to_bytes() == bytes,
            "Ratchet::from_bytes accepted a non-canonical state"
        );
    }
    if let Ok(c) = Conversation::from_bytes_with(dp(), bytes) {
        assert!(
            c.to_bytes() == bytes,
            "Conversation::from_bytes accepted a non-canonical state"
        );
        use_conversation(c);
    }
}

/// A decoded conversation seals and opens to itself (sealed kind 3), keeps
/// its sessions' peer and ids distinct, and encrypts (or fails without
/// change).
fn use_conversation(mut c: Conversation) {
    let bytes = c.to_bytes();
    let mut rng = ChaCha20Rng::from_seed([0x43; 32]);
    let sealed = c.to_sealed_bytes(&mut rng, &storage_key()).unwrap();
    let opened = Conversation::from_sealed_bytes(&sealed, &storage_key())
        .expect("a sealed conversation does not open");
    assert!(
        opened.to_bytes() == bytes,
        "conversation changed by sealing"
    );
    let ids: BTreeSet<_> = c.sessions().iter().map(|s| *s.session_id()).collect();
    assert_eq!(ids.len(), c.sessions().len(), "duplicate sessions decoded");
    assert!(c.sessions().len() <= MAX_CONVERSATION_SESSIONS);
    assert!(c
        .sessions()
        .iter()
        .all(|s| s.peer_identity().identity_key() == *c.peer()));
    match c.encrypt_with(dp(), &mut rng, b"probe") {
        Ok(_) => {
            let after = c.to_bytes();
            let restored = Conversation::from_bytes_with(dp(), &after)
                .expect("conversation after encrypt does not restore");
            assert!(
                restored.to_bytes() == after,
                "conversation changed by a round trip"
            );
        }
        Err(e) => assert!(
            c.to_bytes() == bytes,
            "encrypt failed ({e}) but the conversation changed"
        ),
    }
}

/// A decoded account publishes a valid bundle, accepts a fresh handshake on
/// it, and persists sealed.
fn use_account(mut a: Account) {
    let fx = fixture();
    let p = dp();
    let bytes = a.to_bytes();
    let mut rng = ChaCha20Rng::from_seed([0x41; 32]);
    let sealed = a.to_sealed_bytes(&mut rng, &storage_key()).unwrap();
    let opened = Account::from_sealed_bytes(&sealed, &storage_key())
        .expect("a sealed account does not open");
    assert!(opened.to_bytes() == bytes, "account changed by sealing");

    let opk = a.one_time_prekey_ids().first().copied();
    let kem = a.kem_one_time_prekey_ids().first().copied();
    let bundle = a.bundle(opk, kem).expect("a decoded account has no bundle");
    assert_eq!(bundle.verify(p), Ok(()), "a decoded account's bundle");
    let wire = bundle.to_bytes();
    assert_eq!(PrekeyBundle::parse(&wire).as_ref(), Ok(&bundle));
    let mut to_a = Session::start_with(p, &fx.initiator, &mut rng, None, &wire, HeaderMode::Plain)
        .expect("a decoded account's bundle does not start a session");
    let first = to_a.encrypt_with(p, &mut rng, b"hello").unwrap();
    // Without a one-time prekey the handshake needs a replay record (spec
    // §7.6): a full set fails closed, and a state may hold this very record.
    let needs_record = opk.is_none() && kem.is_none();
    let generation = a.generation();
    match a.accept_with(p, &sova::session::AcceptPolicy::any_peer(), &first) {
        Ok((_, pt)) => assert_eq!(pt, b"hello"),
        Err(AcceptError::Replay) if needs_record => {
            assert!(
                a.to_bytes() == bytes,
                "a rejected replay changed the account"
            );
            return;
        }
        Err(AcceptError::ReplayStoreFull(id))
            if needs_record && a.replay_record_count() == MAX_REPLAY_RECORDS =>
        {
            assert_eq!(id, bundle.signed_prekey_id);
            assert!(
                a.to_bytes() == bytes,
                "a full replay store changed the account"
            );
            return;
        }
        Err(e) => panic!("a decoded account rejects a fresh handshake: {e}"),
    }
    assert_eq!(a.generation(), generation.saturating_add(1));
    let after = a.to_bytes();
    let restored =
        Account::from_bytes_with(dp(), &after).expect("account after accept does not restore");
    assert!(
        restored.to_bytes() == after,
        "account changed by a round trip"
    );
}

/// A decoded session encrypts (or fails without change) and persists.
fn use_session(mut s: Session) {
    let bytes = s.to_bytes();
    let mut rng = ChaCha20Rng::from_seed([0x53; 32]);
    let sealed = s.to_sealed_bytes(&mut rng, &storage_key()).unwrap();
    let opened = Session::from_sealed_bytes(&sealed, &storage_key())
        .expect("a sealed session does not open");
    assert!(opened.to_bytes() == bytes, "session changed by sealing");
    match s.encrypt_with(dp(), &mut rng, b"probe") {
        Ok(m) => {
            if s.is_pending() {
                assert_eq!(m[1], TYPE_INITIAL);
                HandshakeHeader::parse(&m).expect("a pending session's message does not parse");
            } else {
                assert_ne!(m.get(1), Some(&TYPE_INITIAL));
            }
            let after = s.to_bytes();
            let restored = Session::from_bytes_with(dp(), &after)
                .expect("session after encrypt does not restore");
            assert!(
                restored.to_bytes() == after,
                "session changed by a round trip"
            );
        }
        Err(e) => assert!(
            s.to_bytes() == bytes,
            "encrypt failed ({e}) but the session changed"
        ),
    }
}

fn kinds() -> [SealedKind; 3] {
    [
        SealedKind::Account,
        SealedKind::Session,
        SealedKind::Conversation,
    ]
}

/// Opens `sealed` as `kind` with `key`: the restored state's encoding, or the error.
fn restore_sealed(
    kind: SealedKind,
    sealed: &[u8],
    key: &Secret<32>,
) -> Result<Vec<u8>, PersistError> {
    match kind {
        SealedKind::Account => Account::from_sealed_bytes(sealed, key).map(|a| a.to_bytes()),
        SealedKind::Session => Session::from_sealed_bytes(sealed, key).map(|s| s.to_bytes()),
        SealedKind::Conversation => {
            Conversation::from_sealed_bytes(sealed, key).map(|c| c.to_bytes())
        }
        _ => Err(PersistError::Storage(StorageError::WrongKind(kind as u8))),
    }
}

/// Restores plain `bytes` as `kind`: the restored state's encoding, or the error.
fn restore_plain(kind: SealedKind, bytes: &[u8]) -> Result<Vec<u8>, PersistError> {
    match kind {
        SealedKind::Account => Account::from_bytes(bytes).map(|a| a.to_bytes()),
        SealedKind::Session => Session::from_bytes(bytes).map(|s| s.to_bytes()),
        SealedKind::Conversation => Conversation::from_bytes(bytes).map(|c| c.to_bytes()),
        _ => Err(StateError::BadMagic),
    }
    .map_err(PersistError::State)
}

/// `from_sealed_bytes` on arbitrary bytes never panics and agrees with
/// `storage::open` followed by `from_bytes`.
pub fn check_sealed_state(blob: &[u8]) {
    let p = DefaultProvider::default();
    let key = storage_key();
    for kind in kinds() {
        let got = restore_sealed(kind, blob, &key);
        match storage::open(&p, &key, kind, blob) {
            Err(e) => assert_eq!(got, Err(PersistError::Storage(e))),
            Ok(plain) => {
                let want = restore_plain(kind, &plain);
                assert_eq!(got, want, "sealed and plain restores disagree");
                if let Ok(enc) = want {
                    assert!(
                        enc == plain,
                        "sealed state accepted in a non-canonical encoding"
                    );
                }
            }
        }
    }
}

/// Seals arbitrary `state` as each kind, then: opening restores exactly what
/// `from_bytes` does; flipping any byte of the blob (at `pos`, with `x`),
/// cutting it short, opening it with another key or as the other kind are
/// all rejected as storage errors, never as another state.
pub fn check_seal_round_trip(state: &[u8], pos: usize, x: u8) {
    let p = DefaultProvider::default();
    let key = storage_key();
    for kind in kinds() {
        let mut rng = ChaCha20Rng::from_seed([0x73; 32]);
        let sealed = storage::seal(&p, &mut rng, &key, kind, state).unwrap();
        assert_eq!(
            restore_sealed(kind, &sealed, &key),
            restore_plain(kind, state),
            "sealing changed what a state restores to"
        );

        let mut bad = sealed.clone();
        let i = pos % bad.len();
        bad[i] ^= x.max(1);
        let want = match i {
            0..=12 => StorageError::BadMagic,
            13 => StorageError::UnsupportedVersion(bad[13]),
            14 => StorageError::WrongKind(bad[14]),
            _ => StorageError::Authentication,
        };
        assert_eq!(
            restore_sealed(kind, &bad, &key),
            Err(PersistError::Storage(want)),
            "corrupted byte {i} of a sealed state"
        );

        let cut = pos % sealed.len();
        match restore_sealed(kind, &sealed[..cut], &key) {
            Err(PersistError::Storage(_)) => {}
            other => panic!("sealed state cut to {cut} bytes: {other:?}"),
        }

        assert_eq!(
            restore_sealed(kind, &sealed, &wrong_storage_key()),
            Err(PersistError::Storage(StorageError::Authentication)),
            "sealed state opened with another key"
        );

        let other = match kind {
            SealedKind::Account => SealedKind::Session,
            _ => SealedKind::Account,
        };
        assert_eq!(
            restore_sealed(other, &sealed, &key),
            Err(PersistError::Storage(StorageError::WrongKind(kind as u8))),
            "sealed state opened as the other kind"
        );
    }
}

// ---------------------------------------------------------------------------
// conversation: two parties' conversations over a hostile network
// ---------------------------------------------------------------------------

/// The fixed accounts of `conversation`, built once.
pub struct ConvFixture {
    /// Alice's and Bob's persisted accounts.
    pub accounts: [Vec<u8>; 2],
    /// Their identity keys.
    pub identities: [IdentityKey; 2],
    /// Each party's bundles as a bundle server hands them out: first those
    /// with one-time prekeys (each handed out once per run), then the
    /// last-resort bundle, which is handed out any number of times.
    pub bundles: [Vec<Vec<u8>>; 2],
    /// Initial messages another identity (Mallory) sent to Alice and to Bob.
    pub intruder: [Vec<u8>; 2],
}

fn build_conv_fixture() -> ConvFixture {
    let p = dp();
    let mut rng = ChaCha20Rng::from_seed([0xc0; 32]);
    let mut accounts = Vec::new();
    let mut bundles = Vec::new();
    for _ in 0..2 {
        let mut a = Account::new_with(p, &mut rng).unwrap();
        let opks = a.generate_one_time_prekeys(&mut rng, 2).unwrap();
        let kems = a.generate_kem_one_time_prekeys(&mut rng, 1).unwrap();
        bundles.push(vec![
            a.bundle(Some(opks[0]), Some(kems[0])).unwrap().to_bytes(),
            a.bundle(Some(opks[1]), None).unwrap().to_bytes(),
            a.bundle(None, None).unwrap().to_bytes(),
        ]);
        accounts.push(a);
    }
    let mallory = Account::new_with(p, &mut rng).unwrap();
    let intruder = [0, 1].map(|i| {
        let last = bundles[i].last().unwrap();
        let mut s =
            Session::start_with(p, &mallory, &mut rng, None, last, HeaderMode::Plain).unwrap();
        s.encrypt_with(p, &mut rng, b"from mallory").unwrap()
    });
    let identities = [accounts[0].identity_key(), accounts[1].identity_key()];
    let [b0, b1]: [Vec<Vec<u8>>; 2] = bundles.try_into().unwrap();
    ConvFixture {
        accounts: [accounts[0].to_bytes(), accounts[1].to_bytes()],
        identities,
        bundles: [b0, b1],
        intruder,
    }
}

/// The fixture of `conversation`, built once.
pub fn conv_fixture() -> &'static ConvFixture {
    static FIXTURE: OnceLock<ConvFixture> = OnceLock::new();
    FIXTURE.get_or_init(build_conv_fixture)
}

/// One step of a `conversation` run; `who` is a party (bit 0: Bob), `pick`
/// selects modulo the length of the list it indexes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConvAction {
    /// `who` starts a session from the peer's next bundle (`one_time` set:
    /// the next bundle with one-time prekeys, while there is one) in header
    /// mode `encrypted`; both parties may start at once.
    Start {
        /// The party.
        who: u8,
        /// Take a bundle with one-time prekeys.
        one_time: bool,
        /// Encrypted headers.
        encrypted: bool,
    },
    /// `who` sends a message of `len` bytes (modulo 301) on its active session.
    Send {
        /// The party.
        who: u8,
        /// Plaintext length.
        len: u16,
    },
    /// The network delivers in-flight message `pick` (oldest first).
    Deliver {
        /// Which one.
        pick: u16,
    },
    /// The network delivers the newest in-flight message.
    DeliverNewest,
    /// The network loses in-flight message `pick`.
    Drop {
        /// Which one.
        pick: u16,
    },
    /// The network delivers sent message `pick` again (duplicate or delayed
    /// copy).
    Duplicate {
        /// Which one.
        pick: u16,
    },
    /// A copy of sent message `pick` with bit `bit % 8` of byte `pos` flipped.
    Tamper {
        /// Which one.
        pick: u16,
        /// Byte (modulo the length).
        pos: u16,
        /// Bit.
        bit: u8,
    },
    /// Sent message `pick` delivered back to its sender.
    Reflect {
        /// Which one.
        pick: u16,
    },
    /// `who` persists its conversation and account and continues from the
    /// restored copies (`sealed`: through sealed kind 3).
    Persist {
        /// The party.
        who: u8,
        /// Through the sealed form.
        sealed: bool,
    },
    /// `who` receives an initial message from another identity.
    Intrude {
        /// The party.
        who: u8,
    },
}

const CONV_OPS: u8 = 10;

/// Bounds on one `conversation` run: actions, messages, session starts and
/// persistence round trips.
pub const CONV_MAX_ACTIONS: usize = 40;
/// Messages sent in one run.
pub const CONV_MAX_MESSAGES: usize = 20;
/// Session starts in one run: enough for more sessions than
/// `MAX_CONVERSATION_SESSIONS` across both parties.
pub const CONV_MAX_STARTS: usize = 6;
/// Persistence round trips in one run.
pub const CONV_MAX_PERSISTS: usize = 6;

/// A `conversation` input: `flags:u8 seed:u8` then actions, each an opcode
/// byte (modulo 10, in [`ConvAction`] order) and its fields (`u16`
/// big-endian, flags as bits of one byte).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConvSchedule {
    /// Seed of the parties' randomness.
    pub seed: u8,
    /// The steps.
    pub actions: Vec<ConvAction>,
}

impl ConvSchedule {
    /// Decodes a fuzz input (every byte string is one).
    pub fn from_bytes(data: &[u8]) -> Self {
        let mut c = Cursor::new(data);
        let seed = c.u8();
        let mut actions = Vec::new();
        while !c.is_empty() {
            actions.push(match c.u8() % CONV_OPS {
                0 => {
                    let b = c.u8();
                    ConvAction::Start {
                        who: b & 1,
                        one_time: b & 2 != 0,
                        encrypted: b & 4 != 0,
                    }
                }
                1 => ConvAction::Send {
                    who: c.u8() & 1,
                    len: c.u16(),
                },
                2 => ConvAction::Deliver { pick: c.u16() },
                3 => ConvAction::DeliverNewest,
                4 => ConvAction::Drop { pick: c.u16() },
                5 => ConvAction::Duplicate { pick: c.u16() },
                6 => ConvAction::Tamper {
                    pick: c.u16(),
                    pos: c.u16(),
                    bit: c.u8(),
                },
                7 => ConvAction::Reflect { pick: c.u16() },
                8 => {
                    let b = c.u8();
                    ConvAction::Persist {
                        who: b & 1,
                        sealed: b & 2 != 0,
                    }
                }
                _ => ConvAction::Intrude { who: c.u8() & 1 },
            });
        }
        Self { seed, actions }
    }

    /// Encodes a schedule in the layout [`from_bytes`](Self::from_bytes) reads.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = vec![self.seed];
        for a in &self.actions {
            match *a {
                ConvAction::Start {
                    who,
                    one_time,
                    encrypted,
                } => out.extend([0, who | u8::from(one_time) << 1 | u8::from(encrypted) << 2]),
                ConvAction::Send { who, len } => {
                    out.extend([1, who]);
                    out.extend(len.to_be_bytes());
                }
                ConvAction::Deliver { pick } => {
                    out.push(2);
                    out.extend(pick.to_be_bytes());
                }
                ConvAction::DeliverNewest => out.push(3),
                ConvAction::Drop { pick } => {
                    out.push(4);
                    out.extend(pick.to_be_bytes());
                }
                ConvAction::Duplicate { pick } => {
                    out.push(5);
                    out.extend(pick.to_be_bytes());
                }
                ConvAction::Tamper { pick, pos, bit } => {
                    out.push(6);
                    out.extend(pick.to_be_bytes());
                    out.extend(pos.to_be_bytes());
                    out.push(bit);
                }
                ConvAction::Reflect { pick } => {
                    out.push(7);
                    out.extend(pick.to_be_bytes());
                }
                ConvAction::Persist { who, sealed } => {
                    out.extend([8, who | u8::from(sealed) << 1]);
                }
                ConvAction::Intrude { who } => out.extend([9, who]),
            }
        }
        out
    }
}

/// A message on the wire.
struct ConvSent {
    from: usize,
    wire: Vec<u8>,
    plaintext: Vec<u8>,
    /// The session it was sent on.
    session_id: [u8; 32],
}

struct ConvParty {
    account: Account,
    conv: Conversation,
    /// Sent messages this party accepted.
    accepted: BTreeSet<usize>,
    /// Bundles of this party handed out so far (with one-time prekeys).
    handed_out: usize,
    /// `conv.to_bytes()`, when known: kept while nothing changes the
    /// conversation, so the checks that a refused call changed nothing
    /// encode the state once, after the call, instead of twice.
    conv_bytes: Option<Vec<u8>>,
    /// `account.to_bytes()`, likewise.
    account_bytes: Option<Vec<u8>>,
}

impl ConvParty {
    /// The conversation's encoding before a call that may change it.
    fn conv_before(&mut self) -> Vec<u8> {
        match self.conv_bytes.take() {
            Some(b) => b,
            None => self.conv.to_bytes(),
        }
    }

    /// The account's encoding before a call that may change it.
    fn account_before(&mut self) -> Vec<u8> {
        match self.account_bytes.take() {
            Some(b) => b,
            None => self.account.to_bytes(),
        }
    }

    /// After a call that must have changed nothing: the conversation and
    /// the account encode exactly as before (and the encodings stay cached).
    fn assert_unchanged(&mut self, conv: Vec<u8>, account: Vec<u8>, what: &dyn core::fmt::Display) {
        assert!(
            self.conv.to_bytes() == conv,
            "{what} changed the conversation"
        );
        assert!(
            self.account.to_bytes() == account,
            "{what} changed the account"
        );
        self.conv_bytes = Some(conv);
        self.account_bytes = Some(account);
    }
}

thread_local! {
    /// The fixture's accounts, left by an input that did not change them
    /// (their encoding, known from the checks, equals the fixture's), so the
    /// next input need not restore them from bytes.
    static SPARE_ACCOUNTS: std::cell::RefCell<[Option<Account>; 2]> =
        const { std::cell::RefCell::new([None, None]) };
}

/// The kinds of operation that draw randomness; see [`ConvNet::rng`].
#[derive(Clone, Copy)]
enum ConvDraw {
    Start,
    Send,
    Persist,
}

struct ConvNet {
    parties: [ConvParty; 2],
    sent: Vec<ConvSent>,
    in_flight: Vec<usize>,
    seed: u8,
    /// Draws of randomness so far, per kind of operation and party; see
    /// [`ConvNet::rng`].
    draws: [[u8; 2]; 3],
    starts: usize,
    persists: usize,
    /// A conversation dropped a session (more than
    /// `MAX_CONVERSATION_SESSIONS`): later messages on it may be lost.
    evicted: bool,
}

impl ConvNet {
    fn new(seed: u8) -> Self {
        let fx = conv_fixture();
        let party = |i: usize| ConvParty {
            account: SPARE_ACCOUNTS
                .with(|s| s.borrow_mut()[i].take())
                .unwrap_or_else(|| Account::from_bytes_with(dp(), &fx.accounts[i]).unwrap()),
            conv: Conversation::new(fx.identities[1 - i]),
            accepted: BTreeSet::new(),
            handed_out: 0,
            conv_bytes: None,
            account_bytes: None,
        };
        Self {
            parties: [party(0), party(1)],
            sent: Vec::new(),
            in_flight: Vec::new(),
            seed,
            draws: [[0; 2]; 3],
            starts: 0,
            persists: 0,
            evicted: false,
        }
    }

    /// Ends an input: accounts whose encoding is the fixture's go to
    /// `SPARE_ACCOUNTS` for the next input.
    fn recycle(self) {
        let fx = conv_fixture();
        for (i, p) in self.parties.into_iter().enumerate() {
            if p.account_bytes.as_deref() == Some(&fx.accounts[i][..]) {
                SPARE_ACCOUNTS.with(|s| s.borrow_mut()[i] = Some(p.account));
            }
        }
    }

    /// The randomness of `who`'s next operation of kind `kind`: a function
    /// of the seed byte, the kind, the party and how many such operations
    /// the party made before (so no two operations of a run share it), not
    /// of the operations in between. Keys therefore recur across runs (the
    /// `n`-th session start of a party, with a given seed, always has the
    /// same ephemeral key), and the fuzz build's memoising provider does
    /// not redo their public-key work.
    fn rng(&mut self, kind: ConvDraw, who: usize) -> ChaCha20Rng {
        let n = &mut self.draws[kind as usize][who];
        let mut seed = [self.seed; 32];
        seed[..3].copy_from_slice(&[kind as u8, who as u8, *n]);
        *n += 1;
        ChaCha20Rng::from_seed(seed)
    }

    fn start(&mut self, who: usize, one_time: bool, encrypted: bool) {
        if self.starts >= CONV_MAX_STARTS {
            return;
        }
        self.starts += 1;
        let fx = conv_fixture();
        let peer = 1 - who;
        // The bundle server: each bundle with one-time prekeys once.
        let with_one_time = fx.bundles[peer].len() - 1;
        let handed = &mut self.parties[peer].handed_out;
        let bundle = if one_time && *handed < with_one_time {
            *handed += 1;
            &fx.bundles[peer][*handed - 1]
        } else {
            &fx.bundles[peer][with_one_time]
        };
        let mode = if encrypted {
            HeaderMode::Encrypted
        } else {
            HeaderMode::Plain
        };
        let mut rng = self.rng(ConvDraw::Start, who);
        let p = &mut self.parties[who];
        let s = Session::start_with(
            dp(),
            &p.account,
            &mut rng,
            Some(&fx.identities[peer]),
            bundle,
            mode,
        )
        .expect("a session does not start from the peer's own bundle");
        let before = p.conv.sessions().len();
        p.conv_bytes = None;
        p.conv.add(s).expect("a new session was refused");
        if before == MAX_CONVERSATION_SESSIONS {
            self.evicted = true;
        }
    }

    fn send(&mut self, who: usize, len: u16) -> Option<usize> {
        if self.sent.len() >= CONV_MAX_MESSAGES {
            return None;
        }
        let id = self.sent.len();
        let pt = plaintext_of(id, usize::from(len) % 301);
        let mut rng = self.rng(ConvDraw::Send, who);
        let p = &mut self.parties[who];
        let session_id = p.conv.active_session().map(|s| *s.session_id());
        // Without a session the send fails: only then is the encoding from
        // before the call needed.
        let before = session_id.is_none().then(|| p.conv_before());
        match p.conv.encrypt_with(dp(), &mut rng, &pt) {
            Ok(wire) => {
                p.conv_bytes = None;
                let session_id = session_id.expect("encrypted without a session");
                self.sent.push(ConvSent {
                    from: who,
                    wire,
                    plaintext: pt,
                    session_id,
                });
                self.in_flight.push(id);
                Some(id)
            }
            Err(e) => {
                assert!(
                    session_id.is_none() && e == EncryptError::NoSendingChain,
                    "a conversation with a session cannot send: {e}"
                );
                let before = before.expect("failed with a session");
                assert!(
                    p.conv.to_bytes() == before,
                    "a failed send changed the conversation"
                );
                p.conv_bytes = Some(before);
                None
            }
        }
    }

    /// Delivers `bytes` to `to`: an accepted message is a sent one, from the
    /// peer, with its plaintext and session, accepted at most once; a
    /// rejection changes neither the conversation nor the account.
    /// Returns whether it was accepted.
    fn deliver(&mut self, to: usize, bytes: &[u8]) -> bool {
        self.deliver_checked(to, bytes, false)
    }

    /// [`deliver`](Self::deliver); `must_accept`: a rejection fails the
    /// check at once, so the conversation is not encoded before the call.
    fn deliver_checked(&mut self, to: usize, bytes: &[u8], must_accept: bool) -> bool {
        let p = &mut self.parties[to];
        let conv_before = (!must_accept).then(|| p.conv_before());
        let account_before = p.account_before();
        let sessions_before = p.conv.sessions().len();
        match p.conv.decrypt_with(dp(), &mut p.account, bytes) {
            Err(e) => {
                let Some(conv_before) = conv_before else {
                    panic!("a fresh message from the peer was not accepted ({e})");
                };
                let what = format_args!("a rejected message ({e})");
                p.assert_unchanged(conv_before, account_before, &what);
                false
            }
            Ok(got) => {
                let id = self
                    .sent
                    .iter()
                    .position(|m| m.wire == bytes && m.from != to)
                    .unwrap_or_else(|| panic!("accepted a message the peer never sent"));
                let m = &self.sent[id];
                assert!(
                    got.plaintext == m.plaintext,
                    "message {id}: wrong plaintext"
                );
                assert_eq!(got.session_id, m.session_id, "message {id}: wrong session");
                assert!(p.accepted.insert(id), "message {id} accepted twice");
                p.conv_bytes = None;
                let account_after = p.account.to_bytes();
                if got.account_changed {
                    assert!(
                        account_after != account_before,
                        "a new session left the account unchanged"
                    );
                    if sessions_before == MAX_CONVERSATION_SESSIONS {
                        self.evicted = true;
                    }
                } else {
                    assert!(
                        account_after == account_before,
                        "the account changed without account_changed"
                    );
                }
                p.account_bytes = Some(account_after);
                true
            }
        }
    }

    fn persist(&mut self, who: usize, sealed: bool) {
        if self.persists >= CONV_MAX_PERSISTS {
            return;
        }
        self.persists += 1;
        let mut rng = self.rng(ConvDraw::Persist, who);
        let p = &mut self.parties[who];
        let bytes = p.conv_before();
        let restored = if sealed {
            let blob = p.conv.to_sealed_bytes(&mut rng, &storage_key()).unwrap();
            Conversation::from_sealed_bytes_with(dp(), &blob, &storage_key())
                .expect("a sealed conversation does not open")
        } else {
            Conversation::from_bytes_with(dp(), &bytes).expect("a conversation does not restore")
        };
        assert!(
            restored.to_bytes() == bytes,
            "conversation changed by a round trip"
        );
        assert_eq!(restored.peer(), p.conv.peer());
        assert_eq!(
            restored.active_session().map(|s| *s.session_id()),
            p.conv.active_session().map(|s| *s.session_id()),
            "a round trip changed the active session"
        );
        p.conv = restored;
        p.conv_bytes = Some(bytes);
        let account = p.account_before();
        let restored =
            Account::from_bytes_with(dp(), &account).expect("an account does not restore");
        assert!(
            restored.to_bytes() == account,
            "account changed by a round trip"
        );
        p.account = restored;
        p.account_bytes = Some(account);
    }

    fn step(&mut self, action: &ConvAction) {
        let pick = |len: usize, k: u16| (len > 0).then(|| usize::from(k) % len);
        match *action {
            ConvAction::Start {
                who,
                one_time,
                encrypted,
            } => self.start(usize::from(who), one_time, encrypted),
            ConvAction::Send { who, len } => {
                self.send(usize::from(who), len);
            }
            ConvAction::Deliver { pick: k } => {
                if let Some(i) = pick(self.in_flight.len(), k) {
                    let id = self.in_flight.remove(i);
                    let (to, wire) = (1 - self.sent[id].from, self.sent[id].wire.clone());
                    self.deliver(to, &wire);
                }
            }
            ConvAction::DeliverNewest => {
                if let Some(id) = self.in_flight.pop() {
                    let (to, wire) = (1 - self.sent[id].from, self.sent[id].wire.clone());
                    self.deliver(to, &wire);
                }
            }
            ConvAction::Drop { pick: k } => {
                if let Some(i) = pick(self.in_flight.len(), k) {
                    self.in_flight.remove(i);
                }
            }
            ConvAction::Duplicate { pick: k } => {
                if let Some(id) = pick(self.sent.len(), k) {
                    let (to, wire) = (1 - self.sent[id].from, self.sent[id].wire.clone());
                    self.deliver(to, &wire);
                }
            }
            ConvAction::Tamper { pick: k, pos, bit } => {
                if let Some(id) = pick(self.sent.len(), k) {
                    let mut wire = self.sent[id].wire.clone();
                    let at = usize::from(pos) % wire.len();
                    wire[at] ^= 1 << (bit % 8);
                    assert!(
                        !self.deliver(1 - self.sent[id].from, &wire),
                        "a tampered message was accepted"
                    );
                }
            }
            ConvAction::Reflect { pick: k } => {
                if let Some(id) = pick(self.sent.len(), k) {
                    let (to, wire) = (self.sent[id].from, self.sent[id].wire.clone());
                    assert!(!self.deliver(to, &wire), "a reflected message was accepted");
                }
            }
            ConvAction::Persist { who, sealed } => self.persist(usize::from(who), sealed),
            ConvAction::Intrude { who } => {
                let who = usize::from(who);
                let p = &mut self.parties[who];
                let conv_before = p.conv_before();
                let account_before = p.account_before();
                let got = p
                    .conv
                    .decrypt_with(dp(), &mut p.account, &conv_fixture().intruder[who]);
                assert_eq!(
                    got.map(|r| r.plaintext),
                    Err(ConversationError::OtherPeer),
                    "another identity's initial message"
                );
                p.assert_unchanged(conv_before, account_before, &"another identity's message");
            }
        }
    }
}

fn plaintext_of(id: usize, len: usize) -> Vec<u8> {
    let tag = (id as u32).to_be_bytes();
    (0..len).map(|i| tag[i % 4] ^ (i / 4) as u8).collect()
}

/// `conversation`: two parties' [`Conversation`]s (and accounts) driven by a
/// [`ConvSchedule`] over a network that delays, drops, duplicates, tampers
/// with and reflects messages, with simultaneous session starts and
/// persistence round trips (plain and sealed). Checked at every step:
///
/// * a rejected message changes nothing: the conversation's and the
///   account's `to_bytes()` are unchanged, and tampered, reflected and
///   other identities' messages are rejected;
/// * an accepted message is one the peer sent, byte for byte, with its
///   plaintext and on the session it was sent on, and is accepted at most
///   once; the account changes exactly when a new session is accepted;
/// * persisted conversations and accounts restore exactly;
/// * at the end, when no conversation had to drop a session, each party
///   with a session reaches the other: a fresh message is accepted.
pub fn check_conversation(data: &[u8]) {
    let schedule = ConvSchedule::from_bytes(data);
    let mut net = ConvNet::new(schedule.seed);
    for action in schedule.actions.iter().take(CONV_MAX_ACTIONS) {
        net.step(action);
    }
    if net.evicted {
        net.recycle();
        return;
    }
    for who in [0, 1] {
        if net.parties[who].conv.active_session().is_none() {
            continue;
        }
        // Beyond the message cap: the final messages are extra.
        let id = net.sent.len();
        let pt = plaintext_of(id, 7);
        let mut rng = net.rng(ConvDraw::Send, who);
        let p = &mut net.parties[who];
        let session_id = *p.conv.active_session().unwrap().session_id();
        let wire = p
            .conv
            .encrypt_with(dp(), &mut rng, &pt)
            .unwrap_or_else(|e| panic!("a conversation with a session cannot send: {e}"));
        p.conv_bytes = None;
        net.sent.push(ConvSent {
            from: who,
            wire: wire.clone(),
            plaintext: pt,
            session_id,
        });
        // Must be accepted: a rejection fails the check at once.
        net.deliver_checked(1 - who, &wire, true);
    }
    net.recycle();
}

// ---------------------------------------------------------------------------
// safety_number: the QR payload parser and the display format
// ---------------------------------------------------------------------------

/// Identities, fingerprints and safety numbers of `safety_number`, built once.
pub struct SafetyFixture {
    /// The identities: two real ones and an arbitrary 64-byte value.
    pub identities: Vec<[u8; IDENTITY_LEN]>,
    /// Their fingerprints.
    pub fingerprints: Vec<[u8; FINGERPRINT_LEN]>,
    /// `numbers[o][t]`: the safety number as party `o` sees it with `t`.
    pub numbers: Vec<Vec<SafetyNumber>>,
}

fn build_safety_fixture() -> SafetyFixture {
    let fx = conv_fixture();
    let identities = vec![fx.identities[0], fx.identities[1], [0x5f; IDENTITY_LEN]];
    let fingerprints: Vec<_> = identities.iter().map(|i| fingerprint(dp(), i)).collect();
    let numbers = identities
        .iter()
        .map(|o| {
            identities
                .iter()
                .map(|t| SafetyNumber::compute(dp(), o, t))
                .collect()
        })
        .collect();
    SafetyFixture {
        identities,
        fingerprints,
        numbers,
    }
}

/// The fixture of `safety_number`.
pub fn safety_fixture() -> &'static SafetyFixture {
    static FIXTURE: OnceLock<SafetyFixture> = OnceLock::new();
    FIXTURE.get_or_init(build_safety_fixture)
}

/// The 30 digits of a fingerprint, as spec §10.4 defines them.
fn model_digits(fp: &[u8]) -> String {
    fp[..30]
        .chunks(5)
        .map(|c| {
            let v = c.iter().fold(0u64, |a, &b| a << 8 | u64::from(b));
            format!("{:05}", v % 100_000)
        })
        .collect()
}

/// The QR payload `u8(2) || first[0..32] || second[0..32]` (spec §10.6).
fn model_payload(first: &[u8], second: &[u8]) -> Vec<u8> {
    [&[QR_VERSION][..], &first[..32], &second[..32]].concat()
}

/// Selector of `safety_number`: the payload is the rest of the input.
pub const SCAN_RAW: u8 = 0;
/// Selector: edits (as in `initial_message`) of the payload the peer displays.
pub const SCAN_PEER_EDITED: u8 = 1;
/// Selector: edits of the scanning party's own payload.
pub const SCAN_OWN_EDITED: u8 = 2;
/// Selector: `fingerprint_digits` of a 64-byte fingerprint (the rest).
pub const DIGITS: u8 = 3;

/// `safety_number`. Input: `sel:u8` (bits 0–1 the scanning party `o`,
/// bits 2–3 the party it holds as its peer `t`, both modulo 3; bits 4–5 what
/// follows: [`SCAN_RAW`], [`SCAN_PEER_EDITED`], [`SCAN_OWN_EDITED`],
/// [`DIGITS`]). Checks, against the spec's definitions:
///
/// * `SafetyNumber::verify_scanned` never panics and returns exactly the
///   spec §10.7 verdict: `Length` unless 65 bytes, then `UnknownVersion`
///   unless the version byte is 2, then `OwnCode` when the displayer part is
///   `o`'s fingerprint, then `Ok` for exactly `QrPayload(t, o)`, else
///   `Mismatch`; nothing is accepted when `o == t`; the free function
///   `verify_scanned` agrees (called on every payload failing the form
///   checks, where it computes no fingerprint; on well-formed payloads it is
///   `SafetyNumber::compute` of the fixed pair, built once, followed by the
///   method checked here);
/// * the display format: 60 ASCII digits, the smaller identity's 30 first,
///   equal for both parties; 12 groups of 5; `display()` and `Display` give
///   the groups separated by single spaces; the payload a party displays is
///   the one its peer expects, and its own fingerprint comes first;
/// * `fingerprint_digits` of any 64 bytes is the spec's digit reduction.
pub fn check_safety_number(data: &[u8]) {
    let sf = safety_fixture();
    let mut c = Cursor::new(data);
    let sel = c.u8();
    let n = sf.identities.len();
    let o = usize::from(sel & 3) % n;
    let t = usize::from(sel >> 2 & 3) % n;
    let sn = &sf.numbers[o][t];
    let (fo, ft) = (&sf.fingerprints[o], &sf.fingerprints[t]);
    check_display(sf, o, t);
    let payload = match sel >> 4 & 3 {
        SCAN_RAW => c.rest().to_vec(),
        SCAN_PEER_EDITED => mutate(&sf.numbers[t][o].qr_payload(), &mut c),
        SCAN_OWN_EDITED => mutate(&sn.qr_payload(), &mut c),
        _ => {
            let fp: [u8; FINGERPRINT_LEN] = c.array();
            let digits = fingerprint_digits(&fp);
            assert_eq!(digits, model_digits(&fp), "fingerprint digits");
            return;
        }
    };
    let want = if payload.len() != QR_PAYLOAD_LEN {
        Err(SafetyError::Length {
            actual: payload.len(),
        })
    } else if payload[0] != QR_VERSION {
        Err(SafetyError::UnknownVersion {
            version: payload[0],
        })
    } else if payload[1..33] == fo[..32] {
        Err(SafetyError::OwnCode)
    } else if payload == model_payload(ft, fo) {
        Ok(())
    } else {
        Err(SafetyError::Mismatch)
    };
    assert_eq!(
        sn.verify_scanned(&payload),
        want,
        "verdict on a scanned payload"
    );
    if o == t {
        assert!(want.is_err(), "a payload accepted for one's own identity");
    }
    if matches!(
        want,
        Err(SafetyError::Length { .. } | SafetyError::UnknownVersion { .. })
    ) {
        assert_eq!(
            verify_scanned(dp(), &sf.identities[o], &sf.identities[t], &payload),
            want,
            "the free verify_scanned disagrees"
        );
    }
}

/// The display-format invariants of `numbers[o][t]`.
fn check_display(sf: &SafetyFixture, o: usize, t: usize) {
    let sn = &sf.numbers[o][t];
    let (fo, ft) = (&sf.fingerprints[o], &sf.fingerprints[t]);
    let digits = sn.digits();
    assert!(digits.len() == 60 && digits.bytes().all(|b| b.is_ascii_digit()));
    let (lo, hi) = if sf.identities[o] <= sf.identities[t] {
        (fo, ft)
    } else {
        (ft, fo)
    };
    assert!(digits == model_digits(lo) + &model_digits(hi), "digits");
    assert!(
        digits == sf.numbers[t][o].digits(),
        "the parties' digits differ"
    );
    let groups: Vec<&str> = sn.groups().collect();
    assert!(groups.len() == 12 && groups.iter().all(|g| g.len() == 5));
    assert!(groups.concat() == digits);
    let shown = groups.join(" ");
    assert!(shown.len() == 71 && sn.display() == shown && sn.to_string() == shown);
    assert!(
        sn.qr_payload()[..] == model_payload(fo, ft)[..],
        "displayed payload"
    );
    assert!(
        sn.qr_payload() == sf.numbers[t][o].expected_scan(),
        "payloads mirror"
    );
    assert!(
        sn.expected_scan()[..] == model_payload(ft, fo)[..],
        "expected payload"
    );
}

// ---------------------------------------------------------------------------
// Targets and seeds
// ---------------------------------------------------------------------------

// ---------------------------------------------------------------------------
// prekey_upload: arbitrary bytes as a prekey upload
// ---------------------------------------------------------------------------

/// `PrekeyUpload::parse` and `verify` on arbitrary bytes (spec §7.11).
///
/// * a parsed upload re-encodes to exactly the input, holds at most
///   `MAX_UPLOAD_ENTRIES` entries with distinct ids;
/// * `verify` gives the same verdict on every backend;
/// * every bundle a server assembles from a verified upload with a long-term
///   part passes the bundle's own parser and checks (spec §7.3);
/// * from the responder's genuine upload, the assembled bundles are
///   `Account::bundle`'s, byte for byte.
pub fn check_prekey_upload(data: &[u8]) {
    let fx = fixture();
    let Ok(upload) = PrekeyUpload::parse(data) else {
        return;
    };
    assert!(
        upload.to_bytes() == data,
        "PrekeyUpload::parse accepted a non-canonical encoding"
    );
    assert!(upload.entries.len() <= sova::session::MAX_UPLOAD_ENTRIES);
    let mut ids: Vec<u32> = upload.entries.iter().map(UploadEntry::id).collect();
    if let Some(l) = &upload.long_term {
        ids.extend([l.signed_prekey_id, l.kem_last_resort_id]);
    }
    ids.sort_unstable();
    assert!(
        ids.windows(2).all(|w| w[0] != w[1]),
        "an upload with a duplicate id parsed"
    );
    let verdicts: Vec<_> = checked_providers()
        .iter()
        .map(|p| upload.verify(*p))
        .collect();
    assert!(
        verdicts.windows(2).all(|w| w[0] == w[1]),
        "backends disagree on an upload: {verdicts:?}"
    );
    if verdicts[0].is_err() || upload.long_term.is_none() {
        return;
    }
    let opks = upload.one_time_prekey_ids();
    let kems = upload.kem_one_time_prekey_ids();
    // A bounded number of assemblies per input.
    for i in 0..=opks.len().max(kems.len()).min(4) {
        let ids = (opks.get(i).copied(), kems.get(i).copied());
        let bundle = upload
            .bundle(ids.0, ids.1)
            .expect("an id of the upload is not found");
        let bytes = bundle.to_bytes();
        let back = PrekeyBundle::parse(&bytes).expect("an assembled bundle does not parse");
        assert!(back == bundle, "an assembled bundle changes when parsed");
        back.verify(dp())
            .expect("a bundle assembled from a verified upload does not verify");
        if data == fx.upload {
            let want = fx
                .upload_bundles
                .iter()
                .find(|(k, _)| *k == ids)
                .map(|(_, b)| b);
            assert!(
                want == Some(&bytes),
                "the assembled bundle differs from Account::bundle for {ids:?}"
            );
        }
    }
}

/// The session fuzz targets, in `fuzz/Cargo.toml` order.
pub const TARGETS: [&str; 6] = [
    "bundle_parse",
    "initial_message",
    "state_decode",
    "prekey_upload",
    "conversation",
    "safety_number",
];

/// The check a target runs.
pub fn check_for(target: &str) -> fn(&[u8]) {
    match target {
        "bundle_parse" => check_bundle,
        "initial_message" => check_initial_message,
        "state_decode" => check_state_decode,
        "prekey_upload" => check_prekey_upload,
        "conversation" => check_conversation,
        "safety_number" => check_safety_number,
        other => panic!("unknown target {other}"),
    }
}

/// The committed seed inputs: `(target, file name, bytes)`.
pub fn seeds() -> Vec<(&'static str, String, Vec<u8>)> {
    let fx = fixture();
    let mut out = Vec::new();
    let mut add =
        |target: &'static str, name: String, data: Vec<u8>| out.push((target, name, data));

    // bundle_parse: every genuine bundle, another party's, and broken ones.
    for (name, b) in &fx.bundles {
        add("bundle_parse", name.clone(), b.clone());
    }
    add(
        "bundle_parse",
        "other_identity".into(),
        fx.other_bundle.clone(),
    );
    let base = PrekeyBundle::parse(&fx.bundles[2].1).unwrap();
    let (opk_id, _) = base.one_time_prekey.unwrap();
    let mut low = base.clone();
    low.one_time_prekey = Some((opk_id, [0; 32]));
    add(
        "bundle_parse",
        "low_order_one_time_prekey".into(),
        low.to_bytes(),
    );
    let mut unknown = base.clone();
    unknown.one_time_prekey = Some((opk_id + 1000, base.one_time_prekey.unwrap().1));
    add(
        "bundle_parse",
        "unknown_one_time_prekey".into(),
        unknown.to_bytes(),
    );
    let mut forged = base.clone();
    forged.signed_prekey_signature[0] ^= 1;
    add(
        "bundle_parse",
        "bad_signed_prekey_signature".into(),
        forged.to_bytes(),
    );
    let wire = base.to_bytes();
    add(
        "bundle_parse",
        "truncated".into(),
        wire[..wire.len() - 1].to_vec(),
    );
    // Every other parse and verification error: version and type bytes,
    // the one-time prekey flag (right after the signed prekey's signature),
    // the KEM kind after it, a trailing byte, and each of the three
    // signatures.
    let flag_at = 2 + base.identity.to_bytes().len() + 4 + 32 + 64;
    let edits: [(&str, usize, u8); 4] = [
        ("unsupported_version", 0, 0x7f),
        ("wrong_type", 1, 0x7f),
        ("invalid_one_time_flag", flag_at, 2),
        ("invalid_kem_kind", flag_at + 1 + 4 + 32, 9),
    ];
    for (name, at, v) in edits {
        let mut w = wire.clone();
        w[at] = v;
        add("bundle_parse", name.into(), w);
    }
    let mut long = wire.clone();
    long.push(0);
    add("bundle_parse", "trailing_byte".into(), long);
    let mut bad_binding = base.clone();
    bad_binding.identity.binding[0] ^= 1;
    add(
        "bundle_parse",
        "bad_identity_signature".into(),
        bad_binding.to_bytes(),
    );
    let mut bad_kem = base.clone();
    bad_kem.kem_prekey_signature[0] ^= 1;
    add(
        "bundle_parse",
        "bad_kem_prekey_signature".into(),
        bad_kem.to_bytes(),
    );

    // prekey_upload: the genuine upload, without its long-term part, and
    // one broken per rule of spec §7.11.1.
    add("prekey_upload", "genuine".into(), fx.upload.clone());
    let genuine = PrekeyUpload::parse(&fx.upload).unwrap();
    let mut one_time_only = genuine.clone();
    one_time_only.long_term = None;
    add(
        "prekey_upload",
        "one_time_only".into(),
        one_time_only.to_bytes(),
    );
    let mut long_term_only = genuine.clone();
    long_term_only.entries.clear();
    add(
        "prekey_upload",
        "long_term_only".into(),
        long_term_only.to_bytes(),
    );
    let mut forged = genuine.clone();
    if let Some(UploadEntry::Kem(k)) = forged.entries.last_mut() {
        k.signature[0] ^= 1;
    }
    add(
        "prekey_upload",
        "bad_kem_signature".into(),
        forged.to_bytes(),
    );
    let mut duplicate = genuine.clone();
    if let Some(UploadEntry::X25519 { id, .. }) = duplicate.entries.get_mut(1) {
        *id = genuine.entries[0].id();
    }
    add("prekey_upload", "duplicate_id".into(), duplicate.to_bytes());
    let up = fx.upload.clone();
    add(
        "prekey_upload",
        "truncated".into(),
        up[..up.len() - 1].to_vec(),
    );
    let flag_at = 2 + 128;
    let count_at = flag_at + 1 + 4 + 32 + 64 + 4 + 1184 + 64;
    let upload_edits: [(&str, usize, u8); 4] = [
        ("wrong_type", 1, 0x10),
        ("invalid_flag", flag_at, 2),
        ("too_many_entries", count_at, 0xff),
        ("invalid_kind", count_at + 2, 0x01),
    ];
    for (name, at, v) in upload_edits {
        let mut w = up.clone();
        w[at] = v;
        add("prekey_upload", name.into(), w);
    }

    // initial_message: each genuine message raw and through the edit path, and edits.
    for (i, g) in fx.initial.iter().enumerate() {
        let sel = u8::try_from(i).unwrap();
        let mut raw = vec![0];
        raw.extend_from_slice(&g.message);
        add("initial_message", format!("raw_{}", g.name), raw);
        add(
            "initial_message",
            format!("genuine_{}", g.name),
            vec![sel << 1 | 1],
        );
    }
    let edit = |sel: usize, op: u8, pos: u16, tail: &[u8]| {
        let mut v = vec![u8::try_from(sel).unwrap() << 1 | 1, op];
        v.extend_from_slice(&pos.to_be_bytes());
        v.extend_from_slice(tail);
        v
    };
    // Offsets in an initial message (spec §7.5): signed prekey id at 162,
    // one-time prekey flag at 166, then (without one) KEM kind at 167, KEM
    // ciphertext from 172.
    let last_resort = 1; // `fx.initial[1]` uses no one-time prekey
    add(
        "initial_message",
        "edit_signed_prekey_id".into(),
        edit(last_resort, edit::OVERWRITE, 162, &[0, 0, 0, 7]),
    );
    add(
        "initial_message",
        "edit_kem_kind".into(),
        edit(last_resort, edit::FLIP, 167, &[1]),
    );
    add(
        "initial_message",
        "edit_kem_ciphertext".into(),
        edit(last_resort, edit::FLIP, 500, &[0x80]),
    );
    add(
        "initial_message",
        "edit_truncate".into(),
        edit(last_resort, edit::TRUNCATE, 1200, &[]),
    );
    add(
        "initial_message",
        "edit_splice".into(),
        edit(last_resort, edit::SPLICE, 0, &[0]),
    );
    // The other edits, and the version and type bytes.
    add(
        "initial_message",
        "edit_insert".into(),
        edit(last_resort, edit::INSERT, 166, &[0]),
    );
    add(
        "initial_message",
        "edit_remove".into(),
        edit(last_resort, edit::REMOVE, 600, &[40]),
    );
    add(
        "initial_message",
        "edit_version".into(),
        edit(last_resort, edit::FLIP, 0, &[0x40]),
    );
    add(
        "initial_message",
        "edit_type".into(),
        edit(last_resort, edit::FLIP, 1, &[0x40]),
    );
    add(
        "initial_message",
        "edit_one_time_flag".into(),
        edit(last_resort, edit::OVERWRITE, 166, &[2]),
    );
    // A repeat of the message the responder's session already knows: with
    // another KEM ciphertext (offset 785 with a one-time prekey named), and
    // unwrapped.
    add(
        "initial_message",
        "edit_repeat_ciphertext".into(),
        edit(fx.second, edit::OVERWRITE, 785, &[0, 0, 0, 0]),
    );
    let (_, inner) = HandshakeHeader::parse(&fx.initial[fx.second].message).unwrap();
    let mut bare = vec![0];
    bare.extend_from_slice(inner);
    add("initial_message", "raw_repeat_unwrapped".into(), bare);

    // state_decode: accounts, sessions and a ratchet; sealed; seal round trips.
    let mut rng = ChaCha20Rng::from_seed([0x3d; 32]);
    let states: Vec<(String, SealedKind, Vec<u8>)> = vec![
        (
            "account_fresh".into(),
            SealedKind::Account,
            fx.responder.clone(),
        ),
        (
            "account_after_accept".into(),
            SealedKind::Account,
            fx.responder_after.clone(),
        ),
        (
            "account_initiator".into(),
            SealedKind::Account,
            fx.initiator.to_bytes(),
        ),
        (
            "session_pending".into(),
            SealedKind::Session,
            fx.initial[0].initiator_state.clone(),
        ),
        (
            "session_responder".into(),
            SealedKind::Session,
            fx.responder_session.clone(),
        ),
        (
            "session_initiator_established".into(),
            SealedKind::Session,
            fx.established.0.clone(),
        ),
        (
            "session_responder_established".into(),
            SealedKind::Session,
            fx.established.1.clone(),
        ),
    ];
    let mut conv = Conversation::new(fx.responder_identity.identity_key());
    conv.add(Session::from_bytes(&fx.established.0).unwrap())
        .unwrap();
    conv.add(Session::from_bytes(&fx.initial[0].initiator_state).unwrap())
        .unwrap();
    let states: Vec<_> = states
        .into_iter()
        .chain([(
            "conversation".to_string(),
            SealedKind::Conversation,
            conv.to_bytes(),
        )])
        .collect();
    let ratchet = Session::from_bytes(&fx.established.0)
        .unwrap()
        .ratchet()
        .to_bytes();
    let mut plain_only = vec![("ratchet".to_string(), ratchet)];
    plain_only.push(("garbage".into(), b"SOVA-1 account\x01".to_vec()));
    for (name, kind, bytes) in &states {
        let mut v = vec![DECODE_PLAIN];
        v.extend_from_slice(bytes);
        add("state_decode", format!("plain_{name}"), v);
        let mut v = vec![DECODE_SEALED];
        v.extend(
            storage::seal(
                &DefaultProvider::default(),
                &mut rng,
                &storage_key(),
                *kind,
                bytes,
            )
            .unwrap(),
        );
        add("state_decode", format!("sealed_{name}"), v);
    }
    for (name, bytes) in &plain_only {
        let mut v = vec![DECODE_PLAIN];
        v.extend_from_slice(bytes);
        add("state_decode", format!("plain_{name}"), v);
    }
    for (name, pos, x, bytes) in [
        ("seal_account", 40u16, 0x01u8, &fx.responder),
        ("seal_session", 14, 0x03, &fx.established.1),
        ("seal_garbage", 7, 0x80, &plain_only[1].1),
    ] {
        let mut v = vec![SEAL_ROUND_TRIP];
        v.extend_from_slice(&pos.to_be_bytes());
        v.push(x);
        v.extend_from_slice(bytes);
        add("state_decode", name.into(), v);
    }

    // conversation: schedules.
    use ConvAction as A;
    let start = |who, one_time, encrypted| A::Start {
        who,
        one_time,
        encrypted,
    };
    let send = |who| A::Send { who, len: 40 };
    let schedules: Vec<(&str, Vec<ConvAction>)> = vec![
        ("empty", vec![]),
        (
            "ping_pong",
            vec![
                start(0, true, false),
                send(0),
                A::DeliverNewest,
                send(1),
                A::DeliverNewest,
                send(0),
                A::DeliverNewest,
            ],
        ),
        (
            "simultaneous_start",
            vec![
                start(0, true, true),
                start(1, false, false),
                send(0),
                send(1),
                A::Deliver { pick: 0 },
                A::Deliver { pick: 0 },
                send(0),
                send(1),
                A::Deliver { pick: 1 },
                A::Deliver { pick: 0 },
            ],
        ),
        (
            "delay_duplicate_tamper",
            vec![
                start(0, false, true),
                send(0),
                send(0),
                send(0),
                A::Deliver { pick: 2 },
                A::Duplicate { pick: 2 },
                A::Tamper {
                    pick: 0,
                    pos: 100,
                    bit: 3,
                },
                A::Deliver { pick: 0 },
                A::Reflect { pick: 0 },
                A::Drop { pick: 0 },
                send(1),
                A::Tamper {
                    pick: 3,
                    pos: 5,
                    bit: 0,
                },
                A::DeliverNewest,
            ],
        ),
        (
            "persist_intrude",
            vec![
                start(1, true, false),
                send(1),
                A::Persist {
                    who: 0,
                    sealed: false,
                },
                A::Intrude { who: 0 },
                A::DeliverNewest,
                A::Persist {
                    who: 0,
                    sealed: true,
                },
                send(0),
                A::Persist {
                    who: 1,
                    sealed: true,
                },
                A::DeliverNewest,
                A::Intrude { who: 1 },
            ],
        ),
        (
            "many_sessions",
            (0..6)
                .flat_map(|i| {
                    [
                        start(i & 1, i % 3 == 0, i % 2 == 0),
                        send(i & 1),
                        A::DeliverNewest,
                    ]
                })
                .collect(),
        ),
    ];
    for (name, actions) in schedules {
        let s = ConvSchedule { seed: 1, actions };
        add("conversation", name.into(), s.to_bytes());
    }

    // safety_number: genuine, own, short, wrong version, mismatched payloads, digits.
    let sel = |o: u8, t: u8, what: u8| o | t << 2 | what << 4;
    let sf = safety_fixture();
    let mut peer_payload = sf.numbers[1][0].qr_payload().to_vec();
    add(
        "safety_number",
        "genuine".into(),
        vec![sel(0, 1, SCAN_PEER_EDITED)],
    );
    add(
        "safety_number",
        "genuine_other".into(),
        vec![sel(2, 1, SCAN_PEER_EDITED)],
    );
    add(
        "safety_number",
        "own_code".into(),
        vec![sel(0, 1, SCAN_OWN_EDITED)],
    );
    add(
        "safety_number",
        "self_pair".into(),
        vec![sel(1, 1, SCAN_PEER_EDITED)],
    );
    let mut v = vec![sel(0, 1, SCAN_RAW)];
    v.extend_from_slice(&peer_payload[..64]);
    add("safety_number", "short".into(), v);
    peer_payload[0] = 0x01;
    let mut v = vec![sel(0, 1, SCAN_RAW)];
    v.extend_from_slice(&peer_payload);
    add("safety_number", "version".into(), v);
    add(
        "safety_number",
        "mismatch".into(),
        vec![sel(0, 1, SCAN_PEER_EDITED), edit::FLIP, 0, 64, 1],
    );
    let mut v = vec![sel(0, 2, DIGITS)];
    v.extend([0xff; 5]);
    v.extend([0, 0, 0x01, 0x86, 0xa0]);
    add("safety_number", "digits".into(), v);
    out
}
