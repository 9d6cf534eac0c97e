//! Capability `groups` (spec §12): the implementation is Bob's device in a
//! group with Alice, Carol and later Dave, whose devices this library
//! holds; this library also plays the server, which forwards, withholds,
//! replays and rewrites group objects, and Mallory, a person with a listed
//! device who is no member. Group messages go both ways; a membership
//! change must leave the implementation without a sending chain until it
//! starts a fresh one; it makes changes as an admin, and its operations,
//! welcome and chains must be accepted by this library. A ghost member or
//! device, a change by a member without the role, forged signatures, stale
//! and competing operations, messages of another history, replays, a
//! removed member's messages and operations, and chain offers and welcomes
//! delivered over another device's session must be refused with the class
//! of spec §12, and its exported state (§12.8) must not change.

use serde_json::{json, Map, Value};
use sova::devices::fanout::{self, Audience};
use sova::devices::{DeviceEntry, DeviceList, KnownUser, PeerDevices, UserKey};
use sova::groups::{ChainOffer, Group, GroupMessage, Member, OpKind, Operation, Role};
use sova::ratchet::HeaderMode;
use sova::session::{Account, IdentityKey};

use super::{field, hex_of, Runner};
use crate::hex;

fn text<E: core::fmt::Display>(what: &str) -> impl Fn(E) -> String + '_ {
    move |e| format!("{what}: {e}")
}

fn one_device_list(uk: &UserKey, identity: IdentityKey) -> Result<DeviceList, String> {
    uk.sign_list(
        1,
        &[DeviceEntry {
            device_id: 1,
            identity,
            admin: true,
        }],
    )
    .map_err(text("list"))
}

/// `m` with the last bit of its signature (its last byte) flipped.
fn flipped(m: &[u8]) -> Vec<u8> {
    let mut v = m.to_vec();
    if let Some(b) = v.last_mut() {
        *b ^= 0x01;
    }
    v
}

/// A group of this library reads the implementation's message.
fn reads(
    group: &mut Group,
    who: &str,
    message: &[u8],
    plaintext: &[u8],
    sender: &[u8; 32],
    dir: &[KnownUser],
) -> Result<(), String> {
    match group.decrypt(message, dir) {
        Ok(got) if got.plaintext == plaintext && got.sender_user == *sender => Ok(()),
        Ok(_) => Err(format!(
            "{who} reads the implementation's group message as another plaintext or sender"
        )),
        Err(e) => Err(format!(
            "{who} refuses the implementation's group message: {e}"
        )),
    }
}

/// A device of this library that reaches the implementation's device by
/// fan-out (spec §11.6): its own user's devices (itself alone) and its
/// sessions with Bob's.
struct Fanner {
    own: PeerDevices,
    to_bob: PeerDevices,
}

impl Fanner {
    /// The device message of a fan-out message carrying `payload`, for the
    /// implementation's device (Bob's device 1).
    fn send_to_port(&mut self, r: &mut Runner<'_>, payload: &[u8]) -> Result<Vec<u8>, String> {
        let wire = PeerDevices::send(&mut self.own, &mut self.to_bob, payload, &mut r.crypto)
            .map_err(text("fan-out"))?;
        fanout::split(&wire)
            .map_err(text("fan-out"))?
            .into_iter()
            .find(|(a, i, _)| *a == Audience::Recipient && *i == 1)
            .map(|(_, _, m)| m)
            .ok_or_else(|| "a fan-out message without an entry for Bob's device 1".to_owned())
    }
}

/// Counts for the report.
#[derive(Default)]
struct Counts {
    received: usize,
    sent: usize,
    refused: usize,
}

impl Runner<'_> {
    /// The implementation's group state (§12.8, `group_export`).
    fn group_state(&mut self, g: &str) -> Result<Vec<u8>, String> {
        let m = self.call_ok("group_export", json!({ "handle": g }))?;
        hex_of(&m, "group_export", "state")
    }

    /// A device of this library (device 1 of `uk`, listed in `list`) with a
    /// session to the implementation's device, started from its bundle.
    fn group_fanner(
        &mut self,
        uk: &UserKey,
        list: &DeviceList,
        account: &Account,
        bob: &DeviceList,
        port_account: &str,
    ) -> Result<Fanner, String> {
        let known = |uk: &[u8; 32], l: &DeviceList| {
            KnownUser::new(uk, l.to_bytes()).map_err(text("this library refuses a list"))
        };
        let own = PeerDevices::own(known(uk.public(), list)?, 1).map_err(text("own list"))?;
        let mut to_bob = PeerDevices::new(known(bob.user_key(), bob)?);
        let bundle = self.port_bundle(port_account)?;
        to_bob
            .start(account, 1, &bundle, HeaderMode::Plain, &mut self.crypto)
            .map_err(text("a session with the implementation's device"))?;
        Ok(Fanner { own, to_bob })
    }

    /// The exported state reads as a `GroupState` (§12.8) at `reference`'s
    /// epoch, state hash and roster.
    fn group_state_matches(
        &mut self,
        g: &str,
        reference: &Group,
        when: &str,
    ) -> Result<(), String> {
        let state = self.group_state(g)?;
        let got = Group::from_bytes(&state).map_err(|e| {
            format!("{when}: the exported group state does not read as spec §12.8's: {e}")
        })?;
        if got.epoch() != reference.epoch()
            || got.state_hash() != reference.state_hash()
            || got.members() != reference.members()
        {
            return Err(format!(
                "{when}: the exported group state is at epoch {} with another state hash or \
                 roster than this library's (epoch {})",
                got.epoch(),
                reference.epoch()
            ));
        }
        Ok(())
    }

    /// `epoch` and `state_hash` of a response are `reference`'s.
    fn group_position(m: &Map<String, Value>, op: &str, reference: &Group) -> Result<(), String> {
        let want = [
            ("epoch", json!(reference.epoch())),
            ("state_hash", json!(hex(reference.state_hash()))),
        ];
        for (name, v) in want {
            if m.get(name) != Some(&v) {
                return Err(format!("{op}: `{name}` is {:?}, expected {v}", m.get(name)));
            }
        }
        Ok(())
    }

    /// A request on the group `g` that must be refused with `class` and
    /// leave the exported state byte for byte as it was.
    fn group_refused(
        &mut self,
        counts: &mut Counts,
        g: &str,
        op: &str,
        mut req: Value,
        class: &str,
        what: &str,
    ) -> Result<(), String> {
        if let Value::Object(o) = &mut req {
            o.insert("handle".into(), json!(g));
        }
        let before = self.group_state(g)?;
        self.call_refused(op, req, class, what)?;
        if self.group_state(g)? != before {
            return Err(format!(
                "{what} was refused with {class}, but the group state the implementation \
                 exports changed (a refusal changes nothing, spec §12)"
            ));
        }
        counts.refused += 1;
        Ok(())
    }

    fn group_accepts_chain(
        &mut self,
        g: &str,
        offer: &[u8],
        from: &[u8; 32],
        what: &str,
    ) -> Result<(), String> {
        self.call_ok(
            "group_accept_chain",
            json!({ "handle": g, "offer": hex(offer), "from_user": hex(from), "from_device": 1 }),
        )
        .map_err(|e| format!("{what}: {e}"))?;
        Ok(())
    }

    /// `group_decrypt` that must give `plaintext` from `sender`'s device 1
    /// at `index`.
    #[allow(clippy::too_many_arguments)]
    fn group_port_reads(
        &mut self,
        counts: &mut Counts,
        g: &str,
        message: &[u8],
        plaintext: &[u8],
        sender: &[u8; 32],
        index: u32,
        what: &str,
    ) -> Result<(), String> {
        let m = self.call_ok(
            "group_decrypt",
            json!({ "handle": g, "message": hex(message) }),
        )?;
        let want = [
            ("plaintext", json!(hex(plaintext))),
            ("sender_user", json!(hex(sender))),
            ("sender_device", json!(1)),
            ("index", json!(index)),
        ];
        for (name, v) in want {
            if m.get(name) != Some(&v) {
                return Err(format!(
                    "{what}: `{name}` is {:?}, expected {v}",
                    m.get(name)
                ));
            }
        }
        counts.received += 1;
        Ok(())
    }

    fn group_port_sends(
        &mut self,
        counts: &mut Counts,
        g: &str,
        plaintext: &[u8],
    ) -> Result<Vec<u8>, String> {
        let m = self.call_ok(
            "group_encrypt",
            json!({ "handle": g, "plaintext": hex(plaintext) }),
        )?;
        counts.sent += 1;
        hex_of(&m, "group_encrypt", "message")
    }

    /// `group_start_chain`: an offer of the implementation's device at
    /// `reference`'s epoch and state hash, of a generation above `after`.
    fn group_port_chain(
        &mut self,
        g: &str,
        reference: &Group,
        after: Option<u32>,
    ) -> Result<(Vec<u8>, u32), String> {
        let m = self.call_ok("group_start_chain", json!({ "handle": g }))?;
        let offer = hex_of(&m, "group_start_chain", "offer")?;
        let o = ChainOffer::parse(&offer)
            .map_err(text("the implementation's chain offer does not parse"))?;
        if o.epoch != reference.epoch() || o.state_hash != *reference.state_hash() {
            return Err(format!(
                "the implementation's chain offer names epoch {}, expected {}",
                o.epoch,
                reference.epoch()
            ));
        }
        if after.is_some_and(|a| o.generation <= a) {
            return Err(format!(
                "the implementation's fresh chain has generation {}, not above {:?}",
                o.generation, after
            ));
        }
        Ok((offer, o.generation))
    }

    /// The whole exchange (spec §12, appendix A.6.10).
    pub(super) fn groups(&mut self) -> Result<String, String> {
        let mut n = Counts::default();
        let gen = |r: &mut Self| UserKey::generate(&mut r.crypto).map_err(text("user key"));
        let acc = |r: &mut Self| Account::new(&mut r.crypto).map_err(text("account"));
        let (uk_a, uk_b, uk_c, uk_d, uk_m) =
            (gen(self)?, gen(self)?, gen(self)?, gen(self)?, gen(self)?);
        let (a1, c1, d1, m1, ghost) = (acc(self)?, acc(self)?, acc(self)?, acc(self)?, acc(self)?);
        let (ua, ub, uc, ud, um) = (
            *uk_a.public(),
            *uk_b.public(),
            *uk_c.public(),
            *uk_d.public(),
            *uk_m.public(),
        );

        // The implementation as Bob's device 1, knowing everyone's list.
        let m = self.call_ok("account_new", json!({}))?;
        let port_account = field(&m, "account_new", "handle")?.to_owned();
        let identity = hex_of(&m, "account_new", "identity")?;
        let port_key: IdentityKey = identity
            .get(..64)
            .and_then(|k| k.try_into().ok())
            .ok_or("account_new: `identity` is shorter than 64 bytes")?;
        let lists = [
            (&uk_a, one_device_list(&uk_a, a1.identity_key())?),
            (&uk_b, one_device_list(&uk_b, port_key)?),
            (&uk_c, one_device_list(&uk_c, c1.identity_key())?),
            (&uk_d, one_device_list(&uk_d, d1.identity_key())?),
            (&uk_m, one_device_list(&uk_m, m1.identity_key())?),
        ];
        let m = self.call_ok(
            "device_new",
            json!({ "account": port_account, "user_key": hex(&ub), "list": hex(lists[1].1.to_bytes()) }),
        )?;
        let device = field(&m, "device_new", "handle")?.to_owned();
        let mut dir = Vec::new();
        for (uk, list) in &lists {
            if *uk.public() != ub {
                self.call_ok(
                    "device_update",
                    json!({ "handle": device, "user_key": hex(uk.public()), "list": hex(list.to_bytes()) }),
                )?;
            }
            dir.push(
                KnownUser::new(uk.public(), list.to_bytes())
                    .map_err(text("this library refuses a list"))?,
            );
        }
        let dir = dir;
        let member = |user, role| Member { user, role };
        let lib = |what: &'static str| text(what);

        // 1. Alice creates the group with Bob and Carol; the welcome reaches
        //    the implementation first over Carol's session, then Alice's.
        let roster = [
            member(ua, Role::Admin),
            member(ub, Role::Member),
            member(uc, Role::Member),
        ];
        let (mut ga, create) =
            Group::create(&mut self.crypto, &a1, ua, 1, &roster, &dir).map_err(lib("create"))?;
        let welcome = ga.welcome(&create).map_err(lib("welcome"))?;
        // Alice's and Carol's devices reach the implementation by fan-out.
        let mut alice_fan =
            self.group_fanner(&uk_a, &lists[0].1, &a1, &lists[1].1, &port_account)?;
        let mut carol_fan =
            self.group_fanner(&uk_c, &lists[2].1, &c1, &lists[1].1, &port_account)?;
        let m = carol_fan.send_to_port(self, &welcome)?;
        self.call_refused(
            "group_join",
            json!({ "device": device, "message": hex(&m) }),
            "WrongSession",
            "Alice's welcome in a fan-out message of Carol's device",
        )?;
        let join = json!({
            "device": device, "welcome": hex(&welcome), "from_user": hex(&uc), "from_device": 1,
        });
        self.call_refused(
            "group_join",
            join,
            "WrongSession",
            "Alice's welcome delivered over Carol's session",
        )?;
        n.refused += 2;
        let m = alice_fan.send_to_port(self, &welcome)?;
        let m = self.call_ok(
            "group_join",
            json!({ "device": device, "message": hex(&m) }),
        )?;
        Self::group_position(&m, "group_join", &ga)?;
        let g = field(&m, "group_join", "handle")?.to_owned();
        let g = g.as_str();
        self.group_state_matches(g, &ga, "after joining")?;
        let mut gc = Group::join(uc, 1, &welcome, &ua, 1, &dir).map_err(lib("Carol joins"))?;

        // 2. Chains of epoch 0. Alice's offer over Carol's session first.
        let oa = ga
            .start_chain(&mut self.crypto, &a1)
            .map_err(lib("chain"))?;
        let offer = |o: &[u8], from: &[u8; 32]| json!({ "offer": hex(o), "from_user": hex(from), "from_device": 1 });
        let m = carol_fan.send_to_port(self, &oa)?;
        self.group_refused(
            &mut n,
            g,
            "group_accept_chain",
            json!({ "message": hex(&m) }),
            "WrongSession",
            "Alice's chain offer in a fan-out message of Carol's device",
        )?;
        self.group_refused(
            &mut n,
            g,
            "group_accept_chain",
            offer(&oa, &uc),
            "WrongSession",
            "Alice's chain offer delivered over Carol's session",
        )?;
        let m = alice_fan.send_to_port(self, &oa)?;
        self.call_ok(
            "group_accept_chain",
            json!({ "handle": g, "message": hex(&m) }),
        )
        .map_err(|e| format!("Alice's chain offer in a fan-out message of hers: {e}"))?;
        self.group_refused(
            &mut n,
            g,
            "group_accept_chain",
            offer(&oa, &ua),
            "StaleChain",
            "Alice's chain offer delivered again",
        )?;
        let oc = gc
            .start_chain(&mut self.crypto, &c1)
            .map_err(lib("chain"))?;
        self.group_accepts_chain(g, &oc, &uc, "Carol's chain offer")?;
        ga.accept_chain(&oc, &uc, 1, &dir).map_err(lib("Alice"))?;
        let (ob, gen0) = self.group_port_chain(g, &ga, None)?;
        for (who, grp) in [("Alice", &mut ga), ("Carol", &mut gc)] {
            grp.accept_chain(&ob, &ub, 1, &dir)
                .map_err(|e| format!("{who} refuses the implementation's chain offer: {e}"))?;
        }

        // 3. Both ways: three messages of Alice out of order, one of
        //    Carol's, two of the implementation's.
        let mut sent = Vec::new();
        for _ in 0..3 {
            let pt = self.plaintext();
            sent.push((ga.encrypt(&pt).map_err(lib("Alice"))?, pt));
        }
        for i in [2usize, 0, 1] {
            self.group_port_reads(
                &mut n,
                g,
                &sent[i].0,
                &sent[i].1,
                &ua,
                i as u32,
                "Alice's message",
            )?;
        }
        let pt = self.plaintext();
        let mc = gc.encrypt(&pt).map_err(lib("Carol"))?;
        self.group_port_reads(&mut n, g, &mc, &pt, &uc, 0, "Carol's message")?;
        for _ in 0..2 {
            let pt = self.plaintext();
            let m = self.group_port_sends(&mut n, g, &pt)?;
            reads(&mut ga, "Alice", &m, &pt, &ub, &dir)?;
            reads(&mut gc, "Carol", &m, &pt, &ub, &dir)?;
        }

        // 4. At epoch 0: a forged and a replayed message, ghost members and
        //    devices, a member without the role.
        let pt = self.plaintext();
        let m3 = ga.encrypt(&pt).map_err(lib("Alice"))?;
        let decrypt = |m: &[u8]| json!({ "message": hex(m) });
        let apply = |op: &[u8]| json!({ "operation": hex(op) });
        self.group_refused(
            &mut n,
            g,
            "group_decrypt",
            decrypt(&flipped(&m3)),
            "InvalidSignature",
            "Alice's message with a bit of its signature flipped",
        )?;
        self.group_port_reads(
            &mut n,
            g,
            &m3,
            &pt,
            &ua,
            3,
            "Alice's message after its forged copy",
        )?;
        self.group_refused(
            &mut n,
            g,
            "group_decrypt",
            decrypt(&m3),
            "DuplicateOrExpired",
            "Alice's message delivered again",
        )?;
        // A ghost device: Alice's device 9, which her list does not name,
        // holds the group (from Alice's welcome) and offers a chain over
        // its own session, then sends on it.
        let mut g9 = Group::join(ua, 9, &welcome, &ua, 1, &dir).map_err(lib("Alice's device 9"))?;
        let o9 = g9
            .start_chain(&mut self.crypto, &ghost)
            .map_err(lib("chain"))?;
        let pt = self.plaintext();
        let m9 = g9.encrypt(&pt).map_err(lib("Alice's device 9"))?;
        self.group_refused(
            &mut n,
            g,
            "group_accept_chain",
            json!({ "offer": hex(&o9), "from_user": hex(&ua), "from_device": 9 }),
            "UnknownDevice",
            "a chain offer of Alice's device 9 (her list does not name it) over its session",
        )?;
        self.group_refused(
            &mut n,
            g,
            "group_decrypt",
            decrypt(&m9),
            "UnknownDevice",
            "a message of Alice's device 9 (her list does not name it)",
        )?;
        let pt_old = self.plaintext();
        let m_old = ga.encrypt(&pt_old).map_err(lib("Alice"))?;
        let (gid, h0) = (*ga.group_id(), *ga.state_hash());
        let add_mallory = OpKind::Add(member(um, Role::Member));
        let forged_ops = [
            (
                Operation::new_signed(&m1, gid, 1, h0, um, 1, add_mallory.clone()),
                "NotMember",
                "an add of Mallory signed by her listed device (she is no member)",
            ),
            (
                Operation::new_signed(&ghost, gid, 1, h0, ua, 9, add_mallory.clone()),
                "UnknownDevice",
                "an add of Mallory signed as Alice's device 9 (her list does not name it)",
            ),
            (
                Operation::new_signed(&c1, gid, 1, h0, uc, 1, add_mallory.clone()),
                "NotAuthorised",
                "an add of Mallory signed by Carol (a member without the admin role)",
            ),
        ];
        for (op, class, what) in forged_ops {
            let op = op.map_err(lib("sign"))?;
            self.group_refused(&mut n, g, "group_apply", apply(op.to_bytes()), class, what)?;
        }

        // 5. Alice makes Bob an admin (epoch 1); from her state before it,
        //    she also signs a competing add of Dave (a fork) and a change
        //    after it (two epochs ahead of the implementation).
        let mut fork = ga.clone();
        let op1 = ga
            .change_role(&a1, member(ub, Role::Admin), &dir)
            .map_err(lib("Alice"))?;
        let op1_fork = fork
            .add(&a1, member(ud, Role::Member), &dir)
            .map_err(lib("Alice"))?;
        let mut ahead = fork.clone();
        let op_ahead = ahead
            .change_role(&a1, member(uc, Role::Admin), &dir)
            .map_err(lib("Alice"))?;
        self.group_refused(
            &mut n,
            g,
            "group_apply",
            apply(&flipped(&op1)),
            "InvalidSignature",
            "Alice's change of Bob's role with a bit of its signature flipped",
        )?;
        self.group_refused(
            &mut n,
            g,
            "group_apply",
            apply(&op_ahead),
            "EpochAhead",
            "an operation of epoch 2 at epoch 0",
        )?;
        let m = self.call_ok(
            "group_apply",
            json!({ "handle": g, "operation": hex(&op1) }),
        )?;
        if m.get("outcome") != Some(&json!("advanced")) {
            return Err(format!(
                "group_apply of Alice's change: `outcome` is {:?}, expected \"advanced\"",
                m.get("outcome")
            ));
        }
        Self::group_position(&m, "group_apply", &ga)?;
        gc.apply(&op1, &dir).map_err(lib("Carol"))?;
        self.group_state_matches(g, &ga, "after Alice's change")?;
        let before = self.group_state(g)?;
        let m = self.call_ok(
            "group_apply",
            json!({ "handle": g, "operation": hex(&op1) }),
        )?;
        if m.get("outcome") != Some(&json!("unchanged")) || self.group_state(g)? != before {
            return Err(format!(
                "group_apply of the operation just applied: `outcome` is {:?}, expected \
                 \"unchanged\" and the state as it was",
                m.get("outcome")
            ));
        }
        let pt = self.plaintext();
        self.group_refused(
            &mut n,
            g,
            "group_encrypt",
            json!({ "plaintext": hex(&pt) }),
            "NoChain",
            "a group message after a membership change and before a fresh chain",
        )?;
        self.group_refused(
            &mut n,
            g,
            "group_decrypt",
            decrypt(&m_old),
            "StaleEpoch",
            "Alice's message of epoch 0 delivered after the change",
        )?;
        self.group_refused(
            &mut n,
            g,
            "group_accept_chain",
            offer(&oa, &ua),
            "StaleEpoch",
            "Alice's chain offer of epoch 0 delivered after the change",
        )?;
        self.group_refused(
            &mut n,
            g,
            "group_apply",
            apply(&op1_fork),
            "Fork",
            "a competing operation of epoch 1 (Alice's add of Dave, signed from her state \
             before the change)",
        )?;
        fork.start_chain(&mut self.crypto, &a1)
            .map_err(lib("chain"))?;
        let pt = self.plaintext();
        let mf = fork.encrypt(&pt).map_err(lib("Alice"))?;
        self.group_refused(
            &mut n,
            g,
            "group_decrypt",
            decrypt(&mf),
            "Fork",
            "a message of epoch 1 of the other history",
        )?;

        // Fresh chains at epoch 1, and messages both ways.
        let oa1 = ga
            .start_chain(&mut self.crypto, &a1)
            .map_err(lib("chain"))?;
        self.group_accepts_chain(g, &oa1, &ua, "Alice's chain offer of epoch 1")?;
        let oc1 = gc
            .start_chain(&mut self.crypto, &c1)
            .map_err(lib("chain"))?;
        self.group_accepts_chain(g, &oc1, &uc, "Carol's chain offer of epoch 1")?;
        ga.accept_chain(&oc1, &uc, 1, &dir).map_err(lib("Alice"))?;
        let (ob1, gen1) = self.group_port_chain(g, &ga, Some(gen0))?;
        for (who, grp) in [("Alice", &mut ga), ("Carol", &mut gc)] {
            grp.accept_chain(&ob1, &ub, 1, &dir)
                .map_err(|e| format!("{who} refuses the implementation's fresh chain: {e}"))?;
        }
        let pt = self.plaintext();
        let m = ga.encrypt(&pt).map_err(lib("Alice"))?;
        self.group_port_reads(&mut n, g, &m, &pt, &ua, 0, "Alice's message of epoch 1")?;
        let pt = self.plaintext();
        let m = self.group_port_sends(&mut n, g, &pt)?;
        reads(&mut ga, "Alice", &m, &pt, &ub, &dir)?;
        reads(&mut gc, "Carol", &m, &pt, &ub, &dir)?;

        // 6. The implementation, now an admin, adds Dave (epoch 2): its
        //    operation, its welcome and its fresh chain are accepted.
        let m = self.call_ok(
            "group_change",
            json!({ "handle": g, "change": "add", "user": hex(&ud), "role": "member" }),
        )?;
        let op2 = hex_of(&m, "group_change", "operation")?;
        for (who, grp) in [("Alice", &mut ga), ("Carol", &mut gc)] {
            grp.apply(&op2, &dir)
                .map_err(|e| format!("{who} refuses the implementation's add of Dave: {e}"))?;
        }
        Self::group_position(&m, "group_change", &ga)?;
        let m = self.call_ok(
            "group_welcome",
            json!({ "handle": g, "operation": hex(&op2) }),
        )?;
        let w = hex_of(&m, "group_welcome", "welcome")?;
        let mut gd = Group::join(ud, 1, &w, &ub, 1, &dir)
            .map_err(|e| format!("Dave refuses the implementation's welcome: {e}"))?;
        if gd.state_hash() != ga.state_hash() {
            return Err("Dave joins from the implementation's welcome at another state".into());
        }
        let (ob2, gen2) = self.group_port_chain(g, &ga, Some(gen1))?;
        for (who, grp) in [("Alice", &mut ga), ("Carol", &mut gc), ("Dave", &mut gd)] {
            grp.accept_chain(&ob2, &ub, 1, &dir)
                .map_err(|e| format!("{who} refuses the implementation's fresh chain: {e}"))?;
        }
        let od2 = gd
            .start_chain(&mut self.crypto, &d1)
            .map_err(lib("chain"))?;
        self.group_accepts_chain(g, &od2, &ud, "Dave's chain offer")?;
        let oc2 = gc
            .start_chain(&mut self.crypto, &c1)
            .map_err(lib("chain"))?;
        self.group_accepts_chain(g, &oc2, &uc, "Carol's chain offer of epoch 2")?;
        let pt = self.plaintext();
        let m = gd.encrypt(&pt).map_err(lib("Dave"))?;
        self.group_port_reads(&mut n, g, &m, &pt, &ud, 0, "Dave's message")?;
        let pt = self.plaintext();
        let m = self.group_port_sends(&mut n, g, &pt)?;
        for (who, grp) in [("Alice", &mut ga), ("Carol", &mut gc), ("Dave", &mut gd)] {
            reads(grp, who, &m, &pt, &ub, &dir)?;
        }

        // 7. The implementation removes Carol (epoch 3). Her state before
        //    the removal, which holds the implementation's chain of epoch 2,
        //    is kept: what a server that withholds the removal from her
        //    leaves her with.
        let mut carol_before = gc.clone();
        let m = self.call_ok(
            "group_change",
            json!({ "handle": g, "change": "remove", "user": hex(&uc) }),
        )?;
        let op3 = hex_of(&m, "group_change", "operation")?;
        for (who, grp) in [("Alice", &mut ga), ("Dave", &mut gd), ("Carol", &mut gc)] {
            grp.apply(&op3, &dir)
                .map_err(|e| format!("{who} refuses the implementation's removal of Carol: {e}"))?;
        }
        Self::group_position(&m, "group_change", &ga)?;
        let pt = self.plaintext();
        let mc = carol_before.encrypt(&pt).map_err(lib("Carol"))?;
        self.group_refused(
            &mut n,
            g,
            "group_decrypt",
            decrypt(&mc),
            "StaleEpoch",
            "a message of Carol's after her removal (of the epoch before it)",
        )?;
        let op = Operation::new_signed(&c1, gid, 4, *ga.state_hash(), uc, 1, add_mallory)
            .map_err(lib("sign"))?;
        self.group_refused(
            &mut n,
            g,
            "group_apply",
            apply(op.to_bytes()),
            "NotMember",
            "an add of Mallory signed by Carol after her removal",
        )?;
        self.group_refused(
            &mut n,
            g,
            "group_apply",
            apply(&op1),
            "StaleEpoch",
            "Alice's operation of epoch 1 delivered again at epoch 3",
        )?;
        let pt = self.plaintext();
        self.group_refused(
            &mut n,
            g,
            "group_encrypt",
            json!({ "plaintext": hex(&pt) }),
            "NoChain",
            "a group message after the removal and before a fresh chain",
        )?;
        let (ob3, gen3) = self.group_port_chain(g, &ga, Some(gen2))?;
        for (who, grp) in [("Alice", &mut ga), ("Dave", &mut gd)] {
            grp.accept_chain(&ob3, &ub, 1, &dir)
                .map_err(|e| format!("{who} refuses the implementation's fresh chain: {e}"))?;
        }
        let pt = self.plaintext();
        let m = self.group_port_sends(&mut n, g, &pt)?;
        let gm = GroupMessage::parse(&m).map_err(text("the implementation's message"))?;
        if gm.epoch != ga.epoch() || gm.generation != gen3 {
            return Err(format!(
                "the implementation's message after the removal is of epoch {} and chain \
                 generation {}, expected {} and {gen3}",
                gm.epoch,
                gm.generation,
                ga.epoch()
            ));
        }
        reads(&mut ga, "Alice", &m, &pt, &ub, &dir)?;
        reads(&mut gd, "Dave", &m, &pt, &ub, &dir)?;
        for (state, grp) in [
            ("holding the epoch before", &mut carol_before),
            ("having applied it", &mut gc),
        ] {
            if grp.decrypt(&m, &dir).is_ok() {
                return Err(format!(
                    "Carol, removed, {state}, reads the implementation's message sent after \
                     her removal"
                ));
            }
        }
        // Alice, at epoch 3, starts a fresh chain and sends.
        let oa3 = ga
            .start_chain(&mut self.crypto, &a1)
            .map_err(lib("chain"))?;
        self.group_accepts_chain(g, &oa3, &ua, "Alice's chain offer of epoch 3")?;
        let pt = self.plaintext();
        let m = ga.encrypt(&pt).map_err(lib("Alice"))?;
        self.group_port_reads(&mut n, g, &m, &pt, &ua, 0, "Alice's message of epoch 3")?;
        self.group_state_matches(g, &ga, "at the end")?;
        Ok(format!(
            "{} group messages read and {} sent over 4 epochs (a role change by another admin, \
             an add and a removal by the implementation, whose welcome was joined); {} refusals, each \
             leaving the exported state unchanged; the removed member reads nothing after \
             the removal",
            n.received, n.sent, n.refused
        ))
    }
}
