//! Capability `fanout` (spec §11.6, §11.7): the implementation is one device
//! of Bob's, next to a device of his held by this library, and exchanges
//! fan-out messages with Alice's two devices, held by this library, in both
//! directions: messages from Alice's device and from Bob's other device
//! reach it, and its own messages reach each listed device. A replayed
//! message, an entry re-addressed to another device id or with its kind
//! flipped, a message from a device that no list of Alice's names and one
//! from a device removed from her list must be refused, and a removed
//! device must get nothing more.

use serde_json::{json, Value};
use sova::devices::fanout::{self, Audience, DeviceMessage};
use sova::devices::{DeviceEntry, DeviceList, FanoutError, KnownUser, PeerDevices, UserKey};
use sova::ratchet::HeaderMode;
use sova::session::{Account, IdentityKey};

use super::{field, hex_of, Runner};
use crate::hex;
use crate::protocol::mode_name;

/// A device held by this library: its account and what it knows.
struct RefDevice {
    name: &'static str,
    account: Account,
    own: PeerDevices,
    other: PeerDevices,
}

fn text<E: core::fmt::Display>(what: &str) -> impl Fn(E) -> String + '_ {
    move |e| format!("{what}: {e}")
}

fn entry(device_id: u32, identity: IdentityKey, admin: bool) -> DeviceEntry {
    DeviceEntry {
        device_id,
        identity,
        admin,
    }
}

fn known(uk: &UserKey, list: &DeviceList) -> Result<KnownUser, String> {
    KnownUser::new(uk.public(), list.to_bytes()).map_err(text("this library refuses a list"))
}

fn audience_name(a: Audience) -> &'static str {
    match a {
        Audience::Recipient => "recipient",
        Audience::OwnDevice => "own",
    }
}

/// The device messages a fan-out message is cut into, by audience and id.
fn split(message: &[u8]) -> Result<Vec<(Audience, u32, Vec<u8>)>, String> {
    fanout::split(message).map_err(text("the fan-out message does not split"))
}

fn part(parts: &[(Audience, u32, Vec<u8>)], a: Audience, id: u32) -> Result<Vec<u8>, String> {
    parts
        .iter()
        .find(|(x, i, _)| *x == a && *i == id)
        .map(|(_, _, m)| m.clone())
        .ok_or_else(|| format!("no entry for the {} device {id}", audience_name(a)))
}

fn expect_entries(
    parts: &[(Audience, u32, Vec<u8>)],
    want: &[(Audience, u32)],
) -> Result<(), String> {
    let got: Vec<(Audience, u32)> = parts.iter().map(|(a, i, _)| (*a, *i)).collect();
    let mut sorted_got = got.clone();
    let mut sorted_want = want.to_vec();
    let key = |x: &(Audience, u32)| (x.0 == Audience::OwnDevice, x.1);
    sorted_got.sort_by_key(key);
    sorted_want.sort_by_key(key);
    if sorted_got != sorted_want {
        let show = |v: &[(Audience, u32)]| {
            v.iter()
                .map(|(a, i)| format!("{} {i}", audience_name(*a)))
                .collect::<Vec<_>>()
                .join(", ")
        };
        return Err(format!(
            "the implementation's fan-out message has entries for {}; expected {}",
            show(&got),
            show(want)
        ));
    }
    Ok(())
}

/// `message` with its entry's kind and device id replaced: what a server
/// can do, as neither is authenticated (spec §11.6).
fn readdressed(message: &[u8], kind: u8, device_id: u32) -> Result<Vec<u8>, String> {
    let pairwise = DeviceMessage::parse(message)
        .map_err(text("a device message does not parse"))?
        .pairwise
        .len();
    let mut m = message.to_vec();
    let at = m.len() - pairwise - 9;
    m[at] = kind;
    m[at + 1..at + 5].copy_from_slice(&device_id.to_be_bytes());
    Ok(m)
}

impl RefDevice {
    /// Receives a device message as this library's device.
    fn receive(&mut self, message: &[u8]) -> Result<Vec<u8>, FanoutError> {
        let m = DeviceMessage::parse(message)?;
        let got = if m.header.sender_user == *self.own.user().user_key() {
            self.own.receive_own(&mut self.account, &m)?
        } else {
            self.other.receive(self.own.user(), &mut self.account, &m)?
        };
        Ok(got.plaintext)
    }
}

impl Runner<'_> {
    /// A bundle of the implementation's account, without one-time prekeys.
    pub(super) fn port_bundle(&mut self, account: &str) -> Result<Vec<u8>, String> {
        let m = self.call_ok(
            "bundle",
            json!({ "account": account, "one_time_prekey": false, "kem_one_time_prekey": false }),
        )?;
        hex_of(&m, "bundle", "bundle")
    }

    /// Starts, for this library's device `d`, a session with every listed
    /// device without one: the implementation's (`port_id` of `port_user`)
    /// from its bundle, the others from `bundles`.
    fn start_all(
        &mut self,
        d: &mut RefDevice,
        port_user: &[u8; 32],
        port_id: u32,
        port_account: &str,
        bundles: &[([u8; 32], u32, Vec<u8>)],
        mode: HeaderMode,
    ) -> Result<(), String> {
        for own in [true, false] {
            let peers = if own { &d.own } else { &d.other };
            let user = *peers.user().user_key();
            for id in peers.needs_bundle() {
                let bundle = if user == *port_user && id == port_id {
                    self.port_bundle(port_account)?
                } else {
                    bundles
                        .iter()
                        .find(|(u, i, _)| *u == user && *i == id)
                        .ok_or_else(|| format!("{}: no bundle of device {id}", d.name))?
                        .2
                        .clone()
                };
                let peers = if own { &mut d.own } else { &mut d.other };
                peers
                    .start(&d.account, id, &bundle, mode, &mut self.crypto)
                    .map_err(text(d.name))?;
            }
        }
        Ok(())
    }

    /// `fanout_receive` that must give `plaintext` from `sender_device`.
    fn port_receives(
        &mut self,
        device: &str,
        message: &[u8],
        plaintext: &[u8],
        sender_device: u32,
        what: &str,
    ) -> Result<(), String> {
        let m = self.call_ok(
            "fanout_receive",
            json!({ "handle": device, "message": hex(message) }),
        )?;
        let want = [
            ("plaintext", json!(hex(plaintext))),
            ("sender_device", json!(sender_device)),
            ("recipient_list_current", json!(true)),
        ];
        for (name, v) in want {
            if m.get(name) != Some(&v) {
                return Err(format!(
                    "{what}: `{name}` is {:?}, expected {v}",
                    m.get(name)
                ));
            }
        }
        Ok(())
    }

    /// The whole exchange (spec §11.6, §11.7, appendix A.6.9).
    pub(super) fn fanout(&mut self, mode: HeaderMode) -> Result<String, String> {
        let gen = |r: &mut Self| UserKey::generate(&mut r.crypto).map_err(text("user key"));
        let acc = |r: &mut Self| Account::new(&mut r.crypto).map_err(text("account"));
        let uk_a = gen(self)?;
        let uk_b = gen(self)?;
        let (a1, a2, b2, ghost) = (acc(self)?, acc(self)?, acc(self)?, acc(self)?);
        let m = self.call_ok("account_new", json!({}))?;
        let port_account = field(&m, "account_new", "handle")?.to_owned();
        let identity = hex_of(&m, "account_new", "identity")?;
        let port_key: IdentityKey = identity
            .get(..64)
            .and_then(|k| k.try_into().ok())
            .ok_or("account_new: `identity` is shorter than 64 bytes")?;
        let alice1 = uk_a
            .sign_list(
                1,
                &[
                    entry(1, a1.identity_key(), true),
                    entry(2, a2.identity_key(), false),
                ],
            )
            .map_err(text("list"))?;
        let bob1 = uk_b
            .sign_list(
                1,
                &[entry(1, port_key, true), entry(2, b2.identity_key(), false)],
            )
            .map_err(text("list"))?;
        let (ua, ub) = (*uk_a.public(), *uk_b.public());

        // The implementation as Bob's device 1, knowing Alice.
        let m = self.call_ok(
            "device_new",
            json!({ "account": port_account, "user_key": hex(&ub), "list": hex(bob1.to_bytes()) }),
        )?;
        let device = field(&m, "device_new", "handle")?.to_owned();
        if m.get("device_id") != Some(&json!(1)) {
            return Err(format!(
                "device_new: `device_id` is {:?}, expected 1",
                m.get("device_id")
            ));
        }
        let update = |r: &mut Self, list: &DeviceList| -> Result<(), String> {
            let m = r.call_ok(
                "device_update",
                json!({ "handle": device, "user_key": hex(&ua), "list": hex(list.to_bytes()) }),
            )?;
            let want = [
                ("outcome", json!("accepted")),
                ("epoch", json!(list.epoch())),
                ("list_hash", json!(hex(&list.hash()))),
            ];
            for (name, v) in want {
                if m.get(name) != Some(&v) {
                    return Err(format!(
                        "device_update: `{name}` is {:?}, expected {v}",
                        m.get(name)
                    ));
                }
            }
            Ok(())
        };
        update(self, &alice1)?;

        let own = |uk: &UserKey, l: &DeviceList, id: u32| -> Result<PeerDevices, String> {
            PeerDevices::own(known(uk, l)?, id).map_err(text("own list"))
        };
        let mut ra1 = RefDevice {
            name: "Alice's device 1",
            account: a1,
            own: own(&uk_a, &alice1, 1)?,
            other: PeerDevices::new(known(&uk_b, &bob1)?),
        };
        let mut ra2 = RefDevice {
            name: "Alice's device 2",
            account: a2,
            own: own(&uk_a, &alice1, 2)?,
            other: PeerDevices::new(known(&uk_b, &bob1)?),
        };
        let mut rb2 = RefDevice {
            name: "Bob's device 2",
            account: b2,
            own: own(&uk_b, &bob1, 2)?,
            other: PeerDevices::new(known(&uk_a, &alice1)?),
        };
        let b2_bundle = rb2
            .account
            .bundle(None, None)
            .map_err(text("bundle"))?
            .to_bytes();
        let a1_bundle = ra1
            .account
            .bundle(None, None)
            .map_err(text("bundle"))?
            .to_bytes();
        let a2_bundle = ra2
            .account
            .bundle(None, None)
            .map_err(text("bundle"))?
            .to_bytes();
        let refs = [
            (ua, 1, a1_bundle.clone()),
            (ua, 2, a2_bundle.clone()),
            (ub, 2, b2_bundle.clone()),
        ];
        let send = |r: &mut Self, d: &mut RefDevice, pt: &[u8]| -> Result<Vec<u8>, String> {
            PeerDevices::send(&mut d.own, &mut d.other, pt, &mut r.crypto).map_err(text(d.name))
        };
        let deliver = |d: &mut RefDevice, m: &[u8], pt: &[u8], what: &str| -> Result<(), String> {
            match d.receive(m) {
                Ok(got) if got == pt => Ok(()),
                Ok(_) => Err(format!("{what}: {} reads another plaintext", d.name)),
                Err(e) => Err(format!("{what}: {} refuses it: {e}", d.name)),
            }
        };

        // 1. Alice's device 1 to Bob: the implementation (kind 0), Bob's
        //    device 2 and Alice's device 2.
        let pt = self.plaintext();
        self.start_all(&mut ra1, &ub, 1, &port_account, &refs, mode)?;
        let m1 = send(self, &mut ra1, &pt)?;
        let parts = split(&m1)?;
        let to_port = part(&parts, Audience::Recipient, 1)?;
        // Copies of its entry re-addressed to Bob's device 2 and to an
        // unlisted id come first: refused (§11.6 step 2), so the genuine
        // one is then accepted, not a replay of an accepted copy.
        let not_for_us = crate::classes::of(&FanoutError::NotForUs);
        for (id, what) in [
            (2, "its entry re-addressed to Bob's device 2"),
            (7, "its entry re-addressed to device id 7"),
        ] {
            self.call_refused(
                "fanout_receive",
                json!({ "handle": device, "message": hex(&readdressed(&to_port, 0, id)?) }),
                &not_for_us,
                &format!("a message from Alice's device 1 with {what}"),
            )?;
        }
        self.port_receives(&device, &to_port, &pt, 1, "a message from Alice's device 1")?;
        deliver(
            &mut rb2,
            &part(&parts, Audience::Recipient, 2)?,
            &pt,
            "message 1",
        )?;
        deliver(
            &mut ra2,
            &part(&parts, Audience::OwnDevice, 2)?,
            &pt,
            "message 1",
        )?;

        // 2. The same device message again: refused as this library refuses
        //    the copy for Bob's device 2.
        let replay_class = match rb2.receive(&part(&parts, Audience::Recipient, 2)?) {
            Ok(_) => return Err("this library accepts a replayed fan-out message".into()),
            Err(e) => crate::classes::of(&e),
        };
        self.call_refused(
            "fanout_receive",
            json!({ "handle": device, "message": hex(&to_port) }),
            &replay_class,
            "a replayed fan-out message",
        )?;

        // 3. The implementation to Alice: her devices 1 (a session exists)
        //    and 2, and Bob's device 2 (kind 1).
        let bundles = |list: &[(u8, u32, &[u8])]| -> Value {
            Value::Array(
                list.iter()
                    .map(|(a, i, b)| json!({ "audience": a, "device_id": i, "bundle": hex(b) }))
                    .collect(),
            )
        };
        let all = bundles(&[(0, 1, &a1_bundle), (0, 2, &a2_bundle), (1, 2, &b2_bundle)]);
        let port_send = |r: &mut Self, pt: &[u8]| -> Result<Vec<u8>, String> {
            let m = r.call_ok(
                "fanout_encrypt",
                json!({
                    "handle": device, "recipient": hex(&ua), "plaintext": hex(pt),
                    "header_mode": mode_name(mode), "bundles": all,
                }),
            )?;
            hex_of(&m, "fanout_encrypt", "message")
        };
        let pt = self.plaintext();
        let parts = split(&port_send(self, &pt)?)?;
        expect_entries(
            &parts,
            &[
                (Audience::Recipient, 1),
                (Audience::Recipient, 2),
                (Audience::OwnDevice, 2),
            ],
        )?;
        let what = "the implementation's message";
        deliver(&mut ra1, &part(&parts, Audience::Recipient, 1)?, &pt, what)?;
        deliver(&mut ra2, &part(&parts, Audience::Recipient, 2)?, &pt, what)?;
        deliver(&mut rb2, &part(&parts, Audience::OwnDevice, 2)?, &pt, what)?;

        // 4. Bob's device 2 to Alice: its entry for the implementation is of
        //    kind 1; replayed, it is refused too.
        self.start_all(&mut rb2, &ub, 1, &port_account, &refs, mode)?;
        let pt = self.plaintext();
        let parts = split(&send(self, &mut rb2, &pt)?)?;
        let to_port = part(&parts, Audience::OwnDevice, 1)?;
        self.port_receives(&device, &to_port, &pt, 2, "a message from Bob's device 2")?;
        deliver(
            &mut ra1,
            &part(&parts, Audience::Recipient, 1)?,
            &pt,
            "message 4",
        )?;
        deliver(
            &mut ra2,
            &part(&parts, Audience::Recipient, 2)?,
            &pt,
            "message 4",
        )?;
        self.call_refused(
            "fanout_receive",
            json!({ "handle": device, "message": hex(&to_port) }),
            &replay_class,
            "a replayed message from Bob's device 2",
        )?;

        // 5. A device no accepted list of Alice's names (id 9): its message
        //    names an epoch-0 list the implementation never saw.
        let ghost_list = uk_a
            .sign_list(0, &[entry(9, ghost.identity_key(), false)])
            .map_err(text("list"))?;
        let mut rg = RefDevice {
            name: "an unlisted device",
            account: ghost,
            own: own(&uk_a, &ghost_list, 9)?,
            other: PeerDevices::new(known(&uk_b, &bob1)?),
        };
        self.start_all(&mut rg, &ub, 1, &port_account, &refs, mode)?;
        let pt = self.plaintext();
        let parts = split(&send(self, &mut rg, &pt)?)?;
        self.call_refused(
            "fanout_receive",
            json!({ "handle": device, "message": hex(&part(&parts, Audience::Recipient, 1)?) }),
            "UnknownDevice",
            "a message from a device no list of the sender names",
        )?;

        // 6. Alice removes her device 2 (epoch 2); the device, still at
        //    epoch 1, sends to Bob: refused.
        let alice2 = uk_a
            .sign_list(2, &[entry(1, ra1.account.identity_key(), true)])
            .map_err(text("list"))?;
        update(self, &alice2)?;
        for d in [&mut ra1.own, &mut rb2.other] {
            d.update(alice2.to_bytes()).map_err(text("update"))?;
        }
        self.start_all(&mut ra2, &ub, 1, &port_account, &refs, mode)?;
        let pt = self.plaintext();
        let parts = split(&send(self, &mut ra2, &pt)?)?;
        self.call_refused(
            "fanout_receive",
            json!({ "handle": device, "message": hex(&part(&parts, Audience::Recipient, 1)?) }),
            "UnknownDevice",
            "a message from a device removed from the sender's list",
        )?;

        // 7. The implementation's next message leaves the removed device out.
        let pt = self.plaintext();
        let parts = split(&port_send(self, &pt)?)?;
        expect_entries(
            &parts,
            &[(Audience::Recipient, 1), (Audience::OwnDevice, 2)],
        )?;
        let what = "the implementation's message after the removal";
        deliver(&mut ra1, &part(&parts, Audience::Recipient, 1)?, &pt, what)?;
        deliver(&mut rb2, &part(&parts, Audience::OwnDevice, 2)?, &pt, what)?;
        // 8. A note to self: Bob's device 2 only, as kind 1.
        let pt = self.plaintext();
        let m = self.call_ok(
            "fanout_encrypt",
            json!({
                "handle": device, "recipient": hex(&ub), "plaintext": hex(&pt),
                "header_mode": mode_name(mode), "bundles": [],
            }),
        )?;
        let parts = split(&hex_of(&m, "fanout_encrypt", "message")?)?;
        expect_entries(&parts, &[(Audience::OwnDevice, 2)])?;
        deliver(
            &mut rb2,
            &part(&parts, Audience::OwnDevice, 2)?,
            &pt,
            "a note to self",
        )?;
        // 9. Bob's device 2's note to self (`UK_R = UK_S`): its entry for the
        //    implementation with its kind flipped to 0 names Bob as well,
        //    but only kind 1 is valid: refused (§11.6 step 2); then the
        //    genuine one is accepted.
        let pt = self.plaintext();
        let note = {
            let (user, mut targets) = rb2.own.targets().map_err(text(rb2.name))?;
            fanout::encrypt(user, 2, user, &mut targets, &pt, &mut self.crypto)
                .map_err(text(rb2.name))?
        };
        let parts = split(&note)?;
        let to_port = part(&parts, Audience::OwnDevice, 1)?;
        self.call_refused(
            "fanout_receive",
            json!({ "handle": device, "message": hex(&readdressed(&to_port, 0, 1)?) }),
            &not_for_us,
            "a note to self from Bob's device 2 with its entry's kind flipped to 0",
        )?;
        self.port_receives(
            &device,
            &to_port,
            &pt,
            2,
            "a note to self from Bob's device 2",
        )?;
        Ok(format!(
            "3 messages received (kinds 0 and 1, one a note to self) and 3 sent (one a note \
             to self); replays refused ({replay_class}), re-addressed and kind-flipped \
             entries refused ({not_for_us}), \
             an unlisted and a removed device refused (UnknownDevice), the removed device \
             left out"
        ))
    }
}
