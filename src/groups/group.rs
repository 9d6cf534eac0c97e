//! One device's view of a group (spec §12.3–§12.6).

use alloc::vec::Vec;

use rand_core::TryCryptoRng;
use zeroize::Zeroize;

use super::chain::{message_keys, step, ChainOffer, ReceivingChain, SendingChain, SkippedKey};
use super::message::{GroupMessage, HEADER_LEN, TYPE_GROUP_MESSAGE, VERSION};
use super::operation::{check_and_apply, OpKind, Operation, Welcome};
use super::roster::Roster;
use super::{
    Directory, GroupError, Member, CHAIN_MESSAGES, MAX_GROUP_CHAINS, MAX_GROUP_STORED_KEYS,
};
use crate::codec::Writer;
use crate::devices::FanoutReceived;
use crate::kdf::{encode_label, labeled_sign, labeled_verify};
use crate::labels;
use crate::provider::{CryptoProvider, DefaultProvider, Ed25519BatchItem, AEAD_TAG_LEN};
use crate::ratchet::{padding, MAX_PLAINTEXT_LEN};
use crate::secret::Secret;
use crate::session::Account;
use crate::wipe::{self, SecretDeque};

/// The fewest signatures [`Group::decrypt_batch`] verifies as one batch
/// (spec §12.6.1); fewer are verified one by one. A batch's subgroup checks
/// of its `R` (128 multiplications by `L` from 128 signatures on) outweigh
/// its gain below about 100 signatures: measured on a loaded 2-core machine
/// (`benches/RESULTS.md`, `batch_verify`), a batch of 64 was 1.44× slower
/// than one by one and one of 128 1.18× faster; 128 keeps a margin.
///
/// Fuzzing builds (`cfg(fuzzing)`) use 8, so that short queues, which a
/// fuzzer can try thousands of times a second, take the batch path too.
/// The value decides only how signatures are verified, never a result: the
/// results and the state are those of one-by-one reading either way, which
/// is what the `group_batch` fuzz target checks.
#[cfg(not(fuzzing))]
pub const BATCH_MIN: usize = 128;
/// The fewest signatures [`Group::decrypt_batch`] verifies as one batch:
/// 8 in fuzzing builds (128 otherwise).
#[cfg(fuzzing)]
pub const BATCH_MIN: usize = 8;

/// What applying an operation did (spec §12.3, §12.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The group moved to the operation's epoch: every chain is gone; start
    /// a fresh one ([`Group::start_chain`]) before sending.
    Advanced,
    /// The operation is the one already applied at this epoch.
    Unchanged,
}

/// A group message this device read.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct GroupReceived {
    /// The plaintext.
    pub plaintext: Vec<u8>,
    /// The sender's user key.
    pub sender_user: [u8; 32],
    /// The sending device's id.
    pub sender_device: u32,
    /// The message's index in its chain.
    pub index: u32,
}

/// One device's state of one group (spec §12): the roster at the current
/// epoch, its sending chain and the chains it received. Persist it sealed
/// ([`to_sealed_bytes`](Self::to_sealed_bytes), spec §12.8) after every
/// call that succeeds.
#[derive(Clone)]
pub struct Group {
    pub(crate) group_id: [u8; 32],
    pub(crate) own_user: [u8; 32],
    pub(crate) own_device: u32,
    pub(crate) epoch: u64,
    pub(crate) state_hash: [u8; 32],
    pub(crate) roster: Roster,
    /// The operation that made the current epoch.
    pub(crate) last_op: Vec<u8>,
    /// The state hash, roster and operation of the epoch before (none at
    /// epoch 0).
    pub(crate) prev: Option<Previous>,
    pub(crate) next_generation: u32,
    pub(crate) own_chain: Option<SendingChain>,
    pub(crate) chains: Vec<ReceivingChain>,
    /// Oldest first, in a collection that leaves no key in freed memory
    /// (spec §9.6).
    pub(crate) skipped: SecretDeque<SkippedKey>,
}

impl PartialEq for Group {
    fn eq(&self, o: &Self) -> bool {
        self.group_id == o.group_id
            && self.own_user == o.own_user
            && self.own_device == o.own_device
            && self.epoch == o.epoch
            && self.state_hash == o.state_hash
            && self.roster == o.roster
            && self.last_op == o.last_op
            && self.prev == o.prev
            && self.next_generation == o.next_generation
            && self.own_chain == o.own_chain
            && self.chains == o.chains
            && self.skipped.iter().eq(o.skipped.iter())
    }
}

impl Eq for Group {}

/// The epoch before the current one: for competing operations at the head
/// (spec §12.4) and welcomes (spec §12.3).
#[derive(Clone, PartialEq, Eq, Debug)]
pub(crate) struct Previous {
    pub(crate) hash: [u8; 32],
    pub(crate) roster: Roster,
    pub(crate) op: Vec<u8>,
}

impl PartialEq for SendingChain {
    fn eq(&self, o: &Self) -> bool {
        self.generation == o.generation
            && self.index == o.index
            && self.chain_key == o.chain_key
            && self.signing_seed == o.signing_seed
    }
}
impl Eq for SendingChain {}

impl core::fmt::Debug for Group {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Group")
            .field("group_id", &self.group_id)
            .field("epoch", &self.epoch)
            .field("members", &self.roster.0.len())
            .field("chains", &self.chains.len())
            .finish_non_exhaustive()
    }
}

impl Group {
    /// Creates a group with the first roster `members` (in any order; it
    /// must list `own_user` as an admin and no user twice) and signs its creation with `account`, the
    /// device `own_device` of `own_user` (spec §12.3). Returns the group and
    /// the create operation; send each other member a
    /// [`welcome`](Self::welcome) for it by fan-out.
    ///
    /// # Errors
    /// [`GroupError`]: `Malformed` for a roster that breaks spec §12.2, the
    /// checks of §12.3 (`NotMember`, `NotAuthorised`, `UnknownDevice` when
    /// `directory` does not list `own_device` with `account`'s identity).
    pub fn create<R: TryCryptoRng + ?Sized, D: Directory + ?Sized>(
        rng: &mut R,
        account: &Account,
        own_user: [u8; 32],
        own_device: u32,
        members: &[Member],
        directory: &D,
    ) -> Result<(Self, Vec<u8>), GroupError> {
        let p = DefaultProvider::default();
        let mut sorted = members.to_vec();
        sorted.sort_by_key(|a| a.user);
        let mut group_id = [0u8; 32];
        crate::random::fill(rng, &mut group_id)?;
        let op = Operation::sign(
            &p,
            &account.identity.signing_seed,
            group_id,
            0,
            [0; 32],
            own_user,
            own_device,
            OpKind::Create(sorted),
        )?;
        let roster = check_and_apply(&p, None, &op, directory)?;
        let state_hash = op.state_hash(&p, &roster)?;
        let group = Self {
            group_id,
            own_user,
            own_device,
            epoch: 0,
            state_hash,
            roster,
            last_op: op.to_bytes().to_vec(),
            prev: None,
            next_generation: 0,
            own_chain: None,
            chains: Vec::new(),
            skipped: SecretDeque::default(),
        };
        Ok((group, op.to_bytes().to_vec()))
    }

    /// A welcome (spec §12.3) for the operation that made the current
    /// epoch: for the members it created or added, sent by fan-out.
    ///
    /// # Errors
    /// `Malformed`, `WrongGroup`, or `StaleEpoch` when `operation` is not
    /// the one that made the current epoch.
    pub fn welcome(&self, operation: &[u8]) -> Result<Vec<u8>, GroupError> {
        let p = DefaultProvider::default();
        let op = Operation::parse(operation)?;
        if op.group_id != self.group_id {
            return Err(GroupError::WrongGroup);
        }
        if operation != self.last_op.as_slice() {
            return Err(GroupError::StaleEpoch);
        }
        let prev_op = self.prev.as_ref().map_or(&[][..], |p| &p.op[..]);
        let _ = &p;
        Ok(Welcome::encode(&op, &self.roster, prev_op))
    }

    /// Joins a group from a welcome: the fan-out message that carried it,
    /// as [`fanout::receive`](crate::devices::fanout::receive) returned it
    /// (spec §12.3). The welcome must come from the operation's signer
    /// device over the pairwise session with it: the sender is the one the
    /// fan-out layer authenticated, never one the caller names.
    ///
    /// # Errors
    /// `Malformed`, `WrongSession`, `NotInRoster`, `WelcomeMismatch` and
    /// the checks 4–8 of spec §12.3.
    pub fn join<D: Directory + ?Sized>(
        own_user: [u8; 32],
        own_device: u32,
        welcome: &FanoutReceived,
        directory: &D,
    ) -> Result<Self, GroupError> {
        let p = DefaultProvider::default();
        let (from_user, from_device) = welcome.authenticated_sender();
        let w = Welcome::parse(&welcome.plaintext)?;
        let op = &w.operation;
        if op.signer_user != *from_user || op.signer_device != from_device {
            return Err(GroupError::WrongSession);
        }
        let before = match &op.kind {
            OpKind::Create(m) if m.iter().any(|m| m.user == own_user) => None,
            OpKind::Add(m) if m.user == own_user => {
                let mut v = w.roster().0.clone();
                let at = w
                    .roster()
                    .position(&own_user)
                    .map_err(|_| GroupError::WelcomeMismatch)?;
                v.remove(at);
                if v.is_empty() {
                    return Err(GroupError::WelcomeMismatch);
                }
                Some(Roster(v))
            }
            _ => return Err(GroupError::NotInRoster),
        };
        // The roster before the operation is the one the members hold:
        // with the previous operation it hashes to `prev` (spec §12.3).
        match &before {
            None if w.prev_op().is_empty() => {}
            Some(b) if !w.prev_op().is_empty() => {
                let prev_op =
                    Operation::parse(w.prev_op()).map_err(|_| GroupError::WelcomeMismatch)?;
                if prev_op.state_hash(&p, b)? != op.prev {
                    return Err(GroupError::WelcomeMismatch);
                }
            }
            _ => return Err(GroupError::WelcomeMismatch),
        }
        let after = check_and_apply(&p, before.as_ref(), op, directory)?;
        if after != *w.roster() {
            return Err(GroupError::WelcomeMismatch);
        }
        let state_hash = op.state_hash(&p, &after)?;
        Ok(Self {
            group_id: op.group_id,
            own_user,
            own_device,
            epoch: op.epoch,
            state_hash,
            roster: after,
            last_op: op.to_bytes().to_vec(),
            prev: before.map(|roster| Previous {
                hash: op.prev,
                roster,
                op: w.prev_op().to_vec(),
            }),
            next_generation: 0,
            own_chain: None,
            chains: Vec::new(),
            skipped: SecretDeque::default(),
        })
    }

    /// The group's id.
    pub fn group_id(&self) -> &[u8; 32] {
        &self.group_id
    }

    /// The current epoch.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The current epoch's state hash (spec §12.3): members who hold the
    /// same one hold the same roster and history.
    pub fn state_hash(&self) -> &[u8; 32] {
        &self.state_hash
    }

    /// The roster, sorted by user key: send chain offers and welcomes to
    /// these people's devices, and only to them.
    pub fn members(&self) -> &[Member] {
        &self.roster.0
    }

    /// Whether this device's own user is still a member.
    pub fn is_member(&self) -> bool {
        self.roster.get(&self.own_user).is_some()
    }

    /// Whether this device must start a chain before it sends.
    pub fn needs_chain(&self) -> bool {
        self.own_chain
            .as_ref()
            .is_none_or(|c| c.index >= CHAIN_MESSAGES)
    }

    /// Signs an operation at the next epoch and applies it here.
    fn change<D: Directory + ?Sized>(
        &mut self,
        account: &Account,
        kind: OpKind,
        directory: &D,
    ) -> Result<Vec<u8>, GroupError> {
        if !self.is_member() {
            return Err(GroupError::Removed);
        }
        let epoch = self.epoch.checked_add(1).ok_or(GroupError::EpochAhead)?;
        let op = Operation::sign(
            &DefaultProvider::default(),
            &account.identity.signing_seed,
            self.group_id,
            epoch,
            self.state_hash,
            self.own_user,
            self.own_device,
            kind,
        )?;
        self.apply(op.to_bytes(), directory)?;
        Ok(op.to_bytes().to_vec())
    }

    /// Adds `member` (spec §12.3, kind 1): signs the operation with
    /// `account`, applies it here and returns it for the server. Then send
    /// the new member a [`welcome`](Self::welcome) and every member a fresh
    /// chain.
    ///
    /// Keep the state from before this call until the server has accepted
    /// the operation: if the server holds another operation of this epoch,
    /// restore it, apply the server's and issue the change again (spec
    /// §12.4). The same holds for [`remove`](Self::remove) and
    /// [`change_role`](Self::change_role).
    ///
    /// # Errors
    /// `Removed`, and the checks of spec §12.3.
    pub fn add<D: Directory + ?Sized>(
        &mut self,
        account: &Account,
        member: Member,
        directory: &D,
    ) -> Result<Vec<u8>, GroupError> {
        self.change(account, OpKind::Add(member), directory)
    }

    /// Removes `user` (or leaves, for one's own user; spec §12.3, kind 2).
    ///
    /// # Errors
    /// As [`add`](Self::add).
    pub fn remove<D: Directory + ?Sized>(
        &mut self,
        account: &Account,
        user: &[u8; 32],
        directory: &D,
    ) -> Result<Vec<u8>, GroupError> {
        self.change(account, OpKind::Remove(*user), directory)
    }

    /// Changes a member's role (spec §12.3, kind 3).
    ///
    /// # Errors
    /// As [`add`](Self::add).
    pub fn change_role<D: Directory + ?Sized>(
        &mut self,
        account: &Account,
        member: Member,
        directory: &D,
    ) -> Result<Vec<u8>, GroupError> {
        self.change(account, OpKind::ChangeRole(member), directory)
    }

    /// Applies an operation from the log (spec §12.3, §12.4).
    ///
    /// # Errors
    /// The checks of spec §12.3 in order; nothing changes. `Fork` also for a
    /// genuinely signed competing operation at the current epoch: an
    /// applied operation is never replaced (spec §12.4).
    pub fn apply<D: Directory + ?Sized>(
        &mut self,
        operation: &[u8],
        directory: &D,
    ) -> Result<Applied, GroupError> {
        let p = DefaultProvider::default();
        // 1, 2.
        let op = Operation::parse(operation)?;
        if op.group_id != self.group_id {
            return Err(GroupError::WrongGroup);
        }
        // 3. The epoch.
        if op.epoch == self.epoch {
            // spec §12.3 check 3: the operation already applied (equal bytes
            // give the equal StateHash), before checks 4–8, so a replay stays
            // `Unchanged` even after its signing device left its list.
            if operation == self.last_op.as_slice() {
                return Ok(Applied::Unchanged);
            }
            let (before, prev_hash) = match &self.prev {
                Some(pr) => (Some(&pr.roster), pr.hash),
                None => (None, [0u8; 32]),
            };
            if op.prev != prev_hash {
                return Err(GroupError::Fork);
            }
            // spec §12.4: a competing operation at the head (a competing
            // create included) never replaces the one applied. Checks 4–8
            // against the roster before it tell a genuinely signed competitor
            // (`Fork`, reported) from a forgery (its own error).
            check_and_apply(&p, before, &op, directory)?;
            return Err(GroupError::Fork);
        }
        if op.epoch < self.epoch {
            return Err(GroupError::StaleEpoch);
        }
        if op.epoch - self.epoch > 1 {
            return Err(GroupError::EpochAhead);
        }
        if op.prev != self.state_hash {
            return Err(GroupError::Fork);
        }
        // 4–8.
        let after = check_and_apply(&p, Some(&self.roster), &op, directory)?;
        let h = op.state_hash(&p, &after)?;
        let before = core::mem::replace(&mut self.roster, after);
        let last = core::mem::replace(&mut self.last_op, op.to_bytes().to_vec());
        self.prev = Some(Previous {
            hash: self.state_hash,
            roster: before,
            op: last,
        });
        self.epoch = op.epoch;
        self.state_hash = h;
        self.drop_chains();
        Ok(Applied::Advanced)
    }

    /// Deletes every chain and stored key (their secrets are wiped on drop).
    fn drop_chains(&mut self) {
        self.own_chain = None;
        self.chains.clear();
        self.skipped = SecretDeque::default();
    }

    /// Starts a fresh sending chain (spec §12.5) and returns its chain
    /// offer, bound by `account` (this device's identity). Send it by
    /// fan-out to every [`member`](Self::members)'s devices and to this
    /// user's other devices — never otherwise. The chain it replaces is
    /// deleted.
    ///
    /// # Errors
    /// `Removed`; `ChainExhausted` when the generations are used up;
    /// `Randomness`.
    pub fn start_chain<R: TryCryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        account: &Account,
    ) -> Result<Vec<u8>, GroupError> {
        if !self.is_member() {
            return Err(GroupError::Removed);
        }
        let next = self
            .next_generation
            .checked_add(1)
            .ok_or(GroupError::ChainExhausted)?;
        let mut chain = SendingChain {
            generation: self.next_generation,
            index: 0,
            chain_key: Secret::zero(),
            signing_seed: Secret::zero(),
        };
        crate::random::fill(rng, chain.chain_key.expose_mut())?;
        crate::random::fill(rng, chain.signing_seed.expose_mut())?;
        let (_, bytes) = ChainOffer::build(
            &DefaultProvider::default(),
            &account.identity.signing_seed,
            self.group_id,
            self.epoch,
            self.state_hash,
            self.own_user,
            self.own_device,
            &chain,
        )?;
        self.own_chain = Some(chain);
        self.next_generation = next;
        Ok(bytes)
    }

    /// The epoch and hash an object names (spec §12.6, check 3).
    fn check_epoch(&self, epoch: u64, hash: &[u8; 32]) -> Result<(), GroupError> {
        if epoch < self.epoch {
            // spec §12.6 check 3: the epoch just left is held with its hash;
            // another hash there proves a fork, not a delay.
            match &self.prev {
                Some(pr) if epoch + 1 == self.epoch && *hash != pr.hash => Err(GroupError::Fork),
                _ => Err(GroupError::StaleEpoch),
            }
        } else if epoch > self.epoch {
            Err(GroupError::EpochAhead)
        } else if *hash != self.state_hash {
            Err(GroupError::Fork)
        } else {
            Ok(())
        }
    }

    /// The `IK_sig` of a member's listed device (spec §12.5, §12.6 check 4).
    fn member_device<D: Directory + ?Sized>(
        &self,
        user: &[u8; 32],
        device: u32,
        directory: &D,
    ) -> Result<[u8; 32], GroupError> {
        if self.roster.get(user).is_none() {
            return Err(GroupError::NotMember);
        }
        let entry = directory
            .known_user(user)
            .and_then(|k| k.list().device(device))
            .ok_or(GroupError::UnknownDevice)?;
        let mut ik = [0u8; 32];
        ik.copy_from_slice(&entry.identity[..32]);
        Ok(ik)
    }

    /// Accepts a chain offer: the fan-out message that carried it, as
    /// [`fanout::receive`](crate::devices::fanout::receive) returned it
    /// (spec §12.5). The offer must come from its owner device over the
    /// pairwise session with it: the sender is the one the fan-out layer
    /// authenticated, never one the caller names.
    ///
    /// # Errors
    /// The checks of spec §12.5 in order; nothing changes.
    pub fn accept_chain<D: Directory + ?Sized>(
        &mut self,
        offer: &FanoutReceived,
        directory: &D,
    ) -> Result<(), GroupError> {
        let p = DefaultProvider::default();
        let (from_user, from_device) = offer.authenticated_sender();
        let offer = ChainOffer::parse(&offer.plaintext)?;
        if offer.group_id != self.group_id {
            return Err(GroupError::WrongGroup);
        }
        self.check_epoch(offer.epoch, &offer.state_hash)?;
        if offer.owner_user != *from_user || offer.owner_device != from_device {
            return Err(GroupError::WrongSession);
        }
        let ik = self.member_device(&offer.owner_user, offer.owner_device, directory)?;
        offer.verify_binding(&p, &ik)?;
        let held = self
            .chains
            .iter()
            .position(|c| c.user == offer.owner_user && c.device == offer.owner_device);
        match held {
            Some(i) => {
                if self.chains[i].generation >= offer.generation {
                    return Err(GroupError::StaleChain);
                }
                let (u, d) = (offer.owner_user, offer.owner_device);
                self.skipped.retain(|k| !(k.user == u && k.device == d));

                self.chains[i] = offer.to_receiving();
            }
            None => {
                if self.chains.len() >= MAX_GROUP_CHAINS {
                    return Err(GroupError::TooManyChains);
                }
                wipe::push(&mut self.chains, offer.to_receiving());
            }
        }
        Ok(())
    }

    /// Encrypts and signs a group message on this device's chain (spec
    /// §12.6). Send it to the server for every member.
    ///
    /// # Errors
    /// `Removed`, `NoChain`, `ChainExhausted`, `PlaintextTooLong`.
    pub fn encrypt(&mut self, plaintext: &[u8]) -> Result<Vec<u8>, GroupError> {
        let p = DefaultProvider::default();
        if !self.is_member() {
            return Err(GroupError::Removed);
        }
        let chain = self.own_chain.as_ref().ok_or(GroupError::NoChain)?;
        if chain.index >= CHAIN_MESSAGES {
            return Err(GroupError::ChainExhausted);
        }
        if plaintext.len() > MAX_PLAINTEXT_LEN {
            return Err(GroupError::PlaintextTooLong);
        }
        let body_len = padding::padded_len(plaintext.len()) + AEAD_TAG_LEN;
        let mut out = Vec::with_capacity(HEADER_LEN + 4 + body_len + 64);
        out.put_u8(VERSION);
        out.put_u8(TYPE_GROUP_MESSAGE);
        out.put(&self.group_id);
        out.put_u64(self.epoch);
        out.put(&self.state_hash);
        out.put(&self.own_user);
        out.put_u32(self.own_device);
        out.put_u32(chain.generation);
        out.put_u32(chain.index);
        let (mk, next) = step(&p, &chain.chain_key)?;
        let (key, nonce) = message_keys(&p, &mk, &out[..HEADER_LEN])?;
        out.put_u32(body_len as u32);
        let start = out.len();
        padding::pad_into(plaintext, &mut out);
        let (header, body) = out.split_at_mut(start);
        let tag = p.aead_seal(&key, &nonce, &header[..HEADER_LEN], body);
        out.put(&tag);
        let sig = labeled_sign(&p, &chain.signing_seed, labels::GROUP_MESSAGE, &[&out])?;
        out.put(&sig);
        if let Some(c) = self.own_chain.as_mut() {
            c.chain_key = next;
            c.index += 1;
        }
        Ok(out)
    }

    /// Verifies and decrypts a group message (spec §12.6, checks in
    /// order). Nothing changes unless every check passes.
    ///
    /// # Errors
    /// See spec §12.6.
    pub fn decrypt<D: Directory + ?Sized>(
        &mut self,
        message: &[u8],
        directory: &D,
    ) -> Result<GroupReceived, GroupError> {
        self.decrypt_with(&DefaultProvider::default(), message, directory)
    }

    /// [`decrypt`](Self::decrypt) with an explicit provider.
    ///
    /// # Errors
    /// As [`decrypt`](Self::decrypt).
    pub fn decrypt_with<P: CryptoProvider + ?Sized, D: Directory + ?Sized>(
        &mut self,
        p: &P,
        message: &[u8],
        directory: &D,
    ) -> Result<GroupReceived, GroupError> {
        self.decrypt_verifying(p, message, directory, |m, key| {
            labeled_verify(p, key, labels::GROUP_MESSAGE, &[m.signed], &m.signature)
                .map_err(|_| GroupError::InvalidSignature)
        })
    }

    /// Reads queued group messages in order (spec §12.6.1): the result for
    /// each message is exactly what [`decrypt`](Self::decrypt) called on
    /// each in turn would return, and the group ends in the same state, but
    /// the signatures are verified in batches. `rng` draws 32 bytes per
    /// batched signature, mixed into the batch's coefficients
    /// ([`OsRng`](crate::OsRng) in applications); if a draw fails, the
    /// signatures not yet batched are verified one by one instead, which
    /// gives the same results.
    ///
    /// A batch pays from about 128 signatures on (catching up after being
    /// offline); with fewer, every signature is verified on its own. A
    /// batch that fails (a bad signature in it) is split in halves, each
    /// verified again with new coefficients, down to 128 signatures. A
    /// refused message changes nothing and gets its own error; the
    /// messages after it are still read.
    ///
    /// Every plaintext is returned at once, and the call holds the whole
    /// queue and its plaintexts in memory: read a long queue in chunks of
    /// a few thousand messages (each chunk of at least 128 to batch at all).
    pub fn decrypt_batch<D: Directory + ?Sized, R: TryCryptoRng + ?Sized>(
        &mut self,
        messages: &[&[u8]],
        directory: &D,
        rng: &mut R,
    ) -> Vec<Result<GroupReceived, GroupError>> {
        self.decrypt_batch_with(&DefaultProvider::default(), messages, directory, rng)
    }

    /// [`decrypt_batch`](Self::decrypt_batch) with an explicit provider:
    /// the batches go to its
    /// [`ed25519_verify_batch`](CryptoProvider::ed25519_verify_batch).
    pub fn decrypt_batch_with<
        P: CryptoProvider + ?Sized,
        D: Directory + ?Sized,
        R: TryCryptoRng + ?Sized,
    >(
        &mut self,
        p: &P,
        messages: &[&[u8]],
        directory: &D,
        rng: &mut R,
    ) -> Vec<Result<GroupReceived, GroupError>> {
        let verified = self.verify_batch(p, messages, directory, rng);
        messages
            .iter()
            .zip(verified)
            .map(|(message, verified)| {
                self.decrypt_verifying(p, message, directory, |m, key| {
                    // A batch verdict holds for the key it was reached
                    // under; without one (no batch, a failed batch, or a
                    // message the first pass could not place), verify now.
                    if verified.as_ref() == Some(key) {
                        Ok(())
                    } else {
                        labeled_verify(p, key, labels::GROUP_MESSAGE, &[m.signed], &m.signature)
                            .map_err(|_| GroupError::InvalidSignature)
                    }
                })
            })
            .collect()
    }

    /// For each message, the key its signature was verified under in a
    /// batch that succeeded, `None` for a message no batch verified.
    /// Decryption changes neither the chains nor anything the checks before
    /// the signature read (spec §12.6.1), so these verdicts hold for the
    /// messages read in order afterwards; [`decrypt_batch`](Self::decrypt_batch)
    /// still compares the key and verifies on its own what has no verdict.
    fn verify_batch<P: CryptoProvider + ?Sized, D: Directory + ?Sized, R: TryCryptoRng + ?Sized>(
        &self,
        p: &P,
        messages: &[&[u8]],
        directory: &D,
        rng: &mut R,
    ) -> Vec<Option<[u8; 32]>> {
        let mut verified = alloc::vec![None; messages.len()];
        let mut found: Vec<(usize, GroupMessage<'_>, [u8; 32])> = Vec::new();
        for (i, message) in messages.iter().enumerate() {
            let Ok(m) = GroupMessage::parse(message) else {
                continue;
            };
            if let Ok(ci) = self.chain_of(&m, directory) {
                found.push((i, m, self.chains[ci].signing_public));
            }
        }
        let Ok(label) = encode_label(labels::GROUP_MESSAGE) else {
            return verified;
        };
        let parts: Vec<[&[u8]; 2]> = found
            .iter()
            .map(|(_, m, _)| [&label[..], m.signed])
            .collect();
        let items: Vec<Ed25519BatchItem<'_>> = found
            .iter()
            .zip(&parts)
            .map(|((_, m, key), parts)| Ed25519BatchItem {
                public_key: key,
                message: parts,
                signature: &m.signature,
            })
            .collect();
        // Batches to try, each a range of `items`; a failed one is split in
        // halves while they hold at least BATCH_MIN signatures.
        let mut pending: Vec<core::ops::Range<usize>> = Vec::new();
        if items.len() >= BATCH_MIN {
            pending.push(0..items.len());
        }
        while let Some(range) = pending.pop() {
            let mut random = alloc::vec![[0u8; 32]; range.len()];
            if crate::random::fill(rng, random.as_flattened_mut()).is_err() {
                break;
            }
            if p.ed25519_verify_batch(&items[range.clone()], &random)
                .is_ok()
            {
                for (i, _, key) in &found[range] {
                    verified[*i] = Some(*key);
                }
            } else if range.len() / 2 >= BATCH_MIN {
                let mid = range.start + range.len() / 2;
                pending.push(mid..range.end);
                pending.push(range.start..mid);
            }
        }
        verified
    }

    /// Checks 2–5 of spec §12.6: the index of the chain a message names.
    fn chain_of<D: Directory + ?Sized>(
        &self,
        m: &GroupMessage<'_>,
        directory: &D,
    ) -> Result<usize, GroupError> {
        if m.group_id != self.group_id {
            return Err(GroupError::WrongGroup);
        }
        self.check_epoch(m.epoch, &m.state_hash)?;
        self.member_device(&m.sender_user, m.sender_device, directory)?;
        self.chains
            .iter()
            .position(|c| {
                c.user == m.sender_user
                    && c.device == m.sender_device
                    && c.generation == m.generation
            })
            .ok_or(GroupError::UnknownChain)
    }

    /// [`decrypt`](Self::decrypt) with the signature check `verify`.
    fn decrypt_verifying<P: CryptoProvider + ?Sized, D: Directory + ?Sized>(
        &mut self,
        p: &P,
        message: &[u8],
        directory: &D,
        verify: impl FnOnce(&GroupMessage<'_>, &[u8; 32]) -> Result<(), GroupError>,
    ) -> Result<GroupReceived, GroupError> {
        let m = GroupMessage::parse(message)?;
        let ci = self.chain_of(&m, directory)?;
        let chain = &self.chains[ci];
        verify(&m, &chain.signing_public)?;
        if m.index >= CHAIN_MESSAGES {
            return Err(GroupError::BeyondChainEnd);
        }
        // The key, and what the chain becomes.
        // Allocated once at its final size: no key is left in a freed buffer.
        let gap = m.index.saturating_sub(chain.next_index) as usize;
        let mut new_skipped: Vec<SkippedKey> = Vec::with_capacity(gap);
        let mut advanced: Option<Secret<32>> = None;
        let mut used_skipped: Option<usize> = None;
        let mk = if m.index < chain.next_index {
            let at = self
                .skipped
                .iter()
                .position(|k| {
                    k.user == m.sender_user
                        && k.device == m.sender_device
                        && k.generation == m.generation
                        && k.index == m.index
                })
                .ok_or(GroupError::DuplicateOrExpired)?;
            used_skipped = Some(at);
            self.skipped
                .get(at)
                .map(|k| k.key.clone())
                .ok_or(GroupError::DuplicateOrExpired)?
        } else {
            // At most CHAIN_MESSAGES − 1 keys: the chain's length bounds the gap.
            let mut ck = chain.chain_key.clone();
            for i in chain.next_index..m.index {
                let (mk, next) = step(p, &ck)?;
                new_skipped.push(SkippedKey {
                    user: m.sender_user,
                    device: m.sender_device,
                    generation: m.generation,
                    index: i,
                    key: mk,
                });
                ck = next;
            }
            let (mk, next) = step(p, &ck)?;
            advanced = Some(next);
            mk
        };
        let (key, nonce) = message_keys(p, &mk, m.header)?;
        let (ct, tag) = m.ciphertext.split_at(m.ciphertext.len() - AEAD_TAG_LEN);
        let mut tag_arr = [0u8; AEAD_TAG_LEN];
        tag_arr.copy_from_slice(tag);
        let mut buf = ct.to_vec();
        if p.aead_open(&key, &nonce, m.header, &mut buf, &tag_arr)
            .is_err()
        {
            buf.zeroize();
            return Err(GroupError::Authentication);
        }
        let Some(len) = padding::unpadded_len(&buf) else {
            buf.zeroize();
            return Err(GroupError::InvalidPadding);
        };
        buf[len..].zeroize();
        buf.truncate(len);
        // Commit.
        if let Some(at) = used_skipped {
            self.skipped.remove(at);
        }
        if let Some(next) = advanced {
            let c = &mut self.chains[ci];
            c.chain_key = next;
            c.next_index = m.index + 1;
            self.skipped.append_vec(new_skipped);
            if self.skipped.len() > MAX_GROUP_STORED_KEYS {
                let excess = self.skipped.len() - MAX_GROUP_STORED_KEYS;
                self.skipped.remove_front(excess);
            }
        }
        Ok(GroupReceived {
            plaintext: buf,
            sender_user: m.sender_user,
            sender_device: m.sender_device,
            index: m.index,
        })
    }
}
