//! `handshake.json`: session establishment from fixed secrets, with every
//! intermediate value (spec §7; format in spec §4.7).
//!
//! Each case runs the real API (`Account`, `Session::start`, the first
//! `encrypt`, `Account::accept`) on an RNG that replays the case's random
//! inputs in the documented order, then recomputes every intermediate with
//! provider calls and the labelled building blocks and checks that both
//! agree: the identities, prekey signatures, bundle and initial message the
//! API produced, and the session id (`TH`) of both sides.

use serde::{Deserialize, Serialize};
use sova::kdf::{labeled_expand, labeled_extract, labeled_hash, labeled_sign};
use sova::labels;
use sova::ratchet::{HeaderMode, Ratchet};
use sova::session::{
    derive_keys, transcript_hash, AcceptError, Account, BundleError, HandshakeSecrets,
    InitialMessageError, PrekeyBundle, PrekeyKind, Session, StartError, Transcript,
};
use sova::{CryptoProvider, Secret};

use super::ratchet_negative;
use super::ratchet_transcripts::mode_name;
use crate::family::{fixed, Case, CaseError, Family, FileGen, Inputs, Kind};
use crate::replay::ReplayRng;
use crate::Bytes;

/// The file name.
pub(crate) const FILE: &str = "handshake.json";

/// The family of `handshake.json`.
pub(crate) const FAMILY: Family = Family::new(
    FILE,
    "Session establishment from fixed secrets: both identities, the prekey signatures, the \
     bundle, DH1..DH4, the ML-KEM-768 encapsulation, the transcript hash TH, the session \
     secret SK, the initial message and the responder's decryption of it; without one-time \
     prekeys, with an X25519 one-time prekey, with a one-time ML-KEM prekey, with both, and \
     with encrypted headers (spec §7; format: spec §4.7).",
    &[Kind::of::<Handshake>()],
    generate,
);

/// The bundle's type byte (spec §7.3).
const TYPE_BUNDLE: u8 = 0x10;
/// The initial message's type byte (spec §7.5).
const TYPE_INITIAL: u8 = 0x03;
/// The protocol version byte.
const VERSION: u8 = 0x01;

/// The random bytes an account is created from, in the order the library
/// draws them (spec §7.1, §7.2): `Account::new` draws the first four, then
/// one X25519 one-time prekey (32 bytes) and one ML-KEM one-time prekey
/// (64 bytes) are generated if given.
#[derive(Serialize, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub(crate) struct AccountSecrets {
    signing_seed: Bytes,
    agreement_private: Bytes,
    signed_prekey_private: Bytes,
    kem_last_resort_seed: Bytes,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    one_time_prekey_private: Option<Bytes>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kem_one_time_prekey_seed: Option<Bytes>,
}

/// An account built through the API, with the ids of its one-time prekeys.
pub(crate) struct Opened {
    pub(crate) account: Account,
    pub(crate) one_time_prekey_id: Option<u32>,
    pub(crate) kem_one_time_prekey_id: Option<u32>,
}

impl AccountSecrets {
    /// Generator inputs for the account at JSON path `at`.
    pub(crate) fn new(c: &Inputs<'_>, at: &str, one_time: bool, kem_one_time: bool) -> Self {
        let b = |name: &str, n: usize| Bytes::from(c.bytes(&format!("{at}.{name}"), n));
        Self {
            signing_seed: b("signing_seed", 32),
            agreement_private: b("agreement_private", 32),
            signed_prekey_private: b("signed_prekey_private", 32),
            kem_last_resort_seed: b("kem_last_resort_seed", 64),
            one_time_prekey_private: one_time.then(|| b("one_time_prekey_private", 32)),
            kem_one_time_prekey_seed: kem_one_time.then(|| b("kem_one_time_prekey_seed", 64)),
        }
    }

    pub(crate) fn signing_seed(&self, at: &str) -> Result<Secret<32>, CaseError> {
        let f = format!("{at}.signing_seed");
        Ok(Secret::from_bytes(fixed::<32>(
            &f,
            self.signing_seed.as_slice(),
        )?))
    }

    fn agreement_private(&self, at: &str) -> Result<Secret<32>, CaseError> {
        let f = format!("{at}.agreement_private");
        Ok(Secret::from_bytes(fixed::<32>(
            &f,
            self.agreement_private.as_slice(),
        )?))
    }

    /// Creates the account through the API, replaying the secrets as the
    /// RNG's output and checking that the library drew exactly them.
    pub(crate) fn open(&self, p: &dyn CryptoProvider, at: &str) -> Result<Opened, CaseError> {
        let draw = |name: &str, b: &Bytes, n: usize| -> Result<Vec<u8>, CaseError> {
            if b.len() == n {
                Ok(b.as_slice().to_vec())
            } else {
                Err(CaseError::malformed(
                    &format!("{at}.{name}"),
                    format!("expected {n} bytes, found {} bytes", b.len()),
                ))
            }
        };
        let mut rng = ReplayRng::new(vec![
            draw("signing_seed", &self.signing_seed, 32)?,
            draw("agreement_private", &self.agreement_private, 32)?,
            draw("signed_prekey_private", &self.signed_prekey_private, 32)?,
            draw("kem_last_resort_seed", &self.kem_last_resort_seed, 64)?,
        ]);
        let mut account = Account::new_with(p, &mut rng).map_err(|e| CaseError::rejected(at, e))?;
        rng.finish_exact(&[32, 32, 32, 64]).map_err(drew(at))?;
        let mut one_time_prekey_id = None;
        if let Some(k) = &self.one_time_prekey_private {
            let field = format!("{at}.one_time_prekey_private");
            let mut rng = ReplayRng::new(vec![draw("one_time_prekey_private", k, 32)?]);
            let ids = account
                .generate_one_time_prekeys(&mut rng, 1)
                .map_err(|e| CaseError::rejected(&field, e))?;
            rng.finish_exact(&[32]).map_err(drew(&field))?;
            one_time_prekey_id = ids.first().copied();
        }
        let mut kem_one_time_prekey_id = None;
        if let Some(k) = &self.kem_one_time_prekey_seed {
            let field = format!("{at}.kem_one_time_prekey_seed");
            let mut rng = ReplayRng::new(vec![draw("kem_one_time_prekey_seed", k, 64)?]);
            let ids = account
                .generate_kem_one_time_prekeys(&mut rng, 1)
                .map_err(|e| CaseError::rejected(&field, e))?;
            rng.finish_exact(&[64]).map_err(drew(&field))?;
            kem_one_time_prekey_id = ids.first().copied();
        }
        Ok(Opened {
            account,
            one_time_prekey_id,
            kem_one_time_prekey_id,
        })
    }

    /// The 128-byte `IdentityPublic` recomputed from the secrets (spec §7.1).
    fn identity_public(&self, p: &dyn CryptoProvider, at: &str) -> Result<Vec<u8>, CaseError> {
        let seed = self.signing_seed(at)?;
        let signing_key = p.ed25519_public_key(&seed);
        let agreement_key = p.x25519_public_key(&self.agreement_private(at)?);
        let binding = labeled_sign(
            p,
            &seed,
            labels::IDENTITY_BINDING,
            &[&signing_key, &agreement_key],
        )
        .map_err(|e| CaseError::rejected(at, e))?;
        Ok([&signing_key[..], &agreement_key, &binding].concat())
    }
}

/// Parses a `header_mode` field.
pub(crate) fn parse_mode(s: &str) -> Result<HeaderMode, CaseError> {
    match s {
        "plain" => Ok(HeaderMode::Plain),
        "encrypted" => Ok(HeaderMode::Encrypted),
        _ => Err(CaseError::malformed(
            "header_mode",
            "expected \"plain\" or \"encrypted\"",
        )),
    }
}

/// A prekey signature, `LabeledSign(IK_sig, "prekey", u8(kind) || u32(id) || key)` (spec §7.2).
pub(crate) fn sign_prekey(
    p: &dyn CryptoProvider,
    seed: &Secret<32>,
    kind: PrekeyKind,
    id: u32,
    key: &[u8],
) -> Result<[u8; 64], CaseError> {
    labeled_sign(
        p,
        seed,
        labels::PREKEY,
        &[&[kind as u8], &id.to_be_bytes(), key],
    )
    .map_err(|e| CaseError::rejected("", e))
}

fn bundle_error_name(e: &BundleError) -> &'static str {
    match e {
        BundleError::Truncated(_) => "Truncated",
        BundleError::UnsupportedVersion(_) => "UnsupportedVersion",
        BundleError::WrongType(_) => "WrongType",
        BundleError::InvalidFlag(_) => "InvalidFlag",
        BundleError::InvalidKemKind(_) => "InvalidKemKind",
        BundleError::TrailingBytes(_) => "TrailingBytes",
        BundleError::InvalidIdentitySignature => "InvalidIdentitySignature",
        BundleError::InvalidSignedPrekeySignature => "InvalidSignedPrekeySignature",
        BundleError::InvalidKemPrekeySignature => "InvalidKemPrekeySignature",
        _ => "Other",
    }
}

/// The error class of a rejected bundle (spec §7.4), as `StartError` names it.
pub(crate) fn start_error_class(e: &StartError) -> String {
    match e {
        StartError::Bundle(b) => format!("Bundle({})", bundle_error_name(b)),
        StartError::InvalidKemPrekey => "InvalidKemPrekey".into(),
        StartError::LowOrderKey => "LowOrderKey".into(),
        StartError::Crypto(_) => "Crypto".into(),
        _ => "Other".into(),
    }
}

/// The error class of a rejected initial message (spec §7.6), as `AcceptError` names it.
pub(crate) fn accept_error_class(e: &AcceptError) -> String {
    match e {
        AcceptError::Malformed(m) => format!(
            "Malformed({})",
            match m {
                InitialMessageError::Truncated(_) => "Truncated",
                InitialMessageError::UnsupportedVersion(_) => "UnsupportedVersion",
                InitialMessageError::WrongType(_) => "WrongType",
                InitialMessageError::InvalidFlag(_) => "InvalidFlag",
                InitialMessageError::InvalidKemKind(_) => "InvalidKemKind",
                InitialMessageError::RatchetMessageTooLong(_) => "RatchetMessageTooLong",
                InitialMessageError::TrailingBytes(_) => "TrailingBytes",
                _ => "Other",
            }
        ),
        AcceptError::InvalidIdentitySignature => "InvalidIdentitySignature".into(),
        AcceptError::UnknownPrekey(_) => "UnknownPrekey".into(),
        AcceptError::OneTimePrekeyUnknownOrUsed(_) => "OneTimePrekeyUnknownOrUsed".into(),
        AcceptError::Replay => "Replay".into(),
        AcceptError::ReplayStoreFull(_) => "ReplayStoreFull".into(),
        AcceptError::LowOrderKey => "LowOrderKey".into(),
        AcceptError::FirstMessage(d) => {
            format!("FirstMessage({})", ratchet_negative::session_error_class(d))
        }
        AcceptError::Crypto(_) => "Crypto".into(),
        _ => "Other".into(),
    }
}

/// One handshake: inputs (up to `plaintext`), intermediates and outputs.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Handshake {
    description: String,
    header_mode: String,
    initiator: AccountSecrets,
    responder: AccountSecrets,
    ephemeral_private: Bytes,
    m: Bytes,
    ratchet_private: Bytes,
    salt: Bytes,
    plaintext: Bytes,
    signed_prekey_id: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    one_time_prekey_id: Option<u32>,
    kem_prekey_kind: u8,
    kem_prekey_id: u32,
    initiator_identity: Bytes,
    responder_identity: Bytes,
    signed_prekey_public: Bytes,
    signed_prekey_signature: Bytes,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    one_time_prekey_public: Option<Bytes>,
    kem_prekey_sha256: Bytes,
    kem_prekey_signature: Bytes,
    bundle: Bytes,
    ephemeral_public: Bytes,
    dh1: Bytes,
    dh2: Bytes,
    dh3: Bytes,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    dh4: Option<Bytes>,
    kem_ciphertext: Bytes,
    kem_shared_secret: Bytes,
    transcript: Bytes,
    transcript_hash: Bytes,
    handshake_prk: Bytes,
    session_secret: Bytes,
    ratchet_public: Bytes,
    initial_message: Bytes,
    responder_plaintext: Bytes,
}

/// The inputs of a [`Handshake`].
struct HandshakeInputs {
    description: String,
    header_mode: String,
    initiator: AccountSecrets,
    responder: AccountSecrets,
    ephemeral_private: Bytes,
    m: Bytes,
    ratchet_private: Bytes,
    salt: Bytes,
    plaintext: Bytes,
}

/// Maps an error of the library to a rejection of `field`.
pub(crate) fn rejected_at<E: core::fmt::Display>(field: &str) -> impl Fn(E) -> CaseError + '_ {
    move |e| CaseError::rejected(field, e)
}

/// Maps a fault of the replayed randomness to a failed check of `field`.
fn drew(field: &str) -> impl Fn(String) -> CaseError + '_ {
    move |m| CaseError::check_failed(field, m)
}

fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_be_bytes());
}

/// A mismatch between the API's bytes and the recomputation.
fn disagree(field: &str, what: &str) -> CaseError {
    CaseError::check_failed(
        field,
        format!("{what}: the API and the recomputation from provider calls disagree"),
    )
}

impl Handshake {
    fn compute(p: &dyn CryptoProvider, i: HandshakeInputs) -> Result<Self, CaseError> {
        let mode = parse_mode(&i.header_mode)?;
        let ek = Secret::from_bytes(fixed::<32>(
            "ephemeral_private",
            i.ephemeral_private.as_slice(),
        )?);
        let m = Secret::from_bytes(fixed::<32>("m", i.m.as_slice())?);
        let rp = fixed::<32>("ratchet_private", i.ratchet_private.as_slice())?;
        let salt = fixed::<16>("salt", i.salt.as_slice())?;
        let plaintext = i.plaintext.as_slice();
        if i.initiator.one_time_prekey_private.is_some()
            || i.initiator.kem_one_time_prekey_seed.is_some()
        {
            return Err(CaseError::malformed(
                "initiator",
                "the initiator has no one-time prekeys",
            ));
        }

        // 1. Through the API: both accounts, the bundle, start, the first message.
        let mut bob = i.responder.open(p, "responder")?;
        let alice = i.initiator.open(p, "initiator")?;
        let api_bundle = bob
            .account
            .bundle(bob.one_time_prekey_id, bob.kem_one_time_prekey_id)
            .map_err(|e| CaseError::rejected("bundle", e))?
            .to_bytes();
        let mut rng = ReplayRng::new(vec![ek.expose().to_vec(), m.expose().to_vec()]);
        let mut session = Session::start_with(p, &alice.account, &mut rng, None, &api_bundle, mode)
            .map_err(|e| CaseError::rejected("bundle", e))?;
        rng.finish_exact(&[32, 32])
            .map_err(|e| CaseError::check_failed("m", e))?;
        let mut rng = ReplayRng::new(vec![rp.to_vec(), salt.to_vec()]);
        let api_initial = session
            .encrypt_with(p, &mut rng, plaintext)
            .map_err(|e| CaseError::rejected("initial_message", e))?;
        rng.finish_exact(&[32, 16])
            .map_err(|e| CaseError::check_failed("salt", e))?;

        // 2. Recomputed from the inputs with provider calls.
        let initiator_identity = i.initiator.identity_public(p, "initiator")?;
        let responder_identity = i.responder.identity_public(p, "responder")?;
        if initiator_identity != alice.account.identity().to_bytes() {
            return Err(disagree("initiator_identity", "IdentityPublic"));
        }
        if responder_identity != bob.account.identity().to_bytes() {
            return Err(disagree("responder_identity", "IdentityPublic"));
        }
        let bob_seed = i.responder.signing_seed("responder")?;
        let spk_private = Secret::from_bytes(fixed::<32>(
            "responder.signed_prekey_private",
            i.responder.signed_prekey_private.as_slice(),
        )?);
        // The ids the account assigned (spec §7.2): read from the API's bundle.
        let parsed =
            PrekeyBundle::parse(&api_bundle).map_err(|e| CaseError::rejected("bundle", e))?;
        let signed_prekey_id = parsed.signed_prekey_id;
        let spk = p.x25519_public_key(&spk_private);
        let spk_sig = sign_prekey(
            p,
            &bob_seed,
            PrekeyKind::SignedX25519,
            signed_prekey_id,
            &spk,
        )?;
        let opk = match (&i.responder.one_time_prekey_private, bob.one_time_prekey_id) {
            (Some(k), Some(id)) => {
                let private = Secret::from_bytes(fixed::<32>(
                    "responder.one_time_prekey_private",
                    k.as_slice(),
                )?);
                let public = p.x25519_public_key(&private);
                Some((id, private, public))
            }
            _ => None,
        };
        let (kem_kind, kem_seed_field, kem_seed) = match &i.responder.kem_one_time_prekey_seed {
            Some(s) => (PrekeyKind::KemOneTime, "kem_one_time_prekey_seed", s),
            None => (
                PrekeyKind::KemLastResort,
                "kem_last_resort_seed",
                &i.responder.kem_last_resort_seed,
            ),
        };
        let kem_id = parsed.kem_prekey_id;
        let kem_seed = Secret::from_bytes(fixed::<64>(
            &format!("responder.{kem_seed_field}"),
            kem_seed.as_slice(),
        )?);
        let kem_pair = p.ml_kem_768_generate(&kem_seed);
        let kem_pk = kem_pair.encapsulation_key;
        let kem_sig = sign_prekey(p, &bob_seed, kem_kind, kem_id, &kem_pk)?;

        let mut bundle = vec![VERSION, TYPE_BUNDLE];
        bundle.extend_from_slice(&responder_identity);
        put_u32(&mut bundle, signed_prekey_id);
        bundle.extend_from_slice(&spk);
        bundle.extend_from_slice(&spk_sig);
        match &opk {
            None => bundle.push(0),
            Some((id, _, public)) => {
                bundle.push(1);
                put_u32(&mut bundle, *id);
                bundle.extend_from_slice(public);
            }
        }
        bundle.push(kem_kind as u8);
        put_u32(&mut bundle, kem_id);
        bundle.extend_from_slice(&kem_pk);
        bundle.extend_from_slice(&kem_sig);
        if bundle != api_bundle {
            return Err(disagree("bundle", "the bundle"));
        }

        let ephemeral_public = p.x25519_public_key(&ek);
        let alice_dh = i.initiator.agreement_private("initiator")?;
        let bob_dh_public = &agreement_key_of(&responder_identity);
        let dh1 = p.x25519(&alice_dh, &spk).map_err(rejected_at("dh1"))?;
        let dh2 = p.x25519(&ek, bob_dh_public).map_err(rejected_at("dh2"))?;
        let dh3 = p.x25519(&ek, &spk).map_err(rejected_at("dh3"))?;
        let dh4 = match &opk {
            Some((_, _, public)) => Some(p.x25519(&ek, public).map_err(rejected_at("dh4"))?),
            None => None,
        };
        let (ct, ss) = p
            .ml_kem_768_encapsulate(&kem_pk, &m)
            .map_err(rejected_at("kem_ciphertext"))?;

        // TH: the transcript assembled here, hashed here and by the library.
        let kem_pk_hash = p.sha256(&[&kem_pk]);
        let mut transcript = Vec::with_capacity(1600);
        transcript.extend_from_slice(&initiator_identity);
        transcript.extend_from_slice(&responder_identity);
        put_u32(&mut transcript, signed_prekey_id);
        transcript.extend_from_slice(&spk);
        match &opk {
            None => transcript.push(0),
            Some((id, _, public)) => {
                transcript.push(1);
                put_u32(&mut transcript, *id);
                transcript.extend_from_slice(public);
            }
        }
        transcript.push(kem_kind as u8);
        put_u32(&mut transcript, kem_id);
        transcript.extend_from_slice(&kem_pk_hash);
        transcript.extend_from_slice(&ephemeral_public);
        transcript.extend_from_slice(&ct);
        let th = labeled_hash(p, labels::HANDSHAKE_TRANSCRIPT, &[&transcript])
            .map_err(rejected_at("transcript_hash"))?;
        let th_lib = transcript_hash(
            p,
            &Transcript {
                initiator: alice.account.identity(),
                responder: bob.account.identity(),
                signed_prekey: (signed_prekey_id, &spk),
                one_time_prekey: opk.as_ref().map(|(id, _, public)| (*id, public)),
                kem_prekey: (kem_kind, kem_id, &kem_pk),
                ephemeral_key: &ephemeral_public,
                kem_ciphertext: &ct,
            },
        )
        .map_err(rejected_at("transcript_hash"))?;
        if th != th_lib {
            return Err(disagree("transcript_hash", "TH"));
        }
        if *session.session_id() != th {
            return Err(disagree("transcript_hash", "the initiator's session id"));
        }

        // SK: extract and expand here, and by the library.
        let mut ikm: Vec<&[u8]> = vec![dh1.expose(), dh2.expose(), dh3.expose()];
        if let Some(d) = &dh4 {
            ikm.push(d.expose());
        }
        ikm.push(ss.expose());
        let prk = labeled_extract(p, &th, labels::HANDSHAKE, &ikm)
            .map_err(rejected_at("handshake_prk"))?;
        let mut sk = Secret::<32>::zero();
        labeled_expand(p, &prk, labels::SESSION_SECRET, b"", sk.expose_mut())
            .map_err(rejected_at("session_secret"))?;
        let mut dh = vec![dh1.clone(), dh2.clone(), dh3.clone()];
        dh.extend(dh4.clone());
        let keys = derive_keys(
            p,
            th,
            &HandshakeSecrets {
                dh,
                kem_shared_secret: ss.clone(),
            },
        )
        .map_err(rejected_at("session_secret"))?;
        if keys.session_secret != sk {
            return Err(disagree("session_secret", "SK"));
        }

        // The first ratchet message from SK (spec §5.3), and the initial message around it.
        let mut ratchet = Ratchet::initiator_with(p, &sk, spk, &th, mode)
            .map_err(|e| CaseError::rejected("session_secret", e))?;
        let mut rng = ReplayRng::new(vec![rp.to_vec(), salt.to_vec()]);
        let inner = ratchet
            .encrypt_with(p, &mut rng, plaintext)
            .map_err(|e| CaseError::rejected("initial_message", e))?;
        rng.finish_exact(&[32, 16])
            .map_err(|e| CaseError::check_failed("salt", e))?;
        let ratchet_public = p.x25519_public_key(&Secret::from_bytes(rp));
        let mut initial = vec![VERSION, TYPE_INITIAL];
        initial.extend_from_slice(&initiator_identity);
        initial.extend_from_slice(&ephemeral_public);
        put_u32(&mut initial, signed_prekey_id);
        match &opk {
            None => initial.push(0),
            Some((id, _, _)) => {
                initial.push(1);
                put_u32(&mut initial, *id);
            }
        }
        initial.push(kem_kind as u8);
        put_u32(&mut initial, kem_id);
        initial.extend_from_slice(&ct);
        let inner_len = u32::try_from(inner.len())
            .map_err(|_| CaseError::malformed("plaintext", "too long"))?;
        put_u32(&mut initial, inner_len);
        initial.extend_from_slice(&inner);
        if initial != api_initial {
            return Err(disagree("initial_message", "the initial message"));
        }

        // 3. The responder accepts it through the API.
        let (bob_session, responder_plaintext) = bob
            .account
            .accept_with(p, &sova::session::AcceptPolicy::any_peer(), &api_initial)
            .map_err(|e| CaseError::rejected("responder_plaintext", e))?;
        if *bob_session.session_id() != th {
            return Err(disagree("transcript_hash", "the responder's session id"));
        }
        if bob_session.peer_identity().to_bytes()[..] != initiator_identity[..] {
            return Err(disagree("initiator_identity", "the responder's peer"));
        }
        if opk
            .as_ref()
            .is_some_and(|(id, _, _)| bob.account.one_time_prekey_ids().contains(id))
            || bob
                .kem_one_time_prekey_id
                .is_some_and(|id| bob.account.kem_one_time_prekey_ids().contains(&id))
        {
            return Err(CaseError::check_failed(
                "responder",
                "a one-time prekey used by the handshake was not deleted",
            ));
        }

        Ok(Self {
            description: i.description,
            header_mode: i.header_mode,
            initiator: i.initiator,
            responder: i.responder,
            ephemeral_private: i.ephemeral_private,
            m: i.m,
            ratchet_private: i.ratchet_private,
            salt: i.salt,
            plaintext: i.plaintext,
            signed_prekey_id,
            one_time_prekey_id: opk.as_ref().map(|(id, _, _)| *id),
            kem_prekey_kind: kem_kind as u8,
            kem_prekey_id: kem_id,
            initiator_identity: initiator_identity.into(),
            responder_identity: responder_identity.into(),
            signed_prekey_public: spk.into(),
            signed_prekey_signature: spk_sig.into(),
            one_time_prekey_public: opk.as_ref().map(|(_, _, public)| Bytes::from(public)),
            kem_prekey_sha256: kem_pk_hash.into(),
            kem_prekey_signature: kem_sig.into(),
            bundle: bundle.into(),
            ephemeral_public: ephemeral_public.into(),
            dh1: dh1.expose().into(),
            dh2: dh2.expose().into(),
            dh3: dh3.expose().into(),
            dh4: dh4.as_ref().map(|d| Bytes::from(d.expose())),
            kem_ciphertext: ct.into(),
            kem_shared_secret: ss.expose().into(),
            transcript: transcript.into(),
            transcript_hash: th.into(),
            handshake_prk: prk.expose().into(),
            session_secret: sk.expose().into(),
            ratchet_public: ratchet_public.into(),
            initial_message: api_initial.into(),
            responder_plaintext: responder_plaintext.into(),
        })
    }
}

/// The X25519 identity key `IK_dh` inside a 128-byte `IdentityPublic`.
fn agreement_key_of(identity: &[u8]) -> [u8; 32] {
    let mut k = [0u8; 32];
    if let Some(src) = identity.get(32..64) {
        k.copy_from_slice(src);
    }
    k
}

impl Case for Handshake {
    const KIND: &'static str = "handshake";
    fn recompute(&self, p: &dyn CryptoProvider) -> Result<Self, CaseError> {
        Self::compute(
            p,
            HandshakeInputs {
                description: self.description.clone(),
                header_mode: self.header_mode.clone(),
                initiator: self.initiator.clone(),
                responder: self.responder.clone(),
                ephemeral_private: self.ephemeral_private.clone(),
                m: self.m.clone(),
                ratchet_private: self.ratchet_private.clone(),
                salt: self.salt.clone(),
                plaintext: self.plaintext.clone(),
            },
        )
    }
}

fn generate(g: &mut FileGen<'_>) -> Result<(), CaseError> {
    // (description, header mode, X25519 one-time prekey, ML-KEM one-time prekey, plaintext length)
    let cases: &[(&str, HeaderMode, bool, bool, usize)] = &[
        (
            "no one-time prekeys: three DH values and the last-resort ML-KEM prekey",
            HeaderMode::Plain,
            false,
            false,
            11,
        ),
        (
            "an X25519 one-time prekey (DH4) and the last-resort ML-KEM prekey",
            HeaderMode::Plain,
            true,
            false,
            32,
        ),
        (
            "a one-time ML-KEM prekey and no X25519 one-time prekey",
            HeaderMode::Plain,
            false,
            true,
            1,
        ),
        ("both one-time prekeys", HeaderMode::Plain, true, true, 100),
        (
            "both one-time prekeys, encrypted headers",
            HeaderMode::Encrypted,
            true,
            true,
            17,
        ),
    ];
    for (description, mode, one_time, kem_one_time, len) in cases {
        g.case(|c| {
            Handshake::compute(
                c.provider(),
                HandshakeInputs {
                    description: (*description).to_owned(),
                    header_mode: mode_name(*mode).to_owned(),
                    initiator: AccountSecrets::new(c, "initiator", false, false),
                    responder: AccountSecrets::new(c, "responder", *one_time, *kem_one_time),
                    ephemeral_private: c.bytes("ephemeral_private", 32).into(),
                    m: c.bytes("m", 32).into(),
                    ratchet_private: c.bytes("ratchet_private", 32).into(),
                    salt: c.bytes("salt", 16).into(),
                    plaintext: c.bytes("plaintext", *len).into(),
                },
            )
        })?;
    }
    Ok(())
}
