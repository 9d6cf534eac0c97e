//! Devices (spec §11): fan-out and device-list verification against their
//! primitive floors.
//!
//! * `fanout/*` — one 1 KiB message to a person with N devices (5 and 50),
//!   on established sessions (plain headers), in three columns:
//!   - `sova`: [`fanout::encrypt`], wire bytes out;
//!   - `floor`: only the primitive calls it needs, through the same
//!     provider, with labels encoded and buffers allocated in advance: the
//!     body key drawn (32 random bytes) and expanded (HKDF-Expand of 44
//!     bytes), one ChaCha20-Poly1305 seal of the padded body, the digest
//!     (one SHA-256 of header and body), then N ratchet encryptions of the
//!     65-byte key message exactly as `benches/ratchet.rs`'s floor makes one
//!     (16-byte salt draw, `KDF_CK`, `MessageKeys`, seal of the padded 65
//!     bytes);
//!   - `per_device`: what fan-out replaces, N full ratchet encryptions of
//!     the 1 KiB message ([`Conversation::encrypt`]).
//! * `device_list_verify/*` — a device list of 5 and of 50 devices,
//!   accepted as a person's first list ([`KnownUser::new`]: parse, strict
//!   Ed25519 verification, consistency, `ListHash`) against its floor: one
//!   strict Ed25519 verification of the same signed bytes and one SHA-256
//!   of the whole list.
//!
//! Run: `cargo bench --bench devices`. Results are in `benches/RESULTS.md`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rand_chacha::rand_core::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use sova::devices::{fanout, DeviceEntry, KnownUser, UserKey};
use sova::kdf::encode_label;
use sova::labels;
use sova::ratchet::padding::padded_len;
use sova::ratchet::HeaderMode;
use sova::session::{Account, Conversation};
use sova::{CryptoProvider, DefaultProvider, Secret};

type Key = Secret<32>;

/// Numbers of recipient devices.
const DEVICES: [usize; 2] = [5, 50];
/// Plaintext length of a fan-out message.
const MESSAGE_LEN: usize = 1024;
/// Length of the key message (spec §11.6).
const KEY_MESSAGE_LEN: usize = 65;
/// Length of the session associated data of the ratchet floor.
const SESSION_AD_LEN: usize = 64;
/// Prefix of a plain-header ratchet message (version, type, header).
const PLAIN_PREFIX_LEN: usize = sova::ratchet::message::PLAIN_PREFIX_LEN;

fn config() -> Criterion {
    Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

fn rng() -> ChaCha20Rng {
    ChaCha20Rng::from_seed([0xd5; 32])
}

// ---------------------------------------------------------------------------
// Set-up

/// Alice's one device and Bob's `n` devices, with established sessions
/// from Alice's device to each (both sides have spoken once, and Alice's
/// sending chain has taken its DH step).
struct Setup {
    alice_list: KnownUser,
    bob_list: KnownUser,
    conversations: Vec<Conversation>,
}

fn entry(id: u32, a: &Account) -> DeviceEntry {
    DeviceEntry {
        device_id: id,
        identity: a.identity_key(),
        admin: id == 1,
    }
}

fn setup(r: &mut ChaCha20Rng, n: usize) -> Setup {
    let alice_uk = UserKey::generate(r).unwrap();
    let bob_uk = UserKey::generate(r).unwrap();
    let alice = Account::new(r).unwrap();
    let alice_list = alice_uk.sign_list(1, &[entry(1, &alice)]).unwrap();
    let mut bobs: Vec<Account> = (0..n).map(|_| Account::new(r).unwrap()).collect();
    let entries: Vec<_> = bobs
        .iter()
        .enumerate()
        .map(|(i, a)| entry(i as u32 + 1, a))
        .collect();
    let bob_list = bob_uk.sign_list(1, &entries).unwrap();
    let mut conversations = Vec::new();
    for bob in &mut bobs {
        let b = bob.bundle(None, None).unwrap().to_bytes();
        let mut to_bob =
            Conversation::start(&alice, &mut *r, &bob.identity_key(), &b, HeaderMode::Plain)
                .unwrap();
        let mut to_alice = Conversation::new(alice.identity_key());
        let m = to_bob.encrypt(&mut *r, b"hello").unwrap();
        to_alice.decrypt(bob, &m).unwrap();
        let reply = to_alice.encrypt(&mut *r, b"hi").unwrap();
        let mut alice_copy = Account::from_bytes(&alice.to_bytes()).unwrap();
        to_bob.decrypt(&mut alice_copy, &reply).unwrap();
        let _ = to_bob.encrypt(&mut *r, b"x").unwrap(); // the DH step of the new chain
        conversations.push(to_bob);
    }
    Setup {
        alice_list: KnownUser::from_list(alice_list),
        bob_list: KnownUser::from_list(bob_list),
        conversations,
    }
}

fn copies(c: &[Conversation]) -> Vec<Conversation> {
    c.iter()
        .map(|c| Conversation::from_bytes(&c.to_bytes()).unwrap())
        .collect()
}

// ---------------------------------------------------------------------------
// The primitive floor

/// The primitive calls of fan-out, with every label encoded once in
/// advance; the per-device part is `benches/ratchet.rs`'s `Floor::encrypt`.
struct Floor {
    p: DefaultProvider,
    chain_label: Vec<u8>,
    message_label: Vec<u8>,
    message_keys_info: Vec<u8>,
    /// `u16(len(ad)) || ad || prefix` of a plain-header message.
    aead_ad: Vec<u8>,
    /// `EncodeLabel("fan-out body") || u16(44)`.
    body_info: Vec<u8>,
    /// `EncodeLabel("fan-out digest")`.
    digest_label: Vec<u8>,
}

impl Floor {
    fn new() -> Self {
        let mut aead_ad = (SESSION_AD_LEN as u16).to_be_bytes().to_vec();
        aead_ad.extend((0..SESSION_AD_LEN as u8).collect::<Vec<_>>());
        aead_ad.extend([0x33; PLAIN_PREFIX_LEN]);
        let mut message_keys_info = encode_label(labels::MESSAGE_KEYS).unwrap();
        message_keys_info.extend(44u16.to_be_bytes());
        let mut body_info = encode_label(labels::FANOUT_BODY).unwrap();
        body_info.extend(44u16.to_be_bytes());
        Self {
            p: DefaultProvider::default(),
            chain_label: encode_label(labels::CHAIN).unwrap(),
            message_label: encode_label(labels::MESSAGE).unwrap(),
            message_keys_info,
            aead_ad,
            body_info,
            digest_label: encode_label(labels::FANOUT_DIGEST).unwrap(),
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

    fn aead_key(okm: &Secret<44>) -> (Key, [u8; 12]) {
        let mut key = Key::zero();
        key.expose_mut().copy_from_slice(&okm.expose()[..32]);
        let mut nonce = [0u8; 12];
        nonce.copy_from_slice(&okm.expose()[32..]);
        (key, nonce)
    }

    /// One ratchet encryption (`benches/ratchet.rs`): the salt draw, chain
    /// step, message keys and seal of `buf` (already padded).
    #[inline(never)]
    fn encrypt(&self, rng: &mut ChaCha20Rng, ck: &Key, buf: &mut [u8]) -> (Key, [u8; 16]) {
        let mut salt = [0u8; 16];
        rng.fill_bytes(&mut salt);
        let (next, mk) = self.chain_step(ck);
        let (key, nonce) = Self::aead_key(&self.message_keys(&mk, &salt));
        let tag = self.p.aead_seal(&key, &nonce, &self.aead_ad, buf);
        (next, tag)
    }

    /// The fan-out: body key, one seal of the padded body, the digest, and
    /// one ratchet encryption of the key message per device.
    #[inline(never)]
    fn fanout(
        &self,
        rng: &mut ChaCha20Rng,
        header: &[u8],
        body: &mut [u8],
        cks: &mut [Key],
        key_messages: &mut [Vec<u8>],
    ) -> [u8; 32] {
        let mut bk = Key::zero();
        rng.fill_bytes(bk.expose_mut());
        let mut okm = Secret::<44>::zero();
        self.p
            .hkdf_expand(&bk, &[&self.body_info], okm.expose_mut())
            .unwrap();
        let (key, nonce) = Self::aead_key(&okm);
        let tag = self.p.aead_seal(&key, &nonce, header, body);
        let digest = self.p.sha256(&[&self.digest_label, header, body, &tag]);
        for (ck, km) in cks.iter_mut().zip(key_messages.iter_mut()) {
            km[0] = 0x01;
            km[1..33].copy_from_slice(bk.expose());
            km[33..65].copy_from_slice(&digest);
            let (next, _) = self.encrypt(rng, ck, km);
            *ck = next;
        }
        digest
    }
}

// ---------------------------------------------------------------------------
// Benchmarks

fn fanout_1kib(c: &mut Criterion) {
    let f = Floor::new();
    let mut g = c.benchmark_group("fanout");
    let mut r = rng();
    let pt = vec![0x61u8; MESSAGE_LEN];
    for n in DEVICES {
        let s = setup(&mut r, n);
        let mut fan = copies(&s.conversations);
        let mut each = copies(&s.conversations);
        g.throughput(Throughput::Elements(n as u64));
        g.bench_function(BenchmarkId::new("sova", n), |b| {
            b.iter(|| {
                let mut targets: Vec<fanout::Target<'_>> = fan
                    .iter_mut()
                    .enumerate()
                    .map(|(i, conversation)| fanout::Target {
                        audience: fanout::Audience::Recipient,
                        device_id: i as u32 + 1,
                        conversation,
                    })
                    .collect();
                fanout::encrypt(
                    &s.alice_list,
                    1,
                    &s.bob_list,
                    &mut targets,
                    black_box(&pt),
                    &mut r,
                )
                .unwrap()
            })
        });
        let header = [0x20u8; fanout::FANOUT_HEADER_LEN];
        let mut body = vec![0x61u8; padded_len(MESSAGE_LEN)];
        let mut cks: Vec<Key> = (0..n).map(|i| Key::from_bytes([i as u8; 32])).collect();
        let mut kms: Vec<Vec<u8>> = (0..n)
            .map(|_| vec![0u8; padded_len(KEY_MESSAGE_LEN)])
            .collect();
        let mut frng = rng();
        g.bench_function(BenchmarkId::new("floor", n), |b| {
            b.iter(|| {
                f.fanout(
                    &mut frng,
                    black_box(&header),
                    black_box(&mut body),
                    &mut cks,
                    &mut kms,
                )
            })
        });
        g.bench_function(BenchmarkId::new("per_device", n), |b| {
            b.iter(|| {
                each.iter_mut()
                    .map(|c| c.encrypt(&mut r, black_box(&pt)).unwrap())
                    .collect::<Vec<_>>()
            })
        });
    }
    g.finish();
}

fn device_list_verify(c: &mut Criterion) {
    let p = DefaultProvider::default();
    let mut g = c.benchmark_group("device_list_verify");
    let mut r = rng();
    let uk = UserKey::generate(&mut r).unwrap();
    let label = encode_label(labels::DEVICE_LIST).unwrap();
    let hash_label = encode_label(labels::DEVICE_LIST_HASH).unwrap();
    for n in DEVICES {
        let entries: Vec<DeviceEntry> = (0..n)
            .map(|i| {
                let mut identity = [0u8; 64];
                r.fill_bytes(&mut identity);
                DeviceEntry {
                    device_id: i as u32 + 1,
                    identity,
                    admin: i == 0,
                }
            })
            .collect();
        let list = uk.sign_list(7, &entries).unwrap();
        let bytes = list.to_bytes().to_vec();
        g.bench_function(BenchmarkId::new("sova", n), |b| {
            b.iter(|| KnownUser::new(uk.public(), black_box(&bytes)).unwrap())
        });
        // The floor's inputs: the signed message and the signature, split
        // in advance.
        let (signed, sig) = bytes.split_at(bytes.len() - 64);
        let mut message = label.clone();
        message.extend_from_slice(signed);
        let sig: [u8; 64] = sig.try_into().unwrap();
        g.bench_function(BenchmarkId::new("floor", n), |b| {
            b.iter(|| {
                p.ed25519_verify(uk.public(), black_box(&message), &sig)
                    .unwrap();
                p.sha256(&[&hash_label, black_box(&bytes)])
            })
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = config();
    targets = fanout_1kib, device_list_verify
}
criterion_main!(benches);
