//! Persisted known users and user keys (spec §11.9), plain and sealed, from
//! arbitrary bytes: never panic; an accepted state re-encodes to exactly the
//! input and is what its list or seed gives. See `fuzz/checks/devices.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../checks/devices.rs"]
mod checks;

fuzz_target!(|data: &[u8]| checks::check_device_state(data));
