//! Checks of groups (spec §12), shared by
//!
//! * the fuzz targets `group_parse`, `group_state_machine` and `group_batch`
//!   (`fuzz/fuzz_targets/`),
//! * the seed replay test `tests/fuzz_seeds_groups.rs`, which runs every
//!   committed seed through the same functions in `cargo test`.
//!
//! `group_parse` gives bytes (raw, or a genuine object with bytes flipped)
//! to every group parser and state reader: none panics, and what parses
//! re-encodes to the same bytes. `group_state_machine` starts from a fixed
//! group (built once per process, `OnceLock`): Alice (two devices, admin),
//! Bob and Carol, every device holding every other's chain, and a pool of
//! genuine messages, chain offers, operations and a welcome. Each input is a
//! sequence of steps (device, action, object, tampering): a refused input
//! changes nothing, an accepted one is a genuine object (never a forgery,
//! never over another device's session; of a chain offer, the part its
//! binding signs), and epochs never go back. `group_batch` gives a queue
//! of messages shaped from a pool of genuine ones to `Group::decrypt_batch`
//! and requires exactly what `Group::decrypt` on each in turn gives.
#![allow(
    dead_code,
    unexpected_cfgs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::needless_range_loop
)]

use std::sync::OnceLock;

use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use sova::devices::fanout::{self, Audience, DeviceMessage, Target};
use sova::devices::{DeviceEntry, FanoutReceived, KnownUser, UserKey};
use sova::groups::{
    Applied, ChainOffer, Directory, Group, GroupError, GroupMessage, Member, OpKind, Operation,
    Role, Welcome, BATCH_MIN, CHAIN_MESSAGES, MAX_GROUP_CHAINS, MAX_MEMBERS,
};
use sova::labels;
use sova::ratchet::{padding, HeaderMode, MAX_PLAINTEXT_LEN};
use sova::session::{Account, Conversation};
use sova::{CryptoProvider, DefaultProvider, Secret};

/// The fuzz targets of this file.
pub const TARGETS: [&str; 3] = ["group_parse", "group_state_machine", "group_batch"];

/// The check a target runs.
pub fn check_for(target: &str) -> fn(&[u8]) {
    match target {
        "group_parse" => check_group_parse,
        "group_state_machine" => check_group_state_machine,
        "group_batch" => check_group_batch,
        other => panic!("unknown target {other}"),
    }
}

/// The fixed world every input starts from.
pub struct Fixture {
    /// Every person's accepted list.
    pub known: Vec<KnownUser>,
    /// `(user key, device id)` of the four group devices: Alice 1 and 2,
    /// Bob, Carol; then Dave's device (not a member).
    pub devices: Vec<([u8; 32], u32)>,
    /// The four devices' groups.
    pub groups: Vec<Group>,
    /// Genuine group messages: (bytes, sending device, plaintext).
    pub messages: Vec<(Vec<u8>, usize, Vec<u8>)>,
    /// Genuine chain offers: (bytes, owning device).
    pub offers: Vec<(Vec<u8>, usize)>,
    /// Signed operations (genuine ones and a member's unauthorised one).
    pub ops: Vec<Vec<u8>>,
    /// A welcome for Dave (for the add in `ops[0]`).
    pub welcome: Vec<u8>,
    /// A sealed state key and a sealed state of Alice's first device.
    pub state: Vec<u8>,
    /// The five devices' accounts (index as in `devices`).
    pub accounts: Vec<Account>,
    /// Welcomes: the create's (for everyone) and `welcome`.
    pub welcomes: Vec<Vec<u8>>,
    /// Messages on Alice's first chain that its owner signed although they
    /// break a check after the signature: an index beyond the chain's end,
    /// a body the AEAD refuses, a body with bad padding. With the error a
    /// fresh member device gives each.
    pub forged: Vec<(Vec<u8>, GroupError)>,
    /// The groups of the state machine's slots (`SLOT_ID`); `None` for
    /// Dave's device, which has to join first.
    pub slots: Vec<Option<Group>>,
    /// The model's view of each slot: the last operation and the epoch
    /// before (hash and roster).
    pub metas: Vec<Option<Meta>>,
    /// A plaintext one byte longer than a message may carry.
    pub long: Vec<u8>,
    /// States for `group_parse`: `state`, Alice's first device after the
    /// add (an epoch before it, its own chain), Bob's device with a stored
    /// key.
    pub states: Vec<Vec<u8>>,
    /// For each device of `devices`, a fan-out message received from it
    /// (over the pairwise session with it): [`carried`](Self::carried)
    /// gives its authenticated sender another plaintext.
    pub carriers: Vec<FanoutReceived>,
}

impl Fixture {
    /// `payload` as the fan-out layer hands it over from device `from`.
    pub fn carried(&self, from: usize, payload: &[u8]) -> FanoutReceived {
        let mut got = self.carriers[from].clone();
        got.plaintext = payload.to_vec();
        got
    }
}

/// What device `to` received of a recipient-only fan-out message from
/// device `from` (spec §11.6); `to`'s user has that one device.
fn carrier(
    rng: &mut ChaCha20Rng,
    accounts: &mut [Account],
    known: &[KnownUser],
    devices: &[([u8; 32], u32)],
    from: usize,
    to: usize,
) -> FanoutReceived {
    let user = |d: usize| {
        known
            .iter()
            .find(|k| *k.user_key() == devices[d].0)
            .unwrap()
    };
    let bundle = accounts[to].bundle(None, None).unwrap().to_bytes();
    let ik = accounts[to].identity_key();
    let mut conv =
        Conversation::start(&accounts[from], rng, &ik, &bundle, HeaderMode::Encrypted).unwrap();
    let mut targets = [Target {
        audience: Audience::Recipient,
        device_id: devices[to].1,
        conversation: &mut conv,
    }];
    let wire = fanout::encrypt_to_recipient(
        user(from),
        devices[from].1,
        user(to),
        &mut targets,
        b"carrier",
        rng,
    )
    .unwrap();
    let (_, _, entry) = fanout::split(&wire).unwrap().remove(0);
    let mut peer = Conversation::new(accounts[from].identity_key());
    let msg = DeviceMessage::parse(&entry).unwrap();
    fanout::receive(user(to), user(from), &mut peer, &mut accounts[to], &msg).unwrap()
}

/// What the state machine's model knows of a slot beyond the group's public
/// accessors: the operation that made the current epoch and the epoch before.
#[derive(Clone, Debug)]
pub struct Meta {
    pub last_op: Vec<u8>,
    pub prev: Option<([u8; 32], Vec<Member>)>,
}

/// The identity (index into `Fixture::devices` and `accounts`) of each slot
/// of the state machine: the four member devices, Dave's device (after it
/// joins), Alice's first device in a group of `MAX_MEMBERS` members, Bob's
/// device holding `MAX_GROUP_CHAINS` chains, and Alice's first device with
/// an exhausted sending chain.
pub const SLOT_ID: [usize; 8] = [0, 1, 2, 3, 4, 0, 2, 0];
/// Slots whose state is large: every step on them starts from the
/// fixture's state (restored after any change), so no input copies them.
const HEAVY: std::ops::Range<usize> = 5..7;

/// The fixture, built once.
pub fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(build)
}

fn build() -> Fixture {
    let mut rng = ChaCha20Rng::from_seed([21; 32]);
    let per_user = [2u32, 1, 1, 1];
    let mut known = Vec::new();
    let mut accounts = Vec::new();
    let mut devices = Vec::new();
    for &n in &per_user {
        let uk = UserKey::generate(&mut rng).unwrap();
        let mut entries = Vec::new();
        for id in 1..=n {
            let a = Account::new(&mut rng).unwrap();
            entries.push(DeviceEntry {
                device_id: id,
                identity: a.identity_key(),
                admin: id == 1,
            });
            devices.push((*uk.public(), id));
            accounts.push(a);
        }
        let list = uk.sign_list(1, &entries).unwrap();
        known.push(KnownUser::new(uk.public(), list.to_bytes()).unwrap());
    }
    // Carriers: Bob's device receives from every other device, Carol's
    // from Bob's (their own generator: the objects below do not change).
    let mut crng = ChaCha20Rng::from_seed([22; 32]);
    let carriers: Vec<FanoutReceived> = (0..devices.len())
        .map(|from| {
            let to = if from == 2 { 3 } else { 2 };
            carrier(&mut crng, &mut accounts, &known, &devices, from, to)
        })
        .collect();
    let carried = |from: usize, payload: &[u8]| {
        let mut got = carriers[from].clone();
        got.plaintext = payload.to_vec();
        got
    };
    let user = |i: usize| devices[i].0;
    let roster = [
        Member {
            user: user(0),
            role: Role::Admin,
        },
        Member {
            user: user(2),
            role: Role::Member,
        },
        Member {
            user: user(3),
            role: Role::Member,
        },
    ];
    let (g0, create) = Group::create(&mut rng, &accounts[0], user(0), 1, &roster, &known).unwrap();
    let welcome0 = g0.welcome(&create).unwrap();
    let welcome0_copy = welcome0.clone();
    let mut groups = vec![g0];
    for i in 1..4 {
        let (u, id) = devices[i];
        groups.push(Group::join(u, id, &carried(0, &welcome0), &known).unwrap());
    }
    // Every device starts a chain; every other takes it as from its owner.
    let mut offers = Vec::new();
    for i in 0..4 {
        let offer = groups[i].start_chain(&mut rng, &accounts[i]).unwrap();
        for j in 0..4 {
            if j != i {
                groups[j].accept_chain(&carried(i, &offer), &known).unwrap();
            }
        }
        offers.push((offer, i));
    }
    // Newer chains, not yet handed out.
    for i in 0..4 {
        let mut g = groups[i].clone();
        offers.push((g.start_chain(&mut rng, &accounts[i]).unwrap(), i));
    }
    let mut messages = Vec::new();
    for i in 0..4 {
        for k in 0..3u8 {
            let text = vec![i as u8; 1 + usize::from(k) * 40];
            messages.push((groups[i].encrypt(&text).unwrap(), i, text));
        }
    }
    let dave = Member {
        user: user(4),
        role: Role::Member,
    };
    let mut a = groups[0].clone();
    let add = a.add(&accounts[0], dave, &known).unwrap();
    let welcome = a.welcome(&add).unwrap();
    let next = a.start_chain(&mut rng, &accounts[0]).unwrap();
    offers.push((next, 0));
    messages.push((a.encrypt(b"epoch 1").unwrap(), 0, b"epoch 1".to_vec()));
    let remove = a.remove(&accounts[0], &user(3), &known).unwrap();
    let mut ops = vec![add, remove];
    let h0 = *groups[0].state_hash();
    let gid = *groups[0].group_id();
    let sign = |acct: &Account, who: usize, kind: OpKind| {
        Operation::new_signed(acct, gid, 1, h0, devices[who].0, devices[who].1, kind)
            .unwrap()
            .to_bytes()
            .to_vec()
    };
    // A competing head by Alice's other device, a role change, Carol leaving,
    // Bob's unauthorised add, a non-member's add.
    ops.push(sign(
        &accounts[1],
        1,
        OpKind::Add(Member {
            user: user(4),
            role: Role::Admin,
        }),
    ));
    ops.push(sign(
        &accounts[0],
        0,
        OpKind::ChangeRole(Member {
            user: user(2),
            role: Role::Admin,
        }),
    ));
    ops.push(sign(&accounts[3], 3, OpKind::Remove(user(3))));
    ops.push(sign(&accounts[2], 2, OpKind::Add(dave)));
    ops.push(sign(&accounts[4], 4, OpKind::Add(dave)));
    ops.push(create);
    let state = groups[0].to_bytes();
    let mut bob = groups[2].clone();
    bob.decrypt(&messages[1].0, &known).unwrap();
    let states = vec![state.clone(), a.to_bytes(), bob.to_bytes()];
    let eve = [0xEE; 32];
    // A group of MAX_MEMBERS members (Alice the admin, the others users
    // without lists: an add checks the signer's device only).
    let mut big_roster = vec![Member {
        user: user(0),
        role: Role::Admin,
    }];
    for i in 1..MAX_MEMBERS as u32 {
        let mut u = [0x5A; 32];
        u[..4].copy_from_slice(&i.to_be_bytes());
        big_roster.push(Member {
            user: u,
            role: Role::Member,
        });
    }
    let (big, big_create) =
        Group::create(&mut rng, &accounts[0], user(0), 1, &big_roster, &known).unwrap();
    ops.push(big_create.clone());
    // Bob's device holding MAX_GROUP_CHAINS chains, none of them from a
    // member's device: a genuine offer finds no room. Written as a state
    // (spec §12.8), since no roster lists that many devices.
    let full = with_chains(&groups[2], MAX_GROUP_CHAINS);
    // Alice's first device, its chain used up.
    let (a_ck, a_seed, a_at) = own_chain(&groups[0]);
    let exhausted = {
        let mut b = groups[0].to_bytes();
        b[a_at..a_at + 4].copy_from_slice(&CHAIN_MESSAGES.to_be_bytes());
        Group::from_bytes(&restamp(b)).unwrap()
    };
    let forged = forge(&groups[0], &messages[0].0, &a_ck, &a_seed);
    let welcome0 = welcome0_copy;
    let mut slots: Vec<Option<Group>> = groups.iter().cloned().map(Some).collect();
    slots.push(None);
    slots.push(Some(big.clone()));
    slots.push(Some(full));
    slots.push(Some(exhausted));
    let create = ops[7].clone();
    let meta = |op: &[u8]| {
        Some(Meta {
            last_op: op.to_vec(),
            prev: None,
        })
    };
    let metas = vec![
        meta(&create),
        meta(&create),
        meta(&create),
        meta(&create),
        None,
        meta(&big_create),
        meta(&create),
        meta(&create),
    ];
    let _ = eve;
    Fixture {
        known,
        devices,
        groups,
        messages,
        offers,
        ops,
        welcome: welcome.clone(),
        state,
        carriers,
        accounts,
        welcomes: vec![welcome0, welcome],
        forged,
        slots,
        metas,
        long: vec![0; MAX_PLAINTEXT_LEN + 1],
        states,
    }
}

/// The length of a group state's trailing check (spec §12.8).
const CHECK: usize = 32;
/// The length of one stored chain in a group state (spec §12.8).
const CHAIN_ENTRY: usize = 32 + 4 + 4 + 4 + 32 + 32;

/// A group state with its check recomputed over the changed bytes.
fn restamp(mut b: Vec<u8>) -> Vec<u8> {
    let body = b.len() - CHECK;
    let d = DefaultProvider::default().sha256(&[&b[..body]]);
    b[body..].copy_from_slice(&d);
    b
}

/// Where a fixture group's chain list starts in its state: it holds
/// `groups()` chains and no stored key, so the list is found from the end.
fn chains_at(g: &Group, bytes: &[u8]) -> usize {
    let n = 3;
    let end = bytes.len() - CHECK;
    assert_eq!(&bytes[end - 2..end], &[0, 0], "no stored key");
    let at = end - 2 - n * CHAIN_ENTRY - 2;
    assert_eq!(&bytes[at..at + 2], &(n as u16).to_be_bytes(), "{g:?}");
    at
}

/// The own chain's key, signing seed and the offset of its index in the
/// state of a fixture group that has one.
fn own_chain(g: &Group) -> (Secret<32>, Secret<32>, usize) {
    let b = g.to_bytes();
    let at = chains_at(g, &b);
    let seed: [u8; 32] = b[at - 32..at].try_into().unwrap();
    let ck: [u8; 32] = b[at - 64..at - 32].try_into().unwrap();
    (
        Secret::try_from_slice(&ck).unwrap(),
        Secret::try_from_slice(&seed).unwrap(),
        at - 68,
    )
}

/// `g`'s state with its chains replaced by `n` chains of non-members.
fn with_chains(g: &Group, n: usize) -> Group {
    let b = g.to_bytes();
    let at = chains_at(g, &b);
    let end = b.len() - CHECK - 2;
    let mut out = b[..at].to_vec();
    out.extend_from_slice(&(n as u16).to_be_bytes());
    for i in 0..n as u32 {
        let mut u = [0xC3; 32];
        u[..4].copy_from_slice(&i.to_be_bytes());
        out.extend_from_slice(&u);
        out.extend_from_slice(&1u32.to_be_bytes());
        out.extend_from_slice(&[0; 8]);
        out.extend_from_slice(&[7; 64]);
    }
    out.extend_from_slice(&b[end..]);
    Group::from_bytes(&restamp(out)).unwrap()
}

/// Messages on `g`'s own chain (generation 0, `ck` its key at the next
/// index, `seed` its signing seed) signed by their owner but refused after
/// the signature (spec §12.6): see `Fixture::forged`.
fn forge(
    g: &Group,
    genuine: &[u8],
    ck: &Secret<32>,
    seed: &Secret<32>,
) -> Vec<(Vec<u8>, GroupError)> {
    use sova::kdf::{labeled_expand, labeled_mac, labeled_sign};
    let p = DefaultProvider::default();
    let sign = |mut m: Vec<u8>| {
        let sig = labeled_sign(&p, seed, labels::GROUP_MESSAGE, &[&m]).unwrap();
        m.extend_from_slice(&sig);
        m
    };
    let unsigned = &genuine[..genuine.len() - 64];
    // The index field is the header's last four bytes.
    let mut beyond = unsigned.to_vec();
    beyond[GROUP_HEADER - 4..GROUP_HEADER].copy_from_slice(&CHAIN_MESSAGES.to_be_bytes());
    let mut flipped = unsigned.to_vec();
    flipped[GROUP_HEADER + 4] ^= 1;
    // A body that opens but holds no padding marker, at the next index.
    let mut header = unsigned[..GROUP_HEADER].to_vec();
    let next = own_index(g);
    header[GROUP_HEADER - 4..].copy_from_slice(&next.to_be_bytes());
    let mk = labeled_mac(&p, ck.expose(), labels::GROUP_MESSAGE_KEY, &[]).unwrap();
    let mut okm = [0u8; 44];
    labeled_expand(&p, &mk, labels::GROUP_MESSAGE_KEYS, &header, &mut okm).unwrap();
    let key = Secret::try_from_slice(&okm[..32]).unwrap();
    let nonce: [u8; 12] = okm[32..].try_into().unwrap();
    let mut body = vec![0u8; padding::padded_len(16)];
    let tag = p.aead_seal(&key, &nonce, &header, &mut body);
    let mut unpadded = header;
    unpadded.extend_from_slice(&((body.len() + tag.len()) as u32).to_be_bytes());
    unpadded.extend_from_slice(&body);
    unpadded.extend_from_slice(&tag);
    vec![
        (sign(beyond), GroupError::BeyondChainEnd),
        (sign(flipped), GroupError::Authentication),
        (sign(unpadded), GroupError::InvalidPadding),
    ]
}

/// The length of a group message's header (spec §12.6).
const GROUP_HEADER: usize = 2 + 32 + 8 + 32 + 32 + 4 + 4 + 4;

/// The index of `g`'s next message, read from its state.
fn own_index(g: &Group) -> u32 {
    let (_, _, at) = own_chain(g);
    let b = g.to_bytes();
    u32::from_be_bytes(b[at..at + 4].try_into().unwrap())
}

/// Reads a fuzz input front to back; past the end every read yields zero.
struct Cursor<'a>(&'a [u8]);

impl Cursor<'_> {
    fn u8(&mut self) -> u8 {
        match self.0.split_first() {
            Some((b, rest)) => {
                self.0 = rest;
                *b
            }
            None => 0,
        }
    }
    fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.u8(), self.u8()])
    }
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// A `u16` length, then up to that many bytes (at most `max`).
    fn bytes(&mut self, max: usize) -> &[u8] {
        let n = usize::from(self.u16()).min(max).min(self.0.len());
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        head
    }
}

/// Flips `xor` into byte `at` (modulo the length); `xor = 0` leaves it.
fn tamper(bytes: &[u8], at: u16, xor: u8) -> Vec<u8> {
    let mut b = bytes.to_vec();
    if xor != 0 && !b.is_empty() {
        let i = usize::from(at) % b.len();
        b[i] ^= xor;
    }
    b
}

/// Offsets of the fields of a group state (spec §12.8), for seeds.
struct StateLayout {
    epoch: usize,
    state_hash: usize,
    roster: usize,
    last_op: usize,
    prev_flag: usize,
    own_flag: usize,
    chains: usize,
    skipped: usize,
}

impl StateLayout {
    fn read(b: &[u8]) -> Self {
        let u16_at = |i: usize| usize::from(u16::from_be_bytes([b[i], b[i + 1]]));
        let u32_at = |i: usize| u32::from_be_bytes(b[i..i + 4].try_into().unwrap()) as usize;
        let epoch = 12 + 1 + 32 + 32 + 4;
        let state_hash = epoch + 8;
        let roster = state_hash + 32;
        let last_op = roster + 2 + 33 * u16_at(roster);
        let prev_flag = last_op + 4 + u32_at(last_op);
        let mut i = prev_flag + 1;
        if b[prev_flag] == 1 {
            i += 32;
            i += 2 + 33 * u16_at(i);
            i += 4 + u32_at(i);
        }
        let own_flag = i + 4;
        let chains = own_flag + 1 + if b[own_flag] == 1 { 72 } else { 0 };
        let skipped = chains + 2 + CHAIN_ENTRY * u16_at(chains);
        assert_eq!(
            skipped + 2 + (32 + 12 + 32) * u16_at(skipped) + CHECK,
            b.len()
        );
        Self {
            epoch,
            state_hash,
            roster,
            last_op,
            prev_flag,
            own_flag,
            chains,
            skipped,
        }
    }
}

/// Every parser on one input: no panic, and what parses re-encodes exactly.
///
/// The first byte selects: bits 0–2 the parser (0 operation, 1 welcome,
/// 2 chain offer, 3 message, 4–7 group state); bit 7 a genuine object
/// (`pick`, then `(at, xor)` flips up to a zero `xor`) instead of the raw
/// rest; bit 6, for states, the state's check recomputed after the edits.
pub fn check_group_parse(data: &[u8]) {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let fx = fixture();
    let owned;
    let input: &[u8] = if sel & 0x80 != 0 {
        // A genuine object with bytes flipped: reaches past the headers.
        let mut c = Cursor(rest);
        let pick = usize::from(c.u8());
        let base: &[u8] = match sel & 0x07 {
            0 => &fx.ops[pick % fx.ops.len()],
            1 => &fx.welcome,
            2 => &fx.offers[pick % fx.offers.len()].0,
            3 => &fx.messages[pick % fx.messages.len()].0,
            _ => &fx.states[pick % fx.states.len()],
        };
        let mut b = base.to_vec();
        loop {
            let (at, xor) = (c.u16(), c.u8());
            if xor == 0 {
                break;
            }
            b = tamper(&b, at, xor);
        }
        owned = b;
        &owned
    } else {
        rest
    };
    // A state whose check is recomputed over the edited bytes reaches the
    // reader's field and consistency checks (spec §12.8), which sit behind
    // the check.
    let stamped;
    let input: &[u8] = if sel & 0x40 != 0 && sel & 0x07 >= 4 && input.len() >= CHECK {
        stamped = restamp(input.to_vec());
        &stamped
    } else {
        input
    };
    match sel & 0x07 {
        0 => {
            if let Ok(op) = Operation::parse(input) {
                assert_eq!(op.to_bytes(), input, "an operation re-encodes exactly");
            }
        }
        1 => {
            if let Ok(w) = Welcome::parse(input) {
                assert!(!w.members().is_empty());
            }
        }
        2 => {
            let _ = ChainOffer::parse(input);
        }
        3 => {
            if let Ok(m) = GroupMessage::parse(input) {
                assert!(m.group_id.len() == 32);
            }
        }
        _ => {
            if let Ok(g) = Group::from_bytes(input) {
                assert_eq!(g.to_bytes(), input, "a group state re-encodes exactly");
            }
        }
    }
}

/// The users an input's operations name: Alice, Bob, Carol, Dave, and Eve
/// (no list, never a member).
fn target_user(fx: &Fixture, i: u8) -> [u8; 32] {
    match i % 5 {
        0 => fx.devices[0].0,
        1 => fx.devices[2].0,
        2 => fx.devices[3].0,
        3 => fx.devices[4].0,
        _ => [0xEE; 32],
    }
}

/// Who signs an input's operation: `(user, device, account, the account is
/// the device's)`: the five devices, Alice's unlisted device 9, and Alice's
/// second device signed with the first one's key.
fn signer(fx: &Fixture, i: u8) -> ([u8; 32], u32, usize, bool) {
    match i % 7 {
        5 => (fx.devices[0].0, 9, 0, true),
        6 => (fx.devices[1].0, fx.devices[1].1, 0, false),
        d => {
            let d = usize::from(d);
            (fx.devices[d].0, fx.devices[d].1, d, true)
        }
    }
}

/// spec §12.3 checks 4–8 on a genuinely built operation, against the
/// roster before it (`None` for a create): the roster after it, or the
/// first check that fails.
fn model_checks(
    fx: &Fixture,
    before: Option<&[Member]>,
    epoch: u64,
    prev: [u8; 32],
    (user, device, _, key_ok): ([u8; 32], u32, usize, bool),
    kind: &OpKind,
) -> Result<Vec<Member>, GroupError> {
    let find = |r: &[Member], u: &[u8; 32]| r.iter().find(|m| m.user == *u).copied();
    let has_admin = |r: &[Member]| r.iter().any(|m| m.role == Role::Admin);
    let (signer, first) = match (kind, before) {
        (OpKind::Create(m), None) => {
            if epoch != 0 || prev != [0; 32] {
                return Err(GroupError::Fork);
            }
            let mut first = m.clone();
            first.sort_by_key(|m| m.user);
            (
                find(&first, &user).ok_or(GroupError::NotMember)?,
                Some(first),
            )
        }
        (OpKind::Create(_), Some(_)) => return Err(GroupError::Fork),
        (_, None) => return Err(GroupError::NotMember),
        (_, Some(b)) => (find(b, &user).ok_or(GroupError::NotMember)?, None),
    };
    let listed = fx.known[..]
        .known_user(&user)
        .and_then(|k| k.list().device(device))
        .is_some();
    if !listed {
        return Err(GroupError::UnknownDevice);
    }
    if !key_ok {
        return Err(GroupError::InvalidSignature);
    }
    let admin = signer.role == Role::Admin;
    match (kind, before) {
        (OpKind::Create(_), _) => {
            if !admin {
                return Err(GroupError::NotAuthorised);
            }
            Ok(first.unwrap())
        }
        (OpKind::Add(m), Some(b)) => {
            if !admin {
                return Err(GroupError::NotAuthorised);
            }
            if find(b, &m.user).is_some() {
                return Err(GroupError::AlreadyMember);
            }
            if b.len() >= MAX_MEMBERS {
                return Err(GroupError::TooManyMembers);
            }
            let mut v = b.to_vec();
            v.push(*m);
            v.sort_by_key(|m| m.user);
            Ok(v)
        }
        (OpKind::Remove(u), Some(b)) => {
            if !admin && *u != user {
                return Err(GroupError::NotAuthorised);
            }
            find(b, u).ok_or(GroupError::NoSuchMember)?;
            let v: Vec<Member> = b.iter().filter(|m| m.user != *u).copied().collect();
            if !has_admin(&v) {
                return Err(GroupError::LastAdmin);
            }
            Ok(v)
        }
        (OpKind::ChangeRole(m), Some(b)) => {
            if !admin {
                return Err(GroupError::NotAuthorised);
            }
            let e = find(b, &m.user).ok_or(GroupError::NoSuchMember)?;
            if e.role == m.role {
                return Err(GroupError::RoleUnchanged);
            }
            let v: Vec<Member> = b
                .iter()
                .map(|x| if x.user == m.user { *m } else { *x })
                .collect();
            if !has_admin(&v) {
                return Err(GroupError::LastAdmin);
            }
            Ok(v)
        }
        _ => unreachable!(),
    }
}

/// A welcome an input made: (bytes, state hash, roster, epoch) of the group
/// that made it.
type MadeWelcome = (Vec<u8>, [u8; 32], Vec<Member>, u64);

/// The per-input state of the state machine: each slot's group (copied
/// from the fixture when first used) and model, and the objects the input
/// made so far, after the fixture's.
struct Run<'f> {
    fx: &'f Fixture,
    slots: Vec<Option<Group>>,
    metas: Vec<Option<Meta>>,
    loaded: [bool; 8],
    /// (bytes, sending identity, plaintext)
    messages: Vec<(Vec<u8>, usize, Vec<u8>)>,
    /// (bytes, owning identity)
    offers: Vec<(Vec<u8>, usize)>,
    ops: Vec<Vec<u8>>,
    welcomes: Vec<MadeWelcome>,
}

thread_local! {
    /// Working copies of the heavy slots, equal to the fixture's between steps.
    static HEAVY_WORK: std::cell::RefCell<Vec<Group>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// One step's parameters, as read from the input.
#[derive(Clone, Copy)]
struct Step {
    action: u8,
    pick: u8,
    from: u8,
    at: u16,
    xor: u8,
    n: usize,
}

/// A welcome from its parts (spec §12.3).
fn encode_welcome(op: &[u8], members: &[Member], prev_op: &[u8]) -> Vec<u8> {
    let mut out = b"SOVA-1 group welcome".to_vec();
    out.push(1);
    out.extend_from_slice(&(op.len() as u32).to_be_bytes());
    out.extend_from_slice(op);
    out.extend_from_slice(&(members.len() as u16).to_be_bytes());
    for m in members {
        out.extend_from_slice(&m.user);
        out.push(u8::from(m.role == Role::Admin));
    }
    out.extend_from_slice(&(prev_op.len() as u32).to_be_bytes());
    out.extend_from_slice(prev_op);
    out
}

/// A sequence of steps on the fixed group; see the module documentation.
///
/// Each step is seven bytes: slot (`SLOT_ID`), action, pick, from, at (two
/// bytes) and xor. Actions: 0 read a message, 1 take a chain offer over
/// `from`'s session, 2 apply an operation, 3 send, 4 start a chain, 5 sign
/// an operation as `from` (`signer`) and apply it, 6 make a welcome for an
/// operation, 7 join from a welcome (as the slot's identity, over `from`'s
/// session). Objects come from the fixture's pools and what the input made.
pub fn check_group_state_machine(data: &[u8]) {
    let fx = fixture();
    let mut run = Run {
        fx,
        slots: vec![None; SLOT_ID.len()],
        metas: vec![None; SLOT_ID.len()],
        loaded: [false; 8],
        messages: Vec::new(),
        offers: Vec::new(),
        ops: Vec::new(),
        welcomes: Vec::new(),
    };
    let mut c = Cursor(data);
    for n in 0..16 {
        if c.0.is_empty() {
            break;
        }
        let mut slot = usize::from(c.u8()) % SLOT_ID.len();
        let step = Step {
            action: c.u8() % 8,
            pick: c.u8(),
            from: c.u8(),
            at: c.u16(),
            xor: c.u8(),
            n,
        };
        // The heavy slots take only the actions whose limits they are for
        // (signing and applying operations, welcomes; chain offers); every
        // step on them compares their whole state once.
        let heavy_action = match slot {
            5 => matches!(step.action, 2 | 5 | 6),
            6 => step.action == 1,
            _ => true,
        };
        if !heavy_action {
            slot = SLOT_ID[slot];
        }
        if step.action == 7 {
            join(&mut run, slot, step);
        } else if HEAVY.contains(&slot) {
            let base = fx.slots[slot].as_ref().unwrap();
            let mut meta = fx.metas[slot].clone().unwrap();
            HEAVY_WORK.with(|w| {
                let mut w = w.borrow_mut();
                if w.is_empty() {
                    w.extend(HEAVY.map(|i| fx.slots[i].clone().unwrap()));
                }
                let g = &mut w[slot - HEAVY.start];
                // A refusal was checked against the fixture's state.
                if run_step(&mut run, slot, g, base, &mut meta, step) {
                    *g = base.clone();
                }
            });
        } else {
            if !run.loaded[slot] {
                run.loaded[slot] = true;
                run.slots[slot] = fx.slots[slot].clone();
                run.metas[slot] = fx.metas[slot].clone();
            }
            let (Some(mut g), Some(mut meta)) = (run.slots[slot].take(), run.metas[slot].take())
            else {
                continue;
            };
            let before = g.clone();
            run_step(&mut run, slot, &mut g, &before, &mut meta, step);
            run.slots[slot] = Some(g);
            run.metas[slot] = Some(meta);
        }
    }
}

/// Action 7: the slot's identity joins from a welcome.
fn join(run: &mut Run<'_>, slot: usize, s: Step) {
    let fx = run.fx;
    let me = SLOT_ID[slot];
    let (own_user, own_device) = fx.devices[me];
    let k = usize::from(s.pick) % (fx.welcomes.len() + run.welcomes.len());
    let (genuine, made): (&[u8], _) = match k.checked_sub(fx.welcomes.len()) {
        None => (&fx.welcomes[k], None),
        Some(i) => {
            let (w, h, r, e) = &run.welcomes[i];
            (&w[..], Some((*h, r.clone(), *e)))
        }
    };
    let parts = Welcome::parse(genuine).unwrap();
    let op = parts.operation.to_bytes();
    let mut members = parts.members().to_vec();
    let other_op = &fx.ops[usize::from(s.from) % fx.ops.len()];
    let edited = match s.at % 5 {
        1 => encode_welcome(op, &members, &[]),
        2 => encode_welcome(op, &members, other_op),
        3 => {
            let i = usize::from(s.from) % members.len();
            members[i].role = match members[i].role {
                Role::Admin => Role::Member,
                Role::Member => Role::Admin,
            };
            encode_welcome(op, &members, parts.prev_op())
        }
        4 => {
            members.remove(usize::from(s.from) % members.len());
            if members.is_empty() {
                genuine.to_vec()
            } else {
                encode_welcome(op, &members, parts.prev_op())
            }
        }
        _ => genuine.to_vec(),
    };
    let wire = tamper(&edited, s.at >> 3, s.xor);
    let from = usize::from(s.from >> 4) % fx.devices.len();
    let (from_user, from_device) = fx.devices[from];
    let Ok(g) = Group::join(own_user, own_device, &fx.carried(from, &wire), &fx.known) else {
        return;
    };
    assert_eq!(wire, genuine, "an edited welcome was accepted");
    let w = &parts;
    assert_eq!(
        (from_user, from_device),
        (w.operation.signer_user, w.operation.signer_device),
        "a welcome was accepted over another device's session"
    );
    assert_eq!(g.members(), w.members());
    assert_eq!(g.epoch(), w.operation.epoch);
    assert!(g.is_member() && g.needs_chain());
    if let Some((h, r, e)) = made {
        assert_eq!((*g.state_hash(), g.members(), g.epoch()), (h, &r[..], e));
    }
    let prev = (!w.prev_op().is_empty()).then(|| {
        let before: Vec<Member> = w
            .members()
            .iter()
            .filter(|m| m.user != own_user)
            .copied()
            .collect();
        (w.operation.prev, before)
    });
    if !HEAVY.contains(&slot) {
        run.loaded[slot] = true;
        run.slots[slot] = Some(g);
        run.metas[slot] = Some(Meta {
            last_op: op.to_vec(),
            prev,
        });
    }
}

/// The key of a signed operation in `signed_op`'s cache.
type OpKey = (
    usize,
    [u8; 32],
    u64,
    [u8; 32],
    [u8; 32],
    u32,
    u8,
    Vec<Member>,
    [u8; 32],
);

/// `Operation::new_signed(...).to_bytes()`, memoised: Ed25519 signatures
/// are deterministic, so the cache returns exactly what signing returns,
/// and the inputs' operations recur (the state machine's verification of
/// each one, inside `Group::apply`, is not cached).
fn signed_op(
    fx: &Fixture,
    account: usize,
    group_id: [u8; 32],
    epoch: u64,
    prev: [u8; 32],
    (user, device, _, _): ([u8; 32], u32, usize, bool),
    kind: &OpKind,
) -> Vec<u8> {
    thread_local! {
        static SIGNED: std::cell::RefCell<std::collections::HashMap<OpKey, Vec<u8>>> =
            std::cell::RefCell::new(std::collections::HashMap::new());
    }
    let (k, members, target) = match kind {
        OpKind::Create(m) => (0, m.clone(), [0; 32]),
        OpKind::Add(m) => (1, vec![*m], [0; 32]),
        OpKind::Remove(u) => (2, Vec::new(), *u),
        OpKind::ChangeRole(m) => (3, vec![*m], [0; 32]),
    };
    let key = (
        account, group_id, epoch, prev, user, device, k, members, target,
    );
    if let Some(op) = SIGNED.with(|c| c.borrow().get(&key).cloned()) {
        return op;
    }
    let op = Operation::new_signed(
        &fx.accounts[account],
        group_id,
        epoch,
        prev,
        user,
        device,
        kind.clone(),
    )
    .unwrap()
    .to_bytes()
    .to_vec();
    SIGNED.with(|c| {
        let mut c = c.borrow_mut();
        if c.len() >= 4096 {
            c.clear();
        }
        c.insert(key, op.clone());
    });
    op
}

/// Records an applied operation in the model.
fn advance(meta: &mut Meta, before: &Group, op: &[u8]) {
    meta.prev = Some((*before.state_hash(), before.members().to_vec()));
    meta.last_op = op.to_vec();
}

/// Actions 0–6 on one slot's group `g`, which equals `before`. Returns
/// whether the call succeeded (only then may `g` differ from `before`).
fn run_step(
    run: &mut Run<'_>,
    slot: usize,
    g: &mut Group,
    before: &Group,
    meta: &mut Meta,
    s: Step,
) -> bool {
    let mut ok = false;
    let fx = run.fx;
    let me = SLOT_ID[slot];
    let pick = usize::from(s.pick);
    let (at, xor) = (s.at, s.xor);
    match s.action {
        0 => {
            let n = fx.messages.len() + fx.forged.len() + run.messages.len();
            let k = pick % n;
            let (genuine, sender, text): (&[u8], Option<usize>, &[u8]) = if k < fx.messages.len() {
                let (w, s, t) = &fx.messages[k];
                (w, Some(*s), t)
            } else if k < fx.messages.len() + fx.forged.len() {
                (&fx.forged[k - fx.messages.len()].0, None, &[])
            } else {
                let (w, s, t) = &run.messages[k - fx.messages.len() - fx.forged.len()];
                (w, Some(*s), t)
            };
            let wire = tamper(genuine, at, xor);
            match g.decrypt(&wire, &fx.known) {
                Ok(got) => {
                    ok = true;
                    assert_eq!(&wire[..], genuine, "a tampered message was accepted");
                    let sender = sender.expect("a message its owner forged was accepted");
                    assert_eq!(got.plaintext, text);
                    assert_eq!((got.sender_user, got.sender_device), fx.devices[sender]);
                }
                Err(_) => assert_eq!(*g, *before, "a refused message changed the state"),
            }
        }
        1 => {
            let k = pick % (fx.offers.len() + run.offers.len());
            let (genuine, owner) = match k.checked_sub(fx.offers.len()) {
                None => (&fx.offers[k].0, fx.offers[k].1),
                Some(i) => (&run.offers[i].0, run.offers[i].1),
            };
            let offer = tamper(genuine, at, xor);
            let from = usize::from(s.from) % fx.devices.len();
            let (u, id) = fx.devices[from];
            match g.accept_chain(&fx.carried(from, &offer), &fx.known) {
                Ok(()) => {
                    ok = true;
                    // The binding signs everything up to it; the index
                    // and chain key after it are protected by the
                    // pairwise session that carries the offer (§12.5).
                    let signed = genuine.len() - 4 - 32;
                    assert_eq!(
                        &offer[..signed],
                        &genuine[..signed],
                        "a chain offer with a tampered signed part was accepted"
                    );
                    assert_eq!(fx.devices[owner], (u, id), "accepted over another session");
                }
                Err(_) => assert_eq!(*g, *before, "a refused offer changed the state"),
            }
        }
        2 => {
            let k = pick % (fx.ops.len() + run.ops.len());
            let genuine = match k.checked_sub(fx.ops.len()) {
                None => &fx.ops[k],
                Some(i) => &run.ops[i],
            };
            let op = tamper(genuine, at, xor);
            match g.apply(&op, &fx.known) {
                Ok(r) => {
                    ok = true;
                    assert_eq!(&op, genuine, "a tampered operation was accepted");
                    if r == Applied::Unchanged {
                        assert_eq!(*g, *before);
                        assert_eq!(op, meta.last_op, "Unchanged for another operation");
                    } else {
                        // spec §12.4: an applied operation is never
                        // replaced; only the next epoch is entered.
                        assert_eq!(g.epoch(), before.epoch() + 1, "not the next epoch");
                        assert!(g.needs_chain(), "chains survived a membership change");
                        advance(meta, before, &op);
                    }
                }
                Err(_) => assert_eq!(*g, *before, "a refused operation changed the state"),
            }
        }
        3 => {
            let short = [s.pick; 3];
            let text: &[u8] = if s.from & 0x80 != 0 { &fx.long } else { &short };
            match g.encrypt(text) {
                Ok(wire) => {
                    ok = true;
                    assert!(text.len() <= MAX_PLAINTEXT_LEN);
                    let m = GroupMessage::parse(&wire).unwrap();
                    assert_eq!(m.epoch, before.epoch());
                    assert_eq!((m.sender_user, m.sender_device), fx.devices[me]);
                    run.messages.push((wire, me, text.to_vec()));
                }
                Err(_) => assert_eq!(*g, *before, "a refused send changed the state"),
            }
        }
        4 => {
            let mut rng = ChaCha20Rng::seed_from_u64(u64::from(s.pick) << 8 | s.n as u64);
            match g.start_chain(&mut rng, &fx.accounts[me]) {
                Ok(offer) => {
                    ok = true;
                    assert!(g.is_member() && !g.needs_chain());
                    run.offers.push((offer, me));
                }
                Err(e) => {
                    assert_eq!(e, GroupError::Removed);
                    assert!(!before.is_member());
                    assert_eq!(*g, *before, "a refused chain start changed the state");
                }
            }
        }
        5 => {
            let who = signer(fx, s.from);
            let target = target_user(fx, s.pick >> 2);
            let role = if s.pick & 0x80 != 0 {
                Role::Admin
            } else {
                Role::Member
            };
            let kind = match s.pick & 3 {
                0 => OpKind::Add(Member { user: target, role }),
                1 => OpKind::Remove(target),
                2 => OpKind::ChangeRole(Member { user: target, role }),
                _ => OpKind::Create(before.members().to_vec()),
            };
            let e = before.epoch();
            let prev_hash = meta.prev.as_ref().map_or([0; 32], |p| p.0);
            let (epoch, prev) = match at % 5 {
                0 => (e + 1, *before.state_hash()),
                1 => (e, prev_hash),
                2 => (e + 1, prev_hash),
                3 => (e + 2, *before.state_hash()),
                _ => (e.saturating_sub(1), prev_hash),
            };
            let op = signed_op(fx, who.2, *before.group_id(), epoch, prev, who, &kind);
            // spec §12.3 check 3, then 4–8.
            let want = if epoch == e {
                if op == meta.last_op {
                    Ok(None)
                } else if prev != prev_hash {
                    Err(GroupError::Fork)
                } else {
                    let b = meta.prev.as_ref().map(|p| &p.1[..]);
                    model_checks(fx, b, epoch, prev, who, &kind).and(Err(GroupError::Fork))
                }
            } else if epoch < e {
                Err(GroupError::StaleEpoch)
            } else if epoch > e + 1 {
                Err(GroupError::EpochAhead)
            } else if prev != *before.state_hash() {
                Err(GroupError::Fork)
            } else {
                model_checks(fx, Some(before.members()), epoch, prev, who, &kind).map(Some)
            };
            let got = g.apply(&op, &fx.known);
            match (&want, got) {
                (Ok(None), Ok(Applied::Unchanged)) => assert_eq!(*g, *before),
                (Ok(Some(after)), Ok(Applied::Advanced)) => {
                    ok = true;
                    assert_eq!(g.members(), &after[..], "not the roster of spec §12.3");
                    assert_eq!(g.epoch(), e + 1);
                    assert!(g.needs_chain(), "chains survived a membership change");
                    advance(meta, before, &op);
                }
                (Err(w), Err(got)) => {
                    assert_eq!(*w, got, "not the first check of spec §12.3 that fails");
                    assert_eq!(*g, *before, "a refused operation changed the state");
                }
                (w, got) => panic!("operation {kind:?}: spec §12.3 gives {w:?}, apply {got:?}"),
            }
            run.ops.push(op);
        }
        _ => {
            let k = pick % (fx.ops.len() + run.ops.len());
            let genuine = match k.checked_sub(fx.ops.len()) {
                None => &fx.ops[k],
                Some(i) => &run.ops[i],
            };
            let op = tamper(genuine, at, xor);
            let got = g.welcome(&op);
            assert_eq!(*g, *before, "making a welcome changed the state");
            match got {
                Ok(w) => {
                    assert_eq!(op, meta.last_op, "a welcome for another operation");
                    let parsed = Welcome::parse(&w).unwrap();
                    assert_eq!(parsed.members(), g.members());
                    assert_eq!(parsed.operation.to_bytes(), &op[..]);
                    run.welcomes
                        .push((w, *g.state_hash(), g.members().to_vec(), g.epoch()));
                }
                Err(e) => {
                    if let Ok(parsed) = Operation::parse(&op) {
                        let want = if parsed.group_id != *g.group_id() {
                            GroupError::WrongGroup
                        } else {
                            GroupError::StaleEpoch
                        };
                        assert_eq!(e, want);
                        assert_ne!(op, meta.last_op);
                    }
                }
            }
        }
    }
    ok
}

/// The committed seed inputs: `(target, file name, bytes)`.
pub fn seeds() -> Vec<(&'static str, String, Vec<u8>)> {
    let mut out: Vec<(&'static str, String, Vec<u8>)> = Vec::new();
    let mut add = |t: &'static str, name: &str, data: Vec<u8>| out.push((t, name.to_owned(), data));
    let fx = fixture();
    for (sel, name) in [
        (0u8, "op"),
        (1, "welcome"),
        (2, "offer"),
        (3, "message"),
        (4, "state"),
    ] {
        add(
            "group_parse",
            &format!("{name}_tampered"),
            vec![0x80 | sel, 0, 0, 40, 1],
        );
        add(
            "group_parse",
            &format!("{name}_genuine"),
            vec![0x80 | sel, 1],
        );
    }
    let mut raw = vec![0u8];
    raw.extend_from_slice(&fx.ops[0]);
    add("group_parse", "raw_op", raw);
    // States with their check recomputed after an edit: each breaks one
    // rule of spec §12.8 behind the check.
    let edit = |pick: u8, flips: &[(usize, u8)]| {
        let mut v = vec![0x80 | 0x40 | 4, pick];
        for &(at, xor) in flips {
            v.extend_from_slice(&(at as u16).to_be_bytes());
            v.push(xor);
        }
        v.extend_from_slice(&[0, 0, 0]);
        v
    };
    let z = StateLayout::read(&fx.states[0]);
    let a = StateLayout::read(&fx.states[1]);
    let b = StateLayout::read(&fx.states[2]);
    for (name, pick, at, xor) in [
        ("state_bad_prev_flag", 1u8, a.prev_flag, 2u8),
        ("state_wrong_epoch", 1, a.epoch + 7, 1),
        ("state_wrong_hash", 1, a.state_hash, 1),
        ("state_wrong_previous", 1, a.prev_flag + 1, 1),
        ("state_own_chain_generation", 0, z.own_flag + 1, 0x80),
        ("state_own_chain_index", 0, z.own_flag + 5, 0x80),
        ("state_bad_own_flag", 0, z.own_flag, 2),
        ("state_bad_operation", 1, a.last_op + 4, 1),
        ("state_bad_roster", 1, a.roster, 0x80),
        ("state_chain_count_limit", 2, b.chains, 0x80),
        ("state_stored_key_limit", 2, b.skipped, 0x80),
        (
            "state_duplicate_chain",
            2,
            b.chains + 2 + CHAIN_ENTRY + 32 + 3,
            3,
        ),
    ] {
        add("group_parse", name, edit(pick, &[(at, xor)]));
    }
    let mut trailing = vec![0x40 | 4];
    trailing.extend_from_slice(&fx.states[0][..fx.states[0].len() - CHECK]);
    trailing.push(0);
    trailing.extend_from_slice(&[0; CHECK]);
    add("group_parse", "state_trailing_byte", trailing);
    // A welcome's roster with no member, and out of order; a chain offer
    // with a trailing byte.
    let w = &fx.welcome;
    let op_len = u32::from_be_bytes(w[21..25].try_into().unwrap()) as usize;
    let count = 25 + op_len;
    let first = count + 2;
    let genuine_welcome = |at: usize, xor: u8| {
        let mut v = vec![0x80 | 1, 0];
        v.extend_from_slice(&(at as u16).to_be_bytes());
        v.extend_from_slice(&[xor, 0, 0, 0]);
        v
    };
    add(
        "group_parse",
        "welcome_no_member",
        genuine_welcome(count + 1, w[count + 1]),
    );
    add(
        "group_parse",
        "welcome_members_out_of_order",
        genuine_welcome(first, w[first] ^ 0xFF),
    );
    let mut offer = vec![2u8];
    offer.extend_from_slice(&fx.offers[0].0);
    offer.push(0);
    add("group_parse", "offer_trailing_byte", offer);
    // Bob reads Alice's first message, then again (a replay), then a
    // tampered one.
    add(
        "group_state_machine",
        "read_replay_tamper",
        vec![
            2, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 2, 0, 1, 0, 0, 90, 4,
        ],
    );
    // Carol takes a newer chain of Alice over Bob's session, then over
    // Alice's.
    add(
        "group_state_machine",
        "offer_wrong_session",
        vec![3, 1, 4, 2, 0, 0, 0, 3, 1, 4, 0, 0, 0, 0],
    );
    // Bob applies the add, its competing head (refused: Fork), then a
    // forged copy.
    add(
        "group_state_machine",
        "ops_and_fork",
        vec![
            2, 2, 0, 0, 0, 0, 0, 2, 2, 2, 0, 0, 0, 0, 2, 2, 1, 0, 0, 7, 1,
        ],
    );
    // Alice sends, Carol applies the unauthorised and the non-member adds.
    add(
        "group_state_machine",
        "send_and_refused_ops",
        vec![
            0, 3, 9, 0, 0, 0, 0, 3, 2, 5, 0, 0, 0, 0, 3, 2, 6, 0, 0, 0, 0,
        ],
    );
    // Operations signed in the input (action 5) against every rule of
    // spec §12.3: a member's add, an admin's add of a member, removal of a
    // non-member, an unchanged role, the last admin removed and demoted,
    // a non-member signer, an unlisted device, a wrong key.
    let step = |slot: u8, action: u8, pick: u8, from: u8, at: u16, xor: u8| {
        let [a, b] = at.to_be_bytes();
        vec![slot, action, pick, from, a, b, xor]
    };
    let steps = |v: &[Vec<u8>]| v.concat();
    add(
        "group_state_machine",
        "sign_refused",
        steps(&[
            step(2, 5, 4 << 2, 2, 0, 0),
            step(0, 5, 1 << 2, 0, 0, 0),
            step(0, 5, (4 << 2) | 1, 0, 0, 0),
            step(0, 5, (1 << 2) | 2, 0, 0, 0),
            step(0, 5, 1, 0, 0, 0),
            step(0, 5, 2, 0, 0, 0),
            step(0, 5, 4 << 2, 4, 0, 0),
            step(0, 5, 4 << 2, 5, 0, 0),
            step(0, 5, 4 << 2, 6, 0, 0),
            step(2, 5, (1 << 2) | 1, 2, 0, 0),
        ]),
    );
    // Alice adds Dave; then a competing add at that epoch (Fork), a wrong
    // previous hash (Fork), an epoch ahead and one behind, the same add
    // again (Unchanged); Alice's other device sees a competing create.
    add(
        "group_state_machine",
        "sign_epochs_and_fork",
        steps(&[
            step(0, 5, 3 << 2, 0, 0, 0),
            step(0, 5, 4 << 2, 0, 1, 0),
            step(0, 5, 4 << 2, 0, 2, 0),
            step(0, 5, 4 << 2, 0, 3, 0),
            step(0, 5, 4 << 2, 0, 4, 0),
            step(0, 5, 3 << 2, 0, 1, 0),
            step(1, 5, 3, 1, 1, 0),
            step(0, 5, 0x80 | (1 << 2) | 2, 0, 0, 0),
        ]),
    );
    // Alice adds Dave and makes the welcome; Dave joins over her session,
    // starts a chain and sends; Alice takes the chain and reads. Around it:
    // welcomes for an old operation and another group's, joins over
    // another session, as a user the welcome does not add, and from
    // welcomes edited four ways.
    let nops = fx.ops.len() as u8;
    let noffers = fx.offers.len() as u8;
    let nmsgs = (fx.messages.len() + fx.forged.len()) as u8;
    add(
        "group_state_machine",
        "welcome_join_send",
        steps(&[
            step(0, 5, 3 << 2, 0, 0, 0),
            step(0, 6, 7, 0, 0, 0),
            step(0, 6, 8, 0, 0, 0),
            step(0, 6, nops, 0, 0, 0),
            step(4, 7, 2, 0x10, 0, 0),
            step(2, 7, 2, 0, 0, 0),
            step(4, 7, 2, 0, 1, 0),
            step(4, 7, 2, 0, 2, 0),
            step(4, 7, 2, 0, 3, 0),
            step(4, 7, 2, 0, 4, 0),
            step(4, 7, 2, 0, 0, 0),
            step(4, 4, 1, 0, 0, 0),
            step(4, 3, 9, 0, 0, 0),
            step(0, 1, noffers, 4, 0, 0),
            step(0, 0, nmsgs, 0, 0, 0),
            step(3, 7, 0, 0, 0, 0),
        ]),
    );
    // Carol is removed and can no longer send or start a chain; an add to
    // a full group, an offer to a device holding the most chains, a send
    // on a used-up chain and a plaintext over the limit.
    add(
        "group_state_machine",
        "removed_and_limits",
        steps(&[
            step(3, 2, 0, 0, 0, 0),
            step(3, 2, 1, 0, 0, 0),
            step(3, 3, 1, 0, 0, 0),
            step(3, 4, 1, 0, 0, 0),
            step(5, 5, 4 << 2, 0, 0, 0),
            step(6, 1, 0, 0, 0, 0),
            step(7, 3, 1, 0, 0, 0),
            step(0, 3, 1, 0x80, 0, 0),
        ]),
    );
    // A member's create, removal of another and role change (each
    // NotAuthorised); an operation for epoch 2 on the hash of epoch 0, made
    // at epoch 1 (Fork), then applied by a device at epoch 2 (Fork at the
    // head); Dave's welcome with his own role flipped (WelcomeMismatch).
    let dave_at = Welcome::parse(&fx.welcome)
        .unwrap()
        .members()
        .iter()
        .position(|m| m.user == fx.devices[4].0)
        .unwrap() as u8;
    add(
        "group_state_machine",
        "member_ops_and_head_fork",
        steps(&[
            step(2, 5, 3, 2, 1, 0),
            step(2, 5, (2 << 2) | 1, 2, 0, 0),
            step(2, 5, 0x80 | (2 << 2) | 2, 2, 0, 0),
            step(0, 2, 0, 0, 0, 0),
            step(0, 5, 4 << 2, 0, 2, 0),
            step(3, 2, 0, 0, 0, 0),
            step(3, 2, 1, 0, 0, 0),
            step(3, 2, nops + 3, 0, 0, 0),
            step(4, 7, 1, dave_at, 3, 0),
        ]),
    );
    // Bob reads the messages Alice's chain forged: beyond the chain's end,
    // a body the AEAD refuses, bad padding.
    let m = fx.messages.len() as u8;
    add(
        "group_state_machine",
        "owner_forged_messages",
        steps(&[
            step(2, 0, m, 0, 0, 0),
            step(2, 0, m + 1, 0, 0, 0),
            step(2, 0, m + 2, 0, 0, 0),
        ]),
    );
    // group_batch: head, length selector, pool offset, generator seed,
    // then edits (kind, at, arg, val).
    let batch = |head: u8, sel: u8, offset: u8, edits: &[(u8, u16, u16, u8)]| {
        let mut v = vec![head, sel, offset, 7];
        for &(kind, at, arg, val) in edits {
            v.push(kind);
            v.extend_from_slice(&at.to_be_bytes());
            v.extend_from_slice(&arg.to_be_bytes());
            v.push(val);
        }
        v
    };
    for (i, n) in BATCH_LENGTHS.iter().enumerate() {
        add(
            "group_batch",
            &format!("genuine_{n}"),
            batch(0, i as u8, 0, &[]),
        );
    }
    add("group_batch", "genuine_128_rustcrypto", batch(2, 1, 5, &[]));
    add("group_batch", "short_queue", batch(0, 4, 0, &[]));
    add("group_batch", "stale_epoch_256", batch(1, 3, 0, &[]));
    add(
        "group_batch",
        "forged_signature_middle_128",
        batch(0, 1, 0, &[(4, 64, 3, 0)]),
    );
    add(
        "group_batch",
        "forged_signatures_256",
        batch(0, 3, 0, &[(4, 10, 77, 0), (4, 200, 5, 0)]),
    );
    add(
        "group_batch",
        "byte_edit_129",
        batch(0, 2, 0, &[(3, 100, 90, 0x20)]),
    );
    let odd = batch_fixture().odd.len() as u16;
    let inserts: Vec<(u8, u16, u16, u8)> = (0..odd).map(|k| (6, 7 * k + 3, k, 0)).collect();
    add("group_batch", "odd_messages_128", batch(0, 1, 0, &inserts));
    add(
        "group_batch",
        "reordered_duplicated_dropped",
        batch(
            0,
            66,
            9,
            &[
                (0, 1, 100, 0),
                (1, 5, 6, 0),
                (1, 50, 51, 0),
                (2, 70, 0, 0),
                (9, 20, 60, 0),
            ],
        ),
    );
    let mut raw = batch(0, 1, 0, &[(7, 30, 0, 0)]);
    raw.extend_from_slice(&[0, 4, 1, 2, 3, 4]);
    add("group_batch", "raw_and_truncated", {
        raw.extend_from_slice(&[8, 0, 40, 0, 120, 0]);
        raw
    });
    out
}

// ---------------------------------------------------------------------------
// group_batch: queues read with `decrypt_batch`, against `decrypt` one by one
// ---------------------------------------------------------------------------

/// The providers the checks run on: the compiled-in backends, each behind the
/// memoising wrapper of `memo.rs` in fuzz builds (whose batch verification
/// is the memoised single one; `SOVA_FUZZ_REAL_PROVIDER=1` turns it off),
/// as they are in `cargo test`.
pub fn checked_providers() -> &'static [&'static dyn CryptoProvider] {
    #[cfg(fuzzing)]
    {
        memo::providers()
    }
    #[cfg(not(fuzzing))]
    {
        sova::provider::all_providers()
    }
}

#[cfg(fuzzing)]
#[path = "memo.rs"]
mod memo;

/// Longest queue `group_batch` builds.
pub const BATCH_MAX_QUEUE: usize = 320;
/// Most edits `group_batch` applies to a queue.
pub const BATCH_MAX_EDITS: usize = 24;
/// The queue lengths the length selector names: around
/// [`sova::groups::BATCH_MIN`] (128, or 8 in fuzzing builds, where short
/// queues take the batch path too) and two batches' worth.
pub const BATCH_LENGTHS: [usize; 4] = [BATCH_MIN - 1, BATCH_MIN, BATCH_MIN + 1, 2 * BATCH_MIN];
/// Queue lengths from a byte are taken modulo this: up to four batches'
/// worth.
const BATCH_ANY_LEN: usize = 4 * BATCH_MIN + 1;

/// The fixed world of `group_batch`.
pub struct BatchFixture {
    /// Genuine messages Bob's device (`fixture().groups[2]`) has not read:
    /// 174 on Alice's first device's chain and 86 on Carol's, interleaved
    /// two to one, in sending order (after the three each of
    /// `fixture().messages`).
    pub pool: Vec<Vec<u8>>,
    /// Messages refused for a reason of their own: a chain Bob does not
    /// hold, another group, the next epoch, the three its owner signed that
    /// break a later check (`fixture().forged`), and the fixture's earlier
    /// messages (Bob's own among them).
    pub odd: Vec<Vec<u8>>,
    /// Starting states: Bob's device at epoch 0, and after the add of
    /// `fixture().ops[0]` (epoch 1: the pool is of the epoch before).
    pub starts: Vec<Group>,
}

/// The `group_batch` fixture, built once.
pub fn batch_fixture() -> &'static BatchFixture {
    static F: OnceLock<BatchFixture> = OnceLock::new();
    F.get_or_init(|| {
        let fx = fixture();
        let mut rng = ChaCha20Rng::from_seed([23; 32]);
        let mut alice = fx.groups[0].clone();
        let mut carol = fx.groups[3].clone();
        let mut pool = Vec::new();
        for i in 0..260usize {
            let text = vec![i as u8; 1 + i % 8];
            let g = if i % 3 == 2 { &mut carol } else { &mut alice };
            pool.push(g.encrypt(&text).unwrap());
        }
        let mut odd = Vec::new();
        let mut other = fx.groups[1].clone();
        other.start_chain(&mut rng, &fx.accounts[1]).unwrap();
        odd.push(other.encrypt(b"unknown chain").unwrap());
        let mut big = fx.slots[5].clone().unwrap();
        if big.needs_chain() {
            big.start_chain(&mut rng, &fx.accounts[0]).unwrap();
        }
        odd.push(big.encrypt(b"another group").unwrap());
        odd.extend(fx.forged.iter().map(|(m, _)| m.clone()));
        odd.extend(fx.messages.iter().map(|(m, _, _)| m.clone()));
        let mut ahead = fx.groups[2].clone();
        assert_eq!(ahead.apply(&fx.ops[0], &fx.known), Ok(Applied::Advanced));
        BatchFixture {
            pool,
            odd,
            starts: vec![fx.groups[2].clone(), ahead],
        }
    })
}

/// `group_batch`: a queue shaped by the input, read by `decrypt_batch` and
/// by `decrypt` one message at a time from the same state, on the same
/// provider: the same results in the same order and the same final state.
///
/// Layout: `head:u8` (bit 0 the starting state, bits 1–2 the provider),
/// `length:u8` (0–3: `BATCH_LENGTHS`; 4–7: the next byte; otherwise the
/// byte itself; both modulo `4 · BATCH_MIN + 1`), `offset:u8` into the pool, `seed:u8` of the
/// batch's generator, then edits of `kind:u8 at:u16 arg:u16 val:u8`
/// (kind modulo 10: swap, duplicate, drop, byte xor, signature bit flip,
/// replace with an odd message, insert one, replace with raw bytes
/// `bytes(600)`, truncate, reverse a range).
pub fn check_group_batch(data: &[u8]) {
    use std::borrow::Cow;
    let fx = fixture();
    let bf = batch_fixture();
    let mut r = Cursor(data);
    let head = r.u8();
    let start = &bf.starts[usize::from(head & 1) % bf.starts.len()];
    let providers = checked_providers();
    let p = providers[usize::from(head >> 1 & 3) % providers.len()];
    let sel = r.u8();
    let len = match sel {
        0..=3 => BATCH_LENGTHS[usize::from(sel)],
        4..=7 => usize::from(r.u8()) % BATCH_ANY_LEN,
        n => usize::from(n) % BATCH_ANY_LEN,
    };
    let offset = usize::from(r.u8());
    let seed = r.u8();
    let mut queue: Vec<Cow<'static, [u8]>> = (0..len)
        .map(|i| Cow::Borrowed(&bf.pool[(offset + i) % bf.pool.len()][..]))
        .collect();
    for _ in 0..BATCH_MAX_EDITS {
        if r.is_empty() {
            break;
        }
        let kind = r.u8() % 10;
        let at = usize::from(r.u16());
        let arg = usize::from(r.u16());
        let val = r.u8();
        let n = queue.len();
        let odd = || Cow::Borrowed(&bf.odd[arg % bf.odd.len()][..]);
        match kind {
            0 if n > 0 => queue.swap(at % n, arg % n),
            1 if n > 0 && n < BATCH_MAX_QUEUE => {
                let m = queue[at % n].clone();
                queue.insert(arg % (n + 1), m);
            }
            2 if n > 0 => {
                queue.remove(at % n);
            }
            3 if n > 0 => {
                let m = queue[at % n].to_mut();
                if !m.is_empty() {
                    let i = arg % m.len();
                    m[i] ^= val | 1;
                }
            }
            4 if n > 0 => {
                // A bit of the signature (the last 64 bytes).
                let m = queue[at % n].to_mut();
                let sig = m.len().saturating_sub(64);
                if m.len() > sig {
                    let bit = arg % ((m.len() - sig) * 8);
                    m[sig + bit / 8] ^= 1 << (bit % 8);
                }
            }
            5 if n > 0 => queue[at % n] = odd(),
            6 if n < BATCH_MAX_QUEUE => queue.insert(at % (n + 1), odd()),
            7 if n > 0 => queue[at % n] = Cow::Owned(r.bytes(600).to_vec()),
            8 if n > 0 => {
                let m = queue[at % n].to_mut();
                m.truncate(arg % (m.len() + 1));
            }
            9 if n > 0 => {
                let (a, b) = (at % n, arg % n);
                queue[a.min(b)..=a.max(b)].reverse();
            }
            _ => {}
        }
    }
    let refs: Vec<&[u8]> = queue.iter().map(|m| &m[..]).collect();
    let mut batched = start.clone();
    let mut rng = ChaCha20Rng::from_seed([seed; 32]);
    let got = batched.decrypt_batch_with(p, &refs, &fx.known, &mut rng);
    let mut single = start.clone();
    let want: Vec<_> = refs
        .iter()
        .map(|m| single.decrypt_with(p, m, &fx.known))
        .collect();
    assert_eq!(got.len(), refs.len(), "one result per message");
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(
            g,
            w,
            "message {i} of {}: batch and one by one differ",
            refs.len()
        );
    }
    assert!(
        batched.to_bytes() == single.to_bytes(),
        "batch and one by one end in different states"
    );
}
