"""The worked examples of the specification, checked before the files."""

from .common import *  # noqa: F401,F403
from .primitives import *  # noqa: F401,F403
from .ratchet import *  # noqa: F401,F403
from .safety import *  # noqa: F401,F403


# ---------------------------------------------------------------------------
# Spec examples (§2.4, §3.7, §5.4, §10.8), checked before the files
# ---------------------------------------------------------------------------


def check_spec_examples() -> List[str]:
    failures = []

    def expect(what, got, want):
        if got != want:
            failures.append(f"{what}: spec says {want!r}, computed {got!r}")

    ex, abc, key = b"example", b"abc", bytes(range(32))
    expect("§2.4 EncodeLabel(root)", encode_label(b"root").hex(), "0b534f56412d3120726f6f74")
    expect("§3.7 EncodeLabel", encode_label(ex).hex(), "0e534f56412d31206578616d706c65")
    expect(
        "§3.7 LabeledHash",
        labeled_hash(ex, abc).hex(),
        "31e7f85c038c796594a61aeeb7d7b0db4c9d6572925c133bf693f07eae25b306",
    )
    expect(
        "§3.7 LabeledMac",
        labeled_mac(key, ex, abc).hex(),
        "5c32cac7153448c1accfa99caeb87c6a65aeedf39814e547d5cf54d11f7f8e04",
    )
    prk = labeled_extract(b"", ex, abc)
    expect(
        "§3.7 LabeledExtract",
        prk.hex(),
        "8c3ab19f4fb069e742c077eb750c5ef1b590427f3ea5b531367334eb4a713bf8",
    )
    expect(
        "§3.7 LabeledExpand",
        labeled_expand(prk, ex, b"ctx", 42).hex(),
        "c77adeb112367ecd3b785cbdfde799c9971bb18b1a37b0035e038b5499bfb28a76efcf3bd915f4f07a60",
    )
    for length, want in [(0, 32), (31, 32), (32, 36), (99, 104), (1000, 1024), (1024, 1088),
                         (2**20 - 1, 2**20)]:
        expect(f"§5.4 PaddedLen({length})", padded_len(length), want)

    alice = h(
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
        "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"
    )
    bob = h(
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c"
        "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"
    )
    expect("§10.3 first input length", len(fingerprint_steps(alice, 0) + alice), 151)
    for who, identity, steps in [
        ("Alice", alice, {
            1: "bc9df7ca70034f3b0bc615c5f1b908dbd7f124a619eb67645db6f8b6db2da372"
               "d2ed98961db2cf3157b472bb8e7f58015570a63e5c999fdebacf3f540ba2943b",
            2: "3cf15ec67b5e608999685300003a8bd3e27d5c047d680a031957be551a86c9d2"
               "6671394b23300db16ad4af061dc5e84f772e2335c64c2ef4eee74895a266fdca",
            5200: "5644815fb98f63f3d740119b141e16c484aaded1d21670878851f67f4c4c9007"
                  "0d364da8499a4229dee86bc878108ca8af641fa09c2c33a14a6d150459bda6fc",
        }),
        ("Bob", bob, {
            1: "dc716dff1e54532877d6483bcf8b9661261bae3f6f01f38ae8a5448cffafe80b"
               "a3643c3135280ee3b4cca1785d402ebd06ea72fb60a093df617d6ac2f09fc0e8",
            2: "2a9205cc73f864c91d89515e6fde363e30638823a4b90a0e3d6705dab7bd1b62"
               "e7522a75682bc1e4d960ca5326372c057bd06d3c57818b0b3c9056902ba06433",
            5200: "228969974793696e42d799a22b3ee0fa49e07dcc3182621f14dc1eeec91f9b63"
                  "717f096959c622a5e4d7418231933dd9bba70de5cc32f844a3d82fa1779f0b42",
        }),
    ]:
        for n, want in steps.items():
            got = fingerprint(identity) if n == ITERATIONS else fingerprint_steps(identity, n)
            expect(f"§10.8 {who} h_{n}", got.hex(), want)
    expect("§10.8 Digits(FP_B)", digits(fingerprint(bob)), "866632626339424730366606870655")
    expect("§10.8 Digits(FP_A)", digits(fingerprint(alice)), "167934806430934806890564088716")
    shown = "86663 26263 39424 73036 66068 70655 16793 48064 30934 80689 05640 88716"
    for ours, theirs in [(alice, bob), (bob, alice)]:
        expect("§10.5 displayed safety number", display(safety_number(ours, theirs)), shown)
    expect(
        "§10.8 QR payload displayed by Alice",
        qr_payload(alice, bob).hex(),
        "025644815fb98f63f3d740119b141e16c484aaded1d21670878851f67f4c4c9007"
        "228969974793696e42d799a22b3ee0fa49e07dcc3182621f14dc1eeec91f9b63",
    )
    expect(
        "§10.8 QR payload displayed by Bob",
        qr_payload(bob, alice).hex(),
        "02228969974793696e42d799a22b3ee0fa49e07dcc3182621f14dc1eeec91f9b63"
        "5644815fb98f63f3d740119b141e16c484aaded1d21670878851f67f4c4c9007",
    )
    for who, ours, theirs, payload, want in [
        ("Bob scanning Alice's code", bob, alice, qr_payload(alice, bob), "ok"),
        ("Alice scanning Bob's code", alice, bob, qr_payload(bob, alice), "ok"),
        ("Alice scanning her own code", alice, bob, qr_payload(alice, bob), "QrOwnCode"),
        ("Bob scanning his own code", bob, alice, qr_payload(bob, alice), "QrOwnCode"),
    ]:
        expect(f"§10.8 {who}", verify_scanned(ours, theirs, payload), want)
    return failures
