//! Capability `ratchet` (spec appendix A.6.2): live Double Ratchets with this
//! library, and the ways to tamper with a ratchet message.

use serde_json::json;
use sova::provider::CryptoProvider;
use sova::ratchet::{HeaderMode, Ratchet};
use sova::session::TYPE_INITIAL;
use sova::{DefaultProvider, Secret};

use super::header_encryption::encrypted_header_tampers;
use super::live::{describe, Peer};
use super::session::kem_ciphertext_tamper;
use super::{field, random_bytes, Live, Runner};
use crate::hex;
use crate::protocol::mode_name;

// ---------------------------------------------------------------------------
// Tampering.

/// One way to damage a message, and the error class the receiver must report.
pub(super) struct Tamper {
    pub(super) what: &'static str,
    pub(super) message: Vec<u8>,
    /// The class expected; ratchet-level classes are wrapped in
    /// `FirstMessage(…)` when an account accepts the message.
    pub(super) class: String,
}

pub(super) fn flip(m: &[u8], at: usize) -> Vec<u8> {
    let mut t = m.to_vec();
    if let Some(b) = t.get_mut(at) {
        *b ^= 0x04;
    }
    t
}

/// The ways to tamper with `wire` (a ratchet message, or an initial message
/// around one) for a receiver in `mode`; `accepting` when the receiver has no
/// session yet and an account will accept the message.
pub(super) fn tampers(wire: &[u8], mode: HeaderMode, accepting: bool) -> Vec<Tamper> {
    let n = wire.len();
    let initial = wire.get(1) == Some(&TYPE_INITIAL);
    // The ratchet message is at the end of an initial message.
    let inner_len = if initial {
        sova::session::HandshakeHeader::parse(wire).map_or(n, |(_, inner)| inner.len())
    } else {
        n
    };
    let inner = n - inner_len;
    let ratchet = |c: &str| {
        if accepting {
            format!("FirstMessage({c})")
        } else {
            c.to_owned()
        }
    };
    let mut out = vec![
        Tamper {
            what: "one body bit flipped",
            message: flip(wire, n - 17),
            class: ratchet("Authentication"),
        },
        Tamper {
            what: "one tag bit flipped",
            message: flip(wire, n - 1),
            class: ratchet("Authentication"),
        },
        Tamper {
            what: "truncated by one byte",
            message: wire[..n - 1].to_vec(),
            class: "Malformed(Truncated)".into(),
        },
        Tamper {
            what: "one trailing byte",
            message: [wire, &[0]].concat(),
            class: "Malformed(TrailingBytes)".into(),
        },
    ];
    match mode {
        HeaderMode::Plain => out.push(Tamper {
            what: "ratchet key bit flipped in the clear header",
            message: flip(wire, inner + 2 + 5),
            class: ratchet("Authentication"),
        }),
        HeaderMode::Encrypted => out.extend(encrypted_header_tampers(wire, inner, &ratchet)),
    }
    if initial && accepting {
        out.push(kem_ciphertext_tamper(wire, mode));
    } else if initial {
        // A repeat for an existing session must match the accepted initial
        // message in every handshake field (§7.6).
        let mut t = kem_ciphertext_tamper(wire, mode);
        t.what = "repeated initial message with its KEM ciphertext changed";
        t.class = "InitialMessageMismatch".into();
        out.push(t);
    }
    out
}

impl Runner<'_> {
    pub(super) fn ratchet_pair(
        &mut self,
        mode: HeaderMode,
        port_initiates: bool,
    ) -> Result<String, String> {
        let p = DefaultProvider::default();
        let sk: [u8; 32] = random_bytes(&mut self.crypto);
        let ad: Vec<u8> = random_bytes::<40>(&mut self.crypto).to_vec();
        let responder_private: [u8; 32] = random_bytes(&mut self.crypto);
        let responder_public = p.x25519_public_key(&Secret::from_bytes(responder_private));
        let lib_err = |e: sova::ratchet::InitError| format!("this library: {e}");
        let req = if port_initiates {
            json!({
                "role": "initiator", "header_mode": mode_name(mode), "session_secret": hex(&sk),
                "session_ad": hex(&ad), "their_ratchet_public": hex(&responder_public),
            })
        } else {
            json!({
                "role": "responder", "header_mode": mode_name(mode), "session_secret": hex(&sk),
                "session_ad": hex(&ad), "our_ratchet_private": hex(&responder_private),
            })
        };
        let handle = match self.port.call("ratchet_new", req).map_err(|b| b.0)? {
            Ok(m) => field(&m, "ratchet_new", "handle")?.to_owned(),
            Err(e) => return Err(format!("ratchet_new: {} ({})", e.class, e.message)),
        };
        let (mut a, mut b) = if port_initiates {
            let lib = Ratchet::responder(
                &Secret::from_bytes(sk),
                Secret::from_bytes(responder_private),
                &ad,
                mode,
            )
            .map_err(lib_err)?;
            (
                Peer::PortRatchet(handle.clone()),
                Peer::LibRatchet(Box::new(lib)),
            )
        } else {
            let lib = Ratchet::initiator(&Secret::from_bytes(sk), responder_public, &ad, mode)
                .map_err(lib_err)?;
            (
                Peer::LibRatchet(Box::new(lib)),
                Peer::PortRatchet(handle.clone()),
            )
        };
        let mut live = Live::new(mode);
        self.converse(&mut a, &mut b, &mut live, self.opts.rounds, true)?;
        let _ = self.port.call("drop", json!({ "handle": handle }));
        Ok(describe(&live.stats))
    }
}
