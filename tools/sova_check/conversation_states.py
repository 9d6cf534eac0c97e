"""§8.6 conversation states: a peer's identity key and the sessions held for
it, each written after its flow of §7, and read with the rules 1–3 of §8.6 in
their order."""

from .common import *  # noqa: F401,F403
from .primitives import sha256
from .session_states import (SESSION_STATE_FIELDS, SessionModel, decode_session, run_flow)
from .states import StateError, invalid, open_state

CONVERSATION_MAGIC = b"SOVA-1 conversation"
MAX_CONVERSATION_SESSIONS = 5


def encode_conversation(peer: bytes, sessions: List[SessionModel]) -> bytes:
    out = CONVERSATION_MAGIC + u8(0x01) + peer + u8(len(sessions))
    for s in sessions:
        e = s.encode()
        out += u32(len(e)) + e
    return out + sha256(out)


def decode_conversation(data: bytes) -> Tuple[bytes, List[SessionModel]]:
    """ConversationState of §8.6: after §8.1, rules 1–3 in order; Truncated
    wherever the input ends early."""
    f = open_state(data, CONVERSATION_MAGIC)
    peer = f.take(64)
    count = f.int(1)
    if count > MAX_CONVERSATION_SESSIONS:
        raise invalid("session count")  # 1
    sessions: List[SessionModel] = []
    for _ in range(count):  # 2
        s = decode_session(f.take(f.int(4)))
        if s.peer[:64] != peer:
            raise invalid("session peer")
        if any(t.th == s.th for t in sessions):
            raise invalid("duplicate session")
        sessions.append(s)
    f.done()  # 3
    return peer, sessions


# ---- conversation_state cases of state-encodings.json (§4.11) ---------------

CONVERSATION_STATE_FIELDS = {"kind", "description", "peer", "sessions", "encoding"}


def check_conversation_state(c: dict) -> None:
    if set(c) != CONVERSATION_STATE_FIELDS:
        raise Mismatch(f"unexpected case fields {sorted(set(c) ^ CONVERSATION_STATE_FIELDS)}")
    peer = h(c["peer"])
    if len(peer) != 64:
        raise Mismatch("'peer' must have 64 bytes")
    if not isinstance(c["sessions"], list):
        raise Mismatch("'sessions' must be a list")
    held: List[SessionModel] = []
    for k, s in enumerate(c["sessions"]):
        where = f"sessions[{k}]: "
        known = SESSION_STATE_FIELDS - {"kind"}
        if set(s) != known:
            raise Mismatch(where + f"unexpected fields {sorted(set(s) ^ known)}")
        try:
            flows = run_flow(s)
            if s["party"] not in flows:
                raise Mismatch(f"'{s['party']}' has no session")
            session = flows[s["party"]]
            compare({"encoding": s["encoding"]}, {"encoding": session.encode()})
        except Mismatch as e:
            raise Mismatch(where + str(e)) from None
        # Adding a session to a conversation (§7.7): of the peer, not held yet.
        if session.peer[:64] != peer:
            raise Mismatch(where + "a session of another peer")
        if any(t.th == session.th for t in held):
            raise Mismatch(where + "a session already held")
        held.append(session)
    if len(held) > MAX_CONVERSATION_SESSIONS:
        raise Mismatch(f"more than {MAX_CONVERSATION_SESSIONS} sessions")
    encoding = encode_conversation(peer, held)
    compare({"encoding": c["encoding"]}, {"encoding": encoding})
    try:
        back_peer, back = decode_conversation(encoding)
    except StateError as e:
        raise Mismatch(f"the state is rejected on reading: {e.name}") from None
    if encode_conversation(back_peer, back) != encoding:
        raise Mismatch("decoding and encoding again changes the state")
