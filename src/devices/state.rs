//! Persisted device state (spec §11.9): a [`KnownUser`] (sealed kind 4) and
//! an admin device's [`UserKey`] (sealed kind 5), in the framing of spec
//! §8.1 and §8.3.

use alloc::vec::Vec;

use rand_core::TryCryptoRng;

use super::{DeviceList, KnownUser, ListError, UserKey};
use crate::codec::Writer;
use crate::provider::{DefaultProvider, ED25519_KEY_LEN};
use crate::ratchet::{append_state_check, StateError, STATE_CHECK_LEN};
use crate::secret::Secret;
use crate::session::{open_state, seal_state, PersistError};
use crate::storage::{SealedKind, StorageError};

const KNOWN_USER_MAGIC: &[u8; 17] = b"SOVA-1 known user";
const USER_KEY_MAGIC: &[u8; 15] = b"SOVA-1 user key";
const STATE_VERSION: u8 = 1;

impl KnownUser {
    /// Serializes the person as this device knows them (spec §11.9): the
    /// accepted list, whose `UK_pub` is the pinned user key. Not secret, but
    /// its integrity matters: a changed list would be refused on loading, an
    /// older one would roll the directory back (seal it, spec §8.3).
    pub fn to_bytes(&self) -> Vec<u8> {
        let list = self.list().to_bytes();
        let mut out =
            Vec::with_capacity(KNOWN_USER_MAGIC.len() + 1 + 4 + list.len() + STATE_CHECK_LEN);
        out.put(KNOWN_USER_MAGIC);
        out.put_u8(STATE_VERSION);
        // At most 14 + 1 + 32 + 8 + 1 + 64 × 69 + 64 bytes.
        out.put_u32(list.len() as u32);
        out.put(list);
        append_state_check(&mut out, 0);
        out
    }

    /// Restores a person written by [`to_bytes`](Self::to_bytes): the list
    /// is checked again as in spec §11.3, with its own `UK_pub` as the
    /// expected user.
    ///
    /// # Errors
    /// [`StateError`] naming the rule of spec §11.9 broken; never panics.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, StateError> {
        let mut r = crate::ratchet::open_state(bytes, KNOWN_USER_MAGIC, STATE_VERSION)?;
        let len = r.u32()? as usize;
        let list = r.bytes(len)?;
        let list = DeviceList::verify_with(&DefaultProvider::default(), list, None).map_err(
            |e| match e {
                ListError::InvalidSignature => StateError::Invalid("device list signature"),
                ListError::Inconsistent => StateError::Invalid("device list entries"),
                _ => StateError::Invalid("device list"),
            },
        )?;
        if r.remaining() != 0 {
            return Err(StateError::TrailingBytes);
        }
        Ok(Self::from_list(list))
    }

    /// [`to_bytes`](Self::to_bytes) sealed under a caller-given storage key
    /// (spec §8.3, kind 4).
    ///
    /// # Errors
    /// [`StorageError::Randomness`] if the generator fails.
    pub fn to_sealed_bytes<R: TryCryptoRng + ?Sized>(
        &self,
        rng: &mut R,
        key: &Secret<32>,
    ) -> Result<Vec<u8>, StorageError> {
        seal_state(rng, key, SealedKind::KnownUser, self.to_bytes())
    }

    /// Opens and restores a person sealed by
    /// [`to_sealed_bytes`](Self::to_sealed_bytes).
    ///
    /// # Errors
    /// [`PersistError`] for a wrong key, a corrupted blob or an invalid state.
    pub fn from_sealed_bytes(sealed: &[u8], key: &Secret<32>) -> Result<Self, PersistError> {
        open_state(key, SealedKind::KnownUser, sealed, Self::from_bytes)
    }
}

impl UserKey {
    /// Serializes the user key (secret!) in the format of spec §11.9: the
    /// seed only; the public key is derived again on loading.
    pub fn to_bytes(&self) -> Vec<u8> {
        // Exactly the encoded length: a vector that grew would free a buffer
        // holding the seed without wiping it.
        let mut out =
            Vec::with_capacity(USER_KEY_MAGIC.len() + 1 + ED25519_KEY_LEN + STATE_CHECK_LEN);
        out.put(USER_KEY_MAGIC);
        out.put_u8(STATE_VERSION);
        out.put(self.seed().expose());
        append_state_check(&mut out, 0);
        out
    }

    /// Restores a user key written by [`to_bytes`](Self::to_bytes).
    ///
    /// # Errors
    /// [`StateError`] (spec §11.9); never panics.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, StateError> {
        let mut r = crate::ratchet::open_state(bytes, USER_KEY_MAGIC, STATE_VERSION)?;
        let mut seed = Secret::<ED25519_KEY_LEN>::zero();
        seed.expose_mut().copy_from_slice(r.bytes(ED25519_KEY_LEN)?);
        if r.remaining() != 0 {
            return Err(StateError::TrailingBytes);
        }
        Ok(Self::from_seed(seed))
    }

    /// [`to_bytes`](Self::to_bytes) sealed under a caller-given storage key
    /// (spec §8.3, kind 5).
    ///
    /// # Errors
    /// [`StorageError::Randomness`] if the generator fails.
    pub fn to_sealed_bytes<R: TryCryptoRng + ?Sized>(
        &self,
        rng: &mut R,
        key: &Secret<32>,
    ) -> Result<Vec<u8>, StorageError> {
        seal_state(rng, key, SealedKind::UserKey, self.to_bytes())
    }

    /// Opens and restores a user key sealed by
    /// [`to_sealed_bytes`](Self::to_sealed_bytes).
    ///
    /// # Errors
    /// [`PersistError`] for a wrong key, a corrupted blob or an invalid state.
    pub fn from_sealed_bytes(sealed: &[u8], key: &Secret<32>) -> Result<Self, PersistError> {
        open_state(key, SealedKind::UserKey, sealed, Self::from_bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::{rand_core::SeedableRng, ChaCha20Rng};

    /// The seed's encoding is allocated once, exactly: no buffer holding the
    /// seed is freed without being wiped.
    #[test]
    fn user_key_encoding_is_written_without_reallocation() {
        let mut rng = ChaCha20Rng::from_seed([7; 32]);
        let uk = UserKey::generate(&mut rng).unwrap();
        let bytes = uk.to_bytes();
        assert_eq!(bytes.capacity(), bytes.len());
        assert_eq!(UserKey::from_bytes(&bytes).unwrap().public(), uk.public());
    }
}
