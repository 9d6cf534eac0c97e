//! Checks of groups (spec §12), shared by
//!
//! * the fuzz targets `group_parse` and `group_state_machine`
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
//! binding signs), and epochs never go back.
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
    Applied, ChainOffer, Group, GroupMessage, Member, OpKind, Operation, Role, Welcome,
};
use sova::ratchet::HeaderMode;
use sova::session::{Account, Conversation};

/// The fuzz targets of this file.
pub const TARGETS: [&str; 2] = ["group_parse", "group_state_machine"];

/// The check a target runs.
pub fn check_for(target: &str) -> fn(&[u8]) {
    match target {
        "group_parse" => check_group_parse,
        "group_state_machine" => check_group_state_machine,
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
    Fixture {
        known,
        devices,
        groups,
        messages,
        offers,
        ops,
        welcome,
        state,
        carriers,
    }
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

/// Every parser on one input: no panic, and what parses re-encodes exactly.
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
            _ => &fx.state,
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

/// A sequence of steps on the fixed group; see the module documentation.
pub fn check_group_state_machine(data: &[u8]) {
    let fx = fixture();
    let mut groups = fx.groups.clone();
    let mut c = Cursor(data);
    for _ in 0..16 {
        if c.0.is_empty() {
            break;
        }
        let dev = usize::from(c.u8()) % groups.len();
        let action = c.u8() % 4;
        let pick = usize::from(c.u8());
        let from = usize::from(c.u8()) % fx.devices.len();
        let (at, xor) = (c.u16(), c.u8());
        let before = groups[dev].clone();
        let g = &mut groups[dev];
        match action {
            0 => {
                let (genuine, sender, text) = &fx.messages[pick % fx.messages.len()];
                let wire = tamper(genuine, at, xor);
                match g.decrypt(&wire, &fx.known) {
                    Ok(got) => {
                        assert_eq!(&wire, genuine, "a tampered message was accepted");
                        assert_eq!(&got.plaintext, text);
                        assert_eq!(got.sender_user, fx.devices[*sender].0);
                    }
                    Err(_) => assert_eq!(*g, before, "a refused message changed the state"),
                }
            }
            1 => {
                let (genuine, owner) = &fx.offers[pick % fx.offers.len()];
                let offer = tamper(genuine, at, xor);
                let (u, id) = fx.devices[from];
                match g.accept_chain(&fx.carried(from, &offer), &fx.known) {
                    Ok(()) => {
                        // The binding signs everything up to it; the index
                        // and chain key after it are protected by the
                        // pairwise session that carries the offer (§12.5).
                        let signed = genuine.len() - 4 - 32;
                        assert_eq!(
                            &offer[..signed],
                            &genuine[..signed],
                            "a chain offer with a tampered signed part was accepted"
                        );
                        assert_eq!(fx.devices[*owner], (u, id), "accepted over another session");
                    }
                    Err(_) => assert_eq!(*g, before, "a refused offer changed the state"),
                }
            }
            2 => {
                let genuine = &fx.ops[pick % fx.ops.len()];
                let op = tamper(genuine, at, xor);
                match g.apply(&op, &fx.known) {
                    Ok(r) => {
                        assert_eq!(&op, genuine, "a tampered operation was accepted");
                        if r == Applied::Unchanged {
                            assert_eq!(*g, before);
                        } else {
                            // spec §12.4: an applied operation is never
                            // replaced; only the next epoch is entered.
                            assert_eq!(g.epoch(), before.epoch() + 1, "not the next epoch");
                            assert!(g.needs_chain(), "chains survived a membership change");
                        }
                    }
                    Err(_) => assert_eq!(*g, before, "a refused operation changed the state"),
                }
            }
            _ => {
                let text = [pick as u8; 3];
                match g.encrypt(&text) {
                    Ok(wire) => {
                        // Every other member device that holds the chain reads it.
                        let m = GroupMessage::parse(&wire).unwrap();
                        assert_eq!(m.epoch, before.epoch());
                    }
                    Err(_) => assert_eq!(*g, before, "a refused send changed the state"),
                }
            }
        }
    }
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
    out
}
