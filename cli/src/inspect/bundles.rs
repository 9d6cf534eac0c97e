//! Prekey bundles, initial messages and prekey uploads (spec §7.3, §7.5,
//! §7.11): layouts, the rule a rejected one breaks, and the reports.

use sova::ratchet::message::{self};
use sova::session::{
    BundleError, HandshakeHeader, IdentityPublic, InitialMessageError, PrekeyBundle, PrekeyUpload,
    UploadError, MAX_UPLOAD_ENTRIES,
};
use sova::DefaultProvider;

use super::messages::{message_violation, ratchet_message_layout};
use super::*;

pub(super) fn identity_public(w: &mut Walk<'_>, name: &str, note: &str) -> Option<()> {
    w.group(name, note, |w| {
        w.take("IK_sig", 32, "Ed25519 public key")?;
        w.take("IK_dh", 32, "X25519 public key")?;
        w.take(
            "binding",
            64,
            "LabeledSign(IK_sig, \"identity binding\", IK_sig || IK_dh)",
        )?;
        Some(())
    })
}

pub(super) fn kem_kind_note(kind: u64) -> String {
    match kind {
        2 => "last-resort ML-KEM-768 prekey".into(),
        3 => "one-time ML-KEM-768 prekey".into(),
        k => format!("INVALID: 0x{k:02x} is not a KEM prekey kind (0x02 or 0x03)"),
    }
}

/// §7.3.
pub(super) fn bundle_layout(w: &mut Walk<'_>) -> Option<()> {
    w.uint("version", 1, "SOVA-1")?;
    w.uint("type", 1, "prekey bundle")?;
    identity_public(w, "identity", "the responder's IdentityPublic, §7.1")?;
    w.uint("spk_id", 4, "id of the signed prekey")?;
    w.take("SPK", 32, "signed X25519 prekey; the initiator's first DHr")?;
    w.take("spk_signature", 64, "PrekeySignature(0x01, spk_id, SPK)")?;
    let flag = w.uint("opk_flag", 1, "")?;
    match flag {
        0 => w.annotate("no one-time prekey"),
        1 => {
            w.annotate("a one-time prekey follows");
            w.uint("opk_id", 4, "id of the one-time X25519 prekey")?;
            w.take("OPK", 32, "one-time X25519 prekey, not signed")?;
        }
        f => {
            w.annotate(format!("INVALID flag 0x{f:02x} (must be 0 or 1)"));
            return w.halt();
        }
    }
    let kind = w.uint("kem_kind", 1, "")?;
    w.annotate(kem_kind_note(kind));
    if !(2..=3).contains(&kind) {
        return w.halt();
    }
    w.uint("kem_id", 4, "id of the ML-KEM-768 prekey")?;
    w.take("PQPK", 1184, "ML-KEM-768 encapsulation key")?;
    w.take(
        "kem_signature",
        64,
        "PrekeySignature(kem_kind, kem_id, PQPK)",
    )?;
    w.trailing();
    Some(())
}

/// §7.5, with the embedded ratchet message.
pub(super) fn initial_message_layout(w: &mut Walk<'_>) -> Option<()> {
    w.uint("version", 1, "SOVA-1")?;
    w.uint("type", 1, "initial message")?;
    initial_fields(w)?;
    let len = w.uint("L", 4, "length of the ratchet message")? as usize;
    if len > message::MAX_MESSAGE_LEN {
        w.annotate(format!(
            "INVALID: longer than the largest ratchet message ({} bytes, §6.4)",
            message::MAX_MESSAGE_LEN
        ));
        return w.halt();
    }
    w.nested(
        "ratchet message",
        len,
        "a ratchet message of §6, type 0x01 or 0x02",
        |w| {
            let _ = ratchet_message_layout(w);
        },
    )?;
    w.trailing();
    Some(())
}

/// The handshake fields of an initial message, after version and type.
pub(super) fn initial_fields(w: &mut Walk<'_>) -> Option<()> {
    identity_public(w, "identity", "the initiator's IdentityPublic, §7.1")?;
    w.take("EK", 32, "the initiator's ephemeral X25519 key")?;
    w.uint("spk_id", 4, "the responder's signed prekey used")?;
    let flag = w.uint("opk_flag", 1, "")?;
    match flag {
        0 => w.annotate("no one-time prekey"),
        1 => {
            w.annotate("a one-time prekey id follows");
            w.uint("opk_id", 4, "the responder's one-time prekey used")?;
        }
        f => {
            w.annotate(format!("INVALID flag 0x{f:02x} (must be 0 or 1)"));
            return w.halt();
        }
    }
    let kind = w.uint("kem_kind", 1, "")?;
    w.annotate(kem_kind_note(kind));
    if !(2..=3).contains(&kind) {
        return w.halt();
    }
    w.uint("kem_id", 4, "the responder's ML-KEM-768 prekey used")?;
    w.take("CT", 1088, "ML-KEM-768 ciphertext")?;
    Some(())
}

pub(super) fn bundle_violation(e: &BundleError, fields: &[Field], w: &Walk<'_>) -> Violation {
    let at = |name: &str| find(fields, name).map(|f| f.offset);
    let (rule, offset) = match e {
        BundleError::Truncated(f) => (
            format!(
                "a parser MUST reject a truncated bundle [Truncated(\"{f}\")]{}",
                truncation_detail(w)
            ),
            stop_offset(w),
        ),
        BundleError::UnsupportedVersion(v) => (
            format!("the version MUST be 0x01, found 0x{v:02x} [UnsupportedVersion]"),
            Some(0),
        ),
        BundleError::WrongType(t) => (
            format!("the type MUST be 0x10, found 0x{t:02x} [WrongType]"),
            Some(1),
        ),
        BundleError::InvalidFlag(f) => (
            format!("the one-time prekey flag MUST be 0 or 1, found 0x{f:02x} [InvalidFlag]"),
            at("opk_flag"),
        ),
        BundleError::InvalidKemKind(k) => (
            format!("`kem_kind` MUST be 0x02 or 0x03, found 0x{k:02x} [InvalidKemKind]"),
            at("kem_kind"),
        ),
        BundleError::TrailingBytes(n) => (
            format!("nothing may follow the bundle; found {n} trailing byte(s) [TrailingBytes]"),
            at("trailing bytes"),
        ),
        BundleError::InvalidIdentitySignature => (
            "the initiator MUST verify the identity binding [InvalidIdentitySignature]".to_owned(),
            at("binding"),
        ),
        BundleError::InvalidSignedPrekeySignature => (
            "the initiator MUST verify the SPK signature [InvalidSignedPrekeySignature]".to_owned(),
            at("spk_signature"),
        ),
        BundleError::InvalidKemPrekeySignature => (
            "the initiator MUST verify the PQPK signature [InvalidKemPrekeySignature]".to_owned(),
            at("kem_signature"),
        ),
        other => (other.to_string(), stop_offset(w)),
    };
    Violation {
        section: "§7.3",
        rule,
        error: format!("{e:?}"),
        message: e.to_string(),
        offset,
    }
}

pub(super) fn initial_violation(
    e: &InitialMessageError,
    fields: &[Field],
    w: &Walk<'_>,
) -> Violation {
    let at = |name: &str| find(fields, name).map(|f| f.offset);
    let (rule, offset) = match e {
        InitialMessageError::Truncated(f) => (
            format!(
                "a parser MUST reject a truncated initial message [Truncated(\"{f}\")]{}",
                truncation_detail(w)
            ),
            stop_offset(w),
        ),
        InitialMessageError::UnsupportedVersion(v) => (
            format!("the version MUST be 0x01, found 0x{v:02x} [UnsupportedVersion]"),
            Some(0),
        ),
        InitialMessageError::WrongType(t) => (
            format!("the type MUST be 0x03, found 0x{t:02x} [WrongType]"),
            Some(1),
        ),
        InitialMessageError::InvalidFlag(f) => (
            format!("the one-time prekey flag MUST be 0 or 1, found 0x{f:02x} [InvalidFlag]"),
            at("opk_flag"),
        ),
        InitialMessageError::InvalidKemKind(k) => (
            format!("`kem_kind` MUST be 0x02 or 0x03, found 0x{k:02x} [InvalidKemKind]"),
            at("kem_kind"),
        ),
        InitialMessageError::RatchetMessageTooLong(l) => (
            format!(
                "`L` MUST NOT exceed the largest ratchet message ({} bytes, §6.4); found {l} \
                 [RatchetMessageTooLong]",
                message::MAX_MESSAGE_LEN
            ),
            at("L"),
        ),
        InitialMessageError::TrailingBytes(n) => (
            format!("nothing may follow the ratchet message; found {n} trailing byte(s) [TrailingBytes]"),
            at("trailing bytes"),
        ),
        other => (other.to_string(), stop_offset(w)),
    };
    Violation {
        section: "§7.5",
        rule,
        error: format!("{e:?}"),
        message: e.to_string(),
        offset,
    }
}

pub(super) fn inspect_bundle(bytes: &[u8]) -> Report {
    let mut w = Walk::new(bytes, 0);
    let _ = bundle_layout(&mut w);
    let mut r = report(
        "bundle",
        "prekey bundle, type 0x10".into(),
        "§7.3",
        bytes.len(),
        w.fields.clone(),
    );
    let verdict = PrekeyBundle::parse(bytes).and_then(|b| {
        b.verify(&DefaultProvider::default())?;
        Ok(b)
    });
    match verdict {
        Ok(b) => {
            r.notes.push(
                "signatures valid: identity binding, signed prekey, ML-KEM prekey (§7.3)".into(),
            );
            r.notes.push(format!(
                "IdentityKey (IK_sig || IK_dh): {}",
                hex(&b.identity.identity_key())
            ));
        }
        Err(e) => r.violation = Some(bundle_violation(&e, &r.fields, &w)),
    }
    r
}

pub(super) fn identity_note(id: &IdentityPublic) -> String {
    match id.verify(&DefaultProvider::default()) {
        Ok(()) => "the initiator's identity binding signature is valid (§7.1)".into(),
        Err(_) => "the initiator's identity binding signature is INVALID (§7.1)".into(),
    }
}

pub(super) fn inspect_initial_message(bytes: &[u8]) -> Report {
    let mut w = Walk::new(bytes, 0);
    let _ = initial_message_layout(&mut w);
    let mut r = report(
        "initial_message",
        "initial message, type 0x03".into(),
        "§7.5",
        bytes.len(),
        w.fields.clone(),
    );
    match HandshakeHeader::parse(bytes) {
        Err(e) => r.violation = Some(initial_violation(&e, &r.fields, &w)),
        Ok((h, inner)) => {
            let base = bytes.len() - inner.len();
            match message::parse(inner) {
                Ok(_) => {
                    let valid = h.identity.verify(&DefaultProvider::default()).is_ok();
                    r.notes.push(identity_note(&h.identity));
                    if valid {
                        r.notes.push(
                            "well formed (§7.5); the embedded ratchet message is well formed (§6.5)"
                                .into(),
                        );
                    } else {
                        r.violation = Some(Violation {
                            section: "§7.6",
                            rule: "the responder MUST verify IdentityPublic_A's binding \
                                   [InvalidIdentitySignature]"
                                .into(),
                            error: "InvalidIdentitySignature".into(),
                            message: "initiator's identity signature is invalid".into(),
                            offset: find(&r.fields, "binding").map(|f| f.offset),
                        });
                    }
                }
                Err(e) => {
                    let mut v = message_violation(&e, &r.fields, &w, base, bytes.len());
                    v.rule = format!("embedded ratchet message at offset {base}: {}", v.rule);
                    v.error = format!("{e:?}");
                    r.violation = Some(v);
                }
            }
        }
    }
    r
}

/// §7.11.1.
pub(super) fn upload_layout(w: &mut Walk<'_>) -> Option<()> {
    w.uint("version", 1, "SOVA-1")?;
    w.uint("type", 1, "prekey upload")?;
    identity_public(w, "identity", "the uploader's IdentityPublic, §7.1")?;
    let flag = w.uint("long_term_flag", 1, "")?;
    match flag {
        0 => w.annotate("no long-term part"),
        1 => {
            w.annotate("the long-term part follows");
            w.group(
                "long-term part",
                "signed prekey and last-resort ML-KEM-768 prekey, as a bundle carries them",
                |w| {
                    w.uint("spk_id", 4, "id of the signed prekey")?;
                    w.take("SPK", 32, "signed X25519 prekey")?;
                    w.take("spk_signature", 64, "PrekeySignature(0x01, spk_id, SPK)")?;
                    w.uint("pqspk_id", 4, "id of the last-resort ML-KEM-768 prekey")?;
                    w.take("PQSPK", 1184, "ML-KEM-768 encapsulation key")?;
                    w.take(
                        "pqspk_signature",
                        64,
                        "PrekeySignature(0x02, pqspk_id, PQSPK)",
                    )?;
                    Some(())
                },
            )?;
        }
        f => {
            w.annotate(format!("INVALID flag 0x{f:02x} (must be 0 or 1)"));
            return w.halt();
        }
    }
    let count = w.uint(
        "count",
        2,
        format!("one-time prekeys, at most {MAX_UPLOAD_ENTRIES}"),
    )?;
    if count > MAX_UPLOAD_ENTRIES as u64 {
        w.annotate(format!("INVALID: more than {MAX_UPLOAD_ENTRIES} entries"));
        return w.halt();
    }
    for i in 0..count {
        w.group(&format!("entry[{i}]"), "", |w| {
            let kind = w.uint("kind", 1, "")?;
            match kind {
                4 => {
                    w.annotate("one-time X25519 prekey");
                    w.uint("id", 4, "prekey id")?;
                    w.take("OPK", 32, "one-time X25519 prekey, not signed")?;
                }
                3 => {
                    w.annotate("one-time ML-KEM-768 prekey");
                    w.uint("id", 4, "prekey id")?;
                    w.take("PQOPK", 1184, "ML-KEM-768 encapsulation key")?;
                    w.take("signature", 64, "PrekeySignature(0x03, id, PQOPK)")?;
                }
                k => {
                    w.annotate(format!(
                        "INVALID: 0x{k:02x} is not a one-time prekey kind (0x03 or 0x04)"
                    ));
                    return w.halt();
                }
            }
            Some(())
        })?;
    }
    w.trailing();
    Some(())
}

pub(super) fn upload_violation(e: &UploadError, fields: &[Field], w: &Walk<'_>) -> Violation {
    let at = |name: &str| find(fields, name).map(|f| f.offset);
    let (rule, offset) = match e {
        UploadError::Truncated(f) => (
            format!(
                "a parser MUST reject a truncated upload [Truncated(\"{f}\")]{}",
                truncation_detail(w)
            ),
            stop_offset(w),
        ),
        UploadError::UnsupportedVersion(v) => (
            format!("the version MUST be 0x01, found 0x{v:02x} [UnsupportedVersion]"),
            Some(0),
        ),
        UploadError::WrongType(t) => (
            format!("the type MUST be 0x11, found 0x{t:02x} [WrongType]"),
            Some(1),
        ),
        UploadError::InvalidFlag(f) => (
            format!("the long-term flag MUST be 0 or 1, found 0x{f:02x} [InvalidFlag]"),
            at("long_term_flag"),
        ),
        UploadError::TooManyEntries => (
            format!(
                "at most {MAX_UPLOAD_ENTRIES} entries, 1000 of kind 0x04 and 100 of kind 0x03 \
                 [TooManyEntries]"
            ),
            stop_offset(w).or(at("count")),
        ),
        UploadError::InvalidKind(k) => (
            format!("an entry's kind MUST be 0x03 or 0x04, found 0x{k:02x} [InvalidKind]"),
            stop_offset(w),
        ),
        UploadError::DuplicateId(id) => (
            format!("prekey ids MUST be distinct; {id} occurs twice [DuplicateId]"),
            None,
        ),
        UploadError::TrailingBytes(n) => (
            format!(
                "nothing may follow the last entry; found {n} trailing byte(s) [TrailingBytes]"
            ),
            at("trailing bytes"),
        ),
        UploadError::InvalidIdentitySignature => (
            "the server MUST verify the identity binding [InvalidIdentitySignature]".to_owned(),
            at("binding"),
        ),
        UploadError::InvalidSignedPrekeySignature => (
            "the server MUST verify the SPK signature [InvalidSignedPrekeySignature]".to_owned(),
            at("spk_signature"),
        ),
        UploadError::InvalidKemPrekeySignature(id) => (
            format!(
                "the server MUST verify every ML-KEM prekey signature; that of prekey {id} fails \
                 [InvalidKemPrekeySignature]"
            ),
            None,
        ),
        other => (other.to_string(), stop_offset(w)),
    };
    Violation {
        section: "§7.11",
        rule,
        error: format!("{e:?}"),
        message: e.to_string(),
        offset,
    }
}

pub(super) fn inspect_upload(bytes: &[u8]) -> Report {
    let mut w = Walk::new(bytes, 0);
    let _ = upload_layout(&mut w);
    let mut r = report(
        "prekey_upload",
        "prekey upload, type 0x11".into(),
        "§7.11",
        bytes.len(),
        w.fields.clone(),
    );
    let verdict = PrekeyUpload::parse(bytes).and_then(|u| {
        u.verify(&DefaultProvider::default())?;
        Ok(u)
    });
    match verdict {
        Ok(u) => {
            r.notes.push(format!(
                "signatures valid: identity binding{}, {} ML-KEM one-time prekey(s) (§7.11)",
                if u.long_term.is_some() {
                    ", signed prekey, last-resort prekey"
                } else {
                    ""
                },
                u.kem_one_time_prekey_ids().len()
            ));
            r.notes.push(format!(
                "one-time X25519 prekeys: {}; one-time ML-KEM-768 prekeys: {}; a server hands \
                 out one bundle per one-time prekey, then bundles with the last-resort prekey",
                u.one_time_prekey_ids().len(),
                u.kem_one_time_prekey_ids().len()
            ));
            r.notes.push(format!(
                "IdentityKey (IK_sig || IK_dh): {}",
                hex(&u.identity.identity_key())
            ));
        }
        Err(e) => r.violation = Some(upload_violation(&e, &r.fields, &w)),
    }
    r
}
