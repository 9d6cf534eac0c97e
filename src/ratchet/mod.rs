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
//! use rand_chacha::{rand_core::SeedableRng, ChaCha20Rng};
//!
//! let mut rng = ChaCha20Rng::from_seed([1; 32]); // any CryptoRng; seeded here for a reproducible example
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

use alloc::vec::Vec;

use rand_core::CryptoRng;
use zeroize::Zeroize;

use crate::error::CryptoError;
use crate::provider::{CryptoProvider, DefaultProvider, AEAD_TAG_LEN, X25519_LEN};
use crate::secret::Secret;
use crate::wipe::SecretDeque;

mod error;
pub mod kdf;
pub mod message;
pub mod padding;
mod state;
#[cfg(feature = "hazmat")]
mod trace;

pub use error::{DecryptError, EncryptError, InitError};
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
    session_ad: Vec<u8>,
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
    /// A DH ratchet step: a new receiving chain, and the previous newest
    /// chain closed at the length the peer announced.
    NewChain {
        root_key: Key,
        next_header_key: Key,
        their_ratchet_key: [u8; X25519_LEN],
        chain_key: Key,
        next_n: u32,
        skipped: Vec<(u32, Key)>,
        close: Option<CloseChain>,
    },
}

/// How the newest receiving chain is closed by a DH ratchet step (spec §5.5.3).
struct CloseChain {
    /// `END`: the chain length the peer announced (`pn`).
    end: u32,
    /// The keys of messages `Nr .. min(END, Nr + MAX_SKIP) − 1`, derived only
    /// once the message's body has authenticated.
    keys: Vec<(u32, Key)>,
}

impl From<CryptoError> for EncryptError {
    fn from(e: CryptoError) -> Self {
        match e {
            CryptoError::X25519LowOrder => Self::LowOrderRatchetKey,
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

/// Builds `u16(len(session_ad)) || session_ad || prefix` on the stack and runs `f` on it (spec §5.5).
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
fn advance_chain<P: CryptoProvider + ?Sized>(
    p: &P,
    chain_key: &Key,
    from: u32,
    n: u32,
) -> Result<ChainAdvance, CryptoError> {
    let mut skipped = Vec::with_capacity((n - from) as usize);
    let mut ck = chain_key.clone();
    for i in from..n {
        let (next, mk) = kdf::kdf_ck(p, &ck)?;
        skipped.push((i, mk));
        ck = next;
    }
    let (next, mk) = kdf::kdf_ck(p, &ck)?;
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
            session_ad: session_ad.to_vec(),
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
        &self.session_ad
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
    ///
    /// # Errors
    /// See [`EncryptError`]; on error the ratchet is unchanged.
    pub fn encrypt<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        plaintext: &[u8],
    ) -> Result<Vec<u8>, EncryptError> {
        self.encrypt_inner(&DefaultProvider::default(), rng, plaintext, None)
    }

    /// [`encrypt`](Self::encrypt) with an explicit provider.
    ///
    /// # Errors
    /// See [`EncryptError`]; on error the ratchet is unchanged.
    pub fn encrypt_with<P: CryptoProvider + ?Sized, R: CryptoRng + ?Sized>(
        &mut self,
        p: &P,
        rng: &mut R,
        plaintext: &[u8],
    ) -> Result<Vec<u8>, EncryptError> {
        self.encrypt_inner(p, rng, plaintext, None)
    }

    /// Decrypts a ratchet message (spec §5.5), with the default provider.
    ///
    /// # Errors
    /// See [`DecryptError`]; on error the ratchet is exactly as it was.
    pub fn decrypt(&mut self, message: &[u8]) -> Result<Vec<u8>, DecryptError> {
        self.decrypt_inner(&DefaultProvider::default(), message, None)
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
        self.decrypt_inner(p, message, None)
    }

    fn encrypt_inner<P: CryptoProvider + ?Sized, R: CryptoRng + ?Sized>(
        &mut self,
        p: &P,
        rng: &mut R,
        plaintext: &[u8],
        mut trace: Option<&mut TraceSink>,
    ) -> Result<Vec<u8>, EncryptError> {
        if plaintext.len() > MAX_PLAINTEXT_LEN {
            return Err(EncryptError::PlaintextTooLong);
        }
        // A DH ratchet step, if one is due, computed before anything changes.
        let step = match &self.sending {
            Some(_) => None,
            None => {
                let theirs = self.theirs.ok_or(EncryptError::NoSendingChain)?;
                let mut private = Key::zero();
                rng.fill_bytes(private.expose_mut());
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
        // Fresh per message, after every check that can refuse the message
        // (spec §5.5.2): a rollback re-encrypts under other keys and nonces.
        let mut salt = [0u8; message::SALT_LEN];
        rng.fill_bytes(&mut salt);
        let (next_chain_key, message_key) = kdf::kdf_ck(p, chain_key)?;
        let keys = kdf::message_keys(p, &message_key, &salt)?;
        let header = Header {
            ratchet_key,
            previous_chain_len: self.previous_sending_len,
            n,
            salt,
        }
        .encode();

        let padded_len = padding::padded_len(plaintext.len());
        let mut out = Vec::with_capacity(message::ENCRYPTED_PREFIX_LEN + padded_len + AEAD_TAG_LEN);
        out.push(message::VERSION);
        match (self.mode, header_key) {
            (HeaderMode::Plain, _) => {
                out.push(message::TYPE_PLAIN_HEADER);
                out.extend_from_slice(&header);
            }
            (HeaderMode::Encrypted, Some(hk)) => {
                out.push(message::TYPE_ENCRYPTED_HEADER);
                let hks = kdf::header_keys(p, hk)?;
                let nonce = kdf::header_nonce(p, &hks.nonce_key, n, &salt)?;
                out.extend_from_slice(&nonce);
                let start = out.len();
                out.extend_from_slice(&header);
                let (head, enc) = out.split_at_mut(start);
                let tag = with_ad(&self.session_ad, &head[..2], |ad| {
                    p.aead_seal(&hks.encryption_key, &nonce, ad, enc)
                });
                out.extend_from_slice(&tag);
                trace_set(&mut trace, |t| {
                    t.header_key = Some(hk.clone());
                    t.header_nonce = Some(nonce);
                });
            }
            (HeaderMode::Encrypted, None) => {
                return Err(EncryptError::Crypto(CryptoError::AeadAuthentication))
            }
        }
        out.extend_from_slice(&(padded_len as u32 + AEAD_TAG_LEN as u32).to_be_bytes());
        let prefix_len = out.len();
        padding::pad_into(plaintext, &mut out);
        trace_set(&mut trace, |t| {
            t.chain_key = Some(chain_key.clone());
            t.next_chain_key = Some(next_chain_key.clone());
            t.message_key = Some(message_key.clone());
            t.aead_key = Some(keys.key.clone());
            t.aead_nonce = Some(keys.nonce);
            t.salt = Some(salt);
            t.header = Some(header);
            t.padded_plaintext = out[prefix_len..].to_vec();
        });
        let (prefix, body) = out.split_at_mut(prefix_len);
        let tag = with_ad(&self.session_ad, prefix, |ad| {
            p.aead_seal(&keys.key, &keys.nonce, ad, body)
        });
        out.extend_from_slice(&tag);

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
        Ok(out)
    }

    /// Finds which chain a message belongs to and its header (spec §5.5, §5.6.3).
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
                    let opened = with_ad(&self.session_ad, &parsed.prefix[..2], |ad| {
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

    fn plan<P: CryptoProvider + ?Sized>(
        &self,
        p: &P,
        header: &Header,
        chain: Option<usize>,
        trace: &mut Option<&mut TraceSink>,
    ) -> Result<(Plan, Key), DecryptError> {
        let n = header.n;
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
        let use_skipped =
            |i: usize, c: &ReceivingChain| match c.skipped.binary_search_by_key(&n, |(k, _)| *k) {
                Ok(index) => Ok((
                    Plan::UseSkipped { chain: i, index },
                    c.skipped[index].1.clone(),
                )),
                Err(_) => Err(DecryptError::DuplicateOrExpired { n }),
            };
        match chain.and_then(|i| self.receiving.get(i).map(|c| (i, c))) {
            Some((i, c)) => match &c.position {
                ChainPosition::Closed { end } => {
                    if n >= *end {
                        return Err(DecryptError::BeyondChainEnd { n, end: *end });
                    }
                    use_skipped(i, c)
                }
                ChainPosition::Open { next_n, .. } if n < *next_n => use_skipped(i, c),
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
                        mk,
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
                    Plan::NewChain {
                        root_key: rs.root_key,
                        next_header_key: rs.next_header_key,
                        their_ratchet_key: header.ratchet_key,
                        chain_key: next,
                        next_n: n + 1,
                        skipped,
                        close,
                    },
                    mk,
                ))
            }
        }
    }

    /// Derives the remaining keys of the chain a DH ratchet step closes
    /// (spec §5.5.3): messages `Nr .. min(END, Nr + MAX_SKIP) − 1` of the
    /// newest receiving chain. Called once the body has authenticated, so an
    /// unauthenticated message costs at most one chain's derivation.
    fn close_keys<P: CryptoProvider + ?Sized>(
        &self,
        p: &P,
        plan: &mut Plan,
        trace: &mut Option<&mut TraceSink>,
    ) -> Result<(), DecryptError> {
        if let Plan::NewChain {
            close: Some(close), ..
        } = plan
        {
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

    fn decrypt_inner<P: CryptoProvider + ?Sized>(
        &mut self,
        p: &P,
        bytes: &[u8],
        mut trace: Option<&mut TraceSink>,
    ) -> Result<Vec<u8>, DecryptError> {
        let parsed = message::parse(bytes)?;
        let (header, chain) = self.locate(p, &parsed)?;
        let (mut plan, message_key) = self.plan(p, &header, chain, &mut trace)?;
        let keys = kdf::message_keys(p, &message_key, &header.salt)?;
        let mut plaintext = parsed.ciphertext.to_vec();
        let opened = with_ad(&self.session_ad, parsed.prefix, |ad| {
            p.aead_open(&keys.key, &keys.nonce, ad, &mut plaintext, &parsed.tag)
        });
        if let Err(e) = opened {
            plaintext.zeroize();
            return Err(e.into());
        }
        let len = match padding::unpadded_len(&plaintext) {
            Some(len) => len,
            None => {
                plaintext.zeroize();
                return Err(DecryptError::InvalidPadding);
            }
        };
        if let Err(e) = self.close_keys(p, &mut plan, &mut trace) {
            plaintext.zeroize();
            return Err(e);
        }
        trace_set(&mut trace, |t| {
            t.header = Some(header.encode());
            t.message_key = Some(message_key.clone());
            t.aead_key = Some(keys.key.clone());
            t.aead_nonce = Some(keys.nonce);
            t.salt = Some(header.salt);
            t.padded_plaintext = plaintext.clone();
        });
        plaintext.truncate(len);
        self.commit(plan);
        Ok(plaintext)
    }

    /// Applies a decryption plan (spec §5.5, §5.7). Cannot fail.
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
                    c.skipped.append_vec(skipped);
                }
            }
            Plan::NewChain {
                root_key,
                next_header_key,
                their_ratchet_key,
                chain_key,
                next_n,
                skipped,
                close,
            } => {
                if let (Some(prev), Some(close)) = (self.receiving.front_mut(), close) {
                    // Keys the peer says it never used are deleted; the rest
                    // of the chain's keys are stored; the chain key goes
                    // (replacing the position drops it, and `Secret` wipes
                    // itself on drop).
                    prev.skipped.retain(|(k, _)| *k < close.end);
                    prev.skipped.append_vec(close.keys);
                    prev.position = ChainPosition::Closed { end: close.end };
                }
                let header_key = match self.mode {
                    HeaderMode::Encrypted => self.next_recv_header_key.replace(next_header_key),
                    HeaderMode::Plain => None,
                };
                self.receiving.push_front(ReceivingChain {
                    their_ratchet_key,
                    position: ChainPosition::Open { chain_key, next_n },
                    header_key,
                    skipped: skipped.into(),
                });
                self.receiving.truncate(MAX_RECEIVING_CHAINS);
                self.root_key = root_key;
                self.theirs = Some(their_ratchet_key);
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
            }
        }
        self.evict();
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
    pub fn encrypt_traced<P: CryptoProvider + ?Sized, R: CryptoRng + ?Sized>(
        &mut self,
        p: &P,
        rng: &mut R,
        plaintext: &[u8],
    ) -> Result<(Vec<u8>, Trace), EncryptError> {
        let mut t = Trace::default();
        let out = self.encrypt_inner(p, rng, plaintext, Some(&mut t))?;
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
        let out = self.decrypt_inner(p, message, Some(&mut t))?;
        Ok((out, t))
    }

    /// The current root key (for test vectors).
    pub fn root_key(&self) -> &Secret<32> {
        &self.root_key
    }
}
