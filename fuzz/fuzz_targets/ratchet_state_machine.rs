//! Two parties over an unreliable network: the input decodes to a schedule of
//! actions (send bursts, deliver in any order, drop, duplicate, tamper,
//! truncate, extend, reflect, persist and restore), checked step by step
//! against an exact model of the ratchet's delivery rules and limits. See
//! `checks::Schedule::from_bytes` in `fuzz/checks/ratchet.rs` for the layout.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../checks/ratchet.rs"]
mod checks;

fuzz_target!(|data: &[u8]| checks::check_state_machine(data));
