//! The vector files, one module each.

pub(crate) mod building_blocks;
pub(crate) mod conversation_states;
pub(crate) mod device_states;
pub(crate) mod devices;
pub(crate) mod ed25519_strict;
pub(crate) mod groups;
pub(crate) mod handshake;
pub(crate) mod handshake_negative;
pub(crate) mod prekey_upload;
pub(crate) mod primitives;
pub(crate) mod ratchet_kdf;
pub(crate) mod ratchet_limits;
pub(crate) mod ratchet_negative;
pub(crate) mod ratchet_transcripts;
pub(crate) mod safety_numbers;
pub(crate) mod session_states;
pub(crate) mod state_encodings;
