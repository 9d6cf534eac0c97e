//! Intermediate values of one encryption or decryption, named as in spec §5.

use alloc::vec::Vec;

use super::kdf::Key;
use super::message::{HEADER_LEN, SALT_LEN};

/// Every intermediate of one ratchet operation. Fields that the operation did
/// not compute are `None` (or empty).
#[derive(Default, Debug)]
pub struct Trace {
    /// The new ratchet private key drawn for a sending DH ratchet step.
    pub ratchet_private: Option<Key>,
    /// `DH(DHs, DHr)` of a DH ratchet step.
    pub dh_output: Option<Key>,
    /// The root key after a DH ratchet step.
    pub root_key: Option<Key>,
    /// The next header key output by `KDF_RK`.
    pub next_header_key: Option<Key>,
    /// The header key that encrypted the header (encrypted-header mode).
    pub header_key: Option<Key>,
    /// The header nonce (encrypted-header mode).
    pub header_nonce: Option<[u8; 12]>,
    /// The chain key the message key was derived from (before skipping, on decryption).
    pub chain_key: Option<Key>,
    /// The chain key after this message (encryption).
    pub next_chain_key: Option<Key>,
    /// The message key `MK`.
    pub message_key: Option<Key>,
    /// The AEAD key from `MessageKeys(MK)`.
    pub aead_key: Option<Key>,
    /// The AEAD nonce from `MessageKeys(MK)`.
    pub aead_nonce: Option<[u8; 12]>,
    /// The message's salt (spec §5.2.4): drawn on encryption, read from the header on decryption.
    pub salt: Option<[u8; SALT_LEN]>,
    /// The encoded 56-byte header.
    pub header: Option<[u8; HEADER_LEN]>,
    /// The padded plaintext.
    pub padded_plaintext: Vec<u8>,
    /// Message keys skipped and stored by this decryption, with their numbers.
    pub skipped_keys: Vec<(u32, Key)>,
    /// Keys derived for the rest of the previous receiving chain when a DH
    /// ratchet step closes it (spec §5.5.3), with their numbers.
    pub closed_chain_keys: Vec<(u32, Key)>,
}
