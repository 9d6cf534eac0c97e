//! `primitives.json`: every primitive of SOVA-1 as Sova calls it through the
//! provider (spec §3.2–§3.6; format in spec §4.2).

use serde::{Deserialize, Serialize};
use sova::provider::{
    AEAD_KEY_LEN, AEAD_NONCE_LEN, AEAD_TAG_LEN, ED25519_KEY_LEN, ED25519_SIG_LEN, HASH_LEN,
    HKDF_MAX_OUTPUT, MLKEM_CT_LEN, MLKEM_SEED_LEN, MLKEM_SS_LEN, X25519_LEN,
};
use sova::{CryptoProvider, Secret};

use crate::family::{fixed, Case, CaseError, Family, FileGen, Kind};
use crate::Bytes;

/// The file name.
pub(crate) const FILE: &str = "primitives.json";

/// The family of `primitives.json`.
pub(crate) const FAMILY: Family = Family::new(
    FILE,
    "SOVA-1 primitives as called through the provider: SHA-256, SHA-512, HMAC-SHA-256, \
     HKDF-Extract, HKDF-Expand, ChaCha20-Poly1305, X25519, Ed25519 and ML-KEM-768 \
     (spec §3.2-§3.6; format: spec §4.2).",
    &[
        Kind::of::<Sha256>(),
        Kind::of::<Sha512>(),
        Kind::of::<HmacSha256>(),
        Kind::of::<HkdfExtract>(),
        Kind::of::<HkdfExpand>(),
        Kind::of::<ChaCha20Poly1305>(),
        Kind::of::<X25519>(),
        Kind::of::<Ed25519>(),
        Kind::of::<MlKem768>(),
    ],
    generate,
);

fn generate(g: &mut FileGen<'_>) -> Result<(), CaseError> {
    for len in [0, 1, 55, 56, 64, 1000] {
        g.case(|c| Sha256::compute(c.provider(), c.bytes("message", len)))?;
    }
    for len in [0, 1, 111, 112, 128, 1000] {
        g.case(|c| Sha512::compute(c.provider(), c.bytes("message", len)))?;
    }
    for (key, message) in [(0, 0), (32, 1), (64, 64), (65, 1000), (100, 32)] {
        g.case(|c| {
            HmacSha256::compute(
                c.provider(),
                c.bytes("key", key),
                c.bytes("message", message),
            )
        })?;
    }
    for (salt, ikm) in [(0, 32), (32, 0), (32, 32), (80, 64), (13, 1000)] {
        g.case(|c| HkdfExtract::compute(c.provider(), c.bytes("salt", salt), c.bytes("ikm", ikm)))?;
    }
    for (info, length) in [
        (0, 32),
        (1, 1),
        (64, 42),
        (1000, 100),
        (32, HKDF_MAX_OUTPUT),
        (16, 0),
    ] {
        g.case(|c| {
            HkdfExpand::compute(
                c.provider(),
                c.bytes("prk", HASH_LEN),
                c.bytes("info", info),
                u32::try_from(length).unwrap_or(u32::MAX),
            )
        })?;
    }
    for (aad, plaintext) in [(0, 0), (32, 0), (0, 1), (12, 64), (64, 1000)] {
        g.case(|c| {
            ChaCha20Poly1305::compute(
                c.provider(),
                c.bytes("key", AEAD_KEY_LEN),
                c.bytes("nonce", AEAD_NONCE_LEN),
                c.bytes("aad", aad),
                c.bytes("plaintext", plaintext),
            )
        })?;
    }
    for _ in 0..4 {
        g.case(|c| {
            X25519::compute(
                c.provider(),
                c.bytes("private_key", X25519_LEN),
                c.bytes("peer_private_key", X25519_LEN),
            )
        })?;
    }
    for len in [0, 1, 64, 1000] {
        g.case(|c| {
            Ed25519::compute(
                c.provider(),
                c.bytes("seed", ED25519_KEY_LEN),
                c.bytes("message", len),
            )
        })?;
    }
    for _ in 0..3 {
        g.case(|c| {
            MlKem768::compute(
                c.provider(),
                c.bytes("seed", MLKEM_SEED_LEN),
                c.bytes("m", MLKEM_SS_LEN),
            )
        })?;
    }
    Ok(())
}

/// SHA-256 of `message` (spec §3.5).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Sha256 {
    message: Bytes,
    digest: Bytes,
}

impl Sha256 {
    fn compute(p: &dyn CryptoProvider, message: Vec<u8>) -> Result<Self, CaseError> {
        let digest = p.sha256(&[&message]).into();
        Ok(Self {
            message: message.into(),
            digest,
        })
    }
}

impl Case for Sha256 {
    const KIND: &'static str = "sha256";
    fn recompute(&self, p: &dyn CryptoProvider) -> Result<Self, CaseError> {
        Self::compute(p, self.message.0.clone())
    }
}

/// SHA-512 of `message` (spec §3.5).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Sha512 {
    message: Bytes,
    digest: Bytes,
}

impl Sha512 {
    fn compute(p: &dyn CryptoProvider, message: Vec<u8>) -> Result<Self, CaseError> {
        let digest = p.sha512(&[&message]).into();
        Ok(Self {
            message: message.into(),
            digest,
        })
    }
}

impl Case for Sha512 {
    const KIND: &'static str = "sha512";
    fn recompute(&self, p: &dyn CryptoProvider) -> Result<Self, CaseError> {
        Self::compute(p, self.message.0.clone())
    }
}

/// HMAC-SHA-256 of `message` under `key` (spec §3.5).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct HmacSha256 {
    key: Bytes,
    message: Bytes,
    mac: Bytes,
}

impl HmacSha256 {
    fn compute(p: &dyn CryptoProvider, key: Vec<u8>, message: Vec<u8>) -> Result<Self, CaseError> {
        let mac = p.hmac_sha256(&key, &[&message]).expose().into();
        Ok(Self {
            key: key.into(),
            message: message.into(),
            mac,
        })
    }
}

impl Case for HmacSha256 {
    const KIND: &'static str = "hmac_sha256";
    fn recompute(&self, p: &dyn CryptoProvider) -> Result<Self, CaseError> {
        Self::compute(p, self.key.0.clone(), self.message.0.clone())
    }
}

/// HKDF-Extract(salt, ikm) with SHA-256 (spec §3.5).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct HkdfExtract {
    salt: Bytes,
    ikm: Bytes,
    prk: Bytes,
}

impl HkdfExtract {
    fn compute(p: &dyn CryptoProvider, salt: Vec<u8>, ikm: Vec<u8>) -> Result<Self, CaseError> {
        let prk = p.hkdf_extract(&salt, &[&ikm]).expose().into();
        Ok(Self {
            salt: salt.into(),
            ikm: ikm.into(),
            prk,
        })
    }
}

impl Case for HkdfExtract {
    const KIND: &'static str = "hkdf_extract";
    fn recompute(&self, p: &dyn CryptoProvider) -> Result<Self, CaseError> {
        Self::compute(p, self.salt.0.clone(), self.ikm.0.clone())
    }
}

/// HKDF-Expand(prk, info, length) with SHA-256 (spec §3.5).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct HkdfExpand {
    prk: Bytes,
    info: Bytes,
    length: u32,
    okm: Bytes,
}

impl HkdfExpand {
    fn compute(
        p: &dyn CryptoProvider,
        prk: Vec<u8>,
        info: Vec<u8>,
        length: u32,
    ) -> Result<Self, CaseError> {
        let key = Secret::from_bytes(fixed::<HASH_LEN>("prk", &prk)?);
        let n = usize::try_from(length).unwrap_or(usize::MAX);
        if n > HKDF_MAX_OUTPUT {
            return Err(CaseError::malformed(
                "length",
                format!("{length} is more than HKDF-SHA-256 can output ({HKDF_MAX_OUTPUT})"),
            ));
        }
        let mut okm = vec![0u8; n];
        p.hkdf_expand(&key, &[&info], &mut okm)
            .map_err(|e| CaseError::rejected("okm", e))?;
        Ok(Self {
            prk: prk.into(),
            info: info.into(),
            length,
            okm: okm.into(),
        })
    }
}

impl Case for HkdfExpand {
    const KIND: &'static str = "hkdf_expand";
    fn recompute(&self, p: &dyn CryptoProvider) -> Result<Self, CaseError> {
        Self::compute(p, self.prk.0.clone(), self.info.0.clone(), self.length)
    }
}

/// ChaCha20-Poly1305 sealing (spec §3.4): the ciphertext has the length of
/// the plaintext; the 16-byte tag is a separate field.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChaCha20Poly1305 {
    key: Bytes,
    nonce: Bytes,
    aad: Bytes,
    plaintext: Bytes,
    ciphertext: Bytes,
    tag: Bytes,
}

impl ChaCha20Poly1305 {
    fn compute(
        p: &dyn CryptoProvider,
        key: Vec<u8>,
        nonce: Vec<u8>,
        aad: Vec<u8>,
        plaintext: Vec<u8>,
    ) -> Result<Self, CaseError> {
        let k = Secret::from_bytes(fixed::<AEAD_KEY_LEN>("key", &key)?);
        let n = fixed::<AEAD_NONCE_LEN>("nonce", &nonce)?;
        let mut ciphertext = plaintext.clone();
        let tag = p.aead_seal(&k, &n, &aad, &mut ciphertext);
        Ok(Self {
            key: key.into(),
            nonce: nonce.into(),
            aad: aad.into(),
            plaintext: plaintext.into(),
            ciphertext: ciphertext.into(),
            tag: tag.into(),
        })
    }
}

impl Case for ChaCha20Poly1305 {
    const KIND: &'static str = "chacha20_poly1305";

    fn recompute(&self, p: &dyn CryptoProvider) -> Result<Self, CaseError> {
        Self::compute(
            p,
            self.key.0.clone(),
            self.nonce.0.clone(),
            self.aad.0.clone(),
            self.plaintext.0.clone(),
        )
    }

    fn check(&self, p: &dyn CryptoProvider) -> Result<(), CaseError> {
        let k = Secret::from_bytes(fixed::<AEAD_KEY_LEN>("key", &self.key.0)?);
        let n = fixed::<AEAD_NONCE_LEN>("nonce", &self.nonce.0)?;
        let mut tag = fixed::<AEAD_TAG_LEN>("tag", &self.tag.0)?;
        let mut buf = self.ciphertext.0.clone();
        p.aead_open(&k, &n, &self.aad.0, &mut buf, &tag)
            .map_err(|e| CaseError::check_failed("tag", format!("opening the ciphertext: {e}")))?;
        if buf != self.plaintext.0 {
            return Err(CaseError::check_failed(
                "ciphertext",
                "opening the ciphertext did not give the plaintext",
            ));
        }
        tag[0] ^= 1;
        let mut buf = self.ciphertext.0.clone();
        if p.aead_open(&k, &n, &self.aad.0, &mut buf, &tag).is_ok() {
            return Err(CaseError::check_failed(
                "tag",
                "a tag with its lowest bit flipped was accepted",
            ));
        }
        Ok(())
    }
}

/// X25519 (spec §3.2): both public keys and the shared secret of two private keys.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct X25519 {
    private_key: Bytes,
    peer_private_key: Bytes,
    public_key: Bytes,
    peer_public_key: Bytes,
    shared_secret: Bytes,
}

impl X25519 {
    fn compute(
        p: &dyn CryptoProvider,
        private_key: Vec<u8>,
        peer_private_key: Vec<u8>,
    ) -> Result<Self, CaseError> {
        let sk = Secret::from_bytes(fixed::<X25519_LEN>("private_key", &private_key)?);
        let peer_sk =
            Secret::from_bytes(fixed::<X25519_LEN>("peer_private_key", &peer_private_key)?);
        let public_key = p.x25519_public_key(&sk);
        let peer_public_key = p.x25519_public_key(&peer_sk);
        let shared = p
            .x25519(&sk, &peer_public_key)
            .map_err(|e| CaseError::rejected("shared_secret", e))?;
        Ok(Self {
            private_key: private_key.into(),
            peer_private_key: peer_private_key.into(),
            public_key: public_key.into(),
            peer_public_key: peer_public_key.into(),
            shared_secret: shared.expose().into(),
        })
    }
}

impl Case for X25519 {
    const KIND: &'static str = "x25519";

    fn recompute(&self, p: &dyn CryptoProvider) -> Result<Self, CaseError> {
        Self::compute(
            p,
            self.private_key.0.clone(),
            self.peer_private_key.0.clone(),
        )
    }

    fn check(&self, p: &dyn CryptoProvider) -> Result<(), CaseError> {
        let peer_sk = Secret::from_bytes(fixed::<X25519_LEN>(
            "peer_private_key",
            &self.peer_private_key.0,
        )?);
        let public_key = fixed::<X25519_LEN>("public_key", &self.public_key.0)?;
        let shared = p
            .x25519(&peer_sk, &public_key)
            .map_err(|e| CaseError::rejected("shared_secret", e))?;
        if shared.expose().as_slice() != self.shared_secret.as_slice() {
            return Err(CaseError::check_failed(
                "shared_secret",
                format!(
                    "X25519(peer_private_key, public_key) gave {}",
                    hex::encode(shared.expose())
                ),
            ));
        }
        Ok(())
    }
}

/// Ed25519 (spec §3.3): the public key of a seed and a signature of `message`.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Ed25519 {
    seed: Bytes,
    message: Bytes,
    public_key: Bytes,
    signature: Bytes,
}

impl Ed25519 {
    fn compute(p: &dyn CryptoProvider, seed: Vec<u8>, message: Vec<u8>) -> Result<Self, CaseError> {
        let sk = Secret::from_bytes(fixed::<ED25519_KEY_LEN>("seed", &seed)?);
        let public_key = p.ed25519_public_key(&sk);
        let signature = p.ed25519_sign(&sk, &message);
        Ok(Self {
            seed: seed.into(),
            message: message.into(),
            public_key: public_key.into(),
            signature: signature.into(),
        })
    }
}

impl Case for Ed25519 {
    const KIND: &'static str = "ed25519";

    fn recompute(&self, p: &dyn CryptoProvider) -> Result<Self, CaseError> {
        Self::compute(p, self.seed.0.clone(), self.message.0.clone())
    }

    fn check(&self, p: &dyn CryptoProvider) -> Result<(), CaseError> {
        let pk = fixed::<ED25519_KEY_LEN>("public_key", &self.public_key.0)?;
        let mut sig = fixed::<ED25519_SIG_LEN>("signature", &self.signature.0)?;
        p.ed25519_verify(&pk, &self.message.0, &sig)
            .map_err(|e| CaseError::check_failed("signature", format!("verifying: {e}")))?;
        sig[0] ^= 1;
        if p.ed25519_verify(&pk, &self.message.0, &sig).is_ok() {
            return Err(CaseError::check_failed(
                "signature",
                "a signature with its lowest bit flipped verified",
            ));
        }
        Ok(())
    }
}

/// ML-KEM-768 (spec §3.6): key generation from `seed` = d || z, encapsulation
/// with the randomness `m`. The 2400-byte decapsulation key is given by its
/// SHA-256 only.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct MlKem768 {
    seed: Bytes,
    m: Bytes,
    encapsulation_key: Bytes,
    decapsulation_key_sha256: Bytes,
    ciphertext: Bytes,
    shared_secret: Bytes,
}

impl MlKem768 {
    fn compute(p: &dyn CryptoProvider, seed: Vec<u8>, m: Vec<u8>) -> Result<Self, CaseError> {
        let s = Secret::from_bytes(fixed::<MLKEM_SEED_LEN>("seed", &seed)?);
        let r = Secret::from_bytes(fixed::<MLKEM_SS_LEN>("m", &m)?);
        let pair = p.ml_kem_768_generate(&s);
        let dk_hash = p.sha256(&[pair.decapsulation_key.expose()]);
        let (ct, ss) = p
            .ml_kem_768_encapsulate(&pair.encapsulation_key, &r)
            .map_err(|e| CaseError::rejected("encapsulation_key", e))?;
        Ok(Self {
            seed: seed.into(),
            m: m.into(),
            encapsulation_key: pair.encapsulation_key.into(),
            decapsulation_key_sha256: dk_hash.into(),
            ciphertext: ct.into(),
            shared_secret: ss.expose().into(),
        })
    }
}

impl Case for MlKem768 {
    const KIND: &'static str = "ml_kem_768";

    fn recompute(&self, p: &dyn CryptoProvider) -> Result<Self, CaseError> {
        Self::compute(p, self.seed.0.clone(), self.m.0.clone())
    }

    fn check(&self, p: &dyn CryptoProvider) -> Result<(), CaseError> {
        let s = Secret::from_bytes(fixed::<MLKEM_SEED_LEN>("seed", &self.seed.0)?);
        let mut ct = fixed::<MLKEM_CT_LEN>("ciphertext", &self.ciphertext.0)?;
        let dk = p.ml_kem_768_generate(&s).decapsulation_key;
        let ss = p.ml_kem_768_decapsulate(&dk, &ct);
        if ss.expose().as_slice() != self.shared_secret.as_slice() {
            return Err(CaseError::check_failed(
                "shared_secret",
                format!(
                    "decapsulating the ciphertext gave {}",
                    hex::encode(ss.expose())
                ),
            ));
        }
        ct[0] ^= 1;
        let rejected = p.ml_kem_768_decapsulate(&dk, &ct);
        if rejected.expose().as_slice() == self.shared_secret.as_slice() {
            return Err(CaseError::check_failed(
                "ciphertext",
                "a ciphertext with its lowest bit flipped decapsulated to the same secret",
            ));
        }
        Ok(())
    }
}
