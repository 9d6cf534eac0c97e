//! `sova demo --trace`: the derivations of the handshake (§7.4) and of
//! every ratchet message (§5.2, §5.4, §5.5), printed with the spec's names.
//! The values are recomputed independently and checked against what the
//! library's sessions really produce.

use std::io::Write;

use rand_chacha::rand_core::Rng;
use rand_chacha::ChaCha20Rng;
use sova::kdf::{labeled_expand, labeled_extract};
use sova::labels;
use sova::provider::CryptoProvider;
use sova::ratchet::{self, message, HeaderMode, Trace};
use sova::session::{
    derive_keys, transcript_hash, Account, HandshakeSecrets, PrekeyBundle, Transcript,
};
use sova::{DefaultProvider, Secret};

use super::{check, lib_err, INDENT};
use crate::{hex, hex_short, Failure};

/// Values of the handshake the trace recomputes (spec §7.4).
pub(crate) struct HandshakeView {
    pub(crate) th: [u8; 32],
    pub(crate) sk: Secret<32>,
    pub(crate) spk_private: Secret<32>,
}

/// Recomputes the handshake from the same random draws and prints every
/// value (spec §7.4, §5.2.1); checks `TH` against the session id.
pub(crate) fn trace_handshake(
    out: &mut dyn Write,
    p: &DefaultProvider,
    mut rng: ChaCha20Rng,
    alice: &Account,
    bob: &Account,
    bundle: &PrekeyBundle,
    session_id: &[u8; 32],
) -> Result<HandshakeView, Failure> {
    let fail = |what: &str| Failure::Check(format!("tracing the handshake: {what}"));
    // The private keys come from the accounts' encodings (spec §8.4):
    // magic (14) || version (1) || generation (8) || IK_sig.seed (32)
    // || IK_dh.priv (32) || next_prekey_id (4) || long_term_published (1) || SPK id (4)
    // || SPK private (32) || …
    let a = alice.to_bytes();
    let b = bob.to_bytes();
    let ik_a = a
        .get(55..87)
        .and_then(Secret::<32>::try_from_slice)
        .ok_or_else(|| fail("Alice's account encoding"))?;
    let spk_id = b
        .get(92..96)
        .and_then(|s| <[u8; 4]>::try_from(s).ok())
        .map(u32::from_be_bytes);
    check(
        spk_id == Some(bundle.signed_prekey_id),
        "Bob's signed prekey id",
    )?;
    let spk_private = b
        .get(96..128)
        .and_then(Secret::<32>::try_from_slice)
        .ok_or_else(|| fail("Bob's account encoding"))?;

    // Session::start draws the ephemeral key, then the encapsulation randomness.
    let mut ek = Secret::<32>::zero();
    rng.fill_bytes(ek.expose_mut());
    let mut m = Secret::<32>::zero();
    rng.fill_bytes(m.expose_mut());
    let ek_pub = p.x25519_public_key(&ek);
    let x = |k: &Secret<32>, pk: &[u8; 32]| p.x25519(k, pk).map_err(|e| fail(&e.to_string()));
    let mut dh = vec![
        x(&ik_a, &bundle.signed_prekey)?,
        x(&ek, &bundle.identity.agreement_key)?,
        x(&ek, &bundle.signed_prekey)?,
    ];
    if let Some((_, opk)) = &bundle.one_time_prekey {
        dh.push(x(&ek, opk)?);
    }
    let (ct, ss) = p
        .ml_kem_768_encapsulate(&bundle.kem_prekey, &m)
        .map_err(|e| fail(&e.to_string()))?;
    let alice_public = alice.identity();
    let th = transcript_hash(
        p,
        &Transcript {
            initiator: alice_public,
            responder: &bundle.identity,
            signed_prekey: (bundle.signed_prekey_id, &bundle.signed_prekey),
            one_time_prekey: bundle.one_time_prekey.as_ref().map(|(id, k)| (*id, k)),
            kem_prekey: (
                bundle.kem_prekey_kind,
                bundle.kem_prekey_id,
                &bundle.kem_prekey,
            ),
            ephemeral_key: &ek_pub,
            kem_ciphertext: &ct,
        },
    )
    .map_err(|e| fail(&e.to_string()))?;
    check(&th == session_id, "TH differs from the session id")?;
    let mut ikm: Vec<&[u8]> = dh.iter().map(|d| &d.expose()[..]).collect();
    ikm.push(ss.expose());
    let prk = labeled_extract(p, &th, labels::HANDSHAKE, &ikm).map_err(|e| fail(&e.to_string()))?;
    let mut sk = Secret::<32>::zero();
    labeled_expand(p, &prk, labels::SESSION_SECRET, b"", sk.expose_mut())
        .map_err(|e| fail(&e.to_string()))?;
    let keys = derive_keys(
        p,
        th,
        &HandshakeSecrets {
            dh: dh.clone(),
            kem_shared_secret: ss.clone(),
        },
    )
    .map_err(|e| fail(&e.to_string()))?;
    check(keys.session_secret == sk, "SK differs from the library's")?;
    let init = ratchet::kdf::init_keys(p, &sk).map_err(|e| fail(&e.to_string()))?;

    let i = INDENT;
    writeln!(out, "{i}Handshake, Alice's side (§7.4):")?;
    writeln!(out, "{i}  ek  = {}   (32 random bytes)", hex(ek.expose()))?;
    writeln!(out, "{i}  EK  = X25519(ek, 9) = {}", hex(&ek_pub))?;
    writeln!(out, "{i}  m   = {}   (32 random bytes)", hex(m.expose()))?;
    let names = [
        "DH1 = X25519(IK_dh_A.priv, SPK_B)",
        "DH2 = X25519(ek, IK_dh_B)        ",
        "DH3 = X25519(ek, SPK_B)          ",
        "DH4 = X25519(ek, OPK_B)          ",
    ];
    for (name, d) in names.iter().zip(&dh) {
        writeln!(out, "{i}  {name} = {}", hex(d.expose()))?;
    }
    writeln!(
        out,
        "{i}  (CT, SS) = ML-KEM-768.Encaps(PQPK_B, m): CT = {}",
        hex_short(&ct, 32)
    )?;
    writeln!(
        out,
        "{i}                                      SS = {}",
        hex(ss.expose())
    )?;
    writeln!(
        out,
        "{i}  TH  = LabeledHash(\"handshake transcript\", IdentityPublic_A || IdentityPublic_B || spk_id || SPK_B"
    )?;
    writeln!(
        out,
        "{i}          || opk || kem_kind || kem_id || SHA-256(PQPK_B) || EK || CT) = {}",
        hex(&th)
    )?;
    writeln!(
        out,
        "{i}  PRK = LabeledExtract(TH, \"handshake\", DH1 || DH2 || DH3 || DH4 || SS) = {}",
        hex(prk.expose())
    )?;
    writeln!(
        out,
        "{i}  SK  = LabeledExpand(PRK, \"session secret\", \"\", 32) = {}",
        hex(sk.expose())
    )?;
    writeln!(out, "{i}InitKeys(SK) (§5.2.1):")?;
    writeln!(out, "{i}  RK0 = {}", hex(init.root_key.expose()))?;
    writeln!(
        out,
        "{i}  HKA = {}   (Alice's first header key)",
        hex(init.initiator_header_key.expose())
    )?;
    writeln!(
        out,
        "{i}  HKB = {}   (Bob's first header key)",
        hex(init.responder_header_key.expose())
    )?;
    writeln!(
        out,
        "{i}  Alice's ratchet: AD = TH, DHr = SPK_B = {}",
        hex(&bundle.signed_prekey)
    )?;
    Ok(HandshakeView {
        th,
        sk,
        spk_private,
    })
}

fn key(k: &Option<Secret<32>>) -> String {
    k.as_ref().map_or_else(|| "-".into(), |k| hex(k.expose()))
}

fn print_header_keys(
    out: &mut dyn Write,
    p: &DefaultProvider,
    name: &str,
    hk: &Secret<32>,
    n: u32,
    salt: &[u8; message::SALT_LEN],
    nonce: Option<[u8; 12]>,
) -> Result<(), Failure> {
    let i = INDENT;
    let hks = ratchet::kdf::header_keys(p, hk).map_err(|e| lib_err("header keys")(&e))?;
    writeln!(out, "{i}  HeaderKeys({name} = {}):", hex(hk.expose()))?;
    writeln!(out, "{i}    HEK = {}", hex(hks.encryption_key.expose()))?;
    writeln!(out, "{i}    HNK = {}", hex(hks.nonce_key.expose()))?;
    let computed = ratchet::kdf::header_nonce(p, &hks.nonce_key, n, salt)
        .map_err(|e| lib_err("header nonce")(&e))?;
    if let Some(sent) = nonce {
        check(sent == computed, "the traced header nonce")?;
    }
    writeln!(
        out,
        "{i}  HeaderNonce(HNK, n = {n}, salt) = {}",
        hex(&computed)
    )?;
    Ok(())
}

fn print_padding(out: &mut dyn Write, len: usize, padded: usize) -> Result<(), Failure> {
    writeln!(
        out,
        "{INDENT}  Pad: L = {len}, PaddedLen(L) = {padded}: plaintext || 0x80 || {} zero bytes; body = {} + 16-byte tag",
        padded.saturating_sub(len + 1),
        padded
    )?;
    Ok(())
}

fn header_fields(header: &Option<[u8; message::HEADER_LEN]>) -> (String, u32, u32) {
    match header {
        Some(h) => {
            let d = message::Header::decode(h);
            (hex(&d.ratchet_key), d.previous_chain_len, d.n)
        }
        None => ("-".into(), 0, 0),
    }
}

pub(crate) fn print_encrypt_trace(
    out: &mut dyn Write,
    p: &DefaultProvider,
    mode: HeaderMode,
    root_before: &Secret<32>,
    t: &Trace,
    len: usize,
) -> Result<(), Failure> {
    let i = INDENT;
    let (dh_pub, pn, n) = header_fields(&t.header);
    writeln!(out, "{i}Encrypt (§5.5.2):")?;
    if let Some(private) = &t.ratchet_private {
        writeln!(
            out,
            "{i}  DH ratchet step: DHs.priv = {}   (32 random bytes)",
            hex(private.expose())
        )?;
        writeln!(out, "{i}    DHs.pub = {dh_pub}")?;
        writeln!(
            out,
            "{i}    dh = X25519(DHs.priv, DHr) = {}",
            key(&t.dh_output)
        )?;
        writeln!(
            out,
            "{i}    KDF_RK(RK = {}, dh):",
            hex(root_before.expose())
        )?;
        writeln!(out, "{i}      RK' = {}", key(&t.root_key))?;
        writeln!(out, "{i}      CKs = {}", key(&t.chain_key))?;
        writeln!(
            out,
            "{i}      NHK = {}   (header key of the next sending chain)",
            key(&t.next_header_key)
        )?;
    }
    writeln!(out, "{i}  KDF_CK(CKs = {}):", key(&t.chain_key))?;
    writeln!(out, "{i}    CKs' = {}", key(&t.next_chain_key))?;
    writeln!(out, "{i}    MK   = {}", key(&t.message_key))?;
    let salt = t.salt.unwrap_or_default();
    writeln!(
        out,
        "{i}  salt = {}   (16 random bytes, fresh per message)",
        hex(&salt)
    )?;
    writeln!(
        out,
        "{i}  MessageKeys(MK, salt): key = {}",
        key(&t.aead_key)
    )?;
    writeln!(
        out,
        "{i}                         nonce = {}",
        t.aead_nonce.map_or_else(|| "-".into(), |n| hex(&n))
    )?;
    writeln!(
        out,
        "{i}  header = DHs.pub || u32(PN = {pn}) || u32(Ns = {n}) || salt = {}",
        t.header.map_or_else(|| "-".into(), |h| hex(&h))
    )?;
    if mode == HeaderMode::Encrypted {
        if let Some(hk) = &t.header_key {
            print_header_keys(out, p, "HKs", hk, n, &salt, t.header_nonce)?;
            writeln!(
                out,
                "{i}  enc_header = ChaCha20-Poly1305-Seal(HEK, HeaderNonce, HeaderAD = u16(len(AD)) || AD || version || type, header)"
            )?;
        }
    }
    print_padding(out, len, t.padded_plaintext.len())?;
    writeln!(
        out,
        "{i}  body = ChaCha20-Poly1305-Seal(key, nonce, BodyAD = u16(len(AD)) || AD || prefix, Pad(P))"
    )?;
    Ok(())
}

pub(crate) fn print_decrypt_trace(
    out: &mut dyn Write,
    _p: &DefaultProvider,
    root_before: &Secret<32>,
    t: &Trace,
    len: usize,
) -> Result<(), Failure> {
    let i = INDENT;
    let (dh_pub, pn, n) = header_fields(&t.header);
    writeln!(out, "{i}Decrypt (§5.5.3):")?;
    writeln!(out, "{i}  header: dh = {dh_pub}, pn = {pn}, n = {n}")?;
    if let Some(dh) = &t.dh_output {
        writeln!(
            out,
            "{i}  DH ratchet step: dh = X25519(DHs.priv, header.dh) = {}",
            hex(dh.expose())
        )?;
        writeln!(
            out,
            "{i}    KDF_RK(RK = {}, dh):",
            hex(root_before.expose())
        )?;
        writeln!(out, "{i}      RK' = {}", key(&t.root_key))?;
        writeln!(out, "{i}      CKr = {}", key(&t.chain_key))?;
        writeln!(
            out,
            "{i}      NHK = {}   (header key of the peer's next chain)",
            key(&t.next_header_key)
        )?;
    } else if t.chain_key.is_some() {
        writeln!(
            out,
            "{i}  existing receiving chain, CKr = {}",
            key(&t.chain_key)
        )?;
    } else {
        writeln!(out, "{i}  stored skipped key of message {n}")?;
    }
    for (k, mk) in &t.closed_chain_keys {
        writeln!(
            out,
            "{i}  previous chain closed at pn = {pn}: MK of message {k} = {}   (stored)",
            hex(mk.expose())
        )?;
    }
    for (k, mk) in &t.skipped_keys {
        writeln!(
            out,
            "{i}  skipped: MK of message {k} = {}   (stored)",
            hex(mk.expose())
        )?;
    }
    writeln!(out, "{i}  MK = {}", key(&t.message_key))?;
    writeln!(
        out,
        "{i}  MessageKeys(MK, salt = {}): key = {}",
        t.salt.map_or_else(|| "-".into(), |s| hex(&s)),
        key(&t.aead_key)
    )?;
    writeln!(
        out,
        "{i}    nonce = {}",
        t.aead_nonce.map_or_else(|| "-".into(), |n| hex(&n))
    )?;
    writeln!(
        out,
        "{i}  Open(key, nonce, BodyAD, body): {} padded bytes, unpadded L = {len}",
        t.padded_plaintext.len()
    )?;
    Ok(())
}
