//! WebAssembly bindings of the Sova library (wasm-bindgen): accounts,
//! sessions, conversations, safety numbers, several devices per person and
//! groups, with the library's persisted encodings as `Uint8Array` and its
//! stable error codes (spec appendix B) as `SovaError`s.
//!
//! Nothing here implements protocol logic: every call goes to the `sova`
//! crate, built with its pure-Rust backend. Randomness comes from the
//! platform (`crypto.getRandomValues`, through `getrandom`).
//!
//! Secrets that cross the boundary are wiped on the Rust side: inputs that
//! hold secrets (plaintexts, states, sealing keys) are taken by value and
//! zeroized after use, and outputs that hold secrets are copied into a
//! JavaScript `Uint8Array` and wiped in wasm memory before it is freed.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use js_sys::{Array, Object, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use zeroize::Zeroizing;

mod devices;
mod errors;
mod groups;
mod session;

pub use devices::*;
pub use groups::*;
pub use session::*;

/// The platform's generator (`crypto.getRandomValues`).
fn rng() -> sova::OsRng {
    sova::OsRng
}

/// A `Uint8Array` holding a copy of `bytes`, which are then wiped.
fn out(bytes: Vec<u8>) -> Uint8Array {
    let bytes = Zeroizing::new(bytes);
    Uint8Array::from(&bytes[..])
}

/// A `RangeError` for an argument of the wrong size or value.
fn range(message: &str) -> JsValue {
    js_sys::RangeError::new(message).into()
}

/// A fixed-size array from a byte argument, or a `RangeError` naming it.
fn array<const N: usize>(bytes: &[u8], what: &str) -> Result<[u8; N], JsValue> {
    <[u8; N]>::try_from(bytes)
        .map_err(|_| range(&format!("{what} must be {N} bytes, not {}", bytes.len())))
}

/// A 32-byte sealing key, wiped with the argument.
fn sealing_key(key: Vec<u8>) -> Result<sova::Secret<32>, JsValue> {
    let key = Zeroizing::new(key);
    sova::Secret::try_from_slice(&key).ok_or_else(|| {
        range(&format!(
            "a sealing key must be 32 bytes, not {}",
            key.len()
        ))
    })
}

/// An identity key (64 bytes: Ed25519 then X25519 public key).
fn identity_key(bytes: &[u8]) -> Result<sova::session::IdentityKey, JsValue> {
    array::<64>(bytes, "an identity key")
}

/// The header mode from its name; encrypted headers when omitted.
fn header_mode(mode: Option<String>) -> Result<sova::ratchet::HeaderMode, JsValue> {
    match mode.as_deref() {
        None | Some("encrypted") => Ok(sova::ratchet::HeaderMode::Encrypted),
        Some("plain") => Ok(sova::ratchet::HeaderMode::Plain),
        Some(other) => Err(range(&format!(
            "header mode must be \"encrypted\" or \"plain\", not {other:?}"
        ))),
    }
}

/// A plain object built from (name, value) pairs.
fn object(fields: &[(&str, JsValue)]) -> Result<Object, JsValue> {
    let o = Object::new();
    for (name, value) in fields {
        Reflect::set(&o, &JsValue::from_str(name), value)?;
    }
    Ok(o)
}

/// Where a decrypted message stands among the peer's messages (spec §5.9).
fn message_info(info: &sova::ratchet::MessageInfo) -> Result<JsValue, JsValue> {
    Ok(object(&[
        ("chain", Uint8Array::from(&info.chain[..]).into()),
        ("number", info.number.into()),
        ("previousChainLength", info.previous_chain_len.into()),
        ("late", info.late.into()),
        ("newChain", info.new_chain.into()),
        ("gap", info.gap.into()),
    ])?
    .into())
}

/// A JavaScript array of numbers.
fn ids(values: &[u32]) -> Array {
    values.iter().map(|v| JsValue::from(*v)).collect()
}

/// The safety number of two identities (spec §10): 60 digits that both
/// sides compute alike, and a QR code that names the displaying device first.
#[wasm_bindgen]
pub struct SafetyNumber(sova::safety::SafetyNumber);

#[wasm_bindgen]
impl SafetyNumber {
    /// The safety number between our identity key and theirs (64 bytes each).
    #[wasm_bindgen(constructor)]
    pub fn new(ours: &[u8], theirs: &[u8]) -> Result<SafetyNumber, JsValue> {
        Ok(Self(sova::safety::SafetyNumber::new(
            &identity_key(ours)?,
            &identity_key(theirs)?,
        )))
    }

    /// The 60 digits.
    #[wasm_bindgen(getter)]
    pub fn digits(&self) -> String {
        self.0.digits().to_owned()
    }

    /// The digits in twelve groups of five, for display.
    pub fn display(&self) -> String {
        self.0.display()
    }

    /// The payload of the QR code this device shows.
    #[wasm_bindgen(getter, js_name = qrPayload)]
    pub fn qr_payload(&self) -> Uint8Array {
        Uint8Array::from(&self.0.qr_payload()[..])
    }

    /// Checks a QR code scanned from the peer's screen.
    ///
    /// Throws a `SovaError` (`Length`, `UnknownVersion`, `OwnCode`,
    /// `Mismatch`) when it does not match.
    #[wasm_bindgen(js_name = verifyScanned)]
    pub fn verify_scanned(&self, payload: &[u8]) -> Result<(), JsValue> {
        self.0.verify_scanned(payload).map_err(errors::js)
    }
}
