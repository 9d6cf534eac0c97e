//! Sequences of group messages, chain offers, operations and sends (spec
//! §12.3–§12.6) on a fixed group: a refused input changes nothing, an
//! accepted one is genuine and came over its owner's session, and epochs
//! never go back. See `fuzz/checks/groups.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../checks/groups.rs"]
mod checks;

fuzz_target!(|data: &[u8]| checks::check_group_state_machine(data));
