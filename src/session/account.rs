//! The account: a party's identity, its prekeys, and the responder side of
//! the handshake (spec §7.2, §7.6).

use alloc::vec::Vec;

use rand_core::TryCryptoRng;

use super::bundle::PrekeyBundle;
use super::handshake::{
    derive_keys, transcript_hash, HandshakeHeader, HandshakeSecrets, Transcript,
};
use super::identity::{IdentityKey, IdentityKeyPair, IdentityPublic};
use super::prekey::{kem_public, sign_prekey, KemPrekey, OneTimePrekey, PrekeyKind, X25519Prekey};
use super::upload::{KemOneTimePublic, LongTermPrekeys, PrekeyUpload, UploadEntry};
use super::{AcceptError, AcceptPolicy, AccountError, Session};
use crate::codec::{Reader, Writer};
use crate::provider::{CryptoProvider, DefaultProvider, MLKEM_SEED_LEN, X25519_LEN};
use crate::ratchet::{message, HeaderMode, MessageInfo, Ratchet};
use crate::secret::Secret;
use crate::wipe;
use crate::CryptoError;

/// The most one-time X25519 prekeys an account holds (spec §7.2).
pub const MAX_ONE_TIME_PREKEYS: usize = 1000;
/// The most one-time ML-KEM-768 prekeys an account holds (spec §7.2).
pub const MAX_KEM_ONE_TIME_PREKEYS: usize = 100;
/// The most replay records a signed prekey carries (spec §7.6, §7.9): at
/// 32 bytes each, at most 128 KiB per signed prekey, 256 KiB per account.
/// When the current signed prekey's records are full, [`Account::accept`]
/// fails with [`AcceptError::ReplayStoreFull`] until the signed prekey is
/// rotated ([`Account::rotate_signed_prekey`]).
pub const MAX_REPLAY_RECORDS: usize = 4096;

/// A party's long-term state: identity, prekeys and replay records. The
/// caller owns it and persists it after every change (spec §8.4).
pub struct Account {
    /// Incremented by every change (spec §8.4).
    pub(crate) generation: u64,
    pub(crate) identity: IdentityKeyPair,
    pub(crate) next_prekey_id: u32,
    pub(crate) signed_prekey: X25519Prekey,
    pub(crate) previous_signed_prekey: Option<X25519Prekey>,
    /// Secrets only: their public keys are derived when used (spec §8.4).
    pub(crate) one_time_prekeys: Vec<OneTimePrekey<X25519_LEN>>,
    pub(crate) kem_last_resort: KemPrekey,
    pub(crate) previous_kem_last_resort: Option<KemPrekey>,
    /// Seeds only: their encapsulation keys and signatures are derived when
    /// a bundle names them (spec §8.4).
    pub(crate) kem_one_time_prekeys: Vec<OneTimePrekey<MLKEM_SEED_LEN>>,
    /// `SHA-256(EK_A)` of the accepted handshakes that used the current
    /// signed prekey and no one-time prekey, sorted, without duplicates
    /// (spec §7.6).
    pub(crate) signed_prekey_replays: Vec<[u8; 32]>,
    /// The same for the previous signed prekey; empty when there is none.
    pub(crate) previous_signed_prekey_replays: Vec<[u8; 32]>,
    /// Whether the current signed prekey and last-resort ML-KEM prekey have
    /// been published (spec §7.11, §8.4); a rotation clears it.
    pub(crate) long_term_published: bool,
}

impl core::fmt::Debug for Account {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Account")
            .field("generation", &self.generation)
            .field("identity", self.identity.public())
            .field("one_time_prekeys", &self.one_time_prekeys.len())
            .field("kem_one_time_prekeys", &self.kem_one_time_prekeys.len())
            .finish_non_exhaustive()
    }
}

/// A signed X25519 prekey: its public key and signature computed now.
fn new_signed_x25519<P: CryptoProvider + ?Sized>(
    p: &P,
    id: u32,
    private: Secret<32>,
    identity_seed: &Secret<32>,
) -> Result<X25519Prekey, CryptoError> {
    let public = p.x25519_public_key(&private);
    let signature = sign_prekey(p, identity_seed, PrekeyKind::SignedX25519, id, &public)?;
    Ok(X25519Prekey {
        id,
        private,
        public,
        signature,
    })
}

fn new_kem<P: CryptoProvider + ?Sized>(
    p: &P,
    id: u32,
    kind: PrekeyKind,
    seed: Secret<MLKEM_SEED_LEN>,
    identity_seed: &Secret<32>,
) -> Result<KemPrekey, CryptoError> {
    let (public, signature) = kem_public(p, identity_seed, kind, id, &seed)?;
    Ok(KemPrekey {
        id,
        kind,
        seed,
        public: public.to_vec(),
        signature,
    })
}

fn random<const N: usize, R: TryCryptoRng + ?Sized>(rng: &mut R) -> Result<Secret<N>, CryptoError> {
    let mut s = Secret::zero();
    crate::random::fill(rng, s.expose_mut())?;
    Ok(s)
}

impl Account {
    /// Creates an account: an identity (64 random bytes), a signed prekey (32)
    /// and a last-resort ML-KEM prekey (64), in that order (spec §7.2).
    ///
    /// # Errors
    /// Only on an internal label error, which the fixed labels never cause.
    pub fn new<R: TryCryptoRng + ?Sized>(rng: &mut R) -> Result<Self, AccountError> {
        Self::new_with(&DefaultProvider::default(), rng)
    }

    /// [`new`](Self::new) with an explicit provider.
    ///
    /// # Errors
    /// Only on an internal label error, which the fixed labels never cause.
    pub fn new_with<P: CryptoProvider + ?Sized, R: TryCryptoRng + ?Sized>(
        p: &P,
        rng: &mut R,
    ) -> Result<Self, AccountError> {
        let identity = IdentityKeyPair::generate(p, rng)?;
        let signed_prekey = new_signed_x25519(p, 1, random(rng)?, &identity.signing_seed)?;
        let kem_last_resort = new_kem(
            p,
            2,
            PrekeyKind::KemLastResort,
            random(rng)?,
            &identity.signing_seed,
        )?;
        Ok(Self {
            generation: 0,
            identity,
            next_prekey_id: 3,
            signed_prekey,
            previous_signed_prekey: None,
            one_time_prekeys: Vec::new(),
            kem_last_resort,
            previous_kem_last_resort: None,
            kem_one_time_prekeys: Vec::new(),
            signed_prekey_replays: Vec::new(),
            previous_signed_prekey_replays: Vec::new(),
            long_term_published: false,
        })
    }

    /// The account's generation: 0 when created, incremented by every
    /// change (a successful [`accept`](Self::accept), prekey generation,
    /// rotation; spec §8.4). It is persisted with the account and never
    /// decreases, so an application that keeps the last value it saw
    /// somewhere the account's storage cannot roll back (another device, a
    /// platform counter) notices a restored older copy of the account: its
    /// generation is smaller. Such a copy holds one-time prekeys and lacks
    /// replay records that the newer one had consumed or added.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// How many replay records the current signed prekey carries (at most
    /// [`MAX_REPLAY_RECORDS`]; spec §7.6). Rotate the signed prekey before
    /// it is full, or `accept` fails with [`AcceptError::ReplayStoreFull`].
    pub fn replay_record_count(&self) -> usize {
        self.signed_prekey_replays.len()
    }

    /// Counts a change (spec §8.4); 2^64 changes are out of reach.
    fn bump_generation(&mut self) {
        self.generation = self.generation.saturating_add(1);
    }

    /// The public identity.
    pub fn identity(&self) -> &IdentityPublic {
        self.identity.public()
    }

    /// The 64-byte identity key (for safety numbers).
    pub fn identity_key(&self) -> IdentityKey {
        self.identity.public().identity_key()
    }

    /// Fails unless `count` more prekey ids can be allocated, so that a
    /// batch is added whole or not at all.
    fn ids_available(&self, count: usize) -> Result<(), AccountError> {
        let count = u32::try_from(count).map_err(|_| AccountError::PrekeyIdsExhausted)?;
        self.next_prekey_id
            .checked_add(count)
            .map(|_| ())
            .ok_or(AccountError::PrekeyIdsExhausted)
    }

    fn take_id(&mut self) -> Result<u32, AccountError> {
        let id = self.next_prekey_id;
        self.next_prekey_id = id.checked_add(1).ok_or(AccountError::PrekeyIdsExhausted)?;
        Ok(id)
    }

    /// Adds `count` one-time X25519 prekeys (32 random bytes each); returns their ids.
    ///
    /// # Errors
    /// [`AccountError::TooManyPrekeys`] past [`MAX_ONE_TIME_PREKEYS`],
    /// [`AccountError::PrekeyIdsExhausted`] when the prekey ids would run out;
    /// nothing is added then.
    pub fn generate_one_time_prekeys<R: TryCryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        count: usize,
    ) -> Result<Vec<u32>, AccountError> {
        if count > MAX_ONE_TIME_PREKEYS.saturating_sub(self.one_time_prekeys.len()) {
            return Err(AccountError::TooManyPrekeys);
        }
        if count == 0 {
            return Ok(Vec::new());
        }
        self.ids_available(count)?;
        // Every draw before any change: a generator that fails leaves the account as it was.
        let mut secrets = Vec::with_capacity(count);
        for _ in 0..count {
            secrets.push(random(rng)?);
        }
        self.bump_generation();
        let mut ids = Vec::with_capacity(count);
        // Cloned, not moved out: `secrets` then drops (and wipes) every
        // element in its own buffer.
        for secret in &secrets {
            let id = self.take_id()?;
            let k = OneTimePrekey {
                id,
                secret: secret.clone(),
                published: false,
            };
            wipe::push(&mut self.one_time_prekeys, k);
            ids.push(id);
        }
        Ok(ids)
    }

    /// Adds `count` signed one-time ML-KEM-768 prekeys (64 random bytes each); returns their ids.
    ///
    /// # Errors
    /// [`AccountError::TooManyPrekeys`] past [`MAX_KEM_ONE_TIME_PREKEYS`],
    /// [`AccountError::PrekeyIdsExhausted`] when the prekey ids would run out;
    /// nothing is added then.
    pub fn generate_kem_one_time_prekeys<R: TryCryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        count: usize,
    ) -> Result<Vec<u32>, AccountError> {
        if count > MAX_KEM_ONE_TIME_PREKEYS.saturating_sub(self.kem_one_time_prekeys.len()) {
            return Err(AccountError::TooManyPrekeys);
        }
        if count == 0 {
            return Ok(Vec::new());
        }
        self.ids_available(count)?;
        // Every draw before any change: a generator that fails leaves the account as it was.
        let mut secrets = Vec::with_capacity(count);
        for _ in 0..count {
            secrets.push(random(rng)?);
        }
        self.bump_generation();
        let mut ids = Vec::with_capacity(count);
        // Cloned, not moved out: `secrets` then drops (and wipes) every
        // element in its own buffer.
        for secret in &secrets {
            let id = self.take_id()?;
            let k = OneTimePrekey {
                id,
                secret: secret.clone(),
                published: false,
            };
            wipe::push(&mut self.kem_one_time_prekeys, k);
            ids.push(id);
        }
        Ok(ids)
    }

    /// Replaces the signed prekey (32 random bytes); the previous one is kept
    /// so initial messages already in flight still succeed (spec §7.2).
    ///
    /// # Errors
    /// [`AccountError::PrekeyIdsExhausted`].
    pub fn rotate_signed_prekey<R: TryCryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
    ) -> Result<u32, AccountError> {
        // The id is checked before the draw and taken only once the new key
        // exists: a failed rotation draws nothing or changes nothing (§7.2).
        self.ids_available(1)?;
        let secret = random(rng)?;
        let id = self.next_prekey_id;
        let new = new_signed_x25519(
            &DefaultProvider::default(),
            id,
            secret,
            &self.identity.signing_seed,
        )?;
        self.take_id()?;
        self.previous_signed_prekey = Some(core::mem::replace(&mut self.signed_prekey, new));
        // The records go with their signed prekey (spec §7.6): the dropped
        // previous one's are discarded, the new one starts with none.
        self.previous_signed_prekey_replays = core::mem::take(&mut self.signed_prekey_replays);
        self.long_term_published = false;
        self.bump_generation();
        Ok(id)
    }

    /// Replaces the last-resort ML-KEM prekey (64 random bytes), keeping the previous one.
    ///
    /// # Errors
    /// [`AccountError::PrekeyIdsExhausted`].
    pub fn rotate_kem_last_resort<R: TryCryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
    ) -> Result<u32, AccountError> {
        self.ids_available(1)?;
        let secret = random(rng)?;
        let id = self.next_prekey_id;
        let p = DefaultProvider::default();
        let new = new_kem(
            &p,
            id,
            PrekeyKind::KemLastResort,
            secret,
            &self.identity.signing_seed,
        )?;
        self.take_id()?;
        self.previous_kem_last_resort = Some(core::mem::replace(&mut self.kem_last_resort, new));
        self.long_term_published = false;
        self.bump_generation();
        Ok(id)
    }

    /// Ids of the unused one-time X25519 prekeys.
    pub fn one_time_prekey_ids(&self) -> Vec<u32> {
        self.one_time_prekeys.iter().map(|k| k.id).collect()
    }

    /// Ids of the unused one-time ML-KEM prekeys.
    pub fn kem_one_time_prekey_ids(&self) -> Vec<u32> {
        self.kem_one_time_prekeys.iter().map(|k| k.id).collect()
    }

    /// Whether anything is waiting to be published: a new or rotated signed
    /// or last-resort prekey, or a one-time prekey not yet marked published.
    pub fn has_unpublished_prekeys(&self) -> bool {
        !self.long_term_published
            || self.one_time_prekeys.iter().any(|k| !k.published)
            || self.kem_one_time_prekeys.iter().any(|k| !k.published)
    }

    /// The upload of everything not yet published (spec §7.11): the
    /// long-term part (signed prekey and last-resort ML-KEM prekey) if the
    /// account is new or either was rotated since it was last published,
    /// then every unpublished one-time X25519 prekey and every unpublished
    /// one-time ML-KEM prekey, each kind in creation order. Newly generated
    /// one-time prekeys are unpublished.
    ///
    /// The account holds at most [`MAX_ONE_TIME_PREKEYS`] and
    /// [`MAX_KEM_ONE_TIME_PREKEYS`] one-time prekeys, published or not, so
    /// every unpublished prekey fits one upload
    /// ([`MAX_UPLOAD_ENTRIES`](super::MAX_UPLOAD_ENTRIES)). Nothing changes
    /// here: once the server has stored the upload, call
    /// [`mark_prekeys_as_published`](Self::mark_prekeys_as_published) with
    /// it and persist the account.
    ///
    /// Each one-time prekey's public key is derived here (an X25519
    /// base-point multiplication, or an ML-KEM-768 key generation and an
    /// Ed25519 signature).
    ///
    /// # Errors
    /// Only on an internal label error, which the fixed labels never cause.
    pub fn unpublished_prekeys(&self) -> Result<PrekeyUpload, AccountError> {
        let p = DefaultProvider::default();
        let long_term = if self.long_term_published {
            None
        } else {
            let kem = &self.kem_last_resort;
            let ek = kem
                .encapsulation_key()
                .ok_or(AccountError::UnknownPrekey(kem.id))?;
            Some(LongTermPrekeys {
                signed_prekey_id: self.signed_prekey.id,
                signed_prekey: self.signed_prekey.public,
                signed_prekey_signature: self.signed_prekey.signature,
                kem_last_resort_id: kem.id,
                kem_last_resort: alloc::boxed::Box::new(*ek),
                kem_last_resort_signature: kem.signature,
            })
        };
        let mut entries = Vec::new();
        for k in self.one_time_prekeys.iter().filter(|k| !k.published) {
            entries.push(UploadEntry::X25519 {
                id: k.id,
                key: k.x25519_public(&p),
            });
        }
        for k in self.kem_one_time_prekeys.iter().filter(|k| !k.published) {
            let (key, signature) = kem_public(
                &p,
                &self.identity.signing_seed,
                PrekeyKind::KemOneTime,
                k.id,
                &k.secret,
            )?;
            entries.push(UploadEntry::Kem(KemOneTimePublic {
                id: k.id,
                key: alloc::boxed::Box::new(key),
                signature,
            }));
        }
        Ok(PrekeyUpload {
            identity: *self.identity.public(),
            long_term,
            entries,
        })
    }

    /// Marks the prekeys of `upload` as published (spec §7.11): the
    /// long-term part if it names the current signed and last-resort
    /// prekeys, and each one-time prekey of the upload the account still
    /// holds. Prekeys generated or rotated after `upload` was built stay
    /// unpublished; an upload of another identity marks nothing. Returns how
    /// many prekeys were newly marked (the long-term part counts as two);
    /// when that is not 0, `generation` is incremented and the account must
    /// be persisted.
    pub fn mark_prekeys_as_published(&mut self, upload: &PrekeyUpload) -> usize {
        if upload.identity != *self.identity.public() {
            return 0;
        }
        let mut marked = 0;
        if let Some(l) = &upload.long_term {
            if !self.long_term_published
                && l.signed_prekey_id == self.signed_prekey.id
                && l.kem_last_resort_id == self.kem_last_resort.id
            {
                self.long_term_published = true;
                marked += 2;
            }
        }
        for e in &upload.entries {
            let found = match e {
                UploadEntry::X25519 { id, .. } => self
                    .one_time_prekeys
                    .binary_search_by_key(id, |k| k.id)
                    .ok()
                    .and_then(|i| self.one_time_prekeys.get_mut(i))
                    .map(|k| &mut k.published),
                UploadEntry::Kem(k) => self
                    .kem_one_time_prekeys
                    .binary_search_by_key(&k.id, |k| k.id)
                    .ok()
                    .and_then(|i| self.kem_one_time_prekeys.get_mut(i))
                    .map(|k| &mut k.published),
            };
            if let Some(flag) = found {
                if !*flag {
                    *flag = true;
                    marked += 1;
                }
            }
        }
        if marked > 0 {
            self.bump_generation();
        }
        marked
    }

    /// The bundle an initiator needs, with the named one-time prekeys (a
    /// server hands each one-time prekey to one initiator only).
    ///
    /// A named one-time prekey's public key (and an ML-KEM one's signature)
    /// is derived from its stored secret by this call: an X25519 base-point
    /// multiplication, or an ML-KEM-768 key generation and an Ed25519
    /// signature (spec §8.4).
    ///
    /// # Errors
    /// [`AccountError::UnknownPrekey`] when a named prekey does not exist.
    pub fn bundle(
        &self,
        one_time_prekey: Option<u32>,
        kem_one_time_prekey: Option<u32>,
    ) -> Result<PrekeyBundle, AccountError> {
        let p = DefaultProvider::default();
        let opk = match one_time_prekey {
            None => None,
            Some(id) => {
                let k = self
                    .one_time_prekeys
                    .binary_search_by_key(&id, |k| k.id)
                    .ok()
                    .and_then(|i| self.one_time_prekeys.get(i))
                    .ok_or(AccountError::UnknownPrekey(id))?;
                Some((k.id, k.x25519_public(&p)))
            }
        };
        let (kind, id, ek, signature) = match kem_one_time_prekey {
            None => {
                let kem = &self.kem_last_resort;
                let ek = kem
                    .encapsulation_key()
                    .ok_or(AccountError::UnknownPrekey(kem.id))?;
                (kem.kind, kem.id, *ek, kem.signature)
            }
            Some(id) => {
                let k = self
                    .kem_one_time_prekeys
                    .binary_search_by_key(&id, |k| k.id)
                    .ok()
                    .and_then(|i| self.kem_one_time_prekeys.get(i))
                    .ok_or(AccountError::UnknownPrekey(id))?;
                let kind = PrekeyKind::KemOneTime;
                let (ek, signature) =
                    kem_public(&p, &self.identity.signing_seed, kind, k.id, &k.secret)?;
                (kind, k.id, ek, signature)
            }
        };
        Ok(PrekeyBundle {
            identity: *self.identity.public(),
            signed_prekey_id: self.signed_prekey.id,
            signed_prekey: self.signed_prekey.public,
            signed_prekey_signature: self.signed_prekey.signature,
            one_time_prekey: opk,
            kem_prekey_kind: kind,
            kem_prekey_id: id,
            kem_prekey: alloc::boxed::Box::new(ek),
            kem_prekey_signature: signature,
        })
    }

    /// Accepts an initial message from `peer` (spec §7.6): derives the
    /// session, decrypts the first message, and only then deletes the
    /// one-time prekeys it used or, if it used none, records its ephemeral key
    /// on the signed prekey against replays. On any error the account is
    /// unchanged.
    ///
    /// An initial message from any other identity is refused with
    /// [`AcceptError::UnexpectedPeer`] before any other work. Use
    /// [`accept_unverified`](Self::accept_unverified) for a first contact,
    /// and [`accept_with_policy`](Self::accept_with_policy) to require a
    /// header mode as well.
    ///
    /// Persist the account after a successful call: the deleted one-time
    /// prekeys, the replay records and the generation are part of its state.
    ///
    /// ```
    /// use sova::session::{AcceptError, Account, Session};
    /// use sova::ratchet::HeaderMode;
    ///
    /// let mut rng = sova::OsRng;
    /// let alice = Account::new(&mut rng)?;
    /// let mallory = Account::new(&mut rng)?;
    /// let mut bob = Account::new(&mut rng)?;
    /// let bundle = bob.bundle(None, None)?.to_bytes();
    ///
    /// // Mallory writes to Bob claiming nothing; Bob expects Alice.
    /// let mut s = Session::start(&mallory, &mut rng, &bob.identity_key(), &bundle, HeaderMode::Plain)?;
    /// let forged = s.encrypt(&mut rng, b"hi, it's Alice")?;
    /// assert_eq!(bob.accept(&alice.identity_key(), &forged).unwrap_err(), AcceptError::UnexpectedPeer);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// See [`AcceptError`].
    pub fn accept(
        &mut self,
        peer: &IdentityKey,
        initial_message: &[u8],
    ) -> Result<(Session, Vec<u8>), AcceptError> {
        self.accept_with(
            &DefaultProvider::default(),
            &AcceptPolicy::expect(*peer),
            initial_message,
        )
    }

    /// Accepts an initial message from whoever sent it: a first contact.
    ///
    /// # Security
    /// Anyone can send an initial message. The session's
    /// [`peer_identity`](Session::peer_identity) says who sent it; the
    /// application must decide whether to trust that identity (trust on
    /// first use, or a safety-number comparison, [`crate::safety`]) before
    /// showing the message as coming from someone, and remember it so that
    /// later sessions are accepted with [`accept`](Self::accept).
    ///
    /// # Errors
    /// See [`AcceptError`].
    pub fn accept_unverified(
        &mut self,
        initial_message: &[u8],
    ) -> Result<(Session, Vec<u8>), AcceptError> {
        self.accept_with(
            &DefaultProvider::default(),
            &AcceptPolicy::any_peer(),
            initial_message,
        )
    }

    /// Accepts an initial message that meets `policy`: an expected peer, a
    /// required header mode, or both.
    ///
    /// # Errors
    /// See [`AcceptError`].
    pub fn accept_with_policy(
        &mut self,
        policy: &AcceptPolicy,
        initial_message: &[u8],
    ) -> Result<(Session, Vec<u8>), AcceptError> {
        self.accept_with(&DefaultProvider::default(), policy, initial_message)
    }

    /// [`accept_with_policy`](Self::accept_with_policy) with an explicit provider.
    ///
    /// # Errors
    /// See [`AcceptError`].
    pub fn accept_with<P: CryptoProvider + ?Sized>(
        &mut self,
        p: &P,
        policy: &AcceptPolicy,
        initial_message: &[u8],
    ) -> Result<(Session, Vec<u8>), AcceptError> {
        self.accept_inner(p, policy, initial_message)
            .map(|(session, plaintext, _)| (session, plaintext))
    }

    /// [`accept_with`](Self::accept_with), also returning the embedded
    /// message's [`MessageInfo`].
    pub(crate) fn accept_inner<P: CryptoProvider + ?Sized>(
        &mut self,
        p: &P,
        policy: &AcceptPolicy,
        initial_message: &[u8],
    ) -> Result<(Session, Vec<u8>, MessageInfo), AcceptError> {
        self.accept_checked(p, policy, initial_message, &mut |_| true)
    }

    /// [`accept_inner`](Self::accept_inner) where `check` sees the first
    /// message's plaintext before anything is committed (`false`: refused as
    /// `FirstMessage(Authentication)`, the account unchanged).
    pub(crate) fn accept_checked<P: CryptoProvider + ?Sized>(
        &mut self,
        p: &P,
        policy: &AcceptPolicy,
        initial_message: &[u8],
        check: &mut crate::ratchet::PlaintextCheck<'_>,
    ) -> Result<(Session, Vec<u8>, MessageInfo), AcceptError> {
        let (h, inner) = HandshakeHeader::parse(initial_message)?;
        // The policy, on clear fields, before any public-key work (spec §7.6).
        if let Some(peer) = policy.peer() {
            if h.identity.identity_key() != *peer {
                return Err(AcceptError::UnexpectedPeer);
            }
        }
        if let Some(mode) = policy.header_mode() {
            let wanted = match mode {
                HeaderMode::Plain => message::TYPE_PLAIN_HEADER,
                HeaderMode::Encrypted => message::TYPE_ENCRYPTED_HEADER,
            };
            if inner.get(1) != Some(&wanted) {
                return Err(AcceptError::HeaderModeRefused);
            }
        }
        h.identity
            .verify(p)
            .map_err(|_| AcceptError::InvalidIdentitySignature)?;
        let spk = [
            Some(&self.signed_prekey),
            self.previous_signed_prekey.as_ref(),
        ]
        .into_iter()
        .flatten()
        .find(|k| k.id == h.signed_prekey_id)
        .ok_or(AcceptError::UnknownPrekey(h.signed_prekey_id))?;
        let opk = match h.one_time_prekey_id {
            None => None,
            Some(id) => Some(
                self.one_time_prekeys
                    .iter()
                    .position(|k| k.id == id)
                    .ok_or(AcceptError::OneTimePrekeyUnknownOrUsed(id))?,
            ),
        };
        // (index among the one-time prekeys, kind, id, seed)
        let kem = match h.kem_prekey_kind {
            PrekeyKind::KemOneTime => {
                let i = self
                    .kem_one_time_prekeys
                    .iter()
                    .position(|k| k.id == h.kem_prekey_id)
                    .ok_or(AcceptError::OneTimePrekeyUnknownOrUsed(h.kem_prekey_id))?;
                let k = &self.kem_one_time_prekeys[i];
                (Some(i), PrekeyKind::KemOneTime, k.id, &k.secret)
            }
            _ => {
                let k = [
                    Some(&self.kem_last_resort),
                    self.previous_kem_last_resort.as_ref(),
                ]
                .into_iter()
                .flatten()
                .find(|k| k.id == h.kem_prekey_id)
                .ok_or(AcceptError::UnknownPrekey(h.kem_prekey_id))?;
                (None, k.kind, k.id, &k.seed)
            }
        };
        // A handshake without any one-time prekey needs a replay record on
        // its signed prekey; one with a one-time prekey is protected by that
        // key's deletion (spec §7.6).
        let needs_record = opk.is_none() && kem.0.is_none();
        let spk_is_current = spk.id == self.signed_prekey.id;
        let replay_tag = p.sha256(&[&h.ephemeral_key]);
        let record_at = if needs_record {
            let records = if spk_is_current {
                &self.signed_prekey_replays
            } else {
                &self.previous_signed_prekey_replays
            };
            match records.binary_search(&replay_tag) {
                Ok(_) => return Err(AcceptError::Replay),
                Err(_) if records.len() >= MAX_REPLAY_RECORDS => {
                    return Err(AcceptError::ReplayStoreFull(spk.id))
                }
                Err(i) => Some(i),
            }
        } else {
            None
        };
        let ours = &self.identity;
        let dh1 = p.x25519(&spk.private, &h.identity.agreement_key)?;
        let dh2 = p.x25519(&ours.agreement_private, &h.ephemeral_key)?;
        let dh3 = p.x25519(&spk.private, &h.ephemeral_key)?;
        // The final capacity at once: a vector that grew would free a copy of DH1..DH3.
        let mut dh = Vec::with_capacity(4);
        dh.extend([dh1, dh2, dh3]);
        let opk_ref = opk.and_then(|i| self.one_time_prekeys.get(i));
        // The one-time prekey's public key is derived here, not stored (spec §8.4).
        let opk_public = match opk_ref {
            Some(k) => {
                dh.push(p.x25519(&k.secret, &h.ephemeral_key)?);
                Some((k.id, k.x25519_public(p)))
            }
            None => None,
        };
        let pair = p.ml_kem_768_generate(kem.3);
        let ss = p.ml_kem_768_decapsulate(&pair.decapsulation_key, &h.kem_ciphertext);
        let th = transcript_hash(
            p,
            &Transcript {
                initiator: &h.identity,
                responder: ours.public(),
                signed_prekey: (spk.id, &spk.public),
                one_time_prekey: opk_public.as_ref().map(|(id, public)| (*id, public)),
                kem_prekey: (kem.1, kem.2, &pair.encapsulation_key),
                ephemeral_key: &h.ephemeral_key,
                kem_ciphertext: &h.kem_ciphertext,
            },
        )?;
        let keys = derive_keys(
            p,
            th,
            &HandshakeSecrets {
                dh,
                kem_shared_secret: ss,
            },
        )?;
        let mode = match inner.get(1) {
            Some(&message::TYPE_ENCRYPTED_HEADER) => HeaderMode::Encrypted,
            _ => HeaderMode::Plain,
        };
        let mut ratchet = Ratchet::responder_with_key_pair(
            p,
            &keys.session_secret,
            spk.private.clone(),
            spk.public,
            &th,
            mode,
        )
        .map_err(|_| AcceptError::Crypto(CryptoError::LabelTooLong))?;
        let mut plaintext = Vec::new();
        let info = ratchet.decrypt_into_checked(p, inner, &mut plaintext, check)?;
        // Commit (spec §7.6): delete the one-time prekeys, or record EK_A.
        let kem_index = kem.0;
        // Wiped in place, removed, and the slot the shift frees zeroed.
        if let Some(i) = opk {
            wipe::remove(&mut self.one_time_prekeys, i);
        }
        if let Some(i) = kem_index {
            wipe::remove(&mut self.kem_one_time_prekeys, i);
        }
        if let Some(i) = record_at {
            let records = if spk_is_current {
                &mut self.signed_prekey_replays
            } else {
                &mut self.previous_signed_prekey_replays
            };
            records.insert(i, replay_tag);
        }
        self.bump_generation();
        let session = Session {
            ratchet,
            session_id: keys.transcript_hash,
            local_identity: self.identity_key(),
            peer: h.identity,
            we_initiated: false,
            confirmed: false,
            pending: None,
            initial: Some(super::InitialRecord {
                ephemeral_key: h.ephemeral_key,
                digest: super::InitialRecord::digest_of(p, initial_message, inner),
            }),
        };
        Ok((session, plaintext, info))
    }
}

const MAGIC: &[u8; 14] = b"SOVA-1 account";
const STATE_VERSION: u8 = 1;

impl Account {
    /// Serializes the account (secret!) in the format of spec §8.4.
    pub fn to_bytes(&self) -> Vec<u8> {
        // Exactly the encoded length: a vector that grew would free earlier
        // buffers holding the secrets without wiping them.
        let mut out = Vec::with_capacity(self.encoded_len());
        out.put(MAGIC);
        out.put_u8(STATE_VERSION);
        out.put_u64(self.generation);
        out.put(self.identity.signing_seed.expose());
        out.put(self.identity.agreement_private.expose());
        out.put_u32(self.next_prekey_id);
        out.put_u8(u8::from(self.long_term_published));
        let put_x = |o: &mut Vec<u8>, k: &X25519Prekey| {
            o.put_u32(k.id);
            o.put(k.private.expose());
        };
        let put_kem = |o: &mut Vec<u8>, k: &KemPrekey| {
            o.put_u32(k.id);
            o.put(k.seed.expose());
        };
        let put_records = |o: &mut Vec<u8>, records: &[[u8; 32]]| {
            o.put_u16(records.len() as u16);
            for t in records {
                o.put(t);
            }
        };
        put_x(&mut out, &self.signed_prekey);
        put_records(&mut out, &self.signed_prekey_replays);
        match &self.previous_signed_prekey {
            None => out.put_u8(0),
            Some(k) => {
                out.put_u8(1);
                put_x(&mut out, k);
                put_records(&mut out, &self.previous_signed_prekey_replays);
            }
        }
        out.put_u16(self.one_time_prekeys.len() as u16);
        for k in &self.one_time_prekeys {
            out.put_u32(k.id);
            out.put(k.secret.expose());
            out.put_u8(u8::from(k.published));
        }
        put_kem(&mut out, &self.kem_last_resort);
        match &self.previous_kem_last_resort {
            None => out.put_u8(0),
            Some(k) => {
                out.put_u8(1);
                put_kem(&mut out, k);
            }
        }
        out.put_u16(self.kem_one_time_prekeys.len() as u16);
        for k in &self.kem_one_time_prekeys {
            out.put_u32(k.id);
            out.put(k.secret.expose());
            out.put_u8(u8::from(k.published));
        }
        crate::ratchet::append_state_check(&mut out, 0);
        out
    }

    /// The length of [`to_bytes`](Self::to_bytes).
    fn encoded_len(&self) -> usize {
        const X: usize = 4 + 32; // X25519Prekey
        const KEM: usize = 4 + MLKEM_SEED_LEN; // KemPrekey
        const ONE_TIME_X: usize = X + 1; // OneTimeX25519Prekey: with its published flag
        const ONE_TIME_KEM: usize = KEM + 1; // OneTimeKemPrekey
        let previous = |present: bool, len: usize| 1 + if present { len } else { 0 };
        const RECORD: usize = 32;
        MAGIC.len()
            + 1
            + 8
            + 32
            + 32
            + 4
            + 1
            + X
            + 2
            + self.signed_prekey_replays.len() * RECORD
            + previous(
                self.previous_signed_prekey.is_some(),
                X + 2 + self.previous_signed_prekey_replays.len() * RECORD,
            )
            + 2
            + self.one_time_prekeys.len() * ONE_TIME_X
            + KEM
            + previous(self.previous_kem_last_resort.is_some(), KEM)
            + 2
            + self.kem_one_time_prekeys.len() * ONE_TIME_KEM
            + crate::ratchet::STATE_CHECK_LEN
    }

    /// Restores an account written by [`to_bytes`](Self::to_bytes). The
    /// public keys and signatures of the identity, the signed prekeys and the
    /// last-resort ML-KEM prekeys are recomputed from their secrets; those of
    /// the one-time prekeys are derived when a bundle or a handshake uses
    /// them (spec §8.4), so loading costs the same whatever their number.
    ///
    /// # Errors
    /// [`crate::ratchet::StateError`] naming what is wrong; never panics.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, crate::ratchet::StateError> {
        Self::from_bytes_with(&DefaultProvider::default(), bytes)
    }

    /// [`from_bytes`](Self::from_bytes) with an explicit provider (it
    /// recomputes the identity's and the prekeys' public keys and
    /// signatures).
    ///
    /// # Errors
    /// As [`from_bytes`](Self::from_bytes).
    pub fn from_bytes_with<P: CryptoProvider + ?Sized>(
        p: &P,
        bytes: &[u8],
    ) -> Result<Self, crate::ratchet::StateError> {
        use crate::ratchet::StateError;
        let mut r = crate::ratchet::open_state(bytes, MAGIC, STATE_VERSION)?;
        let generation = r.u64()?;
        let seed = Secret::from_bytes(r.array()?);
        let dh = Secret::from_bytes(r.array()?);
        let identity = IdentityKeyPair::from_secrets(p, seed, dh)
            .map_err(|_| StateError::Invalid("identity"))?;
        let next_prekey_id = r.u32()?;
        // A published flag is 0 or 1 (spec §8.4, rule 4).
        let flag = |r: &mut Reader<'_>| -> Result<bool, StateError> {
            match r.u8()? {
                0 => Ok(false),
                1 => Ok(true),
                _ => Err(StateError::Invalid("published flag")),
            }
        };
        let long_term_published = flag(&mut r)?;
        let bad = |_| StateError::Invalid("prekey");
        // Ids come from a counter starting at 1 (spec §7.2, §8.4).
        let read_id = |r: &mut Reader<'_>| -> Result<u32, StateError> {
            let id = r.u32()?;
            if id == 0 || id >= next_prekey_id {
                return Err(StateError::Invalid("prekey id"));
            }
            Ok(id)
        };
        let read_x = |r: &mut Reader<'_>| -> Result<X25519Prekey, StateError> {
            let id = read_id(r)?;
            let private = Secret::from_bytes(r.array()?);
            new_signed_x25519(p, id, private, &identity.signing_seed).map_err(bad)
        };
        // One-time prekeys: the secrets only, nothing derived (spec §8.4).
        fn read_one_time<const N: usize>(
            r: &mut Reader<'_>,
            read_id: impl Fn(&mut Reader<'_>) -> Result<u32, StateError>,
            flag: impl Fn(&mut Reader<'_>) -> Result<bool, StateError>,
        ) -> Result<OneTimePrekey<N>, StateError> {
            let id = read_id(r)?;
            let secret = Secret::from_bytes(r.array()?);
            let published = flag(r)?;
            Ok(OneTimePrekey {
                id,
                secret,
                published,
            })
        }
        let read_kem = |r: &mut Reader<'_>, kind: PrekeyKind| -> Result<KemPrekey, StateError> {
            let id = read_id(r)?;
            let seed = Secret::from_bytes(r.array()?);
            new_kem(p, id, kind, seed, &identity.signing_seed).map_err(bad)
        };
        // Replay records: sorted, no duplicates, at most MAX_REPLAY_RECORDS (spec §8.4).
        let read_records = |r: &mut Reader<'_>| -> Result<Vec<[u8; 32]>, StateError> {
            let c = r.u16()? as usize;
            if c > MAX_REPLAY_RECORDS {
                return Err(StateError::Invalid("replay record count"));
            }
            let mut records: Vec<[u8; 32]> = Vec::with_capacity(c);
            for _ in 0..c {
                let t = r.array()?;
                if records.last().is_some_and(|last| *last >= t) {
                    return Err(StateError::Invalid("replay record order"));
                }
                records.push(t);
            }
            Ok(records)
        };
        let signed_prekey = read_x(&mut r)?;
        let signed_prekey_replays = read_records(&mut r)?;
        let (previous_signed_prekey, previous_signed_prekey_replays) = match r.u8()? {
            0 => (None, Vec::new()),
            1 => {
                let k = read_x(&mut r)?;
                (Some(k), read_records(&mut r)?)
            }
            _ => return Err(StateError::Invalid("option tag")),
        };
        let n = r.u16()? as usize;
        if n > MAX_ONE_TIME_PREKEYS {
            return Err(StateError::Invalid("one-time prekey count"));
        }
        let mut one_time_prekeys = Vec::with_capacity(n);
        for _ in 0..n {
            one_time_prekeys.push(read_one_time(&mut r, read_id, flag)?);
        }
        let kem_last_resort = read_kem(&mut r, PrekeyKind::KemLastResort)?;
        let previous_kem_last_resort = match r.u8()? {
            0 => None,
            1 => Some(read_kem(&mut r, PrekeyKind::KemLastResort)?),
            _ => return Err(StateError::Invalid("option tag")),
        };
        let m = r.u16()? as usize;
        if m > MAX_KEM_ONE_TIME_PREKEYS {
            return Err(StateError::Invalid("KEM one-time prekey count"));
        }
        let mut kem_one_time_prekeys = Vec::with_capacity(m);
        for _ in 0..m {
            kem_one_time_prekeys.push(read_one_time(&mut r, read_id, flag)?);
        }
        if r.remaining() != 0 {
            return Err(StateError::TrailingBytes);
        }
        // One-time prekeys are listed in creation order (spec §8.4).
        let increasing = |ids: &mut dyn Iterator<Item = u32>| {
            let v: Vec<u32> = ids.collect();
            v.windows(2).all(|w| w[0] < w[1])
        };
        if !increasing(&mut one_time_prekeys.iter().map(|k| k.id))
            || !increasing(&mut kem_one_time_prekeys.iter().map(|k| k.id))
        {
            return Err(StateError::Invalid("one-time prekey order"));
        }
        // A rotation gives the new prekey a fresh id, so the current one's
        // id is above the previous one's (spec §8.4).
        if previous_signed_prekey
            .as_ref()
            .is_some_and(|k| k.id > signed_prekey.id)
            || previous_kem_last_resort
                .as_ref()
                .is_some_and(|k| k.id > kem_last_resort.id)
        {
            return Err(StateError::Invalid("previous prekey id"));
        }
        // Every prekey id is distinct (ids come from one counter, spec §7.2).
        let mut ids: Vec<u32> = [Some(&signed_prekey), previous_signed_prekey.as_ref()]
            .into_iter()
            .flatten()
            .map(|k| k.id)
            .chain(one_time_prekeys.iter().map(|k| k.id))
            .chain(
                [Some(&kem_last_resort), previous_kem_last_resort.as_ref()]
                    .into_iter()
                    .flatten()
                    .map(|k| k.id),
            )
            .chain(kem_one_time_prekeys.iter().map(|k| k.id))
            .collect();
        ids.sort_unstable();
        if ids.windows(2).any(|w| w[0] == w[1]) {
            return Err(StateError::Invalid("duplicate prekey id"));
        }
        Ok(Self {
            generation,
            identity,
            next_prekey_id,
            signed_prekey,
            previous_signed_prekey,
            one_time_prekeys,
            kem_last_resort,
            previous_kem_last_resort,
            kem_one_time_prekeys,
            signed_prekey_replays,
            previous_signed_prekey_replays,
            long_term_published,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::{rand_core::SeedableRng, ChaCha20Rng};

    /// `to_bytes` allocates once, exactly: a buffer that grew would have
    /// freed earlier copies of the secrets without wiping them.
    #[test]
    fn encoding_is_written_without_reallocation() {
        let mut rng = ChaCha20Rng::from_seed([5; 32]);
        let alice = Account::new(&mut rng).unwrap();
        let mut bob = Account::new(&mut rng).unwrap();
        let check = |a: &Account| {
            let bytes = a.to_bytes();
            assert_eq!(bytes.len(), a.encoded_len());
            assert_eq!(bytes.capacity(), bytes.len());
            assert_eq!(Account::from_bytes(&bytes).unwrap().to_bytes(), bytes);
        };
        check(&bob);
        bob.generate_one_time_prekeys(&mut rng, 3).unwrap();
        bob.generate_kem_one_time_prekeys(&mut rng, 2).unwrap();
        bob.rotate_signed_prekey(&mut rng).unwrap();
        bob.rotate_kem_last_resort(&mut rng).unwrap();
        check(&bob);
        for _ in 0..3 {
            let bundle = bob.bundle(None, None).unwrap().to_bytes();
            let mut s =
                Session::start_unverified(&alice, &mut rng, &bundle, HeaderMode::Plain).unwrap();
            let m = s.encrypt(&mut rng, b"hi").unwrap();
            bob.accept_unverified(&m).unwrap();
        }
        check(&bob);
    }
}
