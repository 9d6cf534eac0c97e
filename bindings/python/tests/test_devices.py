"""Several devices per person: lists, known users, linking, fan-out."""

from __future__ import annotations

import pytest

import sova

MAX_PLAINTEXT_LEN = (1 << 20) - 1  # spec §5.5.5

def entry(device_id: int, account: sova.Account, admin: bool = True) -> sova.DeviceEntry:
    return sova.DeviceEntry(device_id, account.identity_key, admin)


def test_lists_and_known_users() -> None:
    uk = sova.UserKey()
    phone, laptop = sova.Account(), sova.Account()
    v1 = uk.sign_list(1, [entry(1, phone)])
    v2 = uk.sign_list(2, [entry(1, phone), entry(2, laptop, admin=False)])
    checked = sova.DeviceList.verify(v2.to_bytes(), uk.public)
    assert checked.epoch == 2 and [e.device_id for e in checked.entries] == [1, 2]
    assert checked.device(2) == entry(2, laptop, admin=False)
    assert checked.device(3) is None
    known = sova.KnownUser(uk.public, v1.to_bytes())
    change = known.update(v2.to_bytes())
    assert change.accepted and change.added == [2] and change.removed == []
    assert not known.update(v2.to_bytes()).accepted
    before = known.to_bytes()
    with pytest.raises(sova.DeviceListError) as err:
        known.update(v1.to_bytes())
    assert err.value.code == "Rollback"
    assert known.to_bytes() == before
    with pytest.raises(sova.DeviceListError) as err:
        sova.DeviceList.verify(v2.to_bytes(), sova.UserKey().public)
    assert err.value.code == "WrongUser"
    key = sova.StorageKey.generate()
    assert sova.KnownUser.from_sealed_bytes(known.to_sealed_bytes(key), key).list_hash == known.list_hash
    restored = sova.UserKey.from_sealed_bytes(uk.to_sealed_bytes(key), key)
    assert restored.public == uk.public
    assert sova.UserKey.from_bytes(uk.to_bytes()).public == uk.public
    assert sova.user_identity(uk.public) == uk.user_identity


def test_link_a_new_device() -> None:
    uk = sova.UserKey()
    phone, laptop = sova.Account(), sova.Account()
    own = sova.KnownUser.from_list(uk.sign_list(1, [entry(1, phone)]))
    request = sova.LinkRequest(laptop)
    approval = sova.approve_link(uk, own, request.offer, admin=False, data=b"contacts")
    linked = request.finish(approval.response)
    assert linked.device_id == approval.device_id == 2
    assert linked.code == approval.code and len(linked.code) == 6
    assert linked.data == b"contacts" and linked.user_key is None
    assert linked.user.list.to_bytes() == approval.list.to_bytes()
    assert own.update(approval.list.to_bytes()).added == [2]
    # A tampered response is refused.
    tampered = bytearray(approval.response)
    tampered[-1] ^= 1
    with pytest.raises(sova.LinkError):
        sova.LinkRequest(sova.Account()).finish(bytes(tampered))
    with pytest.raises(sova.LinkError) as err:
        sova.approve_link(sova.UserKey(), own, request.offer)
    assert err.value.code == "WrongUserKey"


def test_fanout_to_every_device() -> None:
    alice_uk, bob_uk = sova.UserKey(), sova.UserKey()
    alice_phone, alice_laptop = sova.Account(), sova.Account()
    bob_phone, bob_tablet = sova.Account(), sova.Account()
    alice_list = alice_uk.sign_list(1, [entry(1, alice_phone), entry(2, alice_laptop, False)])
    bob_list = bob_uk.sign_list(1, [entry(1, bob_phone), entry(2, bob_tablet, False)])

    # Alice's phone: its own user (peers: the laptop) and Bob.
    alice_self = sova.PeerDevices.own(sova.KnownUser.from_list(alice_list), 1)
    alice_to_bob = sova.PeerDevices(sova.KnownUser(bob_uk.public, bob_list.to_bytes()))
    assert alice_to_bob.needs_bundle() == [1, 2] and alice_self.needs_bundle() == [2]
    with pytest.raises(sova.FanoutError) as err:
        sova.PeerDevices.send(alice_self, alice_to_bob, b"too early")
    assert err.value.code == "NoSession"
    alice_to_bob.start(alice_phone, 1, bob_phone.bundle())
    alice_to_bob.start(alice_phone, 2, bob_tablet.bundle())
    alice_self.start(alice_phone, 2, alice_laptop.bundle())
    with pytest.raises(sova.FanoutError) as err:
        alice_to_bob.start(alice_phone, 1, bob_tablet.bundle())  # not the listed identity
    assert err.value.codes == ("Start", "UnexpectedPeer")
    wire = sova.PeerDevices.send(alice_self, alice_to_bob, b"hi Bob")

    parts = sova.split_fanout(wire)
    assert sorted((a, d) for a, d, _ in parts) == [("own", 2), ("recipient", 1), ("recipient", 2)]
    by_dest = {(a, d): m for a, d, m in parts}

    for device, account in ((1, bob_phone), (2, bob_tablet)):
        bob_self = sova.KnownUser.from_list(bob_list)
        from_alice = sova.PeerDevices(sova.KnownUser.from_list(alice_list))
        got = from_alice.receive(bob_self, account, by_dest[("recipient", device)])
        assert got.plaintext == b"hi Bob" and got.sender_device == 1
        assert got.recipient_list_current and got.account_changed
        assert from_alice.conversation_ids == [1]
        # The same device message again: refused, nothing changes.
        before = account.to_bytes()
        with pytest.raises(sova.FanoutError):
            from_alice.receive(bob_self, account, by_dest[("recipient", device)])
        assert account.to_bytes() == before

    laptop_self = sova.PeerDevices.own(sova.KnownUser.from_list(alice_list), 2)
    got = laptop_self.receive_own(alice_laptop, by_dest[("own", 2)])
    assert got.plaintext == b"hi Bob" and got.sender_device == 1

    # A device message sent to another device is refused.
    with pytest.raises(sova.FanoutError):
        sova.PeerDevices(sova.KnownUser.from_list(alice_list)).receive(
            sova.KnownUser.from_list(bob_list), bob_phone, by_dest[("recipient", 2)]
        )


def test_peer_devices_persist_and_follow_the_list() -> None:
    alice_uk, bob_uk = sova.UserKey(), sova.UserKey()
    alice_phone, bob_phone, bob_tablet = sova.Account(), sova.Account(), sova.Account()
    alice_list = alice_uk.sign_list(1, [entry(1, alice_phone)])
    bob_v1 = bob_uk.sign_list(1, [entry(1, bob_phone), entry(2, bob_tablet)])
    alice_self = sova.PeerDevices.own(sova.KnownUser.from_list(alice_list), 1)
    to_bob = sova.PeerDevices(sova.KnownUser.from_list(bob_v1))
    to_bob.start(alice_phone, 1, bob_phone.bundle())
    to_bob.start(alice_phone, 2, bob_tablet.bundle())

    # Persist: the known user and each conversation; restore and carry on.
    key = sova.StorageKey.generate()
    saved = {d: to_bob.conversation_to_sealed_bytes(d, key) for d in to_bob.conversation_ids}
    restored = sova.PeerDevices(sova.KnownUser.from_sealed_bytes(to_bob.user.to_sealed_bytes(key), key))
    for d, blob in saved.items():
        assert blob is not None
        restored.insert(d, sova.Conversation.from_sealed_bytes(blob, key))
    assert restored.needs_bundle() == []
    with pytest.raises(sova.FanoutError) as err:
        restored.insert(1, sova.Conversation(bob_tablet.identity_key))
    assert err.value.code == "UnlistedDevice"
    wire = sova.PeerDevices.send(alice_self, restored, b"after restore")
    part = {d: m for _, d, m in sova.split_fanout(wire)}[1]
    got = sova.PeerDevices(sova.KnownUser.from_list(alice_list)).receive(
        sova.KnownUser.from_list(bob_v1), bob_phone, part
    )
    assert got.plaintext == b"after restore"

    # Bob removes the tablet: its conversation goes with it.
    bob_v2 = bob_uk.sign_list(2, [entry(1, bob_phone)])
    change = restored.update(bob_v2.to_bytes())
    assert change.removed == [2] and restored.conversation_ids == [1]


def test_device_message_header_is_read_before_receiving() -> None:
    alice_uk, bob_uk = sova.UserKey(), sova.UserKey()
    alice_phone, bob_phone = sova.Account(), sova.Account()
    alice_list = alice_uk.sign_list(3, [entry(1, alice_phone)])
    bob_list = bob_uk.sign_list(7, [entry(4, bob_phone)])
    alice_self = sova.PeerDevices.own(sova.KnownUser.from_list(alice_list), 1)
    to_bob = sova.PeerDevices(sova.KnownUser.from_list(bob_list))
    to_bob.start(alice_phone, 4, bob_phone.bundle())
    [(audience, device, part)] = sova.split_fanout(sova.PeerDevices.send(alice_self, to_bob, b"hey"))

    m = sova.DeviceMessage.parse(part)
    assert (m.audience, m.device_id) == (audience, device) == ("recipient", 4)
    assert m.sender_user == alice_uk.public and m.sender_device == 1
    assert m.sender_epoch == 3 and m.sender_list_hash == alice_list.hash()
    assert m.recipient_user == bob_uk.public
    assert m.recipient_epoch == 7 and m.recipient_list_hash == bob_list.hash()
    assert len(m.pairwise) > 0 and m.pairwise in part
    assert "sender_device=1" in repr(m)

    # Malformed device messages raise the class the receiver would.
    for bad, reason in ((part[:-1], "Truncated"), (part + b"\x00", "TrailingBytes")):
        with pytest.raises(sova.FanoutError) as err:
            sova.DeviceMessage.parse(bad)
        assert err.value.codes == ("Malformed", reason)
        with pytest.raises(sova.FanoutError) as err:
            sova.PeerDevices(sova.KnownUser.from_list(alice_list)).receive(
                sova.KnownUser.from_list(bob_list), bob_phone, bad
            )
        assert err.value.codes == ("Malformed", reason)


def test_note_to_self_reaches_the_other_devices_only() -> None:
    uk = sova.UserKey()
    phone, laptop, tablet = sova.Account(), sova.Account(), sova.Account()
    v1 = uk.sign_list(1, [entry(1, phone), entry(2, laptop, False), entry(3, tablet, False)])
    phone_self = sova.PeerDevices.own(sova.KnownUser.from_list(v1), 1)
    assert phone_self.is_listed
    with pytest.raises(sova.FanoutError) as err:
        phone_self.send_to_self(b"too early")
    assert err.value.code == "NoSession"
    phone_self.start(phone, 2, laptop.bundle())
    phone_self.start(phone, 3, tablet.bundle())
    parts = sova.split_fanout(phone_self.send_to_self(b"groceries"))
    assert [(a, d) for a, d, _ in parts] == [("own", 2), ("own", 3)]
    for (_, device, part), account in zip(parts, (laptop, tablet)):
        other = sova.PeerDevices.own(sova.KnownUser.from_list(v1), device)
        got = other.receive_own(account, part)
        assert got.plaintext == b"groceries" and got.sender_device == 1
    with pytest.raises(sova.FanoutError) as err:
        phone_self.send_to_self(bytes(MAX_PLAINTEXT_LEN + 1))
    assert err.value.code == "PlaintextTooLong"

    # Another person's devices are no note to self.
    with pytest.raises(sova.FanoutError) as err:
        sova.PeerDevices(sova.KnownUser.from_list(v1)).send_to_self(b"x")
    assert err.value.code == "UnknownDevice"

    # Removed from the list, the phone can no longer send, to itself or others.
    v2 = uk.sign_list(2, [entry(2, laptop), entry(3, tablet, False)])
    laptop_self = sova.PeerDevices.own(sova.KnownUser.from_list(v1), 2)
    assert laptop_self.update(v2.to_bytes()).removed == [1]
    assert laptop_self.is_listed and sova.PeerDevices(sova.KnownUser.from_list(v2)).is_listed
    assert phone_self.update(v2.to_bytes()).removed == [1]
    assert not phone_self.is_listed and phone_self.conversation_ids == [2, 3]
    with pytest.raises(sova.FanoutError) as err:
        phone_self.send_to_self(b"still here?")
    assert err.value.code == "UnknownDevice"
