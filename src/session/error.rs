//! The session layer's errors, one type per operation (spec §7.10), each
//! self-contained: no session operation returns a ratchet error type.
//! Every variant has a stable code ([`AcceptError::code`] and the like:
//! the variant's name) listed in spec appendix B.

#[cfg(doc)]
use super::{AcceptPolicy, Account, Session, MAX_REPLAY_RECORDS};
use super::{BundleError, InitialMessageError};
use crate::ratchet::{self, message::ParseError};
use crate::CryptoError;

/// Errors of [`Account`] management.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AccountError {
    /// No prekey with this id.
    #[error("unknown prekey {0}")]
    UnknownPrekey(u32),
    /// Adding these prekeys would exceed the account's limit.
    #[error("too many one-time prekeys")]
    TooManyPrekeys,
    /// All 2^32 prekey ids have been used.
    #[error("prekey ids exhausted")]
    PrekeyIdsExhausted,
    /// The random number generator failed; nothing changed.
    #[error("the random number generator failed")]
    Randomness,
    /// A primitive failed.
    #[error(transparent)]
    Crypto(CryptoError),
}

impl From<CryptoError> for AccountError {
    fn from(e: CryptoError) -> Self {
        match e {
            CryptoError::RandomnessUnavailable => Self::Randomness,
            other => Self::Crypto(other),
        }
    }
}

/// Why a session could not be started from a bundle (spec §7.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The bundle is malformed or a signature does not verify.
    #[error("invalid bundle: {0}")]
    Bundle(#[from] BundleError),
    /// The bundle belongs to another identity than the expected peer
    /// ([`Session::start`]): the server handed out someone else's bundle.
    #[error("bundle of another identity than the expected peer")]
    UnexpectedPeer,
    /// The bundle's ML-KEM key fails the FIPS 203 check.
    #[error("bundle's ML-KEM prekey is not a valid encapsulation key")]
    InvalidKemPrekey,
    /// A Diffie-Hellman value is all zero: a prekey or identity key is a low-order point.
    #[error("bundle contains a low-order X25519 key")]
    LowOrderKey,
    /// The random number generator failed; no session exists.
    #[error("the random number generator failed")]
    Randomness,
    /// A primitive failed.
    #[error(transparent)]
    Crypto(CryptoError),
}

/// Why an initial message was not accepted (spec §7.6). The account is unchanged.
///
/// Every error of the library has a stable [`code`](Self::code), the name of
/// its variant (spec appendix B), for logs, ports and bindings:
///
/// ```
/// use sova::session::{AcceptError, DecryptError};
/// assert_eq!(AcceptError::Replay.code(), "Replay");
/// let e = AcceptError::FirstMessage(DecryptError::Authentication);
/// assert_eq!((e.code(), match e { AcceptError::FirstMessage(d) => d.code(), _ => "" }),
///            ("FirstMessage", "Authentication"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AcceptError {
    /// The bytes are not a well-formed initial message.
    #[error("malformed initial message: {0}")]
    Malformed(#[from] InitialMessageError),
    /// The initiator is not the peer the caller expects
    /// ([`Account::accept`], [`AcceptPolicy::expect`]).
    #[error("initial message from another identity than the expected peer")]
    UnexpectedPeer,
    /// The embedded message uses another header mode than the policy
    /// requires ([`AcceptPolicy::require_header_mode`]).
    #[error("initial message uses a header mode the policy refuses")]
    HeaderModeRefused,
    /// The initiator's identity binding signature does not verify.
    #[error("initiator's identity signature is invalid")]
    InvalidIdentitySignature,
    /// The signed or last-resort prekey named is not (or no longer) held.
    #[error("unknown prekey {0}")]
    UnknownPrekey(u32),
    /// The one-time prekey named was never issued or was already used.
    #[error("one-time prekey {0} unknown or already used")]
    OneTimePrekeyUnknownOrUsed(u32),
    /// The ephemeral key was already accepted with this signed prekey (a
    /// replayed initial message).
    #[error("replayed initial message")]
    Replay,
    /// The signed prekey named (its id given) already carries
    /// [`MAX_REPLAY_RECORDS`] replay
    /// records, so a handshake without a one-time prekey cannot be recorded
    /// (spec §7.6). Rotate the signed prekey
    /// ([`Account::rotate_signed_prekey`]) and publish the new bundle;
    /// handshakes with a one-time prekey are still accepted.
    #[error("replay records of signed prekey {0} are full: rotate the signed prekey")]
    ReplayStoreFull(u32),
    /// A Diffie-Hellman value is all zero.
    #[error("low-order X25519 key in the initial message")]
    LowOrderKey,
    /// The embedded first message did not decrypt; the reason is what a
    /// session would answer for it.
    #[error("first message rejected: {0}")]
    FirstMessage(DecryptError),
    /// A primitive failed.
    #[error(transparent)]
    Crypto(CryptoError),
}

/// Why a message was not encrypted by a [`Session`] (spec §5.8). The
/// session and any output buffer are unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncryptError {
    /// The plaintext is longer than [`MAX_PLAINTEXT_LEN`](crate::ratchet::MAX_PLAINTEXT_LEN).
    #[error("plaintext is too long")]
    PlaintextTooLong,
    /// A responder cannot send before it has received the initiator's first
    /// message, and a [`Conversation`](super::Conversation) without a session
    /// has nothing to send on.
    #[error("no sending chain yet")]
    NoSendingChain,
    /// The sending chain has reached 2^32 − 1 messages; it ends when the
    /// peer's next message arrives.
    #[error("sending chain exhausted")]
    ChainExhausted,
    /// The peer's ratchet public key gives an all-zero X25519 output.
    #[error("peer's ratchet key is a low-order point")]
    LowOrderRatchetKey,
    /// The random number generator failed; nothing changed.
    #[error("the random number generator failed")]
    Randomness,
    /// A primitive failed.
    #[error(transparent)]
    Crypto(CryptoError),
}

impl From<ratchet::EncryptError> for EncryptError {
    fn from(e: ratchet::EncryptError) -> Self {
        use ratchet::EncryptError as E;
        match e {
            E::PlaintextTooLong => Self::PlaintextTooLong,
            E::NoSendingChain => Self::NoSendingChain,
            E::ChainExhausted => Self::ChainExhausted,
            E::LowOrderRatchetKey => Self::LowOrderRatchetKey,
            E::Randomness => Self::Randomness,
            // Sessions have no in-place encryption with a caller's headroom.
            E::NoHeadroom => Self::Crypto(CryptoError::LabelTooLong),
            E::Crypto(c) => Self::Crypto(c),
        }
    }
}

/// Why a message was not decrypted by a [`Session`] (spec §5.8, §7.6,
/// §7.10). The session is unchanged.
///
/// # What the protocol can and cannot tell apart
/// A message whose key the session still holds, or whose chain it still
/// holds, gets a precise answer: [`DuplicateOrExpired`](Self::DuplicateOrExpired)
/// when its key was used or evicted, [`BeyondChainEnd`](Self::BeyondChainEnd),
/// [`TooManySkipped`](Self::TooManySkipped). A message of a chain the session
/// no longer holds (more than [`MAX_RECEIVING_CHAINS`](crate::ratchet::MAX_RECEIVING_CHAINS)
/// chains ago) cannot be told from a forgery: with clear headers its ratchet
/// key is unknown, so it is taken for a new chain whose keys do not open it
/// ([`Authentication`](Self::Authentication)); with encrypted headers no kept
/// header key opens it ([`HeaderAuthentication`](Self::HeaderAuthentication)).
/// Telling them apart would mean keeping every past chain's key, which the
/// state does not (spec §5.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecryptError {
    /// The bytes are not a well-formed ratchet message (spec §6.5).
    #[error("malformed message: {0}")]
    Malformed(ParseError),
    /// The bytes are not a well-formed initial message (spec §7.5).
    #[error("malformed initial message: {0}")]
    MalformedInitialMessage(InitialMessageError),
    /// The message's type does not match the session's header mode (spec §5.6).
    #[error("message type {0:#04x} does not match this session's header mode")]
    WrongMessageType(u8),
    /// No header key of this session opens the encrypted header (spec §5.6.3):
    /// a forgery, another session's message, or one of a chain no longer held.
    #[error("encrypted header does not open under any header key of this session")]
    HeaderAuthentication,
    /// The body failed authentication (spec §5.5): a forgery, another
    /// session's message, or (clear headers) one of a chain no longer held.
    #[error("message authentication failed")]
    Authentication,
    /// The message's chain is held but its key is not: it was already
    /// received (a duplicate or replay), or its key was evicted under
    /// [`MAX_STORED_KEYS`](crate::ratchet::MAX_STORED_KEYS).
    #[error("message {n} already received or expired")]
    DuplicateOrExpired {
        /// The message number.
        n: u32,
    },
    /// Decrypting would skip more than [`MAX_SKIP`](crate::ratchet::MAX_SKIP) keys in one chain.
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
    /// An initial message that belongs to another session (give it to
    /// [`Account::accept`] or another session).
    #[error("initial message of another session")]
    NotThisSession,
    /// An initial message with this session's ephemeral key whose other
    /// handshake fields differ from the accepted one: a modified copy.
    #[error("initial message differs from the one this session was accepted from")]
    InitialMessageMismatch,
    /// A primitive failed.
    #[error(transparent)]
    Crypto(CryptoError),
}

impl From<ratchet::DecryptError> for DecryptError {
    fn from(e: ratchet::DecryptError) -> Self {
        use ratchet::DecryptError as E;
        match e {
            E::Malformed(m) => Self::Malformed(m),
            E::WrongMessageType(t) => Self::WrongMessageType(t),
            E::HeaderAuthentication => Self::HeaderAuthentication,
            E::Authentication => Self::Authentication,
            E::DuplicateOrExpired { n } => Self::DuplicateOrExpired { n },
            E::TooManySkipped { n, skip } => Self::TooManySkipped { n, skip },
            E::BeyondChainEnd { n, end } => Self::BeyondChainEnd { n, end },
            E::InvalidPadding => Self::InvalidPadding,
            E::LowOrderRatchetKey => Self::LowOrderRatchetKey,
            E::Crypto(c) => Self::Crypto(c),
        }
    }
}

impl From<InitialMessageError> for DecryptError {
    fn from(e: InitialMessageError) -> Self {
        Self::MalformedInitialMessage(e)
    }
}

impl From<ratchet::DecryptError> for AcceptError {
    fn from(e: ratchet::DecryptError) -> Self {
        Self::FirstMessage(e.into())
    }
}

impl From<CryptoError> for StartError {
    fn from(e: CryptoError) -> Self {
        match e {
            CryptoError::X25519LowOrder => Self::LowOrderKey,
            CryptoError::InvalidKemPublicKey => Self::InvalidKemPrekey,
            CryptoError::RandomnessUnavailable => Self::Randomness,
            other => Self::Crypto(other),
        }
    }
}

impl From<CryptoError> for AcceptError {
    fn from(e: CryptoError) -> Self {
        match e {
            CryptoError::X25519LowOrder => Self::LowOrderKey,
            other => Self::Crypto(other),
        }
    }
}
