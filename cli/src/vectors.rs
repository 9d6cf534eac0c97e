//! `sova vectors generate|verify`: the test vectors of spec §4.

use std::io::Write;
use std::path::Path;

use sova::provider::all_providers;

use crate::Failure;

/// `sova vectors generate DIR`: writes every vector file into `dir`.
///
/// # Errors
/// [`Failure::Error`] naming the path that could not be written.
pub fn generate(dir: &Path, out: &mut dyn Write) -> Result<(), Failure> {
    let files = sova_vectors::write_dir(dir).map_err(|e| Failure::Error(e.to_string()))?;
    for f in files {
        writeln!(
            out,
            "wrote {} ({} cases)",
            dir.join(f.name).display(),
            f.cases
        )?;
    }
    Ok(())
}

/// `sova vectors verify DIR [--json]`: verifies every file of `dir` on every
/// compiled-in backend and prints the report.
///
/// # Errors
/// [`Failure::Check`] when a file failed, [`Failure::Error`] when the
/// directory or a file cannot be read (with `json`, a JSON object naming the
/// error is printed too).
pub fn verify(dir: &Path, json: bool, out: &mut dyn Write) -> Result<(), Failure> {
    let report = match sova_vectors::verify_dir(dir, all_providers()) {
        Ok(r) => r,
        Err(e) => {
            if json {
                let v = serde_json::json!({ "dir": dir, "error": e.to_string() });
                writeln!(out, "{v}")?;
            }
            return Err(Failure::Error(e.to_string()));
        }
    };
    if json {
        let s = serde_json::to_string_pretty(&report)
            .map_err(|e| Failure::Error(format!("encoding the report: {e}")))?;
        writeln!(out, "{s}")?;
    } else {
        writeln!(out, "{report}")?;
    }
    if report.passed {
        Ok(())
    } else {
        // The report already names every failure.
        Err(Failure::Check(String::new()))
    }
}
