//! `PrekeyUpload::parse` and `verify` on arbitrary bytes: never panic; an
//! accepted upload re-encodes to exactly the input and has distinct ids; both
//! backends agree on its signatures; every bundle assembled from a verified
//! upload passes the bundle checks, and those of the responder's genuine
//! upload equal `Account::bundle`. See `fuzz/checks/session.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../checks/session.rs"]
mod checks;

fuzz_target!(|data: &[u8]| checks::check_prekey_upload(data));
