"""ed25519-strict.json (§3.3, §4.9): strict verification, the protocol objects
that carry its signatures, and what a lax verifier gets wrong."""

from .common import *  # noqa: F401,F403
from .primitives import *  # noqa: F401,F403
from .session import *  # noqa: F401,F403


def check_ed25519_strict(c: dict) -> None:
    kind = c["kind"]
    if kind == "start_rejection":
        check_start_rejection(c)
        return
    if kind == "accept_rejection":
        check_accept_rejection(c)
        return
    if kind != "ed25519_verify":
        raise Mismatch(f"unknown kind '{kind}'")
    known = {"kind", "description", "rule", "public_key", "message", "signature", "result"}
    if set(c) != known:
        raise Mismatch(f"unexpected case fields {sorted(set(c) ^ known)}")
    if not isinstance(c["rule"], int) or not 1 <= c["rule"] <= 6:
        raise Mismatch(f"field 'rule': {c['rule']!r} is not a rule of §3.3")
    public, sig = h(c["public_key"]), h(c["signature"])
    if len(public) != 32 or len(sig) != 64:
        raise Mismatch("public_key must be 32 bytes and signature 64")
    got = "valid" if ed25519_verify_strict(public, h(c["message"]), sig) else "InvalidSignature"
    compare({"result": c["result"]}, {"result": got})


def lax_acceptance(c: dict) -> Optional[str]:
    """What the `cryptography` package's verifier (OpenSSL) does with a case the
    file marks invalid, when it differs from §3.3: None when it rejects too."""
    if c["kind"] == "ed25519_verify":
        if c["result"] == "valid":
            return None
        ok = ed25519_verify_lax(h(c["public_key"]), h(c["message"]), h(c["signature"]))
        return "accepts the signature" if ok else None
    ED25519_VERIFIER[0] = ed25519_verify_lax
    try:
        if c["kind"] == "start_rejection":
            alice = Account.from_secrets(c["initiator"]).identity
            random = ReplayedRandom(
                ("ephemeral_private", h(c["ephemeral_private"])), ("m", h(c["m"])))
            try:
                start(alice, h(c["bundle"]), PLAIN, random)
            except SessionError as e:
                return None if e.name == c["error"] else f"fails later, with {e.name}"
            return "accepts the bundle and completes the handshake"
        bob = Account.from_secrets(c["responder"])
        try:
            _, _, p, _ = accept(bob, h(c["message"]))
        except SessionError as e:
            return None if e.name == c["error"] else f"fails later, with {e.name}"
        return f"accepts the initial message (plaintext {p.hex()})"
    finally:
        ED25519_VERIFIER[0] = ed25519_verify_strict


def demonstrate_lax_verifier(path: str) -> None:
    """§3.3: a verifier without the strict rules fails ed25519-strict.json. Run
    every invalid case through OpenSSL's verifier (the `cryptography` package)
    and print, as a note, the cases it gets wrong."""
    import cryptography
    from cryptography.hazmat.backends.openssl.backend import backend as openssl

    with open(path, encoding="utf-8") as f:
        cases = json.load(f)["cases"]
    invalid = [i for i, c in enumerate(cases) if c.get("result", "") != "valid"]
    wrong = []
    for i in invalid:
        try:
            what = lax_acceptance(cases[i])
        except (SessionError, KeyError, ValueError) as e:
            what = f"cannot run: {e}"
        if what is not None:
            wrong.append((i, what))
    version = f"cryptography {cryptography.__version__}, {openssl.openssl_version_text()}"
    print(f"NOTE lax verifier ({version}) gets {len(wrong)} of the {len(invalid)} invalid "
          f"cases of ed25519-strict.json wrong; a port using it fails these vectors (§3.3):")
    for i, what in wrong:
        c = cases[i]
        rule = f"rule {c['rule']}: " if "rule" in c else ""
        print(f"     case {i} ({c['kind']}) {rule}{c['description']}: {what}")
    if not wrong:
        print("     (none: this verifier applies the strict rules of §3.3)")
