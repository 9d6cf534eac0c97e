//! `sova demo`, the session chapter: Alice and Bob establish a session and
//! talk over a simulated network that delays, reorders and drops messages.
//!
//! Everything is deterministic from `--seed`: the keys (a ChaCha20 generator
//! seeded with it feeds the library) and the network (a second generator
//! decides delays, drops and delivery order). The transcript shows who sent
//! what, each message's size and type on the wire, the DH ratchet steps,
//! out-of-order deliveries and the skipped message keys stored.
//!
//! With `--trace`, every derivation is printed with the spec's names: the
//! handshake (§7.4: `DH1`..`DH4`, `SS`, `TH`, `PRK`, `SK`), `InitKeys`
//! (§5.2.1: `RK0`, `HKA`, `HKB`) and, for every message, `KDF_RK`, `KDF_CK`,
//! `MessageKeys`, `HeaderKeys`/`HeaderNonce` and the padding (§5.2, §5.4).
//! The traced values are computed on copies of the parties' states (restored
//! from their §8 encodings) and checked against what the sessions really
//! send and receive, so the trace cannot drift from the library.

use std::collections::VecDeque;
use std::io::Write;

use rand_chacha::rand_core::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use sova::ratchet::{message, HeaderMode, Ratchet};
use sova::session::{Account, Conversation, HandshakeHeader, Session, TYPE_INITIAL};
use sova::{DefaultProvider, Secret};

use super::trace::{print_decrypt_trace, print_encrypt_trace, trace_handshake, HandshakeView};
use super::{check, lib_err, Options, INDENT};
use crate::{hex_short, Failure};

/// One of the two parties.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Alice,
    Bob,
}

impl Who {
    fn name(self) -> &'static str {
        match self {
            Self::Alice => "Alice",
            Self::Bob => "Bob",
        }
    }

    fn other(self) -> Self {
        match self {
            Self::Alice => Self::Bob,
            Self::Bob => Self::Alice,
        }
    }

    fn letter(self) -> char {
        match self {
            Self::Alice => 'A',
            Self::Bob => 'B',
        }
    }
}

const ALICE_LINES: &[&str] = &[
    "Hi Bob! It's Alice.",
    "Did my last message arrive?",
    "The train wifi keeps dropping.",
    "Lunch on Friday?",
    "I'll bring the maps.",
    "Noon at the usual place.",
    "See you then!",
];

const BOB_LINES: &[&str] = &[
    "Hi Alice, good to hear from you.",
    "Yes, a little late, but it did.",
    "Friday works for me.",
    "Great, I'll book a table.",
    "Bye for now!",
];

fn line(who: Who, index: usize) -> String {
    let lines = match who {
        Who::Alice => ALICE_LINES,
        Who::Bob => BOB_LINES,
    };
    match lines.get(index) {
        Some(l) => (*l).to_owned(),
        None => format!("Message {} from {}.", index + 1, who.name()),
    }
}

/// A party: its account and its sessions with the peer.
struct Party {
    account: Account,
    conversation: Conversation,
    sent: usize,
}

impl Party {
    fn session(&self) -> Option<&Session> {
        self.conversation.active_session()
    }

    fn can_send(&self) -> bool {
        self.session().is_some()
    }

    fn root_key(&self) -> Option<Secret<32>> {
        self.session().map(|s| s.ratchet().root_key().clone())
    }

    fn stored_keys(&self) -> usize {
        self.session().map_or(0, |s| s.ratchet().stored_keys())
    }
}

/// A message as sent, and what became of it.
struct Sent {
    from: Who,
    label: String,
    text: String,
    bytes: Vec<u8>,
    /// Index among the sender's messages.
    seq: usize,
    delivered: bool,
    lost: bool,
}

/// A message on the network.
struct Packet {
    message: usize,
    deliver_at: u32,
    resent: bool,
}

/// The simulated network: random delays, drops and delivery order.
struct Network {
    rng: ChaCha20Rng,
    in_flight: Vec<Packet>,
}

impl Network {
    fn below(&mut self, n: u32) -> u32 {
        (self.rng.next_u64() % u64::from(n)) as u32
    }
}
/// Running totals for the summary.
#[derive(Default)]
struct Totals {
    delivered: usize,
    late: usize,
    resent: usize,
    lost: usize,
    dh_steps: usize,
    used_skipped: usize,
    mismatches: usize,
}

/// The demo's state.
struct Demo<'a> {
    opts: &'a Options,
    mode: HeaderMode,
    p: DefaultProvider,
    rng: ChaCha20Rng,
    net: Network,
    alice: Party,
    bob: Party,
    messages: Vec<Sent>,
    handshake: Option<HandshakeView>,
    totals: Totals,
    out: &'a mut dyn Write,
}

/// Runs the demo, writing the transcript to `out`.
///
/// # Errors
/// [`Failure::Check`] when a message is not decrypted to what was sent or a
/// traced value disagrees with the sessions (neither should ever happen);
/// [`Failure::Error`] when the output cannot be written.
pub fn run(opts: &Options, out: &mut dyn Write) -> Result<(), Failure> {
    let mode = if opts.header_encryption {
        HeaderMode::Encrypted
    } else {
        HeaderMode::Plain
    };
    let p = DefaultProvider::default();
    let mut rng = ChaCha20Rng::seed_from_u64(opts.seed);
    // The network has its own generator so that its choices do not shift the keys.
    let net = Network {
        rng: ChaCha20Rng::seed_from_u64(opts.seed ^ 0x6e65_7477_6f72_6b00),
        in_flight: Vec::new(),
    };

    let headers = match mode {
        HeaderMode::Plain => "headers in the clear",
        HeaderMode::Encrypted => "encrypted headers",
    };
    writeln!(
        out,
        "Sova demo: Alice and Bob over an unreliable network (seed {}, {} messages, {headers})",
        opts.seed, opts.messages
    )?;
    writeln!(out)?;

    let account = |rng: &mut ChaCha20Rng| Account::new(rng).map_err(|e| lib_err("account")(&e));
    let alice_account = account(&mut rng)?;
    let mut bob_account = account(&mut rng)?;
    writeln!(
        out,
        "Alice and Bob create accounts: an Ed25519 identity key and a signed X25519 key each (§7.1)."
    )?;
    let opk = bob_account
        .generate_one_time_prekeys(&mut rng, 1)
        .map_err(|e| lib_err("prekeys")(&e))?;
    let bundle = bob_account
        .bundle(opk.first().copied(), None)
        .map_err(|e| lib_err("bundle")(&e))?;
    let bundle_bytes = bundle.to_bytes();
    writeln!(
        out,
        "Bob publishes a prekey bundle: {} bytes, type 0x{:02x} (signed prekey #{}, one-time prekey #{}, \
         ML-KEM-768 prekey #{}).",
        bundle_bytes.len(),
        bundle_bytes.get(1).copied().unwrap_or(0),
        bundle.signed_prekey_id,
        bundle.one_time_prekey.map_or(0, |(id, _)| id),
        bundle.kem_prekey_id,
    )?;
    let before_start = rng.clone();
    let session = Session::start(
        &alice_account,
        &mut rng,
        &bob_account.identity_key(),
        &bundle_bytes,
        mode,
    )
    .map_err(|e| lib_err("starting the session")(&e))?;
    writeln!(
        out,
        "Alice fetches it and starts a session: 4 X25519 agreements + 1 ML-KEM-768 encapsulation (§7.4)."
    )?;
    writeln!(
        out,
        "Session id (the transcript hash TH): {}",
        hex_short(session.session_id(), 8)
    )?;
    let handshake = if opts.trace {
        Some(trace_handshake(
            out,
            &p,
            before_start,
            &alice_account,
            &bob_account,
            &bundle,
            session.session_id(),
        )?)
    } else {
        None
    };
    writeln!(out)?;

    let alice_key = alice_account.identity_key();
    let mut demo = Demo {
        opts,
        mode,
        p,
        rng,
        net,
        alice: Party {
            account: alice_account,
            conversation: {
                let mut c = Conversation::new(bob_account.identity_key());
                c.add(session).map_err(|e| lib_err("session")(&e))?;
                c
            },
            sent: 0,
        },
        bob: Party {
            account: bob_account,
            conversation: Conversation::new(alice_key),
            sent: 0,
        },
        messages: Vec::new(),
        handshake,
        totals: Totals::default(),
        out,
    };
    demo.converse()?;
    demo.summary()
}

impl Demo<'_> {
    fn party(&mut self, who: Who) -> &mut Party {
        match who {
            Who::Alice => &mut self.alice,
            Who::Bob => &mut self.bob,
        }
    }

    /// Who sends each message: Alice first, then runs of one to three.
    fn script(&mut self) -> VecDeque<Who> {
        let mut script = VecDeque::new();
        let mut who = Who::Alice;
        while script.len() < self.opts.messages as usize {
            let run = 1 + self.net.below(3);
            for _ in 0..run {
                script.push_back(who);
            }
            who = who.other();
        }
        script.truncate(self.opts.messages as usize);
        script
    }

    fn converse(&mut self) -> Result<(), Failure> {
        let mut script = self.script();
        let mut t: u32 = 0;
        while !script.is_empty() || !self.net.in_flight.is_empty() {
            t += 1;
            if t > 1_000_000 {
                return Err(Failure::Check("the simulation did not finish".into()));
            }
            if let Some(&next) = script.front() {
                // A party that has no session yet (Bob before Alice's first
                // message arrives) cannot send; the other one talks instead
                // when nothing is left in flight.
                let sender = if self.party(next).can_send() {
                    Some(next)
                } else if self.net.in_flight.is_empty() {
                    Some(next.other())
                } else {
                    None
                };
                let talk = self.net.in_flight.is_empty() || self.net.below(3) != 0;
                if let (Some(sender), true) = (sender, talk) {
                    script.pop_front();
                    self.send(t, sender)?;
                }
            }
            let mut due: Vec<Packet> = Vec::new();
            let mut i = 0;
            while i < self.net.in_flight.len() {
                if self.net.in_flight[i].deliver_at <= t {
                    due.push(self.net.in_flight.swap_remove(i));
                } else {
                    i += 1;
                }
            }
            due.sort_by_key(|p| p.message);
            // Deliver what is due in a random order.
            while !due.is_empty() {
                let k = self.net.below(due.len() as u32) as usize;
                let packet = due.swap_remove(k);
                if self.net.below(6) == 0 {
                    self.drop_packet(t, packet)?;
                } else {
                    self.deliver(t, packet.message)?;
                }
            }
        }
        Ok(())
    }

    fn drop_packet(&mut self, t: u32, packet: Packet) -> Result<(), Failure> {
        let m = &self.messages[packet.message];
        let label = m.label.clone();
        let from = m.from.name();
        if packet.resent {
            self.messages[packet.message].lost = true;
            self.totals.lost += 1;
            writeln!(
                self.out,
                "t={t:<4}The network drops {label} again; it is lost."
            )?;
        } else {
            let at = t + 2 + self.net.below(2);
            self.totals.resent += 1;
            writeln!(
                self.out,
                "t={t:<4}The network drops {label}; {from} resends it at t={at}."
            )?;
            self.net.in_flight.push(Packet {
                message: packet.message,
                deliver_at: at,
                resent: true,
            });
        }
        Ok(())
    }

    fn send(&mut self, t: u32, who: Who) -> Result<(), Failure> {
        let seq = self.party(who).sent;
        let text = line(who, seq);
        let label = format!("{}{}", who.letter(), seq + 1);
        let trace = self.opts.trace;
        let mode = self.mode;
        let p = self.p;

        let party = match who {
            Who::Alice => &mut self.alice,
            Who::Bob => &mut self.bob,
        };
        let session = party
            .session()
            .ok_or_else(|| Failure::Check(format!("{} has no session", who.name())))?;
        let root_before = session.ratchet().root_key().clone();
        // The trace: the same encryption on a copy of the ratchet, with a copy
        // of the generator, so it draws the same random bytes.
        let mirror = if trace {
            let mut copy = Ratchet::from_bytes(&session.ratchet().to_bytes())
                .map_err(|e| lib_err("copying the ratchet")(&e))?;
            let mut rng = self.rng.clone();
            let (wire, tr) = copy
                .encrypt_traced(&p, &mut rng, text.as_bytes())
                .map_err(|e| lib_err("tracing")(&e))?;
            Some((wire, tr))
        } else {
            None
        };
        let wire = party
            .conversation
            .encrypt(&mut self.rng, text.as_bytes())
            .map_err(|e| lib_err("encrypting")(&e))?;
        party.sent += 1;
        let root_after = party.root_key();
        let new_chain = root_after.as_ref() != Some(&root_before);
        if new_chain {
            self.totals.dh_steps += 1;
        }
        let inner = ratchet_message_of(&wire)?;
        if let Some((m, _)) = &mirror {
            check(m == inner, "the traced message differs from the one sent")?;
        }

        writeln!(self.out, "t={t:<4}{} sends {label}: \"{text}\"", who.name())?;
        let mut notes = vec![format!(
            "{} bytes, {}",
            wire.len(),
            describe_wire(&wire, inner)
        )];
        if new_chain {
            notes.push("new sending chain (DH ratchet step)".into());
        }
        writeln!(self.out, "{INDENT}{}", notes.join("; "))?;
        if let Some((_, tr)) = &mirror {
            print_encrypt_trace(self.out, &p, mode, &root_before, tr, text.len())?;
        }

        let index = self.messages.len();
        self.messages.push(Sent {
            from: who,
            label,
            text,
            bytes: wire,
            seq,
            delivered: false,
            lost: false,
        });
        let delay = 1 + self.net.below(3);
        self.net.in_flight.push(Packet {
            message: index,
            deliver_at: t + delay,
            resent: false,
        });
        Ok(())
    }

    fn deliver(&mut self, t: u32, index: usize) -> Result<(), Failure> {
        let from = self.messages[index].from;
        let to = from.other();
        let seq = self.messages[index].seq;
        let label = self.messages[index].label.clone();
        let wire = self.messages[index].bytes.clone();
        let trace = self.opts.trace;
        let p = self.p;
        let mode = self.mode;

        // Order: earlier messages of the same sender not yet delivered.
        let mut in_flight = Vec::new();
        let mut lost = Vec::new();
        let mut late = false;
        for m in self.messages.iter().filter(|m| m.from == from) {
            if m.seq < seq && !m.delivered {
                if m.lost {
                    lost.push(m.label.clone());
                } else {
                    in_flight.push(m.label.clone());
                }
            }
            if m.seq > seq && m.delivered {
                late = true;
            }
        }

        let inner = ratchet_message_of(&wire)?.to_vec();
        let party = match to {
            Who::Alice => &mut self.alice,
            Who::Bob => &mut self.bob,
        };
        let had_session = party.session().is_some();
        let root_before = party.root_key();
        let stored_before = party.stored_keys();
        let mirror = if trace {
            let copy = match (party.session(), &self.handshake) {
                (Some(s), _) => Ratchet::from_bytes(&s.ratchet().to_bytes())
                    .map_err(|e| lib_err("copying the ratchet")(&e))?,
                // Bob's first message: his ratchet as Account::accept makes it.
                (None, Some(h)) => {
                    Ratchet::responder_with(&p, &h.sk, h.spk_private.clone(), &h.th, mode)
                        .map_err(|e| lib_err("tracing")(&e))?
                }
                (None, None) => return Err(Failure::Check("no handshake trace".into())),
            };
            let rk = copy.root_key().clone();
            let mut copy = copy;
            let (pt, tr) = copy
                .decrypt_traced(&p, &inner)
                .map_err(|e| lib_err("tracing the decryption")(&e))?;
            Some((pt, tr, rk))
        } else {
            None
        };
        let result = {
            let Party {
                account,
                conversation,
                ..
            } = party;
            conversation.decrypt(account, &wire)
        };
        let plaintext = match result {
            Ok(received) => received.plaintext,
            Err(e) => {
                self.totals.mismatches += 1;
                writeln!(self.out, "t={t:<4}{} REJECTS {label}: {e}", to.name())?;
                return Ok(());
            }
        };
        let root_after = party.root_key();
        let stored_after = party.stored_keys();
        let new_chain = root_after != root_before;
        self.messages[index].delivered = true;
        self.totals.delivered += 1;
        if late {
            self.totals.late += 1;
        }
        let text = String::from_utf8_lossy(&plaintext).into_owned();
        let matches = plaintext == self.messages[index].text.as_bytes();
        if !matches {
            self.totals.mismatches += 1;
        }
        if let Some((pt, _, _)) = &mirror {
            check(
                *pt == plaintext,
                "the traced decryption differs from the session's",
            )?;
        }

        writeln!(
            self.out,
            "t={t:<4}{} receives {label}: \"{text}\"",
            to.name()
        )?;
        let mut notes = Vec::new();
        if !matches {
            notes.push("WRONG PLAINTEXT".to_owned());
        }
        if late {
            notes.push("late: a later message arrived first".to_owned());
        }
        if !in_flight.is_empty() {
            notes.push(format!(
                "out of order: {} still in flight",
                in_flight.join(", ")
            ));
        }
        if !lost.is_empty() {
            notes.push(format!("{} lost", lost.join(", ")));
        }
        if !had_session {
            notes.push("accepts the session from the initial message (§7.6)".into());
        }
        if new_chain {
            notes.push("new receiving chain (DH ratchet step)".into());
        }
        if stored_after > stored_before {
            let k = stored_after - stored_before;
            notes.push(format!(
                "{k} skipped message key{} stored",
                if k == 1 { "" } else { "s" }
            ));
        } else if stored_after < stored_before && !new_chain {
            self.totals.used_skipped += 1;
            notes.push("decrypted with a stored skipped key, now deleted".into());
        } else if stored_after < stored_before {
            notes.push(format!(
                "{} stored key(s) of the old chain deleted",
                stored_before - stored_after
            ));
        }
        if !notes.is_empty() {
            writeln!(self.out, "{INDENT}{}", notes.join("; "))?;
        }
        if let Some((_, tr, rk)) = &mirror {
            print_decrypt_trace(self.out, &p, rk, tr, plaintext.len())?;
        }
        Ok(())
    }

    fn summary(&mut self) -> Result<(), Failure> {
        let sent = self.messages.len();
        let t = &self.totals;
        writeln!(self.out)?;
        writeln!(
            self.out,
            "Summary: {sent} sent, {} delivered ({} late), {} resent after a drop, {} lost.",
            t.delivered, t.late, t.resent, t.lost
        )?;
        writeln!(
            self.out,
            "  {} DH ratchet steps (one per change of speaker); {} messages decrypted with stored skipped keys; skipped keys held now: Alice {}, Bob {}.",
            t.dh_steps,
            t.used_skipped,
            self.alice.stored_keys(),
            self.bob.stored_keys()
        )?;
        if t.mismatches == 0 {
            writeln!(
                self.out,
                "  Every delivered message decrypted to exactly what was sent."
            )?;
        }
        if !self.opts.trace {
            writeln!(
                self.out,
                "More: sova demo --trace (every derivation), --header-encryption, --seed N, --messages N"
            )?;
        }
        if t.mismatches == 0 {
            Ok(())
        } else {
            Err(Failure::Check(format!(
                "{} message(s) not decrypted to what was sent",
                t.mismatches
            )))
        }
    }
}

/// The ratchet message inside a wire message: itself, or the one an initial
/// message (type 0x03) carries.
fn ratchet_message_of(wire: &[u8]) -> Result<&[u8], Failure> {
    if wire.get(1) == Some(&TYPE_INITIAL) {
        HandshakeHeader::parse(wire)
            .map(|(_, inner)| inner)
            .map_err(|e| lib_err("initial message")(&e))
    } else {
        Ok(wire)
    }
}

fn describe_ratchet(inner: &[u8]) -> String {
    match message::parse(inner) {
        Ok(parsed) => match parsed.kind {
            message::Kind::PlainHeader(h) => {
                format!(
                    "ratchet message 0x01 (n={}, pn={})",
                    h.n, h.previous_chain_len
                )
            }
            message::Kind::EncryptedHeader { .. } => {
                "ratchet message 0x02 (header encrypted)".into()
            }
        },
        Err(e) => format!("malformed ratchet message ({e})"),
    }
}

fn describe_wire(wire: &[u8], inner: &[u8]) -> String {
    if wire.get(1) == Some(&TYPE_INITIAL) {
        format!(
            "initial message 0x03 around a {}-byte {}",
            inner.len(),
            describe_ratchet(inner)
        )
    } else {
        describe_ratchet(inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_to_string(opts: &Options) -> String {
        let mut out = Vec::new();
        run(opts, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn many_seeds_run_clean_in_both_modes() {
        for seed in 0..12 {
            for he in [false, true] {
                let opts = Options {
                    seed,
                    trace: seed % 8 == 0,
                    header_encryption: he,
                    messages: 24,
                    devices: false,
                    group: false,
                };
                let s = run_to_string(&opts);
                assert!(s.contains("Every delivered message decrypted"), "{s}");
            }
        }
    }
}
