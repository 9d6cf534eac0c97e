//! Accounts, sessions, conversations, safety numbers and storage keys
//! (spec §7, §8, §10).

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyType};

use sova::ratchet::{HeaderMode as RsHeaderMode, MessageInfo as RsMessageInfo};
use sova::session as s;
use sova::Secret;

use crate::errors::ToPyErr;
use crate::{fixed, os_rng, OrRaise};

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<HeaderMode>()?;
    m.add_class::<StorageKey>()?;
    m.add_class::<Account>()?;
    m.add_class::<PrekeyUpload>()?;
    m.add_class::<Session>()?;
    m.add_class::<MessageInfo>()?;
    m.add_class::<Decrypted>()?;
    m.add_class::<Conversation>()?;
    m.add_class::<Received>()?;
    m.add_class::<SafetyNumber>()?;
    m.add("IDENTITY_KEY_LEN", 64)?;
    m.add("IDENTITY_PUBLIC_LEN", s::IDENTITY_PUBLIC_LEN)?;
    m.add("MAX_ONE_TIME_PREKEYS", s::MAX_ONE_TIME_PREKEYS)?;
    m.add("MAX_KEM_ONE_TIME_PREKEYS", s::MAX_KEM_ONE_TIME_PREKEYS)?;
    m.add("MAX_CONVERSATION_SESSIONS", s::MAX_CONVERSATION_SESSIONS)?;
    Ok(())
}

pub(crate) fn bytes<'py>(py: Python<'py>, b: &[u8]) -> Bound<'py, PyBytes> {
    PyBytes::new(py, b)
}

/// A 64-byte identity key (`IK_sig || IK_dh`, spec §7.1).
pub(crate) fn identity_key(b: &[u8]) -> PyResult<s::IdentityKey> {
    fixed::<64>("an identity key", b)
}

/// Whether message headers are encrypted (spec §5.6).
#[pyclass(module = "sova", eq, eq_int, frozen, hash)]
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum HeaderMode {
    /// Headers in the clear.
    #[pyo3(name = "PLAIN")]
    Plain,
    /// Headers encrypted (the default).
    #[pyo3(name = "ENCRYPTED")]
    Encrypted,
}

impl From<HeaderMode> for RsHeaderMode {
    fn from(m: HeaderMode) -> Self {
        match m {
            HeaderMode::Plain => RsHeaderMode::Plain,
            HeaderMode::Encrypted => RsHeaderMode::Encrypted,
        }
    }
}

impl From<RsHeaderMode> for HeaderMode {
    fn from(m: RsHeaderMode) -> Self {
        match m {
            RsHeaderMode::Plain => HeaderMode::Plain,
            RsHeaderMode::Encrypted => HeaderMode::Encrypted,
        }
    }
}

/// A 32-byte key that seals persisted state (spec §8.3); kept in Rust memory
/// and wiped when freed.
#[pyclass(module = "sova", frozen)]
pub(crate) struct StorageKey {
    pub(crate) key: Secret<32>,
}

#[pymethods]
impl StorageKey {
    /// A key from 32 bytes (from the platform's key store).
    #[new]
    fn new(key: &[u8]) -> PyResult<Self> {
        Ok(Self {
            key: Secret::from_bytes(fixed::<32>("a storage key", key)?),
        })
    }

    /// A fresh key from the operating system's generator.
    #[staticmethod]
    fn generate() -> PyResult<Self> {
        let mut key = Secret::<32>::zero();
        sova::rand_core::TryRng::try_fill_bytes(&mut os_rng(), key.expose_mut())
            .map_err(|_| sova::CryptoError::RandomnessUnavailable.to_py_err())?;
        Ok(Self { key })
    }

    /// The key's bytes, to store in the platform's key store.
    fn to_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        bytes(py, self.key.expose())
    }

    fn __repr__(&self) -> &'static str {
        "StorageKey(<secret>)"
    }
}

/// A party's long-term state (spec §7.2): identity, signed prekey, one-time
/// prekeys, replay records.
#[pyclass(module = "sova")]
pub(crate) struct Account {
    pub(crate) inner: s::Account,
}

#[pymethods]
impl Account {
    /// A new account from the operating system's generator.
    #[new]
    fn new() -> PyResult<Self> {
        Ok(Self {
            inner: s::Account::new(&mut os_rng()).or_raise()?,
        })
    }

    /// The 64-byte identity key (`IK_sig || IK_dh`) that names this account.
    #[getter]
    fn identity_key<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        bytes(py, &self.inner.identity_key())
    }

    /// The 128-byte public identity (`IK_sig || IK_dh || binding`).
    #[getter]
    fn identity<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        bytes(py, &self.inner.identity().to_bytes())
    }

    /// Incremented by every change of the state (spec §8.2).
    #[getter]
    fn generation(&self) -> u64 {
        self.inner.generation()
    }

    /// Generates `count` one-time X25519 prekeys; returns their ids.
    fn generate_one_time_prekeys(&mut self, count: usize) -> PyResult<Vec<u32>> {
        self.inner
            .generate_one_time_prekeys(&mut os_rng(), count)
            .or_raise()
    }

    /// Generates `count` one-time ML-KEM-768 prekeys; returns their ids.
    fn generate_kem_one_time_prekeys(&mut self, count: usize) -> PyResult<Vec<u32>> {
        self.inner
            .generate_kem_one_time_prekeys(&mut os_rng(), count)
            .or_raise()
    }

    /// Replaces the signed prekey (the previous one is kept for late
    /// initial messages); returns the new id.
    fn rotate_signed_prekey(&mut self) -> PyResult<u32> {
        self.inner.rotate_signed_prekey(&mut os_rng()).or_raise()
    }

    /// Replaces the last-resort ML-KEM-768 prekey; returns the new id.
    fn rotate_kem_last_resort(&mut self) -> PyResult<u32> {
        self.inner.rotate_kem_last_resort(&mut os_rng()).or_raise()
    }

    /// Ids of the one-time X25519 prekeys held.
    #[getter]
    fn one_time_prekey_ids(&self) -> Vec<u32> {
        self.inner.one_time_prekey_ids()
    }

    /// Ids of the one-time ML-KEM-768 prekeys held.
    #[getter]
    fn kem_one_time_prekey_ids(&self) -> Vec<u32> {
        self.inner.kem_one_time_prekey_ids()
    }

    /// Whether some prekey has not been marked published.
    #[getter]
    fn has_unpublished_prekeys(&self) -> bool {
        self.inner.has_unpublished_prekeys()
    }

    /// The upload of every prekey not yet published (spec §7.11).
    fn unpublished_prekeys(&self) -> PyResult<PrekeyUpload> {
        Ok(PrekeyUpload {
            inner: self.inner.unpublished_prekeys().or_raise()?,
        })
    }

    /// Marks the prekeys of `upload` as published once the server stored
    /// it; returns how many were newly marked. Persist the account after.
    fn mark_prekeys_as_published(&mut self, upload: &PrekeyUpload) -> usize {
        self.inner.mark_prekeys_as_published(&upload.inner)
    }

    /// The encoded prekey bundle (spec §7.3) naming the given one-time
    /// prekeys, or the last-resort ML-KEM prekey when `kem_one_time_prekey`
    /// is None.
    #[pyo3(signature = (one_time_prekey=None, kem_one_time_prekey=None))]
    fn bundle<'py>(
        &self,
        py: Python<'py>,
        one_time_prekey: Option<u32>,
        kem_one_time_prekey: Option<u32>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let b = self
            .inner
            .bundle(one_time_prekey, kem_one_time_prekey)
            .or_raise()?;
        Ok(bytes(py, &b.to_bytes()))
    }

    /// Accepts an initial message from the expected `peer` (a 64-byte
    /// identity key): returns the new session and the first plaintext. A
    /// message of anyone else raises `AcceptError` (`UnexpectedPeer`). The
    /// account is unchanged on error; persist it after success.
    #[pyo3(signature = (peer, message, *, require_header_mode=None))]
    fn accept(
        &mut self,
        py: Python<'_>,
        peer: &[u8],
        message: &[u8],
        require_header_mode: Option<HeaderMode>,
    ) -> PyResult<(Session, Py<PyBytes>)> {
        let policy = s::AcceptPolicy::expect(identity_key(peer)?);
        self.accept_policy(py, policy, message, require_header_mode)
    }

    /// Accepts an initial message from whoever sent it (a first contact):
    /// check the session's `peer_identity_key` before trusting it.
    #[pyo3(signature = (message, *, require_header_mode=None))]
    fn accept_unverified(
        &mut self,
        py: Python<'_>,
        message: &[u8],
        require_header_mode: Option<HeaderMode>,
    ) -> PyResult<(Session, Py<PyBytes>)> {
        self.accept_policy(
            py,
            s::AcceptPolicy::any_peer(),
            message,
            require_header_mode,
        )
    }

    /// The plain encoding of the state (spec §8.4): it holds secrets.
    fn to_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        bytes(py, &self.inner.to_bytes())
    }

    /// Restores an account from `to_bytes`.
    #[classmethod]
    fn from_bytes(_cls: &Bound<'_, PyType>, state: &[u8]) -> PyResult<Self> {
        Ok(Self {
            inner: s::Account::from_bytes(state).or_raise()?,
        })
    }

    /// The state sealed under `key` (spec §8.3).
    fn to_sealed_bytes<'py>(
        &self,
        py: Python<'py>,
        key: &StorageKey,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let b = self
            .inner
            .to_sealed_bytes(&mut os_rng(), &key.key)
            .or_raise()?;
        Ok(bytes(py, &b))
    }

    /// Opens and restores an account sealed by `to_sealed_bytes`.
    #[classmethod]
    fn from_sealed_bytes(
        _cls: &Bound<'_, PyType>,
        sealed: &[u8],
        key: &StorageKey,
    ) -> PyResult<Self> {
        Ok(Self {
            inner: s::Account::from_sealed_bytes(sealed, &key.key).or_raise()?,
        })
    }

    fn __repr__(&self) -> String {
        format!(
            "Account(identity_key={}…)",
            hex8(&self.inner.identity_key())
        )
    }
}

impl Account {
    fn accept_policy(
        &mut self,
        py: Python<'_>,
        mut policy: s::AcceptPolicy,
        message: &[u8],
        mode: Option<HeaderMode>,
    ) -> PyResult<(Session, Py<PyBytes>)> {
        if let Some(mode) = mode {
            policy = policy.require_header_mode(mode.into());
        }
        let (session, plaintext) = self.inner.accept_with_policy(&policy, message).or_raise()?;
        Ok((Session::of(session), bytes(py, &plaintext).unbind()))
    }
}

pub(crate) fn py_bool(b: bool) -> &'static str {
    if b {
        "True"
    } else {
        "False"
    }
}

pub(crate) fn hex8(b: &[u8]) -> String {
    b.iter().take(8).map(|x| format!("{x:02x}")).collect()
}

/// A batch of prekeys for the server (spec §7.11).
#[pyclass(module = "sova", frozen)]
pub(crate) struct PrekeyUpload {
    inner: s::PrekeyUpload,
}

#[pymethods]
impl PrekeyUpload {
    /// Parses an upload (the server's side); call `verify` before storing it.
    #[staticmethod]
    fn parse(upload: &[u8]) -> PyResult<Self> {
        Ok(Self {
            inner: s::PrekeyUpload::parse(upload).or_raise()?,
        })
    }

    /// Checks every signature of the upload.
    fn verify(&self) -> PyResult<()> {
        self.inner
            .verify(&sova::DefaultProvider::default())
            .or_raise()
    }

    /// The encoding to send to the server.
    fn to_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        bytes(py, &self.inner.to_bytes())
    }

    /// The uploader's identity key.
    #[getter]
    fn identity_key<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        bytes(py, &self.inner.identity.identity_key())
    }

    /// Whether the upload carries the signed and last-resort prekeys.
    #[getter]
    fn has_long_term_part(&self) -> bool {
        self.inner.long_term.is_some()
    }

    /// Whether the upload carries nothing but the identity.
    #[getter]
    fn is_empty(&self) -> bool {
        self.inner.is_empty()
    }

    /// Ids of the one-time X25519 prekeys.
    #[getter]
    fn one_time_prekey_ids(&self) -> Vec<u32> {
        self.inner.one_time_prekey_ids()
    }

    /// Ids of the one-time ML-KEM-768 prekeys.
    #[getter]
    fn kem_one_time_prekey_ids(&self) -> Vec<u32> {
        self.inner.kem_one_time_prekey_ids()
    }

    /// The bundle a server hands out from what it stored (the same bytes
    /// as `Account.bundle` for the same ids).
    #[pyo3(signature = (one_time_prekey=None, kem_one_time_prekey=None))]
    fn bundle<'py>(
        &self,
        py: Python<'py>,
        one_time_prekey: Option<u32>,
        kem_one_time_prekey: Option<u32>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let b = self
            .inner
            .bundle(one_time_prekey, kem_one_time_prekey)
            .or_raise()?;
        Ok(bytes(py, &b.to_bytes()))
    }
}

/// Where a decrypted message stands among the peer's messages (spec §5.9).
#[pyclass(module = "sova", frozen, get_all)]
pub(crate) struct MessageInfo {
    /// The sender's ratchet public key naming the sending chain (32 bytes).
    chain: Py<PyBytes>,
    /// The message's number in its chain, from 0.
    number: u32,
    /// The length of the sender's previous chain (`PN`).
    previous_chain_len: u32,
    /// Decrypted with a stored skipped key: it arrived late.
    late: bool,
    /// It opened a new receiving chain.
    new_chain: bool,
    /// How many messages it showed to be missing.
    gap: u32,
}

impl MessageInfo {
    pub(crate) fn of(py: Python<'_>, i: &RsMessageInfo) -> Self {
        Self {
            chain: bytes(py, &i.chain).unbind(),
            number: i.number,
            previous_chain_len: i.previous_chain_len,
            late: i.late,
            new_chain: i.new_chain,
            gap: i.gap,
        }
    }
}

#[pymethods]
impl MessageInfo {
    fn __repr__(&self) -> String {
        format!(
            "MessageInfo(number={}, previous_chain_len={}, late={}, new_chain={}, gap={})",
            self.number,
            self.previous_chain_len,
            py_bool(self.late),
            py_bool(self.new_chain),
            self.gap
        )
    }
}

/// A decrypted message: its plaintext and where it stands.
#[pyclass(module = "sova", frozen, get_all)]
pub(crate) struct Decrypted {
    /// The plaintext.
    plaintext: Py<PyBytes>,
    /// Its position (`MessageInfo`).
    info: Py<MessageInfo>,
}

/// One session with a peer (spec §7): the handshake and its Double Ratchet.
#[pyclass(module = "sova")]
pub(crate) struct Session {
    /// None once moved into a conversation.
    inner: Option<s::Session>,
}

impl Session {
    pub(crate) fn of(inner: s::Session) -> Self {
        Self { inner: Some(inner) }
    }

    pub(crate) fn get(&self) -> PyResult<&s::Session> {
        self.inner.as_ref().ok_or_else(moved)
    }

    pub(crate) fn get_mut(&mut self) -> PyResult<&mut s::Session> {
        self.inner.as_mut().ok_or_else(moved)
    }

    pub(crate) fn take(&mut self) -> PyResult<s::Session> {
        self.inner.take().ok_or_else(moved)
    }
}

fn moved() -> PyErr {
    PyValueError::new_err("this object was moved into another one and can no longer be used")
}

#[pymethods]
impl Session {
    /// Starts a session with the expected `peer` (a 64-byte identity key)
    /// from its bundle; a bundle of anyone else raises `StartError`
    /// (`UnexpectedPeer`).
    #[staticmethod]
    #[pyo3(signature = (account, peer, bundle, header_mode=HeaderMode::Encrypted))]
    fn start(
        account: &Account,
        peer: &[u8],
        bundle: &[u8],
        header_mode: HeaderMode,
    ) -> PyResult<Self> {
        let peer = identity_key(peer)?;
        Ok(Self::of(
            s::Session::start(
                &account.inner,
                &mut os_rng(),
                &peer,
                bundle,
                header_mode.into(),
            )
            .or_raise()?,
        ))
    }

    /// Starts a session from a bundle of whoever it belongs to (a first
    /// contact): check `peer_identity_key` before trusting it.
    #[staticmethod]
    #[pyo3(signature = (account, bundle, header_mode=HeaderMode::Encrypted))]
    fn start_unverified(
        account: &Account,
        bundle: &[u8],
        header_mode: HeaderMode,
    ) -> PyResult<Self> {
        Ok(Self::of(
            s::Session::start_unverified(&account.inner, &mut os_rng(), bundle, header_mode.into())
                .or_raise()?,
        ))
    }

    /// The session id (the transcript hash `TH`, 32 bytes).
    #[getter]
    fn session_id<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        Ok(bytes(py, self.get()?.session_id()))
    }

    /// The peer's 64-byte identity key.
    #[getter]
    fn peer_identity_key<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        Ok(bytes(py, &self.get()?.peer_identity().identity_key()))
    }

    /// The peer's 128-byte public identity.
    #[getter]
    fn peer_identity<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        Ok(bytes(py, &self.get()?.peer_identity().to_bytes()))
    }

    /// Whether this side started the session.
    #[getter]
    fn we_initiated(&self) -> PyResult<bool> {
        Ok(self.get()?.we_initiated())
    }

    /// Whether this initiator has not heard from the peer yet (its messages
    /// still carry the handshake).
    #[getter]
    fn is_pending(&self) -> PyResult<bool> {
        Ok(self.get()?.is_pending())
    }

    /// Whether the peer is known to hold the session.
    #[getter]
    fn is_confirmed(&self) -> PyResult<bool> {
        Ok(self.get()?.is_confirmed())
    }

    /// Incremented by every change of the state (spec §8.2).
    #[getter]
    fn generation(&self) -> PyResult<u64> {
        Ok(self.get()?.ratchet().generation())
    }

    /// Encrypts a message. The session is unchanged on error.
    fn encrypt<'py>(&mut self, py: Python<'py>, plaintext: &[u8]) -> PyResult<Bound<'py, PyBytes>> {
        let m = self
            .get_mut()?
            .encrypt(&mut os_rng(), plaintext)
            .or_raise()?;
        Ok(bytes(py, &m))
    }

    /// Decrypts a message: its plaintext and `MessageInfo`. A rejected
    /// message raises `DecryptError` and changes nothing.
    fn decrypt(&mut self, py: Python<'_>, message: &[u8]) -> PyResult<Decrypted> {
        let (plaintext, info) = self.get_mut()?.decrypt_with_info(message).or_raise()?;
        Ok(Decrypted {
            plaintext: bytes(py, &plaintext).unbind(),
            info: Py::new(py, MessageInfo::of(py, &info))?,
        })
    }

    /// Whether `message` is an initial message of this very session (a
    /// repeated handshake), without decrypting it.
    fn matches_initial_message(&self, message: &[u8]) -> PyResult<bool> {
        Ok(self.get()?.matches_initial_message(message))
    }

    /// The plain encoding of the state (spec §8.5): it holds secrets.
    fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        Ok(bytes(py, &self.get()?.to_bytes()))
    }

    /// Restores a session from `to_bytes`.
    #[classmethod]
    fn from_bytes(_cls: &Bound<'_, PyType>, state: &[u8]) -> PyResult<Self> {
        Ok(Self::of(s::Session::from_bytes(state).or_raise()?))
    }

    /// The state sealed under `key` (spec §8.3).
    fn to_sealed_bytes<'py>(
        &self,
        py: Python<'py>,
        key: &StorageKey,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let b = self
            .get()?
            .to_sealed_bytes(&mut os_rng(), &key.key)
            .or_raise()?;
        Ok(bytes(py, &b))
    }

    /// Opens and restores a session sealed by `to_sealed_bytes`.
    #[classmethod]
    fn from_sealed_bytes(
        _cls: &Bound<'_, PyType>,
        sealed: &[u8],
        key: &StorageKey,
    ) -> PyResult<Self> {
        Ok(Self::of(
            s::Session::from_sealed_bytes(sealed, &key.key).or_raise()?,
        ))
    }

    fn __repr__(&self) -> String {
        match &self.inner {
            Some(s) => format!("Session(id={}…)", hex8(s.session_id())),
            None => "Session(<moved>)".to_owned(),
        }
    }
}

/// A message received on a conversation.
#[pyclass(module = "sova", frozen, get_all)]
pub(crate) struct Received {
    /// The plaintext.
    plaintext: Py<PyBytes>,
    /// Its position.
    info: Py<MessageInfo>,
    /// The id of the session it arrived on.
    session_id: Py<PyBytes>,
    /// A new session was accepted through the account: persist the account.
    account_changed: bool,
}

/// Every session with one expected peer (spec §7.9): sessions racing or
/// restarted lose no message.
#[pyclass(module = "sova")]
pub(crate) struct Conversation {
    inner: Option<s::Conversation>,
}

impl Conversation {
    pub(crate) fn of(inner: s::Conversation) -> Self {
        Self { inner: Some(inner) }
    }

    fn get(&self) -> PyResult<&s::Conversation> {
        self.inner.as_ref().ok_or_else(moved)
    }

    fn get_mut(&mut self) -> PyResult<&mut s::Conversation> {
        self.inner.as_mut().ok_or_else(moved)
    }

    pub(crate) fn peer_key(&self) -> PyResult<s::IdentityKey> {
        Ok(*self.get()?.peer())
    }

    pub(crate) fn take(&mut self) -> PyResult<s::Conversation> {
        self.inner.take().ok_or_else(moved)
    }
}

#[pymethods]
impl Conversation {
    /// An empty conversation with the expected `peer` (64-byte identity key):
    /// its first session comes from the peer's initial message.
    #[new]
    fn new(peer: &[u8]) -> PyResult<Self> {
        Ok(Self::of(s::Conversation::new(identity_key(peer)?)))
    }

    /// Starts a conversation with `peer` from its bundle.
    #[staticmethod]
    #[pyo3(signature = (account, peer, bundle, header_mode=HeaderMode::Encrypted))]
    fn start(
        account: &Account,
        peer: &[u8],
        bundle: &[u8],
        header_mode: HeaderMode,
    ) -> PyResult<Self> {
        let peer = identity_key(peer)?;
        Ok(Self::of(
            s::Conversation::start(
                &account.inner,
                &mut os_rng(),
                &peer,
                bundle,
                header_mode.into(),
            )
            .or_raise()?,
        ))
    }

    /// Starts one more session from the peer's bundle.
    #[pyo3(signature = (account, bundle, header_mode=HeaderMode::Encrypted))]
    fn start_session(
        &mut self,
        account: &Account,
        bundle: &[u8],
        header_mode: HeaderMode,
    ) -> PyResult<()> {
        self.get_mut()?
            .start_session(&account.inner, &mut os_rng(), bundle, header_mode.into())
            .or_raise()
    }

    /// Moves `session` (of the conversation's peer) into the conversation;
    /// the `Session` object can no longer be used.
    fn add(&mut self, session: &mut Session) -> PyResult<()> {
        let conv = self.get_mut()?;
        let s = session.get()?;
        if s.peer_identity().identity_key() != *conv.peer() {
            return Err(s::ConversationError::OtherPeer).or_raise();
        }
        if conv
            .sessions()
            .iter()
            .any(|c| c.session_id() == s.session_id())
        {
            return Err(s::ConversationError::DuplicateSession).or_raise();
        }
        conv.add(session.take()?).or_raise()
    }

    /// The expected peer's identity key.
    #[getter]
    fn peer<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        Ok(bytes(py, self.get()?.peer()))
    }

    /// The ids of the sessions held, oldest first.
    #[getter]
    fn session_ids<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyBytes>>> {
        Ok(self
            .get()?
            .sessions()
            .iter()
            .map(|s| bytes(py, s.session_id()))
            .collect())
    }

    /// The id of the session messages are sent on, if any.
    #[getter]
    fn active_session_id<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyBytes>>> {
        Ok(self
            .get()?
            .active_session()
            .map(|s| bytes(py, s.session_id())))
    }

    /// Encrypts on the active session.
    fn encrypt<'py>(&mut self, py: Python<'py>, plaintext: &[u8]) -> PyResult<Bound<'py, PyBytes>> {
        let m = self
            .get_mut()?
            .encrypt(&mut os_rng(), plaintext)
            .or_raise()?;
        Ok(bytes(py, &m))
    }

    /// Decrypts a message of the peer; a new initial message is accepted
    /// through `account` (then `account_changed` is true: persist it).
    /// Nothing changes on error.
    fn decrypt(
        &mut self,
        py: Python<'_>,
        account: &mut Account,
        message: &[u8],
    ) -> PyResult<Received> {
        let r = self
            .get_mut()?
            .decrypt(&mut account.inner, message)
            .or_raise()?;
        Ok(Received {
            plaintext: bytes(py, &r.plaintext).unbind(),
            info: Py::new(py, MessageInfo::of(py, &r.info))?,
            session_id: bytes(py, &r.session_id).unbind(),
            account_changed: r.account_changed,
        })
    }

    /// The plain encoding of the state: it holds secrets.
    fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        Ok(bytes(py, &self.get()?.to_bytes()))
    }

    /// Restores a conversation from `to_bytes`.
    #[classmethod]
    fn from_bytes(_cls: &Bound<'_, PyType>, state: &[u8]) -> PyResult<Self> {
        Ok(Self::of(s::Conversation::from_bytes(state).or_raise()?))
    }

    /// The state sealed under `key` (spec §8.3).
    fn to_sealed_bytes<'py>(
        &self,
        py: Python<'py>,
        key: &StorageKey,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let b = self
            .get()?
            .to_sealed_bytes(&mut os_rng(), &key.key)
            .or_raise()?;
        Ok(bytes(py, &b))
    }

    /// Opens and restores a conversation sealed by `to_sealed_bytes`.
    #[classmethod]
    fn from_sealed_bytes(
        _cls: &Bound<'_, PyType>,
        sealed: &[u8],
        key: &StorageKey,
    ) -> PyResult<Self> {
        Ok(Self::of(
            s::Conversation::from_sealed_bytes(sealed, &key.key).or_raise()?,
        ))
    }

    fn __repr__(&self) -> String {
        match &self.inner {
            Some(c) => format!(
                "Conversation(peer={}…, sessions={})",
                hex8(c.peer()),
                c.sessions().len()
            ),
            None => "Conversation(<moved>)".to_owned(),
        }
    }
}

/// The safety number of two identities (spec §10): 60 digits and a QR code.
#[pyclass(module = "sova", frozen)]
pub(crate) struct SafetyNumber {
    inner: sova::safety::SafetyNumber,
}

#[pymethods]
impl SafetyNumber {
    /// The safety number of our and their 64-byte identity keys.
    #[new]
    fn new(ours: &[u8], theirs: &[u8]) -> PyResult<Self> {
        Ok(Self {
            inner: sova::safety::SafetyNumber::new(&identity_key(ours)?, &identity_key(theirs)?),
        })
    }

    /// The 60 digits.
    #[getter]
    fn digits(&self) -> &str {
        self.inner.digits()
    }

    /// The twelve groups of five digits.
    #[getter]
    fn groups(&self) -> Vec<String> {
        self.inner.groups().map(str::to_owned).collect()
    }

    /// The digits as shown: groups separated by spaces.
    fn display(&self) -> String {
        self.inner.display()
    }

    /// The QR code payload this device shows.
    fn qr_payload<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        bytes(py, &self.inner.qr_payload())
    }

    /// Checks a payload scanned from the peer's screen; raises
    /// `SafetyError` unless it is the peer's code for the same identities.
    fn verify_scanned(&self, payload: &[u8]) -> PyResult<()> {
        self.inner.verify_scanned(payload).or_raise()
    }

    fn __str__(&self) -> String {
        self.inner.display()
    }

    fn __repr__(&self) -> String {
        format!("SafetyNumber('{}')", self.inner.display())
    }
}
