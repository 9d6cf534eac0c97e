//! `ratchet-transcripts.json`: whole two-party Double Ratchet conversations
//! from fixed initial secrets, with every intermediate value (spec §5, §6;
//! format in spec §4.5).
//!
//! A transcript is a script of `send` and `deliver` steps. The inputs are the
//! session secret, the session associated data, the responder's ratchet
//! private key, each plaintext, each delivery's message index, and the 32
//! random bytes drawn whenever a send starts a new sending chain
//! (`ratchet_private`). Everything else is output.

use serde::{Deserialize, Serialize};
use sova::ratchet::{HeaderMode, Ratchet, Trace};
use sova::{CryptoProvider, Secret};

use crate::family::{fixed, Case, CaseError, Family, FileGen, Inputs, Kind};
use crate::replay::ReplayRng;
use crate::Bytes;

/// The file name.
pub(crate) const FILE: &str = "ratchet-transcripts.json";

/// The family of `ratchet-transcripts.json`.
pub(crate) const FAMILY: Family = Family::new(
    FILE,
    "Two-party Double Ratchet transcripts: in order, with several DH ratchet steps, out of \
     order across chains, with and without header encryption; every intermediate value \
     (spec §5, §6; format: spec §4.5).",
    &[Kind::of::<Transcript>()],
    generate,
);

/// Who acts in a step.
#[derive(Serialize, Deserialize, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Party {
    /// The party that starts the session.
    Initiator,
    /// The party whose ratchet key the initiator starts from.
    Responder,
}

impl Party {
    fn other(self) -> Self {
        match self {
            Self::Initiator => Self::Responder,
            Self::Responder => Self::Initiator,
        }
    }
}

/// A skipped message key stored by a decryption.
#[derive(Serialize, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub(crate) struct Skipped {
    n: u32,
    message_key: Bytes,
}

/// One step of a transcript. `send` steps have `sender`, `plaintext`,
/// `ratchet_private` (inputs) and `message`; `deliver` steps have
/// `message_index` (input), `receiver` and `plaintext`. The remaining fields
/// are intermediates and appear when the step computed them.
#[derive(Serialize, Deserialize, Clone, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct Step {
    pub(crate) action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) sender: Option<Party>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) message_index: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) receiver: Option<Party>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) plaintext: Option<Bytes>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) ratchet_private: Option<Bytes>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) salt: Option<Bytes>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ratchet_public: Option<Bytes>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    dh_output: Option<Bytes>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    root_key: Option<Bytes>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    next_header_key: Option<Bytes>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    chain_key: Option<Bytes>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    skipped_keys: Vec<Skipped>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    closed_chain_keys: Vec<Skipped>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    next_chain_key: Option<Bytes>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    message_key: Option<Bytes>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) aead_key: Option<Bytes>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) aead_nonce: Option<Bytes>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) header: Option<Bytes>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) header_key: Option<Bytes>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    header_nonce: Option<Bytes>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    padded_plaintext: Option<Bytes>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) message: Option<Bytes>,
}

impl Step {
    /// A send step's inputs.
    pub(crate) fn send(
        sender: Party,
        plaintext: Vec<u8>,
        ratchet_private: Option<Vec<u8>>,
        salt: Option<Vec<u8>>,
    ) -> Self {
        Self {
            action: "send".into(),
            sender: Some(sender),
            plaintext: Some(plaintext.into()),
            ratchet_private: ratchet_private.map(Into::into),
            salt: salt.map(Into::into),
            ..Self::default()
        }
    }

    /// A deliver step's inputs.
    pub(crate) fn deliver(message_index: usize) -> Self {
        Self {
            action: "deliver".into(),
            message_index: Some(message_index),
            ..Self::default()
        }
    }

    fn record(&mut self, t: &Trace) {
        let k = |x: &Option<Secret<32>>| x.as_ref().map(|s| Bytes::from(s.expose()));
        let keys = |v: &[(u32, Secret<32>)]| {
            v.iter()
                .map(|(n, mk)| Skipped {
                    n: *n,
                    message_key: mk.expose().into(),
                })
                .collect()
        };
        self.dh_output = k(&t.dh_output);
        self.root_key = k(&t.root_key);
        self.next_header_key = k(&t.next_header_key);
        self.chain_key = k(&t.chain_key);
        self.skipped_keys = keys(&t.skipped_keys);
        self.closed_chain_keys = keys(&t.closed_chain_keys);
        self.next_chain_key = k(&t.next_chain_key);
        self.message_key = k(&t.message_key);
        self.aead_key = k(&t.aead_key);
        self.aead_nonce = t.aead_nonce.map(Bytes::from);
        self.header = t.header.map(Bytes::from);
        self.header_key = k(&t.header_key);
        self.header_nonce = t.header_nonce.map(Bytes::from);
        self.padded_plaintext = Some(t.padded_plaintext.clone().into());
    }
}

/// The two parties of a scripted session.
pub(crate) struct Session {
    pub(crate) initiator: Ratchet,
    pub(crate) responder: Ratchet,
    pub(crate) sent: Vec<(Party, Vec<u8>)>,
}

/// The common inputs of a scripted session.
#[derive(Serialize, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub(crate) struct Setup {
    pub(crate) header_mode: String,
    pub(crate) session_secret: Bytes,
    pub(crate) session_ad: Bytes,
    pub(crate) responder_ratchet_private: Bytes,
    pub(crate) responder_ratchet_public: Bytes,
}

impl Setup {
    pub(crate) fn new(
        p: &dyn CryptoProvider,
        c: &Inputs<'_>,
        mode: HeaderMode,
        ad: Vec<u8>,
    ) -> Self {
        let private = c.array::<32>("responder_ratchet_private");
        Self {
            header_mode: mode_name(mode).into(),
            session_secret: c.bytes("session_secret", 32).into(),
            session_ad: ad.into(),
            responder_ratchet_public: p.x25519_public_key(&Secret::from_bytes(private)).into(),
            responder_ratchet_private: private.into(),
        }
    }

    /// The setup with its output recomputed.
    pub(crate) fn recompute(&self, p: &dyn CryptoProvider) -> Result<Self, CaseError> {
        let private = fixed::<32>(
            "responder_ratchet_private",
            self.responder_ratchet_private.as_slice(),
        )?;
        Ok(Self {
            responder_ratchet_public: p.x25519_public_key(&Secret::from_bytes(private)).into(),
            ..self.clone()
        })
    }

    pub(crate) fn start(&self, p: &dyn CryptoProvider) -> Result<Session, CaseError> {
        let mode = match self.header_mode.as_str() {
            "plain" => HeaderMode::Plain,
            "encrypted" => HeaderMode::Encrypted,
            _ => {
                return Err(CaseError::malformed(
                    "header_mode",
                    "expected \"plain\" or \"encrypted\"",
                ))
            }
        };
        let sk = Secret::from_bytes(fixed::<32>(
            "session_secret",
            self.session_secret.as_slice(),
        )?);
        let private = Secret::from_bytes(fixed::<32>(
            "responder_ratchet_private",
            self.responder_ratchet_private.as_slice(),
        )?);
        let public = p.x25519_public_key(&private);
        let ad = self.session_ad.as_slice();
        let initiator = Ratchet::initiator_with(p, &sk, public, ad, mode)
            .map_err(|e| CaseError::rejected("session_ad", e))?;
        let responder = Ratchet::responder_with(p, &sk, private, ad, mode)
            .map_err(|e| CaseError::rejected("session_ad", e))?;
        Ok(Session {
            initiator,
            responder,
            sent: Vec::new(),
        })
    }
}

pub(crate) fn mode_name(mode: HeaderMode) -> &'static str {
    match mode {
        HeaderMode::Plain => "plain",
        HeaderMode::Encrypted => "encrypted",
    }
}

impl Session {
    pub(crate) fn party(&mut self, who: Party) -> &mut Ratchet {
        match who {
            Party::Initiator => &mut self.initiator,
            Party::Responder => &mut self.responder,
        }
    }

    /// Runs one step, filling in its outputs. `fresh` supplies randomness
    /// when generating: the bytes of a draw of the given length (32 for a
    /// ratchet private key, 16 for a message salt).
    pub(crate) fn run(
        &mut self,
        p: &dyn CryptoProvider,
        step: &Step,
        field: &str,
        fresh: Option<&dyn Fn(usize) -> Vec<u8>>,
    ) -> Result<Step, CaseError> {
        let mut out = match step.action.as_str() {
            "send" => Step::send(
                step.sender
                    .ok_or_else(|| CaseError::malformed(&format!("{field}.sender"), "missing"))?,
                step.plaintext
                    .as_ref()
                    .ok_or_else(|| CaseError::malformed(&format!("{field}.plaintext"), "missing"))?
                    .as_slice()
                    .to_vec(),
                None,
                None,
            ),
            "deliver" => Step::deliver(step.message_index.ok_or_else(|| {
                CaseError::malformed(&format!("{field}.message_index"), "missing")
            })?),
            _ => {
                return Err(CaseError::malformed(
                    &format!("{field}.action"),
                    "expected send or deliver",
                ))
            }
        };
        if let (Some(sender), Some(pt)) = (out.sender, out.plaintext.clone()) {
            // Randomness for one send (spec §5.5.2): 32 bytes of a new ratchet
            // private key when the send starts a sending chain, then the
            // 16-byte salt. The recorded values when verifying, fresh
            // generator bytes (recorded as drawn) when generating.
            let starts_chain = self.party(sender).next_sending_number().is_none();
            let mut available = Vec::new();
            if starts_chain {
                if let Some(b) = &step.ratchet_private {
                    available.push(
                        fixed::<32>(&format!("{field}.ratchet_private"), b.as_slice())?.to_vec(),
                    );
                }
            }
            if let Some(b) = &step.salt {
                if available.len() == usize::from(starts_chain) {
                    available.push(fixed::<16>(&format!("{field}.salt"), b.as_slice())?.to_vec());
                }
            }
            let fresh_draw = fresh.map(|f| move |_: usize, len: usize| f(len));
            let mut rng = ReplayRng::with_fresh(
                available,
                fresh_draw
                    .as_ref()
                    .map(|f| f as &dyn Fn(usize, usize) -> Vec<u8>),
            );
            let (wire, trace) = self
                .party(sender)
                .encrypt_traced(p, &mut rng, pt.as_slice())
                .map_err(|e| CaseError::rejected(&format!("{field}.message"), e))?;
            let want = if starts_chain { 2 } else { 1 };
            let mut drawn = rng
                .finish()
                .ok()
                .filter(|d| d.len() == want)
                .ok_or_else(|| {
                    CaseError::malformed(
                        &format!("{field}.salt"),
                        "a send draws a 16-byte salt, after 32 bytes of a ratchet private key \
                         when it starts a sending chain",
                    )
                })?;
            out.salt = drawn.pop().map(Bytes::from);
            out.ratchet_private = drawn.pop().map(Bytes::from);
            out.record(&trace);
            out.ratchet_public = trace
                .ratchet_private
                .as_ref()
                .map(|k| Bytes::from(p.x25519_public_key(k)));
            out.message = Some(wire.clone().into());
            self.sent.push((sender, wire));
        } else if let Some(index) = out.message_index {
            let (sender, wire) = self.sent.get(index).cloned().ok_or_else(|| {
                CaseError::malformed(&format!("{field}.message_index"), "no such message")
            })?;
            let receiver = sender.other();
            let (pt, trace) = self
                .party(receiver)
                .decrypt_traced(p, &wire)
                .map_err(|e| CaseError::rejected(&format!("{field}.plaintext"), e))?;
            out.receiver = Some(receiver);
            out.record(&trace);
            out.plaintext = Some(pt.into());
        }
        Ok(out)
    }
}

/// One conversation.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Transcript {
    description: String,
    #[serde(flatten)]
    setup: Setup,
    steps: Vec<Step>,
}

impl Transcript {
    fn run(
        p: &dyn CryptoProvider,
        description: String,
        setup: Setup,
        steps: &[Step],
        fresh: Option<&dyn Fn(usize, usize) -> Vec<u8>>,
    ) -> Result<Self, CaseError> {
        let mut session = setup.start(p)?;
        let mut out = Vec::with_capacity(steps.len());
        for (i, step) in steps.iter().enumerate() {
            let field = format!("steps[{i}]");
            let f = fresh.map(|f| move |len: usize| f(i, len));
            let done = match &f {
                Some(f) => session.run(p, step, &field, Some(f))?,
                None => session.run(p, step, &field, None)?,
            };
            out.push(done);
        }
        Ok(Self {
            description,
            setup: setup.recompute(p)?,
            steps: out,
        })
    }
}

impl Case for Transcript {
    const KIND: &'static str = "transcript";
    fn recompute(&self, p: &dyn CryptoProvider) -> Result<Self, CaseError> {
        Self::run(
            p,
            self.description.clone(),
            self.setup.clone(),
            &self.steps,
            None,
        )
    }
}

/// A script: `S(party, len)` sends a plaintext of `len` bytes, `D(k)` delivers the k-th message sent.
enum Op {
    S(Party, usize),
    D(usize),
}

use Op::{D, S};
const A: Party = Party::Initiator;
const B: Party = Party::Responder;

fn script(
    g: &mut FileGen<'_>,
    description: &str,
    mode: HeaderMode,
    ops: &[Op],
) -> Result<(), CaseError> {
    g.case(|c| {
        let p = c.provider();
        let setup = Setup::new(
            p,
            c,
            mode,
            format!("{} | {}", "initiator identity", "responder identity").into_bytes(),
        );
        let steps: Vec<Step> = ops
            .iter()
            .enumerate()
            .map(|(i, op)| match op {
                S(who, len) => Step::send(
                    *who,
                    c.bytes(&format!("steps[{i}].plaintext"), *len),
                    None,
                    None,
                ),
                D(k) => Step::deliver(*k),
            })
            .collect();
        let fresh = |i: usize, len: usize| match len {
            32 => c.bytes(&format!("steps[{i}].ratchet_private"), 32),
            _ => c.bytes(&format!("steps[{i}].salt"), len),
        };
        Transcript::run(p, description.to_owned(), setup, &steps, Some(&fresh))
    })
}

fn generate(g: &mut FileGen<'_>) -> Result<(), CaseError> {
    for mode in [HeaderMode::Plain, HeaderMode::Encrypted] {
        script(
            g,
            "in order: two messages, a reply, then alternating speakers (four DH ratchet steps)",
            mode,
            &[
                S(A, 5),
                D(0),
                S(A, 0),
                D(1),
                S(B, 31),
                D(2),
                S(A, 32),
                D(3),
                S(B, 100),
                D(4),
                S(B, 1000),
                D(5),
            ],
        )?;
        script(
            g,
            "out of order within a chain and across chains: skipped keys stored, used once, \
             late messages of an old chain after a DH ratchet step",
            mode,
            &[
                S(A, 1),
                S(A, 2),
                S(A, 3),
                S(A, 4), // messages 0..3 in chain 1
                D(2),    // skips 0 and 1
                S(B, 8),
                D(4), // reply: Alice's next send ratchets
                S(A, 5),
                S(A, 6), // messages 5, 6 in chain 2
                D(6),    // Bob: DH ratchet step, chain 1 ends at 4
                D(0),
                D(3),
                D(5),
                D(1),
            ],
        )?;
    }
    Ok(())
}
