//! Sealed states (spec §8.3): the outer framing only; the contents need the
//! storage key.

use sova::storage::{self, SealedKind, StorageError};
use sova::{DefaultProvider, Secret};

use super::*;

/// §8.3: the outer framing only.
pub(super) fn sealed_layout(w: &mut Walk<'_>) -> Option<()> {
    w.ascii("magic", 13, "")?;
    w.uint("version", 1, "sealed format version")?;
    let kind = w.uint("kind", 1, "")?;
    w.annotate(match kind {
        1 => "an account state, §8.4".to_owned(),
        2 => "a session state, §8.5".to_owned(),
        3 => "a conversation state, §8.6".to_owned(),
        4 => "a known user state, §11.9".to_owned(),
        5 => "a user key state, §11.9".to_owned(),
        k => format!("UNKNOWN kind 0x{k:02x}"),
    });
    w.take("nonce", 12, "random per write")?;
    let rest = w.remaining();
    if rest < 16 {
        w.take("tag", 16, "")?;
        return None;
    }
    w.take(
        "ciphertext",
        rest - 16,
        "the encrypted state; opening it needs the storage key",
    )?;
    w.take("tag", 16, "Poly1305 tag; AD = the first 15 bytes")?;
    Some(())
}

pub(super) fn inspect_sealed(bytes: &[u8]) -> Report {
    let mut w = Walk::new(bytes, 0);
    let _ = sealed_layout(&mut w);
    let mut r = report(
        "sealed_state",
        "sealed state: outer framing only".into(),
        "§8.3",
        bytes.len(),
        w.fields.clone(),
    );
    // The library checks the framing before the tag: with any key, a
    // well-framed blob fails only with `Authentication`.
    let kind = match bytes.get(14) {
        Some(2) => SealedKind::Session,
        Some(3) => SealedKind::Conversation,
        Some(4) => SealedKind::KnownUser,
        Some(5) => SealedKind::UserKey,
        _ => SealedKind::Account,
    };
    let key = Secret::<32>::zero();
    let at = |name: &str| find(&r.fields, name).map(|f| f.offset);
    let verdict = storage::open(&DefaultProvider::default(), &key, kind, bytes);
    let violation = match verdict {
        Err(StorageError::Authentication) | Ok(_) => None,
        Err(e) => {
            let (rule, offset) = match e {
                StorageError::BadMagic => (
                    "opening checks the magic \"SOVA-1 sealed\" [BadMagic]".to_owned(),
                    Some(0),
                ),
                StorageError::UnsupportedVersion(v) => (
                    format!("the version MUST be 0x01, found {v} [UnsupportedVersion]"),
                    at("version"),
                ),
                StorageError::WrongKind(k) => (
                    format!(
                        "`kind` MUST be 0x01 (account), 0x02 (session), 0x03 (conversation), 0x04 (known user) or 0x05 (user key), found 0x{k:02x} [WrongKind]"
                    ),
                    at("kind"),
                ),
                StorageError::Truncated => (
                    format!(
                        "the blob MUST hold the magic, version, kind, nonce and tag [Truncated]{}",
                        truncation_detail(&w)
                    ),
                    stop_offset(&w),
                ),
                other => (other.to_string(), stop_offset(&w)),
            };
            Some(Violation {
                section: "§8.3",
                rule,
                error: format!("{e:?}"),
                message: e.to_string(),
                offset,
            })
        }
    };
    match violation {
        Some(v) => r.violation = Some(v),
        None => r.notes.push(
            "framing valid; the contents need the storage key (§8.3) and are not shown".into(),
        ),
    }
    r
}
