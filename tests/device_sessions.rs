//! Sessions per device (spec §11.7) through [`PeerDevices`]: one
//! conversation per listed device, started from bundles, made on a first
//! message, and deleted when a list removes the device or gives its id to
//! another identity; a device that comes back starts afresh; a hostile
//! server cannot get a conversation made for a device the list does not
//! name.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use rand_chacha::{rand_core::SeedableRng, ChaCha20Rng};
use sova::devices::{
    fanout, DeviceEntry, DeviceList, FanoutError, KnownUser, ListChange, ListError, PeerDevices,
    UserKey,
};
use sova::ratchet::HeaderMode;
use sova::session::{Account, ConversationError, StartError};

fn rng(seed: u8) -> ChaCha20Rng {
    ChaCha20Rng::from_seed([seed; 32])
}

fn entry(id: u32, a: &Account) -> DeviceEntry {
    DeviceEntry {
        device_id: id,
        identity: a.identity_key(),
        admin: id == 1,
    }
}

/// One device: its account and id, its own user's other devices and the
/// other person's devices.
struct Device {
    account: Account,
    id: u32,
    own: PeerDevices,
    peer: PeerDevices,
}

struct Person {
    uk: UserKey,
    accounts: Vec<(u32, Account)>,
    list: DeviceList,
}

fn person(r: &mut ChaCha20Rng, n: u32) -> Person {
    let uk = UserKey::generate(r).unwrap();
    let accounts: Vec<(u32, Account)> = (1..=n).map(|id| (id, Account::new(r).unwrap())).collect();
    let entries: Vec<_> = accounts.iter().map(|(id, a)| entry(*id, a)).collect();
    let list = uk.sign_list(1, &entries).unwrap();
    Person { uk, accounts, list }
}

/// Every device of `p`, knowing `p`'s list and `other`'s.
fn devices(p: Person, other: &DeviceList) -> Vec<Device> {
    p.accounts
        .into_iter()
        .map(|(id, account)| Device {
            account,
            id,
            own: PeerDevices::own(KnownUser::from_list(p.list.clone()), id).unwrap(),
            peer: PeerDevices::new(KnownUser::from_list(other.clone())),
        })
        .collect()
}

/// A device's bundle (what the server hands out for it).
fn bundle(devices: &mut [Device], id: u32) -> Vec<u8> {
    let d = devices.iter_mut().find(|d| d.id == id).unwrap();
    d.account.bundle(None, None).unwrap().to_bytes()
}

/// Starts every session `from` needs, from the bundles of `peers` and of
/// its own user's other devices.
fn start_all(r: &mut ChaCha20Rng, from: &mut [Device], i: usize, peers: &mut [Device]) {
    for id in from[i].peer.needs_bundle() {
        let b = bundle(peers, id);
        let d = &mut from[i];
        d.peer
            .start(&d.account, id, &b, HeaderMode::Encrypted, &mut *r)
            .unwrap();
    }
    for id in from[i].own.needs_bundle() {
        let b = bundle(from, id);
        let d = &mut from[i];
        d.own
            .start(&d.account, id, &b, HeaderMode::Encrypted, &mut *r)
            .unwrap();
    }
}

fn send(r: &mut ChaCha20Rng, d: &mut Device, text: &[u8]) -> Vec<(fanout::Audience, u32, Vec<u8>)> {
    let wire = PeerDevices::send(&mut d.own, &mut d.peer, text, r).unwrap();
    fanout::split(&wire).unwrap()
}

/// Delivers a device message to `to`: from the other person (`Recipient`)
/// or from one of its own user's devices (`OwnDevice`).
fn deliver(to: &mut Device, m: &[u8]) -> Result<fanout::FanoutReceived, FanoutError> {
    let msg = fanout::DeviceMessage::parse(m).map_err(FanoutError::Malformed)?;
    match msg.audience {
        fanout::Audience::Recipient => to.peer.receive(to.own.user(), &mut to.account, &msg),
        fanout::Audience::OwnDevice => to.own.receive_own(&mut to.account, &msg),
    }
}

/// Delivers every part of a fan-out to its device; returns how many
/// devices read `text`.
fn deliver_all(
    parts: &[(fanout::Audience, u32, Vec<u8>)],
    sender_side: &mut [Device],
    other_side: &mut [Device],
    text: &[u8],
) -> usize {
    let mut n = 0;
    for (audience, id, m) in parts {
        let side: &mut [Device] = match audience {
            fanout::Audience::Recipient => other_side,
            fanout::Audience::OwnDevice => sender_side,
        };
        let d = side.iter_mut().find(|d| d.id == *id).unwrap();
        assert_eq!(deliver(d, m).unwrap().plaintext, text);
        n += 1;
    }
    n
}

fn setup(seed: u8) -> (ChaCha20Rng, Person, Person) {
    let mut r = rng(seed);
    let alice = person(&mut r, 2);
    let bob = person(&mut r, 3);
    (r, alice, bob)
}

#[test]
fn one_conversation_per_listed_device_started_from_bundles_or_on_arrival() {
    let (mut r, alice, bob) = setup(1);
    let (alice_list, bob_list) = (alice.list.clone(), bob.list.clone());
    let mut a = devices(alice, &bob_list);
    let mut b = devices(bob, &alice_list);

    // Alice's phone needs a bundle for each of Bob's three devices and for
    // her laptop; without them nothing is sent.
    assert_eq!(a[0].peer.needs_bundle(), vec![1, 2, 3]);
    assert_eq!(a[0].own.needs_bundle(), vec![2]);
    assert_eq!(
        {
            let d = &mut a[0];
            PeerDevices::send(&mut d.own, &mut d.peer, b"x", &mut r).unwrap_err()
        },
        FanoutError::NoSession(1)
    );
    start_all(&mut r, &mut a, 0, &mut b);
    assert!(a[0].peer.needs_bundle().is_empty());
    let parts = send(&mut r, &mut a[0], b"hello Bob");
    assert_eq!(parts.len(), 4);
    assert_eq!(deliver_all(&parts, &mut a, &mut b, b"hello Bob"), 4);
    // Each receiver now holds exactly one conversation, with Alice's phone.
    for d in &b {
        assert_eq!(
            d.peer.conversations().map(|(id, _)| id).collect::<Vec<_>>(),
            vec![1]
        );
        assert_eq!(
            d.peer.conversation(1).unwrap().peer(),
            &alice_list.device(1).unwrap().identity
        );
    }
    assert!(a[1].own.conversation(1).is_some());

    // Bob's tablet answers on sessions of its own; Alice's phone answers
    // back on the sessions it started, which the answers confirmed.
    start_all(&mut r, &mut b, 2, &mut a);
    let parts = send(&mut r, &mut b[2], b"hi from the tablet");
    assert_eq!(
        deliver_all(&parts, &mut b, &mut a, b"hi from the tablet"),
        4
    );
    let parts = send(&mut r, &mut a[0], b"again");
    assert_eq!(deliver_all(&parts, &mut a, &mut b, b"again"), 4);
}

#[test]
fn a_removed_device_loses_its_conversation_and_a_returning_one_starts_afresh() {
    let (mut r, alice, bob) = setup(2);
    let (alice_list, bob_list) = (alice.list.clone(), bob.list.clone());
    let bob_uk = bob.uk.clone();
    let mut a = devices(alice, &bob_list);
    let mut b = devices(bob, &alice_list);
    start_all(&mut r, &mut a, 0, &mut b);
    let parts = send(&mut r, &mut a[0], b"one");
    deliver_all(&parts, &mut a, &mut b, b"one");
    start_all(&mut r, &mut b, 1, &mut a);
    // Bob's laptop (device 2) writes; the server holds the message back.
    let late = send(&mut r, &mut b[1], b"from the laptop");

    // Bob removes his laptop (epoch 2).
    let l2 = bob_uk
        .sign_list(2, &[entry(1, &b[0].account), entry(3, &b[2].account)])
        .unwrap();
    assert_eq!(
        a[0].peer.update(l2.to_bytes()).unwrap(),
        ListChange::Accepted {
            added: vec![],
            removed: vec![2]
        }
    );
    assert!(a[0].peer.conversation(2).is_none());
    assert!(a[0].peer.needs_bundle().is_empty());
    // Nothing is sent to it any more: two of Bob's devices, Alice's laptop.
    let parts = send(&mut r, &mut a[0], b"two");
    assert_eq!(parts.len(), 3);
    assert!(!parts
        .iter()
        .any(|p| p.0 == fanout::Audience::Recipient && p.1 == 2));
    // Its held-back message is refused, and no conversation is made.
    let to_phone = &late
        .iter()
        .find(|p| p.0 == fanout::Audience::Recipient && p.1 == 1)
        .unwrap()
        .2;
    assert_eq!(
        deliver(&mut a[0], to_phone).unwrap_err(),
        FanoutError::UnknownDevice
    );
    assert!(a[0].peer.conversation(2).is_none());
    // The server replays the old list to bring it back: a rollback, and the
    // conversation stays deleted.
    assert_eq!(
        a[0].peer.update(bob_list.to_bytes()).unwrap_err(),
        ListError::Rollback
    );
    assert!(a[0].peer.conversation(2).is_none());

    // Bob lists the laptop again (epoch 3, same identity): a new device to
    // Alice, which needs a fresh bundle; its old session is gone, so even
    // its old message does not decrypt.
    let l3 = bob_uk
        .sign_list(
            3,
            &[
                entry(1, &b[0].account),
                entry(2, &b[1].account),
                entry(3, &b[2].account),
            ],
        )
        .unwrap();
    assert_eq!(
        a[0].peer.update(l3.to_bytes()).unwrap(),
        ListChange::Accepted {
            added: vec![2],
            removed: vec![]
        }
    );
    assert_eq!(a[0].peer.needs_bundle(), vec![2]);
    assert!(matches!(
        deliver(&mut a[0], to_phone).unwrap_err(),
        FanoutError::Pairwise(ConversationError::Decrypt(_))
    ));
    assert!(a[0].peer.conversation(2).is_none());
    for d in &mut b {
        d.own.update(l2.to_bytes()).unwrap();
        d.own.update(l3.to_bytes()).unwrap();
    }
    start_all(&mut r, &mut a, 0, &mut b);
    let parts = send(&mut r, &mut a[0], b"welcome back");
    assert_eq!(parts.len(), 4);
    assert_eq!(deliver_all(&parts, &mut a, &mut b, b"welcome back"), 4);
}

#[test]
fn a_reused_id_with_a_new_identity_is_a_new_device() {
    let (mut r, alice, bob) = setup(3);
    let (alice_list, bob_list) = (alice.list.clone(), bob.list.clone());
    let bob_uk = bob.uk.clone();
    let mut a = devices(alice, &bob_list);
    let mut b = devices(bob, &alice_list);
    start_all(&mut r, &mut a, 0, &mut b);
    let parts = send(&mut r, &mut a[0], b"one");
    deliver_all(&parts, &mut a, &mut b, b"one");
    // The old tablet (device 3) writes before it is replaced.
    start_all(&mut r, &mut b, 2, &mut a);
    let old = send(&mut r, &mut b[2], b"old tablet");

    // Bob's list gives id 3 to a new tablet.
    let new_tablet = Account::new(&mut r).unwrap();
    let l2 = bob_uk
        .sign_list(
            2,
            &[
                entry(1, &b[0].account),
                entry(2, &b[1].account),
                entry(3, &new_tablet),
            ],
        )
        .unwrap();
    let old_conversation = a[0].peer.conversation(3).unwrap().to_bytes();
    assert_eq!(
        a[0].peer.update(l2.to_bytes()).unwrap(),
        ListChange::Accepted {
            added: vec![3],
            removed: vec![3]
        }
    );
    assert!(a[0].peer.conversation(3).is_none());
    assert_eq!(a[0].peer.needs_bundle(), vec![3]);
    // The old conversation cannot be put back, nor a session started from
    // the old tablet's bundle (the server handing it out): both are bound
    // to another identity than the listed one.
    let restored = sova::session::Conversation::from_bytes(&old_conversation).unwrap();
    assert_eq!(
        a[0].peer.insert(3, restored).unwrap_err(),
        FanoutError::UnlistedDevice(3)
    );
    let old_bundle = bundle(&mut b, 3);
    let d = &mut a[0];
    assert_eq!(
        d.peer
            .start(&d.account, 3, &old_bundle, HeaderMode::Encrypted, &mut r)
            .unwrap_err(),
        FanoutError::Start(StartError::UnexpectedPeer)
    );
    assert!(d.peer.conversation(3).is_none());
    // The old tablet's message does not decrypt on the new device's
    // (fresh, empty) conversation, and leaves none behind.
    let to_phone = &old
        .iter()
        .find(|p| p.0 == fanout::Audience::Recipient && p.1 == 1)
        .unwrap()
        .2;
    let account_before = a[0].account.to_bytes();
    assert!(matches!(
        deliver(&mut a[0], to_phone).unwrap_err(),
        FanoutError::Pairwise(ConversationError::Decrypt(_) | ConversationError::OtherPeer)
    ));
    assert!(a[0].peer.conversation(3).is_none());
    assert_eq!(a[0].account.to_bytes(), account_before);
    // The new tablet gets its own session.
    let nb = new_tablet.bundle(None, None).unwrap().to_bytes();
    let d = &mut a[0];
    d.peer
        .start(&d.account, 3, &nb, HeaderMode::Encrypted, &mut r)
        .unwrap();
    assert_eq!(
        d.peer.conversation(3).unwrap().peer(),
        &new_tablet.identity_key()
    );
    let parts = send(&mut r, &mut a[0], b"hello new tablet");
    assert_eq!(parts.len(), 4);
    let mut new_tablet = Device {
        account: new_tablet,
        id: 3,
        own: PeerDevices::own(KnownUser::from_list(l2.clone()), 3).unwrap(),
        peer: PeerDevices::new(KnownUser::from_list(alice_list.clone())),
    };
    let m = &parts
        .iter()
        .find(|p| p.0 == fanout::Audience::Recipient && p.1 == 3)
        .unwrap()
        .2;
    assert_eq!(
        deliver(&mut new_tablet, m).unwrap().plaintext,
        b"hello new tablet"
    );
}

#[test]
fn a_hostile_server_gets_no_conversation_for_a_ghost() {
    let (mut r, alice, bob) = setup(4);
    let (alice_list, bob_list) = (alice.list.clone(), bob.list.clone());
    let alice_uk = alice.uk.clone();
    let mut a = devices(alice, &bob_list);
    let mut b = devices(bob, &alice_list);
    start_all(&mut r, &mut a, 0, &mut b);
    let parts = send(&mut r, &mut a[0], b"one");
    deliver_all(&parts, &mut a, &mut b, b"one");

    // A ghost list (another user key) is refused; conversations stay.
    let ghost = Account::new(&mut r).unwrap();
    let other = UserKey::generate(&mut r).unwrap();
    let forged = other
        .sign_list(2, &[entry(1, &b[0].account), entry(4, &ghost)])
        .unwrap();
    assert_eq!(
        a[0].peer.update(forged.to_bytes()).unwrap_err(),
        ListError::WrongUser
    );
    assert_eq!(a[0].peer.conversations().count(), 3);
    // No session can be started with an unlisted device, nor with this
    // device itself among its own user's devices.
    let gb = ghost.bundle(None, None).unwrap().to_bytes();
    let d = &mut a[0];
    assert_eq!(
        d.peer
            .start(&d.account, 4, &gb, HeaderMode::Encrypted, &mut r)
            .unwrap_err(),
        FanoutError::UnlistedDevice(4)
    );
    let own_bundle = d.account.bundle(None, None).unwrap().to_bytes();
    assert_eq!(
        d.own
            .start(&d.account, 1, &own_bundle, HeaderMode::Encrypted, &mut r)
            .unwrap_err(),
        FanoutError::UnlistedDevice(1)
    );
    assert!(PeerDevices::own(KnownUser::from_list(alice_list.clone()), 9).is_err());

    // A message from Alice's phone re-addressed as from device 7, which her
    // list does not name: refused at check 4, no conversation made.
    let parts2 = send(&mut r, &mut a[0], b"two");
    let m2 = &parts2
        .iter()
        .find(|p| p.0 == fanout::Audience::Recipient && p.1 == 1)
        .unwrap()
        .2;
    let mut unlisted = m2.clone();
    unlisted[2 + 32..2 + 32 + 4].copy_from_slice(&7u32.to_be_bytes());
    let account_before = b[0].account.to_bytes();
    assert_eq!(
        deliver(&mut b[0], &unlisted).unwrap_err(),
        FanoutError::UnknownDevice
    );
    assert!(b[0].peer.conversation(7).is_none());
    assert_eq!(b[0].account.to_bytes(), account_before);
    // Alice's laptop gets a message claiming to come from itself.
    let to_laptop = &parts2
        .iter()
        .find(|p| p.0 == fanout::Audience::OwnDevice)
        .unwrap()
        .2;
    let mut from_itself = to_laptop.clone();
    from_itself[2 + 32..2 + 32 + 4].copy_from_slice(&2u32.to_be_bytes());
    assert_eq!(
        deliver(&mut a[1], &from_itself).unwrap_err(),
        FanoutError::UnknownDevice
    );
    // The checks keep the spec's order: a message naming a newer list of
    // the sender is StaleDeviceList even from an unlisted device.
    let l2 = alice_uk
        .sign_list(2, &[entry(1, &a[0].account), entry(2, &a[1].account)])
        .unwrap();
    a[0].own.update(l2.to_bytes()).unwrap();
    let parts3 = send(&mut r, &mut a[0], b"three");
    let mut stale = parts3
        .iter()
        .find(|p| p.0 == fanout::Audience::Recipient && p.1 == 1)
        .unwrap()
        .2
        .clone();
    stale[2 + 32..2 + 32 + 4].copy_from_slice(&7u32.to_be_bytes());
    assert_eq!(
        deliver(&mut b[0], &stale).unwrap_err(),
        FanoutError::List(ListError::StaleDeviceList)
    );
    // The genuine messages still decrypt.
    assert_eq!(deliver(&mut b[0], m2).unwrap().plaintext, b"two");
}

#[test]
fn a_device_removed_from_its_own_list_stops_sending() {
    let (mut r, alice, bob) = setup(5);
    let (alice_list, bob_list) = (alice.list.clone(), bob.list.clone());
    let alice_uk = alice.uk.clone();
    let mut a = devices(alice, &bob_list);
    let mut b = devices(bob, &alice_list);
    start_all(&mut r, &mut a, 1, &mut b);
    assert!(a[1].own.is_listed());
    let l2 = alice_uk.sign_list(2, &[entry(1, &a[0].account)]).unwrap();
    assert_eq!(
        a[1].own.update(l2.to_bytes()).unwrap(),
        ListChange::Accepted {
            added: vec![],
            removed: vec![2]
        }
    );
    assert!(!a[1].own.is_listed());
    // Its conversation with the phone is kept (the phone is still listed),
    // but it can no longer send.
    assert!(a[1].own.conversation(1).is_some());
    assert_eq!(
        {
            let d = &mut a[1];
            PeerDevices::send(&mut d.own, &mut d.peer, b"x", &mut r).unwrap_err()
        },
        FanoutError::UnknownDevice
    );
    let _ = &mut b;
}

/// A server re-addresses entries (spec §11.6, step 2): another device id,
/// or the other kind. Each copy is refused with `NotForUs` and makes no
/// conversation; the genuine parts are then accepted.
#[test]
fn a_re_addressed_entry_makes_no_conversation() {
    let (mut r, alice, bob) = setup(6);
    let (alice_list, bob_list) = (alice.list.clone(), bob.list.clone());
    let mut a = devices(alice, &bob_list);
    let mut b = devices(bob, &alice_list);
    start_all(&mut r, &mut a, 0, &mut b);
    let parts = send(&mut r, &mut a[0], b"hi");
    let entry_at = |m: &[u8]| m.len() - fanout::DeviceMessage::parse(m).unwrap().pairwise.len() - 9;
    for (audience, id, m) in &parts {
        let at = entry_at(m);
        let mut other_id = m.clone();
        other_id[at + 1..at + 5].copy_from_slice(&(id + 1).to_be_bytes());
        let mut other_kind = m.clone();
        other_kind[at] ^= 1;
        let d = match audience {
            fanout::Audience::Recipient => b.iter_mut().find(|d| d.id == *id).unwrap(),
            fanout::Audience::OwnDevice => a.iter_mut().find(|d| d.id == *id).unwrap(),
        };
        let account = d.account.to_bytes();
        assert_eq!(deliver(d, &other_id).unwrap_err(), FanoutError::NotForUs);
        // The sender is looked up by its user key (spec §11.6, step 2),
        // whatever the kind says.
        let flipped = fanout::DeviceMessage::parse(&other_kind).unwrap();
        let got = if flipped.header.sender_user == *d.own.user().user_key() {
            d.own.receive_own(&mut d.account, &flipped)
        } else {
            d.peer.receive(d.own.user(), &mut d.account, &flipped)
        };
        assert_eq!(got.unwrap_err(), FanoutError::NotForUs);
        assert_eq!(d.account.to_bytes(), account);
        assert!(d.peer.conversation(1).is_none() && d.own.conversation(1).is_none());
        assert_eq!(deliver(d, m).unwrap().plaintext, b"hi");
    }
}
