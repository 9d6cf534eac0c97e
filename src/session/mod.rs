//! Sessions between two parties (spec §7): identities, prekey bundles, the
//! hybrid X25519 + ML-KEM-768 handshake, and the session API.
//!
//! The types here are plain state objects the caller owns and persists; the
//! library does no I/O and needs no storage traits.
//!
//! ```
//! use sova::session::{Account, Session};
//! use sova::ratchet::HeaderMode;
//!
//! let mut rng = sova::OsRng;
//! let alice = Account::new(&mut rng)?;
//! let mut bob = Account::new(&mut rng)?;
//!
//! // Bob publishes prekeys; a server hands Alice a bundle with one-time keys.
//! let opk = bob.generate_one_time_prekeys(&mut rng, 1)?[0];
//! let bundle = bob.bundle(Some(opk), None)?.to_bytes();
//!
//! // Alice starts a session with Bob from the bundle and sends the first message.
//! let mut to_bob = Session::start(&alice, &mut rng, &bob.identity_key(), &bundle, HeaderMode::Plain)?;
//! let first = to_bob.encrypt(&mut rng, b"hi Bob")?;
//!
//! // Bob accepts it from Alice: a new session and the plaintext.
//! let (mut to_alice, plaintext) = bob.accept(&alice.identity_key(), &first)?;
//! assert_eq!(plaintext, b"hi Bob");
//! assert_eq!(to_alice.session_id(), to_bob.session_id());
//!
//! let reply = to_alice.encrypt(&mut rng, b"hi Alice")?;
//! assert_eq!(to_bob.decrypt(&reply)?, b"hi Alice");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use alloc::vec::Vec;

use rand_core::TryCryptoRng;

use crate::codec::Writer;
use crate::provider::{CryptoProvider, DefaultProvider};
use crate::ratchet::{self, HeaderMode, MessageInfo, Ratchet, StateError};
use crate::secret::Secret;
use crate::storage::{self, SealedKind, StorageError};
use crate::CryptoError;

mod account;
mod bundle;
mod conversation;
mod error;
mod handshake;
mod identity;
mod policy;
mod prekey;
mod upload;

pub use account::{Account, MAX_KEM_ONE_TIME_PREKEYS, MAX_ONE_TIME_PREKEYS, MAX_REPLAY_RECORDS};
pub use bundle::{BundleError, PrekeyBundle};
pub use conversation::{Conversation, ConversationError, Received, MAX_CONVERSATION_SESSIONS};
pub use error::{AcceptError, AccountError, DecryptError, EncryptError, StartError};
pub use handshake::{HandshakeHeader, InitialMessageError, TYPE_INITIAL};
pub use identity::{IdentityKey, IdentityKeyPair, IdentityPublic, IDENTITY_PUBLIC_LEN};
pub use policy::AcceptPolicy;
pub use prekey::PrekeyKind;
pub use upload::{
    AssembleError, KemOneTimePublic, LongTermPrekeys, PrekeyUpload, UploadEntry, UploadError,
    MAX_UPLOAD_ENTRIES, TYPE_PREKEY_UPLOAD,
};

#[cfg(feature = "hazmat")]
pub use handshake::{derive_keys, transcript_hash, HandshakeKeys, HandshakeSecrets, Transcript};

use handshake::{
    derive_keys as derive, transcript_hash as th_of, HandshakeSecrets as Secrets, Transcript as Tr,
};

/// An end-to-end encrypted session with one peer.
///
/// The initiator's messages are wrapped in initial messages (type `0x03`,
/// spec §7.5) until it has received a message from the peer, so that the
/// peer can set up its side from whichever arrives first.
pub struct Session {
    pub(crate) ratchet: Ratchet,
    pub(crate) session_id: [u8; 32],
    pub(crate) local_identity: IdentityKey,
    pub(crate) peer: IdentityPublic,
    pub(crate) we_initiated: bool,
    /// A non-initial message from the peer has decrypted on this session
    /// (spec §7.7): the peer holds it and uses it.
    pub(crate) confirmed: bool,
    /// The handshake fields to wrap outgoing messages in (initiator, until a reply arrives).
    pub(crate) pending: Option<HandshakeHeader>,
    /// Responder: the initiator's ephemeral key and the SHA-256 of the initial
    /// message's handshake fields, to recognise repeated initial messages.
    pub(crate) initial: Option<InitialRecord>,
}

impl core::fmt::Debug for Session {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Session")
            .field("we_initiated", &self.we_initiated)
            .field("confirmed", &self.confirmed)
            .field("pending", &self.pending.is_some())
            .field("ratchet", &self.ratchet)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// Starts a session with `peer` from its bundle (spec §7.4). Draws 32
    /// random bytes for the ephemeral key, then 32 for the ML-KEM
    /// encapsulation.
    ///
    /// A bundle of any other identity is refused with
    /// [`StartError::UnexpectedPeer`] before its signatures are checked: a
    /// bundle proves only that its keys belong together, not whose they are,
    /// and a server can hand out one of its own. For a first contact, whose
    /// identity is not known yet, use
    /// [`start_unverified`](Self::start_unverified).
    ///
    /// # Errors
    /// See [`StartError`]; on error nothing is drawn from `rng` beyond what
    /// the failed step needed, and no session exists.
    pub fn start<R: TryCryptoRng + ?Sized>(
        account: &Account,
        rng: &mut R,
        peer: &IdentityKey,
        bundle: &[u8],
        mode: HeaderMode,
    ) -> Result<Self, StartError> {
        Self::start_with(
            &DefaultProvider::default(),
            account,
            rng,
            Some(peer),
            bundle,
            mode,
        )
    }

    /// Starts a session from a bundle of whoever it belongs to: a first
    /// contact.
    ///
    /// # Security
    /// Check that [`peer_identity`](Self::peer_identity) is the identity you
    /// mean to reach (verify it with a safety number, [`crate::safety`], or
    /// trust it on first use and remember it) before trusting the session;
    /// later sessions with the same person use [`start`](Self::start).
    ///
    /// # Errors
    /// See [`StartError`].
    pub fn start_unverified<R: TryCryptoRng + ?Sized>(
        account: &Account,
        rng: &mut R,
        bundle: &[u8],
        mode: HeaderMode,
    ) -> Result<Self, StartError> {
        Self::start_with(
            &DefaultProvider::default(),
            account,
            rng,
            None,
            bundle,
            mode,
        )
    }

    /// [`start`](Self::start) (with `peer`) or
    /// [`start_unverified`](Self::start_unverified) (without) with an
    /// explicit provider.
    ///
    /// # Errors
    /// See [`StartError`].
    pub fn start_with<P: CryptoProvider + ?Sized, R: TryCryptoRng + ?Sized>(
        p: &P,
        account: &Account,
        rng: &mut R,
        peer: Option<&IdentityKey>,
        bundle: &[u8],
        mode: HeaderMode,
    ) -> Result<Self, StartError> {
        let b = PrekeyBundle::parse(bundle)?;
        // The expected peer, before any signature is checked (spec §7.4).
        if peer.is_some_and(|k| b.identity.identity_key() != *k) {
            return Err(StartError::UnexpectedPeer);
        }
        b.verify(p)?;
        let mut ek = Secret::<32>::zero();
        crate::random::fill(rng, ek.expose_mut())?;
        let mut m = Secret::<32>::zero();
        crate::random::fill(rng, m.expose_mut())?;
        let ek_pub = p.x25519_public_key(&ek);
        let ours = &account.identity;
        let dh1 = p.x25519(&ours.agreement_private, &b.signed_prekey)?;
        let dh2 = p.x25519(&ek, &b.identity.agreement_key)?;
        let dh3 = p.x25519(&ek, &b.signed_prekey)?;
        // The final capacity at once: a vector that grew would free a copy of DH1..DH3.
        let mut dh = Vec::with_capacity(4);
        dh.extend([dh1, dh2, dh3]);
        if let Some((_, opk)) = &b.one_time_prekey {
            dh.push(p.x25519(&ek, opk)?);
        }
        let (ct, ss) = p.ml_kem_768_encapsulate(&b.kem_prekey, &m)?;
        let th = th_of(
            p,
            &Tr {
                initiator: ours.public(),
                responder: &b.identity,
                signed_prekey: (b.signed_prekey_id, &b.signed_prekey),
                one_time_prekey: b.one_time_prekey.as_ref().map(|(id, k)| (*id, k)),
                kem_prekey: (b.kem_prekey_kind, b.kem_prekey_id, &b.kem_prekey),
                ephemeral_key: &ek_pub,
                kem_ciphertext: &ct,
            },
        )?;
        let keys = derive(
            p,
            th,
            &Secrets {
                dh,
                kem_shared_secret: ss,
            },
        )?;
        let ratchet = Ratchet::initiator_with(p, &keys.session_secret, b.signed_prekey, &th, mode)
            .map_err(|_| StartError::Crypto(CryptoError::LabelTooLong))?;
        Ok(Self {
            ratchet,
            session_id: keys.transcript_hash,
            local_identity: account.identity_key(),
            peer: b.identity,
            we_initiated: true,
            confirmed: false,
            pending: Some(HandshakeHeader {
                identity: *ours.public(),
                ephemeral_key: ek_pub,
                signed_prekey_id: b.signed_prekey_id,
                one_time_prekey_id: b.one_time_prekey.map(|(id, _)| id),
                kem_prekey_kind: b.kem_prekey_kind,
                kem_prekey_id: b.kem_prekey_id,
                kem_ciphertext: alloc::boxed::Box::new(ct),
            }),
            initial: None,
        })
    }

    /// The session id: the handshake transcript hash `TH` (spec §7.4), equal on both sides.
    pub fn session_id(&self) -> &[u8; 32] {
        &self.session_id
    }

    /// The peer's public identity.
    pub fn peer_identity(&self) -> &IdentityPublic {
        &self.peer
    }

    /// Whether this side started the session.
    pub fn we_initiated(&self) -> bool {
        self.we_initiated
    }

    /// Whether outgoing messages are still wrapped in initial messages.
    pub fn is_pending(&self) -> bool {
        self.pending.is_some()
    }

    /// Whether the peer has confirmed the session (spec §7.7): a non-initial
    /// message from the peer has decrypted on it. For the initiator that is
    /// any message from the peer; for the responder, a plain ratchet
    /// message, which the initiator sends only after receiving our reply.
    /// A replayed or late initial message cannot produce a confirmed
    /// session, and [`Conversation`] prefers confirmed sessions.
    pub fn is_confirmed(&self) -> bool {
        self.confirmed
    }

    /// The identity key of the session's initiator.
    pub fn initiator_identity(&self) -> IdentityKey {
        if self.we_initiated {
            self.local_identity
        } else {
            self.peer.identity_key()
        }
    }

    /// The underlying ratchet (read-only).
    pub fn ratchet(&self) -> &Ratchet {
        &self.ratchet
    }

    /// Encrypts a message (spec §5.5, §7.5).
    ///
    /// # Errors
    /// See [`EncryptError`]; the session is unchanged on error.
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
    /// See [`EncryptError`].
    pub fn encrypt_with<P: CryptoProvider + ?Sized, R: TryCryptoRng + ?Sized>(
        &mut self,
        p: &P,
        rng: &mut R,
        plaintext: &[u8],
    ) -> Result<Vec<u8>, EncryptError> {
        let mut out = Vec::new();
        self.encrypt_into_with(p, rng, plaintext, &mut out)?;
        Ok(out)
    }

    /// [`encrypt`](Self::encrypt), appending the message to `out` instead of
    /// allocating it ([`Ratchet::encrypt_into`]). While the session is
    /// pending, the message is wrapped in the initial message as `encrypt`
    /// does.
    ///
    /// # Errors
    /// See [`EncryptError`]; the session and `out` are unchanged on error.
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
        let Some(h) = &self.pending else {
            return Ok(self.ratchet.encrypt_into_with(p, rng, plaintext, out)?);
        };
        if plaintext.len() > ratchet::MAX_PLAINTEXT_LEN {
            return Err(EncryptError::PlaintextTooLong);
        }
        let start = out.len();
        let inner_len = self.ratchet.message_len(plaintext.len());
        h.encode_fields_into(out);
        out.extend_from_slice(&(inner_len as u32).to_be_bytes());
        let sealed = self.ratchet.encrypt_into_with(p, rng, plaintext, out);
        if sealed.is_err() {
            out.truncate(start);
        }
        Ok(sealed?)
    }

    /// Decrypts a message: a ratchet message, or (responder) a repeat of the
    /// initiator's initial message (spec §7.6).
    ///
    /// # Errors
    /// See [`DecryptError`]; the session is unchanged on error.
    pub fn decrypt(&mut self, message: &[u8]) -> Result<Vec<u8>, DecryptError> {
        self.decrypt_with(&DefaultProvider::default(), message)
    }

    /// [`decrypt`](Self::decrypt) with an explicit provider.
    ///
    /// # Errors
    /// See [`DecryptError`].
    pub fn decrypt_with<P: CryptoProvider + ?Sized>(
        &mut self,
        p: &P,
        message: &[u8],
    ) -> Result<Vec<u8>, DecryptError> {
        let mut out = Vec::new();
        self.decrypt_into_with(p, message, &mut out)?;
        Ok(out)
    }

    /// [`decrypt`](Self::decrypt), appending the plaintext to `out`
    /// ([`Ratchet::decrypt_into`]).
    ///
    /// # Errors
    /// See [`DecryptError`]; the session and `out` are unchanged on error.
    pub fn decrypt_into(
        &mut self,
        message: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<MessageInfo, DecryptError> {
        self.decrypt_into_with(&DefaultProvider::default(), message, out)
    }

    /// [`decrypt`](Self::decrypt), also returning where the message stands
    /// among the peer's messages ([`MessageInfo`], spec §5.9): its chain and
    /// number, whether it arrived late and how many earlier messages it
    /// showed to be missing.
    ///
    /// ```
    /// # use sova::session::{Account, Session};
    /// # use sova::ratchet::HeaderMode;
    /// # let mut rng = sova::OsRng;
    /// # let alice = Account::new(&mut rng)?;
    /// # let mut bob = Account::new(&mut rng)?;
    /// # let bundle = bob.bundle(None, None)?.to_bytes();
    /// let mut a = Session::start(&alice, &mut rng, &bob.identity_key(), &bundle, HeaderMode::Plain)?;
    /// let m0 = a.encrypt(&mut rng, b"first")?;
    /// let m1 = a.encrypt(&mut rng, b"second")?;
    /// // The second message arrives first: it shows one message missing.
    /// let (mut b, _) = bob.accept(&alice.identity_key(), &m1)?;
    /// let (text, info) = b.decrypt_with_info(&m0)?;
    /// assert_eq!(text, b"first");
    /// assert!(info.late);
    /// assert_eq!(info.number, 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// See [`DecryptError`]; the session is unchanged on error.
    pub fn decrypt_with_info(
        &mut self,
        message: &[u8],
    ) -> Result<(Vec<u8>, MessageInfo), DecryptError> {
        let mut out = Vec::new();
        let info = self.decrypt_into(message, &mut out)?;
        Ok((out, info))
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
        self.decrypt_checked(p, message, out, &mut |_| true)
    }

    /// [`decrypt_into_with`](Self::decrypt_into_with) where `check` sees the
    /// plaintext before anything is committed (`false`: refused as
    /// [`DecryptError::Authentication`], nothing changed).
    pub(crate) fn decrypt_checked<P: CryptoProvider + ?Sized>(
        &mut self,
        p: &P,
        message: &[u8],
        out: &mut Vec<u8>,
        check: &mut ratchet::PlaintextCheck<'_>,
    ) -> Result<MessageInfo, DecryptError> {
        if let Some(inner) = self.initial_repeat(p, message)? {
            let inner = message.get(inner..).unwrap_or_default();
            return Ok(self.ratchet.decrypt_into_checked(p, inner, out, check)?);
        }
        let info = self.ratchet.decrypt_into_checked(p, message, out, check)?;
        self.confirm();
        Ok(info)
    }

    /// [`decrypt`](Self::decrypt) where the message lies
    /// ([`Ratchet::decrypt_in_place`]): returns the part of `message` that
    /// holds the plaintext.
    ///
    /// ```
    /// # use sova::session::{Account, Session};
    /// # use sova::ratchet::HeaderMode;
    /// # let mut rng = sova::OsRng;
    /// # let alice = Account::new(&mut rng)?;
    /// # let mut bob = Account::new(&mut rng)?;
    /// # let bundle = bob.bundle(None, None)?.to_bytes();
    /// let mut a = Session::start(&alice, &mut rng, &bob.identity_key(), &bundle, HeaderMode::Plain)?;
    /// let first = a.encrypt(&mut rng, b"hi")?;
    /// let (mut b, _) = bob.accept(&alice.identity_key(), &first)?;
    /// let mut wire = Vec::new();
    /// b.encrypt_into(&mut rng, b"hello", &mut wire)?;
    /// assert_eq!(a.decrypt_in_place(&mut wire)?, b"hello");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// See [`DecryptError`]; the session is unchanged on error, and
    /// `message` holds what [`Ratchet::decrypt_in_place`] says (never any
    /// plaintext).
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
        if let Some(inner) = self.initial_repeat(p, message)? {
            let inner = message.get_mut(inner..).unwrap_or_default();
            return Ok(self.ratchet.decrypt_in_place_with(p, inner)?);
        }
        let plaintext = self.ratchet.decrypt_in_place_with(p, message)?;
        self.confirm();
        Ok(plaintext)
    }

    /// For an initial message: checks that it repeats this session's
    /// (spec §7.6) and returns where its ratchet message starts. `None` for
    /// any other message.
    fn initial_repeat<P: CryptoProvider + ?Sized>(
        &self,
        p: &P,
        message: &[u8],
    ) -> Result<Option<usize>, DecryptError> {
        if message.get(1) != Some(&TYPE_INITIAL) {
            return Ok(None);
        }
        let (h, inner) = HandshakeHeader::parse(message)?;
        match &self.initial {
            Some(rec) if rec.ephemeral_key == h.ephemeral_key => {
                // Same handshake: every field must be exactly as first accepted (spec §7.6).
                if rec.digest != InitialRecord::digest_of(p, message, inner) {
                    return Err(DecryptError::InitialMessageMismatch);
                }
            }
            _ => return Err(DecryptError::NotThisSession),
        }
        // The ratchet message is the end of the initial message.
        Ok(Some(message.len() - inner.len()))
    }

    /// A message from the peer proves it has the session: stop wrapping,
    /// and the session is confirmed (spec §7.7).
    /// After a non-initial message from the peer decrypted: stop wrapping.
    /// It confirms the session (spec §7.7) for the initiator; for the
    /// responder only on a chain after the initial message's one. The
    /// initiator wraps every message of its first chain, and anyone can strip
    /// that wrapper: a bare message of the first chain proves nothing. Its
    /// next chain starts only after it has read our reply.
    fn confirm(&mut self) {
        self.pending = None;
        if self.we_initiated || self.ratchet.receiving_chains() > 1 {
            self.confirmed = true;
        }
    }

    /// Whether an initial message repeats the one this session was accepted
    /// from (identical handshake fields; the ratchet message may differ).
    pub fn matches_initial_message(&self, message: &[u8]) -> bool {
        match (HandshakeHeader::parse(message), &self.initial) {
            (Ok((h, inner)), Some(rec)) => {
                rec.ephemeral_key == h.ephemeral_key
                    && rec.digest
                        == InitialRecord::digest_of(&DefaultProvider::default(), message, inner)
            }
            _ => false,
        }
    }
}

/// What a responder remembers of the initial message it accepted (spec §7.6).
#[derive(Clone, Copy)]
pub(crate) struct InitialRecord {
    pub(crate) ephemeral_key: [u8; 32],
    /// SHA-256 of the initial message with an empty ratchet message.
    pub(crate) digest: [u8; 32],
}

impl InitialRecord {
    /// `D` of a parsed initial message `message` whose embedded ratchet
    /// message is `inner`: the hash of its handshake fields followed by
    /// `u32(0)`, i.e. of the message re-encoded with an empty ratchet message
    /// (parsing is canonical, so the prefix is exactly those fields).
    pub(crate) fn digest_of<P: CryptoProvider + ?Sized>(
        p: &P,
        message: &[u8],
        inner: &[u8],
    ) -> [u8; 32] {
        let fields = &message[..message.len().saturating_sub(inner.len() + 4)];
        p.sha256(&[fields, &[0u8; 4]])
    }
}

const MAGIC: &[u8; 14] = b"SOVA-1 session";
const STATE_VERSION: u8 = 1;

impl Session {
    /// Serializes the session (secret!) in the format of spec §8.5.
    pub fn to_bytes(&self) -> Vec<u8> {
        // The ratchet state is written in place and the vector is allocated
        // once, exactly: a temporary copy, or a buffer that grew, would be
        // freed with the keys still in it.
        let pending = self.pending_encoding();
        let mut out = Vec::with_capacity(self.encoded_len(pending.as_deref()));
        self.write_to(&mut out, pending.as_deref());
        out
    }

    /// The encoding of the pending initial message's handshake fields, if
    /// any (public values), as [`write_to`](Self::write_to) writes it.
    pub(crate) fn pending_encoding(&self) -> Option<Vec<u8>> {
        self.pending.as_ref().map(|h| h.encode_with(&[]))
    }

    /// The length of the encoding, given [`pending_encoding`](Self::pending_encoding).
    pub(crate) fn encoded_len(&self, pending: Option<&[u8]>) -> usize {
        MAGIC.len()
            + 1
            + 1
            + 1
            + 32
            + 64
            + identity::IDENTITY_PUBLIC_LEN
            + 1
            + pending.map_or(0, |enc| 4 + enc.len())
            + 1
            + self.initial.map_or(0, |_| 32 + 32)
            + 4
            + self.ratchet.encoded_len()
            + crate::ratchet::STATE_CHECK_LEN
    }

    /// Appends the encoding of [`to_bytes`](Self::to_bytes) to `out`
    /// (`pending` from [`pending_encoding`](Self::pending_encoding)), so an
    /// enclosing state writes it in place.
    pub(crate) fn write_to(&self, out: &mut Vec<u8>, pending: Option<&[u8]>) {
        let start = out.len();
        out.put(MAGIC);
        out.put_u8(STATE_VERSION);
        out.put_u8(u8::from(self.we_initiated));
        out.put_u8(u8::from(self.confirmed));
        out.put(&self.session_id);
        out.put(&self.local_identity);
        out.put(&self.peer.to_bytes());
        match pending {
            None => out.put_u8(0),
            Some(enc) => {
                out.put_u8(1);
                out.put_u32(enc.len() as u32);
                out.put(enc);
            }
        }
        match &self.initial {
            None => out.put_u8(0),
            Some(rec) => {
                out.put_u8(1);
                out.put(&rec.ephemeral_key);
                out.put(&rec.digest);
            }
        }
        out.put_u32(self.ratchet.encoded_len() as u32);
        self.ratchet.write_to(out);
        crate::ratchet::append_state_check(out, start);
    }

    /// Restores a session written by [`to_bytes`](Self::to_bytes).
    ///
    /// # Errors
    /// [`StateError`] naming what is wrong; never panics.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, StateError> {
        Self::from_bytes_with(&DefaultProvider::default(), bytes)
    }

    /// [`from_bytes`](Self::from_bytes) with an explicit provider (it checks
    /// the identities' signatures and recomputes the ratchet's public key).
    ///
    /// # Errors
    /// As [`from_bytes`](Self::from_bytes).
    pub fn from_bytes_with<P: CryptoProvider + ?Sized>(
        p: &P,
        bytes: &[u8],
    ) -> Result<Self, StateError> {
        // Every rule of spec §8.5, checked in field order.
        let mut r = crate::ratchet::open_state(bytes, MAGIC, STATE_VERSION)?;
        let we_initiated = match r.u8()? {
            0 => false,
            1 => true,
            _ => return Err(StateError::Invalid("role")),
        };
        let confirmed = match r.u8()? {
            0 => false,
            1 => true,
            _ => return Err(StateError::Invalid("confirmed")),
        };
        let session_id = r.array()?;
        let local_identity = r.array()?;
        let peer = IdentityPublic::read(&mut r)?;
        // Both start and accept verify the peer's binding (spec §7.3, §7.6).
        if peer.verify(p).is_err() {
            return Err(StateError::Invalid("peer identity"));
        }
        let pending = match r.u8()? {
            0 => None,
            // Only an initiator wraps its messages (spec §7.5).
            1 if !we_initiated => return Err(StateError::Invalid("pending handshake")),
            1 => {
                let len = r.u32()? as usize;
                let enc = r.bytes(len)?;
                let (h, inner) = HandshakeHeader::parse(enc)
                    .map_err(|_| StateError::Invalid("pending handshake"))?;
                if !inner.is_empty()
                    || h.identity.identity_key() != local_identity
                    || h.identity.verify(p).is_err()
                {
                    return Err(StateError::Invalid("pending handshake"));
                }
                Some(h)
            }
            _ => return Err(StateError::Invalid("option tag")),
        };
        // The initiator stops wrapping exactly when the peer's first message
        // decrypts, which is also what confirms its session (spec §7.7).
        if we_initiated && confirmed == pending.is_some() {
            return Err(StateError::Invalid("confirmed"));
        }
        // Every responder, and only a responder, records the initial message
        // it accepted (spec §7.6).
        let initial = match (r.u8()?, we_initiated) {
            (0, true) => None,
            (1, false) => Some(InitialRecord {
                ephemeral_key: r.array()?,
                digest: r.array()?,
            }),
            (0 | 1, _) => return Err(StateError::Invalid("initial message record")),
            _ => return Err(StateError::Invalid("option tag")),
        };
        let len = r.u32()? as usize;
        let ratchet = Ratchet::from_bytes_with(p, r.bytes(len)?)?;
        // The session id is TH, the ratchet's associated data (spec §7.4).
        if ratchet.session_ad() != session_id {
            return Err(StateError::Invalid("session id"));
        }
        if r.remaining() != 0 {
            return Err(StateError::TrailingBytes);
        }
        Ok(Self {
            ratchet,
            session_id,
            local_identity,
            peer,
            we_initiated,
            confirmed,
            pending,
            initial,
        })
    }

    /// [`to_bytes`](Self::to_bytes) sealed under a caller-given storage key (spec §8.3).
    ///
    /// # Errors
    /// Only on an internal label error.
    pub fn to_sealed_bytes<R: TryCryptoRng + ?Sized>(
        &self,
        rng: &mut R,
        key: &Secret<32>,
    ) -> Result<Vec<u8>, StorageError> {
        seal_state(rng, key, SealedKind::Session, self.to_bytes())
    }

    /// Opens and restores a session sealed by [`to_sealed_bytes`](Self::to_sealed_bytes).
    ///
    /// # Errors
    /// [`PersistError`] for a wrong key, a corrupted blob or an invalid state.
    pub fn from_sealed_bytes(sealed: &[u8], key: &Secret<32>) -> Result<Self, PersistError> {
        open_state(key, SealedKind::Session, sealed, Self::from_bytes)
    }
}

impl Account {
    /// [`to_bytes`](Self::to_bytes) sealed under a caller-given storage key (spec §8.3).
    ///
    /// # Errors
    /// Only on an internal label error.
    pub fn to_sealed_bytes<R: TryCryptoRng + ?Sized>(
        &self,
        rng: &mut R,
        key: &Secret<32>,
    ) -> Result<Vec<u8>, StorageError> {
        seal_state(rng, key, SealedKind::Account, self.to_bytes())
    }

    /// Opens and restores an account sealed by [`to_sealed_bytes`](Self::to_sealed_bytes).
    ///
    /// # Errors
    /// [`PersistError`] for a wrong key, a corrupted blob or an invalid state.
    pub fn from_sealed_bytes(sealed: &[u8], key: &Secret<32>) -> Result<Self, PersistError> {
        open_state(key, SealedKind::Account, sealed, Self::from_bytes)
    }
}

/// Seals a state encoding, wiping the plain copy afterwards.
pub(crate) fn seal_state<R: TryCryptoRng + ?Sized>(
    rng: &mut R,
    key: &Secret<32>,
    kind: SealedKind,
    state: Vec<u8>,
) -> Result<Vec<u8>, StorageError> {
    let plain = zeroize::Zeroizing::new(state);
    storage::seal(&DefaultProvider::default(), rng, key, kind, &plain)
}

/// Opens a sealed state and decodes it, wiping the plain bytes afterwards.
pub(crate) fn open_state<T>(
    key: &Secret<32>,
    kind: SealedKind,
    sealed: &[u8],
    decode: impl FnOnce(&[u8]) -> Result<T, StateError>,
) -> Result<T, PersistError> {
    open_state_with(&DefaultProvider::default(), key, kind, sealed, decode)
}

/// [`open_state`] with an explicit provider for the opening.
pub(crate) fn open_state_with<P: CryptoProvider + ?Sized, T>(
    p: &P,
    key: &Secret<32>,
    kind: SealedKind,
    sealed: &[u8],
    decode: impl FnOnce(&[u8]) -> Result<T, StateError>,
) -> Result<T, PersistError> {
    let bytes = zeroize::Zeroizing::new(storage::open(p, key, kind, sealed)?);
    Ok(decode(&bytes)?)
}

/// Why persisted state could not be restored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PersistError {
    /// The sealed blob could not be opened.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The opened bytes are not a valid state.
    #[error(transparent)]
    State(#[from] StateError),
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::{rand_core::SeedableRng, ChaCha20Rng};

    /// `to_bytes` allocates once, exactly, and writes the ratchet state in
    /// place: no buffer holding keys is freed without being wiped.
    #[test]
    fn encoding_is_written_without_reallocation() {
        let mut rng = ChaCha20Rng::from_seed([6; 32]);
        let alice = Account::new(&mut rng).unwrap();
        let mut bob = Account::new(&mut rng).unwrap();
        let check = |s: &Session| {
            let bytes = s.to_bytes();
            assert_eq!(bytes.capacity(), bytes.len());
            assert_eq!(Session::from_bytes(&bytes).unwrap().to_bytes(), bytes);
        };
        for mode in [HeaderMode::Plain, HeaderMode::Encrypted] {
            let opk = bob.generate_one_time_prekeys(&mut rng, 1).unwrap()[0];
            let bundle = bob.bundle(Some(opk), None).unwrap().to_bytes();
            let mut a = Session::start_unverified(&alice, &mut rng, &bundle, mode).unwrap();
            check(&a);
            let first = a.encrypt(&mut rng, b"one").unwrap();
            let skipped = a.encrypt(&mut rng, b"two").unwrap();
            let third = a.encrypt(&mut rng, b"three").unwrap();
            let (mut b, _) = bob.accept_unverified(&first).unwrap();
            b.decrypt(&third).unwrap();
            check(&a);
            check(&b);
            let reply = b.encrypt(&mut rng, b"back").unwrap();
            a.decrypt(&reply).unwrap();
            b.decrypt(&skipped).unwrap();
            check(&a);
            check(&b);
        }
    }

    /// A conversation writes its sessions in place: its encoding is
    /// allocated once, exactly, holds each session's own encoding, and
    /// restores to itself.
    #[test]
    fn conversation_encoding_is_written_without_reallocation() {
        let mut rng = ChaCha20Rng::from_seed([7; 32]);
        let alice = Account::new(&mut rng).unwrap();
        let mut bob = Account::new(&mut rng).unwrap();
        let mut conv = Conversation::new(alice.identity_key());
        let check = |c: &Conversation| {
            let bytes = c.to_bytes();
            assert_eq!(bytes.capacity(), bytes.len());
            for s in c.sessions() {
                let own = s.to_bytes();
                assert!(bytes.windows(own.len()).any(|w| w == own));
            }
            assert_eq!(Conversation::from_bytes(&bytes).unwrap().to_bytes(), bytes);
        };
        check(&conv);
        for mode in [HeaderMode::Plain, HeaderMode::Encrypted] {
            let opk = bob.generate_one_time_prekeys(&mut rng, 1).unwrap()[0];
            let bundle = bob.bundle(Some(opk), None).unwrap().to_bytes();
            let mut a = Session::start_unverified(&alice, &mut rng, &bundle, mode).unwrap();
            let first = a.encrypt(&mut rng, b"one").unwrap();
            conv.decrypt(&mut bob, &first).unwrap();
            check(&conv);
            let reply = conv.encrypt(&mut rng, b"back").unwrap();
            a.decrypt(&reply).unwrap();
            check(&conv);
        }
        // A session with a pending initial message.
        let mut conv = Conversation::new(bob.identity_key());
        let bundle = bob.bundle(None, None).unwrap().to_bytes();
        conv.add(Session::start_unverified(&alice, &mut rng, &bundle, HeaderMode::Plain).unwrap())
            .unwrap();
        check(&conv);
    }
}
