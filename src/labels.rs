//! The label registry (spec §3.8).
//!
//! Every derivation, MAC, hash and signature in Sova is domain-separated by a
//! label from this registry, encoded with [`crate::kdf::encode_label`]. No two
//! uses share a label. The spec's table lists the same strings; a test checks
//! that the two agree.

/// The prefix every encoded label starts with (spec §2.4): the ASCII bytes
/// `"SOVA-1 "`, naming the protocol and its version.
pub const PREFIX: &str = "SOVA-1 ";

/// `InitKeys`: the first root key and header keys from the session secret (spec §5.2.1).
pub const RATCHET_INIT: &str = "ratchet init";
/// `KDF_RK`: one step of the root chain, for both its extract and expand steps (spec §5.2.2).
pub const ROOT: &str = "root";
/// `KDF_CK`: the next chain key (spec §5.2.3).
pub const CHAIN: &str = "chain";
/// `KDF_CK`: the message key of a chain step (spec §5.2.3).
pub const MESSAGE: &str = "message";
/// `MessageKeys`: a message key's AEAD key and nonce (spec §5.2.4).
pub const MESSAGE_KEYS: &str = "message keys";
/// `HeaderKeys`: a header key's encryption and nonce keys (spec §5.2.5).
pub const HEADER_KEYS: &str = "header keys";
/// `HeaderNonce`: the nonce of an encrypted header (spec §5.2.5).
pub const HEADER_NONCE: &str = "header nonce";
/// `Fingerprint`: the iterated SHA-512 of a public identity behind a safety number (spec §10.3).
pub const SAFETY_NUMBER: &str = "safety number";
/// `IdentityPublic`: the signature binding `IK_dh` to `IK_sig` (spec §7.1).
pub const IDENTITY_BINDING: &str = "identity binding";
/// Prekey signatures (spec §7.2).
pub const PREKEY: &str = "prekey";
/// `TH`: the handshake transcript hash (spec §7.4).
pub const HANDSHAKE_TRANSCRIPT: &str = "handshake transcript";
/// The handshake's extract step (spec §7.4).
pub const HANDSHAKE: &str = "handshake";
/// `SK`: the session secret (spec §7.4).
pub const SESSION_SECRET: &str = "session secret";
/// The key that seals persisted state (spec §8.3).
pub const STORAGE_KEY: &str = "storage key";
/// The user key's signature of a device list (spec §11.3).
pub const DEVICE_LIST: &str = "device list";
/// `ListHash`: the hash naming a device list (spec §11.3).
pub const DEVICE_LIST_HASH: &str = "device list hash";
/// `T`: the link transcript (spec §11.5).
pub const LINK_TRANSCRIPT: &str = "link transcript";
/// The link key's extract and expand steps (spec §11.5).
pub const LINK: &str = "link";
/// `LinkCode`: the digits both devices show while linking (spec §11.5).
pub const LINK_CODE: &str = "link code";
/// A fan-out body's key and nonce (spec §11.6).
pub const FANOUT_BODY: &str = "fan-out body";
/// `D`: the digest binding a fan-out key message to its header and body (spec §11.6).
pub const FANOUT_DIGEST: &str = "fan-out digest";
/// The signature of a group membership operation (spec §12.3).
pub const GROUP_OPERATION: &str = "group operation";
/// `StateHash`: an epoch of a group (spec §12.3).
pub const GROUP_STATE: &str = "group state";
/// The device identity's signature binding a sender chain's signing key (spec §12.5).
pub const GROUP_CHAIN_BINDING: &str = "group chain binding";
/// `C`: a chain offer's commitment to its index and chain key, signed by the
/// binding (spec §12.5).
pub const GROUP_CHAIN_COMMITMENT: &str = "group chain commitment";
/// The next key of a sender chain (spec §12.5).
pub const GROUP_CHAIN: &str = "group chain";
/// A sender chain's message key (spec §12.5).
pub const GROUP_MESSAGE_KEY: &str = "group message key";
/// A group message's AEAD key and nonce (spec §12.5).
pub const GROUP_MESSAGE_KEYS: &str = "group message keys";
/// The chain signing key's signature of a group message (spec §12.6).
pub const GROUP_MESSAGE: &str = "group message";
/// The coefficients of a batch verification of signatures, derived from
/// the caller's random bytes and the signatures (spec §12.6.1).
pub const BATCH_VERIFICATION: &str = "batch verification";

/// Every label the protocol uses, in the order of the spec's registry table.
pub const ALL: &[&str] = &[
    RATCHET_INIT,
    ROOT,
    CHAIN,
    MESSAGE,
    MESSAGE_KEYS,
    HEADER_KEYS,
    HEADER_NONCE,
    SAFETY_NUMBER,
    IDENTITY_BINDING,
    PREKEY,
    HANDSHAKE_TRANSCRIPT,
    HANDSHAKE,
    SESSION_SECRET,
    STORAGE_KEY,
    DEVICE_LIST,
    DEVICE_LIST_HASH,
    LINK_TRANSCRIPT,
    LINK,
    LINK_CODE,
    FANOUT_BODY,
    FANOUT_DIGEST,
    GROUP_OPERATION,
    GROUP_STATE,
    GROUP_CHAIN_BINDING,
    GROUP_CHAIN_COMMITMENT,
    GROUP_CHAIN,
    GROUP_MESSAGE_KEY,
    GROUP_MESSAGE_KEYS,
    GROUP_MESSAGE,
    BATCH_VERIFICATION,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_distinct_and_encodable() {
        for (i, a) in ALL.iter().enumerate() {
            assert!(a.is_ascii());
            assert!(a.len() <= crate::kdf::MAX_LABEL_LEN);
            for b in &ALL[i + 1..] {
                assert_ne!(a, b);
            }
        }
    }
}
