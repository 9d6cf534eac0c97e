//! Error classes: the stable names of the library's errors, as the
//! conformance protocol (spec appendix A) and the negative test vectors
//! (spec §4) write them.
//!
//! A class is the error's name from the spec's error tables (§5.8, §6.5,
//! §7.3, §7.10), with the reason of a wrapping error in parentheses:
//! `Authentication`, `Malformed(Truncated)`, `FirstMessage(Authentication)`,
//! `Bundle(InvalidSignedPrekeySignature)`. Numbers and field names carried by
//! an error are not part of its class.

use core::fmt::Debug;

use sova::ratchet;
use sova::session::{AcceptError, DecryptError, StartError};

/// The class of any library error, from its variant names: the outermost
/// variant, then each wrapped variant in parentheses. Payloads that are not
/// variants (numbers, field names, struct fields) are dropped.
pub fn of<E: Debug>(e: &E) -> String {
    from_debug(&format!("{e:?}"))
}

fn from_debug(s: &str) -> String {
    let name: String = s
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    let rest = &s[name.len()..];
    match rest.strip_prefix('(') {
        Some(inner) if inner.starts_with(|c: char| c.is_ascii_uppercase()) => {
            format!("{name}({})", from_debug(inner))
        }
        _ => name,
    }
}

/// The class of a ratchet decryption error (spec §5.8): `Authentication`,
/// `Malformed(Truncated)`, …
pub fn ratchet_decrypt(e: &ratchet::DecryptError) -> String {
    of(e)
}

/// The class of a session decryption error: the ratchet's class for a
/// rejected ratchet message, `Malformed(reason)` for a malformed initial
/// message (spec §7.10), or `NotThisSession`.
pub fn session_decrypt(e: &DecryptError) -> String {
    match e {
        DecryptError::MalformedInitialMessage(m) => format!("Malformed({})", of(m)),
        other => of(other),
    }
}

/// The class of an error accepting an initial message (spec §7.10):
/// `Malformed(reason)`, `Replay`, `ReplayStoreFull`, `FirstMessage(Authentication)`, …
pub fn accept(e: &AcceptError) -> String {
    of(e)
}

/// The class of an error starting a session from a bundle (spec §7.10):
/// `Bundle(reason)`, `InvalidKemPrekey`, `LowOrderKey`.
pub fn start(e: &StartError) -> String {
    of(e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sova::ratchet::message::ParseError;

    #[test]
    fn classes_keep_variant_names_only() {
        assert_eq!(
            ratchet_decrypt(&ratchet::DecryptError::Authentication),
            "Authentication"
        );
        assert_eq!(
            ratchet_decrypt(&ratchet::DecryptError::Malformed(ParseError::Truncated(
                "body"
            ))),
            "Malformed(Truncated)"
        );
        assert_eq!(
            ratchet_decrypt(&ratchet::DecryptError::TooManySkipped { n: 3, skip: 5000 }),
            "TooManySkipped"
        );
        assert_eq!(
            accept(&AcceptError::FirstMessage(
                DecryptError::DuplicateOrExpired { n: 1 }
            )),
            "FirstMessage(DuplicateOrExpired)"
        );
        assert_eq!(accept(&AcceptError::UnknownPrekey(7)), "UnknownPrekey");
        assert_eq!(accept(&AcceptError::ReplayStoreFull(1)), "ReplayStoreFull");
        assert_eq!(
            session_decrypt(&DecryptError::HeaderAuthentication),
            "HeaderAuthentication"
        );
    }
}
