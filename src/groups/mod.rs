//! Groups whose membership only their members control (spec §12): a
//! member-signed, hash-chained membership log ([`Operation`]), sender
//! chains handed out only inside fan-out messages over the pairwise
//! sessions ([`ChainOffer`], spec §11.6), and group messages signed per
//! chain and bound to the epoch's state hash ([`GroupMessage`]).
//!
//! A [`Group`] is one device's view of one group. The application moves
//! bytes: operations and group messages through the server, welcomes and
//! chain offers as the plaintext of [`fanout`](crate::devices::fanout)
//! messages. [`Group::join`] and [`Group::accept_chain`] take what
//! [`fanout::receive`](crate::devices::fanout::receive) returned: the
//! sender it authenticated is what binds a chain to the pairwise session
//! it came over. Every method that refuses its input changes nothing.
//!
//! ```
//! use sova::devices::fanout::{self, Audience, DeviceMessage, Target};
//! use sova::devices::{DeviceEntry, FanoutReceived, KnownUser, UserKey};
//! use sova::groups::{Group, Member, Role};
//! use sova::ratchet::HeaderMode;
//! use sova::session::{Account, Conversation};
//! type Res<T> = Result<T, Box<dyn std::error::Error>>;
//!
//! /// Alice's device sends `payload` to Bob's device by fan-out, over their
//! /// pairwise session; Bob's device receives it.
//! fn deliver(alice: &KnownUser, bob: &KnownUser, to_bob: &mut Conversation,
//!            from_alice: &mut Conversation, bob_dev: &mut Account, payload: &[u8]) -> Res<FanoutReceived> {
//!     let mut targets = [Target { audience: Audience::Recipient, device_id: 1, conversation: to_bob }];
//!     let wire = fanout::encrypt_to_recipient(alice, 1, bob, &mut targets, payload, &mut sova::OsRng)?;
//!     let (_, _, entry) = fanout::split(&wire)?.remove(0);
//!     Ok(fanout::receive(bob, alice, from_alice, bob_dev, &DeviceMessage::parse(&entry)?)?)
//! }
//!
//! let mut rng = sova::OsRng;
//! let (alice_dev, mut bob_dev) = (Account::new(&mut rng)?, Account::new(&mut rng)?);
//! let (alice_uk, bob_uk) = (UserKey::generate(&mut rng)?, UserKey::generate(&mut rng)?);
//! let entry = |a: &Account| DeviceEntry { device_id: 1, identity: a.identity_key(), admin: true };
//! let alice = KnownUser::new(alice_uk.public(), alice_uk.sign_list(1, &[entry(&alice_dev)])?.to_bytes())?;
//! let bob = KnownUser::new(bob_uk.public(), bob_uk.sign_list(1, &[entry(&bob_dev)])?.to_bytes())?;
//! let directory = [alice.clone(), bob.clone()];
//! let bundle = bob_dev.bundle(None, None)?.to_bytes();
//! let mut to_bob = Conversation::start(&alice_dev, &mut rng, &bob_dev.identity_key(), &bundle, HeaderMode::Encrypted)?;
//! let mut from_alice = Conversation::new(alice_dev.identity_key());
//!
//! // Alice creates the group with Bob; the welcome goes to Bob by fan-out.
//! let roster = [Member { user: *alice_uk.public(), role: Role::Admin },
//!               Member { user: *bob_uk.public(), role: Role::Member }];
//! let (mut at_alice, create) = Group::create(&mut rng, &alice_dev, *alice_uk.public(), 1, &roster, &directory[..])?;
//! let welcome = at_alice.welcome(&create)?;
//! let got = deliver(&alice, &bob, &mut to_bob, &mut from_alice, &mut bob_dev, &welcome)?;
//! let mut at_bob = Group::join(*bob_uk.public(), 1, &got, &directory[..])?;
//!
//! // Alice starts a chain and hands it to Bob's devices (by fan-out).
//! let offer = at_alice.start_chain(&mut rng, &alice_dev)?;
//! let got = deliver(&alice, &bob, &mut to_bob, &mut from_alice, &mut bob_dev, &offer)?;
//! at_bob.accept_chain(&got, &directory[..])?;
//! let wire = at_alice.encrypt(b"hello group")?;
//! let got = at_bob.decrypt(&wire, &directory[..])?;
//! assert_eq!(got.plaintext, b"hello group");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod chain;
mod group;
mod message;
mod operation;
mod roster;
mod state;

pub use chain::ChainOffer;
pub use group::{Applied, Group, GroupReceived, BATCH_MIN};
pub use message::{GroupMessage, TYPE_GROUP_MESSAGE};
pub use operation::{OpKind, Operation, Welcome};
pub use roster::{Member, Role};

use crate::devices::KnownUser;
use crate::CryptoError;

/// Members per roster (spec §12.7).
pub const MAX_MEMBERS: usize = 1000;
/// Devices per member the limits are sized for (spec §12.7).
pub const MAX_MEMBER_DEVICES: usize = 5;
/// Receiving chains a group holds (spec §12.7).
pub const MAX_GROUP_CHAINS: usize = MAX_MEMBERS * MAX_MEMBER_DEVICES;
/// Messages per sender chain (spec §12.7).
pub const CHAIN_MESSAGES: u32 = 1000;
/// Skipped keys stored in all chains together (spec §12.7).
pub const MAX_GROUP_STORED_KEYS: usize = 5000;

/// What a device knows of people's device lists (spec §11.4): the group
/// looks up a member's accepted list by user key.
pub trait Directory {
    /// The accepted list of `user`, if this device holds one.
    fn known_user(&self, user: &[u8; 32]) -> Option<&KnownUser>;
}

impl Directory for [KnownUser] {
    fn known_user(&self, user: &[u8; 32]) -> Option<&KnownUser> {
        self.iter().find(|k| k.user_key() == user)
    }
}

impl Directory for alloc::vec::Vec<KnownUser> {
    fn known_user(&self, user: &[u8; 32]) -> Option<&KnownUser> {
        self.as_slice().known_user(user)
    }
}

/// Why a group object does not parse (spec §12.2–§12.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// Not the expected magic or type byte.
    #[error("not a Sova group object of this kind")]
    BadMagic,
    /// A version this library does not know.
    #[error("unsupported version {0}")]
    UnsupportedVersion(u8),
    /// The input ends inside the named field.
    #[error("truncated: {0}")]
    Truncated(&'static str),
    /// An unknown operation kind.
    #[error("unknown operation kind {0:#04x}")]
    InvalidKind(u8),
    /// An unknown role byte.
    #[error("unknown role {0:#04x}")]
    InvalidRole(u8),
    /// A roster of no member or more than [`MAX_MEMBERS`].
    #[error("a roster must hold 1 to 1000 members, not {0}")]
    MemberCount(u16),
    /// A roster whose user keys are not strictly increasing.
    #[error("roster not in strictly increasing order")]
    RosterOrder,
    /// Bytes after the end.
    #[error("trailing bytes")]
    TrailingBytes,
    /// A group message body longer than the longest padded plaintext and
    /// its tag (spec §12.6).
    #[error("message body of {0} bytes is too long")]
    BodyLength(u32),
}

/// Why a group operation, welcome, chain offer or message was refused, or
/// a send failed (spec §12.9). Nothing changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GroupError {
    /// The object is malformed.
    #[error("malformed group object: {0}")]
    Malformed(ParseError),
    /// An object of another group.
    #[error("object of another group")]
    WrongGroup,
    /// An epoch this device has left.
    #[error("epoch older than the current one")]
    StaleEpoch,
    /// A later epoch than this device holds: fetch the missing operations.
    #[error("epoch ahead of the current one: fetch the missing operations")]
    EpochAhead,
    /// Another history than this device holds (spec §12.4).
    #[error("the group's history forked")]
    Fork,
    /// The signer or sender is not in the roster.
    #[error("not a member of the group")]
    NotMember,
    /// The signing or sending device is not in its user's accepted list.
    #[error("the device is not listed for its user")]
    UnknownDevice,
    /// A signature does not verify.
    #[error("invalid signature")]
    InvalidSignature,
    /// The signer's role does not allow the operation.
    #[error("the signer may not make this change")]
    NotAuthorised,
    /// Adding a member already in the roster.
    #[error("already a member")]
    AlreadyMember,
    /// Removing or changing a member not in the roster.
    #[error("no such member")]
    NoSuchMember,
    /// A change of role to the role the member already holds.
    #[error("the member already holds that role")]
    RoleUnchanged,
    /// A roster beyond [`MAX_MEMBERS`].
    #[error("too many members")]
    TooManyMembers,
    /// A change that would leave no admin.
    #[error("the group would have no admin")]
    LastAdmin,
    /// A welcome or chain offer delivered by another device than its owner.
    #[error("delivered over another device's session")]
    WrongSession,
    /// A welcome that does not add this device's user.
    #[error("the welcome does not add us")]
    NotInRoster,
    /// A welcome whose roster does not follow from its operation.
    #[error("the welcome's roster does not follow from its operation")]
    WelcomeMismatch,
    /// A chain offer not newer than the chain held for its device.
    #[error("chain offer older than the chain held")]
    StaleChain,
    /// More receiving chains than [`MAX_GROUP_CHAINS`].
    #[error("too many chains")]
    TooManyChains,
    /// A message on a chain this device does not hold.
    #[error("unknown sender chain")]
    UnknownChain,
    /// A message already read, or whose key was deleted.
    #[error("duplicate or expired message")]
    DuplicateOrExpired,
    /// An index at or beyond [`CHAIN_MESSAGES`].
    #[error("beyond the chain's end")]
    BeyondChainEnd,
    /// The body does not authenticate.
    #[error("the message does not authenticate")]
    Authentication,
    /// The body is not canonically padded.
    #[error("invalid padding")]
    InvalidPadding,
    /// No sending chain: start one.
    #[error("no sending chain: start one")]
    NoChain,
    /// The sending chain has sent [`CHAIN_MESSAGES`]: start another.
    #[error("the sending chain is used up: start another")]
    ChainExhausted,
    /// The plaintext is too long.
    #[error("plaintext too long")]
    PlaintextTooLong,
    /// This device's user is no longer a member.
    #[error("removed from the group")]
    Removed,
    /// The random number generator failed.
    #[error("the random number generator failed")]
    Randomness,
    /// A primitive failed.
    #[error(transparent)]
    Crypto(CryptoError),
}

impl From<ParseError> for GroupError {
    fn from(e: ParseError) -> Self {
        Self::Malformed(e)
    }
}

impl From<CryptoError> for GroupError {
    fn from(e: CryptoError) -> Self {
        match e {
            CryptoError::RandomnessUnavailable => Self::Randomness,
            other => Self::Crypto(other),
        }
    }
}
