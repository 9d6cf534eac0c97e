//! `Ratchet::from_bytes` on arbitrary bytes: never panics; an accepted state
//! re-encodes to exactly the input, keeps the limits, and is safe to use:
//! probe messages aimed at each of its chains are rejected without a panic or
//! a state change. See `fuzz/checks/ratchet.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../checks/ratchet.rs"]
mod checks;

fuzz_target!(|data: &[u8]| checks::check_state_decode(data));
