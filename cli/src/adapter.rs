//! The conformance adapter (in progress).
