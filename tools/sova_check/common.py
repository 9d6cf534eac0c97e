"""Shared by every module: the packages, the integers and labels of §2.2 and
§2.4, and the comparison of computed values with a file's (§4.1.2)."""

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


def without_kind(c: dict) -> dict:
    return {k: v for k, v in c.items() if k != "kind"}



def without(c: dict, *names: str) -> dict:
    return {k: v for k, v in c.items() if k not in names}



def pick(d: dict, keys) -> dict:
    return {k: d[k] for k in keys if k in d}
