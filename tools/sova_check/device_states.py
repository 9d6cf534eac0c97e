"""§11.9 device states: a person as a device knows them (KnownUserState, the
accepted list of §11.3–§11.4) and an admin device's user key (UserKeyState,
the seed of §11.2), written and read with the rules of §8.1 and §11.9 in
their order; the device-state cases of state-encodings.json (§4.11)."""

from .common import *  # noqa: F401,F403
from .primitives import ed25519_public, labeled_hash, sha256
from .devices import DeviceError, DeviceList, check_link, finish, offer_of, read_list, update
from .states import StateError, invalid, open_state

KNOWN_USER_MAGIC = b"SOVA-1 known user"
USER_KEY_MAGIC = b"SOVA-1 user key"


def encode_known_user(list_bytes: bytes) -> bytes:
    out = KNOWN_USER_MAGIC + u8(0x01) + u32(len(list_bytes)) + list_bytes
    return out + sha256(out)


def encode_user_key(seed: bytes) -> bytes:
    out = USER_KEY_MAGIC + u8(0x01) + seed
    return out + sha256(out)


def decode_known_user(data: bytes) -> DeviceList:
    """KnownUserState of §11.9: after §8.1, rules 1–5 in order."""
    f = open_state(data, KNOWN_USER_MAGIC)
    the_list = f.take(f.int(4))  # 1: Truncated before len or inside the list
    try:
        lst = read_list(the_list, None)  # §11.3 with the list's own UK_pub
    except DeviceError as e:
        if e.name.startswith("Malformed("):
            raise invalid("device list") from None  # 2
        if e.name == "InvalidSignature":
            raise invalid("device list signature") from None  # 3
        if e.name == "Inconsistent":
            raise invalid("device list entries") from None  # 4
        raise Mismatch(f"§11.3 without an expected user cannot fail with {e.name}") from None
    f.done()  # 5
    return lst


def decode_user_key(data: bytes) -> bytes:
    """UserKeyState of §11.9: after §8.1, the seed, then nothing more."""
    f = open_state(data, USER_KEY_MAGIC)
    seed = f.take(32)
    f.done()
    return seed


def check_known_user_state(c: dict) -> None:
    user = h(c["user_key"])
    known: Optional[DeviceList] = None
    outcomes = []
    for k, data in enumerate(c["lists"]):
        data = h(data)
        if known is None:  # the person's first list, accepted at any epoch (§11.4)
            try:
                known = read_list(data, user)
            except DeviceError as e:
                raise Mismatch(f"lists[0] is refused: {e.name}") from None
            outcomes.append("accepted")
            continue
        try:
            known, outcome, _, _ = update(known, data)
        except DeviceError as e:
            outcome = e.name
        outcomes.append(outcome)
    if known is None:
        raise Mismatch("no list")
    encoding = encode_known_user(known.encoding)
    compare(without_kind(c), dict(description=c["description"], user_key=user,
                                  lists=[h(x) for x in c["lists"]], outcomes=outcomes,
                                  epoch=known.epoch, list_hash=known.hash, encoding=encoding))
    try:
        back = decode_known_user(encoding)
    except StateError as e:
        raise Mismatch(f"the state is rejected on reading: {e.name}") from None
    if back.encoding != known.encoding or back.user != user:
        raise Mismatch("decoding gives another person")


def check_user_key_state(c: dict) -> None:
    seed = h(c["seed"])
    if len(seed) != 32:
        raise Mismatch("'seed' must have 32 bytes")
    encoding = encode_user_key(seed)
    compare(without_kind(c), dict(description=c["description"], seed=seed,
                                  user_key=ed25519_public(seed), encoding=encoding))
    if decode_user_key(encoding) != seed:
        raise Mismatch("decoding gives another seed")


def check_linked_device_state(c: dict) -> None:
    link = c["link"]
    try:
        check_link(link)
    except Mismatch as e:
        raise Mismatch(f"link: {e}") from None
    e_n = h(link["link_private"])
    ident, offer = offer_of(link["new_device"], e_n)
    lst, _, seed, _, _ = finish(ident.key, e_n, offer, h(link["response"]))
    got = dict(description=c["description"], link=link, known_user=encode_known_user(lst.encoding))
    if seed is not None:
        got["user_key"] = encode_user_key(seed)
    compare(without_kind(c), got)
    if decode_known_user(got["known_user"]).encoding != lst.encoding:
        raise Mismatch("the known user decodes to another list")
    if seed is not None and ed25519_public(decode_user_key(got["user_key"])) != lst.user:
        raise Mismatch("the user key is not the list's")


DECODERS = {"known_user": decode_known_user, "user_key": decode_user_key}
SEALED_DECODERS = {4: decode_known_user, 5: decode_user_key}
CHECKS = {"known_user_state": check_known_user_state, "user_key_state": check_user_key_state,
          "linked_device_state": check_linked_device_state}
