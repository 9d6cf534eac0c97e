//! Instruction counts of the ratchet's message operations against their
//! primitive floors (the floors of `benches/ratchet.rs`), for callgrind:
//! counts do not depend on the machine's load, wall-clock times do.
//!
//! ```text
//! cargo build --release --example ratchet_instructions
//! valgrind --tool=callgrind --toggle-collect='*sova_decrypt*' \
//!     target/release/examples/ratchet_instructions dec 16
//! ```
//!
//! Operations (each run 200 times, or `N` times with the environment
//! variable `N` set, e.g. for a `perf` profile; divide the total by the
//! count), with the function to collect:
//!
//! | argument | measures | collect |
//! |---|---|---|
//! | `dec LEN` | in-place decryption of in-order messages | `sova_decrypt` |
//! | `floor_dec LEN` | its floor: 2 HMAC, HKDF-Expand of 44 bytes, open | `floor_decrypt` |
//! | `enc LEN` | in-place encryption | `sova_encrypt` |
//! | `floor_enc LEN` | its floor: salt draw, 2 HMAC, HKDF-Expand, seal | `floor_encrypt` |
//! | `early LEN` | the earliest stored of 1,000 skipped keys, repeatedly | `sova_decrypt` |
//! | `floor_early LEN` | its floor: HKDF-Expand of 44 bytes, open | `floor_early` |
//!
//! `wall_dec LEN`, `wall_enc LEN` and `wall_early LEN` time the same
//! operations natively instead, alternating batches of 16 operations of
//! Sova and of the floor and taking the median batch of each: on a loaded
//! machine both sides see the same load, and preempted batches fall out.
//!
//! Under valgrind SHA-256 runs its portable code (no SHA extensions), so
//! the floors weigh more in instructions than in time natively: compare
//! the differences, not the ratios.

#![allow(clippy::unwrap_used, clippy::too_many_arguments)]
use rand_chacha::rand_core::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use sova::kdf::encode_label;
use sova::labels;
use sova::ratchet::message::PLAIN_PREFIX_LEN;
use sova::ratchet::{HeaderMode, Ratchet};
use sova::{CryptoProvider, DefaultProvider, Secret};
use std::hint::black_box;

#[inline(never)]
fn floor_decrypt(
    p: &DefaultProvider,
    ck: &Secret<32>,
    cl: &[u8],
    ml: &[u8],
    info: &[u8],
    ad: &[u8],
    buf: &mut [u8],
    tag: &[u8; 16],
) -> Secret<32> {
    let next = p.hmac_sha256(ck.expose(), &[cl]);
    let mk = p.hmac_sha256(ck.expose(), &[ml]);
    let mut okm = Secret::<44>::zero();
    p.hkdf_expand(&mk, &[info, &[0x5c; 16]], okm.expose_mut())
        .unwrap();
    let mut key = Secret::<32>::zero();
    key.expose_mut().copy_from_slice(&okm.expose()[..32]);
    let mut nonce = [0u8; 12];
    nonce.copy_from_slice(&okm.expose()[32..]);
    p.aead_open(&key, &nonce, ad, buf, tag).unwrap();
    next
}

#[inline(never)]
fn floor_early(
    p: &DefaultProvider,
    mk: &Secret<32>,
    info: &[u8],
    ad: &[u8],
    buf: &mut [u8],
    tag: &[u8; 16],
) {
    let mut okm = Secret::<44>::zero();
    p.hkdf_expand(mk, &[info, &[0x5c; 16]], okm.expose_mut())
        .unwrap();
    let mut key = Secret::<32>::zero();
    key.expose_mut().copy_from_slice(&okm.expose()[..32]);
    let mut nonce = [0u8; 12];
    nonce.copy_from_slice(&okm.expose()[32..]);
    p.aead_open(&key, &nonce, ad, buf, tag).unwrap();
}

#[inline(never)]
fn floor_encrypt(
    p: &DefaultProvider,
    r: &mut ChaCha20Rng,
    ck: &Secret<32>,
    cl: &[u8],
    ml: &[u8],
    info: &[u8],
    ad: &[u8],
    buf: &mut [u8],
    fixed: Option<[u8; 16]>,
) -> (Secret<32>, [u8; 16]) {
    let mut salt = [0u8; 16];
    r.fill_bytes(&mut salt);
    if let Some(f) = fixed {
        salt = f;
    }
    let next = p.hmac_sha256(ck.expose(), &[cl]);
    let mk = p.hmac_sha256(ck.expose(), &[ml]);
    let mut okm = Secret::<44>::zero();
    p.hkdf_expand(&mk, &[info, &salt], okm.expose_mut())
        .unwrap();
    let mut key = Secret::<32>::zero();
    key.expose_mut().copy_from_slice(&okm.expose()[..32]);
    let mut nonce = [0u8; 12];
    nonce.copy_from_slice(&okm.expose()[32..]);
    let tag = p.aead_seal(&key, &nonce, ad, buf);
    (next, tag)
}

#[inline(never)]
fn sova_decrypt(bob: &mut Ratchet, m: &mut [u8]) -> usize {
    bob.decrypt_in_place(m).unwrap().len()
}

#[inline(never)]
fn sova_encrypt(alice: &mut Ratchet, r: &mut ChaCha20Rng, buf: &mut Vec<u8>) {
    alice.encrypt_in_place(r, buf).unwrap()
}

fn main() {
    let which = std::env::args().nth(1).unwrap_or_default();
    let len: usize = std::env::args()
        .nth(2)
        .and_then(|l| l.parse().ok())
        .unwrap_or(16);
    let n: usize = std::env::var("N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let mut r = ChaCha20Rng::from_seed([0x5e; 32]);
    let p = DefaultProvider::default();
    let bob_private = Secret::from_bytes([9; 32]);
    let bob_public = p.x25519_public_key(&bob_private);
    let secret = Secret::from_bytes([7; 32]);
    let ad: Vec<u8> = (0..64u8).collect();
    let mut alice = Ratchet::initiator(&secret, bob_public, &ad, HeaderMode::Plain).unwrap();
    let mut bob = Ratchet::responder(&secret, bob_private, &ad, HeaderMode::Plain).unwrap();
    let m = alice.encrypt(&mut r, b"hello").unwrap();
    bob.decrypt(&m).unwrap();
    let m = bob.encrypt(&mut r, b"hi").unwrap();
    alice.decrypt(&m).unwrap();
    let pt = vec![0x61u8; len];
    let cl = encode_label(labels::CHAIN).unwrap();
    let ml = encode_label(labels::MESSAGE).unwrap();
    let mut info = encode_label(labels::MESSAGE_KEYS).unwrap();
    info.extend(44u16.to_be_bytes());
    let mut aead_ad = 64u16.to_be_bytes().to_vec();
    aead_ad.extend(&ad);
    aead_ad.extend([0x33; PLAIN_PREFIX_LEN]);
    let plen = sova::ratchet::padding::padded_len(len);
    let mut total = 0;
    match which.as_str() {
        "dec" => {
            // The first message of Alice's new chain carries the DH step.
            let m = alice.encrypt(&mut r, b"x").unwrap();
            bob.decrypt(&m).unwrap();
            let mut msgs: Vec<Vec<u8>> = (0..n)
                .map(|_| alice.encrypt(&mut r, &pt).unwrap())
                .collect();
            for m in msgs.iter_mut() {
                total += sova_decrypt(&mut bob, m);
            }
        }
        "floor_dec" => {
            let ck = Secret::from_bytes([0x42; 32]);
            let mut ct = vec![0x5a; plen];
            let (_, tag) = floor_encrypt(
                &p,
                &mut ChaCha20Rng::from_seed([0; 32]),
                &ck,
                &cl,
                &ml,
                &info,
                &aead_ad,
                &mut ct,
                Some([0x5c; 16]),
            );
            for _ in 0..n {
                let mut buf = ct.clone();
                let next = floor_decrypt(&p, &ck, &cl, &ml, &info, &aead_ad, &mut buf, &tag);
                total += buf.len() + next.expose()[0] as usize;
            }
        }
        "early" => {
            // 1001 messages; the last first, then the earliest stored each time.
            let mut msgs: Vec<Vec<u8>> = (0..=1000)
                .map(|_| alice.encrypt(&mut r, &pt).unwrap())
                .collect();
            let mut last = msgs.pop().unwrap();
            bob.decrypt_in_place(&mut last).unwrap();
            for m in msgs.iter_mut().take(n) {
                total += sova_decrypt(&mut bob, m);
            }
        }
        "floor_early" => {
            let ck = Secret::from_bytes([0x42; 32]);
            let mk = p.hmac_sha256(ck.expose(), &[&ml]);
            let mut ct = vec![0x5a; plen];
            let (_, tag) = floor_encrypt(
                &p,
                &mut ChaCha20Rng::from_seed([0; 32]),
                &ck,
                &cl,
                &ml,
                &info,
                &aead_ad,
                &mut ct,
                Some([0x5c; 16]),
            );
            for _ in 0..n {
                let mut buf = ct.clone();
                floor_early(&p, &mk, &info, &aead_ad, &mut buf, &tag);
                total += buf.len();
            }
        }
        "enc" => {
            alice.encrypt(&mut r, b"x").unwrap();
            for _ in 0..n {
                let mut buf = Vec::with_capacity(alice.message_len(len));
                buf.resize(PLAIN_PREFIX_LEN, 0);
                buf.extend_from_slice(&pt);
                sova_encrypt(&mut alice, &mut r, &mut buf);
                total += buf.len();
            }
        }
        "floor_enc" => {
            let mut ck = Secret::from_bytes([0x42; 32]);
            for _ in 0..n {
                let mut buf = vec![0x5a; plen];
                let (next, tag) =
                    floor_encrypt(&p, &mut r, &ck, &cl, &ml, &info, &aead_ad, &mut buf, None);
                ck = next;
                total += buf.len() + tag[0] as usize;
            }
        }
        "wall_dec" | "wall_enc" | "wall_early" => {
            wall(
                &which, len, &mut alice, &mut bob, &mut r, &p, &cl, &ml, &info, &aead_ad,
            );
            return;
        }
        _ => {
            eprintln!(
                "usage: ratchet_instructions dec|floor_dec|enc|floor_enc|early|floor_early LEN"
            );
            std::process::exit(2);
        }
    }
    println!("{total}");
}

/// Median of `v` (sorted in place).
fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

/// Native nanoseconds per operation, Sova against its floor, in alternating batches.
fn wall(
    which: &str,
    len: usize,
    alice: &mut Ratchet,
    bob: &mut Ratchet,
    r: &mut ChaCha20Rng,
    p: &DefaultProvider,
    cl: &[u8],
    ml: &[u8],
    info: &[u8],
    aead_ad: &[u8],
) {
    use std::time::Instant;
    const BATCH: usize = 16;
    let rounds = if len > 4096 { 300 } else { 3000 };
    let pt = vec![0x61u8; len];
    let plen = sova::ratchet::padding::padded_len(len);
    let ck = Secret::from_bytes([0x42; 32]);
    let mut ct = vec![0x5a; plen];
    let (_, tag) = floor_encrypt(
        p,
        &mut ChaCha20Rng::from_seed([0; 32]),
        &ck,
        cl,
        ml,
        info,
        aead_ad,
        &mut ct,
        Some([0x5c; 16]),
    );
    let mk = p.hmac_sha256(ck.expose(), &[ml]);
    let (mut sova_t, mut floor_t) = (Vec::new(), Vec::new());
    let m = alice.encrypt(r, b"x").unwrap();
    bob.decrypt(&m).unwrap();
    let mut early_left = 0usize;
    let mut early_msgs: Vec<Vec<u8>> = Vec::new();
    for _ in 0..rounds {
        // Sova, inputs made outside the timed part.
        match which {
            "wall_dec" => {
                let mut msgs: Vec<Vec<u8>> =
                    (0..BATCH).map(|_| alice.encrypt(r, &pt).unwrap()).collect();
                let t = Instant::now();
                for m in msgs.iter_mut() {
                    black_box(sova_decrypt(bob, m));
                }
                sova_t.push(t.elapsed().as_nanos() as f64 / BATCH as f64);
            }
            "wall_early" => {
                if early_left < BATCH {
                    // 1,009 more messages, the last received first: 1,008
                    // stored keys (a multiple of the batch, so that none is
                    // left behind the next run), each used earliest first.
                    let mut ms: Vec<Vec<u8>> = (0..=63 * BATCH)
                        .map(|_| alice.encrypt(r, &pt).unwrap())
                        .collect();
                    let mut last = ms.pop().unwrap();
                    bob.decrypt_in_place(&mut last).unwrap();
                    ms.reverse();
                    early_msgs = ms;
                    early_left = early_msgs.len();
                }
                let mut msgs: Vec<Vec<u8>> =
                    (0..BATCH).map(|_| early_msgs.pop().unwrap()).collect();
                early_left -= BATCH;
                let t = Instant::now();
                for m in msgs.iter_mut() {
                    black_box(sova_decrypt(bob, m));
                }
                sova_t.push(t.elapsed().as_nanos() as f64 / BATCH as f64);
            }
            _ => {
                let mut bufs: Vec<Vec<u8>> = (0..BATCH)
                    .map(|_| {
                        let mut b = Vec::with_capacity(alice.message_len(len));
                        b.resize(PLAIN_PREFIX_LEN, 0);
                        b.extend_from_slice(&pt);
                        b
                    })
                    .collect();
                let t = Instant::now();
                for b in bufs.iter_mut() {
                    sova_encrypt(alice, r, b);
                }
                sova_t.push(t.elapsed().as_nanos() as f64 / BATCH as f64);
            }
        }
        // The floor.
        let mut bufs: Vec<Vec<u8>> = (0..BATCH).map(|_| ct.clone()).collect();
        let t = Instant::now();
        for b in bufs.iter_mut() {
            match which {
                "wall_dec" => {
                    black_box(floor_decrypt(p, &ck, cl, ml, info, aead_ad, b, &tag));
                }
                "wall_early" => floor_early(p, &mk, info, aead_ad, b, &tag),
                _ => {
                    black_box(floor_encrypt(p, r, &ck, cl, ml, info, aead_ad, b, None));
                }
            }
        }
        floor_t.push(t.elapsed().as_nanos() as f64 / BATCH as f64);
    }
    let (s, f) = (median(&mut sova_t), median(&mut floor_t));
    println!(
        "{which} {len}: sova {s:.0} ns, floor {f:.0} ns, ratio {:.3}",
        s / f
    );
}
