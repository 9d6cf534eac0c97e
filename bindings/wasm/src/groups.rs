//! Groups (spec §12): the people this device knows (a `Directory`), and
//! one device's view of a group, whose operations, welcomes, chain offers
//! and messages the application carries as bytes.

use js_sys::{Array, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use zeroize::Zeroizing;

use crate::devices::{list_change, FanoutReceipt, KnownUser};
use crate::errors::js;
use crate::session::Account;
use crate::{array, object, out, range, rng, sealing_key};

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &'static str = r#"
/** A member's role (spec §12.2): an admin may also add, remove and change roles. */
export type GroupRole = "admin" | "member";

/** One member of a group's roster. */
export interface GroupMember {
  /** The person's user key (32 bytes). */
  user: Uint8Array;
  role: GroupRole;
}

/** A new group and its create operation (for the server's log). */
export interface GroupCreated {
  group: Group;
  /** The create operation: send each other member a welcome for it. */
  operation: Uint8Array;
}

/**
 * What applying an operation did: "advanced" (a new epoch: start a fresh
 * chain before sending), "unchanged" (the operation already applied), or
 * another outcome of the library's resolution rule (spec §12.4), named the
 * same way; check `needsChain` after any of them.
 */
export type GroupApplied = "advanced" | "unchanged" | (string & {});

/** A group message this device read. */
export interface GroupReceived {
  plaintext: Uint8Array;
  /** The sender's user key (32 bytes). */
  senderUser: Uint8Array;
  /** The sending device's id in the sender's list. */
  senderDevice: number;
  /** The message's index in its chain. */
  index: number;
}
"#;

/// The people this device knows (spec §11.4), by user key: what a group
/// checks signers and senders against. It holds copies; offer newer lists
/// through `update` (or `add` again).
#[wasm_bindgen]
#[derive(Default)]
pub struct Directory(Vec<sova::devices::KnownUser>);

impl Directory {
    fn position(&self, user: &[u8; 32]) -> Option<usize> {
        self.0.iter().position(|k| k.user_key() == user)
    }
}

#[wasm_bindgen]
impl Directory {
    /// An empty directory.
    #[wasm_bindgen(constructor)]
    pub fn new() -> Directory {
        Self::default()
    }

    /// Adds a copy of a person; for a person already known, offers its
    /// list instead (as `update`: a rollback is refused and changes
    /// nothing).
    #[wasm_bindgen(unchecked_return_type = "ListChange")]
    pub fn add(&mut self, user: &KnownUser) -> Result<JsValue, JsValue> {
        match self.position(user.0.user_key()) {
            Some(at) => {
                let known = self.0.get_mut(at).ok_or_else(|| range("no such user"))?;
                list_change(&known.update(user.0.list().to_bytes()).map_err(js)?)
            }
            None => {
                self.0.push(user.0.clone());
                list_change(&sova::devices::ListChange::Accepted {
                    added: user
                        .0
                        .list()
                        .entries()
                        .iter()
                        .map(|e| e.device_id)
                        .collect(),
                    removed: Vec::new(),
                })
            }
        }
    }

    /// Offers a newer list of a known person (`userKey`, 32 bytes).
    #[wasm_bindgen(unchecked_return_type = "ListChange")]
    pub fn update(&mut self, user_key: &[u8], list: &[u8]) -> Result<JsValue, JsValue> {
        let k = array::<32>(user_key, "a user key")?;
        let at = self
            .position(&k)
            .ok_or_else(|| range("the directory does not know this user key"))?;
        let known = self.0.get_mut(at).ok_or_else(|| range("no such user"))?;
        list_change(&known.update(list).map_err(js)?)
    }

    /// A copy of the person with this user key, or `undefined`.
    pub fn get(&self, user_key: &[u8]) -> Result<Option<KnownUser>, JsValue> {
        let k = array::<32>(user_key, "a user key")?;
        Ok(self
            .position(&k)
            .and_then(|at| self.0.get(at))
            .map(|u| KnownUser(u.clone())))
    }

    /// Forgets a person; whether it was known.
    pub fn remove(&mut self, user_key: &[u8]) -> Result<bool, JsValue> {
        let k = array::<32>(user_key, "a user key")?;
        Ok(match self.position(&k) {
            Some(at) => {
                self.0.remove(at);
                true
            }
            None => false,
        })
    }

    /// How many people it holds.
    #[wasm_bindgen(getter)]
    pub fn size(&self) -> usize {
        self.0.len()
    }
}

fn role(r: sova::groups::Role) -> &'static str {
    match r {
        sova::groups::Role::Admin => "admin",
        sova::groups::Role::Member => "member",
    }
}

fn member(v: &JsValue) -> Result<sova::groups::Member, JsValue> {
    let field = |name: &str| Reflect::get(v, &JsValue::from_str(name));
    let user = field("user")?
        .dyn_into::<Uint8Array>()
        .map_err(|_| range("a member's user must be a Uint8Array"))?
        .to_vec();
    let role = match field("role")?.as_string().as_deref() {
        Some("admin") => sova::groups::Role::Admin,
        Some("member") => sova::groups::Role::Member,
        _ => return Err(range("a member's role must be \"admin\" or \"member\"")),
    };
    Ok(sova::groups::Member {
        user: array::<32>(&user, "a member's user key")?,
        role,
    })
}

fn member_object(m: &sova::groups::Member) -> Result<JsValue, JsValue> {
    Ok(object(&[
        ("user", Uint8Array::from(&m.user[..]).into()),
        ("role", role(m.role).into()),
    ])?
    .into())
}

/// The outcome's name: the variant's, first letter lowered, so that a
/// variant the library adds or drops needs no change here.
fn applied_name(a: &sova::groups::Applied) -> String {
    let name = format!("{a:?}");
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_ascii_lowercase().to_string() + chars.as_str(),
        None => name,
    }
}

/// One device's state of one group (spec §12): the roster at the current
/// epoch, its sending chain and the chains it received. Persist it (sealed)
/// after every call that succeeds, before what it produced leaves the
/// device.
#[wasm_bindgen]
pub struct Group(sova::groups::Group);

#[wasm_bindgen]
impl Group {
    /// Creates a group with the first roster `members` (listing `ownUser`
    /// as an admin) and signs its creation with `account`, the device
    /// `ownDevice` of `ownUser`. Send each other member a `welcome` for the
    /// operation by fan-out.
    #[wasm_bindgen(unchecked_return_type = "GroupCreated")]
    pub fn create(
        account: &Account,
        own_user: &[u8],
        own_device: u32,
        #[wasm_bindgen(unchecked_param_type = "GroupMember[]")] members: Array,
        directory: &Directory,
    ) -> Result<JsValue, JsValue> {
        let own = array::<32>(own_user, "a user key")?;
        let members = members
            .iter()
            .map(|m| member(&m))
            .collect::<Result<Vec<_>, _>>()?;
        let (group, op) = sova::groups::Group::create(
            &mut rng(),
            &account.0,
            own,
            own_device,
            &members,
            &directory.0,
        )
        .map_err(js)?;
        Ok(object(&[
            ("group", Group(group).into()),
            ("operation", Uint8Array::from(&op[..]).into()),
        ])?
        .into())
    }

    /// Joins a group from a welcome: the `receipt` of the fan-out message
    /// that carried it (the sender is the one its pairwise session
    /// authenticated).
    pub fn join(
        own_user: &[u8],
        own_device: u32,
        welcome: &FanoutReceipt,
        directory: &Directory,
    ) -> Result<Group, JsValue> {
        let own = array::<32>(own_user, "a user key")?;
        sova::groups::Group::join(own, own_device, &welcome.0, &directory.0)
            .map(Self)
            .map_err(js)
    }

    /// The welcome for the operation that made the current epoch, for the
    /// member it created the group with or added (send it by fan-out).
    pub fn welcome(&self, operation: &[u8]) -> Result<Uint8Array, JsValue> {
        Ok(Uint8Array::from(
            &self.0.welcome(operation).map_err(js)?[..],
        ))
    }

    /// The group's id (32 bytes).
    #[wasm_bindgen(getter, js_name = groupId)]
    pub fn group_id(&self) -> Uint8Array {
        Uint8Array::from(&self.0.group_id()[..])
    }

    /// The current epoch.
    #[wasm_bindgen(getter)]
    pub fn epoch(&self) -> u64 {
        self.0.epoch()
    }

    /// The current epoch's state hash (32 bytes): members who hold the same
    /// one hold the same roster and history.
    #[wasm_bindgen(getter, js_name = stateHash)]
    pub fn state_hash(&self) -> Uint8Array {
        Uint8Array::from(&self.0.state_hash()[..])
    }

    /// The roster, sorted by user key: send chain offers and welcomes to
    /// these people's devices, and only to them.
    #[wasm_bindgen(unchecked_return_type = "GroupMember[]")]
    pub fn members(&self) -> Result<Array, JsValue> {
        self.0.members().iter().map(member_object).collect()
    }

    /// Whether this device's own user is still a member.
    #[wasm_bindgen(getter, js_name = isMember)]
    pub fn is_member(&self) -> bool {
        self.0.is_member()
    }

    /// Whether this device must start a chain before it sends.
    #[wasm_bindgen(getter, js_name = needsChain)]
    pub fn needs_chain(&self) -> bool {
        self.0.needs_chain()
    }

    /// Adds a member: signs the operation with `account`, applies it here
    /// and returns it for the server. Then send the new member a welcome
    /// and every member a fresh chain.
    pub fn add(
        &mut self,
        account: &Account,
        #[wasm_bindgen(unchecked_param_type = "GroupMember")] member: JsValue,
        directory: &Directory,
    ) -> Result<Uint8Array, JsValue> {
        let m = self::member(&member)?;
        let op = self.0.add(&account.0, m, &directory.0).map_err(js)?;
        Ok(Uint8Array::from(&op[..]))
    }

    /// Removes the person with user key `user` (or leaves, for one's own);
    /// returns the operation for the server.
    pub fn remove(
        &mut self,
        account: &Account,
        user: &[u8],
        directory: &Directory,
    ) -> Result<Uint8Array, JsValue> {
        let u = array::<32>(user, "a user key")?;
        let op = self.0.remove(&account.0, &u, &directory.0).map_err(js)?;
        Ok(Uint8Array::from(&op[..]))
    }

    /// Changes a member's role; returns the operation for the server.
    #[wasm_bindgen(js_name = changeRole)]
    pub fn change_role(
        &mut self,
        account: &Account,
        #[wasm_bindgen(unchecked_param_type = "GroupMember")] member: JsValue,
        directory: &Directory,
    ) -> Result<Uint8Array, JsValue> {
        let m = self::member(&member)?;
        let op = self
            .0
            .change_role(&account.0, m, &directory.0)
            .map_err(js)?;
        Ok(Uint8Array::from(&op[..]))
    }

    /// Applies an operation from the server's log (spec §12.3, §12.4).
    #[wasm_bindgen(unchecked_return_type = "GroupApplied")]
    pub fn apply(&mut self, operation: &[u8], directory: &Directory) -> Result<String, JsValue> {
        let a = self.0.apply(operation, &directory.0).map_err(js)?;
        Ok(applied_name(&a))
    }

    /// Starts a fresh sending chain signed by `account` and returns its
    /// chain offer: send it by fan-out to every member's devices and to
    /// this user's other devices, never otherwise.
    #[wasm_bindgen(js_name = startChain)]
    pub fn start_chain(&mut self, account: &Account) -> Result<Uint8Array, JsValue> {
        Ok(out(self
            .0
            .start_chain(&mut rng(), &account.0)
            .map_err(js)?))
    }

    /// Accepts a chain offer: the `receipt` of the fan-out message that
    /// carried it (the sender is the one its pairwise session
    /// authenticated).
    #[wasm_bindgen(js_name = acceptChain)]
    pub fn accept_chain(
        &mut self,
        offer: &FanoutReceipt,
        directory: &Directory,
    ) -> Result<(), JsValue> {
        self.0.accept_chain(&offer.0, &directory.0).map_err(js)
    }

    /// Encrypts a group message (for the server) on this device's chain.
    pub fn encrypt(&mut self, plaintext: Vec<u8>) -> Result<Uint8Array, JsValue> {
        let plaintext = Zeroizing::new(plaintext);
        Ok(Uint8Array::from(
            &self.0.encrypt(&plaintext).map_err(js)?[..],
        ))
    }

    /// Decrypts a group message; a refused one changes nothing.
    #[wasm_bindgen(unchecked_return_type = "GroupReceived")]
    pub fn decrypt(&mut self, message: &[u8], directory: &Directory) -> Result<JsValue, JsValue> {
        let got = self.0.decrypt(message, &directory.0).map_err(js)?;
        Ok(object(&[
            ("senderUser", Uint8Array::from(&got.sender_user[..]).into()),
            ("senderDevice", got.sender_device.into()),
            ("index", got.index.into()),
            ("plaintext", out(got.plaintext).into()),
        ])?
        .into())
    }

    /// A copy of the group's state.
    #[wasm_bindgen(js_name = clone)]
    pub fn duplicate(&self) -> Group {
        Self(self.0.clone())
    }

    /// The encoding (spec §12.8): it holds secrets; prefer `toSealedBytes`.
    #[wasm_bindgen(js_name = toBytes)]
    pub fn to_bytes(&self) -> Uint8Array {
        out(self.0.to_bytes())
    }

    /// Sealed under a 32-byte key (sealed kind 6).
    #[wasm_bindgen(js_name = toSealedBytes)]
    pub fn to_sealed_bytes(&self, key: Vec<u8>) -> Result<Uint8Array, JsValue> {
        let key = sealing_key(key)?;
        Ok(out(self.0.to_sealed_bytes(&mut rng(), &key).map_err(js)?))
    }

    /// Restores from `toBytes`.
    #[wasm_bindgen(js_name = fromBytes)]
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Group, JsValue> {
        let bytes = Zeroizing::new(bytes);
        sova::groups::Group::from_bytes(&bytes)
            .map(Self)
            .map_err(js)
    }

    /// Restores from `toSealedBytes` with the same key.
    #[wasm_bindgen(js_name = fromSealedBytes)]
    pub fn from_sealed_bytes(sealed: &[u8], key: Vec<u8>) -> Result<Group, JsValue> {
        let key = sealing_key(key)?;
        sova::groups::Group::from_sealed_bytes(sealed, &key)
            .map(Self)
            .map_err(js)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applied_names_are_lower_camel() {
        assert_eq!(applied_name(&sova::groups::Applied::Advanced), "advanced");
        assert_eq!(applied_name(&sova::groups::Applied::Unchanged), "unchanged");
    }
}
