"""An independent implementation of SOVA-1 from spec/ alone, checking the test
vectors; tools/check_vectors.py is its entry point (see tools/README.md).

One module per concern: common (packages, integers, labels, comparison),
primitives (§3), ratchet (§5, §6), session (§7, §8.4), safety (§10),
examples (the spec's worked examples) and driver (the command line)."""
