//! The session states of `state-encodings.json` (spec §8.5, format in spec
//! §4.11): the states of both parties after real flows — `Start` from an
//! account made of recorded secrets, initial messages, `Accept`, replies —
//! each encoded byte for byte, and session encodings a reader must reject,
//! one per rule of §8.5 and several breaking more than one rule, so that the
//! order of the checks is fixed.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sova::ratchet::HeaderMode;
use sova::session::{AcceptPolicy, Session};
use sova::CryptoProvider;

use super::handshake::{parse_mode, AccountSecrets};
use super::ratchet_transcripts::{mode_name, Party};
use super::state_encodings::{checked, flip_last, reject};
use crate::family::{fixed, Case, CaseError, FileGen, Inputs};
use crate::replay::ReplayRng;
use crate::Bytes;

/// One step of a session flow: a party encrypts, or a message sent earlier
/// is delivered to the other party.
#[derive(Serialize, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub(crate) struct SessionStep {
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

/// A session state after a flow: the state of `party`, encoded.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SessionState {
    description: String,
    header_mode: String,
    initiator: AccountSecrets,
    responder: AccountSecrets,
    ephemeral_private: Bytes,
    m: Bytes,
    steps: Vec<SessionStep>,
    party: Party,
    pub(crate) encoding: Bytes,
}

/// Both parties of a flow: the initiator's session from `Start`, the
/// responder's from `Accept` of the first initial message delivered to it.
struct Flow {
    initiator: Session,
    responder: Option<Session>,
}

impl Flow {
    fn session(&mut self, who: Party, at: &str) -> Result<&mut Session, CaseError> {
        match who {
            Party::Initiator => Ok(&mut self.initiator),
            Party::Responder => self.responder.as_mut().ok_or_else(|| {
                CaseError::malformed(at, "the responder has no session before it accepts one")
            }),
        }
    }
}

fn other(p: Party) -> Party {
    match p {
        Party::Initiator => Party::Responder,
        Party::Responder => Party::Initiator,
    }
}

fn bytes_of(b: &Option<Bytes>) -> Vec<u8> {
    b.as_ref()
        .map(|b| b.as_slice().to_vec())
        .unwrap_or_default()
}

/// The inputs of a [`SessionState`].
pub(crate) struct FlowInputs {
    pub(crate) description: String,
    pub(crate) mode: HeaderMode,
    pub(crate) initiator: AccountSecrets,
    pub(crate) responder: AccountSecrets,
    pub(crate) ephemeral_private: Bytes,
    pub(crate) m: Bytes,
    pub(crate) steps: Vec<SessionStep>,
    pub(crate) party: Party,
}

impl SessionState {
    /// Runs the flow through the API and encodes the state of `party`. Each
    /// send draws the step's `ratchet_private` (32 bytes, only when the send
    /// starts a sending chain) and its `salt`; `generating` keeps the
    /// `ratchet_private` of the sends that drew it and drops the others'.
    pub(crate) fn compute(
        p: &dyn CryptoProvider,
        i: FlowInputs,
        generating: bool,
    ) -> Result<Self, CaseError> {
        let mut bob = i.responder.open(p, "responder")?;
        let alice = i.initiator.open(p, "initiator")?;
        let bundle = bob
            .account
            .bundle(bob.one_time_prekey_id, bob.kem_one_time_prekey_id)
            .map_err(|e| CaseError::rejected("responder", e))?
            .to_bytes();
        let ek = fixed::<32>("ephemeral_private", i.ephemeral_private.as_slice())?;
        let m = fixed::<32>("m", i.m.as_slice())?;
        let mut rng = ReplayRng::new(vec![ek.to_vec(), m.to_vec()]);
        let initiator = Session::start_with(p, &alice.account, &mut rng, None, &bundle, i.mode)
            .map_err(|e| CaseError::rejected("initiator", e))?;
        rng.finish_exact(&[32, 32])
            .map_err(|e| CaseError::check_failed("m", e))?;
        let mut flow = Flow {
            initiator,
            responder: None,
        };
        let mut sent: Vec<(Party, Vec<u8>)> = Vec::new();
        let mut steps = Vec::new();
        for (k, s) in i.steps.iter().enumerate() {
            let at = format!("steps[{k}]");
            match s.action.as_str() {
                "send" => {
                    let who = s
                        .sender
                        .ok_or_else(|| CaseError::malformed(&at, "a send without a sender"))?;
                    let rp = bytes_of(&s.ratchet_private);
                    let salt = bytes_of(&s.salt);
                    let serve = |_: usize, len: usize| {
                        if len == 32 {
                            rp.clone()
                        } else {
                            salt.clone()
                        }
                    };
                    let mut rng = ReplayRng::with_fresh(Vec::new(), Some(&serve));
                    let pt = bytes_of(&s.plaintext);
                    let message = flow
                        .session(who, &at)?
                        .encrypt_with(p, &mut rng, &pt)
                        .map_err(|e| CaseError::rejected(&at, e))?;
                    let drawn = rng.finish().map_err(|e| CaseError::check_failed(&at, e))?;
                    let drew_key = drawn.len() == 2;
                    if !generating && drew_key != s.ratchet_private.is_some() {
                        return Err(CaseError::check_failed(
                            &format!("{at}.ratchet_private"),
                            "given exactly when the send starts a sending chain",
                        ));
                    }
                    steps.push(SessionStep {
                        action: "send".into(),
                        sender: Some(who),
                        plaintext: s.plaintext.clone(),
                        ratchet_private: if drew_key {
                            s.ratchet_private.clone()
                        } else {
                            None
                        },
                        salt: s.salt.clone(),
                        message_index: None,
                        message: Some(message.clone().into()),
                    });
                    sent.push((who, message));
                }
                "deliver" => {
                    let idx = s.message_index.unwrap_or(usize::MAX);
                    let (from, message) = sent.get(idx).cloned().ok_or_else(|| {
                        CaseError::malformed(&at, "message_index names no message sent so far")
                    })?;
                    let to = other(from);
                    if to == Party::Responder && flow.responder.is_none() {
                        let (session, _) = bob
                            .account
                            .accept_with(p, &AcceptPolicy::any_peer(), &message)
                            .map_err(|e| CaseError::rejected(&at, e))?;
                        flow.responder = Some(session);
                    } else {
                        flow.session(to, &at)?
                            .decrypt_with(p, &message)
                            .map_err(|e| CaseError::rejected(&at, e))?;
                    }
                    steps.push(SessionStep {
                        action: "deliver".into(),
                        sender: None,
                        plaintext: None,
                        ratchet_private: None,
                        salt: None,
                        message_index: Some(idx),
                        message: None,
                    });
                }
                _ => return Err(CaseError::malformed(&at, "action must be send or deliver")),
            }
        }
        let encoding = flow.session(i.party, "party")?.to_bytes();
        let back =
            Session::from_bytes(&encoding).map_err(|e| CaseError::rejected("encoding", e))?;
        if back.to_bytes() != encoding {
            return Err(CaseError::check_failed("encoding", "decoding changes it"));
        }
        Ok(Self {
            description: i.description,
            header_mode: mode_name(i.mode).to_owned(),
            initiator: i.initiator,
            responder: i.responder,
            ephemeral_private: i.ephemeral_private,
            m: i.m,
            steps,
            party: i.party,
            encoding: encoding.into(),
        })
    }
}

impl Case for SessionState {
    const KIND: &'static str = "session_state";
    fn recompute(&self, p: &dyn CryptoProvider) -> Result<Self, CaseError> {
        Self::compute(
            p,
            FlowInputs {
                description: self.description.clone(),
                mode: parse_mode(&self.header_mode)?,
                initiator: self.initiator.clone(),
                responder: self.responder.clone(),
                ephemeral_private: self.ephemeral_private.clone(),
                m: self.m.clone(),
                steps: self.steps.clone(),
                party: self.party,
            },
            false,
        )
    }
}

/// A step of a flow script: `S(who, plaintext length)` or `D(message index)`.
#[derive(Clone, Copy)]
pub(crate) enum Op {
    S(Party, usize),
    D(usize),
}

fn steps_of(c: &Inputs<'_>, ops: &[Op]) -> Vec<SessionStep> {
    steps_at(c, "", ops)
}

/// [`steps_of`] with the names of the drawn inputs prefixed by `at`, so that
/// several flows of one case draw distinct bytes.
pub(crate) fn steps_at(c: &Inputs<'_>, at: &str, ops: &[Op]) -> Vec<SessionStep> {
    ops.iter()
        .enumerate()
        .map(|(k, op)| match op {
            Op::S(who, len) => SessionStep {
                action: "send".into(),
                sender: Some(*who),
                plaintext: Some(c.bytes(&format!("{at}steps[{k}].plaintext"), *len).into()),
                ratchet_private: Some(
                    c.bytes(&format!("{at}steps[{k}].ratchet_private"), 32)
                        .into(),
                ),
                salt: Some(c.bytes(&format!("{at}steps[{k}].salt"), 16).into()),
                message_index: None,
                message: None,
            },
            Op::D(idx) => SessionStep {
                action: "deliver".into(),
                sender: None,
                plaintext: None,
                ratchet_private: None,
                salt: None,
                message_index: Some(*idx),
                message: None,
            },
        })
        .collect()
}

// ---- Session encodings field by field, for the rejected states -------------

/// The fields of a session state (spec §8.5), raw: read from a valid
/// encoding, then changed.
#[derive(Clone)]
struct Ss {
    magic: Vec<u8>,
    version: u8,
    role: u8,
    confirmed: u8,
    th: Vec<u8>,
    local: Vec<u8>,
    peer: Vec<u8>,
    pending_tag: u8,
    pending_len: Option<u32>,
    pending: Vec<u8>,
    record_tag: u8,
    record: Vec<u8>,
    ratchet_len: Option<u32>,
    ratchet: Vec<u8>,
    trailing: Vec<u8>,
}

/// Reads a valid session encoding's fields.
struct Cut<'a>(&'a [u8]);

impl Cut<'_> {
    fn take(&mut self, n: usize) -> Result<Vec<u8>, CaseError> {
        let (a, b) = (self.0.get(..n), self.0.get(n..));
        match (a, b) {
            (Some(a), Some(b)) => {
                self.0 = b;
                Ok(a.to_vec())
            }
            _ => Err(CaseError::malformed(
                "",
                "a base session state is too short",
            )),
        }
    }
    fn u8(&mut self) -> Result<u8, CaseError> {
        Ok(self.take(1)?.first().copied().unwrap_or(0))
    }
    fn u32(&mut self) -> Result<u32, CaseError> {
        let b = fixed::<4>("", &self.take(4)?)?;
        Ok(u32::from_be_bytes(b))
    }
}

impl Ss {
    fn parse(encoding: &[u8]) -> Result<Self, CaseError> {
        let body = encoding
            .get(..encoding.len().saturating_sub(32))
            .unwrap_or_default();
        let mut c = Cut(body);
        let magic = c.take(14)?;
        let version = c.u8()?;
        let role = c.u8()?;
        let confirmed = c.u8()?;
        let th = c.take(32)?;
        let local = c.take(64)?;
        let peer = c.take(128)?;
        let pending_tag = c.u8()?;
        let pending = if pending_tag == 1 {
            let n = c.u32()? as usize;
            c.take(n)?
        } else {
            Vec::new()
        };
        let record_tag = c.u8()?;
        let record = if record_tag == 1 {
            c.take(64)?
        } else {
            Vec::new()
        };
        let n = c.u32()? as usize;
        let ratchet = c.take(n)?;
        Ok(Self {
            magic,
            version,
            role,
            confirmed,
            th,
            local,
            peer,
            pending_tag,
            pending_len: None,
            pending,
            record_tag,
            record,
            ratchet_len: None,
            ratchet,
            trailing: c.0.to_vec(),
        })
    }

    fn body(&self) -> Vec<u8> {
        let mut o = self.magic.clone();
        o.extend_from_slice(&[self.version, self.role, self.confirmed]);
        o.extend_from_slice(&self.th);
        o.extend_from_slice(&self.local);
        o.extend_from_slice(&self.peer);
        o.push(self.pending_tag);
        if self.pending_tag == 1 {
            let n = self.pending_len.unwrap_or(self.pending.len() as u32);
            o.extend_from_slice(&n.to_be_bytes());
            o.extend_from_slice(&self.pending);
        }
        o.push(self.record_tag);
        if self.record_tag == 1 {
            o.extend_from_slice(&self.record);
        }
        let n = self.ratchet_len.unwrap_or(self.ratchet.len() as u32);
        o.extend_from_slice(&n.to_be_bytes());
        o.extend_from_slice(&self.ratchet);
        o.extend_from_slice(&self.trailing);
        o
    }

    fn encode(&self) -> Vec<u8> {
        checked(self.body())
    }
}

/// Flips bit 0 of byte `at` (counted from the end when negative).
fn flip(b: &mut [u8], at: isize) {
    let i = if at < 0 {
        b.len().checked_sub(at.unsigned_abs())
    } else {
        Some(at.unsigned_abs())
    };
    if let Some(x) = i.and_then(|i| b.get_mut(i)) {
        *x ^= 1;
    }
}

/// Replaces a state's integrity check by the SHA-256 of the bytes before it.
fn recheck(state: &mut Vec<u8>) {
    let at = state.len().saturating_sub(32);
    state.truncate(at);
    let check = Sha256::digest(&state[..]);
    state.extend_from_slice(&check);
}

/// The valid states the rejected ones start from.
pub(crate) struct Bases {
    /// An initiator with a pending handshake (not confirmed).
    pending: Vec<u8>,
    /// A confirmed initiator (no pending handshake).
    confirmed: Vec<u8>,
    /// A responder (with its initial message record).
    responder: Vec<u8>,
}

fn session_rejections(g: &mut FileGen<'_>, bases: &Bases) -> Result<(), CaseError> {
    let pending = Ss::parse(&bases.pending)?;
    let confirmed = Ss::parse(&bases.confirmed)?;
    let responder = Ss::parse(&bases.responder)?;
    for (field, s, bytes) in [
        ("pending", &pending, &bases.pending),
        ("confirmed", &confirmed, &bases.confirmed),
        ("responder", &responder, &bases.responder),
    ] {
        if s.encode() != *bytes || s.pending_tag > 1 {
            return Err(CaseError::check_failed(
                field,
                "the base does not re-encode",
            ));
        }
        Session::from_bytes(bytes).map_err(|e| CaseError::rejected(field, e))?;
    }
    let with = |base: &Ss, f: &dyn Fn(&mut Ss)| {
        let mut s = base.clone();
        f(&mut s);
        s.encode()
    };
    let p = |f: &dyn Fn(&mut Ss)| with(&pending, f);
    let r = |f: &dyn Fn(&mut Ss)| with(&responder, f);
    // The embedded ratchet state with its mode byte (offset 15) set to 3 and
    // its own check recomputed.
    let bad_mode = |s: &mut Ss| {
        if let Some(m) = s.ratchet.get_mut(15) {
            *m = 3;
        }
        recheck(&mut s.ratchet);
    };
    let full = pending.encode();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        // §8.1, before any field.
        ("empty input", Vec::new()),
        (
            "the magic of a ratchet state",
            p(&|s| s.magic = b"SOVA-1 ratchet".to_vec()),
        ),
        ("the magic alone (the version missing)", full[..14].to_vec()),
        ("version 2", p(&|s| s.version = 2)),
        (
            "magic and version, then 31 bytes: shorter than magic, version and check",
            full[..46].to_vec(),
        ),
        (
            "check wrong (its last bit flipped)",
            flip_last(full.clone()),
        ),
        (
            "check wrong and we_initiated 2",
            flip_last(p(&|s| s.role = 2)),
        ),
        // Rules 1 to 9, in order.
        ("1: we_initiated 2", p(&|s| s.role = 2)),
        (
            "1 and 2: we_initiated 2 and confirmed 2",
            p(&|s| {
                s.role = 2;
                s.confirmed = 2;
            }),
        ),
        ("2: confirmed 2", p(&|s| s.confirmed = 2)),
        (
            "2 and 3: confirmed 2 and the peer's binding broken",
            p(&|s| {
                s.confirmed = 2;
                flip(&mut s.peer, 100);
            }),
        ),
        (
            "3: the peer's binding broken (one bit of the signature flipped)",
            p(&|s| flip(&mut s.peer, 100)),
        ),
        (
            "3: the peer's X25519 key changed (the binding no longer covers it)",
            r(&|s| flip(&mut s.peer, 40)),
        ),
        (
            "3 and 4: the peer's binding broken and the pending-handshake option tag 2",
            p(&|s| {
                flip(&mut s.peer, 100);
                s.pending_tag = 2;
            }),
        ),
        (
            "4: pending-handshake option tag 2",
            p(&|s| s.pending_tag = 2),
        ),
        (
            "4: a responder with a pending handshake",
            r(&|s| {
                s.pending_tag = 1;
                s.pending = pending.pending.clone();
            }),
        ),
        (
            "4: the pending handshake with a 1-byte ratchet message (L = 1)",
            p(&|s| {
                let at = s.pending.len().saturating_sub(4);
                s.pending.truncate(at);
                s.pending.extend_from_slice(&[0, 0, 0, 1, 0x01]);
            }),
        ),
        (
            "4: the pending handshake with version 2",
            p(&|s| {
                if let Some(v) = s.pending.first_mut() {
                    *v = 2;
                }
            }),
        ),
        (
            "4: the pending handshake cut short by one byte (its length too)",
            p(&|s| {
                s.pending.pop();
            }),
        ),
        (
            "4: the pending handshake's identity is the peer's, not the local one",
            p(&|s| {
                let peer = s.peer.clone();
                if let Some(id) = s.pending.get_mut(2..130) {
                    id.copy_from_slice(&peer);
                }
            }),
        ),
        (
            "4: the pending handshake's identity binding broken",
            p(&|s| flip(&mut s.pending, 2 + 100)),
        ),
        (
            "4 and 5: a confirmed initiator with pending-handshake option tag 2",
            with(&confirmed, &|s| s.pending_tag = 2),
        ),
        (
            "5: an initiator confirmed while its handshake is pending",
            p(&|s| s.confirmed = 1),
        ),
        (
            "5: an initiator neither confirmed nor pending",
            with(&confirmed, &|s| s.confirmed = 0),
        ),
        (
            "5 and 6: an initiator confirmed while pending, with an initial message record",
            p(&|s| {
                s.confirmed = 1;
                s.record_tag = 1;
                s.record = responder.record.clone();
            }),
        ),
        (
            "6: initial-message-record option tag 2",
            r(&|s| s.record_tag = 2),
        ),
        (
            "6: a responder without its initial message record",
            r(&|s| s.record_tag = 0),
        ),
        (
            "6: an initiator with an initial message record",
            p(&|s| {
                s.record_tag = 1;
                s.record = responder.record.clone();
            }),
        ),
        (
            "6 and 7: a responder without its record, its ratchet state's check wrong",
            r(&|s| {
                s.record_tag = 0;
                flip(&mut s.ratchet, -1);
            }),
        ),
        (
            "7: the ratchet state's own check wrong",
            p(&|s| flip(&mut s.ratchet, -1)),
        ),
        (
            "7: the ratchet state with mode 3 (its check valid)",
            p(&bad_mode),
        ),
        (
            "7: the ratchet state's magic changed",
            r(&|s| {
                flip(&mut s.ratchet, 0);
                recheck(&mut s.ratchet);
            }),
        ),
        (
            "7 and 8: the ratchet state with mode 3, and TH changed",
            p(&|s| {
                bad_mode(s);
                flip(&mut s.th, 0);
            }),
        ),
        (
            "8: TH is not the ratchet's associated data",
            p(&|s| flip(&mut s.th, 31)),
        ),
        (
            "8: a responder whose TH is not the ratchet's associated data",
            r(&|s| flip(&mut s.th, 0)),
        ),
        (
            "8 and 9: TH changed and a byte after the ratchet state",
            p(&|s| {
                flip(&mut s.th, 0);
                s.trailing = vec![0];
            }),
        ),
        (
            "9: a byte after the ratchet state",
            r(&|s| s.trailing = vec![0]),
        ),
        // Input that ends early, wherever.
        (
            "the peer's identity cut short (check valid)",
            checked(pending.body()[..14 + 3 + 32 + 64 + 100].to_vec()),
        ),
        (
            "the pending handshake's length 1000 bytes beyond the end",
            p(&|s| s.pending_len = Some(s.pending.len() as u32 + 1000)),
        ),
        (
            "the ratchet state's length one byte beyond the end",
            r(&|s| s.ratchet_len = Some(s.ratchet.len() as u32 + 1)),
        ),
        (
            "the ratchet state cut short by one byte (its length too)",
            {
                let mut s = responder.clone();
                s.ratchet.pop();
                s.encode()
            },
        ),
        (
            "the initial message record cut short (check valid)",
            checked(responder.body()[..14 + 3 + 32 + 64 + 128 + 1 + 1 + 40].to_vec()),
        ),
    ];
    for (description, bytes) in cases {
        reject(g, "session", description, bytes)?;
    }
    Ok(())
}

/// The valid session states, then the rejected session encodings.
pub(crate) fn generate(g: &mut FileGen<'_>) -> Result<(), CaseError> {
    use HeaderMode::{Encrypted, Plain};
    use Op::{D, S};
    const A: Party = Party::Initiator;
    const B: Party = Party::Responder;
    // (description, mode, X25519 one-time prekey, ML-KEM one-time prekey, script, party, base)
    type Script<'a> = (
        &'a str,
        HeaderMode,
        bool,
        bool,
        &'a [Op],
        Party,
        Option<usize>,
    );
    let scripts: &[Script<'_>] = &[
        (
            "an initiator right after Start: pending, nothing sent",
            Plain,
            false,
            false,
            &[],
            A,
            None,
        ),
        (
            "an initiator that has sent two initial messages: pending",
            Plain,
            true,
            false,
            &[S(A, 5), S(A, 7)],
            A,
            Some(0),
        ),
        (
            "the same with encrypted headers and both one-time prekeys",
            Encrypted,
            true,
            true,
            &[S(A, 5), S(A, 7)],
            A,
            None,
        ),
        (
            "a responder that accepted the second initial message, then decrypted the first (a stored key); unconfirmed",
            Plain,
            true,
            false,
            &[S(A, 5), S(A, 7), S(A, 9), D(1), D(0)],
            B,
            Some(2),
        ),
        (
            "a responder that replied: unconfirmed, with a sending chain",
            Encrypted,
            false,
            true,
            &[S(A, 5), D(0), S(B, 6)],
            B,
            None,
        ),
        (
            "an initiator that read the reply: confirmed, no longer pending",
            Plain,
            false,
            false,
            &[S(A, 5), D(0), S(B, 6), D(1)],
            A,
            Some(1),
        ),
        (
            "the same with encrypted headers",
            Encrypted,
            true,
            true,
            &[S(A, 5), D(0), S(B, 6), D(1)],
            A,
            None,
        ),
        (
            "a responder that read the initiator's second chain: confirmed",
            Plain,
            false,
            false,
            &[S(A, 5), D(0), S(B, 6), D(1), S(A, 8), D(2)],
            B,
            None,
        ),
        (
            "the same with encrypted headers, a message of the first chain still in flight",
            Encrypted,
            true,
            false,
            &[S(A, 5), S(A, 6), D(0), S(B, 6), D(2), S(A, 8), D(3)],
            B,
            None,
        ),
    ];
    let mut bases: [Vec<u8>; 3] = Default::default();
    for (description, mode, one_time, kem_one_time, ops, party, base) in scripts {
        g.case(|c: &Inputs<'_>| {
            let case = SessionState::compute(
                c.provider(),
                FlowInputs {
                    description: (*description).to_owned(),
                    mode: *mode,
                    initiator: AccountSecrets::new(c, "initiator", false, false),
                    responder: AccountSecrets::new(c, "responder", *one_time, *kem_one_time),
                    ephemeral_private: c.bytes("ephemeral_private", 32).into(),
                    m: c.bytes("m", 32).into(),
                    steps: steps_of(c, ops),
                    party: *party,
                },
                true,
            )?;
            if let Some(slot) = base.and_then(|b| bases.get_mut(b)) {
                *slot = case.encoding.as_slice().to_vec();
            }
            Ok(case)
        })?;
    }
    let [pending, confirmed, responder] = bases;
    session_rejections(
        g,
        &Bases {
            pending,
            confirmed,
            responder,
        },
    )
}
