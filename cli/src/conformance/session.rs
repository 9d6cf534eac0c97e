//! Capability `session` (spec appendix A.6.3): live sessions with this
//! library, forged and replayed initial messages.

use serde_json::json;
use sova::ratchet::HeaderMode;
use sova::session::{Account, Session};

use super::live::{describe, Peer};
use super::ratchet::{flip, Tamper};
use super::{field, hex_of, Live, Runner};
use crate::protocol::mode_name;
use crate::{classes, hex};

/// A forged initial message: its ML-KEM ciphertext changed. Implicit
/// rejection gives an unrelated shared secret, so the first message cannot
/// decrypt (§7.6), and nothing may be committed.
pub(super) fn kem_ciphertext_tamper(wire: &[u8], mode: HeaderMode) -> Tamper {
    // version, type, IdentityPublic (128), EK (32), spk_id (4), opk flag (+ id), kind, kem_id.
    let flag_at = 2 + 128 + 32 + 4;
    let ct_at = flag_at + 1 + if wire.get(flag_at) == Some(&1) { 4 } else { 0 } + 1 + 4;
    Tamper {
        what: "forged initial message: KEM ciphertext bit flipped",
        message: flip(wire, ct_at + 100),
        class: match mode {
            HeaderMode::Plain => "FirstMessage(Authentication)".into(),
            HeaderMode::Encrypted => "FirstMessage(HeaderAuthentication)".into(),
        },
    }
}

impl Runner<'_> {
    pub(super) fn session_pair(
        &mut self,
        mode: HeaderMode,
        port_initiates: bool,
    ) -> Result<String, String> {
        let lib_account =
            Account::new(&mut self.crypto).map_err(|e| format!("this library: {e}"))?;
        let port_account = match self.port.call("account_new", json!({})).map_err(|b| b.0)? {
            Ok(m) => field(&m, "account_new", "handle")?.to_owned(),
            Err(e) => return Err(format!("account_new: {} ({})", e.class, e.message)),
        };
        let mut live = Live::new(mode);
        // Plain mode uses one-time prekeys (a replayed initial message then
        // names a used one); encrypted mode uses none (the replay records
        // must catch the replay).
        let one_time = mode == HeaderMode::Plain;
        let expected_replay = if one_time {
            "OneTimePrekeyUnknownOrUsed"
        } else {
            "Replay"
        };
        let (mut a, mut b) = if port_initiates {
            // The implementation starts from this library's bundle.
            let mut account = lib_account;
            let opk = if one_time {
                account
                    .generate_one_time_prekeys(&mut self.crypto, 1)
                    .map_err(|e| format!("this library: {e}"))?
                    .first()
                    .copied()
            } else {
                None
            };
            let bundle = account
                .bundle(opk, None)
                .map_err(|e| format!("this library: {e}"))?
                .to_bytes();
            let req = json!({
                "account": port_account, "bundle": hex(&bundle), "header_mode": mode_name(mode),
            });
            let m = match self.port.call("session_start", req).map_err(|b| b.0)? {
                Ok(m) => m,
                Err(e) => return Err(format!("session_start: {} ({})", e.class, e.message)),
            };
            let handle = field(&m, "session_start", "handle")?.to_owned();
            live.session_id = Some(hex_of(&m, "session_start", "session_id")?);
            (
                Peer::PortInitiator(handle),
                Peer::LibResponder {
                    account: Box::new(account),
                    session: None,
                },
            )
        } else {
            // This library starts from the implementation's bundle.
            let req = json!({
                "account": port_account, "one_time_prekey": one_time, "kem_one_time_prekey": one_time,
            });
            let m = match self.port.call("bundle", req).map_err(|b| b.0)? {
                Ok(m) => m,
                Err(e) => return Err(format!("bundle: {} ({})", e.class, e.message)),
            };
            let bundle = hex_of(&m, "bundle", "bundle")?;
            let s = Session::start_unverified(&lib_account, &mut self.crypto, &bundle, mode)
                .map_err(|e| {
                    format!(
                        "this library rejects the implementation's bundle: {}",
                        classes::start(&e)
                    )
                })?;
            live.session_id = Some(s.session_id().to_vec());
            (
                Peer::LibInitiator(Box::new(s)),
                Peer::PortResponder {
                    account: port_account.clone(),
                    session: None,
                },
            )
        };
        self.converse(&mut a, &mut b, &mut live, self.opts.rounds, true)?;
        let mut extra = String::new();
        if !port_initiates {
            // A replayed initial message must not start a second session.
            let first = live
                .first_initial
                .take()
                .ok_or("internal: no initial message was sent")?;
            let req = json!({ "account": port_account, "message": hex(&first) });
            match self.port.call("session_accept", req).map_err(|b| b.0)? {
                Ok(_) => {
                    return Err("a replayed initial message was accepted as a new session".into())
                }
                Err(e) if e.class != expected_replay => {
                    return Err(format!(
                        "a replayed initial message was rejected with {}; expected {expected_replay}",
                        e.class
                    ))
                }
                Err(_) => {
                    extra = format!(
                        "; forged initial message rejected without using a prekey; replayed one refused ({expected_replay})"
                    )
                }
            }
        }
        let _ = self.port.call("drop", json!({ "handle": port_account }));
        Ok(format!("{}{extra}", describe(&live.stats)))
    }

    /// Initial messages without one-time prekeys, each repeated to
    /// `session_accept` after both were accepted: `Replay` (§7.6).
    pub(super) fn initial_replay(&mut self, mode: HeaderMode) -> Result<String, String> {
        let lib = Account::new(&mut self.crypto).map_err(|e| format!("this library: {e}"))?;
        let m = self.call_ok("account_new", json!({}))?;
        let account = field(&m, "account_new", "handle")?.to_owned();
        let m = self.call_ok(
            "bundle",
            json!({ "account": account, "one_time_prekey": false, "kem_one_time_prekey": false }),
        )?;
        let bundle = hex_of(&m, "bundle", "bundle")?;
        let mut firsts = Vec::new();
        for i in 0..2 {
            let (msg, r) = self.handshake(&lib, &account, &bundle, mode, "handshake")?;
            if let Err(c) = r {
                return Err(format!("initial message {i} was refused with {c}"));
            }
            firsts.push(msg);
        }
        for (i, msg) in firsts.iter().enumerate() {
            self.call_refused(
                "session_accept",
                json!({ "account": account, "message": hex(msg) }),
                "Replay",
                &format!("initial message {i}, given to session_accept again,"),
            )?;
        }
        let _ = self.port.call("drop", json!({ "handle": account }));
        Ok("2 initial messages without one-time prekeys accepted; each refused as Replay when repeated".into())
    }

    /// Both parties start a session to each other at once (§7.7): each
    /// initial message is `NotThisSession` for the receiver's own session,
    /// starts a session through its account, and both sessions carry replies.
    pub(super) fn simultaneous(&mut self, mode: HeaderMode) -> Result<String, String> {
        let e = |e: &dyn std::fmt::Display| format!("this library: {e}");
        let mut lib = Account::new(&mut self.crypto).map_err(|x| e(&x))?;
        let m = self.call_ok("account_new", json!({}))?;
        let account = field(&m, "account_new", "handle")?.to_owned();
        let m = self.call_ok(
            "bundle",
            json!({ "account": account, "one_time_prekey": false, "kem_one_time_prekey": false }),
        )?;
        let port_bundle = hex_of(&m, "bundle", "bundle")?;
        let lib_bundle = lib.bundle(None, None).map_err(|x| e(&x))?.to_bytes();
        let m = self.call_ok(
            "session_start",
            json!({ "account": account, "bundle": hex(&lib_bundle), "header_mode": mode_name(mode) }),
        )?;
        let port_init = field(&m, "session_start", "handle")?.to_owned();
        let mut lib_init = Session::start_unverified(&lib, &mut self.crypto, &port_bundle, mode)
            .map_err(|x| e(&x))?;
        let m = self.call_ok(
            "encrypt",
            json!({ "handle": port_init, "plaintext": hex(b"from the implementation") }),
        )?;
        let port_first = hex_of(&m, "encrypt", "message")?;
        let lib_first = lib_init
            .encrypt(&mut self.crypto, b"from this library")
            .map_err(|x| e(&x))?;
        self.call_refused(
            "decrypt",
            json!({ "handle": port_init, "message": hex(&lib_first) }),
            "NotThisSession",
            "this library's initial message, given to the session the implementation initiated,",
        )?;
        let m = self.call_ok(
            "session_accept",
            json!({ "account": account, "message": hex(&lib_first) }),
        )?;
        let port_resp = field(&m, "session_accept", "handle")?.to_owned();
        if hex_of(&m, "session_accept", "session_id")? != lib_init.session_id() {
            return Err("the accepted session's id differs from this library's".into());
        }
        if hex_of(&m, "session_accept", "plaintext")? != b"from this library" {
            return Err("the accepted initial message decrypts to other bytes".into());
        }
        self.call_refused(
            "decrypt",
            json!({ "handle": port_resp, "message": hex(&port_first) }),
            "NotThisSession",
            "the implementation's own initial message, given to the session it accepted,",
        )?;
        let (mut lib_resp, pt) = lib.accept_unverified(&port_first).map_err(|x| {
            format!(
                "this library refuses the implementation's initial message: {}",
                classes::accept(&x)
            )
        })?;
        if pt != b"from the implementation" {
            return Err("the implementation's initial message decrypts to other bytes".into());
        }
        // Both sessions are kept for decryption, and carry replies.
        let reply = lib_resp
            .encrypt(&mut self.crypto, b"reply on the implementation's session")
            .map_err(|x| e(&x))?;
        let m = self.call_ok(
            "decrypt",
            json!({ "handle": port_init, "message": hex(&reply) }),
        )?;
        if hex_of(&m, "decrypt", "plaintext")? != b"reply on the implementation's session" {
            return Err("a reply on the initiated session decrypts to other bytes".into());
        }
        let m = self.call_ok(
            "encrypt",
            json!({ "handle": port_resp, "plaintext": hex(b"reply on this library's session") }),
        )?;
        let reply = hex_of(&m, "encrypt", "message")?;
        let pt = lib_init.decrypt(&reply).map_err(|x| {
            format!(
                "this library rejects a reply on the session it initiated: {}",
                classes::session_decrypt(&x)
            )
        })?;
        if pt != b"reply on this library's session" {
            return Err("a reply on the accepted session decrypts to other bytes".into());
        }
        for h in [port_init, port_resp, account] {
            let _ = self.port.call("drop", json!({ "handle": h }));
        }
        Ok("each initial message NotThisSession for the receiver's own session, accepted by its account; both sessions carry replies".into())
    }
}
