//! The ratchet's key derivations (spec §5.2).
//!
//! ```text
//! InitKeys(SK)      = LabeledExpand(SK, "ratchet init", "", 96)        -> RK0 || HKA || HKB
//! KDF_RK(RK, dh)    = LabeledExpand(LabeledExtract(RK, "root", dh), "root", "", 96)
//!                                                                      -> RK' || CK || NHK
//! KDF_CK(CK)        = (LabeledMac(CK, "chain", []), LabeledMac(CK, "message", []))
//!                                                                      -> CK', MK
//! MessageKeys(MK, salt) = LabeledExpand(MK, "message keys", salt, 44)  -> key(32) || nonce(12)
//! HeaderKeys(HK)   = LabeledExpand(HK, "header keys", "", 64)          -> HEK || HNK
//! HeaderNonce(HNK, n, salt) = LabeledMac(HNK, "header nonce", u32(n) || salt)[0..12]
//! ```

use crate::error::CryptoError;
use crate::kdf::{encoded_label, encoded_len, expand_info, labeled_expand, labeled_extract};
use crate::labels;
use crate::provider::{CryptoProvider, AEAD_NONCE_LEN};
use crate::ratchet::message::SALT_LEN;
use crate::secret::Secret;

/// A 32-byte symmetric ratchet key (root, chain, message or header key).
pub type Key = Secret<32>;

// The labels of the derivations every message runs, encoded at compile time
// (`EncodeLabel`, and for an expand the output length after it, spec §3.7):
// the same bytes as the labelled functions feed the hash, in one part.
const CHAIN_LABEL: [u8; encoded_len(labels::CHAIN)] = encoded_label(labels::CHAIN);
const MESSAGE_LABEL: [u8; encoded_len(labels::MESSAGE)] = encoded_label(labels::MESSAGE);
const MESSAGE_KEYS_INFO: [u8; encoded_len(labels::MESSAGE_KEYS) + 2] =
    expand_info(labels::MESSAGE_KEYS, MESSAGE_KEYS_LEN as u16);
const HEADER_KEYS_INFO: [u8; encoded_len(labels::HEADER_KEYS) + 2] =
    expand_info(labels::HEADER_KEYS, 64);
const HEADER_NONCE_LABEL: [u8; encoded_len(labels::HEADER_NONCE)] =
    encoded_label(labels::HEADER_NONCE);

/// The output length of `MessageKeys`: an AEAD key and nonce.
const MESSAGE_KEYS_LEN: usize = 32 + AEAD_NONCE_LEN;

/// Output of `InitKeys` (spec §5.2.1).
pub struct InitKeys {
    /// The first root key RK0.
    pub root_key: Key,
    /// The initiator's first sending header key (`HKA`).
    pub initiator_header_key: Key,
    /// The responder's first sending header key (`HKB`).
    pub responder_header_key: Key,
}

/// Output of `KDF_RK` (spec §5.2.2).
pub struct RootStep {
    /// The next root key.
    pub root_key: Key,
    /// The first chain key of the new chain.
    pub chain_key: Key,
    /// The next header key (used by the chain after the new one; spec §5.6).
    pub next_header_key: Key,
}

/// The AEAD key and nonce a message key expands to (spec §5.2.4).
pub struct MessageKeys {
    /// ChaCha20-Poly1305 key.
    pub key: Key,
    /// ChaCha20-Poly1305 nonce.
    pub nonce: [u8; AEAD_NONCE_LEN],
}

fn split96(okm: &Secret<96>) -> (Key, Key, Key) {
    let b = okm.expose();
    let mut a = Key::zero();
    let mut c = Key::zero();
    let mut d = Key::zero();
    a.expose_mut().copy_from_slice(&b[..32]);
    c.expose_mut().copy_from_slice(&b[32..64]);
    d.expose_mut().copy_from_slice(&b[64..]);
    (a, c, d)
}

/// `InitKeys(SK)` (spec §5.2.1): the first root key and both parties' first header keys.
///
/// # Errors
/// Only on an internal label error, which the fixed labels never cause.
pub fn init_keys<P: CryptoProvider + ?Sized>(
    p: &P,
    shared_secret: &Key,
) -> Result<InitKeys, CryptoError> {
    let mut okm = Secret::<96>::zero();
    labeled_expand(
        p,
        shared_secret,
        labels::RATCHET_INIT,
        b"",
        okm.expose_mut(),
    )?;
    let (root_key, initiator_header_key, responder_header_key) = split96(&okm);
    Ok(InitKeys {
        root_key,
        initiator_header_key,
        responder_header_key,
    })
}

/// `KDF_RK(RK, dh_out)` (spec §5.2.2).
///
/// # Errors
/// Only on an internal label error, which the fixed labels never cause.
pub fn kdf_rk<P: CryptoProvider + ?Sized>(
    p: &P,
    root_key: &Key,
    dh_out: &Key,
) -> Result<RootStep, CryptoError> {
    let prk = labeled_extract(p, root_key.expose(), labels::ROOT, &[dh_out.expose()])?;
    let mut okm = Secret::<96>::zero();
    labeled_expand(p, &prk, labels::ROOT, b"", okm.expose_mut())?;
    let (root_key, chain_key, next_header_key) = split96(&okm);
    Ok(RootStep {
        root_key,
        chain_key,
        next_header_key,
    })
}

/// `KDF_CK(CK)` (spec §5.2.3): the next chain key and this step's message key.
///
/// # Errors
/// Only on an internal label error, which the fixed labels never cause.
#[inline]
pub fn kdf_ck<P: CryptoProvider + ?Sized>(
    p: &P,
    chain_key: &Key,
) -> Result<(Key, Key), CryptoError> {
    let next = p.hmac_sha256(chain_key.expose(), &[&CHAIN_LABEL]);
    let message_key = p.hmac_sha256(chain_key.expose(), &[&MESSAGE_LABEL]);
    Ok((next, message_key))
}

/// `MessageKeys(MK, salt)` (spec §5.2.4): the AEAD key and nonce of one
/// message. The message's fresh salt makes them differ each time a message
/// key is used, even when a restored older state derives the same `MK` again.
///
/// # Errors
/// Only on an internal label error, which the fixed labels never cause.
#[inline]
pub fn message_keys<P: CryptoProvider + ?Sized>(
    p: &P,
    message_key: &Key,
    salt: &[u8; SALT_LEN],
) -> Result<MessageKeys, CryptoError> {
    let mut okm = Secret::<MESSAGE_KEYS_LEN>::zero();
    p.hkdf_expand(message_key, &[&MESSAGE_KEYS_INFO, salt], okm.expose_mut())?;
    let b = okm.expose();
    let mut key = Key::zero();
    key.expose_mut().copy_from_slice(&b[..32]);
    let mut nonce = [0u8; AEAD_NONCE_LEN];
    nonce.copy_from_slice(&b[32..]);
    Ok(MessageKeys { key, nonce })
}

/// The two keys a header key expands to (spec §5.2.5).
pub struct HeaderKeys {
    /// `HEK`: the ChaCha20-Poly1305 key that encrypts headers.
    pub encryption_key: Key,
    /// `HNK`: the HMAC key that derives header nonces.
    pub nonce_key: Key,
}

/// `HeaderKeys(HK)` (spec §5.2.5): separate AEAD and nonce keys, so that no
/// key serves two primitives.
///
/// # Errors
/// Only on an internal label error, which the fixed labels never cause.
pub fn header_keys<P: CryptoProvider + ?Sized>(
    p: &P,
    header_key: &Key,
) -> Result<HeaderKeys, CryptoError> {
    let mut okm = Secret::<64>::zero();
    p.hkdf_expand(header_key, &[&HEADER_KEYS_INFO], okm.expose_mut())?;
    let b = okm.expose();
    let mut encryption_key = Key::zero();
    let mut nonce_key = Key::zero();
    encryption_key.expose_mut().copy_from_slice(&b[..32]);
    nonce_key.expose_mut().copy_from_slice(&b[32..]);
    Ok(HeaderKeys {
        encryption_key,
        nonce_key,
    })
}

/// `HeaderNonce(HNK, n, salt)` (spec §5.2.5): the nonce of the header of
/// message `n` with salt `salt`.
///
/// # Errors
/// Only on an internal label error, which the fixed labels never cause.
pub fn header_nonce<P: CryptoProvider + ?Sized>(
    p: &P,
    nonce_key: &Key,
    n: u32,
    salt: &[u8; SALT_LEN],
) -> Result<[u8; AEAD_NONCE_LEN], CryptoError> {
    let mac = p.hmac_sha256(
        nonce_key.expose(),
        &[&HEADER_NONCE_LABEL, &n.to_be_bytes(), salt],
    );
    let mut nonce = [0u8; AEAD_NONCE_LEN];
    nonce.copy_from_slice(&mac.expose()[..AEAD_NONCE_LEN]);
    Ok(nonce)
}
