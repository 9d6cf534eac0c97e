"""Sessions: round trips, out-of-order delivery, rejections, expected peers."""

from __future__ import annotations

import random

import pytest

import sova
from conftest import flip, pair


def test_round_trip_both_directions(mode: sova.HeaderMode) -> None:
    alice, bob = sova.Account(), sova.Account()
    to_bob = sova.Session.start(alice, bob.identity_key, bob.bundle(), mode)
    assert to_bob.we_initiated and to_bob.is_pending
    assert to_bob.peer_identity_key == bob.identity_key
    to_alice, plaintext = bob.accept(alice.identity_key, to_bob.encrypt(b"hi Bob"))
    assert plaintext == b"hi Bob"
    assert to_alice.session_id == to_bob.session_id
    assert to_alice.peer_identity_key == alice.identity_key
    assert not to_alice.we_initiated
    for i in range(5):
        got = to_bob.decrypt(to_alice.encrypt(b"to Alice %d" % i))
        assert got.plaintext == b"to Alice %d" % i
        got = to_alice.decrypt(to_bob.encrypt(b"to Bob %d" % i))
        assert got.plaintext == b"to Bob %d" % i
    assert not to_bob.is_pending


def test_message_info_orders_and_shows_gaps() -> None:
    _, _, to_bob, to_alice = pair()
    # Bob's chain to Alice already carried "hi" (number 0).
    m = [to_alice.encrypt(b"m%d" % i) for i in range(3)]
    d3 = to_bob.decrypt(m[2])
    assert (d3.info.number, d3.info.late, d3.info.gap, d3.info.new_chain) == (3, False, 2, False)
    assert len(d3.info.chain) == 32
    d1 = to_bob.decrypt(m[0])
    assert (d1.info.number, d1.info.late, d1.info.gap) == (1, True, 0)
    assert d1.info.chain == d3.info.chain
    # Alice answers: Bob's next message opens a new chain.
    to_alice.decrypt(to_bob.encrypt(b"reply"))
    d = to_bob.decrypt(to_alice.encrypt(b"new chain"))
    assert (d.info.number, d.info.new_chain, d.info.previous_chain_len) == (0, True, 4)
    assert d.info.chain != d3.info.chain


def test_out_of_order_delivery(mode: sova.HeaderMode) -> None:
    _, _, to_bob, to_alice = pair(mode)
    rng = random.Random(7)
    for rnd in range(4):
        sent = [(b"r%d-%d" % (rnd, i), to_alice.encrypt(b"r%d-%d" % (rnd, i))) for i in range(8)]
        rng.shuffle(sent)
        for plaintext, message in sent:
            assert to_bob.decrypt(message).plaintext == plaintext
        # A reply makes the next round a new chain (a DH ratchet step).
        assert to_alice.decrypt(to_bob.encrypt(b"ack")).plaintext == b"ack"


def test_tampered_message_rejected_without_state_change(mode: sova.HeaderMode) -> None:
    _, _, to_bob, to_alice = pair(mode)
    message = to_alice.encrypt(b"genuine")
    before = to_bob.to_bytes()
    # Any bit of the message: refused, and the session is as it was.
    for index in range(0, len(message), 7):
        with pytest.raises(sova.DecryptError) as err:
            to_bob.decrypt(flip(message, index))
        assert err.value.code in (
            "Authentication",
            "HeaderAuthentication",
            "Malformed",
            "TooManySkipped",
            "DuplicateOrExpired",
            "BeyondChainEnd",
            "LowOrderRatchetKey",
        ), err.value.codes
        assert to_bob.to_bytes() == before
    # The body's tag: an authentication failure, not a duplicate.
    with pytest.raises(sova.DecryptError) as err:
        to_bob.decrypt(flip(message, -1))
    assert err.value.code == "Authentication"
    assert err.value.codes == ("Authentication",)
    assert isinstance(err.value, sova.SovaError)
    assert to_bob.to_bytes() == before
    assert to_bob.decrypt(message).plaintext == b"genuine"


def test_replay_is_duplicate_not_forgery() -> None:
    _, _, to_bob, to_alice = pair()
    message = to_alice.encrypt(b"once")
    to_bob.decrypt(message)
    before = to_bob.to_bytes()
    with pytest.raises(sova.DecryptError) as err:
        to_bob.decrypt(message)
    assert err.value.code == "DuplicateOrExpired"
    assert to_bob.to_bytes() == before


def test_impostor_refused_on_default_accept_path() -> None:
    alice, bob, mallory = sova.Account(), sova.Account(), sova.Account()
    forged = sova.Session.start(mallory, bob.identity_key, bob.bundle()).encrypt(b"it's Alice")
    before = bob.to_bytes()
    with pytest.raises(sova.AcceptError) as err:
        bob.accept(alice.identity_key, forged)
    assert err.value.code == "UnexpectedPeer"
    assert bob.to_bytes() == before
    # Accepting a stranger is possible, and explicit.
    session, plaintext = bob.accept_unverified(forged)
    assert plaintext == b"it's Alice"
    assert session.peer_identity_key == mallory.identity_key


def test_impostor_bundle_refused_on_default_start_path() -> None:
    alice, bob, mallory = sova.Account(), sova.Account(), sova.Account()
    with pytest.raises(sova.StartError) as err:
        sova.Session.start(alice, bob.identity_key, mallory.bundle())
    assert err.value.code == "UnexpectedPeer"
    s = sova.Session.start_unverified(alice, mallory.bundle())
    assert s.peer_identity_key == mallory.identity_key


def test_required_header_mode() -> None:
    alice, bob = sova.Account(), sova.Account()
    plain = sova.Session.start(alice, bob.identity_key, bob.bundle(), sova.HeaderMode.PLAIN)
    with pytest.raises(sova.AcceptError) as err:
        bob.accept(alice.identity_key, plain.encrypt(b"x"), require_header_mode=sova.HeaderMode.ENCRYPTED)
    assert err.value.code == "HeaderModeRefused"


def test_malformed_initial_message_has_wrapped_code() -> None:
    bob = sova.Account()
    with pytest.raises(sova.AcceptError) as err:
        bob.accept_unverified(b"\x01")
    assert err.value.code == "Malformed"
    assert err.value.codes[0] == "Malformed" and len(err.value.codes) == 2


def test_bad_arguments_raise_value_error() -> None:
    bob = sova.Account()
    with pytest.raises(ValueError):
        bob.accept(b"short", b"")
    with pytest.raises(ValueError):
        sova.StorageKey(b"\x00" * 31)


def test_prekey_upload_and_mark_published() -> None:
    bob = sova.Account()
    ids = bob.generate_one_time_prekeys(3)
    kem_ids = bob.generate_kem_one_time_prekeys(1)
    assert bob.has_unpublished_prekeys
    upload = bob.unpublished_prekeys()
    assert upload.one_time_prekey_ids == ids and upload.kem_one_time_prekey_ids == kem_ids
    # The server's side: parse, verify, hand out bundles.
    stored = sova.PrekeyUpload.parse(upload.to_bytes())
    stored.verify()
    assert stored.identity_key == bob.identity_key and stored.has_long_term_part
    assert stored.bundle(ids[0], kem_ids[0]) == bob.bundle(ids[0], kem_ids[0])
    generation = bob.generation
    assert bob.mark_prekeys_as_published(upload) == 3 + 1 + 2
    assert not bob.has_unpublished_prekeys and bob.generation > generation
    assert bob.unpublished_prekeys().is_empty
    # A tampered upload is refused.
    raw = bytearray(upload.to_bytes())
    raw[-1] ^= 1
    with pytest.raises(sova.UploadError):
        sova.PrekeyUpload.parse(bytes(raw)).verify()


def test_one_time_prekey_used_once() -> None:
    alice, bob = sova.Account(), sova.Account()
    opk = bob.generate_one_time_prekeys(1)[0]
    bundle = bob.bundle(opk)
    _, _ = bob.accept(alice.identity_key, sova.Session.start(alice, bob.identity_key, bundle).encrypt(b"1"))
    assert opk not in bob.one_time_prekey_ids
    before = bob.to_bytes()
    with pytest.raises(sova.AcceptError) as err:
        bob.accept(alice.identity_key, sova.Session.start(alice, bob.identity_key, bundle).encrypt(b"2"))
    assert err.value.code == "OneTimePrekeyUnknownOrUsed"
    assert bob.to_bytes() == before


def test_safety_numbers_agree() -> None:
    alice, bob = sova.Account(), sova.Account()
    a = sova.SafetyNumber(alice.identity_key, bob.identity_key)
    b = sova.SafetyNumber(bob.identity_key, alice.identity_key)
    assert a.digits == b.digits and len(a.digits) == 60
    assert a.display() == " ".join(a.groups) and len(a.groups) == 12
    b.verify_scanned(a.qr_payload())
    with pytest.raises(sova.SafetyError) as err:
        a.verify_scanned(a.qr_payload())
    assert err.value.code == "OwnCode"
    other = sova.SafetyNumber(alice.identity_key, sova.Account().identity_key)
    with pytest.raises(sova.SafetyError) as err:
        other.verify_scanned(b.qr_payload())
    assert err.value.code == "Mismatch"


def test_conversation_races_lose_nothing() -> None:
    alice, bob = sova.Account(), sova.Account()
    a = sova.Conversation.start(alice, bob.identity_key, bob.bundle())
    b = sova.Conversation.start(bob, alice.identity_key, alice.bundle())
    from_a = [a.encrypt(b"a%d" % i) for i in range(3)]
    from_b = [b.encrypt(b"b%d" % i) for i in range(3)]
    # Delivered late and in reverse: every message arrives.
    for i, m in reversed(list(enumerate(from_a))):
        assert b.decrypt(bob, m).plaintext == b"a%d" % i
    for i, m in reversed(list(enumerate(from_b))):
        assert a.decrypt(alice, m).plaintext == b"b%d" % i
    assert a.decrypt(alice, b.encrypt(b"after")).plaintext == b"after"
    assert b.decrypt(bob, a.encrypt(b"after too")).plaintext == b"after too"


def test_conversation_refuses_other_peer() -> None:
    alice, bob, mallory = sova.Account(), sova.Account(), sova.Account()
    to_alice = sova.Conversation(alice.identity_key)
    forged = sova.Session.start(mallory, bob.identity_key, bob.bundle()).encrypt(b"x")
    before = bob.to_bytes()
    with pytest.raises(sova.ConversationError) as err:
        to_alice.decrypt(bob, forged)
    assert err.value.code == "OtherPeer"
    assert bob.to_bytes() == before and to_alice.session_ids == []


def test_session_moved_into_conversation() -> None:
    alice, bob = sova.Account(), sova.Account()
    s = sova.Session.start(alice, bob.identity_key, bob.bundle())
    c = sova.Conversation(bob.identity_key)
    c.add(s)
    assert c.active_session_id is not None
    with pytest.raises(ValueError):
        s.encrypt(b"moved")
    other = sova.Session.start(alice, alice.identity_key, alice.bundle())
    with pytest.raises(sova.ConversationError) as err:
        c.add(other)
    assert err.value.code == "OtherPeer"
    other.encrypt(b"still usable")
