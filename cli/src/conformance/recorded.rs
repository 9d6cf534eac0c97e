//! Capability `recorded-randomness` (spec §3.9, §8.1): with the randomness
//! this library drew, the implementation's messages and its exported
//! ratchet states must equal this library's byte for byte.

use rand_chacha::rand_core::{Rng, TryCryptoRng, TryRng};
use rand_chacha::ChaCha20Rng;
use serde_json::json;
use sova::provider::CryptoProvider;
use sova::ratchet::{HeaderMode, Ratchet};
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
