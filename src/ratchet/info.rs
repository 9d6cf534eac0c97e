//! What a decryption tells the application about the message's place in the
//! conversation (spec §5.9).

use crate::provider::X25519_LEN;

/// Where a decrypted message stands among the peer's messages (spec §5.9):
/// enough to order messages and to notice gaps without trusting the server.
///
/// Everything here is authenticated: it comes from the message's header,
/// which the AEAD binds (spec §5.5.2), and from the receiver's own state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct MessageInfo {
    /// The sender's ratchet public key: it names the sending chain. Each
    /// chain has its own key, and a new chain starts each time the sender
    /// has heard from us.
    pub chain: [u8; X25519_LEN],
    /// The message's number in its chain, from 0.
    pub number: u32,
    /// The length of the sender's previous sending chain, as its header
    /// says (`PN`, spec §5.2.2).
    pub previous_chain_len: u32,
    /// The message was decrypted with a stored skipped key: a later message
    /// of the same chain, or of a later chain, arrived before it.
    pub late: bool,
    /// The message opened a new receiving chain (a DH ratchet step).
    pub new_chain: bool,
    /// How many messages this one showed to be missing: the keys it derived
    /// to store for messages of its chain (and, for a new chain, of the
    /// chain it closed) that have not arrived. They may still arrive
    /// ([`late`](Self::late)), unless eviction under
    /// [`MAX_STORED_KEYS`](crate::ratchet::MAX_STORED_KEYS) deleted them in
    /// the same step (spec §5.5.5).
    pub gap: u32,
}
