//! The Double Ratchet (spec §5) and its messages (spec §6).
//!
//! A [`Ratchet`] is a plain state object the caller owns. It is created from a
//! 32-byte session secret agreed by a handshake (spec §7), then
//! [`encrypt`](Ratchet::encrypt)s and [`decrypt`](Ratchet::decrypt)s messages.
//!
//! * Each message has its own key; used keys are deleted (forward secrecy).
//! * Each change of speaker performs a Diffie-Hellman ratchet step, so a
//!   compromised state heals once both sides have spoken (post-compromise security).
//! * Messages may arrive out of order: keys of skipped messages are kept, each
//!   usable once, within the limits [`MAX_SKIP`], [`MAX_STORED_KEYS`] and
//!   [`MAX_RECEIVING_CHAINS`].
//! * Decryption is transactional: a rejected message leaves the ratchet
//!   exactly as it was.
//! * Optionally, headers are encrypted (spec §5.6) so that an observer cannot
//!   link messages to a session by their ratchet keys.
//!
//! ```
//! use sova::ratchet::{Ratchet, HeaderMode};
//! use sova::{CryptoProvider, DefaultProvider, Secret};
//!
//! let mut rng = sova::OsRng; // tests and vectors pass a seeded generator instead
//! // In a real session both values come from the handshake (spec §7).
//! let session_secret = Secret::from_bytes([7u8; 32]);
//! let bob_ratchet_private = Secret::from_bytes([9u8; 32]);
//! let bob_ratchet_public = DefaultProvider::default().x25519_public_key(&bob_ratchet_private);
//! let ad = b"identities of both parties";
//!
//! let mut alice = Ratchet::initiator(&session_secret, bob_ratchet_public, ad, HeaderMode::Plain)?;
//! let mut bob = Ratchet::responder(&session_secret, bob_ratchet_private, ad, HeaderMode::Plain)?;
//!
//! let wire = alice.encrypt(&mut rng, b"hello Bob")?;
//! assert_eq!(bob.decrypt(&wire)?, b"hello Bob");
//! let reply = bob.encrypt(&mut rng, b"hello Alice")?;
//! assert_eq!(alice.decrypt(&reply)?, b"hello Alice");
//! // A replay is rejected.
//! assert!(alice.decrypt(&reply).is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use alloc::boxed::Box;
use alloc::vec::Vec;

use rand_core::TryCryptoRng;
use zeroize::Zeroize;

use crate::error::CryptoError;
use crate::provider::{CryptoProvider, DefaultProvider, AEAD_TAG_LEN, X25519_LEN};
use crate::secret::Secret;
use crate::wipe::{self, SecretDeque};

mod error;
mod info;
pub mod kdf;
pub mod message;
pub mod padding;
mod state;
#[cfg(feature = "hazmat")]
mod trace;

pub use error::{DecryptError, EncryptError, InitError};
pub use info::MessageInfo;
pub use padding::MAX_PLAINTEXT_LEN;
pub use state::StateError;
pub(crate) use state::{append_state_check, open_state, STATE_CHECK_LEN};
#[cfg(feature = "hazmat")]
pub use trace::Trace;

use kdf::Key;
#[cfg(not(feature = "hazmat"))]
use message::HEADER_LEN;
use message::{Header, Kind};

/// The most message keys one message may make the receiver skip in its chain (spec §5.5).
pub const MAX_SKIP: u32 = 2000;
/// The most skipped message keys a ratchet stores in all its chains (spec §5.5).
pub const MAX_STORED_KEYS: usize = 2000;
/// The most receiving chains kept: the current one and four before it (spec §5.5).
pub const MAX_RECEIVING_CHAINS: usize = 5;
/// The longest session associated data (spec §5.3).
pub const MAX_SESSION_AD_LEN: usize = 512;

/// Whether a session's headers travel in the clear or encrypted (spec §5.6).
/// Both parties MUST use the same mode; it is fixed for the session's life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum HeaderMode {
    /// Type `0x01` messages: the header is authenticated, not encrypted.
    Plain,
    /// Type `0x02` messages: the header is encrypted under a per-chain header key.
    Encrypted,
}

/// An X25519 key pair owned by the ratchet.
#[derive(Clone)]
struct KeyPair {
    private: Key,
    public: [u8; X25519_LEN],
}

/// The sending chain (spec §5.1): `CKs`, `Ns` and, with encrypted headers, `HKs`.
#[derive(Clone, Zeroize)]
struct SendingChain {
    chain_key: Key,
    n: u32,
    header_key: Option<Key>,
}

/// Where a receiving chain stands (spec §5.1).
#[derive(Clone, Zeroize)]
enum ChainPosition {
    /// The newest chain: its chain key `CKr` and the number `Nr` of the next
    /// message whose key is not yet derived.
    Open { chain_key: Key, next_n: u32 },
    /// A chain superseded by a newer one: its length `END` as announced by
    /// the peer. Its remaining keys were derived and stored when it was
    /// closed, and its chain key erased (spec §5.5.3).
    Closed { end: u32 },
}

/// A receiving chain (spec §5.5), with the keys skipped in it.
#[derive(Clone, Zeroize)]
struct ReceivingChain {
    their_ratchet_key: [u8; X25519_LEN],
    position: ChainPosition,
    header_key: Option<Key>,
    /// Skipped message keys, in increasing order of message number. A deque:
    /// late messages are usually the oldest, removed from the front in O(1).
    /// Moves and removals leave no copy of a key in freed memory (`wipe`).
    skipped: SecretDeque<(u32, Key)>,
}

/// The state of one party of a Double Ratchet session (spec §5.1).
///
/// The caller owns it, persists it with [`to_bytes`](Self::to_bytes) /
/// [`from_bytes`](Self::from_bytes), and must store the updated state after
/// every successful `encrypt` or `decrypt` (an old copy would accept old
/// messages again; see [`generation`](Self::generation)).
pub struct Ratchet {
    mode: HeaderMode,
    /// How many encryptions and decryptions this state has seen (spec §8.2).
    generation: u64,
    /// The session associated data `AD`, in the form the messages' AEAD uses.
    ad: MessageAd,
    root_key: Key,
    /// `DHs`: our current ratchet key pair. `None` for an initiator before its
    /// first message, and after every receiving DH ratchet step until we send
    /// again (the private key is deleted as soon as it is no longer needed).
    ours: Option<KeyPair>,
    /// `DHr`: the peer's current ratchet public key (`None` for a responder before the first message).
    theirs: Option<[u8; X25519_LEN]>,
    /// `None` when a DH ratchet step must precede the next message (spec §5.3).
    sending: Option<SendingChain>,
    /// `PN`: the length of our previous sending chain.
    previous_sending_len: u32,
    /// `NHKs`: the header key of our next sending chain.
    next_send_header_key: Option<Key>,
    /// `NHKr`: the header key of the peer's next sending chain.
    next_recv_header_key: Option<Key>,
    /// Receiving chains, newest first: the first is open, the others closed.
    receiving: SecretDeque<ReceivingChain>,
}

impl core::fmt::Debug for Ratchet {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Ratchet")
            .field("mode", &self.mode)
            .field("sending_n", &self.sending.as_ref().map(|s| s.n))
            .field("receiving_chains", &self.receiving.len())
            .field("stored_keys", &self.stored_keys())
            .finish_non_exhaustive()
    }
}

/// What a successful decryption changes, computed before anything is changed.
enum Plan {
    /// Use (and delete) a stored skipped key of chain `chain`.
    UseSkipped { chain: usize, index: usize },
    /// Advance an existing chain past message `n`.
    Advance {
        chain: usize,
        chain_key: Key,
        next_n: u32,
        skipped: Vec<(u32, Key)>,
    },
    /// A DH ratchet step. Boxed: the step is rare and large, and the
    /// common plans stay small enough to move without a copy loop.
    NewChain(Box<NewChain>),
}

/// A DH ratchet step: a new receiving chain, and the previous newest chain
/// closed at the length the peer announced. Its keys are wiped in the box
/// when it is dropped.
struct NewChain {
    root_key: Key,
    next_header_key: Key,
    their_ratchet_key: [u8; X25519_LEN],
    chain_key: Key,
    next_n: u32,
    skipped: Vec<(u32, Key)>,
    close: Option<CloseChain>,
}

impl Plan {
    /// What the message's decryption tells the application (spec §5.9).
    fn info(&self, header: &Header) -> MessageInfo {
        let count = |v: &Vec<(u32, Key)>| u32::try_from(v.len()).unwrap_or(u32::MAX);
        let (late, new_chain, gap) = match self {
            Plan::UseSkipped { .. } => (true, false, 0),
            Plan::Advance { skipped, .. } => (false, false, count(skipped)),
            Plan::NewChain(step) => {
                let closed = step.close.as_ref().map_or(0, |c| count(&c.keys));
                (false, true, count(&step.skipped).saturating_add(closed))
            }
        };
        MessageInfo {
            chain: header.ratchet_key,
            number: header.n,
            previous_chain_len: header.previous_chain_len,
            late,
            new_chain,
            gap,
        }
    }
}

/// A caller's check of a decrypted plaintext before it is committed.
pub(crate) type PlaintextCheck<'a> = dyn FnMut(&[u8]) -> bool + 'a;

/// How the newest receiving chain is closed by a DH ratchet step (spec §5.5.3).
struct CloseChain {
    /// `END`: the chain length the peer announced (`pn`).
    end: u32,
    /// The keys of messages `Nr .. min(END, Nr + MAX_SKIP) − 1`, derived only
    /// once the message's body has authenticated.
    keys: Vec<(u32, Key)>,
}

/// A message parsed, located and planned, before its body is opened.
struct Pending {
    header: Header,
    plan: Plan,
    /// The AEAD key and nonce of the message key (spec §5.2.4).
    keys: kdf::MessageKeys,
    /// The lengths of the message prefix and of the padded body.
    prefix_len: usize,
    body_len: usize,
    tag: [u8; AEAD_TAG_LEN],
}

impl From<CryptoError> for EncryptError {
    fn from(e: CryptoError) -> Self {
        match e {
            CryptoError::X25519LowOrder => Self::LowOrderRatchetKey,
            CryptoError::RandomnessUnavailable => Self::Randomness,
            other => Self::Crypto(other),
        }
    }
}

impl From<CryptoError> for DecryptError {
    fn from(e: CryptoError) -> Self {
        match e {
            CryptoError::X25519LowOrder => Self::LowOrderRatchetKey,
            CryptoError::AeadAuthentication => Self::Authentication,
            other => Self::Crypto(other),
        }
    }
}

/// The associated data of a session's messages, `u16(len(AD)) || AD ||
/// prefix` (spec §5.5). The part before the prefix is written once, with room
/// behind it for the longest prefix, so that each message only copies its
/// prefix in.
struct MessageAd {
    /// `u16(len(AD)) || AD`, then the prefix of the last message.
    buf: Vec<u8>,
    /// `len(AD)`, at most [`MAX_SESSION_AD_LEN`].
    ad_len: usize,
}

impl MessageAd {
    /// `session_ad` is at most [`MAX_SESSION_AD_LEN`] bytes (checked by the callers).
    fn new(session_ad: &[u8]) -> Self {
        let ad_len = session_ad.len().min(MAX_SESSION_AD_LEN);
        let mut buf = Vec::with_capacity(2 + ad_len + message::ENCRYPTED_PREFIX_LEN);
        buf.extend_from_slice(&(ad_len as u16).to_be_bytes());
        buf.extend_from_slice(&session_ad[..ad_len]);
        Self { buf, ad_len }
    }

    /// `AD`.
    fn session_ad(&self) -> &[u8] {
        &self.buf[2..2 + self.ad_len]
    }

    /// `u16(len(AD)) || AD || prefix`. A prefix is at most
    /// [`message::ENCRYPTED_PREFIX_LEN`] bytes, so the buffer never grows.
    fn with_prefix(&mut self, prefix: &[u8]) -> &[u8] {
        self.buf.truncate(2 + self.ad_len);
        self.buf.extend_from_slice(prefix);
        &self.buf
    }
}

/// Builds `u16(len(session_ad)) || session_ad || prefix` on the stack and runs
/// `f` on it (spec §5.5): for the header of an encrypted-header message, whose
/// receiver tries several keys before it changes anything.
fn with_ad<R>(session_ad: &[u8], prefix: &[u8], f: impl FnOnce(&[u8]) -> R) -> R {
    let mut buf = [0u8; 2 + MAX_SESSION_AD_LEN + message::ENCRYPTED_PREFIX_LEN];
    let ad_len = session_ad.len().min(MAX_SESSION_AD_LEN);
    let prefix_len = prefix.len().min(message::ENCRYPTED_PREFIX_LEN);
    // The lengths were bounded when the session and the message were made.
    buf[..2].copy_from_slice(&(ad_len as u16).to_be_bytes());
    buf[2..2 + ad_len].copy_from_slice(&session_ad[..ad_len]);
    buf[2 + ad_len..2 + ad_len + prefix_len].copy_from_slice(&prefix[..prefix_len]);
    f(&buf[..2 + ad_len + prefix_len])
}

/// The message keys of messages `from .. to` of a chain whose key at `from`
/// is `chain_key` (spec §5.5.3, closing a chain). Empty when `to <= from`.
fn derive_range<P: CryptoProvider + ?Sized>(
    p: &P,
    chain_key: &Key,
    from: u32,
    to: u32,
) -> Result<Vec<(u32, Key)>, CryptoError> {
    let mut keys = Vec::with_capacity(to.saturating_sub(from) as usize);
    let mut ck = chain_key.clone();
    for i in from..to {
        let (next, mk) = kdf::kdf_ck(p, &ck)?;
        keys.push((i, mk));
        ck = next;
    }
    Ok(keys)
}

/// Skipped keys, the message key of `n`, and the chain key after `n`.
type ChainAdvance = (Vec<(u32, Key)>, Key, Key);

/// Advances a chain from `chain_key` at `from` to message `n`: the keys skipped
/// on the way, the message key of `n` and the chain key after it (spec §5.5).
#[inline]
fn advance_chain<P: CryptoProvider + ?Sized>(
    p: &P,
    chain_key: &Key,
    from: u32,
    n: u32,
) -> Result<ChainAdvance, CryptoError> {
    if n == from {
        // The next message in order: no key is skipped.
        let (next, mk) = kdf::kdf_ck(p, chain_key)?;
        return Ok((Vec::new(), mk, next));
    }
    let mut skipped = Vec::with_capacity((n - from) as usize);
    // The chain key after the last step taken; `chain_key` itself is not copied.
    let mut ck: Option<Key> = None;
    for i in from..n {
        let (next, mk) = kdf::kdf_ck(p, ck.as_ref().unwrap_or(chain_key))?;
        skipped.push((i, mk));
        ck = Some(next);
    }
    let (next, mk) = kdf::kdf_ck(p, ck.as_ref().unwrap_or(chain_key))?;
    Ok((skipped, mk, next))
}

impl Ratchet {
    fn new(
        mode: HeaderMode,
        session_ad: &[u8],
        root_key: Key,
        ours: Option<KeyPair>,
        theirs: Option<[u8; X25519_LEN]>,
        next_send_header_key: Key,
        next_recv_header_key: Key,
    ) -> Result<Self, InitError> {
        if session_ad.len() > MAX_SESSION_AD_LEN {
            return Err(InitError::SessionAdTooLong);
        }
        let he = mode == HeaderMode::Encrypted;
        Ok(Self {
            mode,
            generation: 0,
            ad: MessageAd::new(session_ad),
            root_key,
            ours,
            theirs,
            sending: None,
            previous_sending_len: 0,
            next_send_header_key: he.then_some(next_send_header_key),
            next_recv_header_key: he.then_some(next_recv_header_key),
            receiving: SecretDeque::new(),
        })
    }

    /// The initiator's ratchet (spec §5.3): it knows the session secret and the
    /// responder's ratchet public key, and sends first.
    ///
    /// # Errors
    /// [`InitError::SessionAdTooLong`].
    pub fn initiator(
        session_secret: &Secret<32>,
        their_ratchet_key: [u8; X25519_LEN],
        session_ad: &[u8],
        mode: HeaderMode,
    ) -> Result<Self, InitError> {
        Self::initiator_with(
            &DefaultProvider::default(),
            session_secret,
            their_ratchet_key,
            session_ad,
            mode,
        )
    }

    /// [`initiator`](Self::initiator) with an explicit provider.
    ///
    /// # Errors
    /// [`InitError::SessionAdTooLong`].
    pub fn initiator_with<P: CryptoProvider + ?Sized>(
        p: &P,
        session_secret: &Secret<32>,
        their_ratchet_key: [u8; X25519_LEN],
        session_ad: &[u8],
        mode: HeaderMode,
    ) -> Result<Self, InitError> {
        let k = kdf::init_keys(p, session_secret)?;
        Self::new(
            mode,
            session_ad,
            k.root_key,
            None,
            Some(their_ratchet_key),
            k.initiator_header_key,
            k.responder_header_key,
        )
    }

    /// The responder's ratchet (spec §5.3): it knows the session secret and owns
    /// the ratchet key pair the initiator used (its signed prekey). It cannot send
    /// until it has received the initiator's first message.
    ///
    /// # Errors
    /// [`InitError::SessionAdTooLong`].
    pub fn responder(
        session_secret: &Secret<32>,
        our_ratchet_private: Secret<32>,
        session_ad: &[u8],
        mode: HeaderMode,
    ) -> Result<Self, InitError> {
        Self::responder_with(
            &DefaultProvider::default(),
            session_secret,
            our_ratchet_private,
            session_ad,
            mode,
        )
    }

    /// [`responder`](Self::responder) with an explicit provider.
    ///
    /// # Errors
    /// [`InitError::SessionAdTooLong`].
    pub fn responder_with<P: CryptoProvider + ?Sized>(
        p: &P,
        session_secret: &Secret<32>,
        our_ratchet_private: Secret<32>,
        session_ad: &[u8],
        mode: HeaderMode,
    ) -> Result<Self, InitError> {
        let public = p.x25519_public_key(&our_ratchet_private);
        Self::responder_with_key_pair(
            p,
            session_secret,
            our_ratchet_private,
            public,
            session_ad,
            mode,
        )
    }

    /// [`responder_with`](Self::responder_with) for a caller that already holds
    /// the public key of `our_ratchet_private` (a stored signed prekey), saving
    /// a scalar multiplication. The caller guarantees the two match.
    pub(crate) fn responder_with_key_pair<P: CryptoProvider + ?Sized>(
        p: &P,
        session_secret: &Secret<32>,
        our_ratchet_private: Secret<32>,
        our_ratchet_public: [u8; X25519_LEN],
        session_ad: &[u8],
        mode: HeaderMode,
    ) -> Result<Self, InitError> {
        let k = kdf::init_keys(p, session_secret)?;
        Self::new(
            mode,
            session_ad,
            k.root_key,
            Some(KeyPair {
                private: our_ratchet_private,
                public: our_ratchet_public,
            }),
            None,
            k.responder_header_key,
            k.initiator_header_key,
        )
    }

    /// The session's header mode.
    pub fn header_mode(&self) -> HeaderMode {
        self.mode
    }

    /// The session associated data `AD` (spec §5.3).
    pub(crate) fn session_ad(&self) -> &[u8] {
        self.ad.session_ad()
    }

    /// Our current ratchet public key, if we have one.
    pub fn ratchet_public_key(&self) -> Option<[u8; X25519_LEN]> {
        self.ours.as_ref().map(|k| k.public)
    }

    /// How many messages this state has encrypted and decrypted, in all: one
    /// more after every successful [`encrypt`](Self::encrypt) and
    /// [`decrypt`](Self::decrypt), and persisted with the state (spec §8.2).
    ///
    /// An application that keeps the latest value somewhere a restored
    /// backup cannot reach (a platform key store, a server-side counter) can
    /// tell that a state it is about to load is older than one it already
    /// used: a rollback, which would accept old messages again (spec §9.10).
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The number the next encrypted message gets in the current sending
    /// chain, or `None` when the next [`encrypt`](Self::encrypt) starts a
    /// new sending chain (a DH ratchet step, which draws a new ratchet key).
    pub fn next_sending_number(&self) -> Option<u32> {
        self.sending.as_ref().map(|s| s.n)
    }

    /// Skipped message keys currently stored (never more than [`MAX_STORED_KEYS`]).
    pub fn stored_keys(&self) -> usize {
        self.receiving.iter().map(|c| c.skipped.len()).sum()
    }

    /// Receiving chains currently kept (never more than [`MAX_RECEIVING_CHAINS`]).
    pub fn receiving_chains(&self) -> usize {
        self.receiving.len()
    }

    /// Encrypts `plaintext` into a ratchet message (spec §5.5), with the default provider.
    ///
    /// `rng` is drawn from only when a DH ratchet step starts a new sending chain.
    /// [`encrypt_into`](Self::encrypt_into) appends the message to a buffer
    /// the caller owns instead of allocating one.
    ///
    /// # Errors
    /// See [`EncryptError`]; on error the ratchet is unchanged.
    pub fn encrypt<R: TryCryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        plaintext: &[u8],
    ) -> Result<Vec<u8>, EncryptError> {
        self.encrypt_with(&DefaultProvider::default(), rng, plaintext)
    }

    /// [`encrypt`](Self::encrypt) with an explicit provider.
    ///
    /// # Errors
    /// See [`EncryptError`]; on error the ratchet is unchanged.
    pub fn encrypt_with<P: CryptoProvider + ?Sized, R: TryCryptoRng + ?Sized>(
        &mut self,
        p: &P,
        rng: &mut R,
        plaintext: &[u8],
    ) -> Result<Vec<u8>, EncryptError> {
        let mut out = Vec::new();
        self.encrypt_into_inner(p, rng, plaintext, &mut out, None)?;
        Ok(out)
    }

    /// Decrypts a ratchet message (spec §5.5), with the default provider.
    ///
    /// [`decrypt_in_place`](Self::decrypt_in_place) opens the message in
    /// its own buffer, [`decrypt_into`](Self::decrypt_into) into a buffer
    /// the caller owns; this one allocates the plaintext.
    ///
    /// # Errors
    /// See [`DecryptError`]; on error the ratchet is exactly as it was.
    pub fn decrypt(&mut self, message: &[u8]) -> Result<Vec<u8>, DecryptError> {
        self.decrypt_with(&DefaultProvider::default(), message)
    }

    /// [`decrypt`](Self::decrypt) with an explicit provider.
    ///
    /// # Errors
    /// See [`DecryptError`]; on error the ratchet is exactly as it was.
    pub fn decrypt_with<P: CryptoProvider + ?Sized>(
        &mut self,
        p: &P,
        message: &[u8],
    ) -> Result<Vec<u8>, DecryptError> {
        let mut out = Vec::new();
        self.decrypt_into_inner(p, message, &mut out, None, None)?;
        Ok(out)
    }

    /// Decrypts `message` and appends the plaintext to `out` (spec §5.5):
    /// [`decrypt`](Self::decrypt) without allocating when `out` has room for
    /// the message's padded body (at most `message.len()` bytes).
    ///
    /// The body is copied into `out` and opened there. If `out` must grow,
    /// its old buffer is zeroed before it is freed.
    ///
    /// ```
    /// # use sova::ratchet::{Ratchet, HeaderMode};
    /// # use sova::{CryptoProvider, DefaultProvider, Secret};
    /// # let mut rng = sova::OsRng;
    /// # let bob_private = Secret::from_bytes([9u8; 32]);
    /// # let bob_public = DefaultProvider::default().x25519_public_key(&bob_private);
    /// # let secret = Secret::from_bytes([7u8; 32]);
    /// let mut alice = Ratchet::initiator(&secret, bob_public, b"ad", HeaderMode::Plain)?;
    /// let mut bob = Ratchet::responder(&secret, bob_private, b"ad", HeaderMode::Plain)?;
    /// let wire = alice.encrypt(&mut rng, b"hello")?;
    /// let mut plaintext = Vec::with_capacity(wire.len());
    /// bob.decrypt_into(&wire, &mut plaintext)?;
    /// assert_eq!(plaintext, b"hello");
    /// // A rejected message (here a replay) leaves `out` as it was.
    /// assert!(bob.decrypt_into(&wire, &mut plaintext).is_err());
    /// assert_eq!(plaintext, b"hello");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// See [`DecryptError`]; on error the ratchet is exactly as it was and
    /// `out` has its old length and contents.
    pub fn decrypt_into(
        &mut self,
        message: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<MessageInfo, DecryptError> {
        self.decrypt_into_with(&DefaultProvider::default(), message, out)
    }

    /// [`decrypt_into`](Self::decrypt_into) with an explicit provider.
    ///
    /// # Errors
    /// As [`decrypt_into`](Self::decrypt_into).
    pub fn decrypt_into_with<P: CryptoProvider + ?Sized>(
        &mut self,
        p: &P,
        message: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<MessageInfo, DecryptError> {
        self.decrypt_into_inner(p, message, out, None, None)
    }

    /// [`decrypt_into_with`](Self::decrypt_into_with), where `check` sees
    /// the plaintext before anything is committed: when it returns `false`
    /// the message is refused with [`DecryptError::Authentication`], the
    /// ratchet is unchanged and `out` keeps its old length.
    pub(crate) fn decrypt_into_checked<P: CryptoProvider + ?Sized>(
        &mut self,
        p: &P,
        message: &[u8],
        out: &mut Vec<u8>,
        check: &mut PlaintextCheck<'_>,
    ) -> Result<MessageInfo, DecryptError> {
        self.decrypt_into_inner(p, message, out, None, Some(check))
    }

    /// Decrypts `message` where it lies (spec §5.5): the body is opened in
    /// the message's own buffer and the plaintext returned as the part of
    /// `message` that holds it (it starts at
    /// [`message_prefix_len`](Self::message_prefix_len)). No copy and no
    /// allocation, except for the keys of skipped messages.
    ///
    /// ```
    /// # use sova::ratchet::{Ratchet, HeaderMode};
    /// # use sova::{CryptoProvider, DefaultProvider, Secret};
    /// # let mut rng = sova::OsRng;
    /// # let bob_private = Secret::from_bytes([9u8; 32]);
    /// # let bob_public = DefaultProvider::default().x25519_public_key(&bob_private);
    /// # let secret = Secret::from_bytes([7u8; 32]);
    /// let mut alice = Ratchet::initiator(&secret, bob_public, b"ad", HeaderMode::Plain)?;
    /// let mut bob = Ratchet::responder(&secret, bob_private, b"ad", HeaderMode::Plain)?;
    /// let mut wire = alice.encrypt(&mut rng, b"hello")?;
    /// let plaintext = bob.decrypt_in_place(&mut wire)?;
    /// assert_eq!(plaintext, b"hello");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// See [`DecryptError`]; on error the ratchet is exactly as it was.
    /// `message` keeps its length and its prefix (the header); its body is
    /// either unchanged (a message rejected before its body was opened:
    /// malformed, unknown chain, duplicate, too many skipped) or zeroed (a
    /// body that failed authentication or unpadding). It never holds any
    /// part of a plaintext after an error (spec §5.7).
    pub fn decrypt_in_place<'m>(
        &mut self,
        message: &'m mut [u8],
    ) -> Result<&'m mut [u8], DecryptError> {
        self.decrypt_in_place_with(&DefaultProvider::default(), message)
    }

    /// [`decrypt_in_place`](Self::decrypt_in_place) with an explicit provider.
    ///
    /// # Errors
    /// As [`decrypt_in_place`](Self::decrypt_in_place).
    pub fn decrypt_in_place_with<'m, P: CryptoProvider + ?Sized>(
        &mut self,
        p: &P,
        message: &'m mut [u8],
    ) -> Result<&'m mut [u8], DecryptError> {
        Ok(self.decrypt_in_place_inner(p, message, None)?.0)
    }

    /// [`decrypt_in_place`](Self::decrypt_in_place), also returning where
    /// the message stands ([`MessageInfo`], spec §5.9).
    ///
    /// # Errors
    /// As [`decrypt_in_place`](Self::decrypt_in_place).
    pub fn decrypt_in_place_with_info<'m, P: CryptoProvider + ?Sized>(
        &mut self,
        p: &P,
        message: &'m mut [u8],
    ) -> Result<(&'m mut [u8], MessageInfo), DecryptError> {
        self.decrypt_in_place_inner(p, message, None)
    }

    /// Encrypts `plaintext` and appends the message to `out` (spec §5.5):
    /// [`encrypt`](Self::encrypt) without allocating when `out` has room
    /// for [`message_len`](Self::message_len)`(plaintext.len())` more bytes.
    ///
    /// If `out` must grow, its old buffer is zeroed before it is freed.
    ///
    /// ```
    /// # use sova::ratchet::{Ratchet, HeaderMode};
    /// # use sova::{CryptoProvider, DefaultProvider, Secret};
    /// # let mut rng = sova::OsRng;
    /// # let bob_private = Secret::from_bytes([9u8; 32]);
    /// # let bob_public = DefaultProvider::default().x25519_public_key(&bob_private);
    /// # let secret = Secret::from_bytes([7u8; 32]);
    /// let mut alice = Ratchet::initiator(&secret, bob_public, b"ad", HeaderMode::Plain)?;
    /// let mut bob = Ratchet::responder(&secret, bob_private, b"ad", HeaderMode::Plain)?;
    /// let mut wire = Vec::with_capacity(alice.message_len(5));
    /// alice.encrypt_into(&mut rng, b"hello", &mut wire)?;
    /// assert_eq!(wire.len(), alice.message_len(5));
    /// assert_eq!(bob.decrypt(&wire)?, b"hello");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// See [`EncryptError`]; on error the ratchet and `out` are unchanged.
    pub fn encrypt_into<R: TryCryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        plaintext: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), EncryptError> {
        self.encrypt_into_with(&DefaultProvider::default(), rng, plaintext, out)
    }

    /// [`encrypt_into`](Self::encrypt_into) with an explicit provider.
    ///
    /// # Errors
    /// See [`EncryptError`]; on error the ratchet and `out` are unchanged.
    pub fn encrypt_into_with<P: CryptoProvider + ?Sized, R: TryCryptoRng + ?Sized>(
        &mut self,
        p: &P,
        rng: &mut R,
        plaintext: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), EncryptError> {
        self.encrypt_into_inner(p, rng, plaintext, out, None)
    }

    /// Encrypts the plaintext already in `buf` where it lies, turning `buf`
    /// into the message (spec §5.5): no copy of the plaintext is made.
    ///
    /// `buf` must hold [`message_prefix_len`](Self::message_prefix_len)
    /// bytes of room for the message prefix (any values; they are
    /// overwritten), then the plaintext. The padding and the 16-byte tag are
    /// appended, so `buf` grows to [`message_len`](Self::message_len) of the
    /// plaintext length; reserve that capacity to avoid a reallocation (if
    /// `buf` must grow, its old buffer, holding the plaintext, is zeroed
    /// before it is freed).
    ///
    /// ```
    /// # use sova::ratchet::{Ratchet, HeaderMode};
    /// # use sova::{CryptoProvider, DefaultProvider, Secret};
    /// # let mut rng = sova::OsRng;
    /// # let bob_private = Secret::from_bytes([9u8; 32]);
    /// # let bob_public = DefaultProvider::default().x25519_public_key(&bob_private);
    /// # let secret = Secret::from_bytes([7u8; 32]);
    /// let mut alice = Ratchet::initiator(&secret, bob_public, b"ad", HeaderMode::Plain)?;
    /// let mut bob = Ratchet::responder(&secret, bob_private, b"ad", HeaderMode::Plain)?;
    /// let mut buf = Vec::with_capacity(alice.message_len(5));
    /// buf.resize(alice.message_prefix_len(), 0);
    /// buf.extend_from_slice(b"hello"); // or read the plaintext into place
    /// alice.encrypt_in_place(&mut rng, &mut buf)?;
    /// assert_eq!(bob.decrypt_in_place(&mut buf)?, b"hello");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// See [`EncryptError`]; [`EncryptError::NoHeadroom`] when `buf` is
    /// shorter than the prefix. On error the ratchet and `buf` are unchanged.
    pub fn encrypt_in_place<R: TryCryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        buf: &mut Vec<u8>,
    ) -> Result<(), EncryptError> {
        self.encrypt_in_place_with(&DefaultProvider::default(), rng, buf)
    }

    /// [`encrypt_in_place`](Self::encrypt_in_place) with an explicit provider.
    ///
    /// # Errors
    /// As [`encrypt_in_place`](Self::encrypt_in_place).
    pub fn encrypt_in_place_with<P: CryptoProvider + ?Sized, R: TryCryptoRng + ?Sized>(
        &mut self,
        p: &P,
        rng: &mut R,
        buf: &mut Vec<u8>,
    ) -> Result<(), EncryptError> {
        self.seal_in_place(p, rng, buf, 0, None)
    }

    /// The length of the prefix of this ratchet's messages (version, type,
    /// header or encrypted header, body length): 62 bytes with plain
    /// headers, 90 with encrypted ones (spec §6).
    pub fn message_prefix_len(&self) -> usize {
        match self.mode {
            HeaderMode::Plain => message::PLAIN_PREFIX_LEN,
            HeaderMode::Encrypted => message::ENCRYPTED_PREFIX_LEN,
        }
    }

    /// The length of the message carrying a plaintext of `plaintext_len`
    /// bytes: prefix, padded plaintext (spec §5.4) and tag. Meaningless
    /// above [`MAX_PLAINTEXT_LEN`].
    pub fn message_len(&self, plaintext_len: usize) -> usize {
        self.message_prefix_len() + padding::padded_len(plaintext_len) + AEAD_TAG_LEN
    }

    /// Appends `plaintext` behind room for the prefix and seals it there.
    fn encrypt_into_inner<P: CryptoProvider + ?Sized, R: TryCryptoRng + ?Sized>(
        &mut self,
        p: &P,
        rng: &mut R,
        plaintext: &[u8],
        out: &mut Vec<u8>,
        trace: Option<&mut TraceSink>,
    ) -> Result<(), EncryptError> {
        if plaintext.len() > MAX_PLAINTEXT_LEN {
            return Err(EncryptError::PlaintextTooLong);
        }
        let start = out.len();
        // The whole message at once: it never grows with the plaintext in it.
        wipe::reserve(out, self.message_len(plaintext.len()));
        out.resize(start + self.message_prefix_len(), 0);
        out.extend_from_slice(plaintext);
        let sealed = self.seal_in_place(p, rng, out, start, trace);
        if sealed.is_err() {
            // Not sealed: the plaintext copy is wiped before it is given back.
            if let Some(tail) = out.get_mut(start..) {
                tail.zeroize();
            }
            out.truncate(start);
        }
        sealed
    }

    /// The encryption (spec §5.5.2): `buf[start..]` is room for the prefix,
    /// then the plaintext. Everything that can fail is done before `buf` is
    /// written, so on error the ratchet and `buf` are unchanged.
    fn seal_in_place<P: CryptoProvider + ?Sized, R: TryCryptoRng + ?Sized>(
        &mut self,
        p: &P,
        rng: &mut R,
        buf: &mut Vec<u8>,
        start: usize,
        mut trace: Option<&mut TraceSink>,
    ) -> Result<(), EncryptError> {
        let prefix_len = self.message_prefix_len();
        let body_start = start.saturating_add(prefix_len);
        let plaintext_len = buf
            .len()
            .checked_sub(body_start)
            .ok_or(EncryptError::NoHeadroom)?;
        if plaintext_len > MAX_PLAINTEXT_LEN {
            return Err(EncryptError::PlaintextTooLong);
        }
        // A DH ratchet step, if one is due, computed before anything changes.
        let step = match &self.sending {
            Some(_) => None,
            None => {
                let theirs = self.theirs.ok_or(EncryptError::NoSendingChain)?;
                let mut private = Key::zero();
                crate::random::fill(rng, private.expose_mut())?;
                let public = p.x25519_public_key(&private);
                let dh = p.x25519(&private, &theirs)?;
                let rs = kdf::kdf_rk(p, &self.root_key, &dh)?;
                trace_set(&mut trace, |t| {
                    t.ratchet_private = Some(private.clone());
                    t.dh_output = Some(dh.clone());
                    t.root_key = Some(rs.root_key.clone());
                    t.next_header_key = Some(rs.next_header_key.clone());
                });
                Some((KeyPair { private, public }, rs))
            }
        };
        let (chain_key, n, header_key) = match (&step, &self.sending) {
            (Some((_, rs)), _) => (&rs.chain_key, 0u32, self.next_send_header_key.as_ref()),
            (None, Some(s)) => (&s.chain_key, s.n, s.header_key.as_ref()),
            (None, None) => return Err(EncryptError::NoSendingChain),
        };
        if n == u32::MAX {
            return Err(EncryptError::ChainExhausted);
        }
        let ratchet_key = match (&step, &self.ours) {
            (Some((kp, _)), _) | (None, Some(kp)) => kp.public,
            (None, None) => return Err(EncryptError::NoSendingChain),
        };
        let header_key = match (self.mode, header_key) {
            (HeaderMode::Plain, _) => None,
            (HeaderMode::Encrypted, Some(hk)) => Some(hk),
            (HeaderMode::Encrypted, None) => {
                return Err(EncryptError::Crypto(CryptoError::AeadAuthentication))
            }
        };
        // Fresh per message, after every check that can refuse the message
        // (spec §5.5.2): a rollback re-encrypts under other keys and nonces.
        let mut salt = [0u8; message::SALT_LEN];
        crate::random::fill(rng, &mut salt)?;
        let (next_chain_key, message_key) = kdf::kdf_ck(p, chain_key)?;
        let keys = kdf::message_keys(p, &message_key, &salt)?;
        let header_keys = match header_key {
            Some(hk) => {
                let hks = kdf::header_keys(p, hk)?;
                let nonce = kdf::header_nonce(p, &hks.nonce_key, n, &salt)?;
                Some((hk, hks, nonce))
            }
            None => None,
        };
        let header = Header {
            ratchet_key,
            previous_chain_len: self.previous_sending_len,
            n,
            salt,
        }
        .encode();

        // Nothing fails from here on. The padding and the tag, behind the
        // plaintext (the buffer grows, if it must, with a wipe of the old one).
        let padded_len = padding::padded_len(plaintext_len);
        wipe::reserve(buf, padded_len - plaintext_len + AEAD_TAG_LEN);
        padding::pad_in_place(buf, body_start);
        let (head, rest) = buf.split_at_mut(body_start);
        let prefix = &mut head[start..];
        prefix[0] = message::VERSION;
        let body_len = (padded_len + AEAD_TAG_LEN) as u32;
        match header_keys {
            None => {
                prefix[1] = message::TYPE_PLAIN_HEADER;
                prefix[2..2 + message::HEADER_LEN].copy_from_slice(&header);
                prefix[2 + message::HEADER_LEN..].copy_from_slice(&body_len.to_be_bytes());
            }
            Some((hk, hks, nonce)) => {
                prefix[1] = message::TYPE_ENCRYPTED_HEADER;
                let (type_part, fields) = prefix.split_at_mut(2);
                let (nonce_part, fields) = fields.split_at_mut(nonce.len());
                nonce_part.copy_from_slice(&nonce);
                let (enc, fields) = fields.split_at_mut(message::HEADER_LEN);
                enc.copy_from_slice(&header);
                let ad = self.ad.with_prefix(type_part);
                let tag = p.aead_seal(&hks.encryption_key, &nonce, ad, enc);
                let (tag_part, len_part) = fields.split_at_mut(AEAD_TAG_LEN);
                tag_part.copy_from_slice(&tag);
                len_part.copy_from_slice(&body_len.to_be_bytes());
                trace_set(&mut trace, |t| {
                    t.header_key = Some(hk.clone());
                    t.header_nonce = Some(nonce);
                });
            }
        }
        trace_set(&mut trace, |t| {
            t.chain_key = Some(chain_key.clone());
            t.next_chain_key = Some(next_chain_key.clone());
            t.message_key = Some(message_key.clone());
            t.aead_key = Some(keys.key.clone());
            t.aead_nonce = Some(keys.nonce);
            t.salt = Some(salt);
            t.header = Some(header);
            t.padded_plaintext = rest.to_vec();
        });
        let ad = self.ad.with_prefix(prefix);
        let tag = p.aead_seal(&keys.key, &keys.nonce, ad, rest);
        buf.extend_from_slice(&tag);

        // Commit.
        if let Some((kp, rs)) = step {
            let header_key = match self.mode {
                HeaderMode::Encrypted => self.next_send_header_key.replace(rs.next_header_key),
                HeaderMode::Plain => None,
            };
            self.ours = Some(kp);
            self.root_key = rs.root_key;
            self.sending = Some(SendingChain {
                chain_key: next_chain_key,
                n: 1,
                header_key,
            });
        } else if let Some(s) = self.sending.as_mut() {
            s.chain_key = next_chain_key;
            s.n = n + 1;
        }
        self.generation = self.generation.saturating_add(1);
        Ok(())
    }

    /// Finds which chain a message belongs to and its header (spec §5.5, §5.6.3).
    #[inline(always)]
    fn locate<P: CryptoProvider + ?Sized>(
        &self,
        p: &P,
        parsed: &message::Parsed<'_>,
    ) -> Result<(Header, Option<usize>), DecryptError> {
        match (self.mode, &parsed.kind) {
            (HeaderMode::Plain, Kind::PlainHeader(h)) => {
                let chain = self
                    .receiving
                    .iter()
                    .position(|c| c.their_ratchet_key == h.ratchet_key);
                Ok((*h, chain))
            }
            (
                HeaderMode::Encrypted,
                Kind::EncryptedHeader {
                    nonce,
                    ciphertext,
                    tag,
                },
            ) => {
                // Opens the header under `hk`; the nonce must be the one the
                // sender derives (spec §5.6.3), so each message has one encoding.
                let open = |hk: &Key| -> Result<Option<Header>, CryptoError> {
                    let hks = kdf::header_keys(p, hk)?;
                    let mut buf = **ciphertext;
                    let opened = with_ad(self.ad.session_ad(), &parsed.prefix[..2], |ad| {
                        p.aead_open(&hks.encryption_key, nonce, ad, &mut buf, tag)
                    });
                    if opened.is_err() {
                        return Ok(None);
                    }
                    let h = Header::decode(&buf);
                    if kdf::header_nonce(p, &hks.nonce_key, h.n, &h.salt)? != *nonce {
                        return Ok(None);
                    }
                    Ok(Some(h))
                };
                for (i, c) in self.receiving.iter().enumerate() {
                    if let Some(hk) = &c.header_key {
                        if let Some(h) = open(hk)? {
                            return Ok((h, Some(i)));
                        }
                    }
                }
                match &self.next_recv_header_key {
                    Some(hk) => match open(hk)? {
                        Some(h) => Ok((h, None)),
                        None => Err(DecryptError::HeaderAuthentication),
                    },
                    None => Err(DecryptError::HeaderAuthentication),
                }
            }
            (_, Kind::PlainHeader(_)) => {
                Err(DecryptError::WrongMessageType(message::TYPE_PLAIN_HEADER))
            }
            (_, Kind::EncryptedHeader { .. }) => Err(DecryptError::WrongMessageType(
                message::TYPE_ENCRYPTED_HEADER,
            )),
        }
    }

    #[inline(always)]
    fn plan<P: CryptoProvider + ?Sized>(
        &self,
        p: &P,
        header: &Header,
        chain: Option<usize>,
        trace: &mut Option<&mut TraceSink>,
    ) -> Result<(Plan, kdf::MessageKeys), DecryptError> {
        let n = header.n;
        // The message key's AEAD key and nonce; a stored key is read where
        // it lies (not copied), a derived one dropped (and wiped) here.
        let message_keys = |mk: &Key, trace: &mut Option<&mut TraceSink>| {
            trace_set(trace, |t| t.message_key = Some(mk.clone()));
            kdf::message_keys(p, mk, &header.salt)
        };
        // A chain holds at most 2^32 - 1 messages, numbered below u32::MAX
        // (spec §5.5.3): no sender produces n = u32::MAX.
        if n == u32::MAX {
            return Err(DecryptError::BeyondChainEnd { n, end: u32::MAX });
        }
        let check_skip = |from: u32| -> Result<(), DecryptError> {
            let skip = n - from;
            if skip > MAX_SKIP {
                return Err(DecryptError::TooManySkipped { n, skip });
            }
            Ok(())
        };
        let use_skipped = |i: usize, c: &ReceivingChain, trace: &mut Option<&mut TraceSink>| {
            // A chain's keys are stored in order of n, and usually as one
            // run without holes: the key of n is then at n − (first n), found
            // with one probe; otherwise by binary search.
            let first = c.skipped.front().map(|(k, _)| *k);
            let guess = first
                .and_then(|f| n.checked_sub(f))
                .map(|d| d as usize)
                .filter(|&g| c.skipped.get(g).is_some_and(|(k, _)| *k == n));
            match guess.ok_or(()).or_else(|()| {
                c.skipped
                    .binary_search_by_key(&n, |(k, _)| *k)
                    .map_err(|_| ())
            }) {
                Ok(index) => Ok((
                    Plan::UseSkipped { chain: i, index },
                    message_keys(&c.skipped[index].1, trace)?,
                )),
                Err(()) => Err(DecryptError::DuplicateOrExpired { n }),
            }
        };
        match chain.and_then(|i| self.receiving.get(i).map(|c| (i, c))) {
            Some((i, c)) => match &c.position {
                ChainPosition::Closed { end } => {
                    if n >= *end {
                        return Err(DecryptError::BeyondChainEnd { n, end: *end });
                    }
                    use_skipped(i, c, trace)
                }
                ChainPosition::Open { next_n, .. } if n < *next_n => use_skipped(i, c, trace),
                ChainPosition::Open { chain_key, next_n } => {
                    check_skip(*next_n)?;
                    let (skipped, mk, next) = advance_chain(p, chain_key, *next_n, n)?;
                    trace_set(trace, |t| {
                        t.chain_key = Some(chain_key.clone());
                        t.skipped_keys = skipped.clone();
                    });
                    Ok((
                        Plan::Advance {
                            chain: i,
                            chain_key: next,
                            next_n: n + 1,
                            skipped,
                        },
                        message_keys(&mk, trace)?,
                    ))
                }
            },
            None => {
                // A DH ratchet step (spec §5.5.3).
                let ours = self.ours.as_ref().ok_or(DecryptError::Authentication)?;
                // A new chain never reuses the ratchet key of a kept chain. In
                // ENCRYPTED mode the chain is found by header key, so only
                // this check keeps two chains from sharing a key (spec §5.6.3).
                if self
                    .receiving
                    .iter()
                    .any(|c| c.their_ratchet_key == header.ratchet_key)
                {
                    return Err(DecryptError::Authentication);
                }
                check_skip(0)?;
                let dh = p.x25519(&ours.private, &header.ratchet_key)?;
                let rs = kdf::kdf_rk(p, &self.root_key, &dh)?;
                let (skipped, mk, next) = advance_chain(p, &rs.chain_key, 0, n)?;
                // The newest chain is closed at the length the peer announces
                // (its keys are derived after the body authenticates, by
                // `close_keys`); its chain key is erased at commit.
                let close = self.receiving.front().map(|_| CloseChain {
                    end: header.previous_chain_len,
                    keys: Vec::new(),
                });
                trace_set(trace, |t| {
                    t.dh_output = Some(dh.clone());
                    t.root_key = Some(rs.root_key.clone());
                    t.next_header_key = Some(rs.next_header_key.clone());
                    t.chain_key = Some(rs.chain_key.clone());
                    t.skipped_keys = skipped.clone();
                });
                Ok((
                    Plan::NewChain(Box::new(NewChain {
                        root_key: rs.root_key,
                        next_header_key: rs.next_header_key,
                        their_ratchet_key: header.ratchet_key,
                        chain_key: next,
                        next_n: n + 1,
                        skipped,
                        close,
                    })),
                    message_keys(&mk, trace)?,
                ))
            }
        }
    }

    /// Derives the remaining keys of the chain a DH ratchet step closes
    /// (spec §5.5.3): messages `Nr .. min(END, Nr + MAX_SKIP) − 1` of the
    /// newest receiving chain. Called once the body has authenticated, so an
    /// unauthenticated message costs at most one chain's derivation.
    #[inline(always)]
    fn close_keys<P: CryptoProvider + ?Sized>(
        &self,
        p: &P,
        plan: &mut Plan,
        trace: &mut Option<&mut TraceSink>,
    ) -> Result<(), DecryptError> {
        if let Plan::NewChain(step) = plan {
            let Some(close) = step.close.as_mut() else {
                return Ok(());
            };
            if let Some(ChainPosition::Open { chain_key, next_n }) =
                self.receiving.front().map(|c| &c.position)
            {
                let to = close.end.min(next_n.saturating_add(MAX_SKIP));
                close.keys = derive_range(p, chain_key, *next_n, to)?;
                trace_set(trace, |t| t.closed_chain_keys = close.keys.clone());
            }
        }
        Ok(())
    }

    /// Parses and locates a message and plans its decryption, changing nothing.
    #[inline(always)]
    fn prepare<P: CryptoProvider + ?Sized>(
        &self,
        p: &P,
        bytes: &[u8],
        trace: &mut Option<&mut TraceSink>,
    ) -> Result<Pending, DecryptError> {
        let parsed = message::parse(bytes)?;
        let (header, chain) = self.locate(p, &parsed)?;
        let (plan, keys) = self.plan(p, &header, chain, trace)?;
        Ok(Pending {
            header,
            plan,
            keys,
            prefix_len: parsed.prefix.len(),
            body_len: parsed.ciphertext.len(),
            tag: parsed.tag,
        })
    }

    /// Opens `body` (the ciphertext) in place under the message `prefix`,
    /// unpads it and commits the plan; returns the plaintext length. On error
    /// nothing is committed and a body that was opened is zeroed.
    #[inline(always)]
    fn open_and_commit<P: CryptoProvider + ?Sized>(
        &mut self,
        p: &P,
        prefix: &[u8],
        body: &mut [u8],
        pending: Pending,
        trace: &mut Option<&mut TraceSink>,
        check: Option<&mut PlaintextCheck<'_>>,
    ) -> Result<(usize, MessageInfo), DecryptError> {
        let keys = &pending.keys;
        let ad = self.ad.with_prefix(prefix);
        let opened = p.aead_open(&keys.key, &keys.nonce, ad, body, &pending.tag);
        if let Err(e) = opened {
            body.zeroize();
            return Err(e.into());
        }
        let Some(len) = padding::unpadded_len(body) else {
            body.zeroize();
            return Err(DecryptError::InvalidPadding);
        };
        // The caller's own check of the plaintext, before anything is
        // committed (the fan-out of spec §11.6 checks its key message here).
        if let Some(check) = check {
            if !check(&body[..len]) {
                body.zeroize();
                return Err(DecryptError::Authentication);
            }
        }
        let mut plan = pending.plan;
        if let Err(e) = self.close_keys(p, &mut plan, trace) {
            body.zeroize();
            return Err(e);
        }
        trace_set(trace, |t| {
            t.header = Some(pending.header.encode());
            t.aead_key = Some(keys.key.clone());
            t.aead_nonce = Some(keys.nonce);
            t.salt = Some(pending.header.salt);
            t.padded_plaintext = body.to_vec();
        });
        let info = plan.info(&pending.header);
        self.commit(plan);
        Ok((len, info))
    }

    fn decrypt_in_place_inner<'m, P: CryptoProvider + ?Sized>(
        &mut self,
        p: &P,
        message: &'m mut [u8],
        mut trace: Option<&mut TraceSink>,
    ) -> Result<(&'m mut [u8], MessageInfo), DecryptError> {
        let pending = self.prepare(p, message, &mut trace)?;
        // `parse` checked that the message is exactly prefix, body and tag.
        let (prefix, rest) = message.split_at_mut(pending.prefix_len);
        let body = &mut rest[..pending.body_len];
        let (len, info) = self.open_and_commit(p, prefix, body, pending, &mut trace, None)?;
        Ok((&mut body[..len], info))
    }

    fn decrypt_into_inner<P: CryptoProvider + ?Sized>(
        &mut self,
        p: &P,
        message: &[u8],
        out: &mut Vec<u8>,
        mut trace: Option<&mut TraceSink>,
        check: Option<&mut PlaintextCheck<'_>>,
    ) -> Result<MessageInfo, DecryptError> {
        let pending = self.prepare(p, message, &mut trace)?;
        let (prefix, rest) = message.split_at(pending.prefix_len);
        let start = out.len();
        wipe::reserve(out, pending.body_len);
        out.extend_from_slice(&rest[..pending.body_len]);
        let body = &mut out[start..];
        match self.open_and_commit(p, prefix, body, pending, &mut trace, check) {
            Ok((len, info)) => {
                // The padding (the marker and zeros) stays in the spare capacity.
                out.truncate(start + len);
                Ok(info)
            }
            Err(e) => {
                // Past `start`, only ciphertext or zeros were written.
                out.truncate(start);
                Err(e)
            }
        }
    }

    /// Applies a decryption plan (spec §5.5, §5.7). Cannot fail.
    #[inline(always)]
    fn commit(&mut self, plan: Plan) {
        match plan {
            Plan::UseSkipped { chain, index } => {
                if let Some(c) = self.receiving.get_mut(chain) {
                    // Wiped where it lies; no other slot keeps a copy.
                    c.skipped.remove(index);
                }
            }
            Plan::Advance {
                chain,
                chain_key,
                next_n,
                skipped,
            } => {
                if let Some(c) = self.receiving.get_mut(chain) {
                    c.position = ChainPosition::Open { chain_key, next_n };
                    if !skipped.is_empty() {
                        c.skipped.append_vec(skipped);
                        self.evict();
                    }
                }
            }
            Plan::NewChain(mut step) => {
                // The keys are copied out; the box's copies are wiped when it drops.
                let step = &mut *step;
                if let (Some(prev), Some(close)) = (self.receiving.front_mut(), step.close.take()) {
                    // Keys the peer says it never used are deleted; the rest
                    // of the chain's keys are stored; the chain key goes
                    // (replacing the position drops it, and `Secret` wipes
                    // itself on drop).
                    prev.skipped.retain(|(k, _)| *k < close.end);
                    prev.skipped.append_vec(close.keys);
                    prev.position = ChainPosition::Closed { end: close.end };
                }
                let header_key = match self.mode {
                    HeaderMode::Encrypted => self
                        .next_recv_header_key
                        .replace(step.next_header_key.clone()),
                    HeaderMode::Plain => None,
                };
                self.receiving.push_front(ReceivingChain {
                    their_ratchet_key: step.their_ratchet_key,
                    position: ChainPosition::Open {
                        chain_key: step.chain_key.clone(),
                        next_n: step.next_n,
                    },
                    header_key,
                    skipped: core::mem::take(&mut step.skipped).into(),
                });
                self.receiving.truncate(MAX_RECEIVING_CHAINS);
                self.root_key = step.root_key.clone();
                self.theirs = Some(step.their_ratchet_key);
                if let Some(s) = &self.sending {
                    self.previous_sending_len = s.n;
                }
                // Wiped where it lies: `take` would move the keys out and
                // leave their bytes behind.
                self.sending.zeroize();
                // Our ratchet private key has done its work: the next message
                // we send starts a new chain with a fresh key pair. For a
                // responder this deletes the signed prekey's private key from
                // the session at its first message (spec §5.5.3, §7.6).
                self.ours = None;
                self.evict();
            }
        }
        // Keys are evicted only where some were stored above: using a stored
        // key removes one, an in-order message adds none, and a state holds
        // at most MAX_STORED_KEYS before (`from_bytes` checks it too).
        self.generation = self.generation.saturating_add(1);
    }

    /// Drops stored keys beyond [`MAX_STORED_KEYS`]: oldest chain first, and
    /// within a chain the lowest message number first (spec §5.5).
    fn evict(&mut self) {
        let mut excess = self.stored_keys().saturating_sub(MAX_STORED_KEYS);
        for c in self.receiving.iter_mut().rev() {
            if excess == 0 {
                break;
            }
            let k = excess.min(c.skipped.len());
            c.skipped.remove_front(k);
            excess -= k;
        }
    }
}

/// Where traced intermediates are written (spec names, for test vectors and `--trace`).
#[cfg(feature = "hazmat")]
type TraceSink = trace::Trace;
#[cfg(not(feature = "hazmat"))]
type TraceSink = NoTrace;

/// Stand-in when tracing is compiled out.
#[cfg(not(feature = "hazmat"))]
#[derive(Default)]
struct NoTrace {
    ratchet_private: Option<Key>,
    dh_output: Option<Key>,
    root_key: Option<Key>,
    next_header_key: Option<Key>,
    header_key: Option<Key>,
    header_nonce: Option<[u8; 12]>,
    chain_key: Option<Key>,
    next_chain_key: Option<Key>,
    message_key: Option<Key>,
    aead_key: Option<Key>,
    aead_nonce: Option<[u8; 12]>,
    header: Option<[u8; HEADER_LEN]>,
    padded_plaintext: Vec<u8>,
    skipped_keys: Vec<(u32, Key)>,
    closed_chain_keys: Vec<(u32, Key)>,
    salt: Option<[u8; message::SALT_LEN]>,
}

#[inline(always)]
fn trace_set(trace: &mut Option<&mut TraceSink>, f: impl FnOnce(&mut TraceSink)) {
    if let Some(t) = trace.as_deref_mut() {
        f(t);
    }
}

#[cfg(feature = "hazmat")]
impl Ratchet {
    /// [`encrypt_with`](Self::encrypt_with), also returning every intermediate value.
    ///
    /// # Errors
    /// As [`encrypt`](Self::encrypt).
    pub fn encrypt_traced<P: CryptoProvider + ?Sized, R: TryCryptoRng + ?Sized>(
        &mut self,
        p: &P,
        rng: &mut R,
        plaintext: &[u8],
    ) -> Result<(Vec<u8>, Trace), EncryptError> {
        let mut t = Trace::default();
        let mut out = Vec::new();
        self.encrypt_into_inner(p, rng, plaintext, &mut out, Some(&mut t))?;
        Ok((out, t))
    }

    /// [`decrypt_with`](Self::decrypt_with), also returning every intermediate value.
    ///
    /// # Errors
    /// As [`decrypt`](Self::decrypt).
    pub fn decrypt_traced<P: CryptoProvider + ?Sized>(
        &mut self,
        p: &P,
        message: &[u8],
    ) -> Result<(Vec<u8>, Trace), DecryptError> {
        let mut t = Trace::default();
        let mut out = Vec::new();
        self.decrypt_into_inner(p, message, &mut out, Some(&mut t), None)?;
        Ok((out, t))
    }

    /// The current root key (for test vectors).
    pub fn root_key(&self) -> &Secret<32> {
        &self.root_key
    }
}
