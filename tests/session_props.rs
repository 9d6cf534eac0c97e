//! Property tests of session establishment (spec §7) and persistence (spec
//! §8.3–§8.5).
//!
//! * Accounts: random sequences of prekey generation, key rotation,
//!   handshakes from several initiators (sent from bundles fetched at random
//!   times, delivered late, out of order or twice) and restores. A model of
//!   the account's prekeys predicts every `accept` exactly (success, or the
//!   precise error); the account re-encodes byte for byte after every step,
//!   survives plain and sealed restores unchanged, and still accepts a fresh
//!   handshake at the end.
//! * Replays: an accepted initial message is replayed among thousands of
//!   unrelated handshakes (most of them stood for by their replay records,
//!   see [`with_unrelated_records`]), rotations and restores; it is never
//!   accepted again, and a full store fails closed.
//! * Sessions: both sides are restored (plain or sealed) at random points of
//!   a conversation with reordered deliveries; every message still decrypts.
//! * Sealed blobs: any corruption, another key or another kind is rejected
//!   with a storage error, never a panic and never another valid state.
//!
//! Case counts keep the debug-build run short; set `PROPTEST_CASES` to run
//! more (it applies to every property here).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::TestRunner;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use sova::ratchet::HeaderMode;
use sova::session::{
    AcceptError, Account, HandshakeHeader, PersistError, PrekeyKind, Session, MAX_REPLAY_RECORDS,
    TYPE_INITIAL,
};
use sova::storage::StorageError;
use sova::Secret;

/// `default` cases, unless `PROPTEST_CASES` says otherwise.
fn config(default: u32) -> ProptestConfig {
    let mut c = ProptestConfig {
        source_file: Some(file!()),
        ..ProptestConfig::default()
    };
    if std::env::var_os("PROPTEST_CASES").is_none() {
        c.cases = default;
    }
    c
}

/// Initiators, built once: `Session::start` only reads them.
fn initiators() -> &'static [Account] {
    static INITIATORS: OnceLock<Vec<Account>> = OnceLock::new();
    INITIATORS.get_or_init(|| {
        let mut rng = ChaCha20Rng::from_seed([0xa1; 32]);
        (0..3).map(|_| Account::new(&mut rng).unwrap()).collect()
    })
}

fn storage_key() -> Secret<32> {
    Secret::from_bytes([0x6d; 32])
}

fn mode(encrypted: bool) -> HeaderMode {
    if encrypted {
        HeaderMode::Encrypted
    } else {
        HeaderMode::Plain
    }
}

/// Restores `account` from its plain or sealed encoding and checks that the
/// restored account encodes to the same bytes.
fn restore_account(account: &Account, sealed: bool, rng: &mut ChaCha20Rng) -> Account {
    let bytes = account.to_bytes();
    let restored = if sealed {
        let blob = account.to_sealed_bytes(rng, &storage_key()).unwrap();
        Account::from_sealed_bytes(&blob, &storage_key()).unwrap()
    } else {
        Account::from_bytes(&bytes).unwrap()
    };
    assert!(restored.to_bytes() == bytes, "account changed by a restore");
    restored
}

/// [`restore_account`] for a session.
fn restore_session(session: &Session, sealed: bool, rng: &mut ChaCha20Rng) -> Session {
    let bytes = session.to_bytes();
    let restored = if sealed {
        let blob = session.to_sealed_bytes(rng, &storage_key()).unwrap();
        Session::from_sealed_bytes(&blob, &storage_key()).unwrap()
    } else {
        Session::from_bytes(&bytes).unwrap()
    };
    assert!(restored.to_bytes() == bytes, "session changed by a restore");
    assert_eq!(restored.is_pending(), session.is_pending());
    assert_eq!(restored.session_id(), session.session_id());
    restored
}

// ---------------------------------------------------------------------------
// Accounts: operations, handshakes, restores
// ---------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum AccountOp {
    /// Add this many one-time X25519 prekeys.
    GenerateOneTime(usize),
    /// Add this many one-time ML-KEM prekeys.
    GenerateKemOneTime(usize),
    RotateSignedPrekey,
    RotateKemLastResort,
    /// An initiator fetches a bundle (with the chosen one-time prekeys, if
    /// any are left; a prekey may be handed out twice) and sends an initial
    /// message, which stays in flight.
    Start {
        initiator: usize,
        one_time: Option<usize>,
        kem_one_time: Option<usize>,
        encrypted: bool,
    },
    /// The responder receives an in-flight initial message (maybe again).
    Deliver(usize),
    /// The account is persisted and restored.
    Restore {
        sealed: bool,
    },
}

fn account_op() -> impl Strategy<Value = AccountOp> {
    prop_oneof![
        2 => (0usize..=3).prop_map(AccountOp::GenerateOneTime),
        1 => (0usize..=2).prop_map(AccountOp::GenerateKemOneTime),
        1 => Just(AccountOp::RotateSignedPrekey),
        1 => Just(AccountOp::RotateKemLastResort),
        3 => (
            any::<usize>(),
            proptest::option::of(any::<usize>()),
            proptest::option::of(any::<usize>()),
            any::<bool>(),
        )
            .prop_map(|(initiator, one_time, kem_one_time, encrypted)| AccountOp::Start {
                initiator,
                one_time,
                kem_one_time,
                encrypted,
            }),
        3 => any::<usize>().prop_map(AccountOp::Deliver),
        1 => any::<bool>().prop_map(|sealed| AccountOp::Restore { sealed }),
    ]
}

/// What the responder should hold (spec §7.2, §7.6).
struct Model {
    /// Current and previous signed prekey ids.
    signed: (u32, Option<u32>),
    /// Current and previous last-resort ML-KEM prekey ids.
    kem_last_resort: (u32, Option<u32>),
    one_time: Vec<u32>,
    kem_one_time: Vec<u32>,
    /// (signed prekey id, ephemeral key) of accepted handshakes without a
    /// one-time prekey, while that signed prekey is held: the replay records.
    accepted: HashSet<(u32, [u8; 32])>,
    /// Changes so far: the account's generation (spec §8.4).
    generation: u64,
}

/// Whether a handshake needs a replay record: it uses no one-time prekey (spec §7.6).
fn needs_record(h: &HandshakeHeader) -> bool {
    h.one_time_prekey_id.is_none() && h.kem_prekey_kind == PrekeyKind::KemLastResort
}

/// An initial message on its way to the responder.
struct InFlight {
    message: Vec<u8>,
    plaintext: Vec<u8>,
    header: HandshakeHeader,
    /// The initiator's session; answered once the responder accepts.
    session: Session,
    answered: bool,
}

impl Model {
    /// The outcome `accept` must have, following the order of spec §7.6.
    fn predict(&self, h: &HandshakeHeader) -> Result<(), AcceptError> {
        let (spk, prev_spk) = self.signed;
        if h.signed_prekey_id != spk && Some(h.signed_prekey_id) != prev_spk {
            return Err(AcceptError::UnknownPrekey(h.signed_prekey_id));
        }
        if let Some(id) = h.one_time_prekey_id {
            if !self.one_time.contains(&id) {
                return Err(AcceptError::OneTimePrekeyUnknownOrUsed(id));
            }
        }
        let id = h.kem_prekey_id;
        match h.kem_prekey_kind {
            PrekeyKind::KemOneTime if !self.kem_one_time.contains(&id) => {
                return Err(AcceptError::OneTimePrekeyUnknownOrUsed(id));
            }
            PrekeyKind::KemLastResort
                if id != self.kem_last_resort.0 && Some(id) != self.kem_last_resort.1 =>
            {
                return Err(AcceptError::UnknownPrekey(id));
            }
            _ => {}
        }
        if needs_record(h)
            && self
                .accepted
                .contains(&(h.signed_prekey_id, h.ephemeral_key))
        {
            return Err(AcceptError::Replay);
        }
        Ok(())
    }

    /// What a successful `accept` consumes.
    fn commit(&mut self, h: &HandshakeHeader) {
        if let Some(id) = h.one_time_prekey_id {
            self.one_time.retain(|k| *k != id);
        }
        if h.kem_prekey_kind == PrekeyKind::KemOneTime {
            self.kem_one_time.retain(|k| *k != h.kem_prekey_id);
        }
        if needs_record(h) {
            self.accepted.insert((h.signed_prekey_id, h.ephemeral_key));
        }
        self.generation += 1;
    }

    /// A signed prekey rotation: the dropped prekey's records go with it.
    fn rotate_signed(&mut self, id: u32) {
        if let Some(dropped) = self.signed.1 {
            self.accepted.retain(|(spk, _)| *spk != dropped);
        }
        self.signed = (id, Some(self.signed.0));
        self.generation += 1;
    }

    fn check(&self, account: &Account) {
        assert_eq!(account.one_time_prekey_ids(), self.one_time);
        assert_eq!(account.kem_one_time_prekey_ids(), self.kem_one_time);
        let b = account.bundle(None, None).unwrap();
        assert_eq!(b.signed_prekey_id, self.signed.0);
        assert_eq!(b.kem_prekey_id, self.kem_last_resort.0);
        assert_eq!(account.generation(), self.generation);
        let current = self.signed.0;
        let records = self.accepted.iter().filter(|(spk, _)| *spk == current);
        assert_eq!(account.replay_record_count(), records.count());
    }
}

fn pick(ids: &[u32], choice: Option<usize>) -> Option<u32> {
    let i = choice?;
    (!ids.is_empty()).then(|| ids[i % ids.len()])
}

/// How many `accept` calls succeeded and failed (as predicted) in a schedule.
#[derive(Debug, Default, Clone, Copy)]
struct Tally {
    accepted: usize,
    rejected: usize,
}

fn run_account_ops(seed: u8, ops: &[AccountOp]) -> Tally {
    let mut rng = ChaCha20Rng::from_seed([seed; 32]);
    let mut bob = Account::new(&mut rng).unwrap();
    let first = bob.bundle(None, None).unwrap();
    let mut model = Model {
        signed: (first.signed_prekey_id, None),
        kem_last_resort: (first.kem_prekey_id, None),
        one_time: Vec::new(),
        kem_one_time: Vec::new(),
        accepted: HashSet::new(),
        generation: 0,
    };
    let mut flight: Vec<InFlight> = Vec::new();
    let mut tally = Tally::default();
    for op in ops {
        match op {
            AccountOp::GenerateOneTime(n) => {
                let ids = bob.generate_one_time_prekeys(&mut rng, *n).unwrap();
                model.one_time.extend(ids);
                model.generation += u64::from(*n > 0);
            }
            AccountOp::GenerateKemOneTime(n) => {
                let ids = bob.generate_kem_one_time_prekeys(&mut rng, *n).unwrap();
                model.kem_one_time.extend(ids);
                model.generation += u64::from(*n > 0);
            }
            AccountOp::RotateSignedPrekey => {
                let id = bob.rotate_signed_prekey(&mut rng).unwrap();
                model.rotate_signed(id);
            }
            AccountOp::RotateKemLastResort => {
                let id = bob.rotate_kem_last_resort(&mut rng).unwrap();
                model.kem_last_resort = (id, Some(model.kem_last_resort.0));
                model.generation += 1;
            }
            AccountOp::Start {
                initiator,
                one_time,
                kem_one_time,
                encrypted,
            } => {
                let alice = &initiators()[initiator % initiators().len()];
                let opk = pick(&model.one_time, *one_time);
                let kem = pick(&model.kem_one_time, *kem_one_time);
                let bundle = bob.bundle(opk, kem).unwrap().to_bytes();
                let mut session =
                    Session::start_unverified(alice, &mut rng, &bundle, mode(*encrypted)).unwrap();
                let plaintext = format!("initial message {}", flight.len()).into_bytes();
                let message = session.encrypt(&mut rng, &plaintext).unwrap();
                let (header, _) = HandshakeHeader::parse(&message).unwrap();
                assert_eq!(header.one_time_prekey_id, opk);
                flight.push(InFlight {
                    message,
                    plaintext,
                    header,
                    session,
                    answered: false,
                });
            }
            AccountOp::Deliver(i) => {
                if flight.is_empty() {
                    continue;
                }
                let at = i % flight.len();
                let f = &mut flight[at];
                let want = model.predict(&f.header);
                let before = bob.to_bytes();
                match (bob.accept_unverified(&f.message), want) {
                    (Ok((mut theirs, pt)), Ok(())) => {
                        tally.accepted += 1;
                        assert_eq!(pt, f.plaintext);
                        assert_eq!(theirs.session_id(), f.session.session_id());
                        model.commit(&f.header);
                        if !f.answered {
                            let reply = theirs.encrypt(&mut rng, b"reply").unwrap();
                            assert_eq!(f.session.decrypt(&reply).unwrap(), b"reply");
                            assert!(!f.session.is_pending());
                            f.answered = true;
                        }
                    }
                    (Err(e), Err(w)) => {
                        tally.rejected += 1;
                        assert_eq!(e, w, "accept failed with another error");
                        assert!(bob.to_bytes() == before, "rejection changed the account");
                    }
                    (got, want) => panic!(
                        "accept: got {:?}, model predicts {want:?}",
                        got.map(|(_, pt)| pt)
                    ),
                }
            }
            AccountOp::Restore { sealed } => bob = restore_account(&bob, *sealed, &mut rng),
        }
        model.check(&bob);
        // Every intermediate state is a valid, canonical encoding.
        let bytes = bob.to_bytes();
        assert!(Account::from_bytes(&bytes).unwrap().to_bytes() == bytes);
    }

    // A sealed restore at the end keeps everything: every message in flight
    // still gets exactly its predicted outcome, and a fresh handshake works.
    bob = restore_account(&bob, true, &mut rng);
    for f in &flight {
        let before = bob.to_bytes();
        match (bob.accept_unverified(&f.message), model.predict(&f.header)) {
            (Ok((_, pt)), Ok(())) => {
                tally.accepted += 1;
                assert_eq!(pt, f.plaintext);
                model.commit(&f.header);
            }
            (Err(e), Err(w)) => {
                tally.rejected += 1;
                assert_eq!(e, w);
                assert!(bob.to_bytes() == before);
            }
            (got, want) => panic!(
                "accept after restore: got {:?}, model predicts {want:?}",
                got.map(|(_, pt)| pt)
            ),
        }
    }
    let bundle = bob
        .bundle(
            model.one_time.first().copied(),
            model.kem_one_time.first().copied(),
        )
        .unwrap()
        .to_bytes();
    let mut fresh =
        Session::start_unverified(&initiators()[0], &mut rng, &bundle, HeaderMode::Encrypted)
            .unwrap();
    let m = fresh.encrypt(&mut rng, b"after restore").unwrap();
    let (_, pt) = bob
        .accept_unverified(&m)
        .expect("restored account rejects a fresh handshake");
    assert_eq!(pt, b"after restore");
    tally
}

/// Random schedules; the totals show the property is not vacuous (handshakes
/// are both accepted and rejected, for every reason the model knows).
#[test]
fn account_survives_restores_and_keeps_accepting() {
    let total = RefCell::new(Tally::default());
    let mut runner = TestRunner::new(config(24));
    let strategy = (any::<u8>(), vec(account_op(), 1..20));
    let result = runner.run(&strategy, |(seed, ops)| {
        let t = run_account_ops(seed, &ops);
        let mut total = total.borrow_mut();
        total.accepted += t.accepted;
        total.rejected += t.rejected;
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let total = total.into_inner();
    assert!(total.accepted > 0 && total.rejected > 0, "{total:?}");
}

/// A worked schedule: handshakes on rotated keys, a one-time prekey handed
/// out twice, a replay, restores in between.
#[test]
fn account_schedule_accepts_and_rejects() {
    let ops = [
        AccountOp::GenerateOneTime(2),
        AccountOp::GenerateKemOneTime(1),
        AccountOp::Start {
            initiator: 0,
            one_time: Some(0),
            kem_one_time: Some(0),
            encrypted: false,
        },
        AccountOp::Start {
            initiator: 1,
            one_time: Some(0),
            kem_one_time: None,
            encrypted: true,
        },
        AccountOp::RotateSignedPrekey,
        AccountOp::Restore { sealed: true },
        AccountOp::Deliver(0),
        AccountOp::Deliver(0),
        AccountOp::Deliver(1),
        AccountOp::RotateSignedPrekey,
        AccountOp::Start {
            initiator: 2,
            one_time: None,
            kem_one_time: None,
            encrypted: false,
        },
        AccountOp::RotateKemLastResort,
        AccountOp::Restore { sealed: false },
        AccountOp::Deliver(2),
    ];
    // Accepted: the first handshake (on the previous signed prekey) and the
    // third (on the previous last-resort KEM prekey). Rejected: the replay
    // and the second, whose one-time prekey the first used up; after the
    // restore at the end, the first two name a signed prekey rotated away
    // and the third is a replay.
    let t = run_account_ops(9, &ops);
    assert_eq!((t.accepted, t.rejected), (2, 5));
}

// ---------------------------------------------------------------------------
// Replays among many unrelated handshakes (spec §7.6)
// ---------------------------------------------------------------------------

/// `account` with up to `n` more replay records on its current signed
/// prekey (never past [`MAX_REPLAY_RECORDS`]), each the SHA-256 of an
/// ephemeral key nobody sent: the records `n` unrelated handshakes without a
/// one-time prekey would leave (spec §8.4). A real handshake costs about
/// 80 ms in a debug build, so thousands of them are stood for this way.
fn with_unrelated_records(account: &Account, n: usize, rng: &mut ChaCha20Rng) -> Account {
    use sha2::Digest;
    let bytes = account.to_bytes();
    // u16(r) of the current signed prekey, after the long-term published flag
    let at = 14 + 1 + 8 + 32 + 32 + 4 + 1 + 36;
    let r = usize::from(u16::from_be_bytes([bytes[at], bytes[at + 1]]));
    let mut records: Vec<[u8; 32]> = bytes[at + 2..at + 2 + 32 * r]
        .chunks(32)
        .map(|c| c.try_into().unwrap())
        .collect();
    for _ in 0..n.min(MAX_REPLAY_RECORDS - r) {
        let mut ek = [0u8; 32];
        rng.fill_bytes(&mut ek);
        let mut t = [0u8; 32];
        t.copy_from_slice(&sha2::Sha256::digest(ek));
        records.push(t);
    }
    records.sort_unstable();
    let mut out = bytes[..at].to_vec();
    out.extend_from_slice(&(records.len() as u16).to_be_bytes());
    records.iter().for_each(|t| out.extend_from_slice(t));
    out.extend_from_slice(&bytes[at + 2 + 32 * r..]);
    let check_at = out.len() - 32;
    let check = sha2::Sha256::digest(&out[..check_at]);
    out[check_at..].copy_from_slice(&check);
    Account::from_bytes(&out).unwrap()
}

#[derive(Debug, Clone)]
enum FloodOp {
    /// A fresh handshake without a one-time prekey, from this initiator.
    Fresh(usize),
    /// This many unrelated handshakes, by their records.
    Unrelated(usize),
    /// A replay of an initial message sent earlier (accepted or not).
    Replay(usize),
    RotateSignedPrekey,
    Restore,
}

fn flood_op() -> impl Strategy<Value = FloodOp> {
    prop_oneof![
        2 => any::<usize>().prop_map(FloodOp::Fresh),
        3 => prop_oneof![1usize..64, 1000usize..=MAX_REPLAY_RECORDS].prop_map(FloodOp::Unrelated),
        3 => any::<usize>().prop_map(FloodOp::Replay),
        1 => Just(FloodOp::RotateSignedPrekey),
        1 => Just(FloodOp::Restore),
    ]
}

/// Outcomes of a flood schedule, to show the property is not vacuous.
#[derive(Debug, Default, Clone, Copy)]
struct FloodTally {
    accepted: usize,
    replays: usize,
    full: usize,
    unknown: usize,
    unrelated: usize,
}

fn run_flood(seed: u8, ops: &[FloodOp]) -> FloodTally {
    let mut rng = ChaCha20Rng::from_seed([seed; 32]);
    let mut bob = Account::new(&mut rng).unwrap();
    let mut signed = (
        bob.bundle(None, None).unwrap().signed_prekey_id,
        None::<u32>,
    );
    // Records per held signed prekey: how many, and the real ephemeral keys.
    let mut counts: HashMap<u32, usize> = HashMap::new();
    let mut real: HashSet<(u32, [u8; 32])> = HashSet::new();
    let mut sent: Vec<(HandshakeHeader, Vec<u8>)> = Vec::new();
    let mut tally = FloodTally::default();
    let deliver = |bob: &mut Account,
                   signed: (u32, Option<u32>),
                   counts: &mut HashMap<u32, usize>,
                   real: &mut HashSet<(u32, [u8; 32])>,
                   tally: &mut FloodTally,
                   (h, m): &(HandshakeHeader, Vec<u8>)| {
        let spk = h.signed_prekey_id;
        let want = if spk != signed.0 && Some(spk) != signed.1 {
            Err(AcceptError::UnknownPrekey(spk))
        } else if real.contains(&(spk, h.ephemeral_key)) {
            Err(AcceptError::Replay)
        } else if counts.get(&spk).copied().unwrap_or(0) == MAX_REPLAY_RECORDS {
            Err(AcceptError::ReplayStoreFull(spk))
        } else {
            Ok(())
        };
        let before = bob.to_bytes();
        match (bob.accept_unverified(m), want) {
            (Ok(_), Ok(())) => {
                tally.accepted += 1;
                real.insert((spk, h.ephemeral_key));
                *counts.entry(spk).or_default() += 1;
            }
            (Err(e), Err(w)) => {
                assert_eq!(e, w);
                assert!(bob.to_bytes() == before, "a rejection changed the account");
                match e {
                    AcceptError::Replay => tally.replays += 1,
                    AcceptError::ReplayStoreFull(_) => tally.full += 1,
                    _ => tally.unknown += 1,
                }
            }
            (got, want) => panic!("accept: got {:?}, expected {want:?}", got.map(|(_, p)| p)),
        }
    };
    let fresh = |bob: &Account, rng: &mut ChaCha20Rng, i: usize| {
        let alice = &initiators()[i % initiators().len()];
        let bundle = bob.bundle(None, None).unwrap().to_bytes();
        let mut s = Session::start_unverified(alice, rng, &bundle, HeaderMode::Plain).unwrap();
        let m = s.encrypt(rng, b"hello").unwrap();
        (HandshakeHeader::parse(&m).unwrap().0, m)
    };
    // The message every schedule tries to get accepted twice.
    let first = fresh(&bob, &mut rng, 0);
    deliver(&mut bob, signed, &mut counts, &mut real, &mut tally, &first);
    sent.push(first);
    for op in ops {
        match op {
            FloodOp::Fresh(i) => {
                let m = fresh(&bob, &mut rng, *i);
                deliver(&mut bob, signed, &mut counts, &mut real, &mut tally, &m);
                sent.push(m);
            }
            FloodOp::Unrelated(n) => {
                let count = counts.entry(signed.0).or_default();
                let added = (*n).min(MAX_REPLAY_RECORDS - *count);
                bob = with_unrelated_records(&bob, added, &mut rng);
                *count += added;
                tally.unrelated += added;
                assert_eq!(bob.replay_record_count(), *count);
            }
            FloodOp::Replay(i) => {
                let m = &sent[i % sent.len()];
                deliver(&mut bob, signed, &mut counts, &mut real, &mut tally, m);
            }
            FloodOp::RotateSignedPrekey => {
                let id = bob.rotate_signed_prekey(&mut rng).unwrap();
                if let Some(dropped) = signed.1 {
                    counts.remove(&dropped);
                    real.retain(|(spk, _)| *spk != dropped);
                }
                signed = (id, Some(signed.0));
            }
            FloodOp::Restore => bob = restore_account(&bob, false, &mut rng),
        }
    }
    // However many handshakes came between, the first message is refused.
    let replay = &sent[0];
    deliver(&mut bob, signed, &mut counts, &mut real, &mut tally, replay);
    tally
}

/// Each case takes well under a second in a debug build (real handshakes
/// dominate: about 80 ms each, every other step a few ms); 8 cases by
/// default, more with `PROPTEST_CASES`.
#[test]
fn replays_are_refused_among_thousands_of_handshakes() {
    let total = RefCell::new(FloodTally::default());
    let mut runner = TestRunner::new(config(8));
    let strategy = (any::<u8>(), vec(flood_op(), 1..12));
    let result = runner.run(&strategy, |(seed, ops)| {
        let t = run_flood(seed, &ops);
        let mut total = total.borrow_mut();
        total.accepted += t.accepted;
        total.replays += t.replays;
        total.full += t.full;
        total.unknown += t.unknown;
        total.unrelated += t.unrelated;
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let total = total.into_inner();
    assert!(total.replays > 0 && total.unrelated > 1000, "{total:?}");
}

/// A worked schedule: the store fills up between a handshake and its replay,
/// fails closed, and a rotation makes room while keeping the records.
#[test]
fn replay_schedule_fills_the_store_and_rotates() {
    let t = run_flood(
        7,
        &[
            FloodOp::Unrelated(3000),
            FloodOp::Fresh(1),
            FloodOp::Replay(0),
            FloodOp::Unrelated(MAX_REPLAY_RECORDS),
            FloodOp::Fresh(2),
            FloodOp::Replay(1),
            FloodOp::Restore,
            FloodOp::RotateSignedPrekey,
            FloodOp::Replay(0),
            FloodOp::Replay(2),
            FloodOp::Fresh(0),
            FloodOp::RotateSignedPrekey,
        ],
    );
    assert_eq!(t.accepted, 3, "{t:?}");
    assert_eq!(t.full, 2, "{t:?}");
    assert_eq!(t.replays, 3, "{t:?}");
    assert_eq!(t.unknown, 1, "{t:?}");
}

// ---------------------------------------------------------------------------
// Sessions restored mid-conversation
// ---------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum SessionOp {
    /// Alice (or Bob, once he has a session) sends this many messages.
    Send { alice: bool, count: usize },
    /// One queued message, chosen at random, reaches its recipient.
    Deliver { to_bob: bool, which: usize },
    /// A party's session (Bob's account while he has none) is restored.
    Restore { alice: bool, sealed: bool },
}

fn session_op() -> impl Strategy<Value = SessionOp> {
    prop_oneof![
        2 => (any::<bool>(), 1usize..=3).prop_map(|(alice, count)| SessionOp::Send { alice, count }),
        3 => (any::<bool>(), any::<usize>()).prop_map(|(to_bob, which)| SessionOp::Deliver { to_bob, which }),
        2 => (any::<bool>(), any::<bool>()).prop_map(|(alice, sealed)| SessionOp::Restore { alice, sealed }),
    ]
}

/// At most this many sends per party: each party then uses at most this many
/// sending chains, so no message outlives the peer's window of receiving
/// chains (`MAX_RECEIVING_CHAINS` = 5) and every delivery must succeed.
const MAX_SENDS: usize = 5;

/// Delivers one of Alice's messages: to Bob's session, or (before he has one)
/// through his account, which must take it as an initial message.
fn deliver_to_bob(bob: &mut Option<Session>, account: &mut Account, (msg, pt): (Vec<u8>, Vec<u8>)) {
    let got = match bob {
        Some(s) => s.decrypt(&msg).unwrap(),
        None => {
            assert_eq!(
                msg[1], TYPE_INITIAL,
                "Bob's first message is an initial message"
            );
            let (s, got) = account.accept_unverified(&msg).unwrap();
            *bob = Some(s);
            got
        }
    };
    assert_eq!(got, pt);
}

fn run_conversation(seed: u8, one_time: bool, encrypted: bool, ops: &[SessionOp]) {
    let mut rng = ChaCha20Rng::from_seed([seed; 32]);
    let mut account = Account::new(&mut rng).unwrap();
    let opk = if one_time {
        Some(account.generate_one_time_prekeys(&mut rng, 1).unwrap()[0])
    } else {
        None
    };
    let bundle = account.bundle(opk, None).unwrap().to_bytes();
    let mut alice =
        Session::start_unverified(&initiators()[1], &mut rng, &bundle, mode(encrypted)).unwrap();
    let mut bob: Option<Session> = None;
    let mut to_bob: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    let mut to_alice: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    let mut sends = [0usize; 2];
    let mut heard_from_bob = false;
    let mut n = 0;

    for op in ops {
        match op {
            SessionOp::Send { alice: true, count } if sends[0] < MAX_SENDS => {
                sends[0] += 1;
                for _ in 0..*count {
                    n += 1;
                    let pt = format!("alice {n}").into_bytes();
                    let m = alice.encrypt(&mut rng, &pt).unwrap();
                    assert_eq!(m[1] == TYPE_INITIAL, !heard_from_bob);
                    to_bob.push((m, pt));
                }
            }
            SessionOp::Send {
                alice: false,
                count,
            } if sends[1] < MAX_SENDS => {
                let Some(b) = bob.as_mut() else { continue };
                sends[1] += 1;
                for _ in 0..*count {
                    n += 1;
                    let pt = format!("bob {n}").into_bytes();
                    let m = b.encrypt(&mut rng, &pt).unwrap();
                    assert_ne!(m[1], TYPE_INITIAL);
                    to_alice.push((m, pt));
                }
            }
            SessionOp::Send { .. } => {}
            SessionOp::Deliver {
                to_bob: true,
                which,
            } => {
                if to_bob.is_empty() {
                    continue;
                }
                let m = to_bob.remove(which % to_bob.len());
                deliver_to_bob(&mut bob, &mut account, m);
            }
            SessionOp::Deliver {
                to_bob: false,
                which,
            } => {
                if to_alice.is_empty() {
                    continue;
                }
                let (msg, pt) = to_alice.remove(which % to_alice.len());
                assert_eq!(alice.decrypt(&msg).unwrap(), pt);
                heard_from_bob = true;
                assert!(!alice.is_pending());
            }
            SessionOp::Restore {
                alice: true,
                sealed,
            } => {
                alice = restore_session(&alice, *sealed, &mut rng);
            }
            SessionOp::Restore {
                alice: false,
                sealed,
            } => match &bob {
                Some(s) => bob = Some(restore_session(s, *sealed, &mut rng)),
                None => account = restore_account(&account, *sealed, &mut rng),
            },
        }
        assert_eq!(alice.is_pending(), !heard_from_bob);
    }

    // One more message from Alice, then everything still queued arrives;
    // then one more message each way between restored sessions.
    let pt = b"last but one from alice".to_vec();
    to_bob.push((alice.encrypt(&mut rng, &pt).unwrap(), pt));
    for m in std::mem::take(&mut to_bob) {
        deliver_to_bob(&mut bob, &mut account, m);
    }
    let mut bob = bob.expect("Bob has a session once every message arrived");
    assert_eq!(bob.session_id(), alice.session_id());
    for (msg, pt) in to_alice {
        assert_eq!(alice.decrypt(&msg).unwrap(), pt);
    }
    let mut alice = restore_session(&alice, true, &mut rng);
    let mut bob_restored = restore_session(&bob, false, &mut rng);
    let m = bob_restored.encrypt(&mut rng, b"last from bob").unwrap();
    assert_eq!(alice.decrypt(&m).unwrap(), b"last from bob");
    let m = alice.encrypt(&mut rng, b"last from alice").unwrap();
    assert_ne!(m[1], TYPE_INITIAL);
    assert_eq!(bob_restored.decrypt(&m).unwrap(), b"last from alice");
    bob = bob_restored;
    assert!(!alice.is_pending() && !bob.is_pending());
}

proptest! {
    #![proptest_config(config(24))]

    #[test]
    fn sessions_restored_at_random_points_keep_talking(
        seed in any::<u8>(),
        one_time in any::<bool>(),
        encrypted in any::<bool>(),
        ops in vec(session_op(), 1..30),
    ) {
        run_conversation(seed, one_time, encrypted, &ops);
    }
}

// ---------------------------------------------------------------------------
// Sealed blobs: corruption, wrong keys, wrong kinds
// ---------------------------------------------------------------------------

/// Plain encodings of an account and of sessions at several stages, built once.
struct States {
    account: Vec<u8>,
    sessions: Vec<Vec<u8>>,
}

fn states() -> &'static States {
    static STATES: OnceLock<States> = OnceLock::new();
    STATES.get_or_init(|| {
        let mut rng = ChaCha20Rng::from_seed([0xb2; 32]);
        let mut bob = Account::new(&mut rng).unwrap();
        let opk = bob.generate_one_time_prekeys(&mut rng, 2).unwrap()[0];
        bob.generate_kem_one_time_prekeys(&mut rng, 1).unwrap();
        let bundle = bob.bundle(Some(opk), None).unwrap().to_bytes();
        let mut a =
            Session::start_unverified(&initiators()[2], &mut rng, &bundle, HeaderMode::Plain)
                .unwrap();
        let pending = a.to_bytes();
        let m = a.encrypt(&mut rng, b"hi").unwrap();
        let (mut b, _) = bob.accept_unverified(&m).unwrap();
        let responder = b.to_bytes();
        let r = b.encrypt(&mut rng, b"hello").unwrap();
        a.decrypt(&r).unwrap();
        States {
            account: bob.to_bytes(),
            sessions: vec![pending, responder, a.to_bytes(), b.to_bytes()],
        }
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Account,
    Session,
}

/// Seals state `which` (0: the account; else a session) with a nonce drawn from `seed`.
fn sealed(which: usize, seed: u8, key: &Secret<32>) -> (Kind, Vec<u8>) {
    let s = states();
    let mut rng = ChaCha20Rng::from_seed([seed; 32]);
    match which % (1 + s.sessions.len()) {
        0 => {
            let a = Account::from_bytes(&s.account).unwrap();
            (Kind::Account, a.to_sealed_bytes(&mut rng, key).unwrap())
        }
        i => {
            let ses = Session::from_bytes(&s.sessions[i - 1]).unwrap();
            (Kind::Session, ses.to_sealed_bytes(&mut rng, key).unwrap())
        }
    }
}

/// Opens a blob as `kind`: the restored state's encoding, or the error.
fn open(kind: Kind, blob: &[u8], key: &Secret<32>) -> Result<Vec<u8>, PersistError> {
    match kind {
        Kind::Account => Account::from_sealed_bytes(blob, key).map(|a| a.to_bytes()),
        Kind::Session => Session::from_sealed_bytes(blob, key).map(|s| s.to_bytes()),
    }
}

#[derive(Debug, Clone)]
enum Corruption {
    /// Xor one byte with a non-zero value.
    Flip(usize, u8),
    /// Xor several bytes.
    Flips(Vec<(usize, u8)>),
    /// Cut the blob short.
    Truncate(usize),
    /// Append bytes.
    Extend(Vec<u8>),
    /// Remove bytes from the middle.
    Remove(usize, usize),
    /// Move the last bytes (the tag) to the front of the body.
    RotateTail(usize),
}

fn corruption() -> impl Strategy<Value = Corruption> {
    prop_oneof![
        4 => (any::<usize>(), 1u8..).prop_map(|(i, x)| Corruption::Flip(i, x)),
        2 => vec((any::<usize>(), 1u8..), 2..8).prop_map(Corruption::Flips),
        2 => any::<usize>().prop_map(Corruption::Truncate),
        1 => vec(any::<u8>(), 1..40).prop_map(Corruption::Extend),
        1 => (any::<usize>(), 1usize..64).prop_map(|(i, n)| Corruption::Remove(i, n)),
        1 => (1usize..32).prop_map(Corruption::RotateTail),
    ]
}

/// Applies `c`; the result always differs from `blob`.
fn corrupt(blob: &[u8], c: &Corruption) -> Vec<u8> {
    let mut out = blob.to_vec();
    match c {
        Corruption::Flip(i, x) => {
            let p = i % out.len();
            out[p] ^= x;
        }
        Corruption::Flips(v) => {
            // Distinct positions, so no flip undoes another.
            let mut seen = HashSet::new();
            for (i, x) in v {
                let p = i % out.len();
                if seen.insert(p) {
                    out[p] ^= x;
                }
            }
        }
        Corruption::Truncate(i) => out.truncate(i % out.len()),
        Corruption::Extend(v) => out.extend_from_slice(v),
        Corruption::Remove(i, n) => {
            let start = i % out.len();
            let end = (start + n).min(out.len());
            out.drain(start..end);
        }
        Corruption::RotateTail(n) => {
            // Header (15 bytes) and nonce (12) stay; the body's last `n`
            // bytes move to its front.
            let body = &mut out[27..];
            body.rotate_right(*n % body.len());
        }
    }
    out
}

proptest! {
    #![proptest_config(config(128))]

    #[test]
    fn corrupted_sealed_state_is_rejected(
        which in 0usize..5,
        seed in any::<u8>(),
        c in corruption(),
    ) {
        let key = storage_key();
        let (kind, blob) = sealed(which, seed, &key);
        let bad = corrupt(&blob, &c);
        prop_assume!(bad != blob);
        match open(kind, &bad, &key) {
            Err(PersistError::Storage(_)) => {}
            other => panic!("corrupted blob ({c:?}) gave {other:?}"),
        }
        // A single flipped byte names its field.
        if let Corruption::Flip(i, _) = &c {
            let p = i % blob.len();
            let want = match p {
                0..=12 => StorageError::BadMagic,
                13 => StorageError::UnsupportedVersion(bad[13]),
                14 => StorageError::WrongKind(bad[14]),
                _ => StorageError::Authentication,
            };
            prop_assert_eq!(open(kind, &bad, &key), Err(PersistError::Storage(want)));
        }
        // The intact blob still opens to the original state.
        let want = match kind {
            Kind::Account => states().account.clone(),
            Kind::Session => states().sessions[which - 1].clone(),
        };
        prop_assert_eq!(open(kind, &blob, &key), Ok(want));
    }

    #[test]
    fn wrong_key_or_kind_is_rejected(
        which in 0usize..5,
        seed in any::<u8>(),
        other in any::<[u8; 32]>(),
    ) {
        let key = storage_key();
        prop_assume!(&other != key.expose());
        let (kind, blob) = sealed(which, seed, &key);
        prop_assert_eq!(
            open(kind, &blob, &Secret::from_bytes(other)),
            Err(PersistError::Storage(StorageError::Authentication))
        );
        let (other_kind, kind_byte) = match kind {
            Kind::Account => (Kind::Session, 1),
            Kind::Session => (Kind::Account, 2),
        };
        prop_assert_eq!(
            open(other_kind, &blob, &key),
            Err(PersistError::Storage(StorageError::WrongKind(kind_byte)))
        );
    }
}
