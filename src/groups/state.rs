//! Persisted group state (spec §12.8): plain, and sealed as kind 6 (spec
//! §8.3).

use alloc::vec::Vec;

use rand_core::TryCryptoRng;

use super::chain::{ReceivingChain, SendingChain, SkippedKey};
use super::group::Previous;
use super::operation::OpKind;
use super::operation::Operation;
use super::roster::Roster;
use super::{Group, CHAIN_MESSAGES, MAX_GROUP_CHAINS, MAX_GROUP_STORED_KEYS};
use crate::codec::{Reader, Writer};
use crate::ratchet::{append_state_check, StateError, STATE_CHECK_LEN};
use crate::secret::Secret;
use crate::session::{open_state, seal_state, PersistError};
use crate::storage::{SealedKind, StorageError};
use crate::wipe::SecretDeque;

const MAGIC: &[u8; 12] = b"SOVA-1 group";
const STATE_VERSION: u8 = 1;
const CHAIN_LEN: usize = 32 + 4 + 4 + 4 + 32 + 32;
const SKIPPED_LEN: usize = 32 + 4 + 4 + 4 + 32;

fn secret(r: &mut Reader<'_>) -> Result<Secret<32>, StateError> {
    let mut s = Secret::zero();
    s.expose_mut().copy_from_slice(r.bytes(32)?);
    Ok(s)
}

fn roster(r: &mut Reader<'_>) -> Result<Roster, StateError> {
    Roster::read(r).map_err(|e| match e {
        super::ParseError::Truncated(_) => StateError::Truncated,
        _ => StateError::Invalid("roster"),
    })
}

fn operation(r: &mut Reader<'_>) -> Result<Vec<u8>, StateError> {
    let len = r.u32()? as usize;
    let op = r.bytes(len)?;
    Operation::parse(op).map_err(|_| StateError::Invalid("operation"))?;
    Ok(op.to_vec())
}

/// spec §12.8: the parts of a state agree with each other.
#[allow(clippy::too_many_arguments)]
fn consistent(
    group_id: &[u8; 32],
    epoch: u64,
    state_hash: &[u8; 32],
    roster: &Roster,
    last_op: &[u8],
    prev: Option<&Previous>,
    next_generation: u32,
    own_chain: Option<&SendingChain>,
    chains: &[ReceivingChain],
) -> Result<(), StateError> {
    let p = crate::provider::DefaultProvider::default();
    let hash = |op: &Operation, r: &Roster| {
        op.state_hash(&p, r)
            .map_err(|_| StateError::Invalid("state hash"))
    };
    let op = Operation::parse(last_op).map_err(|_| StateError::Invalid("operation"))?;
    if op.group_id != *group_id || op.epoch != epoch {
        return Err(StateError::Invalid("operation"));
    }
    if hash(&op, roster)? != *state_hash {
        return Err(StateError::Invalid("state hash"));
    }
    match prev {
        Some(pr) => {
            let before = Operation::parse(&pr.op).map_err(|_| StateError::Invalid("operation"))?;
            if before.group_id != *group_id
                || before.epoch.checked_add(1) != Some(epoch)
                || op.prev != pr.hash
                || hash(&before, &pr.roster)? != pr.hash
            {
                return Err(StateError::Invalid("previous"));
            }
        }
        None => {
            if epoch != 0 || !matches!(op.kind, OpKind::Create(_)) {
                return Err(StateError::Invalid("previous"));
            }
        }
    }
    if own_chain.is_some_and(|c| c.generation >= next_generation || c.index > CHAIN_MESSAGES) {
        return Err(StateError::Invalid("own chain"));
    }
    let mut seen: Vec<([u8; 32], u32)> = chains.iter().map(|c| (c.user, c.device)).collect();
    seen.sort_unstable();
    if seen.windows(2).any(|w| w[0] == w[1]) {
        return Err(StateError::Invalid("chains"));
    }
    Ok(())
}

fn flag(r: &mut Reader<'_>) -> Result<bool, StateError> {
    match r.u8()? {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(StateError::Invalid("flag")),
    }
}

impl Group {
    /// Serializes the group (secret!) in the format of spec §12.8.
    pub fn to_bytes(&self) -> Vec<u8> {
        let prev_len = self
            .prev
            .as_ref()
            .map_or(0, |pr| 32 + pr.roster.encoded_len() + 4 + pr.op.len());
        // Exactly the encoded length: no buffer holding keys is reallocated
        // (and freed unwiped) while it is written.
        let len = MAGIC.len()
            + 1
            + 32
            + 32
            + 4
            + 8
            + 32
            + self.roster.encoded_len()
            + 4
            + self.last_op.len()
            + 1
            + prev_len
            + 4
            + 1
            + self.own_chain.as_ref().map_or(0, |_| 4 + 4 + 32 + 32)
            + 2
            + self.chains.len() * CHAIN_LEN
            + 2
            + self.skipped.len() * SKIPPED_LEN
            + STATE_CHECK_LEN;
        let mut out = Vec::with_capacity(len);
        out.put(MAGIC);
        out.put_u8(STATE_VERSION);
        out.put(&self.group_id);
        out.put(&self.own_user);
        out.put_u32(self.own_device);
        out.put_u64(self.epoch);
        out.put(&self.state_hash);
        self.roster.encode_into(&mut out);
        // An operation is at most 33,191 bytes (a create of 1,000 members).
        out.put_u32(self.last_op.len() as u32);
        out.put(&self.last_op);
        match &self.prev {
            Some(pr) => {
                out.put_u8(1);
                out.put(&pr.hash);
                pr.roster.encode_into(&mut out);
                out.put_u32(pr.op.len() as u32);
                out.put(&pr.op);
            }
            None => out.put_u8(0),
        }
        out.put_u32(self.next_generation);
        match &self.own_chain {
            Some(c) => {
                out.put_u8(1);
                out.put_u32(c.generation);
                out.put_u32(c.index);
                out.put(c.chain_key.expose());
                out.put(c.signing_seed.expose());
            }
            None => out.put_u8(0),
        }
        // At most MAX_GROUP_CHAINS and MAX_GROUP_STORED_KEYS: below 2^16.
        out.put_u16(self.chains.len() as u16);
        for c in &self.chains {
            out.put(&c.user);
            out.put_u32(c.device);
            out.put_u32(c.generation);
            out.put_u32(c.next_index);
            out.put(c.chain_key.expose());
            out.put(&c.signing_public);
        }
        out.put_u16(self.skipped.len() as u16);
        for k in &self.skipped {
            out.put(&k.user);
            out.put_u32(k.device);
            out.put_u32(k.generation);
            out.put_u32(k.index);
            out.put(k.key.expose());
        }
        append_state_check(&mut out, 0);
        out
    }

    /// Restores a group written by [`to_bytes`](Self::to_bytes).
    ///
    /// # Errors
    /// [`StateError`] naming the rule of spec §12.8 broken; never panics.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, StateError> {
        let mut r = crate::ratchet::open_state(bytes, MAGIC, STATE_VERSION)?;
        let group_id = r.array()?;
        let own_user = r.array()?;
        let own_device = r.u32()?;
        let epoch = r.u64()?;
        let state_hash = r.array()?;
        let current = roster(&mut r)?;
        let last_op = operation(&mut r)?;
        let prev = if flag(&mut r)? {
            let hash = r.array()?;
            let roster = roster(&mut r)?;
            let op = operation(&mut r)?;
            Some(Previous { hash, roster, op })
        } else {
            None
        };
        let next_generation = r.u32()?;
        let own_chain = if flag(&mut r)? {
            Some(SendingChain {
                generation: r.u32()?,
                index: r.u32()?,
                chain_key: secret(&mut r)?,
                signing_seed: secret(&mut r)?,
            })
        } else {
            None
        };
        let n = usize::from(r.u16()?);
        if n > MAX_GROUP_CHAINS {
            return Err(StateError::Invalid("limits"));
        }
        let mut chains = Vec::with_capacity(n);
        for _ in 0..n {
            chains.push(ReceivingChain {
                user: r.array()?,
                device: r.u32()?,
                generation: r.u32()?,
                next_index: r.u32()?,
                chain_key: secret(&mut r)?,
                signing_public: r.array()?,
            });
        }
        let m = usize::from(r.u16()?);
        if m > MAX_GROUP_STORED_KEYS {
            return Err(StateError::Invalid("limits"));
        }
        let mut skipped = Vec::with_capacity(m);
        for _ in 0..m {
            skipped.push(SkippedKey {
                user: r.array()?,
                device: r.u32()?,
                generation: r.u32()?,
                index: r.u32()?,
                key: secret(&mut r)?,
            });
        }
        if r.remaining() != 0 {
            return Err(StateError::TrailingBytes);
        }
        consistent(
            &group_id,
            epoch,
            &state_hash,
            &current,
            &last_op,
            prev.as_ref(),
            next_generation,
            own_chain.as_ref(),
            &chains,
        )?;
        Ok(Self {
            group_id,
            own_user,
            own_device,
            epoch,
            state_hash,
            roster: current,
            last_op,
            prev,
            next_generation,
            own_chain,
            chains,
            skipped: SecretDeque::from(skipped),
        })
    }

    /// [`to_bytes`](Self::to_bytes) sealed under a caller-given storage key
    /// (spec §8.3, kind 6).
    ///
    /// # Errors
    /// [`StorageError::Randomness`] if the generator fails.
    pub fn to_sealed_bytes<R: TryCryptoRng + ?Sized>(
        &self,
        rng: &mut R,
        key: &Secret<32>,
    ) -> Result<Vec<u8>, StorageError> {
        seal_state(rng, key, SealedKind::Group, self.to_bytes())
    }

    /// Opens and restores a group sealed by
    /// [`to_sealed_bytes`](Self::to_sealed_bytes).
    ///
    /// # Errors
    /// [`PersistError`] for a wrong key, a corrupted blob or an invalid state.
    pub fn from_sealed_bytes(sealed: &[u8], key: &Secret<32>) -> Result<Self, PersistError> {
        open_state(key, SealedKind::Group, sealed, Self::from_bytes)
    }
}
