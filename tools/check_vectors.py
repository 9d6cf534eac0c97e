#!/usr/bin/env python3
"""Independent check of the Sova test vectors, written from the specification.

This program implements, from the text of spec/ alone, the parts of SOVA-1
that the test vectors exercise:

  * the primitives of the cipher suite (§3.2–§3.6), through the interface the
    protocol uses, including strict Ed25519 verification (§3.3) and the
    ML-KEM-768 modulus check (§3.6),
  * EncodeLabel (§2.4) and the labelled building blocks (§3.7),
  * the ratchet derivations (§5.2) and Padmé padding (§5.4),
  * the message wire format (§6) and the Double Ratchet with optional header
    encryption (§5.3, §5.5, §5.6, §5.7),
  * identities, prekeys, bundles, the handshake, initial messages and their
    acceptance (§7.1–§7.6), and prekey uploads (§7.11),
  * the ratchet and account state encodings and sealing (§8.2–§8.4), and the
    device states (§11.9),
  * fingerprints, safety numbers, QR payloads and scanning (§10),

and checks these files of a test-vector directory (§4, §10.9):

  primitives.json           every output recomputed, every check of §4.2.3
  building-blocks.json      every output recomputed from the inputs
  ratchet-kdf.json          every output recomputed from the inputs
  ratchet-transcripts.json  replayed by two independent parties: every message
                            byte-identical, every plaintext and intermediate equal
  ratchet-negative.json     the setup replayed, the message rejected with the
                            recorded error, the receiver's state unchanged
  safety-numbers.json       every output recomputed, both orders of the parties
  handshake.json            both accounts built from their secrets, the handshake
                            run both ways: every value byte-identical
  handshake-negative.json   every bundle and initial message rejected with the
                            recorded error, the responder's account unchanged
  ratchet-limits.json       each seeded script replayed: every result, stored-key
                            count and SHA-256 of the state encoding equal
  ed25519-strict.json       every signature verified with the strict verifier of
                            §3.3 written out here; every bundle and initial
                            message rejected with the recorded error; then a
                            note listing the invalid cases OpenSSL's verifier
                            (the `cryptography` package) accepts
  state-encodings.json      every ratchet, account, session, conversation, device
                            (§11.9) and sealed state encoded byte for byte (the
                            sessions after their flows of §7, the known users after
                            their directory updates and links replayed); every
                            rejected encoding gives the recorded error
  prekey-upload.json        every upload rebuilt from its account's secrets, parsed
                            and verified, the bundles a server assembles from it
                            byte for byte; every rejected upload gives the recorded error
  devices.json              every device list signed and hashed, every directory
                            sequence replayed, every link and fan-out rebuilt from
                            its secrets (the pairwise sessions of §7 included) and
                            received; every rejection gives the recorded error class
  groups.json               every device list, membership operation, state hash,
                            welcome, chain offer and chain step rebuilt from its
                            seeds, the reader's group state encoded byte for byte,
                            and every rejection classified by this checker's own
                            reading of the check orders of spec §12

Usage:  python3 tools/check_vectors.py [--require-all] [DIR | FILE...]
        (default DIR: test-vectors)

Without the ML-KEM-768 package (kyber-py), the seven files that need ML-KEM
(primitives.json, handshake.json, handshake-negative.json, ed25519-strict.json,
state-encodings.json, prekey-upload.json, devices.json)
are skipped with a note; with --require-all their absence is an environment error.

Exit status: 0 when every checked case passes, 1 on any mismatch or malformed
file, 2 on a usage or environment error (`cryptography` missing, or kyber-py
missing or failing its known-answer test under --require-all).

SHA-2, SHA-3, HMAC and HKDF come from the standard library (hashlib, hmac);
X25519, Ed25519 signing and ChaCha20-Poly1305 from the `cryptography` package
(Ed25519 verification is written out here, §3.3); the
deterministic ML-KEM-768 algorithms of FIPS 203 from `kyber-py`.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from sova_check.driver import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(sys.argv, __doc__))
