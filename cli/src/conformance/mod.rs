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
//! * **prekey-rotation** — the previous signed prekey still accepts initial
//!   messages after one rotation, and is `UnknownPrekey` after two.
//! * **safety-number** — the displayed safety number (§10.5) equals this
//!   library's text.
//! * **devices** — device lists verified against the expected user key and
//!   refused with the classes of §11.3, the directory's updates (§11.4), and
//!   linking (§11.5) with this library as the admin device and as the new
//!   device, a tampered response and a forged offer refused.
//! * **fanout** — the implementation as one of Bob's devices exchanges
//!   fan-out messages (§11.6) with Alice's devices and Bob's other device,
//!   held by this library, in both directions; a replayed message and
//!   messages from an unlisted and from a removed device are refused, and
//!   the removed device gets nothing more.
//! * **groups** — the implementation as one member's device in a group
//!   (spec §12) with members held by this library, which also plays the
//!   server: group messages both ways, membership changes by it and by
//!   others each followed by a fresh chain, and the refusals of §12.3–§12.6
//!   (ghost members and devices, missing roles, forged signatures, stale,
//!   forked and replayed objects, a removed member's, chains and welcomes
//!   over another device's session), each leaving its exported state as it
//!   was.
//! * **recorded-randomness** — given the random bytes this library drew, the
//!   implementation's messages and exported ratchet states equal this
//!   library's byte for byte; with **session**, so do its accounts, bundles
//!   and exported account and session states.
//!
//! Besides, **ratchet** checks the limits (`SessionAdTooLong`,
//! `NoSendingChain`, `PlaintextTooLong`), **ratchet-state** `ChainExhausted`,
//! and **session** replayed initial messages (`Replay`) and simultaneous
//! initiation (`NotThisSession`).
//!
//! One file per capability: `vectors`, `ratchet`, `header_encryption`,
//! `session`, `ratchet_state`, `rotation`, `safety_number`,
//! `recorded`, `devices`, `fanout`, `groups`, with the limits in `limits`; `live` holds the two sides
//! of a live session and the conversation between them, and this module the
//! protocol driver (the implementation's process), the runner and the report.
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
use sova::ratchet::HeaderMode;

use crate::protocol::{
    mode_name, ErrorReply, CAPABILITIES, CAP_DEVICES, CAP_FANOUT, CAP_GROUPS,
    CAP_HEADER_ENCRYPTION, CAP_PREKEY_ROTATION, CAP_RATCHET, CAP_RATCHET_STATE,
    CAP_RECORDED_RANDOMNESS, CAP_SAFETY_NUMBER, CAP_SESSION, CAP_VECTORS, PROTOCOL,
};
use crate::{hex, Failure};

mod devices;
mod fanout;
mod groups;
mod header_encryption;
mod limits;
mod live;
mod ratchet;
mod ratchet_state;
mod recorded;
mod rotation;
mod safety_number;
mod session;
mod vectors;

use vectors::read_vectors;

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

    /// Sends a request that must succeed; its fields.
    pub(super) fn call_ok(&mut self, op: &str, req: Value) -> Result<Map<String, Value>, String> {
        match self.port.call(op, req).map_err(|b| b.0)? {
            Ok(m) => Ok(m),
            Err(e) => Err(format!("{op}: {} ({})", e.class, e.message)),
        }
    }

    /// Sends a request that must be refused with `class`; `what` says why.
    pub(super) fn call_refused(
        &mut self,
        op: &str,
        req: Value,
        class: &str,
        what: &str,
    ) -> Result<(), String> {
        match self.port.call(op, req).map_err(|b| b.0)? {
            Ok(_) => Err(format!("{what} was accepted; expected {class}")),
            Err(e) if e.class != class => Err(format!(
                "{what} was refused with {}; expected {class}",
                e.class
            )),
            Err(_) => Ok(()),
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

    r.live(
        CAP_RATCHET,
        &[CAP_RATCHET],
        "limits: SessionAdTooLong, NoSendingChain, PlaintextTooLong",
        |r| r.limits(),
    );
    for mode in [HeaderMode::Plain, HeaderMode::Encrypted] {
        let needs: &[&str] = match mode {
            HeaderMode::Plain => &[CAP_SESSION],
            HeaderMode::Encrypted => &[CAP_SESSION, CAP_HEADER_ENCRYPTION],
        };
        let m = mode_name(mode);
        r.live(
            CAP_SESSION,
            needs,
            &format!("{m} headers: replayed initial messages refused"),
            |r| r.initial_replay(mode),
        );
        r.live(
            CAP_SESSION,
            needs,
            &format!("{m} headers: simultaneous initiation, NotThisSession"),
            |r| r.simultaneous(mode),
        );
    }
    r.live(
        CAP_RATCHET_STATE,
        &[CAP_RATCHET, CAP_RATCHET_STATE],
        "plain headers: ChainExhausted at the end of a sending chain",
        |r| r.chain_exhausted(HeaderMode::Plain),
    );
    r.live(
        CAP_PREKEY_ROTATION,
        &[CAP_SESSION, CAP_PREKEY_ROTATION],
        "previous signed prekey kept for one rotation",
        |r| r.prekey_rotation(),
    );
    r.live(
        CAP_SAFETY_NUMBER,
        &[CAP_SAFETY_NUMBER],
        "display format and digits",
        |r| r.safety_numbers(),
    );
    r.live(
        CAP_DEVICES,
        &[CAP_DEVICES],
        "device lists: verified against the user key, refusals",
        |r| r.device_lists(),
    );
    r.live(
        CAP_DEVICES,
        &[CAP_DEVICES],
        "directory: newer, same, older, forked lists",
        |r| r.directory(),
    );
    r.live(
        CAP_DEVICES,
        &[CAP_DEVICES],
        "link: the implementation as the new device",
        |r| r.link_as_new_device(),
    );
    r.live(
        CAP_DEVICES,
        &[CAP_DEVICES],
        "link: the implementation as the admin device",
        |r| r.link_as_admin(),
    );
    r.live(
        CAP_FANOUT,
        &[CAP_SESSION, CAP_DEVICES, CAP_FANOUT],
        "fan-out both ways, plain headers; replayed, re-addressed, unlisted and removed refused",
        |r| r.fanout(HeaderMode::Plain),
    );
    r.live(
        CAP_FANOUT,
        &[CAP_SESSION, CAP_DEVICES, CAP_FANOUT, CAP_HEADER_ENCRYPTION],
        "fan-out both ways, encrypted headers; replayed, re-addressed, unlisted and removed refused",
        |r| r.fanout(HeaderMode::Encrypted),
    );
    r.live(
        CAP_GROUPS,
        &[CAP_SESSION, CAP_DEVICES, CAP_FANOUT, CAP_GROUPS],
        "four groups: members, chains and messages; hostile objects refused, state unchanged",
        |r| r.groups(),
    );
    for (mode, needs) in [
        (
            HeaderMode::Plain,
            &[CAP_RATCHET, CAP_RATCHET_STATE, CAP_RECORDED_RANDOMNESS][..],
        ),
        (
            HeaderMode::Encrypted,
            &[
                CAP_RATCHET,
                CAP_RATCHET_STATE,
                CAP_RECORDED_RANDOMNESS,
                CAP_HEADER_ENCRYPTION,
            ][..],
        ),
    ] {
        r.live(
            CAP_RECORDED_RANDOMNESS,
            needs,
            &format!(
                "{} headers: messages and ratchet states equal to this library's",
                mode_name(mode)
            ),
            |r| r.recorded_states(mode),
        );
    }
    for (mode, needs) in [
        (
            HeaderMode::Plain,
            &[CAP_SESSION, CAP_RECORDED_RANDOMNESS][..],
        ),
        (
            HeaderMode::Encrypted,
            &[CAP_SESSION, CAP_RECORDED_RANDOMNESS, CAP_HEADER_ENCRYPTION][..],
        ),
    ] {
        r.live(
            CAP_RECORDED_RANDOMNESS,
            needs,
            &format!(
                "{} headers: accounts, bundles and session states equal to this library's",
                mode_name(mode)
            ),
            |r| r.recorded_sessions(mode),
        );
    }

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
