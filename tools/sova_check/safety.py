"""§10 safety numbers; the checks of safety-numbers.json (§10.9)."""

from .common import *  # noqa: F401,F403
from .primitives import *  # noqa: F401,F403


# ---------------------------------------------------------------------------
# §10 safety numbers
# ---------------------------------------------------------------------------

FINGERPRINT_VERSION = 1
ITERATIONS = 5200
QR_VERSION = 0x02


def fingerprint_steps(identity: bytes, steps: int) -> bytes:
    """h_steps of §10.3."""
    h_i = encode_label(b"safety number") + u16(FINGERPRINT_VERSION) + identity
    for _ in range(steps):
        h_i = sha512(h_i + identity)
    return h_i


@functools.lru_cache(maxsize=None)
def fingerprint(identity: bytes) -> bytes:
    return fingerprint_steps(identity, ITERATIONS)


def digits(fp: bytes) -> str:
    return "".join(
        "%05d" % (int.from_bytes(fp[5 * k : 5 * k + 5], "big") % 100000) for k in range(6)
    )


def ordered(ours: bytes, theirs: bytes) -> Tuple[bytes, bytes]:
    """(lo, hi): bytes compare lexicographically as unsigned values (§10.2)."""
    return (ours, theirs) if ours <= theirs else (theirs, ours)


def safety_number(ours: bytes, theirs: bytes) -> str:
    lo, hi = ordered(ours, theirs)
    return digits(fingerprint(lo)) + digits(fingerprint(hi))


def display(number: str) -> str:
    """The single-line form of §10.5: 12 groups of 5 digits."""
    return " ".join(number[5 * j : 5 * j + 5] for j in range(12))


def qr_payload(ours: bytes, theirs: bytes) -> bytes:
    """§10.6: the payload ours displays, its own fingerprint first."""
    return u8(QR_VERSION) + fingerprint(ours)[0:32] + fingerprint(theirs)[0:32]


def verify_scanned(ours: bytes, theirs: bytes, payload: bytes) -> str:
    """§10.7: "ok" or the error name, checked in the order of the spec."""
    if len(payload) != 65:
        return "QrLength"
    if payload[0] != QR_VERSION:
        return "QrUnknownVersion"
    if hmac.compare_digest(payload[1:33], fingerprint(ours)[0:32]):
        return "QrOwnCode"
    if not hmac.compare_digest(payload, qr_payload(theirs, ours)):
        return "QrMismatch"
    return "ok"



# ---- safety-numbers.json (§10.9) ------------------------------------------


def check_safety_number(c: dict) -> None:
    kind = c["kind"]
    ours, theirs = h(c["ours"]), h(c["theirs"])
    if kind == "safety_number":
        fp_ours, fp_theirs = fingerprint(ours), fingerprint(theirs)
        out = {
            "ours": ours,
            "theirs": theirs,
            "fingerprint_ours": fp_ours,
            "digits_ours": digits(fp_ours),
            "fingerprint_theirs": fp_theirs,
            "digits_theirs": digits(fp_theirs),
            "safety_number": safety_number(ours, theirs),
            "qr_payload_ours": qr_payload(ours, theirs),
            "qr_payload_theirs": qr_payload(theirs, ours),
        }
        compare(without_kind(c), out)
        if safety_number(theirs, ours) != out["safety_number"]:
            raise Mismatch("the parties exchanged give another safety number")
        shown, expected = out["qr_payload_ours"], out["qr_payload_theirs"]
        if shown[0:1] + shown[33:] + shown[1:33] != expected:
            raise Mismatch("the two displayed QR payloads are not each other's halves swapped")
        if verify_scanned(ours, theirs, shown) != "QrOwnCode":
            raise Mismatch("a party does not refuse its own QR payload")
        other = "ok" if ours != theirs else "QrOwnCode"
        if (verify_scanned(ours, theirs, expected), verify_scanned(theirs, ours, shown)) != (
            other, other
        ):
            raise Mismatch("a displayed QR payload does not give the expected result at the other party")
    elif kind == "verify_scanned":
        payload = h(c["payload"])
        out = {"ours": ours, "theirs": theirs, "payload": payload,
               "result": verify_scanned(ours, theirs, payload)}
        compare(without_kind(c), out)
    else:
        raise Mismatch(f"unknown kind '{kind}'")
