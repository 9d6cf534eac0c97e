//! Two parties' `Conversation`s over a hostile network: the input decodes to
//! session starts (simultaneous ones included), sends, deliveries in any
//! order, drops, duplicates, bit flips, reflections, another identity's
//! initial messages and persistence round trips. A rejected message changes
//! neither the conversation nor the account; every accepted plaintext was
//! sent by the peer and is accepted at most once. See
//! `check_conversation` in `fuzz/checks/session.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../checks/session.rs"]
mod checks;

fuzz_target!(|data: &[u8]| checks::check_conversation(data));
