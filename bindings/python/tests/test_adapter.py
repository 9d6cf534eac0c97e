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
from typing import Any, Dict, List

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sova  # noqa: E402
import sova_adapter  # noqa: E402

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
