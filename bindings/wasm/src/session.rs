//! Accounts, sessions, conversations and prekey uploads (spec §7, §8).

use js_sys::Uint8Array;
use wasm_bindgen::prelude::*;
use zeroize::Zeroizing;

use crate::errors::js;
use crate::{header_mode, identity_key, message_info, object, out, rng, sealing_key};

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &'static str = r#"
/** Where a decrypted message stands among the peer's messages (spec §5.9). */
export interface MessageInfo {
  /** The sender's ratchet public key (32 bytes): it names the sending chain. */
  chain: Uint8Array;
  /** The message's number in its chain, from 0. */
  number: number;
  /** The length of the sender's previous sending chain (PN). */
  previousChainLength: number;
  /** Decrypted with a stored skipped key: a later message arrived first. */
  late: boolean;
  /** The message opened a new receiving chain (a DH ratchet step). */
  newChain: boolean;
  /** How many earlier messages this one showed to be missing. */
  gap: number;
}

/** A session accepted from an initial message, and that message's plaintext. */
export interface Accepted {
  session: Session;
  plaintext: Uint8Array;
}

/** A message a Session decrypted, and its place among the peer's messages. */
export interface Decrypted {
  plaintext: Uint8Array;
  info: MessageInfo;
}

/** A message a Conversation decrypted, and what it changed. */
export interface Received {
  plaintext: Uint8Array;
  info: MessageInfo;
  /** The id (32 bytes) of the session it arrived on. */
  sessionId: Uint8Array;
  /** A new session was accepted through the account: persist the account. */
  accountChanged: boolean;
}

/** Headers encrypted (type 0x02, the default) or authenticated only (type 0x01). */
export type HeaderMode = "encrypted" | "plain";
"#;

/// A party's long-term state: its identity and its prekeys (spec §7.1,
/// §7.2). Persist it after every change (`generation` grows with each).
#[wasm_bindgen]
pub struct Account(pub(crate) sova::session::Account);

#[wasm_bindgen]
impl Account {
    /// A new account: a fresh identity, signed prekey and last-resort
    /// ML-KEM prekey.
    #[wasm_bindgen(constructor)]
    pub fn new() -> Result<Account, JsValue> {
        sova::session::Account::new(&mut rng())
            .map(Self)
            .map_err(js)
    }

    /// The identity key (64 bytes: the Ed25519 then the X25519 public key):
    /// what others expect when they talk to this account.
    #[wasm_bindgen(getter, js_name = identityKey)]
    pub fn identity_key(&self) -> Uint8Array {
        Uint8Array::from(&self.0.identity_key()[..])
    }

    /// The public identity (128 bytes: the identity key and the signature
    /// binding its two halves).
    #[wasm_bindgen(getter)]
    pub fn identity(&self) -> Uint8Array {
        Uint8Array::from(&self.0.identity().to_bytes()[..])
    }

    /// Counts the changes to the account (spec §8.2).
    #[wasm_bindgen(getter)]
    pub fn generation(&self) -> u64 {
        self.0.generation()
    }

    /// Adds `count` one-time X25519 prekeys; returns their ids.
    #[wasm_bindgen(js_name = generateOneTimePrekeys)]
    pub fn generate_one_time_prekeys(&mut self, count: u32) -> Result<Vec<u32>, JsValue> {
        self.0
            .generate_one_time_prekeys(&mut rng(), count as usize)
            .map_err(js)
    }

    /// Adds `count` one-time ML-KEM-768 prekeys; returns their ids.
    #[wasm_bindgen(js_name = generateKemOneTimePrekeys)]
    pub fn generate_kem_one_time_prekeys(&mut self, count: u32) -> Result<Vec<u32>, JsValue> {
        self.0
            .generate_kem_one_time_prekeys(&mut rng(), count as usize)
            .map_err(js)
    }

    /// Ids of the one-time X25519 prekeys held.
    #[wasm_bindgen(js_name = oneTimePrekeyIds)]
    pub fn one_time_prekey_ids(&self) -> Vec<u32> {
        self.0.one_time_prekey_ids()
    }

    /// Ids of the one-time ML-KEM prekeys held.
    #[wasm_bindgen(js_name = kemOneTimePrekeyIds)]
    pub fn kem_one_time_prekey_ids(&self) -> Vec<u32> {
        self.0.kem_one_time_prekey_ids()
    }

    /// Replaces the signed prekey (the previous one is kept for messages in
    /// flight); returns the new id.
    #[wasm_bindgen(js_name = rotateSignedPrekey)]
    pub fn rotate_signed_prekey(&mut self) -> Result<u32, JsValue> {
        self.0.rotate_signed_prekey(&mut rng()).map_err(js)
    }

    /// Replaces the last-resort ML-KEM prekey; returns the new id.
    #[wasm_bindgen(js_name = rotateKemLastResort)]
    pub fn rotate_kem_last_resort(&mut self) -> Result<u32, JsValue> {
        self.0.rotate_kem_last_resort(&mut rng()).map_err(js)
    }

    /// Whether some prekeys have not been uploaded yet.
    #[wasm_bindgen(getter, js_name = hasUnpublishedPrekeys)]
    pub fn has_unpublished_prekeys(&self) -> bool {
        self.0.has_unpublished_prekeys()
    }

    /// The prekey upload for the server (spec §7.2): the public parts of
    /// the prekeys not yet published, signed.
    #[wasm_bindgen(js_name = unpublishedPrekeys)]
    pub fn unpublished_prekeys(&self) -> Result<Uint8Array, JsValue> {
        let upload = self.0.unpublished_prekeys().map_err(js)?;
        Ok(Uint8Array::from(&upload.to_bytes()[..]))
    }

    /// Marks the prekeys of an upload the server stored as published;
    /// returns how many were newly marked (persist the account when not 0).
    #[wasm_bindgen(js_name = markPrekeysAsPublished)]
    pub fn mark_prekeys_as_published(&mut self, upload: &[u8]) -> Result<u32, JsValue> {
        let upload = sova::session::PrekeyUpload::parse(upload).map_err(js)?;
        Ok(u32::try_from(self.0.mark_prekeys_as_published(&upload)).unwrap_or(u32::MAX))
    }

    /// A prekey bundle of this account (spec §7.3), with the given one-time
    /// prekeys (ids from `generateOneTimePrekeys` and
    /// `generateKemOneTimePrekeys`; the last-resort ML-KEM prekey without).
    pub fn bundle(
        &self,
        one_time_prekey: Option<u32>,
        kem_one_time_prekey: Option<u32>,
    ) -> Result<Uint8Array, JsValue> {
        let b = self
            .0
            .bundle(one_time_prekey, kem_one_time_prekey)
            .map_err(js)?;
        Ok(Uint8Array::from(&b.to_bytes()[..]))
    }

    /// Accepts an initial message from the expected `peer` (its identity
    /// key): the new session and the message's plaintext. An initial
    /// message of anyone else is refused (`UnexpectedPeer`). The account
    /// changes (a one-time prekey used, a replay record): persist it.
    #[wasm_bindgen(unchecked_return_type = "Accepted")]
    pub fn accept(&mut self, peer: &[u8], initial_message: &[u8]) -> Result<JsValue, JsValue> {
        let peer = identity_key(peer)?;
        let (session, plaintext) = self.0.accept(&peer, initial_message).map_err(js)?;
        accepted(session, plaintext)
    }

    /// Accepts an initial message from whoever sent it: a first contact.
    /// Check the session's `peerIdentityKey` (a safety number) before
    /// trusting it.
    #[wasm_bindgen(js_name = acceptUnverified, unchecked_return_type = "Accepted")]
    pub fn accept_unverified(&mut self, initial_message: &[u8]) -> Result<JsValue, JsValue> {
        let (session, plaintext) = self.0.accept_unverified(initial_message).map_err(js)?;
        accepted(session, plaintext)
    }

    /// The account's encoding (spec §8): it holds private keys; prefer
    /// `toSealedBytes`.
    #[wasm_bindgen(js_name = toBytes)]
    pub fn to_bytes(&self) -> Uint8Array {
        out(self.0.to_bytes())
    }

    /// The account sealed under a 32-byte key (spec §8.3).
    #[wasm_bindgen(js_name = toSealedBytes)]
    pub fn to_sealed_bytes(&self, key: Vec<u8>) -> Result<Uint8Array, JsValue> {
        let key = sealing_key(key)?;
        Ok(out(self.0.to_sealed_bytes(&mut rng(), &key).map_err(js)?))
    }

    /// Restores an account from `toBytes`.
    #[wasm_bindgen(js_name = fromBytes)]
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Account, JsValue> {
        let bytes = Zeroizing::new(bytes);
        sova::session::Account::from_bytes(&bytes)
            .map(Self)
            .map_err(js)
    }

    /// Restores an account from `toSealedBytes` with the same key.
    #[wasm_bindgen(js_name = fromSealedBytes)]
    pub fn from_sealed_bytes(sealed: &[u8], key: Vec<u8>) -> Result<Account, JsValue> {
        let key = sealing_key(key)?;
        sova::session::Account::from_sealed_bytes(sealed, &key)
            .map(Self)
            .map_err(js)
    }
}

fn accepted(session: sova::session::Session, plaintext: Vec<u8>) -> Result<JsValue, JsValue> {
    Ok(object(&[
        ("session", Session(session).into()),
        ("plaintext", out(plaintext).into()),
    ])?
    .into())
}

/// An end-to-end encrypted session with one peer (spec §7).
#[wasm_bindgen]
pub struct Session(pub(crate) sova::session::Session);

#[wasm_bindgen]
impl Session {
    /// Starts a session with `peer` (its identity key) from its prekey
    /// bundle. A bundle of anyone else is refused (`UnexpectedPeer`).
    pub fn start(
        account: &Account,
        peer: &[u8],
        bundle: &[u8],
        mode: Option<String>,
    ) -> Result<Session, JsValue> {
        let peer = identity_key(peer)?;
        sova::session::Session::start(&account.0, &mut rng(), &peer, bundle, header_mode(mode)?)
            .map(Self)
            .map_err(js)
    }

    /// Starts a session from a bundle of whoever it belongs to: a first
    /// contact. Check `peerIdentityKey` (a safety number) before trusting it.
    #[wasm_bindgen(js_name = startUnverified)]
    pub fn start_unverified(
        account: &Account,
        bundle: &[u8],
        mode: Option<String>,
    ) -> Result<Session, JsValue> {
        sova::session::Session::start_unverified(&account.0, &mut rng(), bundle, header_mode(mode)?)
            .map(Self)
            .map_err(js)
    }

    /// The session id (32 bytes), equal on both sides.
    #[wasm_bindgen(getter, js_name = sessionId)]
    pub fn session_id(&self) -> Uint8Array {
        Uint8Array::from(&self.0.session_id()[..])
    }

    /// The peer's identity key (64 bytes).
    #[wasm_bindgen(getter, js_name = peerIdentityKey)]
    pub fn peer_identity_key(&self) -> Uint8Array {
        Uint8Array::from(&self.0.peer_identity().identity_key()[..])
    }

    /// Whether this side started the session.
    #[wasm_bindgen(getter, js_name = weInitiated)]
    pub fn we_initiated(&self) -> bool {
        self.0.we_initiated()
    }

    /// Whether outgoing messages are still wrapped in initial messages.
    #[wasm_bindgen(getter, js_name = isPending)]
    pub fn is_pending(&self) -> bool {
        self.0.is_pending()
    }

    /// Whether the peer has confirmed the session (spec §7.7).
    #[wasm_bindgen(getter, js_name = isConfirmed)]
    pub fn is_confirmed(&self) -> bool {
        self.0.is_confirmed()
    }

    /// Counts the changes to the session (spec §8.2).
    #[wasm_bindgen(getter)]
    pub fn generation(&self) -> u64 {
        self.0.ratchet().generation()
    }

    /// Encrypts a message. Persist the session before the message leaves.
    pub fn encrypt(&mut self, plaintext: Vec<u8>) -> Result<Uint8Array, JsValue> {
        let plaintext = Zeroizing::new(plaintext);
        let wire = self.0.encrypt(&mut rng(), &plaintext).map_err(js)?;
        Ok(Uint8Array::from(&wire[..]))
    }

    /// Decrypts a message; the session is unchanged when it is refused.
    pub fn decrypt(&mut self, message: &[u8]) -> Result<Uint8Array, JsValue> {
        Ok(out(self.0.decrypt(message).map_err(js)?))
    }

    /// Decrypts a message and tells where it stands among the peer's
    /// messages (chain, number, late, gap).
    #[wasm_bindgen(js_name = decryptWithInfo, unchecked_return_type = "Decrypted")]
    pub fn decrypt_with_info(&mut self, message: &[u8]) -> Result<JsValue, JsValue> {
        let (plaintext, info) = self.0.decrypt_with_info(message).map_err(js)?;
        Ok(object(&[
            ("plaintext", out(plaintext).into()),
            ("info", message_info(&info)?),
        ])?
        .into())
    }

    /// The session's encoding (spec §8): it holds keys; prefer `toSealedBytes`.
    #[wasm_bindgen(js_name = toBytes)]
    pub fn to_bytes(&self) -> Uint8Array {
        out(self.0.to_bytes())
    }

    /// The session sealed under a 32-byte key (spec §8.3).
    #[wasm_bindgen(js_name = toSealedBytes)]
    pub fn to_sealed_bytes(&self, key: Vec<u8>) -> Result<Uint8Array, JsValue> {
        let key = sealing_key(key)?;
        Ok(out(self.0.to_sealed_bytes(&mut rng(), &key).map_err(js)?))
    }

    /// Restores a session from `toBytes`.
    #[wasm_bindgen(js_name = fromBytes)]
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Session, JsValue> {
        let bytes = Zeroizing::new(bytes);
        sova::session::Session::from_bytes(&bytes)
            .map(Self)
            .map_err(js)
    }

    /// Restores a session from `toSealedBytes` with the same key.
    #[wasm_bindgen(js_name = fromSealedBytes)]
    pub fn from_sealed_bytes(sealed: &[u8], key: Vec<u8>) -> Result<Session, JsValue> {
        let key = sealing_key(key)?;
        sova::session::Session::from_sealed_bytes(sealed, &key)
            .map(Self)
            .map_err(js)
    }
}

/// Everything exchanged with one peer (spec §7.7): the sessions with it,
/// the one to send on, and new sessions the peer starts, accepted through
/// the account. The usual way to talk to someone.
#[wasm_bindgen]
pub struct Conversation(pub(crate) sova::session::Conversation);

#[wasm_bindgen]
impl Conversation {
    /// An empty conversation with the expected peer (its identity key):
    /// the peer's first message will make its session.
    #[wasm_bindgen(constructor)]
    pub fn new(peer: &[u8]) -> Result<Conversation, JsValue> {
        Ok(Self(sova::session::Conversation::new(identity_key(peer)?)))
    }

    /// Starts a conversation with `peer` from its bundle (a bundle of
    /// anyone else is refused: `UnexpectedPeer`).
    pub fn start(
        account: &Account,
        peer: &[u8],
        bundle: &[u8],
        mode: Option<String>,
    ) -> Result<Conversation, JsValue> {
        let peer = identity_key(peer)?;
        sova::session::Conversation::start(
            &account.0,
            &mut rng(),
            &peer,
            bundle,
            header_mode(mode)?,
        )
        .map(Self)
        .map_err(js)
    }

    /// Starts one more session from the peer's bundle (after the peer lost
    /// its state, say).
    #[wasm_bindgen(js_name = startSession)]
    pub fn start_session(
        &mut self,
        account: &Account,
        bundle: &[u8],
        mode: Option<String>,
    ) -> Result<(), JsValue> {
        self.0
            .start_session(&account.0, &mut rng(), bundle, header_mode(mode)?)
            .map_err(js)
    }

    /// Adds a session with the peer (the `Session` object is consumed).
    #[wasm_bindgen(js_name = addSession)]
    pub fn add_session(&mut self, session: Session) -> Result<(), JsValue> {
        self.0.add(session.0).map_err(js)
    }

    /// The peer's identity key (64 bytes).
    #[wasm_bindgen(getter)]
    pub fn peer(&self) -> Uint8Array {
        Uint8Array::from(&self.0.peer()[..])
    }

    /// How many sessions are held.
    #[wasm_bindgen(getter, js_name = sessionCount)]
    pub fn session_count(&self) -> u32 {
        u32::try_from(self.0.sessions().len()).unwrap_or(u32::MAX)
    }

    /// The id of the session messages are sent on, or `undefined`.
    #[wasm_bindgen(getter, js_name = activeSessionId)]
    pub fn active_session_id(&self) -> Option<Uint8Array> {
        self.0
            .active_session()
            .map(|s| Uint8Array::from(&s.session_id()[..]))
    }

    /// Encrypts on the active session. Persist the conversation before the
    /// message leaves.
    pub fn encrypt(&mut self, plaintext: Vec<u8>) -> Result<Uint8Array, JsValue> {
        let plaintext = Zeroizing::new(plaintext);
        let wire = self.0.encrypt(&mut rng(), &plaintext).map_err(js)?;
        Ok(Uint8Array::from(&wire[..]))
    }

    /// Decrypts a message from the peer; a new initial message is accepted
    /// through `account` (then `accountChanged`: persist the account too).
    /// Nothing changes when it is refused.
    #[wasm_bindgen(unchecked_return_type = "Received")]
    pub fn decrypt(&mut self, account: &mut Account, message: &[u8]) -> Result<JsValue, JsValue> {
        let got = self.0.decrypt(&mut account.0, message).map_err(js)?;
        let info = message_info(&got.info)?;
        let session_id = Uint8Array::from(&got.session_id[..]);
        let account_changed = got.account_changed;
        Ok(object(&[
            ("plaintext", out(got.plaintext).into()),
            ("info", info),
            ("sessionId", session_id.into()),
            ("accountChanged", account_changed.into()),
        ])?
        .into())
    }

    /// The conversation's encoding (spec §8): it holds keys; prefer
    /// `toSealedBytes`.
    #[wasm_bindgen(js_name = toBytes)]
    pub fn to_bytes(&self) -> Uint8Array {
        out(self.0.to_bytes())
    }

    /// The conversation sealed under a 32-byte key (spec §8.3).
    #[wasm_bindgen(js_name = toSealedBytes)]
    pub fn to_sealed_bytes(&self, key: Vec<u8>) -> Result<Uint8Array, JsValue> {
        let key = sealing_key(key)?;
        Ok(out(self.0.to_sealed_bytes(&mut rng(), &key).map_err(js)?))
    }

    /// Restores a conversation from `toBytes`.
    #[wasm_bindgen(js_name = fromBytes)]
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Conversation, JsValue> {
        let bytes = Zeroizing::new(bytes);
        sova::session::Conversation::from_bytes(&bytes)
            .map(Self)
            .map_err(js)
    }

    /// Restores a conversation from `toSealedBytes` with the same key.
    #[wasm_bindgen(js_name = fromSealedBytes)]
    pub fn from_sealed_bytes(sealed: &[u8], key: Vec<u8>) -> Result<Conversation, JsValue> {
        let key = sealing_key(key)?;
        sova::session::Conversation::from_sealed_bytes(sealed, &key)
            .map(Self)
            .map_err(js)
    }
}

/// A prekey upload as the server sees it (spec §7.2): checked on arrival,
/// then the source of the bundles it hands out.
#[wasm_bindgen]
pub struct PrekeyUpload(sova::session::PrekeyUpload);

#[wasm_bindgen]
impl PrekeyUpload {
    /// Parses an upload and checks its signatures.
    #[wasm_bindgen(constructor)]
    pub fn new(upload: &[u8]) -> Result<PrekeyUpload, JsValue> {
        let u = sova::session::PrekeyUpload::parse(upload).map_err(js)?;
        u.verify(&sova::DefaultProvider::default()).map_err(js)?;
        Ok(Self(u))
    }

    /// The uploader's identity key (64 bytes).
    #[wasm_bindgen(getter, js_name = identityKey)]
    pub fn identity_key(&self) -> Uint8Array {
        Uint8Array::from(&self.0.identity.identity_key()[..])
    }

    /// Ids of the one-time X25519 prekeys it carries.
    #[wasm_bindgen(js_name = oneTimePrekeyIds)]
    pub fn one_time_prekey_ids(&self) -> Vec<u32> {
        self.0.one_time_prekey_ids()
    }

    /// Ids of the one-time ML-KEM prekeys it carries.
    #[wasm_bindgen(js_name = kemOneTimePrekeyIds)]
    pub fn kem_one_time_prekey_ids(&self) -> Vec<u32> {
        self.0.kem_one_time_prekey_ids()
    }

    /// A bundle from this upload's long-term part and the given one-time
    /// prekeys (each handed out once by the server).
    pub fn bundle(
        &self,
        one_time_prekey: Option<u32>,
        kem_one_time_prekey: Option<u32>,
    ) -> Result<Uint8Array, JsValue> {
        let b = self
            .0
            .bundle(one_time_prekey, kem_one_time_prekey)
            .map_err(js)?;
        Ok(Uint8Array::from(&b.to_bytes()[..]))
    }
}
