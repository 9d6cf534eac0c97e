//! `sova inspect` run as a real process, on objects made by the library.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::process::{Command, Output, Stdio};

use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use sova::ratchet::HeaderMode;
use sova::session::{Account, Conversation, Session};
use sova::Secret;

fn sova(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sova"))
        .args(args)
        .output()
        .expect("the sova binary runs")
}

fn sova_stdin(args: &[&str], input: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sova"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn base64(b: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in b.chunks(3) {
        let n = chunk.len();
        let v = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= n {
                out.push(A[((v >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

struct Objects {
    bundle: Vec<u8>,
    initial: Vec<u8>,
    message: Vec<u8>,
    session: Vec<u8>,
    ratchet: Vec<u8>,
    account: Vec<u8>,
    sealed: Vec<u8>,
    conversation: Vec<u8>,
}

fn objects(mode: HeaderMode) -> Objects {
    let mut rng = ChaCha20Rng::seed_from_u64(11);
    let alice = Account::new(&mut rng).unwrap();
    let mut bob = Account::new(&mut rng).unwrap();
    let opk = bob.generate_one_time_prekeys(&mut rng, 1).unwrap()[0];
    let bundle = bob.bundle(Some(opk), None).unwrap().to_bytes();
    let mut a = Session::start_unverified(&alice, &mut rng, &bundle, mode).unwrap();
    let initial = a.encrypt(&mut rng, b"hello Bob").unwrap();
    let (mut b, _) = bob.accept_unverified(&initial).unwrap();
    let message = b.encrypt(&mut rng, b"hello Alice").unwrap();
    let sealed = b
        .to_sealed_bytes(&mut rng, &Secret::from_bytes([3; 32]))
        .unwrap();
    let mut conversation = Conversation::new(alice.identity_key());
    conversation
        .add(Session::from_bytes(&b.to_bytes()).unwrap())
        .unwrap();
    Objects {
        conversation: conversation.to_bytes(),
        bundle,
        initial,
        message,
        session: b.to_bytes(),
        ratchet: b.ratchet().to_bytes(),
        account: bob.to_bytes(),
        sealed,
    }
}

fn valid(out: &Output) -> String {
    let s = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{s}{}", text(&out.stderr));
    assert!(s.trim_end().ends_with("valid"), "{s}");
    s
}

fn invalid(out: &Output) -> String {
    let s = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{s}{}", text(&out.stderr));
    s
}

#[test]
fn a_ratchet_message_is_annotated_with_offsets() {
    let o = objects(HeaderMode::Plain);
    let s = valid(&sova(&["inspect", &hex(&o.message)]));
    assert!(s.contains("ratchet message, type 0x01"), "{s}");
    assert!(s.contains("(spec §6.2)"), "{s}");
    assert!(s.contains("read as hex"), "{s}");
    // offset, length and name of the fixed fields of §6.2.
    for (offset, len, name) in [
        (0, 1, "version = 0x01"),
        (1, 1, "type = 0x01"),
        (2, 56, "header"),
        (2, 32, "dh = "),
        (34, 4, "pn = 0"),
        (38, 4, "n = 0"),
        (42, 16, "salt = "),
        (58, 4, "body_len = 48"),
        (62, 48, "body"),
        (62, 32, "ciphertext = "),
        (94, 16, "tag = "),
    ] {
        let line = s
            .lines()
            .find(|l| {
                let mut w = l.split_whitespace();
                w.next() == Some(&offset.to_string())
                    && w.next() == Some(&len.to_string())
                    && l.contains(name)
            })
            .unwrap_or_else(|| panic!("no line {offset} {len} {name:?} in\n{s}"));
        let _ = line;
    }

    let out = sova(&["inspect", "--json", &hex(&o.message)]);
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["object"], "ratchet_message");
    assert_eq!(v["valid"], true);
    assert_eq!(v["fields"][3]["name"], "body_len");
    assert_eq!(v["fields"][3]["offset"], 58);
    assert_eq!(v["fields"][3]["value"], 48);
}

#[test]
fn an_encrypted_header_message_read_as_base64_from_stdin() {
    let o = objects(HeaderMode::Encrypted);
    let s = valid(&sova_stdin(
        &["inspect"],
        &format!("{}\n", base64(&o.message)),
    ));
    assert!(s.contains("type 0x02: encrypted header"), "{s}");
    assert!(s.contains("read as base64"), "{s}");
    assert!(s.contains("enc_header"), "{s}");
    let s = valid(&sova_stdin(
        &["inspect", "-", "--base64"],
        &base64(&o.message),
    ));
    assert!(s.contains("header_nonce"), "{s}");
}

#[test]
fn a_bundle_and_an_initial_message() {
    let o = objects(HeaderMode::Plain);
    let s = valid(&sova_stdin(&["inspect"], &hex(&o.bundle)));
    assert!(
        s.contains("prekey bundle, type 0x10 (spec §7.3), 1520 bytes"),
        "{s}"
    );
    assert!(s.contains("PQPK = "), "{s}");
    assert!(s.contains("signatures valid"), "{s}");

    let s = valid(&sova(&["inspect", &base64(&o.initial)]));
    assert!(s.contains("initial message, type 0x03 (spec §7.5)"), "{s}");
    assert!(s.contains("CT = "), "{s}");
    assert!(s.contains("ratchet message"), "{s}");
    let at = o.initial.len() - 110; // the embedded 110-byte message
    assert!(
        s.contains(&format!("{at:>8}     110  ratchet message")),
        "{s}"
    );
}

#[test]
fn persisted_states() {
    let o = objects(HeaderMode::Encrypted);
    let s = valid(&sova(&["inspect", &hex(&o.session)]));
    assert!(s.contains("session state"), "{s}");
    assert!(s.contains("magic = \"SOVA-1 session\""), "{s}");
    assert!(s.contains("ratchet state"), "{s}");
    assert!(s.contains("ENCRYPTED"), "{s}");
    assert!(s.contains("D = "), "{s}");
    let s = valid(&sova(&["inspect", &hex(&o.ratchet)]));
    assert!(s.contains("(spec §8.2)"), "{s}");
    assert!(s.contains("R[0]"), "{s}");
    let s = valid(&sova(&["inspect", &hex(&o.account)]));
    assert!(s.contains("(spec §8.4)"), "{s}");
    assert!(s.contains("IK_sig.seed"), "{s}");
    let s = valid(&sova(&["inspect", &hex(&o.sealed)]));
    assert!(
        s.contains("sealed state: outer framing only (spec §8.3)"),
        "{s}"
    );
    assert!(s.contains("kind = 0x02"), "{s}");
    let s = valid(&sova(&["inspect", &hex(&o.conversation)]));
    assert!(s.contains("(spec §8.6)"), "{s}");
    assert!(s.contains("session 0"), "{s}");
    assert!(s.contains("IdentityKey_peer"), "{s}");
    // A conversation whose peer is not its session's: the rule is named.
    let mut bad = o.conversation.clone();
    bad[20] ^= 1;
    let end = bad.len() - 32;
    let check = sova::CryptoProvider::sha256(&sova::DefaultProvider::default(), &[&bad[..end]]);
    bad[end..].copy_from_slice(&check);
    let s = invalid(&sova(&["inspect", &hex(&bad)]));
    assert!(s.contains("§8.6"), "{s}");
    assert!(s.contains("session peer"), "{s}");
}

#[test]
fn malformed_hex_is_exit_1_naming_the_problem() {
    let s = invalid(&sova(&["inspect", "--hex", "01010"]));
    assert!(s.contains("odd number of hex digits (5)"), "{s}");
    let s = invalid(&sova(&["inspect", "--hex", "0101zz"]));
    assert!(s.contains("'z' at position 4"), "{s}");
    let s = invalid(&sova(&["inspect", "0x01g1"]));
    assert!(s.contains("not hex either"), "{s}");
}

#[test]
fn a_truncated_message_names_rule_and_section() {
    let o = objects(HeaderMode::Plain);
    let m = &o.message;
    let s = invalid(&sova(&["inspect", &hex(&m[..m.len() - 1])]));
    assert!(s.contains("INVALID at offset 94: §6.5 rule 5"), "{s}");
    assert!(s.contains("body_len = 48 but 47 byte(s) follow"), "{s}");
    assert!(
        s.contains("field `tag` at offset 94 needs 16 bytes, 15 remain"),
        "{s}"
    );
    assert!(s.contains("Truncated(\"body\")"), "{s}");
    assert!(s.contains("TRUNCATED"), "{s}");
    // Cut inside the header: rule 3, naming the field.
    let s = invalid(&sova(&["inspect", &hex(&m[..20])]));
    assert!(s.contains("§6.5 rule 3"), "{s}");
    assert!(s.contains("Truncated(\"header\")"), "{s}");
    // A truncated bundle: §7.3, with the field.
    let s = invalid(&sova(&["inspect", &hex(&o.bundle[..300])]));
    assert!(s.contains("§7.3"), "{s}");
    assert!(s.contains("PQPK"), "{s}");
    // A state too short for its integrity check: §8.1, Truncated.
    let s = invalid(&sova(&["inspect", &hex(&o.ratchet[..40])]));
    assert!(s.contains("§8.1"), "{s}");
    assert!(s.contains("[Truncated]"), "{s}");
    // A longer cut fails the integrity check, which is read before the fields.
    let s = invalid(&sova(&["inspect", &hex(&o.ratchet[..60])]));
    assert!(s.contains("§8.1"), "{s}");
    assert!(s.contains("[Corrupted]"), "{s}");
}

#[test]
fn trailing_bytes_name_rule_and_section() {
    let o = objects(HeaderMode::Plain);
    let mut m = o.message.clone();
    m.extend_from_slice(&[0, 0]);
    let s = invalid(&sova(&["inspect", &hex(&m)]));
    assert!(
        s.contains("INVALID at offset 110: §6.5 rule 5: nothing may follow the body; found 2 trailing byte(s) [TrailingBytes]"),
        "{s}"
    );
    let out = sova(&["inspect", "--json", &hex(&m)]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["valid"], false);
    assert_eq!(v["violation"]["section"], "§6.5");
    assert_eq!(v["violation"]["offset"], 110);

    let mut i = o.initial.clone();
    i.push(7);
    let s = invalid(&sova(&["inspect", &hex(&i)]));
    assert!(s.contains("§7.5"), "{s}");
    assert!(s.contains("TrailingBytes"), "{s}");
}

#[test]
fn other_malformed_inputs() {
    let s = invalid(&sova(&["inspect", "02"]));
    assert!(s.contains("§6.5 rule 1"), "{s}");
    let s = invalid(&sova(&["inspect", "0107"]));
    assert!(s.contains("§6.5 rule 2"), "{s}");
    assert!(s.contains("0x10 bundle §7.3"), "{s}");
    let s = invalid(&sova_stdin(&["inspect"], ""));
    assert!(s.contains("§6.5 rule 1"), "{s}");
    let s = invalid(&sova(&["inspect", &hex(b"SOVA-1 diary and more")]));
    assert!(s.contains("§8.1"), "{s}");
    assert!(s.contains("BadMagic"), "{s}");
}

#[test]
fn usage_errors_are_exit_2() {
    assert_eq!(
        sova(&["inspect", "--hex", "--base64", "00"]).status.code(),
        Some(2)
    );
    assert_eq!(sova(&["inspect", "00", "11"]).status.code(), Some(2));
}

#[test]
fn a_prekey_upload() {
    let mut rng = ChaCha20Rng::from_seed([21; 32]);
    let mut bob = Account::new(&mut rng).unwrap();
    bob.generate_one_time_prekeys(&mut rng, 2).unwrap();
    bob.generate_kem_one_time_prekeys(&mut rng, 1).unwrap();
    let upload = bob.unpublished_prekeys().unwrap().to_bytes();
    let s = valid(&sova(&["inspect", &hex(&upload)]));
    assert!(
        s.contains("prekey upload, type 0x11 (spec §7.11), 2812 bytes"),
        "{s}"
    );
    assert!(s.contains("long_term_flag = 0x01"), "{s}");
    assert!(s.contains("entry[2]"), "{s}");
    assert!(s.contains("signatures valid"), "{s}");

    // A duplicate id: §7.11 with the library's error.
    let mut dup = upload.clone();
    dup[1523..1527].copy_from_slice(&3u32.to_be_bytes());
    let s = invalid(&sova(&["inspect", &hex(&dup)]));
    assert!(s.contains("§7.11"), "{s}");
    assert!(s.contains("DuplicateId(3)"), "{s}");

    // Truncated inside the long-term part.
    let s = invalid(&sova(&["inspect", &hex(&upload[..300])]));
    assert!(s.contains("Truncated"), "{s}");

    // The account state shows the published flags.
    bob.mark_prekeys_as_published(&bob.unpublished_prekeys().unwrap());
    let s = valid(&sova(&["inspect", &hex(&bob.to_bytes())]));
    assert!(s.contains("long_term_published = 0x01"), "{s}");
}

#[test]
fn device_lists_links_fanout_and_device_states() {
    use sova::devices::{approve_link, fanout, DeviceEntry, KnownUser, LinkRequest, UserKey};
    let mut rng = ChaCha20Rng::seed_from_u64(31);
    let (a1, a2) = (
        Account::new(&mut rng).unwrap(),
        Account::new(&mut rng).unwrap(),
    );
    let uk = UserKey::generate(&mut rng).unwrap();
    let list = uk
        .sign_list(
            1,
            &[DeviceEntry {
                device_id: 1,
                identity: a1.identity_key(),
                admin: true,
            }],
        )
        .unwrap();
    let s = valid(&sova(&["inspect", &hex(list.to_bytes())]));
    assert!(s.contains("signed device list (spec §11.3)"), "{s}");
    assert!(s.contains("      55       1  count = 1"), "{s}");
    assert!(s.contains("DEVICE[0]"), "{s}");
    assert!(s.contains("admin: holds the user key"), "{s}");
    assert!(s.contains("ListHash = "), "{s}");
    let own = KnownUser::from_list(list.clone());
    let request = LinkRequest::new(&a2, &mut rng).unwrap();
    let s = valid(&sova(&["inspect", &base64(request.offer())]));
    assert!(s.contains("link offer"), "{s}");
    assert!(s.contains("IdentityPublic_N"), "{s}");
    let approval = approve_link(&uk, &own, request.offer(), false, b"", &mut rng).unwrap();
    let s = valid(&sova(&["inspect", &hex(&approval.response)]));
    assert!(
        s.contains("link response: outer framing only (spec §11.5)"),
        "{s}"
    );
    let own = KnownUser::from_list(approval.list.clone());
    let mut conv = Conversation::start(
        &a1,
        &mut rng,
        &a2.identity_key(),
        &a2.bundle(None, None).unwrap().to_bytes(),
        HeaderMode::Plain,
    )
    .unwrap();
    let (b1, bob_uk) = (
        Account::new(&mut rng).unwrap(),
        UserKey::generate(&mut rng).unwrap(),
    );
    let bob = KnownUser::from_list(
        bob_uk
            .sign_list(
                1,
                &[DeviceEntry {
                    device_id: 3,
                    identity: b1.identity_key(),
                    admin: true,
                }],
            )
            .unwrap(),
    );
    let mut to_bob = Conversation::start(
        &a1,
        &mut rng,
        &b1.identity_key(),
        &b1.bundle(None, None).unwrap().to_bytes(),
        HeaderMode::Plain,
    )
    .unwrap();
    let msg = fanout::encrypt(
        &own,
        1,
        &bob,
        &mut [
            fanout::Target {
                audience: fanout::Audience::OwnDevice,
                device_id: 2,
                conversation: &mut conv,
            },
            fanout::Target {
                audience: fanout::Audience::Recipient,
                device_id: 3,
                conversation: &mut to_bob,
            },
        ],
        b"hello",
        &mut rng,
    )
    .unwrap();
    let s = valid(&sova(&["inspect", &hex(&msg)]));
    assert!(s.contains("fan-out message"), "{s}");
    assert!(s.contains("ENTRY[0]"), "{s}");
    let part = fanout::split(&msg).unwrap().remove(0).2;
    let s = valid(&sova(&["inspect", &hex(&part)]));
    assert!(s.contains("device message"), "{s}");
    assert!(s.contains("initial message"), "{s}");

    let out = sova(&["inspect", "--json", &hex(&own.to_bytes())]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["object"], "known_user_state");
    assert_eq!(v["fields"][3]["name"], "DeviceList");
    assert_eq!(v["fields"][3]["offset"], 22);
    let s = valid(&sova(&["inspect", &hex(&uk.to_bytes())]));
    assert!(s.contains("user key state (SECRET"), "{s}");
    let sealed = uk
        .to_sealed_bytes(&mut rng, &Secret::from_bytes([2; 32]))
        .unwrap();
    let s = valid(&sova(&["inspect", &hex(&sealed)]));
    assert!(s.contains("a user key state, §11.9"), "{s}");

    // A list with reserved flag bits: the rule, the section and the offset.
    let mut bad = list.to_bytes().to_vec();
    bad[56 + 68] = 0x02;
    let s = invalid(&sova(&["inspect", &hex(&bad)]));
    assert!(s.contains("INVALID at offset 124: §11.3 check 1"), "{s}");
    assert!(s.contains("Malformed(InvalidFlags(2))"), "{s}");
}
