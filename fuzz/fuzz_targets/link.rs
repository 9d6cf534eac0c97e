//! Linking (spec §11.5) on both sides: the admin device's checks of an offer
//! in the spec's order, and the new device's reading of a response: nothing
//! changes on error, and only a response made for the offer is accepted.
//! See `fuzz/checks/devices.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../checks/devices.rs"]
mod checks;

fuzz_target!(|data: &[u8]| checks::check_link(data));
