"""Building blocks for test tools and auditors, not for applications.

The Double Ratchet on its own, operations that draw caller-supplied
("recorded") randomness instead of the operating system's generator, and the
library's own test-vector verifier. The default API (:mod:`sova`) never
takes randomness from the caller.
"""

from ._sova import hazmat as _hazmat

CIPHER_SUITE: str = _hazmat.CIPHER_SUITE
MAX_SESSION_AD_LEN: int = _hazmat.MAX_SESSION_AD_LEN
RecordedRandom = _hazmat.RecordedRandom
Ratchet = _hazmat.Ratchet
VectorReport = _hazmat.VectorReport
account_new = _hazmat.account_new
generate_one_time_prekeys = _hazmat.generate_one_time_prekeys
generate_kem_one_time_prekeys = _hazmat.generate_kem_one_time_prekeys
session_start = _hazmat.session_start
session_encrypt = _hazmat.session_encrypt
fanout_received = _hazmat.fanout_received
vector_file_known = _hazmat.vector_file_known
verify_vector_file = _hazmat.verify_vector_file

__all__ = [
    "CIPHER_SUITE",
    "MAX_SESSION_AD_LEN",
    "RecordedRandom",
    "Ratchet",
    "VectorReport",
    "account_new",
    "fanout_received",
    "generate_one_time_prekeys",
    "generate_kem_one_time_prekeys",
    "session_start",
    "session_encrypt",
    "vector_file_known",
    "verify_vector_file",
]
