//! Persisted accounts, sessions and ratchets, plain and sealed, from arbitrary
//! bytes: never panic; an accepted plain state re-encodes to exactly the input
//! and works; a sealed state opens to exactly what its plain bytes restore to,
//! and any corruption, another key or another kind is rejected. See
//! `fuzz/checks/session.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../checks/session.rs"]
mod checks;

fuzz_target!(|data: &[u8]| checks::check_state_decode(data));
