//! `ed25519-strict.json`: the strict Ed25519 verification of spec §3.3, rule
//! by rule, on the primitive and inside the protocol's signed objects
//! (identity bindings, prekey signatures, bundles, initial messages); format
//! in spec §4.9.
//!
//! Each `ed25519_verify` case gives a public key, a message, a signature and
//! the result strict verification gives, with the rule of §3.3 that decides
//! it. The inputs are built here from the curve equation (small-order and
//! mixed-order points, non-canonical encodings, signatures satisfying only
//! the cofactored equation); the result is always computed by the library.
//! Many of the invalid cases are accepted by a verifier that skips the
//! small-order checks (OpenSSL's, and others following RFC 8032's lax or
//! cofactored rules); `tools/check_vectors.py` shows which.

use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::{clamp_integer, Scalar};
use curve25519_dalek::traits::{Identity, IsIdentity};
use serde::{Deserialize, Serialize};
use sova::kdf::labeled_sign;
use sova::labels;
use sova::provider::MlKemKeyPair;
use sova::ratchet::HeaderMode;
use sova::session::{Account, PrekeyKind, Session};
use sova::{CryptoError, CryptoProvider, Secret};

use super::handshake::{rejected_at, sign_prekey, AccountSecrets};
use super::handshake_negative::{AcceptRejection, StartRejection};
use crate::family::{fixed, Case, CaseError, Family, FileGen, Inputs, Kind};
use crate::replay::ReplayRng;
use crate::Bytes;

/// The file name.
pub(crate) const FILE: &str = "ed25519-strict.json";

/// The family of `ed25519-strict.json`.
pub(crate) const FAMILY: Family = Family::new(
    FILE,
    "Strict Ed25519 verification (spec §3.3), rule by rule: non-canonical S, points that do \
     not decode, small-order A and R, mixed-order A and R (accepted when the cofactorless \
     equation holds, rejected when only the cofactored one does), non-canonical R and A; then \
     bundles and initial messages whose identity binding or prekey signature breaks a rule, \
     rejected by Start and Accept. Verifiers that skip the small-order checks (OpenSSL's, \
     RFC 8032's lax or cofactored verification) accept some of the invalid cases (format: \
     spec §4.9).",
    &[
        Kind::of::<Ed25519Verify>(),
        Kind::of::<StartRejection>(),
        Kind::of::<AcceptRejection>(),
    ],
    generate,
);

/// The outcome of strict verification, as the file writes it.
const VALID: &str = "valid";
const INVALID: &str = "InvalidSignature";

/// One call of `Ed25519-VerifyStrict`.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Ed25519Verify {
    description: String,
    rule: u8,
    public_key: Bytes,
    message: Bytes,
    signature: Bytes,
    result: String,
}

impl Ed25519Verify {
    fn compute(
        p: &dyn CryptoProvider,
        description: String,
        rule: u8,
        public_key: Bytes,
        message: Bytes,
        signature: Bytes,
    ) -> Result<Self, CaseError> {
        let a = fixed::<32>("public_key", public_key.as_slice())?;
        let s = fixed::<64>("signature", signature.as_slice())?;
        let result = match p.ed25519_verify(&a, message.as_slice(), &s) {
            Ok(()) => VALID,
            Err(CryptoError::InvalidSignature) => INVALID,
            Err(e) => return Err(CaseError::rejected("signature", e)),
        };
        Ok(Self {
            description,
            rule,
            public_key,
            message,
            signature,
            result: result.to_owned(),
        })
    }
}

impl Case for Ed25519Verify {
    const KIND: &'static str = "ed25519_verify";
    fn recompute(&self, p: &dyn CryptoProvider) -> Result<Self, CaseError> {
        Self::compute(
            p,
            self.description.clone(),
            self.rule,
            self.public_key.clone(),
            self.message.clone(),
            self.signature.clone(),
        )
    }
}

// ---------------------------------------------------------------------------
// Curve helpers (inputs only: every result is computed by the provider).

/// `L`, the order of the base point, little-endian.
const L_BYTES: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

/// The canonical encoding of the neutral element (`y = 1`, `x = 0`).
const IDENTITY: [u8; 32] = {
    let mut b = [0u8; 32];
    b[0] = 1;
    b
};

/// `[n]P` for the 256-bit little-endian integer `n` (not reduced mod `L`).
fn mul_int(point: &EdwardsPoint, n: &[u8; 32]) -> EdwardsPoint {
    let mut acc = EdwardsPoint::identity();
    for byte in n.iter().rev() {
        for bit in (0..8).rev() {
            acc = acc + acc;
            if (byte >> bit) & 1 == 1 {
                acc += point;
            }
        }
    }
    acc
}

/// A point of order 8: `[L]P` for the first `P` (with `y = 2, 3, …`) whose
/// small-order component has order 8. Derived from the curve equation by
/// point decompression, not copied from a table.
fn torsion_generator() -> Result<EdwardsPoint, CaseError> {
    for y in 2u8..=255 {
        let mut b = [0u8; 32];
        b[0] = y;
        if let Some(p) = CompressedEdwardsY(b).decompress() {
            let t = mul_int(&p, &L_BYTES);
            if !t.mul_by_cofactor().is_identity() || t.is_identity() {
                continue;
            }
            let t4 = mul_int(&t, &{
                let mut four = [0u8; 32];
                four[0] = 4;
                four
            });
            if !t4.is_identity() {
                return Ok(t);
            }
        }
    }
    Err(CaseError::malformed("", "no point of order 8 found"))
}

/// The eight small-order points `[i]T`, `i = 0..8`.
fn small_order_points() -> Result<Vec<EdwardsPoint>, CaseError> {
    let t = torsion_generator()?;
    let mut points = vec![EdwardsPoint::identity()];
    for _ in 1..8 {
        if let Some(last) = points.last() {
            let next = last + t;
            points.push(next);
        }
    }
    Ok(points)
}

/// Order of a small-order point (1, 2, 4 or 8).
fn small_order(p: &EdwardsPoint) -> u8 {
    let mut q = *p;
    let mut n = 1u8;
    while !q.is_identity() && n < 8 {
        q = q + q;
        n *= 2;
    }
    n
}

/// The encoding whose 255-bit `y` field is `p + y0`, with sign bit `sign`.
fn y_plus_p(y0: u8, sign: u8) -> [u8; 32] {
    let mut b = [0xffu8; 32];
    b[0] = 0xed + y0;
    b[31] = 0x7f | (sign << 7);
    b
}

/// Little-endian `a + b`, or `None` when it does not fit in 256 bits.
fn add_int(a: &[u8; 32], b: &[u8; 32]) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    let mut carry = 0u16;
    for i in 0..32 {
        let s = u16::from(a[i]) + u16::from(b[i]) + carry;
        out[i] = (s & 0xff) as u8;
        carry = s >> 8;
    }
    (carry == 0).then_some(out)
}

/// The secret scalar and nonce prefix of an Ed25519 seed (RFC 8032 §5.1.5).
fn expand(p: &dyn CryptoProvider, seed: &[u8; 32]) -> (Scalar, [u8; 32]) {
    let h = p.sha512(&[seed]);
    let mut lo = [0u8; 32];
    let mut hi = [0u8; 32];
    lo.copy_from_slice(&h[..32]);
    hi.copy_from_slice(&h[32..]);
    (Scalar::from_bytes_mod_order(clamp_integer(lo)), hi)
}

/// `k = SHA-512(R || A || M) mod L`.
fn challenge(p: &dyn CryptoProvider, r: &[u8; 32], a: &[u8; 32], m: &[u8]) -> Scalar {
    Scalar::from_bytes_mod_order_wide(&p.sha512(&[r, a, m]))
}

fn signature(r: &[u8; 32], s: &[u8; 32]) -> [u8; 64] {
    let mut sig = [0u8; 64];
    sig[..32].copy_from_slice(r);
    sig[32..].copy_from_slice(s);
    sig
}

/// A signature by the scalar `a` (public key `a_bytes`) with nonce point
/// `R = [r]B + torsion` encoded as `r_bytes` (or canonically when `None`):
/// `S = r + k·a`, so `[S]B − [k]A = [r]B` when `A = [a]B`.
fn sign_with_nonce(
    p: &dyn CryptoProvider,
    a: &Scalar,
    a_bytes: &[u8; 32],
    r: &Scalar,
    torsion: &EdwardsPoint,
    r_bytes: Option<[u8; 32]>,
    m: &[u8],
) -> [u8; 64] {
    let point = EdwardsPoint::mul_base(r) + torsion;
    let rb = r_bytes.unwrap_or_else(|| point.compress().to_bytes());
    let k = challenge(p, &rb, a_bytes, m);
    signature(&rb, &(r + k * a).to_bytes())
}

// ---------------------------------------------------------------------------
// A provider that signs the way an attacker (or a careless signer) would, to
// build the protocol cases through the library's own API.

#[derive(Clone, Copy, PartialEq, Eq)]
enum Forge {
    /// The public key is the neutral element; every signature is
    /// `R = neutral element, S = 0` (needs no secret).
    SmallOrderKey,
    /// A genuine key; `R` is the neutral element and `S = k·a`, which
    /// satisfies the cofactorless equation.
    SmallOrderR,
    /// A genuine key; `R = [r]B + T8`, `S = r + k·a`: only the cofactored
    /// equation holds.
    MixedOrderR,
    /// A genuine signature with `L` added to `S`.
    UnreducedS,
}

struct Forging<'a> {
    inner: &'a dyn CryptoProvider,
    forge: Forge,
    t8: EdwardsPoint,
}

impl CryptoProvider for Forging<'_> {
    fn name(&self) -> &'static str {
        "forging"
    }
    fn sha256(&self, parts: &[&[u8]]) -> [u8; 32] {
        self.inner.sha256(parts)
    }
    fn sha512(&self, parts: &[&[u8]]) -> [u8; 64] {
        self.inner.sha512(parts)
    }
    fn hmac_sha256(&self, key: &[u8], parts: &[&[u8]]) -> Secret<32> {
        self.inner.hmac_sha256(key, parts)
    }
    fn hkdf_extract(&self, salt: &[u8], ikm_parts: &[&[u8]]) -> Secret<32> {
        self.inner.hkdf_extract(salt, ikm_parts)
    }
    fn hkdf_expand(
        &self,
        prk: &Secret<32>,
        info_parts: &[&[u8]],
        okm: &mut [u8],
    ) -> Result<(), CryptoError> {
        self.inner.hkdf_expand(prk, info_parts, okm)
    }
    fn aead_seal(&self, key: &Secret<32>, nonce: &[u8; 12], aad: &[u8], io: &mut [u8]) -> [u8; 16] {
        self.inner.aead_seal(key, nonce, aad, io)
    }
    fn aead_open(
        &self,
        key: &Secret<32>,
        nonce: &[u8; 12],
        aad: &[u8],
        io: &mut [u8],
        tag: &[u8; 16],
    ) -> Result<(), CryptoError> {
        self.inner.aead_open(key, nonce, aad, io, tag)
    }
    fn x25519_public_key(&self, private_key: &Secret<32>) -> [u8; 32] {
        self.inner.x25519_public_key(private_key)
    }
    fn x25519(
        &self,
        private_key: &Secret<32>,
        public_key: &[u8; 32],
    ) -> Result<Secret<32>, CryptoError> {
        self.inner.x25519(private_key, public_key)
    }
    fn ed25519_public_key(&self, seed: &Secret<32>) -> [u8; 32] {
        match self.forge {
            Forge::SmallOrderKey => IDENTITY,
            _ => self.inner.ed25519_public_key(seed),
        }
    }
    fn ed25519_sign(&self, seed: &Secret<32>, message: &[u8]) -> [u8; 64] {
        let p = self.inner;
        let (a, prefix) = expand(p, seed.expose());
        let a_bytes = EdwardsPoint::mul_base(&a).compress().to_bytes();
        match self.forge {
            Forge::SmallOrderKey => signature(&IDENTITY, &[0; 32]),
            Forge::SmallOrderR => {
                let k = challenge(p, &IDENTITY, &a_bytes, message);
                signature(&IDENTITY, &(k * a).to_bytes())
            }
            Forge::MixedOrderR => {
                let r = Scalar::from_bytes_mod_order_wide(&p.sha512(&[&prefix, message]));
                sign_with_nonce(p, &a, &a_bytes, &r, &self.t8, None, message)
            }
            Forge::UnreducedS => {
                let sig = p.ed25519_sign(seed, message);
                let mut s = [0u8; 32];
                s.copy_from_slice(&sig[32..]);
                let mut r = [0u8; 32];
                r.copy_from_slice(&sig[..32]);
                signature(&r, &add_int(&s, &L_BYTES).unwrap_or(s))
            }
        }
    }
    fn ed25519_verify(
        &self,
        public_key: &[u8; 32],
        message: &[u8],
        signature: &[u8; 64],
    ) -> Result<(), CryptoError> {
        self.inner.ed25519_verify(public_key, message, signature)
    }
    fn ml_kem_768_generate(&self, seed: &Secret<64>) -> MlKemKeyPair {
        self.inner.ml_kem_768_generate(seed)
    }
    fn ml_kem_768_encapsulate(
        &self,
        encapsulation_key: &[u8; 1184],
        randomness: &Secret<32>,
    ) -> Result<([u8; 1088], Secret<32>), CryptoError> {
        self.inner
            .ml_kem_768_encapsulate(encapsulation_key, randomness)
    }
    fn ml_kem_768_decapsulate(&self, dk: &Secret<2400>, ciphertext: &[u8; 1088]) -> Secret<32> {
        self.inner.ml_kem_768_decapsulate(dk, ciphertext)
    }
}

// ---------------------------------------------------------------------------
// The primitive cases.

/// What a case is built to show; the generator refuses a construction the
/// library does not judge as intended.
struct Want {
    description: String,
    rule: u8,
    valid: bool,
}

fn want(description: impl Into<String>, rule: u8, valid: bool) -> Want {
    Want {
        description: description.into(),
        rule,
        valid,
    }
}

fn verify_case(
    c: &Inputs<'_>,
    w: Want,
    public_key: [u8; 32],
    message: Vec<u8>,
    sig: [u8; 64],
) -> Result<Ed25519Verify, CaseError> {
    let case = Ed25519Verify::compute(
        c.provider(),
        w.description,
        w.rule,
        public_key.to_vec().into(),
        message.into(),
        sig.to_vec().into(),
    )?;
    if (case.result == VALID) != w.valid {
        return Err(CaseError::check_failed(
            "result",
            format!(
                "the construction is wrong: the library says {} for {:?}",
                case.result, case.description
            ),
        ));
    }
    Ok(case)
}

/// The first candidate message `Input(file, case, "message#j", 32)` whose
/// challenge `k` (under `r_bytes`, `a_bytes`) satisfies `k mod 8 == residue`.
fn message_with(
    c: &Inputs<'_>,
    r_bytes: &[u8; 32],
    a_bytes: &[u8; 32],
    residue: u8,
) -> Result<Vec<u8>, CaseError> {
    for j in 0..256 {
        let m = c.bytes(&format!("message#{j}"), 32);
        let k = challenge(c.provider(), r_bytes, a_bytes, &m);
        if k.to_bytes()[0] & 7 == residue {
            return Ok(m);
        }
    }
    Err(CaseError::malformed("message", "no candidate message fits"))
}

/// A pseudorandom key pair of the case: `(a, A_bytes)`.
fn key(c: &Inputs<'_>) -> (Scalar, [u8; 32]) {
    let seed = c.array::<32>("seed");
    let (a, _) = expand(c.provider(), &seed);
    (a, EdwardsPoint::mul_base(&a).compress().to_bytes())
}

fn nonce(c: &Inputs<'_>) -> Scalar {
    Scalar::from_bytes_mod_order_wide(&c.array::<64>("nonce"))
}

fn primitive_cases(g: &mut FileGen<'_>) -> Result<(), CaseError> {
    let small = small_order_points()?;
    let t8 = small[1];
    let zero = EdwardsPoint::identity();

    // A genuine signature (the baseline), then S made non-canonical (rule 1).
    g.case(|c| {
        let seed = Secret::from_bytes(c.array::<32>("seed"));
        let m = c.bytes("message", 32);
        let p = c.provider();
        let sig = p.ed25519_sign(&seed, &m);
        let w = want("a genuine signature", 4, true);
        verify_case(c, w, p.ed25519_public_key(&seed), m, sig)
    })?;
    // S + n·L for n = 1, the smallest n with bit 253 set, and the largest n
    // that fits in 256 bits (bit 255 set). A verifier that reduces S mod L
    // accepts all three.
    for which in 0..3 {
        g.case(|c| {
            let seed = Secret::from_bytes(c.array::<32>("seed"));
            let m = c.bytes("message", 32);
            let p = c.provider();
            let sig = p.ed25519_sign(&seed, &m);
            let mut r = [0u8; 32];
            r.copy_from_slice(&sig[..32]);
            let mut s = [0u8; 32];
            s.copy_from_slice(&sig[32..]);
            let mut n = 0u32;
            let mut last = s;
            while let Some(next) = add_int(&last, &L_BYTES) {
                n += 1;
                last = next;
                let top = last[31] >> 5;
                if (which == 0 && n == 1) || (which == 1 && top != 0) {
                    break;
                }
            }
            let what = match which {
                0 => "S + L (a non-reduced S below 2^253)".to_owned(),
                1 => format!("S + {n}L: the smallest multiple that sets one of the top three bits"),
                _ => format!("S + {n}L: the largest multiple that fits in 32 bytes (bit 255 set)"),
            };
            let w = want(format!("genuine R, {what}"), 1, false);
            verify_case(c, w, p.ed25519_public_key(&seed), m, signature(&r, &last))
        })?;
    }

    // Rule 2: A, then R, a y with no x on the curve.
    for (field, what) in [(0, "A"), (1, "R")] {
        g.case(|c| {
            let p = c.provider();
            let seed = Secret::from_bytes(c.array::<32>("seed"));
            let m = c.bytes("message", 32);
            let mut sig = p.ed25519_sign(&seed, &m);
            let mut a = p.ed25519_public_key(&seed);
            let mut y = [0u8; 32];
            for v in 2u8..=255 {
                y[0] = v;
                if CompressedEdwardsY(y).decompress().is_none() {
                    break;
                }
            }
            if field == 0 {
                a = y;
            } else {
                sig[..32].copy_from_slice(&y);
            }
            let w = want(
                format!(
                    "{what} = y {} with no x on the curve, otherwise a genuine signature",
                    y[0]
                ),
                2,
                false,
            );
            verify_case(c, w, a, m, sig)
        })?;
    }

    // Rule 3: each small-order A, with R = neutral element and S = 0 and a
    // message whose k is a multiple of 8, so that [S]B − [k]A = R: the
    // cofactorless equation holds and only rule 3 rejects it.
    for (i, t) in small.iter().enumerate() {
        g.case(|c| {
            let a = t.compress().to_bytes();
            let m = message_with(c, &IDENTITY, &a, 0)?;
            let w = want(
                format!(
                    "small-order A ([{i}]T8, order {}), R = neutral element, S = 0, k ≡ 0 mod 8: \
                     the cofactorless equation holds",
                    small_order(t)
                ),
                3,
                false,
            );
            verify_case(c, w, a, m, signature(&IDENTITY, &[0; 32]))
        })?;
    }
    // Rule 3: each small-order R, with a genuine A and S = k·a: the
    // cofactored equation holds, the cofactorless one for R = neutral only.
    for (i, t) in small.iter().enumerate() {
        g.case(|c| {
            let (a, a_bytes) = key(c);
            let m = c.bytes("message", 32);
            let sig = sign_with_nonce(c.provider(), &a, &a_bytes, &Scalar::ZERO, t, None, &m);
            let holds = if t.is_identity() {
                "the cofactorless equation holds"
            } else {
                "only the cofactored equation holds"
            };
            let w = want(
                format!(
                    "small-order R ([{i}]T8, order {}), genuine A, S = k·a: {holds}",
                    small_order(t)
                ),
                3,
                false,
            );
            verify_case(c, w, a_bytes, m, sig)
        })?;
    }

    // Mixed order (rules 3 and 4).
    g.case(|c| {
        let (a, _) = key(c);
        let a_bytes = (EdwardsPoint::mul_base(&a) + t8).compress().to_bytes();
        let r = nonce(c);
        let r_bytes = EdwardsPoint::mul_base(&r).compress().to_bytes();
        let m = message_with(c, &r_bytes, &a_bytes, 0)?;
        let sig = sign_with_nonce(c.provider(), &a, &a_bytes, &r, &zero, None, &m);
        let w = want(
            "mixed-order A = [a]B + T8, k ≡ 0 mod 8, S = r + k·a: the cofactorless equation \
             holds, so it is accepted (rule 3 does not reject mixed order)",
            4,
            true,
        );
        verify_case(c, w, a_bytes, m, sig)
    })?;
    g.case(|c| {
        let (a, _) = key(c);
        let a_bytes = (EdwardsPoint::mul_base(&a) + t8).compress().to_bytes();
        let r = nonce(c);
        // R = [r]B + [j]T8 with j = 1; the equation needs −k·T8 = T8, k ≡ 7 mod 8.
        let r_bytes = (EdwardsPoint::mul_base(&r) + t8).compress().to_bytes();
        let m = message_with(c, &r_bytes, &a_bytes, 7)?;
        let sig = sign_with_nonce(c.provider(), &a, &a_bytes, &r, &t8, None, &m);
        let w = want(
            "mixed-order A = [a]B + T8 and R = [r]B + T8, k ≡ 7 mod 8: the cofactorless \
             equation holds, so it is accepted",
            4,
            true,
        );
        verify_case(c, w, a_bytes, m, sig)
    })?;
    g.case(|c| {
        let (a, _) = key(c);
        let a_bytes = (EdwardsPoint::mul_base(&a) + t8).compress().to_bytes();
        let r = nonce(c);
        let r_bytes = EdwardsPoint::mul_base(&r).compress().to_bytes();
        let m = message_with(c, &r_bytes, &a_bytes, 1)?;
        let sig = sign_with_nonce(c.provider(), &a, &a_bytes, &r, &zero, None, &m);
        let w = want(
            "mixed-order A = [a]B + T8, k ≡ 1 mod 8, S = r + k·a: only the cofactored \
             equation holds",
            4,
            false,
        );
        verify_case(c, w, a_bytes, m, sig)
    })?;
    g.case(|c| {
        let (a, a_bytes) = key(c);
        let m = c.bytes("message", 32);
        let sig = sign_with_nonce(c.provider(), &a, &a_bytes, &nonce(c), &t8, None, &m);
        let w = want(
            "genuine A, mixed-order R = [r]B + T8, S = r + k·a: only the cofactored equation \
             holds",
            4,
            false,
        );
        verify_case(c, w, a_bytes, m, sig)
    })?;

    // Rule 4: non-canonical R. Only small-order points and the mixed-order
    // points of rule 6 have non-canonical encodings, and [S]B − [k]A can be
    // steered only onto the neutral element: S = k·a makes it the neutral
    // element, so R_bytes decodes to exactly that point.
    let non_canonical_identity = [
        ("y = 1 with the sign bit set", {
            let mut b = IDENTITY;
            b[31] |= 0x80;
            b
        }),
        ("y = p + 1", y_plus_p(1, 0)),
        ("y = p + 1 with the sign bit set", y_plus_p(1, 1)),
    ];
    for (what, r_bytes) in non_canonical_identity {
        g.case(|c| {
            let (a, a_bytes) = key(c);
            let m = c.bytes("message", 32);
            let sig = sign_with_nonce(
                c.provider(),
                &a,
                &a_bytes,
                &Scalar::ZERO,
                &zero,
                Some(r_bytes),
                &m,
            );
            let w = want(
                format!(
                    "non-canonical R ({what}) decoding to the neutral element, which is \
                     [S]B − [k]A with S = k·a (k over the bytes received): rejected because \
                     EncodePoint gives 01 00 … 00"
                ),
                4,
                false,
            );
            verify_case(c, w, a_bytes, m, sig)
        })?;
    }
    // A non-canonical mixed-order R: no signature can satisfy the equation
    // with it (its discrete logarithm is unknown); this shows the encoding.
    g.case(|c| {
        let (a, a_bytes) = key(c);
        let m = c.bytes("message", 32);
        let r_bytes = y_plus_p(3, 0);
        let sig = sign_with_nonce(
            c.provider(),
            &a,
            &a_bytes,
            &nonce(c),
            &zero,
            Some(r_bytes),
            &m,
        );
        let w = want(
            "non-canonical mixed-order R (y = p + 3), S = r + k·a for an unrelated r: no \
             signature with this R can satisfy the equation; it shows the encoding only",
            4,
            false,
        );
        verify_case(c, w, a_bytes, m, sig)
    })?;

    // Rule 6: every non-canonical A that decodes. The small-order ones get
    // R = neutral element, S = 0 and k ≡ 0 mod 8 (k over the bytes
    // received), so only rule 3 rejects them; the mixed-order ones are
    // accepted as keys, but nobody can sign for them, so the signature
    // (R = [r]B, S random) fails the equation.
    let mut encodings = Vec::new();
    for y0 in 0u8..19 {
        for sign in 0..2 {
            encodings.push((format!("y = p + {y0}, sign bit {sign}"), y_plus_p(y0, sign)));
        }
    }
    for t in &small {
        let canonical = t.compress().to_bytes();
        let mut flipped = canonical;
        flipped[31] ^= 0x80;
        if small.iter().all(|u| u.compress().to_bytes() != flipped) {
            encodings.push((
                format!(
                    "x = 0 with the sign bit set (y = {})",
                    if canonical[0] == 1 { "1" } else { "p − 1" }
                ),
                flipped,
            ));
        }
    }
    let mut mixed = 0;
    for (what, a_bytes) in encodings {
        let Some(point) = CompressedEdwardsY(a_bytes).decompress() else {
            continue;
        };
        if point.is_small_order() {
            g.case(|c| {
                let m = message_with(c, &IDENTITY, &a_bytes, 0)?;
                let w = want(
                    format!(
                        "non-canonical small-order A ({what}), R = neutral element, S = 0, \
                         k ≡ 0 mod 8 over the bytes received"
                    ),
                    3,
                    false,
                );
                verify_case(c, w, a_bytes, m, signature(&IDENTITY, &[0; 32]))
            })?;
        } else {
            mixed += 1;
            g.case(|c| {
                let m = c.bytes("message", 32);
                let r_bytes = EdwardsPoint::mul_base(&nonce(c)).compress().to_bytes();
                let s = Scalar::from_bytes_mod_order_wide(&c.array::<64>("s")).to_bytes();
                let w = want(
                    format!(
                        "non-canonical mixed-order A ({what}): A decodes and is accepted \
                         (rule 6), but no signature under it is known; this one fails the \
                         equation"
                    ),
                    6,
                    false,
                );
                verify_case(c, w, a_bytes, m, signature(&r_bytes, &s))
            })?;
        }
    }
    if mixed != 20 {
        return Err(CaseError::malformed(
            "public_key",
            format!("rule 6 names 20 non-canonical mixed-order encodings, found {mixed}"),
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// The protocol cases.

fn forging(p: &dyn CryptoProvider, forge: Forge) -> Result<Forging<'_>, CaseError> {
    let small = small_order_points()?;
    Ok(Forging {
        inner: p,
        forge,
        t8: small[1],
    })
}

fn start_case(
    c: &Inputs<'_>,
    description: &str,
    bundle: Vec<u8>,
) -> Result<StartRejection, CaseError> {
    StartRejection::compute(
        c.provider(),
        description.to_owned(),
        AccountSecrets::new(c, "initiator", false, false),
        c.bytes("ephemeral_private", 32).into(),
        c.bytes("m", 32).into(),
        bundle.into(),
    )
}

fn start_cases(g: &mut FileGen<'_>) -> Result<(), CaseError> {
    // A responder whose identity key is the neutral element: every signature
    // of its bundle is R = neutral element, S = 0, which needs no secret.
    g.case(|c| {
        let p = c.provider();
        let forged = forging(p, Forge::SmallOrderKey)?;
        let fresh = |i: usize, n: usize| c.bytes(&format!("responder[{i}]"), n);
        let mut rng = ReplayRng::with_fresh(Vec::new(), Some(&fresh));
        let bob = Account::new_with(&forged, &mut rng).map_err(rejected_at("responder"))?;
        let bundle = bob
            .bundle(None, None)
            .map_err(rejected_at("bundle"))?
            .to_bytes();
        start_case(
            c,
            "identity key = neutral element (small order); binding, SPK and PQPK signatures \
             all R = neutral element, S = 0: a verifier without rule 3 accepts the whole bundle",
            bundle,
        )
    })?;
    type Alter =
        fn(&Forging<'_>, &Secret<32>, &mut sova::session::PrekeyBundle) -> Result<(), CaseError>;
    let altered: &[(&str, Forge, Alter)] = &[
        (
            "SPK signature with R = neutral element (small order), S = k·a: the cofactorless \
             equation holds",
            Forge::SmallOrderR,
            |f, seed, b| {
                b.signed_prekey_signature = sign_prekey(
                    f,
                    seed,
                    PrekeyKind::SignedX25519,
                    b.signed_prekey_id,
                    &b.signed_prekey,
                )?;
                Ok(())
            },
        ),
        (
            "PQPK signature with R = neutral element (small order), S = k·a: the cofactorless \
             equation holds",
            Forge::SmallOrderR,
            |f, seed, b| {
                b.kem_prekey_signature = sign_prekey(
                    f,
                    seed,
                    b.kem_prekey_kind,
                    b.kem_prekey_id,
                    &b.kem_prekey[..],
                )?;
                Ok(())
            },
        ),
        (
            "identity binding with R = neutral element (small order), S = k·a: the \
             cofactorless equation holds",
            Forge::SmallOrderR,
            |f, seed, b| bind(f, seed, b),
        ),
        (
            "identity binding with mixed-order R = [r]B + T8, S = r + k·a: only the cofactored \
             equation holds",
            Forge::MixedOrderR,
            |f, seed, b| bind(f, seed, b),
        ),
        (
            "identity binding with S + L (non-canonical S)",
            Forge::UnreducedS,
            |f, seed, b| bind(f, seed, b),
        ),
    ];
    for (description, forge, alter) in altered {
        g.case(|c| {
            let p = c.provider();
            let secrets = AccountSecrets::new(c, "responder", false, false);
            let bob = secrets.open(p, "responder")?;
            let mut bundle = bob
                .account
                .bundle(None, None)
                .map_err(rejected_at("bundle"))?;
            let f = forging(p, *forge)?;
            alter(&f, &secrets.signing_seed("responder")?, &mut bundle)?;
            start_case(c, description, bundle.to_bytes())
        })?;
    }
    Ok(())
}

fn bind(
    f: &Forging<'_>,
    seed: &Secret<32>,
    b: &mut sova::session::PrekeyBundle,
) -> Result<(), CaseError> {
    b.identity.binding = labeled_sign(
        f,
        seed,
        labels::IDENTITY_BINDING,
        &[&b.identity.signing_key, &b.identity.agreement_key],
    )
    .map_err(|e| CaseError::rejected("bundle", e))?;
    Ok(())
}

fn accept_cases(g: &mut FileGen<'_>) -> Result<(), CaseError> {
    let cases: &[(&str, Forge)] = &[
        (
            "initiator's identity key = neutral element (small order), binding R = neutral \
             element, S = 0: a responder without rule 3 accepts the message and its plaintext",
            Forge::SmallOrderKey,
        ),
        (
            "initiator's identity binding with R = neutral element (small order), S = k·a: \
             the cofactorless equation holds",
            Forge::SmallOrderR,
        ),
    ];
    for (description, forge) in cases {
        g.case(|c| {
            let p = c.provider();
            let secrets = AccountSecrets::new(c, "responder", true, true);
            let bob = secrets.open(p, "responder")?;
            let bundle = bob
                .account
                .bundle(None, None)
                .map_err(rejected_at("bundle"))?
                .to_bytes();
            // The initiator's account and handshake are made through the
            // library, with the forging signer.
            let f = forging(p, *forge)?;
            let tag = "initiators[0]";
            let fresh = |i: usize, n: usize| c.bytes(&format!("{tag}[{i}]"), n);
            let mut rng = ReplayRng::with_fresh(Vec::new(), Some(&fresh));
            let alice = Account::new_with(&f, &mut rng).map_err(rejected_at(tag))?;
            let mut session =
                Session::start_with(&f, &alice, &mut rng, None, &bundle, HeaderMode::Plain)
                    .map_err(|e| CaseError::rejected(tag, e))?;
            let message = session
                .encrypt_with(&f, &mut rng, &c.bytes(&format!("{tag}.plaintext"), 12))
                .map_err(|e| CaseError::rejected(tag, e))?;
            rng.finish().map_err(|e| CaseError::check_failed(tag, e))?;
            AcceptRejection::compute(
                p,
                (*description).to_owned(),
                secrets,
                Vec::new(),
                message.into(),
            )
        })?;
    }
    Ok(())
}

fn generate(g: &mut FileGen<'_>) -> Result<(), CaseError> {
    primitive_cases(g)?;
    start_cases(g)?;
    accept_cases(g)
}
