"""§5 and §6: the ratchet derivations, padding, the wire format and the Double
Ratchet; the checks of ratchet-kdf.json (§4.4), ratchet-transcripts.json
(§4.5) and ratchet-negative.json (§4.6)."""

from .common import *  # noqa: F401,F403
from .primitives import *  # noqa: F401,F403


# ---------------------------------------------------------------------------
# §5.2 ratchet derivations
# ---------------------------------------------------------------------------


def init_keys(sk: bytes) -> Tuple[bytes, bytes, bytes]:
    okm = labeled_expand(sk, b"ratchet init", b"", 96)
    return okm[0:32], okm[32:64], okm[64:96]  # RK0, HKA, HKB


def kdf_rk_prk(rk: bytes, dh_out: bytes) -> bytes:
    return labeled_extract(rk, b"root", dh_out)


def kdf_rk(rk: bytes, dh_out: bytes) -> Tuple[bytes, bytes, bytes]:
    okm = labeled_expand(kdf_rk_prk(rk, dh_out), b"root", b"", 96)
    return okm[0:32], okm[32:64], okm[64:96]  # RK', CK, NHK


def kdf_ck(ck: bytes) -> Tuple[bytes, bytes]:
    return labeled_mac(ck, b"chain", b""), labeled_mac(ck, b"message", b"")  # CK', MK


def message_keys(mk: bytes, salt: bytes) -> Tuple[bytes, bytes]:
    okm = labeled_expand(mk, b"message keys", salt, 44)
    return okm[0:32], okm[32:44]  # key, nonce


def header_keys(hk: bytes) -> Tuple[bytes, bytes]:
    okm = labeled_expand(hk, b"header keys", b"", 64)
    return okm[0:32], okm[32:64]  # HEK, HNK


def header_nonce(hnk: bytes, n: int, salt: bytes) -> bytes:
    return labeled_mac(hnk, b"header nonce", u32(n) + salt)[0:12]


# ---------------------------------------------------------------------------
# §5.4 padding
# ---------------------------------------------------------------------------

MAX_PLAINTEXT_LEN = 2**20 - 1


def padme(x: int) -> int:
    if x < 2:
        return x
    e = x.bit_length() - 1  # floor(log2(x))
    s = e.bit_length()  # floor(log2(E)) + 1
    m = (1 << (e - s)) - 1
    return (x + m) & ~m


def padded_len(length: int) -> int:
    return padme(max(length + 1, 32))


def pad(p: bytes) -> bytes:
    return p + b"\x80" + bytes(padded_len(len(p)) - len(p) - 1)


def unpad(padded: bytes) -> Optional[bytes]:
    """Inverse of pad; None stands for InvalidPadding."""
    stripped = padded.rstrip(b"\x00")
    if not stripped or stripped[-1] != 0x80:
        return None
    length = len(stripped) - 1
    if len(padded) != padded_len(length):
        return None
    return padded[:length]


# ---------------------------------------------------------------------------
# §6 wire format
# ---------------------------------------------------------------------------

VERSION = 0x01
TYPE_PLAIN = 0x01
TYPE_ENCRYPTED = 0x02
HEADER_LEN = 56  # dh[32] || u32(pn) || u32(n) || salt[16] (§6.1)
SALT_LEN = 16
PLAIN_PREFIX_LEN = 2 + HEADER_LEN + 4  # 62 (§6.2)
ENCRYPTED_PREFIX_LEN = 2 + 12 + HEADER_LEN + 16 + 4  # 90 (§6.3)


@dataclass
class Header:
    """The header of §6.1, field by field."""

    dh: bytes
    pn: int
    n: int
    salt: bytes

    @classmethod
    def parse(cls, b: bytes) -> "Header":
        assert len(b) == HEADER_LEN  # every 56-byte string is a header
        return cls(b[0:32], int.from_bytes(b[32:36], "big"), int.from_bytes(b[36:40], "big"),
                   b[40:56])

    def encode(self) -> bytes:
        return self.dh + u32(self.pn) + u32(self.n) + self.salt


class RatchetError(Exception):
    """An abort of §5.8; `name` is the error class as the vectors write it."""

    def __init__(self, name: str, detail: str = ""):
        super().__init__(name if not detail else f"{name}: {detail}")
        self.name = name


def malformed(reason: str, detail: str = "") -> RatchetError:
    return RatchetError(f"Malformed({reason})", detail)


@dataclass
class Parsed:
    type: int
    prefix: bytes  # every byte before the body (§5.5.1)
    body: bytes  # ciphertext || tag
    header: Optional[bytes] = None  # type 0x01
    header_nonce: Optional[bytes] = None  # type 0x02
    enc_header: Optional[bytes] = None  # type 0x02: enc_header || header_tag


def parse_message(m: bytes) -> Parsed:
    """§6.5, rule by rule."""
    # Rule 1. (§6.5 names only UnsupportedVersion; the vectors report an empty
    # input as Truncated.)
    if len(m) < 1:
        raise malformed("Truncated", "version")
    if m[0] != VERSION:
        raise malformed("UnsupportedVersion")
    # Rule 2.
    if len(m) < 2:
        raise malformed("Truncated", "type")
    if m[1] not in (TYPE_PLAIN, TYPE_ENCRYPTED):
        raise malformed("UnknownType")
    # Rule 3.
    fixed = PLAIN_PREFIX_LEN if m[1] == TYPE_PLAIN else ENCRYPTED_PREFIX_LEN
    if len(m) < fixed:
        raise malformed("Truncated", "fixed fields")
    # Rule 4.
    body_len = int.from_bytes(m[fixed - 4 : fixed], "big")
    if body_len < 16:
        raise malformed("InvalidBodyLength")
    p = body_len - 16
    if not (32 <= p <= 2**20 and padme(p) == p):
        raise malformed("InvalidBodyLength")
    # Rule 5.
    if len(m) < fixed + body_len:
        raise malformed("Truncated", "body")
    if len(m) > fixed + body_len:
        raise malformed("TrailingBytes")
    parsed = Parsed(type=m[1], prefix=m[:fixed], body=m[fixed:])
    if m[1] == TYPE_PLAIN:
        parsed.header = m[2 : 2 + HEADER_LEN]
    else:
        parsed.header_nonce = m[2:14]
        parsed.enc_header = m[14 : 14 + HEADER_LEN + 16]
    return parsed


# ---------------------------------------------------------------------------
# §5.1, §5.3, §5.5–§5.7 the Double Ratchet
# ---------------------------------------------------------------------------

MAX_SKIP = 2000
MAX_STORED_KEYS = 2000
MAX_RECEIVING_CHAINS = 5
MAX_SESSION_AD_LEN = 512

PLAIN, ENCRYPTED = "plain", "encrypted"


@dataclass
class SendingChain:
    ck: bytes
    n: int
    hk: Optional[bytes]  # ENCRYPTED mode only


@dataclass
class ReceivingChain:
    """(DHr, position, HKr, SKIPPED) of §5.1. The position is open (ck, nr), for
    R[0] only, or closed (end), with ck and nr erased (None)."""

    dhr: bytes
    ck: Optional[bytes]
    nr: Optional[int]
    end: Optional[int]
    hk: Optional[bytes]  # ENCRYPTED mode only
    skipped: List[Tuple[int, bytes]] = field(default_factory=list)  # (n, MK), n increasing

    @property
    def closed(self) -> bool:
        return self.end is not None


@dataclass
class State:
    mode: str
    ad: bytes
    rk: bytes
    dhs: Optional[Tuple[bytes, bytes]]  # (private, public)
    dhr: Optional[bytes]
    s: Optional[SendingChain]
    pn: int
    nhks: Optional[bytes]
    nhkr: Optional[bytes]
    r: List[ReceivingChain]
    generation: int = 0  # successful Encrypt and Decrypt calls (§5.5.3, §8.2)


def init_party(sk: bytes, ad: bytes, mode: str, initiator: bool, ratchet) -> State:
    """InitInitiator (ratchet = the responder's public key) or InitResponder
    (ratchet = our key pair), §5.3."""
    if len(ad) > MAX_SESSION_AD_LEN:
        raise RatchetError("SessionAdTooLong")
    rk0, hka, hkb = init_keys(sk)
    st = State(mode, ad, rk0, None, None, None, 0, None, None, [])
    if initiator:
        st.dhr = ratchet
    else:
        st.dhs = ratchet
    if mode == ENCRYPTED:
        st.nhks, st.nhkr = (hka, hkb) if initiator else (hkb, hka)
    return st


def body_ad(ad: bytes, prefix: bytes) -> bytes:
    return u16(len(ad)) + ad + prefix


def header_ad(ad: bytes, msg_type: int) -> bytes:
    return u16(len(ad)) + ad + u8(VERSION) + u8(msg_type)


class Party:
    """One side of a session. Every operation works on a copy of the state and
    replaces the state only when it succeeds (§2.5, §5.7)."""

    def __init__(self, state: State):
        self.state = state

    def encrypt(self, p: bytes, draw: Callable[[int], bytes]):
        """§5.5.2. Returns (message, trace of the intermediate values). Draws the
        new ratchet private key (when a sending chain starts), then the salt."""
        st = copy.deepcopy(self.state)
        trace = {}
        if len(p) > MAX_PLAINTEXT_LEN:
            raise RatchetError("PlaintextTooLong")
        if st.s is None:  # DH ratchet step, sending side
            if st.dhr is None:
                raise RatchetError("NoSendingChain")
            priv = draw(32)
            pub = x25519_public(priv)
            dh_out = dh(priv, st.dhr)
            if dh_out is None:
                raise RatchetError("LowOrderRatchetKey")
            rk, ck, nhk = kdf_rk(st.rk, dh_out)
            trace.update(
                ratchet_private=priv,
                ratchet_public=pub,
                dh_output=dh_out,
                root_key=rk,
                next_header_key=nhk,
            )
            st.dhs, st.rk = (priv, pub), rk
            st.s = SendingChain(ck, 0, st.nhks)
            if st.mode == ENCRYPTED:
                st.nhks = nhk
        s = st.s
        if s.n == 2**32 - 1:
            raise RatchetError("ChainExhausted")
        salt = draw(SALT_LEN)  # after every check that can abort
        ck_next, mk = kdf_ck(s.ck)
        key, nonce = message_keys(mk, salt)
        header = Header(st.dhs[1], st.pn, s.n, salt).encode()
        padded = pad(p)
        body_len = u32(len(padded) + 16)
        trace.update(
            salt=salt,
            chain_key=s.ck,
            next_chain_key=ck_next,
            message_key=mk,
            aead_key=key,
            aead_nonce=nonce,
            header=header,
        )
        if st.mode == PLAIN:
            prefix = u8(VERSION) + u8(TYPE_PLAIN) + header + body_len
        else:
            hek, hnk = header_keys(s.hk)
            hnonce = header_nonce(hnk, s.n, salt)
            enc = aead_seal(hek, hnonce, header_ad(st.ad, TYPE_ENCRYPTED), header)
            prefix = u8(VERSION) + u8(TYPE_ENCRYPTED) + hnonce + enc + body_len
            trace.update(header_key=s.hk, header_nonce=hnonce)
        message = prefix + aead_seal(key, nonce, body_ad(st.ad, prefix), padded)
        trace.update(padded_plaintext=padded, message=message)
        st.s = SendingChain(ck_next, s.n + 1, s.hk)
        st.generation += 1
        self.state = st
        return message, trace

    def _locate(self, st: State, m: Parsed):
        """§5.5.4 / §5.6.3: returns (header, index of the chain in R or None)."""
        if st.mode == PLAIN:
            header = Header.parse(m.header)
            for i, chain in enumerate(st.r):
                if chain.dhr == header.dh:
                    return header, i
            return header, None
        aad = header_ad(st.ad, TYPE_ENCRYPTED)
        candidates = [(i, c.hk) for i, c in enumerate(st.r)] + [(None, st.nhkr)]
        for i, hk in candidates:
            hek, hnk = header_keys(hk)
            plain = aead_open(hek, m.header_nonce, aad, m.enc_header)
            if plain is None:
                continue
            header = Header.parse(plain)
            if hmac.compare_digest(m.header_nonce, header_nonce(hnk, header.n, header.salt)):
                return header, i
        raise RatchetError("HeaderAuthentication")

    def decrypt(self, message: bytes):
        """§5.5.3. Returns (plaintext, trace of the intermediate values)."""
        st = copy.deepcopy(self.state)
        trace = {}
        m = parse_message(message)
        if m.type != (TYPE_PLAIN if st.mode == PLAIN else TYPE_ENCRYPTED):
            raise RatchetError("WrongMessageType")
        header, idx = self._locate(st, m)
        n = header.n
        if n == 2**32 - 1:  # §5.5.3: no chain is that long
            raise RatchetError("BeyondChainEnd")
        if idx is not None and st.r[idx].closed:
            chain = st.r[idx]
            if n >= chain.end:
                raise RatchetError("BeyondChainEnd")
            mk = self._take_stored(chain, n)
        elif idx is not None:  # the open chain R[0]
            chain = st.r[idx]
            if n < chain.nr:
                mk = self._take_stored(chain, n)
            else:
                if n - chain.nr > MAX_SKIP:
                    raise RatchetError("TooManySkipped")
                trace["chain_key"] = chain.ck
                ck, skipped, mk = self._derive(chain.ck, chain.nr, n)
                if skipped:
                    trace["skipped_keys"] = skipped
                chain.skipped.extend(skipped)
                chain.ck, chain.nr = ck, n + 1
        else:  # DH ratchet step, receiving side
            if st.dhs is None:
                raise RatchetError("Authentication")
            if any(c.dhr == header.dh for c in st.r):  # a kept chain's key (§5.5.3)
                raise RatchetError("Authentication")
            if n > MAX_SKIP:
                raise RatchetError("TooManySkipped")
            dh_out = dh(st.dhs[0], header.dh)
            if dh_out is None:
                raise RatchetError("LowOrderRatchetKey")
            rk, ck0, nhk = kdf_rk(st.rk, dh_out)
            trace.update(dh_output=dh_out, root_key=rk, next_header_key=nhk, chain_key=ck0)
            ck, skipped, mk = self._derive(ck0, 0, n)
            if skipped:
                trace["skipped_keys"] = skipped
            closing = []
            if st.r:  # the remaining keys of R[0], closed at END = header.pn
                old = st.r[0]
                closing = self._derive_range(old.ck, old.nr, min(header.pn, old.nr + MAX_SKIP))
                if closing:
                    trace["closed_chain_keys"] = closing
            # Commit of §5.5.3 (on the copy).
            if st.r:
                old = st.r[0]
                old.skipped = [k for k in old.skipped if k[0] < header.pn] + closing
                old.ck, old.nr, old.end = None, None, header.pn
            hkr = None
            if st.mode == ENCRYPTED:
                hkr, st.nhkr = st.nhkr, nhk
            st.r.insert(0, ReceivingChain(header.dh, ck, n + 1, None, hkr, list(skipped)))
            del st.r[MAX_RECEIVING_CHAINS:]
            st.rk, st.dhr = rk, header.dh
            if st.s is not None:
                st.pn, st.s = st.s.n, None
            st.dhs = None  # our ratchet private key is erased
        key, nonce = message_keys(mk, header.salt)
        trace.update(message_key=mk, aead_key=key, aead_nonce=nonce, header=header.encode())
        padded = aead_open(key, nonce, body_ad(st.ad, m.prefix), m.body)
        if padded is None:
            raise RatchetError("Authentication")
        p = unpad(padded)
        if p is None:
            raise RatchetError("InvalidPadding")
        trace["padded_plaintext"] = padded
        evict(st)
        st.generation += 1
        self.state = st
        return p, trace

    @staticmethod
    def _take_stored(chain: ReceivingChain, n: int) -> bytes:
        """Use and delete the stored key of message n, or DuplicateOrExpired."""
        found = [k for k in chain.skipped if k[0] == n]
        if not found:
            raise RatchetError("DuplicateOrExpired")
        chain.skipped.remove(found[0])
        return found[0][1]

    @staticmethod
    def _derive_range(ck: bytes, start: int, stop: int) -> List[Tuple[int, bytes]]:
        """The keys of messages start..stop-1 of a chain whose key at `start` is ck."""
        keys = []
        for i in range(start, stop):
            ck, mk_i = kdf_ck(ck)
            keys.append((i, mk_i))
        return keys

    @staticmethod
    def _derive(ck: bytes, nr: int, n: int):
        """Keys of messages nr..n-1 (skipped), MK of n, and the chain key after n."""
        skipped = []
        for i in range(nr, n):
            ck, mk_i = kdf_ck(ck)
            skipped.append((i, mk_i))
        ck, mk = kdf_ck(ck)
        return ck, skipped, mk


def evict(st: State) -> None:
    """§5.5.5: keep at most MAX_STORED_KEYS, dropping the oldest chain's lowest first."""
    total = sum(len(c.skipped) for c in st.r)
    for chain in reversed(st.r):
        while total > MAX_STORED_KEYS and chain.skipped:
            chain.skipped.pop(0)
            total -= 1



# ---- ratchet-kdf.json ------------------------------------------------------


def check_ratchet_kdf(c: dict) -> None:
    kind = c["kind"]
    if kind == "init_keys":
        rk, hka, hkb = init_keys(h(c["session_secret"]))
        out = {
            "session_secret": c["session_secret"],
            "root_key": rk,
            "initiator_header_key": hka,
            "responder_header_key": hkb,
        }
    elif kind == "kdf_rk":
        rk, dh_out = h(c["root_key"]), h(c["dh_output"])
        rk2, ck, nhk = kdf_rk(rk, dh_out)
        out = {
            "root_key": rk,
            "dh_output": dh_out,
            "prk": kdf_rk_prk(rk, dh_out),
            "next_root_key": rk2,
            "chain_key": ck,
            "next_header_key": nhk,
        }
    elif kind == "kdf_ck":
        ck2, mk = kdf_ck(h(c["chain_key"]))
        out = {"chain_key": c["chain_key"], "next_chain_key": ck2, "message_key": mk}
    elif kind == "message_keys":
        key, nonce = message_keys(h(c["message_key"]), salt_input(c))
        out = {"message_key": c["message_key"], "salt": c["salt"], "aead_key": key,
               "aead_nonce": nonce}
    elif kind == "header_keys_and_nonce":
        hek, hnk = header_keys(h(c["header_key"]))
        out = {
            "header_key": c["header_key"],
            "n": c["n"],
            "salt": c["salt"],
            "header_encryption_key": hek,
            "header_nonce_key": hnk,
            "header_nonce": header_nonce(hnk, c["n"], salt_input(c)),
        }
    elif kind == "chain":
        ck, messages = h(c["chain_key"]), []
        for n in range(c["steps"]):
            ck_next, mk = kdf_ck(ck)
            messages.append({"n": n, "chain_key": ck, "message_key": mk})
            ck = ck_next
        out = {
            "chain_key": c["chain_key"],
            "steps": c["steps"],
            "messages": messages,
            "final_chain_key": ck,
        }
    elif kind == "padding":
        p = h(c["plaintext"])
        out = {"plaintext": p, "padded_len": padded_len(len(p)), "padded": pad(p)}
        if unpad(h(c["padded"])) != p:
            raise Mismatch("Unpad(padded) != plaintext")
    else:
        raise Mismatch(f"unknown kind '{kind}'")
    compare(without_kind(c), out)


def salt_input(c: dict) -> bytes:
    """The 16-byte salt input of a message_keys or header_keys_and_nonce case."""
    salt = h(c["salt"])
    if len(salt) != SALT_LEN:
        raise Mismatch(f"field 'salt' has {len(salt)} bytes, not {SALT_LEN}")
    return salt



# ---- ratchet-transcripts.json and ratchet-negative.json --------------------

SESSION_FIELDS = (
    "header_mode",
    "session_secret",
    "session_ad",
    "responder_ratchet_private",
    "responder_ratchet_public",
)


def start_session(c: dict):
    mode = c["header_mode"]
    if mode not in (PLAIN, ENCRYPTED):
        raise Mismatch(f"unknown header_mode '{mode}'")
    sk, ad = h(c["session_secret"]), h(c["session_ad"])
    r_priv, r_pub = h(c["responder_ratchet_private"]), h(c["responder_ratchet_public"])
    if x25519_public(r_priv) != r_pub:
        raise Mismatch("field 'responder_ratchet_public' is not the public key of the private key")
    return {
        "initiator": Party(init_party(sk, ad, mode, True, r_pub)),
        "responder": Party(init_party(sk, ad, mode, False, (r_priv, r_pub))),
    }


class RecordedRandom:
    """Random(n) of §3.9 for one send step. Encrypt draws, in this order, the
    step's `ratchet_private` (32 bytes, only when the send starts a sending
    chain) and its `salt` (16 bytes, every message) (§5.5.2)."""

    def __init__(self, step: dict):
        self.pending = [(k, h(step[k])) for k in ("ratchet_private", "salt") if k in step]

    def __call__(self, n: int) -> bytes:
        if not self.pending:
            raise Mismatch(f"the sender draws {n} more bytes, the step records no more values")
        name, value = self.pending.pop(0)
        if len(value) != n:
            raise Mismatch(f"the sender draws {n} bytes where the step records '{name}' "
                           f"({len(value)} bytes)")
        return value

    def check_used(self) -> None:
        if self.pending:
            raise Mismatch(f"the step records {[k for k, _ in self.pending]}, "
                           "the sender never drew it")


def replay(parties: dict, steps: list, full: bool) -> list:
    """Replays send/deliver steps; returns the sent messages as (sender, bytes).
    With `full`, every intermediate recorded in a step is compared (transcripts);
    otherwise the send steps' inputs and message bytes and the plaintexts
    (negative-case setups, §4.6.2)."""
    sent = []
    for i, step in enumerate(steps):
        where = f"step {i} ({step.get('action')}): "
        try:
            if step["action"] == "send":
                sender = step["sender"]
                random = RecordedRandom(step)
                msg, trace = parties[sender].encrypt(h(step["plaintext"]), random)
                random.check_used()
                sent.append((sender, msg))
                got = dict(action="send", sender=sender, plaintext=step["plaintext"], **trace)
                compare(step, got if full else pick(got, SETUP_SEND_FIELDS))
            elif step["action"] == "deliver":
                idx = step["message_index"]
                if not 0 <= idx < len(sent):
                    raise Mismatch(f"message_index {idx} names no message sent so far")
                sender, msg = sent[idx]
                receiver = "responder" if sender == "initiator" else "initiator"
                p, trace = parties[receiver].decrypt(msg)
                got = dict(action="deliver", message_index=idx)
                if "receiver" in step:
                    got["receiver"] = receiver
                want_p = h(step["plaintext"]) if "plaintext" in step else find_plaintext(steps, idx)
                if p != want_p:
                    raise Mismatch(f"decrypted {p.hex()}, expected {want_p.hex()}")
                if full:
                    got.update(plaintext=p, **trace)
                compare(step, got)
            else:
                raise Mismatch(f"unknown action '{step.get('action')}'")
        except Mismatch as e:
            raise Mismatch(where + str(e)) from None
        except RatchetError as e:
            raise Mismatch(where + f"rejected with {e}") from None
    return sent


# The fields of a send step of a negative case's setup (§4.6.2): the inputs and
# the message, no intermediates.
SETUP_SEND_FIELDS = ("action", "sender", "plaintext", "ratchet_private", "salt", "message")


def find_plaintext(steps: list, idx: int) -> bytes:
    sends = [s for s in steps if s["action"] == "send"]
    return h(sends[idx]["plaintext"])


def check_transcript(c: dict) -> None:
    if c["kind"] != "transcript":
        raise Mismatch(f"unknown kind '{c['kind']}'")
    known = {"kind", "description", "steps", *SESSION_FIELDS}
    if set(c) != known:
        raise Mismatch(f"unexpected case fields {sorted(set(c) ^ known)}")
    parties = start_session(c)
    replay(parties, c["steps"], full=True)


def check_rejection(c: dict) -> None:
    if c["kind"] != "rejection":
        raise Mismatch(f"unknown kind '{c['kind']}'")
    known = {"kind", "description", "steps", "receiver", "message", "error", *SESSION_FIELDS}
    if set(c) != known:
        raise Mismatch(f"unexpected case fields {sorted(set(c) ^ known)}")
    parties = start_session(c)
    replay(parties, c["steps"], full=False)
    receiver = parties[c["receiver"]]
    before = copy.deepcopy(receiver.state)
    try:
        p, _ = receiver.decrypt(h(c["message"]))
    except RatchetError as e:
        if e.name != c["error"]:
            raise Mismatch(f"field 'error': file {c['error']!r}, computed {e.name!r} ({e})")
    else:
        raise Mismatch(f"the message was accepted (plaintext {p.hex()}), expected {c['error']}")
    if receiver.state != before:
        raise Mismatch("the receiver's state changed although the message was rejected")
