"""The command line: which files exist, which checker reads each, the report."""

from .common import *  # noqa: F401,F403
from .common import KYBER
from .primitives import check_building_block, check_primitive, kem_self_test
from .ratchet import check_ratchet_kdf, check_rejection, check_transcript
from .session import check_handshake, check_handshake_negative
from .safety import check_safety_number
from .limits import check_limits
from .states import check_state_encoding
from .prekeys import check_prekey_upload
from .devices import check_devices
from .groups import check_groups
from .examples import check_spec_examples
from .ed25519 import check_ed25519_strict, demonstrate_lax_verifier


# ---------------------------------------------------------------------------
# Driver
# ---------------------------------------------------------------------------

CHECKERS = {
    "primitives.json": check_primitive,
    "building-blocks.json": check_building_block,
    "ratchet-kdf.json": check_ratchet_kdf,
    "ratchet-transcripts.json": check_transcript,
    "ratchet-negative.json": check_rejection,
    "ratchet-limits.json": check_limits,
    "safety-numbers.json": check_safety_number,
    "handshake.json": check_handshake,
    "handshake-negative.json": check_handshake_negative,
    "ed25519-strict.json": check_ed25519_strict,
    "state-encodings.json": check_state_encoding,
    "prekey-upload.json": check_prekey_upload,
    "devices.json": check_devices,
    "groups.json": check_groups,
}

# The files that need ML-KEM-768 (kyber-py).
KEM_FILES = ("primitives.json", "handshake.json", "handshake-negative.json",
             "ed25519-strict.json", "state-encodings.json", "prekey-upload.json", "devices.json")

USAGE = "usage: python3 tools/check_vectors.py [--require-all] [DIR | FILE...]\n"


def check_file(path: str) -> bool:
    name = os.path.basename(path)
    checker = CHECKERS[name]
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        print(f"FAIL {name}: cannot read: {e}")
        return False
    if set(doc) != {"description", "cipher_suite", "cases"} or doc["cipher_suite"] != "SOVA-1":
        print(f"FAIL {name}: top level is not {{description, cipher_suite: SOVA-1, cases}}")
        return False
    failed = 0
    for i, case in enumerate(doc["cases"]):
        kind = case.get("kind", "?")
        desc = f" {case['description']}" if "description" in case else ""
        try:
            checker(case)
            print(f"ok   {name} case {i} ({kind}){desc}")
        except Mismatch as e:
            failed += 1
            print(f"FAIL {name} case {i} ({kind}){desc}: {e}")
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as e:
            # A missing field, a wrong type, bad hex, or a defect of this checker.
            failed += 1
            print(f"FAIL {name} case {i} ({kind}): cannot check: {type(e).__name__}: {e}")
    total = len(doc["cases"])
    status = "ok  " if failed == 0 else "FAIL"
    print(f"{status} {name}: {total - failed}/{total} cases passed")
    return failed == 0


def kem_unavailable() -> Optional[str]:
    """Why ML-KEM-768 cannot be trusted here, or None."""
    if KYBER is None:
        return "the Python package 'kyber-py' is not installed"
    problems = kem_self_test()
    if problems:
        return "kyber-py fails its known-answer test: " + "; ".join(problems)
    return None


def main(argv: List[str], doc: str) -> int:
    args = argv[1:]
    if any(a in ("-h", "--help") for a in args):
        print(doc.strip())
        return 0
    require_all = "--require-all" in args
    args = [a for a in args if a != "--require-all"]
    if not args:
        args = [os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "test-vectors")]
    paths = []
    for arg in args:
        if os.path.isdir(arg):
            paths += [os.path.join(arg, name) for name in CHECKERS]
        elif os.path.isfile(arg) and os.path.basename(arg) in CHECKERS:
            paths.append(arg)
        else:
            sys.stderr.write(
                f"check_vectors.py: '{arg}' is neither a directory nor one of {list(CHECKERS)}\n"
                + USAGE
            )
            return 2

    no_kem = None
    kem_files = [os.path.basename(p) for p in paths if os.path.basename(p) in KEM_FILES]
    if kem_files:
        no_kem = kem_unavailable()
        if no_kem:
            print(f"NOTE ML-KEM-768 unavailable: {no_kem}; skipping {', '.join(kem_files)}")
            if KYBER is None:
                print("     install it with: python3 -m pip install kyber-py==1.2.0")
    ok, skipped = True, []
    for failure in check_spec_examples():
        print(f"FAIL spec example {failure}")
        ok = False
    for path in paths:
        name = os.path.basename(path)
        if no_kem and name in KEM_FILES:
            print(f"skip {name}: needs ML-KEM-768")
            skipped.append(name)
            continue
        if not os.path.isfile(path):
            print(f"FAIL {name}: missing ({path})")
            ok = False
            continue
        passed = check_file(path)
        ok = passed and ok
        if passed and name == "ed25519-strict.json":
            demonstrate_lax_verifier(path)
    if not ok:
        print("some vectors FAILED")
        return 1
    if skipped:
        print(f"all checked vectors passed; skipped {', '.join(skipped)}")
        if require_all:
            sys.stderr.write(f"check_vectors.py: --require-all, but {no_kem}\n")
            return 2
        return 0
    print("all vectors passed")
    return 0
