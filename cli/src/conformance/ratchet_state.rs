//! Capability `ratchet-state` (spec appendix A.6.4): import, export and
//! continuation of ratchet states, and malformed states refused.

use serde_json::json;
use sova::provider::CryptoProvider;
use sova::ratchet::{HeaderMode, Ratchet};
use sova::{DefaultProvider, Secret};

use super::live::{describe, Peer};
use super::{field, hex_of, random_bytes, InFlight, Live, Port, Runner};
use crate::hex;

impl Runner<'_> {
    /// Imports and exports ratchet states (§8.2) and continues them.
    pub(super) fn ratchet_state(&mut self, mode: HeaderMode) -> Result<String, String> {
        let p = DefaultProvider::default();
        let sk = Secret::from_bytes(random_bytes::<32>(&mut self.crypto));
        let bob_private: [u8; 32] = random_bytes(&mut self.crypto);
        let bob_public = p.x25519_public_key(&Secret::from_bytes(bob_private));
        let ad = b"conformance: ratchet state".to_vec();
        let e = |e: &dyn std::fmt::Display| format!("this library: {e}");
        let mut alice = Ratchet::initiator(&sk, bob_public, &ad, mode).map_err(|x| e(&x))?;
        let mut bob = Ratchet::responder(&sk, Secret::from_bytes(bob_private), &ad, mode)
            .map_err(|x| e(&x))?;
        // Alice sends three; Bob receives the first and third (a skipped key
        // is stored) and replies; the second stays in flight.
        let mut sent = Vec::new();
        for i in 0..3u8 {
            let pt = vec![i; 10 + usize::from(i)];
            let m = alice.encrypt(&mut self.crypto, &pt).map_err(|x| e(&x))?;
            sent.push((m, pt));
        }
        for i in [0, 2] {
            bob.decrypt(&sent[i].0).map_err(|x| e(&x))?;
        }
        let reply = bob.encrypt(&mut self.crypto, b"reply").map_err(|x| e(&x))?;
        alice.decrypt(&reply).map_err(|x| e(&x))?;
        let state = bob.to_bytes();

        // Malformed states must be refused with the §8.1 error.
        let mut bad_version = state.clone();
        bad_version[14] = 2;
        let mut bad_magic = state.clone();
        bad_magic[0] ^= 0x20;
        let mut flipped = state.clone();
        flipped[40] ^= 1;
        let malformed: [(&str, Vec<u8>, &str); 6] = [
            (
                "one trailing byte",
                [state.as_slice(), &[0]].concat(),
                "Corrupted",
            ),
            ("one bit flipped", flipped, "Corrupted"),
            (
                "truncated by one byte",
                state[..state.len() - 1].to_vec(),
                "Corrupted",
            ),
            (
                "cut after its version byte",
                state[..15 + 31].to_vec(),
                "Truncated",
            ),
            ("version 2", bad_version, "UnsupportedVersion"),
            ("wrong magic", bad_magic, "BadMagic"),
        ];
        for (what, bytes, class) in malformed {
            match self
                .port
                .call("ratchet_import", json!({ "state": hex(&bytes) }))
                .map_err(|b| b.0)?
            {
                Ok(_) => {
                    return Err(format!(
                        "a malformed state ({what}) was imported; expected {class}"
                    ))
                }
                Err(x) if x.class != class => {
                    return Err(format!(
                        "a malformed state ({what}) was refused with {}; expected {class}",
                        x.class
                    ))
                }
                Err(_) => {}
            }
        }

        let handle = match self
            .port
            .call("ratchet_import", json!({ "state": hex(&state) }))
            .map_err(|b| b.0)?
        {
            Ok(m) => field(&m, "ratchet_import", "handle")?.to_owned(),
            Err(x) => {
                return Err(format!(
                    "this library's state was refused: {} ({})",
                    x.class, x.message
                ))
            }
        };
        let export = |port: &mut Port, h: &str| -> Result<Vec<u8>, String> {
            match port
                .call("ratchet_export", json!({ "handle": h }))
                .map_err(|b| b.0)?
            {
                Ok(m) => hex_of(&m, "ratchet_export", "state"),
                Err(x) => Err(format!("ratchet_export: {} ({})", x.class, x.message)),
            }
        };
        let again = export(&mut self.port, &handle)?;
        if again != state {
            return Err(format!(
                "the imported state was exported differently ({} bytes, {} imported): each state has one encoding (§8.1)",
                again.len(),
                state.len()
            ));
        }
        // The implementation continues as Bob: the message still in flight
        // needs the skipped key that came with the state.
        let mut a = Peer::LibRatchet(Box::new(alice));
        let mut b = Peer::PortRatchet(handle.clone());
        let mut live = Live::new(mode);
        let late = InFlight {
            from_initiator: true,
            sent: 0,
            label: "the message held back before the import".into(),
            wire: sent[1].0.clone(),
            plaintext: sent[1].1.clone(),
            due: 0,
        };
        self.deliver(&late, &mut b, &mut live, 0, None)?;
        let rounds = (self.opts.rounds / 2).max(2);
        self.converse(&mut a, &mut b, &mut live, rounds, true)?;
        // And this library continues from the implementation's state.
        let exported = export(&mut self.port, &handle)?;
        let mut bob2 = Ratchet::from_bytes(&exported)
            .map_err(|x| format!("this library refuses the exported state: {x}"))?;
        let Peer::LibRatchet(alice) = &mut a else {
            return Err("internal: library peer expected".into());
        };
        let m = alice
            .encrypt(&mut self.crypto, b"after export")
            .map_err(|x| e(&x))?;
        let pt = bob2
            .decrypt(&m)
            .map_err(|x| format!("this library cannot continue the exported state: {x}"))?;
        if pt != b"after export" {
            return Err("the exported state decrypts to the wrong plaintext".into());
        }
        let m = bob2
            .encrypt(&mut self.crypto, b"reply after export")
            .map_err(|x| e(&x))?;
        alice.decrypt(&m).map_err(|x| {
            format!("the exported state encrypts a message this library rejects: {x}")
        })?;
        let _ = self.port.call("drop", json!({ "handle": handle }));
        Ok(format!(
            "4 malformed states refused; import, identical export, {}",
            describe(&live.stats)
        ))
    }
}
