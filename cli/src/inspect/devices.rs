//! Devices (spec §11): device lists (§11.3), link offers and the framing of
//! link responses (§11.5), fan-out and device messages (§11.6), and the
//! persisted known users and user keys (§11.9).

use sova::devices::{
    fanout, DeviceList, KnownUser, LinkOffer, LinkResponseFrame, ListError, ParseError, UserKey,
    MAX_DEVICES,
};
use sova::ratchet::StateError;
use sova::DefaultProvider;

use super::bundles::{identity_public, initial_message_layout};
use super::messages::ratchet_message_layout;
use super::states::{key32, state_check, state_violation};
use super::*;

/// Inspects one kind of object.
pub(super) type Inspector = fn(&[u8]) -> Report;

/// The objects of this chapter that start with a magic.
pub(super) const MAGICS: &[(&[u8], Inspector)] = &[
    (b"SOVA-1 devices", inspect_device_list),
    (b"SOVA-1 link offer", inspect_link_offer),
    (b"SOVA-1 link response", inspect_link_response),
    (b"SOVA-1 known user", inspect_known_user),
    (b"SOVA-1 user key", inspect_user_key),
];

// ---------------------------------------------------------------------------
// Layouts.

/// §11.3.
pub(super) fn device_list_layout(w: &mut Walk<'_>) -> Option<()> {
    w.ascii("magic", 14, "")?;
    w.uint("version", 1, "device list format version")?;
    w.take("UK_pub", 32, "the user key: names the person (§11.2)")?;
    w.uint("epoch", 8, "strictly increasing per user key")?;
    let count = w.uint("count", 1, "devices listed (1 to 64)")?;
    if count == 0 || count > MAX_DEVICES as u64 {
        w.annotate(format!("INVALID: {count} devices, not 1 to {MAX_DEVICES}"));
        return w.halt();
    }
    for i in 0..count {
        w.group(&format!("DEVICE[{i}]"), "DeviceEntry", |w| {
            w.uint("device_id", 4, "unique within the list")?;
            w.take(
                "IdentityKey",
                64,
                "the device's IK_sig.pub || IK_dh.pub (§7.1)",
            )?;
            let flags = w.uint("flags", 1, "")?;
            if flags & !1 != 0 {
                w.annotate(format!("INVALID: bits 1–7 MUST be 0 (0x{flags:02x})"));
                return w.halt();
            }
            w.annotate(if flags == 1 {
                "admin: holds the user key"
            } else {
                "not an admin device"
            });
            Some(())
        })?;
    }
    w.take(
        "signature",
        64,
        "LabeledSign(UK, \"device list\", all bytes before it)",
    )?;
    w.trailing();
    Some(())
}

/// §11.5: the QR code's payload.
fn link_offer_layout(w: &mut Walk<'_>) -> Option<()> {
    w.ascii("magic", 17, "")?;
    w.uint("version", 1, "link format version")?;
    w.take("E_N", 32, "the new device's link key X25519(e_N, 9)")?;
    identity_public(w, "IdentityPublic_N", "the new device's identity, §7.1")?;
    w.trailing();
    Some(())
}

/// §11.5: the framing; the payload needs the new device's link key.
fn link_response_layout(w: &mut Walk<'_>) -> Option<()> {
    w.ascii("magic", 20, "")?;
    w.uint("version", 1, "link format version")?;
    w.take("E_A", 32, "the admin device's link key X25519(e_A, 9)")?;
    let rest = w.remaining();
    if rest < 16 {
        w.take("payload", 16, "ChaCha20-Poly1305 ciphertext and tag")?;
        return None;
    }
    w.take(
        "ciphertext",
        rest - 16,
        "the sealed payload: list, optional user key seed, application data",
    )?;
    w.take("tag", 16, "Poly1305 tag; AD = T (the link transcript)")?;
    Some(())
}

/// §11.6: the header, the body length and the body.
fn fanout_head_layout(w: &mut Walk<'_>) -> Option<()> {
    w.group("FanoutHeader", "H: the associated data of the body", |w| {
        w.uint("version", 1, "SOVA-1")?;
        w.uint("type", 1, "fan-out message (0x20)")?;
        w.take("UK_S", 32, "the sender's user key")?;
        w.uint("sender_device_id", 4, "the sending device's id")?;
        w.uint("sender_epoch", 8, "the sender's own list, as it holds it")?;
        w.take("ListHash_S", 32, "that list's ListHash")?;
        w.take("UK_R", 32, "the recipient's user key")?;
        w.uint("recipient_epoch", 8, "the recipient's list the sender used")?;
        w.take("ListHash_R", 32, "that list's ListHash")?;
        Some(())
    })?;
    let len = w.uint("body_len", 4, "length of the body")? as usize;
    if len < 16 {
        w.annotate(format!(
            "INVALID: {len} bytes, shorter than the 16-byte tag"
        ));
    }
    w.take(
        "Body",
        len,
        "ChaCha20-Poly1305(K, n, AD = H, Pad(P)): encrypted once for every device",
    )?;
    Some(())
}

/// One entry: audience, device id, the pairwise message.
fn entry_layout(w: &mut Walk<'_>) -> Option<()> {
    let audience = w.uint("audience", 1, "")?;
    match audience {
        0 => w.annotate("0: a device of the recipient"),
        1 => w.annotate("1: another device of the sender's own user"),
        a => {
            w.annotate(format!("INVALID: 0x{a:02x} (must be 0 or 1)"));
            return w.halt();
        }
    }
    w.uint(
        "device_id",
        4,
        "the receiving device, as the sender addressed it",
    )?;
    let len = w.uint("len", 4, "length of the pairwise message")? as usize;
    w.nested(
        "pairwise message",
        len,
        "Encrypt(KeyMsg) on the sender's conversation with the device (§7.7); \
         KeyMsg = 0x01 || bk || D, 65 bytes",
        |w| {
            let _ = match w.buf.get(1) {
                Some(&sova::session::TYPE_INITIAL) => initial_message_layout(w),
                _ => ratchet_message_layout(w),
            };
        },
    )
}

fn device_message_layout(w: &mut Walk<'_>) -> Option<()> {
    fanout_head_layout(w)?;
    w.group("Entry", "the one entry for this device", entry_layout)?;
    w.trailing();
    Some(())
}

fn fanout_message_layout(w: &mut Walk<'_>) -> Option<()> {
    fanout_head_layout(w)?;
    let count = w.uint("count", 2, "entries: one per device")?;
    for i in 0..count {
        w.group(&format!("ENTRY[{i}]"), "", entry_layout)?;
    }
    w.trailing();
    Some(())
}

/// The end of a state: bytes after the last field (the library reads the
/// check from the last 32 bytes), then the check (§8.1).
fn state_tail(w: &mut Walk<'_>) -> Option<()> {
    let rest = w.remaining();
    if rest > 32 {
        w.take(
            "trailing bytes",
            rest - 32,
            format!("{} byte(s) after the last field", rest - 32),
        )?;
    }
    state_check(w)
}

/// §11.9.
fn known_user_layout(w: &mut Walk<'_>) -> Option<()> {
    w.ascii("magic", 17, "")?;
    w.uint("version", 1, "state format version")?;
    let len = w.uint("len", 4, "length of the device list")? as usize;
    w.nested(
        "DeviceList",
        len,
        "the accepted list (§11.3); its UK_pub is the pinned user key",
        |w| {
            let _ = device_list_layout(w);
        },
    )?;
    state_tail(w)
}

/// §11.9.
fn user_key_layout(w: &mut Walk<'_>) -> Option<()> {
    w.ascii("magic", 15, "")?;
    w.uint("version", 1, "state format version")?;
    key32(w, "seed", "SECRET: the user key's Ed25519 seed (§11.2)")?;
    state_tail(w)
}

// ---------------------------------------------------------------------------
// Verdicts.

/// The offset of the first entry field named `name` satisfying `bad`.
fn first_field(fields: &[Field], name: &str, bad: &dyn Fn(&Field) -> bool) -> Option<usize> {
    for f in fields {
        if f.name == name && bad(f) {
            return Some(f.offset);
        }
        if let Some(o) = first_field(&f.children, name, bad) {
            return Some(o);
        }
    }
    None
}

/// The offset of the first entry that breaks §11.3 check 4.
fn inconsistent_entry(fields: &[Field]) -> Option<usize> {
    let entries: Vec<&Field> = fields
        .iter()
        .flat_map(|f| {
            if f.name.starts_with("DEVICE[") {
                vec![f]
            } else {
                f.children
                    .iter()
                    .filter(|c| c.name.starts_with("DEVICE["))
                    .collect()
            }
        })
        .collect();
    let part = |e: &Field, n: &str| {
        e.children
            .iter()
            .find(|c| c.name == n)
            .map(|c| c.raw.clone())
            .unwrap_or_default()
    };
    for (i, e) in entries.iter().enumerate() {
        if i > 0 && part(entries[i - 1], "device_id") >= part(e, "device_id") {
            return Some(e.offset);
        }
        let id = part(e, "IdentityKey");
        if entries[..i].iter().any(|o| part(o, "IdentityKey") == id) {
            return Some(e.offset);
        }
    }
    None
}

fn parse_rule(
    e: &ParseError,
    what: &str,
    fields: &[Field],
    w: &Walk<'_>,
) -> (String, Option<usize>) {
    let at = |name: &str| find(fields, name).map(|f| f.offset);
    match e {
        ParseError::BadMagic => (
            format!("{what} MUST start with its magic (or type byte) [Malformed(BadMagic)]"),
            Some(0),
        ),
        ParseError::UnsupportedVersion(v) => (
            format!("the version MUST be 0x01, found 0x{v:02x} [Malformed(UnsupportedVersion)]"),
            at("version"),
        ),
        ParseError::Truncated(f) => (
            format!(
                "a reader MUST reject a truncated {what} [Malformed(Truncated(\"{f}\"))]{}",
                truncation_detail(w)
            ),
            stop_offset(w),
        ),
        ParseError::DeviceCount(c) => (
            format!("`count` MUST be 1 to {MAX_DEVICES}, found {c} [Malformed(DeviceCount)]"),
            at("count"),
        ),
        ParseError::InvalidFlags(f) => (
            format!(
                "flag bits 1–7 MUST be 0, and a kind or audience byte MUST be 0 or 1; \
                 found 0x{f:02x} [Malformed(InvalidFlags)]"
            ),
            first_field(fields, "flags", &|x| {
                x.raw.first().is_some_and(|b| b & !1 != 0)
            })
            .or_else(|| {
                first_field(fields, "audience", &|x| {
                    x.raw.first().is_some_and(|b| *b > 1)
                })
            })
            .or_else(|| stop_offset(w)),
        ),
        ParseError::TrailingBytes => (
            format!("a reader MUST reject bytes after the {what} [Malformed(TrailingBytes)]"),
            at("trailing bytes"),
        ),
        other => (other.to_string(), stop_offset(w)),
    }
}

fn list_violation(e: &ListError, fields: &[Field], w: &Walk<'_>) -> Violation {
    let (rule, offset) = match e {
        ListError::Malformed(p) => {
            let (rule, offset) = parse_rule(p, "device list", fields, w);
            (format!("check 1: {rule}"), offset)
        }
        ListError::WrongUser => (
            "check 2: UK_pub MUST be the user key the reader expects [WrongUser]".to_owned(),
            find(fields, "UK_pub").map(|f| f.offset),
        ),
        ListError::InvalidSignature => (
            "check 3: the signature MUST verify under UK_pub (strict Ed25519, §3.3) \
             [InvalidSignature]"
                .to_owned(),
            find(fields, "signature").map(|f| f.offset),
        ),
        ListError::Inconsistent => (
            "check 4: device ids MUST strictly increase and no IdentityKey may be listed \
             twice [Inconsistent]"
                .to_owned(),
            inconsistent_entry(fields),
        ),
        other => (other.to_string(), None),
    };
    Violation {
        section: "§11.3",
        rule,
        error: format!("{e:?}"),
        message: e.to_string(),
        offset,
    }
}

fn malformed(
    section: &'static str,
    e: &ParseError,
    what: &str,
    fields: &[Field],
    w: &Walk<'_>,
) -> Violation {
    let (rule, offset) = parse_rule(e, what, fields, w);
    Violation {
        section,
        rule,
        error: format!("Malformed({e:?})"),
        message: e.to_string(),
        offset,
    }
}

// ---------------------------------------------------------------------------
// Reports.

fn list_notes(l: &DeviceList) -> Vec<String> {
    let admins = l.entries().iter().filter(|e| e.admin).count();
    vec![
        format!(
            "valid under its own user key: epoch {}, {} device(s), {admins} admin (§11.3); \
             whether UK_pub is the expected person is for the reader to check (check 2)",
            l.epoch(),
            l.entries().len()
        ),
        format!("ListHash = {}", hex(&l.hash())),
    ]
}

pub(super) fn inspect_device_list(bytes: &[u8]) -> Report {
    let mut w = Walk::new(bytes, 0);
    let _ = device_list_layout(&mut w);
    let mut r = report(
        "device_list",
        "signed device list".into(),
        "§11.3",
        bytes.len(),
        w.fields.clone(),
    );
    match DeviceList::verify_with(&DefaultProvider::default(), bytes, None) {
        Ok(l) => r.notes.extend(list_notes(&l)),
        Err(e) => r.violation = Some(list_violation(&e, &r.fields, &w)),
    }
    r
}

pub(super) fn inspect_link_offer(bytes: &[u8]) -> Report {
    let mut w = Walk::new(bytes, 0);
    let _ = link_offer_layout(&mut w);
    let mut r = report(
        "link_offer",
        "link offer (the new device's QR code)".into(),
        "§11.5",
        bytes.len(),
        w.fields.clone(),
    );
    match LinkOffer::parse(bytes) {
        Err(e) => r.violation = Some(malformed("§11.5", &e, "link offer", &r.fields, &w)),
        Ok(o) => match o.identity.verify(&DefaultProvider::default()) {
            Ok(()) => r.notes.push(format!(
                "well formed; the identity binding is valid (§7.1); IdentityKey_N = {}",
                hex(&o.identity.identity_key())
            )),
            Err(_) => {
                r.violation = Some(Violation {
                    section: "§11.5",
                    rule: "the admin device MUST check IdentityPublic_N's binding \
                           [InvalidIdentitySignature]"
                        .into(),
                    error: "InvalidIdentitySignature".into(),
                    message: "the new device's identity signature is invalid".into(),
                    offset: find(&r.fields, "binding").map(|f| f.offset),
                })
            }
        },
    }
    r
}

pub(super) fn inspect_link_response(bytes: &[u8]) -> Report {
    let mut w = Walk::new(bytes, 0);
    let _ = link_response_layout(&mut w);
    let mut r = report(
        "link_response",
        "link response: outer framing only".into(),
        "§11.5",
        bytes.len(),
        w.fields.clone(),
    );
    match LinkResponseFrame::parse(bytes) {
        Err(e) => r.violation = Some(malformed("§11.5", &e, "link response", &r.fields, &w)),
        Ok(f) => r.notes.push(format!(
            "framing valid; the {}-byte payload opens only under the key the new device \
             derives from its link key e_N and E_A (§11.5) and is not shown",
            f.ciphertext.len()
        )),
    }
    r
}

/// How far a walk got: the offset it stopped at, or the end.
fn progress(w: &Walk<'_>, len: usize) -> usize {
    match (&w.stop, w.fields.last()) {
        (Some(s), _) => s.offset,
        (None, Some(f)) if f.name == "trailing bytes" => f.offset,
        _ => len,
    }
}

/// Where a device message's one entry would end, from the body length and
/// the entry's length field, if the input holds both.
fn single_entry_end(bytes: &[u8]) -> Option<usize> {
    let h = fanout::FANOUT_HEADER_LEN;
    let u32_at = |at: usize| -> Option<usize> {
        let b: [u8; 4] = bytes.get(at..at + 4)?.try_into().ok()?;
        Some(u32::from_be_bytes(b) as usize)
    };
    let entry = h.checked_add(4)?.checked_add(u32_at(h)?)?;
    entry.checked_add(9)?.checked_add(u32_at(entry + 5)?)
}

/// `01 20`: a device message (one entry) or a fan-out message (a count and
/// its entries). The one that parses is shown; when neither does, the one
/// whose layout reaches further.
pub(super) fn inspect_fanout(bytes: &[u8]) -> Report {
    let mut dw = Walk::new(bytes, 0);
    let _ = device_message_layout(&mut dw);
    let mut fw = Walk::new(bytes, 0);
    let _ = fanout_message_layout(&mut fw);
    let device = fanout::DeviceMessage::parse(bytes);
    let split = fanout::split(bytes);
    let as_device = match (&device, &split) {
        (Ok(_), _) => true,
        (Err(_), Ok(_)) => false,
        (Err(_), Err(_)) => match single_entry_end(bytes) {
            // One entry that fits in the input: a device message,
            // whatever else is wrong with it.
            Some(end) => end <= bytes.len(),
            None => progress(&dw, bytes.len()) >= progress(&fw, bytes.len()),
        },
    };
    if as_device {
        let mut r = report(
            "device_message",
            "device message: a fan-out message's part for one device".into(),
            "§11.6",
            bytes.len(),
            dw.fields.clone(),
        );
        match device {
            Ok(m) => r.notes.push(format!(
                "well formed (check 1); for device {} of the {}; the body opens only with \
                 the key message inside the pairwise message",
                m.device_id,
                match m.audience {
                    fanout::Audience::Recipient => "recipient",
                    fanout::Audience::OwnDevice => "sender's own user",
                }
            )),
            Err(e) => {
                let mut v = malformed("§11.6", &e, "device message", &r.fields, &dw);
                v.rule = format!("check 1: {}", v.rule);
                r.violation = Some(v);
            }
        }
        r
    } else {
        let mut r = report(
            "fanout_message",
            "fan-out message: one body, one entry per device".into(),
            "§11.6",
            bytes.len(),
            fw.fields.clone(),
        );
        match split {
            Ok(parts) => r.notes.push(format!(
                "well formed; the server cuts it into {} device message(s)",
                parts.len()
            )),
            Err(e) => r.violation = Some(malformed("§11.6", &e, "fan-out message", &r.fields, &fw)),
        }
        r
    }
}

pub(super) fn inspect_known_user(bytes: &[u8]) -> Report {
    let mut w = Walk::new(bytes, 0);
    let _ = known_user_layout(&mut w);
    let mut r = report(
        "known_user_state",
        "known user state: a person's accepted device list".into(),
        "§11.9",
        bytes.len(),
        w.fields.clone(),
    );
    match KnownUser::from_bytes(bytes) {
        Ok(k) => r.notes.extend(list_notes(k.list())),
        Err(e) => {
            let mut v = state_violation(&e, "§11.9", "\"SOVA-1 known user\"", &r.fields, &w);
            if let StateError::Invalid(_) = e {
                // The list's own verdict says which rule of §11.3 it breaks.
                let list = find(&r.fields, "DeviceList");
                v.section = "§11.9";
                v.offset = list.map(|f| f.offset);
                if let Some(f) = list {
                    let inner = &bytes[f.offset..f.offset + f.len];
                    let mut lw = Walk::new(inner, f.offset);
                    let _ = device_list_layout(&mut lw);
                    if let Err(le) =
                        DeviceList::verify_with(&DefaultProvider::default(), inner, None)
                    {
                        let lv = list_violation(&le, &lw.fields, &lw);
                        v.rule = format!(
                            "{} — the stored list breaks §11.3 {} (at offset {})",
                            v.rule,
                            lv.rule,
                            lv.offset.map_or("?".to_owned(), |o| o.to_string())
                        );
                        v.offset = lv.offset.or(v.offset);
                    }
                }
            }
            r.violation = Some(v);
        }
    }
    r
}

pub(super) fn inspect_user_key(bytes: &[u8]) -> Report {
    let mut w = Walk::new(bytes, 0);
    let _ = user_key_layout(&mut w);
    let mut r = report(
        "user_key_state",
        "user key state (SECRET: the user key's seed)".into(),
        "§11.9",
        bytes.len(),
        w.fields.clone(),
    );
    match UserKey::from_bytes(bytes) {
        Ok(k) => r.notes.push(format!("valid; UK_pub = {}", hex(k.public()))),
        Err(e) => {
            r.violation = Some(state_violation(
                &e,
                "§11.9",
                "\"SOVA-1 user key\"",
                &r.fields,
                &w,
            ))
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::rand_core::SeedableRng;
    use rand_chacha::ChaCha20Rng;
    use sova::devices::{approve_link, DeviceEntry, LinkRequest};
    use sova::ratchet::HeaderMode;
    use sova::session::{Account, Conversation};
    use sova::{CryptoProvider, Secret};

    pub(crate) struct Objects {
        pub list: Vec<u8>,
        pub offer: Vec<u8>,
        pub response: Vec<u8>,
        pub fanout: Vec<u8>,
        pub device_message: Vec<u8>,
        pub known_user: Vec<u8>,
        pub user_key: Vec<u8>,
        pub sealed_known_user: Vec<u8>,
        pub uk: UserKey,
        pub identities: [[u8; 64]; 2],
    }

    pub(crate) fn objects() -> Objects {
        let mut rng = ChaCha20Rng::seed_from_u64(21);
        let (a1, a2, b1) = (
            Account::new(&mut rng).unwrap(),
            Account::new(&mut rng).unwrap(),
            Account::new(&mut rng).unwrap(),
        );
        let (uk, bob_uk) = (
            UserKey::generate(&mut rng).unwrap(),
            UserKey::generate(&mut rng).unwrap(),
        );
        let e = |id, a: &Account, admin| DeviceEntry {
            device_id: id,
            identity: a.identity_key(),
            admin,
        };
        let list = uk.sign_list(1, &[e(1, &a1, true)]).unwrap();
        let own = KnownUser::from_list(list.clone());
        let request = LinkRequest::new(&a2, &mut rng).unwrap();
        let approval =
            approve_link(&uk, &own, request.offer(), false, b"contacts", &mut rng).unwrap();
        let own = KnownUser::from_list(approval.list.clone());
        let bob = KnownUser::from_list(bob_uk.sign_list(4, &[e(7, &b1, true)]).unwrap());
        let mut to_a2 = Conversation::start(
            &a1,
            &mut rng,
            &a2.identity_key(),
            &a2.bundle(None, None).unwrap().to_bytes(),
            HeaderMode::Plain,
        )
        .unwrap();
        let mut to_b1 = Conversation::start(
            &a1,
            &mut rng,
            &b1.identity_key(),
            &b1.bundle(None, None).unwrap().to_bytes(),
            HeaderMode::Encrypted,
        )
        .unwrap();
        let fanout = fanout::encrypt(
            &own,
            1,
            &bob,
            &mut [
                fanout::Target {
                    audience: fanout::Audience::Recipient,
                    device_id: 7,
                    conversation: &mut to_b1,
                },
                fanout::Target {
                    audience: fanout::Audience::OwnDevice,
                    device_id: 2,
                    conversation: &mut to_a2,
                },
            ],
            b"hello",
            &mut rng,
        )
        .unwrap();
        let device_message = fanout::split(&fanout).unwrap().remove(0).2;
        let key = Secret::from_bytes([1; 32]);
        Objects {
            list: approval.list.to_bytes().to_vec(),
            offer: request.offer().to_vec(),
            response: approval.response.clone(),
            device_message,
            known_user: own.to_bytes(),
            sealed_known_user: own.to_sealed_bytes(&mut rng, &key).unwrap(),
            user_key: uk.to_bytes(),
            fanout,
            uk,
            identities: [a1.identity_key(), a2.identity_key()],
        }
    }

    fn tiles(fields: &[Field], start: usize, len: usize) {
        let mut at = start;
        for f in fields {
            assert_eq!(f.offset, at, "field {}", f.name);
            if !f.children.is_empty() {
                tiles(&f.children, f.offset, f.len);
            }
            at += f.len;
        }
        assert_eq!(at, start + len);
    }

    fn violation(bytes: &[u8]) -> Violation {
        let r = inspect(bytes);
        match r.violation {
            Some(v) => v,
            None => panic!("{}", to_text(&r, None, false)),
        }
    }

    /// `magic || version || body || SHA-256` (spec §8.1).
    fn restate(bytes: &[u8]) -> Vec<u8> {
        let mut b = bytes.to_vec();
        let end = b.len() - 32;
        let check = DefaultProvider::default().sha256(&[&b[..end]]);
        b[end..].copy_from_slice(&check);
        b
    }

    fn signed(uk: &UserKey, body: &[u8]) -> Vec<u8> {
        let sig = sova::kdf::labeled_sign(
            &DefaultProvider::default(),
            uk.seed(),
            sova::labels::DEVICE_LIST,
            &[body],
        )
        .unwrap();
        [body, &sig[..]].concat()
    }

    #[test]
    fn valid_objects_tile_exactly() {
        let o = objects();
        for (bytes, object) in [
            (&o.list, "device_list"),
            (&o.offer, "link_offer"),
            (&o.response, "link_response"),
            (&o.fanout, "fanout_message"),
            (&o.device_message, "device_message"),
            (&o.known_user, "known_user_state"),
            (&o.user_key, "user_key_state"),
            (&o.sealed_known_user, "sealed_state"),
        ] {
            let r = inspect(bytes);
            assert_eq!(r.object, object);
            assert!(r.violation.is_none(), "{}", to_text(&r, None, false));
            tiles(&r.fields, 0, bytes.len());
        }
        // The pairwise messages are annotated: an initial message (§7.5).
        let r = inspect(&o.device_message);
        assert!(find(&r.fields, "CT").is_some());
        assert!(find(&r.fields, "DEVICE[1]").is_none());
        assert!(find(&inspect(&o.known_user).fields, "DEVICE[1]").is_some());
        let r = inspect(&o.fanout);
        assert!(find(&r.fields, "ENTRY[1]").is_some());
    }

    #[test]
    fn every_truncation_and_extension_is_rejected_with_a_section() {
        let o = objects();
        for bytes in [
            &o.list,
            &o.offer,
            &o.response,
            &o.fanout,
            &o.device_message,
            &o.known_user,
            &o.user_key,
        ] {
            let step = (bytes.len() / 97).max(1);
            // A response is well framed from its magic, version, E_A and tag on.
            let end = if bytes == &o.response {
                69
            } else {
                bytes.len()
            };
            for cut in (0..end).step_by(step) {
                // A device message cut after its body, where the entry's
                // first two bytes are zero, is a fan-out message without
                // entries.
                if fanout::split(&bytes[..cut]).is_ok() {
                    continue;
                }
                let v = violation(&bytes[..cut]);
                assert!(v.section.starts_with('§'));
            }
            let mut longer = bytes.clone();
            longer.push(0);
            if bytes == &o.response {
                // The payload runs to the end: a longer response only fails
                // to open.
                assert!(inspect(&longer).violation.is_none());
                continue;
            }
            let v = violation(&longer);
            if bytes.starts_with(b"SOVA-1 known") || bytes.starts_with(b"SOVA-1 user") {
                assert!(v.rule.contains("Corrupted"), "{}", v.rule);
            } else {
                assert!(v.rule.contains("TrailingBytes"), "{}", v.rule);
                assert_eq!(v.offset, Some(bytes.len()), "{}", v.rule);
            }
        }
    }

    #[test]
    fn device_list_rules_are_named_with_their_offsets() {
        let o = objects();
        let list = &o.list;
        let sig_at = list.len() - 64;
        // Check 1: the count, an entry's flags, truncation.
        let mut bad = list.clone();
        bad[55] = 0;
        let v = violation(&bad);
        assert_eq!(v.section, "§11.3");
        assert!(v.rule.starts_with("check 1"), "{}", v.rule);
        assert_eq!(v.error, "Malformed(DeviceCount(0))");
        assert_eq!(v.offset, Some(55));
        let mut bad = list.clone();
        bad[56 + 69 + 68] = 0x81; // the second entry's flags
        let v = violation(&bad);
        assert_eq!(v.error, "Malformed(InvalidFlags(129))");
        assert_eq!(v.offset, Some(56 + 69 + 68));
        let v = violation(&list[..100]);
        assert_eq!(v.error, "Malformed(Truncated(\"identity key\"))");
        assert_eq!(v.offset, Some(56 + 4));
        // Check 3: the signature.
        let mut bad = list.clone();
        bad[30] ^= 1;
        let v = violation(&bad);
        assert!(v.rule.starts_with("check 3"), "{}", v.rule);
        assert_eq!(v.offset, Some(sig_at));
        // Check 4: a repeated identity, signed.
        let mut body = list[..sig_at].to_vec();
        body[56 + 69 + 4..56 + 69 + 68].copy_from_slice(&o.identities[0]);
        let v = violation(&signed(&o.uk, &body));
        assert!(v.rule.starts_with("check 4"), "{}", v.rule);
        assert_eq!(v.error, "Inconsistent");
        assert_eq!(v.offset, Some(56 + 69));
        // Ids not increasing.
        let mut body = list[..sig_at].to_vec();
        body[56 + 69..56 + 69 + 4].copy_from_slice(&1u32.to_be_bytes());
        let v = violation(&signed(&o.uk, &body));
        assert_eq!(v.offset, Some(56 + 69));
    }

    #[test]
    fn link_and_fanout_rules_are_named() {
        let o = objects();
        let v = violation(&o.offer[..100]);
        assert_eq!(v.section, "§11.5");
        assert_eq!(v.error, "Malformed(Truncated(\"identity\"))");
        let mut bad = o.offer.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        let v = violation(&bad);
        assert_eq!(v.error, "InvalidIdentitySignature");
        assert_eq!(v.offset, Some(17 + 1 + 32 + 64));
        let mut bad = o.offer.clone();
        bad[17] = 2;
        assert_eq!(violation(&bad).offset, Some(17));
        let v = violation(&o.response[..60]);
        assert_eq!(v.error, "Malformed(Truncated(\"payload\"))");
        // A device message: its audience byte.
        let h = fanout::FANOUT_HEADER_LEN;
        let body_len = u32::from_be_bytes(o.device_message[h..h + 4].try_into().unwrap()) as usize;
        let at = h + 4 + body_len;
        let mut bad = o.device_message.clone();
        bad[at] = 2;
        let v = violation(&bad);
        assert_eq!(v.section, "§11.6");
        assert!(v.rule.starts_with("check 1"), "{}", v.rule);
        assert_eq!(v.error, "Malformed(InvalidFlags(2))");
        assert_eq!(v.offset, Some(at));
        // The type byte and the body length.
        let mut bad = o.fanout.clone();
        bad[h..h + 4].copy_from_slice(&8u32.to_be_bytes());
        let v = violation(&bad);
        assert_eq!(v.error, "Malformed(Truncated(\"body\"))");
    }

    #[test]
    fn device_state_rules_are_named() {
        let o = objects();
        // A stored list whose signature no longer verifies: §11.9 rule 3,
        // pointing at the list's signature.
        let mut bad = o.known_user.clone();
        bad[22 + 40] ^= 1;
        let bad = restate(&bad);
        let v = violation(&bad);
        assert_eq!(v.section, "§11.9");
        assert_eq!(v.error, "Invalid(\"device list signature\")");
        assert!(v.rule.contains("check 3"), "{}", v.rule);
        assert_eq!(v.offset, Some(bad.len() - 32 - 64));
        let mut bad = o.known_user.clone();
        bad[20] ^= 0x10; // len
        let v = violation(&restate(&bad));
        assert_eq!(v.error, "Truncated");
        let mut bad = o.known_user.clone();
        bad[30] ^= 1;
        let v = violation(&bad);
        assert_eq!(v.error, "Corrupted");
        assert_eq!(v.offset, Some(bad.len() - 32));
        let mut longer = o.user_key[..o.user_key.len() - 32].to_vec();
        longer.push(0);
        longer.extend_from_slice(&[0; 32]);
        let v = violation(&restate(&longer));
        assert_eq!(v.error, "TrailingBytes");
        assert_eq!(v.offset, Some(48));
        let mut bad = o.sealed_known_user.clone();
        bad[14] = 6;
        assert_eq!(violation(&bad).offset, Some(14));
    }
}
