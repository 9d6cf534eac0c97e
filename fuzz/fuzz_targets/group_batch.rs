//! Queues of group messages read with `Group::decrypt_batch` (spec §12.6.1):
//! lengths around `BATCH_MIN`, reordered, duplicated, dropped, edited, with
//! forged signatures and messages of unknown chains, another group or
//! another epoch, must give exactly the results and the final state of
//! `Group::decrypt` on each message in turn. See `fuzz/checks/groups.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../checks/groups.rs"]
mod checks;

fuzz_target!(|data: &[u8]| checks::check_group_batch(data));
