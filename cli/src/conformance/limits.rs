//! The limits of the Double Ratchet (spec §5.5.5, §5.8): an over-long
//! associated data or plaintext, a responder sending first (capability
//! `ratchet`), and a sending chain at its end (capability `ratchet-state`).

use serde_json::json;
use sova::provider::CryptoProvider;
use sova::ratchet::{HeaderMode, Ratchet, MAX_PLAINTEXT_LEN, MAX_SESSION_AD_LEN};
use sova::{DefaultProvider, Secret};

use super::{field, hex_of, random_bytes, Runner};
use crate::protocol::mode_name;
use crate::{classes, hex};

/// Recomputes the integrity check that ends a state encoding (spec §8.1).
fn recheck(state: &mut [u8]) {
    let at = state.len().saturating_sub(32);
    let check = DefaultProvider::default().sha256(&[&state[..at]]);
    state[at..].copy_from_slice(&check);
}

impl Runner<'_> {
    /// `SessionAdTooLong`, `NoSendingChain`, `PlaintextTooLong`, and the
    /// largest associated data and plaintext accepted.
    pub(super) fn limits(&mut self) -> Result<String, String> {
        let p = DefaultProvider::default();
        let sk: [u8; 32] = random_bytes(&mut self.crypto);
        let private: [u8; 32] = random_bytes(&mut self.crypto);
        let public = p.x25519_public_key(&Secret::from_bytes(private));
        let plain = mode_name(HeaderMode::Plain);
        let long_ad = vec![0x5a; MAX_SESSION_AD_LEN + 1];
        self.call_refused(
            "ratchet_new",
            json!({
                "role": "initiator", "header_mode": plain, "session_secret": hex(&sk),
                "session_ad": hex(&long_ad), "their_ratchet_public": hex(&public),
            }),
            "SessionAdTooLong",
            &format!("a session AD of {} bytes", long_ad.len()),
        )?;
        let m = self.call_ok(
            "ratchet_new",
            json!({
                "role": "responder", "header_mode": plain, "session_secret": hex(&sk),
                "session_ad": hex(b"limits"), "our_ratchet_private": hex(&private),
            }),
        )?;
        let responder = field(&m, "ratchet_new", "handle")?.to_owned();
        self.call_refused(
            "encrypt",
            json!({ "handle": responder, "plaintext": hex(b"first") }),
            "NoSendingChain",
            "a responder's message before it has received one",
        )?;
        let ad = vec![0xa5; MAX_SESSION_AD_LEN];
        let m = self.call_ok(
            "ratchet_new",
            json!({
                "role": "initiator", "header_mode": plain, "session_secret": hex(&sk),
                "session_ad": hex(&ad), "their_ratchet_public": hex(&public),
            }),
        )?;
        let initiator = field(&m, "ratchet_new", "handle")?.to_owned();
        self.call_refused(
            "encrypt",
            json!({ "handle": initiator, "plaintext": hex(&vec![7; MAX_PLAINTEXT_LEN + 1]) }),
            "PlaintextTooLong",
            &format!("a plaintext of {} bytes", MAX_PLAINTEXT_LEN + 1),
        )?;
        // The limits themselves are allowed, and the refusal changed nothing.
        let longest = vec![7; MAX_PLAINTEXT_LEN];
        let m = self.call_ok(
            "encrypt",
            json!({ "handle": initiator, "plaintext": hex(&longest) }),
        )?;
        let wire = hex_of(&m, "encrypt", "message")?;
        let mut lib = Ratchet::responder(
            &Secret::from_bytes(sk),
            Secret::from_bytes(private),
            &ad,
            HeaderMode::Plain,
        )
        .map_err(|e| format!("this library: {e}"))?;
        match lib.decrypt(&wire) {
            Ok(pt) if pt == longest => {}
            Ok(_) => return Err("the longest plaintext decrypts to other bytes".into()),
            Err(e) => {
                return Err(format!(
                "this library rejects the message with the longest plaintext and a {}-byte AD: {}",
                ad.len(),
                classes::ratchet_decrypt(&e)
            ))
            }
        }
        for h in [responder, initiator] {
            let _ = self.port.call("drop", json!({ "handle": h }));
        }
        Ok(format!(
            "SessionAdTooLong ({} bytes), NoSendingChain, PlaintextTooLong ({} bytes) refused; {} and {} bytes accepted",
            MAX_SESSION_AD_LEN + 1,
            MAX_PLAINTEXT_LEN + 1,
            MAX_SESSION_AD_LEN,
            MAX_PLAINTEXT_LEN
        ))
    }

    /// A state whose sending chain is at `Ns = 2^32 − 1` is imported; its next
    /// message must be refused with `ChainExhausted`, changing nothing.
    pub(super) fn chain_exhausted(&mut self, mode: HeaderMode) -> Result<String, String> {
        let p = DefaultProvider::default();
        let sk = Secret::from_bytes(random_bytes::<32>(&mut self.crypto));
        let private: [u8; 32] = random_bytes(&mut self.crypto);
        let public = p.x25519_public_key(&Secret::from_bytes(private));
        let ad = b"conformance: chain end".to_vec();
        let e = |e: &dyn std::fmt::Display| format!("this library: {e}");
        let mut alice = Ratchet::initiator(&sk, public, &ad, mode).map_err(|x| e(&x))?;
        alice
            .encrypt(&mut self.crypto, b"first")
            .map_err(|x| e(&x))?;
        let mut state = alice.to_bytes();
        // magic, version, mode, generation, u16(len AD) || AD, RK, Opt(DHs),
        // Opt(DHr), then the sending chain's tag and CKs: Ns follows (§8.2).
        let at = 14 + 1 + 1 + 8 + 2 + ad.len() + 32 + 33 + 33 + 1 + 32;
        state
            .get_mut(at..at + 4)
            .ok_or("internal: ratchet state too short")?
            .copy_from_slice(&u32::MAX.to_be_bytes());
        recheck(&mut state);
        let mut own = Ratchet::from_bytes(&state).map_err(|x| e(&x))?;
        match own.encrypt(&mut self.crypto, b"last") {
            Err(x) if classes::of(&x) == "ChainExhausted" => {}
            _ => return Err("internal: this library does not see the chain's end".into()),
        }
        let m = self.call_ok("ratchet_import", json!({ "state": hex(&state) }))?;
        let h = field(&m, "ratchet_import", "handle")?.to_owned();
        self.call_refused(
            "encrypt",
            json!({ "handle": h, "plaintext": hex(b"one too many") }),
            "ChainExhausted",
            "a message on a sending chain at n = 2^32 − 1",
        )?;
        let m = self.call_ok("ratchet_export", json!({ "handle": h }))?;
        if hex_of(&m, "ratchet_export", "state")? != state {
            return Err("the refused message changed the state (§5.7)".into());
        }
        let _ = self.port.call("drop", json!({ "handle": h }));
        Ok("ChainExhausted at Ns = 2^32 − 1, state unchanged".into())
    }
}
