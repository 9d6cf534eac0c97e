#!/usr/bin/env python3
"""Independent check of the Sova test vectors, written from the specification.

This program implements, from the text of spec/ alone, the parts of SOVA-1
that the building-block and ratchet vectors exercise:

  * EncodeLabel (§2.4) and the labelled building blocks (§3.7),
  * the ratchet derivations (§5.2) and Padmé padding (§5.4),
  * the message wire format (§6) and the Double Ratchet with optional header
    encryption (§5.3, §5.5, §5.6, §5.7),

and checks these files of a test-vector directory (§4):

  building-blocks.json      every output recomputed from the inputs
  ratchet-kdf.json          every output recomputed from the inputs
  ratchet-transcripts.json  replayed by two independent parties: every message
                            byte-identical, every plaintext and intermediate equal
  ratchet-negative.json     the setup replayed, the message rejected with the
                            recorded error, the receiver's state unchanged

Usage:  python3 tools/check_vectors.py [DIR | FILE...]   (default DIR: test-vectors)

Exit status: 0 when every case passes, 1 on any mismatch or malformed file,
2 on a usage or environment error (for instance, `cryptography` missing).

SHA-2, HMAC and HKDF come from the standard library (hashlib, hmac); X25519,
Ed25519 and ChaCha20-Poly1305 from the `cryptography` package.
"""

import copy
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
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
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


# ---------------------------------------------------------------------------
# §2.2 integers, §2.4 labels
# ---------------------------------------------------------------------------


def u8(x: int) -> bytes:
    return x.to_bytes(1, "big")


def u16(x: int) -> bytes:
    return x.to_bytes(2, "big")


def u32(x: int) -> bytes:
    return x.to_bytes(4, "big")


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


def message_keys(mk: bytes) -> Tuple[bytes, bytes]:
    okm = labeled_expand(mk, b"message keys", b"", 44)
    return okm[0:32], okm[32:44]  # key, nonce


def header_keys(hk: bytes) -> Tuple[bytes, bytes]:
    okm = labeled_expand(hk, b"header keys", b"", 64)
    return okm[0:32], okm[32:64]  # HEK, HNK


def header_nonce(hnk: bytes, n: int) -> bytes:
    return labeled_mac(hnk, b"header nonce", u32(n))[0:12]


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
    fixed = 46 if m[1] == TYPE_PLAIN else 74
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
        parsed.header = m[2:42]
    else:
        parsed.header_nonce = m[2:14]
        parsed.enc_header = m[14:70]
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
    dhr: bytes
    ck: bytes
    nr: int
    end: Optional[int]
    hk: Optional[bytes]  # ENCRYPTED mode only
    skipped: List[Tuple[int, bytes]] = field(default_factory=list)  # (n, MK), n increasing


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
        """§5.5.2. Returns (message, trace of the intermediate values)."""
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
        ck_next, mk = kdf_ck(s.ck)
        key, nonce = message_keys(mk)
        header = st.dhs[1] + u32(st.pn) + u32(s.n)
        padded = pad(p)
        body_len = u32(len(padded) + 16)
        trace.update(
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
            hnonce = header_nonce(hnk, s.n)
            enc = aead_seal(hek, hnonce, header_ad(st.ad, TYPE_ENCRYPTED), header)
            prefix = u8(VERSION) + u8(TYPE_ENCRYPTED) + hnonce + enc + body_len
            trace.update(header_key=s.hk, header_nonce=hnonce)
        message = prefix + aead_seal(key, nonce, body_ad(st.ad, prefix), padded)
        trace.update(padded_plaintext=padded, message=message)
        st.s = SendingChain(ck_next, s.n + 1, s.hk)
        self.state = st
        return message, trace

    def _locate(self, st: State, m: Parsed):
        """§5.5.4 / §5.6.3: returns (header, index of the chain in R or None)."""
        if st.mode == PLAIN:
            dh_pub = m.header[0:32]
            for i, chain in enumerate(st.r):
                if chain.dhr == dh_pub:
                    return m.header, i
            return m.header, None
        aad = header_ad(st.ad, TYPE_ENCRYPTED)
        candidates = [(i, c.hk) for i, c in enumerate(st.r)] + [(None, st.nhkr)]
        for i, hk in candidates:
            hek, hnk = header_keys(hk)
            header = aead_open(hek, m.header_nonce, aad, m.enc_header)
            if header is None:
                continue
            n = int.from_bytes(header[36:40], "big")
            if hmac.compare_digest(m.header_nonce, header_nonce(hnk, n)):
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
        dh_pub = header[0:32]
        pn = int.from_bytes(header[32:36], "big")
        n = int.from_bytes(header[36:40], "big")
        if n == 2**32 - 1:  # §5.5.3: no chain is that long
            raise RatchetError("BeyondChainEnd")
        if idx is not None:
            chain = st.r[idx]
            if n < chain.nr:
                found = [k for k in chain.skipped if k[0] == n]
                if not found:
                    raise RatchetError("DuplicateOrExpired")
                chain.skipped.remove(found[0])
                mk = found[0][1]
            else:
                if chain.end is not None and n >= chain.end:
                    raise RatchetError("BeyondChainEnd")
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
            dh_out = dh(st.dhs[0], dh_pub)
            if dh_out is None:
                raise RatchetError("LowOrderRatchetKey")
            rk, ck0, nhk = kdf_rk(st.rk, dh_out)
            trace.update(dh_output=dh_out, root_key=rk, next_header_key=nhk, chain_key=ck0)
            ck, skipped, mk = self._derive(ck0, 0, n)
            if skipped:
                trace["skipped_keys"] = skipped
            # Commit of §5.5.3 (on the copy).
            if st.r:
                st.r[0].end = pn
                st.r[0].skipped = [k for k in st.r[0].skipped if k[0] < pn]
            hkr = None
            if st.mode == ENCRYPTED:
                hkr, st.nhkr = st.nhkr, nhk
            st.r.insert(0, ReceivingChain(dh_pub, ck, n + 1, None, hkr, list(skipped)))
            del st.r[MAX_RECEIVING_CHAINS:]
            st.rk, st.dhr = rk, dh_pub
            if st.s is not None:
                st.pn, st.s = st.s.n, None
        key, nonce = message_keys(mk)
        trace.update(message_key=mk, aead_key=key, aead_nonce=nonce, header=header)
        padded = aead_open(key, nonce, body_ad(st.ad, m.prefix), m.body)
        if padded is None:
            raise RatchetError("Authentication")
        p = unpad(padded)
        if p is None:
            raise RatchetError("InvalidPadding")
        trace["padded_plaintext"] = padded
        evict(st)
        self.state = st
        return p, trace

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
        key, nonce = message_keys(h(c["message_key"]))
        out = {"message_key": c["message_key"], "aead_key": key, "aead_nonce": nonce}
    elif kind == "header_keys_and_nonce":
        hek, hnk = header_keys(h(c["header_key"]))
        out = {
            "header_key": c["header_key"],
            "n": c["n"],
            "header_encryption_key": hek,
            "header_nonce_key": hnk,
            "header_nonce": header_nonce(hnk, c["n"]),
        }
    elif kind == "chain":
        ck, messages = h(c["chain_key"]), []
        for n in range(c["steps"]):
            ck_next, mk = kdf_ck(ck)
            key, nonce = message_keys(mk)
            messages.append(
                {"n": n, "chain_key": ck, "message_key": mk, "aead_key": key, "aead_nonce": nonce}
            )
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
    """Random(n) of §3.9 for one send step: answers with the step's
    `ratchet_private`, the only randomness Encrypt draws (§5.5.2)."""

    def __init__(self, step: dict):
        self.pending = [h(step["ratchet_private"])] if "ratchet_private" in step else []

    def __call__(self, n: int) -> bytes:
        if not self.pending:
            raise Mismatch("the sender draws randomness, the step records no ratchet_private")
        value = self.pending.pop()
        if len(value) != n:
            raise Mismatch(f"ratchet_private has {len(value)} bytes, the sender draws {n}")
        return value

    def check_used(self) -> None:
        if self.pending:
            raise Mismatch("the step records ratchet_private, the sender drew nothing")


def replay(parties: dict, steps: list, full: bool) -> list:
    """Replays send/deliver steps; returns the sent messages as (sender, bytes).
    With `full`, every intermediate recorded in a step is compared (transcripts);
    otherwise only the message bytes and plaintexts (negative-case setups)."""
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
                compare(step, got if full else pick(got, step))
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


# ---------------------------------------------------------------------------
# Spec examples (§2.4, §3.7, §5.4), checked before the files
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
    return failures


# ---------------------------------------------------------------------------
# Driver
# ---------------------------------------------------------------------------

CHECKERS = {
    "building-blocks.json": check_building_block,
    "ratchet-kdf.json": check_ratchet_kdf,
    "ratchet-transcripts.json": check_transcript,
    "ratchet-negative.json": check_rejection,
}


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


def main(argv: List[str]) -> int:
    args = argv[1:]
    if any(a in ("-h", "--help") for a in args):
        print(__doc__.strip())
        return 0
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
                "usage: python3 tools/check_vectors.py [DIR | FILE...]\n"
            )
            return 2

    ok = True
    for failure in check_spec_examples():
        print(f"FAIL spec example {failure}")
        ok = False
    for path in paths:
        if not os.path.isfile(path):
            print(f"FAIL {os.path.basename(path)}: missing ({path})")
            ok = False
            continue
        ok = check_file(path) and ok
    print("all vectors passed" if ok else "some vectors FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
