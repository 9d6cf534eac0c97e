//! `Account::accept` on arbitrary bytes, or on edits of a genuine initial
//! message (the first input byte chooses): never panics; a rejection leaves
//! the account unchanged; only genuine messages are accepted;
//! `HandshakeHeader::parse` accepts only canonical encodings. See
//! `fuzz/checks/session.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../checks/session.rs"]
mod checks;

fuzz_target!(|data: &[u8]| checks::check_initial_message(data));
