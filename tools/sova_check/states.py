"""§8 persistence: the ratchet state encoding of §8.2, written and read, with
the rules R1–R7 and C1–C6 and the general rules of §8.1; the account state
of §8.4 read; sealing (§8.3). Session states (§8.5) are in session_states.py,
conversation states (§8.6) in conversation_states.py."""

from .common import *  # noqa: F401,F403
from .primitives import *  # noqa: F401,F403
from .ratchet import *  # noqa: F401,F403

RATCHET_MAGIC = b"SOVA-1 ratchet"
STATE_VERSION = 0x01
CHECK_LEN = 32


def opt(x: Optional[bytes]) -> bytes:
    """Opt(x) of §8.2."""
    return b"\x00" if x is None else b"\x01" + x


def encode_ratchet(st: State) -> bytes:
    """RatchetState of §8.2: the private key of DHs as drawn, its public key not
    stored; chains newest first; the check over every byte before it."""
    out = RATCHET_MAGIC + u8(STATE_VERSION) + u8(0x01 if st.mode == PLAIN else 0x02)
    out += u64(st.generation) + u16(len(st.ad)) + st.ad + st.rk
    out += opt(st.dhs[0] if st.dhs else None) + opt(st.dhr)
    out += opt(None if st.s is None else st.s.ck + u32(st.s.n) + opt(st.s.hk))
    out += u32(st.pn) + opt(st.nhks) + opt(st.nhkr) + u8(len(st.r))
    for c in st.r:
        out += c.dhr
        out += b"\x01" + u32(c.end) if c.closed else b"\x00" + c.ck + u32(c.nr)
        out += opt(c.hk) + u16(len(c.skipped))
        out += b"".join(u32(n) + mk for n, mk in c.skipped)
    return out + sha256(out)


def stored_keys(st: State) -> int:
    return sum(len(c.skipped) for c in st.r)


# ---- reading (§8.1, §8.2, §8.4) -------------------------------------------


class StateError(Exception):
    """A rejection of §8; `name` is the error class as the vectors write it
    (§4.11.2): BadMagic, UnsupportedVersion, Truncated, Corrupted,
    TrailingBytes or Invalid(field)."""

    def __init__(self, name: str):
        super().__init__(name)
        self.name = name


def invalid(field_name: str) -> StateError:
    return StateError(f"Invalid({field_name})")


class Fields:
    """Reads the fields between the version and the check; a short read is
    Truncated (§8.1)."""

    def __init__(self, data: bytes, pos: int):
        self.data, self.pos = data, pos

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise StateError("Truncated")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def int(self, n: int) -> int:
        return int.from_bytes(self.take(n), "big")

    def opt_tag(self) -> bool:
        tag = self.int(1)
        if tag not in (0, 1):
            raise invalid("option tag")
        return tag == 1

    def done(self) -> None:
        if self.pos != len(self.data):
            raise StateError("TrailingBytes")


def open_state(data: bytes, magic: bytes) -> Fields:
    """§8.1, in this order: the magic, the version, the length of
    magic || version || check, the check."""
    if data[:len(magic)] != magic:
        raise StateError("BadMagic")
    if len(data) < len(magic) + 1:
        raise StateError("Truncated")
    if data[len(magic)] != STATE_VERSION:
        raise StateError("UnsupportedVersion")
    if len(data) < len(magic) + 1 + CHECK_LEN:
        raise StateError("Truncated")
    body = data[:-CHECK_LEN]
    if not hmac.compare_digest(sha256(body), data[-CHECK_LEN:]):
        raise StateError("Corrupted")
    return Fields(body, len(magic) + 1)


def decode_ratchet(data: bytes) -> State:
    """RatchetState of §8.2: R1–R7 as the fields are read, then C1–C6."""
    f = open_state(data, RATCHET_MAGIC)
    mode = {1: PLAIN, 2: ENCRYPTED}.get(f.int(1))
    if mode is None:
        raise invalid("mode")  # R1
    generation = f.int(8)
    ad_len = f.int(2)
    if ad_len > MAX_SESSION_AD_LEN:
        raise invalid("session_ad")  # R2
    ad, rk = f.take(ad_len), f.take(32)
    dhs = f.take(32) if f.opt_tag() else None  # R3 in every opt_tag
    dhr = f.take(32) if f.opt_tag() else None
    s = None
    if f.opt_tag():
        ck, ns = f.take(32), f.int(4)
        s = SendingChain(ck, ns, f.take(32) if f.opt_tag() else None)
    pn = f.int(4)
    nhks = f.take(32) if f.opt_tag() else None
    nhkr = f.take(32) if f.opt_tag() else None
    count = f.int(1)
    if count > MAX_RECEIVING_CHAINS:
        raise invalid("receiving chain count")  # R4
    chains, stored = [], 0
    for i in range(count):
        chain_dhr, position = f.take(32), f.int(1)
        if position == 0:
            ck, limit = f.take(32), f.int(4)
            chain = ReceivingChain(chain_dhr, ck, limit, None, None)
        elif position == 1:
            limit = f.int(4)
            chain = ReceivingChain(chain_dhr, None, None, limit, None)
        else:
            raise invalid("chain position")  # R5
        if (position == 0) != (i == 0) or (position == 0 and limit == 0):
            raise invalid("chain position")  # R5
        chain.hk = f.take(32) if f.opt_tag() else None
        k = f.int(2)
        stored += k
        if stored > MAX_STORED_KEYS:
            raise invalid("stored key count")  # R6
        for _ in range(k):
            n, mk = f.int(4), f.take(32)
            if n >= limit or (chain.skipped and chain.skipped[-1][0] >= n):
                raise invalid("skipped key order")  # R7
            chain.skipped.append((n, mk))
        chains.append(chain)
    f.done()
    enc = mode == ENCRYPTED
    keys = [nhks, nhkr] + ([s.hk] if s else []) + [c.hk for c in chains]
    if any((k is not None) != enc for k in keys):
        raise invalid("header keys")  # C1
    if s is not None and (s.n == 0 or dhs is None or dhr is None):
        raise invalid("sending chain")  # C2
    if (dhr is None) != (dhs is not None and s is None):
        raise invalid("ratchet key pair")  # C3
    if chains and chains[0].dhr != dhr:
        raise invalid("peer ratchet key")  # C4
    if len({c.dhr for c in chains}) != len(chains):
        raise invalid("duplicate receiving chain")  # C5
    if generation == 0 and (s is not None or chains):
        raise invalid("generation")  # C6
    pair = None if dhs is None else (dhs, x25519_public(dhs))
    return State(mode, ad, rk, pair, dhr, s, pn, nhks, nhkr, chains, generation)


ACCOUNT_MAGIC = b"SOVA-1 account"
MAX_ONE_TIME_PREKEYS = 1000
MAX_KEM_ONE_TIME_PREKEYS = 100
MAX_REPLAY_RECORDS = 4096  # per signed prekey (§7.6, §8.4)


def decode_account(data: bytes) -> None:
    """AccountState of §8.4: rules 1–6 as the fields are read, then 7–9. Only
    the verdict matters here (the accounts themselves come from §7)."""
    f = open_state(data, ACCOUNT_MAGIC)
    f.take(8 + 32 + 32)  # generation, IK_sig.seed, IK_dh.priv
    next_id = f.int(4)

    def published_flag() -> None:
        if f.int(1) not in (0, 1):
            raise invalid("published flag")  # 4

    def prekey(secret_len: int, flag: bool = False) -> int:
        pid = f.int(4)
        if pid == 0 or pid >= next_id:
            raise invalid("prekey id")  # 1
        f.take(secret_len)
        if flag:  # one-time prekeys carry their published flag (§7.11)
            published_flag()
        return pid

    published_flag()  # long_term_published

    def records() -> None:
        r = f.int(2)
        if r > MAX_REPLAY_RECORDS:
            raise invalid("replay record count")  # 2
        last = None
        for _ in range(r):
            rec = f.take(32)
            if last is not None and rec <= last:
                raise invalid("replay record order")  # 3
            last = rec

    spk = prekey(32)
    records()
    previous_spk = None
    if f.opt_tag():  # 4
        previous_spk = prekey(32)
        records()
    n = f.int(2)
    if n > MAX_ONE_TIME_PREKEYS:
        raise invalid("one-time prekey count")  # 5
    opks = [prekey(32, True) for _ in range(n)]
    pqspk = prekey(64)
    previous_pqspk = prekey(64) if f.opt_tag() else None
    m = f.int(2)
    if m > MAX_KEM_ONE_TIME_PREKEYS:
        raise invalid("KEM one-time prekey count")  # 5
    pqopks = [prekey(64, True) for _ in range(m)]
    f.done()  # 6
    for ids in (opks, pqopks):
        if any(a >= b for a, b in zip(ids, ids[1:])):
            raise invalid("one-time prekey order")  # 7
    if (previous_spk is not None and previous_spk > spk) or (
            previous_pqspk is not None and previous_pqspk > pqspk):
        raise invalid("previous prekey id")  # 8
    ids = [spk, pqspk] + opks + pqopks + [i for i in (previous_spk, previous_pqspk) if i]
    if len(set(ids)) != len(ids):
        raise invalid("duplicate prekey id")  # 9


# ---- §8.3 sealing ---------------------------------------------------------

SEALED_MAGIC = b"SOVA-1 sealed"


def storage_key(k: bytes, kind: int) -> bytes:
    return labeled_expand(k, b"storage key", u8(kind), 32)


def seal_state(k: bytes, kind: int, nonce: bytes, state: bytes) -> bytes:
    head = SEALED_MAGIC + u8(0x01) + u8(kind)
    return head + nonce + aead_seal(storage_key(k, kind), nonce, head, state)


def open_sealed(k: bytes, kind: int, blob: bytes) -> bytes:
    """§8.3: magic, version, kind, length, tag."""
    if blob[:13] != SEALED_MAGIC:
        raise StateError("BadMagic")
    if len(blob) < 14:
        raise StateError("Truncated")
    if blob[13] != 0x01:
        raise StateError("UnsupportedVersion")
    if len(blob) < 15:
        raise StateError("Truncated")
    if blob[14] != kind:
        raise StateError("WrongKind")
    if len(blob) < 15 + 12 + 16:
        raise StateError("Truncated")
    out = aead_open(storage_key(k, kind), blob[15:27], blob[:15], blob[27:])
    if out is None:
        raise StateError("Authentication")
    return out


# ---- state-encodings.json (§4.11) -----------------------------------------


def check_state_encoding(c: dict) -> None:
    from .session import Account, check_secrets  # §7 accounts, built from secrets

    kind = c["kind"]
    if kind == "ratchet_state":
        known = {"kind", "description", "steps", "party", "encoding", *SESSION_FIELDS}
        if set(c) != known:
            raise Mismatch(f"unexpected case fields {sorted(set(c) ^ known)}")
        parties = start_session(c)
        replay(parties, c["steps"], full=False)
        encoding = encode_ratchet(parties[c["party"]].state)
        compare(without(c, "kind", "description", "steps"),
                dict(without(c, "kind", "description", "steps", "encoding"), encoding=encoding))
        if encode_ratchet(decode_ratchet(encoding)) != encoding:
            raise Mismatch("decoding and encoding again changes the state")
    elif kind == "account_state":
        check_secrets(c["account"], "account")
        encoding = Account.from_secrets(c["account"]).encode()
        compare(without(c, "kind", "description"),
                {"account": c["account"], "encoding": encoding})
        decode_account(encoding)
    elif kind == "sealed_state":
        k, nonce, state = h(c["key"]), h(c["nonce"]), h(c["state"])
        which = c["sealed_kind"]
        if len(k) != 32 or len(nonce) != 12 or which not in (1, 2, 3, 4, 5):
            raise Mismatch("'key' must have 32 bytes, 'nonce' 12, 'sealed_kind' be 1 to 5")
        sealed = seal_state(k, which, nonce, state)
        compare(without(c, "kind", "description"),
                {"key": k, "sealed_kind": which, "state": state, "nonce": nonce,
                 "storage_key": storage_key(k, which), "sealed": sealed})
        if open_sealed(k, which, sealed) != state:
            raise Mismatch("the sealed state does not open to the state")
        from .device_states import SEALED_DECODERS  # §11.9: kinds 4 and 5 load
        if which in SEALED_DECODERS:
            try:
                SEALED_DECODERS[which](state)
            except StateError as e:
                raise Mismatch(f"the sealed state is rejected on reading: {e.name}") from None
    elif kind == "session_state":
        from .session_states import check_session_state  # §8.5, after the flows of §7
        check_session_state(c)
    elif kind == "conversation_state":
        from .conversation_states import check_conversation_state  # §8.6
        check_conversation_state(c)
    elif kind in ("known_user_state", "user_key_state", "linked_device_state"):
        from .device_states import CHECKS  # §11.9
        CHECKS[kind](c)
    elif kind == "state_rejection":
        from .session_states import decode_session
        from .conversation_states import decode_conversation
        from .device_states import DECODERS
        decoder = {"ratchet": decode_ratchet, "account": decode_account,
                   "session": decode_session, "conversation": decode_conversation,
                   **DECODERS}.get(c["state"])
        if decoder is None:
            raise Mismatch(f"unknown state '{c['state']}'")
        expect_error(c["error"], lambda: decoder(h(c["encoding"])))
    elif kind == "sealed_rejection":
        expect_error(c["error"], lambda: open_sealed(h(c["key"]), c["sealed_kind"], h(c["sealed"])))
    else:
        raise Mismatch(f"unknown kind '{kind}'")


def expect_error(want: str, run: Callable[[], object]) -> None:
    try:
        run()
    except StateError as e:
        if e.name != want:
            raise Mismatch(f"field 'error': file {want!r}, computed {e.name!r}") from None
    else:
        raise Mismatch(f"accepted, expected {want}")
