//! Errors of the ratchet (spec §5.8).

use super::message::ParseError;
use crate::error::CryptoError;

/// Why a ratchet could not be created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InitError {
    /// The session associated data is longer than [`MAX_SESSION_AD_LEN`](super::MAX_SESSION_AD_LEN).
    #[error("session associated data is too long")]
    SessionAdTooLong,
    /// A key derivation failed.
    #[error(transparent)]
    Crypto(#[from] CryptoError),
}

/// Why a message could not be encrypted. The ratchet is unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncryptError {
    /// The plaintext is longer than [`MAX_PLAINTEXT_LEN`](super::MAX_PLAINTEXT_LEN).
    #[error("plaintext is too long")]
    PlaintextTooLong,
    /// A responder cannot send before it has received the initiator's first message (spec §5.3).
    #[error("no sending chain yet: the responder must receive a message first")]
    NoSendingChain,
    /// The sending chain has reached 2^32 - 1 messages; it ends when the peer's next message arrives.
    #[error("sending chain exhausted")]
    ChainExhausted,
    /// The peer's ratchet public key gives an all-zero X25519 output.
    #[error("peer's ratchet key is a low-order point")]
    LowOrderRatchetKey,
    /// The buffer given to [`Ratchet::encrypt_in_place`](super::Ratchet::encrypt_in_place)
    /// is shorter than the message prefix it must leave room for.
    #[error("no room for the message prefix before the plaintext")]
    NoHeadroom,
    /// The random number generator failed; nothing changed.
    #[error("the random number generator failed")]
    Randomness,
    /// A primitive failed.
    #[error(transparent)]
    Crypto(CryptoError),
}

/// Why a message was rejected. In every case the ratchet is exactly as it was
/// before the call (spec §5.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecryptError {
    /// The bytes are not a well-formed ratchet message (spec §6.5).
    #[error("malformed message: {0}")]
    Malformed(#[from] ParseError),
    /// The message's type does not match the session's header mode (spec §5.6).
    #[error("message type {0:#04x} does not match this session's header mode")]
    WrongMessageType(u8),
    /// No header key of this session opens the encrypted header (spec §5.6.3).
    #[error("encrypted header does not open under any header key of this session")]
    HeaderAuthentication,
    /// The body failed AEAD authentication (spec §5.5).
    #[error("message authentication failed")]
    Authentication,
    /// The message's chain is held but its key is not: the message was
    /// already received (a replay), or its key was evicted (spec §5.5.5). A
    /// message of a chain no longer held cannot be told from a forgery and
    /// fails with [`Authentication`](Self::Authentication) or
    /// [`HeaderAuthentication`](Self::HeaderAuthentication) (spec §5.8).
    #[error("message {n} already received or expired")]
    DuplicateOrExpired {
        /// The message number.
        n: u32,
    },
    /// Decrypting would skip more than [`MAX_SKIP`](super::MAX_SKIP) message keys in one chain.
    #[error("message {n} skips {skip} keys, more than allowed")]
    TooManySkipped {
        /// The message number.
        n: u32,
        /// Keys that would be skipped.
        skip: u32,
    },
    /// The message number is at or beyond the end its sender announced for that chain.
    #[error("message {n} is beyond the end of its chain ({end} messages)")]
    BeyondChainEnd {
        /// The message number.
        n: u32,
        /// The chain length announced by the sender.
        end: u32,
    },
    /// The decrypted plaintext is not canonically padded (spec §5.4).
    #[error("invalid padding")]
    InvalidPadding,
    /// The sender's ratchet key gives an all-zero X25519 output.
    #[error("sender's ratchet key is a low-order point")]
    LowOrderRatchetKey,
    /// A primitive failed.
    #[error(transparent)]
    Crypto(CryptoError),
}
