//! Groups (spec §12) against their primitive floors.
//!
//! * `group_encrypt/*`, `group_decrypt/*` — one 1 KiB group message on an
//!   established sender chain:
//!   - `sova`: [`Group::encrypt`] / [`Group::decrypt`] (each iteration on a
//!     fresh copy of the group, made outside the measurement);
//!   - `floor`: only the primitive calls a message needs, through the same
//!     provider, labels encoded in advance: two HMAC-SHA-256 (message key,
//!     next chain key), one HKDF-Expand of 44 bytes over the header, one
//!     ChaCha20-Poly1305 seal (open) of the padded body and one Ed25519
//!     signature (strict verification) of the message.
//! * `catch_up_1000` — 1,000 queued messages of one chain read in order:
//!   one by one ([`Group::decrypt`], `sova`) and in one batch
//!   ([`Group::decrypt_batch`], `sova_batch`: signatures verified together,
//!   spec §12.6.1), against 1,000 times the decrypt floor (which verifies
//!   each signature on its own).
//! * `batch_verify/{one_by_one,batch}/n` — n signatures of 1 KiB group
//!   messages under one key, strictly verified one by one and in one batch
//!   ([`CryptoProvider::ed25519_verify_batch`], spec §12.6.1), n = 64, 128,
//!   256: where a batch starts to pay.
//! * `rekey_1000x5` — after a membership change in a group of 1,000
//!   members with 5 devices each, one device starts a fresh chain and hands
//!   its offer to the 4,999 other devices: `sova` is [`Group::start_chain`],
//!   999 [`fanout::encrypt_to_recipient`] calls (one per other member) and
//!   one [`fanout::encrypt`] note to self (the own user's 4 other devices)
//!   on established sessions; `floor` is 4,999 ratchet
//!   encryptions of the offer ([`Conversation::encrypt`]), the pairwise
//!   messages alone. The bytes sent are printed once.
//!
//! Run: `cargo bench --bench groups`. Results are in `benches/RESULTS.md`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use sova::devices::fanout::{self, Audience, DeviceMessage, Target};
use sova::devices::{DeviceEntry, KnownUser, UserKey};
use sova::groups::{Group, Member, Role};
use sova::kdf::encode_label;
use sova::labels;
use sova::provider::Ed25519BatchItem;
use sova::ratchet::padding;
use sova::ratchet::HeaderMode;
use sova::session::{Account, Conversation};
use sova::{CryptoProvider, DefaultProvider, Secret};
use vodozemac::megolm::{GroupSession, InboundGroupSession, SessionConfig};

const MESSAGE_LEN: usize = 1024;

fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

struct Pair {
    known: Vec<KnownUser>,
    alice: Group,
    bob: Group,
}

/// Alice and Bob, one device each, Bob holding Alice's chain.
fn pair() -> Pair {
    let mut rng = ChaCha20Rng::from_seed([1; 32]);
    let mut known = Vec::new();
    let mut accounts = Vec::new();
    for _ in 0..2 {
        let uk = UserKey::generate(&mut rng).unwrap();
        let a = Account::new(&mut rng).unwrap();
        let e = DeviceEntry {
            device_id: 1,
            identity: a.identity_key(),
            admin: true,
        };
        known.push(KnownUser::new(uk.public(), uk.sign_list(1, &[e]).unwrap().to_bytes()).unwrap());
        accounts.push(a);
    }
    let (alice_uk, bob_uk) = (*known[0].user_key(), *known[1].user_key());
    let roster = [
        Member {
            user: alice_uk,
            role: Role::Admin,
        },
        Member {
            user: bob_uk,
            role: Role::Member,
        },
    ];
    let (mut alice, create) =
        Group::create(&mut rng, &accounts[0], alice_uk, 1, &roster, &known).unwrap();
    // Welcome and chain offer by fan-out, over the pairwise session.
    let offer = alice.start_chain(&mut rng, &accounts[0]).unwrap();
    let bundle = accounts[1].bundle(None, None).unwrap().to_bytes();
    let ik = accounts[1].identity_key();
    let mut to_bob =
        Conversation::start(&accounts[0], &mut rng, &ik, &bundle, HeaderMode::Plain).unwrap();
    let mut from_alice = Conversation::new(accounts[0].identity_key());
    let mut deliver = |payload: &[u8], rng: &mut ChaCha20Rng| {
        let mut targets = [Target {
            audience: Audience::Recipient,
            device_id: 1,
            conversation: &mut to_bob,
        }];
        let wire =
            fanout::encrypt_to_recipient(&known[0], 1, &known[1], &mut targets, payload, rng)
                .unwrap();
        let (_, _, entry) = fanout::split(&wire).unwrap().remove(0);
        let msg = DeviceMessage::parse(&entry).unwrap();
        fanout::receive(
            &known[1],
            &known[0],
            &mut from_alice,
            &mut accounts[1],
            &msg,
        )
        .unwrap()
    };
    let w = alice.welcome(&create).unwrap();
    let mut bob = Group::join(bob_uk, 1, &deliver(&w, &mut rng), &known).unwrap();
    bob.accept_chain(&deliver(&offer, &mut rng), &known)
        .unwrap();
    Pair { known, alice, bob }
}

/// The floor's keys and encoded labels.
struct Floor {
    p: DefaultProvider,
    ck: Vec<u8>,
    sk: Secret<32>,
    spk: [u8; 32],
    l_mk: Vec<u8>,
    l_ck: Vec<u8>,
    l_keys: Vec<u8>,
    l_sig: Vec<u8>,
    header: Vec<u8>,
}

fn floor() -> Floor {
    let p = DefaultProvider::default();
    let sk = Secret::from_bytes([7; 32]);
    let spk = p.ed25519_public_key(&sk);
    Floor {
        ck: vec![9; 32],
        sk,
        spk,
        l_mk: encode_label(labels::GROUP_MESSAGE_KEY).unwrap(),
        l_ck: encode_label(labels::GROUP_CHAIN).unwrap(),
        l_keys: encode_label(labels::GROUP_MESSAGE_KEYS).unwrap(),
        l_sig: encode_label(labels::GROUP_MESSAGE).unwrap(),
        header: vec![3; 118],
        p,
    }
}

impl Floor {
    /// Message key, next chain key, AEAD key and nonce.
    fn keys(&self) -> (Secret<32>, [u8; 12]) {
        let mk = self.p.hmac_sha256(&self.ck, &[&self.l_mk]);
        let _next = black_box(self.p.hmac_sha256(&self.ck, &[&self.l_ck]));
        let mut okm = [0u8; 44];
        self.p
            .hkdf_expand(
                &mk,
                &[&self.l_keys, &44u16.to_be_bytes(), &self.header],
                &mut okm,
            )
            .unwrap();
        let key = Secret::try_from_slice(&okm[..32]).unwrap();
        (key, okm[32..].try_into().unwrap())
    }

    fn encrypt(&self, buf: &mut Vec<u8>, plaintext: &[u8]) {
        let (key, nonce) = self.keys();
        buf.clear();
        buf.extend_from_slice(&self.l_sig);
        buf.extend_from_slice(&self.header);
        let start = buf.len();
        padding::pad_into(plaintext, buf);
        let tag = self
            .p
            .aead_seal(&key, &nonce, &self.header, &mut buf[start..]);
        buf.extend_from_slice(&tag);
        black_box(self.p.ed25519_sign(&self.sk, buf));
    }

    /// `signed` = label || message without signature; `sig` its signature.
    fn decrypt(
        &self,
        signed: &[u8],
        sig: &[u8; 64],
        body: &mut Vec<u8>,
        ct: &[u8],
        tag: &[u8; 16],
    ) {
        self.p.ed25519_verify(&self.spk, signed, sig).unwrap();
        let (key, nonce) = self.keys();
        body.clear();
        body.extend_from_slice(ct);
        self.p
            .aead_open(&key, &nonce, &self.header, body, tag)
            .unwrap();
        black_box(padding::unpadded_len(body));
    }
}

fn message_ops(c: &mut Criterion) {
    let pair = pair();
    let plaintext = vec![0x61u8; MESSAGE_LEN];
    let mut g = c.benchmark_group("group_encrypt");
    g.bench_function("sova", |b| {
        b.iter_batched_ref(
            || pair.alice.clone(),
            |a| black_box(a.encrypt(black_box(&plaintext)).unwrap()),
            BatchSize::SmallInput,
        )
    });
    let fl = floor();
    let mut buf = Vec::with_capacity(2048);
    g.bench_function("floor", |b| {
        b.iter(|| fl.encrypt(&mut buf, black_box(&plaintext)))
    });
    // The anchor: vodozemac's Megolm (one ratchet step, AES-CBC, HMAC and
    // an Ed25519 signature per message).
    let mut megolm = GroupSession::new(SessionConfig::version_1());
    g.bench_function("vodozemac_megolm", |b| {
        b.iter(|| black_box(megolm.encrypt(black_box(&plaintext))))
    });
    g.finish();

    let mut alice = pair.alice.clone();
    let wire = alice.encrypt(&plaintext).unwrap();
    let mut g = c.benchmark_group("group_decrypt");
    g.bench_function("sova", |b| {
        b.iter_batched_ref(
            || pair.bob.clone(),
            |bob| black_box(bob.decrypt(black_box(&wire), &pair.known).unwrap()),
            BatchSize::SmallInput,
        )
    });
    // The floor's inputs: a genuine signature over the same length.
    let mut signed = fl.l_sig.clone();
    signed.extend_from_slice(&wire[..wire.len() - 64]);
    let p = DefaultProvider::default();
    let sig = p.ed25519_sign(&fl.sk, &signed);
    let (key, nonce) = fl.keys();
    let mut ct = Vec::new();
    padding::pad_into(&plaintext, &mut ct);
    let tag = p.aead_seal(&key, &nonce, &fl.header, &mut ct);
    let mut body = Vec::with_capacity(2048);
    g.bench_function("floor", |b| {
        b.iter(|| fl.decrypt(black_box(&signed), &sig, &mut body, &ct, &tag))
    });
    // The anchor: a Megolm message at the inbound session's first index,
    // read by a fresh inbound session (made outside the measurement), as
    // Sova's is read by a fresh copy of the group.
    let mut outbound = GroupSession::new(SessionConfig::version_1());
    let session_key = outbound.session_key();
    let megolm_wire = outbound.encrypt(&plaintext);
    g.bench_function("vodozemac_megolm", |b| {
        b.iter_batched_ref(
            || InboundGroupSession::new(&session_key, SessionConfig::version_1()),
            |s| black_box(s.decrypt(black_box(&megolm_wire)).unwrap()),
            BatchSize::SmallInput,
        )
    });
    g.finish();

    // 1,000 queued messages of one chain, read in order.
    let mut alice = pair.alice.clone();
    let queued: Vec<Vec<u8>> = (0..1000)
        .map(|_| alice.encrypt(&plaintext).unwrap())
        .collect();
    let mut g = c.benchmark_group("catch_up_1000");
    g.sample_size(10);
    g.bench_function("sova", |b| {
        b.iter_batched_ref(
            || pair.bob.clone(),
            |bob| {
                for m in &queued {
                    black_box(bob.decrypt(m, &pair.known).unwrap());
                }
            },
            BatchSize::SmallInput,
        )
    });
    let refs: Vec<&[u8]> = queued.iter().map(Vec::as_slice).collect();
    let mut rng = ChaCha20Rng::from_seed([2; 32]);
    g.bench_function("sova_batch", |b| {
        b.iter_batched_ref(
            || pair.bob.clone(),
            |bob| {
                let got = bob.decrypt_batch(black_box(&refs), &pair.known, &mut rng);
                assert!(got.iter().all(Result::is_ok));
                black_box(got)
            },
            BatchSize::SmallInput,
        )
    });
    g.bench_function("floor", |b| {
        b.iter(|| {
            for _ in 0..1000 {
                fl.decrypt(black_box(&signed), &sig, &mut body, &ct, &tag);
            }
        })
    });
    g.finish();

    // Where a batch starts to pay: n group message signatures of one chain
    // verified one by one and in one batch (the provider calls alone).
    let label = encode_label(labels::GROUP_MESSAGE).unwrap();
    let parsed: Vec<(&[u8], [u8; 64])> = queued
        .iter()
        .map(|m| {
            let signed = &m[..m.len() - 64];
            (
                signed,
                p.ed25519_sign(&fl.sk, &[&label[..], signed].concat()),
            )
        })
        .collect();
    let spk = fl.spk;
    let mut g = c.benchmark_group("batch_verify");
    g.sample_size(10);
    for n in [64usize, 128, 256] {
        let parts: Vec<[&[u8]; 2]> = parsed[..n].iter().map(|(m, _)| [&label[..], *m]).collect();
        let items: Vec<Ed25519BatchItem<'_>> = parsed[..n]
            .iter()
            .zip(&parts)
            .map(|((_, sig), parts)| Ed25519BatchItem {
                public_key: &spk,
                message: parts,
                signature: sig,
            })
            .collect();
        let joined: Vec<Vec<u8>> = parts.iter().map(|p| p.concat()).collect();
        g.bench_function(format!("one_by_one/{n}"), |b| {
            b.iter(|| {
                for (m, (_, sig)) in joined.iter().zip(&parsed[..n]) {
                    p.ed25519_verify(&spk, black_box(m), sig).unwrap();
                }
            })
        });
        let random = vec![[7u8; 32]; n];
        g.bench_function(format!("batch/{n}"), |b| {
            b.iter(|| p.ed25519_verify_batch(black_box(&items), &random).unwrap())
        });
    }
    g.finish();
}

/// One device of a 1,000 × 5 group hands a fresh chain to the 4,999 others.
fn rekey(c: &mut Criterion) {
    const MEMBERS: usize = 1000;
    const PER: u32 = 5;
    let mut rng = ChaCha20Rng::from_seed([2; 32]);
    let mut known = Vec::new();
    let mut accounts: Vec<Vec<Account>> = Vec::new();
    for _ in 0..MEMBERS {
        let uk = UserKey::generate(&mut rng).unwrap();
        let accts: Vec<Account> = (0..PER).map(|_| Account::new(&mut rng).unwrap()).collect();
        let entries: Vec<DeviceEntry> = accts
            .iter()
            .enumerate()
            .map(|(i, a)| DeviceEntry {
                device_id: i as u32 + 1,
                identity: a.identity_key(),
                admin: i == 0,
            })
            .collect();
        known.push(
            KnownUser::new(uk.public(), uk.sign_list(1, &entries).unwrap().to_bytes()).unwrap(),
        );
        accounts.push(accts);
    }
    let members: Vec<Member> = known
        .iter()
        .enumerate()
        .map(|(i, k)| Member {
            user: *k.user_key(),
            role: if i == 0 { Role::Admin } else { Role::Member },
        })
        .collect();
    let me = *known[0].user_key();
    let (mut group, _) = Group::create(&mut rng, &accounts[0][0], me, 1, &members, &known).unwrap();

    // Sessions from device 1 of member 0 to every other device, each
    // confirmed by a reply (steady state: no initial messages).
    let mut sender_account = accounts[0].remove(0);
    let mut convs: Vec<Vec<(u32, Conversation)>> = Vec::new();
    for (u, accts) in accounts.iter_mut().enumerate() {
        let mut row = Vec::new();
        for (i, a) in accts.iter_mut().enumerate() {
            let id = if u == 0 { i as u32 + 2 } else { i as u32 + 1 };
            let bundle = a.bundle(None, None).unwrap().to_bytes();
            let mut c = Conversation::start(
                &sender_account,
                &mut rng,
                &a.identity_key(),
                &bundle,
                HeaderMode::Plain,
            )
            .unwrap();
            let first = c.encrypt(&mut rng, b"hi").unwrap();
            let mut peer = Conversation::new(sender_account.identity_key());
            peer.decrypt(a, &first).unwrap();
            let reply = peer.encrypt(&mut rng, b"ok").unwrap();
            c.decrypt(&mut sender_account, &reply).unwrap();
            row.push((id, c));
        }
        convs.push(row);
    }
    let sender = &sender_account;
    // Each other member gets a recipient-only fan-out message; the own
    // other devices get the offer once, by a note to self (spec §12.5).
    let hand_out = |group: &mut Group,
                    convs: &mut Vec<Vec<(u32, Conversation)>>,
                    rng: &mut ChaCha20Rng|
     -> (usize, usize) {
        let offer = group.start_chain(rng, sender).unwrap();
        let mut bytes = 0usize;
        let mut entries = 0usize;
        let (own, rest) = convs.split_at_mut(1);
        for (i, row) in rest.iter_mut().enumerate() {
            let mut targets: Vec<Target<'_>> = row
                .iter_mut()
                .map(|(id, c)| Target {
                    audience: Audience::Recipient,
                    device_id: *id,
                    conversation: c,
                })
                .collect();
            entries += targets.len();
            let wire = fanout::encrypt_to_recipient(
                &known[0],
                1,
                &known[i + 1],
                &mut targets,
                &offer,
                rng,
            )
            .unwrap();
            bytes += wire.len();
        }
        let mut targets: Vec<Target<'_>> = own[0]
            .iter_mut()
            .map(|(id, c)| Target {
                audience: Audience::OwnDevice,
                device_id: *id,
                conversation: c,
            })
            .collect();
        entries += targets.len();
        let wire = fanout::encrypt(&known[0], 1, &known[0], &mut targets, &offer, rng).unwrap();
        bytes += wire.len();
        (bytes, entries)
    };
    let (bytes, entries) = hand_out(&mut group, &mut convs, &mut rng);
    eprintln!(
        "rekey_1000x5: one device's fresh chain is {bytes} bytes on the wire in 999 \
         recipient-only fan-out messages and one note to self ({entries} pairwise messages)"
    );
    let mut g = c.benchmark_group("rekey_1000x5");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(10));
    g.bench_function("sova", |b| {
        b.iter(|| black_box(hand_out(&mut group, &mut convs, &mut rng)))
    });
    let offer = vec![0x55u8; 263];
    g.bench_function("floor", |b| {
        b.iter(|| {
            for row in convs.iter_mut() {
                for (_, c) in row.iter_mut() {
                    black_box(c.encrypt(&mut rng, &offer).unwrap());
                }
            }
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = config();
    targets = message_ops, rekey
}
criterion_main!(benches);
