//! Prekeys (spec §7.2): a signed X25519 prekey, one-time X25519 prekeys, a
//! signed last-resort ML-KEM-768 prekey and signed one-time ML-KEM-768 prekeys.
//!
//! Every signature is `LabeledSign(IK_sig, "prekey", u8(kind) || u32(id) || public key)`,
//! so a signature binds the key's type and id as well as the key.

use alloc::vec::Vec;
use zeroize::Zeroize;

use crate::kdf::{labeled_sign, labeled_verify};
use crate::labels;
use crate::provider::{CryptoProvider, ED25519_SIG_LEN, MLKEM_EK_LEN, MLKEM_SEED_LEN, X25519_LEN};
use crate::secret::Secret;
use crate::CryptoError;

/// The kind byte of a prekey (spec §7.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum PrekeyKind {
    /// The signed X25519 prekey `SPK`.
    SignedX25519 = 0x01,
    /// The signed last-resort ML-KEM-768 prekey.
    KemLastResort = 0x02,
    /// A signed one-time ML-KEM-768 prekey.
    KemOneTime = 0x03,
    /// A one-time X25519 prekey `OPK` (not signed).
    OneTimeX25519 = 0x04,
}

impl PrekeyKind {
    /// The kind of a KEM prekey byte, if it is one.
    pub fn kem_from_u8(b: u8) -> Option<Self> {
        match b {
            0x02 => Some(Self::KemLastResort),
            0x03 => Some(Self::KemOneTime),
            _ => None,
        }
    }
}

/// The message a prekey signature covers: `u8(kind) || u32(id) || key`.
fn signed_parts<'a>(kind: &'a [u8; 1], id: &'a [u8; 4], key: &'a [u8]) -> [&'a [u8]; 3] {
    [kind, id, key]
}

/// Signs a prekey (spec §7.2).
pub(crate) fn sign_prekey<P: CryptoProvider + ?Sized>(
    p: &P,
    identity_seed: &Secret<32>,
    kind: PrekeyKind,
    id: u32,
    key: &[u8],
) -> Result<[u8; ED25519_SIG_LEN], CryptoError> {
    let k = [kind as u8];
    let i = id.to_be_bytes();
    labeled_sign(p, identity_seed, labels::PREKEY, &signed_parts(&k, &i, key))
}

/// Verifies a prekey signature (spec §7.2).
pub(crate) fn verify_prekey<P: CryptoProvider + ?Sized>(
    p: &P,
    identity_signing_key: &[u8; 32],
    kind: PrekeyKind,
    id: u32,
    key: &[u8],
    signature: &[u8; ED25519_SIG_LEN],
) -> Result<(), CryptoError> {
    let k = [kind as u8];
    let i = id.to_be_bytes();
    labeled_verify(
        p,
        identity_signing_key,
        labels::PREKEY,
        &signed_parts(&k, &i, key),
        signature,
    )
}

/// The signed X25519 prekey pair, with its public key and signature
/// (computed when it is created or loaded: every bundle and every handshake
/// needs them).
#[derive(Clone)]
pub(crate) struct X25519Prekey {
    pub(crate) id: u32,
    pub(crate) private: Secret<X25519_LEN>,
    pub(crate) public: [u8; X25519_LEN],
    pub(crate) signature: [u8; ED25519_SIG_LEN],
}

/// An ML-KEM-768 last-resort prekey, kept as its 64-byte seed (the
/// decapsulation key is regenerated when needed, so a stored key can never
/// be a malformed one), with its encapsulation key and signature.
#[derive(Clone)]
pub(crate) struct KemPrekey {
    pub(crate) id: u32,
    pub(crate) kind: PrekeyKind,
    pub(crate) seed: Secret<MLKEM_SEED_LEN>,
    pub(crate) public: Vec<u8>,
    pub(crate) signature: [u8; ED25519_SIG_LEN],
}

/// A one-time prekey as the account holds it: its id and secret only (the
/// X25519 private key, `N = 32`, or the ML-KEM-768 seed, `N = 64`). Its
/// public key, and for an ML-KEM prekey the signature, are derived from the
/// secret when a bundle names the prekey or a handshake uses it
/// ([`x25519_public`](Self::x25519_public), [`kem_public`]): an account with
/// a thousand of them loads without a thousand key generations (spec §8.4).
#[derive(Clone)]
pub(crate) struct OneTimePrekey<const N: usize> {
    pub(crate) id: u32,
    pub(crate) secret: Secret<N>,
    /// Whether the prekey has been published (spec §7.11, §8.4).
    pub(crate) published: bool,
}

impl OneTimePrekey<X25519_LEN> {
    /// The X25519 public key.
    pub(crate) fn x25519_public<P: CryptoProvider + ?Sized>(&self, p: &P) -> [u8; X25519_LEN] {
        p.x25519_public_key(&self.secret)
    }
}

/// The encapsulation key of the ML-KEM-768 prekey with `seed` and its
/// signature `LabeledSign(IK_sig, "prekey", u8(kind) || u32(id) || ek)` (spec §7.2).
pub(crate) fn kem_public<P: CryptoProvider + ?Sized>(
    p: &P,
    identity_seed: &Secret<32>,
    kind: PrekeyKind,
    id: u32,
    seed: &Secret<MLKEM_SEED_LEN>,
) -> Result<([u8; MLKEM_EK_LEN], [u8; ED25519_SIG_LEN]), CryptoError> {
    // The decapsulation key in `pair` is a `Secret`, wiped when dropped here.
    let pair = p.ml_kem_768_generate(seed);
    let signature = sign_prekey(p, identity_seed, kind, id, &pair.encapsulation_key)?;
    Ok((pair.encapsulation_key, signature))
}

/// Wipes the prekey's secret (and its public parts) in place, before the
/// prekey is removed from a list.
impl Zeroize for X25519Prekey {
    fn zeroize(&mut self) {
        self.id.zeroize();
        self.private.zeroize();
        self.public.zeroize();
        self.signature.zeroize();
    }
}

/// Wipes the prekey's seed (and its public parts) in place, before the
/// prekey is removed from a list.
impl Zeroize for KemPrekey {
    fn zeroize(&mut self) {
        self.id.zeroize();
        self.seed.zeroize();
        self.public.zeroize();
        self.signature.zeroize();
    }
}

/// Wipes the prekey's secret in place, before the prekey is removed from a
/// list (`wipe::remove`).
impl<const N: usize> Zeroize for OneTimePrekey<N> {
    fn zeroize(&mut self) {
        self.id.zeroize();
        self.secret.zeroize();
        self.published = false;
    }
}

impl KemPrekey {
    pub(crate) fn encapsulation_key(&self) -> Option<&[u8; MLKEM_EK_LEN]> {
        self.public.as_slice().try_into().ok()
    }
}
