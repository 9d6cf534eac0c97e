//! Every error code of the library is listed in spec appendix B, type by
//! type and in variant order, and `code()` returns the variant's name.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use sova::ratchet;
use sova::session::{AcceptError, ConversationError, DecryptError, EncryptError, StartError};
use sova::CryptoError;

/// `(type path, codes)` as a table of appendix B lists them.
fn spec_table() -> Vec<(String, Vec<String>)> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/spec/appendix-b-error-codes.md"
    ))
    .unwrap();
    text.lines()
        .filter(|l| l.starts_with("| `sova::"))
        .map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            let ty = cells[1].trim_matches('`').replacen("sova::", "crate::", 1);
            let codes = cells[2]
                .split(',')
                .map(|c| c.trim().trim_matches('`').to_string())
                .collect();
            (ty, codes)
        })
        .collect()
}

/// `(type path, codes)` as `src/codes.rs` implements them.
fn library_table() -> Vec<(String, Vec<String>)> {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/codes.rs")).unwrap();
    text.split("error_codes!(")
        .skip(1) // the text before the first invocation
        .map(|block| {
            let (ty, rest) = block.split_once(" {").unwrap();
            let body = rest.split_once('}').unwrap().0;
            let codes = body
                .split(',')
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(String::from)
                .collect();
            (ty.trim().to_string(), codes)
        })
        .collect()
}

#[test]
fn appendix_b_lists_every_code_of_the_library() {
    let spec = spec_table();
    let lib = library_table();
    assert!(lib.len() >= 17, "{lib:?}");
    assert_eq!(spec, lib);
    for (ty, codes) in &lib {
        let mut seen = std::collections::BTreeSet::new();
        for c in codes {
            assert!(c.chars().all(|ch| ch.is_ascii_alphanumeric()), "{ty}: {c}");
            assert!(seen.insert(c), "{ty}: {c} twice");
        }
    }
}

#[test]
fn codes_are_variant_names() {
    assert_eq!(AcceptError::Replay.code(), "Replay");
    assert_eq!(AcceptError::UnknownPrekey(3).code(), "UnknownPrekey");
    assert_eq!(
        AcceptError::FirstMessage(DecryptError::Authentication).code(),
        "FirstMessage"
    );
    assert_eq!(AcceptError::UnexpectedPeer.code(), "UnexpectedPeer");
    assert_eq!(StartError::UnexpectedPeer.code(), "UnexpectedPeer");
    assert_eq!(
        DecryptError::DuplicateOrExpired { n: 4 }.code(),
        "DuplicateOrExpired"
    );
    assert_eq!(EncryptError::Randomness.code(), "Randomness");
    assert_eq!(ConversationError::OtherPeer.code(), "OtherPeer");
    assert_eq!(
        ratchet::DecryptError::TooManySkipped { n: 1, skip: 2 }.code(),
        "TooManySkipped"
    );
    assert_eq!(
        CryptoError::RandomnessUnavailable.code(),
        "RandomnessUnavailable"
    );
}
