//! Roster and roles (spec §12.2).

use alloc::vec::Vec;

use super::{ParseError, MAX_MEMBERS};
use crate::codec::{Reader, Writer};

/// A member's role (spec §12.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// May send, and remove itself.
    Member,
    /// May also add, remove and change the role of any member.
    Admin,
}

impl Role {
    pub(crate) fn byte(self) -> u8 {
        match self {
            Role::Member => 0,
            Role::Admin => 1,
        }
    }

    pub(crate) fn from_byte(b: u8) -> Result<Self, ParseError> {
        match b {
            0 => Ok(Role::Member),
            1 => Ok(Role::Admin),
            other => Err(ParseError::InvalidRole(other)),
        }
    }
}

/// One member of a roster: a person, named by its user key (spec §11.2),
/// and its role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Member {
    /// `UK_pub` of the member.
    pub user: [u8; 32],
    /// Its role.
    pub role: Role,
}

pub(crate) const ENTRY_LEN: usize = 33;

pub(crate) fn put_entry(out: &mut Vec<u8>, m: &Member) {
    out.put(&m.user);
    out.put_u8(m.role.byte());
}

pub(crate) fn read_entry(r: &mut Reader<'_>) -> Result<Member, ParseError> {
    let user = r
        .array()
        .map_err(|_| ParseError::Truncated("member user key"))?;
    let role = Role::from_byte(r.u8().map_err(|_| ParseError::Truncated("role"))?)?;
    Ok(Member { user, role })
}

/// A roster: members sorted by user key, strictly increasing (spec §12.2).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Roster(pub(crate) Vec<Member>);

impl Roster {
    pub(crate) fn get(&self, user: &[u8; 32]) -> Option<&Member> {
        self.0
            .binary_search_by(|m| m.user.cmp(user))
            .ok()
            .and_then(|i| self.0.get(i))
    }

    pub(crate) fn position(&self, user: &[u8; 32]) -> Result<usize, usize> {
        self.0.binary_search_by(|m| m.user.cmp(user))
    }

    pub(crate) fn has_admin(&self) -> bool {
        self.0.iter().any(|m| m.role == Role::Admin)
    }

    pub(crate) fn encode_into(&self, out: &mut Vec<u8>) {
        // At most MAX_MEMBERS entries (checked wherever a roster is built).
        out.put_u16(self.0.len() as u16);
        for m in &self.0 {
            put_entry(out, m);
        }
    }

    pub(crate) fn encoded_len(&self) -> usize {
        2 + self.0.len() * ENTRY_LEN
    }

    /// Checks count and order of a list of members (spec §12.2).
    pub(crate) fn from_members(members: &[Member]) -> Result<Self, ParseError> {
        if members.is_empty() || members.len() > MAX_MEMBERS {
            return Err(ParseError::MemberCount(
                members.len().min(usize::from(u16::MAX)) as u16,
            ));
        }
        if members.windows(2).any(|w| w[0].user >= w[1].user) {
            return Err(ParseError::RosterOrder);
        }
        Ok(Self(members.to_vec()))
    }

    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, ParseError> {
        let count = r.u16().map_err(|_| ParseError::Truncated("member count"))?;
        if count == 0 || usize::from(count) > MAX_MEMBERS {
            return Err(ParseError::MemberCount(count));
        }
        let mut v = Vec::with_capacity(usize::from(count));
        for _ in 0..count {
            let m = read_entry(r)?;
            if v.last().is_some_and(|p: &Member| p.user >= m.user) {
                return Err(ParseError::RosterOrder);
            }
            v.push(m);
        }
        Ok(Self(v))
    }
}
