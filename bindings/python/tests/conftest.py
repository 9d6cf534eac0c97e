"""Shared helpers: two parties with a session between them."""

from __future__ import annotations

from typing import Tuple

import pytest

import sova


def flip(message: bytes, index: int = -1) -> bytes:
    """`message` with one bit of byte `index` flipped."""
    b = bytearray(message)
    b[index] ^= 0x01
    return bytes(b)


def pair(mode: sova.HeaderMode = sova.HeaderMode.ENCRYPTED) -> Tuple[
    sova.Account, sova.Account, sova.Session, sova.Session
]:
    """Alice and Bob, Alice's session to Bob and Bob's to Alice, after one
    message each way."""
    alice, bob = sova.Account(), sova.Account()
    to_bob = sova.Session.start(alice, bob.identity_key, bob.bundle(), mode)
    to_alice, first = bob.accept(alice.identity_key, to_bob.encrypt(b"hello"))
    assert first == b"hello"
    assert to_bob.decrypt(to_alice.encrypt(b"hi")).plaintext == b"hi"
    return alice, bob, to_bob, to_alice


@pytest.fixture(params=[sova.HeaderMode.PLAIN, sova.HeaderMode.ENCRYPTED], ids=["plain", "encrypted"])
def mode(request: pytest.FixtureRequest) -> sova.HeaderMode:
    m: sova.HeaderMode = request.param
    return m
