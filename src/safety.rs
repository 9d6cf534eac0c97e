//! Safety numbers: the fingerprints two people compare to authenticate each
//! other's identity keys out of band (spec §10).
//!
//! A party's public identity is its 64-byte
//! [`IdentityKey`](crate::session::IdentityKey), `IK_sig || IK_dh` (its
//! Ed25519 and X25519 identity public keys, spec §7.1). Each identity is
//! hashed into a 64-byte [`fingerprint`] by 5200 iterations of SHA-512:
//!
//! ```text
//! Fingerprint(identity):                  # identity: bytes[64]
//!     h = EncodeLabel("safety number") || u16(1) || identity
//!     for i in 0..5200:
//!         h = SHA-512(h || identity)
//!     return h                            # bytes[64]
//! ```
//!
//! The first 30 bytes of a fingerprint become 30 decimal digits
//! ([`fingerprint_digits`]); the [`SafetyNumber`] of two parties is their two
//! 30-digit strings, the one of the lexicographically smaller identity first,
//! so both parties compute the same 60 digits. For scanning, the same two
//! fingerprints (32 bytes each) form a 65-byte QR payload that is
//! *directional*: a device displays its own fingerprint first and its peer's
//! second ([`SafetyNumber::qr_payload`]), and a scanning device accepts only
//! its peer's fingerprint followed by its own, refusing its own code
//! ([`verify_scanned`], [`SafetyError::OwnCode`]).
//!
//! Everything here is a function of public keys: nothing is secret, and a
//! safety number does not depend on any session.

use alloc::string::String;

use subtle::ConstantTimeEq;

use crate::kdf::{encode_label, MAX_LABEL_LEN};
use crate::labels::SAFETY_NUMBER;
use crate::provider::{CryptoProvider, DefaultProvider, ED25519_KEY_LEN, X25519_LEN};

/// Length of a public identity: `IK_sig` (Ed25519, 32 bytes) followed by
/// `IK_dh` (X25519, 32 bytes) (spec §10.2).
pub const IDENTITY_LEN: usize = ED25519_KEY_LEN + X25519_LEN;
/// Length of a fingerprint, one SHA-512 output (spec §10.3).
pub const FINGERPRINT_LEN: usize = 64;
/// The fingerprint format version hashed into every fingerprint (spec §10.3).
pub const FINGERPRINT_VERSION: u16 = 1;
/// Number of SHA-512 iterations of a fingerprint (spec §10.3).
pub const ITERATIONS: usize = 5200;
/// Digits contributed by each party (spec §10.4).
pub const DIGITS_PER_PARTY: usize = 30;
/// Digits of a safety number (spec §10.4).
pub const DIGITS_LEN: usize = 2 * DIGITS_PER_PARTY;
/// Digits per displayed group (spec §10.5).
pub const GROUP_LEN: usize = 5;
/// Groups of a displayed safety number (spec §10.5).
pub const GROUPS: usize = DIGITS_LEN / GROUP_LEN;
/// The version byte that starts a QR payload (spec §10.6). Version `0x01`
/// was an earlier, symmetric layout and is refused as unknown.
pub const QR_VERSION: u8 = 0x02;
/// Bytes of each fingerprint carried in a QR payload (spec §10.6).
pub const QR_FINGERPRINT_LEN: usize = 32;
/// Length of a QR payload: the version byte and two 32-byte fingerprint
/// prefixes, the displaying device's first (spec §10.6).
pub const QR_PAYLOAD_LEN: usize = 1 + 2 * QR_FINGERPRINT_LEN;

/// Bytes of a fingerprint turned into digits: 6 chunks of 5 bytes.
const CHUNK_LEN: usize = 5;
/// Each chunk is reduced modulo 10^5, giving five digits.
const CHUNK_MODULUS: u64 = 100_000;

// `encode_label` can only fail for a label longer than MAX_LABEL_LEN.
const _: () = assert!(SAFETY_NUMBER.len() <= MAX_LABEL_LEN);

/// Why a scanned QR payload was not accepted (spec §10.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SafetyError {
    /// The payload is not [`QR_PAYLOAD_LEN`] (65) bytes long: not a
    /// safety-number code (`QrLength` in spec §10.7).
    #[error("QR payload has {actual} bytes, expected 65")]
    Length {
        /// The length of the scanned payload.
        actual: usize,
    },
    /// The payload's first byte is not [`QR_VERSION`]: it was made by a
    /// different version of the format and cannot be compared
    /// (`QrUnknownVersion` in spec §10.7).
    #[error("QR payload has unknown version {version:#04x}")]
    UnknownVersion {
        /// The payload's first byte.
        version: u8,
    },
    /// The payload names the scanning device's own identity as the
    /// displaying one: it is this device's own code (seen in a mirror, or
    /// relayed back to it), or this device is verifying its own identity
    /// (`QrOwnCode` in spec §10.7). Checked before [`SafetyError::Mismatch`].
    #[error("QR payload is this device's own code, not the peer's")]
    OwnCode,
    /// The payload is well formed but does not match the two identities:
    /// one party holds a different identity for the other, or for itself
    /// (`QrMismatch` in spec §10.7).
    #[error("QR payload does not match the safety number")]
    Mismatch,
}

/// The fingerprint of one public identity (spec §10.3): `h_5200` of the
/// iteration `h_{i+1} = SHA-512(h_i || identity)`, starting from
/// `h_0 = EncodeLabel("safety number") || u16(1) || identity`.
///
/// Costs 5200 SHA-512 computations of 128 or 151 bytes.
pub fn fingerprint<P: CryptoProvider + ?Sized>(
    p: &P,
    identity: &[u8; IDENTITY_LEN],
) -> [u8; FINGERPRINT_LEN] {
    // The assertion above makes the error case unreachable.
    let label = encode_label(SAFETY_NUMBER).unwrap_or_default();
    let version = FINGERPRINT_VERSION.to_be_bytes();
    // i = 0: h_1 = SHA-512(h_0 || identity), with h_0 given as its three parts.
    let mut h = p.sha512(&[&label, &version, identity, identity]);
    // i = 1 .. 5199: h_{i+1} = SHA-512(h_i || identity).
    for _ in 1..ITERATIONS {
        h = p.sha512(&[&h, identity]);
    }
    h
}

/// The 30 digits of a fingerprint (spec §10.4): bytes `5k .. 5k+5` for
/// `k = 0..6`, each read as a big-endian 40-bit integer, reduced modulo
/// 100000 and written as five decimal digits with leading zeros.
pub fn fingerprint_digits(fingerprint: &[u8; FINGERPRINT_LEN]) -> String {
    let mut out = String::with_capacity(DIGITS_PER_PARTY);
    push_digits(&mut out, fingerprint);
    out
}

/// Appends the 30 digits of `fingerprint` to `out`.
fn push_digits(out: &mut String, fingerprint: &[u8; FINGERPRINT_LEN]) {
    let used = DIGITS_PER_PARTY / GROUP_LEN * CHUNK_LEN;
    for chunk in fingerprint[..used].chunks_exact(CHUNK_LEN) {
        let value = chunk.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b)) % CHUNK_MODULUS;
        let mut divisor = CHUNK_MODULUS / 10;
        while divisor > 0 {
            // value / divisor < 10, so the cast cannot truncate.
            out.push(char::from(b'0' + (value / divisor % 10) as u8));
            divisor /= 10;
        }
    }
}

/// The safety number of two parties as seen by one of them (spec §10): 60
/// decimal digits, the same whichever of the two computes it, and the
/// 65-byte QR payloads, which are directional: the payload this party
/// displays names its own identity first (spec §10.6), so the two parties'
/// values have equal digits and mirror-image payloads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SafetyNumber {
    digits: String,
    /// `Fingerprint(ours)[0..32]` (spec §10.6).
    ours: [u8; QR_FINGERPRINT_LEN],
    /// `Fingerprint(theirs)[0..32]` (spec §10.6).
    theirs: [u8; QR_FINGERPRINT_LEN],
}

impl SafetyNumber {
    /// Computes the safety number of the identities `ours` and `theirs`
    /// (spec §10.4, §10.6). Swapping the two arguments gives the same digits
    /// and swaps the two halves of the QR payload.
    ///
    /// `ours == theirs` is allowed (a user comparing two of their own
    /// devices that share an identity); the number then repeats one party's
    /// 30 digits twice, and no scanned payload is accepted (spec §10.7).
    ///
    /// Costs two fingerprints (2 × 5200 SHA-512 computations).
    pub fn compute<P: CryptoProvider + ?Sized>(
        p: &P,
        ours: &[u8; IDENTITY_LEN],
        theirs: &[u8; IDENTITY_LEN],
    ) -> Self {
        // Order by identity so that both parties agree; equal identities
        // give equal fingerprints, so their order does not matter.
        let (lo, hi) = if ours <= theirs {
            (ours, theirs)
        } else {
            (theirs, ours)
        };
        let fp_lo = fingerprint(p, lo);
        let fp_hi = fingerprint(p, hi);
        let mut digits = String::with_capacity(DIGITS_LEN);
        push_digits(&mut digits, &fp_lo);
        push_digits(&mut digits, &fp_hi);
        // spec §10.6: the payload is directional, so keep which is whose.
        let (fp_ours, fp_theirs) = if ours <= theirs {
            (&fp_lo, &fp_hi)
        } else {
            (&fp_hi, &fp_lo)
        };
        Self {
            digits,
            ours: prefix(fp_ours),
            theirs: prefix(fp_theirs),
        }
    }

    /// [`SafetyNumber::compute`] with the [`DefaultProvider`].
    pub fn new(ours: &[u8; IDENTITY_LEN], theirs: &[u8; IDENTITY_LEN]) -> Self {
        Self::compute(&DefaultProvider::default(), ours, theirs)
    }

    /// The 60 ASCII digits, without separators (spec §10.4).
    pub fn digits(&self) -> &str {
        &self.digits
    }

    /// The 12 groups of 5 digits, in display order (spec §10.5).
    pub fn groups(&self) -> impl Iterator<Item = &str> + '_ {
        (0..GROUPS).filter_map(move |i| self.digits.get(i * GROUP_LEN..(i + 1) * GROUP_LEN))
    }

    /// The 12 groups of 5 digits separated by single spaces (71 characters,
    /// spec §10.5); the same text as the [`Display`](core::fmt::Display) form.
    /// Applications laying the number out in rows use [`SafetyNumber::groups`].
    pub fn display(&self) -> String {
        let mut out = String::with_capacity(DIGITS_LEN + GROUPS - 1);
        for (i, group) in self.groups().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            out.push_str(group);
        }
        out
    }

    /// The QR payload this party displays for the other to scan,
    /// `QrPayload(ours, theirs)` (spec §10.6):
    /// `u8(2) || Fingerprint(ours)[0..32] || Fingerprint(theirs)[0..32]`,
    /// its own fingerprint first.
    pub fn qr_payload(&self) -> [u8; QR_PAYLOAD_LEN] {
        payload(&self.ours, &self.theirs)
    }

    /// The only payload this party accepts when scanning: the one the other
    /// party displays, `QrPayload(theirs, ours)` (spec §10.7), the other
    /// party's fingerprint first.
    pub fn expected_scan(&self) -> [u8; QR_PAYLOAD_LEN] {
        payload(&self.theirs, &self.ours)
    }

    /// Checks a QR payload scanned from the other party's screen (spec
    /// §10.7): its length, then its version byte, then whether it is this
    /// party's own code (its displayer part is this party's fingerprint),
    /// then whether it is [`SafetyNumber::expected_scan`]. The comparisons
    /// are made in constant time; the full payload is always compared.
    ///
    /// # Errors
    /// [`SafetyError::Length`], [`SafetyError::UnknownVersion`],
    /// [`SafetyError::OwnCode`] or [`SafetyError::Mismatch`], checked in
    /// that order.
    pub fn verify_scanned(&self, payload: &[u8]) -> Result<(), SafetyError> {
        check_form(payload)?;
        // spec §10.7 step 3: payload[1..33] = Fingerprint(ours)[0..32].
        let own = payload
            .get(1..1 + QR_FINGERPRINT_LEN)
            .map_or(subtle::Choice::from(0), |displayer| {
                displayer.ct_eq(&self.ours[..])
            });
        // spec §10.7 step 4: all 65 bytes against QrPayload(theirs, ours).
        let expected = self.expected_scan();
        let matches = payload.ct_eq(&expected[..]);
        if bool::from(own) {
            Err(SafetyError::OwnCode)
        } else if bool::from(matches) {
            Ok(())
        } else {
            Err(SafetyError::Mismatch)
        }
    }
}

/// The first [`QR_FINGERPRINT_LEN`] bytes of a fingerprint (spec §10.6).
fn prefix(fp: &[u8; FINGERPRINT_LEN]) -> [u8; QR_FINGERPRINT_LEN] {
    let mut out = [0u8; QR_FINGERPRINT_LEN];
    out.copy_from_slice(&fp[..QR_FINGERPRINT_LEN]);
    out
}

/// `u8(QR_VERSION) || first || second` (spec §10.6).
fn payload(
    first: &[u8; QR_FINGERPRINT_LEN],
    second: &[u8; QR_FINGERPRINT_LEN],
) -> [u8; QR_PAYLOAD_LEN] {
    let mut out = [0u8; QR_PAYLOAD_LEN];
    out[0] = QR_VERSION;
    out[1..1 + QR_FINGERPRINT_LEN].copy_from_slice(first);
    out[1 + QR_FINGERPRINT_LEN..].copy_from_slice(second);
    out
}

impl core::fmt::Display for SafetyNumber {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        for (i, group) in self.groups().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            f.write_str(group)?;
        }
        Ok(())
    }
}

/// The checks of a scanned payload that need no fingerprint: length and version.
fn check_form(payload: &[u8]) -> Result<(), SafetyError> {
    match payload {
        [version, ..] if payload.len() == QR_PAYLOAD_LEN => {
            if *version == QR_VERSION {
                Ok(())
            } else {
                Err(SafetyError::UnknownVersion { version: *version })
            }
        }
        _ => Err(SafetyError::Length {
            actual: payload.len(),
        }),
    }
}

/// Checks a QR payload scanned from the other party's screen (spec §10.7):
/// `ours` is the scanning party's identity, `theirs` the identity it holds
/// for the other party. The payload must be the one the other party
/// displays, `QrPayload(theirs, ours)`: the other party's fingerprint first.
/// The length and version are checked before the (costly) fingerprints are
/// computed.
///
/// When `ours == theirs` (a device verifying its own identity) no payload is
/// accepted: the only candidate is the device's own code (spec §10.7).
///
/// # Errors
/// [`SafetyError::Length`], [`SafetyError::UnknownVersion`],
/// [`SafetyError::OwnCode`] or [`SafetyError::Mismatch`], checked in that
/// order.
pub fn verify_scanned<P: CryptoProvider + ?Sized>(
    p: &P,
    ours: &[u8; IDENTITY_LEN],
    theirs: &[u8; IDENTITY_LEN],
    payload: &[u8],
) -> Result<(), SafetyError> {
    check_form(payload)?;
    SafetyNumber::compute(p, ours, theirs).verify_scanned(payload)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::all_providers;
    use alloc::vec::Vec;

    #[test]
    fn fingerprint_is_the_literal_iteration() {
        let identity = [7u8; IDENTITY_LEN];
        for p in all_providers() {
            let mut h: Vec<u8> = encode_label("safety number").unwrap();
            h.extend_from_slice(&[0x00, 0x01]);
            h.extend_from_slice(&identity);
            assert_eq!(h.len(), 87);
            for _ in 0..5200 {
                h = p.sha512(&[&h, &identity]).to_vec();
            }
            assert_eq!(fingerprint(*p, &identity).as_slice(), h.as_slice());
        }
    }

    #[test]
    fn digits_reduce_each_chunk() {
        let mut fp = [0u8; FINGERPRINT_LEN];
        // Chunk 0: 2^40 - 1 = 1099511627775 -> 27775.
        fp[..5].copy_from_slice(&[0xff; 5]);
        // Chunk 1: 0. Chunk 2: 99999 = 0x01869f.
        fp[10..15].copy_from_slice(&[0, 0, 0x01, 0x86, 0x9f]);
        // Chunk 3: 100000 = 0x0186a0 -> 0. Chunk 4: 42.
        fp[15..20].copy_from_slice(&[0, 0, 0x01, 0x86, 0xa0]);
        fp[24] = 42;
        // Bytes 30.. are ignored.
        fp[30..].fill(0xff);
        assert_eq!(fingerprint_digits(&fp), "277750000099999000000004200000");
    }

    #[test]
    fn form_checks() {
        assert_eq!(check_form(&[]), Err(SafetyError::Length { actual: 0 }));
        assert_eq!(
            check_form(&[1u8; 64]),
            Err(SafetyError::Length { actual: 64 })
        );
        let mut payload = [0u8; QR_PAYLOAD_LEN];
        assert_eq!(
            check_form(&payload),
            Err(SafetyError::UnknownVersion { version: 0 })
        );
        payload[0] = QR_VERSION;
        assert_eq!(check_form(&payload), Ok(()));
    }
}
