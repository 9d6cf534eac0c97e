//! Group messages (spec §12.6).

use super::ParseError;
use crate::codec::Reader;
use crate::provider::{AEAD_TAG_LEN, ED25519_SIG_LEN};

pub(crate) const VERSION: u8 = 1;
/// The type byte of a group message (spec §12.6).
pub const TYPE_GROUP_MESSAGE: u8 = 0x30;
/// The length of a group message header (spec §12.6).
pub(crate) const HEADER_LEN: usize = 2 + 32 + 8 + 32 + 32 + 4 + 4 + 4;
/// The longest body: the padded longest plaintext and its tag (spec §12.6).
pub(crate) const MAX_BODY_LEN: usize =
    crate::ratchet::padding::padded_len(crate::ratchet::MAX_PLAINTEXT_LEN) + AEAD_TAG_LEN;

/// A parsed group message (spec §12.6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMessage<'a> {
    /// The group.
    pub group_id: [u8; 32],
    /// The epoch it was sent in.
    pub epoch: u64,
    /// That epoch's state hash, as the sender held it.
    pub state_hash: [u8; 32],
    /// The sender's user key.
    pub sender_user: [u8; 32],
    /// The sending device's id.
    pub sender_device: u32,
    /// The chain's generation.
    pub generation: u32,
    /// The message's index in its chain.
    pub index: u32,
    pub(crate) header: &'a [u8],
    pub(crate) ciphertext: &'a [u8],
    pub(crate) signed: &'a [u8],
    pub(crate) signature: [u8; ED25519_SIG_LEN],
}

impl<'a> GroupMessage<'a> {
    /// Parses a group message (spec §12.6, check 1).
    ///
    /// # Errors
    /// [`ParseError`].
    pub fn parse(bytes: &'a [u8]) -> Result<Self, ParseError> {
        let mut r = Reader::new(bytes);
        let t = |f: &'static str| move |_| ParseError::Truncated(f);
        let v = r.u8().map_err(t("version"))?;
        if v != VERSION {
            return Err(ParseError::UnsupportedVersion(v));
        }
        if r.u8().map_err(t("type"))? != TYPE_GROUP_MESSAGE {
            return Err(ParseError::BadMagic);
        }
        let group_id = r.array().map_err(t("group id"))?;
        let epoch = r.u64().map_err(t("epoch"))?;
        let state_hash = r.array().map_err(t("state hash"))?;
        let sender_user = r.array().map_err(t("sender user key"))?;
        let sender_device = r.u32().map_err(t("sender device id"))?;
        let generation = r.u32().map_err(t("generation"))?;
        let index = r.u32().map_err(t("index"))?;
        let len32 = r.u32().map_err(t("body length"))?;
        let len = len32 as usize;
        // spec §12.6: len ≤ the longest padded plaintext plus the tag.
        if len > MAX_BODY_LEN {
            return Err(ParseError::BodyLength(len32));
        }
        let ciphertext = r.bytes(len).map_err(t("body"))?;
        if ciphertext.len() < AEAD_TAG_LEN {
            return Err(ParseError::Truncated("body"));
        }
        let signed_end = r.position();
        let signature = r.array().map_err(t("signature"))?;
        if r.remaining() != 0 {
            return Err(ParseError::TrailingBytes);
        }
        Ok(Self {
            group_id,
            epoch,
            state_hash,
            sender_user,
            sender_device,
            generation,
            index,
            header: &bytes[..HEADER_LEN],
            ciphertext,
            signed: &bytes[..signed_end],
            signature,
        })
    }
}
