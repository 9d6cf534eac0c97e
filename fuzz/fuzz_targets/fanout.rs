//! Fan-out (spec §11.6) between two persons with several devices: sends,
//! deliveries, duplicates, misdeliveries, body swaps, bit flips and list
//! updates chosen by the input. Every accepted plaintext was sent to that
//! device, at most once; a refused message changes no conversation and no
//! account. See `fuzz/checks/devices.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../checks/devices.rs"]
mod checks;

fuzz_target!(|data: &[u8]| checks::check_fanout(data));
