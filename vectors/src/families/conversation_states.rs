//! The conversation states of `state-encodings.json` (spec §8.6, format in
//! spec §4.11): conversations holding the sessions of real flows — none, one,
//! the two of a simultaneous initiation — each encoded byte for byte, one of
//! them sealed as kind 3 (§8.3), and conversation encodings a reader must
//! reject, one per rule of §8.6 and several breaking more than one rule, so
//! that the order of the checks is fixed.

use serde::{Deserialize, Serialize};
use sova::ratchet::HeaderMode;
use sova::session::{Conversation, Session};
use sova::CryptoProvider;

use super::handshake::AccountSecrets;
use super::ratchet_transcripts::Party;
use super::session_states::{steps_at, FlowInputs, Op, SessionState};
use super::state_encodings::{checked, flip_last, reject, SealedState};
use crate::family::{fixed, Case, CaseError, FileGen, Inputs};
use crate::Bytes;

/// A conversation with `peer` holding `sessions` (each a session state after
/// its flow), in this order, encoded.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConversationState {
    description: String,
    peer: Bytes,
    sessions: Vec<SessionState>,
    encoding: Bytes,
}

impl ConversationState {
    /// Builds the conversation through the API: `Conversation::new(peer)`,
    /// then `add` of each session, restored from its encoding.
    fn compute(
        description: String,
        peer: Bytes,
        sessions: Vec<SessionState>,
    ) -> Result<Self, CaseError> {
        let mut conversation = Conversation::new(fixed::<64>("peer", peer.as_slice())?);
        for (k, s) in sessions.iter().enumerate() {
            let at = format!("sessions[{k}]");
            let session = Session::from_bytes(s.encoding.as_slice())
                .map_err(|e| CaseError::rejected(&at, e))?;
            conversation
                .add(session)
                .map_err(|e| CaseError::rejected(&at, e))?;
        }
        let encoding = conversation.to_bytes();
        let back =
            Conversation::from_bytes(&encoding).map_err(|e| CaseError::rejected("encoding", e))?;
        if back.to_bytes() != encoding {
            return Err(CaseError::check_failed("encoding", "decoding changes it"));
        }
        Ok(Self {
            description,
            peer,
            sessions,
            encoding: encoding.into(),
        })
    }
}

impl Case for ConversationState {
    const KIND: &'static str = "conversation_state";
    fn recompute(&self, p: &dyn CryptoProvider) -> Result<Self, CaseError> {
        let sessions = self
            .sessions
            .iter()
            .map(|s| s.recompute(p))
            .collect::<Result<Vec<_>, _>>()?;
        Self::compute(self.description.clone(), self.peer.clone(), sessions)
    }
}

/// One flow of a case: its inputs are drawn under the names prefixed by `at`.
struct FlowSpec<'a> {
    at: &'a str,
    description: &'a str,
    mode: HeaderMode,
    initiator: &'a AccountSecrets,
    responder: &'a AccountSecrets,
    ops: &'a [Op],
}

impl FlowSpec<'_> {
    /// The session state of `party` after the flow.
    fn state(&self, c: &Inputs<'_>, party: Party) -> Result<SessionState, CaseError> {
        SessionState::compute(
            c.provider(),
            FlowInputs {
                description: self.description.to_owned(),
                mode: self.mode,
                initiator: self.initiator.clone(),
                responder: self.responder.clone(),
                ephemeral_private: c.bytes(&format!("{}ephemeral_private", self.at), 32).into(),
                m: c.bytes(&format!("{}m", self.at), 32).into(),
                steps: steps_at(c, self.at, self.ops),
                party,
            },
            true,
        )
    }
}

fn identity_key(
    p: &dyn CryptoProvider,
    secrets: &AccountSecrets,
    at: &str,
) -> Result<Bytes, CaseError> {
    Ok(secrets.open(p, at)?.account.identity_key().to_vec().into())
}

/// The parts of a conversation encoding (spec §8.6), raw.
#[derive(Clone)]
struct Cs {
    magic: Vec<u8>,
    version: u8,
    peer: Vec<u8>,
    count: Option<u8>,
    sessions: Vec<Vec<u8>>,
    /// The length written before the last session, when not its own.
    last_len: Option<u32>,
    trailing: Vec<u8>,
}

impl Cs {
    fn new(peer: &[u8], sessions: &[&[u8]]) -> Self {
        Self {
            magic: b"SOVA-1 conversation".to_vec(),
            version: 1,
            peer: peer.to_vec(),
            count: None,
            sessions: sessions.iter().map(|s| s.to_vec()).collect(),
            last_len: None,
            trailing: Vec::new(),
        }
    }

    fn body(&self) -> Vec<u8> {
        let mut o = self.magic.clone();
        o.push(self.version);
        o.extend_from_slice(&self.peer);
        o.push(self.count.unwrap_or(self.sessions.len() as u8));
        let last = self.sessions.len().saturating_sub(1);
        for (k, s) in self.sessions.iter().enumerate() {
            let n = match self.last_len {
                Some(n) if k == last => n,
                _ => s.len() as u32,
            };
            o.extend_from_slice(&n.to_be_bytes());
            o.extend_from_slice(s);
        }
        o.extend_from_slice(&self.trailing);
        o
    }

    fn encode(&self) -> Vec<u8> {
        checked(self.body())
    }
}

/// A session state with the last bit of its check flipped.
fn broken(state: &[u8]) -> Vec<u8> {
    flip_last(state.to_vec())
}

/// The valid conversation states the rejected ones start from: the
/// conversation's peer, the conversation's two sessions, and a session of
/// the peer (whose own peer is the local party).
struct Bases {
    peer: Vec<u8>,
    local: Vec<u8>,
    first: Vec<u8>,
    second: Vec<u8>,
    peers_session: Vec<u8>,
}

fn conversation_rejections(g: &mut FileGen<'_>, b: &Bases) -> Result<(), CaseError> {
    let (s1, s2, sb) = (&b.first[..], &b.second[..], &b.peers_session[..]);
    let with = |sessions: &[&[u8]], f: &dyn Fn(&mut Cs)| {
        let mut c = Cs::new(&b.peer, sessions);
        f(&mut c);
        c.encode()
    };
    let full = with(&[s1, s2], &|_| {});
    let base = Conversation::from_bytes(&full).map_err(|e| CaseError::rejected("base", e))?;
    if base.to_bytes() != full {
        return Err(CaseError::check_failed("base", "does not re-encode"));
    }
    let head = 19 + 1 + 64;
    // The second session with its role byte (offset 15) 2, its check recomputed.
    let role2 = {
        let mut s = s2.to_vec();
        if let Some(r) = s.get_mut(15) {
            *r = 2;
        }
        let at = s.len().saturating_sub(32);
        s.truncate(at);
        checked(s)
    };
    let cases: Vec<(&str, Vec<u8>)> = vec![
        // §8.1, before any field.
        ("empty input", Vec::new()),
        (
            "the magic of a session state",
            with(&[s1, s2], &|c| c.magic = b"SOVA-1 session".to_vec()),
        ),
        ("the magic alone (the version missing)", full[..19].to_vec()),
        ("version 2", with(&[s1, s2], &|c| c.version = 2)),
        (
            "check wrong (its last bit flipped)",
            flip_last(full.clone()),
        ),
        (
            "check wrong and the session count 6",
            flip_last(with(&[s1, s2], &|c| c.count = Some(6))),
        ),
        // Rule 1.
        (
            "1: session count 6, two sessions following",
            with(&[s1, s2], &|c| c.count = Some(6)),
        ),
        (
            "1: session count 255, nothing following",
            with(&[], &|c| c.count = Some(255)),
        ),
        (
            "1 and 2: session count 6, the first session of another peer",
            with(&[sb, s2], &|c| c.count = Some(6)),
        ),
        // Rule 2, session by session.
        (
            "2: the first session's own check wrong",
            with(&[&broken(s1), s2], &|_| {}),
        ),
        (
            "2: the second session with we_initiated 2 (its check valid)",
            with(&[s1, &role2], &|_| {}),
        ),
        (
            "2: the first session cut short by one byte (its length too): its check fails",
            with(&[&s1[..s1.len() - 1], s2], &|_| {}),
        ),
        (
            "2: a session of another peer (the peer's own session)",
            with(&[sb], &|_| {}),
        ),
        (
            "2, in order: the second session of another peer with the first's id (the other side of its handshake)",
            with(&[s1, sb], &|_| {}),
        ),
        (
            "2: the conversation's peer is the local identity",
            Cs::new(&b.local, &[s1, s2]).encode(),
        ),
        ("2: a duplicate session", with(&[s1, s1], &|_| {})),
        (
            "2: the first session again after the second",
            with(&[s1, s2, s1], &|_| {}),
        ),
        (
            "2, in order: a session of another peer whose own check is wrong",
            with(&[s1, &broken(sb)], &|_| {}),
        ),
        (
            "2, in order: a duplicate session, then a session of another peer",
            with(&[s1, s1, sb], &|_| {}),
        ),
        (
            "2, in order: a session of another peer, then a duplicate session",
            with(&[sb, s1, s1], &|_| {}),
        ),
        (
            "2 and 3: a duplicate session and a byte after it",
            with(&[s2, s2], &|c| c.trailing = vec![0]),
        ),
        // Rule 3.
        (
            "3: a byte after the last session",
            with(&[s1, s2], &|c| c.trailing = vec![0]),
        ),
        (
            "3: a conversation without sessions, a byte after the count",
            with(&[], &|c| c.trailing = vec![0]),
        ),
        // Input that ends early, wherever.
        (
            "the peer's identity key cut short (check valid)",
            checked(full[..head - 10].to_vec()),
        ),
        (
            "the session count missing (check valid)",
            checked(full[..head].to_vec()),
        ),
        (
            "session count 2, one session following",
            with(&[s1], &|c| c.count = Some(2)),
        ),
        (
            "session count 2, one session of another peer following: the session first",
            with(&[sb], &|c| c.count = Some(2)),
        ),
        (
            "the last session's length one byte beyond the end",
            with(&[s1, s2], &|c| c.last_len = Some(s2.len() as u32 + 1)),
        ),
        (
            "the second session's length cut short (check valid)",
            checked(full[..head + 1 + 4 + s1.len() + 2].to_vec()),
        ),
    ];
    for (description, bytes) in cases {
        reject(g, "conversation", description, bytes)?;
    }
    Ok(())
}

/// The valid conversation states, one sealed, then the rejected conversation
/// encodings.
pub(crate) fn generate(g: &mut FileGen<'_>) -> Result<(), CaseError> {
    use HeaderMode::{Encrypted, Plain};
    use Op::{D, S};
    const A: Party = Party::Initiator;
    const B: Party = Party::Responder;

    g.case(|c: &Inputs<'_>| {
        let bob = AccountSecrets::new(c, "peer", false, false);
        ConversationState::compute(
            "a conversation made for a peer before any message: no sessions".into(),
            identity_key(c.provider(), &bob, "peer")?,
            Vec::new(),
        )
    })?;

    g.case(|c: &Inputs<'_>| {
        let alice = AccountSecrets::new(c, "alice", false, false);
        let bob = AccountSecrets::new(c, "bob", true, true);
        let flow = FlowSpec {
            at: "",
            description: "Alice started, sent an initial message and read Bob's reply",
            mode: Encrypted,
            initiator: &alice,
            responder: &bob,
            ops: &[S(A, 5), D(0), S(B, 6), D(1)],
        };
        ConversationState::compute(
            "Alice's conversation with Bob: one confirmed session".into(),
            identity_key(c.provider(), &bob, "bob")?,
            vec![flow.state(c, A)?],
        )
    })?;

    // Simultaneous initiation: each starts a session from the other's bundle
    // and sends an initial message; each accepts the other's. Each party's
    // conversation holds the session it started, then the one it accepted.
    let mut bases = None;
    for alice_side in [true, false] {
        g.case(|c: &Inputs<'_>| {
            let alice = AccountSecrets::new(c, "alice", false, false);
            let bob = AccountSecrets::new(c, "bob", false, false);
            let alices = FlowSpec {
                at: "alice_starts.",
                description: "Alice started and sent an initial message; Bob accepted it",
                mode: Plain,
                initiator: &alice,
                responder: &bob,
                ops: &[S(A, 5), D(0)],
            };
            let bobs = FlowSpec {
                at: "bob_starts.",
                description: "Bob started and sent an initial message; Alice accepted it",
                mode: Plain,
                initiator: &bob,
                responder: &alice,
                ops: &[S(A, 6), D(0)],
            };
            let p = c.provider();
            let (description, peer, local, first, second, peers_first) = if alice_side {
                (
                    "Alice's conversation after simultaneous initiation: the session she started, then the one she accepted",
                    &bob,
                    &alice,
                    alices.state(c, A)?,
                    bobs.state(c, B)?,
                    alices.state(c, B)?,
                )
            } else {
                (
                    "Bob's side of a simultaneous initiation: the session he started, then the one he accepted",
                    &alice,
                    &bob,
                    bobs.state(c, A)?,
                    alices.state(c, B)?,
                    bobs.state(c, B)?,
                )
            };
            let case = ConversationState::compute(
                description.into(),
                identity_key(p, peer, "peer")?,
                vec![first, second],
            )?;
            if alice_side {
                let s = &case.sessions;
                bases = Some(Bases {
                    peer: case.peer.as_slice().to_vec(),
                    local: identity_key(p, local, "local")?.as_slice().to_vec(),
                    first: s.first().map(|s| s.encoding.as_slice().to_vec()).unwrap_or_default(),
                    second: s.get(1).map(|s| s.encoding.as_slice().to_vec()).unwrap_or_default(),
                    peers_session: peers_first.encoding.as_slice().to_vec(),
                });
            }
            Ok(case)
        })?;
    }
    let bases = bases.ok_or_else(|| CaseError::malformed("", "no base conversation"))?;

    let state = Cs::new(&bases.peer, &[&bases.first, &bases.second]).encode();
    g.case(|c: &Inputs<'_>| {
        SealedState::compute(
            c.provider(),
            "Alice's conversation after simultaneous initiation, sealed (kind 3)".into(),
            c.bytes("key", 32).into(),
            3,
            state.into(),
            c.bytes("nonce", 12).into(),
        )
    })?;

    conversation_rejections(g, &bases)
}
