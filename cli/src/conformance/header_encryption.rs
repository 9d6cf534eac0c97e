//! Capability `header-encryption` (spec appendix A.6.2): the live ratchet,
//! session and state tests run again with encrypted headers (§5.6); what
//! differs is how a message is tampered with: its encrypted header and its
//! header nonce.

use super::ratchet::{flip, Tamper};

/// The tampers of an encrypted header, for the ratchet message at offset
/// `inner` of `wire`; `ratchet` wraps a ratchet class as the receiver reports it.
pub(super) fn encrypted_header_tampers(
    wire: &[u8],
    inner: usize,
    ratchet: &dyn Fn(&str) -> String,
) -> [Tamper; 2] {
    [
        Tamper {
            what: "encrypted header bit flipped",
            message: flip(wire, inner + 14 + 7),
            class: ratchet("HeaderAuthentication"),
        },
        Tamper {
            what: "header nonce bit flipped",
            message: flip(wire, inner + 2 + 3),
            class: ratchet("HeaderAuthentication"),
        },
    ]
}
