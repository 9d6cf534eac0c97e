"""§8 persistence: the ratchet state encoding of §8.2, written and read, with
the rules R1–R7 and C1–C6 and the general rules of §8.1."""

from .common import *  # noqa: F401,F403
from .primitives import *  # noqa: F401,F403
from .ratchet import *  # noqa: F401,F403

RATCHET_MAGIC = b"SOVA-1 ratchet"
STATE_VERSION = 0x01
CHECK_LEN = 32


def opt(x: Optional[bytes]) -> bytes:
    """Opt(x) of §8.2."""
    return b"\x00" if x is None else b"\x01" + x


def encode_ratchet(st: State) -> bytes:
    """RatchetState of §8.2: the private key of DHs as drawn, its public key not
    stored; chains newest first; the check over every byte before it."""
    out = RATCHET_MAGIC + u8(STATE_VERSION) + u8(0x01 if st.mode == PLAIN else 0x02)
    out += u64(st.generation) + u16(len(st.ad)) + st.ad + st.rk
    out += opt(st.dhs[0] if st.dhs else None) + opt(st.dhr)
    out += opt(None if st.s is None else st.s.ck + u32(st.s.n) + opt(st.s.hk))
    out += u32(st.pn) + opt(st.nhks) + opt(st.nhkr) + u8(len(st.r))
    for c in st.r:
        out += c.dhr
        out += b"\x01" + u32(c.end) if c.closed else b"\x00" + c.ck + u32(c.nr)
        out += opt(c.hk) + u16(len(c.skipped))
        out += b"".join(u32(n) + mk for n, mk in c.skipped)
    return out + sha256(out)


def stored_keys(st: State) -> int:
    return sum(len(c.skipped) for c in st.r)
