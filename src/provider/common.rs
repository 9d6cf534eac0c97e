//! Primitives shared by both backends: the asymmetric ones (x25519-dalek,
//! ed25519-dalek, libcrux-ml-kem) and RustCrypto's HMAC/HKDF, which measured
//! faster than *ring*'s on the reference machine.

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use hmac::{KeyInit, Mac};
use libcrux_ml_kem::mlkem768;
use sha2::Sha256;
use subtle::ConstantTimeEq;
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::Zeroize;

use super::{
    MlKemKeyPair, ED25519_KEY_LEN, ED25519_SIG_LEN, HASH_LEN, HKDF_MAX_OUTPUT, MLKEM_CT_LEN,
    MLKEM_DK_LEN, MLKEM_EK_LEN, MLKEM_SEED_LEN, MLKEM_SS_LEN, X25519_LEN,
};
use crate::error::CryptoError;
use crate::secret::Secret;

type HmacSha256 = hmac::Hmac<Sha256>;

/// SHA-256 over RustCrypto's `sha2` (SHA-NI where the CPU has it).
pub(super) fn sha256(parts: &[&[u8]]) -> [u8; HASH_LEN] {
    use sha2::Digest;
    let mut h = Sha256::new();
    for part in parts {
        h.update(part);
    }
    h.finalize().into()
}

pub(super) fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> Secret<HASH_LEN> {
    // HMAC accepts keys of any length (RFC 2104 §2), so this cannot fail.
    let mut mac = match <HmacSha256 as KeyInit>::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => unreachable_hmac(),
    };
    for part in parts {
        mac.update(part);
    }
    let mut out = Secret::zero();
    out.expose_mut()
        .copy_from_slice(&mac.finalize().into_bytes());
    out
}

#[cold]
fn unreachable_hmac() -> ! {
    // `Hmac::new_from_slice` documents that it never fails; this keeps the
    // function total without an `unwrap`.
    #[allow(clippy::panic)]
    {
        panic!("HMAC rejected a key")
    }
}

/// HKDF-Expand (RFC 5869 §2.3) over RustCrypto's HKDF.
pub(super) fn hkdf_expand(
    prk: &Secret<HASH_LEN>,
    info_parts: &[&[u8]],
    okm: &mut [u8],
) -> Result<(), CryptoError> {
    if okm.len() > HKDF_MAX_OUTPUT {
        return Err(CryptoError::KdfOutputTooLong);
    }
    let hk =
        hkdf::Hkdf::<Sha256>::from_prk(prk.expose()).map_err(|_| CryptoError::KdfOutputTooLong)?;
    hk.expand_multi_info(info_parts, okm)
        .map_err(|_| CryptoError::KdfOutputTooLong)
}

pub(super) fn x25519_public_key(private_key: &Secret<X25519_LEN>) -> [u8; X25519_LEN] {
    let sk = StaticSecret::from(*private_key.expose());
    PublicKey::from(&sk).to_bytes()
}

pub(super) fn x25519(
    private_key: &Secret<X25519_LEN>,
    public_key: &[u8; X25519_LEN],
) -> Result<Secret<X25519_LEN>, CryptoError> {
    let sk = StaticSecret::from(*private_key.expose());
    let shared = sk.diffie_hellman(&PublicKey::from(*public_key));
    // spec §3.2: an all-zero output means a low-order input; checked in constant time.
    if bool::from(shared.as_bytes().ct_eq(&[0u8; X25519_LEN])) {
        return Err(CryptoError::X25519LowOrder);
    }
    Ok(Secret::from_bytes(shared.to_bytes()))
}

pub(super) fn ed25519_public_key(seed: &Secret<ED25519_KEY_LEN>) -> [u8; ED25519_KEY_LEN] {
    SigningKey::from_bytes(seed.expose())
        .verifying_key()
        .to_bytes()
}

pub(super) fn ed25519_sign(
    seed: &Secret<ED25519_KEY_LEN>,
    message: &[u8],
) -> [u8; ED25519_SIG_LEN] {
    SigningKey::from_bytes(seed.expose())
        .sign(message)
        .to_bytes()
}

pub(super) fn ed25519_verify(
    public_key: &[u8; ED25519_KEY_LEN],
    message: &[u8],
    signature: &[u8; ED25519_SIG_LEN],
) -> Result<(), CryptoError> {
    let vk = VerifyingKey::from_bytes(public_key).map_err(|_| CryptoError::InvalidSignature)?;
    let sig = Signature::from_bytes(signature);
    vk.verify_strict(message, &sig)
        .map_err(|_| CryptoError::InvalidSignature)
}

/// Batch verification of strict Ed25519 signatures (spec §3.3, §12.6.1):
/// `Ok` only if every item passes [`ed25519_verify`], except with
/// probability at most 2⁻¹²⁸; `Err` when any item fails. `random` holds 32
/// bytes per item from the caller's generator.
///
/// The coefficients are not `random` itself: they are SHA-512 (`sha512`,
/// the provider's) of the label `batch verification`, `random` and every
/// item's `R_i`, `A_i`, `S_i` and `h_i` (spec §12.6.1). A forger who wants
/// the batch to accept fixes the items before the coefficients exist, so
/// even a generator with constant output leaves the bound to SHA-512 (a
/// forger then needs about 2¹²⁸ hash evaluations); a good generator also
/// keeps them unpredictable. Of each item's 64 derived bytes, the first 16
/// are its coefficient `z_i`, the next 16 its membership bits in the 128
/// subset sums that test every `R_i` for a small-order component (in a
/// batch of more than 128 items).
///
/// Strict verification accepts iff `S` is canonical, `R` and `A` decode and
/// are not of small order, and `[S]B − [h]A` encodes to exactly the bytes
/// of `R`. The per-item checks here are those, bar the equation; `R`'s
/// encoding is checked canonical (its `y` below `p`, the sign bit with
/// `x = 0` being a small-order point). The equation is then checked for all
/// items at once, `Σ z_i([S_i]B − [h_i]A_i − R_i) = 0`, which implies each
/// item's when every `A_i` and `R_i` lies in the prime-order subgroup:
/// checked for each distinct `A` (`[ℓ]A = 0`) and for the `R_i` each on
/// its own when the equation holds at most 128 of them, else by 128 subset
/// sums `Q_j` (`[ℓ]Q_j = 0`; each misses a small-order component with
/// probability at most 1/2). An item whose key decodes but lies
/// outside that subgroup (a mixed-order key, which strict verification
/// accepts) is verified on its own with `single` and left out of the
/// equation, so such a key never stops the other items from being batched.
/// A signature strict verification accepts has `R = [S]B − [h]A` in the
/// subgroup whenever `A` is, so no such signature makes the batch fail.
pub(super) fn ed25519_verify_batch(
    items: &[super::Ed25519BatchItem<'_>],
    random: &[[u8; 32]],
    sha512: impl Fn(&[&[u8]]) -> [u8; 64],
    single: impl Fn(&[u8; ED25519_KEY_LEN], &[u8], &[u8; ED25519_SIG_LEN]) -> bool,
) -> Result<(), CryptoError> {
    use alloc::collections::BTreeMap;
    use alloc::vec::Vec;
    use curve25519_dalek::constants::ED25519_BASEPOINT_POINT;
    use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
    use curve25519_dalek::scalar::Scalar;
    use curve25519_dalek::traits::{IsIdentity, VartimeMultiscalarMul};

    let fail = CryptoError::InvalidSignature;
    if items.len() != random.len() || items.len() > u32::MAX as usize {
        return Err(fail);
    }
    // Each distinct public key once: `Some` (its index) if decoded, not of
    // small order and in the prime-order subgroup, `None` if decoded, not
    // of small order but of mixed order.
    let mut keys: BTreeMap<[u8; 32], Option<usize>> = BTreeMap::new();
    let mut key_points: Vec<EdwardsPoint> = Vec::new();
    // The batched items: key index, R, S, h, and the transcript entry.
    let mut batched: Vec<(usize, EdwardsPoint, Scalar, Scalar)> = Vec::with_capacity(items.len());
    let mut transcript: Vec<[u8; 128]> = Vec::with_capacity(items.len());
    for item in items {
        let k = match keys.get(item.public_key) {
            Some(&k) => k,
            None => {
                let a = CompressedEdwardsY(*item.public_key)
                    .decompress()
                    .ok_or(fail)?;
                if a.is_small_order() {
                    return Err(fail);
                }
                let k = if torsion_free(&a) {
                    key_points.push(a);
                    Some(key_points.len() - 1)
                } else {
                    None
                };
                keys.insert(*item.public_key, k);
                k
            }
        };
        let Some(k) = k else {
            let message: Vec<u8> = item.message.concat();
            if !single(item.public_key, &message, item.signature) {
                return Err(fail);
            }
            continue;
        };
        let mut r_bytes = [0u8; 32];
        r_bytes.copy_from_slice(&item.signature[..32]);
        let mut s_bytes = [0u8; 32];
        s_bytes.copy_from_slice(&item.signature[32..]);
        let s = Option::<Scalar>::from(Scalar::from_canonical_bytes(s_bytes)).ok_or(fail)?;
        if !canonical_y(&r_bytes) {
            return Err(fail);
        }
        let r = CompressedEdwardsY(r_bytes).decompress().ok_or(fail)?;
        if r.is_small_order() {
            return Err(fail);
        }
        let mut parts: Vec<&[u8]> = Vec::with_capacity(2 + item.message.len());
        parts.push(&r_bytes);
        parts.push(item.public_key);
        parts.extend_from_slice(item.message);
        let h = Scalar::from_bytes_mod_order_wide(&sha512(&parts));
        let mut entry = [0u8; 128];
        entry[..32].copy_from_slice(&r_bytes);
        entry[32..64].copy_from_slice(item.public_key);
        entry[64..96].copy_from_slice(&s_bytes);
        entry[96..].copy_from_slice(h.as_bytes());
        transcript.push(entry);
        batched.push((k, r, s, h));
    }
    if batched.is_empty() {
        return Ok(());
    }
    // T = SHA-512(EncodeLabel("batch verification") || u32(n) || r_1 .. r_n
    //             || (R_i || A_i || S_i || h_i) for each batched item),
    // c_i = SHA-512(EncodeLabel("batch verification") || T || u32(i)).
    let label = crate::kdf::encode_label(crate::labels::BATCH_VERIFICATION)?;
    let count = (batched.len() as u32).to_be_bytes();
    let mut parts: Vec<&[u8]> = Vec::with_capacity(2 + random.len() + transcript.len());
    parts.push(&label);
    parts.push(&count);
    parts.extend(random.iter().map(|r| &r[..]));
    parts.extend(transcript.iter().map(|e| &e[..]));
    let t = sha512(&parts);
    let derived: Vec<[u8; 64]> = (0..batched.len() as u32)
        .map(|i| sha512(&[&label, &t, &i.to_be_bytes()]))
        .collect();

    let mut key_coefs: Vec<Scalar> = alloc::vec![Scalar::ZERO; key_points.len()];
    let mut r_points: Vec<EdwardsPoint> = Vec::with_capacity(batched.len());
    let mut r_coefs: Vec<Scalar> = Vec::with_capacity(batched.len());
    let mut s_sum = Scalar::ZERO;
    for ((k, r, s, h), c) in batched.iter().zip(&derived) {
        let mut z_bytes = [0u8; 32];
        z_bytes[..16].copy_from_slice(&c[..16]);
        let z = Scalar::from_bytes_mod_order(z_bytes);
        s_sum += z * s;
        key_coefs[*k] += z * h;
        r_points.push(*r);
        r_coefs.push(-z);
    }
    // Every R_i in the prime-order subgroup: each on its own when there
    // are at most 128 (exact, and no more multiplications by ℓ than the
    // subset sums), else 128 random subset sums.
    let r_in_subgroup = if r_points.len() <= SUBSET_SUMS {
        r_points.iter().all(torsion_free)
    } else {
        subset_sums(&r_points, &derived).iter().all(torsion_free)
    };
    if !r_in_subgroup {
        return Err(fail);
    }
    let scalars = core::iter::once(s_sum)
        .chain(key_coefs.iter().map(|c| -c))
        .chain(r_coefs.iter().copied());
    let points = core::iter::once(ED25519_BASEPOINT_POINT)
        .chain(key_points.iter().copied())
        .chain(r_points.iter().copied());
    if EdwardsPoint::vartime_multiscalar_mul(scalars, points).is_identity() {
        Ok(())
    } else {
        Err(fail)
    }
}

/// The number of subset sums that check the `R` of a batch of more than
/// that many signatures (each misses a small-order component with
/// probability at most 1/2).
const SUBSET_SUMS: usize = 128;

/// The 128 subset sums `Q_j = Σ bit_j(c_i)·R_i`, bit `j` of `c_i` being
/// bit `j % 8` of `c_i[16 + j / 8]`. Points are taken 5 at a time: the 31
/// nonzero sums of a block's points are tabulated (26 additions), then each
/// `Q_j` adds the one its 5 bits select: about 30 additions per point
/// instead of 64.
fn subset_sums(
    points: &[curve25519_dalek::edwards::EdwardsPoint],
    derived: &[[u8; 64]],
) -> alloc::vec::Vec<curve25519_dalek::edwards::EdwardsPoint> {
    use curve25519_dalek::edwards::EdwardsPoint;
    use curve25519_dalek::traits::Identity;
    const BLOCK: usize = 5;
    let mut q = alloc::vec![EdwardsPoint::identity(); SUBSET_SUMS];
    let mut table = [EdwardsPoint::identity(); 1 << BLOCK];
    for (block, rands) in points.chunks(BLOCK).zip(derived.chunks(BLOCK)) {
        for m in 1..(1usize << block.len()) {
            let (low, rest) = (m.trailing_zeros() as usize, m & (m - 1));
            table[m] = if rest == 0 {
                block[low]
            } else {
                table[rest] + block[low]
            };
        }
        for (j, qj) in q.iter_mut().enumerate() {
            let mut m = 0usize;
            for (k, rand) in rands.iter().enumerate() {
                m |= usize::from(rand[16 + j / 8] >> (j % 8) & 1) << k;
            }
            if m != 0 {
                *qj += table[m];
            }
        }
    }
    q
}

/// Whether `[ℓ]P` is the neutral element (`P` in the prime-order
/// subgroup), in variable time (`P` is public): `[ℓ − 1]P + P`, `ℓ − 1`
/// being the scalar `−1`.
fn torsion_free(p: &curve25519_dalek::edwards::EdwardsPoint) -> bool {
    use curve25519_dalek::edwards::EdwardsPoint;
    use curve25519_dalek::scalar::Scalar;
    use curve25519_dalek::traits::IsIdentity;
    (EdwardsPoint::vartime_double_scalar_mul_basepoint(&-Scalar::ONE, p, &Scalar::ZERO) + p)
        .is_identity()
}

/// Whether the `y` of a point encoding (its low 255 bits) is below
/// `p = 2²⁵⁵ − 19`.
fn canonical_y(bytes: &[u8; 32]) -> bool {
    // p, little-endian: ed ff … ff 7f. y ≥ p iff bits 8..255 are all ones
    // and the low byte is at least 0xed.
    let top_ones = bytes[31] & 0x7f == 0x7f && bytes[1..31].iter().all(|&b| b == 0xff);
    !(top_ones && bytes[0] >= 0xed)
}

pub(super) fn ml_kem_768_generate(seed: &Secret<MLKEM_SEED_LEN>) -> MlKemKeyPair {
    let pair = mlkem768::generate_key_pair(*seed.expose());
    let (sk, pk) = pair.into_parts();
    let mut sk_bytes: [u8; MLKEM_DK_LEN] = sk.into();
    let decapsulation_key = Secret::from_bytes(sk_bytes);
    sk_bytes.zeroize();
    MlKemKeyPair {
        decapsulation_key,
        encapsulation_key: pk.into(),
    }
}

pub(super) fn ml_kem_768_encapsulate(
    encapsulation_key: &[u8; MLKEM_EK_LEN],
    randomness: &Secret<MLKEM_SS_LEN>,
) -> Result<([u8; MLKEM_CT_LEN], Secret<MLKEM_SS_LEN>), CryptoError> {
    let ek = mlkem768::MlKem768PublicKey::from(encapsulation_key);
    // FIPS 203 §7.2: the encapsulation key check is mandatory before use.
    if !mlkem768::validate_public_key(&ek) {
        return Err(CryptoError::InvalidKemPublicKey);
    }
    let (ct, mut ss) = mlkem768::encapsulate(&ek, *randomness.expose());
    let shared = Secret::from_bytes(ss);
    ss.zeroize();
    Ok((ct.into(), shared))
}

pub(super) fn ml_kem_768_decapsulate(
    decapsulation_key: &Secret<MLKEM_DK_LEN>,
    ciphertext: &[u8; MLKEM_CT_LEN],
) -> Secret<MLKEM_SS_LEN> {
    let dk = mlkem768::MlKem768PrivateKey::from(decapsulation_key.expose());
    let ct = mlkem768::MlKem768Ciphertext::from(ciphertext);
    let mut ss = mlkem768::decapsulate(&dk, &ct);
    let shared = Secret::from_bytes(ss);
    ss.zeroize();
    let mut dk_bytes: [u8; MLKEM_DK_LEN] = dk.into();
    dk_bytes.zeroize();
    shared
}

#[cfg(test)]
mod tests {
    use super::super::{all_providers, Ed25519BatchItem};
    use super::*;
    use alloc::vec::Vec;
    use curve25519_dalek::constants::{ED25519_BASEPOINT_POINT as B, EIGHT_TORSION};
    use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
    use curve25519_dalek::scalar::Scalar;
    use rand_chacha::rand_core::{Rng, SeedableRng};
    use rand_chacha::ChaCha20Rng;
    use sha2::{Digest, Sha512};

    /// A signature made by hand: nonce point `R = [r]B + t` (`t` a
    /// small-order point), `S = r + h·a`, over the public key bytes `a_bytes`.
    fn raw_sign(
        a: &Scalar,
        a_bytes: &[u8; 32],
        r: &Scalar,
        t: &EdwardsPoint,
        msg: &[u8],
    ) -> [u8; 64] {
        let r_point = B * r + t;
        let r_bytes = r_point.compress().to_bytes();
        let h = Scalar::from_hash(
            Sha512::new()
                .chain_update(r_bytes)
                .chain_update(a_bytes)
                .chain_update(msg),
        );
        let s = r + h * a;
        let mut sig = [0u8; 64];
        sig[..32].copy_from_slice(&r_bytes);
        sig[32..].copy_from_slice(s.as_bytes());
        sig
    }

    struct Case {
        key: [u8; 32],
        msg: Vec<u8>,
        sig: [u8; 64],
    }

    /// The batch of `cases` on one backend, with the generator bytes `random`.
    fn verify_on(
        p: &dyn crate::provider::CryptoProvider,
        cases: &[Case],
        random: &[[u8; 32]],
    ) -> Result<(), CryptoError> {
        let parts: Vec<[&[u8]; 1]> = cases.iter().map(|c| [&c.msg[..]]).collect();
        let items: Vec<Ed25519BatchItem<'_>> = cases
            .iter()
            .zip(&parts)
            .map(|(c, p)| Ed25519BatchItem {
                public_key: &c.key,
                message: p,
                signature: &c.sig,
            })
            .collect();
        p.ed25519_verify_batch(&items, random)
    }

    /// The batch of `cases` on every backend, each with fresh generator bytes.
    fn batch(cases: &[Case], rng: &mut ChaCha20Rng) -> Vec<Result<(), CryptoError>> {
        all_providers()
            .iter()
            .map(|p| {
                let mut random = alloc::vec![[0u8; 32]; cases.len()];
                rng.fill_bytes(random.as_flattened_mut());
                verify_on(*p, cases, &random)
            })
            .collect()
    }

    fn honest(rng: &mut ChaCha20Rng, n: usize, keys: usize) -> Vec<Case> {
        let seeds: Vec<Secret<32>> = (0..keys)
            .map(|_| {
                let mut s = Secret::<32>::zero();
                rng.fill_bytes(s.expose_mut());
                s
            })
            .collect();
        (0..n)
            .map(|i| {
                let seed = &seeds[i % keys];
                let msg = alloc::vec![i as u8; 1 + i % 50];
                Case {
                    key: ed25519_public_key(seed),
                    sig: ed25519_sign(seed, &msg),
                    msg,
                }
            })
            .collect()
    }

    fn single(c: &Case) -> Result<(), CryptoError> {
        ed25519_verify(&c.key, &c.msg, &c.sig)
    }

    /// `bad`, which strict verification refuses, fails a batch of `n`
    /// honest signatures under `keys` keys on every backend, inserted
    /// first, in the middle or last, on each of `draws` coefficient draws.
    fn fails_wherever_inserted(
        rng: &mut ChaCha20Rng,
        bad: &Case,
        n: usize,
        keys: usize,
        draws: usize,
    ) {
        assert!(single(bad).is_err());
        for at in [0, n / 2, n] {
            let mut cases = honest(rng, n, keys);
            cases.insert(
                at,
                Case {
                    key: bad.key,
                    msg: bad.msg.clone(),
                    sig: bad.sig,
                },
            );
            for _ in 0..draws {
                assert!(all_err(&batch(&cases, rng)));
            }
        }
    }

    fn all_err(r: &[Result<(), CryptoError>]) -> bool {
        r.iter().all(|r| *r == Err(CryptoError::InvalidSignature))
    }

    #[test]
    fn a_batch_of_valid_signatures_verifies() {
        let mut rng = ChaCha20Rng::from_seed([3; 32]);
        for (n, keys) in [(1, 1), (2, 2), (100, 3), (200, 200)] {
            let cases = honest(&mut rng, n, keys);
            assert!(batch(&cases, &mut rng).iter().all(Result::is_ok), "{n}");
        }
        assert!(batch(&[], &mut rng).iter().all(Result::is_ok));
    }

    #[test]
    fn every_signature_strict_verification_refuses_fails_the_batch() {
        let mut rng = ChaCha20Rng::from_seed([4; 32]);
        let base = honest(&mut rng, 40, 2);
        let mut a_seed = [0u8; 32];
        rng.fill_bytes(&mut a_seed);
        let a = Scalar::from_bytes_mod_order(a_seed);
        let a_bytes = (B * a).compress().to_bytes();
        let r = Scalar::from_bytes_mod_order([5; 32]);
        let msg = b"tampered".to_vec();
        let mut bad: Vec<Case> = Vec::new();
        // A flipped bit of S, of R, of the message.
        for (byte, bit) in [(40, 0), (5, 3)] {
            let mut c = Case {
                key: base[0].key,
                msg: base[0].msg.clone(),
                sig: base[0].sig,
            };
            c.sig[byte] ^= 1 << bit;
            bad.push(c);
        }
        let mut c = Case {
            key: base[1].key,
            msg: base[1].msg.clone(),
            sig: base[1].sig,
        };
        c.msg[0] ^= 1;
        bad.push(c);
        // S not reduced: S + ℓ.
        let good = raw_sign(&a, &a_bytes, &r, &EdwardsPoint::default(), &msg);
        let mut s = [0u8; 32];
        s.copy_from_slice(&good[32..]);
        let mut carry = 0u16;
        let l: [u8; 32] = [
            0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9,
            0xde, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
        ];
        for i in 0..32 {
            let v = u16::from(s[i]) + u16::from(l[i]) + carry;
            s[i] = v as u8;
            carry = v >> 8;
        }
        if carry == 0 && s[31] < 0x20 {
            let mut sig = good;
            sig[32..].copy_from_slice(&s);
            bad.push(Case {
                key: a_bytes,
                msg: msg.clone(),
                sig,
            });
        }
        // R with a small-order component, the equation holding up to it:
        // cofactored verification accepts these, strict does not.
        for t in EIGHT_TORSION.iter().skip(1) {
            bad.push(Case {
                key: a_bytes,
                msg: msg.clone(),
                sig: raw_sign(&a, &a_bytes, &r, t, &msg),
            });
        }
        // R of small order, A of small order.
        for t in EIGHT_TORSION.iter() {
            let mut sig = good;
            sig[..32].copy_from_slice(&t.compress().to_bytes());
            bad.push(Case {
                key: a_bytes,
                msg: msg.clone(),
                sig,
            });
            bad.push(Case {
                key: t.compress().to_bytes(),
                msg: msg.clone(),
                sig: good,
            });
        }
        // R not canonically encoded (y ≥ p).
        let mut sig = good;
        sig[..32].copy_from_slice(&[0xff; 32]);
        sig[31] = 0x7f;
        bad.push(Case {
            key: a_bytes,
            msg: msg.clone(),
            sig,
        });
        // Not a point.
        let mut sig = good;
        sig[..32].copy_from_slice(&[2; 32]);
        bad.push(Case {
            key: a_bytes,
            msg: msg.clone(),
            sig,
        });
        assert!(bad.len() > 20);
        for c in &bad {
            // The small-order components are caught every time, not with
            // probability 7/8: many coefficient draws.
            fails_wherever_inserted(&mut rng, c, 40, 2, 8);
        }
        // One generator entry too few.
        let mut random = alloc::vec![[0u8; 32]; 39];
        rng.fill_bytes(random.as_flattened_mut());
        assert!(all_err(&batch_with(&base, &random)));
    }

    /// Above 128 batched signatures the `R` are checked by subset sums
    /// instead of one by one: a small-order component of one `R` still
    /// fails the batch, wherever it lies, on every draw.
    #[test]
    fn a_large_batch_checks_every_r_by_subset_sums() {
        let mut rng = ChaCha20Rng::from_seed([8; 32]);
        let a = Scalar::from_bytes_mod_order([11; 32]);
        let a_bytes = (B * a).compress().to_bytes();
        let r = Scalar::from_bytes_mod_order([13; 32]);
        let msg = b"torsion R".to_vec();
        let honest_cases = honest(&mut rng, 140, 3);
        assert!(honest_cases.len() > SUBSET_SUMS);
        assert!(batch(&honest_cases, &mut rng).iter().all(Result::is_ok));
        for t in EIGHT_TORSION.iter().skip(1) {
            let bad = Case {
                key: a_bytes,
                msg: msg.clone(),
                sig: raw_sign(&a, &a_bytes, &r, t, &msg),
            };
            fails_wherever_inserted(&mut rng, &bad, 140, 3, 2);
        }
    }

    /// A key with a small-order component can carry signatures strict
    /// verification accepts: they are verified on their own inside the
    /// batch, which still decides the other items; a bad one under such a
    /// key fails the batch.
    #[test]
    fn a_key_with_a_small_order_component_is_verified_on_its_own() {
        let mut rng = ChaCha20Rng::from_seed([6; 32]);
        let a = Scalar::from_bytes_mod_order([9; 32]);
        let t = EIGHT_TORSION[1];
        let a_point = B * a + t;
        let a_bytes = a_point.compress().to_bytes();
        let msg = b"torsion key".to_vec();
        // R = [r]B + [k]T with k ≡ −h (mod 8): then [S]B − [h]A' = R.
        let mut found = None;
        for i in 0u8..=255 {
            let r = Scalar::from_bytes_mod_order([i; 32]);
            for (k, t) in EIGHT_TORSION.iter().enumerate() {
                let r_point = B * r + t;
                let r_bytes = r_point.compress().to_bytes();
                let h = Scalar::from_hash(
                    Sha512::new()
                        .chain_update(r_bytes)
                        .chain_update(a_bytes)
                        .chain_update(&msg),
                );
                if (usize::from(h.as_bytes()[0]) + k) % 8 == 0 && !r_point.is_small_order() {
                    let s = r + h * a;
                    let mut sig = [0u8; 64];
                    sig[..32].copy_from_slice(&r_bytes);
                    sig[32..].copy_from_slice(s.as_bytes());
                    found = Some(sig);
                    break;
                }
            }
            if found.is_some() {
                break;
            }
        }
        let sig = found.unwrap_or_else(|| unreachable!());
        let c = Case {
            key: a_bytes,
            msg,
            sig,
        };
        assert_eq!(single(&c), Ok(()));
        let mut bad = Case {
            key: c.key,
            msg: c.msg.clone(),
            sig: c.sig,
        };
        bad.msg.push(0);
        assert!(single(&bad).is_err());
        let mut cases = honest(&mut rng, 10, 1);
        cases.insert(3, c);
        assert!(batch(&cases, &mut rng).iter().all(Result::is_ok));
        cases.push(bad);
        assert!(all_err(&batch(&cases, &mut rng)));
        // With a bad batched item, the mixed-order key's good item does
        // not save the batch either.
        let n = cases.len();
        cases.swap(3, n - 1);
        cases[0].sig[40] ^= 1;
        assert!(all_err(&batch(&cases, &mut rng)));
    }

    /// Runs the batch with the given generator bytes on every backend.
    fn batch_with(cases: &[Case], random: &[[u8; 32]]) -> Vec<Result<(), CryptoError>> {
        all_providers()
            .iter()
            .map(|p| verify_on(*p, cases, random))
            .collect()
    }

    /// The coefficients depend on the signatures, not only on the
    /// generator's bytes: errors that would cancel under equal or zero
    /// coefficients are refused even with constant generator output.
    #[test]
    fn predictable_generator_bytes_do_not_let_forgeries_through() {
        let mut rng = ChaCha20Rng::from_seed([45; 32]);
        let mut cases = honest(&mut rng, 2, 1);
        // S_1 + 1 and S_2 − 1 under one key: the errors cancel when the two
        // coefficients are equal.
        for (c, d) in cases.iter_mut().zip([Scalar::ONE, -Scalar::ONE]) {
            let mut s = [0u8; 32];
            s.copy_from_slice(&c.sig[32..]);
            let s = Option::<Scalar>::from(Scalar::from_canonical_bytes(s))
                .unwrap_or_else(|| unreachable!())
                + d;
            c.sig[32..].copy_from_slice(s.as_bytes());
            assert!(single(c).is_err());
        }
        let mut r = [0u8; 32];
        rng.fill_bytes(&mut r);
        for random in [[r, r], [[0; 32], [0; 32]], [[0xff; 32], [0xff; 32]]] {
            assert!(all_err(&batch_with(&cases, &random)));
        }
        // S = 1 on an honest R: the equation holds only for a zero
        // coefficient.
        let mut one = honest(&mut rng, 1, 1);
        one[0].sig[32..].copy_from_slice(Scalar::ONE.as_bytes());
        assert!(single(&one[0]).is_err());
        assert!(all_err(&batch_with(&one, &[[0; 32]])));
        // A small-order component in R that a zero subset-sum bit would
        // hide, next to 150 honest signatures.
        let a = Scalar::from_bytes_mod_order([7; 32]);
        let a_bytes = (B * a).compress().to_bytes();
        let mut many = honest(&mut rng, 150, 2);
        let msg = b"torsion in R".to_vec();
        let sig = raw_sign(
            &a,
            &a_bytes,
            &Scalar::from_bytes_mod_order([5; 32]),
            &EIGHT_TORSION[4],
            &msg,
        );
        let t = Case {
            key: a_bytes,
            msg,
            sig,
        };
        assert!(single(&t).is_err());
        many.insert(20, t);
        let zeros = alloc::vec![[0u8; 32]; many.len()];
        assert!(all_err(&batch_with(&many, &zeros)));
        // Honest signatures still pass with constant generator bytes.
        let good = honest(&mut rng, 130, 3);
        assert!(batch_with(&good, &alloc::vec![[0u8; 32]; 130])
            .iter()
            .all(Result::is_ok));
    }

    #[test]
    fn subset_sums_are_the_sums_the_bits_select() {
        let mut rng = ChaCha20Rng::from_seed([9; 32]);
        for n in [0usize, 1, 4, 5, 6, 13, 40] {
            let points: Vec<EdwardsPoint> = (0..n)
                .map(|i| {
                    let mut b = [0u8; 32];
                    rng.fill_bytes(&mut b);
                    B * Scalar::from_bytes_mod_order(b) + EIGHT_TORSION[i % 8]
                })
                .collect();
            let mut random = alloc::vec![[0u8; 64]; n];
            rng.fill_bytes(random.as_flattened_mut());
            let q = subset_sums(&points, &random);
            assert_eq!(q.len(), 128);
            for (j, qj) in q.iter().enumerate() {
                let mut want = EdwardsPoint::default();
                for (p, r) in points.iter().zip(&random) {
                    if r[16 + j / 8] >> (j % 8) & 1 == 1 {
                        want += p;
                    }
                }
                assert_eq!(*qj, want, "n = {n}, j = {j}");
            }
        }
    }

    #[test]
    fn torsion_free_is_membership_of_the_prime_order_subgroup() {
        let mut rng = ChaCha20Rng::from_seed([8; 32]);
        for _ in 0..20 {
            let mut b = [0u8; 32];
            rng.fill_bytes(&mut b);
            let r = Scalar::from_bytes_mod_order(b);
            for (k, t) in EIGHT_TORSION.iter().enumerate() {
                let p = B * r + t;
                assert_eq!(torsion_free(&p), k == 0);
                assert_eq!(torsion_free(&p), p.is_torsion_free());
                assert_eq!(torsion_free(t), k == 0);
            }
        }
    }

    #[test]
    fn canonical_y_is_the_encoding_compression_gives() {
        let mut rng = ChaCha20Rng::from_seed([7; 32]);
        // Every y from p to 2²⁵⁵ − 1, both signs; and random encodings.
        let mut encodings: Vec<[u8; 32]> = Vec::new();
        for k in 0..19u8 {
            for sign in [0u8, 0x80] {
                let mut e = [0xff; 32];
                e[0] = 0xed + k;
                e[31] = 0x7f | sign;
                encodings.push(e);
            }
        }
        for _ in 0..2000 {
            let mut e = [0u8; 32];
            rng.fill_bytes(&mut e);
            encodings.push(e);
        }
        for k in 0..19u8 {
            let mut e = [0u8; 32];
            e[0] = k;
            encodings.push(e);
        }
        let mut decoded = 0;
        for e in &encodings {
            if let Some(pt) = CompressedEdwardsY(*e).decompress() {
                decoded += 1;
                let round = pt.compress().to_bytes() == *e;
                // x = 0 with the sign bit set decodes but is not canonical;
                // those are small-order points (y = ±1), refused anyway.
                assert!(round == canonical_y(e) || pt.is_small_order(), "{e:?}");
            } else if e[1..31].iter().all(|&b| b == 0xff) && e[31] & 0x7f == 0x7f && e[0] >= 0xed {
                assert!(!canonical_y(e));
            }
        }
        assert!(decoded > 900);
        assert!(encodings[..38].iter().all(|e| !canonical_y(e)));
    }
}
