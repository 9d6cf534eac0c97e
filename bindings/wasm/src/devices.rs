//! Several devices per person (spec §11): the user key, device lists,
//! known users, linking and fan-out.

use js_sys::{Array, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use zeroize::Zeroizing;

use crate::errors::js;
use crate::session::{Account, Conversation};
use crate::{
    array, header_mode, identity_key, ids, message_info, object, out, range, rng, sealing_key,
};

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &'static str = r#"
/** One device of a signed device list (spec §11.3). */
export interface DeviceEntry {
  /** Its id in the list (1 and up, strictly increasing in a list). */
  deviceId: number;
  /** The device account's identity key (64 bytes). */
  identity: Uint8Array;
  /** Whether it holds the user key (may link and remove devices). */
  admin: boolean;
}

/** What accepting a device list changed. */
export interface ListChange {
  /** false: the same list again. */
  changed: boolean;
  /** Ids of devices new in the list, or whose identity changed. */
  added: number[];
  /** Ids of devices no longer listed, or whose identity changed. */
  removed: number[];
}

/** "recipient": a device of the person written to; "own": another device of the sender. */
export type Audience = "recipient" | "own";

/** One part of a fan-out message, for one device. */
export interface FanoutPart {
  audience: Audience;
  deviceId: number;
  /** The device message to deliver to that device. */
  message: Uint8Array;
}

/** The routing fields of a device message (spec §11.6), readable by the server. */
export interface DeviceMessageHeader {
  /** The sending user's key (32 bytes). */
  senderUser: Uint8Array;
  senderDevice: number;
  senderEpoch: bigint;
  /** The recipient user's key (32 bytes). */
  recipientUser: Uint8Array;
  recipientEpoch: bigint;
  audience: Audience;
  deviceId: number;
}

/** A message received by fan-out. */
export interface FanoutReceived {
  plaintext: Uint8Array;
  /** The sender's user key. */
  senderUser: Uint8Array;
  /** The sending device's id in the sender's list. */
  senderDevice: number;
  /** false: the sender encrypted to an older list of ours; tell the user. */
  recipientListCurrent: boolean;
  info: MessageInfo;
  /** A new session was accepted through the account: persist the account. */
  accountChanged: boolean;
  /** What `Group.join` and `Group.acceptChain` take: the plaintext with
   *  the sender the pairwise session authenticated. */
  receipt: FanoutReceipt;
}

/** What a new device learns from a successful link. */
export interface Linked {
  /** Its person, with the new list accepted. */
  user: KnownUser;
  /** Its own device id in that list. */
  deviceId: number;
  /** The user key, when linked as an admin device. */
  userKey?: UserKey;
  /** The application's data sent by the admin device. */
  data: Uint8Array;
  /** The six digits both devices show. */
  code: string;
}

/** What the admin device produces when it approves a link. */
export interface LinkApproval {
  /** The new signed list: publish it and accept it in the admin's own KnownUser. */
  list: Uint8Array;
  /** The new device's id. */
  deviceId: number;
  /** The response for the new device (through the server). */
  response: Uint8Array;
  /** The six digits both devices show. */
  code: string;
}
"#;

/// A person's user key (spec §11.2): it signs the person's device lists.
/// Held by admin devices only; persist it sealed.
#[wasm_bindgen]
pub struct UserKey(pub(crate) sova::devices::UserKey);

#[wasm_bindgen]
impl UserKey {
    /// A new user key.
    pub fn generate() -> Result<UserKey, JsValue> {
        sova::devices::UserKey::generate(&mut rng())
            .map(Self)
            .map_err(js)
    }

    /// The public key (32 bytes): what contacts pin.
    #[wasm_bindgen(getter, js_name = publicKey)]
    pub fn public_key(&self) -> Uint8Array {
        Uint8Array::from(&self.0.public()[..])
    }

    /// The user identity (64 bytes) for safety numbers between people.
    #[wasm_bindgen(getter, js_name = userIdentity)]
    pub fn user_identity(&self) -> Uint8Array {
        Uint8Array::from(&self.0.user_identity()[..])
    }

    /// Signs a device list of `epoch` (which must grow with each list).
    #[wasm_bindgen(js_name = signList)]
    pub fn sign_list(
        &self,
        epoch: u64,
        #[wasm_bindgen(unchecked_param_type = "DeviceEntry[]")] entries: Array,
    ) -> Result<Uint8Array, JsValue> {
        let entries = entries
            .iter()
            .map(|e| device_entry(&e))
            .collect::<Result<Vec<_>, _>>()?;
        let list = self.0.sign_list(epoch, &entries).map_err(js)?;
        Ok(Uint8Array::from(list.to_bytes()))
    }

    /// The user key's encoding (spec §11.9): a private key; prefer
    /// `toSealedBytes`.
    #[wasm_bindgen(js_name = toBytes)]
    pub fn to_bytes(&self) -> Uint8Array {
        out(self.0.to_bytes())
    }

    /// The user key sealed under a 32-byte key.
    #[wasm_bindgen(js_name = toSealedBytes)]
    pub fn to_sealed_bytes(&self, key: Vec<u8>) -> Result<Uint8Array, JsValue> {
        let key = sealing_key(key)?;
        Ok(out(self.0.to_sealed_bytes(&mut rng(), &key).map_err(js)?))
    }

    /// Restores a user key from `toBytes`.
    #[wasm_bindgen(js_name = fromBytes)]
    pub fn from_bytes(bytes: Vec<u8>) -> Result<UserKey, JsValue> {
        let bytes = Zeroizing::new(bytes);
        sova::devices::UserKey::from_bytes(&bytes)
            .map(Self)
            .map_err(js)
    }

    /// Restores a user key from `toSealedBytes` with the same key.
    #[wasm_bindgen(js_name = fromSealedBytes)]
    pub fn from_sealed_bytes(sealed: &[u8], key: Vec<u8>) -> Result<UserKey, JsValue> {
        let key = sealing_key(key)?;
        sova::devices::UserKey::from_sealed_bytes(sealed, &key)
            .map(Self)
            .map_err(js)
    }
}

/// The user identity (64 bytes) of a user key (32 bytes), for safety
/// numbers between people.
#[wasm_bindgen(js_name = userIdentity)]
pub fn user_identity(user_key: &[u8]) -> Result<Uint8Array, JsValue> {
    let k = array::<32>(user_key, "a user key")?;
    Ok(Uint8Array::from(&sova::devices::user_identity(&k)[..]))
}

fn device_entry(v: &JsValue) -> Result<sova::devices::DeviceEntry, JsValue> {
    let field = |name: &str| Reflect::get(v, &JsValue::from_str(name));
    let device_id = field("deviceId")?
        .as_f64()
        .filter(|n| n.fract() == 0.0 && *n >= 0.0 && *n <= f64::from(u32::MAX))
        .ok_or_else(|| range("deviceId must be an integer from 0 to 2^32-1"))?;
    let identity = field("identity")?
        .dyn_into::<Uint8Array>()
        .map_err(|_| range("identity must be a Uint8Array"))?
        .to_vec();
    Ok(sova::devices::DeviceEntry {
        device_id: device_id as u32,
        identity: identity_key(&identity)?,
        admin: field("admin")?.is_truthy(),
    })
}

fn entry_object(e: &sova::devices::DeviceEntry) -> Result<JsValue, JsValue> {
    Ok(object(&[
        ("deviceId", e.device_id.into()),
        ("identity", Uint8Array::from(&e.identity[..]).into()),
        ("admin", e.admin.into()),
    ])?
    .into())
}

pub(crate) fn list_change(c: &sova::devices::ListChange) -> Result<JsValue, JsValue> {
    let (changed, added, removed) = match c {
        sova::devices::ListChange::Accepted { added, removed } => (true, ids(added), ids(removed)),
        _ => (false, Array::new(), Array::new()),
    };
    Ok(object(&[
        ("changed", changed.into()),
        ("added", added.into()),
        ("removed", removed.into()),
    ])?
    .into())
}

/// A person as this device knows them (spec §11.4): the pinned user key
/// and the accepted device list, which only moves forward.
#[wasm_bindgen]
pub struct KnownUser(pub(crate) sova::devices::KnownUser);

#[wasm_bindgen]
impl KnownUser {
    /// A person first seen with this list, which `userKey` (32 bytes, from
    /// a contact card or a safety-number check) must have signed.
    #[wasm_bindgen(constructor)]
    pub fn new(user_key: &[u8], list: &[u8]) -> Result<KnownUser, JsValue> {
        let k = array::<32>(user_key, "a user key")?;
        sova::devices::KnownUser::new(&k, list)
            .map(Self)
            .map_err(js)
    }

    /// Offers a newer list; refused lists (`Rollback`, `Equivocation`,
    /// `WrongUser`, …) change nothing.
    #[wasm_bindgen(unchecked_return_type = "ListChange")]
    pub fn update(&mut self, list: &[u8]) -> Result<JsValue, JsValue> {
        list_change(&self.0.update(list).map_err(js)?)
    }

    /// The pinned user key (32 bytes).
    #[wasm_bindgen(getter, js_name = userKey)]
    pub fn user_key(&self) -> Uint8Array {
        Uint8Array::from(&self.0.user_key()[..])
    }

    /// The user identity (64 bytes), for safety numbers between people.
    #[wasm_bindgen(getter, js_name = userIdentity)]
    pub fn user_identity(&self) -> Uint8Array {
        Uint8Array::from(&sova::devices::user_identity(self.0.user_key())[..])
    }

    /// The accepted list's epoch.
    #[wasm_bindgen(getter)]
    pub fn epoch(&self) -> u64 {
        self.0.list().epoch()
    }

    /// The accepted list's hash (32 bytes).
    #[wasm_bindgen(getter, js_name = listHash)]
    pub fn list_hash(&self) -> Uint8Array {
        Uint8Array::from(&self.0.list_hash()[..])
    }

    /// The accepted list's encoding.
    #[wasm_bindgen(getter)]
    pub fn list(&self) -> Uint8Array {
        Uint8Array::from(self.0.list().to_bytes())
    }

    /// The listed devices.
    #[wasm_bindgen(unchecked_return_type = "DeviceEntry[]")]
    pub fn devices(&self) -> Result<Array, JsValue> {
        self.0.list().entries().iter().map(entry_object).collect()
    }

    /// A copy of this person's state.
    #[wasm_bindgen(js_name = clone)]
    pub fn duplicate(&self) -> KnownUser {
        Self(self.0.clone())
    }

    /// The encoding (spec §11.9).
    #[wasm_bindgen(js_name = toBytes)]
    pub fn to_bytes(&self) -> Uint8Array {
        out(self.0.to_bytes())
    }

    /// Sealed under a 32-byte key (sealed kind 4).
    #[wasm_bindgen(js_name = toSealedBytes)]
    pub fn to_sealed_bytes(&self, key: Vec<u8>) -> Result<Uint8Array, JsValue> {
        let key = sealing_key(key)?;
        Ok(out(self.0.to_sealed_bytes(&mut rng(), &key).map_err(js)?))
    }

    /// Restores from `toBytes`.
    #[wasm_bindgen(js_name = fromBytes)]
    pub fn from_bytes(bytes: Vec<u8>) -> Result<KnownUser, JsValue> {
        let bytes = Zeroizing::new(bytes);
        sova::devices::KnownUser::from_bytes(&bytes)
            .map(Self)
            .map_err(js)
    }

    /// Restores from `toSealedBytes` with the same key.
    #[wasm_bindgen(js_name = fromSealedBytes)]
    pub fn from_sealed_bytes(sealed: &[u8], key: Vec<u8>) -> Result<KnownUser, JsValue> {
        let key = sealing_key(key)?;
        sova::devices::KnownUser::from_sealed_bytes(sealed, &key)
            .map(Self)
            .map_err(js)
    }
}

/// One person's devices as this device talks to them (spec §11.7): the
/// accepted list and one conversation per listed device, each bound to the
/// listed identity.
#[wasm_bindgen]
pub struct PeerDevices(sova::devices::PeerDevices);

#[wasm_bindgen]
impl PeerDevices {
    /// Another person (a copy of `user` is kept), with no conversation yet.
    #[wasm_bindgen(constructor)]
    pub fn new(user: &KnownUser) -> PeerDevices {
        Self(sova::devices::PeerDevices::new(user.0.clone()))
    }

    /// This device's own user: the peers are its other devices;
    /// `thisDevice` is this device's id in the list.
    pub fn own(user: &KnownUser, this_device: u32) -> Result<PeerDevices, JsValue> {
        sova::devices::PeerDevices::own(user.0.clone(), this_device)
            .map(Self)
            .map_err(js)
    }

    /// The person and the accepted list (a copy).
    #[wasm_bindgen(getter)]
    pub fn user(&self) -> KnownUser {
        KnownUser(self.0.user().clone())
    }

    /// This device's id, for its own user's devices.
    #[wasm_bindgen(getter, js_name = thisDevice)]
    pub fn this_device(&self) -> Option<u32> {
        self.0.this_device()
    }

    /// Whether the accepted list still names this device.
    #[wasm_bindgen(getter, js_name = isListed)]
    pub fn is_listed(&self) -> bool {
        self.0.is_listed()
    }

    /// The listed peer devices.
    #[wasm_bindgen(unchecked_return_type = "DeviceEntry[]")]
    pub fn devices(&self) -> Result<Array, JsValue> {
        self.0.devices().map(entry_object).collect()
    }

    /// Ids of listed peer devices without a session: fetch each one's
    /// bundle and `start` a session before sending.
    #[wasm_bindgen(js_name = needsBundle)]
    pub fn needs_bundle(&self) -> Vec<u32> {
        self.0.needs_bundle()
    }

    /// Offers a newer list of the person; the conversations of removed
    /// devices are deleted.
    #[wasm_bindgen(unchecked_return_type = "ListChange")]
    pub fn update(&mut self, list: &[u8]) -> Result<JsValue, JsValue> {
        list_change(&self.0.update(list).map_err(js)?)
    }

    /// Starts a session with a listed device from its bundle, expecting the
    /// listed identity.
    pub fn start(
        &mut self,
        account: &Account,
        device_id: u32,
        bundle: &[u8],
        mode: Option<String>,
    ) -> Result<(), JsValue> {
        self.0
            .start(
                &account.0,
                device_id,
                bundle,
                header_mode(mode)?,
                &mut rng(),
            )
            .map(|_| ())
            .map_err(js)
    }

    /// Ids of the devices a conversation is held with.
    #[wasm_bindgen(js_name = conversationIds)]
    pub fn conversation_ids(&self) -> Vec<u32> {
        self.0.conversations().map(|(id, _)| id).collect()
    }

    /// The encoding of the conversation with a device, or `undefined`
    /// (persist each with its device id; put back with `insert`).
    #[wasm_bindgen(js_name = conversationToBytes)]
    pub fn conversation_to_bytes(&self, device_id: u32) -> Option<Uint8Array> {
        self.0.conversation(device_id).map(|c| out(c.to_bytes()))
    }

    /// The conversation with a device sealed under a 32-byte key, or
    /// `undefined`.
    #[wasm_bindgen(js_name = conversationToSealedBytes)]
    pub fn conversation_to_sealed_bytes(
        &self,
        device_id: u32,
        key: Vec<u8>,
    ) -> Result<Option<Uint8Array>, JsValue> {
        let key = sealing_key(key)?;
        match self.0.conversation(device_id) {
            None => Ok(None),
            Some(c) => Ok(Some(out(c
                .to_sealed_bytes(&mut rng(), &key)
                .map_err(js)?))),
        }
    }

    /// Puts back a restored conversation with a listed device (the
    /// `Conversation` object is consumed).
    pub fn insert(&mut self, device_id: u32, conversation: Conversation) -> Result<(), JsValue> {
        self.0.insert(device_id, conversation.0).map_err(js)
    }

    /// Sends `plaintext` from this device (`own`) to every listed device
    /// of `recipient` and to its own user's other devices: the fan-out
    /// message for the server.
    pub fn send(
        own: &mut PeerDevices,
        recipient: &mut PeerDevices,
        plaintext: Vec<u8>,
    ) -> Result<Uint8Array, JsValue> {
        let plaintext = Zeroizing::new(plaintext);
        let wire =
            sova::devices::PeerDevices::send(&mut own.0, &mut recipient.0, &plaintext, &mut rng())
                .map_err(js)?;
        Ok(Uint8Array::from(&wire[..]))
    }

    /// Receives a device message from a device of this person; `own` is
    /// this device's user as it knows it.
    #[wasm_bindgen(unchecked_return_type = "FanoutReceived")]
    pub fn receive(
        &mut self,
        own: &KnownUser,
        account: &mut Account,
        message: &[u8],
    ) -> Result<JsValue, JsValue> {
        let msg = sova::devices::fanout::DeviceMessage::parse(message)
            .map_err(sova::devices::FanoutError::from)
            .map_err(js)?;
        fanout_received(self.0.receive(&own.0, &mut account.0, &msg).map_err(js)?)
    }

    /// Receives a device message from another device of this device's own
    /// user.
    #[wasm_bindgen(js_name = receiveOwn, unchecked_return_type = "FanoutReceived")]
    pub fn receive_own(
        &mut self,
        account: &mut Account,
        message: &[u8],
    ) -> Result<JsValue, JsValue> {
        let msg = sova::devices::fanout::DeviceMessage::parse(message)
            .map_err(sova::devices::FanoutError::from)
            .map_err(js)?;
        fanout_received(self.0.receive_own(&mut account.0, &msg).map_err(js)?)
    }
}

/// A message as the fan-out layer received it, sender authenticated: what
/// `Group.join` and `Group.acceptChain` take, so that no caller can name
/// another sender than the pairwise session it came over.
#[wasm_bindgen]
pub struct FanoutReceipt(pub(crate) sova::devices::FanoutReceived);

fn fanout_received(got: sova::devices::FanoutReceived) -> Result<JsValue, JsValue> {
    let info = message_info(&got.info)?;
    Ok(object(&[
        ("senderUser", Uint8Array::from(&got.sender_user[..]).into()),
        ("senderDevice", got.sender_device.into()),
        ("recipientListCurrent", got.recipient_list_current.into()),
        ("info", info),
        ("accountChanged", got.account_changed.into()),
        ("plaintext", Uint8Array::from(&got.plaintext[..]).into()),
        ("receipt", FanoutReceipt(got).into()),
    ])?
    .into())
}

fn audience(a: sova::devices::fanout::Audience) -> JsValue {
    match a {
        sova::devices::fanout::Audience::Recipient => "recipient".into(),
        sova::devices::fanout::Audience::OwnDevice => "own".into(),
    }
}

/// Cuts a fan-out message into its device messages, as the server does.
#[wasm_bindgen(js_name = splitFanout, unchecked_return_type = "FanoutPart[]")]
pub fn split_fanout(fanout: &[u8]) -> Result<Array, JsValue> {
    let parts = sova::devices::fanout::split(fanout)
        .map_err(sova::devices::FanoutError::from)
        .map_err(js)?;
    parts
        .into_iter()
        .map(|(a, id, message)| -> Result<JsValue, JsValue> {
            Ok(object(&[
                ("audience", audience(a)),
                ("deviceId", id.into()),
                ("message", Uint8Array::from(&message[..]).into()),
            ])?
            .into())
        })
        .collect()
}

/// The routing fields of a device message: who sent it, to which device.
#[wasm_bindgen(js_name = parseDeviceMessage, unchecked_return_type = "DeviceMessageHeader")]
pub fn parse_device_message(message: &[u8]) -> Result<JsValue, JsValue> {
    let m = sova::devices::fanout::DeviceMessage::parse(message)
        .map_err(sova::devices::FanoutError::from)
        .map_err(js)?;
    let h = &m.header;
    Ok(object(&[
        ("senderUser", Uint8Array::from(&h.sender_user[..]).into()),
        ("senderDevice", h.sender_device.into()),
        ("senderEpoch", h.sender_epoch.into()),
        (
            "recipientUser",
            Uint8Array::from(&h.recipient_user[..]).into(),
        ),
        ("recipientEpoch", h.recipient_epoch.into()),
        ("audience", audience(m.audience)),
        ("deviceId", m.device_id.into()),
    ])?
    .into())
}

fn digits(code: &[u8; 6]) -> String {
    code.iter().map(|b| char::from(*b)).collect()
}

/// A new device's side of linking (spec §11.5): its offer (the QR code's
/// payload), then the admin device's response.
#[wasm_bindgen]
pub struct LinkRequest(sova::devices::LinkRequest);

#[wasm_bindgen]
impl LinkRequest {
    /// Starts linking the new device's account.
    #[wasm_bindgen(constructor)]
    pub fn new(account: &Account) -> Result<LinkRequest, JsValue> {
        sova::devices::LinkRequest::new(&account.0, &mut rng())
            .map(Self)
            .map_err(js)
    }

    /// The offer, for the admin device to scan.
    #[wasm_bindgen(getter)]
    pub fn offer(&self) -> Uint8Array {
        Uint8Array::from(self.0.offer())
    }

    /// Reads the admin device's response; compare `code` with the admin's.
    #[wasm_bindgen(unchecked_return_type = "Linked")]
    pub fn finish(&self, response: &[u8]) -> Result<JsValue, JsValue> {
        let linked = self.0.finish(response).map_err(js)?;
        let code = digits(&linked.code);
        let data = Uint8Array::from(&linked.data[..]);
        Ok(object(&[
            ("user", KnownUser(linked.user).into()),
            ("deviceId", linked.device_id.into()),
            (
                "userKey",
                linked
                    .user_key
                    .map(|k| UserKey(k).into())
                    .unwrap_or(JsValue::UNDEFINED),
            ),
            ("data", data.into()),
            ("code", code.into()),
        ])?
        .into())
    }
}

/// The admin device's side of linking: checks the scanned offer, signs the
/// list `current` plus the new device, and seals the response with `data`
/// (contacts, history…) for it. Nothing changes: publish `list` and accept
/// it in the admin's own `KnownUser`.
#[wasm_bindgen(js_name = approveLink, unchecked_return_type = "LinkApproval")]
pub fn approve_link(
    user_key: &UserKey,
    current: &KnownUser,
    offer: &[u8],
    admin: bool,
    data: Vec<u8>,
) -> Result<JsValue, JsValue> {
    let data = Zeroizing::new(data);
    let a = sova::devices::approve_link(&user_key.0, &current.0, offer, admin, &data, &mut rng())
        .map_err(js)?;
    Ok(object(&[
        ("list", Uint8Array::from(a.list.to_bytes()).into()),
        ("deviceId", a.device_id.into()),
        ("response", Uint8Array::from(&a.response[..]).into()),
        ("code", digits(&a.code).into()),
    ])?
    .into())
}
