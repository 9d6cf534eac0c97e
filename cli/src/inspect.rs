//! `sova inspect`: decodes a Sova wire object or persisted state into
//! annotated fields with byte offsets and lengths.
//!
//! Recognised objects, by their first bytes:
//!
//! | first bytes | object | spec |
//! |-------------|--------|------|
//! | `01 01`, `01 02` | ratchet message, header in the clear / encrypted | §6.2, §6.3 |
//! | `01 03` | initial message (and the ratchet message it carries) | §7.5 |
//! | `01 10` | prekey bundle | §7.3 |
//! | `"SOVA-1 ratchet"` | ratchet state | §8.2 |
//! | `"SOVA-1 session"` | session state (and the ratchet state inside) | §8.5 |
//! | `"SOVA-1 account"` | account state | §8.4 |
//! | `"SOVA-1 sealed"` | sealed state: only the outer framing | §8.3 |
//!
//! Validity is decided by the library: the bytes go through the same parser
//! the protocol uses (`message::parse`, `PrekeyBundle::parse` and `verify`,
//! `HandshakeHeader::parse`, `Ratchet::from_bytes`, `Session::from_bytes`,
//! `Account::from_bytes`, `storage::open`). The annotation walks the known
//! layout alongside to give each field's offset and length, and to say where
//! the input ends when it is truncated. A rejected input is reported with
//! the rule it breaks, the spec section and the library's error.

use std::fmt::Write as _;
use std::io::Write;

use serde_json::{json, Value};
use sova::ratchet::message::{self, ParseError};
use sova::ratchet::padding;
use sova::ratchet::{Ratchet, StateError};
use sova::session::{
    Account, BundleError, HandshakeHeader, IdentityPublic, InitialMessageError, PrekeyBundle,
    Session,
};
use sova::storage::{self, SealedKind, StorageError};
use sova::{DefaultProvider, Secret};

use crate::encoding::{self, Encoding};
use crate::{hex, Failure};

/// The options of `sova inspect`.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Force hex or base64 instead of detecting the encoding.
    pub encoding: Option<Encoding>,
    /// Print long values and long lists in full.
    pub full: bool,
    /// Print one JSON object instead of text.
    pub json: bool,
}

/// How a field's value is shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shown {
    /// Raw bytes, shown as hex.
    Bytes,
    /// A big-endian unsigned integer.
    Uint(u64),
    /// ASCII text (magics).
    Ascii(String),
    /// A group of fields (no value of its own).
    Group,
}

/// One annotated field.
#[derive(Debug, Clone)]
pub struct Field {
    /// The field's name, as in the spec's layout tables.
    pub name: String,
    /// Offset from the start of the input.
    pub offset: usize,
    /// Length in bytes.
    pub len: usize,
    /// The bytes (empty for groups).
    pub raw: Vec<u8>,
    /// How to show the value.
    pub shown: Shown,
    /// What the field means or what its value says.
    pub note: String,
    /// Sub-fields (for groups and nested objects).
    pub children: Vec<Field>,
}

/// A rule the input breaks.
#[derive(Debug, Clone)]
pub struct Violation {
    /// The spec section of the rule, e.g. `§6.5`.
    pub section: &'static str,
    /// The rule, in the spec's words, with the specifics of this input.
    pub rule: String,
    /// The library's error class, e.g. `Malformed(Truncated)` or `InvalidBodyLength`.
    pub error: String,
    /// The library's message.
    pub message: String,
    /// Where in the input the problem is, when known.
    pub offset: Option<usize>,
}

/// The result of inspecting bytes.
#[derive(Debug, Clone)]
pub struct Report {
    /// A short identifier of the object (`ratchet_message`, `bundle`, …).
    pub object: &'static str,
    /// What the object is, for people.
    pub title: String,
    /// The section that specifies its layout.
    pub section: &'static str,
    /// The input length.
    pub len: usize,
    /// The fields, in order.
    pub fields: Vec<Field>,
    /// Facts established beyond the layout (signatures, derived keys).
    pub notes: Vec<String>,
    /// The rule broken, if any.
    pub violation: Option<Violation>,
}

// ---------------------------------------------------------------------------
// Walking a layout.

/// Where a walk stopped early.
#[derive(Debug, Clone)]
struct Stop {
    field: String,
    offset: usize,
    needed: usize,
    available: usize,
}

/// Reads fields of a known layout front to back, recording each with its
/// absolute offset. Stops (without failing) where the input ends or a value
/// makes the rest of the layout unknowable; the library's verdict says why.
struct Walk<'a> {
    buf: &'a [u8],
    pos: usize,
    base: usize,
    fields: Vec<Field>,
    stop: Option<Stop>,
}

impl<'a> Walk<'a> {
    fn new(buf: &'a [u8], base: usize) -> Self {
        Self {
            buf,
            pos: 0,
            base,
            fields: Vec::new(),
            stop: None,
        }
    }

    fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn here(&self) -> usize {
        self.base + self.pos
    }

    fn push(&mut self, name: &str, raw: &[u8], shown: Shown, note: String) {
        self.fields.push(Field {
            name: name.to_owned(),
            offset: self.here(),
            len: raw.len(),
            raw: raw.to_vec(),
            shown,
            note,
            children: Vec::new(),
        });
    }

    /// The next `len` bytes as a field, or `None` (recording where) when the input ends first.
    fn take(&mut self, name: &str, len: usize, note: impl Into<String>) -> Option<&'a [u8]> {
        let note = note.into();
        if self.stop.is_some() {
            return None;
        }
        let available = self.remaining();
        if available < len {
            let part = &self.buf[self.pos..];
            if !part.is_empty() {
                self.push(
                    name,
                    part,
                    Shown::Bytes,
                    format!("TRUNCATED: {available} of {len} bytes"),
                );
            }
            self.stop = Some(Stop {
                field: name.to_owned(),
                offset: self.here(),
                needed: len,
                available,
            });
            self.pos = self.buf.len();
            return None;
        }
        let b = &self.buf[self.pos..self.pos + len];
        self.push(name, b, Shown::Bytes, note);
        self.pos += len;
        Some(b)
    }

    fn ascii(&mut self, name: &str, len: usize, note: &str) -> Option<&'a [u8]> {
        let b = self.take(name, len, note)?;
        if let Some(f) = self.fields.last_mut() {
            f.shown = Shown::Ascii(String::from_utf8_lossy(b).into_owned());
        }
        Some(b)
    }

    /// A big-endian integer of `size` bytes.
    fn uint(&mut self, name: &str, size: usize, note: impl Into<String>) -> Option<u64> {
        let b = self.take(name, size, note)?;
        let v = b.iter().fold(0u64, |acc, x| (acc << 8) | u64::from(*x));
        if let Some(f) = self.fields.last_mut() {
            f.shown = Shown::Uint(v);
        }
        Some(v)
    }

    /// Replaces the note of the last field.
    fn annotate(&mut self, note: impl Into<String>) {
        if let Some(f) = self.fields.last_mut() {
            f.note = note.into();
        }
    }

    /// A group of fields read by `f` on the rest of the input.
    fn group<T>(
        &mut self,
        name: &str,
        note: impl Into<String>,
        f: impl FnOnce(&mut Walk<'a>) -> Option<T>,
    ) -> Option<T> {
        if self.stop.is_some() {
            return None;
        }
        let mut w = Walk::new(&self.buf[self.pos..], self.here());
        let out = f(&mut w);
        self.fields.push(Field {
            name: name.to_owned(),
            offset: self.here(),
            len: w.pos,
            raw: Vec::new(),
            shown: Shown::Group,
            note: note.into(),
            children: w.fields,
        });
        self.pos += w.pos;
        if w.stop.is_some() {
            self.stop = w.stop;
            self.pos = self.buf.len();
        }
        out
    }

    /// A nested object of exactly `len` bytes (length-prefixed), walked by `f`.
    fn nested(
        &mut self,
        name: &str,
        len: usize,
        note: impl Into<String>,
        f: impl FnOnce(&mut Walk<'a>),
    ) -> Option<()> {
        if self.stop.is_some() {
            return None;
        }
        let available = self.remaining();
        let end = self.pos + len.min(available);
        let mut w = Walk::new(&self.buf[self.pos..end], self.here());
        f(&mut w);
        self.fields.push(Field {
            name: name.to_owned(),
            offset: self.here(),
            len: end - self.pos,
            raw: Vec::new(),
            shown: Shown::Group,
            note: note.into(),
            children: w.fields,
        });
        if available < len {
            self.stop = Some(Stop {
                field: name.to_owned(),
                offset: self.here(),
                needed: len,
                available,
            });
            self.pos = self.buf.len();
            return None;
        }
        self.pos = end;
        if let Some(s) = w.stop {
            self.stop = Some(s);
            return None;
        }
        Some(())
    }

    /// Records bytes left over after the object.
    fn trailing(&mut self) {
        if self.stop.is_none() && self.remaining() > 0 {
            let n = self.remaining();
            let rest = &self.buf[self.pos..];
            self.push(
                "trailing bytes",
                rest,
                Shown::Bytes,
                format!("{n} byte(s) after the end of the object"),
            );
            self.pos = self.buf.len();
        }
    }

    /// Stops the walk: the value just read makes the rest unknowable.
    fn halt(&mut self) -> Option<()> {
        let field = self
            .fields
            .last()
            .map(|f| f.name.clone())
            .unwrap_or_default();
        self.stop = Some(Stop {
            field,
            offset: self.here(),
            needed: 0,
            available: self.remaining(),
        });
        None
    }

    /// `Opt(x)`: a presence byte (0 or 1), then `f` when present (spec §8.2).
    fn opt(
        &mut self,
        name: &str,
        note: &str,
        f: impl FnOnce(&mut Walk<'a>) -> Option<()>,
    ) -> Option<bool> {
        self.group(name, note, |w| {
            let tag = w.uint("present", 1, "Opt tag: 0x00 absent, 0x01 present")?;
            match tag {
                0 => {
                    w.annotate("absent");
                    Some(false)
                }
                1 => {
                    w.annotate("present");
                    f(w)?;
                    Some(true)
                }
                _ => {
                    w.annotate("INVALID option tag (must be 0 or 1)");
                    w.halt()?;
                    None
                }
            }
        })
    }
}

fn find<'f>(fields: &'f [Field], name: &str) -> Option<&'f Field> {
    for f in fields {
        if f.name == name {
            return Some(f);
        }
        if let Some(c) = find(&f.children, name) {
            return Some(c);
        }
    }
    None
}

// ---------------------------------------------------------------------------
// Layouts.

fn identity_public(w: &mut Walk<'_>, name: &str, note: &str) -> Option<()> {
    w.group(name, note, |w| {
        w.take("IK_sig", 32, "Ed25519 public key")?;
        w.take("IK_dh", 32, "X25519 public key")?;
        w.take(
            "binding",
            64,
            "LabeledSign(IK_sig, \"identity binding\", IK_sig || IK_dh)",
        )?;
        Some(())
    })
}

fn kem_kind_note(kind: u64) -> String {
    match kind {
        2 => "last-resort ML-KEM-768 prekey".into(),
        3 => "one-time ML-KEM-768 prekey".into(),
        k => format!("INVALID: 0x{k:02x} is not a KEM prekey kind (0x02 or 0x03)"),
    }
}

/// §6.2 / §6.3.
fn ratchet_message_layout(w: &mut Walk<'_>) -> Option<()> {
    let v = w.uint("version", 1, "")?;
    w.annotate(if v == 1 {
        "SOVA-1".to_owned()
    } else {
        format!("UNSUPPORTED: 0x{v:02x} (must be 0x01)")
    });
    let t = w.uint("type", 1, "")?;
    match t {
        1 => {
            w.annotate("ratchet message, header in the clear, §6.2");
            w.group("header", "§6.1", |w| {
                w.take("dh", 32, "the sender's current ratchet public key")?;
                w.uint("pn", 4, "messages in the sender's previous sending chain")?;
                w.uint("n", 4, "this message's number in its chain, from 0")?;
                w.take(
                    "salt",
                    16,
                    "16 random bytes of this message, mixed into its keys and nonces (§5.2.4)",
                )?;
                Some(())
            })?;
        }
        2 => {
            w.annotate("ratchet message, encrypted header, §6.3");
            w.take("header_nonce", 12, "HeaderNonce(HNK, n, salt)")?;
            w.take("enc_header", 56, "the 56-byte header, encrypted under HEK")?;
            w.take("header_tag", 16, "its Poly1305 tag, under HeaderAD")?;
        }
        t => {
            w.annotate(format!(
                "UNKNOWN: 0x{t:02x} (ratchet messages are 0x01 or 0x02)"
            ));
            return w.halt();
        }
    }
    let b = w.uint("body_len", 4, "")? as usize;
    if b < 16 || !padding::is_padded_len(b - 16) {
        w.annotate(format!(
            "INVALID: {b} - 16 is not a padded length (32 <= B - 16 <= 2^20, Padme(B - 16) = B - 16)"
        ));
        return w.halt();
    }
    w.annotate(format!("B = PaddedLen(L) + 16 = {} + 16", b - 16));
    let end = w.here() + b;
    w.group("body", format!("bytes up to offset {end}"), |w| {
        w.take(
            "ciphertext",
            b - 16,
            "ChaCha20-Poly1305 ciphertext of Pad(P)",
        )?;
        w.take(
            "tag",
            16,
            "Poly1305 tag, under BodyAD = u16(len(AD)) || AD || prefix",
        )?;
        Some(())
    })?;
    w.trailing();
    Some(())
}

/// §7.3.
fn bundle_layout(w: &mut Walk<'_>) -> Option<()> {
    w.uint("version", 1, "SOVA-1")?;
    w.uint("type", 1, "prekey bundle")?;
    identity_public(w, "identity", "the responder's IdentityPublic, §7.1")?;
    w.uint("spk_id", 4, "id of the signed prekey")?;
    w.take("SPK", 32, "signed X25519 prekey; the initiator's first DHr")?;
    w.take("spk_signature", 64, "PrekeySignature(0x01, spk_id, SPK)")?;
    let flag = w.uint("opk_flag", 1, "")?;
    match flag {
        0 => w.annotate("no one-time prekey"),
        1 => {
            w.annotate("a one-time prekey follows");
            w.uint("opk_id", 4, "id of the one-time X25519 prekey")?;
            w.take("OPK", 32, "one-time X25519 prekey, not signed")?;
        }
        f => {
            w.annotate(format!("INVALID flag 0x{f:02x} (must be 0 or 1)"));
            return w.halt();
        }
    }
    let kind = w.uint("kem_kind", 1, "")?;
    w.annotate(kem_kind_note(kind));
    if !(2..=3).contains(&kind) {
        return w.halt();
    }
    w.uint("kem_id", 4, "id of the ML-KEM-768 prekey")?;
    w.take("PQPK", 1184, "ML-KEM-768 encapsulation key")?;
    w.take(
        "kem_signature",
        64,
        "PrekeySignature(kem_kind, kem_id, PQPK)",
    )?;
    w.trailing();
    Some(())
}

/// §7.5, with the embedded ratchet message.
fn initial_message_layout(w: &mut Walk<'_>) -> Option<()> {
    w.uint("version", 1, "SOVA-1")?;
    w.uint("type", 1, "initial message")?;
    initial_fields(w)?;
    let len = w.uint("L", 4, "length of the ratchet message")? as usize;
    if len > message::MAX_MESSAGE_LEN {
        w.annotate(format!(
            "INVALID: longer than the largest ratchet message ({} bytes, §6.4)",
            message::MAX_MESSAGE_LEN
        ));
        return w.halt();
    }
    w.nested(
        "ratchet message",
        len,
        "a ratchet message of §6, type 0x01 or 0x02",
        |w| {
            let _ = ratchet_message_layout(w);
        },
    )?;
    w.trailing();
    Some(())
}

/// The handshake fields of an initial message, after version and type.
fn initial_fields(w: &mut Walk<'_>) -> Option<()> {
    identity_public(w, "identity", "the initiator's IdentityPublic, §7.1")?;
    w.take("EK", 32, "the initiator's ephemeral X25519 key")?;
    w.uint("spk_id", 4, "the responder's signed prekey used")?;
    let flag = w.uint("opk_flag", 1, "")?;
    match flag {
        0 => w.annotate("no one-time prekey"),
        1 => {
            w.annotate("a one-time prekey id follows");
            w.uint("opk_id", 4, "the responder's one-time prekey used")?;
        }
        f => {
            w.annotate(format!("INVALID flag 0x{f:02x} (must be 0 or 1)"));
            return w.halt();
        }
    }
    let kind = w.uint("kem_kind", 1, "")?;
    w.annotate(kem_kind_note(kind));
    if !(2..=3).contains(&kind) {
        return w.halt();
    }
    w.uint("kem_id", 4, "the responder's ML-KEM-768 prekey used")?;
    w.take("CT", 1088, "ML-KEM-768 ciphertext")?;
    Some(())
}

fn key32(w: &mut Walk<'_>, name: &str, note: &str) -> Option<()> {
    w.take(name, 32, note).map(|_| ())
}

/// The integrity check that ends every plain state encoding (§8.1).
fn state_check(w: &mut Walk<'_>) -> Option<()> {
    key32(w, "check", "SHA-256 of every byte before it (§8.1)")?;
    w.trailing();
    Some(())
}

/// §8.2.
fn ratchet_state_layout(w: &mut Walk<'_>) -> Option<()> {
    w.ascii("magic", 14, "")?;
    w.uint("version", 1, "state format version")?;
    let mode = w.uint("mode", 1, "")?;
    w.annotate(match mode {
        1 => "PLAIN: headers in the clear".to_owned(),
        2 => "ENCRYPTED: header encryption".to_owned(),
        m => format!("INVALID mode 0x{m:02x}"),
    });
    w.uint(
        "generation",
        8,
        "successful encryptions and decryptions so far",
    )?;
    let ad_len = w.uint("len(AD)", 2, "length of the session associated data")? as usize;
    w.take(
        "AD",
        ad_len,
        "session associated data: TH for sessions, §7.4",
    )?;
    key32(w, "RK", "root key")?;
    w.opt(
        "DHs",
        "our ratchet private key (its public key is recomputed)",
        |w| key32(w, "DHs.priv", "private key"),
    )?;
    w.opt("DHr", "the peer's ratchet public key", |w| {
        key32(w, "DHr", "public key")
    })?;
    w.opt("S", "the sending chain", |w| {
        key32(w, "CKs", "sending chain key")?;
        w.uint("Ns", 4, "next message number")?;
        w.opt("HKs", "header key, ENCRYPTED mode only", |w| {
            key32(w, "HKs", "header key")
        })?;
        Some(())
    })?;
    w.uint("PN", 4, "messages in our previous sending chain")?;
    w.opt("NHKs", "header key of our next sending chain", |w| {
        key32(w, "NHKs", "header key")
    })?;
    w.opt("NHKr", "header key of the peer's next chain", |w| {
        key32(w, "NHKr", "header key")
    })?;
    let count = w.uint("count", 1, "receiving chains, newest first, at most 5")?;
    for i in 0..count {
        w.group(
            &format!("R[{i}]"),
            if i == 0 {
                "receiving chain (newest)"
            } else {
                "receiving chain"
            },
            |w| {
                key32(w, "DHr", "the peer's ratchet key that opened it")?;
                let position = w.uint("position", 1, "")?;
                match position {
                    0 => {
                        w.annotate("open: the newest chain");
                        key32(w, "CKr", "chain key")?;
                        w.uint("Nr", 4, "next message number not yet derived")?;
                    }
                    1 => {
                        w.annotate("closed: its remaining keys are stored, its chain key erased");
                        w.uint("END", 4, "chain length announced by the peer")?;
                    }
                    p => {
                        w.annotate(format!("INVALID position 0x{p:02x}"));
                        return w.halt();
                    }
                }
                w.opt("HKr", "header key, ENCRYPTED mode only", |w| {
                    key32(w, "HKr", "header key")
                })?;
                let k = w.uint("k", 2, "stored skipped message keys")?;
                for j in 0..k {
                    w.group(&format!("SKIPPED[{j}]"), "", |w| {
                        w.uint("n", 4, "message number")?;
                        key32(w, "MK", "message key")
                    })?;
                }
                Some(())
            },
        )?;
    }
    state_check(w)
}

/// §8.4.
fn account_state_layout(w: &mut Walk<'_>) -> Option<()> {
    w.ascii("magic", 14, "")?;
    w.uint("version", 1, "state format version")?;
    w.uint(
        "generation",
        8,
        "incremented by every change; a smaller value than one seen before means a restored older copy",
    )?;
    key32(w, "IK_sig.seed", "Ed25519 seed of the identity")?;
    key32(w, "IK_dh.priv", "X25519 private key of the identity")?;
    w.uint("next_prekey_id", 4, "the next prekey id to allocate")?;
    let x25519 = |w: &mut Walk<'_>| -> Option<()> {
        w.uint("id", 4, "prekey id")?;
        key32(w, "private", "X25519 private key")
    };
    let kem = |w: &mut Walk<'_>| -> Option<()> {
        w.uint("id", 4, "prekey id")?;
        w.take("seed", 64, "ML-KEM-768 seed d || z").map(|_| ())
    };
    let records = |w: &mut Walk<'_>| -> Option<()> {
        let r = w.uint(
            "r",
            2,
            "replay records of handshakes without a one-time prekey, at most 4096",
        )?;
        for i in 0..r {
            key32(
                w,
                &format!("record[{i}]"),
                "SHA-256(EK) of an accepted handshake; strictly increasing",
            )?;
        }
        Some(())
    };
    let spk = |w: &mut Walk<'_>| -> Option<()> {
        x25519(w)?;
        records(w)
    };
    w.group("SPK", "current signed prekey and its replay records", spk)?;
    w.opt(
        "previous SPK",
        "kept after a rotation, with its replay records",
        spk,
    )?;
    let n = w.uint("n", 2, "one-time X25519 prekeys, at most 1000")?;
    for i in 0..n {
        w.group(&format!("OPK[{i}]"), "", x25519)?;
    }
    w.group("PQSPK", "current last-resort ML-KEM-768 prekey", kem)?;
    w.opt("previous PQSPK", "kept after a rotation", kem)?;
    let m = w.uint("m", 2, "one-time ML-KEM-768 prekeys, at most 100")?;
    for i in 0..m {
        w.group(&format!("PQOPK[{i}]"), "", kem)?;
    }
    state_check(w)
}

/// §8.5, with the pending initial message and the ratchet state inside.
fn session_state_layout(w: &mut Walk<'_>) -> Option<()> {
    w.ascii("magic", 14, "")?;
    w.uint("version", 1, "state format version")?;
    let role = w.uint("we_initiated", 1, "")?;
    w.annotate(match role {
        0 => "this side is the responder".to_owned(),
        1 => "this side is the initiator".to_owned(),
        r => format!("INVALID role {r}"),
    });
    let confirmed = w.uint(
        "confirmed",
        1,
        "a non-initial message from the peer decrypted on this session (§7.7)",
    )?;
    w.annotate(match confirmed {
        0 => "not confirmed".to_owned(),
        1 => "confirmed".to_owned(),
        c => format!("INVALID confirmed flag {c}"),
    });
    key32(w, "TH", "session id: the handshake transcript hash")?;
    w.take(
        "IdentityKey_local",
        64,
        "IK_sig.pub || IK_dh.pub of this side",
    )?;
    identity_public(w, "IdentityPublic_peer", "the peer's identity, §7.1")?;
    w.opt(
        "pending",
        "handshake fields still wrapped around outgoing messages",
        |w| {
            let len = w.uint("len", 4, "")? as usize;
            w.nested(
                "initial message",
                len,
                "§7.5 with an empty ratchet message",
                |w| {
                    let _ = (|| {
                        w.uint("version", 1, "SOVA-1")?;
                        w.uint("type", 1, "initial message")?;
                        initial_fields(w)?;
                        w.uint("L", 4, "0: no ratchet message")?;
                        w.trailing();
                        Some(())
                    })();
                },
            )
        },
    )?;
    w.opt(
        "accepted",
        "responder: the initial message it accepted",
        |w| {
            key32(w, "EK", "the initiator's ephemeral key")?;
            key32(
                w,
                "D",
                "SHA-256 of the accepted initial message with L = 0 (repeats must match, §7.6)",
            )
        },
    )?;
    let len = w.uint("len", 4, "length of the ratchet state")? as usize;
    w.nested("ratchet state", len, "§8.2", |w| {
        let _ = ratchet_state_layout(w);
    })?;
    state_check(w)
}

/// §8.3: the outer framing only.
fn sealed_layout(w: &mut Walk<'_>) -> Option<()> {
    w.ascii("magic", 13, "")?;
    w.uint("version", 1, "sealed format version")?;
    let kind = w.uint("kind", 1, "")?;
    w.annotate(match kind {
        1 => "an account state, §8.4".to_owned(),
        2 => "a session state, §8.5".to_owned(),
        k => format!("UNKNOWN kind 0x{k:02x}"),
    });
    w.take("nonce", 12, "random per write")?;
    let rest = w.remaining();
    if rest < 16 {
        w.take("tag", 16, "")?;
        return None;
    }
    w.take(
        "ciphertext",
        rest - 16,
        "the encrypted state; opening it needs the storage key",
    )?;
    w.take("tag", 16, "Poly1305 tag; AD = the first 15 bytes")?;
    Some(())
}

// ---------------------------------------------------------------------------
// Verdicts: the library decides, the walk locates.

fn stop_offset(w: &Walk<'_>) -> Option<usize> {
    w.stop.as_ref().map(|s| s.offset)
}

fn truncation_detail(w: &Walk<'_>) -> String {
    match &w.stop {
        Some(s) if s.needed > 0 => format!(
            ": field `{}` at offset {} needs {} bytes, {} remain",
            s.field, s.offset, s.needed, s.available
        ),
        _ => String::new(),
    }
}

/// The §6.5 rule a ratchet-message parse error breaks.
fn message_violation(
    e: &ParseError,
    fields: &[Field],
    w: &Walk<'_>,
    base: usize,
    input_len: usize,
) -> Violation {
    let (rule, offset) = match e {
        ParseError::Truncated("version") => (
            "rule 1: a message has at least 1 byte, and `version` MUST be 0x01 [Truncated]"
                .to_owned(),
            Some(base),
        ),
        ParseError::UnsupportedVersion(v) => (
            format!("rule 1: `version` MUST be 0x01, found 0x{v:02x} [UnsupportedVersion]"),
            Some(base),
        ),
        ParseError::Truncated("type") => (
            "rule 2: a message has at least 2 bytes, and `type` MUST be 0x01 or 0x02 [Truncated]"
                .to_owned(),
            Some(base + 1),
        ),
        ParseError::UnknownType(t) => (
            format!(
                "rule 2: `type` MUST be 0x01 or 0x02, found 0x{t:02x} [UnknownType] \
                 (other Sova objects: 0x03 initial message §7.5, 0x10 bundle §7.3)"
            ),
            Some(base + 1),
        ),
        ParseError::Truncated("body") => {
            let b = find(fields, "body_len").and_then(|f| match f.shown {
                Shown::Uint(v) => Some((v, f.offset + 4)),
                _ => None,
            });
            let detail = match b {
                Some((b, start)) => format!(
                    ": body_len = {b} but {} byte(s) follow",
                    input_len.saturating_sub(start)
                ),
                None => String::new(),
            };
            (
                format!(
                    "rule 5: exactly `body_len` bytes MUST follow [Truncated(\"body\")]{detail}{}",
                    truncation_detail(w)
                ),
                stop_offset(w),
            )
        }
        ParseError::Truncated(field) => (
            format!(
                "rule 3: the fixed fields of the type MUST be present [Truncated(\"{field}\")]{}",
                truncation_detail(w)
            ),
            stop_offset(w),
        ),
        ParseError::InvalidBodyLength(b) => (
            format!(
                "rule 4: `body_len` MUST be at least 16 and `body_len` - 16 a padded length \
                 (32 <= B - 16 <= 2^20, Padme(B - 16) = B - 16); found {b} [InvalidBodyLength]"
            ),
            find(fields, "body_len").map(|f| f.offset),
        ),
        ParseError::TrailingBytes(n) => (
            format!(
                "rule 5: nothing may follow the body; found {n} trailing byte(s) [TrailingBytes]"
            ),
            find(fields, "trailing bytes").map(|f| f.offset),
        ),
        other => (format!("{other}"), stop_offset(w)),
    };
    Violation {
        section: "§6.5",
        rule,
        error: format!("{e:?}"),
        message: e.to_string(),
        offset,
    }
}

fn bundle_violation(e: &BundleError, fields: &[Field], w: &Walk<'_>) -> Violation {
    let at = |name: &str| find(fields, name).map(|f| f.offset);
    let (rule, offset) = match e {
        BundleError::Truncated(f) => (
            format!(
                "a parser MUST reject a truncated bundle [Truncated(\"{f}\")]{}",
                truncation_detail(w)
            ),
            stop_offset(w),
        ),
        BundleError::UnsupportedVersion(v) => (
            format!("the version MUST be 0x01, found 0x{v:02x} [UnsupportedVersion]"),
            Some(0),
        ),
        BundleError::WrongType(t) => (
            format!("the type MUST be 0x10, found 0x{t:02x} [WrongType]"),
            Some(1),
        ),
        BundleError::InvalidFlag(f) => (
            format!("the one-time prekey flag MUST be 0 or 1, found 0x{f:02x} [InvalidFlag]"),
            at("opk_flag"),
        ),
        BundleError::InvalidKemKind(k) => (
            format!("`kem_kind` MUST be 0x02 or 0x03, found 0x{k:02x} [InvalidKemKind]"),
            at("kem_kind"),
        ),
        BundleError::TrailingBytes(n) => (
            format!("nothing may follow the bundle; found {n} trailing byte(s) [TrailingBytes]"),
            at("trailing bytes"),
        ),
        BundleError::InvalidIdentitySignature => (
            "the initiator MUST verify the identity binding [InvalidIdentitySignature]".to_owned(),
            at("binding"),
        ),
        BundleError::InvalidSignedPrekeySignature => (
            "the initiator MUST verify the SPK signature [InvalidSignedPrekeySignature]".to_owned(),
            at("spk_signature"),
        ),
        BundleError::InvalidKemPrekeySignature => (
            "the initiator MUST verify the PQPK signature [InvalidKemPrekeySignature]".to_owned(),
            at("kem_signature"),
        ),
        other => (other.to_string(), stop_offset(w)),
    };
    Violation {
        section: "§7.3",
        rule,
        error: format!("{e:?}"),
        message: e.to_string(),
        offset,
    }
}

fn initial_violation(e: &InitialMessageError, fields: &[Field], w: &Walk<'_>) -> Violation {
    let at = |name: &str| find(fields, name).map(|f| f.offset);
    let (rule, offset) = match e {
        InitialMessageError::Truncated(f) => (
            format!(
                "a parser MUST reject a truncated initial message [Truncated(\"{f}\")]{}",
                truncation_detail(w)
            ),
            stop_offset(w),
        ),
        InitialMessageError::UnsupportedVersion(v) => (
            format!("the version MUST be 0x01, found 0x{v:02x} [UnsupportedVersion]"),
            Some(0),
        ),
        InitialMessageError::WrongType(t) => (
            format!("the type MUST be 0x03, found 0x{t:02x} [WrongType]"),
            Some(1),
        ),
        InitialMessageError::InvalidFlag(f) => (
            format!("the one-time prekey flag MUST be 0 or 1, found 0x{f:02x} [InvalidFlag]"),
            at("opk_flag"),
        ),
        InitialMessageError::InvalidKemKind(k) => (
            format!("`kem_kind` MUST be 0x02 or 0x03, found 0x{k:02x} [InvalidKemKind]"),
            at("kem_kind"),
        ),
        InitialMessageError::RatchetMessageTooLong(l) => (
            format!(
                "`L` MUST NOT exceed the largest ratchet message ({} bytes, §6.4); found {l} \
                 [RatchetMessageTooLong]",
                message::MAX_MESSAGE_LEN
            ),
            at("L"),
        ),
        InitialMessageError::TrailingBytes(n) => (
            format!("nothing may follow the ratchet message; found {n} trailing byte(s) [TrailingBytes]"),
            at("trailing bytes"),
        ),
        other => (other.to_string(), stop_offset(w)),
    };
    Violation {
        section: "§7.5",
        rule,
        error: format!("{e:?}"),
        message: e.to_string(),
        offset,
    }
}

fn state_violation(
    e: &StateError,
    layout: &'static str,
    what: &str,
    fields: &[Field],
    w: &Walk<'_>,
) -> Violation {
    let (rule, offset) = match e {
        StateError::BadMagic => (
            format!("a reader MUST reject an unknown magic [BadMagic] (expected {what})"),
            Some(0),
        ),
        StateError::UnsupportedVersion(v) => (
            format!(
                "a reader MUST reject a format version it does not know, found {v} \
                 [UnsupportedVersion]"
            ),
            find(fields, "version").map(|f| f.offset),
        ),
        StateError::Truncated => (
            format!(
                "a reader MUST reject truncated input [Truncated]{}",
                truncation_detail(w)
            ),
            stop_offset(w),
        ),
        StateError::Invalid(field) => (
            format!(
                "a reader MUST reject any field value the writer could never have produced \
                 [Invalid(\"{field}\")]"
            ),
            None,
        ),
        StateError::TrailingBytes => (
            "a reader MUST reject trailing bytes [TrailingBytes]".to_owned(),
            find(fields, "trailing bytes").map(|f| f.offset),
        ),
        StateError::Corrupted => (
            "the last 32 bytes MUST be SHA-256 of every byte before them, checked after \
             the magic and version and before any other field [Corrupted]"
                .to_owned(),
            // The outermost check: the last top-level field of that name.
            fields
                .iter()
                .rev()
                .find(|f| f.name == "check")
                .map(|f| f.offset),
        ),
        other => (other.to_string(), stop_offset(w)),
    };
    Violation {
        section: "§8.1",
        rule: format!("{rule} (layout: {layout})"),
        error: format!("{e:?}"),
        message: e.to_string(),
        offset,
    }
}

// ---------------------------------------------------------------------------
// Objects.

fn report(
    object: &'static str,
    title: String,
    section: &'static str,
    len: usize,
    fields: Vec<Field>,
) -> Report {
    Report {
        object,
        title,
        section,
        len,
        fields,
        notes: Vec::new(),
        violation: None,
    }
}

fn inspect_ratchet_message(bytes: &[u8]) -> Report {
    let mut w = Walk::new(bytes, 0);
    let _ = ratchet_message_layout(&mut w);
    let (title, section) = match bytes.get(1) {
        Some(2) => ("ratchet message, type 0x02: encrypted header", "§6.3"),
        Some(1) => ("ratchet message, type 0x01: header in the clear", "§6.2"),
        _ => ("ratchet message", "§6"),
    };
    let verdict = message::parse(bytes).map(|_| ());
    let mut r = report(
        "ratchet_message",
        title.into(),
        section,
        bytes.len(),
        w.fields.clone(),
    );
    match verdict {
        Ok(()) => {
            r.notes.push(
                "well formed under every rule of §6.5; tags and keys can only be checked with \
                 the receiving session's state"
                    .into(),
            );
            if let Some(f) = find(&r.fields, "body_len") {
                if let Shown::Uint(b) = f.shown {
                    r.notes.push(format!(
                        "the plaintext is at most {} bytes (PaddedLen hides its exact length, §5.4)",
                        b.saturating_sub(17)
                    ));
                }
            }
        }
        Err(e) => r.violation = Some(message_violation(&e, &r.fields, &w, 0, bytes.len())),
    }
    r
}

fn inspect_bundle(bytes: &[u8]) -> Report {
    let mut w = Walk::new(bytes, 0);
    let _ = bundle_layout(&mut w);
    let mut r = report(
        "bundle",
        "prekey bundle, type 0x10".into(),
        "§7.3",
        bytes.len(),
        w.fields.clone(),
    );
    let verdict = PrekeyBundle::parse(bytes).and_then(|b| {
        b.verify(&DefaultProvider::default())?;
        Ok(b)
    });
    match verdict {
        Ok(b) => {
            r.notes.push(
                "signatures valid: identity binding, signed prekey, ML-KEM prekey (§7.3)".into(),
            );
            r.notes.push(format!(
                "IdentityKey (IK_sig || IK_dh): {}",
                hex(&b.identity.identity_key())
            ));
        }
        Err(e) => r.violation = Some(bundle_violation(&e, &r.fields, &w)),
    }
    r
}

fn identity_note(id: &IdentityPublic) -> String {
    match id.verify(&DefaultProvider::default()) {
        Ok(()) => "the initiator's identity binding signature is valid (§7.1)".into(),
        Err(_) => "the initiator's identity binding signature is INVALID (§7.1)".into(),
    }
}

fn inspect_initial_message(bytes: &[u8]) -> Report {
    let mut w = Walk::new(bytes, 0);
    let _ = initial_message_layout(&mut w);
    let mut r = report(
        "initial_message",
        "initial message, type 0x03".into(),
        "§7.5",
        bytes.len(),
        w.fields.clone(),
    );
    match HandshakeHeader::parse(bytes) {
        Err(e) => r.violation = Some(initial_violation(&e, &r.fields, &w)),
        Ok((h, inner)) => {
            let base = bytes.len() - inner.len();
            match message::parse(inner) {
                Ok(_) => {
                    let valid = h.identity.verify(&DefaultProvider::default()).is_ok();
                    r.notes.push(identity_note(&h.identity));
                    if valid {
                        r.notes.push(
                            "well formed (§7.5); the embedded ratchet message is well formed (§6.5)"
                                .into(),
                        );
                    } else {
                        r.violation = Some(Violation {
                            section: "§7.6",
                            rule: "the responder MUST verify IdentityPublic_A's binding \
                                   [InvalidIdentitySignature]"
                                .into(),
                            error: "InvalidIdentitySignature".into(),
                            message: "initiator's identity signature is invalid".into(),
                            offset: find(&r.fields, "binding").map(|f| f.offset),
                        });
                    }
                }
                Err(e) => {
                    let mut v = message_violation(&e, &r.fields, &w, base, bytes.len());
                    v.rule = format!("embedded ratchet message at offset {base}: {}", v.rule);
                    v.error = format!("{e:?}");
                    r.violation = Some(v);
                }
            }
        }
    }
    r
}

fn inspect_ratchet_state(bytes: &[u8]) -> Report {
    let mut w = Walk::new(bytes, 0);
    let _ = ratchet_state_layout(&mut w);
    let mut r = report(
        "ratchet_state",
        "ratchet state (SECRET: contains keys)".into(),
        "§8.2",
        bytes.len(),
        w.fields.clone(),
    );
    match Ratchet::from_bytes(bytes) {
        Ok(rt) => {
            r.notes.push(format!(
                "valid: {} receiving chain(s), {} stored skipped key(s)",
                rt.receiving_chains(),
                rt.stored_keys()
            ));
        }
        Err(e) => {
            r.violation = Some(state_violation(
                &e,
                "§8.2",
                "\"SOVA-1 ratchet\"",
                &r.fields,
                &w,
            ))
        }
    }
    r
}

fn inspect_session_state(bytes: &[u8]) -> Report {
    let mut w = Walk::new(bytes, 0);
    let _ = session_state_layout(&mut w);
    let mut r = report(
        "session_state",
        "session state (SECRET: contains keys)".into(),
        "§8.5",
        bytes.len(),
        w.fields.clone(),
    );
    match Session::from_bytes(bytes) {
        Ok(s) => {
            r.notes.push(format!(
                "valid: {}{}, {} receiving chain(s), {} stored skipped key(s)",
                if s.we_initiated() {
                    if s.is_pending() {
                        "initiator, still wrapping messages in initial messages"
                    } else {
                        "initiator"
                    }
                } else {
                    "responder"
                },
                if s.is_confirmed() {
                    ", confirmed by the peer"
                } else {
                    ", not confirmed by the peer"
                },
                s.ratchet().receiving_chains(),
                s.ratchet().stored_keys()
            ));
        }
        Err(e) => {
            r.violation = Some(state_violation(
                &e,
                "§8.5",
                "\"SOVA-1 session\"",
                &r.fields,
                &w,
            ))
        }
    }
    r
}

fn inspect_account_state(bytes: &[u8]) -> Report {
    let mut w = Walk::new(bytes, 0);
    let _ = account_state_layout(&mut w);
    let mut r = report(
        "account_state",
        "account state (SECRET: contains private keys)".into(),
        "§8.4",
        bytes.len(),
        w.fields.clone(),
    );
    match Account::from_bytes(bytes) {
        Ok(a) => {
            r.notes.push(format!(
                "valid: generation {}, {} one-time X25519 prekey(s), {} one-time ML-KEM prekey(s), {} replay record(s) on the current signed prekey",
                a.generation(),
                a.one_time_prekey_ids().len(),
                a.kem_one_time_prekey_ids().len(),
                a.replay_record_count()
            ));
            r.notes.push(format!(
                "IdentityKey recomputed from the secrets: {}",
                hex(&a.identity_key())
            ));
        }
        Err(e) => {
            r.violation = Some(state_violation(
                &e,
                "§8.4",
                "\"SOVA-1 account\"",
                &r.fields,
                &w,
            ))
        }
    }
    r
}

fn inspect_sealed(bytes: &[u8]) -> Report {
    let mut w = Walk::new(bytes, 0);
    let _ = sealed_layout(&mut w);
    let mut r = report(
        "sealed_state",
        "sealed state: outer framing only".into(),
        "§8.3",
        bytes.len(),
        w.fields.clone(),
    );
    // The library checks the framing before the tag: with any key, a
    // well-framed blob fails only with `Authentication`.
    let kind = match bytes.get(14) {
        Some(2) => SealedKind::Session,
        _ => SealedKind::Account,
    };
    let key = Secret::<32>::zero();
    let at = |name: &str| find(&r.fields, name).map(|f| f.offset);
    let verdict = storage::open(&DefaultProvider::default(), &key, kind, bytes);
    let violation = match verdict {
        Err(StorageError::Authentication) | Ok(_) => None,
        Err(e) => {
            let (rule, offset) = match e {
                StorageError::BadMagic => (
                    "opening checks the magic \"SOVA-1 sealed\" [BadMagic]".to_owned(),
                    Some(0),
                ),
                StorageError::UnsupportedVersion(v) => (
                    format!("the version MUST be 0x01, found {v} [UnsupportedVersion]"),
                    at("version"),
                ),
                StorageError::WrongKind(k) => (
                    format!(
                        "`kind` MUST be 0x01 (account) or 0x02 (session), found 0x{k:02x} [WrongKind]"
                    ),
                    at("kind"),
                ),
                StorageError::Truncated => (
                    format!(
                        "the blob MUST hold the magic, version, kind, nonce and tag [Truncated]{}",
                        truncation_detail(&w)
                    ),
                    stop_offset(&w),
                ),
                other => (other.to_string(), stop_offset(&w)),
            };
            Some(Violation {
                section: "§8.3",
                rule,
                error: format!("{e:?}"),
                message: e.to_string(),
                offset,
            })
        }
    };
    match violation {
        Some(v) => r.violation = Some(v),
        None => r.notes.push(
            "framing valid; the contents need the storage key (§8.3) and are not shown".into(),
        ),
    }
    r
}

/// Inspects `bytes`: detects the object and annotates it.
pub fn inspect(bytes: &[u8]) -> Report {
    type Inspector = fn(&[u8]) -> Report;
    const STATES: &[(&[u8], Inspector)] = &[
        (b"SOVA-1 ratchet", inspect_ratchet_state),
        (b"SOVA-1 session", inspect_session_state),
        (b"SOVA-1 account", inspect_account_state),
        (b"SOVA-1 sealed", inspect_sealed),
    ];
    for (magic, f) in STATES {
        if bytes.starts_with(magic) {
            return f(bytes);
        }
    }
    if bytes.starts_with(b"SOVA-1 ") {
        let mut w = Walk::new(bytes, 0);
        let end = bytes
            .iter()
            .position(|b| !b.is_ascii_graphic() && *b != b' ')
            .unwrap_or(bytes.len())
            .min(24);
        w.ascii("magic", end, "");
        let mut r = report(
            "unknown_state",
            "persisted state with an unknown magic".into(),
            "§8.1",
            bytes.len(),
            w.fields,
        );
        r.violation = Some(Violation {
            section: "§8.1",
            rule: "a reader MUST reject an unknown magic [BadMagic] (known: \"SOVA-1 ratchet\", \
                   \"SOVA-1 session\", \"SOVA-1 account\", \"SOVA-1 sealed\")"
                .into(),
            error: "BadMagic".into(),
            message: "not a Sova state".into(),
            offset: Some(0),
        });
        return r;
    }
    match bytes.get(1) {
        Some(&sova::session::TYPE_INITIAL) => inspect_initial_message(bytes),
        Some(&0x10) => inspect_bundle(bytes),
        _ => inspect_ratchet_message(bytes),
    }
}

// ---------------------------------------------------------------------------
// Output.

/// Lists longer than this are shortened in text output unless `--full`.
const LIST_LIMIT: usize = 8;

fn value_text(f: &Field, full: bool) -> Option<String> {
    match &f.shown {
        Shown::Group => None,
        Shown::Uint(v) if f.len == 1 && f.name != "count" => Some(format!("0x{v:02x}")),
        Shown::Uint(v) => Some(v.to_string()),
        Shown::Ascii(s) => Some(format!("{s:?}")),
        Shown::Bytes if f.raw.is_empty() => Some("(empty)".into()),
        Shown::Bytes if full || f.raw.len() <= 32 => Some(hex(&f.raw)),
        Shown::Bytes => Some(format!(
            "{}…{}",
            hex(&f.raw[..16]),
            hex(&f.raw[f.raw.len() - 8..])
        )),
    }
}

fn is_list_item(name: &str) -> bool {
    name.ends_with(']')
}

fn write_fields(s: &mut String, fields: &[Field], depth: usize, full: bool) {
    let mut items = 0;
    let total_items = fields.iter().filter(|f| is_list_item(&f.name)).count();
    for f in fields {
        if is_list_item(&f.name) {
            items += 1;
            if !full && items > LIST_LIMIT {
                if items == LIST_LIMIT + 1 {
                    let _ = writeln!(
                        s,
                        "{:>8} {:>7}  {}… {} more (use --full)",
                        "",
                        "",
                        "  ".repeat(depth),
                        total_items - LIST_LIMIT
                    );
                }
                continue;
            }
        }
        let mut line = format!(
            "{:>8} {:>7}  {}{}",
            f.offset,
            f.len,
            "  ".repeat(depth),
            f.name
        );
        if let Some(v) = value_text(f, full) {
            let _ = write!(line, " = {v}");
        }
        if !f.note.is_empty() {
            let _ = write!(line, "   ({})", f.note);
        }
        let _ = writeln!(s, "{line}");
        write_fields(s, &f.children, depth + 1, full);
    }
}

/// The plain-text rendering of a report.
pub fn to_text(r: &Report, encoding: Option<Encoding>, full: bool) -> String {
    let mut s = String::new();
    let via = encoding
        .map(|e| format!(", read as {e}"))
        .unwrap_or_default();
    let _ = writeln!(s, "{} (spec {}), {} bytes{via}", r.title, r.section, r.len);
    let _ = writeln!(s, "{:>8} {:>7}  field", "offset", "length");
    write_fields(&mut s, &r.fields, 0, full);
    for n in &r.notes {
        let _ = writeln!(s, "note: {n}");
    }
    match &r.violation {
        None => {
            let _ = writeln!(s, "valid");
        }
        Some(v) => {
            let at = v
                .offset
                .map(|o| format!(" at offset {o}"))
                .unwrap_or_default();
            let _ = writeln!(s, "INVALID{at}: {} {}", v.section, v.rule);
            let _ = writeln!(s, "  library error: {} ({})", v.error, v.message);
        }
    }
    s
}

fn field_json(f: &Field) -> Value {
    let mut o = serde_json::Map::new();
    o.insert("name".into(), json!(f.name));
    o.insert("offset".into(), json!(f.offset));
    o.insert("length".into(), json!(f.len));
    match &f.shown {
        Shown::Group => {}
        Shown::Uint(v) => {
            o.insert("hex".into(), json!(hex(&f.raw)));
            o.insert("value".into(), json!(v));
        }
        Shown::Ascii(t) => {
            o.insert("hex".into(), json!(hex(&f.raw)));
            o.insert("value".into(), json!(t));
        }
        Shown::Bytes => {
            o.insert("hex".into(), json!(hex(&f.raw)));
        }
    }
    if !f.note.is_empty() {
        o.insert("note".into(), json!(f.note));
    }
    if !f.children.is_empty() {
        o.insert(
            "fields".into(),
            Value::Array(f.children.iter().map(field_json).collect()),
        );
    }
    Value::Object(o)
}

/// The JSON rendering of a report.
pub fn to_json(r: &Report, encoding: Option<Encoding>) -> Value {
    json!({
        "object": r.object,
        "title": r.title,
        "section": r.section,
        "encoding": encoding.map(|e| e.to_string()),
        "length": r.len,
        "valid": r.violation.is_none(),
        "fields": r.fields.iter().map(field_json).collect::<Vec<_>>(),
        "notes": r.notes,
        "violation": r.violation.as_ref().map(|v| json!({
            "section": v.section,
            "rule": v.rule,
            "error": v.error,
            "message": v.message,
            "offset": v.offset,
        })),
    })
}

/// Runs `sova inspect` on the input text.
///
/// # Errors
/// [`Failure::Check`] when the text is not hex or base64, or the bytes are
/// not a valid Sova object (the report, printed first, names the rule).
pub fn run(text: &str, opts: &Options, out: &mut dyn Write) -> Result<(), Failure> {
    let (enc, bytes) = match encoding::decode(text, opts.encoding) {
        Ok(x) => x,
        Err(e) => {
            if opts.json {
                let v = json!({ "valid": false, "input_error": e.to_string() });
                writeln!(out, "{v}")?;
            } else {
                writeln!(out, "INVALID input: {e}")?;
            }
            return Err(Failure::Check(String::new()));
        }
    };
    let r = inspect(&bytes);
    if opts.json {
        let s = serde_json::to_string_pretty(&to_json(&r, Some(enc)))
            .map_err(|e| Failure::Error(format!("encoding the report: {e}")))?;
        writeln!(out, "{s}")?;
    } else {
        write!(out, "{}", to_text(&r, Some(enc), opts.full))?;
    }
    match r.violation {
        None => Ok(()),
        Some(_) => Err(Failure::Check(String::new())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::rand_core::SeedableRng;
    use rand_chacha::ChaCha20Rng;
    use sova::ratchet::HeaderMode;

    struct Objects {
        bundle: Vec<u8>,
        initial: Vec<u8>,
        reply: Vec<u8>,
        session: Vec<u8>,
        account: Vec<u8>,
        sealed: Vec<u8>,
    }

    fn objects(mode: HeaderMode) -> Objects {
        let mut rng = ChaCha20Rng::seed_from_u64(5);
        let alice = Account::new(&mut rng).unwrap();
        let mut bob = Account::new(&mut rng).unwrap();
        let opk = bob.generate_one_time_prekeys(&mut rng, 2).unwrap()[0];
        let bundle = bob.bundle(Some(opk), None).unwrap().to_bytes();
        let mut a = Session::start(&alice, &mut rng, &bundle, mode).unwrap();
        let initial = a.encrypt(&mut rng, b"hello").unwrap();
        let (mut b, _) = bob.accept(&initial).unwrap();
        let reply = b.encrypt(&mut rng, b"hi").unwrap();
        a.decrypt(&reply).unwrap();
        let m2 = a.encrypt(&mut rng, b"skipped").unwrap();
        let m3 = a.encrypt(&mut rng, b"delivered").unwrap();
        let _ = m2;
        b.decrypt(&m3).unwrap();
        let sealed = b
            .to_sealed_bytes(&mut rng, &Secret::from_bytes([1; 32]))
            .unwrap();
        Objects {
            bundle,
            initial,
            reply,
            session: b.to_bytes(),
            account: bob.to_bytes(),
            sealed,
        }
    }

    fn valid(bytes: &[u8], object: &str) -> Report {
        let r = inspect(bytes);
        assert_eq!(r.object, object);
        assert!(r.violation.is_none(), "{}", to_text(&r, None, false));
        r
    }

    /// Leaves tile their parent exactly; top-level fields tile the input.
    fn check_tiling(fields: &[Field], start: usize, len: usize) {
        let mut at = start;
        for f in fields {
            assert_eq!(f.offset, at, "field {}", f.name);
            if !f.children.is_empty() {
                check_tiling(&f.children, f.offset, f.len);
            }
            at += f.len;
        }
        assert_eq!(at, start + len);
    }

    #[test]
    fn valid_objects_tile_exactly() {
        for mode in [HeaderMode::Plain, HeaderMode::Encrypted] {
            let o = objects(mode);
            for (bytes, object) in [
                (&o.bundle, "bundle"),
                (&o.initial, "initial_message"),
                (&o.reply, "ratchet_message"),
                (&o.session, "session_state"),
                (&o.account, "account_state"),
                (&o.sealed, "sealed_state"),
            ] {
                let r = valid(bytes, object);
                check_tiling(&r.fields, 0, bytes.len());
            }
            let rs = Session::from_bytes(&o.session)
                .unwrap()
                .ratchet()
                .to_bytes();
            let r = valid(&rs, "ratchet_state");
            check_tiling(&r.fields, 0, rs.len());
            assert!(find(&r.fields, "SKIPPED[0]").is_some());
        }
    }

    #[test]
    fn every_truncation_and_extension_is_rejected_with_a_section() {
        let o = objects(HeaderMode::Plain);
        for bytes in [&o.reply, &o.initial, &o.bundle, &o.session, &o.account] {
            let step = (bytes.len() / 97).max(1);
            for cut in (0..bytes.len()).step_by(step) {
                let r = inspect(&bytes[..cut]);
                let v = r.violation.expect("a truncated object is invalid");
                assert!(v.section.starts_with('§'));
            }
            let mut longer = bytes.clone();
            longer.push(0);
            let v = inspect(&longer).violation.expect("trailing byte");
            if bytes.starts_with(b"SOVA-1 ") {
                // A state's integrity check covers every byte (§8.1).
                assert!(v.rule.contains("Corrupted"), "{}", v.rule);
                assert_eq!(v.offset, Some(bytes.len() - 32));
            } else {
                assert!(v.rule.contains("TrailingBytes"), "{}", v.rule);
                assert_eq!(v.offset, Some(bytes.len()));
            }
        }
    }

    #[test]
    fn message_rules_are_named() {
        let o = objects(HeaderMode::Plain);
        let m = &o.reply;
        let v = inspect(&m[..m.len() - 1]).violation.unwrap();
        assert_eq!(v.section, "§6.5");
        assert!(v.rule.starts_with("rule 5"), "{}", v.rule);
        assert_eq!(v.error, "Truncated(\"body\")");
        let v = inspect(&m[..30]).violation.unwrap();
        assert!(v.rule.starts_with("rule 3"), "{}", v.rule);
        assert_eq!(v.offset, Some(2));
        let mut bad = m.clone();
        bad[61] ^= 1; // body_len
        let v = inspect(&bad).violation.unwrap();
        assert!(v.rule.starts_with("rule 4"), "{}", v.rule);
        assert_eq!(v.offset, Some(58));
        let v = inspect(&[0x02]).violation.unwrap();
        assert!(v.rule.starts_with("rule 1"), "{}", v.rule);
        let v = inspect(&[0x01, 0x07]).violation.unwrap();
        assert!(v.rule.starts_with("rule 2"), "{}", v.rule);
        let v = inspect(&[]).violation.unwrap();
        assert!(v.rule.starts_with("rule 1"), "{}", v.rule);
    }

    #[test]
    fn bundle_signatures_are_checked() {
        let o = objects(HeaderMode::Plain);
        let mut bad = o.bundle.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        let v = inspect(&bad).violation.unwrap();
        assert_eq!(v.section, "§7.3");
        assert_eq!(v.error, "InvalidKemPrekeySignature");
    }

    #[test]
    fn sealed_framing_only() {
        let o = objects(HeaderMode::Plain);
        let mut bad = o.sealed.clone();
        bad[14] = 9;
        let v = inspect(&bad).violation.unwrap();
        assert_eq!(v.section, "§8.3");
        assert_eq!(v.offset, Some(14));
    }
}
