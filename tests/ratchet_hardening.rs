//! Attacks on the ratchet's state and their defences (spec §5.2.4, §5.5.3,
//! §5.6.2, §8.2): rollback re-encryption, a repeated first message at the
//! responder, keys held longer than needed, and states no writer produces.
#![cfg(feature = "hazmat")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use sha2::Digest;
use sova::ratchet::{message, DecryptError, HeaderMode, Ratchet, StateError, MAX_SKIP};
use sova::{CryptoProvider, DefaultProvider, Secret};

const MODES: [HeaderMode; 2] = [HeaderMode::Plain, HeaderMode::Encrypted];
const AD: &[u8] = b"alice-id|bob-id";
const BOB_PRIVATE: [u8; 32] = [0x24; 32];

fn pair(mode: HeaderMode) -> (Ratchet, Ratchet) {
    let p = DefaultProvider::default();
    let sk = Secret::from_bytes([0x42; 32]);
    let bob_pub = p.x25519_public_key(&Secret::from_bytes(BOB_PRIVATE));
    let a = Ratchet::initiator(&sk, bob_pub, AD, mode).unwrap();
    let b = Ratchet::responder(&sk, Secret::from_bytes(BOB_PRIVATE), AD, mode).unwrap();
    (a, b)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The (key, nonce) pairs one encryption used: the body's, and the header's
/// in `ENCRYPTED` mode (its header key expanded, and its nonce).
fn key_nonce_pairs(t: &sova::ratchet::Trace) -> Vec<([u8; 32], [u8; 12])> {
    let p = DefaultProvider::default();
    let mut out = vec![(
        *t.aead_key.as_ref().unwrap().expose(),
        t.aead_nonce.unwrap(),
    )];
    if let Some(hk) = &t.header_key {
        let hks = sova::ratchet::kdf::header_keys(&p, hk).unwrap();
        out.push((*hks.encryption_key.expose(), t.header_nonce.unwrap()));
    }
    out
}

/// Restoring an older state and encrypting again (a rollback) derives the
/// same message key, but the fresh salt gives the body and the header other
/// keys and nonces: no two-time pad, no repeated Poly1305 key.
#[test]
fn rollback_re_encryption_shares_no_key_and_nonce() {
    let p = DefaultProvider::default();
    for mode in MODES {
        let (mut a, mut b) = pair(mode);
        let mut rng = ChaCha20Rng::from_seed([1; 32]);
        b.decrypt(&a.encrypt(&mut rng, b"first").unwrap()).unwrap();
        // Bob's first sending chain (a DH step) and a message within it.
        for within_chain in [false, true] {
            if within_chain {
                let m = b.encrypt(&mut rng, b"x").unwrap();
                a.decrypt(&m).unwrap();
            }
            let saved = b.to_bytes();
            let p1 = [0x11u8; 40];
            let (c1, t1) = b.encrypt_traced(&p, &mut rng, &p1).unwrap();
            let mut restored = Ratchet::from_bytes(&saved).unwrap();
            let p2 = [0x22u8; 40];
            let (c2, t2) = restored.encrypt_traced(&p, &mut rng, &p2).unwrap();
            // The same message key (and, within a chain, the same number) ...
            if within_chain {
                assert_eq!(t1.message_key, t2.message_key);
            }
            // ... yet no (key, nonce) pair in common.
            let (k1, k2) = (key_nonce_pairs(&t1), key_nonce_pairs(&t2));
            // The body keys differ; a header key may repeat (it belongs to
            // the chain), but never with the same nonce.
            assert_ne!(k1[0].0, k2[0].0, "{mode:?}: a body key repeats");
            for x in &k1 {
                for y in &k2 {
                    assert_ne!((x.0, x.1), (y.0, y.1), "{mode:?}: a (key, nonce) repeats");
                }
            }
            // The ciphertexts do not XOR to the plaintexts' XOR.
            let body = match mode {
                HeaderMode::Plain => message::PLAIN_PREFIX_LEN,
                HeaderMode::Encrypted => message::ENCRYPTED_PREFIX_LEN,
            };
            let x: Vec<u8> = c1[body..body + 40]
                .iter()
                .zip(&c2[body..body + 40])
                .map(|(u, v)| u ^ v)
                .collect();
            assert_ne!(x, vec![0x33u8; 40], "{mode:?}: two-time pad");
            // The receiver accepts one of the two copies, not both.
            let mut a2 = Ratchet::from_bytes(&a.to_bytes()).unwrap();
            assert_eq!(a2.decrypt(&c1).unwrap(), p1);
            assert!(a2.decrypt(&c2).is_err());
            b = Ratchet::from_bytes(&saved).unwrap();
        }
    }
}

/// The generation counter grows with every operation and is persisted, so an
/// application can notice an older copy (spec §8.2).
#[test]
fn generation_counts_operations_and_detects_an_older_copy() {
    let (mut a, mut b) = pair(HeaderMode::Plain);
    let mut rng = ChaCha20Rng::from_seed([2; 32]);
    assert_eq!((a.generation(), b.generation()), (0, 0));
    let old = b.to_bytes();
    b.decrypt(&a.encrypt(&mut rng, b"1").unwrap()).unwrap();
    a.decrypt(&b.encrypt(&mut rng, b"2").unwrap()).unwrap();
    assert_eq!((a.generation(), b.generation()), (2, 2));
    // Rejected messages do not count.
    assert!(b.decrypt(&[1, 1, 0]).is_err());
    assert_eq!(b.generation(), 2);
    let restored = Ratchet::from_bytes(&b.to_bytes()).unwrap();
    assert_eq!(restored.generation(), 2);
    assert!(Ratchet::from_bytes(&old).unwrap().generation() < b.generation());
}

/// A responder that processes the same first message twice (a replayed
/// initial message reaching two copies of the state) sends its first reply
/// under unrelated body keys and, in ENCRYPTED mode, under the same header
/// key (HKB) with a different header nonce (spec §5.6.2).
#[test]
fn a_repeated_first_message_never_repeats_a_key_and_nonce() {
    let p = DefaultProvider::default();
    for mode in MODES {
        let (mut a, b) = pair(mode);
        let mut rng = ChaCha20Rng::from_seed([3; 32]);
        let first = a.encrypt(&mut rng, b"hello").unwrap();
        let saved = b.to_bytes();
        let mut b1 = Ratchet::from_bytes(&saved).unwrap();
        let mut b2 = Ratchet::from_bytes(&saved).unwrap();
        b1.decrypt(&first).unwrap();
        b2.decrypt(&first).unwrap();
        let (_, t1) = b1.encrypt_traced(&p, &mut rng, b"reply").unwrap();
        let (_, t2) = b2.encrypt_traced(&p, &mut rng, b"reply").unwrap();
        if mode == HeaderMode::Encrypted {
            assert_eq!(t1.header_key, t2.header_key, "both use HKB");
        }
        for x in key_nonce_pairs(&t1) {
            for y in key_nonce_pairs(&t2) {
                assert_ne!((x.0, x.1), (y.0, y.1), "{mode:?}: a (key, nonce) repeats");
            }
        }
    }
}

/// No state keeps the responder's first ratchet private key (the signed
/// prekey, spec §7.6) once the first message has been decrypted, nor any
/// ratchet private key after a DH ratchet step on receipt (spec §5.5.3).
#[test]
fn ratchet_private_keys_are_erased_after_a_receiving_step() {
    let p = DefaultProvider::default();
    for mode in MODES {
        let (mut a, mut b) = pair(mode);
        let mut rng = ChaCha20Rng::from_seed([4; 32]);
        assert!(contains(&b.to_bytes(), &BOB_PRIVATE));
        b.decrypt(&a.encrypt(&mut rng, b"1").unwrap()).unwrap();
        assert!(!contains(&b.to_bytes(), &BOB_PRIVATE), "{mode:?}");
        assert_eq!(b.ratchet_public_key(), None);
        // Bob's next message draws a new key pair, which Alice's reply retires.
        let (m, t) = b.encrypt_traced(&p, &mut rng, b"2").unwrap();
        let bob_second = *t.ratchet_private.unwrap().expose();
        assert!(contains(&b.to_bytes(), &bob_second));
        a.decrypt(&m).unwrap();
        b.decrypt(&a.encrypt(&mut rng, b"3").unwrap()).unwrap();
        assert!(!contains(&b.to_bytes(), &bob_second), "{mode:?}");
        // A second new ratchet key before Bob sends (no honest peer does this)
        // finds no key pair to answer it with.
        let mut other = Ratchet::initiator(
            &Secret::from_bytes([0x42; 32]),
            p.x25519_public_key(&Secret::from_bytes(BOB_PRIVATE)),
            AD,
            mode,
        )
        .unwrap();
        let stray = other.encrypt(&mut rng, b"stray").unwrap();
        let before = b.to_bytes();
        assert!(b.decrypt(&stray).is_err());
        assert_eq!(b.to_bytes(), before);
    }
}

/// A DH ratchet step closes the previous receiving chain: its remaining keys
/// are derived and stored, its chain key erased (spec §5.5.3); late messages
/// still decrypt, and nothing beyond MAX_SKIP remaining keys is kept.
#[test]
fn closing_a_chain_erases_its_chain_key() {
    let p = DefaultProvider::default();
    for mode in MODES {
        let (mut a, mut b) = pair(mode);
        let mut rng = ChaCha20Rng::from_seed([5; 32]);
        let mut chain = Vec::new();
        let mut chain_keys = Vec::new();
        for i in 0..4u8 {
            let (m, t) = a.encrypt_traced(&p, &mut rng, &[i]).unwrap();
            chain.push(m);
            chain_keys.push(*t.next_chain_key.unwrap().expose());
        }
        b.decrypt(&chain[0]).unwrap();
        // Bob's open chain key is Alice's key after message 0.
        assert!(contains(&b.to_bytes(), &chain_keys[0]));
        a.decrypt(&b.encrypt(&mut rng, b"r").unwrap()).unwrap();
        let (next, t) = b_step(&p, &mut a, &mut rng);
        let (_, bt) = b.decrypt_traced(&p, &next).unwrap();
        assert!(t.ratchet_private.is_some());
        let closed: Vec<u32> = bt.closed_chain_keys.iter().map(|(n, _)| *n).collect();
        assert_eq!(closed, [1, 2, 3], "{mode:?}");
        let state = b.to_bytes();
        for ck in &chain_keys {
            assert!(
                !contains(&state, ck),
                "{mode:?}: a closed chain key is kept"
            );
        }
        assert_eq!(b.stored_keys(), 3);
        // Late messages of the closed chain decrypt once, from stored keys.
        for i in [3usize, 1, 2] {
            assert_eq!(b.decrypt(&chain[i]).unwrap(), [i as u8]);
            assert_eq!(
                b.decrypt(&chain[i]),
                Err(DecryptError::DuplicateOrExpired { n: i as u32 })
            );
        }
        assert_eq!(b.stored_keys(), 0);
    }
}

fn b_step(
    p: &DefaultProvider,
    a: &mut Ratchet,
    rng: &mut ChaCha20Rng,
) -> (Vec<u8>, sova::ratchet::Trace) {
    a.encrypt_traced(p, rng, b"new chain").unwrap()
}

/// Closing a chain derives at most MAX_SKIP of its remaining keys; later
/// messages of that chain are expired.
#[test]
fn closing_derives_at_most_max_skip_keys() {
    let (mut a, mut b) = pair(HeaderMode::Plain);
    let mut rng = ChaCha20Rng::from_seed([6; 32]);
    let first = a.encrypt(&mut rng, b"0").unwrap();
    let mut chain = Vec::new();
    for _ in 0..(MAX_SKIP + 5) {
        chain.push(a.encrypt(&mut rng, b"").unwrap());
    }
    b.decrypt(&first).unwrap();
    a.decrypt(&b.encrypt(&mut rng, b"r").unwrap()).unwrap();
    b.decrypt(&a.encrypt(&mut rng, b"next").unwrap()).unwrap();
    assert_eq!(b.stored_keys(), MAX_SKIP as usize);
    // Messages 1 ..= MAX_SKIP were derived; the last four were not.
    assert!(b.decrypt(&chain[MAX_SKIP as usize - 1]).is_ok());
    for late in &chain[MAX_SKIP as usize..] {
        assert!(matches!(
            b.decrypt(late),
            Err(DecryptError::DuplicateOrExpired { .. })
        ));
    }
}

// ---------------------------------------------------------------------------
// The rules of spec §8.2, through an encoder written from the spec's grammar.

#[derive(Clone)]
enum Pos {
    Open([u8; 32], u32),
    Closed(u32),
}

#[derive(Clone)]
struct Chain {
    dhr: [u8; 32],
    pos: Pos,
    hk: Option<[u8; 32]>,
    keys: Vec<u32>,
}

#[derive(Clone)]
struct State {
    mode: u8,
    generation: u64,
    ad: Vec<u8>,
    dhs: Option<[u8; 32]>,
    dhr: Option<[u8; 32]>,
    sending: Option<([u8; 32], u32, Option<[u8; 32]>)>,
    pn: u32,
    nhks: Option<[u8; 32]>,
    nhkr: Option<[u8; 32]>,
    chains: Vec<Chain>,
}

fn opt(out: &mut Vec<u8>, v: &Option<[u8; 32]>) {
    match v {
        None => out.push(0),
        Some(k) => {
            out.push(1);
            out.extend_from_slice(k);
        }
    }
}

impl State {
    fn encode(&self) -> Vec<u8> {
        let mut o = b"SOVA-1 ratchet".to_vec();
        o.push(1);
        o.push(self.mode);
        o.extend_from_slice(&self.generation.to_be_bytes());
        o.extend_from_slice(&(self.ad.len() as u16).to_be_bytes());
        o.extend_from_slice(&self.ad);
        o.extend_from_slice(&[0x77; 32]);
        opt(&mut o, &self.dhs);
        opt(&mut o, &self.dhr);
        match &self.sending {
            None => o.push(0),
            Some((ck, n, hk)) => {
                o.push(1);
                o.extend_from_slice(ck);
                o.extend_from_slice(&n.to_be_bytes());
                opt(&mut o, hk);
            }
        }
        o.extend_from_slice(&self.pn.to_be_bytes());
        opt(&mut o, &self.nhks);
        opt(&mut o, &self.nhkr);
        o.push(self.chains.len() as u8);
        for c in &self.chains {
            o.extend_from_slice(&c.dhr);
            match &c.pos {
                Pos::Open(ck, nr) => {
                    o.push(0);
                    o.extend_from_slice(ck);
                    o.extend_from_slice(&nr.to_be_bytes());
                }
                Pos::Closed(end) => {
                    o.push(1);
                    o.extend_from_slice(&end.to_be_bytes());
                }
            }
            opt(&mut o, &c.hk);
            o.extend_from_slice(&(c.keys.len() as u16).to_be_bytes());
            for n in &c.keys {
                o.extend_from_slice(&n.to_be_bytes());
                o.extend_from_slice(&[0x55; 32]);
            }
        }
        let check = sha2::Sha256::digest(&o);
        o.extend_from_slice(&check);
        o
    }
}

/// A valid ENCRYPTED-mode state after some conversation: a sending chain,
/// an open chain and two closed ones.
fn valid() -> State {
    let hk = Some([0x66; 32]);
    State {
        mode: 2,
        generation: 9,
        ad: b"ad".to_vec(),
        dhs: Some([0x10; 32]),
        dhr: Some([0x21; 32]),
        sending: Some(([0x30; 32], 2, hk)),
        pn: 3,
        nhks: hk,
        nhkr: hk,
        chains: vec![
            Chain {
                dhr: [0x21; 32],
                pos: Pos::Open([0x31; 32], 5),
                hk,
                keys: vec![1, 4],
            },
            Chain {
                dhr: [0x22; 32],
                pos: Pos::Closed(7),
                hk,
                keys: vec![6],
            },
            Chain {
                dhr: [0x23; 32],
                pos: Pos::Closed(0),
                hk,
                keys: vec![],
            },
        ],
    }
}

fn rejected(s: &State) -> StateError {
    match Ratchet::from_bytes(&s.encode()) {
        Ok(_) => panic!("a state breaking a rule of §8.2 was accepted"),
        Err(e) => e,
    }
}

#[test]
fn the_encoder_follows_the_grammar() {
    for s in [valid(), {
        // A responder before its first message, PLAIN mode.
        State {
            mode: 1,
            generation: 0,
            ad: vec![],
            dhs: Some([0x10; 32]),
            dhr: None,
            sending: None,
            pn: 0,
            nhks: None,
            nhkr: None,
            chains: vec![],
        }
    }] {
        let bytes = s.encode();
        let r = Ratchet::from_bytes(&bytes).unwrap();
        assert_eq!(r.to_bytes(), bytes);
    }
}

#[test]
fn every_rule_of_8_2_is_enforced() {
    let inv = StateError::Invalid;
    let mut cases: Vec<(&str, State, StateError)> = Vec::new();
    let mut s = valid();
    s.mode = 3;
    cases.push(("R1 mode", s, inv("mode")));
    let mut s = valid();
    s.ad = vec![0; 513];
    cases.push(("R2 AD length", s, inv("session_ad")));
    let mut s = valid();
    s.chains.extend((0..3).map(|i| Chain {
        dhr: [0x40 + i; 32],
        pos: Pos::Closed(0),
        hk: s.nhks,
        keys: vec![],
    }));
    cases.push(("R4 six chains", s, inv("receiving chain count")));
    let mut s = valid();
    s.chains[0].pos = Pos::Closed(5);
    cases.push(("R5 newest chain closed", s, inv("chain position")));
    let mut s = valid();
    s.chains[1].pos = Pos::Open([1; 32], 7);
    cases.push(("R5 older chain open", s, inv("chain position")));
    let mut s = valid();
    s.chains[0].pos = Pos::Open([1; 32], 0);
    s.chains[0].keys.clear();
    cases.push(("R5 open chain with Nr = 0", s, inv("chain position")));
    let mut s = valid();
    s.chains[0].keys = (0..2001).collect();
    s.chains[0].pos = Pos::Open([1; 32], 3000);
    cases.push(("R6 too many keys", s, inv("stored key count")));
    let mut s = valid();
    s.chains[0].keys = vec![4, 1];
    cases.push(("R7 keys out of order", s, inv("skipped key order")));
    let mut s = valid();
    s.chains[0].keys = vec![1, 5];
    cases.push(("R7 key at Nr", s, inv("skipped key order")));
    let mut s = valid();
    s.chains[1].keys = vec![7];
    cases.push(("R7 key at END", s, inv("skipped key order")));
    let mut s = valid();
    s.chains[2].hk = None;
    cases.push(("C1 chain without header key", s, inv("header keys")));
    let mut s = valid();
    s.mode = 1;
    cases.push(("C1 header keys in PLAIN mode", s, inv("header keys")));
    let mut s = valid();
    if let Some(x) = s.sending.as_mut() {
        x.1 = 0;
    }
    cases.push(("C2 sending chain with Ns = 0", s, inv("sending chain")));
    let mut s = valid();
    s.dhs = None;
    cases.push(("C2 sending chain without DHs", s, inv("sending chain")));
    let mut s = valid();
    s.sending = None;
    cases.push(("C3 DHs without S, DHr known", s, inv("ratchet key pair")));
    let mut s = valid();
    s.sending = None;
    s.dhs = None;
    s.dhr = None;
    cases.push(("C3 nothing known", s, inv("ratchet key pair")));
    let mut s = valid();
    s.dhr = Some([0x22; 32]);
    cases.push(("C4 DHr of an older chain", s, inv("peer ratchet key")));
    let mut s = valid();
    s.chains[2].dhr = [0x22; 32];
    cases.push((
        "C5 two chains, one key",
        s,
        inv("duplicate receiving chain"),
    ));
    let mut s = valid();
    s.generation = 0;
    cases.push(("C6 generation 0 after messages", s, inv("generation")));
    for (what, s, want) in cases {
        assert_eq!(rejected(&s), want, "{what}");
    }
    // R3: an option tag other than 0 or 1.
    let mut bytes = valid().encode();
    let at = 14 + 1 + 1 + 8 + 2 + 2 + 32; // the Opt tag of DHs
    assert_eq!(bytes[at], 1);
    bytes[at] = 2;
    let n = bytes.len() - 32;
    let check = sha2::Sha256::digest(&bytes[..n]);
    bytes[n..].copy_from_slice(&check);
    assert_eq!(Ratchet::from_bytes(&bytes).err(), Some(inv("option tag")));
}
