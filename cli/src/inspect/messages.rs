//! Ratchet messages (spec §6): layout, the §6.5 rule a rejected message
//! breaks, and the report.

use sova::ratchet::message::{self, ParseError};
use sova::ratchet::padding;

use super::*;

/// §6.2 / §6.3.
pub(super) fn ratchet_message_layout(w: &mut Walk<'_>) -> Option<()> {
    let v = w.uint("version", 1, "")?;
    w.annotate(if v == 1 {
        "SOVA-1".to_owned()
    } else {
        format!("UNSUPPORTED: 0x{v:02x} (must be 0x01)")
    });
    let t = w.uint("type", 1, "")?;
    match t {
        1 => {
            w.annotate("ratchet message, header in the clear, §6.2");
            w.group("header", "§6.1", |w| {
                w.take("dh", 32, "the sender's current ratchet public key")?;
                w.uint("pn", 4, "messages in the sender's previous sending chain")?;
                w.uint("n", 4, "this message's number in its chain, from 0")?;
                w.take(
                    "salt",
                    16,
                    "16 random bytes of this message, mixed into its keys and nonces (§5.2.4)",
                )?;
                Some(())
            })?;
        }
        2 => {
            w.annotate("ratchet message, encrypted header, §6.3");
            w.take("header_nonce", 12, "HeaderNonce(HNK, n, salt)")?;
            w.take("enc_header", 56, "the 56-byte header, encrypted under HEK")?;
            w.take("header_tag", 16, "its Poly1305 tag, under HeaderAD")?;
        }
        t => {
            w.annotate(format!(
                "UNKNOWN: 0x{t:02x} (ratchet messages are 0x01 or 0x02)"
            ));
            return w.halt();
        }
    }
    let b = w.uint("body_len", 4, "")? as usize;
    if b < 16 || !padding::is_padded_len(b - 16) {
        w.annotate(format!(
            "INVALID: {b} - 16 is not a padded length (32 <= B - 16 <= 2^20, Padme(B - 16) = B - 16)"
        ));
        return w.halt();
    }
    w.annotate(format!("B = PaddedLen(L) + 16 = {} + 16", b - 16));
    let end = w.here() + b;
    w.group("body", format!("bytes up to offset {end}"), |w| {
        w.take(
            "ciphertext",
            b - 16,
            "ChaCha20-Poly1305 ciphertext of Pad(P)",
        )?;
        w.take(
            "tag",
            16,
            "Poly1305 tag, under BodyAD = u16(len(AD)) || AD || prefix",
        )?;
        Some(())
    })?;
    w.trailing();
    Some(())
}

/// The §6.5 rule a ratchet-message parse error breaks.
pub(super) fn message_violation(
    e: &ParseError,
    fields: &[Field],
    w: &Walk<'_>,
    base: usize,
    input_len: usize,
) -> Violation {
    let (rule, offset) = match e {
        ParseError::Truncated("version") => (
            "rule 1: a message has at least 1 byte, and `version` MUST be 0x01 [Truncated]"
                .to_owned(),
            Some(base),
        ),
        ParseError::UnsupportedVersion(v) => (
            format!("rule 1: `version` MUST be 0x01, found 0x{v:02x} [UnsupportedVersion]"),
            Some(base),
        ),
        ParseError::Truncated("type") => (
            "rule 2: a message has at least 2 bytes, and `type` MUST be 0x01 or 0x02 [Truncated]"
                .to_owned(),
            Some(base + 1),
        ),
        ParseError::UnknownType(t) => (
            format!(
                "rule 2: `type` MUST be 0x01 or 0x02, found 0x{t:02x} [UnknownType] \
                 (other Sova objects: 0x03 initial message §7.5, 0x10 bundle §7.3, 0x11 prekey upload §7.11)"
            ),
            Some(base + 1),
        ),
        ParseError::Truncated("body") => {
            let b = find(fields, "body_len").and_then(|f| match f.shown {
                Shown::Uint(v) => Some((v, f.offset + 4)),
                _ => None,
            });
            let detail = match b {
                Some((b, start)) => format!(
                    ": body_len = {b} but {} byte(s) follow",
                    input_len.saturating_sub(start)
                ),
                None => String::new(),
            };
            (
                format!(
                    "rule 5: exactly `body_len` bytes MUST follow [Truncated(\"body\")]{detail}{}",
                    truncation_detail(w)
                ),
                stop_offset(w),
            )
        }
        ParseError::Truncated(field) => (
            format!(
                "rule 3: the fixed fields of the type MUST be present [Truncated(\"{field}\")]{}",
                truncation_detail(w)
            ),
            stop_offset(w),
        ),
        ParseError::InvalidBodyLength(b) => (
            format!(
                "rule 4: `body_len` MUST be at least 16 and `body_len` - 16 a padded length \
                 (32 <= B - 16 <= 2^20, Padme(B - 16) = B - 16); found {b} [InvalidBodyLength]"
            ),
            find(fields, "body_len").map(|f| f.offset),
        ),
        ParseError::TrailingBytes(n) => (
            format!(
                "rule 5: nothing may follow the body; found {n} trailing byte(s) [TrailingBytes]"
            ),
            find(fields, "trailing bytes").map(|f| f.offset),
        ),
        other => (format!("{other}"), stop_offset(w)),
    };
    Violation {
        section: "§6.5",
        rule,
        error: format!("{e:?}"),
        message: e.to_string(),
        offset,
    }
}

pub(super) fn inspect_ratchet_message(bytes: &[u8]) -> Report {
    let mut w = Walk::new(bytes, 0);
    let _ = ratchet_message_layout(&mut w);
    let (title, section) = match bytes.get(1) {
        Some(2) => ("ratchet message, type 0x02: encrypted header", "§6.3"),
        Some(1) => ("ratchet message, type 0x01: header in the clear", "§6.2"),
        _ => ("ratchet message", "§6"),
    };
    let verdict = message::parse(bytes).map(|_| ());
    let mut r = report(
        "ratchet_message",
        title.into(),
        section,
        bytes.len(),
        w.fields.clone(),
    );
    match verdict {
        Ok(()) => {
            r.notes.push(
                "well formed under every rule of §6.5; tags and keys can only be checked with \
                 the receiving session's state"
                    .into(),
            );
            if let Some(f) = find(&r.fields, "body_len") {
                if let Shown::Uint(b) = f.shown {
                    r.notes.push(format!(
                        "the plaintext is at most {} bytes (PaddedLen hides its exact length, §5.4)",
                        b.saturating_sub(17)
                    ));
                }
            }
        }
        Err(e) => r.violation = Some(message_violation(&e, &r.fields, &w, 0, bytes.len())),
    }
    r
}
