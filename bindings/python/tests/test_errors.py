"""Exceptions: one base class, the library's stable codes (spec appendix B)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Callable, Dict, Set

import pytest

import sova
from conftest import flip, pair

ROOT = Path(__file__).resolve().parents[3]


def appendix_b() -> Dict[str, Set[str]]:
    """The codes of each error type (its Rust path), from the spec's table."""
    text = (ROOT / "spec" / "appendix-b-error-codes.md").read_text()
    table: Dict[str, Set[str]] = {}
    for ty, codes in re.findall(r"^\| `([\w:]+)` \| (.+) \|$", text, flags=re.M):
        table[ty] = set(re.findall(r"`(\w+)`", codes))
    return table


CODES = appendix_b()
ALL_CODES = set().union(*CODES.values())


def raises(f: Callable[[], object]) -> sova.SovaError:
    with pytest.raises(sova.SovaError) as err:
        f()
    return err.value


def test_every_family_is_a_sova_error() -> None:
    for name in dir(sova):
        obj = getattr(sova, name)
        if isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, sova.SovaError), name


def test_codes_are_the_specs() -> None:
    assert len(CODES) >= 20
    alice, bob, to_bob, to_alice = pair()
    key = sova.StorageKey.generate()
    uk = sova.UserKey()
    known = sova.KnownUser.from_list(uk.sign_list(1, [sova.DeviceEntry(1, bob.identity_key, True)]))
    seen = [
        (sova.DecryptError, "sova::session::DecryptError", raises(lambda: to_bob.decrypt(flip(to_alice.encrypt(b"x"))))),
        (sova.AcceptError, "sova::session::AcceptError", raises(lambda: bob.accept_unverified(b""))),
        (sova.StartError, "sova::session::StartError", raises(lambda: sova.Session.start_unverified(alice, b"\x01"))),
        (sova.AccountError, "sova::session::AccountError", raises(lambda: bob.bundle(12345))),
        (sova.StateError, "sova::ratchet::StateError", raises(lambda: sova.Session.from_bytes(b"x"))),
        (sova.PersistError, "sova::session::PersistError", raises(lambda: sova.Session.from_sealed_bytes(b"x", key))),
        (sova.UploadError, "sova::session::UploadError", raises(lambda: sova.PrekeyUpload.parse(b""))),
        (sova.SafetyError, "sova::safety::SafetyError", raises(
            lambda: sova.SafetyNumber(alice.identity_key, bob.identity_key).verify_scanned(b"")
        )),
        (sova.DeviceListError, "sova::devices::ListError", raises(lambda: sova.DeviceList.verify(b"", uk.public))),
        (sova.LinkError, "sova::devices::LinkError", raises(lambda: sova.LinkRequest(alice).finish(b""))),
        (sova.DeviceParseError, "sova::devices::ParseError", raises(lambda: sova.split_fanout(b""))),
        (sova.FanoutError, "sova::devices::FanoutError", raises(
            lambda: sova.PeerDevices(known).receive(known, bob, b"")
        )),
        (sova.GroupError, "sova::groups::GroupError", raises(
            lambda: sova.Group.create(bob, uk.public, 1, [], [known])  # an empty roster
        )),
    ]
    for cls, rust_type, e in seen:
        assert type(e) is cls, (cls, e)
        assert e.code in CODES[rust_type], (rust_type, e.code)
        assert e.codes[0] == e.code
        assert set(e.codes) <= ALL_CODES, e.codes
        assert str(e)  # the library's message


def test_wrapped_reasons() -> None:
    alice = sova.Account()
    e = raises(lambda: sova.Session.start_unverified(alice, b"\x01"))
    assert e.code == "Bundle" and len(e.codes) == 2 and e.codes[1] in CODES["sova::session::BundleError"]
    e = raises(lambda: sova.Session.from_sealed_bytes(b"x", sova.StorageKey.generate()))
    assert e.code == "Storage" and e.codes[1] in CODES["sova::storage::StorageError"]
    uk = sova.UserKey()
    own = sova.KnownUser.from_list(uk.sign_list(1, [sova.DeviceEntry(1, alice.identity_key, True)]))
    e = raises(lambda: sova.PeerDevices(own).receive(own, alice, b""))
    assert e.codes[0] == "Malformed" and e.codes[1] in CODES["sova::devices::ParseError"]
