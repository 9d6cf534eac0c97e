//! `sova vectors …` run as a real process.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn sova(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sova"))
        .args(args)
        .output()
        .expect("the sova binary runs")
}

fn committed_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../test-vectors")
}

/// A fresh, empty directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("sova-cli-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn json_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    names.sort();
    names
}

#[test]
fn generate_writes_exactly_the_committed_files() {
    let dir = scratch("generate").join("nested");
    let out = sova(&["vectors", "generate", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let names = json_files(&dir);
    assert_eq!(names, json_files(&committed_dir()));
    for name in &names {
        assert!(
            std::fs::read(dir.join(name)).unwrap()
                == std::fs::read(committed_dir().join(name)).unwrap(),
            "{name} differs from the committed file"
        );
        assert!(text(&out.stdout).contains(name.as_str()));
    }
}

#[test]
fn verify_passes_on_the_committed_files() {
    let out = sova(&["vectors", "verify", committed_dir().to_str().unwrap()]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("primitives.json: ok:"), "{stdout}");
    assert!(stdout.contains("ring, rustcrypto"), "{stdout}");

    let out = sova(&[
        "vectors",
        "verify",
        "--json",
        committed_dir().to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["passed"], true);
    assert!(!report["files"].as_array().unwrap().is_empty());
}

#[test]
fn an_edited_vector_fails_with_exit_1_naming_case_and_field() {
    let dir = scratch("edited");
    let out = sova(&["vectors", "generate", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    let path = dir.join("building-blocks.json");
    let mut doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let (index, _) = doc["cases"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .find(|(_, c)| c["kind"] == "labeled_expand")
        .unwrap();
    let okm = doc["cases"][index]["okm"].as_str().unwrap().to_owned();
    let flipped = if okm.starts_with('0') { "1" } else { "0" };
    doc["cases"][index]["okm"] = format!("{flipped}{}", &okm[1..]).into();
    std::fs::write(&path, serde_json::to_string_pretty(&doc).unwrap()).unwrap();

    let out = sova(&["vectors", "verify", dir.to_str().unwrap()]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("building-blocks.json: FAILED"), "{stdout}");
    assert!(
        stdout.contains(&format!("case {index} (labeled_expand), field `okm`")),
        "{stdout}"
    );
    assert!(stdout.contains("primitives.json: ok:"), "{stdout}");

    let out = sova(&["vectors", "verify", "--json", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["passed"], false);
    let file = report["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["file"] == "building-blocks.json")
        .unwrap();
    let failure = &file["backends"][0]["first_failure"];
    assert_eq!(failure["case"], index);
    assert_eq!(failure["field"], "okm");
    assert_eq!(failure["reason"], "mismatch");
    assert_eq!(failure["actual"], okm.as_str());
}

#[test]
fn malformed_unknown_and_missing_files_fail_with_exit_1() {
    let dir = scratch("malformed");
    assert_eq!(
        sova(&["vectors", "generate", dir.to_str().unwrap()])
            .status
            .code(),
        Some(0)
    );
    std::fs::write(dir.join("primitives.json"), "{ not json").unwrap();
    std::fs::write(dir.join("stray.json"), "{}").unwrap();
    std::fs::remove_file(dir.join("building-blocks.json")).unwrap();
    let out = sova(&["vectors", "verify", dir.to_str().unwrap()]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("primitives.json: FAILED: malformed JSON"),
        "{stdout}"
    );
    assert!(
        stdout.contains("stray.json: FAILED: unknown vector file"),
        "{stdout}"
    );
    assert!(
        stdout.contains("building-blocks.json: FAILED: missing"),
        "{stdout}"
    );
}

#[test]
fn a_missing_directory_is_exit_2_naming_it() {
    let dir = scratch("missing").join("does-not-exist");
    let out = sova(&["vectors", "verify", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("does-not-exist"),
        "{}",
        text(&out.stderr)
    );
    let out = sova(&["vectors", "verify", "--json", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["error"].as_str().unwrap().contains("does-not-exist"));
}

#[test]
fn usage_errors_are_exit_2_and_help_documents_exit_codes() {
    assert_eq!(sova(&["vectors", "frobnicate"]).status.code(), Some(2));
    assert_eq!(sova(&[]).status.code(), Some(2));
    let out = sova(&["vectors", "verify", "--help"]);
    assert_eq!(out.status.code(), Some(0));
    let help = text(&out.stdout);
    assert!(help.contains("Exit codes"), "{help}");
    assert!(help.contains("--json"), "{help}");
    let out = sova(&["--help"]);
    assert!(text(&out.stdout).contains("Exit codes"));
}
