//! The membership log (spec §12.3): operations, their checks, and welcomes.

use alloc::vec::Vec;

use super::roster::{put_entry, read_entry, Roster, ENTRY_LEN};
use super::{Directory, GroupError, Member, ParseError, Role, MAX_MEMBERS};
use crate::codec::{Reader, Writer};
use crate::kdf::{labeled_hash, labeled_sign, labeled_verify};
use crate::labels;
use crate::provider::{CryptoProvider, ED25519_SIG_LEN};
use crate::secret::Secret;

const MAGIC: &[u8; 15] = b"SOVA-1 group op";
const WELCOME_MAGIC: &[u8; 20] = b"SOVA-1 group welcome";
const VERSION: u8 = 1;

/// What an operation does (spec §12.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpKind {
    /// Kind 0: the group's creation with its first roster.
    Create(Vec<Member>),
    /// Kind 1: a new member and its role.
    Add(Member),
    /// Kind 2: a member leaves or is removed.
    Remove([u8; 32]),
    /// Kind 3: a member's new role.
    ChangeRole(Member),
}

impl OpKind {
    fn byte(&self) -> u8 {
        match self {
            OpKind::Create(_) => 0,
            OpKind::Add(_) => 1,
            OpKind::Remove(_) => 2,
            OpKind::ChangeRole(_) => 3,
        }
    }
}

/// A parsed membership operation (spec §12.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operation {
    /// The group.
    pub group_id: [u8; 32],
    /// The epoch this operation starts.
    pub epoch: u64,
    /// The state hash of the epoch before (`0^32` at epoch 0).
    pub prev: [u8; 32],
    /// The signer's user key.
    pub signer_user: [u8; 32],
    /// The signing device's id in the signer's list.
    pub signer_device: u32,
    /// The change.
    pub kind: OpKind,
    signature: [u8; ED25519_SIG_LEN],
    bytes: Vec<u8>,
}

impl Operation {
    /// The encoding.
    pub fn to_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Parses an operation (spec §12.3, check 1).
    ///
    /// # Errors
    /// [`ParseError`].
    pub fn parse(bytes: &[u8]) -> Result<Self, ParseError> {
        let mut r = Reader::new(bytes);
        let op = Self::read(&mut r, bytes)?;
        if r.remaining() != 0 {
            return Err(ParseError::TrailingBytes);
        }
        Ok(op)
    }

    fn read(r: &mut Reader<'_>, all: &[u8]) -> Result<Self, ParseError> {
        let start = r.position();
        let magic = r
            .bytes(MAGIC.len())
            .map_err(|_| ParseError::Truncated("magic"))?;
        if magic != MAGIC {
            return Err(ParseError::BadMagic);
        }
        let v = r.u8().map_err(|_| ParseError::Truncated("version"))?;
        if v != VERSION {
            return Err(ParseError::UnsupportedVersion(v));
        }
        let t = |f: &'static str| move |_| ParseError::Truncated(f);
        let group_id = r.array().map_err(t("group id"))?;
        let epoch = r.u64().map_err(t("epoch"))?;
        let prev = r.array().map_err(t("previous state hash"))?;
        let signer_user = r.array().map_err(t("signer user key"))?;
        let signer_device = r.u32().map_err(t("signer device id"))?;
        let kind = match r.u8().map_err(t("kind"))? {
            0 => OpKind::Create(Roster::read(r)?.0),
            1 => OpKind::Add(read_entry(r)?),
            2 => OpKind::Remove(r.array().map_err(t("member user key"))?),
            3 => OpKind::ChangeRole(read_entry(r)?),
            other => return Err(ParseError::InvalidKind(other)),
        };
        let signature = r.array().map_err(t("signature"))?;
        let bytes = all
            .get(start..r.position())
            .ok_or(ParseError::Truncated("operation"))?
            .to_vec();
        Ok(Self {
            group_id,
            epoch,
            prev,
            signer_user,
            signer_device,
            kind,
            signature,
            bytes,
        })
    }

    /// Builds an operation signed by `account`'s identity key, as device
    /// `signer_device` of `signer_user` (spec §12.3), without applying it
    /// anywhere. [`Group::add`](super::Group::add) and its siblings sign
    /// and apply in one step; this is for tools that build logs.
    ///
    /// # Errors
    /// `Malformed` for a create roster that breaks spec §12.2.
    #[allow(clippy::too_many_arguments)]
    pub fn new_signed(
        account: &crate::session::Account,
        group_id: [u8; 32],
        epoch: u64,
        prev: [u8; 32],
        signer_user: [u8; 32],
        signer_device: u32,
        kind: OpKind,
    ) -> Result<Self, GroupError> {
        Self::sign(
            &crate::provider::DefaultProvider::default(),
            &account.identity.signing_seed,
            group_id,
            epoch,
            prev,
            signer_user,
            signer_device,
            kind,
        )
    }

    /// Builds and signs an operation with the signing device's identity
    /// seed (spec §12.3).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn sign<P: CryptoProvider + ?Sized>(
        p: &P,
        seed: &Secret<32>,
        group_id: [u8; 32],
        epoch: u64,
        prev: [u8; 32],
        signer_user: [u8; 32],
        signer_device: u32,
        kind: OpKind,
    ) -> Result<Self, GroupError> {
        let body_len = match &kind {
            OpKind::Create(m) => 2 + m.len() * ENTRY_LEN,
            OpKind::Add(_) | OpKind::ChangeRole(_) => ENTRY_LEN,
            OpKind::Remove(_) => 32,
        };
        let mut bytes =
            Vec::with_capacity(MAGIC.len() + 1 + 32 + 8 + 32 + 32 + 4 + 1 + body_len + 64);
        bytes.put(MAGIC);
        bytes.put_u8(VERSION);
        bytes.put(&group_id);
        bytes.put_u64(epoch);
        bytes.put(&prev);
        bytes.put(&signer_user);
        bytes.put_u32(signer_device);
        bytes.put_u8(kind.byte());
        match &kind {
            OpKind::Create(m) => Roster::from_members(m)?.encode_into(&mut bytes),
            OpKind::Add(m) | OpKind::ChangeRole(m) => put_entry(&mut bytes, m),
            OpKind::Remove(u) => bytes.put(u),
        }
        let signature = labeled_sign(p, seed, labels::GROUP_OPERATION, &[&bytes])?;
        bytes.put(&signature);
        Ok(Self {
            group_id,
            epoch,
            prev,
            signer_user,
            signer_device,
            kind,
            signature,
            bytes,
        })
    }

    fn signed_part(&self) -> &[u8] {
        &self.bytes[..self.bytes.len() - ED25519_SIG_LEN]
    }

    /// `StateHash` of this operation and the roster after it (spec §12.3).
    pub(crate) fn state_hash<P: CryptoProvider + ?Sized>(
        &self,
        p: &P,
        after: &Roster,
    ) -> Result<[u8; 32], GroupError> {
        let mut r = Vec::with_capacity(after.encoded_len());
        after.encode_into(&mut r);
        Ok(labeled_hash(p, labels::GROUP_STATE, &[&self.bytes, &r])?)
    }
}

/// Checks 4–8 of spec §12.3 against the roster before the operation (`None`
/// for a create) and returns the roster after it.
pub(crate) fn check_and_apply<P: CryptoProvider + ?Sized, D: Directory + ?Sized>(
    p: &P,
    before: Option<&Roster>,
    op: &Operation,
    directory: &D,
) -> Result<Roster, GroupError> {
    // 4. The signer is a member (of the first roster, for a create).
    let signer = match (&op.kind, before) {
        (OpKind::Create(m), None) => {
            // A creation starts the log: epoch 0 after nothing.
            if op.epoch != 0 || op.prev != [0; 32] {
                return Err(GroupError::Fork);
            }
            let first = Roster::from_members(m)?;
            let s = *first.get(&op.signer_user).ok_or(GroupError::NotMember)?;
            (s, Some(first))
        }
        (OpKind::Create(_), Some(_)) => return Err(GroupError::Fork),
        (_, None) => return Err(GroupError::NotMember),
        (_, Some(b)) => (*b.get(&op.signer_user).ok_or(GroupError::NotMember)?, None),
    };
    let (signer, first) = signer;
    // 5. The signing device is certified for the signer.
    let device = directory
        .known_user(&op.signer_user)
        .and_then(|k| k.list().device(op.signer_device))
        .ok_or(GroupError::UnknownDevice)?;
    let mut ik_sig = [0u8; 32];
    ik_sig.copy_from_slice(&device.identity[..32]);
    // 6. The signature.
    labeled_verify(
        p,
        &ik_sig,
        labels::GROUP_OPERATION,
        &[op.signed_part()],
        &op.signature,
    )
    .map_err(|_| GroupError::InvalidSignature)?;
    // 7. The role, and 8. the change.
    let admin = signer.role == Role::Admin;
    let after = match (&op.kind, before, first) {
        (OpKind::Create(_), _, Some(first)) => {
            if !admin {
                return Err(GroupError::NotAuthorised);
            }
            first
        }
        (OpKind::Add(m), Some(b), _) => {
            if !admin {
                return Err(GroupError::NotAuthorised);
            }
            let at = match b.position(&m.user) {
                Ok(_) => return Err(GroupError::AlreadyMember),
                Err(at) => at,
            };
            if b.0.len() >= MAX_MEMBERS {
                return Err(GroupError::TooManyMembers);
            }
            let mut v = b.0.clone();
            v.insert(at, *m);
            Roster(v)
        }
        (OpKind::Remove(u), Some(b), _) => {
            if !admin && *u != op.signer_user {
                return Err(GroupError::NotAuthorised);
            }
            let at = b.position(u).map_err(|_| GroupError::NoSuchMember)?;
            let mut v = b.0.clone();
            v.remove(at);
            let r = Roster(v);
            if !r.has_admin() {
                return Err(GroupError::LastAdmin);
            }
            r
        }
        (OpKind::ChangeRole(m), Some(b), _) => {
            if !admin {
                return Err(GroupError::NotAuthorised);
            }
            let at = b.position(&m.user).map_err(|_| GroupError::NoSuchMember)?;
            // spec §12.3 check 8: a change-role must change the role.
            if b.0.get(at).is_some_and(|e| e.role == m.role) {
                return Err(GroupError::RoleUnchanged);
            }
            let mut v = b.0.clone();
            if let Some(e) = v.get_mut(at) {
                e.role = m.role;
            }
            let r = Roster(v);
            if !r.has_admin() {
                return Err(GroupError::LastAdmin);
            }
            r
        }
        _ => return Err(GroupError::NotMember),
    };
    Ok(after)
}

/// A parsed welcome (spec §12.3): the operation that added the receiver
/// (or created the group) and the roster after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Welcome {
    /// The operation.
    pub operation: Operation,
    roster: Roster,
    prev_op: Vec<u8>,
}

impl Welcome {
    /// The roster after the operation, as the welcome states it.
    pub fn members(&self) -> &[Member] {
        &self.roster.0
    }

    pub(crate) fn roster(&self) -> &Roster {
        &self.roster
    }

    /// The operation of the epoch before (empty for a create).
    pub fn prev_op(&self) -> &[u8] {
        &self.prev_op
    }

    pub(crate) fn encode(op: &Operation, roster: &Roster, prev_op: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            WELCOME_MAGIC.len() + 1 + 4 + op.bytes.len() + roster.encoded_len() + 4 + prev_op.len(),
        );
        out.put(WELCOME_MAGIC);
        out.put_u8(VERSION);
        out.put_u32(op.bytes.len() as u32);
        out.put(&op.bytes);
        roster.encode_into(&mut out);
        out.put_u32(prev_op.len() as u32);
        out.put(prev_op);
        out
    }

    /// Parses a welcome (spec §12.3).
    ///
    /// # Errors
    /// [`ParseError`].
    pub fn parse(bytes: &[u8]) -> Result<Self, ParseError> {
        let mut r = Reader::new(bytes);
        let magic = r
            .bytes(WELCOME_MAGIC.len())
            .map_err(|_| ParseError::Truncated("magic"))?;
        if magic != WELCOME_MAGIC {
            return Err(ParseError::BadMagic);
        }
        let v = r.u8().map_err(|_| ParseError::Truncated("version"))?;
        if v != VERSION {
            return Err(ParseError::UnsupportedVersion(v));
        }
        let len = r
            .u32()
            .map_err(|_| ParseError::Truncated("operation length"))? as usize;
        let op = r
            .bytes(len)
            .map_err(|_| ParseError::Truncated("operation"))?;
        let operation = Operation::parse(op)?;
        let roster = Roster::read(&mut r)?;
        let len = r
            .u32()
            .map_err(|_| ParseError::Truncated("previous operation length"))?
            as usize;
        let prev_op = r
            .bytes(len)
            .map_err(|_| ParseError::Truncated("previous operation"))?
            .to_vec();
        if r.remaining() != 0 {
            return Err(ParseError::TrailingBytes);
        }
        Ok(Self {
            operation,
            roster,
            prev_op,
        })
    }
}
