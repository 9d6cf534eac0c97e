//! The labelled building blocks (spec §3.7).
//!
//! Every key derivation, MAC, hash and signature in Sova goes through one of
//! these functions, which prepend the encoded label (spec §2.4):
//!
//! ```text
//! EncodeLabel(L)                = u8(len("SOVA-1 " || L)) || "SOVA-1 " || L
//! LabeledHash(L, data)          = SHA-256(EncodeLabel(L) || data)
//! LabeledMac(key, L, data)      = HMAC-SHA-256(key, EncodeLabel(L) || data)
//! LabeledExtract(salt, L, ikm)  = HKDF-Extract(salt, EncodeLabel(L) || ikm)
//! LabeledExpand(prk, L, ctx, N) = HKDF-Expand(prk, EncodeLabel(L) || u16(N) || ctx, N)
//! LabeledSign(sk, L, msg)       = Ed25519-Sign(sk, EncodeLabel(L) || msg)
//! LabeledVerify(pk, L, msg, s)  = Ed25519-VerifyStrict(pk, EncodeLabel(L) || msg, s)
//! ```
//!
//! Inputs are taken as lists of parts and fed to the primitive without
//! concatenation, so none of these allocate (except signing, whose message
//! must be contiguous).

use alloc::vec::Vec;

use crate::error::CryptoError;
use crate::labels::PREFIX;
use crate::provider::{CryptoProvider, ED25519_KEY_LEN, ED25519_SIG_LEN, HASH_LEN};
use crate::secret::Secret;

/// Longest label: the encoded prefix and label must fit in 255 bytes.
pub const MAX_LABEL_LEN: usize = 255 - PREFIX.len();

/// The three parts of `EncodeLabel(label)`: the length byte, the prefix and the label.
struct Encoded<'a> {
    len: [u8; 1],
    label: &'a [u8],
}

impl<'a> Encoded<'a> {
    fn new(label: &'a str) -> Result<Self, CryptoError> {
        let total = PREFIX.len() + label.len();
        let len = u8::try_from(total).map_err(|_| CryptoError::LabelTooLong)?;
        Ok(Self {
            len: [len],
            label: label.as_bytes(),
        })
    }
}

/// `EncodeLabel(label)` as one byte string (spec §2.4).
///
/// # Errors
/// [`CryptoError::LabelTooLong`] when the label is longer than [`MAX_LABEL_LEN`].
pub fn encode_label(label: &str) -> Result<Vec<u8>, CryptoError> {
    let e = Encoded::new(label)?;
    let mut out = Vec::with_capacity(1 + PREFIX.len() + label.len());
    out.extend_from_slice(&e.len);
    out.extend_from_slice(PREFIX.as_bytes());
    out.extend_from_slice(e.label);
    Ok(out)
}

/// The length of `EncodeLabel(label)`.
pub(crate) const fn encoded_len(label: &str) -> usize {
    1 + PREFIX.len() + label.len()
}

/// `EncodeLabel(label)`, computed at compile time for the derivations that
/// run on every message, so that the label reaches the hash as one part
/// rather than three. `N` must be [`encoded_len`]`(label)` and the label at
/// most [`MAX_LABEL_LEN`] bytes; a constant that breaks either fails to compile.
pub(crate) const fn encoded_label<const N: usize>(label: &str) -> [u8; N] {
    let mut out = [0u8; N];
    let n = write_encoded(&mut out, label);
    assert!(n == N, "wrong length for an encoded label");
    out
}

/// `EncodeLabel(label) || u16(len)`, the fixed start of the info of a
/// `LabeledExpand` of `len` bytes, computed at compile time. `N` must be
/// [`encoded_len`]`(label) + 2`.
pub(crate) const fn expand_info<const N: usize>(label: &str, len: u16) -> [u8; N] {
    let mut out = [0u8; N];
    let at = write_encoded(&mut out, label);
    assert!(at + 2 == N, "wrong length for an expand info");
    let len = len.to_be_bytes();
    out[at] = len[0];
    out[at + 1] = len[1];
    out
}

/// Writes `EncodeLabel(label)` at the start of `out`; returns its length.
const fn write_encoded(out: &mut [u8], label: &str) -> usize {
    let n = encoded_len(label);
    assert!(n <= 256 && n <= out.len(), "label too long");
    out[0] = (n - 1) as u8;
    let mut i = 0;
    while i < PREFIX.len() {
        out[1 + i] = PREFIX.as_bytes()[i];
        i += 1;
    }
    let mut j = 0;
    while j < label.len() {
        out[1 + PREFIX.len() + j] = label.as_bytes()[j];
        j += 1;
    }
    n
}

/// Runs `f` with the parts `EncodeLabel(label) || data...` on the stack.
fn with_parts<R>(
    label: &str,
    data: &[&[u8]],
    f: impl FnOnce(&[&[u8]]) -> R,
) -> Result<R, CryptoError> {
    const MAX_PARTS: usize = 8;
    let e = Encoded::new(label)?;
    let mut parts: [&[u8]; MAX_PARTS + 3] = [&[]; MAX_PARTS + 3];
    parts[0] = &e.len;
    parts[1] = PREFIX.as_bytes();
    parts[2] = e.label;
    let n = data.len();
    if n > MAX_PARTS {
        // Concatenate the tail rather than fail: callers never pass this
        // many parts, but the function stays total.
        // The parts may be secret (an IKM): the copy is wiped when dropped.
        let tail = zeroize::Zeroizing::new(data.concat());
        parts[3] = &tail[..];
        return Ok(f(&parts[..4]));
    }
    parts[3..3 + n].copy_from_slice(data);
    Ok(f(&parts[..3 + n]))
}

/// `LabeledHash(label, data)` = SHA-256(EncodeLabel(label) || data) (spec §3.7).
///
/// # Errors
/// [`CryptoError::LabelTooLong`].
pub fn labeled_hash<P: CryptoProvider + ?Sized>(
    p: &P,
    label: &str,
    data: &[&[u8]],
) -> Result<[u8; HASH_LEN], CryptoError> {
    with_parts(label, data, |parts| p.sha256(parts))
}

/// `LabeledMac(key, label, data)` = HMAC-SHA-256(key, EncodeLabel(label) || data) (spec §3.7).
///
/// # Errors
/// [`CryptoError::LabelTooLong`].
pub fn labeled_mac<P: CryptoProvider + ?Sized>(
    p: &P,
    key: &[u8],
    label: &str,
    data: &[&[u8]],
) -> Result<Secret<HASH_LEN>, CryptoError> {
    with_parts(label, data, |parts| p.hmac_sha256(key, parts))
}

/// `LabeledExtract(salt, label, ikm)` = HKDF-Extract(salt, EncodeLabel(label) || ikm) (spec §3.7).
///
/// # Errors
/// [`CryptoError::LabelTooLong`].
pub fn labeled_extract<P: CryptoProvider + ?Sized>(
    p: &P,
    salt: &[u8],
    label: &str,
    ikm: &[&[u8]],
) -> Result<Secret<HASH_LEN>, CryptoError> {
    with_parts(label, ikm, |parts| p.hkdf_extract(salt, parts))
}

/// `LabeledExpand(prk, label, context, N)` =
/// HKDF-Expand(prk, EncodeLabel(label) || u16(N) || context, N), with `N = out.len()` (spec §3.7).
///
/// # Errors
/// [`CryptoError::LabelTooLong`], [`CryptoError::KdfOutputTooLong`].
pub fn labeled_expand<P: CryptoProvider + ?Sized>(
    p: &P,
    prk: &Secret<HASH_LEN>,
    label: &str,
    context: &[u8],
    out: &mut [u8],
) -> Result<(), CryptoError> {
    let n = u16::try_from(out.len()).map_err(|_| CryptoError::KdfOutputTooLong)?;
    let n_bytes = n.to_be_bytes();
    with_parts(label, &[&n_bytes, context], |parts| {
        p.hkdf_expand(prk, parts, out)
    })?
}

/// The message a labelled signature covers: `EncodeLabel(label) || msg`.
fn signed_message(label: &str, msg: &[&[u8]]) -> Result<Vec<u8>, CryptoError> {
    let mut m = encode_label(label)?;
    for part in msg {
        m.extend_from_slice(part);
    }
    Ok(m)
}

/// `LabeledSign(sk, label, msg)` = Ed25519-Sign(sk, EncodeLabel(label) || msg) (spec §3.7).
///
/// # Errors
/// [`CryptoError::LabelTooLong`].
pub fn labeled_sign<P: CryptoProvider + ?Sized>(
    p: &P,
    seed: &Secret<ED25519_KEY_LEN>,
    label: &str,
    msg: &[&[u8]],
) -> Result<[u8; ED25519_SIG_LEN], CryptoError> {
    let m = signed_message(label, msg)?;
    Ok(p.ed25519_sign(seed, &m))
}

/// `LabeledVerify(pk, label, msg, sig)`: strict Ed25519 verification of
/// `EncodeLabel(label) || msg` (spec §3.7).
///
/// # Errors
/// [`CryptoError::InvalidSignature`], [`CryptoError::LabelTooLong`].
pub fn labeled_verify<P: CryptoProvider + ?Sized>(
    p: &P,
    public_key: &[u8; ED25519_KEY_LEN],
    label: &str,
    msg: &[&[u8]],
    signature: &[u8; ED25519_SIG_LEN],
) -> Result<(), CryptoError> {
    let m = signed_message(label, msg)?;
    p.ed25519_verify(public_key, &m, signature)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::all_providers;
    use alloc::vec;

    #[test]
    fn encode_label_layout() {
        let e = encode_label("root").unwrap();
        assert_eq!(e[0] as usize, "SOVA-1 root".len());
        assert_eq!(&e[1..], b"SOVA-1 root");
    }

    #[test]
    fn compile_time_encodings_match() {
        const E: [u8; encoded_len("message keys")] = encoded_label("message keys");
        const I: [u8; encoded_len("message keys") + 2] = expand_info("message keys", 44);
        let want = encode_label("message keys").unwrap();
        assert_eq!(E.as_slice(), want.as_slice());
        assert_eq!(&I[..want.len()], want.as_slice());
        assert_eq!(&I[want.len()..], &44u16.to_be_bytes());
    }

    #[test]
    fn label_length_limit() {
        let ok = "a".repeat(MAX_LABEL_LEN);
        let too_long = "a".repeat(MAX_LABEL_LEN + 1);
        assert!(encode_label(&ok).is_ok());
        assert_eq!(encode_label(&too_long), Err(CryptoError::LabelTooLong));
        for p in all_providers() {
            assert_eq!(
                labeled_hash(*p, &too_long, &[]),
                Err(CryptoError::LabelTooLong)
            );
        }
    }

    #[test]
    fn building_blocks_equal_their_definitions() {
        for p in all_providers() {
            let label = "test";
            let enc = encode_label(label).unwrap();
            let data = b"some data";
            // LabeledHash
            let want = p.sha256(&[&[enc.as_slice(), data].concat()]);
            assert_eq!(labeled_hash(*p, label, &[data]).unwrap(), want);
            // LabeledMac
            let want = p.hmac_sha256(b"key", &[&[enc.as_slice(), data].concat()]);
            assert_eq!(labeled_mac(*p, b"key", label, &[data]).unwrap(), want);
            // LabeledExtract
            let want = p.hkdf_extract(b"salt", &[&[enc.as_slice(), data].concat()]);
            let prk = labeled_extract(*p, b"salt", label, &[data]).unwrap();
            assert_eq!(prk, want);
            // LabeledExpand
            let mut a = [0u8; 44];
            labeled_expand(*p, &prk, label, b"ctx", &mut a).unwrap();
            let mut b = [0u8; 44];
            let info = [enc.as_slice(), &44u16.to_be_bytes(), b"ctx"].concat();
            p.hkdf_expand(&prk, &[&info], &mut b).unwrap();
            assert_eq!(a, b);
            // Many parts still hash the concatenation.
            let many: vec::Vec<&[u8]> = vec![b"a"; 12];
            assert_eq!(
                labeled_hash(*p, label, &many).unwrap(),
                p.sha256(&[&enc, &[b'a'; 12]])
            );
        }
    }

    #[test]
    fn labeled_signatures_are_domain_separated() {
        for p in all_providers() {
            let seed = Secret::from_bytes([9u8; 32]);
            let pk = p.ed25519_public_key(&seed);
            let sig = labeled_sign(*p, &seed, "one", &[b"msg"]).unwrap();
            assert!(labeled_verify(*p, &pk, "one", &[b"msg"], &sig).is_ok());
            assert_eq!(
                labeled_verify(*p, &pk, "two", &[b"msg"], &sig),
                Err(CryptoError::InvalidSignature)
            );
            assert_eq!(
                labeled_verify(*p, &pk, "one", &[b"msh"], &sig),
                Err(CryptoError::InvalidSignature)
            );
        }
    }

    #[test]
    fn expand_rejects_oversized_output() {
        for p in all_providers() {
            let prk = Secret::from_bytes([1u8; 32]);
            let mut out = vec![0u8; crate::provider::HKDF_MAX_OUTPUT + 1];
            assert_eq!(
                labeled_expand(*p, &prk, "x", b"", &mut out),
                Err(CryptoError::KdfOutputTooLong)
            );
        }
    }
}
