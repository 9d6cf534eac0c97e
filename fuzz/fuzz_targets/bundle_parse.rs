//! `PrekeyBundle::parse`, `verify` and `Session::start` on arbitrary bytes:
//! never panic; an accepted bundle re-encodes to exactly the input; both
//! backends agree on its signatures; a session starts exactly from a verified
//! bundle, and the responder accepts its first message exactly when it holds
//! every key the bundle names. See `fuzz/checks/session.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../checks/session.rs"]
mod checks;

fuzz_target!(|data: &[u8]| checks::check_bundle(data));
