//! Prekey bundles (spec §7.3): what an initiator fetches to start a session.
//!
//! | size   | field                                                     |
//! |-------:|-----------------------------------------------------------|
//! | 1      | version = `0x01`                                          |
//! | 1      | type = `0x10` (bundle)                                    |
//! | 128    | the responder's [`IdentityPublic`]                        |
//! | 4 + 32 + 64 | signed prekey: id, X25519 key, signature             |
//! | 1 (+ 4 + 32) | one-time prekey: `0x00`, or `0x01` then id and key  |
//! | 1 + 4 + 1184 + 64 | ML-KEM-768 prekey: kind (`0x02` last resort, `0x03` one-time), id, key, signature |

use alloc::boxed::Box;
use alloc::vec::Vec;

use super::identity::IdentityPublic;
use super::prekey::{verify_prekey, PrekeyKind};
use crate::codec::{Reader, Truncated, Writer};
use crate::provider::{CryptoProvider, ED25519_SIG_LEN, MLKEM_EK_LEN, X25519_LEN};

/// The type byte of a bundle.
pub const TYPE_BUNDLE: u8 = 0x10;
/// The protocol version byte.
pub const VERSION: u8 = 0x01;

/// Why a bundle is rejected (spec §7.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BundleError {
    /// The input ends inside the named field.
    #[error("bundle truncated in field `{0}`")]
    Truncated(&'static str),
    /// The version byte is not `0x01`.
    #[error("unsupported bundle version {0:#04x}")]
    UnsupportedVersion(u8),
    /// The type byte is not `0x10`.
    #[error("not a bundle (type {0:#04x})")]
    WrongType(u8),
    /// A presence flag other than `0x00` or `0x01`.
    #[error("invalid one-time prekey flag {0:#04x}")]
    InvalidFlag(u8),
    /// The KEM prekey kind is not `0x02` or `0x03`.
    #[error("invalid KEM prekey kind {0:#04x}")]
    InvalidKemKind(u8),
    /// Bytes follow the bundle.
    #[error("{0} trailing bytes after the bundle")]
    TrailingBytes(usize),
    /// The identity's binding signature does not verify.
    #[error("identity binding signature is invalid")]
    InvalidIdentitySignature,
    /// The signed prekey's signature does not verify.
    #[error("signed prekey signature is invalid")]
    InvalidSignedPrekeySignature,
    /// The ML-KEM prekey's signature does not verify.
    #[error("ML-KEM prekey signature is invalid")]
    InvalidKemPrekeySignature,
}

/// A parsed prekey bundle.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct PrekeyBundle {
    /// The responder's identity.
    pub identity: IdentityPublic,
    /// Id of the signed prekey.
    pub signed_prekey_id: u32,
    /// The signed X25519 prekey `SPK`.
    pub signed_prekey: [u8; X25519_LEN],
    /// Its signature.
    pub signed_prekey_signature: [u8; ED25519_SIG_LEN],
    /// A one-time X25519 prekey `(id, OPK)`, if the server had one.
    pub one_time_prekey: Option<(u32, [u8; X25519_LEN])>,
    /// [`PrekeyKind::KemLastResort`] or [`PrekeyKind::KemOneTime`].
    pub kem_prekey_kind: PrekeyKind,
    /// Id of the ML-KEM prekey.
    pub kem_prekey_id: u32,
    /// The ML-KEM-768 encapsulation key.
    pub kem_prekey: Box<[u8; MLKEM_EK_LEN]>,
    /// Its signature.
    pub kem_prekey_signature: [u8; ED25519_SIG_LEN],
}

fn field(name: &'static str) -> impl Fn(Truncated) -> BundleError {
    move |_| BundleError::Truncated(name)
}

impl PrekeyBundle {
    /// The encoding of spec §7.3.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(1600);
        out.put_u8(VERSION);
        out.put_u8(TYPE_BUNDLE);
        out.put(&self.identity.to_bytes());
        out.put_u32(self.signed_prekey_id);
        out.put(&self.signed_prekey);
        out.put(&self.signed_prekey_signature);
        match &self.one_time_prekey {
            None => out.put_u8(0),
            Some((id, key)) => {
                out.put_u8(1);
                out.put_u32(*id);
                out.put(key);
            }
        }
        out.put_u8(self.kem_prekey_kind as u8);
        out.put_u32(self.kem_prekey_id);
        out.put(&self.kem_prekey[..]);
        out.put(&self.kem_prekey_signature);
        out
    }

    /// Parses a bundle; does not check signatures (see [`verify`](Self::verify)).
    ///
    /// # Errors
    /// A [`BundleError`] naming the first rule broken.
    pub fn parse(bytes: &[u8]) -> Result<Self, BundleError> {
        let mut r = Reader::new(bytes);
        let v = r.u8().map_err(field("version"))?;
        if v != VERSION {
            return Err(BundleError::UnsupportedVersion(v));
        }
        let t = r.u8().map_err(field("type"))?;
        if t != TYPE_BUNDLE {
            return Err(BundleError::WrongType(t));
        }
        let identity = IdentityPublic::read(&mut r).map_err(field("identity"))?;
        let signed_prekey_id = r.u32().map_err(field("signed prekey id"))?;
        let signed_prekey = r.array().map_err(field("signed prekey"))?;
        let signed_prekey_signature = r.array().map_err(field("signed prekey signature"))?;
        let one_time_prekey = match r.u8().map_err(field("one-time prekey flag"))? {
            0 => None,
            1 => Some((
                r.u32().map_err(field("one-time prekey id"))?,
                r.array().map_err(field("one-time prekey"))?,
            )),
            f => return Err(BundleError::InvalidFlag(f)),
        };
        let kind_byte = r.u8().map_err(field("KEM prekey kind"))?;
        let kem_prekey_kind =
            PrekeyKind::kem_from_u8(kind_byte).ok_or(BundleError::InvalidKemKind(kind_byte))?;
        let kem_prekey_id = r.u32().map_err(field("KEM prekey id"))?;
        let kem: [u8; MLKEM_EK_LEN] = r.array().map_err(field("KEM prekey"))?;
        let kem_prekey_signature = r.array().map_err(field("KEM prekey signature"))?;
        if r.remaining() != 0 {
            return Err(BundleError::TrailingBytes(r.remaining()));
        }
        Ok(Self {
            identity,
            signed_prekey_id,
            signed_prekey,
            signed_prekey_signature,
            one_time_prekey,
            kem_prekey_kind,
            kem_prekey_id,
            kem_prekey: Box::new(kem),
            kem_prekey_signature,
        })
    }

    /// Checks the identity binding and both prekey signatures (spec §7.3).
    ///
    /// # Errors
    /// The first signature that fails.
    pub fn verify<P: CryptoProvider + ?Sized>(&self, p: &P) -> Result<(), BundleError> {
        self.identity
            .verify(p)
            .map_err(|_| BundleError::InvalidIdentitySignature)?;
        let ik = &self.identity.signing_key;
        verify_prekey(
            p,
            ik,
            PrekeyKind::SignedX25519,
            self.signed_prekey_id,
            &self.signed_prekey,
            &self.signed_prekey_signature,
        )
        .map_err(|_| BundleError::InvalidSignedPrekeySignature)?;
        verify_prekey(
            p,
            ik,
            self.kem_prekey_kind,
            self.kem_prekey_id,
            &self.kem_prekey[..],
            &self.kem_prekey_signature,
        )
        .map_err(|_| BundleError::InvalidKemPrekeySignature)
    }
}
