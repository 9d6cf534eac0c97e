//! Publishing prekeys (spec §7.11): the upload of a batch of prekeys to the
//! server, and the bundles a server assembles from what it stored.
//!
//! | size | field |
//! |-----:|-------|
//! | 1 | version `0x01` |
//! | 1 | type `0x11` (prekey upload) |
//! | 128 | the uploader's [`IdentityPublic`] |
//! | 1 | `0x00`, or `0x01` and the long-term part: |
//! | 4 + 32 + 64 | signed prekey: id, X25519 key, signature |
//! | 4 + 1184 + 64 | last-resort ML-KEM-768 prekey: id, key, signature |
//! | 2 | `count`, at most [`MAX_UPLOAD_ENTRIES`] |
//! | `count` × | `0x04`, id, X25519 key (37 bytes), or `0x03`, id, ML-KEM-768 key, signature (1,253 bytes) |
//!
//! Every signature is exactly the one a bundle (spec §7.3) carries for the
//! key, so a server can assemble standard bundles without the device:
//! [`PrekeyBundle::assemble`], [`PrekeyUpload::bundle`].

use alloc::boxed::Box;
use alloc::vec::Vec;

use super::bundle::{PrekeyBundle, VERSION};
use super::identity::{IdentityPublic, IDENTITY_PUBLIC_LEN};
use super::prekey::{verify_prekey, PrekeyKind};
use super::{MAX_KEM_ONE_TIME_PREKEYS, MAX_ONE_TIME_PREKEYS};
use crate::codec::{Reader, Truncated, Writer};
use crate::provider::{CryptoProvider, ED25519_SIG_LEN, MLKEM_EK_LEN, X25519_LEN};

/// The type byte of a prekey upload (spec §7.11).
pub const TYPE_PREKEY_UPLOAD: u8 = 0x11;

/// The most entries an upload holds: [`MAX_ONE_TIME_PREKEYS`] one-time
/// X25519 prekeys and [`MAX_KEM_ONE_TIME_PREKEYS`] one-time ML-KEM-768
/// prekeys, everything an account can hold (spec §7.11).
pub const MAX_UPLOAD_ENTRIES: usize = MAX_ONE_TIME_PREKEYS + MAX_KEM_ONE_TIME_PREKEYS;

/// Bytes of an encoded one-time X25519 entry: kind, id, key.
const X25519_ENTRY_LEN: usize = 1 + 4 + X25519_LEN;
/// Bytes of an encoded one-time ML-KEM-768 entry: kind, id, key, signature.
const KEM_ENTRY_LEN: usize = 1 + 4 + MLKEM_EK_LEN + ED25519_SIG_LEN;
/// Bytes of the long-term part.
const LONG_TERM_LEN: usize = 4 + X25519_LEN + ED25519_SIG_LEN + 4 + MLKEM_EK_LEN + ED25519_SIG_LEN;

/// Why an upload is rejected (spec §7.11). The parser's errors come first,
/// in the order the fields are read; the signature errors of
/// [`PrekeyUpload::verify`] after them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UploadError {
    /// The input ends inside the named field.
    #[error("prekey upload truncated in field `{0}`")]
    Truncated(&'static str),
    /// The version byte is not `0x01`.
    #[error("unsupported prekey upload version {0:#04x}")]
    UnsupportedVersion(u8),
    /// The type byte is not `0x11`.
    #[error("not a prekey upload (type {0:#04x})")]
    WrongType(u8),
    /// The long-term flag is not `0x00` or `0x01`.
    #[error("invalid long-term flag {0:#04x}")]
    InvalidFlag(u8),
    /// More entries than an account holds: a `count` above
    /// [`MAX_UPLOAD_ENTRIES`], or an entry past [`MAX_ONE_TIME_PREKEYS`]
    /// X25519 or [`MAX_KEM_ONE_TIME_PREKEYS`] ML-KEM-768 entries.
    #[error("too many entries in the prekey upload")]
    TooManyEntries,
    /// An entry's kind is not `0x03` (one-time ML-KEM-768) or `0x04`
    /// (one-time X25519).
    #[error("invalid entry kind {0:#04x}")]
    InvalidKind(u8),
    /// A prekey id occurs twice in the upload (long-term part included).
    #[error("prekey id {0} occurs twice")]
    DuplicateId(u32),
    /// Bytes follow the last entry.
    #[error("{0} trailing bytes after the prekey upload")]
    TrailingBytes(usize),
    /// The identity's binding signature does not verify.
    #[error("identity binding signature is invalid")]
    InvalidIdentitySignature,
    /// The signed prekey's signature does not verify.
    #[error("signed prekey signature is invalid")]
    InvalidSignedPrekeySignature,
    /// The signature of the ML-KEM-768 prekey with this id (last-resort or
    /// one-time) does not verify.
    #[error("signature of ML-KEM prekey {0} is invalid")]
    InvalidKemPrekeySignature(u32),
}

/// Why a bundle cannot be assembled from an upload ([`PrekeyUpload::bundle`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AssembleError {
    /// The upload has no long-term part (signed and last-resort prekeys).
    #[error("the upload has no long-term part")]
    NoLongTermPart,
    /// The upload holds no one-time prekey of the requested kind with this id.
    #[error("no one-time prekey {0} in the upload")]
    UnknownPrekey(u32),
}

/// The long-lived part of what a server hands out: the signed X25519 prekey
/// and the last-resort ML-KEM-768 prekey, each with the signature a bundle
/// carries (spec §7.3).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct LongTermPrekeys {
    /// Id of the signed prekey.
    pub signed_prekey_id: u32,
    /// The signed X25519 prekey `SPK`.
    pub signed_prekey: [u8; X25519_LEN],
    /// `PrekeySignature(0x01, spk_id, SPK)`.
    pub signed_prekey_signature: [u8; ED25519_SIG_LEN],
    /// Id of the last-resort ML-KEM-768 prekey.
    pub kem_last_resort_id: u32,
    /// Its encapsulation key.
    pub kem_last_resort: Box<[u8; MLKEM_EK_LEN]>,
    /// `PrekeySignature(0x02, kem_id, PQPK)`.
    pub kem_last_resort_signature: [u8; ED25519_SIG_LEN],
}

/// A one-time ML-KEM-768 prekey as published: id, encapsulation key and
/// `PrekeySignature(0x03, id, key)`.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct KemOneTimePublic {
    /// The prekey id.
    pub id: u32,
    /// The encapsulation key.
    pub key: Box<[u8; MLKEM_EK_LEN]>,
    /// Its signature, the one a bundle carries.
    pub signature: [u8; ED25519_SIG_LEN],
}

/// One published one-time prekey.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum UploadEntry {
    /// A one-time X25519 prekey (kind `0x04`): id and public key; not signed
    /// (spec §7.2).
    X25519 {
        /// The prekey id.
        id: u32,
        /// The public key `OPK`.
        key: [u8; X25519_LEN],
    },
    /// A one-time ML-KEM-768 prekey (kind `0x03`).
    Kem(KemOneTimePublic),
}

impl UploadEntry {
    /// The prekey id.
    pub fn id(&self) -> u32 {
        match self {
            Self::X25519 { id, .. } => *id,
            Self::Kem(k) => k.id,
        }
    }

    /// The kind byte: `0x04` or `0x03`.
    pub fn kind(&self) -> PrekeyKind {
        match self {
            Self::X25519 { .. } => PrekeyKind::OneTimeX25519,
            Self::Kem(_) => PrekeyKind::KemOneTime,
        }
    }
}

/// A batch of prekeys uploaded to the server (spec §7.11): the identity
/// once, optionally the long-term part, and one-time prekeys.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct PrekeyUpload {
    /// The uploader's identity.
    pub identity: IdentityPublic,
    /// The signed and last-resort prekeys, when they are (re)published.
    pub long_term: Option<LongTermPrekeys>,
    /// The one-time prekeys, in the order of the encoding.
    pub entries: Vec<UploadEntry>,
}

fn field(name: &'static str) -> impl Fn(Truncated) -> UploadError {
    move |_| UploadError::Truncated(name)
}

/// Records `id` among the ids read so far (sorted), or reports it as a duplicate.
fn note_id(ids: &mut Vec<u32>, id: u32) -> Result<(), UploadError> {
    match ids.binary_search(&id) {
        Ok(_) => Err(UploadError::DuplicateId(id)),
        Err(i) => {
            ids.insert(i, id);
            Ok(())
        }
    }
}

impl PrekeyUpload {
    /// Whether the upload carries nothing but the identity.
    pub fn is_empty(&self) -> bool {
        self.long_term.is_none() && self.entries.is_empty()
    }

    /// Ids of the one-time X25519 prekeys, in order.
    pub fn one_time_prekey_ids(&self) -> Vec<u32> {
        self.entries
            .iter()
            .filter_map(|e| match e {
                UploadEntry::X25519 { id, .. } => Some(*id),
                UploadEntry::Kem(_) => None,
            })
            .collect()
    }

    /// Ids of the one-time ML-KEM-768 prekeys, in order.
    pub fn kem_one_time_prekey_ids(&self) -> Vec<u32> {
        self.entries
            .iter()
            .filter_map(|e| match e {
                UploadEntry::Kem(k) => Some(k.id),
                UploadEntry::X25519 { .. } => None,
            })
            .collect()
    }

    /// The length of [`to_bytes`](Self::to_bytes).
    pub fn encoded_len(&self) -> usize {
        2 + IDENTITY_PUBLIC_LEN
            + 1
            + self.long_term.as_ref().map_or(0, |_| LONG_TERM_LEN)
            + 2
            + self
                .entries
                .iter()
                .map(|e| match e {
                    UploadEntry::X25519 { .. } => X25519_ENTRY_LEN,
                    UploadEntry::Kem(_) => KEM_ENTRY_LEN,
                })
                .sum::<usize>()
    }

    /// The encoding of spec §7.11. An upload holding more than
    /// [`MAX_UPLOAD_ENTRIES`] entries has no encoding its parser accepts;
    /// [`Account::unpublished_prekeys`](super::Account::unpublished_prekeys)
    /// never builds one.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        out.put_u8(VERSION);
        out.put_u8(TYPE_PREKEY_UPLOAD);
        out.put(&self.identity.to_bytes());
        match &self.long_term {
            None => out.put_u8(0),
            Some(l) => {
                out.put_u8(1);
                out.put_u32(l.signed_prekey_id);
                out.put(&l.signed_prekey);
                out.put(&l.signed_prekey_signature);
                out.put_u32(l.kem_last_resort_id);
                out.put(&l.kem_last_resort[..]);
                out.put(&l.kem_last_resort_signature);
            }
        }
        out.put_u16(u16::try_from(self.entries.len()).unwrap_or(u16::MAX));
        for e in &self.entries {
            match e {
                UploadEntry::X25519 { id, key } => {
                    out.put_u8(PrekeyKind::OneTimeX25519 as u8);
                    out.put_u32(*id);
                    out.put(key);
                }
                UploadEntry::Kem(k) => {
                    out.put_u8(PrekeyKind::KemOneTime as u8);
                    out.put_u32(k.id);
                    out.put(&k.key[..]);
                    out.put(&k.signature);
                }
            }
        }
        out
    }

    /// Parses an upload; does not check signatures (see
    /// [`verify`](Self::verify)). Each field is checked as soon as it is
    /// read, so the first rule broken in field order names the error.
    ///
    /// # Errors
    /// An [`UploadError`] naming the first rule broken.
    pub fn parse(bytes: &[u8]) -> Result<Self, UploadError> {
        let mut r = Reader::new(bytes);
        let v = r.u8().map_err(field("version"))?;
        if v != VERSION {
            return Err(UploadError::UnsupportedVersion(v));
        }
        let t = r.u8().map_err(field("type"))?;
        if t != TYPE_PREKEY_UPLOAD {
            return Err(UploadError::WrongType(t));
        }
        let identity = IdentityPublic::read(&mut r).map_err(field("identity"))?;
        let mut ids: Vec<u32> = Vec::new();
        let long_term = match r.u8().map_err(field("long-term flag"))? {
            0 => None,
            1 => {
                let signed_prekey_id = r.u32().map_err(field("signed prekey id"))?;
                note_id(&mut ids, signed_prekey_id)?;
                let signed_prekey = r.array().map_err(field("signed prekey"))?;
                let signed_prekey_signature =
                    r.array().map_err(field("signed prekey signature"))?;
                let kem_last_resort_id = r.u32().map_err(field("last-resort prekey id"))?;
                note_id(&mut ids, kem_last_resort_id)?;
                let kem: [u8; MLKEM_EK_LEN] = r.array().map_err(field("last-resort prekey"))?;
                let kem_last_resort_signature =
                    r.array().map_err(field("last-resort prekey signature"))?;
                Some(LongTermPrekeys {
                    signed_prekey_id,
                    signed_prekey,
                    signed_prekey_signature,
                    kem_last_resort_id,
                    kem_last_resort: Box::new(kem),
                    kem_last_resort_signature,
                })
            }
            f => return Err(UploadError::InvalidFlag(f)),
        };
        let count = usize::from(r.u16().map_err(field("entry count"))?);
        if count > MAX_UPLOAD_ENTRIES {
            return Err(UploadError::TooManyEntries);
        }
        let mut entries = Vec::with_capacity(count);
        let (mut x25519, mut kem) = (0usize, 0usize);
        for _ in 0..count {
            let kind = r.u8().map_err(field("entry kind"))?;
            let (n, max) = match kind {
                0x04 => (&mut x25519, MAX_ONE_TIME_PREKEYS),
                0x03 => (&mut kem, MAX_KEM_ONE_TIME_PREKEYS),
                k => return Err(UploadError::InvalidKind(k)),
            };
            if *n >= max {
                return Err(UploadError::TooManyEntries);
            }
            *n += 1;
            let id = r.u32().map_err(field("entry id"))?;
            note_id(&mut ids, id)?;
            entries.push(if kind == 0x04 {
                UploadEntry::X25519 {
                    id,
                    key: r.array().map_err(field("one-time prekey"))?,
                }
            } else {
                let key: [u8; MLKEM_EK_LEN] = r.array().map_err(field("KEM one-time prekey"))?;
                let signature = r.array().map_err(field("KEM one-time prekey signature"))?;
                UploadEntry::Kem(KemOneTimePublic {
                    id,
                    key: Box::new(key),
                    signature,
                })
            });
        }
        if r.remaining() != 0 {
            return Err(UploadError::TrailingBytes(r.remaining()));
        }
        Ok(Self {
            identity,
            long_term,
            entries,
        })
    }

    /// Checks, in this order, the identity binding, the signed prekey's and
    /// the last-resort prekey's signatures (when the long-term part is
    /// present) and each ML-KEM-768 entry's signature, in entry order
    /// (strict Ed25519, spec §3.3, §7.11). One-time X25519 prekeys carry no
    /// signature (spec §7.2).
    ///
    /// # Errors
    /// The first signature that fails.
    pub fn verify<P: CryptoProvider + ?Sized>(&self, p: &P) -> Result<(), UploadError> {
        self.identity
            .verify(p)
            .map_err(|_| UploadError::InvalidIdentitySignature)?;
        let ik = &self.identity.signing_key;
        if let Some(l) = &self.long_term {
            verify_prekey(
                p,
                ik,
                PrekeyKind::SignedX25519,
                l.signed_prekey_id,
                &l.signed_prekey,
                &l.signed_prekey_signature,
            )
            .map_err(|_| UploadError::InvalidSignedPrekeySignature)?;
            verify_prekey(
                p,
                ik,
                PrekeyKind::KemLastResort,
                l.kem_last_resort_id,
                &l.kem_last_resort[..],
                &l.kem_last_resort_signature,
            )
            .map_err(|_| UploadError::InvalidKemPrekeySignature(l.kem_last_resort_id))?;
        }
        for e in &self.entries {
            if let UploadEntry::Kem(k) = e {
                verify_prekey(
                    p,
                    ik,
                    PrekeyKind::KemOneTime,
                    k.id,
                    &k.key[..],
                    &k.signature,
                )
                .map_err(|_| UploadError::InvalidKemPrekeySignature(k.id))?;
            }
        }
        Ok(())
    }

    /// The bundle a server hands out from this upload alone: its long-term
    /// part, the one-time X25519 prekey `one_time_prekey` if given, and the
    /// one-time ML-KEM-768 prekey `kem_one_time_prekey` if given, else the
    /// last-resort one (spec §7.11). It equals the bundle
    /// [`Account::bundle`](super::Account::bundle) gives for the same ids,
    /// byte for byte.
    ///
    /// # Errors
    /// [`AssembleError::NoLongTermPart`], or
    /// [`AssembleError::UnknownPrekey`] for an id not in the upload (or of
    /// the other kind).
    pub fn bundle(
        &self,
        one_time_prekey: Option<u32>,
        kem_one_time_prekey: Option<u32>,
    ) -> Result<PrekeyBundle, AssembleError> {
        let long_term = self
            .long_term
            .as_ref()
            .ok_or(AssembleError::NoLongTermPart)?;
        let opk = match one_time_prekey {
            None => None,
            Some(want) => Some(
                self.entries
                    .iter()
                    .find_map(|e| match e {
                        UploadEntry::X25519 { id, key } if *id == want => Some((*id, *key)),
                        _ => None,
                    })
                    .ok_or(AssembleError::UnknownPrekey(want))?,
            ),
        };
        let kem = match kem_one_time_prekey {
            None => None,
            Some(want) => Some(
                self.entries
                    .iter()
                    .find_map(|e| match e {
                        UploadEntry::Kem(k) if k.id == want => Some(k),
                        _ => None,
                    })
                    .ok_or(AssembleError::UnknownPrekey(want))?,
            ),
        };
        Ok(PrekeyBundle::assemble(&self.identity, long_term, opk, kem))
    }
}

impl PrekeyBundle {
    /// Assembles the bundle a server hands out (spec §7.11) from what it
    /// stored: the identity and the long-term part, a one-time X25519 prekey
    /// `(id, key)` if it has one left, and a one-time ML-KEM-768 prekey if it
    /// has one left, else the last-resort one. Nothing is signed here: every
    /// signature is the uploaded one.
    pub fn assemble(
        identity: &IdentityPublic,
        long_term: &LongTermPrekeys,
        one_time_prekey: Option<(u32, [u8; X25519_LEN])>,
        kem_one_time_prekey: Option<&KemOneTimePublic>,
    ) -> Self {
        let (kind, id, key, signature) = match kem_one_time_prekey {
            Some(k) => (PrekeyKind::KemOneTime, k.id, k.key.clone(), k.signature),
            None => (
                PrekeyKind::KemLastResort,
                long_term.kem_last_resort_id,
                long_term.kem_last_resort.clone(),
                long_term.kem_last_resort_signature,
            ),
        };
        Self {
            identity: *identity,
            signed_prekey_id: long_term.signed_prekey_id,
            signed_prekey: long_term.signed_prekey,
            signed_prekey_signature: long_term.signed_prekey_signature,
            one_time_prekey,
            kem_prekey_kind: kind,
            kem_prekey_id: id,
            kem_prekey: key,
            kem_prekey_signature: signature,
        }
    }
}
