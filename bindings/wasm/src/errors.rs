//! The library's errors as JavaScript `SovaError`s (errors.js): the stable
//! code of spec appendix B, the codes of the errors it wraps, and the
//! library's message.

use core::fmt::{Debug, Display};

use wasm_bindgen::prelude::*;

#[wasm_bindgen(raw_module = "../errors.js")]
extern "C" {
    /// `new SovaError(code, codes, message)`.
    #[wasm_bindgen(js_name = sovaError)]
    fn sova_error(code: &str, codes: Vec<String>, message: &str) -> JsValue;
}

/// An error of the library: its `code()`.
pub(crate) trait Coded: Debug + Display {
    /// The stable code (spec appendix B).
    fn code(&self) -> &'static str;
}

macro_rules! coded {
    ($($ty:path),* $(,)?) => {
        $(impl Coded for $ty {
            fn code(&self) -> &'static str {
                <$ty>::code(self)
            }
        })*
    };
}

coded!(
    sova::CryptoError,
    sova::ratchet::StateError,
    sova::session::AccountError,
    sova::session::StartError,
    sova::session::AcceptError,
    sova::session::EncryptError,
    sova::session::DecryptError,
    sova::session::ConversationError,
    sova::session::PersistError,
    sova::session::AssembleError,
    sova::storage::StorageError,
    sova::session::UploadError,
    sova::safety::SafetyError,
    sova::devices::ParseError,
    sova::devices::ListError,
    sova::devices::LinkError,
    sova::devices::FanoutError,
    sova::groups::GroupError,
);

/// The chain of codes of an error: its own, then each wrapped error's
/// (`Decrypt`, `Authentication`), read from the variant names as the
/// conformance classes are (spec appendix A.5); numbers and field names
/// are not codes.
pub(crate) fn chain(code: &str, debug: &str) -> Vec<String> {
    let mut codes = vec![code.to_owned()];
    let mut rest = debug;
    loop {
        let name_len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        let after = rest.get(name_len..).unwrap_or_default();
        match after.strip_prefix('(') {
            Some(inner) if inner.starts_with(|c: char| c.is_ascii_uppercase()) => {
                let name_end = inner
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(inner.len());
                codes.push(inner.get(..name_end).unwrap_or_default().to_owned());
                rest = inner;
            }
            _ => return codes,
        }
    }
}

/// The `SovaError` for a library error.
pub(crate) fn js<E: Coded>(e: E) -> JsValue {
    let code = e.code();
    sova_error(code, chain(code, &format!("{e:?}")), &e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sova::session::{ConversationError, DecryptError};

    #[test]
    fn chains_follow_wrapped_variants() {
        let e = ConversationError::Decrypt(DecryptError::Authentication);
        assert_eq!(
            chain(e.code(), &format!("{e:?}")),
            ["Decrypt", "Authentication"]
        );
        let e = sova::session::AccountError::UnknownPrekey(7);
        assert_eq!(chain(e.code(), &format!("{e:?}")), ["UnknownPrekey"]);
        let e = DecryptError::TooManySkipped { n: 1, skip: 2 };
        assert_eq!(chain(e.code(), &format!("{e:?}")), ["TooManySkipped"]);
        let e = sova::devices::ListError::Malformed(sova::devices::ParseError::Truncated("x"));
        assert_eq!(
            chain(e.code(), &format!("{e:?}")),
            ["Malformed", "Truncated"]
        );
    }
}
