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
//! | `01 11` | prekey upload | §7.11 |
//! | `"SOVA-1 ratchet"` | ratchet state | §8.2 |
//! | `"SOVA-1 session"` | session state (and the ratchet state inside) | §8.5 |
//! | `"SOVA-1 conversation"` | conversation state (and the sessions inside) | §8.6 |
//! | `"SOVA-1 account"` | account state | §8.4 |
//! | `"SOVA-1 sealed"` | sealed state: only the outer framing | §8.3 |
//! | `"SOVA-1 devices"` | signed device list | §11.3 |
//! | `"SOVA-1 link offer"` | link offer (the QR code's payload) | §11.5 |
//! | `"SOVA-1 link response"` | link response: only the outer framing | §11.5 |
//! | `01 20` | fan-out message, or one device's part of it (device message) | §11.6 |
//! | `"SOVA-1 known user"` | known user state (and the device list inside) | §11.9 |
//! | `"SOVA-1 user key"` | user key state | §11.9 |
//! | `"SOVA-1 group op"` | group membership operation | §12.3 |
//! | `"SOVA-1 group welcome"` | group welcome (and its operations) | §12.3 |
//! | `"SOVA-1 group chain"` | group chain offer | §12.5 |
//! | `01 30` | group message | §12.6 |
//! | `"SOVA-1 group"` | group state | §12.8 |
//!
//! Validity is decided by the library: the bytes go through the same parser
//! the protocol uses (`message::parse`, `PrekeyBundle::parse` and `verify`,
//! `PrekeyUpload::parse` and `verify`,
//! `HandshakeHeader::parse`, `Ratchet::from_bytes`, `Session::from_bytes`,
//! `Account::from_bytes`, `storage::open`, `DeviceList::verify_with`,
//! `LinkOffer::parse`, `LinkResponseFrame::parse`, `DeviceMessage::parse`,
//! `fanout::split`, `KnownUser::from_bytes`, `UserKey::from_bytes`). The annotation walks the known
//! layout alongside to give each field's offset and length, and to say where
//! the input ends when it is truncated. A rejected input is reported with
//! the rule it breaks, the spec section and the library's error.
//!
//! One file per chapter: `messages` (ratchet messages, §6), `bundles`
//! (bundles, initial messages and prekey uploads, §7), `states` (persisted states, §8),
//! `sealed` (§8.3) and `devices` (device lists, linking, fan-out and device
//! states, §11); this module holds the walker, the detection, the
//! report and its output.

use std::fmt::Write as _;
use std::io::Write;

use serde_json::{json, Value};

use crate::encoding::{self, Encoding};
use crate::{hex, Failure};

mod bundles;
mod conversations;
mod devices;
mod groups;
mod messages;
mod sealed;
mod states;

use bundles::{inspect_bundle, inspect_initial_message, inspect_upload};
use messages::inspect_ratchet_message;
use sealed::inspect_sealed;
use states::{inspect_account_state, inspect_ratchet_state, inspect_session_state};

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

/// Inspects `bytes`: detects the object and annotates it.
pub fn inspect(bytes: &[u8]) -> Report {
    type Inspector = fn(&[u8]) -> Report;
    const STATES: &[(&[u8], Inspector)] = &[
        (b"SOVA-1 ratchet", inspect_ratchet_state),
        (b"SOVA-1 session", inspect_session_state),
        (
            b"SOVA-1 conversation",
            conversations::inspect_conversation_state,
        ),
        (b"SOVA-1 account", inspect_account_state),
        (b"SOVA-1 sealed", inspect_sealed),
    ];
    for (magic, f) in STATES.iter().chain(devices::MAGICS).chain(groups::MAGICS) {
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
                   \"SOVA-1 session\", \"SOVA-1 conversation\", \"SOVA-1 account\", \
                   \"SOVA-1 sealed\", \"SOVA-1 devices\", \"SOVA-1 link offer\", \
                   \"SOVA-1 link response\", \"SOVA-1 known user\", \"SOVA-1 user key\", \
                   \"SOVA-1 group\", \"SOVA-1 group op\", \"SOVA-1 group welcome\", \
                   \"SOVA-1 group chain\")"
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
        Some(&sova::session::TYPE_PREKEY_UPLOAD) => inspect_upload(bytes),
        Some(&sova::devices::TYPE_FANOUT) => devices::inspect_fanout(bytes),
        Some(&sova::groups::TYPE_GROUP_MESSAGE) => groups::inspect_group_message(bytes),
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
    use sova::session::{Account, Session};
    use sova::Secret;

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
        let mut a = Session::start_unverified(&alice, &mut rng, &bundle, mode).unwrap();
        let initial = a.encrypt(&mut rng, b"hello").unwrap();
        let (mut b, _) = bob.accept_unverified(&initial).unwrap();
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
