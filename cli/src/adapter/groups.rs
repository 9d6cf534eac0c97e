//! Capability `groups` of the reference adapter (spec §12, appendix A.4):
//! one group of one device, the device a `device_new` object whose
//! accepted lists (its own user's and those `device_update` gave it) are
//! the group's directory.

use serde_json::{json, Map, Value};
use sova::devices::fanout::DeviceMessage;
use sova::devices::{FanoutError, FanoutReceived, KnownUser};
use sova::groups::{
    Applied, ChainOffer, Group, GroupError, GroupMessage, Member, Operation, Role, Welcome,
};
use sova::session::Account;

use super::{class_err, ok, Adapter, Break, Device, Object};
use crate::classes;
use crate::protocol::{
    hex_array, hex_field, str_field, ErrorReply, Reply, UNKNOWN_HANDLE, UNKNOWN_OP,
};

/// A group held by the adapter, and the device it belongs to.
pub(super) struct GroupObject {
    /// The handle of the device (`device_new`).
    device: String,
    group: Group,
    /// The state before the last operation this group applied or made:
    /// kept only for the defects that keep the epoch they left.
    before: Option<Group>,
}

fn group_err(e: &GroupError) -> ErrorReply {
    class_err(classes::of(e), e.to_string())
}

/// A `u32` field of a request.
fn u32_field(req: &Map<String, Value>, name: &str) -> Result<u32, ErrorReply> {
    req.get(name)
        .and_then(Value::as_u64)
        .and_then(|v| u32::try_from(v).ok())
        .ok_or_else(|| ErrorReply::bad_request(format!("`{name}` must be a u32")))
}

fn role_field(req: &Map<String, Value>) -> Result<Role, ErrorReply> {
    match str_field(req, "role")? {
        "member" => Ok(Role::Member),
        "admin" => Ok(Role::Admin),
        other => Err(ErrorReply::bad_request(format!(
            "`role` must be member or admin, not {other:?}"
        ))),
    }
}

/// The accepted lists the device holds: its own user's and every person's
/// it knows (spec §11.4), the directory of its groups.
fn directory(d: &Device) -> Vec<KnownUser> {
    let mut v = vec![d.own.user().clone()];
    v.extend(d.others.values().map(|p| p.user().clone()));
    v
}

/// The epoch and state hash a response reports.
fn position(g: &Group) -> Value {
    json!({ "epoch": g.epoch(), "state_hash": crate::hex(g.state_hash()) })
}

fn with_position(g: &Group, mut fields: Value) -> Reply {
    if let (Value::Object(f), Value::Object(p)) = (&mut fields, position(g)) {
        f.extend(p);
    }
    ok(fields)
}

/// A reply for a refused message that a defect reads anyway.
fn empty_read(message: &[u8]) -> Reply {
    let m = GroupMessage::parse(message).map_err(|e| group_err(&GroupError::Malformed(e)))?;
    ok(json!({
        "plaintext": "",
        "sender_user": crate::hex(&m.sender_user),
        "sender_device": m.sender_device,
        "index": m.index,
    }))
}

impl Adapter {
    /// What a group object came with: with `message`, a device message
    /// (spec §11.6) to `device`, received as `fanout_receive` does, its
    /// plaintext and the fan-out's sender (user key and device id);
    /// otherwise `field` and the sender the request names (`from_user`,
    /// `from_device`).
    fn carried(
        &mut self,
        req: &Map<String, Value>,
        device: &str,
        field: &str,
    ) -> Result<(Vec<u8>, [u8; 32], u32), ErrorReply> {
        if req.get("message").is_none() {
            return Ok((
                hex_field(req, field)?,
                hex_array::<32>(req, "from_user")?,
                u32_field(req, "from_device")?,
            ));
        }
        let bytes = hex_field(req, "message")?;
        let m = DeviceMessage::parse(&bytes)
            .map_err(|e| class_err(classes::of(&FanoutError::Malformed(e)), e.to_string()))?;
        let sender = m.header.sender_user;
        let mut inner = Map::new();
        inner.insert("handle".into(), json!(device));
        inner.insert("message".into(), json!(crate::hex(&bytes)));
        let got = self.fanout_receive(&inner)?;
        let plaintext = got
            .get("plaintext")
            .and_then(Value::as_str)
            .and_then(|h| ::hex::decode(h).ok())
            .unwrap_or_default();
        let sender_device = got
            .get("sender_device")
            .and_then(Value::as_u64)
            .and_then(|v| u32::try_from(v).ok())
            .unwrap_or_default();
        Ok((plaintext, sender, sender_device))
    }

    /// The `group_*` operations.
    pub(super) fn group(&mut self, op: &str, req: &Map<String, Value>) -> Reply {
        match op {
            "group_join" => return self.group_join(req),
            "group_create" => return self.group_create(req),
            _ => {}
        }
        let mut h = str_field(req, "handle")?.to_owned();
        if self.defect == Break::GroupWrongGroup {
            h = self.routed(op, req, h);
        }
        let mut g = match self.objects.remove(&h) {
            Some(Object::Group(g)) => g,
            Some(other) => {
                self.objects.insert(h, other);
                return Err(ErrorReply::bad_request("`handle` is not a group"));
            }
            None => return Err(ErrorReply::new(UNKNOWN_HANDLE, format!("no object {h:?}"))),
        };
        let reply = if op == "group_accept_chain" {
            // The offer, and the session it came over, first: a fan-out
            // message is received by the device.
            match self.carried(req, &g.device.clone(), "offer") {
                Ok(c) => self.group_op(op, req, &mut g, Some(c)),
                Err(e) => Err(e),
            }
        } else {
            self.group_op(op, req, &mut g, None)
        };
        self.objects.insert(h, Object::Group(g));
        reply
    }

    /// The defect `group-wrong-group`: the handle of the group whose id an
    /// operation, chain offer or message names, if the adapter holds one,
    /// instead of `h`.
    fn routed(&self, op: &str, req: &Map<String, Value>, h: String) -> String {
        let bytes = |name| hex_field(req, name).unwrap_or_default();
        let id = match op {
            "group_apply" => Operation::parse(&bytes("operation")).map(|o| o.group_id),
            "group_accept_chain" => ChainOffer::parse(&bytes("offer")).map(|o| o.group_id),
            "group_decrypt" => GroupMessage::parse(&bytes("message")).map(|m| m.group_id),
            _ => return h,
        };
        let Ok(id) = id else { return h };
        self.objects
            .iter()
            .find_map(|(k, o)| match o {
                Object::Group(g) if *g.group.group_id() == id => Some(k.clone()),
                _ => None,
            })
            .unwrap_or(h)
    }

    /// `group_create`: the device creates a group of `members` (objects
    /// with `user` and `role`), its own user among them as an admin.
    fn group_create(&mut self, req: &Map<String, Value>) -> Reply {
        let device = str_field(req, "device")?.to_owned();
        let members = req
            .get("members")
            .and_then(Value::as_array)
            .ok_or_else(|| ErrorReply::bad_request("`members` must be an array"))?;
        let mut roster = Vec::with_capacity(members.len());
        for m in members {
            let Value::Object(m) = m else {
                return Err(ErrorReply::bad_request(
                    "each of `members` must be an object with `user` and `role`",
                ));
            };
            roster.push(Member {
                user: hex_array::<32>(m, "user")?,
                role: role_field(m)?,
            });
        }
        let Some(Object::Device(d)) = self.objects.get(&device) else {
            return Err(ErrorReply::new(
                UNKNOWN_HANDLE,
                format!("no device {device:?}"),
            ));
        };
        let Some(Object::Account(account)) = self.objects.get(&d.account) else {
            return Err(ErrorReply::new(
                UNKNOWN_HANDLE,
                format!("the device's account {:?} is gone", d.account),
            ));
        };
        let own_user = *d.own.user().user_key();
        let own_device = d
            .own
            .this_device()
            .ok_or_else(|| group_err(&GroupError::UnknownDevice))?;
        let (group, operation) = Group::create(
            &mut self.rng,
            account,
            own_user,
            own_device,
            &roster,
            &directory(d),
        )
        .map_err(|e| group_err(&e))?;
        let mut fields = position(&group);
        let h = self.insert(
            "group-",
            Object::Group(Box::new(GroupObject {
                device,
                group,
                before: None,
            })),
        );
        if let Value::Object(f) = &mut fields {
            f.insert("handle".into(), json!(h));
            f.insert("operation".into(), json!(crate::hex(&operation)));
        }
        ok(fields)
    }

    /// `group_join`: the device joins from a welcome that the fan-out
    /// message from `from_user`'s device `from_device` carried.
    fn group_join(&mut self, req: &Map<String, Value>) -> Reply {
        let device = str_field(req, "device")?.to_owned();
        if !matches!(self.objects.get(&device), Some(Object::Device(_))) {
            return Err(ErrorReply::new(
                UNKNOWN_HANDLE,
                format!("no device {device:?}"),
            ));
        }
        let (welcome, mut from_user, mut from_device) = self.carried(req, &device, "welcome")?;
        if self.defect == Break::GroupWrongSession {
            // Defect: the signer believed, whatever session carried it.
            if let Ok(w) = Welcome::parse(&welcome) {
                (from_user, from_device) = (w.operation.signer_user, w.operation.signer_device);
            }
        }
        let Some(Object::Device(d)) = self.objects.get(&device) else {
            return Err(ErrorReply::new(
                UNKNOWN_HANDLE,
                format!("no device {device:?}"),
            ));
        };
        let own_user = *d.own.user().user_key();
        let own_device = d
            .own
            .this_device()
            .ok_or_else(|| group_err(&GroupError::UnknownDevice))?;
        // The runner names the pairwise session that carried the welcome
        // (§A.4); the adapter vouches for it as `fanout_receive` would.
        let carried = FanoutReceived::hazmat_new(welcome.clone(), from_user, from_device);
        let group = match Group::join(own_user, own_device, &carried, &directory(d)) {
            Ok(g) => g,
            Err(e) => {
                // Defects: a welcome not for this user, or whose roster
                // does not follow, answered as joined (nothing is held).
                let taken = match e {
                    GroupError::NotInRoster => self.defect == Break::GroupWelcomeOthers,
                    GroupError::WelcomeMismatch => self.defect == Break::GroupWelcomeLax,
                    _ => false,
                };
                return match Welcome::parse(&welcome) {
                    Ok(w) if taken => ok(json!({
                        "handle": "group-unjoined",
                        "epoch": w.operation.epoch,
                        "state_hash": crate::hex(&w.operation.prev),
                    })),
                    _ => Err(group_err(&e)),
                };
            }
        };
        let mut fields = position(&group);
        let h = self.insert(
            "group-",
            Object::Group(Box::new(GroupObject {
                device,
                group,
                before: None,
            })),
        );
        if let Value::Object(f) = &mut fields {
            f.insert("handle".into(), json!(h));
        }
        ok(fields)
    }

    /// Every other `group_*` operation, on the group `g` (taken out of the
    /// map for the call).
    fn group_op(
        &mut self,
        op: &str,
        req: &Map<String, Value>,
        g: &mut GroupObject,
        carried: Option<(Vec<u8>, [u8; 32], u32)>,
    ) -> Reply {
        let defect = self.defect;
        let Some(Object::Device(d)) = self.objects.get(&g.device) else {
            return Err(ErrorReply::new(
                UNKNOWN_HANDLE,
                format!("the group's device {:?} is gone", g.device),
            ));
        };
        let dir = directory(d);
        let Some(Object::Account(account)) = self.objects.get(&d.account) else {
            return Err(ErrorReply::new(
                UNKNOWN_HANDLE,
                format!("the device's account {:?} is gone", d.account),
            ));
        };
        let account: &Account = account;
        let rng = &mut self.rng;
        match op {
            "group_export" => ok(json!({ "state": crate::hex(&g.group.to_bytes()) })),
            "group_apply" => {
                let operation = hex_field(req, "operation")?;
                let before = g.group.clone();
                match g.group.apply(&operation, &dir) {
                    Ok(Applied::Advanced) => {
                        g.before = Some(before);
                        with_position(&g.group, json!({ "outcome": "advanced" }))
                    }
                    Ok(_) => with_position(&g.group, json!({ "outcome": "unchanged" })),
                    Err(e) => {
                        // Defects: a refused operation answered as applied.
                        let taken = match e {
                            GroupError::NotMember | GroupError::UnknownDevice => {
                                defect == Break::GroupGhostAccept
                            }
                            GroupError::NotAuthorised => defect == Break::GroupRoleLax,
                            GroupError::InvalidSignature => defect == Break::GroupSignatureLax,
                            GroupError::Fork => defect == Break::GroupForkAccept,
                            GroupError::StaleEpoch => defect == Break::GroupStaleAccept,
                            GroupError::AlreadyMember
                            | GroupError::NoSuchMember
                            | GroupError::RoleUnchanged
                            | GroupError::TooManyMembers
                            | GroupError::LastAdmin => defect == Break::GroupChangeLax,
                            _ => false,
                        };
                        if taken {
                            let outcome = if e == GroupError::StaleEpoch {
                                "unchanged"
                            } else {
                                "advanced"
                            };
                            return with_position(&g.group, json!({ "outcome": outcome }));
                        }
                        if defect == Break::GroupRefusalDirty {
                            // Defect: a refusal still starts a fresh chain.
                            let _ = g.group.start_chain(rng, account);
                        }
                        Err(group_err(&e))
                    }
                }
            }
            "group_change" => {
                let user = hex_array::<32>(req, "user")?;
                let before = g.group.clone();
                let operation = match str_field(req, "change")? {
                    "add" => g.group.add(
                        account,
                        Member {
                            user,
                            role: role_field(req)?,
                        },
                        &dir,
                    ),
                    "remove" => g.group.remove(account, &user, &dir),
                    "change_role" => g.group.change_role(
                        account,
                        Member {
                            user,
                            role: role_field(req)?,
                        },
                        &dir,
                    ),
                    other => {
                        return Err(ErrorReply::bad_request(format!(
                            "`change` must be add, remove or change_role, not {other:?}"
                        )))
                    }
                }
                .map_err(|e| group_err(&e))?;
                g.before = Some(before);
                with_position(&g.group, json!({ "operation": crate::hex(&operation) }))
            }
            "group_welcome" => {
                let operation = hex_field(req, "operation")?;
                let w = g.group.welcome(&operation).map_err(|e| group_err(&e))?;
                ok(json!({ "welcome": crate::hex(&w) }))
            }
            "group_start_chain" => {
                let offer = g
                    .group
                    .start_chain(rng, account)
                    .map_err(|e| group_err(&e))?;
                ok(json!({ "offer": crate::hex(&offer) }))
            }
            "group_accept_chain" => {
                let (offer, mut from_user, mut from_device) =
                    carried.ok_or_else(|| ErrorReply::bad_request("no chain offer"))?;
                if defect == Break::GroupWrongSession {
                    // Defect: the offer's owner believed, whatever session
                    // carried it.
                    if let Ok(o) = ChainOffer::parse(&offer) {
                        (from_user, from_device) = (o.owner_user, o.owner_device);
                    }
                }
                let carried = FanoutReceived::hazmat_new(offer, from_user, from_device);
                g.group
                    .accept_chain(&carried, &dir)
                    .map_err(|e| group_err(&e))?;
                ok(json!({}))
            }
            "group_encrypt" => {
                let plaintext = hex_field(req, "plaintext")?;
                let m = match g.group.encrypt(&plaintext) {
                    Err(GroupError::NoChain) if defect == Break::GroupKeepChain => {
                        // Defect: the chain of the epoch left goes on.
                        match g.before.as_mut() {
                            Some(b) => b.encrypt(&plaintext),
                            None => Err(GroupError::NoChain),
                        }
                    }
                    Err(GroupError::ChainExhausted) if defect == Break::GroupChainEndLax => {
                        // Defect: another chain, unasked, that no member holds.
                        g.group
                            .start_chain(rng, account)
                            .and_then(|_| g.group.encrypt(&plaintext))
                    }
                    other => other,
                }
                .map_err(|e| group_err(&e))?;
                ok(json!({ "message": crate::hex(&m) }))
            }
            "group_decrypt" => {
                let message = hex_field(req, "message")?;
                let got = match g.group.decrypt(&message, &dir) {
                    Err(GroupError::StaleEpoch)
                        if defect == Break::GroupStaleAccept
                            || (defect == Break::GroupRemovedAccept
                                && GroupMessage::parse(&message).is_ok_and(|m| {
                                    !g.group.members().iter().any(|x| x.user == m.sender_user)
                                })) =>
                    {
                        // Defect: the epoch left is still read.
                        match g.before.as_mut() {
                            Some(b) => b.decrypt(&message, &dir),
                            None => Err(GroupError::StaleEpoch),
                        }
                    }
                    other => other,
                };
                match got {
                    Ok(r) => ok(json!({
                        "plaintext": crate::hex(&r.plaintext),
                        "sender_user": crate::hex(&r.sender_user),
                        "sender_device": r.sender_device,
                        "index": r.index,
                    })),
                    Err(GroupError::InvalidSignature) if defect == Break::GroupSignatureLax => {
                        empty_read(&message)
                    }
                    Err(GroupError::Fork) if defect == Break::GroupForkAccept => {
                        empty_read(&message)
                    }
                    Err(GroupError::DuplicateOrExpired) if defect == Break::GroupReplayAccept => {
                        empty_read(&message)
                    }
                    Err(GroupError::BeyondChainEnd) if defect == Break::GroupBeyondEndLax => {
                        empty_read(&message)
                    }
                    Err(GroupError::Authentication | GroupError::InvalidPadding)
                        if defect == Break::GroupBodyLax =>
                    {
                        empty_read(&message)
                    }
                    Err(e) => Err(group_err(&e)),
                }
            }
            other => Err(ErrorReply::new(UNKNOWN_OP, format!("unknown op {other:?}"))),
        }
    }
}
