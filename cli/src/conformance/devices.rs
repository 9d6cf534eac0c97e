//! Capability `devices` (spec §11): device lists checked against the
//! expected user key, the directory's forward-only updates, and linking a
//! new device with this library on the other side, the implementation as
//! the new device and as the admin device.

use serde_json::{json, Map, Value};
use sova::devices::{approve_link, DeviceEntry, DeviceList, KnownUser, LinkRequest, UserKey};
use sova::session::Account;

use super::{field, hex_of, Runner};
use crate::hex;

fn flip_last(b: &[u8]) -> Vec<u8> {
    let mut v = b.to_vec();
    if let Some(x) = v.last_mut() {
        *x ^= 1;
    }
    v
}

fn expect_fields(m: &Map<String, Value>, op: &str, want: &[(&str, Value)]) -> Result<(), String> {
    for (name, v) in want {
        match m.get(*name) {
            Some(got) if got == v => {}
            got => return Err(format!("{op}: `{name}` is {got:?}, expected {v}")),
        }
    }
    Ok(())
}

impl Runner<'_> {
    fn user_list(&mut self, uk: &UserKey, epoch: u64, n: u32) -> Result<DeviceList, String> {
        let entries: Vec<DeviceEntry> = (1..=n)
            .map(|id| DeviceEntry {
                device_id: id,
                identity: super::random_bytes(&mut self.crypto),
                admin: id == 1,
            })
            .collect();
        uk.sign_list(epoch, &entries).map_err(|e| e.to_string())
    }

    /// `device_list_verify`: a valid list, then lists refused with the class
    /// of spec §11.3.
    pub(super) fn device_lists(&mut self) -> Result<String, String> {
        let uk = UserKey::generate(&mut self.crypto).map_err(|e| e.to_string())?;
        let other = UserKey::generate(&mut self.crypto).map_err(|e| e.to_string())?;
        let list = self.user_list(&uk, 7, 3)?;
        let user = hex(uk.public());
        let m = self.call_ok(
            "device_list_verify",
            json!({ "expected_user": user, "list": hex(list.to_bytes()) }),
        )?;
        expect_fields(
            &m,
            "device_list_verify",
            &[("epoch", json!(7)), ("list_hash", json!(hex(&list.hash())))],
        )?;
        let bytes = list.to_bytes();
        let mut version = bytes.to_vec();
        version[14] = 2;
        let mut flags = bytes.to_vec();
        flags[56 + 68] = 0x02;
        let foreign = self.user_list(&other, 7, 1)?;
        let bad: [(&str, Vec<u8>, &str); 6] = [
            ("signature flipped", flip_last(bytes), "InvalidSignature"),
            (
                "another user's list",
                foreign.to_bytes().to_vec(),
                "WrongUser",
            ),
            ("version 2", version, "Malformed(UnsupportedVersion)"),
            (
                "last byte removed",
                bytes[..bytes.len() - 1].to_vec(),
                "Malformed(Truncated)",
            ),
            ("flags 0x02", flags, "Malformed(InvalidFlags)"),
            (
                "a byte appended",
                [bytes, &[0]].concat(),
                "Malformed(TrailingBytes)",
            ),
        ];
        for (what, l, class) in &bad {
            self.call_refused(
                "device_list_verify",
                json!({ "expected_user": user, "list": hex(l) }),
                class,
                what,
            )?;
        }
        Ok(format!(
            "1 list accepted, {} refused with their classes",
            bad.len()
        ))
    }

    /// `directory_update`: newer, same, older, forked and badly signed lists.
    pub(super) fn directory(&mut self) -> Result<String, String> {
        let uk = UserKey::generate(&mut self.crypto).map_err(|e| e.to_string())?;
        let known = self.user_list(&uk, 5, 2)?;
        let newer = self.user_list(&uk, 6, 3)?;
        let older = self.user_list(&uk, 4, 1)?;
        let fork = self.user_list(&uk, 5, 2)?;
        let user = hex(uk.public());
        let req = |l: &DeviceList| json!({ "user_key": user, "known": hex(known.to_bytes()), "list": hex(l.to_bytes()) });
        let m = self.call_ok("directory_update", req(&newer))?;
        expect_fields(
            &m,
            "directory_update",
            &[
                ("outcome", json!("accepted")),
                ("epoch", json!(6)),
                ("list_hash", json!(hex(&newer.hash()))),
            ],
        )?;
        let m = self.call_ok("directory_update", req(&known))?;
        expect_fields(&m, "directory_update", &[("outcome", json!("unchanged"))])?;
        self.call_refused("directory_update", req(&older), "Rollback", "an older list")?;
        self.call_refused("directory_update", req(&fork), "Equivocation", "a fork")?;
        let mut bad = req(&newer);
        bad["list"] = json!(hex(&flip_last(newer.to_bytes())));
        self.call_refused(
            "directory_update",
            bad,
            "InvalidSignature",
            "a bad signature",
        )?;
        Ok("newer accepted, same unchanged; Rollback, Equivocation, InvalidSignature".into())
    }

    /// `link_offer`, `link_finish`: the implementation as the new device.
    pub(super) fn link_as_new_device(&mut self) -> Result<String, String> {
        let uk = UserKey::generate(&mut self.crypto).map_err(|e| e.to_string())?;
        let current = KnownUser::from_list(self.user_list(&uk, 3, 2)?);
        let m = self.call_ok("link_offer", json!({}))?;
        let handle = field(&m, "link_offer", "handle")?.to_owned();
        let offer = hex_of(&m, "link_offer", "offer")?;
        let data = b"contacts and settings".to_vec();
        let approval = approve_link(&uk, &current, &offer, true, &data, &mut self.crypto)
            .map_err(|e| format!("this library refuses the offer: {e}"))?;
        self.call_refused(
            "link_finish",
            json!({ "handle": handle, "response": hex(&flip_last(&approval.response)) }),
            "Authentication",
            "a response with its tag flipped",
        )?;
        let m = self.call_ok(
            "link_finish",
            json!({ "handle": handle, "response": hex(&approval.response) }),
        )?;
        expect_fields(
            &m,
            "link_finish",
            &[
                ("device_id", json!(approval.device_id)),
                ("list", json!(hex(approval.list.to_bytes()))),
                ("admin", json!(true)),
                ("data", json!(hex(&data))),
                ("code", json!(String::from_utf8_lossy(&approval.code))),
            ],
        )?;
        Ok("offer approved by this library; tampered response refused; same list and code".into())
    }

    /// `link_approve`: the implementation as the admin device.
    pub(super) fn link_as_admin(&mut self) -> Result<String, String> {
        let uk = UserKey::generate(&mut self.crypto).map_err(|e| e.to_string())?;
        let current = self.user_list(&uk, 8, 1)?;
        let account = Account::new(&mut self.crypto).map_err(|e| e.to_string())?;
        let request = LinkRequest::new(&account, &mut self.crypto).map_err(|e| e.to_string())?;
        let req = |offer: &[u8]| {
            json!({
                "user_key_seed": hex(uk.seed().expose()),
                "current_list": hex(current.to_bytes()),
                "offer": hex(offer),
                "admin": false,
                "data": hex(b"history"),
            })
        };
        let mut forged = request.offer().to_vec();
        forged[114] ^= 1;
        self.call_refused(
            "link_approve",
            req(&forged),
            "InvalidIdentitySignature",
            "an offer with its identity binding flipped",
        )?;
        let m = self.call_ok("link_approve", req(request.offer()))?;
        let response = hex_of(&m, "link_approve", "response")?;
        let linked = request
            .finish(&response)
            .map_err(|e| format!("this library refuses the response: {e}"))?;
        expect_fields(
            &m,
            "link_approve",
            &[
                ("device_id", json!(linked.device_id)),
                ("list", json!(hex(linked.user.list().to_bytes()))),
                ("code", json!(String::from_utf8_lossy(&linked.code))),
            ],
        )?;
        if linked.device_id != 2 || linked.user.list().epoch() != 9 || linked.user_key.is_some() {
            return Err(format!(
                "the new list gives id {} at epoch {} (expected 2 at 9, not an admin device)",
                linked.device_id,
                linked.user.list().epoch()
            ));
        }
        if linked.data.as_slice() != b"history" {
            return Err("the application data differs".into());
        }
        Ok("forged offer refused; response accepted by this library, same code".into())
    }
}
