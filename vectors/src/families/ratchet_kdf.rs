//! `ratchet-kdf.json`: the ratchet's key-derivation steps and padding
//! (spec §5.2, §5.4; format in spec §4.4).

use serde::{Deserialize, Serialize};
use sova::ratchet::kdf::{header_keys, header_nonce, init_keys, kdf_ck, kdf_rk, message_keys};
use sova::ratchet::padding::{pad_into, padded_len, MAX_PLAINTEXT_LEN};
use sova::{CryptoProvider, Secret};

use crate::family::{fixed, Case, CaseError, Family, FileGen, Kind};
use crate::Bytes;

/// The file name.
pub(crate) const FILE: &str = "ratchet-kdf.json";

/// The family of `ratchet-kdf.json`.
pub(crate) const FAMILY: Family = Family::new(
    FILE,
    "Double Ratchet derivations: InitKeys, KDF_RK, KDF_CK, MessageKeys, HeaderKeys and HeaderNonce, \
     a chain of KDF_CK steps, and Padmé padding (spec §5.2, §5.4; format: spec §4.4).",
    &[
        Kind::of::<InitKeys>(),
        Kind::of::<KdfRk>(),
        Kind::of::<KdfCk>(),
        Kind::of::<MessageKeys>(),
        Kind::of::<HeaderNonce>(),
        Kind::of::<Chain>(),
        Kind::of::<Padding>(),
    ],
    generate,
);

fn rejected(field: &'static str) -> impl Fn(sova::CryptoError) -> CaseError {
    move |e| CaseError::rejected(field, e)
}

fn key(field: &str, b: &Bytes) -> Result<Secret<32>, CaseError> {
    Ok(Secret::from_bytes(fixed::<32>(field, b.as_slice())?))
}

fn generate(g: &mut FileGen<'_>) -> Result<(), CaseError> {
    for _ in 0..2 {
        g.case(|c| InitKeys::compute(c.provider(), c.bytes("session_secret", 32).into()))?;
    }
    for _ in 0..3 {
        g.case(|c| {
            KdfRk::compute(
                c.provider(),
                c.bytes("root_key", 32).into(),
                c.bytes("dh_output", 32).into(),
            )
        })?;
    }
    for _ in 0..3 {
        g.case(|c| KdfCk::compute(c.provider(), c.bytes("chain_key", 32).into()))?;
    }
    for _ in 0..2 {
        g.case(|c| {
            MessageKeys::compute(
                c.provider(),
                c.bytes("message_key", 32).into(),
                c.bytes("salt", 16).into(),
            )
        })?;
    }
    for n in [0u32, 1, 4_294_967_294] {
        g.case(|c| {
            HeaderNonce::compute(
                c.provider(),
                c.bytes("header_key", 32).into(),
                n,
                c.bytes("salt", 16).into(),
            )
        })?;
    }
    g.case(|c| Chain::compute(c.provider(), c.bytes("chain_key", 32).into(), 5))?;
    for len in [0usize, 1, 31, 32, 35, 99, 1000, 1024, 4096] {
        g.case(|c| Padding::compute(c.bytes("plaintext", len).into()))?;
    }
    Ok(())
}

/// `InitKeys(SK)` (spec §5.2.1).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct InitKeys {
    session_secret: Bytes,
    root_key: Bytes,
    initiator_header_key: Bytes,
    responder_header_key: Bytes,
}

impl InitKeys {
    fn compute(p: &dyn CryptoProvider, session_secret: Bytes) -> Result<Self, CaseError> {
        let k =
            init_keys(p, &key("session_secret", &session_secret)?).map_err(rejected("root_key"))?;
        Ok(Self {
            session_secret,
            root_key: k.root_key.expose().into(),
            initiator_header_key: k.initiator_header_key.expose().into(),
            responder_header_key: k.responder_header_key.expose().into(),
        })
    }
}

impl Case for InitKeys {
    const KIND: &'static str = "init_keys";
    fn recompute(&self, p: &dyn CryptoProvider) -> Result<Self, CaseError> {
        Self::compute(p, self.session_secret.clone())
    }
}

/// `KDF_RK(RK, dh_out)` (spec §5.2.2), with the extracted PRK as an intermediate.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KdfRk {
    root_key: Bytes,
    dh_output: Bytes,
    prk: Bytes,
    next_root_key: Bytes,
    chain_key: Bytes,
    next_header_key: Bytes,
}

impl KdfRk {
    fn compute(
        p: &dyn CryptoProvider,
        root_key: Bytes,
        dh_output: Bytes,
    ) -> Result<Self, CaseError> {
        let rk = key("root_key", &root_key)?;
        let dh = key("dh_output", &dh_output)?;
        let prk = sova::kdf::labeled_extract(p, rk.expose(), sova::labels::ROOT, &[dh.expose()])
            .map_err(rejected("prk"))?;
        let s = kdf_rk(p, &rk, &dh).map_err(rejected("next_root_key"))?;
        Ok(Self {
            root_key,
            dh_output,
            prk: prk.expose().into(),
            next_root_key: s.root_key.expose().into(),
            chain_key: s.chain_key.expose().into(),
            next_header_key: s.next_header_key.expose().into(),
        })
    }
}

impl Case for KdfRk {
    const KIND: &'static str = "kdf_rk";
    fn recompute(&self, p: &dyn CryptoProvider) -> Result<Self, CaseError> {
        Self::compute(p, self.root_key.clone(), self.dh_output.clone())
    }
}

/// `KDF_CK(CK)` (spec §5.2.3).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KdfCk {
    chain_key: Bytes,
    next_chain_key: Bytes,
    message_key: Bytes,
}

impl KdfCk {
    fn compute(p: &dyn CryptoProvider, chain_key: Bytes) -> Result<Self, CaseError> {
        let (next, mk) =
            kdf_ck(p, &key("chain_key", &chain_key)?).map_err(rejected("next_chain_key"))?;
        Ok(Self {
            chain_key,
            next_chain_key: next.expose().into(),
            message_key: mk.expose().into(),
        })
    }
}

impl Case for KdfCk {
    const KIND: &'static str = "kdf_ck";
    fn recompute(&self, p: &dyn CryptoProvider) -> Result<Self, CaseError> {
        Self::compute(p, self.chain_key.clone())
    }
}

/// `MessageKeys(MK, salt)` (spec §5.2.4).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct MessageKeys {
    message_key: Bytes,
    salt: Bytes,
    aead_key: Bytes,
    aead_nonce: Bytes,
}

impl MessageKeys {
    fn compute(p: &dyn CryptoProvider, message_key: Bytes, salt: Bytes) -> Result<Self, CaseError> {
        let k = message_keys(
            p,
            &key("message_key", &message_key)?,
            &fixed::<16>("salt", salt.as_slice())?,
        )
        .map_err(rejected("aead_key"))?;
        Ok(Self {
            message_key,
            salt,
            aead_key: k.key.expose().into(),
            aead_nonce: k.nonce.into(),
        })
    }
}

impl Case for MessageKeys {
    const KIND: &'static str = "message_keys";
    fn recompute(&self, p: &dyn CryptoProvider) -> Result<Self, CaseError> {
        Self::compute(p, self.message_key.clone(), self.salt.clone())
    }
}

/// `HeaderKeys(HK)` and `HeaderNonce(HNK, n, salt)` (spec §5.2.5).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct HeaderNonce {
    header_key: Bytes,
    n: u32,
    salt: Bytes,
    header_encryption_key: Bytes,
    header_nonce_key: Bytes,
    header_nonce: Bytes,
}

impl HeaderNonce {
    fn compute(
        p: &dyn CryptoProvider,
        header_key: Bytes,
        n: u32,
        salt: Bytes,
    ) -> Result<Self, CaseError> {
        let hks = header_keys(p, &key("header_key", &header_key)?)
            .map_err(rejected("header_encryption_key"))?;
        let nonce = header_nonce(p, &hks.nonce_key, n, &fixed::<16>("salt", salt.as_slice())?)
            .map_err(rejected("header_nonce"))?;
        Ok(Self {
            header_key,
            n,
            salt,
            header_encryption_key: hks.encryption_key.expose().into(),
            header_nonce_key: hks.nonce_key.expose().into(),
            header_nonce: nonce.into(),
        })
    }
}

impl Case for HeaderNonce {
    const KIND: &'static str = "header_keys_and_nonce";
    fn recompute(&self, p: &dyn CryptoProvider) -> Result<Self, CaseError> {
        Self::compute(p, self.header_key.clone(), self.n, self.salt.clone())
    }
}

/// One step of a chain: the chain key before it and the message key it yields.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChainStep {
    n: u32,
    chain_key: Bytes,
    message_key: Bytes,
}

/// `steps` successive `KDF_CK` steps from one chain key (spec §5.2.3).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Chain {
    chain_key: Bytes,
    steps: u32,
    messages: Vec<ChainStep>,
    final_chain_key: Bytes,
}

impl Chain {
    fn compute(p: &dyn CryptoProvider, chain_key: Bytes, steps: u32) -> Result<Self, CaseError> {
        if steps > 1000 {
            return Err(CaseError::malformed("steps", "at most 1000 steps"));
        }
        let mut ck = key("chain_key", &chain_key)?;
        let mut messages = Vec::new();
        for n in 0..steps {
            let (next, mk) = kdf_ck(p, &ck).map_err(rejected("messages"))?;
            messages.push(ChainStep {
                n,
                chain_key: ck.expose().into(),
                message_key: mk.expose().into(),
            });
            ck = next;
        }
        Ok(Self {
            chain_key,
            steps,
            messages,
            final_chain_key: ck.expose().into(),
        })
    }
}

impl Case for Chain {
    const KIND: &'static str = "chain";
    fn recompute(&self, p: &dyn CryptoProvider) -> Result<Self, CaseError> {
        Self::compute(p, self.chain_key.clone(), self.steps)
    }
}

/// `Pad(P)` (spec §5.4).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Padding {
    plaintext: Bytes,
    padded_len: usize,
    padded: Bytes,
}

impl Padding {
    fn compute(plaintext: Bytes) -> Result<Self, CaseError> {
        if plaintext.len() > MAX_PLAINTEXT_LEN {
            return Err(CaseError::malformed(
                "plaintext",
                "longer than MAX_PLAINTEXT_LEN",
            ));
        }
        let mut padded = Vec::new();
        pad_into(plaintext.as_slice(), &mut padded);
        Ok(Self {
            padded_len: padded_len(plaintext.len()),
            plaintext,
            padded: padded.into(),
        })
    }
}

impl Case for Padding {
    const KIND: &'static str = "padding";
    fn recompute(&self, _p: &dyn CryptoProvider) -> Result<Self, CaseError> {
        Self::compute(self.plaintext.clone())
    }
}
