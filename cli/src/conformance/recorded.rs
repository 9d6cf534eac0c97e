//! Capability `recorded-randomness` (spec §3.9, §8.1): with the randomness
//! this library drew, the implementation's messages, its exported ratchet
//! states, and (with capability `session`) its accounts, bundles and session
//! states must equal this library's byte for byte.

use rand_chacha::rand_core::{Rng, TryCryptoRng, TryRng};
use rand_chacha::ChaCha20Rng;
use serde_json::json;
use sova::provider::CryptoProvider;
use sova::ratchet::{HeaderMode, Ratchet};
use sova::session::{Account, Session};
use sova::{DefaultProvider, Secret};

use super::{field, hex_of, random_bytes, Runner};
use crate::protocol::mode_name;
use crate::{classes, hex};

/// A generator that records every byte it hands out.
struct Recorder<'a> {
    inner: &'a mut ChaCha20Rng,
    drawn: Vec<u8>,
}

impl TryRng for Recorder<'_> {
    type Error = core::convert::Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        let mut b = [0; 4];
        self.try_fill_bytes(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        let mut b = [0; 8];
        self.try_fill_bytes(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        self.inner.fill_bytes(dst);
        self.drawn.extend_from_slice(dst);
        Ok(())
    }
}

impl TryCryptoRng for Recorder<'_> {}

impl<'a> Recorder<'a> {
    fn new(inner: &'a mut ChaCha20Rng) -> Self {
        Self {
            inner,
            drawn: Vec::new(),
        }
    }
}

/// `Err` naming `what` and where `got` first differs from `want`.
fn same(what: &str, got: &[u8], want: &[u8]) -> Result<(), String> {
    if got == want {
        return Ok(());
    }
    Err(format!(
        "{what} differs from this library's, first at byte {} ({} bytes, expected {})",
        first_difference(got, want),
        got.len(),
        want.len()
    ))
}

/// The first offset where `a` and `b` differ.
fn first_difference(a: &[u8], b: &[u8]) -> usize {
    a.iter()
        .zip(b)
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()))
}

impl Runner<'_> {
    /// The implementation, as responder, and a twin in this library receive
    /// the same messages and send with the same randomness; after each round
    /// the implementation's message and exported state must equal the twin's.
    pub(super) fn recorded_states(&mut self, mode: HeaderMode) -> Result<String, String> {
        let p = DefaultProvider::default();
        let sk: [u8; 32] = random_bytes(&mut self.crypto);
        let private: [u8; 32] = random_bytes(&mut self.crypto);
        let public = p.x25519_public_key(&Secret::from_bytes(private));
        let ad = b"conformance: recorded randomness".to_vec();
        let e = |e: &dyn std::fmt::Display| format!("this library: {e}");
        let mut alice =
            Ratchet::initiator(&Secret::from_bytes(sk), public, &ad, mode).map_err(|x| e(&x))?;
        let mut twin = Ratchet::responder(
            &Secret::from_bytes(sk),
            Secret::from_bytes(private),
            &ad,
            mode,
        )
        .map_err(|x| e(&x))?;
        let m = self.call_ok(
            "ratchet_new",
            json!({
                "role": "responder", "header_mode": mode_name(mode), "session_secret": hex(&sk),
                "session_ad": hex(&ad), "our_ratchet_private": hex(&private),
            }),
        )?;
        let h = field(&m, "ratchet_new", "handle")?.to_owned();
        let rounds = 4u32;
        for round in 0..rounds {
            // Alice's messages arrive in reverse order: skipped keys are stored.
            let mut msgs = Vec::new();
            for _ in 0..1 + round % 3 {
                let pt = self.plaintext();
                let m = alice.encrypt(&mut self.crypto, &pt).map_err(|x| e(&x))?;
                msgs.push((m, pt));
            }
            msgs.reverse();
            for (m, pt) in &msgs {
                twin.decrypt(m).map_err(|x| e(&x))?;
                let r = self.call_ok("decrypt", json!({ "handle": h, "message": hex(m) }))?;
                if hex_of(&r, "decrypt", "plaintext")? != *pt {
                    return Err(format!("round {round}: a message decrypts to other bytes"));
                }
            }
            let pt = self.plaintext();
            let mut rec = Recorder {
                inner: &mut self.crypto,
                drawn: Vec::new(),
            };
            let want = twin.encrypt(&mut rec, &pt).map_err(|x| e(&x))?;
            let random = rec.drawn;
            let r = self.call_ok(
                "encrypt",
                json!({ "handle": h, "plaintext": hex(&pt), "random": hex(&random) }),
            )?;
            let got = hex_of(&r, "encrypt", "message")?;
            if got != want {
                return Err(format!(
                    "round {round}: with the {} recorded random bytes, the message differs from this library's at byte {}",
                    random.len(),
                    first_difference(&got, &want)
                ));
            }
            alice
                .decrypt(&want)
                .map_err(|x| format!("this library: {}", classes::ratchet_decrypt(&x)))?;
            let r = self.call_ok("ratchet_export", json!({ "handle": h }))?;
            let state = hex_of(&r, "ratchet_export", "state")?;
            let ours = twin.to_bytes();
            if state != ours {
                return Err(format!(
                    "round {round}: the exported state differs from this library's after the same steps, first at byte {} ({} bytes, expected {})",
                    first_difference(&state, &ours),
                    state.len(),
                    ours.len()
                ));
            }
        }
        let _ = self.port.call("drop", json!({ "handle": h }));
        Ok(format!(
            "{rounds} rounds: every message and exported ratchet state equal to this library's"
        ))
    }
}

impl Runner<'_> {
    /// The implementation's exported account must equal `twin`'s (spec §8.4).
    fn same_account(&mut self, handle: &str, twin: &Account, when: &str) -> Result<(), String> {
        let m = self.call_ok("account_export", json!({ "account": handle }))?;
        let state = hex_of(&m, "account_export", "state")?;
        same(
            &format!("{when}: the exported account state"),
            &state,
            &twin.to_bytes(),
        )
    }

    /// The implementation's exported session must equal `twin`'s (spec §8.5).
    fn same_session(&mut self, handle: &str, twin: &Session, when: &str) -> Result<(), String> {
        let m = self.call_ok("session_export", json!({ "handle": handle }))?;
        let state = hex_of(&m, "session_export", "state")?;
        same(
            &format!("{when}: the exported session state"),
            &state,
            &twin.to_bytes(),
        )
    }

    /// `encrypt` on the implementation's session `handle` with the
    /// randomness `twin` draws: the message must equal `twin`'s.
    fn same_message(
        &mut self,
        handle: &str,
        twin: &mut Session,
        when: &str,
    ) -> Result<Vec<u8>, String> {
        let pt = self.plaintext();
        let mut rec = Recorder::new(&mut self.crypto);
        let want = twin
            .encrypt(&mut rec, &pt)
            .map_err(|x| format!("this library: {x}"))?;
        let random = rec.drawn;
        let r = self.call_ok(
            "encrypt",
            json!({ "handle": handle, "plaintext": hex(&pt), "random": hex(&random) }),
        )?;
        same(
            &format!(
                "{when}: with the {} recorded random bytes, the message",
                random.len()
            ),
            &hex_of(&r, "encrypt", "message")?,
            &want,
        )?;
        Ok(want)
    }

    /// The implementation's account, its bundle and its sessions in both
    /// roles, made with the randomness a twin in this library draws, must
    /// equal the twin's byte for byte: the account drawn in the order of
    /// spec §7.2, `Start`'s draws in the order of §7.4, and every state
    /// exported after each step (§8.4, §8.5).
    pub(super) fn recorded_sessions(&mut self, mode: HeaderMode) -> Result<String, String> {
        let e = |x: &dyn std::fmt::Display| format!("this library: {x}");
        // The account.
        let mut rec = Recorder::new(&mut self.crypto);
        let mut twin = Account::new(&mut rec).map_err(|x| e(&x))?;
        let random = rec.drawn;
        let m = self.call_ok("account_new", json!({ "random": hex(&random) }))?;
        let account = field(&m, "account_new", "handle")?.to_owned();
        same(
            &format!(
                "with the {} recorded random bytes of account_new, the identity",
                random.len()
            ),
            &hex_of(&m, "account_new", "identity")?,
            &twin.identity().to_bytes(),
        )?;
        self.same_account(&account, &twin, "after account_new")?;
        // Its bundle, with one-time prekeys: both in plain mode, the X25519
        // one in encrypted mode.
        let kem_one_time = mode == HeaderMode::Plain;
        let mut rec = Recorder::new(&mut self.crypto);
        let opk = twin
            .generate_one_time_prekeys(&mut rec, 1)
            .map_err(|x| e(&x))?
            .first()
            .copied();
        let kem = if kem_one_time {
            twin.generate_kem_one_time_prekeys(&mut rec, 1)
                .map_err(|x| e(&x))?
                .first()
                .copied()
        } else {
            None
        };
        let random = rec.drawn;
        let bundle = twin.bundle(opk, kem).map_err(|x| e(&x))?.to_bytes();
        let m = self.call_ok(
            "bundle",
            json!({
                "account": account, "one_time_prekey": true,
                "kem_one_time_prekey": kem_one_time, "random": hex(&random),
            }),
        )?;
        same(
            &format!(
                "with the {} recorded random bytes, the bundle",
                random.len()
            ),
            &hex_of(&m, "bundle", "bundle")?,
            &bundle,
        )?;
        self.same_account(&account, &twin, "after bundle")?;

        // The implementation responds to a peer in this library.
        let mut peer = Account::new(&mut self.crypto).map_err(|x| e(&x))?;
        let mut to_port =
            Session::start(&peer, &mut self.crypto, &twin.identity_key(), &bundle, mode)
                .map_err(|x| e(&x))?;
        let pt = self.plaintext();
        let first = to_port.encrypt(&mut self.crypto, &pt).map_err(|x| e(&x))?;
        let m = self.call_ok(
            "session_accept",
            json!({ "account": account, "message": hex(&first) }),
        )?;
        let responder = field(&m, "session_accept", "handle")?.to_owned();
        let (mut twin_responder, _) = twin
            .accept(&peer.identity_key(), &first)
            .map_err(|x| e(&x))?;
        self.same_session(&responder, &twin_responder, "after session_accept")?;
        self.same_account(&account, &twin, "after session_accept")?;
        let reply = self.same_message(&responder, &mut twin_responder, "the reply")?;
        to_port.decrypt(&reply).map_err(|x| e(&x))?;
        self.same_session(&responder, &twin_responder, "after the reply")?;
        let pt = self.plaintext();
        let second = to_port.encrypt(&mut self.crypto, &pt).map_err(|x| e(&x))?;
        twin_responder.decrypt(&second).map_err(|x| e(&x))?;
        let r = self.call_ok(
            "decrypt",
            json!({ "handle": responder, "message": hex(&second) }),
        )?;
        if hex_of(&r, "decrypt", "plaintext")? != pt {
            return Err("the peer's second message decrypts to other bytes".into());
        }
        self.same_session(&responder, &twin_responder, "once confirmed (§7.7)")?;

        // The implementation initiates to the same peer.
        let peer_opk = if mode == HeaderMode::Plain {
            peer.generate_one_time_prekeys(&mut self.crypto, 1)
                .map_err(|x| e(&x))?
                .first()
                .copied()
        } else {
            None
        };
        let peer_bundle = peer.bundle(peer_opk, None).map_err(|x| e(&x))?.to_bytes();
        let mut rec = Recorder::new(&mut self.crypto);
        let mut twin_initiator =
            Session::start(&twin, &mut rec, &peer.identity_key(), &peer_bundle, mode)
                .map_err(|x| e(&x))?;
        let random = rec.drawn;
        let m = self.call_ok(
            "session_start",
            json!({
                "account": account, "bundle": hex(&peer_bundle),
                "header_mode": mode_name(mode), "random": hex(&random),
            }),
        )?;
        let initiator = field(&m, "session_start", "handle")?.to_owned();
        same(
            &format!(
                "with the {} recorded random bytes of session_start, the session id",
                random.len()
            ),
            &hex_of(&m, "session_start", "session_id")?,
            twin_initiator.session_id(),
        )?;
        self.same_session(&initiator, &twin_initiator, "after session_start")?;
        let initial = self.same_message(&initiator, &mut twin_initiator, "the initial message")?;
        self.same_session(&initiator, &twin_initiator, "pending, after one message")?;
        let (mut from_port, _) = peer
            .accept(&twin.identity_key(), &initial)
            .map_err(|x| e(&x))?;
        let pt = self.plaintext();
        let reply = from_port
            .encrypt(&mut self.crypto, &pt)
            .map_err(|x| e(&x))?;
        twin_initiator.decrypt(&reply).map_err(|x| e(&x))?;
        let r = self.call_ok(
            "decrypt",
            json!({ "handle": initiator, "message": hex(&reply) }),
        )?;
        if hex_of(&r, "decrypt", "plaintext")? != pt {
            return Err("the peer's reply decrypts to other bytes".into());
        }
        self.same_session(&initiator, &twin_initiator, "once confirmed (§7.7)")?;
        self.same_account(&account, &twin, "at the end")?;
        for h in [responder, initiator, account] {
            let _ = self.port.call("drop", json!({ "handle": h }));
        }
        Ok(
            "account, bundle, both roles' sessions and their messages equal to this library's \
             after each step"
                .into(),
        )
    }
}
