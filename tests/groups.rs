//! Groups (spec §12) through the public API: a world of people and devices
//! whose chain offers and welcomes travel only as fan-out messages over
//! pairwise sessions (spec §11.6), and a hostile server that tries every
//! attack of spec §12.1 and is caught.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;

use rand_chacha::{rand_core::Rng, rand_core::SeedableRng, ChaCha20Rng};
use sova::devices::fanout::{self, Audience, DeviceMessage, Target};
use sova::devices::{DeviceEntry, FanoutReceived, KnownUser, UserKey};
use sova::groups::{
    Applied, ChainOffer, Group, GroupError, GroupMessage, Member, OpKind, Operation, ParseError,
    Role, Welcome, CHAIN_MESSAGES,
};
use sova::kdf::{labeled_expand, labeled_mac, labeled_sign};
use sova::provider::CryptoProvider;
use sova::ratchet::{padding, HeaderMode, StateError};
use sova::session::{Account, Conversation, PersistError};
use sova::{DefaultProvider, Secret};

struct Dev {
    user: usize,
    id: u32,
    account: Account,
    group: Option<Group>,
}

struct World {
    rng: ChaCha20Rng,
    uks: Vec<UserKey>,
    known: Vec<KnownUser>,
    devs: Vec<Dev>,
    convs: HashMap<(usize, usize), Conversation>,
}

impl World {
    /// People with the given numbers of devices; every device knows every
    /// person's list.
    fn new(devices: &[u32]) -> Self {
        let mut rng = ChaCha20Rng::from_seed([42; 32]);
        let mut uks = Vec::new();
        let mut known = Vec::new();
        let mut devs = Vec::new();
        for (user, &n) in devices.iter().enumerate() {
            let uk = UserKey::generate(&mut rng).unwrap();
            let mut entries = Vec::new();
            for id in 1..=n {
                let account = Account::new(&mut rng).unwrap();
                entries.push(DeviceEntry {
                    device_id: id,
                    identity: account.identity_key(),
                    admin: id == 1,
                });
                devs.push(Dev {
                    user,
                    id,
                    account,
                    group: None,
                });
            }
            let list = uk.sign_list(1, &entries).unwrap();
            known.push(KnownUser::new(uk.public(), list.to_bytes()).unwrap());
            uks.push(uk);
        }
        World {
            rng,
            uks,
            known,
            devs,
            convs: HashMap::new(),
        }
    }

    fn uk(&self, user: usize) -> [u8; 32] {
        *self.uks[user].public()
    }

    fn dev(&self, user: usize, id: u32) -> usize {
        self.devs
            .iter()
            .position(|d| d.user == user && d.id == id)
            .unwrap()
    }

    fn user_of(&self, uk: &[u8; 32]) -> usize {
        self.uks.iter().position(|u| u.public() == uk).unwrap()
    }

    fn act<R>(&mut self, d: usize, f: impl FnOnce(&Account, &mut Group) -> R) -> R {
        let dev = &mut self.devs[d];
        f(&dev.account, dev.group.as_mut().unwrap())
    }

    fn g(&mut self, d: usize) -> &mut Group {
        self.devs[d].group.as_mut().unwrap()
    }

    fn ensure_session(&mut self, from: usize, to: usize) {
        if self
            .convs
            .get(&(from, to))
            .is_some_and(|c| c.active_session().is_some())
        {
            return;
        }
        let bundle = self.devs[to].account.bundle(None, None).unwrap().to_bytes();
        let c = Conversation::start(
            &self.devs[from].account,
            &mut self.rng,
            &self.devs[to].account.identity_key(),
            &bundle,
            HeaderMode::Encrypted,
        )
        .unwrap();
        self.convs.insert((from, to), c);
    }

    /// One fan-out message (spec §11.6) from device `from` to every device of
    /// `to_user` (for one's own user: a note to self, to one's other
    /// devices); returns what each of those devices received, as (device,
    /// fan-out result). A message to another person is recipient-only: group
    /// objects reach the own devices by a note to self (spec §12.5).
    fn fan(&mut self, from: usize, to_user: usize, payload: &[u8]) -> Vec<(usize, FanoutReceived)> {
        let su = self.devs[from].user;
        let mut wanted: Vec<(Audience, usize)> = Vec::new();
        for (i, d) in self.devs.iter().enumerate() {
            if d.user == to_user && to_user != su {
                wanted.push((Audience::Recipient, i));
            } else if d.user == su && i != from && to_user == su {
                wanted.push((Audience::OwnDevice, i));
            }
        }
        if wanted.is_empty() {
            return Vec::new();
        }
        for &(_, d) in &wanted {
            self.ensure_session(from, d);
        }
        let mut taken: Vec<(Audience, u32, usize, Conversation)> = wanted
            .iter()
            .map(|&(a, d)| {
                (
                    a,
                    self.devs[d].id,
                    d,
                    self.convs.remove(&(from, d)).unwrap(),
                )
            })
            .collect();
        let wire = {
            let mut targets: Vec<Target<'_>> = taken
                .iter_mut()
                .map(|(a, id, _, c)| Target {
                    audience: *a,
                    device_id: *id,
                    conversation: c,
                })
                .collect();
            if to_user == su {
                fanout::encrypt(
                    &self.known[su],
                    self.devs[from].id,
                    &self.known[to_user],
                    &mut targets,
                    payload,
                    &mut self.rng,
                )
            } else {
                fanout::encrypt_to_recipient(
                    &self.known[su],
                    self.devs[from].id,
                    &self.known[to_user],
                    &mut targets,
                    payload,
                    &mut self.rng,
                )
            }
            .unwrap()
        };
        for (_, _, d, c) in taken {
            self.convs.insert((from, d), c);
        }
        let mut out = Vec::new();
        for (audience, id, m) in fanout::split(&wire).unwrap() {
            let user = if audience == Audience::Recipient {
                to_user
            } else {
                su
            };
            let d = self.dev(user, id);
            let msg = DeviceMessage::parse(&m).unwrap();
            let peer = self.devs[from].account.identity_key();
            let conv = self
                .convs
                .entry((d, from))
                .or_insert_with(|| Conversation::new(peer));
            let got = fanout::receive(
                &self.known[self.devs[d].user],
                &self.known[su],
                conv,
                &mut self.devs[d].account,
                &msg,
            )
            .unwrap();
            out.push((d, got));
        }
        out
    }

    /// What device `to` received of a fan-out message from device `from`
    /// carrying `payload` (sent to every device of `to`'s user).
    fn carry(&mut self, from: usize, to: usize, payload: &[u8]) -> FanoutReceived {
        let user = self.devs[to].user;
        self.fan(from, user, payload)
            .into_iter()
            .find(|(d, _)| *d == to)
            .map(|(_, got)| got)
            .unwrap()
    }

    /// Hands a chain offer of device `from` to every member's devices and
    /// to its own other devices, over fan-out only; each receiver accepts
    /// what the fan-out layer received.
    fn hand_out(&mut self, from: usize, offer: &[u8]) {
        let members: Vec<usize> = self.devs[from]
            .group
            .as_ref()
            .unwrap()
            .members()
            .iter()
            .map(|m| self.user_of(&m.user))
            .collect();
        for u in members {
            for (d, got) in self.fan(from, u, offer) {
                let known = self.known.clone();
                if let Some(g) = self.devs[d].group.as_mut() {
                    g.accept_chain(&got, &known).unwrap();
                }
            }
        }
    }

    /// Device `d` starts a chain and hands it out.
    fn new_chain(&mut self, d: usize) {
        let mut rng = ChaCha20Rng::from_seed([d as u8 + 100; 32]);
        let offer = self
            .act(d, |account, g| g.start_chain(&mut rng, account))
            .unwrap();
        self.hand_out(d, &offer);
    }

    /// Device `from` welcomes every device of `user` (fan-out), which join.
    fn welcome(&mut self, from: usize, user: usize, op: &[u8]) {
        let w = self.devs[from].group.as_ref().unwrap().welcome(op).unwrap();
        for (d, got) in self.fan(from, user, &w) {
            let me = self.uk(self.devs[d].user);
            let g = Group::join(me, self.devs[d].id, &got, &self.known).unwrap();
            self.devs[d].group = Some(g);
        }
    }

    /// Every device holding the group applies `op`.
    fn apply_all(&mut self, op: &[u8], except: usize) {
        let known = self.known.clone();
        for (i, d) in self.devs.iter_mut().enumerate() {
            if i == except {
                continue;
            }
            if let Some(g) = d.group.as_mut() {
                assert_eq!(g.apply(op, &known).unwrap(), Applied::Advanced);
            }
        }
    }

    fn decrypt(&mut self, d: usize, wire: &[u8]) -> Result<Vec<u8>, GroupError> {
        let known = self.known.clone();
        self.g(d).decrypt(wire, &known).map(|r| r.plaintext)
    }
}

const ALICE: usize = 0;
const BOB: usize = 1;
const CAROL: usize = 2;
const DAVE: usize = 3;

/// Alice (2 devices, admin), Bob (1) and Carol (1) in a group; Dave (1)
/// outside. Every device of the group has started a chain.
fn setup() -> (World, Vec<u8>) {
    let mut w = World::new(&[2, 1, 1, 1]);
    let a1 = w.dev(ALICE, 1);
    let roster = [
        Member {
            user: w.uk(ALICE),
            role: Role::Admin,
        },
        Member {
            user: w.uk(BOB),
            role: Role::Member,
        },
        Member {
            user: w.uk(CAROL),
            role: Role::Member,
        },
    ];
    let mut rng = ChaCha20Rng::from_seed([1; 32]);
    let (g, create) = Group::create(
        &mut rng,
        &w.devs[a1].account,
        w.uk(ALICE),
        1,
        &roster,
        &w.known,
    )
    .unwrap();
    w.devs[a1].group = Some(g);
    for u in [ALICE, BOB, CAROL] {
        w.welcome(a1, u, &create);
    }
    for d in 0..w.devs.len() {
        if w.devs[d].group.is_some() {
            w.new_chain(d);
        }
    }
    (w, create)
}

fn broadcast_ok(w: &mut World, from: usize, text: &[u8]) -> Vec<u8> {
    let wire = w.g(from).encrypt(text).unwrap();
    for d in 0..w.devs.len() {
        if d != from && w.devs[d].group.as_ref().is_some_and(|g| g.is_member()) {
            assert_eq!(w.decrypt(d, &wire).unwrap(), text, "device {d}");
        }
    }
    wire
}

#[test]
fn create_join_send_receive() {
    let (mut w, _) = setup();
    let (a1, a2, b, c) = (
        w.dev(ALICE, 1),
        w.dev(ALICE, 2),
        w.dev(BOB, 1),
        w.dev(CAROL, 1),
    );
    for d in [a1, a2, b, c] {
        assert_eq!(w.devs[d].group.as_ref().unwrap().epoch(), 0);
        assert!(!w.devs[d].group.as_ref().unwrap().needs_chain());
    }
    let h = *w.g(a1).state_hash();
    assert!([a2, b, c].iter().all(|&d| *w.g(d).state_hash() == h));
    broadcast_ok(&mut w, a1, b"from alice's phone");
    broadcast_ok(&mut w, a2, b"from alice's laptop");
    broadcast_ok(&mut w, b, b"from bob");
    let again = w.g(b).clone().encrypt(b"x").unwrap();
    let known = w.known.clone();
    let r = w.g(c).decrypt(&again, &known);
    // A clone of Bob's state sends index 1 again: fine for Carol once.
    assert!(r.is_ok());
    assert_eq!(w.devs.iter().filter(|d| d.group.is_some()).count(), 4);
    assert_eq!(w.devs[w.dev(DAVE, 1)].group, None);
}

#[test]
fn out_of_order_within_limits_and_replay() {
    let (mut w, _) = setup();
    let (a1, b) = (w.dev(ALICE, 1), w.dev(BOB, 1));
    let wires: Vec<Vec<u8>> = (0..5u8)
        .map(|i| w.g(a1).encrypt(&[i; 10]).unwrap())
        .collect();
    for i in [4usize, 0, 2, 1, 3] {
        assert_eq!(w.decrypt(b, &wires[i]).unwrap(), vec![i as u8; 10]);
    }
    for wire in &wires {
        let before = w.g(b).clone();
        assert_eq!(w.decrypt(b, wire), Err(GroupError::DuplicateOrExpired));
        assert_eq!(*w.g(b), before);
    }
    // The largest gap a chain allows: a fresh chain's last message first.
    w.new_chain(a1);
    let all: Vec<Vec<u8>> = (0..CHAIN_MESSAGES)
        .map(|i| w.g(a1).encrypt(&i.to_be_bytes()).unwrap())
        .collect();
    let last = all.len() - 1;
    assert_eq!(
        w.decrypt(b, &all[last]).unwrap(),
        (last as u32).to_be_bytes()
    );
    assert_eq!(w.decrypt(b, &all[500]).unwrap(), 500u32.to_be_bytes());
    assert_eq!(w.decrypt(b, &all[0]).unwrap(), 0u32.to_be_bytes());
    assert_eq!(w.decrypt(b, &all[500]), Err(GroupError::DuplicateOrExpired));
}

#[test]
fn chain_ends_after_chain_messages_and_a_fresh_one_continues() {
    let (mut w, _) = setup();
    let a1 = w.dev(ALICE, 1);
    for _ in 0..CHAIN_MESSAGES {
        w.g(a1).encrypt(b"m").unwrap();
    }
    assert!(w.g(a1).needs_chain());
    assert_eq!(w.g(a1).encrypt(b"m"), Err(GroupError::ChainExhausted));
    w.new_chain(a1);
    broadcast_ok(&mut w, a1, b"fresh chain");
}

/// The test's own implementation of spec §12.5–§12.6, to build messages an
/// honest sender never would.
fn craft(
    offer_ck: &Secret<32>,
    seed: &Secret<32>,
    head: &GroupMessage<'_>,
    index: u32,
    padded: &[u8],
    break_tag: bool,
) -> Vec<u8> {
    let p = DefaultProvider::default();
    let mut ck = offer_ck.clone();
    let mut mk = Secret::<32>::zero();
    for _ in 0..=index - head.index {
        mk = labeled_mac(&p, ck.expose(), "group message key", &[]).unwrap();
        ck = labeled_mac(&p, ck.expose(), "group chain", &[]).unwrap();
    }
    let mut out = vec![1u8, 0x30];
    out.extend_from_slice(&head.group_id);
    out.extend_from_slice(&head.epoch.to_be_bytes());
    out.extend_from_slice(&head.state_hash);
    out.extend_from_slice(&head.sender_user);
    out.extend_from_slice(&head.sender_device.to_be_bytes());
    out.extend_from_slice(&head.generation.to_be_bytes());
    out.extend_from_slice(&index.to_be_bytes());
    let mut okm = [0u8; 44];
    labeled_expand(&p, &mk, "group message keys", &out, &mut okm).unwrap();
    let key = Secret::try_from_slice(&okm[..32]).unwrap();
    let nonce: [u8; 12] = okm[32..].try_into().unwrap();
    let mut body = padded.to_vec();
    let mut tag = p.aead_seal(&key, &nonce, &out.clone(), &mut body);
    if break_tag {
        tag[0] ^= 1;
    }
    out.extend_from_slice(&((body.len() + 16) as u32).to_be_bytes());
    out.extend_from_slice(&body);
    out.extend_from_slice(&tag);
    let sig = labeled_sign(&p, seed, "group message", &[&out]).unwrap();
    out.extend_from_slice(&sig);
    out
}

#[test]
fn every_message_rejection_changes_nothing() {
    let (mut w, _) = setup();
    let (a1, b) = (w.dev(ALICE, 1), w.dev(BOB, 1));
    // Alice starts a chain with a generator whose output the test knows:
    // chain key, then signing seed (spec §12.5).
    let mut rng = ChaCha20Rng::from_seed([9; 32]);
    let mut probe = rng.clone();
    let mut ck = Secret::<32>::zero();
    let mut seed = Secret::<32>::zero();
    probe.fill_bytes(ck.expose_mut());
    probe.fill_bytes(seed.expose_mut());
    let offer = w
        .act(a1, |account, g| g.start_chain(&mut rng, account))
        .unwrap();
    let parsed = ChainOffer::parse(&offer).unwrap();
    assert_eq!(parsed.index, 0);
    w.hand_out(a1, &offer);
    let honest = w.g(a1).encrypt(b"honest").unwrap();
    let head = GroupMessage::parse(&honest).unwrap();
    // The crafted message with index 0 equals the honest one: the test's
    // derivation is the spec's.
    let pad = |t: &[u8]| {
        let mut v = Vec::new();
        padding::pad_into(t, &mut v);
        v
    };
    assert_eq!(craft(&ck, &seed, &head, 0, &pad(b"honest"), false), honest);

    let mut forger = Secret::<32>::zero();
    forger.expose_mut()[0] = 7;
    let mut bad_sig = honest.clone();
    let n = bad_sig.len();
    bad_sig[n - 1] ^= 1;
    let mut other_group = honest.clone();
    other_group[2] ^= 1;
    let mut stale = honest.clone();
    stale[34..42].copy_from_slice(&u64::MAX.to_be_bytes());
    let mut hash = honest.clone();
    hash[42] ^= 1;
    let mut unknown_chain = honest.clone();
    unknown_chain[110..114].copy_from_slice(&77u32.to_be_bytes());
    let mut ghost_device = honest.clone();
    ghost_device[106..110].copy_from_slice(&9u32.to_be_bytes());
    let mut not_member = honest.clone();
    not_member[74..106].copy_from_slice(&w.uk(DAVE));
    let cases: Vec<(Vec<u8>, GroupError)> = vec![
        (
            honest[..50].to_vec(),
            GroupError::Malformed(ParseError::Truncated("state hash")),
        ),
        (
            [&honest[..], &[0]].concat(),
            GroupError::Malformed(ParseError::TrailingBytes),
        ),
        (other_group, GroupError::WrongGroup),
        (stale, GroupError::EpochAhead),
        (hash, GroupError::Fork),
        (not_member, GroupError::NotMember),
        (ghost_device, GroupError::UnknownDevice),
        (unknown_chain, GroupError::UnknownChain),
        (bad_sig, GroupError::InvalidSignature),
        // Bob holds Alice's chain key: he can read but not write as her.
        (
            craft(&ck, &forger, &head, 1, &pad(b"forged"), false),
            GroupError::InvalidSignature,
        ),
        (
            craft(&ck, &seed, &head, CHAIN_MESSAGES, &pad(b"x"), false),
            GroupError::BeyondChainEnd,
        ),
        (
            craft(&ck, &seed, &head, 1, &pad(b"x"), true),
            GroupError::Authentication,
        ),
        (
            craft(&ck, &seed, &head, 1, &[0u8; 32], false),
            GroupError::InvalidPadding,
        ),
    ];
    for (i, (wire, want)) in cases.iter().enumerate() {
        let before = w.g(b).clone();
        assert_eq!(w.decrypt(b, wire), Err(*want), "case {i}");
        assert_eq!(*w.g(b), before, "case {i}");
    }
    assert_eq!(w.decrypt(b, &honest).unwrap(), b"honest");
}

#[test]
fn add_remove_change_role_and_fresh_chains() {
    let (mut w, _) = setup();
    let (a1, a2, b, c, d) = (
        w.dev(ALICE, 1),
        w.dev(ALICE, 2),
        w.dev(BOB, 1),
        w.dev(CAROL, 1),
        w.dev(DAVE, 1),
    );
    broadcast_ok(&mut w, b, b"before");
    let old_from_bob = w.g(b).encrypt(b"old epoch").unwrap();
    // Alice adds Dave: new epoch, chains gone everywhere.
    let known = w.known.clone();
    let dave = Member {
        user: *w.uks[DAVE].public(),
        role: Role::Member,
    };
    let add = w
        .act(a1, |account, g| g.add(account, dave, &known))
        .unwrap();
    w.apply_all(&add, a1);
    w.welcome(a1, DAVE, &add);
    assert_eq!(w.g(d).members().len(), 4);
    for x in [a1, a2, b, c, d] {
        assert_eq!(w.g(x).epoch(), 1);
        assert!(w.g(x).needs_chain());
        assert_eq!(w.g(x).encrypt(b"no"), Err(GroupError::NoChain));
    }
    // The old epoch's message is refused now.
    assert_eq!(w.decrypt(c, &old_from_bob), Err(GroupError::StaleEpoch));
    for x in [a1, a2, b, c, d] {
        w.new_chain(x);
    }
    broadcast_ok(&mut w, d, b"hi, I'm Dave");
    // Alice makes Bob an admin; Bob removes Carol.
    let bob_admin = Member {
        user: w.uk(BOB),
        role: Role::Admin,
    };
    let op = w
        .act(a1, |account, g| g.change_role(account, bob_admin, &known))
        .unwrap();
    w.apply_all(&op, a1);
    // Carol sends at the epoch before her removal, on a chain of her own.
    w.new_chain(c);
    let carol_old = w.g(c).encrypt(b"before my removal").unwrap();
    let carol_before_removal = w.g(c).clone();
    let a2_before_removal = w.g(a2).clone();
    let carol_uk = w.uk(CAROL);
    let rm = w
        .act(b, |account, g| g.remove(account, &carol_uk, &known))
        .unwrap();
    w.apply_all(&rm, b);
    assert!(!w.g(c).is_member());
    assert_eq!(w.g(c).encrypt(b"x"), Err(GroupError::Removed));
    let mut rng = ChaCha20Rng::from_seed([3; 32]);
    assert_eq!(
        w.act(c, |account, g| g.start_chain(&mut rng, account)),
        Err(GroupError::Removed)
    );
    // Fresh chains go to the new roster only: Carol receives none.
    for x in [a1, a2, b, d] {
        w.new_chain(x);
    }
    let wire = broadcast_ok(&mut w, a1, b"after carol left");
    // Carol cannot read it: she holds no chain of the new epoch.
    assert_eq!(w.decrypt(c, &wire), Err(GroupError::UnknownChain));
    // A removed member's genuinely signed messages: of the old epoch
    // (StaleEpoch), and, from her pre-removal state moved to the new epoch
    // and hash, signed with her own chain: from outside the roster
    // (NotMember, before any chain or signature is looked at).
    let held = w.g(b).clone();
    assert_eq!(w.decrypt(b, &carol_old), Err(GroupError::StaleEpoch));
    // Her chain key and signing seed, from her own state (spec §12.8: the
    // own chain is followed by no received chain and no stored key).
    let state = carol_before_removal.to_bytes();
    let l = state.len();
    assert_eq!(&state[l - 36..l - 32], &[0, 0, 0, 0]);
    let ck = Secret::try_from_slice(&state[l - 100..l - 68]).unwrap();
    let sk = Secret::try_from_slice(&state[l - 68..l - 36]).unwrap();
    let new_epoch = w.g(b).epoch();
    let new_hash = *w.g(b).state_hash();
    let mut header = carol_old.clone();
    header[34..42].copy_from_slice(&new_epoch.to_be_bytes());
    header[42..74].copy_from_slice(&new_hash);
    header[114..118].copy_from_slice(&1u32.to_be_bytes());
    let head = GroupMessage::parse(&header).unwrap();
    let mut padded = Vec::new();
    padding::pad_into(b"still here", &mut padded);
    let forged = craft(&ck, &sk, &head, 1, &padded, false);
    let head = GroupMessage::parse(&forged).unwrap();
    assert_eq!((head.epoch, head.state_hash), (new_epoch, new_hash));
    assert_eq!(head.sender_user, carol_uk);
    // The same construction at her own epoch is genuine: Alice's second
    // device, still at that epoch, reads it.
    let mut old_head = carol_old.clone();
    old_head[114..118].copy_from_slice(&1u32.to_be_bytes());
    let old_head = GroupMessage::parse(&old_head).unwrap();
    let genuine = craft(&ck, &sk, &old_head, 1, &padded, false);
    let mut a2_old = a2_before_removal.clone();
    assert_eq!(
        a2_old.decrypt(&genuine, &known).unwrap().plaintext,
        b"still here"
    );
    for x in [a1, b, d] {
        assert_eq!(w.decrypt(x, &forged), Err(GroupError::NotMember));
    }
    assert_eq!(*w.g(b), held);
    // Leaving: Dave removes himself; a member cannot remove others.
    let bob_uk = w.uk(BOB);
    let before = w.g(d).clone();
    assert_eq!(
        w.act(d, |account, g| g.remove(account, &bob_uk, &known)),
        Err(GroupError::NotAuthorised)
    );
    assert_eq!(*w.g(d), before);
    let dave_uk = w.uk(DAVE);
    let leave = w
        .act(d, |account, g| g.remove(account, &dave_uk, &known))
        .unwrap();
    for x in [a1, a2, b] {
        assert_eq!(w.g(x).apply(&leave, &known), Ok(Applied::Advanced));
    }
    assert!(!w.g(d).is_member());
}

#[test]
fn hostile_server_operations_are_refused() {
    let (mut w, create) = setup();
    let (a1, b, c, d) = (
        w.dev(ALICE, 1),
        w.dev(BOB, 1),
        w.dev(CAROL, 1),
        w.dev(DAVE, 1),
    );
    let known = w.known.clone();
    let gid = *w.g(b).group_id();
    let h0 = *w.g(b).state_hash();
    let ghost = Member {
        user: [0x66; 32],
        role: Role::Admin,
    };
    // A key the server holds, and a certified device of a non-member.
    let server = Account::new(&mut w.rng).unwrap();
    let sign = |acct: &Account, user: [u8; 32], dev: u32, epoch: u64, prev, kind| {
        Operation::new_signed(acct, gid, epoch, prev, user, dev, kind)
            .unwrap()
            .to_bytes()
            .to_vec()
    };
    let add_ghost = OpKind::Add(ghost);
    let cases: Vec<(Vec<u8>, GroupError)> = vec![
        // Ghost member, signed by the server in Alice's name.
        (
            sign(&server, w.uk(ALICE), 1, 1, h0, add_ghost.clone()),
            GroupError::InvalidSignature,
        ),
        // ... by a device Alice's list does not hold (a ghost device).
        (
            sign(&server, w.uk(ALICE), 9, 1, h0, add_ghost.clone()),
            GroupError::UnknownDevice,
        ),
        // ... by a certified device of a non-member.
        (
            sign(&w.devs[d].account, w.uk(DAVE), 1, 1, h0, add_ghost.clone()),
            GroupError::NotMember,
        ),
        // ... by a member without the role.
        (
            sign(&w.devs[c].account, w.uk(CAROL), 1, 1, h0, add_ghost.clone()),
            GroupError::NotAuthorised,
        ),
        (
            sign(
                &w.devs[c].account,
                w.uk(CAROL),
                1,
                1,
                h0,
                OpKind::Remove(w.uk(BOB)),
            ),
            GroupError::NotAuthorised,
        ),
        (
            sign(
                &w.devs[c].account,
                w.uk(CAROL),
                1,
                1,
                h0,
                OpKind::ChangeRole(Member {
                    user: w.uk(CAROL),
                    role: Role::Admin,
                }),
            ),
            GroupError::NotAuthorised,
        ),
        // Another history: a gap, a wrong previous hash, another group.
        (
            sign(
                &w.devs[a1].account,
                w.uk(ALICE),
                1,
                3,
                h0,
                add_ghost.clone(),
            ),
            GroupError::EpochAhead,
        ),
        (
            sign(
                &w.devs[a1].account,
                w.uk(ALICE),
                1,
                1,
                [1; 32],
                add_ghost.clone(),
            ),
            GroupError::Fork,
        ),
        (
            Operation::new_signed(
                &w.devs[a1].account,
                [5; 32],
                1,
                h0,
                w.uk(ALICE),
                1,
                add_ghost.clone(),
            )
            .unwrap()
            .to_bytes()
            .to_vec(),
            GroupError::WrongGroup,
        ),
        // Changes that cannot be.
        (
            sign(
                &w.devs[a1].account,
                w.uk(ALICE),
                1,
                1,
                h0,
                OpKind::Add(Member {
                    user: w.uk(BOB),
                    role: Role::Member,
                }),
            ),
            GroupError::AlreadyMember,
        ),
        (
            sign(
                &w.devs[a1].account,
                w.uk(ALICE),
                1,
                1,
                h0,
                OpKind::Remove(w.uk(DAVE)),
            ),
            GroupError::NoSuchMember,
        ),
        (
            sign(
                &w.devs[a1].account,
                w.uk(ALICE),
                1,
                1,
                h0,
                OpKind::Remove(w.uk(ALICE)),
            ),
            GroupError::LastAdmin,
        ),
        (
            sign(
                &w.devs[a1].account,
                w.uk(ALICE),
                1,
                1,
                h0,
                OpKind::ChangeRole(Member {
                    user: w.uk(ALICE),
                    role: Role::Member,
                }),
            ),
            GroupError::LastAdmin,
        ),
        // A second creation at epoch 1.
        (
            sign(
                &w.devs[a1].account,
                w.uk(ALICE),
                1,
                1,
                h0,
                OpKind::Create(vec![Member {
                    user: w.uk(ALICE),
                    role: Role::Admin,
                }]),
            ),
            GroupError::Fork,
        ),
        (
            create[..40].to_vec(),
            GroupError::Malformed(ParseError::Truncated("group id")),
        ),
    ];
    for (i, (op, want)) in cases.iter().enumerate() {
        let before = w.g(b).clone();
        assert_eq!(w.g(b).apply(op, &known), Err(*want), "case {i}");
        assert_eq!(*w.g(b), before, "case {i}");
    }
    // Replaying the creation changes nothing.
    assert_eq!(w.g(b).apply(&create, &known), Ok(Applied::Unchanged));
    // Every byte flipped in a genuine operation is refused.
    let mut alice = w.devs[a1].group.clone().unwrap();
    let genuine = alice
        .add(
            &w.devs[a1].account,
            Member {
                user: w.uk(DAVE),
                role: Role::Member,
            },
            &known,
        )
        .unwrap();
    for i in 0..genuine.len() {
        let mut t = genuine.clone();
        t[i] ^= 0x01;
        let before = w.g(b).clone();
        assert!(w.g(b).apply(&t, &known).is_err(), "byte {i}");
        assert_eq!(*w.g(b), before);
    }
    assert_eq!(w.g(b).apply(&genuine, &known), Ok(Applied::Advanced));
    // An operation of an epoch left behind.
    let older = sign(
        &w.devs[a1].account,
        w.uk(ALICE),
        1,
        0,
        [0; 32],
        OpKind::Remove(w.uk(BOB)),
    );
    assert_eq!(w.g(b).apply(&older, &known), Err(GroupError::StaleEpoch));
}

#[test]
fn ghost_devices_and_wrong_sessions_are_refused() {
    let (mut w, create) = setup();
    let (a1, a2, b, c, d) = (
        w.dev(ALICE, 1),
        w.dev(ALICE, 2),
        w.dev(BOB, 1),
        w.dev(CAROL, 1),
        w.dev(DAVE, 1),
    );
    let known = w.known.clone();
    let mut rng = ChaCha20Rng::from_seed([5; 32]);
    let offer = w
        .act(a1, |account, g| g.start_chain(&mut rng, account))
        .unwrap();
    let alice = w.uk(ALICE);
    // Alice's chain delivered over Carol's pairwise session, or over the
    // one with Alice's other device: refused.
    let before = w.g(b).clone();
    for relay in [c, a2] {
        let got = w.carry(relay, b, &offer);
        assert_eq!(
            w.g(b).accept_chain(&got, &known),
            Err(GroupError::WrongSession)
        );
    }
    assert_eq!(*w.g(b), before);
    // A ghost device of Alice (a device the server made up): the fan-out
    // layer refuses its pairwise messages, and its chain offer, bound by a
    // key Alice's list does not hold, is refused too.
    let ghost = Account::new(&mut w.rng).unwrap();
    let mut ghost_group = w.g(a1).clone();
    // The ghost claims to be Alice's device 1 with its own identity.
    let ghost_offer = ghost_group.start_chain(&mut rng, &ghost).unwrap();
    let got = w.carry(a1, b, &ghost_offer);
    assert_eq!(
        w.g(b).accept_chain(&got, &known),
        Err(GroupError::InvalidSignature)
    );
    // Alice's genuine offer, once her list no longer lists the device
    // (Bob accepted a newer list since).
    let a2_entry = DeviceEntry {
        device_id: 2,
        identity: w.devs[a2].account.identity_key(),
        admin: true,
    };
    let newer = w.uks[ALICE].sign_list(2, &[a2_entry]).unwrap();
    let mut later = known.clone();
    later[ALICE] = KnownUser::new(&alice, newer.to_bytes()).unwrap();
    let got = w.carry(a1, b, &offer);
    assert_eq!(
        w.g(b).accept_chain(&got, &later),
        Err(GroupError::UnknownDevice)
    );
    // A non-member's offer, over the pairwise session with its device.
    let dave = w.uk(DAVE);
    let mut dave_offer = ghost_offer.clone();
    dave_offer[18 + 1 + 32 + 8 + 32..][..32].copy_from_slice(&dave);
    let got = w.carry(d, b, &dave_offer);
    assert_eq!(
        w.g(b).accept_chain(&got, &known),
        Err(GroupError::NotMember)
    );
    // Other group, wrong epoch, other state hash, malformed.
    let mut x = offer.clone();
    x[20] ^= 1;
    let got = w.carry(a1, b, &x);
    assert_eq!(
        w.g(b).accept_chain(&got, &known),
        Err(GroupError::WrongGroup)
    );
    let mut x = offer.clone();
    x[58] ^= 1;
    let got = w.carry(a1, b, &x);
    assert_eq!(
        w.g(b).accept_chain(&got, &known),
        Err(GroupError::EpochAhead)
    );
    let mut x = offer.clone();
    x[60] ^= 1;
    let got = w.carry(a1, b, &x);
    assert_eq!(w.g(b).accept_chain(&got, &known), Err(GroupError::Fork));
    let got = w.carry(a1, b, &offer[..10]);
    assert_eq!(
        w.g(b).accept_chain(&got, &known),
        Err(GroupError::Malformed(ParseError::Truncated("magic")))
    );
    assert_eq!(*w.g(b), before);
    // The genuine offer, then its replay.
    let got = w.carry(a1, b, &offer);
    w.g(b).accept_chain(&got, &known).unwrap();
    let held = w.g(b).clone();
    let again = w.carry(a1, b, &offer);
    assert_eq!(
        w.g(b).accept_chain(&again, &known),
        Err(GroupError::StaleChain)
    );
    assert_eq!(*w.g(b), held);
    // Welcomes: from another device than the operation's signer, or not
    // adding the receiver.
    let welcome = w.g(a1).welcome(&create).unwrap();
    let me = w.uk(BOB);
    let got = w.carry(c, b, &welcome);
    assert_eq!(
        Group::join(me, 1, &got, &known),
        Err(GroupError::WrongSession)
    );
    let got = w.carry(a1, d, &welcome);
    assert_eq!(
        Group::join(dave, 1, &got, &known),
        Err(GroupError::NotInRoster)
    );
    // A welcome whose roster the server changed (a ghost slipped in).
    let parsed = Welcome::parse(&welcome).unwrap();
    assert_eq!(parsed.members().len(), 3);
    let ghost = Member {
        user: [0x66; 32],
        role: Role::Admin,
    };
    let mut members = parsed.members().to_vec();
    members.push(ghost);
    members.sort_by_key(|m| m.user);
    let op_len = u32::from_be_bytes(welcome[21..25].try_into().unwrap()) as usize;
    let roster_at = 25 + op_len;
    let roster_end = roster_at + 2 + 33 * 3;
    let mut forged = welcome[..roster_at].to_vec();
    forged.extend_from_slice(&(members.len() as u16).to_be_bytes());
    for m in &members {
        forged.extend_from_slice(&m.user);
        forged.push(if m.role == Role::Admin { 1 } else { 0 });
    }
    forged.extend_from_slice(&welcome[roster_end..]);
    // The forged welcome parses and lists the ghost; joining refuses it.
    let f = Welcome::parse(&forged).unwrap();
    assert!(f.members().contains(&ghost));
    assert_eq!(f.members().len(), 4);
    let got = w.carry(a1, b, &forged);
    assert_eq!(
        Group::join(me, 1, &got, &known),
        Err(GroupError::WelcomeMismatch)
    );
    // The genuine welcome joins.
    let got = w.carry(a1, b, &welcome);
    assert_eq!(Group::join(me, 1, &got, &known).unwrap().members().len(), 3);
    let _ = (a2, c, d);
}

#[test]
fn a_competing_operation_at_the_head_is_a_fork_and_changes_nothing() {
    let (mut w, create) = setup();
    let (a1, a2, b, c) = (
        w.dev(ALICE, 1),
        w.dev(ALICE, 2),
        w.dev(BOB, 1),
        w.dev(CAROL, 1),
    );
    let known = w.known.clone();
    let (dave_uk, bob_uk, carol_uk) = (w.uk(DAVE), w.uk(BOB), w.uk(CAROL));
    // A second create with the same group id is a competing create: Fork
    // (spec §12.4), whatever its hash.
    let before = w.g(b).clone();
    let gid = *w.g(b).group_id();
    let recreate = Operation::new_signed(
        &w.devs[a1].account,
        gid,
        0,
        [0; 32],
        w.uk(ALICE),
        1,
        OpKind::Create(vec![Member {
            user: w.uk(ALICE),
            role: Role::Admin,
        }]),
    )
    .unwrap()
    .to_bytes()
    .to_vec();
    assert_eq!(w.g(b).apply(&recreate, &known), Err(GroupError::Fork));
    assert_eq!(w.g(b).apply(&create, &known), Ok(Applied::Unchanged));
    assert_eq!(*w.g(b), before);
    // Alice's two devices act at once: one adds Dave, the other makes Bob
    // an admin. Alice's second device keeps its state from before signing
    // until the server accepts its operation (spec §12.4).
    let a2_before = w.g(a2).clone();
    let op1 = w
        .act(a1, |account, g| {
            g.add(
                account,
                Member {
                    user: dave_uk,
                    role: Role::Member,
                },
                &known,
            )
        })
        .unwrap();
    let op2 = w
        .act(a2, |account, g| {
            g.change_role(
                account,
                Member {
                    user: bob_uk,
                    role: Role::Admin,
                },
                &known,
            )
        })
        .unwrap();
    // A server that shows Bob op1 and Carol op2 splits them.
    assert_eq!(w.g(b).apply(&op1, &known), Ok(Applied::Advanced));
    assert_eq!(w.g(c).apply(&op2, &known), Ok(Applied::Advanced));
    let h1 = *w.g(b).state_hash();
    let h2 = *w.g(c).state_hash();
    assert_ne!(h1, h2);
    let mut rng = ChaCha20Rng::from_seed([4; 32]);
    w.act(b, |account, g| g.start_chain(&mut rng, account))
        .unwrap();
    let from_bob = w.g(b).encrypt(b"which epoch?").unwrap();
    assert_eq!(w.decrypt(c, &from_bob), Err(GroupError::Fork));
    // Neither side ever switches, whichever hash is smaller; replays of
    // the applied one stay Unchanged.
    for (x, other, own) in [(b, &op2, &op1), (c, &op1, &op2), (a1, &op2, &op1)] {
        let held = w.g(x).clone();
        assert_eq!(w.g(x).apply(other, &known), Err(GroupError::Fork));
        assert_eq!(*w.g(x), held, "a competing head changed device {x}");
        assert_eq!(w.g(x).apply(own, &known), Ok(Applied::Unchanged));
        assert_eq!(*w.g(x), held);
    }
    // The server accepted op1: Alice's second device goes back to its
    // earlier state and follows the log.
    assert_eq!(w.g(a2).apply(&op1, &known), Err(GroupError::Fork));
    w.devs[a2].group = Some(a2_before);
    assert_eq!(w.g(a2).apply(&op1, &known), Ok(Applied::Advanced));
    assert_eq!(*w.g(a2).state_hash(), h1);
    // The log's next operation: Carol, shown the other branch, refuses it
    // (Fork) and keeps refusing, whatever comes next.
    let op3 = w
        .act(a1, |account, g| g.remove(account, &carol_uk, &known))
        .unwrap();
    for x in [a2, b] {
        assert_eq!(w.g(x).apply(&op3, &known), Ok(Applied::Advanced));
    }
    let held = w.g(c).clone();
    assert_eq!(w.g(c).apply(&op3, &known), Err(GroupError::Fork));
    assert_eq!(*w.g(c), held);
    // op2 is now an epoch behind Bob: StaleEpoch.
    assert_eq!(w.g(b).apply(&op2, &known), Err(GroupError::StaleEpoch));
    // Carol's message and chain offer of her epoch 1 name a hash Bob did
    // not hold at epoch 1: Fork, not StaleEpoch (spec §12.6 check 3).
    let mut rng = ChaCha20Rng::from_seed([5; 32]);
    let carol_offer = w
        .act(c, |account, g| g.start_chain(&mut rng, account))
        .unwrap();
    let from_carol = w.g(c).encrypt(b"still epoch 1").unwrap();
    let held = w.g(b).clone();
    assert_eq!(w.decrypt(b, &from_carol), Err(GroupError::Fork));
    let got = w.carry(c, b, &carol_offer);
    assert_eq!(w.g(b).accept_chain(&got, &known), Err(GroupError::Fork));
    // Bob's own epoch-1 message is only late: StaleEpoch.
    assert_eq!(w.decrypt(a2, &from_bob), Err(GroupError::StaleEpoch));
    assert_eq!(*w.g(b), held);
}

/// Signs an operation at `epoch` on `prev` in the name of `user`'s device 1.
fn signed(w: &World, d: usize, epoch: u64, prev: [u8; 32], kind: OpKind) -> Vec<u8> {
    let gid = {
        let first = w.devs.iter().find_map(|x| x.group.as_ref()).unwrap();
        *first.group_id()
    };
    let dev = &w.devs[d];
    Operation::new_signed(&dev.account, gid, epoch, prev, w.uk(dev.user), dev.id, kind)
        .unwrap()
        .to_bytes()
        .to_vec()
}

#[test]
fn a_removed_admin_cannot_reverse_its_removal_by_grinding() {
    let (mut w, _) = setup();
    let (a1, a2, b, c) = (
        w.dev(ALICE, 1),
        w.dev(ALICE, 2),
        w.dev(BOB, 1),
        w.dev(CAROL, 1),
    );
    let known = w.known.clone();
    let (alice_uk, bob_uk) = (w.uk(ALICE), w.uk(BOB));
    // Bob becomes an admin, then Alice removes him.
    let promote = w
        .act(a1, |account, g| {
            g.change_role(
                account,
                Member {
                    user: bob_uk,
                    role: Role::Admin,
                },
                &known,
            )
        })
        .unwrap();
    w.apply_all(&promote, a1);
    let h1 = *w.g(a1).state_hash();
    let bob_at_1 = w.g(b).clone();
    let removal = w
        .act(a1, |account, g| g.remove(account, &bob_uk, &known))
        .unwrap();
    w.apply_all(&removal, a1);
    let h_removal = *w.g(a1).state_hash();
    // Bob grinds competing operations at epoch 2 on epoch 1: adds of keys he
    // makes up, and one removing Alice. Under a "smaller hash wins" rule
    // some of them would replace the removal.
    let mut ground = Vec::new();
    for i in 0..32u8 {
        ground.push(signed(
            &w,
            b,
            2,
            h1,
            OpKind::Add(Member {
                user: [i; 32],
                role: Role::Admin,
            }),
        ));
    }
    ground.push(signed(&w, b, 2, h1, OpKind::Remove(alice_uk)));
    let mut smaller = 0;
    for op in &ground {
        let mut g = bob_at_1.clone();
        assert_eq!(g.apply(op, &known), Ok(Applied::Advanced));
        if *g.state_hash() < h_removal {
            smaller += 1;
        }
    }
    assert!(smaller > 0, "the grinding found a smaller state hash");
    // Every device holding the removal refuses every one of them.
    for x in [a1, a2, c] {
        let held = w.g(x).clone();
        for op in &ground {
            assert_eq!(w.g(x).apply(op, &known), Err(GroupError::Fork));
        }
        assert_eq!(*w.g(x), held);
        assert!(held.members().iter().all(|m| m.user != bob_uk));
    }
    // Bob holds no chain of epoch 2, and none is sent to him.
    assert!(!w.g(b).is_member());
    w.new_chain(a1);
    let wire = broadcast_ok(&mut w, a1, b"without bob");
    assert_eq!(w.decrypt(b, &wire), Err(GroupError::UnknownChain));
}

#[test]
fn a_held_back_operation_released_later_cannot_undo_a_removal() {
    let (mut w, _) = setup();
    let (a1, a2, b, c) = (
        w.dev(ALICE, 1),
        w.dev(ALICE, 2),
        w.dev(BOB, 1),
        w.dev(CAROL, 1),
    );
    let known = w.known.clone();
    let (bob_uk, carol_uk) = (w.uk(BOB), w.uk(CAROL));
    let promote = w
        .act(a1, |account, g| {
            g.change_role(
                account,
                Member {
                    user: bob_uk,
                    role: Role::Admin,
                },
                &known,
            )
        })
        .unwrap();
    w.apply_all(&promote, a1);
    // Two honest admins race at epoch 2: Alice removes Carol, Bob makes
    // Carol an admin. The server delivers the removal and holds Bob's.
    let bob_before = w.g(b).clone();
    let removal = w
        .act(a1, |account, g| g.remove(account, &carol_uk, &known))
        .unwrap();
    let held_back = w
        .act(b, |account, g| {
            g.change_role(
                account,
                Member {
                    user: carol_uk,
                    role: Role::Admin,
                },
                &known,
            )
        })
        .unwrap();
    for x in [a2, c] {
        assert_eq!(w.g(x).apply(&removal, &known), Ok(Applied::Advanced));
    }
    // Bob's device, told the log holds the removal, goes back and follows.
    assert_eq!(w.g(b).apply(&removal, &known), Err(GroupError::Fork));
    w.devs[b].group = Some(bob_before);
    assert_eq!(w.g(b).apply(&removal, &known), Ok(Applied::Advanced));
    // The group moves on at epoch 2: fresh chains, messages.
    for x in [a1, a2, b] {
        w.new_chain(x);
    }
    broadcast_ok(&mut w, b, b"carol is out");
    let h2 = *w.g(a1).state_hash();
    // The server releases Bob's operation now: every device refuses it and
    // Carol stays out.
    for x in [a1, a2, b, c] {
        let held = w.g(x).clone();
        assert_eq!(w.g(x).apply(&held_back, &known), Err(GroupError::Fork));
        assert_eq!(*w.g(x), held);
        assert_eq!(*w.g(x).state_hash(), h2);
    }
    assert!(!w.g(c).is_member());
    let wire = broadcast_ok(&mut w, a1, b"still without carol");
    assert_eq!(w.decrypt(c, &wire), Err(GroupError::UnknownChain));
}

#[test]
fn persistence_round_trips() {
    let (mut w, _) = setup();
    let (a1, b) = (w.dev(ALICE, 1), w.dev(BOB, 1));
    let wires: Vec<Vec<u8>> = (0..4u8).map(|i| w.g(a1).encrypt(&[i]).unwrap()).collect();
    assert_eq!(w.decrypt(b, &wires[3]).unwrap(), [3]);
    let key = Secret::try_from_slice(&[7; 32]).unwrap();
    for d in [a1, b] {
        let g = w.g(d).clone();
        let plain = g.to_bytes();
        assert_eq!(Group::from_bytes(&plain).unwrap(), g);
        let sealed = g.to_sealed_bytes(&mut w.rng, &key).unwrap();
        assert_eq!(Group::from_sealed_bytes(&sealed, &key).unwrap(), g);
        let wrong = Secret::try_from_slice(&[8; 32]).unwrap();
        assert!(matches!(
            Group::from_sealed_bytes(&sealed, &wrong),
            Err(PersistError::Storage(_))
        ));
        // Every truncation is refused, never a panic.
        for n in 0..plain.len() {
            assert!(Group::from_bytes(&plain[..n]).is_err());
        }
        assert_eq!(
            Group::from_bytes(&[&plain[..], &[0]].concat()),
            Err(StateError::Corrupted)
        );
    }
    // A restored Bob reads the skipped messages; his stored keys survived.
    let restored = Group::from_bytes(&w.g(b).to_bytes()).unwrap();
    w.devs[b].group = Some(restored);
    for i in [0usize, 2, 1] {
        assert_eq!(w.decrypt(b, &wires[i]).unwrap(), [i as u8]);
    }
    // A restored Alice continues her chain.
    let restored = Group::from_bytes(&w.g(a1).to_bytes()).unwrap();
    w.devs[a1].group = Some(restored);
    broadcast_ok(&mut w, a1, b"after restore");
}

#[test]
fn error_codes_are_stable_names() {
    assert_eq!(GroupError::Fork.code(), "Fork");
    assert_eq!(
        GroupError::Malformed(ParseError::RosterOrder).code(),
        "Malformed"
    );
    assert_eq!(ParseError::InvalidRole(9).code(), "InvalidRole");
}

#[test]
fn create_checks_its_roster() {
    let w = World::new(&[1, 1]);
    let a = w.dev(ALICE, 1);
    let known = w.known.clone();
    let mut rng = ChaCha20Rng::from_seed([2; 32]);
    let me = w.uk(ALICE);
    let acct = &w.devs[a].account;
    let m = |user, role| Member { user, role };
    assert_eq!(
        Group::create(&mut rng, acct, me, 1, &[m(w.uk(BOB), Role::Admin)], &known).map(|_| ()),
        Err(GroupError::NotMember)
    );
    assert_eq!(
        Group::create(&mut rng, acct, me, 1, &[m(me, Role::Member)], &known).map(|_| ()),
        Err(GroupError::NotAuthorised)
    );
    assert_eq!(
        Group::create(&mut rng, acct, me, 1, &[], &known).map(|_| ()),
        Err(GroupError::Malformed(ParseError::MemberCount(0)))
    );
    assert_eq!(
        Group::create(
            &mut rng,
            acct,
            me,
            1,
            &[m(me, Role::Admin), m(me, Role::Admin)],
            &known
        )
        .map(|_| ()),
        Err(GroupError::Malformed(ParseError::RosterOrder))
    );
    assert_eq!(
        Group::create(&mut rng, acct, me, 2, &[m(me, Role::Admin)], &known).map(|_| ()),
        Err(GroupError::UnknownDevice)
    );
    let other = Account::new(&mut rng).unwrap();
    assert_eq!(
        Group::create(&mut rng, &other, me, 1, &[m(me, Role::Admin)], &known).map(|_| ()),
        Err(GroupError::InvalidSignature)
    );
    let (g, create) = Group::create(&mut rng, acct, me, 1, &[m(me, Role::Admin)], &known).unwrap();
    assert_eq!(g.members().len(), 1);
    assert_eq!(
        g.welcome(&create[..5]),
        Err(GroupError::Malformed(ParseError::Truncated("magic")))
    );
}

#[test]
fn more_rejections() {
    let (mut w, _) = setup();
    let (a1, b, d) = (w.dev(ALICE, 1), w.dev(BOB, 1), w.dev(DAVE, 1));
    let known = w.known.clone();
    // Too much plaintext.
    let big = vec![0u8; sova::ratchet::MAX_PLAINTEXT_LEN + 1];
    assert_eq!(w.g(a1).encrypt(&big), Err(GroupError::PlaintextTooLong));
    // A message of a later epoch than the receiver holds.
    let dave_uk = w.uk(DAVE);
    let add = w
        .act(a1, |account, g| {
            g.add(
                account,
                Member {
                    user: dave_uk,
                    role: Role::Member,
                },
                &known,
            )
        })
        .unwrap();
    let mut rng = ChaCha20Rng::from_seed([6; 32]);
    w.act(a1, |account, g| g.start_chain(&mut rng, account))
        .unwrap();
    let ahead = w.g(a1).encrypt(b"epoch 1").unwrap();
    assert_eq!(w.decrypt(b, &ahead), Err(GroupError::EpochAhead));
    // A welcome whose roster the server changed: Bob made an admin.
    let welcome = w.g(a1).welcome(&add).unwrap();
    let bob_uk = w.uk(BOB);
    let op_len = u32::from_be_bytes(welcome[21..25].try_into().unwrap()) as usize;
    let roster_at = 25 + op_len;
    let at = roster_at
        + 2
        + welcome[roster_at + 2..]
            .chunks(33)
            .position(|e| e[..32] == bob_uk)
            .unwrap()
            * 33;
    let mut forged = welcome.clone();
    forged[at + 32] = 1;
    let got = w.carry(a1, d, &forged);
    assert_eq!(
        Group::join(dave_uk, 1, &got, &known),
        Err(GroupError::WelcomeMismatch)
    );
    // Bob drops out of the roster the welcome states.
    let mut short = welcome[..at].to_vec();
    short.extend_from_slice(&welcome[at + 33..]);
    let got = w.carry(a1, d, &short);
    assert!(Group::join(dave_uk, 1, &got, &known).is_err());
    let got = w.carry(a1, d, &welcome);
    let joined = Group::join(dave_uk, 1, &got, &known).unwrap();
    assert_eq!(joined.epoch(), 1);
    assert_eq!(joined.state_hash(), w.g(a1).state_hash());
    // A welcome for an operation that is not the current one.
    assert_eq!(w.g(b).welcome(&add), Err(GroupError::StaleEpoch));
    let _ = d;
}

#[test]
fn a_roster_is_bounded() {
    let w = World::new(&[1, 1]);
    let a = w.dev(ALICE, 1);
    let known = w.known.clone();
    let me = w.uk(ALICE);
    let mut members: Vec<Member> = (1..1000u32)
        .map(|i| {
            let mut user = [0u8; 32];
            user[..4].copy_from_slice(&i.to_be_bytes());
            Member {
                user,
                role: Role::Member,
            }
        })
        .collect();
    members.push(Member {
        user: me,
        role: Role::Admin,
    });
    let mut rng = ChaCha20Rng::from_seed([2; 32]);
    let (mut g, _) = Group::create(&mut rng, &w.devs[a].account, me, 1, &members, &known).unwrap();
    assert_eq!(g.members().len(), 1000);
    let before = g.clone();
    let bob = Member {
        user: w.uk(BOB),
        role: Role::Member,
    };
    assert_eq!(
        g.add(&w.devs[a].account, bob, &known),
        Err(GroupError::TooManyMembers)
    );
    assert_eq!(g, before);
    // Its state round-trips; a state claiming too many chains does not load.
    let bytes = g.to_bytes();
    assert_eq!(Group::from_bytes(&bytes).unwrap(), g);
    members.push(bob);
    assert_eq!(
        Group::create(&mut rng, &w.devs[a].account, me, 1, &members, &known).map(|_| ()),
        Err(GroupError::Malformed(ParseError::MemberCount(1001)))
    );
}

/// Rewrites a plain group state with a correct check (spec §8.1).
fn with_check(mut body: Vec<u8>) -> Vec<u8> {
    use sha2_check::digest;
    body.truncate(body.len() - 32);
    let c = digest(&body);
    body.extend_from_slice(&c);
    body
}

mod sha2_check {
    /// SHA-256 through the library's provider.
    pub fn digest(b: &[u8]) -> [u8; 32] {
        use sova::provider::CryptoProvider;
        sova::DefaultProvider::default().sha256(&[b])
    }
}

#[test]
fn invalid_states_are_refused() {
    let (mut w, _) = setup();
    let a1 = w.dev(ALICE, 1);
    let plain = w.g(a1).to_bytes();
    // The roster's count: right after magic, version, ids, epoch and hash.
    let roster_at = 12 + 1 + 32 + 32 + 4 + 8 + 32;
    let mut zero = plain.clone();
    zero[roster_at..roster_at + 2].copy_from_slice(&[0, 0]);
    assert_eq!(
        Group::from_bytes(&with_check(zero)),
        Err(StateError::Invalid("roster"))
    );
    let mut role = plain.clone();
    role[roster_at + 2 + 32] = 7;
    assert_eq!(
        Group::from_bytes(&with_check(role)),
        Err(StateError::Invalid("roster"))
    );
    let n = u16::from_be_bytes([plain[roster_at], plain[roster_at + 1]]) as usize;
    let op_at = roster_at + 2 + n * 33;
    let op_len = u32::from_be_bytes(plain[op_at..op_at + 4].try_into().unwrap()) as usize;
    let flag_at = op_at + 4 + op_len;
    let mut op = plain.clone();
    op[op_at + 4] ^= 1;
    assert_eq!(
        Group::from_bytes(&with_check(op)),
        Err(StateError::Invalid("operation"))
    );
    let mut flag = plain.clone();
    flag[flag_at] = 2;
    assert_eq!(
        Group::from_bytes(&with_check(flag)),
        Err(StateError::Invalid("flag"))
    );
    let mut bad = plain.clone();
    bad[0] ^= 1;
    assert_eq!(Group::from_bytes(&bad), Err(StateError::BadMagic));
}

/// Appends `chains` fake received chains and `keys` fake stored keys to a
/// plain state that holds none of either, with a correct check.
fn inject(state: &[u8], chains: u16, keys: u16) -> Vec<u8> {
    // The tail of such a state: u16(0) chains, u16(0) keys, check[32].
    let body = &state[..state.len() - 32];
    assert_eq!(&body[body.len() - 4..], &[0, 0, 0, 0]);
    let mut out = body[..body.len() - 4].to_vec();
    out.extend_from_slice(&chains.to_be_bytes());
    for i in 0..u32::from(chains) {
        let mut user = [0xEE; 32];
        user[..4].copy_from_slice(&i.to_be_bytes());
        out.extend_from_slice(&user);
        out.extend_from_slice(&1u32.to_be_bytes()); // device
        out.extend_from_slice(&0u32.to_be_bytes()); // generation
        out.extend_from_slice(&0u32.to_be_bytes()); // next index
        out.extend_from_slice(&[1; 32]); // chain key
        out.extend_from_slice(&[2; 32]); // signing key
    }
    out.extend_from_slice(&keys.to_be_bytes());
    for i in 0..u32::from(keys) {
        out.extend_from_slice(&[0xEE; 32]);
        out.extend_from_slice(&1u32.to_be_bytes());
        out.extend_from_slice(&0u32.to_be_bytes());
        out.extend_from_slice(&i.to_be_bytes());
        out.extend_from_slice(&[3; 32]);
    }
    out.extend_from_slice(&[0; 32]);
    with_check(out)
}

#[test]
fn chains_and_stored_keys_are_bounded() {
    let (mut w, _) = setup();
    let (a1, b) = (w.dev(ALICE, 1), w.dev(BOB, 1));
    let known = w.known.clone();
    // A new epoch: Bob holds no chain and no key.
    let dave_uk = w.uk(DAVE);
    let add = w
        .act(a1, |account, g| {
            g.add(
                account,
                Member {
                    user: dave_uk,
                    role: Role::Member,
                },
                &known,
            )
        })
        .unwrap();
    w.g(b).apply(&add, &known).unwrap();
    let mut rng = ChaCha20Rng::from_seed([8; 32]);
    let offer = w
        .act(a1, |account, g| g.start_chain(&mut rng, account))
        .unwrap();
    // Full of chains: a chain of a new device is refused.
    let full = inject(&w.g(b).to_bytes(), 5000, 0);
    let mut g = Group::from_bytes(&full).unwrap();
    let before = g.clone();
    let got = w.carry(a1, b, &offer);
    assert_eq!(g.accept_chain(&got, &known), Err(GroupError::TooManyChains));
    assert_eq!(g, before);
    // More than the limit does not load.
    assert_eq!(
        Group::from_bytes(&inject(&w.g(b).to_bytes(), 5001, 0)),
        Err(StateError::Invalid("limits"))
    );
    assert_eq!(
        Group::from_bytes(&inject(&w.g(b).to_bytes(), 0, 5001)),
        Err(StateError::Invalid("limits"))
    );
    // Full of stored keys: a message that skips three evicts the three
    // oldest; the state stays at the limit.
    let mut g = Group::from_bytes(&inject(&w.g(b).to_bytes(), 0, 5000)).unwrap();
    g.accept_chain(&got, &known).unwrap();
    let wires: Vec<Vec<u8>> = (0..4u8).map(|i| w.g(a1).encrypt(&[i]).unwrap()).collect();
    let size = g.to_bytes().len();
    assert_eq!(g.decrypt(&wires[3], &known).unwrap().plaintext, [3]);
    assert_eq!(g.to_bytes().len(), size, "3 keys in, 3 evicted");
    // The newest keys are the ones kept.
    assert_eq!(g.decrypt(&wires[1], &known).unwrap().plaintext, [1]);
}

#[test]
fn a_welcome_with_a_creation_off_epoch_zero_is_refused() {
    let mut w = World::new(&[1, 1]);
    let a = w.dev(ALICE, 1);
    let (alice, bob) = (w.uk(ALICE), w.uk(BOB));
    let roster = OpKind::Create(vec![
        Member {
            user: alice,
            role: Role::Admin,
        },
        Member {
            user: bob,
            role: Role::Member,
        },
    ]);
    let mut sorted = roster.clone();
    if let OpKind::Create(m) = &mut sorted {
        m.sort_by_key(|m| m.user);
    }
    for (epoch, prev) in [(5u64, [0u8; 32]), (0, [1; 32])] {
        let op = Operation::new_signed(
            &w.devs[a].account,
            [4; 32],
            epoch,
            prev,
            alice,
            1,
            sorted.clone(),
        )
        .unwrap();
        // The welcome as Alice's device would frame it.
        let mut welcome = b"SOVA-1 group welcome\x01".to_vec();
        welcome.extend_from_slice(&(op.to_bytes().len() as u32).to_be_bytes());
        welcome.extend_from_slice(op.to_bytes());
        let mut members = [alice, bob];
        members.sort();
        welcome.extend_from_slice(&2u16.to_be_bytes());
        for u in members {
            welcome.extend_from_slice(&u);
            welcome.push(u8::from(u == alice));
        }
        welcome.extend_from_slice(&0u32.to_be_bytes());
        let b = w.dev(BOB, 1);
        let got = w.carry(a, b, &welcome);
        assert_eq!(Group::join(bob, 1, &got, &w.known), Err(GroupError::Fork));
    }
}

#[test]
fn a_role_change_that_changes_nothing_is_refused() {
    let (mut w, _) = setup();
    let (a1, b) = (w.dev(ALICE, 1), w.dev(BOB, 1));
    let known = w.known.clone();
    let bob_uk = w.uk(BOB);
    let same = Member {
        user: bob_uk,
        role: Role::Member,
    };
    let before = w.g(a1).clone();
    assert_eq!(
        w.act(a1, |account, g| g.change_role(account, same, &known)),
        Err(GroupError::RoleUnchanged)
    );
    assert_eq!(*w.g(a1), before);
    // Signed by Alice and delivered to Bob: refused, his chains kept.
    let h0 = *w.g(b).state_hash();
    let op = signed(&w, a1, 1, h0, OpKind::ChangeRole(same));
    let held = w.g(b).clone();
    assert_eq!(w.g(b).apply(&op, &known), Err(GroupError::RoleUnchanged));
    assert_eq!(*w.g(b), held);
    assert!(!w.g(b).needs_chain());
    // A real change still passes.
    let admin = Member {
        user: bob_uk,
        role: Role::Admin,
    };
    let op = signed(&w, a1, 1, h0, OpKind::ChangeRole(admin));
    assert_eq!(w.g(b).apply(&op, &known), Ok(Applied::Advanced));
}

#[test]
fn a_message_body_is_bounded() {
    let (mut w, _) = setup();
    let (a1, b) = (w.dev(ALICE, 1), w.dev(BOB, 1));
    // The longest plaintext is sent and read: its body is the bound.
    let longest = vec![7u8; sova::ratchet::MAX_PLAINTEXT_LEN];
    let wire = w.g(a1).encrypt(&longest).unwrap();
    let max_body = (1usize << 20) + 16;
    assert_eq!(
        u32::from_be_bytes(wire[118..122].try_into().unwrap()) as usize,
        max_body
    );
    assert_eq!(wire.len(), 118 + 4 + max_body + 64);
    assert_eq!(w.decrypt(b, &wire).unwrap(), longest);
    // One byte more is refused before anything is read, however long the
    // input.
    let mut over = wire[..118].to_vec();
    over.extend_from_slice(&((max_body + 1) as u32).to_be_bytes());
    over.resize(over.len() + max_body + 1 + 64, 0);
    assert_eq!(
        GroupMessage::parse(&over).map(|_| ()),
        Err(ParseError::BodyLength((max_body + 1) as u32))
    );
    let held = w.g(b).clone();
    assert_eq!(
        w.decrypt(b, &over),
        Err(GroupError::Malformed(ParseError::BodyLength(
            (max_body + 1) as u32
        )))
    );
    let mut huge = wire[..118].to_vec();
    huge.extend_from_slice(&u32::MAX.to_be_bytes());
    assert_eq!(
        GroupMessage::parse(&huge).map(|_| ()),
        Err(ParseError::BodyLength(u32::MAX))
    );
    assert_eq!(*w.g(b), held);
}

#[test]
fn a_replay_of_the_last_operation_is_unchanged_before_the_signer_checks() {
    let (mut w, _) = setup();
    let (a1, a2, b) = (w.dev(ALICE, 1), w.dev(ALICE, 2), w.dev(BOB, 1));
    let known = w.known.clone();
    let dave = Member {
        user: w.uk(DAVE),
        role: Role::Member,
    };
    let add = w
        .act(a1, |account, g| g.add(account, dave, &known))
        .unwrap();
    assert_eq!(w.g(b).apply(&add, &known), Ok(Applied::Advanced));
    // Alice's list drops her first device, which signed the add.
    let entries = [DeviceEntry {
        device_id: 2,
        identity: w.devs[a2].account.identity_key(),
        admin: true,
    }];
    let list = w.uks[ALICE].sign_list(2, &entries).unwrap();
    let mut later = known.clone();
    later[ALICE] = KnownUser::new(w.uks[ALICE].public(), list.to_bytes()).unwrap();
    let held = w.g(b).clone();
    // spec §12.3 check 3 comes before check 5: the replay is Unchanged.
    assert_eq!(w.g(b).apply(&add, &later), Ok(Applied::Unchanged));
    // A competing operation of that device is checked: UnknownDevice.
    assert_eq!(held.members().len(), 4);
    let carol_uk = w.uk(CAROL);
    // Alice's second device has not applied the add: it holds epoch 0.
    assert_eq!(w.g(a2).epoch(), 0);
    let prev = *w.g(a2).state_hash();
    let rival = signed(&w, a1, 1, prev, OpKind::Remove(carol_uk));
    assert_eq!(w.g(b).apply(&rival, &later), Err(GroupError::UnknownDevice));
    assert_eq!(w.g(b).apply(&rival, &known), Err(GroupError::Fork));
    assert_eq!(*w.g(b), held);
}

#[test]
fn a_sender_cannot_hand_members_different_keys_under_one_chain() {
    let (mut w, _) = setup();
    let (a1, b, c) = (w.dev(ALICE, 1), w.dev(BOB, 1), w.dev(CAROL, 1));
    let known = w.known.clone();
    let mut rng = ChaCha20Rng::from_seed([9; 32]);
    let offer = w
        .act(a1, |account, g| g.start_chain(&mut rng, account))
        .unwrap();
    // Alice's genuine offer (and binding) to Bob; to Carol the same signed
    // chain with another chain key, or another index.
    let n = offer.len();
    let mut other_key = offer.clone();
    other_key[n - 32..].copy_from_slice(&[0x42; 32]);
    let mut other_index = offer.clone();
    other_index[n - 36..n - 32].copy_from_slice(&5u32.to_be_bytes());
    let held = w.g(c).clone();
    for x in [&other_key, &other_index] {
        let got = w.carry(a1, c, x);
        assert_eq!(
            w.g(c).accept_chain(&got, &known),
            Err(GroupError::InvalidSignature)
        );
    }
    assert_eq!(*w.g(c), held);
    for x in [b, c] {
        let got = w.carry(a1, x, &offer);
        w.g(x).accept_chain(&got, &known).unwrap();
    }
    let wire = w.g(a1).encrypt(b"one text for all").unwrap();
    for x in [b, c] {
        assert_eq!(w.decrypt(x, &wire).unwrap(), b"one text for all");
    }
}

#[test]
fn a_state_whose_parts_disagree_is_refused() {
    let (mut w, _) = setup();
    let (a1, b) = (w.dev(ALICE, 1), w.dev(BOB, 1));
    let known = w.known.clone();
    let dave = Member {
        user: w.uk(DAVE),
        role: Role::Member,
    };
    let add = w
        .act(a1, |account, g| g.add(account, dave, &known))
        .unwrap();
    w.g(b).apply(&add, &known).unwrap();
    let state = w.g(b).to_bytes();
    assert!(Group::from_bytes(&state).is_ok());
    // The state hash of another epoch: not StateHash(last operation, roster).
    let at = 12 + 1 + 32 + 32 + 4;
    let mut x = state.clone();
    x[at + 8] ^= 1;
    assert_eq!(
        Group::from_bytes(&with_check(x)),
        Err(StateError::Invalid("state hash"))
    );
    // Another epoch than the last operation's.
    let mut x = state.clone();
    x[at + 7] ^= 1;
    assert_eq!(
        Group::from_bytes(&with_check(x)),
        Err(StateError::Invalid("operation"))
    );
    // Two chains of one device.
    let two = inject(&state, 2, 0);
    assert!(Group::from_bytes(&two).is_ok());
    let l = two.len();
    let (first, second) = (l - 32 - 2 - 216, l - 32 - 2 - 108);
    let mut x = two.clone();
    let user: Vec<u8> = x[first..first + 32].to_vec();
    x[second..second + 32].copy_from_slice(&user);
    assert_eq!(
        Group::from_bytes(&with_check(x)),
        Err(StateError::Invalid("chains"))
    );
}

/// A generator that always fails.
struct Broken;

#[derive(Debug)]
struct Dry;
impl core::fmt::Display for Dry {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("no randomness")
    }
}
impl core::error::Error for Dry {}

impl sova::rand_core::TryRng for Broken {
    type Error = Dry;
    fn try_next_u32(&mut self) -> Result<u32, Dry> {
        Err(Dry)
    }
    fn try_next_u64(&mut self) -> Result<u64, Dry> {
        Err(Dry)
    }
    fn try_fill_bytes(&mut self, _: &mut [u8]) -> Result<(), Dry> {
        Err(Dry)
    }
}
impl sova::rand_core::TryCryptoRng for Broken {}

/// Reading queued messages in one batch (spec §12.6.1) gives, message for
/// message, what reading them one by one gives, and the same state bytes:
/// honest messages of three chains in any order, mixed with replays,
/// tampered and forged ones and messages refused before their signature.
#[test]
fn a_batch_reads_exactly_what_one_by_one_reads() {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};

    let (mut w, _) = setup();
    let (a1, a2, b, c) = (
        w.dev(ALICE, 1),
        w.dev(ALICE, 2),
        w.dev(BOB, 1),
        w.dev(CAROL, 1),
    );
    // Alice's phone on a chain whose keys the test knows (as in
    // `every_message_rejection_changes_nothing`), to forge with.
    let mut rng = ChaCha20Rng::from_seed([9; 32]);
    let mut probe = rng.clone();
    let mut ck = Secret::<32>::zero();
    let mut seed = Secret::<32>::zero();
    probe.fill_bytes(ck.expose_mut());
    probe.fill_bytes(seed.expose_mut());
    let offer = w
        .act(a1, |account, g| g.start_chain(&mut rng, account))
        .unwrap();
    w.hand_out(a1, &offer);
    let mut honest: Vec<Vec<u8>> = Vec::new();
    for i in 0..60u32 {
        honest.push(w.g(a1).encrypt(&i.to_be_bytes()).unwrap());
    }
    for (d, n) in [(a2, 30u32), (c, 30)] {
        for i in 0..n {
            honest.push(w.g(d).encrypt(&[i as u8; 100]).unwrap());
        }
    }
    let head = GroupMessage::parse(&honest[0]).unwrap();
    let pad = |t: &[u8]| {
        let mut v = Vec::new();
        padding::pad_into(t, &mut v);
        v
    };
    let mut forger = Secret::<32>::zero();
    forger.expose_mut()[0] = 7;
    let mut bad: Vec<Vec<u8>> = Vec::new();
    for (k, at) in [(0usize, 3usize), (5, 150), (70, 120)] {
        // A flipped bit in the signature, in the body, in the index.
        let mut m = honest[k].clone();
        let n = m.len();
        m[n - 1 - at % 64] ^= 1;
        bad.push(m);
        let mut m = honest[k].clone();
        m[at] ^= 0x10;
        bad.push(m);
    }
    let mut m = honest[3].clone();
    m[117] ^= 1;
    bad.push(m);
    bad.push(craft(&ck, &forger, &head, 61, &pad(b"forged"), false));
    bad.push(craft(&ck, &seed, &head, CHAIN_MESSAGES, &pad(b"x"), false));
    bad.push(craft(&ck, &seed, &head, 62, &pad(b"x"), true));
    bad.push(craft(&ck, &seed, &head, 63, &[0u8; 32], false));
    bad.push(craft(&ck, &seed, &head, 64, &pad(b"crafted, valid"), false));
    bad.push(honest[1][..50].to_vec());
    let mut m = honest[2].clone();
    m[2] ^= 1;
    bad.push(m);
    let mut m = honest[2].clone();
    m[110..114].copy_from_slice(&77u32.to_be_bytes());
    bad.push(m);
    let known = w.known.clone();
    let bob = w.g(b).clone();

    let pool: Vec<Vec<u8>> = honest.iter().chain(&bad).cloned().collect();
    let n_honest = honest.len();
    let strategy = (
        any::<bool>(),
        proptest::collection::vec(any::<proptest::sample::Index>(), 140..220),
        any::<[u8; 32]>(),
    );
    let mut runner = TestRunner::new(Config {
        cases: 48,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&strategy, |(clean, picks, coef_seed)| {
            let queue: Vec<&[u8]> = picks
                .iter()
                .map(|ix| {
                    if clean {
                        &pool[ix.index(n_honest)][..]
                    } else {
                        &pool[ix.index(pool.len())][..]
                    }
                })
                .collect();
            let mut one = bob.clone();
            let want: Vec<_> = queue.iter().map(|m| one.decrypt(m, &known)).collect();
            let mut many = bob.clone();
            let mut coefs = ChaCha20Rng::from_seed(coef_seed);
            let got = many.decrypt_batch(&queue, &known, &mut coefs);
            prop_assert_eq!(&got, &want);
            prop_assert_eq!(many.to_bytes(), one.to_bytes());
            prop_assert!(many == one);
            // A generator that fails: verified one by one, same results.
            let mut broken = bob.clone();
            let got = broken.decrypt_batch(&queue, &known, &mut Broken);
            prop_assert_eq!(&got, &want);
            prop_assert_eq!(broken.to_bytes(), one.to_bytes());
            Ok(())
        })
        .unwrap();
    // Every kind of refusal occurs in the pool.
    let mut kinds: Vec<GroupError> = Vec::new();
    let mut one = bob.clone();
    for m in pool.iter().chain(&honest) {
        if let Err(e) = one.decrypt(m, &known) {
            if !kinds.contains(&e) {
                kinds.push(e);
            }
        }
    }
    for k in [
        GroupError::InvalidSignature,
        GroupError::DuplicateOrExpired,
        GroupError::BeyondChainEnd,
        GroupError::Authentication,
        GroupError::InvalidPadding,
        GroupError::WrongGroup,
        GroupError::UnknownChain,
    ] {
        assert!(kinds.contains(&k), "{k:?}");
    }
}

/// A generator whose every draw "succeeds" with zeros.
struct Zeros;
impl sova::rand_core::TryRng for Zeros {
    type Error = Dry;
    fn try_next_u32(&mut self) -> Result<u32, Dry> {
        Ok(0)
    }
    fn try_next_u64(&mut self) -> Result<u64, Dry> {
        Ok(0)
    }
    fn try_fill_bytes(&mut self, b: &mut [u8]) -> Result<(), Dry> {
        b.fill(0);
        Ok(())
    }
}
impl sova::rand_core::TryCryptoRng for Zeros {}

/// A member holds Alice's chain key (every member does) and signs a
/// message "from Alice" with its own key. Even with a generator of constant
/// output, a batch refuses it as one-by-one reading does: the batch's
/// coefficients are derived from the signatures too (spec §12.6.1).
#[test]
fn a_constant_generator_does_not_let_a_member_forge_in_a_batch() {
    let (mut w, _) = setup();
    let (a1, b) = (w.dev(ALICE, 1), w.dev(BOB, 1));
    let mut rng = ChaCha20Rng::from_seed([9; 32]);
    let mut probe = rng.clone();
    let mut ck = Secret::<32>::zero();
    probe.fill_bytes(ck.expose_mut());
    let offer = w
        .act(a1, |account, g| g.start_chain(&mut rng, account))
        .unwrap();
    w.hand_out(a1, &offer);
    let mut queue: Vec<Vec<u8>> = Vec::new();
    for i in 0..130u32 {
        queue.push(w.g(a1).encrypt(&i.to_be_bytes()).unwrap());
    }
    let head = GroupMessage::parse(&queue[0]).unwrap();
    let mut forger = Secret::<32>::zero();
    forger.expose_mut()[0] = 7; // not Alice's chain signing seed
    let mut padded = Vec::new();
    padding::pad_into(b"pay Mallory", &mut padded);
    queue.push(craft(&ck, &forger, &head, 130, &padded, false));
    let refs: Vec<&[u8]> = queue.iter().map(|m| &m[..]).collect();
    let known = w.known.clone();
    let bob = w.g(b).clone();
    let mut one = bob.clone();
    let want: Vec<_> = refs.iter().map(|m| one.decrypt(m, &known)).collect();
    assert_eq!(want[130], Err(GroupError::InvalidSignature));
    assert!(want[..130].iter().all(Result::is_ok));
    let mut many = bob.clone();
    let got = many.decrypt_batch(&refs, &known, &mut Zeros);
    assert_eq!(got, want);
    assert_eq!(many.to_bytes(), one.to_bytes());
}

/// A directory that knows nobody for its first `until` look-ups (a device
/// list that arrives while a batch is read).
struct Late {
    inner: Vec<KnownUser>,
    calls: core::cell::Cell<usize>,
    until: usize,
}
impl sova::groups::Directory for Late {
    fn known_user(&self, user: &[u8; 32]) -> Option<&KnownUser> {
        let n = self.calls.get();
        self.calls.set(n + 1);
        if n < self.until {
            None
        } else {
            self.inner.iter().find(|k| k.user_key() == user)
        }
    }
}

/// Messages the batch's first pass could not place (the directory did not
/// know the sender yet) but that pass every check when read are verified
/// on their own, not refused for want of a batch verdict.
#[test]
fn a_directory_that_changes_during_a_batch_gives_the_current_answer() {
    let (mut w, _) = setup();
    let (a1, b) = (w.dev(ALICE, 1), w.dev(BOB, 1));
    let offer = w
        .act(a1, |account, g| {
            g.start_chain(&mut ChaCha20Rng::from_seed([1; 32]), account)
        })
        .unwrap();
    w.hand_out(a1, &offer);
    let queue: Vec<Vec<u8>> = (0..130u32)
        .map(|i| w.g(a1).encrypt(&i.to_be_bytes()).unwrap())
        .collect();
    let refs: Vec<&[u8]> = queue.iter().map(|m| &m[..]).collect();
    let mut one = w.g(b).clone();
    let want: Vec<_> = refs.iter().map(|m| one.decrypt(m, &w.known)).collect();
    assert!(want.iter().all(Result::is_ok));
    let dir = Late {
        inner: w.known.clone(),
        calls: core::cell::Cell::new(0),
        until: 130,
    };
    let mut g = w.g(b).clone();
    let got = g.decrypt_batch(&refs, &dir, &mut ChaCha20Rng::from_seed([2; 32]));
    assert!(
        dir.calls.get() > 130,
        "the first pass consulted the directory"
    );
    assert_eq!(got, want);
    assert_eq!(g.to_bytes(), one.to_bytes());
}

/// A generator that counts the bytes drawn from it.
struct Counting {
    inner: ChaCha20Rng,
    drawn: usize,
}
impl sova::rand_core::TryRng for Counting {
    type Error = core::convert::Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        self.drawn += 4;
        Ok(self.inner.next_u32())
    }
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        self.drawn += 8;
        Ok(self.inner.next_u64())
    }
    fn try_fill_bytes(&mut self, b: &mut [u8]) -> Result<(), Self::Error> {
        self.drawn += b.len();
        self.inner.fill_bytes(b);
        Ok(())
    }
}
impl sova::rand_core::TryCryptoRng for Counting {}

/// The batch is really taken: a clean queue of 300 costs one batch (32
/// bytes drawn per signature), so a batch that always failed or never ran
/// would show here. A bad signature makes the batch split in halves of
/// 150, each batched again with fresh bytes; the results are still those
/// of one-by-one reading. Below 128 signatures nothing is drawn.
#[test]
fn a_batch_is_taken_and_a_failed_one_splits_in_halves() {
    let (mut w, _) = setup();
    let (a1, b) = (w.dev(ALICE, 1), w.dev(BOB, 1));
    let offer = w
        .act(a1, |account, g| {
            g.start_chain(&mut ChaCha20Rng::from_seed([1; 32]), account)
        })
        .unwrap();
    w.hand_out(a1, &offer);
    let mut queue: Vec<Vec<u8>> = (0..300u32)
        .map(|i| w.g(a1).encrypt(&i.to_be_bytes()).unwrap())
        .collect();
    let known = w.known.clone();
    let bob = w.g(b).clone();
    let read = |queue: &[Vec<u8>]| {
        let refs: Vec<&[u8]> = queue.iter().map(|m| &m[..]).collect();
        let mut one = bob.clone();
        let want: Vec<_> = refs.iter().map(|m| one.decrypt(m, &known)).collect();
        let mut many = bob.clone();
        let mut rng = Counting {
            inner: ChaCha20Rng::from_seed([4; 32]),
            drawn: 0,
        };
        let got = many.decrypt_batch(&refs, &known, &mut rng);
        assert_eq!(got, want);
        assert_eq!(many.to_bytes(), one.to_bytes());
        (got, rng.drawn)
    };
    let (got, drawn) = read(&queue);
    assert!(got.iter().all(Result::is_ok));
    assert_eq!(drawn, 300 * 32);
    let (_, drawn) = read(&queue[..127]);
    assert_eq!(drawn, 0);
    let last = queue[250].len() - 1;
    queue[250][last] ^= 1;
    let (got, drawn) = read(&queue);
    assert_eq!(got[250], Err(GroupError::InvalidSignature));
    assert_eq!(got.iter().filter(|r| r.is_err()).count(), 1);
    assert_eq!(drawn, (300 + 150 + 150) * 32);
}

/// A provider whose batch verification accepts everything: only a caller
/// that hands its batches to the given provider is fooled by it.
struct AcceptingBatches;

impl CryptoProvider for AcceptingBatches {
    fn name(&self) -> &'static str {
        "accepting batches"
    }
    fn sha512(&self, parts: &[&[u8]]) -> [u8; 64] {
        DefaultProvider::default().sha512(parts)
    }
    fn aead_seal(
        &self,
        key: &Secret<32>,
        nonce: &[u8; 12],
        aad: &[u8],
        in_out: &mut [u8],
    ) -> [u8; 16] {
        DefaultProvider::default().aead_seal(key, nonce, aad, in_out)
    }
    fn aead_open(
        &self,
        key: &Secret<32>,
        nonce: &[u8; 12],
        aad: &[u8],
        in_out: &mut [u8],
        tag: &[u8; 16],
    ) -> Result<(), sova::CryptoError> {
        DefaultProvider::default().aead_open(key, nonce, aad, in_out, tag)
    }
    fn ed25519_verify_batch(
        &self,
        _items: &[sova::provider::Ed25519BatchItem<'_>],
        _random: &[[u8; 32]],
    ) -> Result<(), sova::CryptoError> {
        Ok(())
    }
}

#[test]
fn the_with_variants_read_through_the_given_provider() {
    let (mut w, _) = setup();
    let (a1, b) = (w.dev(ALICE, 1), w.dev(BOB, 1));
    let offer = w
        .act(a1, |account, g| {
            g.start_chain(&mut ChaCha20Rng::from_seed([1; 32]), account)
        })
        .unwrap();
    w.hand_out(a1, &offer);
    let mut queue: Vec<Vec<u8>> = (0..130u32)
        .map(|i| w.g(a1).encrypt(&i.to_be_bytes()).unwrap())
        .collect();
    let last = queue[7].len() - 1;
    queue[7][last] ^= 1;
    let refs: Vec<&[u8]> = queue.iter().map(|m| &m[..]).collect();
    let known = w.known.clone();
    let bob = w.g(b).clone();
    let mut want_state = bob.clone();
    let want: Vec<_> = refs.iter().map(|m| want_state.decrypt(m, &known)).collect();
    assert_eq!(want[7], Err(GroupError::InvalidSignature));
    // Every backend gives what the default one gives.
    for p in sova::provider::all_providers() {
        let mut one = bob.clone();
        let got: Vec<_> = refs
            .iter()
            .map(|m| one.decrypt_with(*p, m, &known))
            .collect();
        assert_eq!(got, want, "{}", p.name());
        let mut many = bob.clone();
        let mut rng = ChaCha20Rng::from_seed([3; 32]);
        assert_eq!(many.decrypt_batch_with(*p, &refs, &known, &mut rng), want);
        assert_eq!(many.to_bytes(), want_state.to_bytes());
    }
    // The batch goes to the given provider: one that accepts every batch
    // lets the flipped signature through; single verification does not.
    let mut one = bob.clone();
    assert_eq!(
        one.decrypt_with(&AcceptingBatches, refs[7], &known),
        Err(GroupError::InvalidSignature)
    );
    let mut many = bob.clone();
    let mut rng = ChaCha20Rng::from_seed([3; 32]);
    let got = many.decrypt_batch_with(&AcceptingBatches, &refs, &known, &mut rng);
    assert!(got[7].is_ok());
}
