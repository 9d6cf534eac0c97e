//! Checks of several devices per person (spec §11), shared by
//!
//! * the fuzz targets `device_list`, `link`, `fanout` and `device_state`
//!   (`fuzz/fuzz_targets/`),
//! * the seed replay test `tests/fuzz_seeds_devices.rs`, which runs every
//!   committed seed through the same functions in `cargo test`.
//!
//! Every check takes one input and panics, with a description, when the
//! library breaks an invariant; inputs the library legitimately rejects are
//! not failures. Each target has a fixture built once per process
//! (`OnceLock`): user keys, accounts, signed lists, link offers and
//! responses, and for `fanout` established conversations between every two
//! devices. Each input starts from exactly that state, so a failing input
//! reproduces on its own.
//!
//! Input layouts are flat byte strings read by a [`Cursor`] that never fails
//! (reading past the end yields zeros), so every byte string is a valid input.
//! [`seeds`] builds the committed seed inputs.
#![allow(
    dead_code,
    unexpected_cfgs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::sync::OnceLock;

use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use sova::devices::{
    approve_link, approve_link_with, fanout, DeviceEntry, DeviceList, FanoutError, KnownUser,
    LinkError, LinkOffer, LinkRequest, LinkResponseFrame, ListChange, ListError, ParseError,
    PeerDevices, UserKey, MAX_DEVICES, MAX_LINK_DATA,
};
use sova::provider::CryptoProvider;
use sova::ratchet::{HeaderMode, MAX_PLAINTEXT_LEN};
use sova::session::{Account, Conversation, IdentityKey};
use sova::storage::{self, SealedKind};
use sova::Secret;

// ---------------------------------------------------------------------------
// Shared helpers
// ---------------------------------------------------------------------------

/// Reads a fuzz input front to back; past the end every read yields zeros.
#[derive(Debug, Clone)]
pub struct Cursor<'a> {
    data: &'a [u8],
}

impl<'a> Cursor<'a> {
    /// A cursor over `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Self { data }
    }

    /// Whether the input is used up.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Up to `n` bytes from the front (fewer when the input runs out).
    pub fn take(&mut self, n: usize) -> &'a [u8] {
        let (head, tail) = self.data.split_at(n.min(self.data.len()));
        self.data = tail;
        head
    }

    /// One byte.
    pub fn u8(&mut self) -> u8 {
        self.take(1).first().copied().unwrap_or(0)
    }

    /// A big-endian `u16`.
    pub fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.u8(), self.u8()])
    }

    /// A `u16` length, then that many bytes (at most `max`).
    pub fn bytes(&mut self, max: usize) -> &'a [u8] {
        let n = usize::from(self.u16()).min(max);
        self.take(n)
    }

    /// Everything that is left.
    pub fn rest(&mut self) -> &'a [u8] {
        self.take(self.data.len())
    }
}

/// The providers the checks run on: the compiled-in backends, each behind the
/// memoising wrapper of `memo.rs` in fuzz builds.
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

/// The default backend, as [`checked_providers`] gives it.
pub fn dp() -> &'static dyn CryptoProvider {
    checked_providers()[0]
}

#[cfg(fuzzing)]
#[path = "memo.rs"]
mod memo;

/// The storage key of the sealed states of the checks.
pub fn storage_key() -> Secret<32> {
    Secret::from_bytes([0x6d; 32])
}

fn identity(seed: u8) -> IdentityKey {
    let mut k = [seed; 64];
    k[0] = 0x10 ^ seed;
    k
}

fn entry(id: u32, identity: IdentityKey, admin: bool) -> DeviceEntry {
    DeviceEntry {
        device_id: id,
        identity,
        admin,
    }
}

/// Signs arbitrary list fields (what a buggy admin device could publish).
fn raw_list(uk: &UserKey, epoch: u64, entries: &[(u32, IdentityKey, u8)]) -> Vec<u8> {
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
        &sova::DefaultProvider::default(),
        uk.seed(),
        sova::labels::DEVICE_LIST,
        &[&b],
    )
    .unwrap();
    b.extend_from_slice(&sig);
    b
}

/// An edit of `base` chosen by the input: a bit flip, a cut, a byte set or
/// an appended byte.
fn mutate(base: &[u8], c: &mut Cursor<'_>) -> Vec<u8> {
    let mut b = base.to_vec();
    let kind = c.u8();
    let pos = usize::from(c.u16());
    let x = c.u8();
    if b.is_empty() {
        b.push(x);
        return b;
    }
    let at = pos % b.len();
    match kind % 4 {
        0 => b[at] ^= 1 << (x % 8),
        1 => b.truncate(at),
        2 => b[at] = x,
        _ => b.push(x),
    }
    b
}

// ---------------------------------------------------------------------------
// device_list: the parser, verification and the directory's updates
// ---------------------------------------------------------------------------

/// The fixture of `device_list`: two user keys, eight identities and signed
/// lists of the first key (and one of the second).
pub struct ListFixture {
    pub uk: UserKey,
    pub other: UserKey,
    pub identities: Vec<IdentityKey>,
    /// Signed lists: the directory starts from one of the first three.
    pub lists: Vec<Vec<u8>>,
}

fn build_list_fixture() -> ListFixture {
    let mut rng = ChaCha20Rng::from_seed([0xd1; 32]);
    let uk = UserKey::generate(&mut rng).unwrap();
    let other = UserKey::generate(&mut rng).unwrap();
    let ids: Vec<IdentityKey> = (1..=8).map(identity).collect();
    let sign = |k: &UserKey, epoch: u64, e: &[DeviceEntry]| {
        k.sign_list(epoch, e).unwrap().to_bytes().to_vec()
    };
    let lists = vec![
        sign(&uk, 1, &[entry(1, ids[0], true), entry(2, ids[1], false)]),
        sign(
            &uk,
            2,
            &[
                entry(1, ids[0], true),
                entry(2, ids[1], false),
                entry(3, ids[2], false),
            ],
        ),
        sign(&uk, 3, &[entry(1, ids[0], true)]),
        // A fork of epoch 2.
        sign(&uk, 2, &[entry(1, ids[0], true), entry(3, ids[3], true)]),
        // Device 2 with another identity.
        sign(
            &uk,
            5,
            &[
                entry(1, ids[0], true),
                entry(2, ids[4], false),
                entry(4, ids[5], false),
            ],
        ),
        sign(&uk, u64::MAX, &[entry(7, ids[6], true)]),
        sign(&other, 4, &[entry(1, ids[0], true)]),
        // Signed, but breaking check 4 and check 1.
        raw_list(&uk, 6, &[(1, ids[0], 1), (1, ids[1], 0)]),
        raw_list(&uk, 6, &[(1, ids[0], 1), (2, ids[0], 0)]),
        raw_list(&uk, 6, &[(1, ids[0], 3)]),
    ];
    ListFixture {
        uk,
        other,
        identities: ids,
        lists,
    }
}

pub fn list_fixture() -> &'static ListFixture {
    static F: OnceLock<ListFixture> = OnceLock::new();
    F.get_or_init(build_list_fixture)
}

/// Most directory operations per input.
pub const LIST_MAX_OPS: usize = 12;
/// Most lists signed per input (each costs a real signature).
pub const LIST_MAX_SIGNS: usize = 2;

/// `start:u8` (bit 7: persist and restore the directory at the end), then
/// up to [`LIST_MAX_OPS`] operations `op:u8 …`: offer a
/// fixture list (`op % 4 == 0`, `idx:u8`), an edited fixture list (1,
/// `idx:u8 kind:u8 pos:u16 x:u8`), raw bytes (2, `len:u16 bytes`) or a
/// freshly signed list (3, `key:u8 epoch:u8 count:u8 count × (id:u8 ik:u8
/// admin:u8)`). After each: a refused list changed nothing, the verdict is
/// the one §11.3 and §11.4 give, and the accepted epoch never decreased.
pub fn check_device_list(data: &[u8]) {
    let fx = list_fixture();
    let mut c = Cursor::new(data);
    let start_byte = c.u8();
    let start = &fx.lists[usize::from(start_byte & 0x7f) % 3];
    let first = DeviceList::verify_with(dp(), start, Some(fx.uk.public())).unwrap();
    let mut known = KnownUser::from_list(first);
    let mut signs = 0;
    for _ in 0..LIST_MAX_OPS {
        if c.is_empty() {
            break;
        }
        let op = c.u8();
        let bytes = match op % 4 {
            0 => fx.lists[usize::from(c.u8()) % fx.lists.len()].clone(),
            1 => {
                let base = &fx.lists[usize::from(c.u8()) % fx.lists.len()];
                mutate(base, &mut c)
            }
            2 => c.bytes(6000).to_vec(),
            _ => {
                let key = if c.u8() % 4 == 3 { &fx.other } else { &fx.uk };
                let epoch = u64::from(c.u8() % 8);
                let count = usize::from(c.u8() % 5);
                let entries: Vec<DeviceEntry> = (0..count)
                    .map(|_| {
                        let id = u32::from(c.u8() % 8);
                        let ik = fx.identities[usize::from(c.u8()) % fx.identities.len()];
                        entry(id, ik, c.u8() & 1 == 1)
                    })
                    .collect();
                if signs >= LIST_MAX_SIGNS {
                    continue;
                }
                signs += 1;
                match key.sign_list(epoch, &entries) {
                    Ok(l) => l.to_bytes().to_vec(),
                    Err(e) => {
                        assert!(
                            matches!(e, ListError::Malformed(_) | ListError::Inconsistent),
                            "sign_list refused {entries:?} with {e:?}"
                        );
                        continue;
                    }
                }
            }
        };
        directory_step(&mut known, &bytes, fx.uk.public());
    }
    // The directory persists: the state restores to the same directory
    // (when the start byte's top bit asks: it costs a real signature check).
    if start_byte & 0x80 == 0 {
        return;
    }
    let state = known.to_bytes();
    let back = KnownUser::from_bytes(&state).expect("a directory's own state is refused");
    assert!(back == known, "a restored directory differs");
}

/// Offers `bytes` to `known` and checks the verdict against §11.3 and §11.4.
fn directory_step(known: &mut KnownUser, bytes: &[u8], uk: &[u8; 32]) {
    let before = known.clone();
    let parsed = DeviceList::verify_with(dp(), bytes, Some(uk));
    let got = known.update_with(dp(), bytes);
    assert!(
        known.list().epoch() >= before.list().epoch(),
        "the accepted epoch decreased"
    );
    match (got, parsed) {
        (Err(e), Err(pe)) => {
            assert!(*known == before, "a refused list changed the directory");
            assert_eq!(e, pe, "update and verify disagree");
        }
        (Err(e), Ok(l)) => {
            assert!(*known == before, "a refused list changed the directory");
            let want = if l.epoch() < before.list().epoch() {
                ListError::Rollback
            } else if l.epoch() == before.list().epoch() && l.hash() != *before.list_hash() {
                ListError::Equivocation
            } else {
                panic!("a valid list was refused with {e:?}")
            };
            assert_eq!(e, want);
        }
        (Ok(_), Err(pe)) => panic!("a list verify refuses ({pe:?}) was accepted"),
        (Ok(ListChange::Unchanged), Ok(l)) => {
            assert!(*known == before, "an unchanged list changed the directory");
            assert_eq!(l.epoch(), before.list().epoch());
            assert_eq!(l.hash(), *before.list_hash());
        }
        (Ok(ListChange::Accepted { added, removed }), Ok(l)) => {
            assert!(
                l.epoch() > before.list().epoch(),
                "accepted a list not newer"
            );
            assert_eq!(known.list().to_bytes(), bytes, "accepted another list");
            assert_eq!(known.list_hash(), &l.hash());
            assert_eq!(known.user_key(), uk, "the pinned key changed");
            let old = before.list();
            let want_added: Vec<u32> = l
                .entries()
                .iter()
                .filter(|e| old.device(e.device_id).map(|o| o.identity) != Some(e.identity))
                .map(|e| e.device_id)
                .collect();
            let want_removed: Vec<u32> = old
                .entries()
                .iter()
                .filter(|o| l.device(o.device_id).map(|e| e.identity) != Some(o.identity))
                .map(|o| o.device_id)
                .collect();
            assert_eq!(added, want_added);
            assert_eq!(removed, want_removed);
        }
        (Ok(other), Ok(_)) => panic!("unknown change {other:?}"),
    }
}

// ---------------------------------------------------------------------------
// link: offers and responses on both sides
// ---------------------------------------------------------------------------

/// What a genuine response must give the new device.
pub struct GenuineResponse {
    pub bytes: Vec<u8>,
    pub device_id: u32,
    pub admin: bool,
    pub data: Vec<u8>,
    pub code: [u8; 6],
    pub user: [u8; 32],
}

/// The fixture of `link`.
pub struct LinkFixture {
    pub uk: UserKey,
    pub other: UserKey,
    /// The admin's view: a normal list, a full one, one whose ids are
    /// exhausted.
    pub currents: Vec<KnownUser>,
    /// The new device's request (its offer is `offers[0]`).
    pub request: LinkRequest,
    /// Offers: the request's, another device's, the admin's own (listed).
    pub offers: Vec<Vec<u8>>,
    /// Responses to `request`, made by the admin and by another user's.
    pub responses: Vec<GenuineResponse>,
    /// Responses sealed to `request` by the holder of a link key, whose
    /// payload breaks a rule of spec §11.5 (the user key seed of another
    /// user, a bad admin flag, too much data, a trailing byte), with the
    /// error each gives.
    pub sealed_bad: Vec<(Vec<u8>, LinkError)>,
}

/// A link response (spec §11.5) sealed to `offer` with the admin key `e`
/// around an arbitrary `payload`.
fn seal_response(offer: &[u8], e: &Secret<32>, payload: &[u8]) -> Vec<u8> {
    use sova::kdf::{labeled_expand, labeled_extract, labeled_hash};
    let p = dp();
    let parsed = LinkOffer::parse(offer).unwrap();
    let ours = p.x25519_public_key(e);
    let dh = p.x25519(e, &parsed.link_public).unwrap();
    let t = labeled_hash(p, sova::labels::LINK_TRANSCRIPT, &[offer, &ours]).unwrap();
    let prk = labeled_extract(p, &t, sova::labels::LINK, &[dh.expose()]).unwrap();
    let mut okm = [0u8; 44];
    labeled_expand(p, &prk, sova::labels::LINK, &[], &mut okm).unwrap();
    let key = Secret::try_from_slice(&okm[..32]).unwrap();
    let nonce: [u8; 12] = okm[32..].try_into().unwrap();
    let mut out = b"SOVA-1 link response".to_vec();
    out.push(1);
    out.extend_from_slice(&ours);
    let start = out.len();
    out.extend_from_slice(payload);
    let tag = p.aead_seal(&key, &nonce, &t, &mut out[start..]);
    out.extend_from_slice(&tag);
    out
}

fn build_link_fixture() -> LinkFixture {
    let mut rng = ChaCha20Rng::from_seed([0x11; 32]);
    let admin = Account::new(&mut rng).unwrap();
    let new = Account::new(&mut rng).unwrap();
    let third = Account::new(&mut rng).unwrap();
    let uk = UserKey::generate(&mut rng).unwrap();
    let other = UserKey::generate(&mut rng).unwrap();
    let normal = KnownUser::from_list(
        uk.sign_list(1, &[entry(1, admin.identity_key(), true)])
            .unwrap(),
    );
    let mut full: Vec<DeviceEntry> = vec![entry(1, admin.identity_key(), true)];
    full.extend((2..=MAX_DEVICES as u32).map(|i| entry(i, identity(i as u8), false)));
    let full = KnownUser::from_list(uk.sign_list(9, &full).unwrap());
    let exhausted = KnownUser::from_list(
        uk.sign_list(
            2,
            &[
                entry(1, admin.identity_key(), true),
                entry(u32::MAX, identity(0xee), false),
            ],
        )
        .unwrap(),
    );
    let request = LinkRequest::new(&new, &mut rng).unwrap();
    let other_view = KnownUser::from_list(
        other
            .sign_list(4, &[entry(1, third.identity_key(), true)])
            .unwrap(),
    );
    let mut responses = Vec::new();
    for (key, view, admin_flag, data) in [
        (&uk, &normal, false, &b"contacts"[..]),
        (&uk, &normal, true, &b""[..]),
        (&uk, &normal, false, &b"x"[..]),
        (&other, &other_view, true, &b"photographed"[..]),
    ] {
        let a = approve_link(key, view, request.offer(), admin_flag, data, &mut rng).unwrap();
        responses.push(GenuineResponse {
            bytes: a.response.clone(),
            device_id: a.device_id,
            admin: admin_flag,
            data: data.to_vec(),
            code: a.code,
            user: *key.public(),
        });
    }
    // Payloads that break spec §11.5 inside a correctly sealed response.
    let a = approve_link(&uk, &normal, request.offer(), false, b"", &mut rng).unwrap();
    let list = a.list.to_bytes().to_vec();
    let payload = |flag: &[u8], data_len: u32, data: &[u8], tail: &[u8]| {
        let mut v = (list.len() as u32).to_be_bytes().to_vec();
        v.extend_from_slice(&list);
        v.extend_from_slice(flag);
        v.extend_from_slice(&data_len.to_be_bytes());
        v.extend_from_slice(data);
        v.extend_from_slice(tail);
        v
    };
    let other_seed = [&[1u8][..], other.seed().expose()].concat();
    let e = Secret::from_bytes([0x3e; 32]);
    let sealed_bad = [
        (payload(&other_seed, 0, b"", b""), LinkError::WrongUserKey),
        (
            payload(&[2], 0, b"", b""),
            LinkError::Malformed(ParseError::InvalidFlags(2)),
        ),
        (
            payload(&[0], MAX_LINK_DATA as u32 + 1, b"", b""),
            LinkError::DataTooLong,
        ),
        (
            payload(&[0], 1, b"x", b"!"),
            LinkError::Malformed(ParseError::TrailingBytes),
        ),
    ]
    .into_iter()
    .map(|(pl, err)| (seal_response(request.offer(), &e, &pl), err))
    .collect();
    let offers = vec![
        request.offer().to_vec(),
        LinkRequest::new(&third, &mut rng).unwrap().offer().to_vec(),
        LinkRequest::new(&admin, &mut rng).unwrap().offer().to_vec(),
    ];
    LinkFixture {
        uk,
        other,
        currents: vec![normal, full, exhausted],
        request,
        offers,
        responses,
        sealed_bad,
    }
}

pub fn link_fixture() -> &'static LinkFixture {
    static F: OnceLock<LinkFixture> = OnceLock::new();
    F.get_or_init(build_link_fixture)
}

/// `side:u8`, then for the admin's side (even) `current:u8 key:u8 admin:u8
/// data:u8 source:u8` and an offer (a fixture offer `idx:u8`, an edited one
/// `idx:u8 kind:u8 pos:u16 x:u8`, or the rest of the input); for the new
/// device's side (odd) a response chosen the same way. Every refusal is the
/// first check of §11.5 that fails and changes nothing; a response is
/// accepted only if it is one a user key's holder made for this offer.
pub fn check_link(data: &[u8]) {
    let mut c = Cursor::new(data);
    if c.u8() & 1 == 0 {
        check_link_admin(&mut c);
    } else {
        check_link_new_device(&mut c);
    }
}

fn pick(c: &mut Cursor<'_>, base: &[Vec<u8>]) -> Vec<u8> {
    let source = c.u8();
    match source % 3 {
        0 => base[usize::from(c.u8()) % base.len()].clone(),
        1 => {
            let b = &base[usize::from(c.u8()) % base.len()];
            mutate(b, c)
        }
        _ => c.rest().to_vec(),
    }
}

fn check_link_admin(c: &mut Cursor<'_>) {
    let fx = link_fixture();
    let current = &fx.currents[usize::from(c.u8()) % fx.currents.len()];
    let key = if c.u8() % 4 == 3 { &fx.other } else { &fx.uk };
    let admin = c.u8() & 1 == 1;
    let data_len = match c.u8() % 8 {
        6 => MAX_LINK_DATA,
        7 => MAX_LINK_DATA + 1,
        n => usize::from(n) * 7,
    };
    let app_data = vec![0xa5; data_len];
    let offer = pick(c, &fx.offers);
    let before = current.to_bytes();
    let mut rng = ChaCha20Rng::from_seed([0x22; 32]);
    let got = approve_link_with(dp(), key, current, &offer, admin, &app_data, &mut rng);
    assert!(
        current.to_bytes() == before,
        "approve_link changed the admin's view"
    );
    let parsed = LinkOffer::parse(&offer);
    // The check order of §11.5 on the admin device.
    let want: Result<(), LinkError> = (|| {
        if data_len > MAX_LINK_DATA {
            return Err(LinkError::DataTooLong);
        }
        if key.public() != current.user_key() {
            return Err(LinkError::WrongUserKey);
        }
        let o = parsed.clone().map_err(LinkError::Malformed)?;
        o.identity
            .verify(dp())
            .map_err(|_| LinkError::InvalidIdentitySignature)?;
        let list = current.list();
        if list
            .device_by_identity(&o.identity.identity_key())
            .is_some()
        {
            return Err(LinkError::AlreadyListed);
        }
        if list.entries().len() >= MAX_DEVICES {
            return Err(LinkError::TooManyDevices);
        }
        if list
            .entries()
            .last()
            .is_some_and(|e| e.device_id == u32::MAX)
        {
            return Err(LinkError::DeviceIdsExhausted);
        }
        Ok(())
    })();
    match (got, want) {
        (Err(e), Err(w)) => assert_eq!(e, w, "approve_link's check order"),
        (Err(e), Ok(())) => {
            // Only a low-order E_N is left (the DH is computed last).
            assert_eq!(e, LinkError::LowOrderKey, "approve_link refused with {e:?}");
        }
        (Ok(_), Err(w)) => panic!("approve_link accepted what §11.5 refuses ({w:?})"),
        (Ok(a), Ok(())) => {
            let o = parsed.unwrap();
            let list = DeviceList::verify_with(dp(), a.list.to_bytes(), Some(key.public()))
                .expect("approve_link signed a list that does not verify");
            assert_eq!(list.epoch(), current.list().epoch() + 1);
            let me = list
                .device(a.device_id)
                .expect("the new device is not listed");
            assert_eq!(me.identity, o.identity.identity_key());
            assert_eq!(me.admin, admin);
            assert_eq!(
                &list.entries()[..list.entries().len() - 1],
                current.list().entries()
            );
            assert_eq!(
                a.device_id,
                current.list().entries().last().unwrap().device_id + 1
            );
            // The genuine request opens it (and only it made the offer).
            if offer == fx.offers[0] {
                let l = fx
                    .request
                    .finish_with(dp(), &a.response)
                    .expect("the new device refuses a genuine response");
                assert_eq!(l.device_id, a.device_id);
                assert_eq!(l.code, a.code);
                assert_eq!(l.user_key.is_some(), admin);
                assert_eq!(&l.data[..], &app_data[..]);
                assert_eq!(l.user.list().to_bytes(), a.list.to_bytes());
            }
        }
    }
}

fn check_link_new_device(c: &mut Cursor<'_>) {
    let fx = link_fixture();
    let genuine: Vec<Vec<u8>> = fx.responses.iter().map(|r| r.bytes.clone()).collect();
    let base: Vec<Vec<u8>> = genuine
        .iter()
        .chain(fx.sealed_bad.iter().map(|(b, _)| b))
        .cloned()
        .collect();
    let response = pick(c, &base);
    let offer = fx.request.offer().to_vec();
    let got = fx.request.finish_with(dp(), &response);
    assert!(fx.request.offer() == offer, "finish changed the request");
    if let Err(e) = LinkResponseFrame::parse(&response) {
        assert_eq!(
            got.unwrap_err(),
            LinkError::Malformed(e),
            "framing verdicts differ"
        );
        return;
    }
    match got {
        Err(_) => {
            assert!(
                !genuine.contains(&response),
                "the new device refused a genuine response"
            );
        }
        Ok(linked) => {
            let g = fx
                .responses
                .iter()
                .find(|g| g.bytes == response)
                .expect("the new device accepted a response no user key's holder made");
            assert_eq!(linked.device_id, g.device_id);
            assert_eq!(linked.user_key.is_some(), g.admin);
            assert_eq!(&linked.data[..], &g.data[..]);
            assert_eq!(linked.code, g.code);
            assert_eq!(linked.user.user_key(), &g.user);
        }
    }
}

// ---------------------------------------------------------------------------
// fanout: two persons, several devices, a hostile network
// ---------------------------------------------------------------------------

/// Devices: person 0 has devices 0, 1, 2 (ids 1, 2, 3), person 1 has
/// devices 3, 4 (ids 1, 2).
pub const OWNER: [usize; 5] = [0, 0, 0, 1, 1];
/// The device ids, by device.
pub const DEVICE_ID: [u32; 5] = [1, 2, 3, 1, 2];
/// Most actions per input.
pub const FANOUT_MAX_ACTIONS: usize = 20;
/// Most sends per input.
pub const FANOUT_MAX_SENDS: usize = 5;
/// Most messages in flight per input.
pub const FANOUT_MAX_PENDING: usize = 40;

fn device_of(person: usize, id: u32) -> Option<usize> {
    (0..OWNER.len()).find(|&d| OWNER[d] == person && DEVICE_ID[d] == id)
}

/// The fixture of `fanout`.
pub struct FanoutFixture {
    pub uks: Vec<UserKey>,
    /// Per person: epoch 1 with every device, epoch 2 without the last,
    /// epoch 3 with every device, and a fork of epoch 2.
    pub lists: Vec<Vec<Vec<u8>>>,
    pub identities: Vec<IdentityKey>,
    pub accounts: Vec<Vec<u8>>,
    /// `conversations[x][y]`: device `x`'s conversation with device `y`, both
    /// confirmed (a message each way).
    pub conversations: Vec<Vec<Option<Vec<u8>>>>,
}

fn build_fanout_fixture() -> FanoutFixture {
    let mut rng = ChaCha20Rng::from_seed([0xf0; 32]);
    let mut accounts: Vec<Account> = (0..OWNER.len())
        .map(|_| Account::new(&mut rng).unwrap())
        .collect();
    let identities: Vec<IdentityKey> = accounts.iter().map(|a| a.identity_key()).collect();
    let uks: Vec<UserKey> = (0..2)
        .map(|_| UserKey::generate(&mut rng).unwrap())
        .collect();
    let lists = (0..2)
        .map(|p| {
            let devs: Vec<usize> = (0..OWNER.len()).filter(|&d| OWNER[d] == p).collect();
            let all: Vec<DeviceEntry> = devs
                .iter()
                .map(|&d| entry(DEVICE_ID[d], identities[d], DEVICE_ID[d] == 1))
                .collect();
            let mut fork = all.clone();
            if let Some(last) = fork.last_mut() {
                last.admin = true;
            }
            let sign =
                |epoch, e: &[DeviceEntry]| uks[p].sign_list(epoch, e).unwrap().to_bytes().to_vec();
            vec![
                sign(1, &all),
                sign(2, &all[..all.len() - 1]),
                sign(3, &all),
                sign(2, &fork),
            ]
        })
        .collect();
    let n = OWNER.len();
    let mut convs: Vec<Vec<Option<Conversation>>> =
        (0..n).map(|_| (0..n).map(|_| None).collect()).collect();
    for x in 0..n {
        for y in x + 1..n {
            let mode = if (x + y) % 2 == 0 {
                HeaderMode::Plain
            } else {
                HeaderMode::Encrypted
            };
            let bundle = accounts[y].bundle(None, None).unwrap().to_bytes();
            let mut xy =
                Conversation::start(&accounts[x], &mut rng, &identities[y], &bundle, mode).unwrap();
            let m = xy.encrypt(&mut rng, b"hello").unwrap();
            let mut yx = Conversation::new(identities[x]);
            yx.decrypt(&mut accounts[y], &m).unwrap();
            let r = yx.encrypt(&mut rng, b"hi").unwrap();
            xy.decrypt(&mut accounts[x], &r).unwrap();
            convs[x][y] = Some(xy);
            convs[y][x] = Some(yx);
        }
    }
    FanoutFixture {
        uks,
        lists,
        identities,
        accounts: accounts.iter().map(|a| a.to_bytes()).collect(),
        conversations: convs
            .iter()
            .map(|row| {
                row.iter()
                    .map(|c| c.as_ref().map(|c| c.to_bytes()))
                    .collect()
            })
            .collect(),
    }
}

pub fn fanout_fixture() -> &'static FanoutFixture {
    static F: OnceLock<FanoutFixture> = OnceLock::new();
    F.get_or_init(build_fanout_fixture)
}

/// A state restored from the fixture's bytes only when an earlier input
/// changed it.
struct Slot<T> {
    value: Option<T>,
    /// Possibly differs from the fixture.
    modified: bool,
    /// The input that last used it.
    input: u64,
}

impl<T> Slot<T> {
    fn empty() -> Self {
        Self {
            value: None,
            modified: true,
            input: 0,
        }
    }

    fn get(&mut self, input: u64, restore: impl FnOnce() -> T) -> &mut T {
        if self.input != input {
            self.input = input;
            if self.modified || self.value.is_none() {
                self.value = Some(restore());
                self.modified = false;
            }
        }
        self.value.as_mut().unwrap()
    }
}

/// The live states of `fanout`, kept between inputs.
struct Live {
    input: u64,
    accounts: Vec<Slot<Account>>,
    conversations: Vec<Vec<Slot<Conversation>>>,
}

thread_local! {
    static LIVE: RefCell<Option<Live>> = const { RefCell::new(None) };
}

impl Live {
    fn new() -> Self {
        let n = OWNER.len();
        Self {
            input: 0,
            accounts: (0..n).map(|_| Slot::empty()).collect(),
            conversations: (0..n)
                .map(|_| (0..n).map(|_| Slot::empty()).collect())
                .collect(),
        }
    }

    fn account(&mut self, d: usize) -> &mut Account {
        let fx = fanout_fixture();
        self.accounts[d].get(self.input, || Account::from_bytes(&fx.accounts[d]).unwrap())
    }

    fn conversation(&mut self, x: usize, y: usize) -> &mut Conversation {
        let fx = fanout_fixture();
        self.conversations[x][y].get(self.input, || {
            Conversation::from_bytes_with(dp(), fx.conversations[x][y].as_ref().unwrap()).unwrap()
        })
    }
}

/// What a device believes: its own person and the other one.
#[derive(Clone)]
struct Views {
    own: KnownUser,
    peer: KnownUser,
}

struct Sent {
    plaintext: Vec<u8>,
    sender: usize,
    targets: BTreeSet<usize>,
}

struct InFlight {
    bytes: Vec<u8>,
    /// The device the server addresses it to, if it names one.
    to: Option<usize>,
    /// The send it is a genuine part of.
    genuine: Option<usize>,
}

/// `seed:u8`, then up to [`FANOUT_MAX_ACTIONS`] actions `op:u8 …` (modulo 6):
/// send (`device:u8 len:u8 text`), deliver to the addressee (`idx:u8`),
/// deliver to a device of the input's choice (`idx:u8 device:u8`), swap
/// bodies (`i:u8 j:u8`), flip a bit (`idx:u8 pos:u16 bit:u8`), offer a list
/// (`device:u8 person:u8 list:u8`). Invariants: every accepted plaintext was
/// sent to that device, by the device the result names, and is accepted at
/// most once; a refused message changes no conversation and no account
/// (compared byte for byte); a genuine message delivered once to its device
/// whose lists match the sender's is accepted; an accepted message is the
/// entry its sender made for that device, of the kind the sender's and the
/// device's users allow and naming the device's own id (spec §11.6, step 2:
/// a copy re-addressed or with its kind flipped is refused, so a message
/// has one accepted encoding); a refused list changes nothing and the
/// accepted epoch never decreases.
pub fn check_fanout(data: &[u8]) {
    LIVE.with(|cell| {
        let mut guard = cell.borrow_mut();
        let live = guard.get_or_insert_with(Live::new);
        live.input += 1;
        run_fanout(live, data);
    });
}

fn run_fanout(live: &mut Live, data: &[u8]) {
    let fx = fanout_fixture();
    let mut c = Cursor::new(data);
    let mut rng = ChaCha20Rng::seed_from_u64(u64::from(c.u8()));
    let start = |p: usize| {
        KnownUser::from_list(
            DeviceList::verify_with(dp(), &fx.lists[p][0], Some(fx.uks[p].public())).unwrap(),
        )
    };
    let (k0, k1) = (start(0), start(1));
    let mut views: Vec<Views> = OWNER
        .iter()
        .map(|&p| {
            let (own, peer) = if p == 0 {
                (k0.clone(), k1.clone())
            } else {
                (k1.clone(), k0.clone())
            };
            Views { own, peer }
        })
        .collect();
    let mut sent: Vec<Sent> = Vec::new();
    let mut flight: Vec<InFlight> = Vec::new();
    let mut accepted: BTreeSet<(usize, usize)> = BTreeSet::new();
    let mut delivered: BTreeSet<(usize, usize)> = BTreeSet::new();
    for _ in 0..FANOUT_MAX_ACTIONS {
        if c.is_empty() {
            break;
        }
        match c.u8() % 6 {
            0 => {
                let s = usize::from(c.u8()) % OWNER.len();
                let len = usize::from(c.u8() % 32);
                let mut text = format!("#{} from {s}:", sent.len()).into_bytes();
                text.extend_from_slice(c.take(len));
                if sent.len() >= FANOUT_MAX_SENDS {
                    continue;
                }
                send(live, &views[s], s, &text, &mut rng, &mut sent, &mut flight);
            }
            op @ (1 | 2) => {
                if flight.is_empty() {
                    continue;
                }
                let i = usize::from(c.u8()) % flight.len();
                let to = if op == 2 {
                    Some(usize::from(c.u8()) % OWNER.len())
                } else {
                    flight[i].to
                };
                let Some(r) = to else { continue };
                deliver(
                    live,
                    &views[r],
                    r,
                    &flight[i],
                    &sent,
                    &mut accepted,
                    &delivered,
                );
                if let Some(g) = flight[i].genuine {
                    delivered.insert((r, g));
                }
            }
            3 => {
                if flight.is_empty() || flight.len() >= FANOUT_MAX_PENDING {
                    continue;
                }
                let i = usize::from(c.u8()) % flight.len();
                let j = usize::from(c.u8()) % flight.len();
                let (Some(a), Some(b)) = (parts(&flight[i].bytes), parts(&flight[j].bytes)) else {
                    continue;
                };
                // i's header and body with j's entry, and j's header with
                // i's body and j's entry.
                let ei = &flight[j].bytes[b.1..];
                let forged = [&flight[i].bytes[..a.1], ei].concat();
                let mut other = flight[j].bytes[..fanout::FANOUT_HEADER_LEN].to_vec();
                other.extend_from_slice(&flight[i].bytes[fanout::FANOUT_HEADER_LEN..a.1]);
                other.extend_from_slice(ei);
                let to = flight[j].to;
                for bytes in [forged, other] {
                    if bytes != flight[j].bytes && bytes != flight[i].bytes {
                        // Swaps of swaps can rebuild a genuine message byte
                        // for byte: it is that message, not a forgery.
                        let genuine = genuine_of(&flight, &bytes);
                        flight.push(InFlight { bytes, to, genuine });
                    }
                }
            }
            4 => {
                if flight.is_empty() || flight.len() >= FANOUT_MAX_PENDING {
                    continue;
                }
                let i = usize::from(c.u8()) % flight.len();
                let mut bytes = flight[i].bytes.clone();
                let pos = usize::from(c.u16()) % bytes.len().max(1);
                let bit = c.u8() % 8;
                if let Some(b) = bytes.get_mut(pos) {
                    *b ^= 1 << bit;
                }
                // A flip of a flipped copy can restore the original.
                let genuine = genuine_of(&flight, &bytes);
                flight.push(InFlight {
                    bytes,
                    to: flight[i].to,
                    genuine,
                });
            }
            _ => {
                let d = usize::from(c.u8()) % OWNER.len();
                let p = usize::from(c.u8()) % 2;
                let l = &fx.lists[p][usize::from(c.u8()) % 4];
                let v = &mut views[d];
                let known = if p == OWNER[d] {
                    &mut v.own
                } else {
                    &mut v.peer
                };
                directory_step(known, l, fx.uks[p].public());
            }
        }
    }
}

/// The header-and-body end and the entry start of a device message.
fn parts(m: &[u8]) -> Option<(usize, usize)> {
    let h = fanout::FANOUT_HEADER_LEN;
    let len = u32::from_be_bytes(m.get(h..h + 4)?.try_into().ok()?) as usize;
    let end = h.checked_add(4)?.checked_add(len)?;
    (end <= m.len()).then_some((end, end))
}

fn send(
    live: &mut Live,
    v: &Views,
    s: usize,
    text: &[u8],
    rng: &mut ChaCha20Rng,
    sent: &mut Vec<Sent>,
    flight: &mut Vec<InFlight>,
) {
    let sp = OWNER[s];
    let rp = 1 - sp;
    let mut wanted: Vec<(fanout::Audience, usize)> = Vec::new();
    for e in v.peer.list().entries() {
        wanted.push((
            fanout::Audience::Recipient,
            device_of(rp, e.device_id).unwrap(),
        ));
    }
    for e in v.own.list().entries() {
        if e.device_id != DEVICE_ID[s] {
            wanted.push((
                fanout::Audience::OwnDevice,
                device_of(sp, e.device_id).unwrap(),
            ));
        }
    }
    // Take the conversations out, so that each target borrows its own.
    let mut convs: Vec<Conversation> = Vec::new();
    let mut was_modified: Vec<bool> = Vec::new();
    for &(_, d) in &wanted {
        live.conversation(s, d);
        let slot = &mut live.conversations[s][d];
        // Marked first: a panic in between leaves it to be restored.
        was_modified.push(slot.modified);
        slot.modified = true;
        convs.push(slot.value.take().unwrap());
    }
    let before: Vec<Vec<u8>> = convs.iter().map(|c| c.to_bytes()).collect();
    let mut targets: Vec<fanout::Target<'_>> = wanted
        .iter()
        .zip(convs.iter_mut())
        .map(|(&(audience, d), conversation)| fanout::Target {
            audience,
            device_id: DEVICE_ID[d],
            conversation,
        })
        .collect();
    let got = fanout::encrypt_with(dp(), &v.own, DEVICE_ID[s], &v.peer, &mut targets, text, rng);
    drop(targets);
    let failed = got.is_err();
    for (i, (&(_, d), conv)) in wanted.iter().zip(convs).enumerate() {
        if failed {
            assert!(
                conv.to_bytes() == before[i],
                "a refused send changed a conversation"
            );
        }
        let slot = &mut live.conversations[s][d];
        slot.value = Some(conv);
        slot.modified = !failed || was_modified[i];
    }
    match got {
        Err(e) => assert!(
            matches!(e, FanoutError::UnknownDevice),
            "a send the sender's lists allow failed: {e:?}"
        ),
        Ok(wire) => {
            let n = sent.len();
            sent.push(Sent {
                plaintext: text.to_vec(),
                sender: s,
                targets: wanted.iter().map(|&(_, d)| d).collect(),
            });
            let parts = fanout::split(&wire).expect("the server cannot split a fan-out message");
            assert_eq!(parts.len(), wanted.len());
            for (audience, id, bytes) in parts {
                let person = match audience {
                    fanout::Audience::Recipient => rp,
                    fanout::Audience::OwnDevice => sp,
                };
                if flight.len() < FANOUT_MAX_PENDING {
                    flight.push(InFlight {
                        bytes,
                        to: device_of(person, id),
                        genuine: Some(n),
                    });
                }
            }
        }
    }
}

/// The send a message in flight with exactly these bytes came from, if it
/// is a genuine part (tampering can rebuild one byte for byte).
fn genuine_of(flight: &[InFlight], bytes: &[u8]) -> Option<usize> {
    flight
        .iter()
        .find(|f| f.genuine.is_some() && f.bytes == bytes)
        .and_then(|f| f.genuine)
}

fn deliver(
    live: &mut Live,
    v: &Views,
    r: usize,
    m: &InFlight,
    sent: &[Sent],
    accepted: &mut BTreeSet<(usize, usize)>,
    delivered: &BTreeSet<(usize, usize)>,
) {
    let Ok(msg) = fanout::DeviceMessage::parse(&m.bytes) else {
        assert!(
            m.genuine.is_none(),
            "a genuine device message does not parse"
        );
        return;
    };
    let h = msg.header;
    let (sender_view, sp) = if h.sender_user == *v.own.user_key() {
        (&v.own, Some(OWNER[r]))
    } else if h.sender_user == *v.peer.user_key() {
        (&v.peer, Some(1 - OWNER[r]))
    } else {
        (&v.peer, None)
    };
    let from = sp
        .and_then(|p| device_of(p, h.sender_device))
        .filter(|&d| d != r);
    let input = live.input;
    let account_before = live.account(r).to_bytes();
    let mut dummy = Conversation::new([0; 64]);
    let account_was = live.accounts[r].modified;
    let conv_was = from.map(|d| live.conversations[r][d].modified);
    let (conv_before, got) = {
        let (accounts, conversations) = (&mut live.accounts, &mut live.conversations);
        accounts[r].modified = true;
        let account = accounts[r].value.as_mut().unwrap();
        let conv = match from {
            Some(d) => {
                let fx = fanout_fixture();
                let slot = &mut conversations[r][d];
                slot.get(input, || {
                    Conversation::from_bytes_with(dp(), fx.conversations[r][d].as_ref().unwrap())
                        .unwrap()
                });
                // Marked first: a panic in between leaves it to be restored.
                slot.modified = true;
                slot.value.as_mut().unwrap()
            }
            None => &mut dummy,
        };
        let before = conv.to_bytes();
        let got = fanout::receive_with(dp(), &v.own, sender_view, conv, account, &msg);
        (before, got)
    };
    let conv_after = match from {
        Some(d) => live.conversations[r][d].value.as_ref().unwrap().to_bytes(),
        None => dummy.to_bytes(),
    };
    let account_after = live.accounts[r].value.as_ref().unwrap().to_bytes();
    match got {
        Err(e) => {
            assert!(
                conv_after == conv_before,
                "a refused message changed a conversation ({e:?})"
            );
            assert!(
                account_after == account_before,
                "a refused message changed an account ({e:?})"
            );
            if let (Some(d), Some(was)) = (from, conv_was) {
                live.conversations[r][d].modified = was;
            }
            live.accounts[r].modified = account_was;
            // A genuine part, delivered for the first time to its device,
            // whose lists are the ones the sender used, is accepted: no
            // other copy of it can have been accepted before (a copy with
            // another kind or device id is refused, spec §11.6 step 2).
            if let Some(g) = m.genuine {
                let current = sender_view.list_hash() == &h.sender_list_hash
                    && match msg.audience {
                        fanout::Audience::Recipient => v.own.list_hash() == &h.recipient_list_hash,
                        fanout::Audience::OwnDevice => true,
                    };
                if m.to == Some(r) && current && !delivered.contains(&(r, g)) {
                    panic!("a genuine message to device {r} was refused: {e:?}");
                }
            }
        }
        Ok(got) => {
            live.accounts[r].modified =
                account_was || got.account_changed || account_after != account_before;
            let g = sent
                .iter()
                .position(|s| s.plaintext == got.plaintext)
                .expect("accepted a plaintext no device sent");
            assert!(
                sent[g].targets.contains(&r),
                "device {r} accepted a message not sent to it"
            );
            assert!(
                accepted.insert((r, g)),
                "device {r} accepted a message twice"
            );
            assert_eq!(got.sender_device, DEVICE_ID[sent[g].sender]);
            assert_eq!(
                sp,
                Some(OWNER[sent[g].sender]),
                "accepted under another sender"
            );
            // One accepted encoding (spec §11.6, step 2): the entry names
            // this device, with the one kind its sender's user allows.
            assert_eq!(
                msg.device_id, DEVICE_ID[r],
                "device {r} accepted an entry addressed to device id {}",
                msg.device_id
            );
            let kind = if OWNER[sent[g].sender] == OWNER[r] {
                fanout::Audience::OwnDevice
            } else {
                fanout::Audience::Recipient
            };
            assert_eq!(
                msg.audience, kind,
                "device {r} accepted an entry of the other kind"
            );
        }
    }
}

// ---------------------------------------------------------------------------
// device_sessions: sessions per device (PeerDevices), fan-out framing and the
// sender's checks
// ---------------------------------------------------------------------------

/// Most actions per input of `device_sessions`.
pub const SESSIONS_MAX_ACTIONS: usize = 16;
/// Most conversations restored per input of `device_sessions`.
pub const SESSIONS_MAX_RESTORES: usize = 6;
/// Most sends plus deliveries per input of `device_sessions`.
pub const SESSIONS_MAX_MESSAGES: usize = 3;

/// The fixture of `device_sessions`, on top of `fanout`'s.
pub struct SessionsFixture {
    /// `known[p][i]`: person `p`'s list `fanout_fixture().lists[p][i]`, accepted.
    pub known: Vec<Vec<KnownUser>>,
    /// A fan-out message of device 0 to person 1 and its own devices.
    pub wire: Vec<u8>,
    /// Device 0's account (for starts that are refused before it is used).
    pub account: Account,
    /// A plaintext one byte longer than a message may carry.
    pub long: Vec<u8>,
}

fn build_sessions_fixture() -> SessionsFixture {
    let fx = fanout_fixture();
    let known: Vec<Vec<KnownUser>> = (0..2)
        .map(|p| {
            fx.lists[p]
                .iter()
                .map(|l| {
                    KnownUser::from_list(
                        DeviceList::verify_with(dp(), l, Some(fx.uks[p].public())).unwrap(),
                    )
                })
                .collect()
        })
        .collect();
    let mut own = PeerDevices::own(known[0][0].clone(), 1).unwrap();
    let mut peer = PeerDevices::new(known[1][0].clone());
    for d in 1..OWNER.len() {
        let c =
            Conversation::from_bytes_with(dp(), fx.conversations[0][d].as_ref().unwrap()).unwrap();
        let set = if OWNER[d] == 0 { &mut own } else { &mut peer };
        set.insert(DEVICE_ID[d], c).unwrap();
    }
    let mut rng = ChaCha20Rng::from_seed([0xd5; 32]);
    let wire = PeerDevices::send(&mut own, &mut peer, b"to everyone", &mut rng).unwrap();
    SessionsFixture {
        known,
        wire,
        account: Account::from_bytes(&fx.accounts[0]).unwrap(),
        long: vec![0; MAX_PLAINTEXT_LEN + 1],
    }
}

pub fn sessions_fixture() -> &'static SessionsFixture {
    static F: OnceLock<SessionsFixture> = OnceLock::new();
    F.get_or_init(build_sessions_fixture)
}

/// The conversations of a set, as (device id, encoding).
fn encodings(set: &PeerDevices) -> Vec<(u32, Vec<u8>)> {
    set.conversations()
        .map(|(id, c)| (id, c.to_bytes()))
        .collect()
}

/// The state of one input of `device_sessions`.
struct SessionsRun {
    /// The sending device.
    s: usize,
    /// Its own user's devices (`own`, or `new`: no device of its own).
    own: PeerDevices,
    /// The other person's devices.
    peer: PeerDevices,
    /// The receiving device, and its view of the sender's person.
    r: usize,
    view: PeerDevices,
    account: Option<Account>,
    restores: usize,
    /// (plaintext, device message, the device it is addressed to)
    flight: Vec<(Vec<u8>, Vec<u8>, usize)>,
    accepted: BTreeSet<Vec<u8>>,
}

/// `s:u8 r:u8 flags:u8` (the sending and the receiving device; flag bit
/// 0: the sender's own set has no device of its own; bit 1: the receiver,
/// of the sender's person, views it as its own set), then up to
/// [`SESSIONS_MAX_ACTIONS`] actions `op:u8 a:u8 b:u8` (modulo 7): insert a
/// conversation (0), update a set's list (1), send (2), deliver (3), edit a
/// fan-out message and parse it (4), encrypt to crafted targets (5), name
/// an unlisted device (6). Every verdict is the one spec §11.6–§11.7 give
/// in their order; a refusal changes no conversation and no account; an
/// accepted message was sent to that device, and is accepted once.
pub fn check_device_sessions(data: &[u8]) {
    let sf = sessions_fixture();
    let mut c = Cursor::new(data);
    let s = usize::from(c.u8()) % OWNER.len();
    let r = usize::from(c.u8()) % OWNER.len();
    let flags = c.u8();
    let (sp, rp) = (OWNER[s], 1 - OWNER[s]);
    let own = if flags & 1 == 0 {
        PeerDevices::own(sf.known[sp][0].clone(), DEVICE_ID[s]).unwrap()
    } else {
        PeerDevices::new(sf.known[sp][0].clone())
    };
    let view = if OWNER[r] == sp && flags & 2 != 0 {
        PeerDevices::own(sf.known[sp][0].clone(), DEVICE_ID[r]).unwrap()
    } else {
        PeerDevices::new(sf.known[sp][0].clone())
    };
    let mut run = SessionsRun {
        s,
        own,
        peer: PeerDevices::new(sf.known[rp][0].clone()),
        r,
        view,
        account: None,
        restores: 0,
        flight: Vec::new(),
        accepted: BTreeSet::new(),
    };
    let mut messages = 0;
    for _ in 0..SESSIONS_MAX_ACTIONS {
        if c.is_empty() {
            break;
        }
        let (op, a, b) = (c.u8() % 7, c.u8(), c.u8());
        match op {
            0 => sessions_insert(&mut run, a, b),
            1 => sessions_update(&mut run, a, b),
            2 | 3 if messages >= SESSIONS_MAX_MESSAGES => {}
            2 => {
                messages += 1;
                sessions_send(&mut run, a, b);
            }
            3 => {
                messages += 1;
                sessions_deliver(&mut run, a, b);
            }
            4 => sessions_framing(sf, a, b),
            5 => sessions_targets(&run, a, b),
            _ => {
                // An id no list names, or the device's own: neither gets a
                // conversation (a listed id of another device fails on the
                // empty bundle).
                let id = if a & 1 == 0 { 9 } else { DEVICE_ID[s] };
                assert_eq!(
                    PeerDevices::own(sf.known[sp][0].clone(), 9).map(|_| ()),
                    Err(FanoutError::UnknownDevice)
                );
                let before = encodings(&run.own);
                let mut rng = ChaCha20Rng::from_seed([b; 32]);
                let got = run
                    .own
                    .start(&sf.account, id, b"", HeaderMode::Plain, &mut rng)
                    .map(|_| ());
                let listed = run.own.user().list().device(id).is_some();
                if !listed || run.own.this_device() == Some(id) {
                    assert_eq!(got, Err(FanoutError::UnlistedDevice(id)));
                } else {
                    assert!(matches!(got, Err(FanoutError::Start(_))), "{got:?}");
                }
                assert!(
                    encodings(&run.own) == before,
                    "a refused start changed a conversation"
                );
            }
        }
    }
}

/// Action 0: a conversation of the sender with device `a`, inserted into
/// its own set or the peer's (`b` bit 2) under that device's id, another
/// device's or an unlisted one (`b`).
fn sessions_insert(run: &mut SessionsRun, a: u8, b: u8) {
    let fx = fanout_fixture();
    let k = usize::from(a) % OWNER.len();
    let Some(bytes) = fx.conversations[run.s][k].as_ref() else {
        return;
    };
    if run.restores >= SESSIONS_MAX_RESTORES {
        return;
    }
    run.restores += 1;
    let id = match b % 4 {
        0 | 1 => DEVICE_ID[k],
        2 => 9,
        _ => DEVICE_ID[(k + 1) % OWNER.len()],
    };
    let set = if b & 4 == 0 {
        &mut run.own
    } else {
        &mut run.peer
    };
    let conv = Conversation::from_bytes_with(dp(), bytes).unwrap();
    // spec §11.7: only under a listed id of another device, bound to its
    // listed identity.
    let want_ok = set
        .user()
        .list()
        .device(id)
        .filter(|_| Some(id) != set.this_device())
        .is_some_and(|e| e.identity == fx.identities[k]);
    let before = (!want_ok).then(|| encodings(set));
    match set.insert(id, conv) {
        Ok(()) => {
            assert!(want_ok, "a conversation inserted under device id {id}");
            assert_eq!(
                set.conversation(id).map(|c| *c.peer()),
                Some(fx.identities[k])
            );
        }
        Err(e) => {
            assert!(!want_ok, "a listed device's conversation refused: {e:?}");
            assert_eq!(e, FanoutError::UnlistedDevice(id));
            assert!(
                encodings(set) == before.unwrap(),
                "a refused insert changed a conversation"
            );
        }
    }
}

/// Action 1: set `a` (own, peer, the receiver's view) offered list `b` of
/// its person (or, `b` bit 2, of the other person).
fn sessions_update(run: &mut SessionsRun, a: u8, b: u8) {
    let fx = fanout_fixture();
    let sp = OWNER[run.s];
    let (set, p) = match a % 3 {
        0 => (&mut run.own, sp),
        1 => (&mut run.peer, 1 - sp),
        _ => (&mut run.view, sp),
    };
    let p = if b & 4 != 0 { 1 - p } else { p };
    let list = &fx.lists[p][usize::from(b) % 4];
    let user_before = set.user().to_bytes();
    let held: Vec<(u32, IdentityKey)> =
        set.conversations().map(|(id, c)| (id, *c.peer())).collect();
    match set.update(list) {
        Ok(_) => {
            // spec §11.7: a conversation stays exactly while its device is
            // listed with the identity it is bound to.
            for (id, peer) in held {
                let listed = set
                    .user()
                    .list()
                    .device(id)
                    .is_some_and(|e| e.identity == peer);
                assert_eq!(
                    set.conversation(id).is_some(),
                    listed,
                    "device {id}'s conversation after a list update"
                );
            }
            assert!(set.conversations().count() <= set.user().list().entries().len());
        }
        Err(_) => {
            assert!(
                set.user().to_bytes() == user_before,
                "a refused list changed the view"
            );
            let now: Vec<(u32, IdentityKey)> =
                set.conversations().map(|(id, c)| (id, *c.peer())).collect();
            assert!(now == held, "a refused list dropped a conversation");
        }
    }
}

/// Action 2: the sender sends to the peer's devices and its own others
/// (`a` bit 7: a plaintext over the limit).
fn sessions_send(run: &mut SessionsRun, a: u8, b: u8) {
    let sf = sessions_fixture();
    let short = format!("#{} from {}: {a}", run.flight.len(), run.s).into_bytes();
    let text: &[u8] = if a & 0x80 != 0 { &sf.long } else { &short };
    // spec §11.7, then §11.6: the sender's own device, a session with every
    // listed device of the recipient, then of its own user, the length.
    let want = if run.own.this_device().is_none() || !run.own.is_listed() {
        Some(FanoutError::UnknownDevice)
    } else if let Some(&id) = run.peer.needs_bundle().first() {
        Some(FanoutError::NoSession(id))
    } else if let Some(&id) = run.own.needs_bundle().first() {
        Some(FanoutError::NoSession(id))
    } else if text.len() > MAX_PLAINTEXT_LEN {
        Some(FanoutError::PlaintextTooLong)
    } else {
        None
    };
    let before = want
        .is_some()
        .then(|| (encodings(&run.own), encodings(&run.peer)));
    let mut rng = ChaCha20Rng::from_seed([b; 32]);
    match PeerDevices::send(&mut run.own, &mut run.peer, text, &mut rng) {
        Err(e) => {
            assert_eq!(Some(e), want, "not the first check that fails");
            let (o, p) = before.unwrap();
            assert!(
                encodings(&run.own) == o && encodings(&run.peer) == p,
                "a refused send changed a conversation"
            );
        }
        Ok(wire) => {
            assert_eq!(want, None, "a send was made that §11.6–§11.7 refuse");
            let sp = OWNER[run.s];
            for (audience, id, bytes) in fanout::split(&wire).unwrap() {
                let person = match audience {
                    fanout::Audience::Recipient => 1 - sp,
                    fanout::Audience::OwnDevice => sp,
                };
                let d = device_of(person, id).expect("a part for a device no list names");
                run.flight.push((text.to_vec(), bytes, d));
            }
        }
    }
}

/// Action 3: message `a` in flight delivered to the receiving device
/// through its view of the sender's person (`b` bit 0: holding its
/// conversation with the sender first; bit 1: as a note to self).
fn sessions_deliver(run: &mut SessionsRun, a: u8, b: u8) {
    let fx = fanout_fixture();
    let sf = sessions_fixture();
    if run.flight.is_empty() {
        return;
    }
    let (text, bytes, to) = run.flight[usize::from(a) % run.flight.len()].clone();
    let msg =
        fanout::DeviceMessage::parse(&bytes).expect("a genuine device message does not parse");
    let (s, r) = (run.s, run.r);
    let account = run
        .account
        .get_or_insert_with(|| Account::from_bytes_with(dp(), &fx.accounts[r]).unwrap());
    if b & 1 == 1
        && run.restores < SESSIONS_MAX_RESTORES
        && run.view.conversation(DEVICE_ID[s]).is_none()
    {
        if let Some(c) = fx.conversations[r][s].as_ref() {
            run.restores += 1;
            let c = Conversation::from_bytes_with(dp(), c).unwrap();
            // Refused when the view does not list the sender's device (or
            // it is the receiver's own).
            let _ = run.view.insert(DEVICE_ID[s], c);
        }
    }
    let account_before = account.to_bytes();
    let convs_before = encodings(&run.view);
    let as_own = b & 2 != 0 || run.view.this_device().is_some();
    let got = if as_own {
        run.view.receive_own(account, &msg)
    } else {
        run.view.receive(&sf.known[OWNER[r]][0], account, &msg)
    };
    match got {
        Ok(got) => {
            assert_eq!(to, r, "device {r} accepted a part addressed to device {to}");
            assert_eq!(got.plaintext, text);
            assert_eq!(got.sender_device, DEVICE_ID[s]);
            assert!(run.accepted.insert(bytes), "a message was accepted twice");
        }
        Err(e) => {
            if as_own && run.view.this_device().is_none() {
                assert_eq!(e, FanoutError::NotForUs, "a note to self without a device");
            }
            assert!(
                account.to_bytes() == account_before,
                "a refused message changed the account ({e:?})"
            );
            assert!(
                encodings(&run.view) == convs_before,
                "a refused message changed a conversation ({e:?})"
            );
        }
    }
}

/// Action 4: the fixture's fan-out message, or its part `a`, with one field
/// broken (`b`): the version, an audience flag, the body length, a
/// trailing byte; both parsers give the error of that field.
fn sessions_framing(sf: &SessionsFixture, a: u8, b: u8) {
    let parts = fanout::split(&sf.wire).unwrap();
    let part = &parts[usize::from(a) % parts.len()].2;
    let h = fanout::FANOUT_HEADER_LEN;
    let body_len = |m: &[u8]| u32::from_be_bytes(m[h..h + 4].try_into().unwrap()) as usize;
    let flag = 2 + a % 254;
    for (whole, m) in [(true, &sf.wire), (false, part)] {
        let mut m = m.clone();
        let want = match b % 4 {
            0 => {
                m[0] = 2;
                ParseError::UnsupportedVersion(2)
            }
            1 => {
                // The first entry's audience: after the count of a whole
                // message.
                let at = h + 4 + body_len(&m) + if whole { 2 } else { 0 };
                m[at] = flag;
                ParseError::InvalidFlags(flag)
            }
            2 => {
                let len = if a & 1 == 0 {
                    m.len() as u32
                } else {
                    u32::from(a % 16)
                };
                m[h..h + 4].copy_from_slice(&len.to_be_bytes());
                ParseError::Truncated("body")
            }
            _ => {
                m.push(a);
                ParseError::TrailingBytes
            }
        };
        let got = if whole {
            fanout::split(&m).map(|_| ())
        } else {
            fanout::DeviceMessage::parse(&m).map(|_| ())
        };
        assert_eq!(got, Err(want));
    }
}

/// Action 5: `fanout::encrypt` to up to three crafted targets, none with a
/// session (`a`: two bits each: a listed device of the recipient, one bound
/// to another identity, an unlisted id, the sender's own device), from the
/// sender's device or an unlisted one (`b` bit 6), of a normal or too long
/// plaintext (`b` bit 7), to the other person or as a note to self (`b`
/// bit 5, where no target may be a recipient): the first check of spec
/// §11.6 that fails.
fn sessions_targets(run: &SessionsRun, a: u8, b: u8) {
    let fx = fanout_fixture();
    let sf = sessions_fixture();
    let sp = OWNER[run.s];
    let to_self = b & 0x20 != 0;
    let own = &sf.known[sp][0];
    let recipient = if to_self { own } else { &sf.known[1 - sp][0] };
    let own_device = if b & 0x40 != 0 { 9 } else { DEVICE_ID[run.s] };
    let text: &[u8] = if b & 0x80 != 0 { &sf.long } else { b"x" };
    let theirs: Vec<usize> = (0..OWNER.len()).filter(|&d| OWNER[d] != sp).collect();
    let mut specs = Vec::new();
    for i in 0..usize::from(b % 4) {
        let d = theirs[i % theirs.len()];
        specs.push(match (a >> (2 * i)) & 3 {
            0 => (
                fanout::Audience::Recipient,
                DEVICE_ID[d],
                fx.identities[d],
                true,
            ),
            1 => (
                fanout::Audience::Recipient,
                DEVICE_ID[d],
                fx.identities[run.s],
                false,
            ),
            2 => (fanout::Audience::Recipient, 9, fx.identities[d], false),
            _ => (
                fanout::Audience::OwnDevice,
                DEVICE_ID[run.s],
                fx.identities[run.s],
                false,
            ),
        });
    }
    let want = if text.len() > MAX_PLAINTEXT_LEN {
        Some(FanoutError::PlaintextTooLong)
    } else if own_device == 9 {
        Some(FanoutError::UnknownDevice)
    } else {
        specs
            .iter()
            .map(|&(audience, id, _, ok)| {
                if ok && !(to_self && audience == fanout::Audience::Recipient) {
                    FanoutError::NoSession(id)
                } else {
                    FanoutError::UnlistedDevice(id)
                }
            })
            .next()
    };
    let mut convs: Vec<Conversation> = specs
        .iter()
        .map(|&(_, _, ik, _)| Conversation::new(ik))
        .collect();
    let mut targets: Vec<fanout::Target<'_>> = specs
        .iter()
        .zip(convs.iter_mut())
        .map(
            |(&(audience, device_id, _, _), conversation)| fanout::Target {
                audience,
                device_id,
                conversation,
            },
        )
        .collect();
    let mut rng = ChaCha20Rng::from_seed([a; 32]);
    let got = fanout::encrypt_with(
        dp(),
        own,
        own_device,
        recipient,
        &mut targets,
        text,
        &mut rng,
    );
    match want {
        Some(w) => assert_eq!(got.unwrap_err(), w),
        None => assert!(matches!(got, Err(FanoutError::MissingDevice(_))), "{got:?}"),
    }
}

// ---------------------------------------------------------------------------
// device_state: persisted known users and user keys
// ---------------------------------------------------------------------------

/// `sel:u8` (modulo 3), then: plain decoders on the rest (0), each with its
/// check recomputed too; sealed decoders on the rest (1); or `pos:u16 x:u8`
/// and a state sealed, edited and opened (2). Accepted states re-encode to
/// exactly the input and are what `KnownUser::new` and `UserKey::from_seed`
/// give; sealed blobs open to exactly what their plain bytes restore to.
pub fn check_device_state(data: &[u8]) {
    let mut c = Cursor::new(data);
    match c.u8() % 3 {
        0 => {
            let bytes = c.rest();
            check_plain_device_state(bytes);
            if let Some(body) = bytes.len().checked_sub(32) {
                let digest = dp().sha256(&[&bytes[..body]]);
                if bytes[body..] != digest {
                    check_plain_device_state(&[&bytes[..body], &digest[..]].concat());
                }
            }
        }
        1 => {
            let blob = c.rest();
            let key = storage_key();
            for kind in [SealedKind::KnownUser, SealedKind::UserKey] {
                let Ok(plain) = storage::open(dp(), &key, kind, blob) else {
                    continue;
                };
                match kind {
                    SealedKind::KnownUser => {
                        let a = KnownUser::from_sealed_bytes(blob, &key).map_err(|_| ());
                        let b = KnownUser::from_bytes(&plain).map_err(|_| ());
                        assert!(a == b, "sealed and plain known users differ");
                    }
                    _ => {
                        let a = UserKey::from_sealed_bytes(blob, &key).map(|k| *k.public());
                        let b = UserKey::from_bytes(&plain).map(|k| *k.public());
                        assert!(a.is_ok() == b.is_ok(), "sealed and plain user keys differ");
                        assert!(a.ok() == b.ok(), "sealed and plain user keys differ");
                    }
                }
            }
        }
        _ => {
            let pos = usize::from(c.u16());
            let x = c.u8();
            let state = c.rest();
            let key = storage_key();
            let mut rng = ChaCha20Rng::from_seed([0x33; 32]);
            let (kind, other) = if state.starts_with(b"SOVA-1 user key") {
                (SealedKind::UserKey, SealedKind::KnownUser)
            } else {
                (SealedKind::KnownUser, SealedKind::UserKey)
            };
            let blob = storage::seal(dp(), &mut rng, &key, kind, state).unwrap();
            assert_eq!(storage::open(dp(), &key, kind, &blob).unwrap(), state);
            assert!(
                storage::open(dp(), &key, other, &blob).is_err(),
                "opened as another kind"
            );
            let mut bad = blob.clone();
            let at = pos % bad.len();
            bad[at] ^= x | 1;
            assert!(
                storage::open(dp(), &key, kind, &bad).is_err(),
                "a changed blob opened"
            );
            match kind {
                SealedKind::UserKey => {
                    let a = UserKey::from_sealed_bytes(&blob, &key)
                        .map(|k| *k.public())
                        .ok();
                    assert!(a == UserKey::from_bytes(state).map(|k| *k.public()).ok());
                }
                _ => {
                    let a = KnownUser::from_sealed_bytes(&blob, &key).ok();
                    assert!(a == KnownUser::from_bytes(state).ok());
                }
            }
        }
    }
}

fn check_plain_device_state(bytes: &[u8]) {
    if let Ok(k) = KnownUser::from_bytes(bytes) {
        assert!(
            k.to_bytes() == bytes,
            "KnownUser::from_bytes accepted a non-canonical state"
        );
        let again = KnownUser::new(k.user_key(), k.list().to_bytes())
            .expect("a restored list does not verify under its own key");
        assert!(
            again == k,
            "a restored known user is not the one its list gives"
        );
        let mut k2 = k.clone();
        assert_eq!(
            k2.update_with(dp(), k.list().to_bytes()),
            Ok(ListChange::Unchanged)
        );
    }
    if let Ok(u) = UserKey::from_bytes(bytes) {
        assert!(
            u.to_bytes() == bytes,
            "UserKey::from_bytes accepted a non-canonical state"
        );
        let again = UserKey::from_seed(Secret::from_bytes(*u.seed().expose()));
        assert_eq!(again.public(), u.public());
    }
}

// ---------------------------------------------------------------------------
// Targets and seeds
// ---------------------------------------------------------------------------

/// The device fuzz targets, in `fuzz/Cargo.toml` order.
pub const TARGETS: [&str; 5] = [
    "device_list",
    "link",
    "fanout",
    "device_state",
    "device_sessions",
];

/// The check a target runs.
pub fn check_for(target: &str) -> fn(&[u8]) {
    match target {
        "device_list" => check_device_list,
        "link" => check_link,
        "device_sessions" => check_device_sessions,
        "fanout" => check_fanout,
        "device_state" => check_device_state,
        other => panic!("unknown target {other}"),
    }
}

/// The committed seed inputs: `(target, file name, bytes)`.
pub fn seeds() -> Vec<(&'static str, String, Vec<u8>)> {
    let mut out: Vec<(&'static str, String, Vec<u8>)> = Vec::new();
    let mut add = |t: &'static str, name: &str, data: Vec<u8>| out.push((t, name.to_owned(), data));

    // device_list: forward, rollback, fork, another user, broken lists,
    // a raw list, fresh signatures.
    add("device_list", "forward", vec![0x80, 0, 1, 0, 2, 0, 4, 0, 5]);
    add(
        "device_list",
        "rollback_and_fork",
        vec![1, 0, 0, 0, 3, 0, 1, 0, 2],
    );
    add(
        "device_list",
        "other_user_and_inconsistent",
        vec![0, 0, 6, 0, 7, 0, 8, 0, 9],
    );
    add(
        "device_list",
        "edited",
        vec![0, 1, 1, 0, 0, 60, 1, 1, 4, 1, 0, 100, 0, 5, 2, 9, 0, 40, 0],
    );
    let l = &list_fixture().lists[1];
    let mut raw = vec![0, 2];
    raw.extend_from_slice(&(l.len() as u16).to_be_bytes());
    raw.extend_from_slice(l);
    add("device_list", "raw", raw);
    add(
        "device_list",
        "signed",
        vec![0, 3, 0, 4, 2, 1, 0, 1, 2, 1, 0, 3, 1, 3, 1, 1, 7, 1],
    );

    // link: the admin's side with each offer and view, the new device's
    // side with each response, edits of both.
    for (name, offer) in [
        ("approve", 0u8),
        ("approve_other_device", 1),
        ("approve_listed", 2),
    ] {
        add("link", name, vec![0, 0, 0, 0, 1, 0, offer]);
    }
    add("link", "approve_admin_full", vec![0, 1, 0, 1, 1, 0, 0]);
    add("link", "approve_exhausted", vec![0, 2, 0, 0, 0, 0, 0]);
    add("link", "approve_wrong_key", vec![0, 0, 3, 0, 0, 0, 0]);
    add("link", "approve_data_too_long", vec![0, 0, 0, 0, 7, 0, 0]);
    add(
        "link",
        "approve_edited",
        vec![0, 0, 0, 0, 0, 1, 0, 0, 0, 30, 4],
    );
    for i in 0..4u8 {
        add("link", &format!("finish_{i}"), vec![1, 0, i]);
    }
    add("link", "finish_edited", vec![1, 1, 0, 0, 0, 60, 2]);
    add("link", "finish_truncated", vec![1, 1, 0, 1, 0, 50, 0]);
    add("link", "finish_bad_version", vec![1, 1, 0, 2, 0, 20, 2]);
    // Sealed responses whose payload breaks §11.5 (`sealed_bad`).
    for (i, name) in [
        "wrong_user_key",
        "bad_flag",
        "data_too_long",
        "trailing_byte",
    ]
    .iter()
    .enumerate()
    {
        add(
            "link",
            &format!("finish_sealed_{name}"),
            vec![1, 0, 4 + i as u8],
        );
    }

    // device_sessions: `s r flags`, then `op a b` actions.
    let ds = |head: [u8; 3], actions: &[[u8; 3]]| {
        let mut v = head.to_vec();
        for a in actions {
            v.extend_from_slice(a);
        }
        v
    };
    // Device 0 holds every session, sends; device 3 reads its part (with its
    // conversation) and the part of device 4 (not for it).
    let all_of_0 = [[0, 1, 0], [0, 2, 0], [0, 3, 4], [0, 4, 4]];
    add(
        "device_sessions",
        "send_and_deliver",
        ds(
            [0, 3, 0],
            &[all_of_0.to_vec(), vec![[2, 1, 0], [3, 0, 1], [3, 1, 1]]].concat(),
        ),
    );
    add(
        "device_sessions",
        "send_refusals",
        ds(
            [0, 1, 0],
            &[
                [2, 0, 0],
                [0, 3, 4],
                [0, 4, 4],
                [2, 0, 0],
                [0, 1, 0],
                [0, 2, 0],
                [2, 0x80, 0],
            ],
        ),
    );
    add(
        "device_sessions",
        "send_without_own_device",
        ds([0, 1, 1], &[[2, 0, 0], [6, 1, 0], [6, 0, 0]]),
    );
    // Device 2 (id 3) takes its own user's list without id 3, then sends.
    add(
        "device_sessions",
        "send_after_own_device_unlisted",
        ds([2, 0, 0], &[[1, 0, 1], [2, 0, 0]]),
    );
    add(
        "device_sessions",
        "insert_refusals",
        ds(
            [0, 1, 0],
            &[[0, 1, 2], [0, 1, 3], [0, 3, 0], [0, 1, 4], [6, 1, 0]],
        ),
    );
    // The peer's list drops device 4's id: its conversation goes; a
    // rollback and the other person's list are refused.
    add(
        "device_sessions",
        "update_drops_conversation",
        ds(
            [0, 3, 0],
            &[
                [0, 3, 4],
                [0, 4, 4],
                [1, 1, 1],
                [1, 1, 0],
                [1, 1, 4],
                [2, 0, 0],
            ],
        ),
    );
    // Device 2 (id 3) sends; device 0's own view, updated to the list
    // without id 3, refuses its parts.
    add(
        "device_sessions",
        "receive_from_unlisted_device",
        ds(
            [2, 0, 2],
            &[
                [0, 0, 0],
                [0, 1, 0],
                [0, 3, 4],
                [0, 4, 4],
                [2, 0, 0],
                [1, 2, 1],
                [3, 2, 0],
                [3, 3, 0],
            ],
        ),
    );
    // Person 1's device 3 sends; device 4 reads its part as a note to self
    // without a device of its own (NotForUs), then as itself.
    add(
        "device_sessions",
        "note_to_self",
        ds(
            [3, 4, 0],
            &[
                [0, 4, 0],
                [0, 0, 4],
                [0, 1, 4],
                [0, 2, 4],
                [2, 0, 0],
                [3, 3, 2],
                [3, 3, 0],
            ],
        ),
    );
    add(
        "device_sessions",
        "framing",
        ds(
            [0, 1, 0],
            &[
                [4, 0, 0],
                [4, 1, 1],
                [4, 0, 2],
                [4, 1, 2],
                [4, 0, 3],
                [4, 2, 1],
            ],
        ),
    );
    add(
        "device_sessions",
        "crafted_targets",
        ds(
            [0, 1, 0],
            &[
                [5, 0, 0x80],
                [5, 0, 0x40],
                [5, 0, 0],
                [5, 0, 1],
                [5, 1, 1],
                [5, 2, 1],
                [5, 3, 1],
                [5, 0, 0x21],
            ],
        ),
    );

    // fanout: sends and deliveries in order, out of order, duplicated,
    // misdelivered, swapped, flipped, with list updates between.
    add(
        "fanout",
        "send_and_deliver",
        vec![0, 0, 0, 3, b'a', b'b', b'c', 1, 0, 1, 1, 1, 2, 1, 3],
    );
    add(
        "fanout",
        "reply",
        vec![1, 0, 3, 0, 1, 0, 1, 3, 0, 0, 0, 1, 5, 1, 6, 1, 4],
    );
    add(
        "fanout",
        "duplicate_and_misdeliver",
        vec![2, 0, 4, 0, 1, 0, 1, 0, 2, 0, 3, 2, 1, 0],
    );
    add(
        "fanout",
        "swap_and_flip",
        vec![
            3, 0, 0, 0, 0, 3, 2, b'h', b'i', 3, 0, 4, 4, 0, 0, 200, 3, 1, 8, 1, 9, 1, 10, 2, 0, 4,
            1, 0, 1, 0,
        ],
    );
    add(
        "fanout",
        "list_updates",
        vec![
            4, 5, 3, 0, 1, 0, 0, 0, 1, 0, 5, 0, 0, 1, 0, 1, 0, 1, 1, 5, 0, 0, 3, 0, 2, 0, 1, 0,
        ],
    );
    add(
        "fanout",
        "removed_sender",
        vec![5, 5, 2, 0, 1, 0, 2, 0, 5, 0, 0, 1, 0, 4, 0],
    );

    // device_state: genuine states plain and sealed, edits, round trips.
    let lf = list_fixture();
    let known = KnownUser::new(lf.uk.public(), &lf.lists[1]).unwrap();
    let mut rng = ChaCha20Rng::from_seed([0x44; 32]);
    let key = storage_key();
    add(
        "device_state",
        "known_user",
        [&[0u8][..], &known.to_bytes()].concat(),
    );
    add(
        "device_state",
        "user_key",
        [&[0u8][..], &lf.uk.to_bytes()].concat(),
    );
    add(
        "device_state",
        "known_user_sealed",
        [&[1u8][..], &known.to_sealed_bytes(&mut rng, &key).unwrap()].concat(),
    );
    add(
        "device_state",
        "user_key_sealed",
        [&[1u8][..], &lf.uk.to_sealed_bytes(&mut rng, &key).unwrap()].concat(),
    );
    let mut forged = known.to_bytes();
    forged[60] ^= 1;
    add(
        "device_state",
        "known_user_forged_list",
        [&[0u8][..], &forged].concat(),
    );
    add(
        "device_state",
        "seal_known_user",
        [&[2u8, 0, 20, 1][..], &known.to_bytes()].concat(),
    );
    add(
        "device_state",
        "seal_user_key",
        [&[2u8, 0, 40, 2][..], &lf.uk.to_bytes()].concat(),
    );
    out
}
