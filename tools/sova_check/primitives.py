"""§3.2–§3.7: the primitives, ML-KEM-768 and the labelled building blocks;
the checks of primitives.json (§4.2) and building-blocks.json (§4.3)."""

from .common import *  # noqa: F401,F403
from .common import KYBER


# ---------------------------------------------------------------------------
# §3.2–§3.5 primitives
# ---------------------------------------------------------------------------


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def hmac_sha256(key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, hashlib.sha256).digest()


def hkdf_extract(salt: bytes, ikm: bytes) -> bytes:
    return hmac_sha256(salt, ikm)


def hkdf_expand(prk: bytes, info: bytes, n: int) -> bytes:
    if n > 255 * 32:
        raise ValueError("KdfOutputTooLong")
    t, out, i = b"", b"", 1
    while len(out) < n:
        t = hmac_sha256(prk, t + info + u8(i))
        out += t
        i += 1
    return out[:n]


def raw_public(private_key) -> bytes:
    return private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def x25519_public(private: bytes) -> bytes:
    return raw_public(X25519PrivateKey.from_private_bytes(private))


def dh(private: bytes, public: bytes) -> Optional[bytes]:
    """X25519 with the all-zero check of §3.2; None stands for the abort."""
    try:
        out = X25519PrivateKey.from_private_bytes(private).exchange(
            X25519PublicKey.from_public_bytes(public)
        )
    except ValueError:  # OpenSSL refuses an all-zero shared secret itself
        return None
    return None if out == bytes(32) else out


def aead_seal(key: bytes, nonce: bytes, aad: bytes, plaintext: bytes) -> bytes:
    """ChaCha20-Poly1305 (§3.4): returns ciphertext || tag."""
    return ChaCha20Poly1305(key).encrypt(nonce, plaintext, aad)


def aead_open(key: bytes, nonce: bytes, aad: bytes, sealed: bytes) -> Optional[bytes]:
    """ChaCha20-Poly1305 open of ciphertext || tag; None stands for AeadAuthentication."""
    try:
        return ChaCha20Poly1305(key).decrypt(nonce, sealed, aad)
    except InvalidTag:
        return None


def sha512(data: bytes) -> bytes:
    return hashlib.sha512(data).digest()


# §3.3 strict verification, written out from the pseudocode of §3.3 with
# integer arithmetic on the twisted Edwards curve -x^2 + y^2 = 1 + d x^2 y^2
# (extended coordinates). Nothing of it comes from a library: the `cryptography`
# package's verifier (OpenSSL's) does not apply rule 3, and check_ed25519_strict
# shows which cases of ed25519-strict.json it therefore accepts.

ED_P = 2**255 - 19
ED_L = 2**252 + 27742317777372353535851937790883648493
ED_D = (-121665 * pow(121666, ED_P - 2, ED_P)) % ED_P


def _sqrt_mod_p(a: int) -> Optional[int]:
    """A square root modulo p = 2^255 - 19 (p = 5 mod 8), or None."""
    a %= ED_P
    x = pow(a, (ED_P + 3) // 8, ED_P)
    if x * x % ED_P != a:
        x = x * pow(2, (ED_P - 1) // 4, ED_P) % ED_P
    return x if x * x % ED_P == a else None


def _small_order_ys() -> frozenset:
    # Order 1: y = 1; order 2: y = -1; order 4: y = 0. A point of order 8
    # doubles to one of order 4 (y = 0), which on -x^2 + y^2 = 1 + d x^2 y^2
    # means x^2 = -y^2, so d y^4 + 2 y^2 - 1 = 0.
    ys = {0, 1, ED_P - 1}
    root = _sqrt_mod_p(1 + ED_D)
    inv_d = pow(ED_D, ED_P - 2, ED_P)
    for sign in (1, -1):
        y = _sqrt_mod_p((-1 + sign * root) * inv_d)
        if y is not None:
            ys.update({y, ED_P - y})
    return frozenset(ys)


ED_SMALL_ORDER_YS = _small_order_ys()


EdPoint = Tuple[int, int, int, int]  # extended coordinates (X, Y, Z, T), x = X/Z, y = Y/Z
ED_NEUTRAL: EdPoint = (0, 1, 1, 0)


def ed_add(p1: EdPoint, p2: EdPoint) -> EdPoint:
    """Point addition on the curve with a = -1 (complete formulas)."""
    x1, y1, z1, t1 = p1
    x2, y2, z2, t2 = p2
    a = (y1 - x1) * (y2 - x2) % ED_P
    b = (y1 + x1) * (y2 + x2) % ED_P
    c = 2 * ED_D * t1 * t2 % ED_P
    d = 2 * z1 * z2 % ED_P
    e, f, g, hh = b - a, d - c, d + c, b + a
    return (e * f % ED_P, g * hh % ED_P, f * g % ED_P, e * hh % ED_P)


def ed_mul(n: int, point: EdPoint) -> EdPoint:
    acc = ED_NEUTRAL
    for bit in bin(n)[2:] if n > 0 else "":
        acc = ed_add(acc, acc)
        if bit == "1":
            acc = ed_add(acc, point)
    return acc


def ed_neg(point: EdPoint) -> EdPoint:
    x, y, z, t = point
    return ((-x) % ED_P, y, z, (-t) % ED_P)


def decode_point(b: bytes) -> Optional[EdPoint]:
    """DecodePoint of §3.3, with its two relaxations."""
    x0 = b[31] >> 7
    y = (int.from_bytes(b, "little") % 2**255) % ED_P  # (*) y >= p accepted
    u = (y * y - 1) % ED_P
    v = (ED_D * y * y + 1) % ED_P
    x = _sqrt_mod_p(u * pow(v, ED_P - 2, ED_P))
    if x is None:
        return None
    if x % 2 != 0:
        x = ED_P - x
    if x0 == 1:
        x = (ED_P - x) % ED_P  # (*) x = 0 with x0 = 1 accepted
    return (x, y, 1, x * y % ED_P)


def encode_point(point: EdPoint) -> bytes:
    x, y, z, _ = point
    zi = pow(z, ED_P - 2, ED_P)
    x, y = x * zi % ED_P, y * zi % ED_P
    return (y | (x & 1) << 255).to_bytes(32, "little")


ED_B = decode_point((4 * pow(5, ED_P - 2, ED_P) % ED_P).to_bytes(32, "little"))


def ed_has_small_order(point: EdPoint) -> bool:
    """[8]P is the neutral element; cross-checked against the five y values."""
    small = encode_point(ed_mul(8, point)) == encode_point(ED_NEUTRAL)
    y = point[1] * pow(point[2], ED_P - 2, ED_P) % ED_P
    if small != (y in ED_SMALL_ORDER_YS):
        raise ValueError("the small-order tests of §3.3 disagree")
    return small


def ed25519_verify_strict(public: bytes, msg: bytes, sig: bytes) -> bool:
    """Ed25519-VerifyStrict of §3.3, step by step."""
    if len(public) != 32 or len(sig) != 64:
        return False
    r_bytes, s = sig[:32], int.from_bytes(sig[32:], "little")
    if s >= ED_L:  # rule 1
        return False
    a, r = decode_point(public), decode_point(r_bytes)
    if a is None or r is None:  # rule 2
        return False
    if ed_has_small_order(a) or ed_has_small_order(r):  # rule 3
        return False
    k = int.from_bytes(sha512(r_bytes + public + msg), "little") % ED_L  # rule 5
    check = ed_add(ed_mul(s, ED_B), ed_neg(ed_mul(k, a)))
    return encode_point(check) == r_bytes  # rule 4


def ed25519_verify_lax(public: bytes, msg: bytes, sig: bytes) -> bool:
    """The `cryptography` package's verifier (OpenSSL's RFC 8032 verification), for
    the demonstration of check_ed25519_strict only: it is not §3.3."""
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(sig, msg)
        return True
    except (InvalidSignature, ValueError):
        return False


# The verifier LabeledVerify uses; check_ed25519_strict swaps in the lax one
# for its demonstration.
ED25519_VERIFIER = [ed25519_verify_strict]


# §3.6 ML-KEM-768, from kyber-py's deterministic internal algorithms.

KEM_Q = 3329
KEM_EK_LEN, KEM_DK_LEN, KEM_CT_LEN = 1184, 2400, 1088


class KemInvalidKey(Exception):
    """InvalidKemPublicKey of §3.6."""


def kem_modulus_check(ek: bytes) -> bool:
    """ByteEncode_12(ByteDecode_12(t)) == t: every 12-bit coefficient of t < q."""
    t = ek[0:1152]
    for i in range(0, len(t), 3):
        b0, b1, b2 = t[i], t[i + 1], t[i + 2]
        if (b0 | (b1 & 0x0F) << 8) >= KEM_Q or (b1 >> 4 | b2 << 4) >= KEM_Q:
            return False
    return True


@functools.lru_cache(maxsize=None)
def kem_keygen(seed: bytes) -> Tuple[bytes, bytes]:
    """KemKeyGen: KeyGen_internal(d = seed[0..32], z = seed[32..64]) -> (ek, dk)."""
    ek, dk = KYBER._keygen_internal(seed[0:32], seed[32:64])
    return ek, dk


def kem_encaps(ek: bytes, m: bytes) -> Tuple[bytes, bytes]:
    """KemEncaps -> (ct, ss); the modulus check first (§3.6)."""
    if len(ek) != KEM_EK_LEN or not kem_modulus_check(ek):
        raise KemInvalidKey()
    ss, ct = KYBER._encaps_internal(ek, m)
    return ct, ss


def kem_decaps(dk: bytes, ct: bytes) -> bytes:
    """KemDecaps: Decaps_internal, with implicit rejection."""
    return KYBER._decaps_internal(dk, ct)


# A known answer of FIPS 203 key generation (the first seed of NIST's ML-KEM
# key-generation vectors), given by the SHA-256 of ek and dk.
KEM_KAT_SEED = bytes.fromhex(
    "7c9935a0b07694aa0c6d10e4db6b1add2fd81a25ccb148032dcd739936737f2d"
    "8626ed79d451140800e03b59b956f8210e556067407d13dc90fa9e8b872bfb8f"
)
KEM_KAT_EK_SHA256 = "86adbca81f4fee893e2fb58fb98aa2fe188f501fed268d7f4056f8c05c4e53c4"
KEM_KAT_DK_SHA256 = "8757e8aee5e441aee07a43af40467d32f80aee5c51aae4ebd2bdb844c038aac7"


def kem_self_test() -> List[str]:
    """Checks the ML-KEM package before any vector relies on it: a FIPS 203
    known answer for key generation, the decapsulation-key layout of §3.6, the
    encapsulation formula of FIPS 203 final ((K, r) = G(m || H(ek)), m used as
    is), decapsulation, implicit rejection (J(z || ct)) and the modulus check."""
    problems = []
    try:
        ek, dk = kem_keygen(KEM_KAT_SEED)
        if sha256(ek).hex() != KEM_KAT_EK_SHA256 or sha256(dk).hex() != KEM_KAT_DK_SHA256:
            problems.append("key generation differs from the FIPS 203 known answer")
        z = KEM_KAT_SEED[32:]
        h_ek = hashlib.sha3_256(ek).digest()
        if (len(ek), len(dk)) != (KEM_EK_LEN, KEM_DK_LEN) or dk[1152:] != ek + h_ek + z:
            problems.append("the decapsulation key does not have the layout of §3.6")
        m = bytes(range(32))
        ct, ss = kem_encaps(ek, m)
        if len(ct) != KEM_CT_LEN or ss != hashlib.sha3_512(m + h_ek).digest()[:32]:
            problems.append("encapsulation is not K = G(m || H(ek))[0..32] (FIPS 203 final)")
        if kem_decaps(dk, ct) != ss:
            problems.append("decapsulation does not return the encapsulated secret")
        bad = bytes([ct[0] ^ 1]) + ct[1:]
        if kem_decaps(dk, bad) != hashlib.shake_256(z + bad).digest(32):
            problems.append("implicit rejection does not return J(z || ct)")
        if not kem_modulus_check(ek) or kem_modulus_check(b"\xff\x0f" + ek[2:]):
            problems.append("the modulus check is wrong")
    except Exception as e:  # an API the checker does not know
        problems.append(f"{type(e).__name__}: {e}")
    return problems


# ---------------------------------------------------------------------------
# §3.7 labelled building blocks
# ---------------------------------------------------------------------------


def labeled_hash(label: bytes, data: bytes) -> bytes:
    return sha256(encode_label(label) + data)


def labeled_mac(key: bytes, label: bytes, data: bytes) -> bytes:
    return hmac_sha256(key, encode_label(label) + data)


def labeled_extract(salt: bytes, label: bytes, ikm: bytes) -> bytes:
    return hkdf_extract(salt, encode_label(label) + ikm)


def expand_info(label: bytes, context: bytes, n: int) -> bytes:
    return encode_label(label) + u16(n) + context


def labeled_expand(prk: bytes, label: bytes, context: bytes, n: int) -> bytes:
    if n > 8160:
        raise ValueError("KdfOutputTooLong")
    return hkdf_expand(prk, expand_info(label, context, n), n)


def labeled_sign(seed: bytes, label: bytes, msg: bytes) -> bytes:
    return Ed25519PrivateKey.from_private_bytes(seed).sign(encode_label(label) + msg)


def labeled_verify(public: bytes, label: bytes, msg: bytes, sig: bytes) -> bool:
    return ED25519_VERIFIER[0](public, encode_label(label) + msg, sig)


def ed25519_public(seed: bytes) -> bytes:
    return raw_public(Ed25519PrivateKey.from_private_bytes(seed))


def ed25519_verifies(seed: bytes, msg: bytes, sig: bytes) -> bool:
    try:
        Ed25519PrivateKey.from_private_bytes(seed).public_key().verify(sig, msg)
        return True
    except InvalidSignature:
        return False



# ---- building-blocks.json (§4.3) ------------------------------------------


def check_building_block(c: dict) -> None:
    kind = c["kind"]
    if kind == "encode_label":
        out = {"label": c["label"], "encoded_label": encode_label(label(c["label"]))}
    elif kind == "labeled_hash":
        out = {
            "label": c["label"],
            "data": c["data"],
            "digest": labeled_hash(label(c["label"]), h(c["data"])),
        }
    elif kind == "labeled_mac":
        out = {
            "key": c["key"],
            "label": c["label"],
            "data": c["data"],
            "mac": labeled_mac(h(c["key"]), label(c["label"]), h(c["data"])),
        }
    elif kind == "labeled_extract":
        out = {
            "salt": c["salt"],
            "label": c["label"],
            "ikm": c["ikm"],
            "prk": labeled_extract(h(c["salt"]), label(c["label"]), h(c["ikm"])),
        }
    elif kind == "labeled_expand":
        lab, ctx, n = label(c["label"]), h(c["context"]), c["length"]
        okm = labeled_expand(h(c["prk"]), lab, ctx, n)
        out = {
            "prk": c["prk"],
            "label": c["label"],
            "context": c["context"],
            "length": n,
            "info": expand_info(lab, ctx, n),
            "okm": okm,
        }
        if hkdf_expand(h(c["prk"]), h(c["info"]), n) != okm:
            raise Mismatch("HKDF-Expand(prk, info, length) != okm")
    elif kind == "labeled_sign":
        seed, lab, msg = h(c["seed"]), label(c["label"]), h(c["message"])
        sig = labeled_sign(seed, lab, msg)
        out = {
            "seed": c["seed"],
            "label": c["label"],
            "message": c["message"],
            "public_key": ed25519_public(seed),
            "signed_message": encode_label(lab) + msg,
            "signature": sig,
        }
        if not ed25519_verifies(seed, encode_label(lab) + msg, h(c["signature"])):
            raise Mismatch("the file's signature does not verify")
    else:
        raise Mismatch(f"unknown kind '{kind}'")
    compare(without_kind(c), out)



# ---- primitives.json (§4.2) -----------------------------------------------


def flip_first_bit(b: bytes) -> bytes:
    return bytes([b[0] ^ 1]) + b[1:]


def check_primitive(c: dict) -> None:
    kind, checks = c["kind"], []  # checks: (passes, what failed), after the fields
    if kind in ("sha256", "sha512"):
        msg = h(c["message"])
        out = {"message": msg, "digest": sha256(msg) if kind == "sha256" else sha512(msg)}
    elif kind == "hmac_sha256":
        key, msg = h(c["key"]), h(c["message"])
        out = {"key": key, "message": msg, "mac": hmac_sha256(key, msg)}
    elif kind == "hkdf_extract":
        salt, ikm = h(c["salt"]), h(c["ikm"])
        out = {"salt": salt, "ikm": ikm, "prk": hkdf_extract(salt, ikm)}
        if salt == b"":
            checks.append((hkdf_extract(bytes(32), ikm) == out["prk"], "salt '' != zeros(32)"))
    elif kind == "hkdf_expand":
        prk, info, n = h(c["prk"]), h(c["info"]), c["length"]
        out = {"prk": prk, "info": info, "length": n, "okm": hkdf_expand(prk, info, n)}
    elif kind == "chacha20_poly1305":
        key, nonce, aad, pt = h(c["key"]), h(c["nonce"]), h(c["aad"]), h(c["plaintext"])
        sealed = aead_seal(key, nonce, aad, pt)
        out = {"key": key, "nonce": nonce, "aad": aad, "plaintext": pt,
               "ciphertext": sealed[:-16], "tag": sealed[-16:]}
        ct, tag = h(c["ciphertext"]), h(c["tag"])
        checks += [
            (aead_open(key, nonce, aad, ct + tag) == pt, "Open does not return the plaintext"),
            (aead_open(key, nonce, aad, ct + flip_first_bit(tag)) is None,
             "Open accepts the tag with a flipped bit"),
        ]
    elif kind == "x25519":
        priv, peer = h(c["private_key"]), h(c["peer_private_key"])
        pub, peer_pub = x25519_public(priv), x25519_public(peer)
        out = {"private_key": priv, "peer_private_key": peer, "public_key": pub,
               "peer_public_key": peer_pub, "shared_secret": dh(priv, peer_pub)}
        checks.append((dh(peer, h(c["public_key"])) == h(c["shared_secret"]),
                       "DH(peer_private_key, public_key) != shared_secret"))
    elif kind == "ed25519":
        seed, msg = h(c["seed"]), h(c["message"])
        out = {"seed": seed, "message": msg, "public_key": ed25519_public(seed),
               "signature": Ed25519PrivateKey.from_private_bytes(seed).sign(msg)}
        pub, sig = h(c["public_key"]), h(c["signature"])
        checks += [
            (ed25519_verify_strict(pub, msg, sig), "the signature does not verify"),
            (not ed25519_verify_strict(pub, msg, flip_first_bit(sig)),
             "the signature with a flipped bit verifies"),
        ]
    elif kind == "ml_kem_768":
        seed, m = h(c["seed"]), h(c["m"])
        ek, dk = kem_keygen(seed)
        ct, ss = kem_encaps(ek, m)
        out = {"seed": seed, "m": m, "encapsulation_key": ek,
               "decapsulation_key_sha256": sha256(dk), "ciphertext": ct, "shared_secret": ss}
        file_ct, file_ss = h(c["ciphertext"]), h(c["shared_secret"])
        checks += [
            (kem_decaps(dk, file_ct) == file_ss, "KemDecaps(dk, ciphertext) != shared_secret"),
            (kem_decaps(dk, flip_first_bit(file_ct)) != file_ss,
             "a ciphertext with a flipped bit decapsulates to the same secret"),
        ]
    else:
        raise Mismatch(f"unknown kind '{kind}'")
    compare(without_kind(c), out)
    for passes, what in checks:
        if not passes:
            raise Mismatch(what)
