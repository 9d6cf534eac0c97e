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
//! of spec §12, and its exported state (§12.8) must not change. So must
//! malformed operations, welcomes, chain offers and messages; changes
//! check 8 of §12.3 refuses, received or asked of the implementation;
//! welcomes not for it or whose roster does not follow; objects of another
//! group; and messages on no chain it holds, beyond a chain's end, or whose
//! body does not authenticate or is not padded. In further groups the
//! implementation joins by an add, creates a group, sends its chain to its
//! end and leaves, and holds a group of `MAX_MEMBERS`, to which no one can
//! be added.

use serde_json::{json, Map, Value};
use sova::devices::fanout::{self, Audience};
use sova::devices::{DeviceEntry, DeviceList, FanoutReceived, KnownUser, PeerDevices, UserKey};
use sova::groups::{
    ChainOffer, Group, GroupMessage, Member, OpKind, Operation, Role, CHAIN_MESSAGES, MAX_MEMBERS,
};
use sova::kdf::{labeled_expand, labeled_mac, labeled_sign};
use sova::ratchet::{HeaderMode, MAX_PLAINTEXT_LEN};
use sova::session::{Account, IdentityKey};
use sova::{labels, CryptoProvider, DefaultProvider, Secret};

use rand_chacha::rand_core::Rng;

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
/// `object` as received over the pairwise session of `user`'s device
/// `device`: the runner plays the members and the server, and vouches for
/// the session that carried what its own members read.
fn carried(object: &[u8], user: &[u8; 32], device: u32) -> FanoutReceived {
    FanoutReceived::hazmat_new(object.to_vec(), *user, device)
}

fn flipped(m: &[u8]) -> Vec<u8> {
    let mut v = m.to_vec();
    if let Some(b) = v.last_mut() {
        *b ^= 0x01;
    }
    v
}

/// `m` with byte `at` set to `b`.
fn with_byte(m: &[u8], at: usize, b: u8) -> Vec<u8> {
    let mut v = m.to_vec();
    if let Some(x) = v.get_mut(at) {
        *x = b;
    }
    v
}

/// `m` with a zero byte appended.
fn appended(m: &[u8]) -> Vec<u8> {
    let mut v = m.to_vec();
    v.push(0);
    v
}

/// `m` without its last byte.
fn cut(m: &[u8]) -> Vec<u8> {
    m[..m.len().saturating_sub(1)].to_vec()
}

/// A roster (spec §12.2): its members in increasing order of user key.
fn roster_bytes(members: &[Member]) -> Vec<u8> {
    let mut m = members.to_vec();
    m.sort_by_key(|x| x.user);
    let mut v = (m.len() as u16).to_be_bytes().to_vec();
    for x in m {
        v.extend_from_slice(&x.user);
        v.push(u8::from(x.role == Role::Admin));
    }
    v
}

/// A welcome (spec §12.3) of these parts, whether they follow or not.
fn welcome_of(operation: &[u8], roster: &[Member], prev: &[u8]) -> Vec<u8> {
    let mut v = b"SOVA-1 group welcome".to_vec();
    v.push(1);
    v.extend_from_slice(&(operation.len() as u32).to_be_bytes());
    v.extend_from_slice(operation);
    v.extend(roster_bytes(roster));
    v.extend_from_slice(&(prev.len() as u32).to_be_bytes());
    v.extend_from_slice(prev);
    v
}

/// The own chain of `group`, read from its state (spec §12.8): the index
/// of its next message, its chain key there and its signing key seed.
fn own_chain(group: &Group) -> Option<(u32, [u8; 32], [u8; 32])> {
    let s = group.to_bytes();
    let u16_at = |at: usize| Some(u16::from_be_bytes(s.get(at..at + 2)?.try_into().ok()?) as usize);
    let u32_at = |at: usize| Some(u32::from_be_bytes(s.get(at..at + 4)?.try_into().ok()?));
    // Magic, version, group id, own user and device, epoch, state hash.
    let mut at = 12 + 1 + 32 + 32 + 4 + 8 + 32;
    // Roster and last operation, then the epoch before, if any.
    at += 2 + 33 * u16_at(at)?;
    at += 4 + u32_at(at)? as usize;
    if *s.get(at)? == 1 {
        at += 1 + 32;
        at += 2 + 33 * u16_at(at)?;
        at += 4 + u32_at(at)? as usize;
    } else {
        at += 1;
    }
    // next_generation, then the own chain: generation, index, CK, sk.
    at += 4;
    if *s.get(at)? != 1 {
        return None;
    }
    let index = u32_at(at + 1 + 4)?;
    at += 1 + 4 + 4;
    Some((
        index,
        s.get(at..at + 32)?.try_into().ok()?,
        s.get(at + 32..at + 64)?.try_into().ok()?,
    ))
}

/// `unsigned`, all of a group message before its signature, signed with
/// the chain key seed `seed` (spec §12.6).
fn signed(mut unsigned: Vec<u8>, seed: &[u8; 32]) -> Result<Vec<u8>, String> {
    let seed = Secret::<32>::try_from_slice(seed).ok_or("a seed of 32 bytes")?;
    let sig = labeled_sign(
        &DefaultProvider::default(),
        &seed,
        labels::GROUP_MESSAGE,
        &[&unsigned],
    )
    .map_err(text("sign"))?;
    unsigned.extend_from_slice(&sig);
    Ok(unsigned)
}

/// `message`, a group message on `sender`'s own chain, changed by `edit`
/// and signed again with the chain's key: its signature holds, so the
/// checks after the signature's (spec §12.6 checks 7 and 8) see the change.
fn resigned(
    sender: &Group,
    message: &[u8],
    edit: impl FnOnce(&mut Vec<u8>),
) -> Result<Vec<u8>, String> {
    let (_, _, seed) = own_chain(sender).ok_or("this library's group state holds no own chain")?;
    let mut m = message[..message.len().saturating_sub(64)].to_vec();
    edit(&mut m);
    signed(m, &seed)
}

/// The offset of a group message's index: after version, type, group id,
/// epoch, state hash, sender user and device, and generation (spec §12.6).
const INDEX_AT: usize = 1 + 1 + 32 + 8 + 32 + 32 + 4 + 4;
/// The length of a group message's header (spec §12.6).
const HEADER_LEN: usize = INDEX_AT + 4;

/// A group message of `header` (of the chain's next message, whose chain
/// key is `ck`) whose body authenticates but is 32 zero bytes: no `0x80`
/// marker, not a padded plaintext (spec §5.4), signed with `seed`.
fn badly_padded(header: &[u8], ck: &[u8; 32], seed: &[u8; 32]) -> Result<Vec<u8>, String> {
    let p = DefaultProvider::default();
    let mk = labeled_mac(&p, ck, labels::GROUP_MESSAGE_KEY, &[]).map_err(text("mac"))?;
    let mut okm = Secret::<44>::zero();
    labeled_expand(
        &p,
        &mk,
        labels::GROUP_MESSAGE_KEYS,
        header,
        okm.expose_mut(),
    )
    .map_err(text("expand"))?;
    let key = Secret::<32>::try_from_slice(&okm.expose()[..32]).ok_or("a key of 32 bytes")?;
    let nonce: [u8; 12] = okm.expose()[32..].try_into().map_err(text("nonce"))?;
    let mut body = vec![0u8; 32];
    let tag = p.aead_seal(&key, &nonce, header, &mut body);
    let mut m = header.to_vec();
    m.extend_from_slice(&48u32.to_be_bytes());
    m.extend_from_slice(&body);
    m.extend_from_slice(&tag);
    signed(m, seed)
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

    /// A `group_join` of `welcome`, named as delivered over the session of
    /// `from`'s device 1, that must be refused with `class`, leaving the
    /// device's group `g` byte for byte as it was.
    #[allow(clippy::too_many_arguments)]
    fn group_join_refused(
        &mut self,
        counts: &mut Counts,
        g: &str,
        device: &str,
        welcome: &[u8],
        from: &[u8; 32],
        class: &str,
        what: &str,
    ) -> Result<(), String> {
        let before = self.group_state(g)?;
        self.call_refused(
            "group_join",
            json!({ "device": device, "welcome": hex(welcome), "from_user": hex(from), "from_device": 1 }),
            class,
            what,
        )?;
        if self.group_state(g)? != before {
            return Err(format!(
                "{what} was refused with {class}, but the group state the implementation \
                 exports for its other group changed"
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
        let mut gc =
            Group::join(uc, 1, &carried(&welcome, &ua, 1), &dir).map_err(lib("Carol joins"))?;
        // Welcomes that do not read, or whose roster or previous operation
        // does not follow from the create.
        if welcome_of(&create, &roster, &[]) != welcome {
            return Err("this library's welcome differs from spec §12.3's encoding".into());
        }
        let mut with_mallory = roster.to_vec();
        with_mallory.push(member(um, Role::Member));
        let bad_welcomes = [
            (
                cut(&welcome),
                "Malformed(Truncated)",
                "Alice's welcome without its last byte",
            ),
            (
                appended(&welcome),
                "Malformed(TrailingBytes)",
                "Alice's welcome with a byte appended",
            ),
            (
                with_byte(&welcome, 20, 2),
                "Malformed(UnsupportedVersion)",
                "Alice's welcome of version 2",
            ),
            (
                with_byte(&welcome, 0, b'X'),
                "Malformed(BadMagic)",
                "Alice's welcome with another magic",
            ),
            (
                welcome_of(&create, &with_mallory, &[]),
                "WelcomeMismatch",
                "Alice's welcome with Mallory added to its roster (not the create's)",
            ),
            (
                welcome_of(&create, &roster, &create),
                "WelcomeMismatch",
                "Alice's welcome of a create naming a previous operation",
            ),
        ];
        for (w, class, what) in bad_welcomes {
            self.group_join_refused(&mut n, g, &device, &w, &ua, class, what)?;
        }

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
        let bad_offers = [
            (
                cut(&oa),
                "Malformed(Truncated)",
                "Alice's chain offer without its last byte",
            ),
            (
                appended(&oa),
                "Malformed(TrailingBytes)",
                "Alice's chain offer with a byte appended",
            ),
            (
                with_byte(&oa, 18, 2),
                "Malformed(UnsupportedVersion)",
                "Alice's chain offer of version 2",
            ),
            (
                with_byte(&oa, 0, b'X'),
                "Malformed(BadMagic)",
                "Alice's chain offer with another magic",
            ),
        ];
        for (o, class, what) in bad_offers {
            self.group_refused(&mut n, g, "group_accept_chain", offer(&o, &ua), class, what)?;
        }
        let oc = gc
            .start_chain(&mut self.crypto, &c1)
            .map_err(lib("chain"))?;
        self.group_accepts_chain(g, &oc, &uc, "Carol's chain offer")?;
        ga.accept_chain(&carried(&oc, &uc, 1), &dir)
            .map_err(lib("Alice"))?;
        let (ob, gen0) = self.group_port_chain(g, &ga, None)?;
        for (who, grp) in [("Alice", &mut ga), ("Carol", &mut gc)] {
            grp.accept_chain(&carried(&ob, &ub, 1), &dir)
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
        // The body length (after the 118-byte header) one above the longest.
        let mut too_long = m3.clone();
        too_long[118..122].copy_from_slice(&1_048_593u32.to_be_bytes());
        let bad_messages = [
            (
                m3[..100].to_vec(),
                "Malformed(Truncated)",
                "Alice's message cut inside its header",
            ),
            (
                cut(&m3),
                "Malformed(Truncated)",
                "Alice's message without its last byte",
            ),
            (
                appended(&m3),
                "Malformed(TrailingBytes)",
                "Alice's message with a byte appended",
            ),
            (
                with_byte(&m3, 0, 2),
                "Malformed(UnsupportedVersion)",
                "Alice's message of version 2",
            ),
            (
                with_byte(&m3, 1, 0x31),
                "Malformed(BadMagic)",
                "Alice's message of another type",
            ),
            (
                too_long,
                "Malformed(BodyLength)",
                "Alice's message naming a body of 1,048,593 bytes",
            ),
        ];
        for (m, class, what) in bad_messages {
            self.group_refused(&mut n, g, "group_decrypt", decrypt(&m), class, what)?;
        }
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
        let mut g9 = Group::join(ua, 9, &carried(&welcome, &ua, 1), &dir)
            .map_err(lib("Alice's device 9"))?;
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
        // Changes by Alice, the only admin, that check 8 refuses.
        let changes = [
            (
                OpKind::Add(member(uc, Role::Member)),
                "AlreadyMember",
                "an add of Carol (a member) signed by Alice",
            ),
            (
                OpKind::Remove(um),
                "NoSuchMember",
                "a removal of Mallory (no member) signed by Alice",
            ),
            (
                OpKind::ChangeRole(member(uc, Role::Member)),
                "RoleUnchanged",
                "Carol made a member (she is one) by Alice",
            ),
            (
                OpKind::ChangeRole(member(ua, Role::Member)),
                "LastAdmin",
                "Alice, the only admin, making herself a member",
            ),
            (
                OpKind::Remove(ua),
                "LastAdmin",
                "Alice, the only admin, leaving",
            ),
        ];
        for (kind, class, what) in changes {
            let op = Operation::new_signed(&a1, gid, 1, h0, ua, 1, kind).map_err(lib("sign"))?;
            self.group_refused(&mut n, g, "group_apply", apply(op.to_bytes()), class, what)?;
        }
        let op = Operation::new_signed(
            &a1,
            gid,
            1,
            h0,
            ua,
            1,
            OpKind::Add(member(um, Role::Member)),
        )
        .map_err(lib("sign"))?;
        let op = op.to_bytes();
        // The kind after magic, version, group id, epoch, prev and signer;
        // an add's role after the kind and the user key (spec §12.3).
        let bad_ops = [
            (
                cut(op),
                "Malformed(Truncated)",
                "Alice's add of Mallory without its last byte",
            ),
            (
                appended(op),
                "Malformed(TrailingBytes)",
                "Alice's add of Mallory with a byte appended",
            ),
            (
                with_byte(op, 15, 2),
                "Malformed(UnsupportedVersion)",
                "Alice's add of Mallory of version 2",
            ),
            (
                with_byte(op, 0, b'X'),
                "Malformed(BadMagic)",
                "Alice's add of Mallory with another magic",
            ),
            (
                with_byte(op, 124, 7),
                "Malformed(InvalidKind)",
                "Alice's add of Mallory of kind 7",
            ),
            (
                with_byte(op, 157, 2),
                "Malformed(InvalidRole)",
                "Alice's add of Mallory with role 2",
            ),
        ];
        for (op, class, what) in bad_ops {
            self.group_refused(&mut n, g, "group_apply", apply(&op), class, what)?;
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
        ga.accept_chain(&carried(&oc1, &uc, 1), &dir)
            .map_err(lib("Alice"))?;
        let (ob1, gen1) = self.group_port_chain(g, &ga, Some(gen0))?;
        for (who, grp) in [("Alice", &mut ga), ("Carol", &mut gc)] {
            grp.accept_chain(&carried(&ob1, &ub, 1), &dir)
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
        let mut gd = Group::join(ud, 1, &carried(&w, &ub, 1), &dir)
            .map_err(|e| format!("Dave refuses the implementation's welcome: {e}"))?;
        if gd.state_hash() != ga.state_hash() {
            return Err("Dave joins from the implementation's welcome at another state".into());
        }
        let (ob2, gen2) = self.group_port_chain(g, &ga, Some(gen1))?;
        for (who, grp) in [("Alice", &mut ga), ("Carol", &mut gc), ("Dave", &mut gd)] {
            grp.accept_chain(&carried(&ob2, &ub, 1), &dir)
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
            grp.accept_chain(&carried(&ob3, &ub, 1), &dir)
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
        self.group_state_matches(g, &ga, "at the end of the first group")?;

        // 8. Another group of Alice's, first without Bob: its welcome is
        //    not for the implementation. Alice then adds Bob: the welcome
        //    of the add with another roster or previous operation is
        //    refused, the genuine one joined, and objects of this group
        //    handed to the first group are refused.
        let roster2 = [member(ua, Role::Admin), member(uc, Role::Member)];
        let (mut h2, create2) =
            Group::create(&mut self.crypto, &a1, ua, 1, &roster2, &dir).map_err(lib("create"))?;
        let w = h2.welcome(&create2).map_err(lib("welcome"))?;
        self.group_join_refused(
            &mut n,
            g,
            &device,
            &w,
            &ua,
            "NotInRoster",
            "the welcome of a group of Alice and Carol (not Bob)",
        )?;
        let add_bob = h2
            .add(&a1, member(ub, Role::Member), &dir)
            .map_err(lib("Alice"))?;
        let w2 = h2.welcome(&add_bob).map_err(lib("welcome"))?;
        let after = [
            member(ua, Role::Admin),
            member(ub, Role::Member),
            member(uc, Role::Member),
        ];
        if welcome_of(&add_bob, &after, &create2) != w2 {
            return Err("this library's welcome differs from spec §12.3's encoding".into());
        }
        let mut after_mallory = after.to_vec();
        after_mallory.push(member(um, Role::Member));
        let carol_admin = [
            member(ua, Role::Admin),
            member(ub, Role::Member),
            member(uc, Role::Admin),
        ];
        let bad_welcomes = [
            (
                welcome_of(&add_bob, &after_mallory, &create2),
                "the welcome of Alice's add of Bob with Mallory in its roster",
            ),
            (
                welcome_of(&add_bob, &carol_admin, &create2),
                "the welcome of Alice's add of Bob with Carol an admin in its roster",
            ),
            (
                welcome_of(&add_bob, &after, &[]),
                "the welcome of Alice's add of Bob without its previous operation",
            ),
            (
                welcome_of(&add_bob, &after, &add_bob),
                "the welcome of Alice's add of Bob naming the add as its previous operation",
            ),
        ];
        for (w, what) in bad_welcomes {
            self.group_join_refused(&mut n, g, &device, &w, &ua, "WelcomeMismatch", what)?;
        }
        let m = alice_fan.send_to_port(self, &w2)?;
        let m = self.call_ok(
            "group_join",
            json!({ "device": device, "message": hex(&m) }),
        )?;
        Self::group_position(&m, "group_join of an add", &h2)?;
        let g2 = field(&m, "group_join", "handle")?.to_owned();
        let g2 = g2.as_str();
        self.group_state_matches(g2, &h2, "after joining Alice's second group")?;
        let o2 = h2
            .start_chain(&mut self.crypto, &a1)
            .map_err(lib("chain"))?;
        let pt2 = self.plaintext();
        let m2 = h2.encrypt(&pt2).map_err(lib("Alice"))?;
        let op2 = h2
            .clone()
            .change_role(&a1, member(uc, Role::Admin), &dir)
            .map_err(lib("Alice"))?;
        let other = "of Alice's second group handed to the first";
        for (op, req, what) in [
            ("group_accept_chain", offer(&o2, &ua), "a chain offer"),
            ("group_decrypt", decrypt(&m2), "a message"),
            ("group_apply", apply(&op2), "an operation"),
            (
                "group_welcome",
                apply(&add_bob),
                "the add of Bob, for a welcome,",
            ),
        ] {
            let what = format!("{what} {other}");
            self.group_refused(&mut n, g, op, req, "WrongGroup", &what)?;
        }
        self.group_accepts_chain(g2, &o2, &ua, "Alice's chain offer in her second group")?;
        self.group_port_reads(
            &mut n,
            g2,
            &m2,
            &pt2,
            &ua,
            0,
            "Alice's message in her second group",
        )?;

        // 9. The implementation creates a group with Alice and Dave
        //    (members); they join from its welcome. Changes check 8
        //    refuses, a message beyond the end of Alice's chain, the
        //    implementation's chain sent to its end, then Alice made an
        //    admin and the implementation leaving.
        let m = self.call_ok(
            "group_create",
            json!({ "device": device, "members": [
                { "user": hex(&ua), "role": "member" },
                { "user": hex(&ub), "role": "admin" },
                { "user": hex(&ud), "role": "member" },
            ] }),
        )?;
        let g3 = field(&m, "group_create", "handle")?.to_owned();
        let g3 = g3.as_str();
        let create3 = hex_of(&m, "group_create", "operation")?;
        let created = m;
        let m = self.call_ok(
            "group_welcome",
            json!({ "handle": g3, "operation": hex(&create3) }),
        )?;
        let w3 = hex_of(&m, "group_welcome", "welcome")?;
        let mut a3 = Group::join(ua, 1, &carried(&w3, &ub, 1), &dir)
            .map_err(|e| format!("Alice refuses the implementation's welcome to its group: {e}"))?;
        let mut d3 = Group::join(ud, 1, &carried(&w3, &ub, 1), &dir)
            .map_err(|e| format!("Dave refuses the implementation's welcome to its group: {e}"))?;
        let mut want = vec![
            member(ua, Role::Member),
            member(ub, Role::Admin),
            member(ud, Role::Member),
        ];
        want.sort_by_key(|m| m.user);
        if a3.epoch() != 0 || a3.members() != want.as_slice() {
            return Err(format!(
                "the implementation's group is created at epoch {} with another roster than \
                 requested",
                a3.epoch()
            ));
        }
        Self::group_position(&created, "group_create", &a3)?;
        self.group_state_matches(g3, &a3, "after creating")?;
        let change = |change: &str, user: &[u8; 32], role: Option<&str>| {
            let mut v = json!({ "change": change, "user": hex(user) });
            if let (Some(r), Value::Object(o)) = (role, &mut v) {
                o.insert("role".into(), json!(r));
            }
            v
        };
        for (req, class, what) in [
            (
                change("change_role", &ub, Some("member")),
                "LastAdmin",
                "the implementation, the only admin, making itself a member",
            ),
            (
                change("remove", &ub, None),
                "LastAdmin",
                "the implementation, the only admin, leaving",
            ),
            (
                change("add", &ua, Some("member")),
                "AlreadyMember",
                "an add of Alice (a member)",
            ),
            (
                change("change_role", &ud, Some("member")),
                "RoleUnchanged",
                "Dave made a member (he is one)",
            ),
            (
                change("remove", &um, None),
                "NoSuchMember",
                "a removal of Mallory (no member)",
            ),
        ] {
            self.group_refused(&mut n, g3, "group_change", req, class, what)?;
        }
        let (ob, gen_b) = self.group_port_chain(g3, &a3, None)?;
        for (who, grp) in [("Alice", &mut a3), ("Dave", &mut d3)] {
            grp.accept_chain(&carried(&ob, &ub, 1), &dir)
                .map_err(|e| format!("{who} refuses the implementation's chain offer: {e}"))?;
        }
        let oa = a3
            .start_chain(&mut self.crypto, &a1)
            .map_err(lib("chain"))?;
        self.group_accepts_chain(
            g3,
            &oa,
            &ua,
            "Alice's chain offer in the implementation's group",
        )?;
        let pt = self.plaintext();
        let m = a3.encrypt(&pt).map_err(lib("Alice"))?;
        self.group_port_reads(
            &mut n,
            g3,
            &m,
            &pt,
            &ua,
            0,
            "Alice's message in the implementation's group",
        )?;
        // Dave, whose chain the implementation does not hold, sends.
        d3.start_chain(&mut self.crypto, &d1)
            .map_err(lib("chain"))?;
        let pt = self.plaintext();
        let m = d3.encrypt(&pt).map_err(lib("Dave"))?;
        self.group_refused(
            &mut n,
            g3,
            "group_decrypt",
            decrypt(&m),
            "UnknownChain",
            "a message of Dave's on a chain he never offered the implementation",
        )?;
        // Alice's next message, and copies of it signed again with her
        // chain's key: at index 1000, with a body byte flipped, and with
        // a body that authenticates but is not padded.
        let (_, ck, seed) = own_chain(&a3).ok_or("Alice's group state holds no own chain")?;
        let pt = self.plaintext();
        let m = a3.encrypt(&pt).map_err(lib("Alice"))?;
        let forged = [
            (
                resigned(&a3, &m, |v| {
                    v[INDEX_AT..HEADER_LEN].copy_from_slice(&CHAIN_MESSAGES.to_be_bytes())
                })?,
                "BeyondChainEnd",
                "Alice's message moved to index 1000 (the chain's end) and signed again with \
                 her chain's key",
            ),
            (
                resigned(&a3, &m, |v| v[HEADER_LEN + 4] ^= 0x01)?,
                "Authentication",
                "Alice's message with a body bit flipped, signed again with her chain's key",
            ),
            (
                badly_padded(&m[..HEADER_LEN], &ck, &seed)?,
                "InvalidPadding",
                "a message of Alice's chain whose body authenticates but is not padded",
            ),
        ];
        for (f, class, what) in forged {
            self.group_refused(&mut n, g3, "group_decrypt", decrypt(&f), class, what)?;
        }
        self.group_port_reads(
            &mut n,
            g3,
            &m,
            &pt,
            &ua,
            1,
            "Alice's message after its copy beyond the chain's end",
        )?;
        self.group_refused(
            &mut n,
            g3,
            "group_encrypt",
            json!({ "plaintext": hex(&vec![0u8; MAX_PLAINTEXT_LEN + 1]) }),
            "PlaintextTooLong",
            "a group message of 2^20 bytes",
        )?;
        // The implementation's chain to its end: CHAIN_MESSAGES messages,
        // the first read by Alice and Dave, the last by Alice.
        for i in 0..CHAIN_MESSAGES {
            let pt = if i == 0 || i == CHAIN_MESSAGES - 1 {
                self.plaintext()
            } else {
                i.to_be_bytes().to_vec()
            };
            let m = self.group_port_sends(&mut n, g3, &pt)?;
            if i == 0 {
                reads(&mut d3, "Dave", &m, &pt, &ub, &dir)?;
            }
            if i == 0 || i == CHAIN_MESSAGES - 1 {
                reads(&mut a3, "Alice", &m, &pt, &ub, &dir)?;
            }
        }
        let pt = self.plaintext();
        self.group_refused(
            &mut n,
            g3,
            "group_encrypt",
            json!({ "plaintext": hex(&pt) }),
            "ChainExhausted",
            "a group message after the sending chain's 1000th",
        )?;
        let (ob, _) = self.group_port_chain(g3, &a3, Some(gen_b))?;
        for (who, grp) in [("Alice", &mut a3), ("Dave", &mut d3)] {
            grp.accept_chain(&carried(&ob, &ub, 1), &dir)
                .map_err(|e| format!("{who} refuses the implementation's fresh chain: {e}"))?;
        }
        let pt = self.plaintext();
        let m = self.group_port_sends(&mut n, g3, &pt)?;
        reads(&mut a3, "Alice", &m, &pt, &ub, &dir)?;
        for (req, what) in [
            (
                change("change_role", &ua, Some("admin")),
                "Alice made an admin",
            ),
            (change("remove", &ub, None), "the implementation leaving"),
        ] {
            let mut req = req;
            if let Value::Object(o) = &mut req {
                o.insert("handle".into(), json!(g3));
            }
            let m = self
                .call_ok("group_change", req)
                .map_err(|e| format!("{what}: {e}"))?;
            let op = hex_of(&m, "group_change", "operation")?;
            for (who, grp) in [("Alice", &mut a3), ("Dave", &mut d3)] {
                grp.apply(&op, &dir).map_err(|e| {
                    format!("{who} refuses the implementation's operation ({what}): {e}")
                })?;
            }
            Self::group_position(&m, "group_change", &a3)?;
        }
        let pt = self.plaintext();
        self.group_refused(
            &mut n,
            g3,
            "group_encrypt",
            json!({ "plaintext": hex(&pt) }),
            "Removed",
            "a group message after the implementation left",
        )?;
        self.group_refused(
            &mut n,
            g3,
            "group_start_chain",
            json!({}),
            "Removed",
            "a fresh chain after the implementation left",
        )?;
        self.group_state_matches(g3, &a3, "after leaving")?;
        for h in [g3, g2] {
            self.call_ok("drop", json!({ "handle": h }))?;
        }

        // 10. A group of MAX_MEMBERS: Alice, Bob and people with no device
        //     here. Its welcome is joined; Alice's add of Mallory is
        //     refused.
        let mut full = vec![member(ua, Role::Admin), member(ub, Role::Member)];
        while full.len() < MAX_MEMBERS {
            let mut user = [0u8; 32];
            self.choice.fill_bytes(&mut user);
            if !full.iter().any(|m| m.user == user) && user != um {
                full.push(member(user, Role::Member));
            }
        }
        let (h4, create4) =
            Group::create(&mut self.crypto, &a1, ua, 1, &full, &dir).map_err(lib("create"))?;
        let w4 = h4.welcome(&create4).map_err(lib("welcome"))?;
        let m = self.call_ok(
            "group_join",
            json!({ "device": device, "welcome": hex(&w4), "from_user": hex(&ua), "from_device": 1 }),
        )?;
        Self::group_position(&m, "group_join of a group of 1000", &h4)?;
        let g4 = field(&m, "group_join", "handle")?.to_owned();
        let op = Operation::new_signed(
            &a1,
            *h4.group_id(),
            1,
            *h4.state_hash(),
            ua,
            1,
            OpKind::Add(member(um, Role::Member)),
        )
        .map_err(lib("sign"))?;
        self.group_refused(
            &mut n,
            &g4,
            "group_apply",
            apply(op.to_bytes()),
            "TooManyMembers",
            "Alice's add of Mallory to a group of 1000 members",
        )?;
        self.group_state_matches(&g4, &h4, "in the group of 1000")?;
        self.call_ok("drop", json!({ "handle": g4 }))?;
        Ok(format!(
            "{} group messages read and {} sent in four groups (one over 4 epochs with a role \
             change by another admin, an add and a removal by the implementation, whose \
             welcome was joined; one joined by an add; one the implementation created, whose \
             chain it sent to its end, and left; one of 1000 members); {} refusals, each leaving the exported state \
             unchanged; the removed member reads nothing after the removal",
            n.received, n.sent, n.refused
        ))
    }
}
