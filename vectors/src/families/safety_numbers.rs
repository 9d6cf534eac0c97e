//! `safety-numbers.json`: safety numbers and the scanning of QR payloads
//! (spec §10; format in spec §10.9).

use serde::{Deserialize, Serialize};
use sova::safety::{
    fingerprint, fingerprint_digits, verify_scanned, SafetyError, SafetyNumber, IDENTITY_LEN,
    QR_PAYLOAD_LEN,
};
use sova::CryptoProvider;

use crate::family::{fixed, Case, CaseError, Family, FileGen, Kind};
use crate::Bytes;

/// The file name.
pub(crate) const FILE: &str = "safety-numbers.json";

/// The family of `safety-numbers.json`.
pub(crate) const FAMILY: Family = Family::new(
    FILE,
    "Safety numbers: each party's iterated SHA-512 fingerprint and its 30 digits, the 60-digit \
     safety number and the QR payload; then scanned QR payloads with the result of checking them \
     (spec §10; format: spec §10.9).",
    &[Kind::of::<Number>(), Kind::of::<Scan>()],
    generate,
);

/// The identities of the worked example of spec §10.8: the Ed25519 public
/// keys of RFC 8032 §7.1 tests 1 and 2 followed by the X25519 public keys of
/// RFC 7748 §6.1 (Alice and Bob).
const EXAMPLE_ALICE: &str = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a\
                             8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a";
const EXAMPLE_BOB: &str = "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c\
                           de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f";

fn example(hex_text: &str) -> Result<Bytes, CaseError> {
    hex::decode(hex_text)
        .map(Bytes::from)
        .map_err(|e| CaseError::malformed("ours", e.to_string()))
}

fn identity(field: &str, b: &Bytes) -> Result<[u8; IDENTITY_LEN], CaseError> {
    fixed::<IDENTITY_LEN>(field, b.as_slice())
}

fn generate(g: &mut FileGen<'_>) -> Result<(), CaseError> {
    let alice = example(EXAMPLE_ALICE)?;
    let bob = example(EXAMPLE_BOB)?;

    // Safety numbers. The worked example, then the same pair seen from the
    // other side (identical outputs).
    g.case(|c| Number::compute(c.provider(), alice.clone(), bob.clone()))?;
    g.case(|c| Number::compute(c.provider(), bob.clone(), alice.clone()))?;
    // A pseudorandom pair.
    g.case(|c| {
        Number::compute(
            c.provider(),
            c.bytes("ours", IDENTITY_LEN).into(),
            c.bytes("theirs", IDENTITY_LEN).into(),
        )
    })?;
    // The same identity twice.
    g.case(|c| {
        let id = c.bytes("ours", IDENTITY_LEN);
        Number::compute(c.provider(), id.clone().into(), id.into())
    })?;
    // Two identities that differ in their last bit only.
    g.case(|c| {
        let ours = c.bytes("ours", IDENTITY_LEN);
        let mut theirs = ours.clone();
        if let Some(last) = theirs.last_mut() {
            *last ^= 0x01;
        }
        Number::compute(c.provider(), ours.into(), theirs.into())
    })?;

    // Scanning, all with the identities of the worked example.
    let mut good = Vec::new();
    g.case(|c| {
        good = SafetyNumber::compute(
            c.provider(),
            &identity("ours", &alice)?,
            &identity("theirs", &bob)?,
        )
        .qr_payload()
        .to_vec();
        Scan::compute(
            c.provider(),
            alice.clone(),
            bob.clone(),
            good.clone().into(),
        )
    })?;
    let with_version = |version: u8| [&[version][..], &good[1..]].concat();
    let mut flipped = good.clone();
    flipped[QR_PAYLOAD_LEN - 1] ^= 0x01;
    let variants: Vec<Vec<u8>> = vec![
        // Scanned from the other side: accepted.
        good.clone(),
        // Wrong lengths: empty, one byte short, one byte too many.
        Vec::new(),
        good[..QR_PAYLOAD_LEN - 1].to_vec(),
        [good.as_slice(), &[0x00]].concat(),
        // Unknown versions, with matching fingerprints.
        with_version(0x00),
        with_version(0x02),
        // One bit of the second fingerprint flipped; the fingerprints swapped.
        flipped,
        [&good[..1], &good[33..], &good[1..33]].concat(),
    ];
    for (i, payload) in variants.into_iter().enumerate() {
        // The first variant is scanned by the other party.
        let (ours, theirs) = if i == 0 {
            (bob.clone(), alice.clone())
        } else {
            (alice.clone(), bob.clone())
        };
        g.case(|c| Scan::compute(c.provider(), ours, theirs, payload.into()))?;
    }
    Ok(())
}

/// `SafetyNumber(ours, theirs)` with each party's fingerprint and digits (spec §10.3–§10.6).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Number {
    ours: Bytes,
    theirs: Bytes,
    fingerprint_ours: Bytes,
    digits_ours: String,
    fingerprint_theirs: Bytes,
    digits_theirs: String,
    safety_number: String,
    qr_payload: Bytes,
}

impl Number {
    fn compute(p: &dyn CryptoProvider, ours: Bytes, theirs: Bytes) -> Result<Self, CaseError> {
        let o = identity("ours", &ours)?;
        let t = identity("theirs", &theirs)?;
        let fp_o = fingerprint(p, &o);
        let fp_t = fingerprint(p, &t);
        let n = SafetyNumber::compute(p, &o, &t);
        Ok(Self {
            ours,
            theirs,
            fingerprint_ours: fp_o.into(),
            digits_ours: fingerprint_digits(&fp_o),
            fingerprint_theirs: fp_t.into(),
            digits_theirs: fingerprint_digits(&fp_t),
            safety_number: n.digits().to_owned(),
            qr_payload: n.qr_payload().into(),
        })
    }
}

impl Case for Number {
    const KIND: &'static str = "safety_number";
    fn recompute(&self, p: &dyn CryptoProvider) -> Result<Self, CaseError> {
        Self::compute(p, self.ours.clone(), self.theirs.clone())
    }
}

/// The result of checking a scanned payload, named as in spec §10.7.
fn result_name(r: Result<(), SafetyError>) -> String {
    match r {
        Ok(()) => "ok",
        Err(SafetyError::Length { .. }) => "QrLength",
        Err(SafetyError::UnknownVersion { .. }) => "QrUnknownVersion",
        Err(SafetyError::Mismatch) => "QrMismatch",
        Err(_) => "Other",
    }
    .to_owned()
}

/// `VerifyScanned(ours, theirs, payload)` (spec §10.7).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Scan {
    ours: Bytes,
    theirs: Bytes,
    payload: Bytes,
    result: String,
}

impl Scan {
    fn compute(
        p: &dyn CryptoProvider,
        ours: Bytes,
        theirs: Bytes,
        payload: Bytes,
    ) -> Result<Self, CaseError> {
        let o = identity("ours", &ours)?;
        let t = identity("theirs", &theirs)?;
        let result = result_name(verify_scanned(p, &o, &t, payload.as_slice()));
        Ok(Self {
            ours,
            theirs,
            payload,
            result,
        })
    }
}

impl Case for Scan {
    const KIND: &'static str = "verify_scanned";
    fn recompute(&self, p: &dyn CryptoProvider) -> Result<Self, CaseError> {
        Self::compute(
            p,
            self.ours.clone(),
            self.theirs.clone(),
            self.payload.clone(),
        )
    }
}
