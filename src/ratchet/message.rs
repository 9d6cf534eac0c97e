//! The ratchet message wire format (spec §6).
//!
//! Two message types share one framing. All integers are big-endian.
//!
//! Type `0x01`, header in the clear (spec §6.2):
//!
//! | offset | size | field                                   |
//! |-------:|-----:|-----------------------------------------|
//! | 0      | 1    | version = `0x01`                        |
//! | 1      | 1    | type = `0x01`                           |
//! | 2      | 32   | sender's ratchet public key             |
//! | 34     | 4    | `pn`, length of sender's previous chain |
//! | 38     | 4    | `n`, message number in this chain       |
//! | 42     | 16   | `salt`, fresh random bytes              |
//! | 58     | 4    | `B`, body length                        |
//! | 62     | B    | body: ciphertext ‖ 16-byte tag          |
//!
//! Type `0x02`, encrypted header (spec §6.3):
//!
//! | offset | size | field                                   |
//! |-------:|-----:|-----------------------------------------|
//! | 0      | 1    | version = `0x01`                        |
//! | 1      | 1    | type = `0x02`                           |
//! | 2      | 12   | header nonce                            |
//! | 14     | 56   | encrypted header                        |
//! | 70     | 16   | header tag                              |
//! | 86     | 4    | `B`, body length                        |
//! | 90     | B    | body: ciphertext ‖ 16-byte tag          |
//!
//! `B - 16` MUST be a padded length (spec §5.4); nothing may follow the body.
//! Parsing borrows from the input and never allocates.

use crate::codec::{Reader, Truncated};
use crate::provider::{AEAD_NONCE_LEN, AEAD_TAG_LEN, X25519_LEN};
use crate::ratchet::padding::{is_padded_len, MAX_PADDED_LEN};

/// The protocol version byte of SOVA-1 messages.
pub const VERSION: u8 = 0x01;
/// Message type: ratchet message with the header in the clear.
pub const TYPE_PLAIN_HEADER: u8 = 0x01;
/// Message type: ratchet message with an encrypted header.
pub const TYPE_ENCRYPTED_HEADER: u8 = 0x02;
/// Length of the per-message salt (spec §5.2.4, §6.1).
pub const SALT_LEN: usize = 16;
/// Length of an encoded header (spec §6.1).
pub const HEADER_LEN: usize = 56;
/// Bytes before the body in a type `0x01` message.
pub const PLAIN_PREFIX_LEN: usize = 62;
/// Bytes before the body in a type `0x02` message.
pub const ENCRYPTED_PREFIX_LEN: usize = 90;
/// Largest body: the largest padded plaintext plus the tag.
pub const MAX_BODY_LEN: usize = MAX_PADDED_LEN + AEAD_TAG_LEN;
/// Largest ratchet message on the wire (spec §6.4).
pub const MAX_MESSAGE_LEN: usize = ENCRYPTED_PREFIX_LEN + MAX_BODY_LEN;

/// A ratchet header (spec §6.1): `dh (32) || pn (u32) || n (u32) || salt (16)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// The sender's current ratchet public key.
    pub ratchet_key: [u8; X25519_LEN],
    /// Number of messages in the sender's previous sending chain.
    pub previous_chain_len: u32,
    /// This message's number in its sending chain, from 0.
    pub n: u32,
    /// Fresh random bytes mixed into the message's key, nonce and header
    /// nonce, so that re-encrypting after a state rollback never repeats a
    /// (key, nonce) pair (spec §5.2.4, §9.10).
    pub salt: [u8; SALT_LEN],
}

impl Header {
    /// The 56-byte encoding.
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[..32].copy_from_slice(&self.ratchet_key);
        out[32..36].copy_from_slice(&self.previous_chain_len.to_be_bytes());
        out[36..40].copy_from_slice(&self.n.to_be_bytes());
        out[40..].copy_from_slice(&self.salt);
        out
    }

    /// Decodes 56 bytes; every 56-byte string is a valid header.
    pub fn decode(bytes: &[u8; HEADER_LEN]) -> Self {
        let mut ratchet_key = [0u8; 32];
        ratchet_key.copy_from_slice(&bytes[..32]);
        let mut pn = [0u8; 4];
        pn.copy_from_slice(&bytes[32..36]);
        let mut n = [0u8; 4];
        n.copy_from_slice(&bytes[36..40]);
        let mut salt = [0u8; SALT_LEN];
        salt.copy_from_slice(&bytes[40..]);
        Self {
            ratchet_key,
            previous_chain_len: u32::from_be_bytes(pn),
            n: u32::from_be_bytes(n),
            salt,
        }
    }
}

/// Why bytes are not a well-formed ratchet message (spec §6.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// The input ends before the field named.
    #[error("message truncated in field `{0}`")]
    Truncated(&'static str),
    /// The version byte is not `0x01`.
    #[error("unsupported message version {0:#04x}")]
    UnsupportedVersion(u8),
    /// The type byte is not a known message type.
    #[error("unknown message type {0:#04x}")]
    UnknownType(u8),
    /// The body length is not a padded length plus the 16-byte tag, or exceeds the maximum.
    #[error("invalid body length {0}")]
    InvalidBodyLength(u32),
    /// Bytes follow the body.
    #[error("{0} trailing bytes after the message")]
    TrailingBytes(usize),
}

/// A parsed ratchet message, borrowing from the input.
#[derive(Debug, Clone, Copy)]
pub struct Parsed<'a> {
    /// The header, when it is in the clear.
    pub kind: Kind<'a>,
    /// Every byte before the body (authenticated as associated data).
    pub prefix: &'a [u8],
    /// The body ciphertext, without the tag.
    pub ciphertext: &'a [u8],
    /// The body tag.
    pub tag: [u8; AEAD_TAG_LEN],
}

/// The header part of a parsed message.
#[derive(Debug, Clone, Copy)]
pub enum Kind<'a> {
    /// Type `0x01`: the header in the clear.
    PlainHeader(Header),
    /// Type `0x02`: the encrypted header.
    EncryptedHeader {
        /// The header nonce.
        nonce: [u8; AEAD_NONCE_LEN],
        /// The 56 encrypted header bytes.
        ciphertext: &'a [u8; HEADER_LEN],
        /// The header tag.
        tag: [u8; AEAD_TAG_LEN],
    },
}

fn field(name: &'static str) -> impl Fn(Truncated) -> ParseError {
    move |_| ParseError::Truncated(name)
}

/// Parses a ratchet message (spec §6.5). Accepts exactly the canonical encodings.
///
/// # Errors
/// A [`ParseError`] naming the first rule the input breaks.
pub fn parse(bytes: &[u8]) -> Result<Parsed<'_>, ParseError> {
    let mut r = Reader::new(bytes);
    let version = r.u8().map_err(field("version"))?;
    if version != VERSION {
        return Err(ParseError::UnsupportedVersion(version));
    }
    let ty = r.u8().map_err(field("type"))?;
    let kind = match ty {
        TYPE_PLAIN_HEADER => {
            let h: [u8; HEADER_LEN] = r.array().map_err(field("header"))?;
            Kind::PlainHeader(Header::decode(&h))
        }
        TYPE_ENCRYPTED_HEADER => {
            let nonce = r.array().map_err(field("header nonce"))?;
            let ct = r.bytes(HEADER_LEN).map_err(field("encrypted header"))?;
            let ciphertext: &[u8; HEADER_LEN] = ct
                .try_into()
                .map_err(|_| ParseError::Truncated("encrypted header"))?;
            let tag = r.array().map_err(field("header tag"))?;
            Kind::EncryptedHeader {
                nonce,
                ciphertext,
                tag,
            }
        }
        other => return Err(ParseError::UnknownType(other)),
    };
    let body_len = r.u32().map_err(field("body length"))?;
    let padded = (body_len as usize).wrapping_sub(AEAD_TAG_LEN);
    if (body_len as usize) < AEAD_TAG_LEN || !is_padded_len(padded) {
        return Err(ParseError::InvalidBodyLength(body_len));
    }
    let prefix_len = r.position();
    let ciphertext = r.bytes(padded).map_err(field("body"))?;
    let tag = r.array().map_err(field("body"))?;
    if r.remaining() != 0 {
        return Err(ParseError::TrailingBytes(r.remaining()));
    }
    Ok(Parsed {
        kind,
        prefix: &bytes[..prefix_len],
        ciphertext,
        tag,
    })
}
