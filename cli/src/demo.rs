//! `sova demo`: Alice and Bob establish a session and talk over a simulated
//! network that delays, reorders and drops messages.
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
use sova::kdf::{labeled_expand, labeled_extract};
use sova::labels;
use sova::provider::CryptoProvider;
use sova::ratchet::{self, message, HeaderMode, Ratchet, Trace};
use sova::session::{
    derive_keys, transcript_hash, Account, Conversation, HandshakeHeader, HandshakeSecrets,
    PrekeyBundle, Session, Transcript, TYPE_INITIAL,
};
use sova::{DefaultProvider, Secret};

use crate::{hex, hex_short, Failure};

/// The options of `sova demo`.
#[derive(Debug, Clone)]
pub struct Options {
    /// Seed of the keys and of the network.
    pub seed: u64,
    /// Print every derivation step.
    pub trace: bool,
    /// Use encrypted headers (type 0x02 messages).
    pub header_encryption: bool,
    /// How many messages are sent in all.
    pub messages: u32,
}

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

/// Values of the handshake the trace recomputes (spec §7.4).
struct HandshakeView {
    th: [u8; 32],
    sk: Secret<32>,
    spk_private: Secret<32>,
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

const INDENT: &str = "        ";

fn check(ok: bool, what: &str) -> Result<(), Failure> {
    if ok {
        Ok(())
    } else {
        Err(Failure::Check(format!("self-check failed: {what}")))
    }
}

fn lib_err(what: &str) -> impl Fn(&dyn std::fmt::Display) -> Failure + '_ {
    move |e| Failure::Check(format!("{what}: {e}"))
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

/// Recomputes the handshake from the same random draws and prints every
/// value (spec §7.4, §5.2.1); checks `TH` against the session id.
fn trace_handshake(
    out: &mut dyn Write,
    p: &DefaultProvider,
    mut rng: ChaCha20Rng,
    alice: &Account,
    bob: &Account,
    bundle: &PrekeyBundle,
    session_id: &[u8; 32],
) -> Result<HandshakeView, Failure> {
    let fail = |what: &str| Failure::Check(format!("tracing the handshake: {what}"));
    // The private keys come from the accounts' encodings (spec §8.4):
    // magic (14) || version (1) || generation (8) || IK_sig.seed (32)
    // || IK_dh.priv (32) || next_prekey_id (4) || long_term_published (1) || SPK id (4)
    // || SPK private (32) || …
    let a = alice.to_bytes();
    let b = bob.to_bytes();
    let ik_a = a
        .get(55..87)
        .and_then(Secret::<32>::try_from_slice)
        .ok_or_else(|| fail("Alice's account encoding"))?;
    let spk_id = b
        .get(92..96)
        .and_then(|s| <[u8; 4]>::try_from(s).ok())
        .map(u32::from_be_bytes);
    check(
        spk_id == Some(bundle.signed_prekey_id),
        "Bob's signed prekey id",
    )?;
    let spk_private = b
        .get(96..128)
        .and_then(Secret::<32>::try_from_slice)
        .ok_or_else(|| fail("Bob's account encoding"))?;

    // Session::start draws the ephemeral key, then the encapsulation randomness.
    let mut ek = Secret::<32>::zero();
    rng.fill_bytes(ek.expose_mut());
    let mut m = Secret::<32>::zero();
    rng.fill_bytes(m.expose_mut());
    let ek_pub = p.x25519_public_key(&ek);
    let x = |k: &Secret<32>, pk: &[u8; 32]| p.x25519(k, pk).map_err(|e| fail(&e.to_string()));
    let mut dh = vec![
        x(&ik_a, &bundle.signed_prekey)?,
        x(&ek, &bundle.identity.agreement_key)?,
        x(&ek, &bundle.signed_prekey)?,
    ];
    if let Some((_, opk)) = &bundle.one_time_prekey {
        dh.push(x(&ek, opk)?);
    }
    let (ct, ss) = p
        .ml_kem_768_encapsulate(&bundle.kem_prekey, &m)
        .map_err(|e| fail(&e.to_string()))?;
    let alice_public = alice.identity();
    let th = transcript_hash(
        p,
        &Transcript {
            initiator: alice_public,
            responder: &bundle.identity,
            signed_prekey: (bundle.signed_prekey_id, &bundle.signed_prekey),
            one_time_prekey: bundle.one_time_prekey.as_ref().map(|(id, k)| (*id, k)),
            kem_prekey: (
                bundle.kem_prekey_kind,
                bundle.kem_prekey_id,
                &bundle.kem_prekey,
            ),
            ephemeral_key: &ek_pub,
            kem_ciphertext: &ct,
        },
    )
    .map_err(|e| fail(&e.to_string()))?;
    check(&th == session_id, "TH differs from the session id")?;
    let mut ikm: Vec<&[u8]> = dh.iter().map(|d| &d.expose()[..]).collect();
    ikm.push(ss.expose());
    let prk = labeled_extract(p, &th, labels::HANDSHAKE, &ikm).map_err(|e| fail(&e.to_string()))?;
    let mut sk = Secret::<32>::zero();
    labeled_expand(p, &prk, labels::SESSION_SECRET, b"", sk.expose_mut())
        .map_err(|e| fail(&e.to_string()))?;
    let keys = derive_keys(
        p,
        th,
        &HandshakeSecrets {
            dh: dh.clone(),
            kem_shared_secret: ss.clone(),
        },
    )
    .map_err(|e| fail(&e.to_string()))?;
    check(keys.session_secret == sk, "SK differs from the library's")?;
    let init = ratchet::kdf::init_keys(p, &sk).map_err(|e| fail(&e.to_string()))?;

    let i = INDENT;
    writeln!(out, "{i}Handshake, Alice's side (§7.4):")?;
    writeln!(out, "{i}  ek  = {}   (32 random bytes)", hex(ek.expose()))?;
    writeln!(out, "{i}  EK  = X25519(ek, 9) = {}", hex(&ek_pub))?;
    writeln!(out, "{i}  m   = {}   (32 random bytes)", hex(m.expose()))?;
    let names = [
        "DH1 = X25519(IK_dh_A.priv, SPK_B)",
        "DH2 = X25519(ek, IK_dh_B)        ",
        "DH3 = X25519(ek, SPK_B)          ",
        "DH4 = X25519(ek, OPK_B)          ",
    ];
    for (name, d) in names.iter().zip(&dh) {
        writeln!(out, "{i}  {name} = {}", hex(d.expose()))?;
    }
    writeln!(
        out,
        "{i}  (CT, SS) = ML-KEM-768.Encaps(PQPK_B, m): CT = {}",
        hex_short(&ct, 32)
    )?;
    writeln!(
        out,
        "{i}                                      SS = {}",
        hex(ss.expose())
    )?;
    writeln!(
        out,
        "{i}  TH  = LabeledHash(\"handshake transcript\", IdentityPublic_A || IdentityPublic_B || spk_id || SPK_B"
    )?;
    writeln!(
        out,
        "{i}          || opk || kem_kind || kem_id || SHA-256(PQPK_B) || EK || CT) = {}",
        hex(&th)
    )?;
    writeln!(
        out,
        "{i}  PRK = LabeledExtract(TH, \"handshake\", DH1 || DH2 || DH3 || DH4 || SS) = {}",
        hex(prk.expose())
    )?;
    writeln!(
        out,
        "{i}  SK  = LabeledExpand(PRK, \"session secret\", \"\", 32) = {}",
        hex(sk.expose())
    )?;
    writeln!(out, "{i}InitKeys(SK) (§5.2.1):")?;
    writeln!(out, "{i}  RK0 = {}", hex(init.root_key.expose()))?;
    writeln!(
        out,
        "{i}  HKA = {}   (Alice's first header key)",
        hex(init.initiator_header_key.expose())
    )?;
    writeln!(
        out,
        "{i}  HKB = {}   (Bob's first header key)",
        hex(init.responder_header_key.expose())
    )?;
    writeln!(
        out,
        "{i}  Alice's ratchet: AD = TH, DHr = SPK_B = {}",
        hex(&bundle.signed_prekey)
    )?;
    Ok(HandshakeView {
        th,
        sk,
        spk_private,
    })
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

fn key(k: &Option<Secret<32>>) -> String {
    k.as_ref().map_or_else(|| "-".into(), |k| hex(k.expose()))
}

fn print_header_keys(
    out: &mut dyn Write,
    p: &DefaultProvider,
    name: &str,
    hk: &Secret<32>,
    n: u32,
    salt: &[u8; message::SALT_LEN],
    nonce: Option<[u8; 12]>,
) -> Result<(), Failure> {
    let i = INDENT;
    let hks = ratchet::kdf::header_keys(p, hk).map_err(|e| lib_err("header keys")(&e))?;
    writeln!(out, "{i}  HeaderKeys({name} = {}):", hex(hk.expose()))?;
    writeln!(out, "{i}    HEK = {}", hex(hks.encryption_key.expose()))?;
    writeln!(out, "{i}    HNK = {}", hex(hks.nonce_key.expose()))?;
    let computed = ratchet::kdf::header_nonce(p, &hks.nonce_key, n, salt)
        .map_err(|e| lib_err("header nonce")(&e))?;
    if let Some(sent) = nonce {
        check(sent == computed, "the traced header nonce")?;
    }
    writeln!(
        out,
        "{i}  HeaderNonce(HNK, n = {n}, salt) = {}",
        hex(&computed)
    )?;
    Ok(())
}

fn print_padding(out: &mut dyn Write, len: usize, padded: usize) -> Result<(), Failure> {
    writeln!(
        out,
        "{INDENT}  Pad: L = {len}, PaddedLen(L) = {padded}: plaintext || 0x80 || {} zero bytes; body = {} + 16-byte tag",
        padded.saturating_sub(len + 1),
        padded
    )?;
    Ok(())
}

fn header_fields(header: &Option<[u8; message::HEADER_LEN]>) -> (String, u32, u32) {
    match header {
        Some(h) => {
            let d = message::Header::decode(h);
            (hex(&d.ratchet_key), d.previous_chain_len, d.n)
        }
        None => ("-".into(), 0, 0),
    }
}

fn print_encrypt_trace(
    out: &mut dyn Write,
    p: &DefaultProvider,
    mode: HeaderMode,
    root_before: &Secret<32>,
    t: &Trace,
    len: usize,
) -> Result<(), Failure> {
    let i = INDENT;
    let (dh_pub, pn, n) = header_fields(&t.header);
    writeln!(out, "{i}Encrypt (§5.5.2):")?;
    if let Some(private) = &t.ratchet_private {
        writeln!(
            out,
            "{i}  DH ratchet step: DHs.priv = {}   (32 random bytes)",
            hex(private.expose())
        )?;
        writeln!(out, "{i}    DHs.pub = {dh_pub}")?;
        writeln!(
            out,
            "{i}    dh = X25519(DHs.priv, DHr) = {}",
            key(&t.dh_output)
        )?;
        writeln!(
            out,
            "{i}    KDF_RK(RK = {}, dh):",
            hex(root_before.expose())
        )?;
        writeln!(out, "{i}      RK' = {}", key(&t.root_key))?;
        writeln!(out, "{i}      CKs = {}", key(&t.chain_key))?;
        writeln!(
            out,
            "{i}      NHK = {}   (header key of the next sending chain)",
            key(&t.next_header_key)
        )?;
    }
    writeln!(out, "{i}  KDF_CK(CKs = {}):", key(&t.chain_key))?;
    writeln!(out, "{i}    CKs' = {}", key(&t.next_chain_key))?;
    writeln!(out, "{i}    MK   = {}", key(&t.message_key))?;
    let salt = t.salt.unwrap_or_default();
    writeln!(
        out,
        "{i}  salt = {}   (16 random bytes, fresh per message)",
        hex(&salt)
    )?;
    writeln!(
        out,
        "{i}  MessageKeys(MK, salt): key = {}",
        key(&t.aead_key)
    )?;
    writeln!(
        out,
        "{i}                         nonce = {}",
        t.aead_nonce.map_or_else(|| "-".into(), |n| hex(&n))
    )?;
    writeln!(
        out,
        "{i}  header = DHs.pub || u32(PN = {pn}) || u32(Ns = {n}) || salt = {}",
        t.header.map_or_else(|| "-".into(), |h| hex(&h))
    )?;
    if mode == HeaderMode::Encrypted {
        if let Some(hk) = &t.header_key {
            print_header_keys(out, p, "HKs", hk, n, &salt, t.header_nonce)?;
            writeln!(
                out,
                "{i}  enc_header = ChaCha20-Poly1305-Seal(HEK, HeaderNonce, HeaderAD = u16(len(AD)) || AD || version || type, header)"
            )?;
        }
    }
    print_padding(out, len, t.padded_plaintext.len())?;
    writeln!(
        out,
        "{i}  body = ChaCha20-Poly1305-Seal(key, nonce, BodyAD = u16(len(AD)) || AD || prefix, Pad(P))"
    )?;
    Ok(())
}

fn print_decrypt_trace(
    out: &mut dyn Write,
    _p: &DefaultProvider,
    root_before: &Secret<32>,
    t: &Trace,
    len: usize,
) -> Result<(), Failure> {
    let i = INDENT;
    let (dh_pub, pn, n) = header_fields(&t.header);
    writeln!(out, "{i}Decrypt (§5.5.3):")?;
    writeln!(out, "{i}  header: dh = {dh_pub}, pn = {pn}, n = {n}")?;
    if let Some(dh) = &t.dh_output {
        writeln!(
            out,
            "{i}  DH ratchet step: dh = X25519(DHs.priv, header.dh) = {}",
            hex(dh.expose())
        )?;
        writeln!(
            out,
            "{i}    KDF_RK(RK = {}, dh):",
            hex(root_before.expose())
        )?;
        writeln!(out, "{i}      RK' = {}", key(&t.root_key))?;
        writeln!(out, "{i}      CKr = {}", key(&t.chain_key))?;
        writeln!(
            out,
            "{i}      NHK = {}   (header key of the peer's next chain)",
            key(&t.next_header_key)
        )?;
    } else if t.chain_key.is_some() {
        writeln!(
            out,
            "{i}  existing receiving chain, CKr = {}",
            key(&t.chain_key)
        )?;
    } else {
        writeln!(out, "{i}  stored skipped key of message {n}")?;
    }
    for (k, mk) in &t.closed_chain_keys {
        writeln!(
            out,
            "{i}  previous chain closed at pn = {pn}: MK of message {k} = {}   (stored)",
            hex(mk.expose())
        )?;
    }
    for (k, mk) in &t.skipped_keys {
        writeln!(
            out,
            "{i}  skipped: MK of message {k} = {}   (stored)",
            hex(mk.expose())
        )?;
    }
    writeln!(out, "{i}  MK = {}", key(&t.message_key))?;
    writeln!(
        out,
        "{i}  MessageKeys(MK, salt = {}): key = {}",
        t.salt.map_or_else(|| "-".into(), |s| hex(&s)),
        key(&t.aead_key)
    )?;
    writeln!(
        out,
        "{i}    nonce = {}",
        t.aead_nonce.map_or_else(|| "-".into(), |n| hex(&n))
    )?;
    writeln!(
        out,
        "{i}  Open(key, nonce, BodyAD, body): {} padded bytes, unpadded L = {len}",
        t.padded_plaintext.len()
    )?;
    Ok(())
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
                };
                let s = run_to_string(&opts);
                assert!(s.contains("Every delivered message decrypted"), "{s}");
            }
        }
    }
}
