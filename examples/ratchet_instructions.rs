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
//! Operations (each run 200 times; divide the total by 200), with the
//! function to collect:
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
    let n = 200;
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
        _ => {
            eprintln!(
                "usage: ratchet_instructions dec|floor_dec|enc|floor_enc|early|floor_early LEN"
            );
            std::process::exit(2);
        }
    }
    println!("{total}");
}
