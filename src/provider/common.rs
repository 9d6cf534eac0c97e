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
