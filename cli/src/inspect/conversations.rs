//! Conversation states (spec §8.6): the peer and the sessions held.

use sova::session::Conversation;

use super::states::{session_state_layout, state_check, state_violation};
use super::*;

/// §8.6: magic, version, peer, count, each session (§8.5) and the check.
pub(super) fn conversation_state_layout(w: &mut Walk<'_>) -> Option<()> {
    w.ascii("magic", 19, "")?;
    w.uint("version", 1, "state format version")?;
    w.take(
        "IdentityKey_peer",
        64,
        "the expected peer: IK_sig.pub || IK_dh.pub",
    )?;
    let count = w.uint("count", 1, "sessions held, in set-up order (at most 5)")?;
    if count > 5 {
        w.annotate(format!("INVALID: {count} sessions, more than 5"));
    }
    for i in 0..count {
        let len = w.uint("len", 4, "length of the session state")? as usize;
        w.nested(&format!("session {i}"), len, "§8.5", |w| {
            let _ = session_state_layout(w);
        })?;
    }
    state_check(w)
}

pub(super) fn inspect_conversation_state(bytes: &[u8]) -> Report {
    let mut w = Walk::new(bytes, 0);
    let _ = conversation_state_layout(&mut w);
    let mut r = report(
        "conversation_state",
        "conversation state (SECRET: contains keys)".into(),
        "§8.6",
        bytes.len(),
        w.fields.clone(),
    );
    match Conversation::from_bytes(bytes) {
        Ok(c) => {
            let active = c.active_session().map(|s| hex(&s.session_id()[..8]));
            r.notes.push(format!(
                "valid: {} session(s); messages are sent on {}",
                c.sessions().len(),
                match active {
                    Some(id) => format!("the session {id}… (§7.7)"),
                    None => "no session yet".to_owned(),
                }
            ));
        }
        Err(e) => {
            r.violation = Some(state_violation(
                &e,
                "§8.6",
                "\"SOVA-1 conversation\"",
                &r.fields,
                &w,
            ))
        }
    }
    r
}
