//! Several devices per person (spec §11): user keys, signed device lists,
//! what a device knows about a person, linking, and fan-out.

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyType};

use sova::devices as d;
use sova::Secret;

use crate::session::{
    bytes, hex8, identity_key, py_bool, Account, Conversation, HeaderMode, MessageInfo, StorageKey,
};
use crate::{fixed, os_rng, OrRaise};

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<UserKey>()?;
    m.add_class::<DeviceEntry>()?;
    m.add_class::<DeviceList>()?;
    m.add_class::<ListChange>()?;
    m.add_class::<KnownUser>()?;
    m.add_class::<LinkRequest>()?;
    m.add_class::<Linked>()?;
    m.add_class::<LinkApproval>()?;
    m.add_class::<PeerDevices>()?;
    m.add_class::<FanoutReceived>()?;
    m.add_class::<DeviceMessage>()?;
    m.add_function(wrap_pyfunction!(approve_link, m)?)?;
    m.add_function(wrap_pyfunction!(split_fanout, m)?)?;
    m.add_function(wrap_pyfunction!(user_identity, m)?)?;
    m.add("MAX_DEVICES", d::MAX_DEVICES)?;
    m.add("MAX_LINK_DATA", d::MAX_LINK_DATA)?;
    Ok(())
}

fn user_key_bytes(b: &[u8]) -> PyResult<[u8; 32]> {
    fixed::<32>("a user key", b)
}

/// A person's user key (spec §11.2): it signs the list of the person's
/// devices. Held by admin devices only.
#[pyclass(module = "sova", frozen)]
pub(crate) struct UserKey {
    inner: d::UserKey,
}

#[pymethods]
impl UserKey {
    /// A fresh user key from the operating system's generator.
    #[new]
    fn new() -> PyResult<Self> {
        Ok(Self {
            inner: d::UserKey::generate(&mut os_rng()).or_raise()?,
        })
    }

    /// The user key of a 32-byte seed.
    #[staticmethod]
    fn from_seed(seed: &[u8]) -> PyResult<Self> {
        Ok(Self {
            inner: d::UserKey::from_seed(Secret::from_bytes(fixed::<32>("a seed", seed)?)),
        })
    }

    /// The 32-byte public user key (pin it from a contact card).
    #[getter]
    fn public<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        bytes(py, self.inner.public())
    }

    /// The identity key that names the person in safety numbers.
    #[getter]
    fn user_identity<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        bytes(py, &self.inner.user_identity())
    }

    /// Signs the list of `entries` at `epoch`.
    fn sign_list(&self, epoch: u64, entries: Vec<DeviceEntry>) -> PyResult<DeviceList> {
        let entries: Vec<d::DeviceEntry> = entries.iter().map(DeviceEntry::rs).collect();
        Ok(DeviceList {
            inner: self.inner.sign_list(epoch, &entries).or_raise()?,
        })
    }

    /// The plain encoding (spec §11.9): it holds the secret seed.
    fn to_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        bytes(py, &self.inner.to_bytes())
    }

    /// Restores a user key from `to_bytes`.
    #[classmethod]
    fn from_bytes(_cls: &Bound<'_, PyType>, state: &[u8]) -> PyResult<Self> {
        Ok(Self {
            inner: d::UserKey::from_bytes(state).or_raise()?,
        })
    }

    /// The user key sealed under `key` (sealed kind 5).
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

    /// Opens and restores a user key sealed by `to_sealed_bytes`.
    #[classmethod]
    fn from_sealed_bytes(
        _cls: &Bound<'_, PyType>,
        sealed: &[u8],
        key: &StorageKey,
    ) -> PyResult<Self> {
        Ok(Self {
            inner: d::UserKey::from_sealed_bytes(sealed, &key.key).or_raise()?,
        })
    }

    fn __repr__(&self) -> String {
        format!("UserKey(public={}…)", hex8(self.inner.public()))
    }
}

/// The identity key of a public user key (for safety numbers).
#[pyfunction]
fn user_identity<'py>(py: Python<'py>, user_key: &[u8]) -> PyResult<Bound<'py, PyBytes>> {
    Ok(bytes(py, &d::user_identity(&user_key_bytes(user_key)?)))
}

/// One device of a list.
#[pyclass(module = "sova", frozen, eq)]
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct DeviceEntry {
    /// The device id, unique within the list.
    #[pyo3(get)]
    device_id: u32,
    /// The device's 64-byte identity key.
    identity: Vec<u8>,
    /// The device holds the user key.
    #[pyo3(get)]
    admin: bool,
}

impl DeviceEntry {
    fn rs(&self) -> d::DeviceEntry {
        let mut identity = [0; 64];
        identity.copy_from_slice(&self.identity);
        d::DeviceEntry {
            device_id: self.device_id,
            identity,
            admin: self.admin,
        }
    }

    fn of(e: &d::DeviceEntry) -> Self {
        Self {
            device_id: e.device_id,
            identity: e.identity.to_vec(),
            admin: e.admin,
        }
    }
}

#[pymethods]
impl DeviceEntry {
    #[new]
    #[pyo3(signature = (device_id, identity, admin=false))]
    fn new(device_id: u32, identity: &[u8], admin: bool) -> PyResult<Self> {
        Ok(Self {
            device_id,
            identity: identity_key(identity)?.to_vec(),
            admin,
        })
    }

    /// The device's 64-byte identity key.
    #[getter]
    fn identity<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        bytes(py, &self.identity)
    }

    fn __repr__(&self) -> String {
        format!(
            "DeviceEntry(device_id={}, identity={}…, admin={})",
            self.device_id,
            hex8(&self.identity),
            py_bool(self.admin)
        )
    }
}

/// A device list whose encoding and signature were checked (spec §11.3).
#[pyclass(module = "sova", frozen)]
pub(crate) struct DeviceList {
    inner: d::DeviceList,
}

#[pymethods]
impl DeviceList {
    /// Checks a list's encoding and its signature by `expected_user`.
    #[staticmethod]
    fn verify(list: &[u8], expected_user: &[u8]) -> PyResult<Self> {
        Ok(Self {
            inner: d::DeviceList::verify(list, &user_key_bytes(expected_user)?).or_raise()?,
        })
    }

    /// The user key that signed it.
    #[getter]
    fn user_key<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        bytes(py, self.inner.user_key())
    }

    /// The list's epoch.
    #[getter]
    fn epoch(&self) -> u64 {
        self.inner.epoch()
    }

    /// The devices, by increasing id.
    #[getter]
    fn entries(&self) -> Vec<DeviceEntry> {
        self.inner.entries().iter().map(DeviceEntry::of).collect()
    }

    /// The entry of `device_id`, if listed.
    fn device(&self, device_id: u32) -> Option<DeviceEntry> {
        self.inner.device(device_id).map(DeviceEntry::of)
    }

    /// The signed encoding (what the server stores).
    fn to_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        bytes(py, self.inner.to_bytes())
    }

    /// The list's hash (32 bytes).
    fn hash<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        bytes(py, &self.inner.hash())
    }

    fn __repr__(&self) -> String {
        format!(
            "DeviceList(epoch={}, devices={})",
            self.inner.epoch(),
            self.inner.entries().len()
        )
    }
}

/// What `KnownUser.update` did.
#[pyclass(module = "sova", frozen, get_all)]
pub(crate) struct ListChange {
    /// A newer list was accepted (False: the same list again).
    accepted: bool,
    /// Ids of devices new in the list, or whose identity changed.
    added: Vec<u32>,
    /// Ids of devices no longer listed, or whose identity changed.
    removed: Vec<u32>,
}

impl ListChange {
    fn of(c: d::ListChange) -> Self {
        match c {
            d::ListChange::Accepted { added, removed } => Self {
                accepted: true,
                added,
                removed,
            },
            _ => Self {
                accepted: false,
                added: Vec::new(),
                removed: Vec::new(),
            },
        }
    }
}

#[pymethods]
impl ListChange {
    fn __repr__(&self) -> String {
        format!(
            "ListChange(accepted={}, added={:?}, removed={:?})",
            py_bool(self.accepted),
            self.added,
            self.removed
        )
    }
}

/// What a device believes about a person's devices (spec §11.4): the user
/// key pinned, the newest list accepted.
#[pyclass(module = "sova")]
pub(crate) struct KnownUser {
    pub(crate) inner: d::KnownUser,
}

#[pymethods]
impl KnownUser {
    /// A person from its pinned 32-byte `user_key` and a list signed by it.
    #[new]
    fn new(user_key: &[u8], list: &[u8]) -> PyResult<Self> {
        Ok(Self {
            inner: d::KnownUser::new(&user_key_bytes(user_key)?, list).or_raise()?,
        })
    }

    /// A person from a checked list.
    #[staticmethod]
    fn from_list(list: &DeviceList) -> Self {
        Self {
            inner: d::KnownUser::from_list(list.inner.clone()),
        }
    }

    /// The pinned user key.
    #[getter]
    fn user_key<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        bytes(py, self.inner.user_key())
    }

    /// The accepted list.
    #[getter]
    fn list(&self) -> DeviceList {
        DeviceList {
            inner: self.inner.list().clone(),
        }
    }

    /// The accepted list's hash.
    #[getter]
    fn list_hash<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        bytes(py, self.inner.list_hash())
    }

    /// Offers a list from the server: accepted if newer and consistent;
    /// an older one raises `DeviceListError` (`Rollback`). Nothing changes
    /// on error.
    fn update(&mut self, list: &[u8]) -> PyResult<ListChange> {
        Ok(ListChange::of(self.inner.update(list).or_raise()?))
    }

    /// The plain encoding (spec §11.9).
    fn to_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        bytes(py, &self.inner.to_bytes())
    }

    /// Restores from `to_bytes`.
    #[classmethod]
    fn from_bytes(_cls: &Bound<'_, PyType>, state: &[u8]) -> PyResult<Self> {
        Ok(Self {
            inner: d::KnownUser::from_bytes(state).or_raise()?,
        })
    }

    /// Sealed under `key` (sealed kind 4).
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

    /// Opens and restores a known user sealed by `to_sealed_bytes`.
    #[classmethod]
    fn from_sealed_bytes(
        _cls: &Bound<'_, PyType>,
        sealed: &[u8],
        key: &StorageKey,
    ) -> PyResult<Self> {
        Ok(Self {
            inner: d::KnownUser::from_sealed_bytes(sealed, &key.key).or_raise()?,
        })
    }

    fn __repr__(&self) -> String {
        format!(
            "KnownUser(user_key={}…, epoch={})",
            hex8(self.inner.user_key()),
            self.inner.list().epoch()
        )
    }
}

/// A new device's side of a link (spec §11.5).
#[pyclass(module = "sova", frozen)]
pub(crate) struct LinkRequest {
    inner: d::LinkRequest,
}

#[pymethods]
impl LinkRequest {
    /// A link request for this device's `account`: show `offer` as a QR code.
    #[new]
    fn new(account: &Account) -> PyResult<Self> {
        Ok(Self {
            inner: d::LinkRequest::new(&account.inner, &mut os_rng()).or_raise()?,
        })
    }

    /// The offer for the admin device to scan.
    #[getter]
    fn offer<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        bytes(py, self.inner.offer())
    }

    /// Opens the admin device's response.
    fn finish(&self, py: Python<'_>, response: &[u8]) -> PyResult<Linked> {
        let l = self.inner.finish(response).or_raise()?;
        Ok(Linked {
            user: Py::new(py, KnownUser { inner: l.user })?,
            device_id: l.device_id,
            user_key: l
                .user_key
                .map(|k| Py::new(py, UserKey { inner: k }))
                .transpose()?,
            data: bytes(py, &l.data).unbind(),
            code: String::from_utf8_lossy(&l.code).into_owned(),
        })
    }
}

/// What a new device learns from a link.
#[pyclass(module = "sova", frozen, get_all)]
pub(crate) struct Linked {
    /// Its person, with the new list accepted.
    user: Py<KnownUser>,
    /// Its own device id.
    device_id: u32,
    /// The user key, when linked as an admin device.
    user_key: Option<Py<UserKey>>,
    /// The application's data sent along.
    data: Py<PyBytes>,
    /// The six digits both devices show.
    code: String,
}

/// What the admin device produces.
#[pyclass(module = "sova", frozen, get_all)]
pub(crate) struct LinkApproval {
    /// The new signed list (publish it, and accept it in the admin's own
    /// `KnownUser`).
    list: Py<DeviceList>,
    /// The new device's id.
    device_id: u32,
    /// The response for the new device.
    response: Py<PyBytes>,
    /// The six digits both devices show.
    code: String,
}

/// The admin device's side of a link: checks the scanned `offer` and signs
/// the list of `current` plus the new device.
#[pyfunction]
#[pyo3(signature = (user_key, current, offer, admin=false, data=b"".as_slice()))]
fn approve_link(
    py: Python<'_>,
    user_key: &UserKey,
    current: &KnownUser,
    offer: &[u8],
    admin: bool,
    data: &[u8],
) -> PyResult<LinkApproval> {
    let a = d::approve_link(
        &user_key.inner,
        &current.inner,
        offer,
        admin,
        data,
        &mut os_rng(),
    )
    .or_raise()?;
    Ok(LinkApproval {
        list: Py::new(py, DeviceList { inner: a.list })?,
        device_id: a.device_id,
        response: bytes(py, &a.response).unbind(),
        code: String::from_utf8_lossy(&a.code).into_owned(),
    })
}

/// What the server does with a fan-out message: one `(audience, device_id,
/// device_message)` per entry, audience `"recipient"` or `"own"`.
#[pyfunction]
fn split_fanout<'py>(
    py: Python<'py>,
    fanout: &[u8],
) -> PyResult<Vec<(&'static str, u32, Bound<'py, PyBytes>)>> {
    Ok(d::fanout::split(fanout)
        .or_raise()?
        .into_iter()
        .map(|(a, id, m)| (audience_name(a), id, bytes(py, &m)))
        .collect())
}

fn audience_name(a: d::fanout::Audience) -> &'static str {
    match a {
        d::fanout::Audience::Recipient => "recipient",
        d::fanout::Audience::OwnDevice => "own",
    }
}

fn parse_device_message(message: &[u8]) -> PyResult<d::fanout::DeviceMessage<'_>> {
    d::fanout::DeviceMessage::parse(message)
        .map_err(d::FanoutError::from)
        .or_raise()
}

/// A device message (spec §11.6), what the server hands one device: its
/// fan-out header, read before it is received, to find the sender (by
/// `sender_user`) among the persons this device knows.
#[pyclass(module = "sova", frozen)]
pub(crate) struct DeviceMessage {
    header: d::fanout::FanoutHeader,
    audience: d::fanout::Audience,
    device_id: u32,
    pairwise: Vec<u8>,
}

#[pymethods]
impl DeviceMessage {
    /// Reads a device message (check 1 of spec §11.6); a malformed one
    /// raises `FanoutError` (`Malformed`). Nothing is verified yet: the
    /// fields are the sender's claims until `PeerDevices.receive` accepts it.
    #[staticmethod]
    fn parse(message: &[u8]) -> PyResult<Self> {
        let m = parse_device_message(message)?;
        Ok(Self {
            header: m.header,
            audience: m.audience,
            device_id: m.device_id,
            pairwise: m.pairwise.to_vec(),
        })
    }

    /// `UK_S`: the sender's 32-byte user key.
    #[getter]
    fn sender_user<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        bytes(py, &self.header.sender_user)
    }

    /// The sending device's id.
    #[getter]
    fn sender_device(&self) -> u32 {
        self.header.sender_device
    }

    /// The epoch of the sender's own list, as the sender holds it.
    #[getter]
    fn sender_epoch(&self) -> u64 {
        self.header.sender_epoch
    }

    /// That list's hash.
    #[getter]
    fn sender_list_hash<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        bytes(py, &self.header.sender_list_hash)
    }

    /// `UK_R`: the recipient's 32-byte user key.
    #[getter]
    fn recipient_user<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        bytes(py, &self.header.recipient_user)
    }

    /// The epoch of the recipient's list the sender encrypted to.
    #[getter]
    fn recipient_epoch(&self) -> u64 {
        self.header.recipient_epoch
    }

    /// That list's hash.
    #[getter]
    fn recipient_list_hash<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        bytes(py, &self.header.recipient_list_hash)
    }

    /// Whom the entry is for: `"recipient"` or `"own"` (the sender's own
    /// other devices).
    #[getter]
    fn audience(&self) -> &'static str {
        audience_name(self.audience)
    }

    /// The receiving device's id, as the sender addressed it.
    #[getter]
    fn device_id(&self) -> u32 {
        self.device_id
    }

    /// The pairwise message carrying the message key.
    #[getter]
    fn pairwise<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        bytes(py, &self.pairwise)
    }

    fn __repr__(&self) -> String {
        format!(
            "DeviceMessage(sender_user={}…, sender_device={}, audience={:?}, device_id={})",
            hex8(&self.header.sender_user),
            self.header.sender_device,
            audience_name(self.audience),
            self.device_id
        )
    }
}

/// A message received by fan-out. `Group.join` and `Group.accept_chain`
/// take it whole: the sender it names is the one the pairwise session
/// authenticated.
#[pyclass(module = "sova", frozen)]
pub(crate) struct FanoutReceived {
    /// The plaintext.
    #[pyo3(get)]
    plaintext: Py<PyBytes>,
    /// The sender's user key.
    #[pyo3(get)]
    sender_user: Py<PyBytes>,
    /// The sending device's id.
    #[pyo3(get)]
    sender_device: u32,
    /// The sender encrypted to our accepted list (False: tell the user).
    #[pyo3(get)]
    recipient_list_current: bool,
    /// The pairwise message's position.
    #[pyo3(get)]
    info: Py<MessageInfo>,
    /// A new session was set up through the account: persist it.
    #[pyo3(get)]
    account_changed: bool,
    /// What the library returned, for the group calls.
    pub(crate) inner: d::FanoutReceived,
}

impl FanoutReceived {
    pub(crate) fn of(py: Python<'_>, r: d::FanoutReceived) -> PyResult<Self> {
        Ok(Self {
            plaintext: bytes(py, &r.plaintext).unbind(),
            sender_user: bytes(py, &r.sender_user).unbind(),
            sender_device: r.sender_device,
            recipient_list_current: r.recipient_list_current,
            info: Py::new(py, MessageInfo::of(py, &r.info))?,
            account_changed: r.account_changed,
            inner: r,
        })
    }
}

/// One person's devices as this device talks to them (spec §11.7): the
/// accepted list and one conversation per listed device.
#[pyclass(module = "sova")]
pub(crate) struct PeerDevices {
    inner: d::PeerDevices,
}

#[pymethods]
impl PeerDevices {
    /// Another person, with no conversation yet.
    #[new]
    fn new(user: &KnownUser) -> Self {
        Self {
            inner: d::PeerDevices::new(user.inner.clone()),
        }
    }

    /// This device's own user: the peers are its other devices.
    #[staticmethod]
    fn own(user: &KnownUser, this_device: u32) -> PyResult<Self> {
        Ok(Self {
            inner: d::PeerDevices::own(user.inner.clone(), this_device).or_raise()?,
        })
    }

    /// The person as known (a copy).
    #[getter]
    fn user(&self) -> KnownUser {
        KnownUser {
            inner: self.inner.user().clone(),
        }
    }

    /// This device's id, for one's own user.
    #[getter]
    fn this_device(&self) -> Option<u32> {
        self.inner.this_device()
    }

    /// Whether the accepted list still names this device (always True for
    /// another person). False: an admin device removed this device, which
    /// can no longer send (`FanoutError`, `UnknownDevice`).
    #[getter]
    fn is_listed(&self) -> bool {
        self.inner.is_listed()
    }

    /// The listed peer devices that have no session yet: fetch their bundles.
    fn needs_bundle(&self) -> Vec<u32> {
        self.inner.needs_bundle()
    }

    /// Ids of the devices with a conversation.
    #[getter]
    fn conversation_ids(&self) -> Vec<u32> {
        self.inner.conversations().map(|(id, _)| id).collect()
    }

    /// Offers a newer list; conversations of removed devices are deleted.
    fn update(&mut self, list: &[u8]) -> PyResult<ListChange> {
        Ok(ListChange::of(self.inner.update(list).or_raise()?))
    }

    /// Starts a session with listed device `device_id` from its bundle,
    /// expecting the listed identity.
    #[pyo3(signature = (account, device_id, bundle, header_mode=HeaderMode::Encrypted))]
    fn start(
        &mut self,
        account: &Account,
        device_id: u32,
        bundle: &[u8],
        header_mode: HeaderMode,
    ) -> PyResult<()> {
        self.inner
            .start(
                &account.inner,
                device_id,
                bundle,
                header_mode.into(),
                &mut os_rng(),
            )
            .or_raise()
            .map(|_| ())
    }

    /// Puts back a conversation restored from storage for `device_id`; the
    /// `Conversation` object is moved in and can no longer be used.
    fn insert(&mut self, device_id: u32, conversation: &mut Conversation) -> PyResult<()> {
        let listed = self
            .inner
            .user()
            .list()
            .device(device_id)
            .map(|e| e.identity);
        let peer = conversation.peer_key()?;
        if listed != Some(peer) || self.inner.this_device() == Some(device_id) {
            return Err(d::FanoutError::UnlistedDevice(device_id)).or_raise();
        }
        self.inner
            .insert(device_id, conversation.take()?)
            .or_raise()
    }

    /// The plain encoding of the conversation with `device_id` (persist it
    /// with the account).
    fn conversation_to_bytes<'py>(
        &self,
        py: Python<'py>,
        device_id: u32,
    ) -> PyResult<Option<Bound<'py, PyBytes>>> {
        Ok(self
            .inner
            .conversation(device_id)
            .map(|c| bytes(py, &c.to_bytes())))
    }

    /// The conversation with `device_id` sealed under `key`.
    fn conversation_to_sealed_bytes<'py>(
        &self,
        py: Python<'py>,
        device_id: u32,
        key: &StorageKey,
    ) -> PyResult<Option<Bound<'py, PyBytes>>> {
        match self.inner.conversation(device_id) {
            None => Ok(None),
            Some(c) => Ok(Some(bytes(
                py,
                &c.to_sealed_bytes(&mut os_rng(), &key.key).or_raise()?,
            ))),
        }
    }

    /// Sends `plaintext` from this device (`own`, made with `PeerDevices.own`)
    /// to every device of `recipient` and to its own other devices: the
    /// fan-out message for the server.
    #[staticmethod]
    fn send<'py>(
        py: Python<'py>,
        own: &mut PeerDevices,
        recipient: &mut PeerDevices,
        plaintext: &[u8],
    ) -> PyResult<Bound<'py, PyBytes>> {
        let m = d::PeerDevices::send(
            &mut own.inner,
            &mut recipient.inner,
            plaintext,
            &mut os_rng(),
        )
        .or_raise()?;
        Ok(bytes(py, &m))
    }

    /// A note to self: sends `plaintext` from this device (made with
    /// `PeerDevices.own`) to its own user's other devices only (spec
    /// §11.6); the fan-out message for the server, with one entry per other
    /// listed device (none when this device is the only one).
    fn send_to_self<'py>(
        &mut self,
        py: Python<'py>,
        plaintext: &[u8],
    ) -> PyResult<Bound<'py, PyBytes>> {
        let this = self
            .inner
            .this_device()
            .filter(|_| self.inner.is_listed())
            .ok_or(d::FanoutError::UnknownDevice)
            .or_raise()?;
        let (user, mut targets) = self.inner.targets().or_raise()?;
        let m = d::fanout::encrypt(user, this, user, &mut targets, plaintext, &mut os_rng())
            .or_raise()?;
        Ok(bytes(py, &m))
    }

    /// Receives a device message from a device of this person; `own` is this
    /// device's user as it knows it. Nothing changes on error.
    fn receive(
        &mut self,
        py: Python<'_>,
        own: &KnownUser,
        account: &mut Account,
        message: &[u8],
    ) -> PyResult<FanoutReceived> {
        let m = parse_device_message(message)?;
        let r = self
            .inner
            .receive(&own.inner, &mut account.inner, &m)
            .or_raise()?;
        FanoutReceived::of(py, r)
    }

    /// Receives a device message from another device of this device's own user.
    fn receive_own(
        &mut self,
        py: Python<'_>,
        account: &mut Account,
        message: &[u8],
    ) -> PyResult<FanoutReceived> {
        let m = parse_device_message(message)?;
        let r = self.inner.receive_own(&mut account.inner, &m).or_raise()?;
        FanoutReceived::of(py, r)
    }

    fn __repr__(&self) -> String {
        format!(
            "PeerDevices(user_key={}…, epoch={}, conversations={})",
            hex8(self.inner.user().user_key()),
            self.inner.user().list().epoch(),
            self.inner.conversations().count()
        )
    }
}
