//! The conformance protocol's vocabulary (spec appendix A), shared by the
//! runner ([`crate::conformance`]) and the reference adapter ([`crate::adapter`]).
//!
//! One JSON object per line in each direction. Requests carry `"id"` and
//! `"op"`; responses echo `"id"` and carry `"ok"`, and on failure
//! `"error": {"class": …, "message": …}`. Byte strings are lowercase hex.

use serde_json::{json, Map, Value};
use sova::ratchet::HeaderMode;

/// The protocol name and version sent in `hello`.
pub const PROTOCOL: &str = "sova-conformance/1";

/// Capability: `vector_case` (spec §4).
pub const CAP_VECTORS: &str = "vectors";
/// Capability: `ratchet_new`, `encrypt`, `decrypt` on ratchets, header mode `plain` (spec §5, §6).
pub const CAP_RATCHET: &str = "ratchet";
/// Capability: header mode `encrypted` wherever a mode is given (spec §5.6).
pub const CAP_HEADER_ENCRYPTION: &str = "header-encryption";
/// Capability: `account_new`, `bundle`, `session_start`, `session_accept` (spec §7).
pub const CAP_SESSION: &str = "session";
/// Capability: `ratchet_export`, `ratchet_import` (spec §8.2).
pub const CAP_RATCHET_STATE: &str = "ratchet-state";

/// Capability: `rotate_signed_prekey` (spec §7.2, §7.6).
pub const CAP_PREKEY_ROTATION: &str = "prekey-rotation";
/// Capability: `safety_number` (spec §10).
pub const CAP_SAFETY_NUMBER: &str = "safety-number";
/// Capability: `encrypt`, `account_new`, `bundle` and `session_start` draw
/// exactly the randomness given in `random`, in the orders of spec §5.5.2,
/// §7.2 and §7.4; with [`CAP_SESSION`], `account_export` and
/// `session_export` write the states of §8.4 and §8.5.
pub const CAP_RECORDED_RANDOMNESS: &str = "recorded-randomness";

/// Capability: `device_list_verify`, `directory_update`, `link_offer`,
/// `link_finish`, `link_approve` (spec §11).
pub const CAP_DEVICES: &str = "devices";

/// Capability: `device_new`, `device_update`, `fanout_encrypt`,
/// `fanout_receive` (spec §11.6, §11.7), with [`CAP_SESSION`]'s
/// `account_new` and `bundle`.
pub const CAP_FANOUT: &str = "fanout";

/// Capability: `group_join`, `group_apply`, `group_change`,
/// `group_welcome`, `group_start_chain`, `group_accept_chain`,
/// `group_encrypt`, `group_decrypt`, `group_export` (spec §12), on a
/// device of [`CAP_FANOUT`]'s `device_new`, whose directory `device_update`
/// fills.
pub const CAP_GROUPS: &str = "groups";

/// Every capability, in the order the runner tests them.
pub const CAPABILITIES: &[&str] = &[
    CAP_VECTORS,
    CAP_RATCHET,
    CAP_HEADER_ENCRYPTION,
    CAP_SESSION,
    CAP_RATCHET_STATE,
    CAP_PREKEY_ROTATION,
    CAP_SAFETY_NUMBER,
    CAP_RECORDED_RANDOMNESS,
    CAP_DEVICES,
    CAP_FANOUT,
    CAP_GROUPS,
];

/// Error class: the request is not valid JSON or lacks a field.
pub const BAD_REQUEST: &str = "BadRequest";
/// Error class: the `op` is not one of the protocol's.
pub const UNKNOWN_OP: &str = "UnknownOp";
/// Error class: no object has this handle.
pub const UNKNOWN_HANDLE: &str = "UnknownHandle";
/// Error class: the implementation does not support this (a capability, a vector kind).
pub const UNSUPPORTED: &str = "Unsupported";
/// Error class: a vector case does not verify.
pub const CASE_FAILED: &str = "CaseFailed";

/// The wire name of a header mode.
pub fn mode_name(mode: HeaderMode) -> &'static str {
    match mode {
        HeaderMode::Plain => "plain",
        HeaderMode::Encrypted => "encrypted",
    }
}

/// The header mode of a wire name.
pub fn mode_of(name: &str) -> Option<HeaderMode> {
    match name {
        "plain" => Some(HeaderMode::Plain),
        "encrypted" => Some(HeaderMode::Encrypted),
        _ => None,
    }
}

/// A failed request: an error class and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorReply {
    /// The error class.
    pub class: String,
    /// A human-readable message.
    pub message: String,
    /// Further fields (`field` of `CaseFailed`).
    pub extra: Map<String, Value>,
}

impl ErrorReply {
    /// An error of `class`.
    pub fn new(class: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            class: class.into(),
            message: message.into(),
            extra: Map::new(),
        }
    }

    /// A `BadRequest` error.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(BAD_REQUEST, message)
    }
}

/// A successful response's fields, or an error.
pub type Reply = Result<Map<String, Value>, ErrorReply>;

/// The response line for request `id`.
pub fn response(id: &Value, reply: &Reply) -> Value {
    match reply {
        Ok(fields) => {
            let mut o = Map::new();
            o.insert("id".into(), id.clone());
            o.insert("ok".into(), Value::Bool(true));
            for (k, v) in fields {
                o.insert(k.clone(), v.clone());
            }
            Value::Object(o)
        }
        Err(e) => {
            let mut err = Map::new();
            err.insert("class".into(), json!(e.class));
            err.insert("message".into(), json!(e.message));
            for (k, v) in &e.extra {
                err.insert(k.clone(), v.clone());
            }
            json!({ "id": id, "ok": false, "error": err })
        }
    }
}

/// A string field of a JSON object.
///
/// # Errors
/// `BadRequest` naming the field.
pub fn str_field<'a>(o: &'a Map<String, Value>, name: &str) -> Result<&'a str, ErrorReply> {
    o.get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| ErrorReply::bad_request(format!("missing string field `{name}`")))
}

/// A hex byte-string field of a JSON object.
///
/// # Errors
/// `BadRequest` naming the field.
pub fn hex_field(o: &Map<String, Value>, name: &str) -> Result<Vec<u8>, ErrorReply> {
    let s = str_field(o, name)?;
    hex::decode(s).map_err(|e| ErrorReply::bad_request(format!("field `{name}`: {e}")))
}

/// A fixed-size hex field.
///
/// # Errors
/// `BadRequest` naming the field when it is missing or of the wrong length.
pub fn hex_array<const N: usize>(
    o: &Map<String, Value>,
    name: &str,
) -> Result<[u8; N], ErrorReply> {
    let v = hex_field(o, name)?;
    v.as_slice().try_into().map_err(|_| {
        ErrorReply::bad_request(format!(
            "field `{name}`: expected {N} bytes, got {}",
            v.len()
        ))
    })
}

/// A boolean field, `false` when absent.
pub fn bool_field(o: &Map<String, Value>, name: &str) -> bool {
    o.get(name).and_then(Value::as_bool).unwrap_or(false)
}
