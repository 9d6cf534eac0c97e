"""Groups (spec §12): welcomes and chain offers travel as fan-out messages
over pairwise sessions; operations and group messages through the server."""

from __future__ import annotations

from typing import Dict, List, Optional, Tuple

import pytest

import sova
from conftest import flip


class Person:
    """One person with one device (id 1), and what the device knows."""

    def __init__(self) -> None:
        self.uk = sova.UserKey()
        self.account = sova.Account()
        self.list = self.uk.sign_list(1, [sova.DeviceEntry(1, self.account.identity_key, True)])
        self.known = sova.KnownUser.from_list(self.list)
        self.own = sova.PeerDevices.own(sova.KnownUser.from_list(self.list), 1)
        # This device's devices of each other person, by user key.
        self.peers: Dict[bytes, sova.PeerDevices] = {}
        self.group: Optional[sova.Group] = None

    @property
    def user(self) -> bytes:
        return self.uk.public

    def g(self) -> sova.Group:
        assert self.group is not None
        return self.group

    def to(self, other: Person) -> sova.PeerDevices:
        if other.user not in self.peers:
            self.peers[other.user] = sova.PeerDevices(sova.KnownUser.from_list(other.list))
        return self.peers[other.user]


def directory(people: List[Person]) -> List[sova.KnownUser]:
    return [p.known for p in people]


def fan(sender: Person, recipient: Person, payload: bytes) -> sova.FanoutReceived:
    """One fan-out message from `sender` to `recipient`'s device; returns what
    the recipient received (its sender authenticated by the pairwise session)."""
    out = sender.to(recipient)
    for device in out.needs_bundle():
        out.start(sender.account, device, recipient.account.bundle())
    [(audience, _, part)] = sova.split_fanout(sova.PeerDevices.send(sender.own, out, payload))
    assert audience == "recipient"
    assert sova.DeviceMessage.parse(part).sender_user == sender.user
    got = recipient.to(sender).receive(recipient.known, recipient.account, part)
    assert got.sender_user == sender.user
    assert got.plaintext == payload
    return got


def welcome(sender: Person, joiner: Person, op: bytes, world: List[Person]) -> None:
    got = fan(sender, joiner, sender.g().welcome(op))
    joiner.group = sova.Group.join(joiner.user, 1, got, directory(world))


def new_chain(sender: Person, world: List[Person]) -> None:
    """`sender` starts a chain and hands it to every other member."""
    offer = sender.g().start_chain(sender.account)
    members = {m.user for m in sender.g().members}
    for p in world:
        if p is not sender and p.user in members and p.group is not None:
            p.g().accept_chain(fan(sender, p, offer), directory(world))


def three() -> Tuple[Person, Person, Person, List[Person]]:
    """Alice (admin), Bob and Carol in one group; each holds the others' chains."""
    alice, bob, carol = Person(), Person(), Person()
    world = [alice, bob, carol]
    roster = [
        sova.Member(alice.user, sova.Role.ADMIN),
        sova.Member(bob.user),
        sova.Member(carol.user, sova.Role.MEMBER),
    ]
    alice.group, create = sova.Group.create(alice.account, alice.user, 1, roster, directory(world))
    for p in (bob, carol):
        welcome(alice, p, create, world)
    for p in world:
        new_chain(p, world)
    return alice, bob, carol, world


def test_three_people_send_and_receive() -> None:
    alice, bob, carol, world = three()
    a = alice.g()
    assert a.epoch == 0 and len(a.group_id) == 32 and len(a.state_hash) == 32
    assert [m.user for m in a.members] == sorted(p.user for p in world)
    assert sova.Member(alice.user, sova.Role.ADMIN) in a.members
    for p in world:
        g = p.g()
        assert (g.group_id, g.epoch, g.state_hash) == (a.group_id, a.epoch, a.state_hash)
        assert g.members == a.members and g.is_member and not g.needs_chain
    for sender in world:
        wire = sender.g().encrypt(b"from " + sender.user[:4])
        for p in world:
            if p is sender:
                continue
            got = p.g().decrypt(wire, directory(world))
            assert got.plaintext == b"from " + sender.user[:4]
            assert (got.sender_user, got.sender_device, got.index) == (sender.user, 1, 0)
    # Out of order within a chain, then a replay.
    m1, m2 = bob.g().encrypt(b"one"), bob.g().encrypt(b"two")
    assert carol.g().decrypt(m2, directory(world)).index == 2
    assert carol.g().decrypt(m1, directory(world)).plaintext == b"one"
    with pytest.raises(sova.GroupError) as err:
        carol.g().decrypt(m1, directory(world))
    assert err.value.code == "DuplicateOrExpired"
    assert repr(a).startswith("Group(group_id=") and "epoch=0, members=3" in repr(a)
    assert "role=Role.ADMIN" in repr(sova.Member(alice.user, sova.Role.ADMIN))


def test_add_and_remove_a_member() -> None:
    alice, bob, carol, world = three()
    dave = Person()
    world.append(dave)
    # Bob, a plain member, may not add anyone.
    before = bob.g().to_bytes()
    with pytest.raises(sova.GroupError) as err:
        bob.g().add(bob.account, sova.Member(dave.user), directory(world))
    assert err.value.code == "NotAuthorised"
    assert bob.g().to_bytes() == before

    add = alice.g().add(alice.account, sova.Member(dave.user), directory(world))
    assert alice.g().epoch == 1 and alice.g().needs_chain
    for p in (bob, carol):
        assert p.g().apply(add, directory(world)) == "advanced"
        assert p.g().epoch == 1 and p.g().needs_chain
        # The same operation again changes nothing.
        assert p.g().apply(add, directory(world)) == "unchanged"
    welcome(alice, dave, add, world)
    assert dave.g().state_hash == alice.g().state_hash and len(dave.g().members) == 4
    with pytest.raises(sova.GroupError) as err:
        alice.g().encrypt(b"no chain yet")
    assert err.value.code == "NoChain"
    for p in world:
        new_chain(p, world)
    wire = dave.g().encrypt(b"hello, I'm new")
    for p in (alice, bob, carol):
        assert p.g().decrypt(wire, directory(world)).plaintext == b"hello, I'm new"

    # Alice removes Carol; the others apply it and start fresh chains.
    remove = alice.g().remove(alice.account, carol.user, directory(world))
    for p in (bob, dave):
        assert p.g().apply(remove, directory(world)) == "advanced"
    assert carol.user not in {m.user for m in alice.g().members}
    for p in (alice, bob, dave):
        new_chain(p, world)
    wire = alice.g().encrypt(b"without Carol")
    for p in (bob, dave):
        assert p.g().decrypt(wire, directory(world)).plaintext == b"without Carol"
    # Carol can no longer read new messages: not before she applies the
    # removal (a later epoch), nor after (nobody hands her a chain of it).
    before = carol.g().to_bytes()
    with pytest.raises(sova.GroupError) as err:
        carol.g().decrypt(wire, directory(world))
    assert err.value.code == "EpochAhead"
    assert carol.g().to_bytes() == before
    assert carol.g().apply(remove, directory(world)) == "advanced"
    assert not carol.g().is_member
    with pytest.raises(sova.GroupError) as err:
        carol.g().decrypt(wire, directory(world))
    assert err.value.code == "UnknownChain"
    with pytest.raises(sova.GroupError) as err:
        carol.g().start_chain(carol.account)
    assert err.value.code == "Removed"
    with pytest.raises(sova.GroupError) as err:
        carol.g().encrypt(b"still here?")
    assert err.value.code == "Removed"

    # Roles: Alice makes Bob an admin; the last admin cannot step down alone.
    change = alice.g().change_role(alice.account, sova.Member(bob.user, sova.Role.ADMIN), directory(world))
    assert bob.g().apply(change, directory(world)) == "advanced"
    assert sova.Member(bob.user, sova.Role.ADMIN) in bob.g().members
    lonely = Person()
    lonely.group, _ = sova.Group.create(
        lonely.account, lonely.user, 1, [sova.Member(lonely.user, sova.Role.ADMIN)], [lonely.known]
    )
    with pytest.raises(sova.GroupError) as err:
        lonely.g().change_role(lonely.account, sova.Member(lonely.user), [lonely.known])
    assert err.value.code == "LastAdmin"


def test_forged_and_tampered_messages_are_refused() -> None:
    assert issubclass(sova.GroupError, sova.SovaError)
    alice, bob, carol, world = three()
    wire = alice.g().encrypt(b"authentic")
    before = bob.g().to_bytes()
    # Tampered signature, body, header; truncated; and another group's.
    cases = [
        (flip(wire), ("InvalidSignature",)),
        (flip(wire, -70), ("InvalidSignature",)),
        (flip(wire, 2), ("WrongGroup",)),
        (wire[:40], ("Malformed", "Truncated")),
        (b"", ("Malformed", "Truncated")),
        (b"\x01\x07" + wire[2:], ("Malformed", "BadMagic")),
    ]
    for bad, codes in cases:
        with pytest.raises(sova.GroupError) as err:
            bob.g().decrypt(bad, directory(world))
        assert err.value.codes == codes, codes
        assert bob.g().to_bytes() == before
    # A message from a member whose chain Bob was never handed.
    mallory = Person()
    mallory.group, _ = sova.Group.create(
        mallory.account, mallory.user, 1, [sova.Member(mallory.user, sova.Role.ADMIN)], [mallory.known]
    )
    mallory.g().start_chain(mallory.account)
    with pytest.raises(sova.GroupError) as err:
        bob.g().decrypt(mallory.g().encrypt(b"hi"), directory(world))
    assert err.value.code == "WrongGroup"
    # Carol's chain offer relayed over Alice's pairwise session with Bob.
    offer = carol.g().start_chain(carol.account)
    relayed = fan(alice, bob, offer)
    with pytest.raises(sova.GroupError) as err:
        bob.g().accept_chain(relayed, directory(world))
    assert err.value.code == "WrongSession"
    # A forged operation: signed by Bob, who may not remove anyone.
    assert bob.g().to_bytes() == before
    assert bob.g().decrypt(wire, directory(world)).plaintext == b"authentic"
    after = bob.g().to_bytes()
    with pytest.raises(sova.GroupError) as err:
        bob.g().remove(bob.account, alice.user, directory(world))
    assert err.value.code == "NotAuthorised"
    op = alice.g().remove(alice.account, carol.user, directory(world))
    with pytest.raises(sova.GroupError) as err:
        bob.g().apply(flip(op), directory(world))
    assert err.value.code == "InvalidSignature"
    with pytest.raises(sova.GroupError) as err:
        bob.g().apply(op, [])  # no list for the signer: its device is unknown
    assert err.value.code == "UnknownDevice"
    assert bob.g().to_bytes() == after
    with pytest.raises(TypeError):
        # Bytes are not what the fan-out layer received.
        bob.g().accept_chain(offer, directory(world))  # type: ignore[arg-type]


def test_persistence_plain_and_sealed() -> None:
    alice, bob, carol, world = three()
    key = sova.StorageKey.generate()
    sealed = bob.g().to_sealed_bytes(key)
    plain = bob.g().to_bytes()
    for restored in (sova.Group.from_bytes(plain), sova.Group.from_sealed_bytes(sealed, key)):
        assert restored.to_bytes() == plain
        assert (restored.group_id, restored.epoch, restored.state_hash) == (
            bob.g().group_id,
            bob.g().epoch,
            bob.g().state_hash,
        )
        assert restored.members == bob.g().members
    # The restored group reads what was sent since, and sends.
    wire = alice.g().encrypt(b"after restore")
    bob.group = sova.Group.from_sealed_bytes(sealed, key)
    assert bob.g().decrypt(wire, directory(world)).plaintext == b"after restore"
    assert carol.g().decrypt(bob.g().encrypt(b"and back"), directory(world)).plaintext == b"and back"
    # Refusals.
    with pytest.raises(sova.PersistError) as err:
        sova.Group.from_sealed_bytes(sealed, sova.StorageKey.generate())
    assert err.value.codes == ("Storage", "Authentication")
    with pytest.raises(sova.PersistError):
        sova.Group.from_sealed_bytes(flip(sealed), key)
    with pytest.raises(sova.StateError):
        sova.Group.from_bytes(flip(plain))
    with pytest.raises(sova.StateError):
        sova.Group.from_bytes(plain[:-1])
