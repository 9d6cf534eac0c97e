//! The committed files in `test-vectors/` against the generator and every backend.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde_json::Value;
use sova::provider::all_providers;
use sova_vectors::{generate_all, verify_dir, verify_file, Reason, FAMILIES};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../test-vectors")
}

fn committed(name: &str) -> Vec<u8> {
    let path = dir().join(name);
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read {}: {e}; run `cargo run -p sova-cli -- vectors generate` and commit the result",
            path.display()
        )
    })
}

#[test]
fn committed_files_equal_the_generator_output() {
    for file in generate_all().unwrap() {
        let on_disk = committed(file.name);
        assert!(
            on_disk == file.contents.as_bytes(),
            "test-vectors/{} differs from what the generator produces; run \
             `cargo run -p sova-cli -- vectors generate`, review the diff and commit it",
            file.name
        );
    }
}

#[test]
fn directory_holds_exactly_the_generated_files() {
    let on_disk: BTreeSet<String> = std::fs::read_dir(dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let generated: BTreeSet<String> = FAMILIES.iter().map(|f| f.file().to_owned()).collect();
    assert_eq!(
        on_disk, generated,
        "test-vectors/ must hold exactly the generated files; run \
         `cargo run -p sova-cli -- vectors generate` and remove stray files"
    );
}

#[test]
fn committed_files_verify_on_every_backend() {
    let providers = all_providers();
    assert!(providers.len() >= 2, "both backends are compiled in");
    for f in FAMILIES {
        let report = verify_file(f.file(), &committed(f.file()), providers);
        assert!(report.passed(), "{report}");
        assert!(report.cases > 0);
        assert_eq!(report.backends.len(), providers.len());
        for b in &report.backends {
            assert_eq!(b.passed, report.cases, "{report}");
        }
    }
    let report = verify_dir(&dir(), providers).unwrap();
    assert!(report.passed, "{report}");
    assert!(report.missing.is_empty());
}

/// Changes a string output: the first hex digit of a hex string is replaced
/// by another hex digit; any other string (an error class) gets a prefix.
fn tamper_string(s: &str) -> String {
    match s.get(..1).and_then(|d| u8::from_str_radix(d, 16).ok()) {
        Some(v) if s.bytes().all(|b| b.is_ascii_hexdigit()) => format!("{:x}{}", v ^ 1, &s[1..]),
        _ => format!("tampered {s}"),
    }
}

/// The path (as the verifier names fields) and value of the last leaf of a
/// case: the last field, descending into the last element of arrays and
/// objects. Every kind ends with an output.
fn last_leaf(value: &Value, path: String) -> (String, String) {
    match value {
        Value::Object(map) => {
            let (k, v) = map.iter().next_back().unwrap();
            let p = if path.is_empty() {
                k.clone()
            } else {
                format!("{path}.{k}")
            };
            last_leaf(v, p)
        }
        Value::Array(items) => {
            let i = items.len() - 1;
            last_leaf(&items[i], format!("{path}[{i}]"))
        }
        Value::String(s) => (path, s.clone()),
        other => (path, other.to_string()),
    }
}

/// Sets the leaf at `path` (as returned by `last_leaf`) to `new`.
fn set_leaf(value: &mut Value, path: &str, new: Value) {
    let mut cur = value;
    for part in path.split('.') {
        let (name, index) = match part.split_once('[') {
            Some((n, rest)) => (
                n,
                Some(rest.trim_end_matches(']').parse::<usize>().unwrap()),
            ),
            None => (part, None),
        };
        cur = &mut cur[name];
        if let Some(i) = index {
            cur = &mut cur[i];
        }
    }
    *cur = new;
}

#[test]
fn a_tampered_output_names_its_case_and_field() {
    let providers = all_providers();
    for f in FAMILIES {
        let doc: Value = serde_json::from_slice(&committed(f.file())).unwrap();
        let cases = doc["cases"].as_array().unwrap();
        // The first case of each kind; its last leaf is always an output.
        let mut seen = BTreeSet::new();
        for (index, case) in cases.iter().enumerate() {
            let kind = case["kind"].as_str().unwrap();
            if !seen.insert(kind.to_owned()) {
                continue;
            }
            let (field, value) = last_leaf(case, String::new());
            let tampered_value = tamper_string(&value);
            let mut tampered = doc.clone();
            set_leaf(
                &mut tampered["cases"][index],
                &field,
                Value::String(tampered_value.clone()),
            );
            let text = serde_json::to_string_pretty(&tampered).unwrap();

            let report = verify_file(f.file(), text.as_bytes(), providers);
            assert!(!report.passed());
            for b in &report.backends {
                assert_eq!(b.failed, 1, "{report}");
                assert_eq!(b.passed, cases.len() - 1, "{report}");
                let failure = b.first_failure.as_ref().unwrap();
                assert_eq!(failure.case, index, "{report}");
                assert_eq!(failure.kind, kind);
                assert_eq!(failure.field, field, "{report}");
                assert_eq!(
                    failure.reason,
                    Reason::Mismatch {
                        expected: tampered_value.clone(),
                        actual: value.clone(),
                    }
                );
                let line = report.to_string();
                assert!(line.starts_with(&format!("{}: FAILED", f.file())), "{line}");
                assert!(
                    line.contains(&format!("case {index} ({kind}), field `{field}`")),
                    "{line}"
                );
            }
        }
        assert_eq!(seen.len(), f.kinds().len(), "every kind has a case");
    }
}

#[test]
fn a_failed_check_is_reported() {
    // An X25519 case whose peer public key is consistent but whose shared
    // secret is not: recomputation catches it first, at `shared_secret`.
    let doc: Value = serde_json::from_slice(&committed("primitives.json")).unwrap();
    let index = doc["cases"]
        .as_array()
        .unwrap()
        .iter()
        .position(|c| c["kind"] == "ed25519")
        .unwrap();
    // Replace the message: the signature no longer matches and is reported
    // at the first output that depends on the message.
    let mut tampered = doc.clone();
    tampered["cases"][index]["message"] = Value::String("00".into());
    let text = serde_json::to_string(&tampered).unwrap();
    let report = verify_file("primitives.json", text.as_bytes(), all_providers());
    let (_, failure) = report.first_failure().unwrap();
    assert_eq!((failure.case, failure.field.as_str()), (index, "signature"));
}
