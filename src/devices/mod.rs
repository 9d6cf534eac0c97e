//! Several devices per person (spec §11): a user key that certifies a
//! person's devices in a signed, monotonic device list; linking a new
//! device; and fan-out of one message to every device of a person and to the
//! sender's own other devices.
//!
//! Like the rest of the library these are plain values the caller owns:
//! [`KnownUser`] is what a device believes about a person's devices (its
//! own user included), each device of a person is reached through a
//! [`Conversation`](crate::session::Conversation) bound to the listed
//! identity (spec §11.7), and the server only stores and forwards bytes.
//!
//! A device persists (spec §11.9) each [`KnownUser`] it holds, its own
//! user's included (sealed kind 4), and, on an admin device, the
//! [`UserKey`] (sealed kind 5), next to its account and conversations
//! (spec §8). Its own device id is not stored: it is the id of the entry
//! listing its account's identity key in its own user's list.
//!
//! ```
//! use sova::devices::{fanout, DeviceEntry, KnownUser, UserKey};
//! use sova::session::{Account, Conversation};
//! use sova::ratchet::HeaderMode;
//!
//! let mut rng = sova::OsRng;
//! // Alice: one device. Bob: a phone (device 1).
//! let (mut alice_dev, mut bob_phone) = (Account::new(&mut rng)?, Account::new(&mut rng)?);
//! let (alice_uk, bob_uk) = (UserKey::generate(&mut rng)?, UserKey::generate(&mut rng)?);
//! let entry = |id, a: &Account| DeviceEntry { device_id: id, identity: a.identity_key(), admin: true };
//! let alice_list = alice_uk.sign_list(1, &[entry(1, &alice_dev)])?;
//! let bob_list = bob_uk.sign_list(1, &[entry(1, &bob_phone)])?;
//!
//! // Each learns the other's list from the server, checked against the
//! // user key pinned from a contact card or safety number.
//! let alice_knows_bob = KnownUser::new(bob_uk.public(), bob_list.to_bytes())?;
//! let alice_self = KnownUser::new(alice_uk.public(), alice_list.to_bytes())?;
//! let bob_knows_alice = KnownUser::new(alice_uk.public(), alice_list.to_bytes())?;
//! let bob_self = KnownUser::new(bob_uk.public(), bob_list.to_bytes())?;
//!
//! // Alice sends to every device of Bob's list (here one).
//! let bundle = bob_phone.bundle(None, None)?.to_bytes();
//! let mut to_phone = Conversation::start(&alice_dev, &mut rng, &bob_phone.identity_key(), &bundle, HeaderMode::Encrypted)?;
//! let wire = fanout::encrypt(&alice_self, 1, &alice_knows_bob,
//!     &mut [fanout::Target { audience: fanout::Audience::Recipient, device_id: 1, conversation: &mut to_phone }],
//!     b"hi Bob", &mut rng)?;
//!
//! // The server cuts it per device; Bob's phone receives its part.
//! let (_, _, for_phone) = fanout::split(&wire)?.remove(0);
//! let msg = fanout::DeviceMessage::parse(&for_phone)?;
//! let mut from_alice = Conversation::new(alice_dev.identity_key());
//! let got = fanout::receive(&bob_self, &bob_knows_alice, &mut from_alice, &mut bob_phone, &msg)?;
//! assert_eq!(got.plaintext, b"hi Bob");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod directory;
pub mod fanout;
mod link;
mod list;
mod sessions;
mod state;

pub use directory::{KnownUser, ListChange};
pub use fanout::{FanoutReceived, TYPE_FANOUT};
pub use link::{
    approve_link, approve_link_with, LinkApproval, LinkOffer, LinkRequest, LinkResponseFrame,
    Linked, MAX_LINK_DATA,
};
pub use list::{user_identity, DeviceEntry, DeviceList, UserKey};
pub use sessions::PeerDevices;

use crate::session::{ConversationError, EncryptError, StartError};
use crate::CryptoError;

/// The most devices a list holds (spec §11.8).
pub const MAX_DEVICES: usize = 64;

/// Why a device list, link message or fan-out message does not parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// Not the expected magic (or type byte).
    #[error("not a Sova device object of this kind")]
    BadMagic,
    /// A version this library does not know.
    #[error("unsupported version {0}")]
    UnsupportedVersion(u8),
    /// The input ends inside the named field.
    #[error("truncated: {0}")]
    Truncated(&'static str),
    /// A list with no device or more than [`MAX_DEVICES`].
    #[error("a device list must hold 1 to 64 devices, not {0}")]
    DeviceCount(u8),
    /// Reserved flag bits set, or an unknown kind byte.
    #[error("invalid flags {0:#04x}")]
    InvalidFlags(u8),
    /// Bytes after the end.
    #[error("trailing bytes")]
    TrailingBytes,
}

/// Why a device list was refused (spec §11.3, §11.4). Nothing changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ListError {
    /// The encoding is malformed.
    #[error("malformed device list: {0}")]
    Malformed(ParseError),
    /// Signed by another user key than the expected one.
    #[error("device list of another user")]
    WrongUser,
    /// The signature does not verify (strict Ed25519, spec §3.3).
    #[error("device list signature is invalid")]
    InvalidSignature,
    /// Device ids not strictly increasing, or an identity listed twice.
    #[error("inconsistent device list")]
    Inconsistent,
    /// Older than the accepted list.
    #[error("device list older than the accepted one")]
    Rollback,
    /// Another list with the accepted list's epoch: a fork.
    #[error("two different device lists with the same epoch")]
    Equivocation,
    /// A message names a newer list than the accepted one: fetch it first.
    #[error("a newer device list exists: fetch it first")]
    StaleDeviceList,
    /// A primitive failed.
    #[error(transparent)]
    Crypto(CryptoError),
}

impl From<CryptoError> for ListError {
    fn from(e: CryptoError) -> Self {
        Self::Crypto(e)
    }
}

/// Why linking failed (spec §11.5). Nothing changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LinkError {
    /// A link offer or response is malformed.
    #[error("malformed link message: {0}")]
    Malformed(ParseError),
    /// The new device's identity binding does not verify.
    #[error("the new device's identity signature is invalid")]
    InvalidIdentitySignature,
    /// The new device is already listed.
    #[error("the device is already listed")]
    AlreadyListed,
    /// The list already holds [`MAX_DEVICES`].
    #[error("the device list is full")]
    TooManyDevices,
    /// No device id (or epoch) is left.
    #[error("device ids exhausted")]
    DeviceIdsExhausted,
    /// More application data than [`MAX_LINK_DATA`].
    #[error("application data too long")]
    DataTooLong,
    /// A Diffie-Hellman value is all zero.
    #[error("low-order link key")]
    LowOrderKey,
    /// The response does not open under the link key.
    #[error("link response does not authenticate")]
    Authentication,
    /// The response's list is refused.
    #[error("device list refused: {0}")]
    List(ListError),
    /// The response's list does not hold the new device.
    #[error("the new device is not in the list")]
    NotListed,
    /// The user key given or sent is not the list's.
    #[error("the user key does not match the list")]
    WrongUserKey,
    /// The random number generator failed.
    #[error("the random number generator failed")]
    Randomness,
    /// A primitive failed.
    #[error(transparent)]
    Crypto(CryptoError),
}

impl From<ParseError> for LinkError {
    fn from(e: ParseError) -> Self {
        Self::Malformed(e)
    }
}

impl From<CryptoError> for LinkError {
    fn from(e: CryptoError) -> Self {
        match e {
            CryptoError::X25519LowOrder => Self::LowOrderKey,
            CryptoError::RandomnessUnavailable => Self::Randomness,
            other => Self::Crypto(other),
        }
    }
}

/// Why a fan-out message was not sent or received (spec §11.6). Nothing
/// changed (see [`fanout::encrypt`] for the one exception when sending).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FanoutError {
    /// The message is malformed.
    #[error("malformed fan-out message: {0}")]
    Malformed(ParseError),
    /// The sender's user key is not the person given.
    #[error("message of another person")]
    UnknownUser,
    /// The entry is not addressed to this device: another kind than the
    /// sender and recipient allow, another device id than this device's,
    /// or a message between other people.
    #[error("message not for this device")]
    NotForUs,
    /// A list named by the message is refused (`StaleDeviceList`, `Equivocation`).
    #[error("device list check failed: {0}")]
    List(ListError),
    /// The sending device is not in the sender's accepted list.
    #[error("the sending device is not listed")]
    UnknownDevice,
    /// A target is not listed, or its conversation is bound to another identity.
    #[error("device {0} is not listed or not the listed identity")]
    UnlistedDevice(u32),
    /// A listed device has no target (`u32::MAX`: too many targets).
    #[error("no target for listed device {0}")]
    MissingDevice(u32),
    /// A target's conversation has no session yet.
    #[error("no session with device {0}")]
    NoSession(u32),
    /// The plaintext is longer than the ratchet's limit.
    #[error("plaintext too long")]
    PlaintextTooLong,
    /// The key message does not match the header and body, or the body does
    /// not open.
    #[error("the body does not match its key message")]
    BodyMismatch,
    /// The pairwise message was refused.
    #[error("pairwise message refused: {0}")]
    Pairwise(ConversationError),
    /// A pairwise encryption failed.
    #[error("pairwise encryption failed: {0}")]
    Encrypt(EncryptError),
    /// The random number generator failed.
    #[error("the random number generator failed")]
    Randomness,
    /// A primitive failed.
    #[error(transparent)]
    Crypto(CryptoError),
    /// A session with a listed device could not be started from its
    /// bundle ([`PeerDevices::start`], spec §11.7).
    #[error("starting a session with the device failed: {0}")]
    Start(StartError),
}

impl From<ParseError> for FanoutError {
    fn from(e: ParseError) -> Self {
        Self::Malformed(e)
    }
}

impl From<CryptoError> for FanoutError {
    fn from(e: CryptoError) -> Self {
        match e {
            CryptoError::RandomnessUnavailable => Self::Randomness,
            other => Self::Crypto(other),
        }
    }
}
