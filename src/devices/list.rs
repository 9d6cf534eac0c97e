//! The user key and the signed device list (spec §11.2, §11.3).

use alloc::vec::Vec;

use rand_core::TryCryptoRng;

use super::{ListError, ParseError, MAX_DEVICES};
use crate::codec::{Reader, Truncated, Writer};
use crate::kdf::{labeled_hash, labeled_sign, labeled_verify};
use crate::labels;
use crate::provider::{CryptoProvider, DefaultProvider, ED25519_KEY_LEN, ED25519_SIG_LEN};
use crate::secret::Secret;
use crate::session::IdentityKey;
use crate::CryptoError;

const MAGIC: &[u8; 14] = b"SOVA-1 devices";
const VERSION: u8 = 1;
/// Flag bit 0 of a device entry: the device holds the user key.
const FLAG_ADMIN: u8 = 0x01;
const ENTRY_LEN: usize = 4 + 64 + 1;

/// A person's user key (spec §11.2): an Ed25519 key pair whose public half
/// names the person and signs the device list. Held by admin devices only.
#[derive(Clone)]
pub struct UserKey {
    seed: Secret<ED25519_KEY_LEN>,
    public: [u8; ED25519_KEY_LEN],
}

impl core::fmt::Debug for UserKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("UserKey")
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

impl UserKey {
    /// A new user key: `Random(32)`, the Ed25519 seed (spec §11.2).
    ///
    /// # Errors
    /// [`CryptoError::RandomnessUnavailable`] when the generator fails.
    pub fn generate<R: TryCryptoRng + ?Sized>(rng: &mut R) -> Result<Self, CryptoError> {
        let mut seed = Secret::zero();
        crate::random::fill(rng, seed.expose_mut())?;
        Ok(Self::from_seed(seed))
    }

    /// The user key of a seed (for example one restored from a recovery code).
    pub fn from_seed(seed: Secret<ED25519_KEY_LEN>) -> Self {
        let public = DefaultProvider::default().ed25519_public_key(&seed);
        Self { seed, public }
    }

    /// The seed: the recovery code's content. Secret.
    pub fn seed(&self) -> &Secret<ED25519_KEY_LEN> {
        &self.seed
    }

    /// `UK_pub`.
    pub fn public(&self) -> &[u8; ED25519_KEY_LEN] {
        &self.public
    }

    /// The 64-byte identity safety numbers take for the person (spec §11.2).
    pub fn user_identity(&self) -> IdentityKey {
        user_identity(&self.public)
    }

    /// Signs a device list of `entries` at `epoch` (spec §11.3).
    ///
    /// # Errors
    /// [`ListError::Malformed`] with [`ParseError::DeviceCount`] for no entry
    /// or more than [`MAX_DEVICES`]; [`ListError::Inconsistent`] when the
    /// ids are not strictly increasing or an identity is listed twice.
    pub fn sign_list(&self, epoch: u64, entries: &[DeviceEntry]) -> Result<DeviceList, ListError> {
        let count = u8::try_from(entries.len())
            .ok()
            .filter(|&c| c >= 1 && usize::from(c) <= MAX_DEVICES)
            .ok_or(ListError::Malformed(ParseError::DeviceCount(
                entries.len().min(255) as u8,
            )))?;
        check_consistent(entries)?;
        let p = DefaultProvider::default();
        let mut bytes = Vec::with_capacity(list_len(entries.len()));
        bytes.put(MAGIC);
        bytes.put_u8(VERSION);
        bytes.put(&self.public);
        bytes.put_u64(epoch);
        bytes.put_u8(count);
        for e in entries {
            bytes.put_u32(e.device_id);
            bytes.put(&e.identity);
            bytes.put_u8(if e.admin { FLAG_ADMIN } else { 0 });
        }
        let sig = labeled_sign(&p, &self.seed, labels::DEVICE_LIST, &[&bytes])?;
        bytes.put(&sig);
        Ok(DeviceList {
            user: self.public,
            epoch,
            entries: entries.to_vec(),
            bytes,
        })
    }
}

/// `UK_pub || 0^32` (spec §11.2).
pub fn user_identity(user_key: &[u8; ED25519_KEY_LEN]) -> IdentityKey {
    let mut out = [0u8; 64];
    out[..32].copy_from_slice(user_key);
    out
}

/// One device of a list: its id, its identity key (spec §7.1) and whether it
/// holds the user key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceEntry {
    /// The device id, unique within the person's list.
    pub device_id: u32,
    /// The device's `IdentityKey` (`IK_sig || IK_dh`).
    pub identity: IdentityKey,
    /// The device holds the user key (flag bit 0).
    pub admin: bool,
}

/// A device list whose encoding and signature have been checked (spec §11.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceList {
    user: [u8; ED25519_KEY_LEN],
    epoch: u64,
    entries: Vec<DeviceEntry>,
    bytes: Vec<u8>,
}

fn list_len(count: usize) -> usize {
    MAGIC.len() + 1 + 32 + 8 + 1 + count * ENTRY_LEN + ED25519_SIG_LEN
}

fn check_consistent(entries: &[DeviceEntry]) -> Result<(), ListError> {
    for (i, e) in entries.iter().enumerate() {
        if i > 0 && entries[i - 1].device_id >= e.device_id {
            return Err(ListError::Inconsistent);
        }
        if entries[..i].iter().any(|o| o.identity == e.identity) {
            return Err(ListError::Inconsistent);
        }
    }
    Ok(())
}

fn field(name: &'static str) -> impl Fn(Truncated) -> ParseError {
    move |_| ParseError::Truncated(name)
}

impl DeviceList {
    /// Parses and verifies a list that `expected_user` must have signed
    /// (spec §11.3, checks 1–4 in order).
    ///
    /// # Errors
    /// See [`ListError`].
    pub fn verify(bytes: &[u8], expected_user: &[u8; ED25519_KEY_LEN]) -> Result<Self, ListError> {
        Self::verify_with(&DefaultProvider::default(), bytes, Some(expected_user))
    }

    /// [`verify`](Self::verify) with an explicit provider; without an
    /// expected user, the list's own user key is taken (a new device
    /// learning its person's key while linking, spec §11.5).
    ///
    /// # Errors
    /// See [`ListError`].
    pub fn verify_with<P: CryptoProvider + ?Sized>(
        p: &P,
        bytes: &[u8],
        expected_user: Option<&[u8; ED25519_KEY_LEN]>,
    ) -> Result<Self, ListError> {
        let (user, epoch, entries, signed_len) = parse(bytes).map_err(ListError::Malformed)?;
        if expected_user.is_some_and(|u| *u != user) {
            return Err(ListError::WrongUser);
        }
        let signed = &bytes[..signed_len];
        let sig: [u8; ED25519_SIG_LEN] = bytes[signed_len..]
            .try_into()
            .map_err(|_| ListError::Malformed(ParseError::Truncated("signature")))?;
        labeled_verify(p, &user, labels::DEVICE_LIST, &[signed], &sig)
            .map_err(|_| ListError::InvalidSignature)?;
        check_consistent(&entries)?;
        Ok(Self {
            user,
            epoch,
            entries,
            bytes: bytes.to_vec(),
        })
    }

    /// `UK_pub` of the person.
    pub fn user_key(&self) -> &[u8; ED25519_KEY_LEN] {
        &self.user
    }

    /// The epoch.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The devices, in increasing id order.
    pub fn entries(&self) -> &[DeviceEntry] {
        &self.entries
    }

    /// The device with id `device_id`, if listed.
    pub fn device(&self, device_id: u32) -> Option<&DeviceEntry> {
        self.entries
            .binary_search_by_key(&device_id, |e| e.device_id)
            .ok()
            .and_then(|i| self.entries.get(i))
    }

    /// The device whose identity key is `identity`, if listed.
    pub fn device_by_identity(&self, identity: &IdentityKey) -> Option<&DeviceEntry> {
        self.entries.iter().find(|e| e.identity == *identity)
    }

    /// The signed encoding.
    pub fn to_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// `ListHash = LabeledHash("device list hash", DeviceList)` (spec §11.3).
    pub fn hash(&self) -> [u8; 32] {
        labeled_hash(
            &DefaultProvider::default(),
            labels::DEVICE_LIST_HASH,
            &[&self.bytes],
        )
        .unwrap_or([0; 32])
    }
}

type Parsed = ([u8; 32], u64, Vec<DeviceEntry>, usize);

/// The encoding checks of spec §11.3 (check 1): the fields and where the
/// signature starts.
fn parse(bytes: &[u8]) -> Result<Parsed, ParseError> {
    let mut r = Reader::new(bytes);
    if r.bytes(MAGIC.len()).map_err(|_| ParseError::BadMagic)? != MAGIC {
        return Err(ParseError::BadMagic);
    }
    let v = r.u8().map_err(field("version"))?;
    if v != VERSION {
        return Err(ParseError::UnsupportedVersion(v));
    }
    let user: [u8; 32] = r.array().map_err(field("user key"))?;
    let epoch = r.u64().map_err(field("epoch"))?;
    let count = r.u8().map_err(field("count"))?;
    if count == 0 || usize::from(count) > MAX_DEVICES {
        return Err(ParseError::DeviceCount(count));
    }
    let mut entries = Vec::with_capacity(usize::from(count));
    for _ in 0..count {
        let device_id = r.u32().map_err(field("device id"))?;
        let identity: IdentityKey = r.array().map_err(field("identity key"))?;
        let flags = r.u8().map_err(field("flags"))?;
        if flags & !FLAG_ADMIN != 0 {
            return Err(ParseError::InvalidFlags(flags));
        }
        entries.push(DeviceEntry {
            device_id,
            identity,
            admin: flags & FLAG_ADMIN != 0,
        });
    }
    let signed_len = r.position();
    r.bytes(ED25519_SIG_LEN).map_err(field("signature"))?;
    if r.remaining() != 0 {
        return Err(ParseError::TrailingBytes);
    }
    Ok((user, epoch, entries, signed_len))
}
