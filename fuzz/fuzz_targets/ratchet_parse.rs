//! `message::parse` on arbitrary bytes: never panics, and accepts only
//! canonical encodings (re-encoding the parsed fields gives back the input).
//! See `fuzz/checks/ratchet.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../checks/ratchet.rs"]
mod checks;

fuzz_target!(|data: &[u8]| checks::check_parse(data));
