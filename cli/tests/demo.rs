//! `sova demo` run as a real process.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::{Command, Output};

fn sova(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sova"))
        .args(args)
        .output()
        .expect("the sova binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn the_default_demo_is_short_friendly_and_succeeds() {
    let out = sova(&["demo"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
    for want in [
        "Bob publishes a prekey bundle: 1520 bytes, type 0x10",
        "Alice sends A1",
        "initial message 0x03",
        "Bob receives A1",
        "accepts the session",
        "DH ratchet step",
        "Every delivered message decrypted to exactly what was sent.",
    ] {
        assert!(stdout.contains(want), "missing {want:?} in\n{stdout}");
    }
    // Short: no derivation values without --trace.
    assert!(!stdout.contains("KDF_RK"), "{stdout}");
    assert!(stdout.lines().count() < 60, "{stdout}");
}

#[test]
fn the_demo_is_deterministic_per_seed() {
    let a = sova(&["demo", "--seed", "7", "--messages", "20"]);
    let b = sova(&["demo", "--seed", "7", "--messages", "20"]);
    let c = sova(&["demo", "--seed", "8", "--messages", "20"]);
    assert_eq!(a.status.code(), Some(0));
    assert_eq!(a.stdout, b.stdout);
    assert_ne!(a.stdout, c.stdout);
    let s = text(&a.stdout);
    assert!(s.contains("Summary: 20 sent"), "{s}");
}

#[test]
fn the_network_delays_reorders_and_drops() {
    // Over a longer run every network behaviour shows up.
    let out = sova(&["demo", "--seed", "3", "--messages", "120"]);
    let s = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{s}");
    assert!(s.contains("out of order"), "{s}");
    assert!(s.contains("skipped message key"), "{s}");
    assert!(s.contains("decrypted with a stored skipped key"), "{s}");
    assert!(s.contains("The network drops"), "{s}");
    assert!(s.contains("resends it"), "{s}");
}

#[test]
fn trace_prints_every_derivation_with_the_specs_names() {
    let out = sova(&["demo", "--trace", "--messages", "4"]);
    let s = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{s}{}", text(&out.stderr));
    for name in [
        "DH1 = X25519(IK_dh_A.priv, SPK_B)",
        "DH4 = X25519(ek, OPK_B)",
        "(CT, SS) = ML-KEM-768.Encaps(PQPK_B, m)",
        "TH  = LabeledHash(\"handshake transcript\"",
        "PRK = LabeledExtract(TH, \"handshake\"",
        "SK  = LabeledExpand(PRK, \"session secret\"",
        "InitKeys(SK)",
        "RK0 = ",
        "KDF_RK(RK = ",
        "KDF_CK(CKs = ",
        "MK   = ",
        "MessageKeys(MK, salt): key = ",
        "nonce = ",
        "header = DHs.pub || u32(PN = 0) || u32(Ns = 0)",
        "Pad: L = ",
        "PaddedLen(L) = ",
        "Decrypt (§5.5.3)",
    ] {
        assert!(s.contains(name), "missing {name:?} in\n{s}");
    }
}

#[test]
fn header_encryption_sends_type_0x02_and_traces_header_keys() {
    let out = sova(&["demo", "--header-encryption", "--trace", "--messages", "3"]);
    let s = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{s}");
    assert!(s.contains("encrypted headers"), "{s}");
    assert!(s.contains("ratchet message 0x02 (header encrypted)"), "{s}");
    assert!(!s.contains("ratchet message 0x01"), "{s}");
    for name in [
        "HeaderKeys(HKs = ",
        "HEK = ",
        "HNK = ",
        "HeaderNonce(HNK, n = 0, salt)",
    ] {
        assert!(s.contains(name), "missing {name:?} in\n{s}");
    }
}

#[test]
fn bad_arguments_are_usage_errors() {
    assert_eq!(sova(&["demo", "--messages", "0"]).status.code(), Some(2));
    assert_eq!(sova(&["demo", "--seed", "x"]).status.code(), Some(2));
    let help = sova(&["demo", "--help"]);
    assert_eq!(help.status.code(), Some(0));
    let h = text(&help.stdout);
    assert!(h.contains("--trace") && h.contains("Exit codes"), "{h}");
}

#[test]
fn the_devices_demo_links_removes_and_refuses_the_ghost() {
    let out = sova(&["demo", "--devices"]);
    let s = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{s}{}", text(&out.stderr));
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
    for want in [
        "1. User keys and device lists (§11.2, §11.3)",
        "LinkOffer, 178 bytes",
        "LinkResponse, ",
        "✗ refused: Authentication",
        "Link code on the phone: ",
        "accepted, device 2 added",
        "FanoutMessage 0x20, ",
        "initial message 0x03 carrying the 65-byte key message",
        "✓ device 1 listed ✓ pairwise message ✓ digest ✓ body",
        "conversation with Bob's device 4 deleted",
        "it is no longer listed and stops sending",
        "✗ refused: UnknownDevice",
        "StaleDeviceList",
        "✗ refused: InvalidSignature",
        "✗ refused: WrongUser",
        "✗ refused: Rollback",
        "✗ refused: Start",
        "UnexpectedPeer",
        "✗ refused: UnknownUser",
        "The safety number is the same as at the start",
    ] {
        assert!(s.contains(want), "missing {want:?} in\n{s}");
    }
    // Both devices show the same six-digit link code.
    let line = s
        .lines()
        .find(|l| l.contains("Link code on the phone"))
        .unwrap();
    let codes: Vec<&str> = line
        .split_whitespace()
        .filter(|w| w.len() == 6 && w.bytes().all(|b| b.is_ascii_digit()))
        .collect();
    assert_eq!(codes.len(), 2, "{line}");
    assert_eq!(codes[0], codes[1], "{line}");
    // After the removal, Alice's phone sends to Bob's three devices and her laptop.
    assert!(s.contains("4 entries"), "{s}");
    // Deterministic per seed.
    let again = sova(&["demo", "--devices"]);
    assert_eq!(out.stdout, again.stdout);
    let other = sova(&["demo", "--devices", "--seed", "2"]);
    assert_eq!(other.status.code(), Some(0));
    assert_ne!(out.stdout, other.stdout);
}

#[test]
fn the_devices_demo_takes_no_session_options() {
    let out = sova(&["demo", "--devices", "--trace"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
}

#[test]
fn the_group_demo_adds_removes_and_refuses_the_ghost() {
    let out = sova(&["demo", "--group"]);
    let s = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{s}{}", text(&out.stderr));
    for want in [
        "4. Alice adds Dave: epoch 1",
        "5. Alice removes Carol: epoch 2",
        "reaches 4 device(s) by fan-out",
        "Carol's phone reads it: refused (UnknownChain)",
        "a ghost member added in Alice's name: refused (InvalidSignature)",
        "refused (WrongSession)",
        "every forgery was refused",
    ] {
        assert!(s.contains(want), "missing {want:?} in\n{s}");
    }
    assert_eq!(
        sova(&["demo", "--group"]).stdout,
        out.stdout,
        "deterministic"
    );
    assert_ne!(sova(&["demo", "--group", "--seed", "2"]).stdout, out.stdout);
    assert_eq!(
        sova(&["demo", "--group", "--devices"]).status.code(),
        Some(2)
    );
}
