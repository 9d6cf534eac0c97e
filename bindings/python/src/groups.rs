//! Groups whose membership only their members control (spec §12): one
//! device's view of a group, its membership operations, sender chains and
//! group messages.
//!
//! The application moves bytes: operations and group messages through the
//! server, welcomes and chain offers as the plaintext of fan-out messages
//! (`PeerDevices.send`); joining and accepting a chain take what
//! `PeerDevices.receive` returned, whose sender the pairwise session
//! authenticated. A device's directory is the sequence of `KnownUser`s it
//! accepted; the group looks members' devices up in it.

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyType};

use sova::devices as d;
use sova::groups as g;

use crate::devices::{FanoutReceived, KnownUser};
use crate::session::{bytes, hex8, Account, StorageKey};
use crate::{fixed, os_rng, OrRaise};

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Role>()?;
    m.add_class::<Member>()?;
    m.add_class::<GroupReceived>()?;
    m.add_class::<Group>()?;
    m.add("MAX_MEMBERS", g::MAX_MEMBERS)?;
    m.add("CHAIN_MESSAGES", g::CHAIN_MESSAGES)?;
    Ok(())
}

fn user_key(what: &str, b: &[u8]) -> PyResult<[u8; 32]> {
    fixed::<32>(what, b)
}

/// The lists a device accepted, as the library's directory.
fn directory(known: Vec<PyRef<'_, KnownUser>>) -> Vec<d::KnownUser> {
    known.iter().map(|k| k.inner.clone()).collect()
}

/// The name of what `apply` did: `"advanced"`, `"unchanged"`, or another
/// lower-case name the library may report (read from the outcome itself, so
/// a library that reports other outcomes needs no change here).
fn applied_name(a: g::Applied) -> String {
    format!("{a:?}")
        .chars()
        .take_while(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_ascii_lowercase()
}

/// A member's role (spec §12.2).
#[pyclass(module = "sova", eq, eq_int, frozen, hash)]
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Role {
    /// May send, and remove itself.
    #[pyo3(name = "MEMBER")]
    Member,
    /// May also add, remove and change the role of any member.
    #[pyo3(name = "ADMIN")]
    Admin,
}

impl From<Role> for g::Role {
    fn from(r: Role) -> Self {
        match r {
            Role::Member => g::Role::Member,
            Role::Admin => g::Role::Admin,
        }
    }
}

impl From<g::Role> for Role {
    fn from(r: g::Role) -> Self {
        match r {
            g::Role::Member => Role::Member,
            g::Role::Admin => Role::Admin,
        }
    }
}

/// One member of a roster: a person, named by its 32-byte user key, and
/// its role.
#[pyclass(module = "sova", frozen, eq, hash)]
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Member {
    user: [u8; 32],
    /// The role.
    #[pyo3(get)]
    role: Role,
}

impl Member {
    fn rs(self) -> g::Member {
        g::Member {
            user: self.user,
            role: self.role.into(),
        }
    }

    fn of(m: &g::Member) -> Self {
        Self {
            user: m.user,
            role: m.role.into(),
        }
    }
}

#[pymethods]
impl Member {
    #[new]
    #[pyo3(signature = (user, role=Role::Member))]
    fn new(user: &[u8], role: Role) -> PyResult<Self> {
        Ok(Self {
            user: user_key("a user key", user)?,
            role,
        })
    }

    /// The member's user key.
    #[getter]
    fn user<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        bytes(py, &self.user)
    }

    fn __repr__(&self) -> String {
        let role = match self.role {
            Role::Member => "Role.MEMBER",
            Role::Admin => "Role.ADMIN",
        };
        format!("Member(user={}…, role={role})", hex8(&self.user))
    }
}

/// A group message this device read.
#[pyclass(module = "sova", frozen, get_all)]
pub(crate) struct GroupReceived {
    /// The plaintext.
    plaintext: Py<PyBytes>,
    /// The sender's user key.
    sender_user: Py<PyBytes>,
    /// The sending device's id.
    sender_device: u32,
    /// The message's index in its sender chain.
    index: u32,
}

/// One device's state of one group (spec §12): the roster at the current
/// epoch, its sending chain and the chains it received. Every method that
/// refuses its input raises `GroupError` and changes nothing.
#[pyclass(module = "sova")]
pub(crate) struct Group {
    inner: g::Group,
}

#[pymethods]
impl Group {
    /// Creates a group with the first roster `members` (it must list
    /// `own_user` as an admin), signed by `account`, the device
    /// `own_device` of `own_user`. Returns the group and the create
    /// operation: send every other member a `welcome` for it by fan-out.
    #[staticmethod]
    fn create<'py>(
        py: Python<'py>,
        account: &Account,
        own_user: &[u8],
        own_device: u32,
        members: Vec<Member>,
        directory: Vec<PyRef<'py, KnownUser>>,
    ) -> PyResult<(Self, Bound<'py, PyBytes>)> {
        let members: Vec<g::Member> = members.into_iter().map(Member::rs).collect();
        let (inner, op) = g::Group::create(
            &mut os_rng(),
            &account.inner,
            user_key("own_user", own_user)?,
            own_device,
            &members,
            &self::directory(directory),
        )
        .or_raise()?;
        Ok((Self { inner }, bytes(py, &op)))
    }

    /// Joins a group from a welcome: the fan-out message that carried it,
    /// as `PeerDevices.receive` returned it.
    #[staticmethod]
    fn join(
        own_user: &[u8],
        own_device: u32,
        welcome: PyRef<'_, FanoutReceived>,
        directory: Vec<PyRef<'_, KnownUser>>,
    ) -> PyResult<Self> {
        let inner = g::Group::join(
            user_key("own_user", own_user)?,
            own_device,
            &welcome.inner,
            &self::directory(directory),
        )
        .or_raise()?;
        Ok(Self { inner })
    }

    /// A welcome for `operation`, the one that made the current epoch, for
    /// the members it created or added (send it by fan-out).
    fn welcome<'py>(&self, py: Python<'py>, operation: &[u8]) -> PyResult<Bound<'py, PyBytes>> {
        Ok(bytes(py, &self.inner.welcome(operation).or_raise()?))
    }

    /// The group's 32-byte id.
    #[getter]
    fn group_id<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        bytes(py, self.inner.group_id())
    }

    /// The current epoch.
    #[getter]
    fn epoch(&self) -> u64 {
        self.inner.epoch()
    }

    /// The current epoch's 32-byte state hash: members who hold the same
    /// one hold the same roster and history.
    #[getter]
    fn state_hash<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        bytes(py, self.inner.state_hash())
    }

    /// The roster, sorted by user key.
    #[getter]
    fn members(&self) -> Vec<Member> {
        self.inner.members().iter().map(Member::of).collect()
    }

    /// Whether this device's own user is still a member.
    #[getter]
    fn is_member(&self) -> bool {
        self.inner.is_member()
    }

    /// Whether this device must start a chain before it sends.
    #[getter]
    fn needs_chain(&self) -> bool {
        self.inner.needs_chain()
    }

    /// Adds `member`: signs the operation with `account`, applies it here
    /// and returns it for the server. Then send the new member a `welcome`
    /// and every member a fresh chain.
    fn add<'py>(
        &mut self,
        py: Python<'py>,
        account: &Account,
        member: Member,
        directory: Vec<PyRef<'py, KnownUser>>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let op = self
            .inner
            .add(&account.inner, member.rs(), &self::directory(directory))
            .or_raise()?;
        Ok(bytes(py, &op))
    }

    /// Removes the member with user key `user` (or leaves, for one's own).
    fn remove<'py>(
        &mut self,
        py: Python<'py>,
        account: &Account,
        user: &[u8],
        directory: Vec<PyRef<'py, KnownUser>>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let op = self
            .inner
            .remove(
                &account.inner,
                &user_key("a user key", user)?,
                &self::directory(directory),
            )
            .or_raise()?;
        Ok(bytes(py, &op))
    }

    /// Changes a member's role.
    fn change_role<'py>(
        &mut self,
        py: Python<'py>,
        account: &Account,
        member: Member,
        directory: Vec<PyRef<'py, KnownUser>>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let op = self
            .inner
            .change_role(&account.inner, member.rs(), &self::directory(directory))
            .or_raise()?;
        Ok(bytes(py, &op))
    }

    /// Applies an operation from the log. Returns the name of what it did:
    /// `"advanced"` (a new epoch: every chain is gone, start a fresh one),
    /// `"unchanged"` (already applied), or another name the library
    /// reports for a change of the current epoch (read `needs_chain`).
    fn apply(
        &mut self,
        operation: &[u8],
        directory: Vec<PyRef<'_, KnownUser>>,
    ) -> PyResult<String> {
        let a = self
            .inner
            .apply(operation, &self::directory(directory))
            .or_raise()?;
        Ok(applied_name(a))
    }

    /// Starts a fresh sending chain bound by `account` and returns its
    /// chain offer: send it by fan-out to every member's devices and to this
    /// user's other devices, never otherwise.
    fn start_chain<'py>(
        &mut self,
        py: Python<'py>,
        account: &Account,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let offer = self
            .inner
            .start_chain(&mut os_rng(), &account.inner)
            .or_raise()?;
        Ok(bytes(py, &offer))
    }

    /// Accepts a chain offer: the fan-out message that carried it, as
    /// `PeerDevices.receive` returned it.
    fn accept_chain(
        &mut self,
        offer: PyRef<'_, FanoutReceived>,
        directory: Vec<PyRef<'_, KnownUser>>,
    ) -> PyResult<()> {
        self.inner
            .accept_chain(&offer.inner, &self::directory(directory))
            .or_raise()
    }

    /// Encrypts and signs a group message on this device's chain.
    fn encrypt<'py>(&mut self, py: Python<'py>, plaintext: &[u8]) -> PyResult<Bound<'py, PyBytes>> {
        Ok(bytes(py, &self.inner.encrypt(plaintext).or_raise()?))
    }

    /// Verifies and decrypts a group message.
    fn decrypt(
        &mut self,
        py: Python<'_>,
        message: &[u8],
        directory: Vec<PyRef<'_, KnownUser>>,
    ) -> PyResult<GroupReceived> {
        let got = self
            .inner
            .decrypt(message, &self::directory(directory))
            .or_raise()?;
        Ok(GroupReceived {
            plaintext: bytes(py, &got.plaintext).unbind(),
            sender_user: bytes(py, &got.sender_user).unbind(),
            sender_device: got.sender_device,
            index: got.index,
        })
    }

    /// The plain encoding (spec §12.8): it holds secrets; prefer
    /// `to_sealed_bytes`.
    fn to_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        bytes(py, &self.inner.to_bytes())
    }

    /// Restores from `to_bytes`.
    #[classmethod]
    fn from_bytes(_cls: &Bound<'_, PyType>, state: &[u8]) -> PyResult<Self> {
        Ok(Self {
            inner: g::Group::from_bytes(state).or_raise()?,
        })
    }

    /// Sealed under `key` (sealed kind 6).
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

    /// Opens and restores a group sealed by `to_sealed_bytes`.
    #[classmethod]
    fn from_sealed_bytes(
        _cls: &Bound<'_, PyType>,
        sealed: &[u8],
        key: &StorageKey,
    ) -> PyResult<Self> {
        Ok(Self {
            inner: g::Group::from_sealed_bytes(sealed, &key.key).or_raise()?,
        })
    }

    fn __repr__(&self) -> String {
        format!(
            "Group(group_id={}…, epoch={}, members={})",
            hex8(self.inner.group_id()),
            self.inner.epoch(),
            self.inner.members().len()
        )
    }
}
