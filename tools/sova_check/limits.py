"""ratchet-limits.json (§4.10): the limits of §5.5.5 replayed from a seed, every
state compared through the SHA-256 of its encoding (§8.2)."""

from .common import *  # noqa: F401,F403
from .primitives import *  # noqa: F401,F403
from .ratchet import *  # noqa: F401,F403
from .states import encode_ratchet, stored_keys


def seeded(seed: bytes, purpose: str, k: int) -> bytes:
    """SHA-256(seed || purpose || u32(k)), the input rule of §4.10.1."""
    return sha256(seed + purpose.encode("ascii") + u32(k))


class SeededRandom:
    """The draws of the send of message k (§4.10.1): the new ratchet private key
    (32 bytes, only when the message starts a sending chain), then the salt."""

    def __init__(self, seed: bytes, k: int):
        self.seed, self.k, self.drawn = seed, k, []

    def __call__(self, n: int) -> bytes:
        purpose = {32: "ratchet_private", 16: "salt"}.get(n)
        if purpose is None:
            raise Mismatch(f"message {self.k}: a draw of {n} bytes")
        self.drawn.append(purpose)
        return seeded(self.seed, purpose, self.k)[:n]

    def check(self) -> None:
        if self.drawn not in (["salt"], ["ratchet_private", "salt"]):
            raise Mismatch(f"message {self.k}: the sender drew {self.drawn}")


def check_limits(c: dict) -> None:
    if c["kind"] != "limits":
        raise Mismatch(f"unknown kind '{c['kind']}'")
    known = {"kind", "description", "seed", "steps", *SESSION_FIELDS}
    if set(c) != known:
        raise Mismatch(f"unexpected case fields {sorted(set(c) ^ known)}")
    parties = start_session(c)
    seed = h(c["seed"])
    sent = []  # (sender, message)
    for i, step in enumerate(c["steps"]):
        where = f"step {i} ({step.get('action')}): "
        try:
            if step["action"] == "send":
                sender, first = step["sender"], len(sent)
                messages = b""
                for k in range(first, first + step["count"]):
                    random = SeededRandom(seed, k)
                    msg, _ = parties[sender].encrypt(u32(k), random)
                    random.check()
                    sent.append((sender, msg))
                    messages += msg
                got = dict(action="send", sender=sender, count=step["count"],
                           first_message=first, messages_sha256=sha256(messages),
                           state_sha256=sha256(encode_ratchet(parties[sender].state)))
            elif step["action"] == "deliver":
                k = step["message_index"]
                if not 0 <= k < len(sent):
                    raise Mismatch(f"message_index {k} names no message sent so far")
                sender, msg = sent[k]
                receiver = "responder" if sender == "initiator" else "initiator"
                party = parties[receiver]
                before = copy.deepcopy(party.state)
                try:
                    p, _ = party.decrypt(msg)
                    if p != u32(k):
                        raise Mismatch(f"decrypted {p.hex()}, expected {u32(k).hex()}")
                    result = "ok"
                except RatchetError as e:
                    result = e.name
                    if party.state != before:
                        raise Mismatch("the state changed although the message was rejected")
                got = dict(action="deliver", message_index=k, receiver=receiver, result=result,
                           stored_keys=stored_keys(party.state),
                           state_sha256=sha256(encode_ratchet(party.state)))
            else:
                raise Mismatch(f"unknown action '{step.get('action')}'")
            compare(step, got)
        except Mismatch as e:
            raise Mismatch(where + str(e)) from None
        except RatchetError as e:
            raise Mismatch(where + f"rejected with {e}") from None
