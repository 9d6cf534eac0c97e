//! Ed25519 batch verification (spec §3.3, §12.6.1) against strict single
//! verification, on a backend the input chooses.
//!
//! Every input builds 1–8 items (see `sova_fuzz::ed25519_batch` for the
//! layout): valid signatures by fixed keys of prime and of mixed order over
//! input-chosen messages (made with fixture nonces, without a scalar
//! multiplication), each with an input-chosen edit, and the batch's random
//! bytes. The batch must accept exactly when every item passes
//! `ed25519_verify` on the same backend (soundness, and completeness
//! without exception, mixed-order keys included), refuse a wrong count of
//! random entries, and never panic. Batches of up to 8 test each `R` on
//! its own; the 128 subset sums of larger batches are covered by the
//! library's tests (`provider::common`). That the backends agree on single
//! verdicts is `provider_differential`'s check.
#![no_main]

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use curve25519_dalek::constants::EIGHT_TORSION;
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use libfuzzer_sys::fuzz_target;
use sova::provider::{CryptoProvider, Ed25519BatchItem, ED25519_KEY_LEN, ED25519_SIG_LEN};
use sova::{CryptoError, Secret};
use sova_fuzz::ed25519_batch::{BatchEdit, BATCH_MAX_ITEMS, BATCH_MAX_MESSAGE};
use sova_fuzz::{providers, Reader};

fuzz_target!(|data: &[u8]| ed25519_batch(data));

/// A key of the batch fixture: its seed-derived scalar `a` (mod ℓ), its
/// point and encoding; a mixed-order key is `[a]B + T` for a torsion point
/// `T` of order 8, signed for with `a` (below).
struct BatchKey {
    a: Scalar,
    point: EdwardsPoint,
    bytes: [u8; ED25519_KEY_LEN],
    mixed: bool,
}

/// Fixed keys, nonces and points, computed once (each a scalar
/// multiplication or more).
struct BatchFixture {
    keys: Vec<BatchKey>,
    /// `(r, R)` pairs for signing under the mixed-order keys.
    nonces: Vec<(Scalar, [u8; 32])>,
    /// The eight small-order points, encoded.
    small: [[u8; 32]; 8],
}

fn batch_fixture() -> &'static BatchFixture {
    static F: OnceLock<BatchFixture> = OnceLock::new();
    F.get_or_init(|| {
        let p = providers()[0];
        let scalar_of = |seed: &[u8; 32]| {
            let h = p.sha512(&[seed]);
            let mut a = [0u8; 32];
            a.copy_from_slice(&h[..32]);
            a[0] &= 248;
            a[31] &= 127;
            a[31] |= 64;
            Scalar::from_bytes_mod_order(a)
        };
        let mut keys = Vec::new();
        for i in 0..6u8 {
            let seed = [i + 1; 32];
            let a = scalar_of(&seed);
            let mut point = EdwardsPoint::mul_base(&a);
            let mixed = i >= 4;
            if mixed {
                point += EIGHT_TORSION[1 + 2 * usize::from(i - 4)];
            }
            let bytes = point.compress().to_bytes();
            if !mixed {
                assert_eq!(bytes, p.ed25519_public_key(&Secret::from_bytes(seed)));
            }
            keys.push(BatchKey {
                a,
                point,
                bytes,
                mixed,
            });
        }
        let nonces = (0..48u8)
            .map(|i| {
                let r = Scalar::from_bytes_mod_order_wide(&p.sha512(&[b"nonce", &[i]]));
                (r, EdwardsPoint::mul_base(&r).compress().to_bytes())
            })
            .collect();
        let small = EIGHT_TORSION.map(|t| t.compress().to_bytes());
        let fx = BatchFixture {
            keys,
            nonces,
            small,
        };
        // The mixed-order keys are what they are for: outside the
        // prime-order subgroup, yet with signatures strict verification
        // accepts (so completeness is tested on them, not vacuous).
        for key in fx.keys.iter().filter(|k| k.mixed) {
            assert!(!key.point.is_torsion_free());
            let sig = sign_mixed(&fx, key, b"fixture");
            assert_eq!(p.ed25519_verify(&key.bytes, b"fixture", &sig), Ok(()));
        }
        // The prime-order keys' signatures with fixture nonces are valid.
        for key in fx.keys.iter().filter(|k| !k.mixed) {
            for nonce in &fx.nonces {
                let sig = sign_with_nonce(nonce, key, b"fixture");
                assert_eq!(p.ed25519_verify(&key.bytes, b"fixture", &sig), Ok(()));
            }
        }
        fx
    })
}

/// A signature under a mixed-order key `[a]B + T` that strict verification
/// accepts: `S = r + h·a` is valid iff `[h]T = 0`, i.e. `h ≡ 0 (mod 8)`,
/// so the fixture's nonces are tried until `h` is (one in eight; the first
/// nonce's invalid signature if none is).
fn sign_mixed(fx: &BatchFixture, key: &BatchKey, message: &[u8]) -> [u8; ED25519_SIG_LEN] {
    let p = providers()[0];
    let mut pick = None;
    for (r, big_r) in &fx.nonces {
        let h = Scalar::from_bytes_mod_order_wide(&p.sha512(&[big_r, &key.bytes, message]));
        if pick.is_none() || h.as_bytes()[0] % 8 == 0 {
            pick = Some((*r, *big_r, h));
            if h.as_bytes()[0] % 8 == 0 {
                break;
            }
        }
    }
    let (r, big_r, h) = pick.expect("nonces");
    let s = r + h * key.a;
    let mut sig = [0u8; ED25519_SIG_LEN];
    sig[..32].copy_from_slice(&big_r);
    sig[32..].copy_from_slice(s.as_bytes());
    sig
}

/// A signature under a prime-order key with a fixture nonce: `R = [r]B`,
/// `S = r + h·a`. Valid like the signer's own (whose nonce is derived from
/// the seed and the message), without its scalar multiplication.
fn sign_with_nonce(
    (r, big_r): &(Scalar, [u8; 32]),
    key: &BatchKey,
    message: &[u8],
) -> [u8; ED25519_SIG_LEN] {
    let p = providers()[0];
    let h = Scalar::from_bytes_mod_order_wide(&p.sha512(&[big_r, &key.bytes, message]));
    let s = r + h * key.a;
    let mut sig = [0u8; ED25519_SIG_LEN];
    sig[..32].copy_from_slice(big_r);
    sig[32..].copy_from_slice(s.as_bytes());
    sig
}

/// Strict single verification on `p`, remembered: libFuzzer's inputs are
/// mutations of earlier ones, so most items recur, and the verdict is the
/// oracle here, not what is tested. (Keyed by SHA-256 of the backend's
/// name and the item; the memory is dropped when it reaches 2^16 entries.)
fn single_verdict(
    p: &dyn CryptoProvider,
    key: &[u8; ED25519_KEY_LEN],
    message: &[u8],
    sig: &[u8; ED25519_SIG_LEN],
) -> bool {
    static SEEN: Mutex<Option<HashMap<[u8; 32], bool>>> = Mutex::new(None);
    let len = (message.len() as u64).to_be_bytes();
    let id = p.sha256(&[p.name().as_bytes(), &[0], key, sig, &len, message]);
    let mut seen = SEEN.lock().unwrap();
    let seen = seen.get_or_insert_with(HashMap::new);
    if let Some(&ok) = seen.get(&id) {
        return ok;
    }
    if seen.len() >= 1 << 16 {
        seen.clear();
    }
    let ok = p.ed25519_verify(key, message, sig).is_ok();
    seen.insert(id, ok);
    ok
}

/// `x + y` for little-endian 256-bit integers (no overflow for `S + ℓ`).
fn add_256(x: &[u8; 32], y: &[u8; 32]) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut carry = 0u16;
    for i in 0..32 {
        let v = u16::from(x[i]) + u16::from(y[i]) + carry;
        out[i] = v as u8;
        carry = v >> 8;
    }
    out
}

/// ℓ, little-endian.
const ELL: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

fn ed25519_batch(data: &[u8]) {
    let mut r = Reader::new(data);
    let r = &mut r;
    let fx = batch_fixture();
    let count = 1 + usize::from(r.u8()) % BATCH_MAX_ITEMS;
    let head = r.u8();
    let lengths = head % 8;
    // The backend whose batch is checked (each input checks one: a batch
    // of the real math is the expensive part).
    let batch_provider = providers()[usize::from(head >> 3) % providers().len()];
    let mut keys: Vec<[u8; ED25519_KEY_LEN]> = Vec::with_capacity(count);
    let mut messages: Vec<Vec<u8>> = Vec::with_capacity(count);
    let mut splits: Vec<usize> = Vec::with_capacity(count);
    let mut sigs: Vec<[u8; ED25519_SIG_LEN]> = Vec::with_capacity(count);
    for _ in 0..count {
        let key = &fx.keys[usize::from(r.u8()) % fx.keys.len()];
        let edit = BatchEdit::from_byte(r.u8());
        let at = r.u8();
        let mut message = r.bytes(BATCH_MAX_MESSAGE).to_vec();
        let mut sig = if key.mixed {
            sign_mixed(fx, key, &message)
        } else {
            sign_with_nonce(&fx.nonces[usize::from(at) % fx.nonces.len()], key, &message)
        };
        let mut pk = key.bytes;
        let bit = usize::from(at);
        let torsion = EIGHT_TORSION[usize::from(at) % 8];
        match edit {
            BatchEdit::None => {}
            BatchEdit::FlipR => sig[bit / 8] ^= 1 << (bit % 8),
            BatchEdit::FlipS => sig[32 + bit / 8] ^= 1 << (bit % 8),
            BatchEdit::FlipKey => pk[bit / 8] ^= 1 << (bit % 8),
            BatchEdit::FlipMessage => match message.len() {
                0 => message.push(at),
                n => message[(bit / 8) % n] ^= 1 << (bit % 8),
            },
            BatchEdit::NonCanonicalS => {
                let s: [u8; 32] = sig[32..].try_into().unwrap();
                sig[32..].copy_from_slice(&add_256(&s, &ELL));
            }
            BatchEdit::SmallOrderKey => pk = fx.small[usize::from(at) % 8],
            BatchEdit::SmallOrderR => sig[..32].copy_from_slice(&fx.small[usize::from(at) % 8]),
            BatchEdit::TorsionKey => pk = (key.point + torsion).compress().to_bytes(),
            BatchEdit::RandomSignature => sig = r.array(),
            BatchEdit::RandomKey => pk = r.array(),
            BatchEdit::TorsionR => {
                let big_r: [u8; 32] = sig[..32].try_into().unwrap();
                if let Some(point) = CompressedEdwardsY(big_r).decompress() {
                    sig[..32].copy_from_slice(&(point + torsion).compress().to_bytes());
                }
            }
        }
        splits.push(usize::from(at) % (message.len() + 1));
        keys.push(pk);
        messages.push(message);
        sigs.push(sig);
    }
    let entries = match lengths {
        0 => count + 1,
        1 => count - 1,
        _ => count,
    };
    let random: Vec<[u8; 32]> = (0..entries).map(|_| r.array()).collect();
    let parts: Vec<[&[u8]; 2]> = messages
        .iter()
        .zip(&splits)
        .map(|(m, &at)| {
            let (a, b) = m.split_at(at);
            [a, b]
        })
        .collect();
    let items: Vec<Ed25519BatchItem<'_>> = (0..count)
        .map(|i| Ed25519BatchItem {
            public_key: &keys[i],
            message: &parts[i],
            signature: &sigs[i],
        })
        .collect();
    // Strict single verification (on the backend under test;
    // `provider_differential` checks that the backends agree on it).
    let p = batch_provider;
    let singles: Vec<bool> = (0..count)
        .map(|i| single_verdict(p, &keys[i], &messages[i], &sigs[i]))
        .collect();
    let all_pass = singles.iter().all(|&ok| ok);
    {
        let batch = p.ed25519_verify_batch(&items, &random);
        if entries != count {
            assert_eq!(
                batch,
                Err(CryptoError::InvalidSignature),
                "{}: batch with {entries} random entries for {count} items accepted",
                p.name()
            );
        } else if batch.is_ok() {
            assert!(
                all_pass,
                "{}: batch accepted items strict verification refuses: {singles:?}",
                p.name()
            );
        } else {
            assert_eq!(batch, Err(CryptoError::InvalidSignature));
            assert!(
                !all_pass,
                "{}: batch refused items that each pass strict verification",
                p.name()
            );
        }
    }
}
