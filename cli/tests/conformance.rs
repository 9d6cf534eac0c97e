//! `sova conformance` run as a real process against the reference adapter,
//! as it is and deliberately broken.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::process::{Command, Output};

fn committed_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../test-vectors")
}

fn adapter(args: &str) -> String {
    format!(
        "'{}' {args}",
        env!("CARGO_BIN_EXE_sova-conformance-adapter")
    )
}

fn conformance(implementation: &str, extra: &[&str]) -> Output {
    let dir = committed_dir();
    let mut args = vec![
        "conformance",
        "--impl",
        implementation,
        "--vectors",
        dir.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    Command::new(env!("CARGO_BIN_EXE_sova"))
        .args(&args)
        .output()
        .expect("the sova binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn the_reference_adapter_passes_everything() {
    let out = conformance(&adapter(""), &["--strict", "--json"]);
    let s = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{s}{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["result"], "pass", "{s}");
    assert_eq!(v["failed"], 0, "{s}");
    assert_eq!(v["skipped"], 0, "{s}");
    let rows = v["rows"].as_array().unwrap();
    let caps: Vec<&str> = rows
        .iter()
        .map(|r| r["capability"].as_str().unwrap())
        .collect();
    for cap in [
        "protocol",
        "vectors",
        "ratchet",
        "header-encryption",
        "session",
        "ratchet-state",
        "prekey-rotation",
        "safety-number",
        "recorded-randomness",
        "devices",
        "fanout",
        "groups",
    ] {
        assert!(caps.contains(&cap), "no row for {cap}: {s}");
    }
    // Every committed vector file is driven through, plus the negative controls.
    for entry in std::fs::read_dir(committed_dir()).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if name.ends_with(".json") {
            assert!(
                rows.iter().any(|r| r["test"] == name.as_str()),
                "{name}: {s}"
            );
        }
    }
    assert!(s.contains("edited cases reported as failing"), "{s}");
    assert!(s.contains("forged initial message rejected"), "{s}");
}

#[test]
fn the_plain_table_and_seeds() {
    let out = conformance(
        &adapter(""),
        &["--only", "ratchet", "--seed", "9", "--rounds", "30"],
    );
    let s = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{s}");
    assert!(s.contains("capability"), "{s}");
    assert!(s.contains("plain headers, implementation initiates"), "{s}");
    assert!(s.contains("30 rounds"), "{s}");
    assert!(s.contains("PASS"), "{s}");
    assert!(!s.contains("vectors "), "--only limits the tests: {s}");
}

#[test]
fn an_adapter_that_accepts_tampered_messages_fails() {
    let out = conformance(&adapter("--break tamper-accept"), &[]);
    let s = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{s}");
    assert!(s.contains("FAIL"), "{s}");
    assert!(s.contains("a tampered copy"), "{s}");
    assert!(s.contains("was accepted; expected"), "{s}");
    // The vector tests still pass: the defect is only in live decryption.
    assert!(s.contains("edited cases reported as failing"), "{s}");
    let v = conformance(
        &adapter("--break tamper-accept"),
        &["--json", "--only", "session"],
    );
    let j: serde_json::Value = serde_json::from_slice(&v.stdout).unwrap();
    assert_eq!(j["result"], "fail");
    assert!(j["failed"].as_u64().unwrap() >= 4, "{j}");
}

#[test]
fn an_adapter_that_passes_vectors_unchecked_fails() {
    let out = conformance(&adapter("--break vectors-lax"), &["--only", "vectors"]);
    let s = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{s}");
    assert!(
        s.contains("with `digest` edited was reported as passing"),
        "{s}"
    );
}

#[test]
fn an_adapter_with_a_lax_ed25519_verifier_fails() {
    // RFC 8032 / OpenSSL-style verification (no small-order checks) passes
    // every other file but not ed25519-strict.json (spec §3.3).
    let out = conformance(
        &adapter("--break ed25519-lax"),
        &["--only", "vectors", "--json"],
    );
    let s = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{s}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for row in v["rows"].as_array().unwrap() {
        let failed = row["status"] == "fail";
        let strict = row["test"] == "ed25519-strict.json";
        assert_eq!(failed, strict, "{row}");
    }
    // Exactly the 21 cases an OpenSSL-style verifier gets wrong (tools/README.md).
    assert!(s.contains("43/64 cases passed"), "{s}");
}

#[test]
fn an_adapter_that_corrupts_its_messages_or_imports_bad_states_fails() {
    let out = conformance(&adapter("--break corrupt-encrypt"), &["--only", "ratchet"]);
    let s = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{s}");
    assert!(
        s.contains("this library rejected the genuine message"),
        "{s}"
    );
    let out = conformance(&adapter("--break state-lax"), &["--only", "ratchet-state"]);
    let s = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{s}");
    assert!(
        s.contains("a malformed state (one trailing byte) was imported"),
        "{s}"
    );
}

/// Runs the broken adapter on `only` and checks that the run fails with `expected`.
fn caught(mode: &str, only: &[&str], expected: &str) {
    let mut extra = Vec::new();
    for cap in only {
        extra.extend_from_slice(&["--only", cap]);
    }
    let out = conformance(&adapter(&format!("--break {mode}")), &extra);
    let s = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "--break {mode}: {s}");
    assert!(s.contains(expected), "--break {mode}: {s}");
}

#[test]
fn an_adapter_that_accepts_replayed_initial_messages_fails() {
    caught(
        "replay-accept",
        &["session"],
        "initial message 0, given to session_accept again, was accepted; expected Replay",
    );
}

#[test]
fn an_adapter_that_drops_the_previous_signed_prekey_fails() {
    caught(
        "rotate-drop",
        &["prekey-rotation"],
        "an initial message for the previous signed prekey (one rotation ago) was refused with UnknownPrekey",
    );
}

#[test]
fn an_adapter_that_misroutes_initial_messages_fails() {
    caught(
        "misroute",
        &["session"],
        "was refused with InitialMessageMismatch; expected NotThisSession",
    );
}

#[test]
fn an_adapter_that_ignores_the_limits_fails() {
    caught(
        "limits-lax",
        &["ratchet"],
        "a session AD of 513 bytes was accepted; expected SessionAdTooLong",
    );
    caught(
        "limits-lax",
        &["ratchet-state"],
        "a message on a sending chain at n = 2^32 − 1 was accepted; expected ChainExhausted",
    );
}

/// Each limit of spec §5.5.5 and §5.8 alone: a port that ignores only one of
/// them is caught too.
#[test]
fn an_adapter_that_ignores_one_limit_fails() {
    caught(
        "ad-limit-lax",
        &["ratchet"],
        "a session AD of 513 bytes was accepted; expected SessionAdTooLong",
    );
    caught(
        "no-sending-chain-lax",
        &["ratchet"],
        "a responder's message before it has received one was accepted; expected NoSendingChain",
    );
    caught(
        "plaintext-limit-lax",
        &["ratchet"],
        "a plaintext of 1048576 bytes was accepted; expected PlaintextTooLong",
    );
    caught(
        "chain-end-lax",
        &["ratchet-state"],
        "a message on a sending chain at n = 2^32 − 1 was accepted; expected ChainExhausted",
    );
}

#[test]
fn an_adapter_that_shows_the_safety_number_ungrouped_fails() {
    caught(
        "safety-number-format",
        &["safety-number"],
        "60 characters, not 71",
    );
}

#[test]
fn an_adapter_that_accepts_older_or_unsigned_device_lists_fails() {
    caught(
        "list-rollback",
        &["devices"],
        "an older list was accepted; expected Rollback",
    );
    caught(
        "list-lax",
        &["devices"],
        "signature flipped was accepted; expected InvalidSignature",
    );
}

/// A port that believes a device outside the sender's accepted list, that
/// takes a repeated fan-out message for a new one, or that keeps believing
/// a removed device, is caught by the fan-out exchange (spec §11.6, §11.7).
#[test]
fn an_adapter_that_accepts_unlisted_replayed_or_removed_devices_fails() {
    caught(
        "fanout-unlisted-accept",
        &["fanout"],
        "a message from a device no list of the sender names was accepted; expected UnknownDevice",
    );
    caught(
        "fanout-replay-accept",
        &["fanout"],
        "a replayed fan-out message was accepted; expected Pairwise(Decrypt(DuplicateOrExpired))",
    );
    caught(
        "fanout-keep-removed",
        &["fanout"],
        "a message from a device removed from the sender's list was accepted; expected UnknownDevice",
    );
}

/// A port that reads neither the entry's device id nor, beyond naming its
/// user, its kind accepts a re-addressed copy of a message: a second
/// accepted encoding (spec §11.6, step 2).
#[test]
fn an_adapter_that_accepts_re_addressed_entries_fails() {
    caught(
        "fanout-readdress-accept",
        &["fanout"],
        "a message from Alice's device 1 with its entry re-addressed to Bob's device 2 was \
         accepted; expected NotForUs",
    );
}

/// Each defect of a group member's device (spec §12) is caught by the
/// group exchange: a welcome believed from another device's session, ghost
/// members and devices, a missing role, forged signatures, the epoch left
/// still read (or only a removed member's messages of it), a fork taken, a replay read, the old chain kept after a
/// change, a refusal that changes the state, a change that breaks spec
/// §12.3 check 8 taken, welcomes not for the device or whose roster does
/// not follow joined, objects routed to another group, a message beyond
/// its chain's end read, a chain sent past its end, and a body that does
/// not authenticate read.
#[test]
fn an_adapter_with_a_group_defect_fails() {
    for (mode, expected) in [
        (
            "group-wrong-session",
            "Alice's welcome in a fan-out message of Carol's device was accepted; expected \
             WrongSession",
        ),
        (
            "group-ghost-accept",
            "an add of Mallory signed by her listed device (she is no member) was accepted; \
             expected NotMember",
        ),
        (
            "group-role-lax",
            "an add of Mallory signed by Carol (a member without the admin role) was accepted; \
             expected NotAuthorised",
        ),
        (
            "group-signature-lax",
            "Alice's message with a bit of its signature flipped was accepted; expected \
             InvalidSignature",
        ),
        (
            "group-stale-accept",
            "Alice's message of epoch 0 delivered after the change was accepted; expected \
             StaleEpoch",
        ),
        (
            "group-removed-accept",
            "a message of Carol's after her removal (of the epoch before it) was accepted; \
             expected StaleEpoch",
        ),
        (
            "group-fork-accept",
            "a competing operation of epoch 1 (Alice's add of Dave, signed from her state before \
             the change) was accepted; expected Fork",
        ),
        (
            "group-replay-accept",
            "Alice's message delivered again was accepted; expected DuplicateOrExpired",
        ),
        (
            "group-keep-chain",
            "a group message after a membership change and before a fresh chain was accepted; \
             expected NoChain",
        ),
        (
            "group-refusal-dirty",
            "was refused with NotMember, but the group state the implementation exports changed",
        ),
        (
            "group-change-lax",
            "an add of Carol (a member) signed by Alice was accepted; expected AlreadyMember",
        ),
        (
            "group-welcome-others",
            "the welcome of a group of Alice and Carol (not Bob) was accepted; expected \
             NotInRoster",
        ),
        (
            "group-welcome-lax",
            "Alice's welcome with Mallory added to its roster (not the create's) was accepted; \
             expected WelcomeMismatch",
        ),
        (
            "group-wrong-group",
            "a chain offer of Alice's second group handed to the first was accepted; expected \
             WrongGroup",
        ),
        (
            "group-beyond-end-lax",
            "Alice's message moved to index 1000 (the chain's end) and signed again with her \
             chain's key was accepted; expected BeyondChainEnd",
        ),
        (
            "group-chain-end-lax",
            "a group message after the sending chain's 1000th was accepted; expected \
             ChainExhausted",
        ),
        (
            "group-body-lax",
            "Alice's message with a body bit flipped, signed again with her chain's key was \
             accepted; expected Authentication",
        ),
    ] {
        caught(mode, &["groups"], expected);
    }
}

#[test]
fn an_adapter_that_ignores_the_recorded_randomness_fails() {
    caught(
        "random-ignore",
        &["recorded-randomness"],
        "recorded random bytes, the message differs from this library's",
    );
}

/// Accounts and sessions drawn in another order than spec §7.2 and §7.4
/// give other bytes, which the runner compares.
#[test]
fn an_adapter_that_draws_in_another_order_fails() {
    caught(
        "random-order",
        &["recorded-randomness"],
        "with the 160 recorded random bytes of account_new, the identity differs from this library's",
    );
    caught(
        "start-order",
        &["recorded-randomness"],
        "with the 64 recorded random bytes of session_start, the session id differs from this library's",
    );
}

#[test]
fn an_implementation_that_does_not_speak_the_protocol_fails() {
    // `cat` echoes the request: no `ok`.
    let out = conformance("cat", &[]);
    let s = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{s}");
    assert!(s.contains("lacks a boolean `ok`"), "{s}");
    assert!(s.contains("not run"), "{s}");
}

#[test]
fn usage_and_start_errors_are_exit_2() {
    let out = conformance("/nonexistent/sova-port", &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    assert!(
        text(&out.stderr).contains("cannot start"),
        "{}",
        text(&out.stderr)
    );
    let out = conformance(&adapter(""), &["--only", "telepathy"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("unknown capability"));
    let out = Command::new(env!("CARGO_BIN_EXE_sova"))
        .args([
            "conformance",
            "--impl",
            &adapter(""),
            "--vectors",
            "/nonexistent/vectors",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("/nonexistent/vectors"));
    let out = Command::new(env!("CARGO_BIN_EXE_sova"))
        .args(["conformance"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn the_adapter_rejects_unknown_break_modes() {
    let out = Command::new(env!("CARGO_BIN_EXE_sova-conformance-adapter"))
        .args(["--break", "everything"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    // The usage names every mode, and every mode named is one.
    let usage = text(&out.stderr);
    for mode in sova_cli::adapter::BREAK_MODES {
        assert!(usage.contains(mode), "{mode}: {usage}");
        assert!(
            sova_cli::adapter::Break::parse(mode).is_some_and(|b| b != Default::default()),
            "{mode}"
        );
    }
}
