"""§11 several devices per person: the device list, the directory, linking a
new device and fan-out, written from chapter 11; the checks of devices.json
(§4.13)."""

from .common import *  # noqa: F401,F403
from .primitives import *  # noqa: F401,F403
from .ratchet import pad, unpad
from .session import (Account, ReplayedRandom, SessionError, accept, make_bundle,
                      parse_initial, start, verify_identity)

LIST_MAGIC = b"SOVA-1 devices"
OFFER_MAGIC = b"SOVA-1 link offer"
RESPONSE_MAGIC = b"SOVA-1 link response"
MAX_DEVICES = 64
MAX_LINK_DATA = 65536
TYPE_FANOUT = 0x20


class DeviceError(Exception):
    """A rejection of §11; `name` is its error class (§4.13.2)."""

    def __init__(self, name: str):
        super().__init__(name)
        self.name = name


class In:
    """Reads a byte string field by field; `Truncated` at its end."""

    def __init__(self, data: bytes, wrap: str = "Malformed({})"):
        self.data, self.pos, self.wrap = data, 0, wrap

    def fail(self, reason: str):
        raise DeviceError(self.wrap.format(reason))

    def take(self, n: int, reason: str = "Truncated") -> bytes:
        if self.pos + n > len(self.data):
            self.fail(reason)
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def int(self, n: int) -> int:
        return int.from_bytes(self.take(n), "big")

    def left(self) -> int:
        return len(self.data) - self.pos


# ---- §11.3 device list -------------------------------------------------------


@dataclass
class DeviceList:
    user: bytes
    epoch: int
    entries: List[Tuple[int, bytes, bool]]
    encoding: bytes

    @property
    def hash(self) -> bytes:
        return labeled_hash(b"device list hash", self.encoding)

    def device(self, device_id: int):
        return next((e for e in self.entries if e[0] == device_id), None)


def encode_list_body(user: bytes, epoch: int, entries) -> bytes:
    out = LIST_MAGIC + u8(1) + user + u64(epoch) + u8(len(entries))
    for device_id, identity, admin in entries:
        out += u32(device_id) + identity + u8(1 if admin else 0)
    return out


def sign_list(seed: bytes, epoch: int, entries) -> bytes:
    body = encode_list_body(ed25519_public(seed), epoch, entries)
    return body + labeled_sign(seed, b"device list", body)


def read_list(data: bytes, expected_user: Optional[bytes], wrap: str = "{}") -> DeviceList:
    """§11.3, checks 1-4 in order."""

    def err(name):
        raise DeviceError(wrap.format(name))

    r = In(data, wrap.format("Malformed({})"))
    if r.take(len(LIST_MAGIC), "BadMagic") != LIST_MAGIC:
        r.fail("BadMagic")
    if r.int(1) != 1:
        r.fail("UnsupportedVersion")
    user = r.take(32)
    epoch = r.int(8)
    count = r.int(1)
    if count == 0 or count > MAX_DEVICES:
        r.fail("DeviceCount")
    entries = []
    for _ in range(count):
        device_id, identity, flags = r.int(4), r.take(64), r.int(1)
        if flags & 0xFE:
            r.fail("InvalidFlags")
        entries.append((device_id, identity, bool(flags & 1)))
    signed_len = r.pos
    sig = r.take(64)
    if r.left():
        r.fail("TrailingBytes")
    if expected_user is not None and user != expected_user:
        err("WrongUser")
    if not labeled_verify(user, b"device list", data[:signed_len], sig):
        err("InvalidSignature")
    for i, (device_id, identity, _) in enumerate(entries):
        if i and entries[i - 1][0] >= device_id:
            err("Inconsistent")
        if any(e[1] == identity for e in entries[:i]):
            err("Inconsistent")
    return DeviceList(user, epoch, entries, data)


# ---- §11.4 the directory -----------------------------------------------------


def update(known: DeviceList, data: bytes):
    """Update(list): (the accepted list after it, outcome, added, removed)."""
    new = read_list(data, known.user)
    if new.epoch < known.epoch:
        raise DeviceError("Rollback")
    if new.epoch == known.epoch:
        if new.hash != known.hash:
            raise DeviceError("Equivocation")
        return known, "unchanged", [], []
    old = {e[0]: e[1] for e in known.entries}
    now = {e[0]: e[1] for e in new.entries}
    added = [e[0] for e in new.entries if old.get(e[0]) != e[1]]
    removed = [e[0] for e in known.entries if now.get(e[0]) != e[1]]
    return new, "accepted", added, removed


# ---- §11.5 linking -----------------------------------------------------------


def link_keys(offer: bytes, e_a_pub: bytes, shared: bytes):
    t = labeled_hash(b"link transcript", offer + e_a_pub)
    prk = labeled_extract(t, b"link", shared)
    okm = labeled_expand(prk, b"link", b"", 44)
    return t, prk, okm


def link_code(t: bytes) -> str:
    return "%06d" % (int.from_bytes(labeled_hash(b"link code", t)[:8], "big") % 10**6)


def payload_of(new_list: bytes, seed: Optional[bytes], data: bytes) -> bytes:
    flag = u8(0) if seed is None else u8(1) + seed
    return u32(len(new_list)) + new_list + flag + u32(len(data)) + data


def approve(seed: bytes, current: DeviceList, offer: bytes, admin: bool, data: bytes,
            draw: Callable[[int], bytes]):
    """The admin device's side, in the check order of §11.5."""
    if len(data) > MAX_LINK_DATA:
        raise DeviceError("DataTooLong")
    if ed25519_public(seed) != current.user:
        raise DeviceError("WrongUserKey")
    r = In(offer)
    if r.take(len(OFFER_MAGIC), "BadMagic") != OFFER_MAGIC:
        r.fail("BadMagic")
    if r.int(1) != 1:
        r.fail("UnsupportedVersion")
    e_n_pub = r.take(32)
    identity = r.take(128)
    if r.left():
        r.fail("TrailingBytes")
    if not verify_identity(identity):
        raise DeviceError("InvalidIdentitySignature")
    if any(e[1] == identity[:64] for e in current.entries):
        raise DeviceError("AlreadyListed")
    if len(current.entries) >= MAX_DEVICES:
        raise DeviceError("TooManyDevices")
    last = current.entries[-1][0]
    if last == 2**32 - 1 or current.epoch == 2**64 - 1:
        raise DeviceError("DeviceIdsExhausted")
    e_a = draw(32)
    device_id = last + 1
    new_list = sign_list(seed, current.epoch + 1,
                         current.entries + [(device_id, identity[:64], admin)])
    e_a_pub = x25519_public(e_a)
    shared = dh(e_a, e_n_pub)
    if shared is None:
        raise DeviceError("LowOrderKey")
    t, prk, okm = link_keys(offer, e_a_pub, shared)
    payload = payload_of(new_list, seed if admin else None, data)
    response = RESPONSE_MAGIC + u8(1) + e_a_pub + aead_seal(okm[:32], okm[32:], t, payload)
    return dict(identity=identity, admin_link_public=e_a_pub, dh=shared, transcript_hash=t,
                prk=prk, okm=okm, device_id=device_id, new_list=new_list, payload=payload,
                response=response, link_code=link_code(t))


def finish(identity_key: bytes, e_n: bytes, offer: bytes, response: bytes):
    """The new device reads the response (§11.5), in its check order."""
    r = In(response)
    if r.take(len(RESPONSE_MAGIC), "BadMagic") != RESPONSE_MAGIC:
        r.fail("BadMagic")
    if r.int(1) != 1:
        r.fail("UnsupportedVersion")
    e_a_pub = r.take(32)
    if r.left() < 16:
        r.fail("Truncated")
    sealed = r.take(r.left())
    shared = dh(e_n, e_a_pub)
    if shared is None:
        raise DeviceError("LowOrderKey")
    t, _, okm = link_keys(offer, e_a_pub, shared)
    payload = aead_open(okm[:32], okm[32:], t, sealed)
    if payload is None:
        raise DeviceError("Authentication")
    p = In(payload)
    the_list = p.take(p.int(4))
    flag = p.int(1)
    if flag not in (0, 1):
        p.fail("InvalidFlags")
    seed = p.take(32) if flag == 1 else None
    data = p.take(p.int(4))
    if p.left():
        p.fail("TrailingBytes")
    lst = read_list(the_list, None, "List({})")
    me = next((e for e in lst.entries if e[1] == identity_key), None)
    if me is None:
        raise DeviceError("NotListed")
    if seed is not None and ed25519_public(seed) != lst.user:
        raise DeviceError("WrongUserKey")
    return lst, me[0], seed, data, link_code(t)


def offer_of(secrets: dict, e_n: bytes):
    acc = Account.from_secrets(secrets)
    ident = acc.identity
    return ident, OFFER_MAGIC + u8(1) + x25519_public(e_n) + ident.public


# ---- §11.6 fan-out -----------------------------------------------------------


def body_keys(bk: bytes):
    okm = labeled_expand(bk, b"fan-out body", b"", 44)
    return okm[:32], okm[32:]


def fanout_header(own: DeviceList, device_id: int, rec: DeviceList) -> bytes:
    return (u8(1) + u8(TYPE_FANOUT) + own.user + u32(device_id) + u64(own.epoch) + own.hash
            + rec.user + u64(rec.epoch) + rec.hash)


@dataclass
class DeviceMessage:
    header: bytes
    fields: dict
    body: bytes
    audience: int
    device_id: int
    pairwise: bytes


def read_head(r: In):
    start_pos = r.pos
    if r.int(1) != 1:
        r.fail("UnsupportedVersion")
    if r.int(1) != TYPE_FANOUT:
        r.fail("BadMagic")
    f = dict(sender_user=r.take(32), sender_device=r.int(4), sender_epoch=r.int(8),
             sender_hash=r.take(32), recipient_user=r.take(32), recipient_epoch=r.int(8),
             recipient_hash=r.take(32))
    header = r.data[start_pos:r.pos]
    body = r.take(r.int(4))
    if len(body) < 16:
        r.fail("Truncated")
    return header, f, body


def read_entry(r: In):
    audience = r.int(1)
    if audience not in (0, 1):
        r.fail("InvalidFlags")
    device_id = r.int(4)
    return audience, device_id, r.take(r.int(4))


def parse_device_message(data: bytes) -> DeviceMessage:
    r = In(data)
    header, f, body = read_head(r)
    audience, device_id, pairwise = read_entry(r)
    if r.left():
        r.fail("TrailingBytes")
    return DeviceMessage(header, f, body, audience, device_id, pairwise)


def split(fanout: bytes):
    r = In(fanout)
    header, _, body = read_head(r)
    out = []
    for _ in range(r.int(2)):
        start_pos = r.pos
        audience, device_id, _ = read_entry(r)
        out.append((audience, device_id, header + u32(len(body)) + body + fanout[start_pos:r.pos]))
    if r.left():
        r.fail("TrailingBytes")
    return out


def check_named(known: DeviceList, epoch: int, list_hash: bytes) -> None:
    if epoch > known.epoch:
        raise DeviceError("List(StaleDeviceList)")
    if epoch == known.epoch and list_hash != known.hash:
        raise DeviceError("List(Equivocation)")


def receive(own: DeviceList, other: DeviceList, acc: Account, data: bytes):
    """A device receives a DeviceMessage (§11.6, checks 1-7 in order); the
    sender is looked up by UK_S (§4.13.2). Returns (plaintext, current)."""
    m = parse_device_message(data)
    h = m.fields
    sender = own if h["sender_user"] == own.user else other
    if h["sender_user"] != sender.user:
        raise DeviceError("UnknownUser")
    # Step 2, the entry's addressing: the only kind the pair (UK_S, UK_R)
    # allows this device (1 from its own user, a note to self included; 0
    # from another person to its user; none otherwise), and its own device
    # id, the one its own user's list gives its account's IdentityKey.
    if h["sender_user"] == own.user:
        kind = 1
    elif h["recipient_user"] == own.user:
        kind = 0
    else:
        kind = None
    me = next((e for e in own.entries if e[1] == acc.identity.key), None)
    if m.audience != kind or me is None or me[0] != m.device_id:
        raise DeviceError("NotForUs")
    check_named(sender, h["sender_epoch"], h["sender_hash"])
    current = True
    if m.audience == 0:
        check_named(own, h["recipient_epoch"], h["recipient_hash"])
        current = h["recipient_epoch"] == own.epoch
    listed = sender.device(h["sender_device"])
    if listed is None:
        raise DeviceError("UnknownDevice")
    # Step 5: a new conversation bound to the listed identity (§7.7).
    try:
        initial = parse_initial(m.pairwise)
    except SessionError as e:
        raise DeviceError(f"Pairwise(Accept({e.name}))") from None
    if initial.identity[:64] != listed[1]:
        raise DeviceError("Pairwise(OtherPeer)")
    try:
        _, _, km, _ = accept(acc, m.pairwise)
    except SessionError as e:
        raise DeviceError(f"Pairwise(Accept({e.name}))") from None
    if len(km) != 65 or km[0] != 0x01 or km[33:] != labeled_hash(b"fan-out digest",
                                                                  m.header + m.body):
        raise DeviceError("BodyMismatch")
    key, nonce = body_keys(km[1:33])
    padded = aead_open(key, nonce, m.header, m.body)
    plaintext = None if padded is None else unpad(padded)
    if plaintext is None:
        raise DeviceError("Authentication")
    return plaintext, current


def devices_list(seed: bytes, epoch: int, accounts) -> bytes:
    return sign_list(seed, epoch, [(i + 1, a.identity.key, i == 0) for i, a in enumerate(accounts)])


# ---- devices.json (§4.13) ----------------------------------------------------


def rejected(f: Callable[[], object], want: str, what: str) -> None:
    try:
        f()
    except DeviceError as e:
        if e.name != want:
            raise Mismatch(f"{what} fails with {e.name}, expected {want}") from None
        return
    raise Mismatch(f"{what} is accepted, expected {want}")


def entries_of(c: dict):
    return [(e["device_id"], h(e["identity"]), e["admin"]) for e in c["entries"]]


def check_device_list(c: dict) -> None:
    seed = h(c["user_key_seed"])
    user = ed25519_public(seed)
    body = encode_list_body(user, c["epoch"], entries_of(c))
    sig = labeled_sign(seed, b"device list", body)
    got = pick(c, ("description", "user_key_seed", "epoch", "entries"))
    got.update(user_key=user, signed_data=body, signature=sig, list=body + sig,
               list_hash=labeled_hash(b"device list hash", body + sig),
               user_identity=user + bytes(32))
    compare(without_kind(c), got)
    lst = read_list(body + sig, user)
    if lst.epoch != c["epoch"] or lst.entries != entries_of(c):
        raise Mismatch("the list reads back to other entries")


def check_directory(c: dict) -> None:
    user = h(c["user_key"])
    known = None
    steps = []
    for s in c["steps"]:
        data = h(s["list"])
        if known is None:
            known = read_list(data, user)
            outcome, added, removed = "accepted", [e[0] for e in known.entries], []
        else:
            try:
                known, outcome, added, removed = update(known, data)
            except DeviceError as e:
                outcome, added, removed = e.name, [], []
        steps.append(dict(list=data, outcome=outcome, added=added, removed=removed,
                          epoch=known.epoch, list_hash=known.hash))
    compare(without_kind(c), dict(description=c["description"], user_key=user, steps=steps))


def check_link(c: dict) -> None:
    e_n = h(c["link_private"])
    ident, offer = offer_of(c["new_device"], e_n)
    seed = h(c["user_key_seed"])
    current = read_list(h(c["current_list"]), ed25519_public(seed))
    random = ReplayedRandom(("admin_link_private", h(c["admin_link_private"])))
    v = approve(seed, current, offer, c["admin"], h(c["data"]), random)
    random.check_used()
    got = pick(c, ("description", "new_device", "link_private", "user_key_seed", "current_list",
                   "admin", "data", "admin_link_private"))
    got.update(identity=v["identity"], link_public=x25519_public(e_n), offer=offer)
    got.update({k: v[k] for k in ("admin_link_public", "dh", "transcript_hash", "prk", "okm",
                                  "device_id", "new_list", "payload", "response", "link_code")})
    compare(without_kind(c), got)
    lst, device_id, seed_got, data, code = finish(ident.key, e_n, offer, v["response"])
    if (device_id, data, code, lst.encoding) != (v["device_id"], h(c["data"]), v["link_code"],
                                                  v["new_list"]):
        raise Mismatch("the new device learns something else than the admin device sent")
    if (seed_got is not None) != c["admin"]:
        raise Mismatch("the user key reaches the new device exactly when it is an admin device")


def check_link_rejection(c: dict) -> None:
    if c["side"] == "admin":
        current = read_list(h(c["current_list"]), None)
        data = bytes(c["data_length"])

        def run():
            approve(h(c["user_key_seed"]), current, h(c["offer"]), c["admin"], data,
                    lambda n: (_ for _ in ()).throw(Mismatch("e_A drawn before a check")))
    elif c["side"] == "new_device":
        e_n = h(c["link_private"])
        ident, offer = offer_of(c["new_device"], e_n)

        def run():
            finish(ident.key, e_n, offer, h(c["response"]))
    else:
        raise Mismatch(f"unknown side {c['side']}")
    rejected(run, c["error"], f"the {c['side']} side")


def check_fanout(c: dict) -> None:
    mode = c["header_mode"]
    senders = [Account.from_secrets(s) for s in c["sender_devices"]]
    recipients = [Account.from_secrets(s) for s in c["recipient_devices"]]
    own = read_list(devices_list(h(c["sender_user_key_seed"]), c["sender_epoch"], senders), None)
    rec = read_list(devices_list(h(c["recipient_user_key_seed"]), c["recipient_epoch"],
                                 recipients), None)
    me = senders[c["sender_device_id"] - 1]
    # The targets must be exactly rec's devices and own's other devices.
    want = [(0, e[0]) for e in rec.entries] + [(1, e[0]) for e in own.entries
                                                if e[0] != c["sender_device_id"]]
    if sorted((t["audience"], t["device_id"]) for t in c["targets"]) != sorted(want):
        raise Mismatch("the targets are not the listed devices")
    header = fanout_header(own, c["sender_device_id"], rec)
    bk = h(c["body_key"])
    key, nonce = body_keys(bk)
    padded = pad(h(c["plaintext"]))
    body = aead_seal(key, nonce, header, padded)
    digest = labeled_hash(b"fan-out digest", header + body)
    km = u8(1) + bk + digest
    entries = []
    wire = header + u32(len(body)) + body + u16(len(c["targets"]))
    for t in c["targets"]:
        to = (recipients if t["audience"] == 0 else senders)[t["device_id"] - 1]
        bundle = make_bundle(to).encode()
        hs = start(me.identity, bundle, mode,
                   ReplayedRandom(("ephemeral_private", h(t["ephemeral_private"])),
                                  ("m", h(t["m"]))))
        msg, _ = hs.party.encrypt(km, ReplayedRandom(("ratchet_private", h(t["ratchet_private"])),
                                                     ("salt", h(t["salt"]))))
        pw = hs.wrap(msg)
        entries.append(dict(audience=t["audience"], device_id=t["device_id"], bundle=bundle,
                            pairwise=pw))
        wire += u8(t["audience"]) + u32(t["device_id"]) + u32(len(pw)) + pw
    deliveries = []
    for audience, device_id, m in split(wire):
        acc = (recipients if audience == 0 else senders)[device_id - 1]
        p, current = receive(rec if audience == 0 else own, own, acc, m)
        deliveries.append(dict(audience=audience, device_id=device_id, device_message=m,
                               plaintext=p, recipient_list_current=current))
    got = pick(c, ("description", "header_mode", "sender_user_key_seed", "sender_epoch",
                   "sender_devices", "sender_device_id", "recipient_user_key_seed",
                   "recipient_epoch", "recipient_devices", "plaintext", "targets", "body_key"))
    got.update(sender_list=own.encoding, sender_list_hash=own.hash, recipient_list=rec.encoding,
               recipient_list_hash=rec.hash, header=header, body_aead_key=key, body_nonce=nonce,
               padded_plaintext=padded, body=body, digest=digest, key_message=km,
               entries=entries, fanout_message=wire, deliveries=deliveries)
    compare(without_kind(c), got)


def check_fanout_receive(c: dict) -> None:
    acc = Account.from_secrets(c["receiver"])
    own = read_list(h(c["own_list"]), None)
    other = read_list(h(c["sender_list"]), None)
    if "error" in c:
        rejected(lambda: receive(own, other, acc, h(c["message"])), c["error"], "receiving")
        return
    try:
        p, current = receive(own, other, acc, h(c["message"]))
    except DeviceError as e:
        raise Mismatch(f"receiving fails with {e.name}") from None
    got = pick(c, ("description", "receiver", "own_list", "sender_list", "message"))
    got.update(plaintext=p, recipient_list_current=current)
    compare(without_kind(c), got)


CHECKS = {
    "device_list": check_device_list,
    "list_rejection": lambda c: rejected(
        lambda: read_list(h(c["list"]), h(c["expected_user"])), c["error"], "reading the list"),
    "directory_sequence": check_directory,
    "link": check_link,
    "link_rejection": check_link_rejection,
    "fanout": check_fanout,
    "fanout_receive": check_fanout_receive,
}


def check_devices(c: dict) -> None:
    if c["kind"] not in CHECKS:
        raise Mismatch(f"unknown kind '{c['kind']}'")
    CHECKS[c["kind"]](c)
