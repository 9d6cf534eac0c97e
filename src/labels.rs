//! The label registry (spec §3.8).
//!
//! Every derivation, MAC, hash and signature in Sova is domain-separated by a
//! label from this registry, encoded with [`crate::kdf::encode_label`]. No two
//! uses share a label. The spec's table lists the same strings; a test checks
//! that the two agree.

/// The prefix every encoded label starts with (spec §2.4): the ASCII bytes
/// `"SOVA-1 "`, naming the protocol and its version.
pub const PREFIX: &str = "SOVA-1 ";

/// Every label the protocol uses, in the order of the spec's registry table.
pub const ALL: &[&str] = &[];
