//! Safety numbers: the scanned QR payload parser (`verify_scanned`) on
//! arbitrary or edited payloads, checked against spec §10.7's verdicts, the
//! display format, and the digit reduction of arbitrary fingerprints. See
//! `check_safety_number` in `fuzz/checks/session.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../checks/session.rs"]
mod checks;

fuzz_target!(|data: &[u8]| checks::check_safety_number(data));
