//! Several devices per person (spec §11): signed device lists, the
//! directory's monotonic view, linking, fan-out, and a hostile server that
//! tries to add a ghost device, roll a list back, show two views, swap a
//! body and pass off an unlisted device.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;

use rand_chacha::{rand_core::SeedableRng, ChaCha20Rng};
use sova::devices::{
    approve_link, fanout, DeviceEntry, DeviceList, FanoutError, KnownUser, LinkError, LinkRequest,
    ListChange, ListError, ParseError, UserKey, MAX_DEVICES,
};
use sova::ratchet::HeaderMode;
use sova::session::{Account, Conversation, ConversationError};
use sova::DefaultProvider;

fn rng(seed: u8) -> ChaCha20Rng {
    ChaCha20Rng::from_seed([seed; 32])
}

fn entry(id: u32, a: &Account, admin: bool) -> DeviceEntry {
    DeviceEntry {
        device_id: id,
        identity: a.identity_key(),
        admin,
    }
}

/// Signs arbitrary list fields with a seed, bypassing `sign_list`'s checks
/// (what a buggy or compromised admin device could publish).
fn raw_list(uk: &UserKey, epoch: u64, entries: &[(u32, [u8; 64], u8)]) -> Vec<u8> {
    let mut b = b"SOVA-1 devices\x01".to_vec();
    b.extend_from_slice(uk.public());
    b.extend_from_slice(&epoch.to_be_bytes());
    b.push(entries.len() as u8);
    for (id, ik, flags) in entries {
        b.extend_from_slice(&id.to_be_bytes());
        b.extend_from_slice(ik);
        b.push(*flags);
    }
    let sig = sova::kdf::labeled_sign(
        &DefaultProvider::default(),
        uk.seed(),
        sova::labels::DEVICE_LIST,
        &[&b],
    )
    .unwrap();
    b.extend_from_slice(&sig);
    b
}

#[test]
fn a_list_is_checked_in_the_order_of_the_spec() {
    let mut r = rng(1);
    let uk = UserKey::generate(&mut r).unwrap();
    let other = UserKey::generate(&mut r).unwrap();
    let (a, b) = (Account::new(&mut r).unwrap(), Account::new(&mut r).unwrap());
    let list = uk
        .sign_list(3, &[entry(1, &a, true), entry(2, &b, false)])
        .unwrap();
    let v = DeviceList::verify(list.to_bytes(), uk.public()).unwrap();
    assert_eq!(v.epoch(), 3);
    assert_eq!(v.entries().len(), 2);
    assert!(v.device(2).is_some_and(|e| !e.admin));
    // Signed by another key than expected.
    assert_eq!(
        DeviceList::verify(list.to_bytes(), other.public()).unwrap_err(),
        ListError::WrongUser
    );
    // A modified list.
    let mut bad = list.to_bytes().to_vec();
    bad[60] ^= 1;
    assert_eq!(
        DeviceList::verify(&bad, uk.public()).unwrap_err(),
        ListError::InvalidSignature
    );
    // Encoding errors come first, even on a list of another user.
    let mut bad = list.to_bytes().to_vec();
    bad.push(0);
    assert_eq!(
        DeviceList::verify(&bad, other.public()).unwrap_err(),
        ListError::Malformed(ParseError::TrailingBytes)
    );
    assert_eq!(
        DeviceList::verify(&list.to_bytes()[..40], uk.public()).unwrap_err(),
        ListError::Malformed(ParseError::Truncated("user key"))
    );
    assert_eq!(
        DeviceList::verify(b"SOVA-1 device", uk.public()).unwrap_err(),
        ListError::Malformed(ParseError::BadMagic)
    );
    let flags = raw_list(&uk, 1, &[(1, a.identity_key(), 0x02)]);
    assert_eq!(
        DeviceList::verify(&flags, uk.public()).unwrap_err(),
        ListError::Malformed(ParseError::InvalidFlags(2))
    );
    let empty = raw_list(&uk, 1, &[]);
    assert_eq!(
        DeviceList::verify(&empty, uk.public()).unwrap_err(),
        ListError::Malformed(ParseError::DeviceCount(0))
    );
    // Signed but inconsistent: a duplicate id, an identity twice, ids out of order.
    for entries in [
        vec![(1, a.identity_key(), 1), (1, b.identity_key(), 0)],
        vec![(1, a.identity_key(), 1), (2, a.identity_key(), 0)],
        vec![(2, a.identity_key(), 1), (1, b.identity_key(), 0)],
    ] {
        let l = raw_list(&uk, 1, &entries);
        assert_eq!(
            DeviceList::verify(&l, uk.public()).unwrap_err(),
            ListError::Inconsistent
        );
    }
    // sign_list refuses what a reader would refuse.
    assert_eq!(
        uk.sign_list(1, &[entry(1, &a, true), entry(1, &b, false)])
            .unwrap_err(),
        ListError::Inconsistent
    );
    assert!(uk.sign_list(1, &[]).is_err());
    let many: Vec<_> = (0..=MAX_DEVICES as u32)
        .map(|i| DeviceEntry {
            device_id: i,
            identity: [i as u8 + 1; 64],
            admin: false,
        })
        .collect();
    assert!(uk.sign_list(1, &many).is_err());
    assert!(uk.sign_list(1, &many[..MAX_DEVICES]).is_ok());
}

#[test]
fn the_directory_only_moves_forward() {
    let mut r = rng(2);
    let uk = UserKey::generate(&mut r).unwrap();
    let (a, b, c) = (
        Account::new(&mut r).unwrap(),
        Account::new(&mut r).unwrap(),
        Account::new(&mut r).unwrap(),
    );
    let l1 = uk.sign_list(1, &[entry(1, &a, true)]).unwrap();
    let l2 = uk
        .sign_list(2, &[entry(1, &a, true), entry(2, &b, false)])
        .unwrap();
    let l3 = uk
        .sign_list(3, &[entry(1, &a, true), entry(3, &c, false)])
        .unwrap();
    let fork = uk
        .sign_list(3, &[entry(1, &a, true), entry(2, &b, false)])
        .unwrap();
    let mut known = KnownUser::new(uk.public(), l1.to_bytes()).unwrap();
    assert_eq!(
        known.update(l2.to_bytes()).unwrap(),
        ListChange::Accepted {
            added: vec![2],
            removed: vec![]
        }
    );
    assert_eq!(known.update(l2.to_bytes()).unwrap(), ListChange::Unchanged);
    assert_eq!(
        known.update(l3.to_bytes()).unwrap(),
        ListChange::Accepted {
            added: vec![3],
            removed: vec![2]
        }
    );
    let before = known.clone();
    // A removed device cannot come back through an old list.
    assert_eq!(
        known.update(l2.to_bytes()).unwrap_err(),
        ListError::Rollback
    );
    // Another list with the same epoch is a fork.
    assert_eq!(
        known.update(fork.to_bytes()).unwrap_err(),
        ListError::Equivocation
    );
    // Another person's list.
    let other = UserKey::generate(&mut r).unwrap();
    let l9 = other.sign_list(9, &[entry(1, &b, true)]).unwrap();
    assert_eq!(
        known.update(l9.to_bytes()).unwrap_err(),
        ListError::WrongUser
    );
    assert_eq!(known, before);
}

#[test]
fn linking_a_device_through_a_hostile_server() {
    let mut r = rng(3);
    let uk = UserKey::generate(&mut r).unwrap();
    let phone = Account::new(&mut r).unwrap();
    let list = uk.sign_list(1, &[entry(1, &phone, true)]).unwrap();
    let mut phone_view = KnownUser::from_list(list);

    let laptop = Account::new(&mut r).unwrap();
    let request = LinkRequest::new(&laptop, &mut r).unwrap();
    // The phone scans the laptop's QR code and approves it.
    let approval = approve_link(
        &uk,
        &phone_view,
        request.offer(),
        false,
        b"contacts",
        &mut r,
    )
    .unwrap();
    assert_eq!(approval.device_id, 2);
    assert_eq!(approval.list.epoch(), 2);

    // The server tampers with the response: refused, nothing learnt.
    let mut bad = approval.response.clone();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    assert_eq!(request.finish(&bad).unwrap_err(), LinkError::Authentication);
    // A response made for another offer does not open either.
    let other = LinkRequest::new(&laptop, &mut r).unwrap();
    assert_eq!(
        other.finish(&approval.response).unwrap_err(),
        LinkError::Authentication
    );
    let linked = request.finish(&approval.response).unwrap();
    assert_eq!(linked.device_id, 2);
    assert_eq!(&linked.data[..], b"contacts");
    assert!(linked.user_key.is_none());
    assert_eq!(linked.code, approval.code);
    assert_eq!(linked.user.user_key(), uk.public());
    assert_eq!(
        phone_view.update(approval.list.to_bytes()).unwrap(),
        ListChange::Accepted {
            added: vec![2],
            removed: vec![]
        }
    );
    // Linking the same device again, or an offer with a forged identity.
    assert_eq!(
        approve_link(&uk, &phone_view, request.offer(), false, b"", &mut r).unwrap_err(),
        LinkError::AlreadyListed
    );
    let tablet = Account::new(&mut r).unwrap();
    let t = LinkRequest::new(&tablet, &mut r).unwrap();
    let mut forged = t.offer().to_vec();
    let n = forged.len() - 1;
    forged[n] ^= 1;
    assert_eq!(
        approve_link(&uk, &phone_view, &forged, false, b"", &mut r).unwrap_err(),
        LinkError::InvalidIdentitySignature
    );
    // An admin device gets the user key.
    let a = approve_link(&uk, &phone_view, t.offer(), true, b"", &mut r).unwrap();
    let linked = t.finish(&a.response).unwrap();
    assert_eq!(linked.user_key.unwrap().public(), uk.public());
    assert_eq!(linked.device_id, 3);
}

/// One person's device: its account, its user view, and its conversations
/// with every other device, keyed by (user key, device id) (spec §11.7).
struct Device {
    account: Account,
    id: u32,
    convs: BTreeMap<([u8; 32], u32), Conversation>,
}

struct Person {
    uk: UserKey,
    devices: Vec<Device>,
    list: DeviceList,
}

fn person(r: &mut ChaCha20Rng, n: u32) -> Person {
    let uk = UserKey::generate(r).unwrap();
    let devices: Vec<Device> = (1..=n)
        .map(|id| Device {
            account: Account::new(r).unwrap(),
            id,
            convs: BTreeMap::new(),
        })
        .collect();
    let entries: Vec<_> = devices
        .iter()
        .map(|d| entry(d.id, &d.account, d.id == 1))
        .collect();
    let list = uk.sign_list(1, &entries).unwrap();
    Person { uk, devices, list }
}

/// A device to send to: audience, user key, device id, identity, bundle.
type Wanted = (fanout::Audience, [u8; 32], u32, [u8; 64], Vec<u8>);

/// Sends from `from.devices[i]` to `to` (and `from`'s other devices),
/// starting sessions from bundles as needed; returns the fan-out message.
fn send(r: &mut ChaCha20Rng, from: &mut Person, i: usize, to: &mut Person, text: &[u8]) -> Vec<u8> {
    send_with(r, from, i, to, text, Copies::All).unwrap()
}

/// Which targets [`send_with`] gives the fan-out.
#[derive(Clone, Copy, PartialEq)]
enum Copies {
    /// Every recipient device and the sender's other devices ([`fanout::encrypt`]).
    All,
    /// The recipient's devices only ([`fanout::encrypt_to_recipient`]).
    RecipientOnly,
    /// As `RecipientOnly`, plus the sender's other devices.
    RecipientOnlyWithOwn,
    /// As `RecipientOnly`, less the recipient's last device.
    RecipientOnlyLessOne,
}

fn send_with(
    r: &mut ChaCha20Rng,
    from: &mut Person,
    i: usize,
    to: &mut Person,
    text: &[u8],
    copies: Copies,
) -> Result<Vec<u8>, FanoutError> {
    let own = KnownUser::from_list(from.list.clone());
    let peer = KnownUser::from_list(to.list.clone());
    let me_id = from.devices[i].id;
    let mut wanted: Vec<Wanted> = Vec::new();
    for d in &mut to.devices {
        let b = d.account.bundle(None, None).unwrap().to_bytes();
        wanted.push((
            fanout::Audience::Recipient,
            *to.uk.public(),
            d.id,
            d.account.identity_key(),
            b,
        ));
    }
    if copies == Copies::RecipientOnlyLessOne {
        wanted.pop();
    }
    for (j, d) in from.devices.iter_mut().enumerate() {
        if j != i && copies != Copies::RecipientOnly && copies != Copies::RecipientOnlyLessOne {
            let b = d.account.bundle(None, None).unwrap().to_bytes();
            wanted.push((
                fanout::Audience::OwnDevice,
                *from.uk.public(),
                d.id,
                d.account.identity_key(),
                b,
            ));
        }
    }
    let me = &mut from.devices[i];
    for (_, user, id, ik, bundle) in &wanted {
        me.convs.entry((*user, *id)).or_insert_with(|| {
            Conversation::start(&me.account, &mut *r, ik, bundle, HeaderMode::Encrypted).unwrap()
        });
    }
    let mut convs: Vec<(fanout::Audience, u32, &mut Conversation)> = Vec::new();
    for ((user, id), c) in me.convs.iter_mut() {
        if let Some(w) = wanted.iter().find(|w| w.1 == *user && w.2 == *id) {
            convs.push((w.0, *id, c));
        }
    }
    let mut targets: Vec<fanout::Target<'_>> = convs
        .into_iter()
        .map(|(audience, device_id, conversation)| fanout::Target {
            audience,
            device_id,
            conversation,
        })
        .collect();
    let _ = me_id;
    if copies == Copies::All {
        fanout::encrypt(&own, me.id, &peer, &mut targets, text, r)
    } else {
        fanout::encrypt_to_recipient(&own, me.id, &peer, &mut targets, text, r)
    }
}

/// Delivers a device message to `to.devices[j]`, sent by `from`'s device
/// `sender_id`.
fn deliver(
    from: &Person,
    sender_id: u32,
    to: &mut Person,
    j: usize,
    m: &[u8],
) -> Result<fanout::FanoutReceived, FanoutError> {
    let msg = fanout::DeviceMessage::parse(m).map_err(FanoutError::Malformed)?;
    let own = KnownUser::from_list(to.list.clone());
    let sender = KnownUser::from_list(from.list.clone());
    let sender_ik = from
        .list
        .device(sender_id)
        .map(|e| e.identity)
        .unwrap_or([0; 64]);
    let d = &mut to.devices[j];
    let conv = d
        .convs
        .entry((*from.uk.public(), sender_id))
        .or_insert_with(|| Conversation::new(sender_ik));
    fanout::receive(&own, &sender, conv, &mut d.account, &msg)
}

#[test]
fn fan_out_reaches_every_device_and_the_senders_others() {
    let mut r = rng(4);
    let mut alice = person(&mut r, 2);
    let mut bob = person(&mut r, 3);
    let wire = send(&mut r, &mut alice, 0, &mut bob, b"hello Bob");
    let parts = fanout::split(&wire).unwrap();
    assert_eq!(parts.len(), 4); // Bob's 3 devices and Alice's other one
    for (audience, id, m) in parts {
        let got = match audience {
            fanout::Audience::Recipient => {
                let j = bob.devices.iter().position(|d| d.id == id).unwrap();
                deliver(&alice, 1, &mut bob, j, &m).unwrap()
            }
            fanout::Audience::OwnDevice => {
                let j = alice.devices.iter().position(|d| d.id == id).unwrap();
                let alice2 = Person {
                    uk: alice.uk.clone(),
                    devices: vec![],
                    list: alice.list.clone(),
                };
                deliver(&alice2, 1, &mut alice, j, &m).unwrap()
            }
        };
        assert_eq!(got.plaintext, b"hello Bob");
        assert!(got.recipient_list_current);
        assert!(got.account_changed);
    }
    // Bob's tablet answers; Alice's two devices and Bob's two others get it.
    let wire = send(&mut r, &mut bob, 2, &mut alice, b"hi from the tablet");
    let parts = fanout::split(&wire).unwrap();
    assert_eq!(parts.len(), 4);
    for (audience, id, m) in parts {
        if audience == fanout::Audience::Recipient {
            let j = alice.devices.iter().position(|d| d.id == id).unwrap();
            let got = deliver(&bob, 3, &mut alice, j, &m).unwrap();
            assert_eq!(got.plaintext, b"hi from the tablet");
        }
    }
}

/// A recipient-only fan-out message (spec §11.6) reaches every device of
/// the recipient and no other; it takes no target of the sender's own.
#[test]
fn a_recipient_only_fan_out_reaches_the_recipients_devices_alone() {
    let mut r = rng(5);
    let mut alice = person(&mut r, 3);
    let mut bob = person(&mut r, 3);
    let wire = send_with(
        &mut r,
        &mut alice,
        0,
        &mut bob,
        b"only Bob",
        Copies::RecipientOnly,
    )
    .unwrap();
    let parts = fanout::split(&wire).unwrap();
    assert_eq!(parts.len(), 3);
    for (audience, id, m) in parts {
        assert_eq!(audience, fanout::Audience::Recipient);
        let j = bob.devices.iter().position(|d| d.id == id).unwrap();
        let got = deliver(&alice, 1, &mut bob, j, &m).unwrap();
        assert_eq!(got.plaintext, b"only Bob");
    }
    assert_eq!(
        send_with(
            &mut r,
            &mut alice,
            0,
            &mut bob,
            b"x",
            Copies::RecipientOnlyWithOwn
        ),
        Err(FanoutError::UnlistedDevice(2))
    );
    assert_eq!(
        send_with(
            &mut r,
            &mut alice,
            0,
            &mut bob,
            b"x",
            Copies::RecipientOnlyLessOne
        ),
        Err(FanoutError::MissingDevice(3))
    );
    // A note to self without its own copies would reach nobody.
    let mut alice_again = Person {
        uk: alice.uk.clone(),
        devices: vec![],
        list: alice.list.clone(),
    };
    assert_eq!(
        send_with(
            &mut r,
            &mut alice,
            0,
            &mut alice_again,
            b"x",
            Copies::RecipientOnly
        ),
        Err(FanoutError::NotForUs)
    );
    // The refusals encrypted nothing: the next message is Bob's next.
    let wire = send_with(
        &mut r,
        &mut alice,
        0,
        &mut bob,
        b"again",
        Copies::RecipientOnly,
    )
    .unwrap();
    for (_, id, m) in fanout::split(&wire).unwrap() {
        let j = bob.devices.iter().position(|d| d.id == id).unwrap();
        let got = deliver(&alice, 1, &mut bob, j, &m).unwrap();
        assert_eq!(got.plaintext, b"again");
        assert_eq!(got.info.number, 1);
    }
}

#[test]
fn a_hostile_server_is_caught() {
    let mut r = rng(5);
    let mut alice = person(&mut r, 1);
    let mut bob = person(&mut r, 2);

    // 1. A ghost device: the server adds its own device to Bob's list. It
    // cannot sign, so Alice's directory refuses the list.
    let ghost = Account::new(&mut r).unwrap();
    let mut ghost_list = bob.list.to_bytes().to_vec();
    ghost_list[14 + 1 + 32 + 7] += 1; // epoch + 1
    let mut view = KnownUser::from_list(bob.list.clone());
    let before = view.clone();
    assert_eq!(
        view.update(&ghost_list).unwrap_err(),
        ListError::InvalidSignature
    );
    let other_uk = UserKey::generate(&mut r).unwrap();
    let ghost_signed = other_uk
        .sign_list(
            2,
            &[
                entry(1, &bob.devices[0].account, true),
                entry(9, &ghost, false),
            ],
        )
        .unwrap();
    assert_eq!(
        view.update(ghost_signed.to_bytes()).unwrap_err(),
        ListError::WrongUser
    );
    assert_eq!(view, before);

    // 2. Fan-out never encrypts to an uncertified device: a conversation
    // with the ghost passed as Bob's device 2 is refused before anything is
    // encrypted.
    let own = KnownUser::from_list(alice.list.clone());
    let gb = ghost.bundle(None, None).unwrap().to_bytes();
    let bob1 = bob.devices[0]
        .account
        .bundle(None, None)
        .unwrap()
        .to_bytes();
    let a = &alice.devices[0].account;
    let mut to_ghost =
        Conversation::start(a, &mut r, &ghost.identity_key(), &gb, HeaderMode::Plain).unwrap();
    let mut to_bob1 = Conversation::start(
        a,
        &mut r,
        &bob.devices[0].account.identity_key(),
        &bob1,
        HeaderMode::Plain,
    )
    .unwrap();
    let ghost_state = to_ghost.to_bytes();
    let err = fanout::encrypt(
        &own,
        1,
        &view,
        &mut [
            fanout::Target {
                audience: fanout::Audience::Recipient,
                device_id: 1,
                conversation: &mut to_bob1,
            },
            fanout::Target {
                audience: fanout::Audience::Recipient,
                device_id: 2,
                conversation: &mut to_ghost,
            },
        ],
        b"secret",
        &mut r,
    )
    .unwrap_err();
    assert_eq!(err, FanoutError::UnlistedDevice(2));
    assert_eq!(to_ghost.to_bytes(), ghost_state);
    // Leaving a listed device out is refused too.
    let err = fanout::encrypt(
        &own,
        1,
        &view,
        &mut [fanout::Target {
            audience: fanout::Audience::Recipient,
            device_id: 1,
            conversation: &mut to_bob1,
        }],
        b"secret",
        &mut r,
    )
    .unwrap_err();
    assert_eq!(err, FanoutError::MissingDevice(2));

    // 3. A genuine message; the server swaps its body for another message's.
    let w1 = send(&mut r, &mut alice, 0, &mut bob, b"first");
    let w2 = send(&mut r, &mut alice, 0, &mut bob, b"second");
    let p1 = fanout::split(&w1).unwrap();
    let p2 = fanout::split(&w2).unwrap();
    let (_, _, m1) = &p1[0];
    let (_, _, m2) = &p2[0];
    let d1 = fanout::DeviceMessage::parse(m1).unwrap();
    let body_len = m1.len() - fanout::FANOUT_HEADER_LEN - d1.pairwise.len() - 9;
    let mut swapped = m2[..fanout::FANOUT_HEADER_LEN + body_len].to_vec();
    swapped.extend_from_slice(&m1[fanout::FANOUT_HEADER_LEN + body_len..]);
    let account_before = bob.devices[0].account.to_bytes();
    assert_eq!(
        deliver(&alice, 1, &mut bob, 0, &swapped).unwrap_err(),
        FanoutError::BodyMismatch
    );
    // Nothing was consumed: the genuine messages still decrypt, in any order.
    assert_eq!(bob.devices[0].account.to_bytes(), account_before);
    assert_eq!(
        deliver(&alice, 1, &mut bob, 0, m2).unwrap().plaintext,
        b"second"
    );
    assert_eq!(
        deliver(&alice, 1, &mut bob, 0, m1).unwrap().plaintext,
        b"first"
    );
    // A replay is refused.
    assert!(matches!(
        deliver(&alice, 1, &mut bob, 0, m1).unwrap_err(),
        FanoutError::Pairwise(ConversationError::Decrypt(_))
    ));

    // 4. A message claiming a device Alice's list does not have.
    let mut unlisted = m1.clone();
    unlisted[2 + 32..2 + 32 + 4].copy_from_slice(&7u32.to_be_bytes());
    assert_eq!(
        deliver(&alice, 7, &mut bob, 0, &unlisted).unwrap_err(),
        FanoutError::UnknownDevice
    );

    // 5. Alice's list moves on (a second device); a message naming it tells
    // Bob's device its view is stale, and after the update it decrypts.
    let laptop = Account::new(&mut r).unwrap();
    alice.list = alice
        .uk
        .sign_list(
            2,
            &[
                entry(1, &alice.devices[0].account, true),
                entry(2, &laptop, false),
            ],
        )
        .unwrap();
    alice.devices.push(Device {
        account: laptop,
        id: 2,
        convs: BTreeMap::new(),
    });
    let w3 = send(&mut r, &mut alice, 0, &mut bob, b"third");
    let p3 = fanout::split(&w3).unwrap();
    let m3 = &p3
        .iter()
        .find(|p| p.0 == fanout::Audience::Recipient && p.1 == 1)
        .unwrap()
        .2;
    let stale = Person {
        uk: alice.uk.clone(),
        devices: vec![],
        list: DeviceList::verify(
            alice
                .uk
                .sign_list(1, &[entry(1, &alice.devices[0].account, true)])
                .unwrap()
                .to_bytes(),
            alice.uk.public(),
        )
        .unwrap(),
    };
    assert_eq!(
        deliver(&stale, 1, &mut bob, 0, m3).unwrap_err(),
        FanoutError::List(ListError::StaleDeviceList)
    );
    // 6. Two views: Bob holds another list with the same epoch (a fork).
    let fork = Person {
        uk: alice.uk.clone(),
        devices: vec![],
        list: alice
            .uk
            .sign_list(2, &[entry(1, &alice.devices[0].account, true)])
            .unwrap(),
    };
    assert_eq!(
        deliver(&fork, 1, &mut bob, 0, m3).unwrap_err(),
        FanoutError::List(ListError::Equivocation)
    );
    assert_eq!(
        deliver(&alice, 1, &mut bob, 0, m3).unwrap().plaintext,
        b"third"
    );
}

/// Safety numbers name the person (spec §11.2): one comparison covers all
/// of a person's devices, and linking or removing a device changes nothing.
#[test]
fn safety_numbers_name_the_person_not_the_device() {
    use sova::devices::user_identity;
    use sova::safety::SafetyNumber;
    let mut r = rng(6);
    let alice = person(&mut r, 2);
    let bob = person(&mut r, 3);
    let before = SafetyNumber::new(
        &user_identity(alice.uk.public()),
        &user_identity(bob.uk.public()),
    );
    // Bob links a fourth device and removes his second: a new list, the same number.
    let extra = Account::new(&mut r).unwrap();
    let l = bob
        .uk
        .sign_list(
            2,
            &[
                entry(1, &bob.devices[0].account, true),
                entry(3, &bob.devices[2].account, false),
                entry(4, &extra, false),
            ],
        )
        .unwrap();
    let mut view = KnownUser::from_list(bob.list.clone());
    view.update(l.to_bytes()).unwrap();
    let after = SafetyNumber::new(
        &user_identity(alice.uk.public()),
        &user_identity(view.user_key()),
    );
    assert_eq!(before.digits(), after.digits());
    // A user identity is never a device identity: its second half is zero,
    // a device's never is.
    assert_eq!(&user_identity(bob.uk.public())[32..], &[0u8; 32]);
    assert_ne!(&bob.devices[0].account.identity_key()[32..], &[0u8; 32]);
    // Another user key gives another number.
    let other = UserKey::generate(&mut r).unwrap();
    let changed = SafetyNumber::new(
        &user_identity(alice.uk.public()),
        &user_identity(other.public()),
    );
    assert_ne!(before.digits(), changed.digits());
}

/// A note to self goes to the sender's other devices only (spec §11.6).
#[test]
fn a_note_to_self_reaches_the_other_devices() {
    let mut r = rng(7);
    let mut alice = person(&mut r, 3);
    let own = KnownUser::from_list(alice.list.clone());
    let ids: Vec<[u8; 64]> = alice
        .devices
        .iter()
        .map(|d| d.account.identity_key())
        .collect();
    let bundles: Vec<Vec<u8>> = alice
        .devices
        .iter_mut()
        .map(|d| d.account.bundle(None, None).unwrap().to_bytes())
        .collect();
    let me = &alice.devices[0].account;
    let mut c2 = Conversation::start(me, &mut r, &ids[1], &bundles[1], HeaderMode::Plain).unwrap();
    let mut c3 = Conversation::start(me, &mut r, &ids[2], &bundles[2], HeaderMode::Plain).unwrap();
    // Addressing our own device as a recipient is refused.
    let mut c2b = Conversation::start(me, &mut r, &ids[1], &bundles[1], HeaderMode::Plain).unwrap();
    assert_eq!(
        fanout::encrypt(
            &own,
            1,
            &own,
            &mut [fanout::Target {
                audience: fanout::Audience::Recipient,
                device_id: 2,
                conversation: &mut c2b,
            }],
            b"x",
            &mut r,
        )
        .unwrap_err(),
        FanoutError::UnlistedDevice(2)
    );
    let wire = fanout::encrypt(
        &own,
        1,
        &own,
        &mut [
            fanout::Target {
                audience: fanout::Audience::OwnDevice,
                device_id: 2,
                conversation: &mut c2,
            },
            fanout::Target {
                audience: fanout::Audience::OwnDevice,
                device_id: 3,
                conversation: &mut c3,
            },
        ],
        b"shopping list",
        &mut r,
    )
    .unwrap();
    let parts = fanout::split(&wire).unwrap();
    assert_eq!(parts.len(), 2);
    let me_too = Person {
        uk: alice.uk.clone(),
        devices: vec![],
        list: alice.list.clone(),
    };
    for (_, id, m) in parts {
        let j = alice.devices.iter().position(|d| d.id == id).unwrap();
        let got = deliver(&me_too, 1, &mut alice, j, &m).unwrap();
        assert_eq!(got.plaintext, b"shopping list");
    }
}

/// `magic || version || body || SHA-256(all of it)` (spec §8.1).
fn with_check(magic: &[u8], version: u8, body: &[u8]) -> Vec<u8> {
    use sova::CryptoProvider;
    let mut b = magic.to_vec();
    b.push(version);
    b.extend_from_slice(body);
    let check = DefaultProvider::default().sha256(&[&b]);
    b.extend_from_slice(&check);
    b
}

fn known_user_state(body: &[u8]) -> Vec<u8> {
    with_check(b"SOVA-1 known user", 1, body)
}

fn len_prefixed(list: &[u8], extra: &[u8]) -> Vec<u8> {
    let mut b = (list.len() as u32).to_be_bytes().to_vec();
    b.extend_from_slice(list);
    b.extend_from_slice(extra);
    b
}

#[test]
fn a_known_user_persists_and_every_reader_rule_is_enforced() {
    use sova::ratchet::StateError;
    use sova::session::PersistError;
    use sova::storage::StorageError;
    let mut r = rng(40);
    let uk = UserKey::generate(&mut r).unwrap();
    let (a, b) = (Account::new(&mut r).unwrap(), Account::new(&mut r).unwrap());
    let list = uk
        .sign_list(7, &[entry(1, &a, true), entry(2, &b, false)])
        .unwrap();
    let known = KnownUser::new(uk.public(), list.to_bytes()).unwrap();
    let bytes = known.to_bytes();
    assert_eq!(bytes, known_user_state(&len_prefixed(list.to_bytes(), &[])));
    let back = KnownUser::from_bytes(&bytes).unwrap();
    assert_eq!(back, known);
    assert_eq!(back.user_key(), uk.public());
    assert_eq!(back.list_hash(), known.list_hash());
    assert_eq!(back.to_bytes(), bytes);
    // The restored directory still moves forward only.
    let older = uk.sign_list(6, &[entry(1, &a, true)]).unwrap();
    let mut restored = back.clone();
    assert_eq!(restored.update(older.to_bytes()), Err(ListError::Rollback));
    assert_eq!(restored, known);

    // §8.1, in order.
    let err = |b: &[u8]| KnownUser::from_bytes(b).unwrap_err();
    assert_eq!(err(b""), StateError::BadMagic);
    assert_eq!(err(b"SOVA-1 known"), StateError::BadMagic);
    assert_eq!(err(b"SOVA-1 known usex\x01"), StateError::BadMagic);
    assert_eq!(err(b"SOVA-1 known user"), StateError::Truncated);
    assert_eq!(
        err(b"SOVA-1 known user\x02"),
        StateError::UnsupportedVersion(2)
    );
    assert_eq!(err(&bytes[..bytes.len() - 33]), StateError::Corrupted);
    assert_eq!(err(&bytes[..20]), StateError::Truncated);
    let mut bad = bytes.clone();
    bad[30] ^= 1;
    assert_eq!(err(&bad), StateError::Corrupted);
    // A newer version is refused before its check is looked at.
    let mut newer = bytes.clone();
    newer[17] = 2;
    assert_eq!(err(&newer), StateError::UnsupportedVersion(2));

    // 1. Truncated: before `len`, and inside the list.
    assert_eq!(err(&known_user_state(&[0, 0])), StateError::Truncated);
    let mut long = len_prefixed(list.to_bytes(), &[]);
    long[3] += 1;
    assert_eq!(err(&known_user_state(&long)), StateError::Truncated);
    // 2. The list's encoding: a `len` that cuts it short, an unknown flag.
    let mut short = len_prefixed(&list.to_bytes()[..list.to_bytes().len() - 1], &[]);
    short.push(list.to_bytes()[list.to_bytes().len() - 1]);
    assert_eq!(
        err(&known_user_state(&short)),
        StateError::Invalid("device list")
    );
    let flagged = raw_list(&uk, 7, &[(1, a.identity_key(), 2)]);
    assert_eq!(
        err(&known_user_state(&len_prefixed(&flagged, &[]))),
        StateError::Invalid("device list")
    );
    // 3. The signature, under the list's own user key.
    let mut forged = list.to_bytes().to_vec();
    forged[60] ^= 1;
    assert_eq!(
        err(&known_user_state(&len_prefixed(&forged, &[]))),
        StateError::Invalid("device list signature")
    );
    // 4. Consistency: a repeated id, an identity listed twice.
    for entries in [
        [(1, a.identity_key(), 1), (1, b.identity_key(), 0)],
        [(1, a.identity_key(), 1), (2, a.identity_key(), 0)],
    ] {
        let l = raw_list(&uk, 7, &entries);
        assert_eq!(
            err(&known_user_state(&len_prefixed(&l, &[]))),
            StateError::Invalid("device list entries")
        );
    }
    // 5. Bytes after the list.
    assert_eq!(
        err(&known_user_state(&len_prefixed(list.to_bytes(), &[0]))),
        StateError::TrailingBytes
    );
    // Order: the list is checked before what follows it, its encoding
    // before its signature, its signature before its entries.
    assert_eq!(
        err(&known_user_state(&len_prefixed(&forged, &[0]))),
        StateError::Invalid("device list signature")
    );
    let mut forged_flags = flagged.clone();
    forged_flags[60] ^= 1;
    assert_eq!(
        err(&known_user_state(&len_prefixed(&forged_flags, &[]))),
        StateError::Invalid("device list")
    );
    let mut forged_dup = raw_list(
        &uk,
        7,
        &[(1, a.identity_key(), 1), (1, b.identity_key(), 0)],
    );
    forged_dup[60] ^= 1;
    assert_eq!(
        err(&known_user_state(&len_prefixed(&forged_dup, &[]))),
        StateError::Invalid("device list signature")
    );

    // Sealed: kind 4; another kind, another key, a changed byte.
    let key = sova::Secret::from_bytes([9; 32]);
    let sealed = known.to_sealed_bytes(&mut r, &key).unwrap();
    assert_eq!(sealed[14], 4);
    assert_eq!(KnownUser::from_sealed_bytes(&sealed, &key).unwrap(), known);
    assert_eq!(
        UserKey::from_sealed_bytes(&sealed, &key).unwrap_err(),
        PersistError::Storage(StorageError::WrongKind(4))
    );
    assert_eq!(
        KnownUser::from_sealed_bytes(&sealed, &sova::Secret::from_bytes([8; 32])).unwrap_err(),
        PersistError::Storage(StorageError::Authentication)
    );
    let mut bad = sealed.clone();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    assert_eq!(
        KnownUser::from_sealed_bytes(&bad, &key).unwrap_err(),
        PersistError::Storage(StorageError::Authentication)
    );
}

#[test]
fn a_user_key_persists_and_every_reader_rule_is_enforced() {
    use sova::ratchet::StateError;
    use sova::session::PersistError;
    use sova::storage::StorageError;
    let mut r = rng(41);
    let uk = UserKey::generate(&mut r).unwrap();
    let bytes = uk.to_bytes();
    assert_eq!(bytes, with_check(b"SOVA-1 user key", 1, uk.seed().expose()));
    let back = UserKey::from_bytes(&bytes).unwrap();
    assert_eq!(back.public(), uk.public());
    assert_eq!(back.seed().expose(), uk.seed().expose());
    let err = |b: &[u8]| UserKey::from_bytes(b).unwrap_err();
    assert_eq!(err(b"SOVA-1 user"), StateError::BadMagic);
    assert_eq!(err(b"SOVA-1 user key"), StateError::Truncated);
    assert_eq!(
        err(b"SOVA-1 user key\x00"),
        StateError::UnsupportedVersion(0)
    );
    let mut bad = bytes.clone();
    bad[20] ^= 1;
    assert_eq!(err(&bad), StateError::Corrupted);
    assert_eq!(
        err(&with_check(b"SOVA-1 user key", 1, &[7; 31])),
        StateError::Truncated
    );
    assert_eq!(
        err(&with_check(b"SOVA-1 user key", 1, &[7; 33])),
        StateError::TrailingBytes
    );
    // Any seed is a user key; the public key is derived from it.
    let any = UserKey::from_bytes(&with_check(b"SOVA-1 user key", 1, &[7; 32])).unwrap();
    assert_eq!(
        any.public(),
        UserKey::from_seed(sova::Secret::from_bytes([7; 32])).public()
    );

    let key = sova::Secret::from_bytes([3; 32]);
    let sealed = uk.to_sealed_bytes(&mut r, &key).unwrap();
    assert_eq!(sealed[14], 5);
    assert_eq!(
        UserKey::from_sealed_bytes(&sealed, &key).unwrap().public(),
        uk.public()
    );
    assert_eq!(
        KnownUser::from_sealed_bytes(&sealed, &key).unwrap_err(),
        PersistError::Storage(StorageError::WrongKind(5))
    );
    assert!(!sealed.windows(32).any(|w| w == uk.seed().expose()));
}

/// A device restores all it holds of §11 from its states (spec §11.9): its
/// own id follows from its own user's list and its account.
#[test]
fn a_device_restores_its_devices_state() {
    let mut r = rng(42);
    let uk = UserKey::generate(&mut r).unwrap();
    let (a, b) = (Account::new(&mut r).unwrap(), Account::new(&mut r).unwrap());
    let list = uk
        .sign_list(1, &[entry(1, &a, true), entry(2, &b, false)])
        .unwrap();
    let own = KnownUser::new(uk.public(), list.to_bytes()).unwrap();
    let (own_bytes, uk_bytes, acct) = (own.to_bytes(), uk.to_bytes(), b.to_bytes());
    let own2 = KnownUser::from_bytes(&own_bytes).unwrap();
    let b2 = Account::from_bytes(&acct).unwrap();
    let me = own2.list().device_by_identity(&b2.identity_key()).unwrap();
    assert_eq!(me.device_id, 2);
    // The admin signs the next list with the restored key.
    let uk2 = UserKey::from_bytes(&uk_bytes).unwrap();
    let next = uk2.sign_list(2, &[entry(1, &a, true)]).unwrap();
    let mut own3 = own2.clone();
    assert!(matches!(
        own3.update(next.to_bytes()).unwrap(),
        ListChange::Accepted { .. }
    ));
    // Removed: its own list no longer lists it.
    let own4 = KnownUser::from_bytes(&own3.to_bytes()).unwrap();
    assert!(own4.list().device_by_identity(&b2.identity_key()).is_none());
}

/// `m` with its entry's kind and device id replaced (what a server can do:
/// neither field is authenticated, spec §11.6).
fn readdressed(m: &[u8], kind: u8, device_id: u32) -> Vec<u8> {
    let pairwise = fanout::DeviceMessage::parse(m).unwrap().pairwise.len();
    let at = m.len() - pairwise - 9;
    let mut v = m.to_vec();
    v[at] = kind;
    v[at + 1..at + 5].copy_from_slice(&device_id.to_be_bytes());
    v
}

/// Delivers `m` to `to.devices[j]` and checks that it is refused with
/// `NotForUs` and changes neither the account nor the conversation.
fn refused_not_for_us(from: &Person, sender_id: u32, to: &mut Person, j: usize, m: &[u8]) {
    let key = (*from.uk.public(), sender_id);
    let account = to.devices[j].account.to_bytes();
    let conv = to.devices[j].convs.get(&key).map(Conversation::to_bytes);
    assert_eq!(
        deliver(from, sender_id, to, j, m).unwrap_err(),
        FanoutError::NotForUs
    );
    assert_eq!(to.devices[j].account.to_bytes(), account);
    let after = to.devices[j].convs.get(&key).map(Conversation::to_bytes);
    if conv.is_some() {
        assert_eq!(after, conv);
    } else {
        // The helper made a new conversation for the first message; the
        // refusal left it new.
        let fresh = Conversation::new(from.list.device(sender_id).unwrap().identity).to_bytes();
        assert_eq!(after, Some(fresh));
    }
}

/// A server rewrites an entry's device id (spec §11.6, step 2): the copy
/// carries the same pairwise message, so without the check it would be a
/// second accepted encoding of the message. Every other id is refused with
/// `NotForUs` before and after the genuine part is accepted, as is every
/// entry for a device its own list no longer names.
#[test]
fn a_re_addressed_entry_is_refused() {
    let mut r = rng(8);
    let mut alice = person(&mut r, 2);
    let mut bob = person(&mut r, 3);
    let wire = send(&mut r, &mut alice, 0, &mut bob, b"hello Bob");
    let parts = fanout::split(&wire).unwrap();
    let part = |audience, id| {
        parts
            .iter()
            .find(|p| p.0 == audience && p.1 == id)
            .unwrap()
            .2
            .clone()
    };
    let to_bob1 = part(fanout::Audience::Recipient, 1);
    let to_alice2 = part(fanout::Audience::OwnDevice, 2);
    // Bob's device 1 gets its own entry renamed: another of Bob's listed
    // devices, unlisted ids, the extremes.
    for id in [2, 3, 4, 0, u32::MAX] {
        refused_not_for_us(&alice, 1, &mut bob, 0, &readdressed(&to_bob1, 0, id));
    }
    // Alice's device 2 gets its entry renamed to the sender's id, or to an
    // id Alice's list does not have.
    let alice_too = Person {
        uk: alice.uk.clone(),
        devices: vec![],
        list: alice.list.clone(),
    };
    for id in [1, 3] {
        refused_not_for_us(
            &alice_too,
            1,
            &mut alice,
            1,
            &readdressed(&to_alice2, 1, id),
        );
    }
    // The genuine parts are accepted, once; a re-addressed copy after them
    // is still `NotForUs` (step 2 comes before the pairwise message).
    assert_eq!(
        deliver(&alice, 1, &mut bob, 0, &to_bob1).unwrap().plaintext,
        b"hello Bob"
    );
    assert_eq!(
        deliver(&alice_too, 1, &mut alice, 1, &to_alice2)
            .unwrap()
            .plaintext,
        b"hello Bob"
    );
    refused_not_for_us(&alice, 1, &mut bob, 0, &readdressed(&to_bob1, 0, 2));
    refused_not_for_us(&alice_too, 1, &mut alice, 1, &readdressed(&to_alice2, 1, 1));
    assert!(matches!(
        deliver(&alice, 1, &mut bob, 0, &to_bob1).unwrap_err(),
        FanoutError::Pairwise(ConversationError::Decrypt(_))
    ));

    // Bob's device 3 is removed; once it holds the list without it, it has
    // no id, and its genuine entry (sent before the removal) is refused.
    let to_bob3 = part(fanout::Audience::Recipient, 3);
    bob.list = bob
        .uk
        .sign_list(
            2,
            &[
                entry(1, &bob.devices[0].account, true),
                entry(2, &bob.devices[1].account, false),
            ],
        )
        .unwrap();
    refused_not_for_us(&alice, 1, &mut bob, 2, &to_bob3);
}

/// A note to self (spec §11.6): `UK_S = UK_R` is the receiver's own user
/// key, so both kinds named its user; only kind 1 is accepted.
#[test]
fn a_note_to_self_with_its_kind_flipped_is_refused() {
    let mut r = rng(9);
    let mut alice = person(&mut r, 2);
    let own = KnownUser::from_list(alice.list.clone());
    let ik2 = alice.devices[1].account.identity_key();
    let b2 = alice.devices[1]
        .account
        .bundle(None, None)
        .unwrap()
        .to_bytes();
    let mut c2 = Conversation::start(
        &alice.devices[0].account,
        &mut r,
        &ik2,
        &b2,
        HeaderMode::Plain,
    )
    .unwrap();
    let wire = fanout::encrypt(
        &own,
        1,
        &own,
        &mut [fanout::Target {
            audience: fanout::Audience::OwnDevice,
            device_id: 2,
            conversation: &mut c2,
        }],
        b"note",
        &mut r,
    )
    .unwrap();
    let (_, _, m) = fanout::split(&wire).unwrap().remove(0);
    let me_too = Person {
        uk: alice.uk.clone(),
        devices: vec![],
        list: alice.list.clone(),
    };
    let flipped = readdressed(&m, 0, 2);
    refused_not_for_us(&me_too, 1, &mut alice, 1, &flipped);
    assert_eq!(
        deliver(&me_too, 1, &mut alice, 1, &m).unwrap().plaintext,
        b"note"
    );
    refused_not_for_us(&me_too, 1, &mut alice, 1, &flipped);
}

/// A message to another person (spec §11.6): the recipient's entries are
/// kind 0 and the sender's other devices' kind 1; each flipped is refused.
#[test]
fn a_peer_message_with_its_kind_flipped_is_refused() {
    let mut r = rng(10);
    let mut alice = person(&mut r, 2);
    let mut bob = person(&mut r, 2);
    let wire = send(&mut r, &mut alice, 0, &mut bob, b"to Bob");
    let parts = fanout::split(&wire).unwrap();
    let alice_too = Person {
        uk: alice.uk.clone(),
        devices: vec![],
        list: alice.list.clone(),
    };
    for (audience, id, m) in parts {
        match audience {
            fanout::Audience::Recipient => {
                let j = bob.devices.iter().position(|d| d.id == id).unwrap();
                refused_not_for_us(&alice, 1, &mut bob, j, &readdressed(&m, 1, id));
                assert_eq!(
                    deliver(&alice, 1, &mut bob, j, &m).unwrap().plaintext,
                    b"to Bob"
                );
            }
            fanout::Audience::OwnDevice => {
                let j = alice.devices.iter().position(|d| d.id == id).unwrap();
                refused_not_for_us(&alice_too, 1, &mut alice, j, &readdressed(&m, 0, id));
                assert_eq!(
                    deliver(&alice_too, 1, &mut alice, j, &m).unwrap().plaintext,
                    b"to Bob"
                );
            }
        }
    }
}
