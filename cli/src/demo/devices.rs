//! `sova demo --devices`, the devices chapter (spec §11): Alice's two
//! devices talk with Bob's, through a server that stores device lists and
//! bundles and cuts fan-out messages into one message per device.
//!
//! Alice starts with her phone and links her laptop by QR code (the offer,
//! the approval, the response through the server, the six-digit codes);
//! Bob has a phone, a laptop, a tablet and an old phone, which he removes
//! mid-conversation. Then the server turns hostile and tries to add a ghost
//! device: a list it did not sign, a list signed by a key of its own, an old
//! list replayed, a message from a device no list names, the ghost's bundle
//! handed out for one of Bob's devices. Every step prints what crosses the
//! wire and every check a device makes; every forgery must be refused, or
//! the demo fails.
//!
//! Everything is deterministic from `--seed`.

use std::io::Write;

use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use sova::devices::{
    approve_link, fanout, user_identity, DeviceEntry, FanoutError, KnownUser, LinkError,
    LinkRequest, ListChange, ListError, PeerDevices, UserKey,
};
use sova::ratchet::HeaderMode;
use sova::safety::SafetyNumber;
use sova::session::{Account, TYPE_INITIAL};

use super::{check, lib_err, Options};
use crate::{hex_short, Failure};

/// The two people.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Alice,
    Bob,
}

impl Who {
    fn name(self) -> &'static str {
        match self {
            Self::Alice => "Alice",
            Self::Bob => "Bob",
        }
    }

    fn other(self) -> Self {
        match self {
            Self::Alice => Self::Bob,
            Self::Bob => Self::Alice,
        }
    }

    fn index(self) -> usize {
        match self {
            Self::Alice => 0,
            Self::Bob => 1,
        }
    }
}

/// One device: its account, its own user's other devices and the other
/// person's devices (spec §11.7).
struct Device {
    owner: Who,
    id: u32,
    kind: &'static str,
    account: Account,
    own: PeerDevices,
    peer: PeerDevices,
}

/// The demo's state: both user keys, the lists the server stores, every
/// device, and running totals.
struct Demo<'a> {
    rng: ChaCha20Rng,
    keys: [UserKey; 2],
    /// The newest list of each person, as the server stores it.
    server: [Vec<u8>; 2],
    devices: Vec<Device>,
    delivered: usize,
    refused: usize,
    out: &'a mut dyn Write,
}

const I: &str = "    ";

fn entry(id: u32, a: &Account, admin: bool) -> DeviceEntry {
    DeviceEntry {
        device_id: id,
        identity: a.identity_key(),
        admin,
    }
}

fn device_name(owner: Who, kind: &str) -> String {
    format!("{}'s {kind}", owner.name())
}

/// What a pairwise message is, by its type byte.
fn pairwise_kind(m: &[u8]) -> &'static str {
    match m.get(1) {
        Some(&TYPE_INITIAL) => "initial message 0x03",
        Some(0x02) => "ratchet message 0x02",
        Some(0x01) => "ratchet message 0x01",
        _ => "unknown",
    }
}

fn code(c: &[u8; 6]) -> String {
    String::from_utf8_lossy(c).into_owned()
}

/// Runs the devices demo, writing the transcript to `out`.
///
/// # Errors
/// [`Failure::Check`] when a message is not decrypted to what was sent or
/// a forgery of the server is accepted (neither should ever happen);
/// [`Failure::Error`] when the output cannot be written.
pub fn run(opts: &Options, out: &mut dyn Write) -> Result<(), Failure> {
    let mut rng = ChaCha20Rng::seed_from_u64(opts.seed);
    writeln!(
        out,
        "Sova demo: several devices per person (spec §11), seed {}",
        opts.seed
    )?;
    writeln!(out)?;
    let account = |rng: &mut ChaCha20Rng| Account::new(rng).map_err(|x| lib_err("account")(&x));
    let user_key =
        |rng: &mut ChaCha20Rng| UserKey::generate(rng).map_err(|x| lib_err("user key")(&x));

    writeln!(out, "1. User keys and device lists (§11.2, §11.3)")?;
    let alice_uk = user_key(&mut rng)?;
    let bob_uk = user_key(&mut rng)?;
    let alice_phone = account(&mut rng)?;
    let bob_kinds = ["phone", "laptop", "tablet", "old phone"];
    let mut bob_accounts = Vec::new();
    for _ in bob_kinds {
        bob_accounts.push(account(&mut rng)?);
    }
    let alice_list = alice_uk
        .sign_list(1, &[entry(1, &alice_phone, true)])
        .map_err(|x| lib_err("Alice's list")(&x))?;
    let bob_entries: Vec<_> = bob_accounts
        .iter()
        .enumerate()
        .map(|(i, a)| entry(i as u32 + 1, a, i == 0))
        .collect();
    let bob_list = bob_uk
        .sign_list(1, &bob_entries)
        .map_err(|x| lib_err("Bob's list")(&x))?;
    writeln!(
        out,
        "{I}Alice draws her user key UK_A = {}; her phone is device 1 (admin: it holds the seed).",
        hex_short(alice_uk.public(), 8)
    )?;
    writeln!(
        out,
        "{I}Bob draws UK_B = {}; his devices: 1 phone (admin), 2 laptop, 3 tablet, 4 old phone.",
        hex_short(bob_uk.public(), 8)
    )?;
    for (who, l) in [(Who::Alice, &alice_list), (Who::Bob, &bob_list)] {
        writeln!(
            out,
            "{I}{} publishes device list epoch {}: {} device(s), {} bytes, signed by the user key; ListHash {}",
            who.name(),
            l.epoch(),
            l.entries().len(),
            l.to_bytes().len(),
            hex_short(&l.hash(), 8)
        )?;
    }
    let before = SafetyNumber::new(
        &user_identity(alice_uk.public()),
        &user_identity(bob_uk.public()),
    );
    writeln!(
        out,
        "{I}They compare one safety number, of the user keys (§11.2): {}",
        before.groups().collect::<Vec<_>>().join(" ")
    )?;

    // Every device checks every list it fetches against the pinned key.
    let known = |uk: &UserKey, bytes: &[u8]| {
        KnownUser::new(uk.public(), bytes).map_err(|x| lib_err("accepting a list")(&x))
    };
    let mut devices = vec![Device {
        owner: Who::Alice,
        id: 1,
        kind: "phone",
        account: alice_phone,
        own: PeerDevices::own(known(&alice_uk, alice_list.to_bytes())?, 1)
            .map_err(|x| lib_err("own devices")(&x))?,
        peer: PeerDevices::new(known(&bob_uk, bob_list.to_bytes())?),
    }];
    for (i, a) in bob_accounts.into_iter().enumerate() {
        let id = i as u32 + 1;
        devices.push(Device {
            owner: Who::Bob,
            id,
            kind: bob_kinds[i],
            account: a,
            own: PeerDevices::own(known(&bob_uk, bob_list.to_bytes())?, id)
                .map_err(|x| lib_err("own devices")(&x))?,
            peer: PeerDevices::new(known(&alice_uk, alice_list.to_bytes())?),
        });
    }
    writeln!(
        out,
        "{I}Each device fetches both lists: ✓ encoding ✓ the pinned user key ✓ strict Ed25519 signature ✓ ids increasing, identities distinct: accepted at epoch 1."
    )?;
    writeln!(out)?;

    let mut demo = Demo {
        rng,
        keys: [alice_uk, bob_uk],
        server: [alice_list.to_bytes().to_vec(), bob_list.to_bytes().to_vec()],
        devices,
        delivered: 0,
        refused: 0,
        out,
    };
    demo.link_laptop()?;
    demo.talk()?;
    demo.remove_old_phone()?;
    demo.hostile_server()?;

    let after = SafetyNumber::new(
        &user_identity(demo.keys[0].public()),
        &user_identity(demo.keys[1].public()),
    );
    check(
        before.digits() == after.digits(),
        "the safety number changed",
    )?;
    let out = demo.out;
    writeln!(out, "Summary")?;
    writeln!(
        out,
        "{I}{} device messages delivered and decrypted; {} tampered, forged or stale objects refused, each changing nothing.",
        demo.delivered, demo.refused
    )?;
    writeln!(
        out,
        "{I}The safety number is the same as at the start: linking and removing devices did not change it."
    )?;
    writeln!(
        out,
        "{I}Every device message decrypted to exactly what was sent, and no device outside the signed lists got or sent one."
    )?;
    Ok(())
}

impl Demo<'_> {
    fn name(&self, i: usize) -> String {
        self.devices
            .get(i)
            .map_or_else(String::new, |d| device_name(d.owner, d.kind))
    }

    fn index(&self, owner: Who, id: u32) -> Option<usize> {
        self.devices
            .iter()
            .position(|d| d.owner == owner && d.id == id)
    }

    fn device(&mut self, i: usize) -> Result<&mut Device, Failure> {
        self.devices
            .get_mut(i)
            .ok_or_else(|| Failure::Check(format!("no device {i}")))
    }

    /// A refusal the demo expects: prints it and counts it.
    fn refused<T>(
        &mut self,
        what: &str,
        got: Result<T, impl Into<Coded>>,
        want: &str,
    ) -> Result<(), Failure> {
        match got {
            Ok(_) => Err(Failure::Check(format!(
                "self-check failed: {what} was accepted"
            ))),
            Err(e) => {
                let e: Coded = e.into();
                check(e.0 == want, &format!("{what}: {} instead of {want}", e.0))?;
                self.refused += 1;
                writeln!(self.out, "{I}  ✗ refused: {} ({})", e.0, e.1)?;
                Ok(())
            }
        }
    }

    /// 2. Alice links her laptop (spec §11.5).
    fn link_laptop(&mut self) -> Result<(), Failure> {
        writeln!(self.out, "2. Alice links her laptop by QR code (§11.5)")?;
        let laptop = Account::new(&mut self.rng).map_err(|x| lib_err("account")(&x))?;
        let request =
            LinkRequest::new(&laptop, &mut self.rng).map_err(|x| lib_err("link request")(&x))?;
        let offer = request.offer().to_vec();
        writeln!(
            self.out,
            "{I}The laptop creates its account and a link key e_N; its screen shows a QR code:"
        )?;
        writeln!(
            self.out,
            "{I}  LinkOffer, {} bytes: \"SOVA-1 link offer\" || 0x01 || E_N {} || IdentityPublic_N (128)",
            offer.len(),
            hex_short(offer.get(18..50).unwrap_or_default(), 8)
        )?;
        let phone = self.index(Who::Alice, 1).unwrap_or(0);
        let approval = approve_link(
            &self.keys[0],
            self.devices[phone].own.user(),
            &offer,
            false,
            b"contacts: Bob",
            &mut self.rng,
        )
        .map_err(|x| lib_err("approving the link")(&x))?;
        writeln!(
            self.out,
            "{I}Alice's phone scans it: ✓ the laptop's identity binding; signs list epoch {} with the laptop as device {}.",
            approval.list.epoch(),
            approval.device_id
        )?;
        writeln!(
            self.out,
            "{I}  LinkResponse, {} bytes, through the server: E_A || ChaCha20-Poly1305(K, n, AD = T, new list || app data)",
            approval.response.len()
        )?;
        // The server flips a bit of the response on its way.
        let mut tampered = approval.response.clone();
        if let Some(b) = tampered.last_mut() {
            *b ^= 1;
        }
        writeln!(
            self.out,
            "{I}The server flips one bit of the response before delivering it:"
        )?;
        self.refused(
            "a tampered link response",
            request.finish(&tampered),
            "Authentication",
        )?;
        let linked = request
            .finish(&approval.response)
            .map_err(|x| lib_err("finishing the link")(&x))?;
        writeln!(
            self.out,
            "{I}The server delivers the genuine response: ✓ opens under K from DH(e_N, E_A) ✓ the list's signature by its UK ✓ lists the laptop ✓ pins UK_A."
        )?;
        writeln!(
            self.out,
            "{I}  Link code on the phone: {}   on the laptop: {}   (Alice compares them before using the laptop)",
            code(&approval.code),
            code(&linked.code)
        )?;
        check(approval.code == linked.code, "the link codes differ")?;
        check(
            linked.user.user_key() == self.keys[0].public(),
            "the laptop pinned another user key",
        )?;
        writeln!(
            self.out,
            "{I}  The laptop is device {}, not an admin device (no seed sent); app data: {:?}",
            linked.device_id,
            String::from_utf8_lossy(&linked.data)
        )?;
        // The phone publishes the list; every device of Bob fetches it.
        self.server[0] = approval.list.to_bytes().to_vec();
        let list = self.server[0].clone();
        let change = self.devices[phone]
            .own
            .update(&list)
            .map_err(|x| lib_err("the phone's own list")(&x))?;
        writeln!(
            self.out,
            "{I}The phone publishes list epoch 2 ({} bytes); its own view: {}",
            list.len(),
            describe_change(&change)
        )?;
        for d in self.devices.iter_mut().filter(|d| d.owner == Who::Bob) {
            let change = d
                .peer
                .update(&list)
                .map_err(|x| lib_err("Alice's new list")(&x))?;
            writeln!(
                self.out,
                "{I}  {} fetches it: ✓ signed by UK_A ✓ epoch 2 > 1: {}",
                device_name(d.owner, d.kind),
                describe_change(&change)
            )?;
        }
        let bob_list = self.server[1].clone();
        let bob = KnownUser::new(self.keys[1].public(), &bob_list)
            .map_err(|x| lib_err("Bob's list")(&x))?;
        self.devices.push(Device {
            owner: Who::Alice,
            id: linked.device_id,
            kind: "laptop",
            account: laptop,
            own: PeerDevices::own(linked.user, linked.device_id)
                .map_err(|x| lib_err("own devices")(&x))?,
            peer: PeerDevices::new(bob),
        });
        writeln!(
            self.out,
            "{I}  The laptop fetches Bob's list and checks it against UK_B from the contacts: accepted at epoch 1."
        )?;
        writeln!(self.out)?;
        Ok(())
    }

    /// 3. A conversation by fan-out (spec §11.6, §11.7).
    fn talk(&mut self) -> Result<(), Failure> {
        writeln!(
            self.out,
            "3. Alice's two devices talk with Bob's four (§11.6, §11.7)"
        )?;
        let phone = self.index(Who::Alice, 1).unwrap_or(0);
        let parts = self.send(phone, "Hi Bob! I'm on my laptop now too.")?;
        self.deliver_all(&parts, "Hi Bob! I'm on my laptop now too.")?;
        let tablet = self.index(Who::Bob, 3).unwrap_or(0);
        let parts = self.send(tablet, "Welcome, laptop. Writing from my tablet.")?;
        self.deliver_all(&parts, "Welcome, laptop. Writing from my tablet.")?;
        let laptop = self.index(Who::Alice, 2).unwrap_or(0);
        let parts = self.send(laptop, "Both my devices read you.")?;
        self.deliver_all(&parts, "Both my devices read you.")?;
        writeln!(self.out)?;
        Ok(())
    }

    /// 4. Bob removes his old phone mid-conversation (spec §11.7).
    fn remove_old_phone(&mut self) -> Result<(), Failure> {
        writeln!(
            self.out,
            "4. Bob removes his old phone mid-conversation (§11.4, §11.7)"
        )?;
        let old = self.index(Who::Bob, 4).unwrap_or(0);
        // The old phone writes; the server holds the message back.
        let late = self.send(old, "Sent from my old phone.")?;
        let alice_phone = self.index(Who::Alice, 1).unwrap_or(0);
        let bob_phone = self.index(Who::Bob, 1).unwrap_or(0);
        let entries: Vec<DeviceEntry> = self.devices[bob_phone]
            .own
            .user()
            .list()
            .entries()
            .iter()
            .filter(|e| e.device_id != 4)
            .copied()
            .collect();
        let list = self.keys[1]
            .sign_list(2, &entries)
            .map_err(|x| lib_err("Bob's new list")(&x))?;
        self.server[1] = list.to_bytes().to_vec();
        let list = self.server[1].clone();
        writeln!(
            self.out,
            "{I}Bob's phone signs list epoch 2 without device 4 ({} bytes) and publishes it.",
            list.len()
        )?;
        {
            for d in self.devices.iter_mut().filter(|d| d.owner == Who::Alice) {
                let had = d.peer.conversation(4).is_some();
                let change = d
                    .peer
                    .update(&list)
                    .map_err(|x| lib_err("Bob's new list")(&x))?;
                check(
                    d.peer.conversation(4).is_none(),
                    "a removed device kept its conversation",
                )?;
                writeln!(
                    self.out,
                    "{I}  {} fetches it: ✓ signed by UK_B ✓ epoch 2 > 1: {}; conversation with Bob's device 4 {}",
                    device_name(d.owner, d.kind),
                    describe_change(&change),
                    if had { "deleted" } else { "(none held)" }
                )?;
            }
        }
        for i in [bob_phone, old] {
            let d = self.device(i)?;
            let change = d
                .own
                .update(&list)
                .map_err(|x| lib_err("Bob's new list")(&x))?;
            let (name, listed) = (device_name(d.owner, d.kind), d.own.is_listed());
            writeln!(
                self.out,
                "{I}  {name} accepts it: {}{}",
                describe_change(&change),
                if listed {
                    ""
                } else {
                    "; it is no longer listed and stops sending"
                }
            )?;
        }
        // The held-back message arrives at Alice's phone.
        let held = late
            .iter()
            .find(|p| p.0 == fanout::Audience::Recipient && p.1 == 1)
            .map(|p| p.2.clone())
            .unwrap_or_default();
        writeln!(
            self.out,
            "{I}The server now delivers the old phone's held-back message to Alice's phone ({} bytes):",
            held.len()
        )?;
        let got = self.receive(alice_phone, &held);
        self.refused("a message from a removed device", got, "UnknownDevice")?;
        // Bob's laptop has not fetched the new list yet.
        let parts = self.send(alice_phone, "Got it, only three of yours now.")?;
        check(
            !parts
                .iter()
                .any(|p| p.0 == fanout::Audience::Recipient && p.1 == 4),
            "an entry for the removed device",
        )?;
        self.deliver_all(&parts, "Got it, only three of yours now.")?;
        writeln!(self.out)?;
        Ok(())
    }

    /// 5. The server tries to add a ghost device (spec §11.1).
    fn hostile_server(&mut self) -> Result<(), Failure> {
        writeln!(
            self.out,
            "5. The server tries to add a ghost device to Bob (§11.1)"
        )?;
        let ghost = Account::new(&mut self.rng).map_err(|x| lib_err("account")(&x))?;
        let alice_phone = self.index(Who::Alice, 1).unwrap_or(0);
        let current = self.server[1].clone();
        // (a) Bob's list with the ghost appended, epoch + 1, the old signature.
        let mut unsigned = current
            .get(..current.len().saturating_sub(64))
            .unwrap_or_default()
            .to_vec();
        let epoch_at = 14 + 1 + 32;
        if let Some(e) = unsigned.get_mut(epoch_at..epoch_at + 8) {
            e.copy_from_slice(&3u64.to_be_bytes());
        }
        if let Some(c) = unsigned.get_mut(epoch_at + 8) {
            *c += 1;
        }
        unsigned.extend_from_slice(&9u32.to_be_bytes());
        unsigned.extend_from_slice(&ghost.identity_key());
        unsigned.push(0);
        unsigned.extend_from_slice(
            current
                .get(current.len().saturating_sub(64)..)
                .unwrap_or_default(),
        );
        writeln!(
            self.out,
            "{I}(a) Bob's list with a ghost device 9 added, epoch 3, Bob's old signature kept ({} bytes):",
            unsigned.len()
        )?;
        let got = self.devices[alice_phone].peer.update(&unsigned);
        self.refused("an unsigned list", got, "InvalidSignature")?;
        // (b) The same list signed by a key of the server's own.
        let server_key = UserKey::generate(&mut self.rng).map_err(|x| lib_err("key")(&x))?;
        let mut entries: Vec<DeviceEntry> = self.devices[alice_phone]
            .peer
            .user()
            .list()
            .entries()
            .to_vec();
        entries.push(entry(9, &ghost, false));
        let other = server_key
            .sign_list(3, &entries)
            .map_err(|x| lib_err("the ghost list")(&x))?;
        writeln!(
            self.out,
            "{I}(b) The same devices in a list signed by the server's own key, {}:",
            hex_short(server_key.public(), 8)
        )?;
        let got = self.devices[alice_phone].peer.update(other.to_bytes());
        self.refused("a list of another user key", got, "WrongUser")?;
        // (c) Bob's old list, which still had the old phone.
        let old_list = self.old_bob_list()?;
        writeln!(
            self.out,
            "{I}(c) Bob's epoch-1 list replayed, to bring back the removed old phone:"
        )?;
        let got = self.devices[alice_phone].peer.update(&old_list);
        self.refused("an old list", got, "Rollback")?;
        check(
            self.devices[alice_phone].peer.user().list().epoch() == 2,
            "Alice's view of Bob moved",
        )?;
        // (d) The ghost's bundle handed out as Bob's laptop's.
        let ghost_bundle = ghost
            .bundle(None, None)
            .map_err(|x| lib_err("bundle")(&x))?
            .to_bytes();
        writeln!(
            self.out,
            "{I}(d) Asked for Bob's laptop's bundle, the server hands out the ghost's ({} bytes):",
            ghost_bundle.len()
        )?;
        let rng = &mut self.rng;
        let d = self
            .devices
            .get_mut(alice_phone)
            .ok_or_else(|| Failure::Check("no phone".into()))?;
        let got = d
            .peer
            .start(&d.account, 2, &ghost_bundle, HeaderMode::Encrypted, rng);
        let got = got.map(|_| ());
        self.refused("the ghost's bundle for a listed device", got, "Start")?;
        writeln!(
            self.out,
            "{I}    (the bundle is of another identity than the listed one: UnexpectedPeer, §7.4)"
        )?;
        // (e) A message from Bob's phone re-addressed as from device 9.
        let bob_phone = self.index(Who::Bob, 1).unwrap_or(0);
        let parts = self.send_quiet(bob_phone, "Lunch on Friday?")?;
        let genuine = parts
            .iter()
            .find(|p| p.0 == fanout::Audience::Recipient && p.1 == 1)
            .map(|p| p.2.clone())
            .unwrap_or_default();
        let mut ghost_msg = genuine.clone();
        if let Some(id) = ghost_msg.get_mut(2 + 32..2 + 32 + 4) {
            id.copy_from_slice(&9u32.to_be_bytes());
        }
        writeln!(
            self.out,
            "{I}(e) A message to Alice's phone whose header names Bob's device 9, which no list of Bob's has:"
        )?;
        let got = self.receive(alice_phone, &ghost_msg);
        self.refused("a message from an unlisted device", got, "UnknownDevice")?;
        // (f) The same message under the server's own user key.
        let mut other_user = genuine.clone();
        if let Some(uk) = other_user.get_mut(2..2 + 32) {
            uk.copy_from_slice(server_key.public());
        }
        writeln!(
            self.out,
            "{I}(f) The same message claiming the server's own user key as the sender:"
        )?;
        let got = self.receive(alice_phone, &other_user);
        self.refused("a message of an unknown person", got, "UnknownUser")?;
        writeln!(
            self.out,
            "{I}Nothing changed on Alice's phone: the genuine message still decrypts."
        )?;
        let got = self
            .receive(alice_phone, &genuine)
            .map_err(|x| lib_err("the genuine message")(&x))?;
        check(got.plaintext == b"Lunch on Friday?", "the genuine message")?;
        self.delivered += 1;
        writeln!(
            self.out,
            "{I}  Alice's phone reads \"{}\" from Bob's phone",
            String::from_utf8_lossy(&got.plaintext)
        )?;
        writeln!(self.out)?;
        Ok(())
    }

    /// Bob's epoch-1 list, re-signed identically (Ed25519 is deterministic).
    fn old_bob_list(&mut self) -> Result<Vec<u8>, Failure> {
        let mut entries = Vec::new();
        for id in 1..=4 {
            if let Some(i) = self.index(Who::Bob, id) {
                entries.push(entry(id, &self.devices[i].account, id == 1));
            }
        }
        let l = self.keys[1]
            .sign_list(1, &entries)
            .map_err(|x| lib_err("Bob's old list")(&x))?;
        Ok(l.to_bytes().to_vec())
    }

    /// Starts the sessions device `i` lacks, from bundles the server hands
    /// out (each checked against the listed identity).
    fn start_sessions(&mut self, i: usize, quiet: bool) -> Result<(), Failure> {
        let owner = self.devices[i].owner;
        let mut wanted: Vec<(Who, u32)> = self.devices[i]
            .peer
            .needs_bundle()
            .into_iter()
            .map(|id| (owner.other(), id))
            .collect();
        wanted.extend(
            self.devices[i]
                .own
                .needs_bundle()
                .into_iter()
                .map(|id| (owner, id)),
        );
        if wanted.is_empty() {
            return Ok(());
        }
        let mut names = Vec::new();
        for (who, id) in wanted {
            let j = self
                .index(who, id)
                .ok_or_else(|| Failure::Check(format!("no device {id} of {}", who.name())))?;
            let bundle = self.devices[j]
                .account
                .bundle(None, None)
                .map_err(|x| lib_err("bundle")(&x))?
                .to_bytes();
            names.push(self.name(j));
            let rng = &mut self.rng;
            let d = &mut self.devices[i];
            let devs = if who == owner {
                &mut d.own
            } else {
                &mut d.peer
            };
            devs.start(&d.account, id, &bundle, HeaderMode::Encrypted, rng)
                .map_err(|x| lib_err("starting a session")(&x))?;
        }
        if !quiet {
            writeln!(
                self.out,
                "{I}  first contact: bundles of {} fetched, each checked against the listed identity; sessions started (§7.4)",
                names.join(", ")
            )?;
        }
        Ok(())
    }

    fn send_quiet(
        &mut self,
        i: usize,
        text: &str,
    ) -> Result<Vec<(fanout::Audience, u32, Vec<u8>)>, Failure> {
        self.start_sessions(i, true)?;
        let rng = &mut self.rng;
        let d = &mut self.devices[i];
        let wire = PeerDevices::send(&mut d.own, &mut d.peer, text.as_bytes(), rng)
            .map_err(|x| lib_err("fan-out")(&x))?;
        fanout::split(&wire).map_err(|x| lib_err("splitting")(&x))
    }

    /// Device `i` sends `text` to the other person and its own other
    /// devices; prints the fan-out message and the server's cut.
    fn send(
        &mut self,
        i: usize,
        text: &str,
    ) -> Result<Vec<(fanout::Audience, u32, Vec<u8>)>, Failure> {
        let name = self.name(i);
        writeln!(self.out, "{I}{name} sends {text:?}")?;
        self.start_sessions(i, false)?;
        let rng = &mut self.rng;
        let d = &mut self.devices[i];
        let (own_epoch, peer_epoch) = (d.own.user().list().epoch(), d.peer.user().list().epoch());
        let wire = PeerDevices::send(&mut d.own, &mut d.peer, text.as_bytes(), rng)
            .map_err(|x| lib_err("fan-out")(&x))?;
        let parts = fanout::split(&wire).map_err(|x| lib_err("splitting")(&x))?;
        // A device message: header || u32(len) || body || kind, id, u32(len), pairwise.
        let body = parts.first().map_or(0, |p| {
            fanout::DeviceMessage::parse(&p.2).map_or(0, |m| {
                p.2.len() - fanout::FANOUT_HEADER_LEN - 4 - 9 - m.pairwise.len()
            })
        });
        writeln!(
            self.out,
            "{I}  FanoutMessage 0x20, {} bytes: header {} (lists: own epoch {own_epoch}, recipient's epoch {peer_epoch}), body {body} (encrypted once), {} entries",
            wire.len(),
            fanout::FANOUT_HEADER_LEN,
            parts.len()
        )?;
        let owner = self.devices[i].owner;
        for (audience, id, m) in &parts {
            let who = match audience {
                fanout::Audience::Recipient => owner.other(),
                fanout::Audience::OwnDevice => owner,
            };
            let j = self.index(who, *id).unwrap_or(0);
            let pairwise = fanout::DeviceMessage::parse(m)
                .map(|d| d.pairwise.to_vec())
                .unwrap_or_default();
            writeln!(
                self.out,
                "{I}    → {}: {}-byte {} carrying the 65-byte key message",
                self.name(j),
                pairwise.len(),
                pairwise_kind(&pairwise)
            )?;
        }
        Ok(parts)
    }

    /// Device `i` receives a device message (routed by the sender's user key).
    fn receive(&mut self, i: usize, m: &[u8]) -> Result<fanout::FanoutReceived, FanoutError> {
        let msg = fanout::DeviceMessage::parse(m).map_err(FanoutError::Malformed)?;
        let d = self.devices.get_mut(i).ok_or(FanoutError::UnknownDevice)?;
        if msg.header.sender_user == *d.own.user().user_key() {
            d.own.receive_own(&mut d.account, &msg)
        } else {
            d.peer.receive(d.own.user(), &mut d.account, &msg)
        }
    }

    /// The server delivers each part; a device that finds the sender's list
    /// newer than its own fetches it first (`StaleDeviceList`).
    fn deliver_all(
        &mut self,
        parts: &[(fanout::Audience, u32, Vec<u8>)],
        text: &str,
    ) -> Result<(), Failure> {
        let sender_owner = parts
            .first()
            .and_then(|p| fanout::DeviceMessage::parse(&p.2).ok())
            .map(|m| {
                if &m.header.sender_user == self.keys[0].public() {
                    Who::Alice
                } else {
                    Who::Bob
                }
            })
            .unwrap_or(Who::Alice);
        for (audience, id, m) in parts {
            let who = match audience {
                fanout::Audience::Recipient => sender_owner.other(),
                fanout::Audience::OwnDevice => sender_owner,
            };
            let Some(j) = self.index(who, *id) else {
                return Err(Failure::Check(format!("no device {id}")));
            };
            let name = self.name(j);
            let mut got = self.receive(j, m);
            if got == Err(FanoutError::List(ListError::StaleDeviceList)) {
                writeln!(
                    self.out,
                    "{I}  {name}: the message names a newer device list than it holds: StaleDeviceList"
                )?;
                let d = self.device(j)?;
                let (mine, theirs) = (d.owner, d.owner.other());
                let own_list = self.server[mine.index()].clone();
                let their_list = self.server[theirs.index()].clone();
                let d = self.device(j)?;
                let own_change = d
                    .own
                    .update(&own_list)
                    .map_err(|x| lib_err("fetching a list")(&x))?;
                let their_change = d
                    .peer
                    .update(&their_list)
                    .map_err(|x| lib_err("fetching a list")(&x))?;
                writeln!(
                    self.out,
                    "{I}    it fetches the lists from the server (✓ signed ✓ not older): {}'s {}, {}'s {}; and retries",
                    mine.name(),
                    describe_change(&own_change),
                    theirs.name(),
                    describe_change(&their_change)
                )?;
                got = self.receive(j, m);
            }
            let got = got.map_err(|x| lib_err("receiving")(&x))?;
            check(got.plaintext == text.as_bytes(), "a plaintext differs")?;
            self.delivered += 1;
            writeln!(
                self.out,
                "{I}  {name} ✓ known user key ✓ list epoch and hash ✓ device {} listed ✓ pairwise message ✓ digest ✓ body{}",
                got.sender_device,
                if got.recipient_list_current {
                    ""
                } else {
                    " (sent to an older list of ours)"
                }
            )?;
        }
        writeln!(self.out, "{I}  every device read {text:?}")?;
        Ok(())
    }
}

fn describe_change(c: &ListChange) -> String {
    match c {
        ListChange::Unchanged => "unchanged".into(),
        ListChange::Accepted { added, removed } => {
            let ids = |v: &Vec<u32>| v.iter().map(u32::to_string).collect::<Vec<_>>().join(", ");
            match (added.is_empty(), removed.is_empty()) {
                (true, true) => "accepted".into(),
                (false, true) => format!("accepted, device {} added", ids(added)),
                (true, false) => format!("accepted, device {} removed", ids(removed)),
                (false, false) => format!(
                    "accepted, device {} added, {} removed",
                    ids(added),
                    ids(removed)
                ),
            }
        }
        _ => "accepted".into(),
    }
}

/// An error's stable code and message.
struct Coded(&'static str, String);

impl From<ListError> for Coded {
    fn from(e: ListError) -> Self {
        Coded(e.code(), e.to_string())
    }
}

impl From<LinkError> for Coded {
    fn from(e: LinkError) -> Self {
        Coded(e.code(), e.to_string())
    }
}

impl From<FanoutError> for Coded {
    fn from(e: FanoutError) -> Self {
        Coded(e.code(), e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn several_seeds_run_clean() {
        for seed in 0..4 {
            let mut out = Vec::new();
            let opts = Options {
                seed,
                trace: false,
                header_encryption: false,
                messages: 8,
                devices: true,
                group: false,
            };
            run(&opts, &mut out).unwrap();
            let s = String::from_utf8(out).unwrap();
            assert!(s.contains("every device read"), "{s}");
        }
    }
}
