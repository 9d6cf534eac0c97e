"""§7 session establishment with the account encoding of §8.4; the checks of
handshake.json (§4.7) and handshake-negative.json (§4.8)."""

from .common import *  # noqa: F401,F403
from .primitives import *  # noqa: F401,F403
from .ratchet import *  # noqa: F401,F403


# ---------------------------------------------------------------------------
# §7 session establishment
# ---------------------------------------------------------------------------


class SessionError(Exception):
    """An abort of §7; `name` is the error class as the vectors write it (§4.8.2)."""

    def __init__(self, name: str, detail: str = ""):
        super().__init__(name if not detail else f"{name}: {detail}")
        self.name = name


KIND_SPK, KIND_PQSPK, KIND_PQOPK, KIND_OPK = 0x01, 0x02, 0x03, 0x04
TYPE_BUNDLE, TYPE_INITIAL = 0x10, 0x03
MAX_RATCHET_MESSAGE_LEN = ENCRYPTED_PREFIX_LEN + 2**20 + 16  # 1,048,682, §6.4
MAX_REPLAY_RECORDS = 4096  # per signed prekey (§7.6, §7.9)


@dataclass
class Identity:
    """§7.1: IK_sig and IK_dh, and the public values derived from them."""

    seed: bytes
    dh_private: bytes

    def __post_init__(self):
        self.sig_public = ed25519_public(self.seed)
        self.dh_public = x25519_public(self.dh_private)
        self.key = self.sig_public + self.dh_public  # IdentityKey
        self.binding = labeled_sign(self.seed, b"identity binding", self.key)
        self.public = self.key + self.binding  # IdentityPublic, 128 bytes


def prekey_signature(seed: bytes, kind: int, prekey_id: int, key: bytes) -> bytes:
    return labeled_sign(seed, b"prekey", u8(kind) + u32(prekey_id) + key)


@dataclass
class Account:
    """A party's keys (§7.1, §7.2), replay records (§7.6) and generation, as in §8.4."""

    seed: bytes
    dh_private: bytes
    next_prekey_id: int
    spk: Tuple[int, bytes]  # (id, X25519 private key)
    previous_spk: Optional[Tuple[int, bytes]]
    opks: List[Tuple[int, bytes]]
    pqspk: Tuple[int, bytes]  # (id, ML-KEM seed d || z)
    previous_pqspk: Optional[Tuple[int, bytes]]
    pqopks: List[Tuple[int, bytes]]
    replay: List[bytes]  # replay records of the current SPK: SHA-256(EK), sorted
    previous_replay: List[bytes] = field(default_factory=list)  # those of the previous SPK
    generation: int = 0
    long_term_published: bool = False  # §7.11; one-time prekeys here are all unpublished

    @classmethod
    def from_secrets(cls, secrets: dict) -> "Account":
        """Ids from a counter starting at 1: SPK, PQSPK, then the one-time
        prekeys in the order of §4.7.2."""
        ids = iter(range(1, 100))
        acc = cls(
            h(secrets["signing_seed"]),
            h(secrets["agreement_private"]),
            0,
            (next(ids), h(secrets["signed_prekey_private"])),
            None,
            [],
            (next(ids), h(secrets["kem_last_resort_seed"])),
            None,
            [],
            [],
        )
        # Each call that adds one-time prekeys increments the generation (§8.4).
        if "one_time_prekey_private" in secrets:
            acc.opks.append((next(ids), h(secrets["one_time_prekey_private"])))
            acc.generation += 1
        if "kem_one_time_prekey_seed" in secrets:
            acc.pqopks.append((next(ids), h(secrets["kem_one_time_prekey_seed"])))
            acc.generation += 1
        acc.next_prekey_id = next(ids)
        return acc

    @property
    def identity(self) -> Identity:
        return Identity(self.seed, self.dh_private)

    def encode(self) -> bytes:
        """AccountState of §8.4."""

        def opt(x):
            return b"\x00" if x is None else b"\x01" + x

        def x_prekey(p):
            return u32(p[0]) + p[1]

        def records(rs):
            return u16(len(rs)) + b"".join(rs)

        out = b"SOVA-1 account" + u8(0x01) + u64(self.generation) + self.seed + self.dh_private
        out += u32(self.next_prekey_id)
        out += u8(1 if self.long_term_published else 0)
        out += x_prekey(self.spk) + records(self.replay)
        out += opt(self.previous_spk and x_prekey(self.previous_spk) + records(self.previous_replay))
        out += u16(len(self.opks)) + b"".join(x_prekey(p) + u8(0) for p in self.opks)
        out += x_prekey(self.pqspk) + opt(self.previous_pqspk and x_prekey(self.previous_pqspk))
        out += u16(len(self.pqopks)) + b"".join(x_prekey(p) + u8(0) for p in self.pqopks)
        return out + sha256(out)


@dataclass
class Bundle:
    """§7.3, field by field."""

    identity: bytes  # IdentityPublic, 128 bytes
    spk_id: int
    spk: bytes
    spk_signature: bytes
    opk: Optional[Tuple[int, bytes]]  # (opk_id, OPK)
    kem_kind: int
    kem_id: int
    pqpk: bytes
    pqpk_signature: bytes

    def encode(self) -> bytes:
        out = u8(VERSION) + u8(TYPE_BUNDLE) + self.identity
        out += u32(self.spk_id) + self.spk + self.spk_signature
        out += b"\x00" if self.opk is None else b"\x01" + u32(self.opk[0]) + self.opk[1]
        out += u8(self.kem_kind) + u32(self.kem_id) + self.pqpk + self.pqpk_signature
        return out


def make_bundle(acc: Account) -> Bundle:
    """The bundle of §7.3 with each one-time prekey the account holds: its first
    one-time X25519 prekey if any, its first one-time ML-KEM prekey if any,
    else the last-resort one (§4.7.2)."""
    seed = acc.seed
    spk_id, spk_priv = acc.spk
    spk = x25519_public(spk_priv)
    opk = None
    if acc.opks:
        opk = (acc.opks[0][0], x25519_public(acc.opks[0][1]))
    kind, (kem_id, kem_seed) = (
        (KIND_PQOPK, acc.pqopks[0]) if acc.pqopks else (KIND_PQSPK, acc.pqspk)
    )
    pqpk, _ = kem_keygen(kem_seed)
    return Bundle(
        acc.identity.public,
        spk_id,
        spk,
        prekey_signature(seed, KIND_SPK, spk_id, spk),
        opk,
        kind,
        kem_id,
        pqpk,
        prekey_signature(seed, kind, kem_id, pqpk),
    )


class Reader:
    """Reads fixed-size fields in order; a short read is Truncated(field)."""

    def __init__(self, data: bytes, error: Callable[[str, str], SessionError]):
        self.data, self.pos, self.error = data, 0, error

    def take(self, n: int, name: str) -> bytes:
        if len(self.data) - self.pos < n:
            raise self.error("Truncated", name)
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def int(self, n: int, name: str) -> int:
        return int.from_bytes(self.take(n, name), "big")

    def finish(self) -> None:
        if self.pos != len(self.data):
            raise self.error("TrailingBytes", f"{len(self.data) - self.pos} bytes")


def bundle_error(reason: str, detail: str = "") -> SessionError:
    return SessionError(f"Bundle({reason})", detail)


def malformed_initial(reason: str, detail: str = "") -> SessionError:
    return SessionError(f"Malformed({reason})", detail)


def parse_head(r: Reader, msg_type: int) -> None:
    """Version and type, the first two fields of §7.3 and §7.5."""
    if r.int(1, "version") != VERSION:
        raise r.error("UnsupportedVersion", "")
    if r.int(1, "type") != msg_type:
        raise r.error("WrongType", "")


def parse_bundle(data: bytes) -> Bundle:
    """§7.3: the parser's rules, field by field."""
    r = Reader(data, bundle_error)
    parse_head(r, TYPE_BUNDLE)
    identity = r.take(128, "identity")
    spk_id, spk, spk_sig = r.int(4, "spk_id"), r.take(32, "spk"), r.take(64, "spk signature")
    flag = r.int(1, "one-time prekey flag")
    if flag not in (0, 1):
        raise bundle_error("InvalidFlag")
    opk = (r.int(4, "opk_id"), r.take(32, "opk")) if flag == 1 else None
    kem_kind = r.int(1, "kem_kind")
    if kem_kind not in (KIND_PQSPK, KIND_PQOPK):
        raise bundle_error("InvalidKemKind")
    kem_id, pqpk = r.int(4, "kem_id"), r.take(KEM_EK_LEN, "pqpk")
    pqpk_sig = r.take(64, "pqpk signature")
    r.finish()
    return Bundle(identity, spk_id, spk, spk_sig, opk, kem_kind, kem_id, pqpk, pqpk_sig)


def verify_identity(identity: bytes) -> bool:
    """LabeledVerify of the binding of an IdentityPublic (§7.1)."""
    return labeled_verify(identity[0:32], b"identity binding", identity[0:64], identity[64:128])


def verify_bundle(b: Bundle) -> None:
    """§7.3: the three signatures, in this order."""
    if not verify_identity(b.identity):
        raise bundle_error("InvalidIdentitySignature")
    sig_pub = b.identity[0:32]
    spk_msg = u8(KIND_SPK) + u32(b.spk_id) + b.spk
    if not labeled_verify(sig_pub, b"prekey", spk_msg, b.spk_signature):
        raise bundle_error("InvalidSignedPrekeySignature")
    kem_msg = u8(b.kem_kind) + u32(b.kem_id) + b.pqpk
    if not labeled_verify(sig_pub, b"prekey", kem_msg, b.pqpk_signature):
        raise bundle_error("InvalidKemPrekeySignature")


@dataclass
class InitialMessage:
    """§7.5, field by field."""

    identity: bytes  # IdentityPublic of the initiator
    ek: bytes
    spk_id: int
    opk_id: Optional[int]
    kem_kind: int
    kem_id: int
    ct: bytes
    ratchet_message: bytes

    def encode(self) -> bytes:
        out = u8(VERSION) + u8(TYPE_INITIAL) + self.identity + self.ek + u32(self.spk_id)
        out += b"\x00" if self.opk_id is None else b"\x01" + u32(self.opk_id)
        out += u8(self.kem_kind) + u32(self.kem_id) + self.ct
        return out + u32(len(self.ratchet_message)) + self.ratchet_message


def parse_initial(data: bytes) -> InitialMessage:
    """§7.5: the rules of §7.3 plus RatchetMessageTooLong."""
    r = Reader(data, malformed_initial)
    parse_head(r, TYPE_INITIAL)
    identity, ek, spk_id = r.take(128, "identity"), r.take(32, "ek"), r.int(4, "spk_id")
    flag = r.int(1, "one-time prekey flag")
    if flag not in (0, 1):
        raise malformed_initial("InvalidFlag")
    opk_id = r.int(4, "opk_id") if flag == 1 else None
    kem_kind = r.int(1, "kem_kind")
    if kem_kind not in (KIND_PQSPK, KIND_PQOPK):
        raise malformed_initial("InvalidKemKind")
    kem_id, ct = r.int(4, "kem_id"), r.take(KEM_CT_LEN, "ct")
    length = r.int(4, "length")
    if length > MAX_RATCHET_MESSAGE_LEN:
        raise malformed_initial("RatchetMessageTooLong")
    ratchet_message = r.take(length, "ratchet message")
    r.finish()
    return InitialMessage(identity, ek, spk_id, opk_id, kem_kind, kem_id, ct, ratchet_message)


def transcript(
    ipk_a: bytes, ipk_b: bytes, spk_id: int, spk: bytes, opk, kem_kind: int, kem_id: int,
    pqpk_hash: bytes, ek: bytes, ct: bytes,
) -> bytes:
    """The data hashed into TH (§7.4); opk is (opk_id, OPK) or None."""
    out = ipk_a + ipk_b + u32(spk_id) + spk
    out += b"\x00" if opk is None else b"\x01" + u32(opk[0]) + opk[1]
    return out + u8(kem_kind) + u32(kem_id) + pqpk_hash + ek + ct


def key_schedule(th: bytes, dhs: List[bytes], ss: bytes) -> Tuple[bytes, bytes]:
    """PRK and SK of §7.4."""
    prk = labeled_extract(th, b"handshake", b"".join(dhs) + ss)
    return prk, labeled_expand(prk, b"session secret", b"", 32)


def checked_dh(private: bytes, public: bytes) -> bytes:
    out = dh(private, public)
    if out is None:
        raise SessionError("LowOrderKey")
    return out


@dataclass
class Handshake:
    """The initiator's session after Start (§7.4), with every intermediate."""

    values: dict
    bundle: Bundle
    identity: Identity
    ek: bytes
    ct: bytes
    th: bytes
    party: Party

    def wrap(self, ratchet_message: bytes) -> bytes:
        """The initial message of §7.5 around a ratchet message."""
        b = self.bundle
        return InitialMessage(
            self.identity.public, self.ek, b.spk_id, b.opk[0] if b.opk else None,
            b.kem_kind, b.kem_id, self.ct, ratchet_message,
        ).encode()


def start(initiator: Identity, bundle: bytes, mode: str, draw: Callable[[int], bytes]) -> Handshake:
    """Start(bundle, mode) of §7.4."""
    b = parse_bundle(bundle)
    verify_bundle(b)
    ek_priv = draw(32)
    ek = x25519_public(ek_priv)
    m = draw(32)
    ik_dh_b = b.identity[32:64]
    v = {"ephemeral_public": ek}
    v["dh1"] = checked_dh(initiator.dh_private, b.spk)
    v["dh2"] = checked_dh(ek_priv, ik_dh_b)
    v["dh3"] = checked_dh(ek_priv, b.spk)
    if b.opk is not None:
        v["dh4"] = checked_dh(ek_priv, b.opk[1])
    try:
        ct, ss = kem_encaps(b.pqpk, m)
    except KemInvalidKey:
        raise SessionError("InvalidKemPrekey") from None
    v.update(kem_ciphertext=ct, kem_shared_secret=ss)
    t = transcript(
        initiator.public, b.identity, b.spk_id, b.spk, b.opk, b.kem_kind, b.kem_id,
        sha256(b.pqpk), ek, ct,
    )
    th = labeled_hash(b"handshake transcript", t)
    dhs = [v[k] for k in ("dh1", "dh2", "dh3", "dh4") if k in v]
    prk, sk = key_schedule(th, dhs, ss)
    v.update(transcript=t, transcript_hash=th, handshake_prk=prk, session_secret=sk)
    party = Party(init_party(sk, th, mode, True, b.spk))
    return Handshake(v, b, initiator, ek, ct, th, party)


def find_prekey(prekeys, prekey_id: int):
    for p in prekeys:
        if p is not None and p[0] == prekey_id:
            return p
    return None


def accept(acc: Account, data: bytes):
    """Accept(M) of §7.6. Returns (the new account, the responder's party, the
    plaintext, TH); the account given is never modified."""
    m = parse_initial(data)
    if not verify_identity(m.identity):
        raise SessionError("InvalidIdentitySignature")
    spk = find_prekey([acc.spk, acc.previous_spk], m.spk_id)
    if spk is None:
        raise SessionError("UnknownPrekey", str(m.spk_id))
    opk = None
    if m.opk_id is not None:
        opk = find_prekey(acc.opks, m.opk_id)
        if opk is None:
            raise SessionError("OneTimePrekeyUnknownOrUsed", str(m.opk_id))
    if m.kem_kind == KIND_PQOPK:
        pq = find_prekey(acc.pqopks, m.kem_id)
        if pq is None:
            raise SessionError("OneTimePrekeyUnknownOrUsed", str(m.kem_id))
    else:
        pq = find_prekey([acc.pqspk, acc.previous_pqspk], m.kem_id)
        if pq is None:
            raise SessionError("UnknownPrekey", str(m.kem_id))
    # A handshake without a one-time prekey needs a replay record on its SPK.
    needs_record = opk is None and m.kem_kind != KIND_PQOPK
    records = acc.replay if spk is acc.spk else acc.previous_replay
    ek_hash = sha256(m.ek)
    if needs_record and ek_hash in records:
        raise SessionError("Replay")
    if needs_record and len(records) >= MAX_REPLAY_RECORDS:
        raise SessionError("ReplayStoreFull", str(m.spk_id))
    ik_dh_a = m.identity[32:64]
    dhs = [checked_dh(spk[1], ik_dh_a), checked_dh(acc.dh_private, m.ek), checked_dh(spk[1], m.ek)]
    if opk is not None:
        dhs.append(checked_dh(opk[1], m.ek))
    pqpk, dk = kem_keygen(pq[1])
    ss = kem_decaps(dk, m.ct)
    spk_pub = x25519_public(spk[1])
    t = transcript(
        m.identity, acc.identity.public, spk[0], spk_pub,
        None if opk is None else (opk[0], x25519_public(opk[1])),
        m.kem_kind, pq[0], sha256(pqpk), m.ek, m.ct,
    )
    th = labeled_hash(b"handshake transcript", t)
    _, sk = key_schedule(th, dhs, ss)
    # The embedded message's type fixes the mode (§7.5); a message of neither
    # type is left to the ratchet's parser, which rejects it (§6.5).
    embedded_type = m.ratchet_message[1] if len(m.ratchet_message) > 1 else None
    mode = ENCRYPTED if embedded_type == TYPE_ENCRYPTED else PLAIN
    party = Party(init_party(sk, th, mode, False, (spk[1], spk_pub)))
    try:
        p, _ = party.decrypt(m.ratchet_message)
    except RatchetError as e:
        raise SessionError(f"FirstMessage({e.name})", str(e)) from None
    new = copy.deepcopy(acc)
    if opk is not None:
        new.opks.remove(opk)
    if m.kem_kind == KIND_PQOPK:
        new.pqopks.remove(pq)
    if needs_record:
        if spk is acc.spk:
            new.replay = sorted(new.replay + [ek_hash])
        else:
            new.previous_replay = sorted(new.previous_replay + [ek_hash])
    new.generation += 1
    return new, party, p, th



# ---- handshake.json and handshake-negative.json (§4.7, §4.8) ---------------


class ReplayedRandom:
    """Random(n) of §3.9 answering with recorded values, in order."""

    def __init__(self, *named: Tuple[str, bytes]):
        self.pending = list(named)
        self.drawn: List[str] = []

    def __call__(self, n: int) -> bytes:
        if not self.pending:
            raise Mismatch(f"a draw of {n} bytes beyond the recorded values {self.drawn}")
        name, value = self.pending.pop(0)
        if len(value) != n:
            raise Mismatch(f"'{name}' has {len(value)} bytes, the draw is of {n}")
        self.drawn.append(name)
        return value

    def check_used(self) -> None:
        if self.pending:
            raise Mismatch(f"recorded value(s) never drawn: {[n for n, _ in self.pending]}")


ACCOUNT_SECRETS = ("signing_seed", "agreement_private", "signed_prekey_private",
                   "kem_last_resort_seed", "one_time_prekey_private", "kem_one_time_prekey_seed")


def check_secrets(secrets: dict, who: str) -> None:
    unknown = set(secrets) - set(ACCOUNT_SECRETS)
    missing = set(ACCOUNT_SECRETS[:4]) - set(secrets)
    if unknown or missing:
        raise Mismatch(f"'{who}': unknown {sorted(unknown)}, missing {sorted(missing)}")


def check_handshake(c: dict) -> None:
    if c["kind"] != "handshake":
        raise Mismatch(f"unknown kind '{c['kind']}'")
    mode = c["header_mode"]
    if mode not in (PLAIN, ENCRYPTED):
        raise Mismatch(f"unknown header_mode '{mode}'")
    check_secrets(c["initiator"], "initiator")
    check_secrets(c["responder"], "responder")
    if set(c["initiator"]) != set(ACCOUNT_SECRETS[:4]):
        raise Mismatch("the initiator has one-time prekeys")
    # Step 1: both parties' keys, the prekey signatures and the bundle.
    alice = Account.from_secrets(c["initiator"]).identity
    bob = Account.from_secrets(c["responder"])
    bundle = make_bundle(bob)
    # Step 2: Start, drawing ek then m.
    random = ReplayedRandom(("ephemeral_private", h(c["ephemeral_private"])), ("m", h(c["m"])))
    hs = start(alice, bundle.encode(), mode, random)
    random.check_used()
    # Step 3: the first message, drawing the ratchet key then the salt, wrapped (§7.5).
    random = ReplayedRandom(("ratchet_private", h(c["ratchet_private"])), ("salt", h(c["salt"])))
    msg, trace = hs.party.encrypt(h(c["plaintext"]), random)
    random.check_used()
    initial = hs.wrap(msg)
    # Step 4: the responder accepts it.
    try:
        bob_after, bob_party, p, th_b = accept(bob, initial)
    except SessionError as e:
        raise Mismatch(f"Accept rejects the initial message with {e}") from None
    got = {k: c[k] for k in ("header_mode", "initiator", "responder", "ephemeral_private",
                             "m", "ratchet_private", "salt", "plaintext")}
    got["signed_prekey_id"] = bundle.spk_id
    if bundle.opk is not None:
        got["one_time_prekey_id"] = bundle.opk[0]
    got.update(kem_prekey_kind=bundle.kem_kind, kem_prekey_id=bundle.kem_id,
               initiator_identity=alice.public, responder_identity=bundle.identity,
               signed_prekey_public=bundle.spk, signed_prekey_signature=bundle.spk_signature)
    if bundle.opk is not None:
        got["one_time_prekey_public"] = bundle.opk[1]
    got.update(kem_prekey_sha256=sha256(bundle.pqpk),
               kem_prekey_signature=bundle.pqpk_signature, bundle=bundle.encode())
    got.update(hs.values)
    got.update(ratchet_public=trace["ratchet_public"], initial_message=initial,
               responder_plaintext=p)
    compare(without(c, "kind", "description"), got)
    # The further checks of §4.7.3.
    if th_b != hs.th:
        raise Mismatch("the responder's session id is not TH")
    if p != h(c["plaintext"]):
        raise Mismatch("the responder's plaintext is not the plaintext")
    named = [bundle.opk[0]] if bundle.opk else []
    named += [bundle.kem_id] if bundle.kem_kind == KIND_PQOPK else []
    left = [i for i, _ in bob_after.opks + bob_after.pqopks]
    if any(i in left for i in named) or len(left) != len(bob.opks + bob.pqopks) - len(named):
        raise Mismatch(f"after Accept the one-time prekeys are {left}; {named} should be gone")
    # A second Accept of the same message fails (§7.6).
    want = "OneTimePrekeyUnknownOrUsed" if named else "Replay"
    try:
        accept(bob_after, initial)
    except SessionError as e:
        if e.name != want:
            raise Mismatch(f"a second Accept fails with {e.name}, expected {want}") from None
    else:
        raise Mismatch("a second Accept of the same initial message succeeds")
    # Both parties now hold the same session: the responder's reply decrypts.
    reply, _ = bob_party.encrypt(b"reply", lambda n: sha256(b"reply ratchet key")[:n])
    if hs.party.decrypt(reply)[0] != b"reply":
        raise Mismatch("the responder's reply does not decrypt at the initiator")


def check_start_rejection(c: dict) -> None:
    known = {"kind", "description", "initiator", "ephemeral_private", "m", "bundle", "error"}
    if set(c) != known:
        raise Mismatch(f"unexpected case fields {sorted(set(c) ^ known)}")
    check_secrets(c["initiator"], "initiator")
    alice = Account.from_secrets(c["initiator"]).identity
    for mode in (PLAIN, ENCRYPTED):
        random = ReplayedRandom(("ephemeral_private", h(c["ephemeral_private"])), ("m", h(c["m"])))
        try:
            start(alice, h(c["bundle"]), mode, random)
        except SessionError as e:
            if e.name != c["error"]:
                raise Mismatch(
                    f"{mode}: field 'error': file {c['error']!r}, computed {e.name!r} ({e})"
                ) from None
        else:
            raise Mismatch(f"{mode}: Start accepts the bundle, expected {c['error']}")
        # §4.8.3: the bundle checks come before any draw; the others draw both.
        want = [] if c["error"].startswith("Bundle(") else ["ephemeral_private", "m"]
        if random.drawn != want:
            raise Mismatch(f"{mode}: Start drew {random.drawn} before failing, expected {want}")


def check_accept_rejection(c: dict) -> None:
    known = {"kind", "description", "responder", "accepted", "message", "error"}
    if set(c) != known:
        raise Mismatch(f"unexpected case fields {sorted(set(c) ^ known)}")
    check_secrets(c["responder"], "responder")
    bob = Account.from_secrets(c["responder"])
    for i, earlier in enumerate(c["accepted"]):
        try:
            bob, _, _, _ = accept(bob, h(earlier))
        except SessionError as e:
            raise Mismatch(f"accepted[{i}] is rejected with {e}") from None
    before = bob.encode()
    try:
        _, _, p, _ = accept(bob, h(c["message"]))
    except SessionError as e:
        if e.name != c["error"]:
            raise Mismatch(f"field 'error': file {c['error']!r}, computed {e.name!r} ({e})")
    else:
        raise Mismatch(f"the message was accepted (plaintext {p.hex()}), expected {c['error']}")
    if bob.encode() != before:
        raise Mismatch("the responder's account changed although the message was rejected")


def check_handshake_negative(c: dict) -> None:
    if c["kind"] == "start_rejection":
        check_start_rejection(c)
    elif c["kind"] == "accept_rejection":
        check_accept_rejection(c)
    else:
        raise Mismatch(f"unknown kind '{c['kind']}'")
