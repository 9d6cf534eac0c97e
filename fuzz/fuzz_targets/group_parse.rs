//! Group operations, welcomes, chain offers, messages and states (spec
//! §12.3–§12.8), raw or tampered from genuine ones, through every parser:
//! no panic, and what parses re-encodes exactly. See `fuzz/checks/groups.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../checks/groups.rs"]
mod checks;

fuzz_target!(|data: &[u8]| checks::check_group_parse(data));
