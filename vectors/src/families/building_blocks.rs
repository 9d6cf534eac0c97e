//! `building-blocks.json`: EncodeLabel and the labelled building blocks
//! (spec §2.4, §3.7; format in spec §4.3).

use serde::{Deserialize, Serialize};
use sova::kdf::{
    encode_label, labeled_expand, labeled_extract, labeled_hash, labeled_mac, labeled_sign,
    labeled_verify, MAX_LABEL_LEN,
};
use sova::provider::{ED25519_KEY_LEN, ED25519_SIG_LEN, HASH_LEN, HKDF_MAX_OUTPUT};
use sova::{CryptoProvider, Secret};

use crate::family::{fixed, Case, CaseError, Family, FileGen, Kind};
use crate::Bytes;

/// The file name.
pub(crate) const FILE: &str = "building-blocks.json";

/// The family of `building-blocks.json`.
pub(crate) const FAMILY: Family = Family::new(
    FILE,
    "EncodeLabel and the labelled building blocks LabeledHash, LabeledMac, LabeledExtract, \
     LabeledExpand and LabeledSign (spec §2.4, §3.7; format: spec §4.3).",
    &[
        Kind::of::<EncodeLabel>(),
        Kind::of::<LabeledHash>(),
        Kind::of::<LabeledMac>(),
        Kind::of::<LabeledExtract>(),
        Kind::of::<LabeledExpand>(),
        Kind::of::<LabeledSign>(),
    ],
    generate,
);

/// The longest label EncodeLabel accepts: 248 letters cycling through the alphabet.
fn max_label() -> String {
    (b'a'..=b'z')
        .cycle()
        .take(MAX_LABEL_LEN)
        .map(char::from)
        .collect()
}

fn generate(g: &mut FileGen<'_>) -> Result<(), CaseError> {
    let max = max_label();
    for label in ["", "a", "root", "ratchet init", max.as_str()] {
        g.case(|_| EncodeLabel::compute(label.to_owned()))?;
    }
    for (label, data) in [
        ("", 0),
        ("test hash", 32),
        ("example", 1),
        (max.as_str(), 1000),
    ] {
        g.case(|c| LabeledHash::compute(c.provider(), label.to_owned(), c.bytes("data", data)))?;
    }
    for (key, label, data) in [
        (32, "", 0),
        (32, "test mac", 64),
        (0, "example", 1),
        (32, max.as_str(), 1000),
    ] {
        g.case(|c| {
            LabeledMac::compute(
                c.provider(),
                c.bytes("key", key),
                label.to_owned(),
                c.bytes("data", data),
            )
        })?;
    }
    for (salt, label, ikm) in [
        (0, "", 32),
        (32, "test extract", 32),
        (32, "example", 0),
        (32, max.as_str(), 96),
    ] {
        g.case(|c| {
            LabeledExtract::compute(
                c.provider(),
                c.bytes("salt", salt),
                label.to_owned(),
                c.bytes("ikm", ikm),
            )
        })?;
    }
    for (label, context, length) in [
        ("", 0, 32),
        ("test expand", 32, 64),
        ("example", 0, 1),
        ("example", 100, 300),
        (max.as_str(), 64, 32),
    ] {
        g.case(|c| {
            LabeledExpand::compute(
                c.provider(),
                c.bytes("prk", HASH_LEN),
                label.to_owned(),
                c.bytes("context", context),
                length,
            )
        })?;
    }
    for (label, message) in [
        ("", 0),
        ("test sign", 64),
        ("example", 1),
        (max.as_str(), 1000),
    ] {
        g.case(|c| {
            LabeledSign::compute(
                c.provider(),
                c.bytes("seed", ED25519_KEY_LEN),
                label.to_owned(),
                c.bytes("message", message),
            )
        })?;
    }
    Ok(())
}

/// Maps a building block's error to a failure of `field`.
fn rejected(field: &'static str) -> impl Fn(sova::CryptoError) -> CaseError {
    move |e| CaseError::rejected(field, e)
}

/// EncodeLabel(label) (spec §2.4).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct EncodeLabel {
    label: String,
    encoded_label: Bytes,
}

impl EncodeLabel {
    fn compute(label: String) -> Result<Self, CaseError> {
        let encoded = encode_label(&label).map_err(rejected("encoded_label"))?;
        Ok(Self {
            label,
            encoded_label: encoded.into(),
        })
    }
}

impl Case for EncodeLabel {
    const KIND: &'static str = "encode_label";
    fn recompute(&self, _p: &dyn CryptoProvider) -> Result<Self, CaseError> {
        Self::compute(self.label.clone())
    }
}

/// LabeledHash(label, data) (spec §3.7).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct LabeledHash {
    label: String,
    data: Bytes,
    digest: Bytes,
}

impl LabeledHash {
    fn compute(p: &dyn CryptoProvider, label: String, data: Vec<u8>) -> Result<Self, CaseError> {
        let digest = labeled_hash(p, &label, &[&data]).map_err(rejected("digest"))?;
        Ok(Self {
            label,
            data: data.into(),
            digest: digest.into(),
        })
    }
}

impl Case for LabeledHash {
    const KIND: &'static str = "labeled_hash";
    fn recompute(&self, p: &dyn CryptoProvider) -> Result<Self, CaseError> {
        Self::compute(p, self.label.clone(), self.data.0.clone())
    }
}

/// LabeledMac(key, label, data) (spec §3.7).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct LabeledMac {
    key: Bytes,
    label: String,
    data: Bytes,
    mac: Bytes,
}

impl LabeledMac {
    fn compute(
        p: &dyn CryptoProvider,
        key: Vec<u8>,
        label: String,
        data: Vec<u8>,
    ) -> Result<Self, CaseError> {
        let mac = labeled_mac(p, &key, &label, &[&data]).map_err(rejected("mac"))?;
        Ok(Self {
            key: key.into(),
            label,
            data: data.into(),
            mac: mac.expose().into(),
        })
    }
}

impl Case for LabeledMac {
    const KIND: &'static str = "labeled_mac";
    fn recompute(&self, p: &dyn CryptoProvider) -> Result<Self, CaseError> {
        Self::compute(
            p,
            self.key.0.clone(),
            self.label.clone(),
            self.data.0.clone(),
        )
    }
}

/// LabeledExtract(salt, label, ikm) (spec §3.7).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct LabeledExtract {
    salt: Bytes,
    label: String,
    ikm: Bytes,
    prk: Bytes,
}

impl LabeledExtract {
    fn compute(
        p: &dyn CryptoProvider,
        salt: Vec<u8>,
        label: String,
        ikm: Vec<u8>,
    ) -> Result<Self, CaseError> {
        let prk = labeled_extract(p, &salt, &label, &[&ikm]).map_err(rejected("prk"))?;
        Ok(Self {
            salt: salt.into(),
            label,
            ikm: ikm.into(),
            prk: prk.expose().into(),
        })
    }
}

impl Case for LabeledExtract {
    const KIND: &'static str = "labeled_extract";
    fn recompute(&self, p: &dyn CryptoProvider) -> Result<Self, CaseError> {
        Self::compute(
            p,
            self.salt.0.clone(),
            self.label.clone(),
            self.ikm.0.clone(),
        )
    }
}

/// LabeledExpand(prk, label, context, length) (spec §3.7), with the HKDF
/// info string `EncodeLabel(label) || u16(length) || context` as an intermediate.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct LabeledExpand {
    prk: Bytes,
    label: String,
    context: Bytes,
    length: u32,
    info: Bytes,
    okm: Bytes,
}

impl LabeledExpand {
    fn compute(
        p: &dyn CryptoProvider,
        prk: Vec<u8>,
        label: String,
        context: Vec<u8>,
        length: u32,
    ) -> Result<Self, CaseError> {
        let key = Secret::from_bytes(fixed::<HASH_LEN>("prk", &prk)?);
        let n = u16::try_from(length)
            .ok()
            .filter(|n| usize::from(*n) <= HKDF_MAX_OUTPUT)
            .ok_or_else(|| {
                CaseError::malformed(
                    "length",
                    format!("{length} is more than HKDF-SHA-256 can output ({HKDF_MAX_OUTPUT})"),
                )
            })?;
        let mut info = encode_label(&label).map_err(rejected("info"))?;
        info.extend_from_slice(&n.to_be_bytes());
        info.extend_from_slice(&context);
        let mut okm = vec![0u8; usize::from(n)];
        labeled_expand(p, &key, &label, &context, &mut okm).map_err(rejected("okm"))?;
        Ok(Self {
            prk: prk.into(),
            label,
            context: context.into(),
            length,
            info: info.into(),
            okm: okm.into(),
        })
    }
}

impl Case for LabeledExpand {
    const KIND: &'static str = "labeled_expand";

    fn recompute(&self, p: &dyn CryptoProvider) -> Result<Self, CaseError> {
        Self::compute(
            p,
            self.prk.0.clone(),
            self.label.clone(),
            self.context.0.clone(),
            self.length,
        )
    }

    fn check(&self, p: &dyn CryptoProvider) -> Result<(), CaseError> {
        // The intermediate must be exactly what HKDF-Expand consumes.
        let key = Secret::from_bytes(fixed::<HASH_LEN>("prk", &self.prk.0)?);
        let mut okm = vec![0u8; self.okm.len()];
        p.hkdf_expand(&key, &[&self.info.0], &mut okm)
            .map_err(rejected("okm"))?;
        if okm != self.okm.0 {
            return Err(CaseError::check_failed(
                "info",
                "HKDF-Expand(prk, info, length) does not give okm",
            ));
        }
        Ok(())
    }
}

/// LabeledSign(seed, label, message) (spec §3.7), with the signed bytes
/// `EncodeLabel(label) || message` as an intermediate.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct LabeledSign {
    seed: Bytes,
    label: String,
    message: Bytes,
    public_key: Bytes,
    signed_message: Bytes,
    signature: Bytes,
}

impl LabeledSign {
    fn compute(
        p: &dyn CryptoProvider,
        seed: Vec<u8>,
        label: String,
        message: Vec<u8>,
    ) -> Result<Self, CaseError> {
        let sk = Secret::from_bytes(fixed::<ED25519_KEY_LEN>("seed", &seed)?);
        let public_key = p.ed25519_public_key(&sk);
        let mut signed = encode_label(&label).map_err(rejected("signed_message"))?;
        signed.extend_from_slice(&message);
        let signature = labeled_sign(p, &sk, &label, &[&message]).map_err(rejected("signature"))?;
        Ok(Self {
            seed: seed.into(),
            label,
            message: message.into(),
            public_key: public_key.into(),
            signed_message: signed.into(),
            signature: signature.into(),
        })
    }
}

impl Case for LabeledSign {
    const KIND: &'static str = "labeled_sign";

    fn recompute(&self, p: &dyn CryptoProvider) -> Result<Self, CaseError> {
        Self::compute(
            p,
            self.seed.0.clone(),
            self.label.clone(),
            self.message.0.clone(),
        )
    }

    fn check(&self, p: &dyn CryptoProvider) -> Result<(), CaseError> {
        let pk = fixed::<ED25519_KEY_LEN>("public_key", &self.public_key.0)?;
        let sig = fixed::<ED25519_SIG_LEN>("signature", &self.signature.0)?;
        labeled_verify(p, &pk, &self.label, &[&self.message.0], &sig)
            .map_err(|e| CaseError::check_failed("signature", format!("LabeledVerify: {e}")))?;
        p.ed25519_verify(&pk, &self.signed_message.0, &sig)
            .map_err(|e| {
                CaseError::check_failed(
                    "signed_message",
                    format!("Ed25519 verification of signed_message: {e}"),
                )
            })
    }
}
