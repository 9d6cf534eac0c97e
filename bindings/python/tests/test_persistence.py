"""Persistence through the library's encodings, plain and sealed."""

from __future__ import annotations

import pytest

import sova
from conftest import flip, pair


def test_plain_round_trip(mode: sova.HeaderMode) -> None:
    alice, bob, to_bob, to_alice = pair(mode)
    to_bob = sova.Session.from_bytes(to_bob.to_bytes())
    to_alice = sova.Session.from_bytes(to_alice.to_bytes())
    bob = sova.Account.from_bytes(bob.to_bytes())
    assert to_alice.decrypt(to_bob.encrypt(b"after restore")).plaintext == b"after restore"
    assert to_bob.decrypt(to_alice.encrypt(b"and back")).plaintext == b"and back"
    assert sova.Account.from_bytes(alice.to_bytes()).identity_key == alice.identity_key
    assert bob.to_bytes() == sova.Account.from_bytes(bob.to_bytes()).to_bytes()


def test_sealed_round_trip(mode: sova.HeaderMode) -> None:
    alice, bob, to_bob, to_alice = pair(mode)
    key = sova.StorageKey.generate()
    sealed = to_bob.to_sealed_bytes(key)
    assert sealed != to_bob.to_sealed_bytes(key)  # fresh randomness each time
    restored = sova.Session.from_sealed_bytes(sealed, key)
    assert restored.to_bytes() == to_bob.to_bytes()
    assert to_alice.decrypt(restored.encrypt(b"sealed")).plaintext == b"sealed"
    account = sova.Account.from_sealed_bytes(bob.to_sealed_bytes(key), key)
    assert account.identity_key == bob.identity_key
    key_again = sova.StorageKey(key.to_bytes())
    assert sova.Account.from_sealed_bytes(alice.to_sealed_bytes(key), key_again).identity_key == alice.identity_key


def test_sealed_refuses_wrong_key_tampering_and_kind() -> None:
    alice, _, to_bob, _ = pair()
    key, other = sova.StorageKey.generate(), sova.StorageKey.generate()
    sealed = to_bob.to_sealed_bytes(key)
    with pytest.raises(sova.PersistError) as err:
        sova.Session.from_sealed_bytes(sealed, other)
    assert err.value.codes == ("Storage", "Authentication")
    with pytest.raises(sova.PersistError) as err:
        sova.Session.from_sealed_bytes(flip(sealed), key)
    assert err.value.codes == ("Storage", "Authentication")
    with pytest.raises(sova.PersistError) as err:
        sova.Account.from_sealed_bytes(sealed, key)
    assert err.value.codes == ("Storage", "WrongKind")
    with pytest.raises(sova.PersistError):
        sova.Account.from_sealed_bytes(alice.to_sealed_bytes(key)[:-1], key)


def test_plain_refuses_garbage() -> None:
    with pytest.raises(sova.StateError):
        sova.Session.from_bytes(b"not a state")
    with pytest.raises(sova.StateError):
        sova.Account.from_bytes(b"")
    with pytest.raises(sova.StateError):
        sova.Conversation.from_bytes(b"\x00" * 40)


def test_conversation_persisted(mode: sova.HeaderMode) -> None:
    alice, bob = sova.Account(), sova.Account()
    to_bob = sova.Conversation.start(alice, bob.identity_key, bob.bundle(), mode)
    to_alice = sova.Conversation(alice.identity_key)
    assert to_alice.decrypt(bob, to_bob.encrypt(b"one")).account_changed
    key = sova.StorageKey.generate()
    to_alice = sova.Conversation.from_sealed_bytes(to_alice.to_sealed_bytes(key), key)
    to_bob = sova.Conversation.from_bytes(to_bob.to_bytes())
    assert to_bob.peer == bob.identity_key
    got = to_bob.decrypt(alice, to_alice.encrypt(b"two"))
    assert got.plaintext == b"two" and not got.account_changed
    assert got.session_id == to_bob.active_session_id


def test_generation_counts_changes() -> None:
    _, _, to_bob, to_alice = pair()
    g = to_bob.generation
    to_bob.decrypt(to_alice.encrypt(b"x"))
    assert to_bob.generation > g
