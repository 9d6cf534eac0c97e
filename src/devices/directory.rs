//! What a device believes about a person's devices (spec §11.4).

use alloc::vec::Vec;

use super::{DeviceList, ListError};
use crate::provider::{CryptoProvider, DefaultProvider, ED25519_KEY_LEN};

/// A person as a device knows them: the pinned user key and the accepted
/// device list, which only moves forward (spec §11.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownUser {
    list: DeviceList,
    hash: [u8; 32],
}

/// What [`KnownUser::update`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ListChange {
    /// The same list again (same epoch, same hash): nothing changed.
    Unchanged,
    /// A newer list was accepted.
    Accepted {
        /// Ids of devices new in this list, or whose identity key changed.
        added: Vec<u32>,
        /// Ids of devices no longer listed, or whose identity key changed.
        removed: Vec<u32>,
    },
}

impl KnownUser {
    /// A person first seen with this list, which `user_key` must have
    /// signed (the key pinned from a contact card or a safety-number
    /// comparison). Any epoch is accepted.
    ///
    /// # Errors
    /// The checks of spec §11.3.
    pub fn new(user_key: &[u8; ED25519_KEY_LEN], list: &[u8]) -> Result<Self, ListError> {
        Ok(Self::from_list(DeviceList::verify(list, user_key)?))
    }

    /// A person from a list already verified (for example one a new device
    /// received while linking, spec §11.5).
    pub fn from_list(list: DeviceList) -> Self {
        let hash = list.hash();
        Self { list, hash }
    }

    /// The pinned user key.
    pub fn user_key(&self) -> &[u8; ED25519_KEY_LEN] {
        self.list.user_key()
    }

    /// The accepted list.
    pub fn list(&self) -> &DeviceList {
        &self.list
    }

    /// `ListHash` of the accepted list.
    pub fn list_hash(&self) -> &[u8; 32] {
        &self.hash
    }

    /// Offers a list (spec §11.4): verified against the pinned user key,
    /// then accepted only if it is newer. Nothing changes on error.
    ///
    /// # Errors
    /// The checks of spec §11.3, then [`ListError::Rollback`] for an older
    /// epoch and [`ListError::Equivocation`] for another list with the same
    /// epoch.
    pub fn update(&mut self, list: &[u8]) -> Result<ListChange, ListError> {
        self.update_with(&DefaultProvider::default(), list)
    }

    /// [`update`](Self::update) with an explicit provider for the signature.
    ///
    /// # Errors
    /// As [`update`](Self::update).
    pub fn update_with<P: CryptoProvider + ?Sized>(
        &mut self,
        p: &P,
        list: &[u8],
    ) -> Result<ListChange, ListError> {
        let new = DeviceList::verify_with(p, list, Some(self.list.user_key()))?;
        let hash = new.hash();
        match new.epoch().cmp(&self.list.epoch()) {
            core::cmp::Ordering::Less => Err(ListError::Rollback),
            core::cmp::Ordering::Equal if hash != self.hash => Err(ListError::Equivocation),
            core::cmp::Ordering::Equal => Ok(ListChange::Unchanged),
            core::cmp::Ordering::Greater => {
                let old = &self.list;
                let added = new
                    .entries()
                    .iter()
                    .filter(|e| old.device(e.device_id).map(|o| o.identity) != Some(e.identity))
                    .map(|e| e.device_id)
                    .collect();
                let removed = old
                    .entries()
                    .iter()
                    .filter(|o| new.device(o.device_id).map(|e| e.identity) != Some(o.identity))
                    .map(|o| o.device_id)
                    .collect();
                self.list = new;
                self.hash = hash;
                Ok(ListChange::Accepted { added, removed })
            }
        }
    }

    /// Checks a list a message names by epoch and hash against the accepted
    /// one (spec §11.6, step 3).
    pub(crate) fn check_named(&self, epoch: u64, hash: &[u8; 32]) -> Result<(), ListError> {
        match epoch.cmp(&self.list.epoch()) {
            core::cmp::Ordering::Greater => Err(ListError::StaleDeviceList),
            core::cmp::Ordering::Equal if hash != &self.hash => Err(ListError::Equivocation),
            _ => Ok(()),
        }
    }
}
