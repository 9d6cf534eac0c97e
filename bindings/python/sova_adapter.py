#!/usr/bin/env python3
"""A conformance adapter (spec appendix A) built on the ``sova`` Python package.

It serves the conformance protocol on standard input and output, so that the
Rust runner can check the Python binding like any other port::

    cargo run -p sova-cli -- conformance --strict \\
        --impl 'python3 bindings/python/sova_adapter.py'

Requests are parsed, objects kept by handle, operations dispatched and
errors given their classes here, in Python; every protocol operation is a
call of the binding. Operations run with the operating system's generator
unless the runner records their randomness (``random``), which goes through
:mod:`sova.hazmat`.
"""

from __future__ import annotations

import json
import sys
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

import sova
from sova import hazmat

PROTOCOL = "sova-conformance/1"
CAPABILITIES = [
    "vectors",
    "ratchet",
    "header-encryption",
    "session",
    "ratchet-state",
    "prekey-rotation",
    "safety-number",
    "recorded-randomness",
    "devices",
    "fanout",
    "groups",
]

Fields = Dict[str, Any]


class Device:
    """A device of a person (spec §11.7): the handle of its account, its own
    user's accepted list with its conversations with its other devices, and
    the persons it knows, by user key, each with their conversations."""

    def __init__(self, account: str, own: sova.PeerDevices) -> None:
        self.account = account
        self.own = own
        self.others: Dict[bytes, sova.PeerDevices] = {}


class GroupHandle:
    """A group (spec §12) of a device: the device's handle and its state."""

    def __init__(self, device: str, group: sova.Group) -> None:
        self.device = device
        self.group = group


Handled = Union[
    sova.Account, sova.Session, hazmat.Ratchet, sova.LinkRequest, Device, GroupHandle
]


class Failure(Exception):
    """A failed request: an error class, a message and optional fields."""

    def __init__(self, cls: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.cls = cls
        self.message = message
        self.extra = extra


def bad_request(message: str) -> Failure:
    return Failure("BadRequest", message)


def error_class(e: sova.SovaError) -> str:
    """The protocol's class of a library error (appendix A.5, B): its code
    with the reasons it wraps in parentheses. A session's
    ``MalformedInitialMessage`` is written ``Malformed`` there."""
    codes = list(e.codes)
    if codes and codes[0] == "MalformedInitialMessage":
        codes[0] = "Malformed"
    cls = codes.pop()
    while codes:
        cls = f"{codes.pop()}({cls})"
    return cls


def field(req: Fields, name: str) -> Any:
    if name not in req:
        raise bad_request(f"missing field `{name}`")
    return req[name]


def str_field(req: Fields, name: str) -> str:
    v = field(req, name)
    if not isinstance(v, str):
        raise bad_request(f"field `{name}` must be a string")
    return v


def hex_field(req: Fields, name: str, length: Optional[int] = None) -> bytes:
    s = str_field(req, name)
    try:
        b = bytes.fromhex(s)
    except ValueError as e:
        raise bad_request(f"field `{name}`: {e}") from None
    if length is not None and len(b) != length:
        raise bad_request(f"field `{name}`: expected {length} bytes, got {len(b)}")
    return b


def u32_field(req: Fields, name: str) -> int:
    v = field(req, name)
    if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= 0xFFFFFFFF:
        raise bad_request(f"field `{name}` must be a u32")
    n: int = v
    return n


def bool_field(req: Fields, name: str) -> bool:
    return req.get(name) is True


def header_mode(req: Fields) -> sova.HeaderMode:
    mode = str_field(req, "header_mode")
    if mode == "plain":
        return sova.HeaderMode.PLAIN
    if mode == "encrypted":
        return sova.HeaderMode.ENCRYPTED
    raise bad_request("`header_mode` must be plain or encrypted")


def recorded(req: Fields) -> Optional[hazmat.RecordedRandom]:
    """The request's recorded randomness, if it has some."""
    if "random" not in req:
        return None
    return hazmat.RecordedRandom(hex_field(req, "random"))


def check_drawn(r: Optional[hazmat.RecordedRandom]) -> None:
    """``BadRequest`` unless the operation drew exactly the recorded bytes."""
    if r is not None and not r.fully_drawn:
        raise bad_request(f"`random` holds {len(r)} bytes; the operation drew {r.drawn}")


class Adapter:
    """The objects of one run, by handle, and the operations on them."""

    def __init__(self) -> None:
        self.objects: Dict[str, Handled] = {}
        self.next = 1
        self.ops: Dict[str, Callable[[Fields], Fields]] = {
            "hello": self.hello,
            "bye": lambda req: {},
            "drop": self.drop,
            "vector_case": self.vector_case,
            "ratchet_new": self.ratchet_new,
            "encrypt": self.encrypt,
            "decrypt": self.decrypt,
            "account_new": self.account_new,
            "account_export": self.account_export,
            "session_export": self.session_export,
            "bundle": self.bundle,
            "session_start": self.session_start,
            "session_accept": self.session_accept,
            "rotate_signed_prekey": self.rotate_signed_prekey,
            "ratchet_export": self.ratchet_export,
            "ratchet_import": self.ratchet_import,
            "safety_number": self.safety_number,
            "device_list_verify": self.device_list_verify,
            "directory_update": self.directory_update,
            "link_offer": self.link_offer,
            "link_finish": self.link_finish,
            "link_approve": self.link_approve,
            "device_new": self.device_new,
            "device_update": self.device_update,
            "fanout_encrypt": self.fanout_encrypt,
            "fanout_receive": self.fanout_receive,
            "group_create": self.group_create,
            "group_join": self.group_join,
            "group_apply": self.group_apply,
            "group_change": self.group_change,
            "group_welcome": self.group_welcome,
            "group_start_chain": self.group_start_chain,
            "group_accept_chain": self.group_accept_chain,
            "group_encrypt": self.group_encrypt,
            "group_decrypt": self.group_decrypt,
            "group_export": self.group_export,
        }

    # -- handles ---------------------------------------------------------

    def insert(self, prefix: str, obj: Handled) -> str:
        h = f"{prefix}{self.next}"
        self.next += 1
        self.objects[h] = obj
        return h

    def object(self, req: Fields, name: str) -> Handled:
        h = str_field(req, name)
        try:
            return self.objects[h]
        except KeyError:
            raise Failure("UnknownHandle", f"no object {h!r}") from None

    def account(self, req: Fields) -> sova.Account:
        a = self.object(req, "account")
        if not isinstance(a, sova.Account):
            raise bad_request("`account` is not an account handle")
        return a

    def device(self, req: Fields) -> Tuple[Device, sova.Account]:
        """The device named by ``handle`` and its account."""
        d = self.object(req, "handle")
        if not isinstance(d, Device):
            raise bad_request("`handle` is not a device")
        a = self.objects.get(d.account)
        if not isinstance(a, sova.Account):
            raise Failure("UnknownHandle", f"the device's account {d.account!r} is gone")
        return d, a

    def group(self, req: Fields) -> Tuple[GroupHandle, Device, sova.Account]:
        """The group named by ``handle``, its device and the device's account."""
        g = self.object(req, "handle")
        if not isinstance(g, GroupHandle):
            raise bad_request("`handle` is not a group")
        d = self.objects.get(g.device)
        if not isinstance(d, Device):
            raise Failure("UnknownHandle", f"the group's device {g.device!r} is gone")
        a = self.objects.get(d.account)
        if not isinstance(a, sova.Account):
            raise Failure("UnknownHandle", f"the device's account {d.account!r} is gone")
        return g, d, a

    # -- dispatch --------------------------------------------------------

    def handle(self, req: Fields) -> Fields:
        op = str_field(req, "op")
        f = self.ops.get(op)
        if f is None:
            raise Failure("UnknownOp", f"unknown op {op!r}")
        try:
            return f(req)
        except sova.SovaError as e:
            raise Failure(error_class(e), str(e)) from None
        except (ValueError, TypeError, OverflowError) as e:
            raise bad_request(str(e)) from None

    # -- operations ------------------------------------------------------

    def hello(self, req: Fields) -> Fields:
        return {
            "implementation": f"sova (Python binding) {sova.__version__}",
            "protocol": PROTOCOL,
            "capabilities": CAPABILITIES,
        }

    def drop(self, req: Fields) -> Fields:
        h = str_field(req, "handle")
        if self.objects.pop(h, None) is None:
            raise Failure("UnknownHandle", f"no object {h!r}")
        return {}

    def vector_case(self, req: Fields) -> Fields:
        file = str_field(req, "file")
        case = field(req, "case")
        if not isinstance(case, dict):
            raise bad_request("missing object field `case`")
        if not hazmat.vector_file_known(file):
            raise Failure("Unsupported", f"unknown vector file {file!r}")
        doc = {"description": "", "cipher_suite": hazmat.CIPHER_SUITE, "cases": [case]}
        report = hazmat.verify_vector_file(file, json.dumps(doc).encode())
        if report.error is not None:
            raise Failure("CaseFailed", report.error)
        if not report.passed:
            raise Failure("CaseFailed", report.failure or "", field=report.failure_field or "")
        return {}

    def ratchet_new(self, req: Fields) -> Fields:
        mode = header_mode(req)
        secret = hex_field(req, "session_secret", 32)
        ad = hex_field(req, "session_ad")
        role = str_field(req, "role")
        if role == "initiator":
            r = hazmat.Ratchet.initiator(secret, hex_field(req, "their_ratchet_public", 32), ad, mode)
        elif role == "responder":
            r = hazmat.Ratchet.responder(secret, hex_field(req, "our_ratchet_private", 32), ad, mode)
        else:
            raise bad_request(f"unknown role {role!r}")
        return {"handle": self.insert("ratchet-", r)}

    def encrypt(self, req: Fields) -> Fields:
        plaintext = hex_field(req, "plaintext")
        obj = self.object(req, "handle")
        rng = recorded(req)
        if isinstance(obj, hazmat.Ratchet):
            m = obj.encrypt(plaintext, rng)
        elif isinstance(obj, sova.Session):
            m = obj.encrypt(plaintext) if rng is None else hazmat.session_encrypt(obj, rng, plaintext)
        else:
            raise bad_request("cannot encrypt with this handle")
        check_drawn(rng)
        return {"message": m.hex()}

    def decrypt(self, req: Fields) -> Fields:
        message = hex_field(req, "message")
        obj = self.object(req, "handle")
        if isinstance(obj, hazmat.Ratchet):
            plaintext = obj.decrypt(message)
        elif isinstance(obj, sova.Session):
            plaintext = obj.decrypt(message).plaintext
        else:
            raise bad_request(
                "only ratchets and sessions decrypt; an account accepts initial "
                "messages with session_accept"
            )
        return {"plaintext": plaintext.hex()}

    def account_new(self, req: Fields) -> Fields:
        rng = recorded(req)
        a = sova.Account() if rng is None else hazmat.account_new(rng)
        check_drawn(rng)
        return {"handle": self.insert("account-", a), "identity": a.identity.hex()}

    def account_export(self, req: Fields) -> Fields:
        return {"state": self.account(req).to_bytes().hex()}

    def session_export(self, req: Fields) -> Fields:
        s = self.object(req, "handle")
        if not isinstance(s, sova.Session):
            raise bad_request("`handle` is not a session")
        return {"state": s.to_bytes().hex()}

    def bundle(self, req: Fields) -> Fields:
        rng = recorded(req)
        account = self.account(req)
        opk: Optional[int] = None
        kem: Optional[int] = None
        if bool_field(req, "one_time_prekey"):
            ids = (
                account.generate_one_time_prekeys(1)
                if rng is None
                else hazmat.generate_one_time_prekeys(account, rng, 1)
            )
            opk = ids[0]
        if bool_field(req, "kem_one_time_prekey"):
            ids = (
                account.generate_kem_one_time_prekeys(1)
                if rng is None
                else hazmat.generate_kem_one_time_prekeys(account, rng, 1)
            )
            kem = ids[0]
        b = account.bundle(opk, kem)
        check_drawn(rng)
        return {"bundle": b.hex()}

    def session_start(self, req: Fields) -> Fields:
        mode = header_mode(req)
        bundle = hex_field(req, "bundle")
        rng = recorded(req)
        account = self.account(req)
        if rng is None:
            s = sova.Session.start_unverified(account, bundle, mode)
        else:
            s = hazmat.session_start(account, rng, None, bundle, mode)
        check_drawn(rng)
        return {"handle": self.insert("session-", s), "session_id": s.session_id.hex()}

    def session_accept(self, req: Fields) -> Fields:
        message = hex_field(req, "message")
        s, plaintext = self.account(req).accept_unverified(message)
        return {
            "handle": self.insert("session-", s),
            "session_id": s.session_id.hex(),
            "plaintext": plaintext.hex(),
        }

    def rotate_signed_prekey(self, req: Fields) -> Fields:
        return {"spk_id": self.account(req).rotate_signed_prekey()}

    def ratchet_export(self, req: Fields) -> Fields:
        r = self.object(req, "handle")
        if not isinstance(r, hazmat.Ratchet):
            raise bad_request("`handle` is not a ratchet")
        return {"state": r.to_bytes().hex()}

    def ratchet_import(self, req: Fields) -> Fields:
        r = hazmat.Ratchet.from_bytes(hex_field(req, "state"))
        return {"handle": self.insert("ratchet-", r)}

    def safety_number(self, req: Fields) -> Fields:
        n = sova.SafetyNumber(hex_field(req, "ours", 64), hex_field(req, "theirs", 64))
        return {"safety_number": n.display()}

    def device_list_verify(self, req: Fields) -> Fields:
        user = hex_field(req, "expected_user", 32)
        lst = sova.DeviceList.verify(hex_field(req, "list"), user)
        return {"epoch": lst.epoch, "list_hash": lst.hash().hex()}

    def directory_update(self, req: Fields) -> Fields:
        user = hex_field(req, "user_key", 32)
        known = sova.DeviceList.verify(hex_field(req, "known"), user)
        offered = hex_field(req, "list")
        # The offered list is checked on its own first, as a directory
        # would before comparing it with what it holds.
        sova.DeviceList.verify(offered, user)
        k = sova.KnownUser.from_list(known)
        change = k.update(offered)
        return {
            "outcome": "accepted" if change.accepted else "unchanged",
            "epoch": k.list.epoch,
            "list_hash": k.list_hash.hex(),
        }

    def link_offer(self, req: Fields) -> Fields:
        request = sova.LinkRequest(sova.Account())
        return {"handle": self.insert("link", request), "offer": request.offer.hex()}

    def link_finish(self, req: Fields) -> Fields:
        response = hex_field(req, "response")
        request = self.object(req, "handle")
        if not isinstance(request, sova.LinkRequest):
            raise bad_request("`handle` is not a link request")
        linked = request.finish(response)
        return {
            "device_id": linked.device_id,
            "list": linked.user.list.to_bytes().hex(),
            "admin": linked.user_key is not None,
            "data": linked.data.hex(),
            "code": linked.code,
        }

    def link_approve(self, req: Fields) -> Fields:
        uk = sova.UserKey.from_seed(hex_field(req, "user_key_seed", 32))
        current = sova.DeviceList.verify(hex_field(req, "current_list"), uk.public)
        approval = sova.approve_link(
            uk,
            sova.KnownUser.from_list(current),
            hex_field(req, "offer"),
            bool_field(req, "admin"),
            hex_field(req, "data"),
        )
        return {
            "device_id": approval.device_id,
            "list": approval.list.to_bytes().hex(),
            "response": approval.response.hex(),
            "code": approval.code,
        }

    def device_new(self, req: Fields) -> Fields:
        """A device of the user ``user_key`` whose account is ``account`` and
        whose own user's accepted list is ``list``; its id is that of the
        entry listing the account's identity."""
        user = hex_field(req, "user_key", 32)
        lst = sova.DeviceList.verify(hex_field(req, "list"), user)
        account = str_field(req, "account")
        identity = self.account(req).identity_key
        ids = [e.device_id for e in lst.entries if e.identity == identity]
        if not ids:
            raise Failure("NotListed", "the list does not name the account")
        own = sova.PeerDevices.own(sova.KnownUser.from_list(lst), ids[0])
        return {"handle": self.insert("device-", Device(account, own)), "device_id": ids[0]}

    def device_update(self, req: Fields) -> Fields:
        """Offers ``list`` of the person ``user_key`` to the device: its own
        user, a person it knows, or a person first seen (accepted at any
        epoch). An accepted list drops the conversations with the devices it
        removes."""
        user = hex_field(req, "user_key", 32)
        lst = hex_field(req, "list")
        d, _ = self.device(req)
        peer = d.own if user == d.own.user.user_key else d.others.get(user)
        if peer is None:
            peer = sova.PeerDevices(sova.KnownUser(user, lst))
            d.others[user] = peer
            accepted = True
        else:
            accepted = peer.update(lst).accepted
        known = peer.user
        return {
            "outcome": "accepted" if accepted else "unchanged",
            "epoch": known.list.epoch,
            "list_hash": known.list_hash.hex(),
        }

    def fanout_encrypt(self, req: Fields) -> Fields:
        """Starts a session from the given bundles with every listed device
        that has none, then encrypts one fan-out message to the person
        ``recipient`` and to the device's own other devices (only to them
        for a note to self)."""
        recipient = hex_field(req, "recipient", 32)
        plaintext = hex_field(req, "plaintext")
        mode = header_mode(req)
        entries = field(req, "bundles")
        if not isinstance(entries, list):
            raise bad_request("`bundles` must be an array")
        bundles: Dict[Tuple[int, int], bytes] = {}
        for b in entries:
            if not isinstance(b, dict):
                raise bad_request("a bundle must be an object")
            audience = u32_field(b, "audience")
            if audience not in (0, 1):
                raise bad_request("`audience` must be 0 or 1")
            bundles.setdefault((audience, u32_field(b, "device_id")), hex_field(b, "bundle"))
        d, account = self.device(req)

        def start(peer: sova.PeerDevices, audience: int) -> None:
            for device_id in peer.needs_bundle():
                bundle = bundles.get((audience, device_id))
                if bundle is None:
                    raise Failure("NoSession", f"no session with device {device_id}")
                peer.start(account, device_id, bundle, mode)

        start(d.own, 1)
        if recipient == d.own.user.user_key:
            message = d.own.send_to_self(plaintext)
        else:
            peer = d.others.get(recipient)
            if peer is None:
                raise Failure("UnknownUser", "no person with this user key is known")
            start(peer, 0)
            message = sova.PeerDevices.send(d.own, peer, plaintext)
        return {"message": message.hex()}

    def fanout_receive(self, req: Fields) -> Fields:
        """A device message from the device's own user or a person it knows,
        found by the sender's user key in the message's header."""
        message = hex_field(req, "message")
        d, account = self.device(req)
        sender = sova.DeviceMessage.parse(message).sender_user
        if sender == d.own.user.user_key:
            got = d.own.receive_own(account, message)
        else:
            peer = d.others.get(sender)
            if peer is None:
                raise Failure("UnknownUser", "the sender is not a person this device knows")
            got = peer.receive(d.own.user, account, message)
        return {
            "plaintext": got.plaintext.hex(),
            "sender_device": got.sender_device,
            "recipient_list_current": got.recipient_list_current,
        }


    # -- groups (spec §12) -----------------------------------------------

    def carried(self, req: Fields, device: str, name: str) -> Tuple[bytes, bytes, int]:
        """A welcome or chain offer and the sender that carried it: with
        ``message``, a device message to ``device`` received as
        ``fanout_receive`` does, its plaintext and the fan-out's sender;
        otherwise the field ``name`` and the sender the request names."""
        if "message" not in req:
            from_user = hex_field(req, "from_user", 32)
            return hex_field(req, name), from_user, u32_field(req, "from_device")
        message = hex_field(req, "message")
        got = self.fanout_receive({"handle": device, "message": message.hex()})
        sender = sova.DeviceMessage.parse(message).sender_user
        return bytes.fromhex(got["plaintext"]), sender, int(got["sender_device"])

    def group_create(self, req: Fields) -> Fields:
        """The device ``device`` creates a group of ``members`` (objects
        with ``user`` and ``role``), its own user among them as an admin."""
        device = str_field(req, "device")
        members = field(req, "members")
        if not isinstance(members, list) or not all(isinstance(m, dict) for m in members):
            raise bad_request("`members` must be an array of objects")
        roster = [sova.Member(hex_field(m, "user", 32), role_field(m)) for m in members]
        d = self.objects.get(device)
        if not isinstance(d, Device):
            raise Failure("UnknownHandle", f"no device {device!r}")
        account = self.objects.get(d.account)
        if not isinstance(account, sova.Account):
            raise Failure("UnknownHandle", f"the device's account {d.account!r} is gone")
        own_device = d.own.this_device
        if own_device is None:
            raise Failure("UnknownDevice", "the device is not in its user's list")
        g, op = sova.Group.create(account, d.own.user.user_key, own_device, roster, directory(d))
        handle = self.insert("group-", GroupHandle(device, g))
        return dict(position(g), handle=handle, operation=op.hex())

    def group_join(self, req: Fields) -> Fields:
        """The device ``device`` joins from a welcome, checked against the
        fan-out sender that carried it."""
        device = str_field(req, "device")
        d = self.objects.get(device)
        if not isinstance(d, Device):
            raise Failure("UnknownHandle", f"no device {device!r}")
        welcome, from_user, from_device = self.carried(req, device, "welcome")
        own_device = d.own.this_device
        if own_device is None:
            raise Failure("UnknownDevice", "the device is not in its user's list")
        carried = hazmat.fanout_received(welcome, from_user, from_device)
        g = sova.Group.join(d.own.user.user_key, own_device, carried, directory(d))
        return dict(position(g), handle=self.insert("group-", GroupHandle(device, g)))

    def group_apply(self, req: Fields) -> Fields:
        operation = hex_field(req, "operation")
        g, d, _ = self.group(req)
        outcome = g.group.apply(operation, directory(d))
        return dict(position(g.group), outcome=outcome)

    def group_change(self, req: Fields) -> Fields:
        """Signs an add, removal or change of role at the next epoch and
        applies it."""
        user = hex_field(req, "user", 32)
        change = str_field(req, "change")
        g, d, account = self.group(req)
        if change == "add":
            op = g.group.add(account, sova.Member(user, role_field(req)), directory(d))
        elif change == "remove":
            op = g.group.remove(account, user, directory(d))
        elif change == "change_role":
            op = g.group.change_role(account, sova.Member(user, role_field(req)), directory(d))
        else:
            raise bad_request(f"`change` must be add, remove or change_role, not {change!r}")
        return dict(position(g.group), operation=op.hex())

    def group_welcome(self, req: Fields) -> Fields:
        operation = hex_field(req, "operation")
        g, _, _ = self.group(req)
        return {"welcome": g.group.welcome(operation).hex()}

    def group_start_chain(self, req: Fields) -> Fields:
        g, _, account = self.group(req)
        return {"offer": g.group.start_chain(account).hex()}

    def group_accept_chain(self, req: Fields) -> Fields:
        g, d, _ = self.group(req)
        offer, from_user, from_device = self.carried(req, g.device, "offer")
        g.group.accept_chain(hazmat.fanout_received(offer, from_user, from_device), directory(d))
        return {}

    def group_encrypt(self, req: Fields) -> Fields:
        plaintext = hex_field(req, "plaintext")
        g, _, _ = self.group(req)
        return {"message": g.group.encrypt(plaintext).hex()}

    def group_decrypt(self, req: Fields) -> Fields:
        message = hex_field(req, "message")
        g, d, _ = self.group(req)
        got = g.group.decrypt(message, directory(d))
        return {
            "plaintext": got.plaintext.hex(),
            "sender_user": got.sender_user.hex(),
            "sender_device": got.sender_device,
            "index": got.index,
        }

    def group_export(self, req: Fields) -> Fields:
        g, _, _ = self.group(req)
        return {"state": g.group.to_bytes().hex()}


def directory(d: Device) -> List[sova.KnownUser]:
    """The accepted lists a device holds, its own user's first: the
    directory its groups look members' devices up in."""
    return [d.own.user] + [p.user for p in d.others.values()]


def position(g: sova.Group) -> Fields:
    return {"epoch": g.epoch, "state_hash": g.state_hash.hex()}


def role_field(req: Fields) -> sova.Role:
    role = str_field(req, "role")
    if role == "member":
        return sova.Role.MEMBER
    if role == "admin":
        return sova.Role.ADMIN
    raise bad_request(f"`role` must be member or admin, not {role!r}")


def respond(rid: Any, result: Union[Fields, Failure]) -> str:
    if isinstance(result, Failure):
        error: Fields = {"class": result.cls, "message": result.message}
        error.update(result.extra)
        return json.dumps({"id": rid, "ok": False, "error": error})
    out: Fields = {"id": rid, "ok": True}
    out.update(result)
    return json.dumps(out)


def serve(lines: Any, out: Any) -> None:
    """Answers requests read from ``lines`` until ``bye`` or the end of input."""
    adapter = Adapter()
    for line in lines:
        if not line.strip():
            continue
        rid: Any = None
        bye = False
        result: Union[Fields, Failure]
        try:
            req = json.loads(line)
            if not isinstance(req, dict):
                raise bad_request("a request must be a JSON object")
            rid = req.get("id")
            bye = req.get("op") == "bye"
            result = adapter.handle(req)
        except Failure as f:
            result = f
        except json.JSONDecodeError as e:
            result = bad_request(f"invalid JSON: {e}")
        out.write(respond(rid, result) + "\n")
        out.flush()
        if bye:
            break


def main() -> None:
    serve(sys.stdin, sys.stdout)


if __name__ == "__main__":
    main()
