#!/usr/bin/env python3
"""Independent check of the Sova test vectors, written from the specification.

This program implements, from the text of spec/ alone, the parts of SOVA-1
that the test vectors exercise:

  * the primitives of the cipher suite (§3.2–§3.6), through the interface the
    protocol uses, including strict Ed25519 verification (§3.3) and the
    ML-KEM-768 modulus check (§3.6),
  * EncodeLabel (§2.4) and the labelled building blocks (§3.7),
  * the ratchet derivations (§5.2) and Padmé padding (§5.4),
  * the message wire format (§6) and the Double Ratchet with optional header
    encryption (§5.3, §5.5, §5.6, §5.7),
  * identities, prekeys, bundles, the handshake, initial messages and their
    acceptance (§7.1–§7.6), with the account encoding of §8.4,
  * fingerprints, safety numbers, QR payloads and scanning (§10),

and checks these files of a test-vector directory (§4, §10.9):

  primitives.json           every output recomputed, every check of §4.2.3
  building-blocks.json      every output recomputed from the inputs
  ratchet-kdf.json          every output recomputed from the inputs
  ratchet-transcripts.json  replayed by two independent parties: every message
                            byte-identical, every plaintext and intermediate equal
  ratchet-negative.json     the setup replayed, the message rejected with the
                            recorded error, the receiver's state unchanged
  safety-numbers.json       every output recomputed, both orders of the parties
  handshake.json            both accounts built from their secrets, the handshake
                            run both ways: every value byte-identical
  handshake-negative.json   every bundle and initial message rejected with the
                            recorded error, the responder's account unchanged
  ed25519-strict.json       every signature verified with the strict verifier of
                            §3.3 written out here; every bundle and initial
                            message rejected with the recorded error; then a
                            note listing the invalid cases OpenSSL's verifier
                            (the `cryptography` package) accepts

Usage:  python3 tools/check_vectors.py [--require-all] [DIR | FILE...]
        (default DIR: test-vectors)

Without the ML-KEM-768 package (kyber-py), the four files that need ML-KEM
(primitives.json, handshake.json, handshake-negative.json, ed25519-strict.json)
are skipped with a note; with --require-all their absence is an environment error.

Exit status: 0 when every checked case passes, 1 on any mismatch or malformed
file, 2 on a usage or environment error (`cryptography` missing, or kyber-py
missing or failing its known-answer test under --require-all).

SHA-2, SHA-3, HMAC and HKDF come from the standard library (hashlib, hmac);
X25519, Ed25519 signing and ChaCha20-Poly1305 from the `cryptography` package
(Ed25519 verification is written out here, §3.3); the
deterministic ML-KEM-768 algorithms of FIPS 203 from `kyber-py`.
"""

import copy
import functools
import hashlib
import hmac
import json
import os
import sys
from dataclasses import dataclass, field
from typing import Callable, List, Optional, Tuple

try:
    from cryptography.exceptions import InvalidSignature, InvalidTag
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )
    from cryptography.hazmat.primitives.asymmetric.x25519 import (
        X25519PrivateKey,
        X25519PublicKey,
    )
    from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
except ImportError:
    sys.stderr.write(
        "check_vectors.py needs the Python package 'cryptography' (X25519, Ed25519,\n"
        "ChaCha20-Poly1305). Install it with: python3 -m pip install cryptography\n"
    )
    sys.exit(2)

try:  # optional: only primitives.json and the handshake files need ML-KEM-768
    from kyber_py.ml_kem import ML_KEM_768 as KYBER
except ImportError:
    KYBER = None


# ---------------------------------------------------------------------------
# §2.2 integers, §2.4 labels
# ---------------------------------------------------------------------------


def u8(x: int) -> bytes:
    return x.to_bytes(1, "big")


def u16(x: int) -> bytes:
    return x.to_bytes(2, "big")


def u32(x: int) -> bytes:
    return x.to_bytes(4, "big")


def u64(x: int) -> bytes:
    return x.to_bytes(8, "big")


PREFIX = b"SOVA-1 "


def encode_label(label: bytes) -> bytes:
    if len(label) > 248:
        raise ValueError("LabelTooLong")
    return u8(len(PREFIX + label)) + PREFIX + label


# ---------------------------------------------------------------------------
# §3.2–§3.5 primitives
# ---------------------------------------------------------------------------


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def hmac_sha256(key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, hashlib.sha256).digest()


def hkdf_extract(salt: bytes, ikm: bytes) -> bytes:
    return hmac_sha256(salt, ikm)


def hkdf_expand(prk: bytes, info: bytes, n: int) -> bytes:
    if n > 255 * 32:
        raise ValueError("KdfOutputTooLong")
    t, out, i = b"", b"", 1
    while len(out) < n:
        t = hmac_sha256(prk, t + info + u8(i))
        out += t
        i += 1
    return out[:n]


def raw_public(private_key) -> bytes:
    return private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def x25519_public(private: bytes) -> bytes:
    return raw_public(X25519PrivateKey.from_private_bytes(private))


def dh(private: bytes, public: bytes) -> Optional[bytes]:
    """X25519 with the all-zero check of §3.2; None stands for the abort."""
    try:
        out = X25519PrivateKey.from_private_bytes(private).exchange(
            X25519PublicKey.from_public_bytes(public)
        )
    except ValueError:  # OpenSSL refuses an all-zero shared secret itself
        return None
    return None if out == bytes(32) else out


def aead_seal(key: bytes, nonce: bytes, aad: bytes, plaintext: bytes) -> bytes:
    """ChaCha20-Poly1305 (§3.4): returns ciphertext || tag."""
    return ChaCha20Poly1305(key).encrypt(nonce, plaintext, aad)


def aead_open(key: bytes, nonce: bytes, aad: bytes, sealed: bytes) -> Optional[bytes]:
    """ChaCha20-Poly1305 open of ciphertext || tag; None stands for AeadAuthentication."""
    try:
        return ChaCha20Poly1305(key).decrypt(nonce, sealed, aad)
    except InvalidTag:
        return None


def sha512(data: bytes) -> bytes:
    return hashlib.sha512(data).digest()


# §3.3 strict verification, written out from the pseudocode of §3.3 with
# integer arithmetic on the twisted Edwards curve -x^2 + y^2 = 1 + d x^2 y^2
# (extended coordinates). Nothing of it comes from a library: the `cryptography`
# package's verifier (OpenSSL's) does not apply rule 3, and check_ed25519_strict
# shows which cases of ed25519-strict.json it therefore accepts.

ED_P = 2**255 - 19
ED_L = 2**252 + 27742317777372353535851937790883648493
ED_D = (-121665 * pow(121666, ED_P - 2, ED_P)) % ED_P


def _sqrt_mod_p(a: int) -> Optional[int]:
    """A square root modulo p = 2^255 - 19 (p = 5 mod 8), or None."""
    a %= ED_P
    x = pow(a, (ED_P + 3) // 8, ED_P)
    if x * x % ED_P != a:
        x = x * pow(2, (ED_P - 1) // 4, ED_P) % ED_P
    return x if x * x % ED_P == a else None


def _small_order_ys() -> frozenset:
    # Order 1: y = 1; order 2: y = -1; order 4: y = 0. A point of order 8
    # doubles to one of order 4 (y = 0), which on -x^2 + y^2 = 1 + d x^2 y^2
    # means x^2 = -y^2, so d y^4 + 2 y^2 - 1 = 0.
    ys = {0, 1, ED_P - 1}
    root = _sqrt_mod_p(1 + ED_D)
    inv_d = pow(ED_D, ED_P - 2, ED_P)
    for sign in (1, -1):
        y = _sqrt_mod_p((-1 + sign * root) * inv_d)
        if y is not None:
            ys.update({y, ED_P - y})
    return frozenset(ys)


ED_SMALL_ORDER_YS = _small_order_ys()

EdPoint = Tuple[int, int, int, int]  # extended coordinates (X, Y, Z, T), x = X/Z, y = Y/Z
ED_NEUTRAL: EdPoint = (0, 1, 1, 0)


def ed_add(p1: EdPoint, p2: EdPoint) -> EdPoint:
    """Point addition on the curve with a = -1 (complete formulas)."""
    x1, y1, z1, t1 = p1
    x2, y2, z2, t2 = p2
    a = (y1 - x1) * (y2 - x2) % ED_P
    b = (y1 + x1) * (y2 + x2) % ED_P
    c = 2 * ED_D * t1 * t2 % ED_P
    d = 2 * z1 * z2 % ED_P
    e, f, g, hh = b - a, d - c, d + c, b + a
    return (e * f % ED_P, g * hh % ED_P, f * g % ED_P, e * hh % ED_P)


def ed_mul(n: int, point: EdPoint) -> EdPoint:
    acc = ED_NEUTRAL
    for bit in bin(n)[2:] if n > 0 else "":
        acc = ed_add(acc, acc)
        if bit == "1":
            acc = ed_add(acc, point)
    return acc


def ed_neg(point: EdPoint) -> EdPoint:
    x, y, z, t = point
    return ((-x) % ED_P, y, z, (-t) % ED_P)


def decode_point(b: bytes) -> Optional[EdPoint]:
    """DecodePoint of §3.3, with its two relaxations."""
    x0 = b[31] >> 7
    y = (int.from_bytes(b, "little") % 2**255) % ED_P  # (*) y >= p accepted
    u = (y * y - 1) % ED_P
    v = (ED_D * y * y + 1) % ED_P
    x = _sqrt_mod_p(u * pow(v, ED_P - 2, ED_P))
    if x is None:
        return None
    if x % 2 != 0:
        x = ED_P - x
    if x0 == 1:
        x = (ED_P - x) % ED_P  # (*) x = 0 with x0 = 1 accepted
    return (x, y, 1, x * y % ED_P)


def encode_point(point: EdPoint) -> bytes:
    x, y, z, _ = point
    zi = pow(z, ED_P - 2, ED_P)
    x, y = x * zi % ED_P, y * zi % ED_P
    return (y | (x & 1) << 255).to_bytes(32, "little")


ED_B = decode_point((4 * pow(5, ED_P - 2, ED_P) % ED_P).to_bytes(32, "little"))


def ed_has_small_order(point: EdPoint) -> bool:
    """[8]P is the neutral element; cross-checked against the five y values."""
    small = encode_point(ed_mul(8, point)) == encode_point(ED_NEUTRAL)
    y = point[1] * pow(point[2], ED_P - 2, ED_P) % ED_P
    if small != (y in ED_SMALL_ORDER_YS):
        raise ValueError("the small-order tests of §3.3 disagree")
    return small


def ed25519_verify_strict(public: bytes, msg: bytes, sig: bytes) -> bool:
    """Ed25519-VerifyStrict of §3.3, step by step."""
    if len(public) != 32 or len(sig) != 64:
        return False
    r_bytes, s = sig[:32], int.from_bytes(sig[32:], "little")
    if s >= ED_L:  # rule 1
        return False
    a, r = decode_point(public), decode_point(r_bytes)
    if a is None or r is None:  # rule 2
        return False
    if ed_has_small_order(a) or ed_has_small_order(r):  # rule 3
        return False
    k = int.from_bytes(sha512(r_bytes + public + msg), "little") % ED_L  # rule 5
    check = ed_add(ed_mul(s, ED_B), ed_neg(ed_mul(k, a)))
    return encode_point(check) == r_bytes  # rule 4


def ed25519_verify_lax(public: bytes, msg: bytes, sig: bytes) -> bool:
    """The `cryptography` package's verifier (OpenSSL's RFC 8032 verification), for
    the demonstration of check_ed25519_strict only: it is not §3.3."""
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(sig, msg)
        return True
    except (InvalidSignature, ValueError):
        return False


# The verifier LabeledVerify uses; check_ed25519_strict swaps in the lax one
# for its demonstration.
ED25519_VERIFIER = [ed25519_verify_strict]


# §3.6 ML-KEM-768, from kyber-py's deterministic internal algorithms.

KEM_Q = 3329
KEM_EK_LEN, KEM_DK_LEN, KEM_CT_LEN = 1184, 2400, 1088


class KemInvalidKey(Exception):
    """InvalidKemPublicKey of §3.6."""


def kem_modulus_check(ek: bytes) -> bool:
    """ByteEncode_12(ByteDecode_12(t)) == t: every 12-bit coefficient of t < q."""
    t = ek[0:1152]
    for i in range(0, len(t), 3):
        b0, b1, b2 = t[i], t[i + 1], t[i + 2]
        if (b0 | (b1 & 0x0F) << 8) >= KEM_Q or (b1 >> 4 | b2 << 4) >= KEM_Q:
            return False
    return True


@functools.lru_cache(maxsize=None)
def kem_keygen(seed: bytes) -> Tuple[bytes, bytes]:
    """KemKeyGen: KeyGen_internal(d = seed[0..32], z = seed[32..64]) -> (ek, dk)."""
    ek, dk = KYBER._keygen_internal(seed[0:32], seed[32:64])
    return ek, dk


def kem_encaps(ek: bytes, m: bytes) -> Tuple[bytes, bytes]:
    """KemEncaps -> (ct, ss); the modulus check first (§3.6)."""
    if len(ek) != KEM_EK_LEN or not kem_modulus_check(ek):
        raise KemInvalidKey()
    ss, ct = KYBER._encaps_internal(ek, m)
    return ct, ss


def kem_decaps(dk: bytes, ct: bytes) -> bytes:
    """KemDecaps: Decaps_internal, with implicit rejection."""
    return KYBER._decaps_internal(dk, ct)


# A known answer of FIPS 203 key generation (the first seed of NIST's ML-KEM
# key-generation vectors), given by the SHA-256 of ek and dk.
KEM_KAT_SEED = bytes.fromhex(
    "7c9935a0b07694aa0c6d10e4db6b1add2fd81a25ccb148032dcd739936737f2d"
    "8626ed79d451140800e03b59b956f8210e556067407d13dc90fa9e8b872bfb8f"
)
KEM_KAT_EK_SHA256 = "86adbca81f4fee893e2fb58fb98aa2fe188f501fed268d7f4056f8c05c4e53c4"
KEM_KAT_DK_SHA256 = "8757e8aee5e441aee07a43af40467d32f80aee5c51aae4ebd2bdb844c038aac7"


def kem_self_test() -> List[str]:
    """Checks the ML-KEM package before any vector relies on it: a FIPS 203
    known answer for key generation, the decapsulation-key layout of §3.6, the
    encapsulation formula of FIPS 203 final ((K, r) = G(m || H(ek)), m used as
    is), decapsulation, implicit rejection (J(z || ct)) and the modulus check."""
    problems = []
    try:
        ek, dk = kem_keygen(KEM_KAT_SEED)
        if sha256(ek).hex() != KEM_KAT_EK_SHA256 or sha256(dk).hex() != KEM_KAT_DK_SHA256:
            problems.append("key generation differs from the FIPS 203 known answer")
        z = KEM_KAT_SEED[32:]
        h_ek = hashlib.sha3_256(ek).digest()
        if (len(ek), len(dk)) != (KEM_EK_LEN, KEM_DK_LEN) or dk[1152:] != ek + h_ek + z:
            problems.append("the decapsulation key does not have the layout of §3.6")
        m = bytes(range(32))
        ct, ss = kem_encaps(ek, m)
        if len(ct) != KEM_CT_LEN or ss != hashlib.sha3_512(m + h_ek).digest()[:32]:
            problems.append("encapsulation is not K = G(m || H(ek))[0..32] (FIPS 203 final)")
        if kem_decaps(dk, ct) != ss:
            problems.append("decapsulation does not return the encapsulated secret")
        bad = bytes([ct[0] ^ 1]) + ct[1:]
        if kem_decaps(dk, bad) != hashlib.shake_256(z + bad).digest(32):
            problems.append("implicit rejection does not return J(z || ct)")
        if not kem_modulus_check(ek) or kem_modulus_check(b"\xff\x0f" + ek[2:]):
            problems.append("the modulus check is wrong")
    except Exception as e:  # an API the checker does not know
        problems.append(f"{type(e).__name__}: {e}")
    return problems


# ---------------------------------------------------------------------------
# §3.7 labelled building blocks
# ---------------------------------------------------------------------------


def labeled_hash(label: bytes, data: bytes) -> bytes:
    return sha256(encode_label(label) + data)


def labeled_mac(key: bytes, label: bytes, data: bytes) -> bytes:
    return hmac_sha256(key, encode_label(label) + data)


def labeled_extract(salt: bytes, label: bytes, ikm: bytes) -> bytes:
    return hkdf_extract(salt, encode_label(label) + ikm)


def expand_info(label: bytes, context: bytes, n: int) -> bytes:
    return encode_label(label) + u16(n) + context


def labeled_expand(prk: bytes, label: bytes, context: bytes, n: int) -> bytes:
    if n > 8160:
        raise ValueError("KdfOutputTooLong")
    return hkdf_expand(prk, expand_info(label, context, n), n)


def labeled_sign(seed: bytes, label: bytes, msg: bytes) -> bytes:
    return Ed25519PrivateKey.from_private_bytes(seed).sign(encode_label(label) + msg)


def labeled_verify(public: bytes, label: bytes, msg: bytes, sig: bytes) -> bool:
    return ED25519_VERIFIER[0](public, encode_label(label) + msg, sig)


def ed25519_public(seed: bytes) -> bytes:
    return raw_public(Ed25519PrivateKey.from_private_bytes(seed))


def ed25519_verifies(seed: bytes, msg: bytes, sig: bytes) -> bool:
    try:
        Ed25519PrivateKey.from_private_bytes(seed).public_key().verify(sig, msg)
        return True
    except InvalidSignature:
        return False


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
        if "one_time_prekey_private" in secrets:
            acc.opks.append((next(ids), h(secrets["one_time_prekey_private"])))
        if "kem_one_time_prekey_seed" in secrets:
            acc.pqopks.append((next(ids), h(secrets["kem_one_time_prekey_seed"])))
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
        out += x_prekey(self.spk) + records(self.replay)
        out += opt(self.previous_spk and x_prekey(self.previous_spk) + records(self.previous_replay))
        out += u16(len(self.opks)) + b"".join(x_prekey(p) for p in self.opks)
        out += x_prekey(self.pqspk) + opt(self.previous_pqspk and x_prekey(self.previous_pqspk))
        out += u16(len(self.pqopks)) + b"".join(x_prekey(p) for p in self.pqopks)
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


# ---------------------------------------------------------------------------
# Comparing against the files
# ---------------------------------------------------------------------------


class Mismatch(Exception):
    pass


def to_json(value):
    """Our values in the files' representation (§4.1.2)."""
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], bytes):
        return {"n": value[0], "message_key": value[1].hex()}  # a skipped key
    if isinstance(value, list):
        return [to_json(v) for v in value]
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    return value


def compare(expected: dict, computed: dict, where: str = "") -> None:
    """Every field of `expected` must be computed and equal, in the file's order;
    every computed field must be in the file."""
    computed = to_json(computed)
    for name, want in expected.items():
        if name not in computed:
            raise Mismatch(f"{where}field '{name}' is in the file but not computed")
        got = computed[name]
        if isinstance(want, list) and isinstance(got, list) and len(want) == len(got):
            for i, (w, g) in enumerate(zip(want, got)):
                if isinstance(w, dict) and isinstance(g, dict):
                    compare(w, g, f"{where}{name}[{i}].")
                elif w != g:
                    raise Mismatch(f"{where}field '{name}[{i}]': file {w!r}, computed {g!r}")
        elif want != got:
            raise Mismatch(f"{where}field '{name}': {difference(want, got)}")
    extra = [k for k in computed if k not in expected]
    if extra:
        raise Mismatch(f"{where}computed field(s) {extra} missing from the file")


def difference(want, got) -> str:
    text = f"file {short(want)}, computed {short(got)}"
    if isinstance(want, str) and isinstance(got, str) and want != got:
        k = next((i for i, (a, b) in enumerate(zip(want, got)) if a != b), min(len(want), len(got)))
        text += f"; first difference at byte {k // 2}"
    return text


def short(v):
    s = json.dumps(v)
    return s if len(s) <= 80 else s[:70] + f"...({len(s) - 2} chars)"


def h(s: str) -> bytes:
    return bytes.fromhex(s)


def label(s: str) -> bytes:
    return s.encode("ascii")


# ---- building-blocks.json (§4.3) ------------------------------------------


def check_building_block(c: dict) -> None:
    kind = c["kind"]
    if kind == "encode_label":
        out = {"label": c["label"], "encoded_label": encode_label(label(c["label"]))}
    elif kind == "labeled_hash":
        out = {
            "label": c["label"],
            "data": c["data"],
            "digest": labeled_hash(label(c["label"]), h(c["data"])),
        }
    elif kind == "labeled_mac":
        out = {
            "key": c["key"],
            "label": c["label"],
            "data": c["data"],
            "mac": labeled_mac(h(c["key"]), label(c["label"]), h(c["data"])),
        }
    elif kind == "labeled_extract":
        out = {
            "salt": c["salt"],
            "label": c["label"],
            "ikm": c["ikm"],
            "prk": labeled_extract(h(c["salt"]), label(c["label"]), h(c["ikm"])),
        }
    elif kind == "labeled_expand":
        lab, ctx, n = label(c["label"]), h(c["context"]), c["length"]
        okm = labeled_expand(h(c["prk"]), lab, ctx, n)
        out = {
            "prk": c["prk"],
            "label": c["label"],
            "context": c["context"],
            "length": n,
            "info": expand_info(lab, ctx, n),
            "okm": okm,
        }
        if hkdf_expand(h(c["prk"]), h(c["info"]), n) != okm:
            raise Mismatch("HKDF-Expand(prk, info, length) != okm")
    elif kind == "labeled_sign":
        seed, lab, msg = h(c["seed"]), label(c["label"]), h(c["message"])
        sig = labeled_sign(seed, lab, msg)
        out = {
            "seed": c["seed"],
            "label": c["label"],
            "message": c["message"],
            "public_key": ed25519_public(seed),
            "signed_message": encode_label(lab) + msg,
            "signature": sig,
        }
        if not ed25519_verifies(seed, encode_label(lab) + msg, h(c["signature"])):
            raise Mismatch("the file's signature does not verify")
    else:
        raise Mismatch(f"unknown kind '{kind}'")
    compare(without_kind(c), out)


def without_kind(c: dict) -> dict:
    return {k: v for k, v in c.items() if k != "kind"}


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


def pick(d: dict, keys) -> dict:
    return {k: d[k] for k in keys if k in d}


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


# ---- primitives.json (§4.2) -----------------------------------------------


def flip_first_bit(b: bytes) -> bytes:
    return bytes([b[0] ^ 1]) + b[1:]


def check_primitive(c: dict) -> None:
    kind, checks = c["kind"], []  # checks: (passes, what failed), after the fields
    if kind in ("sha256", "sha512"):
        msg = h(c["message"])
        out = {"message": msg, "digest": sha256(msg) if kind == "sha256" else sha512(msg)}
    elif kind == "hmac_sha256":
        key, msg = h(c["key"]), h(c["message"])
        out = {"key": key, "message": msg, "mac": hmac_sha256(key, msg)}
    elif kind == "hkdf_extract":
        salt, ikm = h(c["salt"]), h(c["ikm"])
        out = {"salt": salt, "ikm": ikm, "prk": hkdf_extract(salt, ikm)}
        if salt == b"":
            checks.append((hkdf_extract(bytes(32), ikm) == out["prk"], "salt '' != zeros(32)"))
    elif kind == "hkdf_expand":
        prk, info, n = h(c["prk"]), h(c["info"]), c["length"]
        out = {"prk": prk, "info": info, "length": n, "okm": hkdf_expand(prk, info, n)}
    elif kind == "chacha20_poly1305":
        key, nonce, aad, pt = h(c["key"]), h(c["nonce"]), h(c["aad"]), h(c["plaintext"])
        sealed = aead_seal(key, nonce, aad, pt)
        out = {"key": key, "nonce": nonce, "aad": aad, "plaintext": pt,
               "ciphertext": sealed[:-16], "tag": sealed[-16:]}
        ct, tag = h(c["ciphertext"]), h(c["tag"])
        checks += [
            (aead_open(key, nonce, aad, ct + tag) == pt, "Open does not return the plaintext"),
            (aead_open(key, nonce, aad, ct + flip_first_bit(tag)) is None,
             "Open accepts the tag with a flipped bit"),
        ]
    elif kind == "x25519":
        priv, peer = h(c["private_key"]), h(c["peer_private_key"])
        pub, peer_pub = x25519_public(priv), x25519_public(peer)
        out = {"private_key": priv, "peer_private_key": peer, "public_key": pub,
               "peer_public_key": peer_pub, "shared_secret": dh(priv, peer_pub)}
        checks.append((dh(peer, h(c["public_key"])) == h(c["shared_secret"]),
                       "DH(peer_private_key, public_key) != shared_secret"))
    elif kind == "ed25519":
        seed, msg = h(c["seed"]), h(c["message"])
        out = {"seed": seed, "message": msg, "public_key": ed25519_public(seed),
               "signature": Ed25519PrivateKey.from_private_bytes(seed).sign(msg)}
        pub, sig = h(c["public_key"]), h(c["signature"])
        checks += [
            (ed25519_verify_strict(pub, msg, sig), "the signature does not verify"),
            (not ed25519_verify_strict(pub, msg, flip_first_bit(sig)),
             "the signature with a flipped bit verifies"),
        ]
    elif kind == "ml_kem_768":
        seed, m = h(c["seed"]), h(c["m"])
        ek, dk = kem_keygen(seed)
        ct, ss = kem_encaps(ek, m)
        out = {"seed": seed, "m": m, "encapsulation_key": ek,
               "decapsulation_key_sha256": sha256(dk), "ciphertext": ct, "shared_secret": ss}
        file_ct, file_ss = h(c["ciphertext"]), h(c["shared_secret"])
        checks += [
            (kem_decaps(dk, file_ct) == file_ss, "KemDecaps(dk, ciphertext) != shared_secret"),
            (kem_decaps(dk, flip_first_bit(file_ct)) != file_ss,
             "a ciphertext with a flipped bit decapsulates to the same secret"),
        ]
    else:
        raise Mismatch(f"unknown kind '{kind}'")
    compare(without_kind(c), out)
    for passes, what in checks:
        if not passes:
            raise Mismatch(what)


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


def without(c: dict, *names: str) -> dict:
    return {k: v for k, v in c.items() if k not in names}


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


# ---------------------------------------------------------------------------
# Spec examples (§2.4, §3.7, §5.4, §10.8), checked before the files
# ---------------------------------------------------------------------------


def check_spec_examples() -> List[str]:
    failures = []

    def expect(what, got, want):
        if got != want:
            failures.append(f"{what}: spec says {want!r}, computed {got!r}")

    ex, abc, key = b"example", b"abc", bytes(range(32))
    expect("§2.4 EncodeLabel(root)", encode_label(b"root").hex(), "0b534f56412d3120726f6f74")
    expect("§3.7 EncodeLabel", encode_label(ex).hex(), "0e534f56412d31206578616d706c65")
    expect(
        "§3.7 LabeledHash",
        labeled_hash(ex, abc).hex(),
        "31e7f85c038c796594a61aeeb7d7b0db4c9d6572925c133bf693f07eae25b306",
    )
    expect(
        "§3.7 LabeledMac",
        labeled_mac(key, ex, abc).hex(),
        "5c32cac7153448c1accfa99caeb87c6a65aeedf39814e547d5cf54d11f7f8e04",
    )
    prk = labeled_extract(b"", ex, abc)
    expect(
        "§3.7 LabeledExtract",
        prk.hex(),
        "8c3ab19f4fb069e742c077eb750c5ef1b590427f3ea5b531367334eb4a713bf8",
    )
    expect(
        "§3.7 LabeledExpand",
        labeled_expand(prk, ex, b"ctx", 42).hex(),
        "c77adeb112367ecd3b785cbdfde799c9971bb18b1a37b0035e038b5499bfb28a76efcf3bd915f4f07a60",
    )
    for length, want in [(0, 32), (31, 32), (32, 36), (99, 104), (1000, 1024), (1024, 1088),
                         (2**20 - 1, 2**20)]:
        expect(f"§5.4 PaddedLen({length})", padded_len(length), want)

    alice = h(
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
        "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"
    )
    bob = h(
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c"
        "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"
    )
    expect("§10.3 first input length", len(fingerprint_steps(alice, 0) + alice), 151)
    for who, identity, steps in [
        ("Alice", alice, {
            1: "bc9df7ca70034f3b0bc615c5f1b908dbd7f124a619eb67645db6f8b6db2da372"
               "d2ed98961db2cf3157b472bb8e7f58015570a63e5c999fdebacf3f540ba2943b",
            2: "3cf15ec67b5e608999685300003a8bd3e27d5c047d680a031957be551a86c9d2"
               "6671394b23300db16ad4af061dc5e84f772e2335c64c2ef4eee74895a266fdca",
            5200: "5644815fb98f63f3d740119b141e16c484aaded1d21670878851f67f4c4c9007"
                  "0d364da8499a4229dee86bc878108ca8af641fa09c2c33a14a6d150459bda6fc",
        }),
        ("Bob", bob, {
            1: "dc716dff1e54532877d6483bcf8b9661261bae3f6f01f38ae8a5448cffafe80b"
               "a3643c3135280ee3b4cca1785d402ebd06ea72fb60a093df617d6ac2f09fc0e8",
            2: "2a9205cc73f864c91d89515e6fde363e30638823a4b90a0e3d6705dab7bd1b62"
               "e7522a75682bc1e4d960ca5326372c057bd06d3c57818b0b3c9056902ba06433",
            5200: "228969974793696e42d799a22b3ee0fa49e07dcc3182621f14dc1eeec91f9b63"
                  "717f096959c622a5e4d7418231933dd9bba70de5cc32f844a3d82fa1779f0b42",
        }),
    ]:
        for n, want in steps.items():
            got = fingerprint(identity) if n == ITERATIONS else fingerprint_steps(identity, n)
            expect(f"§10.8 {who} h_{n}", got.hex(), want)
    expect("§10.8 Digits(FP_B)", digits(fingerprint(bob)), "866632626339424730366606870655")
    expect("§10.8 Digits(FP_A)", digits(fingerprint(alice)), "167934806430934806890564088716")
    shown = "86663 26263 39424 73036 66068 70655 16793 48064 30934 80689 05640 88716"
    for ours, theirs in [(alice, bob), (bob, alice)]:
        expect("§10.5 displayed safety number", display(safety_number(ours, theirs)), shown)
    expect(
        "§10.8 QR payload displayed by Alice",
        qr_payload(alice, bob).hex(),
        "025644815fb98f63f3d740119b141e16c484aaded1d21670878851f67f4c4c9007"
        "228969974793696e42d799a22b3ee0fa49e07dcc3182621f14dc1eeec91f9b63",
    )
    expect(
        "§10.8 QR payload displayed by Bob",
        qr_payload(bob, alice).hex(),
        "02228969974793696e42d799a22b3ee0fa49e07dcc3182621f14dc1eeec91f9b63"
        "5644815fb98f63f3d740119b141e16c484aaded1d21670878851f67f4c4c9007",
    )
    for who, ours, theirs, payload, want in [
        ("Bob scanning Alice's code", bob, alice, qr_payload(alice, bob), "ok"),
        ("Alice scanning Bob's code", alice, bob, qr_payload(bob, alice), "ok"),
        ("Alice scanning her own code", alice, bob, qr_payload(alice, bob), "QrOwnCode"),
        ("Bob scanning his own code", bob, alice, qr_payload(bob, alice), "QrOwnCode"),
    ]:
        expect(f"§10.8 {who}", verify_scanned(ours, theirs, payload), want)
    return failures


# ---------------------------------------------------------------------------
# Driver
# ---------------------------------------------------------------------------

CHECKERS = {
    "primitives.json": check_primitive,
    "building-blocks.json": check_building_block,
    "ratchet-kdf.json": check_ratchet_kdf,
    "ratchet-transcripts.json": check_transcript,
    "ratchet-negative.json": check_rejection,
    "safety-numbers.json": check_safety_number,
    "handshake.json": check_handshake,
    "handshake-negative.json": check_handshake_negative,
    "ed25519-strict.json": check_ed25519_strict,
}

# The files that need ML-KEM-768 (kyber-py).
KEM_FILES = ("primitives.json", "handshake.json", "handshake-negative.json",
             "ed25519-strict.json")

USAGE = "usage: python3 tools/check_vectors.py [--require-all] [DIR | FILE...]\n"


def check_file(path: str) -> bool:
    name = os.path.basename(path)
    checker = CHECKERS[name]
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        print(f"FAIL {name}: cannot read: {e}")
        return False
    if set(doc) != {"description", "cipher_suite", "cases"} or doc["cipher_suite"] != "SOVA-1":
        print(f"FAIL {name}: top level is not {{description, cipher_suite: SOVA-1, cases}}")
        return False
    failed = 0
    for i, case in enumerate(doc["cases"]):
        kind = case.get("kind", "?")
        desc = f" {case['description']}" if "description" in case else ""
        try:
            checker(case)
            print(f"ok   {name} case {i} ({kind}){desc}")
        except Mismatch as e:
            failed += 1
            print(f"FAIL {name} case {i} ({kind}){desc}: {e}")
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as e:
            # A missing field, a wrong type, bad hex, or a defect of this checker.
            failed += 1
            print(f"FAIL {name} case {i} ({kind}): cannot check: {type(e).__name__}: {e}")
    total = len(doc["cases"])
    status = "ok  " if failed == 0 else "FAIL"
    print(f"{status} {name}: {total - failed}/{total} cases passed")
    return failed == 0


def kem_unavailable() -> Optional[str]:
    """Why ML-KEM-768 cannot be trusted here, or None."""
    if KYBER is None:
        return "the Python package 'kyber-py' is not installed"
    problems = kem_self_test()
    if problems:
        return "kyber-py fails its known-answer test: " + "; ".join(problems)
    return None


def main(argv: List[str]) -> int:
    args = argv[1:]
    if any(a in ("-h", "--help") for a in args):
        print(__doc__.strip())
        return 0
    require_all = "--require-all" in args
    args = [a for a in args if a != "--require-all"]
    if not args:
        args = [os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test-vectors")]
    paths = []
    for arg in args:
        if os.path.isdir(arg):
            paths += [os.path.join(arg, name) for name in CHECKERS]
        elif os.path.isfile(arg) and os.path.basename(arg) in CHECKERS:
            paths.append(arg)
        else:
            sys.stderr.write(
                f"check_vectors.py: '{arg}' is neither a directory nor one of {list(CHECKERS)}\n"
                + USAGE
            )
            return 2

    no_kem = None
    kem_files = [os.path.basename(p) for p in paths if os.path.basename(p) in KEM_FILES]
    if kem_files:
        no_kem = kem_unavailable()
        if no_kem:
            print(f"NOTE ML-KEM-768 unavailable: {no_kem}; skipping {', '.join(kem_files)}")
            if KYBER is None:
                print("     install it with: python3 -m pip install kyber-py==1.2.0")
    ok, skipped = True, []
    for failure in check_spec_examples():
        print(f"FAIL spec example {failure}")
        ok = False
    for path in paths:
        name = os.path.basename(path)
        if no_kem and name in KEM_FILES:
            print(f"skip {name}: needs ML-KEM-768")
            skipped.append(name)
            continue
        if not os.path.isfile(path):
            print(f"FAIL {name}: missing ({path})")
            ok = False
            continue
        passed = check_file(path)
        ok = passed and ok
        if passed and name == "ed25519-strict.json":
            demonstrate_lax_verifier(path)
    if not ok:
        print("some vectors FAILED")
        return 1
    if skipped:
        print(f"all checked vectors passed; skipped {', '.join(skipped)}")
        if require_all:
            sys.stderr.write(f"check_vectors.py: --require-all, but {no_kem}\n")
            return 2
        return 0
    print("all vectors passed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
