//! `groups.json`: groups (spec §12; format in spec §4.14). One kind,
//! `group_run`: four people with one device each; Alice creates a group
//! with Bob, welcomes him, adds Carol, starts a sender chain and sends; Bob
//! reads; then every rejection of the issue is given to Bob's state with the
//! error class the library returns; then Alice removes Carol and a message
//! of Carol naming the new epoch is refused.
//!
//! Every object is built from the building blocks (labelled sign, hash, MAC
//! and expand, ChaCha20-Poly1305, padding) with the case's seeds, and Bob's
//! side runs the library's API (`Group::join`, `apply`, `accept_chain`,
//! `decrypt`, `to_bytes`) on them: Bob's state encoding after reading is an
//! output, so the API and the building blocks must agree.

use serde::{Deserialize, Serialize};
use sova::devices::{DeviceEntry, FanoutReceived, KnownUser, UserKey};
use sova::groups::Group;
use sova::kdf::{labeled_expand, labeled_hash, labeled_mac, labeled_sign};
use sova::labels;
use sova::ratchet::padding;
use sova::{CryptoProvider, Secret};

use super::devices::class;
use crate::family::{fixed, Case, CaseError, Family, FileGen, Kind};
use crate::Bytes;

/// The file name.
pub(crate) const FILE: &str = "groups.json";

/// The family of `groups.json`.
pub(crate) const FAMILY: Family = Family::new(
    FILE,
    "Groups: a membership log (create, add, remove) signed by device identity keys and \
     hash-chained into state hashes, a welcome, a sender chain offer bound by the device \
     identity, group messages with every chain step, key, nonce and signature, the reader's \
     state encoding, and every rejection (forged signatures, a non-member's and an \
     unauthorised member's operation, a stale epoch, a fork, a competing operation at the \
     head, a change-role that changes nothing, an over-long body, a replay, a removed \
     member's message, a chain over another device's session) with its error class (spec §12; \
     format: spec §4.14).",
    &[Kind::of::<GroupRun>()],
    generate,
);

const PEOPLE: usize = 4;

fn crypto<E: core::fmt::Display>(field: &str) -> impl Fn(E) -> CaseError + '_ {
    move |e| CaseError::rejected(field, e)
}

fn fail(field: &str) -> impl Fn(sova::groups::GroupError) -> CaseError + '_ {
    move |e| CaseError::check_failed(field, format!("refused: {e:?}"))
}

/// A refused object with its error class.
#[derive(Serialize, Deserialize, Clone, PartialEq, Eq, Debug)]
#[serde(deny_unknown_fields)]
struct Rejection {
    description: String,
    /// `operation`, `message` or `chain_offer`.
    object: String,
    bytes: Bytes,
    /// For a chain offer: the person (index) whose device's session carried it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    from: Option<u8>,
    error: String,
}

/// One message of Alice's chain with every intermediate value.
#[derive(Serialize, Deserialize, Clone, PartialEq, Eq, Debug)]
#[serde(deny_unknown_fields)]
struct Step {
    plaintext: Bytes,
    chain_key: Bytes,
    message_key: Bytes,
    aead_key: Bytes,
    nonce: Bytes,
    header: Bytes,
    message: Bytes,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupRun {
    description: String,
    /// Alice, Bob, Carol, Dave.
    user_key_seeds: Vec<Bytes>,
    /// Each person's device 1: the Ed25519 seed of `IK_sig`.
    device_seeds: Vec<Bytes>,
    /// Each device's `IK_dh` (any 32 bytes: only `IK_sig` signs here).
    device_dh: Vec<Bytes>,
    group_id: Bytes,
    chain_key: Bytes,
    chain_signing_seed: Bytes,
    /// An Ed25519 seed no list names (the forger's).
    forger_seed: Bytes,
    /// Carol's chain after her removal.
    removed_chain_key: Bytes,
    removed_signing_seed: Bytes,
    plaintexts: Vec<Bytes>,
    lists: Vec<Bytes>,
    create: Bytes,
    state_hash_0: Bytes,
    welcome: Bytes,
    add: Bytes,
    state_hash_1: Bytes,
    chain_offer: Bytes,
    steps: Vec<Step>,
    bob_state: Bytes,
    rejections: Vec<Rejection>,
    remove: Bytes,
    state_hash_2: Bytes,
    after_removal: Vec<Rejection>,
}

fn seed(field: &str, b: &Bytes) -> Result<Secret<32>, CaseError> {
    Ok(Secret::from_bytes(fixed::<32>(field, b.as_slice())?))
}

fn put_u32(v: &mut Vec<u8>, x: u32) {
    v.extend_from_slice(&x.to_be_bytes());
}

fn put_u64(v: &mut Vec<u8>, x: u64) {
    v.extend_from_slice(&x.to_be_bytes());
}

/// `RosterEntry` list with `u16(count)` (spec §12.2).
fn roster(members: &[([u8; 32], u8)]) -> Vec<u8> {
    let mut m = members.to_vec();
    m.sort();
    let mut v = (m.len() as u16).to_be_bytes().to_vec();
    for (u, r) in m {
        v.extend_from_slice(&u);
        v.push(r);
    }
    v
}

/// An operation signed with `seed` (spec §12.3).
#[allow(clippy::too_many_arguments)]
fn operation(
    p: &dyn CryptoProvider,
    seed: &Secret<32>,
    gid: &[u8],
    epoch: u64,
    prev: &[u8],
    signer: &[u8; 32],
    kind: u8,
    body: &[u8],
) -> Result<Vec<u8>, CaseError> {
    let mut v = b"SOVA-1 group op".to_vec();
    v.push(1);
    v.extend_from_slice(gid);
    put_u64(&mut v, epoch);
    v.extend_from_slice(prev);
    v.extend_from_slice(signer);
    put_u32(&mut v, 1);
    v.push(kind);
    v.extend_from_slice(body);
    let sig = labeled_sign(p, seed, labels::GROUP_OPERATION, &[&v]).map_err(crypto("operation"))?;
    v.extend_from_slice(&sig);
    Ok(v)
}

fn state_hash(p: &dyn CryptoProvider, op: &[u8], roster: &[u8]) -> Result<[u8; 32], CaseError> {
    labeled_hash(p, labels::GROUP_STATE, &[op, roster]).map_err(crypto("state hash"))
}

/// A chain offer (spec §12.5).
#[allow(clippy::too_many_arguments)]
fn offer(
    p: &dyn CryptoProvider,
    device_seed: &Secret<32>,
    gid: &[u8],
    epoch: u64,
    hash: &[u8],
    owner: &[u8; 32],
    spk: &[u8; 32],
    ck: &[u8],
) -> Result<Vec<u8>, CaseError> {
    let mut v = b"SOVA-1 group chain".to_vec();
    v.push(1);
    v.extend_from_slice(gid);
    put_u64(&mut v, epoch);
    v.extend_from_slice(hash);
    v.extend_from_slice(owner);
    put_u32(&mut v, 1);
    put_u32(&mut v, 0);
    v.extend_from_slice(spk);
    // spec §12.5: C commits to the index (0) and the chain key.
    let c = labeled_hash(
        p,
        labels::GROUP_CHAIN_COMMITMENT,
        &[&0u32.to_be_bytes(), ck],
    )
    .map_err(crypto("chain commitment"))?;
    let sig = labeled_sign(p, device_seed, labels::GROUP_CHAIN_BINDING, &[&v, &c])
        .map_err(crypto("chain_offer"))?;
    v.extend_from_slice(&sig);
    put_u32(&mut v, 0);
    v.extend_from_slice(ck);
    Ok(v)
}

/// Messages `0..texts.len()` of a chain (spec §12.5, §12.6).
#[allow(clippy::too_many_arguments)]
fn chain_messages(
    p: &dyn CryptoProvider,
    ck0: &Secret<32>,
    sk: &Secret<32>,
    gid: &[u8],
    epoch: u64,
    hash: &[u8],
    sender: &[u8; 32],
    texts: &[Bytes],
) -> Result<Vec<Step>, CaseError> {
    let mut ck = ck0.clone();
    let mut out = Vec::new();
    for (i, t) in texts.iter().enumerate() {
        let mk = labeled_mac(p, ck.expose(), labels::GROUP_MESSAGE_KEY, &[])
            .map_err(crypto("message_key"))?;
        let next =
            labeled_mac(p, ck.expose(), labels::GROUP_CHAIN, &[]).map_err(crypto("chain_key"))?;
        let mut header = vec![1u8, 0x30];
        header.extend_from_slice(gid);
        put_u64(&mut header, epoch);
        header.extend_from_slice(hash);
        header.extend_from_slice(sender);
        put_u32(&mut header, 1);
        put_u32(&mut header, 0);
        put_u32(&mut header, i as u32);
        let mut okm = [0u8; 44];
        labeled_expand(p, &mk, labels::GROUP_MESSAGE_KEYS, &header, &mut okm)
            .map_err(crypto("aead_key"))?;
        let key = Secret::<32>::from_bytes(fixed::<32>("aead_key", &okm[..32])?);
        let nonce = fixed::<12>("nonce", &okm[32..])?;
        let mut body = Vec::new();
        padding::pad_into(t.as_slice(), &mut body);
        let tag = p.aead_seal(&key, &nonce, &header, &mut body);
        let mut m = header.clone();
        put_u32(&mut m, (body.len() + 16) as u32);
        m.extend_from_slice(&body);
        m.extend_from_slice(&tag);
        let sig = labeled_sign(p, sk, labels::GROUP_MESSAGE, &[&m]).map_err(crypto("message"))?;
        m.extend_from_slice(&sig);
        out.push(Step {
            plaintext: t.clone(),
            chain_key: ck.expose().to_vec().into(),
            message_key: mk.expose().to_vec().into(),
            aead_key: okm[..32].to_vec().into(),
            nonce: okm[32..].to_vec().into(),
            header: header.into(),
            message: m.into(),
        });
        ck = next;
    }
    Ok(out)
}

impl GroupRun {
    #[allow(clippy::too_many_lines)]
    fn compute(p: &dyn CryptoProvider, input: GroupRunInputs) -> Result<Self, CaseError> {
        let GroupRunInputs {
            description,
            user_key_seeds,
            device_seeds,
            device_dh,
            group_id,
            chain_key,
            chain_signing_seed,
            forger_seed,
            removed_chain_key,
            removed_signing_seed,
            plaintexts,
        } = input;
        if user_key_seeds.len() != PEOPLE
            || device_seeds.len() != PEOPLE
            || device_dh.len() != PEOPLE
        {
            return Err(CaseError::malformed("user_key_seeds", "four people"));
        }
        let gid = fixed::<32>("group_id", group_id.as_slice())?;
        // Device lists: device 1 of each person, identity IK_sig || IK_dh.
        let mut users = Vec::new();
        let mut lists = Vec::new();
        let mut known = Vec::new();
        let mut dev_seeds = Vec::new();
        for i in 0..PEOPLE {
            let uk = UserKey::from_seed(seed(&format!("user_key_seeds[{i}]"), &user_key_seeds[i])?);
            let ds = seed(&format!("device_seeds[{i}]"), &device_seeds[i])?;
            let mut identity = [0u8; 64];
            identity[..32].copy_from_slice(&p.ed25519_public_key(&ds));
            identity[32..].copy_from_slice(&fixed::<32>(
                &format!("device_dh[{i}]"),
                device_dh[i].as_slice(),
            )?);
            let list = uk
                .sign_list(
                    1,
                    &[DeviceEntry {
                        device_id: 1,
                        identity,
                        admin: true,
                    }],
                )
                .map_err(crypto("lists"))?;
            known.push(KnownUser::new(uk.public(), list.to_bytes()).map_err(crypto("lists"))?);
            lists.push(Bytes::from(list.to_bytes().to_vec()));
            users.push(*uk.public());
            dev_seeds.push(ds);
        }
        let (alice, bob, carol, dave) = (users[0], users[1], users[2], users[3]);
        // Epoch 0: Alice (admin) and Bob (member).
        let r0 = roster(&[(alice, 1), (bob, 0)]);
        let create = operation(p, &dev_seeds[0], &gid, 0, &[0; 32], &alice, 0, &r0)?;
        let h0 = state_hash(p, &create, &r0)?;
        let mut welcome = b"SOVA-1 group welcome".to_vec();
        welcome.push(1);
        put_u32(&mut welcome, create.len() as u32);
        welcome.extend_from_slice(&create);
        welcome.extend_from_slice(&r0);
        put_u32(&mut welcome, 0);
        // The welcome and the chain offer as the fan-out layer hands them
        // over from Alice's device 1 (spec §11.6; the case records objects,
        // not pairwise messages).
        let from_alice =
            |plaintext: &[u8]| FanoutReceived::hazmat_new(plaintext.to_vec(), alice, 1);
        let mut g = Group::join(bob, 1, &from_alice(&welcome), &known).map_err(fail("welcome"))?;
        if g.state_hash() != &h0 {
            return Err(CaseError::check_failed("state_hash_0", "the API's differs"));
        }
        // Epoch 1: Alice adds Carol.
        let mut entry = carol.to_vec();
        entry.push(0);
        let add = operation(p, &dev_seeds[0], &gid, 1, &h0, &alice, 1, &entry)?;
        let r1 = roster(&[(alice, 1), (bob, 0), (carol, 0)]);
        let h1 = state_hash(p, &add, &r1)?;
        g.apply(&add, &known).map_err(fail("add"))?;
        if g.state_hash() != &h1 {
            return Err(CaseError::check_failed("state_hash_1", "the API's differs"));
        }
        // Alice's chain, over the pairwise session from Alice's device.
        let ck = seed("chain_key", &chain_key)?;
        let sk = seed("chain_signing_seed", &chain_signing_seed)?;
        let spk = p.ed25519_public_key(&sk);
        let chain_offer = offer(p, &dev_seeds[0], &gid, 1, &h1, &alice, &spk, ck.expose())?;
        g.accept_chain(&from_alice(&chain_offer), &known)
            .map_err(fail("chain_offer"))?;
        let steps = chain_messages(p, &ck, &sk, &gid, 1, &h1, &alice, &plaintexts)?;
        // Bob reads them in reverse order: every one is read.
        for (i, s) in steps.iter().enumerate().rev() {
            let got = g
                .decrypt(s.message.as_slice(), &known)
                .map_err(fail("steps"))?;
            if got.plaintext != s.plaintext.as_slice() {
                return Err(CaseError::check_failed(
                    &format!("steps[{i}].plaintext"),
                    "decrypts to another text",
                ));
            }
        }
        let bob_state = g.to_bytes();

        // Rejections at Bob's state.
        let forger = seed("forger_seed", &forger_seed)?;
        let mut ghost = [0x66u8; 32].to_vec();
        ghost.push(1);
        let mut rej: Vec<(String, &str, Vec<u8>, Option<u8>)> = Vec::new();
        let mut add_rej = |d: &str, o: &'static str, b: Vec<u8>, from: Option<u8>| {
            rej.push((d.to_owned(), o, b, from));
        };
        add_rej(
            "a ghost member added in Alice's name, signed by a key her list does not hold",
            "operation",
            operation(p, &forger, &gid, 2, &h1, &alice, 1, &ghost)?,
            None,
        );
        add_rej(
            "an add by Dave, certified but not a member",
            "operation",
            operation(p, &dev_seeds[3], &gid, 2, &h1, &dave, 1, &ghost)?,
            None,
        );
        add_rej(
            "an add by Bob, a member without the admin role",
            "operation",
            operation(p, &dev_seeds[1], &gid, 2, &h1, &bob, 1, &ghost)?,
            None,
        );
        let mut rm_alice = alice.to_vec();
        rm_alice.truncate(32);
        add_rej(
            "an operation of epoch 0, which Bob has left",
            "operation",
            operation(p, &dev_seeds[0], &gid, 0, &[0; 32], &alice, 2, &bob)?,
            None,
        );
        add_rej(
            "a fork: epoch 2 on another history than Bob's",
            "operation",
            operation(p, &dev_seeds[0], &gid, 2, &h0, &alice, 2, &bob)?,
            None,
        );
        add_rej(
            "Alice removes herself, the last admin",
            "operation",
            operation(p, &dev_seeds[0], &gid, 2, &h1, &alice, 2, &rm_alice)?,
            None,
        );
        add_rej(
            "a replayed message",
            "message",
            steps[0].message.as_slice().to_vec(),
            None,
        );
        let forged = chain_messages(
            p,
            &ck,
            &forger,
            &gid,
            1,
            &h1,
            &alice,
            &[plaintexts[0].clone(), Bytes::from(b"forged".to_vec())],
        )?;
        add_rej(
            "a message in Alice's name signed by another key than her chain's (a member who \
             holds her chain key)",
            "message",
            forged[1].message.as_slice().to_vec(),
            None,
        );
        let mut other_hash = steps[0].message.as_slice().to_vec();
        other_hash[42] ^= 1;
        add_rej(
            "a message naming Bob's epoch with another state hash",
            "message",
            other_hash,
            None,
        );
        add_rej(
            "Alice's chain offer delivered over Carol's pairwise session",
            "chain_offer",
            chain_offer.clone(),
            Some(2),
        );
        add_rej(
            "Alice's chain offer again (a replay)",
            "chain_offer",
            chain_offer.clone(),
            Some(0),
        );
        let mut dave_member = dave.to_vec();
        dave_member.push(0);
        add_rej(
            "a competing operation at Bob's head: Alice's genuine add of Dave at epoch 1 \
             (never replaces the applied one, §12.4)",
            "operation",
            operation(p, &dev_seeds[0], &gid, 1, &h0, &alice, 1, &dave_member)?,
            None,
        );
        let mut bob_member = bob.to_vec();
        bob_member.push(0);
        add_rej(
            "a change-role that changes nothing: Bob made a member again",
            "operation",
            operation(p, &dev_seeds[0], &gid, 2, &h1, &alice, 3, &bob_member)?,
            None,
        );
        let mut too_long = steps[0].message.as_slice().to_vec();
        too_long[118..122].copy_from_slice(&1_048_593u32.to_be_bytes());
        add_rej(
            "a message whose body length is one above the padded longest plaintext and tag",
            "message",
            too_long,
            None,
        );
        let rejections = classify(&g, &known, &users, rej)?;

        // Epoch 2: Alice removes Carol; Carol's message naming it is refused.
        let remove = operation(p, &dev_seeds[0], &gid, 2, &h1, &alice, 2, &carol)?;
        let r2 = roster(&[(alice, 1), (bob, 0)]);
        let h2 = state_hash(p, &remove, &r2)?;
        g.apply(&remove, &known).map_err(fail("remove"))?;
        if g.state_hash() != &h2 {
            return Err(CaseError::check_failed("state_hash_2", "the API's differs"));
        }
        let rck = seed("removed_chain_key", &removed_chain_key)?;
        let rsk = seed("removed_signing_seed", &removed_signing_seed)?;
        let carols = chain_messages(
            p,
            &rck,
            &rsk,
            &gid,
            2,
            &h2,
            &carol,
            &[Bytes::from(b"still here?".to_vec())],
        )?;
        let carol_offer = offer(
            p,
            &dev_seeds[2],
            &gid,
            2,
            &h2,
            &carol,
            &p.ed25519_public_key(&rsk),
            rck.expose(),
        )?;
        let after_removal = classify(
            &g,
            &known,
            &users,
            vec![
                (
                    "a message of Carol after her removal, naming the new epoch".into(),
                    "message",
                    carols[0].message.as_slice().to_vec(),
                    None,
                ),
                (
                    "a chain offer of Carol after her removal".into(),
                    "chain_offer",
                    carol_offer,
                    Some(2),
                ),
                (
                    "a message of the epoch before the removal".into(),
                    "message",
                    steps[1].message.as_slice().to_vec(),
                    None,
                ),
                (
                    "a message naming the epoch before the removal with another state hash \
                     than Bob held there (a fork, not a delay)"
                        .into(),
                    "message",
                    {
                        let mut m = steps[1].message.as_slice().to_vec();
                        m[42] ^= 1;
                        m
                    },
                    None,
                ),
            ],
        )?;
        Ok(Self {
            description,
            user_key_seeds,
            device_seeds,
            device_dh,
            group_id,
            chain_key,
            chain_signing_seed,
            forger_seed,
            removed_chain_key,
            removed_signing_seed,
            plaintexts,
            lists,
            create: create.into(),
            state_hash_0: h0.to_vec().into(),
            welcome: welcome.into(),
            add: add.into(),
            state_hash_1: h1.to_vec().into(),
            chain_offer: chain_offer.into(),
            steps,
            bob_state: bob_state.into(),
            rejections,
            remove: remove.into(),
            state_hash_2: h2.to_vec().into(),
            after_removal,
        })
    }
}

/// Gives each object to a copy of `g`; each must be refused, leaving the
/// state unchanged. Returns the rejections with their error classes.
fn classify(
    g: &Group,
    known: &[KnownUser],
    users: &[[u8; 32]],
    cases: Vec<(String, &str, Vec<u8>, Option<u8>)>,
) -> Result<Vec<Rejection>, CaseError> {
    let mut out = Vec::new();
    for (description, object, bytes, from) in cases {
        let mut h = g.clone();
        let got = match object {
            "operation" => h.apply(&bytes, known).map(|_| ()),
            "message" => h.decrypt(&bytes, known).map(|_| ()),
            _ => {
                let who = users[usize::from(from.unwrap_or(0))];
                h.accept_chain(&FanoutReceived::hazmat_new(bytes.clone(), who, 1), known)
            }
        };
        let error = match got {
            Ok(()) => {
                return Err(CaseError::check_failed(
                    "rejections",
                    format!("accepted: {description}"),
                ))
            }
            Err(e) => class(&e),
        };
        if h != *g {
            return Err(CaseError::check_failed(
                "rejections",
                format!("a refusal changed the state: {description}"),
            ));
        }
        out.push(Rejection {
            description,
            object: object.to_owned(),
            bytes: bytes.into(),
            from,
            error,
        });
    }
    Ok(out)
}

/// The input fields of a run.
struct GroupRunInputs {
    description: String,
    user_key_seeds: Vec<Bytes>,
    device_seeds: Vec<Bytes>,
    device_dh: Vec<Bytes>,
    group_id: Bytes,
    chain_key: Bytes,
    chain_signing_seed: Bytes,
    forger_seed: Bytes,
    removed_chain_key: Bytes,
    removed_signing_seed: Bytes,
    plaintexts: Vec<Bytes>,
}

impl Case for GroupRun {
    const KIND: &'static str = "group_run";
    fn recompute(&self, p: &dyn CryptoProvider) -> Result<Self, CaseError> {
        Self::compute(
            p,
            GroupRunInputs {
                description: self.description.clone(),
                user_key_seeds: self.user_key_seeds.clone(),
                device_seeds: self.device_seeds.clone(),
                device_dh: self.device_dh.clone(),
                group_id: self.group_id.clone(),
                chain_key: self.chain_key.clone(),
                chain_signing_seed: self.chain_signing_seed.clone(),
                forger_seed: self.forger_seed.clone(),
                removed_chain_key: self.removed_chain_key.clone(),
                removed_signing_seed: self.removed_signing_seed.clone(),
                plaintexts: self.plaintexts.clone(),
            },
        )
    }
}

fn generate(g: &mut FileGen<'_>) -> Result<(), CaseError> {
    for (desc, texts) in [
        (
            "three messages of 0, 5 and 200 bytes",
            vec![Vec::new(), b"hello".to_vec(), vec![0x42; 200]],
        ),
        ("two messages", vec![b"first".to_vec(), b"second".to_vec()]),
    ] {
        g.case(|c| {
            let many = |name: &str, n: usize| -> Vec<Bytes> {
                (0..PEOPLE)
                    .map(|i| c.bytes(&format!("{name}[{i}]"), n).into())
                    .collect()
            };
            GroupRun::compute(
                c.provider(),
                GroupRunInputs {
                    description: desc.into(),
                    user_key_seeds: many("user_key_seeds", 32),
                    device_seeds: many("device_seeds", 32),
                    device_dh: many("device_dh", 32),
                    group_id: c.bytes("group_id", 32).into(),
                    chain_key: c.bytes("chain_key", 32).into(),
                    chain_signing_seed: c.bytes("chain_signing_seed", 32).into(),
                    forger_seed: c.bytes("forger_seed", 32).into(),
                    removed_chain_key: c.bytes("removed_chain_key", 32).into(),
                    removed_signing_seed: c.bytes("removed_signing_seed", 32).into(),
                    plaintexts: texts.iter().map(|t| Bytes::from(t.clone())).collect(),
                },
            )
        })?;
    }
    Ok(())
}
