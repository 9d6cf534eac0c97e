//! Per-primitive comparison of the two symmetric backends: *ring* and RustCrypto.
//!
//! The default provider ([`RingProvider`]) takes each symmetric primitive from
//! whichever library is faster here; these benchmarks are the evidence (see
//! `benches/RESULTS.md`). Where a provider uses a library, the primitive is
//! called through that provider; where no provider uses it (*ring*'s HMAC and
//! HKDF), the library is called directly with the same inputs.
//!
//! Run: `cargo bench --bench primitives --features backend-rustcrypto`
//! (the RustCrypto backend is not a default feature).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use sova::provider::{CryptoProvider, RingProvider, RustCryptoProvider};
use sova::Secret;

/// The inputs Sova's ratchet actually feeds HMAC: a 32-byte key and an
/// encoded label of a dozen bytes (`KDF_CK`), or 32 bytes of DH output plus a
/// label (`KDF_RK`'s extract).
const SHORT_MSG: &[u8] = b"\x0cSOVA-1 chain";

fn config() -> Criterion {
    Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

/// SHA-256 of 64 B and 1 KiB: *ring* (default) vs RustCrypto `sha2`.
fn sha256(c: &mut Criterion) {
    let mut g = c.benchmark_group("sha256");
    for len in [64usize, 1024] {
        let data = vec![0x5a; len];
        g.throughput(Throughput::Bytes(len as u64));
        g.bench_with_input(BenchmarkId::new("ring", len), &data, |b, d| {
            b.iter(|| RingProvider.sha256(&[black_box(d)]))
        });
        g.bench_with_input(BenchmarkId::new("rustcrypto", len), &data, |b, d| {
            b.iter(|| RustCryptoProvider.sha256(&[black_box(d)]))
        });
    }
    g.finish();
}

/// HMAC-SHA-256 with a fresh 32-byte key per call (as every ratchet step has):
/// *ring*'s `hmac` vs RustCrypto `hmac` (what both providers use).
fn hmac_sha256(c: &mut Criterion) {
    let mut g = c.benchmark_group("hmac_sha256");
    let key = [0x42u8; 32];
    let long = vec![0x5a; 1024];
    for (name, msg) in [("13B", SHORT_MSG), ("1KiB", long.as_slice())] {
        g.throughput(Throughput::Bytes(msg.len() as u64));
        g.bench_with_input(BenchmarkId::new("ring", name), msg, |b, m| {
            b.iter(|| {
                let k = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, black_box(&key));
                let tag = ring::hmac::sign(&k, black_box(m));
                let mut out = [0u8; 32];
                out.copy_from_slice(tag.as_ref());
                out
            })
        });
        g.bench_with_input(BenchmarkId::new("rustcrypto", name), msg, |b, m| {
            b.iter(|| RustCryptoProvider.hmac_sha256(black_box(&key), &[black_box(m)]))
        });
    }
    g.finish();
}

/// The output length handed to *ring*'s HKDF-Expand.
struct OutLen(usize);

impl ring::hkdf::KeyType for OutLen {
    fn len(&self) -> usize {
        self.0
    }
}

/// HKDF-SHA-256 as the ratchet uses it: Expand of 44 bytes (`MessageKeys`)
/// and Extract + Expand of 96 bytes (`KDF_RK`), each starting from key bytes.
fn hkdf(c: &mut Criterion) {
    let mut g = c.benchmark_group("hkdf_sha256");
    let prk_bytes = [0x42u8; 32];
    let prk = Secret::from_bytes(prk_bytes);
    let info: &[u8] = b"\x13SOVA-1 message keys\x00\x2c";
    let salt = [0x17u8; 32];
    let dh = [0x23u8; 32];
    let label: &[u8] = b"\x0bSOVA-1 root";

    g.bench_function("expand44/ring", |b| {
        b.iter(|| {
            let prk =
                ring::hkdf::Prk::new_less_safe(ring::hkdf::HKDF_SHA256, black_box(&prk_bytes));
            let mut out = [0u8; 44];
            let infos = [black_box(info)];
            if let Ok(okm) = prk.expand(&infos, OutLen(44)) {
                let _ = okm.fill(&mut out);
            }
            out
        })
    });
    g.bench_function("expand44/rustcrypto", |b| {
        b.iter(|| {
            let mut out = [0u8; 44];
            let _ = RustCryptoProvider.hkdf_expand(black_box(&prk), &[black_box(info)], &mut out);
            out
        })
    });
    g.bench_function("extract+expand96/ring", |b| {
        b.iter(|| {
            let salt = ring::hkdf::Salt::new(ring::hkdf::HKDF_SHA256, black_box(&salt));
            // ring's extract takes one contiguous input; the label and DH
            // output are 44 bytes, copied onto the stack.
            let mut ikm = [0u8; 44];
            ikm[..12].copy_from_slice(label);
            ikm[12..].copy_from_slice(black_box(&dh));
            let prk = salt.extract(&ikm);
            let mut out = [0u8; 96];
            let infos = [label, &[0u8, 96][..]];
            if let Ok(okm) = prk.expand(&infos, OutLen(96)) {
                let _ = okm.fill(&mut out);
            }
            out
        })
    });
    g.bench_function("extract+expand96/rustcrypto", |b| {
        b.iter(|| {
            let prk = RustCryptoProvider.hkdf_extract(black_box(&salt), &[label, black_box(&dh)]);
            let mut out = [0u8; 96];
            let _ = RustCryptoProvider.hkdf_expand(&prk, &[label, &[0u8, 96]], &mut out);
            out
        })
    });
    g.finish();
}

/// ChaCha20-Poly1305 seal and open of 16 B, 1 KiB and 64 KiB with 48 bytes of
/// associated data (about a plain-header message's).
fn chacha20poly1305(c: &mut Criterion) {
    let key = Secret::from_bytes([0x42u8; 32]);
    let nonce = [0x24u8; 12];
    let aad = [0x11u8; 48];
    let providers: [&dyn CryptoProvider; 2] = [&RingProvider, &RustCryptoProvider];
    let mut g = c.benchmark_group("chacha20poly1305_seal");
    for len in [16usize, 1024, 65536] {
        g.throughput(Throughput::Bytes(len as u64));
        for p in providers {
            let mut buf = vec![0x5au8; len];
            g.bench_function(BenchmarkId::new(p.name(), len), |b| {
                b.iter(|| p.aead_seal(&key, &nonce, black_box(&aad), black_box(&mut buf)))
            });
        }
    }
    g.finish();

    let mut g = c.benchmark_group("chacha20poly1305_open");
    for len in [16usize, 1024, 65536] {
        g.throughput(Throughput::Bytes(len as u64));
        for p in providers {
            let mut ct = vec![0x5au8; len];
            let tag = p.aead_seal(&key, &nonce, &aad, &mut ct);
            g.bench_function(BenchmarkId::new(p.name(), len), |b| {
                // Opening decrypts in place: each iteration gets a fresh copy
                // of the ciphertext, made outside the timed section.
                b.iter_batched_ref(
                    || ct.clone(),
                    |buf| {
                        let r = p.aead_open(&key, &nonce, black_box(&aad), buf, &tag);
                        assert!(r.is_ok());
                    },
                    BatchSize::SmallInput,
                )
            });
        }
    }
    g.finish();
}

/// X25519 is the same code (x25519-dalek) in both providers; measured for
/// reference, since it dominates a ratchet round trip.
fn x25519(c: &mut Criterion) {
    let mut g = c.benchmark_group("x25519");
    let sk = Secret::from_bytes([0x42u8; 32]);
    let pk = RingProvider.x25519_public_key(&Secret::from_bytes([0x24u8; 32]));
    g.bench_function("public_key", |b| {
        b.iter(|| RingProvider.x25519_public_key(black_box(&sk)))
    });
    g.bench_function("dh", |b| {
        b.iter(|| RingProvider.x25519(black_box(&sk), black_box(&pk)))
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = config();
    targets = sha256, hmac_sha256, hkdf, chacha20poly1305, x25519
}
criterion_main!(benches);
