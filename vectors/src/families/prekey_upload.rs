//! `prekey-upload.json`: the upload of a batch of prekeys to the server and
//! the bundles a server assembles from it (spec §7.11; format in spec
//! §4.12).
//!
//! Valid cases run the account API (`Account::new`, the one-time prekey
//! generators, `unpublished_prekeys`, `mark_prekeys_as_published`) on an RNG
//! that replays the case's secrets, recompute every signed message,
//! signature and the upload with provider calls, and check that the bundles
//! assembled from the upload equal `Account::bundle` byte for byte. Rejected
//! uploads are parsed and verified and must fail with the recorded error.

use serde::{Deserialize, Serialize};
use sova::kdf::labeled_sign;
use sova::labels;
use sova::session::{
    Account, LongTermPrekeys, PrekeyBundle, PrekeyKind, PrekeyUpload, UploadError,
};
use sova::{CryptoProvider, Secret};

use super::handshake::{rejected_at, sign_prekey};
use crate::family::{fixed, Case, CaseError, Family, FileGen, Inputs, Kind};
use crate::replay::ReplayRng;
use crate::Bytes;

/// The file name.
pub(crate) const FILE: &str = "prekey-upload.json";

/// The family of `prekey-upload.json`.
pub(crate) const FAMILY: Family = Family::new(
    FILE,
    "Publishing prekeys: uploads of the long-term part and of one-time X25519 and ML-KEM-768 \
     prekeys built by an account from fixed secrets, with every signed message and signature, \
     and the bundles a server assembles from them until its one-time prekeys run out; and \
     uploads a server must reject, each with its error (spec §7.11; format: spec §4.12).",
    &[Kind::of::<Upload>(), Kind::of::<UploadRejection>()],
    generate,
);

/// The type byte of an upload (spec §7.11).
const TYPE_UPLOAD: u8 = 0x11;
/// The protocol version byte.
const VERSION: u8 = 0x01;

/// The random bytes of an account with several one-time prekeys, in the
/// order the library draws them.
#[derive(Serialize, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct UploadAccount {
    signing_seed: Bytes,
    agreement_private: Bytes,
    signed_prekey_private: Bytes,
    kem_last_resort_seed: Bytes,
    one_time_prekey_privates: Vec<Bytes>,
    kem_one_time_prekey_seeds: Vec<Bytes>,
}

/// A signed prekey of the long-term part, or an entry of the upload.
#[derive(Serialize, Deserialize, Clone, PartialEq, Eq, Debug)]
#[serde(deny_unknown_fields)]
struct Published {
    kind: u8,
    id: u32,
    public_key: Bytes,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    signed_data: Option<Bytes>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    signature: Option<Bytes>,
}

/// A bundle the server hands out.
#[derive(Serialize, Deserialize, Clone, PartialEq, Eq, Debug)]
#[serde(deny_unknown_fields)]
struct HandedOut {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    one_time_prekey_id: Option<u32>,
    kem_prekey_kind: u8,
    kem_prekey_id: u32,
    bundle: Bytes,
}

/// A valid upload and the bundles assembled from it.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Upload {
    description: String,
    account: UploadAccount,
    long_term_published_first: bool,
    identity: Bytes,
    signed_prekey: Published,
    kem_last_resort: Published,
    entries: Vec<Published>,
    upload: Bytes,
    bundles: Vec<HandedOut>,
}

fn draw(field: &str, b: &Bytes, n: usize) -> Result<Vec<u8>, CaseError> {
    if b.len() == n {
        Ok(b.as_slice().to_vec())
    } else {
        Err(CaseError::malformed(
            field,
            format!("expected {n} bytes, found {} bytes", b.len()),
        ))
    }
}

fn signed(
    p: &dyn CryptoProvider,
    seed: &Secret<32>,
    kind: PrekeyKind,
    id: u32,
    key: &[u8],
) -> Result<Published, CaseError> {
    let data = [&[kind as u8][..], &id.to_be_bytes(), key].concat();
    Ok(Published {
        kind: kind as u8,
        id,
        public_key: key.to_vec().into(),
        signed_data: Some(data.into()),
        signature: Some(sign_prekey(p, seed, kind, id, key)?.to_vec().into()),
    })
}

fn put_signed(out: &mut Vec<u8>, k: &Published) {
    out.extend_from_slice(&k.id.to_be_bytes());
    out.extend_from_slice(k.public_key.as_slice());
    if let Some(s) = &k.signature {
        out.extend_from_slice(s.as_slice());
    }
}

impl Upload {
    fn compute(
        p: &dyn CryptoProvider,
        description: String,
        account: UploadAccount,
        long_term_published_first: bool,
    ) -> Result<Self, CaseError> {
        let a = &account;
        // The account through the API, on the recorded randomness.
        let mut rng = ReplayRng::new(vec![
            draw("account.signing_seed", &a.signing_seed, 32)?,
            draw("account.agreement_private", &a.agreement_private, 32)?,
            draw(
                "account.signed_prekey_private",
                &a.signed_prekey_private,
                32,
            )?,
            draw("account.kem_last_resort_seed", &a.kem_last_resort_seed, 64)?,
        ]);
        let mut bob = Account::new_with(p, &mut rng).map_err(rejected_at("account"))?;
        rng.finish_exact(&[32, 32, 32, 64])
            .map_err(|m| CaseError::check_failed("account", m))?;
        if long_term_published_first {
            let first = bob.unpublished_prekeys().map_err(rejected_at("account"))?;
            if bob.mark_prekeys_as_published(&first) != 2 {
                return Err(CaseError::check_failed(
                    "long_term_published_first",
                    "marking the first upload did not mark the long-term part",
                ));
            }
        }
        let n = a.one_time_prekey_privates.len();
        let m = a.kem_one_time_prekey_seeds.len();
        let draws = a
            .one_time_prekey_privates
            .iter()
            .enumerate()
            .map(|(i, k)| draw(&format!("account.one_time_prekey_privates[{i}]"), k, 32))
            .collect::<Result<Vec<_>, _>>()?;
        let mut rng = ReplayRng::new(draws);
        bob.generate_one_time_prekeys(&mut rng, n)
            .map_err(rejected_at("account.one_time_prekey_privates"))?;
        rng.finish_exact(&vec![32; n])
            .map_err(|e| CaseError::check_failed("account.one_time_prekey_privates", e))?;
        let draws = a
            .kem_one_time_prekey_seeds
            .iter()
            .enumerate()
            .map(|(i, k)| draw(&format!("account.kem_one_time_prekey_seeds[{i}]"), k, 64))
            .collect::<Result<Vec<_>, _>>()?;
        let mut rng = ReplayRng::new(draws);
        bob.generate_kem_one_time_prekeys(&mut rng, m)
            .map_err(rejected_at("account.kem_one_time_prekey_seeds"))?;
        rng.finish_exact(&vec![64; m])
            .map_err(|e| CaseError::check_failed("account.kem_one_time_prekey_seeds", e))?;
        let api_upload = bob.unpublished_prekeys().map_err(rejected_at("upload"))?;

        // The same from provider calls (spec §7.1, §7.2, §7.11).
        let seed = Secret::from_bytes(fixed::<32>(
            "account.signing_seed",
            a.signing_seed.as_slice(),
        )?);
        let signing_key = p.ed25519_public_key(&seed);
        let agreement_key = p.x25519_public_key(&Secret::from_bytes(fixed::<32>(
            "account.agreement_private",
            a.agreement_private.as_slice(),
        )?));
        let binding = labeled_sign(
            p,
            &seed,
            labels::IDENTITY_BINDING,
            &[&signing_key, &agreement_key],
        )
        .map_err(rejected_at("identity"))?;
        let identity = [&signing_key[..], &agreement_key, &binding].concat();
        let spk = p.x25519_public_key(&Secret::from_bytes(fixed::<32>(
            "account.signed_prekey_private",
            a.signed_prekey_private.as_slice(),
        )?));
        let signed_prekey = signed(p, &seed, PrekeyKind::SignedX25519, 1, &spk)?;
        let kem_key = |field: &str, b: &Bytes| -> Result<Vec<u8>, CaseError> {
            let s = Secret::from_bytes(fixed::<64>(field, b.as_slice())?);
            Ok(p.ml_kem_768_generate(&s).encapsulation_key.to_vec())
        };
        let pqspk = kem_key("account.kem_last_resort_seed", &a.kem_last_resort_seed)?;
        let kem_last_resort = signed(p, &seed, PrekeyKind::KemLastResort, 2, &pqspk)?;
        let mut entries = Vec::new();
        let mut next_id = 3u32;
        for (i, k) in a.one_time_prekey_privates.iter().enumerate() {
            let f = format!("account.one_time_prekey_privates[{i}]");
            let key = p.x25519_public_key(&Secret::from_bytes(fixed::<32>(&f, k.as_slice())?));
            entries.push(Published {
                kind: PrekeyKind::OneTimeX25519 as u8,
                id: next_id,
                public_key: key.to_vec().into(),
                signed_data: None,
                signature: None,
            });
            next_id += 1;
        }
        for (i, k) in a.kem_one_time_prekey_seeds.iter().enumerate() {
            let key = kem_key(&format!("account.kem_one_time_prekey_seeds[{i}]"), k)?;
            entries.push(signed(p, &seed, PrekeyKind::KemOneTime, next_id, &key)?);
            next_id += 1;
        }
        let mut upload = vec![VERSION, TYPE_UPLOAD];
        upload.extend_from_slice(&identity);
        if long_term_published_first {
            upload.push(0);
        } else {
            upload.push(1);
            put_signed(&mut upload, &signed_prekey);
            put_signed(&mut upload, &kem_last_resort);
        }
        upload.extend_from_slice(&(entries.len() as u16).to_be_bytes());
        for e in &entries {
            upload.push(e.kind);
            put_signed(&mut upload, e);
        }
        if api_upload.to_bytes() != upload {
            return Err(CaseError::check_failed(
                "upload",
                "Account::unpublished_prekeys and the recomputation from provider calls disagree",
            ));
        }
        // What the server does: parse, verify, store; assemble bundles.
        let parsed = PrekeyUpload::parse(&upload).map_err(rejected_at("upload"))?;
        parsed.verify(p).map_err(rejected_at("upload"))?;
        if parsed.to_bytes() != upload {
            return Err(CaseError::check_failed("upload", "re-encoding differs"));
        }
        // The server's store: the long-term part (from this upload, or the
        // earlier one that published it) and the upload's one-time prekeys.
        let sig = |k: &Published, f: &str| -> Result<[u8; 64], CaseError> {
            fixed::<64>(f, k.signature.as_ref().map_or(&[][..], |s| s.as_slice()))
        };
        let long_term = LongTermPrekeys {
            signed_prekey_id: signed_prekey.id,
            signed_prekey: fixed::<32>("signed_prekey", signed_prekey.public_key.as_slice())?,
            signed_prekey_signature: sig(&signed_prekey, "signed_prekey")?,
            kem_last_resort_id: kem_last_resort.id,
            kem_last_resort: Box::new(fixed::<1184>(
                "kem_last_resort",
                kem_last_resort.public_key.as_slice(),
            )?),
            kem_last_resort_signature: sig(&kem_last_resort, "kem_last_resort")?,
        };
        if let Some(l) = &parsed.long_term {
            if *l != long_term {
                return Err(CaseError::check_failed("upload", "long-term part differs"));
            }
        }
        let stored = PrekeyUpload {
            long_term: Some(long_term),
            ..parsed.clone()
        };
        let opks = parsed.one_time_prekey_ids();
        let pqopks = parsed.kem_one_time_prekey_ids();
        let mut bundles = Vec::new();
        for i in 0..=opks.len().max(pqopks.len()) {
            let (o, q) = (opks.get(i).copied(), pqopks.get(i).copied());
            let assembled = stored.bundle(o, q).map_err(rejected_at("bundles"))?;
            let bytes = assembled.to_bytes();
            let from_account = bob.bundle(o, q).map_err(rejected_at("bundles"))?;
            if from_account.to_bytes() != bytes {
                return Err(CaseError::check_failed(
                    &format!("bundles[{i}]"),
                    "the assembled bundle differs from Account::bundle",
                ));
            }
            let back = PrekeyBundle::parse(&bytes).map_err(rejected_at("bundles"))?;
            back.verify(p).map_err(rejected_at("bundles"))?;
            bundles.push(HandedOut {
                one_time_prekey_id: o,
                kem_prekey_kind: assembled.kem_prekey_kind as u8,
                kem_prekey_id: assembled.kem_prekey_id,
                bundle: bytes.into(),
            });
        }
        // Tracking: once marked, nothing is left to publish.
        bob.mark_prekeys_as_published(&api_upload);
        if bob.has_unpublished_prekeys() {
            return Err(CaseError::check_failed(
                "upload",
                "prekeys remain unpublished after the upload was marked published",
            ));
        }
        Ok(Self {
            description,
            account,
            long_term_published_first,
            identity: identity.into(),
            signed_prekey,
            kem_last_resort,
            entries,
            upload: upload.into(),
            bundles,
        })
    }
}

impl Case for Upload {
    const KIND: &'static str = "prekey_upload";
    fn recompute(&self, p: &dyn CryptoProvider) -> Result<Self, CaseError> {
        Self::compute(
            p,
            self.description.clone(),
            self.account.clone(),
            self.long_term_published_first,
        )
    }
}

/// The error class of a rejected upload (spec §7.11, §4.12.2).
fn error_class(e: &UploadError) -> &'static str {
    match e {
        UploadError::Truncated(_) => "Truncated",
        UploadError::UnsupportedVersion(_) => "UnsupportedVersion",
        UploadError::WrongType(_) => "WrongType",
        UploadError::InvalidFlag(_) => "InvalidFlag",
        UploadError::TooManyEntries => "TooManyEntries",
        UploadError::InvalidKind(_) => "InvalidKind",
        UploadError::DuplicateId(_) => "DuplicateId",
        UploadError::TrailingBytes(_) => "TrailingBytes",
        UploadError::InvalidIdentitySignature => "InvalidIdentitySignature",
        UploadError::InvalidSignedPrekeySignature => "InvalidSignedPrekeySignature",
        UploadError::InvalidKemPrekeySignature(_) => "InvalidKemPrekeySignature",
        _ => "Other",
    }
}

/// An upload the server must reject.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct UploadRejection {
    description: String,
    upload: Bytes,
    error: String,
}

impl UploadRejection {
    fn compute(
        p: &dyn CryptoProvider,
        description: String,
        upload: Bytes,
    ) -> Result<Self, CaseError> {
        let result = PrekeyUpload::parse(upload.as_slice()).and_then(|u| u.verify(p));
        let error = match result {
            Ok(()) => return Err(CaseError::check_failed("upload", "the upload was accepted")),
            Err(e) => error_class(&e).to_owned(),
        };
        Ok(Self {
            description,
            upload,
            error,
        })
    }
}

impl Case for UploadRejection {
    const KIND: &'static str = "upload_rejection";
    fn recompute(&self, p: &dyn CryptoProvider) -> Result<Self, CaseError> {
        Self::compute(p, self.description.clone(), self.upload.clone())
    }
}

fn account_inputs(c: &Inputs<'_>, n: usize, m: usize) -> UploadAccount {
    let b = |name: &str, len: usize| Bytes::from(c.bytes(&format!("account.{name}"), len));
    UploadAccount {
        signing_seed: b("signing_seed", 32),
        agreement_private: b("agreement_private", 32),
        signed_prekey_private: b("signed_prekey_private", 32),
        kem_last_resort_seed: b("kem_last_resort_seed", 64),
        one_time_prekey_privates: (0..n)
            .map(|i| b(&format!("one_time_prekey_privates[{i}]"), 32))
            .collect(),
        kem_one_time_prekey_seeds: (0..m)
            .map(|i| b(&format!("kem_one_time_prekey_seeds[{i}]"), 64))
            .collect(),
    }
}

/// Offsets in the base upload of the rejections (spec §4.12.1).
const BINDING: usize = 66;
const FLAG: usize = 130;
const SPK_ID: usize = 131;
const SPK_SIG: usize = 167;
const PQSPK_ID: usize = 231;
const PQSPK_SIG: usize = 1419;
const COUNT: usize = 1483;
const ENTRY0: usize = 1485;
const ENTRY1: usize = 1522;
const ENTRY2: usize = 1559;
const ENTRY2_SIG: usize = 2748;

/// The order of the Ed25519 group, little-endian.
const ED25519_L: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

/// `S + L` for the little-endian scalar at `at` (a non-canonical `S`, §3.3).
fn add_l(b: &mut [u8], at: usize) {
    let mut carry = 0u16;
    for (i, l) in ED25519_L.iter().enumerate() {
        let sum = u16::from(b[at + i]) + u16::from(*l) + carry;
        b[at + i] = sum as u8;
        carry = sum >> 8;
    }
}

fn flip(b: &mut [u8], at: usize) {
    b[at] ^= 1;
}

fn set_u32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_be_bytes());
}

fn set_u16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_be_bytes());
}

fn rejections(g: &mut FileGen<'_>, base: &[u8]) -> Result<(), CaseError> {
    if base.len() != ENTRY2_SIG + 64 {
        return Err(CaseError::check_failed(
            "upload",
            "unexpected base upload length",
        ));
    }
    let with = |f: &dyn Fn(&mut Vec<u8>)| {
        let mut b = base.to_vec();
        f(&mut b);
        b
    };
    // 1,001 one-time X25519 entries after the identity, without a long-term part.
    let many = {
        let mut b = base[..FLAG].to_vec();
        b.push(0);
        b.extend_from_slice(&1001u16.to_be_bytes());
        for id in 3..1003u32 {
            b.push(0x04);
            b.extend_from_slice(&id.to_be_bytes());
            b.extend_from_slice(&[0x09; 32]);
        }
        b.push(0x04);
        b
    };
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("the empty string", Vec::new()),
        ("the last byte removed", base[..base.len() - 1].to_vec()),
        (
            "cut inside the long-term part (200 bytes)",
            base[..200].to_vec(),
        ),
        ("a byte 00 appended", with(&|b| b.push(0))),
        ("version 0x02", with(&|b| b[0] = 2)),
        ("type 0x10 (a bundle)", with(&|b| b[1] = 0x10)),
        ("long-term flag 0x02", with(&|b| b[FLAG] = 2)),
        ("count 1101", with(&|b| set_u16(b, COUNT, 1101))),
        (
            "1,001 one-time X25519 entries: the kind byte of the 1,001st",
            many,
        ),
        ("entry 0 of kind 0x05", with(&|b| b[ENTRY0] = 0x05)),
        (
            "entry 0 of kind 0x02 (a last-resort kind)",
            with(&|b| b[ENTRY0] = 0x02),
        ),
        (
            "entry 1 with the id of entry 0",
            with(&|b| set_u32(b, ENTRY1 + 1, 3)),
        ),
        (
            "entry 0 with the signed prekey's id",
            with(&|b| set_u32(b, ENTRY0 + 1, 1)),
        ),
        (
            "the last-resort prekey with the signed prekey's id",
            with(&|b| set_u32(b, PQSPK_ID, 1)),
        ),
        (
            "lowest bit of byte 66 (the binding) flipped",
            with(&|b| flip(b, BINDING)),
        ),
        (
            "lowest bit of byte 167 (the signed prekey's signature) flipped",
            with(&|b| flip(b, SPK_SIG)),
        ),
        (
            "spk_id set to 99 (the signature covers the id)",
            with(&|b| set_u32(b, SPK_ID, 99)),
        ),
        (
            "lowest bit of byte 1419 (the last-resort prekey's signature) flipped",
            with(&|b| flip(b, PQSPK_SIG)),
        ),
        (
            "lowest bit of byte 2748 (entry 2's signature) flipped",
            with(&|b| flip(b, ENTRY2_SIG)),
        ),
        (
            "entry 2's id set to 99 (the signature covers the id)",
            with(&|b| set_u32(b, ENTRY2 + 1, 99)),
        ),
        (
            "entry 2's signature with S + L, a non-canonical S (§3.3)",
            with(&|b| add_l(b, ENTRY2_SIG + 32)),
        ),
        (
            "version 0x02 and the last byte removed",
            with(&|b| {
                b[0] = 2;
                b.pop();
            }),
        ),
        (
            "type 0x10 and long-term flag 0x02",
            with(&|b| {
                b[1] = 0x10;
                b[FLAG] = 2;
            }),
        ),
        (
            "long-term flag 0x02 and a byte appended",
            with(&|b| {
                b[FLAG] = 2;
                b.push(0);
            }),
        ),
        (
            "count 1101 and the last byte removed",
            with(&|b| {
                set_u16(b, COUNT, 1101);
                b.pop();
            }),
        ),
        (
            "entry 0 of kind 0x05 and the last-resort prekey with the signed prekey's id",
            with(&|b| {
                b[ENTRY0] = 0x05;
                set_u32(b, PQSPK_ID, 1);
            }),
        ),
        (
            "entry 0 of kind 0x05 and entry 1 with the signed prekey's id",
            with(&|b| {
                b[ENTRY0] = 0x05;
                set_u32(b, ENTRY1 + 1, 1);
            }),
        ),
        (
            "entry 1 with the id of entry 0 and a byte appended",
            with(&|b| {
                set_u32(b, ENTRY1 + 1, 3);
                b.push(0);
            }),
        ),
        (
            "a byte appended and the binding flipped",
            with(&|b| {
                b.push(0);
                flip(b, BINDING);
            }),
        ),
        (
            "the binding and the signed prekey's signature flipped",
            with(&|b| {
                flip(b, BINDING);
                flip(b, SPK_SIG);
            }),
        ),
        (
            "the signed prekey's and entry 2's signatures flipped",
            with(&|b| {
                flip(b, SPK_SIG);
                flip(b, ENTRY2_SIG);
            }),
        ),
    ];
    for (description, bytes) in cases {
        g.case(|c| UploadRejection::compute(c.provider(), description.to_owned(), bytes.into()))?;
    }
    Ok(())
}

fn generate(g: &mut FileGen<'_>) -> Result<(), CaseError> {
    let valid: [(&str, usize, usize, bool); 4] = [
        (
            "a new account's first upload: the long-term part, no one-time prekeys",
            0,
            0,
            false,
        ),
        (
            "the long-term part, two one-time X25519 prekeys and one one-time ML-KEM-768 prekey",
            2,
            1,
            false,
        ),
        (
            "one-time prekeys only (the long-term part was published first): one X25519, two \
             ML-KEM-768",
            1,
            2,
            true,
        ),
        (
            "three one-time X25519 prekeys only (the long-term part was published first)",
            3,
            0,
            true,
        ),
    ];
    let mut base = Vec::new();
    for (description, n, m, first) in valid {
        g.case(|c| {
            let case = Upload::compute(
                c.provider(),
                description.to_owned(),
                account_inputs(c, n, m),
                first,
            )?;
            if n == 2 && m == 1 {
                base = case.upload.as_slice().to_vec();
            }
            Ok(case)
        })?;
    }
    rejections(g, &base)
}
