//! The Double Ratchet against its primitive floor and against vodozemac's Olm.
//!
//! Every operation is measured in three columns, in one run:
//!
//! * `sova` — the public [`Ratchet`] API (default provider, plain headers,
//!   64 bytes of session associated data);
//! * `floor` — only the primitive calls that operation needs, through the
//!   same provider, with inputs prepared outside the timed section and no
//!   protocol logic (no parsing, header encoding, padding, allocation,
//!   associated-data assembly or state bookkeeping);
//! * `vodozemac` — an established Olm session (`SessionConfig::version_1`)
//!   doing the same work, wire bytes in and wire bytes out (`to_parts` /
//!   `from_parts` are part of its encrypt / decrypt).
//!
//! Every decryption is of a message the receiver has not seen before: the
//! messages, or a fresh copy of the receiver, are made in each batch's
//! untimed setup, so nothing is measured failing. Plaintexts are dropped
//! inside the timed routine, as an application consumes them, so the
//! allocator reuses their memory instead of faulting in fresh pages for a
//! whole batch of held outputs (which would penalise allocating APIs against
//! the in-place floor).
//!
//! Run: `cargo bench --bench ratchet`. Results and their reading are in
//! `benches/RESULTS.md`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use rand_chacha::rand_core::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use sova::kdf::encode_label;
use sova::labels;
use sova::ratchet::message::PLAIN_PREFIX_LEN;
use sova::ratchet::padding::padded_len;
use sova::ratchet::{kdf, HeaderMode, Ratchet};
use sova::{CryptoProvider, DefaultProvider, Secret};
use vodozemac::olm::{Account, OlmMessage, Session, SessionConfig};

type Key = Secret<32>;

/// Plaintext sizes of the encrypt and decrypt benchmarks.
const SIZES: [(usize, &str); 3] = [(16, "16B"), (1024, "1KiB"), (65536, "64KiB")];
/// Plaintext size of each message of the round trip.
const PING_LEN: usize = 16;
/// Messages skipped before the out-of-order benchmarks' late message.
const SKIP: u32 = 1000;
/// Batches of receivers holding 1000 stored keys are kept small (memory).
/// 128 states of about 80 KB (10 MB) do not fit in the L2 cache: each
/// iteration starts from a state that is not in the core's caches.
const HEAVY_STATE: BatchSize = BatchSize::NumIterations(128);
/// 16 such states (1.3 MB) stay in a core's L2 cache (2 MB on the machine of
/// benches/RESULTS.md): the state is warm, as for an application that has
/// just loaded or used it.
const WARM_STATE: BatchSize = BatchSize::NumIterations(16);
/// Length of the session associated data (two 32-byte identity keys).
const SESSION_AD_LEN: usize = 64;

fn config() -> Criterion {
    Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

fn rng() -> ChaCha20Rng {
    ChaCha20Rng::from_seed([0x5e; 32])
}

// ---------------------------------------------------------------------------
// Sova set-up

const SESSION_SECRET: [u8; 32] = [7; 32];
const RESPONDER_RATCHET_PRIVATE: [u8; 32] = [9; 32];

fn session_ad() -> Vec<u8> {
    (0..SESSION_AD_LEN as u8).collect()
}

/// A fresh initiator (Alice) and responder (Bob), before any message.
fn sova_pair() -> (Ratchet, Ratchet) {
    let p = DefaultProvider::default();
    let bob_private = Secret::from_bytes(RESPONDER_RATCHET_PRIVATE);
    let bob_public = p.x25519_public_key(&bob_private);
    let secret = Secret::from_bytes(SESSION_SECRET);
    let ad = session_ad();
    let alice = Ratchet::initiator(&secret, bob_public, &ad, HeaderMode::Plain).unwrap();
    let bob = Ratchet::responder(&secret, bob_private, &ad, HeaderMode::Plain).unwrap();
    (alice, bob)
}

/// A session where both sides have spoken once, as in the vodozemac set-up.
fn sova_established(rng: &mut ChaCha20Rng) -> (Ratchet, Ratchet) {
    let (mut alice, mut bob) = sova_pair();
    let m = alice.encrypt(rng, b"hello").unwrap();
    assert_eq!(bob.decrypt(&m).unwrap(), b"hello");
    let r = bob.encrypt(rng, b"hi").unwrap();
    assert_eq!(alice.decrypt(&r).unwrap(), b"hi");
    (alice, bob)
}

fn sova_clone(r: &Ratchet) -> Ratchet {
    Ratchet::from_bytes(&r.to_bytes()).unwrap()
}

// ---------------------------------------------------------------------------
// vodozemac set-up

/// Two accounts, Bob's one-time key, Alice's outbound session and PreKey
/// message, Bob's inbound session and a reply: both sessions established.
fn olm_established() -> (Session, Session) {
    let alice = Account::new();
    let mut bob = Account::new();
    bob.generate_one_time_keys(1);
    let otk = *bob.one_time_keys().values().next().unwrap();
    bob.mark_keys_as_published();
    let cfg = SessionConfig::version_1();
    let mut a = alice
        .create_outbound_session(cfg, bob.curve25519_key(), otk)
        .unwrap();
    let OlmMessage::PreKey(first) = a.encrypt(b"hello").unwrap() else {
        unreachable!("the first message of an outbound session is a PreKey message")
    };
    let inbound = bob
        .create_inbound_session(cfg, alice.curve25519_key(), &first)
        .unwrap();
    assert_eq!(inbound.plaintext, b"hello");
    let mut b = inbound.session;
    let reply = b.encrypt(b"hi").unwrap();
    assert_eq!(a.decrypt(&reply).unwrap(), b"hi");
    (a, b)
}

fn olm_clone(s: &Session) -> Session {
    Session::from_pickle(s.pickle())
}

#[inline(never)]
fn olm_encrypt(s: &mut Session, pt: &[u8]) -> (usize, Vec<u8>) {
    s.encrypt(pt).unwrap().to_parts()
}

#[inline(never)]
fn olm_decrypt(s: &mut Session, wire: &(usize, Vec<u8>)) -> Vec<u8> {
    let m = OlmMessage::from_parts(wire.0, &wire.1).unwrap();
    s.decrypt(&m).unwrap()
}

// ---------------------------------------------------------------------------
// The primitive floor

/// The primitive calls of the ratchet, with every label and associated data
/// encoded once in advance. The methods are kept out of line so that a
/// profile (`valgrind --tool=callgrind`) attributes their cost to them.
struct Floor {
    p: DefaultProvider,
    chain_label: Vec<u8>,
    message_label: Vec<u8>,
    message_keys_info: Vec<u8>,
    root_label: Vec<u8>,
    root_info: Vec<u8>,
    /// `u16(len(ad)) || ad || prefix` of a plain-header message.
    aead_ad: Vec<u8>,
}

impl Floor {
    fn new() -> Self {
        let mut aead_ad = (SESSION_AD_LEN as u16).to_be_bytes().to_vec();
        aead_ad.extend(session_ad());
        aead_ad.extend([0x33; PLAIN_PREFIX_LEN]);
        let root_label = encode_label(labels::ROOT).unwrap();
        let mut root_info = root_label.clone();
        root_info.extend(96u16.to_be_bytes());
        let mut message_keys_info = encode_label(labels::MESSAGE_KEYS).unwrap();
        message_keys_info.extend(44u16.to_be_bytes());
        Self {
            p: DefaultProvider::default(),
            chain_label: encode_label(labels::CHAIN).unwrap(),
            message_label: encode_label(labels::MESSAGE).unwrap(),
            message_keys_info,
            root_label,
            root_info,
            aead_ad,
        }
    }

    /// `KDF_CK`: two HMAC-SHA-256.
    #[inline(never)]
    fn chain_step(&self, ck: &Key) -> (Key, Key) {
        let next = self.p.hmac_sha256(ck.expose(), &[&self.chain_label]);
        let mk = self.p.hmac_sha256(ck.expose(), &[&self.message_label]);
        (next, mk)
    }

    /// `MessageKeys(MK, salt)`: one HKDF-Expand of 44 bytes.
    #[inline(never)]
    fn message_keys(&self, mk: &Key, salt: &[u8; 16]) -> Secret<44> {
        let mut okm = Secret::<44>::zero();
        self.p
            .hkdf_expand(mk, &[&self.message_keys_info, salt], okm.expose_mut())
            .unwrap();
        okm
    }

    /// `KDF_RK`: HKDF-Extract, then HKDF-Expand of 96 bytes.
    #[inline(never)]
    fn root_step(&self, rk: &Key, dh: &Key) -> Secret<96> {
        let prk = self
            .p
            .hkdf_extract(rk.expose(), &[&self.root_label, dh.expose()]);
        let mut okm = Secret::<96>::zero();
        self.p
            .hkdf_expand(&prk, &[&self.root_info], okm.expose_mut())
            .unwrap();
        okm
    }

    /// AEAD key and nonce out of `MessageKeys` output.
    fn aead_key(okm: &Secret<44>) -> (Key, [u8; 12]) {
        let mut key = Key::zero();
        key.expose_mut().copy_from_slice(&okm.expose()[..32]);
        let mut nonce = [0u8; 12];
        nonce.copy_from_slice(&okm.expose()[32..]);
        (key, nonce)
    }

    /// The 16-byte salt draw, chain step, message keys and seal of `buf`
    /// (already padded).
    #[inline(never)]
    fn encrypt(&self, rng: &mut ChaCha20Rng, ck: &Key, buf: &mut [u8]) -> (Key, [u8; 16]) {
        let mut salt = [0u8; 16];
        rng.fill_bytes(&mut salt);
        let (next, mk) = self.chain_step(ck);
        let (key, nonce) = Self::aead_key(&self.message_keys(&mk, &salt));
        let tag = self.p.aead_seal(&key, &nonce, &self.aead_ad, buf);
        (next, tag)
    }

    /// Chain step, message keys and open of `buf` (already padded, sealed
    /// with [`FLOOR_SALT`]).
    #[inline(never)]
    fn decrypt(&self, ck: &Key, buf: &mut [u8], tag: &[u8; 16]) -> Key {
        let (next, mk) = self.chain_step(ck);
        let (key, nonce) = Self::aead_key(&self.message_keys(&mk, &FLOOR_SALT));
        self.p
            .aead_open(&key, &nonce, &self.aead_ad, buf, tag)
            .unwrap();
        next
    }

    /// A DH ratchet step on the sending side: a new key pair, DH, `KDF_RK`.
    #[inline(never)]
    fn send_dh_step(
        &self,
        rng: &mut ChaCha20Rng,
        rk: &Key,
        theirs: &[u8; 32],
    ) -> (Key, [u8; 32], Key) {
        let mut private = Key::zero();
        rng.fill_bytes(private.expose_mut());
        let public = self.p.x25519_public_key(&private);
        let dh = self.p.x25519(&private, theirs).unwrap();
        let okm = self.root_step(rk, &dh);
        let mut ck = Key::zero();
        ck.expose_mut().copy_from_slice(&okm.expose()[32..64]);
        (private, public, ck)
    }

    /// A DH ratchet step on the receiving side: DH, `KDF_RK`.
    #[inline(never)]
    fn receive_dh_step(&self, ours: &Key, theirs: &[u8; 32], rk: &Key) -> Key {
        let dh = self.p.x25519(ours, theirs).unwrap();
        let okm = self.root_step(rk, &dh);
        let mut ck = Key::zero();
        ck.expose_mut().copy_from_slice(&okm.expose()[32..64]);
        ck
    }
}

/// The salt of the floor's ciphertexts.
const FLOOR_SALT: [u8; 16] = [0x5c; 16];

/// A valid ciphertext of `padded_len` bytes under the floor's chain key `ck`
/// and [`FLOOR_SALT`].
fn floor_ciphertext(f: &Floor, ck: &Key, padded_len: usize) -> (Vec<u8>, [u8; 16]) {
    let mut buf = vec![0x5a; padded_len];
    let (_, mk) = f.chain_step(ck);
    let (key, nonce) = Floor::aead_key(&f.message_keys(&mk, &FLOOR_SALT));
    let tag = f.p.aead_seal(&key, &nonce, &f.aead_ad, &mut buf);
    (buf, tag)
}

// ---------------------------------------------------------------------------
// Benchmarks

/// One chain-key step (`KDF_CK`). Floor: 2 HMAC-SHA-256. vodozemac:
/// `Session::next_message_key` (low-level API), its two HMAC-SHA-256.
fn chain_step(c: &mut Criterion) {
    let f = Floor::new();
    let mut g = c.benchmark_group("chain_step");
    let p = DefaultProvider::default();
    let mut ck = Key::from_bytes([0x42; 32]);
    g.bench_function("sova", |b| {
        b.iter(|| {
            let (next, mk) = kdf::kdf_ck(&p, black_box(&ck)).unwrap();
            ck = next;
            mk
        })
    });
    let mut ck = Key::from_bytes([0x42; 32]);
    g.bench_function("floor", |b| {
        b.iter(|| {
            let (next, mk) = f.chain_step(black_box(&ck));
            ck = next;
            mk
        })
    });
    let (mut a, _) = olm_established();
    let _ = a.next_message_key(); // the DH step that activates the chain
    g.bench_function("vodozemac", |b| b.iter(|| a.next_message_key()));
    g.finish();
}

/// Encryption of 16 B, 1 KiB and 64 KiB on an established sending chain.
/// Floor: the 16-byte salt drawn from the RNG + 2 HMAC (chain step) +
/// HKDF-Expand of 44 bytes + ChaCha20-Poly1305
/// seal of the padded length, in place in a preallocated buffer.
fn encrypt(c: &mut Criterion) {
    let f = Floor::new();
    let mut g = c.benchmark_group("encrypt");
    let mut r = rng();
    let (mut alice, _bob) = sova_established(&mut r);
    let _ = alice.encrypt(&mut r, b"x").unwrap(); // the DH step of Alice's new chain
    let (mut oa, _ob) = olm_established();
    let _ = olm_encrypt(&mut oa, b"x");
    for (len, name) in SIZES {
        let pt = vec![0x61u8; len];
        g.throughput(Throughput::Bytes(len as u64));
        g.bench_with_input(BenchmarkId::new("sova", name), &pt, |b, pt| {
            b.iter(|| alice.encrypt(&mut r, black_box(pt)).unwrap())
        });
        // The plaintext read into place behind room for the prefix (untimed).
        let mut with_room = vec![0u8; PLAIN_PREFIX_LEN];
        with_room.extend_from_slice(&pt);
        let message_len = alice.message_len(len);
        g.bench_function(BenchmarkId::new("sova_in_place", name), |b| {
            b.iter_batched_ref(
                || {
                    let mut v = Vec::with_capacity(message_len);
                    v.extend_from_slice(&with_room);
                    v
                },
                |buf| alice.encrypt_in_place(&mut r, buf).unwrap(),
                BatchSize::SmallInput,
            )
        });
        let mut buf = vec![0x61u8; padded_len(len)];
        let mut ck = Key::from_bytes([0x42; 32]);
        let mut frng = rng();
        g.bench_function(BenchmarkId::new("floor", name), |b| {
            b.iter(|| {
                let (next, tag) = f.encrypt(&mut frng, black_box(&ck), black_box(&mut buf));
                ck = next;
                tag
            })
        });
        g.bench_with_input(BenchmarkId::new("vodozemac", name), &pt, |b, pt| {
            b.iter(|| olm_encrypt(&mut oa, black_box(pt)))
        });
    }
    g.finish();
}

/// Decryption of 16 B, 1 KiB and 64 KiB, each of a new in-order message of
/// an established chain (made in the batch's setup). Floor: 2 HMAC + HKDF-Expand
/// of 44 bytes + ChaCha20-Poly1305 open of the padded length (of a fresh copy).
fn decrypt(c: &mut Criterion) {
    let f = Floor::new();
    let mut g = c.benchmark_group("decrypt");
    let mut r = rng();
    let (mut alice, mut bob) = sova_established(&mut r);
    let (mut oa, mut ob) = olm_established();
    // The first message of Alice's new chain carries the DH ratchet step;
    // every measured message is in that chain after it.
    let m = alice.encrypt(&mut r, b"x").unwrap();
    assert_eq!(bob.decrypt(&m).unwrap(), b"x");
    let m = olm_encrypt(&mut oa, b"x");
    assert_eq!(olm_decrypt(&mut ob, &m), b"x");
    for (len, name) in SIZES {
        let pt = vec![0x61u8; len];
        g.throughput(Throughput::Bytes(len as u64));
        g.bench_function(BenchmarkId::new("sova", name), |b| {
            b.iter_batched_ref(
                || alice.encrypt(&mut r, &pt).unwrap(),
                |m| bob.decrypt(m).unwrap().len(),
                BatchSize::SmallInput,
            )
        });
        g.bench_function(BenchmarkId::new("sova_in_place", name), |b| {
            b.iter_batched_ref(
                || alice.encrypt(&mut r, &pt).unwrap(),
                |m| bob.decrypt_in_place(m).unwrap().len(),
                BatchSize::SmallInput,
            )
        });
        let ck = Key::from_bytes([0x42; 32]);
        let (ct, tag) = floor_ciphertext(&f, &ck, padded_len(len));
        g.bench_function(BenchmarkId::new("floor", name), |b| {
            b.iter_batched_ref(
                || ct.clone(),
                |buf| f.decrypt(black_box(&ck), buf, &tag),
                BatchSize::SmallInput,
            )
        });
        g.bench_function(BenchmarkId::new("vodozemac", name), |b| {
            b.iter_batched_ref(
                || olm_encrypt(&mut oa, &pt),
                |m| olm_decrypt(&mut ob, m).len(),
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();
}

/// A round trip A→B, B→A of 16-byte messages, each message opening a new
/// chain (a DH ratchet step on both sides). Floor per round trip: 2 X25519
/// key generations (random bytes + base-point multiplication), 4 X25519 DH,
/// 4 `KDF_RK` (HKDF-Extract + Expand of 96 bytes), 4 chain steps,
/// 4 `MessageKeys`, 2 seals and 2 opens of 32 bytes.
fn ping_pong(c: &mut Criterion) {
    let f = Floor::new();
    let mut g = c.benchmark_group("ping_pong");
    let pt = [0x61u8; PING_LEN];
    let mut r = rng();
    let (mut alice, mut bob) = sova_established(&mut r);
    g.bench_function("sova", |b| {
        b.iter(|| {
            let m = alice.encrypt(&mut r, black_box(&pt)).unwrap();
            let _ = bob.decrypt(&m).unwrap();
            let m = bob.encrypt(&mut r, black_box(&pt)).unwrap();
            alice.decrypt(&m).unwrap()
        })
    });

    let rk = Key::from_bytes([0x11; 32]);
    let a_priv = Key::from_bytes([0x21; 32]);
    let b_priv = Key::from_bytes([0x22; 32]);
    let a_pub = f.p.x25519_public_key(&a_priv);
    let b_pub = f.p.x25519_public_key(&b_priv);
    let ck = Key::from_bytes([0x42; 32]);
    let (ct, tag) = floor_ciphertext(&f, &ck, padded_len(PING_LEN));
    let mut frng = rng();
    g.bench_function("floor", |b| {
        b.iter(|| {
            let mut buf = [0u8; 32];
            // A encrypts: new key pair, DH, KDF_RK, chain step, keys, seal.
            let (_, _, ck_a) = f.send_dh_step(&mut frng, black_box(&rk), &b_pub);
            buf.copy_from_slice(&pt_padded(&pt));
            black_box(f.encrypt(&mut frng, &ck_a, &mut buf));
            // B decrypts: DH, KDF_RK, chain step, keys, open.
            black_box(f.receive_dh_step(&b_priv, black_box(&a_pub), &rk));
            buf.copy_from_slice(&ct);
            black_box(f.decrypt(&ck, &mut buf, &tag));
            // B encrypts, A decrypts: the same again.
            let (_, _, ck_b) = f.send_dh_step(&mut frng, black_box(&rk), &a_pub);
            black_box(f.encrypt(&mut frng, &ck_b, &mut buf));
            black_box(f.receive_dh_step(&a_priv, black_box(&b_pub), &rk));
            buf.copy_from_slice(&ct);
            f.decrypt(&ck, &mut buf, &tag)
        })
    });

    let (mut oa, mut ob) = olm_established();
    g.bench_function("vodozemac", |b| {
        b.iter(|| {
            let m = olm_encrypt(&mut oa, black_box(&pt));
            let _ = olm_decrypt(&mut ob, &m);
            let m = olm_encrypt(&mut ob, black_box(&pt));
            olm_decrypt(&mut oa, &m)
        })
    });
    g.finish();
}

fn pt_padded(pt: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out[..pt.len()].copy_from_slice(pt);
    out[pt.len()] = 0x80;
    out
}

/// Out-of-order delivery. Alice sends messages 0..=1000 of a new chain and
/// Bob receives message 1000 first (`skip_1000`: the DH ratchet step, 1000
/// skipped keys derived and stored, the decryption), then message 0
/// (`earliest_of_1000`: a stored key used and deleted). Each iteration
/// starts from a fresh copy of Bob, made in the setup: a cold one (one of
/// 128 copies, not in the caches) or, for `sova_in_place_warm`, a warm one
/// (one of 16).
fn skipped(c: &mut Criterion) {
    let f = Floor::new();
    let pt = [0x61u8; PING_LEN];

    // Sova: Alice's first chain.
    let mut r = rng();
    let (mut alice, bob0) = sova_pair();
    let msgs: Vec<Vec<u8>> = (0..=SKIP)
        .map(|_| alice.encrypt(&mut r, &pt).unwrap())
        .collect();
    let last = &msgs[SKIP as usize];
    let first = &msgs[0];
    let mut bob_skipped = sova_clone(&bob0);
    assert_eq!(bob_skipped.decrypt(last).unwrap(), pt);
    assert_eq!(bob_skipped.stored_keys(), SKIP as usize);
    assert_eq!(sova_clone(&bob_skipped).decrypt(first).unwrap(), pt);

    // vodozemac: Alice's chain after Bob's reply (its first chain is a PreKey chain).
    let (mut oa, ob0) = olm_established();
    let omsgs: Vec<(usize, Vec<u8>)> = (0..=SKIP).map(|_| olm_encrypt(&mut oa, &pt)).collect();
    let olast = &omsgs[SKIP as usize];
    let mut ob_skipped = olm_clone(&ob0);
    assert_eq!(olm_decrypt(&mut ob_skipped, olast), pt);

    // Floor inputs.
    let rk = Key::from_bytes([0x11; 32]);
    let b_priv = Key::from_bytes([0x22; 32]);
    let a_pub = f.p.x25519_public_key(&Key::from_bytes([0x21; 32]));
    let ck = Key::from_bytes([0x42; 32]);
    let (ct, tag) = floor_ciphertext(&f, &ck, padded_len(PING_LEN));

    let mut g = c.benchmark_group("skip_1000");
    g.bench_function("sova", |b| {
        b.iter_batched_ref(
            || sova_clone(&bob0),
            |bob| bob.decrypt(last).unwrap(),
            HEAVY_STATE,
        )
    });
    g.bench_function("floor", |b| {
        // DH + KDF_RK, 1000 chain steps keeping their message keys, then the
        // chain step, keys and open of message 1000.
        b.iter_batched_ref(
            || (ct.clone(), Vec::with_capacity(SKIP as usize)),
            |(buf, kept)| {
                let mut ck_i = f.receive_dh_step(&b_priv, black_box(&a_pub), &rk);
                for _ in 0..SKIP {
                    let (next, mk) = f.chain_step(&ck_i);
                    kept.push(mk);
                    ck_i = next;
                }
                black_box(&ck_i);
                f.decrypt(&ck, buf, &tag)
            },
            BatchSize::SmallInput,
        )
    });
    g.bench_function("vodozemac", |b| {
        b.iter_batched_ref(|| olm_clone(&ob0), |s| olm_decrypt(s, olast), HEAVY_STATE)
    });
    g.finish();

    let mut g = c.benchmark_group("earliest_of_1000");
    g.bench_function("sova", |b| {
        b.iter_batched_ref(
            || sova_clone(&bob_skipped),
            |bob| bob.decrypt(first).unwrap(),
            HEAVY_STATE,
        )
    });
    g.bench_function("sova_in_place", |b| {
        b.iter_batched_ref(
            || (sova_clone(&bob_skipped), first.clone()),
            |(bob, m)| bob.decrypt_in_place(m).unwrap().len(),
            HEAVY_STATE,
        )
    });
    g.bench_function("sova_in_place_warm", |b| {
        b.iter_batched_ref(
            || (sova_clone(&bob_skipped), first.clone()),
            |(bob, m)| bob.decrypt_in_place(m).unwrap().len(),
            WARM_STATE,
        )
    });
    g.bench_function("floor", |b| {
        // The stored message key's HKDF-Expand and the open.
        let mk = Key::from_bytes([0x42; 32]);
        let (key, nonce) = Floor::aead_key(&f.message_keys(&mk, &FLOOR_SALT));
        let mut buf = vec![0x5a; padded_len(PING_LEN)];
        let tag = f.p.aead_seal(&key, &nonce, &f.aead_ad, &mut buf);
        b.iter_batched_ref(
            || buf.clone(),
            |buf| {
                let (key, nonce) = Floor::aead_key(&f.message_keys(black_box(&mk), &FLOOR_SALT));
                f.p.aead_open(&key, &nonce, &f.aead_ad, buf, &tag).unwrap()
            },
            BatchSize::SmallInput,
        )
    });
    // vodozemac keeps at most 40 skipped keys per chain, so message 0 is
    // undecryptable there; its oldest kept key (message 960) is measured
    // instead, as the nearest equivalent.
    let oldest_kept = &omsgs[(SKIP - 40) as usize];
    assert_eq!(olm_decrypt(&mut olm_clone(&ob_skipped), oldest_kept), pt);
    g.bench_function("vodozemac_oldest_kept", |b| {
        b.iter_batched_ref(
            || olm_clone(&ob_skipped),
            |s| olm_decrypt(s, oldest_kept),
            HEAVY_STATE,
        )
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = config();
    targets = chain_step, encrypt, decrypt, ping_pong, skipped
}
criterion_main!(benches);
