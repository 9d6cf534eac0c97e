//! `sova conformance --impl CMD`: drives another implementation of Sova
//! through the JSON-lines protocol of spec appendix A and prints a pass/fail
//! table per capability.
//!
//! The runner starts `CMD` with the shell, sends `hello`, and then, for each
//! capability the implementation declares:
//!
//! * **vectors** — every case of every vector file, sent whole with its file
//!   name and index; the implementation answers whether it verifies. The
//!   first case of each kind is also sent with its last value edited, which
//!   must be reported as failing (so an implementation that answers "pass"
//!   without checking is caught). Each file is first checked against this
//!   library, so a damaged file is not blamed on the implementation.
//! * **ratchet**, **header-encryption** — live Double Ratchet sessions with
//!   this library, the implementation as initiator and as responder: both
//!   sides send, messages are delayed and reordered across DH ratchet steps,
//!   and copies of messages sent to the implementation are tampered with
//!   (bit flips in body, tag and header, truncation, a trailing byte) or
//!   replayed. Each must be rejected with the error class the spec gives,
//!   and the genuine message must still decrypt afterwards (§5.7).
//! * **session** — the same over full sessions (§7): the implementation
//!   publishes a bundle this library starts from, and starts from this
//!   library's bundle. A forged initial message (KEM ciphertext changed) must
//!   be rejected without consuming a prekey, and a replayed one refused.
//! * **ratchet-state** — a ratchet state made by this library is imported,
//!   exported unchanged byte for byte, continued, exported again and
//!   continued by this library; malformed states must be refused (§8).
//!
//! Exit codes: 0 when no test failed, 1 when one did (or, with `--strict`,
//! was skipped), 2 when the command cannot be started, the vector directory
//! cannot be read, or the arguments are wrong.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use rand_chacha::rand_core::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use serde_json::{json, Map, Value};
use sova::provider::CryptoProvider;
use sova::ratchet::{HeaderMode, Ratchet};
use sova::session::{Account, Session, TYPE_INITIAL};
use sova::{DefaultProvider, Secret};

use crate::protocol::{
    mode_name, ErrorReply, CAPABILITIES, CAP_HEADER_ENCRYPTION, CAP_RATCHET, CAP_RATCHET_STATE,
    CAP_SESSION, CAP_VECTORS, CASE_FAILED, PROTOCOL, UNSUPPORTED,
};
use crate::{classes, hex, Failure};

/// The options of `sova conformance`.
#[derive(Debug, Clone)]
pub struct Options {
    /// The shell command that starts the implementation.
    pub command: String,
    /// The directory of vector files.
    pub vectors: PathBuf,
    /// Seed of the live sessions.
    pub seed: u64,
    /// Rounds of conversation per live session.
    pub rounds: u32,
    /// How long to wait for each response.
    pub timeout: Duration,
    /// Capabilities to test (all when empty).
    pub only: Vec<String>,
    /// Count skipped tests as failures.
    pub strict: bool,
    /// Print JSON instead of a table.
    pub json: bool,
}

/// The result of one test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Passed.
    Pass,
    /// Failed.
    Fail,
    /// Not run: capability not declared, cases unsupported, or the
    /// implementation stopped answering.
    Skip,
}

impl Status {
    fn name(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Fail => "FAIL",
            Self::Skip => "skip",
        }
    }
}

/// One line of the report.
#[derive(Debug, Clone)]
pub struct Row {
    /// The capability tested.
    pub capability: String,
    /// The test.
    pub test: String,
    /// Its result.
    pub status: Status,
    /// Counts or the first failure.
    pub detail: String,
}

// ---------------------------------------------------------------------------
// The implementation under test.

/// A problem that makes the implementation unusable for the rest of the run.
#[derive(Debug, Clone)]
struct Broken(String);

/// A response: the fields of a success, or the error.
type Response = Result<Map<String, Value>, ErrorReply>;

struct Port {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<std::io::Result<String>>,
    next_id: u64,
    timeout: Duration,
    broken: Option<Broken>,
}

impl Port {
    fn spawn(command: &str, timeout: Duration) -> Result<Self, Failure> {
        let mut cmd = if cfg!(windows) {
            let mut c = Command::new("cmd");
            c.arg("/C").arg(command);
            c
        } else {
            let mut c = Command::new("sh");
            c.arg("-c").arg(command);
            c
        };
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| Failure::Error(format!("cannot start {command:?}: {e}")))?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| Failure::Error("no standard output from the implementation".into()))?;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let end = line.is_err();
                if tx.send(line).is_err() || end {
                    break;
                }
            }
        });
        Ok(Self {
            stdin: child.stdin.take(),
            child,
            lines: rx,
            next_id: 1,
            timeout,
            broken: None,
        })
    }

    fn exit_status(&mut self) -> String {
        match self.child.try_wait() {
            Ok(Some(s)) => format!(" ({s})"),
            _ => String::new(),
        }
    }

    fn fail(&mut self, what: String) -> Broken {
        let b = Broken(what);
        self.broken = Some(b.clone());
        b
    }

    /// Sends one request and waits for its response.
    fn call(&mut self, op: &str, fields: Value) -> Result<Response, Broken> {
        if let Some(b) = &self.broken {
            return Err(b.clone());
        }
        let id = self.next_id;
        self.next_id += 1;
        let mut req = Map::new();
        req.insert("id".into(), json!(id));
        req.insert("op".into(), json!(op));
        if let Value::Object(f) = fields {
            req.extend(f);
        }
        let line = Value::Object(req).to_string();
        let sent = match self.stdin.as_mut() {
            Some(stdin) => writeln!(stdin, "{line}").and_then(|()| stdin.flush()),
            None => Err(std::io::Error::other("input closed")),
        };
        if let Err(e) = sent {
            let status = self.exit_status();
            return Err(self.fail(format!(
                "cannot send `{op}`: {e}; the implementation exited{status}"
            )));
        }
        let reply = match self.lines.recv_timeout(self.timeout) {
            Ok(Ok(l)) => l,
            Ok(Err(e)) => return Err(self.fail(format!("reading its output: {e}"))),
            Err(RecvTimeoutError::Timeout) => {
                return Err(self.fail(format!(
                    "no response to `{op}` within {} s",
                    self.timeout.as_secs()
                )))
            }
            Err(RecvTimeoutError::Disconnected) => {
                std::thread::sleep(Duration::from_millis(50));
                let status = self.exit_status();
                return Err(self.fail(format!(
                    "it closed its output before answering `{op}`{status}"
                )));
            }
        };
        let mut obj = match serde_json::from_str::<Value>(&reply) {
            Ok(Value::Object(o)) => o,
            _ => {
                let shown: String = reply.chars().take(120).collect();
                return Err(self.fail(format!(
                    "the response to `{op}` is not a JSON object: {shown:?}"
                )));
            }
        };
        if obj.get("id") != Some(&json!(id)) {
            return Err(self.fail(format!(
                "the response to `{op}` has id {}, expected {id}",
                obj.get("id").cloned().unwrap_or(Value::Null)
            )));
        }
        match obj.get("ok").and_then(Value::as_bool) {
            Some(true) => {
                obj.remove("id");
                obj.remove("ok");
                Ok(Ok(obj))
            }
            Some(false) => {
                let err = obj.get("error").and_then(Value::as_object);
                let class = err.and_then(|e| e.get("class")).and_then(Value::as_str);
                match (err, class) {
                    (Some(e), Some(class)) => {
                        let mut extra = e.clone();
                        extra.remove("class");
                        let message = extra
                            .remove("message")
                            .and_then(|m| m.as_str().map(str::to_owned))
                            .unwrap_or_default();
                        Ok(Err(ErrorReply {
                            class: class.to_owned(),
                            message,
                            extra,
                        }))
                    }
                    _ => {
                        Err(self.fail(format!("the error response to `{op}` lacks `error.class`")))
                    }
                }
            }
            None => Err(self.fail(format!("the response to `{op}` lacks a boolean `ok`"))),
        }
    }

    /// Says goodbye and waits briefly for the process to exit; kills it otherwise.
    fn finish(mut self) {
        if self.broken.is_none() {
            let _ = self.call("bye", json!({}));
        }
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(3);
        loop {
            match self.child.try_wait() {
                Ok(Some(_)) | Err(_) => return,
                Ok(None) if Instant::now() >= deadline => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    return;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    }
}

/// A string field of a successful response.
fn field<'a>(m: &'a Map<String, Value>, op: &str, name: &str) -> Result<&'a str, String> {
    m.get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("the response to `{op}` lacks the string field `{name}`"))
}

/// A hex field of a successful response.
fn hex_of(m: &Map<String, Value>, op: &str, name: &str) -> Result<Vec<u8>, String> {
    let s = field(m, op, name)?;
    ::hex::decode(s).map_err(|e| format!("the response to `{op}`: field `{name}` is not hex: {e}"))
}

// ---------------------------------------------------------------------------
// The two sides of a live session.

/// One party of a live session: this library, or the implementation.
enum Peer {
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
enum Delivery {
    Plaintext(Vec<u8>),
    Rejected(String),
    /// Accepted, but as a session whose id differs from the peer's.
    WrongSession(String),
}

impl Peer {
    fn is_port(&self) -> bool {
        matches!(
            self,
            Self::PortRatchet(_) | Self::PortInitiator(_) | Self::PortResponder { .. }
        )
    }

    /// Whether a message arriving now would be an initial message accepted
    /// by the account (no session yet).
    fn awaiting_session(&self) -> bool {
        matches!(
            self,
            Self::LibResponder { session: None, .. } | Self::PortResponder { session: None, .. }
        )
    }

    fn encrypt(
        &mut self,
        port: &mut Port,
        rng: &mut ChaCha20Rng,
        pt: &[u8],
    ) -> Result<Vec<u8>, String> {
        let lib = |e: sova::ratchet::EncryptError| format!("this library cannot encrypt: {e}");
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
    fn decrypt(
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
            Self::LibResponder { account, session } => Ok(match account.accept(msg) {
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

// ---------------------------------------------------------------------------
// Tampering.

/// One way to damage a message, and the error class the receiver must report.
struct Tamper {
    what: &'static str,
    message: Vec<u8>,
    /// The class expected; ratchet-level classes are wrapped in
    /// `FirstMessage(…)` when an account accepts the message.
    class: String,
}

fn flip(m: &[u8], at: usize) -> Vec<u8> {
    let mut t = m.to_vec();
    if let Some(b) = t.get_mut(at) {
        *b ^= 0x04;
    }
    t
}

/// The ways to tamper with `wire` (a ratchet message, or an initial message
/// around one) for a receiver in `mode`; `accepting` when the receiver has no
/// session yet and an account will accept the message.
fn tampers(wire: &[u8], mode: HeaderMode, accepting: bool) -> Vec<Tamper> {
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
        HeaderMode::Encrypted => {
            out.push(Tamper {
                what: "encrypted header bit flipped",
                message: flip(wire, inner + 14 + 7),
                class: ratchet("HeaderAuthentication"),
            });
            out.push(Tamper {
                what: "header nonce bit flipped",
                message: flip(wire, inner + 2 + 3),
                class: ratchet("HeaderAuthentication"),
            });
        }
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

/// A forged initial message: its ML-KEM ciphertext changed. Implicit
/// rejection gives an unrelated shared secret, so the first message cannot
/// decrypt (§7.6), and nothing may be committed.
fn kem_ciphertext_tamper(wire: &[u8], mode: HeaderMode) -> Tamper {
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

// ---------------------------------------------------------------------------
// The runner.

#[derive(Default)]
struct Stats {
    rounds: u32,
    messages: usize,
    tampered: usize,
    replayed: usize,
    late: usize,
}

/// A live session under test: its header mode, the session id both sides
/// must agree on, the first initial message (to replay) and the counts.
struct Live {
    mode: HeaderMode,
    session_id: Option<Vec<u8>>,
    first_initial: Option<Vec<u8>>,
    stats: Stats,
}

impl Live {
    fn new(mode: HeaderMode) -> Self {
        Self {
            mode,
            session_id: None,
            first_initial: None,
            stats: Stats::default(),
        }
    }
}

struct InFlight {
    from_initiator: bool,
    sent: u32,
    label: String,
    wire: Vec<u8>,
    plaintext: Vec<u8>,
    due: u32,
}

struct Runner<'a> {
    opts: &'a Options,
    port: Port,
    capabilities: Vec<String>,
    rows: Vec<Row>,
    /// Draws keys for this library's side.
    crypto: ChaCha20Rng,
    /// Draws plaintexts, delivery order and tampering.
    choice: ChaCha20Rng,
}

fn random_bytes<const N: usize>(rng: &mut ChaCha20Rng) -> [u8; N] {
    let mut b = [0u8; N];
    rng.fill_bytes(&mut b);
    b
}

impl Runner<'_> {
    fn below(&mut self, n: usize) -> usize {
        (self.choice.next_u64() % n.max(1) as u64) as usize
    }

    fn plaintext(&mut self) -> Vec<u8> {
        let len = match self.below(10) {
            0 => 0,
            1 => 200 + self.below(1200),
            _ => 1 + self.below(60),
        };
        let mut v = vec![0u8; len];
        self.choice.fill_bytes(&mut v);
        v
    }

    fn wanted(&self, cap: &str) -> bool {
        self.opts.only.is_empty() || self.opts.only.iter().any(|c| c == cap)
    }

    fn declared(&self, cap: &str) -> bool {
        self.capabilities.iter().any(|c| c == cap)
    }

    fn row(&mut self, capability: &str, test: impl Into<String>, status: Status, detail: String) {
        self.rows.push(Row {
            capability: capability.into(),
            test: test.into(),
            status,
            detail,
        });
    }

    /// Records a test's outcome; a broken implementation turns into a skip
    /// for every later test.
    fn record(&mut self, capability: &str, test: &str, result: Result<String, String>) {
        match result {
            Ok(detail) => self.row(capability, test, Status::Pass, detail),
            Err(detail) => self.row(capability, test, Status::Fail, detail),
        }
    }

    /// Runs a live test if the capabilities allow it.
    fn live(
        &mut self,
        row_cap: &str,
        needs: &[&str],
        test: &str,
        f: impl FnOnce(&mut Self) -> Result<String, String>,
    ) {
        if !self.wanted(row_cap) {
            return;
        }
        if let Some(b) = &self.port.broken {
            let d = format!("not run: {}", b.0);
            self.row(row_cap, test, Status::Skip, d);
            return;
        }
        if let Some(missing) = needs.iter().find(|c| !self.declared(c)) {
            self.row(
                row_cap,
                test,
                Status::Skip,
                format!("capability `{missing}` not declared"),
            );
            return;
        }
        let r = f(self);
        self.record(row_cap, test, r);
    }

    // -- vectors --------------------------------------------------------------

    fn vectors(&mut self, files: &[(String, Vec<u8>)]) {
        if !self.wanted(CAP_VECTORS) {
            return;
        }
        if let Some(b) = &self.port.broken {
            let d = format!("not run: {}", b.0);
            self.row(CAP_VECTORS, "every vector file", Status::Skip, d);
            return;
        }
        if !self.declared(CAP_VECTORS) {
            self.row(
                CAP_VECTORS,
                "every vector file",
                Status::Skip,
                "capability `vectors` not declared".into(),
            );
            return;
        }
        let mut edits_total = 0usize;
        let mut edits_caught = 0usize;
        let mut edit_failure: Option<String> = None;
        let mut edit_unsupported = 0usize;
        for (name, contents) in files {
            if sova_vectors::family(name).is_none() {
                self.row(
                    CAP_VECTORS,
                    name.clone(),
                    Status::Skip,
                    "not a vector file this runner knows".into(),
                );
                continue;
            }
            if let Some(b) = &self.port.broken {
                let d = format!("not run: {}", b.0);
                self.row(CAP_VECTORS, name.clone(), Status::Skip, d);
                continue;
            }
            let own = sova_vectors::verify_file(name, contents, &[&DefaultProvider::default()]);
            if !own.passed() {
                let why = match (&own.error, own.first_failure()) {
                    (Some(e), _) => e.to_string(),
                    (None, Some((_, f))) => f.to_string(),
                    (None, None) => "unknown".into(),
                };
                self.row(
                    CAP_VECTORS,
                    name.clone(),
                    Status::Fail,
                    format!("the file does not verify with this library either (damaged?): {why}"),
                );
                continue;
            }
            let cases: Vec<Value> = serde_json::from_slice::<Value>(contents)
                .ok()
                .and_then(|v| v.get("cases").and_then(Value::as_array).cloned())
                .unwrap_or_default();
            let mut passed = 0usize;
            let mut unsupported: Vec<String> = Vec::new();
            let mut first_failure: Option<String> = None;
            let mut failed = 0usize;
            let mut kinds_seen: Vec<String> = Vec::new();
            for (i, case) in cases.iter().enumerate() {
                let kind = case
                    .get("kind")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned();
                let r = self.port.call(
                    "vector_case",
                    json!({ "file": name, "index": i, "case": case }),
                );
                let r = match r {
                    Ok(r) => r,
                    Err(b) => {
                        failed += 1;
                        first_failure.get_or_insert(format!("case {i} ({kind}): {}", b.0));
                        break;
                    }
                };
                match r {
                    Ok(_) => passed += 1,
                    Err(e) if e.class == UNSUPPORTED => {
                        if !unsupported.contains(&kind) {
                            unsupported.push(kind.clone());
                        }
                        continue;
                    }
                    Err(e) => {
                        failed += 1;
                        let field = e
                            .extra
                            .get("field")
                            .and_then(Value::as_str)
                            .map(|f| format!(", field `{f}`"))
                            .unwrap_or_default();
                        first_failure.get_or_insert(format!(
                            "case {i} ({kind}){field}: {}: {}",
                            e.class, e.message
                        ));
                        continue;
                    }
                }
                // A negative control: the first case of each kind, edited.
                if kinds_seen.contains(&kind) {
                    continue;
                }
                kinds_seen.push(kind.clone());
                let mut edited = case.clone();
                let Some(path) = edit_last_value(&mut edited, String::new()) else {
                    continue;
                };
                edits_total += 1;
                match self.port.call(
                    "vector_case",
                    json!({ "file": name, "index": i, "case": edited }),
                ) {
                    Ok(Err(e)) if e.class == CASE_FAILED => edits_caught += 1,
                    Ok(Err(e)) if e.class == UNSUPPORTED => edit_unsupported += 1,
                    Ok(Ok(_)) => {
                        edit_failure.get_or_insert(format!(
                            "{name} case {i} ({kind}) with `{path}` edited was reported as passing"
                        ));
                    }
                    Ok(Err(e)) => {
                        edit_failure.get_or_insert(format!(
                            "{name} case {i} ({kind}) with `{path}` edited: expected class {CASE_FAILED}, got {}",
                            e.class
                        ));
                    }
                    Err(b) => {
                        edit_failure.get_or_insert(b.0);
                    }
                }
            }
            let total = cases.len();
            let (status, detail) = if failed > 0 {
                (
                    Status::Fail,
                    format!(
                        "{passed}/{total} cases passed; first failure: {}",
                        first_failure.unwrap_or_default()
                    ),
                )
            } else if !unsupported.is_empty() {
                (
                    Status::Skip,
                    format!(
                        "{passed}/{total} cases passed; unsupported kinds: {}",
                        unsupported.join(", ")
                    ),
                )
            } else {
                (Status::Pass, format!("{passed}/{total} cases"))
            };
            self.row(CAP_VECTORS, name.clone(), status, detail);
        }
        let test = "edited cases reported as failing";
        match edit_failure {
            Some(f) => self.row(
                CAP_VECTORS,
                test,
                Status::Fail,
                format!("{edits_caught}/{edits_total} caught; {f}"),
            ),
            None if edits_total == 0 || edit_unsupported == edits_total => {
                self.row(CAP_VECTORS, test, Status::Skip, "no case to edit".into())
            }
            None => self.row(
                CAP_VECTORS,
                test,
                Status::Pass,
                format!(
                    "{edits_caught}/{edits_total} (first case of each kind, last value edited)"
                ),
            ),
        }
    }

    // -- live sessions ----------------------------------------------------------

    /// Delivers one message (and, when the receiver is the implementation,
    /// tampered copies and replays of it).
    fn deliver(
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
    fn converse(
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

    fn ratchet_pair(&mut self, mode: HeaderMode, port_initiates: bool) -> Result<String, String> {
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

    fn session_pair(&mut self, mode: HeaderMode, port_initiates: bool) -> Result<String, String> {
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
            let s = Session::start(&lib_account, &mut self.crypto, &bundle, mode).map_err(|e| {
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

    /// Imports and exports ratchet states (§8.2) and continues them.
    fn ratchet_state(&mut self, mode: HeaderMode) -> Result<String, String> {
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

fn describe(s: &Stats) -> String {
    format!(
        "{} rounds, {} messages ({} delivered late), tampered copies rejected: {}, replays rejected: {}",
        s.rounds, s.messages, s.late, s.tampered, s.replayed
    )
}

/// Edits the last scalar value of a case (depth first through the last
/// field of objects and the last element of arrays); returns its path.
fn edit_last_value(v: &mut Value, path: String) -> Option<String> {
    match v {
        Value::Object(m) => {
            let key = m.keys().next_back()?.clone();
            let child = m.get_mut(&key)?;
            let p = if path.is_empty() {
                key
            } else {
                format!("{path}.{key}")
            };
            edit_last_value(child, p)
        }
        Value::Array(a) => {
            let i = a.len().checked_sub(1)?;
            edit_last_value(a.get_mut(i)?, format!("{path}[{i}]"))
        }
        Value::String(s) => {
            let is_hex = !s.is_empty()
                && s.len() % 2 == 0
                && s.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
            *s = if is_hex {
                let mut b = ::hex::decode(&*s).ok()?;
                let last = b.len() - 1;
                b[last] ^= 0x01;
                ::hex::encode(b)
            } else if s.is_empty() {
                "00".into()
            } else {
                format!("{s}-edited")
            };
            Some(path)
        }
        Value::Number(n) => {
            *v = json!(n.as_u64().map_or(1, |x| x + 1));
            Some(path)
        }
        Value::Bool(b) => {
            *b = !*b;
            Some(path)
        }
        Value::Null => None,
    }
}

// ---------------------------------------------------------------------------
// Running and reporting.

/// Reads the vector files of `dir`: the known ones in canonical order, then
/// any other `.json` file by name.
fn read_vectors(dir: &std::path::Path) -> Result<Vec<(String, Vec<u8>)>, Failure> {
    let io = |e: std::io::Error| Failure::Error(format!("{}: {e}", dir.display()));
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".json") && entry.path().is_file() {
            names.push(name);
        }
    }
    names.sort_by_key(|n| {
        (
            sova_vectors::FAMILIES
                .iter()
                .position(|f| f.file() == n)
                .unwrap_or(usize::MAX),
            n.clone(),
        )
    });
    names
        .into_iter()
        .map(|n| {
            let path = dir.join(&n);
            std::fs::read(&path)
                .map(|c| (n, c))
                .map_err(|e| Failure::Error(format!("{}: {e}", path.display())))
        })
        .collect()
}

/// The report of a run.
#[derive(Debug, Clone)]
pub struct Report {
    /// What the implementation calls itself.
    pub implementation: String,
    /// The capabilities it declared.
    pub capabilities: Vec<String>,
    /// One row per test.
    pub rows: Vec<Row>,
    /// Whether the run passed (no failure; with `strict`, no skip either).
    pub passed: bool,
}

fn seed_bytes(seed: u64) -> [u8; 32] {
    let mut rng = ChaCha20Rng::seed_from_u64(seed ^ 0x706f_7274);
    random_bytes(&mut rng)
}

/// Runs the conformance tests and returns the report.
///
/// # Errors
/// [`Failure::Error`] when the command cannot be started, the vector
/// directory cannot be read, or `only` names an unknown capability.
pub fn run_tests(opts: &Options) -> Result<Report, Failure> {
    if let Some(bad) = opts
        .only
        .iter()
        .find(|c| !CAPABILITIES.contains(&c.as_str()))
    {
        return Err(Failure::Error(format!(
            "--only {bad}: unknown capability (known: {})",
            CAPABILITIES.join(", ")
        )));
    }
    let files = if opts.only.is_empty() || opts.only.iter().any(|c| c == CAP_VECTORS) {
        read_vectors(&opts.vectors)?
    } else {
        Vec::new()
    };
    let port = Port::spawn(&opts.command, opts.timeout)?;
    let mut r = Runner {
        opts,
        port,
        capabilities: Vec::new(),
        rows: Vec::new(),
        crypto: ChaCha20Rng::seed_from_u64(opts.seed),
        choice: ChaCha20Rng::seed_from_u64(opts.seed ^ 0x6368_6f69_6365),
    };
    let hello = r.port.call(
        "hello",
        json!({ "protocol": PROTOCOL, "seed": hex(&seed_bytes(opts.seed)) }),
    );
    let mut implementation = String::new();
    match hello {
        Ok(Ok(m)) => {
            implementation = m
                .get("implementation")
                .and_then(Value::as_str)
                .unwrap_or("(unnamed)")
                .to_owned();
            let protocol = m
                .get("protocol")
                .and_then(Value::as_str)
                .unwrap_or(PROTOCOL);
            r.capabilities = m
                .get("capabilities")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default();
            if protocol != PROTOCOL {
                r.row(
                    "protocol",
                    "hello",
                    Status::Fail,
                    format!("speaks {protocol:?}, not {PROTOCOL:?}"),
                );
                r.port.broken = Some(Broken(format!("protocol {protocol:?} is not {PROTOCOL:?}")));
            } else {
                let caps = if r.capabilities.is_empty() {
                    "no capabilities".to_owned()
                } else {
                    r.capabilities.join(", ")
                };
                r.row("protocol", "hello", Status::Pass, caps);
            }
        }
        Ok(Err(e)) => {
            let d = format!("hello refused: {} ({})", e.class, e.message);
            r.row("protocol", "hello", Status::Fail, d.clone());
            r.port.broken = Some(Broken(d));
        }
        Err(b) => {
            // The shell's "command not found" / "not executable".
            if let Ok(Some(status)) = r.port.child.try_wait() {
                if matches!(status.code(), Some(126 | 127)) {
                    return Err(Failure::Error(format!(
                        "cannot start {:?}: the shell exited with {status} (command not found or not executable)",
                        opts.command
                    )));
                }
            }
            r.row("protocol", "hello", Status::Fail, b.0)
        }
    }

    r.vectors(&files);
    for (cap, mode, needs) in [
        (CAP_RATCHET, HeaderMode::Plain, &[CAP_RATCHET][..]),
        (
            CAP_HEADER_ENCRYPTION,
            HeaderMode::Encrypted,
            &[CAP_RATCHET, CAP_HEADER_ENCRYPTION][..],
        ),
    ] {
        let m = mode_name(mode);
        r.live(
            cap,
            needs,
            &format!("{m} headers, implementation initiates"),
            |r| r.ratchet_pair(mode, true),
        );
        r.live(
            cap,
            needs,
            &format!("{m} headers, implementation responds"),
            |r| r.ratchet_pair(mode, false),
        );
    }
    for mode in [HeaderMode::Plain, HeaderMode::Encrypted] {
        let needs: &[&str] = match mode {
            HeaderMode::Plain => &[CAP_SESSION],
            HeaderMode::Encrypted => &[CAP_SESSION, CAP_HEADER_ENCRYPTION],
        };
        let m = mode_name(mode);
        r.live(
            CAP_SESSION,
            needs,
            &format!("{m} headers, implementation initiates"),
            |r| r.session_pair(mode, true),
        );
        r.live(
            CAP_SESSION,
            needs,
            &format!("{m} headers, implementation responds"),
            |r| r.session_pair(mode, false),
        );
    }
    r.live(
        CAP_RATCHET_STATE,
        &[CAP_RATCHET, CAP_RATCHET_STATE],
        "plain headers: import, export, continue",
        |r| r.ratchet_state(HeaderMode::Plain),
    );
    r.live(
        CAP_RATCHET_STATE,
        &[CAP_RATCHET, CAP_RATCHET_STATE, CAP_HEADER_ENCRYPTION],
        "encrypted headers: import, export, continue",
        |r| r.ratchet_state(HeaderMode::Encrypted),
    );

    let Runner {
        port,
        rows,
        capabilities,
        ..
    } = r;
    port.finish();
    let passed = rows.iter().all(|row| match row.status {
        Status::Pass => true,
        Status::Fail => false,
        Status::Skip => !opts.strict,
    });
    Ok(Report {
        implementation,
        capabilities,
        rows,
        passed,
    })
}

/// The plain-text table of a report.
pub fn to_text(r: &Report, opts: &Options) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Conformance of {:?} ({PROTOCOL}, seed {}, {} rounds per live session)",
        if r.implementation.is_empty() {
            opts.command.as_str()
        } else {
            r.implementation.as_str()
        },
        opts.seed,
        opts.rounds
    );
    let _ = writeln!(s);
    let cap_w = r
        .rows
        .iter()
        .map(|row| row.capability.len())
        .max()
        .unwrap_or(10)
        .max(10);
    let test_w = r
        .rows
        .iter()
        .map(|row| row.test.len())
        .max()
        .unwrap_or(4)
        .max(4);
    let _ = writeln!(s, "{:<cap_w$}  {:<test_w$}  result", "capability", "test");
    for row in &r.rows {
        let _ = writeln!(
            s,
            "{:<cap_w$}  {:<test_w$}  {}",
            row.capability,
            row.test,
            row.status.name()
        );
        if !row.detail.is_empty() {
            let _ = writeln!(s, "{:<cap_w$}    {}", "", row.detail);
        }
    }
    let count = |st: Status| r.rows.iter().filter(|row| row.status == st).count();
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "{} passed, {} failed, {} skipped{}: {}",
        count(Status::Pass),
        count(Status::Fail),
        count(Status::Skip),
        if opts.strict { " (strict)" } else { "" },
        if r.passed { "PASS" } else { "FAIL" }
    );
    s
}

/// The JSON form of a report.
pub fn to_json(r: &Report, opts: &Options) -> Value {
    let count = |st: Status| r.rows.iter().filter(|row| row.status == st).count();
    json!({
        "implementation": r.implementation,
        "command": opts.command,
        "protocol": PROTOCOL,
        "seed": opts.seed,
        "rounds": opts.rounds,
        "capabilities": r.capabilities,
        "rows": r.rows.iter().map(|row| json!({
            "capability": row.capability,
            "test": row.test,
            "status": row.status.name().to_lowercase(),
            "detail": row.detail,
        })).collect::<Vec<_>>(),
        "passed": count(Status::Pass),
        "failed": count(Status::Fail),
        "skipped": count(Status::Skip),
        "strict": opts.strict,
        "result": if r.passed { "pass" } else { "fail" },
    })
}

/// Runs `sova conformance` and prints the report.
///
/// # Errors
/// [`Failure::Check`] when a test failed; [`Failure::Error`] as [`run_tests`].
pub fn run(opts: &Options, out: &mut dyn Write) -> Result<(), Failure> {
    let report = run_tests(opts)?;
    if opts.json {
        let s = serde_json::to_string_pretty(&to_json(&report, opts))
            .map_err(|e| Failure::Error(format!("encoding the report: {e}")))?;
        writeln!(out, "{s}")?;
    } else {
        write!(out, "{}", to_text(&report, opts))?;
    }
    if report.passed {
        Ok(())
    } else {
        Err(Failure::Check(String::new()))
    }
}
