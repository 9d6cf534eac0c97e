//! Device lists (spec §11.3, §11.4) from fixture lists, edits, raw bytes and
//! fresh signatures, offered in sequence to a directory: verdicts follow the
//! spec's check order, a refused list changes nothing, and the accepted
//! epoch never decreases. See `fuzz/checks/devices.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../checks/devices.rs"]
mod checks;

fuzz_target!(|data: &[u8]| checks::check_device_list(data));
