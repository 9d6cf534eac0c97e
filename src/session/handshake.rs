//! The hybrid handshake (spec §7.4–§7.6): X3DH-style Diffie-Hellman values
//! plus an ML-KEM-768 encapsulation, bound together by a transcript hash.
//!
//! ```text
//! TH  = LabeledHash("handshake transcript",
//!         IdentityPublic_A || IdentityPublic_B
//!         || u32(spk_id) || SPK_B
//!         || u8(opk?) [|| u32(opk_id) || OPK_B]
//!         || u8(kem_kind) || u32(kem_id) || SHA-256(KEMPK_B)
//!         || EK_A || CT)
//! PRK = LabeledExtract(TH, "handshake", DH1 || DH2 || DH3 [|| DH4] || SS)
//! SK  = LabeledExpand(PRK, "session secret", "", 32)
//! ```
//!
//! The initial message (type `0x03`, spec §7.5):
//!
//! | size  | field                                                  |
//! |------:|--------------------------------------------------------|
//! | 1     | version `0x01`                                         |
//! | 1     | type `0x03`                                            |
//! | 128   | initiator's `IdentityPublic`                           |
//! | 32    | initiator's ephemeral key `EK_A`                       |
//! | 4     | signed prekey id                                       |
//! | 1 (+4)| one-time prekey: `0x00`, or `0x01` then its id         |
//! | 1 + 4 | KEM prekey kind and id                                 |
//! | 1088  | ML-KEM-768 ciphertext `CT`                             |
//! | 4 + L | length and bytes of a ratchet message (spec §6)        |

use alloc::vec::Vec;

use super::identity::IdentityPublic;
use super::prekey::PrekeyKind;
use crate::codec::{Reader, Truncated, Writer};
use crate::kdf::{labeled_expand, labeled_extract, labeled_hash};
use crate::labels;
use crate::provider::{CryptoProvider, HASH_LEN, MLKEM_CT_LEN, MLKEM_EK_LEN, X25519_LEN};
use crate::ratchet::message::MAX_MESSAGE_LEN;
use crate::secret::Secret;
use crate::CryptoError;

/// The type byte of an initial message.
pub const TYPE_INITIAL: u8 = 0x03;

/// Why bytes are not a well-formed initial message (spec §7.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InitialMessageError {
    /// The input ends inside the named field.
    #[error("initial message truncated in field `{0}`")]
    Truncated(&'static str),
    /// The version byte is not `0x01`.
    #[error("unsupported version {0:#04x}")]
    UnsupportedVersion(u8),
    /// The type byte is not `0x03`.
    #[error("not an initial message (type {0:#04x})")]
    WrongType(u8),
    /// A presence flag other than `0x00` or `0x01`.
    #[error("invalid one-time prekey flag {0:#04x}")]
    InvalidFlag(u8),
    /// The KEM prekey kind is not `0x02` or `0x03`.
    #[error("invalid KEM prekey kind {0:#04x}")]
    InvalidKemKind(u8),
    /// The embedded ratchet message is longer than a ratchet message can be.
    #[error("embedded ratchet message too long ({0} bytes)")]
    RatchetMessageTooLong(u32),
    /// Bytes follow the message.
    #[error("{0} trailing bytes after the initial message")]
    TrailingBytes(usize),
}

/// The handshake fields of an initial message: everything but the ratchet message.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct HandshakeHeader {
    /// The initiator's identity.
    pub identity: IdentityPublic,
    /// The initiator's ephemeral X25519 key `EK_A`.
    pub ephemeral_key: [u8; X25519_LEN],
    /// Id of the responder's signed prekey used.
    pub signed_prekey_id: u32,
    /// Id of the responder's one-time prekey used, if any.
    pub one_time_prekey_id: Option<u32>,
    /// Kind of the responder's ML-KEM prekey used.
    pub kem_prekey_kind: PrekeyKind,
    /// Id of the responder's ML-KEM prekey used.
    pub kem_prekey_id: u32,
    /// The ML-KEM-768 ciphertext.
    pub kem_ciphertext: alloc::boxed::Box<[u8; MLKEM_CT_LEN]>,
}

fn field(name: &'static str) -> impl Fn(Truncated) -> InitialMessageError {
    move |_| InitialMessageError::Truncated(name)
}

impl HandshakeHeader {
    /// Encodes an initial message carrying `ratchet_message`.
    pub fn encode_with(&self, ratchet_message: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(1300 + ratchet_message.len());
        self.encode_fields_into(&mut out);
        out.put_u32(ratchet_message.len() as u32);
        out.put(ratchet_message);
        out
    }

    /// Appends the handshake fields of an initial message: everything
    /// before the ratchet message's length (spec §7.5).
    pub(crate) fn encode_fields_into(&self, out: &mut Vec<u8>) {
        out.put_u8(crate::ratchet::message::VERSION);
        out.put_u8(TYPE_INITIAL);
        out.put(&self.identity.to_bytes());
        out.put(&self.ephemeral_key);
        out.put_u32(self.signed_prekey_id);
        match self.one_time_prekey_id {
            None => out.put_u8(0),
            Some(id) => {
                out.put_u8(1);
                out.put_u32(id);
            }
        }
        out.put_u8(self.kem_prekey_kind as u8);
        out.put_u32(self.kem_prekey_id);
        out.put(&self.kem_ciphertext[..]);
    }

    /// Parses an initial message into its handshake fields and the embedded
    /// ratchet message (which the ratchet parses, spec §6.5).
    ///
    /// # Errors
    /// An [`InitialMessageError`] naming the first rule broken.
    pub fn parse(bytes: &[u8]) -> Result<(Self, &[u8]), InitialMessageError> {
        let mut r = Reader::new(bytes);
        let v = r.u8().map_err(field("version"))?;
        if v != crate::ratchet::message::VERSION {
            return Err(InitialMessageError::UnsupportedVersion(v));
        }
        let t = r.u8().map_err(field("type"))?;
        if t != TYPE_INITIAL {
            return Err(InitialMessageError::WrongType(t));
        }
        let identity = IdentityPublic::read(&mut r).map_err(field("identity"))?;
        let ephemeral_key = r.array().map_err(field("ephemeral key"))?;
        let signed_prekey_id = r.u32().map_err(field("signed prekey id"))?;
        let one_time_prekey_id = match r.u8().map_err(field("one-time prekey flag"))? {
            0 => None,
            1 => Some(r.u32().map_err(field("one-time prekey id"))?),
            f => return Err(InitialMessageError::InvalidFlag(f)),
        };
        let kind = r.u8().map_err(field("KEM prekey kind"))?;
        let kem_prekey_kind =
            PrekeyKind::kem_from_u8(kind).ok_or(InitialMessageError::InvalidKemKind(kind))?;
        let kem_prekey_id = r.u32().map_err(field("KEM prekey id"))?;
        let ct: [u8; MLKEM_CT_LEN] = r.array().map_err(field("KEM ciphertext"))?;
        let len = r.u32().map_err(field("ratchet message length"))?;
        if len as usize > MAX_MESSAGE_LEN {
            return Err(InitialMessageError::RatchetMessageTooLong(len));
        }
        let inner = r.bytes(len as usize).map_err(field("ratchet message"))?;
        if r.remaining() != 0 {
            return Err(InitialMessageError::TrailingBytes(r.remaining()));
        }
        Ok((
            Self {
                identity,
                ephemeral_key,
                signed_prekey_id,
                one_time_prekey_id,
                kem_prekey_kind,
                kem_prekey_id,
                kem_ciphertext: alloc::boxed::Box::new(ct),
            },
            inner,
        ))
    }
}

/// The public values the transcript hash covers (spec §7.4).
pub struct Transcript<'a> {
    /// The initiator's identity.
    pub initiator: &'a IdentityPublic,
    /// The responder's identity.
    pub responder: &'a IdentityPublic,
    /// Signed prekey id and key.
    pub signed_prekey: (u32, &'a [u8; X25519_LEN]),
    /// One-time prekey id and key, if used.
    pub one_time_prekey: Option<(u32, &'a [u8; X25519_LEN])>,
    /// KEM prekey kind, id and encapsulation key.
    pub kem_prekey: (PrekeyKind, u32, &'a [u8; MLKEM_EK_LEN]),
    /// The initiator's ephemeral key.
    pub ephemeral_key: &'a [u8; X25519_LEN],
    /// The KEM ciphertext.
    pub kem_ciphertext: &'a [u8; MLKEM_CT_LEN],
}

/// The secrets of a handshake: DH1..DH4 and the KEM shared secret.
pub struct HandshakeSecrets {
    /// `DH1`, `DH2`, `DH3` and, with a one-time prekey, `DH4`.
    pub dh: Vec<Secret<32>>,
    /// The ML-KEM-768 shared secret `SS`.
    pub kem_shared_secret: Secret<32>,
}

/// The handshake's outputs: the transcript hash (also the session's id and
/// associated data) and the session secret.
pub struct HandshakeKeys {
    /// `TH`.
    pub transcript_hash: [u8; HASH_LEN],
    /// `SK`.
    pub session_secret: Secret<32>,
}

/// `TH` (spec §7.4).
///
/// # Errors
/// Only on an internal label error, which the fixed labels never cause.
pub fn transcript_hash<P: CryptoProvider + ?Sized>(
    p: &P,
    t: &Transcript<'_>,
) -> Result<[u8; HASH_LEN], CryptoError> {
    let a = t.initiator.to_bytes();
    let b = t.responder.to_bytes();
    let mut buf = Vec::with_capacity(512);
    buf.put(&a);
    buf.put(&b);
    buf.put_u32(t.signed_prekey.0);
    buf.put(t.signed_prekey.1);
    match t.one_time_prekey {
        None => buf.put_u8(0),
        Some((id, key)) => {
            buf.put_u8(1);
            buf.put_u32(id);
            buf.put(key);
        }
    }
    buf.put_u8(t.kem_prekey.0 as u8);
    buf.put_u32(t.kem_prekey.1);
    buf.put(&p.sha256(&[&t.kem_prekey.2[..]]));
    buf.put(t.ephemeral_key);
    buf.put(&t.kem_ciphertext[..]);
    labeled_hash(p, labels::HANDSHAKE_TRANSCRIPT, &[&buf])
}

/// `SK` from `TH` and the handshake secrets (spec §7.4).
///
/// # Errors
/// Only on an internal label error, which the fixed labels never cause.
pub fn derive_keys<P: CryptoProvider + ?Sized>(
    p: &P,
    transcript_hash: [u8; HASH_LEN],
    secrets: &HandshakeSecrets,
) -> Result<HandshakeKeys, CryptoError> {
    let mut ikm: [&[u8]; 5] = [&[]; 5];
    let mut n = 0;
    for d in &secrets.dh {
        if n < 4 {
            ikm[n] = d.expose();
            n += 1;
        }
    }
    ikm[n] = secrets.kem_shared_secret.expose();
    let prk = labeled_extract(p, &transcript_hash, labels::HANDSHAKE, &ikm[..=n])?;
    let mut session_secret = Secret::zero();
    labeled_expand(
        p,
        &prk,
        labels::SESSION_SECRET,
        b"",
        session_secret.expose_mut(),
    )?;
    Ok(HandshakeKeys {
        transcript_hash,
        session_secret,
    })
}
