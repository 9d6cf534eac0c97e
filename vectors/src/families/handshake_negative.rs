//! `handshake-negative.json`: bundles an initiator must reject and initial
//! messages a responder must reject, each with its error class; a rejected
//! initial message must leave the responder's account unchanged (spec §7.3,
//! §7.4, §7.6; format in spec §4.8).

use serde::{Deserialize, Serialize};
use sova::kdf::labeled_sign;
use sova::labels;
use sova::ratchet::HeaderMode;
use sova::session::{Account, PrekeyBundle, PrekeyKind, Session};
use sova::CryptoProvider;

use super::handshake::{
    accept_error_class, rejected_at, sign_prekey, start_error_class, AccountSecrets,
};
use crate::family::{fixed, Case, CaseError, Family, FileGen, Inputs, Kind};
use crate::replay::ReplayRng;
use crate::Bytes;

/// The file name.
pub(crate) const FILE: &str = "handshake-negative.json";

/// The family of `handshake-negative.json`.
pub(crate) const FAMILY: Family = Family::new(
    FILE,
    "Session establishment that must fail: malformed or forged bundles and bundles with \
     low-order or invalid keys, rejected by the initiator; malformed, forged, replayed or \
     tampered initial messages and reused one-time prekeys, rejected by the responder, whose \
     account must be unchanged; each with its error class (spec §7.3, §7.4, §7.6; format: \
     spec §4.8).",
    &[Kind::of::<StartRejection>(), Kind::of::<AcceptRejection>()],
    generate,
);

/// A bundle that `Session::start` must reject.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StartRejection {
    description: String,
    initiator: AccountSecrets,
    ephemeral_private: Bytes,
    m: Bytes,
    bundle: Bytes,
    error: String,
}

impl StartRejection {
    pub(crate) fn compute(
        p: &dyn CryptoProvider,
        description: String,
        initiator: AccountSecrets,
        ephemeral_private: Bytes,
        m: Bytes,
        bundle: Bytes,
    ) -> Result<Self, CaseError> {
        let alice = initiator.open(p, "initiator")?;
        let ek = fixed::<32>("ephemeral_private", ephemeral_private.as_slice())?;
        let mm = fixed::<32>("m", m.as_slice())?;
        // The library draws EK and m only once the bundle has verified.
        let mut rng = ReplayRng::new(vec![ek.to_vec(), mm.to_vec()]);
        let error = match Session::start_with(
            p,
            &alice.account,
            &mut rng,
            None,
            bundle.as_slice(),
            HeaderMode::Plain,
        ) {
            Ok(_) => return Err(CaseError::check_failed("bundle", "the bundle was accepted")),
            Err(e) => start_error_class(&e),
        };
        rng.finish().map_err(|e| CaseError::check_failed("m", e))?;
        Ok(Self {
            description,
            initiator,
            ephemeral_private,
            m,
            bundle,
            error,
        })
    }
}

impl Case for StartRejection {
    const KIND: &'static str = "start_rejection";
    fn recompute(&self, p: &dyn CryptoProvider) -> Result<Self, CaseError> {
        Self::compute(
            p,
            self.description.clone(),
            self.initiator.clone(),
            self.ephemeral_private.clone(),
            self.m.clone(),
            self.bundle.clone(),
        )
    }
}

/// An initial message that `Account::accept` must reject, after the
/// `accepted` initial messages were accepted in order.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AcceptRejection {
    description: String,
    responder: AccountSecrets,
    accepted: Vec<Bytes>,
    message: Bytes,
    error: String,
}

impl AcceptRejection {
    pub(crate) fn compute(
        p: &dyn CryptoProvider,
        description: String,
        responder: AccountSecrets,
        accepted: Vec<Bytes>,
        message: Bytes,
    ) -> Result<Self, CaseError> {
        let mut bob = responder.open(p, "responder")?;
        for (i, m) in accepted.iter().enumerate() {
            bob.account
                .accept_with(p, &sova::session::AcceptPolicy::any_peer(), m.as_slice())
                .map_err(|e| CaseError::rejected(&format!("accepted[{i}]"), e))?;
        }
        let before = bob.account.to_bytes();
        let error = match bob.account.accept_with(
            p,
            &sova::session::AcceptPolicy::any_peer(),
            message.as_slice(),
        ) {
            Ok(_) => {
                return Err(CaseError::check_failed(
                    "message",
                    "the initial message was accepted",
                ))
            }
            Err(e) => accept_error_class(&e),
        };
        if bob.account.to_bytes() != before {
            return Err(CaseError::check_failed(
                "message",
                "the rejected initial message changed the responder's account",
            ));
        }
        Ok(Self {
            description,
            responder,
            accepted,
            message,
            error,
        })
    }
}

impl Case for AcceptRejection {
    const KIND: &'static str = "accept_rejection";
    fn recompute(&self, p: &dyn CryptoProvider) -> Result<Self, CaseError> {
        Self::compute(
            p,
            self.description.clone(),
            self.responder.clone(),
            self.accepted.clone(),
            self.message.clone(),
        )
    }
}

/// A low-order X25519 point of order 8 (u-coordinate), which no
/// implementation may accept as a peer key (spec §3.2).
const LOW_ORDER_POINT: [u8; 32] = [
    0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae, 0x16, 0x56, 0xe3, 0xfa, 0xf1, 0x9f, 0xc4, 0x6a,
    0xda, 0x09, 0x8d, 0xeb, 0x9c, 0x32, 0xb1, 0xfd, 0x86, 0x62, 0x05, 0x16, 0x5f, 0x49, 0xb8, 0x00,
];

// Offsets in a bundle without a one-time prekey (spec §7.3).
const B_BINDING: usize = 66;
const B_SPK_ID: usize = 130;
const B_SPK_SIG: usize = 166;
const B_FLAG: usize = 230;
const B_KEM_KIND: usize = 231;
const B_KEM_SIG: usize = 1420;

// Offsets in an initial message without a one-time prekey (spec §7.5).
const I_BINDING: usize = 66;
const I_EPHEMERAL: usize = 130;
const I_SPK_ID: usize = 162;
const I_FLAG: usize = 166;
const I_KEM_KIND: usize = 167;
const I_KEM_ID: usize = 168;
const I_CT: usize = 172;
const I_INNER: usize = 1264;
// With a one-time prekey, its id follows the flag.
const I_OPK_ID: usize = 167;

/// The generator's responder: an account with one X25519 and one ML-KEM
/// one-time prekey (ids 3 and 4), and its secrets.
fn responder(
    p: &dyn CryptoProvider,
    c: &Inputs<'_>,
) -> Result<(AccountSecrets, Account, u32, u32), CaseError> {
    let secrets = AccountSecrets::new(c, "responder", true, true);
    let opened = secrets.open(p, "responder")?;
    let opk = opened
        .one_time_prekey_id
        .ok_or_else(|| CaseError::malformed("responder", "no one-time prekey"))?;
    let kem = opened
        .kem_one_time_prekey_id
        .ok_or_else(|| CaseError::malformed("responder", "no ML-KEM one-time prekey"))?;
    Ok((secrets, opened.account, opk, kem))
}

/// An initial message from a fresh initiator (generator randomness under `tag`).
fn initial_message(
    p: &dyn CryptoProvider,
    c: &Inputs<'_>,
    tag: &str,
    bundle: &[u8],
    mode: HeaderMode,
) -> Result<Vec<u8>, CaseError> {
    let fresh = |i: usize, n: usize| c.bytes(&format!("{tag}[{i}]"), n);
    let mut rng = ReplayRng::with_fresh(Vec::new(), Some(&fresh));
    let alice = Account::new_with(p, &mut rng).map_err(rejected_at(tag))?;
    let mut session = Session::start_with(p, &alice, &mut rng, None, bundle, mode)
        .map_err(|e| CaseError::rejected(tag, e))?;
    let message = session
        .encrypt_with(p, &mut rng, &c.bytes(&format!("{tag}.plaintext"), 12))
        .map_err(|e| CaseError::rejected(tag, e))?;
    rng.finish().map_err(|e| CaseError::check_failed(tag, e))?;
    Ok(message)
}

type Mutation = fn(&mut Vec<u8>);

fn flip(m: &mut [u8], i: usize) {
    if let Some(b) = m.get_mut(i) {
        *b ^= 0x01;
    }
}

fn set_u32(m: &mut [u8], at: usize, v: u32) {
    if let Some(dst) = m.get_mut(at..at + 4) {
        dst.copy_from_slice(&v.to_be_bytes());
    }
}

fn set(m: &mut [u8], at: usize, v: u8) {
    if let Some(b) = m.get_mut(at) {
        *b = v;
    }
}

/// Bundles rejected by the initiator.
fn start_cases(g: &mut FileGen<'_>) -> Result<(), CaseError> {
    // Mutations of a valid bundle without a one-time prekey.
    let mutated: &[(&str, Mutation)] = &[
        ("identity binding signature bit flipped", |b| {
            flip(b, B_BINDING)
        }),
        ("signed prekey signature bit flipped", |b| {
            flip(b, B_SPK_SIG)
        }),
        (
            "signed prekey id changed (the signature covers the id)",
            |b| set_u32(b, B_SPK_ID, 7),
        ),
        ("ML-KEM prekey signature bit flipped", |b| {
            flip(b, B_KEM_SIG)
        }),
        (
            "ML-KEM prekey kind changed from last resort to one-time (the signature covers \
             the kind)",
            |b| set(b, B_KEM_KIND, PrekeyKind::KemOneTime as u8),
        ),
        ("unsupported version", |b| set(b, 0, 0x02)),
        ("wrong type", |b| set(b, 1, 0x03)),
        ("one trailing byte", |b| b.push(0)),
        ("truncated by one byte", |b| {
            b.pop();
        }),
        ("empty input", Vec::clear),
        ("invalid one-time prekey flag", |b| set(b, B_FLAG, 0x02)),
        ("invalid ML-KEM prekey kind", |b| {
            set(b, B_KEM_KIND, PrekeyKind::SignedX25519 as u8)
        }),
    ];
    for (description, mutate) in mutated {
        g.case(|c| {
            let p = c.provider();
            let (_, bob, _, _) = responder(p, c)?;
            let mut bundle = bob
                .bundle(None, None)
                .map_err(rejected_at("bundle"))?
                .to_bytes();
            mutate(&mut bundle);
            start_case(c, description, bundle)
        })?;
    }
    // Validly signed bundles whose keys the handshake must refuse.
    type Forge =
        fn(&dyn CryptoProvider, &sova::Secret<32>, &mut PrekeyBundle) -> Result<(), CaseError>;
    let forged: &[(&str, Forge)] = &[
        ("validly signed low-order signed prekey", |p, seed, b| {
            b.signed_prekey = LOW_ORDER_POINT;
            b.signed_prekey_signature = sign_prekey(
                p,
                seed,
                PrekeyKind::SignedX25519,
                b.signed_prekey_id,
                &b.signed_prekey,
            )?;
            Ok(())
        }),
        (
            "low-order one-time prekey (one-time prekeys are not signed)",
            |_, _, b| {
                b.one_time_prekey = Some((3, LOW_ORDER_POINT));
                Ok(())
            },
        ),
        (
            "validly bound low-order identity agreement key",
            |p, seed, b| {
                b.identity.agreement_key = LOW_ORDER_POINT;
                b.identity.binding = labeled_sign(
                    p,
                    seed,
                    labels::IDENTITY_BINDING,
                    &[&b.identity.signing_key, &b.identity.agreement_key],
                )
                .map_err(|e| CaseError::rejected("bundle", e))?;
                Ok(())
            },
        ),
        (
            "validly signed ML-KEM key failing the modulus check (first coefficient 4095)",
            |p, seed, b| {
                b.kem_prekey[0] = 0xff;
                b.kem_prekey[1] |= 0x0f;
                b.kem_prekey_signature = sign_prekey(
                    p,
                    seed,
                    b.kem_prekey_kind,
                    b.kem_prekey_id,
                    &b.kem_prekey[..],
                )?;
                Ok(())
            },
        ),
    ];
    for (description, forge) in forged {
        g.case(|c| {
            let p = c.provider();
            let (secrets, bob, _, _) = responder(p, c)?;
            let mut bundle = bob.bundle(None, None).map_err(rejected_at("bundle"))?;
            forge(p, &secrets.signing_seed("responder")?, &mut bundle)?;
            start_case(c, description, bundle.to_bytes())
        })?;
    }
    Ok(())
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

/// Which prekeys the bundle of an accept case offers.
#[derive(Clone, Copy)]
enum Offer {
    /// Signed prekey and last-resort ML-KEM prekey only.
    LastResort,
    /// With the X25519 one-time prekey.
    OneTime,
    /// With the ML-KEM one-time prekey.
    KemOneTime,
}

/// What is accepted first and what is offered after.
#[derive(Clone, Copy)]
enum Script {
    /// One initial message, mutated.
    Mutate(Mutation),
    /// Two initiators with the same bundle: the first is accepted.
    SecondInitiator,
    /// One initiator, its initial message accepted then offered again.
    Replay,
}

/// Initial messages rejected by the responder.
fn accept_cases(g: &mut FileGen<'_>) -> Result<(), CaseError> {
    use Offer::{KemOneTime, LastResort, OneTime};
    use Script::{Mutate, Replay, SecondInitiator};
    let cases: &[(&str, Offer, HeaderMode, Script)] = &[
        (
            "truncated by one byte",
            LastResort,
            HeaderMode::Plain,
            Mutate(|m| {
                m.pop();
            }),
        ),
        (
            "one trailing byte",
            LastResort,
            HeaderMode::Plain,
            Mutate(|m| m.push(0)),
        ),
        (
            "unsupported version",
            LastResort,
            HeaderMode::Plain,
            Mutate(|m| set(m, 0, 0x02)),
        ),
        (
            "wrong type (a ratchet message type)",
            LastResort,
            HeaderMode::Plain,
            Mutate(|m| set(m, 1, 0x01)),
        ),
        (
            "invalid one-time prekey flag",
            LastResort,
            HeaderMode::Plain,
            Mutate(|m| set(m, I_FLAG, 0x02)),
        ),
        (
            "invalid ML-KEM prekey kind",
            LastResort,
            HeaderMode::Plain,
            Mutate(|m| set(m, I_KEM_KIND, 0x04)),
        ),
        (
            "empty input",
            LastResort,
            HeaderMode::Plain,
            Mutate(Vec::clear),
        ),
        (
            "initiator's identity binding signature bit flipped",
            LastResort,
            HeaderMode::Plain,
            Mutate(|m| flip(m, I_BINDING)),
        ),
        (
            "unknown signed prekey id",
            LastResort,
            HeaderMode::Plain,
            Mutate(|m| set_u32(m, I_SPK_ID, 99)),
        ),
        (
            "unknown last-resort ML-KEM prekey id",
            LastResort,
            HeaderMode::Plain,
            Mutate(|m| set_u32(m, I_KEM_ID, 99)),
        ),
        (
            "unknown one-time prekey id",
            OneTime,
            HeaderMode::Plain,
            Mutate(|m| set_u32(m, I_OPK_ID, 99)),
        ),
        (
            "one-time prekey already used: a second initiator with the same bundle",
            OneTime,
            HeaderMode::Plain,
            SecondInitiator,
        ),
        (
            "one-time ML-KEM prekey already used: a second initiator with the same bundle",
            KemOneTime,
            HeaderMode::Plain,
            SecondInitiator,
        ),
        (
            "replay of an accepted last-resort handshake",
            LastResort,
            HeaderMode::Plain,
            Replay,
        ),
        (
            "low-order ephemeral key",
            LastResort,
            HeaderMode::Plain,
            Mutate(|m| {
                if let Some(k) = m.get_mut(I_EPHEMERAL..I_EPHEMERAL + 32) {
                    k.copy_from_slice(&LOW_ORDER_POINT);
                }
            }),
        ),
        (
            "first ratchet message: body bit flipped",
            LastResort,
            HeaderMode::Plain,
            Mutate(|m| {
                let at = m.len() - 20;
                flip(m, at);
            }),
        ),
        (
            "first ratchet message: encrypted header bit flipped",
            LastResort,
            HeaderMode::Encrypted,
            Mutate(|m| flip(m, I_INNER + 20)),
        ),
        (
            "ML-KEM ciphertext bit flipped (implicit rejection yields another secret)",
            LastResort,
            HeaderMode::Plain,
            Mutate(|m| flip(m, I_CT + 10)),
        ),
        // Several faults at once: the error is that of the check that comes
        // first (spec §7.5 field by field, then the order of §7.6).
        (
            "unsupported version and wrong type",
            LastResort,
            HeaderMode::Plain,
            Mutate(|m| {
                set(m, 0, 0x02);
                set(m, 1, 0x01);
            }),
        ),
        (
            "invalid one-time prekey flag and truncated by one byte",
            LastResort,
            HeaderMode::Plain,
            Mutate(|m| {
                set(m, I_FLAG, 0x02);
                m.pop();
            }),
        ),
        (
            "one trailing byte and the identity binding bit flipped",
            LastResort,
            HeaderMode::Plain,
            Mutate(|m| {
                m.push(0);
                flip(m, I_BINDING);
            }),
        ),
        (
            "L over the largest ratchet message, the input far shorter",
            LastResort,
            HeaderMode::Plain,
            Mutate(|m| set_u32(m, I_INNER - 4, 1_048_683)),
        ),
        (
            "L = 0 and no ratchet message: a parser-valid initial message",
            LastResort,
            HeaderMode::Plain,
            Mutate(|m| {
                set_u32(m, I_INNER - 4, 0);
                m.truncate(I_INNER);
            }),
        ),
        (
            "identity binding bit flipped and unknown signed prekey id",
            LastResort,
            HeaderMode::Plain,
            Mutate(|m| {
                flip(m, I_BINDING);
                set_u32(m, I_SPK_ID, 99);
            }),
        ),
        (
            "unknown signed prekey id and unknown one-time prekey id",
            OneTime,
            HeaderMode::Plain,
            Mutate(|m| {
                set_u32(m, I_SPK_ID, 99);
                set_u32(m, I_OPK_ID, 99);
            }),
        ),
        (
            "unknown one-time prekey id and unknown last-resort ML-KEM prekey id",
            OneTime,
            HeaderMode::Plain,
            Mutate(|m| {
                set_u32(m, I_OPK_ID, 99);
                set_u32(m, I_KEM_ID + 4, 99);
            }),
        ),
        (
            "low-order ephemeral key and unknown signed prekey id",
            LastResort,
            HeaderMode::Plain,
            Mutate(|m| {
                if let Some(k) = m.get_mut(I_EPHEMERAL..I_EPHEMERAL + 32) {
                    k.copy_from_slice(&LOW_ORDER_POINT);
                }
                set_u32(m, I_SPK_ID, 99);
            }),
        ),
        (
            "low-order ephemeral key and ML-KEM ciphertext bit flipped",
            LastResort,
            HeaderMode::Plain,
            Mutate(|m| {
                if let Some(k) = m.get_mut(I_EPHEMERAL..I_EPHEMERAL + 32) {
                    k.copy_from_slice(&LOW_ORDER_POINT);
                }
                flip(m, I_CT + 10);
            }),
        ),
        (
            "exact repeat of an accepted handshake that used a one-time prekey",
            OneTime,
            HeaderMode::Plain,
            Replay,
        ),
        (
            "exact repeat of an accepted handshake that used a one-time ML-KEM prekey",
            KemOneTime,
            HeaderMode::Plain,
            Replay,
        ),
    ];
    for (description, offer, mode, script) in cases {
        g.case(|c| {
            let p = c.provider();
            let (secrets, bob, opk, kem) = responder(p, c)?;
            let bundle = match offer {
                Offer::LastResort => bob.bundle(None, None),
                Offer::OneTime => bob.bundle(Some(opk), None),
                Offer::KemOneTime => bob.bundle(None, Some(kem)),
            }
            .map_err(rejected_at("bundle"))?
            .to_bytes();
            let first = initial_message(p, c, "initiators[0]", &bundle, *mode)?;
            let (accepted, message) = match script {
                Script::Mutate(f) => {
                    let mut m = first;
                    f(&mut m);
                    (Vec::new(), m)
                }
                Script::SecondInitiator => {
                    let second = initial_message(p, c, "initiators[1]", &bundle, *mode)?;
                    (vec![first.into()], second)
                }
                Script::Replay => (vec![Bytes::from(first.clone())], first),
            };
            AcceptRejection::compute(
                p,
                (*description).to_owned(),
                secrets,
                accepted,
                message.into(),
            )
        })?;
    }
    Ok(())
}

/// A validly signed change of a bundle's fields (the responder's identity
/// seed given), made before it is encoded.
type Forge = fn(&dyn CryptoProvider, &sova::Secret<32>, &mut PrekeyBundle) -> Result<(), CaseError>;

fn low_order_spk(
    p: &dyn CryptoProvider,
    seed: &sova::Secret<32>,
    b: &mut PrekeyBundle,
) -> Result<(), CaseError> {
    b.signed_prekey = LOW_ORDER_POINT;
    b.signed_prekey_signature = sign_prekey(
        p,
        seed,
        PrekeyKind::SignedX25519,
        b.signed_prekey_id,
        &b.signed_prekey,
    )?;
    Ok(())
}

fn low_order_identity(
    p: &dyn CryptoProvider,
    seed: &sova::Secret<32>,
    b: &mut PrekeyBundle,
) -> Result<(), CaseError> {
    b.identity.agreement_key = LOW_ORDER_POINT;
    b.identity.binding = labeled_sign(
        p,
        seed,
        labels::IDENTITY_BINDING,
        &[&b.identity.signing_key, &b.identity.agreement_key],
    )
    .map_err(|e| CaseError::rejected("bundle", e))?;
    Ok(())
}

fn bad_kem_modulus(
    p: &dyn CryptoProvider,
    seed: &sova::Secret<32>,
    b: &mut PrekeyBundle,
) -> Result<(), CaseError> {
    b.kem_prekey[0] = 0xff;
    b.kem_prekey[1] |= 0x0f;
    b.kem_prekey_signature = sign_prekey(
        p,
        seed,
        b.kem_prekey_kind,
        b.kem_prekey_id,
        &b.kem_prekey[..],
    )?;
    Ok(())
}

/// Bundles that break two or three rules at once, so that the order of the
/// checks of spec §7.3 and §7.4 is fixed: the parser's rules in field order,
/// then the three signatures in order, then (after both draws) the DH values,
/// then the encapsulation. Appended after the other cases.
fn several_faults(g: &mut FileGen<'_>) -> Result<(), CaseError> {
    fn none(
        _: &dyn CryptoProvider,
        _: &sova::Secret<32>,
        _: &mut PrekeyBundle,
    ) -> Result<(), CaseError> {
        Ok(())
    }
    fn low_order_opk(
        _: &dyn CryptoProvider,
        _: &sova::Secret<32>,
        b: &mut PrekeyBundle,
    ) -> Result<(), CaseError> {
        b.one_time_prekey = Some((3, LOW_ORDER_POINT));
        Ok(())
    }
    let cases: &[(&str, &[Forge], Mutation)] = &[
        ("version 0x02 and type 0x03", &[none], |b| {
            set(b, 0, 0x02);
            set(b, 1, 0x03);
        }),
        (
            "one-time prekey flag 0x02 and the last byte removed",
            &[none],
            |b| {
                set(b, B_FLAG, 0x02);
                b.pop();
            },
        ),
        (
            "ML-KEM prekey kind 0x01 and a byte appended",
            &[none],
            |b| {
                set(b, B_KEM_KIND, PrekeyKind::SignedX25519 as u8);
                b.push(0);
            },
        ),
        (
            "the last byte removed and the identity binding bit flipped",
            &[none],
            |b| {
                b.pop();
                flip(b, B_BINDING);
            },
        ),
        (
            "a byte appended and the identity binding bit flipped",
            &[none],
            |b| {
                b.push(0);
                flip(b, B_BINDING);
            },
        ),
        (
            "identity binding, signed prekey signature and ML-KEM prekey signature bits flipped",
            &[none],
            |b| {
                flip(b, B_BINDING);
                flip(b, B_SPK_SIG);
                flip(b, B_KEM_SIG);
            },
        ),
        (
            "signed prekey signature and ML-KEM prekey signature bits flipped",
            &[none],
            |b| {
                flip(b, B_SPK_SIG);
                flip(b, B_KEM_SIG);
            },
        ),
        (
            "validly signed low-order signed prekey, ML-KEM prekey signature bit flipped",
            &[low_order_spk],
            |b| flip(b, B_KEM_SIG),
        ),
        (
            "validly bound low-order identity agreement key, ML-KEM prekey signature bit flipped",
            &[low_order_identity],
            |b| flip(b, B_KEM_SIG),
        ),
        (
            "validly signed ML-KEM key failing the modulus check and a low-order one-time prekey",
            &[bad_kem_modulus, low_order_opk],
            |_| {},
        ),
        (
            "validly signed low-order signed prekey, validly bound low-order identity key, \
             validly signed ML-KEM key failing the modulus check",
            &[low_order_spk, low_order_identity, bad_kem_modulus],
            |_| {},
        ),
    ];
    for (description, forges, mutate) in cases {
        g.case(|c| {
            let p = c.provider();
            let (secrets, bob, _, _) = responder(p, c)?;
            let mut bundle = bob.bundle(None, None).map_err(rejected_at("bundle"))?;
            let seed = secrets.signing_seed("responder")?;
            for forge in *forges {
                forge(p, &seed, &mut bundle)?;
            }
            let mut bytes = bundle.to_bytes();
            mutate(&mut bytes);
            start_case(c, description, bytes)
        })?;
    }
    Ok(())
}

fn generate(g: &mut FileGen<'_>) -> Result<(), CaseError> {
    start_cases(g)?;
    accept_cases(g)?;
    several_faults(g)
}
