//! `devices.json`: several devices per person (spec §11; format in spec
//! §4.13): signed device lists, the directory's forward-only view, linking a
//! new device, fan-out, and every rejection with its error class.
//!
//! Valid cases run the library's API (`UserKey`, `DeviceList`, `KnownUser`,
//! `LinkRequest`, `approve_link`, `fanout::encrypt`, `fanout::split`,
//! `fanout::receive`) on an RNG that replays the case's recorded randomness,
//! and recompute every intermediate value from the building blocks (labelled
//! hash, sign, extract and expand, X25519, ChaCha20-Poly1305, padding), which
//! must agree with what the API produced. Rejections are built from the same
//! building blocks and given to the API, whose error class is recorded.

use serde::{Deserialize, Serialize};
use sova::devices::fanout::{self, Audience, DeviceMessage, Target};
use sova::devices::{approve_link, DeviceEntry, DeviceList, KnownUser, LinkRequest, UserKey};
use sova::kdf::{labeled_expand, labeled_extract, labeled_hash, labeled_sign};
use sova::labels;
use sova::ratchet::{padding, HeaderMode};
use sova::session::{Account, Conversation};
use sova::{CryptoProvider, Secret};

use super::handshake::AccountSecrets;
use crate::family::{fixed, Case, CaseError, Family, FileGen, Inputs, Kind};
use crate::replay::ReplayRng;
use crate::Bytes;

/// The file name.
pub(crate) const FILE: &str = "devices.json";

/// The family of `devices.json`.
pub(crate) const FAMILY: Family = Family::new(
    FILE,
    "Several devices per person: signed device lists from a user key with the signed bytes, \
     signature and ListHash; directory updates (newer, same, older, forked lists); linking a \
     new device with every intermediate value of the link offer and response; fan-out of one \
     body to every device with its pairwise key messages; and every rejection of spec \
     §11.3-§11.6 with its error class, several breaking more than one rule to fix the order of \
     the checks (spec §11; format: spec §4.13).",
    &[
        Kind::of::<ListCase>(),
        Kind::of::<ListRejection>(),
        Kind::of::<DirectorySequence>(),
        Kind::of::<LinkCase>(),
        Kind::of::<LinkRejection>(),
        Kind::of::<FanoutCase>(),
        Kind::of::<FanoutReceive>(),
    ],
    generate,
);

const LIST_MAGIC: &[u8] = b"SOVA-1 devices";
const OFFER_MAGIC: &[u8] = b"SOVA-1 link offer";
const RESPONSE_MAGIC: &[u8] = b"SOVA-1 link response";
const VERSION: u8 = 0x01;

/// The error class of a library error: the variant names, each wrapped
/// variant in parentheses (spec appendix B).
pub(super) fn class<E: core::fmt::Debug>(e: &E) -> String {
    fn from_debug(s: &str) -> String {
        let name: String = s
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        let rest = &s[name.len()..];
        match rest.strip_prefix('(') {
            Some(inner) if inner.starts_with(|c: char| c.is_ascii_uppercase()) => {
                format!("{name}({})", from_debug(inner))
            }
            _ => name,
        }
    }
    from_debug(&format!("{e:?}"))
}

fn rej(field: &str) -> impl Fn(String) -> CaseError + '_ {
    move |e| CaseError::check_failed(field, e)
}

fn crypto<E: core::fmt::Display>(field: &str) -> impl Fn(E) -> CaseError + '_ {
    move |e| CaseError::rejected(field, e)
}

// ---------------------------------------------------------------------------
// Device lists (spec §11.3).

/// A device entry as the file writes it.
#[derive(Serialize, Deserialize, Clone, PartialEq, Eq, Debug)]
#[serde(deny_unknown_fields)]
struct Entry {
    device_id: u32,
    identity: Bytes,
    admin: bool,
}

impl Entry {
    fn to_entry(&self, at: &str) -> Result<DeviceEntry, CaseError> {
        Ok(DeviceEntry {
            device_id: self.device_id,
            identity: fixed::<64>(&format!("{at}.identity"), self.identity.as_slice())?,
            admin: self.admin,
        })
    }
    fn of(e: &DeviceEntry) -> Self {
        Self {
            device_id: e.device_id,
            identity: e.identity.to_vec().into(),
            admin: e.admin,
        }
    }
}

/// The bytes a list's signature covers, from raw fields (any count, flags).
fn list_body(user: &[u8], epoch: u64, count: u8, entries: &[(u32, Vec<u8>, u8)]) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(LIST_MAGIC);
    b.push(VERSION);
    b.extend_from_slice(user);
    b.extend_from_slice(&epoch.to_be_bytes());
    b.push(count);
    for (id, identity, flags) in entries {
        b.extend_from_slice(&id.to_be_bytes());
        b.extend_from_slice(identity);
        b.push(*flags);
    }
    b
}

/// A list signed from raw fields with the building blocks (so that lists the
/// API refuses to sign can be written).
pub(super) fn raw_list(
    p: &dyn CryptoProvider,
    seed: &[u8; 32],
    epoch: u64,
    entries: &[(u32, Vec<u8>, u8)],
) -> Result<Vec<u8>, CaseError> {
    let seed = Secret::from_bytes(*seed);
    let user = p.ed25519_public_key(&seed);
    let count = u8::try_from(entries.len()).unwrap_or(u8::MAX);
    let mut body = list_body(&user, epoch, count, entries);
    let sig = labeled_sign(p, &seed, labels::DEVICE_LIST, &[&body]).map_err(crypto("list"))?;
    body.extend_from_slice(&sig);
    Ok(body)
}

/// A valid signed device list, with every intermediate value.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListCase {
    description: String,
    user_key_seed: Bytes,
    epoch: u64,
    entries: Vec<Entry>,
    user_key: Bytes,
    signed_data: Bytes,
    signature: Bytes,
    list: Bytes,
    list_hash: Bytes,
    user_identity: Bytes,
}

impl ListCase {
    fn compute(
        p: &dyn CryptoProvider,
        description: String,
        user_key_seed: Bytes,
        epoch: u64,
        entries: Vec<Entry>,
    ) -> Result<Self, CaseError> {
        let seed = fixed::<32>("user_key_seed", user_key_seed.as_slice())?;
        let uk = UserKey::from_seed(Secret::from_bytes(seed));
        let es = entries
            .iter()
            .enumerate()
            .map(|(i, e)| e.to_entry(&format!("entries[{i}]")))
            .collect::<Result<Vec<_>, _>>()?;
        let list = uk
            .sign_list(epoch, &es)
            .map_err(|e| CaseError::rejected("list", e))?;
        // The same from the building blocks.
        let raw: Vec<(u32, Vec<u8>, u8)> = es
            .iter()
            .map(|e| (e.device_id, e.identity.to_vec(), u8::from(e.admin)))
            .collect();
        let count = u8::try_from(es.len()).unwrap_or(u8::MAX);
        let signed = list_body(uk.public(), epoch, count, &raw);
        let sig = labeled_sign(p, uk.seed(), labels::DEVICE_LIST, &[&signed])
            .map_err(crypto("signature"))?;
        let bytes = [&signed[..], &sig].concat();
        if bytes != list.to_bytes() {
            return Err(CaseError::check_failed(
                "list",
                "sign_list differs from the building blocks",
            ));
        }
        let hash =
            labeled_hash(p, labels::DEVICE_LIST_HASH, &[&bytes]).map_err(crypto("list_hash"))?;
        if hash != list.hash() {
            return Err(CaseError::check_failed(
                "list_hash",
                "DeviceList::hash differs",
            ));
        }
        Ok(Self {
            description,
            user_key_seed,
            epoch,
            entries,
            user_key: uk.public().to_vec().into(),
            signed_data: signed.into(),
            signature: sig.to_vec().into(),
            list: bytes.into(),
            list_hash: hash.to_vec().into(),
            user_identity: uk.user_identity().to_vec().into(),
        })
    }
}

impl Case for ListCase {
    const KIND: &'static str = "device_list";
    fn recompute(&self, p: &dyn CryptoProvider) -> Result<Self, CaseError> {
        Self::compute(
            p,
            self.description.clone(),
            self.user_key_seed.clone(),
            self.epoch,
            self.entries.clone(),
        )
    }
    fn check(&self, _p: &dyn CryptoProvider) -> Result<(), CaseError> {
        let uk = fixed::<32>("user_key", self.user_key.as_slice())?;
        let list = DeviceList::verify(self.list.as_slice(), &uk)
            .map_err(|e| CaseError::check_failed("list", e.to_string()))?;
        let got: Vec<Entry> = list.entries().iter().map(Entry::of).collect();
        if got != self.entries || list.epoch() != self.epoch {
            return Err(CaseError::check_failed(
                "list",
                "parses to other entries or another epoch",
            ));
        }
        Ok(())
    }
}

/// A list a reader must refuse.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListRejection {
    description: String,
    expected_user: Bytes,
    list: Bytes,
    error: String,
}

impl ListRejection {
    fn compute(description: String, expected_user: Bytes, list: Bytes) -> Result<Self, CaseError> {
        let uk = fixed::<32>("expected_user", expected_user.as_slice())?;
        let error = match DeviceList::verify(list.as_slice(), &uk) {
            Ok(_) => return Err(CaseError::check_failed("list", "the list is accepted")),
            Err(e) => class(&e),
        };
        Ok(Self {
            description,
            expected_user,
            list,
            error,
        })
    }
}

impl Case for ListRejection {
    const KIND: &'static str = "list_rejection";
    fn recompute(&self, _p: &dyn CryptoProvider) -> Result<Self, CaseError> {
        Self::compute(
            self.description.clone(),
            self.expected_user.clone(),
            self.list.clone(),
        )
    }
}

// ---------------------------------------------------------------------------
// The directory (spec §11.4).

#[derive(Serialize, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct DirectoryStep {
    list: Bytes,
    outcome: String,
    added: Vec<u32>,
    removed: Vec<u32>,
    epoch: u64,
    list_hash: Bytes,
}

/// A person's lists offered in turn to a device's directory.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct DirectorySequence {
    description: String,
    user_key: Bytes,
    steps: Vec<DirectoryStep>,
}

impl DirectorySequence {
    fn compute(description: String, user_key: Bytes, lists: Vec<Bytes>) -> Result<Self, CaseError> {
        let uk = fixed::<32>("user_key", user_key.as_slice())?;
        let mut known: Option<KnownUser> = None;
        let mut steps = Vec::new();
        for (i, list) in lists.into_iter().enumerate() {
            let at = format!("steps[{i}]");
            let (outcome, added, removed) = match known.as_mut() {
                None => {
                    let k = KnownUser::new(&uk, list.as_slice())
                        .map_err(|e| CaseError::rejected(&at, e))?;
                    let ids = k.list().entries().iter().map(|e| e.device_id).collect();
                    known = Some(k);
                    ("accepted".to_owned(), ids, Vec::new())
                }
                Some(k) => match k.update(list.as_slice()) {
                    Ok(sova::devices::ListChange::Unchanged) => {
                        ("unchanged".to_owned(), Vec::new(), Vec::new())
                    }
                    Ok(sova::devices::ListChange::Accepted { added, removed }) => {
                        ("accepted".to_owned(), added, removed)
                    }
                    Ok(_) => return Err(CaseError::check_failed(&at, "unknown change")),
                    Err(e) => (class(&e), Vec::new(), Vec::new()),
                },
            };
            let k = known
                .as_ref()
                .ok_or_else(|| CaseError::check_failed(&at, "no list"))?;
            steps.push(DirectoryStep {
                list,
                outcome,
                added,
                removed,
                epoch: k.list().epoch(),
                list_hash: k.list_hash().to_vec().into(),
            });
        }
        Ok(Self {
            description,
            user_key,
            steps,
        })
    }
}

impl Case for DirectorySequence {
    const KIND: &'static str = "directory_sequence";
    fn recompute(&self, _p: &dyn CryptoProvider) -> Result<Self, CaseError> {
        Self::compute(
            self.description.clone(),
            self.user_key.clone(),
            self.steps.iter().map(|s| s.list.clone()).collect(),
        )
    }
}

// ---------------------------------------------------------------------------
// Linking (spec §11.5).

fn account_of(p: &dyn CryptoProvider, s: &AccountSecrets, at: &str) -> Result<Account, CaseError> {
    Ok(s.open(p, at)?.account)
}

/// `T`, PRK and OKM.
type LinkKeys = ([u8; 32], Vec<u8>, [u8; 44]);

/// `T`, PRK, OKM of spec §11.5.
fn link_keys(
    p: &dyn CryptoProvider,
    offer: &[u8],
    e_a_pub: &[u8; 32],
    dh: &[u8],
) -> Result<LinkKeys, CaseError> {
    let t = labeled_hash(p, labels::LINK_TRANSCRIPT, &[offer, e_a_pub])
        .map_err(crypto("transcript_hash"))?;
    let prk = labeled_extract(p, &t, labels::LINK, &[dh]).map_err(crypto("prk"))?;
    let mut okm = [0u8; 44];
    labeled_expand(p, &prk, labels::LINK, &[], &mut okm).map_err(crypto("okm"))?;
    Ok((t, prk.expose().to_vec(), okm))
}

fn seal(p: &dyn CryptoProvider, okm: &[u8; 44], ad: &[u8], pt: &[u8]) -> Vec<u8> {
    let mut k = [0u8; 32];
    k.copy_from_slice(&okm[..32]);
    let mut n = [0u8; 12];
    n.copy_from_slice(&okm[32..]);
    let mut buf = pt.to_vec();
    let tag = p.aead_seal(&Secret::from_bytes(k), &n, ad, &mut buf);
    buf.extend_from_slice(&tag);
    buf
}

fn link_code(p: &dyn CryptoProvider, t: &[u8; 32]) -> Result<String, CaseError> {
    let h = labeled_hash(p, labels::LINK_CODE, &[t]).map_err(crypto("link_code"))?;
    let mut b = [0u8; 8];
    b.copy_from_slice(&h[..8]);
    Ok(format!("{:06}", u64::from_be_bytes(b) % 1_000_000))
}

fn payload_bytes(list: &[u8], seed: Option<&[u8]>, data: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&(list.len() as u32).to_be_bytes());
    v.extend_from_slice(list);
    match seed {
        None => v.push(0),
        Some(s) => {
            v.push(1);
            v.extend_from_slice(s);
        }
    }
    v.extend_from_slice(&(data.len() as u32).to_be_bytes());
    v.extend_from_slice(data);
    v
}

/// A response sealed from raw parts (for rejections).
fn raw_response(
    p: &dyn CryptoProvider,
    offer: &[u8],
    e_n_pub: &[u8; 32],
    e_a: &[u8; 32],
    payload: &[u8],
) -> Result<Vec<u8>, CaseError> {
    let e_a = Secret::from_bytes(*e_a);
    let e_a_pub = p.x25519_public_key(&e_a);
    let dh = p.x25519(&e_a, e_n_pub).map_err(crypto("dh"))?;
    let (t, _, okm) = link_keys(p, offer, &e_a_pub, dh.expose())?;
    Ok([
        RESPONSE_MAGIC,
        &[VERSION],
        &e_a_pub,
        &seal(p, &okm, &t, payload),
    ]
    .concat())
}

/// A complete link between an admin device and a new device.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LinkCase {
    description: String,
    pub(super) new_device: AccountSecrets,
    pub(super) link_private: Bytes,
    user_key_seed: Bytes,
    current_list: Bytes,
    pub(super) admin: bool,
    data: Bytes,
    admin_link_private: Bytes,
    identity: Bytes,
    link_public: Bytes,
    offer: Bytes,
    admin_link_public: Bytes,
    dh: Bytes,
    transcript_hash: Bytes,
    prk: Bytes,
    okm: Bytes,
    device_id: u32,
    new_list: Bytes,
    payload: Bytes,
    pub(super) response: Bytes,
    link_code: String,
}

pub(super) struct LinkInputs {
    pub(super) description: String,
    pub(super) new_device: AccountSecrets,
    pub(super) link_private: Bytes,
    pub(super) user_key_seed: Bytes,
    pub(super) current_list: Bytes,
    pub(super) admin: bool,
    pub(super) data: Bytes,
    pub(super) admin_link_private: Bytes,
}

impl LinkCase {
    pub(super) fn compute(p: &dyn CryptoProvider, i: LinkInputs) -> Result<Self, CaseError> {
        let account = account_of(p, &i.new_device, "new_device")?;
        let e_n = fixed::<32>("link_private", i.link_private.as_slice())?;
        let mut rng = ReplayRng::new(vec![e_n.to_vec()]);
        let request = LinkRequest::new(&account, &mut rng).map_err(crypto("link_private"))?;
        rng.finish_exact(&[32]).map_err(rej("link_private"))?;
        let e_n_pub = p.x25519_public_key(&Secret::from_bytes(e_n));
        let identity = account.identity().to_bytes();
        let offer = [OFFER_MAGIC, &[VERSION], &e_n_pub, &identity].concat();
        if offer != request.offer() {
            return Err(CaseError::check_failed(
                "offer",
                "LinkRequest::offer differs",
            ));
        }
        // The admin device.
        let seed = fixed::<32>("user_key_seed", i.user_key_seed.as_slice())?;
        let uk = UserKey::from_seed(Secret::from_bytes(seed));
        let current = KnownUser::new(uk.public(), i.current_list.as_slice())
            .map_err(crypto("current_list"))?;
        let e_a = fixed::<32>("admin_link_private", i.admin_link_private.as_slice())?;
        let mut rng = ReplayRng::new(vec![e_a.to_vec()]);
        let approval = approve_link(&uk, &current, &offer, i.admin, i.data.as_slice(), &mut rng)
            .map_err(crypto("response"))?;
        rng.finish_exact(&[32]).map_err(rej("admin_link_private"))?;
        let e_a = Secret::from_bytes(e_a);
        let e_a_pub = p.x25519_public_key(&e_a);
        let dh = p.x25519(&e_a, &e_n_pub).map_err(crypto("dh"))?;
        let (t, prk, okm) = link_keys(p, &offer, &e_a_pub, dh.expose())?;
        // The new list: the current one plus N, signed at epoch + 1.
        let mut entries = current.list().entries().to_vec();
        let device_id = entries.last().map_or(1, |e| e.device_id + 1);
        entries.push(DeviceEntry {
            device_id,
            identity: account.identity_key(),
            admin: i.admin,
        });
        let new_list = uk
            .sign_list(current.list().epoch() + 1, &entries)
            .map_err(crypto("new_list"))?;
        if new_list.to_bytes() != approval.list.to_bytes() || approval.device_id != device_id {
            return Err(CaseError::check_failed(
                "new_list",
                "approve_link's list differs",
            ));
        }
        let payload = payload_bytes(
            new_list.to_bytes(),
            i.admin.then_some(&seed[..]),
            i.data.as_slice(),
        );
        let response = [
            RESPONSE_MAGIC,
            &[VERSION],
            &e_a_pub,
            &seal(p, &okm, &t, &payload),
        ]
        .concat();
        if response != approval.response {
            return Err(CaseError::check_failed(
                "response",
                "approve_link's response differs",
            ));
        }
        let code = link_code(p, &t)?;
        if code.as_bytes() != approval.code {
            return Err(CaseError::check_failed(
                "link_code",
                "the admin's code differs",
            ));
        }
        // The new device reads it.
        let linked = request.finish(&response).map_err(crypto("response"))?;
        if linked.code != approval.code
            || linked.device_id != device_id
            || linked.data.as_slice() != i.data.as_slice()
            || linked.user_key.is_some() != i.admin
            || linked.user.list_hash() != &new_list.hash()
        {
            return Err(CaseError::check_failed(
                "response",
                "the new device learns something else",
            ));
        }
        Ok(Self {
            description: i.description,
            new_device: i.new_device,
            link_private: i.link_private,
            user_key_seed: i.user_key_seed,
            current_list: i.current_list,
            admin: i.admin,
            data: i.data,
            admin_link_private: i.admin_link_private,
            identity: identity.to_vec().into(),
            link_public: e_n_pub.to_vec().into(),
            offer: offer.into(),
            admin_link_public: e_a_pub.to_vec().into(),
            dh: dh.expose().to_vec().into(),
            transcript_hash: t.to_vec().into(),
            prk: prk.into(),
            okm: okm.to_vec().into(),
            device_id,
            new_list: new_list.to_bytes().to_vec().into(),
            payload: payload.into(),
            response: response.into(),
            link_code: code,
        })
    }
}

impl Case for LinkCase {
    const KIND: &'static str = "link";
    fn recompute(&self, p: &dyn CryptoProvider) -> Result<Self, CaseError> {
        Self::compute(
            p,
            LinkInputs {
                description: self.description.clone(),
                new_device: self.new_device.clone(),
                link_private: self.link_private.clone(),
                user_key_seed: self.user_key_seed.clone(),
                current_list: self.current_list.clone(),
                admin: self.admin,
                data: self.data.clone(),
                admin_link_private: self.admin_link_private.clone(),
            },
        )
    }
}

/// A link the admin device or the new device must refuse.
#[derive(Serialize, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct LinkRejection {
    description: String,
    side: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    user_key_seed: Option<Bytes>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    current_list: Option<Bytes>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    offer: Option<Bytes>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    admin: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    data_length: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    new_device: Option<AccountSecrets>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    link_private: Option<Bytes>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    response: Option<Bytes>,
    error: String,
}

fn need<'a, T>(v: &'a Option<T>, f: &str) -> Result<&'a T, CaseError> {
    v.as_ref()
        .ok_or_else(|| CaseError::malformed(f, "missing for this side"))
}

impl LinkRejection {
    fn compute(p: &dyn CryptoProvider, mut c: Self) -> Result<Self, CaseError> {
        let err = match c.side.as_str() {
            "admin" => {
                let seed = fixed::<32>(
                    "user_key_seed",
                    need(&c.user_key_seed, "user_key_seed")?.as_slice(),
                )?;
                let uk = UserKey::from_seed(Secret::from_bytes(seed));
                let list = need(&c.current_list, "current_list")?.as_slice();
                let parsed =
                    DeviceList::verify_with(p, list, None).map_err(crypto("current_list"))?;
                let current = KnownUser::from_list(parsed);
                let data = vec![0u8; *need(&c.data_length, "data_length")? as usize];
                let admin = *need(&c.admin, "admin")?;
                let mut rng = ReplayRng::new(Vec::new());
                let r = approve_link(
                    &uk,
                    &current,
                    need(&c.offer, "offer")?.as_slice(),
                    admin,
                    &data,
                    &mut rng,
                );
                match r {
                    Ok(_) => return Err(CaseError::check_failed("error", "the link is approved")),
                    Err(e) => class(&e),
                }
            }
            "new_device" => {
                let account = account_of(p, need(&c.new_device, "new_device")?, "new_device")?;
                let e_n = fixed::<32>(
                    "link_private",
                    need(&c.link_private, "link_private")?.as_slice(),
                )?;
                let mut rng = ReplayRng::new(vec![e_n.to_vec()]);
                let request =
                    LinkRequest::new(&account, &mut rng).map_err(crypto("link_private"))?;
                rng.finish_exact(&[32]).map_err(rej("link_private"))?;
                match request.finish(need(&c.response, "response")?.as_slice()) {
                    Ok(_) => {
                        return Err(CaseError::check_failed("error", "the response is accepted"))
                    }
                    Err(e) => class(&e),
                }
            }
            _ => return Err(CaseError::malformed("side", "admin or new_device")),
        };
        c.error = err;
        Ok(c)
    }
}

impl Case for LinkRejection {
    const KIND: &'static str = "link_rejection";
    fn recompute(&self, p: &dyn CryptoProvider) -> Result<Self, CaseError> {
        Self::compute(p, self.clone())
    }
}

// ---------------------------------------------------------------------------
// Fan-out (spec §11.6).

/// The recorded randomness of one target: `Start` draws the ephemeral key
/// and `m`; the pairwise encryption the ratchet key and the salt.
#[derive(Serialize, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct TargetRandom {
    audience: u8,
    device_id: u32,
    ephemeral_private: Bytes,
    m: Bytes,
    ratchet_private: Bytes,
    salt: Bytes,
}

#[derive(Serialize, Deserialize, Clone, PartialEq, Eq, Debug)]
#[serde(deny_unknown_fields)]
struct EntryOut {
    audience: u8,
    device_id: u32,
    bundle: Bytes,
    pairwise: Bytes,
}

#[derive(Serialize, Deserialize, Clone, PartialEq, Eq, Debug)]
#[serde(deny_unknown_fields)]
struct Delivered {
    audience: u8,
    device_id: u32,
    device_message: Bytes,
    recipient_list_current: bool,
    plaintext: Bytes,
}

/// One fan-out message, split and received by every device.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FanoutCase {
    description: String,
    header_mode: String,
    sender_user_key_seed: Bytes,
    sender_epoch: u64,
    sender_devices: Vec<AccountSecrets>,
    sender_device_id: u32,
    recipient_user_key_seed: Bytes,
    recipient_epoch: u64,
    recipient_devices: Vec<AccountSecrets>,
    plaintext: Bytes,
    targets: Vec<TargetRandom>,
    body_key: Bytes,
    sender_list: Bytes,
    sender_list_hash: Bytes,
    recipient_list: Bytes,
    recipient_list_hash: Bytes,
    header: Bytes,
    body_aead_key: Bytes,
    body_nonce: Bytes,
    padded_plaintext: Bytes,
    body: Bytes,
    digest: Bytes,
    key_message: Bytes,
    entries: Vec<EntryOut>,
    fanout_message: Bytes,
    deliveries: Vec<Delivered>,
}

/// The header fields of spec §11.6.
#[derive(Clone)]
struct Header {
    sender_user: [u8; 32],
    sender_device: u32,
    sender_epoch: u64,
    sender_hash: [u8; 32],
    recipient_user: [u8; 32],
    recipient_epoch: u64,
    recipient_hash: [u8; 32],
}

impl Header {
    fn of(own: &KnownUser, device: u32, recipient: &KnownUser) -> Self {
        Self {
            sender_user: *own.user_key(),
            sender_device: device,
            sender_epoch: own.list().epoch(),
            sender_hash: *own.list_hash(),
            recipient_user: *recipient.user_key(),
            recipient_epoch: recipient.list().epoch(),
            recipient_hash: *recipient.list_hash(),
        }
    }
    fn encode(&self) -> Vec<u8> {
        [
            &[VERSION, 0x20][..],
            &self.sender_user,
            &self.sender_device.to_be_bytes(),
            &self.sender_epoch.to_be_bytes(),
            &self.sender_hash,
            &self.recipient_user,
            &self.recipient_epoch.to_be_bytes(),
            &self.recipient_hash,
        ]
        .concat()
    }
}

/// The body part: `BK`, `Pad(P)`, `Body`, `D` of spec §11.6.
struct BodyParts {
    key: [u8; 32],
    nonce: [u8; 12],
    padded: Vec<u8>,
    body: Vec<u8>,
    digest: [u8; 32],
}

fn body_parts(
    p: &dyn CryptoProvider,
    header: &[u8],
    bk: &[u8; 32],
    plaintext: &[u8],
) -> Result<BodyParts, CaseError> {
    let mut okm = [0u8; 44];
    labeled_expand(
        p,
        &Secret::from_bytes(*bk),
        labels::FANOUT_BODY,
        &[],
        &mut okm,
    )
    .map_err(crypto("body_aead_key"))?;
    let mut padded = Vec::new();
    padding::pad_into(plaintext, &mut padded);
    let body = seal(p, &okm, header, &padded);
    let digest =
        labeled_hash(p, labels::FANOUT_DIGEST, &[header, &body]).map_err(crypto("digest"))?;
    let mut key = [0u8; 32];
    key.copy_from_slice(&okm[..32]);
    let mut nonce = [0u8; 12];
    nonce.copy_from_slice(&okm[32..]);
    Ok(BodyParts {
        key,
        nonce,
        padded,
        body,
        digest,
    })
}

fn key_message(bk: &[u8; 32], digest: &[u8; 32]) -> Vec<u8> {
    [&[0x01][..], bk, digest].concat()
}

fn entry_bytes(audience: u8, id: u32, pairwise: &[u8]) -> Vec<u8> {
    [
        &[audience][..],
        &id.to_be_bytes(),
        &(pairwise.len() as u32).to_be_bytes(),
        pairwise,
    ]
    .concat()
}

fn device_message(header: &[u8], body: &[u8], entry: &[u8]) -> Vec<u8> {
    [header, &(body.len() as u32).to_be_bytes(), body, entry].concat()
}

/// A list of accounts at ids 1, 2, …; device 1 is the admin device.
fn list_of(
    p: &dyn CryptoProvider,
    seed: &Bytes,
    epoch: u64,
    accounts: &[Account],
    at: &str,
) -> Result<KnownUser, CaseError> {
    let uk = UserKey::from_seed(Secret::from_bytes(fixed::<32>(at, seed.as_slice())?));
    let entries: Vec<DeviceEntry> = accounts
        .iter()
        .enumerate()
        .map(|(i, a)| DeviceEntry {
            device_id: i as u32 + 1,
            identity: a.identity_key(),
            admin: i == 0,
        })
        .collect();
    let list = uk.sign_list(epoch, &entries).map_err(crypto(at))?;
    let _ = p;
    Ok(KnownUser::from_list(list))
}

fn mode_of(s: &str) -> Result<HeaderMode, CaseError> {
    super::handshake::parse_mode(s)
}

/// Starts a conversation from `from` to `to` and encrypts `km` on it.
fn pairwise(
    from: &Account,
    to: &Account,
    mode: HeaderMode,
    draws: [Vec<u8>; 4],
    km: &[u8],
    at: &str,
) -> Result<(Vec<u8>, Vec<u8>), CaseError> {
    let bundle = to.bundle(None, None).map_err(crypto(at))?.to_bytes();
    let [ek, m, rp, salt] = draws;
    let mut rng = ReplayRng::new(vec![ek, m]);
    let mut conv = Conversation::start(from, &mut rng, &to.identity_key(), &bundle, mode)
        .map_err(crypto(at))?;
    rng.finish_exact(&[32, 32]).map_err(rej(at))?;
    let mut rng = ReplayRng::new(vec![rp, salt]);
    let msg = conv.encrypt(&mut rng, km).map_err(crypto(at))?;
    rng.finish_exact(&[32, 16]).map_err(rej(at))?;
    Ok((bundle, msg))
}

struct FanoutInputs {
    description: String,
    header_mode: String,
    sender_user_key_seed: Bytes,
    sender_epoch: u64,
    sender_devices: Vec<AccountSecrets>,
    sender_device_id: u32,
    recipient_user_key_seed: Bytes,
    recipient_epoch: u64,
    recipient_devices: Vec<AccountSecrets>,
    plaintext: Bytes,
    targets: Vec<TargetRandom>,
    body_key: Bytes,
}

fn open_all(
    p: &dyn CryptoProvider,
    s: &[AccountSecrets],
    at: &str,
) -> Result<Vec<Account>, CaseError> {
    s.iter()
        .enumerate()
        .map(|(i, a)| account_of(p, a, &format!("{at}[{i}]")))
        .collect()
}

fn draws_of(t: &TargetRandom, at: &str) -> Result<[Vec<u8>; 4], CaseError> {
    let f = |b: &Bytes, name: &str, n: usize| -> Result<Vec<u8>, CaseError> {
        if b.len() == n {
            Ok(b.as_slice().to_vec())
        } else {
            Err(CaseError::malformed(
                &format!("{at}.{name}"),
                format!("expected {n} bytes"),
            ))
        }
    };
    Ok([
        f(&t.ephemeral_private, "ephemeral_private", 32)?,
        f(&t.m, "m", 32)?,
        f(&t.ratchet_private, "ratchet_private", 32)?,
        f(&t.salt, "salt", 16)?,
    ])
}

impl FanoutCase {
    fn compute(p: &dyn CryptoProvider, i: FanoutInputs) -> Result<Self, CaseError> {
        let mode = mode_of(&i.header_mode)?;
        let senders = open_all(p, &i.sender_devices, "sender_devices")?;
        let recipients = open_all(p, &i.recipient_devices, "recipient_devices")?;
        let own = list_of(
            p,
            &i.sender_user_key_seed,
            i.sender_epoch,
            &senders,
            "sender_user_key_seed",
        )?;
        let recipient = list_of(
            p,
            &i.recipient_user_key_seed,
            i.recipient_epoch,
            &recipients,
            "recipient_user_key_seed",
        )?;
        let me = (i.sender_device_id as usize)
            .checked_sub(1)
            .and_then(|k| senders.get(k))
            .ok_or_else(|| CaseError::malformed("sender_device_id", "not a sender device"))?;
        let device = |aud: u8, id: u32| -> Option<&Account> {
            let list = if aud == 0 { &recipients } else { &senders };
            (id as usize).checked_sub(1).and_then(|k| list.get(k))
        };
        // Conversations: Start for each target, in order (ek, m each).
        let mut convs = Vec::new();
        let mut bundles = Vec::new();
        for (k, t) in i.targets.iter().enumerate() {
            let at = format!("targets[{k}]");
            let d = draws_of(t, &at)?;
            let to = device(t.audience, t.device_id)
                .ok_or_else(|| CaseError::malformed(&at, "no such device"))?;
            let bundle = to.bundle(None, None).map_err(crypto(&at))?.to_bytes();
            let mut rng = ReplayRng::new(vec![d[0].clone(), d[1].clone()]);
            let conv = Conversation::start(me, &mut rng, &to.identity_key(), &bundle, mode)
                .map_err(crypto(&at))?;
            rng.finish_exact(&[32, 32]).map_err(rej(&at))?;
            convs.push(conv);
            bundles.push(bundle);
        }
        // fanout::encrypt draws bk, then each target's ratchet key and salt.
        let bk = fixed::<32>("body_key", i.body_key.as_slice())?;
        let mut draws = vec![bk.to_vec()];
        for (k, t) in i.targets.iter().enumerate() {
            let d = draws_of(t, &format!("targets[{k}]"))?;
            draws.push(d[2].clone());
            draws.push(d[3].clone());
        }
        let mut rng = ReplayRng::new(draws);
        let mut targets: Vec<Target<'_>> = convs
            .iter_mut()
            .zip(&i.targets)
            .map(|(c, t)| Target {
                audience: if t.audience == 0 {
                    Audience::Recipient
                } else {
                    Audience::OwnDevice
                },
                device_id: t.device_id,
                conversation: c,
            })
            .collect();
        let wire = fanout::encrypt(
            &own,
            i.sender_device_id,
            &recipient,
            &mut targets,
            i.plaintext.as_slice(),
            &mut rng,
        )
        .map_err(crypto("fanout_message"))?;
        let mut lengths = vec![32];
        lengths.extend(i.targets.iter().flat_map(|_| [32, 16]));
        rng.finish_exact(&lengths).map_err(rej("targets"))?;
        // The same from the building blocks.
        let header = Header::of(&own, i.sender_device_id, &recipient).encode();
        let parts = body_parts(p, &header, &bk, i.plaintext.as_slice())?;
        let km = key_message(&bk, &parts.digest);
        let mut entries = Vec::new();
        let mut rebuilt = [
            &header[..],
            &(parts.body.len() as u32).to_be_bytes(),
            &parts.body,
        ]
        .concat();
        rebuilt.extend_from_slice(&(i.targets.len() as u16).to_be_bytes());
        for (k, t) in i.targets.iter().enumerate() {
            let at = format!("targets[{k}]");
            let to = device(t.audience, t.device_id)
                .ok_or_else(|| CaseError::malformed(&at, "no such device"))?;
            let (bundle, msg) = pairwise(me, to, mode, draws_of(t, &at)?, &km, &at)?;
            if bundle != bundles[k] {
                return Err(CaseError::check_failed(&at, "bundle differs"));
            }
            rebuilt.extend_from_slice(&entry_bytes(t.audience, t.device_id, &msg));
            entries.push(EntryOut {
                audience: t.audience,
                device_id: t.device_id,
                bundle: bundle.into(),
                pairwise: msg.into(),
            });
        }
        if rebuilt != wire {
            return Err(CaseError::check_failed(
                "fanout_message",
                "fanout::encrypt differs from the building blocks",
            ));
        }
        // The server splits it; each device receives its part.
        let split = fanout::split(&wire).map_err(crypto("fanout_message"))?;
        let mut deliveries = Vec::new();
        for (k, (aud, id, m)) in split.into_iter().enumerate() {
            let at = format!("deliveries[{k}]");
            let aud = if aud == Audience::Recipient { 0u8 } else { 1 };
            let e = &entries[k];
            if (aud, id) != (e.audience, e.device_id) {
                return Err(CaseError::check_failed(&at, "split in another order"));
            }
            let expected = device_message(
                &header,
                &parts.body,
                &entry_bytes(aud, id, e.pairwise.as_slice()),
            );
            if expected != m {
                return Err(CaseError::check_failed(&at, "split differs"));
            }
            let secrets = if aud == 0 {
                &i.recipient_devices
            } else {
                &i.sender_devices
            };
            let mut account = account_of(p, &secrets[id as usize - 1], &at)?;
            let own_of_receiver = if aud == 0 { &recipient } else { &own };
            let msg = DeviceMessage::parse(&m).map_err(crypto(&at))?;
            let mut conv = Conversation::new(me.identity_key());
            let got = fanout::receive(own_of_receiver, &own, &mut conv, &mut account, &msg)
                .map_err(crypto(&at))?;
            deliveries.push(Delivered {
                audience: aud,
                device_id: id,
                device_message: m.into(),
                plaintext: got.plaintext.into(),
                recipient_list_current: got.recipient_list_current,
            });
        }
        Ok(Self {
            description: i.description,
            header_mode: i.header_mode,
            sender_user_key_seed: i.sender_user_key_seed,
            sender_epoch: i.sender_epoch,
            sender_devices: i.sender_devices,
            sender_device_id: i.sender_device_id,
            recipient_user_key_seed: i.recipient_user_key_seed,
            recipient_epoch: i.recipient_epoch,
            recipient_devices: i.recipient_devices,
            plaintext: i.plaintext,
            targets: i.targets,
            body_key: i.body_key,
            sender_list: own.list().to_bytes().to_vec().into(),
            sender_list_hash: own.list_hash().to_vec().into(),
            recipient_list: recipient.list().to_bytes().to_vec().into(),
            recipient_list_hash: recipient.list_hash().to_vec().into(),
            header: header.into(),
            body_aead_key: parts.key.to_vec().into(),
            body_nonce: parts.nonce.to_vec().into(),
            padded_plaintext: parts.padded.into(),
            body: parts.body.into(),
            digest: parts.digest.to_vec().into(),
            key_message: km.into(),
            entries,
            fanout_message: wire.into(),
            deliveries,
        })
    }
}

impl Case for FanoutCase {
    const KIND: &'static str = "fanout";
    fn recompute(&self, p: &dyn CryptoProvider) -> Result<Self, CaseError> {
        Self::compute(
            p,
            FanoutInputs {
                description: self.description.clone(),
                header_mode: self.header_mode.clone(),
                sender_user_key_seed: self.sender_user_key_seed.clone(),
                sender_epoch: self.sender_epoch,
                sender_devices: self.sender_devices.clone(),
                sender_device_id: self.sender_device_id,
                recipient_user_key_seed: self.recipient_user_key_seed.clone(),
                recipient_epoch: self.recipient_epoch,
                recipient_devices: self.recipient_devices.clone(),
                plaintext: self.plaintext.clone(),
                targets: self.targets.clone(),
                body_key: self.body_key.clone(),
            },
        )
    }
}

/// A device message given to a receiving device: accepted, or refused
/// with an error class.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FanoutReceive {
    description: String,
    receiver: AccountSecrets,
    own_list: Bytes,
    sender_list: Bytes,
    message: Bytes,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    recipient_list_current: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    plaintext: Option<Bytes>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

impl FanoutReceive {
    fn compute(
        p: &dyn CryptoProvider,
        description: String,
        receiver: AccountSecrets,
        own_list: Bytes,
        sender_list: Bytes,
        message: Bytes,
    ) -> Result<Self, CaseError> {
        let mut account = account_of(p, &receiver, "receiver")?;
        let own = KnownUser::from_list(
            DeviceList::verify_with(p, own_list.as_slice(), None).map_err(crypto("own_list"))?,
        );
        let other = KnownUser::from_list(
            DeviceList::verify_with(p, sender_list.as_slice(), None)
                .map_err(crypto("sender_list"))?,
        );
        let result = DeviceMessage::parse(message.as_slice())
            .map_err(sova::devices::FanoutError::Malformed)
            .and_then(|m| {
                // The sender is looked up by UK_S: our own user, else the
                // other person known.
                let sender = if m.header.sender_user == *own.user_key() {
                    &own
                } else {
                    &other
                };
                let peer = sender
                    .list()
                    .device(m.header.sender_device)
                    .map_or([0u8; 64], |e| e.identity);
                let mut conv = Conversation::new(peer);
                fanout::receive(&own, sender, &mut conv, &mut account, &m)
            });
        let (error, plaintext, current) = match result {
            Ok(r) => (
                None,
                Some(r.plaintext.into()),
                Some(r.recipient_list_current),
            ),
            Err(e) => (Some(class(&e)), None, None),
        };
        Ok(Self {
            description,
            receiver,
            own_list,
            sender_list,
            message,
            error,
            plaintext,
            recipient_list_current: current,
        })
    }
}

impl Case for FanoutReceive {
    const KIND: &'static str = "fanout_receive";
    fn recompute(&self, p: &dyn CryptoProvider) -> Result<Self, CaseError> {
        Self::compute(
            p,
            self.description.clone(),
            self.receiver.clone(),
            self.own_list.clone(),
            self.sender_list.clone(),
            self.message.clone(),
        )
    }
}

// ---------------------------------------------------------------------------
// Generation.

fn b(v: &[u8]) -> Bytes {
    Bytes::from(v.to_vec())
}

fn with<F: FnOnce(&mut Vec<u8>)>(v: &[u8], f: F) -> Vec<u8> {
    let mut v = v.to_vec();
    f(&mut v);
    v
}

fn generate(g: &mut FileGen<'_>) -> Result<(), CaseError> {
    lists(g)?;
    directory(g)?;
    links(g)?;
    fanouts(g)
}

fn lists(g: &mut FileGen<'_>) -> Result<(), CaseError> {
    // Valid lists.
    type Shape = (&'static str, u64, Vec<(u32, bool)>);
    let shapes: [Shape; 3] = [
        ("one admin device, epoch 1", 1, vec![(1, true)]),
        (
            "three devices, ids 1, 5, 4294967295, the first and last admin",
            7,
            vec![(1, true), (5, false), (u32::MAX, true)],
        ),
        (
            "64 devices (MAX_DEVICES), ids 1..64, device 1 admin",
            1 << 40,
            (1..=64).map(|i| (i, i == 1)).collect(),
        ),
    ];
    for (desc, epoch, ids) in shapes {
        g.case(|c| {
            let entries = ids
                .iter()
                .map(|&(id, admin)| Entry {
                    device_id: id,
                    identity: c.bytes(&format!("identity{id}"), 64).into(),
                    admin,
                })
                .collect();
            ListCase::compute(
                c.provider(),
                desc.into(),
                c.bytes("user_key_seed", 32).into(),
                epoch,
                entries,
            )
        })?;
    }
    // Rejections. The base list: user key from a fixed seed, epoch 9, two
    // devices (ids 1 admin, 2).
    let seed = g_provider_seed();
    fn raw_base(
        c: &Inputs<'_>,
        epoch: u64,
        ents: Vec<(u32, Vec<u8>, u8)>,
    ) -> Result<Vec<u8>, CaseError> {
        raw_list(c.provider(), &g_provider_seed(), epoch, &ents)
    }
    type Mk = Box<dyn Fn(&Inputs<'_>, &[u8], &[u8]) -> Result<(Vec<u8>, Vec<u8>), CaseError>>;
    // Offsets: magic 0..14, version 14, UK 15..47, epoch 47..55, count 55,
    // entry 0 at 56 (id 56..60, identity 60..124, flags 124), entry 1 at 125
    // (flags 193), signature 194..258.
    let cases: Vec<(&str, Mk)> = vec![
        (
            "the empty string",
            Box::new(|_, _, _| Ok((Vec::new(), Vec::new()))),
        ),
        (
            "the first 13 bytes (inside the magic)",
            Box::new(|_, l, _| Ok((l[..13].to_vec(), Vec::new()))),
        ),
        (
            "magic `SOVA-1 devicez`",
            Box::new(|_, l, _| Ok((with(l, |v| v[13] = b'z'), Vec::new()))),
        ),
        (
            "version 0x02",
            Box::new(|_, l, _| Ok((with(l, |v| v[14] = 2), Vec::new()))),
        ),
        (
            "the first 15 bytes (ends after the version)",
            Box::new(|_, l, _| Ok((l[..15].to_vec(), Vec::new()))),
        ),
        (
            "the first 50 bytes (inside the epoch)",
            Box::new(|_, l, _| Ok((l[..50].to_vec(), Vec::new()))),
        ),
        (
            "the first 100 bytes (inside entry 0's identity)",
            Box::new(|_, l, _| Ok((l[..100].to_vec(), Vec::new()))),
        ),
        (
            "the last byte removed (inside the signature)",
            Box::new(|_, l, _| Ok((l[..l.len() - 1].to_vec(), Vec::new()))),
        ),
        (
            "the signature removed",
            Box::new(|_, l, _| Ok((l[..194].to_vec(), Vec::new()))),
        ),
        (
            "count 0",
            Box::new(|_, l, _| Ok((with(l, |v| v[55] = 0), Vec::new()))),
        ),
        (
            "count 65",
            Box::new(|_, l, _| Ok((with(l, |v| v[55] = 65), Vec::new()))),
        ),
        (
            "count 3 with two entries (the third runs into the signature)",
            Box::new(|_, l, _| Ok((with(l, |v| v[55] = 3), Vec::new()))),
        ),
        (
            "count 1 with two entries (entry 1 read as the signature: trailing bytes)",
            Box::new(|_, l, _| Ok((with(l, |v| v[55] = 1), Vec::new()))),
        ),
        (
            "entry 0 flags 0x02",
            Box::new(|_, l, _| Ok((with(l, |v| v[124] = 0x02), Vec::new()))),
        ),
        (
            "entry 1 flags 0x81",
            Box::new(|_, l, _| Ok((with(l, |v| v[193] = 0x81), Vec::new()))),
        ),
        (
            "a byte 00 appended",
            Box::new(|_, l, _| Ok((with(l, |v| v.push(0)), Vec::new()))),
        ),
        (
            "a valid list of another user key",
            Box::new(|c, _, _| {
                let other = c.array::<32>("other_user_key_seed");
                Ok((
                    raw_list(c.provider(), &other, 9, &[(1, c.bytes("identity1", 64), 1)])?,
                    Vec::new(),
                ))
            }),
        ),
        (
            "the lowest bit of the signature's first byte flipped",
            Box::new(|_, l, _| Ok((with(l, |v| v[194] ^= 1), Vec::new()))),
        ),
        (
            "the lowest bit of the signature's last byte flipped",
            Box::new(|_, l, _| Ok((with(l, |v| v[257] ^= 1), Vec::new()))),
        ),
        (
            "epoch 10 without signing again",
            Box::new(|_, l, _| Ok((with(l, |v| v[54] = 10), Vec::new()))),
        ),
        (
            "entry 1 made admin without signing again",
            Box::new(|_, l, _| Ok((with(l, |v| v[193] = 1), Vec::new()))),
        ),
        (
            "signed, ids 2 then 1",
            Box::new(|c, _, _| {
                let (a, b2) = (c.bytes("identity1", 64), c.bytes("identity2", 64));
                Ok((raw_base(c, 9, vec![(2, a, 1), (1, b2, 0)])?, Vec::new()))
            }),
        ),
        (
            "signed, id 1 twice",
            Box::new(|c, _, _| {
                let (a, b2) = (c.bytes("identity1", 64), c.bytes("identity2", 64));
                Ok((raw_base(c, 9, vec![(1, a, 1), (1, b2, 0)])?, Vec::new()))
            }),
        ),
        (
            "signed, one identity at ids 1 and 2",
            Box::new(|c, _, _| {
                let a = c.bytes("identity1", 64);
                Ok((
                    raw_base(c, 9, vec![(1, a.clone(), 1), (2, a, 0)])?,
                    Vec::new(),
                ))
            }),
        ),
        // Several faults: the first in the order of §11.3 wins.
        (
            "version 0x02 and the last byte removed",
            Box::new(|_, l, _| {
                Ok((
                    with(l, |v| {
                        v[14] = 2;
                        v.pop();
                    }),
                    Vec::new(),
                ))
            }),
        ),
        (
            "count 0 and a list of another user key",
            Box::new(|c, _, _| {
                let other = c.array::<32>("other_user_key_seed");
                let l = raw_list(c.provider(), &other, 9, &[(1, c.bytes("identity1", 64), 1)])?;
                Ok((with(&l, |v| v[55] = 0), Vec::new()))
            }),
        ),
        (
            "entry 0 flags 0x04 and the last byte removed (flags are read first)",
            Box::new(|_, l, _| {
                Ok((
                    with(l, |v| {
                        v[124] = 4;
                        v.pop();
                    }),
                    Vec::new(),
                ))
            }),
        ),
        (
            "a byte appended to a list of another user key",
            Box::new(|c, _, _| {
                let other = c.array::<32>("other_user_key_seed");
                let l = raw_list(c.provider(), &other, 9, &[(1, c.bytes("identity1", 64), 1)])?;
                Ok((with(&l, |v| v.push(0)), Vec::new()))
            }),
        ),
        (
            "another user key's list with its signature flipped",
            Box::new(|c, _, _| {
                let other = c.array::<32>("other_user_key_seed");
                let l = raw_list(c.provider(), &other, 9, &[(1, c.bytes("identity1", 64), 1)])?;
                let n = l.len() - 64;
                Ok((with(&l, |v| v[n] ^= 1), Vec::new()))
            }),
        ),
        (
            "ids 2 then 1, the signature flipped",
            Box::new(|c, _, _| {
                let (a, b2) = (c.bytes("identity1", 64), c.bytes("identity2", 64));
                let l = raw_base(c, 9, vec![(2, a, 1), (1, b2, 0)])?;
                Ok((with(&l, |v| v[194] ^= 1), Vec::new()))
            }),
        ),
    ];
    for (desc, mk) in cases {
        g.case(|c| {
            let base = raw_base(
                c,
                9,
                vec![
                    (1, c.bytes("identity1", 64), 1),
                    (2, c.bytes("identity2", 64), 0),
                ],
            )?;
            let user = c.provider().ed25519_public_key(&Secret::from_bytes(seed));
            let (list, _) = mk(c, &base, &user)?;
            ListRejection::compute(desc.into(), b(&user), list.into())
        })?;
    }
    Ok(())
}

/// The user key seed of the rejection cases and the directory (fixed, so
/// that the cases share one key).
fn g_provider_seed() -> [u8; 32] {
    let v = crate::generator::input(FILE, 0, "rejections.user_key_seed", 32);
    let mut s = [0u8; 32];
    s.copy_from_slice(&v);
    s
}

fn directory(g: &mut FileGen<'_>) -> Result<(), CaseError> {
    g.case(|c| {
        let p = c.provider();
        let seed = c.array::<32>("user_key_seed");
        let id = |n: u32| c.bytes(&format!("identity{n}"), 64);
        let user = p.ed25519_public_key(&Secret::from_bytes(seed));
        let other = c.array::<32>("other_user_key_seed");
        let l5 = raw_list(p, &seed, 5, &[(1, id(1), 1), (2, id(2), 0)])?;
        let l6 = raw_list(p, &seed, 6, &[(1, id(1), 1), (2, id(2), 0), (3, id(3), 0)])?;
        let l6_fork = raw_list(p, &seed, 6, &[(1, id(1), 1), (3, id(4), 0)])?;
        let l9 = raw_list(p, &seed, 9, &[(1, id(1), 1), (3, id(5), 0), (4, id(4), 0)])?;
        let l9_bad = with(&l9, |v| {
            let n = v.len() - 1;
            v[n] ^= 1;
        });
        let l10_other = raw_list(p, &other, 10, &[(1, id(1), 1)])?;
        let l8 = raw_list(p, &seed, 8, &[(1, id(1), 1)])?;
        let l10 = raw_list(p, &seed, 10, &[(1, id(1), 1), (4, id(4), 1)])?;
        let lists = vec![
            l5,
            l6.clone(),
            l6,
            l9_bad,
            raw_list(p, &seed, 5, &[(1, id(1), 1)])?,
            l6_fork,
            l9.clone(),
            l10_other,
            l8,
            l9,
            l10,
        ];
        DirectorySequence::compute(
            "first list at epoch 5; epoch 6 adds device 3; the same again; epoch 9 with a bad \
             signature; an older epoch; a fork at epoch 6; epoch 9 (gap allowed) removes device \
             2 and gives id 3 a new identity; another user's list; epoch 8; epoch 9 again; \
             epoch 10"
                .into(),
            b(&user),
            lists.into_iter().map(Bytes::from).collect(),
        )
    })?;
    g.case(|c| {
        let p = c.provider();
        let seed = c.array::<32>("user_key_seed");
        let id = |n: u32| c.bytes(&format!("identity{n}"), 64);
        let user = p.ed25519_public_key(&Secret::from_bytes(seed));
        let l0 = raw_list(p, &seed, 0, &[(7, id(7), 1)])?;
        let l1 = raw_list(p, &seed, 1, &[(7, id(7), 1), (8, id(8), 0)])?;
        let l2 = raw_list(p, &seed, 2, &[(7, id(7), 1)])?;
        let l3 = raw_list(p, &seed, 3, &[(7, id(7), 1), (8, id(8), 0)])?;
        DirectorySequence::compute(
            "first list at epoch 0; device 8 added, removed and listed again with the same \
             identity (a new device each time); the removed list replayed"
                .into(),
            b(&user),
            vec![l0, l1.clone(), l2, l1, l3]
                .into_iter()
                .map(Bytes::from)
                .collect(),
        )
    })
}

pub(super) fn secrets(c: &Inputs<'_>, at: &str) -> AccountSecrets {
    AccountSecrets::new(c, at, false, false)
}

fn links(g: &mut FileGen<'_>) -> Result<(), CaseError> {
    let shapes: [(&str, bool, Vec<u32>, usize); 3] = [
        (
            "a non-admin device linked to a one-device list, no data",
            false,
            vec![1],
            0,
        ),
        (
            "an admin device linked, with 100 bytes of data",
            true,
            vec![1],
            100,
        ),
        (
            "linked to a list with ids 1, 4, 9: the new id is 10",
            false,
            vec![1, 4, 9],
            37,
        ),
    ];
    for (desc, admin, ids, n) in shapes {
        g.case(|c| {
            let seed = c.array::<32>("user_key_seed");
            let ents: Vec<_> = ids
                .iter()
                .map(|&i| (i, c.bytes(&format!("identity{i}"), 64), u8::from(i == 1)))
                .collect();
            let current = raw_list(c.provider(), &seed, 3, &ents)?;
            LinkCase::compute(
                c.provider(),
                LinkInputs {
                    description: desc.into(),
                    new_device: secrets(c, "new_device"),
                    link_private: c.bytes("link_private", 32).into(),
                    user_key_seed: b(&seed),
                    current_list: current.into(),
                    admin,
                    data: c.bytes("data", n).into(),
                    admin_link_private: c.bytes("admin_link_private", 32).into(),
                },
            )
        })?;
    }
    link_rejections(g)
}

fn empty_rejection(side: &str, desc: &str) -> LinkRejection {
    LinkRejection {
        description: desc.into(),
        side: side.into(),
        user_key_seed: None,
        current_list: None,
        offer: None,
        admin: None,
        data_length: None,
        new_device: None,
        link_private: None,
        response: None,
        error: String::new(),
    }
}

/// The new device's account and offer of a rejection case.
fn offer_of(c: &Inputs<'_>) -> Result<(AccountSecrets, Account, [u8; 32], Vec<u8>), CaseError> {
    let s = secrets(c, "new_device");
    let a = account_of(c.provider(), &s, "new_device")?;
    let e_n = c.array::<32>("link_private");
    let mut rng = ReplayRng::new(vec![e_n.to_vec()]);
    let req = LinkRequest::new(&a, &mut rng).map_err(crypto("offer"))?;
    let offer = req.offer().to_vec();
    Ok((s, a, e_n, offer))
}

fn link_rejections(g: &mut FileGen<'_>) -> Result<(), CaseError> {
    // The admin side. Offer offsets: magic 0..17, version 17, E_N 18..50,
    // IdentityPublic 50..178 (the binding signature at 114).
    type AdminMk =
        Box<dyn Fn(&Inputs<'_>, &mut LinkRejection, &[u8], &[u8; 32]) -> Result<(), CaseError>>;
    fn set_list(
        c: &Inputs<'_>,
        r: &mut LinkRejection,
        seed: &[u8; 32],
        epoch: u64,
        ents: Vec<(u32, Vec<u8>, u8)>,
    ) -> Result<(), CaseError> {
        r.current_list = Some(raw_list(c.provider(), seed, epoch, &ents)?.into());
        Ok(())
    }
    let admin_cases: Vec<(&str, AdminMk)> = vec![
        (
            "65,537 bytes of data",
            Box::new(|_, r, _, _| {
                r.data_length = Some(65_537);
                Ok(())
            }),
        ),
        (
            "the user key does not sign the current list",
            Box::new(|c, r, _, _| {
                r.user_key_seed = Some(c.bytes("other_user_key_seed", 32).into());
                Ok(())
            }),
        ),
        (
            "the offer's magic changed",
            Box::new(|_, r, o, _| {
                r.offer = Some(with(o, |v| v[0] ^= 0x20).into());
                Ok(())
            }),
        ),
        (
            "offer version 0x02",
            Box::new(|_, r, o, _| {
                r.offer = Some(with(o, |v| v[17] = 2).into());
                Ok(())
            }),
        ),
        (
            "the offer's last byte removed",
            Box::new(|_, r, o, _| {
                r.offer = Some(o[..o.len() - 1].to_vec().into());
                Ok(())
            }),
        ),
        (
            "the offer cut inside E_N",
            Box::new(|_, r, o, _| {
                r.offer = Some(o[..40].to_vec().into());
                Ok(())
            }),
        ),
        (
            "a byte appended to the offer",
            Box::new(|_, r, o, _| {
                r.offer = Some(with(o, |v| v.push(0)).into());
                Ok(())
            }),
        ),
        (
            "the identity binding's first byte flipped",
            Box::new(|_, r, o, _| {
                r.offer = Some(with(o, |v| v[114] ^= 1).into());
                Ok(())
            }),
        ),
        (
            "the new device is already listed",
            Box::new(|c, r, o, seed| {
                set_list(
                    c,
                    r,
                    seed,
                    3,
                    vec![
                        (1, c.bytes("identity1", 64), 1),
                        (2, o[50..114].to_vec(), 0),
                    ],
                )
            }),
        ),
        (
            "the current list holds 64 devices",
            Box::new(|c, r, _, seed| {
                set_list(
                    c,
                    r,
                    seed,
                    3,
                    (1..=64)
                        .map(|i| (i, c.bytes(&format!("identity{i}"), 64), u8::from(i == 1)))
                        .collect(),
                )
            }),
        ),
        (
            "the largest listed id is 4294967295",
            Box::new(|c, r, _, seed| {
                set_list(
                    c,
                    r,
                    seed,
                    3,
                    vec![
                        (1, c.bytes("identity1", 64), 1),
                        (u32::MAX, c.bytes("identity2", 64), 0),
                    ],
                )
            }),
        ),
        (
            "the current epoch is 2^64 - 1",
            Box::new(|c, r, _, seed| {
                set_list(c, r, seed, u64::MAX, vec![(1, c.bytes("identity1", 64), 1)])
            }),
        ),
        // Several faults.
        (
            "65,537 bytes of data and another user key",
            Box::new(|c, r, _, _| {
                r.data_length = Some(65_537);
                r.user_key_seed = Some(c.bytes("other_user_key_seed", 32).into());
                Ok(())
            }),
        ),
        (
            "another user key and offer version 0x02",
            Box::new(|c, r, o, _| {
                r.user_key_seed = Some(c.bytes("other_user_key_seed", 32).into());
                r.offer = Some(with(o, |v| v[17] = 2).into());
                Ok(())
            }),
        ),
        (
            "a byte appended to the offer and the binding flipped",
            Box::new(|_, r, o, _| {
                r.offer = Some(
                    with(o, |v| {
                        v[114] ^= 1;
                        v.push(0);
                    })
                    .into(),
                );
                Ok(())
            }),
        ),
        (
            "the binding flipped, the device already listed",
            Box::new(|c, r, o, seed| {
                r.offer = Some(with(o, |v| v[114] ^= 1).into());
                set_list(
                    c,
                    r,
                    seed,
                    3,
                    vec![
                        (1, c.bytes("identity1", 64), 1),
                        (2, o[50..114].to_vec(), 0),
                    ],
                )
            }),
        ),
        (
            "already listed in a full list",
            Box::new(|c, r, o, seed| {
                let mut ents: Vec<_> = (1..=63)
                    .map(|i| (i, c.bytes(&format!("identity{i}"), 64), u8::from(i == 1)))
                    .collect();
                ents.push((64, o[50..114].to_vec(), 0));
                set_list(c, r, seed, 3, ents)
            }),
        ),
        (
            "a full list whose largest id is 4294967295",
            Box::new(|c, r, _, seed| {
                let mut ents: Vec<_> = (1..=63)
                    .map(|i| (i, c.bytes(&format!("identity{i}"), 64), u8::from(i == 1)))
                    .collect();
                ents.push((u32::MAX, c.bytes("identity64", 64), 0));
                set_list(c, r, seed, 3, ents)
            }),
        ),
    ];
    for (desc, mk) in admin_cases {
        g.case(|c| {
            let (_, _, _, offer) = offer_of(c)?;
            let seed = c.array::<32>("user_key_seed");
            let mut r = empty_rejection("admin", desc);
            r.user_key_seed = Some(b(&seed));
            r.current_list =
                Some(raw_list(c.provider(), &seed, 3, &[(1, c.bytes("identity1", 64), 1)])?.into());
            r.offer = Some(offer.clone().into());
            r.admin = Some(false);
            r.data_length = Some(0);
            mk(c, &mut r, &offer, &seed)?;
            LinkRejection::compute(c.provider(), r)
        })?;
    }
    // The new device's side. Response: magic 0..20, version 20, E_A 21..53,
    // then the sealed payload and its tag.
    type NewMk = Box<dyn Fn(&Inputs<'_>, &Ctx) -> Result<Vec<u8>, CaseError>>;
    let new_cases: Vec<(&str, NewMk)> = vec![
        (
            "the response's magic changed",
            Box::new(|_, x| Ok(with(&x.good()?, |v| v[0] ^= 0x20))),
        ),
        (
            "response version 0x02",
            Box::new(|_, x| Ok(with(&x.good()?, |v| v[20] = 2))),
        ),
        (
            "the response cut inside E_A",
            Box::new(|_, x| Ok(x.good()?[..40].to_vec())),
        ),
        (
            "E_A and 15 bytes (shorter than a tag)",
            Box::new(|_, x| Ok(x.good()?[..68].to_vec())),
        ),
        (
            "E_A all zero (low order)",
            Box::new(|_, x| Ok(with(&x.good()?, |v| v[21..53].fill(0)))),
        ),
        (
            "E_A's first byte changed",
            Box::new(|_, x| Ok(with(&x.good()?, |v| v[21] ^= 1))),
        ),
        (
            "the tag's last byte flipped",
            Box::new(|_, x| {
                Ok(with(&x.good()?, |v| {
                    let n = v.len() - 1;
                    v[n] ^= 1;
                }))
            }),
        ),
        (
            "a byte appended (the tag moves)",
            Box::new(|_, x| Ok(with(&x.good()?, |v| v.push(0)))),
        ),
        (
            "a response for another offer (another E_N)",
            Box::new(|c, x| {
                let other_offer = with(&x.offer, |v| {
                    v[18..50].copy_from_slice(&c.bytes("other_link_public", 32))
                });
                let e_n_pub: [u8; 32] = fixed("offer", &x.offer[18..50])?;
                raw_response(
                    c.provider(),
                    &other_offer,
                    &e_n_pub,
                    &x.e_a,
                    &x.payload(&x.list()?, None, b"")?,
                )
            }),
        ),
        (
            "the payload's list length beyond the payload",
            Box::new(|_, x| {
                let mut p = x.payload(&x.list()?, None, b"")?;
                p[3] = p[3].wrapping_add(100);
                x.seal(&p)
            }),
        ),
        (
            "the payload's admin flag 2",
            Box::new(|_, x| {
                let l = x.list()?;
                let mut p = x.payload(&l, None, b"")?;
                p[4 + l.len()] = 2;
                x.seal(&p)
            }),
        ),
        (
            "a byte after the payload's data",
            Box::new(|_, x| x.seal(&with(&x.payload(&x.list()?, None, b"ab")?, |v| v.push(0)))),
        ),
        (
            "the payload's data cut short",
            Box::new(|_, x| {
                let p = x.payload(&x.list()?, None, b"abcd")?;
                x.seal(&p[..p.len() - 1])
            }),
        ),
        (
            "the list's signature flipped",
            Box::new(|_, x| {
                x.seal(&x.payload(
                    &with(&x.list()?, |v| {
                        let n = v.len() - 1;
                        v[n] ^= 1;
                    }),
                    None,
                    b"",
                )?)
            }),
        ),
        (
            "the list's magic changed",
            Box::new(|_, x| x.seal(&x.payload(&with(&x.list()?, |v| v[0] ^= 0x20), None, b"")?)),
        ),
        (
            "a signed list with the new device's identity twice",
            Box::new(|c, x| {
                let l = raw_list(
                    c.provider(),
                    &x.seed,
                    4,
                    &[
                        (1, c.bytes("identity1", 64), 1),
                        (2, x.identity.clone(), 0),
                        (3, x.identity.clone(), 0),
                    ],
                )?;
                x.seal(&x.payload(&l, None, b"")?)
            }),
        ),
        (
            "a list without the new device",
            Box::new(|c, x| {
                let l = raw_list(
                    c.provider(),
                    &x.seed,
                    4,
                    &[
                        (1, c.bytes("identity1", 64), 1),
                        (2, c.bytes("identity2", 64), 0),
                    ],
                )?;
                x.seal(&x.payload(&l, None, b"")?)
            }),
        ),
        (
            "an admin flag with another user key's seed",
            Box::new(|c, x| {
                x.seal(&x.payload(&x.list()?, Some(&c.bytes("other_user_key_seed", 32)), b"")?)
            }),
        ),
        (
            "a list of another user key, with this key's seed",
            Box::new(|c, x| {
                let other = c.array::<32>("other_user_key_seed");
                let l = raw_list(
                    c.provider(),
                    &other,
                    4,
                    &[(1, c.bytes("identity1", 64), 1), (2, x.identity.clone(), 0)],
                )?;
                x.seal(&x.payload(&l, Some(&x.seed), b"")?)
            }),
        ),
        // Several faults.
        (
            "E_A all zero and the tag flipped",
            Box::new(|_, x| {
                Ok(with(&x.good()?, |v| {
                    v[21..53].fill(0);
                    let n = v.len() - 1;
                    v[n] ^= 1;
                }))
            }),
        ),
        (
            "a byte after the payload and the list's signature flipped",
            Box::new(|_, x| {
                x.seal(&with(
                    &x.payload(
                        &with(&x.list()?, |v| {
                            let n = v.len() - 1;
                            v[n] ^= 1;
                        }),
                        None,
                        b"",
                    )?,
                    |v| v.push(0),
                ))
            }),
        ),
        (
            "the list's signature flipped and the new device not listed",
            Box::new(|c, x| {
                let l = raw_list(
                    c.provider(),
                    &x.seed,
                    4,
                    &[(1, c.bytes("identity1", 64), 1)],
                )?;
                x.seal(&x.payload(
                    &with(&l, |v| {
                        let n = v.len() - 1;
                        v[n] ^= 1;
                    }),
                    None,
                    b"",
                )?)
            }),
        ),
        (
            "not listed, with another user key's seed",
            Box::new(|c, x| {
                let l = raw_list(
                    c.provider(),
                    &x.seed,
                    4,
                    &[(1, c.bytes("identity1", 64), 1)],
                )?;
                x.seal(&x.payload(&l, Some(&c.bytes("other_user_key_seed", 32)), b"")?)
            }),
        ),
    ];
    for (desc, mk) in new_cases {
        g.case(|c| {
            let (s, a, e_n, offer) = offer_of(c)?;
            let x = Ctx {
                p: c.provider(),
                seed: c.array::<32>("user_key_seed"),
                e_a: c.array::<32>("admin_link_private"),
                identity: a.identity_key().to_vec(),
                admin_identity: c.bytes("identity1", 64),
                offer,
            };
            let mut r = empty_rejection("new_device", desc);
            r.new_device = Some(s);
            r.link_private = Some(b(&e_n));
            r.response = Some(mk(c, &x)?.into());
            LinkRejection::compute(c.provider(), r)
        })?;
    }
    Ok(())
}

/// What the new device's rejection cases are built from.
struct Ctx<'a> {
    p: &'a dyn CryptoProvider,
    seed: [u8; 32],
    e_a: [u8; 32],
    identity: Vec<u8>,
    admin_identity: Vec<u8>,
    offer: Vec<u8>,
}

impl Ctx<'_> {
    fn list(&self) -> Result<Vec<u8>, CaseError> {
        raw_list(
            self.p,
            &self.seed,
            4,
            &[
                (1, self.admin_identity.clone(), 1),
                (2, self.identity.clone(), 0),
            ],
        )
    }
    fn payload(&self, list: &[u8], seed: Option<&[u8]>, data: &[u8]) -> Result<Vec<u8>, CaseError> {
        Ok(payload_bytes(list, seed, data))
    }
    fn seal(&self, payload: &[u8]) -> Result<Vec<u8>, CaseError> {
        let e_n_pub: [u8; 32] = fixed("offer", &self.offer[18..50])?;
        raw_response(self.p, &self.offer, &e_n_pub, &self.e_a, payload)
    }
    fn good(&self) -> Result<Vec<u8>, CaseError> {
        self.seal(&self.payload(&self.list()?, None, b"")?)
    }
}

fn target_random(c: &Inputs<'_>, k: usize, audience: u8, device_id: u32) -> TargetRandom {
    let f = |n: &str, len| c.bytes(&format!("targets[{k}].{n}"), len).into();
    TargetRandom {
        audience,
        device_id,
        ephemeral_private: f("ephemeral_private", 32),
        m: f("m", 32),
        ratchet_private: f("ratchet_private", 32),
        salt: f("salt", 16),
    }
}

fn fanouts(g: &mut FileGen<'_>) -> Result<(), CaseError> {
    g.case(|c| {
        FanoutCase::compute(
            c.provider(),
            FanoutInputs {
                description: "Alice's device 1 (of 2) to Bob (2 devices): entries for Bob's \
                              devices 1 and 2 and Alice's device 2"
                    .into(),
                header_mode: "plain".into(),
                sender_user_key_seed: c.bytes("sender_user_key_seed", 32).into(),
                sender_epoch: 3,
                sender_devices: vec![
                    secrets(c, "sender_devices[0]"),
                    secrets(c, "sender_devices[1]"),
                ],
                sender_device_id: 1,
                recipient_user_key_seed: c.bytes("recipient_user_key_seed", 32).into(),
                recipient_epoch: 12,
                recipient_devices: vec![
                    secrets(c, "recipient_devices[0]"),
                    secrets(c, "recipient_devices[1]"),
                ],
                plaintext: b(b"Hello Bob, from Alice's phone."),
                targets: vec![
                    target_random(c, 0, 0, 1),
                    target_random(c, 1, 0, 2),
                    target_random(c, 2, 1, 2),
                ],
                body_key: c.bytes("body_key", 32).into(),
            },
        )
    })?;
    fanout_receives(g)
}

/// The world of the receive cases: Alice (devices 1 and 2, epoch 3) sends
/// from device 1 to Bob (devices 1 and 2, epoch 12); Bob's device 1 or
/// Alice's device 2 receives.
struct World {
    alice_seed: [u8; 32],
    bob_seed: [u8; 32],
    alice: Vec<(AccountSecrets, Account)>,
    bob: Vec<(AccountSecrets, Account)>,
}

impl World {
    fn new(c: &Inputs<'_>) -> Result<Self, CaseError> {
        let p = c.provider();
        let mk = |at: &str| -> Result<(AccountSecrets, Account), CaseError> {
            let s = secrets(c, at);
            let a = account_of(p, &s, at)?;
            Ok((s, a))
        };
        Ok(Self {
            alice_seed: c.array("alice_user_key_seed"),
            bob_seed: c.array("bob_user_key_seed"),
            alice: vec![mk("alice[0]")?, mk("alice[1]")?],
            bob: vec![mk("bob[0]")?, mk("bob[1]")?],
        })
    }
    fn entries(v: &[(AccountSecrets, Account)]) -> Vec<(u32, Vec<u8>, u8)> {
        v.iter()
            .enumerate()
            .map(|(i, (_, a))| (i as u32 + 1, a.identity_key().to_vec(), u8::from(i == 0)))
            .collect()
    }
    fn alice_list(&self, p: &dyn CryptoProvider, epoch: u64) -> Result<Vec<u8>, CaseError> {
        raw_list(p, &self.alice_seed, epoch, &Self::entries(&self.alice))
    }
    fn bob_list(&self, p: &dyn CryptoProvider, epoch: u64) -> Result<Vec<u8>, CaseError> {
        raw_list(p, &self.bob_seed, epoch, &Self::entries(&self.bob))
    }
}

/// How a receive case's message is built.
#[derive(Clone)]
struct Msg {
    header: Header,
    /// Bob's device 1 (kind 0) or Alice's device 2 (kind 1) as the target.
    audience: u8,
    key_message: Option<Vec<u8>>,
    /// Alice's device 1 encrypts, or another account.
    from_stranger: bool,
    /// Edits of the finished device message.
    edit: Option<fn(&mut Vec<u8>, usize)>,
    /// Flip the last bit of the key message's digest.
    flip_digest: bool,
}

const HL: usize = 150;

fn build_msg(c: &Inputs<'_>, w: &World, m: &Msg) -> Result<Vec<u8>, CaseError> {
    let p = c.provider();
    let header = m.header.encode();
    let bk = c.array::<32>("body_key");
    let parts = body_parts(p, &header, &bk, b"Hello Bob")?;
    let mut km = m
        .key_message
        .clone()
        .unwrap_or_else(|| key_message(&bk, &parts.digest));
    if m.flip_digest {
        km[64] ^= 1;
    }
    let body = parts.body.clone();
    let to = if m.audience == 0 {
        &w.bob[0].1
    } else {
        &w.alice[1].1
    };
    let stranger;
    let from = if m.from_stranger {
        stranger = account_of(p, &secrets(c, "stranger"), "stranger")?;
        &stranger
    } else {
        &w.alice[0].1
    };
    let draws = [
        c.bytes("ephemeral_private", 32),
        c.bytes("m", 32),
        c.bytes("ratchet_private", 32),
        c.bytes("salt", 16),
    ];
    let (_, pw) = pairwise(from, to, HeaderMode::Plain, draws, &km, "message")?;
    let id = if m.audience == 0 { 1 } else { 2 };
    let mut msg = device_message(&header, &body, &entry_bytes(m.audience, id, &pw));
    if let Some(f) = m.edit {
        f(&mut msg, body.len());
    }
    Ok(msg)
}

fn fanout_receives(g: &mut FileGen<'_>) -> Result<(), CaseError> {
    // Device message offsets: version 0, type 1, UK_S 2..34, sender device
    // 34..38, sender epoch 38..46, sender hash 46..78, UK_R 78..110,
    // recipient epoch 110..118, recipient hash 118..150, body length 150,
    // body 154.., then the entry: kind, device id, length, pairwise.
    struct R {
        desc: &'static str,
        /// Which device receives: 0 = Bob's device 1, 1 = Alice's device 2.
        receiver: u8,
        own_epoch: u64,
        /// The sender list the receiver holds: Alice's at this epoch
        /// (`None`: Bob's own list is the "other" person known, for a
        /// receiver that does not know Alice).
        alice_epoch: Option<u64>,
        /// Alice's held list forks (another list at the same epoch).
        alice_fork: bool,
        own_fork: bool,
        /// Alice's held list drops device 1.
        alice_without_1: bool,
        /// Bob's own list drops device 1 (the receiver has no id).
        own_without_1: bool,
        msg: fn(&World, &dyn CryptoProvider) -> Result<Msg, CaseError>,
    }
    fn base(w: &World, p: &dyn CryptoProvider, audience: u8) -> Result<Msg, CaseError> {
        let al = DeviceList::verify_with(p, &w.alice_list(p, 3)?, None).map_err(crypto("alice"))?;
        let bl = DeviceList::verify_with(p, &w.bob_list(p, 12)?, None).map_err(crypto("bob"))?;
        Ok(Msg {
            header: Header::of(&KnownUser::from_list(al), 1, &KnownUser::from_list(bl)),
            audience,
            key_message: None,
            from_stranger: false,
            edit: None,
            flip_digest: false,
        })
    }
    fn to_bob(w: &World, p: &dyn CryptoProvider) -> Result<Msg, CaseError> {
        base(w, p, 0)
    }
    fn own(w: &World, p: &dyn CryptoProvider) -> Result<Msg, CaseError> {
        base(w, p, 1)
    }
    fn edited(
        w: &World,
        p: &dyn CryptoProvider,
        f: fn(&mut Vec<u8>, usize),
    ) -> Result<Msg, CaseError> {
        let mut m = base(w, p, 0)?;
        m.edit = Some(f);
        Ok(m)
    }
    /// A note to self: Alice's device 1 to Alice (`UK_R = UK_S`), the entry
    /// of kind 1 for Alice's device 2.
    fn note(w: &World, p: &dyn CryptoProvider) -> Result<Msg, CaseError> {
        let al = KnownUser::from_list(
            DeviceList::verify_with(p, &w.alice_list(p, 3)?, None).map_err(crypto("alice"))?,
        );
        let mut m = base(w, p, 1)?;
        m.header = Header::of(&al, 1, &al);
        Ok(m)
    }
    /// Sets the entry's kind (offset `HL + 4 + body length`).
    fn set_kind(v: &mut [u8], n: usize, kind: u8) {
        v[HL + 4 + n] = kind;
    }
    /// Sets the entry's device id.
    fn set_id(v: &mut [u8], n: usize, id: u32) {
        v[HL + 4 + n + 1..HL + 4 + n + 5].copy_from_slice(&id.to_be_bytes());
    }
    let d = |desc, msg| R {
        desc,
        receiver: 0,
        own_epoch: 12,
        alice_epoch: Some(3),
        alice_fork: false,
        own_fork: false,
        alice_without_1: false,
        own_without_1: false,
        msg,
    };
    let cases: Vec<R> = vec![
        d("accepted by Bob's device 1", to_bob),
        R {
            receiver: 1,
            ..d("accepted by Alice's device 2 (an entry of kind 1)", own)
        },
        R {
            own_epoch: 13,
            ..d(
                "Bob holds a newer own list (epoch 13): accepted, recipient_list_current false",
                to_bob,
            )
        },
        R {
            alice_epoch: Some(5),
            ..d(
                "Bob holds a newer list of Alice (epoch 5) that still lists device 1: accepted",
                to_bob,
            )
        },
        d("the last byte removed", |w, p| {
            edited(w, p, |v, _| {
                v.pop();
            })
        }),
        d("version 0x02", |w, p| edited(w, p, |v, _| v[0] = 2)),
        d("type 0x21", |w, p| edited(w, p, |v, _| v[1] = 0x21)),
        d("cut inside the header", |w, p| {
            edited(w, p, |v, _| v.truncate(100))
        }),
        d("a body length of 15 (shorter than a tag)", |w, p| {
            edited(w, p, |v, _| {
                v[HL..HL + 4].copy_from_slice(&15u32.to_be_bytes());
            })
        }),
        d("a byte appended", |w, p| edited(w, p, |v, _| v.push(0))),
        d("entry kind 2", |w, p| {
            edited(w, p, |v, n| v[HL + 4 + n] = 2)
        }),
        d("the pairwise length one more than there is", |w, p| {
            edited(w, p, |v, n| {
                let at = HL + 4 + n + 5;
                let len = u32::from_be_bytes([v[at], v[at + 1], v[at + 2], v[at + 3]]) + 1;
                v[at..at + 4].copy_from_slice(&len.to_be_bytes());
            })
        }),
        R {
            alice_epoch: None,
            ..d("Bob does not know Alice's user key", to_bob)
        },
        R {
            receiver: 1,
            ..d("an entry of kind 0 given to Alice's device 2", to_bob)
        },
        d("an entry of kind 1 given to Bob's device 1", |w, p| {
            edited(w, p, |v, n| v[HL + 4 + n] = 1)
        }),
        R {
            alice_epoch: Some(2),
            ..d("Bob holds an older list of Alice (epoch 2)", to_bob)
        },
        R {
            alice_fork: true,
            ..d("Bob holds another list of Alice at epoch 3", to_bob)
        },
        R {
            own_epoch: 11,
            ..d("Bob holds an older own list (epoch 11)", to_bob)
        },
        R {
            own_fork: true,
            ..d("Bob holds another own list at epoch 12", to_bob)
        },
        R {
            alice_epoch: Some(4),
            alice_without_1: true,
            ..d(
                "Bob holds a newer list of Alice (epoch 4) without device 1",
                to_bob,
            )
        },
        d("sender device id 9", |w, p| {
            let mut m = to_bob(w, p)?;
            m.header.sender_device = 9;
            Ok(m)
        }),
        d("the pairwise message from another identity", |w, p| {
            let mut m = to_bob(w, p)?;
            m.from_stranger = true;
            Ok(m)
        }),
        d("the pairwise message's last byte flipped", |w, p| {
            edited(w, p, |v, _| {
                let n = v.len() - 1;
                v[n] ^= 1;
            })
        }),
        d("the body's first byte flipped", |w, p| {
            edited(w, p, |v, _| v[HL + 4] ^= 1)
        }),
        d("the key message's type 0x02", |w, p| {
            let mut m = to_bob(w, p)?;
            m.key_message = Some(vec![0x02; 65]);
            Ok(m)
        }),
        d("a key message of 64 bytes", |w, p| {
            let mut m = to_bob(w, p)?;
            m.key_message = Some(vec![0x01; 64]);
            Ok(m)
        }),
        d(
            "the key message's digest with its last bit flipped",
            |w, p| {
                let mut m = to_bob(w, p)?;
                m.flip_digest = true;
                Ok(m)
            },
        ),
        // Several faults.
        R {
            alice_epoch: None,
            ..d("unknown sender user and a byte appended", |w, p| {
                edited(w, p, |v, _| v.push(0))
            })
        },
        R {
            alice_epoch: Some(2),
            ..d("kind 1 to Bob and Bob's list of Alice older", |w, p| {
                edited(w, p, |v, n| v[HL + 4 + n] = 1)
            })
        },
        R {
            alice_epoch: Some(2),
            own_fork: true,
            ..d(
                "Alice's list newer than Bob's and Bob's own list forked",
                to_bob,
            )
        },
        R {
            alice_fork: true,
            alice_epoch: Some(3),
            ..d("Alice's list forked and sender device id 9", |w, p| {
                let mut m = to_bob(w, p)?;
                m.header.sender_device = 9;
                Ok(m)
            })
        },
        d(
            "sender device id 9 and the pairwise message flipped",
            |w, p| {
                let mut m = to_bob(w, p)?;
                m.header.sender_device = 9;
                m.edit = Some(|v, _| {
                    let n = v.len() - 1;
                    v[n] ^= 1;
                });
                Ok(m)
            },
        ),
        d(
            "the pairwise message flipped and the body flipped",
            |w, p| {
                edited(w, p, |v, _| {
                    v[HL + 4] ^= 1;
                    let n = v.len() - 1;
                    v[n] ^= 1;
                })
            },
        ),
        d("a key message of type 0x02 and the body flipped", |w, p| {
            let mut m = to_bob(w, p)?;
            m.key_message = Some(vec![0x02; 65]);
            m.edit = Some(|v, _| v[HL + 4] ^= 1);
            Ok(m)
        }),
        // The entry's addressing (§11.6 step 2): neither its kind nor its
        // device id is authenticated, so each must be the receiver's own.
        d(
            "Bob's device 1's entry re-addressed to device id 2 (Bob's other device)",
            |w, p| edited(w, p, |v, n| set_id(v, n, 2)),
        ),
        d(
            "Bob's device 1's entry re-addressed to device id 4294967295 (not listed)",
            |w, p| edited(w, p, |v, n| set_id(v, n, u32::MAX)),
        ),
        R {
            receiver: 1,
            ..d(
                "Alice's device 2's entry (kind 1) re-addressed to device id 1 (the sender)",
                |w, p| {
                    let mut m = own(w, p)?;
                    m.edit = Some(|v, n| set_id(v, n, 1));
                    Ok(m)
                },
            )
        },
        R {
            receiver: 1,
            ..d("a note to self accepted by Alice's device 2", note)
        },
        R {
            receiver: 1,
            ..d(
                "a note to self with its entry's kind flipped to 0 (UK_R is Alice's too)",
                |w, p| {
                    let mut m = note(w, p)?;
                    m.edit = Some(|v, n| set_kind(v, n, 0));
                    Ok(m)
                },
            )
        },
        R {
            receiver: 1,
            ..d(
                "Alice's device 2's entry of a message to Bob with its kind flipped to 0",
                |w, p| {
                    let mut m = own(w, p)?;
                    m.edit = Some(|v, n| set_kind(v, n, 0));
                    Ok(m)
                },
            )
        },
        R {
            own_epoch: 13,
            own_without_1: true,
            ..d(
                "Bob's own list (epoch 13) no longer lists device 1: the receiver has no id",
                to_bob,
            )
        },
        R {
            alice_epoch: Some(2),
            ..d(
                "re-addressed to device id 2 and Bob's list of Alice older",
                |w, p| edited(w, p, |v, n| set_id(v, n, 2)),
            )
        },
    ];
    for r in cases {
        g.case(|c| {
            let p = c.provider();
            let w = World::new(c)?;
            let msg = build_msg(c, &w, &(r.msg)(&w, p)?)?;
            let (receiver, own_list) = if r.receiver == 0 {
                let l = if r.own_fork {
                    raw_list(p, &w.bob_seed, r.own_epoch, &World::entries(&w.bob[..1]))?
                } else if r.own_without_1 {
                    raw_list(p, &w.bob_seed, r.own_epoch, &World::entries(&w.bob)[1..])?
                } else {
                    w.bob_list(p, r.own_epoch)?
                };
                (w.bob[0].0.clone(), l)
            } else {
                (w.alice[1].0.clone(), w.alice_list(p, 3)?)
            };
            let sender_list = match r.alice_epoch {
                None => {
                    // Someone else: a third person's list.
                    let s = c.array::<32>("carol_user_key_seed");
                    raw_list(p, &s, 1, &[(1, c.bytes("carol_identity", 64), 1)])?
                }
                Some(e) if r.alice_fork => {
                    raw_list(p, &w.alice_seed, e, &World::entries(&w.alice[..1]))?
                }
                Some(e) if r.alice_without_1 => {
                    raw_list(p, &w.alice_seed, e, &World::entries(&w.alice)[1..])?
                }
                Some(e) => w.alice_list(p, e)?,
            };
            FanoutReceive::compute(
                p,
                r.desc.into(),
                receiver,
                own_list.into(),
                sender_list.into(),
                msg.into(),
            )
        })?;
    }
    Ok(())
}
