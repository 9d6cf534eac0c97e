//! A conversation with one peer (spec §7.7, §8.6): the sessions held with
//! it, which one messages are sent on, and where each incoming message goes.

use alloc::vec::Vec;

use rand_core::TryCryptoRng;

use super::{
    open_state_with, seal_state, AcceptError, AcceptPolicy, Account, DecryptError, EncryptError,
    HandshakeHeader, IdentityKey, PersistError, Session, StartError, TYPE_INITIAL,
};
use crate::codec::Writer;
use crate::provider::{CryptoProvider, DefaultProvider};
use crate::ratchet::{HeaderMode, MessageInfo, StateError};
use crate::secret::Secret;
use crate::storage::{SealedKind, StorageError};
use crate::wipe;

/// The most sessions a [`Conversation`] holds (spec §7.7). A session beyond
/// it replaces the oldest one that is not the active one.
pub const MAX_CONVERSATION_SESSIONS: usize = 5;

/// All sessions with one peer, bound to that peer's identity, and the rules
/// that route every incoming message to the right session and pick the one
/// to send on (spec §7.7).
///
/// * **Bound to a peer.** A conversation is made for an expected identity
///   ([`new`](Self::new)); sessions and initial messages of any other
///   identity are refused ([`ConversationError::OtherPeer`]) before the
///   account changes.
/// * **Routing.** [`decrypt`](Self::decrypt) tries the sessions (the active
///   one first); a repeat of an initial message reaches the session it set
///   up, and only an initial message no session knows is accepted as a new
///   session. Nothing changes when a message is refused.
/// * **Nothing lost when sessions race.** When both parties start a session
///   at once, each has two; both send on the same one (confirmed sessions
///   first, then the one initiated by the smaller identity key, then the
///   newest), and the other is kept for receiving, so a message delayed on
///   it still decrypts. At most [`MAX_CONVERSATION_SESSIONS`] are kept.
/// * **Account changes are explicit.** When a new session is accepted,
///   [`Received::account_changed`] says so: persist the account then.
/// * **Persistence** like a session: [`to_bytes`](Self::to_bytes) and
///   [`to_sealed_bytes`](Self::to_sealed_bytes) (spec §8.6).
///
/// ```
/// use sova::session::{Account, Conversation};
/// use sova::ratchet::HeaderMode;
///
/// let mut rng = sova::OsRng;
/// let alice = Account::new(&mut rng)?;
/// let mut bob = Account::new(&mut rng)?;
/// let bundle = bob.bundle(None, None)?.to_bytes();
///
/// // Alice knows Bob's identity (from a contact card, a QR code, a safety number).
/// let mut to_bob = Conversation::start(&alice, &mut rng, &bob.identity_key(), &bundle, HeaderMode::Encrypted)?;
/// let wire = to_bob.encrypt(&mut rng, b"hi Bob")?;
///
/// // Bob expects Alice.
/// let mut to_alice = Conversation::new(alice.identity_key());
/// let got = to_alice.decrypt(&mut bob, &wire)?;
/// assert_eq!(got.plaintext, b"hi Bob");
/// assert!(got.account_changed); // persist Bob's account now
///
/// let reply = to_alice.encrypt(&mut rng, b"hi Alice")?;
/// assert_eq!(to_bob.decrypt(&mut bob, &reply)?.plaintext, b"hi Alice");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Conversation {
    peer: IdentityKey,
    /// In the order they were added, oldest first.
    sessions: Vec<Session>,
}

impl core::fmt::Debug for Conversation {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Conversation")
            .field("sessions", &self.sessions)
            .finish_non_exhaustive()
    }
}

/// A message a [`Conversation`] decrypted, and what it changed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Received {
    /// The plaintext.
    pub plaintext: Vec<u8>,
    /// Where the message stands among the peer's messages (spec §5.9).
    pub info: MessageInfo,
    /// The id of the session it arrived on.
    pub session_id: [u8; 32],
    /// The message was a new initial message, accepted through the account
    /// as a new session: the account changed (a one-time prekey deleted or a
    /// replay record added) and must be persisted with the conversation.
    pub account_changed: bool,
}

impl Conversation {
    /// An empty conversation with the expected peer `peer`.
    pub fn new(peer: IdentityKey) -> Self {
        Self {
            peer,
            sessions: Vec::new(),
        }
    }

    /// Starts a conversation with `peer` from its bundle
    /// ([`Session::start`]: a bundle of another identity is refused).
    ///
    /// # Errors
    /// See [`StartError`].
    pub fn start<R: TryCryptoRng + ?Sized>(
        account: &Account,
        rng: &mut R,
        peer: &IdentityKey,
        bundle: &[u8],
        mode: HeaderMode,
    ) -> Result<Self, StartError> {
        let session = Session::start(account, rng, peer, bundle, mode)?;
        Ok(Self {
            peer: *peer,
            sessions: alloc::vec![session],
        })
    }

    /// Starts one more session from the peer's bundle (after the peer lost
    /// its state, say); it is added as [`add`](Self::add) does.
    ///
    /// # Errors
    /// See [`StartError`].
    pub fn start_session<R: TryCryptoRng + ?Sized>(
        &mut self,
        account: &Account,
        rng: &mut R,
        bundle: &[u8],
        mode: HeaderMode,
    ) -> Result<(), StartError> {
        let session = Session::start(account, rng, &self.peer, bundle, mode)?;
        self.insert(session);
        Ok(())
    }

    /// Adds a session with the conversation's peer. When the conversation
    /// already holds [`MAX_CONVERSATION_SESSIONS`], the oldest session other
    /// than the active one is dropped.
    ///
    /// # Errors
    /// [`ConversationError::OtherPeer`] when the session's peer is not the
    /// conversation's; [`ConversationError::DuplicateSession`] when a
    /// session with the same id is held. The session is then not added.
    pub fn add(&mut self, session: Session) -> Result<(), ConversationError> {
        if session.peer_identity().identity_key() != self.peer {
            return Err(ConversationError::OtherPeer);
        }
        if self
            .sessions
            .iter()
            .any(|s| s.session_id() == session.session_id())
        {
            return Err(ConversationError::DuplicateSession);
        }
        self.insert(session);
        Ok(())
    }

    fn insert(&mut self, session: Session) {
        if self.sessions.len() >= MAX_CONVERSATION_SESSIONS {
            let active = self.active();
            if let Some(i) = (0..self.sessions.len()).find(|&i| Some(i) != active) {
                // `remove` shifts the later sessions down: the freed last slot
                // keeps a copy of the last one's keys until it is wiped.
                drop(self.sessions.remove(i));
                wipe::wipe_spare(&mut self.sessions);
            }
        }
        wipe::push(&mut self.sessions, session);
    }

    /// The peer's identity key.
    pub fn peer(&self) -> &IdentityKey {
        &self.peer
    }

    /// The sessions held, oldest first.
    pub fn sessions(&self) -> &[Session] {
        &self.sessions
    }

    /// Index of the session to send on (spec §7.7).
    fn active(&self) -> Option<usize> {
        // One session (the common case, and every fan-out target's): it.
        if self.sessions.len() <= 1 {
            return if self.sessions.is_empty() {
                None
            } else {
                Some(0)
            };
        }
        // Confirmed sessions first; then the smallest initiator identity key;
        // among sessions with the same initiator (a peer that started again,
        // e.g. after restoring its account), the newest (spec §7.7).
        (0..self.sessions.len()).min_by_key(|&i| {
            let s = &self.sessions[i];
            (
                !s.is_confirmed(),
                s.initiator_identity(),
                core::cmp::Reverse(i),
            )
        })
    }

    /// The session messages are sent on.
    pub fn active_session(&self) -> Option<&Session> {
        self.active().and_then(|i| self.sessions.get(i))
    }

    /// Encrypts on the active session.
    ///
    /// # Errors
    /// [`EncryptError::NoSendingChain`] if there is no session, or the
    /// active session's [`EncryptError`]; nothing changes on error.
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
    /// As [`encrypt`](Self::encrypt).
    pub fn encrypt_with<P: CryptoProvider + ?Sized, R: TryCryptoRng + ?Sized>(
        &mut self,
        p: &P,
        rng: &mut R,
        plaintext: &[u8],
    ) -> Result<Vec<u8>, EncryptError> {
        let i = self.active().ok_or(EncryptError::NoSendingChain)?;
        match self.sessions.get_mut(i) {
            Some(s) => s.encrypt_with(p, rng, plaintext),
            None => Err(EncryptError::NoSendingChain),
        }
    }

    /// [`encrypt`](Self::encrypt), appending the message to `out` instead
    /// of allocating it ([`Session::encrypt_into`]).
    ///
    /// # Errors
    /// As [`encrypt`](Self::encrypt); the conversation and `out` are
    /// unchanged on error.
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
    /// As [`encrypt_into`](Self::encrypt_into).
    pub fn encrypt_into_with<P: CryptoProvider + ?Sized, R: TryCryptoRng + ?Sized>(
        &mut self,
        p: &P,
        rng: &mut R,
        plaintext: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), EncryptError> {
        let i = self.active().ok_or(EncryptError::NoSendingChain)?;
        match self.sessions.get_mut(i) {
            Some(s) => s.encrypt_into_with(p, rng, plaintext, out),
            None => Err(EncryptError::NoSendingChain),
        }
    }

    /// Decrypts a message from the peer (spec §7.7): tries each session, the
    /// active one first; a repeat of an initial message reaches the session
    /// it set up; an initial message that no session knows is accepted
    /// through `account` as a new session, provided it comes from the
    /// conversation's peer. Nothing changes on error, in the conversation or
    /// the account.
    ///
    /// # Errors
    /// [`ConversationError::OtherPeer`] for a new initial message from
    /// another identity (checked before `account` is touched); the
    /// [`AcceptError`] of a new initial message
    /// ([`ConversationError::Accept`]); otherwise the active session's
    /// [`DecryptError`] ([`ConversationError::Decrypt`]).
    pub fn decrypt(
        &mut self,
        account: &mut Account,
        message: &[u8],
    ) -> Result<Received, ConversationError> {
        self.decrypt_with(&DefaultProvider::default(), account, message)
    }

    /// [`decrypt`](Self::decrypt) with an explicit provider.
    ///
    /// # Errors
    /// As [`decrypt`](Self::decrypt).
    pub fn decrypt_with<P: CryptoProvider + ?Sized>(
        &mut self,
        p: &P,
        account: &mut Account,
        message: &[u8],
    ) -> Result<Received, ConversationError> {
        self.decrypt_checked(p, account, message, &mut |_| true)
    }

    /// [`decrypt_with`](Self::decrypt_with) where `check` sees the plaintext
    /// before anything is committed; a plaintext it refuses is treated as a
    /// message that does not authenticate (nothing changes).
    pub(crate) fn decrypt_checked<P: CryptoProvider + ?Sized>(
        &mut self,
        p: &P,
        account: &mut Account,
        message: &[u8],
        check: &mut crate::ratchet::PlaintextCheck<'_>,
    ) -> Result<Received, ConversationError> {
        let active = self.active();
        let mut first_err = None;
        let order = active
            .into_iter()
            .chain((0..self.sessions.len()).filter(|i| Some(*i) != active));
        for i in order {
            let Some(s) = self.sessions.get_mut(i) else {
                continue;
            };
            let mut plaintext = Vec::new();
            match s.decrypt_checked(p, message, &mut plaintext, check) {
                Ok(info) => {
                    return Ok(Received {
                        plaintext,
                        info,
                        session_id: *s.session_id(),
                        account_changed: false,
                    })
                }
                Err(DecryptError::NotThisSession) => {}
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        if message.get(1) != Some(&TYPE_INITIAL) || first_err.is_some() {
            return Err(ConversationError::Decrypt(
                first_err.unwrap_or(DecryptError::NotThisSession),
            ));
        }
        // A new initial message. The peer is checked by the policy before
        // the account does any work or changes (spec §7.6).
        if let Ok((h, _)) = HandshakeHeader::parse(message) {
            if h.identity.identity_key() != self.peer {
                return Err(ConversationError::OtherPeer);
            }
        }
        let (session, plaintext, info) =
            account.accept_checked(p, &AcceptPolicy::expect(self.peer), message, check)?;
        let session_id = *session.session_id();
        self.insert(session);
        Ok(Received {
            plaintext,
            info,
            session_id,
            account_changed: true,
        })
    }
}

const MAGIC: &[u8; 19] = b"SOVA-1 conversation";
const STATE_VERSION: u8 = 1;

impl Conversation {
    /// Encodes the conversation (spec §8.6): its peer and every session.
    /// The result holds secret keys: seal it
    /// ([`to_sealed_bytes`](Self::to_sealed_bytes)) or store it where
    /// secrets may be kept.
    pub fn to_bytes(&self) -> Vec<u8> {
        // Each session is written in place (no copy of its keys to wipe)
        // and the output is allocated once, exactly. The pending
        // handshake encodings are public.
        let pending: Vec<Option<Vec<u8>>> = self
            .sessions
            .iter()
            .map(Session::pending_encoding)
            .collect();
        let lens: Vec<usize> = self
            .sessions
            .iter()
            .zip(&pending)
            .map(|(s, enc)| s.encoded_len(enc.as_deref()))
            .collect();
        let len = MAGIC.len()
            + 1
            + 64
            + 1
            + lens.iter().map(|n| 4 + n).sum::<usize>()
            + crate::ratchet::STATE_CHECK_LEN;
        let mut out = Vec::with_capacity(len);
        out.put(MAGIC);
        out.put_u8(STATE_VERSION);
        out.put(&self.peer);
        // At most MAX_CONVERSATION_SESSIONS (5) sessions.
        out.put_u8(self.sessions.len() as u8);
        for ((s, enc), n) in self.sessions.iter().zip(&pending).zip(&lens) {
            out.put_u32(*n as u32);
            s.write_to(&mut out, enc.as_deref());
        }
        crate::ratchet::append_state_check(&mut out, 0);
        debug_assert_eq!(out.len(), len);
        out
    }

    /// Restores a conversation written by [`to_bytes`](Self::to_bytes).
    ///
    /// # Errors
    /// [`StateError`] naming what is wrong (spec §8.6); never panics.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, StateError> {
        Self::from_bytes_with(&DefaultProvider::default(), bytes)
    }

    /// [`from_bytes`](Self::from_bytes) with an explicit provider (see
    /// [`Session::from_bytes_with`]).
    ///
    /// # Errors
    /// As [`from_bytes`](Self::from_bytes).
    pub fn from_bytes_with<P: CryptoProvider + ?Sized>(
        p: &P,
        bytes: &[u8],
    ) -> Result<Self, StateError> {
        let mut r = crate::ratchet::open_state(bytes, MAGIC, STATE_VERSION)?;
        let peer: IdentityKey = r.array()?;
        let count = usize::from(r.u8()?);
        if count > MAX_CONVERSATION_SESSIONS {
            return Err(StateError::Invalid("session count"));
        }
        let mut sessions: Vec<Session> = Vec::with_capacity(count);
        for _ in 0..count {
            let len = r.u32()? as usize;
            let session = Session::from_bytes_with(p, r.bytes(len)?)?;
            if session.peer_identity().identity_key() != peer {
                return Err(StateError::Invalid("session peer"));
            }
            if sessions
                .iter()
                .any(|s| s.session_id() == session.session_id())
            {
                return Err(StateError::Invalid("duplicate session"));
            }
            sessions.push(session);
        }
        if r.remaining() != 0 {
            return Err(StateError::TrailingBytes);
        }
        Ok(Self { peer, sessions })
    }

    /// [`to_bytes`](Self::to_bytes) sealed under a caller-given storage key
    /// (spec §8.3, kind 3).
    ///
    /// # Errors
    /// [`StorageError::Randomness`] if the generator fails.
    pub fn to_sealed_bytes<R: TryCryptoRng + ?Sized>(
        &self,
        rng: &mut R,
        key: &Secret<32>,
    ) -> Result<Vec<u8>, StorageError> {
        seal_state(rng, key, SealedKind::Conversation, self.to_bytes())
    }

    /// Opens and restores a conversation sealed by
    /// [`to_sealed_bytes`](Self::to_sealed_bytes).
    ///
    /// # Errors
    /// [`PersistError`] for a wrong key, a corrupted blob or an invalid state.
    pub fn from_sealed_bytes(sealed: &[u8], key: &Secret<32>) -> Result<Self, PersistError> {
        Self::from_sealed_bytes_with(&DefaultProvider::default(), sealed, key)
    }

    /// [`from_sealed_bytes`](Self::from_sealed_bytes) with an explicit
    /// provider, which opens the blob and restores the state as
    /// [`from_bytes_with`](Self::from_bytes_with) does.
    ///
    /// # Errors
    /// As [`from_sealed_bytes`](Self::from_sealed_bytes).
    pub fn from_sealed_bytes_with<P: CryptoProvider + ?Sized>(
        p: &P,
        sealed: &[u8],
        key: &Secret<32>,
    ) -> Result<Self, PersistError> {
        open_state_with(p, key, SealedKind::Conversation, sealed, |bytes| {
            Self::from_bytes_with(p, bytes)
        })
    }
}

/// Why a [`Conversation`] refused a session or a message. Nothing changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConversationError {
    /// No session accepted the message.
    #[error(transparent)]
    Decrypt(#[from] DecryptError),
    /// A new initial message was not accepted.
    #[error(transparent)]
    Accept(#[from] AcceptError),
    /// A session or initial message of an identity other than the
    /// conversation's peer.
    #[error("session or initial message of another peer")]
    OtherPeer,
    /// A session with this id is already held.
    #[error("the conversation already holds this session")]
    DuplicateSession,
}
