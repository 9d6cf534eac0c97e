//! The device states of `state-encodings.json` (spec §11.9, format in spec
//! §4.11): a person as a device knows them (`KnownUserState`) after the
//! directory's updates (spec §11.4) or after linking (spec §11.5), the user
//! key of an admin device (`UserKeyState`) as drawn or as received in a link,
//! both sealed (kinds 4 and 5, spec §8.3), and encodings a reader must
//! reject, one or more per rule of §11.9 and §8.1 and several breaking two
//! rules, so that the order of the checks is fixed.

use serde::{Deserialize, Serialize};
use sova::devices::{KnownUser, LinkRequest, ListChange, UserKey};
use sova::{CryptoProvider, Secret};

use super::devices::{class, raw_list, secrets, LinkCase, LinkInputs};
use super::state_encodings::{checked, flip_last, reject, SealedState};
use crate::family::{fixed, Case, CaseError, FileGen, Inputs};
use crate::replay::ReplayRng;
use crate::Bytes;

const KNOWN_USER_MAGIC: &[u8] = b"SOVA-1 known user";
const USER_KEY_MAGIC: &[u8] = b"SOVA-1 user key";

/// `KnownUserState` of spec §11.9 from the raw list bytes (any `len`).
fn known_user_bytes(list: &[u8]) -> Vec<u8> {
    checked(ku_body(KNOWN_USER_MAGIC, 1, list.len() as u32, list, &[]))
}

/// The bytes before the check, from raw fields.
fn ku_body(magic: &[u8], version: u8, len: u32, list: &[u8], after: &[u8]) -> Vec<u8> {
    [magic, &[version], &len.to_be_bytes(), list, after].concat()
}

/// `UserKeyState` before the check, from raw fields.
fn uk_body(magic: &[u8], version: u8, seed: &[u8], after: &[u8]) -> Vec<u8> {
    [magic, &[version], seed, after].concat()
}

/// A person whose lists were offered in turn to a device's directory, then
/// the device's `KnownUserState` for that person.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct KnownUserState {
    description: String,
    user_key: Bytes,
    lists: Vec<Bytes>,
    outcomes: Vec<String>,
    epoch: u64,
    list_hash: Bytes,
    encoding: Bytes,
}

impl KnownUserState {
    fn compute(description: String, user_key: Bytes, lists: Vec<Bytes>) -> Result<Self, CaseError> {
        let uk = fixed::<32>("user_key", user_key.as_slice())?;
        let mut known: Option<KnownUser> = None;
        let mut outcomes = Vec::new();
        for (i, list) in lists.iter().enumerate() {
            let at = format!("lists[{i}]");
            let outcome = match known.as_mut() {
                None => {
                    known = Some(
                        KnownUser::new(&uk, list.as_slice())
                            .map_err(|e| CaseError::rejected(&at, e))?,
                    );
                    "accepted".to_owned()
                }
                Some(k) => match k.update(list.as_slice()) {
                    Ok(ListChange::Unchanged) => "unchanged".to_owned(),
                    Ok(ListChange::Accepted { .. }) => "accepted".to_owned(),
                    Ok(_) => return Err(CaseError::check_failed(&at, "unknown change")),
                    Err(e) => class(&e),
                },
            };
            outcomes.push(outcome);
        }
        let known = known.ok_or_else(|| CaseError::malformed("lists", "no list"))?;
        let encoding = known.to_bytes();
        if encoding != known_user_bytes(known.list().to_bytes()) {
            return Err(CaseError::check_failed(
                "encoding",
                "KnownUser::to_bytes differs from the layout of spec §11.9",
            ));
        }
        let back =
            KnownUser::from_bytes(&encoding).map_err(|e| CaseError::rejected("encoding", e))?;
        if back.to_bytes() != encoding
            || back.user_key() != &uk
            || back.list_hash() != known.list_hash()
        {
            return Err(CaseError::check_failed(
                "encoding",
                "decoding gives another person",
            ));
        }
        Ok(Self {
            description,
            user_key,
            lists,
            outcomes,
            epoch: known.list().epoch(),
            list_hash: known.list_hash().to_vec().into(),
            encoding: encoding.into(),
        })
    }
}

impl Case for KnownUserState {
    const KIND: &'static str = "known_user_state";
    fn recompute(&self, _p: &dyn CryptoProvider) -> Result<Self, CaseError> {
        Self::compute(
            self.description.clone(),
            self.user_key.clone(),
            self.lists.clone(),
        )
    }
}

/// A user key created from its one draw, then its `UserKeyState`.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct UserKeyState {
    description: String,
    seed: Bytes,
    user_key: Bytes,
    encoding: Bytes,
}

impl UserKeyState {
    fn compute(
        p: &dyn CryptoProvider,
        description: String,
        seed: Bytes,
    ) -> Result<Self, CaseError> {
        let s = fixed::<32>("seed", seed.as_slice())?;
        let mut rng = ReplayRng::new(vec![s.to_vec()]);
        let uk = UserKey::generate(&mut rng).map_err(|e| CaseError::rejected("seed", e))?;
        rng.finish_exact(&[32])
            .map_err(|e| CaseError::check_failed("seed", e))?;
        let public = p.ed25519_public_key(&Secret::from_bytes(s));
        if &public != uk.public() {
            return Err(CaseError::check_failed(
                "user_key",
                "UserKey::public differs",
            ));
        }
        let encoding = uk.to_bytes();
        if encoding != checked(uk_body(USER_KEY_MAGIC, 1, &s, &[])) {
            return Err(CaseError::check_failed(
                "encoding",
                "UserKey::to_bytes differs from the layout of spec §11.9",
            ));
        }
        let back =
            UserKey::from_bytes(&encoding).map_err(|e| CaseError::rejected("encoding", e))?;
        if back.public() != uk.public() || back.to_bytes() != encoding {
            return Err(CaseError::check_failed(
                "encoding",
                "decoding gives another key",
            ));
        }
        Ok(Self {
            description,
            seed,
            user_key: public.to_vec().into(),
            encoding: encoding.into(),
        })
    }
}

impl Case for UserKeyState {
    const KIND: &'static str = "user_key_state";
    fn recompute(&self, p: &dyn CryptoProvider) -> Result<Self, CaseError> {
        Self::compute(p, self.description.clone(), self.seed.clone())
    }
}

/// A link (a `link` case of `devices.json` without its kind), then the new
/// device's states: its own user as it now knows it and, linked as an admin
/// device, the user key it received.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LinkedDeviceState {
    description: String,
    link: LinkCase,
    known_user: Bytes,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    user_key: Option<Bytes>,
}

impl LinkedDeviceState {
    fn compute(
        p: &dyn CryptoProvider,
        description: String,
        link: LinkCase,
    ) -> Result<Self, CaseError> {
        let account = link.new_device.open(p, "link.new_device")?.account;
        let e_n = fixed::<32>("link.link_private", link.link_private.as_slice())?;
        let mut rng = ReplayRng::new(vec![e_n.to_vec()]);
        let request =
            LinkRequest::new(&account, &mut rng).map_err(|e| CaseError::rejected("link", e))?;
        rng.finish_exact(&[32])
            .map_err(|e| CaseError::check_failed("link.link_private", e))?;
        let linked = request
            .finish(link.response.as_slice())
            .map_err(|e| CaseError::rejected("link.response", e))?;
        let known_user = linked.user.to_bytes();
        if known_user != known_user_bytes(linked.user.list().to_bytes()) {
            return Err(CaseError::check_failed(
                "known_user",
                "KnownUser::to_bytes differs from the layout of spec §11.9",
            ));
        }
        let back =
            KnownUser::from_bytes(&known_user).map_err(|e| CaseError::rejected("known_user", e))?;
        if back.list_hash() != linked.user.list_hash() {
            return Err(CaseError::check_failed("known_user", "decoding changes it"));
        }
        let user_key = match (&linked.user_key, link.admin) {
            (Some(uk), true) => {
                let bytes = uk.to_bytes();
                let back =
                    UserKey::from_bytes(&bytes).map_err(|e| CaseError::rejected("user_key", e))?;
                if back.public() != linked.user.user_key() {
                    return Err(CaseError::check_failed(
                        "user_key",
                        "not the listed user key",
                    ));
                }
                Some(Bytes::from(bytes))
            }
            (None, false) => None,
            _ => {
                return Err(CaseError::check_failed(
                    "user_key",
                    "a user key exactly when linked as an admin device",
                ))
            }
        };
        Ok(Self {
            description,
            link,
            known_user: known_user.into(),
            user_key,
        })
    }
}

impl Case for LinkedDeviceState {
    const KIND: &'static str = "linked_device_state";
    fn recompute(&self, p: &dyn CryptoProvider) -> Result<Self, CaseError> {
        let link = self.link.recompute(p)?;
        Self::compute(p, self.description.clone(), link)
    }
}

fn identities(c: &Inputs<'_>, ids: &[u32]) -> Vec<(u32, Vec<u8>)> {
    ids.iter()
        .map(|&i| (i, c.bytes(&format!("identity{i}"), 64)))
        .collect()
}

/// The states' valid cases, their sealing and their rejections.
pub(super) fn generate(g: &mut FileGen<'_>) -> Result<(), CaseError> {
    // The first device of a new user: the user key drawn, its own list.
    let mut first_seed = Vec::new();
    let mut first_state = Vec::new();
    g.case(|c| {
        let p = c.provider();
        let seed = c.array::<32>("user_key_seed");
        first_seed = seed.to_vec();
        let user = p.ed25519_public_key(&Secret::from_bytes(seed));
        let l1 = raw_list(p, &seed, 1, &[(1, c.bytes("identity1", 64), 1)])?;
        let case = KnownUserState::compute(
            "the first device of a new user knows its own user: one admin device at epoch 1".into(),
            user.to_vec().into(),
            vec![l1.into()],
        )?;
        first_state = case.encoding.as_slice().to_vec();
        Ok(case)
    })?;
    g.case(|c| {
        let p = c.provider();
        let seed = c.array::<32>("user_key_seed");
        let user = p.ed25519_public_key(&Secret::from_bytes(seed));
        let id = identities(c, &[1, 2, 3, 4]);
        let e = |i: usize, admin: u8| (id[i].0, id[i].1.clone(), admin);
        let l5 = raw_list(p, &seed, 5, &[e(0, 1), e(1, 0)])?;
        let l6 = raw_list(p, &seed, 6, &[e(0, 1), e(1, 0), e(2, 0)])?;
        let fork = raw_list(p, &seed, 6, &[e(0, 1), e(3, 0)])?;
        let l8 = raw_list(p, &seed, 8, &[e(0, 1), e(2, 0)])?;
        KnownUserState::compute(
            "another person: a first list at epoch 5 (devices 1, 2), epoch 6 adds device 3, \
             the epoch-5 list replayed (Rollback), a fork at epoch 6 (Equivocation), epoch 8 \
             removes device 2, epoch 8 again (unchanged)"
                .into(),
            user.to_vec().into(),
            vec![
                l5.clone().into(),
                l6.into(),
                l5.into(),
                fork.into(),
                l8.clone().into(),
                l8.into(),
            ],
        )
    })?;
    g.case(|c| {
        let p = c.provider();
        let seed = c.array::<32>("user_key_seed");
        let user = p.ed25519_public_key(&Secret::from_bytes(seed));
        let mut ids: Vec<u32> = (1..=63).collect();
        ids.push(u32::MAX);
        let ents: Vec<_> = identities(c, &ids)
            .into_iter()
            .map(|(i, k)| (i, k, u8::from(i == 1)))
            .collect();
        let l = raw_list(p, &seed, u64::MAX, &ents)?;
        KnownUserState::compute(
            "64 devices (MAX_DEVICES), ids 1..63 and 4294967295, at epoch 2^64 - 1".into(),
            user.to_vec().into(),
            vec![l.into()],
        )
    })?;
    g.case(|c| {
        let p = c.provider();
        let seed = c.array::<32>("user_key_seed");
        let user = p.ed25519_public_key(&Secret::from_bytes(seed));
        let l = raw_list(p, &seed, 0, &[(7, c.bytes("identity7", 64), 0)])?;
        KnownUserState::compute(
            "a list at epoch 0 whose one device, id 7, is not an admin device".into(),
            user.to_vec().into(),
            vec![l.into()],
        )
    })?;
    // User keys.
    let mut first_user_key = Vec::new();
    {
        let seed = first_seed.clone();
        g.case(|c| {
            let case = UserKeyState::compute(
                c.provider(),
                "the user key of the first device of the first known-user case (the same \
                 seed), drawn when the user was created"
                    .into(),
                seed.into(),
            )?;
            first_user_key = case.encoding.as_slice().to_vec();
            Ok(case)
        })?;
    }
    g.case(|c| {
        UserKeyState::compute(
            c.provider(),
            "another user key".into(),
            c.bytes("seed", 32).into(),
        )
    })?;
    // Links.
    for (desc, admin, n) in [
        (
            "a device linked as a non-admin device: its own user at epoch 4, no user key",
            false,
            0,
        ),
        (
            "a device linked as an admin device, with 100 bytes of data: its own user and \
             the user key received",
            true,
            100,
        ),
    ] {
        g.case(|c| {
            let p = c.provider();
            let seed = c.array::<32>("link.user_key_seed");
            let current = raw_list(p, &seed, 3, &[(1, c.bytes("link.identity1", 64), 1)])?;
            let link = LinkCase::compute(
                p,
                LinkInputs {
                    description: "the link".into(),
                    new_device: secrets(c, "link.new_device"),
                    link_private: c.bytes("link.link_private", 32).into(),
                    user_key_seed: seed.to_vec().into(),
                    current_list: current.into(),
                    admin,
                    data: c.bytes("link.data", n).into(),
                    admin_link_private: c.bytes("link.admin_link_private", 32).into(),
                },
            )?;
            LinkedDeviceState::compute(p, desc.into(), link)
        })?;
    }
    // Sealed.
    for (description, kind, state) in [
        (
            "the known user of the first device sealed as kind 4",
            4u8,
            first_state.clone(),
        ),
        ("its user key sealed as kind 5", 5, first_user_key.clone()),
    ] {
        g.case(|c: &Inputs<'_>| {
            SealedState::compute(
                c.provider(),
                description.into(),
                c.bytes("key", 32).into(),
                kind,
                state.into(),
                c.bytes("nonce", 12).into(),
            )
        })?;
    }
    known_user_rejections(g, &first_user_key)?;
    user_key_rejections(g, &first_state)?;
    super::state_encodings::sealed_device_rejections(g, &first_state, &first_user_key)
}

/// The fixed setting of the rejected known users: a user key, two devices.
struct Base {
    seed: [u8; 32],
    other_seed: [u8; 32],
    id1: Vec<u8>,
    id2: Vec<u8>,
}

impl Base {
    fn new() -> Self {
        let input = |f: &str, n| crate::generator::input(super::state_encodings::FILE, 0, f, n);
        let mut seed = [0u8; 32];
        seed.copy_from_slice(&input("device_states.user_key_seed", 32));
        let mut other_seed = [0u8; 32];
        other_seed.copy_from_slice(&input("device_states.other_user_key_seed", 32));
        Self {
            seed,
            other_seed,
            id1: input("device_states.identity1", 64),
            id2: input("device_states.identity2", 64),
        }
    }

    /// A list of this user, signed, with raw entries.
    fn list(
        &self,
        p: &dyn CryptoProvider,
        epoch: u64,
        ents: &[(u32, &[u8], u8)],
    ) -> Result<Vec<u8>, CaseError> {
        let ents: Vec<_> = ents.iter().map(|(i, k, f)| (*i, k.to_vec(), *f)).collect();
        raw_list(p, &self.seed, epoch, &ents)
    }
}

fn known_user_rejections(g: &mut FileGen<'_>, user_key_state: &[u8]) -> Result<(), CaseError> {
    let p = sova::DefaultProvider::default();
    let p: &dyn CryptoProvider = &p;
    let base = Base::new();
    let (i1, i2) = (&base.id1[..], &base.id2[..]);
    // The valid list: ids 1 (admin) and 2 at epoch 9, 258 bytes: count at
    // 55, entry 0 at 56 (flags at 124), entry 1 at 125 (flags at 193), the
    // signature at 194. In the state it starts at byte 22.
    let list = base.list(p, 9, &[(1, i1, 1), (2, i2, 0)])?;
    let n = list.len() as u32;
    let valid = known_user_bytes(&list);
    if KnownUser::from_bytes(&valid).is_err() {
        return Err(CaseError::check_failed(
            "encoding",
            "the base state is refused",
        ));
    }
    let st =
        |len: u32, l: &[u8], after: &[u8]| checked(ku_body(KNOWN_USER_MAGIC, 1, len, l, after));
    let edit = |f: &dyn Fn(&mut Vec<u8>)| {
        let mut l = list.clone();
        f(&mut l);
        l
    };
    let with_sig_flipped = edit(&|l| l[194] ^= 1);
    let signed_flags2 = base.list(p, 9, &[(1, i1, 1), (2, i2, 2)])?;
    let signed_flags80 = base.list(p, 9, &[(1, i1, 0x81), (2, i2, 0)])?;
    let decreasing = base.list(p, 9, &[(2, i2, 0), (1, i1, 1)])?;
    let repeated_id = base.list(p, 9, &[(1, i1, 1), (1, i2, 0)])?;
    let repeated_identity = base.list(p, 9, &[(1, i1, 1), (2, i1, 0)])?;
    let count3 = {
        let ents = vec![(1, i1.to_vec(), 1), (2, i2.to_vec(), 0)];
        let mut body = Vec::new();
        body.extend_from_slice(b"SOVA-1 devices");
        body.push(1);
        body.extend_from_slice(&list[15..47]);
        body.extend_from_slice(&9u64.to_be_bytes());
        body.push(3);
        for (id, k, f) in &ents {
            body.extend_from_slice(&u32::to_be_bytes(*id));
            body.extend_from_slice(k);
            body.push(*f);
        }
        let sig = sova::kdf::labeled_sign(
            p,
            &Secret::from_bytes(base.seed),
            sova::labels::DEVICE_LIST,
            &[&body],
        )
        .map_err(|e| CaseError::rejected("list", e))?;
        [&body[..], &sig].concat()
    };
    let other_key_signs = {
        // The body names this user; the other user key signs it.
        let mut body = list[..194].to_vec();
        let sig = sova::kdf::labeled_sign(
            p,
            &Secret::from_bytes(base.other_seed),
            sova::labels::DEVICE_LIST,
            &[&body],
        )
        .map_err(|e| CaseError::rejected("list", e))?;
        body.extend_from_slice(&sig);
        body
    };
    let decreasing_unsigned = {
        // Entries swapped, the original signature kept.
        let mut l = list.clone();
        l[56..194].copy_from_slice(&[&list[125..194], &list[56..125]].concat());
        l
    };
    let cases: Vec<(&str, Vec<u8>)> = vec![
        // §8.1.
        ("the empty input (BadMagic, §8.1)", Vec::new()),
        ("the first 16 bytes of the magic", KNOWN_USER_MAGIC[..16].to_vec()),
        ("a UserKeyState (another magic)", user_key_state.to_vec()),
        (
            "the magic of a known user with one letter changed",
            checked(ku_body(b"SOVA-1 known usEr", 1, n, &list, &[])),
        ),
        ("the magic alone (Truncated before the version)", KNOWN_USER_MAGIC.to_vec()),
        ("version 2", checked(ku_body(KNOWN_USER_MAGIC, 2, n, &list, &[]))),
        ("version 0", checked(ku_body(KNOWN_USER_MAGIC, 0, n, &list, &[]))),
        (
            "magic, version and 31 bytes: shorter than magic || version || check",
            [KNOWN_USER_MAGIC, &[1], &[0u8; 31]].concat(),
        ),
        ("the check's last bit flipped (Corrupted)", flip_last(valid.clone())),
        ("a list byte changed, the check not recomputed", {
            let mut v = valid.clone();
            v[22 + 60] ^= 1;
            v
        }),
        // Rule 1: the input ends before len or inside the list.
        ("nothing between the version and the check (rule 1)", checked(ku_body(KNOWN_USER_MAGIC, 1, 0, &[], &[])[..18].to_vec())),
        ("two bytes of len (rule 1)", checked(ku_body(KNOWN_USER_MAGIC, 1, n, &[], &[])[..20].to_vec())),
        ("len 258, the list's last byte missing (rule 1)", st(n, &list[..257], &[])),
        ("len 258, the input ends after 100 bytes of the list, inside entry 0 (rule 1)", st(n, &list[..100], &[])),
        ("len 258, the input ends inside the epoch (rule 1)", st(n, &list[..50], &[])),
        ("len 2^32 - 1 with the 258-byte list (rule 1)", st(u32::MAX, &list, &[])),
        // Rule 2: the list breaks the encoding of §11.3.
        ("len 0: an empty list (rule 2, Malformed(BadMagic))", st(0, &[], &[])),
        ("the list's magic changed (rule 2)", st(n, &edit(&|l| l[0] = b'X'), &[])),
        ("the list's version 2 (rule 2)", st(n, &edit(&|l| l[14] = 2), &[])),
        ("len 257 and the list without its last byte: a list cut inside its signature (rule 2, Malformed(Truncated))", st(n - 1, &list[..257], &[])),
        ("len 259: the list and a byte 00 after its signature (rule 2, Malformed(TrailingBytes))", st(n + 1, &[&list[..], &[0]].concat(), &[])),
        ("count 0 (rule 2, Malformed(DeviceCount))", st(n, &edit(&|l| l[55] = 0), &[])),
        ("count 65 (rule 2, Malformed(DeviceCount))", st(n, &edit(&|l| l[55] = 65), &[])),
        ("count 3 with two entries, signed (rule 2, Malformed(Truncated))", st(count3.len() as u32, &count3, &[])),
        ("entry 1 with flags 0x02, signed (rule 2, Malformed(InvalidFlags))", st(n, &signed_flags2, &[])),
        ("entry 0 with flags 0x81, signed (rule 2, Malformed(InvalidFlags))", st(n, &signed_flags80, &[])),
        // Rule 3: the signature.
        ("the signature's first bit flipped (rule 3)", st(n, &with_sig_flipped, &[])),
        ("epoch 10, not signed again (rule 3)", st(n, &edit(&|l| l[54] = 10), &[])),
        ("signed by another user key than the one it names (rule 3)", st(n, &other_key_signs, &[])),
        // Rule 4: the entries.
        ("device ids 2, 1, signed (rule 4)", st(n, &decreasing, &[])),
        ("device id 1 twice, signed (rule 4)", st(n, &repeated_id, &[])),
        ("one identity listed twice, signed (rule 4)", st(n, &repeated_identity, &[])),
        // Rule 5.
        ("a byte 00 after the list (rule 5)", st(n, &list, &[0])),
        ("the list twice, len naming one (rule 5)", st(n, &list, &list)),
        // Two faults: the first rule checked is the error.
        ("another magic and version 2: BadMagic first", checked(ku_body(b"SOVA-1 known usEr", 2, n, &list, &[]))),
        ("version 2 and the check wrong: the version first", flip_last(checked(ku_body(KNOWN_USER_MAGIC, 2, n, &list, &[])))),
        ("the check wrong and count 0: the check of §8.1 before rule 2", flip_last(st(n, &edit(&|l| l[55] = 0), &[]))),
        ("the check wrong and the input ending inside the list: the check before rule 1", flip_last(st(n, &list[..100], &[]))),
        ("len 300 beyond the input and the list's magic changed: rule 1 before rule 2", st(300, &edit(&|l| l[0] = b'X'), &[])),
        ("flags 0x02 not signed again (the signature fails too): rule 2 before rule 3", st(n, &edit(&|l| l[193] = 2), &[])),
        ("device ids 2, 1, not signed again: rule 3 before rule 4", st(n, &decreasing_unsigned, &[])),
        ("one identity listed twice, signed, and a byte after the list: rule 4 before rule 5", st(n, &repeated_identity, &[0])),
        ("the signature flipped and a byte after the list: rule 3 before rule 5", st(n, &with_sig_flipped, &[0])),
        ("len 257 cutting the signature, its last byte left after the list: rule 2 before rule 5", st(n - 1, &list, &[])),
    ];
    for (description, bytes) in cases {
        reject(g, "known_user", description, bytes)?;
    }
    Ok(())
}

fn user_key_rejections(g: &mut FileGen<'_>, known_user_state: &[u8]) -> Result<(), CaseError> {
    let seed = crate::generator::input(super::state_encodings::FILE, 0, "device_states.seed", 32);
    let valid = checked(uk_body(USER_KEY_MAGIC, 1, &seed, &[]));
    if UserKey::from_bytes(&valid).is_err() {
        return Err(CaseError::check_failed(
            "encoding",
            "the base state is refused",
        ));
    }
    let st = |after_version: &[u8]| checked(uk_body(USER_KEY_MAGIC, 1, after_version, &[]));
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("the empty input (BadMagic, §8.1)", Vec::new()),
        (
            "the first 14 bytes of the magic",
            USER_KEY_MAGIC[..14].to_vec(),
        ),
        (
            "a KnownUserState (another magic)",
            known_user_state.to_vec(),
        ),
        (
            "the magic with one letter changed",
            checked(uk_body(b"SOVA-1 user kez", 1, &seed, &[])),
        ),
        (
            "the magic alone (Truncated before the version)",
            USER_KEY_MAGIC.to_vec(),
        ),
        ("version 2", checked(uk_body(USER_KEY_MAGIC, 2, &seed, &[]))),
        ("version 0", checked(uk_body(USER_KEY_MAGIC, 0, &seed, &[]))),
        (
            "magic, version and 31 bytes: shorter than magic || version || check",
            [USER_KEY_MAGIC, &[1], &[0u8; 31]].concat(),
        ),
        (
            "the check's last bit flipped (Corrupted)",
            flip_last(valid.clone()),
        ),
        ("a seed byte changed, the check not recomputed", {
            let mut v = valid.clone();
            v[20] ^= 1;
            v
        }),
        ("no seed: magic, version and check (Truncated)", st(&[])),
        ("31 bytes of seed (Truncated)", st(&seed[..31])),
        ("1 byte of seed (Truncated)", st(&seed[..1])),
        (
            "a byte 00 after the seed (TrailingBytes)",
            st(&[&seed[..], &[0]].concat()),
        ),
        (
            "the seed twice (TrailingBytes)",
            st(&[&seed[..], &seed[..]].concat()),
        ),
        (
            "another magic and version 2: BadMagic first",
            checked(uk_body(b"SOVA-1 user kez", 2, &seed, &[])),
        ),
        (
            "version 2 and nothing after it: the version before the length",
            [USER_KEY_MAGIC, &[2]].concat(),
        ),
        (
            "version 2 and the check wrong: the version first",
            flip_last(checked(uk_body(USER_KEY_MAGIC, 2, &seed, &[]))),
        ),
        (
            "31 bytes of seed and the check wrong: the check before the seed",
            flip_last(st(&seed[..31])),
        ),
        (
            "a byte after the seed and the check wrong: the check first",
            flip_last(st(&[&seed[..], &[0]].concat())),
        ),
    ];
    for (description, bytes) in cases {
        reject(g, "user_key", description, bytes)?;
    }
    Ok(())
}
