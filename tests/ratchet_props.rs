//! Property tests of the Double Ratchet (spec §5), its padding (spec §5.4) and
//! its wire format (spec §6).
//!
//! The network properties run random schedules through the simulation shared
//! with the `ratchet_state_machine` fuzz target (`fuzz/checks/ratchet.rs`): two
//! parties, random changes of speaker (so DH ratchet steps happen) and bursts,
//! and a network that reorders, drops, duplicates and corrupts messages. The
//! simulation predicts every delivery exactly from a model of spec §5.5,
//! including the limits: a message expires only when its chain has left the
//! window of `MAX_RECEIVING_CHAINS` or its key was evicted under
//! `MAX_STORED_KEYS` (both modelled exactly, not excluded by bounding the
//! schedules), and it is refused beyond `MAX_SKIP`.
//!
//! Case counts keep the debug-build run short; set `PROPTEST_CASES` to run
//! more (it applies to every property here).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../fuzz/checks/ratchet.rs"]
mod checks;

use std::cell::RefCell;

use checks::{Action, Limits, Party, Schedule, Stats};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::TestRunner;
use sova::ratchet::message::{self, Header, Kind};
use sova::ratchet::padding::{
    is_padded_len, pad_into, padded_len, padme, unpadded_len, MAX_PADDED_LEN, MIN_PADDED_LEN,
    PAD_MARKER,
};
use sova::ratchet::{HeaderMode, MAX_PLAINTEXT_LEN, MAX_SKIP};

/// Property-test limits: large enough never to cut a generated schedule.
const LIMITS: Limits = Limits {
    max_actions: usize::MAX,
    max_messages: usize::MAX,
    max_burst: u16::MAX,
    max_len: 1024,
};

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

fn add(total: &mut Stats, s: &Stats) {
    total.sent += s.sent;
    total.decrypted += s.decrypted;
    total.out_of_order += s.out_of_order;
    total.dh_steps += s.dh_steps;
    total.duplicates_rejected += s.duplicates_rejected;
    total.corrupted_rejected += s.corrupted_rejected;
    total.expired_by_window += s.expired_by_window;
    total.expired_by_eviction += s.expired_by_eviction;
    total.evicted_keys += s.evicted_keys;
    total.too_many_skipped += s.too_many_skipped;
    total.restores += s.restores;
}

/// Runs `strategy`'s schedules through the simulation; returns the summed stats.
fn run(cases: u32, strategy: impl Strategy<Value = Schedule>) -> Stats {
    let total = RefCell::new(Stats::default());
    let mut runner = TestRunner::new(config(cases));
    let result = runner.run(&strategy, |schedule| {
        let stats = checks::run_schedule(&schedule, LIMITS);
        add(&mut total.borrow_mut(), &stats);
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let total = total.into_inner();
    println!("{total:?}");
    total
}

fn party() -> impl Strategy<Value = Party> {
    prop_oneof![Just(Party::Alice), Just(Party::Bob)]
}

/// One step of an everyday schedule: mostly sends and deliveries, some faults.
fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        6 => (party(), 1u16..=3, 0u16..300, any::<u8>())
            .prop_map(|(from, count, len, via)| Action::Send { from, count, len, via }),
        1 => (party(), 4u16..=20, 0u16..1024, any::<u8>())
            .prop_map(|(from, count, len, via)| Action::Send { from, count, len, via }),
        8 => (any::<u16>(), any::<u8>()).prop_map(|(pick, via)| Action::Deliver { pick, via }),
        3 => any::<u8>().prop_map(|via| Action::DeliverNewest { via }),
        2 => any::<u16>().prop_map(|pick| Action::Drop { pick }),
        2 => any::<u16>().prop_map(|pick| Action::Duplicate { pick }),
        1 => (any::<u16>(), any::<u16>(), any::<u8>())
            .prop_map(|(pick, pos, bit)| Action::Tamper { pick, pos, bit }),
        1 => (any::<u16>(), any::<u16>()).prop_map(|(pick, len)| Action::Truncate { pick, len }),
        1 => (any::<u16>(), any::<u8>()).prop_map(|(pick, byte)| Action::Extend { pick, byte }),
        1 => any::<u16>().prop_map(|pick| Action::Reflect { pick }),
        1 => party().prop_map(|who| Action::Persist { who }),
    ]
}

/// A stretch of conversation: the speaker changes at every turn and each turn's
/// last message is delivered at once, so every turn is a DH ratchet step;
/// messages sent earlier stay in flight and may fall out of the window.
fn exchange() -> impl Strategy<Value = Vec<Action>> {
    (party(), vec((1u16..=3, 0u16..100, any::<u8>()), 1..8)).prop_map(|(first, turns)| {
        let mut out = Vec::new();
        let mut from = first;
        for (count, len, via) in turns {
            out.push(Action::Send {
                from,
                count,
                len,
                via,
            });
            out.push(Action::DeliverNewest { via });
            from = if from == Party::Alice {
                Party::Bob
            } else {
                Party::Alice
            };
        }
        out
    })
}

/// Everyday schedules: single random actions mixed with stretches of conversation.
fn everyday(chunks: std::ops::Range<usize>) -> impl Strategy<Value = Vec<Action>> {
    let chunk = prop_oneof![12 => action().prop_map(|a| vec![a]), 1 => exchange()];
    vec(chunk, chunks).prop_map(|c| c.concat())
}

fn schedule(
    mode: HeaderMode,
    actions: impl Strategy<Value = Vec<Action>>,
) -> impl Strategy<Value = Schedule> {
    (any::<u8>(), any::<bool>(), actions).prop_map(move |(seed, flush_newest_first, actions)| {
        Schedule {
            mode,
            seed,
            flush_newest_first,
            actions,
        }
    })
}

/// Everyday schedules: every invariant at every step, and enough of them hit
/// each kind of event (DH steps, reordering, duplicates, corruption, chains
/// leaving the window, restores) to mean something.
fn network(mode: HeaderMode) {
    const CASES: u32 = 500;
    let total = run(CASES, schedule(mode, everyday(0..40)));
    let floor = CASES as usize;
    assert!(total.dh_steps >= floor, "{total:?}");
    assert!(total.out_of_order >= floor, "{total:?}");
    assert!(total.duplicates_rejected >= floor, "{total:?}");
    assert!(total.corrupted_rejected >= floor, "{total:?}");
    assert!(total.expired_by_window > 0, "{total:?}");
    assert!(total.restores > 0, "{total:?}");
}

#[test]
fn network_plain_headers() {
    network(HeaderMode::Plain);
}

#[test]
fn network_encrypted_headers() {
    network(HeaderMode::Encrypted);
}

/// Long skips in several chains, so stored keys overflow `MAX_STORED_KEYS` and
/// the oldest are evicted, while the network keeps reordering and replaying.
fn eviction_schedule() -> impl Strategy<Value = Vec<Action>> {
    let round = (700u16..=800, vec(action(), 0..6)).prop_map(|(burst, mut noise)| {
        let mut out = vec![
            Action::Send {
                from: Party::Alice,
                count: burst,
                len: 0,
                via: 0,
            },
            Action::DeliverNewest { via: 0 },
            Action::Send {
                from: Party::Bob,
                count: 1,
                len: 0,
                via: 0,
            },
            Action::DeliverNewest { via: 0 },
        ];
        out.append(&mut noise);
        out
    });
    vec(round, 3).prop_map(|rounds| rounds.concat())
}

fn eviction(mode: HeaderMode) {
    let total = run(2, schedule(mode, eviction_schedule()));
    assert!(total.evicted_keys > 0, "{total:?}");
    assert!(total.expired_by_eviction > 0, "{total:?}");
}

#[test]
fn stored_key_eviction_plain_headers() {
    eviction(HeaderMode::Plain);
}

#[test]
fn stored_key_eviction_encrypted_headers() {
    eviction(HeaderMode::Encrypted);
}

/// The skip limit inside the model: a message `MAX_SKIP + 1` ahead is refused
/// until the ones before it arrive.
#[test]
fn skip_limit_in_the_simulation() {
    let count = u16::try_from(MAX_SKIP + 2).unwrap();
    let schedule = Schedule {
        mode: HeaderMode::Plain,
        seed: 0,
        flush_newest_first: false,
        actions: vec![
            Action::Send {
                from: Party::Alice,
                count,
                len: 0,
                via: 0,
            },
            Action::DeliverNewest { via: 0 },
        ],
    };
    let stats = checks::run_schedule(&schedule, LIMITS);
    assert_eq!(stats.too_many_skipped, 1);
    assert_eq!(stats.decrypted, usize::from(count));
}

/// Schedules survive their fuzz encoding, so a failing schedule found here can
/// be committed as a seed of `ratchet_state_machine`, and the reverse.
#[test]
fn schedule_encoding_round_trips() {
    let mut runner = TestRunner::new(config(256));
    let strategy = prop_oneof![
        schedule(HeaderMode::Plain, vec(action(), 0..40)),
        schedule(HeaderMode::Encrypted, vec(action(), 0..40)),
    ];
    runner
        .run(&strategy, |s| {
            prop_assert_eq!(Schedule::from_bytes(&s.to_bytes()), s);
            Ok(())
        })
        .unwrap();
}

// ---------------------------------------------------------------------------
// Padding (spec §5.4)
// ---------------------------------------------------------------------------

/// Bytes rich in zeros and markers (the bytes padding is made of).
fn padding_bytes(len: std::ops::Range<usize>) -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), len).prop_map(|v| {
        v.into_iter()
            .map(|b| match b % 4 {
                0 | 1 => 0,
                2 => PAD_MARKER,
                _ => b,
            })
            .collect()
    })
}

fn plaintext_len() -> impl Strategy<Value = usize> {
    prop_oneof![4 => 0usize..5000, 1 => 0usize..=MAX_PLAINTEXT_LEN]
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn pad_unpad_round_trip(pt in padding_bytes(0..3000)) {
        let mut buf = Vec::new();
        pad_into(&pt, &mut buf);
        prop_assert_eq!(buf.len(), padded_len(pt.len()));
        prop_assert!(is_padded_len(buf.len()));
        prop_assert_eq!(&buf[..pt.len()], &pt[..]);
        prop_assert_eq!(buf[pt.len()], PAD_MARKER);
        prop_assert!(buf[pt.len() + 1..].iter().all(|&b| b == 0));
        prop_assert_eq!(unpadded_len(&buf), Some(pt.len()));
    }

    /// `PaddedLen(L)` is a Padmé fixed point, and the least padded length that
    /// holds `L` bytes and the marker.
    #[test]
    fn padded_len_is_the_least_padme_fixed_point(l in plaintext_len()) {
        let p = padded_len(l);
        prop_assert_eq!(padme(p), p);
        prop_assert!(is_padded_len(p));
        prop_assert!(p > l && (MIN_PADDED_LEN..=MAX_PADDED_LEN).contains(&p));
        let from = (l + 1).max(MIN_PADDED_LEN);
        prop_assert_eq!(p, padme(from));
        prop_assert!((from..p).all(|x| !is_padded_len(x)));
        prop_assert!(padded_len(l + 1) >= p);
    }

    #[test]
    fn padme_rounds_up_once(x in 0usize..=MAX_PADDED_LEN) {
        let p = padme(x);
        prop_assert!(p >= x);
        prop_assert_eq!(padme(p), p);
        if x >= 64 {
            // Padmé's overhead bound for these sizes: under 12.5%.
            prop_assert!((p - x) * 8 <= x);
        }
    }

    /// Whatever `unpadded_len` accepts is the one canonical padding of its plaintext.
    #[test]
    fn unpad_accepts_only_canonical_padding(buf in padding_bytes(0..200)) {
        if let Some(l) = unpadded_len(&buf) {
            let mut again = Vec::new();
            pad_into(&buf[..l], &mut again);
            prop_assert_eq!(again, buf);
        }
    }
}

// ---------------------------------------------------------------------------
// Wire format (spec §6)
// ---------------------------------------------------------------------------

/// A body (ciphertext without tag) of a random padded length.
fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![4 => 0usize..300, 1 => 0usize..5000]
        .prop_flat_map(|l| vec(any::<u8>(), padded_len(l)))
}

fn header() -> impl Strategy<Value = Header> {
    (
        any::<[u8; 32]>(),
        any::<u32>(),
        any::<u32>(),
        any::<[u8; 16]>(),
    )
        .prop_map(|(ratchet_key, previous_chain_len, n, salt)| Header {
            ratchet_key,
            previous_chain_len,
            n,
            salt,
        })
}

fn frame(body: &[u8], tag: &[u8; 16]) -> Vec<u8> {
    let mut out = u32::try_from(body.len() + 16)
        .unwrap()
        .to_be_bytes()
        .to_vec();
    out.extend_from_slice(body);
    out.extend_from_slice(tag);
    out
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn header_encoding_round_trips(h in header()) {
        prop_assert_eq!(Header::decode(&h.encode()), h);
    }

    #[test]
    fn plain_message_round_trips(h in header(), body in body(), tag in any::<[u8; 16]>()) {
        let mut wire = vec![message::VERSION, message::TYPE_PLAIN_HEADER];
        wire.extend_from_slice(&h.encode());
        wire.extend(frame(&body, &tag));
        let parsed = message::parse(&wire).unwrap();
        prop_assert!(matches!(parsed.kind, Kind::PlainHeader(got) if got == h));
        prop_assert_eq!(parsed.prefix, &wire[..message::PLAIN_PREFIX_LEN]);
        prop_assert_eq!(parsed.ciphertext, &body[..]);
        prop_assert_eq!(parsed.tag, tag);
        prop_assert_eq!(checks::encode_parsed(&parsed), wire);
    }

    #[test]
    fn encrypted_message_round_trips(
        nonce in any::<[u8; 12]>(),
        enc_header in vec(any::<u8>(), message::HEADER_LEN),
        header_tag in any::<[u8; 16]>(),
        body in body(),
        tag in any::<[u8; 16]>(),
    ) {
        let mut wire = vec![message::VERSION, message::TYPE_ENCRYPTED_HEADER];
        wire.extend_from_slice(&nonce);
        wire.extend_from_slice(&enc_header);
        wire.extend_from_slice(&header_tag);
        wire.extend(frame(&body, &tag));
        let parsed = message::parse(&wire).unwrap();
        match parsed.kind {
            Kind::EncryptedHeader { nonce: n, ciphertext, tag: t } => {
                prop_assert_eq!((n, &ciphertext[..], t), (nonce, &enc_header[..], header_tag));
            }
            Kind::PlainHeader(_) => prop_assert!(false, "wrong kind"),
        }
        prop_assert_eq!(parsed.prefix, &wire[..message::ENCRYPTED_PREFIX_LEN]);
        prop_assert_eq!(parsed.ciphertext, &body[..]);
        prop_assert_eq!(parsed.tag, tag);
        prop_assert_eq!(checks::encode_parsed(&parsed), wire);
    }

    /// Random bytes never panic the parser; anything accepted is canonical.
    #[test]
    fn random_bytes_parse_safely(data in vec(any::<u8>(), 0..600)) {
        checks::check_parse(&data);
    }

    /// The same, from a valid version and type and a body length that is often
    /// a valid one, so the parser gets further.
    #[test]
    fn random_frames_parse_safely(
        ty in 0u8..4,
        body_len in prop_oneof![any::<u32>(), (0usize..700).prop_map(|l| (padded_len(l) + 16) as u32)],
        rest in vec(any::<u8>(), 0..1000),
        cut in proptest::option::of(any::<u16>()),
    ) {
        let mut data = vec![message::VERSION, ty];
        data.extend_from_slice(&rest);
        let at = if ty == message::TYPE_ENCRYPTED_HEADER { 70 } else { 42 };
        if data.len() >= at + 4 {
            data[at..at + 4].copy_from_slice(&body_len.to_be_bytes());
        }
        if let Some(cut) = cut {
            data.truncate(usize::from(cut) % (data.len() + 1));
        }
        checks::check_parse(&data);
    }
}
