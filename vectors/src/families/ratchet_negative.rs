//! `ratchet-negative.json`: messages a receiver must reject, each with the
//! error class it must produce, after which its state must be unchanged
//! (spec §5.5.3, §5.7, §5.8, §6.5; format in spec §4.6).

use serde::{Deserialize, Serialize};
use sova::ratchet::kdf::{header_keys, header_nonce};
use sova::ratchet::message::ParseError;
use sova::ratchet::{DecryptError, HeaderMode};
use sova::CryptoProvider;
use sova::Secret;

use super::ratchet_transcripts::{Party, Session, Setup, Step};
use crate::family::{Case, CaseError, Family, FileGen, Kind};
use crate::Bytes;

/// The file name.
pub(crate) const FILE: &str = "ratchet-negative.json";

/// The family of `ratchet-negative.json`.
pub(crate) const FAMILY: Family = Family::new(
    FILE,
    "Ratchet messages that must be rejected: tampered, malformed, replayed, over a limit, \
     of the wrong type; each with its error class, leaving the receiver's state unchanged \
     (spec §5.8, §6.5; format: spec §4.6).",
    &[Kind::of::<Rejection>()],
    generate,
);

/// The error class of a rejected message, as named in spec §5.8 / §6.5.
pub(crate) fn error_class(e: &DecryptError) -> String {
    match e {
        DecryptError::Malformed(p) => format!(
            "Malformed({})",
            match p {
                ParseError::Truncated(_) => "Truncated",
                ParseError::UnsupportedVersion(_) => "UnsupportedVersion",
                ParseError::UnknownType(_) => "UnknownType",
                ParseError::InvalidBodyLength(_) => "InvalidBodyLength",
                ParseError::TrailingBytes(_) => "TrailingBytes",
                _ => "Other",
            }
        ),
        DecryptError::WrongMessageType(_) => "WrongMessageType".into(),
        DecryptError::HeaderAuthentication => "HeaderAuthentication".into(),
        DecryptError::Authentication => "Authentication".into(),
        DecryptError::DuplicateOrExpired { .. } => "DuplicateOrExpired".into(),
        DecryptError::TooManySkipped { .. } => "TooManySkipped".into(),
        DecryptError::BeyondChainEnd { .. } => "BeyondChainEnd".into(),
        DecryptError::InvalidPadding => "InvalidPadding".into(),
        DecryptError::LowOrderRatchetKey => "LowOrderRatchetKey".into(),
        _ => "Other".into(),
    }
}

/// The class of a session's decryption error: the same names as the
/// ratchet's (spec §7.10), which the session layer repeats.
pub(crate) fn session_error_class(e: &sova::session::DecryptError) -> String {
    use sova::session::DecryptError as S;
    let r = match *e {
        S::Malformed(p) => DecryptError::Malformed(p),
        S::WrongMessageType(t) => DecryptError::WrongMessageType(t),
        S::HeaderAuthentication => DecryptError::HeaderAuthentication,
        S::Authentication => DecryptError::Authentication,
        S::DuplicateOrExpired { n } => DecryptError::DuplicateOrExpired { n },
        S::TooManySkipped { n, skip } => DecryptError::TooManySkipped { n, skip },
        S::BeyondChainEnd { n, end } => DecryptError::BeyondChainEnd { n, end },
        S::InvalidPadding => DecryptError::InvalidPadding,
        S::LowOrderRatchetKey => DecryptError::LowOrderRatchetKey,
        _ => return "Other".into(),
    };
    error_class(&r)
}

/// A setup conversation (every step succeeds), then one message to `receiver` that must be rejected.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Rejection {
    description: String,
    #[serde(flatten)]
    setup: Setup,
    steps: Vec<StepInput>,
    receiver: Party,
    message: Bytes,
    error: String,
}

/// The inputs of a setup step (the transcripts file shows the intermediates).
#[derive(Serialize, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub(crate) struct StepInput {
    action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sender: Option<Party>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    plaintext: Option<Bytes>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ratchet_private: Option<Bytes>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    salt: Option<Bytes>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    message_index: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    message: Option<Bytes>,
}

pub(crate) fn replay(
    p: &dyn CryptoProvider,
    setup: &Setup,
    steps: &[StepInput],
) -> Result<(Session, Vec<StepInput>), CaseError> {
    let mut session = setup.start(p)?;
    let mut out = Vec::new();
    for (i, s) in steps.iter().enumerate() {
        let step = match s.action.as_str() {
            "send" => {
                let mut st = Step::send(
                    s.sender.unwrap_or(Party::Initiator),
                    s.plaintext
                        .as_ref()
                        .map(|b| b.as_slice().to_vec())
                        .unwrap_or_default(),
                    s.ratchet_private.as_ref().map(|b| b.as_slice().to_vec()),
                    s.salt.as_ref().map(|b| b.as_slice().to_vec()),
                );
                st.sender = s.sender;
                st
            }
            _ => Step::deliver(s.message_index.unwrap_or(usize::MAX)),
        };
        let done = session.run(p, &step, &format!("steps[{i}]"), None)?;
        out.push(StepInput {
            action: done.action.clone(),
            sender: done.sender,
            plaintext: if done.action == "send" {
                done.plaintext.clone()
            } else {
                None
            },
            ratchet_private: done.ratchet_private.clone(),
            salt: done.salt.clone(),
            message_index: done.message_index,
            message: done.message.clone(),
        });
    }
    Ok((session, out))
}

impl Rejection {
    fn compute(
        p: &dyn CryptoProvider,
        description: String,
        setup: Setup,
        steps: &[StepInput],
        receiver: Party,
        message: Bytes,
    ) -> Result<Self, CaseError> {
        let (mut session, steps) = replay(p, &setup, steps)?;
        let r = session.party(receiver);
        let before = r.to_bytes();
        let error = match r.decrypt_with(p, message.as_slice()) {
            Ok(_) => {
                return Err(CaseError::check_failed(
                    "message",
                    "the message was accepted",
                ))
            }
            Err(e) => error_class(&e),
        };
        if r.to_bytes() != before {
            return Err(CaseError::check_failed(
                "message",
                "the rejected message changed the receiver's state",
            ));
        }
        Ok(Self {
            description,
            setup: setup.recompute(p)?,
            steps,
            receiver,
            message,
            error,
        })
    }
}

impl Case for Rejection {
    const KIND: &'static str = "rejection";
    fn recompute(&self, p: &dyn CryptoProvider) -> Result<Self, CaseError> {
        Self::compute(
            p,
            self.description.clone(),
            self.setup.clone(),
            &self.steps,
            self.receiver,
            self.message.clone(),
        )
    }
}

const A: Party = Party::Initiator;
const B: Party = Party::Responder;

/// The standard setup: Alice sends 0 and 1, Bob receives 0; Bob replies (delivered),
/// Alice sends 2 (new chain, delivered); Bob sends again (not delivered), so
/// that he holds a ratchet key pair for a new chain of Alice's (spec §5.5.3).
/// Returns the steps with generator randomness.
fn base_steps(c: &crate::family::Inputs<'_>) -> Vec<StepInput> {
    let send = |i: usize, who: Party, len: usize| StepInput {
        action: "send".into(),
        sender: Some(who),
        plaintext: Some(c.bytes(&format!("steps[{i}].plaintext"), len).into()),
        ratchet_private: Some(c.bytes(&format!("steps[{i}].ratchet_private"), 32).into()),
        salt: Some(c.bytes(&format!("steps[{i}].salt"), 16).into()),
        message_index: None,
        message: None,
    };
    let deliver = |k: usize| StepInput {
        action: "deliver".into(),
        sender: None,
        plaintext: None,
        ratchet_private: None,
        salt: None,
        message_index: Some(k),
        message: None,
    };
    vec![
        send(0, A, 10),
        send(1, A, 10),
        deliver(0),
        send(3, B, 10),
        deliver(2),
        send(5, A, 10),
        deliver(3),
        send(7, B, 10),
    ]
}

/// Strips random bytes from sends that did not draw them (the replay reports
/// which did); generation first runs with candidates everywhere.
fn settle(
    p: &dyn CryptoProvider,
    setup: &Setup,
    steps: Vec<StepInput>,
) -> Result<(Session, Vec<StepInput>), CaseError> {
    replay(p, setup, &steps)
}

type Mutation = fn(&mut Vec<u8>);

fn generate(g: &mut FileGen<'_>) -> Result<(), CaseError> {
    // (description, mode, which message to start from, mutation, receiver)
    // Message indices: 0, 1 from Alice's first chain; 2 from Bob; 3 from Alice's second chain.
    let cases: &[(&str, HeaderMode, usize, Mutation)] = &[
        (
            "replay of a delivered message",
            HeaderMode::Plain,
            0,
            |_| {},
        ),
        (
            "replay of a delivered message (encrypted header)",
            HeaderMode::Encrypted,
            0,
            |_| {},
        ),
        ("one body bit flipped", HeaderMode::Plain, 1, |m| {
            flip(m, 70)
        }),
        (
            "one body bit flipped (encrypted header)",
            HeaderMode::Encrypted,
            1,
            |m| flip(m, 100),
        ),
        ("tag bit flipped", HeaderMode::Plain, 1, |m| {
            let l = m.len();
            flip(m, l - 1)
        }),
        (
            "message number changed in the clear header",
            HeaderMode::Plain,
            3,
            |m| m[41] = 0x01,
        ),
        (
            "encrypted header bit flipped",
            HeaderMode::Encrypted,
            1,
            |m| flip(m, 20),
        ),
        ("header nonce bit flipped", HeaderMode::Encrypted, 1, |m| {
            flip(m, 2)
        }),
        ("truncated by one byte", HeaderMode::Plain, 1, |m| {
            m.pop();
        }),
        ("one trailing byte", HeaderMode::Plain, 1, |m| m.push(0)),
        ("unsupported version", HeaderMode::Plain, 1, |m| m[0] = 0x02),
        ("unknown message type", HeaderMode::Plain, 1, |m| {
            m[1] = 0x07
        }),
        (
            "body length not a padded length",
            HeaderMode::Plain,
            1,
            |m| {
                m[58..62].copy_from_slice(&33u32.to_be_bytes());
            },
        ),
        ("empty input", HeaderMode::Plain, 1, Vec::clear),
        ("skips more than MAX_SKIP keys", HeaderMode::Plain, 3, |m| {
            m[38..42].copy_from_slice(&2002u32.to_be_bytes());
        }),
        (
            "beyond the announced end of an old chain",
            HeaderMode::Plain,
            0,
            |m| {
                m[38..42].copy_from_slice(&7u32.to_be_bytes());
            },
        ),
        (
            "message number 2^32 - 1, which no chain reaches",
            HeaderMode::Plain,
            3,
            |m| {
                m[38..42].copy_from_slice(&u32::MAX.to_be_bytes());
            },
        ),
        ("low-order ratchet public key", HeaderMode::Plain, 3, |m| {
            m[2..34].fill(0)
        }),
    ];
    for (description, mode, index, mutate) in cases {
        g.case(|c| {
            let p = c.provider();
            let setup = Setup::new(
                p,
                c,
                *mode,
                b"initiator identity | responder identity".to_vec(),
            );
            let (session, steps) = settle(p, &setup, base_steps(c))?;
            let (sender, wire) = session.sent[*index].clone();
            let mut message = wire;
            mutate(&mut message);
            let receiver = if *description == "low-order ratchet public key" {
                B
            } else {
                sender_other(sender)
            };
            Rejection::compute(
                p,
                (*description).to_owned(),
                setup,
                &steps,
                receiver,
                message.into(),
            )
        })?;
    }
    // A header-mode mismatch: a plain-header message offered to an encrypted-header session.
    g.case(|c| {
        let p = c.provider();
        let plain = Setup::new(p, c, HeaderMode::Plain, b"ad".to_vec());
        let (session, _) = settle(p, &plain, base_steps(c))?;
        let message = session.sent[1].1.clone();
        let enc = Setup::new(p, c, HeaderMode::Encrypted, b"ad".to_vec());
        let (_, steps) = settle(p, &enc, base_steps(c))?;
        Rejection::compute(
            p,
            "plain-header message in an encrypted-header session".into(),
            enc,
            &steps,
            B,
            message.into(),
        )
    })?;
    special_cases(g)?;
    multi_fault_cases(g)
}

/// The X25519 base point `u = 9`: a valid public key no party of the setup holds.
fn unknown_key(m: &mut [u8]) {
    m[2..34].fill(0);
    m[2] = 9;
}

/// Messages that break several rules at once: the error is that of the rule
/// checked first (spec §6.5, then §5.5.3), so the order of the checks is fixed
/// by vectors and not only by prose. Same setup as the first cases.
fn multi_fault_cases(g: &mut FileGen<'_>) -> Result<(), CaseError> {
    let cases: &[(&str, HeaderMode, usize, Mutation)] = &[
        (
            "version 0x02 and truncated to 1 byte",
            HeaderMode::Plain,
            1,
            |m| {
                m.truncate(1);
                m[0] = 0x02;
            },
        ),
        (
            "version 0x02 and unknown type 0x07",
            HeaderMode::Plain,
            1,
            |m| {
                m[0] = 0x02;
                m[1] = 0x07;
            },
        ),
        (
            "unknown type 0x07 and truncated to 2 bytes",
            HeaderMode::Plain,
            1,
            |m| {
                m.truncate(2);
                m[1] = 0x07;
            },
        ),
        (
            "unknown type 0x07 and fixed fields truncated (30 bytes)",
            HeaderMode::Plain,
            1,
            |m| {
                m.truncate(30);
                m[1] = 0x07;
            },
        ),
        (
            "body_len 33 and one trailing byte",
            HeaderMode::Plain,
            1,
            |m| {
                m[58..62].copy_from_slice(&33u32.to_be_bytes());
                m.push(0);
            },
        ),
        (
            "body_len 33 and the body truncated by one byte",
            HeaderMode::Plain,
            1,
            |m| {
                m[58..62].copy_from_slice(&33u32.to_be_bytes());
                m.pop();
            },
        ),
        (
            "body_len 2^20 + 32 (over the largest body) and the input ends after it",
            HeaderMode::Plain,
            1,
            |m| {
                m[58..62].copy_from_slice(&(1u32 << 20 | 32).to_be_bytes());
            },
        ),
        (
            "encrypted header bit flipped and one trailing byte",
            HeaderMode::Encrypted,
            1,
            |m| {
                flip(m, 20);
                m.push(0);
            },
        ),
        (
            "encrypted header bit flipped and body_len 33",
            HeaderMode::Encrypted,
            1,
            |m| {
                flip(m, 20);
                m[86..90].copy_from_slice(&33u32.to_be_bytes());
            },
        ),
        (
            "new ratchet key and n = 2^32 - 1 (BeyondChainEnd before TooManySkipped)",
            HeaderMode::Plain,
            3,
            |m| {
                unknown_key(m);
                m[38..42].copy_from_slice(&u32::MAX.to_be_bytes());
            },
        ),
        (
            "low-order ratchet key and n = 2001 (TooManySkipped before the DH)",
            HeaderMode::Plain,
            3,
            |m| {
                m[2..34].fill(0);
                m[38..42].copy_from_slice(&2001u32.to_be_bytes());
            },
        ),
        (
            "closed chain: n = END exactly, whose key is absent too",
            HeaderMode::Plain,
            0,
            |m| m[38..42].copy_from_slice(&2u32.to_be_bytes()),
        ),
        (
            "closed chain: key already used and tag bit flipped (DuplicateOrExpired before the tag)",
            HeaderMode::Plain,
            0,
            |m| {
                let l = m.len();
                flip(m, l - 1)
            },
        ),
        (
            "closed chain: stored key present and tag bit flipped (the key is kept)",
            HeaderMode::Plain,
            1,
            |m| {
                let l = m.len();
                flip(m, l - 1)
            },
        ),
        (
            "open chain: n = 2001, skipping exactly MAX_SKIP keys, fails only at the tag",
            HeaderMode::Plain,
            3,
            |m| m[38..42].copy_from_slice(&2001u32.to_be_bytes()),
        ),
    ];
    for (description, mode, index, mutate) in cases {
        g.case(|c| {
            let p = c.provider();
            let setup = Setup::new(
                p,
                c,
                *mode,
                b"initiator identity | responder identity".to_vec(),
            );
            let (session, steps) = settle(p, &setup, base_steps(c))?;
            let (sender, wire) = session.sent[*index].clone();
            let mut message = wire;
            mutate(&mut message);
            Rejection::compute(
                p,
                (*description).to_owned(),
                setup,
                &steps,
                sender_other(sender),
                message.into(),
            )
        })?;
    }
    // No ratchet key pair (the responder has not sent since its last
    // receiving step) and a new chain over MAX_SKIP: Authentication first.
    g.case(|c| {
        let p = c.provider();
        let setup = Setup::new(p, c, HeaderMode::Plain, b"ad".to_vec());
        let (session, steps) = settle(p, &setup, steps_of(c, &[Op::S(A, 4), Op::D(0)]))?;
        let mut m = session.sent[0].1.clone();
        unknown_key(&mut m);
        m[38..42].copy_from_slice(&2001u32.to_be_bytes());
        Rejection::compute(
            p,
            "new chain over MAX_SKIP when the receiver holds no ratchet key pair".into(),
            setup,
            &steps,
            B,
            m.into(),
        )
    })
}

/// A script for the special cases: `S(party, len)` sends, `D(k)` delivers message `k`.
pub(crate) enum Op {
    S(Party, usize),
    D(usize),
}

/// The steps of `ops`, with generator inputs.
pub(crate) fn steps_of(c: &crate::family::Inputs<'_>, ops: &[Op]) -> Vec<StepInput> {
    ops.iter()
        .enumerate()
        .map(|(i, op)| match op {
            Op::S(who, len) => StepInput {
                action: "send".into(),
                sender: Some(*who),
                plaintext: Some(c.bytes(&format!("steps[{i}].plaintext"), *len).into()),
                ratchet_private: Some(c.bytes(&format!("steps[{i}].ratchet_private"), 32).into()),
                salt: Some(c.bytes(&format!("steps[{i}].salt"), 16).into()),
                message_index: None,
                message: None,
            },
            Op::D(k) => StepInput {
                action: "deliver".into(),
                sender: None,
                plaintext: None,
                ratchet_private: None,
                salt: None,
                message_index: Some(*k),
                message: None,
            },
        })
        .collect()
}

/// Runs `steps` and returns the session and every step's full record (with intermediates).
fn run_full(
    p: &dyn CryptoProvider,
    setup: &Setup,
    steps: &[StepInput],
) -> Result<(Session, Vec<Step>), CaseError> {
    let (_, settled) = replay(p, setup, steps)?;
    let mut session = setup.start(p)?;
    let mut out = Vec::new();
    for (i, s) in settled.iter().enumerate() {
        let step = match s.action.as_str() {
            "send" => Step::send(
                s.sender.unwrap_or(Party::Initiator),
                s.plaintext
                    .as_ref()
                    .map(|b| b.as_slice().to_vec())
                    .unwrap_or_default(),
                s.ratchet_private.as_ref().map(|b| b.as_slice().to_vec()),
                s.salt.as_ref().map(|b| b.as_slice().to_vec()),
            ),
            _ => Step::deliver(s.message_index.unwrap_or(usize::MAX)),
        };
        out.push(session.run(p, &step, &format!("steps[{i}]"), None)?);
    }
    Ok((session, out))
}

fn key32(field: &str, b: &Option<Bytes>) -> Result<Secret<32>, CaseError> {
    let b = b
        .as_ref()
        .ok_or_else(|| CaseError::malformed(field, "missing"))?;
    Ok(Secret::from_bytes(crate::family::fixed::<32>(
        field,
        b.as_slice(),
    )?))
}

fn session_ad_prefix(ad: &[u8]) -> Vec<u8> {
    let mut out = (ad.len() as u16).to_be_bytes().to_vec();
    out.extend_from_slice(ad);
    out
}

/// Cases that need their own setup or a message re-sealed with the sender's keys.
fn special_cases(g: &mut FileGen<'_>) -> Result<(), CaseError> {
    use Op::{D, S};
    const AD: &[u8] = b"initiator identity | responder identity";
    // A message decrypted with a stored skipped key, replayed.
    g.case(|c| {
        let p = c.provider();
        let setup = Setup::new(p, c, HeaderMode::Plain, AD.to_vec());
        let steps = steps_of(c, &[S(A, 4), S(A, 4), S(A, 4), D(2), D(0)]);
        let (session, steps) = settle(p, &setup, steps)?;
        let message = session.sent[0].1.clone();
        Rejection::compute(
            p,
            "replay of a message decrypted with a stored skipped key".into(),
            setup,
            &steps,
            B,
            message.into(),
        )
    })?;
    // Alice's message 0 under a ratchet key no chain has (a new chain), with
    // message number `n`, offered to Bob after `ops`.
    let new_chain = |g: &mut FileGen<'_>, description: &str, ops: &[Op], n: u32| {
        g.case(|c| {
            let p = c.provider();
            let setup = Setup::new(p, c, HeaderMode::Plain, AD.to_vec());
            let (session, steps) = settle(p, &setup, steps_of(c, ops))?;
            let mut m = session.sent[0].1.clone();
            let other = p.x25519_public_key(&Secret::from_bytes(
                c.array::<32>("unknown_ratchet_private"),
            ));
            m[2..34].copy_from_slice(&other);
            m[38..42].copy_from_slice(&n.to_be_bytes());
            Rejection::compute(p, description.into(), setup, &steps, B, m.into())
        })
    };
    // A second new chain before the receiver has sent: its ratchet key pair
    // was erased by the last receiving step, so nothing can answer it.
    new_chain(
        g,
        "new ratchet key after a receiving step, before the receiver has sent",
        &[S(A, 4), D(0)],
        0,
    )?;
    // A new chain whose first message would skip more than MAX_SKIP keys: rejected before any DH.
    new_chain(
        g,
        "new chain skipping more than MAX_SKIP keys",
        &[S(A, 4), D(0), S(B, 1)],
        2001,
    )?;
    // The initiator receives before it has a ratchet key (a message of another session).
    g.case(|c| {
        let p = c.provider();
        let setup = Setup::new(p, c, HeaderMode::Plain, AD.to_vec());
        let mut other = setup.clone();
        other.session_secret = c.bytes("other_session_secret", 32).into();
        let (session, _) = settle(p, &other, steps_of(c, &[S(A, 4), D(0), S(B, 4)]))?;
        let message = session.sent[1].1.clone();
        Rejection::compute(
            p,
            "initiator receives before its first message".into(),
            setup,
            &[],
            A,
            message.into(),
        )
    })?;
    // A late message of a chain that has left the window of MAX_RECEIVING_CHAINS.
    g.case(|c| {
        let p = c.provider();
        let setup = Setup::new(p, c, HeaderMode::Plain, AD.to_vec());
        let mut ops = vec![S(A, 4), S(A, 4), D(1)];
        let mut next = 2;
        for _ in 0..5 {
            ops.push(S(B, 1));
            ops.push(D(next));
            ops.push(S(A, 1));
            ops.push(D(next + 1));
            next += 2;
        }
        let (session, steps) = settle(p, &setup, steps_of(c, &ops))?;
        let message = session.sent[0].1.clone();
        Rejection::compute(
            p,
            "late message of a chain older than MAX_RECEIVING_CHAINS".into(),
            setup,
            &steps,
            B,
            message.into(),
        )
    })?;
    // Canonically encrypted, but non-canonical padding (sealed with the sender's real keys).
    g.case(|c| {
        let p = c.provider();
        let setup = Setup::new(p, c, HeaderMode::Plain, AD.to_vec());
        let steps = steps_of(c, &[S(A, 4)]);
        let (_, full) = run_full(p, &setup, &steps)?;
        let (_, settled) = replay(p, &setup, &steps)?;
        let send = &full[0];
        let key = key32("aead_key", &send.aead_key)?;
        let nonce = crate::family::fixed::<12>(
            "aead_nonce",
            send.aead_nonce
                .as_ref()
                .map(Bytes::as_slice)
                .unwrap_or_default(),
        )?;
        let wire = send
            .message
            .as_ref()
            .map(|b| b.as_slice().to_vec())
            .unwrap_or_default();
        let prefix = &wire[..62];
        let mut ad = session_ad_prefix(AD);
        ad.extend_from_slice(prefix);
        let mut body = vec![0xaa_u8; 32]; // no 0x80 end marker
        let tag = p.aead_seal(&key, &nonce, &ad, &mut body);
        let mut m = prefix.to_vec();
        m.extend_from_slice(&body);
        m.extend_from_slice(&tag);
        Rejection::compute(
            p,
            "authentic body whose padding is not canonical".into(),
            setup,
            &settled,
            B,
            m.into(),
        )
    })?;
    // Encrypted header that opens under the right key, with a nonce other than HeaderNonce(HNK, n).
    g.case(|c| {
        let p = c.provider();
        let setup = Setup::new(p, c, HeaderMode::Encrypted, AD.to_vec());
        let steps = steps_of(c, &[S(A, 4)]);
        let (_, full) = run_full(p, &setup, &steps)?;
        let (_, settled) = replay(p, &setup, &steps)?;
        let send = &full[0];
        let hk = key32("header_key", &send.header_key)?;
        let hks = header_keys(p, &hk).map_err(|e| CaseError::rejected("header_key", e))?;
        let header = send
            .header
            .as_ref()
            .map(|b| b.as_slice().to_vec())
            .unwrap_or_default();
        // The nonce of message 1 with this header's salt: right key, wrong n.
        let salt = crate::family::fixed::<16>("header", header.get(40..56).unwrap_or_default())?;
        let wrong = header_nonce(p, &hks.nonce_key, 1, &salt)
            .map_err(|e| CaseError::rejected("header_nonce", e))?;
        let wire = send
            .message
            .as_ref()
            .map(|b| b.as_slice().to_vec())
            .unwrap_or_default();
        let mut hdr = header.clone();
        let mut had = session_ad_prefix(AD);
        had.extend_from_slice(&wire[..2]);
        let htag = p.aead_seal(&hks.encryption_key, &wrong, &had, &mut hdr);
        let mut m = wire[..2].to_vec();
        m.extend_from_slice(&wrong);
        m.extend_from_slice(&hdr);
        m.extend_from_slice(&htag);
        m.extend_from_slice(&wire[86..]);
        Rejection::compute(
            p,
            "encrypted header under a nonce other than HeaderNonce(HNK, n)".into(),
            setup,
            &settled,
            B,
            m.into(),
        )
    })?;
    Ok(())
}

fn sender_other(p: Party) -> Party {
    match p {
        Party::Initiator => Party::Responder,
        Party::Responder => Party::Initiator,
    }
}

fn flip(m: &mut [u8], i: usize) {
    if let Some(b) = m.get_mut(i) {
        *b ^= 0x01;
    }
}
