//! The two sides of a live session and the conversation between them
//! (spec appendix A.6.2), shared by the ratchet, session and ratchet-state tests.

use rand_chacha::ChaCha20Rng;
use serde_json::{json, Map, Value};
use sova::ratchet::Ratchet;
use sova::session::{Account, Session, TYPE_INITIAL};

use super::ratchet::tampers;
use super::{field, hex_of, Broken, InFlight, Live, Port, Response, Runner, Stats};
use crate::{classes, hex};

/// One party of a live session: this library, or the implementation.
pub(super) enum Peer {
    LibRatchet(Box<Ratchet>),
    LibInitiator(Box<Session>),
    LibResponder {
        account: Box<Account>,
        session: Option<Box<Session>>,
    },
    PortRatchet(String),
    PortInitiator(String),
    PortResponder {
        account: String,
        session: Option<String>,
    },
}

/// What happened to a delivered message.
pub(super) enum Delivery {
    Plaintext(Vec<u8>),
    Rejected(String),
    /// Accepted, but as a session whose id differs from the peer's.
    WrongSession(String),
}

impl Peer {
    pub(super) fn is_port(&self) -> bool {
        matches!(
            self,
            Self::PortRatchet(_) | Self::PortInitiator(_) | Self::PortResponder { .. }
        )
    }

    /// Whether a message arriving now would be an initial message accepted
    /// by the account (no session yet).
    pub(super) fn awaiting_session(&self) -> bool {
        matches!(
            self,
            Self::LibResponder { session: None, .. } | Self::PortResponder { session: None, .. }
        )
    }

    pub(super) fn encrypt(
        &mut self,
        port: &mut Port,
        rng: &mut ChaCha20Rng,
        pt: &[u8],
    ) -> Result<Vec<u8>, String> {
        fn lib(e: impl core::fmt::Display) -> String {
            format!("this library cannot encrypt: {e}")
        }
        let port_call = |port: &mut Port, handle: &str| -> Result<Vec<u8>, String> {
            let r = port
                .call("encrypt", json!({ "handle": handle, "plaintext": hex(pt) }))
                .map_err(|b| b.0)?;
            match r {
                Ok(m) => hex_of(&m, "encrypt", "message"),
                Err(e) => Err(format!(
                    "the implementation cannot encrypt: {} ({})",
                    e.class, e.message
                )),
            }
        };
        match self {
            Self::LibRatchet(r) => r.encrypt(rng, pt).map_err(lib),
            Self::LibInitiator(s) => s.encrypt(rng, pt).map_err(lib),
            Self::LibResponder {
                session: Some(s), ..
            } => s.encrypt(rng, pt).map_err(lib),
            Self::LibResponder { session: None, .. } => {
                Err("this library's responder has no session yet".into())
            }
            Self::PortRatchet(h) | Self::PortInitiator(h) => port_call(port, h),
            Self::PortResponder {
                session: Some(h), ..
            } => port_call(port, h),
            Self::PortResponder { session: None, .. } => {
                Err("the implementation's responder has no session yet".into())
            }
        }
    }

    /// Delivers `msg`; `Err` only when the test cannot go on.
    pub(super) fn decrypt(
        &mut self,
        port: &mut Port,
        msg: &[u8],
        session_id: &mut Option<Vec<u8>>,
    ) -> Result<Delivery, String> {
        let port_reply =
            |r: Result<Response, Broken>| -> Result<Result<Map<String, Value>, String>, String> {
                match r.map_err(|b| b.0)? {
                    Ok(m) => Ok(Ok(m)),
                    Err(e) => Ok(Err(e.class)),
                }
            };
        match self {
            Self::LibRatchet(r) => Ok(match r.decrypt(msg) {
                Ok(pt) => Delivery::Plaintext(pt),
                Err(e) => Delivery::Rejected(classes::ratchet_decrypt(&e)),
            }),
            Self::LibInitiator(s) => Ok(match s.decrypt(msg) {
                Ok(pt) => Delivery::Plaintext(pt),
                Err(e) => Delivery::Rejected(classes::session_decrypt(&e)),
            }),
            Self::LibResponder {
                session: Some(s), ..
            } => Ok(match s.decrypt(msg) {
                Ok(pt) => Delivery::Plaintext(pt),
                Err(e) => Delivery::Rejected(classes::session_decrypt(&e)),
            }),
            Self::LibResponder { account, session } => Ok(match account.accept_unverified(msg) {
                Ok((s, pt)) => {
                    if let Some(id) = session_id {
                        if id.as_slice() != s.session_id() {
                            return Ok(Delivery::WrongSession(format!(
                                "session ids differ: this library {}, the implementation {}",
                                hex(s.session_id()),
                                hex(id)
                            )));
                        }
                    }
                    *session = Some(Box::new(s));
                    Delivery::Plaintext(pt)
                }
                Err(e) => Delivery::Rejected(classes::accept(&e)),
            }),
            Self::PortRatchet(h)
            | Self::PortInitiator(h)
            | Self::PortResponder {
                session: Some(h), ..
            } => {
                let r = port.call("decrypt", json!({ "handle": h, "message": hex(msg) }));
                Ok(match port_reply(r)? {
                    Ok(m) => Delivery::Plaintext(hex_of(&m, "decrypt", "plaintext")?),
                    Err(class) => Delivery::Rejected(class),
                })
            }
            Self::PortResponder { account, session } => {
                let r = port.call(
                    "session_accept",
                    json!({ "account": account, "message": hex(msg) }),
                );
                Ok(match port_reply(r)? {
                    Ok(m) => {
                        let h = field(&m, "session_accept", "handle")?.to_owned();
                        let id = hex_of(&m, "session_accept", "session_id")?;
                        if let Some(ours) = session_id {
                            if *ours != id {
                                return Ok(Delivery::WrongSession(format!(
                                    "session ids differ: this library {}, the implementation {}",
                                    hex(ours),
                                    hex(&id)
                                )));
                            }
                        }
                        *session = Some(h);
                        Delivery::Plaintext(hex_of(&m, "session_accept", "plaintext")?)
                    }
                    Err(class) => Delivery::Rejected(class),
                })
            }
        }
    }
}

impl Runner<'_> {
    /// Delivers one message (and, when the receiver is the implementation,
    /// tampered copies and replays of it).
    pub(super) fn deliver(
        &mut self,
        m: &InFlight,
        receiver: &mut Peer,
        live: &mut Live,
        round: u32,
        force_tamper: Option<&str>,
    ) -> Result<(), String> {
        let at = format!("round {round}, {}", m.label);
        let session_id = &mut live.session_id;
        let stats = &mut live.stats;
        if receiver.is_port() {
            let accepting = receiver.awaiting_session();
            let options = tampers(&m.wire, live.mode, accepting);
            let chosen = match force_tamper {
                Some(what) => options.into_iter().find(|t| t.what.starts_with(what)),
                None if self.below(3) == 0 => {
                    let k = self.below(options.len());
                    options.into_iter().nth(k)
                }
                None => None,
            };
            if let Some(t) = chosen {
                stats.tampered += 1;
                match receiver.decrypt(&mut self.port, &t.message, session_id)? {
                    Delivery::Plaintext(_) | Delivery::WrongSession(_) => {
                        return Err(format!(
                            "{at}: a tampered copy ({}) was accepted; expected {}",
                            t.what, t.class
                        ))
                    }
                    Delivery::Rejected(c) if c != t.class => {
                        return Err(format!(
                            "{at}: a tampered copy ({}) was rejected with {c}; expected {}",
                            t.what, t.class
                        ))
                    }
                    Delivery::Rejected(_) => {}
                }
            }
        }
        match receiver.decrypt(&mut self.port, &m.wire, session_id)? {
            Delivery::Plaintext(pt) if pt == m.plaintext => {}
            Delivery::Plaintext(pt) => {
                return Err(format!(
                    "{at}: decrypted to {} bytes that differ from the {} sent",
                    pt.len(),
                    m.plaintext.len()
                ))
            }
            Delivery::WrongSession(why) => return Err(format!("{at}: {why}")),
            Delivery::Rejected(c) => {
                let who = if receiver.is_port() {
                    "the implementation"
                } else {
                    "this library"
                };
                return Err(format!("{at}: {who} rejected the genuine message: {c}"));
            }
        }
        stats.messages += 1;
        if receiver.is_port() && self.below(4) == 0 {
            stats.replayed += 1;
            match receiver.decrypt(&mut self.port, &m.wire, session_id)? {
                Delivery::Plaintext(_) | Delivery::WrongSession(_) => {
                    return Err(format!(
                        "{at}: a replay was accepted; expected DuplicateOrExpired"
                    ))
                }
                Delivery::Rejected(c) if c != "DuplicateOrExpired" => {
                    return Err(format!(
                        "{at}: a replay was rejected with {c}; expected DuplicateOrExpired"
                    ))
                }
                Delivery::Rejected(_) => {}
            }
        }
        Ok(())
    }

    /// A conversation of `rounds` rounds between `a` (the initiator) and `b`.
    pub(super) fn converse(
        &mut self,
        a: &mut Peer,
        b: &mut Peer,
        live: &mut Live,
        rounds: u32,
        a_can_send: bool,
    ) -> Result<(), String> {
        live.stats.rounds += rounds;
        let mut flight: Vec<InFlight> = Vec::new();
        let (mut sent_a, mut sent_b) = (0usize, 0usize);
        let mut b_can_send = false;
        let mut a_ready = a_can_send;
        let mut first_to_b = true;
        for round in 0..rounds + 2 {
            if round < rounds {
                let mut a_speaks = round % 2 == 0;
                if a_speaks && !a_ready {
                    a_speaks = false;
                }
                if !a_speaks && !b_can_send {
                    a_speaks = true;
                }
                if a_speaks && !a_ready {
                    return Err("neither side can send".into());
                }
                for _ in 0..1 + self.below(3) {
                    let pt = self.plaintext();
                    let (peer, label) = if a_speaks {
                        sent_a += 1;
                        (&mut *a, format!("initiator message {sent_a}"))
                    } else {
                        sent_b += 1;
                        (&mut *b, format!("responder message {sent_b}"))
                    };
                    let wire = peer.encrypt(&mut self.port, &mut self.crypto, &pt)?;
                    if a_speaks
                        && live.first_initial.is_none()
                        && wire.get(1) == Some(&TYPE_INITIAL)
                    {
                        live.first_initial = Some(wire.clone());
                    }
                    let delay = if self.below(4) == 0 { 2 } else { 0 };
                    flight.push(InFlight {
                        from_initiator: a_speaks,
                        sent: round,
                        label,
                        wire,
                        plaintext: pt,
                        due: round + delay,
                    });
                }
            }
            // Deliver what is due, in a random order.
            let mut due: Vec<InFlight> = Vec::new();
            let mut i = 0;
            while i < flight.len() {
                if flight[i].due <= round || round >= rounds {
                    due.push(flight.remove(i));
                } else {
                    i += 1;
                }
            }
            while !due.is_empty() {
                let k = self.below(due.len());
                let m = due.remove(k);
                if m.sent < round {
                    live.stats.late += 1;
                }
                let (receiver, to_b) = if m.from_initiator {
                    (&mut *b, true)
                } else {
                    (&mut *a, false)
                };
                // The first message the implementation accepts as a responder
                // comes after a forged copy of it, so a forgery that consumed
                // a prekey would make the genuine one fail.
                let force =
                    if to_b && first_to_b && receiver.is_port() && receiver.awaiting_session() {
                        Some("forged initial message")
                    } else {
                        None
                    };
                self.deliver(&m, receiver, live, round, force)?;
                if to_b {
                    first_to_b = false;
                    b_can_send = true;
                } else {
                    a_ready = true;
                }
            }
        }
        Ok(())
    }
}

pub(super) fn describe(s: &Stats) -> String {
    format!(
        "{} rounds, {} messages ({} delivered late), tampered copies rejected: {}, replays rejected: {}",
        s.rounds, s.messages, s.late, s.tampered, s.replayed
    )
}
