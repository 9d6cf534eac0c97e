//! Arbitrary bytes decrypted by a party of an established session (first
//! byte: header mode, receiving party, provider): never panics, a rejection
//! leaves the state byte-for-byte unchanged, and only genuine held-back
//! messages are accepted, exactly once. See `fuzz/checks/ratchet.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../checks/ratchet.rs"]
mod checks;

fuzz_target!(|data: &[u8]| checks::check_decrypt(data));
