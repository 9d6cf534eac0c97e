"""§7.11 publishing prekeys: the upload, its parser and verification, and the
bundles a server assembles from it; the checks of prekey-upload.json (§4.12)."""

from .common import *  # noqa: F401,F403
from .primitives import *  # noqa: F401,F403
from .ratchet import VERSION
from .session import (KIND_OPK, KIND_PQOPK, KIND_PQSPK, KIND_SPK, Bundle, Identity,
                      parse_bundle, prekey_signature, verify_bundle, verify_identity,
                      SessionError)

TYPE_UPLOAD = 0x11
MAX_UPLOAD_ENTRIES = 1100
MAX_OPK_ENTRIES, MAX_PQOPK_ENTRIES = 1000, 100  # §7.9


def upload_error(reason: str, detail: str = "") -> SessionError:
    return SessionError(reason, detail)


@dataclass
class Signed:
    """A published prekey: (kind, id, key, signature or None for kind 0x04)."""

    kind: int
    pid: int
    key: bytes
    signature: Optional[bytes]

    def signed_data(self) -> bytes:
        return u8(self.kind) + u32(self.pid) + self.key


@dataclass
class Upload:
    identity: bytes
    long_term: Optional[Tuple[Signed, Signed]]  # (SPK, PQSPK)
    entries: List[Signed]

    def encode(self) -> bytes:
        out = u8(VERSION) + u8(TYPE_UPLOAD) + self.identity
        if self.long_term is None:
            out += u8(0)
        else:
            out += u8(1)
            for k in self.long_term:
                out += u32(k.pid) + k.key + k.signature
        out += u16(len(self.entries))
        for e in self.entries:
            out += u8(e.kind) + u32(e.pid) + e.key + (e.signature or b"")
        return out


class Fields:
    """Reads the fields of §7.11.1 in order; a short read is Truncated."""

    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def take(self, n: int, name: str) -> bytes:
        if len(self.data) - self.pos < n:
            raise upload_error("Truncated", name)
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def int(self, n: int, name: str) -> int:
        return int.from_bytes(self.take(n, name), "big")


def parse_upload(data: bytes) -> Upload:
    """§7.11.1: each rule checked as soon as its field is read."""
    f = Fields(data)
    if f.int(1, "version") != VERSION:
        raise upload_error("UnsupportedVersion")
    if f.int(1, "type") != TYPE_UPLOAD:
        raise upload_error("WrongType")
    identity = f.take(128, "identity")
    ids = set()

    def new_id(name: str) -> int:
        pid = f.int(4, name)
        if pid in ids:
            raise upload_error("DuplicateId", str(pid))
        ids.add(pid)
        return pid

    flag = f.int(1, "long-term flag")
    long_term = None
    if flag == 1:
        spk_id = new_id("spk_id")
        spk = Signed(KIND_SPK, spk_id, f.take(32, "SPK"), f.take(64, "SPK signature"))
        pq_id = new_id("pqspk_id")
        pq = Signed(KIND_PQSPK, pq_id, f.take(KEM_EK_LEN, "PQSPK"), f.take(64, "PQSPK signature"))
        long_term = (spk, pq)
    elif flag != 0:
        raise upload_error("InvalidFlag")
    count = f.int(2, "count")
    if count > MAX_UPLOAD_ENTRIES:
        raise upload_error("TooManyEntries")
    entries: List[Signed] = []
    seen = {KIND_OPK: 0, KIND_PQOPK: 0}
    for _ in range(count):
        kind = f.int(1, "entry kind")
        if kind not in seen:
            raise upload_error("InvalidKind", hex(kind))
        seen[kind] += 1
        if seen[kind] > (MAX_OPK_ENTRIES if kind == KIND_OPK else MAX_PQOPK_ENTRIES):
            raise upload_error("TooManyEntries")
        pid = new_id("entry id")
        if kind == KIND_OPK:
            entries.append(Signed(kind, pid, f.take(32, "OPK"), None))
        else:
            entries.append(Signed(kind, pid, f.take(KEM_EK_LEN, "PQOPK"),
                                  f.take(64, "PQOPK signature")))
    if f.pos != len(data):
        raise upload_error("TrailingBytes", f"{len(data) - f.pos} bytes")
    return Upload(identity, long_term, entries)


def verify_upload(u: Upload) -> None:
    """§7.11.1: the binding, the long-term signatures, each entry's, in order."""
    if not verify_identity(u.identity):
        raise upload_error("InvalidIdentitySignature")
    sig_pub = u.identity[0:32]

    def ok(k: Signed) -> bool:
        return labeled_verify(sig_pub, b"prekey", k.signed_data(), k.signature)

    if u.long_term is not None:
        spk, pq = u.long_term
        if not ok(spk):
            raise upload_error("InvalidSignedPrekeySignature")
        if not ok(pq):
            raise upload_error("InvalidKemPrekeySignature", str(pq.pid))
    for e in u.entries:
        if e.kind == KIND_PQOPK and not ok(e):
            raise upload_error("InvalidKemPrekeySignature", str(e.pid))


def assemble(identity: bytes, long_term: Tuple[Signed, Signed], opk: Optional[Signed],
             pqopk: Optional[Signed]) -> Bundle:
    """§7.11.2: the bundle a server hands out from what it stored."""
    spk, pqspk = long_term
    kem = pqopk if pqopk is not None else pqspk
    return Bundle(identity, spk.pid, spk.key, spk.signature,
                  None if opk is None else (opk.pid, opk.key),
                  kem.kind, kem.pid, kem.key, kem.signature)


UPLOAD_ACCOUNT = ("signing_seed", "agreement_private", "signed_prekey_private",
                  "kem_last_resort_seed", "one_time_prekey_privates",
                  "kem_one_time_prekey_seeds")


def published_json(k: Signed) -> dict:
    out = {"kind": k.kind, "id": k.pid, "public_key": k.key}
    if k.signature is not None:
        out["signed_data"] = k.signed_data()
        out["signature"] = k.signature
    return out


def check_upload(c: dict) -> None:
    a = c["account"]
    if set(a) != set(UPLOAD_ACCOUNT):
        raise Mismatch(f"'account' has fields {sorted(a)}, expected {sorted(UPLOAD_ACCOUNT)}")
    seed = h(a["signing_seed"])
    identity = Identity(seed, h(a["agreement_private"]))

    def signed(kind: int, pid: int, key: bytes) -> Signed:
        return Signed(kind, pid, key, prekey_signature(seed, kind, pid, key))

    # §7.2: ids from 1: SPK, PQSPK, then the one-time X25519, then the one-time ML-KEM prekeys.
    spk = signed(KIND_SPK, 1, x25519_public(h(a["signed_prekey_private"])))
    pqspk = signed(KIND_PQSPK, 2, kem_keygen(h(a["kem_last_resort_seed"]))[0])
    pid = 3
    entries: List[Signed] = []
    for k in a["one_time_prekey_privates"]:
        entries.append(Signed(KIND_OPK, pid, x25519_public(h(k)), None))
        pid += 1
    for k in a["kem_one_time_prekey_seeds"]:
        entries.append(signed(KIND_PQOPK, pid, kem_keygen(h(k))[0]))
        pid += 1
    first = c["long_term_published_first"]
    if not isinstance(first, bool):
        raise Mismatch("'long_term_published_first' is not a boolean")
    upload = Upload(identity.public, None if first else (spk, pqspk), entries)
    data = upload.encode()
    # The server: parse and verify (§7.11.1), then hand out bundles until the
    # one-time prekeys run out, and one more (§7.11.2).
    parsed = parse_upload(data)
    verify_upload(parsed)
    if parsed.encode() != data:
        raise Mismatch("the parsed upload re-encodes differently")
    opks = [e for e in parsed.entries if e.kind == KIND_OPK]
    pqopks = [e for e in parsed.entries if e.kind == KIND_PQOPK]
    bundles = []
    for i in range(max(len(opks), len(pqopks)) + 1):
        opk = opks[i] if i < len(opks) else None
        pq = pqopks[i] if i < len(pqopks) else None
        b = assemble(parsed.identity, (spk, pqspk), opk, pq)
        encoded = b.encode()
        try:
            verify_bundle(parse_bundle(encoded))
        except SessionError as e:
            raise Mismatch(f"bundles[{i}] is rejected by §7.3: {e}") from None
        item = {} if opk is None else {"one_time_prekey_id": opk.pid}
        item.update(kem_prekey_kind=b.kem_kind, kem_prekey_id=b.kem_id, bundle=encoded)
        bundles.append(item)
    got = {k: c[k] for k in ("account", "long_term_published_first")}
    got.update(identity=identity.public, signed_prekey=published_json(spk),
               kem_last_resort=published_json(pqspk),
               entries=[published_json(e) for e in entries], upload=data, bundles=bundles)
    compare(without(c, "kind", "description"), got)


def check_upload_rejection(c: dict) -> None:
    known = {"kind", "description", "upload", "error"}
    if set(c) != known:
        raise Mismatch(f"unexpected case fields {sorted(set(c) ^ known)}")
    try:
        verify_upload(parse_upload(h(c["upload"])))
    except SessionError as e:
        if e.name != c["error"]:
            raise Mismatch(f"field 'error': file {c['error']!r}, computed {e.name!r} ({e})")
    else:
        raise Mismatch(f"the upload was accepted, expected {c['error']}")


def check_prekey_upload(c: dict) -> None:
    if c["kind"] == "prekey_upload":
        check_upload(c)
    elif c["kind"] == "upload_rejection":
        check_upload_rejection(c)
    else:
        raise Mismatch(f"unknown kind '{c['kind']}'")
