#!/usr/bin/env python3
"""Encrypt and decrypt of 1 KiB through the binding, timed as the native
side (examples/native_bench.rs): batches of BATCH operations, the median of
BATCHES per-operation times, encrypted headers, the OS generator.

Run: ``python bench.py`` (with the package installed, e.g. ``maturin develop
--release``), and ``cargo run --release --example native_bench`` for the
native figures.
"""

from __future__ import annotations

import statistics
import time

import sova

BATCH = 1000
BATCHES = 31
LEN = 1024


def main() -> None:
    alice, bob = sova.Account(), sova.Account()
    to_bob = sova.Session.start(alice, bob.identity_key, bob.bundle())
    to_alice, _ = bob.accept(alice.identity_key, to_bob.encrypt(b"hello"))
    to_bob.decrypt(to_alice.encrypt(b"hi"))
    pt = b"a" * LEN

    enc, dec = [], []
    for _ in range(BATCHES + 1):
        encrypt = to_bob.encrypt
        start = time.perf_counter()
        for _ in range(BATCH):
            encrypt(pt)
        enc.append((time.perf_counter() - start) / BATCH)

        messages = [to_alice.encrypt(pt) for _ in range(BATCH)]
        decrypt = to_bob.decrypt
        start = time.perf_counter()
        for m in messages:
            decrypt(m)
        dec.append((time.perf_counter() - start) / BATCH)
    # The first batch of each is a warm-up.
    print(f"python encrypt 1 KiB: median {statistics.median(enc[1:]) * 1e6:.3f} us")
    print(f"python decrypt 1 KiB: median {statistics.median(dec[1:]) * 1e6:.3f} us")


if __name__ == "__main__":
    main()
