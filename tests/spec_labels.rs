//! The label registry of spec §3.8 and `sova::labels::ALL` list the same
//! labels in the same order, so neither can change without the other.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[test]
fn spec_registry_matches_code() {
    let spec = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/spec/03-cipher-suite.md"
    ))
    .expect("spec/03-cipher-suite.md is readable");
    let start = spec
        .find("| Label | Function |")
        .expect("§3.8 registry table present");
    let labels: Vec<String> = spec[start..]
        .lines()
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .map(|l| {
            let cell = l.split('|').nth(1).unwrap_or_default().trim();
            cell.trim_matches('`').to_owned()
        })
        .collect();
    let code: Vec<String> = sova::labels::ALL.iter().map(|s| s.to_string()).collect();
    assert_eq!(labels, code, "spec §3.8 and sova::labels::ALL disagree");
}
