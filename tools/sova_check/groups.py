"""groups.json: groups (spec §12), from the spec alone.

Every object of a run is rebuilt from its seeds (device lists §11.3,
operations and state hashes §12.3, the welcome, the chain offer §12.5,
every chain step and message §12.6), the reader's state encoding §12.8 is
rebuilt from a model of Bob's state, and every rejection is classified by
this file's own implementation of the check orders of §12.3, §12.5 and
§12.6 and must give the recorded error class.
"""

from typing import Dict, List, Optional, Tuple

from .common import *  # noqa: F401,F403
from .primitives import *  # noqa: F401,F403
from .ratchet import pad, unpad

CHAIN_MESSAGES = 1000
MAX_GROUP_CHAINS = 5000
MAX_GROUP_STORED_KEYS = 5000
MAX_BODY_LEN = (1 << 20) + 16  # §12.6: the padded longest plaintext (§5.4) and the tag


def sign_list(user_seed: bytes, identity: bytes) -> bytes:
    body = (b"SOVA-1 devices" + u8(1) + ed25519_public(user_seed) + u64(1) + u8(1)
            + u32(1) + identity + u8(1))
    return body + labeled_sign(user_seed, b"device list", body)


def roster(members: Dict[bytes, int]) -> bytes:
    out = u16(len(members))
    for user in sorted(members):
        out += user + u8(members[user])
    return out


def operation(seed: bytes, gid: bytes, epoch: int, prev: bytes, signer: bytes, kind: int,
              body: bytes) -> bytes:
    out = (b"SOVA-1 group op" + u8(1) + gid + u64(epoch) + prev + signer + u32(1) + u8(kind)
           + body)
    return out + labeled_sign(seed, b"group operation", out)


def state_hash(op: bytes, members: Dict[bytes, int]) -> bytes:
    return labeled_hash(b"group state", op + roster(members))


def chain_offer(device_seed: bytes, gid: bytes, epoch: int, h: bytes, owner: bytes,
                spk: bytes, ck: bytes) -> bytes:
    out = (b"SOVA-1 group chain" + u8(1) + gid + u64(epoch) + h + owner + u32(1) + u32(0)
           + spk)
    out += labeled_sign(device_seed, b"group chain binding", out + commitment(0, ck))
    return out + u32(0) + ck


def commitment(index: int, ck: bytes) -> bytes:
    """§12.5: C, signed by the binding, not sent."""
    return labeled_hash(b"group chain commitment", u32(index) + ck)


def chain_steps(ck: bytes, sk: bytes, gid: bytes, epoch: int, h: bytes, sender: bytes,
                texts: List[bytes]):
    steps = []
    for i, text in enumerate(texts):
        mk = labeled_mac(ck, b"group message key", b"")
        nxt = labeled_mac(ck, b"group chain", b"")
        header = u8(1) + u8(0x30) + gid + u64(epoch) + h + sender + u32(1) + u32(0) + u32(i)
        okm = labeled_expand(mk, b"group message keys", header, 44)
        sealed = aead_seal(okm[:32], okm[32:], header, pad(text))
        m = header + u32(len(sealed)) + sealed
        m += labeled_sign(sk, b"group message", m)
        steps.append({"plaintext": text, "chain_key": ck, "message_key": mk,
                      "aead_key": okm[:32], "nonce": okm[32:], "header": header,
                      "message": m})
        ck = nxt
    return steps, ck


class Refused(Exception):
    pass


class Reader:
    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise Refused("Malformed(Truncated)")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def int(self, n: int) -> int:
        return int.from_bytes(self.take(n), "big")

    def end(self) -> None:
        if self.pos != len(self.data):
            raise Refused("Malformed(TrailingBytes)")


class Model:
    """One device's group state, as far as the checks of §12 need it."""

    def __init__(self, gid: bytes, epoch: int, h: bytes, members: Dict[bytes, int],
                 prev: Optional[Tuple[bytes, Dict[bytes, int]]], lists: Dict[bytes, bytes],
                 last_op: bytes = b""):
        self.gid, self.epoch, self.hash, self.members = gid, epoch, h, dict(members)
        self.prev = prev  # (StateHash, roster) of the epoch before
        self.last_op = last_op
        self.lists = lists  # user -> IK_sig of device 1
        # (user, device) -> [generation, next_index, chain_key, spk]
        self.chains: Dict[Tuple[bytes, int], list] = {}
        self.skipped: Dict[Tuple[bytes, int, int, int], bytes] = {}

    def device(self, user: bytes, device: int) -> bytes:
        if user not in self.members:
            raise Refused("NotMember")
        if user not in self.lists or device != 1:
            raise Refused("UnknownDevice")
        return self.lists[user]

    def epoch_check(self, epoch: int, h: bytes) -> None:
        # §12.6 check 3: ours or the one just before ours with another hash: Fork.
        if epoch == self.epoch and h != self.hash:
            raise Refused("Fork")
        if (epoch + 1 == self.epoch and self.prev is not None and h != self.prev[0]):
            raise Refused("Fork")
        if epoch < self.epoch:
            raise Refused("StaleEpoch")
        if epoch > self.epoch:
            raise Refused("EpochAhead")

    def changed(self, members: Dict[bytes, int], signer: bytes, device: int, kind: int,
                target: bytes, role: Optional[int], op: bytes, sig: bytes) -> Dict[bytes, int]:
        """§12.3 checks 4–8 against `members`; the roster after the operation."""
        if signer not in members:
            raise Refused("NotMember")
        if signer not in self.lists or device != 1:
            raise Refused("UnknownDevice")
        if not labeled_verify(self.lists[signer], b"group operation", op[:-64], sig):
            raise Refused("InvalidSignature")
        admin = members[signer] == 1
        if not admin and not (kind == 2 and target == signer):
            raise Refused("NotAuthorised")
        after = dict(members)
        if kind == 1:
            if target in after:
                raise Refused("AlreadyMember")
            if len(after) >= 1000:
                raise Refused("TooManyMembers")
            after[target] = role
        else:
            if target not in after:
                raise Refused("NoSuchMember")
            if kind == 2:
                del after[target]
            else:
                if after[target] == role:
                    raise Refused("RoleUnchanged")
                after[target] = role
        if 1 not in after.values():
            raise Refused("LastAdmin")
        return after

    def apply(self, op: bytes) -> str:
        """§12.3 checks and §12.4, for operations after the create (kinds 1–3)."""
        r = Reader(op)
        if r.take(15) != b"SOVA-1 group op" or r.int(1) != 1:
            raise Refused("Malformed(BadMagic)")
        gid, epoch, prev = r.take(32), r.int(8), r.take(32)
        signer, device, kind = r.take(32), r.int(4), r.int(1)
        if kind == 2:
            target, role = r.take(32), None
        elif kind in (1, 3):
            target, role = r.take(32), r.int(1)
            if role not in (0, 1):
                raise Refused("Malformed(InvalidRole)")
        else:
            raise Refused("Malformed(InvalidKind)")
        sig = r.take(64)
        r.end()
        if gid != self.gid:
            raise Refused("WrongGroup")
        if epoch == self.epoch:
            # §12.3 check 3: the last operation again is Unchanged (before
            # checks 4–8); a competing one is verified, then Fork (§12.4).
            if op == self.last_op:
                return "Unchanged"
            if self.prev is None or prev != self.prev[0]:
                raise Refused("Fork")
            self.changed(self.prev[1], signer, device, kind, target, role, op, sig)
            raise Refused("Fork")
        if epoch < self.epoch:
            raise Refused("StaleEpoch")
        if epoch > self.epoch + 1:
            raise Refused("EpochAhead")
        if prev != self.hash:
            raise Refused("Fork")
        after = self.changed(self.members, signer, device, kind, target, role, op, sig)
        self.prev = (self.hash, self.members)
        self.epoch, self.hash, self.members = epoch, state_hash(op, after), after
        self.last_op = op
        self.chains, self.skipped = {}, {}
        return "Advanced"

    def accept_chain(self, offer: bytes, from_user: bytes, from_device: int) -> None:
        r = Reader(offer)
        if r.take(18) != b"SOVA-1 group chain" or r.int(1) != 1:
            raise Refused("Malformed(BadMagic)")
        gid, epoch, h = r.take(32), r.int(8), r.take(32)
        owner, device, gen, spk = r.take(32), r.int(4), r.int(4), r.take(32)
        binding, index, ck = r.take(64), r.int(4), r.take(32)
        r.end()
        if gid != self.gid:
            raise Refused("WrongGroup")
        self.epoch_check(epoch, h)
        if (owner, device) != (from_user, from_device):
            raise Refused("WrongSession")
        ik = self.device(owner, device)
        signed = offer[:-(64 + 4 + 32)] + commitment(index, ck)
        if not labeled_verify(ik, b"group chain binding", signed, binding):
            raise Refused("InvalidSignature")
        held = self.chains.get((owner, device))
        if held is not None and held[0] >= gen:
            raise Refused("StaleChain")
        if held is None and len(self.chains) >= MAX_GROUP_CHAINS:
            raise Refused("TooManyChains")
        self.skipped = {k: v for k, v in self.skipped.items() if k[:2] != (owner, device)}
        self.chains[(owner, device)] = [gen, index, ck, spk]

    def decrypt(self, m: bytes) -> bytes:
        r = Reader(m)
        if r.int(1) != 1 or r.int(1) != 0x30:
            raise Refused("Malformed(BadMagic)")
        gid, epoch, h = r.take(32), r.int(8), r.take(32)
        sender, device, gen, index = r.take(32), r.int(4), r.int(4), r.int(4)
        n = r.int(4)
        if n > MAX_BODY_LEN:
            raise Refused("Malformed(BodyLength)")
        body = r.take(n)
        if len(body) < 16:
            raise Refused("Malformed(Truncated)")
        sig = r.take(64)
        r.end()
        if gid != self.gid:
            raise Refused("WrongGroup")
        self.epoch_check(epoch, h)
        self.device(sender, device)
        chain = self.chains.get((sender, device))
        if chain is None or chain[0] != gen:
            raise Refused("UnknownChain")
        if not labeled_verify(chain[3], b"group message", m[:-64], sig):
            raise Refused("InvalidSignature")
        if index >= CHAIN_MESSAGES:
            raise Refused("BeyondChainEnd")
        new_skipped, ck = {}, chain[2]
        key = (sender, device, gen, index)
        if index < chain[1]:
            if key not in self.skipped:
                raise Refused("DuplicateOrExpired")
            mk = self.skipped[key]
        else:
            for i in range(chain[1], index):
                new_skipped[(sender, device, gen, i)] = labeled_mac(ck, b"group message key", b"")
                ck = labeled_mac(ck, b"group chain", b"")
            mk = labeled_mac(ck, b"group message key", b"")
            ck = labeled_mac(ck, b"group chain", b"")
        okm = labeled_expand(mk, b"group message keys", m[:118], 44)
        padded = aead_open(okm[:32], okm[32:], m[:118], body)
        if padded is None:
            raise Refused("Authentication")
        text = unpad(padded)
        if text is None:
            raise Refused("InvalidPadding")
        if index < chain[1]:
            del self.skipped[key]
        else:
            chain[1], chain[2] = index + 1, ck
            self.skipped.update(new_skipped)
            while len(self.skipped) > MAX_GROUP_STORED_KEYS:  # oldest first
                del self.skipped[next(iter(self.skipped))]
        return text

    def encode(self, own_user: bytes, last_op: bytes, prev_op: bytes) -> bytes:
        """§12.8, for a device without a chain of its own."""
        out = (b"SOVA-1 group" + u8(1) + self.gid + own_user + u32(1) + u64(self.epoch)
               + self.hash + roster(self.members) + u32(len(last_op)) + last_op)
        if self.prev is None:
            out += u8(0)
        else:
            out += u8(1) + self.prev[0] + roster(self.prev[1]) + u32(len(prev_op)) + prev_op
        out += u32(0) + u8(0)
        out += u16(len(self.chains))
        for (user, device), (gen, nxt, ck, spk) in self.chains.items():
            out += user + u32(device) + u32(gen) + u32(nxt) + ck + spk
        out += u16(len(self.skipped))
        for (user, device, gen, index), mk in self.skipped.items():
            out += user + u32(device) + u32(gen) + u32(index) + mk
        return out + sha256(out)


def classify(state: Model, rejections: list, users: List[bytes], where: str) -> None:
    for i, rej in enumerate(rejections):
        data = h(rej["bytes"])
        try:
            if rej["object"] == "operation":
                state.apply(data)
            elif rej["object"] == "message":
                state.decrypt(data)
            else:
                state.accept_chain(data, users[rej["from"]], 1)
        except Refused as e:
            if str(e) != rej["error"]:
                raise Mismatch(f"{where}[{i}] ({rej['description']}): expected "
                               f"{rej['error']}, this checker says {e}")
            continue
        raise Mismatch(f"{where}[{i}] ({rej['description']}): accepted")


def check_group_run(c: dict) -> None:
    us = [h(x) for x in c["user_key_seeds"]]
    ds = [h(x) for x in c["device_seeds"]]
    dh = [h(x) for x in c["device_dh"]]
    gid, ck, sk = h(c["group_id"]), h(c["chain_key"]), h(c["chain_signing_seed"])
    forger = h(c["forger_seed"])
    texts = [h(t) for t in c["plaintexts"]]
    users = [ed25519_public(s) for s in us]
    iks = [ed25519_public(s) for s in ds]
    alice, bob, carol, dave = users
    lists = [sign_list(us[i], iks[i] + dh[i]) for i in range(4)]
    r0 = {alice: 1, bob: 0}
    create = operation(ds[0], gid, 0, bytes(32), alice, 0, roster(r0))
    h0 = state_hash(create, r0)
    welcome = (b"SOVA-1 group welcome" + u8(1) + u32(len(create)) + create + roster(r0)
               + u32(0))
    add = operation(ds[0], gid, 1, h0, alice, 1, carol + u8(0))
    r1 = {alice: 1, bob: 0, carol: 0}
    h1 = state_hash(add, r1)
    spk = ed25519_public(sk)
    offer = chain_offer(ds[0], gid, 1, h1, alice, spk, ck)
    steps, _ = chain_steps(ck, sk, gid, 1, h1, alice, texts)

    # Bob: joined from the welcome, applied the add, took the chain, read all
    # messages last first.
    bob_state = Model(gid, 0, h0, r0, None, dict(zip(users, iks)), create)
    bob_state.apply(add)
    bob_state.accept_chain(offer, alice, 1)
    for s in reversed(steps):
        if bob_state.decrypt(s["message"]) != s["plaintext"]:
            raise Mismatch("Bob reads another text")
    encoded = bob_state.encode(bob, add, create)

    remove = operation(ds[0], gid, 2, h1, alice, 2, carol)
    h2 = state_hash(remove, {alice: 1, bob: 0})
    compare(pick(c, ["lists", "create", "state_hash_0", "welcome", "add", "state_hash_1",
                     "chain_offer", "bob_state", "remove", "state_hash_2"]),
            {"lists": lists, "create": create, "state_hash_0": h0, "welcome": welcome,
             "add": add, "state_hash_1": h1, "chain_offer": offer, "bob_state": encoded,
             "remove": remove, "state_hash_2": h2})
    if len(c["steps"]) != len(steps):
        raise Mismatch("steps: another number of messages")
    for i, (want, got) in enumerate(zip(c["steps"], steps)):
        compare(want, got, f"steps[{i}].")

    # The rejections carry their bytes; the ones this checker can rebuild
    # from the seeds are compared too.
    ghost = bytes([0x66]) * 32 + u8(1)
    expected_ops = [
        operation(forger, gid, 2, h1, alice, 1, ghost),
        operation(ds[3], gid, 2, h1, dave, 1, ghost),
        operation(ds[1], gid, 2, h1, bob, 1, ghost),
        operation(ds[0], gid, 0, bytes(32), alice, 2, bob),
        operation(ds[0], gid, 2, h0, alice, 2, bob),
        operation(ds[0], gid, 2, h1, alice, 2, alice),
    ]
    for i, op in enumerate(expected_ops):
        if h(c["rejections"][i]["bytes"]) != op:
            raise Mismatch(f"rejections[{i}].bytes: not the operation the spec builds")
    classify(bob_state, c["rejections"], users, "rejections")
    bob_state.apply(remove)
    classify(bob_state, c["after_removal"], users, "after_removal")


CHECKS = {"group_run": check_group_run}


def check_groups(c: dict) -> None:
    if c["kind"] not in CHECKS:
        raise Mismatch(f"unknown kind '{c['kind']}'")
    CHECKS[c["kind"]](c)
