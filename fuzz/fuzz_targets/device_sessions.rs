//! Sessions per device (spec §11.7, `PeerDevices`) with fan-out (§11.6):
//! conversations inserted under listed and unlisted ids, list updates that
//! drop them, sends the sets allow or refuse, deliveries to a device's
//! view of the sender's person, fan-out framing with broken fields and
//! sends to crafted targets. Every verdict is the first check that fails;
//! refusals change nothing. See `fuzz/checks/devices.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../checks/devices.rs"]
mod checks;

fuzz_target!(|data: &[u8]| checks::check_device_sessions(data));
