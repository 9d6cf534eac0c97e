//! `safety-numbers.json`: safety numbers and the scanning of QR payloads
//! (spec §10; format in spec §10.9).

use serde::{Deserialize, Serialize};
use sova::safety::{
    fingerprint, fingerprint_digits, verify_scanned, SafetyError, SafetyNumber, IDENTITY_LEN,
    QR_FINGERPRINT_LEN, QR_PAYLOAD_LEN,
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
     safety number and the directional QR payloads each party displays; then scanned QR payloads \
     with the result of checking them (spec §10; format: spec §10.9).",
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

    // Scanning, with the identities of the worked example (spec §10.9.1).
    // `shown_a` is the code Alice displays, `shown_b` the code Bob displays.
    let (a, b) = (identity("ours", &alice)?, identity("theirs", &bob)?);
    let (mut shown_a, mut shown_b, mut shown_self) = (Vec::new(), Vec::new(), Vec::new());
    // The first case, Bob scanning Alice's code, computes the three codes.
    g.case(|c| {
        let p = c.provider();
        shown_a = SafetyNumber::compute(p, &a, &b).qr_payload().to_vec();
        shown_b = SafetyNumber::compute(p, &b, &a).qr_payload().to_vec();
        shown_self = SafetyNumber::compute(p, &a, &a).qr_payload().to_vec();
        Scan::compute(p, bob.clone(), alice.clone(), shown_a.clone().into())
    })?;
    let half = 1 + QR_FINGERPRINT_LEN;
    let with_version = |payload: &[u8], version: u8| [&[version][..], &payload[1..]].concat();
    let flip = |payload: &[u8], i: usize| {
        let mut v = payload.to_vec();
        v[i] ^= 0x01;
        v
    };
    // (scanner, the identity it holds for the other party, payload).
    let by_bob = |payload: Vec<u8>| (bob.clone(), alice.clone(), payload);
    let by_alice = |payload: Vec<u8>| (alice.clone(), bob.clone(), payload);
    let scans: Vec<(Bytes, Bytes, Vec<u8>)> = vec![
        // Genuine scans, the other direction: ok.
        by_alice(shown_b.clone()),
        // Wrong lengths: empty, one byte short, one byte too many.
        by_bob(Vec::new()),
        by_bob(shown_a[..QR_PAYLOAD_LEN - 1].to_vec()),
        by_bob([shown_a.as_slice(), &[0x00]].concat()),
        // Unknown versions, with matching fingerprints; 0x01 is the former
        // symmetric layout.
        by_bob(with_version(&shown_a, 0x00)),
        by_bob(with_version(&shown_a, 0x01)),
        by_bob(with_version(&shown_a, 0x03)),
        // Own code: each party scans its own screen; Alice's code with its
        // two halves swapped, scanned by Bob (that is Bob's own code).
        by_bob(shown_b.clone()),
        by_alice(shown_a.clone()),
        by_bob([&shown_a[..1], &shown_a[half..], &shown_a[1..half]].concat()),
        // Mismatch: one bit of Alice's code flipped, in the displayer's part
        // and in the last byte.
        by_bob(flip(&shown_a, 1)),
        by_bob(flip(&shown_a, QR_PAYLOAD_LEN - 1)),
        // Check order, several faults at once: a wrong length with an
        // unknown version; Bob's own code with an unknown version; Bob's own
        // code with its last bit flipped (own code and mismatch).
        by_bob([with_version(&shown_a, 0x01).as_slice(), &[0x00]].concat()),
        by_bob(with_version(&shown_b, 0x01)),
        by_bob(flip(&shown_b, QR_PAYLOAD_LEN - 1)),
        // A device verifying itself: ours = theirs.
        (alice.clone(), alice.clone(), shown_self),
    ];
    for (ours, theirs, payload) in scans {
        g.case(|c| Scan::compute(c.provider(), ours, theirs, payload.into()))?;
    }
    Ok(())
}

/// `SafetyNumber(ours, theirs)` with each party's fingerprint and digits, and
/// the QR payloads displayed by `ours` and by `theirs` (spec §10.3–§10.6).
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
    qr_payload_ours: Bytes,
    qr_payload_theirs: Bytes,
}

impl Number {
    fn compute(p: &dyn CryptoProvider, ours: Bytes, theirs: Bytes) -> Result<Self, CaseError> {
        let o = identity("ours", &ours)?;
        let t = identity("theirs", &theirs)?;
        let fp_o = fingerprint(p, &o);
        let fp_t = fingerprint(p, &t);
        let n = SafetyNumber::compute(p, &o, &t);
        let theirs_side = SafetyNumber::compute(p, &t, &o);
        if theirs_side.digits() != n.digits() || theirs_side.qr_payload() != n.expected_scan() {
            return Err(CaseError::check_failed(
                "qr_payload_theirs",
                "the other party's safety number or displayed payload differs",
            ));
        }
        // spec §10.9.3: a party refuses its own code and accepts the other's
        // (unless both identities are the same).
        let other = if o == t {
            Err(SafetyError::OwnCode)
        } else {
            Ok(())
        };
        if n.verify_scanned(&n.qr_payload()) != Err(SafetyError::OwnCode)
            || n.verify_scanned(&n.expected_scan()) != other
        {
            return Err(CaseError::check_failed(
                "qr_payload_ours",
                "a party does not refuse its own code or accept the other's",
            ));
        }
        Ok(Self {
            ours,
            theirs,
            fingerprint_ours: fp_o.into(),
            digits_ours: fingerprint_digits(&fp_o),
            fingerprint_theirs: fp_t.into(),
            digits_theirs: fingerprint_digits(&fp_t),
            safety_number: n.digits().to_owned(),
            qr_payload_ours: n.qr_payload().into(),
            qr_payload_theirs: n.expected_scan().into(),
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
        Err(SafetyError::OwnCode) => "QrOwnCode",
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
