//! Persisted states (spec §8.2, §8.4, §8.5): ratchet, account and session
//! state layouts, the §8.1 rule a rejected state breaks, and the reports.

use sova::ratchet::{Ratchet, StateError};
use sova::session::{Account, Session};

use super::bundles::{identity_public, initial_fields};
use super::*;

pub(super) fn key32(w: &mut Walk<'_>, name: &str, note: &str) -> Option<()> {
    w.take(name, 32, note).map(|_| ())
}

/// The integrity check that ends every plain state encoding (§8.1).
pub(super) fn state_check(w: &mut Walk<'_>) -> Option<()> {
    key32(w, "check", "SHA-256 of every byte before it (§8.1)")?;
    w.trailing();
    Some(())
}

/// §8.2.
pub(super) fn ratchet_state_layout(w: &mut Walk<'_>) -> Option<()> {
    w.ascii("magic", 14, "")?;
    w.uint("version", 1, "state format version")?;
    let mode = w.uint("mode", 1, "")?;
    w.annotate(match mode {
        1 => "PLAIN: headers in the clear".to_owned(),
        2 => "ENCRYPTED: header encryption".to_owned(),
        m => format!("INVALID mode 0x{m:02x}"),
    });
    w.uint(
        "generation",
        8,
        "successful encryptions and decryptions so far",
    )?;
    let ad_len = w.uint("len(AD)", 2, "length of the session associated data")? as usize;
    w.take(
        "AD",
        ad_len,
        "session associated data: TH for sessions, §7.4",
    )?;
    key32(w, "RK", "root key")?;
    w.opt(
        "DHs",
        "our ratchet private key (its public key is recomputed)",
        |w| key32(w, "DHs.priv", "private key"),
    )?;
    w.opt("DHr", "the peer's ratchet public key", |w| {
        key32(w, "DHr", "public key")
    })?;
    w.opt("S", "the sending chain", |w| {
        key32(w, "CKs", "sending chain key")?;
        w.uint("Ns", 4, "next message number")?;
        w.opt("HKs", "header key, ENCRYPTED mode only", |w| {
            key32(w, "HKs", "header key")
        })?;
        Some(())
    })?;
    w.uint("PN", 4, "messages in our previous sending chain")?;
    w.opt("NHKs", "header key of our next sending chain", |w| {
        key32(w, "NHKs", "header key")
    })?;
    w.opt("NHKr", "header key of the peer's next chain", |w| {
        key32(w, "NHKr", "header key")
    })?;
    let count = w.uint("count", 1, "receiving chains, newest first, at most 5")?;
    for i in 0..count {
        w.group(
            &format!("R[{i}]"),
            if i == 0 {
                "receiving chain (newest)"
            } else {
                "receiving chain"
            },
            |w| {
                key32(w, "DHr", "the peer's ratchet key that opened it")?;
                let position = w.uint("position", 1, "")?;
                match position {
                    0 => {
                        w.annotate("open: the newest chain");
                        key32(w, "CKr", "chain key")?;
                        w.uint("Nr", 4, "next message number not yet derived")?;
                    }
                    1 => {
                        w.annotate("closed: its remaining keys are stored, its chain key erased");
                        w.uint("END", 4, "chain length announced by the peer")?;
                    }
                    p => {
                        w.annotate(format!("INVALID position 0x{p:02x}"));
                        return w.halt();
                    }
                }
                w.opt("HKr", "header key, ENCRYPTED mode only", |w| {
                    key32(w, "HKr", "header key")
                })?;
                let k = w.uint("k", 2, "stored skipped message keys")?;
                for j in 0..k {
                    w.group(&format!("SKIPPED[{j}]"), "", |w| {
                        w.uint("n", 4, "message number")?;
                        key32(w, "MK", "message key")
                    })?;
                }
                Some(())
            },
        )?;
    }
    state_check(w)
}

/// A published flag of §8.4: 0 or 1.
fn published(w: &mut Walk<'_>, name: &str, note: &str) -> Option<()> {
    let v = w.uint(name, 1, note)?;
    match v {
        0 => w.annotate(format!("{note}: not yet published (§7.11)")),
        1 => w.annotate(format!("{note}: published (§7.11)")),
        f => {
            w.annotate(format!("INVALID published flag 0x{f:02x} (must be 0 or 1)"));
            return w.halt();
        }
    }
    Some(())
}

/// §8.4.
pub(super) fn account_state_layout(w: &mut Walk<'_>) -> Option<()> {
    w.ascii("magic", 14, "")?;
    w.uint("version", 1, "state format version")?;
    w.uint(
        "generation",
        8,
        "incremented by every change; a smaller value than one seen before means a restored older copy",
    )?;
    key32(w, "IK_sig.seed", "Ed25519 seed of the identity")?;
    key32(w, "IK_dh.priv", "X25519 private key of the identity")?;
    w.uint("next_prekey_id", 4, "the next prekey id to allocate")?;
    published(w, "long_term_published", "the current SPK and PQSPK")?;
    let x25519 = |w: &mut Walk<'_>| -> Option<()> {
        w.uint("id", 4, "prekey id")?;
        key32(w, "private", "X25519 private key")
    };
    let kem = |w: &mut Walk<'_>| -> Option<()> {
        w.uint("id", 4, "prekey id")?;
        w.take("seed", 64, "ML-KEM-768 seed d || z").map(|_| ())
    };
    let records = |w: &mut Walk<'_>| -> Option<()> {
        let r = w.uint(
            "r",
            2,
            "replay records of handshakes without a one-time prekey, at most 4096",
        )?;
        for i in 0..r {
            key32(
                w,
                &format!("record[{i}]"),
                "SHA-256(EK) of an accepted handshake; strictly increasing",
            )?;
        }
        Some(())
    };
    let spk = |w: &mut Walk<'_>| -> Option<()> {
        x25519(w)?;
        records(w)
    };
    w.group("SPK", "current signed prekey and its replay records", spk)?;
    w.opt(
        "previous SPK",
        "kept after a rotation, with its replay records",
        spk,
    )?;
    let n = w.uint("n", 2, "one-time X25519 prekeys, at most 1000")?;
    for i in 0..n {
        w.group(&format!("OPK[{i}]"), "", |w| {
            x25519(w)?;
            published(w, "published", "this one-time prekey")
        })?;
    }
    w.group("PQSPK", "current last-resort ML-KEM-768 prekey", kem)?;
    w.opt("previous PQSPK", "kept after a rotation", kem)?;
    let m = w.uint("m", 2, "one-time ML-KEM-768 prekeys, at most 100")?;
    for i in 0..m {
        w.group(&format!("PQOPK[{i}]"), "", |w| {
            kem(w)?;
            published(w, "published", "this one-time prekey")
        })?;
    }
    state_check(w)
}

/// §8.5, with the pending initial message and the ratchet state inside.
pub(super) fn session_state_layout(w: &mut Walk<'_>) -> Option<()> {
    w.ascii("magic", 14, "")?;
    w.uint("version", 1, "state format version")?;
    let role = w.uint("we_initiated", 1, "")?;
    w.annotate(match role {
        0 => "this side is the responder".to_owned(),
        1 => "this side is the initiator".to_owned(),
        r => format!("INVALID role {r}"),
    });
    let confirmed = w.uint(
        "confirmed",
        1,
        "a non-initial message from the peer decrypted on this session (§7.7)",
    )?;
    w.annotate(match confirmed {
        0 => "not confirmed".to_owned(),
        1 => "confirmed".to_owned(),
        c => format!("INVALID confirmed flag {c}"),
    });
    key32(w, "TH", "session id: the handshake transcript hash")?;
    w.take(
        "IdentityKey_local",
        64,
        "IK_sig.pub || IK_dh.pub of this side",
    )?;
    identity_public(w, "IdentityPublic_peer", "the peer's identity, §7.1")?;
    w.opt(
        "pending",
        "handshake fields still wrapped around outgoing messages",
        |w| {
            let len = w.uint("len", 4, "")? as usize;
            w.nested(
                "initial message",
                len,
                "§7.5 with an empty ratchet message",
                |w| {
                    let _ = (|| {
                        w.uint("version", 1, "SOVA-1")?;
                        w.uint("type", 1, "initial message")?;
                        initial_fields(w)?;
                        w.uint("L", 4, "0: no ratchet message")?;
                        w.trailing();
                        Some(())
                    })();
                },
            )
        },
    )?;
    w.opt(
        "accepted",
        "responder: the initial message it accepted",
        |w| {
            key32(w, "EK", "the initiator's ephemeral key")?;
            key32(
                w,
                "D",
                "SHA-256 of the accepted initial message with L = 0 (repeats must match, §7.6)",
            )
        },
    )?;
    let len = w.uint("len", 4, "length of the ratchet state")? as usize;
    w.nested("ratchet state", len, "§8.2", |w| {
        let _ = ratchet_state_layout(w);
    })?;
    state_check(w)
}

pub(super) fn state_violation(
    e: &StateError,
    layout: &'static str,
    what: &str,
    fields: &[Field],
    w: &Walk<'_>,
) -> Violation {
    let (rule, offset) = match e {
        StateError::BadMagic => (
            format!("a reader MUST reject an unknown magic [BadMagic] (expected {what})"),
            Some(0),
        ),
        StateError::UnsupportedVersion(v) => (
            format!(
                "a reader MUST reject a format version it does not know, found {v} \
                 [UnsupportedVersion]"
            ),
            find(fields, "version").map(|f| f.offset),
        ),
        StateError::Truncated => (
            format!(
                "a reader MUST reject truncated input [Truncated]{}",
                truncation_detail(w)
            ),
            stop_offset(w),
        ),
        StateError::Invalid(field) => (
            format!(
                "a reader MUST reject any field value the writer could never have produced \
                 [Invalid(\"{field}\")]"
            ),
            None,
        ),
        StateError::TrailingBytes => (
            "a reader MUST reject trailing bytes [TrailingBytes]".to_owned(),
            find(fields, "trailing bytes").map(|f| f.offset),
        ),
        StateError::Corrupted => (
            "the last 32 bytes MUST be SHA-256 of every byte before them, checked after \
             the magic and version and before any other field [Corrupted]"
                .to_owned(),
            // The outermost check: the last top-level field of that name.
            fields
                .iter()
                .rev()
                .find(|f| f.name == "check")
                .map(|f| f.offset),
        ),
        other => (other.to_string(), stop_offset(w)),
    };
    Violation {
        section: "§8.1",
        rule: format!("{rule} (layout: {layout})"),
        error: format!("{e:?}"),
        message: e.to_string(),
        offset,
    }
}

pub(super) fn inspect_ratchet_state(bytes: &[u8]) -> Report {
    let mut w = Walk::new(bytes, 0);
    let _ = ratchet_state_layout(&mut w);
    let mut r = report(
        "ratchet_state",
        "ratchet state (SECRET: contains keys)".into(),
        "§8.2",
        bytes.len(),
        w.fields.clone(),
    );
    match Ratchet::from_bytes(bytes) {
        Ok(rt) => {
            r.notes.push(format!(
                "valid: {} receiving chain(s), {} stored skipped key(s)",
                rt.receiving_chains(),
                rt.stored_keys()
            ));
        }
        Err(e) => {
            r.violation = Some(state_violation(
                &e,
                "§8.2",
                "\"SOVA-1 ratchet\"",
                &r.fields,
                &w,
            ))
        }
    }
    r
}

pub(super) fn inspect_session_state(bytes: &[u8]) -> Report {
    let mut w = Walk::new(bytes, 0);
    let _ = session_state_layout(&mut w);
    let mut r = report(
        "session_state",
        "session state (SECRET: contains keys)".into(),
        "§8.5",
        bytes.len(),
        w.fields.clone(),
    );
    match Session::from_bytes(bytes) {
        Ok(s) => {
            r.notes.push(format!(
                "valid: {}{}, {} receiving chain(s), {} stored skipped key(s)",
                if s.we_initiated() {
                    if s.is_pending() {
                        "initiator, still wrapping messages in initial messages"
                    } else {
                        "initiator"
                    }
                } else {
                    "responder"
                },
                if s.is_confirmed() {
                    ", confirmed by the peer"
                } else {
                    ", not confirmed by the peer"
                },
                s.ratchet().receiving_chains(),
                s.ratchet().stored_keys()
            ));
        }
        Err(e) => {
            r.violation = Some(state_violation(
                &e,
                "§8.5",
                "\"SOVA-1 session\"",
                &r.fields,
                &w,
            ))
        }
    }
    r
}

pub(super) fn inspect_account_state(bytes: &[u8]) -> Report {
    let mut w = Walk::new(bytes, 0);
    let _ = account_state_layout(&mut w);
    let mut r = report(
        "account_state",
        "account state (SECRET: contains private keys)".into(),
        "§8.4",
        bytes.len(),
        w.fields.clone(),
    );
    match Account::from_bytes(bytes) {
        Ok(a) => {
            r.notes.push(format!(
                "valid: generation {}, {} one-time X25519 prekey(s), {} one-time ML-KEM prekey(s), {} replay record(s) on the current signed prekey",
                a.generation(),
                a.one_time_prekey_ids().len(),
                a.kem_one_time_prekey_ids().len(),
                a.replay_record_count()
            ));
            r.notes.push(format!(
                "IdentityKey recomputed from the secrets: {}",
                hex(&a.identity_key())
            ));
        }
        Err(e) => {
            r.violation = Some(state_violation(
                &e,
                "§8.4",
                "\"SOVA-1 account\"",
                &r.fields,
                &w,
            ))
        }
    }
    r
}
