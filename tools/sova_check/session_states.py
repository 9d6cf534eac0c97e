"""§8.5 session states: the sessions of §7 with their state encoding, written
after a flow of Start, initial messages, Accept and replies, and read with the
rules 1–9 of §8.5 in their order."""

from .common import *  # noqa: F401,F403
from .primitives import *  # noqa: F401,F403
from .ratchet import *  # noqa: F401,F403
from .session import (Account, SessionError, InitialMessage, ReplayedRandom, accept,
                      check_secrets, make_bundle, parse_initial, start, verify_identity,
                      TYPE_INITIAL)
from .states import (StateError, decode_ratchet, encode_ratchet, invalid, open_state)

SESSION_MAGIC = b"SOVA-1 session"


def empty_initial(m: InitialMessage) -> bytes:
    """The initial message with an empty ratchet message (L = 0), §7.6, §8.5."""
    return InitialMessage(m.identity, m.ek, m.spk_id, m.opk_id, m.kem_kind, m.kem_id,
                          m.ct, b"").encode()


@dataclass
class SessionModel:
    """A session of §7 with the fields §8.5 persists."""

    we_initiated: bool
    confirmed: bool
    th: bytes
    local: bytes  # IdentityKey, 64 bytes
    peer: bytes  # IdentityPublic, 128 bytes
    pending: Optional[bytes]  # the initial message with L = 0 (initiator, until a reply)
    record: Optional[Tuple[bytes, bytes]]  # (EK, D) (responder)
    party: Party

    def encrypt(self, p: bytes, draw) -> bytes:
        """§7.5: while pending, the ratchet message is wrapped."""
        msg, _ = self.party.encrypt(p, draw)
        if self.pending is None:
            return msg
        return self.pending[:-4] + u32(len(msg)) + msg

    def decrypt(self, message: bytes) -> bytes:
        """§7.6 (a repeat of the accepted initial message) and §7.7 (confirmation)."""
        if len(message) > 1 and message[1] == TYPE_INITIAL:
            m = parse_initial(message)
            if self.record is None or self.record[0] != m.ek:
                raise SessionError("NotThisSession")
            if sha256(empty_initial(m)) != self.record[1]:
                raise SessionError("InitialMessageMismatch")
            return self.party.decrypt(m.ratchet_message)[0]
        p, _ = self.party.decrypt(message)
        # The peer's message stops the wrapping and confirms the session: for
        # the responder only on a chain after the first (§7.7).
        self.pending = None
        if self.we_initiated or len(self.party.state.r) > 1:
            self.confirmed = True
        return p

    def encode(self) -> bytes:
        out = SESSION_MAGIC + u8(0x01) + u8(int(self.we_initiated)) + u8(int(self.confirmed))
        out += self.th + self.local + self.peer
        out += b"\x00" if self.pending is None else b"\x01" + u32(len(self.pending)) + self.pending
        out += b"\x00" if self.record is None else b"\x01" + self.record[0] + self.record[1]
        ratchet = encode_ratchet(self.party.state)
        out += u32(len(ratchet)) + ratchet
        return out + sha256(out)


def decode_session(data: bytes) -> SessionModel:
    """SessionState of §8.5: after §8.1, rules 1–9 in order; Truncated wherever
    the input ends early."""
    f = open_state(data, SESSION_MAGIC)
    role = f.int(1)
    if role not in (0, 1):
        raise invalid("role")  # 1
    confirmed = f.int(1)
    if confirmed not in (0, 1):
        raise invalid("confirmed")  # 2
    th, local, peer = f.take(32), f.take(64), f.take(128)
    if not verify_identity(peer):
        raise invalid("peer identity")  # 3
    pending = None
    if f.opt_tag():  # 4
        if role == 0:
            raise invalid("pending handshake")
        pending = f.take(f.int(4))
        try:
            m = parse_initial(pending)
        except SessionError:
            raise invalid("pending handshake") from None
        if m.ratchet_message or m.identity[:64] != local or not verify_identity(m.identity):
            raise invalid("pending handshake")
    if role == 1 and (confirmed == 1) == (pending is not None):
        raise invalid("confirmed")  # 5
    record = None
    if f.opt_tag():  # 6
        record = (f.take(32), f.take(32))
    if (record is None) == (role == 0):
        raise invalid("initial message record")
    ratchet = decode_ratchet(f.take(f.int(4)))  # 7
    if ratchet.ad != th:
        raise invalid("session id")  # 8
    f.done()  # 9
    return SessionModel(role == 1, confirmed == 1, th, local, peer, pending, record,
                        Party(ratchet))


# ---- session_state cases of state-encodings.json (§4.11) --------------------

SESSION_STATE_FIELDS = {"kind", "description", "header_mode", "initiator", "responder",
                        "ephemeral_private", "m", "steps", "party", "encoding"}


def run_flow(c: dict) -> dict:
    """Runs the flow of a session_state case (§4.11.3); returns the sessions
    by party."""
    mode = c["header_mode"]
    if mode not in (PLAIN, ENCRYPTED):
        raise Mismatch(f"unknown header_mode '{mode}'")
    check_secrets(c["initiator"], "initiator")
    check_secrets(c["responder"], "responder")
    alice = Account.from_secrets(c["initiator"])
    bob = Account.from_secrets(c["responder"])
    random = ReplayedRandom(("ephemeral_private", h(c["ephemeral_private"])), ("m", h(c["m"])))
    hs = start(alice.identity, make_bundle(bob).encode(), mode, random)
    random.check_used()
    sessions = {"initiator": SessionModel(
        True, False, hs.th, alice.identity.key, hs.bundle.identity, hs.wrap(b""), None,
        hs.party)}
    sent = []
    for i, step in enumerate(c["steps"]):
        where = f"step {i} ({step.get('action')}): "
        try:
            if step["action"] == "send":
                sender = step["sender"]
                if sender not in sessions:
                    raise Mismatch(f"'{sender}' has no session yet")
                random = RecordedRandom(step)
                msg = sessions[sender].encrypt(h(step["plaintext"]), random)
                random.check_used()
                sent.append((sender, msg))
                compare(step, {"action": "send", "sender": sender, "plaintext": step["plaintext"],
                               **pick(step, ("ratchet_private", "salt")), "message": msg})
            elif step["action"] == "deliver":
                idx = step["message_index"]
                if not 0 <= idx < len(sent):
                    raise Mismatch(f"message_index {idx} names no message sent so far")
                sender, msg = sent[idx]
                receiver = "responder" if sender == "initiator" else "initiator"
                if receiver not in sessions:  # the responder's first initial message
                    bob, party, _, th = accept(bob, msg)
                    m = parse_initial(msg)
                    sessions[receiver] = SessionModel(
                        False, False, th, bob.identity.key, m.identity, None,
                        (m.ek, sha256(empty_initial(m))), party)
                else:
                    sessions[receiver].decrypt(msg)
                compare(step, {"action": "deliver", "message_index": idx})
            else:
                raise Mismatch(f"unknown action '{step.get('action')}'")
        except (RatchetError, SessionError) as e:
            raise Mismatch(where + f"rejected with {e}") from None
        except Mismatch as e:
            raise Mismatch(where + str(e)) from None
    return sessions


def check_session_state(c: dict) -> None:
    if set(c) != SESSION_STATE_FIELDS:
        raise Mismatch(f"unexpected case fields {sorted(set(c) ^ SESSION_STATE_FIELDS)}")
    sessions = run_flow(c)
    if c["party"] not in sessions:
        raise Mismatch(f"'{c['party']}' has no session")
    encoding = sessions[c["party"]].encode()
    compare({"encoding": c["encoding"]}, {"encoding": encoding})
    try:
        back = decode_session(encoding)
    except StateError as e:
        raise Mismatch(f"the state is rejected on reading: {e.name}") from None
    if back.encode() != encoding:
        raise Mismatch("decoding and encoding again changes the state")
