//! Encryption of persisted state at rest (spec §8.3).
//!
//! ```text
//! StorageKey(K, kind) = LabeledExpand(K, "storage key", u8(kind), 32)
//! Sealed = "SOVA-1 sealed" (13 bytes) || u8(version = 1) || u8(kind) || nonce[12]
//!          || ChaCha20-Poly1305(StorageKey(K, kind), nonce, AD = the 15 bytes before nonce, state)
//!          || tag[16]
//! ```
//! The nonce is 12 random bytes per write; see spec §8.3 for the bound on
//! the number of writes under one key.

use alloc::vec::Vec;

use rand_core::TryCryptoRng;
use zeroize::Zeroize;

use crate::codec::Reader;
use crate::kdf::labeled_expand;
use crate::labels;
use crate::provider::{CryptoProvider, AEAD_NONCE_LEN, AEAD_TAG_LEN};
use crate::secret::Secret;

const MAGIC: &[u8; 13] = b"SOVA-1 sealed";
const VERSION: u8 = 1;
const HEADER_LEN: usize = MAGIC.len() + 2;

/// What a sealed blob holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
#[non_exhaustive]
pub enum SealedKind {
    /// An [`Account`](crate::session::Account).
    Account = 1,
    /// A [`Session`](crate::session::Session).
    Session = 2,
    /// A [`Conversation`](crate::session::Conversation).
    Conversation = 3,
    /// A [`KnownUser`](crate::devices::KnownUser) (spec §11.9).
    KnownUser = 4,
    /// A [`UserKey`](crate::devices::UserKey) (spec §11.9).
    UserKey = 5,
    /// A [`Group`](crate::groups::Group) (spec §12.8).
    Group = 6,
}

/// Why a sealed blob could not be opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// Not a sealed Sova blob.
    #[error("not a sealed Sova state")]
    BadMagic,
    /// A sealed-format version this library does not know.
    #[error("unsupported sealed-state version {0}")]
    UnsupportedVersion(u8),
    /// The blob holds another kind of state than requested.
    #[error("sealed state holds kind {0}, not the one requested")]
    WrongKind(u8),
    /// The blob is shorter than its fixed fields.
    #[error("sealed state truncated")]
    Truncated,
    /// Wrong key, or the blob was modified.
    #[error("wrong storage key or corrupted state")]
    Authentication,
    /// The random number generator failed to supply the nonce.
    #[error("the random number generator failed")]
    Randomness,
}

fn storage_key<P: CryptoProvider + ?Sized>(
    p: &P,
    key: &Secret<32>,
    kind: SealedKind,
) -> Result<Secret<32>, StorageError> {
    let mut k = Secret::zero();
    labeled_expand(p, key, labels::STORAGE_KEY, &[kind as u8], k.expose_mut())
        .map_err(|_| StorageError::Authentication)?;
    Ok(k)
}

/// Seals `state` under `key` (spec §8.3).
///
/// # Errors
/// Only on an internal label error, which the fixed labels never cause.
pub fn seal<P: CryptoProvider + ?Sized, R: TryCryptoRng + ?Sized>(
    p: &P,
    rng: &mut R,
    key: &Secret<32>,
    kind: SealedKind,
    state: &[u8],
) -> Result<Vec<u8>, StorageError> {
    let k = storage_key(p, key, kind)?;
    let mut nonce = [0u8; AEAD_NONCE_LEN];
    crate::random::fill(rng, &mut nonce).map_err(|_| StorageError::Randomness)?;
    let mut out = Vec::with_capacity(HEADER_LEN + AEAD_NONCE_LEN + state.len() + AEAD_TAG_LEN);
    out.extend_from_slice(MAGIC);
    out.push(VERSION);
    out.push(kind as u8);
    out.extend_from_slice(&nonce);
    let start = out.len();
    out.extend_from_slice(state);
    let (head, body) = out.split_at_mut(start);
    let tag = p.aead_seal(&k, &nonce, &head[..HEADER_LEN], body);
    out.extend_from_slice(&tag);
    Ok(out)
}

/// Opens a blob made by [`seal`].
///
/// # Errors
/// A [`StorageError`]; never panics on any input.
pub fn open<P: CryptoProvider + ?Sized>(
    p: &P,
    key: &Secret<32>,
    kind: SealedKind,
    sealed: &[u8],
) -> Result<Vec<u8>, StorageError> {
    let mut r = Reader::new(sealed);
    if r.bytes(MAGIC.len()).map_err(|_| StorageError::BadMagic)? != MAGIC {
        return Err(StorageError::BadMagic);
    }
    let v = r.u8().map_err(|_| StorageError::Truncated)?;
    if v != VERSION {
        return Err(StorageError::UnsupportedVersion(v));
    }
    let k = r.u8().map_err(|_| StorageError::Truncated)?;
    if k != kind as u8 {
        return Err(StorageError::WrongKind(k));
    }
    let nonce: [u8; AEAD_NONCE_LEN] = r.array().map_err(|_| StorageError::Truncated)?;
    if r.remaining() < AEAD_TAG_LEN {
        return Err(StorageError::Truncated);
    }
    let body_len = r.remaining() - AEAD_TAG_LEN;
    let body = r.bytes(body_len).map_err(|_| StorageError::Truncated)?;
    let tag: [u8; AEAD_TAG_LEN] = r.array().map_err(|_| StorageError::Truncated)?;
    let key = storage_key(p, key, kind)?;
    let mut out = body.to_vec();
    if p.aead_open(&key, &nonce, &sealed[..HEADER_LEN], &mut out, &tag)
        .is_err()
    {
        out.zeroize();
        return Err(StorageError::Authentication);
    }
    Ok(out)
}
