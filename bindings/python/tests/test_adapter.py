"""The conformance adapter in process: framing, handles and error classes.

The full protocol is exercised by the Rust runner (`sova conformance
--strict --impl 'python3 sova_adapter.py'`, run by CI); these tests pin the
adapter's own logic.
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Any, Dict, List, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sova  # noqa: E402
from sova import hazmat  # noqa: E402
import sova_adapter  # noqa: E402
from conftest import flip  # noqa: E402

ROOT = Path(__file__).resolve().parents[3]


def run(requests: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    lines = [json.dumps(dict(r, id=i)) + "\n" for i, r in enumerate(requests)]
    out = io.StringIO()
    sova_adapter.serve(lines, out)
    responses = [json.loads(line) for line in out.getvalue().splitlines()]
    for i, r in enumerate(responses):
        assert r["id"] == i
    return responses


def test_hello_and_framing() -> None:
    out = io.StringIO()
    lines = [
        "not json\n",
        "[1]\n",
        '{"id": 5, "op": "nope"}\n',
        '{"id": 6, "op": "bye"}\n',
        '{"id": 7, "op": "hello"}\n',
    ]
    sova_adapter.serve(lines, out)
    r = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [x["ok"] for x in r] == [False, False, False, True]  # nothing after bye
    assert r[0]["error"]["class"] == "BadRequest" and r[0]["id"] is None
    assert r[1]["error"]["class"] == "BadRequest"
    assert r[2]["error"]["class"] == "UnknownOp" and r[2]["id"] == 5
    [hello] = run([{"op": "hello", "protocol": "sova-conformance/1", "seed": "00" * 32}])
    assert hello["protocol"] == "sova-conformance/1"
    assert set(hello["capabilities"]) == set(sova_adapter.CAPABILITIES)


def test_error_classes() -> None:
    class Fake(sova.SovaError):
        pass

    e = Fake("x")
    e.codes = ("FirstMessage", "Malformed", "Truncated")
    assert sova_adapter.error_class(e) == "FirstMessage(Malformed(Truncated))"
    e.codes = ("MalformedInitialMessage", "Truncated")
    assert sova_adapter.error_class(e) == "Malformed(Truncated)"
    e.codes = ("Authentication",)
    assert sova_adapter.error_class(e) == "Authentication"


def test_tampered_message_and_unknown_handle() -> None:
    adapter = sova_adapter.Adapter()

    def call(**req: Any) -> Dict[str, Any]:
        return adapter.handle(req)

    a = call(op="account_new")["handle"]
    b = call(op="account_new")["handle"]
    bundle = call(op="bundle", account=b, one_time_prekey=True, kem_one_time_prekey=True)["bundle"]
    s = call(op="session_start", account=a, bundle=bundle, header_mode="plain")["handle"]
    m = bytes.fromhex(call(op="encrypt", handle=s, plaintext=b"hi".hex())["message"])
    accepted = call(op="session_accept", account=b, message=m.hex())
    assert bytes.fromhex(accepted["plaintext"]) == b"hi"
    t = accepted["handle"]
    reply = bytearray.fromhex(call(op="encrypt", handle=t, plaintext=b"yo".hex())["message"])
    reply[-1] ^= 1
    try:
        call(op="decrypt", handle=s, message=reply.hex())
        raise AssertionError("a tampered message was accepted")
    except sova_adapter.Failure as f:
        assert f.cls == "Authentication"
    try:
        call(op="decrypt", handle="session-99", message="00")
        raise AssertionError("an unknown handle was accepted")
    except sova_adapter.Failure as f:
        assert f.cls == "UnknownHandle"
    try:
        call(op="session_accept", account=b, message=m.hex())
        raise AssertionError("a replayed initial message was accepted")
    except sova_adapter.Failure as f:
        assert f.cls == "OneTimePrekeyUnknownOrUsed"
    try:
        call(op="encrypt", handle=a, plaintext="")
        raise AssertionError("an account encrypted")
    except sova_adapter.Failure as f:
        assert f.cls == "BadRequest"


def test_vector_case_pass_fail_unsupported() -> None:
    doc = json.loads((ROOT / "test-vectors" / "primitives.json").read_text())
    case = doc["cases"][0]
    ok, = run([{"op": "vector_case", "file": "primitives.json", "index": 0, "case": case}])
    assert ok["ok"] is True
    bad = dict(case)
    bad["digest"] = ("0" if case["digest"][0] != "0" else "1") + case["digest"][1:]
    failed, unknown = run(
        [
            {"op": "vector_case", "file": "primitives.json", "index": 0, "case": bad},
            {"op": "vector_case", "file": "unknown.json", "index": 0, "case": case},
        ]
    )
    assert failed["error"]["class"] == "CaseFailed" and failed["error"]["field"] == "digest"
    assert unknown["error"]["class"] == "Unsupported"


def test_recorded_randomness_must_be_drawn_exactly() -> None:
    adapter = sova_adapter.Adapter()
    try:
        adapter.handle({"op": "account_new", "random": "00" * 159})
        raise AssertionError("159 bytes accepted for 160")
    except sova_adapter.Failure as f:
        assert f.cls == "BadRequest"
    h = adapter.handle({"op": "account_new", "random": "11" * 160})
    again = adapter.handle({"op": "account_new", "random": "11" * 160})
    assert h["identity"] == again["identity"]


def test_fanout_ops() -> None:
    """The port as Bob's device 1, with Alice's and Bob's other devices on
    the binding's side (spec appendix A.6.9)."""
    adapter = sova_adapter.Adapter()

    def call(**req: Any) -> Dict[str, Any]:
        return adapter.handle(req)

    def refused(**req: Any) -> str:
        try:
            adapter.handle(req)
        except sova_adapter.Failure as f:
            return f.cls
        raise AssertionError(f"{req['op']} was accepted")

    def entry(device_id: int, identity_key: bytes, admin: bool = False) -> sova.DeviceEntry:
        return sova.DeviceEntry(device_id, identity_key, admin)

    port = call(op="account_new")
    port_key = bytes.fromhex(port["identity"])[:64]  # IdentityKey: IK_sig.pub || IK_dh.pub
    bob_uk, alice_uk = sova.UserKey(), sova.UserKey()
    bob_tablet, alice_phone, alice_laptop = sova.Account(), sova.Account(), sova.Account()
    bob_list = bob_uk.sign_list(1, [entry(1, port_key, True), entry(2, bob_tablet.identity_key)])
    alice_v1 = alice_uk.sign_list(
        1, [entry(1, alice_phone.identity_key, True), entry(2, alice_laptop.identity_key)]
    )
    alice_v2 = alice_uk.sign_list(2, [entry(1, alice_phone.identity_key, True)])

    def port_bundle() -> str:
        b: str = call(op="bundle", account=port["handle"], one_time_prekey=True)["bundle"]
        return b

    # device_new: the list is checked against the user key and must name the account.
    other = sova.UserKey().sign_list(1, [entry(1, port_key)])
    assert refused(op="device_new", account=port["handle"], user_key=bob_uk.public.hex(),
                   list=other.to_bytes().hex()) == "WrongUser"
    assert refused(op="device_new", account=port["handle"], user_key=bob_uk.public.hex(),
                   list=alice_v1.to_bytes().hex()) == "WrongUser"
    unlisted = bob_uk.sign_list(1, [entry(2, bob_tablet.identity_key)])
    assert refused(op="device_new", account=port["handle"], user_key=bob_uk.public.hex(),
                   list=unlisted.to_bytes().hex()) == "NotListed"
    dev = call(op="device_new", account=port["handle"], user_key=bob_uk.public.hex(),
               list=bob_list.to_bytes().hex())
    assert dev["device_id"] == 1
    h = dev["handle"]

    # device_update: a person first seen, the same list again, the own list.
    up = call(op="device_update", handle=h, user_key=alice_uk.public.hex(), list=alice_v1.to_bytes().hex())
    assert (up["outcome"], up["epoch"], up["list_hash"]) == ("accepted", 1, alice_v1.hash().hex())
    up = call(op="device_update", handle=h, user_key=alice_uk.public.hex(), list=alice_v1.to_bytes().hex())
    assert up["outcome"] == "unchanged"
    up = call(op="device_update", handle=h, user_key=bob_uk.public.hex(), list=bob_list.to_bytes().hex())
    assert (up["outcome"], up["epoch"]) == ("unchanged", 1)
    assert refused(op="device_update", handle=h, user_key=alice_uk.public.hex(),
                   list=flip(alice_v2.to_bytes()).hex()) == "InvalidSignature"
    assert refused(op="device_update", handle=port["handle"], user_key=alice_uk.public.hex(),
                   list=alice_v1.to_bytes().hex()) == "BadRequest"

    # Alice's phone and laptop send to Bob (the laptop's message is kept for later).
    def sender(account: sova.Account, device_id: int) -> Tuple[sova.PeerDevices, sova.PeerDevices]:
        own = sova.PeerDevices.own(sova.KnownUser.from_list(alice_v1), device_id)
        for d in own.needs_bundle():
            own.start(account, d, (alice_phone if d == 1 else alice_laptop).bundle())
        to_bob = sova.PeerDevices(sova.KnownUser.from_list(bob_list))
        to_bob.start(account, 1, bytes.fromhex(port_bundle()), sova.HeaderMode.PLAIN)
        to_bob.start(account, 2, bob_tablet.bundle())
        return own, to_bob

    def part_for(wire: bytes, audience: str, device_id: int) -> bytes:
        return {(a, d): m for a, d, m in sova.split_fanout(wire)}[(audience, device_id)]

    phone_self, phone_to_bob = sender(alice_phone, 1)
    wire = sova.PeerDevices.send(phone_self, phone_to_bob, b"hi Bob")
    laptop_self, laptop_to_bob = sender(alice_laptop, 2)
    late = part_for(sova.PeerDevices.send(laptop_self, laptop_to_bob, b"from the laptop"), "recipient", 1)

    mine = part_for(wire, "recipient", 1).hex()
    got = call(op="fanout_receive", handle=h, message=mine)
    assert bytes.fromhex(got["plaintext"]) == b"hi Bob"
    assert got["sender_device"] == 1 and got["recipient_list_current"] is True
    assert refused(op="fanout_receive", handle=h, message=mine) == "Pairwise(Decrypt(DuplicateOrExpired))"
    assert refused(op="fanout_receive", handle=h, message=mine[:-2]) == "Malformed(Truncated)"
    # The copy for Alice's laptop is not for Bob.
    assert refused(op="fanout_receive", handle=h, message=part_for(wire, "own", 2).hex()) == "NotForUs"

    # The port sends to Alice: a bundle for each device it has no session
    # with (Alice's phone has one, from her message).
    bundles = [
        {"audience": 0, "device_id": 1, "bundle": alice_phone.bundle().hex()},
        {"audience": 0, "device_id": 2, "bundle": alice_laptop.bundle().hex()},
        {"audience": 1, "device_id": 2, "bundle": bob_tablet.bundle().hex()},
    ]
    send = dict(op="fanout_encrypt", handle=h, recipient=alice_uk.public.hex(), header_mode="encrypted")
    assert refused(**send, plaintext="00", bundles=bundles[:2]) == "NoSession"  # Bob's tablet
    assert refused(**send, plaintext="00", bundles=[dict(bundles[0], audience=2)]) == "BadRequest"
    assert refused(**dict(send, recipient=sova.UserKey().public.hex()), plaintext="00",
                   bundles=bundles) == "UnknownUser"
    wire = bytes.fromhex(call(**send, plaintext=b"hi Alice".hex(), bundles=bundles)["message"])
    assert sorted((a, d) for a, d, _ in sova.split_fanout(wire)) == [
        ("own", 2), ("recipient", 1), ("recipient", 2)
    ]
    got_phone = phone_to_bob.receive(
        sova.KnownUser.from_list(alice_v1), alice_phone, part_for(wire, "recipient", 1)
    )
    tablet_self = sova.PeerDevices.own(sova.KnownUser.from_list(bob_list), 2)
    got_tablet = tablet_self.receive_own(bob_tablet, part_for(wire, "own", 2))
    assert got_phone.plaintext == got_tablet.plaintext == b"hi Alice"

    # A message from an unknown person is refused.
    carol_uk, carol = sova.UserKey(), sova.Account()
    carol_list = carol_uk.sign_list(1, [entry(1, carol.identity_key)])
    carol_self = sova.PeerDevices.own(sova.KnownUser.from_list(carol_list), 1)
    carol_to_bob = sova.PeerDevices(sova.KnownUser.from_list(bob_list))
    carol_to_bob.start(carol, 1, bytes.fromhex(port_bundle()))
    carol_to_bob.start(carol, 2, bob_tablet.bundle())
    from_carol = part_for(sova.PeerDevices.send(carol_self, carol_to_bob, b"hello?"), "recipient", 1)
    assert refused(op="fanout_receive", handle=h, message=from_carol.hex()) == "UnknownUser"

    # Alice removes her laptop: its message is refused, and it gets nothing more.
    up = call(op="device_update", handle=h, user_key=alice_uk.public.hex(), list=alice_v2.to_bytes().hex())
    assert (up["outcome"], up["epoch"], up["list_hash"]) == ("accepted", 2, alice_v2.hash().hex())
    assert refused(op="fanout_receive", handle=h, message=late.hex()) == "UnknownDevice"
    wire = bytes.fromhex(call(**send, plaintext=b"again".hex(), bundles=[])["message"])
    assert sorted((a, d) for a, d, _ in sova.split_fanout(wire)) == [("own", 2), ("recipient", 1)]
    got_phone = phone_to_bob.receive(
        sova.KnownUser.from_list(alice_v2), alice_phone, part_for(wire, "recipient", 1)
    )
    assert got_phone.plaintext == b"again"

    # A note to self: Bob's tablet only.
    note = dict(send, recipient=bob_uk.public.hex(), plaintext=b"note".hex(), bundles=[])
    wire = bytes.fromhex(call(**note)["message"])
    assert [(a, d) for a, d, _ in sova.split_fanout(wire)] == [("own", 2)]
    assert tablet_self.receive_own(bob_tablet, part_for(wire, "own", 2)).plaintext == b"note"

    # Bob's tablet sends to Alice: the port's copy is of kind 1.
    tablet_to_alice = sova.PeerDevices(sova.KnownUser.from_list(alice_v2))
    tablet_to_alice.start(bob_tablet, 1, alice_phone.bundle())
    wire = sova.PeerDevices.send(tablet_self, tablet_to_alice, b"from the tablet")
    got = call(op="fanout_receive", handle=h, message=part_for(wire, "own", 1).hex())
    assert bytes.fromhex(got["plaintext"]) == b"from the tablet" and got["sender_device"] == 2

    # Bob removes the port's device: it can no longer send.
    bob_v2 = bob_uk.sign_list(2, [entry(2, bob_tablet.identity_key, True)])
    call(op="device_update", handle=h, user_key=bob_uk.public.hex(), list=bob_v2.to_bytes().hex())
    assert refused(**note) == "UnknownDevice"
    assert refused(**send, plaintext="00", bundles=[]) == "UnknownDevice"

    # Without its account, the device cannot act.
    call(op="drop", handle=port["handle"])
    assert refused(**note) == "UnknownHandle"


def test_group_ops() -> None:
    """The port as Bob's device 1 in Alice's group, Alice on the binding's
    side (spec appendix A.6.10): join, chains, messages both ways, a
    change by the port, and refusals that leave the exported state as it
    was."""
    adapter = sova_adapter.Adapter()

    def call(**req: Any) -> Dict[str, Any]:
        return adapter.handle(req)

    def refused(**req: Any) -> str:
        before = call(op="group_export", handle=req["handle"]) if "handle" in req else None
        try:
            adapter.handle(req)
        except sova_adapter.Failure as f:
            if before is not None:
                assert call(op="group_export", handle=req["handle"]) == before
            return f.cls
        raise AssertionError(f"{req['op']} was accepted")

    port = call(op="account_new")
    port_key = bytes.fromhex(port["identity"])[:64]
    alice_uk, bob_uk, carol_uk = sova.UserKey(), sova.UserKey(), sova.UserKey()
    alice, carol = sova.Account(), sova.Account()

    def one(uk: sova.UserKey, key: bytes) -> sova.DeviceList:
        return uk.sign_list(1, [sova.DeviceEntry(1, key, True)])

    lists = {
        alice_uk.public: one(alice_uk, alice.identity_key),
        bob_uk.public: one(bob_uk, port_key),
        carol_uk.public: one(carol_uk, carol.identity_key),
    }
    dev = call(op="device_new", account=port["handle"], user_key=bob_uk.public.hex(),
               list=lists[bob_uk.public].to_bytes().hex())["handle"]
    for uk in (alice_uk, carol_uk):
        call(op="device_update", handle=dev, user_key=uk.public.hex(),
             list=lists[uk.public].to_bytes().hex())
    directory = [sova.KnownUser.from_list(lst) for lst in lists.values()]
    roster = [sova.Member(alice_uk.public, sova.Role.ADMIN), sova.Member(bob_uk.public)]
    ga, create = sova.Group.create(alice, alice_uk.public, 1, roster, directory)
    welcome = ga.welcome(create).hex()
    join = dict(op="group_join", device=dev, welcome=welcome, from_device=1)
    assert refused(**join, from_user=carol_uk.public.hex()) == "WrongSession"
    joined = call(**join, from_user=alice_uk.public.hex())
    assert (joined["epoch"], joined["state_hash"]) == (0, ga.state_hash.hex())
    g = joined["handle"]
    state = sova.Group.from_bytes(bytes.fromhex(call(op="group_export", handle=g)["state"]))
    assert state.state_hash == ga.state_hash

    offer = ga.start_chain(alice).hex()
    accept = dict(op="group_accept_chain", handle=g, offer=offer, from_device=1)
    assert refused(**accept, from_user=carol_uk.public.hex()) == "WrongSession"
    call(**accept, from_user=alice_uk.public.hex())
    ga.accept_chain(hazmat.fanout_received(
        bytes.fromhex(call(op="group_start_chain", handle=g)["offer"]), bob_uk.public, 1),
        directory)
    m = ga.encrypt(b"hi group")
    assert refused(op="group_decrypt", handle=g, message=flip(m).hex()) == "InvalidSignature"
    got = call(op="group_decrypt", handle=g, message=m.hex())
    assert bytes.fromhex(got["plaintext"]) == b"hi group"
    assert (got["sender_user"], got["sender_device"], got["index"]) == (alice_uk.public.hex(), 1, 0)
    assert refused(op="group_decrypt", handle=g, message=m.hex()) == "DuplicateOrExpired"
    sent = bytes.fromhex(call(op="group_encrypt", handle=g, plaintext=b"hi Alice".hex())["message"])
    assert ga.decrypt(sent, directory).plaintext == b"hi Alice"

    change = dict(op="group_change", handle=g, user=carol_uk.public.hex(), role="member")
    assert refused(**change, change="add") == "NotAuthorised"
    assert refused(**change, change="promote") == "BadRequest"
    op1 = ga.change_role(alice, sova.Member(bob_uk.public, sova.Role.ADMIN), directory)
    applied = call(op="group_apply", handle=g, operation=op1.hex())
    assert (applied["outcome"], applied["epoch"]) == ("advanced", 1)
    assert call(op="group_apply", handle=g, operation=op1.hex())["outcome"] == "unchanged"
    assert refused(op="group_encrypt", handle=g, plaintext="00") == "NoChain"
    added = call(**change, change="add")
    ga.apply(bytes.fromhex(added["operation"]), directory)
    assert added["state_hash"] == ga.state_hash.hex()
    w = bytes.fromhex(call(op="group_welcome", handle=g, operation=added["operation"])["welcome"])
    gc = sova.Group.join(carol_uk.public, 1, hazmat.fanout_received(w, bob_uk.public, 1), directory)
    assert gc.state_hash == ga.state_hash
    try:
        call(op="group_export", handle=dev)
        raise AssertionError("a device exported as a group")
    except sova_adapter.Failure as f:
        assert f.cls == "BadRequest"
    assert refused(op="group_join", device=g, welcome=welcome, from_user=alice_uk.public.hex(),
                   from_device=1) == "UnknownHandle"

    # A group the port creates: Alice joins from its welcome; changes
    # check 8 refuses leave it as it was.
    members = [dict(user=bob_uk.public.hex(), role="admin"),
               dict(user=alice_uk.public.hex(), role="member")]
    created = call(op="group_create", device=dev, members=members)
    g3 = created["handle"]
    w3 = call(op="group_welcome", handle=g3, operation=created["operation"])["welcome"]
    a3 = sova.Group.join(
        alice_uk.public, 1, hazmat.fanout_received(bytes.fromhex(w3), bob_uk.public, 1), directory)
    assert (created["epoch"], created["state_hash"]) == (0, a3.state_hash.hex())
    own = dict(op="group_change", handle=g3, user=bob_uk.public.hex())
    assert refused(**own, change="change_role", role="member") == "LastAdmin"
    assert refused(**own, change="remove") == "LastAdmin"
    assert refused(op="group_change", handle=g3, user=alice_uk.public.hex(), change="add",
                   role="member") == "AlreadyMember"
    assert refused(op="group_create", device=dev, members=members[1:]) == "NotMember"
    assert refused(op="group_create", device=dev, members="everyone") == "BadRequest"
    assert refused(op="group_create", device=g3, members=members) == "UnknownHandle"
