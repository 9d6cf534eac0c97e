//! `ratchet-limits.json`: the limits of spec §5.5.5 at their boundaries —
//! skips of exactly `MAX_SKIP` and `MAX_SKIP + 1` in a new chain and within a
//! chain, eviction under `MAX_STORED_KEYS` across chains, and a chain closed
//! with more than `MAX_SKIP` remaining keys whose keys are evicted by the step
//! that stored them (format in spec §4.10).
//!
//! The cases are compact: a script of `send` steps (a party sends `count`
//! messages) and `deliver` steps (one message, by index), with every random
//! draw and plaintext derived from the case's `seed` by the rule of spec
//! §4.10.1. Each step records the SHA-256 of the acting party's state encoding
//! (spec §8.2) after it; a delivery also records its result and the number of
//! stored skipped keys.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sova::ratchet::{HeaderMode, Ratchet};
use sova::CryptoProvider;

use super::ratchet_negative::error_class;
use super::ratchet_transcripts::{Party, Session, Setup};
use crate::family::{Case, CaseError, Family, FileGen, Inputs, Kind};
use crate::replay::ReplayRng;
use crate::Bytes;

/// The file name.
pub(crate) const FILE: &str = "ratchet-limits.json";

/// The family of `ratchet-limits.json`.
pub(crate) const FAMILY: Family = Family::new(
    FILE,
    "Double Ratchet limits at their boundaries: skips of MAX_SKIP (accepted) and MAX_SKIP + 1 \
     (TooManySkipped) in a new chain and within a chain, eviction under MAX_STORED_KEYS across \
     chains, and a closed chain whose remaining keys are evicted by the step that stored them; \
     inputs derived from a seed, each step's state given by the SHA-256 of its encoding \
     (spec §5.5.5, §8.2; format: spec §4.10).",
    &[Kind::of::<Limits>()],
    generate,
);

/// One scripted session.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Limits {
    description: String,
    #[serde(flatten)]
    setup: Setup,
    seed: Bytes,
    steps: Vec<LimitStep>,
}

/// A `send` step (`sender`, `count`; outputs `first_message`,
/// `messages_sha256`) or a `deliver` step (`message_index`; outputs
/// `receiver`, `result`, `stored_keys`), each with `state_sha256`.
#[derive(Serialize, Deserialize, Clone, Default)]
#[serde(deny_unknown_fields)]
struct LimitStep {
    action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sender: Option<Party>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    count: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    message_index: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    first_message: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    messages_sha256: Option<Bytes>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    receiver: Option<Party>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    result: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    stored_keys: Option<usize>,
    #[serde(default)]
    state_sha256: Bytes,
}

/// `SHA-256(seed || purpose || u32(k))`, the rule of spec §4.10.1.
fn derived(seed: &[u8], purpose: &str, k: usize) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(seed);
    h.update(purpose.as_bytes());
    h.update((k as u32).to_be_bytes());
    h.finalize().to_vec()
}

fn other(p: Party) -> Party {
    match p {
        Party::Initiator => Party::Responder,
        Party::Responder => Party::Initiator,
    }
}

fn state_hash(r: &Ratchet) -> Bytes {
    Sha256::digest(r.to_bytes()).to_vec().into()
}

impl Limits {
    fn compute(
        p: &dyn CryptoProvider,
        description: String,
        setup: Setup,
        seed: Bytes,
        script: &[LimitStep],
    ) -> Result<Self, CaseError> {
        let mut session: Session = setup.start(p)?;
        let mut steps = Vec::with_capacity(script.len());
        for (i, s) in script.iter().enumerate() {
            let field = format!("steps[{i}]");
            let out = match s.action.as_str() {
                "send" => {
                    let sender = s
                        .sender
                        .ok_or_else(|| CaseError::malformed(&field, "a send needs a sender"))?;
                    let count = s
                        .count
                        .ok_or_else(|| CaseError::malformed(&field, "a send needs a count"))?;
                    let first = session.sent.len();
                    let mut all = Sha256::new();
                    for k in first..first + count as usize {
                        let draw = |_: usize, n: usize| {
                            let purpose = if n == 32 { "ratchet_private" } else { "salt" };
                            let mut v = derived(seed.as_slice(), purpose, k);
                            v.truncate(n);
                            v
                        };
                        let mut rng = ReplayRng::with_fresh(Vec::new(), Some(&draw));
                        let m = session
                            .party(sender)
                            .encrypt_with(p, &mut rng, &(k as u32).to_be_bytes())
                            .map_err(|e| CaseError::rejected(&field, e))?;
                        rng.finish().map_err(|e| CaseError::malformed(&field, e))?;
                        all.update(&m);
                        session.sent.push((sender, m));
                    }
                    LimitStep {
                        action: s.action.clone(),
                        sender: Some(sender),
                        count: Some(count),
                        first_message: Some(first),
                        messages_sha256: Some(all.finalize().to_vec().into()),
                        state_sha256: state_hash(session.party(sender)),
                        ..LimitStep::default()
                    }
                }
                "deliver" => {
                    let k = s.message_index.unwrap_or(usize::MAX);
                    let (sender, m) = session.sent.get(k).cloned().ok_or_else(|| {
                        CaseError::malformed(&field, "message_index names no message sent so far")
                    })?;
                    let receiver = other(sender);
                    let r = session.party(receiver);
                    let before = r.to_bytes();
                    let result = match r.decrypt_with(p, &m) {
                        Ok(pt) if pt == (k as u32).to_be_bytes() => "ok".to_owned(),
                        Ok(_) => return Err(CaseError::check_failed(&field, "wrong plaintext")),
                        Err(e) => {
                            if r.to_bytes() != before {
                                return Err(CaseError::check_failed(
                                    &field,
                                    "a rejected message changed the state",
                                ));
                            }
                            error_class(&e)
                        }
                    };
                    LimitStep {
                        action: s.action.clone(),
                        message_index: Some(k),
                        receiver: Some(receiver),
                        result: Some(result),
                        stored_keys: Some(r.stored_keys()),
                        state_sha256: state_hash(r),
                        ..LimitStep::default()
                    }
                }
                _ => return Err(CaseError::malformed(&field, "unknown action")),
            };
            steps.push(out);
        }
        Ok(Self {
            description,
            setup: setup.recompute(p)?,
            seed,
            steps,
        })
    }
}

impl Case for Limits {
    const KIND: &'static str = "limits";
    fn recompute(&self, p: &dyn CryptoProvider) -> Result<Self, CaseError> {
        Self::compute(
            p,
            self.description.clone(),
            self.setup.clone(),
            self.seed.clone(),
            &self.steps,
        )
    }
}

/// A script: `S(party, count)` sends, `D(index)` delivers.
enum Op {
    S(Party, u32),
    D(usize),
}

fn script(ops: &[Op]) -> Vec<LimitStep> {
    ops.iter()
        .map(|op| match op {
            Op::S(who, count) => LimitStep {
                action: "send".into(),
                sender: Some(*who),
                count: Some(*count),
                ..LimitStep::default()
            },
            Op::D(k) => LimitStep {
                action: "deliver".into(),
                message_index: Some(*k),
                ..LimitStep::default()
            },
        })
        .collect()
}

fn case(
    g: &mut FileGen<'_>,
    description: &str,
    mode: HeaderMode,
    ops: &[Op],
) -> Result<(), CaseError> {
    g.case(|c: &Inputs<'_>| {
        let p = c.provider();
        let setup = Setup::new(p, c, mode, b"limits".to_vec());
        let seed: Bytes = c.bytes("seed", 32).into();
        Limits::compute(p, description.to_owned(), setup, seed, &script(ops))
    })
}

fn generate(g: &mut FileGen<'_>) -> Result<(), CaseError> {
    use Op::{D, S};
    const A: Party = Party::Initiator;
    const B: Party = Party::Responder;
    case(
        g,
        "new chain: a first message skipping MAX_SKIP + 1 keys is rejected, MAX_SKIP accepted",
        HeaderMode::Plain,
        &[S(A, 2002), D(2001), D(2000), D(2001), D(0), D(0)],
    )?;
    case(
        g,
        "within a chain: skipping MAX_SKIP + 1 keys is rejected, MAX_SKIP accepted",
        HeaderMode::Encrypted,
        &[S(A, 2003), D(0), D(2002), D(2001), D(1)],
    )?;
    case(
        g,
        "eviction under MAX_STORED_KEYS: the oldest chain first, lowest message number first",
        HeaderMode::Plain,
        &[
            S(A, 2002),
            D(0),
            D(2001),
            S(B, 1),
            D(2002),
            S(A, 6),
            D(2008),
            D(5),
            D(6),
            D(2003),
            S(B, 1),
            D(2009),
            S(A, 5),
            D(2014),
            D(7),
            D(9),
            D(2004),
        ],
    )?;
    case(
        g,
        "a chain closed with more than MAX_SKIP remaining keys; the step evicts keys it stored",
        HeaderMode::Encrypted,
        &[
            S(A, 2501),
            D(0),
            S(B, 1),
            D(2501),
            S(A, 101),
            D(2602),
            D(100),
            D(101),
            D(2000),
            D(2001),
            D(2500),
            D(2502),
        ],
    )?;
    case(
        g,
        "a new chain of MAX_SKIP skipped keys evicts every key of the chain it closes",
        HeaderMode::Plain,
        &[
            S(A, 2001),
            D(0),
            S(B, 1),
            D(2001),
            S(A, 2001),
            D(4002),
            D(1),
            D(2000),
            D(2002),
        ],
    )
}
